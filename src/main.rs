//! The `baocao` binary: parse the command line, set up logging, run, map errors to exit codes.

fn main() {
    bounded_heap();
    let code = baocao::cli::main();
    std::process::exit(code);
}

/// glibc's allocator raises its mmap threshold as large blocks are freed, after which every
/// message-sized buffer comes from the heap and the heap's high-water mark is never given back:
/// a 100,000-message backfill settled at 226 MB (peak 312 MB) where 90 MB were in use. A fixed
/// threshold hands message buffers back when they are freed, and four arenas are plenty for
/// two cores (peak 139 MB, measured with bench/ingest.py --backfill 100000, same speed).
fn bounded_heap() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only tunes the allocator; called before any other thread exists.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 256 * 1024);
        libc::mallopt(libc::M_ARENA_MAX, 4);
    }
}

//! The `baocao` binary: parse the command line, set up logging, run, map errors to exit codes.

/// mimalloc keeps freed pages a moment for the next message instead of handing every
/// message-sized buffer back to the kernel and faulting it in again (glibc with a fixed mmap
/// threshold): measured with bench/ingest.py, a tenth less CPU for intake.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    no_huge_pages();
    let code = baocao::cli::main();
    std::process::exit(code);
}

/// mimalloc asks for transparent huge pages; each then costs a 2 MB zeroing (and, under memory
/// pressure, a compaction stall) on first touch, for buffers that live a few milliseconds.
/// Measured with bench/ingest.py: the same speed, steadier CPU (0.56–0.59 s instead of
/// 0.53–0.77 s), peak RSS 185 → 128 MB. Inherited by the parse workers and converters.
fn no_huge_pages() {
    #[cfg(target_os = "linux")]
    // SAFETY: prctl with PR_SET_THP_DISABLE only sets a flag on this process.
    unsafe {
        libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0);
    }
}

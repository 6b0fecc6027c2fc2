//! The `baocao` binary: parse the command line, set up logging, run, map errors to exit codes.

/// mimalloc keeps freed pages a moment for the next message instead of handing every
/// message-sized buffer back to the kernel and faulting it in again (glibc with a fixed mmap
/// threshold): measured with bench/ingest.py, a tenth less CPU for intake.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    let code = baocao::cli::main();
    std::process::exit(code);
}

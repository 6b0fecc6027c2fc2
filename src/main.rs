//! The `baocao` binary: parse the command line, set up logging, run, map errors to exit codes.

fn main() {
    let code = baocao::cli::main();
    std::process::exit(code);
}

//! The `cassa` binary: everything lives in the library so tests can build the same server.

fn main() -> std::process::ExitCode {
    cassa::cli::main()
}

//! The `ipc-harness` binary: parse the command line, call the library, exit
//! with its code.

use clap::Parser;
use ipc_harness::cli;

fn main() {
    let cli = match cli::Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            // `--help` and `--version` are not errors; a bad command line is
            // invalid input (3), never "broken" (2).
            std::process::exit(if e.use_stderr() { cli::code::INVALID } else { cli::code::OK });
        }
    };
    let code = cli::main(cli, &mut std::io::stdout().lock(), &mut std::io::stderr().lock());
    std::process::exit(code);
}

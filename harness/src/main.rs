//! The `ipc-harness` binary: parse the command line, call the library, exit
//! with its code.

use clap::Parser;

fn main() {
    let cli = ipc_harness::cli::Cli::parse();
    let code = ipc_harness::cli::main(cli, &mut std::io::stdout().lock(), &mut std::io::stderr().lock());
    std::process::exit(code);
}

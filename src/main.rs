//! The `pagelab` command: parse, dispatch, map errors to exit codes.

use clap::Parser;

fn main() {
    let cli = match pagelab::cli::Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            std::process::exit(if e.use_stderr() { pagelab::cli::EXIT_BAD_INPUT } else { 0 });
        }
    };
    std::process::exit(pagelab::cli::main_with(cli));
}

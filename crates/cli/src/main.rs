//! `capstan`: the command-line front end. Argument parsing and output only; the work is in the
//! `capstan` library.
//!
//! Exit codes: 0 clean, 1 findings, 2 usage or runtime error.

use std::process::ExitCode;

use clap::Parser;

/// Scan for secrets and weak cryptography, build deterministic contexts, resolve registry
/// credentials — on the hot path of container builds and supply-chain checks.
#[derive(Debug, Parser)]
#[command(
    name = "capstan",
    version = capstan::VERSION,
    arg_required_else_help = true,
    after_help = "Exit status: 0 clean, 1 findings, 2 usage or runtime error."
)]
struct Cli {}

fn main() -> ExitCode {
    // clap prints help or the usage error and exits 2 on a bad command line (0 for --help).
    let _cli = Cli::parse();
    ExitCode::SUCCESS
}

#[cfg(test)]
mod tests {
    use super::Cli;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_definition_is_consistent() {
        Cli::command().debug_assert();
    }
}

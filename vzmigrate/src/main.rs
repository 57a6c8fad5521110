//! The vzmigrate binary: parse, run, map errors to exit codes.

use std::process::ExitCode;
use vzctl::cli::{self, VzmigrateCli};
use vzctl::commands;
use vzctl::device::Vzctl;
use vzctl::error::VzError;

fn run() -> Result<(), VzError> {
    let Some(cli) = cli::parse::<VzmigrateCli, _, _>(std::env::args_os())? else {
        return Ok(());
    };
    if cli.version {
        return commands::version::run(
            "vzmigrate",
            &mut std::io::stdout(),
            &mut std::io::stderr(),
            Vzctl::open,
        );
    }
    Err(VzError::NotImplemented("VE migration"))
}

fn main() -> ExitCode {
    vzctl::error::exit_code_of("vzmigrate", run())
}

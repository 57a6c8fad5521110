//! The vzctl binary: parse, run, map errors to OpenVZ exit codes.

use std::process::ExitCode;
use vzctl::cli::{self, VzctlCli};
use vzctl::commands;
use vzctl::device::Vzctl;
use vzctl::error::VzError;

fn run() -> Result<(), VzError> {
    let Some(cli) = cli::parse::<VzctlCli, _, _>(std::env::args_os())? else {
        return Ok(());
    };
    if cli.version {
        return commands::version::run("vzctl", &mut std::io::stdout(), Vzctl::open);
    }
    Err(VzError::NotImplemented(
        "VE management (create, start, stop, ...)",
    ))
}

fn main() -> ExitCode {
    vzctl::error::exit_code_of("vzctl", run())
}

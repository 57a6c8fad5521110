//! The vzlist binary: parse, run, map errors to OpenVZ exit codes.

use std::process::ExitCode;
use vzctl::cli::{self, VzlistCli};
use vzctl::commands;
use vzctl::device::Vzctl;
use vzctl::error::VzError;

fn run() -> Result<(), VzError> {
    let Some(cli) = cli::parse::<VzlistCli, _, _>(std::env::args_os())? else {
        return Ok(());
    };
    if cli.version {
        return commands::version::run("vzlist", &mut std::io::stdout(), Vzctl::open);
    }
    Err(VzError::NotImplemented("listing VEs"))
}

fn main() -> ExitCode {
    vzctl::error::exit_code_of("vzlist", run())
}

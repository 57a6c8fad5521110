//! The vzpid binary: parse, run, map errors to exit codes.

use std::process::ExitCode;
use vzctl::cli::{self, VzpidCli};
use vzctl::commands;
use vzctl::device::Vzctl;
use vzctl::error::VzError;

fn run() -> Result<(), VzError> {
    let Some(cli) = cli::parse::<VzpidCli, _, _>(std::env::args_os())? else {
        return Ok(());
    };
    if cli.version {
        return commands::version::run("vzpid", &mut std::io::stdout(), Vzctl::open);
    }
    Err(VzError::NotImplemented("mapping host PIDs to VEs"))
}

fn main() -> ExitCode {
    vzctl::error::exit_code_of("vzpid", run())
}

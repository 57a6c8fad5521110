//! The vzpid binary: parse, run, map errors to exit codes (1 for usage, as OpenVZ's vzpid).

use std::process::ExitCode;
use vzctl::cli::{self, VzpidCli};
use vzctl::commands;
use vzctl::device::Vzctl;
use vzctl::error::VzError;
use vzctl::procfs::Proc;
use vzctl::tools::vzpid;

fn run() -> Result<(), VzError> {
    let Some(cli) = cli::parse::<VzpidCli, _, _>(std::env::args_os())? else {
        return Ok(());
    };
    if cli.version {
        return commands::version::run(
            "vzpid",
            &mut std::io::stdout(),
            &mut std::io::stderr(),
            Vzctl::open,
        );
    }
    vzpid::run(
        &Proc::default(),
        &cli.pids,
        cli.with_vpid,
        &mut std::io::stdin().lock(),
        &mut std::io::stdout().lock(),
    )
}

fn main() -> ExitCode {
    match run() {
        Err(VzError::Usage(msg)) => {
            eprintln!("vzpid: {msg}");
            ExitCode::from(1)
        }
        other => vzctl::error::exit_code_of("vzpid", other),
    }
}

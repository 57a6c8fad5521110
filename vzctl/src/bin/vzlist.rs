//! The vzlist binary: parse, list, and exit 1 on any error as OpenVZ's vzlist does.

use std::process::ExitCode;
use vzctl::cli::{self, VzlistCli};
use vzctl::commands;
use vzctl::device::Vzctl;
use vzctl::error::VzError;
use vzctl::tools::vzlist;

fn main() -> ExitCode {
    vzctl::trace::start();
    let parsed = vzctl::trace::timed("parse arguments", || {
        cli::parse::<VzlistCli, _, _>(std::env::args_os())
    });
    let cli = match parsed {
        Ok(Some(cli)) => cli,
        // --help was printed.
        Ok(None) => return ExitCode::SUCCESS,
        Err(err) => return fail(&err),
    };
    if cli.version {
        let printed = commands::version::run(
            "vzlist",
            &mut std::io::stdout(),
            &mut std::io::stderr(),
            Vzctl::open,
        );
        return vzctl::error::exit_code_of("vzlist", printed);
    }
    let _phase = vzctl::trace::phase("list");
    match vzlist::run(&cli, &mut std::io::stdout().lock(), &mut std::io::stderr()) {
        // 1 when the CTIDs asked for do not exist.
        Ok(code) => ExitCode::from(u8::try_from(code).unwrap_or(1)),
        Err(err) => fail(&err),
    }
}

/// Prints the error; OpenVZ's vzlist exits 1 on every error.
fn fail(err: &VzError) -> ExitCode {
    eprintln!("vzlist: {}", err.to_string().trim_end());
    ExitCode::from(1)
}

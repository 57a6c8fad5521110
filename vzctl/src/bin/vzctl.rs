//! The vzctl binary: parse, run, map errors to OpenVZ exit codes.

use std::process::ExitCode;
use vzctl::cli::{self, VzctlCli, VzctlCommand};
use vzctl::commands::{self, Ctx};
use vzctl::device::Vzctl;
use vzctl::error::VzError;
use vzctl::host::LinuxHost;
use vzctl::paths::{Global, Paths};

/// Runs the command; Ok carries the exit status (exec2 and runscript pass the command's on).
fn run() -> Result<i32, VzError> {
    let parsed = vzctl::trace::timed("parse arguments", || {
        cli::parse::<VzctlCli, _, _>(std::env::args_os())
    })?;
    let Some(cli) = parsed else {
        return Ok(0);
    };
    if cli.version {
        commands::version::run(
            "vzctl",
            &mut std::io::stdout(),
            &mut std::io::stderr(),
            Vzctl::open,
        )?;
        return Ok(0);
    }
    let Some(command) = cli.command else {
        return Err(VzError::Usage(
            "a command is required (create, start, stop, set, ...; see vzctl --help)".into(),
        ));
    };
    let paths = Paths::default();
    let global = vzctl::trace::timed("load vz.conf", || Global::load(&paths))?;
    let host = LinuxHost::new(paths.cgroup_root(), paths.proc());
    let ctx = Ctx {
        paths: &paths,
        global: &global,
        host: &host,
        quiet: cli.quiet,
        skiplock: cli.skiplock,
    };
    let _phase = vzctl::trace::phase("command");
    match command {
        VzctlCommand::Create(args) => commands::create::run(&ctx, &args)?,
        VzctlCommand::Start { ctid, .. } => commands::start::run(&ctx, &ctid)?,
        VzctlCommand::Stop(args) => commands::stop::run(&ctx, &args)?,
        VzctlCommand::Restart(args) => commands::stop::restart(&ctx, &args)?,
        VzctlCommand::Status { ctid } => commands::status::run(&ctx, &ctid)?,
        VzctlCommand::Mount { ctid } => commands::mount::mount(&ctx, &ctid)?,
        VzctlCommand::Umount { ctid } => commands::mount::umount(&ctx, &ctid)?,
        VzctlCommand::Destroy { ctid } => commands::destroy::run(&ctx, &ctid)?,
        VzctlCommand::Exec { ctid, command } => commands::exec::exec(&ctx, &ctid, &command)?,
        VzctlCommand::Exec2 { ctid, command } => {
            return commands::exec::exec2(&ctx, &ctid, &command)
        }
        VzctlCommand::Runscript { ctid, script } => {
            return commands::exec::runscript(&ctx, &ctid, &script)
        }
        VzctlCommand::Enter { ctid, exec } => commands::exec::enter(&ctx, &ctid, &exec)?,
        VzctlCommand::Set(args) => commands::set::run(&ctx, &args)?,
        VzctlCommand::Chkpnt(args) => commands::chkpnt::chkpnt(&ctx, &args)?,
        VzctlCommand::Restore(args) => commands::chkpnt::restore(&ctx, &args)?,
        VzctlCommand::CriuAction { ctid, dumpfile } => {
            commands::chkpnt::criu_action(&ctx, ctid, &dumpfile)?
        }
        VzctlCommand::Boot => commands::boot::boot(&ctx)?,
        VzctlCommand::Shutdown => commands::boot::shutdown(&ctx)?,
    }
    Ok(0)
}

fn main() -> ExitCode {
    vzctl::trace::start();
    vzctl::error::exit_status_of("vzctl", run())
}

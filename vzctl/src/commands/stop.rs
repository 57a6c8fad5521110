//! vzctl stop and restart: halt inside the VE, kill what is left after the stop timeout (at
//! once with --fast), remove the VE from the kernel and unmount its root.

use super::Ctx;
use crate::cli::StopArgs;
use crate::error::VzError;
use crate::ve::Ve;
use std::time::Duration;

pub fn run(ctx: &Ctx, args: &StopArgs) -> Result<(), VzError> {
    let ve = ctx.ve(&args.ctid)?;
    let _lock = ctx.lock(ve.veid, "stopping")?;
    stop(ctx, &ve, args)
}

pub fn restart(ctx: &Ctx, args: &StopArgs) -> Result<(), VzError> {
    let ve = ctx.ve(&args.ctid)?;
    let _lock = ctx.lock(ve.veid, "restarting")?;
    ctx.say("Restarting container");
    if ctx.host.running(ve.veid)?.is_some() {
        stop(ctx, &ve, args)?;
    }
    super::start::start(ctx, &ve)
}

fn stop(ctx: &Ctx, ve: &Ve, args: &StopArgs) -> Result<(), VzError> {
    if ctx.host.running(ve.veid)?.is_none() {
        return Err(VzError::NotRunning(ve.veid));
    }
    let timeout = match args.stop_timeout {
        Some(seconds) => seconds,
        None => match ve.conf.as_ref().and_then(|c| c.get("STOP_TIMEOUT")) {
            Some(text) if !text.is_empty() => text.parse().map_err(|_| {
                VzError::InvalidValue(format!(
                    "{}: STOP_TIMEOUT: invalid value {text:?}",
                    ve.conf_path.display()
                ))
            })?,
            _ => ctx.global.stop_timeout,
        },
    };
    ctx.say("Stopping container ...");
    ctx.host
        .stop(ve.veid, args.fast, Duration::from_secs(timeout.into()))?;
    ctx.say("Container was stopped");
    if ctx.host.is_mounted(&ve.root)? {
        crate::trace::timed("umount", || ctx.host.umount(&ve.root))?;
        ctx.say("Container is unmounted");
    }
    Ok(())
}

//! vzctl mount and umount: the private area at the VE's root, without starting it.

use super::Ctx;
use crate::error::VzError;

pub fn mount(ctx: &Ctx, ctid: &str) -> Result<(), VzError> {
    let ve = ctx.ve(ctid)?;
    let _lock = ctx.lock(ve.veid, "mounting")?;
    ve.require_exists()?;
    if ctx.host.is_mounted(&ve.root)? {
        return Err(VzError::AlreadyMounted(ve.veid));
    }
    ctx.host.mount(&ve.private, &ve.root)?;
    ctx.say("Container is mounted");
    Ok(())
}

pub fn umount(ctx: &Ctx, ctid: &str) -> Result<(), VzError> {
    let ve = ctx.ve(ctid)?;
    let _lock = ctx.lock(ve.veid, "unmounting")?;
    if ctx.host.running(ve.veid)?.is_some() {
        return Err(VzError::Running {
            veid: ve.veid,
            action: "stop it before unmounting",
        });
    }
    if !ctx.host.is_mounted(&ve.root)? {
        return Err(VzError::NotMounted(ve.veid));
    }
    ctx.host.umount(&ve.root)?;
    ctx.say("Container is unmounted");
    Ok(())
}

//! vzctl destroy: remove a stopped VE's private area, root, checkpoints and config. A
//! running VE is refused. The private area is first renamed aside, so a destroy cut short
//! leaves no VE that looks whole.

use super::Ctx;
use crate::error::VzError;
use std::fs;

pub fn run(ctx: &Ctx, ctid: &str) -> Result<(), VzError> {
    let ve = ctx.ve(ctid)?;
    let _lock = ctx.lock(ve.veid, "destroying")?;
    if ctx.host.running(ve.veid)?.is_some() {
        return Err(VzError::Running {
            veid: ve.veid,
            action: "stop it before destroying it",
        });
    }
    if ve.conf.is_none() && !ve.private.exists() {
        return Err(VzError::PrivateNotFound {
            veid: ve.veid,
            private: ve.private,
        });
    }
    if ctx.host.is_mounted(&ve.root)? {
        ctx.host.umount(&ve.root)?;
    }
    let io = |what: String| move |source| VzError::System { what, source };
    if ve.private.exists() {
        ctx.say(&format!(
            "Destroying container private area: {}",
            ve.private.display()
        ));
        let mut doomed = ve.private.as_os_str().to_owned();
        doomed.push(".destroyed");
        fs::rename(&ve.private, &doomed).map_err(io(format!("rename {}", ve.private.display())))?;
        fs::remove_dir_all(&doomed).map_err(io(format!(
            "remove {}",
            std::path::Path::new(&doomed).display()
        )))?;
    }
    let _ = fs::remove_dir(&ve.root);
    // Its checkpoints go with it: a new VE of the same id must not start from them.
    for dump in [
        ve.dump.clone(),
        crate::checkpoint::partial_dir(&ve.dump),
        crate::checkpoint::failed_dir(&ve.dump),
    ] {
        if dump.exists() {
            fs::remove_dir_all(&dump).map_err(io(format!("remove {}", dump.display())))?;
        }
    }
    crate::conflicts::forget(&ctx.global.lockdir, ve.veid);
    if let Some(name) = ve.conf.as_ref().and_then(|c| c.get("NAME")) {
        crate::names::unlink_name(ctx.paths, name);
    }
    if ve.conf.is_some() {
        // OpenVZ keeps the config of a destroyed VE as CTID.conf.destroyed.
        let mut kept = ve.conf_path.as_os_str().to_owned();
        kept.push(".destroyed");
        fs::rename(&ve.conf_path, &kept)
            .map_err(io(format!("rename {}", ve.conf_path.display())))?;
    }
    ctx.say("Container private area was destroyed");
    Ok(())
}

//! Before a VE runs (start, restore), its host id range and addresses are checked against
//! every other VE's config: two running VEs must not share host ids or an address. That is a
//! pass over all the configs, so a start with a thousand VEs would cost ten times one with a
//! few. The pass is made only when the VE's own config changed since it last passed:
//! `LOCKDIR/CTID.checked` keeps the config's identity (device, inode, size, modification time)
//! from then. Another VE's config edited into a conflict is caught when that VE starts, since
//! its config changed; a VE that never passed (made elsewhere, copied in by hand) is checked.

use crate::commands::Ctx;
use crate::error::VzError;
use crate::host::StartPlan;
use crate::ve::Ve;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

/// Fails if the host ids or addresses `plan` gives `ve` collide with another VE's config;
/// skips the pass over the configs when `ve`'s config is the one that passed last.
pub fn check_before_running(ctx: &Ctx, ve: &Ve, plan: &StartPlan) -> Result<(), VzError> {
    let (paths, lockdir) = (ctx.paths, &ctx.global.lockdir);
    let (ids, addresses) = (&plan.ids, &plan.addresses);
    // Taken before the pass: a config changed during it does not match the next time.
    let identity = identity_of(&ve.conf_path)?;
    let stamp = lockdir.join(format!("{}.checked", ve.veid));
    if std::fs::read_to_string(&stamp).is_ok_and(|kept| kept == identity) {
        return Ok(());
    }
    crate::trace::timed("check its ids are free", || {
        crate::idmap::check_free(paths, ve.veid, ids)
    })?;
    crate::trace::timed("check its addresses are free", || {
        crate::net::check_addresses_free(paths, ve.veid, addresses)
    })?;
    // Best effort: without the stamp the next start makes the pass again.
    let _ = std::fs::write(&stamp, identity);
    Ok(())
}

/// Forgets that VE `veid`'s config passed (its destroy).
pub fn forget(lockdir: &Path, veid: u32) {
    let _ = std::fs::remove_file(lockdir.join(format!("{veid}.checked")));
}

/// What tells one version of the file at `path` from another.
fn identity_of(path: &Path) -> Result<String, VzError> {
    let meta = std::fs::metadata(path).map_err(|source| VzError::System {
        what: format!("stat {}", path.display()),
        source,
    })?;
    Ok(format!(
        "{} {} {} {}.{:09}\n",
        meta.dev(),
        meta.ino(),
        meta.size(),
        meta.mtime(),
        meta.mtime_nsec()
    ))
}

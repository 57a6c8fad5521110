//! vzctl chkpnt (suspend) and restore (resume): a running VE into its dump and back, with
//! CRIU, in OpenVZ's steps and words. A plain chkpnt suspends, dumps and kills; a plain
//! restore undumps and resumes. Each step alone is a stage option, as vzmigrate calls them.
//!
//! A dump is written beside its final place (`Dump.CTID.partial`) and takes the place of an
//! older one only once complete; a failed one is kept as `Dump.CTID.fail` with CRIU's log,
//! and the VE is thawed again. A failed restore leaves the dump as it was and nothing of the
//! VE running.

use super::Ctx;
use crate::checkpoint::{self, SavedVe};
use crate::cli::{ChkpntArgs, RestoreArgs};
use crate::error::VzError;
use crate::ve::Ve;
use std::path::{Path, PathBuf};

/// OpenVZ's words for two stage options at once.
const ONE_STAGE: &str = "Invalid syntax: only one sub command may be used";

enum ChkpntStage {
    All,
    Suspend,
    Dump,
    Kill,
    Resume,
}

enum RestoreStage {
    All,
    Undump,
    Resume,
    Kill,
}

/// The one stage of `flags` (name, set) that is set, if any; two or more are a syntax error.
fn one_stage<T>(all: T, stages: Vec<(bool, T)>) -> Result<T, VzError> {
    let mut chosen = stages.into_iter().filter(|(set, _)| *set).map(|(_, s)| s);
    match (chosen.next(), chosen.next()) {
        (None, _) => Ok(all),
        (Some(stage), None) => Ok(stage),
        (Some(_), Some(_)) => Err(VzError::Usage(ONE_STAGE.into())),
    }
}

pub fn chkpnt(ctx: &Ctx, args: &ChkpntArgs) -> Result<(), VzError> {
    let stage = one_stage(
        ChkpntStage::All,
        vec![
            (args.suspend, ChkpntStage::Suspend),
            (args.dump, ChkpntStage::Dump),
            (args.kill, ChkpntStage::Kill),
            (args.resume, ChkpntStage::Resume),
        ],
    )?;
    let ve = ctx.ve(&args.ctid)?;
    let _lock = ctx.lock(ve.veid, "checkpointing")?;
    ve.require_exists()?;
    if ctx.host.running(ve.veid)?.is_none() {
        ctx.say("Unable to setup checkpointing: container is not running");
        return Err(VzError::NotRunning(ve.veid));
    }
    let dump = dump_path(&ve, args.dumpfile.as_deref());
    let addresses = addresses(&ve)?;
    match stage {
        ChkpntStage::Suspend => {
            ctx.say("Setting up checkpoint...");
            ctx.say("\tsuspend...");
            ctx.host.freeze(ve.veid, true, &addresses)?;
        }
        ChkpntStage::Dump => {
            ctx.say("\tdump...");
            ctx.host.freeze(ve.veid, true, &addresses)?;
            dump_into(ctx, &ve, &dump, false)?;
        }
        ChkpntStage::Kill => {
            ctx.say("\tkill...");
            kill(ctx, &ve)?;
        }
        ChkpntStage::Resume => {
            ctx.say("\tresume...");
            ctx.host.freeze(ve.veid, false, &addresses)?;
        }
        ChkpntStage::All => {
            ctx.say("Setting up checkpoint...");
            ctx.say("\tsuspend...");
            ctx.host.freeze(ve.veid, true, &addresses)?;
            ctx.say("\tdump...");
            // CRIU kills the dumped tasks itself, their TCP connections still in repair
            // mode: the peers hear nothing, and no socket of the old VE lingers.
            if let Err(err) = dump_into(ctx, &ve, &dump, true) {
                ctx.host.freeze(ve.veid, false, &addresses)?;
                ctx.say("Checkpointing failed");
                return Err(err);
            }
            ctx.say("\tkill...");
            kill(ctx, &ve)?;
            ctx.say("Checkpointing completed successfully");
        }
    }
    Ok(())
}

pub fn restore(ctx: &Ctx, args: &RestoreArgs) -> Result<(), VzError> {
    let stage = one_stage(
        RestoreStage::All,
        vec![
            (args.undump, RestoreStage::Undump),
            (args.resume, RestoreStage::Resume),
            (args.kill, RestoreStage::Kill),
        ],
    )?;
    let ve = ctx.ve(&args.ctid)?;
    let _lock = ctx.lock(ve.veid, "restoring")?;
    ve.require_exists()?;
    let dump = dump_path(&ve, args.dumpfile.as_deref());
    match stage {
        RestoreStage::All => {
            restore_from(ctx, &ve, &dump, false)?;
            ctx.say("\tresume...");
            forget_default_dump(&ve, &dump);
            ctx.say("Restoring completed successfully");
        }
        RestoreStage::Undump => restore_from(ctx, &ve, &dump, true)?,
        RestoreStage::Resume => {
            if ctx.host.running(ve.veid)?.is_none() {
                return Err(VzError::NotRunning(ve.veid));
            }
            ctx.say("\tresume...");
            ctx.host.freeze(ve.veid, false, &addresses(&ve)?)?;
            forget_default_dump(&ve, &dump);
        }
        RestoreStage::Kill => {
            if ctx.host.running(ve.veid)?.is_none() {
                return Err(VzError::NotRunning(ve.veid));
            }
            ctx.say("\tkill...");
            kill(ctx, &ve)?;
        }
    }
    Ok(())
}

/// CRIU's action script during a restore of VE `veid`. At setup-namespaces CRIU has made the
/// restored root (pid 1 of the VE's new pid namespace) and forked nothing from it yet: the
/// root enters the VE, and every task CRIU restores then inherits the VE through fork. At
/// post-setup-namespaces CRIU has made the VE's cgroups, the root has left the VE's cgroup
/// for its own (systemd's init.scope) and no other task is in any yet: each gets back the
/// controllers it had enabled for its sub-cgroups (from the dump `dump`), before CRIU
/// reopens what the tasks had open there (systemd watches memory.events). Other actions
/// need nothing.
pub fn criu_action(ctx: &Ctx, veid: u32, dump: &Path) -> Result<(), VzError> {
    match std::env::var("CRTOOLS_SCRIPT_ACTION").as_deref() {
        Ok("setup-namespaces") => {
            let pid = std::env::var("CRTOOLS_INIT_PID")
                .ok()
                .and_then(|text| text.parse().ok())
                .ok_or_else(|| VzError::InvalidValue("CRTOOLS_INIT_PID is not a pid".into()))?;
            ctx.host.attach(veid, pid)
        }
        Ok("post-setup-namespaces") => {
            let saved = SavedVe::load(dump, veid)?;
            let writes = saved
                .subtree_writes()
                .map_err(|reason| VzError::RestoreFailed { veid, reason })?;
            for (file, value) in writes {
                ctx.host.set_cgroup(veid, &file.to_string_lossy(), &value)?;
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

/// vzctl start of a VE with a checkpoint: restores it, as OpenVZ did. A failed restore
/// keeps the dump and is the start's error: starting afresh would drop the checkpointed
/// state without a word (removing `Dump.CTID` does that on purpose).
pub(crate) fn start_from_dump(ctx: &Ctx, ve: &Ve) -> Result<(), VzError> {
    ctx.say(&format!(
        "Dump file {} exists, trying to restore from it",
        ve.dump.display()
    ));
    restore_from(ctx, ve, &ve.dump, false)?;
    forget_default_dump(ve, &ve.dump);
    ctx.say("Restoring completed successfully");
    Ok(())
}

/// Restores `ve` from `dump`, resumed or (`frozen`) not.
fn restore_from(ctx: &Ctx, ve: &Ve, dump: &Path, frozen: bool) -> Result<(), VzError> {
    if ctx.host.running(ve.veid)?.is_some() {
        ctx.say("Unable to perform restore: container already running");
        return Err(VzError::Running {
            veid: ve.veid,
            action: "already running",
        });
    }
    ctx.say("Restoring container ...");
    let saved = SavedVe::load(dump, ve.veid)?;
    ctx.say("\tundump...");
    let ve = &super::start::with_ids(ctx, ve)?;
    let plan = super::start::plan(ve, &ctx.host.cpus()?)?;
    crate::conflicts::check_before_running(ctx, ve, &plan)?;
    // The disk quota's limits are the filesystem's, kept with the private area.
    let mounted_here = !ctx.host.is_mounted(&ve.root)?;
    if mounted_here {
        ctx.host.mount(&ve.private, &ve.root)?;
    }
    if let Err(err) = ctx.host.restore(&plan, dump, &saved, frozen) {
        if mounted_here {
            let _ = ctx.host.umount(&ve.root);
        }
        return Err(err);
    }
    Ok(())
}

/// Dumps the frozen VE into `dump`, through `dump.partial`, and with `kill` ends it; a
/// failure keeps what CRIU left as `dump.fail`.
fn dump_into(ctx: &Ctx, ve: &Ve, dump: &Path, kill: bool) -> Result<(), VzError> {
    let failed = |reason: String| VzError::ChkpntFailed {
        veid: ve.veid,
        reason,
    };
    let partial = checkpoint::partial_dir(dump);
    remove_dir(&partial).map_err(&failed)?;
    std::fs::create_dir_all(&partial)
        .map_err(|e| failed(format!("mkdir {}: {e}", partial.display())))?;
    let netdevs = netdevs(ve)?;
    let mode = checkpoint::DumpMode::Final { kill, parent: None };
    if let Err(err) = ctx.host.dump(ve.veid, &partial, &netdevs, mode) {
        let kept = checkpoint::failed_dir(dump);
        let _ = remove_dir(&kept);
        let _ = std::fs::rename(&partial, &kept);
        let reason = match err {
            VzError::ChkpntFailed { reason, .. } => reason,
            other => other.to_string(),
        };
        return Err(failed(format!(
            "{reason}; CRIU's log is {} (all dump files and logs were saved in {})",
            kept.join(checkpoint::DUMP_LOG).display(),
            kept.display()
        )));
    }
    remove_dir(dump).map_err(&failed)?;
    std::fs::rename(&partial, dump).map_err(|e| {
        failed(format!(
            "rename {} to {}: {e}",
            partial.display(),
            dump.display()
        ))
    })
}

/// Kills the dumped VE and unmounts it.
fn kill(ctx: &Ctx, ve: &Ve) -> Result<(), VzError> {
    ctx.host.stop(ve.veid, true, std::time::Duration::ZERO)?;
    if ctx.host.is_mounted(&ve.root)? {
        ctx.host.umount(&ve.root)?;
    }
    Ok(())
}

/// A successful restore from the default dump removes it, as OpenVZ's did: the VE runs on
/// and a later start must not go back to it. A dump named with --dumpfile is the caller's.
fn forget_default_dump(ve: &Ve, dump: &Path) {
    if dump == ve.dump {
        let _ = remove_dir(dump);
    }
}

fn dump_path(ve: &Ve, dumpfile: Option<&Path>) -> PathBuf {
    dumpfile.map_or_else(|| ve.dump.clone(), Path::to_owned)
}

/// The VE's addresses (IP_ADDRESS), whose host routes a freeze takes away.
fn addresses(ve: &Ve) -> Result<Vec<std::net::Ipv4Addr>, VzError> {
    crate::net::parse_addresses(ve.conf()?.get("IP_ADDRESS").unwrap_or_default())
        .map_err(|e| VzError::InvalidValue(format!("{}: IP_ADDRESS: {e}", ve.conf_path.display())))
}

/// The VE's network devices that a restore gives back to it: its venet0 when it has
/// addresses.
fn netdevs(ve: &Ve) -> Result<Vec<String>, VzError> {
    Ok(if addresses(ve)?.is_empty() {
        Vec::new()
    } else {
        vec![crate::net::VE_LINK.to_owned()]
    })
}

fn remove_dir(path: &Path) -> Result<(), String> {
    match std::fs::remove_dir_all(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            Err(format!("remove {}: {e}", path.display()))
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::commands::create::tests::scratch;
    use crate::host::fake::FakeHost;
    use crate::host::Running;
    use crate::paths::Global;

    const RUNNING: Option<Running> = Some(Running {
        init_pid: 42,
        nproc: 3,
    });

    fn chkpnt_args(stages: [bool; 4]) -> ChkpntArgs {
        ChkpntArgs {
            ctid: "101".into(),
            dumpfile: None,
            suspend: stages[0],
            dump: stages[1],
            kill: stages[2],
            resume: stages[3],
        }
    }

    fn restore_args() -> RestoreArgs {
        RestoreArgs {
            ctid: "101".into(),
            dumpfile: None,
            undump: false,
            resume: false,
            kill: false,
        }
    }

    /// A scratch host with VE 101 (config and private area) and its global settings.
    fn setup() -> (crate::commands::create::tests::Scratch, Global) {
        let scratch = scratch();
        let paths: &crate::paths::Paths = &scratch;
        std::fs::write(
            paths.ve_conf(101),
            "IP_ADDRESS=\"10.0.0.1\"\nLOCAL_UID=\"100000\"\nLOCAL_GID=\"100000\"\n",
        )
        .unwrap();
        std::fs::create_dir_all(paths.resolve("/vz/private/101/sbin")).unwrap();
        let global = Global::load(paths).unwrap();
        (scratch, global)
    }

    #[test]
    fn two_stage_options_are_a_syntax_error() {
        let (scratch, global) = setup();
        let host = FakeHost::default();
        let ctx = crate::commands::fake::ctx(&scratch, &global, &host);
        let err = chkpnt(&ctx, &chkpnt_args([true, true, false, false])).unwrap_err();
        assert_eq!(err.exit_code(), 20);
        assert_eq!(err.to_string(), ONE_STAGE);
        let args = RestoreArgs {
            undump: true,
            kill: true,
            ..restore_args()
        };
        assert_eq!(restore(&ctx, &args).unwrap_err().exit_code(), 20);
        assert!(host.calls().is_empty(), "{:?}", host.calls());
    }

    #[test]
    fn a_stopped_ve_cannot_be_checkpointed_nor_a_running_one_restored() {
        let (scratch, global) = setup();
        let host = FakeHost::default();
        let ctx = crate::commands::fake::ctx(&scratch, &global, &host);
        assert_eq!(
            chkpnt(&ctx, &chkpnt_args([false; 4]))
                .unwrap_err()
                .exit_code(),
            31
        );
        *host.running.borrow_mut() = RUNNING;
        assert_eq!(restore(&ctx, &restore_args()).unwrap_err().exit_code(), 32);
        assert!(host.calls().is_empty(), "{:?}", host.calls());
    }

    #[test]
    fn a_checkpoint_freezes_dumps_and_kills_and_its_dump_restores() {
        let (scratch, global) = setup();
        let host = FakeHost {
            running: RUNNING.into(),
            ..FakeHost::default()
        };
        let ctx = crate::commands::fake::ctx(&scratch, &global, &host);
        chkpnt(&ctx, &chkpnt_args([false; 4])).unwrap();
        let dump = global.dump(101);
        assert!(dump.join("inventory.img").exists());
        assert!(!checkpoint::partial_dir(&dump).exists());
        let calls = host.calls();
        assert_eq!(calls[0], "freeze 101 true [10.0.0.1]");
        assert!(calls[1].starts_with("dump 101 "));
        assert!(calls[1].ends_with(".partial [\"venet0\"] Final { kill: true, parent: None }"));
        assert!(calls[2].starts_with("stop 101 fast=true"), "{calls:?}");
        // The fake dump has no module state: the restore refuses it, and keeps it.
        *host.running.borrow_mut() = None;
        let ve = ctx.ve("101").unwrap();
        assert!(ve.state(&host).unwrap().suspended);
        let err = restore(&ctx, &restore_args()).unwrap_err();
        assert_eq!(err.exit_code(), 17);
        assert!(dump.is_dir());
        SavedVe::from_export(
            101,
            42,
            &[vz_abi::UbCounter::default(); vz_abi::UB_COUNT],
            &[],
            &[],
            vec![],
            vec![],
        )
        .save(&dump)
        .unwrap();
        restore(&ctx, &restore_args()).unwrap();
        assert!(!dump.exists(), "a restored default dump is removed");
        assert!(!ve.state(&host).unwrap().suspended);
    }

    #[test]
    fn a_failed_dump_thaws_the_ve_and_keeps_what_criu_left() {
        let (scratch, global) = setup();
        let host = FakeHost {
            running: RUNNING.into(),
            fail_dump: true,
            ..FakeHost::default()
        };
        let ctx = crate::commands::fake::ctx(&scratch, &global, &host);
        let dump = global.dump(101);
        std::fs::create_dir_all(&dump).unwrap();
        std::fs::write(dump.join("older.img"), "").unwrap();
        let err = chkpnt(&ctx, &chkpnt_args([false; 4])).unwrap_err();
        assert_eq!(err.exit_code(), 16);
        assert!(err.to_string().contains("Dump.101.fail"), "{err}");
        assert!(checkpoint::failed_dir(&dump).join("inventory.img").exists());
        assert!(dump.join("older.img").exists(), "the older dump is kept");
        let calls = host.calls();
        assert_eq!(calls.last().unwrap(), "freeze 101 false [10.0.0.1]");
        assert!(!calls.iter().any(|c| c.starts_with("stop")), "{calls:?}");
    }

    #[test]
    fn a_failed_restore_keeps_the_dump_and_unmounts() {
        let (scratch, global) = setup();
        let host = FakeHost {
            fail_restore: true,
            ..FakeHost::default()
        };
        let ctx = crate::commands::fake::ctx(&scratch, &global, &host);
        let dump = global.dump(101);
        std::fs::create_dir_all(&dump).unwrap();
        let saved = SavedVe::from_export(
            101,
            42,
            &[vz_abi::UbCounter::default(); vz_abi::UB_COUNT],
            &[],
            &[],
            vec![],
            vec![],
        );
        saved.save(&dump).unwrap();
        let ve = ctx.ve("101").unwrap();
        // vzctl start goes to the dump, and fails as the restore does.
        let err = crate::commands::start::start(&ctx, &ve).unwrap_err();
        assert_eq!(err.exit_code(), 17);
        assert!(dump.join(checkpoint::STATE_FILE).exists());
        let calls = host.calls();
        assert!(calls.iter().any(|c| c.starts_with("umount")), "{calls:?}");
        assert!(host.mounted.borrow().is_empty());
    }
}

//! The destination's side of a migration (`vzmigrate --agent ACTION CTID`, run by the source's
//! vzmigrate over ssh): the checks before anything moves, the registration of the VE once its
//! files are here, and the removal of what a failed migration brought.

use super::{exit, migration_dumps, remove_tree, MigrateError};
use crate::cli::AgentAction;
use crate::commands::Ctx;
use crate::device::Vzctl;
use crate::error::VzError;
use std::net::Ipv4Addr;
use std::path::Path;

/// What the source tells the destination to check.
#[derive(Debug, Default)]
pub struct Wanted {
    pub abi: Option<u32>,
    pub criu: Option<String>,
    pub addresses: Vec<Ipv4Addr>,
    pub kbytes: Option<u64>,
    pub ids: Option<crate::idmap::IdMap>,
}

pub fn run(ctx: &Ctx, action: AgentAction, veid: u32, wanted: &Wanted) -> Result<(), MigrateError> {
    match action {
        AgentAction::Check => check(ctx, veid, wanted),
        AgentAction::Register => register(ctx, veid),
        AgentAction::Undo => undo(ctx, veid),
        AgentAction::Finish => finish(ctx, veid),
    }
}

fn check(ctx: &Ctx, veid: u32, wanted: &Wanted) -> Result<(), MigrateError> {
    let host = hostname();
    match Vzctl::open() {
        Ok(_) => {}
        Err(err @ VzError::ModuleNotLoaded(_)) => {
            return Err(MigrateError::new(exit::NO_MODULE, format!("{host}: {err}")))
        }
        Err(err @ VzError::AbiMismatch { .. }) => {
            return Err(MigrateError::new(exit::VERSION, format!("{host}: {err}")))
        }
        Err(err) => return Err(MigrateError::new(exit::NO_MODULE, format!("{host}: {err}"))),
    }
    if let Some(abi) = wanted.abi.filter(|&abi| abi != vz_abi::VZ_ABI_VERSION) {
        return Err(MigrateError::new(
            exit::VERSION,
            format!(
                "{host} runs module ABI version {}, the source {abi}: a VE's state cannot move between them",
                vz_abi::VZ_ABI_VERSION
            ),
        ));
    }
    if let Some(source) = &wanted.criu {
        let here = criu_version();
        if here.as_deref() != Some(source.as_str()) {
            return Err(MigrateError::new(
                exit::VERSION,
                format!(
                    "CRIU differs: {} on {host}, {source} on the source",
                    here.as_deref().unwrap_or("none")
                ),
            ));
        }
    }
    let ve = crate::ve::Ve::load(ctx.paths, ctx.global, veid)
        .map_err(|e| MigrateError::new(exit::EXISTS, e.to_string()))?;
    for what in [&ve.conf_path, &ve.private] {
        if what.exists() {
            return Err(MigrateError::new(
                exit::EXISTS,
                format!(
                    "CT {veid} already exists on {host} ({} is present)",
                    what.display()
                ),
            ));
        }
    }
    if let Some(ids) = &wanted.ids {
        crate::idmap::check_free(ctx.paths, veid, ids)
            .map_err(|e| MigrateError::new(exit::EXISTS, format!("{host}: {e}")))?;
    }
    crate::net::check_addresses_free(ctx.paths, veid, &wanted.addresses)
        .map_err(|e| MigrateError::new(exit::IP_IN_USE, format!("{host}: {e}")))?;
    if let Some(ip) = wanted.addresses.iter().find(|&&ip| host_has_address(ip)) {
        return Err(MigrateError::new(
            exit::IP_IN_USE,
            format!("{host}: IP address {ip} is already in use by the host"),
        ));
    }
    if let Some(need) = wanted.kbytes {
        let free = free_kbytes(&ve.private)?;
        if free < need {
            return Err(MigrateError::new(
                exit::COPY,
                format!(
                    "{host}: not enough disk space for {}: {need} KiB needed, {free} KiB free",
                    ve.private.display()
                ),
            ));
        }
    }
    Ok(())
}

/// The VE runs here and no longer there: its addresses are announced again (the source
/// answered ARP for them until it let the VE go) and the migration's dumps go.
fn finish(ctx: &Ctx, veid: u32) -> Result<(), MigrateError> {
    let ve = crate::ve::Ve::load(ctx.paths, ctx.global, veid)
        .map_err(|e| MigrateError::new(exit::COPY, e.to_string()))?;
    let addresses = ve
        .conf()
        .ok()
        .and_then(|conf| {
            crate::net::parse_addresses(conf.get("IP_ADDRESS").unwrap_or_default()).ok()
        })
        .unwrap_or_default();
    crate::net::publish(&addresses, true);
    remove_tree(&migration_dumps(ctx.global, veid), exit::COPY)
}

/// The VE's config and private area have arrived: its disk quota counts its files here
/// (rsync does not carry ext4 project ids), its mount point and name exist.
fn register(ctx: &Ctx, veid: u32) -> Result<(), MigrateError> {
    let failed = |e: VzError| MigrateError::new(exit::COPY, e.to_string());
    let ve = crate::ve::Ve::load(ctx.paths, ctx.global, veid).map_err(failed)?;
    ve.require_exists().map_err(failed)?;
    std::fs::create_dir_all(&ve.root)
        .map_err(|e| MigrateError::new(exit::COPY, format!("mkdir {}: {e}", ve.root.display())))?;
    ve.apply_disk_limits(ctx.host, ctx.global, true)
        .map_err(failed)?;
    if let Some(name) = ve
        .conf()
        .map_err(failed)?
        .get("NAME")
        .filter(|n| !n.is_empty())
    {
        crate::names::link_name(ctx.paths, name, &ve.conf_path).map_err(failed)?;
    }
    Ok(())
}

/// Removes every trace of the VE here: stopped if a restore left it running, its private
/// area, mount point, dumps, name and config. Only a VE this migration brought is undone:
/// the check before the copy found none of it here.
fn undo(ctx: &Ctx, veid: u32) -> Result<(), MigrateError> {
    let failed = |e: VzError| MigrateError::new(exit::COPY, e.to_string());
    let _lock = lock_waiting(ctx, veid)?;
    let ve = crate::ve::Ve::load(ctx.paths, ctx.global, veid).map_err(failed)?;
    if ctx.host.running(veid).map_err(failed)?.is_some() {
        ctx.host
            .stop(veid, true, std::time::Duration::ZERO)
            .map_err(failed)?;
    }
    if ctx.host.is_mounted(&ve.root).map_err(failed)? {
        ctx.host.umount(&ve.root).map_err(failed)?;
    }
    if let Some(name) = ve.conf.as_ref().and_then(|c| c.get("NAME")) {
        crate::names::unlink_name(ctx.paths, name);
    }
    remove_tree(&ve.private, exit::COPY)?;
    let _ = std::fs::remove_dir(&ve.root);
    remove_tree(&migration_dumps(ctx.global, veid), exit::COPY)?;
    match std::fs::remove_file(&ve.conf_path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(MigrateError::new(
            exit::COPY,
            format!("remove {}: {e}", ve.conf_path.display()),
        )),
        _ => Ok(()),
    }
}

/// The VE's lock, waited for: a restore whose ssh was cut may still be running here.
fn lock_waiting(ctx: &Ctx, veid: u32) -> Result<crate::lock::VeLock, MigrateError> {
    let deadline = std::time::Instant::now() + LOCK_WAIT;
    loop {
        match crate::lock::VeLock::acquire(
            &ctx.global.lockdir,
            &ctx.paths.proc(),
            veid,
            "migrating",
        ) {
            Err(VzError::Locked { .. }) if std::time::Instant::now() < deadline => {
                std::thread::sleep(std::time::Duration::from_millis(200));
            }
            other => return other.map_err(MigrateError::from),
        }
    }
}

/// How long an undo waits for a restore of the VE to end (CRIU's own limit is 120 s).
const LOCK_WAIT: std::time::Duration = std::time::Duration::from_secs(150);

/// The first line of `criu --version`, if CRIU is installed.
pub fn criu_version() -> Option<String> {
    let output = std::process::Command::new("criu")
        .arg("--version")
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&output.stdout);
    text.lines().next().map(|line| line.trim().to_owned())
}

fn hostname() -> String {
    nix::unistd::gethostname()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_else(|_| "the destination".into())
}

fn host_has_address(ip: Ipv4Addr) -> bool {
    nix::ifaddrs::getifaddrs().is_ok_and(|mut addresses| {
        addresses.any(|entry| {
            entry
                .address
                .and_then(|a| a.as_sockaddr_in().map(|sin| sin.ip()))
                == Some(ip)
        })
    })
}

/// KiB available on the filesystem where `path` (or its nearest existing parent) is.
fn free_kbytes(path: &Path) -> Result<u64, MigrateError> {
    let existing = path
        .ancestors()
        .find(|p| p.exists())
        .unwrap_or(Path::new("/"));
    let stat = nix::sys::statvfs::statvfs(existing).map_err(|e| {
        MigrateError::new(exit::COPY, format!("statvfs {}: {e}", existing.display()))
    })?;
    // What df shows as available: the blocks reserved for root are the host's headroom.
    Ok(stat.blocks_available().saturating_mul(stat.fragment_size()) / 1024)
}

//! vzctl start: mount the private area, create the VE in the kernel with its limits and
//! cgroup, and run its /sbin/init as pid 1 of its own namespaces.

use super::Ctx;
use crate::error::VzError;
use crate::host::StartPlan;
use crate::params;
use crate::ve::Ve;

pub fn run(ctx: &Ctx, ctid: &str) -> Result<(), VzError> {
    let ve = ctx.ve(ctid)?;
    let _lock = ctx.lock(ve.veid, "starting")?;
    start(ctx, &ve)
}

/// Starts `ve` (its lock is held).
pub(crate) fn start(ctx: &Ctx, ve: &Ve) -> Result<(), VzError> {
    ve.require_exists()?;
    if ctx.host.running(ve.veid)?.is_some() {
        return Err(VzError::Running {
            veid: ve.veid,
            action: "already running",
        });
    }
    if ve.has_dump() {
        return super::chkpnt::start_from_dump(ctx, ve);
    }
    if !has_init(&ve.private) {
        return Err(VzError::StartFailed {
            veid: ve.veid,
            reason: format!("{} has no /sbin/init", ve.private.display()),
        });
    }
    let ve = &with_ids(ctx, ve)?;
    let plan = plan(ve, &ctx.host.cpus()?)?;
    // A hand-edited config must not share host ids or addresses with another VE.
    crate::conflicts::check_before_running(ctx, ve, &plan)?;
    crate::trace::timed("disk limits", || {
        ve.apply_disk_limits(ctx.host, ctx.global, false)
    })?;
    ctx.say("Starting container...");
    let mounted_here = !ctx.host.is_mounted(&ve.root)?;
    if mounted_here {
        crate::trace::timed("mount", || ctx.host.mount(&ve.private, &ve.root))?;
        ctx.say("Container is mounted");
    }
    if let Err(err) = ctx.host.start(&plan) {
        if mounted_here {
            let _ = ctx.host.umount(&ve.root);
        }
        return Err(err);
    }
    ctx.say("Container start in progress...");
    Ok(())
}

/// `ve` with LOCAL_UID and LOCAL_GID in its config: a VE made before VEs had user
/// namespaces gets a free range now, saved in its config. Its files need no change: the
/// idmapped mount maps them whatever the range.
pub(crate) fn with_ids(ctx: &Ctx, ve: &Ve) -> Result<Ve, VzError> {
    let mut conf = ve.conf()?.clone();
    let bad = |e: String| VzError::InvalidValue(format!("{}: {e}", ve.conf_path.display()));
    if crate::idmap::IdMap::from_conf(&conf)
        .map_err(bad)?
        .is_some()
    {
        return Ok(ve.clone());
    }
    let ids = crate::idmap::allocate(ctx.paths, ve.veid, ctx.global.id_base, (None, None))?;
    ids.store(&mut conf)?;
    conf.save(&ve.conf_path)?;
    Ok(Ve {
        conf: Some(conf),
        ..ve.clone()
    })
}

/// Whether `private` has a `/sbin/init`, looked up as the VE will see it: links are followed
/// with `private` as the root, so systemd's absolute `/sbin/init -> /lib/systemd/systemd` is
/// found in the private area, and a link never leads to the host's own files.
fn has_init(private: &std::path::Path) -> bool {
    std::fs::File::open(private).is_ok_and(|root| {
        crate::mounts::resolves_in_root(std::os::fd::AsFd::as_fd(&root), "sbin/init".as_ref())
    })
}

/// What the VE's config asks of its start: every beancounter it sets, its CPU share, caps and
/// CPUs (of the host's `host_cpus`), its hostname.
pub(crate) fn plan(ve: &Ve, host_cpus: &[u32]) -> Result<StartPlan, VzError> {
    let conf = ve.conf()?;
    let bad = |key: &str, reason: String| {
        VzError::InvalidValue(format!("{}: {key}: {reason}", ve.conf_path.display()))
    };
    let mut ubc = Vec::new();
    for param in params::UBC_PARAMS {
        if let Some(text) = conf.get(param.key).filter(|v| !v.is_empty()) {
            let (barrier, limit) = params::parse_ubc(param, text).map_err(|e| bad(param.key, e))?;
            ubc.push((param.resource, barrier, limit));
        }
    }
    let hostname = conf
        .get("HOSTNAME")
        .filter(|v| !v.is_empty())
        .map(params::parse_hostname)
        .transpose()
        .map_err(|e| bad("HOSTNAME", e))?;
    let addresses = crate::net::parse_addresses(conf.get("IP_ADDRESS").unwrap_or_default())
        .map_err(|e| bad("IP_ADDRESS", e))?;
    let devices = crate::device_rules::words(conf.get("DEVICES"))
        .into_iter()
        .map(crate::device_rules::parse_device)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| bad("DEVICES", e))?;
    let dev = std::path::Path::new("/dev");
    let nodes = crate::device_rules::words(conf.get("DEVNODES"))
        .into_iter()
        .map(|word| crate::device_rules::parse_devnode(dev, word))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| bad("DEVNODES", e))?;
    let ids = crate::idmap::IdMap::from_conf(conf)
        .map_err(|e| bad("LOCAL_UID", e))?
        .ok_or_else(|| bad("LOCAL_UID", "not set".into()))?;
    Ok(StartPlan {
        ids,
        veid: ve.veid,
        root: ve.root.clone(),
        hostname,
        ubc,
        cgroup: crate::cgroup::cpu_settings(conf, ve.veid, host_cpus).map_err(|e| bad("CPU", e))?,
        cpu_share: crate::cgroup::cpu_share(conf).map_err(|e| bad("CPU", e))?,
        private: ve.private.clone(),
        addresses,
        devices,
        nodes,
    })
}

#[cfg(test)]
mod tests {
    use super::has_init;
    use std::os::unix::fs::symlink;

    #[test]
    fn init_links_resolve_inside_the_private_area() {
        let scratch = tempfile::tempdir().unwrap();
        let private = scratch.path().join("private");
        std::fs::create_dir_all(private.join("usr/sbin")).unwrap();
        std::fs::create_dir_all(private.join("usr/lib/systemd")).unwrap();
        symlink("usr/sbin", private.join("sbin")).unwrap();
        symlink("usr/lib", private.join("lib")).unwrap();
        // Debian 12 (merged /usr, systemd-sysv): an absolute link, resolved in the VE's root.
        symlink("/lib/systemd/systemd", private.join("usr/sbin/init")).unwrap();
        assert!(!has_init(&private), "dangling inside the private area");
        std::fs::write(private.join("usr/lib/systemd/systemd"), "").unwrap();
        assert!(has_init(&private));
        // A link to something only the host has is not an init.
        std::fs::remove_file(private.join("usr/sbin/init")).unwrap();
        symlink("/proc/self/exe", private.join("usr/sbin/init")).unwrap();
        assert!(!has_init(&private));
        std::fs::remove_dir_all(&private).unwrap();
        assert!(!has_init(&private), "no private area");
    }
}

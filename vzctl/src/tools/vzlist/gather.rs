//! Where vzlist's data comes from: the VE configs, the mounts, DUMPDIR, the module and the
//! project quotas.

use super::{CpuStat, DiskQuota, Entry, ReadQuota, Show, Status};
use crate::config::{expand_veid, ConfigFile};
use crate::device::ControlDevice;
use crate::error::VzError;
use crate::params;
use crate::paths::{Global, Paths};
use crate::procfs;
use crate::quota::{self, DiskLimits, DiskUsage};
use crate::ve::{resolve_ctid, Ve};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use vz_abi::UB_COUNT;

/// The VEs [`gather`] found, and what it could not read (printed as warnings).
#[derive(Debug, Default)]
pub struct Gathered {
    pub entries: Vec<Entry>,
    pub warnings: Vec<String>,
}

/// The config values of VE `veid` for vzlist.
pub(super) fn from_config(
    paths: &Paths,
    global: &Global,
    veid: u32,
    conf: Option<&ConfigFile>,
) -> Entry {
    let get = |key: &str| {
        conf.and_then(|c| c.get(key))
            .filter(|v| !v.is_empty())
            .map(str::to_owned)
    };
    let list = |key: &str| -> Vec<String> {
        get(key)
            .map(|v| v.split_whitespace().map(str::to_owned).collect())
            .unwrap_or_default()
    };
    let area =
        |key: &str, pattern: &str| Some(expand_veid(get(key).as_deref().unwrap_or(pattern), veid));
    let mut conf_ubc = [None; UB_COUNT];
    for param in params::UBC_PARAMS {
        let value = get(param.key).and_then(|text| params::parse_ubc(param, &text).ok());
        if let Some(slot) = conf_ubc.get_mut(param.resource as usize) {
            *slot = value;
        }
    }
    Entry {
        veid,
        status: Status::Stopped,
        private: area("VE_PRIVATE", &global.ve_private_pattern),
        root: area("VE_ROOT", &global.ve_root_pattern),
        mount_opts: get("MOUNT_OPTS"),
        origin_sample: get("ORIGIN_SAMPLE"),
        hostname: get("HOSTNAME"),
        name: get("NAME").filter(|name| resolve_ctid(paths, name).ok() == Some(veid)),
        description: get("DESCRIPTION"),
        ostemplate: get("OSTEMPLATE"),
        ip: list("IP_ADDRESS"),
        nameserver: list("NAMESERVER"),
        searchdomain: list("SEARCHDOMAIN"),
        onboot: get("ONBOOT").as_deref() == Some("yes"),
        bootorder: get("BOOTORDER").and_then(|v| v.parse().ok()),
        cpuunits: get("CPUUNITS")
            .and_then(|v| params::parse_cpuunits(&v).ok())
            .map(u64::from),
        cpulimit: get("CPULIMIT")
            .and_then(|v| params::parse_cpulimit(&v).ok())
            .map(u64::from),
        cpus: get("CPUS")
            .and_then(|v| params::parse_cpus(&v).ok())
            .filter(|&n| n > 0)
            .map(u64::from),
        disabled: get("DISABLED").as_deref() == Some("yes"),
        counters: None,
        conf_ubc,
        cpustat: None,
        disk: None,
    }
}

/// The project quota of VE `veid` on the real host: usage and limits of project `veid` on the
/// filesystem that holds `private`, if `private` carries that project id. Any failure (no
/// project ids there, quotas off, not root) means none: vzlist then shows the config's limits
/// and no usage, as OpenVZ's showed `-` for a VE without a running quota.
pub(super) fn project_quota(
    mountinfo: &str,
    veid: u32,
    private: &Path,
) -> Option<(DiskUsage, DiskLimits)> {
    let private = std::fs::canonicalize(private).ok()?;
    if quota::tree_project(&private).ok()? != veid {
        return None;
    }
    let mount = procfs::mount_of(&private, mountinfo)?;
    quota::usage(&mount.source, veid).ok()
}

/// Collects the VEs to list, as OpenVZ's vzlist does: with [`Show::Running`] and no CTIDs
/// the VEs the module runs; otherwise also every `/etc/vz/conf/<N>.conf` and every VE the
/// module knows. `only` (CTIDs from the command line) restricts both. A VE is running when
/// the module reports tasks in it; without the module (`device` None) none is. A VE that is
/// not running and has no private area is left out; one whose root is mounted is mounted,
/// one with a dump in DUMPDIR suspended. A running VE's uptime and load come from the module
/// too. With `read_quota`, each VE's disk quota is read: its project quota's usage and
/// limits, or else the limits of its config.
///
/// `None` when no VE was found at all ("Container(s) not found").
pub fn gather(
    paths: &Paths,
    global: &Global,
    device: Option<&dyn ControlDevice>,
    read_quota: Option<&ReadQuota<'_>>,
    show: Show,
    only: &[u32],
) -> Result<Option<Gathered>, VzError> {
    let wanted = |id: u32| id != 0 && (only.is_empty() || only.contains(&id));
    let mut infos = BTreeMap::new();
    if let Some(device) = device {
        // CTIDs given: asked for one by one, not picked from the list of every VE.
        let listed = if only.is_empty() {
            device.ve_list()?
        } else {
            only.to_vec()
        };
        for id in listed.into_iter().filter(|&id| wanted(id)) {
            // A VE destroyed since the list was taken is left out.
            if let Some(info) = device.ve_info(id)? {
                infos.insert(id, info);
            }
        }
    }
    let everything = show != Show::Running || !only.is_empty();
    let mut ids: BTreeSet<u32> = infos
        .iter()
        .filter(|&(_, info)| everything || info.nproc > 0)
        .map(|(&id, _)| id)
        .collect();
    if !only.is_empty() {
        ids.extend(
            only.iter()
                .copied()
                .filter(|&id| wanted(id) && paths.ve_conf(id).exists()),
        );
    } else if everything {
        ids.extend(crate::config::ve_ids(&paths.conf_dir())?);
    }
    if ids.is_empty() {
        return Ok(None);
    }
    // Read only when a VE is not running or a quota is asked for: the table has a line per
    // mount, one per running VE, which `vzlist CTID` of a running VE need not read.
    let mountinfo = std::cell::OnceCell::new();
    let mountinfo = || {
        mountinfo.get_or_init(|| {
            std::fs::read_to_string(paths.proc().join("self/mountinfo")).unwrap_or_default()
        })
    };
    let mut gathered = Gathered::default();
    for id in ids {
        let (conf, private, root, conf_disk) = match Ve::load(paths, global, id) {
            Ok(ve) => {
                let conf_disk = match read_quota.map(|_| ve.disk_limits()).transpose() {
                    Ok(limits) => limits.flatten(),
                    Err(err) => {
                        gathered.warnings.push(format!("CT {id}: {err}"));
                        None
                    }
                };
                (ve.conf, ve.private, ve.root, conf_disk)
            }
            Err(err) => {
                gathered.warnings.push(format!("CT {id}: {err}"));
                (None, global.ve_private(id), global.ve_root(id), None)
            }
        };
        let mut entry = from_config(paths, global, id, conf.as_ref());
        let info = infos.get(&id);
        entry.status = if info.is_some_and(|info| info.nproc > 0) {
            Status::Running
        } else if !private.is_dir() {
            continue;
        } else if procfs::is_mounted(mountinfo(), &root) {
            Status::Mounted
        } else if global.dump(id).exists() {
            Status::Suspended
        } else {
            Status::Stopped
        };
        if entry.status == Status::Running {
            // A VE that stopped since it was listed has no counters: its values print as `-`.
            entry.counters = device.and_then(|d| d.ub_get(id).ok());
            entry.cpustat = info.map(|info| CpuStat {
                uptime_ns: info.uptime_ns,
                load: info.load,
            });
        }
        if let Some(read_quota) = read_quota {
            entry.disk = match read_quota(mountinfo(), id, &private) {
                Some((usage, limits)) => Some(DiskQuota {
                    usage: Some(usage),
                    limits,
                }),
                None => conf_disk.map(|limits| DiskQuota {
                    usage: None,
                    limits,
                }),
            };
        }
        gathered.entries.push(entry);
    }
    Ok(Some(gathered))
}

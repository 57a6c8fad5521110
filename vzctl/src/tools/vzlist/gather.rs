//! Where vzlist's data comes from: the VE configs, the mounts, DUMPDIR and the module.

use super::{Entry, Show, Status};
use crate::config::{expand_veid, ConfigFile};
use crate::device::ControlDevice;
use crate::error::VzError;
use crate::params;
use crate::paths::{Global, Paths};
use crate::procfs;
use crate::ve::{resolve_ctid, Ve};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use vz_abi::UB_COUNT;

/// The VEs [`gather`] found, and what it could not read (printed as warnings).
#[derive(Debug, Default)]
pub struct Gathered {
    pub entries: Vec<Entry>,
    pub warnings: Vec<String>,
}

/// The CTIDs of the configs in `dir`: files named `<N>.conf`.
pub(super) fn config_ids(dir: &Path) -> Result<Vec<u32>, VzError> {
    let listing = match std::fs::read_dir(dir) {
        Ok(listing) => listing,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => {
            return Err(VzError::System {
                what: format!("read {}", dir.display()),
                source,
            })
        }
    };
    let mut ids = Vec::new();
    for item in listing {
        let item = item.map_err(|source| VzError::System {
            what: format!("read {}", dir.display()),
            source,
        })?;
        let name = item.file_name();
        let id = name
            .to_str()
            .and_then(|n| n.strip_suffix(".conf"))
            .filter(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|n| n.parse::<u32>().ok());
        if let Some(id) = id.filter(|&id| id != 0) {
            ids.push(id);
        }
    }
    Ok(ids)
}

/// DUMPDIR of vz.conf (default `/vz/dump`), where a suspended VE's `Dump.CTID` is.
pub(super) fn dump_dir(paths: &Paths) -> PathBuf {
    let conf = ConfigFile::load(&paths.vz_conf()).ok();
    let dir = conf
        .as_ref()
        .and_then(|c| c.get("DUMPDIR"))
        .filter(|v| !v.is_empty())
        .unwrap_or("/vz/dump");
    paths.resolve(dir)
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
    }
}

/// Collects the VEs to list, as OpenVZ's vzlist does: with [`Show::Running`] and no CTIDs
/// the VEs the module runs; otherwise also every `/etc/vz/conf/<N>.conf` and every VE the
/// module knows. `only` (CTIDs from the command line) restricts both. A VE is running when
/// the module reports tasks in it; without the module (`device` None) none is. A VE that is
/// not running and has no private area is left out; one whose root is mounted is mounted,
/// one with a dump in DUMPDIR suspended.
///
/// `None` when no VE was found at all ("Container(s) not found").
pub fn gather(
    paths: &Paths,
    global: &Global,
    device: Option<&dyn ControlDevice>,
    show: Show,
    only: &[u32],
) -> Result<Option<Gathered>, VzError> {
    let wanted = |id: u32| id != 0 && (only.is_empty() || only.contains(&id));
    let mut nprocs = BTreeMap::new();
    if let Some(device) = device {
        for id in device.ve_list()?.into_iter().filter(|&id| wanted(id)) {
            // A VE destroyed since the list was taken is left out.
            if let Some(info) = device.ve_info(id)? {
                nprocs.insert(id, info.nproc);
            }
        }
    }
    let everything = show != Show::Running || !only.is_empty();
    let mut ids: BTreeSet<u32> = nprocs
        .iter()
        .filter(|&(_, &nproc)| everything || nproc > 0)
        .map(|(&id, _)| id)
        .collect();
    if everything {
        ids.extend(
            config_ids(&paths.conf_dir())?
                .into_iter()
                .filter(|&id| wanted(id)),
        );
    }
    if ids.is_empty() {
        return Ok(None);
    }
    let mountinfo =
        std::fs::read_to_string(paths.proc().join("self/mountinfo")).unwrap_or_default();
    let dumps = dump_dir(paths);
    let mut gathered = Gathered::default();
    for id in ids {
        let (conf, private, root) = match Ve::load(paths, global, id) {
            Ok(ve) => (ve.conf, ve.private, ve.root),
            Err(err) => {
                gathered.warnings.push(format!("CT {id}: {err}"));
                (None, global.ve_private(id), global.ve_root(id))
            }
        };
        let mut entry = from_config(paths, global, id, conf.as_ref());
        entry.status = if nprocs.get(&id).is_some_and(|&n| n > 0) {
            Status::Running
        } else if !private.is_dir() {
            continue;
        } else if procfs::is_mounted(&mountinfo, &root) {
            Status::Mounted
        } else if dumps.join(format!("Dump.{id}")).exists() {
            Status::Suspended
        } else {
            Status::Stopped
        };
        if entry.status == Status::Running {
            // A VE that stopped since it was listed has no counters: its values print as `-`.
            entry.counters = device.and_then(|d| d.ub_get(id).ok());
        }
        gathered.entries.push(entry);
    }
    Ok(Some(gathered))
}

//! A VE's cgroup: made under the vz parent group, delegated to the VE's root, and removed
//! with the sub-cgroups its tasks made.

use crate::config::ConfigFile;
use crate::error::VzError;
use crate::idmap::IdMap;
use crate::params;
use crate::procfs;
use crate::runtime::{SetupError, Step};
use nix::mount::{mount, MsFlags};
use std::fs;
use std::path::{Path, PathBuf};

/// The cgroup's cpu.max period, in microseconds.
const CPU_PERIOD_US: u64 = 100_000;

/// Moves the calling process into the cgroup at `dir`.
pub fn join_cgroup(dir: &Path) -> Result<(), SetupError> {
    let procs = dir.join("cgroup.procs");
    fs::write(&procs, std::process::id().to_string())
        .map_err(Step::JoinCgroup.failed_at(procs.display()))
}

/// Files of a cgroup that its delegate may write (cgroup v2's delegation: the directory to
/// make sub-cgroups, and the files that move tasks and enable controllers below it). The
/// cgroup's own limits stay the host's: root-owned, and refused to a cgroup namespace's
/// tasks at its root by nsdelegate anyway.
const DELEGATED: [&str; 3] = ["cgroup.procs", "cgroup.threads", "cgroup.subtree_control"];

/// How many cgroups a VE may make below its own, and how deep: enough for systemd, bounded so
/// that a VE cannot fill the host's memory with cgroups.
const VE_MAX_DESCENDANTS: &str = "1024";

const VE_MAX_DEPTH: &str = "16";

/// The VE's cgroup under the vz parent group (created with the memory, cpu and pids
/// controllers enabled for its children), delegated to the VE's root (`ids`). The host's
/// cgroup2 gets nsdelegate first: a cgroup namespace then is a delegation boundary.
pub fn make_cgroup(cgroup_root: &Path, veid: u32, ids: IdMap) -> Result<PathBuf, VzError> {
    ensure_nsdelegate(cgroup_root)?;
    let parent = cgroup_root.join("vz");
    let fail = |what: &Path| {
        let what = what.display().to_string();
        move |e| VzError::System { what, source: e }
    };
    if !parent.is_dir() {
        fs::create_dir(&parent).map_err(fail(&parent))?;
    }
    let control = cgroup_root.join("cgroup.subtree_control");
    fs::write(&control, "+memory +cpu +pids").map_err(fail(&control))?;
    let control = parent.join("cgroup.subtree_control");
    fs::write(&control, "+memory +cpu +pids").map_err(fail(&control))?;
    let dir = parent.join(veid.to_string());
    if !dir.is_dir() {
        fs::create_dir(&dir).map_err(fail(&dir))?;
    }
    for (file, value) in [
        ("cgroup.max.descendants", VE_MAX_DESCENDANTS),
        ("cgroup.max.depth", VE_MAX_DEPTH),
    ] {
        let path = dir.join(file);
        fs::write(&path, value).map_err(fail(&path))?;
    }
    let owner = (Some(ids.uid), Some(ids.gid));
    std::os::unix::fs::chown(&dir, owner.0, owner.1).map_err(fail(&dir))?;
    for file in DELEGATED {
        let path = dir.join(file);
        std::os::unix::fs::chown(&path, owner.0, owner.1).map_err(fail(&path))?;
    }
    Ok(dir)
}

/// Remounts the host's cgroup2 at `cgroup_root` with nsdelegate (keeping its other options)
/// unless it has it.
fn ensure_nsdelegate(cgroup_root: &Path) -> Result<(), VzError> {
    let info = fs::read_to_string("/proc/self/mountinfo").map_err(|source| VzError::System {
        what: "read /proc/self/mountinfo".into(),
        source,
    })?;
    let Some(cgroup2) = procfs::mounts(&info)
        .find(|entry| entry.mount_point == cgroup_root && entry.fstype == "cgroup2")
    else {
        return Ok(());
    };
    let mut kept: Vec<&str> = cgroup2
        .super_options
        .split(',')
        .filter(|o| !matches!(*o, "rw" | "ro" | ""))
        .collect();
    if kept.contains(&"nsdelegate") {
        return Ok(());
    }
    kept.push("nsdelegate");
    mount(
        None::<&str>,
        cgroup_root,
        None::<&str>,
        MsFlags::MS_REMOUNT,
        Some(kept.join(",").as_str()),
    )
    .map_err(|e| VzError::System {
        what: format!("remount {} with nsdelegate", cgroup_root.display()),
        source: e.into(),
    })
}

/// Removes the VE's cgroup, and the sub-cgroups its tasks made, once it has no task.
pub fn remove_cgroup(cgroup_root: &Path, veid: u32) -> Result<(), VzError> {
    let dir = cgroup_root.join("vz").join(veid.to_string());
    remove_cgroup_tree(&dir, 0)
}

fn remove_cgroup_tree(dir: &Path, depth: usize) -> Result<(), VzError> {
    let fail = |e: std::io::Error| VzError::System {
        what: format!("remove {}", dir.display()),
        source: e,
    };
    let entries = match fs::read_dir(dir) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        other => other.map_err(fail)?,
    };
    // cgroup.max.depth bounds a VE's tree; a deeper one is not the VE's.
    if depth <= VE_MAX_DEPTH.parse::<usize>().unwrap_or(16) {
        for entry in entries.flatten() {
            if entry.file_type().is_ok_and(|t| t.is_dir()) {
                remove_cgroup_tree(&entry.path(), depth + 1)?;
            }
        }
    }
    match fs::remove_dir(dir) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(fail(e)),
        _ => Ok(()),
    }
}

/// CPUUNITS (OpenVZ's default 1000) and CPULIMIT (% of one CPU, 0 none) of a config.
pub fn cpu_share(conf: &ConfigFile) -> Result<(u32, u32), String> {
    let get = |key: &str| conf.get(key).filter(|v| !v.is_empty());
    let units = get("CPUUNITS")
        .map(params::parse_cpuunits)
        .transpose()?
        .unwrap_or(1000);
    let limit = get("CPULIMIT")
        .map(params::parse_cpulimit)
        .transpose()?
        .unwrap_or(0);
    Ok((units, limit))
}

/// The VE cgroup's CPU files for its config: cpu.weight from CPUUNITS (OpenVZ's default 1000
/// is cgroup's default weight 100), cpu.max from CPULIMIT (% of one CPU) and CPUS (whole
/// CPUs), the lower of the two; 0 or unset is no cap.
pub fn cpu_settings(conf: &ConfigFile) -> Result<Vec<(String, String)>, String> {
    let get = |key: &str| conf.get(key).filter(|v| !v.is_empty());
    let (units, limit) = cpu_share(conf)?;
    let weight = (units / 10).clamp(1, 10_000);
    let cpus = get("CPUS")
        .map(params::parse_cpus)
        .transpose()?
        .unwrap_or(0);
    let percent = [u64::from(limit), u64::from(cpus) * 100]
        .into_iter()
        .filter(|&p| p > 0)
        .min();
    let max = match percent {
        Some(p) => format!("{} {CPU_PERIOD_US}", p * CPU_PERIOD_US / 100),
        None => format!("max {CPU_PERIOD_US}"),
    };
    Ok(vec![
        ("cpu.weight".into(), weight.to_string()),
        ("cpu.max".into(), max),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conf(text: &str) -> ConfigFile {
        ConfigFile::parse(text, Path::new("test.conf")).unwrap()
    }

    #[test]
    fn cpu_settings_map_units_and_caps() {
        assert_eq!(
            cpu_settings(&conf("")).unwrap(),
            [
                ("cpu.weight".into(), "100".into()),
                ("cpu.max".into(), "max 100000".into())
            ]
        );
        let s = cpu_settings(&conf("CPUUNITS=\"2000\"\nCPULIMIT=\"150\"\nCPUS=\"1\"\n")).unwrap();
        assert_eq!(s[0].1, "200");
        assert_eq!(s[1].1, "100000 100000", "one CPU is lower than 150%");
        let s = cpu_settings(&conf("CPULIMIT=\"25\"\n")).unwrap();
        assert_eq!(s[1].1, "25000 100000");
    }
}

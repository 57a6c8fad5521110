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

/// The controllers the host's root and the vz parent group enable for their children: a VE's
/// cgroup gets memory, cpu, pids and cpuset files (the host's to write), and its delegate may
/// enable them below it.
const CONTROLLERS: &str = "+memory +cpu +pids +cpuset";

/// The VE's cgroup under the vz parent group (created with [`CONTROLLERS`] enabled for its
/// children), delegated to the VE's root (`ids`). The host's cgroup2 gets
/// [`HOST_CGROUP_OPTIONS`] first.
pub fn make_cgroup(cgroup_root: &Path, veid: u32, ids: IdMap) -> Result<PathBuf, VzError> {
    ensure_host_options(cgroup_root)?;
    let parent = cgroup_root.join("vz");
    let fail = |what: &Path| {
        let what = what.display().to_string();
        move |e| VzError::System { what, source: e }
    };
    if !parent.is_dir() {
        fs::create_dir(&parent).map_err(fail(&parent))?;
    }
    for control in [cgroup_root, &parent].map(|dir| dir.join("cgroup.subtree_control")) {
        fs::write(&control, CONTROLLERS).map_err(fail(&control))?;
    }
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

/// What the host's cgroup2 must have for VEs:
/// - nsdelegate: a cgroup namespace is a delegation boundary;
/// - favordynmods: moving a task between cgroups (each start, exec and enter) does not wait
///   for an RCU grace period (8 ms of a 16 ms start in the test guest); forks and exits take
///   the slower side of the cgroup rwsem instead, a memory barrier each.
const HOST_CGROUP_OPTIONS: [&str; 2] = ["nsdelegate", "favordynmods"];

/// Remounts the host's cgroup2 at `cgroup_root` with [`HOST_CGROUP_OPTIONS`] (keeping its
/// other options) unless it has them. The mount table is read only up to the cgroup2 mount,
/// which comes before the VEs' roots: a start costs the same with a thousand VEs mounted.
fn ensure_host_options(cgroup_root: &Path) -> Result<(), VzError> {
    let Some(cgroup2) =
        procfs::first_mount(|entry| entry.mount_point == cgroup_root && entry.fstype == "cgroup2")
            .map_err(|source| VzError::System {
                what: "read /proc/self/mountinfo".into(),
                source,
            })?
    else {
        return Ok(());
    };
    let mut kept: Vec<&str> = cgroup2
        .super_options
        .split(',')
        .filter(|o| !matches!(*o, "rw" | "ro" | ""))
        .collect();
    let missing: Vec<&str> = HOST_CGROUP_OPTIONS
        .into_iter()
        .filter(|option| !kept.contains(option))
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    kept.extend(&missing);
    mount(
        None::<&str>,
        cgroup_root,
        None::<&str>,
        MsFlags::MS_REMOUNT,
        Some(kept.join(",").as_str()),
    )
    .map_err(|e| VzError::System {
        what: format!(
            "remount {} with {}",
            cgroup_root.display(),
            missing.join(",")
        ),
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

/// The processes in cgroup `dir` and every cgroup below it (as deep as a VE's tree goes).
pub fn tasks(dir: &Path) -> Vec<i32> {
    let mut pids = Vec::new();
    let mut dirs = vec![(dir.to_owned(), 0)];
    let max_depth = VE_MAX_DEPTH.parse::<usize>().unwrap_or(16);
    while let Some((dir, depth)) = dirs.pop() {
        let procs = fs::read_to_string(dir.join("cgroup.procs")).unwrap_or_default();
        pids.extend(procs.lines().filter_map(|line| line.parse::<i32>().ok()));
        if depth < max_depth {
            for entry in fs::read_dir(&dir).into_iter().flatten().flatten() {
                if entry.file_type().is_ok_and(|t| t.is_dir()) {
                    dirs.push((entry.path(), depth + 1));
                }
            }
        }
    }
    pids
}

/// The non-empty `cgroup.subtree_control` of `dir` and of every cgroup below it (as deep as a
/// VE's tree goes), by path below `dir`, parents before their children.
pub fn subtree_controls(dir: &Path) -> Vec<(PathBuf, String)> {
    let mut found = Vec::new();
    let mut queue = std::collections::VecDeque::from([(PathBuf::new(), 0)]);
    let max_depth = VE_MAX_DEPTH.parse::<usize>().unwrap_or(16);
    while let Some((rel, depth)) = queue.pop_front() {
        let here = dir.join(&rel);
        let controllers =
            fs::read_to_string(here.join("cgroup.subtree_control")).unwrap_or_default();
        if !controllers.trim().is_empty() {
            found.push((rel.clone(), controllers.trim().to_owned()));
        }
        if depth < max_depth {
            for entry in fs::read_dir(&here).into_iter().flatten().flatten() {
                if entry.file_type().is_ok_and(|t| t.is_dir()) {
                    queue.push_back((rel.join(entry.file_name()), depth + 1));
                }
            }
        }
    }
    found
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
/// CPUs), the lower of the two (0 or unset is no cap), and cpuset.cpus: CPUS of the host's
/// CPUs `host_cpus` ([`ve_cpus`]), the CPUs the VE's tasks may run on and see (nproc counts
/// its affinity).
pub fn cpu_settings(
    conf: &ConfigFile,
    veid: u32,
    host_cpus: &[u32],
) -> Result<Vec<(String, String)>, String> {
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
        ("cpuset.cpus".into(), ve_cpus(veid, cpus, host_cpus)),
    ])
}

/// The cpuset.cpus of VE `veid` with `count` CPUs (0: unlimited) out of the host's `host_cpus`:
/// `count` CPUs in a row from the (`veid` mod the host's count)th, wrapping around. VEs of a
/// CPU or two then spread over the host instead of all sharing its first CPUs, and a VE gets
/// the same CPUs at every start and set with no placement state to keep; the scheduler still
/// balances the VEs that share a CPU by their weights. Every host CPU when `count` is 0 or
/// not below the host's count (not the empty list, "the parent's": the kernel refuses to
/// empty the cpuset.cpus of a cgroup that has tasks).
pub fn ve_cpus(veid: u32, count: u32, host_cpus: &[u32]) -> String {
    let count = usize::try_from(count).unwrap_or(usize::MAX);
    let mut chosen: Vec<u32> = if count == 0 || count >= host_cpus.len() {
        host_cpus.to_vec()
    } else {
        let start = usize::try_from(veid).unwrap_or(0) % host_cpus.len();
        host_cpus
            .iter()
            .cycle()
            .skip(start)
            .take(count)
            .copied()
            .collect()
    };
    chosen.sort_unstable();
    chosen
        .iter()
        .map(u32::to_string)
        .collect::<Vec<_>>()
        .join(",")
}

/// The CPUs the host gives its cgroups: the cgroup root's cpuset.cpus.effective, a CPU list
/// such as `0-3,6`.
pub fn host_cpus(cgroup_root: &Path) -> Result<Vec<u32>, VzError> {
    let path = cgroup_root.join("cpuset.cpus.effective");
    let text = fs::read_to_string(&path).map_err(|source| VzError::System {
        what: format!("read {} (a kernel without cpusets?)", path.display()),
        source,
    })?;
    parse_cpu_list(&text).map_err(|why| VzError::System {
        what: format!("{}: {why}", path.display()),
        source: std::io::ErrorKind::InvalidData.into(),
    })
}

/// A kernel CPU list (`0-3,6`, empty for none) as the CPU numbers, in order.
fn parse_cpu_list(text: &str) -> Result<Vec<u32>, String> {
    let mut cpus = Vec::new();
    for part in text.trim().split(',').filter(|p| !p.is_empty()) {
        let number = |n: &str| {
            n.parse::<u32>()
                .map_err(|_| format!("bad CPU list {text:?}"))
        };
        let (first, last) = match part.split_once('-') {
            Some((first, last)) => (number(first)?, number(last)?),
            None => (number(part)?, number(part)?),
        };
        cpus.extend(first..=last);
    }
    Ok(cpus)
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
            cpu_settings(&conf(""), 101, &[0, 1]).unwrap(),
            [
                ("cpu.weight".into(), "100".into()),
                ("cpu.max".into(), "max 100000".into()),
                ("cpuset.cpus".into(), "0,1".into())
            ]
        );
        let text = "CPUUNITS=\"2000\"\nCPULIMIT=\"150\"\nCPUS=\"1\"\n";
        let s = cpu_settings(&conf(text), 101, &[0, 1]).unwrap();
        assert_eq!(s[0].1, "200");
        assert_eq!(s[1].1, "100000 100000", "one CPU is lower than 150%");
        assert_eq!(s[2].1, "1");
        let s = cpu_settings(&conf("CPULIMIT=\"25\"\n"), 101, &[0, 1]).unwrap();
        assert_eq!(s[1].1, "25000 100000");
    }

    #[test]
    fn ves_spread_over_the_hosts_cpus() {
        let host = [0, 1, 2, 3];
        assert_eq!(ve_cpus(101, 1, &host), "1");
        assert_eq!(ve_cpus(102, 1, &host), "2");
        assert_eq!(ve_cpus(103, 2, &host), "0,3", "wraps around");
        assert_eq!(ve_cpus(100, 3, &host), "0,1,2");
        assert_eq!(ve_cpus(101, 1, &[2, 5, 7]), "7", "the host's own numbers");
        for unrestricted in [0, 4, 64] {
            assert_eq!(ve_cpus(101, unrestricted, &host), "0,1,2,3");
        }
        assert_eq!(ve_cpus(101, 1, &[]), "");
    }

    #[test]
    fn cpu_lists_parse_as_the_kernel_writes_them() {
        assert_eq!(parse_cpu_list("0-3,6\n"), Ok(vec![0, 1, 2, 3, 6]));
        assert_eq!(parse_cpu_list("1\n"), Ok(vec![1]));
        assert_eq!(parse_cpu_list("\n"), Ok(vec![]));
        assert!(parse_cpu_list("0-x").is_err());
    }
}

//! A VE's cgroup: made under the vz parent group, delegated to the VE's root, and removed
//! with the sub-cgroups its tasks made.

use crate::error::VzError;
use crate::idmap::IdMap;
use crate::procfs;
use crate::runtime::{SetupError, Step};
use nix::mount::{mount, MsFlags};
use std::fs;
use std::path::{Path, PathBuf};

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

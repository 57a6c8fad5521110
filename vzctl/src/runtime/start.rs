//! Starting a VE's init: vzctl's side of the start, the helper and the init's own setup.

use super::caps::{become_ve_root, drop_capabilities};
use super::channel::{message_pair, recv_fds, send_fds};
use super::dev::make_dev;
use super::fork::{close_in_child, fork_reporting, host_error};
use super::inside::{close_inherited_fds, enter_ve};
use super::{SetupError, Step, CLONE_NEWTIME};
use crate::device::Vzctl;
use crate::device_rules::Rule;
use crate::error::VzError;
use crate::idmap::IdMap;
use crate::mounts;
use nix::errno::Errno;
use nix::mount::{mount, umount2, MntFlags, MsFlags};
use nix::sched::{unshare, CloneFlags};
use nix::sys::wait::WaitStatus;
use nix::time::{clock_gettime, ClockId};
use nix::unistd::{chdir, execve, pivot_root, sethostname, setsid, Pid};
use std::fs::{self, File, OpenOptions};
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::Path;

/// What a VE's init needs to start.
pub struct InitSpec<'a> {
    pub veid: u32,
    /// DEVNODES: nodes made in the VE's /dev besides the standard ones.
    pub nodes: &'a [(String, Rule)],
    /// VE_ROOT, where the private area is already mounted (on the host, without idmap).
    pub root: &'a Path,
    /// The VE's cgroup directory (created and delegated by the caller).
    pub cgroup: &'a Path,
    pub hostname: Option<&'a str>,
    /// The host ids of the VE's user namespace.
    pub ids: IdMap,
    /// The host's /proc.
    pub proc_dir: &'a Path,
}

/// Starts the VE's init; returns once it has exec'd /sbin/init (or with the reason it could
/// not).
pub fn start_init(device: &Vzctl, spec: &InitSpec) -> Result<(), VzError> {
    let (ours, theirs) = message_pair()?;
    let helper = fork_reporting(|| {
        close_in_child(&[ours.as_raw_fd()]);
        helper(device, spec, &theirs).map(|()| 0)
    })
    .map_err(host_error)?;
    drop(theirs);
    let handed = hand_over(spec, helper.pid, &ours);
    if handed.is_err() {
        helper.kill();
    }
    drop(ours);
    let (status, report) =
        crate::trace::timed("wait for the helper", || helper.wait()).map_err(host_error)?;
    let failed = |reason| VzError::StartFailed {
        veid: spec.veid,
        reason,
    };
    handed.map_err(|err| failed(err.to_string()))?;
    if let Some(err) = report {
        return Err(failed(err.to_string()));
    }
    if !matches!(status, WaitStatus::Exited(_, 0)) {
        return Err(failed(format!("the start helper ended with {status:?}")));
    }
    Ok(())
}

/// vzctl's side of the start: once the helper has its user namespace, maps the VE's ids into
/// it and sends it the VE's root and /dev mounts, made here in the host's user namespace.
fn hand_over(spec: &InitSpec, helper: Pid, sock: &OwnedFd) -> Result<(), SetupError> {
    // End of file: the helper failed before; its report says why.
    if crate::trace::timed("wait for the helper's user namespace", || recv_fds(sock))?.is_none() {
        return Ok(());
    }
    let _phase = crate::trace::phase("map ids, make its root and /dev mounts");
    let proc_entry = spec.proc_dir.join(helper.to_string());
    for (file, map) in [
        ("uid_map", spec.ids.uid_map()),
        ("gid_map", spec.ids.gid_map()),
    ] {
        let path = proc_entry.join(file);
        fs::write(&path, &map).map_err(Step::WriteIdMap.failed_at(path.display()))?;
    }
    let userns_path = proc_entry.join("ns/user");
    let userns =
        File::open(&userns_path).map_err(Step::OpenUserns.failed_at(userns_path.display()))?;
    let root =
        mounts::clone_mount(spec.root).map_err(Step::CloneRoot.failed_at(spec.root.display()))?;
    mounts::idmap(&root, &userns).map_err(Step::IdmapRoot.failed_at(spec.root.display()))?;
    let dev = make_dev(spec.ids, spec.nodes)?;
    send_fds(sock, b'm', &[root.as_raw_fd(), dev.as_raw_fd()])
}

/// The helper: joins the VE, makes its namespaces, forks init and passes on the init's report.
fn helper(device: &Vzctl, spec: &InitSpec, sock: &OwnedFd) -> Result<(), SetupError> {
    enter_ve(device, spec.veid, spec.cgroup)?;
    crate::trace::timed("unshare its user namespace", || {
        unshare(CloneFlags::CLONE_NEWUSER)
    })
    .map_err(Step::UnshareUser.failed())?;
    send_fds(sock, b'u', &[])?;
    let mounts = match recv_fds(sock)? {
        Some((b'm', fds)) if fds.len() == 2 => fds,
        _ => return Err(SetupError::new(Step::MountsMissing, "", Errno::EPROTO)),
    };
    unshare_time_from_zero(spec.proc_dir)?;
    // Still the host's uid 0 (unmapped here), which owns the directories above VE_ROOT
    // (mode 0700): the init reaches its root before it becomes the VE's root.
    unshare(
        CloneFlags::CLONE_NEWNS
            | CloneFlags::CLONE_NEWUTS
            | CloneFlags::CLONE_NEWIPC
            | CloneFlags::CLONE_NEWNET
            | CloneFlags::CLONE_NEWCGROUP
            | CloneFlags::CLONE_NEWPID,
    )
    .map_err(Step::UnshareNamespaces.failed())?;
    let init = fork_reporting(|| match become_init(spec, &mounts[0], &mounts[1]) {
        Ok(never) => match never {},
        Err(err) => Err(err),
    })
    .map_err(|err| match err.step {
        Step::Fork => SetupError {
            step: Step::ForkInit,
            ..err
        },
        _ => err,
    })?;
    // The init is the VE's pid 1 and is not waited for: its report ends with its exec.
    match init.report() {
        Some(err) => Err(err),
        None => Ok(()),
    }
}

/// Unshares the time namespace the VE's init is born in, with CLOCK_BOOTTIME moved back to 0
/// now: /proc/uptime, sysinfo(2)'s uptime, /proc/stat's btime and the start time of every
/// task in /proc/PID/stat (ps's STIME and ELAPSED) then count from the VE's start, as on
/// OpenVZ. The namespace belongs to the VE's user namespace, like all its others (CRIU
/// checkpoints only a VE whose namespaces all do); its offsets are written here, before any
/// task is in it, and the kernel freezes them once init, its first task, is forked into it.
/// VE root could not write them anyway: vzctl drops CAP_SYS_TIME.
///
/// CLOCK_MONOTONIC keeps the host's offset (0): no tool shows it as an uptime, timers and
/// timeouts run on it alike inside and out, and a checkpoint restored elsewhere (CRIU) sets
/// both offsets itself.
fn unshare_time_from_zero(proc_dir: &Path) -> Result<(), SetupError> {
    unshare(CLONE_NEWTIME).map_err(Step::UnshareTime.failed())?;
    // Only the helper's children are in the new namespace: its own clock is still the host's.
    let offsets = proc_dir.join("self/timens_offsets");
    let now = clock_gettime(ClockId::CLOCK_BOOTTIME)
        .map_err(Step::SetBootTime.failed_at(offsets.display()))?;
    fs::write(&offsets, boottime_offset(now.tv_sec(), now.tv_nsec()))
        .map_err(Step::SetBootTime.failed_at(offsets.display()))
}

/// The timens_offsets line that moves CLOCK_BOOTTIME back by `secs` s and `nanos` ns; the
/// kernel takes whole seconds and nanoseconds in [0, 10^9).
fn boottime_offset(secs: i64, nanos: i64) -> String {
    match nanos {
        0 => format!("boottime {} 0", -secs),
        _ => format!("boottime {} {}", -secs - 1, 1_000_000_000 - nanos),
    }
}

/// Pid 1 of the VE: builds its filesystem view and execs /sbin/init.
fn become_init(
    spec: &InitSpec,
    root_mount: &OwnedFd,
    dev_mount: &OwnedFd,
) -> Result<std::convert::Infallible, SetupError> {
    enter_root(spec.root, root_mount)?;
    become_ve_root()?;
    mount_proc_sys()?;
    mount_dev(dev_mount)?;
    // Pivot onto the VE's root with the old root stacked on it, then detach the old root.
    pivot_root(".", ".").map_err(Step::PivotRoot.failed())?;
    umount2(".", MntFlags::MNT_DETACH).map_err(Step::DetachHostRoot.failed())?;
    chdir("/").map_err(Step::ChdirNewRoot.failed())?;
    if let Some(name) = spec.hostname {
        sethostname(name).map_err(Step::Sethostname.failed())?;
    }
    setsid().map_err(Step::Setsid.failed())?;
    drop_capabilities()?;
    attach_stdio_to_null()?;
    close_inherited_fds()?;
    let init = c"/sbin/init";
    let env = [super::VE_PATH, c"HOME=/", c"TERM=linux", c"container=vz"];
    execve(init, &[init], &env).map_err(Step::ExecInit.failed())
}

/// Attaches the VE's root mount at `root`, in a mount namespace whose mounts no longer
/// propagate to the host, and makes it the working directory.
fn enter_root(root: &Path, root_mount: &OwnedFd) -> Result<(), SetupError> {
    // Nothing mounted from here on propagates back to the host.
    mount(
        None::<&str>,
        "/",
        None::<&str>,
        MsFlags::MS_REC | MsFlags::MS_PRIVATE,
        None::<&str>,
    )
    .map_err(Step::MakeMountsPrivate.failed())?;
    mounts::attach(root_mount, root).map_err(Step::AttachRoot.failed_at(root.display()))?;
    // From here on every path is relative to the VE's root: the VE's root may not pass the
    // host's directories above it.
    chdir(root).map_err(Step::ChdirRoot.failed_at(root.display()))
}

/// Attaches the VE's /dev (made by vzctl) and mounts its devpts and /dev/shm.
fn mount_dev(dev_mount: &OwnedFd) -> Result<(), SetupError> {
    let dev = Path::new("dev");
    fs::create_dir_all(dev).map_err(Step::MakeDevDir.failed())?;
    mounts::attach(dev_mount, dev).map_err(Step::AttachDev.failed())?;
    mount_new(
        &dev.join("pts"),
        "devpts",
        MsFlags::MS_NOSUID | MsFlags::MS_NOEXEC,
        "newinstance,ptmxmode=0666,mode=0620,gid=5",
    )?;
    mount_new(
        &dev.join("shm"),
        "tmpfs",
        MsFlags::MS_NOSUID | MsFlags::MS_NODEV,
        "mode=1777",
    )
}

/// Mounts a new `fstype` instance at `target`, made first if missing.
fn mount_new(target: &Path, fstype: &str, flags: MsFlags, data: &str) -> Result<(), SetupError> {
    fs::create_dir_all(target).map_err(Step::MakeMountPoint.failed_at(target.display()))?;
    let data = (!data.is_empty()).then_some(data);
    mount(Some(fstype), target, Some(fstype), flags, data)
        .map_err(Step::Mount.failed_at(format_args!("{fstype} on {}", target.display())))
}

/// /proc and a read-only /sys of the VE's own namespaces, and its cgroup subtree (the root of
/// its cgroup namespace) at /sys/fs/cgroup, writable where the host delegated it.
fn mount_proc_sys() -> Result<(), SetupError> {
    let nosuid = MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC;
    mount_new(Path::new("proc"), "proc", nosuid, "")?;
    mount_new(Path::new("sys"), "sysfs", nosuid | MsFlags::MS_RDONLY, "")?;
    let cgroup = Path::new("sys/fs/cgroup");
    mount(
        Some("cgroup2"),
        cgroup,
        Some("cgroup2"),
        nosuid,
        None::<&str>,
    )
    .map_err(Step::Mount.failed_at(format_args!("cgroup2 on {}", cgroup.display())))
}

/// Points stdin, stdout and stderr at the VE's /dev/null: init holds nothing of the host's.
fn attach_stdio_to_null() -> Result<(), SetupError> {
    let null = OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/null")
        .map_err(Step::OpenNull.failed())?;
    for fd in 0..3 {
        // SAFETY: dup2 onto a standard descriptor number; `null` stays open across it.
        if unsafe { libc::dup2(null.as_raw_fd(), fd) } < 0 {
            return Err(SetupError::last(Step::Dup2, ""));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::boottime_offset;

    #[test]
    fn the_boottime_offset_takes_the_clock_back_to_zero() {
        assert_eq!(boottime_offset(12, 0), "boottime -12 0");
        assert_eq!(boottime_offset(12, 250_000_000), "boottime -13 750000000");
        assert_eq!(boottime_offset(0, 1), "boottime -1 999999999");
    }
}

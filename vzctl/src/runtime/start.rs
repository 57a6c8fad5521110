//! Starting a VE's init: vzctl's side of the start, the helper and the init's own setup.

use super::caps::{become_ve_root, drop_capabilities, set_nondumpable};
use super::channel::{message_pair, recv_fds, send_fds};
use super::dev::make_dev;
use super::fork::wait_for;
use super::inside::close_inherited_fds;
use super::{io_err, sys};
use crate::cgroup::join_cgroup;
use crate::device::{ControlDevice, Vzctl};
use crate::devices::Rule;
use crate::error::VzError;
use crate::idmap::IdMap;
use crate::mounts;
use nix::errno::Errno;
use nix::mount::{mount, umount2, MntFlags, MsFlags};
use nix::sched::{unshare, CloneFlags};
use nix::sys::wait::WaitStatus;
use nix::unistd::{chdir, execve, fork, pivot_root, sethostname, setsid, ForkResult, Pid};
use std::ffi::CString;
use std::fs::{self, File, OpenOptions};
use std::io::{Read, Write};
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
    let (report_r, report_w) =
        nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(|e| VzError::system("pipe", e))?;
    let (ours, theirs) = message_pair()?;
    // SAFETY: vzctl is single-threaded; the child only makes system calls and execs or exits.
    match unsafe { fork() }.map_err(|e| VzError::system("fork", e))? {
        ForkResult::Child => {
            drop((report_r, ours));
            let result = helper(device, spec, &theirs, &report_w);
            if let Err(msg) = result {
                let _ = File::from(report_w).write_all(msg.as_bytes());
                // SAFETY: Ends the forked helper without running the parent's exit handlers.
                unsafe { libc::_exit(1) };
            }
            // SAFETY: As above; the helper's work is done once init is forked.
            unsafe { libc::_exit(0) };
        }
        ForkResult::Parent { child } => {
            drop((report_w, theirs));
            let handed = hand_over(spec, child, &ours);
            if handed.is_err() {
                let _ = nix::sys::signal::kill(child, nix::sys::signal::Signal::SIGKILL);
            }
            drop(ours);
            let status = wait_for(child)?;
            let mut report = String::new();
            let _ = File::from(report_r).read_to_string(&mut report);
            let failed = |reason| VzError::StartFailed {
                veid: spec.veid,
                reason,
            };
            handed.map_err(failed)?;
            if !report.is_empty() {
                return Err(failed(report));
            }
            if !matches!(status, WaitStatus::Exited(_, 0)) {
                return Err(failed(format!("the start helper ended with {status:?}")));
            }
            Ok(())
        }
    }
}

/// vzctl's side of the start: once the helper has its user namespace, maps the VE's ids into
/// it and sends it the VE's root and /dev mounts, made here in the host's user namespace.
fn hand_over(spec: &InitSpec, helper: Pid, sock: &OwnedFd) -> Result<(), String> {
    // End of file: the helper failed before; its report says why.
    if recv_fds(sock)?.is_none() {
        return Ok(());
    }
    let proc_entry = spec.proc_dir.join(helper.to_string());
    for (file, map) in [
        ("uid_map", spec.ids.uid_map()),
        ("gid_map", spec.ids.gid_map()),
    ] {
        let path = proc_entry.join(file);
        fs::write(&path, &map).map_err(io_err(format!("write {}", path.display())))?;
    }
    let userns_path = proc_entry.join("ns/user");
    let userns = File::open(&userns_path).map_err(io_err(userns_path.display().to_string()))?;
    let root = mounts::clone_mount(spec.root).map_err(io_err(format!(
        "clone the mount at {}",
        spec.root.display()
    )))?;
    mounts::idmap(&root, &userns).map_err(io_err(format!(
        "idmap the mount of {}",
        spec.root.display()
    )))?;
    let dev = make_dev(spec.ids, spec.nodes)?;
    send_fds(sock, b'm', &[root.as_raw_fd(), dev.as_raw_fd()])
}

/// The helper: joins the VE, makes its namespaces, forks init.
fn helper(device: &Vzctl, spec: &InitSpec, sock: &OwnedFd, report: &OwnedFd) -> Result<(), String> {
    join_cgroup(spec.cgroup)?;
    device.ve_enter(spec.veid).map_err(|e| e.to_string())?;
    set_nondumpable()?;
    unshare(CloneFlags::CLONE_NEWUSER).map_err(sys("unshare the user namespace"))?;
    send_fds(sock, b'u', &[])?;
    let mounts = match recv_fds(sock)? {
        Some((b'm', fds)) if fds.len() == 2 => fds,
        _ => return Err("vzctl did not send the VE's mounts".into()),
    };
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
    .map_err(sys("unshare"))?;
    // SAFETY: Single-threaded; the child builds the VE's root and execs its init.
    match unsafe { fork() }.map_err(sys("fork init"))? {
        ForkResult::Child => {
            let err = match become_init(spec, &mounts[0], &mounts[1]) {
                Ok(never) => match never {},
                Err(msg) => msg,
            };
            let _ = File::from(report.try_clone().map_err(|e| e.to_string())?)
                .write_all(err.as_bytes());
            // SAFETY: Ends the would-be init without running exit handlers.
            unsafe { libc::_exit(1) }
        }
        ForkResult::Parent { .. } => Ok(()),
    }
}

/// Pid 1 of the VE: builds its filesystem view and execs /sbin/init.
fn become_init(
    spec: &InitSpec,
    root_mount: &OwnedFd,
    dev_mount: &OwnedFd,
) -> Result<std::convert::Infallible, String> {
    // Nothing mounted from here on propagates back to the host.
    mount(
        None::<&str>,
        "/",
        None::<&str>,
        MsFlags::MS_REC | MsFlags::MS_PRIVATE,
        None::<&str>,
    )
    .map_err(sys("make mounts private"))?;
    let root = spec.root;
    mounts::attach(root_mount, root).map_err(io_err(format!(
        "attach the VE's root at {}",
        root.display()
    )))?;
    // From here on every path is relative to the VE's root: the VE's root may not pass the
    // host's directories above it.
    chdir(root).map_err(sys(format!("chdir {}", root.display())))?;
    become_ve_root()?;
    mount_proc_sys()?;
    let dev = Path::new("dev");
    fs::create_dir_all(dev).map_err(io_err("/dev"))?;
    mounts::attach(dev_mount, dev).map_err(io_err("attach /dev"))?;
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
    )?;
    // Pivot onto the VE's root with the old root stacked on it, then detach the old root.
    pivot_root(".", ".").map_err(sys("pivot_root"))?;
    umount2(".", MntFlags::MNT_DETACH).map_err(sys("detach the host's root"))?;
    chdir("/").map_err(sys("chdir /"))?;
    if let Some(name) = spec.hostname {
        sethostname(name).map_err(sys("sethostname"))?;
    }
    setsid().map_err(sys("setsid"))?;
    drop_capabilities()?;
    attach_stdio_to_null()?;
    close_inherited_fds()?;
    let init = CString::new("/sbin/init").map_err(|e| e.to_string())?;
    let env = [
        c"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        c"HOME=/",
        c"TERM=linux",
        c"container=vz",
    ];
    execve(&init, &[&init], &env).map_err(sys("exec /sbin/init in the VE"))
}

/// Mounts a new `fstype` instance at `target`, made first if missing.
fn mount_new(target: &Path, fstype: &str, flags: MsFlags, data: &str) -> Result<(), String> {
    fs::create_dir_all(target).map_err(|e| format!("{}: {e}", target.display()))?;
    let data = (!data.is_empty()).then_some(data);
    mount(Some(fstype), target, Some(fstype), flags, data)
        .map_err(sys(format!("mount {fstype} on {}", target.display())))
}

/// /proc and a read-only /sys of the VE's own namespaces, and its cgroup subtree (the root of
/// its cgroup namespace) at /sys/fs/cgroup, writable where the host delegated it.
fn mount_proc_sys() -> Result<(), String> {
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
    .map_err(sys(format!("mount cgroup2 on {}", cgroup.display())))
}

/// Points stdin, stdout and stderr at the VE's /dev/null: init holds nothing of the host's.
fn attach_stdio_to_null() -> Result<(), String> {
    let null = OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/null")
        .map_err(|e| format!("/dev/null in the VE: {e}"))?;
    for fd in 0..3 {
        // SAFETY: dup2 onto a standard descriptor number; `null` stays open across it.
        if unsafe { libc::dup2(null.as_raw_fd(), fd) } < 0 {
            return Err(format!("dup2: {}", Errno::last().desc()));
        }
    }
    Ok(())
}

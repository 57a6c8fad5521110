//! The processes of a VE: starting its init in new namespaces on the VE's root, and running
//! commands inside a running VE. Everything here is privileged and runs for real only in the
//! VM suite; commands reach it through [`crate::host::Host`].
//!
//! Start: vzctl forks a helper, which joins the VE's cgroup, enters the VE in the module,
//! becomes non-dumpable and unshares a user namespace. vzctl maps the VE's 65536 host ids
//! into it ([`IdMap`]) and builds, in the host's user namespace, two detached mounts that it
//! passes to the helper over a socket: the VE's private area as an idmapped mount (files keep
//! their in-VE owners on disk) and a /dev tmpfs holding only the permitted nodes (made by the
//! host: a filesystem mounted inside a user namespace cannot hold usable device nodes). The
//! helper becomes the VE's root, unshares the mount, UTS, IPC, network, cgroup and pid
//! namespaces (all owned by the VE's user namespace) and forks the VE's init, which attaches
//! both mounts, mounts /proc, a read-only /sys, its cgroup subtree, devpts and /dev/shm,
//! pivots into its root and execs /sbin/init. Setup failures travel back to vzctl over a
//! close-on-exec pipe: EOF means the exec happened.
//!
//! Entry (exec, exec2, runscript, enter, and stop's halt) goes through one routine,
//! [`join_ve`]: non-dumpable first, then the cgroup of the VE's init, the VE id, the user
//! namespace (and uid/gid 0 in it), then the VE's other namespaces with the mount namespace
//! last. The command gets only pipes (exec) or a pty of the VE's devpts (enter) as its stdio;
//! vzctl relays them on the host side, so no host descriptor or terminal is ever inside.

use crate::device::{ControlDevice, Vzctl};
use crate::devices::Rule;
use crate::error::VzError;
use crate::idmap::IdMap;
use crate::mounts;
use crate::procfs;
use nix::errno::Errno;
use nix::mount::{mount, umount2, MntFlags, MsFlags};
use nix::sched::{setns, unshare, CloneFlags};
use nix::sys::socket::{self, ControlMessage, ControlMessageOwned, MsgFlags};
use nix::sys::wait::{waitpid, WaitStatus};
use nix::unistd::{chdir, execve, fork, pivot_root, sethostname, setsid, ForkResult, Pid};
use std::ffi::CString;
use std::fs::{self, File, OpenOptions};
use std::io::{IoSlice, IoSliceMut, Read, Write};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::path::{Path, PathBuf};

/// Capabilities no VE task keeps, even in its own user namespace (where the kernel's checks
/// against the host already refuse them): module loading, raw I/O, process accounting,
/// overriding resource limits (disk quota above all), setting clocks, kernel audit and MAC
/// policy, the kernel log, wake alarms and suspend blocking, BPF and perf.
const DROPPED_CAPS: [u32; 14] = [
    16, // CAP_SYS_MODULE
    17, // CAP_SYS_RAWIO
    20, // CAP_SYS_PACCT
    24, // CAP_SYS_RESOURCE: it would exempt the VE from its disk quota
    25, // CAP_SYS_TIME
    30, // CAP_AUDIT_CONTROL
    32, // CAP_MAC_OVERRIDE
    33, // CAP_MAC_ADMIN
    34, // CAP_SYSLOG
    35, // CAP_WAKE_ALARM
    36, // CAP_BLOCK_SUSPEND
    37, // CAP_AUDIT_READ
    38, // CAP_PERFMON
    39, // CAP_BPF
];

/// Device nodes every VE's /dev gets (the module's default rules allow them): name, major,
/// minor.
const DEV_NODES: [(&str, u32, u32); 6] = [
    ("null", 1, 3),
    ("zero", 1, 5),
    ("full", 1, 7),
    ("random", 1, 8),
    ("urandom", 1, 9),
    ("tty", 5, 0),
];

/// The VE's /dev tmpfs: small (nodes, links and the odd socket), and owned by the VE's root.
const DEV_SIZE: &str = "1m";
const DEV_INODES: &str = "4096";

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

fn sys(what: impl Into<String>) -> impl FnOnce(Errno) -> String {
    let what = what.into();
    move |e| format!("{what}: {}", e.desc())
}

fn io_err(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> String {
    let what = what.into();
    move |e| format!("{what}: {e}")
}

/// Sends `byte` and, if any, the descriptors `fds` over the socket `sock`.
fn send_fds(sock: &OwnedFd, byte: u8, fds: &[RawFd]) -> Result<(), String> {
    let data = [byte];
    let iov = [IoSlice::new(&data)];
    let cmsg = [ControlMessage::ScmRights(fds)];
    let cmsgs: &[ControlMessage] = if fds.is_empty() { &[] } else { &cmsg };
    socket::sendmsg::<()>(sock.as_raw_fd(), &iov, cmsgs, MsgFlags::empty(), None)
        .map(drop)
        .map_err(sys("send to the VE's helper"))
}

/// Receives one message from `sock`: its byte (None at end of file) and its descriptors.
fn recv_fds(sock: &OwnedFd) -> Result<Option<(u8, Vec<OwnedFd>)>, String> {
    let mut data = [0u8; 1];
    let mut iov = [IoSliceMut::new(&mut data)];
    let mut space = nix::cmsg_space!([RawFd; 4]);
    let msg = loop {
        match socket::recvmsg::<()>(
            sock.as_raw_fd(),
            &mut iov,
            Some(&mut space),
            MsgFlags::MSG_CMSG_CLOEXEC,
        ) {
            Err(Errno::EINTR) => continue,
            other => break other.map_err(sys("receive from vzctl"))?,
        }
    };
    let mut fds = Vec::new();
    for cmsg in msg.cmsgs().map_err(sys("receive descriptors"))? {
        if let ControlMessageOwned::ScmRights(received) = cmsg {
            for fd in received {
                // SAFETY: SCM_RIGHTS just installed `fd` in this process; nothing else owns it.
                fds.push(unsafe { OwnedFd::from_raw_fd(fd) });
            }
        }
    }
    if msg.bytes == 0 {
        return Ok(None);
    }
    Ok(Some((data[0], fds)))
}

/// A connected pair of message sockets (close-on-exec): one end for each process.
fn message_pair() -> Result<(OwnedFd, OwnedFd), VzError> {
    socket::socketpair(
        socket::AddressFamily::Unix,
        socket::SockType::SeqPacket,
        None,
        socket::SockFlag::SOCK_CLOEXEC,
    )
    .map_err(|e| VzError::system("socketpair", e))
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

/// Makes the calling process non-dumpable: nothing in a VE may open its /proc files, its
/// memory or its executable (a host binary) while it is on its way in.
fn set_nondumpable() -> Result<(), String> {
    // SAFETY: PR_SET_DUMPABLE takes an integer and touches no memory.
    if unsafe { libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0) } != 0 {
        return Err(format!("PR_SET_DUMPABLE: {}", Errno::last().desc()));
    }
    Ok(())
}

/// Becomes uid and gid 0 (the VE's root) of the user namespace just joined, with no
/// supplementary groups.
fn become_ve_root() -> Result<(), String> {
    nix::unistd::setgroups(&[]).map_err(sys("setgroups in the VE"))?;
    let root_gid = nix::unistd::Gid::from_raw(0);
    nix::unistd::setresgid(root_gid, root_gid, root_gid).map_err(sys("setresgid 0 in the VE"))?;
    let root_uid = nix::unistd::Uid::from_raw(0);
    nix::unistd::setresuid(root_uid, root_uid, root_uid).map_err(sys("setresuid 0 in the VE"))
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

/// Moves the calling process into the cgroup at `dir`.
pub fn join_cgroup(dir: &Path) -> Result<(), String> {
    let procs = dir.join("cgroup.procs");
    fs::write(&procs, std::process::id().to_string())
        .map_err(|e| format!("{}: {e}", procs.display()))
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

/// The VE's /dev, made in the host's user namespace so that its nodes work: a tmpfs owned by
/// the VE's root holding the standard nodes, the DEVNODES `nodes`, the pts and shm mount
/// points and the usual links.
fn make_dev(ids: IdMap, nodes: &[(String, Rule)]) -> Result<OwnedFd, String> {
    let owner = (ids.uid, ids.gid);
    let dev = mounts::new_filesystem(
        "tmpfs",
        &[
            ("mode", "755".into()),
            ("size", DEV_SIZE.into()),
            ("nr_inodes", DEV_INODES.into()),
            ("uid", ids.uid.to_string()),
            ("gid", ids.gid.to_string()),
        ],
        mounts::MOUNT_ATTR_NOSUID | mounts::MOUNT_ATTR_NOEXEC,
    )
    .map_err(io_err("make the VE's /dev"))?;
    // SAFETY: `dev` is the root of the new mount and stays open while borrowed.
    let dir = unsafe { BorrowedFd::borrow_raw(dev.as_raw_fd()) };
    for (name, major, minor) in DEV_NODES {
        make_node_at(dir, name, libc::S_IFCHR, major, minor, 0o666, owner)?;
    }
    for sub in ["pts", "shm"] {
        mounts::make_dirs_in_root(dir, Path::new(sub), owner)
            .map_err(io_err(format!("/dev/{sub}")))?;
    }
    for (name, rule) in nodes {
        make_node(dir, name, rule, owner)?;
    }
    for (link, target) in [
        ("ptmx", "pts/ptmx"),
        ("fd", "/proc/self/fd"),
        ("stdin", "/proc/self/fd/0"),
        ("stdout", "/proc/self/fd/1"),
        ("stderr", "/proc/self/fd/2"),
    ] {
        let (t, l) = (
            CString::new(target).map_err(|e| e.to_string())?,
            CString::new(link).map_err(|e| e.to_string())?,
        );
        // SAFETY: Both strings are NUL-terminated; `dir` is an open directory.
        if unsafe { libc::symlinkat(t.as_ptr(), dir.as_raw_fd(), l.as_ptr()) } != 0 {
            return Err(format!("/dev/{link}: {}", Errno::last().desc()));
        }
        mounts::chown_at(dir.as_raw_fd(), Path::new(link), owner)
            .map_err(io_err(format!("/dev/{link}")))?;
    }
    Ok(dev)
}

/// Makes node `name` (a path under `dev`, missing directories too) in the /dev directory
/// `dev`, replacing what was there, for `rule`; owned by `owner`. Nothing `name` resolves
/// through may be a link: the VE's root owns /dev.
pub fn make_node(
    dev: BorrowedFd<'_>,
    name: &str,
    rule: &Rule,
    owner: (u32, u32),
) -> Result<(), String> {
    let kind = if rule.kind == vz_abi::DEV_BLOCK {
        libc::S_IFBLK
    } else {
        libc::S_IFCHR
    };
    make_node_at(dev, name, kind, rule.major, rule.minor, 0o600, owner)
}

fn make_node_at(
    dev: BorrowedFd<'_>,
    name: &str,
    kind: libc::mode_t,
    major: u32,
    minor: u32,
    mode: u32,
    owner: (u32, u32),
) -> Result<(), String> {
    let path = Path::new(name);
    let fail = |e: std::io::Error| format!("mknod /dev/{name}: {e}");
    let parent = path.parent().unwrap_or(Path::new(""));
    let file = path
        .file_name()
        .ok_or_else(|| format!("/dev/{name}: not a node name"))?;
    let dir = mounts::make_dirs_in_root(dev, parent, owner).map_err(fail)?;
    let cfile =
        CString::new(std::os::unix::ffi::OsStrExt::as_bytes(file)).map_err(|e| e.to_string())?;
    // SAFETY: `dir` is an open directory and `cfile` a NUL-terminated name.
    unsafe { libc::unlinkat(dir.as_raw_fd(), cfile.as_ptr(), 0) };
    // SAFETY: As above; mknodat creates the node in `dir`.
    let made = unsafe {
        libc::mknodat(
            dir.as_raw_fd(),
            cfile.as_ptr(),
            kind | mode,
            libc::makedev(major, minor),
        )
    };
    if made != 0 {
        return Err(fail(std::io::Error::last_os_error()));
    }
    // mknod is subject to the umask.
    // SAFETY: As above.
    if unsafe { libc::fchmodat(dir.as_raw_fd(), cfile.as_ptr(), mode, 0) } != 0 {
        return Err(fail(std::io::Error::last_os_error()));
    }
    mounts::chown_at(dir.as_raw_fd(), Path::new(file), owner).map_err(fail)
}

/// The kernel's capability header and data (capget(2)/capset(2), version 3: two 32-bit words).
#[repr(C)]
struct CapHeader {
    version: u32,
    pid: i32,
}

#[repr(C)]
#[derive(Clone, Copy, Default)]
struct CapData {
    effective: u32,
    permitted: u32,
    inheritable: u32,
}

const LINUX_CAPABILITY_VERSION_3: u32 = 0x2008_0522;

/// Removes [`DROPPED_CAPS`] from the bounding, ambient, effective, permitted and inheritable
/// sets, so that nothing exec'd in the VE can get them back.
pub fn drop_capabilities() -> Result<(), String> {
    for cap in DROPPED_CAPS {
        // SAFETY: PR_CAPBSET_DROP takes a capability number and touches no memory.
        if unsafe { libc::prctl(libc::PR_CAPBSET_DROP, cap as libc::c_ulong, 0, 0, 0) } != 0 {
            return Err(format!("drop capability {cap}: {}", Errno::last().desc()));
        }
    }
    // SAFETY: PR_CAP_AMBIENT_CLEAR_ALL touches no memory.
    unsafe {
        libc::prctl(
            libc::PR_CAP_AMBIENT,
            libc::PR_CAP_AMBIENT_CLEAR_ALL,
            0,
            0,
            0,
        );
    }
    let mut header = CapHeader {
        version: LINUX_CAPABILITY_VERSION_3,
        pid: 0,
    };
    let mut data = [CapData::default(); 2];
    // SAFETY: The header and a two-element data array, as version 3 requires, live across
    // the call.
    if unsafe { libc::syscall(libc::SYS_capget, &mut header, data.as_mut_ptr()) } != 0 {
        return Err(format!("capget: {}", Errno::last().desc()));
    }
    for cap in DROPPED_CAPS {
        let (word, bit) = ((cap / 32) as usize, 1u32 << (cap % 32));
        if let Some(d) = data.get_mut(word) {
            d.effective &= !bit;
            d.permitted &= !bit;
            d.inheritable &= !bit;
        }
    }
    // SAFETY: As for capget.
    if unsafe { libc::syscall(libc::SYS_capset, &mut header, data.as_ptr()) } != 0 {
        return Err(format!("capset: {}", Errno::last().desc()));
    }
    Ok(())
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

/// Marks every descriptor above stderr close-on-exec: nothing the caller had open reaches
/// the VE.
pub fn close_inherited_fds() -> Result<(), String> {
    // SAFETY: close_range with CLOSE_RANGE_CLOEXEC only sets flags on descriptors.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_close_range,
            3u32,
            u32::MAX,
            libc::CLOSE_RANGE_CLOEXEC,
        )
    };
    if ret != 0 {
        return Err(format!("close_range: {}", Errno::last().desc()));
    }
    Ok(())
}

/// Namespaces a command joins to run inside a VE, in the order they are joined: the user
/// namespace first (the others belong to it), the mount namespace last (it changes the root).
const VE_NAMESPACES: [(&str, CloneFlags); 7] = [
    ("user", CloneFlags::CLONE_NEWUSER),
    ("cgroup", CloneFlags::CLONE_NEWCGROUP),
    ("ipc", CloneFlags::CLONE_NEWIPC),
    ("uts", CloneFlags::CLONE_NEWUTS),
    ("net", CloneFlags::CLONE_NEWNET),
    ("pid", CloneFlags::CLONE_NEWPID),
    ("mnt", CloneFlags::CLONE_NEWNS),
];

/// Where a command runs inside a VE.
pub struct Inside<'a> {
    pub veid: u32,
    /// Host pid of the VE's init, whose namespaces the command joins.
    pub init_pid: i32,
    /// The cgroup of the VE's init (the VE's cgroup, or the sub-cgroup its init moved to).
    pub cgroup: &'a Path,
    pub proc_dir: &'a Path,
}

/// The namespaces of a running VE, opened from its init's /proc entry.
pub struct VeNamespaces(Vec<(File, CloneFlags)>);

impl VeNamespaces {
    pub fn open(at: &Inside) -> Result<VeNamespaces, VzError> {
        VE_NAMESPACES
            .iter()
            .map(|(name, flag)| {
                let path = at.proc_dir.join(format!("{}/ns/{name}", at.init_pid));
                File::open(&path)
                    .map(|f| (f, *flag))
                    .map_err(|e| VzError::System {
                        what: format!("VE {}: {}", at.veid, path.display()),
                        source: e,
                    })
            })
            .collect::<Result<_, _>>()
            .map(VeNamespaces)
    }
}

/// Moves the calling process into the VE for good, as every entry path does: non-dumpable
/// (so that nothing inside can open its /proc entry, memory or host executable), into the
/// cgroup of the VE's init and the VE's id, then its user namespace as its root, then the
/// VE's other namespaces, and last the VE's capability limits. The process itself is not in
/// the VE's pid namespace: its children are.
pub fn join_ve(device: &Vzctl, at: &Inside, ns: &VeNamespaces) -> Result<(), String> {
    set_nondumpable()?;
    join_cgroup(at.cgroup)?;
    device.ve_enter(at.veid).map_err(|e| e.to_string())?;
    for (file, flag) in &ns.0 {
        setns(file.as_fd(), *flag).map_err(sys(format!("setns {flag:?}")))?;
        if *flag == CloneFlags::CLONE_NEWUSER {
            become_ve_root()?;
        }
    }
    drop_capabilities()
}

/// The environment of a command run inside a VE.
fn command_env(term: &str) -> Result<Vec<CString>, String> {
    [
        "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".to_string(),
        "HOME=/root".to_string(),
        format!("TERM={term}"),
    ]
    .into_iter()
    .map(|v| CString::new(v).map_err(|_| "TERM has a NUL byte".to_string()))
    .collect()
}

fn command_args(argv: &[String]) -> Result<Vec<CString>, VzError> {
    argv.iter()
        .map(|a| CString::new(a.as_bytes()))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|_| VzError::InvalidValue("a command argument contains a NUL byte".into()))
}

/// Execs `argv` (looked up in the VE's PATH).
fn exec_command(argv: &[CString], term: &str) -> Result<std::convert::Infallible, String> {
    close_inherited_fds()?;
    let program = argv.first().ok_or("no command")?;
    nix::unistd::execvpe(program, argv, &command_env(term)?)
        .map_err(|e| format!("{}: {}", program.to_string_lossy(), e.desc()))
}

/// The exit status a shell would report for `status`.
fn exit_code(status: WaitStatus) -> i32 {
    match status {
        WaitStatus::Exited(_, code) => code,
        WaitStatus::Signaled(_, sig, _) => 128 + sig as i32,
        _ => 1,
    }
}

/// Forks a child of the calling process (which has joined the VE) that runs `child`: it is
/// in the VE's pid namespace. Waits for it and ends the caller with its exit status; a setup
/// error of the child goes to `report`.
fn fork_into_ve(
    report: &OwnedFd,
    child: impl FnOnce() -> Result<std::convert::Infallible, String>,
) -> Result<std::convert::Infallible, String> {
    // SAFETY: Single-threaded; the child execs the command or exits.
    match unsafe { fork() }.map_err(sys("fork"))? {
        ForkResult::Child => {
            let err = match child() {
                Ok(never) => match never {},
                Err(e) => e,
            };
            let _ = nix::unistd::write(report, err.as_bytes());
            // SAFETY: Ends the would-be command without running exit handlers.
            unsafe { libc::_exit(1) }
        }
        ForkResult::Parent { child } => {
            let code = exit_code(wait_for(child).map_err(|e| e.to_string())?);
            // SAFETY: Passes the command's status on without running exit handlers.
            unsafe { libc::_exit(code) }
        }
    }
}

/// A child of vzctl that has joined the VE (see [`join_ve`]) and runs a command there.
struct Spawned {
    pid: Pid,
    report: File,
}

/// Forks a child that points its stdio at `stdio`, closes `close` (vzctl's ends of what it
/// shares with the command), joins the VE and forks `entered` inside it.
fn spawn_in_ve(
    device: &Vzctl,
    at: &Inside,
    stdio: [RawFd; 3],
    close: &[RawFd],
    entered: impl FnOnce() -> Result<std::convert::Infallible, String>,
) -> Result<Spawned, VzError> {
    let ns = VeNamespaces::open(at)?;
    let (report_r, report_w) =
        nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(|e| VzError::system("pipe", e))?;
    // SAFETY: vzctl is single-threaded; the child joins the VE and execs or exits.
    match unsafe { fork() }.map_err(|e| VzError::system("fork", e))? {
        ForkResult::Child => {
            drop(report_r);
            for &fd in close {
                // SAFETY: `fd` is one of vzctl's descriptors, copied by fork; this child
                // never uses it.
                unsafe { libc::close(fd) };
            }
            let err = match redirect_stdio(stdio)
                .and_then(|()| join_ve(device, at, &ns))
                .and_then(|()| {
                    drop(ns);
                    fork_into_ve(&report_w, entered)
                }) {
                Ok(never) => match never {},
                Err(e) => e,
            };
            let _ = File::from(report_w).write_all(err.as_bytes());
            // SAFETY: Ends the child without running the parent's exit handlers.
            unsafe { libc::_exit(1) }
        }
        ForkResult::Parent { child } => Ok(Spawned {
            pid: child,
            report: File::from(report_r),
        }),
    }
}

impl Spawned {
    /// Waits for the child after vzctl's side (`relayed`) is done: the command's exit
    /// status, or why it could not run.
    fn finish(mut self, veid: u32, relayed: Result<(), VzError>) -> Result<i32, VzError> {
        if relayed.is_err() {
            let _ = nix::sys::signal::kill(self.pid, nix::sys::signal::Signal::SIGKILL);
        }
        let status = wait_for(self.pid)?;
        let mut report = String::new();
        let _ = self.report.read_to_string(&mut report);
        relayed?;
        if !report.is_empty() {
            return Err(VzError::ExecFailed {
                veid,
                reason: report,
            });
        }
        Ok(exit_code(status))
    }
}

/// Points the caller's stdin, stdout and stderr at `fds`.
fn redirect_stdio(fds: [RawFd; 3]) -> Result<(), String> {
    for (target, fd) in fds.into_iter().enumerate() {
        // SAFETY: dup2 onto a standard descriptor number; `fd` is open in the caller.
        if unsafe { libc::dup2(fd, target as RawFd) } < 0 {
            return Err(format!("dup2: {}", Errno::last().desc()));
        }
    }
    Ok(())
}

/// Runs `argv` inside the VE and returns its exit status. Its stdin, stdout and stderr are
/// pipes that vzctl relays to and from its own: the command can neither reopen a host file
/// through /proc/self/fd nor reach a host terminal. It gets the VE's namespaces, cgroup and
/// VE id, the VE's root, the VE's capability limits and no other descriptor.
pub fn run_inside(device: &Vzctl, at: &Inside, argv: &[String]) -> Result<i32, VzError> {
    let args = command_args(argv)?;
    let pipe =
        || nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(|e| VzError::system("pipe", e));
    let (in_r, in_w) = pipe()?;
    let (out_r, out_w) = pipe()?;
    let (err_r, err_w) = pipe()?;
    let spawned = spawn_in_ve(
        device,
        at,
        [in_r.as_raw_fd(), out_w.as_raw_fd(), err_w.as_raw_fd()],
        &[in_w.as_raw_fd(), out_r.as_raw_fd(), err_r.as_raw_fd()],
        || exec_command(&args, "linux"),
    )?;
    drop((in_r, out_w, err_w));
    let relayed = relay_pipes(spawned.pid, in_w, out_r, err_r);
    spawned.finish(at.veid, relayed)
}

/// Runs `argv` inside the VE as [`run_inside`] does, with its stdio on the host's /dev/null:
/// what vzctl runs for itself (stop's `halt`), whose chatter is not the admin's.
pub fn run_inside_quietly(device: &Vzctl, at: &Inside, argv: &[String]) -> Result<i32, VzError> {
    let args = command_args(argv)?;
    let null = OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/null")
        .map_err(|source| VzError::System {
            what: "open /dev/null".into(),
            source,
        })?;
    let fd = null.as_raw_fd();
    let spawned = spawn_in_ve(device, at, [fd, fd, fd], &[], || {
        exec_command(&args, "linux")
    })?;
    drop(null);
    spawned.finish(at.veid, Ok(()))
}

/// A process's pidfd: readable once it has exited.
fn pidfd_of(pid: Pid) -> Result<OwnedFd, VzError> {
    // SAFETY: pidfd_open takes a pid and flags and returns a new descriptor.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid.as_raw(), 0) };
    if fd < 0 {
        return Err(VzError::system("pidfd_open", Errno::last()));
    }
    // SAFETY: The kernel just returned this new descriptor; nothing else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
}

fn set_nonblocking(fd: &OwnedFd) {
    // SAFETY: F_GETFL/F_SETFL on an open descriptor touch no memory.
    unsafe {
        let flags = libc::fcntl(fd.as_raw_fd(), libc::F_GETFL);
        libc::fcntl(fd.as_raw_fd(), libc::F_SETFL, flags | libc::O_NONBLOCK);
    }
}

/// Copies vzctl's stdin into `in_w` and `out_r`/`err_r` to vzctl's stdout/stderr until the
/// command's side has exited and its output pipes are drained. Output that processes left
/// running in the VE write later is not waited for.
fn relay_pipes(child: Pid, in_w: OwnedFd, out_r: OwnedFd, err_r: OwnedFd) -> Result<(), VzError> {
    use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
    let exited = pidfd_of(child)?;
    set_nonblocking(&in_w);
    let mut input = Some(in_w);
    let mut stdin_open = true;
    let mut pending: Vec<u8> = Vec::new();
    let mut outputs: [Option<(OwnedFd, RawFd)>; 2] = [Some((out_r, 1)), Some((err_r, 2))];
    let mut buf = [0u8; 16384];
    let mut child_done = false;
    loop {
        if child_done {
            break;
        }
        let stdin = std::io::stdin();
        let mut fds = vec![PollFd::new(exited.as_fd(), PollFlags::POLLIN)];
        let mut roles = vec![0usize];
        for (i, out) in outputs.iter().enumerate() {
            if let Some((fd, _)) = out {
                fds.push(PollFd::new(fd.as_fd(), PollFlags::POLLIN));
                roles.push(1 + i);
            }
        }
        match (&input, pending.is_empty()) {
            (Some(w), false) => {
                fds.push(PollFd::new(w.as_fd(), PollFlags::POLLOUT));
                roles.push(3);
            }
            (Some(_), true) if stdin_open => {
                fds.push(PollFd::new(stdin.as_fd(), PollFlags::POLLIN));
                roles.push(4);
            }
            _ => {}
        }
        match poll(&mut fds, PollTimeout::NONE) {
            Err(Errno::EINTR) => continue,
            Err(e) => return Err(VzError::system("poll", e)),
            Ok(_) => {}
        }
        let ready: Vec<usize> = fds
            .iter()
            .zip(&roles)
            .filter(|(f, _)| f.revents().is_some_and(|r| !r.is_empty()))
            .map(|(_, &role)| role)
            .collect();
        drop(fds);
        for role in ready {
            match role {
                0 => child_done = true,
                1 | 2 => {
                    let slot = &mut outputs[role - 1];
                    if let Some((fd, target)) = slot {
                        match nix::unistd::read(fd.as_raw_fd(), &mut buf) {
                            Ok(0) | Err(Errno::EIO) => *slot = None,
                            Ok(n) => write_all_to(*target, buf.get(..n).unwrap_or_default()),
                            Err(Errno::EINTR | Errno::EAGAIN) => {}
                            Err(e) => return Err(VzError::system("read the command's output", e)),
                        }
                    }
                }
                3 => {
                    if let Some(w) = &input {
                        match nix::unistd::write(w, &pending) {
                            Ok(n) => {
                                pending.drain(..n);
                            }
                            Err(Errno::EAGAIN | Errno::EINTR) => {}
                            // The command closed its stdin: the rest of ours is not wanted.
                            Err(_) => {
                                input = None;
                                pending.clear();
                            }
                        }
                    }
                    if pending.is_empty() && !stdin_open {
                        input = None;
                    }
                }
                _ => match nix::unistd::read(0, &mut buf) {
                    Ok(0) | Err(Errno::EIO | Errno::EBADF) => {
                        stdin_open = false;
                        input = None;
                    }
                    Ok(n) => pending.extend_from_slice(buf.get(..n).unwrap_or_default()),
                    Err(Errno::EINTR | Errno::EAGAIN) => {}
                    Err(_) => {
                        stdin_open = false;
                        input = None;
                    }
                },
            }
        }
    }
    // The command's side has exited: what it wrote is in the pipes.
    for (fd, target) in outputs.into_iter().flatten() {
        set_nonblocking(&fd);
        loop {
            match nix::unistd::read(fd.as_raw_fd(), &mut buf) {
                Ok(0) => break,
                Ok(n) => write_all_to(target, buf.get(..n).unwrap_or_default()),
                Err(Errno::EINTR) => {}
                Err(_) => break,
            }
        }
    }
    Ok(())
}

/// Writes `data` to vzctl's own stdout (1) or stderr (2); a closed reader ends nothing here.
fn write_all_to(target: RawFd, data: &[u8]) {
    let _ = if target == 1 {
        let mut out = std::io::stdout();
        out.write_all(data).and_then(|()| out.flush())
    } else {
        std::io::stderr().write_all(data)
    };
}

/// `vzctl enter`: runs `argv` inside the VE on a new pty of the VE's devpts, as the session
/// leader with the pty as its controlling terminal. The child that joins the VE opens the
/// pty there and passes its master to vzctl, which relays between its own stdin and stdout
/// and the master until the command ends: the host's terminal never enters the VE. When
/// stdin is a terminal it is put in raw mode for the session and the pty gets its window size.
pub fn enter_pty(device: &Vzctl, at: &Inside, argv: &[String]) -> Result<i32, VzError> {
    use nix::sys::termios::{self, SetArg};
    let args = command_args(argv)?;
    let stdin = std::io::stdin();
    let saved = termios::tcgetattr(&stdin).ok();
    let mut winsize: libc::winsize = libc::winsize {
        ws_row: 0,
        ws_col: 0,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    if saved.is_some() {
        // SAFETY: TIOCGWINSZ fills a winsize that lives across the call.
        unsafe { libc::ioctl(0, libc::TIOCGWINSZ, &mut winsize) };
    }
    let term = std::env::var("TERM").unwrap_or_else(|_| "linux".into());
    let (ours, theirs) = message_pair()?;
    let null = File::open("/dev/null").map_err(|source| VzError::System {
        what: "open /dev/null".into(),
        source,
    })?;
    let fd = null.as_raw_fd();
    let spawned = spawn_in_ve(device, at, [fd, fd, fd], &[ours.as_raw_fd()], || {
        open_session(&theirs, &winsize, &args, &term)
    })?;
    drop((theirs, null));
    let mut raw_set = false;
    let relayed = (|| {
        let master = match recv_fds(&ours).map_err(VzError::InvalidValue)? {
            Some((b'p', mut fds)) if fds.len() == 1 => fds.remove(0),
            // The child failed before it had a pty; its report says why.
            _ => return Ok(()),
        };
        if let Some(saved) = &saved {
            let mut raw = saved.clone();
            termios::cfmakeraw(&mut raw);
            termios::tcsetattr(&stdin, SetArg::TCSANOW, &raw)
                .map_err(|e| VzError::system("tcsetattr", e))?;
            raw_set = true;
        }
        relay_pty(&master)
    })();
    if let (Some(saved), true) = (&saved, raw_set) {
        let _ = termios::tcsetattr(&stdin, SetArg::TCSANOW, saved);
    }
    spawned.finish(at.veid, relayed)
}

/// In the VE (the joined child's own child): opens a pty of the VE's devpts, sends its
/// master to vzctl over `sock`, and runs the command on the slave as a session leader.
fn open_session(
    sock: &OwnedFd,
    winsize: &libc::winsize,
    argv: &[CString],
    term: &str,
) -> Result<std::convert::Infallible, String> {
    use nix::fcntl::OFlag;
    use nix::pty::{grantpt, posix_openpt, ptsname_r, unlockpt};
    let master = posix_openpt(OFlag::O_RDWR | OFlag::O_NOCTTY | OFlag::O_CLOEXEC)
        .map_err(sys("open /dev/ptmx in the VE"))?;
    grantpt(&master).map_err(sys("grantpt"))?;
    unlockpt(&master).map_err(sys("unlockpt"))?;
    let slave_path = ptsname_r(&master).map_err(sys("ptsname"))?;
    if winsize.ws_row > 0 {
        // SAFETY: TIOCSWINSZ reads a winsize that lives across the call.
        unsafe { libc::ioctl(master.as_raw_fd(), libc::TIOCSWINSZ, winsize) };
    }
    setsid().map_err(sys("setsid"))?;
    let slave = OpenOptions::new()
        .read(true)
        .write(true)
        .open(&slave_path)
        .map_err(|e| format!("{slave_path}: {e}"))?;
    // SAFETY: Makes the just-opened pty our controlling terminal.
    if unsafe { libc::ioctl(slave.as_raw_fd(), libc::TIOCSCTTY, 0) } < 0 {
        return Err(format!("TIOCSCTTY: {}", Errno::last().desc()));
    }
    send_fds(sock, b'p', &[master.as_raw_fd()])?;
    drop(master);
    let fd = slave.as_raw_fd();
    redirect_stdio([fd, fd, fd])?;
    exec_command(argv, term)
}

/// Copies between vzctl's stdin/stdout and the pty `master` until the pty's last user is
/// gone.
fn relay_pty(master: &OwnedFd) -> Result<(), VzError> {
    use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
    let mut stdin_open = true;
    let mut buf = [0u8; 4096];
    loop {
        let stdin_fd = std::io::stdin();
        let mut fds = vec![PollFd::new(master.as_fd(), PollFlags::POLLIN)];
        if stdin_open {
            fds.push(PollFd::new(stdin_fd.as_fd(), PollFlags::POLLIN));
        }
        // Once input has ended, the command gets an end-of-file character every 200 ms (as
        // a user pressing ^D): one sent before the shell reads its terminal can be lost when
        // it switches the terminal to its own line editing.
        let timeout = if stdin_open {
            PollTimeout::NONE
        } else {
            PollTimeout::from(200u16)
        };
        match poll(&mut fds, timeout) {
            Err(Errno::EINTR) => continue,
            Err(e) => return Err(VzError::system("poll", e)),
            Ok(0) => {
                let _ = nix::unistd::write(master, &[4]);
                continue;
            }
            Ok(_) => {}
        }
        let ready = |i: usize| {
            fds.get(i)
                .and_then(|f| f.revents())
                .is_some_and(|r| !r.is_empty())
        };
        let (master_ready, stdin_ready) = (ready(0), ready(1));
        if master_ready {
            match nix::unistd::read(master.as_raw_fd(), &mut buf) {
                Ok(0) | Err(Errno::EIO) => return Ok(()),
                Ok(n) => write_all_to(1, buf.get(..n).unwrap_or_default()),
                Err(Errno::EINTR) => {}
                Err(e) => return Err(VzError::system("read the pty", e)),
            }
        }
        if stdin_ready {
            match nix::unistd::read(0, &mut buf) {
                // End of input: an end-of-file character, as a user typing ^D.
                Ok(0) | Err(Errno::EIO) => {
                    stdin_open = false;
                    let _ = nix::unistd::write(master, &[4]);
                }
                Ok(n) => {
                    let _ = nix::unistd::write(master, buf.get(..n).unwrap_or_default());
                }
                Err(Errno::EINTR) => {}
                Err(e) => return Err(VzError::system("read stdin", e)),
            }
        }
    }
}

fn wait_for(child: Pid) -> Result<WaitStatus, VzError> {
    loop {
        match waitpid(child, None) {
            Err(Errno::EINTR) => continue,
            other => return other.map_err(|e| VzError::system("waitpid", e)),
        }
    }
}

/// Which of the VE's namespaces [`in_namespace`] joins.
pub enum Namespace {
    /// Its network stack: netlink sockets opened then talk to it.
    Net,
    /// Its mounts: paths then resolve inside the VE's root.
    Mount,
}

/// Runs `work` in a child that has joined one namespace of the VE whose init is `init_pid`.
/// The child stays a host task: it is not charged to the VE nor bound by its device rules.
pub fn in_namespace(
    proc_dir: &Path,
    init_pid: i32,
    which: Namespace,
    work: impl FnOnce() -> Result<(), VzError>,
) -> Result<(), VzError> {
    let (name, flag) = match which {
        Namespace::Net => ("net", CloneFlags::CLONE_NEWNET),
        Namespace::Mount => ("mnt", CloneFlags::CLONE_NEWNS),
    };
    let path = proc_dir.join(format!("{init_pid}/ns/{name}"));
    let ns = File::open(&path).map_err(|source| VzError::System {
        what: format!("open {}", path.display()),
        source,
    })?;
    let (report_r, report_w) =
        nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(|e| VzError::system("pipe", e))?;
    // SAFETY: vzctl is single-threaded; the child makes system calls and exits.
    match unsafe { fork() }.map_err(|e| VzError::system("fork", e))? {
        ForkResult::Child => {
            drop(report_r);
            // Not dumpable: nothing in the VE may reach a host task through its /proc entry.
            let result = set_nondumpable()
                .map_err(|e| VzError::System {
                    what: "in the VE's namespace".into(),
                    source: std::io::Error::other(e),
                })
                .and_then(|()| setns(ns.as_fd(), flag).map_err(|e| VzError::system("setns", e)))
                .and_then(|()| work());
            let code = match result {
                Ok(()) => 0,
                Err(err) => {
                    let _ = File::from(report_w).write_all(err.to_string().as_bytes());
                    1
                }
            };
            // SAFETY: Ends the child without running the parent's exit handlers.
            unsafe { libc::_exit(code) }
        }
        ForkResult::Parent { child } => {
            drop(report_w);
            let status = wait_for(child)?;
            let mut report = String::new();
            let _ = File::from(report_r).read_to_string(&mut report);
            match status {
                WaitStatus::Exited(_, 0) => Ok(()),
                _ => Err(VzError::System {
                    what: format!("in the VE's {name} namespace"),
                    source: std::io::Error::other(report),
                }),
            }
        }
    }
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

/// Bind-mounts the private area at the VE's root (OpenVZ's "mounted" state), private so that
/// nothing propagates between host and VE.
pub fn mount_private(private: &Path, root: &Path) -> Result<(), VzError> {
    fs::create_dir_all(root).map_err(|e| VzError::System {
        what: format!("create {}", root.display()),
        source: e,
    })?;
    close_parent(private)?;
    close_parent(root)?;
    mount(
        Some(private),
        root,
        None::<&str>,
        MsFlags::MS_BIND,
        None::<&str>,
    )
    .map_err(|e| {
        VzError::MountFailed(format!(
            "{} on {}: {}",
            private.display(),
            root.display(),
            e.desc()
        ))
    })?;
    mount(
        None::<&str>,
        root,
        None::<&str>,
        MsFlags::MS_PRIVATE,
        None::<&str>,
    )
    .map_err(|e| VzError::MountFailed(format!("{}: {}", root.display(), e.desc())))
}

/// Makes the directory holding `area` (a private area or a VE's mount point, e.g.
/// `/vz/private`) reachable by the host's root only. A VE's root owns files on disk as uid 0
/// and may make them setuid: a host user who could reach them could run them as the host's
/// root.
pub fn close_parent(area: &Path) -> Result<(), VzError> {
    use std::os::unix::fs::PermissionsExt;
    let Some(parent) = area.parent() else {
        return Ok(());
    };
    let fail = |source| VzError::System {
        what: format!("make {} mode 0700", parent.display()),
        source,
    };
    let mode = fs::metadata(parent).map_err(fail)?.permissions().mode();
    if mode & 0o077 != 0 {
        fs::set_permissions(parent, fs::Permissions::from_mode(mode & 0o7700)).map_err(fail)?;
    }
    Ok(())
}

/// Undoes [`mount_private`].
pub fn umount_private(root: &Path) -> Result<(), VzError> {
    umount2(root, MntFlags::MNT_DETACH)
        .map_err(|e| VzError::UmountFailed(format!("{}: {}", root.display(), e.desc())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dropped_capabilities_fit_the_two_words() {
        assert!(DROPPED_CAPS.iter().all(|&c| c < 64));
    }
}

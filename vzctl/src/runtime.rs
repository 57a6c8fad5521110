//! The processes of a VE: starting its init in new namespaces on the VE's root, and running
//! commands inside a running VE. Everything here is privileged and runs for real only in the
//! VM suite; commands reach it through [`crate::host::Host`].
//!
//! Start: vzctl forks a helper, which joins the VE's cgroup, enters the VE in the module and
//! unshares the mount, UTS, IPC, network, cgroup and pid namespaces, then forks the VE's init
//! (pid 1 of the new pid namespace). Init builds the VE's filesystem view (its root with
//! /proc, a read-only /sys, a /dev holding only permitted nodes and a new devpts instance),
//! pivots into it, drops the capabilities a VE must not have and execs the VE's own
//! /sbin/init. Setup failures travel back to vzctl over a close-on-exec pipe: EOF means the
//! exec happened.

use crate::device::Vzctl;
use crate::devices::Rule;
use crate::error::VzError;
use nix::errno::Errno;
use nix::mount::{mount, umount2, MntFlags, MsFlags};
use nix::sched::{setns, unshare, CloneFlags};
use nix::sys::stat::{makedev, mknod, Mode, SFlag};
use nix::sys::wait::{waitpid, WaitStatus};
use nix::unistd::{chdir, execve, fork, pivot_root, sethostname, setsid, ForkResult, Pid};
use std::ffi::CString;
use std::fs::{self, File, OpenOptions};
use std::io::{Read, Write};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};

/// Capabilities no VE task keeps: module loading, raw I/O, process accounting, overriding
/// resource limits (disk quota above all), setting clocks, kernel audit and MAC policy, the kernel log, wake alarms and suspend blocking, BPF
/// and perf. Devices are kept away by the module's device rules, not by capabilities.
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
const DEV_NODES: [(&str, u64, u64); 6] = [
    ("null", 1, 3),
    ("zero", 1, 5),
    ("full", 1, 7),
    ("random", 1, 8),
    ("urandom", 1, 9),
    ("tty", 5, 0),
];

/// What a VE's init needs to start.
pub struct InitSpec<'a> {
    pub veid: u32,
    /// DEVNODES: nodes made in the VE's /dev besides the standard ones.
    pub nodes: &'a [(String, Rule)],
    /// VE_ROOT, where the private area is already mounted.
    pub root: &'a Path,
    /// The VE's cgroup directory (created by the caller).
    pub cgroup: &'a Path,
    pub hostname: Option<&'a str>,
}

fn sys(what: impl Into<String>) -> impl FnOnce(Errno) -> String {
    let what = what.into();
    move |e| format!("{what}: {}", e.desc())
}

/// Starts the VE's init; returns once it has exec'd /sbin/init (or with the reason it could
/// not).
pub fn start_init(device: &Vzctl, spec: &InitSpec) -> Result<(), VzError> {
    let (report_r, report_w) =
        nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(|e| VzError::system("pipe", e))?;
    // SAFETY: vzctl is single-threaded; the child only makes system calls and execs or exits.
    match unsafe { fork() }.map_err(|e| VzError::system("fork", e))? {
        ForkResult::Child => {
            drop(report_r);
            let result = helper(device, spec, &report_w);
            if let Err(msg) = result {
                let _ = File::from(report_w).write_all(msg.as_bytes());
                // SAFETY: Ends the forked helper without running the parent's exit handlers.
                unsafe { libc::_exit(1) };
            }
            // SAFETY: As above; the helper's work is done once init is forked.
            unsafe { libc::_exit(0) };
        }
        ForkResult::Parent { child } => {
            drop(report_w);
            let status = waitpid(child, None).map_err(|e| VzError::system("waitpid", e))?;
            let mut report = String::new();
            let _ = File::from(report_r).read_to_string(&mut report);
            if !report.is_empty() {
                return Err(VzError::StartFailed {
                    veid: spec.veid,
                    reason: report,
                });
            }
            if !matches!(status, WaitStatus::Exited(_, 0)) {
                return Err(VzError::StartFailed {
                    veid: spec.veid,
                    reason: format!("the start helper ended with {status:?}"),
                });
            }
            Ok(())
        }
    }
}

/// The helper: joins the VE, makes its namespaces, forks init.
fn helper(device: &Vzctl, spec: &InitSpec, report: &OwnedFd) -> Result<(), String> {
    join_cgroup(spec.cgroup)?;
    device.ve_enter(spec.veid).map_err(|e| e.to_string())?;
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
            let err = match become_init(spec) {
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
fn become_init(spec: &InitSpec) -> Result<std::convert::Infallible, String> {
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
    mount_proc_sys(root)?;
    make_dev(root, spec.nodes)?;
    chdir(root).map_err(sys(format!("chdir {}", root.display())))?;
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

fn mount_proc_sys(root: &Path) -> Result<(), String> {
    let nosuid = MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC;
    mount_new(&root.join("proc"), "proc", nosuid, "")?;
    mount_new(&root.join("sys"), "sysfs", nosuid | MsFlags::MS_RDONLY, "")
}

/// A fresh /dev: the permitted nodes, a new devpts instance, /dev/shm and the usual links.
fn make_dev(root: &Path, nodes: &[(String, Rule)]) -> Result<(), String> {
    let dev = root.join("dev");
    mount_new(
        &dev,
        "tmpfs",
        MsFlags::MS_NOSUID | MsFlags::MS_NOEXEC,
        "mode=755,size=512k",
    )?;
    for (name, major, minor) in DEV_NODES {
        let path = dev.join(name);
        mknod(
            &path,
            SFlag::S_IFCHR,
            Mode::from_bits_truncate(0o666),
            makedev(major, minor),
        )
        .map_err(sys(format!("mknod /dev/{name}")))?;
        // mknod is subject to the umask; the nodes are world read-write as on any host.
        fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o666))
            .map_err(|e| format!("/dev/{name}: {e}"))?;
    }
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
    for (name, rule) in nodes {
        make_node(&dev, name, rule)?;
    }
    for (link, target) in [
        ("ptmx", "pts/ptmx"),
        ("fd", "/proc/self/fd"),
        ("stdin", "/proc/self/fd/0"),
        ("stdout", "/proc/self/fd/1"),
        ("stderr", "/proc/self/fd/2"),
    ] {
        std::os::unix::fs::symlink(target, dev.join(link))
            .map_err(|e| format!("/dev/{link}: {e}"))?;
    }
    Ok(())
}

/// Makes device node `dev/name` (parent directories too) for `rule`, replacing what was there.
pub fn make_node(dev: &Path, name: &str, rule: &Rule) -> Result<(), String> {
    let path = dev.join(name);
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent).map_err(|e| format!("{}: {e}", parent.display()))?;
    }
    let _ = fs::remove_file(&path);
    let kind = if rule.kind == vz_abi::DEV_BLOCK {
        SFlag::S_IFBLK
    } else {
        SFlag::S_IFCHR
    };
    mknod(
        &path,
        kind,
        Mode::from_bits_truncate(0o600),
        makedev(rule.major.into(), rule.minor.into()),
    )
    .map_err(sys(format!("mknod /dev/{name}")))
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

/// Namespaces a command joins to run inside a VE, in the order they are joined (the mount
/// namespace last: it changes the root).
const VE_NAMESPACES: [(&str, CloneFlags); 6] = [
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
    pub cgroup: &'a Path,
    pub proc_dir: &'a Path,
}

/// Runs `argv` inside the VE with the caller's stdin, stdout and stderr and returns its wait
/// status. The command gets the VE's namespaces, cgroup and VE id, the VE's root, the VE's
/// capability limits and no other descriptor of the caller.
pub fn run_inside(device: &Vzctl, at: &Inside, argv: &[String]) -> Result<WaitStatus, VzError> {
    let ns_files = open_namespaces(at)?;
    let args = argv
        .iter()
        .map(|a| CString::new(a.as_bytes()))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|_| VzError::InvalidValue("a command argument contains a NUL byte".into()))?;
    let (report_r, report_w) =
        nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(|e| VzError::system("pipe", e))?;
    // SAFETY: vzctl is single-threaded; the child joins the VE and execs.
    match unsafe { fork() }.map_err(|e| VzError::system("fork", e))? {
        ForkResult::Child => {
            drop(report_r);
            let msg = match enter_and_exec(device, at, &ns_files, &args) {
                Ok(never) => match never {},
                Err(msg) => msg,
            };
            let _ = File::from(report_w).write_all(msg.as_bytes());
            // SAFETY: Ends the child without running the parent's exit handlers.
            unsafe { libc::_exit(1) }
        }
        ForkResult::Parent { child } => {
            drop(report_w);
            drop(ns_files);
            let status = wait_for(child)?;
            let mut report = String::new();
            let _ = File::from(report_r).read_to_string(&mut report);
            if !report.is_empty() {
                return Err(VzError::ExecFailed {
                    veid: at.veid,
                    reason: report,
                });
            }
            Ok(status)
        }
    }
}

fn open_namespaces(at: &Inside) -> Result<Vec<(File, CloneFlags)>, VzError> {
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
        .collect()
}

/// The exec'd command's own child: joins everything, then forks so that the command is in
/// the VE's pid namespace, waits for it and passes its status on.
fn enter_and_exec(
    device: &Vzctl,
    at: &Inside,
    ns_files: &[(File, CloneFlags)],
    argv: &[CString],
) -> Result<std::convert::Infallible, String> {
    join_cgroup(at.cgroup)?;
    device.ve_enter(at.veid).map_err(|e| e.to_string())?;
    for (file, flag) in ns_files {
        setns(file.as_fd(), *flag).map_err(sys(format!("setns {flag:?}")))?;
    }
    drop_capabilities()?;
    // SAFETY: Single-threaded; the child execs the command.
    match unsafe { fork() }.map_err(sys("fork"))? {
        ForkResult::Child => {
            close_inherited_fds()?;
            let env = [
                c"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                c"HOME=/root",
                c"TERM=linux",
            ];
            let program = argv.first().ok_or("no command")?;
            nix::unistd::execvpe(program, argv, &env)
                .map_err(|e| format!("{}: {}", program.to_string_lossy(), e.desc()))
        }
        ForkResult::Parent { child } => {
            let code = match waitpid(child, None) {
                Ok(WaitStatus::Exited(_, code)) => code,
                Ok(WaitStatus::Signaled(_, sig, _)) => 128 + sig as i32,
                _ => 1,
            };
            // SAFETY: Passes the command's status on without running exit handlers.
            unsafe { libc::_exit(code) }
        }
    }
}

/// `vzctl enter`: runs `argv` inside the VE on a new pty of the VE's devpts, as the session
/// leader with the pty as its controlling terminal, and relays between the caller's stdin and
/// stdout and the pty until the command ends. When stdin is a terminal it is put in raw mode
/// for the session and the pty gets its window size.
pub fn enter_pty(device: &Vzctl, at: &Inside, argv: &[String]) -> Result<i32, VzError> {
    use nix::sys::termios::{self, SetArg};
    let ns_files = open_namespaces(at)?;
    let args = argv
        .iter()
        .map(|a| CString::new(a.as_bytes()))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|_| VzError::InvalidValue("a command argument contains a NUL byte".into()))?;
    let stdin = std::io::stdin();
    let saved = termios::tcgetattr(&stdin).ok();
    let mut winsize: libc::winsize = libc::winsize {
        ws_row: 0,
        ws_col: 0,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    if let Some(saved) = &saved {
        // SAFETY: TIOCGWINSZ fills a winsize that lives across the call.
        unsafe { libc::ioctl(0, libc::TIOCGWINSZ, &mut winsize) };
        let mut raw = saved.clone();
        termios::cfmakeraw(&mut raw);
        termios::tcsetattr(&stdin, SetArg::TCSANOW, &raw)
            .map_err(|e| VzError::system("tcsetattr", e))?;
    }
    let (report_r, report_w) =
        nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(|e| VzError::system("pipe", e))?;
    // SAFETY: vzctl is single-threaded; the child joins the VE, relays and exits.
    let forked = unsafe { fork() }.map_err(|e| VzError::system("fork", e));
    let result = match forked {
        Ok(ForkResult::Child) => {
            drop(report_r);
            let code = match relay_inside(device, at, &ns_files, &args, &winsize) {
                Ok(code) => code,
                Err(msg) => {
                    let _ = File::from(report_w).write_all(msg.as_bytes());
                    1
                }
            };
            // SAFETY: Ends the child without running the parent's exit handlers.
            unsafe { libc::_exit(code) }
        }
        Ok(ForkResult::Parent { child }) => {
            drop(report_w);
            drop(ns_files);
            let status = wait_for(child);
            let mut report = String::new();
            let _ = File::from(report_r).read_to_string(&mut report);
            match status {
                Ok(_) if !report.is_empty() => Err(VzError::ExecFailed {
                    veid: at.veid,
                    reason: report,
                }),
                Ok(WaitStatus::Exited(_, code)) => Ok(code),
                Ok(other) => Err(VzError::ExecFailed {
                    veid: at.veid,
                    reason: format!("the session ended with {other:?}"),
                }),
                Err(e) => Err(e),
            }
        }
        Err(e) => Err(e),
    };
    if let Some(saved) = &saved {
        let _ = termios::tcsetattr(&stdin, SetArg::TCSANOW, saved);
    }
    result
}

/// The relaying child of [`enter_pty`]: joins the VE, opens a pty there, starts the command
/// on it and copies bytes both ways; returns the command's exit status.
fn relay_inside(
    device: &Vzctl,
    at: &Inside,
    ns_files: &[(File, CloneFlags)],
    argv: &[CString],
    winsize: &libc::winsize,
) -> Result<i32, String> {
    use nix::fcntl::OFlag;
    use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
    use nix::pty::{grantpt, posix_openpt, ptsname_r, unlockpt};
    join_cgroup(at.cgroup)?;
    device.ve_enter(at.veid).map_err(|e| e.to_string())?;
    for (file, flag) in ns_files {
        setns(file.as_fd(), *flag).map_err(sys(format!("setns {flag:?}")))?;
    }
    drop_capabilities()?;
    let master = posix_openpt(OFlag::O_RDWR | OFlag::O_NOCTTY | OFlag::O_CLOEXEC)
        .map_err(sys("open /dev/ptmx in the VE"))?;
    grantpt(&master).map_err(sys("grantpt"))?;
    unlockpt(&master).map_err(sys("unlockpt"))?;
    let slave_path = ptsname_r(&master).map_err(sys("ptsname"))?;
    if winsize.ws_row > 0 {
        // SAFETY: TIOCSWINSZ reads a winsize that lives across the call.
        unsafe { libc::ioctl(master.as_raw_fd(), libc::TIOCSWINSZ, winsize) };
    }
    // SAFETY: Single-threaded; the child becomes the command.
    let child = match unsafe { fork() }.map_err(sys("fork"))? {
        ForkResult::Child => {
            let err = (|| -> Result<std::convert::Infallible, String> {
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
                for fd in 0..3 {
                    // SAFETY: dup2 onto a standard descriptor; `slave` stays open across it.
                    if unsafe { libc::dup2(slave.as_raw_fd(), fd) } < 0 {
                        return Err(format!("dup2: {}", Errno::last().desc()));
                    }
                }
                close_inherited_fds()?;
                let term = std::env::var("TERM").unwrap_or_else(|_| "linux".into());
                let env = [
                    CString::new(
                        "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                    )
                    .map_err(|e| e.to_string())?,
                    CString::new("HOME=/root").map_err(|e| e.to_string())?,
                    CString::new(format!("TERM={term}")).map_err(|_| "TERM has a NUL byte")?,
                ];
                let program = argv.first().ok_or("no command")?;
                nix::unistd::execvpe(program, argv, &env)
                    .map_err(|e| format!("{}: {}", program.to_string_lossy(), e.desc()))
            })();
            let err = match err {
                Ok(never) => match never {},
                Err(e) => e,
            };
            let _ = std::io::stderr().write_all(format!("vzctl enter: {err}\r\n").as_bytes());
            // SAFETY: Ends the would-be command.
            unsafe { libc::_exit(1) }
        }
        ForkResult::Parent { child } => child,
    };
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
            Err(e) => return Err(format!("poll: {}", e.desc())),
            Ok(0) => {
                let _ = nix::unistd::write(&master, &[4]);
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
                Ok(0) | Err(Errno::EIO) => break,
                Ok(n) => {
                    let mut out = std::io::stdout();
                    let _ = out.write_all(buf.get(..n).unwrap_or_default());
                    let _ = out.flush();
                }
                Err(Errno::EINTR) => {}
                Err(e) => return Err(format!("read the pty: {}", e.desc())),
            }
        }
        if stdin_ready {
            match nix::unistd::read(0, &mut buf) {
                // End of input: an end-of-file character, as a user typing ^D.
                Ok(0) | Err(Errno::EIO) => {
                    stdin_open = false;
                    let _ = nix::unistd::write(&master, &[4]);
                }
                Ok(n) => {
                    let _ = nix::unistd::write(&master, buf.get(..n).unwrap_or_default());
                }
                Err(Errno::EINTR) => {}
                Err(e) => return Err(format!("read stdin: {}", e.desc())),
            }
        }
    }
    Ok(match waitpid(child, None) {
        Ok(WaitStatus::Exited(_, code)) => code,
        Ok(WaitStatus::Signaled(_, sig, _)) => 128 + sig as i32,
        _ => 1,
    })
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
            let result = setns(ns.as_fd(), flag)
                .map_err(|e| VzError::system("setns", e))
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

/// The VE's cgroup under the vz parent group (created with the memory, cpu and pids
/// controllers enabled for its children).
pub fn make_cgroup(cgroup_root: &Path, veid: u32) -> Result<PathBuf, VzError> {
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
    Ok(dir)
}

/// Removes the VE's cgroup once it has no task.
pub fn remove_cgroup(cgroup_root: &Path, veid: u32) -> Result<(), VzError> {
    let dir = cgroup_root.join("vz").join(veid.to_string());
    match fs::remove_dir(&dir) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(VzError::System {
            what: format!("remove {}", dir.display()),
            source: e,
        }),
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

/// Undoes [`mount_private`].
pub fn umount_private(root: &Path) -> Result<(), VzError> {
    umount2(root, MntFlags::MNT_DETACH)
        .map_err(|e| VzError::UmountFailed(format!("{}: {}", root.display(), e.desc())))
}

/// Whether `path` is a mount point in the caller's mount namespace (per `mounts`, the text of
/// /proc/self/mountinfo).
pub fn is_mounted(mountinfo: &str, path: &Path) -> bool {
    let want = path.to_string_lossy();
    mountinfo
        .lines()
        .filter_map(|line| line.split(' ').nth(4))
        .any(|mount_point| unescape_mount_path(mount_point) == want)
}

/// mountinfo escapes space, tab, newline and backslash as octal.
fn unescape_mount_path(field: &str) -> String {
    let mut out = String::with_capacity(field.len());
    let mut chars = field.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            let code: String = chars.by_ref().take(3).collect();
            match u8::from_str_radix(&code, 8) {
                Ok(byte) => out.push(char::from(byte)),
                Err(_) => {
                    out.push('\\');
                    out.push_str(&code);
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mount_points_are_found_with_escapes() {
        let info = "36 35 98:0 / /vz/root/101 rw - ext4 /dev/vda rw\n\
                    37 35 98:0 / /mnt/a\\040b rw - ext4 /dev/vda rw\n";
        assert!(is_mounted(info, Path::new("/vz/root/101")));
        assert!(is_mounted(info, Path::new("/mnt/a b")));
        assert!(!is_mounted(info, Path::new("/vz/root/102")));
    }

    #[test]
    fn dropped_capabilities_fit_the_two_words() {
        assert!(DROPPED_CAPS.iter().all(|&c| c < 64));
    }
}

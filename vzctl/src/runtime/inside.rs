//! Running commands inside a running VE: joining it ([`join_ve`]), spawning the command, and
//! work done for the host in one of the VE's namespaces.

use super::caps::{become_ve_root, drop_capabilities, set_nondumpable};
use super::fork::{exit_code, fork_into_ve, wait_for};
use super::relay::relay_pipes;
use super::sys;
use crate::cgroup::join_cgroup;
use crate::device::{ControlDevice, Vzctl};
use crate::error::VzError;
use nix::errno::Errno;
use nix::sched::{setns, CloneFlags};
use nix::sys::wait::WaitStatus;
use nix::unistd::{fork, ForkResult, Pid};
use std::ffi::CString;
use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::os::fd::{AsFd, AsRawFd, RawFd};
use std::path::Path;

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

pub(super) fn command_args(argv: &[String]) -> Result<Vec<CString>, VzError> {
    argv.iter()
        .map(|a| CString::new(a.as_bytes()))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|_| VzError::InvalidValue("a command argument contains a NUL byte".into()))
}

/// Execs `argv` (looked up in the VE's PATH).
pub(super) fn exec_command(
    argv: &[CString],
    term: &str,
) -> Result<std::convert::Infallible, String> {
    close_inherited_fds()?;
    let program = argv.first().ok_or("no command")?;
    nix::unistd::execvpe(program, argv, &command_env(term)?)
        .map_err(|e| format!("{}: {}", program.to_string_lossy(), e.desc()))
}

/// A child of vzctl that has joined the VE (see [`join_ve`]) and runs a command there.
pub(super) struct Spawned {
    pid: Pid,
    report: File,
}

/// Forks a child that points its stdio at `stdio`, closes `close` (vzctl's ends of what it
/// shares with the command), joins the VE and forks `entered` inside it.
pub(super) fn spawn_in_ve(
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
    pub(super) fn finish(
        mut self,
        veid: u32,
        relayed: Result<(), VzError>,
    ) -> Result<i32, VzError> {
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
pub(super) fn redirect_stdio(fds: [RawFd; 3]) -> Result<(), String> {
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

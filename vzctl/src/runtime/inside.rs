//! Running commands inside a running VE: joining it ([`join_ve`]), spawning the command, and
//! work done for the host in one of the VE's namespaces.

use super::caps::{become_ve_root, drop_capabilities, set_nondumpable};
use super::fork::{close_in_child, exit_code, fork_reporting, host_error, Forked};
use super::relay::relay_pipes;
use super::{SetupError, Step, CLONE_NEWTIME};
use crate::cgroup::join_cgroup;
use crate::device::{ControlDevice, Vzctl};
use crate::error::VzError;
use nix::errno::Errno;
use nix::sched::{setns, CloneFlags};
use nix::sys::wait::WaitStatus;
use std::ffi::CString;
use std::fs::{File, OpenOptions};
use std::os::fd::{AsFd, AsRawFd, RawFd};
use std::path::Path;

/// Namespaces a command joins to run inside a VE, in the order they are joined: the time
/// namespace first (joined with the host's CAP_SYS_ADMIN, which covers the VE's user
/// namespace that owns it), then the user namespace (the others belong to it), the mount
/// namespace last (it changes the root).
pub const VE_NAMESPACES: [(&str, CloneFlags); 8] = [
    ("time", CLONE_NEWTIME),
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
pub struct VeNamespaces(Vec<(&'static str, File, CloneFlags)>);

impl VeNamespaces {
    pub fn open(at: &Inside) -> Result<VeNamespaces, VzError> {
        VE_NAMESPACES
            .iter()
            .map(|(name, flag)| {
                let path = at.proc_dir.join(format!("{}/ns/{name}", at.init_pid));
                File::open(&path)
                    .map(|f| (*name, f, *flag))
                    .map_err(|e| VzError::System {
                        what: format!("VE {}: {}", at.veid, path.display()),
                        source: e,
                    })
            })
            .collect::<Result<_, _>>()
            .map(VeNamespaces)
    }
}

/// The first steps into VE `veid`, of every entry path and of the start helper: non-dumpable
/// first (so that nothing inside can open the process's /proc entry, memory or host
/// executable), then the cgroup `cgroup`, then the VE id.
pub(super) fn enter_ve(device: &Vzctl, veid: u32, cgroup: &Path) -> Result<(), SetupError> {
    set_nondumpable()?;
    crate::trace::timed("join its cgroup", || join_cgroup(cgroup))?;
    crate::trace::timed("enter its VE id", || device.ve_enter(veid)).map_err(SetupError::enter_ve)
}

/// Moves the calling process into the VE for good, as every entry path does: non-dumpable
/// (so that nothing inside can open its /proc entry, memory or host executable), into the
/// cgroup of the VE's init and the VE's id, then its time namespace, its user namespace as
/// its root, the VE's other namespaces, and last the VE's capability limits. The process
/// itself is not in the VE's pid namespace: its children are.
pub(super) fn join_ve(device: &Vzctl, at: &Inside, ns: &VeNamespaces) -> Result<(), SetupError> {
    enter_ve(device, at.veid, at.cgroup)?;
    for (name, file, flag) in &ns.0 {
        setns(file.as_fd(), *flag).map_err(Step::Setns.failed_at(name))?;
        if *flag == CloneFlags::CLONE_NEWUSER {
            become_ve_root()?;
        }
    }
    drop_capabilities()
}

/// A command to run inside a VE: its argv and environment, checked on the host before the
/// fork.
pub(super) struct Command {
    argv: Vec<CString>,
    env: Vec<CString>,
}

impl Command {
    /// `argv`, with the environment of a command run inside a VE on a terminal of type `term`.
    pub(super) fn new(argv: &[String], term: &str) -> Result<Command, VzError> {
        let argv = argv
            .iter()
            .map(|a| CString::new(a.as_bytes()))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|_| VzError::InvalidValue("a command argument contains a NUL byte".into()))?;
        let term = CString::new(format!("TERM={term}"))
            .map_err(|_| VzError::InvalidValue("TERM has a NUL byte".into()))?;
        let env = vec![super::VE_PATH.to_owned(), c"HOME=/root".to_owned(), term];
        Ok(Command { argv, env })
    }

    /// Execs the command (looked up in the VE's PATH), in a session of its own: the leader
    /// of every session in the VE is then a task of the VE, not vzctl's joined process
    /// outside its pid namespace (CRIU checkpoints no VE with such a session). On a pty the
    /// command leads its session already (EPERM).
    pub(super) fn exec(&self) -> Result<std::convert::Infallible, SetupError> {
        match nix::unistd::setsid() {
            Ok(_) | Err(Errno::EPERM) => {}
            Err(errno) => return Err(SetupError::new(Step::Setsid, "", errno)),
        }
        close_inherited_fds()?;
        let program =
            self.argv
                .first()
                .ok_or(SetupError::new(Step::NoCommand, "", Errno::EINVAL))?;
        nix::unistd::execvpe(program, &self.argv, &self.env)
            .map_err(Step::Exec.failed_at(program.to_string_lossy()))
    }
}

/// Forks a child that points its stdio at `stdio`, closes `close` (vzctl's ends of what it
/// shares with the command), joins the VE and forks `entered` inside it, in the VE's pid
/// namespace. The child waits for it and ends with its exit status, or passes its report on.
pub(super) fn spawn_in_ve(
    device: &Vzctl,
    at: &Inside,
    stdio: [RawFd; 3],
    close: &[RawFd],
    entered: impl FnOnce() -> Result<std::convert::Infallible, SetupError>,
) -> Result<Forked, VzError> {
    let ns = crate::trace::timed("open its namespaces", || VeNamespaces::open(at))?;
    let _phase = crate::trace::phase("fork the joining child");
    fork_reporting(|| {
        close_in_child(close);
        redirect_stdio(stdio)?;
        join_ve(device, at, &ns)?;
        drop(ns);
        let command = fork_reporting(|| match entered() {
            Ok(never) => match never {},
            Err(err) => Err(err),
        })?;
        match command.wait()? {
            (_, Some(err)) => Err(err),
            (status, None) => Ok(exit_code(status)),
        }
    })
    .map_err(host_error)
}

/// Waits for the child that [`spawn_in_ve`] forked after vzctl's side (`relayed`) is done:
/// the command's exit status, or why it could not run.
pub(super) fn finish(
    child: Forked,
    veid: u32,
    relayed: Result<(), VzError>,
) -> Result<i32, VzError> {
    if relayed.is_err() {
        child.kill();
    }
    let (status, report) =
        crate::trace::timed("wait for the command", || child.wait()).map_err(host_error)?;
    relayed?;
    if let Some(err) = report {
        return Err(VzError::ExecFailed {
            veid,
            reason: err.to_string(),
        });
    }
    Ok(exit_code(status))
}

/// Points the caller's stdin, stdout and stderr at `fds`.
pub(super) fn redirect_stdio(fds: [RawFd; 3]) -> Result<(), SetupError> {
    for (target, fd) in [0, 1, 2].into_iter().zip(fds) {
        // SAFETY: dup2 onto a standard descriptor number; `fd` is open in the caller.
        if unsafe { libc::dup2(fd, target) } < 0 {
            return Err(SetupError::last(Step::Dup2, ""));
        }
    }
    Ok(())
}

/// Marks every descriptor above stderr close-on-exec: nothing the caller had open reaches
/// the VE.
pub(super) fn close_inherited_fds() -> Result<(), SetupError> {
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
        return Err(SetupError::last(Step::CloseRange, ""));
    }
    Ok(())
}

/// Runs `argv` inside the VE and returns its exit status. Its stdin, stdout and stderr are
/// pipes that vzctl relays to and from its own: the command can neither reopen a host file
/// through /proc/self/fd nor reach a host terminal. It gets the VE's namespaces, cgroup and
/// VE id, the VE's root, the VE's capability limits and no other descriptor.
pub fn run_inside(device: &Vzctl, at: &Inside, argv: &[String]) -> Result<i32, VzError> {
    let command = Command::new(argv, "linux")?;
    let pipe =
        || nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(|e| VzError::system("pipe", e));
    let (in_r, in_w) = pipe()?;
    let (out_r, out_w) = pipe()?;
    let (err_r, err_w) = pipe()?;
    let child = spawn_in_ve(
        device,
        at,
        [in_r.as_raw_fd(), out_w.as_raw_fd(), err_w.as_raw_fd()],
        &[in_w.as_raw_fd(), out_r.as_raw_fd(), err_r.as_raw_fd()],
        || command.exec(),
    )?;
    drop((in_r, out_w, err_w));
    let relayed = crate::trace::timed("relay its stdio", || {
        relay_pipes(child.pid, in_w, out_r, err_r)
    });
    finish(child, at.veid, relayed)
}

/// Runs `argv` inside the VE as [`run_inside`] does, with its stdio on the host's /dev/null:
/// what vzctl runs for itself (stop's `halt`), whose chatter is not the admin's.
pub fn run_inside_quietly(device: &Vzctl, at: &Inside, argv: &[String]) -> Result<i32, VzError> {
    let command = Command::new(argv, "linux")?;
    let null = OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/null")
        .map_err(|source| VzError::System {
            what: "open /dev/null".into(),
            source,
        })?;
    let fd = null.as_raw_fd();
    let child = spawn_in_ve(device, at, [fd, fd, fd], &[], || command.exec())?;
    drop(null);
    finish(child, at.veid, Ok(()))
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
    let child = fork_reporting(|| {
        // Not dumpable: nothing in the VE may reach a host task through its /proc entry.
        set_nondumpable()?;
        setns(ns.as_fd(), flag).map_err(Step::JoinNamespace.failed())?;
        work().map_err(SetupError::work)?;
        Ok(0)
    })
    .map_err(host_error)?;
    match child.wait().map_err(host_error)? {
        (WaitStatus::Exited(_, 0), _) => Ok(()),
        (_, report) => Err(VzError::System {
            what: format!("in the VE's {name} namespace"),
            source: std::io::Error::other(report.map(|err| err.to_string()).unwrap_or_default()),
        }),
    }
}

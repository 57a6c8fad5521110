//! The one way vzctl forks: [`fork_reporting`]. The child runs a closure and ends with
//! `_exit`; a setup failure reaches the parent as a [`SetupError`] over a close-on-exec pipe,
//! whose end of file means the child (and whatever it forked) exec'd or exited.

use super::{SetupError, Step};
use crate::error::VzError;
use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::sys::signal::{kill, Signal};
use nix::sys::wait::{waitpid, WaitStatus};
use nix::unistd::{fork, pipe2, ForkResult, Pid};
use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::RawFd;
use std::panic::{catch_unwind, AssertUnwindSafe};

/// A child forked by [`fork_reporting`].
pub(super) struct Forked {
    pub(super) pid: Pid,
    /// The read end of the child's report pipe.
    report: File,
}

/// Forks a child that runs `child` and then ends with `_exit`: with the status `child`
/// returns, or with 1 after writing its error to the report pipe (a panic, where one can
/// unwind at all, ends it with 1 too). The child never returns into the caller's stack and
/// runs none of the parent's destructors or exit handlers.
///
/// The caller must be single-threaded, as vzctl is: the child goes on running Rust code
/// (allocating, formatting), which is sound after fork only when no other thread could have
/// held a lock at the time of the fork.
pub(super) fn fork_reporting(
    child: impl FnOnce() -> Result<i32, SetupError>,
) -> Result<Forked, SetupError> {
    let (report_r, report_w) = pipe2(OFlag::O_CLOEXEC).map_err(Step::Pipe.failed())?;
    // SAFETY: The caller is single-threaded (see above); the child leaves only through _exit.
    match unsafe { fork() }.map_err(Step::Fork.failed())? {
        ForkResult::Child => {
            drop(report_r);
            let code = match catch_unwind(AssertUnwindSafe(child)) {
                Ok(Ok(code)) => code,
                Ok(Err(err)) => {
                    let _ = File::from(report_w).write_all(&err.to_bytes());
                    1
                }
                Err(_) => 1,
            };
            // SAFETY: Ends the child without running the parent's exit handlers.
            unsafe { libc::_exit(code) }
        }
        ForkResult::Parent { child } => Ok(Forked {
            pid: child,
            report: File::from(report_r),
        }),
    }
}

impl Forked {
    /// The child's report, once every copy of the pipe's write end is closed: the child and
    /// the children it forked have exec'd or exited. None if nothing failed.
    pub(super) fn report(mut self) -> Option<SetupError> {
        let mut bytes = Vec::new();
        let _ = self.report.read_to_end(&mut bytes);
        SetupError::from_bytes(&bytes)
    }

    /// Waits for the child to end, then reads its report.
    pub(super) fn wait(self) -> Result<(WaitStatus, Option<SetupError>), SetupError> {
        let status = wait_for(self.pid)?;
        Ok((status, self.report()))
    }

    /// Ends the child (vzctl's side of a hand-over failed).
    pub(super) fn kill(&self) {
        let _ = kill(self.pid, Signal::SIGKILL);
    }
}

/// In a forked child: closes `fds`, the parent's ends of what it shares with the child.
pub(super) fn close_in_child(fds: &[RawFd]) {
    for &fd in fds {
        // SAFETY: `fd` is one of the parent's descriptors, copied by fork; the child never
        // uses it, and never drops the parent's owner of it (it leaves through _exit).
        unsafe { libc::close(fd) };
    }
}

/// vzctl's own failure to make a pipe, fork or wait (not a child's report), as a command's
/// error.
pub(super) fn host_error(err: SetupError) -> VzError {
    VzError::System {
        what: err.label().into_owned(),
        source: err.errno.into(),
    }
}

/// The exit status a shell would report for `status`.
pub(super) fn exit_code(status: WaitStatus) -> i32 {
    match status {
        WaitStatus::Exited(_, code) => code,
        WaitStatus::Signaled(_, sig, _) => 128 + sig as i32,
        _ => 1,
    }
}

fn wait_for(child: Pid) -> Result<WaitStatus, SetupError> {
    loop {
        match waitpid(child, None) {
            Err(Errno::EINTR) => continue,
            other => return other.map_err(Step::Waitpid.failed()),
        }
    }
}

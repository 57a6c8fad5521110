//! Forked children: waiting for them and passing on their exit status.

use super::sys;
use crate::error::VzError;
use nix::errno::Errno;
use nix::sys::wait::{waitpid, WaitStatus};
use nix::unistd::{fork, ForkResult, Pid};
use std::os::fd::OwnedFd;

/// The exit status a shell would report for `status`.
pub(super) fn exit_code(status: WaitStatus) -> i32 {
    match status {
        WaitStatus::Exited(_, code) => code,
        WaitStatus::Signaled(_, sig, _) => 128 + sig as i32,
        _ => 1,
    }
}

/// Forks a child of the calling process (which has joined the VE) that runs `child`: it is
/// in the VE's pid namespace. Waits for it and ends the caller with its exit status; a setup
/// error of the child goes to `report`.
pub(super) fn fork_into_ve(
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

pub(super) fn wait_for(child: Pid) -> Result<WaitStatus, VzError> {
    loop {
        match waitpid(child, None) {
            Err(Errno::EINTR) => continue,
            other => return other.map_err(|e| VzError::system("waitpid", e)),
        }
    }
}

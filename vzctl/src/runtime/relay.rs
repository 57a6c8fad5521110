//! Relaying a command's stdio pipes to and from vzctl's own.

use crate::error::VzError;
use nix::errno::Errno;
use nix::unistd::Pid;
use std::io::Write;
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd, RawFd};

/// A process's pidfd: readable once it has exited.
fn pidfd_of(pid: Pid) -> Result<OwnedFd, VzError> {
    // SAFETY: pidfd_open takes a pid and flags and returns a new descriptor.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid.as_raw(), 0) };
    // A descriptor fits RawFd; anything else is the -1 of a failure.
    let Ok(fd @ 0..) = RawFd::try_from(fd) else {
        return Err(VzError::system("pidfd_open", Errno::last()));
    };
    // SAFETY: The kernel just returned this new descriptor; nothing else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
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
pub(super) fn relay_pipes(
    child: Pid,
    in_w: OwnedFd,
    out_r: OwnedFd,
    err_r: OwnedFd,
) -> Result<(), VzError> {
    let exited = pidfd_of(child)?;
    set_nonblocking(&in_w);
    let mut relay = PipeRelay {
        input: Some(in_w),
        stdin_open: true,
        pending: Vec::new(),
        outputs: [Some((out_r, 1)), Some((err_r, 2))],
        buf: [0u8; 16384],
    };
    loop {
        let Some(ready) = relay.poll(&exited)? else {
            continue;
        };
        let mut child_done = false;
        for role in ready {
            match role {
                Role::Exited => child_done = true,
                Role::Output(index) => relay.copy_output(index)?,
                Role::Input => relay.feed_input(),
                Role::Stdin => relay.read_stdin(),
            }
        }
        if child_done {
            break;
        }
    }
    relay.drain_outputs();
    Ok(())
}

/// What a descriptor polled by [`PipeRelay::poll`] is.
#[derive(Clone, Copy)]
enum Role {
    /// The pidfd of the command's side.
    Exited,
    /// The command's stdout (0) or stderr (1).
    Output(usize),
    /// The command's stdin, with input pending for it.
    Input,
    /// vzctl's stdin.
    Stdin,
}

/// The state of [`relay_pipes`].
struct PipeRelay {
    /// The command's stdin, until vzctl's stdin ends and what it read is written.
    input: Option<OwnedFd>,
    stdin_open: bool,
    /// Read from vzctl's stdin, not yet written to the command's.
    pending: Vec<u8>,
    /// The command's stdout and stderr with vzctl's descriptor for each, until each ends.
    outputs: [Option<(OwnedFd, RawFd)>; 2],
    buf: [u8; 16384],
}

impl PipeRelay {
    /// Waits until a descriptor is ready; their roles, or None when a signal interrupted.
    fn poll(&self, exited: &OwnedFd) -> Result<Option<Vec<Role>>, VzError> {
        use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
        let stdin = std::io::stdin();
        let mut fds = vec![PollFd::new(exited.as_fd(), PollFlags::POLLIN)];
        let mut roles = vec![Role::Exited];
        for (index, out) in self.outputs.iter().enumerate() {
            if let Some((fd, _)) = out {
                fds.push(PollFd::new(fd.as_fd(), PollFlags::POLLIN));
                roles.push(Role::Output(index));
            }
        }
        match (&self.input, self.pending.is_empty()) {
            (Some(w), false) => {
                fds.push(PollFd::new(w.as_fd(), PollFlags::POLLOUT));
                roles.push(Role::Input);
            }
            (Some(_), true) if self.stdin_open => {
                fds.push(PollFd::new(stdin.as_fd(), PollFlags::POLLIN));
                roles.push(Role::Stdin);
            }
            _ => {}
        }
        match poll(&mut fds, PollTimeout::NONE) {
            Err(Errno::EINTR) => return Ok(None),
            Err(e) => return Err(VzError::system("poll", e)),
            Ok(_) => {}
        }
        Ok(Some(
            fds.iter()
                .zip(roles)
                .filter(|(f, _)| f.revents().is_some_and(|r| !r.is_empty()))
                .map(|(_, role)| role)
                .collect(),
        ))
    }

    /// Copies what the command wrote to output `index` to vzctl's; at its end, stops polling it.
    fn copy_output(&mut self, index: usize) -> Result<(), VzError> {
        let Some(slot) = self.outputs.get_mut(index) else {
            return Ok(());
        };
        if let Some((fd, target)) = slot {
            match nix::unistd::read(fd.as_raw_fd(), &mut self.buf) {
                Ok(0) | Err(Errno::EIO) => *slot = None,
                Ok(n) => write_all_to(*target, self.buf.get(..n).unwrap_or_default()),
                Err(Errno::EINTR | Errno::EAGAIN) => {}
                Err(e) => return Err(VzError::system("read the command's output", e)),
            }
        }
        Ok(())
    }

    /// Writes pending input to the command's stdin; closes it once vzctl's stdin has ended
    /// and all of it is written.
    fn feed_input(&mut self) {
        if let Some(w) = &self.input {
            match nix::unistd::write(w, &self.pending) {
                Ok(n) => {
                    self.pending.drain(..n);
                }
                Err(Errno::EAGAIN | Errno::EINTR) => {}
                // The command closed its stdin: the rest of ours is not wanted.
                Err(_) => {
                    self.input = None;
                    self.pending.clear();
                }
            }
        }
        if self.pending.is_empty() && !self.stdin_open {
            self.input = None;
        }
    }

    /// Reads vzctl's stdin into the pending input; at its end (or error) closes the
    /// command's stdin (nothing is pending then: stdin is read only when nothing is).
    fn read_stdin(&mut self) {
        match nix::unistd::read(0, &mut self.buf) {
            Err(Errno::EINTR | Errno::EAGAIN) => {}
            Ok(n) if n > 0 => self
                .pending
                .extend_from_slice(self.buf.get(..n).unwrap_or_default()),
            _ => {
                self.stdin_open = false;
                self.input = None;
            }
        }
    }

    /// The command's side has exited: copies what it wrote, which is in the pipes.
    fn drain_outputs(mut self) {
        for (fd, target) in self.outputs.into_iter().flatten() {
            set_nonblocking(&fd);
            loop {
                match nix::unistd::read(fd.as_raw_fd(), &mut self.buf) {
                    Ok(0) => break,
                    Ok(n) => write_all_to(target, self.buf.get(..n).unwrap_or_default()),
                    Err(Errno::EINTR) => {}
                    Err(_) => break,
                }
            }
        }
    }
}

/// Writes `data` to vzctl's own stdout (1) or stderr (2); a closed reader ends nothing here.
pub(super) fn write_all_to(target: RawFd, data: &[u8]) {
    let _ = if target == 1 {
        let mut out = std::io::stdout();
        out.write_all(data).and_then(|()| out.flush())
    } else {
        std::io::stderr().write_all(data)
    };
}

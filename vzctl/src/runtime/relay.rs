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
pub(super) fn relay_pipes(
    child: Pid,
    in_w: OwnedFd,
    out_r: OwnedFd,
    err_r: OwnedFd,
) -> Result<(), VzError> {
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
pub(super) fn write_all_to(target: RawFd, data: &[u8]) {
    let _ = if target == 1 {
        let mut out = std::io::stdout();
        out.write_all(data).and_then(|()| out.flush())
    } else {
        std::io::stderr().write_all(data)
    };
}

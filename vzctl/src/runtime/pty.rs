//! `vzctl enter`: a command on a pty of the VE's devpts, relayed to vzctl's terminal.

use super::channel::{message_pair, recv_fds, send_fds};
use super::inside::{finish, redirect_stdio, spawn_in_ve, Command, Inside};
use super::relay::write_all_to;
use super::{SetupError, Step};
use crate::device::Vzctl;
use crate::error::VzError;
use nix::errno::Errno;
use nix::unistd::setsid;
use std::fs::{File, OpenOptions};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};

/// `vzctl enter`: runs `argv` inside the VE on a new pty of the VE's devpts, as the session
/// leader with the pty as its controlling terminal. The child that joins the VE opens the
/// pty there and passes its master to vzctl, which relays between its own stdin and stdout
/// and the master until the command ends: the host's terminal never enters the VE. When
/// stdin is a terminal it is put in raw mode for the session and the pty gets its window size.
pub fn enter_pty(device: &Vzctl, at: &Inside, argv: &[String]) -> Result<i32, VzError> {
    use nix::sys::termios::{self, SetArg};
    let term = std::env::var("TERM").unwrap_or_else(|_| "linux".into());
    let command = Command::new(argv, &term)?;
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
    let (ours, theirs) = message_pair()?;
    let null = File::open("/dev/null").map_err(|source| VzError::System {
        what: "open /dev/null".into(),
        source,
    })?;
    let fd = null.as_raw_fd();
    let child = spawn_in_ve(device, at, [fd, fd, fd], &[ours.as_raw_fd()], || {
        open_session(&theirs, &winsize, &command)
    })?;
    drop((theirs, null));
    let mut raw_set = false;
    let relayed = (|| {
        let master = match recv_fds(&ours).map_err(|err| VzError::InvalidValue(err.to_string()))? {
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
    finish(child, at.veid, relayed)
}

/// In the VE (the joined child's own child): opens a pty of the VE's devpts, sends its
/// master to vzctl over `sock`, and runs the command on the slave as a session leader.
fn open_session(
    sock: &OwnedFd,
    winsize: &libc::winsize,
    command: &Command,
) -> Result<std::convert::Infallible, SetupError> {
    use nix::fcntl::OFlag;
    use nix::pty::{grantpt, posix_openpt, ptsname_r, unlockpt};
    let master = posix_openpt(OFlag::O_RDWR | OFlag::O_NOCTTY | OFlag::O_CLOEXEC)
        .map_err(Step::OpenPtmx.failed())?;
    grantpt(&master).map_err(Step::Grantpt.failed())?;
    unlockpt(&master).map_err(Step::Unlockpt.failed())?;
    let slave_path = ptsname_r(&master).map_err(Step::Ptsname.failed())?;
    if winsize.ws_row > 0 {
        // SAFETY: TIOCSWINSZ reads a winsize that lives across the call.
        unsafe { libc::ioctl(master.as_raw_fd(), libc::TIOCSWINSZ, winsize) };
    }
    setsid().map_err(Step::Setsid.failed())?;
    let slave = OpenOptions::new()
        .read(true)
        .write(true)
        .open(&slave_path)
        .map_err(Step::OpenPtySlave.failed_at(&slave_path))?;
    // SAFETY: Makes the just-opened pty our controlling terminal.
    if unsafe { libc::ioctl(slave.as_raw_fd(), libc::TIOCSCTTY, 0) } < 0 {
        return Err(SetupError::last(Step::Tiocsctty, ""));
    }
    send_fds(sock, b'p', &[master.as_raw_fd()])?;
    drop(master);
    let fd = slave.as_raw_fd();
    redirect_stdio([fd, fd, fd])?;
    command.exec()
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

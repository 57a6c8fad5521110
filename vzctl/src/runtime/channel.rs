//! The message socket between vzctl and a child it forked: one byte per message, and
//! descriptors passed along with it (SCM_RIGHTS).

use super::{SetupError, Step};
use crate::error::VzError;
use nix::errno::Errno;
use nix::sys::socket::{self, ControlMessage, ControlMessageOwned, MsgFlags};
use std::io::{IoSlice, IoSliceMut};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

/// Sends `byte` and, if any, the descriptors `fds` over the socket `sock`.
pub(super) fn send_fds(sock: &OwnedFd, byte: u8, fds: &[RawFd]) -> Result<(), SetupError> {
    let data = [byte];
    let iov = [IoSlice::new(&data)];
    let cmsg = [ControlMessage::ScmRights(fds)];
    let cmsgs: &[ControlMessage] = if fds.is_empty() { &[] } else { &cmsg };
    socket::sendmsg::<()>(sock.as_raw_fd(), &iov, cmsgs, MsgFlags::empty(), None)
        .map(drop)
        .map_err(Step::Send.failed())
}

/// Receives one message from `sock`: its byte (None at end of file) and its descriptors.
pub(super) fn recv_fds(sock: &OwnedFd) -> Result<Option<(u8, Vec<OwnedFd>)>, SetupError> {
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
            other => break other.map_err(Step::Receive.failed())?,
        }
    };
    let mut fds = Vec::new();
    for cmsg in msg.cmsgs().map_err(Step::ReceiveFds.failed())? {
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
pub(super) fn message_pair() -> Result<(OwnedFd, OwnedFd), VzError> {
    socket::socketpair(
        socket::AddressFamily::Unix,
        socket::SockType::SeqPacket,
        None,
        socket::SockFlag::SOCK_CLOEXEC,
    )
    .map_err(|e| VzError::system("socketpair", e))
}

//! Socket buffer probes for `ubtest`: inside a VE, queue data on sockets of the VE until the
//! kernel stops taking it, and keep the sockets open until told to release them.

use nix::errno::Errno;
use std::io::Write;
use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::net::{UnixDatagram, UnixStream};

/// The four socket buffer rows.
pub const RESOURCES: [&str; 4] = ["tcpsndbuf", "tcprcvbuf", "othersockbuf", "dgramrcvbuf"];

/// What `fill` queued (bytes, or datagrams for dgramrcvbuf), how it ended, and the sockets
/// that hold the buffers.
pub struct Filled {
    pub report: String,
    pub sockets: Vec<OwnedFd>,
}

/// Stop here if nothing refuses: far above any limit the tests set.
const CEILING: u64 = 64 << 20;

/// Writes `chunk`-sized blocks to a non-blocking `out` until a write fails; returns the bytes
/// written and the errno of the failure.
fn write_until_refused(out: &mut impl Write, chunk: usize) -> (u64, String) {
    let block = vec![0x5a_u8; chunk];
    let mut total = 0_u64;
    while total < CEILING {
        match out.write(&block) {
            Ok(n) => total += n as u64,
            Err(e) => return (total, errno_name(&e)),
        }
    }
    (total, "none".into())
}

fn errno_name(err: &std::io::Error) -> String {
    format!(
        "{:?}",
        Errno::from_raw(err.raw_os_error().unwrap_or(libc::EIO))
    )
}

fn io(what: &str) -> impl Fn(std::io::Error) -> String + '_ {
    move |e| format!("{what}: {e}")
}

/// A TCP connection over loopback: (client, accepted server side). `mss` small segments make
/// the receiver's queue grow in small steps.
fn tcp_pair(mss: Option<libc::c_int>) -> Result<(TcpStream, TcpStream), String> {
    let listener = TcpListener::bind("127.0.0.1:0").map_err(io("bind"))?;
    let addr = listener.local_addr().map_err(io("getsockname"))?;
    // SAFETY: Creates a socket; the fd is owned by the OwnedFd made right after.
    let fd = Errno::result(unsafe { libc::socket(libc::AF_INET, libc::SOCK_STREAM, 0) })
        .map_err(|e| format!("socket: {e}"))?;
    // SAFETY: `fd` was just returned by socket() and nothing else owns it.
    let client = unsafe { OwnedFd::from_raw_fd(fd) };
    if let Some(mss) = mss {
        // SAFETY: Valid fd, and a pointer to a live c_int of the size passed.
        Errno::result(unsafe {
            libc::setsockopt(
                fd,
                libc::IPPROTO_TCP,
                libc::TCP_MAXSEG,
                (&mss as *const libc::c_int).cast(),
                size_of::<libc::c_int>() as libc::socklen_t,
            )
        })
        .map_err(|e| format!("TCP_MAXSEG: {e}"))?;
    }
    connect(&client, addr).map_err(|e| format!("connect: {e}"))?;
    let client = TcpStream::from(client);
    let (server, _) = listener.accept().map_err(io("accept"))?;
    Ok((client, server))
}

/// Connects the TCP socket `fd` to the IPv4 `addr`, waiting for the handshake.
pub fn connect(fd: &OwnedFd, addr: SocketAddr) -> Result<(), Errno> {
    let SocketAddr::V4(v4) = addr else {
        return Err(Errno::EAFNOSUPPORT);
    };
    let sin = libc::sockaddr_in {
        sin_family: libc::AF_INET as libc::sa_family_t,
        sin_port: v4.port().to_be(),
        sin_addr: libc::in_addr {
            s_addr: u32::from(*v4.ip()).to_be(),
        },
        sin_zero: [0; 8],
    };
    // SAFETY: Valid fd, and a pointer to a live sockaddr_in of the size passed.
    Errno::result(unsafe {
        libc::connect(
            fd.as_raw_fd(),
            (&sin as *const libc::sockaddr_in).cast(),
            size_of::<libc::sockaddr_in>() as libc::socklen_t,
        )
    })
    .map(drop)
}

/// Queues data on sockets made inside the VE until the kernel refuses more:
/// - tcpsndbuf, tcprcvbuf: a loopback TCP connection whose reader never reads; the writer
///   stops at EAGAIN (send queue full, or segments dropped at the receive queue's barrier);
/// - othersockbuf: a unix stream pair, the same way; then a fresh unix datagram socket, which
///   has no buffers of its own to wait for, tries one send of the same size
///   (`idle_socket ERRNO`);
/// - dgramrcvbuf: 200 UDP datagrams of 1000 bytes to a socket that never reads (a datagram
///   past the barrier is dropped, so the report counts datagrams sent).
pub fn fill(resource: &str) -> Result<Filled, String> {
    match resource {
        "tcpsndbuf" | "tcprcvbuf" => {
            let mss = (resource == "tcprcvbuf").then_some(1000);
            let (mut client, server) = tcp_pair(mss)?;
            client.set_nonblocking(true).map_err(io("O_NONBLOCK"))?;
            let (bytes, errno) = write_until_refused(&mut client, 16 << 10);
            Ok(Filled {
                report: format!("acquired {bytes} errno {errno}"),
                sockets: vec![client.into(), server.into()],
            })
        }
        "othersockbuf" => {
            let (mut writer, reader) = UnixStream::pair().map_err(io("socketpair"))?;
            writer.set_nonblocking(true).map_err(io("O_NONBLOCK"))?;
            let (bytes, errno) = write_until_refused(&mut writer, 4 << 10);
            let (idle, peer) = UnixDatagram::pair().map_err(io("socketpair"))?;
            idle.set_nonblocking(true).map_err(io("O_NONBLOCK"))?;
            let idle_errno = match idle.send(&[0x5a; 4 << 10]) {
                Ok(_) => "none".to_string(),
                Err(e) => errno_name(&e),
            };
            Ok(Filled {
                report: format!("acquired {bytes} errno {errno} idle_socket {idle_errno}"),
                sockets: vec![writer.into(), reader.into(), idle.into(), peer.into()],
            })
        }
        "dgramrcvbuf" => {
            let reader = UdpSocket::bind("127.0.0.1:0").map_err(io("bind"))?;
            let writer = UdpSocket::bind("127.0.0.1:0").map_err(io("bind"))?;
            let to = reader.local_addr().map_err(io("getsockname"))?;
            let mut sent = 0_u32;
            for _ in 0..200 {
                if writer.send_to(&[0x5a; 1000], to).is_ok() {
                    sent += 1;
                }
            }
            Ok(Filled {
                report: format!("acquired {sent} errno none"),
                sockets: vec![reader.into(), writer.into()],
            })
        }
        _ => Err(format!("{resource}: not a socket buffer resource")),
    }
}

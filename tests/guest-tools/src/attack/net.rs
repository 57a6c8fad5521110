//! Attacks through the network: links pushed out of the VE or deleted in the host's
//! namespace over rtnetlink, spoofed source addresses, sniffing, the host's abstract unix
//! sockets; and the host-side listeners and senders the cases check them with.

use super::{arg, check_int, deadline, ename, io_ename, number, Allowed, Info, Outcome, Refused};
use nix::errno::Errno;
use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddrV4, UdpSocket};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::linux::net::SocketAddrExt;
use std::os::unix::net::{SocketAddr, UnixListener, UnixStream};
use std::time::{Duration, Instant};

const RTM_NEWLINK: u16 = 16;
const RTM_DELLINK: u16 = 17;
const RTM_GETLINK: u16 = 18;
const RTM_SETLINK: u16 = 19;
const NLM_F_REQUEST: u16 = 1;
const NLM_F_ACK: u16 = 4;
const NLM_F_EXCL: u16 = 0x200;
const NLM_F_CREATE: u16 = 0x400;
const NLM_F_DUMP: u16 = 0x300;
const NLMSG_ERROR: u16 = 2;
const NLMSG_DONE: u16 = 3;
const IFLA_IFNAME: u16 = 3;
const IFLA_LINKINFO: u16 = 18;
const IFLA_NET_NS_PID: u16 = 19;
const IFLA_NET_NS_FD: u16 = 28;
const IFLA_TARGET_NETNSID: u16 = 46;
const IFLA_INFO_KIND: u16 = 1;
const IFLA_INFO_DATA: u16 = 2;
const VETH_INFO_PEER: u16 = 1;

/// An rtnetlink message under construction: header, then body.
struct Msg {
    buf: Vec<u8>,
}

impl Msg {
    fn new(kind: u16, flags: u16, ifindex: i32) -> Self {
        let mut buf = vec![0u8; 16];
        buf[4..6].copy_from_slice(&kind.to_ne_bytes());
        buf[6..8].copy_from_slice(&flags.to_ne_bytes());
        buf[8..12].copy_from_slice(&1u32.to_ne_bytes()); // seq
        buf.extend_from_slice(&ifinfomsg(ifindex));
        Msg { buf }
    }

    fn attr(&mut self, kind: u16, data: &[u8]) {
        let len = 4 + data.len();
        self.buf.extend_from_slice(&(len as u16).to_ne_bytes());
        self.buf.extend_from_slice(&kind.to_ne_bytes());
        self.buf.extend_from_slice(data);
        while self.buf.len() & 3 != 0 {
            self.buf.push(0);
        }
    }

    /// Starts a nested attribute; `end` fills in its length.
    fn begin(&mut self, kind: u16) -> usize {
        let at = self.buf.len();
        self.attr(kind, &[]);
        at
    }

    fn end(&mut self, at: usize) {
        let len = (self.buf.len() - at) as u16;
        self.buf[at..at + 2].copy_from_slice(&len.to_ne_bytes());
    }

    fn finish(mut self) -> Vec<u8> {
        let len = self.buf.len() as u32;
        self.buf[0..4].copy_from_slice(&len.to_ne_bytes());
        self.buf
    }
}

/// struct ifinfomsg with AF_UNSPEC and the given index.
fn ifinfomsg(index: i32) -> [u8; 16] {
    let mut m = [0u8; 16];
    m[4..8].copy_from_slice(&index.to_ne_bytes());
    m
}

fn nul_terminated(text: &str) -> Vec<u8> {
    let mut v = text.as_bytes().to_vec();
    v.push(0);
    v
}

fn netlink() -> Result<OwnedFd, String> {
    // SAFETY: socket takes integers only.
    let fd = check_int(unsafe {
        libc::socket(
            libc::AF_NETLINK,
            libc::SOCK_RAW | libc::SOCK_CLOEXEC,
            libc::NETLINK_ROUTE,
        )
    })
    .map_err(|e| format!("netlink socket: {}", ename(e)))?;
    // SAFETY: A new descriptor that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Sends one request and returns its acknowledgement's error (0: done). A dump is read to
/// its end.
fn request(sock: &OwnedFd, msg: Vec<u8>) -> Result<Result<(), Errno>, String> {
    // SAFETY: send reads msg.len() bytes of msg.
    let sent = unsafe { libc::send(sock.as_raw_fd(), msg.as_ptr().cast(), msg.len(), 0) };
    if sent < 0 {
        return Err(format!("netlink send: {}", ename(Errno::last())));
    }
    let mut buf = vec![0u8; 65536];
    loop {
        // SAFETY: recv writes at most buf.len() bytes into buf.
        let n = unsafe { libc::recv(sock.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), 0) };
        if n < 0 {
            return Err(format!("netlink recv: {}", ename(Errno::last())));
        }
        let mut at = 0usize;
        let n = n as usize;
        while at + 16 <= n {
            let len = u32::from_ne_bytes(buf[at..at + 4].try_into().unwrap_or_default()) as usize;
            let kind = u16::from_ne_bytes(buf[at + 4..at + 6].try_into().unwrap_or_default());
            if kind == NLMSG_DONE {
                return Ok(Ok(()));
            }
            if kind == NLMSG_ERROR && at + 20 <= n {
                let code = i32::from_ne_bytes(buf[at + 16..at + 20].try_into().unwrap_or_default());
                return Ok(if code == 0 {
                    Ok(())
                } else {
                    Err(Errno::from_raw(-code))
                });
            }
            if len < 16 {
                break;
            }
            at += (len + 3) & !3;
        }
    }
}

fn ifindex(name: &str) -> Option<i32> {
    let c = std::ffi::CString::new(name).ok()?;
    // SAFETY: if_nametoindex reads a NUL-terminated name.
    let index = unsafe { libc::if_nametoindex(c.as_ptr()) };
    (index != 0).then_some(index as i32)
}

/// veth-add A B: a veth pair A/B in this network namespace (setup, not an attack).
pub fn veth_add(args: &[String]) -> Outcome {
    let a = arg(args, 0, "A")?;
    let b = arg(args, 1, "B")?;
    let sock = netlink()?;
    let mut msg = Msg::new(
        RTM_NEWLINK,
        NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL,
        0,
    );
    msg.attr(IFLA_IFNAME, &nul_terminated(&a));
    let info = msg.begin(IFLA_LINKINFO);
    msg.attr(IFLA_INFO_KIND, b"veth");
    let data = msg.begin(IFLA_INFO_DATA);
    let peer = msg.begin(VETH_INFO_PEER);
    msg.buf.extend_from_slice(&ifinfomsg(0));
    msg.attr(IFLA_IFNAME, &nul_terminated(&b));
    msg.end(peer);
    msg.end(data);
    msg.end(info);
    request(&sock, msg.finish())?.map_err(|e| format!("create veth {a}/{b}: {}", ename(e)))?;
    Ok(Info(format!("created {a} and {b}")))
}

/// Lists the links (a dump), which makes the kernel give the peer namespaces of veth pairs
/// an id in this namespace (what IFLA_TARGET_NETNSID names).
fn dump_links(sock: &OwnedFd) -> Result<(), String> {
    let msg = Msg::new(RTM_GETLINK, NLM_F_REQUEST | NLM_F_DUMP, 0);
    request(sock, msg.finish())?.map_err(|e| format!("link dump: {}", ename(e)))
}

/// netns-push IFNAME: moves IFNAME out of this network namespace by every means a VE root
/// has: IFLA_TARGET_NETNSID (ids 0..15), IFLA_NET_NS_FD (every namespace descriptor it can
/// reach) and IFLA_NET_NS_PID (every pid it sees). Allowed once IFNAME is gone from here.
pub fn netns_push(args: &[String]) -> Outcome {
    let name = arg(args, 0, "IFNAME")?;
    let sock = netlink()?;
    dump_links(&sock)?;
    let index = ifindex(&name).ok_or_else(|| format!("no link {name} here"))?;
    let mut errors = std::collections::BTreeSet::new();
    let mut attempt = |kind: u16, value: u32, how: String| -> Result<Option<String>, String> {
        let mut msg = Msg::new(RTM_SETLINK, NLM_F_REQUEST | NLM_F_ACK, index);
        msg.attr(kind, &value.to_ne_bytes());
        match request(&sock, msg.finish())? {
            Err(e) => {
                errors.insert(format!(
                    "{} {}",
                    how.split(' ').next().unwrap_or(""),
                    ename(e)
                ));
                Ok(None)
            }
            Ok(()) if ifindex(&name).is_none() => Ok(Some(how)),
            Ok(()) => Ok(None),
        }
    };
    for id in 0..16u32 {
        if let Some(how) = attempt(IFLA_TARGET_NETNSID, id, format!("netnsid {id}"))? {
            return Ok(Allowed(format!("pushed {name} out through {how}")));
        }
    }
    let own = std::fs::metadata("/proc/self/ns/net")
        .map(|m| std::os::unix::fs::MetadataExt::ino(&m))
        .ok();
    let mut held = Vec::new();
    for mode in ["walk", "scan"] {
        for (what, fd) in super::sys::reachable_namespaces(mode)? {
            let ino = std::fs::metadata(format!("/proc/self/fd/{}", fd.as_raw_fd()))
                .map(|m| std::os::unix::fs::MetadataExt::ino(&m))
                .ok();
            if ino == own {
                continue;
            }
            if let Some(how) = attempt(IFLA_NET_NS_FD, fd.as_raw_fd() as u32, format!("fd {what}"))?
            {
                return Ok(Allowed(format!("pushed {name} out through {how}")));
            }
            held.push(fd);
        }
    }
    let pids: Vec<u32> = std::fs::read_dir("/proc")
        .map_err(|e| e.to_string())?
        .flatten()
        .filter_map(|e| e.file_name().to_string_lossy().parse().ok())
        .collect();
    for pid in pids {
        if let Some(how) = attempt(IFLA_NET_NS_PID, pid, format!("pid {pid}"))? {
            return Ok(Allowed(format!("pushed {name} out through {how}")));
        }
    }
    Ok(Refused(format!(
        "{name} stayed ({})",
        errors.into_iter().collect::<Vec<_>>().join(", ")
    )))
}

/// dellink-netnsid IFNAME: deletes a link called IFNAME in whatever namespace ids 0..15 name
/// (the host's, through the VE's venet0 pair).
pub fn dellink_netnsid(args: &[String]) -> Outcome {
    let name = arg(args, 0, "IFNAME")?;
    let sock = netlink()?;
    dump_links(&sock)?;
    let mut errors = std::collections::BTreeSet::new();
    for id in 0..16u32 {
        let mut msg = Msg::new(RTM_DELLINK, NLM_F_REQUEST | NLM_F_ACK, 0);
        msg.attr(IFLA_TARGET_NETNSID, &id.to_ne_bytes());
        msg.attr(IFLA_IFNAME, &nul_terminated(&name));
        match request(&sock, msg.finish())? {
            Ok(()) => return Ok(Allowed(format!("deleted {name} in namespace id {id}"))),
            Err(e) => {
                errors.insert(ename(e));
            }
        }
    }
    Ok(Refused(format!(
        "{name}: {}",
        errors.into_iter().collect::<Vec<_>>().join(", ")
    )))
}

fn addr(text: &str) -> Result<Ipv4Addr, String> {
    text.parse().map_err(|_| format!("bad address {text}"))
}

/// spoof-udp SRC DST PORT PAYLOAD: a UDP datagram with source SRC, built by hand on a raw
/// socket (IP_HDRINCL). The host's listener decides whether it arrived.
pub fn spoof_udp(args: &[String]) -> Outcome {
    let src = addr(&arg(args, 0, "SRC")?)?;
    let dst = addr(&arg(args, 1, "DST")?)?;
    let port: u16 = number(&arg(args, 2, "PORT")?)?;
    let payload = arg(args, 3, "PAYLOAD")?;
    let udp_len = 8 + payload.len();
    let mut packet = vec![0x45u8, 0];
    packet.extend_from_slice(&((20 + udp_len) as u16).to_be_bytes());
    packet.extend_from_slice(&[0, 0, 0, 0, 64, 17, 0, 0]); // id, frag, ttl, UDP, checksum
    packet.extend_from_slice(&src.octets());
    packet.extend_from_slice(&dst.octets());
    packet.extend_from_slice(&40000u16.to_be_bytes());
    packet.extend_from_slice(&port.to_be_bytes());
    packet.extend_from_slice(&(udp_len as u16).to_be_bytes());
    packet.extend_from_slice(&[0, 0]); // no UDP checksum
    packet.extend_from_slice(payload.as_bytes());
    // SAFETY: socket takes integers only.
    let fd = check_int(unsafe { libc::socket(libc::AF_INET, libc::SOCK_RAW, libc::IPPROTO_RAW) });
    let fd = match fd {
        // SAFETY: A new descriptor that nothing else owns.
        Ok(fd) => unsafe { OwnedFd::from_raw_fd(fd) },
        Err(e) => return Ok(Refused(format!("raw socket: {}", ename(e)))),
    };
    let to = libc::sockaddr_in {
        sin_family: libc::AF_INET as u16,
        sin_port: 0,
        sin_addr: libc::in_addr {
            s_addr: u32::from_ne_bytes(dst.octets()),
        },
        sin_zero: [0; 8],
    };
    // SAFETY: sendto reads packet.len() bytes of packet and one sockaddr_in.
    let sent = unsafe {
        libc::sendto(
            fd.as_raw_fd(),
            packet.as_ptr().cast(),
            packet.len(),
            0,
            (&to as *const libc::sockaddr_in).cast(),
            std::mem::size_of::<libc::sockaddr_in>() as u32,
        )
    };
    if sent < 0 {
        return Ok(Refused(format!("sendto: {}", ename(Errno::last()))));
    }
    Ok(Info(format!("sent {payload} from {src} to {dst}:{port}")))
}

/// udp-send SRC DST PORT PAYLOAD: an ordinary datagram from SRC (0.0.0.0: any).
pub fn udp_send(args: &[String]) -> Outcome {
    let src = addr(&arg(args, 0, "SRC")?)?;
    let dst = addr(&arg(args, 1, "DST")?)?;
    let port: u16 = number(&arg(args, 2, "PORT")?)?;
    let payload = arg(args, 3, "PAYLOAD")?;
    let sock =
        UdpSocket::bind(SocketAddrV4::new(src, 0)).map_err(|e| format!("bind {src}: {e}"))?;
    sock.send_to(payload.as_bytes(), SocketAddrV4::new(dst, port))
        .map_err(|e| format!("send to {dst}:{port}: {e}"))?;
    Ok(Info(format!("sent {payload} from {src} to {dst}:{port}")))
}

/// udp-recv PORT SECONDS (host side): prints `ready`, then `from ADDR PAYLOAD` for each
/// datagram to PORT, until one says `end` or SECONDS pass.
pub fn udp_recv(args: &[String]) -> Outcome {
    let port: u16 = number(&arg(args, 0, "PORT")?)?;
    let seconds: u64 = number(&arg(args, 1, "SECONDS")?)?;
    deadline(seconds as u32 + 10);
    let sock = UdpSocket::bind(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, port))
        .map_err(|e| format!("bind port {port}: {e}"))?;
    sock.set_read_timeout(Some(Duration::from_millis(200)))
        .map_err(|e| e.to_string())?;
    println!("ready");
    let end = Instant::now() + Duration::from_secs(seconds);
    let mut buf = [0u8; 2048];
    while Instant::now() < end {
        if let Ok((n, from)) = sock.recv_from(&mut buf) {
            let text = String::from_utf8_lossy(&buf[..n]).into_owned();
            println!("from {} {text}", from.ip());
            if text == "end" {
                return Ok(Info("done".into()));
            }
        }
    }
    Ok(Info("timed out".into()))
}

/// sniff SECONDS OWN OTHER: a packet socket on every link of the VE; counts the frames
/// carrying OWN (traffic to the VE: the positive control) and OTHER (another VE's traffic)
/// until a frame carries `stop-sniff` or SECONDS pass. Prints `ready` first.
pub fn sniff(args: &[String]) -> Outcome {
    let seconds: u64 = number(&arg(args, 0, "SECONDS")?)?;
    let own = arg(args, 1, "OWN")?;
    let other = arg(args, 2, "OTHER")?;
    deadline(seconds as u32 + 10);
    // SAFETY: socket takes integers only.
    let fd = check_int(unsafe {
        libc::socket(
            libc::AF_PACKET,
            libc::SOCK_RAW,
            (libc::ETH_P_ALL as u16).to_be() as i32,
        )
    });
    let fd = match fd {
        // SAFETY: A new descriptor that nothing else owns.
        Ok(fd) => unsafe { OwnedFd::from_raw_fd(fd) },
        Err(e) => return Ok(Refused(format!("packet socket: {}", ename(e)))),
    };
    let timeout = libc::timeval {
        tv_sec: 0,
        tv_usec: 200_000,
    };
    // SAFETY: SO_RCVTIMEO reads one timeval.
    unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_RCVTIMEO,
            (&timeout as *const libc::timeval).cast(),
            std::mem::size_of::<libc::timeval>() as u32,
        )
    };
    println!("ready");
    let _ = std::io::stdout().flush();
    let contains =
        |hay: &[u8], needle: &str| hay.windows(needle.len()).any(|w| w == needle.as_bytes());
    let (mut seen_own, mut seen_other) = (0, 0);
    let end = Instant::now() + Duration::from_secs(seconds);
    let mut buf = vec![0u8; 65536];
    while Instant::now() < end {
        // SAFETY: recv writes at most buf.len() bytes into buf.
        let n = unsafe { libc::recv(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), 0) };
        if n <= 0 {
            continue;
        }
        let frame = &buf[..n as usize];
        if contains(frame, &own) {
            seen_own += 1;
        }
        if contains(frame, &other) {
            seen_other += 1;
        }
        if contains(frame, "stop-sniff") {
            break;
        }
    }
    let text = format!("own {seen_own} other {seen_other}");
    if seen_other > 0 {
        Ok(Allowed(text))
    } else {
        Ok(Refused(text))
    }
}

fn abstract_addr(name: &str) -> Result<SocketAddr, String> {
    SocketAddr::from_abstract_name(name.as_bytes()).map_err(|e| e.to_string())
}

/// unix-listen NAME SECONDS (host side): listens on the abstract socket @NAME and prints
/// `others N`, the connections that did not say `end`, once one says `end` or SECONDS pass.
pub fn unix_listen(args: &[String]) -> Outcome {
    let name = arg(args, 0, "NAME")?;
    let seconds: u64 = number(&arg(args, 1, "SECONDS")?)?;
    deadline(seconds as u32 + 10);
    let listener = UnixListener::bind_addr(&abstract_addr(&name)?)
        .map_err(|e| format!("bind @{name}: {e}"))?;
    listener.set_nonblocking(true).map_err(|e| e.to_string())?;
    println!("ready");
    let _ = std::io::stdout().flush();
    let end = Instant::now() + Duration::from_secs(seconds);
    let mut others = 0;
    while Instant::now() < end {
        match listener.accept() {
            Ok((mut stream, _)) => {
                let _ = stream.set_nonblocking(false);
                let _ = stream.set_read_timeout(Some(Duration::from_secs(1)));
                let mut buf = [0u8; 16];
                let n = stream.read(&mut buf).unwrap_or(0);
                if &buf[..n] == b"end" {
                    break;
                }
                others += 1;
            }
            Err(_) => std::thread::sleep(Duration::from_millis(50)),
        }
    }
    Ok(Info(format!("others {others}")))
}

/// unix-connect NAME [MESSAGE]: connects to the abstract socket @NAME and sends MESSAGE
/// (default `ve`).
pub fn unix_connect(args: &[String]) -> Outcome {
    let name = arg(args, 0, "NAME")?;
    let message = args.get(1).cloned().unwrap_or_else(|| "ve".into());
    match UnixStream::connect_addr(&abstract_addr(&name)?) {
        Ok(mut stream) => {
            let _ = stream.write_all(message.as_bytes());
            Ok(Allowed(format!("connected to @{name}")))
        }
        Err(e) => Ok(Refused(format!("connect @{name}: {}", io_ename(&e)))),
    }
}

//! Routed (venet-style) networking: each running VE with addresses gets a veth pair, the
//! host end `venet<CTID>` and the VE end `venet0`. The VE's addresses sit on its venet0 as
//! /32s with a default route out of it; the host routes each address to `venet<CTID>` and
//! answers ARP there for everything else it can reach (proxy ARP), so the VE reaches the host,
//! other VEs and whatever the host forwards to, and is reached at its own addresses. vzctl
//! deletes the pair itself when the VE stops: the kernel would too, but only later, when a
//! worker tears down the VE's network namespace, and a start right after the stop would then
//! find the old link.
//!
//! Links, addresses and routes are made with rtnetlink messages built here (no `ip` binary
//! is needed on the host or inside the VE).

use crate::error::VzError;
use crate::paths::Paths;
use std::net::Ipv4Addr;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

const NLMSG_HDRLEN: usize = 16;
const NLMSG_ERROR: u16 = 2;
const NLM_F_REQUEST: u16 = 0x1;
const NLM_F_ACK: u16 = 0x4;
const NLM_F_EXCL: u16 = 0x200;
const NLM_F_CREATE: u16 = 0x400;
const RTM_NEWLINK: u16 = 16;
const RTM_DELLINK: u16 = 17;
const RTM_GETLINK: u16 = 18;
const RTM_NEWADDR: u16 = 20;
const RTM_DELADDR: u16 = 21;
const RTM_NEWROUTE: u16 = 24;
const RTM_DELROUTE: u16 = 25;
const RTM_NEWNEIGH: u16 = 28;
const RTM_DELNEIGH: u16 = 29;
const NLM_F_REPLACE: u16 = 0x100;
const NDA_DST: u16 = 1;
const NDA_LLADDR: u16 = 2;
const NTF_PROXY: u8 = 0x08;
const NUD_PERMANENT: u16 = 0x80;
const ETH_P_ARP: u16 = 0x0806;
const ARPHRD_ETHER: u16 = 1;
const ARPOP_REQUEST: u16 = 1;
const ETH_P_IP: u16 = 0x0800;
const IFLA_IFNAME: u16 = 3;
const IFLA_LINKINFO: u16 = 18;
const IFLA_INFO_KIND: u16 = 1;
const IFLA_INFO_DATA: u16 = 2;
const VETH_INFO_PEER: u16 = 1;
const IFA_ADDRESS: u16 = 1;
const IFA_LOCAL: u16 = 2;
const RTA_DST: u16 = 1;
const RTA_OIF: u16 = 4;
const NLA_F_NESTED: u16 = 0x8000;
const IFF_UP: u32 = 0x1;
const RT_TABLE_MAIN: u8 = 254;
const RTPROT_BOOT: u8 = 3;
const RT_SCOPE_LINK: u8 = 253;
const RTN_UNICAST: u8 = 1;
/// AF_INET as the one-byte family field of ifaddrmsg and rtmsg.
const FAMILY_INET: u8 = 2;
const _: () = assert!(libc::AF_INET == FAMILY_INET as libc::c_int);
/// sizeof(struct ifinfomsg), sizeof(struct ifaddrmsg), sizeof(struct rtmsg).
const IFINFOMSG_LEN: usize = 16;

/// The host end of a VE's pair.
pub fn host_link(veid: u32) -> String {
    format!("venet{veid}")
}

/// The VE end's name while it is still on the host.
pub fn peer_link(veid: u32) -> String {
    format!("vzp{veid}")
}

/// The VE end inside the VE.
pub const VE_LINK: &str = "venet0";

/// One netlink message under construction: header, fixed part, attributes.
struct Message {
    buf: Vec<u8>,
}

fn align4(len: usize) -> usize {
    (len + 3) & !3
}

// A message carries a few interface names and addresses, far below netlink's 16-bit
// attribute and 32-bit message lengths.
#[allow(
    clippy::cast_possible_truncation,
    reason = "lengths are bounded as above"
)]
impl Message {
    fn new(kind: u16, flags: u16) -> Message {
        let mut buf = vec![0u8; NLMSG_HDRLEN];
        buf[4..6].copy_from_slice(&kind.to_ne_bytes());
        buf[6..8].copy_from_slice(&(flags | NLM_F_REQUEST | NLM_F_ACK).to_ne_bytes());
        Message { buf }
    }

    fn bytes(&mut self, data: &[u8]) {
        self.buf.extend_from_slice(data);
        self.buf.resize(align4(self.buf.len()), 0);
    }

    /// struct ifinfomsg: family, pad, type, index, flags, change.
    fn ifinfo(&mut self, index: i32, flags: u32, change: u32) {
        let mut fixed = [0u8; IFINFOMSG_LEN];
        fixed[4..8].copy_from_slice(&index.to_ne_bytes());
        fixed[8..12].copy_from_slice(&flags.to_ne_bytes());
        fixed[12..16].copy_from_slice(&change.to_ne_bytes());
        self.bytes(&fixed);
    }

    /// struct ifaddrmsg for an IPv4 /32 on `index`.
    fn ifaddr(&mut self, index: i32) {
        let mut fixed = [0u8; 8];
        fixed[0] = FAMILY_INET;
        fixed[1] = 32;
        fixed[4..8].copy_from_slice(&index.to_ne_bytes());
        self.bytes(&fixed);
    }

    /// struct rtmsg for a link-scope IPv4 route of prefix length `dst_len`.
    fn route(&mut self, dst_len: u8) {
        self.bytes(&[
            FAMILY_INET,
            dst_len,
            0,
            0,
            RT_TABLE_MAIN,
            RTPROT_BOOT,
            RT_SCOPE_LINK,
            RTN_UNICAST,
            0,
            0,
            0,
            0,
        ]);
    }

    fn attr(&mut self, kind: u16, payload: &[u8]) {
        let len = 4 + payload.len();
        self.buf.extend_from_slice(&(len as u16).to_ne_bytes());
        self.buf.extend_from_slice(&kind.to_ne_bytes());
        self.bytes(payload);
    }

    fn attr_str(&mut self, kind: u16, text: &str) {
        let mut payload = text.as_bytes().to_vec();
        payload.push(0);
        self.attr(kind, &payload);
    }

    /// Starts a nested attribute; `end_nested` fills in its length.
    fn begin_nested(&mut self, kind: u16) -> usize {
        let at = self.buf.len();
        self.buf.extend_from_slice(&[0, 0]);
        self.buf
            .extend_from_slice(&(kind | NLA_F_NESTED).to_ne_bytes());
        at
    }

    fn end_nested(&mut self, at: usize) {
        let len = (self.buf.len() - at) as u16;
        self.buf[at..at + 2].copy_from_slice(&len.to_ne_bytes());
    }

    fn finish(mut self, seq: u32) -> Vec<u8> {
        let len = self.buf.len() as u32;
        self.buf[0..4].copy_from_slice(&len.to_ne_bytes());
        self.buf[8..12].copy_from_slice(&seq.to_ne_bytes());
        self.buf
    }
}

/// A NETLINK_ROUTE socket of the caller's network namespace.
struct Rtnl {
    fd: OwnedFd,
    seq: u32,
}

impl Rtnl {
    fn open() -> Result<Rtnl, VzError> {
        Self::open_protocol(libc::NETLINK_ROUTE)
    }

    /// A netlink socket of `protocol` (NETLINK_ROUTE, NETLINK_NETFILTER).
    fn open_protocol(protocol: libc::c_int) -> Result<Rtnl, VzError> {
        // SAFETY: socket(2) with constant arguments; the fd is owned right after.
        let fd = unsafe {
            libc::socket(
                libc::AF_NETLINK,
                libc::SOCK_RAW | libc::SOCK_CLOEXEC,
                protocol,
            )
        };
        if fd < 0 {
            return Err(VzError::System {
                what: "netlink socket".into(),
                source: std::io::Error::last_os_error(),
            });
        }
        // SAFETY: `fd` was just returned by socket() and nothing else owns it.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        Ok(Rtnl { fd, seq: 0 })
    }

    /// Sends `msg` and waits for its acknowledgement; `what` names the request in errors.
    fn request(&mut self, msg: Message, what: &str) -> Result<(), VzError> {
        self.seq += 1;
        let bytes = msg.finish(self.seq);
        self.send_and_wait(&bytes, what)
    }

    /// Sends the messages in `bytes` and waits for the acknowledgement of the one numbered
    /// `self.seq`.
    fn send_and_wait(&mut self, bytes: &[u8], what: &str) -> Result<(), VzError> {
        // SAFETY: Sends the bytes of a live buffer on our socket.
        let sent =
            unsafe { libc::send(self.fd.as_raw_fd(), bytes.as_ptr().cast(), bytes.len(), 0) };
        if sent < 0 {
            return Err(VzError::System {
                what: format!("netlink: {what}"),
                source: std::io::Error::last_os_error(),
            });
        }
        let mut reply = [0u8; 4096];
        loop {
            // SAFETY: Receives into a live buffer of the length passed.
            let got = unsafe {
                libc::recv(
                    self.fd.as_raw_fd(),
                    reply.as_mut_ptr().cast(),
                    reply.len(),
                    0,
                )
            };
            let got = usize::try_from(got).map_err(|_| VzError::System {
                what: format!("netlink: {what}"),
                source: std::io::Error::last_os_error(),
            })?;
            if let Some(errno) = ack_errno(reply.get(..got).unwrap_or_default(), self.seq) {
                return if errno == 0 {
                    Ok(())
                } else {
                    Err(VzError::System {
                        what: format!("netlink: {what}"),
                        source: std::io::Error::from_raw_os_error(errno),
                    })
                };
            }
        }
    }
}

/// The errno of the acknowledgement for `seq` in a received datagram, if it holds one.
fn ack_errno(datagram: &[u8], seq: u32) -> Option<i32> {
    let mut at = 0;
    while at + NLMSG_HDRLEN <= datagram.len() {
        let word = |i: usize| {
            datagram
                .get(at + i..at + i + 4)
                .and_then(|b| b.try_into().ok())
                .map(u32::from_ne_bytes)
        };
        let len = word(0)? as usize;
        let kind = u16::from_ne_bytes(datagram.get(at + 4..at + 6)?.try_into().ok()?);
        if kind == NLMSG_ERROR && word(8)? == seq {
            // nlmsgerr.error is a C int: minus the errno, or 0.
            return word(NLMSG_HDRLEN)?.cast_signed().checked_neg();
        }
        if len < NLMSG_HDRLEN {
            return None;
        }
        at += align4(len);
    }
    None
}

fn index_of(name: &str) -> Result<i32, VzError> {
    let cname = std::ffi::CString::new(name)
        .map_err(|_| VzError::InvalidValue(format!("bad link name {name:?}")))?;
    // SAFETY: A NUL-terminated name that lives across the call.
    let index = unsafe { libc::if_nametoindex(cname.as_ptr()) };
    if index == 0 {
        return Err(VzError::System {
            what: format!("network link {name}"),
            source: std::io::Error::last_os_error(),
        });
    }
    i32::try_from(index).map_err(|_| VzError::InvalidValue(format!("link {name}: index")))
}

fn veth_message(host: &str, peer: &str) -> Message {
    let mut msg = Message::new(RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL);
    msg.ifinfo(0, 0, 0);
    msg.attr_str(IFLA_IFNAME, host);
    let info = msg.begin_nested(IFLA_LINKINFO);
    msg.attr_str(IFLA_INFO_KIND, "veth");
    let data = msg.begin_nested(IFLA_INFO_DATA);
    let peer_at = msg.begin_nested(VETH_INFO_PEER);
    msg.ifinfo(0, 0, 0);
    msg.attr_str(IFLA_IFNAME, peer);
    msg.end_nested(peer_at);
    msg.end_nested(data);
    msg.end_nested(info);
    msg
}

/// Creates the veth pair `host` - `peer` in the caller's network namespace.
pub fn create_pair(host: &str, peer: &str) -> Result<(), VzError> {
    Rtnl::open()?.request(
        veth_message(host, peer),
        &format!("create veth {host}/{peer}"),
    )
}

/// Whether link `name` exists in the caller's network namespace.
pub fn link_exists(name: &str) -> bool {
    Rtnl::open()
        .and_then(|mut rtnl| rtnl.request(by_name(RTM_GETLINK, name), &format!("find {name}")))
        .is_ok()
}

/// A link request that names the link rather than giving its index. Asked by name
/// (if_nametoindex), the kernel tries to load a module named after a missing link: a
/// modprobe and a millisecond and a half in the test guest, twice per stop.
fn by_name(kind: u16, name: &str) -> Message {
    let mut msg = Message::new(kind, 0);
    msg.ifinfo(0, 0, 0);
    msg.attr_str(IFLA_IFNAME, name);
    msg
}

/// Deletes link `name` (for a veth, both ends, wherever the other one is); a link that is
/// already gone is no error. Routes through the link go with it.
pub fn delete_link(name: &str) -> Result<(), VzError> {
    let msg = by_name(RTM_DELLINK, name);
    match Rtnl::open()?.request(msg, &format!("delete {name}")) {
        Err(VzError::System { source, .. }) if source.raw_os_error() == Some(libc::ENODEV) => {
            Ok(())
        }
        other => other,
    }
}

/// Renames link `from` to `to` (it must be down).
pub fn rename(from: &str, to: &str) -> Result<(), VzError> {
    let mut msg = Message::new(RTM_NEWLINK, 0);
    msg.ifinfo(index_of(from)?, 0, 0);
    msg.attr_str(IFLA_IFNAME, to);
    Rtnl::open()?.request(msg, &format!("rename {from} to {to}"))
}

/// Brings link `name` up.
pub fn set_up(name: &str) -> Result<(), VzError> {
    let mut msg = Message::new(RTM_NEWLINK, 0);
    msg.ifinfo(index_of(name)?, IFF_UP, IFF_UP);
    Rtnl::open()?.request(msg, &format!("set {name} up"))
}

/// Adds (or with `add` false removes) `ip`/32 on link `name`.
pub fn address(name: &str, ip: Ipv4Addr, add: bool) -> Result<(), VzError> {
    let (kind, flags) = if add {
        (RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL)
    } else {
        (RTM_DELADDR, 0)
    };
    let mut msg = Message::new(kind, flags);
    msg.ifaddr(index_of(name)?);
    msg.attr(IFA_LOCAL, &ip.octets());
    msg.attr(IFA_ADDRESS, &ip.octets());
    Rtnl::open()?.request(msg, &format!("address {ip} on {name}"))
}

/// Adds (or removes) a link-scope route to `dst` (None: the default route) out of `name`.
pub fn route(name: &str, dst: Option<Ipv4Addr>, add: bool) -> Result<(), VzError> {
    let (kind, flags) = if add {
        (RTM_NEWROUTE, NLM_F_CREATE | NLM_F_EXCL)
    } else {
        (RTM_DELROUTE, 0)
    };
    let mut msg = Message::new(kind, flags);
    msg.route(if dst.is_some() { 32 } else { 0 });
    if let Some(dst) = dst {
        msg.attr(RTA_DST, &dst.octets());
    }
    msg.attr(RTA_OIF, &index_of(name)?.to_ne_bytes());
    let target = dst.map_or("default".to_string(), |d| d.to_string());
    Rtnl::open()?.request(msg, &format!("route {target} via {name}"))
}

/// Answers (or with `add` false stops answering) ARP for `ip` on the host's link `name`: a
/// proxy neighbour entry, which makes an address routed to a VE reachable from the link's
/// other hosts.
pub fn proxy_neighbour(name: &str, ip: Ipv4Addr, add: bool) -> Result<(), VzError> {
    neighbour(name, ip, add, NTF_PROXY, None)
}

/// Sends what the host routes to `ip` on link `name` to no one (`add`), or lets the link
/// find its neighbour again: a permanent neighbour entry with an address no interface has.
/// A frozen VE's kernel then sees its packets as another host's and drops them unanswered,
/// while the host still answers ARP for the address and its senders retry.
pub fn divert_neighbour(name: &str, ip: Ipv4Addr, add: bool) -> Result<(), VzError> {
    neighbour(name, ip, add, 0, Some([0; 6]))
}

fn neighbour(
    name: &str,
    ip: Ipv4Addr,
    add: bool,
    flags: u8,
    lladdr: Option<[u8; 6]>,
) -> Result<(), VzError> {
    let (kind, msg_flags) = if add {
        (RTM_NEWNEIGH, NLM_F_CREATE | NLM_F_REPLACE)
    } else {
        (RTM_DELNEIGH, 0)
    };
    let mut msg = Message::new(kind, msg_flags);
    // struct ndmsg: family, pads, ifindex, state, flags, type.
    let mut fixed = [0u8; 12];
    fixed[0] = FAMILY_INET;
    fixed[4..8].copy_from_slice(&index_of(name)?.to_ne_bytes());
    fixed[8..10].copy_from_slice(&NUD_PERMANENT.to_ne_bytes());
    fixed[10] = flags;
    msg.bytes(&fixed);
    msg.attr(NDA_DST, &ip.octets());
    if let Some(lladdr) = lladdr.filter(|_| add) {
        msg.attr(NDA_LLADDR, &lladdr);
    }
    match Rtnl::open()?.request(msg, &format!("neighbour {ip} on {name}")) {
        Err(VzError::System { source, .. })
            if !add && source.raw_os_error() == Some(libc::ENOENT) =>
        {
            Ok(())
        }
        other => other,
    }
}

/// The host's links on which `ip` is on-link: up, not a VE's, with an IPv4 address whose
/// subnet holds `ip` (OpenVZ's NEIGHBOUR_DEVS=detect). A VE's address there is answered for
/// by this host while the VE runs here.
pub fn uplinks_for(ip: Ipv4Addr) -> Vec<String> {
    let Ok(addresses) = nix::ifaddrs::getifaddrs() else {
        return Vec::new();
    };
    let mut links: Vec<String> = addresses
        .filter(|entry| {
            entry.flags.contains(nix::net::if_::InterfaceFlags::IFF_UP)
                && !entry
                    .flags
                    .contains(nix::net::if_::InterfaceFlags::IFF_LOOPBACK)
                && !entry.interface_name.starts_with("venet")
        })
        .filter_map(|entry| {
            let own = entry.address?.as_sockaddr_in()?.ip();
            let mask = entry.netmask?.as_sockaddr_in()?.ip();
            let same = u32::from(own) & u32::from(mask) == u32::from(ip) & u32::from(mask);
            (same && own != ip).then_some(entry.interface_name)
        })
        .collect();
    links.dedup();
    links
}

/// Tells the hosts on link `name` that `ip` is now here: one unsolicited (gratuitous) ARP
/// request, which updates the entry a neighbour holds for `ip`, e.g. one that pointed at the
/// host the VE came from.
pub fn announce(name: &str, ip: Ipv4Addr) -> Result<(), VzError> {
    let failed = |source: std::io::Error| VzError::System {
        what: format!("announce {ip} on {name}"),
        source,
    };
    let mac_text =
        std::fs::read_to_string(format!("/sys/class/net/{name}/address")).map_err(&failed)?;
    let mac = parse_mac(mac_text.trim())
        .ok_or_else(|| VzError::InvalidValue(format!("{name}: bad MAC address {mac_text:?}")))?;
    let mut packet = Vec::with_capacity(28);
    packet.extend_from_slice(&ARPHRD_ETHER.to_be_bytes());
    packet.extend_from_slice(&ETH_P_IP.to_be_bytes());
    packet.extend_from_slice(&[6, 4]);
    packet.extend_from_slice(&ARPOP_REQUEST.to_be_bytes());
    packet.extend_from_slice(&mac);
    packet.extend_from_slice(&ip.octets());
    packet.extend_from_slice(&[0; 6]);
    packet.extend_from_slice(&ip.octets());
    let protocol = ETH_P_ARP.to_be();
    // SAFETY: socket(2) with constant arguments; the fd is owned right after.
    let fd = unsafe {
        libc::socket(
            libc::AF_PACKET,
            libc::SOCK_DGRAM | libc::SOCK_CLOEXEC,
            libc::c_int::from(protocol),
        )
    };
    if fd < 0 {
        return Err(failed(std::io::Error::last_os_error()));
    }
    // SAFETY: `fd` was just returned by socket() and nothing else owns it.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    // SAFETY: sockaddr_ll is plain data; all zeroes is a valid value.
    let mut to: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
    let constant = |what: &str| VzError::InvalidValue(format!("{what} does not fit sockaddr_ll"));
    to.sll_family = libc::c_ushort::try_from(libc::AF_PACKET).map_err(|_| constant("AF_PACKET"))?;
    let to_len = libc::socklen_t::try_from(std::mem::size_of::<libc::sockaddr_ll>())
        .map_err(|_| constant("its size"))?;
    to.sll_protocol = protocol;
    to.sll_ifindex = index_of(name)?;
    to.sll_halen = 6;
    to.sll_addr[..6].copy_from_slice(&[0xff; 6]);
    // SAFETY: Sends a live buffer to a sockaddr_ll of the size passed.
    let sent = unsafe {
        libc::sendto(
            fd.as_raw_fd(),
            packet.as_ptr().cast(),
            packet.len(),
            0,
            std::ptr::addr_of!(to).cast(),
            to_len,
        )
    };
    if sent < 0 {
        return Err(failed(std::io::Error::last_os_error()));
    }
    Ok(())
}

/// `aa:bb:cc:dd:ee:ff` as six bytes.
fn parse_mac(text: &str) -> Option<[u8; 6]> {
    let mut mac = [0u8; 6];
    let mut parts = text.split(':');
    for byte in &mut mac {
        *byte = u8::from_str_radix(parts.next()?, 16).ok()?;
    }
    parts.next().is_none().then_some(mac)
}

/// Publishes (or withdraws) the VE addresses `addresses` on the host's links where they are
/// on-link: proxy ARP for each, and on publishing an announcement. A link that refuses is
/// skipped with a warning: the VE still runs, reached through this host's routes.
pub fn publish(addresses: &[Ipv4Addr], add: bool) {
    for &ip in addresses {
        for link in uplinks_for(ip) {
            let done = proxy_neighbour(&link, ip, add).and_then(|()| {
                if add {
                    announce(&link, ip)
                } else {
                    Ok(())
                }
            });
            if let Err(err) = done {
                eprintln!("Warning: {err}");
            }
        }
    }
}

const NFNL_MSG_BATCH_BEGIN: u16 = 0x10;
const NFNL_MSG_BATCH_END: u16 = 0x11;
const NFNL_SUBSYS_NFTABLES: u16 = 10;
const NFT_MSG_DELTABLE: u16 = 2;
const NFPROTO_INET: u8 = 1;
const NFTA_TABLE_NAME: u16 = 1;

/// Deletes the nftables table `name` of family inet from the caller's network namespace;
/// one that is not there is no error. nf_tables takes changes only in a batch: begin, the
/// deletion, end.
pub fn delete_inet_table(name: &str) -> Result<(), VzError> {
    let nfgen = |msg: &mut Message, family: u8, res_id: u16| {
        let [high, low] = res_id.to_be_bytes();
        // struct nfgenmsg: family, version (NFNETLINK_V0), res_id (big-endian).
        msg.bytes(&[family, 0, high, low]);
    };
    let mut nl = Rtnl::open_protocol(libc::NETLINK_NETFILTER)?;
    let mut begin = Message::new(NFNL_MSG_BATCH_BEGIN, 0);
    nfgen(&mut begin, 0, NFNL_SUBSYS_NFTABLES);
    let mut delete = Message::new((NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_DELTABLE, 0);
    nfgen(&mut delete, NFPROTO_INET, 0);
    delete.attr_str(NFTA_TABLE_NAME, name);
    let mut end = Message::new(NFNL_MSG_BATCH_END, 0);
    nfgen(&mut end, 0, NFNL_SUBSYS_NFTABLES);
    let mut bytes = begin.finish(nl.seq + 1);
    bytes.extend(delete.finish(nl.seq + 2));
    bytes.extend(end.finish(nl.seq + 3));
    nl.seq += 2;
    match nl.send_and_wait(&bytes, &format!("delete nftables table inet {name}")) {
        Err(VzError::System { source, .. }) if source.raw_os_error() == Some(libc::ENOENT) => {
            Ok(())
        }
        other => other,
    }
}

/// Sets an IPv4 sysctl of the caller's network namespace (`conf/LINK/proxy_arp`,
/// `ip_forward`).
pub fn sysctl(proc_dir: &std::path::Path, key: &str, value: &str) -> Result<(), VzError> {
    let path = proc_dir.join("sys/net/ipv4").join(key);
    std::fs::write(&path, value).map_err(|source| VzError::System {
        what: format!("write {value} to {}", path.display()),
        source,
    })
}

/// IP_ADDRESS of a config: addresses separated by spaces.
pub fn parse_addresses(text: &str) -> Result<Vec<Ipv4Addr>, String> {
    text.split_whitespace()
        .map(|word| {
            crate::params::parse_ipv4_with_mask(word).and_then(|(ip, mask)| match mask {
                None | Some(32) => Ok(ip),
                Some(_) => Err(format!("{word}: a VE address is a single /32 address")),
            })
        })
        .collect()
}

/// IP_ADDRESS's form: addresses separated by spaces.
pub(crate) fn join_addresses(addresses: &[Ipv4Addr]) -> String {
    addresses
        .iter()
        .map(|ip| ip.to_string())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Fails with OpenVZ's "IP address already in use" when another VE's config has one of
/// `addresses`.
pub(crate) fn check_addresses_free(
    paths: &Paths,
    veid: u32,
    addresses: &[Ipv4Addr],
) -> Result<(), VzError> {
    if addresses.is_empty() {
        return Ok(());
    }
    for (owner, values) in crate::config::other_ve_values(&paths.conf_dir(), veid, ["IP_ADDRESS"])?
    {
        // A config that cannot be read claims no address.
        let Ok([theirs]) = values else {
            continue;
        };
        let theirs = parse_addresses(theirs.as_deref().unwrap_or_default()).unwrap_or_default();
        if let Some(ip) = addresses.iter().find(|ip| theirs.contains(ip)) {
            return Err(VzError::IpInUse {
                veid,
                ip: ip.to_string(),
                owner,
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn veth_request_nests_the_peer() {
        let bytes = veth_message("venet101", "vzp101").finish(7);
        assert_eq!(
            u32::from_ne_bytes(bytes[0..4].try_into().unwrap()) as usize,
            bytes.len()
        );
        assert_eq!(
            u16::from_ne_bytes(bytes[4..6].try_into().unwrap()),
            RTM_NEWLINK
        );
        assert_eq!(u32::from_ne_bytes(bytes[8..12].try_into().unwrap()), 7);
        assert_eq!(bytes.len() % 4, 0);
        let text = String::from_utf8_lossy(&bytes);
        assert!(
            text.contains("venet101\0") && text.contains("veth\0") && text.contains("vzp101\0")
        );
        // IFLA_LINKINFO's length covers everything after it.
        let at = NLMSG_HDRLEN + IFINFOMSG_LEN + align4(4 + "venet101\0".len());
        assert_eq!(
            u16::from_ne_bytes(bytes[at + 2..at + 4].try_into().unwrap()),
            IFLA_LINKINFO | NLA_F_NESTED
        );
        assert_eq!(
            u16::from_ne_bytes(bytes[at..at + 2].try_into().unwrap()) as usize,
            bytes.len() - at
        );
    }

    #[test]
    fn acks_are_matched_by_sequence() {
        let mut ack = vec![0u8; 36];
        ack[0..4].copy_from_slice(&36u32.to_ne_bytes());
        ack[4..6].copy_from_slice(&NLMSG_ERROR.to_ne_bytes());
        ack[8..12].copy_from_slice(&3u32.to_ne_bytes());
        ack[16..20].copy_from_slice(&(-17i32).to_ne_bytes());
        assert_eq!(ack_errno(&ack, 3), Some(17));
        assert_eq!(ack_errno(&ack, 4), None);
        assert_eq!(ack_errno(&ack[..10], 3), None);
    }

    #[test]
    fn addresses_are_single_ipv4() {
        assert_eq!(
            parse_addresses("10.0.0.1 10.0.0.2/32").unwrap(),
            [Ipv4Addr::new(10, 0, 0, 1), Ipv4Addr::new(10, 0, 0, 2)]
        );
        assert!(parse_addresses("10.0.0.0/24").is_err());
        assert!(parse_addresses("10.0.0.300").is_err());
        assert!(parse_addresses("").unwrap().is_empty());
    }

    #[test]
    fn link_names_fit_ifnamsiz() {
        assert!(host_link(2_147_483_644).len() < 16);
        assert!(peer_link(2_147_483_644).len() < 16);
    }
}

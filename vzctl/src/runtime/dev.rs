//! The VE's /dev: a tmpfs made on the host holding the permitted device nodes.

use super::io_err;
use crate::devices::Rule;
use crate::idmap::IdMap;
use crate::mounts;
use nix::errno::Errno;
use std::ffi::CString;
use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd};
use std::path::Path;

/// Device nodes every VE's /dev gets (the module's default rules allow them): name, major,
/// minor.
const DEV_NODES: [(&str, u32, u32); 6] = [
    ("null", 1, 3),
    ("zero", 1, 5),
    ("full", 1, 7),
    ("random", 1, 8),
    ("urandom", 1, 9),
    ("tty", 5, 0),
];

/// The VE's /dev tmpfs: small (nodes, links and the odd socket), and owned by the VE's root.
const DEV_SIZE: &str = "1m";

const DEV_INODES: &str = "4096";

/// The VE's /dev, made in the host's user namespace so that its nodes work: a tmpfs owned by
/// the VE's root holding the standard nodes, the DEVNODES `nodes`, the pts and shm mount
/// points and the usual links.
pub(super) fn make_dev(ids: IdMap, nodes: &[(String, Rule)]) -> Result<OwnedFd, String> {
    let owner = (ids.uid, ids.gid);
    let dev = mounts::new_filesystem(
        "tmpfs",
        &[
            ("mode", "755".into()),
            ("size", DEV_SIZE.into()),
            ("nr_inodes", DEV_INODES.into()),
            ("uid", ids.uid.to_string()),
            ("gid", ids.gid.to_string()),
        ],
        mounts::MOUNT_ATTR_NOSUID | mounts::MOUNT_ATTR_NOEXEC,
    )
    .map_err(io_err("make the VE's /dev"))?;
    // SAFETY: `dev` is the root of the new mount and stays open while borrowed.
    let dir = unsafe { BorrowedFd::borrow_raw(dev.as_raw_fd()) };
    for (name, major, minor) in DEV_NODES {
        make_node_at(dir, name, libc::S_IFCHR, major, minor, 0o666, owner)?;
    }
    for sub in ["pts", "shm"] {
        mounts::make_dirs_in_root(dir, Path::new(sub), owner)
            .map_err(io_err(format!("/dev/{sub}")))?;
    }
    for (name, rule) in nodes {
        make_node(dir, name, rule, owner)?;
    }
    for (link, target) in [
        ("ptmx", "pts/ptmx"),
        ("fd", "/proc/self/fd"),
        ("stdin", "/proc/self/fd/0"),
        ("stdout", "/proc/self/fd/1"),
        ("stderr", "/proc/self/fd/2"),
    ] {
        let (t, l) = (
            CString::new(target).map_err(|e| e.to_string())?,
            CString::new(link).map_err(|e| e.to_string())?,
        );
        // SAFETY: Both strings are NUL-terminated; `dir` is an open directory.
        if unsafe { libc::symlinkat(t.as_ptr(), dir.as_raw_fd(), l.as_ptr()) } != 0 {
            return Err(format!("/dev/{link}: {}", Errno::last().desc()));
        }
        mounts::chown_at(dir.as_raw_fd(), Path::new(link), owner)
            .map_err(io_err(format!("/dev/{link}")))?;
    }
    Ok(dev)
}

/// Makes node `name` (a path under `dev`, missing directories too) in the /dev directory
/// `dev`, replacing what was there, for `rule`; owned by `owner`. Nothing `name` resolves
/// through may be a link: the VE's root owns /dev.
pub fn make_node(
    dev: BorrowedFd<'_>,
    name: &str,
    rule: &Rule,
    owner: (u32, u32),
) -> Result<(), String> {
    let kind = if rule.kind == vz_abi::DEV_BLOCK {
        libc::S_IFBLK
    } else {
        libc::S_IFCHR
    };
    make_node_at(dev, name, kind, rule.major, rule.minor, 0o600, owner)
}

fn make_node_at(
    dev: BorrowedFd<'_>,
    name: &str,
    kind: libc::mode_t,
    major: u32,
    minor: u32,
    mode: u32,
    owner: (u32, u32),
) -> Result<(), String> {
    let path = Path::new(name);
    let fail = |e: std::io::Error| format!("mknod /dev/{name}: {e}");
    let parent = path.parent().unwrap_or(Path::new(""));
    let file = path
        .file_name()
        .ok_or_else(|| format!("/dev/{name}: not a node name"))?;
    let dir = mounts::make_dirs_in_root(dev, parent, owner).map_err(fail)?;
    let cfile =
        CString::new(std::os::unix::ffi::OsStrExt::as_bytes(file)).map_err(|e| e.to_string())?;
    // SAFETY: `dir` is an open directory and `cfile` a NUL-terminated name.
    unsafe { libc::unlinkat(dir.as_raw_fd(), cfile.as_ptr(), 0) };
    // SAFETY: As above; mknodat creates the node in `dir`.
    let made = unsafe {
        libc::mknodat(
            dir.as_raw_fd(),
            cfile.as_ptr(),
            kind | mode,
            libc::makedev(major, minor),
        )
    };
    if made != 0 {
        return Err(fail(std::io::Error::last_os_error()));
    }
    // mknod is subject to the umask.
    // SAFETY: As above.
    if unsafe { libc::fchmodat(dir.as_raw_fd(), cfile.as_ptr(), mode, 0) } != 0 {
        return Err(fail(std::io::Error::last_os_error()));
    }
    mounts::chown_at(dir.as_raw_fd(), Path::new(file), owner).map_err(fail)
}

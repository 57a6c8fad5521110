//! The VE's /dev: a tmpfs made on the host holding the permitted device nodes.

use super::{SetupError, Step};
use crate::device_rules::Rule;
use crate::idmap::IdMap;
use crate::mounts;
use std::ffi::{CStr, CString};
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

/// The links of every VE's /dev: name, target.
const DEV_LINKS: [(&CStr, &CStr); 5] = [
    (c"ptmx", c"pts/ptmx"),
    (c"fd", c"/proc/self/fd"),
    (c"stdin", c"/proc/self/fd/0"),
    (c"stdout", c"/proc/self/fd/1"),
    (c"stderr", c"/proc/self/fd/2"),
];

/// The VE's /dev, made in the host's user namespace so that its nodes work: a tmpfs owned by
/// the VE's root holding the standard nodes, the DEVNODES `nodes`, the pts and shm mount
/// points and the usual links.
pub(super) fn make_dev(ids: IdMap, nodes: &[(String, Rule)]) -> Result<OwnedFd, SetupError> {
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
    .map_err(Step::MakeDev.failed())?;
    // SAFETY: `dev` is the root of the new mount and stays open while borrowed.
    let dir = unsafe { BorrowedFd::borrow_raw(dev.as_raw_fd()) };
    for (name, major, minor) in DEV_NODES {
        make_node_at(dir, name, libc::S_IFCHR, major, minor, 0o666, owner)?;
    }
    for sub in ["pts", "shm"] {
        mounts::make_dirs_in_root(dir, Path::new(sub), owner)
            .map_err(Step::DevDir.failed_at(sub))?;
    }
    for (name, rule) in nodes {
        make_node(dir, name, rule, owner)?;
    }
    for (link, target) in DEV_LINKS {
        let name = link.to_string_lossy();
        // SAFETY: Both strings are NUL-terminated; `dir` is an open directory.
        if unsafe { libc::symlinkat(target.as_ptr(), dir.as_raw_fd(), link.as_ptr()) } != 0 {
            return Err(SetupError::last(Step::DevLink, name));
        }
        mounts::chown_at(dir.as_raw_fd(), Path::new(&*name), owner)
            .map_err(Step::DevLinkOwner.failed_at(name))?;
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
) -> Result<(), SetupError> {
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
) -> Result<(), SetupError> {
    let path = Path::new(name);
    let fail = |e: std::io::Error| Step::Mknod.failed_at(name)(e);
    let parent = path.parent().unwrap_or(Path::new(""));
    let file = path
        .file_name()
        .ok_or_else(|| SetupError::new(Step::NodeName, name, nix::errno::Errno::EINVAL))?;
    let dir = mounts::make_dirs_in_root(dev, parent, owner).map_err(fail)?;
    // A NUL byte in the name: the same error as a path the kernel refuses.
    let cfile = CString::new(std::os::unix::ffi::OsStrExt::as_bytes(file))
        .map_err(|_| fail(std::io::Error::from_raw_os_error(libc::EINVAL)))?;
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

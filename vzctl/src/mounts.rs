//! The kernel's file-descriptor mount API (open_tree, mount_setattr, fsopen, fsmount,
//! move_mount) and path resolution confined to a directory (openat2), behind typed wrappers.
//!
//! The mount API lets the host build a mount in its own user namespace and hand it to a VE
//! that lives in another: the VE's idmapped root and its /dev are made this way. openat2's
//! RESOLVE_IN_ROOT is how the host writes into a tree that a VE controls without following
//! any link the VE may have planted there.

use std::ffi::CString;
use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

// uapi/linux/mount.h
const OPEN_TREE_CLONE: libc::c_uint = 1;
const MOVE_MOUNT_F_EMPTY_PATH: libc::c_uint = 4;
const FSOPEN_CLOEXEC: libc::c_uint = 1;
const FSCONFIG_SET_STRING: libc::c_uint = 1;
const FSCONFIG_CMD_CREATE: libc::c_uint = 6;
const FSMOUNT_CLOEXEC: libc::c_uint = 1;
pub const MOUNT_ATTR_NOSUID: u64 = 0x2;
pub const MOUNT_ATTR_NODEV: u64 = 0x4;
pub const MOUNT_ATTR_NOEXEC: u64 = 0x8;
const MOUNT_ATTR_IDMAP: u64 = 0x0010_0000;
// uapi/linux/openat2.h
const RESOLVE_NO_MAGICLINKS: u64 = 0x02;
const RESOLVE_NO_SYMLINKS: u64 = 0x04;
const RESOLVE_IN_ROOT: u64 = 0x10;

/// `struct mount_attr` (version 0, 32 bytes).
#[repr(C)]
struct MountAttr {
    attr_set: u64,
    attr_clr: u64,
    propagation: u64,
    userns_fd: u64,
}

/// `struct open_how` (version 0, 24 bytes).
#[repr(C)]
struct OpenHow {
    flags: u64,
    mode: u64,
    resolve: u64,
}

fn cstr(path: &Path) -> io::Result<CString> {
    CString::new(path.as_os_str().as_bytes())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "a path contains a NUL byte"))
}

/// An fd returned by a system call, or the call's error.
fn owned(ret: libc::c_long) -> io::Result<OwnedFd> {
    let fd = i32::try_from(ret).map_err(|_| io::Error::last_os_error())?;
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: The kernel just returned `fd` as a new descriptor that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

fn zero(ret: libc::c_long) -> io::Result<()> {
    if ret == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// statx(2) of `path` with `flags`, asking for `mask`.
fn statx(path: &Path, flags: libc::c_int, mask: libc::c_uint) -> io::Result<libc::statx> {
    let path = cstr(path)?;
    // SAFETY: An all-zero statx is a valid value of the plain C struct.
    let mut stat: libc::statx = unsafe { std::mem::zeroed() };
    // SAFETY: statx reads the NUL-terminated `path` and writes only `stat`, which outlives the
    // call.
    let ret = unsafe { libc::statx(libc::AT_FDCWD, path.as_ptr(), flags, mask, &mut stat) };
    if ret != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(stat)
}

/// The id of the mount that holds `path` (followed if a link), as /proc/self/mountinfo
/// numbers it: its line can then be found without reading the whole table.
pub fn mount_id_of(path: &Path) -> io::Result<u64> {
    let stat = statx(path, libc::AT_NO_AUTOMOUNT, libc::STATX_MNT_ID)?;
    if stat.stx_mask & libc::STATX_MNT_ID == 0 {
        return Err(io::Error::from(io::ErrorKind::Unsupported));
    }
    Ok(stat.stx_mnt_id)
}

/// Whether `path` (not followed if a link) is the root of a mount: one statx, whatever the
/// number of mounts (reading /proc/self/mountinfo costs a line per mount, one per running VE).
/// `None` when the kernel does not report mount roots.
pub fn is_mount_root(path: &Path) -> io::Result<Option<bool>> {
    let stat = match statx(path, libc::AT_SYMLINK_NOFOLLOW | libc::AT_NO_AUTOMOUNT, 0) {
        Ok(stat) => stat,
        Err(err) => {
            return match err.raw_os_error() {
                Some(libc::ENOENT | libc::ENOTDIR) => Ok(Some(false)),
                _ => Err(err),
            }
        }
    };
    let flag = libc::STATX_ATTR_MOUNT_ROOT as u64;
    Ok((stat.stx_attributes_mask & flag != 0).then_some(stat.stx_attributes & flag != 0))
}

/// A detached copy of the mount at `path` (not its submounts).
pub fn clone_mount(path: &Path) -> io::Result<OwnedFd> {
    let path = cstr(path)?;
    // SAFETY: `path` is a NUL-terminated string that lives across the call.
    owned(unsafe {
        libc::syscall(
            libc::SYS_open_tree,
            libc::AT_FDCWD,
            path.as_ptr(),
            OPEN_TREE_CLONE | libc::O_CLOEXEC as libc::c_uint,
        )
    })
}

/// Makes the detached mount `mnt` show file owners through the user namespace `userns`:
/// on-disk id N appears as the id that N maps to in `userns`, and back on writes.
pub fn idmap(mnt: &OwnedFd, userns: &File) -> io::Result<()> {
    let attr = MountAttr {
        attr_set: MOUNT_ATTR_IDMAP,
        attr_clr: 0,
        propagation: 0,
        // An open descriptor is never negative.
        userns_fd: u64::from(userns.as_raw_fd().cast_unsigned()),
    };
    // SAFETY: An empty path with AT_EMPTY_PATH names `mnt` itself; `attr` is a version-0
    // mount_attr whose size is passed and which lives across the call.
    zero(unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            mnt.as_raw_fd(),
            c"".as_ptr(),
            libc::AT_EMPTY_PATH,
            &attr as *const MountAttr,
            std::mem::size_of::<MountAttr>(),
        )
    })
}

/// A new, detached instance of filesystem `fstype` with string `options`, mounted with the
/// MOUNT_ATTR_* flags `attrs`. Its superblock belongs to the caller's user namespace.
pub fn new_filesystem(fstype: &str, options: &[(&str, String)], attrs: u64) -> io::Result<OwnedFd> {
    let name = CString::new(fstype).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    // SAFETY: `name` is a NUL-terminated string that lives across the call.
    let fs = owned(unsafe { libc::syscall(libc::SYS_fsopen, name.as_ptr(), FSOPEN_CLOEXEC) })?;
    for (key, value) in options {
        let (key, value) = (
            CString::new(*key).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?,
            CString::new(value.as_str())
                .map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?,
        );
        // SAFETY: `fs` is an fsopen context; key and value are NUL-terminated strings that
        // live across the call.
        zero(unsafe {
            libc::syscall(
                libc::SYS_fsconfig,
                fs.as_raw_fd(),
                FSCONFIG_SET_STRING,
                key.as_ptr(),
                value.as_ptr(),
                0,
            )
        })?;
    }
    // SAFETY: FSCONFIG_CMD_CREATE takes no key or value.
    zero(unsafe {
        libc::syscall(
            libc::SYS_fsconfig,
            fs.as_raw_fd(),
            FSCONFIG_CMD_CREATE,
            std::ptr::null::<libc::c_char>(),
            std::ptr::null::<libc::c_void>(),
            0,
        )
    })?;
    // SAFETY: `fs` holds a created superblock; fsmount returns a new descriptor.
    owned(unsafe { libc::syscall(libc::SYS_fsmount, fs.as_raw_fd(), FSMOUNT_CLOEXEC, attrs) })
}

/// Attaches the detached mount `mnt` at `target` in the caller's mount namespace.
pub fn attach(mnt: &OwnedFd, target: &Path) -> io::Result<()> {
    let target = cstr(target)?;
    // SAFETY: An empty source path with MOVE_MOUNT_F_EMPTY_PATH names `mnt`; `target` is a
    // NUL-terminated string that lives across the call.
    zero(unsafe {
        libc::syscall(
            libc::SYS_move_mount,
            mnt.as_raw_fd(),
            c"".as_ptr(),
            libc::AT_FDCWD,
            target.as_ptr(),
            MOVE_MOUNT_F_EMPTY_PATH,
        )
    })
}

/// Opens `rel` with `flags`, resolved as if `root` were `/`: `..` stops at `root` and no
/// symbolic link (or /proc magic link) is followed on the way.
pub fn open_in_root(root: BorrowedFd<'_>, rel: &Path, flags: libc::c_int) -> io::Result<OwnedFd> {
    openat2(
        root,
        rel,
        flags | libc::O_NOFOLLOW,
        RESOLVE_IN_ROOT | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS,
    )
}

/// Whether `rel` exists under `root`, following symbolic links as if `root` were `/` (never
/// out of it) but no /proc magic link.
pub fn resolves_in_root(root: BorrowedFd<'_>, rel: &Path) -> bool {
    openat2(
        root,
        rel,
        libc::O_PATH,
        RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
    )
    .is_ok()
}

/// openat2(2) of `rel` under `root` with `flags` (close-on-exec added) and `resolve`.
fn openat2(
    root: BorrowedFd<'_>,
    rel: &Path,
    flags: libc::c_int,
    resolve: u64,
) -> io::Result<OwnedFd> {
    let rel = cstr(rel)?;
    let how = OpenHow {
        // open_how.flags holds the O_* bits, none of them the sign bit.
        flags: u64::from((flags | libc::O_CLOEXEC).cast_unsigned()),
        mode: 0,
        resolve,
    };
    // SAFETY: `rel` is NUL-terminated and `how` a version-0 open_how whose size is passed;
    // both live across the call.
    owned(unsafe {
        libc::syscall(
            libc::SYS_openat2,
            root.as_raw_fd(),
            rel.as_ptr(),
            &how as *const OpenHow,
            std::mem::size_of::<OpenHow>(),
        )
    })
}

/// Opens directory `rel` under `root` as [`open_in_root`] does, making each missing component
/// (mode 0755, owned by `owner`).
pub fn make_dirs_in_root(
    root: BorrowedFd<'_>,
    rel: &Path,
    owner: (u32, u32),
) -> io::Result<OwnedFd> {
    let mut dir = open_in_root(root, Path::new("."), libc::O_DIRECTORY | libc::O_PATH)?;
    for part in rel.components() {
        let name = Path::new(part.as_os_str());
        if matches!(
            part,
            std::path::Component::RootDir | std::path::Component::CurDir
        ) {
            continue;
        }
        let cname = cstr(name)?;
        // SAFETY: `dir` is an open directory and `cname` a NUL-terminated name.
        if unsafe { libc::mkdirat(dir.as_raw_fd(), cname.as_ptr(), 0o755) } == 0 {
            chown_at(dir.as_raw_fd(), name, owner)?;
        } else if io::Error::last_os_error().raw_os_error() != Some(libc::EEXIST) {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `dir` is an open directory descriptor owned here.
        let here = unsafe { BorrowedFd::borrow_raw(dir.as_raw_fd()) };
        dir = open_in_root(here, name, libc::O_DIRECTORY | libc::O_PATH)?;
    }
    Ok(dir)
}

/// Sets the owner of `name` in directory `dir` without following it if it is a link.
pub fn chown_at(dir: libc::c_int, name: &Path, (uid, gid): (u32, u32)) -> io::Result<()> {
    let name = cstr(name)?;
    // SAFETY: `dir` is an open directory and `name` a NUL-terminated name.
    let ret = unsafe { libc::fchownat(dir, name.as_ptr(), uid, gid, libc::AT_SYMLINK_NOFOLLOW) };
    if ret == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Replaces file `name` in directory `dir` with `contents`: a new file (mode `mode`, owner
/// `owner`) is written next to it and renamed over it, so a hard link the old name had keeps
/// its old contents and a reader never sees a half-written file.
pub fn replace_file(
    dir: &OwnedFd,
    name: &str,
    contents: &[u8],
    mode: u32,
    owner: (u32, u32),
) -> io::Result<()> {
    let temp = format!(".{name}.vzctl-{}", std::process::id());
    let ctemp = cstr(Path::new(&temp))?;
    let cname = cstr(Path::new(name))?;
    // SAFETY: `dir` is an open directory and `ctemp` a NUL-terminated name; O_EXCL and
    // O_NOFOLLOW refuse anything already there.
    let fd = unsafe {
        libc::openat(
            dir.as_raw_fd(),
            ctemp.as_ptr(),
            libc::O_WRONLY | libc::O_CREAT | libc::O_EXCL | libc::O_NOFOLLOW | libc::O_CLOEXEC,
            mode,
        )
    };
    let file = owned(fd.into())?;
    let written = (|| {
        let mut out = File::from(file);
        io::Write::write_all(&mut out, contents)?;
        // SAFETY: fchmod on the descriptor just created.
        if unsafe { libc::fchmod(out.as_raw_fd(), mode) } != 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: fchown on the descriptor just created.
        if unsafe { libc::fchown(out.as_raw_fd(), owner.0, owner.1) } != 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: Both names are NUL-terminated and relative to the open directory `dir`.
        zero(
            unsafe {
                libc::renameat(
                    dir.as_raw_fd(),
                    ctemp.as_ptr(),
                    dir.as_raw_fd(),
                    cname.as_ptr(),
                )
            }
            .into(),
        )
    })();
    if written.is_err() {
        // SAFETY: As above; removes our own temporary file.
        unsafe { libc::unlinkat(dir.as_raw_fd(), ctemp.as_ptr(), 0) };
    }
    written
}

#[cfg(test)]
mod tests {
    use super::is_mount_root;
    use std::path::Path;

    #[test]
    fn the_mount_id_is_mountinfos() {
        let id = super::mount_id_of(Path::new("/")).unwrap();
        let root = crate::procfs::first_mount(|entry| entry.mount_id == id).unwrap();
        assert_eq!(root.map(|entry| entry.mount_point), Some("/".into()));
    }

    #[test]
    fn only_a_mounts_root_is_a_mount_root() {
        assert_eq!(is_mount_root(Path::new("/")).unwrap(), Some(true));
        let scratch = tempfile::tempdir().unwrap();
        let dir = scratch.path().join("not-mounted");
        std::fs::create_dir(&dir).unwrap();
        assert_eq!(is_mount_root(&dir).unwrap(), Some(false));
        assert_eq!(is_mount_root(&dir.join("missing")).unwrap(), Some(false));
    }
}

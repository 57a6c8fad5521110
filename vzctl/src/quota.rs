//! Per-VE disk limits (`--diskspace`, `--diskinodes`) as ext4 project quotas.
//!
//! /vz is an ext4 made with `mkfs.ext4 -O quota,project` and mounted with `-o prjquota`. Every
//! file and directory of a VE's private area carries project id = CTID, directories also the
//! inherit flag so that whatever the VE creates is charged to it as well, and the project's
//! limits are set with quotactl(2).
//!
//! Units are OpenVZ's: space in KB of 1024 bytes, which is also the block of the quota
//! interface (`QIF_DQBLKSIZE`), so DISKSPACE values pass through unchanged; inodes are counted
//! one by one. A limit of 0 means no limit.
//!
//! Limits are enforced only when the mount shows `prjquota` among its super options
//! ([`MountEntry::prjquota`]). An ext4 with the quota feature always tracks usage and quotactl
//! accepts limits for it, but without the mount option no write is ever refused, so callers
//! check the mount before relying on the limits. Hard limits also do not bind tasks holding
//! CAP_SYS_RESOURCE (the kernel's quota code exempts them), so a VE's root is limited only if
//! the VE's tasks drop that capability.

use crate::error::VzError;
use crate::procfs::MountEntry;
use nix::errno::Errno;
use nix::fcntl::{AtFlags, OFlag};
use nix::sys::stat::{fstat, fstatat, Mode, SFlag};
use nix::NixPath;
use std::ffi::{CStr, CString, OsStr, OsString};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::rc::Rc;

/// A VE's disk limits: `DISKSPACE` in KB and `DISKINODES`, each soft and hard; 0 is no limit.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DiskLimits {
    pub space_soft_kb: u64,
    pub space_hard_kb: u64,
    pub inodes_soft: u64,
    pub inodes_hard: u64,
}

/// What a VE's project holds on the filesystem.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DiskUsage {
    /// Space in KB, rounded up.
    pub space_used_kb: u64,
    pub inodes_used: u64,
}

impl MountEntry {
    /// Whether project quota limits are enforced on this mount.
    pub fn prjquota(&self) -> bool {
        prjquota_enabled(&self.super_options)
    }
}

/// `struct fsxattr` of linux/fs.h, the argument of `FS_IOC_FSGETXATTR`/`FS_IOC_FSSETXATTR`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct FsXattr {
    xflags: u32,
    extsize: u32,
    nextents: u32,
    projid: u32,
    cowextsize: u32,
    pad: [u8; 8],
}

const _: () = assert!(std::mem::size_of::<FsXattr>() == 28);

/// `_IOR('X', 31, struct fsxattr)`.
const FS_IOC_FSGETXATTR: nix::sys::ioctl::ioctl_num_type =
    nix::request_code_read!(b'X', 31, std::mem::size_of::<FsXattr>());
/// `_IOW('X', 32, struct fsxattr)`.
const FS_IOC_FSSETXATTR: nix::sys::ioctl::ioctl_num_type =
    nix::request_code_write!(b'X', 32, std::mem::size_of::<FsXattr>());
/// New files and directories take their directory's project id (linux/fs.h).
const FS_XFLAG_PROJINHERIT: u32 = 0x0000_0200;

/// The quota type of projects (linux/quota.h); libc has only the quotactl commands.
const PRJQUOTA: libc::c_int = 2;
/// log2 of the unit of `dqb_bhardlimit`/`dqb_bsoftlimit` (linux/quota.h `QIF_DQBLKSIZE_BITS`).
const QIF_DQBLKSIZE_BITS: u32 = 10;
/// Bytes in a KB, OpenVZ's unit of DISKSPACE.
const KB: u64 = 1024;

// A KB is one quota block, so DISKSPACE goes to the kernel as it is.
const _: () = assert!(1u64 << QIF_DQBLKSIZE_BITS == KB);

/// The largest space limit: the kernel turns blocks into bytes in a signed 64-bit value (the
/// v2r1 format's maximum, i64::MAX bytes); more would wrap instead of being refused.
const MAX_SPACE_KB: u64 = u64::MAX >> (QIF_DQBLKSIZE_BITS + 1);
/// The largest inode limit of the v2r1 quota format (i64::MAX).
const MAX_INODES: u64 = u64::MAX >> 1;

/// Why a quotactl or project-id failure most likely happened, for the error message.
const PRJQUOTA_HINT: &str = "project quota is not enabled on this filesystem \
     (mount it with -o prjquota on an ext4 made with -O quota,project)";

/// Gives every regular file and directory under `tree` (itself included) project id `project`,
/// and directories the inherit flag, so that files created later are charged to it too.
///
/// The walk is iterative, does not follow symlinks and stays on `tree`'s filesystem (other
/// mounts inside are left alone). Symlinks, devices, FIFOs and sockets are skipped: ext4 takes
/// project ids only through the file ioctl. Entries that vanish or change type while the walk
/// runs (a running VE writes to its tree) are skipped too. `tree` itself must not be a symlink.
/// One directory descriptor is open per level of the directory being walked.
pub fn assign_project(tree: &Path, project: u32) -> Result<(), VzError> {
    walk(tree, &mut |fd, path, is_dir| {
        set_project(fd, path, project, is_dir)
    })
}

/// Sets the limits of `project` on the filesystem on block device `device` (the source of the
/// mount, e.g. /dev/vdb).
pub fn set_limits(device: &Path, project: u32, limits: &DiskLimits) -> Result<(), VzError> {
    check_limits(limits)?;
    let mut dq = to_dqblk(limits);
    quotactl(
        libc::Q_SETQUOTA,
        device,
        project,
        "set the disk limits",
        &mut dq,
    )
}

/// The usage and the limits of `project` on the filesystem on block device `device`.
pub fn usage(device: &Path, project: u32) -> Result<(DiskUsage, DiskLimits), VzError> {
    let mut dq = to_dqblk(&DiskLimits::default());
    dq.dqb_valid = 0;
    quotactl(
        libc::Q_GETQUOTA,
        device,
        project,
        "read the disk usage",
        &mut dq,
    )?;
    Ok(from_dqblk(&dq))
}

/// The project id of directory `tree` (not followed if it is a symlink): a VE's private area
/// carries its CTID once [`assign_project`] ran over it.
pub fn tree_project(tree: &Path) -> Result<u32, VzError> {
    let cannot = |errno| {
        system(
            format!("{}: cannot read the project id", tree.display()),
            errno,
        )
    };
    let dir = open_at(None, tree, dir_flags()).map_err(cannot)?;
    get_fsxattr(dir.as_fd())
        .map(|attr| attr.projid)
        .map_err(cannot)
}

/// Whether `super_options` (the last field of a mountinfo line) turn project quota limits on.
pub fn prjquota_enabled(super_options: &str) -> bool {
    super_options.split(',').any(|option| option == "prjquota")
}

/// A directory found by the walk and not yet entered.
struct Pending {
    /// The directory it is in, open; shared by its siblings.
    parent: Rc<OwnedFd>,
    name: OsString,
    path: PathBuf,
}

/// What the walk does with an entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Directory,
    Regular,
    /// Symlinks, devices, FIFOs, sockets; and entries gone before they were looked at.
    Skipped,
}

/// The visitor of [`walk`]: `(descriptor, path, is_dir)`.
type Visit<'a> = dyn FnMut(BorrowedFd<'_>, &Path, bool) -> Result<(), VzError> + 'a;

/// Calls `visit(fd, path, is_dir)` on every directory and regular file under `tree` (itself
/// included), opened with O_NOFOLLOW relative to its open parent, depth first, without
/// recursion and without leaving `tree`'s filesystem.
fn walk(tree: &Path, visit: &mut Visit<'_>) -> Result<(), VzError> {
    let root = open_at(None, tree, dir_flags()).map_err(|errno| {
        system(
            format!("{}: cannot open the directory", tree.display()),
            errno,
        )
    })?;
    let device = fstat(root.as_raw_fd())
        .map_err(|errno| system(format!("{}: cannot stat", tree.display()), errno))?
        .st_dev;
    let mut pending = Vec::new();
    walk_dir(root, tree.to_owned(), device, visit, &mut pending)?;
    while let Some(Pending { parent, name, path }) = pending.pop() {
        let opened = open_at(Some(parent.as_fd()), name.as_os_str(), dir_flags());
        // The parent stays open only while its other subdirectories wait.
        drop(parent);
        match opened {
            Ok(dir) => walk_dir(dir, path, device, visit, &mut pending)?,
            Err(errno) if vanished(errno) => {}
            Err(errno) => {
                return Err(system(
                    format!("{}: cannot open the directory", path.display()),
                    errno,
                ))
            }
        }
    }
    Ok(())
}

/// Visits the open directory `dir` and its regular files, and queues its subdirectories.
fn walk_dir(
    dir: OwnedFd,
    path: PathBuf,
    device: libc::dev_t,
    visit: &mut Visit<'_>,
    pending: &mut Vec<Pending>,
) -> Result<(), VzError> {
    let stat = fstat(dir.as_raw_fd())
        .map_err(|errno| system(format!("{}: cannot stat", path.display()), errno))?;
    if stat.st_dev != device {
        // Another filesystem is mounted here.
        return Ok(());
    }
    visit(dir.as_fd(), &path, true)?;
    let mut subdirs = Vec::new();
    for (name, d_type) in read_dir(dir.as_fd(), &path)? {
        let child = path.join(&name);
        match kind_of(dir.as_fd(), &name, d_type, &child)? {
            Kind::Directory => subdirs.push((name, child)),
            Kind::Regular => visit_file(dir.as_fd(), &name, &child, device, visit)?,
            Kind::Skipped => {}
        }
    }
    let dir = Rc::new(dir);
    pending.extend(subdirs.into_iter().map(|(name, path)| Pending {
        parent: Rc::clone(&dir),
        name,
        path,
    }));
    Ok(())
}

/// Opens the regular file `name` in `parent` and visits it if it still is one, on `device`.
fn visit_file(
    parent: BorrowedFd<'_>,
    name: &OsStr,
    path: &Path,
    device: libc::dev_t,
    visit: &mut Visit<'_>,
) -> Result<(), VzError> {
    let flags = OFlag::O_RDONLY
        | OFlag::O_NOFOLLOW
        | OFlag::O_NONBLOCK
        | OFlag::O_NOCTTY
        | OFlag::O_CLOEXEC;
    let file = match open_at(Some(parent), name, flags) {
        Ok(file) => file,
        Err(errno) if vanished(errno) => return Ok(()),
        Err(errno) => return Err(system(format!("{}: cannot open", path.display()), errno)),
    };
    let stat = fstat(file.as_raw_fd())
        .map_err(|errno| system(format!("{}: cannot stat", path.display()), errno))?;
    if !is_kind(stat.st_mode, SFlag::S_IFREG) || stat.st_dev != device {
        // Replaced by something else since the directory was read, or a file mounted here.
        return Ok(());
    }
    visit(file.as_fd(), path, false)
}

/// What `name` in directory `parent` is, from the directory entry's type or else from lstat.
fn kind_of(parent: BorrowedFd<'_>, name: &OsStr, d_type: u8, path: &Path) -> Result<Kind, VzError> {
    let kind = match d_type {
        libc::DT_DIR => Kind::Directory,
        libc::DT_REG => Kind::Regular,
        libc::DT_UNKNOWN => {
            match fstatat(Some(parent.as_raw_fd()), name, AtFlags::AT_SYMLINK_NOFOLLOW) {
                Ok(stat) if is_kind(stat.st_mode, SFlag::S_IFDIR) => Kind::Directory,
                Ok(stat) if is_kind(stat.st_mode, SFlag::S_IFREG) => Kind::Regular,
                Ok(_) => Kind::Skipped,
                Err(errno) if vanished(errno) => Kind::Skipped,
                Err(errno) => {
                    return Err(system(format!("{}: cannot stat", path.display()), errno))
                }
            }
        }
        _ => Kind::Skipped,
    };
    Ok(kind)
}

fn is_kind(mode: libc::mode_t, kind: SFlag) -> bool {
    SFlag::from_bits_truncate(mode & SFlag::S_IFMT.bits()) == kind
}

/// Errors of an entry that went away or changed type since its directory was read.
fn vanished(errno: Errno) -> bool {
    matches!(errno, Errno::ENOENT | Errno::ELOOP | Errno::ENOTDIR)
}

fn dir_flags() -> OFlag {
    OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC
}

/// openat(2), relative to `dir` or else to the working directory, owning the result.
fn open_at(
    dir: Option<BorrowedFd<'_>>,
    name: &(impl NixPath + ?Sized),
    flags: OFlag,
) -> Result<OwnedFd, Errno> {
    let raw = nix::fcntl::openat(dir.map(|fd| fd.as_raw_fd()), name, flags, Mode::empty())?;
    // SAFETY: openat has just returned `raw`, a new descriptor that nothing else owns or closes.
    Ok(unsafe { OwnedFd::from_raw_fd(raw) })
}

/// The entries of the open directory `dir` but `.` and `..`: names and `d_type`s.
fn read_dir(dir: BorrowedFd<'_>, path: &Path) -> Result<Vec<(OsString, u8)>, VzError> {
    let mut entries = Vec::new();
    let mut buf = vec![0u8; 32 << 10];
    loop {
        // SAFETY: getdents64 writes at most `buf.len()` bytes to `buf`, which is valid and
        // writable for that many; `dir` is an open descriptor for the whole call.
        let ret = unsafe {
            libc::syscall(
                libc::SYS_getdents64,
                dir.as_raw_fd(),
                buf.as_mut_ptr(),
                buf.len(),
            )
        };
        let len = Errno::result(ret).map_err(|errno| {
            system(
                format!("{}: cannot read the directory", path.display()),
                errno,
            )
        })?;
        if len == 0 {
            return Ok(entries);
        }
        let filled = usize::try_from(len).ok().and_then(|len| buf.get(..len));
        let parsed = filled.and_then(|records| parse_dirents(records, &mut entries));
        if parsed.is_none() {
            return Err(system(
                format!(
                    "{}: malformed directory entries from getdents64",
                    path.display()
                ),
                Errno::EIO,
            ));
        }
    }
}

/// Appends the entries of `records`, getdents64's `struct linux_dirent64`s (u64 inode, i64
/// offset, u16 record length, u8 type, NUL-terminated name), to `entries`, but `.` and `..`;
/// None if a record does not fit.
fn parse_dirents(records: &[u8], entries: &mut Vec<(OsString, u8)>) -> Option<()> {
    const RECLEN: usize = 16;
    const TYPE: usize = 18;
    const NAME: usize = 19;
    let mut rest = records;
    while !rest.is_empty() {
        let reclen = rest.get(RECLEN..RECLEN + 2)?;
        let reclen = usize::from(u16::from_ne_bytes([*reclen.first()?, *reclen.get(1)?]));
        let record = rest.get(..reclen)?;
        let d_type = *record.get(TYPE)?;
        let name = record.get(NAME..)?;
        let name = CStr::from_bytes_until_nul(name).ok()?.to_bytes();
        if name != b"." && name != b".." {
            entries.push((OsStr::from_bytes(name).to_owned(), d_type));
        }
        rest = rest.get(reclen..)?;
    }
    Some(())
}

/// Gives the open file or directory at `path` project id `project`, and directories the
/// inherit flag; leaves it untouched when it has both already.
fn set_project(fd: BorrowedFd<'_>, path: &Path, project: u32, is_dir: bool) -> Result<(), VzError> {
    let current = get_fsxattr(fd).map_err(|errno| project_error(path, project, errno))?;
    let mut wanted = current;
    wanted.projid = project;
    if is_dir {
        wanted.xflags |= FS_XFLAG_PROJINHERIT;
    }
    if wanted == current {
        return Ok(());
    }
    set_fsxattr(fd, &wanted).map_err(|errno| project_error(path, project, errno))
}

fn get_fsxattr(fd: BorrowedFd<'_>) -> Result<FsXattr, Errno> {
    let mut attr = FsXattr::default();
    // SAFETY: FS_IOC_FSGETXATTR writes one struct fsxattr, which FsXattr mirrors (28 bytes,
    // asserted above), through the pointer; `attr` is a valid, writable FsXattr for the call.
    let ret = unsafe {
        libc::ioctl(
            fd.as_raw_fd(),
            FS_IOC_FSGETXATTR,
            std::ptr::addr_of_mut!(attr),
        )
    };
    Errno::result(ret)?;
    Ok(attr)
}

fn set_fsxattr(fd: BorrowedFd<'_>, attr: &FsXattr) -> Result<(), Errno> {
    // SAFETY: FS_IOC_FSSETXATTR reads one struct fsxattr, which FsXattr mirrors, through the
    // pointer; `attr` is a valid FsXattr for the whole call.
    let ret = unsafe { libc::ioctl(fd.as_raw_fd(), FS_IOC_FSSETXATTR, std::ptr::from_ref(attr)) };
    Errno::result(ret).map(drop)
}

fn project_error(path: &Path, project: u32, errno: Errno) -> VzError {
    let hint = match errno {
        Errno::EOPNOTSUPP | Errno::ENOTTY => {
            ": the filesystem has no project ids (it must be an ext4 made with -O quota,project)"
        }
        Errno::EINVAL => ": project ids can be changed only from the host's user namespace",
        _ => "",
    };
    system(
        format!("{}: cannot set project id {project}{hint}", path.display()),
        errno,
    )
}

/// Refuses limits the quota format cannot store (the kernel would wrap them silently).
fn check_limits(limits: &DiskLimits) -> Result<(), VzError> {
    if limits.space_soft_kb > MAX_SPACE_KB || limits.space_hard_kb > MAX_SPACE_KB {
        return Err(VzError::InvalidValue(format!(
            "disk space limit {}:{} KB is too large: at most {MAX_SPACE_KB} KB, or 0 for none",
            limits.space_soft_kb, limits.space_hard_kb
        )));
    }
    if limits.inodes_soft > MAX_INODES || limits.inodes_hard > MAX_INODES {
        return Err(VzError::InvalidValue(format!(
            "disk inode limit {}:{} is too large: at most {MAX_INODES}, or 0 for none",
            limits.inodes_soft, limits.inodes_hard
        )));
    }
    Ok(())
}

/// The `struct if_dqblk` that sets `limits` and nothing else.
fn to_dqblk(limits: &DiskLimits) -> libc::dqblk {
    libc::dqblk {
        // KB and quota blocks are the same unit (asserted above).
        dqb_bhardlimit: limits.space_hard_kb,
        dqb_bsoftlimit: limits.space_soft_kb,
        dqb_curspace: 0,
        dqb_ihardlimit: limits.inodes_hard,
        dqb_isoftlimit: limits.inodes_soft,
        dqb_curinodes: 0,
        dqb_btime: 0,
        dqb_itime: 0,
        dqb_valid: libc::QIF_LIMITS,
    }
}

/// The usage and limits in a `struct if_dqblk` from Q_GETQUOTA; space used is in bytes there.
fn from_dqblk(dq: &libc::dqblk) -> (DiskUsage, DiskLimits) {
    let usage = DiskUsage {
        space_used_kb: dq.dqb_curspace.div_ceil(KB),
        inodes_used: dq.dqb_curinodes,
    };
    let limits = DiskLimits {
        space_soft_kb: dq.dqb_bsoftlimit,
        space_hard_kb: dq.dqb_bhardlimit,
        inodes_soft: dq.dqb_isoftlimit,
        inodes_hard: dq.dqb_ihardlimit,
    };
    (usage, limits)
}

/// quotactl(QCMD(`command`, PRJQUOTA), `device`, `project`, `dq`); `action` names it in errors.
fn quotactl(
    command: libc::c_int,
    device: &Path,
    project: u32,
    action: &str,
    dq: &mut libc::dqblk,
) -> Result<(), VzError> {
    let special = CString::new(device.as_os_str().as_bytes()).map_err(|_| {
        VzError::InvalidValue(format!(
            "{}: a device path with a NUL byte",
            device.display()
        ))
    })?;
    let id = libc::c_int::try_from(project).map_err(|_| {
        VzError::InvalidValue(format!(
            "project id {project} is beyond what quotactl takes ({})",
            libc::c_int::MAX
        ))
    })?;
    raw_quotactl(libc::QCMD(command, PRJQUOTA), &special, id, dq)
        .map_err(|errno| quotactl_error(device, project, action, errno))
}

fn raw_quotactl(
    command: libc::c_int,
    special: &CStr,
    id: libc::c_int,
    dq: &mut libc::dqblk,
) -> Result<(), Errno> {
    // SAFETY: `special` is a NUL-terminated string that outlives the call. The callers pass
    // only Q_GETQUOTA and Q_SETQUOTA, for which the kernel writes or reads exactly one struct
    // if_dqblk at `addr`; libc::dqblk has its layout and `dq` is valid and writable.
    let ret = unsafe {
        libc::quotactl(
            command,
            special.as_ptr(),
            id,
            std::ptr::from_mut(dq).cast::<libc::c_char>(),
        )
    };
    Errno::result(ret).map(drop)
}

fn quotactl_error(device: &Path, project: u32, action: &str, errno: Errno) -> VzError {
    let hint = match errno {
        Errno::ESRCH | Errno::ENOSYS | Errno::EINVAL => PRJQUOTA_HINT,
        Errno::ENOTBLK => "not a block device (give the device /vz is mounted from)",
        Errno::ENODEV => "no filesystem is mounted from this device",
        Errno::ERANGE => "a limit is larger than the quota format stores",
        _ => "",
    };
    let hint = if hint.is_empty() {
        String::new()
    } else {
        format!(": {hint}")
    };
    system(
        format!(
            "{}: cannot {action} of project {project}{hint}",
            device.display()
        ),
        errno,
    )
}

fn system(what: String, errno: Errno) -> VzError {
    VzError::System {
        what,
        source: std::io::Error::from(errno),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::procfs::mount_of;
    use crate::procfs::tests::MOUNTINFO;
    use std::collections::BTreeSet;

    #[test]
    fn ioctl_numbers_match_linux_fs_h() {
        assert_eq!(std::mem::size_of::<FsXattr>(), 28);
        // The generic _IOC layout of x86, arm and riscv; powerpc, mips and sparc differ.
        #[cfg(any(
            target_arch = "x86_64",
            target_arch = "x86",
            target_arch = "aarch64",
            target_arch = "arm",
            target_arch = "riscv64"
        ))]
        {
            // The request type is c_ulong with glibc and c_int with musl; both numbers fit
            // 32 bits.
            #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
            let (get, set) = (FS_IOC_FSGETXATTR as u32, FS_IOC_FSSETXATTR as u32);
            assert_eq!((get, set), (0x801c_581f, 0x401c_5820));
        }
        assert_eq!(FS_XFLAG_PROJINHERIT, 0x200);
    }

    #[test]
    fn quotactl_numbers_match_linux_quota_h() {
        assert_eq!(std::mem::size_of::<libc::dqblk>(), 72);
        assert_eq!(libc::Q_SETQUOTA, 0x80_0008);
        assert_eq!(libc::Q_GETQUOTA, 0x80_0007);
        assert_eq!(PRJQUOTA, 2);
        assert_eq!(libc::QIF_LIMITS, 5);
        // The kernel takes the command as unsigned int: the subcommand's top bit lands in bit 31.
        assert_eq!(
            libc::QCMD(libc::Q_SETQUOTA, PRJQUOTA).cast_unsigned(),
            0x8000_0802
        );
        assert_eq!(
            libc::QCMD(libc::Q_GETQUOTA, PRJQUOTA).cast_unsigned(),
            0x8000_0702
        );
    }

    #[test]
    fn limits_pass_in_kb_and_usage_rounds_up() {
        let limits = DiskLimits {
            space_soft_kb: 2_097_152,
            space_hard_kb: 2_306_867,
            inodes_soft: 131_072,
            inodes_hard: 144_179,
        };
        let dq = to_dqblk(&limits);
        assert_eq!(dq.dqb_bsoftlimit, 2_097_152);
        assert_eq!(dq.dqb_bhardlimit, 2_306_867);
        assert_eq!(dq.dqb_isoftlimit, 131_072);
        assert_eq!(dq.dqb_ihardlimit, 144_179);
        assert_eq!(dq.dqb_valid, libc::QIF_BLIMITS | libc::QIF_ILIMITS);

        for (bytes, kb) in [
            (0, 0),
            (1, 1),
            (1024, 1),
            (1025, 2),
            (4096, 4),
            (u64::MAX, 1 << 54),
        ] {
            let got = libc::dqblk {
                dqb_curspace: bytes,
                dqb_curinodes: 7,
                ..dq
            };
            let (used, back) = from_dqblk(&got);
            assert_eq!(used.space_used_kb, kb, "{bytes} bytes");
            assert_eq!(used.inodes_used, 7);
            assert_eq!(back, limits);
        }
    }

    #[test]
    fn limits_beyond_the_quota_format_are_refused() {
        let mut limits = DiskLimits {
            space_hard_kb: MAX_SPACE_KB,
            inodes_hard: MAX_INODES,
            ..DiskLimits::default()
        };
        assert!(check_limits(&limits).is_ok());
        // MAX_SPACE_KB KB is still at most i64::MAX bytes.
        assert!(MAX_SPACE_KB
            .checked_mul(KB)
            .is_some_and(|b| b <= i64::MAX as u64));
        limits.space_soft_kb = MAX_SPACE_KB + 1;
        let err = check_limits(&limits).unwrap_err();
        assert_eq!(err.exit_code(), 21);
        limits.space_soft_kb = 0;
        limits.inodes_hard = MAX_INODES + 1;
        assert!(check_limits(&limits).is_err());
    }

    #[test]
    fn quotactl_errors_say_when_project_quota_is_off() {
        for errno in [Errno::ESRCH, Errno::ENOSYS, Errno::EINVAL] {
            let msg = quotactl_error(Path::new("/dev/vdb"), 101, "set the disk limits", errno)
                .to_string();
            assert!(msg.starts_with("/dev/vdb: cannot set the disk limits of project 101: "));
            assert!(msg.contains("project quota is not enabled"), "{msg}");
            assert!(msg.contains("-o prjquota"), "{msg}");
            assert!(msg.contains("-O quota,project"), "{msg}");
        }
        let err = set_limits(Path::new("/dev/vdb"), u32::MAX, &DiskLimits::default()).unwrap_err();
        assert!(err.to_string().contains("project id 4294967295"), "{err}");
        assert_eq!(err.exit_code(), 21);
        let msg = quotactl_error(Path::new("/dev/vdb"), 101, "x", Errno::EPERM).to_string();
        assert!(!msg.contains("prjquota"), "{msg}");
        let msg = project_error(Path::new("/vz/private/101/a"), 101, Errno::EOPNOTSUPP).to_string();
        assert!(msg.starts_with("/vz/private/101/a: cannot set project id 101: "));
        assert!(msg.contains("-O quota,project"), "{msg}");
    }

    #[test]
    fn mount_entries_carry_fstype_and_prjquota() {
        let vz = mount_of(Path::new("/vz/private/101"), MOUNTINFO).unwrap();
        assert_eq!(vz.fstype, "ext4");
        assert_eq!(vz.super_options, "rw,relatime,prjquota");
        assert!(vz.prjquota());
        let root = mount_of(Path::new("/etc"), MOUNTINFO).unwrap();
        assert!(!root.prjquota());
    }

    #[test]
    fn prjquota_is_a_whole_option() {
        assert!(prjquota_enabled("rw,prjquota"));
        assert!(prjquota_enabled("prjquota"));
        assert!(!prjquota_enabled("rw,usrquota,grpquota"));
        assert!(!prjquota_enabled("rw,noprjquota"));
        assert!(!prjquota_enabled(""));
    }

    #[test]
    fn the_walk_visits_directories_and_regular_files_only() {
        let scratch = tempfile::tempdir().unwrap();
        let root = scratch.path();
        let tree = root.join("tree");
        std::fs::create_dir_all(tree.join("etc/init.d")).unwrap();
        std::fs::write(tree.join("etc/passwd"), "root:x:0:0\n").unwrap();
        std::fs::write(tree.join("etc/init.d/rc"), "#!/bin/sh\n").unwrap();
        std::fs::create_dir(tree.join("empty")).unwrap();
        std::fs::create_dir(root.join("outside")).unwrap();
        std::fs::write(root.join("outside/secret"), "x").unwrap();
        std::os::unix::fs::symlink(root.join("outside"), tree.join("link-dir")).unwrap();
        std::os::unix::fs::symlink(root.join("outside/secret"), tree.join("link-file")).unwrap();
        nix::unistd::mkfifo(&tree.join("fifo"), Mode::from_bits_truncate(0o600)).unwrap();
        // Deeper than any recursion should have to go, well within the descriptor limit.
        let mut deep = tree.join("deep");
        for _ in 0..200 {
            deep.push("d");
        }
        std::fs::create_dir_all(&deep).unwrap();
        std::fs::write(deep.join("leaf"), "").unwrap();

        let mut seen = BTreeSet::new();
        walk(&tree, &mut |fd, path, is_dir| {
            let stat = fstat(fd.as_raw_fd()).unwrap();
            assert_eq!(is_kind(stat.st_mode, SFlag::S_IFDIR), is_dir, "{path:?}");
            let rel = path.strip_prefix(&tree).unwrap().to_owned();
            assert!(seen.insert((rel, is_dir)), "{path:?} twice");
            Ok(())
        })
        .unwrap();

        let mut want: BTreeSet<(PathBuf, bool)> = [
            ("", true),
            ("etc", true),
            ("etc/init.d", true),
            ("etc/passwd", false),
            ("etc/init.d/rc", false),
            ("empty", true),
        ]
        .into_iter()
        .map(|(p, d)| (PathBuf::from(p), d))
        .collect();
        let mut deep = PathBuf::from("deep");
        want.insert((deep.clone(), true));
        for _ in 0..200 {
            deep.push("d");
            want.insert((deep.clone(), true));
        }
        want.insert((deep.join("leaf"), false));
        assert_eq!(seen, want);
    }

    #[test]
    fn the_walk_stops_at_the_first_error_and_names_it() {
        let scratch = tempfile::tempdir().unwrap();
        let tree = scratch.path();
        std::fs::write(tree.join("a"), "").unwrap();
        let err = walk(tree, &mut |_, path, is_dir| {
            if is_dir {
                Ok(())
            } else {
                Err(project_error(path, 101, Errno::EOPNOTSUPP))
            }
        })
        .unwrap_err();
        assert!(err.to_string().contains(&format!("{}/a:", tree.display())));
    }

    #[test]
    fn a_missing_or_symlinked_tree_is_an_error_naming_it() {
        let scratch = tempfile::tempdir().unwrap();
        let root = scratch.path();
        let err = assign_project(&root.join("nope"), 101).unwrap_err();
        assert!(
            err.to_string().contains("nope: cannot open the directory"),
            "{err}"
        );
        std::os::unix::fs::symlink(root, root.join("link")).unwrap();
        let err = assign_project(&root.join("link"), 101).unwrap_err();
        assert!(
            err.to_string().contains("link: cannot open the directory"),
            "{err}"
        );
    }

    /// Enforcement for real. Needs root, and a kernel with CONFIG_QUOTA and CONFIG_QFMT_V2 (the
    /// guest kernel has them). By default it makes an ext4 image with mkfs.ext4 and mounts it
    /// on a loop device; with VZ_QUOTA_TEST_DEVICE set it mounts that block device instead,
    /// which must hold an ext4 made with -O quota,project (for the VM, which has no mkfs).
    /// Run with: cargo test -p vzctl quota::tests::real -- --ignored --nocapture
    #[test]
    #[ignore = "needs root, a loop device or VZ_QUOTA_TEST_DEVICE, and CONFIG_QFMT_V2"]
    fn real_project_quota_refuses_writes_beyond_the_hard_limit() {
        use nix::mount::{mount, umount2, MntFlags, MsFlags};
        use std::io::Write;
        use std::process::Command;

        /// Unmounts `mnt`; the scratch directory that holds it is removed after that.
        struct Cleanup {
            mnt: PathBuf,
            _scratch: tempfile::TempDir,
        }
        impl Drop for Cleanup {
            fn drop(&mut self) {
                let _ = umount2(&self.mnt, MntFlags::MNT_DETACH);
            }
        }

        const PROJECT: u32 = 4242;
        let scratch = tempfile::tempdir().unwrap();
        let base = scratch.path().to_owned();
        let mnt = base.join("mnt");
        std::fs::create_dir(&mnt).unwrap();
        let _cleanup = Cleanup {
            mnt: mnt.clone(),
            _scratch: scratch,
        };
        if let Ok(device) = std::env::var("VZ_QUOTA_TEST_DEVICE") {
            mount(
                Some(device.as_str()),
                &mnt,
                Some("ext4"),
                MsFlags::empty(),
                Some("prjquota"),
            )
            .unwrap();
        } else {
            let image = base.join("q.img");
            std::fs::File::create(&image)
                .unwrap()
                .set_len(64 << 20)
                .unwrap();
            let ok = Command::new("mkfs.ext4")
                .args(["-q", "-F", "-O", "quota,project"])
                .arg(&image)
                .status()
                .unwrap()
                .success();
            assert!(ok, "mkfs.ext4 failed");
            let ok = Command::new("mount")
                .args(["-o", "loop,prjquota"])
                .arg(&image)
                .arg(&mnt)
                .status()
                .unwrap()
                .success();
            assert!(ok, "mount -o loop,prjquota failed (see dmesg)");
        }

        let mnt = std::fs::canonicalize(&mnt).unwrap();
        let info = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
        let entry = mount_of(&mnt.join("private/4242"), &info).unwrap();
        assert_eq!(entry.mount_point, mnt);
        assert_eq!(entry.fstype, "ext4");
        assert!(entry.prjquota(), "{entry:?}");
        let device = entry.source.clone();
        eprintln!("mounted {} on {}", device.display(), mnt.display());

        let tree = mnt.join("private/4242");
        std::fs::create_dir_all(tree.join("etc/sub")).unwrap();
        std::fs::write(tree.join("etc/passwd"), vec![b'x'; 10 << 10]).unwrap();
        std::os::unix::fs::symlink("/etc", tree.join("link")).unwrap();
        assign_project(&tree, PROJECT).unwrap();
        for (path, is_dir) in [
            (tree.clone(), true),
            (tree.join("etc"), true),
            (tree.join("etc/sub"), true),
            (tree.join("etc/passwd"), false),
        ] {
            let file = std::fs::File::open(&path).unwrap();
            let attr = get_fsxattr(file.as_fd()).unwrap();
            assert_eq!(attr.projid, PROJECT, "{path:?}");
            assert_eq!(attr.xflags & FS_XFLAG_PROJINHERIT != 0, is_dir, "{path:?}");
        }
        // Idempotent.
        assign_project(&tree, PROJECT).unwrap();

        let (used, _) = usage(&device, PROJECT).unwrap();
        eprintln!("after assign_project: {used:?}");
        assert!(used.inodes_used >= 4, "{used:?}");
        assert!(used.space_used_kb >= 10, "{used:?}");

        let limits = DiskLimits {
            space_soft_kb: 512,
            space_hard_kb: 1024,
            inodes_soft: used.inodes_used + 5,
            inodes_hard: used.inodes_used + 10,
        };
        set_limits(&device, PROJECT, &limits).unwrap();
        let (_, back) = usage(&device, PROJECT).unwrap();
        assert_eq!(back, limits);

        // Holders of CAP_SYS_RESOURCE are exempt from hard limits (the quota code's
        // ignore_hardlimit), so the limited writer is a thread that has dropped it; the
        // capability sets are per thread.
        let (tree_in, device_in) = (tree.clone(), device.clone());
        let limited = std::thread::spawn(move || {
            drop_sys_resource_in_this_thread();
            // 2 MB into a new file: it inherits the project and hits the 1024 KB hard limit.
            let big = tree_in.join("etc/sub/big");
            let mut file = std::fs::File::create(&big).unwrap();
            assert_eq!(get_fsxattr(file.as_fd()).unwrap().projid, PROJECT);
            let chunk = vec![0xa5u8; 64 << 10];
            let mut written = 0usize;
            let err = loop {
                match file.write_all(&chunk) {
                    Ok(()) => written += chunk.len(),
                    Err(err) => break err,
                }
                assert!(written < 2 << 20, "wrote 2 MB past a 1024 KB hard limit");
            };
            eprintln!("write refused after {written} bytes: {err}");
            assert_eq!(err.raw_os_error(), Some(libc::EDQUOT));
            drop(file);
            let (used, _) = usage(&device_in, PROJECT).unwrap();
            eprintln!("at the space limit: {used:?}");
            assert!(used.space_used_kb <= 1024, "{used:?}");
            std::fs::remove_file(&big).unwrap();

            // Inodes: creating files stops at the hard limit.
            let (before, limits) = usage(&device_in, PROJECT).unwrap();
            let mut created = 0;
            let err = loop {
                match std::fs::File::create(tree_in.join(format!("f{created}"))) {
                    Ok(_) => created += 1,
                    Err(err) => break err,
                }
                assert!(
                    created <= 20,
                    "created {created} files past the inode limit"
                );
            };
            eprintln!("file creation refused after {created} files: {err}");
            assert_eq!(err.raw_os_error(), Some(libc::EDQUOT));
            assert_eq!(before.inodes_used + created, limits.inodes_hard);
        });
        limited.join().unwrap();

        // This thread still has CAP_SYS_RESOURCE: the hard limit does not stop it.
        std::fs::write(tree.join("etc/sub/big"), vec![0u8; 2 << 20]).unwrap();
        let (used, _) = usage(&device, PROJECT).unwrap();
        eprintln!("written with CAP_SYS_RESOURCE: {used:?}");
        assert!(used.space_used_kb > 2048, "{used:?}");

        // Outside the project nothing is limited.
        std::fs::write(mnt.join("free"), vec![0u8; 2 << 20]).unwrap();

        // 0 lifts the limits.
        set_limits(&device, PROJECT, &DiskLimits::default()).unwrap();
        let (used, back) = usage(&device, PROJECT).unwrap();
        eprintln!("without limits: {used:?} {back:?}");
        assert_eq!(back, DiskLimits::default());
    }

    /// Clears CAP_SYS_RESOURCE from the calling thread's effective set.
    fn drop_sys_resource_in_this_thread() {
        #[repr(C)]
        struct Header {
            version: u32,
            pid: i32,
        }
        #[repr(C)]
        #[derive(Clone, Copy, Default)]
        struct Data {
            effective: u32,
            permitted: u32,
            inheritable: u32,
        }
        const CAP_SYS_RESOURCE: u32 = 24;
        let mut header = Header {
            // _LINUX_CAPABILITY_VERSION_3: two Data words.
            version: 0x2008_0522,
            pid: 0,
        };
        let mut data = [Data::default(); 2];
        // SAFETY: capget reads the header and writes two Data words, both valid for the call.
        let ret = unsafe {
            libc::syscall(
                libc::SYS_capget,
                std::ptr::addr_of_mut!(header),
                data.as_mut_ptr(),
            )
        };
        assert_eq!(ret, 0, "capget: {}", Errno::last());
        data[0].effective &= !(1 << CAP_SYS_RESOURCE);
        // SAFETY: capset reads the header and two Data words, both valid for the call; a raw
        // capset changes only the calling thread.
        let ret = unsafe {
            libc::syscall(
                libc::SYS_capset,
                std::ptr::addr_of_mut!(header),
                data.as_ptr(),
            )
        };
        assert_eq!(ret, 0, "capset: {}", Errno::last());
    }
}

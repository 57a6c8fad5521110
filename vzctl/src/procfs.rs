//! Reading task facts and the mount table from /proc, rooted at a configurable path so tests use
//! temporary trees.

use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt;
use std::path::{Path, PathBuf};

/// What /proc/<pid>/status says about a task's VE.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TaskVe {
    pub pid: i32,
    /// The VE id (`envID:`); 0 is the host.
    pub veid: u32,
    /// The pid inside the VE (`VPid:`).
    pub vpid: i32,
    /// The command name (`Name:`).
    pub name: String,
}

/// The /proc tree to read.
#[derive(Clone, Debug)]
pub struct Proc {
    root: PathBuf,
}

impl Default for Proc {
    fn default() -> Self {
        Proc::at("/proc")
    }
}

impl Proc {
    /// A /proc tree at `root`.
    pub fn at(root: impl AsRef<Path>) -> Self {
        Proc {
            root: root.as_ref().to_owned(),
        }
    }

    /// The VE facts of `pid`, or `None` if the task does not exist (or exits meanwhile) or
    /// the kernel prints no `envID:` line (not a vz kernel).
    pub fn task_ve(&self, pid: i32) -> Option<TaskVe> {
        let status =
            std::fs::read_to_string(self.root.join(pid.to_string()).join("status")).ok()?;
        let field = |key: &str| {
            status
                .lines()
                .find_map(|line| line.strip_prefix(key)?.strip_prefix(':'))
                .map(str::trim)
        };
        Some(TaskVe {
            pid,
            veid: field("envID")?.parse().ok()?,
            vpid: field("VPid")?.parse().ok()?,
            name: field("Name").unwrap_or("").to_owned(),
        })
    }
}

/// One line of /proc/self/mountinfo, the fields vzctl needs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MountEntry {
    /// The mount's id (what statx reports as `stx_mnt_id`).
    pub mount_id: u64,
    /// Where the filesystem is mounted, unescaped.
    pub mount_point: PathBuf,
    /// The filesystem type, e.g. `ext4`.
    pub fstype: String,
    /// The mount source, unescaped: for ext4 the block device, e.g. `/dev/vdb`.
    pub source: PathBuf,
    /// The per-superblock options, e.g. `rw,prjquota`.
    pub super_options: String,
}

/// The mount point and the source (for ext4 the block device) of the mount that holds `path`,
/// per `mountinfo`, the text of /proc/self/mountinfo. See [`mount_of`].
pub fn device_of(path: &Path, mountinfo: &str) -> Option<(PathBuf, PathBuf)> {
    mount_of(path, mountinfo).map(|entry| (entry.mount_point, entry.source))
}

/// The mount that holds `path`, per `mountinfo`, the text of /proc/self/mountinfo: the one
/// whose mount point is the longest prefix of `path`, whole components only; of several at the
/// same point, the last listed (the one on top).
///
/// `path` should be absolute and canonical (no symlinks, `.` or `..`), as
/// `std::fs::canonicalize` returns it. Malformed lines are ignored.
pub fn mount_of(path: &Path, mountinfo: &str) -> Option<MountEntry> {
    mounts(mountinfo)
        .filter(|entry| path.starts_with(&entry.mount_point))
        .max_by_key(|entry| entry.mount_point.components().count())
}

/// The mounts of `mountinfo`, the text of /proc/self/mountinfo, in its order (a mount on top of
/// another comes after it). Malformed lines are skipped.
pub fn mounts(mountinfo: &str) -> impl Iterator<Item = MountEntry> + '_ {
    mountinfo.lines().filter_map(parse_mountinfo_line)
}

/// Whether `path` is a mount point in the caller's mount namespace, per `mountinfo`, the text of /proc/self/mountinfo.
pub fn is_mounted(mountinfo: &str, path: &Path) -> bool {
    mounts(mountinfo).any(|entry| entry.mount_point == path)
}

/// The first mount of the caller's /proc/self/mountinfo that `wanted` accepts, read only as
/// far as it: the kernel writes the table as it is read, a line per mount.
pub fn first_mount(wanted: impl Fn(&MountEntry) -> bool) -> std::io::Result<Option<MountEntry>> {
    use std::io::BufRead;
    let file = std::fs::File::open("/proc/self/mountinfo")?;
    for line in std::io::BufReader::new(file).lines() {
        if let Some(entry) = parse_mountinfo_line(&line?).filter(&wanted) {
            return Ok(Some(entry));
        }
    }
    Ok(None)
}

/// Parses `id parent major:minor root mount-point options [optional...] - fstype source super`.
fn parse_mountinfo_line(line: &str) -> Option<MountEntry> {
    let mut fields = line.split(' ');
    let mount_id = fields.next()?.parse().ok()?;
    let mount_point = fields.nth(3)?;
    // The per-mount options, then optional fields (`shared:1`, ...) up to a lone "-".
    fields.next()?;
    fields.find(|field| *field == "-")?;
    let fstype = fields.next()?;
    let source = fields.next()?;
    let super_options = fields.next().unwrap_or("");
    Some(MountEntry {
        mount_id,
        mount_point: unescape(mount_point),
        fstype: fstype.to_owned(),
        source: unescape(source),
        super_options: super_options.to_owned(),
    })
}

/// Undoes mountinfo's escaping: space, tab, newline and backslash appear as `\` and three octal
/// digits. Works on bytes, so any name comes back as it is on disk.
fn unescape(field: &str) -> PathBuf {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&byte) = bytes.get(i) {
        let escaped = bytes
            .get(i + 1..i + 4)
            .filter(|_| byte == b'\\')
            .and_then(|digits| std::str::from_utf8(digits).ok())
            .and_then(|digits| u8::from_str_radix(digits, 8).ok());
        match escaped {
            Some(value) => {
                out.push(value);
                i += 4;
            }
            None => {
                out.push(byte);
                i += 1;
            }
        }
    }
    PathBuf::from(OsString::from_vec(out))
}

/// A /proc tree of status files in a temporary directory, for unit tests.
#[cfg(test)]
pub(crate) struct FakeProc {
    root: tempfile::TempDir,
}

#[cfg(test)]
impl FakeProc {
    /// A tree with one `<pid>/status` file per entry.
    pub(crate) fn new(tasks: &[(i32, &str)]) -> FakeProc {
        let root = tempfile::tempdir().unwrap();
        for (pid, status) in tasks {
            let dir = root.path().join(pid.to_string());
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(dir.join("status"), status).unwrap();
        }
        FakeProc { root }
    }

    pub(crate) fn proc(&self) -> Proc {
        Proc::at(self.root.path())
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::os::unix::ffi::OsStrExt;

    pub(crate) const MOUNTINFO: &str = "\
22 27 0:21 / /proc rw,relatime - proc proc rw
27 1 254:0 / / rw,relatime shared:1 - ext4 /dev/vda rw,discard
40 27 254:16 / /vz rw,relatime shared:12 master:3 - ext4 /dev/vdb rw,relatime,prjquota
41 40 0:50 / /vz/root/101 rw,relatime - simfs /vz/private/101 rw
42 27 254:32 / /vzx rw - ext4 /dev/vdc rw
43 27 7:0 / /mnt/my\\040disk rw - ext4 /dev/disk/by-label/a\\040b rw,usrquota
";

    #[test]
    fn first_mount_reads_the_callers_table_up_to_a_match() {
        let root = first_mount(|entry| entry.mount_point == Path::new("/")).unwrap();
        assert!(root.is_some(), "no / in /proc/self/mountinfo");
        assert!(first_mount(|_| false).unwrap().is_none());
    }

    #[test]
    fn the_longest_mount_point_prefix_wins() {
        assert_eq!(
            device_of(Path::new("/vz/private/101"), MOUNTINFO),
            Some(("/vz".into(), "/dev/vdb".into()))
        );
        assert_eq!(
            device_of(Path::new("/vz"), MOUNTINFO),
            Some(("/vz".into(), "/dev/vdb".into()))
        );
        assert_eq!(
            device_of(Path::new("/vz/root/101/etc"), MOUNTINFO),
            Some(("/vz/root/101".into(), "/vz/private/101".into()))
        );
        // Whole components: /vzx is not under /vz, /vzy is under /.
        assert_eq!(
            device_of(Path::new("/vzx/a"), MOUNTINFO),
            Some(("/vzx".into(), "/dev/vdc".into()))
        );
        assert_eq!(
            device_of(Path::new("/vzy"), MOUNTINFO),
            Some(("/".into(), "/dev/vda".into()))
        );
        assert_eq!(
            device_of(Path::new("/vz/"), MOUNTINFO),
            Some(("/vz".into(), "/dev/vdb".into()))
        );
    }

    #[test]
    fn escapes_are_undone_in_mount_point_and_source() {
        let entry = mount_of(Path::new("/mnt/my disk/x"), MOUNTINFO).unwrap();
        assert_eq!(entry.mount_point, Path::new("/mnt/my disk"));
        assert_eq!(entry.source, Path::new("/dev/disk/by-label/a b"));
        assert!(!entry.prjquota());
        assert_eq!(unescape("a\\011b\\012c\\134d"), Path::new("a\tb\nc\\d"));
        // A backslash without three octal digits stays as written.
        assert_eq!(unescape("a\\9xy\\"), Path::new("a\\9xy\\"));
        assert_eq!(unescape("\\04"), Path::new("\\04"));
        // Bytes that are not UTF-8 come back as bytes.
        assert_eq!(
            unescape("\\377").as_os_str().as_bytes(),
            &[0xff],
            "raw byte"
        );
    }

    #[test]
    fn mount_points_are_found_with_escapes() {
        let info = "36 35 98:0 / /vz/root/101 rw - ext4 /dev/vda rw\n\
                    37 35 98:0 / /mnt/a\\040b rw - ext4 /dev/vda rw\n";
        assert!(is_mounted(info, Path::new("/vz/root/101")));
        assert!(is_mounted(info, Path::new("/mnt/a b")));
        assert!(!is_mounted(info, Path::new("/vz/root/102")));
        assert!(!is_mounted(info, Path::new("/vz/root")));
        assert!(is_mounted(MOUNTINFO, Path::new("/mnt/my disk")));
    }

    #[test]
    fn later_mounts_on_the_same_point_win() {
        let info = "30 1 8:1 / /vz rw - ext4 /dev/sda1 rw\n\
                    31 30 8:2 / /vz rw - ext4 /dev/sdb1 rw,prjquota\n";
        let entry = mount_of(Path::new("/vz/private"), info).unwrap();
        assert_eq!(entry.source, Path::new("/dev/sdb1"));
        assert!(entry.prjquota());
    }

    #[test]
    fn malformed_lines_are_skipped() {
        let info = "\n\
                    garbage\n\
                    36 35 98:0 / /vz rw no-separator ext4 /dev/vdb rw\n\
                    37 35 98:0 / /vz rw -\n\
                    38 1 98:0 / / rw - ext4 /dev/vda\n";
        let root = mount_of(Path::new("/vz/x"), info).unwrap();
        assert_eq!(root.mount_point, Path::new("/"));
        assert_eq!(root.super_options, "");
        assert_eq!(device_of(Path::new("/vz"), ""), None);
        assert_eq!(device_of(Path::new("relative"), MOUNTINFO), None);
    }

    #[test]
    fn reads_env_id_vpid_and_name() {
        let fake = FakeProc::new(&[(
            42,
            "Name:\tnginx\nState:\tS\nPid:\t42\nenvID:\t101\nVPid:\t7\n",
        )]);
        assert_eq!(
            fake.proc().task_ve(42),
            Some(TaskVe {
                pid: 42,
                veid: 101,
                vpid: 7,
                name: "nginx".into()
            })
        );
    }

    #[test]
    fn missing_task_or_lines_give_none() {
        let fake = FakeProc::new(&[(42, "Name:\tsh\nPid:\t42\n")]);
        assert_eq!(fake.proc().task_ve(42), None);
        assert_eq!(fake.proc().task_ve(43), None);
    }
}

//! The per-VE lock file `LOCKDIR/<veid>.lck`, compatible with OpenVZ's vzctl.
//!
//! The file holds `"<pid>\n<status>\n"`. It is created atomically: the content goes to a
//! temporary file in LOCKDIR which is then hard-linked to the lock name, so the lock never
//! exists half-written. A lock whose process is gone is stale and removed.

use crate::error::VzError;
use nix::errno::Errno;
use nix::sys::signal::kill;
use nix::unistd::Pid;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// How often taking the lock is tried (each try may remove a stale lock first).
const ATTEMPTS: usize = 3;

/// A held VE lock; dropping it removes the lock file.
#[derive(Debug)]
pub struct VeLock {
    path: PathBuf,
    pid: u32,
}

impl VeLock {
    /// Takes the lock of `veid` in `lockdir` (created with mode 0700 if missing), recording
    /// `status` (e.g. `starting`). `proc_dir` is the /proc tree the holder's command line is
    /// read from.
    ///
    /// A lock held by a live process is [`VzError::Locked`]; one whose process is gone, or
    /// whose content is unreadable, is removed with a message on stderr.
    pub fn acquire(
        lockdir: &Path,
        proc_dir: &Path,
        veid: u32,
        status: &str,
    ) -> Result<VeLock, VzError> {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(lockdir)
            .map_err(|source| VzError::System {
                what: format!("create lock directory {}", lockdir.display()),
                source,
            })?;
        let path = lockdir.join(format!("{veid}.lck"));
        let pid = std::process::id();
        let content = format!("{pid}\n{status}\n");
        for _ in 0..ATTEMPTS {
            match create_linked(lockdir, veid, &path, content.as_bytes()) {
                Ok(()) => return Ok(VeLock { path, pid }),
                Err(err) if err.kind() == std::io::ErrorKind::AlreadyExists => {}
                Err(source) => {
                    return Err(VzError::System {
                        what: format!("create lock file {}", path.display()),
                        source,
                    })
                }
            }
            match holder(&path) {
                Holder::Gone => {}
                Holder::Alive(holder) => {
                    return Err(VzError::Locked {
                        veid,
                        pid: holder,
                        cmdline: cmdline(proc_dir, holder),
                    })
                }
                Holder::Stale => {
                    eprintln!("Removing stale lock file {}", path.display());
                    match std::fs::remove_file(&path) {
                        Ok(()) => {}
                        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {}
                        Err(source) => {
                            return Err(VzError::System {
                                what: format!("remove stale lock file {}", path.display()),
                                source,
                            })
                        }
                    }
                }
            }
        }
        Err(VzError::System {
            what: format!(
                "lock file {}: still taken after {ATTEMPTS} attempts",
                path.display()
            ),
            source: std::io::ErrorKind::AlreadyExists.into(),
        })
    }

    /// The lock file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for VeLock {
    fn drop(&mut self) {
        // Someone may have removed our lock as stale and taken it; theirs stays.
        if read_pid(&self.path) == Some(i64::from(self.pid)) {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// Who holds an existing lock file.
enum Holder {
    /// The file vanished meanwhile.
    Gone,
    /// The process with this pid is alive.
    Alive(i32),
    /// The process is gone, or the file says no usable pid.
    Stale,
}

fn holder(path: &Path) -> Holder {
    match std::fs::read_to_string(path) {
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => Holder::Gone,
        // An unreadable file cannot name a live holder; replacing it is what OpenVZ does.
        Err(_) => Holder::Stale,
        Ok(text) => match parse_pid(&text) {
            // A pid of 0 or below would make kill() address process groups.
            Some(pid) if pid > 0 => match i32::try_from(pid) {
                Ok(pid) if is_alive(pid) => Holder::Alive(pid),
                _ => Holder::Stale,
            },
            _ => Holder::Stale,
        },
    }
}

/// The pid on the first line of a lock file.
fn parse_pid(text: &str) -> Option<i64> {
    text.lines().next()?.trim().parse().ok()
}

fn read_pid(path: &Path) -> Option<i64> {
    parse_pid(&std::fs::read_to_string(path).ok()?)
}

/// Whether process `pid` (> 0) exists: `kill(pid, 0)` fails with ESRCH only if it does not.
fn is_alive(pid: i32) -> bool {
    !matches!(kill(Pid::from_raw(pid), None), Err(Errno::ESRCH))
}

/// The command line of `pid` with NULs as spaces, or `unknown` if it cannot be read.
fn cmdline(proc_dir: &Path, pid: i32) -> String {
    match std::fs::read(proc_dir.join(pid.to_string()).join("cmdline")) {
        Ok(raw) if !raw.is_empty() => String::from_utf8_lossy(&raw)
            .replace('\0', " ")
            .trim_end()
            .to_owned(),
        _ => "unknown".to_owned(),
    }
}

/// Writes `content` to a fresh temporary file in `lockdir` and hard-links it to `path`.
/// Fails with `AlreadyExists` if `path` exists. Not synced to disk: a lock outlives no
/// crash (its holder is gone after one), and a file a crash left empty or cut short names no
/// live process, so it is removed as stale. (A sync was a journal commit, the longest step
/// of a start.)
fn create_linked(lockdir: &Path, veid: u32, path: &Path, content: &[u8]) -> std::io::Result<()> {
    let (tmp, mut file) = create_temp(lockdir, veid)?;
    let result = file
        .write_all(content)
        .and_then(|()| std::fs::hard_link(&tmp, path));
    // The lock name (if linked) keeps the content; the temporary name is never needed.
    let _ = std::fs::remove_file(&tmp);
    result
}

/// Creates `lockdir/<veid>.lckXXXXXX` exclusively with mode 0600, like mkstemp(3).
fn create_temp(lockdir: &Path, veid: u32) -> std::io::Result<(PathBuf, std::fs::File)> {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let mut last_err = std::io::Error::from(std::io::ErrorKind::AlreadyExists);
    for _ in 0..100 {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let seed = nanos
            ^ std::process::id().rotate_left(16)
            ^ COUNTER
                .fetch_add(1, Ordering::Relaxed)
                .wrapping_mul(0x9e37_79b9);
        let tmp = lockdir.join(format!("{veid}.lck{}", suffix(seed)));
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)
        {
            Ok(file) => return Ok((tmp, file)),
            Err(err) if err.kind() == std::io::ErrorKind::AlreadyExists => last_err = err,
            Err(err) => return Err(err),
        }
    }
    Err(last_err)
}

/// Six characters of `[0-9a-z]` from `seed`.
fn suffix(mut seed: u32) -> String {
    const DIGITS: &[u8; 36] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    (0..6)
        .map(|_| {
            let digit = DIGITS.get((seed % 36) as usize).copied().unwrap_or(b'x');
            seed /= 36;
            char::from(digit)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A temporary lock directory and /proc tree, removed when dropped.
    struct TempDirs {
        root: tempfile::TempDir,
    }

    impl TempDirs {
        fn new() -> TempDirs {
            let root = tempfile::tempdir().unwrap();
            std::fs::create_dir_all(root.path().join("proc")).unwrap();
            TempDirs { root }
        }

        fn lockdir(&self) -> PathBuf {
            self.root.path().join("vz/lock")
        }

        fn proc(&self) -> PathBuf {
            self.root.path().join("proc")
        }

        fn files(&self) -> Vec<String> {
            let mut names: Vec<String> = std::fs::read_dir(self.lockdir())
                .unwrap()
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect();
            names.sort();
            names
        }
    }

    /// A pid no process can have: above the kernel's maximum pid_max (2^22).
    const DEAD_PID: i32 = 0x7fff_fffe;

    #[test]
    fn acquire_writes_pid_and_status_and_drop_removes() {
        let dirs = TempDirs::new();
        let lock = VeLock::acquire(&dirs.lockdir(), &dirs.proc(), 101, "starting").unwrap();
        assert_eq!(lock.path(), dirs.lockdir().join("101.lck"));
        let text = std::fs::read_to_string(lock.path()).unwrap();
        assert_eq!(text, format!("{}\nstarting\n", std::process::id()));
        assert_eq!(dirs.files(), vec!["101.lck"], "no temporary file left");
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dirs.lockdir())
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o700);
        drop(lock);
        assert!(dirs.files().is_empty());
    }

    #[test]
    fn live_holder_is_locked_with_its_cmdline() {
        let dirs = TempDirs::new();
        let me = std::process::id();
        std::fs::create_dir_all(dirs.lockdir()).unwrap();
        std::fs::write(dirs.lockdir().join("102.lck"), format!("{me}\nstopping\n")).unwrap();
        let proc_pid = dirs.proc().join(me.to_string());
        std::fs::create_dir_all(&proc_pid).unwrap();
        std::fs::write(proc_pid.join("cmdline"), b"vzctl\x00stop\x00102\x00").unwrap();

        let err = VeLock::acquire(&dirs.lockdir(), &dirs.proc(), 102, "starting").unwrap_err();
        assert_eq!(err.exit_code(), 9);
        assert!(
            err.to_string()
                .contains(&format!("Locked by: pid {me}, cmdline vzctl stop 102")),
            "{err}"
        );
        // The holder's lock is untouched.
        assert_eq!(
            std::fs::read_to_string(dirs.lockdir().join("102.lck")).unwrap(),
            format!("{me}\nstopping\n")
        );
        assert_eq!(dirs.files(), vec!["102.lck"]);
    }

    #[test]
    fn unreadable_cmdline_is_unknown() {
        let dirs = TempDirs::new();
        let me = std::process::id();
        std::fs::create_dir_all(dirs.lockdir()).unwrap();
        std::fs::write(dirs.lockdir().join("103.lck"), format!("{me}\nmounting\n")).unwrap();
        match VeLock::acquire(&dirs.lockdir(), &dirs.proc(), 103, "starting") {
            Err(VzError::Locked { veid, pid, cmdline }) => {
                assert_eq!((veid, i64::from(pid)), (103, i64::from(me)));
                assert_eq!(cmdline, "unknown");
            }
            other => panic!("expected Locked, got {other:?}"),
        }
    }

    #[test]
    fn stale_locks_are_replaced() {
        let dirs = TempDirs::new();
        std::fs::create_dir_all(dirs.lockdir()).unwrap();
        let path = dirs.lockdir().join("104.lck");
        for stale in [
            format!("{DEAD_PID}\nstarting\n"),
            String::new(),
            "garbage\n".to_owned(),
            "0\nstarting\n".to_owned(),
            "-1\nstarting\n".to_owned(),
            "99999999999\n".to_owned(),
        ] {
            std::fs::write(&path, &stale).unwrap();
            let lock = VeLock::acquire(&dirs.lockdir(), &dirs.proc(), 104, "stopping")
                .unwrap_or_else(|err| panic!("{stale:?}: {err}"));
            assert_eq!(
                std::fs::read_to_string(&path).unwrap(),
                format!("{}\nstopping\n", std::process::id())
            );
            drop(lock);
            assert!(!path.exists());
        }
    }

    #[test]
    fn second_acquire_in_the_same_process_is_locked() {
        let dirs = TempDirs::new();
        let first = VeLock::acquire(&dirs.lockdir(), &dirs.proc(), 105, "starting").unwrap();
        let err = VeLock::acquire(&dirs.lockdir(), &dirs.proc(), 105, "starting").unwrap_err();
        assert!(matches!(err, VzError::Locked { veid: 105, .. }));
        // Other VEs are independent.
        let other = VeLock::acquire(&dirs.lockdir(), &dirs.proc(), 106, "starting").unwrap();
        drop(first);
        drop(other);
        assert!(dirs.files().is_empty());
    }

    #[test]
    fn drop_keeps_a_lock_taken_over_by_another_process() {
        let dirs = TempDirs::new();
        let lock = VeLock::acquire(&dirs.lockdir(), &dirs.proc(), 107, "starting").unwrap();
        std::fs::write(lock.path(), "1\nstarting\n").unwrap();
        let path = lock.path().to_owned();
        drop(lock);
        assert_eq!(std::fs::read_to_string(path).unwrap(), "1\nstarting\n");
    }

    #[test]
    fn temp_suffix_is_six_alphanumerics() {
        for seed in [0, 1, 35, 36, u32::MAX] {
            let s = suffix(seed);
            assert_eq!(s.len(), 6);
            assert!(s.bytes().all(|b| b.is_ascii_alphanumeric()));
        }
        assert_ne!(suffix(1), suffix(2));
    }
}

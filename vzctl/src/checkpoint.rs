//! What a checkpoint holds besides CRIU's images: the module's state of the VE (`vz-ve.json`,
//! versioned), and the names of the files in a dump directory.
//!
//! CRIU knows nothing of VE ids, beancounters or device rules; `vzctl chkpnt` saves them here
//! from `VZCTL_VE_EXPORT` and `vzctl restore` gives them back with `VZCTL_VE_IMPORT`.

use crate::error::VzError;
use serde::{Deserialize, Serialize};
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use vz_abi as abi;

/// The module's part of a dump, in the dump directory.
pub const STATE_FILE: &str = "vz-ve.json";
/// CRIU's logs, in the dump directory.
pub const PRE_DUMP_LOG: &str = "pre-dump.log";
pub const DUMP_LOG: &str = "dump.log";
pub const RESTORE_LOG: &str = "restore.log";
/// The version of `vz-ve.json` this vzctl writes and reads.
const STATE_FORMAT: u32 = 1;

/// One beancounter row, by OpenVZ's resource name.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SavedCounter {
    pub resource: String,
    pub held: u64,
    pub maxheld: u64,
    pub barrier: u64,
    pub limit: u64,
    pub failcnt: u64,
}

/// One device rule, as the module keeps it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SavedDevice {
    pub kind: u32,
    pub major: u32,
    pub minor: u32,
    pub flags: u32,
    pub perms: u32,
}

/// The state of a VE that the module keeps and CRIU does not carry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SavedVe {
    pub format: u32,
    pub veid: u32,
    pub beancounters: Vec<SavedCounter>,
    pub devices: Vec<SavedDevice>,
    pub addresses: Vec<Ipv4Addr>,
    /// The network devices of the VE that it gets back (CRIU recreates them): venet0 and
    /// those given with --netdev_add.
    pub netdevs: Vec<String>,
    /// Host pid of the VE's init when dumped. CRIU 3.17 names the nftables table that locks
    /// the VE's network during the dump after it (`inet CRIU-PID`), saves that table with
    /// the VE's rules, and after a restore looks for one named after the new init to lift:
    /// vzctl lifts the saved one itself.
    pub dumped_init_pid: i32,
    /// The CPU files of the VE's cgroup as they were (`CGROUP_FILES`): set live with
    /// `vzctl set` without --save, they come back too.
    pub cgroup: Vec<(String, String)>,
    /// The directories and links of the VE's /dev (the nodes are remade from its device
    /// rules): its /dev is a tmpfs of the host's, which CRIU does not restore (see
    /// `runtime::RestoreMounts`), and what the VE made there (systemd's /dev/mqueue mount
    /// point, /dev/log) must be back before CRIU mounts over it.
    #[serde(default)]
    pub dev: Vec<DevEntry>,
    /// The controllers enabled for sub-cgroups (`cgroup.subtree_control`) in the VE's cgroup
    /// tree, by path below the VE's cgroup, parents first: CRIU makes the cgroups but does
    /// not set these.
    #[serde(default)]
    pub subtree_control: Vec<(PathBuf, String)>,
}

/// A directory or a symbolic link in a VE's /dev, by its path below /dev.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DevEntry {
    pub path: PathBuf,
    /// The link's target; none for a directory.
    pub link: Option<PathBuf>,
}

/// How many entries of a VE's /dev a checkpoint keeps, and how deep: its /dev tmpfs holds at
/// most 4096 inodes, and what the VE makes there is the VE's, so it is bounded.
pub const DEV_ENTRIES_MAX: usize = 1024;
pub const DEV_DEPTH_MAX: usize = 8;

/// The files of a VE's cgroup a checkpoint keeps (its memory limit is physpages', kept with
/// the beancounters).
pub const CGROUP_FILES: [&str; 3] = ["cpu.weight", "cpu.max", "cpuset.cpus"];

impl SavedVe {
    /// The state of VE `veid` as the module exported it; `netdevs` are the VE's devices.
    pub fn from_export(
        veid: u32,
        init_pid: i32,
        counters: &[abi::UbCounter; abi::UB_COUNT],
        devices: &[abi::DevPerm],
        addresses: &[abi::VeAddr],
        netdevs: Vec<String>,
        cgroup: Vec<(String, String)>,
    ) -> SavedVe {
        SavedVe {
            format: STATE_FORMAT,
            veid,
            beancounters: abi::UB_NAMES
                .iter()
                .zip(counters)
                .filter(|(name, _)| **name != "dummy")
                .map(|(name, row)| SavedCounter {
                    resource: (*name).to_owned(),
                    held: row.held,
                    maxheld: row.maxheld,
                    barrier: row.barrier,
                    limit: row.limit,
                    failcnt: row.failcnt,
                })
                .collect(),
            devices: devices
                .iter()
                .map(|rule| SavedDevice {
                    kind: rule.kind,
                    major: rule.major,
                    minor: rule.minor,
                    flags: rule.flags,
                    perms: rule.perms,
                })
                .collect(),
            addresses: ipv4_addresses(addresses),
            netdevs,
            dumped_init_pid: init_pid,
            cgroup,
            dev: Vec::new(),
            subtree_control: Vec::new(),
        }
    }

    /// `subtree_control` with each path checked to stay below the VE's cgroup (a plain
    /// relative path) and each value as cgroup.subtree_control takes it (`+memory +pids`).
    pub fn subtree_writes(&self) -> Result<Vec<(PathBuf, String)>, String> {
        self.subtree_control
            .iter()
            .map(|(dir, controllers)| {
                let plain = dir
                    .components()
                    .all(|c| matches!(c, std::path::Component::Normal(_)));
                let names_ok = controllers
                    .split_whitespace()
                    .all(|c| c.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'));
                if !plain || !names_ok {
                    return Err(format!("bad cgroup entry {:?}: {controllers:?}", dir));
                }
                let value: Vec<String> = controllers
                    .split_whitespace()
                    .map(|c| format!("+{c}"))
                    .collect();
                Ok((dir.join("cgroup.subtree_control"), value.join(" ")))
            })
            .collect()
    }

    /// The name of the table that locked the VE's network during the dump (family inet).
    pub fn network_lock_table(&self) -> String {
        format!("CRIU-{}", self.dumped_init_pid)
    }

    /// The beancounter rows indexed like `UB_NAMES` (dummy rows zero).
    pub fn counters(&self) -> Result<[abi::UbCounter; abi::UB_COUNT], String> {
        let mut rows = [abi::UbCounter::default(); abi::UB_COUNT];
        for saved in &self.beancounters {
            let index = abi::UB_NAMES
                .iter()
                .position(|name| *name == saved.resource && *name != "dummy")
                .ok_or_else(|| format!("unknown beancounter {:?}", saved.resource))?;
            if saved.barrier > saved.limit || saved.limit > abi::UB_UNLIMITED {
                return Err(format!("{}: barrier above limit", saved.resource));
            }
            rows[index] = abi::UbCounter {
                held: saved.held,
                maxheld: saved.maxheld,
                barrier: saved.barrier,
                limit: saved.limit,
                failcnt: saved.failcnt,
            };
        }
        Ok(rows)
    }

    /// The device rules for VE `veid`.
    pub fn device_rules(&self) -> Vec<abi::DevPerm> {
        self.devices
            .iter()
            .map(|d| abi::DevPerm {
                veid: self.veid,
                kind: d.kind,
                major: d.major,
                minor: d.minor,
                flags: d.flags,
                perms: d.perms,
            })
            .collect()
    }

    /// Writes the state into dump directory `dir`.
    pub fn save(&self, dir: &Path) -> Result<(), VzError> {
        let path = dir.join(STATE_FILE);
        let text = serde_json::to_string_pretty(self).map_err(|e| VzError::ChkpntFailed {
            veid: self.veid,
            reason: format!("{}: {e}", path.display()),
        })?;
        std::fs::write(&path, text + "\n").map_err(|e| VzError::ChkpntFailed {
            veid: self.veid,
            reason: format!("write {}: {e}", path.display()),
        })
    }

    /// Reads the state from dump directory `dir`, which must be a dump of VE `veid`.
    pub fn load(dir: &Path, veid: u32) -> Result<SavedVe, VzError> {
        let failed = |reason: String| VzError::RestoreFailed { veid, reason };
        if !dir.is_dir() {
            return Err(failed(format!("no dump at {}", dir.display())));
        }
        let path = dir.join(STATE_FILE);
        let text = std::fs::read_to_string(&path).map_err(|e| {
            failed(format!(
                "{}: {e} (not a dump made by vzctl chkpnt)",
                path.display()
            ))
        })?;
        let saved: SavedVe = serde_json::from_str(&text)
            .map_err(|e| failed(format!("{}: corrupted: {e}", path.display())))?;
        if saved.format != STATE_FORMAT {
            return Err(failed(format!(
                "{}: format {} (this vzctl reads format {STATE_FORMAT})",
                path.display(),
                saved.format
            )));
        }
        if saved.veid != veid {
            return Err(failed(format!(
                "{} is a dump of CT {}, not of CT {veid}",
                dir.display(),
                saved.veid
            )));
        }
        saved
            .counters()
            .map_err(|e| failed(format!("{}: {e}", path.display())))?;
        Ok(saved)
    }
}

/// Options of both directions: established TCP connections (TCP repair), file locks, and
/// open files whose name is gone (linked again while dumping).
const CRIU_COMMON: [&str; 4] = ["--tcp-established", "--file-locks", "--link-remap", "-v4"];

/// The IPv4 ones of the module's VE addresses.
pub fn ipv4_addresses(addresses: &[abi::VeAddr]) -> Vec<Ipv4Addr> {
    addresses
        .iter()
        .filter(|addr| addr.family == abi::VE_ADDR_IPV4)
        .map(|addr| Ipv4Addr::new(addr.addr[0], addr.addr[1], addr.addr[2], addr.addr[3]))
        .collect()
}

/// The key of the VE's /dev in a dump: a tmpfs vzctl makes on the host, given back by vzctl
/// at restore rather than recreated by CRIU (see `runtime::RestoreMounts`).
const DEV_KEY: &str = "vzdev";

/// Which dump CRIU makes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DumpMode<'a> {
    /// The checkpoint. With `kill` CRIU kills the tree once dumped; otherwise it leaves it
    /// frozen (`--leave-running` keeps the tasks; the freezer keeps them still), for vzctl
    /// to kill or thaw. `parent` (a pre-dump beside `dir`) holds the pages that did not
    /// change since.
    Final { kill: bool, parent: Option<&'a str> },
    /// A pre-dump of a live migration: memory only, the tasks frozen just while their pages
    /// are collected; the kernel then tracks what they dirty, for the next dump (`parent`
    /// the one before it).
    Pre { parent: Option<&'a str> },
}

/// `criu dump` (or `pre-dump`) of the tree of `init_pid` into `dir`, which the VE's cgroup
/// `cgroup` (`cgroup_root` in the cgroup tree) holds frozen while it runs.
pub fn criu_dump_args(
    init_pid: i32,
    dir: &Path,
    cgroup: &Path,
    cgroup_root: &str,
    mode: DumpMode,
) -> Vec<String> {
    let (verb, log, parent) = match mode {
        DumpMode::Final { parent, .. } => ("dump", DUMP_LOG, parent),
        DumpMode::Pre { parent } => ("pre-dump", PRE_DUMP_LOG, parent),
    };
    let mut args = vec![
        "criu".to_owned(),
        verb.to_owned(),
        "--tree".to_owned(),
        init_pid.to_string(),
        "--images-dir".to_owned(),
        dir.display().to_string(),
        "--log-file".to_owned(),
        log.to_owned(),
        "--freeze-cgroup".to_owned(),
        cgroup.display().to_string(),
        // Every cgroup of the VE's tree, empty ones too (systemd keeps watches on those of
        // its mount units), not only those its tasks are in.
        "--cgroup-root".to_owned(),
        cgroup_root.to_owned(),
        // The VE's network namespace is held silent by nftables rules while its sockets are
        // dumped (the restore lifts them once its sockets are back).
        "--network-lock".to_owned(),
        "nftables".to_owned(),
        "--external".to_owned(),
        format!("mnt[/dev]:{DEV_KEY}"),
    ];
    // Memory tracking makes a dump skip the pages its parent holds unchanged.
    if matches!(mode, DumpMode::Pre { .. }) || parent.is_some() {
        args.push("--track-mem".to_owned());
    }
    if let Some(parent) = parent {
        // Relative to `dir`, so that the dumps can move together to another host.
        args.push("--prev-images-dir".to_owned());
        args.push(format!("../{parent}"));
    }
    if let DumpMode::Final { kill, .. } = mode {
        if !kill {
            args.push("--leave-running".to_owned());
        }
        // Inotify watches (systemd's) by path, not by file handle: a handle names an inode
        // of this filesystem, and the dump may be restored on another host's copy of it.
        args.push("--force-irmap".to_owned());
    }
    args.extend(CRIU_COMMON.iter().map(|a| (*a).to_owned()));
    args
}

/// What CRIU measured of one dump (its `stats-dump` image).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DumpStats {
    /// How long the tasks were frozen, in microseconds.
    pub frozen_us: u64,
    /// Pages written to this dump (not those left in its parent).
    pub pages_written: u64,
}

impl DumpStats {
    /// The stats of the dump in `dir`. The image is two magic numbers, the message's
    /// length, then a protobuf `StatsEntry` whose field 1 is the `DumpStatsEntry`
    /// (frozen_time is its field 2, pages_written field 7).
    pub fn read(dir: &Path) -> Result<DumpStats, String> {
        let path = dir.join("stats-dump");
        let bytes = std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        let bad = || format!("{}: not a CRIU stats image", path.display());
        let len = bytes
            .get(8..12)
            .and_then(|b| b.try_into().ok())
            .map(u32::from_le_bytes)
            .ok_or_else(bad)?;
        let end = 12usize.checked_add(len as usize).ok_or_else(bad)?;
        let entry = bytes.get(12..end).ok_or_else(bad)?;
        let dump = protobuf_fields(entry)
            .ok_or_else(bad)?
            .into_iter()
            .find_map(|(field, value)| match (field, value) {
                (1, Field::Bytes(dump)) => Some(dump),
                _ => None,
            })
            .ok_or_else(bad)?;
        let mut stats = DumpStats::default();
        for (field, value) in protobuf_fields(dump).ok_or_else(bad)? {
            match (field, value) {
                (2, Field::Varint(us)) => stats.frozen_us = us,
                (7, Field::Varint(pages)) => stats.pages_written = pages,
                _ => {}
            }
        }
        Ok(stats)
    }
}

/// A protobuf field's value, of the wire types a CRIU stats image uses.
enum Field<'a> {
    Varint(u64),
    Bytes(&'a [u8]),
    Fixed,
}

/// The (field number, value) pairs of a protobuf message; None if it is malformed.
fn protobuf_fields(mut bytes: &[u8]) -> Option<Vec<(u64, Field<'_>)>> {
    fn varint(bytes: &mut &[u8]) -> Option<u64> {
        let mut value = 0u64;
        for shift in (0..64).step_by(7) {
            let (&byte, rest) = bytes.split_first()?;
            *bytes = rest;
            value |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                return Some(value);
            }
        }
        None
    }
    let mut fields = Vec::new();
    while !bytes.is_empty() {
        let key = varint(&mut bytes)?;
        let value = match key & 7 {
            0 => Field::Varint(varint(&mut bytes)?),
            2 => {
                let len = usize::try_from(varint(&mut bytes)?).ok()?;
                let (data, rest) = (bytes.get(..len)?, bytes.get(len..)?);
                bytes = rest;
                Field::Bytes(data)
            }
            1 => {
                bytes = bytes.get(8..)?;
                Field::Fixed
            }
            5 => {
                bytes = bytes.get(4..)?;
                Field::Fixed
            }
            _ => return None,
        };
        fields.push((key >> 3, value));
    }
    Some(fields)
}

/// `criu restore` from `dir` onto the staged root and /dev `mounts` (where it also writes
/// the restored root's host pid), the VE's cgroups made below `cgroup_root`, running the script `action` (vzctl's criu-action) at
/// each of CRIU's steps. `veth` names the VE end and the host end of its link, when it has one;
/// `stopped` leaves every task stopped (for `restore --undump`).
pub fn criu_restore_args(
    dir: &Path,
    mounts: &crate::runtime::RestoreMounts,
    cgroup_root: &str,
    action: &Path,
    veth: Option<(&str, &str)>,
    stopped: bool,
) -> Vec<String> {
    let mut args = vec![
        "criu".to_owned(),
        "restore".to_owned(),
        "--images-dir".to_owned(),
        dir.display().to_string(),
        "--log-file".to_owned(),
        RESTORE_LOG.to_owned(),
        "--root".to_owned(),
        mounts.root().display().to_string(),
        "--restore-detached".to_owned(),
        "--pidfile".to_owned(),
        mounts.pidfile().display().to_string(),
        "--action-script".to_owned(),
        action.display().to_string(),
        "--cgroup-root".to_owned(),
        cgroup_root.to_owned(),
        "--cgroup-yard".to_owned(),
        mounts.yard().display().to_string(),
        "--external".to_owned(),
        format!("mnt[{DEV_KEY}]:{}", mounts.dev().display()),
    ];
    if let Some((inside, host)) = veth {
        args.push("--external".to_owned());
        args.push(format!("veth[{inside}]:{host}"));
    }
    if stopped {
        args.push("--leave-stopped".to_owned());
    }
    args.extend(CRIU_COMMON.iter().map(|a| (*a).to_owned()));
    args
}

/// The last errors CRIU wrote to its log at `path` (up to three `Error (...)` lines, joined),
/// for the one-line reason of a failed checkpoint or restore.
pub fn criu_errors(path: &Path) -> Option<String> {
    let text = std::fs::read_to_string(path).ok()?;
    let errors: Vec<&str> = text
        .lines()
        .filter_map(|line| line.find("Error (").map(|at| line[at..].trim()))
        .collect();
    let last = errors.get(errors.len().saturating_sub(3)..)?;
    (!last.is_empty()).then(|| last.join("; "))
}

/// Where a checkpoint in progress is written, beside its final place: a failed or interrupted
/// dump never replaces a good one.
pub fn partial_dir(dump: &Path) -> PathBuf {
    suffixed(dump, ".partial")
}

/// Where a failed dump is kept, with CRIU's log, for the admin to read (OpenVZ's `DIR.fail`).
pub fn failed_dir(dump: &Path) -> PathBuf {
    suffixed(dump, ".fail")
}

fn suffixed(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> SavedVe {
        let mut counters = [abi::UbCounter::default(); abi::UB_COUNT];
        counters[abi::UB_NUMPROC as usize] = abi::UbCounter {
            held: 3,
            maxheld: 7,
            barrier: 40,
            limit: 40,
            failcnt: 2,
        };
        let rule = abi::DevPerm {
            veid: 101,
            kind: abi::DEV_CHAR,
            major: 1,
            minor: 3,
            flags: 0,
            perms: abi::DEVPERM_ALL,
        };
        let mut addr = abi::VeAddr {
            family: abi::VE_ADDR_IPV4,
            ..Default::default()
        };
        addr.addr[..4].copy_from_slice(&[10, 0, 0, 1]);
        SavedVe::from_export(
            101,
            77,
            &counters,
            &[rule],
            &[addr],
            vec!["venet0".into()],
            vec![("cpu.max".into(), "50000 100000".into())],
        )
    }

    #[test]
    fn the_state_round_trips_through_its_file() {
        let dir = tempfile::tempdir().unwrap();
        let saved = sample();
        assert_eq!(saved.beancounters.len(), 21, "every real row, no dummy");
        saved.save(dir.path()).unwrap();
        let loaded = SavedVe::load(dir.path(), 101).unwrap();
        assert_eq!(loaded, saved);
        let rows = loaded.counters().unwrap();
        assert_eq!(rows[abi::UB_NUMPROC as usize].maxheld, 7);
        assert_eq!(rows[abi::UB_NUMPROC as usize].failcnt, 2);
        assert_eq!(loaded.device_rules()[0].minor, 3);
        assert_eq!(loaded.addresses, vec![Ipv4Addr::new(10, 0, 0, 1)]);
    }

    #[test]
    fn another_ves_missing_or_corrupted_dump_is_a_restore_error() {
        let dir = tempfile::tempdir().unwrap();
        let err = SavedVe::load(&dir.path().join("none"), 101).unwrap_err();
        assert_eq!(err.exit_code(), 17);
        assert!(err.to_string().contains("no dump at"), "{err}");
        let err = SavedVe::load(dir.path(), 101).unwrap_err();
        assert!(
            err.to_string().contains("not a dump made by vzctl chkpnt"),
            "{err}"
        );
        sample().save(dir.path()).unwrap();
        let err = SavedVe::load(dir.path(), 102).unwrap_err();
        assert_eq!(err.exit_code(), 17);
        assert!(
            err.to_string()
                .contains("is a dump of CT 101, not of CT 102"),
            "{err}"
        );
        let path = dir.path().join(STATE_FILE);
        let text = std::fs::read_to_string(&path).unwrap();
        std::fs::write(&path, &text[..text.len() / 2]).unwrap();
        let err = SavedVe::load(dir.path(), 101).unwrap_err();
        assert!(err.to_string().contains("corrupted"), "{err}");
        std::fs::write(&path, text.replace("\"numproc\"", "\"nosuch\"")).unwrap();
        let err = SavedVe::load(dir.path(), 101).unwrap_err();
        assert!(err.to_string().contains("unknown beancounter"), "{err}");
    }

    #[test]
    fn subtree_controls_stay_below_the_ves_cgroup() {
        let mut saved = sample();
        saved.subtree_control = vec![
            (PathBuf::new(), "cpu memory pids".into()),
            (PathBuf::from("system.slice"), "memory".into()),
        ];
        assert_eq!(
            saved.subtree_writes().unwrap(),
            [
                (
                    PathBuf::from("cgroup.subtree_control"),
                    "+cpu +memory +pids".into()
                ),
                (
                    PathBuf::from("system.slice/cgroup.subtree_control"),
                    "+memory".into()
                ),
            ]
        );
        for (dir, controllers) in [
            ("../102", "memory"),
            ("/vz", "memory"),
            ("a", "+memory -cpu"),
        ] {
            saved.subtree_control = vec![(PathBuf::from(dir), controllers.into())];
            assert!(saved.subtree_writes().is_err(), "{dir} {controllers}");
        }
    }

    #[test]
    fn the_last_criu_errors_make_the_reason() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("restore.log");
        std::fs::write(
            &log,
            "(00.1) Restoring\n(00.2) Error (criu/a.c:1): one\n(00.3) ok\n\
             Error (criu/b.c:2): two\n(00.4) Error (criu/c.c:3): three\n(00.5) Error (criu/d.c:4): four\n",
        )
        .unwrap();
        assert_eq!(
            criu_errors(&log).unwrap(),
            "Error (criu/b.c:2): two; Error (criu/c.c:3): three; Error (criu/d.c:4): four"
        );
        std::fs::write(&log, "(00.1) fine\n").unwrap();
        assert_eq!(criu_errors(&log), None);
        assert_eq!(criu_errors(&dir.path().join("none")), None);
    }

    #[test]
    fn partial_and_failed_dumps_sit_beside_the_dump() {
        let dump = Path::new("/vz/dump/Dump.101");
        assert_eq!(partial_dir(dump), Path::new("/vz/dump/Dump.101.partial"));
        assert_eq!(failed_dir(dump), Path::new("/vz/dump/Dump.101.fail"));
    }
}

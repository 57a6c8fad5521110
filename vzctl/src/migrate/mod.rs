//! vzmigrate: moves a VE to another host, in OpenVZ 4.x's phases, words and exit codes.
//!
//! - A stopped VE is copied and registered there (offline).
//! - A running one without --online is stopped, copied and started there.
//! - With --online it keeps running while its private area is copied and its memory is
//!   pre-dumped (iteratively, until a rule like P.Haul's says more rounds would not help); it
//!   is then frozen, dumped with its network locked, its last changes copied, and restored
//!   there, and only then killed here.
//!
//! Until the destination runs the VE every step has an undo: a failure at any phase leaves
//! the VE running here (thawed if it was frozen, with its addresses) and nothing of it there
//! (unless --keep-dst), and the exit code names the phase.

pub mod agent;
pub mod remote;

use crate::checkpoint::{DumpMode, DumpStats};
use crate::commands::Ctx;
use crate::error::VzError;
use crate::paths::Global;
use crate::ve::Ve;
use remote::{Remote, RemoteError};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// vzmigrate's exit codes (OpenVZ 4.x's vzmigrate(8)).
pub mod exit {
    pub const USAGE: i32 = 1;
    pub const LIVE_STOPPED: i32 = 2;
    pub const CONNECT: i32 = 4;
    pub const COPY: i32 = 6;
    pub const DEST_START: i32 = 7;
    pub const SOURCE_STOP: i32 = 8;
    pub const EXISTS: i32 = 9;
    pub const NO_VE: i32 = 10;
    pub const IP_IN_USE: i32 = 12;
    pub const NO_MODULE: i32 = 14;
    pub const VERSION: i32 = 17;
    pub const LOCKED: i32 = 20;
}

/// A failed migration: vzmigrate's exit code and one line saying what went wrong.
#[derive(Debug)]
pub struct MigrateError {
    pub code: i32,
    pub message: String,
}

impl MigrateError {
    pub fn new(code: i32, message: impl Into<String>) -> MigrateError {
        MigrateError {
            code,
            message: message.into(),
        }
    }
}

impl From<VzError> for MigrateError {
    /// A failure of this host's own side that no phase names: its module, its lock.
    fn from(err: VzError) -> MigrateError {
        let code = match err {
            VzError::ModuleNotLoaded(_) => exit::NO_MODULE,
            VzError::AbiMismatch { .. } => exit::VERSION,
            VzError::Locked { .. } => exit::LOCKED,
            _ => exit::USAGE,
        };
        MigrateError::new(code, err.to_string())
    }
}

/// How the destination's failure reads for a phase whose own failures exit `code`: ssh
/// that cannot reach it for the checks is exit 4 (later, the phase's code: a copy cut
/// short is a failed copy); the agent's checks pass their own codes on.
fn remote_error(code: i32) -> impl Fn(RemoteError) -> MigrateError {
    move |err| match err {
        RemoteError::Connection(message) if code == exit::USAGE => {
            MigrateError::new(exit::CONNECT, message)
        }
        RemoteError::Connection(message) => MigrateError::new(code, message),
        RemoteError::Failed { status, message } => {
            let known = [
                exit::COPY,
                exit::EXISTS,
                exit::IP_IN_USE,
                exit::NO_MODULE,
                exit::VERSION,
            ];
            let code = if code == exit::USAGE && known.contains(&status) {
                status
            } else {
                code
            };
            MigrateError::new(code, message)
        }
    }
}

/// What vzmigrate was asked.
#[derive(Debug)]
pub struct Options {
    pub destination: String,
    pub ctid: String,
    pub remove_area: bool,
    pub keep_dst: bool,
    pub online: bool,
    pub iterative: bool,
    pub check_only: bool,
    pub times: bool,
    pub json: bool,
    pub verbose: bool,
    pub ssh: String,
    pub rsync: String,
}

/// P.Haul's rule for when pre-copying stops: a round that writes this few pages leaves
/// the final dump little to do...
const FEW_PAGES: u64 = 64;
/// ...a round that writes this much more than the one before is not converging (the VE
/// dirties memory faster than it is copied), in percent...
const GROWTH_PERCENT: u64 = 10;
/// ...and there is a last round.
const MAX_ROUNDS: usize = 8;

/// Why pre-copying stopped.
#[derive(Debug, PartialEq, Eq)]
pub enum StopRule {
    FewPages(u64),
    NoProgress { before: u64, now: u64 },
    Rounds(usize),
}

impl std::fmt::Display for StopRule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StopRule::FewPages(pages) => {
                write!(
                    f,
                    "{pages} pages written, at most {FEW_PAGES} left to copy frozen"
                )
            }
            StopRule::NoProgress { before, now } => write!(
                f,
                "no progress ({now} pages written after {before}, more than {GROWTH_PERCENT}% up)"
            ),
            StopRule::Rounds(rounds) => write!(f, "{rounds} rounds, the most it takes"),
        }
    }
}

/// Whether pre-copying stops after rounds that wrote `written` pages each.
pub fn stop_rule(written: &[u64]) -> Option<StopRule> {
    let &now = written.last()?;
    if now <= FEW_PAGES {
        return Some(StopRule::FewPages(now));
    }
    if let [.., before, _] = written {
        if now.saturating_mul(100) > before.saturating_mul(100 + GROWTH_PERCENT) {
            return Some(StopRule::NoProgress {
                before: *before,
                now,
            });
        }
    }
    (written.len() >= MAX_ROUNDS).then_some(StopRule::Rounds(written.len()))
}

/// The times of a migration, measured.
#[derive(Debug, Default, serde::Serialize)]
pub struct Report {
    pub ctid: u32,
    pub destination: String,
    /// live, restart (stopped, copied, started) or offline (a stopped VE).
    pub mode: &'static str,
    pub phases: Vec<Phase>,
    /// How long the VE ran nowhere: frozen (live) or stopped (restart).
    pub frozen_seconds: f64,
    pub total_seconds: f64,
    /// Pages each pre-dump round wrote, then the final dump's.
    pub pages_written: Vec<u64>,
    /// Why pre-copying stopped.
    pub stop_rule: Option<String>,
}

#[derive(Debug, serde::Serialize)]
pub struct Phase {
    pub name: String,
    pub seconds: f64,
}

impl Report {
    /// The report as one JSON line, for panels (`-t --json`).
    pub fn json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// OpenVZ's `-t` table (`%20s: %6.2f`), the frozen time last.
    pub fn table(&self) -> String {
        let mut text = String::new();
        for phase in &self.phases {
            text.push_str(&format!("{:>20}: {:6.2}\n", phase.name, phase.seconds));
        }
        let last = if self.mode == "live" {
            "Total suspended time"
        } else {
            "Total downtime"
        };
        if self.mode != "offline" {
            text.push_str(&format!("{last:>20}: {:6.2}\n", self.frozen_seconds));
        }
        text.push_str(&format!(
            "{:>20}: {:6.2}\n",
            "Total time", self.total_seconds
        ));
        text
    }
}

/// A destination that cannot be reached for the undo is tried again this often (each try
/// waits up to ssh's 10 s connect timeout), this long apart.
const UNDO_RETRIES: u32 = 4;
const UNDO_PAUSE: Duration = Duration::from_secs(5);

/// The directory of a live migration's dumps (pre-dumps and the final one), the same path
/// on both hosts.
pub fn migration_dumps(global: &Global, veid: u32) -> PathBuf {
    global.dumpdir.join(format!("Dump.{veid}.migrate"))
}

/// One step to take back if a later phase fails.
enum Undo {
    /// Remove what was copied to the destination (unless --keep-dst).
    Destination,
    /// Start the VE here again (a restart migration stopped it).
    StartSource,
    /// Thaw the VE here (a live migration froze it).
    ThawSource,
    /// Remove the dumps made here.
    LocalDumps,
}

/// One migration in progress: what it has done, so far, to undo.
struct Migration<'a> {
    ctx: &'a Ctx<'a>,
    options: &'a Options,
    ve: Ve,
    remote: Remote,
    addresses: Vec<std::net::Ipv4Addr>,
    undo: Vec<Undo>,
    report: Report,
    started: Instant,
}

pub fn run(ctx: &Ctx, options: &Options) -> Result<Report, MigrateError> {
    let veid = crate::ve::resolve_ctid(ctx.paths, &options.ctid)
        .map_err(|e| MigrateError::new(exit::NO_VE, e.to_string()))?;
    let ve = Ve::load(ctx.paths, ctx.global, veid)?;
    if !ve.exists() {
        return Err(MigrateError::new(
            exit::NO_VE,
            format!("CT {veid} does not exist"),
        ));
    }
    let _lock =
        crate::lock::VeLock::acquire(&ctx.global.lockdir, &ctx.paths.proc(), veid, "migrating")?;
    let running = ctx.host.running(veid)?.is_some();
    if options.online && !running {
        return Err(MigrateError::new(
            exit::LIVE_STOPPED,
            format!("CT {veid} is not running: a live migration moves a running VE"),
        ));
    }
    let live = if options.online { "live " } else { "" };
    ctx.say(&format!(
        "{} {live}migration of CT {veid} to {}",
        if options.check_only {
            "Checking"
        } else {
            "Starting"
        },
        options.destination
    ));
    let addresses = crate::net::parse_addresses(ve.conf()?.get("IP_ADDRESS").unwrap_or_default())
        .map_err(|e| {
        MigrateError::new(
            exit::USAGE,
            format!("{}: IP_ADDRESS: {e}", ve.conf_path.display()),
        )
    })?;
    let mut migration = Migration {
        ctx,
        options,
        remote: Remote::new(&options.destination, &options.ssh, &options.rsync),
        addresses,
        undo: Vec::new(),
        report: Report {
            ctid: veid,
            destination: options.destination.clone(),
            mode: if options.online {
                "live"
            } else if running {
                "restart"
            } else {
                "offline"
            },
            ..Report::default()
        },
        started: Instant::now(),
        ve,
    };
    let checked = migration.timed("Checks", |m| m.check_destination());
    if checked.is_err() || options.check_only {
        migration.remote.disconnect();
    }
    checked?;
    if options.check_only {
        ctx.say("Checks passed: the VE can move there");
        migration.report.total_seconds = migration.started.elapsed().as_secs_f64();
        return Ok(migration.report);
    }
    ctx.say(&format!("Locked CT {veid}"));
    let moved = if options.online {
        migration.live()
    } else if running {
        migration.restart()
    } else {
        migration.offline()
    };
    if let Err(err) = moved {
        migration.roll_back();
        migration.remote.disconnect();
        return Err(err);
    }
    let finished = migration.finish();
    migration.remote.disconnect();
    finished?;
    migration.report.total_seconds = migration.started.elapsed().as_secs_f64();
    Ok(migration.report)
}

impl Migration<'_> {
    fn veid(&self) -> u32 {
        self.ve.veid
    }

    /// Runs `phase`, recording its time as `name`.
    fn timed<T>(
        &mut self,
        name: &str,
        phase: impl FnOnce(&mut Self) -> Result<T, MigrateError>,
    ) -> Result<T, MigrateError> {
        let started = Instant::now();
        let result = phase(self);
        self.report.phases.push(Phase {
            name: name.to_owned(),
            seconds: started.elapsed().as_secs_f64(),
        });
        result
    }

    fn say(&self, line: &str) {
        self.ctx.say(line);
    }

    fn agent(&self, action: &str, extra: &[&str], code: i32) -> Result<(), MigrateError> {
        self.agent_call(action, extra).map_err(remote_error(code))
    }

    fn agent_call(&self, action: &str, extra: &[&str]) -> Result<(), RemoteError> {
        let veid = self.veid().to_string();
        let mut argv = vec!["vzmigrate", "--agent", action];
        argv.extend_from_slice(extra);
        argv.push(&veid);
        self.remote.run(&argv).map(|_| ())
    }

    fn check_destination(&mut self) -> Result<(), MigrateError> {
        // A live migration's dumps take about the memory the VE uses, beside its files.
        let memory = if self.options.online {
            let current = self
                .ctx
                .paths
                .cgroup_root()
                .join(format!("vz/{}/memory.current", self.veid()));
            std::fs::read_to_string(current)
                .ok()
                .and_then(|text| text.trim().parse::<u64>().ok())
                .unwrap_or(0)
                / 1024
        } else {
            0
        };
        let kbytes = tree_kbytes(&self.ve.private)
            .saturating_add(memory)
            .to_string();
        let abi = vz_abi::VZ_ABI_VERSION.to_string();
        let ips = self
            .addresses
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(" ");
        let ids = crate::idmap::IdMap::from_conf(self.ve.conf()?)
            .ok()
            .flatten()
            .map(|ids| format!("{}:{}", ids.uid, ids.gid));
        let criu = if self.options.online {
            Some(agent::criu_version().ok_or_else(|| {
                MigrateError::new(exit::VERSION, "criu is not installed here (make setup)")
            })?)
        } else {
            None
        };
        let mut extra = vec!["--abi", &abi, "--kbytes", &kbytes, "--ips", &ips];
        if let Some(ids) = &ids {
            extra.extend(["--ids", ids]);
        }
        if let Some(criu) = &criu {
            extra.extend(["--criu", criu]);
        }
        self.agent("check", &extra, exit::USAGE)
    }

    /// The private area to the destination; the first copy of a live VE's is sparse.
    fn sync_private(&mut self, first: bool) -> Result<(), MigrateError> {
        self.remote
            .copy_dir(&self.ve.private, first)
            .map_err(remote_error(exit::COPY))
    }

    /// The config to the destination, which then registers the VE.
    fn register(&mut self) -> Result<(), MigrateError> {
        self.remote
            .copy_file(&self.ve.conf_path)
            .map_err(remote_error(exit::COPY))?;
        self.agent("register", &[], exit::COPY)
    }

    fn offline(&mut self) -> Result<(), MigrateError> {
        self.say("Preparing remote node");
        self.undo.push(Undo::Destination);
        self.say("Syncing private");
        self.timed("Copy private", |m| m.sync_private(true))?;
        self.timed("Register", Self::register)
    }

    fn restart(&mut self) -> Result<(), MigrateError> {
        self.say("Preparing remote node");
        self.undo.push(Undo::Destination);
        self.say("Syncing private");
        self.timed("First rsync", |m| m.sync_private(true))?;
        self.say("Stopping container");
        let stopped = Instant::now();
        self.timed("Stop", |m| {
            let timeout = Duration::from_secs(u64::from(m.ctx.global.stop_timeout));
            m.stop_here(false, timeout)
        })?;
        self.undo.push(Undo::StartSource);
        self.timed("Second rsync", |m| m.sync_private(false))?;
        self.timed("Register", Self::register)?;
        self.say("Starting container");
        self.timed("Start", |m| {
            let veid = m.veid().to_string();
            m.remote
                .run(&["vzctl", "start", &veid])
                .map(|_| ())
                .map_err(remote_error(exit::DEST_START))
        })?;
        self.report.frozen_seconds = stopped.elapsed().as_secs_f64();
        self.undo.clear();
        Ok(())
    }

    fn live(&mut self) -> Result<(), MigrateError> {
        let veid = self.veid();
        let dumps = migration_dumps(self.ctx.global, veid);
        self.say("Preparing remote node");
        self.undo.push(Undo::Destination);
        self.say("Syncing private");
        self.timed("First rsync", |m| m.sync_private(true))?;
        // The config does not change while the VE runs on: registered before the freeze,
        // it takes nothing from the frozen time.
        self.timed("Register", Self::register)?;
        self.undo.push(Undo::LocalDumps);
        remove_tree(&dumps, exit::SOURCE_STOP)?;
        self.say("Live migrating container...");
        let mut parent: Option<String> = None;
        if self.options.iterative {
            parent = self.pre_copy(&dumps)?;
        }
        let frozen = Instant::now();
        let name = if self.options.iterative {
            "Suspend + Dump"
        } else {
            "Suspend + Dump (one pass)"
        };
        let final_dir = dumps.join("final");
        let stats = self.timed(name, |m| {
            m.ctx.host.freeze(veid, true, &m.addresses)?;
            m.undo.push(Undo::ThawSource);
            make_dir(&final_dir)?;
            let netdevs = if m.addresses.is_empty() {
                Vec::new()
            } else {
                vec![crate::net::VE_LINK.to_owned()]
            };
            let mode = DumpMode::Final {
                kill: false,
                parent: parent.as_deref(),
            };
            m.ctx
                .host
                .dump(veid, &final_dir, &netdevs, mode)
                .map_err(|e| MigrateError::new(exit::SOURCE_STOP, e.to_string()))
        })?;
        self.report.pages_written.push(stats.pages_written);
        // Both copies at once, over the one connection: the VE is frozen meanwhile.
        self.timed("Copy dump + rsync", |m| {
            let (remote, private) = (&m.remote, &m.ve.private);
            let (dump, files) = std::thread::scope(|scope| {
                let dump = scope.spawn(|| remote.copy_dir(&dumps, false));
                let files = remote.copy_dir(private, false);
                (dump.join(), files)
            });
            let dump =
                dump.map_err(|_| MigrateError::new(exit::COPY, "the dump's copy panicked"))?;
            dump.and(files).map_err(remote_error(exit::COPY))
        })?;
        self.timed("Undump + Resume", |m| {
            let veid = veid.to_string();
            let dump = final_dir.display().to_string();
            m.remote
                .run(&["vzctl", "restore", &veid, "--dumpfile", &dump])
                .map(|_| ())
                .map_err(remote_error(exit::DEST_START))
        })?;
        self.report.frozen_seconds = frozen.elapsed().as_secs_f64();
        // The VE runs there: nothing here is taken back any more.
        self.undo.clear();
        self.say("Stopping container");
        self.timed("Kill source", |m| m.stop_here(true, Duration::ZERO))?;
        remove_tree(&dumps, exit::SOURCE_STOP)?;
        self.agent("finish", &[], exit::COPY)
    }

    /// Stops the VE here (`fast`: kills it; a frozen one loses its link first, so its
    /// peers hear nothing) and unmounts it.
    fn stop_here(&self, fast: bool, timeout: Duration) -> Result<(), MigrateError> {
        let host = self.ctx.host;
        host.stop(self.veid(), fast, timeout)
            .and_then(|()| match host.is_mounted(&self.ve.root)? {
                true => host.umount(&self.ve.root),
                false => Ok(()),
            })
            .map_err(|e| MigrateError::new(exit::SOURCE_STOP, e.to_string()))
    }

    /// Pre-dumps the running VE into `dumps` (one directory a round, each copied to the
    /// destination at once) until the stop rule fires; the last round's directory name.
    fn pre_copy(&mut self, dumps: &Path) -> Result<Option<String>, MigrateError> {
        let veid = self.veid();
        let mut written = Vec::new();
        let mut parent: Option<String> = None;
        loop {
            let round = written.len() + 1;
            let name = format!("pre-{round}");
            let dir = dumps.join(&name);
            let stats: DumpStats = self.timed(&format!("Pre-dump {round}"), |m| {
                make_dir(&dir)?;
                let mode = DumpMode::Pre {
                    parent: parent.as_deref(),
                };
                let stats = m
                    .ctx
                    .host
                    .dump(veid, &dir, &[], mode)
                    .map_err(|e| MigrateError::new(exit::SOURCE_STOP, e.to_string()))?;
                m.remote
                    .copy_dir(dumps, false)
                    .map_err(remote_error(exit::COPY))?;
                Ok(stats)
            })?;
            if self.options.verbose {
                self.say(&format!(
                    "Pre-dump {round}: {} pages written",
                    stats.pages_written
                ));
            }
            written.push(stats.pages_written);
            parent = Some(name);
            if let Some(rule) = stop_rule(&written) {
                self.say(&format!("Pre-copy stopped after round {round}: {rule}"));
                self.report.stop_rule = Some(rule.to_string());
                self.report.pages_written = written;
                return Ok(parent);
            }
        }
    }

    /// Takes back what was done: first the destination (a restore there that went on after
    /// its ssh was lost must end before the VE runs here again), then the rest newest
    /// first; each step is tried, whatever the others did.
    fn roll_back(&mut self) {
        let veid = self.veid();
        if let Some(at) = self
            .undo
            .iter()
            .position(|step| matches!(step, Undo::Destination))
        {
            let step = self.undo.remove(at);
            self.undo.push(step);
        }
        while let Some(step) = self.undo.pop() {
            let result = match step {
                Undo::Destination if self.options.keep_dst => {
                    self.say("Keeping what was copied to the destination (--keep-dst)");
                    Ok(())
                }
                Undo::Destination => self.undo_destination(),
                Undo::ThawSource => {
                    self.say(&format!("Resuming CT {veid}"));
                    self.ctx
                        .host
                        .freeze(veid, false, &self.addresses)
                        .map_err(MigrateError::from)
                }
                Undo::StartSource => {
                    self.say(&format!("Starting CT {veid} again"));
                    crate::commands::start::run(self.ctx, &veid.to_string())
                        .map_err(MigrateError::from)
                }
                Undo::LocalDumps => {
                    remove_tree(&migration_dumps(self.ctx.global, veid), exit::SOURCE_STOP)
                }
            };
            if let Err(err) = result {
                eprintln!("Error: rolling back: {}", err.message);
            }
        }
    }

    /// Removes what was copied to the destination. A link that failed may come back: the
    /// removal is tried for up to a minute.
    fn undo_destination(&self) -> Result<(), MigrateError> {
        self.say("Cleaning up the destination");
        let mut tries = 0;
        loop {
            match self.agent_call("undo", &[]) {
                Err(RemoteError::Connection(_)) if tries < UNDO_RETRIES => {
                    tries += 1;
                    std::thread::sleep(UNDO_PAUSE);
                }
                other => return other.map_err(remote_error(exit::COPY)),
            }
        }
    }

    /// The VE runs there: here it goes (-r yes) or stays as CTID.conf.migrated (-r no).
    fn finish(&mut self) -> Result<(), MigrateError> {
        self.say("Cleaning up");
        let veid = self.veid();
        if self.options.remove_area {
            crate::commands::destroy::run(self.ctx, &veid.to_string())
                .map_err(|e| MigrateError::new(exit::SOURCE_STOP, e.to_string()))?;
            let mut destroyed = self.ve.conf_path.as_os_str().to_owned();
            destroyed.push(".destroyed");
            let _ = std::fs::remove_file(destroyed);
        } else {
            let mut kept = self.ve.conf_path.as_os_str().to_owned();
            kept.push(".migrated");
            std::fs::rename(&self.ve.conf_path, &kept).map_err(|e| {
                MigrateError::new(
                    exit::SOURCE_STOP,
                    format!("rename {}: {e}", self.ve.conf_path.display()),
                )
            })?;
            if let Some(name) = self.ve.conf()?.get("NAME") {
                crate::names::unlink_name(self.ctx.paths, name);
            }
        }
        Ok(())
    }
}

fn make_dir(path: &Path) -> Result<(), MigrateError> {
    std::fs::create_dir_all(path)
        .map_err(|e| MigrateError::new(exit::SOURCE_STOP, format!("mkdir {}: {e}", path.display())))
}

/// Removes the tree `path` (not following its links); one that is not there is no error.
/// A failure exits `code`.
fn remove_tree(path: &Path, code: i32) -> Result<(), MigrateError> {
    match std::fs::remove_dir_all(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(MigrateError::new(
            code,
            format!("remove {}: {e}", path.display()),
        )),
        _ => Ok(()),
    }
}

/// KiB the files under `dir` take (their blocks, hard links once), for the destination's
/// disk space check.
fn tree_kbytes(dir: &Path) -> u64 {
    use std::os::unix::fs::MetadataExt;
    let mut seen = std::collections::HashSet::new();
    let mut total = 0u64;
    let mut pending = vec![dir.to_owned()];
    while let Some(path) = pending.pop() {
        let Ok(meta) = std::fs::symlink_metadata(&path) else {
            continue;
        };
        if meta.nlink() > 1 && !meta.is_dir() && !seen.insert((meta.dev(), meta.ino())) {
            continue;
        }
        total = total.saturating_add(meta.blocks().saturating_mul(512));
        if meta.is_dir() {
            if let Ok(entries) = std::fs::read_dir(&path) {
                pending.extend(entries.flatten().map(|entry| entry.path()));
            }
        }
    }
    total / 1024
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pre_copy_stops_by_p_hauls_rule() {
        assert_eq!(stop_rule(&[]), None);
        assert_eq!(stop_rule(&[16384]), None);
        assert_eq!(stop_rule(&[16384, 40]), Some(StopRule::FewPages(40)));
        assert_eq!(stop_rule(&[16384, 800, 600]), None);
        assert_eq!(
            stop_rule(&[16384, 800, 900]),
            Some(StopRule::NoProgress {
                before: 800,
                now: 900
            })
        );
        assert_eq!(stop_rule(&[16384, 800, 880]), None);
        assert_eq!(stop_rule(&[900; 8]), Some(StopRule::Rounds(8)));
    }

    #[test]
    fn the_times_table_is_openvzs() {
        let report = Report {
            mode: "live",
            phases: vec![Phase {
                name: "Suspend + Dump".into(),
                seconds: 0.5,
            }],
            frozen_seconds: 1.25,
            total_seconds: 9.0,
            ..Report::default()
        };
        assert_eq!(
            report.table(),
            "      Suspend + Dump:   0.50\nTotal suspended time:   1.25\n          Total time:   9.00\n"
        );
    }

    #[test]
    fn a_remote_check_keeps_its_code_and_an_unreachable_host_is_4() {
        let lost = remote_error(exit::USAGE)(RemoteError::Connection("no route".into()));
        assert_eq!(lost.code, exit::CONNECT);
        let cut = remote_error(exit::COPY)(RemoteError::Connection("reset".into()));
        assert_eq!(cut.code, exit::COPY);
        let exists = remote_error(exit::USAGE)(RemoteError::Failed {
            status: exit::EXISTS,
            message: "CT 101 already exists on vzb".into(),
        });
        assert_eq!(exists.code, exit::EXISTS);
        let restore = remote_error(exit::DEST_START)(RemoteError::Failed {
            status: 17,
            message: "restore failed".into(),
        });
        assert_eq!(restore.code, exit::DEST_START);
    }
}

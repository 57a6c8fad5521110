//! vzlist: one line, or one JSON object, per VE, as OpenVZ's vzlist printed them (vzlist(8),
//! `src/vzlist.c`): the same field names, column headers, printf widths, trimming, sort order,
//! filters and messages.
//!
//! [`gather`] reads the VE configs and asks the module (through [`ControlDevice`]) which VEs
//! run and what they hold; [`render`] is a pure function of the resulting [`Entry`]s and the
//! [`Options`], so nearly all of vzlist is unit-tested without root.
//!
//! - `fields`: the fields, their headers and columns, and what each shows of an [`Entry`];
//! - `select`: which VEs are listed and the `-s` sort keys;
//! - `text` and `json`: the two output formats;
//! - `gather`: the data sources: the VE configs, the module and the project quotas.

mod fields;
mod gather;
mod json;
mod select;
#[cfg(test)]
mod tests;
mod text;

pub use fields::field_list;
pub use gather::{gather, Gathered};

use crate::cli::VzlistCli;
use crate::device::{ControlDevice, Vzctl};
use crate::error::VzError;
use crate::paths::{Global, Paths};
use crate::quota::{DiskLimits, DiskUsage};
use crate::ve::resolve_ctid;
use fields::{layout, DiskPart, Kind, Part, Quota};
use json::render_json;
use select::{selected, sort_key};
use std::io::Write;
use std::path::Path;
use text::render_text;
use vz_abi::{UbCounter, LOAD_FSHIFT, UB_COUNT, UB_PHYSPAGES, UB_UNLIMITED};

/// The columns without `-o`.
pub const DEFAULT_FIELDS: &str = "ctid,numproc,status,ip,hostname";
/// The columns with `-n`.
pub const DEFAULT_NAME_FIELDS: &str = "smart_name,numproc,status,ip,hostname";
/// The one field of `-1` (OpenVZ spells it with the old alias).
const ONE_FIELD: &str = "veid";

/// Where a VE is in its lifecycle, in OpenVZ's order (which `-s status` sorts by).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub enum Status {
    /// The module reports tasks in it.
    Running,
    #[default]
    Stopped,
    /// Not running, its private area mounted at its root.
    Mounted,
    /// Not running, with a checkpoint dump (`DUMPDIR/Dump.CTID`).
    Suspended,
}

impl Status {
    /// The word vzlist prints.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Running => "running",
            Status::Stopped => "stopped",
            Status::Mounted => "mounted",
            Status::Suspended => "suspended",
        }
    }
}

/// What the module reports of a running VE besides its counters (OpenVZ's
/// `VZCTL_GET_CPU_STAT`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CpuStat {
    /// Time since the VE started.
    pub uptime_ns: u64,
    /// The 1, 5 and 15-minute load, fixed point with `LOAD_FSHIFT` fraction bits.
    pub load: [u64; 3],
}

impl CpuStat {
    /// The load in hundredths, rounded to the nearest as OpenVZ's kernel handed it to vzlist
    /// (and as /proc/loadavg rounds): half a hundredth added, then the integer part and two
    /// decimals of the fraction.
    pub fn load_hundredths(&self) -> [u64; 3] {
        const FIXED_1: u64 = 1 << LOAD_FSHIFT;
        self.load.map(|raw| {
            let rounded = raw.saturating_add(FIXED_1 / 200);
            let fraction = ((rounded & (FIXED_1 - 1)) * 100) >> LOAD_FSHIFT;
            (rounded >> LOAD_FSHIFT)
                .saturating_mul(100)
                .saturating_add(fraction)
        })
    }
}

/// A VE's disk quota as vzlist shows it (OpenVZ's `diskspace` and `diskinodes` fields).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DiskQuota {
    /// What its project quota counts; `None` when its private area carries none.
    pub usage: Option<DiskUsage>,
    /// The project quota's limits, or else DISKSPACE and DISKINODES of its config; 0 is no
    /// limit.
    pub limits: DiskLimits,
}

/// Everything vzlist knows of one VE. Text values are `None` when the config does not set them
/// (vzlist prints `-`, or `null` in JSON).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Entry {
    pub veid: u32,
    pub status: Status,
    /// VE_PRIVATE as configured (vz.conf's pattern if the VE's config has none), `$VEID`
    /// expanded.
    pub private: Option<String>,
    /// VE_ROOT, as `private`.
    pub root: Option<String>,
    pub mount_opts: Option<String>,
    pub origin_sample: Option<String>,
    pub hostname: Option<String>,
    /// NAME, when `/etc/vz/names/NAME` leads to this VE (as OpenVZ checks).
    pub name: Option<String>,
    pub description: Option<String>,
    pub ostemplate: Option<String>,
    /// IP_ADDRESS, one address (or address/mask) per item.
    pub ip: Vec<String>,
    pub nameserver: Vec<String>,
    pub searchdomain: Vec<String>,
    pub onboot: bool,
    pub bootorder: Option<u64>,
    pub cpuunits: Option<u64>,
    pub cpulimit: Option<u64>,
    /// CPUS; `None` when unset or unlimited.
    pub cpus: Option<u64>,
    pub disabled: bool,
    /// The module's beancounters of a running VE, indexed like [`vz_abi::UB_NAMES`].
    pub counters: Option<[UbCounter; UB_COUNT]>,
    /// Barrier and limit from the config, indexed like [`vz_abi::UB_NAMES`].
    pub conf_ubc: [Option<(u64, u64)>; UB_COUNT],
    /// Uptime and load of a running VE.
    pub cpustat: Option<CpuStat>,
    /// The disk quota, `None` when neither the project quota nor the config has one.
    pub disk: Option<DiskQuota>,
}

impl Entry {
    /// A VE with nothing but its id and state known.
    pub fn new(veid: u32, status: Status) -> Entry {
        Entry {
            veid,
            status,
            ..Entry::default()
        }
    }

    /// One beancounter value: held, maxheld and failcnt only while the VE runs; barrier and
    /// limit the module's while it runs, else the config's.
    fn ubc(&self, resource: usize, part: Part) -> Option<u64> {
        let live = match self.status {
            Status::Running => self.counters.as_ref().and_then(|c| c.get(resource)),
            _ => None,
        };
        let conf = self.conf_ubc.get(resource).copied().flatten();
        match part {
            Part::Held => live.map(|c| c.held),
            Part::Maxheld => live.map(|c| c.maxheld),
            Part::Failcnt => live.map(|c| c.failcnt),
            Part::Barrier => live.map(|c| c.barrier).or(conf.map(|(b, _)| b)),
            Part::Limit => live.map(|c| c.limit).or(conf.map(|(_, l)| l)),
        }
    }

    /// One disk quota value: usage in KB or inodes, or a limit.
    fn disk(&self, quota: Quota, part: DiskPart) -> Option<u64> {
        let disk = self.disk.as_ref()?;
        let limits = &disk.limits;
        match (quota, part) {
            (Quota::Space, DiskPart::Usage) => disk.usage.map(|u| u.space_used_kb),
            (Quota::Space, DiskPart::Soft) => Some(limits.space_soft_kb),
            (Quota::Space, DiskPart::Hard) => Some(limits.space_hard_kb),
            (Quota::Inodes, DiskPart::Usage) => disk.usage.map(|u| u.inodes_used),
            (Quota::Inodes, DiskPart::Soft) => Some(limits.inodes_soft),
            (Quota::Inodes, DiskPart::Hard) => Some(limits.inodes_hard),
        }
    }

    /// A VSwap VE: one whose physpages limit is set and not unlimited.
    fn vswap(&self) -> bool {
        self.ubc(UB_PHYSPAGES as usize, Part::Limit)
            .is_some_and(|limit| limit != UB_UNLIMITED && limit != i32::MAX as u64)
    }
}

/// Which VEs are listed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Show {
    /// The default: running VEs.
    #[default]
    Running,
    /// `-a`, or CTIDs given: every VE.
    All,
    /// `-S`: the VEs that are not running.
    Stopped,
}

/// What to print and how: vzlist's options, without the CTIDs.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Options {
    pub show: Show,
    /// The fields, comma-separated (`-o`, `-1`, `-n`); `None` for the defaults (text) or
    /// every field (JSON).
    pub output: Option<String>,
    /// `-H`.
    pub no_header: bool,
    /// `-t`.
    pub no_trim: bool,
    /// `-j`.
    pub json: bool,
    /// `-s [-]field`.
    pub sort: Option<String>,
    /// `-h`: shell pattern on the hostname.
    pub hostname: Option<String>,
    /// `-N`: shell pattern on the name.
    pub name: Option<String>,
    /// `-d`: shell pattern on the description.
    pub description: Option<String>,
}

impl Options {
    /// The options of a vzlist command line. Of `-o`, `-1` and `-n` the first given here
    /// wins (OpenVZ takes the last on the line).
    pub fn from_cli(cli: &VzlistCli) -> Options {
        let output = cli
            .output
            .clone()
            .or_else(|| cli.one.then(|| ONE_FIELD.to_owned()))
            .or_else(|| cli.name.then(|| DEFAULT_NAME_FIELDS.to_owned()));
        let show = if cli.stopped {
            Show::Stopped
        } else if cli.all || !cli.ctids.is_empty() {
            Show::All
        } else {
            Show::Running
        };
        Options {
            show,
            output,
            no_header: cli.no_header || cli.one,
            no_trim: cli.no_trim,
            json: cli.json,
            sort: cli.sort.clone(),
            hostname: cli.hostname.clone(),
            name: cli.name_filter.clone(),
            description: cli.description.clone(),
        }
    }
}

/// vzlist's output for `entries` (in any order): the VEs `opts` selects, sorted by CTID or
/// by `-s`, as text columns or JSON.
pub fn render(entries: &[Entry], opts: &Options) -> Result<String, VzError> {
    let layout = layout(opts)?;
    let mut rows: Vec<&Entry> = entries.iter().filter(|e| selected(e, opts)).collect();
    rows.sort_by_key(|e| e.veid);
    if let Some((field, reverse)) = &layout.sort {
        // Stable: equal keys stay in CTID order (reversed with the rest for `-field`).
        rows.sort_by_key(|e| sort_key(e, field.kind));
        if *reverse {
            rows.reverse();
        }
    }
    if opts.json {
        render_json(&rows, &layout.columns)
    } else {
        Ok(render_text(&rows, &layout.columns, opts))
    }
}

/// Writes `text`; a reader that went away (`vzlist | head`) is not an error.
fn emit(out: &mut dyn Write, text: &str) -> Result<(), VzError> {
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(VzError::System {
            what: "write to stdout".into(),
            source: e,
        }),
        _ => Ok(()),
    }
}

/// Reads a VE's project quota: `(mountinfo, veid, private area)` to its usage and limits;
/// `None` when the private area does not carry the VE's project quota.
pub type ReadQuota<'a> = dyn Fn(&str, u32, &Path) -> Option<(DiskUsage, DiskLimits)> + 'a;

/// `vzlist` on the real host: the module (if loaded), the project quotas and the files under
/// `/`.
pub fn run(cli: &VzlistCli, out: &mut dyn Write, err: &mut dyn Write) -> Result<i32, VzError> {
    run_in(
        &Paths::default(),
        cli,
        || match Vzctl::open() {
            Ok(device) => Ok(Some(device)),
            Err(VzError::ModuleNotLoaded(_)) => Ok(None),
            Err(e) => Err(e),
        },
        &gather::project_quota,
        out,
        err,
    )
}

/// `vzlist` under `paths`; `open` gives the module, or `None` when it is not loaded (every VE
/// is then stopped); `read_quota` is asked only when a disk field is shown or sorted by.
/// Returns the exit status: 1 when CTIDs were given and none was found.
pub fn run_in<D: ControlDevice>(
    paths: &Paths,
    cli: &VzlistCli,
    open: impl FnOnce() -> Result<Option<D>, VzError>,
    read_quota: &ReadQuota<'_>,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<i32, VzError> {
    if cli.list {
        emit(out, &field_list())?;
        return Ok(0);
    }
    let opts = Options::from_cli(cli);
    // Bad fields are reported before anything is read.
    let wants_disk = layout(&opts)?.uses(|kind| matches!(kind, Kind::Disk(..)));
    let only = cli
        .ctids
        .iter()
        .map(|text| {
            resolve_ctid(paths, text)
                .map_err(|_| VzError::InvalidValue(format!("CT ID {text} is invalid")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let global = crate::trace::timed("load vz.conf", || Global::load(paths))?;
    let device = crate::trace::timed("open /dev/vzctl", open)?;
    let device = device.as_ref().map(|d| d as &dyn ControlDevice);
    let read_quota = wants_disk.then_some(read_quota);
    let gathered = crate::trace::timed("gather", || {
        gather(paths, &global, device, read_quota, opts.show, &only)
    })?;
    let Some(gathered) = gathered else {
        // As OpenVZ: only an error when the VEs asked for do not exist.
        let _ = writeln!(err, "Container(s) not found");
        return Ok(if only.is_empty() { 0 } else { 1 });
    };
    for warning in &gathered.warnings {
        let _ = writeln!(err, "vzlist: warning: {warning}");
    }
    let text = crate::trace::timed("render", || render(&gathered.entries, &opts))?;
    emit(out, &text)?;
    Ok(0)
}

//! vzlist: one line, or one JSON object, per VE, as OpenVZ's vzlist printed them (vzlist(8),
//! `src/vzlist.c`): the same field names, column headers, printf widths, trimming, sort order,
//! filters and messages.
//!
//! [`gather`] reads the VE configs and asks the module (through [`ControlDevice`]) which VEs run and
//! what they hold; [`render`] is a pure function of the resulting [`Entry`]s and the
//! [`Options`], so nearly all of vzlist is unit-tested without root.

use crate::cli::VzlistCli;
use crate::config::{expand_veid, ConfigFile};
use crate::device::{ControlDevice, Vzctl};
use crate::error::VzError;
use crate::params;
use crate::paths::{Global, Paths};
use crate::runtime;
use crate::ve::{resolve_ctid, Ve};
use std::collections::{BTreeMap, BTreeSet};
use std::ffi::CString;
use std::io::Write;
use std::path::{Path, PathBuf};
use vz_abi::{UbCounter, UB_COUNT, UB_PHYSPAGES, UB_UNLIMITED};

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

/// A part of a beancounter: the field without suffix is `held`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Part {
    Held,
    Maxheld,
    Barrier,
    Limit,
    Failcnt,
}

/// The field-name and header suffixes of the beancounter parts.
const PARTS: [(Part, &str, &str); 5] = [
    (Part::Held, "", ""),
    (Part::Maxheld, ".m", ".M"),
    (Part::Barrier, ".b", ".B"),
    (Part::Limit, ".l", ".L"),
    (Part::Failcnt, ".f", ".F"),
];

/// What a field shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Ctid,
    Private,
    Root,
    MountOpts,
    OriginSample,
    Hostname,
    Name,
    SmartName,
    Description,
    Ostemplate,
    Ip,
    Nameserver,
    Searchdomain,
    Status,
    /// A beancounter, by resource id.
    Ubc(usize, Part),
    Cpulimit,
    Cpuunits,
    Cpus,
    Onboot,
    Bootorder,
    Layout,
    Vswap,
    Disabled,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Align {
    Left,
    Right,
}

impl Kind {
    /// The column's printf width and alignment (vzlist.c's `%10s`, `%-32s`, ...).
    fn column(self) -> (usize, Align) {
        use Align::{Left, Right};
        match self {
            Kind::Ctid | Kind::SmartName | Kind::Ubc(..) | Kind::Bootorder => (10, Right),
            Kind::Private
            | Kind::Root
            | Kind::OriginSample
            | Kind::Hostname
            | Kind::Name
            | Kind::Description
            | Kind::Ostemplate => (32, Left),
            Kind::MountOpts => (16, Left),
            Kind::Ip | Kind::Nameserver | Kind::Searchdomain => (15, Left),
            Kind::Status => (9, Left),
            Kind::Cpulimit | Kind::Cpuunits => (7, Right),
            Kind::Cpus | Kind::Vswap => (5, Right),
            Kind::Onboot | Kind::Disabled => (6, Right),
            Kind::Layout => (6, Left),
        }
    }
}

/// One field: its name for `-o`, `-s` and JSON, its column header, what it shows.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Field {
    name: String,
    header: String,
    kind: Kind,
}

impl Field {
    fn new(name: &str, header: &str, kind: Kind) -> Field {
        Field {
            name: name.to_owned(),
            header: header.to_owned(),
            kind,
        }
    }

    /// Fields with a suffix (`numproc.m`) are not available in JSON.
    fn has_suffix(&self) -> bool {
        matches!(self.kind, Kind::Ubc(_, part) if part != Part::Held)
    }
}

/// Every field, in OpenVZ's order (the order of `-L` and of JSON without `-o`).
fn fields() -> Vec<Field> {
    let mut all = vec![
        Field::new("ctid", "CTID", Kind::Ctid),
        // OpenVZ's older names of ctid.
        Field::new("veid", "CTID", Kind::Ctid),
        Field::new("vpsid", "CTID", Kind::Ctid),
        Field::new("private", "PRIVATE", Kind::Private),
        Field::new("root", "ROOT", Kind::Root),
        Field::new("mount_opts", "MOUNT_OPTS", Kind::MountOpts),
        Field::new("origin_sample", "ORIGIN_SAMPLE", Kind::OriginSample),
        Field::new("hostname", "HOSTNAME", Kind::Hostname),
        Field::new("name", "NAME", Kind::Name),
        Field::new("smart_name", "SMARTNAME", Kind::SmartName),
        Field::new("description", "DESCRIPTION", Kind::Description),
        Field::new("ostemplate", "OSTEMPLATE", Kind::Ostemplate),
        Field::new("ip", "IP_ADDR", Kind::Ip),
        Field::new("nameserver", "NAMESERVER", Kind::Nameserver),
        Field::new("searchdomain", "SEARCHDOMAIN", Kind::Searchdomain),
        Field::new("status", "STATUS", Kind::Status),
    ];
    // The beancounters in OpenVZ's order: their resource ids.
    let mut beancounters: Vec<_> = params::UBC_PARAMS.iter().collect();
    beancounters.sort_by_key(|param| param.resource);
    for param in beancounters {
        for (part, suffix, header_suffix) in PARTS {
            all.push(Field {
                name: format!("{}{suffix}", param.name),
                header: format!("{}{header_suffix}", param.header),
                kind: Kind::Ubc(param.resource as usize, part),
            });
        }
    }
    all.extend([
        Field::new("cpulimit", "CPULIM", Kind::Cpulimit),
        Field::new("cpuunits", "CPUUNI", Kind::Cpuunits),
        Field::new("cpus", "CPUS", Kind::Cpus),
        Field::new("onboot", "ONBOOT", Kind::Onboot),
        Field::new("bootorder", "BOOTORDER", Kind::Bootorder),
        Field::new("layout", "LAYOUT", Kind::Layout),
        Field::new("vswap", "VSWAP", Kind::Vswap),
        Field::new("disabled", "DISABL", Kind::Disabled),
    ]);
    all
}

fn find_field(name: &str) -> Option<Field> {
    fields().into_iter().find(|f| f.name == name)
}

/// `vzlist -L`: every field name and its column header, one per line.
pub fn field_list() -> String {
    fields()
        .iter()
        .map(|f| format!("{:<15} {:<15}\n", f.name, f.header))
        .collect()
}

/// The columns and sort order an [`Options`] asks for, checked.
struct Layout {
    columns: Vec<Field>,
    sort: Option<(Field, bool)>,
}

/// Resolves the field names of `opts`: an unknown field, a suffix in JSON or an unknown sort
/// field is an error naming it.
fn layout(opts: &Options) -> Result<Layout, VzError> {
    let columns = match (&opts.output, opts.json) {
        (None, true) => fields().into_iter().filter(|f| !f.has_suffix()).collect(),
        (output, _) => {
            let list = output.as_deref().unwrap_or(DEFAULT_FIELDS);
            list.split(',')
                .map(|name| {
                    let field = find_field(name).ok_or_else(|| {
                        VzError::InvalidValue(format!(
                            "unknown field '{name}' (vzlist -L lists the fields)"
                        ))
                    })?;
                    if opts.json && field.has_suffix() {
                        return Err(VzError::InvalidValue(format!(
                            "field '{name}' is not available in JSON output"
                        )));
                    }
                    Ok(field)
                })
                .collect::<Result<Vec<_>, _>>()?
        }
    };
    let sort = match opts.sort.as_deref() {
        None => None,
        Some(text) => {
            let (name, reverse) = match text.strip_prefix('-') {
                Some(name) => (name, true),
                None => (text, false),
            };
            let field = find_field(name).ok_or_else(|| {
                VzError::InvalidValue(format!("invalid sort field name '{text}'"))
            })?;
            Some((field, reverse))
        }
    };
    Ok(Layout { columns, sort })
}

/// A value as one field shows it.
enum Cell {
    Num(Option<u64>),
    Text(Option<String>),
    List(Vec<String>),
    Bool(bool),
}

fn cell(entry: &Entry, kind: Kind) -> Cell {
    let text = |value: &Option<String>| Cell::Text(value.clone());
    match kind {
        Kind::Ctid => Cell::Num(Some(u64::from(entry.veid))),
        Kind::Private => text(&entry.private),
        Kind::Root => text(&entry.root),
        Kind::MountOpts => text(&entry.mount_opts),
        Kind::OriginSample => text(&entry.origin_sample),
        Kind::Hostname => text(&entry.hostname),
        Kind::Name => text(&entry.name),
        Kind::SmartName => match &entry.name {
            Some(name) => Cell::Text(Some(name.clone())),
            None => Cell::Num(Some(u64::from(entry.veid))),
        },
        Kind::Description => text(&entry.description),
        Kind::Ostemplate => text(&entry.ostemplate),
        Kind::Ip => Cell::List(entry.ip.clone()),
        Kind::Nameserver => Cell::List(entry.nameserver.clone()),
        Kind::Searchdomain => Cell::List(entry.searchdomain.clone()),
        Kind::Status => Cell::Text(Some(entry.status.as_str().to_owned())),
        Kind::Ubc(resource, part) => Cell::Num(entry.ubc(resource, part)),
        Kind::Cpulimit => Cell::Num(entry.cpulimit),
        Kind::Cpuunits => Cell::Num(entry.cpuunits),
        Kind::Cpus => Cell::Num(entry.cpus),
        Kind::Onboot => Cell::Bool(entry.onboot),
        Kind::Bootorder => Cell::Num(entry.bootorder),
        // A VE's private area is a directory tree (VE_LAYOUT=simfs); there are no ploop images.
        Kind::Layout => Cell::Text(Some("simfs".to_owned())),
        Kind::Vswap => Cell::Bool(entry.vswap()),
        Kind::Disabled => Cell::Bool(entry.disabled),
    }
}

/// What `-s` compares: missing values first, numbers as numbers.
#[derive(PartialEq, Eq, PartialOrd, Ord)]
enum SortKey {
    Num(Option<u64>),
    Text(Option<String>),
}

fn sort_key(entry: &Entry, kind: Kind) -> SortKey {
    match kind {
        // OpenVZ sorts smart_name by the name.
        Kind::SmartName => SortKey::Text(entry.name.clone()),
        Kind::Status => SortKey::Num(Some(entry.status as u64)),
        _ => match cell(entry, kind) {
            Cell::Num(n) => SortKey::Num(n),
            Cell::Text(t) => SortKey::Text(t),
            Cell::List(items) => SortKey::Text((!items.is_empty()).then(|| items.join(" "))),
            Cell::Bool(b) => SortKey::Num(Some(u64::from(b))),
        },
    }
}

/// Whether shell pattern `pattern` matches `text`, as fnmatch(3) without flags (OpenVZ's
/// `-h`, `-N` and `-d`).
fn glob_match(pattern: &str, text: &str) -> bool {
    let (Ok(pattern), Ok(text)) = (CString::new(pattern), CString::new(text)) else {
        return false;
    };
    // SAFETY: Both pointers are NUL-terminated strings owned by this frame and alive for the
    // whole call; fnmatch only reads them.
    unsafe { libc::fnmatch(pattern.as_ptr(), text.as_ptr(), 0) == 0 }
}

/// Whether `entry` passes the state selection and the `-h`, `-N` and `-d` patterns. A VE
/// without the value never matches a pattern.
fn selected(entry: &Entry, opts: &Options) -> bool {
    let state = match opts.show {
        Show::Running => entry.status == Status::Running,
        Show::All => true,
        Show::Stopped => entry.status != Status::Running,
    };
    let fits = |pattern: &Option<String>, value: &Option<String>| match pattern {
        None => true,
        Some(pattern) => value.as_deref().is_some_and(|v| glob_match(pattern, v)),
    };
    state
        && fits(&opts.hostname, &entry.hostname)
        && fits(&opts.name, &entry.name)
        && fits(&opts.description, &entry.description)
}

/// `text` padded with spaces to `width` characters.
fn pad(text: &str, width: usize, align: Align) -> String {
    match align {
        Align::Left => format!("{text:<width$}"),
        Align::Right => format!("{text:>width$}"),
    }
}

/// One cell of a text line. Numbers are never cut; text is cut to the column width when
/// `trim` (every column but the last, unless `-t`); a list shows only its first item then.
fn format_cell(value: Cell, kind: Kind, trim: bool) -> String {
    let (width, align) = kind.column();
    let cut = |text: &str| -> String {
        if trim {
            text.chars().take(width).collect()
        } else {
            text.to_owned()
        }
    };
    let shown = match value {
        Cell::Num(n) => n.map_or_else(|| "-".to_owned(), |n| n.to_string()),
        Cell::Text(t) => cut(t.as_deref().unwrap_or("-")),
        Cell::List(items) => match items.split_first() {
            None => "-".to_owned(),
            Some((first, _)) if trim => cut(first),
            Some(_) => items.join(" "),
        },
        Cell::Bool(b) => (if b { "yes" } else { "no" }).to_owned(),
    };
    pad(&shown, width, align)
}

/// Joins cells with one space and drops the blanks at the end of the line.
fn line(cells: impl Iterator<Item = String>) -> String {
    let mut line = cells.collect::<Vec<_>>().join(" ");
    line.truncate(line.trim_end().len());
    line.push('\n');
    line
}

fn render_text(rows: &[&Entry], columns: &[Field], opts: &Options) -> String {
    let mut out = String::new();
    if !opts.no_header {
        out.push_str(&line(columns.iter().map(|f| {
            let (width, align) = f.kind.column();
            pad(&f.header, width, align)
        })));
    }
    let last = columns.len().saturating_sub(1);
    for entry in rows {
        out.push_str(&line(columns.iter().enumerate().map(|(i, f)| {
            format_cell(cell(entry, f.kind), f.kind, !opts.no_trim && i != last)
        })));
    }
    out
}

fn json_string(text: &str) -> Result<String, VzError> {
    serde_json::to_string(text).map_err(|e| VzError::System {
        what: "format JSON".into(),
        source: std::io::Error::other(e),
    })
}

/// One JSON value, laid out as OpenVZ's vzlist printed it (a beancounter is an object).
fn json_value(entry: &Entry, kind: Kind) -> Result<String, VzError> {
    if let Kind::Ubc(resource, _) = kind {
        let value = |part| entry.ubc(resource, part);
        let number = |n: Option<u64>| n.map_or_else(|| "null".to_owned(), |n| n.to_string());
        return Ok(format!(
            "{{\n      \"held\": {},\n      \"maxheld\": {},\n      \"barrier\": {},\n      \
             \"limit\": {},\n      \"failcnt\": {}\n    }}",
            value(Part::Held).unwrap_or(0),
            value(Part::Maxheld).unwrap_or(0),
            number(value(Part::Barrier)),
            number(value(Part::Limit)),
            value(Part::Failcnt).unwrap_or(0),
        ));
    }
    Ok(match cell(entry, kind) {
        Cell::Num(Some(n)) => n.to_string(),
        Cell::Num(None) | Cell::Text(None) => "null".to_owned(),
        Cell::Text(Some(text)) => json_string(&text)?,
        Cell::List(items) => {
            let items = items
                .iter()
                .map(|item| json_string(item))
                .collect::<Result<Vec<_>, _>>()?;
            format!("[{}]", items.join(", "))
        }
        Cell::Bool(b) => b.to_string(),
    })
}

fn render_json(rows: &[&Entry], columns: &[Field]) -> Result<String, VzError> {
    let mut out = String::from("[");
    for (i, entry) in rows.iter().enumerate() {
        out.push_str(if i == 0 { "\n  {" } else { ",\n  {" });
        for (j, field) in columns.iter().enumerate() {
            out.push_str(if j == 0 { "\n    " } else { ",\n    " });
            out.push_str(&json_string(&field.name)?);
            out.push_str(": ");
            out.push_str(&json_value(entry, field.kind)?);
        }
        out.push_str("\n  }");
    }
    out.push_str("\n]\n");
    Ok(out)
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

/// The VEs [`gather`] found, and what it could not read (printed as warnings).
#[derive(Debug, Default)]
pub struct Gathered {
    pub entries: Vec<Entry>,
    pub warnings: Vec<String>,
}

/// The CTIDs of the configs in `dir`: files named `<N>.conf`.
fn config_ids(dir: &Path) -> Result<Vec<u32>, VzError> {
    let listing = match std::fs::read_dir(dir) {
        Ok(listing) => listing,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => {
            return Err(VzError::System {
                what: format!("read {}", dir.display()),
                source,
            })
        }
    };
    let mut ids = Vec::new();
    for item in listing {
        let item = item.map_err(|source| VzError::System {
            what: format!("read {}", dir.display()),
            source,
        })?;
        let name = item.file_name();
        let id = name
            .to_str()
            .and_then(|n| n.strip_suffix(".conf"))
            .filter(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|n| n.parse::<u32>().ok());
        if let Some(id) = id.filter(|&id| id != 0) {
            ids.push(id);
        }
    }
    Ok(ids)
}

/// DUMPDIR of vz.conf (default `/vz/dump`), where a suspended VE's `Dump.CTID` is.
fn dump_dir(paths: &Paths) -> PathBuf {
    let conf = ConfigFile::load(&paths.vz_conf()).ok();
    let dir = conf
        .as_ref()
        .and_then(|c| c.get("DUMPDIR"))
        .filter(|v| !v.is_empty())
        .unwrap_or("/vz/dump");
    paths.resolve(dir)
}

/// The config values of VE `veid` for vzlist.
fn from_config(paths: &Paths, global: &Global, veid: u32, conf: Option<&ConfigFile>) -> Entry {
    let get = |key: &str| {
        conf.and_then(|c| c.get(key))
            .filter(|v| !v.is_empty())
            .map(str::to_owned)
    };
    let list = |key: &str| -> Vec<String> {
        get(key)
            .map(|v| v.split_whitespace().map(str::to_owned).collect())
            .unwrap_or_default()
    };
    let area =
        |key: &str, pattern: &str| Some(expand_veid(get(key).as_deref().unwrap_or(pattern), veid));
    let mut conf_ubc = [None; UB_COUNT];
    for param in params::UBC_PARAMS {
        let value = get(param.key).and_then(|text| params::parse_ubc(param, &text).ok());
        if let Some(slot) = conf_ubc.get_mut(param.resource as usize) {
            *slot = value;
        }
    }
    Entry {
        veid,
        status: Status::Stopped,
        private: area("VE_PRIVATE", &global.ve_private_pattern),
        root: area("VE_ROOT", &global.ve_root_pattern),
        mount_opts: get("MOUNT_OPTS"),
        origin_sample: get("ORIGIN_SAMPLE"),
        hostname: get("HOSTNAME"),
        name: get("NAME").filter(|name| resolve_ctid(paths, name).ok() == Some(veid)),
        description: get("DESCRIPTION"),
        ostemplate: get("OSTEMPLATE"),
        ip: list("IP_ADDRESS"),
        nameserver: list("NAMESERVER"),
        searchdomain: list("SEARCHDOMAIN"),
        onboot: get("ONBOOT").as_deref() == Some("yes"),
        bootorder: get("BOOTORDER").and_then(|v| v.parse().ok()),
        cpuunits: get("CPUUNITS")
            .and_then(|v| params::parse_cpuunits(&v).ok())
            .map(u64::from),
        cpulimit: get("CPULIMIT")
            .and_then(|v| params::parse_cpulimit(&v).ok())
            .map(u64::from),
        cpus: get("CPUS")
            .and_then(|v| params::parse_cpus(&v).ok())
            .filter(|&n| n > 0)
            .map(u64::from),
        disabled: get("DISABLED").as_deref() == Some("yes"),
        counters: None,
        conf_ubc,
    }
}

/// Collects the VEs to list, as OpenVZ's vzlist does: with [`Show::Running`] and no CTIDs
/// the VEs the module runs; otherwise also every `/etc/vz/conf/<N>.conf` and every VE the
/// module knows. `only` (CTIDs from the command line) restricts both. A VE is running when
/// the module reports tasks in it; without the module (`device` None) none is. A VE that is
/// not running and has no private area is left out; one whose root is mounted is mounted,
/// one with a dump in DUMPDIR suspended.
///
/// `None` when no VE was found at all ("Container(s) not found").
pub fn gather(
    paths: &Paths,
    global: &Global,
    device: Option<&dyn ControlDevice>,
    show: Show,
    only: &[u32],
) -> Result<Option<Gathered>, VzError> {
    let wanted = |id: u32| id != 0 && (only.is_empty() || only.contains(&id));
    let mut nprocs = BTreeMap::new();
    if let Some(device) = device {
        for id in device.ve_list()?.into_iter().filter(|&id| wanted(id)) {
            // A VE destroyed since the list was taken is left out.
            if let Some(info) = device.ve_info(id)? {
                nprocs.insert(id, info.nproc);
            }
        }
    }
    let everything = show != Show::Running || !only.is_empty();
    let mut ids: BTreeSet<u32> = nprocs
        .iter()
        .filter(|&(_, &nproc)| everything || nproc > 0)
        .map(|(&id, _)| id)
        .collect();
    if everything {
        ids.extend(
            config_ids(&paths.conf_dir())?
                .into_iter()
                .filter(|&id| wanted(id)),
        );
    }
    if ids.is_empty() {
        return Ok(None);
    }
    let mountinfo =
        std::fs::read_to_string(paths.proc().join("self/mountinfo")).unwrap_or_default();
    let dumps = dump_dir(paths);
    let mut gathered = Gathered::default();
    for id in ids {
        let (conf, private, root) = match Ve::load(paths, global, id) {
            Ok(ve) => (ve.conf, ve.private, ve.root),
            Err(err) => {
                gathered.warnings.push(format!("CT {id}: {err}"));
                (None, global.ve_private(id), global.ve_root(id))
            }
        };
        let mut entry = from_config(paths, global, id, conf.as_ref());
        entry.status = if nprocs.get(&id).is_some_and(|&n| n > 0) {
            Status::Running
        } else if !private.is_dir() {
            continue;
        } else if runtime::is_mounted(&mountinfo, &root) {
            Status::Mounted
        } else if dumps.join(format!("Dump.{id}")).exists() {
            Status::Suspended
        } else {
            Status::Stopped
        };
        if entry.status == Status::Running {
            // A VE that stopped since it was listed has no counters: its values print as `-`.
            entry.counters = device.and_then(|d| d.ub_get(id).ok());
        }
        gathered.entries.push(entry);
    }
    Ok(Some(gathered))
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

/// `vzlist` on the real host: the module (if loaded) and the files under `/`.
pub fn run(cli: &VzlistCli, out: &mut dyn Write, err: &mut dyn Write) -> Result<i32, VzError> {
    run_in(
        &Paths::default(),
        cli,
        || match Vzctl::open() {
            Ok(device) => Ok(Some(device)),
            Err(VzError::ModuleNotLoaded(_)) => Ok(None),
            Err(e) => Err(e),
        },
        out,
        err,
    )
}

/// `vzlist` under `paths`; `open` gives the module, or `None` when it is not loaded (every VE
/// is then stopped). Returns the exit status: 1 when CTIDs were given and none was found.
pub fn run_in<D: ControlDevice>(
    paths: &Paths,
    cli: &VzlistCli,
    open: impl FnOnce() -> Result<Option<D>, VzError>,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<i32, VzError> {
    if cli.list {
        emit(out, &field_list())?;
        return Ok(0);
    }
    let opts = Options::from_cli(cli);
    // Bad fields are reported before anything is read.
    layout(&opts)?;
    let only = cli
        .ctids
        .iter()
        .map(|text| {
            resolve_ctid(paths, text)
                .map_err(|_| VzError::InvalidValue(format!("CT ID {text} is invalid")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let global = Global::load(paths)?;
    let device = open()?;
    let device = device.as_ref().map(|d| d as &dyn ControlDevice);
    let Some(gathered) = gather(paths, &global, device, opts.show, &only)? else {
        // As OpenVZ: only an error when the VEs asked for do not exist.
        let _ = writeln!(err, "Container(s) not found");
        return Ok(if only.is_empty() { 0 } else { 1 });
    };
    for warning in &gathered.warnings {
        let _ = writeln!(err, "vzlist: warning: {warning}");
    }
    emit(out, &render(&gathered.entries, &opts)?)?;
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli;
    use crate::device::fake::FakeDevice;

    const HEADER: &str = "      CTID      NPROC STATUS    IP_ADDR         HOSTNAME\n";

    fn counters(pairs: &[(&str, u64, u64, u64, u64, u64)]) -> [UbCounter; UB_COUNT] {
        let mut all = [UbCounter::default(); UB_COUNT];
        for &(name, held, maxheld, barrier, limit, failcnt) in pairs {
            let id = params::ubc_param(name).unwrap().resource as usize;
            all[id] = UbCounter {
                held,
                maxheld,
                barrier,
                limit,
                failcnt,
            };
        }
        all
    }

    fn conf_ubc(pairs: &[(&str, u64, u64)]) -> [Option<(u64, u64)>; UB_COUNT] {
        let mut all = [None; UB_COUNT];
        for &(name, barrier, limit) in pairs {
            all[params::ubc_param(name).unwrap().resource as usize] = Some((barrier, limit));
        }
        all
    }

    /// VE 101 running with 5 tasks; VE 102 stopped with a config.
    fn running_101() -> Entry {
        Entry {
            hostname: Some("a.example".into()),
            ip: vec!["10.0.0.1".into()],
            counters: Some(counters(&[
                ("numproc", 5, 9, 240, 240, 0),
                ("kmemsize", 1_000_000, 2_000_000, 14_372_700, 14_790_164, 3),
            ])),
            conf_ubc: conf_ubc(&[("numproc", 240, 240)]),
            ..Entry::new(101, Status::Running)
        }
    }

    fn stopped_102() -> Entry {
        Entry {
            hostname: Some("b.example".into()),
            conf_ubc: conf_ubc(&[("numproc", 100, 120)]),
            ..Entry::new(102, Status::Stopped)
        }
    }

    fn both() -> Vec<Entry> {
        vec![stopped_102(), running_101()]
    }

    fn opts() -> Options {
        Options::default()
    }

    fn all() -> Options {
        Options {
            show: Show::All,
            ..opts()
        }
    }

    fn output(fields: &str) -> Options {
        Options {
            output: Some(fields.into()),
            ..all()
        }
    }

    fn text(entries: &[Entry], opts: &Options) -> String {
        render(entries, opts).unwrap()
    }

    fn message(result: Result<String, VzError>) -> String {
        result.unwrap_err().to_string()
    }

    #[test]
    fn default_lists_running_ves_in_openvz_columns() {
        assert_eq!(
            text(&both(), &opts()),
            format!("{HEADER}       101          5 running   10.0.0.1        a.example\n")
        );
    }

    #[test]
    fn all_shows_stopped_ves_with_dashes() {
        assert_eq!(
            text(&both(), &all()),
            format!(
                "{HEADER}       101          5 running   10.0.0.1        a.example\n       \
                 102          - stopped   -               b.example\n"
            )
        );
    }

    #[test]
    fn header_uses_the_column_widths() {
        let header = text(&[], &opts());
        assert_eq!(header, HEADER);
        // %10s %10s %-9s %-15s %-32s, the last trimmed.
        assert_eq!(
            header.trim_end(),
            format!(
                "{:>10} {:>10} {:<9} {:<15} {}",
                "CTID", "NPROC", "STATUS", "IP_ADDR", "HOSTNAME"
            )
        );
    }

    #[test]
    fn stopped_lists_every_ve_that_does_not_run() {
        let mut mounted = Entry::new(103, Status::Mounted);
        mounted.hostname = Some("c".into());
        let entries = vec![running_101(), stopped_102(), mounted];
        let out = text(
            &entries,
            &Options {
                show: Show::Stopped,
                output: Some("ctid,status".into()),
                ..opts()
            },
        );
        assert_eq!(
            out,
            "      CTID STATUS\n       102 stopped\n       103 mounted\n"
        );
    }

    #[test]
    fn no_header_and_one() {
        let no_header = Options {
            no_header: true,
            ..all()
        };
        assert_eq!(
            text(&both(), &no_header),
            "       101          5 running   10.0.0.1        a.example\n       \
             102          - stopped   -               b.example\n"
        );
        let cli = cli::parse::<VzlistCli, _, _>(["vzlist", "-1", "-a"])
            .unwrap()
            .unwrap();
        let one = Options::from_cli(&cli);
        assert!(one.no_header);
        assert_eq!(text(&both(), &one), "       101\n       102\n");
        let ctid = Options {
            no_header: true,
            ..output("ctid")
        };
        assert_eq!(text(&both(), &ctid), text(&both(), &one));
    }

    #[test]
    fn long_values_are_trimmed_except_in_the_last_column() {
        let long = "h".repeat(40);
        let entry = Entry {
            hostname: Some(long.clone()),
            ip: vec!["10.0.0.1".into(), "10.0.0.2".into()],
            ..Entry::new(7, Status::Stopped)
        };
        let entries = [entry];
        let trimmed = text(
            &entries,
            &Options {
                no_header: true,
                ..output("hostname,ip,ctid")
            },
        );
        assert_eq!(
            trimmed,
            format!("{} 10.0.0.1                 7\n", "h".repeat(32))
        );
        let last = text(
            &entries,
            &Options {
                no_header: true,
                ..output("ctid,ip,hostname")
            },
        );
        assert_eq!(last, format!("         7 10.0.0.1        {long}\n"));
        let ip_last = text(
            &entries,
            &Options {
                no_header: true,
                ..output("ctid,ip")
            },
        );
        assert_eq!(ip_last, "         7 10.0.0.1 10.0.0.2\n");
        let untrimmed = text(
            &entries,
            &Options {
                no_header: true,
                no_trim: true,
                ..output("hostname,ip,ctid")
            },
        );
        assert_eq!(untrimmed, format!("{long} 10.0.0.1 10.0.0.2          7\n"));
    }

    #[test]
    fn numbers_longer_than_the_column_print_whole() {
        let entry = Entry {
            conf_ubc: conf_ubc(&[("physpages", 0, UB_UNLIMITED)]),
            ..Entry::new(5, Status::Stopped)
        };
        assert_eq!(
            text(&[entry], &output("physpages.l,ctid")),
            "   PHYSP.L       CTID\n9223372036854775807          5\n"
        );
    }

    #[test]
    fn ubc_suffixes_show_each_part() {
        let out = text(
            &both(),
            &output("ctid,numproc,numproc.m,numproc.b,numproc.l,numproc.f,kmemsize.f"),
        );
        assert_eq!(
            out,
            "      CTID      NPROC    NPROC.M    NPROC.B    NPROC.L    NPROC.F KMEMSIZE.F\n       \
             101          5          9        240        240          0          3\n       \
             102          -          -        100        120          -          -\n"
        );
    }

    #[test]
    fn stopped_ve_without_config_values_prints_dashes() {
        let bare = Entry::new(9, Status::Stopped);
        assert_eq!(
            text(&[bare], &output("ctid,numproc.b,hostname,cpuunits,cpus,ip")),
            "      CTID    NPROC.B HOSTNAME                          CPUUNI  CPUS IP_ADDR\n         \
             9          - -                                      -     - -\n"
        );
    }

    #[test]
    fn running_ve_shows_the_module_limits_not_the_config() {
        let mut entry = running_101();
        entry.conf_ubc = conf_ubc(&[("numproc", 1, 1)]);
        assert_eq!(
            text(&[entry], &output("numproc.b,numproc.l")),
            "   NPROC.B    NPROC.L\n       240        240\n"
        );
    }

    #[test]
    fn mounted_ve_has_no_usage() {
        let mut entry = running_101();
        entry.status = Status::Mounted;
        assert_eq!(
            text(&[entry], &output("numproc,numproc.b,status")),
            "     NPROC    NPROC.B STATUS\n         -        240 mounted\n"
        );
    }

    #[test]
    fn sort_by_number_and_in_reverse() {
        let mut entries = vec![
            Entry {
                conf_ubc: conf_ubc(&[("numproc", 50, 50)]),
                ..Entry::new(1, Status::Stopped)
            },
            Entry {
                conf_ubc: conf_ubc(&[("numproc", 9, 9)]),
                ..Entry::new(2, Status::Stopped)
            },
            Entry {
                conf_ubc: conf_ubc(&[("numproc", 100, 100)]),
                ..Entry::new(3, Status::Stopped)
            },
            Entry::new(4, Status::Stopped),
        ];
        entries.reverse();
        let sorted = |sort: &str| {
            text(
                &entries,
                &Options {
                    no_header: true,
                    sort: Some(sort.into()),
                    ..output("ctid")
                },
            )
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
        };
        // Numeric, not text order; a missing value first.
        assert_eq!(sorted("numproc.l"), "4 2 1 3");
        assert_eq!(sorted("-numproc.l"), "3 1 2 4");
        assert_eq!(sorted("ctid"), "1 2 3 4");
        assert_eq!(sorted("-ctid"), "4 3 2 1");
        assert_eq!(sorted("-veid"), "4 3 2 1");
    }

    #[test]
    fn sort_by_text_and_status() {
        let named = |id, host: Option<&str>, status| Entry {
            hostname: host.map(str::to_owned),
            ..Entry::new(id, status)
        };
        let entries = vec![
            named(1, Some("zeta"), Status::Stopped),
            named(2, Some("alpha"), Status::Running),
            named(3, None, Status::Mounted),
            named(4, Some("beta"), Status::Running),
        ];
        let order = |sort: &str| {
            text(
                &entries,
                &Options {
                    no_header: true,
                    sort: Some(sort.into()),
                    ..output("ctid")
                },
            )
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
        };
        assert_eq!(order("hostname"), "3 2 4 1");
        assert_eq!(order("-hostname"), "1 4 2 3");
        // running, stopped, mounted; ties by CTID.
        assert_eq!(order("status"), "2 4 1 3");
    }

    #[test]
    fn default_order_is_by_ctid() {
        let entries = vec![
            Entry::new(30, Status::Stopped),
            Entry::new(4, Status::Stopped),
            Entry::new(100, Status::Stopped),
        ];
        let out = text(
            &entries,
            &Options {
                no_header: true,
                ..output("ctid")
            },
        );
        assert_eq!(out, "         4\n        30\n       100\n");
    }

    #[test]
    fn name_columns_use_smart_name() {
        let cli = cli::parse::<VzlistCli, _, _>(["vzlist", "-n"])
            .unwrap()
            .unwrap();
        let opts = Options::from_cli(&cli);
        assert_eq!(opts.output.as_deref(), Some(DEFAULT_NAME_FIELDS));
        let mut named = running_101();
        named.name = Some("web".into());
        let mut unnamed = running_101();
        unnamed.veid = 102;
        assert_eq!(
            text(&[named, unnamed], &opts),
            " SMARTNAME      NPROC STATUS    IP_ADDR         HOSTNAME\n       \
             web          5 running   10.0.0.1        a.example\n       \
             102          5 running   10.0.0.1        a.example\n"
        );
    }

    #[test]
    fn other_fields_format_like_openvz() {
        let entry = Entry {
            onboot: true,
            cpuunits: Some(1000),
            cpulimit: Some(25),
            cpus: Some(2),
            bootorder: Some(7),
            private: Some("/vz/private/8".into()),
            conf_ubc: conf_ubc(&[("physpages", 0, 65536)]),
            ..Entry::new(8, Status::Stopped)
        };
        assert_eq!(
            text(
                &[entry],
                &output("onboot,cpuunits,cpulimit,cpus,bootorder,layout,vswap,disabled,private")
            ),
            "ONBOOT  CPUUNI  CPULIM  CPUS  BOOTORDER LAYOUT VSWAP DISABL PRIVATE\n   \
             yes    1000      25     2          7 simfs    yes     no /vz/private/8\n"
        );
    }

    #[test]
    fn unknown_fields_are_errors() {
        let err = render(&both(), &output("ctid,foo")).unwrap_err();
        assert!(err.to_string().contains("unknown field 'foo'"), "{err}");
        assert!(message(render(&both(), &output("numproc.x"))).contains("'numproc.x'"));
        assert!(message(render(&both(), &output(""))).contains("unknown field ''"));
        let bad_sort = Options {
            sort: Some("-bar".into()),
            ..opts()
        };
        assert!(message(render(&both(), &bad_sort)).contains("'-bar'"));
    }

    #[test]
    fn glob_filters() {
        let entry = |id, host: Option<&str>, name: Option<&str>, desc: Option<&str>| Entry {
            hostname: host.map(str::to_owned),
            name: name.map(str::to_owned),
            description: desc.map(str::to_owned),
            ..Entry::new(id, Status::Running)
        };
        let entries = vec![
            entry(1, Some("web1.example"), Some("web1"), Some("front end")),
            entry(2, Some("db.example"), Some("db"), None),
            entry(3, None, None, Some("spare")),
            entry(4, Some("web2.other"), Some("web2"), Some("front end 2")),
        ];
        let ids = |o: Options| {
            text(
                &entries,
                &Options {
                    no_header: true,
                    output: Some("ctid".into()),
                    ..o
                },
            )
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
        };
        let host = |p: &str| Options {
            hostname: Some(p.into()),
            ..opts()
        };
        assert_eq!(ids(host("*.example")), "1 2");
        assert_eq!(ids(host("web?.*")), "1 4");
        assert_eq!(ids(host("[a-d]*")), "2");
        assert_eq!(ids(host("[!w]*")), "2");
        assert_eq!(
            ids(host("*")),
            "1 2 4",
            "a VE without hostname never matches"
        );
        assert_eq!(ids(host("web1")), "", "the whole value must match");
        let name = Options {
            name: Some("web*".into()),
            ..opts()
        };
        assert_eq!(ids(name), "1 4");
        let desc = Options {
            description: Some("front*".into()),
            ..opts()
        };
        assert_eq!(ids(desc), "1 4");
        let both = Options {
            description: Some("front*".into()),
            hostname: Some("*.other".into()),
            ..opts()
        };
        assert_eq!(ids(both), "4");
    }

    #[test]
    fn json_has_every_field_by_default() {
        let out = render(
            &both(),
            &Options {
                json: true,
                ..all()
            },
        )
        .unwrap();
        let value: serde_json::Value = serde_json::from_str(&out).unwrap();
        let ves = value.as_array().unwrap();
        assert_eq!(ves.len(), 2);
        let running = &ves[0];
        assert_eq!(running["ctid"], 101);
        assert_eq!(running["veid"], 101);
        assert_eq!(running["status"], "running");
        assert_eq!(running["hostname"], "a.example");
        assert_eq!(running["ip"], serde_json::json!(["10.0.0.1"]));
        assert_eq!(running["nameserver"], serde_json::json!([]));
        assert_eq!(running["description"], serde_json::Value::Null);
        assert_eq!(running["onboot"], false);
        assert_eq!(running["smart_name"], 101);
        assert_eq!(running["cpuunits"], serde_json::Value::Null);
        assert_eq!(
            running["numproc"],
            serde_json::json!({"held": 5, "maxheld": 9, "barrier": 240, "limit": 240, "failcnt": 0})
        );
        assert_eq!(running["kmemsize"]["failcnt"], 3);
        let stopped = &ves[1];
        assert_eq!(stopped["status"], "stopped");
        assert_eq!(
            stopped["numproc"],
            serde_json::json!({"held": 0, "maxheld": 0, "barrier": 100, "limit": 120, "failcnt": 0})
        );
        assert_eq!(
            stopped["kmemsize"],
            serde_json::json!({"held": 0, "maxheld": 0, "barrier": null, "limit": null, "failcnt": 0})
        );
        // Every field without a suffix, none with one.
        let keys = running.as_object().unwrap();
        let expected: Vec<_> = fields().into_iter().filter(|f| !f.has_suffix()).collect();
        assert_eq!(keys.len(), expected.len());
        assert!(expected.iter().all(|f| keys.contains_key(&f.name)));
        assert!(!keys.contains_key("numproc.m"));
    }

    #[test]
    fn json_layout_matches_openvz() {
        let mut entry = running_101();
        entry.ip.push("10.0.0.2".into());
        entry.name = Some("we\"b".into());
        let out = render(
            &[entry],
            &Options {
                json: true,
                ..output("ctid,name,ip,numproc,onboot")
            },
        )
        .unwrap();
        assert_eq!(
            out,
            "[\n  {\n    \"ctid\": 101,\n    \"name\": \"we\\\"b\",\n    \
             \"ip\": [\"10.0.0.1\", \"10.0.0.2\"],\n    \"numproc\": {\n      \
             \"held\": 5,\n      \"maxheld\": 9,\n      \"barrier\": 240,\n      \
             \"limit\": 240,\n      \"failcnt\": 0\n    },\n    \"onboot\": false\n  }\n]\n"
        );
        let none = render(
            &[],
            &Options {
                json: true,
                ..opts()
            },
        )
        .unwrap();
        assert_eq!(none, "[\n]\n");
        let two = render(
            &both(),
            &Options {
                json: true,
                ..output("ctid")
            },
        )
        .unwrap();
        assert_eq!(
            two,
            "[\n  {\n    \"ctid\": 101\n  },\n  {\n    \"ctid\": 102\n  }\n]\n"
        );
    }

    #[test]
    fn json_refuses_suffixes_and_ignores_header_options() {
        let err = message(render(
            &both(),
            &Options {
                json: true,
                ..output("ctid,numproc.m")
            },
        ));
        assert!(
            err.contains("'numproc.m' is not available in JSON"),
            "{err}"
        );
        let out = render(
            &both(),
            &Options {
                json: true,
                no_header: false,
                sort: Some("-ctid".into()),
                ..output("ctid")
            },
        )
        .unwrap();
        let value: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(value, serde_json::json!([{"ctid": 102}, {"ctid": 101}]));
    }

    #[test]
    fn field_list_names_every_field_with_its_header() {
        let list = field_list();
        let lines: Vec<_> = list.lines().collect();
        assert_eq!(lines[0], "ctid            CTID           ");
        assert!(lines.contains(&"numproc         NPROC          "));
        assert!(lines.contains(&"kmemsize.b      KMEMSIZE.B     "));
        assert!(lines.contains(&"ip              IP_ADDR        "));
        // 16 general, 21 beancounters with 5 parts each, 8 others.
        assert_eq!(lines.len(), 16 + 21 * 5 + 8);
    }

    #[test]
    fn every_beancounter_is_a_field() {
        let ubc_fields: Vec<_> = fields()
            .into_iter()
            .filter_map(|field| match field.kind {
                Kind::Ubc(id, Part::Held) => Some(id),
                _ => None,
            })
            .collect();
        assert_eq!(ubc_fields.len(), params::UBC_PARAMS.len());
        for param in params::UBC_PARAMS {
            for suffix in ["", ".m", ".b", ".l", ".f"] {
                let field = find_field(&format!("{}{suffix}", param.name)).unwrap();
                assert!(matches!(field.kind, Kind::Ubc(id, _) if id == param.resource as usize));
            }
        }
        // In OpenVZ's order: ascending resource ids.
        assert!(ubc_fields.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn command_line() {
        let parse = |args: &[&str]| {
            let mut argv = vec!["vzlist"];
            argv.extend_from_slice(args);
            cli::parse::<VzlistCli, _, _>(argv).unwrap().unwrap()
        };
        let cli = parse(&["-h", "*.example", "-s", "-numproc", "-N", "web*", "-d", "x"]);
        assert_eq!(cli.hostname.as_deref(), Some("*.example"));
        assert_eq!(cli.sort.as_deref(), Some("-numproc"));
        assert_eq!(cli.name_filter.as_deref(), Some("web*"));
        assert_eq!(cli.description.as_deref(), Some("x"));
        let cli = parse(&["-aHtj", "-o", "ctid", "-o", "ip", "101", "web"]);
        assert!(cli.all && cli.no_header && cli.no_trim && cli.json);
        assert_eq!(cli.output.as_deref(), Some("ip"), "the last -o wins");
        assert_eq!(cli.ctids, ["101", "web"]);
        let opts = Options::from_cli(&cli);
        assert_eq!(opts.show, Show::All);
        let long = parse(&[
            "--all",
            "--stopped",
            "--no-header",
            "--no-trim",
            "--json",
            "--output=ctid",
            "--sort=ctid",
            "--hostname=h",
            "--name_filter=n",
            "--description=d",
            "--name",
            "--list",
        ]);
        assert!(long.list && long.name && long.stopped);
        assert_eq!(Options::from_cli(&long).show, Show::Stopped);
        assert_eq!(Options::from_cli(&parse(&[])).show, Show::Running);
        assert_eq!(Options::from_cli(&parse(&["102"])).show, Show::All);
        assert!(parse(&["--version"]).version);
        // --help prints and stops; -h needs a pattern.
        assert!(cli::parse::<VzlistCli, _, _>(["vzlist", "--help"])
            .unwrap()
            .is_none());
        assert!(cli::parse::<VzlistCli, _, _>(["vzlist", "-h"]).is_err());
        assert!(cli::parse::<VzlistCli, _, _>(["vzlist", "-x"]).is_err());
    }

    // gather and run_in, against a temporary tree and a fake module.

    /// A directory under the system temp dir, removed when dropped.
    struct TempDir(PathBuf);

    impl TempDir {
        fn new() -> TempDir {
            use std::sync::atomic::{AtomicUsize, Ordering};
            static NEXT: AtomicUsize = AtomicUsize::new(0);
            let dir = std::env::temp_dir().join(format!(
                "vzlist-test-{}-{}",
                std::process::id(),
                NEXT.fetch_add(1, Ordering::Relaxed)
            ));
            std::fs::create_dir_all(&dir).unwrap();
            TempDir(dir)
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    struct Host {
        _dir: TempDir,
        paths: Paths,
    }

    impl Host {
        fn new() -> Host {
            let dir = TempDir::new();
            let paths = Paths::new(&dir.0);
            std::fs::create_dir_all(paths.conf_dir()).unwrap();
            std::fs::create_dir_all(paths.names_dir()).unwrap();
            std::fs::write(
                paths.vz_conf(),
                "VE_ROOT=/vz/root/$VEID\nVE_PRIVATE=/vz/private/$VEID\nDUMPDIR=/vz/dump\n",
            )
            .unwrap();
            Host { _dir: dir, paths }
        }

        /// A VE with config `conf` and (if `private`) a private area.
        fn ve(&self, veid: u32, conf: &str, private: bool) {
            std::fs::write(self.paths.ve_conf(veid), conf).unwrap();
            if private {
                std::fs::create_dir_all(self.paths.resolve(&format!("/vz/private/{veid}")))
                    .unwrap();
            }
        }

        fn global(&self) -> Global {
            Global::load(&self.paths).unwrap()
        }

        fn gather(
            &self,
            device: Option<&dyn ControlDevice>,
            show: Show,
            only: &[u32],
        ) -> Option<Vec<Entry>> {
            gather(&self.paths, &self.global(), device, show, only)
                .unwrap()
                .map(|g| g.entries)
        }
    }

    fn ids(entries: &[Entry]) -> Vec<(u32, Status)> {
        entries.iter().map(|e| (e.veid, e.status)).collect()
    }

    #[test]
    fn gather_reads_configs_and_the_module() {
        let host = Host::new();
        host.ve(
            101,
            "HOSTNAME=\"a.example\"\nIP_ADDRESS=\"10.0.0.1 10.0.0.2\"\nNUMPROC=\"240:240\"\n\
             KMEMSIZE=\"2M:3M\"\nONBOOT=\"yes\"\nCPUUNITS=\"1000\"\nCPUS=\"unlimited\"\n\
             NAME=\"web\"\nDESCRIPTION=\"front end\"\nOSTEMPLATE=\"busybox\"\n\
             VE_ROOT=\"/vz/root/$VEID\"\nVE_PRIVATE=\"/vz/private/$VEID\"\n",
            true,
        );
        std::os::unix::fs::symlink("../conf/101.conf", host.paths.names_dir().join("web")).unwrap();
        host.ve(102, "HOSTNAME=\"b\"\nNAME=\"stale\"\n", true);
        host.ve(103, "", true);
        host.ve(104, "", true);
        host.ve(105, "", false);
        std::fs::write(host.paths.ve_conf(106).with_extension("conf.destroyed"), "").unwrap();
        std::fs::write(host.paths.conf_dir().join("ve-basic.conf-sample"), "").unwrap();
        // 103 is mounted, 104 suspended, 105 has no private area.
        let root_103 = host.paths.resolve("/vz/root/103");
        std::fs::create_dir_all(host.paths.proc().join("self")).unwrap();
        std::fs::write(
            host.paths.proc().join("self/mountinfo"),
            format!(
                "36 35 98:0 / {} rw - ext4 /dev/vda rw\n",
                root_103.display()
            ),
        )
        .unwrap();
        std::fs::create_dir_all(host.paths.resolve("/vz/dump")).unwrap();
        std::fs::write(host.paths.resolve("/vz/dump/Dump.104"), "").unwrap();
        let device = FakeDevice {
            counters: counters(&[("numproc", 3, 4, 240, 240, 0)]),
            // 101 runs; 200 runs without a config; 300 is known but has no tasks.
            ..FakeDevice::with_ves(&[(101, 3), (200, 1), (300, 0)])
        };

        let running = host.gather(Some(&device), Show::Running, &[]).unwrap();
        assert_eq!(
            ids(&running),
            [(101, Status::Running), (200, Status::Running)]
        );
        let counters_read = device
            .calls()
            .into_iter()
            .filter(|c| c.starts_with("ub_get"));
        assert_eq!(
            counters_read.collect::<Vec<_>>(),
            ["ub_get 101", "ub_get 200"]
        );
        let web = &running[0];
        assert_eq!(web.hostname.as_deref(), Some("a.example"));
        assert_eq!(web.ip, ["10.0.0.1", "10.0.0.2"]);
        assert_eq!(web.name.as_deref(), Some("web"));
        assert_eq!(web.description.as_deref(), Some("front end"));
        assert_eq!(web.ostemplate.as_deref(), Some("busybox"));
        assert_eq!(web.private.as_deref(), Some("/vz/private/101"));
        assert_eq!(web.root.as_deref(), Some("/vz/root/101"));
        assert!(web.onboot);
        assert_eq!(web.cpuunits, Some(1000));
        assert_eq!(web.cpus, None, "unlimited");
        let kmem = params::ubc_param("kmemsize").unwrap().resource as usize;
        assert_eq!(web.conf_ubc[kmem], Some((2 << 20, 3 << 20)));
        assert_eq!(web.ubc(5, Part::Held), Some(3));
        // Defaults of vz.conf for a VE without config.
        assert_eq!(running[1].private.as_deref(), Some("/vz/private/200"));
        assert_eq!(running[1].hostname, None);

        let all = host.gather(Some(&device), Show::All, &[]).unwrap();
        assert_eq!(
            ids(&all),
            [
                (101, Status::Running),
                (102, Status::Stopped),
                (103, Status::Mounted),
                (104, Status::Suspended),
                (200, Status::Running),
            ],
            "105 and 300 have no private area"
        );
        assert_eq!(all[1].name, None, "NAME without its link is not shown");

        let only = host
            .gather(Some(&device), Show::Running, &[102, 101])
            .unwrap();
        assert_eq!(ids(&only), [(101, Status::Running), (102, Status::Stopped)]);
        assert!(host.gather(Some(&device), Show::All, &[555]).is_none());
    }

    #[test]
    fn without_the_module_every_ve_is_stopped() {
        let host = Host::new();
        host.ve(101, "HOSTNAME=\"a\"\n", true);
        assert!(host.gather(None, Show::Running, &[]).is_none());
        let all = host.gather(None, Show::All, &[]).unwrap();
        assert_eq!(ids(&all), [(101, Status::Stopped)]);
        assert_eq!(all[0].counters, None);
    }

    #[test]
    fn a_broken_config_is_a_warning() {
        let host = Host::new();
        host.ve(101, "this is not a config\n", true);
        let gathered = gather(&host.paths, &host.global(), None, Show::All, &[])
            .unwrap()
            .unwrap();
        assert_eq!(ids(&gathered.entries), [(101, Status::Stopped)]);
        assert_eq!(gathered.warnings.len(), 1);
        assert!(gathered.warnings[0].contains("101.conf"));
    }

    fn run_args(
        host: &Host,
        device: FakeDevice,
        args: &[&str],
    ) -> (Result<i32, VzError>, String, String) {
        let mut argv = vec!["vzlist"];
        argv.extend_from_slice(args);
        let cli = cli::parse::<VzlistCli, _, _>(argv).unwrap().unwrap();
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let result = run_in(&host.paths, &cli, || Ok(Some(device)), &mut out, &mut err);
        (
            result,
            String::from_utf8(out).unwrap(),
            String::from_utf8(err).unwrap(),
        )
    }

    #[test]
    fn run_prints_and_reports_missing_ves() {
        let host = Host::new();
        host.ve(
            101,
            "HOSTNAME=\"a.example\"\nIP_ADDRESS=\"10.0.0.1\"\n",
            true,
        );
        host.ve(102, "HOSTNAME=\"b.example\"\n", true);
        let device = || FakeDevice {
            counters: counters(&[("numproc", 2, 2, 240, 240, 0)]),
            ..FakeDevice::with_ves(&[(101, 2)])
        };
        let (code, out, err) = run_args(&host, device(), &["-a"]);
        assert_eq!(code.unwrap(), 0);
        assert_eq!(
            out,
            format!(
                "{HEADER}       101          2 running   10.0.0.1        a.example\n       \
                 102          - stopped   -               b.example\n"
            )
        );
        assert_eq!(err, "");

        let (code, out, err) = run_args(&host, device(), &["555"]);
        assert_eq!(code.unwrap(), 1);
        assert_eq!(
            (out.as_str(), err.as_str()),
            ("", "Container(s) not found\n")
        );
        let (code, _, err) = run_args(&host, FakeDevice::default(), &[]);
        assert_eq!(code.unwrap(), 0, "nothing running is no error");
        assert_eq!(err, "Container(s) not found\n");

        let (code, out, _) = run_args(&host, device(), &["-H", "-o", "ctid,status", "102"]);
        assert_eq!(code.unwrap(), 0);
        assert_eq!(out, "       102 stopped\n");

        let (code, _, _) = run_args(&host, device(), &["-o", "foo"]);
        assert!(code
            .unwrap_err()
            .to_string()
            .contains("unknown field 'foo'"));
        let (code, _, _) = run_args(&host, device(), &["nosuchname"]);
        assert!(code
            .unwrap_err()
            .to_string()
            .contains("CT ID nosuchname is invalid"));

        let (code, out, _) = run_args(&host, device(), &["-L"]);
        assert_eq!(code.unwrap(), 0);
        assert_eq!(out, field_list());
    }

    #[test]
    fn bad_options_fail_before_the_module_is_opened() {
        let host = Host::new();
        let cli = cli::parse::<VzlistCli, _, _>(["vzlist", "-j", "-o", "numproc.l"])
            .unwrap()
            .unwrap();
        let result = run_in(
            &host.paths,
            &cli,
            || -> Result<Option<FakeDevice>, VzError> { panic!("opened the module") },
            &mut Vec::new(),
            &mut Vec::new(),
        );
        assert!(result.unwrap_err().to_string().contains("JSON"));
    }

    #[test]
    fn glob_matches_like_fnmatch() {
        assert!(glob_match("*", ""));
        assert!(glob_match("a*c", "abbbc"));
        assert!(glob_match("a?c", "abc"));
        assert!(!glob_match("a?c", "ac"));
        assert!(glob_match("[0-9]*", "1x"));
        assert!(glob_match("\\*", "*"));
        assert!(!glob_match("\\*", "x"));
        assert!(!glob_match("a\0", "a"));
    }

    #[test]
    fn missing_values_sort_first() {
        use std::cmp::Ordering;
        // SortKey compares missing values first.
        assert_eq!(
            SortKey::Num(None).cmp(&SortKey::Num(Some(0))),
            Ordering::Less
        );
        assert_eq!(
            SortKey::Text(None).cmp(&SortKey::Text(Some(String::new()))),
            Ordering::Less
        );
    }
}

//! vzlist's fields: names, headers, column widths, and what each shows of an [`Entry`].

use super::{Entry, Options, DEFAULT_FIELDS};
use crate::error::VzError;
use crate::params;

/// A part of a beancounter: the field without suffix is `held`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Part {
    Held,
    Maxheld,
    Barrier,
    Limit,
    Failcnt,
}

/// The field-name and header suffixes of the beancounter parts.
pub(super) const PARTS: [(Part, &str, &str); 5] = [
    (Part::Held, "", ""),
    (Part::Maxheld, ".m", ".M"),
    (Part::Barrier, ".b", ".B"),
    (Part::Limit, ".l", ".L"),
    (Part::Failcnt, ".f", ".F"),
];

/// Which disk quota a field shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Quota {
    /// Space, in KB.
    Space,
    Inodes,
}

/// A part of a disk quota: the field without suffix is the usage.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum DiskPart {
    Usage,
    Soft,
    Hard,
}

/// The field-name and header suffixes of the disk quota parts.
const DISK_PARTS: [(DiskPart, &str, &str); 3] = [
    (DiskPart::Usage, "", ""),
    (DiskPart::Soft, ".s", ".S"),
    (DiskPart::Hard, ".h", ".H"),
];

/// OpenVZ's vzlist fields that have no meaning here, and why; asked for, they are refused
/// with that reason (exit 1, as an unknown field).
const NOT_HERE: [(&str, &str); 7] = [
    (
        "ioprio",
        "VEs have no I/O priority of their own here (vzctl has no --ioprio)",
    ),
    (
        "iolimit",
        "VEs have no I/O bandwidth limit here (vzctl has no --iolimit)",
    ),
    (
        "iopslimit",
        "VEs have no I/O operations limit here (vzctl has no --iopslimit)",
    ),
    (
        "features",
        "there are no per-VE kernel features to switch on or off (vzctl has no --features)",
    ),
    (
        "vm_overcommit",
        "privvmpages is set on its own, not derived from RAM and swap by an overcommit \
         factor (vzctl has no --vm_overcommit)",
    ),
    (
        "netfilter",
        "a VE's netfilter is that of its own network namespace, not a host setting \
         (vzctl has no --netfilter)",
    ),
    (
        "capability",
        "a VE's capabilities are a fixed set, not configured per VE (vzctl has no \
         --capability)",
    ),
];

/// What a field shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Kind {
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
    Disk(Quota, DiskPart),
    /// The 1, 5 and 15-minute load.
    Laverage,
    /// Time since the VE started.
    Uptime,
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
pub(super) enum Align {
    Left,
    Right,
}

impl Kind {
    /// The column's printf width and alignment (vzlist.c's `%10s`, `%-32s`, ...).
    pub(super) fn column(self) -> (usize, Align) {
        use Align::{Left, Right};
        match self {
            Kind::Ctid | Kind::SmartName | Kind::Ubc(..) | Kind::Disk(..) | Kind::Bootorder => {
                (10, Right)
            }
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
            Kind::Laverage => (14, Right),
            Kind::Uptime => (15, Right),
            Kind::Cpulimit | Kind::Cpuunits => (7, Right),
            Kind::Cpus | Kind::Vswap => (5, Right),
            Kind::Onboot | Kind::Disabled => (6, Right),
            Kind::Layout => (6, Left),
        }
    }
}

/// One field: its name for `-o`, `-s` and JSON, its column header, what it shows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Field {
    pub(super) name: String,
    pub(super) header: String,
    pub(super) kind: Kind,
}

impl Field {
    fn new(name: &str, header: &str, kind: Kind) -> Field {
        Field {
            name: name.to_owned(),
            header: header.to_owned(),
            kind,
        }
    }

    /// Fields with a suffix (`numproc.m`, `diskspace.s`) are not available in JSON.
    pub(super) fn has_suffix(&self) -> bool {
        match self.kind {
            Kind::Ubc(_, part) => part != Part::Held,
            Kind::Disk(_, part) => part != DiskPart::Usage,
            _ => false,
        }
    }
}

/// Every field, in OpenVZ's order (the order of `-L` and of JSON without `-o`), built once:
/// each field name of `-o` and `-s` is looked up in it.
pub(super) fn fields() -> &'static [Field] {
    static FIELDS: std::sync::OnceLock<Vec<Field>> = std::sync::OnceLock::new();
    FIELDS.get_or_init(build_fields)
}

fn build_fields() -> Vec<Field> {
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
    for (quota, name, header) in [
        (Quota::Space, "diskspace", "DSPACE"),
        (Quota::Inodes, "diskinodes", "DINODES"),
    ] {
        for (part, suffix, header_suffix) in DISK_PARTS {
            all.push(Field {
                name: format!("{name}{suffix}"),
                header: format!("{header}{header_suffix}"),
                kind: Kind::Disk(quota, part),
            });
        }
    }
    all.extend([
        Field::new("laverage", "LAVERAGE", Kind::Laverage),
        Field::new("uptime", "UPTIME", Kind::Uptime),
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

pub(super) fn find_field(name: &str) -> Option<Field> {
    fields().iter().find(|f| f.name == name).cloned()
}

/// The field `name`, or the error for it: what `text` (as given, `-s`'s with its `-`) asks
/// for does not apply here and why, or it is unknown.
fn known_field(name: &str, text: &str, unknown: &str) -> Result<Field, VzError> {
    find_field(name).ok_or_else(|| {
        VzError::InvalidValue(match NOT_HERE.iter().find(|(field, _)| *field == name) {
            Some((_, why)) => {
                format!("field '{text}' of OpenVZ's vzlist does not apply here: {why}")
            }
            None => format!("{unknown} '{text}' (vzlist -L lists the fields)"),
        })
    })
}

/// `vzlist -L`: every field name and its column header, one per line.
pub fn field_list() -> String {
    fields()
        .iter()
        .map(|f| format!("{:<15} {:<15}\n", f.name, f.header))
        .collect()
}

/// The columns and sort order an [`Options`] asks for, checked.
pub(super) struct Layout {
    pub(super) columns: Vec<Field>,
    pub(super) sort: Option<(Field, bool)>,
}

/// Resolves the field names of `opts`: an unknown field, a suffix in JSON or an unknown sort
/// field is an error naming it.
pub(super) fn layout(opts: &Options) -> Result<Layout, VzError> {
    let columns = match (&opts.output, opts.json) {
        (None, true) => fields()
            .iter()
            .filter(|f| !f.has_suffix())
            .cloned()
            .collect(),
        (output, _) => {
            let list = output.as_deref().unwrap_or(DEFAULT_FIELDS);
            list.split(',')
                .map(|name| {
                    let field = known_field(name, name, "unknown field")?;
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
            Some((known_field(name, text, "invalid sort field name")?, reverse))
        }
    };
    Ok(Layout { columns, sort })
}

impl Layout {
    /// Whether a column or the sort key is a field of a kind `wanted` accepts.
    pub(super) fn uses(&self, wanted: impl Fn(Kind) -> bool) -> bool {
        let sort = self.sort.as_ref().map(|(field, _)| field);
        self.columns
            .iter()
            .chain(sort)
            .any(|field| wanted(field.kind))
    }
}

/// A value as one field shows it.
pub(super) enum Cell {
    Num(Option<u64>),
    Text(Option<String>),
    List(Vec<String>),
    Bool(bool),
    /// The 1, 5 and 15-minute load in hundredths.
    Load(Option<[u64; 3]>),
    /// Nanoseconds since the VE started.
    Uptime(Option<u64>),
}

/// A count of hundredths as OpenVZ's `%1.2f` printed the value.
pub(super) fn two_decimals(hundredths: u64) -> String {
    format!("{}.{:02}", hundredths / 100, hundredths % 100)
}

pub(super) const NANOS_PER_SEC: u64 = 1_000_000_000;

pub(super) fn cell(entry: &Entry, kind: Kind) -> Cell {
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
        Kind::Disk(quota, part) => Cell::Num(entry.disk(quota, part)),
        Kind::Laverage => Cell::Load(entry.cpustat.map(|stat| stat.load_hundredths())),
        Kind::Uptime => Cell::Uptime(entry.cpustat.map(|stat| stat.uptime_ns)),
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

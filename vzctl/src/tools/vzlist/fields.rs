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

    /// Fields with a suffix (`numproc.m`) are not available in JSON.
    pub(super) fn has_suffix(&self) -> bool {
        matches!(self.kind, Kind::Ubc(_, part) if part != Part::Held)
    }
}

/// Every field, in OpenVZ's order (the order of `-L` and of JSON without `-o`).
pub(super) fn fields() -> Vec<Field> {
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

pub(super) fn find_field(name: &str) -> Option<Field> {
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
pub(super) struct Layout {
    pub(super) columns: Vec<Field>,
    pub(super) sort: Option<(Field, bool)>,
}

/// Resolves the field names of `opts`: an unknown field, a suffix in JSON or an unknown sort
/// field is an error naming it.
pub(super) fn layout(opts: &Options) -> Result<Layout, VzError> {
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
pub(super) enum Cell {
    Num(Option<u64>),
    Text(Option<String>),
    List(Vec<String>),
    Bool(bool),
}

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

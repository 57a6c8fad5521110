//! Which VEs vzlist lists (state, `-h`, `-N`, `-d`) and what `-s` sorts them by.

use super::fields::{cell, Cell, Kind};
use super::{Entry, Options, Show, Status};
use std::ffi::CString;

/// What `-s` compares: missing values first, numbers as numbers.
#[derive(PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum SortKey {
    Num(Option<u64>),
    Text(Option<String>),
    /// The load: by the 1-minute figure, then the 5 and the 15-minute ones (as OpenVZ).
    Load(Option<[u64; 3]>),
}

pub(super) fn sort_key(entry: &Entry, kind: Kind) -> SortKey {
    match kind {
        // OpenVZ sorts smart_name by the name.
        Kind::SmartName => SortKey::Text(entry.name.clone()),
        Kind::Status => SortKey::Num(Some(entry.status as u64)),
        _ => match cell(entry, kind) {
            Cell::Num(n) => SortKey::Num(n),
            Cell::Text(t) => SortKey::Text(t),
            Cell::List(items) => SortKey::Text((!items.is_empty()).then(|| items.join(" "))),
            Cell::Bool(b) => SortKey::Num(Some(u64::from(b))),
            Cell::Load(load) => SortKey::Load(load),
            Cell::Uptime(ns) => SortKey::Num(ns),
        },
    }
}

/// Whether shell pattern `pattern` matches `text`, as fnmatch(3) without flags (OpenVZ's
/// `-h`, `-N` and `-d`).
pub(super) fn glob_match(pattern: &str, text: &str) -> bool {
    let (Ok(pattern), Ok(text)) = (CString::new(pattern), CString::new(text)) else {
        return false;
    };
    // SAFETY: Both pointers are NUL-terminated strings owned by this frame and alive for the
    // whole call; fnmatch only reads them.
    unsafe { libc::fnmatch(pattern.as_ptr(), text.as_ptr(), 0) == 0 }
}

/// Whether `entry` passes the state selection and the `-h`, `-N` and `-d` patterns. A VE
/// without the value never matches a pattern.
pub(super) fn selected(entry: &Entry, opts: &Options) -> bool {
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

//! vzlist's text output: OpenVZ's printf columns.

use super::fields::{cell, two_decimals, Align, Cell, Field, Kind, NANOS_PER_SEC};
use super::{Entry, Options};

/// `text` padded with spaces to `width` characters.
pub(super) fn pad(text: &str, width: usize, align: Align) -> String {
    match align {
        Align::Left => format!("{text:<width$}"),
        Align::Right => format!("{text:>width$}"),
    }
}

/// One cell of a text line. Numbers are never cut; text is cut to the column width when
/// `trim` (every column but the last, unless `-t`); a list shows only its first item then.
pub(super) fn format_cell(value: Cell, kind: Kind, trim: bool) -> String {
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
        Cell::Load(load) => {
            load.map_or_else(|| "-".to_owned(), |load| load.map(two_decimals).join("/"))
        }
        Cell::Uptime(ns) => ns.map_or_else(|| "-".to_owned(), uptime),
    };
    pad(&shown, width, align)
}

/// `ns` as OpenVZ's vzlist printed an uptime: `%.3dd%.2dh:%.2dm:%.2ds`, whole seconds.
fn uptime(ns: u64) -> String {
    let secs = ns / NANOS_PER_SEC;
    let (days, hours, mins) = (secs / 86_400, secs / 3600 % 24, secs / 60 % 60);
    format!("{days:03}d{hours:02}h:{mins:02}m:{:02}s", secs % 60)
}

/// Joins cells with one space and drops the blanks at the end of the line.
pub(super) fn line(cells: impl Iterator<Item = String>) -> String {
    let mut line = cells.collect::<Vec<_>>().join(" ");
    line.truncate(line.trim_end().len());
    line.push('\n');
    line
}

pub(super) fn render_text(rows: &[&Entry], columns: &[Field], opts: &Options) -> String {
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

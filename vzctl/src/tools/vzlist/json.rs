//! vzlist's JSON output (`-j`), laid out as OpenVZ's.

use super::fields::{cell, two_decimals, Cell, DiskPart, Field, Kind, Part, NANOS_PER_SEC};
use super::Entry;
use crate::error::VzError;

pub(super) fn json_string(text: &str) -> Result<String, VzError> {
    serde_json::to_string(text).map_err(|e| VzError::System {
        what: "format JSON".into(),
        source: std::io::Error::other(e),
    })
}

/// A number, or `null`.
fn number(n: Option<u64>) -> String {
    n.map_or_else(|| "null".to_owned(), |n| n.to_string())
}

/// An object nested in a VE's, laid out as OpenVZ's: one member a line, indented.
fn nested_object(members: &[(&str, String)]) -> String {
    let members: Vec<_> = members
        .iter()
        .map(|(name, value)| format!("      \"{name}\": {value}"))
        .collect();
    format!("{{\n{}\n    }}", members.join(",\n"))
}

/// One JSON value, laid out as OpenVZ's vzlist printed it: a beancounter and a disk quota are
/// objects, the load an array, the uptime seconds (0.000 when not running).
pub(super) fn json_value(entry: &Entry, kind: Kind) -> Result<String, VzError> {
    if let Kind::Ubc(resource, _) = kind {
        let value = |part| entry.ubc(resource, part);
        return Ok(nested_object(&[
            ("held", value(Part::Held).unwrap_or(0).to_string()),
            ("maxheld", value(Part::Maxheld).unwrap_or(0).to_string()),
            ("barrier", number(value(Part::Barrier))),
            ("limit", number(value(Part::Limit))),
            ("failcnt", value(Part::Failcnt).unwrap_or(0).to_string()),
        ]));
    }
    if let Kind::Disk(quota, _) = kind {
        if entry.disk.is_none() {
            return Ok("null".to_owned());
        }
        let value = |part| entry.disk(quota, part).unwrap_or(0).to_string();
        return Ok(nested_object(&[
            ("usage", value(DiskPart::Usage)),
            ("softlimit", value(DiskPart::Soft)),
            ("hardlimit", value(DiskPart::Hard)),
        ]));
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
        Cell::Load(None) => "null".to_owned(),
        Cell::Load(Some(load)) => format!("[{}]", load.map(two_decimals).join(", ")),
        Cell::Uptime(ns) => {
            let ns = ns.unwrap_or(0);
            format!(
                "{}.{:03}",
                ns / NANOS_PER_SEC,
                ns % NANOS_PER_SEC / 1_000_000
            )
        }
    })
}

pub(super) fn render_json(rows: &[&Entry], columns: &[Field]) -> Result<String, VzError> {
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

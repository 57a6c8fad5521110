//! vzlist's JSON output (`-j`), laid out as OpenVZ's.

use super::fields::{cell, Cell, Field, Kind, Part};
use super::Entry;
use crate::error::VzError;

pub(super) fn json_string(text: &str) -> Result<String, VzError> {
    serde_json::to_string(text).map_err(|e| VzError::System {
        what: "format JSON".into(),
        source: std::io::Error::other(e),
    })
}

/// One JSON value, laid out as OpenVZ's vzlist printed it (a beancounter is an object).
pub(super) fn json_value(entry: &Entry, kind: Kind) -> Result<String, VzError> {
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

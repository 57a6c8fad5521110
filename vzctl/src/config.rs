//! The one parser for OpenVZ configuration files: `/etc/vz/vz.conf`, `/etc/vz/conf/CTID.conf`
//! and `ve-NAME.conf-sample` (ctid.conf(5), vz.conf(5)).
//!
//! A file is a list of lines, each a comment (`#...`), blank, or an assignment `NAME="value"`
//! or `NAME=value`. Names are case-sensitive. The files stay shell-sourceable: values are
//! written double-quoted and may not contain characters that would change meaning inside
//! double quotes. A rewrite keeps every line it did not change byte for byte, so comments,
//! keys this tool does not know and the order of lines survive `vzctl set --save`.

use crate::error::VzError;
use std::io::Write;
use std::path::{Path, PathBuf};

/// One line of a configuration file.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Line {
    /// A comment or blank line, kept verbatim.
    Other(String),
    /// `key=value`; `text` is the line as written (or as this module wrote it).
    Assign {
        key: String,
        value: String,
        text: String,
    },
}

impl Line {
    fn text(&self) -> &str {
        match self {
            Line::Other(text) | Line::Assign { text, .. } => text,
        }
    }

    fn key(&self) -> Option<&str> {
        match self {
            Line::Other(_) => None,
            Line::Assign { key, .. } => Some(key),
        }
    }
}

/// A parsed configuration file that keeps all of its lines.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ConfigFile {
    lines: Vec<Line>,
    /// Whether the rendered text ends with a newline (true for new and empty files).
    trailing_newline: bool,
}

impl ConfigFile {
    /// Parses `text`; `origin` names the file in errors.
    ///
    /// A line that is neither a comment, a blank line nor `NAME=value` (with `NAME` matching
    /// `[A-Za-z_][A-Za-z0-9_]*`) is a [`VzError::ConfigSyntax`] naming the file, the line
    /// number and the line.
    pub fn parse(text: &str, origin: &Path) -> Result<ConfigFile, VzError> {
        let body = text.strip_suffix('\n');
        let trailing_newline = text.is_empty() || body.is_some();
        let mut lines = Vec::new();
        if !text.is_empty() {
            for (index, raw) in body.unwrap_or(text).split('\n').enumerate() {
                let line = parse_line(raw).map_err(|reason| VzError::ConfigSyntax {
                    path: origin.to_owned(),
                    line: index.saturating_add(1),
                    text: raw.to_owned(),
                    reason: reason.to_owned(),
                })?;
                lines.push(line);
            }
        }
        Ok(ConfigFile {
            lines,
            trailing_newline,
        })
    }

    /// Reads and parses the file at `path`.
    ///
    /// A missing file is [`VzError::ConfigNotFound`]; callers that need another exit code
    /// (vz.conf: [`VzError::VzConfNotFound`]) map it.
    pub fn load(path: &Path) -> Result<ConfigFile, VzError> {
        match std::fs::read_to_string(path) {
            Ok(text) => ConfigFile::parse(&text, path),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
                Err(VzError::ConfigNotFound(path.to_owned()))
            }
            Err(source) => Err(VzError::System {
                what: format!("read {}", path.display()),
                source,
            }),
        }
    }

    /// The value of `key` without quotes; the last assignment wins.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.lines.iter().rev().find_map(|line| match line {
            Line::Assign { key: k, value, .. } if k == key => Some(value.as_str()),
            _ => None,
        })
    }

    /// Sets `key` to `value`: the last assignment of `key` is replaced in place by
    /// `KEY="value"`, or that line is appended if the key is absent.
    ///
    /// A key that is not a valid name, or a value containing `"`, `\`, `` ` `` or a line
    /// break, is refused with [`VzError::InvalidValue`] naming the key.
    pub fn set(&mut self, key: &str, value: &str) -> Result<(), VzError> {
        if !is_name(key) {
            return Err(VzError::InvalidValue(format!(
                "invalid configuration parameter name {key:?}"
            )));
        }
        if let Some(bad) = value
            .chars()
            .find(|c| matches!(c, '"' | '\\' | '`' | '\n' | '\r'))
        {
            return Err(VzError::InvalidValue(format!(
                "invalid value {value:?} for {key}: the character {bad:?} is not allowed"
            )));
        }
        let line = Line::Assign {
            key: key.to_owned(),
            value: value.to_owned(),
            text: format!("{key}=\"{value}\""),
        };
        match self.lines.iter_mut().rev().find(|l| l.key() == Some(key)) {
            Some(slot) => *slot = line,
            None => self.lines.push(line),
        }
        Ok(())
    }

    /// Removes every assignment of `key`; returns whether there was one.
    pub fn remove(&mut self, key: &str) -> bool {
        let before = self.lines.len();
        self.lines.retain(|line| line.key() != Some(key));
        self.lines.len() != before
    }

    /// The assigned keys, each once, in the order of their first appearance.
    pub fn keys(&self) -> Vec<&str> {
        let mut keys: Vec<&str> = Vec::new();
        for key in self.lines.iter().filter_map(Line::key) {
            if !keys.contains(&key) {
                keys.push(key);
            }
        }
        keys
    }

    /// The file's text: unchanged lines exactly as read, changed and new ones as `KEY="value"`.
    pub fn render(&self) -> String {
        let mut out = self
            .lines
            .iter()
            .map(Line::text)
            .collect::<Vec<_>>()
            .join("\n");
        if self.trailing_newline && !self.lines.is_empty() {
            out.push('\n');
        }
        out
    }

    /// Writes the file atomically: `path.tmp` in the same directory is written, synced and
    /// renamed over `path`. Failures are [`VzError::ConfigSave`].
    pub fn save(&self, path: &Path) -> Result<(), VzError> {
        let mut tmp_name = path.as_os_str().to_owned();
        tmp_name.push(".tmp");
        let tmp = PathBuf::from(tmp_name);
        let result = write_synced(&tmp, self.render().as_bytes())
            .and_then(|()| std::fs::rename(&tmp, path))
            .and_then(|()| sync_parent(path));
        result.map_err(|source| {
            // Best effort: a leftover temporary file is harmless but untidy.
            let _ = std::fs::remove_file(&tmp);
            VzError::ConfigSave {
                path: path.to_owned(),
                source,
            }
        })
    }
}

/// Replaces `$VEID` and `${VEID}` in `pattern` (VE_ROOT, VE_PRIVATE) with `veid`.
pub fn expand_veid(pattern: &str, veid: u32) -> String {
    let veid = veid.to_string();
    pattern.replace("${VEID}", &veid).replace("$VEID", &veid)
}

/// Whether `name` matches `[A-Za-z_][A-Za-z0-9_]*`.
fn is_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Whether `rest`, the text after a value, is only blanks and an optional shell comment.
fn is_tail_ok(rest: &str) -> bool {
    let trimmed = rest.trim_start_matches([' ', '\t', '\r']);
    trimmed.is_empty() || (trimmed.len() < rest.len() && trimmed.starts_with('#'))
}

/// Parses one line (without its newline); the error is the reason it is malformed.
fn parse_line(raw: &str) -> Result<Line, &'static str> {
    Ok(match parse_assignment(raw)? {
        None => Line::Other(raw.to_owned()),
        Some((key, value)) => Line::Assign {
            key: key.to_owned(),
            value: value.to_owned(),
            text: raw.to_owned(),
        },
    })
}

/// The `(key, value)` a line assigns, borrowed from it; `None` for a comment or blank line.
fn parse_assignment(raw: &str) -> Result<Option<(&str, &str)>, &'static str> {
    let body = raw.trim_start_matches([' ', '\t']);
    if body.trim_end_matches([' ', '\t', '\r']).is_empty() || body.starts_with('#') {
        return Ok(None);
    }
    let (key, rest) = body
        .split_once('=')
        .ok_or("expected NAME=value, a comment or a blank line")?;
    if !is_name(key) {
        return Err("invalid parameter name; expected NAME=value");
    }
    let value = if let Some(quoted) = rest.strip_prefix('"') {
        let (value, tail) = quoted.split_once('"').ok_or("unterminated quote")?;
        if !is_tail_ok(tail) {
            return Err("unexpected text after the closing quote");
        }
        value
    } else {
        let end = rest.find([' ', '\t', '\r']).unwrap_or(rest.len());
        let (value, tail) = rest.split_at(end);
        if value.contains(['"', '\'']) {
            return Err("stray quote in an unquoted value");
        }
        if !is_tail_ok(tail) {
            return Err("unquoted value with spaces; quote it");
        }
        value
    };
    Ok(Some((key, value)))
}

/// The values of `keys` (the last assignment of each, without quotes) in the config file at
/// `path`, read as [`ConfigFile::load`] reads it (the same errors) but without keeping the
/// file: what a pass over every VE's config needs.
pub fn values_of<const N: usize>(
    path: &Path,
    keys: [&str; N],
) -> Result<[Option<String>; N], VzError> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
            return Err(VzError::ConfigNotFound(path.to_owned()))
        }
        Err(source) => {
            return Err(VzError::System {
                what: format!("read {}", path.display()),
                source,
            })
        }
    };
    let mut values: [Option<&str>; N] = [None; N];
    let body = text.strip_suffix('\n').unwrap_or(&text);
    for (index, raw) in body.split('\n').enumerate().filter(|_| !text.is_empty()) {
        let assigned = parse_assignment(raw).map_err(|reason| VzError::ConfigSyntax {
            path: path.to_owned(),
            line: index.saturating_add(1),
            text: raw.to_owned(),
            reason: reason.to_owned(),
        })?;
        if let Some((key, value)) = assigned {
            if let Some(slot) = keys.iter().position(|k| *k == key) {
                values[slot] = Some(value);
            }
        }
    }
    Ok(values.map(|value| value.map(str::to_owned)))
}

/// The CTIDs of the configs in `dir`: files named `<N>.conf`.
pub fn ve_ids(dir: &Path) -> Result<Vec<u32>, VzError> {
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

/// A VE's id and the values of the keys asked for in its config, or why they could not be
/// read.
pub type VeValues<const N: usize> = (u32, Result<[Option<String>; N], VzError>);

/// The configs of every VE but `veid` in `dir`: each VE's id and the values of `keys`.
pub fn other_ve_values<const N: usize>(
    dir: &Path,
    veid: u32,
    keys: [&str; N],
) -> Result<Vec<VeValues<N>>, VzError> {
    Ok(ve_ids(dir)?
        .into_iter()
        .filter(|&other| other != veid)
        .map(|other| (other, values_of(&dir.join(format!("{other}.conf")), keys)))
        .collect())
}

/// Creates or truncates `path` (mode 0644), writes `data` and syncs it to disk.
fn write_synced(path: &Path, data: &[u8]) -> std::io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o644)
        .open(path)?;
    file.write_all(data)?;
    file.sync_all()
}

/// Syncs the directory holding `path`, so a rename into it survives a crash.
fn sync_parent(path: &Path) -> std::io::Result<()> {
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => std::fs::File::open(dir)?.sync_all(),
        _ => std::fs::File::open(".")?.sync_all(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> ConfigFile {
        ConfigFile::parse(text, Path::new("/etc/vz/conf/101.conf")).unwrap()
    }

    fn syntax_error(text: &str) -> (usize, String, String) {
        match ConfigFile::parse(text, Path::new("/etc/vz/conf/101.conf")) {
            Err(VzError::ConfigSyntax {
                path,
                line,
                text,
                reason,
            }) => {
                assert_eq!(path, Path::new("/etc/vz/conf/101.conf"));
                (line, text, reason)
            }
            other => panic!("expected a syntax error, got {other:?}"),
        }
    }

    const SAMPLE: &str = "# Sample config\n\
                          \n\
                          ONBOOT=\"yes\"\n\
                          KMEMSIZE=\"14372700:14790164\"\n\
                          # UBC\n\
                          NUMPROC=240:240\n\
                          VE_ROOT=\"/vz/root/$VEID\"\n\
                          FOO_BAR=\"keep me\"   # trailing comment\n\
                          DESCRIPTION=\"\"\n";

    #[test]
    fn values_of_reads_as_load_does() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("101.conf");
        let text = "# c\nLOCAL_UID=\"100000\"\nIP_ADDRESS=10.0.0.1\nLOCAL_UID=200000 # later\n";
        std::fs::write(&path, text).unwrap();
        let loaded = ConfigFile::load(&path).unwrap();
        let [uid, ip, absent] = values_of(&path, ["LOCAL_UID", "IP_ADDRESS", "LOCAL_GID"]).unwrap();
        assert_eq!(uid.as_deref(), loaded.get("LOCAL_UID"));
        assert_eq!(uid.as_deref(), Some("200000"));
        assert_eq!(ip.as_deref(), Some("10.0.0.1"));
        assert_eq!(absent, None);
        std::fs::write(&path, "A=1\nB=two words\n").unwrap();
        assert!(matches!(
            values_of(&path, ["A"]),
            Err(VzError::ConfigSyntax { line: 2, .. })
        ));
        assert!(matches!(
            values_of(&dir.path().join("102.conf"), ["A"]),
            Err(VzError::ConfigNotFound(_))
        ));
        std::fs::write(dir.path().join("102.conf"), "A=2\n").unwrap();
        std::fs::write(dir.path().join("x.conf"), "A=3\n").unwrap();
        let others = other_ve_values(dir.path(), 101, ["A"]).unwrap();
        assert_eq!(others.len(), 1);
        assert_eq!(others[0].0, 102);
        assert_eq!(others[0].1.as_ref().unwrap()[0].as_deref(), Some("2"));
    }

    #[test]
    fn reads_quoted_unquoted_and_empty_values() {
        let conf = parse(SAMPLE);
        assert_eq!(conf.get("ONBOOT"), Some("yes"));
        assert_eq!(conf.get("NUMPROC"), Some("240:240"));
        assert_eq!(conf.get("VE_ROOT"), Some("/vz/root/$VEID"));
        assert_eq!(conf.get("FOO_BAR"), Some("keep me"));
        assert_eq!(conf.get("DESCRIPTION"), Some(""));
        assert_eq!(conf.get("onboot"), None, "keys are case-sensitive");
        assert_eq!(conf.get("MISSING"), None);
    }

    #[test]
    fn renders_unchanged_text_byte_for_byte() {
        assert_eq!(parse(SAMPLE).render(), SAMPLE);
        let no_newline = "A=1\n# c\nB=\"2\"";
        assert_eq!(parse(no_newline).render(), no_newline);
        let indented = "  A=1\n\t# comment\n   \nB=x\r\n";
        assert_eq!(parse(indented).render(), indented);
        assert_eq!(parse("").render(), "");
    }

    #[test]
    fn last_assignment_wins() {
        let conf = parse("A=1\nB=2\nA=\"3\"\n");
        assert_eq!(conf.get("A"), Some("3"));
        assert_eq!(conf.keys(), vec!["A", "B"]);
    }

    #[test]
    fn set_replaces_the_last_assignment_in_place() {
        let mut conf = parse("# head\nA=1\nB=2\nA=3\n# tail\n");
        conf.set("A", "new value").unwrap();
        assert_eq!(conf.render(), "# head\nA=1\nB=2\nA=\"new value\"\n# tail\n");
        assert_eq!(conf.get("A"), Some("new value"));
    }

    #[test]
    fn set_appends_a_new_key_quoted() {
        let mut conf = parse(SAMPLE);
        conf.set("NUMFILE", "9312:9312").unwrap();
        assert_eq!(conf.render(), format!("{SAMPLE}NUMFILE=\"9312:9312\"\n"));

        let mut unterminated = parse("A=1");
        unterminated.set("B", "2").unwrap();
        assert_eq!(unterminated.render(), "A=1\nB=\"2\"");

        let mut empty = parse("");
        empty.set("HOSTNAME", "ct101").unwrap();
        assert_eq!(empty.render(), "HOSTNAME=\"ct101\"\n");
    }

    #[test]
    fn set_refuses_values_that_break_the_file() {
        let mut conf = parse(SAMPLE);
        for bad in ["a\"b", "a\\b", "a\nb", "`reboot`", "a\rb"] {
            match conf.set("DESCRIPTION", bad) {
                Err(VzError::InvalidValue(msg)) => assert!(msg.contains("DESCRIPTION"), "{msg}"),
                other => panic!("{bad:?}: {other:?}"),
            }
        }
        assert!(matches!(
            conf.set("1BAD", "x"),
            Err(VzError::InvalidValue(_))
        ));
        assert!(matches!(conf.set("", "x"), Err(VzError::InvalidValue(_))));
        assert_eq!(conf.render(), SAMPLE, "refused values change nothing");
    }

    #[test]
    fn set_value_round_trips() {
        let mut conf = parse(SAMPLE);
        conf.set("VE_PRIVATE", "/vz/private/$VEID with 'space'")
            .unwrap();
        let again = parse(&conf.render());
        assert_eq!(
            again.get("VE_PRIVATE"),
            Some("/vz/private/$VEID with 'space'")
        );
        assert_eq!(again, conf);
    }

    #[test]
    fn remove_drops_every_assignment_and_keeps_the_rest() {
        let mut conf = parse("# c\nA=1\nB=2\nA=3\n");
        assert!(conf.remove("A"));
        assert!(!conf.remove("A"));
        assert_eq!(conf.render(), "# c\nB=2\n");
        assert_eq!(conf.get("A"), None);
    }

    #[test]
    fn keys_lists_each_key_once_in_order() {
        assert_eq!(
            parse(SAMPLE).keys(),
            vec![
                "ONBOOT",
                "KMEMSIZE",
                "NUMPROC",
                "VE_ROOT",
                "FOO_BAR",
                "DESCRIPTION"
            ]
        );
    }

    #[test]
    fn malformed_lines_name_line_and_text() {
        let (line, text, reason) = syntax_error("A=1\n# ok\nA=\"x\n");
        assert_eq!((line, text.as_str()), (3, "A=\"x"));
        assert!(reason.contains("unterminated quote"));

        let (line, text, _) = syntax_error("just words\n");
        assert_eq!((line, text.as_str()), (1, "just words"));

        for bad in [
            "1A=x",
            "A-B=x",
            "=x",
            "A =x",
            "A=x y",
            "A=\"x\"y",
            "A=x\"y",
            "export A=x",
        ] {
            let (line, text, _) = syntax_error(&format!("OK=1\n{bad}\n"));
            assert_eq!((line, text.as_str()), (2, bad));
        }
    }

    #[test]
    fn syntax_error_is_exit_21_and_names_the_file() {
        let err = ConfigFile::parse("A=\"x", Path::new("/etc/vz/vz.conf")).unwrap_err();
        assert_eq!(err.exit_code(), 21);
        assert!(err.to_string().starts_with("/etc/vz/vz.conf:1: "), "{err}");
    }

    #[test]
    fn trailing_comments_and_blanks_are_allowed() {
        let conf = parse("A=1 # one\nB=\"2\"\t#two\nC=3   \nD=\"4\"  \n");
        assert_eq!(conf.get("A"), Some("1"));
        assert_eq!(conf.get("B"), Some("2"));
        assert_eq!(conf.get("C"), Some("3"));
        assert_eq!(conf.get("D"), Some("4"));
        assert!(
            ConfigFile::parse("A=1#x\n", Path::new("f")).is_ok_and(|c| c.get("A") == Some("1#x"))
        );
    }

    #[test]
    fn expands_veid_both_spellings() {
        assert_eq!(expand_veid("/vz/root/$VEID", 101), "/vz/root/101");
        assert_eq!(expand_veid("/vz/${VEID}/x/$VEID", 7), "/vz/7/x/7");
        assert_eq!(expand_veid("/vz/root", 7), "/vz/root");
    }

    #[test]
    fn load_and_save_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("101.conf");
        assert!(matches!(
            ConfigFile::load(&path),
            Err(VzError::ConfigNotFound(p)) if p == path
        ));
        std::fs::write(&path, SAMPLE).unwrap();
        let mut conf = ConfigFile::load(&path).unwrap();
        conf.set("NUMPROC", "100:100").unwrap();
        conf.save(&path).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(
            text,
            SAMPLE.replace("NUMPROC=240:240", "NUMPROC=\"100:100\"")
        );
        assert!(!dir.path().join("101.conf.tmp").exists());
        let entries = std::fs::read_dir(dir.path()).unwrap().count();
        assert_eq!(entries, 1, "no temporary file is left behind");
    }

    #[test]
    fn save_into_a_missing_directory_is_exit_139() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("absent").join("101.conf");
        let err = parse(SAMPLE).save(&path).unwrap_err();
        assert_eq!(err.exit_code(), 139);
        assert!(err.to_string().contains("absent/101.conf"), "{err}");
    }
}

//! VE names (`vzctl create --name`, `vzctl set --name`): links in /etc/vz/names to the VEs'
//! configs, as OpenVZ kept them.

use crate::error::VzError;
use crate::params;
use crate::paths::Paths;
use std::fs;
use std::path::Path;

/// A name must not look like a CTID and must be free.
pub(crate) fn check_name(paths: &Paths, name: &str) -> Result<(), VzError> {
    let valid = !name.is_empty()
        && !name.bytes().all(|b| b.is_ascii_digit())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
        && !name.starts_with('.');
    if !valid {
        return Err(VzError::InvalidValue(format!(
            "invalid CT name {name:?}: use letters, digits, '-', '_' and '.', not only digits"
        )));
    }
    if paths.names_dir().join(name).symlink_metadata().is_ok() {
        return Err(VzError::InvalidValue(format!(
            "CT name {name:?} is already in use"
        )));
    }
    Ok(())
}

/// /etc/vz/names/NAME -> the VE's config, as OpenVZ kept names.
pub(crate) fn link_name(paths: &Paths, name: &str, conf_path: &Path) -> Result<(), VzError> {
    let dir = paths.names_dir();
    let link = dir.join(name);
    fs::create_dir_all(&dir)
        .and_then(|()| std::os::unix::fs::symlink(conf_path, &link))
        .map_err(|source| VzError::System {
            what: format!("create {}", link.display()),
            source,
        })
}

/// Removes /etc/vz/names/NAME, ignoring errors (the link may already be gone).
pub(crate) fn unlink_name(paths: &Paths, name: &str) {
    let _ = fs::remove_file(paths.names_dir().join(name));
}

/// The VE a name belongs to: the CTID in the file name of the config its link points to.
pub(crate) fn veid_of(paths: &Paths, name: &str) -> Result<u32, VzError> {
    let link = paths.names_dir().join(name);
    let target = std::fs::read_link(&link)
        .map_err(|_| VzError::InvalidValue(format!("CT name {name:?} is not known")))?;
    target
        .file_stem()
        .and_then(|stem| stem.to_str())
        .and_then(|stem| params::parse_ctid(stem).ok())
        .ok_or_else(|| {
            VzError::InvalidValue(format!("{}: does not point to a CT config", link.display()))
        })
}

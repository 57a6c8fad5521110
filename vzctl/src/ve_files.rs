//! Files the tools write inside a VE's private area (its hostname, its resolv.conf), written
//! so that nothing the VE planted there leads the write out of it.

use crate::error::VzError;
use std::os::fd::AsFd;
use std::path::Path;

/// Replaces `dir/file` inside the private area: resolved inside it (no link the VE may have
/// planted is followed, `..` stops at its top), written as a new file and renamed into place
/// (a hard link to a host file is replaced, never written through). The file is the VE
/// root's (uid 0 on disk: the idmapped mount shows it as the VE's root).
fn write_in_ve(private: &Path, dir: &str, file: &str, text: &str) -> Result<(), VzError> {
    let path = private.join(dir).join(file);
    let fail = |source: std::io::Error| VzError::System {
        what: format!("write {} (links are not followed)", path.display()),
        source,
    };
    let root = std::fs::File::open(private).map_err(fail)?;
    let dir =
        crate::mounts::make_dirs_in_root(root.as_fd(), Path::new(dir), (0, 0)).map_err(fail)?;
    crate::mounts::replace_file(&dir, file, text.as_bytes(), 0o644, (0, 0)).map_err(fail)
}

/// /etc/hostname of the VE.
pub(crate) fn write_hostname_file(private: &Path, hostname: &str) -> Result<(), VzError> {
    write_in_ve(private, "etc", "hostname", &format!("{hostname}\n"))
}

pub(crate) fn write_resolv_conf(private: &Path, servers: &[&str]) -> Result<(), VzError> {
    let text: String = servers
        .iter()
        .map(|s| format!("nameserver {s}\n"))
        .collect();
    write_in_ve(private, "etc", "resolv.conf", &text)
}

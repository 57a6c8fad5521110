//! The VE's root on the host: the private area bind-mounted at VE_ROOT (OpenVZ's "mounted"
//! state), and the closed parents of both.

use crate::error::VzError;
use nix::mount::{mount, umount2, MntFlags, MsFlags};
use std::fs;
use std::path::Path;

/// Bind-mounts the private area at the VE's root (OpenVZ's "mounted" state), private so that
/// nothing propagates between host and VE.
pub fn mount_private(private: &Path, root: &Path) -> Result<(), VzError> {
    fs::create_dir_all(root).map_err(|e| VzError::System {
        what: format!("create {}", root.display()),
        source: e,
    })?;
    close_parent(private)?;
    close_parent(root)?;
    mount(
        Some(private),
        root,
        None::<&str>,
        MsFlags::MS_BIND,
        None::<&str>,
    )
    .map_err(|e| {
        VzError::MountFailed(format!(
            "{} on {}: {}",
            private.display(),
            root.display(),
            e.desc()
        ))
    })?;
    mount(
        None::<&str>,
        root,
        None::<&str>,
        MsFlags::MS_PRIVATE,
        None::<&str>,
    )
    .map_err(|e| VzError::MountFailed(format!("{}: {}", root.display(), e.desc())))
}

/// Makes the directory holding `area` (a private area or a VE's mount point, e.g.
/// `/vz/private`) reachable by the host's root only. A VE's root owns files on disk as uid 0
/// and may make them setuid: a host user who could reach them could run them as the host's
/// root.
pub fn close_parent(area: &Path) -> Result<(), VzError> {
    use std::os::unix::fs::PermissionsExt;
    let Some(parent) = area.parent() else {
        return Ok(());
    };
    let fail = |source| VzError::System {
        what: format!("make {} mode 0700", parent.display()),
        source,
    };
    let mode = fs::metadata(parent).map_err(fail)?.permissions().mode();
    if mode & 0o077 != 0 {
        fs::set_permissions(parent, fs::Permissions::from_mode(mode & 0o7700)).map_err(fail)?;
    }
    Ok(())
}

/// Undoes [`mount_private`].
pub fn umount_private(root: &Path) -> Result<(), VzError> {
    umount2(root, MntFlags::MNT_DETACH)
        .map_err(|e| VzError::UmountFailed(format!("{}: {}", root.display(), e.desc())))
}

//! One VE as the commands see it: its id, its config and paths, and its lifecycle state.

use crate::config::{expand_veid, ConfigFile};
use crate::error::VzError;
use crate::host::{Host, Running};
use crate::params;
use crate::paths::{Global, Paths};
use std::path::PathBuf;

/// A VE's id, config (if it has one) and areas.
#[derive(Clone)]
pub struct Ve {
    pub veid: u32,
    pub conf_path: PathBuf,
    pub conf: Option<ConfigFile>,
    /// VE_PRIVATE: the VE's files.
    pub private: PathBuf,
    /// VE_ROOT: where the private area is mounted while the VE is mounted or running.
    pub root: PathBuf,
    /// Its default checkpoint, `DUMPDIR/Dump.CTID`.
    pub dump: PathBuf,
}

/// Where a VE is in its lifecycle (OpenVZ's `vzctl status` words).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct State {
    pub exists: bool,
    pub mounted: bool,
    pub running: Option<Running>,
    /// Down with a checkpoint to restore (`vzctl chkpnt` made `Dump.CTID`).
    pub suspended: bool,
}

impl State {
    /// `CTID 101 exist mounted running`, as OpenVZ printed it, with a sixth word
    /// `suspended` for a VE that is down with a checkpoint.
    pub fn status_line(&self, veid: u32) -> String {
        format!(
            "CTID {veid} {} {} {}{}",
            if self.exists { "exist" } else { "deleted" },
            if self.mounted { "mounted" } else { "unmounted" },
            if self.running.is_some() {
                "running"
            } else {
                "down"
            },
            if self.suspended { " suspended" } else { "" }
        )
    }
}

/// A CTID argument: a number, or a name given to a VE with --name (a link in
/// /etc/vz/names to the VE's config).
pub fn resolve_ctid(paths: &Paths, text: &str) -> Result<u32, VzError> {
    if text.bytes().all(|b| b.is_ascii_digit()) {
        return params::parse_ctid(text).map_err(VzError::InvalidValue);
    }
    crate::names::veid_of(paths, text)
}

impl Ve {
    /// The VE's config (if present) and areas: VE_PRIVATE and VE_ROOT from its config, else
    /// vz.conf's patterns.
    pub fn load(paths: &Paths, global: &Global, veid: u32) -> Result<Ve, VzError> {
        let conf_path = paths.ve_conf(veid);
        let conf = match ConfigFile::load(&conf_path) {
            Ok(conf) => Some(conf),
            Err(VzError::ConfigNotFound(_)) => None,
            Err(e) => return Err(e),
        };
        let area = |key: &str, default: PathBuf| {
            conf.as_ref()
                .and_then(|c| c.get(key))
                .filter(|v| !v.is_empty())
                .map_or(default, |v| paths.resolve(&expand_veid(v, veid)))
        };
        let private = area("VE_PRIVATE", global.ve_private(veid));
        let root = area("VE_ROOT", global.ve_root(veid));
        Ok(Ve {
            veid,
            conf_path,
            conf,
            private,
            root,
            dump: global.dump(veid),
        })
    }

    /// The VE's config, which every command but create and status needs.
    pub fn conf(&self) -> Result<&ConfigFile, VzError> {
        self.conf
            .as_ref()
            .ok_or_else(|| VzError::ConfigNotFound(self.conf_path.clone()))
    }

    /// A VE exists when it has a config and a private area.
    pub fn exists(&self) -> bool {
        self.conf.is_some() && self.private.is_dir()
    }

    /// Fails unless the VE exists.
    pub fn require_exists(&self) -> Result<(), VzError> {
        self.conf()?;
        if !self.private.is_dir() {
            return Err(VzError::PrivateNotFound {
                veid: self.veid,
                private: self.private.clone(),
            });
        }
        Ok(())
    }

    /// DISKSPACE (KB) and DISKINODES of the config, if either is set (the other is then
    /// unlimited).
    pub fn disk_limits(&self) -> Result<Option<crate::quota::DiskLimits>, VzError> {
        let conf = self.conf()?;
        let get = |key: &str| conf.get(key).filter(|v| !v.is_empty());
        let bad = |key: &str, e: String| {
            VzError::InvalidValue(format!("{}: {key}: {e}", self.conf_path.display()))
        };
        let (space, inodes) = (get("DISKSPACE"), get("DISKINODES"));
        if space.is_none() && inodes.is_none() {
            return Ok(None);
        }
        let (space_soft_kb, space_hard_kb) = space
            .map(params::parse_disk)
            .transpose()
            .map_err(|e| bad("DISKSPACE", e))?
            .unwrap_or((0, 0));
        let (inodes_soft, inodes_hard) = inodes
            .map(params::parse_inodes)
            .transpose()
            .map_err(|e| bad("DISKINODES", e))?
            .unwrap_or((0, 0));
        Ok(Some(crate::quota::DiskLimits {
            space_soft_kb,
            space_hard_kb,
            inodes_soft,
            inodes_hard,
        }))
    }

    /// Applies the config's disk limits when vz.conf enforces them (`assign`: first put the
    /// private area's files in the VE's project, as after create).
    pub fn apply_disk_limits(
        &self,
        host: &dyn Host,
        global: &Global,
        assign: bool,
    ) -> Result<(), VzError> {
        match self.disk_limits()? {
            Some(limits) if global.disk_quota => {
                host.disk_quota(self.veid, &self.private, &limits, assign)
            }
            _ => Ok(()),
        }
    }

    pub fn state(&self, host: &dyn Host) -> Result<State, VzError> {
        let running = host.running(self.veid)?;
        Ok(State {
            exists: self.exists(),
            mounted: host.is_mounted(&self.root)?,
            running,
            suspended: running.is_none() && self.has_dump(),
        })
    }

    /// Whether the VE's default checkpoint exists.
    pub fn has_dump(&self) -> bool {
        self.dump.exists()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_lines_use_openvz_words() {
        let stopped = State {
            exists: true,
            mounted: false,
            running: None,
            suspended: false,
        };
        assert_eq!(stopped.status_line(101), "CTID 101 exist unmounted down");
        let suspended = State {
            suspended: true,
            ..stopped
        };
        assert_eq!(
            suspended.status_line(101),
            "CTID 101 exist unmounted down suspended"
        );
        let running = State {
            exists: true,
            mounted: true,
            running: Some(Running {
                init_pid: 5,
                nproc: 1,
            }),
            suspended: false,
        };
        assert_eq!(running.status_line(7), "CTID 7 exist mounted running");
        let gone = State {
            exists: false,
            mounted: false,
            running: None,
            suspended: false,
        };
        assert_eq!(gone.status_line(9), "CTID 9 deleted unmounted down");
    }
}

//! The host uids and gids of a VE's user namespace (OpenVZ's `LOCAL_UID` / `LOCAL_GID`).
//!
//! VE uid and gid 0..65535 map to `LOCAL_UID..LOCAL_UID+65535` (and the same for gids) on the
//! host. vz.conf's `LOCAL_UID` and `LOCAL_GID` (default 100000) are the base of a pool: a VE
//! created without `--local_uid` / `--local_gid` gets the lowest free 65536-block at or above
//! it, so that no two VEs share a host id (in OpenVZ every VE had the same base). A range that
//! overlaps another VE's is refused, and so is 0: a VE is never the host's root.

use crate::config::ConfigFile;
use crate::error::VzError;
use crate::paths::Paths;

/// Ids a VE's user namespace maps: 0..IDS_PER_VE.
pub const IDS_PER_VE: u32 = 65536;

/// The pool base when vz.conf sets none (OpenVZ's default).
pub const DEFAULT_BASE: u32 = 100_000;

/// The first host uid and gid of a VE's range.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IdMap {
    pub uid: u32,
    pub gid: u32,
}

impl IdMap {
    /// The config's `LOCAL_UID` and `LOCAL_GID`, if both are set.
    pub fn from_conf(conf: &ConfigFile) -> Result<Option<IdMap>, String> {
        Self::from_values(conf.get("LOCAL_UID"), conf.get("LOCAL_GID"))
    }

    /// The range of a config's `LOCAL_UID` and `LOCAL_GID` values, if both are set.
    pub fn from_values(uid: Option<&str>, gid: Option<&str>) -> Result<Option<IdMap>, String> {
        fn set(value: Option<&str>) -> Option<&str> {
            value.filter(|v| !v.is_empty())
        }
        match (set(uid), set(gid)) {
            (Some(uid), Some(gid)) => Ok(Some(IdMap {
                uid: parse_base("LOCAL_UID", uid)?,
                gid: parse_base("LOCAL_GID", gid)?,
            })),
            (None, None) => Ok(None),
            _ => Err("LOCAL_UID and LOCAL_GID must be set together".into()),
        }
    }

    /// Writes the range into `conf`.
    pub fn store(&self, conf: &mut ConfigFile) -> Result<(), VzError> {
        conf.set("LOCAL_UID", &self.uid.to_string())?;
        conf.set("LOCAL_GID", &self.gid.to_string())
    }

    /// The `uid_map` / `gid_map` line of the user namespace.
    pub fn uid_map(&self) -> String {
        format!("0 {} {IDS_PER_VE}\n", self.uid)
    }

    pub fn gid_map(&self) -> String {
        format!("0 {} {IDS_PER_VE}\n", self.gid)
    }
}

/// A `LOCAL_UID` / `LOCAL_GID` value: a host id whose 65536-id range fits in 32 bits, not 0.
pub fn parse_base(key: &str, text: &str) -> Result<u32, String> {
    let base: u32 = text
        .parse()
        .map_err(|_| format!("invalid value {text:?} for {key}: expected a host id"))?;
    if base == 0 {
        return Err(format!(
            "{key}=0 would make the VE's root the host's root; VEs always run in their own \
             user namespace"
        ));
    }
    // The range must end below 2^32 - 1 (the kernel's invalid id).
    if base
        .checked_add(IDS_PER_VE)
        .is_none_or(|end| end == u32::MAX)
    {
        return Err(format!(
            "{key}={base}: the VE's {IDS_PER_VE} ids would pass the largest host id"
        ));
    }
    Ok(base)
}

/// The ranges of every VE config but `veid`'s: (veid, map).
fn other_maps(paths: &Paths, veid: u32) -> Result<Vec<(u32, IdMap)>, VzError> {
    let path = |other: u32| paths.ve_conf(other).display().to_string();
    let mut maps = Vec::new();
    for (other, values) in
        crate::config::other_ve_values(&paths.conf_dir(), veid, ["LOCAL_UID", "LOCAL_GID"])?
    {
        let [uid, gid] = values?;
        if let Some(map) = IdMap::from_values(uid.as_deref(), gid.as_deref())
            .map_err(|e| VzError::InvalidValue(format!("{}: {e}", path(other))))?
        {
            maps.push((other, map));
        }
    }
    Ok(maps)
}

fn overlaps(a: u32, b: u32) -> bool {
    let (a, b) = (u64::from(a), u64::from(b));
    let n = u64::from(IDS_PER_VE);
    a < b + n && b < a + n
}

/// Refuses `map` for `veid` when it shares a host uid or gid with another VE's range.
pub fn check_free(paths: &Paths, veid: u32, map: &IdMap) -> Result<(), VzError> {
    for (other, theirs) in other_maps(paths, veid)? {
        if overlaps(map.uid, theirs.uid) || overlaps(map.gid, theirs.gid) {
            return Err(VzError::InvalidValue(format!(
                "CT {veid}: LOCAL_UID={} LOCAL_GID={} overlaps CT {other}'s range \
                 (LOCAL_UID={} LOCAL_GID={}, {IDS_PER_VE} ids each)",
                map.uid, map.gid, theirs.uid, theirs.gid
            )));
        }
    }
    Ok(())
}

/// The range for `veid`: `wanted` (each part optional) checked against the other VEs, the
/// missing parts the lowest free block at or above `base`.
pub fn allocate(
    paths: &Paths,
    veid: u32,
    base: IdMap,
    wanted: (Option<u32>, Option<u32>),
) -> Result<IdMap, VzError> {
    let taken = other_maps(paths, veid)?;
    let lowest_free = |start: u32, used: &dyn Fn(&IdMap) -> u32| -> Result<u32, VzError> {
        let mut candidate = start;
        loop {
            parse_base("LOCAL_UID", &candidate.to_string()).map_err(|_| {
                VzError::InvalidValue(format!(
                    "CT {veid}: no free range of {IDS_PER_VE} host ids is left above {start}"
                ))
            })?;
            match taken
                .iter()
                .map(|(_, m)| used(m))
                .filter(|&other| overlaps(candidate, other))
                .max()
            {
                None => return Ok(candidate),
                Some(other) => {
                    candidate = other.checked_add(IDS_PER_VE).ok_or_else(|| {
                        VzError::InvalidValue(format!(
                            "CT {veid}: no free range of {IDS_PER_VE} host ids is left"
                        ))
                    })?
                }
            }
        }
    };
    let map = IdMap {
        uid: match wanted.0 {
            Some(uid) => uid,
            None => lowest_free(base.uid, &|m| m.uid)?,
        },
        gid: match wanted.1 {
            Some(gid) => gid,
            None => lowest_free(base.gid, &|m| m.gid)?,
        },
    };
    check_free(paths, veid, &map)?;
    Ok(map)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::commands::create::tests::scratch;

    fn write_conf(paths: &Paths, veid: u32, uid: u32, gid: u32) {
        std::fs::create_dir_all(paths.conf_dir()).unwrap();
        std::fs::write(
            paths.ve_conf(veid),
            format!("LOCAL_UID=\"{uid}\"\nLOCAL_GID=\"{gid}\"\n"),
        )
        .unwrap();
    }

    const BASE: IdMap = IdMap {
        uid: DEFAULT_BASE,
        gid: DEFAULT_BASE,
    };

    #[test]
    fn ranges_are_allocated_without_overlap() {
        let paths = scratch();
        let first = allocate(&paths, 101, BASE, (None, None)).unwrap();
        assert_eq!(first, BASE);
        write_conf(&paths, 101, first.uid, first.gid);
        let second = allocate(&paths, 102, BASE, (None, None)).unwrap();
        assert_eq!(second.uid, DEFAULT_BASE + IDS_PER_VE);
        write_conf(&paths, 102, second.uid, second.gid);
        // A hole left by a destroyed VE is reused.
        std::fs::remove_file(paths.ve_conf(101)).unwrap();
        assert_eq!(allocate(&paths, 103, BASE, (None, None)).unwrap(), BASE);
        // Its own config does not count against a VE.
        assert_eq!(
            allocate(&paths, 102, BASE, (None, None)).unwrap(),
            BASE,
            "102's own range is free for 102"
        );
    }

    #[test]
    fn overlapping_or_zero_ranges_are_refused() {
        let paths = scratch();
        write_conf(&paths, 101, 200_000, 200_000);
        let err = allocate(&paths, 102, BASE, (Some(230_000), None)).unwrap_err();
        assert_eq!(err.exit_code(), 21);
        assert!(err.to_string().contains("overlaps CT 101"), "{err}");
        let err = allocate(&paths, 102, BASE, (None, Some(265_535))).unwrap_err();
        assert!(err.to_string().contains("overlaps CT 101"), "{err}");
        assert!(allocate(&paths, 102, BASE, (Some(265_536), Some(265_536))).is_ok());
        assert!(parse_base("LOCAL_UID", "0")
            .unwrap_err()
            .contains("host's root"));
        assert!(parse_base("LOCAL_UID", "4294950000").is_err());
        assert!(parse_base("LOCAL_UID", "-1").is_err());
        // Allocation steps over a taken block.
        let got = allocate(
            &paths,
            102,
            IdMap {
                uid: 150_000,
                gid: 150_000,
            },
            (None, None),
        );
        assert_eq!(got.unwrap().uid, 265_536);
    }

    #[test]
    fn map_lines() {
        let map = IdMap {
            uid: 100_000,
            gid: 200_000,
        };
        assert_eq!(map.uid_map(), "0 100000 65536\n");
        assert_eq!(map.gid_map(), "0 200000 65536\n");
    }
}

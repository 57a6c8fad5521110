//! Host paths: every path the tools touch derives from one root, so tests run against
//! temporary trees; and the global settings read from `/etc/vz/vz.conf`.

use crate::config::{expand_veid, ConfigFile};
use crate::error::VzError;
use std::path::{Path, PathBuf};

/// The host's file system layout, rooted at `root` (`/` on a real host).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Paths {
    root: PathBuf,
}

impl Default for Paths {
    fn default() -> Self {
        Paths::new("/")
    }
}

impl Paths {
    /// A layout rooted at `root`.
    pub fn new(root: impl Into<PathBuf>) -> Paths {
        Paths { root: root.into() }
    }

    /// The root every other path is under.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// `/etc/vz`.
    pub fn etc_vz(&self) -> PathBuf {
        self.root.join("etc/vz")
    }

    /// `/etc/vz/vz.conf`, the global configuration.
    pub fn vz_conf(&self) -> PathBuf {
        self.etc_vz().join("vz.conf")
    }

    /// `/etc/vz/conf`, the VE configurations and samples.
    pub fn conf_dir(&self) -> PathBuf {
        self.etc_vz().join("conf")
    }

    /// `/etc/vz/conf/<veid>.conf`.
    pub fn ve_conf(&self, veid: u32) -> PathBuf {
        self.conf_dir().join(format!("{veid}.conf"))
    }

    /// `/etc/vz/conf/ve-<name>.conf-sample`.
    pub fn sample(&self, name: &str) -> PathBuf {
        self.conf_dir().join(format!("ve-{name}.conf-sample"))
    }

    /// `/etc/vz/names`, the links from VE names to configurations.
    pub fn names_dir(&self) -> PathBuf {
        self.etc_vz().join("names")
    }

    /// `/sys/fs/cgroup`.
    pub fn cgroup_root(&self) -> PathBuf {
        self.root.join("sys/fs/cgroup")
    }

    /// `/proc`.
    pub fn proc(&self) -> PathBuf {
        self.root.join("proc")
    }

    /// Places `path`, an absolute host path from a configuration value, under the root.
    pub fn resolve(&self, path: &str) -> PathBuf {
        self.root.join(path.trim_start_matches('/'))
    }
}

/// The settings of `/etc/vz/vz.conf` the tools use, with OpenVZ's defaults.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Global {
    paths: Paths,
    /// `LOCKDIR`, resolved under the root (default `/vz/lock`).
    pub lockdir: PathBuf,
    /// `TEMPLATE`, resolved under the root (default `/vz/template`).
    pub template: PathBuf,
    /// `DUMPDIR`, resolved under the root (default `/vz/dump`): checkpoints, `Dump.CTID`.
    pub dumpdir: PathBuf,
    /// `VE_ROOT` as written, with `$VEID` unexpanded (default `/vz/root/$VEID`).
    pub ve_root_pattern: String,
    /// `VE_PRIVATE` as written, with `$VEID` unexpanded (default `/vz/private/$VEID`).
    pub ve_private_pattern: String,
    /// `CONFIGFILE`, the sample `vzctl create` uses by default (default `basic`).
    pub configfile: String,
    /// `DEF_OSTEMPLATE`, the OS template `vzctl create` uses by default.
    pub def_ostemplate: Option<String>,
    /// `STOP_TIMEOUT` in seconds (default 120).
    pub stop_timeout: u32,
    /// `DISK_QUOTA`: whether DISKSPACE and DISKINODES are enforced (default yes).
    pub disk_quota: bool,
    /// `LOCAL_UID` / `LOCAL_GID`: where new VEs' host id ranges are looked for (default
    /// 100000 each).
    pub id_base: crate::idmap::IdMap,
}

impl Global {
    /// Reads `vz.conf` under `paths`. A missing file is [`VzError::VzConfNotFound`]; unset or
    /// empty keys take their defaults.
    pub fn load(paths: &Paths) -> Result<Global, VzError> {
        let path = paths.vz_conf();
        let conf = ConfigFile::load(&path).map_err(|err| match err {
            VzError::ConfigNotFound(path) => VzError::VzConfNotFound(path),
            other => other,
        })?;
        let value = |key: &str| conf.get(key).filter(|v| !v.is_empty());
        let stop_timeout = match value("STOP_TIMEOUT") {
            None => DEFAULT_STOP_TIMEOUT,
            Some(text) => text.parse().map_err(|_| {
                VzError::InvalidValue(format!(
                    "{}: invalid value {text:?} for STOP_TIMEOUT: expected seconds",
                    path.display()
                ))
            })?,
        };
        let id_base = |key: &str| {
            value(key).map_or(Ok(crate::idmap::DEFAULT_BASE), |text| {
                crate::idmap::parse_base(key, text)
                    .map_err(|e| VzError::InvalidValue(format!("{}: {e}", path.display())))
            })
        };
        let id_base = crate::idmap::IdMap {
            uid: id_base("LOCAL_UID")?,
            gid: id_base("LOCAL_GID")?,
        };
        Ok(Global {
            paths: paths.clone(),
            lockdir: paths.resolve(value("LOCKDIR").unwrap_or("/vz/lock")),
            template: paths.resolve(value("TEMPLATE").unwrap_or("/vz/template")),
            dumpdir: paths.resolve(value("DUMPDIR").unwrap_or("/vz/dump")),
            ve_root_pattern: value("VE_ROOT").unwrap_or("/vz/root/$VEID").to_owned(),
            ve_private_pattern: value("VE_PRIVATE")
                .unwrap_or("/vz/private/$VEID")
                .to_owned(),
            configfile: value("CONFIGFILE").unwrap_or("basic").to_owned(),
            def_ostemplate: value("DEF_OSTEMPLATE").map(str::to_owned),
            stop_timeout,
            disk_quota: value("DISK_QUOTA") != Some("no"),
            id_base,
        })
    }

    /// The default VE_ROOT (mount point) of `veid`, under the root.
    pub fn ve_root(&self, veid: u32) -> PathBuf {
        self.paths
            .resolve(&expand_veid(&self.ve_root_pattern, veid))
    }

    /// The default VE_PRIVATE (private area) of `veid`, under the root.
    pub fn ve_private(&self, veid: u32) -> PathBuf {
        self.paths
            .resolve(&expand_veid(&self.ve_private_pattern, veid))
    }

    /// `DUMPDIR/Dump.<veid>`, where `vzctl chkpnt` leaves a VE's checkpoint by default.
    pub fn dump(&self, veid: u32) -> PathBuf {
        self.dumpdir.join(format!("Dump.{veid}"))
    }

    /// `TEMPLATE/cache`, where the OS template tarballs are.
    pub fn template_cache(&self) -> PathBuf {
        self.template.join("cache")
    }
}

/// vzctl's stop timeout when `STOP_TIMEOUT` is unset, in seconds.
pub const DEFAULT_STOP_TIMEOUT: u32 = 120;

#[cfg(test)]
mod tests {
    use super::*;

    /// A temporary root, removed when dropped.
    struct TempRoot(tempfile::TempDir);

    impl TempRoot {
        fn new(vz_conf: Option<&str>) -> TempRoot {
            let dir = tempfile::tempdir().unwrap();
            std::fs::create_dir_all(dir.path().join("etc/vz")).unwrap();
            if let Some(text) = vz_conf {
                std::fs::write(dir.path().join("etc/vz/vz.conf"), text).unwrap();
            }
            TempRoot(dir)
        }

        fn paths(&self) -> Paths {
            Paths::new(self.0.path())
        }
    }

    #[test]
    fn host_layout() {
        let paths = Paths::default();
        assert_eq!(paths.root(), Path::new("/"));
        assert_eq!(paths.etc_vz(), Path::new("/etc/vz"));
        assert_eq!(paths.vz_conf(), Path::new("/etc/vz/vz.conf"));
        assert_eq!(paths.conf_dir(), Path::new("/etc/vz/conf"));
        assert_eq!(paths.ve_conf(101), Path::new("/etc/vz/conf/101.conf"));
        assert_eq!(
            paths.sample("basic"),
            Path::new("/etc/vz/conf/ve-basic.conf-sample")
        );
        assert_eq!(paths.names_dir(), Path::new("/etc/vz/names"));
        assert_eq!(paths.cgroup_root(), Path::new("/sys/fs/cgroup"));
        assert_eq!(paths.proc(), Path::new("/proc"));
        assert_eq!(paths.resolve("/vz/root/101"), Path::new("/vz/root/101"));
    }

    #[test]
    fn everything_moves_with_the_root() {
        let paths = Paths::new("/tmp/t");
        assert_eq!(paths.ve_conf(7), Path::new("/tmp/t/etc/vz/conf/7.conf"));
        assert_eq!(paths.proc(), Path::new("/tmp/t/proc"));
        assert_eq!(paths.cgroup_root(), Path::new("/tmp/t/sys/fs/cgroup"));
        assert_eq!(paths.resolve("/vz/lock"), Path::new("/tmp/t/vz/lock"));
        assert_eq!(paths.resolve("//vz"), Path::new("/tmp/t/vz"));
    }

    #[test]
    fn defaults_for_unset_keys() {
        let root = TempRoot::new(Some("# empty\nVIRTUOZZO=yes\nLOCKDIR=\"\"\n"));
        let global = Global::load(&root.paths()).unwrap();
        assert_eq!(global.lockdir, root.0.path().join("vz/lock"));
        assert_eq!(global.template, root.0.path().join("vz/template"));
        assert_eq!(
            global.template_cache(),
            root.0.path().join("vz/template/cache")
        );
        assert_eq!(global.ve_root(101), root.0.path().join("vz/root/101"));
        assert_eq!(global.ve_private(101), root.0.path().join("vz/private/101"));
        assert_eq!(global.configfile, "basic");
        assert_eq!(global.def_ostemplate, None);
        assert_eq!(global.stop_timeout, 120);
    }

    #[test]
    fn values_from_vz_conf() {
        let root = TempRoot::new(Some(
            "LOCKDIR=/var/lock/vz\nTEMPLATE=/srv/tmpl\nVE_ROOT=/ct/${VEID}/root\n\
                 VE_PRIVATE=\"/ct/$VEID/private\"\nCONFIGFILE=\"vswap-256m\"\n\
                 DEF_OSTEMPLATE=\"debian-12-x86_64\"\nSTOP_TIMEOUT=30\n",
        ));
        let global = Global::load(&root.paths()).unwrap();
        assert_eq!(global.lockdir, root.0.path().join("var/lock/vz"));
        assert_eq!(
            global.template_cache(),
            root.0.path().join("srv/tmpl/cache")
        );
        assert_eq!(global.ve_root(5), root.0.path().join("ct/5/root"));
        assert_eq!(global.ve_private(5), root.0.path().join("ct/5/private"));
        assert_eq!(global.ve_root_pattern, "/ct/${VEID}/root");
        assert_eq!(global.configfile, "vswap-256m");
        assert_eq!(global.def_ostemplate.as_deref(), Some("debian-12-x86_64"));
        assert_eq!(global.stop_timeout, 30);
    }

    #[test]
    fn missing_vz_conf_is_exit_10() {
        let root = TempRoot::new(None);
        let err = Global::load(&root.paths()).unwrap_err();
        assert!(
            matches!(&err, VzError::VzConfNotFound(p) if *p == root.0.path().join("etc/vz/vz.conf"))
        );
        assert_eq!(err.exit_code(), 10);
    }

    #[test]
    fn bad_stop_timeout_names_file_and_key() {
        let root = TempRoot::new(Some("STOP_TIMEOUT=soon\n"));
        let err = Global::load(&root.paths()).unwrap_err();
        assert_eq!(err.exit_code(), 21);
        let msg = err.to_string();
        assert!(
            msg.contains("vz.conf") && msg.contains("STOP_TIMEOUT"),
            "{msg}"
        );
        assert!(msg.contains("\"soon\""), "{msg}");
    }

    #[test]
    fn syntax_errors_in_vz_conf_propagate() {
        let root = TempRoot::new(Some("A=1\nLOCKDIR=\"/vz/lock\n"));
        let err = Global::load(&root.paths()).unwrap_err();
        assert!(
            matches!(err, VzError::ConfigSyntax { line: 2, .. }),
            "{err}"
        );
    }
}

//! vzctl create: a new VE's private area from an OS template and its config from a sample.
//! The private area is unpacked next to its final place and renamed into it, and the config
//! is written last, so an interrupted or failed create leaves no half-made VE (a directory
//! left by a killed create is removed by the next one). `plan` checks every value and builds
//! the config before `make` makes anything.

use super::Ctx;
use crate::cli::CreateArgs;
use crate::config::{expand_veid, ConfigFile};
use crate::error::VzError;
use crate::params;
use crate::ve::Ve;
use std::fs;
use std::path::{Path, PathBuf};

/// What `vzctl create` makes, every value checked: built by [`plan`] before anything is made.
pub(crate) struct CreatePlan {
    /// The new VE: its areas and its complete config.
    pub ve: Ve,
    /// The OS template's name and its tarball.
    pub template_name: String,
    pub tarball: PathBuf,
    /// --hostname, written into the VE's /etc/hostname.
    pub hostname: Option<String>,
    /// --name, linked once the VE is made.
    pub name: Option<String>,
}

pub fn run(ctx: &Ctx, args: &CreateArgs) -> Result<(), VzError> {
    let veid = params::parse_ctid(&args.ctid).map_err(VzError::InvalidValue)?;
    let _lock = ctx.lock(veid, "creating")?;
    let plan = plan(ctx, veid, args)?;
    make(ctx, &plan)
}

/// Checks everything `args` asks for VE `veid` and builds its config; makes nothing.
pub(crate) fn plan(ctx: &Ctx, veid: u32, args: &CreateArgs) -> Result<CreatePlan, VzError> {
    let (mut ve, private_pattern, root_pattern) = new_areas(ctx, veid, args)?;
    // Everything given is checked before anything is made.
    let hostname = args
        .hostname
        .as_deref()
        .map(params::parse_hostname)
        .transpose()
        .map_err(VzError::InvalidValue)?;
    if let Some(name) = &args.name {
        crate::names::check_name(ctx.paths, name)?;
    }
    let addresses =
        crate::net::parse_addresses(&args.ipadd.join(" ")).map_err(|reason| VzError::BadIp {
            veid,
            value: args.ipadd.join(" "),
            reason,
        })?;
    crate::net::check_addresses_free(ctx.paths, veid, &addresses)?;
    let ids = host_ids(ctx, veid, args)?;
    let template_name = args
        .ostemplate
        .clone()
        .or_else(|| ctx.global.def_ostemplate.clone())
        .ok_or(VzError::TemplateNotSpecified(veid))?;
    let tarball = find_template(&ctx.global.template_cache(), &template_name)?;
    let (sample_name, mut conf) = sample(ctx, args)?;
    for (key, value) in [
        ("OSTEMPLATE", template_name.as_str()),
        ("ORIGIN_SAMPLE", sample_name.as_str()),
        ("VE_ROOT", root_pattern.as_str()),
        ("VE_PRIVATE", private_pattern.as_str()),
    ] {
        conf.set(key, value)?;
    }
    if let Some(hostname) = &hostname {
        conf.set("HOSTNAME", hostname)?;
    }
    if let Some(name) = &args.name {
        conf.set("NAME", name)?;
    }
    if !addresses.is_empty() {
        conf.set("IP_ADDRESS", &crate::net::join_addresses(&addresses))?;
    }
    ids.store(&mut conf)?;
    ve.conf = Some(conf);
    Ok(CreatePlan {
        ve,
        template_name,
        tarball,
        hostname,
        name: args.name.clone(),
    })
}

/// The new VE with its private area and root (from --private and --root, or vz.conf's
/// patterns), and the two patterns; neither its config nor its private area may exist.
fn new_areas(ctx: &Ctx, veid: u32, args: &CreateArgs) -> Result<(Ve, String, String), VzError> {
    let mut ve = Ve::load(ctx.paths, ctx.global, veid)?;
    if ve.conf.is_some() {
        return Err(VzError::AlreadyExists {
            veid,
            what: ve.conf_path,
        });
    }
    let private_pattern = args
        .private
        .clone()
        .unwrap_or_else(|| ctx.global.ve_private_pattern.clone());
    let root_pattern = args
        .root
        .clone()
        .unwrap_or_else(|| ctx.global.ve_root_pattern.clone());
    ve.private = ctx.paths.resolve(&expand_veid(&private_pattern, veid));
    ve.root = ctx.paths.resolve(&expand_veid(&root_pattern, veid));
    if ve.private.exists() {
        return Err(VzError::AlreadyExists {
            veid,
            what: ve.private,
        });
    }
    Ok((ve, private_pattern, root_pattern))
}

/// The VE's host id range: --local_uid and --local_gid checked against the other VEs, the
/// lowest free range for what is not given.
fn host_ids(ctx: &Ctx, veid: u32, args: &CreateArgs) -> Result<crate::idmap::IdMap, VzError> {
    let local_id = |key: &str, text: &Option<String>| {
        text.as_deref()
            .map(|t| crate::idmap::parse_base(key, t))
            .transpose()
            .map_err(VzError::InvalidValue)
    };
    // One of the two given: the other is the same number.
    let (uid, gid) = (
        local_id("--local_uid", &args.local_uid)?,
        local_id("--local_gid", &args.local_gid)?,
    );
    let wanted = (uid.or(gid), gid.or(uid));
    crate::idmap::allocate(ctx.paths, veid, ctx.global.id_base, wanted)
}

/// The sample config (--config, or vz.conf's CONFIGFILE): its name and its contents.
fn sample(ctx: &Ctx, args: &CreateArgs) -> Result<(String, ConfigFile), VzError> {
    let sample_name = args
        .config
        .clone()
        .unwrap_or_else(|| ctx.global.configfile.clone());
    let sample_path = ctx.paths.sample(&sample_name);
    match ConfigFile::load(&sample_path) {
        Err(VzError::ConfigNotFound(path)) => Err(VzError::SampleNotFound(path)),
        other => Ok((sample_name, other?)),
    }
}

/// Makes the planned VE: its private area, then its config; on a failure after the unpack,
/// both are removed again.
fn make(ctx: &Ctx, plan: &CreatePlan) -> Result<(), VzError> {
    let ve = &plan.ve;
    ctx.say(&format!(
        "Creating container private area ({})",
        plan.template_name
    ));
    unpack_private(ctx, &plan.tarball, &ve.private)?;
    let finished = ve
        .conf()
        .and_then(|conf| {
            finish(
                ctx,
                &ve.private,
                &ve.conf_path,
                conf,
                plan.hostname.as_deref(),
            )
        })
        .and_then(|()| ve.apply_disk_limits(ctx.host, ctx.global, true));
    if let Err(err) = finished {
        let _ = fs::remove_dir_all(&ve.private);
        let _ = fs::remove_file(&ve.conf_path);
        return Err(err);
    }
    if let Some(name) = &plan.name {
        crate::names::link_name(ctx.paths, name, &ve.conf_path)?;
    }
    ctx.say("Container private area was created");
    Ok(())
}

/// `NAME.tar.gz` or `NAME.tar.xz` in the template cache.
fn find_template(cache: &Path, name: &str) -> Result<PathBuf, VzError> {
    let not_found = || VzError::TemplateNotFound {
        name: name.to_owned(),
        cache: cache.to_owned(),
    };
    if name.is_empty() || name.contains('/') || name.starts_with('.') {
        return Err(not_found());
    }
    ["tar.gz", "tar.xz"]
        .iter()
        .map(|ext| cache.join(format!("{name}.{ext}")))
        .find(|path| path.is_file())
        .ok_or_else(not_found)
}

/// Unpacks into `PRIVATE.partial`, then renames it to `private`.
fn unpack_private(ctx: &Ctx, tarball: &Path, private: &Path) -> Result<(), VzError> {
    let mut partial = private.as_os_str().to_owned();
    partial.push(".partial");
    let partial = PathBuf::from(partial);
    let io = |what: String| move |source| VzError::System { what, source };
    if partial.exists() {
        fs::remove_dir_all(&partial).map_err(io(format!("remove {}", partial.display())))?;
    }
    if let Some(parent) = partial.parent() {
        fs::create_dir_all(parent).map_err(io(format!("create {}", parent.display())))?;
    }
    crate::runtime::close_parent(private)?;
    fs::create_dir(&partial).map_err(io(format!("create {}", partial.display())))?;
    let unpacked = ctx.host.unpack(tarball, &partial).and_then(|()| {
        fs::rename(&partial, private).map_err(io(format!(
            "rename {} to {}",
            partial.display(),
            private.display()
        )))
    });
    if unpacked.is_err() {
        let _ = fs::remove_dir_all(&partial);
    }
    unpacked
}

/// Writes the hostname into the VE and its config next to the others.
fn finish(
    ctx: &Ctx,
    private: &Path,
    conf_path: &Path,
    conf: &ConfigFile,
    hostname: Option<&str>,
) -> Result<(), VzError> {
    if let Some(hostname) = hostname {
        crate::ve_files::write_hostname_file(private, hostname)?;
    }
    let dir = ctx.paths.conf_dir();
    fs::create_dir_all(&dir).map_err(|source| VzError::System {
        what: format!("create {}", dir.display()),
        source,
    })?;
    conf.save(conf_path)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::host::fake::FakeHost;
    use crate::paths::{Global, Paths};

    /// A scratch host root with vz.conf, a sample and a template, removed when dropped
    /// (also when a test fails). It derefs to its `Paths`.
    pub(crate) struct Scratch {
        paths: Paths,
        _root: tempfile::TempDir,
    }

    impl std::ops::Deref for Scratch {
        type Target = Paths;

        fn deref(&self) -> &Paths {
            &self.paths
        }
    }

    pub(crate) fn scratch() -> Scratch {
        let root = tempfile::tempdir().unwrap();
        let paths = Paths::new(root.path());
        fs::create_dir_all(paths.conf_dir()).unwrap();
        fs::write(
            paths.vz_conf(),
            "LOCKDIR=/vz/lock\nTEMPLATE=/vz/template\nVE_ROOT=/vz/root/$VEID\n\
             VE_PRIVATE=/vz/private/$VEID\nCONFIGFILE=\"basic\"\nDEF_OSTEMPLATE=\"tiny\"\n",
        )
        .unwrap();
        fs::write(
            paths.sample("basic"),
            "# sample\nNUMPROC=\"240:240\"\nCUSTOM_KEY=\"kept\"\n",
        )
        .unwrap();
        let cache = paths.resolve("/vz/template/cache");
        fs::create_dir_all(&cache).unwrap();
        fs::write(cache.join("tiny.tar.gz"), "").unwrap();
        Scratch { paths, _root: root }
    }

    fn args(ctid: &str) -> CreateArgs {
        CreateArgs {
            ctid: ctid.into(),
            ostemplate: None,
            config: None,
            private: None,
            root: None,
            ipadd: Vec::new(),
            local_uid: None,
            local_gid: None,
            hostname: Some("ct.example.com".into()),
            name: Some("web".into()),
        }
    }

    #[test]
    fn create_writes_private_area_config_and_name() {
        let paths = scratch();
        let global = Global::load(&paths).unwrap();
        let host = FakeHost::default();
        let ctx = crate::commands::fake::ctx(&paths, &global, &host);
        run(&ctx, &args("101")).unwrap();
        assert!(paths.resolve("/vz/private/101/sbin/init").exists());
        let conf = ConfigFile::load(&paths.ve_conf(101)).unwrap();
        assert_eq!(conf.get("OSTEMPLATE"), Some("tiny"));
        assert_eq!(conf.get("HOSTNAME"), Some("ct.example.com"));
        assert_eq!(conf.get("CUSTOM_KEY"), Some("kept"));
        assert_eq!(conf.get("VE_PRIVATE"), Some("/vz/private/$VEID"));
        assert_eq!(conf.get("LOCAL_UID"), Some("100000"));
        assert_eq!(conf.get("LOCAL_GID"), Some("100000"));
        let mut second = args("102");
        second.name = None;
        run(&ctx, &second).unwrap();
        let conf = ConfigFile::load(&paths.ve_conf(102)).unwrap();
        assert_eq!(conf.get("LOCAL_UID"), Some("165536"), "the next free range");
        let mut clash = args("103");
        clash.name = None;
        clash.local_uid = Some("120000".into());
        assert_eq!(run(&ctx, &clash).unwrap_err().exit_code(), 21);
        assert!(!paths.resolve("/vz/private/103").exists());
        clash.local_uid = Some("0".into());
        assert_eq!(run(&ctx, &clash).unwrap_err().exit_code(), 21);
        assert_eq!(
            crate::ve::resolve_ctid(&paths, "web").unwrap(),
            101,
            "the name resolves to the CTID"
        );
        let again = run(&ctx, &args("101")).unwrap_err();
        assert_eq!(again.exit_code(), 44);
    }

    #[test]
    fn plan_builds_the_config_and_makes_nothing() {
        let paths = scratch();
        let global = Global::load(&paths).unwrap();
        let host = FakeHost::default();
        let ctx = crate::commands::fake::ctx(&paths, &global, &host);
        let mut wanted = args("101");
        wanted.ipadd = vec!["10.0.0.5".into()];
        wanted.local_gid = Some("200000".into());
        let plan = plan(&ctx, 101, &wanted).unwrap();
        assert_eq!(plan.ve.private, paths.resolve("/vz/private/101"));
        assert_eq!(plan.template_name, "tiny");
        assert!(plan.tarball.ends_with("tiny.tar.gz"));
        assert_eq!(plan.hostname.as_deref(), Some("ct.example.com"));
        assert_eq!(plan.name.as_deref(), Some("web"));
        let conf = plan.ve.conf().unwrap();
        assert_eq!(conf.get("ORIGIN_SAMPLE"), Some("basic"));
        assert_eq!(conf.get("IP_ADDRESS"), Some("10.0.0.5"));
        assert_eq!(conf.get("NAME"), Some("web"));
        assert_eq!(
            (conf.get("LOCAL_UID"), conf.get("LOCAL_GID")),
            (Some("200000"), Some("200000")),
            "one of the two given: the other is the same"
        );
        assert!(host.calls().is_empty(), "nothing was unpacked");
        assert!(!paths.resolve("/vz/private/101").exists());
        assert!(!paths.ve_conf(101).exists());
        assert!(!paths.names_dir().join("web").exists());
    }

    #[test]
    fn failed_unpack_leaves_nothing() {
        let paths = scratch();
        let global = Global::load(&paths).unwrap();
        let host = FakeHost {
            fail_unpack: true,
            ..FakeHost::default()
        };
        let ctx = crate::commands::fake::ctx(&paths, &global, &host);
        let err = run(&ctx, &args("102")).unwrap_err();
        assert_eq!(err.exit_code(), 48);
        assert!(!paths.resolve("/vz/private/102").exists());
        assert!(!paths.resolve("/vz/private/102.partial").exists());
        assert!(!paths.ve_conf(102).exists());
    }

    #[test]
    fn missing_template_and_sample_are_named() {
        let paths = scratch();
        let global = Global::load(&paths).unwrap();
        let host = FakeHost::default();
        let ctx = crate::commands::fake::ctx(&paths, &global, &host);
        let mut bad = args("103");
        bad.ostemplate = Some("nosuch".into());
        assert_eq!(run(&ctx, &bad).unwrap_err().exit_code(), 91);
        let mut bad = args("103");
        bad.config = Some("nosuch".into());
        assert_eq!(run(&ctx, &bad).unwrap_err().exit_code(), 82);
        let mut bad = args("103");
        bad.hostname = Some("-bad-".into());
        assert_eq!(run(&ctx, &bad).unwrap_err().exit_code(), 21);
        assert!(host.calls().is_empty(), "nothing was unpacked");
    }
}

//! vzctl set: change a VE's parameters, in three steps.
//!
//! 1. `plan` checks every value and builds a [`SetPlan`]; it changes nothing and asks the
//!    host nothing (it reads the --applyconfig sample, the names in use and the other VEs'
//!    addresses).
//! 2. `apply` makes the changes: the disk limits; on a running VE its beancounters, CPU
//!    share and caps, devices and addresses; then the VE's own files and running hostname.
//! 3. `save`, with --save, writes the VE's config (unknown lines in it are kept) and its
//!    name link.
//!
//! --hostname and --nameserver take effect at once, with or without --save. OpenVZ's vzctl
//! does so for a running VE (it runs its set_hostname and set_dns scripts inside it). Here
//! step 2 rewrites the VE's /etc/hostname and /etc/resolv.conf in its private area, running
//! or not (start sets the hostname but writes neither file), and sets a running VE's
//! hostname. Without --save the config keeps the old HOSTNAME and NAMESERVER.

use super::Ctx;
use crate::cgroup;
use crate::cli::SetArgs;
use crate::config::ConfigFile;
use crate::device_rules::Rule;
use crate::error::VzError;
use crate::params::{self, PAGE_SIZE};
use crate::quota::DiskLimits;
use crate::ve::Ve;
use std::net::Ipv4Addr;
use std::path::Path;

/// Keys --applyconfig leaves alone (OpenVZ's list).
const KEPT_BY_APPLYCONFIG: [&str; 5] = [
    "HOSTNAME",
    "IP_ADDRESS",
    "OSTEMPLATE",
    "VE_ROOT",
    "VE_PRIVATE",
];

/// Everything `vzctl set` changes, each value checked: what [`plan`] returns.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct SetPlan {
    /// The VE's config with every change made; saved with --save.
    pub conf: ConfigFile,
    /// Beancounters for a running VE: (resource id, barrier, limit).
    pub ubc: Vec<(u32, u64, u64)>,
    /// The cgroup's CPU files for a running VE, when a CPU option was given.
    pub cpu: Option<Vec<(String, String)>>,
    /// Device rules for a running VE, each with the /dev node a --devnodes rule makes.
    pub devices: Vec<(Rule, Option<String>)>,
    /// Addresses a running VE loses, then those it gains.
    pub addresses_removed: Vec<Ipv4Addr>,
    pub addresses_added: Vec<Ipv4Addr>,
    /// When the CPU share or the addresses change: the new CPU share (cpuunits, cpulimit) and
    /// every address, for what the kernel shows of a running VE (/proc/fairsched, veinfo).
    pub shown: Option<((u32, u32), Vec<Ipv4Addr>)>,
    /// --hostname: the VE's /etc/hostname and a running VE's hostname.
    pub hostname: Option<String>,
    /// --nameserver but `inherit`: the VE's /etc/resolv.conf, when not empty.
    pub nameservers: Vec<String>,
    /// --diskspace or --diskinodes: the VE's new disk limits.
    pub disk: Option<DiskLimits>,
    /// A new --name: (the old name, the new one), relinked by --save.
    pub rename: Option<(Option<String>, String)>,
    /// --save.
    pub save: bool,
}

pub fn run(ctx: &Ctx, args: &SetArgs) -> Result<(), VzError> {
    let ve = ctx.ve(&args.ctid)?;
    let _lock = ctx.lock(ve.veid, "setting")?;
    ve.require_exists()?;
    let plan = plan(ctx, &ve, args)?;
    let running = apply(ctx, &ve, &plan)?;
    save(ctx, &ve, &plan, running)
}

/// Checks every value of `args` against `ve` and builds the plan; changes nothing.
pub(crate) fn plan(ctx: &Ctx, ve: &Ve, args: &SetArgs) -> Result<SetPlan, VzError> {
    let old = ve.conf()?;
    let mut conf = old.clone();
    let mut ubc = match &args.applyconfig {
        Some(sample) => apply_sample(ctx, sample, &mut conf)?,
        None => Vec::new(),
    };
    plan_ubc(args, &mut conf, &mut ubc)?;
    let (hostname, rename) = plan_identity(ctx, args, &mut conf)?;
    plan_cpu(args, &mut conf)?;
    let nameservers = plan_nameservers(args, &mut conf)?;
    let (addresses, addresses_removed, addresses_added) = plan_addresses(ctx, ve, args, &mut conf)?;
    plan_disk(args, &mut conf)?;
    let devices = plan_devices(args, &mut conf)?;
    let cpu =
        cgroup::cpu_settings(&conf, ve.veid, &ctx.host.cpus()?).map_err(|e| invalid("cpu", e))?;
    let cpu_changed = args.cpuunits.is_some() || args.cpulimit.is_some() || args.cpus.is_some();
    let shown = if cpu_changed || !addresses_removed.is_empty() || !addresses_added.is_empty() {
        let share = cgroup::cpu_share(&conf).map_err(|e| invalid("cpu", e))?;
        Some((share, addresses))
    } else {
        None
    };
    if ubc.is_empty() && conf == *old && args.applyconfig.is_none() {
        return Err(VzError::Usage(format!(
            "CT {}: nothing to set (give at least one parameter)",
            ve.veid
        )));
    }
    let disk = if args.diskspace.is_some() || args.diskinodes.is_some() {
        let updated = Ve {
            conf: Some(conf.clone()),
            ..ve.clone()
        };
        updated.disk_limits()?
    } else {
        None
    };
    Ok(SetPlan {
        conf,
        ubc,
        cpu: cpu_changed.then_some(cpu),
        devices,
        addresses_removed,
        addresses_added,
        shown,
        hostname,
        nameservers,
        disk,
        rename,
        save: args.save,
    })
}

/// A bad value of option `--option`.
fn invalid(option: &str, e: String) -> VzError {
    VzError::InvalidValue(format!("--{option}: {e}"))
}

/// --applyconfig: the sample's keys (but [`KEPT_BY_APPLYCONFIG`]) into `conf`; returns its
/// beancounters.
fn apply_sample(
    ctx: &Ctx,
    sample: &str,
    conf: &mut ConfigFile,
) -> Result<Vec<(u32, u64, u64)>, VzError> {
    let path = ctx.paths.sample(sample);
    let sample = match ConfigFile::load(&path) {
        Err(VzError::ConfigNotFound(path)) => return Err(VzError::SampleNotFound(path)),
        other => other?,
    };
    let mut ubc = Vec::new();
    for key in sample.keys() {
        if let (false, Some(value)) = (KEPT_BY_APPLYCONFIG.contains(&key), sample.get(key)) {
            conf.set(key, value)?;
            if let Some(param) = params::ubc_param_by_key(key) {
                let (b, l) = params::parse_ubc(param, value).map_err(|e| {
                    VzError::InvalidValue(format!("{}: {key}: {e}", path.display()))
                })?;
                ubc.push((param.resource, b, l));
            }
        }
    }
    Ok(ubc)
}

/// The beancounter options, --ram and --swap.
fn plan_ubc(
    args: &SetArgs,
    conf: &mut ConfigFile,
    ubc: &mut Vec<(u32, u64, u64)>,
) -> Result<(), VzError> {
    for (name, value) in args.ubc.values() {
        let param = params::ubc_param(name).ok_or_else(|| invalid(name, "unknown".into()))?;
        let (barrier, limit) = params::parse_ubc(param, value).map_err(|e| invalid(name, e))?;
        conf.set(param.key, &params::format_ubc(barrier, limit))?;
        ubc.push((param.resource, barrier, limit));
    }
    for (option, value, key) in [
        ("ram", &args.ram, "physpages"),
        ("swap", &args.swap, "swappages"),
    ] {
        if let Some(text) = value {
            let bytes = params::parse_ram(text).map_err(|e| invalid(option, e))?;
            let pages = bytes.div_ceil(PAGE_SIZE);
            let param = params::ubc_param(key).ok_or_else(|| invalid(option, "unknown".into()))?;
            conf.set(param.key, &params::format_ubc(0, pages))?;
            ubc.push((param.resource, 0, pages));
        }
    }
    Ok(())
}

/// A plan's new hostname and its rename (old name, new name).
type Identity = (Option<String>, Option<(Option<String>, String)>);

/// --hostname, --onboot, --bootorder, --name and --description.
fn plan_identity(ctx: &Ctx, args: &SetArgs, conf: &mut ConfigFile) -> Result<Identity, VzError> {
    let hostname = args
        .hostname
        .as_deref()
        .map(params::parse_hostname)
        .transpose()
        .map_err(|e| invalid("hostname", e))?;
    if let Some(hostname) = &hostname {
        conf.set("HOSTNAME", hostname)?;
    }
    if let Some(text) = &args.onboot {
        let on = params::parse_yes_no(text).map_err(|e| invalid("onboot", e))?;
        conf.set("ONBOOT", if on { "yes" } else { "no" })?;
    }
    if let Some(text) = &args.bootorder {
        let order: u32 = text
            .parse()
            .map_err(|_| invalid("bootorder", format!("{text:?} is not a number")))?;
        conf.set("BOOTORDER", &order.to_string())?;
    }
    let old_name = conf.get("NAME").map(str::to_owned);
    let mut rename = None;
    if let Some(name) = &args.name {
        if old_name.as_deref() != Some(name.as_str()) {
            crate::names::check_name(ctx.paths, name)?;
            rename = Some((old_name, name.clone()));
        }
        conf.set("NAME", name)?;
    }
    if let Some(text) = &args.description {
        conf.set("DESCRIPTION", text)?;
    }
    Ok((hostname, rename))
}

/// --cpuunits, --cpulimit and --cpus.
fn plan_cpu(args: &SetArgs, conf: &mut ConfigFile) -> Result<(), VzError> {
    if let Some(text) = &args.cpuunits {
        let units = params::parse_cpuunits(text).map_err(|e| invalid("cpuunits", e))?;
        conf.set("CPUUNITS", &units.to_string())?;
    }
    if let Some(text) = &args.cpulimit {
        let limit = params::parse_cpulimit(text).map_err(|e| invalid("cpulimit", e))?;
        conf.set("CPULIMIT", &limit.to_string())?;
    }
    if let Some(text) = &args.cpus {
        let cpus = params::parse_cpus(text).map_err(|e| invalid("cpus", e))?;
        conf.set("CPUS", &cpus.to_string())?;
    }
    Ok(())
}

/// --nameserver: every server into the config; returns those for resolv.conf (not
/// `inherit`).
fn plan_nameservers(args: &SetArgs, conf: &mut ConfigFile) -> Result<Vec<String>, VzError> {
    let nameservers = args
        .nameserver
        .iter()
        .map(|text| {
            if text == "inherit" {
                Ok(text.clone())
            } else {
                params::parse_ipv4_with_mask(text)
                    .and_then(|(ip, mask)| match mask {
                        None => Ok(ip.to_string()),
                        Some(_) => Err("a nameserver has no mask".into()),
                    })
                    .map_err(|e| invalid("nameserver", e))
            }
        })
        .collect::<Result<Vec<_>, _>>()?;
    if !nameservers.is_empty() {
        conf.set("NAMESERVER", &nameservers.join(" "))?;
    }
    Ok(nameservers.into_iter().filter(|s| s != "inherit").collect())
}

/// A VE's addresses after a set: all of them, those removed, those added.
type AddressPlan = (Vec<Ipv4Addr>, Vec<Ipv4Addr>, Vec<Ipv4Addr>);

/// --ipdel, then --ipadd; a new address must be free. Returns every address, those removed and
/// those added.
fn plan_addresses(
    ctx: &Ctx,
    ve: &Ve,
    args: &SetArgs,
    conf: &mut ConfigFile,
) -> Result<AddressPlan, VzError> {
    let old_addresses = crate::net::parse_addresses(conf.get("IP_ADDRESS").unwrap_or_default())
        .map_err(|e| {
            VzError::InvalidValue(format!("{}: IP_ADDRESS: {e}", ve.conf_path.display()))
        })?;
    let bad_ip = |value: &str, reason: String| VzError::BadIp {
        veid: ve.veid,
        value: value.to_owned(),
        reason,
    };
    let mut addresses = old_addresses.clone();
    for text in &args.ipdel {
        if text == "all" {
            addresses.clear();
        } else {
            let ip = crate::net::parse_addresses(text).map_err(|e| bad_ip(text, e))?;
            addresses.retain(|a| !ip.contains(a));
        }
    }
    for text in &args.ipadd {
        for ip in crate::net::parse_addresses(text).map_err(|e| bad_ip(text, e))? {
            if !addresses.contains(&ip) {
                addresses.push(ip);
            }
        }
    }
    crate::net::check_addresses_free(ctx.paths, ve.veid, &addresses)?;
    if addresses != old_addresses {
        conf.set("IP_ADDRESS", &crate::net::join_addresses(&addresses))?;
    }
    let removed = old_addresses
        .iter()
        .filter(|ip| !addresses.contains(ip))
        .copied()
        .collect();
    let added = addresses
        .iter()
        .filter(|ip| !old_addresses.contains(ip))
        .copied()
        .collect();
    Ok((addresses, removed, added))
}

/// --diskspace and --diskinodes.
fn plan_disk(args: &SetArgs, conf: &mut ConfigFile) -> Result<(), VzError> {
    if let Some(text) = &args.diskspace {
        let (soft, hard) = params::parse_disk(text).map_err(|e| invalid("diskspace", e))?;
        conf.set("DISKSPACE", &format!("{soft}:{hard}"))?;
    }
    if let Some(text) = &args.diskinodes {
        let (soft, hard) = params::parse_inodes(text).map_err(|e| invalid("diskinodes", e))?;
        conf.set("DISKINODES", &format!("{soft}:{hard}"))?;
    }
    Ok(())
}

/// --devices and --devnodes.
fn plan_devices(
    args: &SetArgs,
    conf: &mut ConfigFile,
) -> Result<Vec<(Rule, Option<String>)>, VzError> {
    let mut device_rules = Vec::new();
    for text in &args.devices {
        let rule = crate::device_rules::parse_device(text).map_err(|e| invalid("devices", e))?;
        device_rules.push((rule, None));
        set_device_word(conf, "DEVICES", text)?;
    }
    for text in &args.devnodes {
        let (name, rule) = crate::device_rules::parse_devnode(Path::new("/dev"), text)
            .map_err(|e| invalid("devnodes", e))?;
        // A node with no access is not made.
        let node = (rule.perms != 0).then_some(name);
        device_rules.push((rule, node));
        set_device_word(conf, "DEVNODES", text)?;
    }
    Ok(device_rules)
}

/// Makes the planned changes: the disk limits, whether or not the VE runs; a running VE's
/// kernel state; the VE's own files and running hostname. Returns whether the VE runs.
fn apply(ctx: &Ctx, ve: &Ve, plan: &SetPlan) -> Result<bool, VzError> {
    if let (Some(limits), true) = (&plan.disk, ctx.global.disk_quota) {
        ctx.host.disk_quota(ve.veid, &ve.private, limits, false)?;
    }
    let running = ctx.host.running(ve.veid)?.is_some();
    if running {
        apply_live(ctx, ve.veid, plan)?;
    }
    write_ve_files(ve, plan)?;
    if let (Some(hostname), true) = (&plan.hostname, running) {
        let status = ctx
            .host
            .run(ve.veid, &["hostname".to_string(), hostname.clone()])?;
        if status != 0 {
            return Err(VzError::CommandFailed {
                veid: ve.veid,
                status,
            });
        }
    }
    Ok(running)
}

/// A running VE's new beancounters, CPU files, device rules and addresses.
fn apply_live(ctx: &Ctx, veid: u32, plan: &SetPlan) -> Result<(), VzError> {
    for &(resource, barrier, limit) in &plan.ubc {
        ctx.host.set_ubc(veid, resource, barrier, limit)?;
    }
    for (file, value) in plan.cpu.iter().flatten() {
        ctx.host.set_cgroup(veid, file, value)?;
    }
    for (rule, node) in &plan.devices {
        ctx.host.set_device(veid, rule, node.as_deref())?;
    }
    for ip in &plan.addresses_removed {
        ctx.host.set_address(veid, *ip, false)?;
    }
    for ip in &plan.addresses_added {
        ctx.host.set_address(veid, *ip, true)?;
    }
    if let Some((share, addresses)) = &plan.shown {
        ctx.host.show_config(veid, *share, addresses)?;
    }
    Ok(())
}

/// The VE's files that follow its hostname and nameservers.
fn write_ve_files(ve: &Ve, plan: &SetPlan) -> Result<(), VzError> {
    if let Some(hostname) = &plan.hostname {
        crate::ve_files::write_hostname_file(&ve.private, hostname)?;
    }
    if !plan.nameservers.is_empty() {
        let servers: Vec<&str> = plan.nameservers.iter().map(String::as_str).collect();
        crate::ve_files::write_resolv_conf(&ve.private, &servers)?;
    }
    Ok(())
}

/// With --save: the config and the name link; without it, a stopped VE's warning that
/// nothing lasts.
fn save(ctx: &Ctx, ve: &Ve, plan: &SetPlan, running: bool) -> Result<(), VzError> {
    if plan.save {
        plan.conf.save(&ve.conf_path)?;
        if let Some((old, name)) = &plan.rename {
            if let Some(old) = old {
                crate::names::unlink_name(ctx.paths, old);
            }
            crate::names::link_name(ctx.paths, name, &ve.conf_path)?;
        }
        ctx.say(&format!("Saved parameters for CT {}", ve.veid));
    } else if !running {
        eprintln!(
            "WARNING: Settings were not saved and will be reset to original values on next start (use --save flag)"
        );
    }
    Ok(())
}

/// Adds `word` (`device:perms`) to the list in `key`, replacing the word for the same device.
fn set_device_word(conf: &mut ConfigFile, key: &str, word: &str) -> Result<(), VzError> {
    let device = |w: &str| w.rsplit_once(':').map_or(w, |(d, _)| d).to_owned();
    let mut words: Vec<String> = crate::device_rules::words(conf.get(key))
        .into_iter()
        .filter(|w| device(w) != device(word))
        .map(str::to_owned)
        .collect();
    words.push(word.to_owned());
    conf.set(key, &words.join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::commands::create::tests::{scratch, Scratch};
    use crate::host::fake::FakeHost;
    use crate::host::Running;
    use crate::paths::Global;

    fn set_args(ctid: &str) -> SetArgs {
        SetArgs {
            ctid: ctid.into(),
            ..SetArgs::default()
        }
    }

    #[test]
    fn set_applies_live_and_saves_only_with_save() {
        let paths = scratch();
        let global = Global::load(&paths).unwrap();
        std::fs::create_dir_all(paths.resolve("/vz/private/101/etc")).unwrap();
        std::fs::write(
            paths.ve_conf(101),
            "# mine\nNUMPROC=\"240:240\"\nODD=\"x\"\n",
        )
        .unwrap();
        let host = FakeHost::default();
        *host.running.borrow_mut() = Some(Running {
            init_pid: 9,
            nproc: 3,
        });
        let ctx = crate::commands::fake::ctx(&paths, &global, &host);
        let mut args = set_args("101");
        args.ubc.numproc = Some("100:120".into());
        args.ubc.privvmpages = Some("256M".into());
        run(&ctx, &args).unwrap();
        assert!(host.calls().contains(&"ubc 101 5 100:120".to_string()));
        assert!(host.calls().contains(&"ubc 101 2 65536:65536".to_string()));
        let unsaved = std::fs::read_to_string(paths.ve_conf(101)).unwrap();
        assert!(
            unsaved.contains("NUMPROC=\"240:240\""),
            "not saved without --save"
        );
        args.save = true;
        run(&ctx, &args).unwrap();
        let saved = std::fs::read_to_string(paths.ve_conf(101)).unwrap();
        assert!(
            saved.starts_with("# mine\nNUMPROC=\"100:120\"\nODD=\"x\"\n"),
            "{saved}"
        );
        assert!(saved.contains("PRIVVMPAGES=\"65536:65536\""));

        let mut bad = set_args("101");
        bad.ubc.numproc = Some("10M".into());
        bad.hostname = Some("fine.example".into());
        let calls = host.calls().len();
        assert_eq!(run(&ctx, &bad).unwrap_err().exit_code(), 21);
        assert_eq!(host.calls().len(), calls, "a bad value changes nothing");
        assert_eq!(run(&ctx, &set_args("101")).unwrap_err().exit_code(), 20);
    }

    /// A scratch host with VE 101 (addresses .1 and .2, named "old") and VE 102 (.9).
    fn two_ves() -> (Scratch, Global) {
        let paths = scratch();
        let global = Global::load(&paths).unwrap();
        std::fs::create_dir_all(paths.resolve("/vz/private/101/etc")).unwrap();
        std::fs::write(
            paths.ve_conf(101),
            "NUMPROC=\"240:240\"\nIP_ADDRESS=\"10.0.0.1 10.0.0.2\"\nNAME=\"old\"\n",
        )
        .unwrap();
        std::fs::write(paths.ve_conf(102), "IP_ADDRESS=\"10.0.0.9\"\n").unwrap();
        (paths, global)
    }

    #[test]
    fn plan_holds_every_change_and_touches_nothing() {
        let (paths, global) = two_ves();
        let host = FakeHost {
            cpus: vec![0, 1],
            ..FakeHost::default()
        };
        let ctx = crate::commands::fake::ctx(&paths, &global, &host);
        let ve = ctx.ve("101").unwrap();
        let mut args = set_args("101");
        args.ubc.numproc = Some("100:120".into());
        args.ram = Some("64M".into());
        args.cpus = Some("1".into());
        args.ipdel = vec!["10.0.0.1".into()];
        args.ipadd = vec!["10.0.0.3".into(), "10.0.0.2".into()];
        args.hostname = Some("new.example".into());
        args.nameserver = vec!["inherit".into(), "192.0.2.53".into()];
        args.name = Some("web".into());
        args.devices = vec!["c:1:3:rw".into()];
        args.diskspace = Some("1G".into());
        let plan = plan(&ctx, &ve, &args).unwrap();
        let numproc = params::ubc_param("numproc").unwrap().resource;
        let physpages = params::ubc_param("physpages").unwrap().resource;
        assert_eq!(plan.ubc, [(numproc, 100, 120), (physpages, 0, 16384)]);
        assert_eq!(plan.conf.get("NUMPROC"), Some("100:120"));
        assert_eq!(plan.conf.get("PHYSPAGES"), Some("0:16384"));
        assert_eq!(
            plan.cpu.as_ref().unwrap()[1..],
            [
                ("cpu.max".into(), "100000 100000".into()),
                ("cpuset.cpus".into(), "1".into())
            ]
        );
        assert_eq!(plan.addresses_removed, [Ipv4Addr::new(10, 0, 0, 1)]);
        assert_eq!(plan.addresses_added, [Ipv4Addr::new(10, 0, 0, 3)]);
        assert_eq!(plan.conf.get("IP_ADDRESS"), Some("10.0.0.2 10.0.0.3"));
        let shown = [Ipv4Addr::new(10, 0, 0, 2), Ipv4Addr::new(10, 0, 0, 3)];
        assert_eq!(plan.shown, Some(((1000, 0), shown.to_vec())));
        assert_eq!(plan.hostname.as_deref(), Some("new.example"));
        assert_eq!(plan.nameservers, ["192.0.2.53"], "inherit is no server");
        assert_eq!(plan.conf.get("NAMESERVER"), Some("inherit 192.0.2.53"));
        assert_eq!(plan.rename, Some((Some("old".into()), "web".into())));
        assert_eq!(plan.devices.len(), 1);
        assert_eq!(plan.conf.get("DEVICES"), Some("c:1:3:rw"));
        assert_eq!(plan.disk.unwrap().space_hard_kb, 1 << 20);
        assert!(!plan.save);
        assert!(host.calls().is_empty(), "a plan asks the host nothing");
        let conf = std::fs::read_to_string(paths.ve_conf(101)).unwrap();
        assert!(conf.contains("NAME=\"old\""), "a plan writes nothing");
        assert!(!paths.resolve("/vz/private/101/etc/hostname").exists());
    }

    #[test]
    fn plan_leaves_out_what_was_not_asked() {
        let (paths, global) = two_ves();
        let host = FakeHost::default();
        let ctx = crate::commands::fake::ctx(&paths, &global, &host);
        let ve = ctx.ve("101").unwrap();
        let mut args = set_args("101");
        args.description = Some("web shop".into());
        args.name = Some("old".into());
        let plan = plan(&ctx, &ve, &args).unwrap();
        assert_eq!(plan.conf.get("DESCRIPTION"), Some("web shop"));
        assert!(plan.ubc.is_empty() && plan.devices.is_empty());
        assert_eq!(plan.cpu, None, "no CPU option: the cgroup is left alone");
        assert!(plan.addresses_removed.is_empty() && plan.addresses_added.is_empty());
        assert_eq!(plan.shown, None, "neither CPU share nor addresses changed");
        assert_eq!(plan.rename, None, "the same name is no rename");
        assert_eq!((plan.hostname, plan.disk), (None, None));
    }

    #[test]
    fn plan_refuses_an_address_of_another_ve() {
        let (paths, global) = two_ves();
        let host = FakeHost::default();
        let ctx = crate::commands::fake::ctx(&paths, &global, &host);
        let ve = ctx.ve("101").unwrap();
        let mut args = set_args("101");
        args.ipadd = vec!["10.0.0.9".into()];
        assert_eq!(plan(&ctx, &ve, &args).unwrap_err().exit_code(), 78);
        args.ipadd = vec!["10.0.0.0/24".into()];
        assert_eq!(plan(&ctx, &ve, &args).unwrap_err().exit_code(), 71);
    }

    #[test]
    fn apply_writes_the_ve_files_running_or_not() {
        let (paths, global) = two_ves();
        let host = FakeHost::default();
        let ctx = crate::commands::fake::ctx(&paths, &global, &host);
        let ve = ctx.ve("101").unwrap();
        let mut args = set_args("101");
        args.hostname = Some("new.example".into());
        args.nameserver = vec!["192.0.2.53".into()];
        args.ubc.numproc = Some("50".into());
        let plan = plan(&ctx, &ve, &args).unwrap();
        assert!(!apply(&ctx, &ve, &plan).unwrap(), "stopped");
        assert!(
            host.calls().is_empty(),
            "a stopped VE's kernel state is not touched"
        );
        let etc = paths.resolve("/vz/private/101/etc");
        assert_eq!(
            std::fs::read_to_string(etc.join("hostname")).unwrap(),
            "new.example\n"
        );
        assert_eq!(
            std::fs::read_to_string(etc.join("resolv.conf")).unwrap(),
            "nameserver 192.0.2.53\n"
        );
        *host.running.borrow_mut() = Some(Running {
            init_pid: 9,
            nproc: 3,
        });
        assert!(apply(&ctx, &ve, &plan).unwrap(), "running");
        let numproc = params::ubc_param("numproc").unwrap().resource;
        assert_eq!(
            host.calls(),
            [
                format!("ubc 101 {numproc} 50:50"),
                r#"run 101 ["hostname", "new.example"]"#.to_string()
            ]
        );
    }
}

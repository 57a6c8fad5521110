//! vzctl set: change a VE's parameters. Every value is checked before anything changes; a
//! running VE gets the new beancounters, CPU share and caps and hostname at once; --save
//! writes them to the VE's config (unknown lines in it are kept).

use super::Ctx;
use crate::cli::SetArgs;
use crate::config::ConfigFile;
use crate::error::VzError;
use crate::params::{self, PAGE_SIZE};
use std::path::Path;

/// Keys --applyconfig leaves alone (OpenVZ's list).
const KEPT_BY_APPLYCONFIG: [&str; 5] = [
    "HOSTNAME",
    "IP_ADDRESS",
    "OSTEMPLATE",
    "VE_ROOT",
    "VE_PRIVATE",
];

/// The cgroup's cpu.max period, in microseconds.
const CPU_PERIOD_US: u64 = 100_000;

pub fn run(ctx: &Ctx, args: &SetArgs) -> Result<(), VzError> {
    let ve = ctx.ve(&args.ctid)?;
    let _lock = ctx.lock(ve.veid, "setting")?;
    ve.require_exists()?;
    let mut conf = ve.conf()?.clone();
    let invalid = |what: &str, e: String| VzError::InvalidValue(format!("--{what}: {e}"));

    // Check everything, building the new config.
    let mut ubc = Vec::new();
    if let Some(sample) = &args.applyconfig {
        let path = ctx.paths.sample(sample);
        let sample = match ConfigFile::load(&path) {
            Err(VzError::ConfigNotFound(path)) => return Err(VzError::SampleNotFound(path)),
            other => other?,
        };
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
    }
    for (name, value) in args.ubc_values() {
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
    if let Some(name) = &args.name {
        if old_name.as_deref() != Some(name.as_str()) {
            crate::names::check_name(ctx.paths, name)?;
        }
        conf.set("NAME", name)?;
    }
    if let Some(text) = &args.description {
        conf.set("DESCRIPTION", text)?;
    }
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
    if let Some(text) = &args.diskspace {
        let (soft, hard) = params::parse_disk(text).map_err(|e| invalid("diskspace", e))?;
        conf.set("DISKSPACE", &format!("{soft}:{hard}"))?;
    }
    if let Some(text) = &args.diskinodes {
        let (soft, hard) = params::parse_inodes(text).map_err(|e| invalid("diskinodes", e))?;
        conf.set("DISKINODES", &format!("{soft}:{hard}"))?;
    }
    let mut device_rules = Vec::new();
    for text in &args.devices {
        let rule = crate::devices::parse_device(text).map_err(|e| invalid("devices", e))?;
        device_rules.push((rule, None));
        set_device_word(&mut conf, "DEVICES", text)?;
    }
    for text in &args.devnodes {
        let (name, rule) = crate::devices::parse_devnode(Path::new("/dev"), text)
            .map_err(|e| invalid("devnodes", e))?;
        // A node with no access is not made.
        let node = (rule.perms != 0).then_some(name);
        device_rules.push((rule, node));
        set_device_word(&mut conf, "DEVNODES", text)?;
    }
    let cgroup = cpu_settings(&conf).map_err(|e| invalid("cpu", e))?;
    let cpu_changed = args.cpuunits.is_some() || args.cpulimit.is_some() || args.cpus.is_some();
    if ubc.is_empty() && conf == *ve.conf()? && args.applyconfig.is_none() {
        return Err(VzError::Usage(format!(
            "CT {}: nothing to set (give at least one parameter)",
            ve.veid
        )));
    }

    // The VE's own files follow its hostname and nameservers.
    if let Some(hostname) = &hostname {
        crate::ve_files::write_hostname_file(&ve.private, hostname)?;
    }
    let servers: Vec<&str> = nameservers
        .iter()
        .map(String::as_str)
        .filter(|s| *s != "inherit")
        .collect();
    if !servers.is_empty() {
        crate::ve_files::write_resolv_conf(&ve.private, &servers)?;
    }

    // Disk limits hold whether or not the VE runs.
    if args.diskspace.is_some() || args.diskinodes.is_some() {
        let updated = crate::ve::Ve {
            conf: Some(conf.clone()),
            ..ve.clone()
        };
        updated.apply_disk_limits(ctx.host, ctx.global, false)?;
    }

    // Live where the VE runs.
    let running = ctx.host.running(ve.veid)?.is_some();
    if running {
        for &(resource, barrier, limit) in &ubc {
            ctx.host.set_ubc(ve.veid, resource, barrier, limit)?;
        }
        if cpu_changed {
            for (file, value) in &cgroup {
                ctx.host.set_cgroup(ve.veid, file, value)?;
            }
        }
        for (rule, node) in &device_rules {
            ctx.host.set_device(ve.veid, rule, node.as_deref())?;
        }
        for ip in old_addresses.iter().filter(|ip| !addresses.contains(ip)) {
            ctx.host.set_address(ve.veid, *ip, false)?;
        }
        for ip in addresses.iter().filter(|ip| !old_addresses.contains(ip)) {
            ctx.host.set_address(ve.veid, *ip, true)?;
        }
        if let Some(hostname) = &hostname {
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
    }

    if args.save {
        conf.save(&ve.conf_path)?;
        if let (Some(name), true) = (&args.name, old_name.as_deref() != args.name.as_deref()) {
            if let Some(old) = &old_name {
                let _ = std::fs::remove_file(ctx.paths.names_dir().join(old));
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
    let mut words: Vec<String> = crate::devices::words(conf.get(key))
        .into_iter()
        .filter(|w| device(w) != device(word))
        .map(str::to_owned)
        .collect();
    words.push(word.to_owned());
    conf.set(key, &words.join(" "))
}

/// The VE cgroup's CPU files for its config: cpu.weight from CPUUNITS (OpenVZ's default 1000
/// is cgroup's default weight 100), cpu.max from CPULIMIT (% of one CPU) and CPUS (whole
/// CPUs), the lower of the two; 0 or unset is no cap.
pub(crate) fn cpu_settings(conf: &ConfigFile) -> Result<Vec<(String, String)>, String> {
    let get = |key: &str| conf.get(key).filter(|v| !v.is_empty());
    let units = get("CPUUNITS")
        .map(params::parse_cpuunits)
        .transpose()?
        .unwrap_or(1000);
    let weight = (units / 10).clamp(1, 10_000);
    let limit = get("CPULIMIT")
        .map(params::parse_cpulimit)
        .transpose()?
        .unwrap_or(0);
    let cpus = get("CPUS")
        .map(params::parse_cpus)
        .transpose()?
        .unwrap_or(0);
    let percent = [u64::from(limit), u64::from(cpus) * 100]
        .into_iter()
        .filter(|&p| p > 0)
        .min();
    let max = match percent {
        Some(p) => format!("{} {CPU_PERIOD_US}", p * CPU_PERIOD_US / 100),
        None => format!("max {CPU_PERIOD_US}"),
    };
    Ok(vec![
        ("cpu.weight".into(), weight.to_string()),
        ("cpu.max".into(), max),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::commands::create::tests::scratch;
    use crate::commands::fake::FakeHost;
    use crate::host::Running;
    use crate::paths::Global;

    fn conf(text: &str) -> ConfigFile {
        ConfigFile::parse(text, Path::new("test.conf")).unwrap()
    }

    #[test]
    fn cpu_settings_map_units_and_caps() {
        assert_eq!(
            cpu_settings(&conf("")).unwrap(),
            [
                ("cpu.weight".into(), "100".into()),
                ("cpu.max".into(), "max 100000".into())
            ]
        );
        let s = cpu_settings(&conf("CPUUNITS=\"2000\"\nCPULIMIT=\"150\"\nCPUS=\"1\"\n")).unwrap();
        assert_eq!(s[0].1, "200");
        assert_eq!(s[1].1, "100000 100000", "one CPU is lower than 150%");
        let s = cpu_settings(&conf("CPULIMIT=\"25\"\n")).unwrap();
        assert_eq!(s[1].1, "25000 100000");
    }

    fn set_args(ctid: &str) -> SetArgs {
        SetArgs {
            ctid: ctid.into(),
            ..SetArgs::default()
        }
    }

    #[test]
    fn set_applies_live_and_saves_only_with_save() {
        let paths = scratch("set");
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
        args.numproc = Some("100:120".into());
        args.privvmpages = Some("256M".into());
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
        bad.numproc = Some("10M".into());
        bad.hostname = Some("fine.example".into());
        let calls = host.calls().len();
        assert_eq!(run(&ctx, &bad).unwrap_err().exit_code(), 21);
        assert_eq!(host.calls().len(), calls, "a bad value changes nothing");
        assert_eq!(run(&ctx, &set_args("101")).unwrap_err().exit_code(), 20);
        let _ = std::fs::remove_dir_all(paths.root());
    }
}

//! The vzmigrate binary: parse, run, print OpenVZ's `Error: ...` and exit with its codes.

use std::process::ExitCode;
use vzctl::cli::{self, VzmigrateCli};
use vzctl::commands::{self, Ctx};
use vzctl::device::Vzctl;
use vzctl::host::LinuxHost;
use vzctl::migrate::{self, agent, exit, MigrateError};
use vzctl::paths::{Global, Paths};

fn run() -> Result<(), MigrateError> {
    let usage = |e: vzctl::error::VzError| MigrateError::new(exit::USAGE, e.to_string());
    let Some(cli) = cli::parse::<VzmigrateCli, _, _>(std::env::args_os()).map_err(usage)? else {
        return Ok(());
    };
    if cli.version {
        return commands::version::run(
            "vzmigrate",
            &mut std::io::stdout(),
            &mut std::io::stderr(),
            Vzctl::open,
        )
        .map_err(MigrateError::from);
    }
    let paths = Paths::default();
    let global = Global::load(&paths)?;
    let host = LinuxHost::new(paths.cgroup_root(), paths.proc());
    let ctx = Ctx {
        paths: &paths,
        global: &global,
        host: &host,
        quiet: false,
        // vzmigrate holds the VE's lock through the whole move.
        skiplock: true,
    };
    if let Some(action) = cli.agent {
        let [ctid] = cli.targets.as_slice() else {
            return Err(MigrateError::new(exit::USAGE, "--agent takes one CTID"));
        };
        let veid = ctid
            .parse()
            .map_err(|_| MigrateError::new(exit::USAGE, format!("bad CTID {ctid:?}")))?;
        let wanted = agent::Wanted {
            abi: cli.abi,
            criu: cli.criu,
            addresses: vzctl::net::parse_addresses(cli.ips.as_deref().unwrap_or_default())
                .map_err(|e| MigrateError::new(exit::USAGE, e))?,
            kbytes: cli.kbytes,
            ids: cli
                .ids
                .as_deref()
                .map(|text| {
                    let (uid, gid) = text.split_once(':').unwrap_or((text, ""));
                    Some(vzctl::idmap::IdMap {
                        uid: uid.parse().ok()?,
                        gid: gid.parse().ok()?,
                    })
                })
                .map(|ids| ids.ok_or_else(|| MigrateError::new(exit::USAGE, "--ids: give UID:GID")))
                .transpose()?,
        };
        return agent::run(&ctx, action, veid, &wanted);
    }
    let [destination, ctid] = cli.targets.as_slice() else {
        return Err(MigrateError::new(
            exit::USAGE,
            "usage: vzmigrate [options] DESTINATION CTID (see vzmigrate --help)",
        ));
    };
    let options = migrate::Options {
        destination: destination.clone(),
        ctid: ctid.clone(),
        remove_area: cli.remove_area == "yes",
        keep_dst: cli.keep_dst,
        online: cli.online,
        iterative: !cli.noiter,
        check_only: cli.check_only,
        times: cli.times || cli.verbose > 0,
        json: cli.json,
        verbose: cli.verbose > 0,
        ssh: cli.ssh.unwrap_or_default(),
        rsync: cli.rsync.unwrap_or_default(),
    };
    let report = migrate::run(&ctx, &options)?;
    if options.times {
        if options.json {
            println!("{}", report.json());
        } else {
            print!("{}", report.table());
        }
    }
    Ok(())
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("Error: {}", err.message);
            ExitCode::from(u8::try_from(err.code).unwrap_or(1))
        }
    }
}

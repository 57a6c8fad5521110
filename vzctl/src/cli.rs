//! Command-line definitions of every tool (clap derive), in one place.

use clap::{Parser, Subcommand};

/// vzctl: create, start, stop and manage virtual environments.
#[derive(Debug, Parser)]
// The help starts with the version line, as OpenVZ's: libvirt takes the release from it.
#[command(
    name = "vzctl",
    disable_version_flag = true,
    before_help = crate::commands::version::VZCTL_VERSION_LINE
)]
pub struct VzctlCli {
    /// Print the tools' version and, when the module answers, its ABI version.
    #[arg(long)]
    pub version: bool,
    /// Print less.
    #[arg(long, global = true)]
    pub quiet: bool,
    /// Accepted, also repeated, for OpenVZ compatibility; vzctl's messages do not change with it.
    #[arg(long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Do not take the VE's lock (vzmigrate holds it already).
    #[arg(long, global = true)]
    pub skiplock: bool,
    #[command(subcommand)]
    pub command: Option<VzctlCommand>,
}

/// vzctl's commands, as OpenVZ named them. CTID is a VE number or a name given with --name.
// Deferred: only the command given has its options built, not all twenty (building them all
// was most of a `vzctl status`).
#[derive(Debug, Subcommand)]
#[command(defer = true)]
pub enum VzctlCommand {
    /// Create a VE from an OS template.
    Create(CreateArgs),
    /// Start a VE.
    Start {
        ctid: String,
        /// Accepted for compatibility: start returns once the VE's init runs.
        #[arg(long)]
        wait: bool,
    },
    /// Stop a VE: halt inside it, then kill what is left after the stop timeout.
    Stop(StopArgs),
    /// Stop and start a VE.
    Restart(StopArgs),
    /// Print the VE's state in one line.
    Status { ctid: String },
    /// Mount the VE's private area at its root.
    Mount { ctid: String },
    /// Unmount the VE's root.
    Umount { ctid: String },
    /// Remove a stopped VE: its private area, root and config.
    #[command(alias = "delete")]
    Destroy { ctid: String },
    /// Run a command line inside a running VE with /bin/sh (`-` reads it from stdin).
    Exec {
        ctid: String,
        #[arg(required = true, trailing_var_arg = true, allow_hyphen_values = true)]
        command: Vec<String>,
    },
    /// Run a command inside a running VE; exits with the command's status.
    Exec2 {
        ctid: String,
        #[arg(required = true, trailing_var_arg = true, allow_hyphen_values = true)]
        command: Vec<String>,
    },
    /// Run a script from the host inside a running VE.
    Runscript {
        ctid: String,
        script: std::path::PathBuf,
    },
    /// An interactive shell on a new pty inside a running VE.
    Enter {
        ctid: String,
        /// Run this command instead of a login shell.
        #[arg(long, num_args = 1.., allow_hyphen_values = true)]
        exec: Vec<String>,
    },
    /// Change a VE's parameters, live where the kernel allows; --save writes them to its
    /// config.
    Set(Box<SetArgs>),
    /// Checkpoint a running VE into its dump (CRIU) and stop it.
    #[command(alias = "suspend")]
    Chkpnt(ChkpntArgs),
    /// Restore a VE from its dump and resume it.
    #[command(alias = "resume")]
    Restore(RestoreArgs),
    /// CRIU's action script during `vzctl restore` of VE CTID (CRTOOLS_SCRIPT_ACTION and
    /// CRTOOLS_INIT_PID in the environment): at setup-namespaces its restored root enters
    /// the VE; at post-setup-namespaces the VE's cgroups get their subtree controllers.
    #[command(hide = true)]
    CriuAction {
        ctid: u32,
        /// The dump being restored.
        #[arg(long)]
        dumpfile: std::path::PathBuf,
    },
    /// The host boots: start the VEs marked ONBOOT (for /etc/init.d/vz and vz.service).
    #[command(hide = true)]
    Boot,
    /// The host shuts down: stop every running VE.
    #[command(hide = true)]
    Shutdown,
}

/// `vzctl create`.
#[derive(Debug, clap::Args)]
pub struct CreateArgs {
    pub ctid: String,
    /// Template: /vz/template/cache/NAME.tar.{gz,xz}; DEF_OSTEMPLATE of vz.conf by default.
    #[arg(long)]
    pub ostemplate: Option<String>,
    /// Sample config: /etc/vz/conf/ve-NAME.conf-sample; CONFIGFILE of vz.conf by default.
    #[arg(long)]
    pub config: Option<String>,
    #[arg(long)]
    pub private: Option<String>,
    #[arg(long)]
    pub root: Option<String>,
    /// An IPv4 address for the VE (may be repeated).
    #[arg(long)]
    pub ipadd: Vec<String>,
    #[arg(long)]
    pub hostname: Option<String>,
    #[arg(long)]
    pub name: Option<String>,
    /// Host uid that the VE's uid 0 maps to (65536 ids from it); by default the lowest free
    /// range at or above vz.conf's LOCAL_UID.
    #[arg(long = "local_uid")]
    pub local_uid: Option<String>,
    /// Host gid that the VE's gid 0 maps to, as --local_uid (the same number when only
    /// one of the two is given).
    #[arg(long = "local_gid")]
    pub local_gid: Option<String>,
}

/// `vzctl chkpnt` (`suspend`). The stage options are vzmigrate's steps, one per call (two are
/// a syntax error); none does them all: suspend, dump, kill.
#[derive(Debug, clap::Args)]
pub struct ChkpntArgs {
    pub ctid: String,
    /// The dump directory (DUMPDIR/Dump.CTID by default).
    #[arg(long)]
    pub dumpfile: Option<std::path::PathBuf>,
    /// Only freeze the VE.
    #[arg(long)]
    pub suspend: bool,
    /// Only dump the frozen VE, leaving it frozen.
    #[arg(long)]
    pub dump: bool,
    /// Only kill the dumped VE and unmount it.
    #[arg(long)]
    pub kill: bool,
    /// Only thaw the frozen VE.
    #[arg(long)]
    pub resume: bool,
}

/// `vzctl restore` (`resume`). The stage options are vzmigrate's steps, one per call (two are
/// a syntax error); none does both: undump, resume.
#[derive(Debug, clap::Args)]
pub struct RestoreArgs {
    pub ctid: String,
    /// The dump directory (DUMPDIR/Dump.CTID by default).
    #[arg(long)]
    pub dumpfile: Option<std::path::PathBuf>,
    /// Only restore the VE, leaving it frozen.
    #[arg(long)]
    pub undump: bool,
    /// Only thaw the restored VE.
    #[arg(long)]
    pub resume: bool,
    /// Only kill the restored, still frozen VE (undoes --undump).
    #[arg(long)]
    pub kill: bool,
}

/// `vzctl stop` and `vzctl restart`.
#[derive(Debug, clap::Args)]
pub struct StopArgs {
    pub ctid: String,
    /// Kill the VE's tasks at once instead of halting it.
    #[arg(long)]
    pub fast: bool,
    /// Seconds to wait for the halt (STOP_TIMEOUT by default, 120).
    #[arg(long = "stop-timeout")]
    pub stop_timeout: Option<u32>,
}

/// `vzctl set`: every parameter is optional; what is given is applied.
#[derive(Debug, Default, clap::Args)]
pub struct SetArgs {
    pub ctid: String,
    /// Write the changes to the VE's config.
    #[arg(long)]
    pub save: bool,
    /// The beancounters: --numproc and the others of [`crate::params::UBC_PARAMS`].
    #[command(flatten)]
    pub ubc: UbcArgs,
    /// RAM: physpages 0:RAM.
    #[arg(long)]
    pub ram: Option<String>,
    /// Swap: swappages 0:SWAP.
    #[arg(long)]
    pub swap: Option<String>,
    #[arg(long)]
    pub hostname: Option<String>,
    #[arg(long)]
    pub onboot: Option<String>,
    /// Start order at boot: higher first.
    #[arg(long)]
    pub bootorder: Option<String>,
    #[arg(long)]
    pub name: Option<String>,
    #[arg(long)]
    pub description: Option<String>,
    #[arg(long)]
    pub cpuunits: Option<String>,
    #[arg(long)]
    pub cpulimit: Option<String>,
    #[arg(long)]
    pub cpus: Option<String>,
    #[arg(long)]
    pub nameserver: Vec<String>,
    #[arg(long)]
    pub applyconfig: Option<String>,
    /// Add an IPv4 address (may be repeated).
    #[arg(long)]
    pub ipadd: Vec<String>,
    /// Remove an address, or `all` (may be repeated).
    #[arg(long)]
    pub ipdel: Vec<String>,
    /// Disk space, soft[:hard], in KB unless a K/M/G/T suffix is given.
    #[arg(long)]
    pub diskspace: Option<String>,
    /// Inodes, soft[:hard].
    #[arg(long)]
    pub diskinodes: Option<String>,
    /// A device rule: b|c:major:minor|all:[r][w][q]|none (may be repeated).
    #[arg(long)]
    pub devices: Vec<String>,
    /// A host /dev node for the VE, made in its /dev: name:[r][w][q]|none (may be repeated).
    #[arg(long)]
    pub devnodes: Vec<String>,
}

/// Declares [`UbcArgs`]: one `--NAME` option per beancounter listed (with its short
/// option, if it has one), and [`UbcArgs::values`] over them. The list is
/// [`crate::params::UBC_PARAMS`]'s names, in its order; a unit test checks they agree.
macro_rules! ubc_args {
    ($($name:ident $(= $short:literal)?),+ $(,)?) => {
        /// `vzctl set`'s beancounter options, one per row of [`crate::params::UBC_PARAMS`].
        #[derive(Debug, Default, clap::Args)]
        pub struct UbcArgs {
            $(
                #[arg(long $(, short = $short)?)]
                pub $name: Option<String>,
            )+
        }

        impl UbcArgs {
            /// The beancounter options given, as (option name, value).
            pub fn values(&self) -> Vec<(&'static str, &str)> {
                [$((stringify!($name), &self.$name)),+]
                    .into_iter()
                    .filter_map(|(name, value)| value.as_deref().map(|v| (name, v)))
                    .collect()
            }
        }
    };
}

ubc_args! {
    numproc,
    numtcpsock,
    numothersock,
    vmguarpages,
    kmemsize = 'k',
    tcpsndbuf,
    tcprcvbuf = 'b',
    othersockbuf,
    dgramrcvbuf,
    oomguarpages,
    lockedpages = 'l',
    privvmpages,
    shmpages,
    numfile = 'n',
    numflock = 'f',
    numpty = 't',
    numsiginfo = 'i',
    dcachesize = 'x',
    numiptent = 'e',
    physpages,
    swappages,
}

/// vzlist: list virtual environments and their usage.
// `-h` is the hostname filter, as in OpenVZ; help is `--help` only. A repeated option
// overrides the earlier one (getopt's rule).
#[derive(Debug, Default, Parser)]
#[command(
    name = "vzlist",
    disable_version_flag = true,
    disable_help_flag = true,
    args_override_self = true,
    override_usage = "vzlist [-a|-S] [-n] [-H] [-t] [-j] [-o field[,field...] | -1] [-s [-]field]\n              \
                      [-h pattern] [-N pattern] [-d pattern] [CTID ...]\n       \
                      vzlist -L|--list"
)]
pub struct VzlistCli {
    /// Print the tools' version and, when the module answers, its ABI version.
    #[arg(long)]
    pub version: bool,
    /// Print help.
    #[arg(long, action = clap::ArgAction::Help)]
    pub help: Option<bool>,
    /// List all VEs, running or not.
    #[arg(short = 'a', long)]
    pub all: bool,
    /// List only the VEs that are not running (stopped, mounted or suspended).
    #[arg(short = 'S', long)]
    pub stopped: bool,
    /// Show names instead of CTIDs (columns smart_name,numproc,status,ip,hostname).
    #[arg(short = 'n', long)]
    pub name: bool,
    /// Do not print the column headers.
    #[arg(short = 'H', long = "no-header")]
    pub no_header: bool,
    /// Do not trim long values.
    #[arg(short = 't', long = "no-trim")]
    pub no_trim: bool,
    /// Print JSON: every field, or those of -o (without suffixes).
    #[arg(short = 'j', long)]
    pub json: bool,
    /// Print these fields (see -L).
    #[arg(short = 'o', long, value_name = "field[,field...]")]
    pub output: Option<String>,
    /// The same as -H -o ctid.
    #[arg(short = '1')]
    pub one: bool,
    /// Sort by this field; `-field` sorts in reverse.
    #[arg(short = 's', long, value_name = "[-]field", allow_hyphen_values = true)]
    pub sort: Option<String>,
    /// Only the VEs whose hostname matches this shell pattern.
    #[arg(short = 'h', long, value_name = "pattern")]
    pub hostname: Option<String>,
    /// Only the VEs whose name matches this shell pattern.
    #[arg(short = 'N', long = "name_filter", value_name = "pattern")]
    pub name_filter: Option<String>,
    /// Only the VEs whose description matches this shell pattern.
    #[arg(short = 'd', long, value_name = "pattern")]
    pub description: Option<String>,
    /// Print the field names and their column headers.
    #[arg(short = 'L', long)]
    pub list: bool,
    /// Only these VEs (numbers or names), in any state.
    #[arg(value_name = "CTID")]
    pub ctids: Vec<String>,
}

/// vzpid: map host PIDs to their VE and their PID inside it.
#[derive(Debug, Parser)]
#[command(
    name = "vzpid",
    disable_version_flag = true,
    override_usage = "vzpid [-p] <pid> ...\n       vzpid [-p] -"
)]
pub struct VzpidCli {
    /// Print the tools' version and, when the module answers, its ABI version.
    #[arg(long)]
    pub version: bool,
    /// Also show each task's pid inside its VE.
    #[arg(short = 'p', long = "pid")]
    pub with_vpid: bool,
    /// Host pids, or `-` to read them from standard input.
    #[arg(required_unless_present = "version")]
    pub pids: Vec<String>,
}

/// vzmigrate: move a VE to another host, offline or live. `vzmigrate [options] DESTINATION
/// CTID`; DESTINATION is a host name or address, `[user@]host`, reached with ssh.
#[derive(Debug, Parser)]
#[command(name = "vzmigrate", disable_version_flag = true)]
pub struct VzmigrateCli {
    /// Print the tools' version and, when the module answers, its ABI version.
    #[arg(long)]
    pub version: bool,
    /// DESTINATION CTID (with --agent: CTID alone).
    #[arg(value_name = "DESTINATION CTID", num_args = 0..=2)]
    pub targets: Vec<String>,
    /// Remove the VE from this host once it runs there (yes); with no, keep its private
    /// area and its config as CTID.conf.migrated.
    #[arg(short = 'r', long = "remove-area", value_parser = ["yes", "no"], default_value = "yes")]
    pub remove_area: String,
    /// On a failure, keep what was copied to the destination.
    #[arg(long)]
    pub keep_dst: bool,
    /// Live migration: the VE keeps running (frozen only for its last dump and restore).
    #[arg(long, alias = "live")]
    pub online: bool,
    /// Turn off the iterative pre-copy of a live migration's memory: one dump, all frozen.
    #[arg(long)]
    pub noiter: bool,
    /// Only check that the VE can move there; change nothing.
    #[arg(long, alias = "dry-run")]
    pub check_only: bool,
    /// Print the time of every phase and the total time the VE was frozen.
    #[arg(short = 't', long)]
    pub times: bool,
    /// With --times: the times as one JSON line.
    #[arg(long)]
    pub json: bool,
    /// Print more (implies --times); repeatable.
    #[arg(short = 'v', action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Extra options for ssh (e.g. --ssh="-p 2222 -i key").
    #[arg(long, allow_hyphen_values = true)]
    pub ssh: Option<String>,
    /// Extra options for rsync (e.g. --rsync="--bwlimit=10000").
    #[arg(long, allow_hyphen_values = true)]
    pub rsync: Option<String>,
    /// Skip the checks of what the VE depends on (cpu, ipv6, all); accepted for OpenVZ's
    /// callers: the destination's checks that keep the VE safe always run.
    #[arg(short = 'f', long = "nodeps", num_args = 0..=1, default_missing_value = "all")]
    pub nodeps: Option<String>,
    /// The destination's side of a migration, run by vzmigrate over ssh.
    #[arg(long, hide = true, value_enum)]
    pub agent: Option<AgentAction>,
    /// --agent check: the source's module ABI version.
    #[arg(long, hide = true)]
    pub abi: Option<u32>,
    /// --agent check: the source's `criu --version` first line.
    #[arg(long, hide = true)]
    pub criu: Option<String>,
    /// --agent check: the VE's addresses, separated by spaces.
    #[arg(long, hide = true)]
    pub ips: Option<String>,
    /// --agent check: the private area's size in KiB.
    #[arg(long, hide = true)]
    pub kbytes: Option<u64>,
    /// --agent check: the VE's LOCAL_UID and LOCAL_GID, as UID:GID.
    #[arg(long, hide = true)]
    pub ids: Option<String>,
}

/// What the destination's side of a migration does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum AgentAction {
    /// Check that the VE can come: module, ABI, CRIU, CTID, addresses, ids, disk space.
    Check,
    /// The VE's config and private area have arrived: register it (disk quota, name).
    Register,
    /// Remove what a failed migration brought (the VE must not run here).
    Undo,
    /// The migration is over: announce the VE's addresses again, remove its dumps.
    Finish,
}

/// Parses `args` for `P`, turning clap's failures into [`crate::error::VzError::Usage`] (exit
/// code 20) and its help output into `Ok(None)` after printing it.
pub fn parse<P: Parser, I, T>(args: I) -> Result<Option<P>, crate::error::VzError>
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    match P::try_parse_from(args) {
        Ok(parsed) => Ok(Some(parsed)),
        Err(err) if !err.use_stderr() => {
            // --help: clap's text goes to stdout and the command succeeds, also when the
            // reader stops early (`vzctl --help | head -n 1` reads the version line).
            use std::io::Write;
            let mut out = std::io::stdout().lock();
            match out
                .write_all(err.to_string().as_bytes())
                .and_then(|()| out.flush())
            {
                Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
                    Err(crate::error::VzError::System {
                        what: "write to stdout".into(),
                        source: e,
                    })
                }
                _ => Ok(None),
            }
        }
        Err(err) => Err(crate::error::VzError::Usage(err.render().to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_flag_parses() {
        let cli = parse::<VzctlCli, _, _>(["vzctl", "--version"])
            .unwrap()
            .unwrap();
        assert!(cli.version);
    }

    /// libvirt's reading of `LC_ALL=C vzctl --help` (openvz_conf.c openvzExtractVersionInfo,
    /// then virStringParseVersion with missing parts allowed), written anew: the output must
    /// start with `vzctl version `, then major[.minor[.micro]] in decimal, each part given at
    /// least one digit, minor and micro at most 999, anything after them ignored; the value is
    /// major * 1000000 + minor * 1000 + micro.
    fn libvirt_version(output: &str) -> Option<u64> {
        let mut rest = output.strip_prefix("vzctl version ")?;
        let mut parts = [0u64; 3];
        for (i, part) in parts.iter_mut().enumerate() {
            if i > 0 {
                match rest.strip_prefix('.') {
                    Some(after_dot) => rest = after_dot,
                    None => break,
                }
            }
            let digits = rest.len() - rest.trim_start_matches(|c: char| c.is_ascii_digit()).len();
            *part = rest.get(..digits)?.parse().ok()?;
            rest = rest.get(digits..)?;
        }
        let [major, minor, micro] = parts;
        (major <= u64::from(u32::MAX) / 1_000_000 && minor <= 999 && micro <= 999)
            .then_some(major * 1_000_000 + minor * 1000 + micro)
    }

    /// libvirt's `VZCTL_BRIDGE_MIN_VERSION`: from 3.0.23 on it passes bridges to --netif_add.
    const LIBVIRT_MODERN: u64 = 3_000_023;

    #[test]
    fn libvirt_reads_versions_as_it_does() {
        assert_eq!(
            libvirt_version("vzctl version 4.11.1\nCopyright"),
            Some(4_011_001)
        );
        assert_eq!(libvirt_version("vzctl version 3.0.22"), Some(3_000_022));
        assert_eq!(libvirt_version("vzctl version 5"), Some(5_000_000));
        assert_eq!(libvirt_version("vzctl version 5.1-rc1"), Some(5_001_000));
        assert_eq!(libvirt_version("vzctl version 1.1000.0"), None);
        assert_eq!(libvirt_version("vzctl version 1.2.x"), None);
        assert_eq!(libvirt_version("vzctl version x"), None);
        assert_eq!(libvirt_version("\nvzctl version 5.0.0"), None);
    }

    #[test]
    fn help_starts_with_the_version_line_libvirt_reads() {
        use clap::CommandFactory;
        let help = VzctlCli::command().render_help().to_string();
        let first = help.lines().next().unwrap();
        assert_eq!(first, crate::commands::version::VZCTL_VERSION_LINE);
        assert_eq!(first, format!("vzctl version {}", crate::TOOLS_VERSION));
        let version = libvirt_version(&help).unwrap();
        assert!(version >= LIBVIRT_MODERN, "{version}");
        // The usage follows, as before.
        assert!(help.contains("Usage: vzctl"), "{help}");
        // --help succeeds (exit 0) and needs no module.
        assert!(parse::<VzctlCli, _, _>(["vzctl", "--help"])
            .unwrap()
            .is_none());
    }

    #[test]
    fn unknown_option_is_a_usage_error() {
        let err = parse::<VzctlCli, _, _>(["vzctl", "--frobnicate"]).unwrap_err();
        assert_eq!(err.exit_code(), 20);
        assert!(err.to_string().contains("--frobnicate"));
    }

    #[test]
    fn every_beancounter_has_a_flag_and_every_flag_a_beancounter() {
        use clap::Args;
        let flags: Vec<String> = UbcArgs::augment_args(clap::Command::new("set"))
            .get_arguments()
            .filter_map(|arg| arg.get_long().map(str::to_owned))
            .collect();
        let names: Vec<&str> = crate::params::UBC_PARAMS.iter().map(|p| p.name).collect();
        assert_eq!(flags, names, "the same names, in the same order");
        // Each flag's value reaches `values` under its row's name.
        let mut argv = vec!["vzctl".to_owned(), "set".to_owned(), "101".to_owned()];
        for name in &names {
            argv.extend([format!("--{name}"), format!("{name}-value")]);
        }
        let cli = parse::<VzctlCli, _, _>(argv).unwrap().unwrap();
        let Some(VzctlCommand::Set(set)) = cli.command else {
            panic!("not parsed as set: {:?}", cli.command);
        };
        let values = set.ubc.values();
        assert_eq!(values.len(), names.len());
        for (name, value) in values {
            assert!(crate::params::ubc_param(name).is_some(), "{name}");
            assert_eq!(value, format!("{name}-value"));
        }
    }

    #[test]
    fn verbose_counts() {
        let cli = parse::<VzctlCli, _, _>(["vzctl", "--verbose", "--verbose"])
            .unwrap()
            .unwrap();
        assert_eq!(cli.verbose, 2);
    }
}

//! Command-line definitions of every tool (clap derive), in one place.

use clap::Parser;

/// vzctl: create, start, stop and manage virtual environments.
#[derive(Debug, Parser)]
#[command(name = "vzctl", disable_version_flag = true)]
pub struct VzctlCli {
    /// Print the tools' version and, when the module is loaded, its ABI version.
    #[arg(long)]
    pub version: bool,
    /// Print less.
    #[arg(long, global = true)]
    pub quiet: bool,
    /// Print more (may be repeated).
    #[arg(long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
}

/// vzlist: list virtual environments and their usage.
#[derive(Debug, Parser)]
#[command(name = "vzlist", disable_version_flag = true)]
pub struct VzlistCli {
    /// Print the tools' version and, when the module is loaded, its ABI version.
    #[arg(long)]
    pub version: bool,
}

/// vzpid: map host PIDs to their VE and their PID inside it.
#[derive(Debug, Parser)]
#[command(
    name = "vzpid",
    disable_version_flag = true,
    override_usage = "vzpid [-p] <pid> ...\n       vzpid [-p] -"
)]
pub struct VzpidCli {
    /// Print the tools' version and, when the module is loaded, its ABI version.
    #[arg(long)]
    pub version: bool,
    /// Also show each task's pid inside its VE.
    #[arg(short = 'p', long = "pid")]
    pub with_vpid: bool,
    /// Host pids, or `-` to read them from standard input.
    #[arg(required_unless_present = "version")]
    pub pids: Vec<String>,
}

/// vzmigrate: move a VE to another host, offline or live.
#[derive(Debug, Parser)]
#[command(name = "vzmigrate", disable_version_flag = true)]
pub struct VzmigrateCli {
    /// Print the tools' version and, when the module is loaded, its ABI version.
    #[arg(long)]
    pub version: bool,
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
            // --help: clap's text goes to stdout and the command succeeds.
            print!("{err}");
            Ok(None)
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

    #[test]
    fn unknown_option_is_a_usage_error() {
        let err = parse::<VzctlCli, _, _>(["vzctl", "--frobnicate"]).unwrap_err();
        assert_eq!(err.exit_code(), 20);
        assert!(err.to_string().contains("--frobnicate"));
    }

    #[test]
    fn verbose_counts() {
        let cli = parse::<VzctlCli, _, _>(["vzctl", "--verbose", "--verbose"])
            .unwrap()
            .unwrap();
        assert_eq!(cli.verbose, 2);
    }
}

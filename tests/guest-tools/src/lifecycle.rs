//! The lifecycle benchmark's timer: `time` runs a command several times and prints its
//! fastest and median wall time.

use std::process::{Command, Stdio};
use std::time::Instant;

#[derive(clap::Args)]
pub struct TimeArgs {
    /// How many times to run the command.
    #[arg(long, default_value_t = 10)]
    runs: u32,
    /// The command; its output goes to /dev/null and it must exit 0.
    #[arg(required = true, trailing_var_arg = true)]
    command: Vec<String>,
}

/// Prints `MIN_US MEDIAN_US` of `runs` runs of the command.
pub fn time(args: &TimeArgs) -> Result<(), String> {
    let (program, rest) = args.command.split_first().ok_or("no command")?;
    let mut took = Vec::new();
    for _ in 0..args.runs.max(1) {
        let began = Instant::now();
        let status = Command::new(program)
            .args(rest)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .map_err(|e| format!("{program}: {e}"))?;
        let micros = began.elapsed().as_micros();
        if !status.success() {
            return Err(format!("{}: {status}", args.command.join(" ")));
        }
        took.push(micros);
    }
    took.sort_unstable();
    let min = took.first().copied().unwrap_or_default();
    let median = took.get(took.len() / 2).copied().unwrap_or_default();
    println!("{min} {median}");
    Ok(())
}

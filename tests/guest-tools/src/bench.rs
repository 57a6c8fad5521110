//! Loops over the hooked paths, timed with the monotonic clock. `make bench` runs them with
//! the module loaded and not, in the same guest, and prints the ratios.

use nix::sys::wait::waitpid;
use nix::unistd::{fork, ForkResult};
use std::time::Instant;

#[derive(clap::Args)]
pub struct BenchArgs {
    /// Iterations of each loop per round.
    #[arg(long, default_value_t = 2000)]
    iterations: u32,
    /// Rounds; the fastest round counts, which filters out emulator noise.
    #[arg(long, default_value_t = 5)]
    rounds: u32,
}

fn best_ns_per_op(args: &BenchArgs, mut op: impl FnMut() -> Result<(), String>) -> Result<f64, String> {
    let mut best = f64::INFINITY;
    for _ in 0..args.rounds.max(1) {
        let start = Instant::now();
        for _ in 0..args.iterations.max(1) {
            op()?;
        }
        let ns = start.elapsed().as_nanos() as f64 / f64::from(args.iterations.max(1));
        best = best.min(ns);
    }
    Ok(best)
}

fn fork_exit_wait() -> Result<(), String> {
    // SAFETY: The child only calls _exit.
    match unsafe { fork() }.map_err(|e| format!("fork: {e}"))? {
        // SAFETY: _exit is async-signal-safe and ends the child at once.
        ForkResult::Child => unsafe { libc::_exit(0) },
        ForkResult::Parent { child } => {
            waitpid(child, None).map_err(|e| format!("waitpid: {e}"))?;
            Ok(())
        }
    }
}

fn socket_close() -> Result<(), String> {
    // SAFETY: Plain socket creation; the descriptor is closed right away.
    let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_STREAM, 0) };
    if fd < 0 {
        return Err(format!("socket: {}", std::io::Error::last_os_error()));
    }
    // SAFETY: `fd` was just opened by this function.
    unsafe { libc::close(fd) };
    Ok(())
}

fn open_close() -> Result<(), String> {
    std::fs::File::open("/dev/null")
        .map(drop)
        .map_err(|e| format!("open /dev/null: {e}"))
}

pub fn run(args: &BenchArgs) -> Result<(), String> {
    println!("fork_exit_wait {:.0}", best_ns_per_op(args, fork_exit_wait)?);
    println!("socket_close {:.0}", best_ns_per_op(args, socket_close)?);
    println!("open_close {:.0}", best_ns_per_op(args, open_close)?);
    Ok(())
}

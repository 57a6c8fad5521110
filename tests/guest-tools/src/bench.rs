//! Loops over the hooked and charged paths, timed with the monotonic clock. `make bench` runs them with
//! the module loaded and not, in the same guest, and prints the ratios.

use nix::sched::{sched_setaffinity, CpuSet};
use nix::sys::wait::waitpid;
use nix::unistd::{fork, ForkResult, Pid};
use std::time::Instant;

#[derive(clap::Args)]
pub struct BenchArgs {
    /// Iterations per round of the socket and open loops; the fork loop, a hundred times
    /// slower under emulation, runs a tenth of them.
    #[arg(long, default_value_t = 2000)]
    iterations: u32,
    /// Rounds; the fastest round counts, which filters out emulator noise.
    #[arg(long, default_value_t = 5)]
    rounds: u32,
}

fn best_ns_per_op(
    rounds: u32,
    iterations: u32,
    mut op: impl FnMut() -> Result<(), String>,
) -> Result<f64, String> {
    let iterations = iterations.max(1);
    let mut best = f64::INFINITY;
    for _ in 0..rounds.max(1) {
        let start = Instant::now();
        for _ in 0..iterations {
            op()?;
        }
        let ns = start.elapsed().as_nanos() as f64 / f64::from(iterations);
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

/// A regular file for `open_close_file`: numfile without a device-rule check.
const BENCH_FILE: &str = "/tmp/vz-bench-file";

fn open_close_file() -> Result<(), String> {
    std::fs::File::open(BENCH_FILE)
        .map(drop)
        .map_err(|e| format!("open {BENCH_FILE}: {e}"))
}

fn mmap_munmap() -> Result<(), String> {
    const LEN: usize = 16 * 4096;
    let ptr = crate::ubc::map_anonymous(LEN).map_err(|e| format!("mmap: {e}"))?;
    // SAFETY: Unmaps the mapping made above, once.
    unsafe { libc::munmap(ptr, LEN) };
    Ok(())
}

pub fn run(args: &BenchArgs) -> Result<(), String> {
    let (rounds, n) = (args.rounds, args.iterations);
    // One CPU for the loops and the children they fork: the instruction-counting guest clock
    // then measures work, not how two vCPUs happened to interleave.
    let mut cpus = CpuSet::new();
    cpus.set(0).map_err(|e| format!("cpu set: {e}"))?;
    sched_setaffinity(Pid::from_raw(0), &cpus).map_err(|e| format!("sched_setaffinity: {e}"))?;
    println!(
        "fork_exit_wait {:.0}",
        best_ns_per_op(rounds, n / 10, fork_exit_wait)?
    );
    println!(
        "socket_close {:.0}",
        best_ns_per_op(rounds, n, socket_close)?
    );
    println!("open_close {:.0}", best_ns_per_op(rounds, n, open_close)?);
    std::fs::write(BENCH_FILE, b"vz").map_err(|e| format!("{BENCH_FILE}: {e}"))?;
    println!(
        "open_close_file {:.0}",
        best_ns_per_op(rounds, n, open_close_file)?
    );
    println!("mmap_munmap {:.0}", best_ns_per_op(rounds, n, mmap_munmap)?);
    Ok(())
}

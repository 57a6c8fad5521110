//! vzattack: the isolation suite's attacks (tests/cases/95-isolation.sh), one subcommand per
//! syscall-level attempt a hostile VE root would make, for the calls busybox has no applet
//! for. Each attack prints one line and exits:
//!
//! - `refused ...` and 0: the kernel (or the tools) refused it;
//! - `allowed ...` and 1: it got through (for a positive control, the expected outcome);
//! - a message on stderr and 2: the attack could not even be set up (a broken case).
//!
//! A few subcommands are the host side of an attack (a listener, a handle maker, a pty that
//! stands for the admin's terminal): they print what they saw and exit 0.
//!
//! It is glibc-dynamic like the other tools: the case copies it with the libraries that
//! `vzattack libs` lists into the VE's private area. Every subcommand ends within its own
//! alarm, so no attack can hang a case.

#![allow(
    clippy::cast_possible_truncation,
    clippy::cast_possible_wrap,
    clippy::cast_sign_loss,
    reason = "a test tool that hands raw values to syscalls as the kernel's ABI types them \
              (fuzzed payloads are truncated on purpose)"
)]

mod fs;
mod net;
mod procs;
mod sys;

use nix::errno::Errno;
use std::ffi::CString;
use std::process::ExitCode;

/// What an attack came to.
pub enum Verdict {
    Refused(String),
    Allowed(String),
    /// A host-side helper's report.
    Info(String),
}

/// Err: the attack could not be set up.
pub type Outcome = Result<Verdict, String>;

pub use Verdict::{Allowed, Info, Refused};

/// The errno's symbolic name (EPERM, ENOSYS...).
pub fn ename(e: Errno) -> String {
    format!("{e:?}")
}

/// The symbolic name of an io::Error's errno, or its text.
pub fn io_ename(e: &std::io::Error) -> String {
    match e.raw_os_error() {
        Some(code) => ename(Errno::from_raw(code)),
        None => e.to_string(),
    }
}

/// A raw system call's result: -1 becomes the errno.
pub fn check(ret: libc::c_long) -> Result<libc::c_long, Errno> {
    if ret == -1 {
        Err(Errno::last())
    } else {
        Ok(ret)
    }
}

/// As [`check`], for calls returning int.
pub fn check_int(ret: libc::c_int) -> Result<libc::c_int, Errno> {
    if ret == -1 {
        Err(Errno::last())
    } else {
        Ok(ret)
    }
}

pub fn cstring(text: &str) -> Result<CString, String> {
    CString::new(text).map_err(|_| format!("{text:?} contains a NUL byte"))
}

pub fn number<T: std::str::FromStr>(text: &str) -> Result<T, String> {
    let parsed = match text.strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(hex, 16)
            .ok()
            .and_then(|n| n.to_string().parse().ok()),
        None => text.parse().ok(),
    };
    parsed.ok_or_else(|| format!("bad number '{text}'"))
}

/// The `index`th argument.
pub fn arg(args: &[String], index: usize, what: &str) -> Result<String, String> {
    args.get(index)
        .cloned()
        .ok_or_else(|| format!("missing argument: {what}"))
}

/// Ends the process after `seconds` (SIGALRM's default action), whatever it is doing.
pub fn deadline(seconds: u32) {
    // SAFETY: alarm only arms a timer.
    unsafe { libc::alarm(seconds) };
}

const USAGE: &str = "usage: vzattack SUBCOMMAND [ARGS...]; see tests/guest-tools/src/attack/";

fn run(args: &[String]) -> Outcome {
    let Some(command) = args.first() else {
        return Err(USAGE.into());
    };
    let rest = &args[1..];
    deadline(60);
    match command.as_str() {
        // Files and filesystems.
        "libs" => fs::libs(),
        "write" => fs::write(rest),
        "read" => fs::read(rest),
        "mount" => fs::mount(rest),
        "mknod" => fs::mknod(rest),
        "handle" => fs::handle(rest),
        "by-handle" => fs::by_handle(rest),
        "fsfreeze" => fs::fsfreeze(rest),
        "ext4-shutdown" => fs::ext4_shutdown(rest),
        "projid" => fs::projid(rest),
        "set-projid" => fs::set_projid(rest),
        "quota-get" => fs::quota_get(rest),
        "quota-set" => fs::quota_set(rest),
        "swapon" => fs::swapon(rest),
        "swapoff" => fs::swapoff(rest),
        "chroot-escape" => fs::chroot_escape(rest),
        "cwd-check" => fs::cwd_check(rest),
        // Kernel-wide calls.
        "perf-cpu" => sys::perf(false),
        "perf-self" => sys::perf(true),
        "bpf-prog" => sys::bpf_prog(rest),
        "bpf-leak" => sys::bpf_leak(),
        "bpf-map-hold" => sys::bpf_map_hold(rest),
        "bpf-map-attack" => sys::bpf_map_attack(rest),
        "bpf-pin" => sys::bpf_pin(rest),
        "bpf-token" => sys::bpf_token(rest),
        "kexec" => sys::kexec(),
        "reboot" => sys::reboot(rest),
        "init-module" => sys::init_module(rest),
        "settime" => sys::settime(rest),
        "settz" => sys::settz(rest),
        "adjtime" => sys::adjtime(rest),
        "clock-state" => sys::clock_state(),
        "time-unshare" => sys::time_unshare(),
        "iopl" => sys::iopl(),
        "setns" => sys::setns_host(rest),
        "ipc-make" => sys::ipc_make(rest),
        "ipc-check" => sys::ipc_check(rest),
        "ipc-attack" => sys::ipc_attack(rest),
        "key-add" => sys::key_add(rest),
        "key-check" => sys::key_check(rest),
        "key-attack" => sys::key_attack(rest),
        "acct" => sys::acct(rest),
        "ubset" => sys::ubset(rest),
        // Network.
        "veth-add" => net::veth_add(rest),
        "netns-push" => net::netns_push(rest),
        "dellink-netnsid" => net::dellink_netnsid(rest),
        "spoof-udp" => net::spoof_udp(rest),
        "udp-send" => net::udp_send(rest),
        "udp-recv" => net::udp_recv(rest),
        "sniff" => net::sniff(rest),
        "unix-listen" => net::unix_listen(rest),
        "unix-connect" => net::unix_connect(rest),
        // Processes, terminals, limits.
        "fifo-spin" => procs::fifo_spin(rest),
        "reopen-fd" => procs::reopen_fd(rest),
        "tiocsti" => procs::tiocsti(rest),
        "pty-run" => procs::pty_run(rest),
        "exe-race" => procs::exe_race(rest),
        "ptrace" => procs::ptrace(rest),
        "forkbomb" => procs::forkbomb(rest),
        "fdbomb" => procs::fdbomb(rest),
        other => Err(format!("unknown subcommand '{other}'; {USAGE}")),
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args) {
        Ok(Refused(what)) => {
            println!("refused {what}");
            ExitCode::SUCCESS
        }
        Ok(Allowed(what)) => {
            println!("allowed {what}");
            ExitCode::from(1)
        }
        Ok(Info(what)) => {
            println!("{what}");
            ExitCode::SUCCESS
        }
        Err(why) => {
            eprintln!("vzattack: {why}");
            ExitCode::from(2)
        }
    }
}

//! vztest: what the in-guest shell cases cannot do with the real tools alone: raw ioctls with
//! arbitrary command numbers, and calls made after dropping root.

use clap::{Parser, Subcommand};
use nix::errno::Errno;
use nix::unistd::{setgid, setgroups, setuid, Gid, Uid};
use std::fs::OpenOptions;
use std::os::fd::AsRawFd;
use std::os::unix::process::CommandExt;
use std::process::{Command, ExitCode};

#[derive(Parser)]
#[command(name = "vztest")]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Print the ABI version these tools were built with.
    AbiVersion,
    /// Open /dev/vzctl as root, optionally drop to `--uid`, issue one ioctl and print `ok` or
    /// the errno name (ENOTTY, EPERM, ...).
    Ioctl {
        /// `version` or a raw command number (decimal or 0x-hex).
        command: String,
        /// Drop to this uid (and gid) after opening the device, before the call.
        #[arg(long)]
        uid: Option<u32>,
    },
    /// Drop to `uid` (and gid, no supplementary groups) and exec a command.
    RunAs {
        uid: u32,
        #[arg(trailing_var_arg = true, required = true)]
        argv: Vec<String>,
    },
}

fn drop_to(uid: u32) -> Result<(), String> {
    setgroups(&[]).map_err(|e| format!("setgroups: {e}"))?;
    setgid(Gid::from_raw(uid)).map_err(|e| format!("setgid {uid}: {e}"))?;
    setuid(Uid::from_raw(uid)).map_err(|e| format!("setuid {uid}: {e}"))
}

fn parse_command(text: &str) -> Result<u32, String> {
    if text == "version" {
        return Ok(vz_abi::VZCTL_GET_VERSION);
    }
    let parsed = match text.strip_prefix("0x") {
        Some(hex) => u32::from_str_radix(hex, 16),
        None => text.parse(),
    };
    parsed.map_err(|e| format!("bad ioctl command '{text}': {e}"))
}

fn ioctl(command: &str, uid: Option<u32>) -> Result<(), String> {
    let cmd = parse_command(command)?;
    let device = OpenOptions::new()
        .read(true)
        .write(true)
        .open(vz_abi::VZCTL_DEVICE_PATH)
        .map_err(|e| format!("open {}: {e}", vz_abi::VZCTL_DEVICE_PATH))?;
    if let Some(uid) = uid {
        drop_to(uid)?;
    }
    // A buffer larger than any ABI struct, so a command that copies out cannot overrun it.
    let mut buf = [0u8; 4096];
    // SAFETY: `buf` is valid and writable for 4096 bytes; the size field of every command this
    // module knows is smaller, and unknown commands do not touch the argument.
    let ret = unsafe { libc::ioctl(device.as_raw_fd(), cmd as libc::c_ulong, buf.as_mut_ptr()) };
    if ret < 0 {
        println!("{:?}", Errno::last());
    } else {
        println!("ok");
    }
    Ok(())
}

fn main() -> ExitCode {
    let result = match Cli::parse().command {
        Cmd::AbiVersion => {
            println!("{}", vz_abi::VZ_ABI_VERSION);
            Ok(())
        }
        Cmd::Ioctl { command, uid } => ioctl(&command, uid),
        Cmd::RunAs { uid, argv } => match argv.split_first() {
            Some((program, args)) => drop_to(uid).and_then(|()| {
                let err = Command::new(program).args(args).exec();
                Err(format!("exec {program}: {err}"))
            }),
            None => Err("run-as needs a command".into()),
        },
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(msg) => {
            eprintln!("vztest: {msg}");
            ExitCode::FAILURE
        }
    }
}

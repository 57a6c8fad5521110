//! vztest: what the in-guest shell cases cannot do with the real tools alone: raw ioctls
//! with arbitrary command numbers and payloads, each VE ioctl on its own, calls made after
//! dropping root or entering a VE, inheritance probes, the ioctl fuzzer and the hook
//! benchmark loops.

#![allow(
    clippy::cast_possible_truncation,
    clippy::cast_possible_wrap,
    clippy::cast_sign_loss,
    reason = "a test tool that hands raw values to syscalls as the kernel's ABI types them \
              (fuzzed payloads are truncated on purpose)"
)]

mod bench;
mod fuzz;
mod keep;
mod lifecycle;
mod probe;
mod sockbuf;
mod ubc;

use clap::{Parser, Subcommand};
use nix::errno::Errno;
use nix::sched::{unshare, CloneFlags};
use nix::sys::wait::{waitpid, WaitStatus};
use nix::unistd::{fork, setgid, setgroups, setuid, ForkResult, Gid, Uid};
use std::fs::OpenOptions;
use std::os::fd::AsRawFd;
use std::os::unix::process::CommandExt;
use std::process::{Command, ExitCode};
use vz_abi as abi;
use vzctl::device::{ControlDevice, Vzctl};

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
    /// Open /dev/vzctl as root, optionally drop to `--uid` or enter `--enter VEID`, issue one
    /// ioctl with a zeroed 4 KiB buffer and print `ok` or the errno name (ENOTTY, EPERM...).
    Ioctl {
        /// `version`, `enter:VEID`, or a raw command number (decimal or 0x-hex).
        command: String,
        /// Drop to this uid (and gid) after opening the device, before the call.
        #[arg(long)]
        uid: Option<u32>,
        /// Enter this VE after opening the device, before the call.
        #[arg(long)]
        enter: Option<u32>,
    },
    /// Drop to `uid` (and gid, no supplementary groups) and exec a command.
    RunAs {
        uid: u32,
        #[arg(trailing_var_arg = true, required = true)]
        argv: Vec<String>,
    },
    /// Create a VE.
    Create { veid: u32 },
    /// Destroy a VE.
    Destroy { veid: u32 },
    /// Destroy every VE that has no task; print how many.
    DestroyAll,
    /// Print `veid state nproc init_pid created` of a VE.
    Info { veid: u32 },
    /// Print the ids of all VEs, one per line.
    List,
    /// Print `veid vpid` of a host pid.
    Pidinfo { pid: i32 },
    /// Set a device rule: KIND is c or b, DEV is MAJOR:MINOR, MAJOR:* or all, PERMS is any
    /// of r, w, m, or - for none.
    Setdev {
        veid: u32,
        kind: String,
        dev: String,
        perms: String,
    },
    /// Print the VE's device rules as `kind major minor flags perms`.
    Getdev { veid: u32 },
    /// Give a network device to a VE (add) or take it back (del); a number is sent as the
    /// raw op.
    Netdev { veid: u32, op: String, name: String },
    /// Enter a VE and exec a command. With --init: unshare the pid, mount and cgroup (and with
    /// --net the network) namespaces first, as vzctl start does, so the command runs as the
    /// VE's init (pid 1) and the cgroup vztest is in becomes the VE's (the root of the init's
    /// cgroup namespace); vztest waits for it and exits with its status.
    Enter {
        veid: u32,
        #[arg(long)]
        init: bool,
        #[arg(long)]
        net: bool,
        #[arg(trailing_var_arg = true, required = true)]
        argv: Vec<String>,
    },
    /// Print the envID of this process, of a forked child, of a thread and of a spawned
    /// (vfork-style clone + exec) command, from /proc.
    Inherit,
    /// Create TCP (listening and accepted), UDP and unix sockets and print the envID /proc
    /// shows for each.
    Sockets,
    /// Random ioctls with random payloads and pointers from several threads.
    Fuzz(fuzz::FuzzArgs),
    /// Time fork+exit+wait, socket+close and open+close loops.
    Bench(bench::BenchArgs),
    /// Set barrier[:limit] of a beancounter resource (numbers or `unlimited`).
    Ubset {
        veid: u32,
        resource: String,
        value: String,
    },
    /// Print `held maxheld barrier limit failcnt` of one resource (or `all`: every row as
    /// `name held maxheld barrier limit failcnt`).
    Ubget { veid: u32, resource: String },
    /// Limit a resource to what the VE holds plus COUNT, take objects inside the VE until one
    /// is refused, and report what the counters did.
    Ubtest(ubc::UbtestArgs),
    /// Map and touch MIB MiB of memory; print `survived` if not stopped.
    Hog { mib: usize },
    /// GET http://ADDR/PATH (IPv4 address and port, no name lookup: the guest's static
    /// busybox crashes resolving) and print the body; fails after 5 s without an answer.
    HttpGet {
        addr: std::net::SocketAddrV4,
        path: String,
    },
    /// Hold one of each kind of state a checkpoint carries (in and under DIR); on SIGUSR1
    /// check them and write `kept` or `lost: WHAT` to DIR/verdict.
    Keep { dir: std::path::PathBuf },
    /// Talk to a server at ADDR (tcp: an echo server over one connection; http: GET / over
    /// a new one each time) every 100 ms until FILE exists; print the answers and the
    /// longest gap between two of them; fail on a wrong or missing answer.
    Probe {
        kind: probe::Kind,
        addr: std::net::SocketAddrV4,
        #[arg(long)]
        until: std::path::PathBuf,
    },
    /// Run a command RUNS times and print its fastest and median wall time in microseconds.
    Time(lifecycle::TimeArgs),
    /// Inside a VE: the object-taking side of `ubtest` (internal).
    #[command(hide = true)]
    Acquire(ubc::AcquireArgs),
}

fn drop_to(uid: u32) -> Result<(), String> {
    setgroups(&[]).map_err(|e| format!("setgroups: {e}"))?;
    setgid(Gid::from_raw(uid)).map_err(|e| format!("setgid {uid}: {e}"))?;
    setuid(Uid::from_raw(uid)).map_err(|e| format!("setuid {uid}: {e}"))
}

fn parse_number(text: &str) -> Result<u32, String> {
    let parsed = match text.strip_prefix("0x") {
        Some(hex) => u32::from_str_radix(hex, 16),
        None => text.parse(),
    };
    parsed.map_err(|e| format!("bad number '{text}': {e}"))
}

fn open_device() -> Result<Vzctl, String> {
    Vzctl::open().map_err(|e| e.to_string())
}

fn raw_ioctl(command: &str, uid: Option<u32>, enter: Option<u32>) -> Result<(), String> {
    let device = OpenOptions::new()
        .read(true)
        .write(true)
        .open(abi::VZCTL_DEVICE_PATH)
        .map_err(|e| format!("open {}: {e}", abi::VZCTL_DEVICE_PATH))?;
    if let Some(veid) = enter {
        open_device()?.ve_enter(veid).map_err(|e| e.to_string())?;
    }
    if let Some(uid) = uid {
        drop_to(uid)?;
    }
    // A buffer larger than any ABI struct, so a command that copies out cannot overrun it.
    let mut buf = [0u8; 4096];
    let cmd = match command.split_once(':') {
        _ if command == "version" => abi::VZCTL_GET_VERSION,
        Some(("enter", veid)) => {
            buf[..4].copy_from_slice(&parse_number(veid)?.to_ne_bytes());
            abi::VZCTL_VE_ENTER
        }
        _ => parse_number(command)?,
    };
    // SAFETY: `buf` is valid and writable for 4096 bytes; the size field of every command
    // the module knows is smaller, and unknown commands do not touch the argument.
    let ret = unsafe { libc::ioctl(device.as_raw_fd(), cmd as libc::c_ulong, buf.as_mut_ptr()) };
    if ret < 0 {
        println!("{:?}", Errno::last());
    } else {
        println!("ok");
    }
    Ok(())
}

fn parse_rule(veid: u32, kind: &str, dev: &str, perms: &str) -> Result<abi::DevPerm, String> {
    let kind = match kind {
        "c" => abi::DEV_CHAR,
        "b" => abi::DEV_BLOCK,
        _ => return Err(format!("bad device kind '{kind}' (c or b)")),
    };
    let (major, minor, flags) = match dev.split_once(':') {
        _ if dev == "all" => (0, 0, abi::DEVPERM_ALL_DEVICES),
        Some((major, "*")) => (parse_number(major)?, 0, abi::DEVPERM_ALL_MINORS),
        Some((major, minor)) => (parse_number(major)?, parse_number(minor)?, 0),
        None => return Err(format!("bad device '{dev}' (MAJOR:MINOR, MAJOR:* or all)")),
    };
    let mut bits = 0;
    for c in perms.chars() {
        bits |= match c {
            'r' => abi::DEVPERM_READ,
            'w' => abi::DEVPERM_WRITE,
            'm' => abi::DEVPERM_MKNOD,
            '-' => 0,
            _ => return Err(format!("bad permission '{c}' (r, w, m or -)")),
        };
    }
    Ok(abi::DevPerm {
        veid,
        kind,
        major,
        minor,
        flags,
        perms: bits,
    })
}

fn exec(argv: &[String]) -> Result<(), String> {
    let Some((program, args)) = argv.split_first() else {
        return Err("no command given".into());
    };
    let err = Command::new(program).args(args).exec();
    Err(format!("exec {program}: {err}"))
}

fn enter(veid: u32, init: bool, net: bool, argv: &[String]) -> Result<(), String> {
    let device = open_device()?;
    if !init {
        device.ve_enter(veid).map_err(|e| e.to_string())?;
        drop(device);
        return exec(argv);
    }
    let mut flags =
        CloneFlags::CLONE_NEWPID | CloneFlags::CLONE_NEWNS | CloneFlags::CLONE_NEWCGROUP;
    if net {
        flags |= CloneFlags::CLONE_NEWNET;
    }
    unshare(flags).map_err(|e| format!("unshare: {e}"))?;
    // SAFETY: Single-threaded here; the child only enters the VE and execs.
    match unsafe { fork() }.map_err(|e| format!("fork: {e}"))? {
        ForkResult::Child => {
            let result = device
                .ve_enter(veid)
                .map_err(|e| e.to_string())
                .and_then(|()| {
                    drop(device);
                    exec(argv)
                });
            if let Err(msg) = result {
                eprintln!("vztest: {msg}");
            }
            std::process::exit(127);
        }
        ForkResult::Parent { child } => {
            drop(device);
            match waitpid(child, None).map_err(|e| format!("waitpid: {e}"))? {
                WaitStatus::Exited(_, 0) => Ok(()),
                other => Err(format!("init exited: {other:?}")),
            }
        }
    }
}

fn env_id(path: &str) -> String {
    std::fs::read_to_string(path)
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|l| l.strip_prefix("envID:").map(|v| v.trim().to_owned()))
        })
        .unwrap_or_else(|| "missing".into())
}

fn inherit() -> Result<(), String> {
    let own = env_id("/proc/self/status");
    // std spawns with clone(CLONE_VM | CLONE_VFORK) and exec.
    let spawned = Command::new("awk")
        .args(["/^envID:/ { print $2 }", "/proc/self/status"])
        .output()
        .map_err(|e| format!("spawn awk: {e}"))?;
    let spawned = String::from_utf8_lossy(&spawned.stdout).trim().to_owned();
    let thread = std::thread::spawn(|| env_id("/proc/thread-self/status"))
        .join()
        .map_err(|_| "thread failed".to_string())?;
    let (reader, writer) = std::io::pipe().map_err(|e| e.to_string())?;
    // SAFETY: The child only reads /proc, writes to a pipe and exits.
    match unsafe { fork() }.map_err(|e| format!("fork: {e}"))? {
        ForkResult::Child => {
            use std::io::Write;
            let mut writer = writer;
            let _ = write!(writer, "{}", env_id("/proc/self/status"));
            std::process::exit(0);
        }
        ForkResult::Parent { child } => {
            drop(writer);
            let forked = std::io::read_to_string(reader).map_err(|e| e.to_string())?;
            waitpid(child, None).map_err(|e| format!("waitpid: {e}"))?;
            println!("self={own} fork={forked} thread={thread} spawn={spawned}");
            Ok(())
        }
    }
}

fn sockets() -> Result<(), String> {
    use std::io::{Read, Write};
    use std::net::{TcpListener, UdpSocket};
    use std::os::unix::net::UnixDatagram;
    let fd_env = |fd: i32| env_id(&format!("/proc/self/fdinfo/{fd}"));
    let tcp = TcpListener::bind("127.0.0.1:0").map_err(|e| format!("tcp: {e}"))?;
    let addr = tcp.local_addr().map_err(|e| format!("tcp: {e}"))?;
    let mut client = std::net::TcpStream::connect(addr).map_err(|e| format!("connect: {e}"))?;
    let (mut accepted, _) = tcp.accept().map_err(|e| format!("accept: {e}"))?;
    let udp = UdpSocket::bind("127.0.0.1:0").map_err(|e| format!("udp: {e}"))?;
    let (unix, unix_peer) = UnixDatagram::pair().map_err(|e| format!("unix: {e}"))?;
    // Data through each, so that socket buffers are charged and given back too.
    let data = [0x5a_u8; 3000];
    let mut got = [0_u8; 3000];
    client
        .write_all(&data)
        .map_err(|e| format!("tcp send: {e}"))?;
    accepted
        .read_exact(&mut got)
        .map_err(|e| format!("tcp recv: {e}"))?;
    let udp_addr = udp.local_addr().map_err(|e| format!("udp: {e}"))?;
    udp.send_to(&data, udp_addr)
        .map_err(|e| format!("udp send: {e}"))?;
    udp.recv(&mut got).map_err(|e| format!("udp recv: {e}"))?;
    unix.send(&data).map_err(|e| format!("unix send: {e}"))?;
    unix_peer
        .recv(&mut got)
        .map_err(|e| format!("unix recv: {e}"))?;
    println!(
        "tcp={} accepted={} udp={} unix={}",
        fd_env(tcp.as_raw_fd()),
        fd_env(accepted.as_raw_fd()),
        fd_env(udp.as_raw_fd()),
        fd_env(unix.as_raw_fd())
    );
    Ok(())
}

fn run(command: Cmd) -> Result<(), String> {
    let err = |e: vzctl::error::VzError| e.to_string();
    match command {
        Cmd::AbiVersion => println!("{}", abi::VZ_ABI_VERSION),
        Cmd::Ioctl {
            command,
            uid,
            enter,
        } => raw_ioctl(&command, uid, enter)?,
        Cmd::RunAs { uid, argv } => {
            drop_to(uid)?;
            exec(&argv)?;
        }
        Cmd::Create { veid } => open_device()?.ve_create(veid).map_err(err)?,
        Cmd::Destroy { veid } => open_device()?.ve_destroy(veid).map_err(err)?,
        Cmd::DestroyAll => {
            let device = open_device()?;
            let mut destroyed = 0;
            for id in device.ve_list().map_err(err)? {
                if device.ve_destroy(id).is_ok() {
                    destroyed += 1;
                }
            }
            println!("{destroyed}");
        }
        Cmd::Info { veid } => {
            // The module's one "no such VE" answer, ENOENT, printed as any other failure.
            let i = open_device()?.ve_info(veid).map_err(err)?.ok_or_else(|| {
                format!(
                    "VE_INFO: {}",
                    std::io::Error::from_raw_os_error(libc::ENOENT)
                )
            })?;
            println!(
                "{} {} {} {} {}",
                i.veid, i.state, i.nproc, i.init_pid, i.created
            );
        }
        Cmd::List => {
            for id in open_device()?.ve_list().map_err(err)? {
                println!("{id}");
            }
        }
        Cmd::Pidinfo { pid } => {
            let info = open_device()?.pid_info(pid).map_err(err)?;
            println!("{} {}", info.veid, info.vpid);
        }
        Cmd::Setdev {
            veid,
            kind,
            dev,
            perms,
        } => open_device()?
            .set_devperm(parse_rule(veid, &kind, &dev, &perms)?)
            .map_err(err)?,
        Cmd::Getdev { veid } => {
            for r in open_device()?.devperms(veid).map_err(err)? {
                let kind = if r.kind == abi::DEV_CHAR { 'c' } else { 'b' };
                println!("{kind} {} {} {} {}", r.major, r.minor, r.flags, r.perms);
            }
        }
        Cmd::Netdev { veid, op, name } => {
            // A number is passed through as is, so cases can send an undefined op.
            let op = match op.as_str() {
                "add" => abi::NETDEV_ADD,
                "del" => abi::NETDEV_DEL,
                other => parse_number(other)?,
            };
            open_device()?.netdev(veid, op, &name).map_err(err)?;
        }
        Cmd::Enter {
            veid,
            init,
            net,
            argv,
        } => enter(veid, init, net, &argv)?,
        Cmd::Inherit => inherit()?,
        Cmd::Sockets => sockets()?,
        Cmd::Fuzz(args) => fuzz::run(&args)?,
        Cmd::Bench(args) => bench::run(&args)?,
        Cmd::Ubset {
            veid,
            resource,
            value,
        } => ubc::ubset(veid, &resource, &value)?,
        Cmd::Ubget { veid, resource } => ubc::ubget(veid, &resource)?,
        Cmd::Ubtest(args) => ubc::ubtest(&args)?,
        Cmd::Acquire(args) => ubc::acquire(&args)?,
        Cmd::Hog { mib } => ubc::hog(mib)?,
        Cmd::HttpGet { addr, path } => {
            print!(
                "{}",
                probe::http_get(addr, &path, std::time::Duration::from_secs(5))?
            )
        }
        Cmd::Keep { dir } => keep::run(&dir)?,
        Cmd::Probe { kind, addr, until } => probe::run(kind, addr, &until)?,
        Cmd::Time(args) => lifecycle::time(&args)?,
    }
    Ok(())
}

fn main() -> ExitCode {
    match run(Cli::parse().command) {
        Ok(()) => ExitCode::SUCCESS,
        Err(msg) => {
            eprintln!("vztest: {msg}");
            ExitCode::FAILURE
        }
    }
}

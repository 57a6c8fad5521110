//! Beancounter probes. `ubtest` runs on the host: it starts `acquire` inside a VE, sets the
//! resource's barrier and limit to what the VE holds plus COUNT, lets `acquire` take objects
//! until the kernel refuses one, and reports what the counters did at each step.

use crate::sockbuf;
use nix::errno::Errno;
use nix::sys::signal::{kill, Signal};
use nix::sys::wait::waitpid;
use nix::unistd::{fork, pause, pipe, ForkResult, Pid};
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::os::fd::{AsRawFd, FromRawFd, IntoRawFd, OwnedFd, RawFd};
use std::os::unix::fs::FileExt;
use std::os::unix::process::CommandExt;
use std::process::Command;
use vz_abi as abi;
use vzctl::device::{ControlDevice, Vzctl};

/// `ubtest` arguments.
#[derive(clap::Args)]
pub struct UbtestArgs {
    veid: u32,
    /// numproc, numfile, numtcpsock, numothersock, numflock, numpty, numsiginfo, privvmpages,
    /// lockedpages, shmpages (pages of a file in the tmpfs mounted at /tmp/vzshm), or a socket
    /// buffer row (tcpsndbuf, tcprcvbuf, othersockbuf, dgramrcvbuf; see `sockbuf::fill`).
    resource: String,
    /// How many objects (pages, bytes) above what the VE holds the barrier allows.
    count: u64,
    /// The limit is this much above the barrier (where a send in flight may pass the barrier).
    #[arg(long, default_value_t = 0)]
    slack: u64,
}

/// `acquire` arguments (internal: started by `ubtest`).
#[derive(clap::Args)]
pub struct AcquireArgs {
    resource: String,
    /// Stop after this many objects even if none was refused.
    count: u64,
    /// Read end of the pipe from `ubtest`.
    rfd: RawFd,
    /// Write end of the pipe to `ubtest`.
    wfd: RawFd,
    /// numtcpsock/accept: TCP sockets `ubtest` made on the host (so they are not charged),
    /// to connect to the listener in the VE.
    #[arg(long, value_delimiter = ',')]
    clients: Vec<RawFd>,
}

fn resource_index(name: &str) -> Result<u32, String> {
    abi::UB_NAMES
        .iter()
        .position(|n| *n == name && n != &"dummy")
        .and_then(|i| u32::try_from(i).ok())
        .ok_or_else(|| format!("unknown resource '{name}'"))
}

fn parse_value(text: &str) -> Result<u64, String> {
    if text == "unlimited" {
        return Ok(abi::UB_UNLIMITED);
    }
    text.parse().map_err(|e| format!("bad value '{text}': {e}"))
}

/// Sets `barrier[:limit]`; the raw numbers go to the kernel unchecked, so that tests see its
/// own validation.
pub fn ubset(veid: u32, resource: &str, value: &str) -> Result<(), String> {
    let index = match resource.parse::<u32>() {
        Ok(raw) => raw,
        Err(_) => resource_index(resource)?,
    };
    let (barrier, limit) = match value.split_once(':') {
        Some((b, l)) => (parse_value(b)?, parse_value(l)?),
        None => (parse_value(value)?, parse_value(value)?),
    };
    let device = Vzctl::open().map_err(|e| e.to_string())?;
    device
        .ub_set(veid, index, barrier, limit)
        .map_err(|e| e.to_string())
}

pub fn ubget(veid: u32, resource: &str) -> Result<(), String> {
    let device = Vzctl::open().map_err(|e| e.to_string())?;
    let all = device.ub_get(veid).map_err(|e| e.to_string())?;
    for (name, c) in abi::UB_NAMES.iter().zip(all.iter()) {
        if resource == "all" {
            println!(
                "{name} {} {} {} {} {}",
                c.held, c.maxheld, c.barrier, c.limit, c.failcnt
            );
        } else if *name == resource {
            println!(
                "{} {} {} {} {}",
                c.held, c.maxheld, c.barrier, c.limit, c.failcnt
            );
            return Ok(());
        }
    }
    if resource == "all" {
        Ok(())
    } else {
        Err(format!("unknown resource '{resource}'"))
    }
}

fn counter(device: &Vzctl, veid: u32, resource: u32) -> Result<abi::UbCounter, String> {
    let all = device.ub_get(veid).map_err(|e| e.to_string())?;
    all.get(resource as usize)
        .copied()
        .ok_or_else(|| "resource out of range".to_string())
}

/// The counter once held is `want`, or after 5 s: a closed TCP socket lives on in the kernel
/// until its connection is torn down.
fn settled(device: &Vzctl, veid: u32, resource: u32, want: u64) -> Result<abi::UbCounter, String> {
    for _ in 0..50 {
        let now = counter(device, veid, resource)?;
        if now.held == want {
            return Ok(now);
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    counter(device, veid, resource)
}

/// One line each way over a pipe pair.
struct Channel {
    reader: BufReader<File>,
    writer: File,
}

impl Channel {
    fn new(rfd: OwnedFd, wfd: OwnedFd) -> Self {
        Channel {
            reader: BufReader::new(File::from(rfd)),
            writer: File::from(wfd),
        }
    }

    fn send(&mut self, line: &str) -> Result<(), String> {
        writeln!(self.writer, "{line}").map_err(|e| format!("pipe write: {e}"))
    }

    fn recv(&mut self) -> Result<String, String> {
        let mut line = String::new();
        match self.reader.read_line(&mut line) {
            Ok(0) => Err("the other side closed the pipe".into()),
            Ok(_) => Ok(line.trim_end().to_string()),
            Err(e) => Err(format!("pipe read: {e}")),
        }
    }

    fn expect(&mut self, want: &str) -> Result<String, String> {
        let line = self.recv()?;
        if line.starts_with(want) {
            Ok(line)
        } else {
            Err(format!("expected '{want}', got '{line}'"))
        }
    }
}

pub fn ubtest(args: &UbtestArgs) -> Result<(), String> {
    let device = Vzctl::open().map_err(|e| e.to_string())?;
    // RESOURCE/METHOD names another way to take the same row.
    let row = args.resource.split('/').next().unwrap_or_default();
    let resource = resource_index(row)?;
    let (to_child_r, to_child_w) = pipe().map_err(|e| format!("pipe: {e}"))?;
    let (from_child_r, from_child_w) = pipe().map_err(|e| format!("pipe: {e}"))?;
    // SAFETY: Single-threaded here; the child only enters the VE and execs.
    match unsafe { fork() }.map_err(|e| format!("fork: {e}"))? {
        ForkResult::Child => {
            drop((to_child_w, from_child_r));
            let clients = if args.resource == "numtcpsock/accept" {
                (0..=args.count)
                    .map(|_| new_socket(libc::SOCK_STREAM).map(|fd| fd.into_raw_fd().to_string()))
                    .collect::<Result<Vec<_>, _>>()
                    .map(|fds| vec![format!("--clients={}", fds.join(","))])
            } else {
                Ok(Vec::new())
            };
            let err = match (clients, device.ve_enter(args.veid)) {
                (Ok(clients), Ok(())) => Command::new("/proc/self/exe")
                    .args(["acquire", &args.resource, &(args.count + 1).to_string()])
                    .arg(to_child_r.into_raw_fd().to_string())
                    .arg(from_child_w.into_raw_fd().to_string())
                    .args(clients)
                    .exec()
                    .to_string(),
                (Err(e), _) => e.to_string(),
                (_, Err(e)) => e.to_string(),
            };
            eprintln!("vztest ubtest child: {err}");
            std::process::exit(1);
        }
        ForkResult::Parent { child } => {
            drop((to_child_r, from_child_w));
            let mut chan = Channel::new(from_child_r, to_child_w);
            let result = drive(&device, args, resource, &mut chan);
            drop(chan);
            let _ = waitpid(child, None);
            let after_exit = settled(&device, args.veid, resource, 0)?;
            // Leave the VE as it was: unlimited.
            device
                .ub_set(args.veid, resource, abi::UB_UNLIMITED, abi::UB_UNLIMITED)
                .map_err(|e| e.to_string())?;
            println!("{} exit_held {}", result?, after_exit.held);
            Ok(())
        }
    }
}

/// The host side of the exchange; returns the report without the final `exit_held`.
fn drive(
    device: &Vzctl,
    args: &UbtestArgs,
    resource: u32,
    chan: &mut Channel,
) -> Result<String, String> {
    chan.expect("ready")?;
    let before = counter(device, args.veid, resource)?;
    let barrier = before.held + args.count;
    let limit = barrier + args.slack;
    device
        .ub_set(args.veid, resource, barrier, limit)
        .map_err(|e| e.to_string())?;
    chan.send("go")?;
    let acquired = chan.expect("acquired")?;
    let at_limit = counter(device, args.veid, resource)?;
    chan.send("release")?;
    chan.expect("released")?;
    let released = settled(device, args.veid, resource, before.held)?;
    Ok(format!(
        "{acquired} failcnt_delta {} held_delta {} maxheld_within_limit {} released_delta {}",
        at_limit.failcnt - before.failcnt,
        at_limit.held.wrapping_sub(before.held) as i64,
        if at_limit.maxheld <= limit {
            "yes"
        } else {
            "no"
        },
        released.held.wrapping_sub(before.held) as i64,
    ))
}

/// Something `acquire` holds until told to release it.
enum Held {
    Fd(OwnedFd),
    Child(Pid),
    Mapping(*mut libc::c_void),
    /// A byte-range lock on the lock file, a queued signal, a page of the shm segment:
    /// released all at once with the workspace.
    Nothing,
}

const PAGE: usize = 4096;

/// Where `shmpages` writes: the test mounts a tmpfs here.
const SHM_DIR: &str = "/tmp/vzshm";

/// A SysV shared memory segment, attached.
struct SysvSegment {
    id: libc::c_int,
    addr: *mut libc::c_void,
}

impl Drop for SysvSegment {
    fn drop(&mut self) {
        // SAFETY: Detaches the segment attached in `Workspace::new` and marks it for removal;
        // its pages are freed with the last detach.
        unsafe {
            libc::shmdt(self.addr);
            libc::shmctl(self.id, libc::IPC_RMID, core::ptr::null_mut());
        }
    }
}

/// What `acquire` sets up before the limit is set (so it counts in the baseline), by resource:
/// the lock or tmpfs file, the SysV segment, the listener (and the host's client sockets).
#[derive(Default)]
struct Workspace {
    file: Option<File>,
    segment: Option<SysvSegment>,
    listener: Option<TcpListener>,
    clients: Vec<Option<OwnedFd>>,
}

impl Workspace {
    fn new(resource: &str, count: u64, clients: &[RawFd]) -> Result<Self, String> {
        let mut work = Workspace::default();
        match resource {
            "numflock" | "numflock/flock" | "shmpages" => {
                let dir = if resource == "shmpages" {
                    SHM_DIR
                } else {
                    "/tmp"
                };
                let path = format!("{dir}/vztest-{}", std::process::id());
                let file = OpenOptions::new()
                    .read(true)
                    .write(true)
                    .create(true)
                    .truncate(true)
                    .open(&path)
                    .map_err(|e| format!("{path}: {e}"))?;
                let _ = std::fs::remove_file(&path);
                work.file = Some(file);
            }
            "shmpages/sysv" => {
                let len = usize::try_from(count)
                    .ok()
                    .and_then(|c| c.checked_mul(PAGE))
                    .ok_or("segment size overflows")?;
                // SAFETY: Creates a private segment; no memory is touched.
                let id = unsafe { libc::shmget(libc::IPC_PRIVATE, len, libc::IPC_CREAT | 0o600) };
                if id < 0 {
                    return Err(format!("shmget: {}", Errno::last()));
                }
                // SAFETY: Attaches the segment just made at an address the kernel picks.
                let addr = unsafe { libc::shmat(id, core::ptr::null(), 0) };
                if addr as isize == -1 {
                    let err = Errno::last();
                    // Dropping it removes the segment; shmdt(NULL) fails harmlessly.
                    drop(SysvSegment {
                        id,
                        addr: core::ptr::null_mut(),
                    });
                    return Err(format!("shmat: {err}"));
                }
                work.segment = Some(SysvSegment { id, addr });
            }
            "numtcpsock/accept" => {
                work.listener =
                    Some(TcpListener::bind("127.0.0.1:0").map_err(|e| format!("bind: {e}"))?);
                // SAFETY: `ubtest` made these sockets for this process; nothing else owns them.
                work.clients = clients
                    .iter()
                    .map(|&fd| Some(unsafe { OwnedFd::from_raw_fd(fd) }))
                    .collect();
            }
            "numsiginfo" => {
                // Blocked, so that queued instances stay pending (and charged).
                // SAFETY: Plain libc signal-set calls on a local set.
                unsafe {
                    let mut set: libc::sigset_t = core::mem::zeroed();
                    libc::sigemptyset(&mut set);
                    libc::sigaddset(&mut set, libc::SIGRTMIN());
                    libc::sigprocmask(libc::SIG_BLOCK, &set, core::ptr::null_mut());
                }
            }
            _ => {}
        }
        Ok(work)
    }
}

/// A new private, writable anonymous mapping of `len` bytes, which the caller unmaps.
pub fn map_anonymous(len: usize) -> Result<*mut libc::c_void, Errno> {
    map_anonymous_with(len, 0)
}

fn map_anonymous_with(len: usize, flags: libc::c_int) -> Result<*mut libc::c_void, Errno> {
    // SAFETY: Asks for a fresh mapping; no existing memory is touched.
    let ptr = unsafe {
        libc::mmap(
            core::ptr::null_mut(),
            len,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | flags,
            -1,
            0,
        )
    };
    if ptr == libc::MAP_FAILED {
        Err(Errno::last())
    } else {
        Ok(ptr)
    }
}

/// A private anonymous page, locked if `lock`.
fn map_page(lock: bool) -> Result<Held, Errno> {
    let ptr = map_anonymous(PAGE)?;
    // SAFETY: `ptr` is the page just mapped.
    if lock && unsafe { libc::mlock(ptr, PAGE) } != 0 {
        let err = Errno::last();
        // SAFETY: Unmaps the page mapped above, once.
        unsafe { libc::munmap(ptr, PAGE) };
        return Err(err);
    }
    Ok(Held::Mapping(ptr))
}

/// Connects client `index` to the listener and accepts it: the accepted socket is the object.
/// A connection the kernel refused to create is never accepted: after a moment with nothing
/// to accept, the client is reset (so that no retried handshake is refused again) and the
/// refusal reported as EAGAIN.
fn accept_one(work: &mut Workspace, index: u64) -> Result<Held, Errno> {
    let listener = work.listener.as_ref().ok_or(Errno::EBADF)?;
    let slot = usize::try_from(index)
        .ok()
        .and_then(|i| work.clients.get_mut(i))
        .ok_or(Errno::EINVAL)?;
    let client = slot.as_ref().ok_or(Errno::EBADF)?;
    let addr = listener.local_addr().map_err(io_errno)?;
    sockbuf::connect(client, addr)?;
    let mut poll = libc::pollfd {
        fd: listener.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: One live pollfd.
    if unsafe { libc::poll(&mut poll, 1, 300) } == 1 {
        let (accepted, _) = listener.accept().map_err(io_errno)?;
        return Ok(Held::Fd(accepted.into()));
    }
    let linger = libc::linger {
        l_onoff: 1,
        l_linger: 0,
    };
    // SAFETY: Valid fd, and a pointer to a live linger of the size passed.
    unsafe {
        libc::setsockopt(
            client.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            (&linger as *const libc::linger).cast(),
            size_of::<libc::linger>() as libc::socklen_t,
        )
    };
    *slot = None;
    Err(Errno::EAGAIN)
}

fn acquire_one(resource: &str, index: u64, work: &mut Workspace) -> Result<Held, Errno> {
    match resource {
        "numfile" => File::open("/dev/null")
            .map(|f| Held::Fd(f.into()))
            .map_err(io_errno),
        "numpty" => OpenOptions::new()
            .read(true)
            .write(true)
            .open("/dev/ptmx")
            .map(|f| Held::Fd(f.into()))
            .map_err(io_errno),
        "numtcpsock" => new_socket(libc::SOCK_STREAM).map(Held::Fd),
        "numtcpsock/accept" => accept_one(work, index),
        "numothersock" => new_socket(libc::SOCK_DGRAM).map(Held::Fd),
        "numproc" => {
            // SAFETY: The child only waits to be killed.
            match unsafe { fork() }? {
                ForkResult::Child => loop {
                    pause();
                },
                ForkResult::Parent { child } => Ok(Held::Child(child)),
            }
        }
        "numflock" => {
            let file = work.file.as_ref().ok_or(Errno::EBADF)?;
            // Every other byte, so that no two locks merge into one.
            // SAFETY: `flock` is a plain C struct; zero is a valid start.
            let mut lock: libc::flock = unsafe { core::mem::zeroed() };
            lock.l_type = libc::F_WRLCK as i16;
            lock.l_whence = libc::SEEK_SET as i16;
            lock.l_start = i64::try_from(index * 2).map_err(|_| Errno::EINVAL)?;
            lock.l_len = 1;
            // SAFETY: Valid fd and a pointer to a live flock struct.
            Errno::result(unsafe { libc::fcntl(file.as_raw_fd(), libc::F_SETLK, &lock) })?;
            Ok(Held::Nothing)
        }
        "numflock/flock" => {
            // Each open of the file is its own flock() owner; shared locks never conflict.
            let file = work.file.as_ref().ok_or(Errno::EBADF)?;
            let again =
                File::open(format!("/proc/self/fd/{}", file.as_raw_fd())).map_err(io_errno)?;
            // SAFETY: Valid fd.
            Errno::result(unsafe {
                libc::flock(again.as_raw_fd(), libc::LOCK_SH | libc::LOCK_NB)
            })?;
            Ok(Held::Fd(again.into()))
        }
        "numsiginfo" => {
            let value = libc::sigval {
                sival_ptr: core::ptr::null_mut(),
            };
            // SAFETY: Queues a signal to this process, which blocks it.
            Errno::result(unsafe { libc::sigqueue(libc::getpid(), libc::SIGRTMIN(), value) })?;
            Ok(Held::Nothing)
        }
        "privvmpages" => map_page(false),
        "lockedpages" => map_page(true),
        "lockedpages/maplocked" => map_anonymous_with(PAGE, libc::MAP_LOCKED).map(Held::Mapping),
        "shmpages" => {
            let file = work.file.as_ref().ok_or(Errno::EBADF)?;
            let offset = index.checked_mul(PAGE as u64).ok_or(Errno::EINVAL)?;
            file.write_all_at(&[0x5a; PAGE], offset).map_err(io_errno)?;
            Ok(Held::Nothing)
        }
        "shmpages/sysv" => {
            // Written through /proc/self/mem, a refused page is an EIO where touching it
            // would SIGBUS.
            let segment = work.segment.as_ref().ok_or(Errno::EBADF)?;
            let offset = usize::try_from(index).map_err(|_| Errno::EINVAL)? * PAGE;
            let addr = (segment.addr as usize)
                .checked_add(offset)
                .ok_or(Errno::EINVAL)?;
            let mem = OpenOptions::new()
                .write(true)
                .open("/proc/self/mem")
                .map_err(io_errno)?;
            mem.write_all_at(&[0x5a; PAGE], addr as u64)
                .map_err(io_errno)?;
            Ok(Held::Nothing)
        }
        _ => Err(Errno::EINVAL),
    }
}

fn new_socket(kind: libc::c_int) -> Result<OwnedFd, Errno> {
    // SAFETY: Creates a socket; the fd is owned by the returned value.
    let fd = Errno::result(unsafe { libc::socket(libc::AF_INET, kind, 0) })?;
    // SAFETY: `fd` was just returned by socket() and nothing else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

fn io_errno(err: std::io::Error) -> Errno {
    Errno::from_raw(err.raw_os_error().unwrap_or(libc::EIO))
}

/// Gives back what `acquire_one` took. The listener stays open: it is part of the baseline
/// (it goes with the process).
fn release(held: Vec<Held>, resource: &str, work: &mut Workspace) {
    // The clients close first, so each accepted socket has its peer's FIN when it closes and
    // is freed once the last ACK is in. Closed first itself, an accepted socket waits in
    // FIN_WAIT2 for the peer; when the peer's ACK reached it while `close` still held the
    // socket (the debug kernel's timing), the kernel kept it whole, and charged, for
    // tcp_fin_timeout (60 s) instead of turning it into a timewait entry at once.
    work.clients.clear();
    for item in held {
        match item {
            Held::Fd(fd) => drop(fd),
            Held::Child(pid) => {
                let _ = kill(pid, Signal::SIGKILL);
                let _ = waitpid(pid, None);
            }
            // SAFETY: A mapping made in `acquire_one`, unmapped once.
            Held::Mapping(ptr) => unsafe {
                libc::munmap(ptr, PAGE);
            },
            Held::Nothing => {}
        }
    }
    // Emptying the file gives its pages back; closing it drops every lock on it.
    if let Some(file) = work.file.take() {
        let _ = file.set_len(0);
    }
    drop(work.segment.take());
    if resource == "numsiginfo" {
        // Ignoring a signal discards its pending instances, blocked or not.
        // SAFETY: Installs SIG_IGN for a real-time signal; no handler code runs.
        unsafe { libc::signal(libc::SIGRTMIN(), libc::SIG_IGN) };
    }
}

pub fn acquire(args: &AcquireArgs) -> Result<(), String> {
    // SAFETY: `ubtest` passes the two pipe ends it made for this process, not used otherwise.
    let (rfd, wfd) = unsafe {
        (
            OwnedFd::from_raw_fd(args.rfd),
            OwnedFd::from_raw_fd(args.wfd),
        )
    };
    let mut chan = Channel::new(rfd, wfd);
    let mut work = Workspace::new(&args.resource, args.count, &args.clients)?;
    chan.send("ready")?;
    chan.expect("go")?;
    if sockbuf::RESOURCES.contains(&args.resource.as_str()) {
        let filled = sockbuf::fill(&args.resource)?;
        chan.send(&filled.report)?;
        chan.expect("release")?;
        // Closed sockets give their buffers back once the kernel has freed them: `ubtest`
        // waits for that.
        drop(filled.sockets);
        chan.send("released")?;
        let _ = chan.recv();
        return Ok(());
    }
    let mut held = Vec::new();
    let mut refusal = "none".to_string();
    for index in 0..args.count {
        match acquire_one(&args.resource, index, &mut work) {
            Ok(item) => held.push(item),
            Err(errno) => {
                refusal = format!("{errno:?}");
                break;
            }
        }
    }
    chan.send(&format!("acquired {} errno {refusal}", held.len()))?;
    chan.expect("release")?;
    release(held, &args.resource, &mut work);
    chan.send("released")?;
    // Wait for ubtest to close the pipe, so the VE's counters stay put while it reads them.
    let _ = chan.recv();
    Ok(())
}

/// Maps `mib` MiB of private anonymous memory and touches every page; prints `survived` if
/// nothing stopped it.
pub fn hog(mib: usize) -> Result<(), String> {
    let len = mib.checked_mul(1 << 20).ok_or("size overflows")?;
    // Never unmapped: the process exits right after.
    let ptr = map_anonymous(len).map_err(|e| format!("mmap {mib} MiB: {e}"))?;
    for offset in (0..len).step_by(PAGE) {
        // SAFETY: `offset` is inside the mapping made above.
        unsafe { ptr.cast::<u8>().add(offset).write_volatile(1) };
    }
    println!("survived");
    Ok(())
}

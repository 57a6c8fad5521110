//! The /dev/vzctl fuzzer: random commands (known ones with random payloads most of the time,
//! arbitrary numbers otherwise), random argument pointers (valid, null, kernel, unmapped),
//! from several threads at once. It checks nothing itself: the suite checks that the kernel
//! reported nothing and that the module still answers afterwards.

use std::collections::BTreeMap;
use std::fs::OpenOptions;
use std::os::fd::AsRawFd;
use std::sync::Mutex;
use vz_abi as abi;
use vzctl::device::ControlDevice;

#[derive(clap::Args)]
pub struct FuzzArgs {
    /// Total number of ioctl calls.
    #[arg(long, default_value_t = 100_000)]
    calls: u64,
    /// Threads issuing them.
    #[arg(long, default_value_t = 4)]
    threads: u64,
    /// Seed of the pseudo-random sequence (runs are repeatable).
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Drop to this uid after opening the device.
    #[arg(long)]
    uid: Option<u32>,
    /// Enter this VE after opening the device.
    #[arg(long)]
    enter: Option<u32>,
}

const KNOWN: [u32; 12] = [
    abi::VZCTL_GET_VERSION,
    abi::VZCTL_VE_CREATE,
    abi::VZCTL_VE_DESTROY,
    abi::VZCTL_VE_ENTER,
    abi::VZCTL_VE_INFO,
    abi::VZCTL_VE_LIST,
    abi::VZCTL_PID_INFO,
    abi::VZCTL_SET_DEVPERMS,
    abi::VZCTL_GET_DEVPERMS,
    abi::VZCTL_VE_NETDEV,
    abi::VZCTL_UB_SET,
    abi::VZCTL_UB_GET,
];

/// Bytes of the payload buffer: more than the largest ABI struct (`UbGet`), which the kernel
/// reads and writes whole.
const PAYLOAD_LEN: usize = 2048;
const _: () = assert!(core::mem::size_of::<abi::UbGet>() < PAYLOAD_LEN);

/// xorshift64*: small, fast and repeatable.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

/// A payload: random bytes, with the leading u32 often a small VE id so that calls reach
/// existing VEs, and u64 slots often pointing at `scratch` so that list commands copy out.
fn fill_payload(rng: &mut Rng, buf: &mut [u8; PAYLOAD_LEN], scratch: u64) {
    for chunk in buf.chunks_mut(8) {
        let bytes = rng.next().to_ne_bytes();
        chunk.copy_from_slice(&bytes[..chunk.len()]);
    }
    match rng.below(4) {
        0 | 1 => buf[..4].copy_from_slice(&(1 + rng.below(64) as u32).to_ne_bytes()),
        // Large ids: valid ones at or above 2^30 (where entering never goes) and invalid ones.
        2 => buf[..4].copy_from_slice(&((1 << 30) | rng.next() as u32).to_ne_bytes()),
        _ => {}
    }
    // Keep reserved words zero half of the time so validation passes and deeper code runs.
    if rng.below(2) == 0 {
        buf[4..8].fill(0);
        buf[12..16].fill(0);
    }
    if rng.below(2) == 0 {
        // Small capacities and sane kinds/flags for list and devperm commands.
        buf[8..12].copy_from_slice(&(rng.below(300) as u32).to_ne_bytes());
        buf[4..8].copy_from_slice(&(1 + rng.below(2) as u32).to_ne_bytes());
    }
    for slot in [0usize, 16] {
        if rng.below(2) == 0 {
            buf[slot..slot + 8].copy_from_slice(&scratch.to_ne_bytes());
        }
    }
}

/// A page followed by an inaccessible one: a struct placed at the end of the first page runs
/// into the second, so the kernel must fail the copy with EFAULT part way through.
struct GuardedPage(*mut u8);

impl GuardedPage {
    fn new() -> Result<Self, String> {
        // SAFETY: An anonymous private mapping of two pages at an address of the kernel's
        // choosing; the result is checked.
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                8192,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        if ptr == libc::MAP_FAILED {
            return Err(format!("mmap: {}", std::io::Error::last_os_error()));
        }
        // SAFETY: The second page lies inside the mapping just made.
        if unsafe { libc::mprotect(ptr.cast::<u8>().add(4096).cast(), 4096, libc::PROT_NONE) } != 0
        {
            return Err(format!("mprotect: {}", std::io::Error::last_os_error()));
        }
        Ok(GuardedPage(ptr.cast()))
    }

    /// Writes `value` at `tail()`, where earlier calls may have left kernel output.
    fn set_tail(&self, value: u32) {
        // SAFETY: `tail()` is 8 bytes before the guard page, inside the writable page.
        unsafe { self.tail().cast::<u32>().write_unaligned(value) };
    }

    /// 8 bytes before the guard page.
    fn tail(&self) -> *mut u8 {
        self.0.wrapping_add(4096 - 8)
    }
}

impl Drop for GuardedPage {
    fn drop(&mut self) {
        // SAFETY: Unmaps exactly the mapping made in `new`.
        unsafe { libc::munmap(self.0.cast(), 8192) };
    }
}

fn pointer(rng: &mut Rng, buf: &mut [u8; PAYLOAD_LEN], guarded: &GuardedPage) -> *mut u8 {
    match rng.below(20) {
        0 => std::ptr::null_mut(),
        1 => 0xffff_8880_0000_0000_u64 as *mut u8,
        2 => 0x1000 as *mut u8,
        3 => (rng.next() & 0x0000_7fff_ffff_ffff) as *mut u8,
        4 => guarded.tail(),
        _ => buf.as_mut_ptr(),
    }
}

pub fn run(args: &FuzzArgs) -> Result<(), String> {
    let device = OpenOptions::new()
        .read(true)
        .write(true)
        .open(abi::VZCTL_DEVICE_PATH)
        .map_err(|e| format!("open {}: {e}", abi::VZCTL_DEVICE_PATH))?;
    if let Some(veid) = args.enter {
        vzctl::device::Vzctl::open()
            .and_then(|d| d.ve_enter(veid))
            .map_err(|e| e.to_string())?;
    }
    if let Some(uid) = args.uid {
        crate::drop_to(uid)?;
    }
    let fd = device.as_raw_fd();
    let outcomes = Mutex::new(BTreeMap::<String, u64>::new());
    let per_thread = args.calls / args.threads.max(1);
    std::thread::scope(|scope| {
        for t in 0..args.threads.max(1) {
            let outcomes = &outcomes;
            let seed = args
                .seed
                .wrapping_mul(0x9e37_79b9_7f4a_7c15)
                .wrapping_add(t + 1);
            scope.spawn(move || {
                let mut rng = Rng(seed | 1);
                let Ok(guarded) = GuardedPage::new() else {
                    return;
                };
                let mut buf = [0u8; PAYLOAD_LEN];
                // Room for the largest list the module can return: VZ_MAX_VES ids.
                let mut scratch = vec![0u8; abi::VZ_MAX_VES as usize * 4];
                let mut local = BTreeMap::<String, u64>::new();
                for _ in 0..per_thread {
                    let cmd = if rng.below(10) < 8 {
                        KNOWN[rng.below(KNOWN.len() as u64) as usize]
                    } else if rng.below(2) == 0 {
                        // A known number with a different size or direction.
                        KNOWN[rng.below(KNOWN.len() as u64) as usize]
                            ^ ((rng.next() as u32) & 0xc0ff_0000)
                    } else {
                        rng.next() as u32
                    };
                    fill_payload(&mut rng, &mut buf, scratch.as_mut_ptr() as u64);
                    if cmd == abi::VZCTL_VE_CREATE {
                        // Ids 1..=64 or at or above 2^30, never where entering goes below.
                        let mut id = [0u8; 4];
                        id.copy_from_slice(&buf[..4]);
                        let id = match u32::from_ne_bytes(id) {
                            small @ 1..=64 => small,
                            other => other | (1 << 30),
                        };
                        buf[..4].copy_from_slice(&id.to_ne_bytes());
                        guarded.set_tail(id);
                    }
                    if cmd == abi::VZCTL_VE_ENTER {
                        // A thread that really enters a VE gets EPERM from then on, which
                        // would end its fuzzing: enter only ids that are never created here
                        // (the valid path has its own cases).
                        let veid = 1000 + rng.below((1 << 30) - 1000) as u32;
                        buf[..4].copy_from_slice(&veid.to_ne_bytes());
                        guarded.set_tail(veid);
                    }
                    let arg = pointer(&mut rng, &mut buf, &guarded);
                    // SAFETY: `arg` is `buf` (valid for PAYLOAD_LEN bytes, more than any struct the
                    // module copies out), the guarded page's tail (the kernel stops at the
                    // guard) or an address the kernel must reject with EFAULT. List commands
                    // write into `scratch` (when a pointer slot holds it) at most VZ_MAX_VES
                    // ids or VZ_MAX_DEVPERMS rules, which it has room for.
                    let ret = unsafe { libc::ioctl(fd, cmd as libc::c_ulong, arg) };
                    let key = if ret < 0 {
                        format!("{:?}", nix::errno::Errno::last())
                    } else {
                        "ok".to_owned()
                    };
                    *local.entry(key).or_default() += 1;
                }
                let mut all = outcomes.lock().unwrap_or_else(|e| e.into_inner());
                for (key, n) in local {
                    *all.entry(key).or_default() += n;
                }
            });
        }
    });
    let outcomes = outcomes.into_inner().unwrap_or_else(|e| e.into_inner());
    let summary: Vec<String> = outcomes.iter().map(|(k, n)| format!("{k}={n}")).collect();
    println!(
        "calls={} {}",
        per_thread * args.threads.max(1),
        summary.join(" ")
    );
    Ok(())
}

//! vz-harness: boots the patched kernel with the vz module and tools in QEMU and runs the
//! in-guest test suite (`test`), a user's script (`vm`) or an interactive shell (`run`).

mod cpio;
mod pair;
mod qemu;
mod serial;
mod suite;

use clap::{Parser, Subcommand};
use qemu::{Accel, Guest, GuestSpec, ReadError};
use std::fs::{self, File};
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

#[derive(Parser)]
#[command(name = "vz-harness")]
struct Cli {
    /// The patched kernel's bzImage.
    #[arg(long)]
    kernel: PathBuf,
    /// The guest image (initramfs) with the module, the tools and the test cases.
    #[arg(long)]
    initrd: PathBuf,
    /// The OS templates' disk image (ext4, `make templates`), attached read-only in every
    /// mode; the guest copies its templates to /vz/template/cache.
    #[arg(long)]
    templates_disk: Option<PathBuf>,
    /// Where serial logs and guest dmesg are kept.
    #[arg(long, default_value = "build/logs")]
    log_dir: PathBuf,
    /// CPU emulation: tcg, kvm, or auto (KVM only if a short probe boots a guest).
    #[arg(long, env = "VZ_ACCEL", default_value = "auto")]
    accel: String,
    /// Guest memory in MiB.
    #[arg(long, default_value_t = 2048)]
    memory: u32,
    /// Seconds the guest may take from power-on to its userland.
    #[arg(long, default_value_t = 120)]
    boot_timeout: u64,
    #[command(subcommand)]
    mode: Mode,
}

#[derive(Subcommand)]
enum Mode {
    /// Run every in-guest case and print `N passed, N failed`, then each failed case with the
    /// path of its log; /vz is a fresh scratch disk.
    Test {
        /// Seconds each guest's share of the suite may take once the guest is up.
        #[arg(long, default_value_t = 2700)]
        timeout: u64,
        /// Guests that run at once, each a share of the cases.
        #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=8))]
        shards: u32,
        /// Times the whole suite runs, each time in fresh guests (to find flaky cases).
        #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=100))]
        rounds: u32,
        /// Only the cases whose `file:name` matches this extended regex (no spaces).
        #[arg(long)]
        only: Option<String>,
        /// After each round's guests, boot a linked pair (vza, vzb) and run the two-guest
        /// cases (tests/cases-pair) on vza.
        #[arg(long)]
        pair: bool,
    },
    /// Run a shell script as root in a fresh guest (/vz a fresh scratch disk); exit with its
    /// status.
    Vm {
        /// The script to run.
        #[arg(long)]
        script: PathBuf,
        /// Seconds the script may take.
        #[arg(long, default_value_t = 2700)]
        timeout: u64,
        /// Make guest time count instructions (for benchmarks under TCG).
        #[arg(long)]
        icount: bool,
        /// 2: boot two guests linked by a network, vza and vzb, each with one vCPU; the script
        /// runs on vza and can reach vzb with ssh and rsync.
        #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=2))]
        guests: u32,
        /// Size of the scratch /vz disk in GiB (sparse: only what is written takes space).
        #[arg(long, default_value_t = SCRATCH_DISK_GIB, value_parser = clap::value_parser!(u64).range(1..=256))]
        scratch_gib: u64,
    },
    /// Boot to a root shell with /vz on a persistent disk; a short demo when stdin is not a
    /// terminal.
    Run {
        /// The persistent data disk (raw ext4 image) mounted at /vz.
        #[arg(long)]
        disk: PathBuf,
        /// Seconds the non-interactive demo may take.
        #[arg(long, default_value_t = 600)]
        timeout: u64,
    },
}

/// Named timeouts, so every wait in the harness says which limit it hit.
const KVM_PROBE: Duration = Duration::from_secs(5);
pub(crate) const POWEROFF_GRACE: Duration = Duration::from_secs(30);

/// Size in GiB of the scratch disk `test` and `vm` guests get at /vz (`vm --scratch-gib`
/// changes it). The file is sparse: only what mkfs and the guest write takes space.
pub(crate) const SCRATCH_DISK_GIB: u64 = 4;

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => ExitCode::from(code),
        Err(msg) => {
            eprintln!("vz-harness: {msg}");
            ExitCode::from(2)
        }
    }
}

fn run(cli: Cli) -> Result<u8, String> {
    for path in [&cli.kernel, &cli.initrd]
        .into_iter()
        .chain(cli.templates_disk.as_ref())
    {
        if !path.exists() {
            return Err(format!(
                "{} does not exist (run make image)",
                path.display()
            ));
        }
    }
    fs::create_dir_all(&cli.log_dir)
        .map_err(|e| format!("create {}: {e}", cli.log_dir.display()))?;
    let accel = choose_accel(&cli)?;
    let mut spec = GuestSpec {
        kernel: cli.kernel.clone(),
        initrd: cli.initrd.clone(),
        accel,
        memory_mib: cli.memory,
        cpus: 2,
        cmdline: String::new(),
        disk: None,
        templates_disk: cli.templates_disk.clone(),
        icount: false,
        link: None,
    };
    let boot = Duration::from_secs(cli.boot_timeout);
    let cmdline = |mode: &str| format!("vzguest.mode={mode}");
    match cli.mode {
        Mode::Test {
            timeout,
            shards,
            rounds,
            only,
            pair,
        } => {
            if let Some(pattern) = &only {
                if pattern.is_empty() || pattern.contains(char::is_whitespace) {
                    return Err(format!(
                        "--only {pattern:?}: give a regex without spaces, e.g. 80-vzctl:test_stop"
                    ));
                }
            }
            spec.cmdline = cmdline("test");
            suite::run(
                &spec,
                &suite::Plan {
                    log_dir: cli.log_dir.clone(),
                    boot,
                    limit: Duration::from_secs(timeout),
                    shards,
                    rounds,
                    only,
                    pair,
                },
            )
        }
        Mode::Vm {
            script,
            timeout,
            icount,
            guests,
            scratch_gib,
        } => {
            spec.icount = icount;
            spec.cmdline = cmdline("vm");
            let text = fs::read(&script).map_err(|e| format!("read {}: {e}", script.display()))?;
            let payload = [("payload/script.sh", text.as_slice())];
            let limit = Duration::from_secs(timeout);
            if guests == 1 {
                spec.disk = Some(scratch_disk(&cli.log_dir.join("scratch.img"), scratch_gib)?);
                spec.initrd = with_payload(
                    &cli.initrd,
                    &cli.log_dir.join("vm-initrd.img"),
                    &["payload"],
                    &payload,
                )?;
                run_streaming(&spec, &cli.log_dir, "vm", boot, limit)
            } else {
                let [vza, vzb] = pair::prepare(&spec, &cli.log_dir, "vm", &payload)?;
                run_pair_streaming(&vza, &vzb, &cli.log_dir, boot, limit)
            }
        }
        Mode::Run { disk, timeout } => {
            spec.disk = Some(disk);
            if std::io::stdin().is_terminal() {
                spec.cmdline = cmdline("run vzguest.interactive=1");
                let mut cmd = spec.command(true);
                qemu::kill_with_parent(&mut cmd);
                let status = cmd.status().map_err(|e| format!("start QEMU: {e}"))?;
                Ok(exit_byte(status.code().unwrap_or(1)))
            } else {
                spec.cmdline = cmdline("run");
                run_streaming(
                    &spec,
                    &cli.log_dir,
                    "run",
                    boot,
                    Duration::from_secs(timeout),
                )
            }
        }
    }
}

fn choose_accel(cli: &Cli) -> Result<Accel, String> {
    match cli.accel.as_str() {
        "tcg" => Ok(Accel::Tcg),
        "kvm" => Ok(Accel::Kvm),
        "auto" => {
            let log = cli.log_dir.join("kvm-probe.log");
            if qemu::kvm_works(&cli.kernel, &cli.initrd, KVM_PROBE, &log) {
                eprintln!("vz-harness: KVM probe booted a guest; using KVM");
                Ok(Accel::Kvm)
            } else {
                eprintln!(
                    "vz-harness: KVM guests do not reach userland here (probe {} s, QEMU's \
                     messages in {}); using TCG",
                    KVM_PROBE.as_secs(),
                    log.display()
                );
                Ok(Accel::Tcg)
            }
        }
        other => Err(format!(
            "unknown accelerator '{other}' (use tcg, kvm or auto)"
        )),
    }
}

/// A fresh ext4 disk for one run: `/vz` in the guest is then a real disk filesystem as on a
/// host, yet every run starts empty. The quota and project features let the guest mount it
/// with `prjquota`, which per-VE disk quotas need.
pub(crate) fn scratch_disk(path: &Path, gib: u64) -> Result<PathBuf, String> {
    let path = path.to_owned();
    // Recreated rather than truncated in place, so no block of an earlier run survives.
    let _ = fs::remove_file(&path);
    File::create(&path)
        .and_then(|file| file.set_len(gib << 30))
        .map_err(|e| format!("create {}: {e}", path.display()))?;
    let mut mkfs = Command::new("mkfs.ext4");
    mkfs.args([
        "-q",
        "-F",
        "-L",
        "vz",
        "-E",
        "root_owner=0:0",
        "-O",
        "quota,project",
    ]);
    run_tool(mkfs.arg(&path), "mkfs.ext4", "e2fsprogs", &path)?;
    Ok(path)
}

/// Runs the host tool `command` (`name`, from Debian's `package`) that makes `made`; its
/// failure says which, and what the tool printed.
pub(crate) fn run_tool(
    command: &mut Command,
    name: &str,
    package: &str,
    made: &Path,
) -> Result<(), String> {
    let output = command
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("run {name} ({package}, installed by make setup): {e}"))?;
    if !output.status.success() {
        return Err(format!(
            "{name} {} failed ({}): {}",
            made.display(),
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        ));
    }
    Ok(())
}

/// Writes to `out` the image plus a payload archive of `dirs` and `files` (a script at
/// `payload/script.sh`, the keys of a pair), which the kernel unpacks over the image.
pub(crate) fn with_payload(
    initrd: &Path,
    out: &Path,
    dirs: &[&str],
    files: &[(&str, &[u8])],
) -> Result<PathBuf, String> {
    let mut image = fs::read(initrd).map_err(|e| format!("read {}: {e}", initrd.display()))?;
    // The kernel only takes an uncompressed archive that starts 4-byte aligned in the image;
    // it skips the zero padding.
    image.resize(image.len().next_multiple_of(4), 0);
    image.extend_from_slice(&cpio::archive(dirs, files));
    fs::write(out, image).map_err(|e| format!("write {}: {e}", out.display()))?;
    Ok(out.to_owned())
}

/// Serial log and dmesg files of one run, plus the kernel faults seen so far.
pub(crate) struct RunLog {
    serial: File,
    pub(crate) serial_path: PathBuf,
    dmesg: File,
    in_dmesg: bool,
    pub(crate) faults: Vec<String>,
}

impl RunLog {
    pub(crate) fn create(dir: &Path, name: &str) -> Result<RunLog, String> {
        let open = |suffix: &str| {
            let path = dir.join(format!("{name}-{suffix}.log"));
            File::create(&path)
                .map(|f| (f, path.clone()))
                .map_err(|e| format!("create {}: {e}", path.display()))
        };
        let (serial, serial_path) = open("serial")?;
        let (dmesg, _) = open("dmesg")?;
        Ok(RunLog {
            serial,
            serial_path,
            dmesg,
            in_dmesg: false,
            faults: Vec::new(),
        })
    }

    /// Records a line; returns false for lines that belong to the dmesg dump or are markers
    /// of it, which callers do not show.
    fn record(&mut self, line: &str) -> bool {
        let _ = writeln!(self.serial, "{line}");
        if let Some(pattern) = serial::kernel_fault(line) {
            if self.faults.len() < 20 {
                self.faults.push(format!("{pattern} in: {line}"));
            }
        }
        match line {
            serial::DMESG_BEGIN => {
                self.in_dmesg = true;
                false
            }
            serial::DMESG_END => {
                self.in_dmesg = false;
                false
            }
            _ if self.in_dmesg => {
                let _ = writeln!(self.dmesg, "{line}");
                false
            }
            _ => true,
        }
    }
}

/// Waits for the guest's userland; lines before it are kernel boot messages.
pub(crate) fn wait_ready(
    guest: &mut Guest,
    log: &mut RunLog,
    boot: Duration,
) -> Result<(), String> {
    let deadline = Instant::now() + boot;
    loop {
        match guest.next_line(deadline) {
            Ok(line) => {
                log.record(&line);
                if line.contains(serial::READY) {
                    return Ok(());
                }
            }
            Err(ReadError::Timeout) => {
                return Err(format!(
                    "boot timeout: no guest userland after {} s (see {})",
                    boot.as_secs(),
                    log.serial_path.display()
                ))
            }
            Err(ReadError::Closed) => {
                return Err(format!(
                    "QEMU exited during boot (see {})",
                    log.serial_path.display()
                ))
            }
        }
    }
}

/// Reads the console until the guest powers off after its exit marker; returns the status.
/// `on_line` sees every line that is not part of the dmesg dump.
pub(crate) fn drain(
    guest: &mut Guest,
    log: &mut RunLog,
    limit: Duration,
    mut on_line: impl FnMut(&str),
) -> Result<i32, String> {
    let mut deadline = Instant::now() + limit;
    let mut status = None;
    loop {
        match guest.next_line(deadline) {
            Ok(line) => {
                if !log.record(&line) {
                    continue;
                }
                if let Some(code) = serial::parse_exit(&line) {
                    status = Some(code);
                    deadline = Instant::now() + POWEROFF_GRACE;
                    continue;
                }
                // After the exit marker only the dmesg dump and power-off messages follow.
                if status.is_none() {
                    on_line(&line);
                }
            }
            Err(ReadError::Closed) => break,
            Err(ReadError::Timeout) if status.is_some() => break,
            Err(ReadError::Timeout) => {
                return Err(format!(
                    "timeout: the guest did not finish within {} s (see {})",
                    limit.as_secs(),
                    log.serial_path.display()
                ))
            }
        }
    }
    status.ok_or_else(|| {
        format!(
            "the guest stopped without reporting an exit status (see {})",
            log.serial_path.display()
        )
    })
}

fn run_streaming(
    spec: &GuestSpec,
    log_dir: &Path,
    name: &str,
    boot: Duration,
    limit: Duration,
) -> Result<u8, String> {
    let mut log = RunLog::create(log_dir, name)?;
    let mut guest = Guest::start(spec, Stdio::inherit()).map_err(|e| format!("start QEMU: {e}"))?;
    wait_ready(&mut guest, &mut log, boot)?;
    let status = drain(&mut guest, &mut log, limit, |line| println!("{line}"));
    guest.finish(POWEROFF_GRACE);
    let status = status?;
    if status != 0 {
        eprintln!("vz-harness: the guest's {name} script exited with status {status}");
    }
    if !log.faults.is_empty() {
        for fault in &log.faults {
            eprintln!("vz-harness: kernel fault: {fault}");
        }
        eprintln!("vz-harness: see {}", log.serial_path.display());
        // A kernel fault is never a success, whatever the script said.
        return Ok(if status == 0 {
            1
        } else {
            exit_byte(status.max(1))
        });
    }
    Ok(exit_byte(status))
}

/// `run_streaming` for vza of a pair, with vzb booted alongside; vzb's failures fail the run
/// as vza's own would.
fn run_pair_streaming(
    vza: &GuestSpec,
    vzb: &GuestSpec,
    log_dir: &Path,
    boot: Duration,
    limit: Duration,
) -> Result<u8, String> {
    let peer = pair::Peer::start(vzb, log_dir, "vm")?;
    let status = run_streaming(vza, log_dir, "vm-vza", boot, limit)?;
    let peer = peer.finish();
    if let Some(error) = &peer.error {
        eprintln!("vz-harness: vzb: {error}");
    }
    for fault in &peer.faults {
        eprintln!("vz-harness: kernel fault on vzb: {fault}");
    }
    if !peer.faults.is_empty() {
        eprintln!("vz-harness: see {}", peer.serial.display());
    }
    Ok(if peer.error.is_none() && peer.faults.is_empty() {
        status
    } else {
        status.max(1)
    })
}

/// A guest's exit status as the harness's: 0..=255 as it is, anything else 255.
fn exit_byte(status: i32) -> u8 {
    u8::try_from(status).unwrap_or(u8::MAX)
}

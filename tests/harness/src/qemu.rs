//! Starting QEMU with the patched kernel and reading its serial console with deadlines.

use std::io::{BufRead, BufReader};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

/// How the guest's CPU is emulated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Accel {
    Tcg,
    Kvm,
}

/// Everything needed to boot one guest.
#[derive(Clone, Debug)]
pub struct GuestSpec {
    pub kernel: PathBuf,
    pub initrd: PathBuf,
    pub accel: Accel,
    pub memory_mib: u32,
    pub cpus: u32,
    /// Extra words for the kernel command line (`vzguest.mode=...`).
    pub cmdline: String,
    /// A raw disk image attached as /dev/vda.
    pub disk: Option<PathBuf>,
    /// The OS templates' disk image (raw ext4), attached read-only after `disk`: /dev/vdb.
    pub templates_disk: Option<PathBuf>,
    /// Guest time counts executed instructions (TCG only): timings inside the guest then
    /// measure work, not how busy the host is.
    pub icount: bool,
    /// A network card wired to one other guest (the two guests of a pair).
    pub link: Option<Link>,
}

/// One end of a point-to-point network between two guests: each QEMU sends its frames as UDP
/// datagrams to the other's port on the host's loopback. Symmetric, so neither QEMU has to
/// start first.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Link {
    /// The host UDP port this guest's QEMU receives on.
    pub port: u16,
    /// The host UDP port the other guest's QEMU receives on.
    pub peer_port: u16,
    /// Last byte of the card's MAC address, distinct per guest.
    pub mac_suffix: u8,
}

impl Link {
    /// QEMU's arguments for the card (virtio-net, eth0 in the guest) and its UDP backend.
    pub fn qemu_args(&self) -> [String; 4] {
        [
            "-netdev".into(),
            format!(
                "socket,id=link,udp=127.0.0.1:{},localaddr=127.0.0.1:{}",
                self.peer_port, self.port
            ),
            "-device".into(),
            format!(
                "virtio-net-pci,netdev=link,mac=52:54:00:12:34:{:02x}",
                self.mac_suffix
            ),
        ]
    }
}

impl GuestSpec {
    /// The QEMU command line. `interactive` gives the serial console to the terminal
    /// (`-nographic`, Ctrl-A X quits); otherwise the console is a pipe and the monitor is off.
    pub fn command(&self, interactive: bool) -> Command {
        let mut cmd = Command::new("qemu-system-x86_64");
        match self.accel {
            Accel::Tcg => cmd.args(["-accel", "tcg", "-cpu", "max"]),
            Accel::Kvm => cmd.args(["-accel", "kvm", "-cpu", "host"]),
        };
        cmd.args(["-m", &self.memory_mib.to_string()])
            .args(["-smp", &self.cpus.to_string()])
            .arg("-kernel")
            .arg(&self.kernel)
            .arg("-initrd")
            .arg(&self.initrd)
            // Under emulation a vCPU can be descheduled for seconds (the debug kernel boots in
            // about 45 s), which the default 21 s RCU stall detector reports as a stall of
            // the guest; a real one in the module still trips the longer limit. acpi=noirq:
            // PCI interrupts are routed from the BIOS tables, not by the ACPI _PRT method,
            // which the KASAN kernel under TCG interprets too slowly (ACPICA aborts it after
            // 30 s and the disk never appears).
            .args([
                "-append",
                &format!(
                    "console=ttyS0 loglevel=4 panic=-1 rcupdate.rcu_cpu_stall_timeout=120 acpi=noirq {}",
                    self.cmdline
                ),
            ])
            // A guest reboot (panic, `reboot -f`) ends QEMU instead of booting again.
            .arg("-no-reboot")
            .args(["-device", "virtio-rng-pci"]);
        if self.icount && self.accel == Accel::Tcg {
            cmd.args(["-icount", "shift=0,sleep=off"]);
        }
        // Virtio disks are named in the order they are given: the data disk first.
        if let Some(disk) = &self.disk {
            cmd.arg("-drive")
                .arg(format!("file={},if=virtio,format=raw", disk.display()));
        }
        if let Some(disk) = &self.templates_disk {
            cmd.arg("-drive").arg(format!(
                "file={},if=virtio,format=raw,readonly=on",
                disk.display()
            ));
        }
        if let Some(link) = &self.link {
            cmd.args(link.qemu_args());
        }
        if interactive {
            cmd.arg("-nographic");
        } else {
            cmd.args(["-display", "none", "-serial", "stdio", "-monitor", "none"]);
        }
        cmd
    }
}

/// A running QEMU whose serial console is read line by line. QEMU is killed when this value
/// is dropped, and also if the harness itself dies (parent-death signal).
pub struct Guest {
    child: Child,
    lines: Receiver<String>,
}

/// Why no line arrived.
#[derive(Debug, PartialEq, Eq)]
pub enum ReadError {
    /// The deadline passed.
    Timeout,
    /// QEMU closed its console: the guest powered off or QEMU died.
    Closed,
}

impl Guest {
    /// Starts QEMU non-interactively; its own messages (not the guest's) go to `stderr`.
    pub fn start(spec: &GuestSpec, stderr: Stdio) -> std::io::Result<Guest> {
        let mut cmd = spec.command(false);
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(stderr);
        kill_with_parent(&mut cmd);
        let mut child = cmd.spawn()?;
        let stdout = child
            .stdout
            .take()
            .ok_or_else(|| std::io::Error::other("QEMU stdout was not captured"))?;
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            let mut reader = BufReader::new(stdout);
            let mut buf = Vec::new();
            loop {
                buf.clear();
                match reader.read_until(b'\n', &mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {
                        let line = String::from_utf8_lossy(&buf);
                        let line = line.trim_end_matches(['\n', '\r']).replace('\r', "");
                        if tx.send(line).is_err() {
                            break;
                        }
                    }
                }
            }
        });
        Ok(Guest { child, lines })
    }

    /// The next console line, waiting at most until `deadline`.
    pub fn next_line(&mut self, deadline: Instant) -> Result<String, ReadError> {
        let wait = deadline.saturating_duration_since(Instant::now());
        match self.lines.recv_timeout(wait) {
            Ok(line) => Ok(line),
            Err(RecvTimeoutError::Timeout) => Err(ReadError::Timeout),
            Err(RecvTimeoutError::Disconnected) => Err(ReadError::Closed),
        }
    }

    /// Waits up to `grace` for QEMU to exit by itself, then kills it.
    pub fn finish(mut self, grace: Duration) {
        let deadline = Instant::now() + grace;
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        // Drop kills it.
    }
}

impl Drop for Guest {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }
}

/// Makes the kernel send SIGKILL to the child when the harness dies, so no QEMU outlives it
/// even when the harness is killed by a signal that skips destructors.
pub fn kill_with_parent(cmd: &mut Command) {
    // SAFETY: The closure runs in the forked child before exec and only calls prctl, which is
    // async-signal-safe.
    unsafe {
        cmd.pre_exec(|| {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

/// Whether a KVM guest really runs here: boots the image in probe mode under KVM and waits a
/// few seconds for userland. On machines where /dev/kvm answers but guests hang, this says no.
/// QEMU's own messages (on such machines, KVM assertion failures) go to `log`, not to the
/// terminal: the harness then uses TCG, and they would read like a crash.
pub fn kvm_works(kernel: &Path, initrd: &Path, timeout: Duration, log: &Path) -> bool {
    if !Path::new("/dev/kvm").exists() {
        return false;
    }
    let spec = GuestSpec {
        kernel: kernel.to_owned(),
        initrd: initrd.to_owned(),
        accel: Accel::Kvm,
        memory_mib: 256,
        cpus: 1,
        cmdline: "vzguest.mode=probe".into(),
        disk: None,
        templates_disk: None,
        icount: false,
        link: None,
    };
    let Ok(stderr) = std::fs::File::create(log) else {
        return false;
    };
    let Ok(mut guest) = Guest::start(&spec, Stdio::from(stderr)) else {
        return false;
    };
    let deadline = Instant::now() + timeout;
    while let Ok(line) = guest.next_line(deadline) {
        if line.contains(crate::serial::READY) {
            return true;
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn link_sends_to_the_peer_port_and_listens_on_its_own() {
        let link = Link {
            port: 40001,
            peer_port: 40002,
            mac_suffix: 2,
        };
        assert_eq!(
            link.qemu_args(),
            [
                "-netdev",
                "socket,id=link,udp=127.0.0.1:40002,localaddr=127.0.0.1:40001",
                "-device",
                "virtio-net-pci,netdev=link,mac=52:54:00:12:34:02",
            ]
        );
    }

    #[test]
    fn only_a_linked_guest_gets_a_network_card() {
        let mut spec = GuestSpec {
            kernel: "bzImage".into(),
            initrd: "initrd".into(),
            accel: Accel::Tcg,
            memory_mib: 256,
            cpus: 1,
            cmdline: String::new(),
            disk: None,
            templates_disk: None,
            icount: false,
            link: None,
        };
        let has_netdev = |spec: &GuestSpec| spec.command(false).get_args().any(|a| a == "-netdev");
        assert!(!has_netdev(&spec));
        spec.link = Some(Link {
            port: 1,
            peer_port: 2,
            mac_suffix: 1,
        });
        assert!(has_netdev(&spec));
    }
}

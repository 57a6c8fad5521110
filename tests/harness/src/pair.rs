//! Two guests linked by a network, for what spans two hosts (VE migration with vzmigrate).
//! vza runs the payload (a script, or the pair cases) and vzb is its peer. Both boot the same
//! image, each with its own scratch /vz disk and one vCPU. The guest init gives them their
//! names and addresses and starts sshd, so root on either can `ssh` and `rsync` to the other
//! with keys made for the run. vzb waits until vza tells it over ssh that it is done, then
//! finishes as every guest does, so its console is checked for kernel faults too.

use crate::qemu::{Guest, GuestSpec, Link};
use crate::{drain, run_tool, scratch_disk, wait_ready, with_payload, RunLog, POWEROFF_GRACE};
use std::fs;
use std::net::UdpSocket;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

/// How long vzb may take, once vza has finished, to report its status and power off: it
/// checks for vza's word a few times a second, then dumps its dmesg.
const PEER_GRACE: Duration = Duration::from_secs(60);

/// Where the run's ssh keys travel in the payload; the guest init installs them.
const KEYS_DIR: &str = "payload/ssh";

/// The keys made for a run: root's own (the same on both guests) and each guest's host key.
/// The guest init puts both host keys in root's known_hosts.
const KEYS: [&str; 3] = ["id_ed25519", "vza_host_key", "vzb_host_key"];

/// The specs of vza and vzb, made from `spec`, whose command line says what vza does.
/// `name` prefixes their scratch disks, their image and the key directory in `log_dir`;
/// `payload` holds files for /payload besides the keys (vm mode's script).
pub fn prepare(
    spec: &GuestSpec,
    log_dir: &Path,
    name: &str,
    payload: &[(&str, &[u8])],
) -> Result<[GuestSpec; 2], String> {
    let keys = ssh_keys(&log_dir.join(format!("{name}-ssh")))?;
    let files: Vec<(&str, &[u8])> = payload
        .iter()
        .copied()
        .chain(
            keys.iter()
                .map(|(path, data)| (path.as_str(), data.as_slice())),
        )
        .collect();
    let initrd = with_payload(
        &spec.initrd,
        &log_dir.join(format!("{name}-initrd.img")),
        &["payload", KEYS_DIR],
        &files,
    )?;
    let [vza_port, vzb_port] = free_udp_ports()?;
    let [vza_cmdline, vzb_cmdline] = cmdlines(&spec.cmdline);
    let guest = |host: &str, cmdline: String, link: Link| -> Result<GuestSpec, String> {
        Ok(GuestSpec {
            initrd: initrd.clone(),
            cpus: 1,
            cmdline,
            disk: Some(scratch_disk(
                &log_dir.join(format!("scratch-{name}-{host}.img")),
                crate::SCRATCH_DISK_GIB,
            )?),
            link: Some(link),
            ..spec.clone()
        })
    };
    Ok([
        guest(
            "vza",
            vza_cmdline,
            Link {
                port: vza_port,
                peer_port: vzb_port,
                mac_suffix: 1,
            },
        )?,
        guest(
            "vzb",
            vzb_cmdline,
            Link {
                port: vzb_port,
                peer_port: vza_port,
                mac_suffix: 2,
            },
        )?,
    ])
}

/// vza's and vzb's kernel command lines: vza does what `vza_cmdline` says, vzb serves as its
/// peer. The guest init takes its name, address and peer from them.
fn cmdlines(vza_cmdline: &str) -> [String; 2] {
    [
        format!("{vza_cmdline} vzguest.host=vza vzguest.peer=vzb"),
        "vzguest.mode=peer vzguest.host=vzb vzguest.peer=vza".to_string(),
    ]
}

/// Makes the run's keys in `dir` with ssh-keygen and returns them as payload files.
fn ssh_keys(dir: &Path) -> Result<Vec<(String, Vec<u8>)>, String> {
    // ssh-keygen asks before it overwrites a key; an earlier run's keys go first.
    let _ = fs::remove_dir_all(dir);
    fs::create_dir_all(dir).map_err(|e| format!("create {}: {e}", dir.display()))?;
    let mut files = Vec::new();
    for key in KEYS {
        let path = dir.join(key);
        let mut keygen = Command::new("ssh-keygen");
        keygen
            .args(["-q", "-t", "ed25519", "-N", "", "-C"])
            .arg(format!("vz-harness {key}"))
            .arg("-f")
            .arg(&path);
        run_tool(&mut keygen, "ssh-keygen", "openssh-client", &path)?;
        for file in [key.to_string(), format!("{key}.pub")] {
            let path = dir.join(&file);
            let data = fs::read(&path).map_err(|e| format!("read {}: {e}", path.display()))?;
            files.push((format!("{KEYS_DIR}/{file}"), data));
        }
    }
    Ok(files)
}

/// Two UDP ports of the host's loopback that nothing uses now, so that runs at once do not
/// share a link. Both sockets stay bound until both ports are known, so the two differ; the
/// QEMUs bind them a moment later.
fn free_udp_ports() -> Result<[u16; 2], String> {
    let bind = || {
        UdpSocket::bind("127.0.0.1:0")
            .and_then(|socket| Ok((socket.local_addr()?.port(), socket)))
            .map_err(|e| format!("find a free UDP port on 127.0.0.1: {e}"))
    };
    let (vza_port, _vza_socket) = bind()?;
    let (vzb_port, _vzb_socket) = bind()?;
    Ok([vza_port, vzb_port])
}

/// vzb while vza runs. Its console lines wait in the reader's queue (qemu::Guest) and are
/// read once vza is done.
pub struct Peer {
    guest: Guest,
    log: RunLog,
    name: String,
}

/// How vzb's run ended: what went wrong, if anything, and the kernel faults in its console.
pub struct PeerOutcome {
    /// The name of vzb's logs, `<name>-vzb`.
    pub name: String,
    pub error: Option<String>,
    pub faults: Vec<String>,
    pub serial: PathBuf,
}

impl Peer {
    /// Boots vzb; its logs are `<name>-vzb-serial.log` and `<name>-vzb-dmesg.log`.
    pub fn start(spec: &GuestSpec, log_dir: &Path, name: &str) -> Result<Peer, String> {
        let name = format!("{name}-vzb");
        let log = RunLog::create(log_dir, &name)?;
        let guest =
            Guest::start(spec, Stdio::inherit()).map_err(|e| format!("start vzb's QEMU: {e}"))?;
        Ok(Peer { guest, log, name })
    }

    /// Once vza has finished (and told vzb to): waits for vzb to report its status and power
    /// off, killing it after a grace.
    pub fn finish(mut self) -> PeerOutcome {
        let status = wait_ready(&mut self.guest, &mut self.log, PEER_GRACE)
            .and_then(|()| drain(&mut self.guest, &mut self.log, PEER_GRACE, |_| {}));
        self.guest.finish(POWEROFF_GRACE);
        let error = match status {
            Ok(0) => None,
            Ok(status) => Some(format!(
                "the guest's init exited with status {status} (see {})",
                self.log.serial_path.display()
            )),
            Err(e) => Some(e),
        };
        PeerOutcome {
            name: self.name,
            error,
            faults: self.log.faults,
            serial: self.log.serial_path,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vza_keeps_its_mode_and_vzb_serves_as_its_peer() {
        let [vza, vzb] = cmdlines("vzguest.mode=vm");
        assert_eq!(vza, "vzguest.mode=vm vzguest.host=vza vzguest.peer=vzb");
        assert_eq!(vzb, "vzguest.mode=peer vzguest.host=vzb vzguest.peer=vza");
    }

    #[test]
    fn free_ports_differ() {
        let [a, b] = free_udp_ports().unwrap();
        assert_ne!(a, b);
        assert!(a > 0 && b > 0);
    }
}

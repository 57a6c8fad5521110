//! The destination host as vzmigrate reaches it: commands over OpenSSH (key authentication,
//! never a prompt) and copies with rsync over the same ssh.

use std::path::Path;
use std::process::{Command, Output, Stdio};

/// The socket of the connection every ssh and rsync of a migration shares (%C: a hash of
/// the host, port and user); /run is root's.
const CONTROL_PATH: &str = "ControlPath=/run/vzmigrate-%C";

/// ssh's exit status when it could not connect or lost the connection.
const SSH_FAILED: i32 = 255;
/// rsync's "some files vanished before they could be transferred": a live VE's private area
/// changes under the first pass; the last pass copies what it missed.
const RSYNC_VANISHED: i32 = 24;

/// How a command on the destination ended, when it did not succeed.
#[derive(Debug)]
pub enum RemoteError {
    /// ssh could not reach the host or lost it on the way.
    Connection(String),
    /// The command ran and failed: its exit status and the last line it printed on stderr.
    Failed { status: i32, message: String },
}

impl std::fmt::Display for RemoteError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RemoteError::Connection(text) | RemoteError::Failed { message: text, .. } => {
                f.write_str(text)
            }
        }
    }
}

pub struct Remote {
    /// `[user@]host`.
    pub host: String,
    ssh_options: Vec<String>,
    rsync_options: Vec<String>,
}

impl Remote {
    /// `ssh_options` and `rsync_options` are vzmigrate's --ssh and --rsync, split at spaces.
    pub fn new(host: &str, ssh_options: &str, rsync_options: &str) -> Remote {
        let words = |text: &str| text.split_whitespace().map(str::to_owned).collect();
        Remote {
            host: host.to_owned(),
            ssh_options: words(ssh_options),
            rsync_options: words(rsync_options),
        }
    }

    /// ssh and its options: no password prompt (a migration runs unattended), a dead peer
    /// noticed within 15 s, every command and copy over one connection (a new one costs a
    /// key exchange, which would lengthen the freeze), then the caller's own.
    fn ssh_words(&self) -> Vec<String> {
        let mut words: Vec<String> = [
            "ssh",
            "-o",
            "BatchMode=yes",
            "-o",
            "ConnectTimeout=10",
            "-o",
            "ServerAliveInterval=5",
            "-o",
            "ServerAliveCountMax=3",
            "-o",
            "ControlMaster=auto",
            "-o",
            CONTROL_PATH,
            "-o",
            "ControlPersist=60",
        ]
        .iter()
        .map(|w| (*w).to_owned())
        .collect();
        words.extend(self.ssh_options.iter().cloned());
        words
    }

    /// Ends the shared connection (one that is gone already is no error).
    pub fn disconnect(&self) {
        let _ = Command::new("ssh")
            .args(["-o", CONTROL_PATH, "-O", "exit"])
            .arg(&self.host)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }

    /// Runs `argv` on the destination; its stdout on success.
    pub fn run(&self, argv: &[&str]) -> Result<String, RemoteError> {
        let mut command = Command::new("ssh");
        command
            .args(&self.ssh_words()[1..])
            .arg(&self.host)
            .arg("--")
            .arg(shell_words(argv))
            .stdin(Stdio::null());
        let output = command.output().map_err(|e| {
            RemoteError::Connection(format!("cannot run ssh (install openssh-client): {e}"))
        })?;
        self.outcome(&output, &argv.join(" "))
            .map(|()| String::from_utf8_lossy(&output.stdout).into_owned())
    }

    /// Copies the directory `from` to the same path on the destination, making it and its
    /// parents there: -aHAX --numeric-ids --delete keeps every file, link, owner, ACL and
    /// extended attribute as it is (the VE's ids are its own), `sparse` on a first pass.
    pub fn copy_dir(&self, from: &Path, sparse: bool) -> Result<(), RemoteError> {
        let mut source = from.as_os_str().to_owned();
        source.push("/");
        self.rsync(&source, from, sparse)
    }

    /// Copies the file `from` to the same path on the destination.
    pub fn copy_file(&self, from: &Path) -> Result<(), RemoteError> {
        self.rsync(from.as_os_str(), from, false)
    }

    fn rsync(&self, from: &std::ffi::OsStr, to: &Path, sparse: bool) -> Result<(), RemoteError> {
        let mut command = Command::new("rsync");
        command
            .args(["-aHAX", "--numeric-ids", "--delete", "--mkpath"])
            .args(sparse.then_some("--sparse"))
            .arg("-e")
            .arg(shell_words(
                &self
                    .ssh_words()
                    .iter()
                    .map(String::as_str)
                    .collect::<Vec<_>>(),
            ))
            .args(&self.rsync_options)
            .arg(from)
            .arg(format!("{}:{}", self.host, to.display()))
            .stdin(Stdio::null());
        let output = command.output().map_err(|e| {
            RemoteError::Connection(format!("cannot run rsync (install rsync): {e}"))
        })?;
        if output.status.code() == Some(RSYNC_VANISHED) {
            return Ok(());
        }
        self.outcome(&output, &format!("rsync to {}:{}", self.host, to.display()))
    }

    fn outcome(&self, output: &Output, what: &str) -> Result<(), RemoteError> {
        let status = output.status.code().unwrap_or(SSH_FAILED);
        if status == 0 {
            return Ok(());
        }
        let stderr = String::from_utf8_lossy(&output.stderr);
        let last = stderr
            .lines()
            .rev()
            .find(|line| !line.trim().is_empty())
            .unwrap_or("")
            .trim()
            .trim_start_matches("Error: ")
            .to_owned();
        let lost = stderr.contains("ssh: ")
            || stderr.contains("Connection closed")
            || stderr.contains("Broken pipe")
            || stderr.contains("connection unexpectedly closed");
        if status == SSH_FAILED || lost {
            return Err(RemoteError::Connection(format!(
                "cannot reach {} ({what}): {last}",
                self.host
            )));
        }
        Err(RemoteError::Failed {
            status,
            message: if last.is_empty() {
                format!("{what} on {} exited with status {status}", self.host)
            } else {
                last
            },
        })
    }
}

/// `argv` as one line for the remote shell, each word single-quoted.
fn shell_words(argv: &[&str]) -> String {
    argv.iter()
        .map(|word| format!("'{}'", word.replace('\'', r"'\''")))
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_word_reaches_the_remote_shell_as_it_is() {
        assert_eq!(
            shell_words(&["vzctl", "exec", "101", "echo 'hi'; rm -rf /"]),
            r"'vzctl' 'exec' '101' 'echo '\''hi'\''; rm -rf /'"
        );
    }

    #[test]
    fn the_callers_options_follow_the_unattended_ones() {
        let remote = Remote::new("root@vzb", "-p 2222  -i /k", "--bwlimit=100");
        let words = remote.ssh_words();
        assert_eq!(words[..3], ["ssh", "-o", "BatchMode=yes"]);
        assert_eq!(words[words.len() - 4..], ["-p", "2222", "-i", "/k"]);
        assert!(words.iter().any(|w| w == CONTROL_PATH));
        assert_eq!(remote.rsync_options, ["--bwlimit=100"]);
    }
}

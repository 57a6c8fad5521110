//! Reading task facts from /proc, rooted at a configurable path so tests use temporary trees.

use std::path::{Path, PathBuf};

/// What /proc/<pid>/status says about a task's VE.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TaskVe {
    pub pid: i32,
    /// The VE id (`envID:`); 0 is the host.
    pub veid: u32,
    /// The pid inside the VE (`VPid:`).
    pub vpid: i32,
    /// The command name (`Name:`).
    pub name: String,
}

/// The /proc tree to read.
#[derive(Clone, Debug)]
pub struct Proc {
    root: PathBuf,
}

impl Default for Proc {
    fn default() -> Self {
        Proc::at("/proc")
    }
}

impl Proc {
    /// A /proc tree at `root`.
    pub fn at(root: impl AsRef<Path>) -> Self {
        Proc {
            root: root.as_ref().to_owned(),
        }
    }

    /// The VE facts of `pid`, or `None` if the task does not exist (or exits meanwhile) or
    /// the kernel prints no `envID:` line (not a vz kernel).
    pub fn task_ve(&self, pid: i32) -> Option<TaskVe> {
        let status =
            std::fs::read_to_string(self.root.join(pid.to_string()).join("status")).ok()?;
        let field = |key: &str| {
            status
                .lines()
                .find_map(|line| line.strip_prefix(key)?.strip_prefix(':'))
                .map(str::trim)
        };
        Some(TaskVe {
            pid,
            veid: field("envID")?.parse().ok()?,
            vpid: field("VPid")?.parse().ok()?,
            name: field("Name").unwrap_or("").to_owned(),
        })
    }
}

/// A /proc tree of status files in a temporary directory, for unit tests.
#[cfg(test)]
pub(crate) struct FakeProc {
    root: tempfile::TempDir,
}

#[cfg(test)]
impl FakeProc {
    /// A tree with one `<pid>/status` file per entry.
    pub(crate) fn new(tasks: &[(i32, &str)]) -> FakeProc {
        let root = tempfile::tempdir().unwrap();
        for (pid, status) in tasks {
            let dir = root.path().join(pid.to_string());
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(dir.join("status"), status).unwrap();
        }
        FakeProc { root }
    }

    pub(crate) fn proc(&self) -> Proc {
        Proc::at(self.root.path())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_env_id_vpid_and_name() {
        let fake = FakeProc::new(&[(
            42,
            "Name:\tnginx\nState:\tS\nPid:\t42\nenvID:\t101\nVPid:\t7\n",
        )]);
        assert_eq!(
            fake.proc().task_ve(42),
            Some(TaskVe {
                pid: 42,
                veid: 101,
                vpid: 7,
                name: "nginx".into()
            })
        );
    }

    #[test]
    fn missing_task_or_lines_give_none() {
        let fake = FakeProc::new(&[(42, "Name:\tsh\nPid:\t42\n")]);
        assert_eq!(fake.proc().task_ve(42), None);
        assert_eq!(fake.proc().task_ve(43), None);
    }
}

//! vzpid: which VE a host pid belongs to, in OpenVZ's tab-separated format.

use crate::error::VzError;
use crate::procfs::Proc;
use std::io::{BufRead, Write};

/// Prints the header and one row per existing pid of `pids` (`-` reads pids from `input`,
/// one or more per line). With `with_vpid`, the pid inside the VE is shown too. Pids that
/// do not exist are skipped, as OpenVZ's vzpid did.
pub fn run(
    proc: &Proc,
    pids: &[String],
    with_vpid: bool,
    input: &mut dyn BufRead,
    out: &mut dyn Write,
) -> Result<(), VzError> {
    let mut all = Vec::new();
    for arg in pids {
        if arg == "-" {
            for line in input.lines() {
                let line = line.map_err(|source| VzError::System {
                    what: "read pids from stdin".into(),
                    source,
                })?;
                for word in line.split_whitespace() {
                    all.push(parse_pid(word)?);
                }
            }
        } else {
            all.push(parse_pid(arg)?);
        }
    }
    let io_err = |source| VzError::System {
        what: "write to stdout".into(),
        source,
    };
    if with_vpid {
        writeln!(out, "Pid\tCT/Pid\tCTID\tName").map_err(io_err)?;
    } else {
        writeln!(out, "Pid\tCTID\tName").map_err(io_err)?;
    }
    for task in all.into_iter().filter_map(|pid| proc.task_ve(pid)) {
        if with_vpid {
            writeln!(
                out,
                "{}\t{}\t{}\t{}",
                task.pid, task.vpid, task.veid, task.name
            )
        } else {
            writeln!(out, "{}\t{}\t{}", task.pid, task.veid, task.name)
        }
        .map_err(io_err)?;
    }
    Ok(())
}

fn parse_pid(text: &str) -> Result<i32, VzError> {
    match text.parse::<i32>() {
        Ok(pid) if pid > 0 => Ok(pid),
        _ => Err(VzError::Usage(format!("invalid pid '{text}'"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::procfs::FakeProc;

    fn fake() -> FakeProc {
        FakeProc::new(&[
            (10, "Name:\tinit\nenvID:\t0\nVPid:\t10\n"),
            (20, "Name:\tsystemd\nenvID:\t101\nVPid:\t1\n"),
        ])
    }

    fn output(proc: &Proc, pids: &[&str], with_vpid: bool, stdin: &str) -> String {
        let pids: Vec<String> = pids.iter().map(|s| s.to_string()).collect();
        let mut out = Vec::new();
        run(proc, &pids, with_vpid, &mut stdin.as_bytes(), &mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn openvz_format_with_and_without_vpid() {
        let fake = fake();
        let proc = fake.proc();
        assert_eq!(
            output(&proc, &["10", "20", "30"], false, ""),
            "Pid\tCTID\tName\n10\t0\tinit\n20\t101\tsystemd\n"
        );
        assert_eq!(
            output(&proc, &["20"], true, ""),
            "Pid\tCT/Pid\tCTID\tName\n20\t1\t101\tsystemd\n"
        );
        assert_eq!(
            output(&proc, &["-"], false, "20\n10 30\n"),
            "Pid\tCTID\tName\n20\t101\tsystemd\n10\t0\tinit\n"
        );
    }

    #[test]
    fn bad_pid_is_a_usage_error() {
        let proc = Proc::at("/nonexistent");
        let mut out = Vec::new();
        let err = run(&proc, &["abc".into()], false, &mut "".as_bytes(), &mut out).unwrap_err();
        assert!(err.to_string().contains("invalid pid 'abc'"));
        let err = run(&proc, &["0".into()], false, &mut "".as_bytes(), &mut out).unwrap_err();
        assert!(matches!(err, VzError::Usage(_)));
    }
}

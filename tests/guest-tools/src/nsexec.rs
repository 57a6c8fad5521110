//! vznsexec PID COMMAND...: joins the namespaces of PID that `vzctl exec` joins, in its order
//! (its own list), and nothing else (no VE id, cgroup, capabilities or stdio relay), forks (the pid namespace
//! takes the child), execs COMMAND there and exits with its status. The lifecycle benchmark's
//! floor under `vzctl exec2`; no argument parser, so that it measures the kernel's work.

use std::ffi::CString;
use std::fs::File;
use std::os::fd::AsRawFd;
use std::process::ExitCode;

fn run() -> Result<u8, String> {
    let mut args = std::env::args().skip(1);
    let pid = args.next().ok_or("usage: vznsexec PID COMMAND...")?;
    let argv = args
        .map(|a| CString::new(a).map_err(|e| e.to_string()))
        .collect::<Result<Vec<_>, _>>()?;
    let program = argv.first().ok_or("usage: vznsexec PID COMMAND...")?;
    let mut pointers: Vec<*const libc::c_char> = argv.iter().map(|a| a.as_ptr()).collect();
    pointers.push(std::ptr::null());
    for (name, flag) in vzctl::runtime::VE_NAMESPACES {
        let path = format!("/proc/{pid}/ns/{name}");
        let ns = File::open(&path).map_err(|e| format!("{path}: {e}"))?;
        // SAFETY: setns on an open namespace file touches no memory of ours.
        if unsafe { libc::setns(ns.as_raw_fd(), flag.bits()) } != 0 {
            return Err(format!("setns {name}: {}", std::io::Error::last_os_error()));
        }
    }
    // SAFETY: The child only execs or exits.
    match unsafe { libc::fork() } {
        -1 => Err(format!("fork: {}", std::io::Error::last_os_error())),
        0 => {
            // SAFETY: `pointers` is a NULL-terminated array of C strings that outlive the call;
            // _exit ends the child if exec fails.
            unsafe {
                libc::execvp(program.as_ptr(), pointers.as_ptr());
                libc::_exit(127)
            }
        }
        child => {
            let mut status = 0;
            // SAFETY: waitpid writes only `status`.
            if unsafe { libc::waitpid(child, &mut status, 0) } != child {
                return Err(format!("waitpid: {}", std::io::Error::last_os_error()));
            }
            Ok(if libc::WIFEXITED(status) {
                u8::try_from(libc::WEXITSTATUS(status)).unwrap_or(u8::MAX)
            } else {
                u8::MAX
            })
        }
    }
}

fn main() -> ExitCode {
    match run() {
        Ok(code) => ExitCode::from(code),
        Err(msg) => {
            eprintln!("vznsexec: {msg}");
            ExitCode::FAILURE
        }
    }
}

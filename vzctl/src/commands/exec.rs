//! vzctl exec, exec2, runscript and enter: commands inside a running VE. exec runs its
//! arguments as one /bin/sh command line (`-`: a shell reading stdin) and exits 8 when it
//! fails; exec2 exits with the command's status; runscript runs a script from the host;
//! enter opens a shell on a new pty inside.

use super::Ctx;
use crate::error::VzError;
use std::path::Path;

/// The argv `vzctl exec` runs for `words`.
fn shell_argv(words: &[String]) -> Vec<String> {
    if words == ["-"] {
        vec!["/bin/sh".into()]
    } else {
        vec!["/bin/sh".into(), "-c".into(), words.join(" ")]
    }
}

fn run_in(ctx: &Ctx, ctid: &str, argv: &[String]) -> Result<(u32, i32), VzError> {
    let ve = ctx.ve(ctid)?;
    ve.require_exists()?;
    if ctx.host.running(ve.veid)?.is_none() {
        return Err(VzError::NotRunning(ve.veid));
    }
    Ok((ve.veid, ctx.host.run(ve.veid, argv)?))
}

pub fn exec(ctx: &Ctx, ctid: &str, words: &[String]) -> Result<(), VzError> {
    match run_in(ctx, ctid, &shell_argv(words))? {
        (_, 0) => Ok(()),
        (veid, status) => Err(VzError::CommandFailed { veid, status }),
    }
}

/// Returns the command's exit status.
pub fn exec2(ctx: &Ctx, ctid: &str, words: &[String]) -> Result<i32, VzError> {
    run_in(ctx, ctid, &shell_argv(words)).map(|(_, status)| status)
}

/// Returns the script's exit status.
pub fn runscript(ctx: &Ctx, ctid: &str, script: &Path) -> Result<i32, VzError> {
    let text = std::fs::read_to_string(script).map_err(|source| VzError::System {
        what: format!("read {}", script.display()),
        source,
    })?;
    let argv = ["/bin/sh".to_string(), "-c".into(), text];
    run_in(ctx, ctid, &argv).map(|(_, status)| status)
}

/// An interactive shell (or `--exec` command) on a pty inside the VE.
pub fn enter(ctx: &Ctx, ctid: &str, exec: &[String]) -> Result<(), VzError> {
    let ve = ctx.ve(ctid)?;
    ve.require_exists()?;
    if ctx.host.running(ve.veid)?.is_none() {
        return Err(VzError::NotRunning(ve.veid));
    }
    let argv = if exec.is_empty() {
        vec!["/bin/sh".to_string(), "-l".into()]
    } else {
        vec!["/bin/sh".to_string(), "-c".into(), exec.join(" ")]
    };
    eprintln!("entered into CT {}", ve.veid);
    ctx.host.enter(ve.veid, &argv)?;
    eprintln!("exited from CT {}", ve.veid);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exec_joins_words_into_one_shell_line() {
        let words = ["echo".to_string(), "a".into(), "b".into()];
        assert_eq!(shell_argv(&words), ["/bin/sh", "-c", "echo a b"]);
        assert_eq!(shell_argv(&["-".to_string()]), ["/bin/sh"]);
    }
}

//! The host's boot and shutdown (hidden commands behind /etc/init.d/vz and vz.service): start
//! every VE marked ONBOOT="yes", highest BOOTORDER first and then by CTID; stop every running
//! VE. One VE failing does not keep the others from starting or stopping.

use super::Ctx;
use crate::cli::StopArgs;
use crate::error::VzError;
use crate::ve::Ve;

/// CTIDs of every VE with a config, ascending.
fn configured(ctx: &Ctx) -> Vec<u32> {
    let mut ids: Vec<u32> = std::fs::read_dir(ctx.paths.conf_dir())
        .map(|entries| {
            entries
                .flatten()
                .filter_map(|e| {
                    e.file_name()
                        .to_str()
                        .and_then(|n| n.strip_suffix(".conf"))
                        .and_then(|n| crate::params::parse_ctid(n).ok())
                })
                .collect()
        })
        .unwrap_or_default();
    ids.sort_unstable();
    ids
}

/// The VEs to start at boot, in order.
fn boot_order(ctx: &Ctx) -> Result<Vec<u32>, VzError> {
    let mut chosen = Vec::new();
    for veid in configured(ctx) {
        let ve = Ve::load(ctx.paths, ctx.global, veid)?;
        let conf = ve.conf()?;
        if conf.get("ONBOOT") != Some("yes") {
            continue;
        }
        let order = match conf.get("BOOTORDER").filter(|v| !v.is_empty()) {
            None => 0,
            Some(text) => text.parse::<u32>().map_err(|_| {
                VzError::InvalidValue(format!(
                    "{}: BOOTORDER: invalid value {text:?}",
                    ve.conf_path.display()
                ))
            })?,
        };
        chosen.push((order, veid));
    }
    chosen.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    Ok(chosen.into_iter().map(|(_, veid)| veid).collect())
}

/// Runs `action` for each VE, reporting failures; the first failure is returned at the end.
fn each(ids: Vec<u32>, mut action: impl FnMut(u32) -> Result<(), VzError>) -> Result<(), VzError> {
    let mut first = None;
    for veid in ids {
        if let Err(err) = action(veid) {
            eprintln!("vzctl: CT {veid}: {err}");
            first.get_or_insert(err);
        }
    }
    first.map_or(Ok(()), Err)
}

pub fn boot(ctx: &Ctx) -> Result<(), VzError> {
    each(boot_order(ctx)?, |veid| {
        if ctx.host.running(veid)?.is_some() {
            return Ok(());
        }
        ctx.say(&format!("Starting CT {veid}"));
        super::start::run(ctx, &veid.to_string())
    })
}

pub fn shutdown(ctx: &Ctx) -> Result<(), VzError> {
    each(configured(ctx), |veid| {
        if ctx.host.running(veid)?.is_none() {
            return Ok(());
        }
        ctx.say(&format!("Stopping CT {veid}"));
        super::stop::run(
            ctx,
            &StopArgs {
                ctid: veid.to_string(),
                fast: false,
                stop_timeout: None,
            },
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::commands::create::tests::scratch;
    use crate::host::fake::FakeHost;
    use crate::paths::Global;

    #[test]
    fn onboot_ves_start_by_bootorder_then_ctid() {
        let paths = scratch();
        for (veid, text) in [
            (101, "ONBOOT=\"yes\"\n"),
            (102, "ONBOOT=\"no\"\n"),
            (103, "ONBOOT=\"yes\"\nBOOTORDER=\"10\"\n"),
            (104, "ONBOOT=\"yes\"\n"),
        ] {
            std::fs::write(paths.ve_conf(veid), text).unwrap();
        }
        let global = Global::load(&paths).unwrap();
        let host = FakeHost::default();
        let ctx = crate::commands::fake::ctx(&paths, &global, &host);
        assert_eq!(boot_order(&ctx).unwrap(), [103, 101, 104]);
    }
}

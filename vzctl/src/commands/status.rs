//! vzctl status: one line, `CTID 101 exist mounted running`, as OpenVZ printed it.

use super::Ctx;
use crate::error::VzError;

pub fn run(ctx: &Ctx, ctid: &str) -> Result<(), VzError> {
    let ve = ctx.ve(ctid)?;
    println!("{}", ve.state(ctx.host)?.status_line(ve.veid));
    Ok(())
}

//! One file per command; each is thin and calls into the library.

pub mod boot;
pub mod chkpnt;
pub mod create;
pub mod destroy;
pub mod exec;
pub mod mount;
pub mod set;
pub mod start;
pub mod status;
pub mod stop;
pub mod version;

use crate::error::VzError;
use crate::host::Host;
use crate::lock::VeLock;
use crate::paths::{Global, Paths};
use crate::ve::{resolve_ctid, Ve};

/// What every VE command works with.
pub struct Ctx<'a> {
    pub paths: &'a Paths,
    pub global: &'a Global,
    pub host: &'a dyn Host,
    /// Print only errors.
    pub quiet: bool,
    /// The caller (vzmigrate) holds the VE's lock already.
    pub skiplock: bool,
}

impl Ctx<'_> {
    /// Prints a progress line unless --quiet.
    pub fn say(&self, line: &str) {
        if !self.quiet {
            println!("{line}");
        }
    }

    /// The VE named by `ctid`, loaded.
    pub fn ve(&self, ctid: &str) -> Result<Ve, VzError> {
        let _phase = crate::trace::phase("load the VE's config");
        let veid = resolve_ctid(self.paths, ctid)?;
        Ve::load(self.paths, self.global, veid)
    }

    /// Takes the VE's lock for `status` (a word such as "starting") unless --skiplock.
    pub fn lock(&self, veid: u32, status: &str) -> Result<Option<VeLock>, VzError> {
        if self.skiplock {
            return Ok(None);
        }
        let _phase = crate::trace::phase("lock");
        VeLock::acquire(&self.global.lockdir, &self.paths.proc(), veid, status).map(Some)
    }
}

/// The commands' unit tests run over [`crate::host::fake::FakeHost`].
#[cfg(test)]
pub mod fake {
    /// A command context over `host`, quiet.
    pub fn ctx<'a>(
        paths: &'a crate::paths::Paths,
        global: &'a crate::paths::Global,
        host: &'a crate::host::fake::FakeHost,
    ) -> super::Ctx<'a> {
        super::Ctx {
            paths,
            global,
            host,
            quiet: true,
            skiplock: false,
        }
    }
}

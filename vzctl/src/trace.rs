//! `VZ_TRACE=1`: each phase of a command prints its wall time to stderr when it ends, as
//! `vz-trace: 1.234 ms  load config (at 5.678 ms)`, the second figure counted from the start
//! of `main`. Phases nest; an inner phase ends (and prints) before the outer one. Without the
//! variable a phase costs one load of a cached flag.

use std::sync::OnceLock;
use std::time::Instant;

/// When tracing: the instant `main` began (or the first phase, if `start` was not called).
static STARTED: OnceLock<Option<Instant>> = OnceLock::new();

fn started() -> Option<Instant> {
    *STARTED.get_or_init(|| {
        std::env::var_os("VZ_TRACE")
            .is_some_and(|v| !v.is_empty() && v != "0")
            .then(Instant::now)
    })
}

/// Reads `VZ_TRACE` and starts the clock; the binaries call it first thing in `main`.
pub fn start() {
    let _ = started();
}

/// A phase being timed; it prints when dropped.
#[must_use = "a phase ends when this value is dropped"]
pub struct Phase {
    name: &'static str,
    began: Instant,
    since: Instant,
}

/// Times `name` until the returned value is dropped; `None` (nothing to do) unless tracing.
pub fn phase(name: &'static str) -> Option<Phase> {
    started().map(|since| Phase {
        name,
        began: Instant::now(),
        since,
    })
}

impl Drop for Phase {
    fn drop(&mut self) {
        let took = self.began.elapsed().as_secs_f64() * 1e3;
        let at = self.began.duration_since(self.since).as_secs_f64() * 1e3;
        eprintln!("vz-trace: {took:9.3} ms  {} (at {at:.3} ms)", self.name);
    }
}

/// Runs `work` as the phase `name`.
pub fn timed<T>(name: &'static str, work: impl FnOnce() -> T) -> T {
    let _phase = phase(name);
    work()
}

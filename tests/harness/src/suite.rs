//! The `test` mode: the in-guest suite, shared out among guests that run at once (shards)
//! and repeated for a number of rounds, each in fresh guests; with `--pair`, each round ends
//! with the two-guest cases on a linked pair (vza runs them, vzb is the peer). One line per
//! case as it ends; at the end `N passed, N failed` and every failure with the path of its log.

use crate::pair::{self, PeerOutcome};
use crate::qemu::{Accel, Guest, GuestSpec};
use crate::{drain, scratch_disk, serial, wait_ready, RunLog, POWEROFF_GRACE};
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::mpsc::{self, Sender};
use std::time::{Duration, Instant};

/// Lines of a failed case's output shown on the terminal; its log file has all of them.
const SHOWN_OUTPUT_LINES: usize = 30;

pub struct Plan {
    pub log_dir: PathBuf,
    pub boot: Duration,
    /// How long each guest may take once it is up.
    pub limit: Duration,
    pub shards: u32,
    pub rounds: u32,
    /// `vzguest.only`: the guest runs only the cases matching this regex.
    pub only: Option<String>,
    /// Run the two-guest cases on a pair after each round's shards.
    pub pair: bool,
}

/// What a guest reports while it runs.
enum Event {
    Up { guest: String, secs: f64 },
    Case(Case),
}

/// One finished case and, when it failed, its output.
struct Case {
    name: String,
    passed: bool,
    millis: u64,
    output: Vec<String>,
}

/// How one guest's run ended.
struct GuestOutcome {
    name: String,
    announced: Option<usize>,
    reported: usize,
    error: Option<String>,
    faults: Vec<String>,
    serial: PathBuf,
    /// How the peer of a pair's vza ended.
    peer: Option<PeerOutcome>,
}

impl GuestOutcome {
    fn new(name: String, log_dir: &Path) -> GuestOutcome {
        GuestOutcome {
            serial: log_dir.join(format!("{name}-serial.log")),
            name,
            announced: None,
            reported: 0,
            error: None,
            faults: Vec::new(),
            peer: None,
        }
    }

    /// A guest that could not be booted.
    fn failed(name: String, log_dir: &Path, error: String) -> GuestOutcome {
        GuestOutcome {
            error: Some(error),
            ..GuestOutcome::new(name, log_dir)
        }
    }
}

/// One line of the closing summary: what failed and where to read about it.
struct Failure {
    what: String,
    log: PathBuf,
}

/// What the run has seen so far: passed cases and every failure.
struct Tally {
    /// Where failed cases' output goes, one file each.
    case_dir: PathBuf,
    passed: usize,
    failures: Vec<Failure>,
}

pub fn run(spec: &GuestSpec, plan: &Plan) -> Result<u8, String> {
    let started = Instant::now();
    let case_dir = plan.log_dir.join("cases");
    // Logs of an earlier run would read as this run's.
    let _ = fs::remove_dir_all(&case_dir);
    fs::create_dir_all(&case_dir).map_err(|e| format!("create {}: {e}", case_dir.display()))?;
    let mut tally = Tally {
        case_dir,
        passed: 0,
        failures: Vec::new(),
    };
    for round in 1..=plan.rounds {
        if plan.rounds > 1 {
            println!("round {round} of {}", plan.rounds);
        }
        let shards = (1..=plan.shards)
            .map(|shard| Box::new(move |tx| run_shard(spec, plan, round, shard, tx)) as Job)
            .collect();
        let mut outcomes = run_at_once(shards, spec.accel, round, plan.rounds, &mut tally)?;
        // The pair's two guests run after the shards, which keep every core busy.
        if plan.pair {
            let pair = Box::new(move |tx| run_pair(spec, plan, round, tx)) as Job;
            outcomes.extend(run_at_once(
                vec![pair],
                spec.accel,
                round,
                plan.rounds,
                &mut tally,
            )?);
        }
        for failure in outcomes
            .iter()
            .flat_map(|outcome| guest_failures(outcome, round, plan.rounds))
        {
            println!("FAIL  {}", failure.what);
            tally.failures.push(failure);
        }
    }
    let Tally {
        passed, failures, ..
    } = tally;
    println!(
        "VM suite took {:.1} s ({} at once, {} round{}{})",
        started.elapsed().as_secs_f64(),
        if plan.shards == 1 {
            "1 guest".to_string()
        } else {
            format!("{} guests", plan.shards)
        },
        plan.rounds,
        if plan.rounds == 1 { "" } else { "s" },
        if plan.pair { ", then a pair" } else { "" }
    );
    println!("{passed} passed, {} failed", failures.len());
    if !failures.is_empty() {
        println!("failed:");
        let width = failures.iter().map(|f| f.what.len()).max().unwrap_or(0);
        for failure in &failures {
            println!("  {:width$}  {}", failure.what, failure.log.display());
        }
    }
    Ok(if failures.is_empty() && passed > 0 {
        0
    } else {
        1
    })
}

/// One guest's (or pair's) share of a round, reporting its cases on the sender it is given.
type Job<'a> = Box<dyn FnOnce(Sender<Event>) -> GuestOutcome + Send + 'a>;

/// Runs `jobs` at once, each in its own thread, and prints their cases as they end, whichever
/// guest ran them; returns how each guest's run ended.
fn run_at_once(
    jobs: Vec<Job>,
    accel: Accel,
    round: u32,
    rounds: u32,
    tally: &mut Tally,
) -> Result<Vec<GuestOutcome>, String> {
    let (tx, rx) = mpsc::channel();
    std::thread::scope(|scope| {
        let guests: Vec<_> = jobs
            .into_iter()
            .map(|job| {
                let tx = tx.clone();
                scope.spawn(move || job(tx))
            })
            .collect();
        drop(tx);
        for event in rx {
            match event {
                Event::Up { guest, secs } => {
                    println!("{guest} up after {secs:.1} s ({accel:?})")
                }
                Event::Case(case) if case.passed => {
                    tally.passed += 1;
                    println!("PASS  {} ({:.1} s)", case.name, case.millis as f64 / 1000.0);
                }
                Event::Case(case) => {
                    let log = case_log(&tally.case_dir, &case, round, rounds);
                    print_failed_case(&case, &log);
                    tally.failures.push(Failure {
                        what: round_name(&case.name, round, rounds),
                        log,
                    });
                }
            }
        }
        guests
            .into_iter()
            .map(|guest| {
                guest
                    .join()
                    .map_err(|_| "a guest thread panicked".to_string())
            })
            .collect()
    })
}

/// The start of the names of a round's logs: `test`, `test-r2` when there are rounds.
fn round_prefix(plan: &Plan, round: u32) -> String {
    if plan.rounds > 1 {
        format!("test-r{round}")
    } else {
        "test".to_string()
    }
}

/// Boots a guest for `shard` of `round` with the ordinary cases.
fn run_shard(
    spec: &GuestSpec,
    plan: &Plan,
    round: u32,
    shard: u32,
    tx: Sender<Event>,
) -> GuestOutcome {
    let mut name = round_prefix(plan, round);
    if plan.shards > 1 {
        name.push_str(&format!("-{shard}"));
    }
    let mut spec = spec.clone();
    spec.cmdline
        .push_str(&format!(" vzguest.shard={shard}/{}", plan.shards));
    if let Some(only) = &plan.only {
        spec.cmdline.push_str(&format!(" vzguest.only={only}"));
    }
    match scratch_disk(
        &plan.log_dir.join(format!("scratch-{shard}.img")),
        crate::SCRATCH_DISK_GIB,
    ) {
        Ok(disk) => {
            spec.disk = Some(disk);
            run_guest(&spec, name, plan, tx)
        }
        Err(e) => GuestOutcome::failed(name, &plan.log_dir, e),
    }
}

/// Boots a linked pair for `round`: vza runs the two-guest cases, vzb is its peer.
fn run_pair(spec: &GuestSpec, plan: &Plan, round: u32, tx: Sender<Event>) -> GuestOutcome {
    let name = format!("{}-pair", round_prefix(plan, round));
    let mut spec = spec.clone();
    spec.cmdline.push_str(" vzguest.cases=/tests/cases-pair");
    if let Some(only) = &plan.only {
        spec.cmdline.push_str(&format!(" vzguest.only={only}"));
    }
    let started = pair::prepare(&spec, &plan.log_dir, &name, &[]).and_then(|[vza, vzb]| {
        pair::Peer::start(&vzb, &plan.log_dir, &name).map(|peer| (vza, peer))
    });
    let vza_name = format!("{name}-vza");
    match started {
        Ok((vza, peer)) => {
            let mut outcome = run_guest(&vza, vza_name, plan, tx);
            outcome.peer = Some(peer.finish());
            outcome
        }
        Err(e) => GuestOutcome::failed(vza_name, &plan.log_dir, e),
    }
}

/// Boots the guest `spec` describes, reports its cases on `tx` and says how it ended.
fn run_guest(spec: &GuestSpec, name: String, plan: &Plan, tx: Sender<Event>) -> GuestOutcome {
    let mut outcome = GuestOutcome::new(name.clone(), &plan.log_dir);
    let mut log = match RunLog::create(&plan.log_dir, &name) {
        Ok(log) => log,
        Err(e) => {
            outcome.error = Some(e);
            return outcome;
        }
    };
    let started = Instant::now();
    let result = Guest::start(spec, Stdio::inherit())
        .map_err(|e| format!("start QEMU: {e}"))
        .and_then(|mut guest| {
            let ran = wait_ready(&mut guest, &mut log, plan.boot).and_then(|()| {
                let _ = tx.send(Event::Up {
                    guest: name.clone(),
                    secs: started.elapsed().as_secs_f64(),
                });
                let mut pending: Option<Case> = None;
                let drained = drain(&mut guest, &mut log, plan.limit, |line| {
                    if let Some(output) = line.strip_prefix(serial::CASE_OUTPUT) {
                        if let Some(case) = pending.as_mut() {
                            case.output.push(output.to_string());
                        }
                        return;
                    }
                    // Any other line ends the output of the failed case before it.
                    if let Some(case) = pending.take() {
                        let _ = tx.send(Event::Case(case));
                    }
                    if let Some(n) = serial::parse_total(line) {
                        outcome.announced = Some(n);
                    } else if let Some(result) = serial::parse_case(line) {
                        outcome.reported += 1;
                        let case = Case {
                            name: result.name,
                            passed: result.passed,
                            millis: result.millis,
                            output: Vec::new(),
                        };
                        if case.passed {
                            let _ = tx.send(Event::Case(case));
                        } else {
                            pending = Some(case);
                        }
                    }
                });
                if let Some(case) = pending.take() {
                    let _ = tx.send(Event::Case(case));
                }
                drained.map(|_| ())
            });
            guest.finish(POWEROFF_GRACE);
            ran
        });
    outcome.error = result.err();
    outcome.faults = std::mem::take(&mut log.faults);
    outcome
}

/// The failures of a guest that are not failed cases: a harness error, cases announced but
/// never reported, kernel faults in its console.
fn guest_failures(outcome: &GuestOutcome, round: u32, rounds: u32) -> Vec<Failure> {
    let mut whats = Vec::new();
    if let Some(error) = &outcome.error {
        whats.push(format!("harness ({}): {error}", outcome.name));
    }
    match outcome.announced {
        Some(n) if n > outcome.reported => whats.push(format!(
            "harness ({}): the guest announced {n} cases but reported {}",
            outcome.name, outcome.reported
        )),
        None if outcome.error.is_none() => whats.push(format!(
            "harness ({}): the guest never announced its cases",
            outcome.name
        )),
        _ => {}
    }
    for fault in &outcome.faults {
        whats.push(format!("kernel-log ({}): {fault}", outcome.name));
    }
    let mut failures: Vec<Failure> = whats
        .into_iter()
        .map(|what| Failure {
            what: round_name(&what, round, rounds),
            log: outcome.serial.clone(),
        })
        .collect();
    if let Some(peer) = &outcome.peer {
        let whats = peer
            .error
            .iter()
            .map(|error| format!("harness ({}): {error}", peer.name))
            .chain(
                peer.faults
                    .iter()
                    .map(|fault| format!("kernel-log ({}): {fault}", peer.name)),
            );
        failures.extend(whats.map(|what| Failure {
            what: round_name(&what, round, rounds),
            log: peer.serial.clone(),
        }));
    }
    failures
}

fn round_name(what: &str, round: u32, rounds: u32) -> String {
    if rounds > 1 {
        format!("[round {round}] {what}")
    } else {
        what.to_string()
    }
}

/// Writes a failed case's whole output to its own file and returns the file's path.
fn case_log(dir: &Path, case: &Case, round: u32, rounds: u32) -> PathBuf {
    let mut file = case.name.replace('/', ".");
    if rounds > 1 {
        file.push_str(&format!(".r{round}"));
    }
    let path = dir.join(format!("{file}.log"));
    let written = fs::File::create(&path).and_then(|mut f| {
        for line in &case.output {
            writeln!(f, "{line}")?;
        }
        Ok(())
    });
    if let Err(e) = written {
        println!("      (could not write {}: {e})", path.display());
    }
    path
}

fn print_failed_case(case: &Case, log: &Path) {
    println!("FAIL  {} ({:.1} s)", case.name, case.millis as f64 / 1000.0);
    let skip = case.output.len().saturating_sub(SHOWN_OUTPUT_LINES);
    if skip > 0 {
        println!("      | ... {skip} earlier lines in the log");
    }
    for line in case.output.iter().skip(skip) {
        println!("      | {line}");
    }
    println!("      log: {}", log.display());
}

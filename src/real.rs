//! Real systems beside the simulator: `pagelab real` runs a scenario's
//! steps on the real system and in the simulator and compares them.
//!
//! The pieces, from the system up:
//!
//! - a [`Backend`] runs a scenario's real-side steps in the process it is
//!   in and reports one neutral [`Observation`] per step: what the call
//!   returned and what memory looked like after it. [`linux`] is one
//!   (mmap, mlock, hugetlb, THP, `/proc`); a Windows one (VirtualAlloc and
//!   the rest, through windows-sys) is to plug in beside it;
//! - the backend runs in a **child** process, `pagelab` itself re-executed
//!   with a hidden subcommand ([`child`]), writing its observations as JSON
//!   lines: a crash, a SIGSEGV or the OOM killer on the real side ends the
//!   child, not the comparison, which reports the step it died at;
//! - [`simulated`] makes the same observations of the simulator, from a
//!   [`crate::runner::Runner`];
//! - [`compare`] is pure: two lists of observations and the scenario's
//!   declared differences in, one row per step out. [`recorded`] reads a
//!   real run saved as JSON, so the comparison is tested (and can be
//!   shown) where no backend can run.

pub mod compare;
#[cfg(target_os = "linux")]
pub mod linux;
pub mod recorded;
pub mod simulated;

use std::collections::BTreeMap;
use std::io::{BufRead, Write};

use serde::{Deserialize, Serialize};

use crate::scenario::Scenario;

/// What one step's call did, on either side.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum CallResult {
    /// It succeeded.
    Ok,
    /// It failed: the error's name ("ENOMEM", "ERROR_PRIVILEGE_NOT_HELD",
    /// "SIGSEGV") and number.
    Failed {
        /// The error's name.
        code: String,
        /// Its number (errno, Win32 code, signal).
        number: i64,
    },
    /// The system has nothing that does what the step does.
    NoCounterpart {
        /// What there is instead, if anything.
        why: String,
    },
    /// The step was not run on this side.
    NotRun {
        /// Why not.
        why: String,
    },
}

impl CallResult {
    /// Whether the call ran (succeeded or failed), so its result can be
    /// compared.
    pub fn ran(&self) -> bool {
        matches!(self, CallResult::Ok | CallResult::Failed { .. })
    }

    /// Short text: "ok", "ENOMEM (12)".
    pub fn short(&self) -> String {
        match self {
            CallResult::Ok => "ok".into(),
            CallResult::Failed { code, number: 0 } => code.clone(),
            CallResult::Failed { code, number } => format!("{code} ({number})"),
            CallResult::NoCounterpart { .. } => "no counterpart".into(),
            CallResult::NotRun { .. } => "not run".into(),
        }
    }
}

/// One step as one side saw it: the neutral record every backend and the
/// simulator produce.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Observation {
    /// The step's number in the scenario's plan, 1-based.
    pub step: usize,
    /// The step's op, as the scenario writes it.
    pub op: String,
    /// The call made, as its system names it ("mmap(4 MiB, PROT_NONE)").
    pub call: String,
    /// What it returned.
    pub result: CallResult,
    /// Quantities measured after the step ([`compare::QUANTITIES`]).
    pub measured: BTreeMap<String, u64>,
    /// Anything else worth showing (frame numbers, why a quantity was not
    /// measured).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

impl Observation {
    /// A step with a result and nothing measured yet.
    pub fn new(step: usize, op: &str, call: impl Into<String>, result: CallResult) -> Observation {
        Observation {
            step,
            op: op.to_string(),
            call: call.into(),
            result,
            measured: BTreeMap::new(),
            notes: Vec::new(),
        }
    }
}

/// The real system a run was made on.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct System {
    /// The backend ("linux").
    pub backend: String,
    /// The kernel or OS version.
    pub version: String,
    /// Whether the run had root (or administrator) rights.
    pub privileged: bool,
}

/// A real run: the system, one observation per real step, and how it
/// ended if it ended early.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RealRun {
    /// Where it ran.
    pub system: System,
    /// The observations, in step order.
    pub observations: Vec<Observation>,
    /// Why the run stopped before its last step (a signal), if it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ended: Option<String>,
}

/// A real system that runs a scenario's steps in the current process.
pub trait Backend {
    /// The system, as the run's header shows it.
    fn system(&self) -> System;

    /// Whether this scenario can run here; the reason when not (not root,
    /// no hugetlb support, ...). Checked before any step runs.
    fn check(&self, scenario: &Scenario) -> Result<(), String>;

    /// Runs the plan's real-side steps in order, handing each observation
    /// to `emit` as soon as the step is done (so that a crash in a later
    /// step loses nothing before it).
    fn run(&mut self, scenario: &Scenario, emit: &mut dyn FnMut(&Observation)) -> Result<(), String>;
}

/// The backends this build has, by name.
pub fn backend(name: &str) -> Result<Box<dyn Backend>, String> {
    match name {
        #[cfg(target_os = "linux")]
        "linux" => Ok(Box::new(linux::Linux::new())),
        #[cfg(not(target_os = "linux"))]
        "linux" => Err("the Linux backend runs only on Linux".into()),
        "windows" => Err("there is no Windows backend yet (it is the next step: VirtualAlloc and the rest through windows-sys, on Windows or under Wine)".into()),
        other => Err(format!("unknown backend {other:?}: expected linux or windows")),
    }
}

/// The backend for this system when none is named.
pub fn default_backend() -> &'static str {
    if cfg!(windows) {
        "windows"
    } else {
        "linux"
    }
}

/// The hidden subcommand's name: `pagelab __real-child BACKEND SCENARIO`.
pub const CHILD_COMMAND: &str = "__real-child";

/// The child's side: runs the backend on the scenario, one JSON line per
/// observation on standard output after a first line with the system.
/// Returns the exit code.
pub fn child(backend_name: &str, scenario: &Scenario) -> i32 {
    let mut b = match backend(backend_name) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("pagelab: {e}");
            return crate::exit::EXIT_BAD_INPUT;
        }
    };
    let out = std::io::stdout();
    let mut out = out.lock();
    let line = serde_json::to_string(&b.system()).expect("a system serializes");
    if writeln!(out, "{line}").and_then(|()| out.flush()).is_err() {
        return crate::exit::EXIT_BAD_INPUT;
    }
    let mut emit = |o: &Observation| {
        let line = serde_json::to_string(o).expect("an observation serializes");
        // The parent reads as the steps go; a parent gone is no reason to stop.
        let _ = writeln!(out, "{line}").and_then(|()| out.flush());
    };
    match b.run(scenario, &mut emit) {
        Ok(()) => crate::exit::EXIT_OK,
        Err(e) => {
            eprintln!("pagelab: {e}");
            crate::exit::EXIT_BAD_INPUT
        }
    }
}

/// Runs the real side in a child process: `exe __real-child BACKEND
/// SCENARIO`, and collects its observations. A child that dies of a
/// signal leaves the observations it wrote, and [`RealRun::ended`] says
/// which signal, the step it died in recorded as failing with it; a child
/// still running after `timeout` is killed (SIGKILL) and reported so.
/// `Err` is a backend that cannot run here (the child's reason) or a child
/// that could not be started.
pub fn run_child(
    exe: &std::path::Path,
    backend: &str,
    scenario_arg: &str,
    scenario: &Scenario,
    timeout: std::time::Duration,
) -> Result<RealRun, String> {
    use std::io::Read;
    use std::process::{Command, Stdio};
    let mut child = Command::new(exe)
        .arg(CHILD_COMMAND)
        .arg(backend)
        .arg(scenario_arg)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start the real side ({}): {e}", exe.display()))?;
    let drain = |pipe: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            if let Some(mut p) = pipe {
                let _ = p.read_to_end(&mut bytes);
            }
            bytes
        })
    };
    let out = drain(child.stdout.take().map(|p| Box::new(p) as Box<dyn Read + Send>));
    let err = drain(child.stderr.take().map(|p| Box::new(p) as Box<dyn Read + Send>));
    let start = std::time::Instant::now();
    let mut timed_out = false;
    let status = loop {
        match child.try_wait().map_err(|e| format!("cannot wait for the real side: {e}"))? {
            Some(status) => break status,
            None if start.elapsed() >= timeout => {
                // Our own child, by its id.
                let _ = child.kill();
                timed_out = true;
                break child.wait().map_err(|e| format!("cannot wait for the real side: {e}"))?;
            }
            None => std::thread::sleep(std::time::Duration::from_millis(10)),
        }
    };
    let stdout = out.join().unwrap_or_default();
    let stderr = String::from_utf8_lossy(&err.join().unwrap_or_default()).trim().to_string();
    let mut lines = stdout.lines();
    let reason = |fallback: &str| {
        let first = stderr.lines().next().unwrap_or(fallback);
        first.strip_prefix("pagelab: ").unwrap_or(first).to_string()
    };
    let system: System = match lines.next() {
        Some(Ok(l)) => serde_json::from_str(&l).map_err(|e| format!("the real side wrote {l:?}: {e}"))?,
        _ => return Err(reason("the real side stopped before it started")),
    };
    let mut observations = Vec::new();
    for l in lines {
        let l = l.map_err(|e| format!("cannot read the real side: {e}"))?;
        let o: Observation = serde_json::from_str(&l).map_err(|e| format!("the real side wrote {l:?}: {e}"))?;
        observations.push(o);
    }
    let mut ended = None;
    if !status.success() {
        #[cfg(unix)]
        {
            use std::os::unix::process::ExitStatusExt;
            if let Some(sig) = status.signal() {
                let (name, gloss) = signal_name(sig);
                // The step it died in: the first real-side step with no observation.
                let done = observations.last().map_or(0, |o| o.step);
                let next = scenario.plan.iter().enumerate().skip(done).find(|(_, s)| s.real.side.real());
                if let Some((i, s)) = next {
                    let mut o = Observation::new(
                        i + 1,
                        s.action.op_name(),
                        "(the real side died here)",
                        CallResult::Failed { code: name.to_string(), number: sig as i64 },
                    );
                    if timed_out {
                        o.notes.push(format!(
                            "pagelab real killed the child process after {} s (--timeout)",
                            timeout.as_secs()
                        ));
                    } else {
                        o.notes.push(format!("the child process was killed by signal {sig}, {name}: {gloss}"));
                    }
                    observations.push(o);
                    ended = Some(if timed_out {
                        format!("stopped at step {} after {} s (--timeout)", i + 1, timeout.as_secs())
                    } else {
                        format!("killed by {name} at step {}", i + 1)
                    });
                } else {
                    ended = Some(format!("killed by {name} after its last step"));
                }
            }
        }
        if ended.is_none() {
            return Err(reason("the real side failed"));
        }
    }
    Ok(RealRun { system, observations, ended })
}

/// A signal's name and what usually sends it.
#[cfg(unix)]
fn signal_name(sig: i32) -> (&'static str, &'static str) {
    match sig {
        11 => ("SIGSEGV", "an access to memory the process may not touch"),
        7 => ("SIGBUS", "a page that could not be provided (a hugetlb page the pool no longer has)"),
        9 => ("SIGKILL", "killed outright, perhaps by the OOM killer"),
        6 => ("SIGABRT", "the process aborted"),
        _ => ("a signal", "see signal(7)"),
    }
}

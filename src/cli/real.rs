//! `pagelab real SCENARIO [--backend linux] [--json]`: the scenario on
//! the real system, in a child process, and in the simulator, compared
//! step by step ([`crate::real`]).

use std::path::PathBuf;
use std::sync::Arc;

use clap::Args;
use serde::Serialize;

use super::{emit, resolve, EXIT_BAD_INPUT, EXIT_FAILED, EXIT_OK};
use crate::real::compare::{compare, Comparison};
use crate::real::{self, RealRun};

/// Arguments of `real`.
#[derive(Debug, Args)]
pub struct RealArgs {
    /// Scenario file or built-in name (the real ones: real-demand-zero,
    /// real-large-pages, real-locked, real-hard-faults, real-contiguity).
    pub scenario: String,
    /// The real system: linux (windows is not built yet). Default: this
    /// system's.
    #[arg(long)]
    pub backend: Option<String>,
    /// Compare with a real run recorded earlier (the JSON of `pagelab real
    /// --json`) instead of running a backend.
    #[arg(long, value_name = "FILE", conflicts_with = "backend")]
    pub recorded: Option<PathBuf>,
    /// Stop the real side after this many seconds (it is killed, and the
    /// step it was in reported as failing).
    #[arg(long, value_name = "SECONDS", default_value_t = 600)]
    pub timeout: u64,
    /// Print JSON: the comparison, and the real run under `real`.
    #[arg(long)]
    pub json: bool,
    /// Write the report to this file (whole or not at all).
    #[arg(long, short)]
    pub output: Option<PathBuf>,
}

/// Arguments of the hidden child: `pagelab __real-child BACKEND SCENARIO`.
#[derive(Debug, Args)]
pub struct ChildArgs {
    /// The backend.
    pub backend: String,
    /// The scenario, as given to `pagelab real`.
    pub scenario: String,
}

#[derive(Serialize)]
struct Report<'a> {
    #[serde(flatten)]
    comparison: &'a Comparison,
    real: &'a RealRun,
}

fn bad(msg: impl std::fmt::Display) -> i32 {
    eprintln!("pagelab: {msg}");
    EXIT_BAD_INPUT
}

/// Runs `pagelab real`.
pub fn real(a: RealArgs) -> i32 {
    let scenario = match resolve(&a.scenario, &[]) {
        Ok(s) => Arc::new(s),
        Err(e) => return bad(e),
    };
    // The simulated side is a run like `pagelab run`'s, under its limit.
    if let Err(e) = crate::host_memory::check_scenario(&scenario, crate::host_memory::Front::Run, None) {
        return bad(e);
    }
    let run = match &a.recorded {
        Some(path) => {
            let text = match std::fs::read_to_string(path) {
                Ok(t) => t,
                Err(e) => return bad(format!("{}: cannot read it: {e}", path.display())),
            };
            match real::recorded::parse(&text) {
                Ok(r) => r,
                Err(e) => return bad(format!("{}:{e}", path.display())),
            }
        }
        None => {
            let name = a.backend.as_deref().unwrap_or(real::default_backend());
            let backend = match real::backend(name) {
                Ok(b) => b,
                Err(e) => return bad(format!("--backend {name}: {e}")),
            };
            if let Err(e) = backend.check(&scenario) {
                return bad(format!("the {name} backend cannot run {} here: {e}", a.scenario));
            }
            drop(backend);
            let exe = match std::env::current_exe() {
                Ok(p) => p,
                Err(e) => return bad(format!("cannot find the pagelab binary to run the real side: {e}")),
            };
            let guard = PoolGuard::new();
            let timeout = std::time::Duration::from_secs(a.timeout.max(1));
            let r = real::run_child(&exe, name, &a.scenario, &scenario, timeout);
            drop(guard);
            match r {
                Ok(r) => r,
                Err(e) => return bad(format!("the {name} backend cannot run {} here: {e}", a.scenario)),
            }
        }
    };
    let simulated = match real::simulated::observe(&scenario) {
        Ok(s) => s,
        Err(e) => return bad(format!("{}: {e}", a.scenario)),
    };
    let c = compare(&scenario, &simulated, &run);
    let text = if a.json {
        let mut t = serde_json::to_string_pretty(&Report { comparison: &c, real: &run }).expect("a report serializes");
        t.push('\n');
        t
    } else {
        c.text()
    };
    if let Err(code) = emit(a.output.as_deref(), &text) {
        return code;
    }
    if c.passed() {
        EXIT_OK
    } else {
        EXIT_FAILED
    }
}

/// Runs the real side (the hidden child of `pagelab real`).
pub fn child(a: ChildArgs) -> i32 {
    match resolve(&a.scenario, &[]) {
        Ok(s) => real::child(&a.backend, &s),
        Err(e) => bad(e),
    }
}

/// Puts Linux's hugetlb pool back as it was, whatever became of the child
/// that changed it (the child restores it too when it ends normally).
struct PoolGuard(Option<String>);

const NR_HUGEPAGES: &str = "/proc/sys/vm/nr_hugepages";

impl PoolGuard {
    fn new() -> PoolGuard {
        PoolGuard(std::fs::read_to_string(NR_HUGEPAGES).ok())
    }
}

impl Drop for PoolGuard {
    fn drop(&mut self) {
        if let Some(before) = &self.0 {
            if std::fs::read_to_string(NR_HUGEPAGES).ok().as_ref() != Some(before) {
                let _ = std::fs::write(NR_HUGEPAGES, before);
            }
        }
    }
}

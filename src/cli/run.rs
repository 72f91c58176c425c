//! `pagelab run SCENARIO`.

use std::path::PathBuf;
use std::sync::Arc;

use clap::Args;

mod quiz;
mod trace;
pub use trace::TraceFormat;

use super::{emit, resolve, EXIT_BAD_INPUT, EXIT_FAILED, EXIT_INTERNAL, EXIT_OK};
use crate::host_memory::{self, Front};
use crate::output::StdoutError;
use crate::report::Report;
use crate::runner::Runner;

/// Arguments of `run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// Scenario file or built-in name (see `pagelab scenarios`).
    pub scenario: String,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
    /// Seed of the machine's random generator (overrides machine.seed).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Override a machine setting, e.g. --set memory=1MiB --set policy=lru.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub set: Vec<String>,
    /// Print every event with its explanation, step by step.
    #[arg(long)]
    pub events: bool,
    /// Write the report to this file (whole or not at all) instead of stdout.
    #[arg(long, short)]
    pub output: Option<PathBuf>,
    /// Host memory the run may use (e.g. 8GiB, or "unlimited"); default:
    /// $PAGELAB_HOST_MEMORY, else 3/4 of the host's RAM or memory limits.
    #[arg(long, value_name = "SIZE")]
    pub host_memory: Option<String>,
    /// Do not check the model's invariants after every step (faster). A
    /// broken invariant is an internal error: exit code 3.
    #[arg(long)]
    pub no_check: bool,
    /// Run without checking the scenario's expectations (exit 0 unless the
    /// run breaks): for a scenario whose settings `--set` changed.
    #[arg(long)]
    pub no_expect: bool,
    /// Print one line per memory reference of every touch and refs step:
    /// the page, hit or the kind of fault, the victim, the working set in
    /// policy order, running hits and misses (text, csv or jsonl).
    #[arg(long, value_name = "FORMAT", num_args = 0..=1, default_missing_value = "text")]
    pub trace: Option<TraceFormat>,
    /// Test yourself on the scenario's references: before each one, say
    /// whether it hits or misses and which page is evicted (as `pagelab
    /// quiz` asks a generated string).
    #[arg(long, conflicts_with_all = ["trace", "events", "json", "output"])]
    pub quiz: bool,
    /// With --quiz: also ask the kind of each fault and the list each
    /// victim goes to.
    #[arg(long, requires = "quiz")]
    pub deep: bool,
}

impl RunArgs {
    /// The built-in tour with default options.
    pub fn tour() -> RunArgs {
        RunArgs {
            scenario: "tour".into(),
            json: false,
            seed: None,
            set: Vec::new(),
            events: false,
            output: None,
            host_memory: None,
            no_check: false,
            no_expect: false,
            trace: None,
            quiz: false,
            deep: false,
        }
    }
}

pub use crate::scenario::overrides;

/// Runs `run`.
pub fn run(a: RunArgs) -> i32 {
    let ov = match overrides(&a.set, a.seed) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("pagelab: {e}");
            return EXIT_BAD_INPUT;
        }
    };
    let scenario = match resolve(&a.scenario, &ov) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("pagelab: {e}");
            return EXIT_BAD_INPUT;
        }
    };
    if a.trace.is_some() && (a.events || a.json) {
        eprintln!("pagelab: --trace prints its own lines: it cannot be combined with --events or --json");
        return EXIT_BAD_INPUT;
    }
    let front = match (a.events, a.json) {
        (false, _) => Front::Run,
        (true, false) => Front::Events,
        (true, true) => Front::EventsJson,
    };
    if let Err(e) = host_memory::check_scenario(&scenario, front, a.host_memory.as_deref()) {
        eprintln!("pagelab: {e}");
        return EXIT_BAD_INPUT;
    }
    let mut runner = match Runner::new(Arc::new(scenario), a.events || a.trace.is_some() || a.quiz) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("pagelab: {}: {e}", a.scenario);
            return EXIT_BAD_INPUT;
        }
    };
    let explain = |m: &crate::machine::Machine, e: &crate::event::Event| m.explain(e);
    // The text log of `--events` on standard output is printed step by
    // step, so a reader that goes away (`| head`) stops the run at once.
    let stream = a.events && !a.json && a.output.is_none();
    let mut log = String::new();
    let flush = |log: &mut String| -> Result<(), i32> {
        if !stream {
            return Ok(());
        }
        let r = crate::output::print(log);
        log.clear();
        match r {
            Ok(()) => Ok(()),
            Err(StdoutError::Closed) => Err(EXIT_OK),
            Err(StdoutError::Io(e)) => {
                eprintln!("pagelab: cannot write to standard output: {e}");
                Err(EXIT_BAD_INPUT)
            }
        }
    };
    let mut steps_json = Vec::new();
    if a.events {
        let m = runner.machine().clone();
        let setup: Vec<_> = runner.setup_events().iter().map(|e| event_json(e, explain(&m, e))).collect();
        for e in runner.setup_events() {
            log.push_str(&format!("  setup: {}\n", explain(&m, e)));
        }
        steps_json.push(serde_json::json!({ "number": 0, "op": "setup", "events": setup }));
        if let Err(code) = flush(&mut log) {
            return code;
        }
    }
    let check = |runner: &Runner, after: &str| -> Result<(), i32> {
        if a.no_check {
            return Ok(());
        }
        runner.machine().check_invariants().map_err(|e| {
            eprintln!("pagelab: internal error: {}: an invariant broke {after}: {e}", a.scenario);
            EXIT_INTERNAL
        })
    };
    if let Err(code) = check(&runner, "after the setup") {
        return code;
    }
    if let Some(format) = a.trace {
        return run_trace(&a, format, runner, check);
    }
    if a.quiz {
        return quiz::run_quiz(&a.scenario, a.deep, runner, check);
    }
    while let Some(o) = runner.step() {
        if let Err(code) = check(&runner, &format!("after step {} (line {}, {})", o.number, o.line, o.op)) {
            return code;
        }
        if !a.events {
            continue;
        }
        let m = runner.machine();
        let step = &runner.scenario().steps[o.number - 1];
        log.push_str(&format!("step {} (line {}): {}\n", o.number, o.line, o.op));
        if let Some(n) = &step.note {
            log.push_str(&format!("  # {n}\n"));
        }
        for e in &o.events {
            log.push_str(&format!("  {}\n", explain(m, e)));
        }
        if o.events_not_recorded > 0 {
            log.push_str(&format!("  ... and {} more events, counted but not recorded\n", o.events_not_recorded));
        }
        if let Some(err) = &o.error {
            log.push_str(&format!("  -> {err}\n"));
        }
        if let Err(code) = flush(&mut log) {
            return code;
        }
        if a.json {
            steps_json.push(serde_json::json!({
                "number": o.number,
                "line": o.line,
                "op": o.op,
                "label": o.label,
                "note": step.note,
                "events": o.events.iter().map(|e| event_json(e, explain(m, e))).collect::<Vec<_>>(),
                "events_not_recorded": o.events_not_recorded,
                "error": o.error,
            }));
        }
    }
    let mut report = Report::of(&runner);
    if a.no_expect {
        report = report.without_expectations();
    } else if !report.passed {
        report.overridden = overridden(&a.scenario, &ov, &runner.scenario().machine);
    }
    let text = if a.json {
        let mut v = serde_json::to_value(&report).expect("report serialises");
        if a.events {
            v["steps_log"] = serde_json::Value::Array(steps_json);
        }
        serde_json::to_string_pretty(&v).expect("json") + "\n"
    } else if a.events {
        format!("{log}\n{}", report.text())
    } else {
        report.text()
    };
    if let Err(code) = emit(a.output.as_deref(), &text) {
        return code;
    }
    if report.passed {
        EXIT_OK
    } else {
        EXIT_FAILED
    }
}

/// `run --trace`: steps the runner one reference at a time and prints a
/// line for each; the text format ends with the report. Standard output is
/// written as it goes (a reader that goes away stops the run); `--output`
/// is written whole at the end.
fn run_trace(
    a: &RunArgs,
    format: TraceFormat,
    mut runner: Runner,
    check: impl Fn(&Runner, &str) -> Result<(), i32>,
) -> i32 {
    let stream = a.output.is_none();
    let mut out = trace::header(format).unwrap_or_default();
    let flush = |out: &mut String, force: bool| -> Result<(), i32> {
        if !stream || (!force && out.len() < 1 << 16) {
            return Ok(());
        }
        let r = crate::output::print(out);
        out.clear();
        match r {
            Ok(()) => Ok(()),
            Err(StdoutError::Closed) => Err(EXIT_OK),
            Err(StdoutError::Io(e)) => {
                eprintln!("pagelab: cannot write to standard output: {e}");
                Err(EXIT_BAD_INPUT)
            }
        }
    };
    let mut tally = trace::Tally::default();
    while let Some(o) = runner.step_reference() {
        if let Some(line) = tally.line(format, runner.machine(), &o) {
            out.push_str(&line);
        }
        if let Some(s) = &o.finished {
            if let Err(code) = check(&runner, &format!("after step {} (line {}, {})", s.number, s.line, s.op)) {
                return code;
            }
        }
        if let Err(code) = flush(&mut out, false) {
            return code;
        }
    }
    let report = Report::of(&runner);
    if format == TraceFormat::Text {
        out.push('\n');
        out.push_str(&report.text());
    }
    if stream {
        if let Err(code) = flush(&mut out, true) {
            return code;
        }
    } else if let Err(code) = emit(a.output.as_deref(), &out) {
        return code;
    }
    if report.passed {
        EXIT_OK
    } else {
        EXIT_FAILED
    }
}

/// An event as JSON: its fields, its kind and its explanation.
fn event_json(e: &crate::event::Event, explanation: String) -> serde_json::Value {
    let mut v = serde_json::to_value(e).expect("events serialise");
    v["explanation"] = serde_json::Value::String(explanation);
    v
}

/// The keys of the overrides, when they changed the scenario's machine from
/// its own settings (empty when there are none, or they changed nothing).
fn overridden(scenario: &str, ov: &[crate::scenario::Override], ran: &crate::config::MachineConfig) -> Vec<String> {
    if ov.is_empty() || resolve(scenario, &[]).is_ok_and(|own| own.machine == *ran) {
        return Vec::new();
    }
    let mut keys: Vec<String> = Vec::new();
    for o in ov {
        let k = o.key.strip_prefix("machine.").unwrap_or(&o.key).to_string();
        if !keys.contains(&k) {
            keys.push(k);
        }
    }
    keys
}

//! The second stage: raw TOML structs to a typed [`Scenario`], with every
//! error naming file, line, column and what was expected.

use std::collections::BTreeMap;
use std::ops::Range;
use std::path::Path;

use super::raw::{RawMachine, RawScenario, RawStep, Sp};
use super::{
    machine_metrics, process_metrics, Action, Check, Expectation, ExpectedDifference, FileSpec, FrameRefs, LinuxLarge,
    Metric, Pattern, ProcessSpec, RealOptions, Scenario, ScenarioError, Side, Step, WsExField, FILE_METRICS,
};
use crate::config::{ClusterDirection, Layout, MachineConfig};
use crate::cost::CostModel;
use crate::machine::AccessKind;
use crate::pte::{Protection, PteKind};
use crate::token::Privilege;
use crate::trace::{open_trace, FormatChoice, TraceReader};
use crate::units::{Bytes, SimNanos, PAGE_SIZE};
use crate::win32::Win32Error;
use crate::working_set::PolicyKind;

/// A `--set key=value` override of a machine setting.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Override {
    /// Key, with or without the `machine.` prefix ("memory", "cluster.pagefile").
    pub key: String,
    /// Value, in TOML syntax or a bare word.
    pub value: String,
}

impl Override {
    /// Parses "key=value".
    pub fn parse(s: &str) -> Result<Override, String> {
        let (k, v) =
            s.split_once('=').ok_or_else(|| format!("--set {s:?}: expected key=value, e.g. --set memory=64MiB"))?;
        Ok(Override { key: k.trim().to_string(), value: v.trim().to_string() })
    }
}

/// Parses `--set KEY=VALUE` arguments and a `--seed` into overrides (for
/// every front-end that runs scenarios).
pub fn overrides(set: &[String], seed: Option<u64>) -> Result<Vec<Override>, String> {
    let mut o: Vec<Override> = set.iter().map(|s| Override::parse(s)).collect::<Result<_, _>>()?;
    if let Some(s) = seed {
        o.push(Override { key: "seed".into(), value: s.to_string() });
    }
    Ok(o)
}

/// The most references one step may make: a billion (hours of host time).
const MAX_STEP_REFS: u64 = 1_000_000_000;
/// The largest file: 2^32 pages (16 TiB), the range of a PFN's file offset.
const MAX_FILE: u64 = (1 << 32) * PAGE_SIZE;
/// The most references a scenario's trace step may hold: each costs 9 bytes
/// of host memory (page and write flag), so 100M cost under 1 GiB. Longer
/// traces stream through `pagelab replay`.
const MAX_TRACE_REFS: usize = 100_000_000;
/// The most files a scenario may declare (file ids are 16 bits).
const MAX_FILES: usize = 4096;
/// One past the highest address any layout has (2^48).
const MAX_ADDRESS: u64 = 1 << 48;
/// The most processes a scenario may declare.
const MAX_PROCESSES: usize = 4096;
/// The largest range one commit or decommit step may cover: pagelab writes
/// a PTE per page (8 bytes of host memory each), so 64 GiB of simulated
/// range costs 128 MiB of host memory. Reserving with `commit = true` has no
/// such limit: its PTEs are made on first touch.
const MAX_PTE_RANGE: u64 = 64 << 30;

struct Ctx<'a> {
    file: &'a str,
    text: &'a str,
}

impl Ctx<'_> {
    fn err(&self, span: Range<usize>, message: impl Into<String>) -> ScenarioError {
        let (line, col) = line_col(self.text, span.start);
        ScenarioError { file: self.file.to_string(), line, col, message: message.into() }
    }

    fn line(&self, span: Range<usize>) -> usize {
        line_col(self.text, span.start).0
    }

    fn size(&self, v: &Sp<toml::Value>, what: &str) -> Result<u64, ScenarioError> {
        match v.get_ref() {
            toml::Value::Integer(i) if *i >= 0 => Ok(*i as u64),
            toml::Value::String(s) => {
                Bytes::parse(s).map(|b| b.0).map_err(|e| self.err(v.span(), format!("{what}: {e}")))
            }
            other => Err(self.err(
                v.span(),
                format!("{what}: expected a size such as \"64 MiB\" or a byte count, found {}", other.type_str()),
            )),
        }
    }

    /// A fraction from 0 to 1 (a number, or a percentage such as "30%"),
    /// in parts per million.
    fn fraction(&self, v: &Sp<toml::Value>, what: &str) -> Result<u64, ScenarioError> {
        let x = match v.get_ref() {
            toml::Value::Float(f) => Some(*f),
            toml::Value::Integer(i) => Some(*i as f64),
            toml::Value::String(s) => s.strip_suffix('%').and_then(|p| p.trim().parse::<f64>().ok()).map(|p| p / 100.0),
            _ => None,
        };
        match x {
            Some(x) if (0.0..=1.0).contains(&x) => Ok((x * 1e6).round() as u64),
            _ => Err(self.err(
                v.span(),
                format!("{what}: expected a fraction from 0 to 1, such as 0.3 or \"30%\", found {}", v.get_ref()),
            )),
        }
    }

    /// A duration: "1 s", "500 ms", "250 us" or an integer of nanoseconds.
    fn duration(&self, v: &Sp<toml::Value>, what: &str) -> Result<SimNanos, ScenarioError> {
        match v.get_ref() {
            toml::Value::Integer(i) if *i >= 0 => Ok(SimNanos(*i as u64)),
            toml::Value::String(s) => SimNanos::parse(s).map_err(|e| self.err(v.span(), format!("{what}: {e}"))),
            other => Err(self.err(
                v.span(),
                format!("{what}: expected a duration such as \"1 s\" or nanoseconds, found {}", other.type_str()),
            )),
        }
    }

    /// An address: like a size, and inside the 48-bit x64 address space.
    fn address(&self, v: &Sp<toml::Value>, what: &str) -> Result<u64, ScenarioError> {
        let a = self.size(v, what)?;
        if a >= MAX_ADDRESS {
            return Err(self.err(v.span(), format!("{what}: 0x{a:x} is beyond the 48-bit virtual address space")));
        }
        Ok(a)
    }

    fn count(&self, v: &Sp<i64>, lo: u64, hi: u64, what: &str) -> Result<u64, ScenarioError> {
        let x = *v.get_ref();
        if x < lo as i64 || x as u64 > hi {
            return Err(self.err(v.span(), format!("{what}: expected an integer from {lo} to {hi}, found {x}")));
        }
        Ok(x as u64)
    }

    fn word<T>(
        &self,
        v: &Sp<String>,
        what: &str,
        parse: impl Fn(&str) -> Option<T>,
        choices: &[&str],
    ) -> Result<T, ScenarioError> {
        parse(v.get_ref()).ok_or_else(|| {
            self.err(v.span(), format!("{what}: expected one of {}, found {:?}", choices.join(", "), v.get_ref()))
        })
    }
}

pub(crate) fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let col = before.rfind('\n').map_or(offset, |nl| offset - nl - 1) + 1;
    (line, col)
}

pub(crate) fn toml_error(file: &str, text: &str, e: toml::de::Error) -> ScenarioError {
    let (line, col) = e.span().map_or((1, 1), |s| line_col(text, s.start));
    let mut message = e.message().trim().lines().map(str::trim).collect::<Vec<_>>().join("; ");
    if message.is_empty() {
        message = "invalid TOML here: expected a value".into();
    }
    ScenarioError { file: file.to_string(), line, col, message: plain_serde_message(&message) }
}

/// serde's "invalid type: string \"300\", expected i64" in pagelab's own
/// words: what was expected, what was found, and how to write it.
fn plain_serde_message(message: &str) -> String {
    let Some(rest) = message.strip_prefix("invalid type: ") else { return message.to_string() };
    let Some((found, expected)) = rest.split_once(", expected ") else { return message.to_string() };
    let expected = match expected {
        "i64" | "u64" | "i32" | "u32" | "an integer" => "an integer (a number without quotes)",
        "a boolean" => "true or false (without quotes)",
        "a string" => "a string (in double quotes)",
        "a sequence" => "a list in square brackets",
        other => other,
    };
    let found = found.replace('`', "");
    let found = match found.split_once(' ') {
        Some(("string", v)) => format!("the string {v}"),
        Some(("integer", v)) => format!("the integer {v}"),
        Some(("floating", v)) => format!("the number {}", v.trim_start_matches("point ")),
        _ => found.clone(),
    };
    format!("expected {expected}, found {found}")
}

/// Loads and validates a scenario file.
pub fn load(path: &Path, overrides: &[Override]) -> Result<Scenario, ScenarioError> {
    let file = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| ScenarioError {
        file: file.clone(),
        line: 0,
        col: 0,
        message: format!("cannot read the scenario: {e}"),
    })?;
    load_str(&text, &file, path.parent(), overrides)
}

/// Validates a scenario from text. `base_dir` resolves trace paths (none
/// for built-in scenarios).
pub fn load_str(
    text: &str,
    file: &str,
    base_dir: Option<&Path>,
    overrides: &[Override],
) -> Result<Scenario, ScenarioError> {
    let raw: RawScenario = toml::from_str(text).map_err(|e| toml_error(file, text, e))?;
    let ctx = Ctx { file, text };
    let header = &raw.scenario;
    let name = header.name.get_ref().clone();
    if name.is_empty() {
        return Err(ctx.err(header.name.span(), "scenario name: expected a non-empty name"));
    }

    // Overrides are a second [machine] table, from the command line.
    let over_text: String = overrides
        .iter()
        .map(|o| format!("{} = {}\n", o.key.trim_start_matches("machine."), toml_value(&o.value)))
        .collect();
    let over_ctx = Ctx { file: "--set", text: &over_text };
    let remap = |e: ScenarioError| remap_override(e, overrides);
    let over: RawMachine = toml::from_str(&over_text).map_err(|e| remap(toml_error("--set", &over_text, e)))?;
    let empty = RawMachine::default();
    let file_machine = raw.machine.as_ref().unwrap_or(&empty);
    let machine = build_machine(&[(file_machine, &ctx), (&over, &over_ctx)]).map_err(|(e, span, in_override)| {
        if in_override {
            remap(over_ctx.err(span, e))
        } else {
            ctx.err(span, e)
        }
    })?;
    if let Err(e) = machine.check() {
        // Blame the override that set the setting, else the file's line.
        let set_by = |o: &&Override| o.key.trim_start_matches("machine.") == e.setting;
        if let Some(o) = overrides.iter().rev().find(set_by) {
            let file = format!("--set {}={}", o.key, o.value);
            return Err(ScenarioError { file, line: 1, col: 1, message: e.message });
        }
        let m = file_machine;
        let span = match e.setting {
            "memory" => m.memory.as_ref().map(|v| v.span()),
            "pagefile" => m.pagefile.as_ref().map(|v| v.span()),
            "numa_nodes" => m.numa_nodes.as_ref().map(|v| v.span()),
            "ws_max" => m.ws_max.as_ref().or(m.ws_min.as_ref()).map(|v| v.span()),
            "bad_frames" => m.bad_frames.as_ref().map(|v| v.span()),
            "writer.cluster" => m.writer.as_ref().and_then(|w| w.cluster.as_ref()).map(|v| v.span()),
            "balance.period" => m.balance.as_ref().and_then(|b| b.period.as_ref()).map(|v| v.span()),
            "balance.goal" => {
                m.balance.as_ref().and_then(|b| b.goal.as_ref().or(b.available_below.as_ref())).map(|v| v.span())
            }
            _ => None,
        };
        return Err(ctx.err(span.unwrap_or_else(|| header.name.span()), format!("machine: {}", e.message)));
    }

    if raw.process.len() > MAX_PROCESSES {
        return Err(
            ctx.err(raw.process[MAX_PROCESSES].span(), format!("at most {MAX_PROCESSES} processes per scenario"))
        );
    }
    let mut processes: Vec<ProcessSpec> = Vec::new();
    for p in &raw.process {
        let rp = p.get_ref();
        let pname = rp.name.get_ref();
        let reserved =
            std::iter::once("files").chain(machine_metrics()).any(|m| m.split('.').next() == Some(pname.as_str()));
        if pname.is_empty() || pname.contains('.') || pname.contains(char::is_whitespace) || reserved {
            return Err(ctx.err(
                rp.name.span(),
                format!("process name {pname:?}: expected a word without dots or spaces that is not a metric name"),
            ));
        }
        if processes.iter().any(|q| &q.name == pname) {
            return Err(ctx.err(rp.name.span(), format!("process {pname:?} is declared twice")));
        }
        let ws_min = rp.ws_min.as_ref().map(|v| ctx.count(v, 0, 1 << 32, "ws_min")).transpose()?;
        let ws_max = rp.ws_max.as_ref().map(|v| ctx.count(v, 1, 1 << 32, "ws_max")).transpose()?;
        if let (Some(a), Some(b)) = (ws_min, ws_max) {
            if a > b {
                return Err(ctx.err(p.span(), format!("process {pname}: ws_min {a} is above ws_max {b}")));
            }
        }
        let policy = rp
            .policy
            .as_ref()
            .map(|v| ctx.word(v, "policy", PolicyKind::parse, &PolicyKind::ALL.map(|p| p.name())))
            .transpose()?;
        let node =
            rp.node.as_ref().map(|v| ctx.count(v, 0, machine.numa_nodes as u64 - 1, "node")).transpose()?.unwrap_or(0)
                as u8;
        processes.push(ProcessSpec {
            name: pname.clone(),
            ws_min,
            ws_max,
            hard_max: rp.hard_max,
            policy,
            node,
            commit_on_touch: rp.commit_on_touch.unwrap_or(false),
            started: rp.started.unwrap_or(true),
        });
    }

    if raw.file.len() > MAX_FILES {
        return Err(ctx.err(raw.file[MAX_FILES].span(), format!("at most {MAX_FILES} files per scenario")));
    }
    let mut files: Vec<FileSpec> = Vec::new();
    for f in &raw.file {
        let rf = f.get_ref();
        let fname = rf.name.get_ref();
        if fname.is_empty() || files.iter().any(|g| &g.name == fname) {
            return Err(ctx.err(rf.name.span(), format!("file name {fname:?}: expected a new, non-empty name")));
        }
        let size = ctx.size(&rf.size, "file size")?;
        if size == 0 || size > MAX_FILE {
            return Err(ctx.err(rf.size.span(), format!("file size {}: expected 1 byte to 16 TiB", Bytes(size))));
        }
        files.push(FileSpec { name: fname.clone(), size });
    }

    let sc = ScenarioCtx {
        ctx: &ctx,
        processes: &processes,
        files: &files,
        base_dir,
        machine: &machine,
        live_need: std::cell::Cell::new(0),
    };
    // Every step is checked; those of other allocator eras are then left
    // out, and which processes run when is judged on the steps that stay.
    // Real-only steps are in the plan alone: the simulator leaves them out.
    let mut steps = Vec::new();
    let mut plan = Vec::new();
    let mut kept_raw = Vec::new();
    for s in &raw.step {
        let step = sc.step(s)?;
        if sc.applies(s)? {
            if step.real.side.simulated() {
                steps.push(step.clone());
                kept_raw.push(s);
            }
            plan.push(step);
        }
    }
    let expect = sc.expectations(&raw.expect)?;
    check_started(&ctx, &processes, &kept_raw, &steps, &expect)?;
    // This machine's own free blocks cannot be known when the scenario is
    // written: a machine too small to lay them out grows to hold them,
    // with a quarter to spare, in whole GiB (unless --set gives the memory).
    let need = sc.live_need.get();
    if need > machine.frames() && !overrides.iter().any(|o| o.key.trim_start_matches("machine.") == "memory") {
        let gib = 1u64 << 30;
        let bytes = (need + need / 4).saturating_mul(PAGE_SIZE).div_ceil(gib).saturating_mul(gib);
        if bytes <= crate::config::MAX_MEMORY.0 {
            let mut grown = overrides.to_vec();
            grown.push(Override { key: "memory".into(), value: format!("{bytes} B") });
            return load_str(text, file, base_dir, &grown);
        }
    }
    Ok(Scenario {
        name,
        title: header.title.clone().unwrap_or_default(),
        description: header.description.clone().unwrap_or_default(),
        file: file.to_string(),
        source: text.to_string(),
        machine,
        processes,
        files,
        steps,
        plan,
        expect,
    })
}

/// A process declared with `started = false` exists from its `start` step
/// on: no step may use it, and no expectation measure it, before then.
fn check_started(
    ctx: &Ctx,
    processes: &[ProcessSpec],
    raw: &[&Sp<RawStep>],
    steps: &[Step],
    end: &[Expectation],
) -> Result<(), ScenarioError> {
    let mut running: Vec<bool> = processes.iter().map(|p| p.started).collect();
    let measured = |e: &Expectation| match e.metric {
        Metric::Process(i, _) | Metric::Pte(i, _) | Metric::Node(i, _) | Metric::WsEx(i, _, _) => Some(i),
        _ => None,
    };
    let not_started = |i: usize| {
        format!(
            "process {} is declared with started = false and has not been started yet: add a step {{ op = \"start\", process = \"{}\" }} before this one",
            processes[i].name, processes[i].name
        )
    };
    for (rs, st) in raw.iter().zip(steps) {
        if let Action::Start { process } = st.action {
            if running[process] {
                return Err(ctx.err(
                    rs.span(),
                    format!("start: process {} is already running (only a process declared with started = false is started by a step)", processes[process].name),
                ));
            }
            running[process] = true;
        } else if let Some(i) = st.action.process() {
            if !running[i] {
                return Err(ctx.err(rs.span(), not_started(i)));
            }
        }
        if let Some(i) = st.expect.iter().filter_map(measured).find(|&i| !running[i]) {
            return Err(ctx.err(rs.span(), not_started(i)));
        }
    }
    if let Some(e) = end.iter().find(|e| measured(e).is_some_and(|i| !running[i])) {
        let i = measured(e).expect("found above");
        return Err(ScenarioError {
            file: ctx.file.to_string(),
            line: e.line,
            col: 1,
            message: format!(
                "{}: process {} is never started (it is declared with started = false)",
                e.key, processes[i].name
            ),
        });
    }
    Ok(())
}

/// The running Linux machine's free-block distribution, which any
/// scenario's fragment step may name.
pub const LIVE_BUDDYINFO: &str = "/proc/buddyinfo";

/// Points an error in the synthesized override text at what the user typed:
/// the file becomes `--set KEY=VALUE`, the column a position in it.
fn remap_override(e: ScenarioError, overrides: &[Override]) -> ScenarioError {
    let Some(o) = overrides.get(e.line.wrapping_sub(1)) else { return e };
    let key = o.key.trim_start_matches("machine.");
    let value = toml_value(&o.value);
    let quoted = usize::from(value.len() != o.value.len());
    let prefix = o.key.len() - key.len();
    let col = if e.col <= key.len() {
        e.col + prefix
    } else {
        // Past "KEY = " (and an added quote) in the synthesized line.
        (e.col.saturating_sub(key.len() + 3 + quoted)).max(1) + o.key.len() + 1
    };
    ScenarioError { file: format!("--set {}={}", o.key, o.value), line: 1, col, message: e.message }
}

/// A bare word on the command line becomes a TOML string.
/// A metric by the name an expectation (or a sweep) gives it: a machine
/// metric, `PROCESS.METRIC`, `PROCESS.pte.ADDRESS`, `PROCESS.node.ADDRESS`,
/// `PROCESS.wsex*.ADDRESS` or `files.FILE.METRIC`; the error says which
/// names there are.
pub fn parse_metric(key: &str, processes: &[ProcessSpec], files: &[FileSpec]) -> Result<Metric, String> {
    let bad_key = || {
        format!(
            "unknown metric {key:?}: expected a machine metric ({}), PROCESS.METRIC ({}), PROCESS.pte.ADDRESS, PROCESS.node.ADDRESS, PROCESS.wsex.ADDRESS (or wsex_valid, wsex_node, wsex_locked, wsex_large), or files.FILE.METRIC ({})",
            machine_metrics().collect::<Vec<_>>().join(", "),
            process_metrics().collect::<Vec<_>>().join(", "),
            FILE_METRICS.join(", ")
        )
    };
    let address = |a: &str| Bytes::parse(a).map(|b| b.0).map_err(|e| format!("{key}: {e}"));
    if let Some(g) = machine_metrics().find(|g| *g == key) {
        return Ok(Metric::Global(g));
    }
    if let Some(rest) = key.strip_prefix("files.") {
        let (fname, what) = rest.rsplit_once('.').ok_or_else(bad_key)?;
        let f = files.iter().position(|x| x.name == fname).ok_or_else(bad_key)?;
        return Ok(Metric::File(f, FILE_METRICS.iter().find(|m| **m == what).ok_or_else(bad_key)?));
    }
    let (pname, rest) = key.split_once('.').ok_or_else(bad_key)?;
    let p = processes.iter().position(|x| x.name == pname).ok_or_else(bad_key)?;
    Ok(if let Some(a) = rest.strip_prefix("pte.") {
        Metric::Pte(p, address(a)?)
    } else if let Some(a) = rest.strip_prefix("node.") {
        Metric::Node(p, address(a)?)
    } else if let Some((field, a)) = rest
        .split_once('.')
        .and_then(|(prefix, a)| WsExField::PREFIXES.iter().find(|(n, _)| *n == prefix).map(|(_, f)| (*f, a)))
    {
        Metric::WsEx(p, address(a)?, field)
    } else {
        Metric::Process(p, process_metrics().find(|m| *m == rest).ok_or_else(bad_key)?)
    })
}

/// A machine from settings alone, written as `[machine]` keys: `base` (a
/// front-end's defaults, such as replay's) and then `overrides` (`--set`,
/// or a sweep's grid) on top. An error names the override that caused it.
pub fn machine_from_settings(base: &[Override], overrides: &[Override]) -> Result<MachineConfig, String> {
    let text = |os: &[Override]| -> String {
        os.iter().map(|o| format!("{} = {}\n", o.key.trim_start_matches("machine."), toml_value(&o.value))).collect()
    };
    let (base_text, over_text) = (text(base), text(overrides));
    let base_ctx = Ctx { file: "defaults", text: &base_text };
    let over_ctx = Ctx { file: "--set", text: &over_text };
    let remap = |e: ScenarioError| remap_override(e, overrides).to_string();
    let b: RawMachine = toml::from_str(&base_text).map_err(|e| toml_error("defaults", &base_text, e).to_string())?;
    let o: RawMachine = toml::from_str(&over_text).map_err(|e| remap(toml_error("--set", &over_text, e)))?;
    let machine = build_machine(&[(&b, &base_ctx), (&o, &over_ctx)]).map_err(|(e, span, in_override)| {
        if in_override {
            remap(over_ctx.err(span, e))
        } else {
            base_ctx.err(span, e).to_string()
        }
    })?;
    machine.check().map_err(|e| format!("{}: {}", e.setting, e.message))?;
    Ok(machine)
}

fn toml_value(v: &str) -> String {
    let probe = format!("x = {v}");
    if toml::from_str::<toml::Table>(&probe).is_ok() {
        v.to_string()
    } else {
        toml::Value::String(v.to_string()).to_string()
    }
}

type MachineErr = (String, Range<usize>, bool);

fn build_machine(layers: &[(&RawMachine, &Ctx)]) -> Result<MachineConfig, MachineErr> {
    let wrap = |e: ScenarioError, span: Range<usize>, i: usize| (e.message, span, i == 1);
    let mut memory = Bytes(64 << 20);
    for (i, (m, c)) in layers.iter().enumerate() {
        if let Some(v) = &m.memory {
            memory = Bytes(c.size(v, "memory").map_err(|e| wrap(e, v.span(), i))?);
        }
    }
    let mut cfg = MachineConfig::with_memory(memory);
    cfg.pagefile = Bytes(memory.0 * 2);
    let mut cost_overrides = Vec::new();
    // A goal given anywhere stays; otherwise it follows available_below.
    let mut goal_set = false;
    for (i, (m, c)) in layers.iter().enumerate() {
        let e = |span: Range<usize>| move |err: ScenarioError| wrap(err, span, i);
        if let Some(v) = &m.layout {
            cfg.layout = c.word(v, "layout", Layout::parse, &["nt31", "x64"]).map_err(e(v.span()))?;
        }
        if let Some(v) = &m.pagefile {
            cfg.pagefile = Bytes(c.size(v, "pagefile").map_err(e(v.span()))?);
        }
        if let Some(v) = &m.numa_nodes {
            cfg.numa_nodes = c.count(v, 1, 64, "numa_nodes").map_err(e(v.span()))? as u8;
        }
        if let Some(v) = &m.policy {
            cfg.policy =
                c.word(v, "policy", PolicyKind::parse, &PolicyKind::ALL.map(|p| p.name())).map_err(e(v.span()))?;
        }
        if let Some(v) = &m.ws_min {
            cfg.ws_min = c.count(v, 0, 1 << 32, "ws_min").map_err(e(v.span()))?;
        }
        if let Some(v) = &m.ws_max {
            cfg.ws_max = c.count(v, 1, 1 << 32, "ws_max").map_err(e(v.span()))?;
        }
        if let Some(v) = &m.large_pages {
            cfg.large_pages = *v.get_ref();
        }
        if let Some(v) = &m.large_page_allocator {
            cfg.large_page_allocator = c
                .word(
                    v,
                    "large_page_allocator",
                    crate::compaction::Era::parse,
                    &crate::compaction::Era::ALL.map(|e| e.name()),
                )
                .map_err(e(v.span()))?;
        }
        if let Some(v) = &m.ws_hard_max {
            cfg.ws_hard_max = *v.get_ref();
        }
        if let Some(v) = &m.cost {
            cfg.cost = c.word(v, "cost", CostModel::profile, &CostModel::PROFILES).map_err(e(v.span()))?;
        }
        if let Some(v) = &m.costs {
            for (k, val) in v {
                cost_overrides.push((
                    k.get_ref().clone(),
                    k.span(),
                    c.count(val, 0, 1 << 50, k.get_ref()).map_err(e(val.span()))?,
                    i,
                ));
            }
        }
        if let Some(v) = &m.seed {
            cfg.seed = c.count(v, 0, i64::MAX as u64, "seed").map_err(e(v.span()))?;
        }
        if let Some(v) = &m.bad_frames {
            cfg.bad_frames = v
                .get_ref()
                .iter()
                .map(|f| c.count(f, 0, u32::MAX as u64, "bad frame").map(|x| x as u32).map_err(e(f.span())))
                .collect::<Result<_, _>>()?;
        }
        if let Some(r) = &m.cluster {
            if let Some(x) = &r.pagefile {
                cfg.cluster.pagefile = c.count(x, 0, 64, "cluster.pagefile").map_err(e(x.span()))? as u32;
            }
            if let Some(x) = &r.file {
                cfg.cluster.file = c.count(x, 0, 64, "cluster.file").map_err(e(x.span()))? as u32;
            }
            if let Some(x) = &r.direction {
                cfg.cluster.direction = c
                    .word(
                        x,
                        "cluster.direction",
                        |s| match s {
                            "forward" => Some(ClusterDirection::Forward),
                            "both" => Some(ClusterDirection::Both),
                            _ => None,
                        },
                        &["forward", "both"],
                    )
                    .map_err(e(x.span()))?;
            }
        }
        if let Some(r) = &m.tlb {
            let mut t = cfg.tlb.unwrap_or_default();
            if let Some(x) = &r.entries {
                t.entries = c.count(x, 1, 1 << 16, "tlb.entries").map_err(e(x.span()))? as u32;
            }
            if let Some(x) = &r.large_entries {
                t.large_entries = c.count(x, 1, 1 << 16, "tlb.large_entries").map_err(e(x.span()))? as u32;
            }
            if let Some(x) = &r.ways {
                t.ways = c.count(x, 1, 64, "tlb.ways").map_err(e(x.span()))? as u32;
            }
            cfg.tlb = Some(t);
        }
        if let Some(v) = &m.wsclock_tau {
            cfg.wsclock_tau = c.count(v, 1, 1 << 40, "wsclock_tau").map_err(e(v.span()))?;
        }
        if let Some(r) = &m.notifications {
            let memory = cfg.memory.0;
            for (x, slot, what) in [
                (&r.low, &mut cfg.notifications.low, "notifications.low"),
                (&r.high, &mut cfg.notifications.high, "notifications.high"),
            ] {
                let Some(x) = x else { continue };
                let bytes = c.size(x, what).map_err(e(x.span()))?;
                if bytes % PAGE_SIZE != 0 || bytes > memory {
                    return Err((
                        format!(
                            "{what}: expected a whole number of 4 KiB pages up to the machine's memory ({}), found {}",
                            Bytes(memory),
                            Bytes(bytes)
                        ),
                        x.span(),
                        i == 1,
                    ));
                }
                *slot = Some(bytes / PAGE_SIZE);
            }
        }
        if let Some(r) = &m.balance {
            let frames = cfg.frames();
            if let Some(x) = &r.enabled {
                cfg.balance.enabled = *x.get_ref();
            }
            if let Some(x) = &r.period {
                cfg.balance.period = c.duration(x, "balance.period").map_err(e(x.span()))?;
            }
            if let Some(x) = &r.available_below {
                cfg.balance.available_below = c.count(x, 0, frames, "balance.available_below").map_err(e(x.span()))?;
                if !goal_set {
                    let b = cfg.balance.available_below;
                    cfg.balance.goal = b + b / 2;
                }
            }
            if let Some(x) = &r.goal {
                cfg.balance.goal = c.count(x, 0, frames, "balance.goal").map_err(e(x.span()))?;
                goal_set = true;
            }
        }
        if let Some(r) = &m.writer {
            let frames = cfg.frames();
            if let Some(x) = &r.free_below {
                cfg.writer.free_below = c.count(x, 0, frames, "writer.free_below").map_err(e(x.span()))?;
            }
            if let Some(x) = &r.modified_max {
                cfg.writer.modified_max = c.count(x, 0, frames, "writer.modified_max").map_err(e(x.span()))?;
            }
            if let Some(x) = &r.cluster {
                cfg.writer.cluster = c.count(x, 1, 1024, "writer.cluster").map_err(e(x.span()))? as u32;
            }
            if let Some(x) = &r.zero_wake {
                cfg.writer.zero_wake = c.count(x, 1, frames, "writer.zero_wake").map_err(e(x.span()))?;
            }
        }
    }
    for (k, span, v, i) in cost_overrides {
        let slot = match k.as_str() {
            "fault_trap" => &mut cfg.cost.fault_trap,
            "soft_fault" => &mut cfg.cost.soft_fault,
            "zero_page" => &mut cfg.cost.zero_page,
            "copy_page" => &mut cfg.cost.copy_page,
            "tlb_miss" => &mut cfg.cost.tlb_miss,
            "io_latency" => &mut cfg.cost.io_latency,
            "io_per_page" => &mut cfg.cost.io_per_page,
            "ws_lock_hold" => &mut cfg.cost.ws_lock_hold,
            "pfn_lock_hold" => &mut cfg.cost.pfn_lock_hold,
            "batch_page" => &mut cfg.cost.batch_page,
            "remote_access" => &mut cfg.cost.remote_access,
            other => {
                return Err((
                    format!(
                        "costs: unknown cost {other:?}; expected fault_trap, soft_fault, zero_page, copy_page, tlb_miss, io_latency, io_per_page, ws_lock_hold, pfn_lock_hold, batch_page or remote_access (nanoseconds)"
                    ),
                    span,
                    i == 1,
                ))
            }
        };
        slot.0 = v;
    }
    Ok(cfg)
}

struct ScenarioCtx<'a> {
    ctx: &'a Ctx<'a>,
    processes: &'a [ProcessSpec],
    files: &'a [FileSpec],
    base_dir: Option<&'a Path>,
    machine: &'a MachineConfig,
    /// The most frames a fragment step of this machine's /proc/buddyinfo
    /// needs to lay its blocks out.
    live_need: std::cell::Cell<u64>,
}

/// Which optional keys a step has set, with their positions.
fn present(s: &RawStep, whole: Range<usize>) -> Vec<(&'static str, Range<usize>)> {
    let mut v = Vec::new();
    macro_rules! sp {
        ($($f:ident),*) => {$( if let Some(x) = &s.$f { v.push((stringify!($f), x.span())); } )*};
    }
    macro_rules! plain {
        ($($f:ident),*) => {$( if s.$f.is_some() { v.push((stringify!($f), whole.clone())); } )*};
    }
    sp!(
        process,
        address,
        size,
        pages,
        protection,
        access,
        pattern,
        stride,
        count,
        repeat,
        node,
        base,
        refs,
        trace,
        format,
        file,
        offset,
        min,
        max,
        ticks,
        privilege,
        free,
        unmovable,
        standby,
        modified,
        alignment,
        highest,
        buddyinfo,
        frames,
        frames_of,
        addresses,
        target,
        memory,
        batch,
        shrink,
        query,
        notification,
        threads,
        linux_large
    );
    plain!(commit, empty, enable, large_pages, physical, grow);
    v
}

impl ScenarioCtx<'_> {
    fn privilege(&self, s: &Sp<RawStep>) -> Result<Privilege, ScenarioError> {
        let Some(p) = &s.get_ref().privilege else {
            return Err(self.ctx.err(s.span(), format!("op {:?} needs a `privilege`", s.get_ref().op.get_ref())));
        };
        let names: Vec<_> = Privilege::ALL.iter().map(|p| p.name()).collect();
        self.ctx.word(p, "privilege", Privilege::parse, &names)
    }

    fn process(&self, s: &Sp<RawStep>) -> Result<usize, ScenarioError> {
        let Some(p) = &s.get_ref().process else {
            return Err(self.ctx.err(s.span(), format!("op {:?} needs a `process`", s.get_ref().op.get_ref())));
        };
        self.processes.iter().position(|q| &q.name == p.get_ref()).ok_or_else(|| {
            let names: Vec<_> = self.processes.iter().map(|q| q.name.as_str()).collect();
            self.ctx.err(
                p.span(),
                format!(
                    "unknown process {:?}: expected one declared with [[process]] ({})",
                    p.get_ref(),
                    names.join(", ")
                ),
            )
        })
    }

    fn pte_range(&self, v: &Sp<toml::Value>) -> Result<u64, ScenarioError> {
        let size = self.ctx.size(v, "size")?;
        if size > MAX_PTE_RANGE {
            return Err(self.ctx.err(
                v.span(),
                format!(
                    "size {}: one commit or decommit step covers at most {} (pagelab writes a PTE per page); split it, or reserve with commit = true",
                    Bytes(size),
                    Bytes(MAX_PTE_RANGE)
                ),
            ));
        }
        Ok(size)
    }

    fn need<'v, T>(&self, s: &Sp<RawStep>, v: &'v Option<T>, key: &str) -> Result<&'v T, ScenarioError> {
        v.as_ref().ok_or_else(|| self.ctx.err(s.span(), format!("op {:?} needs `{key}`", s.get_ref().op.get_ref())))
    }

    fn protection(&self, v: &Option<Sp<String>>, default: Protection) -> Result<Protection, ScenarioError> {
        match v {
            None => Ok(default),
            Some(p) => self.ctx.word(
                p,
                "protection",
                Protection::parse,
                &["readonly", "readwrite", "execute", "execute_read", "execute_readwrite", "writecopy", "noaccess"],
            ),
        }
    }

    fn access(&self, v: &Option<Sp<String>>) -> Result<AccessKind, ScenarioError> {
        match v {
            None => Ok(AccessKind::Read),
            Some(a) => self.ctx.word(
                a,
                "access",
                |s| match s {
                    "read" => Some(AccessKind::Read),
                    "write" => Some(AccessKind::Write),
                    "execute" => Some(AccessKind::Execute),
                    _ => None,
                },
                &["read", "write", "execute"],
            ),
        }
    }

    /// Whether a step applies on this machine: its `allocator` key, if
    /// any, names the machine's era.
    fn applies(&self, s: &Sp<RawStep>) -> Result<bool, ScenarioError> {
        use crate::compaction::Era;
        let Some(v) = &s.get_ref().allocator else { return Ok(true) };
        let names: Vec<&str> = match v.get_ref() {
            toml::Value::String(x) => vec![x.as_str()],
            toml::Value::Array(a) => a.iter().map(|x| x.as_str().unwrap_or("")).collect(),
            _ => vec![""],
        };
        let mut any = false;
        for n in names {
            let Some(era) = Era::parse(n) else {
                return Err(self.ctx.err(
                    v.span(),
                    format!(
                        "allocator: expected an era or a list of eras from {}, found {}",
                        Era::ALL.map(|e| e.name()).join(", "),
                        v.get_ref()
                    ),
                ));
            };
            any |= era == self.machine.large_page_allocator;
        }
        Ok(any)
    }

    fn step(&self, s: &Sp<RawStep>) -> Result<Step, ScenarioError> {
        let c = self.ctx;
        let r = s.get_ref();
        let op = r.op.get_ref().as_str();
        let allowed: &[&str] = match op {
            "reserve" => &["process", "address", "size", "protection", "commit", "large_pages", "physical", "linux_large"],
            "commit" => &["process", "address", "size", "protection"],
            "decommit" => &["process", "address", "size"],
            "release" => &["process", "address"],
            "touch" => &["process", "address", "size", "pages", "access", "pattern", "stride", "count", "repeat", "node"],
            "refs" => &["process", "base", "refs", "trace", "format", "access"],
            "map" => &["process", "file", "offset", "size", "address", "protection"],
            "set_working_set" => &["process", "min", "max", "empty"],
            "trim" => &["process", "pages"],
            "write_modified" => &["pages"],
            "advance" => &["ticks"],
            "exit" => &["process"],
            "start" => &["process"],
            "grant" => &["privilege"],
            "logon" => &[],
            "adjust_privileges" => &["process", "privilege", "enable"],
            "fragment" => &["process", "free", "buddyinfo", "unmovable", "standby", "modified", "pattern"],
            "contiguous" => &["size", "alignment", "highest"],
            "free_contiguous" => &[],
            "page_out_large" => &["process", "address"],
            "allocate_physical" => &["process", "pages", "node"],
            "map_physical" => &["process", "address", "pages", "frames", "frames_of"],
            "map_scatter" => &["process", "addresses", "frames", "frames_of"],
            "free_physical" => &["process", "frames", "frames_of"],
            "physical_limit" => &["process", "pages"],
            "virtual_lock" | "virtual_unlock" => &["process", "address", "size", "pages"],
            "buffer_pool" => &["process", "target", "memory", "batch", "shrink", "query", "grow"],
            "pool_grow" => &["process"],
            "wait_notification" => &["notification", "ticks"],
            "ramp_up" => &["process", "pages", "size", "threads", "memory", "batch"],
            "hugetlb_pool" => &["pages"],
            _ => {
                return Err(c.err(
                    r.op.span(),
                    format!(
                        "unknown op {op:?}: expected reserve, commit, decommit, release, touch, refs, map, set_working_set, trim, write_modified, advance, exit, start, grant, logon, adjust_privileges, fragment, contiguous, free_contiguous, page_out_large, allocate_physical, map_physical, map_scatter, free_physical, physical_limit, virtual_lock, virtual_unlock, buffer_pool, pool_grow, wait_notification, ramp_up or hugetlb_pool"
                    ),
                ))
            }
        };
        for (key, span) in present(r, s.span()) {
            if !allowed.contains(&key) {
                return Err(
                    c.err(span, format!("key `{key}` does not apply to op {op:?} (it takes: {})", allowed.join(", ")))
                );
            }
        }
        let addr = |v: &Sp<toml::Value>, what: &str| c.address(v, what);
        let action = match op {
            "reserve" => Action::Reserve {
                process: self.process(s)?,
                address: r.address.as_ref().map(|a| addr(a, "address")).transpose()?,
                size: c.size(self.need(s, &r.size, "size")?, "size")?,
                protection: self.protection(&r.protection, Protection::ReadWrite)?,
                commit: r.commit.unwrap_or(false),
                large_pages: r.large_pages.unwrap_or(false),
                physical: r.physical.unwrap_or(false),
            },
            "commit" => Action::Commit {
                process: self.process(s)?,
                address: addr(self.need(s, &r.address, "address")?, "address")?,
                size: self.pte_range(self.need(s, &r.size, "size")?)?,
                protection: self.protection(&r.protection, Protection::ReadWrite)?,
            },
            "decommit" => Action::Decommit {
                process: self.process(s)?,
                address: addr(self.need(s, &r.address, "address")?, "address")?,
                size: self.pte_range(self.need(s, &r.size, "size")?)?,
            },
            "release" => Action::Release {
                process: self.process(s)?,
                address: addr(self.need(s, &r.address, "address")?, "address")?,
            },
            "touch" => self.touch(s)?,
            "refs" => self.refs(s)?,
            "map" => {
                let f = self.need(s, &r.file, "file")?;
                let file = self.files.iter().position(|x| &x.name == f.get_ref()).ok_or_else(|| {
                    c.err(f.span(), format!("unknown file {:?}: expected one declared with [[file]]", f.get_ref()))
                })?;
                Action::Map {
                    process: self.process(s)?,
                    file,
                    offset: r.offset.as_ref().map(|o| c.size(o, "offset")).transpose()?.unwrap_or(0),
                    size: r.size.as_ref().map(|o| c.size(o, "size")).transpose()?.unwrap_or(0),
                    address: r.address.as_ref().map(|a| addr(a, "address")).transpose()?,
                    protection: self.protection(&r.protection, Protection::ReadOnly)?,
                }
            }
            "set_working_set" => {
                let process = self.process(s)?;
                let limits = if r.empty == Some(true) {
                    if r.min.is_some() || r.max.is_some() {
                        return Err(c.err(
                            s.span(),
                            "set_working_set: give either `empty = true` or `min` and `max`, not both",
                        ));
                    }
                    None
                } else {
                    let min = c.count(self.need(s, &r.min, "min")?, 0, 1 << 32, "min")?;
                    let max = c.count(self.need(s, &r.max, "max")?, 1, 1 << 32, "max")?;
                    Some((min, max))
                };
                Action::SetWorkingSet { process, limits }
            }
            "trim" => Action::Trim {
                process: self.process(s)?,
                pages: r.pages.as_ref().map(|p| c.count(p, 1, 1 << 40, "pages")).transpose()?,
            },
            "write_modified" => {
                Action::WriteModified { pages: r.pages.as_ref().map(|p| c.count(p, 1, 1 << 40, "pages")).transpose()? }
            }
            "advance" => Action::Advance {
                ticks: r.ticks.as_ref().map(|t| c.count(t, 1, 1_000_000, "ticks")).transpose()?.unwrap_or(1) as u32,
            },
            "exit" => Action::Exit { process: self.process(s)? },
            "start" => Action::Start { process: self.process(s)? },
            "grant" => Action::Grant { privilege: self.privilege(s)? },
            "logon" => Action::Logon,
            "adjust_privileges" => Action::AdjustPrivileges {
                process: self.process(s)?,
                privilege: self.privilege(s)?,
                enable: r.enable.unwrap_or(true),
            },
            "fragment" => {
                let frac = |v: &Option<Sp<toml::Value>>, what: &str, default: u64| match v {
                    None => Ok(default),
                    Some(v) => c.fraction(v, what),
                };
                let pattern = match &r.pattern {
                    None => crate::fragment::FragmentPattern::Random,
                    Some(p) => c.word(
                        p,
                        "pattern",
                        crate::fragment::FragmentPattern::parse,
                        &crate::fragment::FragmentPattern::ALL.map(|p| p.name()),
                    )?,
                };
                let (standby, modified) =
                    (frac(&r.standby, "standby", 250_000)?, frac(&r.modified, "modified", 250_000)?);
                if standby + modified > crate::fragment::PPM {
                    return Err(c.err(
                        s.span(),
                        "fragment: `standby` and `modified` are shares of the same pages and add up to more than 1",
                    ));
                }
                let free_blocks = match &r.buddyinfo {
                    None => None,
                    Some(b) => {
                        if let Some(x) = r.free.as_ref().map(|f| f.span()).or(r.pattern.as_ref().map(|p| p.span())) {
                            return Err(c.err(
                                x,
                                "fragment: with `buddyinfo`, the free blocks say what stays free: no `free` or `pattern`",
                            ));
                        }
                        Some(self.buddyinfo(b)?)
                    }
                };
                Action::Fragment {
                    process: self.process(s)?,
                    free: if free_blocks.is_some() {
                        0
                    } else {
                        frac(&r.free, "free", u64::MAX).and_then(|f| {
                            if f == u64::MAX {
                                Err(c.err(
                                    s.span(),
                                    "op \"fragment\" needs `free`, the fraction of frames to leave free (0 to 1), or `buddyinfo`",
                                ))
                            } else {
                                Ok(f)
                            }
                        })?
                    },
                    free_blocks,
                    unmovable: frac(&r.unmovable, "unmovable", 0)?,
                    standby,
                    modified,
                    pattern,
                }
            }
            "contiguous" => {
                let size = c.size(self.need(s, &r.size, "size")?, "size")?;
                let alignment = r.alignment.as_ref().map(|a| c.size(a, "alignment")).transpose()?.unwrap_or(PAGE_SIZE);
                if !alignment.is_power_of_two() || alignment < PAGE_SIZE {
                    let a = r.alignment.as_ref().expect("the default is a page");
                    return Err(c.err(
                        a.span(),
                        format!("alignment: expected a power of two of at least 4 KiB, found {alignment}"),
                    ));
                }
                let highest = r.highest.as_ref().map(|h| c.size(h, "highest")).transpose()?.unwrap_or(u64::MAX);
                Action::Contiguous { size, alignment, highest }
            }
            "free_contiguous" => Action::FreeContiguous,
            "page_out_large" => Action::PageOutLarge {
                process: self.process(s)?,
                address: c.address(self.need(s, &r.address, "address")?, "address")?,
            },
            "allocate_physical" => Action::AllocatePhysical {
                process: self.process(s)?,
                pages: c.count(self.need(s, &r.pages, "pages")?, 0, 1 << 32, "pages")?,
                node: r.node.as_ref().map(|n| c.count(n, 0, 63, "node").map(|n| n as u8)).transpose()?,
            },
            "map_physical" => {
                let frames = self.frames(s, false)?;
                let pages =
                    match (&frames, &r.pages) {
                        (Some(f), None) => f.indexes.len() as u64,
                        (None, Some(p)) => c.count(p, 1, 1 << 32, "pages")?,
                        (Some(_), Some(p)) => {
                            return Err(c.err(
                                p.span(),
                                "map_physical: with `frames`, the pages are as many as the frames: no `pages`",
                            ))
                        }
                        (None, None) => return Err(c.err(
                            s.span(),
                            "op \"map_physical\" needs `frames` (to map) or `pages` (to unmap, as with a NULL array)",
                        )),
                    };
                Action::MapPhysical {
                    process: self.process(s)?,
                    address: c.address(self.need(s, &r.address, "address")?, "address")?,
                    pages,
                    frames,
                }
            }
            "map_scatter" => {
                let list = self.need(s, &r.addresses, "addresses")?;
                let addresses =
                    list.get_ref().iter().map(|a| c.address(a, "address")).collect::<Result<Vec<_>, _>>()?;
                let frames = self.frames(s, false)?;
                if addresses.is_empty() || frames.as_ref().is_some_and(|f| f.indexes.len() != addresses.len()) {
                    return Err(c.err(list.span(), "map_scatter: expected one address per frame, and at least one"));
                }
                Action::MapScatter { process: self.process(s)?, addresses, frames }
            }
            "free_physical" => Action::FreePhysical {
                process: self.process(s)?,
                frames: self.frames(s, true)?.expect("required frames"),
            },
            "physical_limit" => Action::PhysicalLimit {
                process: self.process(s)?,
                pages: c.count(self.need(s, &r.pages, "pages")?, 0, 1 << 40, "pages")?,
            },
            "virtual_lock" | "virtual_unlock" => {
                let process = self.process(s)?;
                let address = c.address(self.need(s, &r.address, "address")?, "address")?;
                let size = match (&r.pages, &r.size) {
                    (Some(p), None) => c.count(p, 1, 1 << 32, "pages")? * PAGE_SIZE,
                    (None, Some(sz)) => self.pte_range(sz)?,
                    (None, None) => PAGE_SIZE,
                    (Some(_), Some(sz)) => return Err(c.err(sz.span(), "give `pages` or `size`, not both")),
                };
                if op == "virtual_lock" {
                    Action::VirtualLock { process, address, size }
                } else {
                    Action::VirtualUnlock { process, address, size }
                }
            }
            "buffer_pool" => self.buffer_pool(s)?,
            "pool_grow" => Action::PoolGrow { process: self.process(s)? },
            "ramp_up" => {
                let pages = match (&r.pages, &r.size) {
                    (Some(p), None) => c.count(p, 1, crate::ramp::MAX_SWEEP_PAGES, "pages")?,
                    (None, Some(sz)) => {
                        let b = c.size(sz, "size")?;
                        if b == 0 || b % PAGE_SIZE != 0 || b / PAGE_SIZE > crate::ramp::MAX_SWEEP_PAGES {
                            return Err(c.err(sz.span(), "size: expected a positive multiple of 4 KiB, at most 64 GiB"));
                        }
                        b / PAGE_SIZE
                    }
                    (Some(_), Some(sz)) => return Err(c.err(sz.span(), "ramp_up: give `pages` or `size`, not both")),
                    (None, None) => return Err(c.err(s.span(), "op \"ramp_up\" needs `pages` or `size`")),
                };
                let memory = match &r.memory {
                    None => crate::ramp::RampMemory::Regular,
                    Some(v) => c.word(v, "memory", crate::ramp::RampMemory::parse, &["regular", "awe"])?,
                };
                Action::RampUp {
                    process: self.process(s)?,
                    spec: crate::ramp::RampSpec {
                        pages,
                        threads: r
                            .threads
                            .as_ref()
                            .map(|t| c.count(t, 1, crate::ramp::MAX_THREADS as u64, "threads"))
                            .transpose()?
                            .unwrap_or(1) as u32,
                        memory,
                        batch: r.batch.as_ref().map(|b| c.count(b, 1, 1 << 24, "batch")).transpose()?.unwrap_or(1024),
                    },
                }
            }
            "wait_notification" => {
                let n = self.need(s, &r.notification, "notification")?;
                Action::WaitNotification {
                    notification: c.word(n, "notification", crate::notify::Notification::parse, &["low", "high"])?,
                    ticks: c.count(self.need(s, &r.ticks, "ticks")?, 0, 1_000_000, "ticks")? as u32,
                }
            }
            "hugetlb_pool" => {
                Action::HugetlbPool { pages: c.count(self.need(s, &r.pages, "pages")?, 0, 1 << 20, "pages")? }
            }
            _ => unreachable!("op checked above"),
        };
        let real = self.real_options(s, &action)?;
        let expect = match &r.expect {
            Some(m) => self.expectations(m)?,
            None => Vec::new(),
        };
        let expect_error = match &r.expect_error {
            None => None,
            Some(e) => {
                let known = [
                    "access_violation",
                    "no_memory",
                    "no_contiguous_memory",
                    "not_contiguous_memory",
                    "fragment",
                    "large_page_lost",
                    "bad_frame_index",
                    "wait_timeout",
                    "buffer_pool",
                ]
                .iter()
                .copied()
                .chain(Win32Error::ALL.iter().map(|w| w.name()))
                .collect::<Vec<_>>();
                if !known.contains(&e.get_ref().as_str()) {
                    return Err(c.err(
                        e.span(),
                        format!("expect_error: expected one of {}, found {:?}", known.join(", "), e.get_ref()),
                    ));
                }
                Some(e.get_ref().clone())
            }
        };
        if real.side == Side::Real && (!expect.is_empty() || expect_error.is_some()) {
            return Err(c.err(
                s.span(),
                "a step with only = \"real\" is not simulated: its `expect` and `expect_error` would never be checked",
            ));
        }
        Ok(Step {
            line: c.line(s.span()),
            label: r.label.clone(),
            note: r.note.clone(),
            action,
            expect,
            expect_error,
            real,
        })
    }

    /// A step's keys for `pagelab real`: `only`, `differs`, `linux_large`.
    fn real_options(&self, s: &Sp<RawStep>, action: &Action) -> Result<RealOptions, ScenarioError> {
        let c = self.ctx;
        let r = s.get_ref();
        let side = match &r.only {
            None => Side::Both,
            Some(v) => c.word(
                v,
                "only",
                |w| match w {
                    "real" => Some(Side::Real),
                    "simulated" => Some(Side::Simulated),
                    _ => None,
                },
                &["real", "simulated"],
            )?,
        };
        let mut differs = Vec::new();
        for (k, reason) in r.differs.iter().flatten() {
            let what = k.get_ref();
            let known = std::iter::once("result").chain(crate::real::compare::QUANTITIES.iter().map(|q| q.name));
            if !known.clone().any(|n| n == what) {
                return Err(c.err(
                    k.span(),
                    format!(
                        "differs: expected result or a measured quantity ({}), found {what:?}",
                        known.collect::<Vec<_>>().join(", ")
                    ),
                ));
            }
            if reason.get_ref().trim().is_empty() {
                return Err(c.err(reason.span(), format!("differs.{what}: give the reason the real system differs")));
            }
            differs.push(ExpectedDifference {
                what: what.clone(),
                reason: reason.get_ref().clone(),
                line: c.line(k.span()),
            });
        }
        if side != Side::Both && !differs.is_empty() {
            return Err(c.err(
                s.span(),
                "`differs` compares the two sides: it does not apply to a step that only one side runs",
            ));
        }
        let linux_large = match &r.linux_large {
            None => LinuxLarge::Hugetlb,
            Some(v) => {
                if !matches!(action, Action::Reserve { large_pages: true, .. }) {
                    return Err(c.err(v.span(), "linux_large applies only to a reserve with large_pages = true"));
                }
                c.word(
                    v,
                    "linux_large",
                    |w| match w {
                        "hugetlb" => Some(LinuxLarge::Hugetlb),
                        "thp" => Some(LinuxLarge::Thp),
                        _ => None,
                    },
                    &["hugetlb", "thp"],
                )?
            }
        };
        Ok(RealOptions { side, differs, linux_large })
    }

    /// The `frames` of an AWE step (and `frames_of`): indexes into a PFN
    /// array, as a list or a range "A..B". `None` when absent and not
    /// `required`.
    fn frames(&self, s: &Sp<RawStep>, required: bool) -> Result<Option<FrameRefs>, ScenarioError> {
        let c = self.ctx;
        let r = s.get_ref();
        let Some(v) = &r.frames else {
            if let Some(o) = &r.frames_of {
                return Err(c.err(o.span(), "`frames_of` names whose PFN array `frames` indexes: give `frames` too"));
            }
            if required {
                return Err(c.err(s.span(), format!("op {:?} needs `frames`", r.op.get_ref())));
            }
            return Ok(None);
        };
        let expected = "frames: expected a list of indexes into the PFN array ([0, 1, 2]) or a range \"A..B\"";
        let indexes: Vec<u64> = match v.get_ref() {
            toml::Value::Array(a) => a
                .iter()
                .map(|x| x.as_integer().filter(|&i| (0..1 << 32).contains(&i)).map(|i| i as u64))
                .collect::<Option<Vec<_>>>()
                .ok_or_else(|| c.err(v.span(), expected))?,
            toml::Value::String(t) => {
                let (a, b) = t.split_once("..").ok_or_else(|| c.err(v.span(), expected))?;
                let (a, b) = (a.trim().parse::<u64>(), b.trim().parse::<u64>());
                match (a, b) {
                    (Ok(a), Ok(b)) if a < b && b - a <= 1 << 24 => (a..b).collect(),
                    _ => return Err(c.err(v.span(), expected)),
                }
            }
            _ => return Err(c.err(v.span(), expected)),
        };
        if indexes.is_empty() {
            return Err(c.err(v.span(), "frames: expected at least one frame"));
        }
        let of = match &r.frames_of {
            None => self.process(s)?,
            Some(name) => self
                .processes
                .iter()
                .position(|q| &q.name == name.get_ref())
                .ok_or_else(|| c.err(name.span(), format!("frames_of: unknown process {:?}", name.get_ref())))?,
        };
        Ok(Some(FrameRefs { of, indexes }))
    }

    /// A buffer_pool step: `target` a size of whole pages up to the
    /// machine's memory, `memory` regular or awe, `batch` and `shrink` in
    /// pages (shrink defaults to the batch; 0 ignores memory pressure),
    /// `query` once or every.
    fn buffer_pool(&self, s: &Sp<RawStep>) -> Result<Action, ScenarioError> {
        use crate::buffer_pool::{PoolMemory, PoolQuery, PoolSpec, DEFAULT_BATCH};
        let c = self.ctx;
        let r = s.get_ref();
        let process = self.process(s)?;
        let t = self.need(s, &r.target, "target")?;
        let bytes = c.size(t, "target")?;
        let frames = self.machine.frames();
        if bytes == 0 || bytes % PAGE_SIZE != 0 || bytes / PAGE_SIZE > frames {
            return Err(c.err(
                t.span(),
                format!(
                    "target: expected a whole number of 4 KiB pages from 1 page to the machine's memory ({}), found {}",
                    self.machine.memory,
                    Bytes(bytes)
                ),
            ));
        }
        let memory = match &r.memory {
            None => PoolMemory::Regular,
            Some(v) => c.word(v, "memory", PoolMemory::parse, &["regular", "awe"])?,
        };
        let query = match &r.query {
            None => PoolQuery::default_for(memory),
            Some(v) => c.word(v, "query", PoolQuery::parse, &["once", "every"])?,
        };
        let batch = r.batch.as_ref().map(|b| c.count(b, 1, frames, "batch")).transpose()?.unwrap_or(DEFAULT_BATCH);
        let shrink = r.shrink.as_ref().map(|b| c.count(b, 0, frames, "shrink")).transpose()?.unwrap_or(batch);
        Ok(Action::BufferPool {
            process,
            spec: PoolSpec { target: bytes / PAGE_SIZE, memory, batch, shrink, query },
            grow: r.grow.unwrap_or(false),
        })
    }

    fn touch(&self, s: &Sp<RawStep>) -> Result<Action, ScenarioError> {
        let c = self.ctx;
        let r = s.get_ref();
        let process = self.process(s)?;
        let address = c.address(self.need(s, &r.address, "address")?, "address")?;
        let pages = match (&r.pages, &r.size) {
            (Some(p), None) => c.count(p, 1, MAX_STEP_REFS, "pages")?,
            (None, Some(sz)) => {
                let bytes = c.size(sz, "size")?;
                let first = address / PAGE_SIZE;
                let end = address.saturating_add(bytes.max(1)).div_ceil(PAGE_SIZE);
                end - first
            }
            (None, None) => 1,
            (Some(_), Some(sz)) => return Err(c.err(sz.span(), "touch: give `pages` or `size`, not both")),
        };
        if address.saturating_add(pages.saturating_mul(PAGE_SIZE)) > MAX_ADDRESS {
            return Err(c.err(s.span(), "touch: the range runs past the 48-bit virtual address space"));
        }
        let repeat = r.repeat.as_ref().map(|v| c.count(v, 1, MAX_STEP_REFS, "repeat")).transpose()?.unwrap_or(1);
        let pattern = match r.pattern.as_ref().map(|p| p.get_ref().as_str()) {
            None | Some("sequential") => Pattern::Sequential,
            Some("reverse") => Pattern::Reverse,
            Some("stride") => {
                let st = self.need(s, &r.stride, "stride")?;
                Pattern::Stride(c.count(st, 1, pages.max(1), "stride")?)
            }
            Some("random") => Pattern::Random {
                count: r.count.as_ref().map(|v| c.count(v, 1, MAX_STEP_REFS, "count")).transpose()?.unwrap_or(pages),
            },
            Some(other) => {
                let sp = r.pattern.as_ref().expect("matched Some").span();
                return Err(
                    c.err(sp, format!("pattern: expected sequential, reverse, stride or random, found {other:?}"))
                );
            }
        };
        if let (Some(st), false) = (&r.stride, matches!(pattern, Pattern::Stride(_))) {
            return Err(c.err(st.span(), "`stride` applies only to pattern = \"stride\""));
        }
        if let (Some(ct), false) = (&r.count, matches!(pattern, Pattern::Random { .. })) {
            return Err(c.err(ct.span(), "`count` applies only to pattern = \"random\""));
        }
        let refs = match pattern {
            Pattern::Random { count } => count,
            _ => pages,
        };
        if refs.saturating_mul(repeat) > MAX_STEP_REFS {
            return Err(c.err(
                s.span(),
                format!("touch makes {} references: at most {MAX_STEP_REFS} per step", refs.saturating_mul(repeat)),
            ));
        }
        let node = r
            .node
            .as_ref()
            .map(|v| c.count(v, 0, self.machine.numa_nodes as u64 - 1, "node"))
            .transpose()?
            .map(|n| n as u8);
        Ok(Action::Touch { process, address, pages, access: self.access(&r.access)?, pattern, repeat, node })
    }

    /// A fragment step's `buddyinfo`: free blocks per order, as a list
    /// (`[26853, 5089, 278]`) or a `/proc/buddyinfo` text file relative to
    /// the scenario (its zones summed).
    fn buddyinfo(&self, v: &Sp<toml::Value>) -> Result<Vec<u64>, ScenarioError> {
        let c = self.ctx;
        let counts = match v.get_ref() {
            toml::Value::Array(a) => a
                .iter()
                .map(|x| match x.as_integer() {
                    Some(n) if n >= 0 => Ok(n as u64),
                    _ => Err(c.err(
                        v.span(),
                        format!("buddyinfo: expected counts of free blocks (integers from 0), found {x}"),
                    )),
                })
                .collect::<Result<Vec<u64>, _>>()?,
            toml::Value::String(file) => {
                // The running machine's own free memory, from any scenario
                // (the real scenarios start the simulator from it).
                let path = if file == LIVE_BUDDYINFO {
                    std::path::PathBuf::from(LIVE_BUDDYINFO)
                } else {
                    let Some(dir) = self.base_dir else {
                        return Err(c.err(
                            v.span(),
                            "a built-in scenario cannot read buddyinfo files: give the counts as a list (or \"/proc/buddyinfo\", this machine's)",
                        ));
                    };
                    dir.join(file)
                };
                let shown = path.display().to_string();
                let text = std::fs::read_to_string(&path)
                    .map_err(|e| c.err(v.span(), format!("cannot read buddyinfo {shown}: {e}")))?;
                let info = crate::fragmentation::FreeBlocks::from_buddyinfo(&text).map_err(|e| ScenarioError {
                    file: shown.clone(),
                    line: e.line as usize,
                    col: e.col as usize,
                    message: e.message,
                })?;
                let counts = info.total.counts().to_vec();
                if file == LIVE_BUDDYINFO {
                    self.live_need.set(self.live_need.get().max(crate::fragment::frames_to_lay_out(&counts)));
                }
                counts
            }
            other => {
                return Err(c.err(
                    v.span(),
                    format!(
                        "buddyinfo: expected a list of free-block counts per order or a file name, found {}",
                        other.type_str()
                    ),
                ))
            }
        };
        if counts.is_empty() || counts.len() > 21 {
            return Err(c.err(v.span(), format!("buddyinfo: expected 1 to 21 orders, found {}", counts.len())));
        }
        if counts.iter().enumerate().any(|(k, &n)| n.checked_mul(1 << k).is_none_or(|p| p > 1 << 36)) {
            return Err(c.err(v.span(), "buddyinfo: more free pages than any machine pagelab simulates (256 GiB)"));
        }
        Ok(counts)
    }

    fn refs(&self, s: &Sp<RawStep>) -> Result<Action, ScenarioError> {
        let c = self.ctx;
        let r = s.get_ref();
        let process = self.process(s)?;
        let base = r.base.as_ref().map(|b| c.address(b, "base")).transpose()?.unwrap_or(0);
        let access = self.access(&r.access)?;
        let (pages, writes): (Vec<u64>, Vec<bool>) = match (&r.refs, &r.trace) {
            (Some(list), None) => {
                if r.format.is_some() {
                    return Err(c.err(s.span(), "`format` applies only with `trace`"));
                }
                list.get_ref()
                    .iter()
                    .map(|p| c.count(p, 0, (1 << 36) - 1, "page number").map(|x| (x, access == AccessKind::Write)))
                    .collect::<Result<Vec<_>, _>>()?
                    .into_iter()
                    .unzip()
            }
            (None, Some(t)) => {
                let Some(dir) = self.base_dir else {
                    return Err(c.err(t.span(), "a built-in scenario cannot read trace files"));
                };
                let choice = match &r.format {
                    Some(f) => c.word(f, "format", FormatChoice::parse, &FormatChoice::NAMES)?,
                    None => FormatChoice::Auto,
                };
                let path = dir.join(t.get_ref());
                let shown = path.display().to_string();
                let opened = open_trace(&shown, choice, None).map_err(|e| {
                    let message = match e.strip_prefix("cannot open the trace: ") {
                        Some(why) => format!("cannot open trace {shown}: {why}"),
                        None => format!("trace {shown}: {e}"),
                    };
                    c.err(t.span(), message)
                })?;
                let mut pages = Vec::new();
                let mut writes = Vec::new();
                for x in TraceReader::new(opened.input, opened.format) {
                    let x = x.map_err(|e| ScenarioError {
                        file: shown.clone(),
                        line: e.line as usize,
                        col: e.col as usize,
                        message: e.message,
                    })?;
                    pages.push(x.page);
                    writes.push(x.write || access == AccessKind::Write);
                    if pages.len() > MAX_TRACE_REFS {
                        return Err(c.err(
                            t.span(),
                            format!("trace has more than {MAX_TRACE_REFS} references; replay it with `pagelab replay`, which streams"),
                        ));
                    }
                }
                (pages, writes)
            }
            (Some(_), Some(t)) => return Err(c.err(t.span(), "refs: give `refs` or `trace`, not both")),
            (None, None) => {
                return Err(c.err(s.span(), "op \"refs\" needs `refs` (a list of page numbers) or `trace` (a file)"))
            }
        };
        if base % PAGE_SIZE != 0 {
            return Err(c.err(
                r.base.as_ref().expect("nonzero base was given").span(),
                "base: expected a page-aligned address",
            ));
        }
        Ok(Action::Refs { process, base, pages, writes })
    }

    fn expectations(&self, m: &BTreeMap<Sp<String>, Sp<toml::Value>>) -> Result<Vec<Expectation>, ScenarioError> {
        let mut out: Vec<Expectation> = m.iter().map(|(k, v)| self.expectation(k, v)).collect::<Result<_, _>>()?;
        out.sort_by_key(|e| e.line);
        Ok(out)
    }

    fn expectation(&self, k: &Sp<String>, v: &Sp<toml::Value>) -> Result<Expectation, ScenarioError> {
        let c = self.ctx;
        let key = k.get_ref().as_str();
        let metric = parse_metric(key, self.processes, self.files).map_err(|e| c.err(k.span(), e))?;
        let check = match (v.get_ref(), &metric) {
            (toml::Value::String(s), Metric::Pte(..)) => {
                if !PteKind::NAMES.contains(&s.as_str()) {
                    return Err(c.err(
                        v.span(),
                        format!("{key}: expected a PTE kind ({}), found {s:?}", PteKind::NAMES.join(", ")),
                    ));
                }
                Check::Kind(s.clone())
            }
            (_, Metric::Pte(..)) => {
                return Err(
                    c.err(v.span(), format!("{key}: expected a PTE kind as a string ({})", PteKind::NAMES.join(", ")))
                )
            }
            (toml::Value::Integer(i), _) if *i >= 0 => Check::Equals(*i as u64),
            (toml::Value::Table(t), _) => {
                let mut at_least = None;
                let mut at_most = None;
                for (tk, tv) in t {
                    let n = tv
                        .as_integer()
                        .filter(|n| *n >= 0)
                        .ok_or_else(|| c.err(v.span(), format!("{key}: `{tk}` expects a non-negative integer")))?
                        as u64;
                    match tk.as_str() {
                        "at_least" => at_least = Some(n),
                        "at_most" => at_most = Some(n),
                        _ => {
                            return Err(
                                c.err(v.span(), format!("{key}: unknown bound `{tk}`: expected at_least or at_most"))
                            )
                        }
                    }
                }
                Check::Range { at_least, at_most }
            }
            _ => {
                return Err(c.err(
                    v.span(),
                    format!("{key}: expected a non-negative integer or {{ at_least = N, at_most = M }}"),
                ))
            }
        };
        Ok(Expectation { key: key.to_string(), line: c.line(k.span()), metric, check })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(text: &str) -> ScenarioError {
        load_str(text, "t.toml", None, &[]).unwrap_err()
    }

    const OK: &str = r#"
[scenario]
name = "t"
[machine]
memory = "1 MiB"
[[process]]
name = "p1"
ws_max = 3
[[step]]
op = "reserve"
process = "p1"
size = "64 KiB"
commit = true
[[step]]
op = "touch"
process = "p1"
address = 0x10000
pages = 4
access = "write"
expect = { "p1.faults" = 4, "p1.ws_size" = { at_most = 3 } }
[expect]
"faults.demand_zero" = 4
"p1.pte.0x10000" = "transition"
"#;

    const LATER: &str = "[scenario]\nname = \"t\"\n[machine]\nmemory = \"1 MiB\"\n\
        [[process]]\nname = \"a\"\n[[process]]\nname = \"b\"\nstarted = false\n";

    #[test]
    fn a_process_started_by_a_step_is_used_only_after_it() {
        let use_first = format!("{LATER}[[step]]\nop = \"exit\"\nprocess = \"b\"\n");
        let e = err(&use_first);
        assert_eq!(e.line, 10, "{e}");
        assert!(e.message.contains("process b is declared with started = false and has not been started yet"), "{e}");
        let expect_first = format!("{LATER}[[step]]\nop = \"logon\"\nexpect = {{ \"b.logon\" = 2 }}\n");
        assert!(err(&expect_first).message.contains("has not been started yet"));
        let twice =
            format!("{LATER}[[step]]\nop = \"start\"\nprocess = \"b\"\n[[step]]\nop = \"start\"\nprocess = \"b\"\n");
        let e = err(&twice);
        assert_eq!(e.line, 13, "{e}");
        assert!(e.message.contains("start: process b is already running"), "{e}");
        let never = format!("{LATER}[expect]\n\"b.ws_size\" = 0\n");
        let e = err(&never);
        assert_eq!(e.line, 11, "{e}");
        assert!(e.message.contains("b.ws_size: process b is never started"), "{e}");
        let ok = format!("{LATER}[[step]]\nop = \"start\"\nprocess = \"b\"\nexpect = {{ \"b.logon\" = 1 }}\n[expect]\n\"b.ws_size\" = 0\n");
        assert!(load_str(&ok, "t.toml", None, &[]).is_ok());
    }

    #[test]
    fn privilege_steps_name_their_privilege() {
        let bad = format!("{LATER}[[step]]\nop = \"grant\"\nprivilege = \"SeLockMemory\"\n");
        let e = err(&bad);
        assert_eq!((e.line, e.col), (12, 13), "{e}");
        assert!(e.message.contains("SeLockMemoryPrivilege"), "{e}");
        let missing = format!("{LATER}[[step]]\nop = \"adjust_privileges\"\nprocess = \"a\"\n");
        assert!(err(&missing).message.contains("op \"adjust_privileges\" needs a `privilege`"));
        let wrong_key = format!("{LATER}[[step]]\nop = \"logon\"\nprocess = \"a\"\n");
        assert!(err(&wrong_key).message.contains("key `process` does not apply to op \"logon\""));
    }

    #[test]
    fn a_good_scenario_loads() {
        let s = load_str(OK, "t.toml", None, &[]).unwrap();
        assert_eq!(s.steps.len(), 2);
        assert_eq!(s.machine.frames(), 256);
        assert_eq!(s.steps[1].expect.len(), 2);
        assert_eq!(s.expect.len(), 2);
        assert_eq!(s.steps[1].line, 14, "the line of the [[step]] header");
    }

    #[test]
    fn unknown_keys_name_line_and_column() {
        let e = err("[scenario]\nname = \"x\"\ncolour = 3\n");
        assert_eq!((e.line, e.col), (3, 1), "{e}");
        assert!(e.message.contains("unknown field `colour`"), "{e}");
    }

    #[test]
    fn bad_values_name_what_was_expected() {
        let e = err(&OK.replace("memory = \"1 MiB\"", "memory = \"1 parsec\""));
        assert_eq!(e.line, 5);
        assert!(e.message.contains("unknown size unit"), "{e}");
        let e = err(&OK.replace("access = \"write\"", "access = \"scribble\""));
        assert!(e.message.contains("expected one of read, write, execute"), "{e}");
        let e = err(&OK.replace("\"p1.faults\"", "\"p9.faults\""));
        assert!(e.message.contains("unknown metric"), "{e}");
        let e = err(&OK.replace("commit = true", "commit = true\npattern = \"random\""));
        assert!(e.message.contains("does not apply to op \"reserve\""), "{e}");
        let e = err(&OK.replace("memory = \"1 MiB\"", "memory = \"4 TiB\""));
        assert!(e.message.contains("host memory"), "{e}");
    }

    #[test]
    fn more_files_than_ids_is_an_error_not_a_wrap() {
        let files: String = (0..=MAX_FILES).map(|i| format!("[[file]]\nname = \"f{i}\"\nsize = 4096\n")).collect();
        let e = err(&format!("[scenario]\nname = \"x\"\n{files}"));
        assert!(e.message.contains("at most 4096 files"), "{e}");
        assert_eq!(e.line, 3 + 3 * MAX_FILES, "{e}");
    }

    #[test]
    fn nested_settings_work_as_tables_dotted_keys_and_overrides() {
        let dotted =
            OK.replace("memory = \"1 MiB\"", "memory = \"1 MiB\"\nwriter.zero_wake = 32\ncluster.pagefile = 5");
        let s = load_str(&dotted, "t.toml", None, &[]).unwrap();
        assert_eq!((s.machine.writer.zero_wake, s.machine.cluster.pagefile), (32, 5));
        let o = [Override::parse("writer.zero_wake=16").unwrap(), Override::parse("machine.cluster.file=1").unwrap()];
        let s = load_str(OK, "t.toml", None, &o).unwrap();
        assert_eq!((s.machine.writer.zero_wake, s.machine.cluster.file), (16, 1));
        let e = load_str(OK, "t.toml", None, &[Override::parse("cluster.pagefile=999").unwrap()]).unwrap_err();
        assert!(e.message.contains("from 0 to 64"), "{e}");
    }

    #[test]
    fn balance_settings_load_with_defaults_overrides_and_located_errors() {
        let t = OK.replace(
            "memory = \"1 MiB\"",
            "memory = \"1 MiB\"\npolicy = \"aging\"\n[machine.balance]\nperiod = \"2 s\"\navailable_below = 40",
        );
        let s = load_str(&t, "t.toml", None, &[]).unwrap();
        assert_eq!(s.machine.policy, PolicyKind::Aging);
        let b = s.machine.balance;
        assert_eq!((b.enabled, b.period, b.available_below, b.goal), (true, SimNanos(2_000_000_000), 40, 60));
        // The default: WRK's threshold scaled to 256 frames, and one second.
        let d = load_str(OK, "t.toml", None, &[]).unwrap().machine.balance;
        assert_eq!((d.period, d.available_below, d.goal), (SimNanos(1_000_000_000), 16, 24));
        let o = [Override::parse("balance.period=500ms").unwrap(), Override::parse("balance.goal=80").unwrap()];
        let b = load_str(&t, "t.toml", None, &o).unwrap().machine.balance;
        assert_eq!((b.period, b.available_below, b.goal), (SimNanos(500_000_000), 40, 80));
        let o = [Override::parse("balance.enabled=false").unwrap()];
        assert!(!load_str(OK, "t.toml", None, &o).unwrap().machine.balance.enabled);
        // Errors name the line and column of the value at fault.
        let e = err(&t.replace("\"2 s\"", "\"2 fortnights\""));
        assert_eq!((e.line, e.col), (8, 10), "{e}");
        assert!(e.message.contains("balance.period: unknown time unit"), "{e}");
        let e = err(&t.replace("available_below = 40", "available_below = 40\ngoal = 10"));
        assert_eq!(e.line, 10, "{e}");
        assert!(e.message.contains("balance.goal 10 is below balance.available_below 40"), "{e}");
        let e = err(&t.replace("period = \"2 s\"", "period = 0"));
        assert!(e.message.contains("balance.period must be longer than 0"), "{e}");
        let e = err(&t.replace("period = \"2 s\"", "colour = 1"));
        assert!(e.message.contains("unknown field `colour`"), "{e}");
        let e = load_str(OK, "t.toml", None, &[Override::parse("balance.available_below=9999").unwrap()]).unwrap_err();
        assert_eq!(e.file, "--set balance.available_below=9999", "{e}");
        assert!(e.message.contains("from 0 to 256"), "{e}");
        let e = err(&OK.replace("ws_max = 3", "ws_max = 3\npolicy = \"agin\""));
        assert!(e.message.contains("aging, wsclock"), "{e}");
        let s = load_str(&OK.replace("ws_max = 3", "ws_max = 3\npolicy = \"aging\""), "t.toml", None, &[]).unwrap();
        assert_eq!(s.processes[0].policy, Some(PolicyKind::Aging));
    }

    #[test]
    fn overrides_apply_and_report_their_own_errors() {
        let o = [Override::parse("memory=2MiB").unwrap(), Override::parse("machine.policy=lru").unwrap()];
        let s = load_str(OK, "t.toml", None, &o).unwrap();
        assert_eq!((s.machine.frames(), s.machine.policy), (512, PolicyKind::Lru));
        let e = load_str(OK, "t.toml", None, &[Override::parse("policy=best").unwrap()]).unwrap_err();
        assert_eq!((e.file.as_str(), e.line, e.col), ("--set policy=best", 1, 8), "{e}");
        assert!(e.message.contains("expected one of fifo"), "{e}");
        let e = load_str(OK, "t.toml", None, &[Override::parse("colour=red").unwrap()]).unwrap_err();
        assert!(e.message.contains("unknown field"), "{e}");
    }
}

//! The experiment file: what a sweep runs.
//!
//! ```toml
//! [experiment]
//! name = "policies"
//! seed = 42            # every cell's seed derives from it
//! repetitions = 2      # each cell of the grid runs this many times
//! metrics = ["faults", "fault_rate", "soft", "hard"]   # replays' columns
//!
//! [[trace]]            # a file (relative to this file) ...
//! name = "gcc"
//! file = "gcc.lackey"
//! format = "lackey"
//!
//! [[trace]]            # ... or generated, without a file
//! name = "zipf"
//! generate = { generator = "zipf", pages = 20000, refs = 1000000, alpha = 0.99 }
//!
//! [[scenario]]         # a scenario, run to the end, with the metrics to record
//! name = "belady"
//! metrics = ["three.faults", "four.faults"]
//!
//! [grid]               # replay options: each trace runs under every combination
//! policy = ["fifo", "lru", "clock"]
//! frames = [500, 1000, 2000]
//! memory = "256 MiB"   # a single value is an axis of one
//!
//! [grid.set]           # machine settings, as `--set` takes them: traces and scenarios
//! cost = ["disk-1993", "nvme"]
//! ```

use std::collections::BTreeMap;
use std::ops::Range;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use sha2::{Digest, Sha256};
use toml::Spanned;

use crate::scenario::ScenarioError;
use crate::trace::{open_trace, FormatChoice};

/// The replay options a grid may vary, in the order their columns appear.
pub const REPLAY_AXES: [&str; 7] = ["policy", "frames", "memory", "cost", "refresh", "tau", "tlb"];

/// The replay metrics recorded when an experiment names none.
pub const DEFAULT_TRACE_METRICS: [&str; 7] =
    ["references", "faults", "fault_rate", "demand_zero", "soft", "hard", "evictions"];

/// The most cells one experiment may have.
pub const MAX_CELLS: usize = 10_000_000;

/// A parsed, checked experiment file.
#[derive(Clone, Debug)]
pub struct Experiment {
    /// Its name.
    pub name: String,
    /// The file, as given.
    pub file: String,
    /// The directory trace paths are relative to.
    pub dir: PathBuf,
    /// SHA-256 of the file's bytes, in hex: a changed file is a new experiment.
    pub sha256: String,
    /// The experiment's seed.
    pub seed: u64,
    /// Runs of each grid point.
    pub repetitions: u32,
    /// Metrics recorded for trace cells.
    pub metrics: Vec<String>,
    /// Where each was named (the header's name when they are the defaults).
    pub metric_spans: Vec<Range<usize>>,
    /// Traces.
    pub traces: Vec<TraceSpec>,
    /// Scenarios.
    pub scenarios: Vec<ScenarioSpec>,
    /// Replay option axes (traces only), in [`REPLAY_AXES`] order.
    pub replay_axes: Vec<Axis>,
    /// Machine setting axes (`[grid.set]`), sorted by key.
    pub set_axes: Vec<Axis>,
    /// The text, to place errors found later (cells that cannot be built).
    pub text: String,
}

/// One trace of an experiment.
#[derive(Clone, Debug)]
pub struct TraceSpec {
    /// Its name: the `trace` column.
    pub name: String,
    /// Where its references come from.
    pub source: TraceSource,
    /// Where it is declared.
    pub span: Range<usize>,
}

/// Where a trace's references come from.
#[derive(Clone, Debug)]
pub enum TraceSource {
    /// A file, resolved against the experiment's directory.
    File {
        /// The path.
        path: PathBuf,
        /// Its format as `--format` would name it, settled when the
        /// experiment is read (detected with `auto`, the default, as
        /// `replay` does), so that every cell reads it alike.
        format: FormatChoice,
    },
    /// A generator.
    Generated {
        /// Its settings.
        spec: crate::tracegen::GenSpec,
        /// Whether the table set its own seed; otherwise each repetition
        /// draws one from the experiment's seed.
        seeded: bool,
    },
}

/// One scenario of an experiment.
#[derive(Clone, Debug)]
pub struct ScenarioSpec {
    /// Built-in name or path (relative to the experiment's directory).
    pub name: String,
    /// What `scenario::resolve` is given.
    pub resolve: String,
    /// The metrics to record, by the names expectations use.
    pub metrics: Vec<Spanned<String>>,
    /// Where it is declared.
    pub span: Range<usize>,
}

/// One axis of the grid: a parameter and its values.
#[derive(Clone, Debug)]
pub struct Axis {
    /// The column: `policy`, `frames`, ..., or `set.KEY`.
    pub name: String,
    /// Its values, as text (TOML strings unquoted), with their positions.
    pub values: Vec<(String, Range<usize>)>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawExperiment {
    experiment: RawHeader,
    #[serde(default)]
    trace: Vec<Spanned<RawTrace>>,
    #[serde(default)]
    scenario: Vec<Spanned<RawScenarioRef>>,
    #[serde(default)]
    grid: BTreeMap<Spanned<String>, Spanned<toml::Value>>,
}

/// `[grid.set]` read a second time for the position of each setting.
#[derive(Deserialize)]
struct SetSpans {
    grid: Option<SetSpansGrid>,
}

#[derive(Deserialize)]
struct SetSpansGrid {
    set: Option<BTreeMap<Spanned<String>, Spanned<toml::Value>>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHeader {
    name: Spanned<String>,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    seed: Option<Spanned<i64>>,
    #[serde(default)]
    repetitions: Option<Spanned<i64>>,
    #[serde(default)]
    metrics: Option<Vec<Spanned<String>>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTrace {
    name: Spanned<String>,
    #[serde(default)]
    file: Option<Spanned<String>>,
    #[serde(default)]
    format: Option<Spanned<String>>,
    #[serde(default)]
    generate: Option<Spanned<toml::Table>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawScenarioRef {
    name: Spanned<String>,
    #[serde(default)]
    metrics: Vec<Spanned<String>>,
}

/// Where an error is: the experiment file's text and name.
pub(crate) struct Place<'a> {
    pub file: &'a str,
    pub text: &'a str,
}

impl Place<'_> {
    pub fn err(&self, span: Range<usize>, message: impl Into<String>) -> ScenarioError {
        let (line, col) = crate::scenario::line_col(self.text, span.start);
        ScenarioError { file: self.file.to_string(), line, col, message: message.into() }
    }
}

/// A value of an axis as the text a parameter column holds.
fn value_text(v: &toml::Value) -> Option<String> {
    match v {
        toml::Value::String(s) => Some(s.clone()),
        toml::Value::Integer(i) => Some(i.to_string()),
        toml::Value::Float(f) => Some(f.to_string()),
        toml::Value::Boolean(b) => Some(b.to_string()),
        _ => None,
    }
}

/// An axis from a grid entry: one value or an array of them.
fn axis(p: &Place, name: String, v: &Spanned<toml::Value>) -> Result<Axis, ScenarioError> {
    let bad = |span: Range<usize>| {
        p.err(span, format!("grid {name}: expected a value (string, number or boolean) or an array of them"))
    };
    let values = match v.get_ref() {
        toml::Value::Array(a) => {
            if a.is_empty() {
                return Err(p.err(v.span(), format!("grid {name}: expected at least one value, found []")));
            }
            // Array elements carry no spans of their own: each is blamed on
            // the array.
            a.iter()
                .map(|x| value_text(x).map(|t| (t, v.span())).ok_or_else(|| bad(v.span())))
                .collect::<Result<Vec<_>, _>>()?
        }
        x => vec![(value_text(x).ok_or_else(|| bad(v.span()))?, v.span())],
    };
    let mut seen = std::collections::BTreeSet::new();
    for (t, s) in &values {
        if !seen.insert(t) {
            return Err(p.err(s.clone(), format!("grid {name}: {t:?} is listed twice")));
        }
    }
    Ok(Axis { name, values })
}

/// Reads and checks an experiment file.
pub fn load(path: &Path) -> Result<Experiment, ScenarioError> {
    let file = path.display().to_string();
    let bytes = std::fs::read(path).map_err(|e| ScenarioError {
        file: file.clone(),
        line: 0,
        col: 0,
        message: format!("cannot read the experiment: {e}"),
    })?;
    let text = String::from_utf8(bytes.clone()).map_err(|e| ScenarioError {
        file: file.clone(),
        line: 0,
        col: 0,
        message: format!("expected UTF-8 text (byte {} is not)", e.utf8_error().valid_up_to()),
    })?;
    let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
    let sha256 = hex(&Sha256::digest(&bytes));
    parse(&text, &file, &dir, sha256)
}

/// Lower-case hex.
fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Parses an experiment from text; `dir` resolves relative paths.
pub fn parse(text: &str, file: &str, dir: &Path, sha256: String) -> Result<Experiment, ScenarioError> {
    let p = Place { file, text };
    let raw: RawExperiment = toml::from_str(text).map_err(|e| crate::scenario::toml_error(file, text, e))?;
    let h = &raw.experiment;
    let name = h.name.get_ref().trim().to_string();
    if name.is_empty() {
        return Err(p.err(h.name.span(), "experiment name: expected a non-empty name"));
    }
    let _ = &h.description;
    let seed = match &h.seed {
        Some(s) if *s.get_ref() < 0 => return Err(p.err(s.span(), "seed: expected a number from 0")),
        Some(s) => *s.get_ref() as u64,
        None => 0,
    };
    let repetitions = match &h.repetitions {
        Some(r) if !(1..=1_000_000).contains(r.get_ref()) => {
            return Err(p.err(r.span(), format!("repetitions {}: expected 1 to 1000000", r.get_ref())))
        }
        Some(r) => *r.get_ref() as u32,
        None => 1,
    };
    let metrics: Vec<String> = match &h.metrics {
        Some(m) if m.is_empty() => {
            return Err(p.err(h.name.span(), "metrics: expected at least one metric name (or leave it out)"))
        }
        Some(m) => m.iter().map(|s| s.get_ref().clone()).collect(),
        None => DEFAULT_TRACE_METRICS.iter().map(|s| s.to_string()).collect(),
    };
    let metric_spans = match &h.metrics {
        Some(m) => m.iter().map(|s| s.span()).collect(),
        None => vec![h.name.span(); metrics.len()],
    };

    let mut names = std::collections::BTreeSet::new();
    let mut traces = Vec::new();
    for t in &raw.trace {
        let span = t.span();
        let t = t.get_ref();
        let tname = t.name.get_ref().trim().to_string();
        if tname.is_empty() {
            return Err(p.err(t.name.span(), "trace name: expected a non-empty name"));
        }
        if !names.insert(tname.clone()) {
            return Err(p.err(t.name.span(), format!("trace {tname:?}: the name is used twice")));
        }
        let source = match (&t.file, &t.generate) {
            (Some(f), None) => {
                let choice = match &t.format {
                    None => FormatChoice::Auto,
                    Some(s) => FormatChoice::parse(s.get_ref()).ok_or_else(|| {
                        p.err(
                            s.span(),
                            format!("format {:?}: expected one of {}", s.get_ref(), FormatChoice::NAMES.join(", ")),
                        )
                    })?,
                };
                let path = dir.join(f.get_ref());
                if !path.is_file() {
                    return Err(p.err(f.span(), format!("trace file {}: no such file", path.display())));
                }
                let shown = path.display().to_string();
                let opened = open_trace(&shown, choice, None).map_err(|e| {
                    let at = t.format.as_ref().map_or(f.span(), |s| s.span());
                    p.err(at, format!("trace file {shown}: {e}"))
                })?;
                TraceSource::File { path, format: opened.settled() }
            }
            (None, Some(g)) => {
                if let Some(f) = &t.format {
                    return Err(p.err(f.span(), "format: applies to a trace file, not to a generated trace"));
                }
                let spec: crate::tracegen::GenSpec = toml::Value::Table(g.get_ref().clone())
                    .try_into()
                    .map_err(|e: toml::de::Error| p.err(g.span(), format!("generate: {}", e.message().trim())))?;
                spec.validate().map_err(|e| p.err(g.span(), format!("generate: {e}")))?;
                TraceSource::Generated { spec, seeded: g.get_ref().contains_key("seed") }
            }
            (Some(f), Some(_)) => {
                return Err(p.err(f.span(), "a trace has either `file` or `generate`, not both"));
            }
            (None, None) => {
                return Err(
                    p.err(span, format!("trace {tname:?}: expected `file = \"PATH\"` or `generate = {{ ... }}`"))
                )
            }
        };
        traces.push(TraceSpec { name: tname, source, span });
    }

    let mut scenarios = Vec::new();
    for s in &raw.scenario {
        let span = s.span();
        let s = s.get_ref();
        let sname = s.name.get_ref().trim().to_string();
        if scenarios.iter().any(|x: &ScenarioSpec| x.name == sname) {
            return Err(p.err(s.name.span(), format!("scenario {sname:?}: the name is used twice")));
        }
        let local = dir.join(&sname);
        let resolve = if local.is_file() { local.display().to_string() } else { sname.clone() };
        scenarios.push(ScenarioSpec { name: sname, resolve, metrics: s.metrics.clone(), span });
    }
    if traces.is_empty() && scenarios.is_empty() {
        return Err(
            p.err(h.name.span(), "the experiment has nothing to run: expected at least one [[trace]] or [[scenario]]")
        );
    }

    let mut replay_axes = Vec::new();
    let mut set_axes = Vec::new();
    for (k, v) in &raw.grid {
        let key = k.get_ref().as_str();
        if key == "set" {
            let toml::Value::Table(t) = v.get_ref() else {
                return Err(p.err(v.span(), "grid.set: expected a table of machine settings, e.g. [grid.set]"));
            };
            // The settings again, each with its own position.
            let spans: SetSpans = toml::from_str(text).map_err(|e| crate::scenario::toml_error(file, text, e))?;
            let spans = spans.grid.and_then(|g| g.set).unwrap_or_default();
            for (sk, sv) in flatten(t) {
                let top = sk.split('.').next().unwrap_or_default();
                let at = spans.iter().find(|(k, _)| k.get_ref() == top).map_or(v.span(), |(_, v)| v.span());
                set_axes.push(axis(&p, format!("set.{sk}"), &Spanned::new(at, sv))?);
            }
        } else if REPLAY_AXES.contains(&key) {
            replay_axes.push(axis(&p, key.to_string(), v)?);
        } else {
            return Err(p.err(
                k.span(),
                format!(
                    "unknown grid key {key:?}: expected a replay option ({}) or machine settings under [grid.set]",
                    REPLAY_AXES.join(", ")
                ),
            ));
        }
    }
    replay_axes.sort_by_key(|a| REPLAY_AXES.iter().position(|n| *n == a.name));
    set_axes.sort_by(|a, b| a.name.cmp(&b.name));
    if !traces.is_empty() && !replay_axes.iter().any(|a| a.name == "frames") {
        return Err(
            p.err(traces[0].span.clone(), "a trace is replayed at a working-set size: expected frames in [grid]")
        );
    }
    if traces.is_empty() {
        if let Some(a) = replay_axes.first() {
            return Err(p.err(
                a.values[0].1.clone(),
                format!("grid {}: a replay option, but the experiment has no [[trace]]", a.name),
            ));
        }
    }
    let points = |axes: &[Axis]| axes.iter().fold(1usize, |n, a| n.saturating_mul(a.values.len()));
    let per_rep = points(&set_axes);
    let total = traces
        .len()
        .saturating_mul(points(&replay_axes))
        .saturating_add(scenarios.len())
        .saturating_mul(per_rep)
        .saturating_mul(repetitions as usize);
    if total > MAX_CELLS {
        return Err(p.err(
            h.name.span(),
            format!("the grid has {total} cells, more than {MAX_CELLS}: split the experiment or shorten an axis"),
        ));
    }
    Ok(Experiment {
        name,
        file: file.to_string(),
        dir: dir.to_path_buf(),
        sha256,
        seed,
        repetitions,
        metrics,
        metric_spans,
        traces,
        scenarios,
        replay_axes,
        set_axes,
        text: text.to_string(),
    })
}

/// A table's leaves by dotted key (`cost.hard_fault`), in key order.
fn flatten(t: &toml::Table) -> Vec<(String, toml::Value)> {
    let mut out = Vec::new();
    for (k, v) in t {
        match v {
            toml::Value::Table(inner) => {
                out.extend(flatten(inner).into_iter().map(|(ik, iv)| (format!("{k}.{ik}"), iv)));
            }
            _ => out.push((k.clone(), v.clone())),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_str(text: &str) -> Result<Experiment, ScenarioError> {
        parse(text, "e.toml", Path::new("."), String::new())
    }

    const GEN: &str = r#"
[experiment]
name = "e"
[[trace]]
name = "z"
generate = { generator = "zipf", pages = 100, refs = 1000 }
"#;

    #[test]
    fn axes_take_single_values_and_arrays_in_a_fixed_order() {
        let e = parse_str(&format!(
            "{GEN}[grid]\nmemory = \"64 MiB\"\nframes = [10, 20]\npolicy = [\"lru\", \"fifo\"]\n[grid.set]\ncost = [\"nvme\"]\n"
        ))
        .unwrap();
        let names: Vec<_> = e.replay_axes.iter().map(|a| a.name.as_str()).collect();
        assert_eq!(names, ["policy", "frames", "memory"]);
        assert_eq!(e.replay_axes[1].values.iter().map(|v| v.0.as_str()).collect::<Vec<_>>(), ["10", "20"]);
        assert_eq!(e.set_axes[0].name, "set.cost");
        assert_eq!(e.metrics, DEFAULT_TRACE_METRICS);
    }

    #[test]
    fn mistakes_are_located_and_say_what_was_expected() {
        let cases = [
            (format!("{GEN}[grid]\npolicy = [\"fifo\"]\n"), "expected frames in [grid]"),
            (format!("{GEN}[grid]\nframes = [10]\nfrmaes = 3\n"), "unknown grid key \"frmaes\""),
            (format!("{GEN}[grid]\nframes = []\n"), "expected at least one value"),
            (format!("{GEN}[grid]\nframes = [10, 10]\n"), "\"10\" is listed twice"),
            ("[experiment]\nname = \"e\"\n".to_string(), "nothing to run"),
            (
                "[experiment]\nname = \"e\"\n[[trace]]\nname = \"t\"\nfile = \"/nonexistent/x\"\n".to_string(),
                "no such file",
            ),
            (
                "[experiment]\nname = \"e\"\nrepetitions = 0\n[[scenario]]\nname = \"belady\"\n".to_string(),
                "expected 1 to 1000000",
            ),
            (format!("{GEN}[grid]\nframes = [10]\n[[trace]]\nname = \"z\"\nfile = \"x\"\n"), "used twice"),
        ];
        for (text, want) in cases {
            let e = parse_str(&text).unwrap_err();
            assert!(e.to_string().contains(want), "{text}\ngave {e}, expected {want:?}");
            assert!(e.line > 0, "{e} has a line");
        }
    }

    #[test]
    fn an_unknown_key_names_its_line() {
        let e = parse_str("[experiment]\nname = \"e\"\nseeds = 3\n").unwrap_err();
        assert_eq!((e.line, e.col), (3, 1), "{e}");
        assert!(e.message.contains("seeds"), "{e}");
    }
}

//! `pagelab run --trace`: one line per memory reference of every touch and
//! refs step, in the manner of OSTEP's `paging-policy.py -c`: the page, hit
//! or the kind of fault, the victim, the working set in policy order, and
//! the process's running hits and misses.

use crate::machine::{AccessKind, Machine, Resolution};
use crate::runner::{Reference, ReferenceOutcome};

/// Working-set pages shown on one line; the rest are counted.
pub const WS_SHOWN: usize = 16;

/// The format of `--trace`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum TraceFormat {
    /// Aligned columns for people.
    Text,
    /// Comma-separated values with a header.
    Csv,
    /// One JSON object a line.
    Jsonl,
}

/// Running hits and misses of each scenario process.
#[derive(Default)]
pub struct Tally {
    counts: Vec<(u64, u64)>,
}

/// The name of a reference's result: `hit`, the kind of fault, or the
/// error's name (`access_violation`, a Win32 error, `no_memory`).
pub fn result_name(r: &Reference) -> String {
    match &r.result {
        Ok(res) => crate::runner::resolution_name(*res).into(),
        Err(e) => e.name(),
    }
}

fn access_name(a: AccessKind) -> &'static str {
    match a {
        AccessKind::Read => "read",
        AccessKind::Write => "write",
        AccessKind::Execute => "execute",
    }
}

/// The process's working set in policy order, as page numbers relative to
/// the step's base: at most [`WS_SHOWN`] of them, and the size.
fn working_set(m: &Machine, r: &Reference) -> (Vec<i64>, u64) {
    let Some(p) = m.process(r.pid) else { return (Vec::new(), 0) };
    let shown = p.ws.entries_iter().take(WS_SHOWN).map(|e| e.vpn.0 as i64 - r.base.0 as i64).collect();
    (shown, p.ws.len())
}

/// The header of the format, if it has one.
pub fn header(f: TraceFormat) -> Option<String> {
    match f {
        TraceFormat::Text => Some(format!(
            "{:>4} {:>6}  {:<10} {:>5} {:>12}  {:<6} {:<16} {:>6}  {:>6} {:>6}  working set (policy order: next victim first)\n",
            "step", "ref", "process", "page", "vpn", "access", "result", "victim", "hits", "misses"
        )),
        TraceFormat::Csv => Some("step,reference,process,page,vpn,access,result,victim,hits,misses,ws_size,working_set\n".into()),
        TraceFormat::Jsonl => None,
    }
}

impl Tally {
    /// The line of one reference (`None` for a step that made none), after
    /// counting it.
    pub fn line(&mut self, f: TraceFormat, m: &Machine, o: &ReferenceOutcome) -> Option<String> {
        let r = o.reference.as_ref()?;
        if self.counts.len() <= r.process {
            self.counts.resize(r.process + 1, (0, 0));
        }
        let c = &mut self.counts[r.process];
        if matches!(r.result, Ok(Resolution::Hit)) {
            c.0 += 1;
        } else {
            c.1 += 1;
        }
        let (hits, misses) = *c;
        let name = m.name_of(r.pid);
        let page = r.vpn.0 as i64 - r.base.0 as i64;
        let victim = r.victim.map(|v| v.0 as i64 - r.base.0 as i64);
        let result = result_name(r);
        let (ws, ws_size) = working_set(m, r);
        let more = ws_size > ws.len() as u64;
        let list = |sep: &str| {
            let mut s = ws.iter().map(i64::to_string).collect::<Vec<_>>().join(sep);
            if more {
                s.push_str(&format!("{sep}..."));
            }
            s
        };
        Some(match f {
            TraceFormat::Text => format!(
                "{:>4} {:>6}  {:<10} {:>5} {:>12}  {:<6} {:<16} {:>6}  {:>6} {:>6}  [{}]{}\n",
                o.step,
                o.index,
                name,
                page,
                r.vpn.to_string(),
                access_name(r.access),
                result,
                victim.map_or("-".to_string(), |v| v.to_string()),
                hits,
                misses,
                list(", "),
                if more { format!(" ({ws_size} pages)") } else { String::new() },
            ),
            TraceFormat::Csv => format!(
                "{},{},{},{},{},{},{},{},{},{},{},{}\n",
                o.step,
                o.index,
                csv_field(&name),
                page,
                r.vpn,
                access_name(r.access),
                result,
                victim.map_or(String::new(), |v| v.to_string()),
                hits,
                misses,
                ws_size,
                list(" "),
            ),
            TraceFormat::Jsonl => {
                let v = serde_json::json!({
                    "step": o.step,
                    "reference": o.index,
                    "process": name,
                    "page": page,
                    "vpn": r.vpn.0,
                    "access": access_name(r.access),
                    "result": result,
                    "victim": victim,
                    "hits": hits,
                    "misses": misses,
                    "ws_size": ws_size,
                    "working_set": ws,
                    "working_set_truncated": more,
                });
                format!("{v}\n")
            }
        })
    }
}

/// A CSV field, quoted when it holds a comma, quote or line break.
fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

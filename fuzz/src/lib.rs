//! Helpers shared by pagelab's fuzz targets: a cursor that turns fuzz
//! bytes into numbers, the checks every located error must pass, and a
//! runner that steps a loaded scenario when its work is small enough for
//! a fuzzing loop.

use std::sync::Arc;

use pagelab::report::Report;
use pagelab::runner::Runner;
use pagelab::scenario::{Action, Pattern, Scenario, ScenarioError};
use pagelab::trace::{CsvParams, ObjIds, TraceFormat, TraceReader};

/// Reads numbers from fuzz input; past its end every read is zero, so any
/// input decodes to something.
pub struct Cursor<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    /// A cursor at the start of `data`.
    pub fn new(data: &'a [u8]) -> Cursor<'a> {
        Cursor { data, pos: 0 }
    }

    /// Whether every byte has been read.
    pub fn is_empty(&self) -> bool {
        self.pos >= self.data.len()
    }

    /// The bytes not read yet.
    pub fn rest(&self) -> &'a [u8] {
        &self.data[self.pos.min(self.data.len())..]
    }

    /// One byte.
    pub fn u8(&mut self) -> u8 {
        let b = self.data.get(self.pos).copied().unwrap_or(0);
        self.pos += 1;
        b
    }

    /// A little-endian u16.
    pub fn u16(&mut self) -> u16 {
        u16::from_le_bytes([self.u8(), self.u8()])
    }

    /// A little-endian u64.
    pub fn u64(&mut self) -> u64 {
        let mut b = [0u8; 8];
        for x in &mut b {
            *x = self.u8();
        }
        u64::from_le_bytes(b)
    }

    /// A flag.
    pub fn bool(&mut self) -> bool {
        self.u8() & 1 == 1
    }

    /// A number below `n` (`n` > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.u8() as u64 % n
    }

    /// One of `items`.
    pub fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.u8() as usize % items.len()]
    }
}

/// Whether (line, col) names a place in `text`: a line that exists, a
/// column at most one past its end.
pub fn position_is_inside(text: &str, line: usize, col: usize) -> bool {
    let lines: Vec<&str> = text.split('\n').collect();
    line >= 1 && col >= 1 && line <= lines.len() && col <= lines[line - 1].len() + 1
}

/// A scenario error must name the file it was given and a place inside
/// the text, and say what was wrong.
pub fn check_scenario_error(e: &ScenarioError, file: &str, text: &str) {
    assert_eq!(e.file, file, "error names another file: {e}");
    assert!(position_is_inside(text, e.line, e.col), "error position outside the text: {e}");
    assert!(!e.message.trim().is_empty(), "error without a message: {e}");
}

/// The most frames of a scenario the fuzzers run (16 MiB of simulated
/// memory); larger machines are only loaded.
pub const MAX_RUN_FRAMES: u64 = 4096;
/// The most page-by-page work (references, PTEs written, background
/// rounds) a scenario the fuzzers run may ask for.
pub const MAX_RUN_WORK: u64 = 20_000;

/// An upper bound on the page-by-page work of a scenario's steps, or
/// `None` if it is beyond [`MAX_RUN_WORK`].
pub fn scenario_work(s: &Scenario) -> Option<u64> {
    let mut work: u64 = 0;
    for step in &s.steps {
        let w = match &step.action {
            Action::Commit { size, .. } | Action::Decommit { size, .. } => size / 4096 + 1,
            Action::Touch { pages, pattern, repeat, .. } => {
                let per = match pattern {
                    Pattern::Random { count } => *count,
                    _ => *pages,
                };
                per.checked_mul(*repeat)?
            }
            Action::Refs { pages, .. } => pages.len() as u64,
            Action::Advance { ticks } => *ticks as u64 * 16,
            _ => 1,
        };
        work = work.checked_add(w)?;
        if work > MAX_RUN_WORK {
            return None;
        }
    }
    Some(work)
}

/// Runs a scenario to its end if it is small, checking the machine's
/// invariants after every step, explaining every event and rendering the
/// report as text and JSON. Expectations may fail and steps may end in
/// errors; none of that is a finding. A broken invariant panics.
pub fn run_if_small(s: Scenario) {
    if s.machine.frames() > MAX_RUN_FRAMES || scenario_work(&s).is_none() {
        return;
    }
    let Ok(mut runner) = Runner::new(Arc::new(s), true) else { return };
    if let Err(e) = runner.machine().check_invariants() {
        panic!("invariant broken after setup: {e}");
    }
    while let Some(outcome) = runner.step() {
        let m = runner.machine();
        if let Err(e) = m.check_invariants() {
            panic!("invariant broken after step {} ({}): {e}", outcome.number, outcome.op);
        }
        for event in &outcome.events {
            let sentence = m.explain(event);
            assert!(!sentence.is_empty(), "event {event:?} explains itself as nothing");
        }
    }
    let report = Report::of(&runner);
    let _ = report.text();
    serde_json::to_string(&report).expect("a report serialises to JSON");
}

/// The most references the trace fuzzers read from one input.
pub const MAX_TRACE_REFS: usize = 1 << 14;

/// Reads `data` as a trace of `format` twice, with the iterator and in
/// batches through a small buffer (sizes derived from the input), and
/// checks that both read the same references and the same error; that
/// every page is inside the 48-bit address space; and that an error has a
/// message and, in the text formats, a line and column inside the input.
pub fn check_trace(data: &[u8], format: TraceFormat) {
    let mut want = Vec::new();
    let mut want_err = None;
    for r in TraceReader::new(data, format).take(MAX_TRACE_REFS) {
        match r {
            Ok(t) => want.push(t),
            Err(e) => {
                want_err = Some(e);
                break;
            }
        }
    }
    for t in &want {
        assert!(t.page < 1 << 36, "page {:#x} beyond 48 bits", t.page);
    }
    if let Some(e) = &want_err {
        assert!(e.line >= 1 && e.col >= 1, "error without a position: {e:?}");
        assert!(!e.message.is_empty(), "error without a message: {e:?}");
        if format == TraceFormat::OracleGeneralZst {
            // Records of the decompressed data: any number of them.
            assert!(
                e.message.contains("byte offset") || e.message.contains("zstd"),
                "an error of compressed records names no offset: {e:?}"
            );
        } else if format != TraceFormat::OracleGeneral {
            let lines: Vec<&[u8]> = data.split(|&b| b == b'\n').collect();
            assert!(e.line as usize <= lines.len(), "error on line {} of {}: {e:?}", e.line, lines.len());
            let len = lines[e.line as usize - 1].len() as u64;
            assert!(e.col <= len + 1, "error at column {} of a {len}-byte line: {e:?}", e.col);
        } else {
            assert!(e.line <= data.len() as u64 / 24 + 1, "error at record {} of {} bytes", e.line, data.len());
        }
    }

    let cap = 1 + data.len() % 61;
    let max = 1 + data.len() % 7;
    let mut reader = TraceReader::new(std::io::BufReader::with_capacity(cap, data), format);
    let mut got = Vec::new();
    let got_err = loop {
        let before = got.len();
        if let Some(e) = reader.read_batch(&mut got, max) {
            break Some(e);
        }
        if got.len() - before < max || got.len() >= MAX_TRACE_REFS {
            break None;
        }
    };
    let n = want.len().min(got.len());
    assert_eq!(got[..n], want[..n], "batches of {max} through a {cap}-byte buffer read other references");
    if want.len() < MAX_TRACE_REFS {
        assert_eq!(got.len(), want.len(), "batches of {max} through a {cap}-byte buffer read another count");
        assert_eq!(got_err, want_err, "batches of {max} through a {cap}-byte buffer end otherwise");
    } else {
        assert!(got.len() >= MAX_TRACE_REFS, "batches stopped at {} references, the iterator went on", got.len());
    }
}

/// CSV settings from one fuzz byte: the id column (from the header, or 1
/// to 3), the delimiter (sniffed, `,`, tab or `;`), the header (detected,
/// present, absent) and numeric or hashed ids.
pub fn csv_params(b: u8) -> CsvParams {
    CsvParams {
        obj_id_col: [None, Some(1), Some(2), Some(3)][(b & 3) as usize],
        delimiter: [None, Some(b','), Some(b'\t'), Some(b';')][(b >> 2 & 3) as usize],
        has_header: [None, Some(true), Some(false), None][(b >> 4 & 3) as usize],
        ids: if b & 0x40 != 0 { ObjIds::Hashed } else { ObjIds::Numbers },
    }
}

/// Detects the format of `data` as standard input (no name) and as a file
/// named after the first byte, then reads it as detected: no panic, and
/// what [`check_trace`] checks.
pub fn check_detected(data: &[u8]) {
    let names = [None, Some("t.txt"), Some("t.csv"), Some("t.oracleGeneral.zst"), Some("t.bin"), Some("t.lackey")];
    let (name, body) = match data.split_first() {
        Some((&b, rest)) => (names[b as usize % names.len()], rest),
        None => (None, data),
    };
    let d = pagelab::trace::detect(name, body);
    assert!(!d.how.is_empty(), "a detection that says nothing: {d:?}");
    check_trace(body, d.format);
}

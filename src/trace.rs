//! Trace readers: a stream of page references from a file.
//!
//! - `refs`: page numbers (decimal or 0x hex) separated by commas, spaces or
//!   newlines; `#` starts a comment. Every reference is a read.
//! - `lackey`: the output of `valgrind --tool=lackey --trace-mem=yes`:
//!   `I  addr,size` (instruction fetch), ` L addr,size` (load), ` S ...`
//!   (store), ` M ...` (modify: one access that reads and writes). Lines
//!   starting with `==` are valgrind's own and are skipped. An access of
//!   size s at a touches pages a>>12 ..= (a+s-1)>>12, in order.
//! - `oracle-general`: libCacheSim's binary format, 24-byte little-endian
//!   records (u32 time, u64 object id, u32 size, i64 next access); the
//!   object id is the page number. Used to feed pagelab and libCacheSim the
//!   very same trace.
//! - `oracle-general-zst`: the same records compressed with zstd, as
//!   libCacheSim distributes its traces (`.oracleGeneral.zst`).
//! - `text`: libCacheSim's plain text trace, one object id per line.
//! - `csv`: libCacheSim's CSV traces: one request per line, the object id
//!   in one column ([`CsvParams`] says which, or a header names it).
//!
//! Object ids are page numbers, as in oracleGeneral; ids that are not
//! numbers (`obj-id-is-num=0`) are hashed to pages ([`hash_id`]).
//!
//! Readers stream: a trace larger than memory replays in constant space.
//! [`open_trace`] opens a file (or standard input), decompresses it when it
//! starts with zstd's magic number, and detects its format from its name
//! and first bytes ([`detect`]) unless one is given.

mod detect;
mod zstd;

use std::fmt;
use std::io::{BufRead, Read};

pub use detect::{detect, open_reader, open_trace, Detected, FormatChoice, OpenedTrace};
pub use zstd::ZstdDecoder;

/// How object ids of the text and CSV formats become page numbers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum ObjIds {
    /// Decimal numbers, taken as page numbers (libCacheSim's
    /// `obj-id-is-num=1`, its default).
    #[default]
    Numbers,
    /// Any text, hashed to a page number with [`hash_id`]
    /// (`obj-id-is-num=0`).
    Hashed,
}

/// Settings of a CSV trace, in libCacheSim's terms (its `-t` option:
/// `obj-id-col=2,delimiter=,,has-header=true`). Columns count from 1.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct CsvParams {
    /// The column of the object id; `None`: the header's `obj_id` (or
    /// `obj-id`, `objid`, `id`, `key`) column, or the only column.
    pub obj_id_col: Option<u16>,
    /// The field separator; `None`: the first of `,`, tab, `;` and `|`
    /// on the first line, else `,`.
    pub delimiter: Option<u8>,
    /// Whether the first line is a header; `None`: it is when its object
    /// id field is not a number (or, without an id column, when it names one).
    pub has_header: Option<bool>,
    /// Numbers or hashed text.
    pub ids: ObjIds,
}

/// The keys [`CsvParams::parse`] knows.
pub const CSV_KEYS: [&str; 7] =
    ["obj-id-col", "delimiter", "has-header", "obj-id-is-num", "time-col", "obj-size-col", "next-access-col"];

impl CsvParams {
    /// Parses libCacheSim's `key=value,...` list (its `-t` option):
    /// `obj-id-col=N`, `delimiter=C` (`delimiter=,` as libCacheSim writes
    /// it, `\t` or `tab`, `space`), `has-header=true|false`,
    /// `obj-id-is-num=1|0`. `time-col`, `obj-size-col` and
    /// `next-access-col` are accepted and checked, and not used: a page
    /// reference has no time or size. The error names the key.
    pub fn parse(s: &str) -> Result<CsvParams, String> {
        let mut p = CsvParams::default();
        let items: Vec<&str> = s.split(',').collect();
        let mut i = 0;
        while i < items.len() {
            let item = items[i].trim();
            i += 1;
            if item.is_empty() {
                continue;
            }
            let Some((key, value)) = item.split_once('=') else {
                return Err(format!("{item:?}: expected key=value, with a key among {}", CSV_KEYS.join(", ")));
            };
            let (key, value) = (key.trim().to_ascii_lowercase(), value.trim());
            let col = |v: &str| -> Result<u16, String> {
                v.parse::<u16>()
                    .ok()
                    .filter(|&c| c >= 1)
                    .ok_or_else(|| format!("{key}={v:?}: expected a column number from 1 to {}", u16::MAX))
            };
            let flag = |v: &str| -> Result<bool, String> {
                match v.to_ascii_lowercase().as_str() {
                    "1" | "true" | "yes" => Ok(true),
                    "0" | "false" | "no" => Ok(false),
                    _ => Err(format!("{key}={v:?}: expected true or false (1 or 0)")),
                }
            };
            match key.as_str() {
                "obj-id-col" | "obj-id-field" => p.obj_id_col = Some(col(value)?),
                "time-col" | "obj-size-col" | "size-col" | "next-access-col" => {
                    col(value)?;
                }
                "has-header" | "header" => p.has_header = Some(flag(value)?),
                "obj-id-is-num" => p.ids = if flag(value)? { ObjIds::Numbers } else { ObjIds::Hashed },
                "delimiter" => {
                    let d = match value {
                        // `delimiter=,`: the comma was taken as a separator,
                        // leaving an empty item after this one.
                        "" => {
                            if items.get(i).is_some_and(|n| n.trim().is_empty()) {
                                i += 1;
                            }
                            b','
                        }
                        "\\t" | "tab" => b'\t',
                        "space" => b' ',
                        "\\," => b',',
                        v if v.len() == 1 && v.as_bytes()[0].is_ascii_punctuation() => v.as_bytes()[0],
                        v => return Err(format!("delimiter={v:?}: expected one character such as , ; | or \\t")),
                    };
                    if matches!(d, b'"' | b'#' | b'\n' | b'\r') {
                        return Err(format!("delimiter={:?}: expected a separator, not that", d as char));
                    }
                    p.delimiter = Some(d);
                }
                _ => return Err(format!("unknown key {key:?}: expected one of {}", CSV_KEYS.join(", "))),
            }
        }
        Ok(p)
    }
}

/// A trace format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TraceFormat {
    /// Reference strings.
    Refs,
    /// valgrind lackey output.
    Lackey,
    /// libCacheSim oracleGeneral binary.
    OracleGeneral,
    /// libCacheSim oracleGeneral binary, compressed with zstd.
    OracleGeneralZst,
    /// libCacheSim's plain text: one object id per line.
    Text(ObjIds),
    /// libCacheSim's CSV.
    Csv(CsvParams),
}

impl TraceFormat {
    /// Every format's name.
    pub const NAMES: [&'static str; 6] = ["refs", "lackey", "oracle-general", "oracle-general-zst", "text", "csv"];

    /// Parses a format name.
    pub fn parse(s: &str) -> Option<TraceFormat> {
        match s {
            "refs" => Some(TraceFormat::Refs),
            "lackey" => Some(TraceFormat::Lackey),
            "oracle-general" | "oraclegeneral" | "oracleGeneral" => Some(TraceFormat::OracleGeneral),
            "oracle-general-zst" | "oraclegeneral.zst" | "oracleGeneral.zst" => Some(TraceFormat::OracleGeneralZst),
            "text" | "txt" => Some(TraceFormat::Text(ObjIds::Numbers)),
            "csv" => Some(TraceFormat::Csv(CsvParams::default())),
            _ => None,
        }
    }

    /// The format's name, as [`TraceFormat::parse`] reads it.
    pub fn name(&self) -> &'static str {
        match self {
            TraceFormat::Refs => "refs",
            TraceFormat::Lackey => "lackey",
            TraceFormat::OracleGeneral => "oracle-general",
            TraceFormat::OracleGeneralZst => "oracle-general-zst",
            TraceFormat::Text(_) => "text",
            TraceFormat::Csv(_) => "csv",
        }
    }

    /// Whether its records are binary (errors are located by record and
    /// byte offset rather than line and column).
    pub fn is_binary(&self) -> bool {
        matches!(self, TraceFormat::OracleGeneral | TraceFormat::OracleGeneralZst)
    }
}

/// One reference.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TraceRef {
    /// Virtual page number.
    pub page: u64,
    /// Whether it writes.
    pub write: bool,
}

/// A malformed trace: where and what was expected.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TraceError {
    /// 1-based line (record number for binary formats).
    pub line: u64,
    /// 1-based column (byte offset in the record for binary formats).
    pub col: u64,
    /// What was wrong (binary formats: with the byte offset in the trace).
    pub message: String,
}

impl fmt::Display for TraceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}", self.line, self.col, self.message)
    }
}

/// The largest page number a trace may name: x64's 48-bit address space.
const MAX_PAGE: u64 = (1 << 36) - 1;

/// The page an object id that is not a number goes to: FNV-1a over its
/// bytes, folded to 36 bits (the 48-bit address space). Deterministic on
/// every platform; two ids share a page only by a hash collision, which
/// among n distinct ids is unlikely while n is well below 2^18.
pub fn hash_id(id: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in id {
        h ^= b as u64;
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    (h ^ (h >> 36)) & MAX_PAGE
}

/// The pages of one lackey access not yet returned: `next ..= last`.
#[derive(Clone, Copy, Debug)]
struct Span {
    next: u64,
    last: u64,
    write: bool,
}

/// What a CSV reader learned from the first line: where the id is.
#[derive(Clone, Copy, Debug)]
struct CsvLayout {
    /// 0-based column of the object id.
    col: usize,
    delimiter: u8,
}

/// The input of a reader: as given, or decompressed on the way.
enum Input<R> {
    Plain(R),
    Zstd(Box<ZstdDecoder<R>>),
}

impl<R: BufRead> Read for Input<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self {
            Input::Plain(r) => r.read(buf),
            Input::Zstd(z) => z.read(buf),
        }
    }
}

impl<R: BufRead> BufRead for Input<R> {
    #[inline]
    fn fill_buf(&mut self) -> std::io::Result<&[u8]> {
        match self {
            Input::Plain(r) => r.fill_buf(),
            Input::Zstd(z) => z.fill_buf(),
        }
    }

    #[inline]
    fn consume(&mut self, amt: usize) {
        match self {
            Input::Plain(r) => r.consume(amt),
            Input::Zstd(z) => z.consume(amt),
        }
    }
}

/// A streaming reader of references.
pub struct TraceReader<R> {
    input: Input<R>,
    /// The format of the records (oracle-general for oracle-general-zst,
    /// whose decompression is the input's).
    format: TraceFormat,
    line: u64,
    buf: Vec<u8>,
    /// Pending references not yet returned, from `pos` on: the rest of a
    /// refs line the line parser read, or a batch the iterator parses
    /// ahead. Bounded by the input's buffer and one line.
    pending: Vec<TraceRef>,
    pos: usize,
    /// The pages of the current lackey access still to come, produced one
    /// at a time: an access of 1 TiB is 2^28 references, never a vector.
    span: Option<Span>,
    /// An error found after references still pending: returned after them.
    error: Option<TraceError>,
    /// CSV: the layout, once the first line has been read.
    csv: Option<CsvLayout>,
    /// oracle-general: whether the input starts with zstd's magic number.
    zstd_magic: bool,
    /// oracle-general, when asked for ([`TraceReader::keep_next_access`]):
    /// the next-access times of the records parsed and not yet handed out
    /// by [`TraceReader::read_batch_next`], in order.
    next_access: Option<Vec<u64>>,
    done: bool,
}

impl<R: BufRead> TraceReader<R> {
    /// A reader of `format` over `input`.
    pub fn new(input: R, format: TraceFormat) -> TraceReader<R> {
        let (input, format) = match format {
            TraceFormat::OracleGeneralZst => {
                (Input::Zstd(Box::new(ZstdDecoder::new(input))), TraceFormat::OracleGeneral)
            }
            f => (Input::Plain(input), f),
        };
        TraceReader {
            input,
            format,
            line: 0,
            buf: Vec::with_capacity(128),
            pending: Vec::new(),
            pos: 0,
            span: None,
            error: None,
            csv: None,
            zstd_magic: false,
            next_access: None,
            done: false,
        }
    }

    /// Whether the format carries each reference's next use: oracleGeneral
    /// (plain or compressed) has a next-access time in every record.
    pub fn has_next_access(&self) -> bool {
        self.format == TraceFormat::OracleGeneral
    }

    /// Keeps oracleGeneral's next-access times for
    /// [`TraceReader::read_batch_next`]. No effect on other formats.
    pub fn keep_next_access(&mut self) {
        if self.has_next_access() && self.next_access.is_none() {
            self.next_access = Some(Vec::new());
        }
    }

    /// As [`TraceReader::read_batch`], also appending to `next` each
    /// reference's next use: the position of the next reference to the
    /// same page as the trace's next-access field gives it (libCacheSim
    /// counts positions from 0 or 1; only their order matters to OPT), or
    /// [`crate::working_set::NEVER`] for -1. A time that is not after its
    /// own record is an error at that record. Call
    /// [`TraceReader::keep_next_access`] first, on an oracleGeneral trace.
    pub fn read_batch_next(&mut self, out: &mut Vec<TraceRef>, next: &mut Vec<u64>, max: usize) -> Option<TraceError> {
        let before = out.len();
        let stop = self.read_batch(out, max);
        let kept = self.next_access.as_mut().expect("keep_next_access was called on an oracleGeneral trace");
        debug_assert_eq!(kept.len(), out.len() - before, "one next-access time per reference");
        next.append(kept);
        stop
    }

    /// The next-access time of `rec`, record `self.line` (counted from 1),
    /// when kept: -1 is never; a time at or before the record's own
    /// position (from 0) is an error.
    #[inline(always)]
    fn note_next_access(next_access: &mut Option<Vec<u64>>, line: u64, rec: &[u8]) -> Result<(), (u64, i64)> {
        if let Some(v) = next_access {
            let t = i64::from_le_bytes(rec[16..24].try_into().expect("8 bytes"));
            if t == -1 {
                v.push(crate::working_set::NEVER);
            } else if t >= line as i64 {
                v.push(t as u64);
            } else {
                return Err((line, t));
            }
        }
        Ok(())
    }

    fn bad_next_access(&self, t: i64) -> TraceError {
        self.record_err(
            16,
            format!(
                "next-access time {t} is not after the record's own position {} (nor -1, never): OPT needs the \
                 position of the page's next reference; replay the trace with another policy, or convert it again",
                self.line - 1
            ),
        )
    }

    fn err(&self, col: usize, message: impl Into<String>) -> TraceError {
        TraceError { line: self.line, col: col as u64 + 1, message: message.into() }
    }

    fn io_err(&self, e: std::io::Error) -> TraceError {
        TraceError { line: self.line + 1, col: 1, message: format!("cannot read the trace: {e}") }
    }

    /// An oracleGeneral error in record `self.line` at byte `col` of it,
    /// with its offset in the trace (and, for a first record that starts
    /// with zstd's magic number, what to do).
    fn record_err(&self, col: usize, message: String) -> TraceError {
        let offset = (self.line - 1) * 24 + col as u64;
        let hint = if self.line == 1 && self.zstd_magic {
            "; the trace starts with zstd's magic number: use --format oracle-general-zst, or auto"
        } else {
            ""
        };
        self.err(col, format!("{message} (record {}, byte offset {offset}){hint}", self.line))
    }

    fn bad_id(&self, id: u64) -> TraceError {
        self.record_err(4, format!("object id {id} is beyond the 48-bit address space"))
    }

    /// The next oracleGeneral record straight from the input's buffer, when
    /// a whole record is there: the common case, with no copy and no queue.
    /// `None` sends the caller to [`Self::fill`], which handles records
    /// split across buffer refills, the end of the input and read errors.
    #[inline(always)]
    fn next_buffered_record(&mut self) -> Option<Result<TraceRef, TraceError>> {
        let buf = self.input.fill_buf().ok()?;
        let rec: &[u8; 24] = buf.get(..24)?.try_into().expect("24 bytes");
        let id = u64::from_le_bytes(rec[4..12].try_into().expect("8 bytes"));
        if self.line == 0 {
            self.zstd_magic = rec[..4] == zstd::MAGIC;
        }
        let kept =
            if id > MAX_PAGE { Ok(()) } else { Self::note_next_access(&mut self.next_access, self.line + 1, rec) };
        self.input.consume(24);
        self.line += 1;
        if id > MAX_PAGE {
            self.done = true;
            return Some(Err(self.bad_id(id)));
        }
        if let Err((_, t)) = kept {
            self.done = true;
            return Some(Err(self.bad_next_access(t)));
        }
        Some(Ok(TraceRef { page: id, write: false }))
    }

    fn fill(&mut self) -> Result<bool, TraceError> {
        match self.format {
            TraceFormat::OracleGeneral | TraceFormat::OracleGeneralZst => {
                let mut rec = [0u8; 24];
                let mut got = 0;
                while got < 24 {
                    match self.input.read(&mut rec[got..]) {
                        Ok(0) => break,
                        Ok(n) => got += n,
                        Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                        Err(e) => return Err(self.io_err(e)),
                    }
                }
                self.line += 1;
                if got == 0 {
                    return Ok(false);
                }
                if self.line == 1 {
                    self.zstd_magic = got >= 4 && rec[..4] == zstd::MAGIC;
                }
                if got < 24 {
                    return Err(self.record_err(got, format!("truncated record: {got} of 24 bytes")));
                }
                let id = u64::from_le_bytes(rec[4..12].try_into().expect("8 bytes"));
                if id > MAX_PAGE {
                    return Err(self.bad_id(id));
                }
                if let Err((_, t)) = Self::note_next_access(&mut self.next_access, self.line, &rec) {
                    return Err(self.bad_next_access(t));
                }
                self.pending.push(TraceRef { page: id, write: false });
                Ok(true)
            }
            TraceFormat::Refs => {
                let r = self.refs_batch_unbounded();
                Ok(r)
            }
            TraceFormat::Lackey | TraceFormat::Text(_) | TraceFormat::Csv(_) => {
                self.buf.clear();
                let n = self.input.read_until(b'\n', &mut self.buf).map_err(|e| self.io_err(e))?;
                if n == 0 {
                    return Ok(false);
                }
                self.line += 1;
                let line = std::mem::take(&mut self.buf);
                let result = match self.format {
                    TraceFormat::Lackey => self.lackey_line(&line),
                    TraceFormat::Text(ids) => self.text_line(&line, ids),
                    TraceFormat::Csv(p) => self.csv_line(&line, p),
                    _ => unreachable!("a line format"),
                };
                self.buf = line;
                result.map(|()| true)
            }
        }
    }

    /// Parses refs ahead into `pending` (which is empty) for the iterator;
    /// `false` at the end of the trace. An error after some references is
    /// kept in `error`, to be returned after them.
    fn refs_batch_unbounded(&mut self) -> bool {
        let mut v = std::mem::take(&mut self.pending);
        v.clear();
        self.pos = 0;
        let stop = self.refs_batch(&mut v, 1024, false);
        // The line parser may have left references in `pending` when the
        // batch ended with them: they follow the batch.
        v.extend_from_slice(&self.pending[self.pos..]);
        self.pending = v;
        self.pos = 0;
        if let Some(e) = stop {
            self.error = Some(e);
        }
        !self.pending.is_empty() || self.error.is_some()
    }

    /// Appends refs references to `out` until it holds `goal` or the trace
    /// ends; with `bounded`, never more than `goal` (the rest of a line
    /// waits in `pending`). Lines are parsed straight from the input's
    /// buffer ([`scan_refs`]); a line that crosses the buffer's end, or
    /// that holds anything but decimal numbers, separators and a comment,
    /// goes to the line parser, whose errors are the reader's.
    fn refs_batch(&mut self, out: &mut Vec<TraceRef>, goal: usize, bounded: bool) -> Option<TraceError> {
        loop {
            if self.pos < self.pending.len() {
                let n = (self.pending.len() - self.pos).min(goal.saturating_sub(out.len()));
                out.extend_from_slice(&self.pending[self.pos..self.pos + n]);
                self.pos += n;
                if self.pos == self.pending.len() {
                    self.pending.clear();
                    self.pos = 0;
                }
            }
            if out.len() >= goal {
                return None;
            }
            if let Some(e) = self.error.take() {
                return Some(e);
            }
            if self.done {
                return None;
            }
            let buf = match self.input.fill_buf() {
                Ok(b) => b,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    self.done = true;
                    return Some(self.io_err(e));
                }
            };
            if buf.is_empty() {
                self.done = true;
                return None;
            }
            let len = buf.len();
            let (used, reached) = scan_refs(buf, out, goal, &mut self.line);
            self.input.consume(used);
            if bounded && out.len() > goal {
                self.pending.extend(out.drain(goal..));
            }
            if reached {
                return None;
            }
            if used < len {
                self.refs_slow_line();
            }
        }
    }

    /// Reads one refs line whole (across buffer refills) and parses it
    /// into `pending`; an error goes to `error`.
    #[cold]
    #[inline(never)]
    fn refs_slow_line(&mut self) {
        self.buf.clear();
        match self.input.read_until(b'\n', &mut self.buf) {
            Ok(0) => self.done = true,
            Ok(_) => {
                self.line += 1;
                if let Err(e) = self.parse_refs_line() {
                    self.error = Some(e);
                    self.done = true;
                }
            }
            Err(e) => {
                self.error = Some(self.io_err(e));
                self.done = true;
            }
        }
    }

    fn parse_refs_line(&mut self) -> Result<(), TraceError> {
        let line = std::mem::take(&mut self.buf);
        let end = line.iter().position(|&b| b == b'#').unwrap_or(line.len());
        let mut i = 0;
        while i < end {
            let b = line[i];
            if b == b',' || b.is_ascii_whitespace() {
                i += 1;
                continue;
            }
            let start = i;
            while i < end && !(line[i] == b',' || line[i].is_ascii_whitespace()) {
                i += 1;
            }
            let tok = &line[start..i];
            let page = parse_number(tok).ok_or_else(|| {
                // A valgrind lackey line (" L 0400d7d4,8", "I  04010173,3")
                // read as a reference string: say which format it is.
                let lackey = {
                    let l = line.trim_ascii_start();
                    matches!(l.first(), Some(b'I' | b'L' | b'S' | b'M'))
                        && l.get(1).is_some_and(|b| b.is_ascii_whitespace())
                        && l.contains(&b',')
                };
                let hint = if lackey { "; this looks like a valgrind lackey trace: use --format lackey" } else { "" };
                self.err(start, format!("expected a page number (decimal or 0x hex), found {}{hint}", quote_token(tok)))
            });
            let page = match page {
                Ok(p) => p,
                Err(e) => {
                    self.buf = line;
                    return Err(e);
                }
            };
            if page > MAX_PAGE {
                self.buf = line;
                return Err(self.err(start, format!("page number {page} is beyond the 48-bit address space")));
            }
            self.pending.push(TraceRef { page, write: false });
        }
        self.buf = line;
        Ok(())
    }

    /// One line of libCacheSim's text format: an object id, alone.
    fn text_line(&mut self, line: &[u8], ids: ObjIds) -> Result<(), TraceError> {
        let text = trim_end(line);
        let start = text.iter().position(|b| !b.is_ascii_whitespace()).unwrap_or(text.len());
        let tok = &text[start..];
        if tok.is_empty() {
            return Ok(());
        }
        if let Some(k) = tok.iter().position(|b| b.is_ascii_whitespace()) {
            return Err(self.err(
                start + k,
                format!(
                    "expected one object id per line, found more after {} (a reference string? use --format refs)",
                    quote_token(&tok[..k])
                ),
            ));
        }
        let page = self.object_id(tok, start, ids, "")?;
        self.pending.push(TraceRef { page, write: false });
        Ok(())
    }

    /// The page of object id `tok` at 0-based column `col`.
    fn object_id(&self, tok: &[u8], col: usize, ids: ObjIds, what: &str) -> Result<u64, TraceError> {
        match ids {
            ObjIds::Hashed => Ok(hash_id(tok)),
            ObjIds::Numbers => {
                let Some(id) = parse_decimal(tok) else {
                    return Err(self.err(
                        col,
                        format!(
                            "expected an object id (a decimal number){what}, found {}; for ids that are not \
                             numbers, give --trace-params obj-id-is-num=0",
                            quote_token(tok)
                        ),
                    ));
                };
                if id > MAX_PAGE {
                    return Err(self.err(col, format!("object id {id} is beyond the 48-bit address space")));
                }
                Ok(id)
            }
        }
    }

    /// One line of a CSV trace; the first decides the layout.
    fn csv_line(&mut self, line: &[u8], p: CsvParams) -> Result<(), TraceError> {
        let text = trim_end(line);
        if text.iter().all(|b| b.is_ascii_whitespace()) {
            return Ok(());
        }
        let layout = match self.csv {
            Some(l) => l,
            None => {
                let (layout, header) = self.csv_layout(text, p)?;
                self.csv = Some(layout);
                if header {
                    return Ok(());
                }
                layout
            }
        };
        let Some((start, field)) = csv_field(text, layout.delimiter, layout.col) else {
            let fields = text.split(|&b| b == layout.delimiter).count();
            return Err(self.err(
                text.len(),
                format!(
                    "expected at least {} fields separated by {:?} (the object id is field {}), found {fields}",
                    layout.col + 1,
                    layout.delimiter as char,
                    layout.col + 1
                ),
            ));
        };
        if field.is_empty() {
            return Err(self.err(start, format!("expected an object id in field {}, found nothing", layout.col + 1)));
        }
        let page = self.object_id(field, start, p.ids, &format!(" in field {}", layout.col + 1))?;
        self.pending.push(TraceRef { page, write: false });
        Ok(())
    }

    /// The layout of a CSV trace from its first line, and whether that
    /// line is a header.
    fn csv_layout(&self, first: &[u8], p: CsvParams) -> Result<(CsvLayout, bool), TraceError> {
        let delimiter = p
            .delimiter
            .unwrap_or_else(|| [b',', b'\t', b';', b'|'].into_iter().find(|d| first.contains(d)).unwrap_or(b','));
        let fields: Vec<&[u8]> = first.split(|&b| b == delimiter).map(|f| unquote(f.trim_ascii())).collect();
        let named = fields.iter().position(|f| is_id_name(f));
        let col = match (p.obj_id_col, named) {
            (Some(c), _) => c as usize - 1,
            (None, Some(c)) if p.has_header != Some(false) => c,
            (None, _) if fields.len() == 1 => 0,
            (None, _) => {
                let names = fields.iter().map(|f| quote_token(f)).collect::<Vec<_>>().join(", ");
                return Err(self.err(
                    0,
                    format!(
                        "which field is the object id? the first line has {} fields ({names}) and none is named \
                         obj_id, obj-id, objid, id or key: give --trace-params obj-id-col=N (from 1)",
                        fields.len()
                    ),
                ));
            }
        };
        let header = match p.has_header {
            Some(h) => h,
            None => match fields.get(col) {
                Some(f) if p.ids == ObjIds::Numbers => parse_decimal(f).is_none(),
                _ => named.is_some() && p.obj_id_col.is_none(),
            },
        };
        Ok((CsvLayout { col, delimiter }, header))
    }

    fn lackey_line(&mut self, line: &[u8]) -> Result<(), TraceError> {
        let text = trim_end(line);
        if text.is_empty() || text.starts_with(b"==") || text.starts_with(b"--") {
            return Ok(());
        }
        let mut i = 0;
        while i < text.len() && text[i] == b' ' {
            i += 1;
        }
        let Some(&kind) = text.get(i) else { return Ok(()) };
        let write = match kind {
            b'I' | b'L' => false,
            b'S' | b'M' => true,
            _ => {
                return Err(self.err(
                    i,
                    format!("expected a lackey record (I, L, S or M), found {:?}", String::from_utf8_lossy(text)),
                ))
            }
        };
        i += 1;
        while i < text.len() && text[i] == b' ' {
            i += 1;
        }
        let rest = &text[i..];
        let Some(comma) = rest.iter().position(|&b| b == b',') else {
            return Err(self.err(i, "expected \"address,size\" after the record kind"));
        };
        let addr = parse_hex(&rest[..comma]).ok_or_else(|| {
            self.err(i, format!("expected a hex address, found {:?}", String::from_utf8_lossy(&rest[..comma])))
        })?;
        let size_tok = &rest[comma + 1..];
        let size = std::str::from_utf8(size_tok)
            .ok()
            .and_then(|s| s.trim().parse::<u64>().ok())
            .filter(|&s| s > 0)
            .ok_or_else(|| {
                self.err(
                    i + comma + 1,
                    format!("expected a positive decimal size, found {:?}", String::from_utf8_lossy(size_tok)),
                )
            })?;
        if addr >> 12 > MAX_PAGE {
            return Err(self.err(i, format!("address 0x{addr:x} is beyond the 48-bit address space")));
        }
        let size_col = i + comma + 1;
        let last = match addr.checked_add(size - 1) {
            Some(l) if l >> 12 <= MAX_PAGE => l,
            _ => {
                return Err(self.err(
                    size_col,
                    format!("size {size} at address 0x{addr:x} reaches beyond the 48-bit address space"),
                ))
            }
        };
        self.span = Some(Span { next: addr >> 12, last: last >> 12, write });
        Ok(())
    }
}

/// Parses refs lines straight out of `buf` into `out`, counting lines in
/// `lines`, until `out` holds `goal` references at the end of a line
/// (returns `(bytes used, true)`) or the scan stops: at the buffer's end,
/// or at a line with anything but decimal page numbers, separators and a
/// comment (hex, a bad token, a number past 48 bits). It then returns
/// `(start of that line, false)`, with that line's references taken back,
/// so that the line parser reads the line whole and reports its errors.
#[inline]
fn scan_refs(buf: &[u8], out: &mut Vec<TraceRef>, goal: usize, lines: &mut u64) -> (usize, bool) {
    /// MAX_PAGE has 11 decimal digits; longer tokens go to the line parser.
    const DIGITS: usize = 11;
    let n = buf.len();
    let mut i = 0;
    let mut line_start = 0;
    let mut mark = out.len();
    'scan: while i < n {
        let b = buf[i];
        let d = b.wrapping_sub(b'0');
        if d < 10 {
            let start = i;
            let mut v = d as u64;
            i += 1;
            while i < n {
                let d = buf[i].wrapping_sub(b'0');
                if d >= 10 {
                    break;
                }
                v = v.wrapping_mul(10).wrapping_add(d as u64);
                i += 1;
            }
            // The token must end inside the buffer, at a separator or a
            // comment, and be a page number.
            if i == n || i - start > DIGITS || v > MAX_PAGE {
                break 'scan;
            }
            match buf[i] {
                b' ' | b',' | b'\n' | b'\t' | b'\r' | 0x0c | b'#' => {}
                _ => break 'scan,
            }
            out.push(TraceRef { page: v, write: false });
            continue;
        }
        match b {
            b'\n' => {
                i += 1;
                *lines += 1;
                line_start = i;
                mark = out.len();
                if out.len() >= goal {
                    return (i, true);
                }
            }
            b' ' | b',' | b'\t' | b'\r' | 0x0c => i += 1,
            b'#' => match buf[i..].iter().position(|&c| c == b'\n') {
                Some(k) => i += k,
                None => break 'scan,
            },
            _ => break 'scan,
        }
    }
    out.truncate(mark);
    (line_start, false)
}

/// A token as an error quotes it: at most 40 bytes (a binary file has long
/// tokens), then how many more.
fn quote_token(tok: &[u8]) -> String {
    const SHOWN: usize = 40;
    let shown = String::from_utf8_lossy(&tok[..tok.len().min(SHOWN)]);
    let more = if tok.len() > SHOWN { format!(" (and {} more bytes)", tok.len() - SHOWN) } else { String::new() };
    format!("{shown:?}{more}")
}

/// Field `col` (0-based) of a CSV line, trimmed and unquoted, with its
/// 0-based column in the line.
fn csv_field(line: &[u8], delimiter: u8, col: usize) -> Option<(usize, &[u8])> {
    let mut start = 0;
    for _ in 0..col {
        start += line[start..].iter().position(|&b| b == delimiter)? + 1;
    }
    let end = line[start..].iter().position(|&b| b == delimiter).map_or(line.len(), |k| start + k);
    let raw = &line[start..end];
    let lead = raw.iter().position(|b| !b.is_ascii_whitespace()).unwrap_or(raw.len());
    Some((start + lead, unquote(raw.trim_ascii())))
}

/// A field without the double quotes around it.
fn unquote(f: &[u8]) -> &[u8] {
    match f {
        [b'"', inner @ .., b'"'] => inner,
        f => f,
    }
}

/// Whether a CSV header field names the object id.
fn is_id_name(f: &[u8]) -> bool {
    let f = f.to_ascii_lowercase();
    matches!(&f[..], b"obj_id" | b"obj-id" | b"objid" | b"object_id" | b"obj" | b"id" | b"key")
}

/// A decimal number that fits in 64 bits.
fn parse_decimal(tok: &[u8]) -> Option<u64> {
    if tok.is_empty() {
        return None;
    }
    let mut v: u64 = 0;
    for &c in tok {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v.checked_mul(10)?.checked_add((c - b'0') as u64)?;
    }
    Some(v)
}

impl<R: BufRead> TraceReader<R> {
    /// Appends up to `max` references to `out`: fewer only at the end of
    /// the trace, or at a malformed record, whose error is returned after
    /// the references before it have been appended. Whole oracleGeneral
    /// records and refs lines are parsed straight out of the input's
    /// buffer, many at once.
    pub fn read_batch(&mut self, out: &mut Vec<TraceRef>, max: usize) -> Option<TraceError> {
        let goal = out.len() + max;
        if self.format == TraceFormat::Refs {
            return self.refs_batch(out, goal, true);
        }
        while out.len() < goal {
            if self.format == TraceFormat::OracleGeneral && !self.done && self.pos == self.pending.len() {
                if let Ok(buf) = self.input.fill_buf() {
                    let n = (buf.len() / 24).min(goal - out.len());
                    if self.line == 0 && n > 0 {
                        self.zstd_magic = buf[..4] == zstd::MAGIC;
                    }
                    let mut taken = 0;
                    for rec in buf[..n * 24].chunks_exact(24) {
                        let id = u64::from_le_bytes(rec[4..12].try_into().expect("8 bytes"));
                        if id > MAX_PAGE {
                            break;
                        }
                        let line = self.line + taken as u64 + 1;
                        if Self::note_next_access(&mut self.next_access, line, rec).is_err() {
                            // Left for the record-at-a-time path to report.
                            break;
                        }
                        out.push(TraceRef { page: id, write: false });
                        taken += 1;
                    }
                    self.input.consume(taken * 24);
                    self.line += taken as u64;
                    if taken > 0 && taken == n {
                        continue;
                    }
                }
            }
            // A record split across refills, a malformed one, the end, or
            // another format: one at a time.
            match self.next() {
                Some(Ok(r)) => out.push(r),
                Some(Err(e)) => return Some(e),
                None => return None,
            }
        }
        None
    }
}

impl<R: BufRead> Iterator for TraceReader<R> {
    type Item = Result<TraceRef, TraceError>;

    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        if self.pos < self.pending.len() {
            let r = self.pending[self.pos];
            self.pos += 1;
            return Some(Ok(r));
        }
        if self.format == TraceFormat::OracleGeneral && !self.done {
            if let Some(r) = self.next_buffered_record() {
                return Some(r);
            }
        }
        self.next_queued()
    }
}

impl<R: BufRead> TraceReader<R> {
    /// The next reference through the queue, reading and parsing more
    /// input when it is empty.
    #[inline(never)]
    fn next_queued(&mut self) -> Option<Result<TraceRef, TraceError>> {
        loop {
            if self.pos < self.pending.len() {
                let r = self.pending[self.pos];
                self.pos += 1;
                return Some(Ok(r));
            }
            self.pending.clear();
            self.pos = 0;
            if let Some(span) = &mut self.span {
                let r = TraceRef { page: span.next, write: span.write };
                if span.next == span.last {
                    self.span = None;
                } else {
                    span.next += 1;
                }
                return Some(Ok(r));
            }
            if let Some(e) = self.error.take() {
                self.done = true;
                return Some(Err(e));
            }
            if self.done {
                return None;
            }
            match self.fill() {
                Ok(true) => {}
                Ok(false) => {
                    self.done = true;
                    return None;
                }
                Err(e) => {
                    self.done = true;
                    return Some(Err(e));
                }
            }
        }
    }
}

fn trim_end(b: &[u8]) -> &[u8] {
    let mut e = b.len();
    while e > 0 && (b[e - 1] == b'\n' || b[e - 1] == b'\r' || b[e - 1] == b' ' || b[e - 1] == b'\t') {
        e -= 1;
    }
    &b[..e]
}

fn parse_hex(tok: &[u8]) -> Option<u64> {
    if tok.is_empty() || tok.len() > 16 {
        return None;
    }
    let mut v: u64 = 0;
    for &c in tok {
        let d = (c as char).to_digit(16)? as u64;
        v = (v << 4) | d;
    }
    Some(v)
}

fn parse_number(tok: &[u8]) -> Option<u64> {
    if let Some(h) = tok.strip_prefix(b"0x").or_else(|| tok.strip_prefix(b"0X")) {
        return parse_hex(h);
    }
    parse_decimal(tok)
}

/// Reads a whole trace into memory.
pub fn read_all(input: impl BufRead, format: TraceFormat) -> Result<Vec<TraceRef>, TraceError> {
    TraceReader::new(input, format).collect()
}

/// For each position, the position of the next reference to the same page
/// ([`crate::working_set::NEVER`] if none): what the OPT policy needs.
pub fn next_uses(pages: &[u64]) -> Vec<u64> {
    use crate::working_set::NEVER;
    let mut next = vec![NEVER; pages.len()];
    let max = pages.iter().copied().max().unwrap_or(0);
    if max < (pages.len() as u64).max(1 << 20) * 4 {
        // Page numbers are dense enough for a table indexed by page.
        let mut last = vec![NEVER; max as usize + 1];
        for i in (0..pages.len()).rev() {
            let l = &mut last[pages[i] as usize];
            next[i] = *l;
            *l = i as u64;
        }
    } else {
        let mut last: std::collections::HashMap<u64, u64> = std::collections::HashMap::new();
        for i in (0..pages.len()).rev() {
            if let Some(&j) = last.get(&pages[i]) {
                next[i] = j;
            }
            last.insert(pages[i], i as u64);
        }
    }
    next
}

/// Writes pages as an oracleGeneral binary trace (with next-access times
/// filled in, as libCacheSim's own converter does).
pub fn write_oracle_general(pages: &[u64], out: &mut impl std::io::Write) -> std::io::Result<()> {
    use std::io::Write;
    let next = next_uses(pages);
    let mut w = std::io::BufWriter::new(out);
    for (i, (&p, &n)) in pages.iter().zip(&next).enumerate() {
        w.write_all(&(i as u32).to_le_bytes())?;
        w.write_all(&p.to_le_bytes())?;
        w.write_all(&4096u32.to_le_bytes())?;
        let na: i64 = if n == crate::working_set::NEVER { -1 } else { n as i64 };
        w.write_all(&na.to_le_bytes())?;
    }
    w.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pages(text: &str, f: TraceFormat) -> Result<Vec<(u64, bool)>, TraceError> {
        read_all(text.as_bytes(), f).map(|v| v.into_iter().map(|r| (r.page, r.write)).collect())
    }

    #[test]
    fn refs_accept_commas_spaces_hex_and_comments() {
        let got = pages("1,2, 3\n0x10 # comment 99\n\n4", TraceFormat::Refs).unwrap();
        assert_eq!(got.iter().map(|p| p.0).collect::<Vec<_>>(), vec![1, 2, 3, 16, 4]);
    }

    #[test]
    fn refs_reject_garbage_with_line_and_column() {
        let e = pages("1 2\n3 x7 4", TraceFormat::Refs).unwrap_err();
        assert_eq!((e.line, e.col), (2, 3));
        assert!(e.message.contains("\"x7\""), "{}", e.message);
    }

    #[test]
    fn lackey_records_touch_every_page_they_span() {
        let t = "==123== Lackey\nI  04016bc2,3\n L 1ffefff8a8,8\n S 0000fff,2\n M 00002000,4\n";
        let got = pages(t, TraceFormat::Lackey).unwrap();
        assert_eq!(got, vec![(0x4016, false), (0x1ffefff, false), (0x0, true), (0x1, true), (0x2, true)]);
    }

    #[test]
    fn lackey_truncated_line_is_an_error_not_a_panic() {
        let e = pages("I  04016bc2,3\n L 1ffe", TraceFormat::Lackey).unwrap_err();
        assert_eq!(e.line, 2);
        assert!(e.message.contains("address,size"));
        let e = pages(" X 10,4", TraceFormat::Lackey).unwrap_err();
        assert!(e.message.contains("I, L, S or M"));
        let e = pages(" L 10,0", TraceFormat::Lackey).unwrap_err();
        assert!(e.message.contains("positive"));
    }

    #[test]
    fn lackey_huge_access_streams_its_pages_without_a_vector() {
        // A store of 1 TiB: 2^28 pages, produced one at a time.
        let mut r = TraceReader::new(" S 1000,1099511627776\n L 0,1\n".as_bytes(), TraceFormat::Lackey);
        let first: Vec<u64> = r.by_ref().take(3).map(|x| x.unwrap().page).collect();
        assert_eq!(first, vec![1, 2, 3]);
        assert!(r.pending.capacity() < 64, "pages were queued: {}", r.pending.capacity());
        let span = r.span.expect("the access is still being produced");
        assert_eq!((span.next, span.last, span.write), (4, 0x1000_0000, true));
        // A small access after it comes once the span is done.
        let mut r = TraceReader::new(" S fff,2\n L 5000,1\n".as_bytes(), TraceFormat::Lackey);
        let all: Vec<(u64, bool)> = r.by_ref().map(|x| x.map(|x| (x.page, x.write)).unwrap()).collect();
        assert_eq!(all, vec![(0, true), (1, true), (5, false)]);
    }

    #[test]
    fn lackey_size_past_the_address_space_blames_the_size() {
        for size in ["9223372036854775807", "18446744073709551615", "281474976710656"] {
            let e = pages(&format!(" S 1000,{size}"), TraceFormat::Lackey).unwrap_err();
            assert_eq!(e.col, 9, "{size}: {e}");
            assert!(e.message.starts_with(&format!("size {size} at address 0x1000")), "{e}");
        }
        let e = pages(" S 1000000000000,4", TraceFormat::Lackey).unwrap_err();
        assert_eq!(e.col, 4, "{e}");
        assert!(e.message.contains("address 0x1000000000000 is beyond"), "{e}");
        // The last byte of the address space is fine.
        let got = pages(" L ffffffffffff,1", TraceFormat::Lackey).unwrap();
        assert_eq!(got, vec![(MAX_PAGE, false)]);
    }

    #[test]
    fn oracle_general_round_trips_and_rejects_truncation() {
        let mut bytes = Vec::new();
        write_oracle_general(&[5, 6, 5], &mut bytes).unwrap();
        assert_eq!(bytes.len(), 72);
        let got = pages(std::str::from_utf8(&[]).unwrap(), TraceFormat::OracleGeneral).unwrap();
        assert!(got.is_empty());
        let v = read_all(&bytes[..], TraceFormat::OracleGeneral).unwrap();
        assert_eq!(v.iter().map(|r| r.page).collect::<Vec<_>>(), vec![5, 6, 5]);
        let e = read_all(&bytes[..70], TraceFormat::OracleGeneral).unwrap_err();
        assert_eq!(e.line, 3);
        assert!(e.message.contains("truncated"));
    }

    #[test]
    fn oracle_general_next_access_times_are_the_next_uses_whatever_the_buffer() {
        let pages: Vec<u64> = (0..300).map(|i| i * 7 % 29).collect();
        let mut bytes = Vec::new();
        write_oracle_general(&pages, &mut bytes).unwrap();
        for cap in [1, 24, 25, 1000, 1 << 16] {
            let mut r =
                TraceReader::new(std::io::BufReader::with_capacity(cap, &bytes[..]), TraceFormat::OracleGeneral);
            r.keep_next_access();
            let (mut refs, mut next) = (Vec::new(), Vec::new());
            while r.read_batch_next(&mut refs, &mut next, 7).is_none() && refs.len() < pages.len() {}
            assert_eq!(refs.iter().map(|r| r.page).collect::<Vec<_>>(), pages, "buffer of {cap} bytes");
            assert_eq!(next, next_uses(&pages), "buffer of {cap} bytes");
        }
        // A next access at the record's own position is refused there.
        let mut bad = bytes.clone();
        bad[24 * 5 + 16..24 * 6].copy_from_slice(&5i64.to_le_bytes());
        for cap in [1, 1 << 16] {
            let mut r = TraceReader::new(std::io::BufReader::with_capacity(cap, &bad[..]), TraceFormat::OracleGeneral);
            r.keep_next_access();
            let (mut refs, mut next) = (Vec::new(), Vec::new());
            let e = r.read_batch_next(&mut refs, &mut next, 1000).expect("an error");
            assert_eq!((refs.len(), next.len(), e.line), (5, 5, 6));
            assert!(e.message.contains("next-access time 5 is not after the record's own position 5"), "{}", e.message);
            assert!(e.message.contains("byte offset 136"), "{}", e.message);
        }
        // Without asking, the field is not read.
        assert_eq!(read_all(&bad[..], TraceFormat::OracleGeneral).unwrap().len(), 300);
    }

    #[test]
    fn oracle_general_records_split_across_buffer_refills_read_whole() {
        let pages: Vec<u64> = (0..50).map(|i| i * 7 % 13).collect();
        let mut bytes = Vec::new();
        write_oracle_general(&pages, &mut bytes).unwrap();
        for cap in [1, 5, 24, 25, 100] {
            let r = std::io::BufReader::with_capacity(cap, &bytes[..]);
            let got: Vec<u64> = read_all(r, TraceFormat::OracleGeneral).unwrap().iter().map(|r| r.page).collect();
            assert_eq!(got, pages, "buffer of {cap} bytes");
        }
        let mut bad = bytes.clone();
        bad[24 * 3 + 4..24 * 3 + 12].copy_from_slice(&(1u64 << 40).to_le_bytes());
        let e = read_all(&bad[..], TraceFormat::OracleGeneral).unwrap_err();
        assert_eq!((e.line, e.col), (4, 5));
        let e = read_all(std::io::BufReader::with_capacity(7, &bad[..]), TraceFormat::OracleGeneral).unwrap_err();
        assert_eq!((e.line, e.col), (4, 5));
    }

    #[test]
    fn batches_read_what_the_iterator_reads() {
        let pages: Vec<u64> = (0..1000).map(|i| i * 31 % 97).collect();
        let mut og = Vec::new();
        write_oracle_general(&pages, &mut og).unwrap();
        let refs: String = pages.iter().map(|p| format!("{p}\n")).collect();
        let mut bad = og.clone();
        bad[24 * 700 + 4..24 * 700 + 12].copy_from_slice(&u64::MAX.to_le_bytes());
        let inputs: [(&[u8], TraceFormat); 4] = [
            (&og, TraceFormat::OracleGeneral),
            (&og[..og.len() - 5], TraceFormat::OracleGeneral),
            (&bad, TraceFormat::OracleGeneral),
            (refs.as_bytes(), TraceFormat::Refs),
        ];
        for (bytes, format) in inputs {
            for (cap, max) in [(64, 7), (1 << 16, 4096), (24 * 10, 10), (25, 3)] {
                let mut want: Vec<TraceRef> = Vec::new();
                let mut want_err = None;
                for r in TraceReader::new(std::io::BufReader::with_capacity(cap, bytes), format) {
                    match r {
                        Ok(r) => want.push(r),
                        Err(e) => want_err = Some(e),
                    }
                }
                let mut reader = TraceReader::new(std::io::BufReader::with_capacity(cap, bytes), format);
                let mut got = Vec::new();
                let got_err = loop {
                    let before = got.len();
                    if let Some(e) = reader.read_batch(&mut got, max) {
                        break Some(e);
                    }
                    if got.len() - before < max {
                        break None;
                    }
                };
                assert_eq!(got, want, "{format:?}, buffer {cap}, batches of {max}");
                assert_eq!(got_err, want_err, "{format:?}, buffer {cap}, batches of {max}");
            }
        }
    }

    /// Everything a reader yields for `bytes` through a buffer of `cap`
    /// bytes: the references up to the first error, and the error.
    fn through(bytes: &[u8], format: TraceFormat, cap: usize) -> (Vec<TraceRef>, Option<TraceError>) {
        let mut got = Vec::new();
        for r in TraceReader::new(std::io::BufReader::with_capacity(cap, bytes), format) {
            match r {
                Ok(r) => got.push(r),
                Err(e) => return (got, Some(e)),
            }
        }
        (got, None)
    }

    #[test]
    fn refs_from_the_buffer_read_what_the_line_parser_reads() {
        // A buffer of one byte sends every line to the line parser; larger
        // ones parse most lines in place. Both must agree, errors included.
        let inputs: [&[u8]; 14] = [
            b"1,2, 3\n0x10 # comment 99\n\n4",
            b"1 2\n3 x7 4\n",
            b"# header\n\n1,2,3\n4,,5 # fine\n6 -7\n",
            b"1 0x\n",
            b"99999999999999999999999\n",
            b"1\n0x1000000000\n",
            b"68719476735 68719476736\n",
            b"000000000000000000042 7\r\n8\t9\x0c10\n",
            b"12#c\n13\n#\n14",
            b"I  04010173,3\n",
            b"5\n\xff\xfe\n",
            b"1\n2\n3\n4\n5\n6\n7\n8\n9\n10\n11\n12\n13 14 15 16 17 18 19 20 21\n22",
            b"",
            b"\n\n\n",
        ];
        for bytes in inputs {
            let want = through(bytes, TraceFormat::Refs, 1);
            for cap in [2, 3, 5, 8, 13, 64, 1 << 16] {
                assert_eq!(
                    through(bytes, TraceFormat::Refs, cap),
                    want,
                    "{:?}, buffer {cap}",
                    String::from_utf8_lossy(bytes)
                );
            }
        }
        // The positions and messages of today's reader.
        let (_, e) = through(b"# header\n\n1,2,3\n4,,5 # fine\n6 -7\n", TraceFormat::Refs, 1 << 16);
        let e = e.unwrap();
        assert_eq!((e.line, e.col), (5, 3));
        assert_eq!(e.message, "expected a page number (decimal or 0x hex), found \"-7\"");
        let (_, e) = through(b"1\n68719476736\n", TraceFormat::Refs, 1 << 16);
        assert_eq!(e.unwrap().message, "page number 68719476736 is beyond the 48-bit address space");
    }

    #[test]
    fn refs_before_a_bad_token_on_its_line_come_first() {
        let (got, e) = through(b"1\n2 3 zz 4\n", TraceFormat::Refs, 1 << 16);
        assert_eq!(got.iter().map(|r| r.page).collect::<Vec<_>>(), vec![1, 2, 3]);
        assert_eq!(e.map(|e| (e.line, e.col)), Some((2, 5)));
        let mut r = TraceReader::new(&b"1\n2 3 zz 4\n"[..], TraceFormat::Refs);
        let mut out = Vec::new();
        let e = r.read_batch(&mut out, 100);
        assert_eq!(out.len(), 3);
        assert_eq!(e.map(|e| (e.line, e.col)), Some((2, 5)));
    }

    #[test]
    fn text_traces_have_one_id_a_line() {
        let t = TraceFormat::Text(ObjIds::Numbers);
        let got = pages("5\n\n  6 \n7\r\n", t).unwrap();
        assert_eq!(got.iter().map(|p| p.0).collect::<Vec<_>>(), vec![5, 6, 7]);
        let e = pages("5\nabc\n", t).unwrap_err();
        assert_eq!((e.line, e.col), (2, 1));
        assert!(e.message.starts_with("expected an object id (a decimal number), found \"abc\""), "{e}");
        assert!(e.message.contains("obj-id-is-num=0"), "{e}");
        let e = pages("1 2\n", t).unwrap_err();
        assert_eq!((e.line, e.col), (1, 2));
        assert!(e.message.contains("one object id per line"), "{e}");
        let e = pages("68719476736\n", t).unwrap_err();
        assert!(e.message.contains("beyond the 48-bit address space"), "{e}");
        // Hashed ids: the same id, the same page; pinned across platforms.
        let got = pages("abc\nxyz\nabc\n", TraceFormat::Text(ObjIds::Hashed)).unwrap();
        assert_eq!(got[0], got[2]);
        assert_ne!(got[0], got[1]);
        assert_eq!(got[0].0, hash_id(b"abc"));
        assert_eq!(hash_id(b"abc"), 0x9_0b30_ad6a);
        assert!(got.iter().all(|p| p.0 <= MAX_PAGE));
    }

    fn csv(p: CsvParams) -> TraceFormat {
        TraceFormat::Csv(p)
    }

    #[test]
    fn csv_traces_find_the_id_by_header_or_column() {
        let ids = |t: &str, p: CsvParams| pages(t, csv(p)).map(|v| v.iter().map(|x| x.0).collect::<Vec<_>>());
        let d = CsvParams::default();
        assert_eq!(ids("time,obj_id,size\n1,5,10\n2,6,10\n\n3,5,1\n", d).unwrap(), vec![5, 6, 5]);
        assert_eq!(ids("\"ts\"\t\"key\"\n1\t\"9\"\n", d).unwrap(), vec![9]);
        assert_eq!(ids("7\n8\n", d).unwrap(), vec![7, 8]);
        let col2 = CsvParams { obj_id_col: Some(2), ..d };
        assert_eq!(ids("1,5\n2,6\n", col2).unwrap(), vec![5, 6]);
        assert_eq!(ids("ts;page\n1; 5 \n", CsvParams { delimiter: Some(b';'), ..col2 }).unwrap(), vec![5]);
        // A header that is not one, and one that is, when told.
        assert_eq!(ids("1,5\n", CsvParams { has_header: Some(true), ..col2 }).unwrap(), Vec::<u64>::new());
        let e = ids("a,b\n1,2\n", CsvParams { has_header: Some(false), ..col2 }).unwrap_err();
        assert_eq!((e.line, e.col), (1, 3));
        // Errors: located, saying what was expected.
        let e = pages("time,obj_id\n1\n", csv(d)).unwrap_err();
        assert_eq!((e.line, e.col), (2, 2));
        assert!(e.message.starts_with("expected at least 2 fields separated by ','"), "{e}");
        let e = pages("time,obj_id,size\n1,x7,3\n", csv(d)).unwrap_err();
        assert_eq!((e.line, e.col), (2, 3));
        assert!(e.message.contains("in field 2, found \"x7\""), "{e}");
        let e = pages("a,b\n1,2\n", csv(d)).unwrap_err();
        assert_eq!((e.line, e.col), (1, 1));
        assert!(e.message.contains("which field is the object id?") && e.message.contains("obj-id-col=N"), "{e}");
        let e = pages("t,id\n1,\n", csv(d)).unwrap_err();
        assert!(e.message.contains("found nothing"), "{e}");
        // String ids, hashed.
        let h = CsvParams { ids: ObjIds::Hashed, ..d };
        let got = ids("time,key\n1,alpha\n2,beta\n3,alpha\n", h).unwrap();
        assert_eq!((got[0], got.len()), (got[2], 3));
        assert_eq!(got[0], hash_id(b"alpha"));
    }

    #[test]
    fn csv_params_read_libcachesim_keys() {
        let p = CsvParams::parse("time-col=1,obj-id-col=2,obj-size-col=3,delimiter=,,has-header=true").unwrap();
        assert_eq!(
            p,
            CsvParams { obj_id_col: Some(2), delimiter: Some(b','), has_header: Some(true), ids: ObjIds::Numbers }
        );
        let p = CsvParams::parse("obj-id-col=3, delimiter=\\t, obj-id-is-num=0").unwrap();
        assert_eq!((p.obj_id_col, p.delimiter, p.ids), (Some(3), Some(b'\t'), ObjIds::Hashed));
        assert_eq!(CsvParams::parse("delimiter=;").unwrap().delimiter, Some(b';'));
        assert_eq!(CsvParams::parse("delimiter=tab,has-header=0").unwrap().has_header, Some(false));
        for (bad, says) in [
            ("obj-id-col=0", "obj-id-col=\"0\": expected a column number"),
            ("obj-id-col=two", "obj-id-col"),
            ("bogus=1", "unknown key \"bogus\""),
            ("has-header=maybe", "has-header=\"maybe\": expected true or false"),
            ("obj-id-col", "expected key=value"),
            ("delimiter=ab", "delimiter=\"ab\""),
            ("delimiter=#", "delimiter='#'"),
        ] {
            let e = CsvParams::parse(bad).unwrap_err();
            assert!(e.contains(says), "{bad}: {e}");
        }
    }

    #[test]
    fn oracle_general_zst_reads_what_zstd_wrote() {
        let z = include_bytes!("trace/testdata/zipf100.oracleGeneral.zst");
        let want = read_all(&z[..], TraceFormat::OracleGeneralZst).unwrap();
        assert_eq!(want.len(), 100);
        for cap in [1, 24, 100, 1 << 16] {
            let got = read_all(std::io::BufReader::with_capacity(cap, &z[..]), TraceFormat::OracleGeneralZst).unwrap();
            assert_eq!(got, want, "buffer {cap}");
        }
        let mut out = Vec::new();
        let mut r = TraceReader::new(&z[..], TraceFormat::OracleGeneralZst);
        while r.read_batch(&mut out, 7).is_none() && out.len() % 7 == 0 && !out.is_empty() {}
        assert_eq!(out, want);
        // Cut short: an error naming the compressed offset, after the
        // references that were whole.
        let (got, e) = through(&z[..z.len() - 30], TraceFormat::OracleGeneralZst, 64);
        assert!(got.len() < 100);
        assert!(e.unwrap().message.starts_with("cannot read the trace: truncated zstd data"));
        // Read as uncompressed records, it says what to do.
        let e = read_all(&z[..], TraceFormat::OracleGeneral).unwrap_err();
        assert_eq!(e.line, 1);
        assert!(e.message.contains("use --format oracle-general-zst"), "{e}");
    }

    #[test]
    fn oracle_general_errors_name_the_byte_offset() {
        let mut bytes = Vec::new();
        write_oracle_general(&[5, 6, 7, 8], &mut bytes).unwrap();
        bytes[24 * 3 + 4..24 * 3 + 12].copy_from_slice(&(1u64 << 40).to_le_bytes());
        let e = read_all(&bytes[..], TraceFormat::OracleGeneral).unwrap_err();
        assert_eq!(e.message, "object id 1099511627776 is beyond the 48-bit address space (record 4, byte offset 76)");
        let e = read_all(&bytes[..50], TraceFormat::OracleGeneral).unwrap_err();
        assert_eq!(e.message, "truncated record: 2 of 24 bytes (record 3, byte offset 50)");
    }

    #[test]
    fn next_uses_point_forward() {
        use crate::working_set::NEVER;
        assert_eq!(next_uses(&[1, 2, 1, 1]), vec![2, NEVER, 3, NEVER]);
        // Sparse page numbers take the map, with the same answer.
        let far = 1 << 40;
        assert_eq!(next_uses(&[far, 2, far, far]), vec![2, NEVER, 3, NEVER]);
    }
}

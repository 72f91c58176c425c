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
//!
//! Readers stream: a trace larger than memory replays in constant space.

use std::fmt;
use std::io::BufRead;

/// A trace format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TraceFormat {
    /// Reference strings.
    Refs,
    /// valgrind lackey output.
    Lackey,
    /// libCacheSim oracleGeneral binary.
    OracleGeneral,
}

impl TraceFormat {
    /// Every format's name.
    pub const NAMES: [&'static str; 3] = ["refs", "lackey", "oracle-general"];

    /// Parses a format name.
    pub fn parse(s: &str) -> Option<TraceFormat> {
        match s {
            "refs" => Some(TraceFormat::Refs),
            "lackey" => Some(TraceFormat::Lackey),
            "oracle-general" | "oraclegeneral" => Some(TraceFormat::OracleGeneral),
            _ => None,
        }
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
    /// What was wrong.
    pub message: String,
}

impl fmt::Display for TraceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}", self.line, self.col, self.message)
    }
}

/// The largest page number a trace may name: x64's 48-bit address space.
const MAX_PAGE: u64 = (1 << 36) - 1;

/// The pages of one lackey access not yet returned: `next ..= last`.
#[derive(Clone, Copy, Debug)]
struct Span {
    next: u64,
    last: u64,
    write: bool,
}

/// A streaming reader of references.
pub struct TraceReader<R> {
    input: R,
    format: TraceFormat,
    line: u64,
    buf: Vec<u8>,
    /// Pending references of the current refs line (a line holds many;
    /// as many as the line has numbers, so bounded by the input).
    pending: std::collections::VecDeque<TraceRef>,
    /// The pages of the current lackey access still to come, produced one
    /// at a time: an access of 1 TiB is 2^28 references, never a vector.
    span: Option<Span>,
    done: bool,
}

impl<R: BufRead> TraceReader<R> {
    /// A reader of `format` over `input`.
    pub fn new(input: R, format: TraceFormat) -> TraceReader<R> {
        TraceReader {
            input,
            format,
            line: 0,
            buf: Vec::with_capacity(128),
            pending: Default::default(),
            span: None,
            done: false,
        }
    }

    fn err(&self, col: usize, message: impl Into<String>) -> TraceError {
        TraceError { line: self.line, col: col as u64 + 1, message: message.into() }
    }

    fn io_err(&self, e: std::io::Error) -> TraceError {
        TraceError { line: self.line + 1, col: 1, message: format!("cannot read the trace: {e}") }
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
        self.input.consume(24);
        self.line += 1;
        if id > MAX_PAGE {
            self.done = true;
            return Some(Err(self.err(4, format!("object id {id} is beyond the 48-bit address space"))));
        }
        Some(Ok(TraceRef { page: id, write: false }))
    }

    fn fill(&mut self) -> Result<bool, TraceError> {
        match self.format {
            TraceFormat::OracleGeneral => {
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
                if got < 24 {
                    return Err(self.err(got, format!("truncated record: {got} of 24 bytes")));
                }
                let id = u64::from_le_bytes(rec[4..12].try_into().expect("8 bytes"));
                if id > MAX_PAGE {
                    return Err(self.err(4, format!("object id {id} is beyond the 48-bit address space")));
                }
                self.pending.push_back(TraceRef { page: id, write: false });
                Ok(true)
            }
            TraceFormat::Refs | TraceFormat::Lackey => {
                self.buf.clear();
                let n = self.input.read_until(b'\n', &mut self.buf).map_err(|e| self.io_err(e))?;
                if n == 0 {
                    return Ok(false);
                }
                self.line += 1;
                if self.format == TraceFormat::Refs {
                    self.parse_refs_line()?;
                } else {
                    self.parse_lackey_line()?;
                }
                Ok(true)
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
                // A binary file has long tokens: quote the start of one only.
                const SHOWN: usize = 40;
                let shown = String::from_utf8_lossy(&tok[..tok.len().min(SHOWN)]);
                let more =
                    if tok.len() > SHOWN { format!(" (and {} more bytes)", tok.len() - SHOWN) } else { String::new() };
                let hint = if lackey { "; this looks like a valgrind lackey trace: use --format lackey" } else { "" };
                self.err(start, format!("expected a page number (decimal or 0x hex), found {shown:?}{more}{hint}"))
            })?;
            if page > MAX_PAGE {
                return Err(self.err(start, format!("page number {page} is beyond the 48-bit address space")));
            }
            self.pending.push_back(TraceRef { page, write: false });
        }
        self.buf = line;
        Ok(())
    }

    fn parse_lackey_line(&mut self) -> Result<(), TraceError> {
        let line = std::mem::take(&mut self.buf);
        let result = self.lackey_line(&line);
        self.buf = line;
        result
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

impl<R: BufRead> TraceReader<R> {
    /// Appends up to `max` references to `out`: fewer only at the end of
    /// the trace, or at a malformed record, whose error is returned after
    /// the references before it have been appended. Whole oracleGeneral
    /// records are parsed straight out of the input's buffer, many at once.
    pub fn read_batch(&mut self, out: &mut Vec<TraceRef>, max: usize) -> Option<TraceError> {
        let goal = out.len() + max;
        while out.len() < goal {
            if self.format == TraceFormat::OracleGeneral && !self.done && self.pending.is_empty() {
                if let Ok(buf) = self.input.fill_buf() {
                    let n = (buf.len() / 24).min(goal - out.len());
                    let mut taken = 0;
                    for rec in buf[..n * 24].chunks_exact(24) {
                        let id = u64::from_le_bytes(rec[4..12].try_into().expect("8 bytes"));
                        if id > MAX_PAGE {
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
        if self.format == TraceFormat::OracleGeneral && !self.done && self.pending.is_empty() {
            if let Some(r) = self.next_buffered_record() {
                return Some(r);
            }
        }
        self.next_queued()
    }
}

impl<R: BufRead> TraceReader<R> {
    /// The next reference through the queue of the current line, reading
    /// and parsing more input when it is empty.
    #[inline(never)]
    fn next_queued(&mut self) -> Option<Result<TraceRef, TraceError>> {
        loop {
            if let Some(r) = self.pending.pop_front() {
                return Some(Ok(r));
            }
            if let Some(span) = &mut self.span {
                let r = TraceRef { page: span.next, write: span.write };
                if span.next == span.last {
                    self.span = None;
                } else {
                    span.next += 1;
                }
                return Some(Ok(r));
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

    #[test]
    fn next_uses_point_forward() {
        use crate::working_set::NEVER;
        assert_eq!(next_uses(&[1, 2, 1, 1]), vec![2, NEVER, 3, NEVER]);
        // Sparse page numbers take the map, with the same answer.
        let far = 1 << 40;
        assert_eq!(next_uses(&[far, 2, far, far]), vec![2, NEVER, 3, NEVER]);
    }
}

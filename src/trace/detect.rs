//! Opening a trace: decompression and format detection.
//!
//! A trace that starts with zstd's magic number is decompressed as it is
//! read (except when `--format oracle-general` says its bytes are records
//! as they stand). With `--format auto`, the default, the format comes
//! from the file's name, then from its first bytes (decompressed):
//!
//! 1. a name containing `oracleGeneral` (libCacheSim's `w92.oracleGeneral.bin.zst`)
//!    is oracle-general; a name ending `.csv`, `.lackey` or `.refs` is that
//!    format (a `.zst` ending is set aside first);
//! 2. otherwise binary data (a NUL or another control byte) is
//!    oracle-general; a first line that is a valgrind lackey record is
//!    lackey; a first line that is a CSV header naming the object id
//!    (`obj_id`, `id`, `key`, ...) is csv; a `.txt` file of one token per
//!    line, not all of them numbers, is libCacheSim's text format with
//!    hashed ids; anything else is a reference string (refs), which reads
//!    one page number per line as libCacheSim's text format does.
//!
//! Lines starting with `#` (refs comments) or with valgrind's `==` and `--`
//! are passed over when looking for the first line.

use std::io::{BufRead, BufReader};

use super::{parse_number, zstd, CsvParams, ObjIds, TraceFormat, ZstdDecoder};

/// What `--format` asked for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FormatChoice {
    /// Detect the format from the name and the first bytes.
    Auto,
    /// This format.
    Given(TraceFormat),
}

impl FormatChoice {
    /// Every name `--format` takes.
    pub const NAMES: [&'static str; 7] =
        ["auto", "refs", "lackey", "oracle-general", "oracle-general-zst", "text", "csv"];

    /// Parses `auto` or a format name.
    pub fn parse(s: &str) -> Option<FormatChoice> {
        if s == "auto" {
            return Some(FormatChoice::Auto);
        }
        TraceFormat::parse(s).map(FormatChoice::Given)
    }
}

/// A format found by [`detect`], and what gave it away.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Detected {
    /// The format of the (decompressed) records.
    pub format: TraceFormat,
    /// What decided it, in a few words ("named .csv", "binary records").
    pub how: String,
}

/// The format of a trace named `name` (`None` for standard input) whose
/// first bytes, decompressed, are `head`.
pub fn detect(name: Option<&str>, head: &[u8]) -> Detected {
    let found = |format: TraceFormat, how: &str| Detected { format, how: how.to_string() };
    let base = name.map(|n| {
        let file = std::path::Path::new(n).file_name().map_or(n.to_string(), |f| f.to_string_lossy().into_owned());
        let lower = file.to_ascii_lowercase();
        let stripped = lower.strip_suffix(".zst").or_else(|| lower.strip_suffix(".zstd")).unwrap_or(&lower);
        stripped.to_string()
    });
    let ext = base.as_deref().and_then(|b| b.rsplit_once('.').map(|(_, e)| e.to_string()));
    if base.as_deref().is_some_and(|b| b.contains("oraclegeneral")) {
        return found(TraceFormat::OracleGeneral, "named *.oracleGeneral*");
    }
    match ext.as_deref() {
        Some("csv") => return found(TraceFormat::Csv(CsvParams::default()), "named .csv"),
        Some("lackey") => return found(TraceFormat::Lackey, "named .lackey"),
        Some("refs") => return found(TraceFormat::Refs, "named .refs"),
        _ => {}
    }
    if head.is_empty() {
        return found(TraceFormat::Refs, "empty");
    }
    if head.iter().any(|&b| b == 0 || (b < 0x20 && !matches!(b, b'\t' | b'\n' | b'\r' | 0x0c))) {
        return found(TraceFormat::OracleGeneral, "binary records");
    }
    // The complete lines of the head (all of it if it has no newline).
    let complete = match head.iter().rposition(|&b| b == b'\n') {
        Some(k) => &head[..k],
        None => head,
    };
    let meaningful = complete
        .split(|&b| b == b'\n')
        .enumerate()
        .map(|(i, l)| (i + 1, l.trim_ascii()))
        .filter(|(_, l)| !(l.is_empty() || l.starts_with(b"#") || l.starts_with(b"==") || l.starts_with(b"--")));
    let Some((n, first)) = meaningful.clone().next() else {
        return found(TraceFormat::Refs, "page numbers");
    };
    let raw_first = complete.split(|&b| b == b'\n').nth(n - 1).unwrap_or(first);
    if looks_lackey(raw_first) {
        return found(TraceFormat::Lackey, &format!("a lackey record on line {n}"));
    }
    if let Some(d) = [b',', b'\t', b';', b'|'].into_iter().find(|d| first.contains(d)) {
        let fields: Vec<&[u8]> = first.split(|&b| b == d).map(|f| super::unquote(f.trim_ascii())).collect();
        if fields.len() >= 2 && fields.iter().any(|f| super::is_id_name(f)) {
            return found(TraceFormat::Csv(CsvParams::default()), "a CSV header naming the object id");
        }
    }
    if ext.as_deref() == Some("txt") {
        let single = meaningful.clone().all(|(_, l)| !l.iter().any(|b| b.is_ascii_whitespace() || *b == b','));
        if single && meaningful.clone().any(|(_, l)| parse_number(l).is_none()) {
            return found(TraceFormat::Text(ObjIds::Hashed), "one id per line, not all numbers");
        }
    }
    found(TraceFormat::Refs, "page numbers")
}

/// Whether a line is a valgrind lackey record (`I  04010173,3`, ` L ...`).
pub(super) fn looks_lackey(line: &[u8]) -> bool {
    let l = line.trim_ascii_start();
    matches!(l.first(), Some(b'I' | b'L' | b'S' | b'M'))
        && l.get(1).is_some_and(|b| b.is_ascii_whitespace())
        && l.contains(&b',')
}

/// A trace opened for reading.
pub struct OpenedTrace {
    /// The (decompressed) records.
    pub input: Box<dyn BufRead>,
    /// Their format: never oracle-general-zst, whose decompression is the
    /// input's.
    pub format: TraceFormat,
    /// Whether the file is zstd-compressed.
    pub compressed: bool,
    /// With `--format auto`: what was detected.
    pub detected: Option<Detected>,
}

impl OpenedTrace {
    /// The format as a report names it: `csv`, `oracle-general-zst`,
    /// `refs (detected: page numbers)`, `text, zstd-compressed`.
    pub fn describe(&self) -> String {
        let name = match (self.format, self.compressed) {
            (TraceFormat::OracleGeneral, true) => "oracle-general-zst".to_string(),
            (f, true) => format!("{}, zstd-compressed", f.name()),
            (f, false) => f.name().to_string(),
        };
        match &self.detected {
            Some(d) => format!("{name}; detected: {}", d.how),
            None => name,
        }
    }
}

/// Opens `path` (`-`: standard input), decompresses it if it is zstd data,
/// and settles its format: `choice`, or detected with `--format auto`.
/// `params` (libCacheSim's `-t` keys) apply to csv and text traces. The
/// error says what went wrong, without the path.
pub fn open_trace(path: &str, choice: FormatChoice, params: Option<CsvParams>) -> Result<OpenedTrace, String> {
    let raw: Box<dyn BufRead> = if path == "-" {
        Box::new(BufReader::with_capacity(1 << 16, std::io::stdin().lock()))
    } else {
        match std::fs::File::open(path) {
            Ok(f) => Box::new(BufReader::with_capacity(1 << 16, f)),
            Err(e) => return Err(format!("cannot open the trace: {e}")),
        }
    };
    open_reader(raw, (path != "-").then_some(path), choice, params)
}

/// [`open_trace`] of bytes already opened: `raw`, named `name` (`None`
/// for standard input or bytes held in memory).
pub fn open_reader(
    mut raw: Box<dyn BufRead>,
    name: Option<&str>,
    choice: FormatChoice,
    params: Option<CsvParams>,
) -> Result<OpenedTrace, String> {
    let head = raw.fill_buf().map_err(|e| format!("cannot read the trace: {e}"))?;
    let mut compressed = head.starts_with(&zstd::MAGIC);
    let (mut input, format, detected): (Box<dyn BufRead>, TraceFormat, Option<Detected>) = match choice {
        // Records as they stand, even if they happen to start like zstd.
        FormatChoice::Given(TraceFormat::OracleGeneral) => {
            compressed = false;
            (raw, TraceFormat::OracleGeneral, None)
        }
        FormatChoice::Given(TraceFormat::OracleGeneralZst) => {
            if !compressed {
                let shown = head.iter().take(4).map(|b| format!("{b:02x}")).collect::<Vec<_>>().join(" ");
                return Err(format!(
                    "--format oracle-general-zst: the trace is not zstd data (it starts with {shown:?}, not \
                     28 b5 2f fd); for uncompressed records use --format oracle-general, or auto"
                ));
            }
            (Box::new(ZstdDecoder::new(raw)), TraceFormat::OracleGeneral, None)
        }
        FormatChoice::Given(f) => {
            let input: Box<dyn BufRead> = if compressed { Box::new(ZstdDecoder::new(raw)) } else { raw };
            (input, f, None)
        }
        FormatChoice::Auto => {
            let mut input: Box<dyn BufRead> = if compressed { Box::new(ZstdDecoder::new(raw)) } else { raw };
            let head = input.fill_buf().map_err(|e| format!("cannot read the trace: {e}"))?;
            let mut d = detect(name, head);
            if compressed {
                d.how = format!("zstd data, {}", d.how);
            }
            (input, d.format, Some(d))
        }
    };
    let format = match (format, params) {
        (f, None) => f,
        (TraceFormat::Csv(_), Some(p)) => TraceFormat::Csv(p),
        (TraceFormat::Text(_), Some(p)) => {
            if p.obj_id_col.is_some_and(|c| c != 1) || p.delimiter.is_some() || p.has_header == Some(true) {
                return Err("--trace-params: a text trace has one id per line and no header; only obj-id-is-num \
                            applies (use --format csv for columns)"
                    .into());
            }
            TraceFormat::Text(p.ids)
        }
        (f, Some(_)) => {
            let how = detected.as_ref().map_or(String::new(), |d| format!(" (detected: {})", d.how));
            return Err(format!(
                "--trace-params applies to csv and text traces, and this one is {}{how}; give --format csv",
                f.name()
            ));
        }
    };
    // Keep the reader's first refill cheap: nothing consumed, nothing lost.
    let _ = input.fill_buf();
    Ok(OpenedTrace { input, format, compressed, detected })
}

impl OpenedTrace {
    /// The `--format` that opens the same file again as this one was
    /// opened, without detecting anything: the format found, read through
    /// zstd if the file is compressed.
    pub fn settled(&self) -> FormatChoice {
        match (self.format, self.compressed) {
            (TraceFormat::OracleGeneral, true) => FormatChoice::Given(TraceFormat::OracleGeneralZst),
            (f, _) => FormatChoice::Given(f),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fmt(name: Option<&str>, head: &str) -> (TraceFormat, String) {
        let d = detect(name, head.as_bytes());
        (d.format, d.how)
    }

    #[test]
    fn names_decide_first() {
        let csv = TraceFormat::Csv(CsvParams::default());
        assert_eq!(fmt(Some("w92.oracleGeneral.bin.zst"), "").0, TraceFormat::OracleGeneral);
        assert_eq!(fmt(Some("dir/x.oraclegeneral"), "1 2").0, TraceFormat::OracleGeneral);
        assert_eq!(fmt(Some("a.csv"), "1 2 3\n").0, csv);
        assert_eq!(fmt(Some("a.CSV.zst"), "1 2 3\n").0, csv);
        assert_eq!(fmt(Some("prog.lackey"), "1 2\n").0, TraceFormat::Lackey);
        assert_eq!(fmt(Some("x.refs"), "I  0400,4\n").0, TraceFormat::Refs);
    }

    #[test]
    fn contents_decide_otherwise() {
        let csv = TraceFormat::Csv(CsvParams::default());
        assert_eq!(fmt(Some("t.bin"), "\0\0\x01\x02abc"), (TraceFormat::OracleGeneral, "binary records".into()));
        assert_eq!(fmt(None, "==12== Lackey\n==12== x\nI  04016bc2,3\n").1, "a lackey record on line 3");
        assert_eq!(fmt(Some("t.txt"), " L 1ffefff8a8,8\n").0, TraceFormat::Lackey);
        assert_eq!(fmt(None, "time,obj_id,size\n1,2,3\n").0, csv);
        assert_eq!(fmt(None, "timestamp\tkey\tsize\n1\t2\t3\n").0, csv);
        // Commas between numbers are a reference string.
        assert_eq!(fmt(None, "7,0,1,2,0,3\n").0, TraceFormat::Refs);
        assert_eq!(fmt(Some("x.txt"), "1\n2\n3\n").0, TraceFormat::Refs);
        assert_eq!(fmt(Some("x.txt"), "a1b2\nc3d4\n5\n").0, TraceFormat::Text(ObjIds::Hashed));
        // Not .txt, or several tokens a line: refs, whose errors say what is wrong.
        assert_eq!(fmt(Some("x.trace"), "a1b2\nc3d4\n").0, TraceFormat::Refs);
        assert_eq!(fmt(Some("x.txt"), "1 2\n3 zz\n").0, TraceFormat::Refs);
        assert_eq!(fmt(None, "").1, "empty");
        assert_eq!(fmt(None, "# only a comment\n").0, TraceFormat::Refs);
        // A partial last line is left out; a head with no newline is one line.
        assert_eq!(fmt(None, "I  04016bc2,3").0, TraceFormat::Lackey);
    }

    #[test]
    fn a_settled_format_opens_the_trace_again_as_it_was_detected() {
        let z: &[u8] = include_bytes!("testdata/zipf100.oracleGeneral.zst");
        let open = |bytes: &'static [u8], choice| open_reader(Box::new(bytes), None, choice, None).unwrap();
        let first = open(z, FormatChoice::Auto);
        assert_eq!((first.format, first.compressed), (TraceFormat::OracleGeneral, true));
        assert_eq!(first.settled(), FormatChoice::Given(TraceFormat::OracleGeneralZst));
        let again = open(z, first.settled());
        assert_eq!((again.format, again.compressed, again.detected), (TraceFormat::OracleGeneral, true, None));
        let refs = open(b"1 2 3\n", FormatChoice::Auto);
        assert_eq!(refs.settled(), FormatChoice::Given(TraceFormat::Refs));
        // Records as they stand, even when they start like zstd data.
        let raw = open(z, FormatChoice::Given(TraceFormat::OracleGeneral));
        assert!(!raw.compressed);
        assert_eq!(raw.settled(), FormatChoice::Given(TraceFormat::OracleGeneral));
    }

    #[test]
    fn format_choices_parse() {
        assert_eq!(FormatChoice::parse("auto"), Some(FormatChoice::Auto));
        assert_eq!(FormatChoice::parse("csv"), Some(FormatChoice::Given(TraceFormat::Csv(CsvParams::default()))));
        assert_eq!(FormatChoice::parse("xml"), None);
        for n in FormatChoice::NAMES {
            assert!(FormatChoice::parse(n).is_some(), "{n}");
        }
    }
}

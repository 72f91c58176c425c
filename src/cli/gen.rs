//! `pagelab gen-trace`: a synthetic trace written to a file. The generator
//! comes from flags (`--generator uniform --pages N --refs M`; Zipf, the
//! default, takes `--alpha`) or from a spec (`--spec '{ generator =
//! "phases", phases = [...] }'`, `--spec-file FILE`) read by the parser an
//! experiment's `generate` table goes through ([`GenSpec::from_toml`]).

use std::io::Write;
use std::path::PathBuf;

use clap::Args;

use super::{EXIT_BAD_INPUT, EXIT_OK};
use crate::host_memory::{self, HostLimit};
use crate::output::{write_whole, StdoutError};
use crate::trace::{write_oracle_general, TraceFormat};
use crate::tracegen::{GenSpec, Generator, GENERATORS};

/// Arguments of `gen-trace`.
#[derive(Debug, Args)]
pub struct GenTraceArgs {
    /// Generator: zipf, uniform, scan, loop (from flags), or phases and mix
    /// (from --spec or --spec-file, which name their generator themselves).
    #[arg(long, value_name = "NAME", conflicts_with_all = ["spec", "spec_file"])]
    pub generator: Option<String>,
    /// Distinct pages: the trace names pages BASE to BASE+N-1 (a scan's
    /// default: as many as --refs).
    #[arg(long, value_name = "N", conflicts_with_all = ["spec", "spec_file"])]
    pub pages: Option<u64>,
    /// References to generate.
    #[arg(long, value_name = "N", conflicts_with_all = ["spec", "spec_file"])]
    pub refs: Option<u64>,
    /// Zipf skew: the page of popularity rank k is referenced with
    /// probability proportional to 1/k^alpha (0 is uniform; default 0.99).
    #[arg(long, conflicts_with_all = ["spec", "spec_file"])]
    pub alpha: Option<f64>,
    /// The first page of the range (default 0).
    #[arg(long, value_name = "PAGE", conflicts_with_all = ["spec", "spec_file"])]
    pub base: Option<u64>,
    /// The generator as a TOML table, with the keys an experiment's
    /// `generate` takes: '{ generator = "loop", pages = 64, refs = 10000 }'.
    #[arg(long, value_name = "TOML", conflicts_with = "spec_file")]
    pub spec: Option<String>,
    /// The generator's TOML table from a file (its keys one a line, or an
    /// inline table).
    #[arg(long, value_name = "FILE")]
    pub spec_file: Option<PathBuf>,
    /// Seed of the generator (default 1, or the spec's `seed`, which this
    /// replaces).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Output format: refs (one page number per line) or oracle-general
    /// (libCacheSim's binary records, 4 KiB objects).
    #[arg(long, default_value = "refs")]
    pub format: String,
    /// Output file, written whole or not at all (`-` for standard output).
    #[arg(long, short)]
    pub output: PathBuf,
    /// Host memory it may use (e.g. 8GiB, or "unlimited"); default:
    /// $PAGELAB_HOST_MEMORY, else 3/4 of the host's RAM or memory limits.
    #[arg(long, value_name = "SIZE")]
    pub host_memory: Option<String>,
}

fn bad(msg: String) -> i32 {
    eprintln!("pagelab: {msg}");
    EXIT_BAD_INPUT
}

/// A spec's error about one of its keys (`pages = 0: expected ...`,
/// `pages: missing ...`) as the flag that gave the key (`--pages 0:
/// expected ...`).
fn as_flag(e: &str) -> String {
    let key_len = e.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(e.len());
    let (key, rest) = e.split_at(key_len);
    match rest.strip_prefix(" = ") {
        Some(rest) => format!("--{key} {rest}"),
        None => format!("--{key}{rest}"),
    }
}

/// The spec the flags describe.
fn spec_from_flags(a: &GenTraceArgs) -> Result<GenSpec, String> {
    let name = a.generator.as_deref().unwrap_or("zipf");
    let refs = a.refs.ok_or("--refs: missing (how many references to generate)")?;
    let pages = |name: &str| {
        a.pages.ok_or_else(|| format!("--pages: missing (the {name} generator's number of distinct pages)"))
    };
    let base = a.base.unwrap_or(0);
    let no_alpha = |name: &str| match a.alpha {
        Some(x) => Err(format!("--alpha {x}: applies only to --generator zipf, not to {name}")),
        None => Ok(()),
    };
    let generator = match name {
        "zipf" => Generator::Zipf { pages: pages(name)?, base, alpha: a.alpha.unwrap_or(0.99) },
        "uniform" => {
            no_alpha(name)?;
            Generator::Uniform { pages: pages(name)?, base }
        }
        "loop" => {
            no_alpha(name)?;
            Generator::Loop { pages: pages(name)?, base }
        }
        "scan" => {
            no_alpha(name)?;
            Generator::Scan { pages: a.pages, base }
        }
        "phases" | "mix" => {
            return Err(format!(
                "--generator {name}: its {} come from a spec: give --spec '{{ generator = \"{name}\", ... }}' \
                 or --spec-file FILE instead of the generator flags",
                if name == "phases" { "phases" } else { "parts" }
            ))
        }
        other => return Err(format!("--generator {other:?}: expected one of {}", GENERATORS.join(", "))),
    };
    let spec = GenSpec { generator, refs, seed: a.seed.unwrap_or(1) };
    spec.validate().map_err(|e| as_flag(&e))?;
    Ok(spec)
}

/// The spec of `--spec` or `--spec-file`, or the flags'.
fn spec_of(a: &GenTraceArgs) -> Result<GenSpec, String> {
    let (text, from) = match (&a.spec, &a.spec_file) {
        (Some(t), _) => (t.clone(), "--spec".to_string()),
        (None, Some(p)) => match std::fs::read_to_string(p) {
            Ok(t) => (t, p.display().to_string()),
            Err(e) => return Err(format!("--spec-file {}: cannot read it: {e}", p.display())),
        },
        (None, None) => return spec_from_flags(a),
    };
    let mut spec = GenSpec::from_toml(&text).map_err(|e| format!("{from}: {e}"))?;
    if let Some(s) = a.seed {
        spec.seed = s;
    }
    Ok(spec)
}

/// Runs `gen-trace`.
pub fn gen_trace(a: GenTraceArgs) -> i32 {
    let format = match TraceFormat::parse(&a.format) {
        Some(f @ (TraceFormat::Refs | TraceFormat::OracleGeneral)) => f,
        _ => return bad(format!("--format {:?}: expected refs or oracle-general", a.format)),
    };
    let spec = match spec_of(&a) {
        Ok(s) => s,
        Err(e) => return bad(e),
    };
    let limit = match HostLimit::resolve(a.host_memory.as_deref()) {
        Ok(l) => l,
        Err(e) => return bad(e),
    };
    let need =
        host_memory::gen_trace(spec.table_pages(), spec.footprint(), spec.refs, format == TraceFormat::OracleGeneral);
    if let Err(e) = need.check(&limit, "gen-trace", "generate fewer --refs, or use --format refs, which streams") {
        return bad(e);
    }
    let trace = match spec.pages() {
        Ok(t) => t,
        Err(e) => return bad(e),
    };
    let write = |mut w: &mut dyn Write| -> std::io::Result<()> {
        match format {
            TraceFormat::OracleGeneral => {
                // The next-access field needs the whole trace.
                let pages: Vec<u64> = trace.collect();
                write_oracle_general(&pages, &mut w)
            }
            _ => {
                let mut w = std::io::BufWriter::with_capacity(1 << 16, w);
                let mut buf = itoa_buf();
                for p in trace {
                    w.write_all(format_page(&mut buf, p))?;
                }
                w.flush()
            }
        }
    };
    if a.output.as_os_str() == "-" {
        return match write(&mut std::io::stdout().lock()).map_err(StdoutError::from) {
            // A reader that went away (`| head`) ends the trace early.
            Ok(()) | Err(StdoutError::Closed) => EXIT_OK,
            Err(StdoutError::Io(e)) => bad(format!("cannot write to standard output: {e}")),
        };
    }
    match write_whole(&a.output, write) {
        Ok(()) => EXIT_OK,
        Err(e) => bad(format!("cannot write {}: {e}", a.output.display())),
    }
}

fn itoa_buf() -> [u8; 24] {
    [0; 24]
}

/// `p` in decimal followed by a newline, formatted into `buf`.
fn format_page(buf: &mut [u8; 24], mut p: u64) -> &[u8] {
    let mut i = buf.len() - 1;
    buf[i] = b'\n';
    loop {
        i -= 1;
        buf[i] = b'0' + (p % 10) as u8;
        p /= 10;
        if p == 0 {
            break;
        }
    }
    &buf[i..]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec_errors_name_the_flags() {
        assert_eq!(as_flag("pages = 0: expected 1 to 9"), "--pages 0: expected 1 to 9");
        assert_eq!(as_flag("pages: missing (generator \"zipf\")"), "--pages: missing (generator \"zipf\")");
        assert_eq!(as_flag("base = 7: the range"), "--base 7: the range");
    }

    #[test]
    fn pages_format_in_decimal_with_a_newline() {
        let mut b = itoa_buf();
        assert_eq!(format_page(&mut b, 0), b"0\n");
        assert_eq!(format_page(&mut b, 1234567), b"1234567\n");
        assert_eq!(format_page(&mut b, u64::MAX), format!("{}\n", u64::MAX).as_bytes());
    }
}

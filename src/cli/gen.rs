//! `pagelab gen-trace --pages N --refs M --alpha A --seed S -o FILE`.

use std::io::Write;
use std::path::PathBuf;

use clap::Args;

use super::{EXIT_BAD_INPUT, EXIT_OK};
use crate::host_memory::{self, HostLimit};
use crate::output::{write_whole, StdoutError};
use crate::trace::{write_oracle_general, TraceFormat};
use crate::tracegen::{ZipfSpec, ZipfTrace};

/// Arguments of `gen-trace`.
#[derive(Debug, Args)]
pub struct GenTraceArgs {
    /// Distinct pages: the trace names pages 0 to N-1.
    #[arg(long)]
    pub pages: u64,
    /// References to generate.
    #[arg(long)]
    pub refs: u64,
    /// Zipf skew: the page of popularity rank k is referenced with
    /// probability proportional to 1/k^alpha (0 is uniform).
    #[arg(long, default_value_t = 0.99)]
    pub alpha: f64,
    /// Seed of the generator.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
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

/// Runs `gen-trace`.
pub fn gen_trace(a: GenTraceArgs) -> i32 {
    let format = match TraceFormat::parse(&a.format) {
        Some(f @ (TraceFormat::Refs | TraceFormat::OracleGeneral)) => f,
        _ => return bad(format!("--format {:?}: expected refs or oracle-general", a.format)),
    };
    let spec = ZipfSpec { pages: a.pages, refs: a.refs, alpha: a.alpha, seed: a.seed };
    if let Err(e) = spec.validate() {
        return bad(format!("--{e}"));
    }
    let limit = match HostLimit::resolve(a.host_memory.as_deref()) {
        Ok(l) => l,
        Err(e) => return bad(e),
    };
    let need = host_memory::gen_trace(a.pages, a.refs, format == TraceFormat::OracleGeneral);
    if let Err(e) = need.check(&limit, "gen-trace", "generate fewer --refs, or use --format refs, which streams") {
        return bad(e);
    }
    let trace = match ZipfTrace::new(spec) {
        Ok(t) => t,
        Err(e) => return bad(format!("--{e}")),
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
    fn pages_format_in_decimal_with_a_newline() {
        let mut b = itoa_buf();
        assert_eq!(format_page(&mut b, 0), b"0\n");
        assert_eq!(format_page(&mut b, 1234567), b"1234567\n");
        assert_eq!(format_page(&mut b, u64::MAX), format!("{}\n", u64::MAX).as_bytes());
    }
}

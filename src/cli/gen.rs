//! `pagelab gen-trace --pages N --refs M --alpha A --seed S -o FILE`.

use std::io::Write;
use std::path::{Path, PathBuf};

use clap::Args;

use super::{EXIT_BAD_INPUT, EXIT_OK};
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
    let result = if a.output.as_os_str() == "-" {
        write(&mut std::io::stdout().lock())
    } else {
        write_file_atomically(&a.output, write)
    };
    match result {
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

/// Writes a file whole or not at all: into a temporary file beside it,
/// synced, then renamed over it; on any error the temporary file is removed.
pub fn write_file_atomically(
    path: &Path,
    write: impl FnOnce(&mut dyn Write) -> std::io::Result<()>,
) -> std::io::Result<()> {
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "out".into());
    let tmp: PathBuf = dir.join(format!(".{name}.pagelab-tmp-{}", std::process::id()));
    let result = std::fs::File::create(&tmp)
        .and_then(|mut f| {
            write(&mut f)?;
            f.sync_all()
        })
        .and_then(|_| std::fs::rename(&tmp, path));
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
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

//! `pagelab sweep EXPERIMENT.toml` and `pagelab merge DIR... --out DIR`.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::time::Instant;

use clap::Args;

use super::{emit, EXIT_BAD_INPUT, EXIT_OK};
use crate::host_memory::HostLimit;
use crate::sweep::{self, cell, experiment, store, Options, Shard, SweepError};

/// Arguments of `sweep`.
#[derive(Debug, Args)]
pub struct SweepArgs {
    /// The experiment file (see the Research workflow chapter).
    pub experiment: PathBuf,
    /// Output directory (default: the experiment file's name without
    /// `.toml`, plus `-results`, beside it).
    #[arg(long, short)]
    pub out: Option<PathBuf>,
    /// Cells to run at once (default: every core).
    #[arg(long, short)]
    pub jobs: Option<usize>,
    /// Run only shard I of N (cells whose index is I-1 modulo N), for a
    /// cluster; `pagelab merge` combines the shards' directories.
    #[arg(long, value_name = "I/N")]
    pub shard: Option<String>,
    /// Discard what the output directory holds and start over (needed
    /// when the experiment file changed since the directory was started).
    #[arg(long)]
    pub restart: bool,
    /// List the cells (index and parameters) and stop.
    #[arg(long)]
    pub list: bool,
    /// Write a Slurm job-array script for N shards into the output
    /// directory, and print how to submit it and merge the shards.
    #[arg(long, value_name = "N")]
    pub slurm: Option<usize>,
    /// Replay the cells of one trace in one pass over it, up to 32 machines
    /// per thread, instead of each cell reading its trace alone (the
    /// results are the same; a cell is journalled when its pass ends).
    #[arg(long)]
    pub shared_pass: bool,
    /// No progress on standard error.
    #[arg(long, short)]
    pub quiet: bool,
    /// Host memory all the cells at once may use (e.g. 8GiB, or
    /// "unlimited"); default: $PAGELAB_HOST_MEMORY, else 3/4 of the host's
    /// RAM or memory limits.
    #[arg(long, value_name = "SIZE")]
    pub host_memory: Option<String>,
}

/// Arguments of `merge`.
#[derive(Debug, Args)]
pub struct MergeArgs {
    /// The shards' output directories.
    #[arg(required = true)]
    pub dirs: Vec<PathBuf>,
    /// Where to write the merged results.
    #[arg(long, short)]
    pub out: PathBuf,
}

fn bad(msg: impl std::fmt::Display) -> i32 {
    eprintln!("pagelab: {msg}");
    EXIT_BAD_INPUT
}

/// The default output directory: `NAME-results` beside `NAME.toml`.
fn default_out(experiment: &Path) -> PathBuf {
    let stem = experiment.file_stem().map_or("sweep".into(), |s| s.to_string_lossy().into_owned());
    experiment.with_file_name(format!("{stem}-results"))
}

/// Runs `sweep`.
pub fn sweep(a: SweepArgs) -> i32 {
    let e = match experiment::load(&a.experiment) {
        Ok(e) => e,
        Err(x) => return bad(x),
    };
    let shard = match a.shard.as_deref().map(Shard::parse).transpose() {
        Ok(s) => s.unwrap_or(Shard::WHOLE),
        Err(x) => return bad(x),
    };
    let jobs = match a.jobs {
        Some(0) => return bad("--jobs 0: expected at least 1"),
        Some(j) => j,
        None => std::thread::available_parallelism().map_or(1, |n| n.get()),
    };
    let host_limit = match HostLimit::resolve(a.host_memory.as_deref()) {
        Ok(l) => l,
        Err(x) => return bad(x),
    };
    let out = a.out.clone().unwrap_or_else(|| default_out(&a.experiment));
    if a.list {
        let cells: Vec<cell::Cell> = cell::cells(&e).into_iter().filter(|c| shard.has(c.index)).collect();
        let mut text = format!("experiment {}: {} cells", e.name, cell::cells(&e).len());
        if shard != Shard::WHOLE {
            text.push_str(&format!(", {} in shard {shard}", cells.len()));
        }
        text.push('\n');
        for c in &cells {
            text.push_str(&format!("{:>6}  {}  seed {:#018x}\n", c.index, c.key(), c.seed));
        }
        return emit(None, &text).err().unwrap_or(EXIT_OK);
    }
    if let Some(n) = a.slurm {
        return slurm(&a, &e, &out, n, a.jobs.unwrap_or(1));
    }
    let opts = Options { out: out.clone(), jobs, shard, restart: a.restart, host_limit, shared_pass: a.shared_pass };
    let started = Instant::now();
    let show = !a.quiet;
    let bar = if show && std::io::stderr().is_terminal() {
        let b = indicatif::ProgressBar::new(0);
        b.set_style(
            indicatif::ProgressStyle::with_template(
                "{bar:40} {pos}/{len} cells  {elapsed_precise} elapsed, {eta} left",
            )
            .expect("the template is valid"),
        );
        Some(b)
    } else {
        None
    };
    // Without a terminal: a plain line at each tenth of the way.
    let last_tenth = std::sync::atomic::AtomicUsize::new(usize::MAX);
    let progress = |done: usize, total: usize| {
        if let Some(b) = &bar {
            b.set_length(total as u64);
            b.set_position(done as u64);
        } else if show && total > 0 {
            let tenth = done * 10 / total;
            if last_tenth.swap(tenth, std::sync::atomic::Ordering::Relaxed) != tenth {
                eprintln!("pagelab sweep: {done}/{total} cells done");
            }
        }
    };
    let result = sweep::run(&e, &opts, &progress);
    if let Some(b) = &bar {
        b.finish_and_clear();
    }
    match result {
        Ok(o) => {
            let mut text = format!("sweep {}: {} cells", e.name, o.cells);
            if shard != Shard::WHOLE {
                text.push_str(&format!(", {} in shard {shard}", o.here));
            }
            text.push_str(&format!(
                "; {} run now, {} done before\nresults: {}, {}\n",
                o.ran,
                o.resumed,
                out.join(store::RESULTS_CSV).display(),
                out.join(store::RESULTS_JSONL).display()
            ));
            if show {
                eprintln!("pagelab sweep: {:.2} s host time on {jobs} threads", started.elapsed().as_secs_f64());
            }
            emit(None, &text).err().unwrap_or(EXIT_OK)
        }
        Err(SweepError::Input(m)) => bad(m),
        Err(SweepError::Cell(c)) => {
            eprintln!("pagelab: {}", c.message);
            eprintln!(
                "pagelab: the cells finished before it are kept in {}; run the sweep again to resume",
                out.display()
            );
            c.code
        }
    }
}

/// A shell word, quoted for `sh`.
fn quote(p: &Path) -> String {
    format!("'{}'", p.display().to_string().replace('\'', "'\\''"))
}

/// Writes the job-array script.
fn slurm(a: &SweepArgs, e: &experiment::Experiment, out: &Path, n: usize, cpus: usize) -> i32 {
    if n == 0 {
        return bad("--slurm 0: expected at least 1 shard");
    }
    let cells = cell::cells(e).len();
    if n > cells {
        return bad(format!("--slurm {n}: the experiment has only {cells} cells; expected at most {cells} shards"));
    }
    if let Err(x) = std::fs::create_dir_all(out) {
        return bad(format!("{}: {x}", out.display()));
    }
    let abs = |p: &Path| std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf());
    let exe = std::env::current_exe().map(|p| abs(&p)).unwrap_or_else(|_| PathBuf::from("pagelab"));
    let (exp, dir) = (abs(&a.experiment), abs(out));
    let mut host = String::new();
    if let Some(h) = &a.host_memory {
        host = format!(" --host-memory '{h}'");
    }
    let script = format!(
        "#!/bin/sh\n\
         # pagelab sweep of {name:?} ({cells} cells) as a Slurm job array of {n} shards.\n\
         # Submit:  sbatch {script}\n\
         # Then:    pagelab merge {dirq}/shard-* --out {dirq}/merged\n\
         #SBATCH --job-name=pagelab-{job}\n\
         #SBATCH --array=1-{n}\n\
         #SBATCH --cpus-per-task={cpus}\n\
         #SBATCH --output={dir}/slurm-%A_%a.out\n\
         exec {exe} sweep {exp} --quiet --shard \"$SLURM_ARRAY_TASK_ID/{n}\" --jobs \"${{SLURM_CPUS_PER_TASK:-{cpus}}}\" \\\n  \
         --out {dirq}/shard-\"$SLURM_ARRAY_TASK_ID\"{host}\n",
        name = e.name,
        script = quote(&dir.join("sweep.sbatch")),
        dirq = quote(&dir),
        dir = dir.display(),
        job = e.name.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' { c } else { '_' }).collect::<String>(),
        exe = quote(&exe),
        exp = quote(&exp),
    );
    let path = out.join("sweep.sbatch");
    if let Err(x) = crate::output::write_text(&path, &script) {
        return bad(format!("cannot write {}: {x}", path.display()));
    }
    let text = format!(
        "wrote {}: a job array of {n} shards over {cells} cells\nsubmit: sbatch {}\nmerge:  pagelab merge {}/shard-* --out {}/merged\n",
        path.display(),
        quote(&path),
        quote(&dir),
        quote(&dir)
    );
    emit(None, &text).err().unwrap_or(EXIT_OK)
}

/// Runs `merge`.
pub fn merge(a: MergeArgs) -> i32 {
    let (manifest, rows) = match store::merge(&a.dirs) {
        Ok(m) => m,
        Err(x) => return bad(x),
    };
    if let Err(x) = std::fs::create_dir_all(&a.out) {
        return bad(format!("{}: {x}", a.out.display()));
    }
    if let Err(x) = store::write_results(&a.out, &manifest.columns, &rows) {
        return bad(format!("cannot write {}: {x}", a.out.display()));
    }
    if let Err(x) = store::write_manifest(&a.out, &manifest) {
        return bad(format!("cannot write {}: {x}", a.out.display()));
    }
    let text = format!(
        "merged {} directories: {} cells of {:?}\nresults: {}, {}\n",
        a.dirs.len(),
        rows.len(),
        manifest.experiment,
        a.out.join(store::RESULTS_CSV).display(),
        a.out.join(store::RESULTS_JSONL).display()
    );
    emit(None, &text).err().unwrap_or(EXIT_OK)
}

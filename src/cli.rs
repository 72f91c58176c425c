//! The command line: argument definitions and one function per
//! subcommand. Every function returns the process exit code: 0 ok,
//! 1 an expectation failed, 2 bad input or usage, 3 an internal error
//! (an invariant of the model broke: a bug in pagelab).

pub mod check;
pub mod fragmentation;
pub mod gen;
pub mod mrc;
pub mod plot;
pub mod quiz;
pub mod ramp;
pub mod real;
pub mod replay;
pub mod run;
pub mod scenarios;
pub mod sweep;
pub mod tui;

use std::path::Path;

use clap::{Parser, Subcommand};

use crate::output::StdoutError;

pub use crate::exit::{EXIT_BAD_INPUT, EXIT_FAILED, EXIT_INTERNAL, EXIT_OK};
pub use crate::scenario::resolve;

/// pagelab: a simulator and teaching model of the Windows NT memory manager.
///
/// With no command: on a terminal, the terminal UI on the built-in tour;
/// otherwise the tour's text report.
#[derive(Debug, Parser)]
#[command(name = "pagelab", version, about, long_about = None)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a scenario to the end, print a report and check its expectations.
    Run(run::RunArgs),
    /// Validate scenarios without running them.
    Check {
        /// Scenario files or built-in names.
        #[arg(required = true)]
        scenarios: Vec<String>,
    },
    /// List the built-in scenarios.
    Scenarios {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Replay a trace into one process with an N-frame working set.
    Replay(replay::ReplayArgs),
    /// Miss-ratio curves: misses at every working-set size, LRU in one
    /// pass (Mattson's stack algorithm), other policies by replay per size.
    Mrc(mrc::MrcArgs),
    /// Draw a CSV table (mrc curves, sweep results) as an SVG plot.
    Plot(plot::PlotArgs),
    /// Test yourself: before each reference of a seeded reference string,
    /// say whether it hits or misses and which page is evicted.
    Quiz(quiz::QuizArgs),
    /// Run an experiment's grid (traces x policies x sizes x machine
    /// settings x seeds) on every core: resumable, shardable, one row per cell.
    Sweep(sweep::SweepArgs),
    /// Combine the output directories of a sweep's shards into one result.
    Merge(sweep::MergeArgs),
    /// Generate a synthetic trace, seeded: Zipf-popular pages, uniform,
    /// a scan, a loop, phases or a mix.
    GenTrace(gen::GenTraceArgs),
    /// Free-block distribution and Linux's fragmentation indices of a
    /// /proc/buddyinfo text.
    Fragmentation(fragmentation::FragmentationArgs),
    /// Threads filling a buffer with demand-zero pages versus AWE: time,
    /// lock waits and acquisitions as the threads grow.
    RampUp(ramp::RampArgs),
    /// Step through a scenario in the terminal UI (or a trace, a quiz,
    /// replays side by side).
    Tui(tui::TuiArgs),
    /// Run a scenario on the real system (in a child process) and in the
    /// simulator, and compare them step by step.
    Real(real::RealArgs),
    /// The real side of `pagelab real`, run in its child process.
    #[command(name = "__real-child", hide = true)]
    RealChild(real::ChildArgs),
}

/// Writes to standard output. A reader that went away (`pagelab ... | head`)
/// is not an error; any other failure is reported.
pub fn print_out(text: &str) -> Result<(), i32> {
    match crate::output::print(text) {
        Ok(()) | Err(StdoutError::Closed) => Ok(()),
        Err(StdoutError::Io(e)) => {
            eprintln!("pagelab: cannot write to standard output: {e}");
            Err(EXIT_BAD_INPUT)
        }
    }
}

/// Prints to stdout or writes to `--output` (whole or not at all, through
/// symbolic links, directly into FIFOs and devices: [`crate::output`]);
/// returns an exit code on failure.
pub fn emit(output: Option<&Path>, text: &str) -> Result<(), i32> {
    match output {
        None => print_out(text),
        Some(p) => crate::output::write_text(p, text).map_err(|e| {
            eprintln!("pagelab: cannot write {}: {e}", p.display());
            EXIT_BAD_INPUT
        }),
    }
}

/// Runs the command line; returns the exit code.
pub fn main_with(cli: Cli) -> i32 {
    use std::io::IsTerminal;
    match cli.command {
        None => {
            if std::io::stdout().is_terminal() && std::io::stdin().is_terminal() {
                crate::tui::run_named("tour", &[], None)
            } else {
                run::run(run::RunArgs::tour())
            }
        }
        Some(Command::Run(a)) => run::run(a),
        Some(Command::Check { scenarios }) => check::check(&scenarios),
        Some(Command::Scenarios { json }) => scenarios::list(json),
        Some(Command::Replay(a)) => replay::replay(a),
        Some(Command::Mrc(a)) => mrc::mrc(a),
        Some(Command::Plot(a)) => plot::plot(a),
        Some(Command::Quiz(a)) => quiz::quiz(a),
        Some(Command::GenTrace(a)) => gen::gen_trace(a),
        Some(Command::Sweep(a)) => sweep::sweep(a),
        Some(Command::Merge(a)) => sweep::merge(a),
        Some(Command::Fragmentation(a)) => fragmentation::fragmentation(a),
        Some(Command::RampUp(a)) => ramp::ramp(a),
        Some(Command::Tui(a)) => tui::tui(a),
        Some(Command::Real(a)) => real::real(a),
        Some(Command::RealChild(a)) => real::child(a),
    }
}

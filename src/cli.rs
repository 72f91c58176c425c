//! The command line: argument definitions and one function per
//! subcommand. Every function returns the process exit code: 0 ok,
//! 1 an expectation failed, 2 bad input or usage, 3 an internal error
//! (an invariant of the model broke: a bug in pagelab).

pub mod check;
pub mod gen;
pub mod replay;
pub mod run;
pub mod scenarios;

use std::path::{Path, PathBuf};

use clap::{Parser, Subcommand};

use crate::scenario::{builtin, load, load_str, Override, Scenario, ScenarioError};

/// Exit code: success.
pub const EXIT_OK: i32 = 0;
/// Exit code: an expectation failed.
pub const EXIT_FAILED: i32 = 1;
/// Exit code: bad input or usage.
pub const EXIT_BAD_INPUT: i32 = 2;
/// Exit code: an internal error, an invariant of the model broken (a bug
/// in pagelab, whatever the input).
pub const EXIT_INTERNAL: i32 = 3;

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
    /// Generate a synthetic trace: Zipf-popular pages, seeded.
    GenTrace(gen::GenTraceArgs),
    /// Step through a scenario in the terminal UI.
    Tui {
        /// Scenario file or built-in name (default: tour).
        scenario: Option<String>,
    },
}

/// Where a scenario comes from: a file, or a built-in by name.
pub fn resolve(name: &str, overrides: &[Override]) -> Result<Scenario, ScenarioError> {
    let path = Path::new(name);
    if path.exists() {
        return load(path, overrides);
    }
    if let Some(text) = builtin::find(name) {
        return load_str(text, &format!("builtin:{name}"), None, overrides);
    }
    let names: Vec<_> = builtin::BUILTINS.iter().map(|(n, _)| *n).collect();
    Err(ScenarioError {
        file: name.to_string(),
        line: 1,
        col: 1,
        message: format!("no such file, and no built-in scenario of that name (built-ins: {})", names.join(", ")),
    })
}

/// Writes `contents` to `path` whole or not at all: into a temporary file
/// beside it, then renamed over it.
pub fn write_atomically(path: &Path, contents: &str) -> std::io::Result<()> {
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "out".into());
    let tmp: PathBuf = dir.join(format!(".{name}.pagelab-tmp-{}", std::process::id()));
    let result = std::fs::write(&tmp, contents).and_then(|_| std::fs::rename(&tmp, path));
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// Writes to standard output. A reader that went away (`pagelab ... | head`)
/// is not an error; any other failure is reported.
pub fn print_out(text: &str) -> Result<(), i32> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|_| out.flush()) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        Err(e) => {
            eprintln!("pagelab: cannot write to standard output: {e}");
            Err(EXIT_BAD_INPUT)
        }
    }
}

/// Prints to stdout or writes to `--output`; returns an exit code on failure.
pub fn emit(output: Option<&Path>, text: &str) -> Result<(), i32> {
    match output {
        None => print_out(text),
        Some(p) => write_atomically(p, text).map_err(|e| {
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
                crate::tui::run_named("tour")
            } else {
                run::run(run::RunArgs::tour())
            }
        }
        Some(Command::Run(a)) => run::run(a),
        Some(Command::Check { scenarios }) => check::check(&scenarios),
        Some(Command::Scenarios { json }) => scenarios::list(json),
        Some(Command::Replay(a)) => replay::replay(a),
        Some(Command::GenTrace(a)) => gen::gen_trace(a),
        Some(Command::Tui { scenario }) => crate::tui::run_named(scenario.as_deref().unwrap_or("tour")),
    }
}

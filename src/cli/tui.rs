//! `pagelab tui`: the terminal UI on a scenario, a trace, a quiz's
//! generated string, or replays side by side.

use clap::Args;

use super::EXIT_BAD_INPUT;

/// Arguments of `tui`.
#[derive(Debug, Args)]
pub struct TuiArgs {
    /// Scenario file or built-in name (default: tour).
    pub scenario: Option<String>,
    /// Override a machine setting, e.g. --set large_page_allocator=sp1.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub set: Vec<String>,
    /// Host memory the UI may use, checkpoints included (e.g. 8GiB, or
    /// "unlimited"); default: $PAGELAB_HOST_MEMORY, else 3/4 of the
    /// host's RAM or memory limits.
    #[arg(long, value_name = "SIZE")]
    pub host_memory: Option<String>,
    /// Instead of a scenario, step through the references of this trace
    /// (one process, every address committed, as `replay` does).
    #[arg(long, value_name = "FILE", conflicts_with_all = ["scenario", "set"])]
    pub trace: Option<String>,
    /// With --trace: its format (default auto: detected from its name and
    /// first bytes; or refs, lackey, oracle-general, oracle-general-zst,
    /// text, csv).
    #[arg(long, requires = "trace")]
    pub format: Option<String>,
    /// With --trace, or --quiz without a scenario: the replacement policy
    /// (default fifo).
    #[arg(long, conflicts_with_all = ["scenario", "set"])]
    pub policy: Option<String>,
    /// With --trace, or --quiz without a scenario: working-set frames
    /// (default 64 for a trace, 3 for a quiz).
    #[arg(long, conflicts_with_all = ["scenario", "set"])]
    pub frames: Option<u64>,
    /// Start in quiz mode: before each reference, say what it will do.
    /// Without a scenario or trace, on a string generated as `pagelab quiz`
    /// generates it (--seed, --length, --pages).
    #[arg(long)]
    pub quiz: bool,
    /// With --quiz on a generated string: its seed.
    #[arg(long, requires = "quiz", conflicts_with_all = ["scenario", "trace"])]
    pub seed: Option<u64>,
    /// With --quiz on a generated string: references in it (default 20).
    #[arg(long, requires = "quiz", conflicts_with_all = ["scenario", "trace"])]
    pub length: Option<u64>,
    /// With --quiz on a generated string: distinct pages (default 8).
    #[arg(long, requires = "quiz", conflicts_with_all = ["scenario", "trace"])]
    pub pages: Option<u64>,
    /// Replays side by side, POLICY:FRAMES separated by commas (2 to 4),
    /// e.g. fifo:3,fifo:4; over --trace FILE, or Belady's string
    /// 1,2,3,4,1,2,5,1,2,3,4,5.
    #[arg(long, value_name = "SPECS", conflicts_with_all = ["scenario", "set", "quiz", "policy", "frames"])]
    pub compare: Option<String>,
}

/// Runs `tui`.
pub fn tui(a: TuiArgs) -> i32 {
    let hm = a.host_memory.as_deref();
    if let Some(specs) = &a.compare {
        return crate::tui::run_compare(specs, a.trace.as_deref(), a.format.as_deref());
    }
    if let Some(trace) = &a.trace {
        let policy = a.policy.as_deref().unwrap_or("fifo");
        return crate::tui::run_trace_with(trace, a.format.as_deref(), policy, a.frames.unwrap_or(64), hm, a.quiz);
    }
    if a.scenario.is_none() && (a.quiz || a.policy.is_some() || a.frames.is_some()) {
        if !a.quiz {
            eprintln!("pagelab: --policy and --frames are for --trace or --quiz, not a scenario (use --set)");
            return EXIT_BAD_INPUT;
        }
        let s = crate::tui::Generated {
            seed: a.seed.unwrap_or(1),
            length: a.length.unwrap_or(20),
            pages: a.pages.unwrap_or(8),
            frames: a.frames.unwrap_or(3),
            policy: a.policy.clone().unwrap_or_else(|| "fifo".into()),
        };
        return crate::tui::run_generated(&s, hm);
    }
    crate::tui::run_named_with(a.scenario.as_deref().unwrap_or("tour"), &a.set, hm, a.quiz)
}

//! The terminal UI: step through a scenario and watch the memory manager
//! work.
//!
//! The UI only reads the engine: it steps a [`crate::runner::Runner`] and
//! draws the machine's read-only views and the events of each step. The
//! shape is the Elm one: [`app::App`] is plain data changed only by its
//! key, mouse and tick handlers; [`ui`] draws it without changing it; this
//! module owns the terminal, restoring it on every exit, panics and
//! SIGTERM/SIGHUP included.

pub mod app;
#[cfg(test)]
mod captures;
pub mod compare;
pub mod counters;
pub mod events;
pub mod fit;
pub mod frames;
pub mod help;
pub mod history;
pub mod inspect;
pub mod lists;
pub mod page_table;
pub mod quiz;
pub mod regions;
pub mod ui;
pub mod working_set;

use std::io::{self, IsTerminal, Stdout};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossterm::event::{self, DisableMouseCapture, EnableMouseCapture, Event as TermEvent};
use crossterm::execute;
use crossterm::terminal::{disable_raw_mode, enable_raw_mode, EnterAlternateScreen, LeaveAlternateScreen};
use ratatui::backend::CrosstermBackend;
use ratatui::Terminal;

use crate::exit::{EXIT_BAD_INPUT, EXIT_OK};
use app::{App, Run};

/// Longest the app may spend stepping between two redraws.
const STEP_BUDGET: Duration = Duration::from_millis(30);

/// When this environment variable is set, the UI panics right after its
/// first frame: the smoke test uses it to check that a panic restores the
/// terminal.
pub const TEST_PANIC_VAR: &str = "PAGELAB_TUI_TEST_PANIC";

/// Opens the terminal UI on a scenario file or built-in name, with the
/// machine settings `set` ("key=value", as `pagelab run --set` takes
/// them). Returns the exit code: 0 on quit; 2 when a setting or the
/// scenario does not load (the error is printed as `pagelab check` prints
/// it, before the terminal is touched), can need more host memory than
/// `host_memory` allows, or there is no terminal.
pub fn run_named(name: &str, set: &[String], host_memory: Option<&str>) -> i32 {
    run_named_with(name, set, host_memory, false)
}

/// As [`run_named`]; with `quiz`, in quiz mode from the start.
pub fn run_named_with(name: &str, set: &[String], host_memory: Option<&str>, quiz: bool) -> i32 {
    let overrides = match crate::scenario::overrides(set, None) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("pagelab: {e}");
            return EXIT_BAD_INPUT;
        }
    };
    let scenario = match crate::scenario::resolve(name, &overrides) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("pagelab: {e}");
            return EXIT_BAD_INPUT;
        }
    };
    let sets: String = set.iter().map(|s| format!(" --set {s}")).collect();
    let hint =
        if quiz { format!("pagelab run {name}{sets} --quiz") } else { format!("pagelab run {name}{sets} --events") };
    run_scenario(scenario, name, &hint, host_memory, quiz)
}

/// Runs the UI on the references of a trace ([`crate::scenario::from_trace`]):
/// `.` steps them one at a time; with `quiz`, in quiz mode from the start.
pub fn run_trace_with(
    trace: &str,
    format: Option<&str>,
    policy: &str,
    frames: u64,
    host_memory: Option<&str>,
    quiz: bool,
) -> i32 {
    let scenario = match crate::scenario::from_trace(trace, format, policy, frames) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("pagelab: {e}");
            return EXIT_BAD_INPUT;
        }
    };
    let fmt = format.map(|f| format!(" --format {f}")).unwrap_or_default();
    let hint = format!("pagelab replay {trace}{fmt} --policy {policy} --frames {frames} --trace");
    run_scenario(scenario, trace, &hint, host_memory, quiz)
}

/// The settings of a quiz's generated string, as `pagelab quiz` takes them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Generated {
    /// The string's seed (and the machine's).
    pub seed: u64,
    /// References.
    pub length: u64,
    /// Distinct pages: 0 to `pages - 1`.
    pub pages: u64,
    /// Working-set frames.
    pub frames: u64,
    /// Replacement policy.
    pub policy: String,
}

impl Generated {
    /// The string as a one-process scenario that runs it as `pagelab quiz`
    /// replays it: every address committed, a working set of `frames`
    /// pages, on replay's default memory, no balance set manager.
    pub fn scenario(&self) -> Result<crate::scenario::Scenario, String> {
        let policy = crate::quiz::check_settings(&self.policy, self.length, self.pages, self.frames)?;
        let refs = crate::quiz::reference_string(self.seed, self.length, self.pages);
        let list = refs.iter().map(u64::to_string).collect::<Vec<_>>().join(", ");
        let (seed, length, pages, frames, policy) = (self.seed, self.length, self.pages, self.frames, policy.name());
        crate::scenario::replay_scenario(
            "quiz",
            &format!("seed {seed}: {length} references to pages 0-{}, {policy}, {frames} frames", pages - 1),
            &format!(
                "The reference string pagelab quiz --seed {seed} --length {length} --pages {pages} generates, in one \
                 process whose working set holds {frames} pages under {policy}, every address committed (as pagelab \
                 replay runs a trace)."
            ),
            policy,
            frames,
            seed,
            &format!("refs = [{list}]"),
            "--quiz",
            None,
        )
        .map_err(|e| e.to_string())
    }
}

/// Runs the UI in quiz mode on a generated string ([`Generated`]).
pub fn run_generated(g: &Generated, host_memory: Option<&str>) -> i32 {
    let scenario = match g.scenario() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("pagelab: {e}");
            return EXIT_BAD_INPUT;
        }
    };
    let hint = format!(
        "pagelab quiz --seed {} --length {} --pages {} --frames {} --policy {}",
        g.seed, g.length, g.pages, g.frames, g.policy
    );
    run_scenario(scenario, "--quiz", &hint, host_memory, true)
}

/// Runs replays side by side ([`compare`]) over a trace file, or Belady's
/// string without one.
pub fn run_compare(specs: &str, trace: Option<&str>, format: Option<&str>) -> i32 {
    let specs = match compare::parse_specs(specs) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("pagelab: {e}");
            return EXIT_BAD_INPUT;
        }
    };
    let (source, refs) = match trace {
        None => (
            "Belady's string".to_string(),
            compare::BELADY.iter().map(|&page| crate::trace::TraceRef { page, write: false }).collect(),
        ),
        Some(path) => match compare::read_trace(path, format) {
            Ok(r) => (path.to_string(), r),
            Err(e) => {
                eprintln!("pagelab: {e}");
                return EXIT_BAD_INPUT;
            }
        },
    };
    let size = crossterm::terminal::size().unwrap_or((80, 24));
    let mut c = match compare::Compare::new(&source, refs, &specs, size) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("pagelab: {e}");
            return EXIT_BAD_INPUT;
        }
    };
    let first = format!("--policy {} --frames {}", specs[0].policy.name(), specs[0].frames);
    let hint = match trace {
        Some(t) => format!("pagelab replay {t} {first} --trace"),
        None => format!("echo 1 2 3 4 1 2 5 1 2 3 4 5 | pagelab replay - {first} --trace"),
    };
    run_screen(&mut c, &hint)
}

/// Runs the UI on a loaded scenario; `name` names it in errors, `hint` is
/// the command to suggest when there is no terminal.
fn run_scenario(
    scenario: crate::scenario::Scenario,
    name: &str,
    hint: &str,
    host_memory: Option<&str>,
    quiz: bool,
) -> i32 {
    if let Err(e) = crate::host_memory::check_scenario(&scenario, crate::host_memory::Front::Tui, host_memory) {
        eprintln!("pagelab: {e}");
        return EXIT_BAD_INPUT;
    }
    let size = crossterm::terminal::size().unwrap_or((80, 24));
    let mut app = match App::new(Arc::new(scenario), size) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("pagelab: {name}: {e}");
            return EXIT_BAD_INPUT;
        }
    };
    if quiz {
        app.start_quiz();
    }
    run_screen(&mut app, hint)
}

/// Runs the UI loop on a terminal; `hint` is the command to suggest when
/// there is none.
fn run_screen(app: &mut dyn Screen, hint: &str) -> i32 {
    if !io::stdout().is_terminal() || !io::stdin().is_terminal() {
        eprintln!("pagelab: the terminal UI needs a terminal; try `{hint}`");
        return EXIT_BAD_INPUT;
    }
    let signals = match Signals::watch() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("pagelab: cannot watch for signals: {e}");
            return EXIT_BAD_INPUT;
        }
    };
    match run_app(app, &signals) {
        Ok(Ended::Quit) => EXIT_OK,
        // The shell's convention for "ended by signal N".
        Ok(Ended::Signal(n)) => 128 + n,
        Err(e) => {
            eprintln!("pagelab: terminal error: {e}");
            EXIT_BAD_INPUT
        }
    }
}

/// How the UI loop ended.
enum Ended {
    /// The user quit.
    Quit,
    /// A signal asked the process to end (its number).
    Signal(i32),
}

/// The signals that end the UI with the terminal restored: SIGTERM (`kill`),
/// SIGHUP (the terminal went away), SIGINT and SIGQUIT (sent by `kill`; in
/// raw mode Ctrl-C is a key, not a signal). Each only sets a flag, which
/// the UI loop reads at least every 500 ms, then leaves through the same
/// path as `q`.
struct Signals {
    #[cfg(unix)]
    got: Arc<std::sync::atomic::AtomicUsize>,
}

impl Signals {
    #[cfg(unix)]
    fn watch() -> io::Result<Signals> {
        use signal_hook::consts::{SIGHUP, SIGINT, SIGQUIT, SIGTERM};
        let got = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        for sig in [SIGTERM, SIGHUP, SIGINT, SIGQUIT] {
            signal_hook::flag::register_usize(sig, Arc::clone(&got), sig as usize)?;
        }
        Ok(Signals { got })
    }

    #[cfg(not(unix))]
    fn watch() -> io::Result<Signals> {
        Ok(Signals {})
    }

    /// The signal received, if any.
    fn received(&self) -> Option<i32> {
        #[cfg(unix)]
        {
            match self.got.load(Ordering::SeqCst) {
                0 => None,
                n => Some(n as i32),
            }
        }
        #[cfg(not(unix))]
        None
    }
}

/// Whether the terminal is in raw mode on the alternate screen.
static ENTERED: AtomicBool = AtomicBool::new(false);

/// Puts the terminal back: cooked mode, main screen, no mouse capture,
/// cursor shown. Only the first call after entering does anything: leaving
/// the alternate screen twice would move the cursor back over a panic
/// message printed in between.
fn restore() {
    if ENTERED.swap(false, Ordering::SeqCst) {
        let _ = disable_raw_mode();
        let _ = execute!(io::stdout(), DisableMouseCapture, LeaveAlternateScreen, crossterm::cursor::Show);
    }
}

/// Raw mode and the alternate screen for as long as it lives.
struct TerminalGuard;

impl TerminalGuard {
    fn enter() -> io::Result<TerminalGuard> {
        enable_raw_mode()?;
        ENTERED.store(true, Ordering::SeqCst);
        let guard = TerminalGuard;
        execute!(io::stdout(), EnterAlternateScreen, EnableMouseCapture)?;
        Ok(guard)
    }
}

impl Drop for TerminalGuard {
    fn drop(&mut self) {
        restore();
    }
}

/// Restores the terminal before a panic message is printed, so the
/// message is readable and the shell usable.
fn install_panic_hook() {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        restore();
        previous(info);
    }));
}

/// What the UI loop drives: the stepping app, or the side-by-side comparison.
trait Screen {
    fn draw(&self, f: &mut ratatui::Frame);
    fn key(&mut self, k: event::KeyEvent);
    fn mouse(&mut self, m: event::MouseEvent);
    fn resize(&mut self, w: u16, h: u16);
    /// Work to do while waiting for input.
    fn idle(&mut self);
    /// Whether nothing runs by itself (the loop can wait longer for keys).
    fn paused(&self) -> bool;
    fn tick(&mut self, elapsed: Duration, budget: Duration);
    fn should_quit(&self) -> bool;
}

impl Screen for App {
    fn draw(&self, f: &mut ratatui::Frame) {
        f.render_widget(self, f.area())
    }
    fn key(&mut self, k: event::KeyEvent) {
        self.on_key(k)
    }
    fn mouse(&mut self, m: event::MouseEvent) {
        self.on_mouse(m)
    }
    fn resize(&mut self, w: u16, h: u16) {
        App::resize(self, w, h)
    }
    fn idle(&mut self) {
        App::idle(self)
    }
    fn paused(&self) -> bool {
        self.run_state() == Run::Paused
    }
    fn tick(&mut self, elapsed: Duration, budget: Duration) {
        App::tick(self, elapsed, budget)
    }
    fn should_quit(&self) -> bool {
        App::should_quit(self)
    }
}

impl Screen for compare::Compare {
    fn draw(&self, f: &mut ratatui::Frame) {
        f.render_widget(self, f.area())
    }
    fn key(&mut self, k: event::KeyEvent) {
        self.on_key(k)
    }
    fn mouse(&mut self, _: event::MouseEvent) {}
    fn resize(&mut self, w: u16, h: u16) {
        compare::Compare::resize(self, w, h)
    }
    fn idle(&mut self) {}
    fn paused(&self) -> bool {
        !self.running()
    }
    fn tick(&mut self, elapsed: Duration, _: Duration) {
        compare::Compare::tick(self, elapsed)
    }
    fn should_quit(&self) -> bool {
        compare::Compare::should_quit(self)
    }
}

fn run_app(app: &mut dyn Screen, signals: &Signals) -> io::Result<Ended> {
    install_panic_hook();
    let _guard = TerminalGuard::enter()?;
    let mut terminal: Terminal<CrosstermBackend<Stdout>> = Terminal::new(CrosstermBackend::new(io::stdout()))?;
    terminal.clear()?;
    let area = terminal.size()?;
    app.resize(area.width, area.height);
    let mut last = Instant::now();
    let test_panic = std::env::var_os(TEST_PANIC_VAR).is_some();
    loop {
        if let Some(n) = signals.received() {
            return Ok(Ended::Signal(n));
        }
        terminal.draw(|f| app.draw(f))?;
        if test_panic {
            panic!("{TEST_PANIC_VAR} is set: panicking to test that the terminal is restored");
        }
        if !event::poll(Duration::ZERO)? {
            app.idle();
        }
        let wait = if app.paused() { Duration::from_millis(500) } else { Duration::from_millis(15) };
        if event::poll(wait)? {
            loop {
                match event::read()? {
                    TermEvent::Key(k) => app.key(k),
                    TermEvent::Mouse(m) => app.mouse(m),
                    TermEvent::Resize(w, h) => app.resize(w, h),
                    _ => {}
                }
                if app.should_quit() || !event::poll(Duration::ZERO)? {
                    break;
                }
            }
        }
        if app.should_quit() {
            return Ok(Ended::Quit);
        }
        if let Some(n) = signals.received() {
            return Ok(Ended::Signal(n));
        }
        let now = Instant::now();
        app.tick(now - last, STEP_BUDGET);
        last = now;
    }
}

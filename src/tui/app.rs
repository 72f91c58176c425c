//! The TUI's state: plain data, changed only by the key, mouse and tick
//! handlers here, read by the drawing code in [`super::ui`].
//!
//! The app owns a [`Runner`] at the current step and a [`History`] of
//! checkpoints. Stepping forward runs the engine; stepping back (or going
//! to any step) restores the last checkpoint before the target and replays
//! from there, so every state the student sees comes from the engine
//! itself.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers, MouseButton, MouseEvent, MouseEventKind};
use ratatui::layout::{Position, Rect};

use super::history::{History, DEFAULT_BUDGET};
use super::quiz::{Quiz, Stage, State};
use super::{events, frames, page_table, regions, ui, working_set};
use crate::event::Event;
use crate::machine::Machine;
use crate::pfn_db::ListCounts;
use crate::process::Process;
use crate::quiz::{mark, parse_miss, Answer, Kind, List, Question, Score, VictimAnswer};
use crate::runner::{ReferenceOutcome, Runner, StepOutcome};
use crate::scenario::Scenario;
use crate::units::{Pfn, ProcessId, Vpn};

/// Auto-run speeds, in steps per second.
pub const SPEEDS: [u32; 10] = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000];
/// Speed used at start: 2 steps a second.
const START_SPEED: usize = 1;

/// The pane that arrow keys act on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Focus {
    /// The physical memory map.
    Frames,
    /// The selected process's VADs and PTEs.
    PageTable,
    /// The selected process's working set in policy order.
    WorkingSet,
    /// The current step's events.
    Events,
}

impl Focus {
    /// The panes in the order `f` cycles through them.
    pub const ALL: [Focus; 4] = [Focus::Frames, Focus::PageTable, Focus::WorkingSet, Focus::Events];

    fn next(self) -> Focus {
        let i = Focus::ALL.iter().position(|&f| f == self).unwrap_or(0);
        Focus::ALL[(i + 1) % Focus::ALL.len()]
    }

    fn prev(self) -> Focus {
        let i = Focus::ALL.iter().position(|&f| f == self).unwrap_or(0);
        Focus::ALL[(i + Focus::ALL.len() - 1) % Focus::ALL.len()]
    }
}

/// Something the inspector can show.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    /// A frame's PFN entry (the debugger's `!pfn`).
    Frame(Pfn),
    /// A virtual page's PTE (the debugger's `!pte`).
    Page(ProcessId, Vpn),
    /// The VAD starting at this page.
    Vad(ProcessId, Vpn),
}

/// What is drawn over the panes, and takes the keys.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Overlay {
    /// Nothing: keys go to the panes.
    None,
    /// The key list.
    Help {
        /// First line shown.
        scroll: usize,
    },
    /// The "go to step" prompt.
    Goto {
        /// Digits typed so far.
        digits: String,
    },
    /// The list of event kinds to run to.
    Breakpoint {
        /// Index into [`Event::KINDS`].
        selected: usize,
    },
    /// A PFN entry, PTE or VAD.
    Inspect(Target),
}

/// Whether steps run by themselves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Run {
    /// Only on keys.
    Paused,
    /// At the chosen speed.
    Auto,
    /// As fast as possible until a step emits an event of this kind.
    UntilKind(&'static str),
}

/// A selection in a list pane: the selected row and the first row shown.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Cursor {
    /// Selected row.
    pub pos: usize,
    /// First row shown (kept so the selection stays in view).
    pub top: usize,
}

impl Cursor {
    /// Moves by `delta` rows within `len`, scrolling so the selection stays
    /// within `visible` rows.
    fn move_by(&mut self, delta: isize, len: usize, visible: usize) {
        let max = len.saturating_sub(1) as isize;
        self.pos = (self.pos as isize + delta).clamp(0, max) as usize;
        self.top = scrolled(self.top, self.pos, visible);
    }

    fn set(&mut self, pos: usize, len: usize, visible: usize) {
        self.pos = pos.min(len.saturating_sub(1));
        self.top = scrolled(self.top, self.pos, visible);
    }
}

/// The first row to show so that `pos` is visible in `visible` rows,
/// moving `top` as little as possible.
pub fn scrolled(top: usize, pos: usize, visible: usize) -> usize {
    if visible == 0 || pos < top {
        pos
    } else if pos >= top + visible {
        pos + 1 - visible
    } else {
        top
    }
}

/// The whole state of the terminal UI.
pub struct App {
    runner: Runner,
    last: Option<StepOutcome>,
    /// The last reference stepped at reference grain: (step, reference,
    /// references in the step); cleared by moves at step grain.
    reference: Option<(usize, u64, u64)>,
    history: History,
    lists: Vec<ListCounts>,
    /// Pane the arrows act on.
    pub focus: Focus,
    process: usize,
    frame: Pfn,
    regions: bool,
    page: Cursor,
    ws: Cursor,
    log: Cursor,
    overlay: Overlay,
    run: Run,
    speed: usize,
    pending: f64,
    breakpoint: usize,
    message: Option<String>,
    size: (u16, u16),
    quit: bool,
    /// The quiz, while quiz mode is on.
    quiz: Option<Quiz>,
}

impl App {
    /// An app at step 0 of `scenario`, for a terminal of `size` (columns, rows).
    pub fn new(scenario: Arc<Scenario>, size: (u16, u16)) -> Result<App, String> {
        App::with_budget(scenario, size, DEFAULT_BUDGET)
    }

    /// As [`App::new`], with a byte budget for the step-back checkpoints.
    pub fn with_budget(scenario: Arc<Scenario>, size: (u16, u16), budget: usize) -> Result<App, String> {
        let runner = Runner::new(scenario, true)?;
        let history = History::new(&runner, budget);
        let lists = vec![runner.machine().pfn_db().counts()];
        Ok(App {
            runner,
            last: None,
            reference: None,
            history,
            lists,
            focus: Focus::Frames,
            process: 0,
            frame: Pfn(0),
            regions: false,
            page: Cursor::default(),
            ws: Cursor::default(),
            log: Cursor::default(),
            overlay: Overlay::None,
            run: Run::Paused,
            speed: START_SPEED,
            pending: 0.0,
            breakpoint: Event::KINDS.iter().position(|k| *k == "hard_fault").unwrap_or(0),
            message: None,
            size,
            quit: false,
            quiz: None,
        })
    }

    // ----- read-only views for drawing -------------------------------------

    /// The runner at the current step.
    pub fn runner(&self) -> &Runner {
        &self.runner
    }

    /// The machine at the current step.
    pub fn machine(&self) -> &Machine {
        self.runner.machine()
    }

    /// The machine, for tests that reach states no scenario step gives
    /// (stepping back would replay the scenario without them).
    #[cfg(test)]
    pub(crate) fn machine_mut(&mut self) -> &mut Machine {
        self.runner.machine_mut()
    }

    /// The scenario.
    pub fn scenario(&self) -> &Scenario {
        self.runner.scenario()
    }

    /// Steps run so far (the current step number; 0 before the first).
    pub fn step(&self) -> usize {
        self.runner.steps_done()
    }

    /// Steps in the scenario.
    pub fn total_steps(&self) -> usize {
        self.runner.scenario().steps.len()
    }

    /// Where stepping by reference stands: (step, references made, references
    /// in the step), inside a touch or refs step or just after a reference
    /// stepped alone; `None` at step grain.
    pub fn reference_position(&self) -> Option<(usize, u64, u64)> {
        match self.runner.reference_position() {
            Some((k, m)) => Some((self.runner.steps_done() + 1, k, m)),
            None => self.reference.filter(|r| r.0 == self.runner.steps_done()),
        }
    }

    /// What the current step did (`None` at step 0): inside a step, the
    /// events of the references made so far, without checks.
    pub fn last_outcome(&self) -> Option<&StepOutcome> {
        self.last.as_ref()
    }

    /// Page-list counts after each step reached so far, up to the current one.
    pub fn list_history(&self) -> &[ListCounts] {
        &self.lists[..=self.step().min(self.lists.len() - 1)]
    }

    /// The checkpoints.
    pub fn history(&self) -> &History {
        &self.history
    }

    /// The selected process, if the machine has any.
    pub fn process(&self) -> Option<&Process> {
        self.machine().processes().get(self.process)
    }

    /// Index of the selected process.
    pub fn process_index(&self) -> usize {
        self.process
    }

    /// The selected frame.
    pub fn frame(&self) -> Pfn {
        self.frame
    }

    /// Whether the memory map shows large-page regions rather than frames
    /// (only on a machine with a contiguity index).
    pub fn region_view(&self) -> bool {
        self.regions && self.machine().pfn_db().contiguity().is_some()
    }

    /// The page-table selection.
    pub fn page_cursor(&self) -> Cursor {
        self.page
    }

    /// The working-set selection.
    pub fn ws_cursor(&self) -> Cursor {
        self.ws
    }

    /// The event-log selection.
    pub fn log_cursor(&self) -> Cursor {
        self.log
    }

    /// The overlay shown.
    pub fn overlay(&self) -> &Overlay {
        &self.overlay
    }

    /// Whether steps run by themselves.
    pub fn run_state(&self) -> Run {
        self.run
    }

    /// Auto-run speed in steps per second.
    pub fn speed(&self) -> u32 {
        SPEEDS[self.speed]
    }

    /// The status message, if any.
    pub fn message(&self) -> Option<&str> {
        self.message.as_deref()
    }

    /// Terminal size (columns, rows).
    pub fn size(&self) -> (u16, u16) {
        self.size
    }

    /// Whether the user asked to quit.
    pub fn should_quit(&self) -> bool {
        self.quit
    }

    /// The quiz, while quiz mode is on.
    pub fn quiz(&self) -> Option<&Quiz> {
        self.quiz.as_ref()
    }

    // ----- the quiz ----------------------------------------------------------

    /// Turns quiz mode on (`t`): from here, before each memory reference,
    /// the app asks what it will do.
    pub fn start_quiz(&mut self) {
        self.run = Run::Paused;
        self.overlay = Overlay::None;
        self.quiz = Some(Quiz { score: Score::default(), answered: 0, state: State::Done });
        self.quiz_next();
    }

    /// Asks about the next reference: steps a copy of the runner one
    /// reference ahead for the truth. Steps that make no reference, and
    /// references that are neither a hit nor a miss, are made on the way.
    fn quiz_next(&mut self) {
        let mut ran = Vec::new();
        let state = loop {
            if self.runner.finished() {
                break State::Done;
            }
            let mut ahead = self.runner.clone();
            let Some(o) = ahead.step_reference() else { break State::Done };
            match (&o.reference, Question::of_reference(ahead.machine(), &o)) {
                (Some(r), Some(q)) if q.is_asked() => {
                    let i = r.pid.0 as isize - self.process as isize;
                    if i != 0 {
                        self.switch_process(i);
                    }
                    break State::Asking {
                        question: Box::new(q),
                        base: r.base,
                        stage: Stage::HitMiss,
                        answer: Answer::default(),
                    };
                }
                _ => {
                    if let Some(done) = self.reference_forward() {
                        ran.push(done.step);
                    }
                    self.settle();
                }
            }
        };
        if !ran.is_empty() {
            ran.dedup();
            let list = ran.iter().map(usize::to_string).collect::<Vec<_>>().join(", ");
            self.message = Some(format!("quiz: ran step {list}: no reference to ask about"));
        }
        if state == State::Done {
            let s = self.quiz.as_ref().map_or(Score::default(), |q| q.score);
            self.message =
                Some(format!("quiz: the end of the scenario; score {} of {} ({}%)", s.score, s.asked, s.percent()));
        }
        if let Some(q) = &mut self.quiz {
            q.state = state;
        }
    }

    /// The open question's answer is complete: marks it, makes the
    /// reference and shows the marks.
    fn quiz_answered(&mut self) {
        let Some(quiz) = &mut self.quiz else { return };
        let State::Asking { question, answer, .. } = std::mem::replace(&mut quiz.state, State::Done) else { return };
        let marks = mark(&question, &answer, true);
        quiz.score.add(&marks);
        quiz.answered += 1;
        quiz.state = State::Answered { question, marks };
        self.reference_forward();
        self.settle();
        if self.focus == Focus::WorkingSet {
            self.focus = Focus::Events;
        }
    }

    /// Keys while quiz mode is on; false for a key it leaves to the panes.
    fn key_quiz(&mut self, key: KeyEvent) -> bool {
        let Some(quiz) = &self.quiz else { return false };
        if key.code == KeyCode::Esc {
            self.quiz = None;
            self.message = Some("quiz mode off (t turns it on again)".into());
            return true;
        }
        let text = match key.code {
            KeyCode::Char(c) => c.to_ascii_lowercase().to_string(),
            _ => String::new(),
        };
        match quiz.state.clone() {
            State::Asking { stage, mut answer, question, base } => {
                let next = match stage {
                    Stage::HitMiss => match parse_miss(&text).filter(|_| text != "f") {
                        Some(miss) => {
                            answer.miss = miss;
                            if miss {
                                Some(Stage::Kind)
                            } else {
                                None
                            }
                        }
                        None => return self.quiz_other(key, "answer h (hit) or m (miss)"),
                    },
                    Stage::Kind => match Kind::parse(&text) {
                        Some(k) => {
                            answer.kind = Some(k);
                            self.focus = Focus::WorkingSet;
                            Some(Stage::Victim)
                        }
                        None => return self.quiz_other(key, "answer z (demand zero), s (soft) or h (hard)"),
                    },
                    Stage::Victim => {
                        let pick = match key.code {
                            KeyCode::Char('-') | KeyCode::Char('0') => Some(VictimAnswer::None),
                            KeyCode::Char(c @ '1'..='9') => self.ws_page(c as usize - '1' as usize, base),
                            KeyCode::Enter => self.ws_page(self.ws.pos, base),
                            KeyCode::Up
                            | KeyCode::Down
                            | KeyCode::Char('j' | 'k')
                            | KeyCode::PageUp
                            | KeyCode::PageDown => {
                                self.focus = Focus::WorkingSet;
                                self.key_normal(key);
                                return true;
                            }
                            _ => None,
                        };
                        match pick {
                            Some(v) => {
                                answer.victim = Some(v);
                                if matches!(v, VictimAnswer::Page(_)) {
                                    Some(Stage::List)
                                } else {
                                    None
                                }
                            }
                            None => {
                                return self
                                    .quiz_other(key, "pick the victim in the working set (Enter), 1-9, or - for none")
                            }
                        }
                    }
                    Stage::List => match List::parse(&text) {
                        Some(l) => {
                            answer.list = Some(l);
                            None
                        }
                        None => return self.quiz_other(key, "answer s (standby) or m (modified)"),
                    },
                };
                let quiz = self.quiz.as_mut().expect("quiz mode");
                match next {
                    Some(stage) => quiz.state = State::Asking { question, base, stage, answer },
                    None => {
                        quiz.state = State::Asking { question, base, stage, answer };
                        self.quiz_answered();
                    }
                }
                true
            }
            State::Answered { .. } => match key.code {
                KeyCode::Enter | KeyCode::Char('.') | KeyCode::Char(' ') | KeyCode::Char('n') => {
                    self.quiz_next();
                    true
                }
                _ => self.quiz_other(key, "Enter or . for the next question, Esc to leave the quiz"),
            },
            State::Done => match key.code {
                KeyCode::Home => {
                    self.goto(0);
                    self.start_quiz();
                    true
                }
                _ => self.quiz_other(key, "no references left: Home starts again, Esc leaves the quiz"),
            },
        }
    }

    /// A key that answers nothing: looking around (process, focus,
    /// selection, inspector, help) still works; anything else is refused
    /// with `hint`.
    fn quiz_other(&mut self, key: KeyEvent, hint: &str) -> bool {
        let looking = matches!(
            key.code,
            KeyCode::Tab
                | KeyCode::BackTab
                | KeyCode::Char('f' | 'F' | 'x' | 'v' | '?' | 'j' | 'k' | 'l')
                | KeyCode::Left
                | KeyCode::Right
                | KeyCode::Up
                | KeyCode::Down
                | KeyCode::PageUp
                | KeyCode::PageDown
        );
        if looking {
            self.key_normal(key);
        } else {
            self.message = Some(format!("quiz: {hint}"));
        }
        true
    }

    /// The page at place `i` of the selected process's working set, in
    /// the quiz's numbering (from `base`).
    fn ws_page(&self, i: usize, base: Vpn) -> Option<VictimAnswer> {
        let e = working_set::entry_at(self.process()?, i)?;
        Some(VictimAnswer::Page(e.vpn.0 as i64 - base.0 as i64))
    }

    // ----- moving through the scenario -------------------------------------

    /// Runs the next step; false at the end. A checkpoint due for the
    /// state before the step is taken first; one due after it waits for
    /// [`App::idle`] or the next step, so the step is drawn at once.
    pub fn step_forward(&mut self) -> bool {
        if self.runner.finished() {
            return false;
        }
        self.history.record(&self.runner);
        let Some(outcome) = self.runner.step() else { return false };
        self.step_done(outcome);
        self.reference = None;
        true
    }

    /// Records a finished step: its list counts for the history chart, its outcome.
    fn step_done(&mut self, outcome: StepOutcome) {
        let s = self.runner.steps_done();
        let counts = self.runner.machine().pfn_db().counts();
        if s < self.lists.len() {
            self.lists[s] = counts;
        } else {
            self.lists.push(counts);
        }
        self.last = Some(outcome);
    }

    /// Makes the next memory reference (a step that makes none runs whole);
    /// `None` at the end. Checkpoints are taken only between steps.
    pub fn reference_forward(&mut self) -> Option<ReferenceOutcome> {
        if self.runner.finished() {
            return None;
        }
        self.history.record(&self.runner);
        let mut o = self.runner.step_reference()?;
        self.reference = Some((o.step, o.index, o.total));
        match o.finished.take() {
            Some(f) => {
                self.step_done(f.clone());
                o.finished = Some(f);
            }
            None => self.last = self.runner.step_so_far(),
        }
        Some(o)
    }

    /// Goes one memory reference back: to the reference before in this
    /// step, or to the last one of the step before. The state is rebuilt
    /// from the start of the step (itself restored from a checkpoint and
    /// replayed); false at the start.
    pub fn reference_back(&mut self) -> bool {
        let (step, k) = match self.runner.reference_position() {
            Some((k, _)) => (self.runner.steps_done(), k - 1),
            None => {
                let s = self.runner.steps_done();
                if s == 0 {
                    return false;
                }
                (s - 1, self.runner.references_of(s - 1).saturating_sub(1))
            }
        };
        self.goto(step);
        for _ in 0..k {
            self.reference_forward();
        }
        if k == 0 && step > 0 {
            // At the end of a step: the reference that finished it.
            let m = self.runner.references_of(step - 1);
            self.reference = Some((step, m, m));
        }
        self.settle();
        true
    }

    /// Says what the reference did, in the message line.
    fn describe(&mut self, o: &ReferenceOutcome) {
        let Some(r) = &o.reference else {
            let op = o.finished.as_ref().map_or("", |f| f.op);
            self.message = Some(format!("step {}: {op} (no memory references: run whole)", o.step));
            return;
        };
        let m = self.runner.machine();
        let how = match &r.result {
            Ok(crate::machine::Resolution::Hit) => "hit".to_string(),
            Ok(res) => format!("{} fault", crate::runner::resolution_name(*res)),
            Err(e) => e.name(),
        };
        let victim = r.victim.map_or(String::new(), |v| format!(", evicted page {v}"));
        self.message = Some(format!(
            "reference {} of {}: {} {} page {}: {how}{victim}",
            o.index,
            o.total,
            m.name_of(r.pid),
            match r.access {
                crate::machine::AccessKind::Read => "reads",
                crate::machine::AccessKind::Write => "writes",
                crate::machine::AccessKind::Execute => "executes",
            },
            r.vpn
        ));
    }

    /// Work to do while waiting for input: takes a due checkpoint.
    pub fn idle(&mut self) {
        self.history.record(&self.runner);
    }

    /// Goes to step `target` (clamped to the scenario): forward by running,
    /// back by restoring the last checkpoint before it and replaying.
    pub fn goto(&mut self, target: usize) {
        let target = target.min(self.total_steps());
        let current = self.step();
        let inside = self.runner.reference_position().is_some();
        self.reference = None;
        if target == current && !inside {
            self.settle();
            return;
        }
        let from = self.history.before(target);
        if target < current || (inside && target == current) || from.steps_done() > current {
            self.runner = from.clone();
            self.last = None;
        }
        while self.step() < target && self.step_forward() {}
        self.settle();
    }

    /// Goes one step back; false at step 0.
    pub fn step_back(&mut self) -> bool {
        if self.step() == 0 {
            return false;
        }
        self.goto(self.step() - 1);
        true
    }

    /// Keeps selections valid after the step changed.
    fn settle(&mut self) {
        self.log = Cursor::default();
        let n = self.machine().processes().len();
        self.process = self.process.min(n.saturating_sub(1));
        let (pages, ws) = self.process().map_or((0, 0), |p| (page_table::row_count(p), p.ws.len() as usize));
        let (pv, wv) = (self.visible_rows(Focus::PageTable), self.visible_rows(Focus::WorkingSet));
        self.page.set(self.page.pos, pages, pv);
        self.ws.set(self.ws.pos, ws, wv);
    }

    /// Advances auto-run or a run to a breakpoint; called by the event loop
    /// with the time since the last call. Works for at most `budget` of
    /// wall time so keys stay responsive.
    pub fn tick(&mut self, elapsed: Duration, budget: Duration) {
        let start = Instant::now();
        match self.run {
            Run::Paused => self.pending = 0.0,
            Run::Auto => {
                self.pending = (self.pending + elapsed.as_secs_f64() * self.speed() as f64).min(1000.0);
                let mut stepped = false;
                while self.pending >= 1.0 && start.elapsed() < budget {
                    self.pending -= 1.0;
                    if !self.step_forward() {
                        self.run = Run::Paused;
                        self.message = Some(format!("end of the scenario (step {})", self.step()));
                        break;
                    }
                    stepped = true;
                }
                if stepped {
                    self.settle();
                }
            }
            Run::UntilKind(kind) => {
                loop {
                    let Some(o) = self.reference_forward() else {
                        self.run = Run::Paused;
                        self.message = Some(format!("end of the scenario: no further {kind} event"));
                        break;
                    };
                    if let Some(j) = o.events.iter().position(|e| e.kind() == kind) {
                        // The event's place among the step's events so far.
                        let n = self.last.as_ref().map_or(0, |l| l.events.len());
                        let i = (n + j).saturating_sub(o.events.len());
                        self.run = Run::Paused;
                        self.message = Some(if o.reference.is_some() {
                            format!("breakpoint: {kind} at step {}, reference {} of {}", o.step, o.index, o.total)
                        } else {
                            format!("breakpoint: {kind} at step {}", o.step)
                        });
                        self.settle();
                        let items = events::items(self);
                        let at = items.iter().position(|it| it.event == Some(i)).unwrap_or(0);
                        self.set_log(at);
                        return;
                    }
                    if start.elapsed() >= budget {
                        break;
                    }
                }
                self.settle();
            }
        }
    }

    /// Runs a breakpoint search or auto-run until it stops by itself
    /// (for tests and scripts).
    pub fn run_until_paused(&mut self) {
        while self.run != Run::Paused {
            self.tick(Duration::from_secs(1), Duration::from_secs(3600));
        }
    }

    // ----- input -------------------------------------------------------------

    /// The terminal was resized.
    pub fn resize(&mut self, cols: u16, rows: u16) {
        self.size = (cols, rows);
        self.settle_scroll();
    }

    fn settle_scroll(&mut self) {
        let (pv, wv) = (self.visible_rows(Focus::PageTable), self.visible_rows(Focus::WorkingSet));
        self.page.top = scrolled(self.page.top, self.page.pos, pv);
        self.ws.top = scrolled(self.ws.top, self.ws.pos, wv);
    }

    /// Handles one key press.
    pub fn on_key(&mut self, key: KeyEvent) {
        if key.kind == KeyEventKind::Release {
            return;
        }
        if key.code == KeyCode::Char('c') && key.modifiers.contains(KeyModifiers::CONTROL) {
            self.quit = true;
            return;
        }
        if key.code == KeyCode::Char('q') {
            self.quit = true;
            return;
        }
        self.message = None;
        if self.overlay == Overlay::None && self.key_quiz(key) {
            return;
        }
        match self.overlay.clone() {
            Overlay::None => self.key_normal(key),
            Overlay::Help { scroll } => self.key_help(key, scroll),
            Overlay::Goto { digits } => self.key_goto(key, digits),
            Overlay::Breakpoint { selected } => self.key_breakpoint(key, selected),
            Overlay::Inspect(t) => self.key_inspect(key, t),
        }
    }

    /// Step and run keys, shared by the panes and the inspector.
    fn key_step(&mut self, key: KeyEvent) -> bool {
        match key.code {
            KeyCode::Char('n') | KeyCode::Char(' ') => {
                self.run = Run::Paused;
                if self.step_forward() {
                    self.settle();
                } else {
                    self.message = Some(format!("end of the scenario (step {})", self.step()));
                }
            }
            KeyCode::Char('.') => {
                self.run = Run::Paused;
                match self.reference_forward() {
                    Some(o) => {
                        self.describe(&o);
                        self.settle();
                    }
                    None => self.message = Some(format!("end of the scenario (step {})", self.step())),
                }
            }
            KeyCode::Char(',') => {
                self.run = Run::Paused;
                if !self.reference_back() {
                    self.message = Some("at the start: nothing to step back to".into());
                }
            }
            KeyCode::Char('p') | KeyCode::Backspace => {
                self.run = Run::Paused;
                if !self.step_back() {
                    self.message = Some("at the start: nothing to step back to".into());
                }
            }
            KeyCode::Char('r') => {
                if self.run != Run::Paused {
                    self.run = Run::Paused;
                } else if self.runner.finished() {
                    self.message = Some("end of the scenario: press Home to start again".into());
                } else {
                    self.run = Run::Auto;
                    self.pending = 1.0;
                }
            }
            KeyCode::Char('+') | KeyCode::Char('=') => {
                self.speed = (self.speed + 1).min(SPEEDS.len() - 1);
                self.message = Some(format!("speed: {} steps/s", self.speed()));
            }
            KeyCode::Char('-') | KeyCode::Char('_') => {
                self.speed = self.speed.saturating_sub(1);
                self.message = Some(format!("speed: {} steps/s", self.speed()));
            }
            KeyCode::Char('G') | KeyCode::End => {
                self.run = Run::Paused;
                self.goto(self.total_steps());
            }
            KeyCode::Home => {
                self.run = Run::Paused;
                self.goto(0);
            }
            _ => return false,
        }
        true
    }

    fn key_normal(&mut self, key: KeyEvent) {
        if self.key_step(key) {
            return;
        }
        match key.code {
            KeyCode::Esc => self.quit = true,
            KeyCode::Char('?') => self.overlay = Overlay::Help { scroll: 0 },
            KeyCode::Char('g') => {
                self.run = Run::Paused;
                self.overlay = Overlay::Goto { digits: String::new() }
            }
            KeyCode::Char('b') => {
                self.run = Run::Paused;
                self.overlay = Overlay::Breakpoint { selected: self.breakpoint }
            }
            KeyCode::Tab => self.switch_process(1),
            KeyCode::BackTab => self.switch_process(-1),
            KeyCode::Char('f') => self.focus = self.focus.next(),
            KeyCode::Char('F') => self.focus = self.focus.prev(),
            KeyCode::Left | KeyCode::Char('h') => self.move_selection(-1, 0),
            KeyCode::Right | KeyCode::Char('l') => self.move_selection(1, 0),
            KeyCode::Up | KeyCode::Char('k') => self.move_selection(0, -1),
            KeyCode::Down | KeyCode::Char('j') => self.move_selection(0, 1),
            KeyCode::PageUp => {
                let v = self.visible_rows(self.focus).max(1) as isize;
                self.move_selection(0, -v)
            }
            KeyCode::PageDown => {
                let v = self.visible_rows(self.focus).max(1) as isize;
                self.move_selection(0, v)
            }
            KeyCode::Enter => match self.selection_target() {
                Some(t) => self.overlay = Overlay::Inspect(t),
                None => self.message = Some("nothing to inspect here".into()),
            },
            KeyCode::Char('x') => self.jump(),
            KeyCode::Char('v') => self.toggle_regions(),
            KeyCode::Char('t') => self.start_quiz(),
            _ => {}
        }
    }

    /// `v`: the memory map by frame or by large-page region.
    fn toggle_regions(&mut self) {
        if self.machine().pfn_db().contiguity().is_none() {
            self.regions = false;
            self.message = Some("no region view: this machine has no large pages, so no index of its regions".into());
            return;
        }
        self.regions = !self.regions;
        self.message = Some(if self.regions {
            "memory map by large-page region (v: by frame)".into()
        } else {
            "memory map by frame (v: by large-page region)".into()
        });
    }

    fn key_help(&mut self, key: KeyEvent, scroll: usize) {
        match key.code {
            KeyCode::Esc | KeyCode::Char('?') | KeyCode::Enter => self.overlay = Overlay::None,
            KeyCode::Down | KeyCode::Char('j') => self.overlay = Overlay::Help { scroll: scroll + 1 },
            KeyCode::Up | KeyCode::Char('k') => self.overlay = Overlay::Help { scroll: scroll.saturating_sub(1) },
            KeyCode::PageDown => self.overlay = Overlay::Help { scroll: scroll + 10 },
            KeyCode::PageUp => self.overlay = Overlay::Help { scroll: scroll.saturating_sub(10) },
            _ => {}
        }
        if let Overlay::Help { scroll } = &mut self.overlay {
            *scroll = (*scroll).min(super::help::line_count().saturating_sub(1));
        }
    }

    fn key_goto(&mut self, key: KeyEvent, mut digits: String) {
        match key.code {
            KeyCode::Esc => self.overlay = Overlay::None,
            KeyCode::Enter => {
                self.overlay = Overlay::None;
                match digits.parse::<usize>() {
                    Ok(n) => {
                        if n > self.total_steps() {
                            self.message =
                                Some(format!("the scenario has {} steps: went to the end", self.total_steps()));
                        }
                        self.goto(n);
                    }
                    Err(_) => self.message = Some("type a step number, then Enter".into()),
                }
            }
            KeyCode::Backspace => {
                digits.pop();
                self.overlay = Overlay::Goto { digits };
            }
            KeyCode::Char(c) if c.is_ascii_digit() && digits.len() < 9 => {
                digits.push(c);
                self.overlay = Overlay::Goto { digits };
            }
            _ => {}
        }
    }

    fn key_breakpoint(&mut self, key: KeyEvent, selected: usize) {
        let n = Event::KINDS.len();
        let set = |app: &mut App, s: usize| app.overlay = Overlay::Breakpoint { selected: s };
        match key.code {
            KeyCode::Esc => self.overlay = Overlay::None,
            KeyCode::Up | KeyCode::Char('k') => set(self, (selected + n - 1) % n),
            KeyCode::Down | KeyCode::Char('j') => set(self, (selected + 1) % n),
            KeyCode::Home => set(self, 0),
            KeyCode::End => set(self, n - 1),
            KeyCode::Enter => {
                self.overlay = Overlay::None;
                self.breakpoint = selected;
                let kind = Event::KINDS[selected];
                if self.runner.finished() {
                    self.message = Some(format!("end of the scenario: no further {kind} event"));
                } else {
                    self.run = Run::UntilKind(kind);
                    self.message = Some(format!("running to the next {kind} event..."));
                }
            }
            _ => {}
        }
    }

    fn key_inspect(&mut self, key: KeyEvent, target: Target) {
        if self.key_step(key) {
            return;
        }
        let frames = self.machine().pfn_db().frames();
        match key.code {
            KeyCode::Esc | KeyCode::Enter => self.overlay = Overlay::None,
            KeyCode::Char('?') => self.overlay = Overlay::Help { scroll: 0 },
            KeyCode::Char('x') => match self.other_side(target) {
                Ok(t) => {
                    self.select(t);
                    self.overlay = Overlay::Inspect(t);
                }
                Err(m) => self.message = Some(m),
            },
            KeyCode::Left | KeyCode::Char('h') | KeyCode::Up | KeyCode::Char('k') => {
                let t = match target {
                    Target::Frame(p) => Target::Frame(Pfn(p.0.saturating_sub(1))),
                    Target::Page(pid, v) => Target::Page(pid, Vpn(v.0.saturating_sub(1))),
                    t => t,
                };
                self.select(t);
                self.overlay = Overlay::Inspect(t);
            }
            KeyCode::Right | KeyCode::Char('l') | KeyCode::Down | KeyCode::Char('j') => {
                let t = match target {
                    Target::Frame(p) => Target::Frame(Pfn((p.0 + 1).min(frames.saturating_sub(1)))),
                    Target::Page(pid, v) => Target::Page(pid, v.offset(1)),
                    t => t,
                };
                self.select(t);
                self.overlay = Overlay::Inspect(t);
            }
            _ => {}
        }
    }

    /// Handles a mouse event: a click focuses a pane and selects what is
    /// under the pointer; the wheel moves the selection.
    pub fn on_mouse(&mut self, m: MouseEvent) {
        if self.overlay != Overlay::None {
            if let MouseEventKind::Down(_) = m.kind {
                if !matches!(self.overlay, Overlay::Inspect(_)) {
                    self.overlay = Overlay::None;
                }
            }
            return;
        }
        let areas = ui::areas(self.screen());
        let at = Position::new(m.column, m.row);
        let Some((focus, rect)) = areas.pane_at(at) else { return };
        match m.kind {
            MouseEventKind::Down(MouseButton::Left) => {
                self.focus = focus;
                self.click(focus, rect, at);
            }
            MouseEventKind::ScrollDown => {
                self.focus = focus;
                self.move_selection(0, 1);
            }
            MouseEventKind::ScrollUp => {
                self.focus = focus;
                self.move_selection(0, -1);
            }
            _ => {}
        }
    }

    fn click(&mut self, focus: Focus, rect: Rect, at: Position) {
        let inner = ui::inner(rect);
        if !inner.contains(at) {
            return;
        }
        let row = (at.y - inner.y) as usize;
        match focus {
            Focus::Frames => {
                let map = frames::map_area(inner);
                let (g, per) = self.map_geometry(map);
                if let Some(unit) = g.pfn_at(at.x - map.x, at.y.wrapping_sub(map.y)) {
                    self.frame = Pfn(unit * per);
                }
            }
            Focus::PageTable => {
                let len = self.process().map_or(0, page_table::row_count);
                let pos = self.page.top + row;
                if pos < len {
                    self.page.pos = pos;
                }
            }
            Focus::WorkingSet => {
                let len = self.process().map_or(0, |p| p.ws.len() as usize);
                if row >= working_set::HEADER_ROWS {
                    let pos = self.ws.top + row - working_set::HEADER_ROWS;
                    if pos < len {
                        self.ws.pos = pos;
                    }
                }
            }
            Focus::Events => {
                let items = events::items(self);
                let height = |i: usize| events::height(self, &items[i], inner.width);
                let top = events::top(items.len(), height, self.log.top, self.log.pos, inner.height as usize);
                let mut y = 0;
                let mut hit = None;
                for i in top..items.len() {
                    let h = height(i);
                    if row < y + h {
                        hit = Some(i);
                        break;
                    }
                    y += h;
                }
                if let Some(i) = hit {
                    self.log.pos = i;
                }
                self.log.top = top;
            }
        }
    }

    // ----- selections ----------------------------------------------------------

    fn screen(&self) -> Rect {
        Rect::new(0, 0, self.size.0, self.size.1)
    }

    /// Rows of list content the pane shows at the current size.
    fn visible_rows(&self, focus: Focus) -> usize {
        let a = ui::areas(self.screen());
        match focus {
            Focus::Frames => frames::map_area(ui::inner(a.frames)).height as usize,
            Focus::PageTable => ui::inner(a.pages).height as usize,
            Focus::WorkingSet => (ui::inner(a.ws).height as usize).saturating_sub(working_set::HEADER_ROWS),
            Focus::Events => ui::inner(a.events).height as usize,
        }
    }

    /// The memory map's layout in `map`, and the frames of one of its
    /// units: one frame, or one large-page region in the region view.
    fn map_geometry(&self, map: Rect) -> (frames::Geometry, u32) {
        let db = self.machine().pfn_db();
        match db.contiguity().filter(|_| self.regions) {
            Some(c) => (regions::geometry(c, db.frames(), map), c.size().frames()),
            None => (frames::Geometry::new(db, map.width, map.height), 1),
        }
    }

    fn switch_process(&mut self, delta: isize) {
        let n = self.machine().processes().len();
        if n == 0 {
            return;
        }
        self.process = (self.process as isize + delta).rem_euclid(n as isize) as usize;
        self.page = Cursor::default();
        self.ws = Cursor::default();
    }

    fn move_selection(&mut self, dx: isize, dy: isize) {
        match self.focus {
            Focus::Frames => {
                let a = ui::areas(self.screen());
                let map = frames::map_area(ui::inner(a.frames));
                let (g, per) = self.map_geometry(map);
                self.frame = Pfn(g.moved(self.frame.0 / per, dx, dy) * per);
            }
            Focus::PageTable => {
                let len = self.process().map_or(0, page_table::row_count);
                let v = self.visible_rows(Focus::PageTable);
                self.page.move_by(dx + dy, len, v);
            }
            Focus::WorkingSet => {
                let len = self.process().map_or(0, |p| p.ws.len() as usize);
                let v = self.visible_rows(Focus::WorkingSet);
                self.ws.move_by(dx + dy, len, v);
            }
            Focus::Events => {
                let len = events::items(self).len();
                let pos = (self.log.pos as isize + dx + dy).clamp(0, len.saturating_sub(1) as isize) as usize;
                self.set_log(pos);
            }
        }
    }

    fn set_log(&mut self, pos: usize) {
        let a = ui::areas(self.screen());
        let inner = ui::inner(a.events);
        let items = events::items(self);
        let pos = pos.min(items.len().saturating_sub(1));
        let height = |i: usize| events::height(self, &items[i], inner.width);
        let top = events::top(items.len(), height, self.log.top, pos, inner.height as usize);
        self.log = Cursor { pos, top };
    }

    /// What Enter would inspect in the focused pane.
    pub fn selection_target(&self) -> Option<Target> {
        match self.focus {
            Focus::Frames => Some(Target::Frame(self.frame)),
            Focus::PageTable => {
                let p = self.process()?;
                match page_table::row_at(p, self.page.pos)? {
                    page_table::Row::Vad(v) => Some(Target::Vad(p.id, v.start)),
                    page_table::Row::Page(vpn, _) => Some(Target::Page(p.id, vpn)),
                }
            }
            Focus::WorkingSet => {
                let p = self.process()?;
                let e = working_set::entry_at(p, self.ws.pos)?;
                Some(Target::Page(p.id, e.vpn))
            }
            Focus::Events => events::items(self).get(self.log.pos)?.target,
        }
    }

    /// The PTE for a frame (its owner's page) or the frame for a PTE.
    fn other_side(&self, t: Target) -> Result<Target, String> {
        let m = self.machine();
        match t {
            // An AWE frame has no owner in its PFN entry: its process's
            // AWE pages say where it is mapped.
            Target::Frame(pfn) => {
                match m.pfn_db().entry(pfn).owner().or_else(|| match super::inspect::awe_owner(m, pfn) {
                    Some((pid, Some(vpn))) => Some((pid, vpn)),
                    _ => None,
                }) {
                    Some((pid, vpn)) if m.process(pid).is_some() => Ok(Target::Page(pid, vpn)),
                    _ => Err(format!("{pfn} maps no page ({})", m.pfn_db().entry(pfn).location().name())),
                }
            }
            Target::Page(pid, vpn) => match m.frame_of(pid, vpn) {
                Some(pfn) => Ok(Target::Frame(pfn)),
                None => {
                    Err(format!("page {vpn} of {} has no frame: its PTE is not valid or transition", m.name_of(pid)))
                }
            },
            Target::Vad(..) => Err("a VAD has no frame: select one of its pages".into()),
        }
    }

    /// Moves the pane selections to show `t`.
    fn select(&mut self, t: Target) {
        match t {
            Target::Frame(pfn) => self.frame = pfn,
            Target::Page(pid, vpn) | Target::Vad(pid, vpn) => {
                if pid.0 as usize != self.process {
                    self.switch_process(pid.0 as isize - self.process as isize);
                }
                let row = self.process().and_then(|p| {
                    if matches!(t, Target::Vad(..)) {
                        page_table::row_of_vad(p, vpn)
                    } else {
                        page_table::row_of(p, vpn)
                    }
                });
                if let Some(r) = row {
                    let len = self.process().map_or(0, page_table::row_count);
                    let v = self.visible_rows(Focus::PageTable);
                    self.page.set(r, len, v);
                }
            }
        }
    }

    /// `x`: from a page to its frame in the map, or from a frame to its
    /// owner's page in the page table.
    fn jump(&mut self) {
        let Some(t) = self.selection_target() else {
            self.message = Some("nothing selected".into());
            return;
        };
        let t = match (self.focus, t) {
            // From an event about a frame, go to the frame; about a page, to its frame.
            (Focus::Events, Target::Frame(p)) => Ok(Target::Frame(p)),
            _ => self.other_side(t),
        };
        match t {
            Ok(t) => {
                self.select(t);
                self.focus = if matches!(t, Target::Frame(_)) { Focus::Frames } else { Focus::PageTable };
            }
            Err(m) => self.message = Some(m),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pfn_db::PageLocation;
    use crate::working_set::NEVER;

    fn app(name: &str, size: (u16, u16)) -> App {
        let s = crate::scenario::resolve(name, &[]).unwrap();
        App::new(Arc::new(s), size).unwrap()
    }

    fn press(app: &mut App, keys: &str) {
        for c in keys.chars() {
            app.on_key(KeyEvent::from(KeyCode::Char(c)));
        }
    }

    fn key(app: &mut App, code: KeyCode) {
        app.on_key(KeyEvent::from(code));
    }

    fn frames(app: &App) -> Vec<PageLocation> {
        app.machine().pfn_db().iter().map(|(_, e)| e.location()).collect()
    }

    /// The process's working set in policy order, as pages from 0x10000.
    fn fifo(a: &App, process: usize) -> Vec<u64> {
        let pid = a.runner().pid(process);
        a.machine().process(pid).unwrap().ws.entries_iter().map(|e| e.vpn.0 - 0x10).collect()
    }

    #[test]
    fn dot_steps_belady_one_reference_at_a_time_and_comma_steps_back() {
        let mut a = app("belady", (120, 40));
        press(&mut a, "nn");
        let mut states = vec![(a.machine().snapshot(), frames(&a))];
        let mut orders = Vec::new();
        for k in 1..=12u64 {
            press(&mut a, ".");
            assert_eq!(a.reference_position(), Some((3, k, 12)));
            states.push((a.machine().snapshot(), frames(&a)));
            orders.push(fifo(&a, 0));
        }
        assert_eq!(orders[3], vec![2, 3, 4]);
        assert_eq!(orders[11], vec![5, 3, 4]);
        assert_eq!(a.step(), 3, "the twelfth reference finishes step 3");
        assert!(a.last_outcome().unwrap().checks.iter().all(|c| c.passed));
        assert_eq!(a.runner().machine().process(a.runner().pid(0)).unwrap().counters.paging.faults(), 9);
        for k in (0..12).rev() {
            press(&mut a, ",");
            assert_eq!((a.machine().snapshot(), frames(&a)), states[k], "back to reference {k}");
        }
        assert_eq!(a.step(), 2);
        assert_eq!(a.reference_position(), Some((2, 1, 1)), "the start of step 3 is the end of step 2");
        press(&mut a, ",");
        assert_eq!(a.reference_position(), Some((1, 1, 1)), "the reserve step is one reference");
        assert_eq!(a.step(), 1);
    }

    /// The keys a student who runs FIFO in their head presses for Belady's
    /// string with `frames` frames: hit, or miss, its kind (first touch:
    /// demand zero; again: soft), the victim's place (FIFO's is the first)
    /// and its list (a demand-zero page is born dirty: modified); `.` after
    /// each answer.
    fn belady_keys(frames: usize, wrong_kind: bool) -> String {
        let mut q = std::collections::VecDeque::new();
        let mut seen = Vec::new();
        let mut keys = String::new();
        for p in [1, 2, 3, 4, 1, 2, 5, 1, 2, 3, 4, 5] {
            if q.contains(&p) {
                keys += "h.";
                continue;
            }
            let kind = if seen.contains(&p) { 's' } else { 'z' };
            keys.push('m');
            keys.push(if wrong_kind { 'h' } else { kind });
            seen.push(p);
            q.push_back(p);
            keys += if q.len() > frames {
                q.pop_front();
                "1m."
            } else {
                "-."
            };
        }
        keys
    }

    #[test]
    fn the_quiz_asks_before_each_reference_and_keeps_the_score() {
        let mut a = app("belady", (120, 40));
        press(&mut a, "t");
        // The two reserve steps make no references: they run on the way.
        assert_eq!(a.step(), 2);
        let Some(State::Asking { question, stage, .. }) = a.quiz().map(|q| &q.state) else { panic!("asking") };
        assert_eq!(*stage, Stage::HitMiss);
        assert_eq!(question.title, "step 3, reference 1 of 12: three reads page 1 (0x11000)");
        assert_eq!(a.runner().reference_position(), None, "the reference is not made before it is answered");
        press(&mut a, "x");
        press(&mut a, "m");
        assert!(matches!(a.quiz().unwrap().state, State::Asking { stage: Stage::Kind, .. }));
        press(&mut a, "z");
        assert_eq!(a.focus, Focus::WorkingSet, "the victim is picked in the working set");
        press(&mut a, "-");
        let Some(State::Answered { marks, question }) = a.quiz().map(|q| &q.state) else { panic!("answered") };
        assert!(marks.iter().all(|m| m.right), "{marks:?}");
        assert_eq!(
            question.explanations,
            vec!["page 0x11000 of three demand-zero fault: got pfn 0x0 from the zeroed list"]
        );
        assert_eq!(a.reference_position(), Some((3, 1, 12)), "answered: the reference is made");
        assert_eq!(a.quiz().unwrap().score, Score { score: 3, asked: 3 });
        press(&mut a, ".");
        // The rest of process three's string, then process four's.
        let keys = belady_keys(3, false);
        press(&mut a, &keys["mz-.".len()..]);
        assert_eq!(a.step(), 3);
        assert_eq!(a.quiz().unwrap().score, Score { score: 36, asked: 36 }, "12 + 9 misses x 2 + 6 victims");
        press(&mut a, &belady_keys(4, true));
        let q = a.quiz().unwrap();
        assert_eq!(q.state, State::Done);
        // Four frames: 12 + 10 x 2 + 6 victims, less the 10 kinds said hard.
        assert_eq!(q.score, Score { score: 36 + 28, asked: 36 + 38 });
        assert_eq!(q.answered, 24);
        assert!(a.message().unwrap().contains("score 64 of 74"), "{:?}", a.message());
        assert_eq!(a.step(), a.total_steps());
        // Esc leaves the quiz; the run's checks held.
        key(&mut a, KeyCode::Esc);
        assert!(a.quiz().is_none() && !a.should_quit());
        assert!(a.runner().checks().iter().all(|c| c.passed));
    }

    #[test]
    fn the_quiz_on_a_generated_string_asks_what_pagelab_quiz_asks() {
        for policy in ["fifo", "lru", "clock", "opt"] {
            let g = crate::tui::Generated { seed: 42, length: 20, pages: 8, frames: 3, policy: policy.into() };
            let mut a = App::new(Arc::new(g.scenario().unwrap()), (80, 24)).unwrap();
            // The key, as pagelab quiz replays the string.
            let refs = crate::quiz::reference_string(42, 20, 8);
            let mut cfg = crate::replay::ReplayConfig::new(crate::working_set::PolicyKind::parse(policy).unwrap(), 3);
            cfg.machine.seed = 42;
            let mut t = crate::replay::Tracer::new(&cfg).unwrap();
            let next = crate::trace::next_uses(&refs);
            a.start_quiz();
            for (i, &p) in refs.iter().enumerate() {
                let n = if policy == "opt" { next[i] } else { NEVER };
                let want = Question::of_trace(&t.step(p, false, n).unwrap(), 20);
                let Some(State::Asking { question, .. }) = a.quiz().map(|q| &q.state) else { panic!("asking") };
                assert_eq!(question.page, want.page, "{policy} {i}");
                assert_eq!(question.result, want.result, "{policy} {i}");
                assert_eq!(question.victims, want.victims, "{policy} {i}");
                assert_eq!(question.explanations.len(), want.explanations.len(), "{policy} {i}");
                press(&mut a, "h.");
            }
            assert_eq!(a.quiz().unwrap().state, State::Done);
        }
    }

    #[test]
    fn quiz_answers_to_other_keys_are_refused_with_the_keys_to_press() {
        let mut a = app("belady", (120, 40));
        press(&mut a, "tm");
        press(&mut a, "y");
        assert_eq!(a.message(), Some("quiz: answer z (demand zero), s (soft) or h (hard)"));
        press(&mut a, "n");
        assert!(matches!(a.quiz().unwrap().state, State::Asking { stage: Stage::Kind, .. }), "n is no answer");
        assert_eq!(a.step(), 2, "and steps nothing");
        key(&mut a, KeyCode::Tab);
        assert_eq!(a.process().unwrap().name, "four", "Tab still looks around");
    }

    #[test]
    fn n_inside_a_step_finishes_it_and_p_goes_back_to_its_start() {
        let mut a = app("belady", (120, 40));
        press(&mut a, "nn.....");
        assert_eq!(a.reference_position(), Some((3, 5, 12)));
        press(&mut a, "n");
        assert_eq!(a.step(), 3);
        assert_eq!(a.reference_position(), None);
        let whole = a.machine().snapshot();
        press(&mut a, "p..");
        assert_eq!(a.step(), 2);
        assert_eq!(a.reference_position(), Some((3, 2, 12)));
        key(&mut a, KeyCode::End);
        assert_eq!(
            format!("{:?}", a.machine().snapshot()),
            format!("{:?}", {
                let mut b = app("belady", (120, 40));
                b.goto(4);
                b.machine().snapshot()
            })
        );
        a.goto(3);
        assert_eq!(format!("{:?}", a.machine().snapshot()), format!("{whole:?}"));
    }

    #[test]
    fn a_breakpoint_stops_at_the_reference_that_raised_the_event() {
        let mut a = app("belady", (120, 40));
        press(&mut a, "b");
        let evicted = Event::KINDS.iter().position(|k| *k == "evicted").unwrap();
        a.overlay = Overlay::Breakpoint { selected: evicted };
        key(&mut a, KeyCode::Enter);
        a.run_until_paused();
        assert_eq!(a.reference_position(), Some((3, 4, 12)), "{:?}", a.message());
        assert_eq!(a.message(), Some("breakpoint: evicted at step 3, reference 4 of 12"));
        assert_eq!(fifo(&a, 0), vec![2, 3, 4]);
        let o = a.last_outcome().unwrap();
        let selected = &events::items(&a)[a.log_cursor().pos];
        assert_eq!(o.events[selected.event.unwrap()].kind(), "evicted");
    }

    #[test]
    fn scripted_keys_forward_and_back_restore_the_exact_state() {
        let mut a = app("tour", (80, 24));
        let mut seen = vec![(a.machine().snapshot(), frames(&a))];
        for _ in 0..a.total_steps() {
            press(&mut a, "n");
            seen.push((a.machine().snapshot(), frames(&a)));
        }
        assert_eq!(a.step(), a.total_steps());
        press(&mut a, "n");
        assert_eq!(a.step(), a.total_steps(), "n at the end stays");
        for back in (0..a.total_steps()).rev() {
            if back % 2 == 0 {
                press(&mut a, "p");
            } else {
                key(&mut a, KeyCode::Backspace);
            }
            assert_eq!(a.step(), back);
            assert_eq!(a.machine().snapshot(), seen[back].0, "snapshot after stepping back to {back}");
            assert_eq!(frames(&a), seen[back].1, "frames after stepping back to {back}");
        }
        assert!(a.last_outcome().is_none());
        // Forward again over the same ground: the same states.
        for (s, want) in seen.iter().enumerate().skip(1).take(6) {
            key(&mut a, KeyCode::Char(' '));
            assert_eq!(a.step(), s);
            assert_eq!(&a.machine().snapshot(), &want.0);
            assert_eq!(frames(&a), want.1);
        }
    }

    #[test]
    fn stepping_back_yields_the_events_of_the_step_it_lands_on() {
        let mut a = app("tour", (80, 24));
        press(&mut a, "nnnn");
        let events4 = a.last_outcome().unwrap().events.clone();
        let checks4 = a.runner().checks().to_vec();
        press(&mut a, "nnpp");
        assert_eq!(a.step(), 4);
        assert_eq!(a.last_outcome().unwrap().events, events4);
        assert_eq!(a.runner().checks(), &checks4[..]);
    }

    #[test]
    fn goto_end_home_and_typed_step() {
        let mut a = app("tour", (80, 24));
        press(&mut a, "G");
        assert_eq!(a.step(), a.total_steps());
        assert!(a.runner().finished());
        key(&mut a, KeyCode::Home);
        assert_eq!(a.step(), 0);
        key(&mut a, KeyCode::End);
        assert_eq!(a.step(), a.total_steps());
        press(&mut a, "g7");
        assert_eq!(a.overlay(), &Overlay::Goto { digits: "7".into() });
        key(&mut a, KeyCode::Enter);
        assert_eq!(a.step(), 7);
        press(&mut a, "g99");
        key(&mut a, KeyCode::Enter);
        assert_eq!(a.step(), a.total_steps());
        press(&mut a, "g3");
        key(&mut a, KeyCode::Esc);
        assert_eq!(a.step(), a.total_steps());
        assert_eq!(a.overlay(), &Overlay::None);
    }

    #[test]
    fn breakpoint_runs_to_the_next_event_of_the_chosen_kind() {
        let mut a = app("tour", (80, 24));
        press(&mut a, "b");
        assert!(matches!(a.overlay(), Overlay::Breakpoint { .. }));
        let hard = Event::KINDS.iter().position(|k| *k == "hard_fault").unwrap();
        // Walk the list to the hard_fault entry from the top.
        key(&mut a, KeyCode::Home);
        for _ in 0..hard {
            key(&mut a, KeyCode::Down);
        }
        key(&mut a, KeyCode::Enter);
        assert_eq!(a.run_state(), Run::UntilKind("hard_fault"));
        a.run_until_paused();
        assert_eq!(a.step(), 10, "the tour's first hard fault is step 10");
        assert!(a.last_outcome().unwrap().events.iter().any(|e| e.kind() == "hard_fault"));
        assert_eq!(a.message(), Some("breakpoint: hard_fault at step 10, reference 1 of 1"));
        // The next one is in the file streaming step.
        press(&mut a, "b");
        key(&mut a, KeyCode::Enter);
        a.run_until_paused();
        assert_eq!(a.reference_position().map(|r| r.0), Some(13), "{:?}", a.message());
        // Each hard fault of that step stops at its own reference, in order.
        let mut at = a.reference_position().unwrap().1;
        loop {
            press(&mut a, "b");
            key(&mut a, KeyCode::Enter);
            a.run_until_paused();
            match a.reference_position() {
                Some((13, k, _)) if a.runner().reference_position().is_some() => {
                    assert!(k > at, "reference {k} after {at}");
                    at = k;
                }
                _ => break,
            }
        }
        if !a.message().unwrap().contains("no further hard_fault") {
            press(&mut a, "b");
            key(&mut a, KeyCode::Enter);
            a.run_until_paused();
        }
        assert_eq!(a.step(), a.total_steps());
        assert!(a.message().unwrap().contains("no further hard_fault"));
    }

    #[test]
    fn auto_run_steps_at_the_chosen_speed_and_stops_at_the_end() {
        let mut a = app("tour", (80, 24));
        press(&mut a, "r");
        assert_eq!(a.run_state(), Run::Auto);
        a.tick(Duration::ZERO, Duration::from_secs(1));
        assert_eq!(a.step(), 1, "the first step comes at once");
        a.tick(Duration::from_millis(500), Duration::from_secs(1));
        assert_eq!(a.step(), 2, "2 steps/s");
        press(&mut a, "+");
        assert_eq!(a.speed(), 5);
        a.tick(Duration::from_millis(400), Duration::from_secs(1));
        assert_eq!(a.step(), 4);
        press(&mut a, "r");
        a.tick(Duration::from_secs(10), Duration::from_secs(1));
        assert_eq!(a.step(), 4, "paused");
        press(&mut a, "r+++++++++");
        a.run_until_paused();
        assert_eq!(a.step(), a.total_steps());
        assert_eq!(a.speed(), 1000);
        press(&mut a, "-");
        assert_eq!(a.speed(), 500);
    }

    #[test]
    fn tab_switches_process_and_focus_cycles() {
        let mut a = app("tour", (80, 24));
        assert_eq!(a.process().unwrap().name, "app");
        key(&mut a, KeyCode::Tab);
        assert_eq!(a.process().unwrap().name, "big");
        key(&mut a, KeyCode::Tab);
        assert_eq!(a.process().unwrap().name, "app");
        key(&mut a, KeyCode::BackTab);
        assert_eq!(a.process().unwrap().name, "big");
        let mut seen = vec![a.focus];
        for _ in 0..4 {
            press(&mut a, "f");
            seen.push(a.focus);
        }
        assert_eq!(seen, vec![Focus::Frames, Focus::PageTable, Focus::WorkingSet, Focus::Events, Focus::Frames]);
    }

    #[test]
    fn inspect_and_jump_between_pte_and_pfn() {
        let mut a = app("tour", (80, 24));
        press(&mut a, "nnnn"); // 12 pages touched, 8 resident
        press(&mut a, "f"); // page table
        assert_eq!(a.focus, Focus::PageTable);
        key(&mut a, KeyCode::Enter);
        assert_eq!(a.overlay(), &Overlay::Inspect(Target::Vad(ProcessId(0), Vpn(0x10))));
        key(&mut a, KeyCode::Esc);
        press(&mut a, "jjjjj"); // page 0x14000: the fifth page, resident in pfn 4
        key(&mut a, KeyCode::Enter);
        assert_eq!(a.overlay(), &Overlay::Inspect(Target::Page(ProcessId(0), Vpn(0x14))));
        press(&mut a, "x");
        assert_eq!(a.overlay(), &Overlay::Inspect(Target::Frame(Pfn(4))));
        assert_eq!(a.frame(), Pfn(4));
        press(&mut a, "l");
        assert_eq!(a.overlay(), &Overlay::Inspect(Target::Frame(Pfn(5))));
        press(&mut a, "x");
        assert_eq!(a.overlay(), &Overlay::Inspect(Target::Page(ProcessId(0), Vpn(0x15))));
        key(&mut a, KeyCode::Esc);
        // x outside the inspector moves focus and selection.
        press(&mut a, "x");
        assert_eq!(a.focus, Focus::Frames);
        assert_eq!(a.frame(), Pfn(5));
        press(&mut a, "lx");
        assert_eq!(a.focus, Focus::PageTable);
        assert_eq!(a.selection_target(), Some(Target::Page(ProcessId(0), Vpn(0x16))));
        // A zeroed frame has no owner.
        press(&mut a, "fff");
        assert_eq!(a.focus, Focus::Frames);
        a.frame = Pfn(60);
        press(&mut a, "x");
        assert!(a.message().unwrap().contains("maps no page"), "{:?}", a.message());
    }

    #[test]
    fn quit_keys() {
        for k in [KeyCode::Char('q'), KeyCode::Esc] {
            let mut a = app("tour", (80, 24));
            key(&mut a, k);
            assert!(a.should_quit());
        }
        let mut a = app("tour", (80, 24));
        press(&mut a, "?");
        key(&mut a, KeyCode::Esc);
        assert!(!a.should_quit(), "Esc closes the overlay first");
        press(&mut a, "?q");
        assert!(a.should_quit(), "q quits even with an overlay open");
    }

    #[test]
    fn step_back_on_a_long_scenario_replays_at_most_one_interval() {
        let mut text = String::from(
            "[scenario]\nname = \"long\"\n[machine]\nmemory = \"256 KiB\"\n[[process]]\nname = \"a\"\nws_max = 8\n\
             [[step]]\nop = \"reserve\"\nprocess = \"a\"\naddress = 0x10000\nsize = \"64 KiB\"\ncommit = true\n",
        );
        for i in 0..300 {
            text +=
                &format!("[[step]]\nop = \"touch\"\nprocess = \"a\"\naddress = 0x{:x}\n", 0x10000 + (i % 16) * 4096);
        }
        let s = crate::scenario::load_str(&text, "long", None, &[]).unwrap();
        let mut a = App::new(Arc::new(s), (80, 24)).unwrap();
        a.goto(301);
        let end = a.machine().snapshot();
        a.goto(150);
        let mid = a.machine().snapshot();
        a.goto(301);
        assert_eq!(a.machine().snapshot(), end);
        a.goto(150);
        assert_eq!(a.machine().snapshot(), mid);
        assert!(a.history().len() > 10);
    }

    #[test]
    fn mouse_clicks_focus_panes_and_select() {
        use crossterm::event::MouseEvent;
        let mut a = app("tour", (80, 24));
        a.goto(4);
        let click = |a: &mut App, column: u16, row: u16| {
            a.on_mouse(MouseEvent {
                kind: MouseEventKind::Down(MouseButton::Left),
                column,
                row,
                modifiers: KeyModifiers::NONE,
            })
        };
        // The map's first row starts after the 4-column label: pfn 2 is at x = 1 + 5 + 2.
        click(&mut a, 8, 2);
        assert_eq!((a.focus, a.frame()), (Focus::Frames, Pfn(2)));
        // Third row of the page table: page 0x11000.
        click(&mut a, 50, 4);
        assert_eq!(a.focus, Focus::PageTable);
        assert_eq!(a.selection_target(), Some(Target::Page(ProcessId(0), Vpn(0x11))));
        // The wheel moves the selection in the pane under the pointer.
        a.on_mouse(MouseEvent { kind: MouseEventKind::ScrollDown, column: 50, row: 4, modifiers: KeyModifiers::NONE });
        assert_eq!(a.selection_target(), Some(Target::Page(ProcessId(0), Vpn(0x12))));
        // An event line in the log.
        click(&mut a, 10, 21);
        assert_eq!(a.focus, Focus::Events);
        assert!(matches!(a.selection_target(), Some(Target::Page(ProcessId(0), _))));
    }

    #[test]
    fn v_shows_the_map_by_region_and_the_selection_moves_by_region() {
        let mut a = app("eras", (160, 48));
        a.goto(6);
        press(&mut a, "v");
        assert!(a.region_view());
        assert!(a.message().unwrap().contains("by large-page region"));
        press(&mut a, "l");
        assert_eq!(a.frame(), Pfn(512), "one region to the right");
        // 256 regions in rows of 32 at this size.
        press(&mut a, "j");
        assert_eq!(a.frame(), Pfn(33 * 512));
        press(&mut a, "h");
        assert_eq!(a.frame(), Pfn(32 * 512));
        // Enter inspects the region's first frame; back in the frame view it is selected.
        key(&mut a, KeyCode::Enter);
        assert_eq!(a.overlay(), &Overlay::Inspect(Target::Frame(Pfn(32 * 512))));
        key(&mut a, KeyCode::Esc);
        press(&mut a, "v");
        assert!(!a.region_view());
        assert_eq!(a.frame(), Pfn(32 * 512));
        press(&mut a, "l");
        let f = a.frame().0;
        assert!(f > 32 * 512 && f < 33 * 512, "the frame view moves by its own cells, of fewer frames: {f:#x}");
    }

    #[test]
    fn v_on_a_machine_without_large_pages_keeps_the_frames_and_says_why() {
        let text = "[scenario]\nname = \"small\"\n[machine]\nmemory = \"1 MiB\"\nlarge_pages = false\n";
        let s = crate::scenario::load_str(text, "small", None, &[]).unwrap();
        let mut a = App::new(Arc::new(s), (80, 24)).unwrap();
        press(&mut a, "v");
        assert!(!a.region_view());
        assert!(a.message().unwrap().contains("no large pages"), "{:?}", a.message());
    }
}

//! Side by side (`pagelab tui --compare fifo:3,fifo:4`): two to four
//! replays of the same references, each a policy and a working-set size,
//! in panes next to each other; one key steps them all one reference. Each
//! pane shows the last reference's result and victim, the running hits
//! and faults, the working set in its policy's order and the machine's
//! explanations. On Belady's string FIFO with 4 frames ends with more
//! faults than with 3: the anomaly happens in front of you.
//!
//! Each pane is a [`crate::replay::Tracer`], the engine behind `replay
//! --trace` and `quiz`. The steps made are kept, so stepping back is only
//! showing an earlier one.

use std::time::Duration;

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::Widget;

use super::app::SPEEDS;
use super::events::wrap;
use super::fit::{first_fitting, put_line, put_str};
use crate::replay::{ReplayConfig, ReplayError, TraceStep, Tracer};
use crate::trace::TraceRef;
use crate::working_set::{PolicyKind, NEVER};

/// Belady's string, the built-in references of `--compare`.
pub const BELADY: [u64; 12] = [1, 2, 3, 4, 1, 2, 5, 1, 2, 3, 4, 5];
/// The most panes side by side.
pub const MAX_PANES: usize = 4;
/// The most references a comparison holds (every step of every pane is kept).
pub const MAX_REFERENCES: usize = 100_000;
/// The largest working set a pane may have.
pub const MAX_FRAMES: u64 = 1 << 20;

/// One pane's replay: a policy and a working-set size.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Spec {
    /// The replacement policy.
    pub policy: PolicyKind,
    /// Working-set frames.
    pub frames: u64,
}

/// Parses `--compare`: `POLICY:FRAMES` separated by commas, 2 to
/// [`MAX_PANES`] of them.
pub fn parse_specs(s: &str) -> Result<Vec<Spec>, String> {
    let mut out = Vec::new();
    for part in s.split(',').map(str::trim) {
        let (p, f) =
            part.split_once(':').ok_or_else(|| format!("--compare {part:?}: expected POLICY:FRAMES, e.g. fifo:3"))?;
        let policy = PolicyKind::parse(p).ok_or_else(|| {
            format!(
                "--compare {part:?}: unknown policy {p:?}: expected fifo, lru, clock, opt, random, aging or wsclock"
            )
        })?;
        let frames = f.parse::<u64>().ok().filter(|&n| (1..=MAX_FRAMES).contains(&n)).ok_or_else(|| {
            format!("--compare {part:?}: frames {f:?}: expected a whole number from 1 to {MAX_FRAMES}")
        })?;
        out.push(Spec { policy, frames });
    }
    if !(2..=MAX_PANES).contains(&out.len()) {
        return Err(format!(
            "--compare {s:?}: expected 2 to {MAX_PANES} replays side by side, e.g. fifo:3,fifo:4 (got {})",
            out.len()
        ));
    }
    Ok(out)
}

/// Reads a trace file's references for a comparison (at most
/// [`MAX_REFERENCES`]); errors name the file, line and column.
pub fn read_trace(path: &str, format: Option<&str>) -> Result<Vec<TraceRef>, String> {
    let name = format.unwrap_or("auto");
    let choice = crate::trace::FormatChoice::parse(name)
        .ok_or_else(|| format!("--format {name:?}: expected {}", crate::trace::FormatChoice::NAMES.join(", ")))?;
    let opened = crate::trace::open_trace(path, choice, None).map_err(|e| format!("{path}: {e}"))?;
    let mut refs = Vec::new();
    for r in crate::trace::TraceReader::new(opened.input, opened.format) {
        refs.push(r.map_err(|e| format!("{path}:{}:{}: {}", e.line, e.col, e.message))?);
        if refs.len() > MAX_REFERENCES {
            return Err(format!(
                "{path}: more than {MAX_REFERENCES} references; --compare keeps every step in memory \
                 (pagelab replay --trace streams a long trace)"
            ));
        }
    }
    Ok(refs)
}

/// One replay and the steps it has made.
pub struct Pane {
    /// Its policy and size.
    pub spec: Spec,
    tracer: Tracer,
    /// Every reference made so far, in order.
    pub steps: Vec<TraceStep>,
}

/// The comparison: the references, the panes, and how far they are shown.
pub struct Compare {
    /// What the references are: `Belady's string`, a file's name.
    pub source: String,
    refs: Vec<TraceRef>,
    next: Vec<u64>,
    /// The panes, left to right.
    pub panes: Vec<Pane>,
    /// References shown (0 before the first).
    pos: usize,
    running: bool,
    speed: usize,
    pending: f64,
    message: Option<String>,
    /// The status line shows the summary.
    summarised: bool,
    size: (u16, u16),
    quit: bool,
}

impl Compare {
    /// A comparison of `specs` over `refs` (at least one), named by `source`.
    pub fn new(source: &str, refs: Vec<TraceRef>, specs: &[Spec], size: (u16, u16)) -> Result<Compare, String> {
        if refs.is_empty() {
            return Err(format!("{source}: no references to compare"));
        }
        if refs.len() > MAX_REFERENCES {
            return Err(format!(
                "{source}: more than {MAX_REFERENCES} references; --compare keeps every step in memory \
                 (pagelab replay --trace streams a long trace)"
            ));
        }
        let pages: Vec<u64> = refs.iter().map(|r| r.page).collect();
        let next = if specs.iter().any(|s| s.policy == PolicyKind::Opt) {
            crate::trace::next_uses(&pages)
        } else {
            Vec::new()
        };
        let mut panes = Vec::new();
        for &spec in specs {
            let mut cfg = ReplayConfig::new(spec.policy, spec.frames);
            cfg.check_every = Some(1024);
            let tracer = Tracer::new(&cfg).map_err(|e| format!("{}:{}: {e}", spec.policy.name(), spec.frames))?;
            panes.push(Pane { spec, tracer, steps: Vec::new() });
        }
        Ok(Compare {
            source: source.into(),
            refs,
            next,
            panes,
            pos: 0,
            running: false,
            speed: 1,
            pending: 0.0,
            message: None,
            summarised: false,
            size,
            quit: false,
        })
    }

    /// References in all.
    pub fn len(&self) -> usize {
        self.refs.len()
    }

    /// Whether there are no references (never: [`Compare::new`] refuses).
    pub fn is_empty(&self) -> bool {
        self.refs.is_empty()
    }

    /// References shown so far.
    pub fn position(&self) -> usize {
        self.pos
    }

    /// A pane's step at the position shown (`None` before the first).
    pub fn shown(&self, pane: usize) -> Option<&TraceStep> {
        self.pos.checked_sub(1).and_then(|i| self.panes[pane].steps.get(i))
    }

    /// The status message, if any.
    pub fn message(&self) -> Option<&str> {
        self.message.as_deref()
    }

    /// Whether the user asked to quit.
    pub fn should_quit(&self) -> bool {
        self.quit
    }

    /// Whether it steps by itself.
    pub fn running(&self) -> bool {
        self.running
    }

    /// Steps every pane one reference forward; false at the end. A
    /// reference made before is shown again, not made again.
    pub fn forward(&mut self) -> Result<bool, ReplayError> {
        if self.pos == self.refs.len() {
            return Ok(false);
        }
        let i = self.pos;
        for p in &mut self.panes {
            if p.steps.len() == i {
                let r = self.refs[i];
                let next = self.next.get(i).copied().unwrap_or(NEVER);
                let t = p.tracer.step(r.page, r.write, next)?;
                p.steps.push(t);
            }
        }
        self.pos += 1;
        Ok(true)
    }

    /// One reference back; false at the start.
    pub fn back(&mut self) -> bool {
        if self.pos == 0 {
            return false;
        }
        self.pos -= 1;
        true
    }

    fn go_forward(&mut self) -> bool {
        match self.forward() {
            Ok(true) => {
                self.summarised |= self.pos == self.refs.len();
                true
            }
            Ok(false) => {
                self.summarised = true;
                false
            }
            Err(e) => {
                self.message = Some(format!("the replay stopped: {e}"));
                false
            }
        }
    }

    /// What the panes have counted, and whether a larger working set
    /// faulted more than a smaller one under the same policy (Belady's
    /// anomaly).
    pub fn summary(&self) -> String {
        self.summaries().swap_remove(0)
    }

    /// [`Compare::summary`] in fewer and fewer words, for the status line.
    pub fn summaries(&self) -> Vec<String> {
        let faults: Vec<(Spec, u64)> =
            (0..self.panes.len()).map(|k| (self.panes[k].spec, self.shown(k).map_or(0, |t| t.misses))).collect();
        let at = if self.pos == self.refs.len() {
            format!("the end of {} references", self.refs.len())
        } else {
            format!("after {} of {} references", self.pos, self.refs.len())
        };
        let each = faults
            .iter()
            .map(|(sp, f)| format!("{} {} frames {f} faults", sp.policy.name(), sp.frames))
            .collect::<Vec<_>>()
            .join(", ");
        let counts = faults.iter().map(|(_, f)| f.to_string()).collect::<Vec<_>>().join(", ");
        let mut anomaly = None;
        for (a, fa) in &faults {
            for (b, fb) in &faults {
                if anomaly.is_none() && a.policy == b.policy && a.frames < b.frames && fa < fb {
                    anomaly = Some(format!(
                        "Belady's anomaly: {} with {} frames faults more than with {}",
                        a.policy.name(),
                        b.frames,
                        a.frames
                    ));
                }
            }
        }
        match anomaly {
            Some(an) => vec![format!("{at}: {each}; {an}"), format!("faults {counts}; {an}"), an],
            None => vec![format!("{at}: {each}"), format!("{at}: faults {counts}"), format!("faults {counts}")],
        }
    }

    /// The terminal was resized.
    pub fn resize(&mut self, cols: u16, rows: u16) {
        self.size = (cols, rows);
    }

    /// Terminal size (columns, rows).
    pub fn size(&self) -> (u16, u16) {
        self.size
    }

    /// Handles one key press.
    pub fn on_key(&mut self, key: KeyEvent) {
        if key.kind == KeyEventKind::Release {
            return;
        }
        self.message = None;
        self.summarised = false;
        match key.code {
            KeyCode::Char('c') if key.modifiers.contains(KeyModifiers::CONTROL) => self.quit = true,
            KeyCode::Char('q') | KeyCode::Esc => self.quit = true,
            KeyCode::Char('.' | 'n' | ' ' | 'l') | KeyCode::Right => {
                self.running = false;
                self.go_forward();
            }
            KeyCode::Char(',' | 'p' | 'h') | KeyCode::Left | KeyCode::Backspace => {
                self.running = false;
                if !self.back() {
                    self.message = Some("at the start: nothing to step back to".into());
                }
            }
            KeyCode::Home => {
                self.running = false;
                self.pos = 0;
            }
            KeyCode::End | KeyCode::Char('G') => {
                self.running = false;
                while self.go_forward() {}
            }
            KeyCode::Char('r') => {
                self.running = !self.running && self.pos < self.refs.len();
                self.pending = 1.0;
            }
            KeyCode::Char('+' | '=') => {
                self.speed = (self.speed + 1).min(SPEEDS.len() - 1);
                self.message = Some(format!("speed: {} references/s", SPEEDS[self.speed]));
            }
            KeyCode::Char('-' | '_') => {
                self.speed = self.speed.saturating_sub(1);
                self.message = Some(format!("speed: {} references/s", SPEEDS[self.speed]));
            }
            KeyCode::Char('s') => self.summarised = true,
            _ => self.message = Some(". next  , back  r run  +/- speed  Home start  End end  s summary  q quit".into()),
        }
    }

    /// Runs on while running: `elapsed` since the last call.
    pub fn tick(&mut self, elapsed: Duration) {
        if !self.running {
            self.pending = 0.0;
            return;
        }
        self.pending = (self.pending + elapsed.as_secs_f64() * SPEEDS[self.speed] as f64).min(1000.0);
        while self.pending >= 1.0 {
            self.pending -= 1.0;
            if !self.go_forward() {
                self.running = false;
                break;
            }
        }
    }
}

/// The reference string around the position, the current one marked.
fn string_line(c: &Compare, width: usize) -> Line<'static> {
    let mut spans = vec![Span::raw("references: ")];
    let mut used = 12;
    // Start early enough that the current reference is in view.
    let cur = c.pos.checked_sub(1);
    let mut from = 0;
    let widths: Vec<usize> = c.refs.iter().map(|r| r.page.to_string().len() + 1).collect();
    if let Some(k) = cur {
        let room = width.saturating_sub(used + 4);
        let mut w = 0;
        from = k + 1;
        while from > 0 && w + widths[from - 1] <= room / 2 + widths[k] {
            from -= 1;
            w += widths[from];
        }
    }
    if from > 0 {
        spans.push(Span::styled("… ", Style::new().fg(Color::DarkGray)));
        used += 2;
    }
    for (i, r) in c.refs.iter().enumerate().skip(from) {
        // The current reference in brackets: seen without colour too.
        let text = if cur == Some(i) { format!("[{}]", r.page) } else { r.page.to_string() };
        if used + text.len() + 3 > width {
            spans.push(Span::styled("…", Style::new().fg(Color::DarkGray)));
            break;
        }
        let style = match cur {
            Some(k) if k == i => Style::new().add_modifier(Modifier::REVERSED | Modifier::BOLD),
            Some(k) if i < k => Style::new().fg(Color::DarkGray),
            _ => Style::new(),
        };
        spans.push(Span::styled(text.clone(), style));
        spans.push(Span::raw(" "));
        used += text.len() + 1;
    }
    Line::from(spans)
}

/// What the working set is listed by.
fn order(policy: PolicyKind) -> &'static str {
    match policy {
        PolicyKind::Fifo => "oldest first",
        PolicyKind::Lru => "least recent first",
        PolicyKind::Clock => "from the hand, * use bit",
        PolicyKind::Opt => "furthest use first",
        PolicyKind::Random => "load order",
        PolicyKind::Aging | PolicyKind::WsClock => "from the hand",
    }
}

/// One pane's lines.
fn pane_lines(c: &Compare, k: usize, width: usize) -> Vec<Line<'static>> {
    let p = &c.panes[k];
    let dim = Style::new().fg(Color::DarkGray);
    let mut out = Vec::new();
    let Some(t) = c.shown(k) else {
        out.push(Line::styled("before the first reference", dim));
        out.push(Line::raw(format!("working set empty, max {}", p.spec.frames)));
        return out;
    };
    out.push(Line::raw(format!("reference {}: page {}", t.index, t.page)));
    let (word, colour) = match t.result {
        "hit" => ("hit".to_string(), Color::Green),
        r => (format!("fault ({r})"), Color::Red),
    };
    out.push(Line::styled(word, Style::new().fg(colour).add_modifier(Modifier::BOLD)));
    out.push(Line::raw(match t.victims.as_slice() {
        [] => "evicted: none".to_string(),
        vs => format!(
            "evicted: {}",
            vs.iter().map(|v| format!("{} to {}", v.page, v.list)).collect::<Vec<_>>().join(", ")
        ),
    }));
    out.push(Line::from(vec![
        Span::styled(format!("hits {}", t.hits), Style::new().fg(Color::Green)),
        Span::raw("  "),
        Span::styled(format!("faults {}", t.misses), Style::new().fg(Color::Red).add_modifier(Modifier::BOLD)),
    ]));
    let head = first_fitting(
        vec![
            format!("working set, {}:", order(p.spec.policy)),
            format!("{}:", order(p.spec.policy)),
            "working set:".into(),
        ],
        width,
    );
    out.push(Line::styled(head, dim));
    let last = t.working_set.len().saturating_sub(1);
    for (i, &(page, used)) in t.working_set.iter().enumerate() {
        let star = if used && p.spec.policy == PolicyKind::Clock { "*" } else { "" };
        let note = match (i, p.spec.policy) {
            (0, PolicyKind::Fifo | PolicyKind::Lru | PolicyKind::Opt) if t.ws_size == p.spec.frames => " next victim",
            (i, PolicyKind::Fifo) if i == last && i > 0 => " newest",
            _ => "",
        };
        out.push(Line::raw(format!(" {page}{star}{note}")));
    }
    let more = t.ws_size.saturating_sub(t.working_set.len() as u64);
    if more > 0 {
        out.push(Line::styled(format!(" ... and {more} more"), dim));
    }
    for e in &t.explanations {
        out.extend(wrap(e, width).into_iter().map(|l| Line::styled(l, dim)));
    }
    out
}

impl Widget for &Compare {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let (min_w, min_h) = super::ui::MIN_SIZE;
        if area.width < min_w || area.height < min_h {
            super::ui::too_small(area, buf);
            return;
        }
        let head = Style::new().bg(Color::Blue).fg(Color::White);
        let header = Rect { height: 1, ..area };
        buf.set_style(header, head);
        let right = format!(
            " reference {} of {} │ {} ",
            self.pos,
            self.refs.len(),
            if self.running { format!("running {}/s", SPEEDS[self.speed]) } else { "paused".into() }
        );
        let rw = right.chars().count();
        let left = format!(" pagelab │ compare: {}", self.source);
        let lw = (area.width as usize).saturating_sub(rw + 1);
        let left = if left.chars().count() <= lw { left } else { " pagelab │ compare".into() };
        put_str(buf, area.x, area.y, left, lw, head.add_modifier(Modifier::BOLD));
        put_str(buf, area.x + area.width - rw as u16, area.y, right, rw, head);
        put_line(buf, area.x + 1, area.y + 1, &string_line(self, area.width as usize - 1), area.width - 1);
        let body = Rect { x: area.x, y: area.y + 2, width: area.width, height: area.height - 3 };
        let n = self.panes.len() as u16;
        for k in 0..n {
            let x = body.x + body.width * k / n;
            let w = body.x + body.width * (k + 1) / n - x;
            let r = Rect { x, width: w, ..body };
            let p = &self.panes[k as usize];
            let faults = self.shown(k as usize).map_or(0, |t| t.misses);
            let title = format!("{}, {} frames: {faults} faults", p.spec.policy.name(), p.spec.frames);
            let block = super::ui::pane_block(&title, false);
            let inner = block.inner(r);
            block.render(r, buf);
            for (y, l) in
                pane_lines(self, k as usize, inner.width as usize).iter().take(inner.height as usize).enumerate()
            {
                put_line(buf, inner.x, inner.y + y as u16, l, inner.width);
            }
        }
        let status = Rect { y: area.y + area.height - 1, height: 1, ..area };
        let width = (status.width as usize).saturating_sub(1);
        let line = match &self.message {
            Some(m) => Line::styled(format!(" {m}"), Style::new().fg(Color::Yellow)),
            None if self.summarised => {
                Line::styled(format!(" {}", first_fitting(self.summaries(), width)), Style::new().fg(Color::Yellow))
            }
            None => Line::styled(
                " . next  , back  r run  +/- speed  Home start  End end  s summary  q quit",
                Style::new().fg(Color::DarkGray),
            ),
        };
        put_line(buf, status.x, status.y, &line, status.width);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn belady(specs: &str) -> Compare {
        let refs = BELADY.iter().map(|&page| TraceRef { page, write: false }).collect();
        Compare::new("Belady's string", refs, &parse_specs(specs).unwrap(), (80, 24)).unwrap()
    }

    fn press(c: &mut Compare, keys: &str) {
        for ch in keys.chars() {
            c.on_key(KeyEvent::from(KeyCode::Char(ch)));
        }
    }

    #[test]
    fn fifo_with_four_frames_faults_more_than_with_three_on_beladys_string() {
        let mut c = belady("fifo:3,fifo:4");
        press(&mut c, &".".repeat(12));
        assert_eq!((c.shown(0).unwrap().misses, c.shown(1).unwrap().misses), (9, 10));
        press(&mut c, ".");
        assert_eq!(c.position(), 12);
        assert!(
            c.summary().contains("Belady's anomaly: fifo with 4 frames faults more than with 3"),
            "{}",
            c.summary()
        );
        // Back and forward again show the same steps.
        let after7: Vec<u64> = (0..2).map(|k| c.panes[k].steps[6].misses).collect();
        press(&mut c, ",,,,,");
        assert_eq!(c.position(), 7);
        assert_eq!((0..2).map(|k| c.shown(k).unwrap().misses).collect::<Vec<_>>(), after7);
        assert_eq!(c.panes[0].steps.len(), 12, "nothing is replayed again");
        c.on_key(KeyEvent::from(KeyCode::End));
        assert_eq!(c.position(), 12);
        c.on_key(KeyEvent::from(KeyCode::Home));
        assert_eq!(c.position(), 0);
    }

    #[test]
    fn lru_has_no_anomaly_on_it() {
        let mut c = belady("lru:3,lru:4,opt:3");
        c.on_key(KeyEvent::from(KeyCode::End));
        let f: Vec<u64> = (0..3).map(|k| c.shown(k).unwrap().misses).collect();
        assert_eq!(f, vec![10, 8, 7]);
        assert!(!c.summary().contains("anomaly"), "{}", c.summary());
    }

    #[test]
    fn bad_specs_say_what_was_expected() {
        for (s, want) in [
            ("fifo:3", "expected 2 to 4 replays"),
            ("fifo", "expected POLICY:FRAMES"),
            ("best:3,fifo:4", "unknown policy \"best\""),
            ("fifo:0,fifo:4", "frames \"0\": expected a whole number"),
            ("fifo:x,fifo:4", "frames \"x\""),
            ("fifo:1,fifo:2,fifo:3,fifo:4,fifo:5", "expected 2 to 4"),
        ] {
            let e = parse_specs(s).unwrap_err();
            assert!(e.contains(want), "{s}: {e}");
        }
        assert!(Compare::new("empty", Vec::new(), &parse_specs("fifo:1,fifo:2").unwrap(), (80, 24)).is_err());
    }
}

//! The event log: the current step's source in the scenario, its note,
//! then every event it caused with its one-line explanation, its error and
//! the expectations it checked. Long lines wrap.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::Line;
use ratatui::widgets::Widget;

use super::app::{App, Target};
use crate::event::Event;
use crate::scenario::Scenario;

/// What kind of line an item is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ItemKind {
    /// The step's source.
    Source,
    /// The scenario's note for the step, or its description.
    Note,
    /// An event.
    Event,
    /// The step's error.
    Error,
    /// A passed expectation.
    Passed,
    /// A failed expectation.
    Failed,
}

/// One selectable entry of the log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Item {
    /// What it is.
    pub kind: ItemKind,
    /// Its text.
    pub text: String,
    /// Index of the event in the step's events, for events.
    pub event: Option<usize>,
    /// What Enter inspects.
    pub target: Option<Target>,
}

impl Item {
    fn new(kind: ItemKind, text: String) -> Item {
        Item { kind, text, event: None, target: None }
    }
}

/// The page or frame an event is about.
pub fn event_target(e: &Event) -> Option<Target> {
    Some(match *e {
        Event::DemandZeroFault { pid, vpn, .. }
        | Event::SoftFault { pid, vpn, .. }
        | Event::HardFault { pid, vpn, .. }
        | Event::ClusterPage { pid, vpn, .. }
        | Event::Evicted { pid, vpn, .. }
        | Event::ModifiedWrite { pid, vpn, .. } => Target::Page(pid, vpn),
        Event::Repurposed { pfn, .. } => Target::Frame(pfn),
        Event::Reserved { pid, start, .. } | Event::FileMapped { pid, start, .. } => Target::Vad(pid, start),
        Event::Committed { pid, start, .. }
        | Event::Decommitted { pid, start, .. }
        | Event::Released { pid, start, .. } => Target::Page(pid, start),
        _ => return None,
    })
}

/// The lines of a step's `[[step]]` table, without the note and
/// expectations (shown separately), joined into one line.
pub fn step_source(s: &Scenario, line: usize) -> String {
    let mut parts = Vec::new();
    let mut in_string = false;
    for l in s.source.lines().skip(line) {
        let t = l.trim();
        if in_string {
            in_string = t.matches("\"\"\"").count() % 2 == 0;
            continue;
        }
        if t.starts_with('[') {
            break;
        }
        if t.is_empty() || t.starts_with('#') || t.starts_with("expect") {
            continue;
        }
        if t.starts_with("note") || t.starts_with("label") {
            in_string = t.matches("\"\"\"").count() == 1;
            continue;
        }
        let Some((k, v)) = t.split_once('=') else { continue };
        let (k, v) = (k.trim(), v.trim().trim_matches('"'));
        if k == "op" {
            parts.insert(0, v.to_string());
        } else {
            parts.push(format!("{k}={v}"));
        }
    }
    parts.join(" ")
}

/// The log's items for the app's current step.
pub fn items(app: &App) -> Vec<Item> {
    let m = app.machine();
    let s = app.scenario();
    let name = |pid| m.name_of(pid);
    let mut out = Vec::new();
    let Some(o) = app.last_outcome() else {
        out.push(Item::new(
            ItemKind::Source,
            format!("before step 1 of {}: {} ({})", app.total_steps(), s.title, s.file),
        ));
        let desc = s.description.split_whitespace().collect::<Vec<_>>().join(" ");
        if !desc.is_empty() {
            out.push(Item::new(ItemKind::Note, desc));
        }
        for e in app.runner().setup_events() {
            out.push(Item { target: event_target(e), ..Item::new(ItemKind::Event, e.explain(&name)) });
        }
        return out;
    };
    let step = &s.steps[o.number - 1];
    let label = o.label.as_ref().map(|l| format!(" \"{l}\"")).unwrap_or_default();
    out.push(Item::new(
        ItemKind::Source,
        format!("step {}{label}, line {}: {}", o.number, o.line, step_source(s, o.line)),
    ));
    if let Some(n) = &step.note {
        out.push(Item::new(ItemKind::Note, n.split_whitespace().collect::<Vec<_>>().join(" ")));
    }
    for (i, e) in o.events.iter().enumerate() {
        out.push(Item { event: Some(i), target: event_target(e), ..Item::new(ItemKind::Event, e.explain(&name)) });
    }
    if o.events.is_empty() {
        out.push(Item::new(ItemKind::Note, "(no events)".into()));
    }
    if let Some(err) = &o.error {
        out.push(Item::new(ItemKind::Error, format!("-> the step failed: {err}")));
    }
    for c in &o.checks {
        let (kind, text) = if c.passed {
            (ItemKind::Passed, format!("✓ expect {} {}", c.key, c.expected))
        } else {
            (ItemKind::Failed, format!("✗ expect {} {}, got {}", c.key, c.expected, c.actual))
        };
        out.push(Item::new(kind, text));
    }
    out
}

/// Splits `text` into lines of at most `width` characters at spaces;
/// continuation lines are indented by two.
pub fn wrap(text: &str, width: usize) -> Vec<String> {
    let width = width.max(8);
    let mut lines = Vec::new();
    let mut cur = String::new();
    let mut cur_len = 0;
    for word in text.split(' ') {
        let wl = word.chars().count();
        let limit = if lines.is_empty() { width } else { width - 2 };
        if cur_len > 0 && cur_len + 1 + wl > limit {
            lines.push(std::mem::take(&mut cur));
            cur_len = 0;
        }
        let mut word: Vec<char> = word.chars().collect();
        loop {
            let limit = if lines.is_empty() { width } else { width - 2 };
            if word.len() <= limit || cur_len > 0 {
                break;
            }
            let rest = word.split_off(limit);
            lines.push(word.into_iter().collect());
            word = rest;
        }
        if cur_len > 0 {
            cur.push(' ');
            cur_len += 1;
        }
        cur.extend(word.iter());
        cur_len += word.len();
    }
    if cur_len > 0 || lines.is_empty() {
        lines.push(cur);
    }
    lines.into_iter().enumerate().map(|(i, l)| if i == 0 { l } else { format!("  {l}") }).collect()
}

/// Wrapped height of every item at `width`.
pub fn heights(items: &[Item], width: u16) -> Vec<usize> {
    items.iter().map(|it| wrap(&it.text, width as usize).len()).collect()
}

/// The first item to show so that item `pos` is fully visible in
/// `visible` lines, moving `top` as little as possible.
pub fn top(heights: &[usize], top: usize, pos: usize, visible: usize) -> usize {
    if heights.is_empty() {
        return 0;
    }
    let pos = pos.min(heights.len() - 1);
    let mut top = top.min(pos);
    while top < pos && heights[top..=pos].iter().sum::<usize>() > visible {
        top += 1;
    }
    top
}

fn style_of(kind: ItemKind, text: &str) -> Style {
    match kind {
        ItemKind::Source => Style::new().add_modifier(Modifier::BOLD),
        ItemKind::Note => Style::new().fg(Color::Cyan),
        ItemKind::Error | ItemKind::Failed => Style::new().fg(Color::Red),
        ItemKind::Passed => Style::new().fg(Color::Green),
        ItemKind::Event if text.contains("hard fault") => Style::new().fg(Color::LightRed),
        ItemKind::Event if text.contains("evicted") || text.contains("taken from standby") => {
            Style::new().fg(Color::Yellow)
        }
        ItemKind::Event => Style::new(),
    }
}

/// Draws the pane.
pub fn render(app: &App, area: Rect, buf: &mut Buffer, focused: bool) {
    let events = app.last_outcome().map_or(app.runner().setup_events().len(), |o| o.events.len());
    let title = match app.last_outcome() {
        Some(o) => format!("Events of step {}: {} ({})", o.number, o.op, events),
        None => format!("Setup ({events} events)"),
    };
    let block = super::ui::pane_block(&title, focused);
    let inner = block.inner(area);
    block.render(area, buf);
    if inner.height == 0 || inner.width == 0 {
        return;
    }
    let items = items(app);
    let hs = heights(&items, inner.width);
    let cur = app.log_cursor();
    let pos = cur.pos.min(items.len().saturating_sub(1));
    let first = top(&hs, cur.top, pos, inner.height as usize);
    let mut y = inner.y;
    let bottom = inner.y + inner.height;
    for (i, it) in items.iter().enumerate().skip(first) {
        let mut style = style_of(it.kind, &it.text);
        if i == pos && focused {
            style = style.add_modifier(Modifier::REVERSED);
        }
        for l in wrap(&it.text, inner.width as usize) {
            if y >= bottom {
                return;
            }
            buf.set_line(inner.x, y, &Line::styled(l, style), inner.width);
            y += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrap_breaks_at_spaces_and_indents_continuations() {
        assert_eq!(wrap("one two three", 9), vec!["one two", "  three"]);
        assert_eq!(wrap("short", 20), vec!["short"]);
        assert_eq!(wrap("", 20), vec![""]);
        assert_eq!(wrap("abcdefghijkl", 8), vec!["abcdefgh", "  ijkl"]);
        for l in wrap("page 0x10000 of app evicted (pfn 0x0 to modified): oldest in FIFO working set (max 8)", 30) {
            assert!(l.chars().count() <= 30, "{l}");
        }
    }

    #[test]
    fn top_keeps_the_selection_in_view() {
        let h = [1, 2, 3, 1];
        assert_eq!(top(&h, 0, 0, 3), 0);
        assert_eq!(top(&h, 0, 2, 3), 2);
        assert_eq!(top(&h, 0, 1, 3), 0);
        assert_eq!(top(&h, 3, 1, 3), 1);
    }

    #[test]
    fn step_source_skips_notes_and_expectations() {
        let s = crate::cli::resolve("tour", &[]).unwrap();
        let line = s.steps[3].line;
        assert_eq!(step_source(&s, line), "touch process=app address=0x10000 pages=12 access=write");
    }
}

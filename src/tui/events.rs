//! The event log: the current step's source in the scenario, its note,
//! then every event it caused with its one-line explanation, its error and
//! the expectations it checked. Long lines wrap.
//!
//! A step can cause thousands of events; their sentences are made only for
//! the lines on screen.

use std::borrow::Cow;

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::Line;
use ratatui::widgets::Widget;

use super::app::{App, Focus, Target};
use super::fit::put_line;
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
    /// Its text (empty for events: see [`Item::text`]).
    text: String,
    /// Index of the event in the step's events (or the setup events).
    pub event: Option<usize>,
    /// What Enter inspects.
    pub target: Option<Target>,
}

impl Item {
    fn new(kind: ItemKind, text: String) -> Item {
        Item { kind, text, event: None, target: None }
    }

    fn event(i: usize, e: &Event) -> Item {
        Item { kind: ItemKind::Event, text: String::new(), event: Some(i), target: event_target(e) }
    }

    /// The item's line: an event's explanation is made here, on demand.
    pub fn text<'a>(&'a self, app: &App) -> Cow<'a, str> {
        match self.event.and_then(|i| step_events(app).get(i)) {
            Some(e) => {
                let m = app.machine();
                Cow::Owned(m.explain(e))
            }
            None => Cow::Borrowed(&self.text),
        }
    }
}

/// The events shown: the current step's, or the setup's before step 1.
pub fn step_events(app: &App) -> &[Event] {
    app.last_outcome().map_or(app.runner().setup_events(), |o| &o.events[..])
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
        Event::PageMoved { pid, vpn, .. } => Target::Page(pid, vpn),
        Event::Repurposed { pfn, .. } => Target::Frame(pfn),
        Event::RunAbandoned { at: Some(pfn), .. } => Target::Frame(pfn),
        Event::RunEmptied { first, .. }
        | Event::RunAbandoned { first, .. }
        | Event::ContiguousAllocated { first, .. }
        | Event::ContiguousFreed { first, .. } => Target::Frame(first),
        Event::LargePagesAllocated { pid, start, .. } => Target::Vad(pid, start),
        Event::Reserved { pid, start, .. } | Event::FileMapped { pid, start, .. } => Target::Vad(pid, start),
        Event::Committed { pid, start, .. }
        | Event::Decommitted { pid, start, .. }
        | Event::Released { pid, start, .. } => Target::Page(pid, start),
        _ => return None,
    })
}

/// The event selected in the log, as an index into [`step_events`], while
/// the log has the focus: the position in the step the other panes mark.
pub fn selected_event(app: &App) -> Option<usize> {
    if app.focus != Focus::Events {
        return None;
    }
    items(app).get(app.log_cursor().pos)?.event
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
    let s = app.scenario();
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
        for (i, e) in app.runner().setup_events().iter().enumerate() {
            out.push(Item::event(i, e));
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
        out.push(Item::event(i, e));
    }
    if o.events_not_recorded > 0 {
        out.push(Item::new(
            ItemKind::Note,
            format!("... and {} more events, counted but not recorded", o.events_not_recorded),
        ));
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

/// Wrapped height of an item at `width`.
pub fn height(app: &App, item: &Item, width: u16) -> usize {
    wrap(&item.text(app), width as usize).len()
}

/// The first item to show so that item `pos` is fully visible in
/// `visible` lines, moving `top` as little as possible; `height(i)` is
/// item i's height. Only items from `top` to `pos` are measured.
pub fn top(len: usize, height: impl Fn(usize) -> usize, top: usize, pos: usize, visible: usize) -> usize {
    if len == 0 {
        return 0;
    }
    let pos = pos.min(len - 1);
    let mut top = top.min(pos);
    let mut sum: usize = (top..=pos).map(&height).sum();
    while top < pos && sum > visible {
        sum -= height(top);
        top += 1;
    }
    top
}

fn style_of(app: &App, item: &Item) -> Style {
    match item.kind {
        ItemKind::Source => Style::new().add_modifier(Modifier::BOLD),
        ItemKind::Note => Style::new().fg(Color::Cyan),
        ItemKind::Error | ItemKind::Failed => Style::new().fg(Color::Red),
        ItemKind::Passed => Style::new().fg(Color::Green),
        ItemKind::Event => match item.event.and_then(|i| step_events(app).get(i)).map(Event::kind) {
            Some("hard_fault") => Style::new().fg(Color::LightRed),
            Some("evicted" | "repurposed") => Style::new().fg(Color::Yellow),
            Some("access_violation" | "call_failed") => Style::new().fg(Color::Red),
            _ => Style::new(),
        },
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
    let cur = app.log_cursor();
    let pos = cur.pos.min(items.len().saturating_sub(1));
    let first = top(items.len(), |i| height(app, &items[i], inner.width), cur.top, pos, inner.height as usize);
    let mut y = inner.y;
    let bottom = inner.y + inner.height;
    for (i, it) in items.iter().enumerate().skip(first) {
        if y >= bottom {
            return;
        }
        let mut style = style_of(app, it);
        if i == pos && focused {
            style = style.add_modifier(Modifier::REVERSED);
        }
        for l in wrap(&it.text(app), inner.width as usize) {
            if y >= bottom {
                return;
            }
            put_line(buf, inner.x, y, &Line::styled(l, style), inner.width);
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
        let f = |i: usize| h[i];
        assert_eq!(top(4, f, 0, 0, 3), 0);
        assert_eq!(top(4, f, 0, 2, 3), 2);
        assert_eq!(top(4, f, 0, 1, 3), 0);
        assert_eq!(top(4, f, 3, 1, 3), 1);
        assert_eq!(top(0, f, 3, 1, 3), 0);
    }

    #[test]
    fn step_source_skips_notes_and_expectations() {
        let s = crate::scenario::resolve("tour", &[]).unwrap();
        let line = s.steps[3].line;
        assert_eq!(step_source(&s, line), "touch process=app address=0x10000 pages=12 access=write");
    }
}

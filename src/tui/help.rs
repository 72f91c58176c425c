//! The help overlay: every key, and what the glyphs mean.

use super::fit::put_line;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Clear, Widget};

/// Every key, as (keys, what they do). An empty key starts a heading.
pub const KEYS: &[(&str, &str)] = &[
    ("", "Stepping"),
    ("n  Space", "next step"),
    ("p  Backspace", "previous step (restored from a snapshot)"),
    (".", "next memory reference of a touch or refs step"),
    (",", "previous memory reference (the step replayed up to it)"),
    ("r", "run / pause: step by itself"),
    ("+  -", "run faster / slower"),
    ("g", "go to step N: type digits, then Enter"),
    ("G  End", "jump to the end"),
    ("Home", "back to the start (before step 1)"),
    ("b", "breakpoint: run to the next event of a kind you pick"),
    ("t", "quiz: say what each reference will do (Esc leaves)"),
    ("", "Looking around"),
    ("Tab  Shift-Tab", "next / previous process"),
    ("f  F", "cycle focus: frames, page table, working set, events"),
    ("arrows  h j k l", "move the selection in the focused pane"),
    ("PgUp  PgDn", "scroll the focused pane a page"),
    ("Enter", "inspect: a frame's PFN entry (!pfn), a page's PTE (!pte)"),
    ("x", "jump between a page's PTE and its frame's PFN entry"),
    ("v", "memory map by frame / by large-page region"),
    ("mouse", "click selects, wheel scrolls"),
    ("?", "this help (Esc closes)"),
    ("q  Esc", "quit (Esc closes an overlay first)"),
];

/// What the map and page-table letters mean.
pub const GLYPHS: &[&str] = &[
    "Map:  · zeroed  - free  s standby  m modified  n modified-no-write",
    "      X bad  t I/O in progress  1-9 active in process 1-9",
    "      L locked  W AWE  H large page; underlined: mixed group",
    "Regions (v): · free  c free and standby only  p partly used",
    "      H large page  # unmovable or cut short; lit: the allocator's run",
    "PTEs: V valid  T transition  P page file  D demand zero",
    "      F mapped file  N no access  x decommitted  · reserved",
    "Working set: ► next victim",
];

/// The help text, line by line.
pub fn lines() -> Vec<Line<'static>> {
    let bold = Style::new().add_modifier(Modifier::BOLD);
    let mut out = Vec::new();
    for (keys, what) in KEYS {
        if keys.is_empty() {
            out.push(Line::styled(what.to_string(), bold));
        } else {
            out.push(Line::from(vec![Span::styled(format!("  {keys:<16}"), bold), Span::raw(what.to_string())]));
        }
    }
    out.push(Line::styled("Glyphs", bold));
    out.extend(GLYPHS.iter().map(|g| Line::raw(format!("  {g}"))));
    out
}

/// Lines of help text (for scrolling limits).
pub fn line_count() -> usize {
    KEYS.len() + 1 + GLYPHS.len()
}

/// Draws the overlay centred in `area`, from line `scroll`.
pub fn render(area: Rect, buf: &mut Buffer, scroll: usize) {
    let text = lines();
    let width = (text.iter().map(|l| l.width()).max().unwrap_or(0) as u16 + 4).min(area.width);
    let height = (text.len() as u16 + 2).min(area.height);
    let r = super::ui::centred(area, width, height);
    Clear.render(r, buf);
    let more = text.len() > (height as usize).saturating_sub(2);
    let title = if more { "Keys (j/k scroll, Esc close)" } else { "Keys (Esc close)" };
    let block = super::ui::overlay_block(title);
    let inner = block.inner(r);
    block.render(r, buf);
    for (k, l) in text.iter().skip(scroll).take(inner.height as usize).enumerate() {
        put_line(buf, inner.x + 1, inner.y + k as u16, l, inner.width.saturating_sub(1));
    }
}

//! The working set of the selected process, in its policy's order: FIFO
//! and LRU from the next victim to the newest, clock from the hand with
//! each use bit, aging from the hand with each age, WSClock with each time
//! of last use, OPT by next use. The next victim is marked `►`.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::Widget;

use super::app::{scrolled, App};
use super::fit::{first_fitting, put_line, put_str};
use crate::process::Process;
use crate::working_set::{PolicyKind, WsEntry, NEVER};

/// Rows above the entries (the policy line).
pub const HEADER_ROWS: usize = 1;

/// The entry at position `i` in policy order.
pub fn entry_at(p: &Process, i: usize) -> Option<WsEntry> {
    p.ws.entries_iter().nth(i)
}

/// What the order means, in a few words.
fn order_words(policy: PolicyKind) -> &'static str {
    match policy {
        PolicyKind::Fifo => "oldest first",
        PolicyKind::Lru => "least recent first",
        PolicyKind::Clock => "from the hand",
        PolicyKind::Opt => "furthest use first",
        PolicyKind::Random => "load order, victim random",
        PolicyKind::Aging => "from the hand, with ages",
        PolicyKind::WsClock => "from the hand, with last use",
    }
}

/// Draws the pane.
pub fn render(app: &App, area: Rect, buf: &mut Buffer, focused: bool) {
    let Some(p) = app.process() else {
        super::ui::pane_block("Working set", focused).render(area, buf);
        return;
    };
    let policy = p.ws.policy();
    let title = format!("Working set: {}", policy.name());
    let block = super::ui::pane_block(&title, focused);
    let inner = block.inner(area);
    block.render(area, buf);
    if inner.height == 0 {
        return;
    }
    let mut head = first_fitting(
        vec![
            format!("size {}, min {} max {}", p.ws.len(), p.ws.min, p.ws.max),
            format!("size {}, max {}", p.ws.len(), p.ws.max),
            format!("{} of max {}", p.ws.len(), p.ws.max),
            format!("{}/{}", p.ws.len(), p.ws.max),
        ],
        inner.width as usize,
    );
    let more = format!(", {}", order_words(policy));
    if head.len() + more.len() <= inner.width as usize {
        head += &more;
    }
    put_str(buf, inner.x, inner.y, head, inner.width as usize, Style::new().fg(Color::DarkGray));
    let visible = (inner.height as usize).saturating_sub(HEADER_ROWS);
    let len = p.ws.len() as usize;
    if len == 0 {
        if visible > 0 {
            let text = if p.exited { "exited" } else { "empty" };
            put_str(buf, inner.x, inner.y + 1, text, inner.width as usize, Style::new().fg(Color::DarkGray));
        }
        return;
    }
    // While the quiz asks, the next victim is the answer: not marked.
    let victim = if app.quiz().is_some_and(|q| q.hides_answer()) { None } else { p.ws.peek_victim() };
    let cur = app.ws_cursor();
    let pos = cur.pos.min(len - 1);
    let top = scrolled(cur.top.min(pos), pos, visible);
    let wide = inner.width >= 24;
    let last = len - 1;
    let shown: Vec<WsEntry> = p.ws.entries_iter().skip(top).take(visible).collect();
    let vw = shown.iter().map(|e| e.vpn.to_string().len()).max().unwrap_or(0);
    for (k, e) in shown.iter().enumerate().map(|(i, e)| (top + i, e)) {
        let y = inner.y + (HEADER_ROWS + k - top) as u16;
        let is_victim = Some(e.slot) == victim;
        let mark = if is_victim { Span::styled("►", Style::new().fg(Color::Red)) } else { Span::raw(" ") };
        let index = if wide { format!("{:>3} ", k + 1) } else { String::new() };
        let mut parts: Vec<String> = Vec::new();
        match policy {
            PolicyKind::Clock => {
                parts.push(format!("use {}", e.use_bit as u8));
                if k == 0 {
                    parts.push("hand".into());
                }
            }
            PolicyKind::Aging | PolicyKind::WsClock => {
                if policy == PolicyKind::Aging {
                    parts.push(format!("age {}", e.age));
                } else {
                    parts.push(format!("used {}", e.last_use));
                }
                if k == 0 {
                    parts.push("hand".into());
                }
            }
            PolicyKind::Opt if e.next_use == NEVER => parts.push("never used again".into()),
            PolicyKind::Opt => parts.push(format!("next use {}", e.next_use)),
            PolicyKind::Fifo if k == last && k > 0 => parts.push("newest".into()),
            PolicyKind::Lru if k == last && k > 0 => parts.push("most recent".into()),
            _ => {}
        }
        if is_victim {
            parts.push("next victim".into());
        }
        // Fewer words when narrow: "victim" alone, then the page alone.
        let room = (inner.width as usize).saturating_sub(1 + index.len() + vw + 1);
        let short: Vec<String> =
            parts.iter().map(|p| if p == "next victim" { "victim".into() } else { p.clone() }).collect();
        let extra = first_fitting(vec![parts.join(" "), short.join(" "), String::new()], room);
        let line = Line::from(vec![mark, Span::raw(format!("{index}{:<vw$} {extra}", e.vpn.to_string()))]);
        put_line(buf, inner.x, y, &line, inner.width);
        let mut style = Style::new();
        if is_victim {
            style = style.add_modifier(Modifier::BOLD);
        }
        if k == pos {
            style = style.add_modifier(if focused { Modifier::REVERSED } else { Modifier::UNDERLINED });
        }
        buf.set_style(Rect { x: inner.x, y, width: inner.width, height: 1 }, style);
    }
}

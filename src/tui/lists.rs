//! The page lists: the count of each list and of available pages, each
//! with a sparkline over the last steps, then commit and page-file use.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Color, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::Widget;

use super::app::App;
use super::fit::{put_line, put_str};
use super::frames::Cat;
use crate::pfn_db::ListCounts;

const BARS: [char; 9] = [' ', '▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];

/// A sparkline of `values` scaled to their maximum: one character each.
pub fn spark(values: &[u64]) -> String {
    let max = values.iter().copied().max().unwrap_or(0);
    values.iter().map(|&v| if max == 0 { BARS[0] } else { BARS[((v * 8).div_ceil(max)) as usize] }).collect()
}

type Get = fn(&ListCounts) -> u64;

/// The rows: glyph, name, value getter. Shown in this order as far as the
/// pane's height allows.
const ROWS: [(Option<Cat>, &str, Get); 8] = [
    (Some(Cat::Zeroed), "zeroed", |c| c.zeroed),
    (Some(Cat::Free), "free", |c| c.free),
    (Some(Cat::Standby), "standby", |c| c.standby),
    (Some(Cat::Modified), "modified", |c| c.modified),
    (None, "active", |c| c.active),
    (None, "available", |c| c.available()),
    (Some(Cat::Bad), "bad", |c| c.bad),
    (Some(Cat::ModifiedNoWrite), "mod-nowr", |c| c.modified_no_write),
];

/// Draws the pane.
pub fn render(app: &App, area: Rect, buf: &mut Buffer, focused: bool) {
    let block = super::ui::pane_block("Page lists", focused);
    let inner = block.inner(area);
    block.render(area, buf);
    let history = app.list_history();
    // Inside a step, after a single reference, the counts of this moment.
    let now = if app.runner().reference_position().is_some() {
        app.machine().pfn_db().counts()
    } else {
        history.last().copied().unwrap_or_default()
    };
    let digits = app.machine().pfn_db().frames().to_string().len().max(3);
    let spark_width = (inner.width as usize).saturating_sub(13 + digits);
    let from = history.len().saturating_sub(spark_width);
    let mut y = inner.y;
    let bottom = inner.y + inner.height;
    for (cat, name, get) in ROWS {
        if y >= bottom {
            return;
        }
        let glyph = match cat {
            Some(c) => Span::styled(c.glyph().to_string(), c.style()),
            None if name == "available" => Span::raw("="),
            None => Span::raw("#"),
        };
        let values: Vec<u64> = history[from..].iter().map(get).collect();
        let line = Line::from(vec![
            glyph,
            Span::raw(format!(" {name:<9} {:>digits$} ", get(&now))),
            Span::styled(spark(&values), Style::new().fg(Color::Cyan)),
        ]);
        put_line(buf, inner.x, y, &line, inner.width);
        y += 1;
    }
    let s = app.machine().snapshot();
    for (name, used, cap) in
        [("commit", s.commit_charge, s.commit_limit), ("pagefile", s.pagefile_used, s.pagefile_capacity)]
    {
        if y >= bottom {
            return;
        }
        let text = format!("  {name:<9} {used:>digits$} of {cap}");
        put_str(buf, inner.x, y, text, inner.width as usize, Style::new());
        y += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sparkline_scales_to_the_maximum() {
        assert_eq!(spark(&[0, 1, 2, 4, 8]), " ▁▂▄█");
        assert_eq!(spark(&[0, 0]), "  ");
        assert_eq!(spark(&[5, 5]), "██");
        assert_eq!(spark(&[]), "");
    }
}

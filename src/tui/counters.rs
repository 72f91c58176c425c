//! Counters: faults by kind, I/Os and pages moved, lock acquisitions,
//! simulated time, and the scenario's expectations as they are reached.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Color, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::Widget;

use super::app::App;
use super::fit::put_line;
use crate::runner::CheckResult;
use crate::units::SimNanos;

/// Expectations in the scenario: each step's, its expected errors, and the
/// final ones.
pub fn expectations_total(app: &App) -> usize {
    let s = app.scenario();
    s.expect.len() + s.steps.iter().map(|st| st.expect.len() + st.expect_error.is_some() as usize).sum::<usize>()
}

/// One line about a checked expectation.
pub fn check_line(c: &CheckResult) -> Line<'static> {
    let (mark, style) =
        if c.passed { ("✓", Style::new().fg(Color::Green)) } else { ("✗", Style::new().fg(Color::Red)) };
    let text = if c.passed {
        format!(" {} {} (line {})", c.key, c.expected, c.line)
    } else {
        format!(" {} expected {}, got {} (line {})", c.key, c.expected, c.actual, c.line)
    };
    Line::from(vec![Span::styled(mark, style), Span::raw(text)])
}

/// The memory resource notifications: which event is signalled, with the
/// available pages and the thresholds (low below, high at or above).
pub fn notification_line(m: &crate::machine::Machine) -> Line<'static> {
    let n = m.notifications();
    let available = m.pfn_db().available();
    let t = n.thresholds;
    let (word, style) = match (n.low, n.high) {
        (true, _) => ("LOW", Style::new().fg(Color::Red)),
        (_, true) => ("high", Style::new().fg(Color::Green)),
        _ => ("neither", Style::new().fg(Color::Yellow)),
    };
    Line::from(vec![
        Span::raw("memory "),
        Span::styled(word, style),
        Span::raw(format!(" avail {available} (low <{}, high >={})", t.low, t.high)),
    ])
}

/// Draws the pane.
pub fn render(app: &App, area: Rect, buf: &mut Buffer, focused: bool) {
    let block = super::ui::pane_block("Counters", focused);
    let inner = block.inner(area);
    block.render(area, buf);
    let m = app.machine();
    let c = m.counters();
    let lat = m.latency();
    let checks = app.runner().checks();
    let passed = checks.iter().filter(|c| c.passed).count();
    let failed = checks.len() - passed;
    let mut lines: Vec<Line> = vec![
        Line::raw(format!(
            "faults {}: dz {} soft {} hard {}+{}",
            c.paging.faults(),
            c.paging.demand_zero,
            c.paging.soft,
            c.paging.hard_pagefile,
            c.paging.hard_file
        )),
        Line::raw(format!(
            "AV {}  evicted {}  repurposed {}",
            c.paging.access_violations, c.paging.evictions, c.activity.repurposed
        )),
        Line::raw(format!(
            "read {} I/O, {} pg ({} ahead)",
            c.activity.io_reads, c.activity.pages_read, c.activity.pages_read_ahead
        )),
        Line::raw(format!(
            "write {} I/O, {} pg ({} to files)",
            c.activity.io_writes,
            c.activity.pages_written_pagefile + c.activity.pages_written_file,
            c.activity.pages_written_file
        )),
        Line::raw(format!("locks ws {}, pfn {}", c.activity.ws_lock, c.activity.pfn_lock)),
        notification_line(m),
        Line::raw(format!(
            "time {}",
            crate::report::simulated_time(c.activity.time_foreground, c.activity.time_background)
        )),
    ];
    let mut check_summary = vec![
        Span::raw("expect "),
        Span::styled(format!("{passed}✓"), Style::new().fg(Color::Green)),
        Span::raw(" "),
        Span::styled(format!("{failed}✗"), Style::new().fg(if failed > 0 { Color::Red } else { Color::DarkGray })),
        Span::raw(format!(" of {}", expectations_total(app))),
    ];
    if app.runner().finished() {
        check_summary.push(Span::raw(if failed == 0 { ": all met" } else { ": some failed" }));
    }
    lines.push(Line::from(check_summary));
    if lat.count > 0 {
        lines.push(Line::raw(format!("fault p50 {} p99 {}", SimNanos(lat.p50_ns), SimNanos(lat.p99_ns))));
    }
    // Failed expectations first, then this step's.
    lines.extend(checks.iter().filter(|c| !c.passed).map(check_line));
    if let Some(o) = app.last_outcome() {
        lines.extend(o.checks.iter().filter(|c| c.passed).map(check_line));
    }
    for (k, line) in lines.iter().take(inner.height as usize).enumerate() {
        put_line(buf, inner.x, inner.y + k as u16, line, inner.width);
    }
}

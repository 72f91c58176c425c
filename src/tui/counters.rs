//! Counters: faults by kind, I/Os and pages moved, lock acquisitions,
//! simulated time, and the scenario's expectations as they are reached.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Color, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::Widget;

use super::app::App;
use super::fit::{first_fitting, put_line};
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

/// [`notification_line`] in `width` columns if it can be: with both
/// thresholds, or only the one that decides the event.
pub fn notification_line_in(m: &crate::machine::Machine, width: usize) -> Line<'static> {
    let long = notification_line(m);
    if long.width() <= width {
        return long;
    }
    let n = m.notifications();
    let available = m.pfn_db().available();
    let t = n.thresholds;
    let (word, colour, bound) = match (n.low, n.high) {
        (true, _) => ("LOW", Color::Red, format!("<{}", t.low)),
        (_, true) => ("high", Color::Green, format!(">={}", t.high)),
        _ => ("neither", Color::Yellow, format!("{}-{}", t.low, t.high)),
    };
    Line::from(vec![
        Span::raw("memory "),
        Span::styled(word, Style::new().fg(colour)),
        Span::raw(format!(" avail {available} ({bound})")),
    ])
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
    let w = inner.width as usize;
    let (pg, act) = (&c.paging, &c.activity);
    let fit = |v: Vec<String>| Line::raw(first_fitting(v, w));
    let mut lines: Vec<Line> = vec![
        fit(vec![
            format!(
                "faults {}: dz {} soft {} hard {}+{}",
                pg.faults(),
                pg.demand_zero,
                pg.soft,
                pg.hard_pagefile,
                pg.hard_file
            ),
            format!(
                "faults {}: dz {} sf {} hd {}+{}",
                pg.faults(),
                pg.demand_zero,
                pg.soft,
                pg.hard_pagefile,
                pg.hard_file
            ),
            format!(
                "flt {}: dz {} sf {} hd {}+{}",
                pg.faults(),
                pg.demand_zero,
                pg.soft,
                pg.hard_pagefile,
                pg.hard_file
            ),
        ]),
        fit(vec![
            format!("AV {}  evicted {}  repurposed {}", pg.access_violations, pg.evictions, act.repurposed),
            format!("AV {} evicted {} repurposed {}", pg.access_violations, pg.evictions, act.repurposed),
            format!("AV {} evicted {} repurp {}", pg.access_violations, pg.evictions, act.repurposed),
            format!("AV {} evict {} rep {}", pg.access_violations, pg.evictions, act.repurposed),
        ]),
        fit(vec![
            format!("read {} I/O, {} pg ({} ahead)", act.io_reads, act.pages_read, act.pages_read_ahead),
            format!("read {} I/O {} pg {} ahead", act.io_reads, act.pages_read, act.pages_read_ahead),
            format!("rd {} I/O {} pg +{}", act.io_reads, act.pages_read, act.pages_read_ahead),
        ]),
        fit({
            let (ios, pages, files) =
                (act.io_writes, act.pages_written_pagefile + act.pages_written_file, act.pages_written_file);
            vec![
                format!("write {ios} I/O, {pages} pg ({files} to files)"),
                format!("write {ios} I/O {pages} pg {files} to files"),
                format!("wr {ios} I/O {pages} pg {files} files"),
            ]
        }),
        fit(vec![
            format!("locks ws {}, pfn {}", act.ws_lock, act.pfn_lock),
            format!("locks ws {} pfn {}", act.ws_lock, act.pfn_lock),
        ]),
        notification_line_in(m, inner.width as usize),
        fit(vec![
            format!("time {}", crate::report::simulated_time(act.time_foreground, act.time_background)),
            format!("time {} in faults, {} in background", act.time_foreground, act.time_background),
            format!("time {} + {} background", act.time_foreground, act.time_background),
        ]),
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

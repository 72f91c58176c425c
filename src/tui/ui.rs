//! Drawing: the screen layout and `impl Widget for &App`. Nothing here
//! changes the app; every pane is a function of the app's state.
//!
//! ```text
//!  header: scenario, step, run state
//!  ┌ Physical memory ──────────┐┌ Page table: PROCESS ──────┐
//!  └───────────────────────────┘└───────────────────────────┘
//!  ┌ Working set ┐┌ Page lists ───┐┌ Counters ────────────────┐
//!  └─────────────┘└───────────────┘└──────────────────────────┘
//!  ┌ Events of step N ───────────────────────────────────────┐
//!  └─────────────────────────────────────────────────────────┘
//!  status: message, prompt or key hints
//! ```

use ratatui::buffer::Buffer;
use ratatui::layout::{Position, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, BorderType, Clear, Widget};

use super::app::{App, Focus, Overlay, Run};
use super::fit::{put_line, put_str};
use super::{counters, events, frames, help, inspect, lists, page_table, working_set};
use crate::event::Event;

/// The smallest terminal the layout works in.
pub const MIN_SIZE: (u16, u16) = (60, 16);

/// Where each part of the screen goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Areas {
    /// The top line.
    pub header: Rect,
    /// The physical memory map.
    pub frames: Rect,
    /// The page table.
    pub pages: Rect,
    /// The working set.
    pub ws: Rect,
    /// The page lists.
    pub lists: Rect,
    /// The counters.
    pub counters: Rect,
    /// The event log.
    pub events: Rect,
    /// The bottom line.
    pub status: Rect,
}

impl Areas {
    /// The focusable pane at a screen position.
    pub fn pane_at(&self, p: Position) -> Option<(Focus, Rect)> {
        [
            (Focus::Frames, self.frames),
            (Focus::PageTable, self.pages),
            (Focus::WorkingSet, self.ws),
            (Focus::Events, self.events),
        ]
        .into_iter()
        .find(|(_, r)| r.contains(p))
    }
}

/// The layout of a screen: header, two rows of panes, the event log,
/// the status line. Heights scale with the terminal.
pub fn areas(area: Rect) -> Areas {
    let usable = area.height.saturating_sub(2);
    // At 24 rows and fewer, the middle row gives one row to the events.
    let mid = if usable <= 22 { 7 } else { (usable * 30 / 100).clamp(8, 12) }.min(usable);
    let top = ((usable - mid) * 45 / 100).max(6).min(usable - mid);
    let ev = usable - mid - top;
    let (x, w) = (area.x, area.width);
    let row = |y: u16, h: u16| Rect { x, y, width: w, height: h };
    let header = row(area.y, area.height.min(1));
    let top_r = row(area.y + 1, top);
    let mid_r = row(area.y + 1 + top, mid);
    let events = row(area.y + 1 + top + mid, ev);
    let status = row(area.y + area.height.saturating_sub(1), area.height.min(1));
    let half = w / 2;
    let ws_w = w * 28 / 100;
    let lists_w = w * 30 / 100;
    Areas {
        header,
        frames: Rect { width: half, ..top_r },
        pages: Rect { x: x + half, width: w - half, ..top_r },
        ws: Rect { width: ws_w, ..mid_r },
        lists: Rect { x: x + ws_w, width: lists_w, ..mid_r },
        counters: Rect { x: x + ws_w + lists_w, width: w - ws_w - lists_w, ..mid_r },
        events,
        status,
    }
}

/// The inside of a bordered pane.
pub fn inner(r: Rect) -> Rect {
    Block::bordered().inner(r)
}

/// A pane's frame: thick borders and a marked title when it has focus.
pub fn pane_block(title: &str, focused: bool) -> Block<'static> {
    if focused {
        Block::bordered()
            .border_type(BorderType::Thick)
            .border_style(Style::new().fg(Color::Yellow))
            .title(Span::styled(format!("▶{title} "), Style::new().add_modifier(Modifier::BOLD)))
    } else {
        Block::bordered().border_style(Style::new().fg(Color::DarkGray)).title(format!(" {title} "))
    }
}

/// An overlay's frame.
pub fn overlay_block(title: &str) -> Block<'static> {
    Block::bordered()
        .border_type(BorderType::Double)
        .title(Span::styled(format!(" {title} "), Style::new().add_modifier(Modifier::BOLD)))
}

/// A `width` x `height` rectangle centred in `area`.
pub fn centred(area: Rect, width: u16, height: u16) -> Rect {
    let width = width.min(area.width);
    let height = height.min(area.height);
    Rect { x: area.x + (area.width - width) / 2, y: area.y + (area.height - height) / 2, width, height }
}

fn run_words(app: &App) -> String {
    if let Some(q) = app.quiz() {
        return format!("quiz {} of {}", q.score.score, q.score.asked);
    }
    match app.run_state() {
        Run::Paused => "paused".to_string(),
        Run::Auto => format!("running {}/s", app.speed()),
        Run::UntilKind(k) => format!("running to {k}"),
    }
}

fn header(app: &App, area: Rect, buf: &mut Buffer) {
    let style = Style::new().bg(Color::Blue).fg(Color::White);
    buf.set_style(area, style);
    let s = app.scenario();
    let right = match app.reference_position() {
        Some((n, k, m)) => format!(" step {n}/{}, reference {k} of {m} │ {} ", app.total_steps(), run_words(app)),
        None => format!(" step {}/{} │ {} ", app.step(), app.total_steps(), run_words(app)),
    };
    let rw = right.chars().count() as u16;
    let lw = area.width.saturating_sub(rw + 1);
    // The title whole, or not at all.
    let left = match format!(" pagelab │ {}: {}", s.name, s.title) {
        l if !s.title.is_empty() && l.chars().count() <= lw as usize => l,
        _ => format!(" pagelab │ {}", s.name),
    };
    put_str(buf, area.x, area.y, left, lw as usize, style.add_modifier(Modifier::BOLD));
    put_str(buf, area.x + area.width.saturating_sub(rw), area.y, right, rw as usize, style);
}

/// Key hints, as many as fit.
const HINTS: &[&str] = &[
    "n next",
    "p back",
    "r run",
    "g goto",
    "b break",
    "Tab process",
    "f focus",
    "Enter inspect",
    "x jump",
    "? help",
    "q quit",
];

fn status(app: &App, area: Rect, buf: &mut Buffer) {
    let line = if let Overlay::Goto { digits } = app.overlay() {
        Line::from(vec![
            Span::styled(format!(" go to step (0-{}): ", app.total_steps()), Style::new().add_modifier(Modifier::BOLD)),
            Span::raw(digits.clone()),
            Span::styled("█", Style::new().add_modifier(Modifier::SLOW_BLINK)),
            Span::raw("   Enter go, Esc cancel"),
        ])
    } else if let Some(m) = app.message() {
        Line::styled(format!(" {m}"), Style::new().fg(Color::Yellow))
    } else if let Some(q) = app.quiz() {
        Line::styled(format!(" {}", q.hint()), Style::new().fg(Color::Cyan))
    } else {
        let mut text = String::new();
        let always = "? help  q quit";
        for h in HINTS.iter().take(HINTS.len() - 2) {
            if text.len() + h.len() + 2 + always.len() + 1 > area.width as usize {
                break;
            }
            text += " ";
            text += h;
            text += " ";
        }
        text += " ";
        text += always;
        Line::styled(text, Style::new().fg(Color::DarkGray))
    };
    put_line(buf, area.x, area.y, &line, area.width);
}

fn breakpoint(area: Rect, buf: &mut Buffer, selected: usize) {
    let kinds = Event::KINDS;
    let title = "Run to the next event of kind";
    let width = (kinds.iter().map(|k| k.len()).max().unwrap_or(0) as u16 + 8).max(title.len() as u16 + 6);
    let r = centred(area, width, kinds.len() as u16 + 3);
    Clear.render(r, buf);
    let block = overlay_block(title);
    let inner = block.inner(r);
    block.render(r, buf);
    let visible = inner.height.saturating_sub(1) as usize;
    let top = super::app::scrolled(0, selected, visible);
    for (k, kind) in kinds.iter().enumerate().skip(top).take(visible) {
        let y = inner.y + (k - top) as u16;
        let (mark, style) =
            if k == selected { ("► ", Style::new().add_modifier(Modifier::REVERSED)) } else { ("  ", Style::new()) };
        let w = (inner.width as usize).saturating_sub(2);
        put_str(buf, inner.x, y, format!("{mark}{kind:<w$}"), inner.width as usize, style);
    }
    put_str(
        buf,
        inner.x,
        inner.y + inner.height.saturating_sub(1),
        " Enter run  Esc cancel",
        inner.width as usize,
        Style::new().add_modifier(Modifier::DIM),
    );
}

/// What the screen says when the terminal is smaller than [`MIN_SIZE`].
pub fn too_small(area: Rect, buf: &mut Buffer) {
    Clear.render(area, buf);
    let lines = [
        format!("pagelab needs at least {}x{}", MIN_SIZE.0, MIN_SIZE.1),
        format!("this terminal is {}x{}", area.width, area.height),
        "enlarge it, or q to quit".to_string(),
    ];
    let y0 = area.y + area.height.saturating_sub(lines.len() as u16) / 2;
    for (k, l) in lines.iter().enumerate() {
        let y = y0 + k as u16;
        if y >= area.y + area.height {
            break;
        }
        let x = area.x + area.width.saturating_sub(l.chars().count() as u16) / 2;
        put_str(buf, x, y, l, area.width as usize, Style::new());
    }
}

impl Widget for &App {
    fn render(self, area: Rect, buf: &mut Buffer) {
        if area.width < MIN_SIZE.0 || area.height < MIN_SIZE.1 {
            too_small(area, buf);
            return;
        }
        let a = areas(area);
        header(self, a.header, buf);
        frames::render(self, a.frames, buf, self.focus == Focus::Frames);
        page_table::render(self, a.pages, buf, self.focus == Focus::PageTable);
        working_set::render(self, a.ws, buf, self.focus == Focus::WorkingSet);
        lists::render(self, a.lists, buf, false);
        counters::render(self, a.counters, buf, false);
        match self.quiz() {
            Some(q) => super::quiz::render(q, a.events, buf, self.focus == Focus::Events),
            None => events::render(self, a.events, buf, self.focus == Focus::Events),
        }
        status(self, a.status, buf);
        match self.overlay() {
            Overlay::Help { scroll } => help::render(area, buf, *scroll),
            Overlay::Breakpoint { selected } => breakpoint(area, buf, *selected),
            Overlay::Inspect(t) => inspect::render(self.machine(), *t, area, buf),
            Overlay::None | Overlay::Goto { .. } => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use crossterm::event::{KeyCode, KeyEvent};
    use ratatui::backend::TestBackend;
    use ratatui::Terminal;

    use super::*;
    use crate::tui::app::Target;
    use crate::units::{Pfn, ProcessId, Vpn};

    const SMALL: (u16, u16) = (80, 24);
    const LARGE: (u16, u16) = (160, 48);

    fn app(name: &str, size: (u16, u16), step: usize) -> App {
        let s = crate::scenario::resolve(name, &[]).unwrap();
        let mut a = App::new(Arc::new(s), size).unwrap();
        a.goto(step);
        a
    }

    fn app_set(name: &str, set: &[&str], size: (u16, u16), step: usize) -> App {
        let o: Vec<_> = set.iter().map(|s| crate::scenario::Override::parse(s).unwrap()).collect();
        let s = crate::scenario::resolve(name, &o).unwrap();
        let mut a = App::new(Arc::new(s), size).unwrap();
        a.goto(step);
        a
    }

    fn app_from(text: &str, size: (u16, u16), step: usize) -> App {
        let s = crate::scenario::load_str(text, "test", None, &[]).unwrap();
        let mut a = App::new(Arc::new(s), size).unwrap();
        a.goto(step);
        a
    }

    fn keys(a: &mut App, keys: &str) {
        for c in keys.chars() {
            a.on_key(KeyEvent::from(KeyCode::Char(c)));
        }
    }

    fn screen(a: &App) -> TestBackend {
        let (w, h) = a.size();
        let mut t = Terminal::new(TestBackend::new(w, h)).unwrap();
        t.draw(|f| f.render_widget(a, f.area())).unwrap();
        t.backend().clone()
    }

    fn pane(a: &App, size: (u16, u16), draw: fn(&App, Rect, &mut Buffer, bool)) -> TestBackend {
        let mut t = Terminal::new(TestBackend::new(size.0, size.1)).unwrap();
        t.draw(|f| {
            let area = f.area();
            draw(a, area, f.buffer_mut(), true)
        })
        .unwrap();
        t.backend().clone()
    }

    /// The screen's text, row by row.
    fn text(t: &TestBackend) -> String {
        let b = t.buffer();
        (0..b.area.height).map(|y| (0..b.area.width).map(|x| b[(x, y)].symbol()).collect::<String>() + "\n").collect()
    }

    #[test]
    fn belady_stepped_reference_by_reference_shows_the_position_and_the_working_set() {
        let mut a = app("belady", LARGE, 2);
        keys(&mut a, "....");
        let t = text(&screen(&a));
        assert!(t.contains("step 3/4, reference 4 of 12"), "{t}");
        assert!(
            t.contains("reference 4 of 12: three reads page 0x14000: demand_zero fault, evicted page 0x11000"),
            "{t}"
        );
        keys(&mut a, ".");
        let t = text(&screen(&a));
        assert!(t.contains("step 3/4, reference 5 of 12"), "{t}");
        assert!(t.contains("soft fault, evicted page 0x12000"), "{t}");
        keys(&mut a, ",");
        assert!(text(&screen(&a)).contains("step 3/4, reference 4 of 12"));
    }

    #[test]
    fn screen_at_the_start_80x24() {
        insta::assert_snapshot!(screen(&app("tour", SMALL, 0)));
    }

    #[test]
    fn screen_after_first_touch_80x24() {
        insta::assert_snapshot!(screen(&app("tour", SMALL, 4)));
    }

    #[test]
    fn screen_after_first_touch_160x48() {
        insta::assert_snapshot!(screen(&app("tour", LARGE, 4)));
    }

    #[test]
    fn screen_after_repurposing_160x48() {
        let mut a = app("tour", LARGE, 8);
        keys(&mut a, "ff");
        insta::assert_snapshot!(screen(&a));
    }

    #[test]
    fn help_overlay() {
        let mut a = app("tour", SMALL, 2);
        keys(&mut a, "?");
        insta::assert_snapshot!("help_80x24", screen(&a));
        let mut a = app("tour", LARGE, 2);
        keys(&mut a, "?");
        insta::assert_snapshot!("help_160x48", screen(&a));
    }

    #[test]
    fn inspect_overlays() {
        let mut a = app("tour", SMALL, 5);
        a.on_key(KeyEvent::from(KeyCode::Enter));
        assert_eq!(a.overlay(), &Overlay::Inspect(Target::Frame(Pfn(0))));
        insta::assert_snapshot!("inspect_pfn_80x24", screen(&a));
        keys(&mut a, "x");
        assert_eq!(a.overlay(), &Overlay::Inspect(Target::Page(ProcessId(0), Vpn(0x10))));
        insta::assert_snapshot!("inspect_pte_80x24", screen(&a));
        let mut a = app("tour", LARGE, 8);
        keys(&mut a, "f");
        a.on_key(KeyEvent::from(KeyCode::Enter));
        assert_eq!(a.overlay(), &Overlay::Inspect(Target::Vad(ProcessId(0), Vpn(0x10))));
        insta::assert_snapshot!("inspect_vad_160x48", screen(&a));
        keys(&mut a, "jj");
        a.on_key(KeyEvent::from(KeyCode::Esc));
        keys(&mut a, "jj");
        a.on_key(KeyEvent::from(KeyCode::Enter));
        insta::assert_snapshot!("inspect_page_file_pte_160x48", screen(&a));
    }

    #[test]
    fn breakpoint_menu_and_goto_prompt() {
        let mut a = app("tour", SMALL, 3);
        keys(&mut a, "b");
        insta::assert_snapshot!("breakpoint_80x24", screen(&a));
        a.on_key(KeyEvent::from(KeyCode::Esc));
        keys(&mut a, "g12");
        insta::assert_snapshot!("goto_80x24", screen(&a));
    }

    #[test]
    fn too_small_terminal_says_so() {
        insta::assert_snapshot!(screen(&app("tour", (50, 12), 0)));
    }

    #[test]
    fn resizing_redraws_at_the_new_size() {
        let mut a = app("tour", SMALL, 4);
        a.resize(100, 30);
        let b = screen(&a);
        assert_eq!(b.buffer().area, Rect::new(0, 0, 100, 30));
        insta::assert_snapshot!("tour_step4_100x30", b);
    }

    #[test]
    fn frames_pane() {
        let a = app("tour", SMALL, 8);
        insta::assert_snapshot!("frames_40x8", pane(&a, (40, 8), frames::render));
        insta::assert_snapshot!("frames_80x20", pane(&a, (80, 20), frames::render));
    }

    #[test]
    fn frames_pane_groups_frames_and_shows_numa_nodes() {
        let text = "[scenario]\nname = \"numa\"\n[machine]\nmemory = \"64 MiB\"\nnuma_nodes = 2\n\
                    [[process]]\nname = \"db\"\nws_max = 4000\nnode = 1\n\
                    [[step]]\nop = \"reserve\"\nprocess = \"db\"\nsize = \"32 MiB\"\ncommit = true\n\
                    [[step]]\nop = \"touch\"\nprocess = \"db\"\naddress = 0x10000\npages = 6000\naccess = \"write\"\n";
        let mut a = app_from(text, LARGE, 2);
        insta::assert_snapshot!("frames_grouped_numa_40x10", pane(&a, (40, 10), frames::render));
        insta::assert_snapshot!("frames_grouped_numa_80x24", pane(&a, (80, 24), frames::render));
        a.focus = Focus::Frames;
        a.on_key(KeyEvent::from(KeyCode::Down));
        insta::assert_snapshot!("frames_grouped_numa_selected_80x24", pane(&a, (80, 24), frames::render));
    }

    #[test]
    fn regions_pane_after_the_large_page_step() {
        // The scenario's own era: desperate, two regions emptied after
        // thirteen abandoned.
        let mut a = app("eras", SMALL, 6);
        keys(&mut a, "v");
        assert!(a.region_view());
        insta::assert_snapshot!("regions_eras_desperate_80x20", pane(&a, (80, 20), frames::render));
        // SP1: the two cheapest regions, the unmovable pages kept at the top.
        let mut a = app_set("eras", &["large_page_allocator=sp1"], SMALL, 6);
        keys(&mut a, "v");
        insta::assert_snapshot!("regions_eras_sp1_80x20", pane(&a, (80, 20), frames::render));
        insta::assert_snapshot!("regions_eras_sp1_40x8", pane(&a, (40, 8), frames::render));
        // The whole screen, the selection moved onto the second large page.
        let mut a = app_set("eras", &["large_page_allocator=sp1"], LARGE, 6);
        keys(&mut a, "v");
        let target = crate::tui::regions::candidates(&a)[1];
        while a.frame().0 / 512 < target {
            a.on_key(KeyEvent::from(KeyCode::Right));
        }
        insta::assert_snapshot!("screen_regions_sp1_160x48", screen(&a));
    }

    #[test]
    fn page_table_pane() {
        let a = app("tour", SMALL, 10);
        insta::assert_snapshot!("page_table_40x8", pane(&a, (40, 8), page_table::render));
        insta::assert_snapshot!("page_table_80x24", pane(&a, (80, 24), page_table::render));
    }

    #[test]
    fn working_set_pane() {
        let a = app("tour", SMALL, 5);
        insta::assert_snapshot!("working_set_fifo_19x8", pane(&a, (19, 8), working_set::render));
        insta::assert_snapshot!("working_set_fifo_38x12", pane(&a, (38, 12), working_set::render));
        let text = "[scenario]\nname = \"clock\"\n[machine]\nmemory = \"256 KiB\"\npolicy = \"clock\"\n\
                    [[process]]\nname = \"c\"\nws_max = 4\n\
                    [[step]]\nop = \"reserve\"\nprocess = \"c\"\naddress = 0x10000\nsize = \"64 KiB\"\ncommit = true\n\
                    [[step]]\nop = \"refs\"\nprocess = \"c\"\nbase = 0x10000\nrefs = [1, 2, 3, 4, 1, 5]\n";
        let a = app_from(text, SMALL, 2);
        insta::assert_snapshot!("working_set_clock_38x12", pane(&a, (38, 12), working_set::render));
        // Aging: the editor of the balance scenario after three quiet
        // seconds, every page at age 2.
        let a = app("balance", SMALL, 4);
        insta::assert_snapshot!("working_set_aging_38x8", pane(&a, (38, 8), working_set::render));
    }

    #[test]
    fn a_number_too_wide_for_its_pane_is_cut_with_an_ellipsis() {
        let text = "[scenario]\nname = \"wide\"\n[machine]\nmemory = \"1 MiB\"\n\
                    [[process]]\nname = \"p\"\nws_min = 20\nws_max = 100000000\n";
        let a = app_from(text, SMALL, 0);
        for width in 10..40 {
            let b = pane(&a, (width, 6), working_set::render);
            let row: String = (0..width).map(|x| b.buffer()[(x, 1)].symbol().to_string()).collect();
            let row = row.trim_matches(|c| c == '│' || c == '┃' || c == ' ');
            // Either the whole maximum, in fewer words as the pane
            // narrows, or (narrower than the fewest) a cut that says so.
            let whole = ["size 0, min 20 max 100000000", "size 0, max 100000000", "0 of max 100000000", "0/100000000"]
                .iter()
                .any(|v| row.starts_with(v));
            assert!(whole || row.ends_with('…'), "width {width}: {row:?}");
            if !whole {
                let shown = row.trim_end_matches('…');
                assert!("0/100000000".starts_with(shown), "width {width}: {row:?}");
            }
        }
    }

    #[test]
    fn lists_and_counters_panes() {
        let a = app("tour", SMALL, 9);
        insta::assert_snapshot!("lists_27x8", pane(&a, (27, 8), lists::render));
        insta::assert_snapshot!("lists_54x12", pane(&a, (54, 12), lists::render));
        insta::assert_snapshot!("counters_34x8", pane(&a, (34, 8), counters::render));
        let a = app("tour", SMALL, 14);
        insta::assert_snapshot!("counters_68x12", pane(&a, (68, 12), counters::render));
    }

    #[test]
    fn the_counters_pane_and_the_run_report_write_simulated_time_alike() {
        let a = app("tour", SMALL, 14);
        let c = a.runner().machine().counters();
        assert!(c.activity.time_background.0 > 0, "the tour has background work by step 14");
        let time = crate::report::simulated_time(c.activity.time_foreground, c.activity.time_background);
        let pane_text = format!("{:?}", pane(&a, (80, 12), counters::render));
        assert!(pane_text.contains(&format!("time {time}")), "{time:?} not in {pane_text}");
        let report = crate::report::Report::of(a.runner()).text();
        assert!(report.contains(&format!("simulated time    {time}\n")), "{time:?} not in {report}");
    }

    #[test]
    fn events_pane() {
        let a = app("tour", SMALL, 2);
        insta::assert_snapshot!("events_error_80x7", pane(&a, (80, 7), events::render));
        let a = app("tour", SMALL, 10);
        insta::assert_snapshot!("events_hard_fault_160x16", pane(&a, (160, 16), events::render));
    }
}

//! The memory map by large-page region: one cell per aligned region of
//! the large-page size (or per group of regions, a power of two, showing
//! the worst state in the group), read from the contiguity index. It shows
//! what a large page, or a driver's contiguous buffer, can be had from:
//! regions entirely free, regions the cheap steps empty, regions only
//! compaction empties, regions that are large pages, and regions that can
//! never be emptied. The region the allocator works on in the shown step
//! (or at the event selected in the log) is lit.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::Widget;

use super::app::App;
use super::fit::{put_line, put_str};
use super::frames::{map_area, touched, Geometry, EVENT_LIT};
use crate::contiguity::{Category, Contiguity, RegionCounts};
use crate::event::Event;
use crate::pfn_db::PfnDatabase;
use crate::units::{Bytes, Pfn};

/// What a region is, for a large page. Ordered from the best to the
/// worst: a group of regions shows its worst.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum State {
    /// Every frame free or zeroed: a large page at once.
    Free,
    /// Free and standby frames only: the cheap steps (repurposing, no
    /// I/O) empty it.
    Cheap,
    /// Modified or active pages too (or frames in I/O), but nothing that
    /// cannot move: only compaction empties it.
    Partly,
    /// Every frame part of one large page.
    Large,
    /// Holds a frame that cannot move (locked, a driver's, AWE, bad), or
    /// is cut short by the end of memory: it can never be emptied.
    Unmovable,
}

impl State {
    /// Every state, best first.
    pub const ALL: [State; 5] = [State::Free, State::Cheap, State::Partly, State::Large, State::Unmovable];

    /// The state of a region of `per` frames with counts `c`; `large`
    /// says whether its frames are those of a large page (the index counts
    /// them as unmovable, like a locked page).
    pub fn classify(c: &RegionCounts, per: u32, large: bool) -> State {
        let per = per as u16;
        if c.get(Category::Free) == per {
            State::Free
        } else if c.get(Category::Unmovable) == per && large {
            State::Large
        } else if c.get(Category::Unmovable) > 0 {
            State::Unmovable
        } else if c.get(Category::Modified) + c.get(Category::Active) + c.get(Category::Transition) > 0 {
            State::Partly
        } else {
            State::Cheap
        }
    }

    /// The state of region `r` of the index `c` of `db`.
    pub fn of(db: &PfnDatabase, c: &Contiguity, r: u32) -> State {
        let counts = c.region(r);
        let per = c.size().frames();
        let (first, last) = (r * per, r * per + per - 1);
        // A large page is one whole aligned region: its first and last
        // frames say whether these unmovable frames are one.
        let large = || last < db.frames() && db.entry(Pfn(first)).large() && db.entry(Pfn(last)).large();
        let large = counts.get(Category::Unmovable) as u32 == per && large();
        State::classify(&counts, per, large)
    }

    /// The cell's glyph.
    pub fn glyph(self) -> char {
        match self {
            State::Free => '·',
            State::Cheap => 'c',
            State::Partly => 'p',
            State::Large => 'H',
            State::Unmovable => '#',
        }
    }

    /// The cell's colour.
    pub fn style(self) -> Style {
        Style::new().fg(match self {
            State::Free => Color::Green,
            State::Cheap => Color::Blue,
            State::Partly => Color::Yellow,
            State::Large => Color::LightBlue,
            State::Unmovable => Color::LightRed,
        })
    }

    /// The name in full.
    pub fn name(self) -> &'static str {
        match self {
            State::Free => "free",
            State::Cheap => "cheap",
            State::Partly => "partly used",
            State::Large => "large page",
            State::Unmovable => "unmovable",
        }
    }

    /// A short name for the legend.
    pub fn short_name(self) -> &'static str {
        match self {
            State::Free => "free",
            State::Cheap => "cheap",
            State::Partly => "used",
            State::Large => "large",
            State::Unmovable => "unmov",
        }
    }
}

/// Short names of the categories, in [`Category::ALL`] order.
const CATEGORY_NAMES: [&str; 6] = ["free", "stby", "mod", "act", "unmov", "I/O"];

/// Style of the regions the allocator works on.
pub const CANDIDATE: Style = Style::new().fg(Color::Black).bg(Color::LightMagenta).add_modifier(Modifier::BOLD);

/// The layout of the regions of `c` (on a machine of `frames` frames) in
/// a map area: one section, rows labelled by their first frame.
pub fn geometry(c: &Contiguity, frames: u32, map: Rect) -> Geometry {
    Geometry::layout(&[0, c.regions()], frames.saturating_sub(1), map.width, map.height)
}

/// The regions an event of a contiguous request is about: the run it
/// emptied or gave up on, each large page it allocated, a driver's
/// buffer. `None` for other events.
fn event_regions(e: &Event, per: u32) -> Option<Vec<u32>> {
    let ranges: Vec<(u32, u32)> = match e {
        Event::RunEmptied { first, frames, .. } | Event::RunAbandoned { first, frames, .. } => {
            vec![(first.0, first.0 + frames)]
        }
        Event::LargePagesAllocated { frames, .. } => frames.iter().map(|f| (f.0, f.0 + per)).collect(),
        Event::ContiguousAllocated { first, pages } => vec![(first.0, first.0.saturating_add(*pages as u32))],
        _ => return None,
    };
    let mut v: Vec<u32> = ranges.iter().filter(|r| r.1 > r.0).flat_map(|r| r.0 / per..=(r.1 - 1) / per).collect();
    v.sort_unstable();
    v.dedup();
    Some(v)
}

/// The regions the allocator works on at the shown position: with an
/// event selected in the log, the regions of the run that event belongs
/// to (the first run event at or after it, which closes the run: its
/// moves and repurposings come before it), or after the step's last run
/// event, that one; otherwise the regions of the step's latest run
/// event (a run emptied or abandoned, large pages allocated, a driver's
/// buffer). Empty when the step has none.
pub fn candidates(app: &App) -> Vec<u32> {
    let Some(c) = app.machine().pfn_db().contiguity() else { return Vec::new() };
    let per = c.size().frames();
    let events = super::events::step_events(app);
    let regions = |e: &Event| event_regions(e, per);
    let found = match super::events::selected_event(app) {
        Some(i) => {
            let i = i.min(events.len());
            events[i..].iter().find_map(regions).or_else(|| events[..i].iter().rev().find_map(regions))
        }
        None => events.iter().rev().find_map(regions),
    };
    found.unwrap_or_default()
}

/// Draws the pane in its region view (the machine has a contiguity index).
pub fn render(app: &App, c: &Contiguity, area: Rect, buf: &mut Buffer, focused: bool) {
    let m = app.machine();
    let db = m.pfn_db();
    let inner = super::ui::inner(area);
    let map = map_area(inner);
    let geo = geometry(c, db.frames(), map);
    let per = c.size().frames();
    let n = c.regions();
    let size = Bytes(c.size().bytes());
    let candidates = candidates(app);
    let (group_long, group_short) = if geo.group == 1 {
        (String::new(), String::new())
    } else {
        (format!(", {} a cell", geo.group), format!(", {}/cell", geo.group))
    };
    let list = |v: &[u32]| v.iter().map(|r| r.to_string()).collect::<Vec<_>>().join(", ");
    let (at_long, at_short) = match candidates.len() {
        0 => (String::new(), String::new()),
        1 => (format!("; allocator at region {}", candidates[0]), format!("; at {}", candidates[0])),
        _ => (format!("; allocator at regions {}", list(&candidates)), format!("; at {}", list(&candidates))),
    };
    let titles = [
        format!("Physical memory by large-page region: {n} of {size}{group_long}{at_long}"),
        format!("Regions: {n} of {size}{group_short}{at_long}"),
        format!("Regions: {n}{group_short}{at_short}"),
        format!("Regions: {n} of {size}{group_short}"),
        format!("Regions{group_short}"),
    ];
    let fits = |t: &String| t.chars().count() + 4 <= area.width as usize;
    let title = titles.iter().find(|t| fits(t)).unwrap_or(&titles[4]);
    super::ui::pane_block(title, focused).render(area, buf);
    if inner.width == 0 || inner.height == 0 {
        return;
    }

    let touched = touched(app);
    let selected = geo.group_start((app.frame().0.min(db.frames().saturating_sub(1))) / per);
    let w = geo.width as u32;
    let dim = Style::new().fg(Color::DarkGray);
    let s = &geo.sections[0];
    if geo.label > 0 {
        for r in 0..s.cells.div_ceil(w) {
            if r >= map.height as u32 {
                break;
            }
            let text = format!("{:#x}", (r * w * geo.group) * per);
            let lw = geo.label as usize - 1;
            put_str(buf, map.x, map.y + r as u16, format!("{text:>lw$}"), lw, dim);
        }
    }
    for i in 0..s.cells {
        let row = i / w;
        if row >= map.height as u32 {
            break;
        }
        let start = i * geo.group;
        let end = (start + geo.group).min(n);
        let state = (start..end).map(|r| State::of(db, c, r)).max().unwrap_or(State::Free);
        let mut style = state.style();
        let (f0, f1) = (start * per, end * per);
        if touched.step.any_in(f0, f1) {
            style = style.add_modifier(Modifier::BOLD);
        }
        if touched.event.any_in(f0, f1) {
            style = style.patch(EVENT_LIT);
        }
        let lo = candidates.partition_point(|&r| r < start);
        if lo < candidates.len() && candidates[lo] < end {
            style = style.patch(CANDIDATE);
        }
        if start == selected {
            style = style.add_modifier(Modifier::REVERSED);
        }
        let cell = &mut buf[(map.x + geo.label + (i % w) as u16, map.y + row as u16)];
        cell.set_char(state.glyph()).set_style(style);
    }

    let mut y = map.y + map.height;
    if inner.height >= 4 {
        legend(Rect { x: inner.x, y, width: inner.width, height: 1 }, buf);
        y += 1;
    }
    if inner.height >= 2 {
        let line = detail(db, c, &geo, selected, &candidates);
        put_line(buf, inner.x, y, &line, inner.width);
    }
}

/// The legend: every state, by name when there is room.
fn legend(area: Rect, buf: &mut Buffer) {
    let long: usize = State::ALL.iter().map(|s| s.name().len() + 3).sum();
    let spans: Vec<Span> = State::ALL
        .iter()
        .flat_map(|&s| {
            let name = if long <= area.width as usize { s.name() } else { s.short_name() };
            [Span::styled(s.glyph().to_string(), s.style()), Span::raw(format!("={name} "))]
        })
        .collect();
    put_line(buf, area.x, area.y, &Line::from(spans), area.width);
}

/// A region's (or a group's) counts by category, the empty ones left out,
/// hardest to empty first: what keeps it from being a large page comes
/// before the line is cut.
fn counts_text(c: &[u32; 6]) -> String {
    let parts: Vec<String> =
        c.iter().zip(CATEGORY_NAMES).rev().filter(|(&n, _)| n > 0).map(|(n, name)| format!("{name} {n}")).collect();
    parts.join(" ")
}

/// One line about the selected cell: the region's number, first frame,
/// state and counts by category, or a group's states and summed counts.
fn detail(db: &PfnDatabase, c: &Contiguity, geo: &Geometry, selected: u32, candidates: &[u32]) -> Line<'static> {
    let per = c.size().frames();
    let n = c.regions();
    if n == 0 {
        return Line::raw("no regions");
    }
    let start = selected.min(n - 1);
    let end = (start + geo.group).min(n);
    let mut sum = [0u32; 6];
    for r in start..end {
        for (s, &k) in sum.iter_mut().zip(&c.region(r).counts) {
            *s += k as u32;
        }
    }
    // The index counts the frames a region cut short by the end of memory
    // lacks as unmovable; they are said apart.
    let missing = (end * per).saturating_sub(db.frames());
    sum[Category::Unmovable as usize] -= missing.min(sum[Category::Unmovable as usize]);
    let short = if missing > 0 { format!(", {missing} past the end") } else { String::new() };
    let lit = candidates.iter().any(|&r| r >= start && r < end);
    let mark = if lit { " (allocator's)" } else { "" };
    if end - start == 1 {
        let state = State::of(db, c, start);
        let text = format!("region {start}{mark} pfn {:#x}{short}: {}", start * per, counts_text(&sum));
        return Line::from(vec![Span::styled(format!("{} ", state.glyph()), state.style()), Span::raw(text)]);
    }
    let mut spans = vec![Span::raw(format!("regions {start}-{}{mark} pfn {:#x}{short}:", end - 1, start * per))];
    for s in State::ALL {
        let k = (start..end).filter(|&r| State::of(db, c, r) == s).count();
        if k > 0 {
            spans.push(Span::raw(" "));
            spans.push(Span::styled(s.glyph().to_string(), s.style()));
            spans.push(Span::raw(format!("{k}")));
        }
    }
    spans.push(Span::raw(format!("; {}", counts_text(&sum))));
    Line::from(spans)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use crossterm::event::{KeyCode, KeyEvent};

    use super::*;
    use crate::tui::app::Focus;

    fn eras(era: &str) -> App {
        let o = [crate::scenario::Override::parse(&format!("large_page_allocator={era}")).unwrap()];
        let s = crate::scenario::resolve("eras", &o).unwrap();
        let mut a = App::new(Arc::new(s), (160, 48)).unwrap();
        a.goto(6);
        a
    }

    fn select_event(a: &mut App, i: usize) {
        while a.focus != Focus::Events {
            a.on_key(KeyEvent::from(KeyCode::Char('f')));
        }
        for _ in 0..100_000 {
            let k = match crate::tui::events::selected_event(a) {
                Some(j) if j == i => return,
                Some(j) if j > i => KeyCode::Up,
                _ => KeyCode::Down,
            };
            a.on_key(KeyEvent::from(k));
        }
        panic!("event {i} is not in the log");
    }

    /// The style of the cell of region `r` in a region view drawn in `area`.
    fn cell_style(a: &App, area: Rect, r: u32) -> Style {
        let mut buf = Buffer::empty(area);
        super::super::frames::render(a, area, &mut buf, false);
        let c = a.machine().pfn_db().contiguity().unwrap();
        let map = map_area(crate::tui::ui::inner(area));
        let g = geometry(c, a.machine().pfn_db().frames(), map);
        let (x, y) = g.cell_of(r).unwrap();
        buf[(map.x + x, map.y + y)].style()
    }

    fn counts(free: u16, standby: u16, modified: u16, active: u16, unmovable: u16) -> RegionCounts {
        RegionCounts { counts: [free, standby, modified, active, unmovable, 0] }
    }

    #[test]
    fn a_region_is_classified_by_what_emptying_it_would_take() {
        let per = 512;
        assert_eq!(State::classify(&counts(512, 0, 0, 0, 0), per, false), State::Free);
        assert_eq!(State::classify(&counts(12, 500, 0, 0, 0), per, false), State::Cheap);
        assert_eq!(State::classify(&counts(0, 512, 0, 0, 0), per, false), State::Cheap);
        assert_eq!(State::classify(&counts(100, 200, 1, 0, 0), per, false), State::Partly);
        assert_eq!(State::classify(&counts(0, 0, 0, 512, 0), per, false), State::Partly);
        let mut in_io = counts(511, 0, 0, 0, 0);
        in_io.counts[Category::Transition as usize] = 1;
        assert_eq!(State::classify(&in_io, per, false), State::Partly);
        assert_eq!(State::classify(&counts(0, 0, 0, 0, 512), per, true), State::Large);
        assert_eq!(State::classify(&counts(0, 0, 0, 0, 512), per, false), State::Unmovable, "512 locked pages");
        assert_eq!(State::classify(&counts(300, 100, 50, 61, 1), per, false), State::Unmovable, "one driver's page");
        // A region cut short at the end of memory: its missing frames count as unmovable.
        assert_eq!(State::classify(&counts(100, 0, 0, 0, 412), per, false), State::Unmovable);
        // The worst state of a group wins.
        assert_eq!([State::Free, State::Large, State::Cheap].into_iter().max(), Some(State::Large));
        assert!(State::Partly < State::Large && State::Large < State::Unmovable);
    }

    #[test]
    fn boot_leaves_every_whole_region_free_and_the_cut_one_unmovable() {
        let db = {
            let mut db = PfnDatabase::new(3 * 512 + 100, 1, &[600]);
            db.index_contiguity(crate::large_page::LargePageSize::X64, &[600]);
            db
        };
        let c = db.contiguity().unwrap();
        let states: Vec<State> = (0..c.regions()).map(|r| State::of(&db, c, r)).collect();
        assert_eq!(states, vec![State::Free, State::Unmovable, State::Free, State::Unmovable]);
    }

    #[test]
    fn run_events_name_their_regions() {
        let per = 512;
        let e = Event::RunEmptied {
            first: Pfn(0x15a00),
            frames: 512,
            repurposed: 0,
            written: 0,
            moved: 0,
            time: crate::units::SimNanos(0),
        };
        assert_eq!(event_regions(&e, per), Some(vec![0xad]));
        let e = Event::ContiguousAllocated { first: Pfn(510), pages: 4 };
        assert_eq!(event_regions(&e, per), Some(vec![0, 1]));
        let e =
            Event::PageMoved { pid: crate::units::ProcessId(0), vpn: crate::units::Vpn(0), from: Pfn(1), to: Pfn(2) };
        assert_eq!(event_regions(&e, per), None);
    }

    #[test]
    fn the_allocator_s_regions_are_lit_and_follow_the_selected_event() {
        let mut a = eras("sp1");
        a.on_key(KeyEvent::from(KeyCode::Char('v')));
        assert!(a.region_view());
        let c = a.machine().pfn_db().contiguity().unwrap();
        assert_eq!(State::of(a.machine().pfn_db(), c, 173), State::Large);
        assert_eq!(State::of(a.machine().pfn_db(), c, 255), State::Unmovable, "SP1 keeps drivers' pages at the top");
        // The step's latest run event is the allocation: both large pages.
        assert_eq!(candidates(&a), vec![173, 201]);
        let area = Rect::new(0, 0, 80, 20);
        assert_eq!(cell_style(&a, area, 173).bg, Some(Color::LightMagenta));
        assert_ne!(cell_style(&a, area, 172).bg, Some(Color::LightMagenta));
        // Event by event: the first events empty region 173, those after
        // its run_emptied empty region 201.
        let events = crate::tui::events::step_events(&a).to_vec();
        let runs: Vec<usize> = (0..events.len()).filter(|&i| events[i].kind() == "run_emptied").collect();
        assert_eq!(runs.len(), 2);
        let moved = events.iter().position(|e| e.kind() == "page_moved").unwrap();
        select_event(&mut a, moved);
        assert_eq!(candidates(&a), vec![173]);
        assert_ne!(cell_style(&a, area, 201).bg, Some(Color::LightMagenta));
        select_event(&mut a, runs[0]);
        assert_eq!(candidates(&a), vec![173]);
        select_event(&mut a, runs[0] + 1);
        assert_eq!(candidates(&a), vec![201]);
        assert_eq!(cell_style(&a, area, 201).bg, Some(Color::LightMagenta));
        assert_ne!(cell_style(&a, area, 173).bg, Some(Color::LightMagenta));
        // The selected move lights the region its page went to.
        let Event::PageMoved { to, .. } = events[runs[0] + 1..].iter().find(|e| e.kind() == "page_moved").unwrap()
        else {
            unreachable!()
        };
        let i = runs[0] + 1 + events[runs[0] + 1..].iter().position(|e| e.kind() == "page_moved").unwrap();
        select_event(&mut a, i);
        assert_eq!(cell_style(&a, area, to.0 / 512).bg, Some(Color::LightYellow));
        // A step without run events lights nothing.
        a.on_key(KeyEvent::from(KeyCode::Char('n')));
        assert_eq!(candidates(&a), Vec::<u32>::new());
    }

    #[test]
    fn the_desperate_allocator_lights_each_region_it_gives_up_on() {
        let mut a = eras("desperate");
        let events = crate::tui::events::step_events(&a).to_vec();
        let first = events.iter().position(|e| e.kind() == "run_abandoned").unwrap();
        let Event::RunAbandoned { first: pfn, .. } = events[first] else { unreachable!() };
        select_event(&mut a, first);
        assert_eq!(candidates(&a), vec![pfn.0 / 512]);
        // Before it, its moves: the same region.
        select_event(&mut a, first - 1);
        assert_eq!(candidates(&a), vec![pfn.0 / 512]);
        // Back on the step's source line: the allocation, regions 1 and 14.
        while a.log_cursor().pos > 0 {
            a.on_key(KeyEvent::from(KeyCode::PageUp));
        }
        assert_eq!(crate::tui::events::selected_event(&a), None);
        assert_eq!(candidates(&a), vec![1, 14]);
    }

    #[test]
    fn the_last_line_gives_the_region_its_first_frame_and_its_counts() {
        let s = crate::scenario::resolve("tour", &[]).unwrap();
        let mut a = App::new(Arc::new(s), (80, 24)).unwrap();
        a.goto(4);
        a.on_key(KeyEvent::from(KeyCode::Char('v')));
        let area = Rect::new(0, 0, 60, 6);
        let mut buf = Buffer::empty(area);
        super::super::frames::render(&a, area, &mut buf, false);
        let row = |y: u16| (0..area.width).map(|x| buf[(x, y)].symbol().to_string()).collect::<String>();
        // 64 frames in a region of 512: cut short, so unmovable.
        assert!(row(1).contains("0x0 #"), "{}", row(1));
        assert!(row(3).contains("·=free c=cheap p=partly used H=large page #=unmovable"), "{}", row(3));
        assert!(row(4).contains("# region 0 pfn 0x0, 448 past the end: act 8 mod 4 free 52"), "{}", row(4));
    }
}

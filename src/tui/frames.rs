//! The physical memory map: every frame as one cell, or on large machines
//! a group of frames (a power of two) per cell showing the group's
//! majority. Each NUMA node starts on a new row under its own heading.
//! Cells carry a glyph as well as a colour, so the map reads in monochrome.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::Widget;

use super::app::App;
use super::fit::{put_line, put_str};
use crate::event::Event;
use crate::machine::Machine;
use crate::pfn_db::{PageLocation, PfnDatabase, PfnEntry};
use crate::units::Pfn;

/// What a frame is doing, as the map shows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cat {
    /// On the zeroed list.
    Zeroed,
    /// On the free list.
    Free,
    /// On a standby list.
    Standby,
    /// On the modified list.
    Modified,
    /// On the modified-no-write list.
    ModifiedNoWrite,
    /// Bad.
    Bad,
    /// I/O in progress.
    Transition,
    /// Locked in memory.
    Locked,
    /// Allocated by AllocateUserPhysicalPages.
    Awe,
    /// Part of a large page.
    Large,
    /// In the working set of the process with this id.
    Active(u16),
}

const FIXED: usize = 10;

/// Colours of active frames, by process id.
const PROCESS_COLOURS: [Color; 6] =
    [Color::Green, Color::Cyan, Color::LightMagenta, Color::LightGreen, Color::LightCyan, Color::LightBlue];

impl Cat {
    /// The category of a frame.
    #[inline]
    pub fn of(e: &PfnEntry) -> Cat {
        if e.large() {
            return Cat::Large;
        }
        if e.awe() {
            return Cat::Awe;
        }
        if e.locked() {
            return Cat::Locked;
        }
        match e.location() {
            PageLocation::Zeroed => Cat::Zeroed,
            PageLocation::Free => Cat::Free,
            PageLocation::Standby => Cat::Standby,
            PageLocation::Modified => Cat::Modified,
            PageLocation::ModifiedNoWrite => Cat::ModifiedNoWrite,
            PageLocation::Bad => Cat::Bad,
            PageLocation::Transition => Cat::Transition,
            PageLocation::Active => Cat::Active(e.owner().map_or(0, |(p, _)| p.0)),
        }
    }

    #[inline]
    fn index(self) -> usize {
        match self {
            Cat::Zeroed => 0,
            Cat::Free => 1,
            Cat::Standby => 2,
            Cat::Modified => 3,
            Cat::ModifiedNoWrite => 4,
            Cat::Bad => 5,
            Cat::Transition => 6,
            Cat::Locked => 7,
            Cat::Awe => 8,
            Cat::Large => 9,
            Cat::Active(p) => FIXED + p as usize,
        }
    }

    fn from_index(i: usize) -> Cat {
        match i {
            0 => Cat::Zeroed,
            1 => Cat::Free,
            2 => Cat::Standby,
            3 => Cat::Modified,
            4 => Cat::ModifiedNoWrite,
            5 => Cat::Bad,
            6 => Cat::Transition,
            7 => Cat::Locked,
            8 => Cat::Awe,
            9 => Cat::Large,
            p => Cat::Active((p - FIXED) as u16),
        }
    }

    /// The cell's glyph: a mark for each list, the process number (1-9,
    /// then `*`) for active frames.
    pub fn glyph(self) -> char {
        match self {
            Cat::Zeroed => '·',
            Cat::Free => '-',
            Cat::Standby => 's',
            Cat::Modified => 'm',
            Cat::ModifiedNoWrite => 'n',
            Cat::Bad => 'X',
            Cat::Transition => 't',
            Cat::Locked => 'L',
            Cat::Awe => 'W',
            Cat::Large => 'H',
            Cat::Active(p) => char::from_digit(p as u32 + 1, 10).filter(|_| p < 9).unwrap_or('*'),
        }
    }

    /// The cell's colour.
    pub fn style(self) -> Style {
        let fg = match self {
            Cat::Zeroed => Color::DarkGray,
            Cat::Free => Color::Gray,
            Cat::Standby => Color::Blue,
            Cat::Modified => Color::Yellow,
            Cat::ModifiedNoWrite => Color::LightYellow,
            Cat::Bad => Color::Red,
            Cat::Transition => Color::Magenta,
            Cat::Locked => Color::LightRed,
            Cat::Awe => Color::White,
            Cat::Large => Color::LightBlue,
            Cat::Active(p) => PROCESS_COLOURS[p as usize % PROCESS_COLOURS.len()],
        };
        Style::new().fg(fg)
    }

    /// A short name for the legend.
    pub fn short_name(self, m: &Machine) -> String {
        match self {
            Cat::Zeroed => "zero".into(),
            Cat::Free => "free".into(),
            Cat::Standby => "stby".into(),
            Cat::Modified => "mod".into(),
            Cat::ModifiedNoWrite => "nowr".into(),
            Cat::Bad => "bad".into(),
            Cat::Transition => "I/O".into(),
            Cat::Locked => "lock".into(),
            Cat::Awe => "AWE".into(),
            Cat::Large => "large".into(),
            Cat::Active(p) => m.name_of(crate::units::ProcessId(p)),
        }
    }

    /// The name in full.
    pub fn name(self, m: &Machine) -> String {
        match self {
            Cat::Zeroed => "zeroed".into(),
            Cat::Free => "free".into(),
            Cat::Standby => "standby".into(),
            Cat::Modified => "modified".into(),
            Cat::ModifiedNoWrite => "modified-no-write".into(),
            Cat::Bad => "bad".into(),
            Cat::Transition => "I/O in progress".into(),
            Cat::Locked => "locked".into(),
            Cat::Awe => "AWE".into(),
            Cat::Large => "large page".into(),
            Cat::Active(p) => format!("active in {}", m.name_of(crate::units::ProcessId(p))),
        }
    }
}

/// Counts categories over a range of frames.
struct Tally {
    counts: Vec<u32>,
}

impl Tally {
    fn new(processes: usize) -> Tally {
        Tally { counts: vec![0; FIXED + processes.max(1) + 1] }
    }

    /// Counts frames `start..end`; returns the majority (lowest category on
    /// a tie) and whether the range is mixed.
    fn count(&mut self, db: &PfnDatabase, start: u32, end: u32) -> (Cat, bool) {
        self.counts.iter_mut().for_each(|c| *c = 0);
        let last = self.counts.len() - 1;
        for f in start..end {
            let i = Cat::of(db.entry(Pfn(f))).index().min(last);
            self.counts[i] += 1;
        }
        let mut best = 0;
        let mut kinds = 0;
        for (i, &c) in self.counts.iter().enumerate() {
            if c > 0 {
                kinds += 1;
            }
            if c > self.counts[best] {
                best = i;
            }
        }
        (Cat::from_index(best), kinds > 1)
    }
}

/// One NUMA node's part of the map.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Section {
    /// The node.
    pub node: u8,
    /// First frame.
    pub start: u32,
    /// One past the last frame.
    pub end: u32,
    /// Map row of the node's heading (when the machine has several nodes).
    pub header: Option<u16>,
    /// Map row of the first cells.
    pub first_row: u16,
    /// Cells.
    pub cells: u32,
}

impl Section {
    fn rows(&self, width: u32) -> u32 {
        self.cells.div_ceil(width)
    }
}

/// How frames are laid out in the map: frames per cell, cells per row
/// (a power of two when there is room, so rows start at round frame
/// numbers), the width of the row labels, and where each node's cells are.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Geometry {
    /// Frames per cell (a power of two).
    pub group: u32,
    /// Cells per row.
    pub width: u16,
    /// Columns of the row labels (the first frame of the row), 0 for none.
    pub label: u16,
    /// The nodes' sections, in frame order.
    pub sections: Vec<Section>,
}

/// First frame of `node`.
fn node_start(db: &PfnDatabase, node: u8) -> u32 {
    let (mut lo, mut hi) = (0u32, db.frames());
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        if db.node_of(Pfn(mid)) < node {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    lo
}

impl Geometry {
    /// The layout of `db` in a map of `width` x `height` cells: the
    /// smallest power-of-two group that fits.
    pub fn new(db: &PfnDatabase, width: u16, height: u16) -> Geometry {
        let frames = db.frames();
        let nodes = db.nodes().max(1);
        let mut bounds: Vec<u32> = (0..nodes).map(|n| node_start(db, n)).collect();
        bounds.push(frames);
        Geometry::layout(&bounds, frames.saturating_sub(1), width, height)
    }

    /// The layout of units (frames, or large-page regions) in sections
    /// `bounds[i]..bounds[i + 1]`, each under a heading when there are
    /// several, in a map of `width` x `height` cells: the smallest
    /// power-of-two group that fits. Row labels are wide enough for
    /// `label_max` in hex.
    pub fn layout(bounds: &[u32], label_max: u32, width: u16, height: u16) -> Geometry {
        let nodes = bounds.len().saturating_sub(1).max(1);
        let headers = if nodes > 1 { nodes as u32 } else { 0 };
        let label_width = format!("{label_max:x}").len() as u16 + 3;
        let pow2 = |n: u16| 1u16 << (15 - n.leading_zeros());
        let (label, w) = if width >= label_width + 16 {
            (label_width, pow2(width - label_width))
        } else if width >= 16 {
            (0, pow2(width))
        } else {
            (0, width.max(1))
        };
        let rows_avail = (height as u32).saturating_sub(headers).max(1);
        let rows_for =
            |g: u32, w: u32| -> u32 { bounds.windows(2).map(|b| (b[1] - b[0]).div_ceil(g).div_ceil(w)).sum() };
        // A small machine gets the narrowest round rows that fit, so the map
        // is a block rather than one long line.
        let mut w = w as u32;
        if w.is_power_of_two() {
            while w > 16 && rows_for(1, w / 2) <= rows_avail {
                w /= 2;
            }
        }
        let mut group = 1u32;
        while rows_for(group, w) > rows_avail && group < (1 << 31) {
            group *= 2;
        }
        let mut sections = Vec::new();
        let mut row = 0u16;
        for (n, b) in bounds.windows(2).enumerate() {
            let header = (nodes > 1).then(|| {
                row += 1;
                row - 1
            });
            let s = Section {
                node: n as u8,
                start: b[0],
                end: b[1],
                header,
                first_row: row,
                cells: (b[1] - b[0]).div_ceil(group),
            };
            row = row.saturating_add(s.rows(w) as u16);
            sections.push(s);
        }
        Geometry { group, width: w as u16, label, sections }
    }

    fn section_of(&self, pfn: u32) -> Option<usize> {
        self.sections.iter().position(|s| pfn >= s.start && pfn < s.end)
    }

    /// The first frame of the cell holding `pfn`.
    pub fn group_start(&self, pfn: u32) -> u32 {
        match self.section_of(pfn) {
            Some(i) => {
                let s = &self.sections[i];
                s.start + (pfn - s.start) / self.group * self.group
            }
            None => pfn,
        }
    }

    /// The frames of the cell holding `pfn`.
    pub fn cell_range(&self, pfn: u32) -> (u32, u32) {
        let start = self.group_start(pfn);
        let end = self.section_of(pfn).map_or(start + 1, |i| self.sections[i].end);
        (start, (start + self.group).min(end))
    }

    /// Column and row of the cell holding `pfn`.
    pub fn cell_of(&self, pfn: u32) -> Option<(u16, u16)> {
        let s = &self.sections[self.section_of(pfn)?];
        let i = (pfn - s.start) / self.group;
        let w = self.width as u32;
        Some((self.label + (i % w) as u16, s.first_row + (i / w) as u16))
    }

    /// The first frame of the cell at a column and row, if there is one.
    pub fn pfn_at(&self, col: u16, row: u16) -> Option<u32> {
        let col = col.checked_sub(self.label)?;
        if col >= self.width {
            return None;
        }
        let w = self.width as u32;
        self.sections.iter().find_map(|s| {
            let r = row.checked_sub(s.first_row)? as u32;
            let i = r * w + col as u32;
            (r < s.rows(w) && i < s.cells).then(|| s.start + i * self.group)
        })
    }

    /// Rows the map takes.
    pub fn rows(&self) -> u16 {
        self.sections.last().map_or(0, |s| s.first_row + s.rows(self.width as u32) as u16)
    }

    /// The frame `dx` cells across and `dy` rows down from `pfn` (first
    /// frame of its cell), staying on the map.
    pub fn moved(&self, pfn: u32, dx: isize, dy: isize) -> u32 {
        let Some(si) = self.section_of(pfn) else { return pfn };
        if dx != 0 {
            let mut si = si;
            let mut i = ((pfn - self.sections[si].start) / self.group) as i64 + dx as i64;
            while i < 0 && si > 0 {
                si -= 1;
                i += self.sections[si].cells as i64;
            }
            while i >= self.sections[si].cells as i64 && si + 1 < self.sections.len() {
                i -= self.sections[si].cells as i64;
                si += 1;
            }
            let s = &self.sections[si];
            let i = i.clamp(0, s.cells as i64 - 1) as u32;
            return s.start + i * self.group;
        }
        let Some((col, row)) = self.cell_of(pfn) else { return pfn };
        let is_cells = |r: u16| {
            self.sections.iter().any(|s| r >= s.first_row && (r - s.first_row) < s.rows(self.width as u32) as u16)
        };
        let rows = self.rows() as isize;
        let mut r = row as isize;
        for _ in 0..dy.unsigned_abs() {
            let mut next = r + dy.signum();
            while next >= 0 && next < rows && !is_cells(next as u16) {
                next += dy.signum();
            }
            if next < 0 || next >= rows {
                break;
            }
            r = next;
        }
        let r = r as u16;
        self.pfn_at(col, r).unwrap_or_else(|| {
            // Past the end of a short last row: the section's last cell.
            let s = self.sections.iter().rev().find(|s| r >= s.first_row).copied().unwrap_or(self.sections[0]);
            s.start + (s.cells - 1) * self.group
        })
    }
}

/// The part of the pane's inner area the cells use: the last two rows
/// hold the legend and the selected cell's details.
pub fn map_area(inner: Rect) -> Rect {
    let reserved = match inner.height {
        0..=1 => 0,
        2..=3 => 1,
        _ => 2,
    };
    Rect { height: inner.height - reserved, ..inner }
}

/// Frames of the map, as sorted, disjoint ranges `[start, end)`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Marks(Vec<(u32, u32)>);

impl Marks {
    /// The ranges, sorted and merged.
    pub fn new(mut ranges: Vec<(u32, u32)>) -> Marks {
        ranges.retain(|r| r.0 < r.1);
        ranges.sort_unstable();
        let mut out: Vec<(u32, u32)> = Vec::with_capacity(ranges.len());
        for r in ranges {
            match out.last_mut() {
                Some(last) if r.0 <= last.1 => last.1 = last.1.max(r.1),
                _ => out.push(r),
            }
        }
        Marks(out)
    }

    /// Whether any marked frame is in `start..end`.
    pub fn any_in(&self, start: u32, end: u32) -> bool {
        let i = self.0.partition_point(|r| r.1 <= start);
        i < self.0.len() && self.0[i].0 < end
    }

    /// Whether nothing is marked.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// The frames a page was put in or taken from by an event: the frame of a
/// fault, an eviction or a repurposing; both frames of a page moved by
/// compaction.
fn page_frames(e: &Event) -> [Option<u32>; 2] {
    match e {
        Event::DemandZeroFault { pfn, .. }
        | Event::SoftFault { pfn, .. }
        | Event::HardFault { pfn, .. }
        | Event::ClusterPage { pfn, .. }
        | Event::Evicted { pfn, .. }
        | Event::Repurposed { pfn, .. } => [Some(pfn.0), None],
        Event::PageMoved { from, to, .. } => [Some(from.0), Some(to.0)],
        _ => [None, None],
    }
}

/// Every frame an event names, as ranges: [`page_frames`], and the runs
/// of frames of contiguous requests (a run emptied or abandoned and the
/// frame that stopped it, each large page of an allocation, a driver's
/// buffer). `large` is the frames of a large page.
pub fn event_frames(e: &Event, large: u32) -> Vec<(u32, u32)> {
    let mut v: Vec<(u32, u32)> = page_frames(e).into_iter().flatten().map(|f| (f, f + 1)).collect();
    match e {
        Event::RunEmptied { first, frames, .. } => v.push((first.0, first.0 + frames)),
        Event::RunAbandoned { first, frames, at, .. } => {
            v.push((first.0, first.0 + frames));
            v.extend(at.map(|p| (p.0, p.0 + 1)));
        }
        Event::LargePagesAllocated { frames, .. } => v.extend(frames.iter().map(|f| (f.0, f.0 + large))),
        Event::ContiguousAllocated { first, pages } | Event::ContiguousFreed { first, pages } => {
            v.push((first.0, first.0.saturating_add(*pages as u32)))
        }
        _ => {}
    }
    v
}

/// The frames of a large page on this machine (0 without large pages).
pub fn large_frames(m: &Machine) -> u32 {
    m.config().large_page_size().map_or(0, |s| s.frames())
}

/// What the map marks: the frames the current step's events put a page in
/// or took one from (drawn bold) and, while the event log has the focus
/// and an event is selected there, every frame that one event names
/// (drawn lit), so that moving through the log shows the step one event
/// at a time.
pub struct Touched {
    /// The step's frames.
    pub step: Marks,
    /// The selected event's frames.
    pub event: Marks,
}

/// Style of the frames the selected event names.
pub const EVENT_LIT: Style = Style::new().fg(Color::Black).bg(Color::LightYellow).add_modifier(Modifier::BOLD);

/// What the map marks for the app's current step and log selection.
pub fn touched(app: &App) -> Touched {
    let events = super::events::step_events(app);
    let step = if app.last_outcome().is_some() {
        Marks::new(events.iter().flat_map(page_frames).flatten().map(|f| (f, f + 1)).collect())
    } else {
        Marks::default()
    };
    let event = super::events::selected_event(app)
        .and_then(|i| events.get(i))
        .map(|e| Marks::new(event_frames(e, large_frames(app.machine()))))
        .unwrap_or_default();
    Touched { step, event }
}

/// Draws the pane: the frames, or the large-page regions when the app
/// shows them ([`App::region_view`]).
pub fn render(app: &App, area: Rect, buf: &mut Buffer, focused: bool) {
    let m = app.machine();
    let db = m.pfn_db();
    if let Some(c) = db.contiguity().filter(|_| app.region_view()) {
        return super::regions::render(app, c, area, buf, focused);
    }
    let inner = super::ui::inner(area);
    let map = map_area(inner);
    let geo = Geometry::new(db, map.width, map.height);
    let n = db.frames();
    let candidates = if geo.group == 1 {
        [format!("Physical memory: {n} frames"), format!("Memory: {n} frames"), "Memory".to_string()]
    } else {
        [
            format!("Physical memory: {n} frames, {} a cell", geo.group),
            format!("Memory: {n} frames, {}/cell", geo.group),
            format!("Memory, {}/cell", geo.group),
        ]
    };
    let fits = |t: &String| t.chars().count() + 4 <= area.width as usize;
    let title = candidates.iter().find(|t| fits(t)).unwrap_or(&candidates[2]);
    super::ui::pane_block(title, focused).render(area, buf);
    if inner.width == 0 || inner.height == 0 {
        return;
    }

    let touched = touched(app);
    let selected = geo.group_start(app.frame().0.min(db.frames().saturating_sub(1)));
    let mut tally = Tally::new(m.processes().len());
    let mut present = vec![false; FIXED + m.processes().len() + 1];
    let w = geo.width as u32;
    let dim = Style::new().fg(Color::DarkGray);
    for s in &geo.sections {
        if let Some(h) = s.header {
            if h < map.height {
                let text = format!("node {}: pfn 0x{:x}-0x{:x} ", s.node, s.start, s.end.saturating_sub(1));
                put_str(buf, map.x, map.y + h, format!("{text:─<w$}", w = map.width as usize), map.width as usize, dim);
            }
        }
        if geo.label > 0 {
            for r in 0..s.rows(w) {
                let y = s.first_row as u32 + r;
                if y >= map.height as u32 {
                    break;
                }
                let text = format!("{:#x}", s.start + r * w * geo.group);
                let lw = geo.label as usize - 1;
                put_str(buf, map.x, map.y + y as u16, format!("{text:>lw$}"), lw, dim);
            }
        }
        for i in 0..s.cells {
            let row = s.first_row as u32 + i / w;
            if row >= map.height as u32 {
                break;
            }
            let start = s.start + i * geo.group;
            let end = (start + geo.group).min(s.end);
            let (cat, mixed) = tally.count(db, start, end);
            for (p, &c) in present.iter_mut().zip(&tally.counts) {
                *p |= c > 0;
            }
            let mut style = cat.style();
            if mixed {
                style = style.add_modifier(Modifier::UNDERLINED);
            }
            if touched.step.any_in(start, end) {
                style = style.add_modifier(Modifier::BOLD);
            }
            if touched.event.any_in(start, end) {
                style = style.patch(EVENT_LIT);
            }
            if start == selected {
                style = style.add_modifier(Modifier::REVERSED);
            }
            let cell = &mut buf[(map.x + geo.label + (i % w) as u16, map.y + row as u16)];
            cell.set_char(cat.glyph()).set_style(style);
        }
    }

    // Legend, then the selected cell.
    let mut y = map.y + map.height;
    if inner.height >= 4 {
        legend(m, &present, Rect { x: inner.x, y, width: inner.width, height: 1 }, buf);
        y += 1;
    }
    if inner.height >= 2 {
        let line = detail(m, &geo, selected, &mut tally, inner.width as usize);
        put_line(buf, inner.x, y, &line, inner.width);
    }
}

/// The legend: every list, plus whatever else is on the map. When it is
/// too wide for the pane even with short names, the lists and processes
/// with no frame on the map are left out, from the last, so that no name
/// is cut.
fn legend(m: &Machine, present: &[bool], area: Rect, buf: &mut Buffer) {
    let mut cats: Vec<Cat> = vec![Cat::Zeroed, Cat::Free, Cat::Standby, Cat::Modified];
    for (i, &here) in present.iter().enumerate().skip(4) {
        let c = Cat::from_index(i);
        let always = matches!(c, Cat::Active(p) if (p as usize) < m.processes().len());
        if (here || always) && !cats.contains(&c) {
            cats.push(c);
        }
    }
    let width = area.width as usize;
    let long: usize = cats.iter().map(|c| c.name(m).len() + 4).sum();
    let full = long <= width;
    let name = |c: Cat| match c {
        Cat::Active(_) => c.short_name(m),
        _ if full => c.name(m),
        _ => c.short_name(m),
    };
    let size = |cats: &[Cat]| cats.iter().map(|&c| name(c).chars().count() + 3).sum::<usize>().saturating_sub(1);
    while size(&cats) > width {
        let Some(i) = cats.iter().rposition(|&c| !present[c.index()]) else { break };
        cats.remove(i);
    }
    let spans: Vec<Span> = cats
        .iter()
        .flat_map(|&c| [Span::styled(c.glyph().to_string(), c.style()), Span::raw(format!("={} ", name(c)))])
        .collect();
    put_line(buf, area.x, area.y, &Line::from(spans), area.width);
}

/// One line about the selected cell: the frame, or the group's mix. A
/// frame's line is shortened to fit `width` (the list's short name, then
/// without `pfn`) rather than cut.
fn detail(m: &Machine, geo: &Geometry, selected: u32, tally: &mut Tally, width: usize) -> Line<'static> {
    let db = m.pfn_db();
    if db.frames() == 0 {
        return Line::raw("no frames");
    }
    let (start, end) = geo.cell_range(selected);
    if end - start == 1 {
        let e = db.entry(Pfn(start));
        let cat = Cat::of(e);
        let variant = |short: bool| {
            let list = e.location().name();
            let list = match (short, list) {
                (true, "modified") => "mod",
                (true, "standby") => "stby",
                (true, "zeroed") => "zero",
                _ => list,
            };
            let mut text = if short { format!("0x{start:x} {list}") } else { format!("pfn 0x{start:x} {list}") };
            if let Some((pid, vpn)) = e.owner() {
                text += &format!(": {} {vpn}", m.name_of(pid));
            }
            if e.modified() {
                text += " dirty";
            }
            if db.nodes() > 1 {
                text += &format!(", node {}", db.node_of(Pfn(start)));
            }
            text
        };
        let mut text = variant(false);
        if text.chars().count() + 2 > width {
            text = variant(true);
        }
        return Line::from(vec![Span::styled(format!("{} ", cat.glyph()), cat.style()), Span::raw(text)]);
    }
    tally.count(db, start, end);
    let total = (end - start) as f64;
    let mut mix: Vec<(usize, u32)> = tally.counts.iter().copied().enumerate().filter(|&(_, c)| c > 0).collect();
    mix.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    let mut spans = vec![Span::raw(format!("pfn 0x{start:x}-0x{:x}:", end - 1))];
    for (k, (i, c)) in mix.into_iter().enumerate() {
        let cat = Cat::from_index(i);
        spans.push(Span::raw(if k == 0 { " " } else { ", " }));
        spans.push(Span::styled(cat.glyph().to_string(), cat.style()));
        spans.push(Span::raw(format!("={} {:.0}%", cat.short_name(m), c as f64 * 100.0 / total)));
    }
    Line::from(spans)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use crossterm::event::{KeyCode, KeyEvent};

    use super::*;

    /// The help's map legend and the map agree both ways: every glyph the
    /// map can draw is explained, and every glyph explained can be drawn.
    #[test]
    fn the_help_explains_exactly_the_glyphs_the_map_draws() {
        let map: Vec<&str> = crate::tui::help::GLYPHS.iter().take(3).copied().collect();
        let text = map.join(" ");
        let fixed: Vec<char> = (0..FIXED).map(|i| Cat::from_index(i).glyph()).collect();
        for g in &fixed {
            assert!(text.contains(&format!(" {g} ")), "the help does not explain the map glyph {g:?}: {text}");
        }
        // Every one-character word followed by its meaning is a glyph of the
        // map (or the process digits, 1-9).
        let words: Vec<&str> = text.split_whitespace().collect();
        for w in words.windows(2) {
            let mut chars = w[0].chars();
            if let (Some(c), None) = (chars.next(), chars.next()) {
                if c.is_alphabetic() || c == '·' || c == '-' {
                    assert!(fixed.contains(&c), "the help explains {c:?}, which the map never draws: {text}");
                }
            }
        }
        assert!(text.contains("1-9 active"), "{text}");
    }
    use crate::tui::app::Focus;

    #[test]
    fn marks_merge_ranges_and_find_overlaps() {
        let m = Marks::new(vec![(10, 12), (3, 4), (11, 20), (30, 30)]);
        assert_eq!(m, Marks(vec![(3, 4), (10, 20)]));
        assert!(m.any_in(0, 4) && m.any_in(19, 25) && m.any_in(12, 13));
        assert!(!m.any_in(4, 10) && !m.any_in(20, 64) && !m.any_in(0, 3));
        assert!(Marks::new(vec![(5, 5)]).is_empty());
    }

    #[test]
    fn the_selected_page_moved_event_lights_both_its_frames() {
        let s = crate::scenario::resolve("eras", &[]).unwrap();
        let mut a = App::new(Arc::new(s), (160, 48)).unwrap();
        a.goto(6);
        let events = crate::tui::events::step_events(&a).to_vec();
        let Some(moved) = events.iter().position(|e| e.kind() == "page_moved") else {
            panic!("the desperate allocator moves pages in step 6")
        };
        let Event::PageMoved { from, to, .. } = events[moved] else { unreachable!() };
        // The map marks every frame the step moved a page between.
        let t = touched(&a);
        assert!(t.step.any_in(from.0, from.0 + 1) && t.step.any_in(to.0, to.0 + 1));
        assert!(t.event.is_empty(), "no event is selected while the map has the focus");
        // Focus the log and walk down to the first move: just its two frames are lit.
        while a.focus != Focus::Events {
            a.on_key(KeyEvent::from(KeyCode::Char('f')));
        }
        for _ in 0..moved + 3 {
            if crate::tui::events::selected_event(&a) == Some(moved) {
                break;
            }
            a.on_key(KeyEvent::from(KeyCode::Down));
        }
        let t = touched(&a);
        assert_eq!(t.event, Marks::new(vec![(from.0, from.0 + 1), (to.0, to.0 + 1)]));
        // And the map draws them lit.
        let area = Rect::new(0, 0, 80, 20);
        let mut buf = Buffer::empty(area);
        render(&a, area, &mut buf, false);
        let map = map_area(crate::tui::ui::inner(area));
        let g = Geometry::new(a.machine().pfn_db(), map.width, map.height);
        for f in [from.0, to.0] {
            let (x, y) = g.cell_of(f).unwrap();
            assert_eq!(buf[(map.x + x, map.y + y)].bg, Color::LightYellow, "frame {f:#x}");
        }
        // The next event is another one: its frames are lit instead.
        a.on_key(KeyEvent::from(KeyCode::Down));
        assert_ne!(touched(&a).event, t.event);
    }

    #[test]
    fn one_frame_a_cell_when_it_fits_with_round_rows_and_labels() {
        let db = PfnDatabase::new(60, 1, &[]);
        let g = Geometry::new(&db, 38, 2);
        assert_eq!((g.group, g.width, g.label), (1, 32, 5));
        assert_eq!(g.rows(), 2);
        assert_eq!(g.cell_of(40), Some((13, 1)));
        assert_eq!(g.pfn_at(13, 1), Some(40));
        assert_eq!(g.pfn_at(2, 1), None, "the label has no cells");
        assert_eq!(g.pfn_at(35, 1), None, "past the last frame");
        assert_eq!(g.moved(40, 0, -1), 8);
        assert_eq!(g.moved(8, 0, 1), 40);
        assert_eq!(g.moved(30, 0, 1), 59, "down into a short last row lands on its last cell");
        assert_eq!(g.moved(0, -1, 0), 0);
        assert_eq!(g.moved(59, 1, 0), 59);
    }

    #[test]
    fn narrow_maps_drop_the_labels() {
        let db = PfnDatabase::new(60, 1, &[]);
        assert_eq!(Geometry::new(&db, 18, 4).label, 0);
        assert_eq!(Geometry::new(&db, 18, 4).width, 16);
        assert_eq!(Geometry::new(&db, 10, 8).width, 10);
    }

    #[test]
    fn large_machines_group_frames_by_powers_of_two() {
        let db = PfnDatabase::new(1 << 20, 1, &[]);
        let g = Geometry::new(&db, 78, 15);
        assert_eq!((g.group, g.width, g.label), (2048, 64, 8));
        assert!(g.rows() <= 15);
        assert_eq!(g.group_start(5000), 4096);
        assert_eq!(g.cell_range(5000), (4096, 6144));
        assert_eq!(g.moved(4096, 1, 0), 6144);
    }

    #[test]
    fn numa_nodes_start_new_rows_under_headings() {
        let db = PfnDatabase::new(100, 2, &[]);
        let g = Geometry::new(&db, 30, 10);
        assert_eq!((g.group, g.width, g.label), (1, 16, 5));
        assert_eq!(g.sections.len(), 2);
        assert_eq!((g.sections[0].header, g.sections[0].first_row), (Some(0), 1));
        assert_eq!((g.sections[1].start, g.sections[1].header, g.sections[1].first_row), (50, Some(5), 6));
        assert_eq!(g.pfn_at(5, 6), Some(50));
        assert_eq!(g.pfn_at(5, 5), None, "the heading row has no cells");
        assert_eq!(g.moved(45, 0, 1), 49, "column 13 of node 0's short last row is past its end");
        assert_eq!(g.moved(49, 0, 1), 51, "down past the heading into node 1");
        assert_eq!(g.moved(49, 1, 0), 50, "right across the boundary");
    }

    /// A two-node machine with a large page (a scenario step) and 64 AWE
    /// pages on node 1 (through the machine: no scenario step allocates
    /// them), at step 5 of 5.
    fn awe_and_large_app() -> (App, Vec<Pfn>) {
        let text = r#"
[scenario]
name = "awe-large"
[machine]
memory = "8 MiB"
numa_nodes = 2
[[process]]
name = "db"
started = false
[[step]]
op = "grant"
privilege = "SeLockMemoryPrivilege"
[[step]]
op = "logon"
[[step]]
op = "start"
process = "db"
[[step]]
op = "adjust_privileges"
process = "db"
privilege = "SeLockMemoryPrivilege"
[[step]]
op = "reserve"
process = "db"
address = 0x4000000
size = "2 MiB"
commit = true
large_pages = true
"#;
        use crate::machine::{Op, OpValue};
        let s = crate::scenario::load_str(text, "awe-large", None, &[]).unwrap();
        let mut a = App::new(Arc::new(s), (100, 40)).unwrap();
        a.goto(5);
        let m = a.machine_mut();
        let pid = m.processes().iter().find(|p| p.name == "db").unwrap().id;
        let window = Op::ReservePhysical {
            pid,
            address: Some(0x100000),
            size: 64 * 4096,
            protection: crate::pte::Protection::ReadWrite,
            commit: false,
        };
        m.apply(&window).unwrap();
        let Ok(OpValue::Frames(awe)) = m.apply(&Op::AllocatePhysical { pid, pages: 64, node: Some(1) }) else {
            panic!("AllocateUserPhysicalPagesNuma")
        };
        m.apply(&Op::MapPhysical { pid, address: 0x100000, pages: 64, frames: Some(awe.clone()) }).unwrap();
        (a, awe)
    }

    fn text(buf: &Buffer) -> String {
        let a = buf.area;
        (a.y..a.y + a.height)
            .map(|y| (a.x..a.x + a.width).map(|x| buf[(x, y)].symbol()).collect::<String>() + "\n")
            .collect()
    }

    #[test]
    fn awe_and_large_pages_have_their_own_letters_and_each_node_its_heading() {
        let (a, awe) = awe_and_large_app();
        let area = Rect::new(0, 0, 100, 40);
        let mut t = ratatui::Terminal::new(ratatui::backend::TestBackend::new(area.width, area.height)).unwrap();
        t.draw(|f| render(&a, f.area(), f.buffer_mut(), false)).unwrap();
        let buf = t.backend().buffer().clone();
        let map = map_area(crate::tui::ui::inner(area));
        let g = Geometry::new(a.machine().pfn_db(), map.width, map.height);
        // The cell of an AWE frame and of a large page's frame.
        let m = a.machine();
        let large = m.frame_of(m.processes()[0].id, crate::units::Vpn::containing(0x4000000)).unwrap();
        for (f, glyph) in [(awe[0], "W"), (large, "H")] {
            let (x, y) = g.cell_of(f.0).unwrap();
            assert_eq!(buf[(map.x + x, map.y + y)].symbol(), glyph, "frame {f}");
        }
        let screen = text(&buf);
        assert!(screen.contains("W=AWE") && screen.contains("H=large"), "the legend names both:\n{screen}");
        assert!(screen.contains("node 0: pfn 0x0-0x3ff") && screen.contains("node 1: pfn 0x400-0x7ff"), "{screen}");
        assert!(awe.iter().all(|f| m.pfn_db().node_of(*f) == 1));
    }

    #[test]
    fn the_inspector_names_an_awe_frame_its_flags_node_and_page() {
        let (a, awe) = awe_and_large_app();
        let m = a.machine();
        let flat = |t| {
            let (_, lines) = crate::tui::inspect::lines(m, t);
            lines.iter().map(|l| l.to_string()).collect::<Vec<_>>().join("\n")
        };
        let pfn = flat(crate::tui::app::Target::Frame(awe[0]));
        for want in [
            "AWE yes",
            "pinned yes",
            "large no",
            "1 of 2",
            "page 0x100000 of db",
            "ws index      none: in no working set",
            "never moved",
        ] {
            assert!(pfn.contains(want), "{want:?} in\n{pfn}");
        }
        let large = m.frame_of(m.processes()[0].id, crate::units::Vpn::containing(0x4000000)).unwrap();
        let pfn = flat(crate::tui::app::Target::Frame(large));
        assert!(
            pfn.contains("large yes") && pfn.contains("pinned yes") && pfn.contains("part of a large page"),
            "{pfn}"
        );
        let pte = flat(crate::tui::app::Target::Page(m.processes()[0].id, crate::units::Vpn::containing(0x100000)));
        assert!(pte.contains("AWE, node 1") && pte.contains("node 1, locked)") && !pte.contains("ws index"), "{pte}");
        // An ordinary page, and the same page locked by VirtualLock.
        let (mut a, _) = awe_and_large_app();
        use crate::machine::{AccessKind, Op};
        let pid = a.machine().processes()[0].id;
        let m = a.machine_mut();
        let reserve = Op::Reserve {
            pid,
            address: Some(0x10000),
            size: 4096,
            protection: crate::pte::Protection::ReadWrite,
            commit: true,
        };
        m.apply(&reserve).unwrap();
        m.access(pid, 0x10000, AccessKind::Write, Some(1), crate::working_set::NEVER).unwrap();
        let f = m.frame_of(pid, crate::units::Vpn(0x10)).unwrap();
        let flat = |m: &Machine| {
            let (_, lines) = crate::tui::inspect::lines(m, crate::tui::app::Target::Frame(f));
            lines.iter().map(|l| l.to_string()).collect::<Vec<_>>().join("\n")
        };
        assert!(!flat(m).contains("VirtualLock") && flat(m).contains("pinned no"), "{}", flat(m));
        m.apply(&Op::VirtualLock { pid, address: 0x10000, size: 4096 }).unwrap();
        assert!(flat(m).contains("locked in the working set (VirtualLock)"), "{}", flat(m));
    }
}

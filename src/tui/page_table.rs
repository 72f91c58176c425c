//! The process view: the selected process's address descriptors, each
//! followed by the PTE of every page it covers, with the kind of each PTE
//! as a letter (V valid, T transition, P page file, D demand zero, F mapped
//! file, N no access, x decommitted, `·` reserved only).

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::Widget;

use super::app::{scrolled, App};
use super::fit::{first_fitting, put_line, put_str};
use crate::process::{Process, Vad, VadKind};
use crate::pte::{Protection, Pte, PteKind};
use crate::units::Vpn;

/// One row of the pane.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Row {
    /// A VAD's heading.
    Vad(Vad),
    /// A page of the VAD.
    Page(Vpn, Vad),
}

/// Rows for a process: one per VAD plus one per page.
pub fn row_count(p: &Process) -> usize {
    p.vads.values().map(|v| 1 + v.pages as usize).sum()
}

/// The row at index `i`.
pub fn row_at(p: &Process, mut i: usize) -> Option<Row> {
    for v in p.vads.values() {
        if i == 0 {
            return Some(Row::Vad(*v));
        }
        if i <= v.pages as usize {
            return Some(Row::Page(v.start.offset(i as u64 - 1), *v));
        }
        i -= 1 + v.pages as usize;
    }
    None
}

/// The rows from `first`, at most `n`.
pub fn rows(p: &Process, first: usize, n: usize) -> Vec<Row> {
    let mut out = Vec::with_capacity(n);
    let mut i = first;
    for v in p.vads.values() {
        if out.len() == n {
            break;
        }
        let len = 1 + v.pages as usize;
        if i >= len {
            i -= len;
            continue;
        }
        for k in i..len {
            if out.len() == n {
                break;
            }
            out.push(if k == 0 { Row::Vad(*v) } else { Row::Page(v.start.offset(k as u64 - 1), *v) });
        }
        i = 0;
    }
    out
}

/// The row of page `vpn`.
pub fn row_of(p: &Process, vpn: Vpn) -> Option<usize> {
    let mut base = 0;
    for v in p.vads.values() {
        if v.contains(vpn) {
            return Some(base + 1 + (vpn.0 - v.start.0) as usize);
        }
        base += 1 + v.pages as usize;
    }
    None
}

/// The row of the VAD starting at `start`.
pub fn row_of_vad(p: &Process, start: Vpn) -> Option<usize> {
    let mut base = 0;
    for v in p.vads.values() {
        if v.start == start {
            return Some(base);
        }
        base += 1 + v.pages as usize;
    }
    None
}

/// A short protection name.
pub fn short_protection(p: Protection) -> &'static str {
    match p {
        Protection::ReadOnly => "RO",
        Protection::Execute => "X",
        Protection::ExecuteRead => "XR",
        Protection::ReadWrite => "RW",
        Protection::WriteCopy => "WC",
        Protection::ExecuteReadWrite => "XRW",
        Protection::ExecuteWriteCopy => "XWC",
        Protection::NoAccess => "NA",
    }
}

/// A VAD in one line of at most `width` columns if it can be: `committed`
/// shortened to `commit`, then `private` to `priv`, rather than cut.
pub fn describe_vad_in(v: &Vad, width: usize) -> String {
    let long = describe_vad(v);
    let commit = long.replacen(" committed", " commit", 1);
    let private = commit.replacen(" private ", " priv ", 1);
    let file = match v.kind {
        VadKind::Mapped { file, file_page } => private.replacen(
            &format!(" file {} @page {file_page}", file.0),
            &format!(" file {}@{file_page}", file.0),
            1,
        ),
        _ => private.clone(),
    };
    let bare = file.strip_prefix("VAD ").unwrap_or(&file).to_string();
    first_fitting(vec![long, commit, private, file, bare], width)
}

/// A VAD in one line.
pub fn describe_vad(v: &Vad) -> String {
    let kind = match v.kind {
        VadKind::Private => "private".to_string(),
        VadKind::Physical => "AWE window".to_string(),
        VadKind::Mapped { file, file_page } => format!("file {} @page {file_page}", file.0),
    };
    format!(
        "VAD {}-0x{:x} {kind} {}{}",
        v.start,
        v.end().address() - 1,
        short_protection(v.protection),
        if v.mem_commit { " committed" } else { "" }
    )
}

/// What a page's PTE means, read as the fault handler would (a zero PTE
/// is decided by its VAD): a letter and a description.
pub fn describe_page(pte: Pte, vad: &Vad, vpn: Vpn) -> (char, String) {
    let kind = pte.kind();
    match kind {
        PteKind::Valid { pfn, .. } if pte.is_awe() => ('A', format!("AWE page {pfn}, in no working set")),
        PteKind::Valid { .. } => ('V', kind.to_string()),
        PteKind::Transition { pfn, .. } => ('T', format!("transition {pfn}")),
        PteKind::PageFile { slot, .. } => ('P', format!("page file offset 0x{:x}", slot.0)),
        PteKind::DemandZero { protection } => ('D', format!("demand zero {}", short_protection(protection))),
        PteKind::MappedFile { .. } => ('F', format!("mapped file{}", file_page(vad, vpn))),
        PteKind::NoAccess => ('N', "no access".into()),
        PteKind::Decommitted => ('x', "decommitted".into()),
        PteKind::Zero => match vad.kind {
            VadKind::Mapped { .. } => ('F', format!("mapped file{} (zero PTE)", file_page(vad, vpn))),
            VadKind::Private if vad.mem_commit => ('D', "demand zero (zero PTE)".into()),
            VadKind::Private => ('·', "reserved (zero PTE)".into()),
            VadKind::Physical => ('·', "AWE window, nothing mapped".into()),
        },
    }
}

fn file_page(vad: &Vad, vpn: Vpn) -> String {
    match vad.kind {
        VadKind::Mapped { file, file_page } => format!(" {} page {}", file.0, file_page + (vpn.0 - vad.start.0)),
        VadKind::Private | VadKind::Physical => String::new(),
    }
}

/// The style of a PTE letter.
pub fn letter_style(c: char) -> Style {
    let fg = match c {
        'V' => Color::Green,
        'A' => Color::LightGreen,
        'T' => Color::Yellow,
        'P' => Color::Red,
        'D' => Color::Blue,
        'F' => Color::Cyan,
        'N' | 'x' => Color::Magenta,
        _ => Color::DarkGray,
    };
    Style::new().fg(fg)
}

/// Draws the pane.
pub fn render(app: &App, area: Rect, buf: &mut Buffer, focused: bool) {
    let m = app.machine();
    let procs = m.processes();
    let Some(p) = app.process() else {
        let block = super::ui::pane_block("Page table", focused);
        let inner = block.inner(area);
        block.render(area, buf);
        put_str(buf, inner.x, inner.y, "no processes", inner.width as usize, Style::new());
        return;
    };
    let exited = if p.exited { ", exited" } else { "" };
    let title = format!("Page table: {} ({}/{}{exited})", p.name, app.process_index() + 1, procs.len());
    let block = super::ui::pane_block(&title, focused);
    let inner = block.inner(area);
    block.render(area, buf);
    if inner.height == 0 {
        return;
    }
    let len = row_count(p);
    if len == 0 {
        let text = if p.exited { "exited: no address space" } else { "no VADs yet: nothing reserved" };
        put_str(buf, inner.x, inner.y, text, inner.width as usize, Style::new().fg(Color::DarkGray));
        return;
    }
    let cur = app.page_cursor();
    let pos = cur.pos.min(len - 1);
    let top = scrolled(cur.top.min(pos), pos, inner.height as usize);
    let shown = rows(p, top, inner.height as usize);
    let vw = shown.iter().map(|r| if let Row::Page(v, _) = r { v.to_string().len() } else { 0 }).max().unwrap_or(0);
    for (k, row) in shown.into_iter().enumerate() {
        let y = inner.y + k as u16;
        let line = match row {
            Row::Vad(v) => {
                Line::styled(describe_vad_in(&v, inner.width as usize), Style::new().add_modifier(Modifier::BOLD))
            }
            Row::Page(vpn, v) => {
                let pte = p.page_table.get(vpn);
                let (c, mut text) = describe_page(pte, &v, vpn);
                if let PteKind::Transition { pfn, .. } = pte.kind() {
                    let more = format!(" (on {})", m.pfn_db().entry(pfn).location().name());
                    if 3 + vw + 1 + text.len() + more.len() <= inner.width as usize {
                        text += &more;
                    }
                }
                // Shorter when narrow: "file" for "mapped file", then
                // without the parenthesis.
                let room = (inner.width as usize).saturating_sub(4 + vw);
                let file = text.replacen("mapped file", "file", 1);
                let bare = match file.find(" (") {
                    Some(i) if file.ends_with(')') => file[..i].to_string(),
                    _ => file.clone(),
                };
                let text = first_fitting(vec![text, file, bare], room);
                Line::from(vec![
                    Span::raw(" "),
                    Span::styled(c.to_string(), letter_style(c)),
                    Span::raw(format!(" {:<vw$} {text}", vpn.to_string())),
                ])
            }
        };
        put_line(buf, inner.x, y, &line, inner.width);
        if top + k == pos {
            let style = if focused {
                Style::new().add_modifier(Modifier::REVERSED)
            } else {
                Style::new().add_modifier(Modifier::UNDERLINED)
            };
            buf.set_style(Rect { x: inner.x, y, width: inner.width, height: 1 }, style);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tour_app_at(step: usize) -> crate::tui::app::App {
        let s = crate::scenario::resolve("tour", &[]).unwrap();
        let mut a = crate::tui::app::App::new(std::sync::Arc::new(s), (80, 24)).unwrap();
        a.goto(step);
        a
    }

    #[test]
    fn rows_walk_vads_then_their_pages() {
        let a = tour_app_at(12);
        let p = a.process().unwrap();
        assert_eq!(p.vads.len(), 2);
        assert_eq!(row_count(p), 1 + 16 + 1 + 2048);
        assert!(matches!(row_at(p, 0), Some(Row::Vad(v)) if v.start == Vpn(0x10)));
        assert!(matches!(row_at(p, 1), Some(Row::Page(Vpn(0x10), _))));
        assert!(matches!(row_at(p, 17), Some(Row::Vad(v)) if v.start == Vpn(0x1000)));
        assert!(matches!(row_at(p, 18), Some(Row::Page(Vpn(0x1000), _))));
        assert_eq!(row_at(p, row_count(p)), None);
        assert_eq!(rows(p, 15, 4), (15..19).map(|i| row_at(p, i).unwrap()).collect::<Vec<_>>());
        assert_eq!(row_of(p, Vpn(0x1000)), Some(18));
        assert_eq!(row_of_vad(p, Vpn(0x1000)), Some(17));
        assert_eq!(row_of(p, Vpn(0x5)), None);
    }
}

//! The inspector: a frame's PFN entry (as the kernel debugger's `!pfn`
//! shows it), a page's PTE (`!pte`), or a VAD.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Clear, Widget};

use super::app::Target;
use super::fit::put_line;
use super::page_table::{describe_page, describe_vad};
use crate::machine::Machine;
use crate::pfn_db::{Backing, PageLocation};
use crate::process::VadKind;
use crate::pte::PteKind;
use crate::units::{Pfn, ProcessId, Vpn};

fn field(name: &str, value: String) -> Line<'static> {
    Line::from(vec![Span::styled(format!("{name:<14}"), Style::new().fg(Color::DarkGray)), Span::raw(value)])
}

fn yes(b: bool) -> &'static str {
    if b {
        "yes"
    } else {
        "no"
    }
}

/// The title and lines for a target.
pub fn lines(m: &Machine, t: Target) -> (String, Vec<Line<'static>>) {
    match t {
        Target::Frame(pfn) => pfn_lines(m, pfn),
        Target::Page(pid, vpn) => pte_lines(m, pid, vpn),
        Target::Vad(pid, start) => vad_lines(m, pid, start),
    }
}

fn pfn_lines(m: &Machine, pfn: Pfn) -> (String, Vec<Line<'static>>) {
    let db = m.pfn_db();
    if pfn.0 >= db.frames() {
        return (format!("!pfn 0x{:x}", pfn.0), vec![Line::raw("no such frame")]);
    }
    let e = db.entry(pfn);
    let loc = e.location();
    let mut out = vec![field("location", format!("{} (list {})", loc.name(), loc as u8))];
    match (e.owner(), awe_owner(m, pfn)) {
        (Some((pid, vpn)), _) => out.push(field("PTE", format!("page {vpn} of {}  (x: show it)", m.name_of(pid)))),
        (None, Some((pid, Some(vpn)))) => {
            out.push(field("PTE", format!("AWE page of {}, mapped at {vpn}  (x: show it)", m.name_of(pid))))
        }
        (None, Some((pid, None))) => {
            out.push(field("PTE", format!("AWE page of {}, mapped nowhere now", m.name_of(pid))))
        }
        (None, None) => out.push(field("PTE", "none: no page maps this frame".into())),
    }
    if loc == PageLocation::Active && (e.awe() || e.large()) {
        out.push(field("ws index", "none: in no working set".into()));
    } else if loc == PageLocation::Active {
        let virtual_lock = e.owner().and_then(|(pid, _)| m.process(pid)).is_some_and(|p| p.ws.is_locked(e.ws_index()));
        let lock = if virtual_lock { "   locked in the working set (VirtualLock)" } else { "" };
        out.push(field("ws index", format!("{}{lock}", e.ws_index())));
    } else if let Some(next) = db.next_on_list(pfn) {
        out.push(field("next on list", format!("{next}")));
    }
    out.push(field("share count", format!("{}   reference count {}", e.share_count(), e.reference_count())));
    out.push(field("modified", format!("{}   priority {}", yes(e.modified()), e.priority())));
    out.push(field(
        "original PTE",
        match e.backing() {
            Backing::None => "none: no copy anywhere yet".into(),
            Backing::PageFile(s) => format!("page file offset 0x{s:x}"),
            Backing::File(p) => format!("mapped file page {p}"),
        },
    ));
    out.push(field("node", format!("{} of {}", db.node_of(pfn), db.nodes())));
    out.push(field(
        "flags",
        format!(
            "read-in-progress {} write-in-progress {} prototype {}",
            yes(e.read_in_progress()),
            yes(e.write_in_progress()),
            yes(e.prototype())
        ),
    ));
    out.push(field(
        "",
        format!("locked {} AWE {} large {} pinned {}", yes(e.locked()), yes(e.awe()), yes(e.large()), yes(e.pinned())),
    ));
    let meaning = if e.large() {
        "part of a large page: in no working set, never paged, never moved"
    } else if e.awe() {
        "an AWE page: in no working set, never paged, never moved"
    } else if e.locked() {
        "locked: never paged, never moved"
    } else {
        frame_meaning(loc)
    };
    out.push(field("meaning", meaning.into()));
    (format!("!pfn 0x{:x}", pfn.0), out)
}

/// The process owning an AWE frame, and the page it is mapped at.
pub(crate) fn awe_owner(m: &Machine, pfn: Pfn) -> Option<(ProcessId, Option<Vpn>)> {
    if !m.pfn_db().entry(pfn).awe() {
        return None;
    }
    m.processes().iter().find_map(|p| p.awe.pages.get(&pfn.0).map(|v| (p.id, *v)))
}

fn frame_meaning(loc: PageLocation) -> &'static str {
    match loc {
        PageLocation::Zeroed => "free and zeroed: ready for a demand-zero fault",
        PageLocation::Free => "free, stale contents: zeroed before reuse",
        PageLocation::Standby => "clean: its owner can soft-fault it back, or it is reused",
        PageLocation::Modified => "dirty: the modified page writer must write it first",
        PageLocation::ModifiedNoWrite => "dirty, and must not be written yet",
        PageLocation::Bad => "failed a memory test: never used",
        PageLocation::Active => "in a working set, mapped by a valid PTE",
        PageLocation::Transition => "I/O in progress",
    }
}

fn pte_meaning(k: &PteKind) -> &'static str {
    match k {
        PteKind::Valid { .. } => "resident: a reference hits, no fault",
        PteKind::Transition { .. } => "on a page list: a fault is soft, no I/O",
        PteKind::PageFile { .. } => "in the page file: a fault is hard (a disk read)",
        PteKind::DemandZero { .. } => "never touched: the first touch is a demand-zero fault",
        PteKind::MappedFile { .. } => "in the file: a fault reads it from the file",
        PteKind::NoAccess => "any access is an access violation",
        PteKind::Decommitted => "decommitted: any access is an access violation",
        PteKind::Zero => "nothing here yet: the VAD decides",
    }
}

fn pte_lines(m: &Machine, pid: ProcessId, vpn: Vpn) -> (String, Vec<Line<'static>>) {
    let title = format!("!pte {vpn} of {}", m.name_of(pid));
    let Some(p) = m.process(pid) else { return (title, vec![Line::raw("no such process")]) };
    let pte = p.page_table.get(vpn);
    let kind = pte.kind();
    let mut out = vec![field("raw", format!("0x{:016x}", pte.raw())), field("kind", kind.to_string())];
    if let Some(prot) = pte.protection() {
        out.push(field("protection", prot.win32_name().into()));
    }
    match p.vad_at(vpn) {
        Some(v) => {
            out.push(field("VAD", describe_vad(v)));
            if kind == PteKind::Zero {
                let (c, text) = describe_page(pte, v, vpn);
                out.push(field("reads as", format!("{c} {text}")));
            }
        }
        None => out.push(field("VAD", "none: free address space".into())),
    }
    match m.frame_of(pid, vpn) {
        Some(f) => {
            let e = m.pfn_db().entry(f);
            let node = m.pfn_db().node_of(f);
            let what = if e.large() {
                "large page"
            } else if e.awe() {
                "AWE"
            } else {
                e.location().name()
            };
            out.push(field("frame", format!("{f}, {what}, node {node}  (x: show its PFN entry)")));
            if e.location() == PageLocation::Active && !e.awe() && !e.large() {
                out.push(field("ws index", e.ws_index().to_string()));
            }
        }
        None => out.push(field("frame", "none".into())),
    }
    if let Some(slot) = m.pagefile_slot(pid, vpn) {
        out.push(field("page file", format!("offset 0x{:x} holds a copy", slot.0)));
    }
    out.push(field("wsex", m.query_working_set_ex(pid, vpn.address()).to_string()));
    let meaning = match (kind, p.vad_at(vpn)) {
        (PteKind::Zero, Some(v)) if matches!(v.kind, VadKind::Mapped { .. }) => {
            "in the file: a fault reads it from the file"
        }
        (PteKind::Zero, Some(v)) if v.mem_commit => "never touched: the first touch is a demand-zero fault",
        (PteKind::Zero, Some(_)) => "reserved, not committed: an access violation",
        (PteKind::Zero, None) => "free address space: an access violation",
        (PteKind::Valid { .. }, _) if pte.is_large() => "resident, part of a large page: never paged, never moved",
        (PteKind::Valid { .. }, _) if pte.is_awe() => "resident, an AWE page: never paged, never moved",
        (k, _) => pte_meaning(&k),
    };
    out.push(field("meaning", meaning.into()));
    (title, out)
}

fn vad_lines(m: &Machine, pid: ProcessId, start: Vpn) -> (String, Vec<Line<'static>>) {
    let title = format!("VAD at {start} of {}", m.name_of(pid));
    let Some(v) = m.process(pid).and_then(|p| p.vad_at(start)).copied() else {
        return (title, vec![Line::raw("no VAD here (released?)")]);
    };
    let p = m.process(pid).expect("the VAD's process");
    let mut out = vec![
        field("range", format!("{}-0x{:x}, {} pages", v.start, v.end().address() - 1, v.pages)),
        field(
            "kind",
            match v.kind {
                VadKind::Private => "private memory, backed by the page file".into(),
                VadKind::Physical => {
                    let a = &p.awe;
                    format!("AWE window (MEM_PHYSICAL); the process owns {} AWE pages, {} mapped", a.len(), a.mapped())
                }
                VadKind::Mapped { file, file_page } => {
                    let name = m.snapshot().files.get(file.0 as usize).map_or(String::new(), |f| f.name.clone());
                    format!("view of file {} ({name}) from page {file_page}", file.0)
                }
            },
        ),
        field("protection", v.protection.win32_name().into()),
        field(
            "committed",
            if v.mem_commit { "at reservation (MEM_RESERVE | MEM_COMMIT)" } else { "page by page" }.into(),
        ),
    ];
    let mut counts: Vec<(char, usize)> = Vec::new();
    for i in 0..v.pages {
        let vpn = v.start.offset(i);
        let (c, _) = describe_page(p.page_table.get(vpn), &v, vpn);
        match counts.iter_mut().find(|(k, _)| *k == c) {
            Some((_, n)) => *n += 1,
            None => counts.push((c, 1)),
        }
    }
    counts.sort();
    let text: Vec<String> = counts.iter().map(|(c, n)| format!("{c} {n}")).collect();
    out.push(field("PTEs", text.join("  ")));
    (title, out)
}

/// Draws the inspector centred in `area`.
pub fn render(m: &Machine, t: Target, area: Rect, buf: &mut Buffer) {
    let (title, mut text) = lines(m, t);
    text.push(Line::raw(""));
    text.push(Line::styled(
        "x PTE <-> PFN   arrows previous/next   n/p step   Esc close",
        Style::new().add_modifier(Modifier::DIM),
    ));
    let width =
        (text.iter().map(|l| l.width()).max().unwrap_or(0) as u16 + 4).max(title.len() as u16 + 6).min(area.width);
    let height = (text.len() as u16 + 2).min(area.height);
    let r = super::ui::centred(area, width, height);
    Clear.render(r, buf);
    let block = super::ui::overlay_block(&title);
    let inner = block.inner(r);
    block.render(r, buf);
    for (k, l) in text.iter().take(inner.height as usize).enumerate() {
        put_line(buf, inner.x + 1, inner.y + k as u16, l, inner.width.saturating_sub(1));
    }
}

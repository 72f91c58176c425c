//! The text captures of the TUI that the book's "Using the TUI" chapter
//! includes (book/src/tui/*.txt). Each is drawn into a TestBackend after a
//! script of keys; the test fails when a file is stale, and rewrites them
//! all when PAGELAB_BLESS is set:
//!
//! ```sh
//! PAGELAB_BLESS=1 cargo test --lib tui::captures
//! ```

use std::path::PathBuf;
use std::sync::Arc;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::backend::TestBackend;
use ratatui::Terminal;

use super::app::App;

/// (file, scenario, columns x rows, keys). The scenario is a built-in
/// name, maybe followed by `--set key=value` machine settings. Keys are
/// characters, or names
/// in angle brackets: `<Enter>`, `<Esc>`, `<Tab>`, `<Down>`, `<Up>`,
/// `<Left>`, `<Right>`, `<Home>`, `<End>`, `<PgDn>`, `<PgUp>`, `<BackTab>`.
const CAPTURES: &[(&str, &str, (u16, u16), &str)] = &[
    ("tour-start", "tour", (80, 24), ""),
    ("tour-step4", "tour", (80, 24), "nnnn"),
    ("tour-step4-pfn", "tour", (80, 24), "nnnn<Enter>"),
    ("tour-step4-pte", "tour", (80, 24), "nnnn<Enter>x"),
    ("tour-step5-ws", "tour", (80, 24), "nnnnnff"),
    ("tour-breakpoint", "tour", (80, 24), "b"),
    (
        "tour-step8-repurposed",
        "tour",
        (80, 24),
        "b<Home><Down><Down><Down><Down><Down><Down><Down><Down><Down><Down><Down><Down><Enter>",
    ),
    ("tour-step8-page-file-pte", "tour", (80, 24), "g8<Enter>f<Down><Down><Enter>"),
    ("tour-step10-hard-fault", "tour", (80, 24), "g10<Enter>fff"),
    ("tour-step10-big", "tour", (120, 40), "g10<Enter>"),
    ("tour-help", "tour", (80, 24), "?"),
    ("tour-goto", "tour", (80, 24), "g12"),
    ("belady-four", "belady", (80, 24), "nnnn<Tab>ff"),
    ("belady-reference4", "belady", (80, 24), "nn....ff"),
    ("belady-quiz-ask", "belady", (80, 24), "tmz-.mz-.mz-.mz"),
    ("belady-quiz-answered", "belady", (80, 24), "tmz-.mz-.mz-.mz1m"),
    ("numa-grouped", "builtin-free:numa", (100, 30), "nn<Down><Down><Down><Down><Down><Down><Down><Down><Down><Down>"),
    ("numa-drift-step17", "numa-drift", (100, 30), "g17<Enter>"),
    ("numa-drift-awe-pfn", "numa-drift", (100, 30), "g17<Enter><Right><Right><Right><Right><Enter>"),
    ("eras-regions-desperate", "eras", (120, 40), "g6<Enter>v"),
    ("eras-regions-sp1", "eras --set large_page_allocator=sp1", (120, 40), "g6<Enter>v"),
    (
        "eras-regions-sp1-moving",
        "eras --set large_page_allocator=sp1",
        (120, 40),
        "g6<Enter>vfff<Down><Down><Down><Down>",
    ),
];

/// (file, --compare specs, columns x rows, keys): replays side by side on
/// Belady's string.
const COMPARES: &[(&str, &str, (u16, u16), &str)] = &[
    ("compare-belady-7", "fifo:3,fifo:4", (80, 24), "......."),
    ("compare-belady-end", "fifo:3,fifo:4", (80, 24), "............"),
    ("compare-belady-lru", "fifo:3,fifo:4,lru:3,lru:4", (120, 30), "............"),
];

/// The capture of a comparison after its keys.
fn capture_compare(specs: &str, size: (u16, u16), script: &str) -> String {
    let refs = super::compare::BELADY.iter().map(|&page| crate::trace::TraceRef { page, write: false }).collect();
    let specs_v = super::compare::parse_specs(specs).unwrap();
    let mut c = super::compare::Compare::new("Belady's string", refs, &specs_v, size).unwrap();
    for ch in script.chars() {
        c.on_key(KeyEvent::new(KeyCode::Char(ch), KeyModifiers::NONE));
    }
    let typed: Vec<String> = script.chars().map(|c| c.to_string()).collect();
    let mut t = Terminal::new(TestBackend::new(size.0, size.1)).unwrap();
    t.draw(|f| f.render_widget(&c, f.area())).unwrap();
    let buf = t.backend().buffer();
    let cells: Vec<&str> = buf.content().iter().map(|c| c.symbol()).collect();
    let mut out = format!("$ pagelab tui --compare {specs}      keys: {}\n", typed.join(" "));
    for row in cells.chunks(size.0 as usize) {
        out += row.concat().trim_end();
        out.push('\n');
    }
    out
}

/// A two-node machine too big for one frame a cell.
const NUMA: &str = r#"[scenario]
name = "numa"
title = "Two NUMA nodes, 16384 frames"
[machine]
memory = "64 MiB"
numa_nodes = 2
[[process]]
name = "db"
ws_max = 4000
node = 1
[[step]]
op = "reserve"
process = "db"
size = "32 MiB"
commit = true
[[step]]
op = "touch"
note = "6000 pages touched by a thread on node 1: they come from node 1's zeroed list."
process = "db"
address = 0x10000
pages = 6000
access = "write"
"#;

fn key(name: &str) -> KeyCode {
    match name {
        "Enter" => KeyCode::Enter,
        "Esc" => KeyCode::Esc,
        "Tab" => KeyCode::Tab,
        "BackTab" => KeyCode::BackTab,
        "Down" => KeyCode::Down,
        "Up" => KeyCode::Up,
        "Left" => KeyCode::Left,
        "Right" => KeyCode::Right,
        "Home" => KeyCode::Home,
        "End" => KeyCode::End,
        "PgDn" => KeyCode::PageDown,
        "PgUp" => KeyCode::PageUp,
        other => panic!("unknown key <{other}>"),
    }
}

/// Presses the keys of a script; returns them as the reader would type
/// them, separated by spaces.
fn press(app: &mut App, script: &str) -> String {
    let mut typed = Vec::new();
    let mut chars = script.chars();
    while let Some(c) = chars.next() {
        let code = if c == '<' {
            let name: String = chars.by_ref().take_while(|&c| c != '>').collect();
            typed.push(name.clone());
            key(&name)
        } else {
            typed.push(c.to_string());
            KeyCode::Char(c)
        };
        app.on_key(KeyEvent::new(code, KeyModifiers::NONE));
        app.run_until_paused();
    }
    typed.join(" ")
}

fn capture(scenario: &str, size: (u16, u16), script: &str) -> String {
    let mut words = scenario.split_whitespace();
    let first = words.next().unwrap_or_default();
    let mut overrides = Vec::new();
    while let Some(w) = words.next() {
        assert_eq!(w, "--set", "capture scenario {scenario:?}: only --set may follow the name");
        let kv = words.next().unwrap_or_else(|| panic!("capture scenario {scenario:?}: --set needs key=value"));
        overrides.push(crate::scenario::Override::parse(kv).unwrap());
    }
    let s = match first.strip_prefix("builtin-free:") {
        Some("numa") => crate::scenario::load_str(NUMA, "numa.toml", None, &overrides).unwrap(),
        Some(other) => panic!("no capture scenario {other}"),
        None => crate::scenario::resolve(first, &overrides).unwrap(),
    };
    let name = if first.starts_with("builtin-free:") { "numa.toml" } else { scenario };
    let mut app = App::new(Arc::new(s), size).unwrap();
    let typed = press(&mut app, script);
    let mut t = Terminal::new(TestBackend::new(size.0, size.1)).unwrap();
    t.draw(|f| f.render_widget(&app, f.area())).unwrap();
    let buf = t.backend().buffer();
    let w = buf.area.width as usize;
    let cells: Vec<&str> = buf.content().iter().map(|c| c.symbol()).collect();
    let mut out = format!("$ pagelab tui {name}");
    if !typed.is_empty() {
        out += &format!("      keys: {typed}");
    }
    out.push('\n');
    for row in cells.chunks(w) {
        out += row.concat().trim_end();
        out.push('\n');
    }
    out
}

#[test]
fn book_captures_are_current() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("book/src/tui");
    let bless = std::env::var_os("PAGELAB_BLESS").is_some();
    let mut stale = Vec::new();
    let texts = CAPTURES
        .iter()
        .map(|(file, scenario, size, script)| (file, capture(scenario, *size, script)))
        .chain(COMPARES.iter().map(|(file, specs, size, script)| (file, capture_compare(specs, *size, script))));
    for (file, text) in texts {
        let path = dir.join(format!("{file}.txt"));
        if bless {
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(&path, &text).unwrap();
        } else if std::fs::read_to_string(&path).ok().as_deref() != Some(text.as_str()) {
            stale.push(path.display().to_string());
        }
    }
    assert!(
        stale.is_empty(),
        "stale book captures (rewrite with PAGELAB_BLESS=1 cargo test --lib tui::captures): {stale:#?}"
    );
}

#[test]
fn the_book_lists_every_key_of_the_help_overlay() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("book/src/tui.md");
    let chapter = std::fs::read_to_string(path).unwrap();
    let table: Vec<&str> = chapter.lines().filter(|l| l.starts_with("| `")).collect();
    for (keys, what) in super::help::KEYS {
        let Some(first) = keys.split_whitespace().next() else { continue };
        if matches!(first, "arrows" | "mouse") {
            continue;
        }
        let quoted = format!("`{first}`");
        assert!(table.iter().any(|l| l.contains(&quoted)), "the book's key table lacks {quoted} ({what})");
    }
}

/// At 80x24, the smallest size the book promises every pane in, no word is
/// cut: every book capture of that size, and every step of the scenarios
/// the first chapters step through, drawn whole or shortened, never with
/// `…`.
#[test]
fn nothing_is_cut_at_80x24() {
    let mut cut = Vec::new();
    for (file, scenario, size, script) in CAPTURES {
        if *size == (80, 24) {
            let text = capture(scenario, *size, script);
            if text.contains(super::fit::ELLIPSIS) {
                cut.push(format!("{file}:\n{text}"));
            }
        }
    }
    for (file, specs, size, script) in COMPARES {
        let text = capture_compare(specs, *size, script);
        if *size == (80, 24) && text.contains(super::fit::ELLIPSIS) {
            cut.push(format!("{file}:\n{text}"));
        }
    }
    for name in ["tour", "demand-zero", "belady", "soft-hard", "mapped-file"] {
        let s = crate::scenario::resolve(name, &[]).unwrap();
        let mut app = App::new(Arc::new(s), (80, 24)).unwrap();
        loop {
            let text = draw(&app);
            if text.contains(super::fit::ELLIPSIS) {
                cut.push(format!("{name} at step {}:\n{text}", app.step()));
            }
            if !app.step_forward() {
                break;
            }
        }
    }
    assert!(cut.is_empty(), "{} screens at 80x24 cut a word:\n{}", cut.len(), cut.join("\n"));
}

/// The screen's text, row by row.
fn draw(app: &App) -> String {
    let (w, h) = app.size();
    let mut t = Terminal::new(TestBackend::new(w, h)).unwrap();
    t.draw(|f| f.render_widget(app, f.area())).unwrap();
    let buf = t.backend().buffer();
    let cells: Vec<&str> = buf.content().iter().map(|c| c.symbol()).collect();
    cells.chunks(w as usize).map(|row| row.concat().trim_end().to_string() + "\n").collect()
}

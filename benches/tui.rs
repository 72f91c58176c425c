//! How fast the terminal UI steps, redraws and steps back.
//!
//! 1. A 4 GiB machine (1,048,576 frames, drawn grouped) with two
//!    processes whose pages do not all fit: a database touching 3.5 GiB at
//!    random with a 600,000-page working set, and a web server. Each frame
//!    is one step (2,000 random references: demand-zero, soft and hard
//!    faults, evictions, repurposing, page-file writes) plus a full redraw
//!    into a 160x48 TestBackend. The budget is 16 ms a frame.
//! 2. A 10,000-step scenario: stepping back from the end, one step at a
//!    time, restores the nearest checkpoint and replays. The budget is
//!    "instant" (well under a frame).
//!
//! Run with `cargo bench --bench tui`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use pagelab::scenario::load_str;
use pagelab::tui::app::App;
use ratatui::backend::TestBackend;
use ratatui::Terminal;

const SIZE: (u16, u16) = (160, 48);

fn big_machine(steps: usize) -> String {
    let mut t = String::from(
        r#"[scenario]
name = "bench-4gib"
[machine]
memory = "4 GiB"
pagefile = "4 GiB"
policy = "fifo"
[[process]]
name = "db"
ws_min = 1
ws_max = 600000
[[process]]
name = "web"
ws_min = 1
ws_max = 300000
[[step]]
op = "reserve"
process = "db"
address = 0x10000000
size = "3584 MiB"
commit = true
[[step]]
op = "reserve"
process = "web"
address = 0x10000000
size = "1 GiB"
commit = true
[[step]]
op = "touch"
note = "touch every page: more pages than frames"
process = "db"
address = 0x10000000
pages = 917504
access = "write"
[[step]]
op = "touch"
process = "web"
address = 0x10000000
pages = 262144
access = "write"
"#,
    );
    for i in 0..steps {
        let (p, pages) = if i % 4 == 3 { ("web", 262144) } else { ("db", 917504) };
        t += &format!(
            "[[step]]\nop = \"touch\"\nprocess = \"{p}\"\naddress = 0x10000000\npages = {pages}\n\
             pattern = \"random\"\ncount = 2000\naccess = \"{}\"\n",
            if i % 2 == 0 { "write" } else { "read" }
        );
    }
    t
}

fn long_scenario(steps: usize) -> String {
    let mut t = String::from(
        r#"[scenario]
name = "bench-10k"
[machine]
memory = "1 MiB"
pagefile = "4 MiB"
[[process]]
name = "a"
ws_min = 1
ws_max = 32
[[step]]
op = "reserve"
process = "a"
address = 0x10000
size = "1 MiB"
commit = true
"#,
    );
    for i in 1..steps {
        t += &format!(
            "[[step]]\nop = \"touch\"\nprocess = \"a\"\naddress = 0x{:x}\npages = 8\naccess = \"{}\"\n",
            0x10000 + (i * 37 % 248) * 4096,
            if i % 3 == 0 { "write" } else { "read" }
        );
    }
    t
}

/// The screen as plain text, one line a row.
fn screen_text(buf: &ratatui::buffer::Buffer) -> String {
    let w = buf.area.width as usize;
    let cells: Vec<&str> = buf.content().iter().map(|c| c.symbol()).collect();
    cells.chunks(w).map(|row| row.concat().trim_end().to_string()).collect::<Vec<_>>().join("\n")
}

struct Stats {
    median: f64,
    p90: f64,
    max: f64,
}

fn stats(mut v: Vec<Duration>) -> Stats {
    v.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    Stats { median: ms(v[v.len() / 2]), p90: ms(v[v.len() * 9 / 10]), max: ms(*v.last().unwrap()) }
}

fn print(label: &str, s: &Stats) {
    println!("  {label:<34} median {:>8.3} ms   p90 {:>8.3} ms   max {:>8.3} ms", s.median, s.p90, s.max);
}

fn main() {
    let mut term = Terminal::new(TestBackend::new(SIZE.0, SIZE.1)).unwrap();

    // 1. Step and redraw at 4 GiB.
    let frames = 200;
    let scenario = load_str(&big_machine(frames), "bench-4gib", None, &[]).unwrap();
    let t = Instant::now();
    let mut app = App::new(Arc::new(scenario), SIZE).unwrap();
    let setup = t.elapsed();
    let t = Instant::now();
    app.goto(4);
    let warm = t.elapsed();
    term.draw(|f| f.render_widget(&app, f.area())).unwrap();
    app.idle();
    let (mut step, mut draw, mut total, mut idle) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    while !app.runner().finished() {
        let t0 = Instant::now();
        app.step_forward();
        let t1 = Instant::now();
        term.draw(|f| f.render_widget(&app, f.area())).unwrap();
        let t2 = Instant::now();
        app.idle();
        let t3 = Instant::now();
        step.push(t1 - t0);
        draw.push(t2 - t1);
        total.push(t2 - t0);
        if app.history().steps().last() == Some(&app.step()) {
            idle.push(t3 - t2);
        }
    }
    let m = app.machine().snapshot();
    println!(
        "4 GiB machine: {} frames, {} steps of 2,000 references, redrawn at {}x{}",
        m.frames, frames, SIZE.0, SIZE.1
    );
    println!(
        "  (machine built in {:.0} ms; the 4 set-up steps, 1,179,648 first touches, in {:.0} ms)",
        setup.as_secs_f64() * 1e3,
        warm.as_secs_f64() * 1e3
    );
    println!(
        "  at the end: {} active, {} standby, {} modified; {} faults, {} hard; {} checkpoints every {} steps",
        m.lists.active,
        m.lists.standby,
        m.lists.modified,
        m.counters.paging.faults(),
        m.counters.paging.hard(),
        app.history().len(),
        app.history().interval()
    );
    print("step", &stats(step));
    print("redraw", &stats(draw));
    let total = stats(total);
    print("step + redraw (one frame)", &total);
    println!("  budget 16 ms a frame: {}", if total.max < 16.0 { "met by every frame" } else { "MISSED" });
    if !idle.is_empty() {
        print(&format!("checkpoint copy, idle ({}x)", idle.len()), &stats(idle));
    }
    let mut back = Vec::new();
    for _ in 0..20 {
        let t0 = Instant::now();
        app.step_back();
        term.draw(|f| f.render_widget(&app, f.area())).unwrap();
        back.push(t0.elapsed());
    }
    print("step back + redraw (4 GiB)", &stats(back));
    if std::env::var_os("PAGELAB_BENCH_SCREEN").is_some() {
        println!("{}", screen_text(term.backend().buffer()));
    }

    // 2. Step back on 10,000 steps.
    let n = 10_000;
    let scenario = load_str(&long_scenario(n), "bench-10k", None, &[]).unwrap();
    let mut app = App::new(Arc::new(scenario), SIZE).unwrap();
    let t = Instant::now();
    app.goto(n);
    let to_end = t.elapsed();
    println!(
        "\n{n}-step scenario ({} frames): ran to the end in {:.1} ms; {} checkpoints every {} steps",
        app.machine().pfn_db().frames(),
        to_end.as_secs_f64() * 1e3,
        app.history().len(),
        app.history().interval()
    );
    let mut back = Vec::new();
    let mut back_draw = Vec::new();
    for _ in 0..200 {
        let t0 = Instant::now();
        app.step_back();
        let t1 = Instant::now();
        term.draw(|f| f.render_widget(&app, f.area())).unwrap();
        back.push(t1 - t0);
        back_draw.push(t1.elapsed() + (t1 - t0));
    }
    print("step back", &stats(back));
    print("step back + redraw", &stats(back_draw));
    let mut jumps = Vec::new();
    for target in [5_000, 9_999, 1, 7_777, 10_000, 0, 2_500] {
        let t0 = Instant::now();
        app.goto(target);
        jumps.push(t0.elapsed());
    }
    print("go to step N (7 jumps anywhere)", &stats(jumps));
}

//! `pagelab quiz`: a seeded reference string, replayed one reference at a
//! time; before each one the student says whether it hits or misses the
//! working set and, on a miss, which page is evicted. The machine's own
//! events explain each answer. With `--answers`, the answer key alone.
//!
//! The reference string depends only on `--seed`, `--length` and
//! `--pages` (ChaCha8, uniform over the pages), and the answers on those
//! and `--frames` and `--policy`: a teacher can hand out seed 42 and know
//! every answer.

use std::io::{self, BufRead, IsTerminal, Write};

use clap::Args;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::{EXIT_BAD_INPUT, EXIT_INTERNAL, EXIT_OK};
use crate::replay::{policy_order, ReplayConfig, ReplayError, TraceStep, Tracer};
use crate::working_set::{PolicyKind, NEVER};

/// The longest reference string a quiz generates.
pub const MAX_LENGTH: u64 = 10_000;
/// The most distinct pages a quiz uses.
pub const MAX_PAGES: u64 = 1_000;
/// The largest working set a quiz uses.
pub const MAX_FRAMES: u64 = 1_000;

/// Arguments of `quiz`.
#[derive(Debug, Args)]
pub struct QuizArgs {
    /// Seed of the reference string (and of the random policy).
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// References in the string.
    #[arg(long, default_value_t = 20)]
    pub length: u64,
    /// Distinct pages: the string names pages 0 to PAGES - 1.
    #[arg(long, default_value_t = 8)]
    pub pages: u64,
    /// Working-set maximum in frames.
    #[arg(long, default_value_t = 3)]
    pub frames: u64,
    /// Replacement policy: fifo, lru, clock, opt, random, aging or wsclock.
    #[arg(long, default_value = "fifo")]
    pub policy: String,
    /// Print the answer key without asking (the teacher's sheet).
    #[arg(long)]
    pub answers: bool,
    /// Ask more on a miss: which kind of fault it is (demand zero, soft or
    /// hard), and which list the victim goes to (standby or modified).
    #[arg(long)]
    pub deep: bool,
}

fn bad(msg: String) -> i32 {
    eprintln!("pagelab: {msg}");
    EXIT_BAD_INPUT
}

/// The reference string of a quiz: `length` pages drawn uniformly from
/// `0..pages` by ChaCha8 seeded with `seed`.
pub fn reference_string(seed: u64, length: u64, pages: u64) -> Vec<u64> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    (0..length).map(|_| rng.gen_range(0..pages)).collect()
}

/// Every reference of the string, replayed and explained.
fn answer_key(refs: &[u64], cfg: &ReplayConfig) -> Result<Vec<TraceStep>, ReplayError> {
    let mut t = Tracer::new(cfg)?;
    let next = if cfg.policy == PolicyKind::Opt { crate::trace::next_uses(refs) } else { Vec::new() };
    let steps = refs
        .iter()
        .enumerate()
        .map(|(i, &p)| t.step(p, false, next.get(i).copied().unwrap_or(NEVER)))
        .collect::<Result<Vec<_>, _>>()?;
    t.finish(cfg)?;
    Ok(steps)
}

/// The victim of a step as the key writes it: `-`, or `PAGE to LIST`.
fn victim(t: &TraceStep) -> String {
    if t.victims.is_empty() {
        "-".into()
    } else {
        t.victims.iter().map(|v| format!("{} to {}", v.page, v.list)).collect::<Vec<_>>().join(", ")
    }
}

/// The working set after a step, in policy order (`*`: a set use bit).
fn working_set(t: &TraceStep) -> String {
    let mut s = t
        .working_set
        .iter()
        .map(|&(p, used)| if used { format!("{p}*") } else { p.to_string() })
        .collect::<Vec<_>>()
        .join(" ");
    let more = t.ws_size.saturating_sub(t.working_set.len() as u64);
    if more > 0 {
        s += &format!(" ... and {more} more");
    }
    s
}

/// Runs `quiz`.
pub fn quiz(a: QuizArgs) -> i32 {
    let Some(policy) = PolicyKind::parse(&a.policy) else {
        return bad(format!("--policy {:?}: expected fifo, lru, clock, opt, random, aging or wsclock", a.policy));
    };
    if a.length == 0 || a.length > MAX_LENGTH {
        return bad(format!("--length {}: expected 1 to {MAX_LENGTH} references", a.length));
    }
    if a.pages == 0 || a.pages > MAX_PAGES {
        return bad(format!("--pages {}: expected 1 to {MAX_PAGES} pages", a.pages));
    }
    if a.frames == 0 || a.frames > MAX_FRAMES {
        return bad(format!("--frames {}: expected 1 to {MAX_FRAMES} frames", a.frames));
    }
    let refs = reference_string(a.seed, a.length, a.pages);
    let mut cfg = ReplayConfig::new(policy, a.frames);
    cfg.machine.seed = a.seed;
    cfg.check_every = Some(1024);
    let steps = match answer_key(&refs, &cfg) {
        Ok(s) => s,
        Err(e @ ReplayError::Invariant { .. }) => {
            eprintln!("pagelab: quiz: {e}");
            return EXIT_INTERNAL;
        }
        Err(e) => return bad(format!("quiz: {e}")),
    };
    let mut out = io::stdout().lock();
    let written = if a.answers {
        write_key(&mut out, &a, policy, &refs, &steps)
    } else {
        let stdin = io::stdin();
        let echo = !stdin.is_terminal();
        ask(&mut out, &mut stdin.lock(), echo, &a, policy, &refs, &steps)
    };
    match written.and_then(|()| out.flush()) {
        Ok(()) => EXIT_OK,
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => EXIT_OK,
        Err(e) => bad(format!("cannot write to standard output: {e}")),
    }
}

/// The quiz's first lines: its settings and its reference string.
fn preamble(out: &mut dyn Write, a: &QuizArgs, policy: PolicyKind, refs: &[u64]) -> io::Result<()> {
    writeln!(
        out,
        "quiz: seed {}, {} references to pages 0-{}, policy {}, {} frame{}",
        a.seed,
        a.length,
        a.pages - 1,
        policy.name(),
        a.frames,
        if a.frames == 1 { "" } else { "s" }
    )?;
    writeln!(out, "references: {}", refs.iter().map(u64::to_string).collect::<Vec<_>>().join(" "))
}

/// A perfect score: one point per reference (hit or miss), one per miss
/// (the victim, or `-` when a free frame takes the page); with `--deep`,
/// one more per miss (the kind of fault) and one per victim (its list).
fn perfect(steps: &[TraceStep], deep: bool) -> u64 {
    let misses = steps.iter().filter(|t| t.is_miss()).count() as u64;
    let victims = steps.iter().map(|t| t.victims.len() as u64).sum::<u64>();
    steps.len() as u64 + misses + if deep { misses + victims } else { 0 }
}

/// The kind of a fault as the quiz asks it: `z` demand zero, `s` soft, `h`
/// hard (from the page file or a mapped file).
fn fault_letter(result: &str) -> &'static str {
    match result {
        "demand_zero" => "z",
        "soft" => "s",
        _ => "h",
    }
}

/// `--answers`: every reference's answer, and the totals.
fn write_key(
    out: &mut dyn Write,
    a: &QuizArgs,
    policy: PolicyKind,
    refs: &[u64],
    steps: &[TraceStep],
) -> io::Result<()> {
    preamble(out, a, policy, refs)?;
    writeln!(out, "\nanswer key; the working set after each reference, in policy order: {}", policy_order(policy))?;
    writeln!(out, "{:>5} {:>5}  {:<11} {:<18} working set", "ref", "page", "answer", "evicted")?;
    for t in steps {
        // With --deep the key names the kind of fault, not only "miss".
        let answer = match (t.is_miss(), a.deep) {
            (false, _) => "hit",
            (true, false) => "miss",
            (true, true) => t.result,
        };
        writeln!(out, "{:>5} {:>5}  {:<11} {:<18} {}", t.index, t.page, answer, victim(t), working_set(t))?;
    }
    let last = steps.last().expect("a quiz has at least one reference");
    let victims: usize = steps.iter().map(|t| t.victims.len()).sum();
    let deep = if a.deep {
        format!(", {} kinds of fault and {victims} victim list{}", last.misses, if victims == 1 { "" } else { "s" })
    } else {
        String::new()
    };
    writeln!(
        out,
        "\nhits {}, misses {} of {} references; a perfect score is {} ({} hit-or-miss answers and {} victims{deep})",
        last.hits,
        last.misses,
        steps.len(),
        perfect(steps, a.deep),
        steps.len(),
        last.misses
    )?;
    Ok(())
}

/// Reads one answer: the next non-empty line, trimmed and lower-cased
/// (`None` at the end of the input). Echoed when the input is not a
/// terminal, so that a piped session reads as a dialogue.
fn answer(out: &mut dyn Write, input: &mut dyn BufRead, echo: bool, prompt: &str) -> io::Result<Option<String>> {
    loop {
        write!(out, "{prompt} ")?;
        out.flush()?;
        let mut line = String::new();
        if input.read_line(&mut line)? == 0 {
            writeln!(out)?;
            return Ok(None);
        }
        let line = line.trim().to_ascii_lowercase();
        if echo {
            writeln!(out, "{line}")?;
        }
        if !line.is_empty() {
            return Ok(Some(line));
        }
    }
}

/// What the student said about a victim.
enum VictimAnswer {
    /// No page is evicted.
    None,
    /// This page.
    Page(u64),
}

/// The interactive quiz: ask, score, explain; the score at the end or
/// when the input ends.
fn ask(
    out: &mut dyn Write,
    input: &mut dyn BufRead,
    echo: bool,
    a: &QuizArgs,
    policy: PolicyKind,
    refs: &[u64],
    steps: &[TraceStep],
) -> io::Result<()> {
    preamble(out, a, policy, refs)?;
    writeln!(
        out,
        "Before each reference, say whether it hits the working set (h) or misses it (m); on a miss, which\n\
         page is evicted (- when a free frame takes the page){}. The working set is listed in policy order:\n\
         {}.\n\
         The machine's explanations name a page by its address: page 5 is 0x5000.\n",
        if a.deep { ", the kind of fault, and the list the victim goes to" } else { "" },
        policy_order(policy)
    )?;
    let (mut score, mut asked) = (0u64, 0u64);
    let mut ended = None;
    'refs: for t in steps {
        let prompt = format!("reference {}: page {} - hit or miss? (h/m)", t.index, t.page);
        let said_miss = loop {
            match answer(out, input, echo, &prompt)?.as_deref() {
                None => {
                    ended = Some(t.index);
                    break 'refs;
                }
                Some("h" | "hit") => break false,
                Some("m" | "miss" | "f" | "fault") => break true,
                Some(other) => writeln!(out, "  {other:?}: please answer h (hit) or m (miss)")?,
            }
        };
        let said_victim = if said_miss {
            loop {
                match answer(out, input, echo, "which page is evicted? (page number, or - for none)")?.as_deref() {
                    None => {
                        ended = Some(t.index);
                        break 'refs;
                    }
                    Some("-" | "none") => break Some(VictimAnswer::None),
                    Some(s) => match s.parse::<u64>() {
                        Ok(p) => break Some(VictimAnswer::Page(p)),
                        Err(_) => writeln!(out, "  {s:?}: please answer a page number, or - for none")?,
                    },
                }
            }
        } else {
            None
        };
        // --deep: the kind of fault, and where the victim goes.
        let mut said_kind = None;
        let mut said_list = None;
        if a.deep && said_miss {
            said_kind = loop {
                match answer(out, input, echo, "which kind of fault? (z demand zero, s soft, h hard)")?.as_deref() {
                    None => {
                        ended = Some(t.index);
                        break 'refs;
                    }
                    Some(k @ ("z" | "s" | "h")) => break Some(k.to_string()),
                    Some(other) => writeln!(out, "  {other:?}: please answer z, s or h")?,
                }
            };
            if matches!(said_victim, Some(VictimAnswer::Page(_))) {
                said_list = loop {
                    match answer(out, input, echo, "which list does it go to? (s standby, m modified)")?.as_deref() {
                        None => {
                            ended = Some(t.index);
                            break 'refs;
                        }
                        Some(l @ ("s" | "m")) => break Some(l.to_string()),
                        Some(other) => writeln!(out, "  {other:?}: please answer s or m")?,
                    }
                };
            }
        }
        let miss = t.is_miss();
        asked += 1;
        if said_miss == miss {
            score += 1;
            writeln!(out, "  right: {}", if miss { format!("a miss ({})", t.result) } else { "a hit".into() })?;
        } else if miss {
            writeln!(out, "  wrong: it is a miss ({}), not a hit", t.result)?;
        } else {
            writeln!(out, "  wrong: it is a hit, not a miss")?;
        }
        if miss {
            asked += 1;
            let right = match (&said_victim, t.victims.as_slice()) {
                (Some(VictimAnswer::None), []) => true,
                (Some(VictimAnswer::Page(p)), [v]) => v.page == *p,
                _ => false,
            };
            let truth =
                if t.victims.is_empty() { "no page is evicted: a free frame takes it".into() } else { victim(t) };
            if right {
                score += 1;
                writeln!(out, "  right: {truth}")?;
            } else {
                let said = match said_victim {
                    None => "you said hit".to_string(),
                    Some(VictimAnswer::None) => "you said none".to_string(),
                    Some(VictimAnswer::Page(p)) => format!("you said {p}"),
                };
                writeln!(out, "  wrong: {truth} ({said})")?;
            }
        }
        if a.deep && miss {
            asked += 1;
            let kind = fault_letter(t.result);
            if said_kind.as_deref() == Some(kind) {
                score += 1;
                writeln!(out, "  right: a {} fault", t.result)?;
            } else {
                writeln!(out, "  wrong: a {} fault ({kind})", t.result)?;
            }
            for v in &t.victims {
                asked += 1;
                let list = if v.list == "modified" { "m" } else { "s" };
                if said_list.as_deref() == Some(list) {
                    score += 1;
                    writeln!(out, "  right: page {} goes to the {} list", v.page, v.list)?;
                } else {
                    writeln!(out, "  wrong: page {} goes to the {} list ({list})", v.page, v.list)?;
                }
            }
        }
        if !miss {
            writeln!(out, "  | page {} is in the working set: no fault", t.page)?;
        }
        for e in &t.explanations {
            writeln!(out, "  | {e}")?;
        }
        writeln!(out, "  working set now: {}   score {score} of {asked}\n", working_set(t))?;
    }
    if let Some(k) = ended {
        writeln!(out, "(the input ended at reference {k} of {})", steps.len())?;
    }
    let pct = (score * 100).checked_div(asked).unwrap_or(0);
    writeln!(out, "score: {score} of {asked} ({pct}%)")?;
    if ended.is_none() {
        writeln!(out, "{}", verdict(score, asked))?;
    }
    Ok(())
}

/// A closing word for a finished quiz.
fn verdict(score: u64, asked: u64) -> &'static str {
    if score == asked {
        "Perfect: every hit, miss and victim right."
    } else if score * 10 >= asked * 8 {
        "Good: look again at the references marked wrong."
    } else {
        "Try it again with --answers beside the trace, then with a new --seed."
    }
}

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

use super::{EXIT_BAD_INPUT, EXIT_INTERNAL, EXIT_OK};
pub use crate::quiz::{check_settings, reference_string, MAX_FRAMES, MAX_LENGTH, MAX_PAGES};
use crate::quiz::{mark, parse_miss, Answer, Kind, List, Question, Score, VictimAnswer};
use crate::replay::{policy_order, ReplayConfig, ReplayError, TraceStep, Tracer};
use crate::working_set::{PolicyKind, NEVER};

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

/// Runs `quiz`.
pub fn quiz(a: QuizArgs) -> i32 {
    let policy = match check_settings(&a.policy, a.length, a.pages, a.frames) {
        Ok(p) => p,
        Err(e) => return bad(e),
    };
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
    let questions: Vec<Question> = steps.iter().map(|t| Question::of_trace(t, steps.len() as u64)).collect();
    let mut out = io::stdout().lock();
    let written = if a.answers {
        write_key(&mut out, &a, policy, &refs, &steps, &questions)
    } else {
        let stdin = io::stdin();
        let echo = !stdin.is_terminal();
        preamble(&mut out, &a, policy, &refs).and_then(|()| {
            let intro = format!(
                "The working set is listed in policy order:\n{}.\n\
                 The machine's explanations name a page by its address: page 5 is 0x5000.",
                policy_order(policy)
            );
            session(&mut out, &mut stdin.lock(), echo, a.deep, &intro, &mut questions.into_iter()).map(|_| ())
        })
    };
    match written.and_then(|()| out.flush()) {
        Ok(_) => EXIT_OK,
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
fn perfect(questions: &[Question], deep: bool) -> u64 {
    questions.iter().map(|q| q.points(deep)).sum()
}

/// `--answers`: every reference's answer, and the totals.
fn write_key(
    out: &mut dyn Write,
    a: &QuizArgs,
    policy: PolicyKind,
    refs: &[u64],
    steps: &[TraceStep],
    questions: &[Question],
) -> io::Result<()> {
    preamble(out, a, policy, refs)?;
    writeln!(out, "\nanswer key; the working set after each reference, in policy order: {}", policy_order(policy))?;
    writeln!(out, "{:>5} {:>5}  {:<11} {:<18} working set", "ref", "page", "answer", "evicted")?;
    for (t, q) in steps.iter().zip(questions) {
        // With --deep the key names the kind of fault, not only "miss".
        let answer = match (t.is_miss(), a.deep) {
            (false, _) => "hit",
            (true, false) => "miss",
            (true, true) => t.result,
        };
        writeln!(out, "{:>5} {:>5}  {:<11} {:<18} {}", t.index, t.page, answer, q.victim_text(), q.working_set)?;
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
        perfect(questions, a.deep),
        steps.len(),
        last.misses
    )?;
    Ok(())
}

/// Asks `prompt` until an answer parses: each line read is trimmed and
/// lower-cased, empty lines skipped, and one that `parse` refuses is
/// answered with `hint` and asked again. `None` at the end of the input.
/// Answers are echoed when the input is not a terminal, so that a piped
/// session reads as a dialogue.
fn ask_until<T>(
    out: &mut dyn Write,
    input: &mut dyn BufRead,
    echo: bool,
    prompt: &str,
    hint: &str,
    parse: impl Fn(&str) -> Option<T>,
) -> io::Result<Option<T>> {
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
        if line.is_empty() {
            continue;
        }
        match parse(&line) {
            Some(v) => return Ok(Some(v)),
            None => writeln!(out, "  {line:?}: please answer {hint}")?,
        }
    }
}

/// Asks one question: hit or miss; on a miss, when deep, the kind of
/// fault; the victim; when deep and a page was named, its list. `None`
/// when the input ended first.
fn ask_one(
    out: &mut dyn Write,
    input: &mut dyn BufRead,
    echo: bool,
    deep: bool,
    q: &Question,
) -> io::Result<Option<Answer>> {
    let prompt = format!("{} - hit or miss? (h/m)", q.title);
    let Some(miss) = ask_until(out, input, echo, &prompt, "h (hit) or m (miss)", parse_miss)? else { return Ok(None) };
    let mut a = Answer { miss, ..Answer::default() };
    if !miss {
        return Ok(Some(a));
    }
    if deep {
        let k = ask_until(
            out,
            input,
            echo,
            "which kind of fault? (z demand zero, s soft, h hard)",
            "z, s or h",
            Kind::parse,
        )?;
        let Some(k) = k else { return Ok(None) };
        a.kind = Some(k);
    }
    let v = ask_until(
        out,
        input,
        echo,
        "which page is evicted? (page number, or - for none)",
        "a page number, or - for none",
        VictimAnswer::parse,
    )?;
    let Some(v) = v else { return Ok(None) };
    a.victim = Some(v);
    if deep && matches!(v, VictimAnswer::Page(_)) {
        let l =
            ask_until(out, input, echo, "which list does it go to? (s standby, m modified)", "s or m", List::parse)?;
        let Some(l) = l else { return Ok(None) };
        a.list = Some(l);
    }
    Ok(Some(a))
}

/// A quiz on a terminal or a pipe: `intro` after the rules, then each
/// question asked, marked and explained with the machine's own sentences;
/// the score at the end or when the input ends. A reference the quiz does
/// not ask about (an access violation) is shown with its explanations.
pub fn session(
    out: &mut dyn Write,
    input: &mut dyn BufRead,
    echo: bool,
    deep: bool,
    intro: &str,
    questions: &mut dyn Iterator<Item = Question>,
) -> io::Result<Score> {
    let rules = if deep {
        "Before each reference, say whether it hits the working set (h) or misses it (m); on a miss, which\n\
         kind of fault it is, which page is evicted (- when a free frame takes the page) and which list\n\
         the victim goes to."
    } else {
        "Before each reference, say whether it hits the working set (h) or misses it (m); on a miss, which\n\
         page is evicted (- when a free frame takes the page)."
    };
    writeln!(out, "{rules}\n{intro}\n")?;
    let mut score = Score::default();
    let mut ended = None;
    for q in questions {
        if !q.is_asked() {
            writeln!(out, "{}: {} (not asked: neither a hit nor a miss)", q.title, q.result)?;
            for e in &q.explanations {
                writeln!(out, "  | {e}")?;
            }
            writeln!(out)?;
            continue;
        }
        let Some(a) = ask_one(out, input, echo, deep, &q)? else {
            ended = Some(q.position.clone());
            break;
        };
        let marks = mark(&q, &a, deep);
        score.add(&marks);
        for m in &marks {
            writeln!(out, "  {}: {}", if m.right { "right" } else { "wrong" }, m.text)?;
        }
        if !q.is_miss() {
            writeln!(out, "  | page {} is in the working set: no fault", q.page)?;
        }
        for e in &q.explanations {
            writeln!(out, "  | {e}")?;
        }
        writeln!(out, "  working set now: {}   score {} of {}\n", q.working_set, score.score, score.asked)?;
    }
    if let Some(at) = &ended {
        writeln!(out, "(the input ended at {at})")?;
    }
    writeln!(out, "score: {} of {} ({}%)", score.score, score.asked, score.percent())?;
    if ended.is_none() {
        writeln!(out, "{}", score.verdict())?;
    }
    Ok(score)
}

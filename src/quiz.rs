//! The quiz: questions about memory references and how answers are
//! marked, shared by `pagelab quiz` (a seeded string), `pagelab run
//! SCENARIO --quiz` (a scenario's references) and the TUI's quiz mode.
//!
//! A [`Question`] is what one reference did, taken from the machine's own
//! events: hit or the kind of fault, the pages evicted and the list each
//! went to, the working set after it, and the events' explanations. An
//! [`Answer`] is what the student said; [`mark`] compares them, one
//! [`Mark`] a point: hit or miss; on a miss the victim (or none) and, when
//! deep, the kind of fault and each victim's list.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::event::Event;
use crate::machine::Machine;
use crate::replay::TraceStep;
use crate::runner::ReferenceOutcome;
use crate::working_set::PolicyKind;

/// The longest reference string a quiz generates.
pub const MAX_LENGTH: u64 = 10_000;
/// The most distinct pages a quiz uses.
pub const MAX_PAGES: u64 = 1_000;
/// The largest working set a quiz uses.
pub const MAX_FRAMES: u64 = 1_000;

/// The reference string of a quiz: `length` pages drawn uniformly from
/// `0..pages` by ChaCha8 seeded with `seed`.
pub fn reference_string(seed: u64, length: u64, pages: u64) -> Vec<u64> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    (0..length).map(|_| rng.gen_range(0..pages)).collect()
}

/// Checks a quiz's settings (as `quiz` and `tui --quiz` take them); the
/// policy, or what was wrong.
pub fn check_settings(policy: &str, length: u64, pages: u64, frames: u64) -> Result<PolicyKind, String> {
    let Some(policy) = PolicyKind::parse(policy) else {
        return Err(format!("--policy {policy:?}: expected fifo, lru, clock, opt, random, aging or wsclock"));
    };
    if length == 0 || length > MAX_LENGTH {
        return Err(format!("--length {length}: expected 1 to {MAX_LENGTH} references"));
    }
    if pages == 0 || pages > MAX_PAGES {
        return Err(format!("--pages {pages}: expected 1 to {MAX_PAGES} pages"));
    }
    if frames == 0 || frames > MAX_FRAMES {
        return Err(format!("--frames {frames}: expected 1 to {MAX_FRAMES} frames"));
    }
    Ok(policy)
}

/// The kind of fault, as the quiz asks it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// `z`: a demand-zero fault (a new page, zero-filled).
    DemandZero,
    /// `s`: a soft fault (the page taken back from standby or modified).
    Soft,
    /// `h`: a hard fault (read from the page file or a mapped file).
    Hard,
}

impl Kind {
    /// The kind of a result name (`demand_zero`, `soft`, `hard_pagefile`,
    /// `hard_file`); `None` for a hit or an access violation.
    pub fn of(result: &str) -> Option<Kind> {
        match result {
            "demand_zero" => Some(Kind::DemandZero),
            "soft" => Some(Kind::Soft),
            "hard_pagefile" | "hard_file" => Some(Kind::Hard),
            _ => None,
        }
    }

    /// `z`, `s` or `h`, or a word (`zero`, `soft`, `hard`, ...).
    pub fn parse(s: &str) -> Option<Kind> {
        match s {
            "z" | "dz" | "zero" | "demand-zero" | "demand_zero" => Some(Kind::DemandZero),
            "s" | "soft" => Some(Kind::Soft),
            "h" | "hard" => Some(Kind::Hard),
            _ => None,
        }
    }

    /// The letter that answers it.
    pub fn letter(self) -> &'static str {
        match self {
            Kind::DemandZero => "z",
            Kind::Soft => "s",
            Kind::Hard => "h",
        }
    }
}

/// The list an evicted page goes to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum List {
    /// `s`: standby (the page is clean: a copy exists).
    Standby,
    /// `m`: modified (dirty: it must be written before its frame is reused).
    Modified,
}

impl List {
    /// A list's name as events give it (`standby`, `modified`, ...);
    /// anything but modified is clean.
    pub fn of(name: &str) -> List {
        if name == "modified" {
            List::Modified
        } else {
            List::Standby
        }
    }

    /// `s` or `m`, or the word.
    pub fn parse(s: &str) -> Option<List> {
        match s {
            "s" | "standby" => Some(List::Standby),
            "m" | "modified" => Some(List::Modified),
            _ => None,
        }
    }

    /// The letter that answers it.
    pub fn letter(self) -> &'static str {
        match self {
            List::Standby => "s",
            List::Modified => "m",
        }
    }
}

/// A page that left the working set, in the quiz's numbering, and its list.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Evicted {
    /// The page.
    pub page: i64,
    /// The list's name (`standby`, `modified`).
    pub list: &'static str,
}

/// What one reference did: the truth a question is marked against.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Question {
    /// Where the reference is: `reference 3 of 12`, `step 3, reference 4 of 12`.
    pub position: String,
    /// Names the reference: `reference 3 of 12: page 2`.
    pub title: String,
    /// The page, in the quiz's numbering.
    pub page: i64,
    /// `hit`, `demand_zero`, `soft`, `hard_pagefile`, `hard_file`, or an
    /// error's name (`access_violation`: neither a hit nor a miss).
    pub result: String,
    /// The pages that left the process's working set.
    pub victims: Vec<Evicted>,
    /// The working set after the reference, in policy order.
    pub working_set: String,
    /// The machine's explanations of its events, one sentence each.
    pub explanations: Vec<String>,
}

impl Question {
    /// The question about a replayed reference (`quiz`), the `t.index`th of `total`.
    pub fn of_trace(t: &TraceStep, total: u64) -> Question {
        let position = format!("reference {} of {total}", t.index);
        Question {
            title: format!("{position}: page {}", t.page),
            position,
            page: t.page as i64,
            result: t.result.to_string(),
            victims: t.victims.iter().map(|v| Evicted { page: v.page as i64, list: v.list }).collect(),
            working_set: trace_working_set(t),
            explanations: t.explanations.clone(),
        }
    }

    /// The question about a scenario's reference, made on `m` (its state
    /// after the reference); `None` for a step that made no reference.
    /// Pages are numbered from the step's base, as `run --trace` numbers
    /// them.
    pub fn of_reference(m: &Machine, o: &ReferenceOutcome) -> Option<Question> {
        let r = o.reference.as_ref()?;
        let rel = |v: crate::units::Vpn| v.0 as i64 - r.base.0 as i64;
        let result = match &r.result {
            Ok(res) => crate::runner::resolution_name(*res).to_string(),
            Err(e) => e.name(),
        };
        let victims = o
            .events
            .iter()
            .filter_map(|e| match e {
                Event::Evicted { pid, vpn, to, .. } if *pid == r.pid => {
                    Some(Evicted { page: rel(*vpn), list: to.name() })
                }
                _ => None,
            })
            .collect();
        let working_set = match m.process(r.pid) {
            Some(p) => {
                let shown = crate::replay::TRACE_WS_SHOWN;
                let mut s =
                    p.ws.entries_iter()
                        .take(shown)
                        .map(|e| if e.use_bit { format!("{}*", rel(e.vpn)) } else { rel(e.vpn).to_string() })
                        .collect::<Vec<_>>()
                        .join(" ");
                if p.ws.len() > shown as u64 {
                    s += &format!(" ... and {} more", p.ws.len() - shown as u64);
                }
                s
            }
            None => String::new(),
        };
        let position = format!("step {}, reference {} of {}", o.step, o.index, o.total);
        Some(Question {
            title: format!(
                "{position}: {} {} page {} ({})",
                m.name_of(r.pid),
                match r.access {
                    crate::machine::AccessKind::Read => "reads",
                    crate::machine::AccessKind::Write => "writes",
                    crate::machine::AccessKind::Execute => "executes",
                },
                rel(r.vpn),
                r.vpn
            ),
            position,
            page: rel(r.vpn),
            result,
            victims,
            working_set,
            explanations: o.events.iter().map(|e| m.explain(e)).collect(),
        })
    }

    /// Whether the reference missed the working set (a fault).
    pub fn is_miss(&self) -> bool {
        Kind::of(&self.result).is_some()
    }

    /// Whether the quiz asks about it: a hit or a fault, not an error.
    pub fn is_asked(&self) -> bool {
        self.result == "hit" || self.is_miss()
    }

    /// Points a perfect answer scores: 1, and on a miss 1 for the victim;
    /// when deep, 1 for the kind and 1 per victim for its list.
    pub fn points(&self, deep: bool) -> u64 {
        match (self.is_asked(), self.is_miss()) {
            (false, _) => 0,
            (true, false) => 1,
            (true, true) => 2 + if deep { 1 + self.victims.len() as u64 } else { 0 },
        }
    }

    /// The victims as the key writes them: `-`, or `PAGE to LIST`.
    pub fn victim_text(&self) -> String {
        if self.victims.is_empty() {
            "-".into()
        } else {
            self.victims.iter().map(|v| format!("{} to {}", v.page, v.list)).collect::<Vec<_>>().join(", ")
        }
    }
}

/// The working set after a traced reference, in policy order (`*`: a set
/// use bit).
pub fn trace_working_set(t: &TraceStep) -> String {
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

/// What the student said about the victim.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VictimAnswer {
    /// No page is evicted: a free frame takes the page.
    None,
    /// This page.
    Page(i64),
}

impl VictimAnswer {
    /// `-` or `none`, or a page number.
    pub fn parse(s: &str) -> Option<VictimAnswer> {
        match s {
            "-" | "none" => Some(VictimAnswer::None),
            s => s.parse().ok().map(VictimAnswer::Page),
        }
    }
}

/// `h`/`hit` (false) or `m`/`miss`/`f`/`fault` (true).
pub fn parse_miss(s: &str) -> Option<bool> {
    match s {
        "h" | "hit" => Some(false),
        "m" | "miss" | "f" | "fault" => Some(true),
        _ => None,
    }
}

/// What the student said about one reference. Questions not reached (the
/// input ended, or a hit was answered) are `None`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Answer {
    /// A miss (true) or a hit (false).
    pub miss: bool,
    /// The kind of fault (asked when deep, after a miss).
    pub kind: Option<Kind>,
    /// The page evicted (asked after a miss).
    pub victim: Option<VictimAnswer>,
    /// The victim's list (asked when deep, after a miss naming a page).
    pub list: Option<List>,
}

/// One point, won or lost, with what to say about it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mark {
    /// Whether the answer was right.
    pub right: bool,
    /// `a miss (soft)`, `4 to modified (you said none)`, ...
    pub text: String,
}

/// Marks an answer: one [`Mark`] a point, in the order the questions are
/// asked (hit or miss, the kind of fault, the victim, its list). A
/// question the quiz does not ask (an access violation) has no marks.
pub fn mark(q: &Question, a: &Answer, deep: bool) -> Vec<Mark> {
    let mut out = Vec::new();
    if !q.is_asked() {
        return out;
    }
    let miss = q.is_miss();
    let r = &q.result;
    out.push(if a.miss == miss {
        Mark { right: true, text: if miss { format!("a miss ({r})") } else { "a hit".into() } }
    } else if miss {
        Mark { right: false, text: format!("it is a miss ({r}), not a hit") }
    } else {
        Mark { right: false, text: "it is a hit, not a miss".into() }
    });
    if !miss {
        return out;
    }
    if deep {
        let kind = Kind::of(r).expect("a miss has a kind");
        out.push(if a.kind == Some(kind) {
            Mark { right: true, text: format!("a {r} fault") }
        } else {
            Mark { right: false, text: format!("a {r} fault ({})", kind.letter()) }
        });
    }
    let right = match (a.victim, q.victims.as_slice()) {
        (Some(VictimAnswer::None), []) => true,
        (Some(VictimAnswer::Page(p)), [v]) => v.page == p,
        _ => false,
    };
    let truth = if q.victims.is_empty() { "no page is evicted: a free frame takes it".into() } else { q.victim_text() };
    out.push(if right {
        Mark { right: true, text: truth }
    } else {
        let said = match a.victim {
            None if !a.miss => "you said hit".to_string(),
            None => "you did not say".to_string(),
            Some(VictimAnswer::None) => "you said none".to_string(),
            Some(VictimAnswer::Page(p)) => format!("you said {p}"),
        };
        Mark { right: false, text: format!("{truth} ({said})") }
    });
    if deep {
        for v in &q.victims {
            let list = List::of(v.list);
            out.push(if a.list == Some(list) {
                Mark { right: true, text: format!("page {} goes to the {} list", v.page, v.list) }
            } else {
                Mark { right: false, text: format!("page {} goes to the {} list ({})", v.page, v.list, list.letter()) }
            });
        }
    }
    out
}

/// The running score: points won of points asked.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Score {
    /// Points won.
    pub score: u64,
    /// Points asked.
    pub asked: u64,
}

impl Score {
    /// Counts the marks of one answer.
    pub fn add(&mut self, marks: &[Mark]) {
        self.asked += marks.len() as u64;
        self.score += marks.iter().filter(|m| m.right).count() as u64;
    }

    /// The score as a whole percentage (0 when nothing was asked).
    pub fn percent(&self) -> u64 {
        (self.score * 100).checked_div(self.asked).unwrap_or(0)
    }

    /// A closing word for a finished quiz.
    pub fn verdict(&self) -> &'static str {
        if self.score == self.asked {
            "Perfect: every hit, miss and victim right."
        } else if self.score * 10 >= self.asked * 8 {
            "Good: look again at the references marked wrong."
        } else {
            "Try it again with the answer key beside it, then with a new string."
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(result: &str, victims: &[(i64, &'static str)]) -> Question {
        Question {
            position: "reference 1 of 1".into(),
            title: "reference 1 of 1: page 4".into(),
            page: 4,
            result: result.into(),
            victims: victims.iter().map(|&(page, list)| Evicted { page, list }).collect(),
            working_set: String::new(),
            explanations: Vec::new(),
        }
    }

    fn score(q: &Question, a: &Answer, deep: bool) -> (u64, u64) {
        let mut s = Score::default();
        s.add(&mark(q, a, deep));
        (s.score, s.asked)
    }

    #[test]
    fn a_hit_is_one_point_and_a_miss_two_or_more_when_deep() {
        let hit = q("hit", &[]);
        assert_eq!(score(&hit, &Answer::default(), false), (1, 1));
        assert_eq!(score(&hit, &Answer::default(), true), (1, 1));
        assert_eq!(score(&hit, &Answer { miss: true, ..Answer::default() }, true), (0, 1));
        let miss = q("soft", &[(2, "modified")]);
        assert_eq!(miss.points(false), 2);
        assert_eq!(miss.points(true), 4);
        let perfect = Answer {
            miss: true,
            kind: Some(Kind::Soft),
            victim: Some(VictimAnswer::Page(2)),
            list: Some(List::Modified),
        };
        assert_eq!(score(&miss, &perfect, true), (4, 4));
        assert_eq!(score(&miss, &perfect, false), (2, 2));
        // "hit" on a miss loses all of its points.
        assert_eq!(score(&miss, &Answer::default(), true), (0, 4));
        let marks = mark(&miss, &Answer::default(), true);
        assert_eq!(marks[0].text, "it is a miss (soft), not a hit");
        assert_eq!(marks[2].text, "2 to modified (you said hit)");
    }

    #[test]
    fn marks_say_what_was_right_in_the_order_asked() {
        let miss = q("demand_zero", &[(7, "standby")]);
        let a = Answer {
            miss: true,
            kind: Some(Kind::Hard),
            victim: Some(VictimAnswer::Page(7)),
            list: Some(List::Modified),
        };
        let texts: Vec<(bool, String)> = mark(&miss, &a, true).into_iter().map(|m| (m.right, m.text)).collect();
        assert_eq!(
            texts,
            vec![
                (true, "a miss (demand_zero)".to_string()),
                (false, "a demand_zero fault (z)".to_string()),
                (true, "7 to standby".to_string()),
                (false, "page 7 goes to the standby list (s)".to_string()),
            ]
        );
        let free = q("demand_zero", &[]);
        let a = Answer { miss: true, kind: Some(Kind::DemandZero), victim: Some(VictimAnswer::None), list: None };
        assert_eq!(score(&free, &a, true), (3, 3));
        assert!(mark(&q("access_violation", &[]), &a, true).is_empty(), "an error is not asked");
    }

    #[test]
    fn answers_parse_by_letter_or_word() {
        assert_eq!(parse_miss("f"), Some(true));
        assert_eq!(parse_miss("hit"), Some(false));
        assert_eq!(parse_miss("maybe"), None);
        assert_eq!(Kind::parse("z"), Some(Kind::DemandZero));
        assert_eq!(Kind::parse("hard"), Some(Kind::Hard));
        assert_eq!(List::parse("m"), Some(List::Modified));
        assert_eq!(VictimAnswer::parse("-"), Some(VictimAnswer::None));
        assert_eq!(VictimAnswer::parse("12"), Some(VictimAnswer::Page(12)));
        assert_eq!(VictimAnswer::parse("x"), None);
        assert_eq!(Score { score: 4, asked: 5 }.percent(), 80);
        assert_eq!(Score::default().percent(), 0);
    }
}

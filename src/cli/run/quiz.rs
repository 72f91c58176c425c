//! `pagelab run SCENARIO --quiz`: the scenario's memory references as a
//! quiz on the terminal, asked and marked as `pagelab quiz` asks a
//! generated string ([`crate::cli::quiz::session`]). Steps that make no
//! references run between the questions.

use std::io::{self, BufRead, IsTerminal, Write};

use super::super::quiz::session;
use super::super::{EXIT_BAD_INPUT, EXIT_OK};
use crate::quiz::Question;
use crate::runner::Runner;
use crate::scenario::Action;

/// The scenario's references, made one at a time, as questions; steps
/// without references run silently. Stops at the end, or when `check`
/// (the invariants after a step) fails, keeping its exit code.
struct Questions<'a, C> {
    runner: &'a mut Runner,
    check: C,
    failed: Option<i32>,
}

impl<C: Fn(&Runner, &str) -> Result<(), i32>> Iterator for Questions<'_, C> {
    type Item = Question;

    fn next(&mut self) -> Option<Question> {
        loop {
            let o = self.runner.step_reference()?;
            if let Some(s) = &o.finished {
                if let Err(code) =
                    (self.check)(self.runner, &format!("after step {} (line {}, {})", s.number, s.line, s.op))
                {
                    self.failed = Some(code);
                    return None;
                }
            }
            if let Some(q) = Question::of_reference(self.runner.machine(), &o) {
                return Some(q);
            }
        }
    }
}

/// References the scenario's touch and refs steps make.
pub fn references(runner: &Runner) -> u64 {
    let steps = &runner.scenario().steps;
    (0..steps.len())
        .filter(|&i| matches!(steps[i].action, Action::Touch { .. } | Action::Refs { .. }))
        .map(|i| runner.references_of(i))
        .sum()
}

/// Runs the quiz over `runner`'s scenario on standard input and output.
pub fn run_quiz(name: &str, deep: bool, runner: Runner, check: impl Fn(&Runner, &str) -> Result<(), i32>) -> i32 {
    let stdin = io::stdin();
    let echo = !stdin.is_terminal();
    let mut out = io::stdout().lock();
    match quiz(&mut out, &mut stdin.lock(), echo, name, deep, runner, check) {
        Ok(code) => code,
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => EXIT_OK,
        Err(e) => {
            eprintln!("pagelab: cannot write to standard output: {e}");
            EXIT_BAD_INPUT
        }
    }
}

/// The quiz over `runner`'s scenario, reading answers from `input`.
pub fn quiz(
    out: &mut dyn Write,
    input: &mut dyn BufRead,
    echo: bool,
    name: &str,
    deep: bool,
    mut runner: Runner,
    check: impl Fn(&Runner, &str) -> Result<(), i32>,
) -> io::Result<i32> {
    let s = runner.scenario();
    let title = if s.title.is_empty() { String::new() } else { format!(": {}", s.title) };
    let n = references(&runner);
    writeln!(
        out,
        "quiz: scenario {name}{title}; {n} memory reference{} in its touch and refs steps",
        if n == 1 { "" } else { "s" }
    )?;
    let intro = "Pages are numbered from the base address of their step, as `pagelab run --trace` numbers them;\n\
                 the working set is listed in its policy's order, the next victim first. The machine's\n\
                 explanations name pages by their addresses.";
    let mut qs = Questions { runner: &mut runner, check, failed: None };
    session(out, input, echo, deep, intro, &mut qs)?;
    out.flush()?;
    Ok(qs.failed.unwrap_or(EXIT_OK))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    fn belady_quiz(answers: &str, deep: bool) -> String {
        let s = crate::scenario::resolve("belady", &[]).unwrap();
        let runner = Runner::new(Arc::new(s), true).unwrap();
        let mut out = Vec::new();
        let code = quiz(&mut out, &mut answers.as_bytes(), true, "belady", deep, runner, |_, _| Ok(())).unwrap();
        assert_eq!(code, EXIT_OK);
        String::from_utf8(out).unwrap()
    }

    /// FIFO on 1,2,3,4,1,2,5,1,2,3,4,5 with 3 frames: (miss, victim).
    fn fifo(frames: usize) -> Vec<(bool, Option<i64>)> {
        let mut q = std::collections::VecDeque::new();
        [1, 2, 3, 4, 1, 2, 5, 1, 2, 3, 4, 5]
            .iter()
            .map(|&p| {
                if q.contains(&p) {
                    return (false, None);
                }
                q.push_back(p);
                (true, if q.len() > frames { q.pop_front() } else { None })
            })
            .collect()
    }

    fn perfect(frames: usize) -> String {
        fifo(frames)
            .iter()
            .map(|(miss, v)| match (miss, v) {
                (false, _) => "h\n".to_string(),
                (true, None) => "m\n-\n".to_string(),
                (true, Some(v)) => format!("m\n{v}\n"),
            })
            .collect()
    }

    #[test]
    fn belady_answered_from_a_fifo_model_scores_full_marks() {
        let answers = perfect(3) + &perfect(4);
        let out = belady_quiz(&answers, false);
        // 12 + 9 points for three frames, 12 + 10 for four.
        assert!(out.contains("score: 43 of 43 (100%)"), "{out}");
        assert!(out.contains("quiz: scenario belady: FIFO replacement and Belady's anomaly; 24 memory references"));
        assert!(
            out.contains("step 3, reference 1 of 12: three reads page 1 (0x11000) - hit or miss? (h/m) m"),
            "{out}"
        );
        assert!(out.contains("step 4, reference 12 of 12: four reads page 5 (0x15000)"), "{out}");
        assert!(out.contains("| page 0x11000 of three demand-zero fault"), "explanations: {out}");
        assert!(out.contains("Perfect"));
    }

    #[test]
    fn belady_deep_asks_kind_and_list_and_marks_wrong_answers() {
        // Every answer "miss, soft, page 1, standby": the first reference is
        // a demand-zero fault with no victim.
        let out = belady_quiz(&"m\ns\n1\ns\n".repeat(2), true);
        assert!(out.contains("right: a miss (demand_zero)"), "{out}");
        assert!(out.contains("wrong: a demand_zero fault (z)"), "{out}");
        assert!(out.contains("wrong: no page is evicted: a free frame takes it (you said 1)"), "{out}");
        assert!(out.contains("(the input ended at step 3, reference 3 of 12)"), "{out}");
        assert!(out.contains("score: 2 of 6 (33%)"), "{out}");
    }
}

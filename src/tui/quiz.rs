//! The quiz mode (`t`, or `pagelab tui --quiz`): before each memory
//! reference the TUI asks what it will do, in the order the memory
//! manager finds out: hit or miss; the kind of fault; the page evicted
//! (picked in the working-set pane); the list it goes to. It keeps the
//! score in the pane's title and the header, then makes the reference and
//! shows each answer marked, with the events' own explanations.
//!
//! The question's truth comes from a copy of the runner stepped one
//! reference ahead ([`crate::quiz::Question::of_reference`]); marking is
//! [`crate::quiz::mark`], the same as `pagelab quiz --deep`.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::Widget;

use super::events::wrap;
use super::fit::put_line;
use crate::quiz::{Answer, Kind, List, Mark, Question, Score, VictimAnswer};
use crate::units::Vpn;

/// Which question about the reference is being asked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stage {
    /// Hit or miss.
    HitMiss,
    /// The kind of fault.
    Kind,
    /// The page evicted.
    Victim,
    /// The list the victim goes to.
    List,
}

/// Where the quiz stands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum State {
    /// Asking about the next reference.
    Asking {
        /// The truth (not shown until answered).
        question: Box<Question>,
        /// The first page of the reference's step: pages are numbered from it.
        base: Vpn,
        /// The question being asked.
        stage: Stage,
        /// What the student said so far.
        answer: Answer,
    },
    /// The reference was made; its answer is marked.
    Answered {
        /// The reference.
        question: Box<Question>,
        /// The marks, in the order asked.
        marks: Vec<Mark>,
    },
    /// No references are left.
    Done,
}

/// The quiz: its score and where it stands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Quiz {
    /// Points won of points asked.
    pub score: Score,
    /// References answered.
    pub answered: u64,
    /// The question, its answer, or the end.
    pub state: State,
}

impl Quiz {
    /// Whether the next victim is to be kept from view (a question is open).
    pub fn hides_answer(&self) -> bool {
        matches!(self.state, State::Asking { .. })
    }

    /// What the status line says: the keys of the question asked.
    pub fn hint(&self) -> &'static str {
        match &self.state {
            State::Asking { stage: Stage::HitMiss, .. } => "quiz: h hit  m miss   Tab process  Esc leave the quiz",
            State::Asking { stage: Stage::Kind, .. } => "quiz: z demand zero  s soft  h hard   Esc leave the quiz",
            State::Asking { stage: Stage::Victim, .. } => {
                "quiz: pick the victim: ↑↓ Enter, or 1-9 by place; - none   Esc leave"
            }
            State::Asking { stage: Stage::List, .. } => "quiz: s standby  m modified   Esc leave the quiz",
            State::Answered { .. } => "quiz: Enter or . next question  Tab process  f focus  Esc leave",
            State::Done => "quiz: no references left   Home start again  Esc leave the quiz",
        }
    }
}

/// The pane's title: the score so far.
pub fn title(q: &Quiz) -> String {
    format!("Quiz: score {} of {} ({}%), {} answered", q.score.score, q.score.asked, q.score.percent(), q.answered)
}

fn said(a: &Answer, stage: Stage) -> String {
    let mut parts = vec![if a.miss { "miss" } else { "hit" }.to_string()];
    if stage == Stage::HitMiss {
        return String::new();
    }
    if let Some(k) = a.kind {
        parts.push(
            match k {
                Kind::DemandZero => "demand zero",
                Kind::Soft => "soft",
                Kind::Hard => "hard",
            }
            .into(),
        );
    }
    match a.victim {
        Some(VictimAnswer::None) => parts.push("no victim".into()),
        Some(VictimAnswer::Page(p)) => parts.push(format!("page {p} evicted")),
        None => {}
    }
    if let Some(l) = a.list {
        parts.push(if l == List::Modified { "to modified" } else { "to standby" }.into());
    }
    format!("you said: {}", parts.join(", "))
}

/// One piece of the pane: a paragraph, wrapped at spaces, or marks,
/// flowed side by side as many to a line as fit.
enum Piece {
    Text(String, Style),
    Marks(Vec<(String, Style)>),
}

/// The pane's pieces.
fn pieces(q: &Quiz) -> Vec<Piece> {
    let bold = Style::new().add_modifier(Modifier::BOLD);
    let plain = Style::new();
    let dim = Style::new().fg(Color::DarkGray);
    match &q.state {
        State::Asking { question, stage, answer, .. } => {
            let ask = match stage {
                Stage::HitMiss => "Will it hit the working set or miss it (a page fault)?   h hit   m miss".to_string(),
                Stage::Kind => {
                    "Which kind of fault?   z demand zero   s soft (from standby or modified)   h hard".into()
                }
                Stage::Victim => "Which page is evicted? Pick it in the working set (↑↓ and Enter, or its place \
                                  1-9), or - if a free frame takes the page."
                    .into(),
                Stage::List => "Which list does the victim go to?   s standby (clean)   m modified (dirty)".into(),
            };
            let mut out = vec![Piece::Text(question.title.clone(), bold), Piece::Text(ask, plain)];
            let s = said(answer, *stage);
            if !s.is_empty() {
                out.push(Piece::Text(s, dim));
            }
            out
        }
        State::Answered { question, marks } => {
            let mut out = vec![Piece::Text(question.title.clone(), bold)];
            out.push(Piece::Marks(
                marks
                    .iter()
                    .map(|m| {
                        let (mark, colour) = if m.right { ("✓", Color::Green) } else { ("✗", Color::Red) };
                        (format!("{mark} {}", m.text), Style::new().fg(colour))
                    })
                    .collect(),
            ));
            if !question.is_miss() {
                out.push(Piece::Text(format!("page {} is in the working set: no fault", question.page), plain));
            }
            out.extend(question.explanations.iter().map(|e| Piece::Text(e.clone(), plain)));
            out
        }
        State::Done => vec![
            Piece::Text(
                format!("The end: score {} of {} ({}%).", q.score.score, q.score.asked, q.score.percent()),
                bold,
            ),
            Piece::Text(q.score.verdict().to_string(), plain),
        ],
    }
}

/// The pieces as lines `width` columns wide.
fn lines(q: &Quiz, width: usize) -> Vec<Line<'static>> {
    let mut out = Vec::new();
    for p in pieces(q) {
        match p {
            Piece::Text(text, style) => {
                out.extend(wrap(&text, width).into_iter().map(|l| Line::from(Span::styled(l, style))));
            }
            Piece::Marks(marks) => {
                let mut line: Vec<Span<'static>> = Vec::new();
                let mut used = 0;
                for (text, style) in marks {
                    let w = text.chars().count();
                    if !line.is_empty() && used + 3 + w > width {
                        out.push(Line::from(std::mem::take(&mut line)));
                        used = 0;
                    }
                    if w > width {
                        out.extend(wrap(&text, width).into_iter().map(|l| Line::from(Span::styled(l, style))));
                        continue;
                    }
                    if !line.is_empty() {
                        line.push(Span::raw("   "));
                        used += 3;
                    }
                    line.push(Span::styled(text, style));
                    used += w;
                }
                if !line.is_empty() {
                    out.push(Line::from(line));
                }
            }
        }
    }
    out
}

/// Draws the quiz in the events pane's place.
pub fn render(q: &Quiz, area: Rect, buf: &mut Buffer, focused: bool) {
    let block = super::ui::pane_block(&title(q), focused);
    let inner = block.inner(area);
    block.render(area, buf);
    for (k, l) in lines(q, inner.width as usize).iter().take(inner.height as usize).enumerate() {
        put_line(buf, inner.x, inner.y + k as u16, l, inner.width);
    }
}

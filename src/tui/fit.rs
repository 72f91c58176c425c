//! Text that fits its pane: what is too wide is cut with `…` in its last
//! column, so a cut number never reads as a different number (`max
//! 100000000` in a narrow pane shows as `max 1000…`, not `max 1000000`).
//! Every pane writes text through [`put_str`] and [`put_line`].

use std::borrow::Cow;

use ratatui::buffer::Buffer;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use unicode_width::UnicodeWidthChar;

/// The mark of a cut.
pub const ELLIPSIS: char = '…';

/// Columns `c` takes on a terminal.
fn columns(c: char) -> usize {
    c.width().unwrap_or(0)
}

/// `text`, cut to `width` columns with [`ELLIPSIS`] as the last one when it
/// is wider.
pub fn fit_str(text: &str, width: usize) -> Cow<'_, str> {
    let total: usize = text.chars().map(columns).sum();
    if total <= width {
        return Cow::Borrowed(text);
    }
    // Padding at the end is not content: dropping it is no cut.
    let trimmed = text.trim_end_matches(' ');
    if trimmed.chars().map(columns).sum::<usize>() <= width {
        return Cow::Borrowed(trimmed);
    }
    if width == 0 {
        return Cow::Borrowed("");
    }
    let mut out = String::new();
    let mut used = 0;
    for c in text.chars() {
        let w = columns(c);
        if used + w > width - 1 {
            break;
        }
        out.push(c);
        used += w;
    }
    out.push(ELLIPSIS);
    Cow::Owned(out)
}

/// The first of `variants` (longest first) that fits `width` columns, else
/// the last: a pane says the same thing in fewer words rather than cut one.
pub fn first_fitting(variants: Vec<String>, width: usize) -> String {
    let n = variants.len();
    for (i, v) in variants.into_iter().enumerate() {
        if i + 1 == n || v.chars().map(columns).sum::<usize>() <= width {
            return v;
        }
    }
    String::new()
}

/// `line`, cut to `width` columns with [`ELLIPSIS`] (in the style of the
/// span it cuts) as the last one when it is wider.
pub fn fit_line<'a>(line: &Line<'a>, width: usize) -> Line<'a> {
    if line.width() <= width {
        return line.clone();
    }
    // Padding at the end is not content: dropping it is no cut.
    let content = line.width() - trailing_spaces(line);
    if content <= width {
        return line.clone();
    }
    let mut spans: Vec<Span<'a>> = Vec::new();
    if width > 0 {
        // One column is kept for the ellipsis; the line is wider than
        // `width`, so some span is cut.
        let budget = width - 1;
        let mut used = 0;
        for span in &line.spans {
            let mut kept = String::new();
            let mut cut = false;
            for c in span.content.chars() {
                let w = columns(c);
                if used + w > budget {
                    cut = true;
                    break;
                }
                kept.push(c);
                used += w;
            }
            if cut {
                kept.push(ELLIPSIS);
                spans.push(Span::styled(kept, span.style));
                break;
            }
            spans.push(span.clone());
        }
    }
    Line { spans, style: line.style, alignment: line.alignment }
}

/// Columns of spaces at the end of `line`, across its spans.
fn trailing_spaces(line: &Line<'_>) -> usize {
    let mut n = 0;
    for span in line.spans.iter().rev() {
        let t = span.content.trim_end_matches(' ');
        n += span.content.len() - t.len();
        if !t.is_empty() {
            break;
        }
    }
    n
}

/// Writes `text` at (x, y), at most `width` columns, cut with an ellipsis.
pub fn put_str(buf: &mut Buffer, x: u16, y: u16, text: impl AsRef<str>, width: usize, style: Style) {
    buf.set_stringn(x, y, fit_str(text.as_ref(), width), width, style);
}

/// Writes `line` at (x, y), at most `width` columns, cut with an ellipsis.
pub fn put_line(buf: &mut Buffer, x: u16, y: u16, line: &Line<'_>, width: u16) {
    buf.set_line(x, y, &fit_line(line, width as usize), width);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_number_too_wide_is_cut_with_an_ellipsis_never_shortened() {
        assert_eq!(fit_str("max 100000000", 11), "max 100000…");
        assert_eq!(fit_str("max 100000000", 13), "max 100000000");
        assert_eq!(fit_str("max 100000000", 1), "…");
        assert_eq!(fit_str("max 100000000", 0), "");
        assert_eq!(fit_str("► victim", 3), "► …");
        // Trailing padding is dropped, not cut.
        assert_eq!(fit_str("2=big   ", 5), "2=big");
    }

    #[test]
    fn a_line_is_cut_inside_or_between_spans() {
        let l = Line::from(vec![Span::raw("size 12, "), Span::raw("max 100000000")]);
        let cut = fit_line(&l, 12);
        assert_eq!(cut.to_string(), "size 12, ma…");
        assert_eq!(cut.width(), 12);
        // The cut falls exactly at the end of the first span.
        let cut = fit_line(&l, 10);
        assert_eq!(cut.to_string(), "size 12, …");
        let cut = fit_line(&l, 9);
        assert_eq!(cut.to_string(), "size 12,…");
        assert_eq!(fit_line(&l, 40).to_string(), "size 12, max 100000000");
        let padded = Line::from(vec![Span::raw("1=app "), Span::raw("2=big "), Span::raw("  ")]);
        assert_eq!(fit_line(&padded, 11).to_string(), padded.to_string(), "set_line drops the padding");
    }

    #[test]
    fn put_str_shows_the_cut_in_the_buffer() {
        let mut buf = Buffer::empty(ratatui::layout::Rect::new(0, 0, 12, 1));
        put_str(&mut buf, 0, 0, "min 50 max 100000000", 12, Style::new());
        let row: String = (0..12).map(|x| buf[(x, 0)].symbol().to_string()).collect();
        assert_eq!(row, "min 50 max …");
    }
}

//! Plots as SVG, for papers: `pagelab plot` and `pagelab mrc --plot`.
//!
//! Two kinds: lines (a y column against a numeric x column, one line per
//! series, a y value averaged where several rows share a series and an x)
//! and a fault breakdown (stacked bars of demand-zero, soft and hard
//! faults for each x, one panel per series). The input is a CSV table with
//! a header line, as `pagelab mrc` and `pagelab sweep` write; the figure is
//! sized for a paper's column, 3.5 inches at 96 pixels an inch.

use std::collections::BTreeMap;

use plotters::coord::ranged1d::ValueFormatter;
use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;

use crate::mrc::Curve;

/// Width of a plot by default: 3.5 inches at 96 pixels an inch.
pub const WIDTH: u32 = 336;
/// Height of a plot by default (of one panel of a breakdown).
pub const HEIGHT: u32 = 252;

const FONT: &str = "sans-serif";
const TICK_PX: u32 = 10;
const LABEL_PX: u32 = 11;

/// Line colours: Okabe and Ito's palette, told apart by colour-blind
/// readers; each line also has its own marker, for grey print.
const COLOURS: [RGBColor; 8] = [
    RGBColor(0, 114, 178),
    RGBColor(213, 94, 0),
    RGBColor(0, 158, 115),
    RGBColor(204, 121, 167),
    RGBColor(230, 159, 0),
    RGBColor(86, 180, 233),
    RGBColor(0, 0, 0),
    RGBColor(240, 228, 66),
];

/// One line of a chart.
#[derive(Clone, Debug, PartialEq)]
pub struct Series {
    /// Its name in the legend.
    pub name: String,
    /// (x, y), in increasing x.
    pub points: Vec<(f64, f64)>,
}

/// A line chart.
#[derive(Clone, Debug)]
pub struct LineChart {
    /// The lines.
    pub series: Vec<Series>,
    /// The x axis's description, with its unit.
    pub x_label: String,
    /// The y axis's description, with its unit.
    pub y_label: String,
    /// A title above the plot.
    pub title: Option<String>,
    /// A logarithmic x axis (every x must then be positive).
    pub log_x: bool,
    /// Pixels.
    pub size: (u32, u32),
}

/// Stacked bars: for each category (an x value), the parts of a total
/// (demand-zero, soft, hard faults), one panel per series.
#[derive(Clone, Debug)]
pub struct BreakdownChart {
    /// The x values, in order.
    pub categories: Vec<String>,
    /// Panels: (name, values[category][part]); one unnamed panel when the
    /// table has no series.
    pub panels: Vec<(Option<String>, Vec<Vec<f64>>)>,
    /// The parts' names, bottom first.
    pub parts: Vec<String>,
    /// The x axis's description.
    pub x_label: String,
    /// The y axis's description.
    pub y_label: String,
    /// A title above the plot.
    pub title: Option<String>,
    /// Pixels, of one panel.
    pub size: (u32, u32),
}

/// An axis description for a column, with its unit where pagelab knows it.
pub fn label_for(column: &str) -> String {
    match column {
        "frames" => "working-set size (frames of 4 KiB)".into(),
        "miss_ratio" => "miss ratio (misses per reference)".into(),
        "fault_rate" => "fault rate (faults per reference)".into(),
        "references" | "faults" | "misses" | "demand_zero" | "soft" | "hard" | "compulsory" => {
            format!("{} (count)", column.replace('_', " "))
        }
        c => c.to_string(),
    }
}

/// The curves of `pagelab mrc` as a line chart.
pub fn mrc_chart(curves: &[Curve], log_x: bool) -> LineChart {
    LineChart {
        series: curves
            .iter()
            .map(|c| Series {
                name: c.policy.clone(),
                points: c.points.iter().map(|p| (p.frames as f64, p.miss_ratio)).collect(),
            })
            .collect(),
        x_label: label_for("frames"),
        y_label: "miss ratio (first touches included)".into(),
        title: None,
        log_x,
        size: (WIDTH, HEIGHT),
    }
}

/// A number for a tick label: whole numbers without a fraction, others
/// with up to three significant digits.
fn tick(v: f64) -> String {
    if v == 0.0 {
        return "0".into();
    }
    if v.fract() == 0.0 && v.abs() < 1e15 {
        let i = v as i64;
        return if i.abs() >= 10_000 && i % 1000 == 0 { format!("{}k", i / 1000) } else { i.to_string() };
    }
    let digits = (3 - 1 - v.abs().log10().floor() as i32).max(0) as usize;
    let s = format!("{v:.digits$}");
    let s = if s.contains('.') { s.trim_end_matches('0').trim_end_matches('.').to_string() } else { s };
    s
}

/// The legend box every chart draws: small type on a pale ground.
fn legend<'a, DB: DrawingBackend + 'a, CT: CoordTranslate>(
    chart: &mut ChartContext<'a, DB, CT>,
    at: SeriesLabelPosition,
) -> Result<(), String> {
    chart
        .configure_series_labels()
        .position(at)
        .label_font((FONT, TICK_PX))
        .background_style(WHITE.mix(0.85))
        .border_style(RGBColor(160, 160, 160))
        .legend_area_size(14)
        .margin(4)
        .draw()
        .map_err(err)
}

fn err(e: impl std::fmt::Display) -> String {
    format!("drawing failed: {e}")
}

/// The range of `values` padded a little, `lo..hi` with `lo < hi`.
fn span(values: impl Iterator<Item = f64>, from_zero: bool) -> (f64, f64) {
    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
    for v in values {
        lo = lo.min(v);
        hi = hi.max(v);
    }
    if !lo.is_finite() {
        return (0.0, 1.0);
    }
    if from_zero {
        lo = lo.min(0.0);
    }
    if hi <= lo {
        hi = lo + if lo == 0.0 { 1.0 } else { lo.abs() * 0.1 };
    }
    (lo, hi + if from_zero { (hi - lo) * 0.05 } else { 0.0 })
}

impl LineChart {
    /// The chart as an SVG document.
    pub fn svg(&self) -> Result<String, String> {
        if self.series.iter().all(|s| s.points.is_empty()) {
            return Err("nothing to draw: no points".into());
        }
        if self.log_x {
            if let Some(&(x, _)) = self.series.iter().flat_map(|s| &s.points).find(|p| p.0 <= 0.0) {
                return Err(format!("--log-x: x must be positive, and one is {}", tick(x)));
            }
        }
        let mut svg = String::new();
        {
            let root = SVGBackend::with_string(&mut svg, self.size).into_drawing_area();
            root.fill(&WHITE).map_err(err)?;
            let root = match &self.title {
                Some(t) => root.titled(t, (FONT, LABEL_PX + 1)).map_err(err)?,
                None => root,
            };
            let (x0, x1) = span(self.series.iter().flat_map(|s| s.points.iter().map(|p| p.0)), false);
            let (y0, y1) = span(self.series.iter().flat_map(|s| s.points.iter().map(|p| p.1)), true);
            let mut b = ChartBuilder::on(&root);
            b.margin(6).margin_right(12).x_label_area_size(32).y_label_area_size(44);
            if self.log_x {
                let mut chart = b.build_cartesian_2d((x0..x1).log_scale(), y0..y1).map_err(err)?;
                self.draw(&mut chart)?;
            } else {
                let mut chart = b.build_cartesian_2d(x0..x1, y0..y1).map_err(err)?;
                self.draw(&mut chart)?;
            }
            root.present().map_err(err)?;
        }
        Ok(svg)
    }

    fn draw<'a, DB: DrawingBackend + 'a, X>(
        &self,
        chart: &mut ChartContext<'a, DB, Cartesian2d<X, RangedCoordf64>>,
    ) -> Result<(), String>
    where
        X: Ranged<ValueType = f64> + ValueFormatter<f64>,
    {
        let fmt = |v: &f64| tick(*v);
        chart
            .configure_mesh()
            .x_desc(self.x_label.as_str())
            .y_desc(self.y_label.as_str())
            .x_labels(6)
            .y_labels(6)
            .x_label_formatter(&fmt)
            .y_label_formatter(&fmt)
            .label_style((FONT, TICK_PX))
            .axis_desc_style((FONT, LABEL_PX))
            .light_line_style(WHITE)
            .bold_line_style(RGBColor(225, 225, 225))
            .draw()
            .map_err(err)?;
        for (i, s) in self.series.iter().enumerate() {
            let colour = COLOURS[i % COLOURS.len()];
            let line = colour.stroke_width(1);
            let fill = colour.filled();
            chart.draw_series(LineSeries::new(s.points.iter().copied(), line)).map_err(err)?;
            let pts = s.points.iter().copied();
            let key = move |(x, y): (i32, i32)| {
                EmptyElement::at((x, y)) + PathElement::new(vec![(-7, 0), (7, 0)], colour.stroke_width(1))
            };
            // A marker of its own for each line: circle, square, triangle,
            // cross, in turn.
            let anno = match (i + i / COLOURS.len()) % 4 {
                0 => {
                    let a = chart.draw_series(pts.map(|p| Circle::new(p, 2, fill))).map_err(err)?;
                    a.legend(move |c| key(c) + Circle::new((0, 0), 2, fill));
                    a
                }
                1 => {
                    let sq = move |p| EmptyElement::at(p) + Rectangle::new([(-2, -2), (2, 2)], fill);
                    let a = chart.draw_series(pts.map(sq)).map_err(err)?;
                    a.legend(move |c| key(c) + Rectangle::new([(-2, -2), (2, 2)], fill));
                    a
                }
                2 => {
                    let a = chart.draw_series(pts.map(|p| TriangleMarker::new(p, 3, fill))).map_err(err)?;
                    a.legend(move |c| key(c) + TriangleMarker::new((0, 0), 3, fill));
                    a
                }
                _ => {
                    let a = chart.draw_series(pts.map(|p| Cross::new(p, 3, line))).map_err(err)?;
                    a.legend(move |c| key(c) + Cross::new((0, 0), 3, line));
                    a
                }
            };
            anno.label(&s.name);
        }
        legend(chart, SeriesLabelPosition::UpperRight)
    }
}

impl BreakdownChart {
    /// The chart as an SVG document: one panel per series, stacked
    /// vertically, sharing the y scale.
    pub fn svg(&self) -> Result<String, String> {
        if self.categories.is_empty() {
            return Err("nothing to draw: no rows".into());
        }
        let n = self.panels.len().max(1);
        let (w, h) = self.size;
        // The first panel keeps the legend and any title; each further
        // panel is a little shorter.
        let panel_h = h.saturating_sub(40).max(120);
        let height = h + (n as u32 - 1) * panel_h;
        let top = h.saturating_sub(panel_h);
        let ymax = self
            .panels
            .iter()
            .flat_map(|(_, v)| v.iter().map(|parts| parts.iter().sum::<f64>()))
            .fold(0.0f64, f64::max);
        let (_, y1) = span([0.0, ymax].into_iter(), true);
        let mut svg = String::new();
        {
            let root = SVGBackend::with_string(&mut svg, (w, height)).into_drawing_area();
            root.fill(&WHITE).map_err(err)?;
            let root = match &self.title {
                Some(t) => root.titled(t, (FONT, LABEL_PX + 1)).map_err(err)?,
                None => root,
            };
            let (first, rest) = root.split_vertically(top + panel_h);
            let mut areas = vec![first];
            let mut rest = rest;
            for _ in 1..n {
                let (a, b) = rest.split_vertically(panel_h);
                areas.push(a);
                rest = b;
            }
            for (i, (area, (name, values))) in areas.iter().zip(&self.panels).enumerate() {
                self.panel(area, name.as_deref(), values, y1, i == 0, i + 1 == n)?;
            }
            root.present().map_err(err)?;
        }
        Ok(svg)
    }

    fn panel<DB: DrawingBackend>(
        &self,
        area: &DrawingArea<DB, plotters::coord::Shift>,
        name: Option<&str>,
        values: &[Vec<f64>],
        y1: f64,
        legend: bool,
        x_axis: bool,
    ) -> Result<(), String> {
        let n = self.categories.len();
        let mut b = ChartBuilder::on(area);
        b.margin(6).margin_right(12).x_label_area_size(32).y_label_area_size(50);
        if let Some(name) = name {
            b.caption(name, (FONT, LABEL_PX));
        }
        let mut chart = b.build_cartesian_2d(-0.5f64..n as f64 - 0.5, 0f64..y1).map_err(err)?;
        let cats = &self.categories;
        let xfmt = |v: &f64| {
            let i = v.round();
            if (v - i).abs() < 1e-9 && i >= 0.0 && (i as usize) < cats.len() {
                cats[i as usize].clone()
            } else {
                String::new()
            }
        };
        let yfmt = |v: &f64| tick(*v);
        let mut mesh = chart.configure_mesh();
        mesh.y_desc(self.y_label.as_str())
            .x_labels(n.min(12))
            .y_labels(5)
            .x_label_formatter(&xfmt)
            .y_label_formatter(&yfmt)
            .label_style((FONT, TICK_PX))
            .axis_desc_style((FONT, LABEL_PX))
            .disable_x_mesh()
            .light_line_style(WHITE)
            .bold_line_style(RGBColor(225, 225, 225));
        if x_axis {
            mesh.x_desc(self.x_label.as_str());
        }
        mesh.draw().map_err(err)?;
        for (k, part) in self.parts.iter().enumerate() {
            let colour = COLOURS[k % COLOURS.len()];
            let bars = values.iter().enumerate().map(|(i, parts)| {
                let below: f64 = parts[..k].iter().sum();
                let x = i as f64;
                Rectangle::new([(x - 0.35, below), (x + 0.35, below + parts[k])], colour.filled())
            });
            let anno = chart.draw_series(bars).map_err(err)?;
            if legend {
                anno.label(part.replace('_', " "))
                    .legend(move |(x, y)| Rectangle::new([(x - 5, y - 4), (x + 5, y + 4)], colour.filled()));
            }
        }
        if legend {
            self::legend(&mut chart, SeriesLabelPosition::UpperLeft)?;
        }
        Ok(())
    }
}

/// A CSV table: its header and rows, each with its line in the file.
#[derive(Clone, Debug)]
pub struct Table {
    /// The file's name, for messages.
    pub path: String,
    /// Column names.
    pub header: Vec<String>,
    /// (line, fields), every row as long as the header.
    pub rows: Vec<(u64, Vec<String>)>,
}

/// Splits one CSV record (RFC 4180: commas, fields in double quotes with
/// `""` for a quote) starting at line `line` of `text`'s lines; returns
/// the fields and how many lines the record took.
fn record(lines: &[&str], start: usize) -> Result<(Vec<String>, usize), (usize, String)> {
    let mut fields = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut at_start = true;
    let mut i = start;
    let mut chars: Vec<char> = lines[i].chars().collect();
    let mut j = 0;
    loop {
        if j == chars.len() {
            if quoted {
                i += 1;
                if i == lines.len() {
                    return Err((start, "a quoted field is not closed by the end of the file".into()));
                }
                field.push('\n');
                chars = lines[i].chars().collect();
                j = 0;
                continue;
            }
            fields.push(std::mem::take(&mut field));
            return Ok((fields, i - start + 1));
        }
        let c = chars[j];
        j += 1;
        if quoted {
            if c == '"' {
                if chars.get(j) == Some(&'"') {
                    field.push('"');
                    j += 1;
                } else {
                    quoted = false;
                }
            } else {
                field.push(c);
            }
        } else if c == '"' && at_start {
            quoted = true;
            at_start = false;
        } else if c == ',' {
            fields.push(std::mem::take(&mut field));
            at_start = true;
        } else {
            field.push(c);
            at_start = false;
        }
    }
}

impl Table {
    /// Parses CSV text; errors are `path:line: what was expected`.
    pub fn parse(text: &str, path: &str) -> Result<Table, String> {
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let lines: Vec<&str> = text.lines().map(|l| l.strip_suffix('\r').unwrap_or(l)).collect();
        let at = |i: usize, m: String| format!("{path}:{}: {m}", i + 1);
        let mut i = 0;
        while i < lines.len() && lines[i].trim().is_empty() {
            i += 1;
        }
        if i == lines.len() {
            return Err(format!("{path}:1: expected a header line of column names, found an empty file"));
        }
        let (header, used) = record(&lines, i).map_err(|(l, m)| at(l, m))?;
        let header: Vec<String> = header.into_iter().map(|h| h.trim().to_string()).collect();
        if let Some(k) = header.iter().position(|h| h.is_empty()) {
            return Err(at(i, format!("column {} of the header has no name", k + 1)));
        }
        for (k, h) in header.iter().enumerate() {
            if header[..k].contains(h) {
                return Err(at(i, format!("column {h:?} is named twice in the header")));
            }
        }
        i += used;
        let mut rows = Vec::new();
        while i < lines.len() {
            if lines[i].trim().is_empty() {
                i += 1;
                continue;
            }
            let (fields, used) = record(&lines, i).map_err(|(l, m)| at(l, m))?;
            if fields.len() != header.len() {
                return Err(at(
                    i,
                    format!("expected {} fields, as the header has, found {}", header.len(), fields.len()),
                ));
            }
            rows.push((i as u64 + 1, fields));
            i += used;
        }
        Ok(Table { path: path.to_string(), header, rows })
    }

    /// The index of column `name`, or an error naming the columns there are.
    pub fn column(&self, name: &str, option: &str) -> Result<usize, String> {
        self.header.iter().position(|h| h == name).ok_or_else(|| {
            format!(
                "{}:1: {option} {name:?}: expected a column of the header, which has {}",
                self.path,
                self.header.join(", ")
            )
        })
    }

    /// The number in column `col` of row `r`.
    fn number(&self, r: usize, col: usize) -> Result<f64, String> {
        let (line, fields) = &self.rows[r];
        let f = fields[col].trim();
        match f.parse::<f64>() {
            Ok(v) if v.is_finite() => Ok(v),
            _ => Err(format!(
                "{}:{line}: column {} ({}): expected a number, found {f:?}",
                self.path,
                col + 1,
                self.header[col]
            )),
        }
    }

    /// The series name of row `r`: the values of `cols`, joined.
    fn series_of(&self, r: usize, cols: &[usize]) -> String {
        cols.iter().map(|&c| self.rows[r].1[c].trim()).collect::<Vec<_>>().join(" / ")
    }
}

/// What building a chart from a table noticed, for the user.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Notes {
    /// Points that are the mean of several rows (same series and x).
    pub averaged: usize,
}

/// Means of values grouped by key, in order of first appearance.
struct Groups<K: Ord + Clone> {
    order: Vec<K>,
    sums: BTreeMap<K, (Vec<f64>, usize)>,
}

impl<K: Ord + Clone> Groups<K> {
    fn new() -> Self {
        Groups { order: Vec::new(), sums: BTreeMap::new() }
    }

    fn add(&mut self, key: K, values: &[f64]) {
        let e = self.sums.entry(key.clone()).or_insert_with(|| {
            self.order.push(key);
            (vec![0.0; values.len()], 0)
        });
        for (s, v) in e.0.iter_mut().zip(values) {
            *s += v;
        }
        e.1 += 1;
    }

    fn mean(&self, key: &K) -> Option<Vec<f64>> {
        self.sums.get(key).map(|(s, n)| s.iter().map(|v| v / *n as f64).collect())
    }

    fn averaged(&self) -> usize {
        self.sums.values().filter(|(_, n)| *n > 1).count()
    }
}

/// A float as a key that orders as numbers do.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Num(f64);
impl Eq for Num {}
impl PartialOrd for Num {
    fn partial_cmp(&self, o: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Num {
    fn cmp(&self, o: &Self) -> std::cmp::Ordering {
        self.0.total_cmp(&o.0)
    }
}

/// A line chart of column `y` against column `x`, one line per distinct
/// value of the `series` columns (one line if none).
pub fn lines_from_table(t: &Table, x: &str, y: &str, series: &[String]) -> Result<(LineChart, Notes), String> {
    let xc = t.column(x, "--x")?;
    let yc = t.column(y, "--y")?;
    let sc: Vec<usize> = series.iter().map(|s| t.column(s, "--series")).collect::<Result<_, _>>()?;
    if t.rows.is_empty() {
        return Err(format!("{}: expected rows after the header, found none", t.path));
    }
    let mut g: Groups<(String, Num)> = Groups::new();
    let mut names: Vec<String> = Vec::new();
    for r in 0..t.rows.len() {
        let (xv, yv) = (t.number(r, xc)?, t.number(r, yc)?);
        let s = t.series_of(r, &sc);
        if !names.contains(&s) {
            names.push(s.clone());
        }
        g.add((s, Num(xv)), &[yv]);
    }
    let chart_series = names
        .iter()
        .map(|n| {
            let mut pts: Vec<(f64, f64)> =
                g.sums.keys().filter(|(s, _)| s == n).map(|k| (k.1 .0, g.mean(k).expect("a group")[0])).collect();
            pts.sort_by(|a, b| a.0.total_cmp(&b.0));
            Series { name: if n.is_empty() { y.to_string() } else { n.clone() }, points: pts }
        })
        .collect();
    let chart = LineChart {
        series: chart_series,
        x_label: label_for(x),
        y_label: label_for(y),
        title: None,
        log_x: false,
        size: (WIDTH, HEIGHT),
    };
    Ok((chart, Notes { averaged: g.averaged() }))
}

/// Stacked bars of the `parts` columns for each value of column `x`, one
/// panel per distinct value of the `series` columns.
pub fn breakdown_from_table(
    t: &Table,
    x: &str,
    series: &[String],
    parts: &[String],
) -> Result<(BreakdownChart, Notes), String> {
    let xc = t.column(x, "--x")?;
    let sc: Vec<usize> = series.iter().map(|s| t.column(s, "--series")).collect::<Result<_, _>>()?;
    let pc: Vec<usize> = parts.iter().map(|p| t.column(p, "--stack")).collect::<Result<_, _>>()?;
    if t.rows.is_empty() {
        return Err(format!("{}: expected rows after the header, found none", t.path));
    }
    // Categories: in numeric order when every x is a number, else in the
    // order they appear.
    let numeric = (0..t.rows.len()).all(|r| t.number(r, xc).is_ok());
    let mut cats: Vec<String> = Vec::new();
    let mut g: Groups<(String, String)> = Groups::new();
    let mut names: Vec<String> = Vec::new();
    for r in 0..t.rows.len() {
        let cat = t.rows[r].1[xc].trim().to_string();
        let values: Vec<f64> = pc.iter().map(|&c| t.number(r, c)).collect::<Result<_, _>>()?;
        let s = t.series_of(r, &sc);
        if !cats.contains(&cat) {
            cats.push(cat.clone());
        }
        if !names.contains(&s) {
            names.push(s.clone());
        }
        g.add((s, cat), &values);
    }
    if numeric {
        cats.sort_by(|a, b| a.trim().parse::<f64>().unwrap_or(0.0).total_cmp(&b.trim().parse::<f64>().unwrap_or(0.0)));
    }
    let panels = names
        .iter()
        .map(|n| {
            let values = cats
                .iter()
                .map(|c| g.mean(&(n.clone(), c.clone())).unwrap_or_else(|| vec![0.0; parts.len()]))
                .collect();
            (if sc.is_empty() { None } else { Some(n.clone()) }, values)
        })
        .collect();
    let chart = BreakdownChart {
        categories: cats,
        panels,
        parts: parts.to_vec(),
        x_label: label_for(x),
        y_label: "faults (count)".into(),
        title: None,
        size: (WIDTH, HEIGHT),
    };
    Ok((chart, Notes { averaged: g.averaged() }))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SWEEP: &str = "trace,policy,frames,seed,references,faults,fault_rate,demand_zero,soft,hard\n\
        t.refs,fifo,3,1,12,9,0.75,5,4,0\n\
        t.refs,fifo,4,1,12,10,0.8333,5,5,0\n\
        t.refs,lru,3,1,12,10,0.8333,5,5,0\n\
        t.refs,lru,4,1,12,8,0.6667,5,3,0\n\
        t.refs,lru,4,2,12,6,0.5,5,1,0\n";

    #[test]
    fn csv_fields_quotes_and_errors() {
        let t = Table::parse("a,\"b,c\",d\r\n1,\"x \"\"y\"\"\",3\n\n2,,4\n", "f.csv").unwrap();
        assert_eq!(t.header, ["a", "b,c", "d"]);
        assert_eq!(t.rows[0], (2, vec!["1".into(), "x \"y\"".into(), "3".into()]));
        assert_eq!(t.rows[1].0, 4);
        assert_eq!(
            Table::parse("a,b\n1\n", "f.csv").unwrap_err(),
            "f.csv:2: expected 2 fields, as the header has, found 1"
        );
        assert!(Table::parse("", "f.csv").unwrap_err().starts_with("f.csv:1: expected a header"));
        assert!(Table::parse("a,a\n", "f.csv").unwrap_err().contains("named twice"));
        assert!(Table::parse("a\n\"open\n", "f.csv").unwrap_err().starts_with("f.csv:2: a quoted field"));
    }

    #[test]
    fn lines_average_rows_that_share_a_series_and_an_x() {
        let t = Table::parse(SWEEP, "s.csv").unwrap();
        let (c, notes) = lines_from_table(&t, "frames", "faults", &["policy".into()]).unwrap();
        assert_eq!(c.series.len(), 2);
        assert_eq!(c.series[0], Series { name: "fifo".into(), points: vec![(3.0, 9.0), (4.0, 10.0)] });
        assert_eq!(c.series[1].points, [(3.0, 10.0), (4.0, 7.0)]);
        assert_eq!(notes.averaged, 1);
        let e = lines_from_table(&t, "frames", "nope", &[]).unwrap_err();
        assert!(e.contains("--y \"nope\": expected a column") && e.contains("fault_rate"), "{e}");
        let e = lines_from_table(&t, "policy", "faults", &[]).unwrap_err();
        assert_eq!(e, "s.csv:2: column 2 (policy): expected a number, found \"fifo\"");
    }

    #[test]
    fn breakdown_has_a_panel_per_series() {
        let t = Table::parse(SWEEP, "s.csv").unwrap();
        let parts: Vec<String> = ["demand_zero", "soft", "hard"].map(String::from).to_vec();
        let (c, _) = breakdown_from_table(&t, "frames", &["policy".into()], &parts).unwrap();
        assert_eq!(c.categories, ["3", "4"]);
        assert_eq!(c.panels[1].1[1], [5.0, 2.0, 0.0]);
        let svg = c.svg().unwrap();
        assert!(svg.starts_with("<svg") && svg.contains("demand zero") && svg.contains("faults (count)"));
    }

    #[test]
    fn a_line_chart_is_an_svg_with_its_labels() {
        let t = Table::parse(SWEEP, "s.csv").unwrap();
        let (mut c, _) = lines_from_table(&t, "frames", "fault_rate", &["policy".into()]).unwrap();
        let svg = c.svg().unwrap();
        assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
        for label in ["working-set size (frames of 4 KiB)", "fault rate (faults per reference)", "fifo", "lru"] {
            assert!(svg.contains(label), "{label}");
        }
        assert_eq!(svg, c.svg().unwrap(), "deterministic");
        c.log_x = true;
        assert!(c.svg().is_ok());
    }

    #[test]
    fn ticks_are_short() {
        assert_eq!(tick(0.0), "0");
        assert_eq!(tick(64.0), "64");
        assert_eq!(tick(20000.0), "20k");
        assert_eq!(tick(0.25), "0.25");
        assert_eq!(tick(0.333333), "0.333");
    }
}

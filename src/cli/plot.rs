//! `pagelab plot TABLE.csv -o OUT.svg`: a CSV table (`pagelab mrc`'s
//! curves, or a sweep's results) drawn as an SVG line chart or as stacked
//! bars of the fault breakdown.

use std::io::Read;
use std::path::PathBuf;

use clap::Args;

use super::{emit, EXIT_BAD_INPUT, EXIT_OK};
use crate::plot::{breakdown_from_table, label_for, lines_from_table, Table};

/// Arguments of `plot`.
#[derive(Debug, Args)]
pub struct PlotArgs {
    /// CSV file with a header line (`-` for standard input).
    pub table: String,
    /// What to draw: lines (y against x, a line per series) or breakdown
    /// (stacked bars of demand-zero, soft and hard faults per x, a panel
    /// per series).
    #[arg(long, default_value = "lines")]
    pub kind: String,
    /// The x column (default: frames).
    #[arg(long, value_name = "COLUMN")]
    pub x: Option<String>,
    /// Lines: the y column (default: miss_ratio, else fault_rate).
    #[arg(long, value_name = "COLUMN")]
    pub y: Option<String>,
    /// Columns whose values name a series, separated by commas (default:
    /// policy, if there is one; "none" for a single series). Rows of the
    /// same series and x are averaged.
    #[arg(long, value_name = "COLUMNS")]
    pub series: Option<String>,
    /// Breakdown: the columns stacked, bottom first.
    #[arg(long, value_name = "COLUMNS", default_value = "demand_zero,soft,hard")]
    pub stack: String,
    /// Lines: a logarithmic x axis.
    #[arg(long)]
    pub log_x: bool,
    /// The x axis's description (default: the column's, with its unit).
    #[arg(long, value_name = "TEXT")]
    pub x_label: Option<String>,
    /// The y axis's description.
    #[arg(long, value_name = "TEXT")]
    pub y_label: Option<String>,
    /// A title above the plot.
    #[arg(long, value_name = "TEXT")]
    pub title: Option<String>,
    /// Width in pixels (default 336: 3.5 inches at 96 an inch).
    #[arg(long, default_value_t = crate::plot::WIDTH)]
    pub width: u32,
    /// Height in pixels (of one panel of a breakdown).
    #[arg(long, default_value_t = crate::plot::HEIGHT)]
    pub height: u32,
    /// The SVG file, written whole or not at all (default: standard output).
    #[arg(long, short)]
    pub output: Option<PathBuf>,
}

fn bad(msg: String) -> i32 {
    eprintln!("pagelab: {msg}");
    EXIT_BAD_INPUT
}

/// Columns separated by commas.
fn columns(s: &str) -> Vec<String> {
    s.split(',').map(|c| c.trim().to_string()).filter(|c| !c.is_empty()).collect()
}

/// Runs `plot`.
pub fn plot(a: PlotArgs) -> i32 {
    let breakdown = match a.kind.as_str() {
        "lines" | "line" => false,
        "breakdown" => true,
        k => return bad(format!("--kind {k:?}: expected lines or breakdown")),
    };
    if !(64..=10_000).contains(&a.width) || !(64..=10_000).contains(&a.height) {
        return bad(format!("--width {} --height {}: expected 64 to 10000 pixels each", a.width, a.height));
    }
    if breakdown && (a.y.is_some() || a.log_x) {
        return bad("--kind breakdown stacks the --stack columns: --y and --log-x are for --kind lines".into());
    }
    let text = if a.table == "-" {
        let mut s = String::new();
        if let Err(e) = std::io::stdin().lock().read_to_string(&mut s) {
            return bad(format!("-: cannot read the table: {e}"));
        }
        s
    } else {
        match std::fs::read(&a.table) {
            Ok(b) => match String::from_utf8(b) {
                Ok(s) => s,
                Err(e) => {
                    let before = &e.as_bytes()[..e.utf8_error().valid_up_to()];
                    let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
                    return bad(format!("{}:{line}: expected CSV text, found bytes that are not UTF-8", a.table));
                }
            },
            Err(e) => return bad(format!("{}: cannot read the table: {e}", a.table)),
        }
    };
    let table = match Table::parse(&text, &a.table) {
        Ok(t) => t,
        Err(e) => return bad(e),
    };
    let has = |c: &str| table.header.iter().any(|h| h == c);
    let x = a.x.clone().unwrap_or_else(|| "frames".into());
    let series = match a.series.as_deref() {
        Some("none") => Vec::new(),
        Some(s) => columns(s),
        None if has("policy") => vec!["policy".to_string()],
        None => Vec::new(),
    };
    let result = if breakdown {
        let parts = columns(&a.stack);
        if parts.is_empty() {
            return bad("--stack: expected columns separated by commas".into());
        }
        breakdown_from_table(&table, &x, &series, &parts).and_then(|(mut c, n)| {
            c.size = (a.width, a.height);
            c.title = a.title.clone();
            if let Some(l) = &a.x_label {
                c.x_label = l.clone();
            }
            if let Some(l) = &a.y_label {
                c.y_label = l.clone();
            }
            c.svg().map(|s| (s, n))
        })
    } else {
        let y = a.y.clone().unwrap_or_else(|| {
            if has("fault_rate") && !has("miss_ratio") { "fault_rate" } else { "miss_ratio" }.into()
        });
        lines_from_table(&table, &x, &y, &series).and_then(|(mut c, n)| {
            c.size = (a.width, a.height);
            c.title = a.title.clone();
            c.log_x = a.log_x;
            if y == "miss_ratio" && has("compulsory") {
                // pagelab mrc's table: misses count first touches.
                c.y_label = "miss ratio (first touches included)".into();
            }
            c.x_label = a.x_label.clone().unwrap_or_else(|| label_for(&x));
            if let Some(l) = &a.y_label {
                c.y_label = l.clone();
            }
            c.svg().map(|s| (s, n))
        })
    };
    let (svg, notes) = match result {
        Ok(r) => r,
        Err(e) => return bad(e),
    };
    if notes.averaged > 0 {
        eprintln!(
            "pagelab: {}: {} points are means of several rows with the same series and x; name more columns in \
             --series to tell them apart",
            a.table, notes.averaged
        );
    }
    match emit(a.output.as_deref(), &svg) {
        Ok(()) => EXIT_OK,
        Err(c) => c,
    }
}

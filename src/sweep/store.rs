//! A sweep's output directory:
//!
//! - `manifest.json`: the pagelab version, the experiment's name, file and
//!   SHA-256, its seed, the number of cells in the whole grid, the shard,
//!   the columns, and whether every cell of the shard is done;
//! - `cells.jsonl`: one line per finished cell, appended as each finishes
//!   (the journal a resumed sweep starts from; a line cut short by a kill
//!   is dropped when the sweep resumes);
//! - `results.csv` and `results.jsonl`: one row per cell in grid order,
//!   each written whole or not at all once every cell is done.

use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::output::write_whole;

/// The manifest file's name.
pub const MANIFEST: &str = "manifest.json";
/// The journal's name.
pub const JOURNAL: &str = "cells.jsonl";
/// The results, as CSV.
pub const RESULTS_CSV: &str = "results.csv";
/// The results, as JSON Lines.
pub const RESULTS_JSONL: &str = "results.jsonl";

/// A shard: the cells whose index is `index - 1` modulo `count`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shard {
    /// 1-based.
    pub index: usize,
    /// How many shards.
    pub count: usize,
}

impl Shard {
    /// The whole grid.
    pub const WHOLE: Shard = Shard { index: 1, count: 1 };

    /// Parses "I/N".
    pub fn parse(s: &str) -> Result<Shard, String> {
        let bad = || format!("--shard {s:?}: expected I/N with 1 <= I <= N, e.g. --shard 2/8");
        let (i, n) = s.split_once('/').ok_or_else(bad)?;
        let (index, count) = (i.trim().parse().map_err(|_| bad())?, n.trim().parse().map_err(|_| bad())?);
        if index == 0 || index > count {
            return Err(bad());
        }
        Ok(Shard { index, count })
    }

    /// Whether the cell of this index is in the shard (round robin, so
    /// every shard gets a share of every part of the grid).
    pub fn has(&self, cell: usize) -> bool {
        cell % self.count == self.index - 1
    }

    /// How many of `total` cells the shard has.
    pub fn len(&self, total: usize) -> usize {
        (0..total).filter(|c| self.has(*c)).count()
    }
}

impl std::fmt::Display for Shard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

/// What `manifest.json` holds.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// pagelab's version.
    pub pagelab: String,
    /// The experiment's name.
    pub experiment: String,
    /// Its file, as given.
    pub file: String,
    /// SHA-256 of its bytes.
    pub sha256: String,
    /// Its seed.
    pub seed: u64,
    /// Cells in the whole grid (every shard).
    pub cells: usize,
    /// The shard this directory holds (`None`: the whole grid, or a merge).
    pub shard: Option<Shard>,
    /// Cells this directory holds when complete.
    pub cells_here: usize,
    /// The columns of the results, in order.
    pub columns: Vec<String>,
    /// Whether every cell of the shard is done and the results are written.
    pub complete: bool,
    /// A merge: the directories it was made from.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub merged_from: Vec<String>,
}

/// A finished cell's row: its index and its values by column.
#[derive(Clone, Debug, PartialEq)]
pub struct Row {
    /// The cell's index in the grid.
    pub cell: usize,
    /// Column to value; absent columns are empty.
    pub values: BTreeMap<String, Value>,
}

impl Row {
    /// The row as one JSON object with its keys in column order.
    pub fn to_json(&self, columns: &[String]) -> String {
        let mut s = String::from("{");
        for (i, c) in columns.iter().enumerate() {
            if i > 0 {
                s.push(',');
            }
            s.push_str(&serde_json::to_string(c).expect("a string serialises"));
            s.push(':');
            let v =
                if c == "cell" { Value::from(self.cell) } else { self.values.get(c).cloned().unwrap_or(Value::Null) };
            s.push_str(&v.to_string());
        }
        s.push('}');
        s
    }

    /// Reads a row back from a JSON line.
    pub fn from_json(line: &str) -> Option<Row> {
        let Value::Object(map) = serde_json::from_str::<Value>(line).ok()? else { return None };
        let cell = map.get("cell")?.as_u64()? as usize;
        let values = map.into_iter().filter(|(k, _)| k != "cell").collect();
        Some(Row { cell, values })
    }
}

/// A CSV field: numbers and plain words as they are; text with a comma, a
/// quote or a line break quoted (RFC 4180); null empty.
fn csv_field(v: Option<&Value>) -> String {
    let text = match v {
        None | Some(Value::Null) => return String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(v) => v.to_string(),
    };
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text
    }
}

/// Writes `results.csv` and `results.jsonl` (rows in cell order), each
/// whole or not at all.
pub fn write_results(dir: &Path, columns: &[String], rows: &[Row]) -> io::Result<()> {
    write_whole(&dir.join(RESULTS_CSV), |w| {
        let header: Vec<String> = columns.iter().map(|c| csv_field(Some(&Value::from(c.as_str())))).collect();
        writeln!(w, "{}", header.join(","))?;
        for r in rows {
            let fields: Vec<String> = columns
                .iter()
                .map(|c| if c == "cell" { r.cell.to_string() } else { csv_field(r.values.get(c)) })
                .collect();
            writeln!(w, "{}", fields.join(","))?;
        }
        Ok(())
    })?;
    write_whole(&dir.join(RESULTS_JSONL), |w| {
        for r in rows {
            writeln!(w, "{}", r.to_json(columns))?;
        }
        Ok(())
    })
}

/// Writes the manifest, whole or not at all.
pub fn write_manifest(dir: &Path, m: &Manifest) -> io::Result<()> {
    let text = serde_json::to_string_pretty(m).expect("a manifest serialises") + "\n";
    crate::output::write_text(&dir.join(MANIFEST), &text)
}

/// Reads a directory's manifest; `None` when it has none.
pub fn read_manifest(dir: &Path) -> Result<Option<Manifest>, String> {
    let path = dir.join(MANIFEST);
    match fs::read_to_string(&path) {
        Ok(text) => serde_json::from_str(&text)
            .map(Some)
            .map_err(|e| format!("{}:{}:{}: not a pagelab sweep manifest: {e}", path.display(), e.line(), e.column())),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(format!("{}: {e}", path.display())),
    }
}

/// The journal: finished cells, appended one whole line at a time.
pub struct Journal {
    file: File,
}

impl Journal {
    /// Opens a directory's journal, reading the rows already in it. A last
    /// line without its newline (a sweep killed while writing it) and any
    /// line that does not parse are dropped, and the file is cut back to
    /// the last whole row, so no partial row survives.
    pub fn open(dir: &Path) -> io::Result<(Journal, Vec<Row>)> {
        let path = dir.join(JOURNAL);
        let mut rows = Vec::new();
        let mut good_end = 0u64;
        if let Ok(f) = File::open(&path) {
            let mut r = BufReader::new(f);
            let mut line = String::new();
            let mut at = 0u64;
            loop {
                line.clear();
                let n = r.read_line(&mut line)?;
                if n == 0 {
                    break;
                }
                at += n as u64;
                if !line.ends_with('\n') {
                    break;
                }
                match Row::from_json(line.trim_end()) {
                    Some(row) => {
                        rows.push(row);
                        good_end = at;
                    }
                    None => break,
                }
            }
        }
        let file = OpenOptions::new().create(true).append(true).read(true).open(&path)?;
        file.set_len(good_end)?;
        Ok((Journal { file }, rows))
    }

    /// Appends one finished row (one write of the whole line).
    pub fn append(&mut self, row: &Row, columns: &[String]) -> io::Result<()> {
        let mut line = row.to_json(columns);
        line.push('\n');
        self.file.write_all(line.as_bytes())?;
        self.file.flush()
    }
}

/// Combines shard directories into one: every cell of the grid exactly
/// once, from shards of the same experiment. Returns the merged manifest
/// and rows in cell order.
pub fn merge(dirs: &[PathBuf]) -> Result<(Manifest, Vec<Row>), String> {
    let mut first: Option<(PathBuf, Manifest)> = None;
    let mut rows: BTreeMap<usize, (PathBuf, Row)> = BTreeMap::new();
    for d in dirs {
        let m = read_manifest(d)?
            .ok_or_else(|| format!("{}: no {MANIFEST}: not a sweep's output directory", d.display()))?;
        if let Some((fd, f)) = &first {
            if (m.sha256.as_str(), m.cells, &m.columns) != (f.sha256.as_str(), f.cells, &f.columns) {
                return Err(format!(
                    "{} is from another experiment than {} (SHA-256 {} and {} cells, against {} and {})",
                    d.display(),
                    fd.display(),
                    &m.sha256[..m.sha256.len().min(12)],
                    m.cells,
                    &f.sha256[..f.sha256.len().min(12)],
                    f.cells
                ));
            }
        }
        let path = d.join(if m.complete { RESULTS_JSONL } else { JOURNAL });
        let text = fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        for (i, line) in text.lines().enumerate() {
            let row = Row::from_json(line).ok_or_else(|| {
                format!("{}:{}: expected a row of JSON with a \"cell\" number", path.display(), i + 1)
            })?;
            if row.cell >= m.cells {
                return Err(format!(
                    "{}:{}: cell {} is outside the grid of {} cells",
                    path.display(),
                    i + 1,
                    row.cell,
                    m.cells
                ));
            }
            if let Some((other, _)) = rows.get(&row.cell) {
                return Err(format!(
                    "cell {} is in both {} and {}: each cell must come from one shard",
                    row.cell,
                    other.display(),
                    d.display()
                ));
            }
            rows.insert(row.cell, (d.clone(), row));
        }
        if first.is_none() {
            first = Some((d.clone(), m));
        }
    }
    let (_, f) = first.ok_or("nothing to merge: expected one or more directories")?;
    let missing: Vec<usize> = (0..f.cells).filter(|c| !rows.contains_key(c)).collect();
    if !missing.is_empty() {
        let shown: Vec<String> = missing.iter().take(10).map(|c| c.to_string()).collect();
        return Err(format!(
            "{} of {} cells are missing (cells {}{}): run the shards that hold them, or resume the ones that stopped",
            missing.len(),
            f.cells,
            shown.join(", "),
            if missing.len() > 10 { ", ..." } else { "" }
        ));
    }
    let manifest = Manifest {
        shard: None,
        cells_here: f.cells,
        complete: true,
        merged_from: dirs.iter().map(|d| d.display().to_string()).collect(),
        ..f
    };
    Ok((manifest, rows.into_values().map(|(_, r)| r).collect()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(cell: usize, faults: u64) -> Row {
        Row { cell, values: [("faults".to_string(), Value::from(faults))].into_iter().collect() }
    }

    #[test]
    fn shards_split_the_grid_round_robin_and_cover_it_once() {
        let shards: Vec<Shard> = (1..=3).map(|i| Shard { index: i, count: 3 }).collect();
        for c in 0..10 {
            assert_eq!(shards.iter().filter(|s| s.has(c)).count(), 1);
        }
        assert_eq!(shards.iter().map(|s| s.len(10)).collect::<Vec<_>>(), [4, 3, 3]);
        assert_eq!(Shard::parse("2/3"), Ok(shards[1]));
        for bad in ["0/3", "4/3", "2", "a/b", "1/0"] {
            assert!(Shard::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_journal_line_cut_short_is_dropped_and_the_file_cut_back() {
        let dir = std::env::temp_dir().join(format!("pagelab-journal-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        let cols = vec!["cell".to_string(), "faults".to_string()];
        {
            let (mut j, rows) = Journal::open(&dir).unwrap();
            assert!(rows.is_empty());
            j.append(&row(0, 5), &cols).unwrap();
            j.append(&row(3, 7), &cols).unwrap();
        }
        // A kill in the middle of the third line.
        let path = dir.join(JOURNAL);
        let mut text = fs::read_to_string(&path).unwrap();
        let whole = text.len();
        text.push_str("{\"cell\":4,\"fau");
        fs::write(&path, &text).unwrap();
        let (mut j, rows) = Journal::open(&dir).unwrap();
        assert_eq!(rows, [row(0, 5), row(3, 7)]);
        assert_eq!(fs::metadata(&path).unwrap().len(), whole as u64);
        j.append(&row(4, 1), &cols).unwrap();
        let (_, rows) = Journal::open(&dir).unwrap();
        assert_eq!(rows.len(), 3);
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn csv_fields_are_quoted_only_when_they_must_be() {
        assert_eq!(csv_field(Some(&Value::from("fifo"))), "fifo");
        assert_eq!(csv_field(Some(&Value::from("a,b"))), "\"a,b\"");
        assert_eq!(csv_field(Some(&Value::from("say \"hi\""))), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_field(Some(&Value::from(0.25))), "0.25");
        assert_eq!(csv_field(Some(&Value::Null)), "");
        assert_eq!(csv_field(None), "");
    }
}

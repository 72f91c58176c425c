//! A generated trace inside an experiment: the `generate` table of a
//! `[[trace]]`, turned into a stream of page numbers without a file.

use crate::tracegen::{ZipfSpec, ZipfTrace};

/// The generators a `generate` table may name.
pub const GENERATORS: [&str; 1] = ["zipf"];

fn int(t: &toml::Table, key: &str, default: Option<u64>) -> Result<u64, String> {
    match t.get(key) {
        Some(toml::Value::Integer(i)) if *i >= 0 => Ok(*i as u64),
        Some(v) => Err(format!("{key}: expected a whole number from 0, found {v}")),
        None => default.ok_or_else(|| format!("{key}: required")),
    }
}

fn float(t: &toml::Table, key: &str, default: f64) -> Result<f64, String> {
    match t.get(key) {
        Some(toml::Value::Float(f)) => Ok(*f),
        Some(toml::Value::Integer(i)) => Ok(*i as f64),
        Some(v) => Err(format!("{key}: expected a number, found {v}")),
        None => Ok(default),
    }
}

/// The Zipf settings of a table; `seed` is used unless the table sets one.
fn zipf(t: &toml::Table, seed: u64) -> Result<ZipfSpec, String> {
    for k in t.keys() {
        if !["generator", "pages", "refs", "alpha", "seed"].contains(&k.as_str()) {
            return Err(format!("unknown key {k:?} for generator \"zipf\": expected pages, refs, alpha or seed"));
        }
    }
    let spec = ZipfSpec {
        pages: int(t, "pages", None)?,
        refs: int(t, "refs", None)?,
        alpha: float(t, "alpha", 0.99)?,
        seed: int(t, "seed", Some(seed))?,
    };
    spec.validate()?;
    Ok(spec)
}

fn generator(t: &toml::Table) -> Result<&str, String> {
    match t.get("generator") {
        Some(toml::Value::String(g)) if GENERATORS.contains(&g.as_str()) => Ok(g),
        Some(v) => Err(format!("generator {v}: expected one of {}", GENERATORS.join(", "))),
        None => Err(format!("generator: required, one of {}", GENERATORS.join(", "))),
    }
}

/// Checks a `generate` table.
pub fn check(t: &toml::Table) -> Result<(), String> {
    generator(t)?;
    zipf(t, 0).map(|_| ())
}

/// Whether the table fixes its own seed (else each repetition draws one).
pub fn has_seed(t: &toml::Table) -> bool {
    t.contains_key("seed")
}

/// The distinct pages the trace may name (for host-memory estimates).
pub fn footprint(t: &toml::Table) -> u64 {
    int(t, "pages", Some(0)).unwrap_or(0)
}

/// The references.
pub fn pages(t: &toml::Table, seed: u64) -> Result<Box<dyn Iterator<Item = u64> + Send>, String> {
    generator(t)?;
    Ok(Box::new(ZipfTrace::new(zipf(t, seed)?)?))
}

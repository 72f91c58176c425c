//! Synthetic traces: seeded reference streams.
//!
//! [`GenSpec`] names a generator, a length and a seed; it reads from a TOML
//! table (`{ generator = "zipf", pages = 100000, refs = 1000000, alpha =
//! 0.99 }`) and streams its pages with [`GenSpec::pages`], so a sweep can
//! use one without writing a file. The generators:
//!
//! - `zipf`: pages `base..base+pages` with Zipf popularity (below);
//! - `uniform`: every page of the range equally likely, independently;
//! - `scan`: the range in order, each page once (`pages` defaults to `refs`);
//! - `loop`: the range in order, round and round;
//! - `phases`: a sequence of specs, each with its own range, generator and
//!   `refs`, one after the other (working-set shifts);
//! - `mix`: `parts` drawn at random in proportion to their `weight`, each
//!   part a zipf, uniform, scan or loop generator of its own.
//!
//! Every generator is deterministic: the same spec and seed give the same
//! pages on every run. A phase or a part is seeded from its spec's seed,
//! its position and its own `seed` (default 1), so that each has a stream
//! of its own and all change with the top seed.
//!
//! Zipf: pages `0..pages` are ranked by popularity; the page of rank `k` (1-based)
//! is referenced with probability proportional to `1 / k^alpha` (alpha 0 is
//! uniform; 0.99 and 1.0 are the usual choices for web and storage caches).
//! Ranks are mapped to page numbers through a seeded random permutation, so
//! the hot pages are scattered over the address range rather than packed at
//! its start (which would flatter page-table locality). The same
//! `(pages, refs, alpha, seed)` gives the same stream on every run: the
//! generator is ChaCha8 and the arithmetic is plain `f64` (only `powf` comes
//! from the platform's maths library, so two platforms could in principle
//! disagree on a draw that lands within one rounding step of a boundary).
//!
//! Sampling uses the exact cumulative distribution with a guide table
//! (indexed search): a power of two of equal slices of [0, 1) each record
//! the first rank whose cumulative weight passes them, so a draw searches only
//! the few ranks inside its slice. It is chosen over a rejection sampler
//! (such as `rand_distr::Zipf`) because it is exact for every alpha
//! including 0 and below 1, needs no new dependency, and costs O(1)
//! expected time per reference after an O(pages) table build; the tables
//! take 16 to 20 bytes per page (cumulative weight, page number, guide).

use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// The most distinct pages a generated trace may have: 2^28 (1 TiB of
/// address space), a 4 GiB table on the host.
pub const MAX_PAGES: u64 = 1 << 28;

/// Settings of a Zipf trace.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ZipfSpec {
    /// Distinct pages: the trace names pages `0..pages`.
    pub pages: u64,
    /// References to generate.
    pub refs: u64,
    /// Skew: rank k has weight 1 / k^alpha.
    pub alpha: f64,
    /// Seed of the generator (permutation and draws).
    pub seed: u64,
}

impl ZipfSpec {
    /// Checks the settings; the error names the setting and what was expected.
    pub fn validate(&self) -> Result<(), String> {
        if self.pages == 0 || self.pages > MAX_PAGES {
            return Err(format!("pages {}: expected 1 to {MAX_PAGES}", self.pages));
        }
        if !self.alpha.is_finite() || self.alpha < 0.0 || self.alpha > 100.0 {
            return Err(format!("alpha {}: expected a number from 0 to 100", self.alpha));
        }
        Ok(())
    }
}

/// A stream of page numbers with Zipf popularity; an iterator of exactly
/// `refs` pages.
#[derive(Clone, Debug)]
pub struct ZipfTrace {
    /// Cumulative weight of ranks 1..=i+1, scaled so the last is 1.0.
    cdf: Vec<f64>,
    /// `guide[j]`: the first rank index whose cumulative weight exceeds
    /// j / buckets.
    guide: Vec<u32>,
    /// Page number of each rank index.
    page_of_rank: Vec<u32>,
    rng: ChaCha8Rng,
    remaining: u64,
}

impl ZipfTrace {
    /// Builds the generator (O(pages) time and memory).
    pub fn new(spec: ZipfSpec) -> Result<ZipfTrace, String> {
        spec.validate()?;
        let n = spec.pages as usize;
        let mut rng = ChaCha8Rng::seed_from_u64(spec.seed);
        let mut page_of_rank: Vec<u32> = (0..n as u32).collect();
        page_of_rank.shuffle(&mut rng);
        let mut cdf = Vec::with_capacity(n);
        let mut sum = 0.0f64;
        for k in 1..=n {
            sum += (k as f64).powf(-spec.alpha);
            cdf.push(sum);
        }
        let total = sum;
        for c in &mut cdf {
            *c /= total;
        }
        cdf[n - 1] = 1.0;
        // A power of two, so `u * buckets` and `j / buckets` are exact.
        let buckets = n.next_power_of_two().min(1 << 22);
        let mut guide = Vec::with_capacity(buckets + 1);
        let mut i = 0usize;
        for j in 0..=buckets {
            let edge = j as f64 / buckets as f64;
            while i < n - 1 && cdf[i] <= edge {
                i += 1;
            }
            guide.push(i as u32);
        }
        Ok(ZipfTrace { cdf, guide, page_of_rank, rng, remaining: spec.refs })
    }

    /// The rank index (0 = most popular) a uniform `u` in [0, 1) falls on:
    /// the first index whose cumulative weight exceeds `u`.
    #[inline]
    fn rank_of(&self, u: f64) -> usize {
        let buckets = self.guide.len() - 1;
        let j = ((u * buckets as f64) as usize).min(buckets - 1);
        let (lo, hi) = (self.guide[j] as usize, self.guide[j + 1] as usize);
        lo + self.cdf[lo..=hi].partition_point(|&c| c <= u)
    }

    /// The page of rank `rank` (1 = most popular).
    pub fn page_of_rank(&self, rank: u64) -> u64 {
        self.page_of_rank[(rank - 1) as usize] as u64
    }
}

impl Iterator for ZipfTrace {
    type Item = u64;

    #[inline]
    fn next(&mut self) -> Option<u64> {
        if self.remaining == 0 {
            return None;
        }
        self.remaining -= 1;
        let u: f64 = self.rng.gen();
        Some(self.page_of_rank[self.rank_of(u)] as u64)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = usize::try_from(self.remaining).unwrap_or(usize::MAX);
        (n, usize::try_from(self.remaining).ok())
    }
}

/// A whole Zipf trace in memory.
pub fn zipf_pages(spec: ZipfSpec) -> Result<Vec<u64>, String> {
    Ok(ZipfTrace::new(spec)?.collect())
}

/// The highest page number a generated page may have, plus one: x64's
/// 48-bit address space.
pub const PAGE_LIMIT: u64 = 1 << 36;

/// The generator names a spec's `generator` takes.
pub const GENERATORS: [&str; 6] = ["zipf", "uniform", "scan", "loop", "phases", "mix"];

/// A reference generator: what [`GenSpec`] streams.
#[derive(Clone, Debug, PartialEq)]
pub enum Generator {
    /// Pages `base..base+pages`, the page of popularity rank k referenced
    /// with probability proportional to 1/k^alpha.
    Zipf {
        /// Distinct pages.
        pages: u64,
        /// The first page.
        base: u64,
        /// Skew (0 is uniform).
        alpha: f64,
    },
    /// Pages `base..base+pages`, each equally likely at every reference.
    Uniform {
        /// Distinct pages.
        pages: u64,
        /// The first page.
        base: u64,
    },
    /// Pages `base, base+1, ...`, each once: `pages` of them (`None`: as
    /// many as the references asked of it).
    Scan {
        /// The length of the scan.
        pages: Option<u64>,
        /// The first page.
        base: u64,
    },
    /// Pages `base..base+pages` in order, round and round.
    Loop {
        /// The length of the loop.
        pages: u64,
        /// The first page.
        base: u64,
    },
    /// One spec after the other, each for its own `refs`.
    Phases(Vec<GenSpec>),
    /// Parts drawn at random in proportion to their weights.
    Mix(Vec<MixPart>),
}

/// A part of a [`Generator::Mix`].
#[derive(Clone, Debug, PartialEq)]
pub struct MixPart {
    /// Relative weight: the part's share of the references is its weight
    /// over the sum of the weights.
    pub weight: f64,
    /// Its generator: zipf, uniform, scan or loop.
    pub generator: Generator,
    /// Its own seed (default 1), mixed with the mix's seed and its
    /// position: the part's stream changes with either.
    pub seed: u64,
}

/// A generated trace: a generator, how many references, and a seed. Reads
/// from TOML (see [`RawSpec`] for the keys) and streams its pages with
/// [`GenSpec::pages`].
#[derive(Clone, Debug, PartialEq, serde::Deserialize)]
#[serde(try_from = "RawSpec")]
pub struct GenSpec {
    /// What generates the pages.
    pub generator: Generator,
    /// References to generate (for phases, the sum of theirs).
    pub refs: u64,
    /// Seed of the generator (default 1, as `gen-trace`'s).
    pub seed: u64,
}

/// The TOML form of a [`GenSpec`]: every key any generator takes, with
/// unknown keys refused. `generator` (one of [`GENERATORS`]) and `refs` are
/// required (for phases, `refs` is optional: the sum of the phases');
/// `seed` defaults to 1. zipf takes `pages`, `base` (default 0) and
/// `alpha` (default 0.99); uniform and loop `pages` and `base`; scan
/// `base` and `pages` (default: `refs`); phases `phases`, a list of specs;
/// mix `parts`, a list of tables each with a `weight`, a `generator` and
/// its keys (and a `seed`), without `refs`.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSpec {
    generator: String,
    refs: Option<u64>,
    seed: Option<u64>,
    pages: Option<u64>,
    base: Option<u64>,
    alpha: Option<f64>,
    phases: Option<Vec<RawSpec>>,
    parts: Option<Vec<RawPart>>,
}

/// The keys of a generator itself.
#[derive(Debug, Default)]
struct RawKeys {
    pages: Option<u64>,
    base: Option<u64>,
    alpha: Option<f64>,
    phases: Option<Vec<RawSpec>>,
    parts: Option<Vec<RawPart>>,
}

/// The TOML form of a [`MixPart`].
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPart {
    weight: f64,
    generator: String,
    seed: Option<u64>,
    pages: Option<u64>,
    base: Option<u64>,
    alpha: Option<f64>,
}

/// The seed of the `index`-th nested spec of a spec seeded `seed`
/// (SplitMix64 of the two: unrelated streams for neighbouring seeds).
fn derive_seed(seed: u64, index: usize) -> u64 {
    let mut z = seed ^ (index as u64 + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

impl Generator {
    /// The generator `name` with `keys`; `at` prefixes the keys named in
    /// errors (`phases[1].`).
    fn from_keys(name: &str, keys: RawKeys, at: &str) -> Result<Generator, String> {
        let applies = |present: bool, key: &str, takes: &str| -> Result<(), String> {
            if present {
                return Err(format!("{at}{key}: does not apply to generator {name:?}, which takes {takes}"));
            }
            Ok(())
        };
        let need = |v: Option<u64>, key: &str| v.ok_or_else(|| format!("{at}{key}: missing (generator {name:?})"));
        let (range, alpha, phases, parts) = (
            keys.pages.is_some() || keys.base.is_some(),
            keys.alpha.is_some(),
            keys.phases.is_some(),
            keys.parts.is_some(),
        );
        let simple = |takes: &str| -> Result<(), String> {
            applies(phases, "phases", takes)?;
            applies(parts, "parts", takes)
        };
        match name {
            "zipf" => {
                simple("pages, base and alpha")?;
                Ok(Generator::Zipf {
                    pages: need(keys.pages, "pages")?,
                    base: keys.base.unwrap_or(0),
                    alpha: keys.alpha.unwrap_or(0.99),
                })
            }
            "uniform" | "loop" => {
                simple("pages and base")?;
                applies(alpha, "alpha", "pages and base")?;
                let (pages, base) = (need(keys.pages, "pages")?, keys.base.unwrap_or(0));
                Ok(if name == "uniform" { Generator::Uniform { pages, base } } else { Generator::Loop { pages, base } })
            }
            "scan" => {
                simple("pages and base")?;
                applies(alpha, "alpha", "pages and base")?;
                Ok(Generator::Scan { pages: keys.pages, base: keys.base.unwrap_or(0) })
            }
            "phases" => {
                applies(range, if keys.pages.is_some() { "pages" } else { "base" }, "phases (each with its own keys)")?;
                applies(alpha, "alpha", "phases (each with its own keys)")?;
                applies(parts, "parts", "phases")?;
                let list = keys.phases.ok_or_else(|| format!("{at}phases: missing (generator \"phases\")"))?;
                let mut out = Vec::with_capacity(list.len());
                for (i, raw) in list.into_iter().enumerate() {
                    let at = format!("{at}phases[{i}].");
                    if raw.refs.is_none() && raw.generator != "phases" {
                        return Err(format!("{at}refs: missing (each phase has its own)"));
                    }
                    out.push(GenSpec::from_raw(raw, &at)?);
                }
                Ok(Generator::Phases(out))
            }
            "mix" => {
                applies(range, if keys.pages.is_some() { "pages" } else { "base" }, "parts (each with its own keys)")?;
                applies(alpha, "alpha", "parts (each with its own keys)")?;
                applies(phases, "phases", "parts")?;
                let list = keys.parts.ok_or_else(|| format!("{at}parts: missing (generator \"mix\")"))?;
                let mut out = Vec::with_capacity(list.len());
                for (i, p) in list.into_iter().enumerate() {
                    let at = format!("{at}parts[{i}].");
                    if !matches!(p.generator.as_str(), "zipf" | "uniform" | "scan" | "loop") {
                        return Err(format!(
                            "{at}generator: {:?}: a part of a mix is zipf, uniform, scan or loop",
                            p.generator
                        ));
                    }
                    let keys = RawKeys { pages: p.pages, base: p.base, alpha: p.alpha, phases: None, parts: None };
                    out.push(MixPart {
                        weight: p.weight,
                        generator: Generator::from_keys(&p.generator, keys, &at)?,
                        seed: p.seed.unwrap_or(1),
                    });
                }
                Ok(Generator::Mix(out))
            }
            other => Err(format!("{at}generator: {other:?}: expected one of {}", GENERATORS.join(", "))),
        }
    }

    /// The generator's name, as `generator` reads it.
    pub fn name(&self) -> &'static str {
        match self {
            Generator::Zipf { .. } => "zipf",
            Generator::Uniform { .. } => "uniform",
            Generator::Scan { .. } => "scan",
            Generator::Loop { .. } => "loop",
            Generator::Phases(_) => "phases",
            Generator::Mix(_) => "mix",
        }
    }

    /// Checks the values, for `refs` references; `at` prefixes the keys.
    fn validate(&self, refs: u64, at: &str) -> Result<(), String> {
        let range = |pages: u64, base: u64| -> Result<(), String> {
            if pages == 0 || pages > MAX_PAGES {
                return Err(format!("{at}pages = {pages}: expected 1 to {MAX_PAGES}"));
            }
            if base.checked_add(pages).is_none_or(|end| end > PAGE_LIMIT) {
                return Err(format!(
                    "{at}base = {base}: the range base..base+pages must end within the 48-bit address space \
                     (page {PAGE_LIMIT})"
                ));
            }
            Ok(())
        };
        match self {
            Generator::Zipf { pages, base, alpha } => {
                range(*pages, *base)?;
                if !alpha.is_finite() || *alpha < 0.0 || *alpha > 100.0 {
                    return Err(format!("{at}alpha = {alpha}: expected a number from 0 to 100"));
                }
                Ok(())
            }
            Generator::Uniform { pages, base } | Generator::Loop { pages, base } => range(*pages, *base),
            Generator::Scan { pages, base } => {
                let len = pages.unwrap_or(refs).max(1);
                if let Some(p) = pages {
                    if *p < refs {
                        return Err(format!(
                            "{at}pages = {p}: a scan touches each page once, and {refs} references were asked of \
                             it (a loop repeats its pages)"
                        ));
                    }
                }
                if base.checked_add(len).is_none_or(|end| end > PAGE_LIMIT) {
                    return Err(format!(
                        "{at}base = {base}: a scan of {len} pages must end within the 48-bit address space"
                    ));
                }
                Ok(())
            }
            Generator::Phases(list) => {
                if list.is_empty() {
                    return Err(format!("{at}phases: expected at least one phase"));
                }
                for (i, p) in list.iter().enumerate() {
                    p.validate_at(&format!("{at}phases[{i}]."))?;
                }
                Ok(())
            }
            Generator::Mix(parts) => {
                if parts.is_empty() {
                    return Err(format!("{at}parts: expected at least one part"));
                }
                for (i, p) in parts.iter().enumerate() {
                    let at = format!("{at}parts[{i}].");
                    if !p.weight.is_finite() || p.weight <= 0.0 {
                        return Err(format!("{at}weight = {}: expected a positive number", p.weight));
                    }
                    p.generator.validate(refs, &at)?;
                }
                Ok(())
            }
        }
    }

    /// A bound on the distinct pages of `refs` references.
    fn footprint(&self, refs: u64) -> u64 {
        match self {
            Generator::Zipf { pages, .. } | Generator::Uniform { pages, .. } | Generator::Loop { pages, .. } => {
                (*pages).min(refs)
            }
            Generator::Scan { pages, .. } => pages.unwrap_or(refs).min(refs),
            Generator::Phases(list) => list.iter().map(GenSpec::footprint).fold(0u64, u64::saturating_add).min(refs),
            Generator::Mix(parts) => {
                parts.iter().map(|p| p.generator.footprint(refs)).fold(0u64, u64::saturating_add).min(refs)
            }
        }
    }

    /// Pages of Zipf popularity tables held at once.
    fn table_pages(&self) -> u64 {
        match self {
            Generator::Zipf { pages, .. } => *pages,
            Generator::Uniform { .. } | Generator::Scan { .. } | Generator::Loop { .. } => 0,
            Generator::Phases(list) => list.iter().map(|p| p.generator.table_pages()).max().unwrap_or(0),
            Generator::Mix(parts) => parts.iter().map(|p| p.generator.table_pages()).fold(0, u64::saturating_add),
        }
    }

    /// The stream of this generator, without an end of its own (scans end
    /// at their last page: validation keeps them long enough).
    fn stream(&self, seed: u64) -> Result<Stream, String> {
        Ok(match self {
            Generator::Zipf { pages, base, alpha } => Stream::Zipf {
                trace: Box::new(ZipfTrace::new(ZipfSpec { pages: *pages, refs: u64::MAX, alpha: *alpha, seed })?),
                base: *base,
            },
            Generator::Uniform { pages, base } => {
                Stream::Uniform { rng: ChaCha8Rng::seed_from_u64(seed), pages: *pages, base: *base }
            }
            Generator::Scan { base, .. } => Stream::Scan { next: *base },
            Generator::Loop { pages, base } => Stream::Loop { base: *base, pages: *pages, at: 0 },
            Generator::Phases(list) => Stream::Phases { phases: list.clone(), seed, index: 0, left: 0, current: None },
            Generator::Mix(parts) => {
                let total: f64 = parts.iter().map(|p| p.weight).sum();
                let mut acc = 0.0;
                let mut cdf = Vec::with_capacity(parts.len());
                let mut streams = Vec::with_capacity(parts.len());
                for (i, p) in parts.iter().enumerate() {
                    acc += p.weight / total;
                    cdf.push(acc);
                    streams.push(p.generator.stream(derive_seed(seed ^ p.seed, i))?);
                }
                *cdf.last_mut().expect("a mix has parts") = 1.0;
                Stream::Mix { rng: ChaCha8Rng::seed_from_u64(seed), cdf, parts: streams }
            }
        })
    }
}

impl TryFrom<RawSpec> for GenSpec {
    type Error = String;

    fn try_from(raw: RawSpec) -> Result<GenSpec, String> {
        GenSpec::from_raw(raw, "")
    }
}

impl GenSpec {
    /// A spec from its TOML form; `at` prefixes the keys named in errors.
    fn from_raw(raw: RawSpec, at: &str) -> Result<GenSpec, String> {
        let keys = RawKeys { pages: raw.pages, base: raw.base, alpha: raw.alpha, phases: raw.phases, parts: raw.parts };
        let generator = Generator::from_keys(&raw.generator, keys, at)?;
        let refs = match (&generator, raw.refs) {
            (Generator::Phases(list), given) => {
                let sum = list.iter().try_fold(0u64, |a, p| a.checked_add(p.refs));
                match (sum, given) {
                    (None, _) => return Err(format!("{at}phases: their refs add up to more than 2^64")),
                    (Some(s), Some(r)) if r != s => {
                        return Err(format!(
                            "{at}refs = {r}: the phases' refs add up to {s} (leave refs out to take their sum)"
                        ))
                    }
                    (Some(s), _) => s,
                }
            }
            (_, Some(r)) => r,
            (_, None) => return Err(format!("{at}refs: missing (how many references to generate)")),
        };
        Ok(GenSpec { generator, refs, seed: raw.seed.unwrap_or(1) })
    }

    /// Reads a spec from TOML: an inline table (`{ generator = "loop",
    /// pages = 500, refs = 10000 }`) or the keys of a table, one a line.
    /// The error names the key.
    pub fn from_toml(text: &str) -> Result<GenSpec, String> {
        let t = text.trim();
        let parsed: Result<GenSpec, toml::de::Error> = if t.starts_with('{') {
            #[derive(serde::Deserialize)]
            struct Wrap {
                spec: GenSpec,
            }
            toml::from_str::<Wrap>(&format!("spec = {t}")).map(|w| w.spec)
        } else {
            toml::from_str(t)
        };
        let wrapped = if t.starts_with('{') { "spec = ".len() } else { 0 };
        let parsed = parsed.map_err(|e| {
            let at = e.span().and_then(|span| t.get(..span.start.checked_sub(wrapped)?)).map(|before| {
                let line = before.matches('\n').count() + 1;
                let col = before.len() - before.rfind('\n').map_or(0, |k| k + 1) + 1;
                if line == 1 {
                    format!(" (at column {col} of the spec)")
                } else {
                    format!(" (at line {line}, column {col} of the spec)")
                }
            });
            // serde's type errors do not name the key: the text before the
            // value does (`refs = "many"`).
            let key = e
                .span()
                .and_then(|span| t.get(..span.start.checked_sub(wrapped)?))
                .and_then(|before| before.trim_end().strip_suffix('='))
                .map(|before| {
                    let before = before.trim_end();
                    let start = before
                        .rfind(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '-'))
                        .map_or(0, |k| k + 1);
                    before[start..].to_string()
                })
                .filter(|k| !k.is_empty() && e.message().starts_with("invalid"))
                .map_or(String::new(), |k| format!("{k}: "));
            format!("{key}{}{}", e.message().trim_end(), at.unwrap_or_default())
        })?;
        parsed.validate()?;
        Ok(parsed)
    }

    /// Checks every value; the error names the key (`phases[1].pages = 0:
    /// expected 1 to 268435456`).
    pub fn validate(&self) -> Result<(), String> {
        self.validate_at("")
    }

    fn validate_at(&self, at: &str) -> Result<(), String> {
        self.generator.validate(self.refs, at)
    }

    /// A bound on the distinct pages the trace touches (for host-memory
    /// checks: a replay's page tables and frames grow with it).
    pub fn footprint(&self) -> u64 {
        self.generator.footprint(self.refs)
    }

    /// Pages of Zipf popularity tables the stream holds at once (16 to 20
    /// bytes each on the host).
    pub fn table_pages(&self) -> u64 {
        self.generator.table_pages()
    }

    /// The pages, one per reference, `refs` of them; the spec is validated
    /// first. Builds Zipf tables (O(pages)) up front, a phase's when the
    /// phase starts.
    pub fn pages(&self) -> Result<Pages, String> {
        self.validate()?;
        Ok(Pages { stream: self.generator.stream(self.seed)?, remaining: self.refs })
    }
}

/// An endless stream of one generator.
#[derive(Clone, Debug)]
enum Stream {
    Zipf { trace: Box<ZipfTrace>, base: u64 },
    Uniform { rng: ChaCha8Rng, pages: u64, base: u64 },
    Scan { next: u64 },
    Loop { base: u64, pages: u64, at: u64 },
    Phases { phases: Vec<GenSpec>, seed: u64, index: usize, left: u64, current: Option<Box<Stream>> },
    Mix { rng: ChaCha8Rng, cdf: Vec<f64>, parts: Vec<Stream> },
}

impl Stream {
    #[inline]
    fn next_page(&mut self) -> u64 {
        match self {
            Stream::Zipf { trace, base } => *base + trace.next().expect("an endless Zipf stream"),
            Stream::Uniform { rng, pages, base } => *base + rng.gen_range(0..*pages),
            Stream::Scan { next } => {
                let p = *next;
                *next += 1;
                p
            }
            Stream::Loop { base, pages, at } => {
                let p = *base + *at;
                *at = if *at + 1 == *pages { 0 } else { *at + 1 };
                p
            }
            Stream::Phases { phases, seed, index, left, current } => loop {
                if let (1.., Some(c)) = (*left, current.as_mut()) {
                    *left -= 1;
                    return c.next_page();
                }
                let Some(spec) = phases.get(*index) else {
                    // Past the last phase: never asked for (a spec yields
                    // the sum of its phases' refs); the last phase goes on.
                    return current.as_mut().map_or(0, |c| c.next_page());
                };
                let s = derive_seed(*seed ^ spec.seed, *index);
                *current = Some(Box::new(spec.generator.stream(s).expect("a validated phase")));
                *left = spec.refs;
                *index += 1;
            },
            Stream::Mix { rng, cdf, parts } => {
                let u: f64 = rng.gen();
                let i = cdf.partition_point(|&c| c <= u).min(parts.len() - 1);
                parts[i].next_page()
            }
        }
    }
}

/// The pages of a [`GenSpec`]: an iterator of exactly `refs` pages.
#[derive(Clone, Debug)]
pub struct Pages {
    stream: Stream,
    remaining: u64,
}

impl Iterator for Pages {
    type Item = u64;

    #[inline]
    fn next(&mut self) -> Option<u64> {
        if self.remaining == 0 {
            return None;
        }
        self.remaining -= 1;
        Some(self.stream.next_page())
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = usize::try_from(self.remaining).unwrap_or(usize::MAX);
        (n, usize::try_from(self.remaining).ok())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(pages: u64, refs: u64, alpha: f64, seed: u64) -> ZipfSpec {
        ZipfSpec { pages, refs, alpha, seed }
    }

    #[test]
    fn same_seed_same_trace_other_seed_other_trace() {
        let a = zipf_pages(spec(1000, 5000, 0.99, 7)).unwrap();
        let b = zipf_pages(spec(1000, 5000, 0.99, 7)).unwrap();
        let c = zipf_pages(spec(1000, 5000, 0.99, 8)).unwrap();
        assert_eq!(a.len(), 5000);
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert!(a.iter().all(|&p| p < 1000));
    }

    #[test]
    fn frequencies_follow_the_zipf_law() {
        let t = ZipfTrace::new(spec(100, 0, 1.0, 1)).unwrap();
        let pages = zipf_pages(spec(100, 400_000, 1.0, 1)).unwrap();
        let mut count = vec![0u64; 100];
        for &p in &pages {
            count[p as usize] += 1;
        }
        let h: f64 = (1..=100).map(|k| 1.0 / k as f64).sum();
        for rank in [1u64, 2, 3, 10, 50] {
            let expect = 400_000.0 / (rank as f64 * h);
            let got = count[t.page_of_rank(rank) as usize] as f64;
            assert!((got - expect).abs() < 5.0 * expect.sqrt() + 10.0, "rank {rank}: {got} vs {expect}");
        }
    }

    #[test]
    fn hot_pages_are_scattered_and_alpha_zero_is_uniform() {
        let t = ZipfTrace::new(spec(1 << 16, 0, 1.0, 3)).unwrap();
        let top: Vec<u64> = (1..=8).map(|r| t.page_of_rank(r)).collect();
        assert!(top.iter().any(|&p| p > 1024), "{top:?}");
        let pages = zipf_pages(spec(10, 100_000, 0.0, 3)).unwrap();
        let mut count = [0u64; 10];
        for &p in &pages {
            count[p as usize] += 1;
        }
        assert!(count.iter().all(|&c| (9_000..11_000).contains(&c)), "{count:?}");
    }

    #[test]
    fn guide_table_agrees_with_a_plain_search() {
        let t = ZipfTrace::new(spec(5000, 0, 0.8, 9)).unwrap();
        let mut rng = ChaCha8Rng::seed_from_u64(4);
        for _ in 0..20_000 {
            let u: f64 = rng.gen();
            let plain = t.cdf.partition_point(|&c| c <= u);
            assert_eq!(t.rank_of(u), plain, "u = {u}");
        }
        assert_eq!(t.rank_of(0.0), 0);
    }

    fn gen(toml: &str) -> Vec<u64> {
        GenSpec::from_toml(toml).unwrap().pages().unwrap().collect()
    }

    #[test]
    fn scan_touches_each_page_once_in_order() {
        assert_eq!(gen("{ generator = \"scan\", refs = 5, base = 50 }"), vec![50, 51, 52, 53, 54]);
        assert_eq!(gen("{ generator = \"scan\", pages = 200, refs = 3 }"), vec![0, 1, 2]);
        let e = GenSpec::from_toml("{ generator = \"scan\", pages = 50, refs = 100 }").unwrap_err();
        assert!(e.starts_with("pages = 50: a scan touches each page once"), "{e}");
    }

    #[test]
    fn loop_repeats_its_range() {
        assert_eq!(gen("{ generator = \"loop\", pages = 3, base = 7, refs = 8 }"), vec![7, 8, 9, 7, 8, 9, 7, 8]);
    }

    #[test]
    fn uniform_covers_its_range_evenly() {
        let pages = gen("{ generator = \"uniform\", pages = 100, base = 1000, refs = 100000, seed = 5 }");
        assert_eq!(pages.len(), 100_000);
        let mut count = [0u32; 100];
        for &p in &pages {
            assert!((1000..1100).contains(&p), "{p}");
            count[(p - 1000) as usize] += 1;
        }
        assert!(count.iter().all(|&c| (850..1150).contains(&c)), "{count:?}");
        // 20 draws from 1000 pages: nearly all distinct, never more than 20.
        let few = gen("{ generator = \"uniform\", pages = 1000, refs = 20 }");
        let distinct: std::collections::BTreeSet<u64> = few.iter().copied().collect();
        assert!((17..=20).contains(&distinct.len()), "{}", distinct.len());
    }

    #[test]
    fn zipf_specs_stream_what_gen_trace_always_wrote() {
        let old = zipf_pages(spec(1000, 5000, 0.99, 7)).unwrap();
        assert_eq!(gen("{ generator = \"zipf\", pages = 1000, refs = 5000, seed = 7 }"), old);
        let shifted = gen("{ generator = \"zipf\", pages = 1000, refs = 5000, seed = 7, alpha = 0.99, base = 4096 }");
        assert_eq!(shifted, old.iter().map(|p| p + 4096).collect::<Vec<_>>());
    }

    #[test]
    fn phases_switch_where_told() {
        let t = r#"{ generator = "phases", phases = [
            { generator = "loop", pages = 3, refs = 6 },
            { generator = "scan", base = 100, refs = 4 },
            { generator = "uniform", pages = 10, base = 1000, refs = 50 },
            { generator = "zipf", pages = 10, base = 5000, refs = 0 },
            { generator = "zipf", pages = 20, base = 2000, refs = 40 } ] }"#;
        let spec = GenSpec::from_toml(t).unwrap();
        assert_eq!(spec.refs, 100);
        let p: Vec<u64> = spec.pages().unwrap().collect();
        assert_eq!(p.len(), 100);
        assert_eq!(&p[..10], &[0, 1, 2, 0, 1, 2, 100, 101, 102, 103]);
        assert!(p[10..60].iter().all(|x| (1000..1010).contains(x)), "{:?}", &p[10..60]);
        assert!(p[60..].iter().all(|x| (2000..2020).contains(x)), "{:?}", &p[60..]);
        assert_eq!(spec.footprint(), 3 + 4 + 10 + 20, "the empty phase adds nothing");
        let e = GenSpec::from_toml(&t.replacen("generator = \"phases\",", "generator = \"phases\", refs = 99,", 1))
            .unwrap_err();
        assert!(e.starts_with("refs = 99: the phases' refs add up to 100"), "{e}");
    }

    #[test]
    fn a_mix_draws_its_parts_by_weight() {
        let t = r#"{ generator = "mix", refs = 40000, seed = 3, parts = [
            { weight = 3, generator = "zipf", pages = 100 },
            { weight = 1, generator = "scan", base = 1000000 } ] }"#;
        let p = gen(t);
        let scan: Vec<u64> = p.iter().copied().filter(|&x| x >= 1_000_000).collect();
        assert!((9_000..11_000).contains(&scan.len()), "{}", scan.len());
        assert!(scan.iter().enumerate().all(|(i, &x)| x == 1_000_000 + i as u64), "the scan part goes in order");
        assert!(p.iter().all(|&x| !(100..1_000_000).contains(&x)));
        let spec = GenSpec::from_toml(t).unwrap();
        assert_eq!(spec.footprint(), 40000);
        assert_eq!(spec.table_pages(), 100);
    }

    #[test]
    fn every_generator_is_deterministic_per_seed() {
        let specs = [
            "generator = \"zipf\"\npages = 500\nrefs = 2000",
            "generator = \"uniform\"\npages = 500\nrefs = 2000",
            "generator = \"mix\"\nrefs = 2000\nparts = [{ weight = 1, generator = \"uniform\", pages = 50 }, \
             { weight = 2, generator = \"loop\", pages = 7 }]",
            "generator = \"phases\"\nphases = [{ generator = \"uniform\", pages = 9, refs = 1000 }, \
             { generator = \"zipf\", pages = 90, refs = 1000 }]",
        ];
        for s in specs {
            let a = gen(&format!("{s}\nseed = 11"));
            assert_eq!(a, gen(&format!("{s}\nseed = 11")), "{s}");
            assert_ne!(a, gen(&format!("{s}\nseed = 12")), "{s}");
            assert_eq!(a.len(), 2000);
        }
        // Deterministic generators do not depend on the seed at all.
        let l = "{ generator = \"loop\", pages = 9, refs = 50";
        assert_eq!(gen(&format!("{l}, seed = 1 }}")), gen(&format!("{l}, seed = 2 }}")));
    }

    #[test]
    fn specs_read_from_a_table_inside_another_document() {
        #[derive(serde::Deserialize)]
        struct Sweep {
            workload: GenSpec,
        }
        let s: Sweep = toml::from_str("[workload]\ngenerator = \"loop\"\npages = 500\nrefs = 10000\n").unwrap();
        assert_eq!(s.workload, GenSpec { generator: Generator::Loop { pages: 500, base: 0 }, refs: 10000, seed: 1 });
        assert_eq!(s.workload.footprint(), 500);
        let e = toml::from_str::<Sweep>("[workload]\ngenerator = \"loop\"\npages = 5\nrefs = 1\nalhpa = 1\n")
            .err()
            .unwrap();
        assert!(e.message().contains("unknown field `alhpa`"), "{e}");
    }

    #[test]
    fn spec_errors_name_the_key() {
        for (t, says) in [
            ("{ generator = \"loop\", pages = 5, refs = 1, alpha = 1.0 }", "alpha: does not apply to generator \"loop\""),
            ("{ generator = \"zipf\", refs = 1 }", "pages: missing (generator \"zipf\")"),
            ("{ generator = \"zipf\", pages = 5 }", "refs: missing"),
            ("{ generator = \"zipf\", pages = 0, refs = 5 }", "pages = 0: expected 1 to 268435456"),
            ("{ generator = \"zipf\", pages = 5, refs = 5, alpha = -1.0 }", "alpha = -1: expected a number from 0"),
            ("{ generator = \"uniform\", pages = 5, refs = 5, base = 68719476735 }", "base = 68719476735"),
            ("{ generator = \"zipff\", pages = 5, refs = 5 }", "generator: \"zipff\": expected one of zipf"),
            ("{ generator = \"loop\", pages = 5, refs = 5, pagse = 3 }", "unknown field `pagse`"),
            ("{ generator = \"phases\", phases = [] }", "phases: expected at least one phase"),
            (
                "{ generator = \"phases\", phases = [{ generator = \"loop\", pages = 2, refs = 4 }, \
                 { generator = \"loop\", pages = 0, refs = 4 }] }",
                "phases[1].pages = 0: expected 1",
            ),
            ("{ generator = \"phases\", phases = [{ generator = \"loop\", pages = 2 }] }", "phases[0].refs: missing"),
            ("{ generator = \"mix\", refs = 5, parts = [] }", "parts: expected at least one part"),
            (
                "{ generator = \"mix\", refs = 5, parts = [{ weight = 0, generator = \"loop\", pages = 2 }] }",
                "parts[0].weight = 0: expected a positive number",
            ),
            (
                "{ generator = \"mix\", refs = 5, parts = [{ weight = 1, generator = \"mix\" }] }",
                "parts[0].generator: \"mix\": a part of a mix is zipf, uniform, scan or loop",
            ),
            (
                "{ generator = \"mix\", refs = 5, parts = [{ weight = 1, generator = \"loop\", pages = 2, refs = 3 }] }",
                "unknown field `refs`",
            ),
            ("{ generator = \"mix\", refs = 5, pages = 3, parts = [] }", "pages: does not apply to generator \"mix\""),
            ("{ generator = \"loop\", pages = 5, refs = \"many\" }", "refs: invalid type: string \"many\", expected u64"),
            ("{ generator = \"loop\" pages = 5 }", "(at column"),
        ] {
            let e = GenSpec::from_toml(t).unwrap_err();
            assert!(e.contains(says), "{t}: {e}");
        }
    }

    #[test]
    fn bad_settings_are_errors() {
        assert!(ZipfTrace::new(spec(0, 1, 1.0, 0)).is_err());
        assert!(ZipfTrace::new(spec(10, 1, f64::NAN, 0)).is_err());
        assert!(ZipfTrace::new(spec(10, 1, -1.0, 0)).is_err());
        assert!(ZipfTrace::new(spec(MAX_PAGES + 1, 1, 1.0, 0)).is_err());
    }
}

//! Synthetic traces: a seeded Zipf reference stream.
//!
//! Pages `0..pages` are ranked by popularity; the page of rank `k` (1-based)
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

    #[test]
    fn bad_settings_are_errors() {
        assert!(ZipfTrace::new(spec(0, 1, 1.0, 0)).is_err());
        assert!(ZipfTrace::new(spec(10, 1, f64::NAN, 0)).is_err());
        assert!(ZipfTrace::new(spec(10, 1, -1.0, 0)).is_err());
        assert!(ZipfTrace::new(spec(MAX_PAGES + 1, 1, 1.0, 0)).is_err());
    }
}

//! Simulated time: a table of per-action costs with named profiles, the
//! counts of lock acquisitions, and a histogram of fault service times.
//!
//! The profiles are order-of-magnitude illustrations of three eras of
//! hardware, not measurements of any machine: a 1993 desktop with an IDE
//! disk, a 2008 server with a 7200 rpm disk, and a current machine with an
//! NVMe drive. Every field can be set from a scenario (`[machine.cost]`).

use hdrhistogram::Histogram;
use serde::Serialize;

use crate::units::SimNanos;

/// Per-action costs, in simulated nanoseconds.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CostModel {
    /// The profile's name.
    pub profile: String,
    /// Trap into the kernel and dispatch a fault.
    pub fault_trap: SimNanos,
    /// Resolve a transition fault: take the page off its list, make the PTE valid.
    pub soft_fault: SimNanos,
    /// Zero one 4 KiB page.
    pub zero_page: SimNanos,
    /// Walk the page tables after a TLB miss (only with a TLB model).
    pub tlb_miss: SimNanos,
    /// Copy one 4 KiB page to another frame (memory compaction moving a
    /// page; reading and writing it, about twice a zeroing).
    pub copy_page: SimNanos,
    /// Start one disk I/O: seek and rotation, or device latency.
    pub io_latency: SimNanos,
    /// Transfer one page to or from disk.
    pub io_per_page: SimNanos,
    /// Hold time of the working-set lock per acquisition.
    pub ws_lock_hold: SimNanos,
    /// Hold time of the PFN database lock per acquisition.
    pub pfn_lock_hold: SimNanos,
    /// One page's share of a batch call that takes a lock once for many
    /// pages (AWE): a page off a list, or one PTE written, under the lock.
    pub batch_page: SimNanos,
    /// What a reference costs beyond a local one when its frame is on
    /// another NUMA node than the referencing thread (only on machines of
    /// more than one node).
    pub remote_access: SimNanos,
}

impl CostModel {
    /// Names of the built-in profiles.
    pub const PROFILES: [&'static str; 3] = ["disk-1993", "server-2008", "nvme"];

    /// A built-in profile by name.
    pub fn profile(name: &str) -> Option<CostModel> {
        let ns = SimNanos;
        Some(match name {
            // 33 MHz 486, ~40 MB/s memory, IDE disk ~12 ms seek, ~2 MB/s.
            "disk-1993" => CostModel {
                profile: name.into(),
                fault_trap: ns(10_000),
                soft_fault: ns(30_000),
                zero_page: ns(100_000),
                copy_page: ns(200_000),
                tlb_miss: ns(1_000),
                io_latency: ns(15_000_000),
                io_per_page: ns(2_000_000),
                ws_lock_hold: ns(5_000),
                pfn_lock_hold: ns(5_000),
                batch_page: ns(1_000),
                // Illustrative only: no PC of 1993 had NUMA; here a remote
                // reference costs about ten local ones of the era.
                remote_access: ns(2_000),
            },
            // A 2008 server: ~8 ms per random disk I/O, ~100 MB/s transfer.
            "server-2008" => CostModel {
                profile: name.into(),
                fault_trap: ns(1_000),
                soft_fault: ns(2_000),
                zero_page: ns(1_000),
                copy_page: ns(2_000),
                tlb_miss: ns(50),
                io_latency: ns(8_000_000),
                io_per_page: ns(40_000),
                ws_lock_hold: ns(200),
                pfn_lock_hold: ns(200),
                batch_page: ns(40),
                // Nehalem-EP (2009), QPI: about 65 ns local, 105 ns remote
                // (Molka et al., PACT 2009).
                remote_access: ns(40),
            },
            // A current machine with an NVMe drive: ~80 us latency, ~2 GB/s.
            "nvme" => CostModel {
                profile: name.into(),
                fault_trap: ns(500),
                soft_fault: ns(700),
                zero_page: ns(300),
                copy_page: ns(600),
                tlb_miss: ns(30),
                io_latency: ns(80_000),
                io_per_page: ns(2_000),
                ws_lock_hold: ns(100),
                pfn_lock_hold: ns(100),
                batch_page: ns(20),
                // A current two-socket server: about 90 ns local, 140 ns
                // remote (vendors' latency figures, an order of magnitude).
                remote_access: ns(50),
            },
            _ => return None,
        })
    }

    /// Time of one I/O of `pages` pages.
    pub fn io(&self, pages: u64) -> SimNanos {
        self.io_latency + self.io_per_page * pages
    }
}

impl Default for CostModel {
    fn default() -> Self {
        CostModel::profile("server-2008").expect("built-in profile")
    }
}

/// A histogram of fault service times (simulated nanoseconds), with the
/// exact maximum kept beside it.
///
/// Faults of one kind cost the same, so long runs of equal times are the
/// rule: a run is counted here and goes into the histogram in one step
/// when a different time arrives (recording n equal values at once leaves
/// the histogram exactly as recording them one by one).
#[derive(Clone, Debug)]
pub struct LatencyHistogram {
    histogram: Histogram<u64>,
    /// The current run: (time, how many times) not yet in the histogram.
    run: (u64, u64),
    max: u64,
}

impl Default for LatencyHistogram {
    fn default() -> Self {
        // 1 ns to one hour, three significant figures.
        LatencyHistogram {
            histogram: Histogram::new_with_bounds(1, 3_600_000_000_000, 3).expect("valid bounds"),
            run: (0, 0),
            max: 0,
        }
    }
}

/// Percentiles of a latency histogram.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct LatencySummary {
    /// Samples recorded.
    pub count: u64,
    /// Mean, ns.
    pub mean_ns: f64,
    /// Median, ns.
    pub p50_ns: u64,
    /// 90th percentile, ns.
    pub p90_ns: u64,
    /// 99th percentile, ns.
    pub p99_ns: u64,
    /// Maximum, ns.
    pub max_ns: u64,
}

impl LatencyHistogram {
    /// Records one fault's service time.
    #[inline]
    pub fn record(&mut self, t: SimNanos) {
        self.max = self.max.max(t.0);
        let v = t.0.max(1);
        if self.run.0 == v {
            self.run.1 += 1;
        } else {
            if self.run.1 > 0 {
                self.histogram.saturating_record_n(self.run.0, self.run.1);
            }
            self.run = (v, 1);
        }
    }

    /// Percentiles.
    pub fn summary(&self) -> LatencySummary {
        if self.run.1 == 0 {
            return self.summarise(&self.histogram);
        }
        let mut h = self.histogram.clone();
        h.saturating_record_n(self.run.0, self.run.1);
        self.summarise(&h)
    }

    fn summarise(&self, h: &Histogram<u64>) -> LatencySummary {
        if h.is_empty() {
            return LatencySummary::default();
        }
        // A percentile is reported as the lowest value of its bucket, so a
        // run of 3000 ns faults reports 3000 ns, not the bucket's top edge.
        let q = |p: f64| h.lowest_equivalent(h.value_at_quantile(p));
        LatencySummary {
            count: h.len(),
            mean_ns: h.mean(),
            p50_ns: q(0.5),
            p90_ns: q(0.9),
            p99_ns: q(0.99),
            max_ns: self.max,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn profiles_exist_and_io_adds_latency_and_transfer() {
        for p in CostModel::PROFILES {
            assert!(CostModel::profile(p).is_some(), "{p}");
        }
        let c = CostModel::profile("server-2008").unwrap();
        assert_eq!(c.io(8), SimNanos(8_000_000 + 8 * 40_000));
    }

    #[test]
    fn histogram_reports_percentiles() {
        let mut h = LatencyHistogram::default();
        for t in 1..=100 {
            h.record(SimNanos(t * 1000));
        }
        let s = h.summary();
        assert_eq!(s.count, 100);
        assert!((49_000..=51_000).contains(&s.p50_ns), "{s:?}");
        assert_eq!(s.max_ns, 100_000);
        let mut h = LatencyHistogram::default();
        h.record(SimNanos(3000));
        assert_eq!((h.summary().p50_ns, h.summary().max_ns), (3000, 3000));
    }

    #[test]
    fn runs_of_equal_times_summarise_as_single_records_do() {
        let times = [5, 5, 5, 0, 1, 7_000, 7_000, 3, 3, 3, 3, 9_000_000_000_000, 9_000_000_000_000, 5];
        let mut batched = LatencyHistogram::default();
        let mut single = Histogram::<u64>::new_with_bounds(1, 3_600_000_000_000, 3).unwrap();
        for (i, &t) in times.iter().enumerate() {
            batched.record(SimNanos(t));
            single.saturating_record(t.max(1));
            assert_eq!(batched.summary(), batched.summarise(&single), "after {} times", i + 1);
        }
        assert_eq!(LatencyHistogram::default().summary(), LatencySummary::default());
    }
}

//! The first stage: serde structs that mirror the TOML, with every unknown
//! key rejected and every value's position kept.

use std::collections::BTreeMap;

use serde::Deserialize;
use toml::Spanned;

/// A value with its position.
pub type Sp<T> = Spanned<T>;

/// The whole file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawScenario {
    /// `[scenario]`: name, title, description.
    pub scenario: RawHeader,
    /// `[machine]`.
    #[serde(default)]
    pub machine: Option<RawMachine>,
    /// `[[process]]`.
    #[serde(default)]
    pub process: Vec<Sp<RawProcess>>,
    /// `[[file]]`.
    #[serde(default)]
    pub file: Vec<Sp<RawFile>>,
    /// `[[step]]`.
    #[serde(default)]
    pub step: Vec<Sp<RawStep>>,
    /// `[expect]`: checked after the last step.
    #[serde(default)]
    pub expect: BTreeMap<Sp<String>, Sp<toml::Value>>,
}

/// `[scenario]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawHeader {
    /// Short name.
    pub name: Sp<String>,
    /// Title.
    #[serde(default)]
    pub title: Option<String>,
    /// Description.
    #[serde(default)]
    pub description: Option<String>,
}

/// `[machine]`; every key optional.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawMachine {
    /// Physical memory.
    pub memory: Option<Sp<toml::Value>>,
    /// "nt31" or "x64".
    pub layout: Option<Sp<String>>,
    /// Page-file size.
    pub pagefile: Option<Sp<toml::Value>>,
    /// NUMA nodes.
    pub numa_nodes: Option<Sp<i64>>,
    /// Default policy.
    pub policy: Option<Sp<String>>,
    /// Default working-set minimum.
    pub ws_min: Option<Sp<i64>>,
    /// Default working-set maximum.
    pub ws_max: Option<Sp<i64>>,
    /// Hard working-set maxima.
    pub ws_hard_max: Option<Sp<bool>>,
    /// Whether the machine supports large pages.
    pub large_pages: Option<Sp<bool>>,
    /// The era of the contiguous allocator: "desperate", "give-up", "sp1".
    pub large_page_allocator: Option<Sp<String>>,
    /// Cost profile name.
    pub cost: Option<Sp<String>>,
    /// Per-action cost overrides in nanoseconds.
    pub costs: Option<BTreeMap<Sp<String>, Sp<i64>>>,
    /// Seed.
    pub seed: Option<Sp<i64>>,
    /// Bad frames.
    pub bad_frames: Option<Sp<Vec<Sp<i64>>>>,
    /// `[machine.cluster]`.
    pub cluster: Option<RawCluster>,
    /// `[machine.writer]`.
    pub writer: Option<RawWriter>,
    /// `[machine.balance]`.
    pub balance: Option<RawBalance>,
    /// `[machine.tlb]`: a TLB model.
    pub tlb: Option<RawTlb>,
    /// WSClock's window, in references.
    pub wsclock_tau: Option<Sp<i64>>,
    /// `[machine.notifications]`: the memory resource notifications'
    /// thresholds (the registry's LowMemoryThreshold, HighMemoryThreshold).
    pub notifications: Option<RawNotifications>,
}

/// `[machine.notifications]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawNotifications {
    /// The low threshold, a size.
    pub low: Option<Sp<toml::Value>>,
    /// The high threshold, a size.
    pub high: Option<Sp<toml::Value>>,
}

/// `[machine.balance]`: the balance set manager.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawBalance {
    /// Whether it runs.
    pub enabled: Option<Sp<bool>>,
    /// How often it wakes: "1 s", "500 ms" or nanoseconds.
    pub period: Option<Sp<toml::Value>>,
    /// Trim when available pages are below this.
    pub available_below: Option<Sp<i64>>,
    /// Trim toward this many available pages.
    pub goal: Option<Sp<i64>>,
}

/// `[machine.tlb]`: its presence turns the TLB model on.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTlb {
    /// Entries for 4 KiB pages.
    pub entries: Option<Sp<i64>>,
    /// Entries for large pages.
    pub large_entries: Option<Sp<i64>>,
    /// Ways per set.
    pub ways: Option<Sp<i64>>,
}

/// `[machine.cluster]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCluster {
    /// Extra pages on a page-file read.
    pub pagefile: Option<Sp<i64>>,
    /// Extra pages on a mapped-file read.
    pub file: Option<Sp<i64>>,
    /// "forward" or "both".
    pub direction: Option<Sp<String>>,
}

/// `[machine.writer]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawWriter {
    /// Zeroed + free threshold, pages.
    pub free_below: Option<Sp<i64>>,
    /// Modified-list maximum, pages.
    pub modified_max: Option<Sp<i64>>,
    /// Pages per write I/O.
    pub cluster: Option<Sp<i64>>,
    /// Zero thread wake threshold.
    pub zero_wake: Option<Sp<i64>>,
}

/// `[[process]]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawProcess {
    /// Name.
    pub name: Sp<String>,
    /// Working-set minimum.
    pub ws_min: Option<Sp<i64>>,
    /// Working-set maximum.
    pub ws_max: Option<Sp<i64>>,
    /// Hard maximum.
    pub hard_max: Option<bool>,
    /// Policy.
    pub policy: Option<Sp<String>>,
    /// NUMA node.
    pub node: Option<Sp<i64>>,
    /// Treat every address as committed private memory (for trace steps).
    pub commit_on_touch: Option<bool>,
    /// Whether the process runs from the start (default) or is started by
    /// a `start` step.
    pub started: Option<bool>,
}

/// `[[file]]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawFile {
    /// Name.
    pub name: Sp<String>,
    /// Size.
    pub size: Sp<toml::Value>,
}

/// `[[step]]`: one flat table; which keys apply depends on `op`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawStep {
    /// The operation.
    pub op: Sp<String>,
    /// Label.
    pub label: Option<String>,
    /// Note for the reader.
    pub note: Option<String>,
    /// Process name.
    pub process: Option<Sp<String>>,
    /// Address.
    pub address: Option<Sp<toml::Value>>,
    /// Size.
    pub size: Option<Sp<toml::Value>>,
    /// Pages.
    pub pages: Option<Sp<i64>>,
    /// Protection.
    pub protection: Option<Sp<String>>,
    /// Reserve: also commit.
    pub commit: Option<bool>,
    /// Reserve: MEM_LARGE_PAGES.
    pub large_pages: Option<bool>,
    /// Reserve: MEM_PHYSICAL (an AWE window).
    pub physical: Option<bool>,
    /// AWE steps: entries of the process's PFN array, a list of indexes or
    /// a range "A..B".
    pub frames: Option<Sp<toml::Value>>,
    /// AWE steps: whose PFN array `frames` indexes (default: the step's
    /// process).
    pub frames_of: Option<Sp<String>>,
    /// map_scatter: one address per page.
    pub addresses: Option<Sp<Vec<Sp<toml::Value>>>>,
    /// Touch: "read" or "write"; refs: the same.
    pub access: Option<Sp<String>>,
    /// Touch: "sequential", "reverse", "stride", "random".
    pub pattern: Option<Sp<String>>,
    /// Touch with stride pattern.
    pub stride: Option<Sp<i64>>,
    /// Touch with random pattern: references.
    pub count: Option<Sp<i64>>,
    /// Touch: passes over the range.
    pub repeat: Option<Sp<i64>>,
    /// Touch: NUMA node of the thread.
    pub node: Option<Sp<i64>>,
    /// Refs: address of page 0.
    pub base: Option<Sp<toml::Value>>,
    /// Refs: page numbers.
    pub refs: Option<Sp<Vec<Sp<i64>>>>,
    /// Refs: a trace file (relative to the scenario).
    pub trace: Option<Sp<String>>,
    /// Refs with a trace: its format.
    pub format: Option<Sp<String>>,
    /// Map: the file.
    pub file: Option<Sp<String>>,
    /// Map: offset.
    pub offset: Option<Sp<toml::Value>>,
    /// Set working set: minimum.
    pub min: Option<Sp<i64>>,
    /// Set working set: maximum.
    pub max: Option<Sp<i64>>,
    /// Set working set: empty it.
    pub empty: Option<bool>,
    /// Advance: rounds.
    pub ticks: Option<Sp<i64>>,
    /// Grant, adjust_privileges: the privilege's name.
    pub privilege: Option<Sp<String>>,
    /// Adjust_privileges: enable (default) or disable.
    pub enable: Option<bool>,
    /// Fragment: fraction of frames left free.
    pub free: Option<Sp<toml::Value>>,
    /// Fragment: fraction of frames made unmovable.
    pub unmovable: Option<Sp<toml::Value>>,
    /// Fragment: share of the process's pages on standby.
    pub standby: Option<Sp<toml::Value>>,
    /// Fragment: share on the modified list.
    pub modified: Option<Sp<toml::Value>>,
    /// Fragment: free blocks per order, a list or a /proc/buddyinfo file.
    pub buddyinfo: Option<Sp<toml::Value>>,
    /// Contiguous: alignment of the physical address.
    pub alignment: Option<Sp<toml::Value>>,
    /// Contiguous: highest acceptable physical address.
    pub highest: Option<Sp<toml::Value>>,
    /// The allocator eras the step applies under (a name or a list): on
    /// a machine of another era the step is left out.
    pub allocator: Option<Sp<toml::Value>>,
    /// Buffer_pool: the target size.
    pub target: Option<Sp<toml::Value>>,
    /// Buffer_pool: "regular" or "awe".
    pub memory: Option<Sp<String>>,
    /// Buffer_pool: pages per growth step.
    pub batch: Option<Sp<i64>>,
    /// Buffer_pool: pages given back per round while memory is low.
    pub shrink: Option<Sp<i64>>,
    /// Buffer_pool: "once" or "every".
    pub query: Option<Sp<String>>,
    /// Buffer_pool: grow to the target now.
    pub grow: Option<bool>,
    /// Wait_notification: "low" or "high".
    pub notification: Option<Sp<String>>,
    /// Ramp_up: threads filling the buffer.
    pub threads: Option<Sp<i64>>,
    /// Expectations after the step.
    pub expect: Option<BTreeMap<Sp<String>, Sp<toml::Value>>>,
    /// Expected error.
    pub expect_error: Option<Sp<String>>,
    /// `pagelab real`: which side runs the step, "real" or "simulated"
    /// (default both).
    pub only: Option<Sp<String>>,
    /// `pagelab real`: differences the real system is expected to show at
    /// this step, each a measured quantity (or "result") and the reason.
    pub differs: Option<BTreeMap<Sp<String>, Sp<String>>>,
    /// `pagelab real` on Linux, a large-page reserve: "hugetlb" (default)
    /// or "thp".
    pub linux_large: Option<Sp<String>>,
}

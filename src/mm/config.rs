//! Machine settings: memory, address-space layout, page file, NUMA, working
//! set defaults, clustering, background thresholds, costs, seed.

use serde::Serialize;

use crate::cost::CostModel;
use crate::units::{Bytes, Vpn, PAGE_SIZE};
use crate::working_set::PolicyKind;

/// The virtual address-space layout of every process.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Layout {
    /// NT 3.1 on x86: 4 GB per process, 2 GB user / 2 GB system. User
    /// addresses run from 0x10000 to 0x7FFEFFFF: the first and last 64 KB
    /// of the user half are never valid (NT 3.1 seed article; WI7 p. 358).
    Nt31,
    /// x64: 128 TB of user space, 0x10000 to 0x7FFFFFFEFFFF (WI7 p. 366).
    X64,
}

impl Layout {
    /// The name scenarios use.
    pub fn name(self) -> &'static str {
        match self {
            Layout::Nt31 => "nt31",
            Layout::X64 => "x64",
        }
    }

    /// Parses a layout name.
    pub fn parse(s: &str) -> Option<Layout> {
        match s {
            "nt31" => Some(Layout::Nt31),
            "x64" => Some(Layout::X64),
            _ => None,
        }
    }

    /// Lowest user address.
    pub fn user_start(self) -> u64 {
        0x1_0000
    }

    /// One past the highest user address.
    pub fn user_end(self) -> u64 {
        match self {
            Layout::Nt31 => 0x7FFF_0000,
            Layout::X64 => 0x7FFF_FFFF_0000,
        }
    }

    /// First address of system space: 2 GB on NT 3.1, the 128 TB line on
    /// x64 (beyond it, non-canonical and kernel addresses).
    pub fn system_start(self) -> u64 {
        match self {
            Layout::Nt31 => 0x8000_0000,
            Layout::X64 => 0x8000_0000_0000,
        }
    }

    /// Total virtual space per process (user plus system).
    pub fn total(self) -> Bytes {
        match self {
            Layout::Nt31 => Bytes(4 << 30),
            Layout::X64 => Bytes(256 << 40),
        }
    }

    /// First user page.
    pub fn first_user_page(self) -> Vpn {
        Vpn::containing(self.user_start())
    }

    /// One past the last user page.
    pub fn end_user_page(self) -> Vpn {
        Vpn::containing(self.user_end())
    }
}

/// Which neighbours a clustered read takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ClusterDirection {
    /// Following pages only (the default; MODEL.md s4 marks the choice unverified).
    Forward,
    /// Following and preceding pages.
    Both,
}

/// Clustered reads: how many extra pages one hard fault reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct ClusterConfig {
    /// Extra pages on a page-file read.
    pub pagefile: u32,
    /// Extra pages on a mapped-file read.
    pub file: u32,
    /// Which neighbours.
    pub direction: ClusterDirection,
}

impl ClusterConfig {
    /// WRK `mminit.c` sizes read clusters by memory size: small systems 2
    /// extra pages, medium 4, large 7 (MmReadClusterSize). The thresholds
    /// here (below 16 MiB small, below 32 MiB medium) are pagelab's choice.
    pub fn for_memory(memory: Bytes) -> ClusterConfig {
        let n = if memory.0 < 16 << 20 {
            2
        } else if memory.0 < 32 << 20 {
            4
        } else {
            7
        };
        ClusterConfig { pagefile: n, file: n, direction: ClusterDirection::Forward }
    }
}

/// Modified page writer and zero page thread thresholds (in pages).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct WriterConfig {
    /// The writer runs when zeroed + free pages fall below this and the
    /// modified list holds more than min(available / 16, 64 MB) (WI6 p. 153).
    pub free_below: u64,
    /// The writer also runs whenever the modified list grows past this
    /// (MmModifiedPageMaximum).
    pub modified_max: u64,
    /// Pages written per I/O at most (WRK: 16-page write clusters).
    pub cluster: u32,
    /// The zero page thread wakes when this many pages are free (MODEL.md s3).
    pub zero_wake: u64,
}

impl WriterConfig {
    /// Defaults scaled by memory size (pagelab's choice, settable).
    pub fn for_frames(frames: u64) -> WriterConfig {
        WriterConfig {
            free_below: (frames / 64).max(8),
            modified_max: (frames / 8).clamp(16, 16384),
            cluster: 16,
            zero_wake: 8,
        }
    }
}

/// Every setting of a machine.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct MachineConfig {
    /// Physical memory.
    pub memory: Bytes,
    /// Address-space layout.
    pub layout: Layout,
    /// Page-file size.
    pub pagefile: Bytes,
    /// NUMA nodes (frames split evenly; the last node takes the remainder).
    pub numa_nodes: u8,
    /// Default replacement policy of new working sets.
    pub policy: PolicyKind,
    /// Default working-set minimum (WI7 p. 417: 50 pages).
    pub ws_min: u64,
    /// Default working-set maximum (WI7 p. 417: 345 pages).
    pub ws_max: u64,
    /// Whether working-set maxima are hard limits by default (NT 3.1's local
    /// FIFO replacement behaves as a hard limit; modern limits are soft).
    pub ws_hard_max: bool,
    /// WSClock's window, in references of the process (pagelab's default
    /// [`crate::working_set::DEFAULT_TAU`]).
    pub wsclock_tau: u64,
    /// Clustered reads.
    pub cluster: ClusterConfig,
    /// Background thresholds.
    pub writer: WriterConfig,
    /// The balance set manager.
    pub balance: crate::balance::BalanceConfig,
    /// Costs.
    pub cost: CostModel,
    /// Seed of the machine's one random generator.
    pub seed: u64,
    /// Frames marked bad at boot.
    pub bad_frames: Vec<u32>,
    /// Whether the machine supports large pages (GetLargePageMinimum is
    /// then 2 MiB on x64, 4 MiB on the NT x86 layout; 0 otherwise). A
    /// machine without them keeps no contiguity index.
    pub large_pages: bool,
    /// Which era's allocator empties physical memory for large pages and
    /// contiguous requests ([`crate::compaction::Era`]).
    pub large_page_allocator: crate::compaction::Era,
    /// The TLB model, if any ([`crate::tlb`]): `None` counts no TLB misses.
    pub tlb: Option<crate::tlb::TlbConfig>,
    /// The memory resource notifications' thresholds, when the registry
    /// overrides them ([`crate::notify`]).
    pub notifications: crate::notify::NotifyConfig,
}

/// A machine setting that cannot be used, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigError {
    /// The setting at fault, as scenarios name it.
    pub setting: &'static str,
    /// What is wrong and what was expected.
    pub message: String,
}

/// The largest simulated memory: 256 GiB is 64M frames, a 1.5 GiB PFN
/// database on the host.
pub const MAX_MEMORY: Bytes = Bytes(256 << 30);
/// The largest page file: 1 TiB (a 32 MiB bitmap on the host).
pub const MAX_PAGEFILE: Bytes = Bytes(1 << 40);

impl MachineConfig {
    /// A machine of `memory` bytes with every other setting at its default.
    pub fn with_memory(memory: Bytes) -> MachineConfig {
        MachineConfig {
            memory,
            layout: Layout::X64,
            pagefile: memory,
            numa_nodes: 1,
            policy: PolicyKind::Fifo,
            ws_min: 50,
            ws_max: 345,
            ws_hard_max: true,
            wsclock_tau: crate::working_set::DEFAULT_TAU,
            cluster: ClusterConfig::for_memory(memory),
            writer: WriterConfig::for_frames(memory.0 / PAGE_SIZE),
            balance: crate::balance::BalanceConfig::for_frames(memory.0 / PAGE_SIZE),
            cost: CostModel::default(),
            seed: 0,
            bad_frames: Vec::new(),
            large_pages: true,
            large_page_allocator: crate::compaction::Era::default(),
            tlb: None,
            notifications: Default::default(),
        }
    }

    /// The large-page size, if the machine supports large pages: 2 MiB on
    /// x64, 4 MiB on the x86 layout without PAE (MODEL.md s5).
    pub fn large_page_size(&self) -> Option<crate::large_page::LargePageSize> {
        self.large_pages.then_some(match self.layout {
            Layout::X64 => crate::large_page::LargePageSize::X64,
            Layout::Nt31 => crate::large_page::LargePageSize::X86,
        })
    }

    /// Physical frames.
    pub fn frames(&self) -> u64 {
        self.memory.0 / PAGE_SIZE
    }

    /// Checks that the machine can be built on this host; the error says
    /// which setting is wrong and what was expected.
    pub fn validate(&self) -> Result<(), String> {
        if let Some(t) = &self.tlb {
            t.validate()?;
        }
        self.check().map_err(|e| e.message)
    }

    /// Like [`MachineConfig::validate`], naming the setting at fault
    /// ("memory", "pagefile", "numa_nodes", "ws_max", "writer.cluster",
    /// "bad_frames").
    pub fn check(&self) -> Result<(), ConfigError> {
        let err = |setting: &'static str, message: String| Err(ConfigError { setting, message });
        if self.memory.0 < 16 * PAGE_SIZE {
            return err("memory", format!("memory {} is too small: at least 16 pages (64 KiB)", self.memory));
        }
        if self.memory > MAX_MEMORY {
            return err(
                "memory",
                format!(
                "memory {} is larger than pagelab simulates ({}): its PFN database alone would need {} of host memory",
                self.memory,
                MAX_MEMORY,
                Bytes(self.frames() * 24)
            ),
            );
        }
        if self.memory.0 % PAGE_SIZE != 0 {
            return err("memory", format!("memory {} is not a whole number of 4 KiB pages", self.memory));
        }
        if self.pagefile > MAX_PAGEFILE {
            return err("pagefile", format!("pagefile {} is larger than the 1 TiB pagelab supports", self.pagefile));
        }
        if self.numa_nodes == 0 || self.numa_nodes > 64 {
            return err("numa_nodes", format!("numa_nodes {} must be between 1 and 64", self.numa_nodes));
        }
        if self.frames() < self.numa_nodes as u64 * 16 {
            return err(
                "numa_nodes",
                format!(
                    "memory {} is too small for {} NUMA nodes (16 pages each at least)",
                    self.memory, self.numa_nodes
                ),
            );
        }
        if self.ws_max == 0 || self.ws_min > self.ws_max {
            return err(
                "ws_max",
                format!("working-set limits min {} max {}: expected 1 <= max and min <= max", self.ws_min, self.ws_max),
            );
        }
        if self.balance.period.0 == 0 {
            return err("balance.period", "balance.period must be longer than 0 ns".into());
        }
        if self.balance.goal < self.balance.available_below {
            return err(
                "balance.goal",
                format!(
                    "balance.goal {} is below balance.available_below {}: the balance set manager trims until available pages reach the goal",
                    self.balance.goal, self.balance.available_below
                ),
            );
        }
        if self.writer.cluster == 0 {
            return err("writer.cluster", "writer.cluster must be at least 1 page".into());
        }
        if let Some(&b) = self.bad_frames.iter().find(|&&b| b as u64 >= self.frames()) {
            return err("bad_frames", format!("bad frame {b} is beyond the last frame {}", self.frames() - 1));
        }
        Ok(())
    }
}

//! A buffer pool, as a database server keeps one: an application model
//! that drives the machine only through its API, as SQL Server's buffer
//! pool does (MODEL.md s7).
//!
//! - Started with a target size and a kind of memory. An AWE pool (SQL
//!   Server's "locked pages") needs SeLockMemoryPrivilege enabled: it
//!   reserves an AWE window of the target (VirtualAlloc(MEM_RESERVE |
//!   MEM_PHYSICAL)) and grows by AllocateUserPhysicalPagesNuma on its
//!   process's node and MapUserPhysicalPages, a batch at a time. A regular
//!   pool reserves the target, and grows by committing a batch and writing
//!   each page once.
//! - Buffers fill the window from its start; growth appends a batch and a
//!   shrink gives back the last pages (FreeUserPhysicalPages, or
//!   VirtualFree(MEM_DECOMMIT)).
//! - The pool tags each buffer with its NUMA node through QueryWorkingSetEx.
//!   Locked and AWE pages never move (MODEL.md s7), so asking once, when a
//!   page joins, suffices; regular pages can be paged out and come back on
//!   another node, so a pool of them asks again for every page on every
//!   pass of its monitor. `query` chooses (default: once for AWE, every
//!   pass for regular); the calls are counted.
//! - Its resource monitor runs once per background round (a tick of
//!   `advance`), after the round's background work. It follows SQL Server's
//!   dynamic memory management (SQL Server 2008 R2 Books Online, "Dynamic
//!   Memory Management": it acquires memory until its target "or Windows
//!   indicates there is no longer an excess of free memory", and frees
//!   memory when "Windows indicates that there is a shortage"): while the
//!   low memory notification is signalled it gives back `shrink` pages a
//!   round (0: it ignores memory pressure); while the high notification is
//!   signalled and it is below its target it grows by one batch; between
//!   the two it keeps its size (SQL Server's RESOURCE_MEMPHYSICAL_STEADY).
//!   A `pool_grow` step grows it to its target at once, whatever the
//!   notifications say, as a loaded database would.
//!
//! pagelab's simplifications: the pool's own accesses to its buffers are
//! not modelled (a scenario's `touch` steps can make them); a batch the
//! machine cannot supply in full ends the growth of that round.

use serde::Serialize;

use crate::event::Event;
use crate::machine::{AccessKind, Machine, Op, OpError, OpValue};
use crate::pte::Protection;
use crate::units::{Pfn, ProcessId, Vpn, PAGE_SIZE};
use crate::working_set::NEVER;

/// Pages a pool grows by in one step unless told otherwise: 64 pages
/// (256 KiB), pagelab's choice.
pub const DEFAULT_BATCH: u64 = 64;

/// A buffer's node tag before the pool has asked, or when QueryWorkingSetEx
/// said the page was not valid.
const UNKNOWN: u8 = u8::MAX;

/// The memory a pool is made of.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PoolMemory {
    /// Committed private pages, paged like any others.
    Regular,
    /// AWE pages: locked, never paged.
    Awe,
}

impl PoolMemory {
    /// The name scenarios use.
    pub fn name(self) -> &'static str {
        match self {
            PoolMemory::Regular => "regular",
            PoolMemory::Awe => "awe",
        }
    }

    /// Parses "regular" or "awe".
    pub fn parse(s: &str) -> Option<PoolMemory> {
        match s {
            "regular" => Some(PoolMemory::Regular),
            "awe" => Some(PoolMemory::Awe),
            _ => None,
        }
    }
}

/// When the pool asks QueryWorkingSetEx for its buffers' nodes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PoolQuery {
    /// Once, when a page joins the pool.
    Once,
    /// For every page on every pass of the monitor too.
    Every,
}

impl PoolQuery {
    /// The name scenarios use.
    pub fn name(self) -> &'static str {
        match self {
            PoolQuery::Once => "once",
            PoolQuery::Every => "every",
        }
    }

    /// Parses "once" or "every".
    pub fn parse(s: &str) -> Option<PoolQuery> {
        match s {
            "once" => Some(PoolQuery::Once),
            "every" => Some(PoolQuery::Every),
            _ => None,
        }
    }

    /// The default for a kind of memory: once for AWE, every pass otherwise.
    pub fn default_for(memory: PoolMemory) -> PoolQuery {
        match memory {
            PoolMemory::Awe => PoolQuery::Once,
            PoolMemory::Regular => PoolQuery::Every,
        }
    }
}

/// How a pool is set up.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct PoolSpec {
    /// Target size, pages.
    pub target: u64,
    /// Its memory.
    pub memory: PoolMemory,
    /// Pages per growth step (at least 1).
    pub batch: u64,
    /// Pages given back per round while memory is low (0: never).
    pub shrink: u64,
    /// When it asks for nodes.
    pub query: PoolQuery,
}

/// One process's buffer pool.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct BufferPool {
    /// The process.
    pub pid: ProcessId,
    /// The setup.
    pub spec: PoolSpec,
    /// First page of its window or reservation.
    pub base: Vpn,
    /// The node its threads run on.
    pub node: u8,
    /// Pages in the pool: buffer `i` is at `base + i`.
    pub pages: u64,
    /// AWE pools: the frame of each buffer.
    frames: Vec<Pfn>,
    /// Each buffer's node as the pool last learned it.
    tags: Vec<u8>,
    /// QueryWorkingSetEx calls (one per page asked about).
    pub queries: u64,
    /// Times it shrank.
    pub shrinks: u64,
    /// Pages it gave back, over every shrink.
    pub released: u64,
}

impl BufferPool {
    /// Buffers whose node, as the pool last learned it, is not the pool's.
    pub fn remote(&self) -> u64 {
        self.tags.iter().filter(|&&n| n != UNKNOWN && n != self.node).count() as u64
    }

    fn address(&self, i: u64) -> u64 {
        self.base.offset(i).address()
    }
}

impl Machine {
    /// The buffer pool of a process, if it started one.
    pub fn buffer_pool(&self, pid: ProcessId) -> Option<&BufferPool> {
        self.pools.iter().find(|p| p.pid == pid)
    }

    fn pool_index(&self, pid: ProcessId) -> Result<usize, OpError> {
        self.pools.iter().position(|p| p.pid == pid).ok_or_else(|| OpError::BufferPool {
            message: format!("{} has no buffer pool: start one with a buffer_pool step first", self.name_of(pid)),
        })
    }

    /// Starts a process's buffer pool, empty; `grow` fills it to its target.
    pub(crate) fn start_buffer_pool(&mut self, pid: ProcessId, spec: PoolSpec, grow: bool) -> Result<OpValue, OpError> {
        if self.buffer_pool(pid).is_some() {
            return Err(OpError::BufferPool { message: format!("{} has a buffer pool already", self.name_of(pid)) });
        }
        if spec.target == 0 || spec.target > self.pfn.frames() as u64 || spec.batch == 0 {
            return Err(OpError::BufferPool {
                message: format!(
                    "a buffer pool's target must be from 1 page to the machine's {} frames and its batch at least 1 page (target {}, batch {})",
                    self.pfn.frames(),
                    spec.target,
                    spec.batch
                ),
            });
        }
        let size = spec.target * PAGE_SIZE;
        let reserve = match spec.memory {
            PoolMemory::Awe => {
                // SQL Server uses locked pages only when the privilege is
                // there; the call with no pages asks exactly that.
                self.apply(&Op::AllocatePhysical { pid, pages: 0, node: None })?;
                Op::ReservePhysical { pid, address: None, size, protection: Protection::ReadWrite, commit: false }
            }
            PoolMemory::Regular => {
                Op::Reserve { pid, address: None, size, protection: Protection::ReadWrite, commit: false }
            }
        };
        let OpValue::Address(base) = self.apply(&reserve)? else { unreachable!("a reservation returns its address") };
        let node = self.processes[pid.0 as usize].node;
        self.pools.push(BufferPool {
            pid,
            spec,
            base: Vpn::containing(base),
            node,
            pages: 0,
            frames: Vec::new(),
            tags: Vec::new(),
            queries: 0,
            shrinks: 0,
            released: 0,
        });
        self.emit(|| Event::BufferPoolStarted { pid, spec, base: Vpn::containing(base) });
        if grow {
            self.grow_buffer_pool(pid)?;
        }
        Ok(OpValue::Address(base))
    }

    /// Grows a pool to its target now, batch by batch. Returns the pages
    /// added.
    pub(crate) fn grow_buffer_pool(&mut self, pid: ProcessId) -> Result<OpValue, OpError> {
        let i = self.pool_index(pid)?;
        let mut added = 0;
        loop {
            let n = self.pool_grow_batch(i)?;
            if n == 0 {
                break;
            }
            added += n;
        }
        Ok(OpValue::Count(added))
    }

    /// One batch more for pool `i` (less if the target is nearer, or the
    /// machine supplies fewer AWE pages). Returns the pages added.
    fn pool_grow_batch(&mut self, i: usize) -> Result<u64, OpError> {
        let pool = &self.pools[i];
        let (pid, node, first) = (pool.pid, pool.node, pool.pages);
        let want = pool.spec.batch.min(pool.spec.target - pool.pages);
        if want == 0 {
            return Ok(0);
        }
        let address = pool.address(first);
        let got = match pool.spec.memory {
            PoolMemory::Awe => {
                let OpValue::Frames(frames) =
                    self.apply(&Op::AllocatePhysical { pid, pages: want, node: Some(node) })?
                else {
                    unreachable!("AllocateUserPhysicalPages returns frames")
                };
                let n = frames.len() as u64;
                self.apply(&Op::MapPhysical { pid, address, pages: n, frames: Some(frames.clone()) })?;
                self.pools[i].frames.extend(frames);
                n
            }
            PoolMemory::Regular => {
                self.apply(&Op::Commit { pid, address, size: want * PAGE_SIZE, protection: Protection::ReadWrite })?;
                for k in 0..want {
                    if let Err(e) = self.access(pid, address + k * PAGE_SIZE, AccessKind::Write, None, NEVER) {
                        // What could not be written is given back; the
                        // pages written stay in the pool.
                        let rest = (want - k) * PAGE_SIZE;
                        self.apply(&Op::Decommit { pid, address: address + k * PAGE_SIZE, size: rest })?;
                        self.pool_joined(i, k);
                        return Err(e);
                    }
                }
                want
            }
        };
        self.pool_joined(i, got);
        let p = &self.pools[i];
        let (pages, target) = (p.pages, p.spec.target);
        self.emit(|| Event::BufferPoolGrew { pid, added: got, pages, target });
        Ok(got)
    }

    /// `n` pages joined pool `i` at its end: each is asked about once.
    fn pool_joined(&mut self, i: usize, n: u64) {
        let (pid, first) = (self.pools[i].pid, self.pools[i].pages);
        for k in 0..n {
            let block = self.query_working_set_ex(pid, self.pools[i].address(first + k));
            self.pools[i].tags.push(if block.valid() { block.node() } else { UNKNOWN });
        }
        let p = &mut self.pools[i];
        p.queries += n;
        p.pages += n;
    }

    /// Gives back the last `n` pages of pool `i`.
    fn pool_shrink(&mut self, i: usize, n: u64) -> Result<(), OpError> {
        let p = &self.pools[i];
        let (pid, keep) = (p.pid, p.pages - n);
        let available = self.pfn.available();
        self.emit(|| Event::BufferPoolShrank { pid, released: n, pages: keep, available });
        let p = &self.pools[i];
        match p.spec.memory {
            PoolMemory::Awe => {
                let frames = p.frames[keep as usize..].to_vec();
                self.apply(&Op::FreePhysical { pid, frames })?;
                self.pools[i].frames.truncate(keep as usize);
            }
            PoolMemory::Regular => {
                let address = p.address(keep);
                self.apply(&Op::Decommit { pid, address, size: n * PAGE_SIZE })?;
            }
        }
        let p = &mut self.pools[i];
        p.tags.truncate(keep as usize);
        p.pages = keep;
        p.shrinks += 1;
        p.released += n;
        Ok(())
    }

    /// One round of every pool's resource monitor.
    pub(crate) fn run_pool_monitors(&mut self) {
        for i in 0..self.pools.len() {
            let pid = self.pools[i].pid;
            if self.processes[pid.0 as usize].exited {
                continue;
            }
            if self.pools[i].spec.query == PoolQuery::Every {
                for k in 0..self.pools[i].pages {
                    let block = self.query_working_set_ex(pid, self.pools[i].address(k));
                    self.pools[i].tags[k as usize] = if block.valid() { block.node() } else { UNKNOWN };
                }
                let p = &mut self.pools[i];
                p.queries += p.pages;
            }
            let p = &self.pools[i];
            let (shrink, pages, below) = (p.spec.shrink, p.pages, p.pages < p.spec.target);
            // A failed call has set the process's last error and emitted
            // its event; the monitor tries again next round.
            if self.notify.low {
                if shrink > 0 && pages > 0 {
                    let _ = self.pool_shrink(i, shrink.min(pages));
                }
            } else if self.notify.high && below {
                let _ = self.pool_grow_batch(i);
            }
        }
    }

    /// The pools agree with the machine: an AWE pool's frames are the
    /// process's, mapped at the pool's pages in order; a regular pool's
    /// pages are committed.
    pub(crate) fn check_pools(&self) -> Result<(), String> {
        for p in &self.pools {
            let proc = &self.processes[p.pid.0 as usize];
            if proc.exited {
                return Err(format!("pool of exited process {} is still kept", p.pid.0));
            }
            if p.tags.len() as u64 != p.pages || p.pages > p.spec.target {
                return Err(format!(
                    "pool of {}: {} pages, {} tags, target {}",
                    proc.name,
                    p.pages,
                    p.tags.len(),
                    p.spec.target
                ));
            }
            if p.spec.memory == PoolMemory::Awe {
                if p.frames.len() as u64 != p.pages {
                    return Err(format!("AWE pool of {}: {} pages but {} frames", proc.name, p.pages, p.frames.len()));
                }
                for (k, f) in p.frames.iter().enumerate() {
                    if proc.awe.pages.get(&f.0) != Some(&Some(p.base.offset(k as u64))) {
                        return Err(format!("AWE pool of {}: frame {} is not mapped at buffer {k}", proc.name, f.0));
                    }
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::MachineConfig;
    use crate::notify::NotifyConfig;
    use crate::token::Privilege;
    use crate::units::Bytes;

    /// A 4 MiB machine (1024 frames) with thresholds low 200, high 400,
    /// and a process whose token has SeLockMemoryPrivilege enabled.
    fn machine(nodes: u8) -> (Machine, ProcessId) {
        let mut cfg = MachineConfig::with_memory(Bytes(4 << 20));
        cfg.numa_nodes = nodes;
        cfg.notifications = NotifyConfig { low: Some(200), high: Some(400) };
        let mut m = Machine::new(cfg).unwrap();
        m.apply(&Op::GrantPrivilege { privilege: Privilege::LockMemory }).unwrap();
        m.apply(&Op::Logon).unwrap();
        let OpValue::Process(pid) = m.apply(&Op::create_process("sql")).unwrap() else { panic!() };
        m.apply(&Op::AdjustTokenPrivileges { pid, privilege: Privilege::LockMemory, enable: true }).unwrap();
        (m, pid)
    }

    fn spec(memory: PoolMemory, target: u64, shrink: u64) -> PoolSpec {
        PoolSpec { target, memory, batch: 64, shrink, query: PoolQuery::default_for(memory) }
    }

    #[test]
    fn an_awe_pool_needs_the_privilege() {
        let mut cfg = MachineConfig::with_memory(Bytes(4 << 20));
        cfg.notifications = NotifyConfig { low: Some(200), high: Some(400) };
        let mut m = Machine::new(cfg).unwrap();
        let OpValue::Process(pid) = m.apply(&Op::create_process("sql")).unwrap() else { panic!() };
        let e = m.start_buffer_pool(pid, spec(PoolMemory::Awe, 100, 0), true).unwrap_err();
        assert_eq!(e.name(), "ERROR_PRIVILEGE_NOT_HELD");
        assert!(m.buffer_pool(pid).is_none());
    }

    #[test]
    fn the_monitor_grows_while_high_holds_between_and_shrinks_while_low() {
        let (mut m, pid) = machine(1);
        m.start_buffer_pool(pid, spec(PoolMemory::Awe, 1000, 50), false).unwrap();
        assert_eq!(m.buffer_pool(pid).unwrap().pages, 0);
        // Each round adds a batch while available >= 400: 1024 - 64k.
        let mut rounds = 0;
        while m.notifications().high {
            m.apply(&Op::Advance { ticks: 1 }).unwrap();
            rounds += 1;
            m.check_invariants().unwrap();
        }
        let p = m.buffer_pool(pid).unwrap();
        // 10 batches leave 384 available: below high, above low.
        assert_eq!((rounds, p.pages, m.pfn_db().available()), (10, 640, 384));
        m.apply(&Op::Advance { ticks: 5 }).unwrap();
        assert_eq!(m.buffer_pool(pid).unwrap().pages, 640, "between the thresholds the pool keeps its size");
        // Another process takes memory until the low event is signalled.
        let OpValue::Process(app) = m.apply(&Op::create_process("app")).unwrap() else { panic!() };
        m.apply(&Op::SetWorkingSetSize { pid: app, limits: Some((1, 1000)) }).unwrap();
        m.apply(&Op::Reserve {
            pid: app,
            address: None,
            size: 1 << 20,
            protection: Protection::ReadWrite,
            commit: true,
        })
        .unwrap();
        for k in 0..200 {
            m.access(app, 0x10000 + k * PAGE_SIZE, AccessKind::Write, None, NEVER).unwrap();
        }
        assert!(m.notifications().low);
        m.apply(&Op::Advance { ticks: 1 }).unwrap();
        let p = m.buffer_pool(pid).unwrap();
        assert_eq!((p.pages, p.shrinks, p.released), (590, 1, 50));
        // 234 available: the low event has cleared, and below high the
        // pool neither shrinks nor grows again.
        assert!(!m.notifications().low && !m.notifications().high);
        m.apply(&Op::Advance { ticks: 5 }).unwrap();
        let p = m.buffer_pool(pid).unwrap();
        assert_eq!((p.pages, p.shrinks), (590, 1), "it stops once the low event clears");
        // AWE pages are asked about once each, as they join.
        assert_eq!(p.queries, 640);
        m.check_invariants().unwrap();
    }

    #[test]
    fn a_pool_that_ignores_pressure_keeps_its_pages() {
        let (mut m, pid) = machine(1);
        m.start_buffer_pool(pid, spec(PoolMemory::Awe, 900, 0), true).unwrap();
        assert_eq!(m.buffer_pool(pid).unwrap().pages, 900);
        assert!(m.notifications().low, "124 available is below 200");
        m.apply(&Op::Advance { ticks: 10 }).unwrap();
        let p = m.buffer_pool(pid).unwrap();
        assert_eq!((p.pages, p.shrinks), (900, 0));
    }

    #[test]
    fn a_regular_pool_asks_every_pass_and_gives_pages_back_by_decommit() {
        let (mut m, pid) = machine(1);
        m.apply(&Op::SetWorkingSetSize { pid, limits: Some((1, 1000)) }).unwrap();
        m.start_buffer_pool(pid, spec(PoolMemory::Regular, 128, 64), true).unwrap();
        let p = m.buffer_pool(pid).unwrap();
        assert_eq!((p.pages, p.queries), (128, 128));
        assert_eq!(m.process(pid).unwrap().commit, 128);
        m.apply(&Op::Advance { ticks: 3 }).unwrap();
        assert_eq!(m.buffer_pool(pid).unwrap().queries, 128 + 3 * 128, "every page, every pass");
        // Trimmed, its pages are no longer valid: the next pass sees none
        // on any node.
        m.apply(&Op::Trim { pid, pages: None }).unwrap();
        m.apply(&Op::Advance { ticks: 1 }).unwrap();
        assert_eq!(m.buffer_pool(pid).unwrap().remote(), 0);
        let i = m.pool_index(pid).unwrap();
        m.pool_shrink(i, 64).unwrap();
        assert_eq!(m.process(pid).unwrap().commit, 64);
        m.check_invariants().unwrap();
    }

    #[test]
    fn an_awe_pool_on_a_full_node_counts_its_remote_pages() {
        // Two nodes of 512 frames; the pool's node 0 cannot hold 600.
        let (mut m, pid) = machine(2);
        m.start_buffer_pool(pid, spec(PoolMemory::Awe, 600, 0), true).unwrap();
        let p = m.buffer_pool(pid).unwrap();
        assert_eq!((p.pages, p.remote()), (600, 88));
        assert_eq!(p.queries, 600);
    }

    #[test]
    fn a_second_pool_or_a_missing_one_is_an_error_and_exit_drops_the_pool() {
        let (mut m, pid) = machine(1);
        assert_eq!(m.grow_buffer_pool(pid).unwrap_err().name(), "buffer_pool");
        assert_eq!(m.start_buffer_pool(pid, spec(PoolMemory::Awe, 0, 0), false).unwrap_err().name(), "buffer_pool");
        assert_eq!(m.start_buffer_pool(pid, spec(PoolMemory::Awe, 1025, 0), false).unwrap_err().name(), "buffer_pool");
        m.start_buffer_pool(pid, spec(PoolMemory::Awe, 10, 0), false).unwrap();
        assert_eq!(m.start_buffer_pool(pid, spec(PoolMemory::Awe, 10, 0), false).unwrap_err().name(), "buffer_pool");
        m.grow_buffer_pool(pid).unwrap();
        m.apply(&Op::Exit { pid }).unwrap();
        assert!(m.buffer_pool(pid).is_none());
        assert_eq!(m.pfn_db().available(), 1024);
        m.check_invariants().unwrap();
    }
}

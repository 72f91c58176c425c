//! Properties (proptest) of the library API: the machine's invariants hold
//! after every operation of random sequences (and after every reference
//! that faults or fails); one process agrees with a textbook model of its
//! working set, and two processes replace only their own pages; the
//! scenario loader and the trace readers never panic on arbitrary input.
//!
//! `PROPTEST_CASES` sets the number of cases of every property;
//! `PAGELAB_PROPTEST_LONG` raises the random operation sequences from
//! 1,000 to 10,000.

use std::collections::{BTreeSet, VecDeque};

use proptest::prelude::*;

use pagelab::config::MachineConfig;
use pagelab::pte::Protection;
use pagelab::scenario::{builtin::BUILTINS, load_str, Override};
use pagelab::token::Privilege;
use pagelab::trace::{read_all, write_oracle_general, TraceFormat, TraceReader};
use pagelab::units::{Bytes, FileId, ProcessId};
use pagelab::working_set::{PolicyKind, NEVER};
use pagelab::{AccessKind, Machine, Op, OpError, OpValue, Resolution};

use crate::util::{cases_or_long, proptest_config};

const PAGE: u64 = 4096;

/// Where reservation slot `k` starts: 1 MiB apart, so no two overlap.
fn slot_base(k: u8) -> u64 {
    0x100_0000 + k as u64 * 0x10_0000
}

/// One generated action, before process numbers are resolved.
#[derive(Clone, Debug)]
enum Raw {
    Reserve {
        p: u8,
        slot: u8,
        pages: u8,
        commit: bool,
        fixed: bool,
        prot: u8,
    },
    Commit {
        p: u8,
        slot: u8,
        off: u8,
        pages: u8,
    },
    Decommit {
        p: u8,
        slot: u8,
        off: u8,
        pages: u8,
    },
    Release {
        p: u8,
        slot: u8,
    },
    Map {
        p: u8,
        slot: u8,
        second_chunk: bool,
        pages: u8,
        writable: bool,
    },
    Touch {
        p: u8,
        slot: u8,
        off: u8,
        count: u8,
        write: bool,
        node: Option<u8>,
    },
    Trim {
        p: u8,
        pages: Option<u8>,
    },
    SetWs {
        p: u8,
        limits: Option<(u8, u8)>,
    },
    WriteModified {
        pages: Option<u8>,
    },
    Advance {
        ticks: u8,
    },
    AgeWorkingSets,
    Exit {
        p: u8,
    },
    /// An AWE window in a slot.
    Window {
        p: u8,
        slot: u8,
        pages: u8,
    },
    /// AllocateUserPhysicalPages(Numa).
    AllocateAwe {
        p: u8,
        pages: u8,
        node: Option<u8>,
    },
    /// MapUserPhysicalPages of entries of the PFN array (or NULL); `scatter`
    /// maps page i at every other page.
    MapAwe {
        p: u8,
        slot: u8,
        off: u8,
        entries: Vec<u8>,
        null: bool,
        scatter: bool,
    },
    /// FreeUserPhysicalPages of entries of the PFN array.
    FreeAwe {
        p: u8,
        entries: Vec<u8>,
    },
    /// VirtualLock or VirtualUnlock of a range.
    Lock {
        p: u8,
        slot: u8,
        off: u8,
        pages: u8,
        unlock: bool,
    },
}

/// A concrete step: an operation, or a run of memory references, or an
/// AWE call whose frames come from the process's PFN array at run time.
#[derive(Clone, Debug)]
enum Step {
    Apply(Op),
    Touch { pid: ProcessId, address: u64, pages: u64, kind: AccessKind, node: Option<u8> },
    MapAwe { pid: ProcessId, address: u64, entries: Vec<u8>, null: bool, scatter: bool },
    FreeAwe { pid: ProcessId, entries: Vec<u8> },
}

fn raw_strategy() -> impl Strategy<Value = Raw> {
    let p = 0u8..3;
    let slot = 0u8..3;
    prop_oneof![
        12 => (p.clone(), slot.clone(), 1u8..24, prop::bool::weighted(0.7), prop::bool::weighted(0.9), 0u8..4)
            .prop_map(|(p, slot, pages, commit, fixed, prot)| Raw::Reserve { p, slot, pages, commit, fixed, prot }),
        8 => (p.clone(), slot.clone(), 0u8..12, 1u8..12)
            .prop_map(|(p, slot, off, pages)| Raw::Commit { p, slot, off, pages }),
        6 => (p.clone(), slot.clone(), 0u8..12, 1u8..12)
            .prop_map(|(p, slot, off, pages)| Raw::Decommit { p, slot, off, pages }),
        3 => (p.clone(), slot.clone()).prop_map(|(p, slot)| Raw::Release { p, slot }),
        5 => (p.clone(), slot.clone(), any::<bool>(), 0u8..24, any::<bool>())
            .prop_map(|(p, slot, second_chunk, pages, writable)| Raw::Map { p, slot, second_chunk, pages, writable }),
        40 => (p.clone(), slot.clone(), 0u8..26, 1u8..10, prop::bool::weighted(0.6), prop::option::weighted(0.2, 0u8..2))
            .prop_map(|(p, slot, off, count, write, node)| Raw::Touch { p, slot, off, count, write, node }),
        5 => (p.clone(), prop::option::of(1u8..16)).prop_map(|(p, pages)| Raw::Trim { p, pages }),
        4 => (p.clone(), prop::option::weighted(0.8, (0u8..40, 0u8..60)))
            .prop_map(|(p, limits)| Raw::SetWs { p, limits }),
        5 => prop::option::of(1u8..32).prop_map(|pages| Raw::WriteModified { pages }),
        4 => (1u8..4).prop_map(|ticks| Raw::Advance { ticks }),
        2 => Just(Raw::AgeWorkingSets),
        2 => p.clone().prop_map(|p| Raw::Exit { p }),
        3 => (p.clone(), slot.clone(), 1u8..12).prop_map(|(p, slot, pages)| Raw::Window { p, slot, pages }),
        3 => (p.clone(), 0u8..12, prop::option::weighted(0.3, 0u8..2))
            .prop_map(|(p, pages, node)| Raw::AllocateAwe { p, pages, node }),
        5 => (p.clone(), slot.clone(), 0u8..12, prop::collection::vec(any::<u8>(), 1..6), prop::bool::weighted(0.15), any::<bool>())
            .prop_map(|(p, slot, off, entries, null, scatter)| Raw::MapAwe { p, slot, off, entries, null, scatter }),
        2 => (p.clone(), prop::collection::vec(any::<u8>(), 0..5)).prop_map(|(p, entries)| Raw::FreeAwe { p, entries }),
        4 => (p, slot, 0u8..20, 1u8..10, prop::bool::weighted(0.3))
            .prop_map(|(p, slot, off, pages, unlock)| Raw::Lock { p, slot, off, pages, unlock }),
    ]
}

fn protection(code: u8) -> Protection {
    [Protection::ReadWrite, Protection::ReadOnly, Protection::NoAccess, Protection::ExecuteReadWrite][code as usize % 4]
}

fn concrete(r: &Raw, procs: usize) -> Step {
    let pid = |p: u8| ProcessId((p as usize % procs) as u16);
    match *r {
        Raw::Reserve { p, slot, pages, commit, fixed, prot } => Step::Apply(Op::Reserve {
            pid: pid(p),
            address: fixed.then(|| slot_base(slot)),
            size: pages as u64 * PAGE,
            protection: protection(prot),
            commit,
        }),
        Raw::Commit { p, slot, off, pages } => Step::Apply(Op::Commit {
            pid: pid(p),
            address: slot_base(slot) + off as u64 * PAGE,
            size: pages as u64 * PAGE,
            protection: Protection::ReadWrite,
        }),
        Raw::Decommit { p, slot, off, pages } => Step::Apply(Op::Decommit {
            pid: pid(p),
            address: slot_base(slot) + off as u64 * PAGE,
            size: pages as u64 * PAGE,
        }),
        Raw::Release { p, slot } => Step::Apply(Op::Release { pid: pid(p), address: slot_base(slot) }),
        Raw::Map { p, slot, second_chunk, pages, writable } => Step::Apply(Op::MapView {
            pid: pid(p),
            file: FileId(0),
            offset: if second_chunk { 64 * 1024 } else { 0 },
            size: pages as u64 * PAGE,
            address: Some(slot_base(slot)),
            protection: if writable { Protection::ReadWrite } else { Protection::ReadOnly },
        }),
        Raw::Touch { p, slot, off, count, write, node } => Step::Touch {
            pid: pid(p),
            address: slot_base(slot) + off as u64 * PAGE,
            pages: count as u64,
            kind: if write { AccessKind::Write } else { AccessKind::Read },
            node,
        },
        Raw::Trim { p, pages } => Step::Apply(Op::Trim { pid: pid(p), pages: pages.map(u64::from) }),
        Raw::SetWs { p, limits } => {
            Step::Apply(Op::SetWorkingSetSize { pid: pid(p), limits: limits.map(|(a, b)| (a as u64, b as u64)) })
        }
        Raw::WriteModified { pages } => Step::Apply(Op::WriteModified { pages: pages.map(u64::from) }),
        Raw::Advance { ticks } => Step::Apply(Op::Advance { ticks: ticks as u32 }),
        Raw::AgeWorkingSets => Step::Apply(Op::AgeWorkingSets),
        Raw::Exit { p } => Step::Apply(Op::Exit { pid: pid(p) }),
        Raw::Window { p, slot, pages } => Step::Apply(Op::ReservePhysical {
            pid: pid(p),
            address: Some(slot_base(slot)),
            size: pages as u64 * PAGE,
            protection: Protection::ReadWrite,
            commit: false,
        }),
        Raw::AllocateAwe { p, pages, node } => {
            Step::Apply(Op::AllocatePhysical { pid: pid(p), pages: pages as u64, node })
        }
        Raw::MapAwe { p, slot, off, ref entries, null, scatter } => Step::MapAwe {
            pid: pid(p),
            address: slot_base(slot) + off as u64 * PAGE,
            entries: entries.clone(),
            null,
            scatter,
        },
        Raw::FreeAwe { p, ref entries } => Step::FreeAwe { pid: pid(p), entries: entries.clone() },
        Raw::Lock { p, slot, off, pages, unlock } => {
            let (pid, address, size) = (pid(p), slot_base(slot) + off as u64 * PAGE, pages as u64 * PAGE);
            Step::Apply(if unlock {
                Op::VirtualUnlock { pid, address, size }
            } else {
                Op::VirtualLock { pid, address, size }
            })
        }
    }
}

/// (ws_min, ws_max, hard maximum, policy, node) of a process; a hard
/// maximum of `None` takes the policy's default (soft under aging).
type ProcSpec = (u64, u64, Option<bool>, Option<PolicyKind>, u8);

/// A small machine (one or two NUMA nodes, a few bad frames) and its
/// processes.
#[derive(Clone, Debug)]
struct Setup {
    frames: u64,
    pagefile_pages: u64,
    cluster: (u32, u32),
    policy: PolicyKind,
    seed: u64,
    file_pages: u64,
    numa_nodes: u8,
    bad_frames: Vec<u32>,
    /// Each process.
    procs: Vec<ProcSpec>,
    /// The balance set manager: (period in ns, available_below, goal above it).
    balance: (u64, u64, u64),
}

fn policy_strategy() -> impl Strategy<Value = PolicyKind> {
    prop::sample::select(PolicyKind::ALL.to_vec())
}

fn setup_strategy() -> impl Strategy<Value = Setup> {
    (
        32u64..=128,
        16u64..=128,
        (0u32..8, 0u32..8),
        policy_strategy(),
        any::<u64>(),
        1u64..64,
        (1u8..=2, prop::collection::vec(0u32..32, 0..3)),
        (
            prop::collection::vec(
                (1u64..6, 2u64..24, prop::option::of(any::<bool>()), prop::option::of(policy_strategy()), 0u8..2),
                1..=3,
            ),
            // Periods short enough that faults wake the manager too.
            (prop::sample::select(vec![2_000u64, 20_000, 1_000_000_000]), 0u64..40, 0u64..16),
        ),
    )
        .prop_map(
            |(
                frames,
                pagefile_pages,
                cluster,
                policy,
                seed,
                file_pages,
                (numa_nodes, bad_frames),
                (procs, balance),
            )| Setup {
                frames,
                pagefile_pages,
                cluster,
                policy,
                seed,
                file_pages,
                numa_nodes,
                bad_frames,
                procs,
                balance,
            },
        )
}

fn build(s: &Setup) -> Machine {
    let mut c = MachineConfig::with_memory(Bytes(s.frames * PAGE));
    c.pagefile = Bytes(s.pagefile_pages * PAGE);
    c.cluster.pagefile = s.cluster.0;
    c.cluster.file = s.cluster.1;
    c.policy = s.policy;
    c.seed = s.seed;
    c.numa_nodes = s.numa_nodes;
    c.bad_frames = s.bad_frames.clone();
    let (period, below, above) = s.balance;
    c.balance.period = pagelab::units::SimNanos(period);
    c.balance.available_below = below.min(s.frames);
    c.balance.goal = c.balance.available_below + above;
    let mut m = Machine::new(c).expect("a valid small machine");
    m.set_recording(true);
    // Every process holds the lock-memory privilege; the even ones enable it.
    m.apply(&Op::GrantPrivilege { privilege: Privilege::LockMemory }).expect("grant");
    m.apply(&Op::Logon).expect("logon");
    for (i, &(min, max, hard, policy, node)) in s.procs.iter().enumerate() {
        let v = m
            .apply(&Op::CreateProcess {
                name: format!("p{i}"),
                ws_min: Some(min),
                ws_max: Some(max),
                hard_max: hard,
                policy,
                node,
                auto_commit: false,
            })
            .expect("create process");
        assert_eq!(v, OpValue::Process(ProcessId(i as u16)));
        if i % 2 == 0 {
            let pid = ProcessId(i as u16);
            m.apply(&Op::AdjustTokenPrivileges { pid, privilege: Privilege::LockMemory, enable: true })
                .expect("adjust");
        }
    }
    let v = m.apply(&Op::CreateFile { name: "f".into(), size: s.file_pages * PAGE - 100 }).expect("create file");
    assert_eq!(v, OpValue::File(FileId(0)));
    m
}

/// Checks the model's invariants plus what can be seen from outside:
/// counters only grow, per-process references add up, commit stays within
/// its limit, available = zeroed + free + standby.
fn audit(m: &Machine, before: &pagelab::machine::Counters) -> Result<(), String> {
    m.check_invariants()?;
    let s = m.snapshot();
    let c = s.counters;
    let grew = [
        (c.paging.references, before.paging.references, "references"),
        (c.paging.demand_zero, before.paging.demand_zero, "demand_zero"),
        (c.paging.soft, before.paging.soft, "soft"),
        (c.paging.hard_pagefile, before.paging.hard_pagefile, "hard_pagefile"),
        (c.paging.hard_file, before.paging.hard_file, "hard_file"),
        (c.paging.access_violations, before.paging.access_violations, "access_violations"),
        (c.paging.evictions, before.paging.evictions, "evictions"),
        (c.activity.io_reads, before.activity.io_reads, "io_reads"),
        (c.activity.io_writes, before.activity.io_writes, "io_writes"),
    ];
    for (now, was, name) in grew {
        if now < was {
            return Err(format!("counter {name} went down from {was} to {now}"));
        }
    }
    let per_process: u64 = s.processes.iter().map(|p| p.counters.paging.references).sum();
    if per_process != c.paging.references {
        return Err(format!("processes made {per_process} references, the machine counts {}", c.paging.references));
    }
    if c.paging.faults() + c.paging.access_violations > c.paging.references {
        return Err(format!(
            "{} faults and {} violations in {} references",
            c.paging.faults(),
            c.paging.access_violations,
            c.paging.references
        ));
    }
    if s.commit_charge > s.commit_limit {
        return Err(format!("commit charge {} above the limit {}", s.commit_charge, s.commit_limit));
    }
    if s.available != s.lists.zeroed + s.lists.free + s.lists.standby {
        return Err(format!("available {} is not zeroed + free + standby ({:?})", s.available, s.lists));
    }
    if s.pagefile_used > s.pagefile_capacity {
        return Err(format!("page file {} of {} slots", s.pagefile_used, s.pagefile_capacity));
    }
    // QueryWorkingSetEx agrees with the PTE and the PFN entry of every page.
    for p in m.processes() {
        for (vpn, pte) in p.page_table.iter() {
            let b = m.query_working_set_ex(p.id, vpn.address());
            if b.valid() != pte.is_valid() {
                return Err(format!(
                    "{}: QueryWorkingSetEx says valid {} for a {} PTE at {vpn}",
                    p.name,
                    b.valid(),
                    pte.kind()
                ));
            }
            if !pte.is_valid() {
                continue;
            }
            let e = m.pfn_db().entry(pte.pfn());
            let ws_locked = pte.in_working_set() && p.ws.is_locked(e.ws_index());
            let want = (m.pfn_db().node_of(pte.pfn()), ws_locked || e.awe() || e.large(), e.large());
            if (b.node(), b.locked(), b.large_page()) != want {
                return Err(format!(
                    "{}: QueryWorkingSetEx at {vpn} is {b}, the PFN entry says (node, locked, large) {want:?}",
                    p.name
                ));
            }
        }
    }
    Ok(())
}

/// The frames an AWE step names: entries of the process's PFN array
/// (wrapping round it); an empty array still names frames, ones the
/// process never owned.
fn awe_frames(array: &[pagelab::units::Pfn], entries: &[u8]) -> Vec<pagelab::units::Pfn> {
    entries
        .iter()
        .map(|&e| if array.is_empty() { pagelab::units::Pfn(e as u32) } else { array[e as usize % array.len()] })
        .collect()
}

/// Runs the steps, auditing after every operation and every reference.
fn run_steps(setup: &Setup, steps: &[Step]) -> Result<Machine, TestCaseError> {
    let mut m = build(setup);
    let mut before = m.counters();
    audit(&m, &before).map_err(|e| TestCaseError::fail(format!("after setup {setup:?}: {e}")))?;
    let fail = |i: usize, what: &str, e: String| {
        TestCaseError::fail(format!(
            "{what} of step {i} broke an invariant: {e}\nsetup: {setup:?}\nsteps: {:#?}",
            &steps[..=i]
        ))
    };
    // Each process's PFN array (freed frames stay in it, as in a program's),
    // and the pages VirtualLock locked that nothing has unlocked or freed.
    let mut arrays: Vec<Vec<pagelab::units::Pfn>> = vec![Vec::new(); setup.procs.len()];
    let mut locked: BTreeSet<(u16, u64)> = BTreeSet::new();
    for (i, step) in steps.iter().enumerate() {
        match step {
            Step::Apply(op) => {
                let r = m.apply(op);
                match (op, &r) {
                    (Op::AllocatePhysical { pid, .. }, Ok(OpValue::Frames(f))) => arrays[pid.0 as usize].extend(f),
                    (Op::VirtualLock { pid, address, size }, Ok(_)) => {
                        locked.extend((address / PAGE..(address + size).div_ceil(PAGE)).map(|v| (pid.0, v)));
                    }
                    (Op::VirtualUnlock { pid, address, size }, Ok(_))
                    | (Op::Decommit { pid, address, size }, Ok(_)) => {
                        for v in address / PAGE..(address + size).div_ceil(PAGE) {
                            locked.remove(&(pid.0, v));
                        }
                    }
                    (Op::Release { pid, .. }, Ok(_)) | (Op::Exit { pid }, Ok(_)) => {
                        // What is left of the process's VADs says what stays.
                        let p = m.process(*pid).expect("the process");
                        locked.retain(|&(q, v)| q != pid.0 || p.vad_at(pagelab::units::Vpn(v)).is_some());
                    }
                    _ => {}
                }
                audit(&m, &before).map_err(|e| fail(i, "the operation", e))?;
                for &(q, v) in &locked {
                    let p = m.process(ProcessId(q)).expect("the process");
                    let pte = p.page_table.get(pagelab::units::Vpn(v));
                    let in_ws = pte.is_valid()
                        && (!pte.in_working_set() || p.ws.is_locked(m.pfn_db().entry(pte.pfn()).ws_index()));
                    if !in_ws {
                        return Err(fail(
                            i,
                            "the operation",
                            format!("locked page {v:#x} of {} left the working set", p.name),
                        ));
                    }
                }
                before = m.counters();
            }
            Step::MapAwe { pid, address, entries, null, scatter } => {
                let frames = awe_frames(&arrays[pid.0 as usize], entries);
                let frames = (!null).then_some(frames);
                let n = entries.len() as u64;
                let op = if *scatter {
                    Op::MapPhysicalScatter {
                        pid: *pid,
                        addresses: (0..n).map(|k| address + 2 * k * PAGE).collect(),
                        frames,
                    }
                } else {
                    Op::MapPhysical { pid: *pid, address: *address, pages: n, frames }
                };
                let _ = m.apply(&op);
                audit(&m, &before).map_err(|e| fail(i, "the map", e))?;
                before = m.counters();
            }
            Step::FreeAwe { pid, entries } => {
                let frames = awe_frames(&arrays[pid.0 as usize], entries);
                let _ = m.apply(&Op::FreePhysical { pid: *pid, frames });
                audit(&m, &before).map_err(|e| fail(i, "the free", e))?;
                before = m.counters();
            }
            Step::Touch { pid, address, pages, kind, node } => {
                for k in 0..*pages {
                    let r = m.access(*pid, address + k * PAGE, *kind, *node, NEVER);
                    if let Err(e) = &r {
                        if !matches!(e, OpError::AccessViolation { .. } | OpError::NoMemory | OpError::NoSuchProcess(_))
                        {
                            return Err(fail(i, "a reference", format!("unexpected error {e:?}")));
                        }
                    }
                    // Every reference, hits too: a hit changes the PTE's bits
                    // and the policy's order, which the checks cover.
                    audit(&m, &before).map_err(|e| fail(i, &format!("reference {k} ({r:?})"), e))?;
                    before = m.counters();
                }
            }
        }
        let _ = m.drain_events();
    }
    Ok(m)
}

proptest! {
    // 1,000 sequences by default; 10,000 with PAGELAB_PROPTEST_LONG set.
    #![proptest_config(proptest_config(cases_or_long(1_000, 10_000)))]

    /// Random operations on a small machine (32-128 frames, 1-3 processes, a
    /// page file of 16-128 pages, one mapped file): after every operation
    /// and every reference that faults or fails, every invariant holds.
    #[test]
    fn invariants_hold_after_every_operation(
        setup in setup_strategy(),
        raw in prop::collection::vec(raw_strategy(), 1..40),
    ) {
        let mut steps: Vec<Step> = raw.iter().map(|r| concrete(r, setup.procs.len())).collect();
        // Then every process exits: everything it held comes back.
        steps.extend((0..setup.procs.len()).map(|p| Step::Apply(Op::Exit { pid: ProcessId(p as u16) })));
        let m = run_steps(&setup, &steps)?;
        let s = m.snapshot();
        prop_assert_eq!(s.lists.zeroed + s.lists.free + s.lists.bad, s.frames, "{:?}", s.lists);
        prop_assert_eq!(s.lists.bad, setup.bad_frames.iter().collect::<BTreeSet<_>>().len() as u64);
        prop_assert_eq!((s.commit_charge, s.pagefile_used), (0, 0));
    }
}

/// A memory-pressure workload: small memory, several busy processes with
/// soft limits, a small page file; every frame gets reused.
#[test]
fn invariants_hold_under_heavy_pressure() {
    let setup = Setup {
        frames: 32,
        pagefile_pages: 24,
        cluster: (7, 7),
        policy: PolicyKind::Clock,
        seed: 3,
        file_pages: 16,
        numa_nodes: 2,
        bad_frames: vec![5],
        procs: vec![
            (1, 40, Some(false), None, 0),
            (1, 20, Some(true), Some(PolicyKind::Lru), 1),
            (2, 8, Some(true), Some(PolicyKind::Fifo), 0),
        ],
        balance: (1_000_000_000, 2, 4),
    };
    let mut steps = Vec::new();
    for p in 0..3u16 {
        let pid = ProcessId(p);
        steps.push(Step::Apply(Op::Reserve {
            pid,
            address: Some(slot_base(0)),
            size: 12 * PAGE,
            protection: Protection::ReadWrite,
            commit: true,
        }));
        steps.push(Step::Apply(Op::MapView {
            pid,
            file: FileId(0),
            offset: 0,
            size: 0,
            address: Some(slot_base(1)),
            protection: Protection::ReadWrite,
        }));
    }
    for round in 0..2u64 {
        for p in 0..3u16 {
            let kind = if (round + p as u64) % 2 == 0 { AccessKind::Write } else { AccessKind::Read };
            steps.push(Step::Touch { pid: ProcessId(p), address: slot_base(0), pages: 12, kind, node: None });
            steps.push(Step::Touch { pid: ProcessId(p), address: slot_base(1), pages: 16, kind, node: Some(1) });
        }
        steps.push(Step::Apply(Op::Advance { ticks: 1 }));
    }
    steps.push(Step::Apply(Op::Exit { pid: ProcessId(1) }));
    steps.push(Step::Touch { pid: ProcessId(0), address: slot_base(0), pages: 12, kind: AccessKind::Read, node: None });
    let m = run_steps(&setup, &steps).unwrap();
    // The workload did what it is for.
    let c = m.counters();
    assert!(c.activity.repurposed > 0 && c.paging.hard_pagefile > 0 && c.paging.hard_file > 0, "{c:?}");
    assert!(c.activity.pages_written_pagefile > 0 && c.activity.pages_written_file > 0, "{c:?}");
    assert_eq!(c.paging.access_violations, 0, "{c:?}");
}

/// The same pressure under aging: soft maxima, the balance set manager
/// waking every 20 us of simulated time and at every advance tick, and
/// trimming by age; every invariant after every operation and reference.
#[test]
fn invariants_hold_while_the_balance_set_manager_trims() {
    let setup = Setup {
        frames: 48,
        pagefile_pages: 64,
        cluster: (3, 3),
        policy: PolicyKind::Aging,
        seed: 5,
        file_pages: 16,
        numa_nodes: 1,
        bad_frames: vec![],
        procs: vec![(4, 8, None, None, 0), (4, 30, None, None, 0), (2, 12, None, Some(PolicyKind::WsClock), 0)],
        balance: (20_000, 16, 8),
    };
    let mut steps = Vec::new();
    for p in 0..3u16 {
        steps.push(Step::Apply(Op::Reserve {
            pid: ProcessId(p),
            address: Some(slot_base(0)),
            size: 24 * PAGE,
            protection: Protection::ReadWrite,
            commit: true,
        }));
    }
    for round in 0..4u64 {
        for p in 0..3u16 {
            let pages = if p == 0 && round > 0 { 2 } else { 20 };
            let kind = if round % 2 == 0 { AccessKind::Write } else { AccessKind::Read };
            steps.push(Step::Touch { pid: ProcessId(p), address: slot_base(0), pages, kind, node: None });
        }
        steps.push(Step::Apply(Op::Advance { ticks: 2 }));
        steps.push(Step::Apply(Op::AgeWorkingSets));
    }
    let m = run_steps(&setup, &steps).unwrap();
    let b = m.balance();
    assert!(b.runs > 0 && b.pages_trimmed > 0 && b.pages_scanned > 0, "{b:?}");
}

/// One action of the reference-model comparison.
#[derive(Clone, Debug)]
enum ModelAct {
    Touch { page: u64, write: bool },
    Commit { first: u64, pages: u64 },
    Decommit { first: u64, pages: u64 },
}

/// A working set as the textbook describes it.
struct ModelWs {
    policy: PolicyKind,
    max: usize,
    /// FIFO: load order; LRU: recency order; CLOCK: the circle from the hand.
    order: VecDeque<(u64, bool)>,
}

impl ModelWs {
    /// References `page`; true if it missed.
    fn reference(&mut self, page: u64) -> bool {
        if let Some(i) = self.order.iter().position(|(p, _)| *p == page) {
            match self.policy {
                PolicyKind::Lru => {
                    let e = self.order.remove(i).expect("present");
                    self.order.push_back(e);
                }
                PolicyKind::Clock => self.order[i].1 = true,
                _ => {}
            }
            return false;
        }
        if self.order.len() == self.max {
            loop {
                let (p, used) = self.order.pop_front().expect("full");
                if self.policy == PolicyKind::Clock && used {
                    self.order.push_back((p, false));
                } else {
                    break;
                }
            }
        }
        self.order.push_back((page, true));
        true
    }

    fn remove(&mut self, page: u64) {
        self.order.retain(|(p, _)| *p != page);
    }
}

fn model_act() -> impl Strategy<Value = ModelAct> {
    prop_oneof![
        20 => (0u64..40, any::<bool>()).prop_map(|(page, write)| ModelAct::Touch { page, write }),
        1 => (0u64..32, 1u64..8).prop_map(|(first, pages)| ModelAct::Commit { first, pages }),
        1 => (0u64..32, 1u64..8).prop_map(|(first, pages)| ModelAct::Decommit { first, pages }),
    ]
}

proptest! {
    #![proptest_config(proptest_config(128))]

    /// One process on a machine with plenty of memory (so nothing is ever
    /// repurposed or trimmed for pressure): every fault is what a textbook
    /// FIFO, LRU or CLOCK working set of `max` pages predicts; first touches
    /// of committed pages are demand zero, other misses soft; touching
    /// reserved-but-uncommitted or free pages is an access violation.
    #[test]
    fn one_process_matches_a_reference_working_set(
        policy in prop::sample::select(vec![PolicyKind::Fifo, PolicyKind::Lru, PolicyKind::Clock]),
        max in 1usize..12,
        committed_at_reserve in any::<bool>(),
        first_commit in (0u64..32, 0u64..32),
        acts in prop::collection::vec(model_act(), 1..200),
    ) {
        // A 32-page reservation at 0x10000; pages 32..40 are free space.
        const BASE: u64 = 0x10000;
        const RESERVED: u64 = 32;
        let mut c = MachineConfig::with_memory(Bytes(1 << 20));
        c.pagefile = Bytes(1 << 20);
        let mut m = Machine::new(c).unwrap();
        let OpValue::Process(pid) = m.apply(&Op::CreateProcess {
            name: "p".into(), ws_min: Some(1), ws_max: Some(max as u64), hard_max: Some(true),
            policy: Some(policy), node: 0, auto_commit: false,
        }).unwrap() else { unreachable!() };
        m.apply(&Op::Reserve {
            pid, address: Some(BASE), size: RESERVED * PAGE, protection: Protection::ReadWrite,
            commit: committed_at_reserve,
        }).unwrap();
        let mut committed: BTreeSet<u64> = BTreeSet::new();
        if committed_at_reserve {
            committed.extend(0..RESERVED);
        }
        let (a, b) = (first_commit.0.min(first_commit.1), first_commit.0.max(first_commit.1) + 1);
        m.apply(&Op::Commit { pid, address: BASE + a * PAGE, size: (b - a) * PAGE, protection: Protection::ReadWrite })
            .unwrap();
        committed.extend(a..b);

        let mut ws = ModelWs { policy, max, order: VecDeque::new() };
        let mut seen: BTreeSet<u64> = BTreeSet::new();
        let (mut refs, mut dz, mut soft, mut av) = (0u64, 0u64, 0u64, 0u64);
        for (i, act) in acts.iter().enumerate() {
            match *act {
                ModelAct::Touch { page, write } => {
                    refs += 1;
                    let kind = if write { AccessKind::Write } else { AccessKind::Read };
                    let got = m.access(pid, BASE + page * PAGE, kind, None, NEVER);
                    let want = if !committed.contains(&page) {
                        av += 1;
                        None
                    } else if !ws.reference(page) {
                        Some(Resolution::Hit)
                    } else if seen.insert(page) {
                        dz += 1;
                        Some(Resolution::DemandZero)
                    } else {
                        soft += 1;
                        Some(Resolution::Soft)
                    };
                    match (want, &got) {
                        (None, Err(OpError::AccessViolation { .. })) => {}
                        (Some(w), Ok(g)) if w == *g => {}
                        _ => prop_assert!(false, "act {} {:?}: model says {:?}, machine {:?}\nacts: {:?}",
                            i, act, want, got, &acts[..=i]),
                    }
                }
                ModelAct::Commit { first, pages } => {
                    let r = m.apply(&Op::Commit {
                        pid, address: BASE + first * PAGE, size: pages * PAGE, protection: Protection::ReadWrite,
                    });
                    if first + pages <= RESERVED {
                        prop_assert!(r.is_ok(), "commit inside the reservation failed: {:?}", r);
                        committed.extend(first..first + pages);
                    } else {
                        prop_assert!(r.is_err(), "commit past the reservation succeeded");
                    }
                }
                ModelAct::Decommit { first, pages } => {
                    let r = m.apply(&Op::Decommit { pid, address: BASE + first * PAGE, size: pages * PAGE });
                    if first + pages <= RESERVED {
                        prop_assert!(r.is_ok(), "decommit inside the reservation failed: {:?}", r);
                        for p in first..first + pages {
                            committed.remove(&p);
                            seen.remove(&p);
                            ws.remove(p);
                        }
                    } else {
                        prop_assert!(r.is_err(), "decommit past the reservation succeeded");
                    }
                }
            }
            if i == acts.len() / 2 {
                m.check_invariants().map_err(|e| TestCaseError::fail(format!("act {i} {act:?}: {e}")))?;
            }
        }
        m.check_invariants().map_err(|e| TestCaseError::fail(format!("at the end: {e}")))?;
        let c = m.counters();
        prop_assert_eq!(c.paging.references, refs);
        prop_assert_eq!((c.paging.demand_zero, c.paging.soft, c.paging.hard()), (dz, soft, 0));
        prop_assert_eq!(c.paging.access_violations, av);
        prop_assert_eq!(m.snapshot().processes[0].ws_size, ws.order.len() as u64);
        prop_assert_eq!(m.snapshot().commit_charge, committed.len() as u64);
    }
}

proptest! {
    #![proptest_config(proptest_config(64))]

    /// Local replacement (NT 3.1, KB Q99707): with hard working-set maxima
    /// and memory to spare, a process only ever evicts its own pages, so
    /// each of two interleaved processes faults exactly as its own
    /// reference model predicts, whatever the other does.
    #[test]
    fn processes_replace_only_their_own_pages(
        policies in (prop::sample::select(vec![PolicyKind::Fifo, PolicyKind::Lru, PolicyKind::Clock]),
                     prop::sample::select(vec![PolicyKind::Fifo, PolicyKind::Lru, PolicyKind::Clock])),
        maxima in (1usize..10, 1usize..10),
        refs in prop::collection::vec((any::<bool>(), 0u64..24, any::<bool>()), 1..300),
    ) {
        const BASE: u64 = 0x10000;
        let mut c = MachineConfig::with_memory(Bytes(1 << 20));
        c.pagefile = Bytes(1 << 20);
        let mut m = Machine::new(c).unwrap();
        let mut models = Vec::new();
        let mut pids = Vec::new();
        for (policy, max) in [(policies.0, maxima.0), (policies.1, maxima.1)] {
            let OpValue::Process(pid) = m.apply(&Op::CreateProcess {
                name: format!("p{}", pids.len()), ws_min: Some(1), ws_max: Some(max as u64), hard_max: Some(true),
                policy: Some(policy), node: 0, auto_commit: false,
            }).unwrap() else { unreachable!() };
            m.apply(&Op::Reserve {
                pid, address: Some(BASE), size: 24 * PAGE, protection: Protection::ReadWrite, commit: true,
            }).unwrap();
            pids.push(pid);
            models.push((ModelWs { policy, max, order: VecDeque::new() }, 0u64));
        }
        for &(second, page, write) in &refs {
            let i = second as usize;
            let kind = if write { AccessKind::Write } else { AccessKind::Read };
            let r = m.access(pids[i], BASE + page * PAGE, kind, None, NEVER).unwrap();
            let missed = models[i].0.reference(page);
            models[i].1 += missed as u64;
            prop_assert_eq!(r != Resolution::Hit, missed, "process {} page {}", i, page);
        }
        let s = m.snapshot();
        for (p, (model, faults)) in s.processes.iter().zip(&models) {
            prop_assert_eq!(p.counters.paging.faults(), *faults);
            prop_assert_eq!(p.ws_size, model.order.len() as u64);
            prop_assert_eq!(p.counters.paging.hard_pagefile, 0);
        }
        m.check_invariants().map_err(TestCaseError::fail)?;
    }
}

fn mutate(text: &str, at: usize, cut: usize, insert: &str) -> String {
    let b = text.as_bytes();
    let at = at % (b.len() + 1);
    let end = (at + cut).min(b.len());
    let mut v = b[..at].to_vec();
    v.extend_from_slice(insert.as_bytes());
    v.extend_from_slice(&b[end..]);
    String::from_utf8_lossy(&v).into_owned()
}

/// The position of an error in `text` is inside the text.
fn position_is_inside(text: &str, line: usize, col: usize) -> bool {
    let lines: Vec<&str> = text.split('\n').collect();
    line >= 1 && col >= 1 && line <= lines.len() && col <= lines[line - 1].len() + 1
}

proptest! {
    #![proptest_config(proptest_config(256))]

    #[test]
    fn load_str_never_panics_on_arbitrary_text(text in any::<String>()) {
        if let Err(e) = load_str(&text, "x.toml", None, &[]) {
            prop_assert_eq!(&e.file, "x.toml");
            prop_assert!(position_is_inside(&text, e.line, e.col), "{} outside the text", e);
            prop_assert!(!e.message.trim().is_empty() || text.trim_end().ends_with('='), "empty message: {}", e);
        }
    }

    /// Built-in scenarios with a piece cut out and something pasted in:
    /// never a panic, and an error always points inside the text.
    #[test]
    fn load_str_never_panics_on_mutated_scenarios(
        which in 0..BUILTINS.len(),
        at in any::<usize>(),
        cut in 0usize..40,
        insert in prop_oneof![
            Just(String::new()),
            "[a-z_.=\"\\[\\] 0-9\n-]{0,12}",
            Just("\n[[step]]\nop = \"touch\"\n".to_string()),
            Just("= -1".to_string()),
            Just("\"4 TiB\"".to_string()),
            Just("0x".to_string()),
            any::<String>(),
        ],
    ) {
        let text = mutate(BUILTINS[which].1, at, cut, &insert);
        if let Err(e) = load_str(&text, "m.toml", None, &[]) {
            prop_assert_eq!(&e.file, "m.toml");
            prop_assert!(position_is_inside(&text, e.line, e.col), "{} outside the text:\n{}", e, text);
        }
    }

    #[test]
    fn overrides_never_panic(set in "[a-z_.]{0,16}=?[ -~]{0,16}") {
        match Override::parse(&set) {
            Err(msg) => prop_assert!(msg.contains("--set")),
            Ok(o) => {
                if let Err(e) = load_str(BUILTINS[0].1, "tour", None, &[o]) {
                    prop_assert!(e.file.starts_with("--set") || e.file == "tour", "{}", e);
                }
            }
        }
    }

    #[test]
    fn trace_readers_never_panic_on_arbitrary_bytes(bytes in prop::collection::vec(any::<u8>(), 0..600)) {
        for f in [TraceFormat::Refs, TraceFormat::Lackey, TraceFormat::OracleGeneral] {
            for r in TraceReader::new(&bytes[..], f) {
                match r {
                    Ok(t) => prop_assert!(t.page < 1 << 36),
                    Err(e) => {
                        prop_assert!(e.line >= 1 && e.col >= 1, "{:?}", e);
                        if f != TraceFormat::OracleGeneral {
                            let lines = bytes.iter().filter(|&&b| b == b'\n').count() as u64 + 1;
                            prop_assert!(e.line <= lines, "line {} of {}", e.line, lines);
                        }
                    }
                }
            }
        }
    }

    /// Lackey-looking lines, some broken: never a panic.
    #[test]
    fn lackey_reader_never_panics_on_near_misses(
        text in "((==[0-9]{1,3}== [ -~]{0,10})|([ ]{0,2}[ILSMX][ ]{1,2}[0-9a-fA-Fx]{0,20},?[0-9]{0,5}[ ]?))(\n((==[0-9]{1,3}== [ -~]{0,10})|([ ]{0,2}[ILSMX][ ]{1,2}[0-9a-fA-Fx]{0,20},?[0-9]{0,5}[ ]?))){0,12}"
    ) {
        if let Err(e) = read_all(text.as_bytes(), TraceFormat::Lackey) {
            prop_assert!(e.line >= 1 && e.line as usize <= text.split('\n').count(), "line {} outside the input", e.line);
            prop_assert!(e.col >= 1, "column {}", e.col);
            prop_assert!(!e.message.is_empty(), "empty message at {}:{}", e.line, e.col);
        }
    }

    /// Well-formed lackey records touch pages a>>12 ..= (a+s-1)>>12 in
    /// order; S and M write, I and L read.
    #[test]
    fn lackey_records_touch_the_pages_they_span(
        recs in prop::collection::vec((0usize..4, 0u64..(1 << 40), 1u64..20_000), 0..40),
    ) {
        let mut text = String::from("==1== Lackey\n");
        let mut want = Vec::new();
        for &(k, a, s) in &recs {
            let kind = ["I ", " L", " S", " M"][k];
            text.push_str(&format!("{kind} {a:08x},{s}\n"));
            for page in a >> 12..=(a + s - 1) >> 12 {
                want.push((page, k >= 2));
            }
        }
        let got: Vec<(u64, bool)> =
            read_all(text.as_bytes(), TraceFormat::Lackey).unwrap().into_iter().map(|r| (r.page, r.write)).collect();
        prop_assert_eq!(got, want);
    }

    /// Reference strings with any mix of separators and comments read back
    /// exactly; oracleGeneral round-trips.
    #[test]
    fn refs_and_oracle_general_read_back_what_was_written(
        pages in prop::collection::vec((0u64..(1 << 36), any::<bool>(), 0usize..5), 0..60),
    ) {
        let mut text = String::new();
        for &(p, hex, sep) in &pages {
            text.push_str(&if hex { format!("{p:#x}") } else { p.to_string() });
            text.push_str([",", " ", "\n", ", ", " # note 12 x\n"][sep]);
        }
        let want: Vec<u64> = pages.iter().map(|t| t.0).collect();
        let got: Vec<u64> = read_all(text.as_bytes(), TraceFormat::Refs).unwrap().into_iter().map(|r| r.page).collect();
        prop_assert_eq!(&got, &want);
        let mut bin = Vec::new();
        write_oracle_general(&want, &mut bin).unwrap();
        prop_assert_eq!(bin.len(), 24 * want.len());
        let got: Vec<u64> = read_all(&bin[..], TraceFormat::OracleGeneral).unwrap().into_iter().map(|r| r.page).collect();
        prop_assert_eq!(got, want);
    }
}

/// One action of the large-page property.
#[derive(Clone, Debug)]
enum LargeAct {
    /// VirtualAlloc(MEM_LARGE_PAGES) of `count` large pages in slot `slot`
    /// (its own 8 MiB of address space), at a fixed address or not.
    Allocate { p: u8, slot: u8, count: u8, fixed: bool },
    /// VirtualFree(MEM_RELEASE) of slot `slot`.
    Release { p: u8, slot: u8 },
    /// Small pages: commit and write `pages` pages (fragmenting memory).
    Small { p: u8, pages: u16 },
    /// Trim a working set: small pages go to the lists, large ones stay.
    Trim { p: u8 },
    /// A process exits.
    Exit { p: u8 },
    /// A fragment step: leave `free` tenths of memory free, `unmovable`
    /// of 1000 frames drivers' pages.
    Fragment { p: u8, free: u8, unmovable: u8, pattern: u8 },
    /// A driver's contiguous request of `pages` frames aligned to 2^`align`.
    Contiguous { pages: u16, align: u8 },
    /// The latest contiguous allocation is freed.
    FreeContiguous,
    /// pagelab's experiment: the first large page of slot `slot` is paged out.
    PageOut { p: u8, slot: u8 },
    /// A reference to the first page of slot `slot` (a paged-out large
    /// page comes back whole, or cannot).
    TouchLarge { p: u8, slot: u8 },
}

fn large_act() -> impl Strategy<Value = LargeAct> {
    prop_oneof![
        6 => (0u8..2, 0u8..4, 1u8..4, any::<bool>()).prop_map(|(p, slot, count, fixed)| LargeAct::Allocate { p, slot, count, fixed }),
        3 => (0u8..2, 0u8..4).prop_map(|(p, slot)| LargeAct::Release { p, slot }),
        4 => (0u8..2, 1u16..700).prop_map(|(p, pages)| LargeAct::Small { p, pages }),
        2 => (0u8..2).prop_map(|p| LargeAct::Trim { p }),
        1 => (0u8..2).prop_map(|p| LargeAct::Exit { p }),
        2 => (0u8..2, 1u8..9, 0u8..20, 0u8..4).prop_map(|(p, free, unmovable, pattern)| LargeAct::Fragment { p, free, unmovable, pattern }),
        2 => (1u16..600, 0u8..10).prop_map(|(pages, align)| LargeAct::Contiguous { pages, align }),
        1 => Just(LargeAct::FreeContiguous),
        2 => (0u8..2, 0u8..4).prop_map(|(p, slot)| LargeAct::PageOut { p, slot }),
        2 => (0u8..2, 0u8..4).prop_map(|(p, slot)| LargeAct::TouchLarge { p, slot }),
    ]
}

proptest! {
    #![proptest_config(proptest_config(cases_or_long(64, 1_000)))]

    /// Large pages mixed with small ones, fragment steps and drivers'
    /// contiguous requests on a 16 MiB machine (eight 2 MiB regions), under
    /// each era's allocator: after every operation the invariants hold,
    /// among them a recount of the contiguity index, every large page
    /// aligned and contiguous and every system frame locked; an allocation
    /// takes all its pages or none and moves no page out of memory; a
    /// release or an exit returns every frame.
    #[test]
    fn large_pages_are_aligned_contiguous_and_all_or_nothing(
        era in 0usize..3,
        acts in prop::collection::vec(large_act(), 1..30),
    ) {
        let mut cfg = MachineConfig::with_memory(Bytes(16 << 20));
        cfg.pagefile = Bytes(64 << 20);
        cfg.large_page_allocator = pagelab::compaction::Era::ALL[era];
        let mut m = Machine::new(cfg).unwrap();
        m.apply(&Op::GrantPrivilege { privilege: Privilege::LockMemory }).unwrap();
        m.apply(&Op::Logon).unwrap();
        let mut pids = Vec::new();
        for i in 0..2 {
            let op = Op::CreateProcess {
                name: format!("p{i}"),
                ws_min: Some(20),
                ws_max: Some(256),
                hard_max: Some(true),
                policy: None,
                node: 0,
                auto_commit: false,
            };
            let Ok(OpValue::Process(pid)) = m.apply(&op) else { panic!("create") };
            m.apply(&Op::AdjustTokenPrivileges { pid, privilege: Privilege::LockMemory, enable: true }).unwrap();
            pids.push(pid);
        }
        let mut small_next = [0x4000_0000u64; 2];
        let mut contiguous = Vec::new();
        let mut paged_out = std::collections::HashSet::new();
        for act in &acts {
            let before = m.snapshot();
            match *act {
                LargeAct::Allocate { p, slot, count, fixed } => {
                    let pid = pids[p as usize];
                    let address = fixed.then_some(0x100_0000 + slot as u64 * (8 << 20));
                    let size = count as u64 * (2 << 20);
                    let free = m.pfn_db().contiguity().unwrap().free_count();
                    let r = m.apply(&Op::AllocateLarge { pid, address, size, protection: Protection::ReadWrite, commit: true });
                    let after = m.snapshot();
                    match r {
                        Ok(OpValue::Address(a)) => {
                            prop_assert_eq!(a % (2 << 20), 0);
                            if free >= count as u64 {
                                prop_assert_eq!(m.pfn_db().contiguity().unwrap().free_count(), free - count as u64);
                            }
                            // Compaction moves pages; it never takes one out of a working set.
                            prop_assert_eq!(after.lists.active, before.lists.active + count as u64 * 512);
                        }
                        Ok(v) => prop_assert!(false, "unexpected {:?}", v),
                        Err(_) => {
                            // All or nothing: a failed call takes no frame.
                            prop_assert_eq!(after.lists.active, before.lists.active);
                            prop_assert!(m.pfn_db().contiguity().unwrap().free_count() >= free);
                        }
                    }
                }
                LargeAct::Release { p, slot } => {
                    let _ = m.apply(&Op::Release { pid: pids[p as usize], address: 0x100_0000 + slot as u64 * (8 << 20) });
                    paged_out.remove(&(p, slot));
                }
                LargeAct::Small { p, pages } => {
                    let pid = pids[p as usize];
                    let base = small_next[p as usize];
                    let size = pages as u64 * PAGE;
                    let op = Op::Reserve { pid, address: Some(base), size, protection: Protection::ReadWrite, commit: true };
                    if m.apply(&op).is_ok() {
                        small_next[p as usize] += size.next_multiple_of(0x10000);
                        for i in 0..pages as u64 {
                            let _ = m.access(pid, base + i * PAGE, AccessKind::Write, None, NEVER);
                        }
                    }
                }
                LargeAct::Trim { p } => {
                    let _ = m.apply(&Op::Trim { pid: pids[p as usize], pages: None });
                }
                LargeAct::Exit { p } => {
                    let _ = m.apply(&Op::Exit { pid: pids[p as usize] });
                    paged_out.retain(|&(q, _)| q != p);
                }
                LargeAct::Fragment { p, free, unmovable, pattern } => {
                    // Pattern 3: free blocks as a buddyinfo gives them.
                    let blocks = (pattern == 3).then(|| std::sync::Arc::new(vec![free as u64 * 20, free as u64 * 5, 3, 1, 1, 0, 0, 0, 0, 1]));
                    let spec = pagelab::fragment::FragmentSpec {
                        pid: pids[p as usize],
                        free_blocks: blocks.clone(),
                        free: free as u64 * 100_000,
                        unmovable: unmovable as u64 * 1_000,
                        standby: 300_000,
                        modified: 300_000,
                        pattern: pagelab::fragment::FragmentPattern::ALL[pattern as usize % 3],
                    };
                    if m.apply(&Op::Fragment(spec)).is_ok() {
                        if let Some(b) = blocks {
                            let zones = m.free_zones(pagelab::fragmentation::Order::new(9));
                            prop_assert_eq!(zones[0].blocks.counts(), &b[..]);
                        }
                    }
                }
                LargeAct::Contiguous { pages, align } => {
                    let op = Op::AllocateContiguous { size: pages as u64 * PAGE, alignment: PAGE << align, highest: u64::MAX };
                    match m.apply(&op) {
                        Ok(OpValue::Address(a)) => {
                            prop_assert_eq!(a % (PAGE << align), 0);
                            prop_assert_eq!(m.snapshot().lists.active, before.lists.active + pages as u64);
                            contiguous.push(a);
                        }
                        Ok(v) => prop_assert!(false, "unexpected {:?}", v),
                        Err(_) => prop_assert_eq!(m.snapshot().lists.active, before.lists.active),
                    }
                }
                LargeAct::PageOut { p, slot } => {
                    let a = 0x100_0000 + slot as u64 * (8 << 20);
                    if m.apply(&Op::PageOutLarge { pid: pids[p as usize], address: a }).is_ok() {
                        paged_out.insert((p, slot));
                    }
                }
                LargeAct::TouchLarge { p, slot } => {
                    let pid = pids[p as usize];
                    let a = 0x100_0000 + slot as u64 * (8 << 20);
                    let r = m.access(pid, a, AccessKind::Read, None, NEVER);
                    if paged_out.contains(&(p, slot)) {
                        match r {
                            // Back whole: a valid large PTE on an aligned frame.
                            Ok(_) => {
                                let pte = m.pte(pid, pagelab::units::Vpn::containing(a)).unwrap();
                                prop_assert!(pte.is_large() && pte.pfn().0 % 512 == 0, "{:?}", pte.kind());
                                paged_out.remove(&(p, slot));
                            }
                            Err(e) => prop_assert_eq!(e.name(), "large_page_lost"),
                        }
                    }
                }
                LargeAct::FreeContiguous => {
                    if let Some(address) = contiguous.pop() {
                        m.apply(&Op::FreeContiguous { address }).map_err(|e| TestCaseError::fail(e.to_string()))?;
                    }
                }
            }
            m.check_invariants().map_err(|e| TestCaseError::fail(format!("after {act:?}: {e}")))?;
        }
        for &pid in &pids {
            let _ = m.apply(&Op::Exit { pid });
        }
        while let Some(address) = contiguous.pop() {
            m.apply(&Op::FreeContiguous { address }).map_err(|e| TestCaseError::fail(e.to_string()))?;
        }
        m.check_invariants().map_err(TestCaseError::fail)?;
        let s = m.snapshot();
        // What is left in use is the drivers' nonpaged pages of fragment steps.
        prop_assert_eq!(s.lists.zeroed + s.lists.free + m.system_pages().frames(), s.frames);
    }
}

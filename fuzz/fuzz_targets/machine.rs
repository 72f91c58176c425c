//! The machine driven by arbitrary operation sequences. The input decodes
//! into a small machine (16-128 frames, or 1024-1279 so that large pages
//! fit, a page file of 0-255 pages, one or
//! two NUMA nodes, a few bad frames, any policy and layout), one to three
//! processes and a mapped file, then at most 64 operations: every `Op`,
//! and runs of up to 16 references. Addresses fall mostly in four 1 MiB
//! slots so operations meet each other, sometimes anywhere, sometimes at
//! the edges of the address space; process and file ids are sometimes ones
//! that do not exist.
//!
//! After every operation and every reference: `check_invariants`, plus
//! what is visible from outside (counters never go down, commit within its
//! limit, available = zeroed + free + standby). Every event explains
//! itself. At the end every process exits and everything comes back:
//! frames to the zeroed and free lists, commit and page file to zero.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pagelab::config::{ClusterDirection, Layout, MachineConfig};
use pagelab::machine::Counters;
use pagelab::pte::Protection;
use pagelab::token::Privilege;
use pagelab::units::{Bytes, FileId, ProcessId};
use pagelab::working_set::{PolicyKind, NEVER};
use pagelab::{AccessKind, Machine, Op, OpError};
use pagelab_fuzz::Cursor;

const PAGE: u64 = 4096;
/// Operations per input at most.
const MAX_OPS: usize = 64;
/// Processes and files at most (including those of the setup).
const MAX_PROCESSES: usize = 6;
const MAX_FILES: usize = 3;
/// Commit and decommit write a PTE per page (a documented per-page cost,
/// up to 2^32 pages): sizes between this and 2^63 are not sent, larger
/// ones overflow the address and fail at once.
const MAX_WALK_BYTES: u64 = 1 << 28;

const PROTECTIONS: [Protection; 8] = [
    Protection::ReadWrite,
    Protection::ReadOnly,
    Protection::NoAccess,
    Protection::ExecuteReadWrite,
    Protection::Execute,
    Protection::ExecuteRead,
    Protection::WriteCopy,
    Protection::ExecuteWriteCopy,
];

/// Addresses at the edges of the x64 and NT 3.1 user ranges and beyond.
const EDGES: [u64; 10] = [
    0,
    0x1_0000,
    0x7FFE_0000,
    0x7FFE_FFFF,
    0x7FFF_0000,
    0x8000_0000,
    0x7FFF_FFFE_0000,
    0x7FFF_FFFF_0000,
    1 << 48,
    u64::MAX - 0xFFFF,
];

/// Where slot `k` starts: 1 MiB apart.
fn slot_base(k: u64) -> u64 {
    0x100_0000 + k * 0x10_0000
}

fn address(c: &mut Cursor) -> u64 {
    match c.below(10) {
        0..=6 => slot_base(c.below(4)) + c.below(40) * PAGE + if c.below(8) == 0 { c.u16() as u64 % PAGE } else { 0 },
        7 => c.u64(),
        _ => c.pick(&EDGES).wrapping_add(c.below(4) * PAGE),
    }
}

fn size(c: &mut Cursor, walk: bool) -> u64 {
    match c.below(10) {
        0..=6 => (1 + c.below(32)) * PAGE,
        7 => c.u16() as u64,
        8 => [0, u64::MAX, 1 << 63, u64::MAX - PAGE][c.below(4) as usize],
        _ => {
            let s = c.u64();
            if walk && s > MAX_WALK_BYTES && s < 1 << 63 {
                s % MAX_WALK_BYTES
            } else {
                s
            }
        }
    }
}

fn policy(c: &mut Cursor) -> PolicyKind {
    c.pick(&PolicyKind::ALL)
}

fn config(c: &mut Cursor) -> MachineConfig {
    // The largest small size reads one more byte: a machine large enough
    // for large pages (two or more 2 MiB regions) half the time.
    let frames = match 16 + c.below(113) {
        128 if c.bool() => 1024 + c.below(256),
        f => f,
    };
    let mut m = MachineConfig::with_memory(Bytes(frames * PAGE));
    m.pagefile = Bytes(c.u8() as u64 * PAGE);
    m.cluster.pagefile = c.below(9) as u32;
    m.cluster.file = c.below(9) as u32;
    m.cluster.direction = if c.bool() { ClusterDirection::Both } else { ClusterDirection::Forward };
    m.policy = policy(c);
    m.seed = c.u8() as u64;
    m.layout = if c.bool() { Layout::Nt31 } else { Layout::X64 };
    m.numa_nodes = if frames >= 32 { 1 + c.below(2) as u8 } else { 1 };
    m.bad_frames = (0..c.below(4)).map(|_| c.below(frames) as u32).collect();
    m.ws_hard_max = c.bool();
    m.writer.free_below = c.below(32);
    m.writer.modified_max = c.below(64);
    m.writer.cluster = 1 + c.below(16) as u32;
    m.writer.zero_wake = c.below(16);
    // From the seed byte, so that the corpus decodes as before: the era of
    // the large-page allocator, and a TLB model on half the machines.
    m.large_page_allocator = pagelab::compaction::Era::ALL[(m.seed % 3) as usize];
    m.tlb = (m.seed / 3 % 2 == 1).then(pagelab::tlb::TlbConfig::default);
    m
}

/// Frames for an AWE call: mostly ones some process was given (owned by
/// it, another, or freed since), sometimes any frame at all.
fn awe_frames(c: &mut Cursor, given: &[pagelab::units::Pfn], frames: u64) -> Vec<pagelab::units::Pfn> {
    (0..c.below(6))
        .map(|_| {
            if !given.is_empty() && c.below(4) != 0 {
                given[c.below(given.len() as u64) as usize]
            } else {
                pagelab::units::Pfn(c.below(frames + 4) as u32)
            }
        })
        .collect()
}

fn frames_of(m: &Machine) -> u64 {
    m.snapshot().frames
}

fn create_process(c: &mut Cursor, n: usize) -> Op {
    Op::CreateProcess {
        name: format!("p{n}"),
        ws_min: c.bool().then(|| c.below(8)),
        ws_max: c.bool().then(|| c.below(40)),
        hard_max: [None, Some(true), Some(false)][c.below(3) as usize],
        policy: c.bool().then(|| policy(c)),
        node: c.below(3) as u8,
        auto_commit: c.below(4) == 0,
    }
}

fn create_file(c: &mut Cursor) -> Op {
    let size = if c.below(8) == 0 { c.u64() } else { 1 + c.u16() as u64 * 4 };
    Op::CreateFile { name: format!("f{}", c.u8()), size }
}

/// Everything a reference may fail with; anything else is a finding.
fn expected(e: &OpError) -> bool {
    matches!(
        e,
        OpError::AccessViolation { .. } | OpError::NoMemory | OpError::NoSuchProcess(_) | OpError::LargePageLost { .. }
    )
}

/// The invariants, and what can be seen from outside.
fn audit(m: &Machine, before: &Counters, what: &dyn Fn() -> String) {
    if let Err(e) = m.check_invariants() {
        panic!("{}: invariant broken: {e}", what());
    }
    let s = m.snapshot();
    let (now, was) = (s.counters, before);
    let grew = [
        (now.paging.references, was.paging.references),
        (now.paging.demand_zero, was.paging.demand_zero),
        (now.paging.soft, was.paging.soft),
        (now.paging.hard_pagefile, was.paging.hard_pagefile),
        (now.paging.hard_file, was.paging.hard_file),
        (now.paging.access_violations, was.paging.access_violations),
        (now.paging.evictions, was.paging.evictions),
        (now.activity.io_reads, was.activity.io_reads),
        (now.activity.io_writes, was.activity.io_writes),
    ];
    assert!(grew.iter().all(|(n, w)| n >= w), "{}: a counter went down: {was:?} -> {now:?}", what());
    assert!(s.commit_charge <= s.commit_limit, "{}: commit {} above limit {}", what(), s.commit_charge, s.commit_limit);
    assert_eq!(s.available, s.lists.zeroed + s.lists.free + s.lists.standby, "{}: available", what());
    assert!(s.pagefile_used <= s.pagefile_capacity, "{}: page file over capacity", what());
}

fn explain_events(m: &mut Machine) {
    for e in m.drain_events() {
        assert!(!m.explain(&e).is_empty(), "event {e:?} explains itself as nothing");
    }
    let _ = m.take_events_not_recorded();
}

fuzz_target!(|data: &[u8]| {
    // Set PAGELAB_FUZZ_VERBOSE to see the decoded operations of an input
    // (run the target on the input's file).
    let verbose = std::env::var_os("PAGELAB_FUZZ_VERBOSE").is_some();
    let mut c = Cursor::new(data);
    let config = config(&mut c);
    if verbose {
        eprintln!("{config:?}");
    }
    let Ok(mut m) = Machine::new(config) else { return };
    m.set_recording(true);
    let mut procs = 0usize;
    let mut files = 0usize;
    for _ in 0..1 + c.below(3) {
        let op = create_process(&mut c, procs);
        if verbose {
            eprintln!("setup: {op:?}");
        }
        m.apply(&op).expect("creating a process");
        procs += 1;
    }
    let op = Op::CreateFile { name: "f".into(), size: (1 + c.below(64)) * PAGE - c.below(100) };
    m.apply(&op).expect("creating a file");
    files += 1;
    let mut before = m.counters();
    audit(&m, &before, &|| "setup".into());
    explain_events(&mut m);

    let mut ops = 0;
    let mut contiguous: Vec<u64> = Vec::new();
    // Every frame AllocateUserPhysicalPages returned (to any process).
    let mut awe: Vec<pagelab::units::Pfn> = Vec::new();
    while !c.is_empty() && ops < MAX_OPS {
        ops += 1;
        // One more than exist: sometimes a process or file that does not.
        let ids = procs as u64 + 1;
        let pid = move |c: &mut Cursor| ProcessId(c.below(ids) as u16);
        let op = match c.below(20) {
            0 if procs < MAX_PROCESSES => {
                procs += 1;
                create_process(&mut c, procs - 1)
            }
            1 | 0 => Op::Reserve {
                pid: pid(&mut c),
                address: (c.below(4) != 0).then(|| address(&mut c)),
                size: size(&mut c, false),
                protection: c.pick(&PROTECTIONS),
                commit: c.below(4) != 0,
            },
            2 => Op::Commit {
                pid: pid(&mut c),
                address: address(&mut c),
                size: size(&mut c, true),
                protection: c.pick(&PROTECTIONS),
            },
            3 => Op::Decommit { pid: pid(&mut c), address: address(&mut c), size: size(&mut c, true) },
            4 => Op::Release { pid: pid(&mut c), address: address(&mut c) },
            5 if files < MAX_FILES => {
                files += 1;
                create_file(&mut c)
            }
            5 | 6 => Op::MapView {
                pid: pid(&mut c),
                file: FileId(c.below(files as u64 + 1) as u16),
                offset: if c.below(8) == 0 { c.u64() } else { c.below(4) * 64 * 1024 },
                size: if c.bool() { 0 } else { size(&mut c, false) },
                address: (c.below(4) != 0).then(|| address(&mut c)),
                protection: c.pick(&PROTECTIONS),
            },
            7 => Op::SetWorkingSetSize {
                pid: pid(&mut c),
                limits: (c.below(4) != 0).then(|| (c.below(48), c.below(64))),
            },
            8 => Op::Trim { pid: pid(&mut c), pages: c.bool().then(|| c.below(16)) },
            9 => Op::WriteModified { pages: c.bool().then(|| c.below(32)) },
            10 => Op::Advance { ticks: 1 + c.below(4) as u32 },
            11 => Op::Exit { pid: pid(&mut c) },
            16 | 17 => Op::AllocateLarge {
                pid: pid(&mut c),
                address: match c.below(4) {
                    0 => None,
                    1 => Some(address(&mut c)),
                    _ => Some((1 + c.below(4)) << 21),
                },
                size: if c.below(4) == 0 { size(&mut c, false) } else { (1 + c.below(3)) << 21 },
                protection: c.pick(&PROTECTIONS),
                commit: c.below(8) != 0,
            },
            13 if c.bool() => match c.below(6) {
                0 => Op::ReservePhysical {
                    pid: pid(&mut c),
                    address: (c.below(4) != 0).then(|| address(&mut c)),
                    size: size(&mut c, false),
                    protection: if c.below(4) == 0 { c.pick(&PROTECTIONS) } else { pagelab::pte::Protection::ReadWrite },
                    commit: c.below(8) == 0,
                },
                1 => Op::AllocatePhysical {
                    pid: pid(&mut c),
                    pages: c.below(24),
                    node: c.bool().then(|| c.below(3) as u8),
                },
                2 | 3 => {
                    let frames = (c.below(6) != 0).then(|| awe_frames(&mut c, &awe, frames_of(&m)));
                    if c.bool() {
                        let n = frames.as_ref().map_or(1 + c.below(4), |f| f.len() as u64);
                        Op::MapPhysicalScatter { pid: pid(&mut c), addresses: (0..n).map(|_| address(&mut c)).collect(), frames }
                    } else {
                        Op::MapPhysical { pid: pid(&mut c), address: address(&mut c), pages: c.below(8), frames }
                    }
                }
                4 => Op::FreePhysical { pid: pid(&mut c), frames: awe_frames(&mut c, &awe, frames_of(&m)) },
                _ => Op::SetPhysicalLimit { pid: pid(&mut c), pages: c.below(32) },
            },
            13 => {
                let (pid, address, size) = (pid(&mut c), address(&mut c), size(&mut c, true));
                if c.bool() {
                    Op::VirtualLock { pid, address, size }
                } else {
                    Op::VirtualUnlock { pid, address, size }
                }
            }
            12 if c.bool() => match c.below(4) {
                0 => Op::Fragment(pagelab::fragment::FragmentSpec {
                    pid: pid(&mut c),
                    free: c.below(11) * 100_000,
                    free_blocks: (c.below(4) == 0)
                        .then(|| std::sync::Arc::new((0..1 + c.below(10)).map(|_| c.below(6)).collect())),
                    unmovable: c.below(50) * 1_000,
                    standby: c.below(5) * 100_000,
                    modified: c.below(5) * 100_000,
                    pattern: pagelab::fragment::FragmentPattern::ALL[c.below(3) as usize],
                }),
                1 => Op::AllocateContiguous {
                    size: if c.below(8) == 0 { c.u64() } else { c.below(600) * PAGE },
                    alignment: PAGE << c.below(12),
                    highest: if c.bool() { u64::MAX } else { c.below(frames_of(&m) + 8) * PAGE },
                },
                2 => Op::FreeContiguous { address: contiguous.pop().unwrap_or_else(|| c.below(frames_of(&m)) * PAGE) },
                _ => Op::PageOutLarge {
                    pid: pid(&mut c),
                    address: if c.bool() { address(&mut c) } else { (1 + c.below(4)) << 21 },
                },
            },
            18 if c.bool() => Op::GrantPrivilege { privilege: Privilege::LockMemory },
            18 => Op::Logon,
            19 => Op::AdjustTokenPrivileges {
                pid: pid(&mut c),
                privilege: Privilege::LockMemory,
                enable: c.below(4) != 0,
            },
            _ => {
                let pid = pid(&mut c);
                let start = address(&mut c);
                let count = 1 + c.below(16);
                let kind = c.pick(&[AccessKind::Read, AccessKind::Write, AccessKind::Write, AccessKind::Execute]);
                let node = (c.below(4) == 0).then(|| c.below(3) as u8);
                let next_use = if c.bool() { NEVER } else { m.counters().paging.references + c.below(64) };
                for k in 0..count {
                    let a = start.wrapping_add(k * PAGE);
                    let r = m.access(pid, a, kind, node, next_use.saturating_add(k));
                    if verbose {
                        eprintln!("op {ops}: {kind:?} {a:#x} by {pid:?} -> {r:?}");
                    }
                    if let Err(e) = &r {
                        assert!(expected(e), "op {ops}: reference {k} to {a:#x} by {pid:?}: unexpected {e:?}");
                    }
                    audit(&m, &before, &|| format!("op {ops}: reference {k} to {a:#x} by {pid:?} ({r:?})"));
                    before = m.counters();
                    explain_events(&mut m);
                }
                continue;
            }
        };
        let r = m.apply(&op);
        if verbose {
            eprintln!("op {ops}: {op:?} -> {r:?}");
        }
        match (&op, &r) {
            (Op::AllocateContiguous { .. }, Ok(pagelab::OpValue::Address(a))) => contiguous.push(*a),
            (Op::FreeContiguous { address }, Ok(_)) => contiguous.retain(|a| a != address),
            (Op::AllocatePhysical { .. }, Ok(pagelab::OpValue::Frames(f))) => awe.extend(f),
            _ => {}
        }
        audit(&m, &before, &|| format!("op {ops}: {op:?} ({r:?})"));
        before = m.counters();
        explain_events(&mut m);
    }

    for p in 0..procs {
        let _ = m.apply(&Op::Exit { pid: ProcessId(p as u16) });
        audit(&m, &before, &|| format!("exit of p{p}"));
        before = m.counters();
        explain_events(&mut m);
    }
    for address in contiguous {
        m.apply(&Op::FreeContiguous { address }).expect("a contiguous allocation frees");
        audit(&m, &before, &|| format!("freeing contiguous memory at {address:#x}"));
    }
    let s = m.snapshot();
    // What stays in use is the drivers' nonpaged pages of fragment steps.
    let held = m.system_pages().frames();
    assert_eq!(s.lists.zeroed + s.lists.free + s.lists.bad + held, s.frames, "frames not all back: {:?}", s.lists);
    assert_eq!((s.commit_charge, s.pagefile_used), (0, 0), "commit or page file not all back");
});

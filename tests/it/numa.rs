//! NUMA residency through the library, the numa-drift scenario's story
//! checked frame by frame: paged out and faulted back from another node,
//! an ordinary page changes node; an AWE page is never paged, so it keeps
//! the frame AllocateUserPhysicalPages gave it, and the other node reaches
//! it remotely, each reference charged exactly `remote_access`.

use pagelab::config::MachineConfig;
use pagelab::machine::{AccessKind, Machine, Op, OpValue};
use pagelab::pte::Protection;
use pagelab::token::Privilege;
use pagelab::units::{Bytes, ProcessId, Vpn};
use pagelab::working_set::NEVER;

const DATA: u64 = 0x10000;
const WINDOW: u64 = 0x100000;
const PAGES: u64 = 8;

fn process(m: &mut Machine, name: &str, ws_max: u64) -> ProcessId {
    let create = Op::CreateProcess {
        name: name.into(),
        ws_min: Some(1),
        ws_max: Some(ws_max),
        hard_max: None,
        policy: None,
        node: 0,
        auto_commit: false,
    };
    match m.apply(&create) {
        Ok(OpValue::Process(p)) => p,
        other => panic!("{other:?}"),
    }
}

fn reserve(m: &mut Machine, pid: ProcessId, address: u64, pages: u64) {
    let op = Op::Reserve {
        pid,
        address: Some(address),
        size: pages * 4096,
        protection: Protection::ReadWrite,
        commit: true,
    };
    m.apply(&op).unwrap();
}

/// Reads `PAGES` pages at `base` from a thread on `node`, `rounds` times.
fn read(m: &mut Machine, pid: ProcessId, base: u64, node: u8, rounds: u64) {
    for _ in 0..rounds {
        for i in 0..PAGES {
            m.access(pid, base + i * 4096, AccessKind::Read, Some(node), NEVER).unwrap();
        }
    }
}

fn nodes(m: &Machine, pid: ProcessId, base: u64) -> Vec<u8> {
    (0..PAGES)
        .map(|i| m.query_working_set_ex(pid, base + i * 4096))
        .map(|b| if b.valid() { b.node() } else { 99 })
        .collect()
}

fn remote(m: &Machine, pid: ProcessId) -> u64 {
    m.process(pid).unwrap().counters.paging.remote_references
}

#[test]
fn ordinary_pages_drift_to_the_faulting_node_and_awe_pages_stay() {
    let mut c = MachineConfig::with_memory(Bytes(128 * 4096));
    c.numa_nodes = 2;
    let mut m = Machine::new(c).unwrap();
    m.apply(&Op::GrantPrivilege { privilege: Privilege::LockMemory }).unwrap();
    m.apply(&Op::Logon).unwrap();
    let db = process(&mut m, "db", 16);
    m.apply(&Op::AdjustTokenPrivileges { pid: db, privilege: Privilege::LockMemory, enable: true }).unwrap();
    reserve(&mut m, db, DATA, PAGES);
    let window = Op::ReservePhysical {
        pid: db,
        address: Some(WINDOW),
        size: PAGES * 4096,
        protection: Protection::ReadWrite,
        commit: false,
    };
    m.apply(&window).unwrap();

    // Node 0 places both kinds of page on node 0.
    for i in 0..PAGES {
        m.access(db, DATA + i * 4096, AccessKind::Write, Some(0), NEVER).unwrap();
    }
    let Ok(OpValue::Frames(awe)) = m.apply(&Op::AllocatePhysical { pid: db, pages: PAGES, node: Some(0) }) else {
        panic!("AllocateUserPhysicalPagesNuma failed")
    };
    m.apply(&Op::MapPhysical { pid: db, address: WINDOW, pages: PAGES, frames: Some(awe.clone()) }).unwrap();
    assert_eq!(nodes(&m, db, DATA), [0; 8]);
    assert_eq!(nodes(&m, db, WINDOW), [0; 8]);
    assert!((0..PAGES).all(|i| m.query_working_set_ex(db, WINDOW + i * 4096).locked()));
    read(&mut m, db, DATA, 0, 10);
    read(&mut m, db, WINDOW, 0, 10);
    assert_eq!(remote(&m, db), 0, "node 0 reads node 0's frames");

    // Page out: trim, write, and another process takes every other frame.
    m.apply(&Op::Trim { pid: db, pages: None }).unwrap();
    m.apply(&Op::WriteModified { pages: None }).unwrap();
    let hog = process(&mut m, "hog", 128);
    reserve(&mut m, hog, DATA, 128);
    for i in 0..(128 - PAGES) {
        m.access(hog, DATA + i * 4096, AccessKind::Write, Some(0), NEVER).unwrap();
    }
    assert!(m.frame_of(db, Vpn::containing(DATA)).is_none(), "the ordinary page's frame was reused");
    assert_eq!(nodes(&m, db, WINDOW), [0; 8], "the AWE pages were not touched");
    m.apply(&Op::Exit { pid: hog }).unwrap();

    // A node 1 thread faults the ordinary pages back and reads the AWE pages.
    read(&mut m, db, DATA, 1, 1);
    read(&mut m, db, WINDOW, 1, 1);
    assert_eq!(nodes(&m, db, DATA), [1; 8], "ordinary pages drifted to node 1");
    assert_eq!(nodes(&m, db, WINDOW), [0; 8], "AWE pages stay on node 0");
    for (i, f) in awe.iter().enumerate() {
        assert_eq!(m.frame_of(db, Vpn::containing(WINDOW).offset(i as u64)), Some(*f));
    }
    assert_eq!(remote(&m, db), PAGES, "node 1's reads of the AWE pages were remote, of its own faults local");

    // Now node 0 reaches the drifted pages remotely and the AWE pages locally.
    let before = (remote(&m, db), m.time());
    read(&mut m, db, DATA, 0, 100);
    read(&mut m, db, WINDOW, 0, 100);
    assert_eq!(remote(&m, db), before.0 + 100 * PAGES);
    assert_eq!(m.time(), before.1 + m.config().cost.remote_access * (100 * PAGES));
    m.check_invariants().unwrap();
}

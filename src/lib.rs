//! # pagelab: the Windows NT memory manager, as a model you can run
//!
//! pagelab simulates a Windows-NT-style virtual memory manager faithfully
//! enough to learn the real one from, and fast enough to replay long traces.
//!
//! ## The model on one page
//!
//! A [`machine::Machine`] owns everything: physical memory as a
//! [`pfn_db::PfnDatabase`] (one 24-byte entry per frame, threaded onto the
//! zeroed, free, standby, modified and bad lists), a page file, mapped
//! files, and processes. Each [`process::Process`] has virtual address
//! descriptors (reservations, committed or not, and file views), a sparse
//! four-level [`page_table::PageTable`] of packed [`pte::Pte`]s, and a
//! [`working_set::WorkingSet`] with a replacement policy (FIFO, as in NT
//! 3.1, aging as in NT 4 and later, or LRU, clock, OPT, random, WSClock).
//!
//! A reference to a valid page is a hit. Anything else is a fault, resolved
//! by the PTE's kind ([`fault`]): a transition PTE is a soft fault (the page
//! is still on the standby or modified list), demand zero takes a zeroed
//! frame, a page-file or mapped-file PTE is a hard fault that reads the page
//! and its neighbours in one clustered I/O. A working set at its maximum
//! gives up its own victim (local replacement); clean victims go to standby,
//! dirty ones to the modified list, whence the modified page writer writes
//! them to the page file ([`pager`]). Under the `aging` policy of NT 4 and
//! later, working sets grow past their maximum while memory is plentiful,
//! and the balance set manager ([`balance`]) ages them once a simulated
//! second and trims the pages unused longest when available memory is low.
//!
//! Every change is counted and, when recording, becomes an [`event::Event`]
//! that explains itself in a sentence. Simulated time comes from the
//! [`cost::CostModel`]. The same seed gives the same events, bit for bit.
//!
//! Scenarios ([`scenario`]) drive the machine from TOML; traces
//! ([`trace`]) drive it from reference strings or valgrind's lackey output,
//! or from synthetic Zipf streams ([`tracegen`]).
#![warn(missing_docs)]

pub mod cli;
pub mod exit;
pub mod fragmentation;
pub mod host;
pub mod host_memory;
pub mod mm;
pub mod mrc;
pub mod output;
pub mod plot;
pub mod quiz;
pub mod real;
pub mod replay;
pub mod report;
pub mod runner;
pub mod scenario;
pub mod sweep;
pub mod trace;
pub mod tracegen;
pub mod tui;

pub use mm::{
    awe, balance, buffer_pool, compaction, config, contiguity, cost, event, fault, fragment, large_page, locks,
    machine, notify, page_table, pagefile, pager, pfn_db, process, pte, query, ramp, system_pages, tlb, token, units,
    virtual_lock, win32, working_set,
};

pub use machine::{AccessKind, Machine, Op, OpError, OpValue, Resolution};

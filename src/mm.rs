//! The memory manager model: the [`machine::Machine`] and everything it
//! owns, one module a subsystem (PTEs, the PFN database and its lists,
//! working sets, faults and paging, the page file, large pages and the
//! contiguity index, the allocator eras, AWE, VirtualLock, memory resource
//! notifications and the buffer-pool application model, the system's
//! pages, tokens and privileges, the TLB, costs and events), and lock
//! contention between threads ([`locks`]), a model of its own that uses no
//! machine. The front-ends and drivers (scenarios, traces, the CLI, the
//! TUI) sit beside it in `src/`.

pub mod awe;
pub mod balance;
pub mod buffer_pool;
pub mod compaction;
pub mod config;
pub mod contiguity;
pub mod cost;
pub mod event;
pub mod fault;
pub mod fragment;
pub mod large_page;
pub mod locks;
pub mod machine;
pub mod notify;
pub mod page_table;
pub mod pagefile;
pub mod pager;
pub mod pfn_db;
pub mod process;
pub mod pte;
pub mod query;
pub mod ramp;
pub mod system_pages;
pub mod tlb;
pub mod token;
pub mod units;
pub mod virtual_lock;
pub mod win32;
pub mod working_set;

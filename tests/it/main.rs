//! pagelab's integration tests, all in one binary.
//!
//! - `cli`: the command-line contract of DESIGN.md;
//! - `bad_input`: every kind of bad input exits 2 with file:line:col and
//!   what was expected, never a panic;
//! - `oracles`: textbook fault counts through `pagelab replay`;
//! - `properties`: the machine's invariants under random operations, and
//!   agreement with simple reference models;
//! - `fragmentation`: free-block distributions against a buddy allocator
//!   model, and `pagelab fragmentation` on real and broken buddyinfo texts;
//! - `docs`: the README and the book agree with what pagelab prints;
//! - `determinism`: the same inputs give the same output, bit for bit;
//! - `lackey`: a real valgrind trace, replayed and checked independently;
//! - `memory_pressure`: the notifications and the buffer-pool scenarios;
//! - `numa`: NUMA residency: ordinary pages drift after paging, AWE pages
//!   stay where they were allocated, remote references counted;
//! - `teaching`: `replay --trace` line by line, and `quiz` with its answer key;
//! - `gen_trace`: every generator through `gen-trace`, and `mrc --format auto`;
//! - `real`: `pagelab real` on this Linux machine (as root) and on recorded runs.

mod util;

mod bad_input;
mod cli;
mod curves;
mod determinism;
mod docs;
mod fragmentation;
mod gen_trace;
mod hardening;
mod lackey;
mod memory_pressure;
mod numa;
mod oracles;
mod properties;
mod real;
mod sweep;
mod teaching;

//! Hints to the host machine that change no simulated state.
//!
//! Replaying a long trace is bound by the host's memory latency: every
//! fault touches a few PTEs and PFN entries scattered over tens of
//! megabytes. The replay loop knows the references to come and the
//! working set knows its next victims, so it can ask the host's caches for
//! those entries a little ahead of time ([`prefetch`]). A hint is never
//! wrong: if the state changes before the reference arrives, the line was
//! merely fetched for nothing.

/// Asks the host CPU to bring the cache line holding `r` into its caches.
/// No effect on other targets.
#[inline(always)]
pub fn prefetch<T>(r: &T) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: PREFETCHT0 is a hint: it cannot fault or change memory, and
    // `r` is a live reference anyway. SSE, which provides it, is part of
    // the x86-64 baseline that every x86_64 target enables.
    unsafe {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        _mm_prefetch::<_MM_HINT_T0>(r as *const T as *const i8);
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = r;
}

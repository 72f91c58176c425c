/// Why a page left a working set.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EvictReason {
    /// Local replacement: the process was at its maximum and faulted.
    Replacement,
    /// Trimmed on request (SetProcessWorkingSetSize, EmptyWorkingSet, trim).
    Trim,
    /// Trimmed in a batch because a fault found no available page.
    MemoryPressure,
    /// Trimmed by the balance set manager because available pages were
    /// low: the page was the oldest left in its working set, which was
    /// above its minimum.
    Balance {
        /// The page's age (scans since it was last referenced, up to 3).
        age: u8,
        /// The working set's minimum, which it is never trimmed below.
        min: u64,
        /// Available pages when the balance set manager woke.
        available: u64,
        /// The threshold it trims below.
        below: u64,
    },
}

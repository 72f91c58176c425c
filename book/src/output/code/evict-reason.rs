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
}

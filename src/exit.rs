//! The exit codes every front-end returns (the command-line contract of
//! DESIGN.md): scripts rely on them.

/// Exit code: success.
pub const EXIT_OK: i32 = 0;
/// Exit code: an expectation failed.
pub const EXIT_FAILED: i32 = 1;
/// Exit code: bad input or usage.
pub const EXIT_BAD_INPUT: i32 = 2;
/// Exit code: an internal error, an invariant of the model broken (a bug
/// in pagelab, whatever the input).
pub const EXIT_INTERNAL: i32 = 3;

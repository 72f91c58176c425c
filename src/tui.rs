//! The terminal UI (in progress).

/// Opens the terminal UI on a scenario file or built-in name.
pub fn run_named(name: &str) -> i32 {
    match crate::cli::resolve(name, &[]) {
        Ok(_) => {
            eprintln!("pagelab: the terminal UI is not built yet; try `pagelab run {name} --events`");
            crate::cli::EXIT_BAD_INPUT
        }
        Err(e) => {
            eprintln!("pagelab: {e}");
            crate::cli::EXIT_BAD_INPUT
        }
    }
}

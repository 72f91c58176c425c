//! The README and the book against what pagelab does: a newcomer who
//! follows them gets what they say.

use std::path::Path;

/// A file of the repository, as text.
fn repo_file(path: &str) -> String {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join(path);
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

#[test]
fn the_readme_says_how_to_get_pagelab_before_its_tour_uses_it() {
    let readme = repo_file("README.md");
    let install = readme.find("cargo install --path .").expect("the README says `cargo install --path .`");
    // The first command line of a code block that runs the bare binary.
    let first_use = readme.match_indices("\npagelab ").map(|(i, _)| i).min().expect("the README's tour runs `pagelab`");
    assert!(
        install < first_use,
        "the README uses `pagelab` (at byte {first_use}) before saying `cargo install --path .` (at byte {install})"
    );
}

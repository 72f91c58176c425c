//! `pagelab check SCENARIO...`.

use super::{resolve, EXIT_BAD_INPUT, EXIT_OK};

/// Validates every scenario; prints one line each.
pub fn check(names: &[String]) -> i32 {
    let mut code = EXIT_OK;
    for n in names {
        match resolve(n, &[]) {
            Ok(s) => println!(
                "{n}: ok ({} steps, {} expectations)",
                s.steps.len(),
                s.expect.len()
                    + s.steps.iter().map(|st| st.expect.len() + st.expect_error.is_some() as usize).sum::<usize>()
            ),
            Err(e) => {
                eprintln!("pagelab: {e}");
                code = EXIT_BAD_INPUT;
            }
        }
    }
    code
}

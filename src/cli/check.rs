//! `pagelab check SCENARIO...`.

use super::{print_out, resolve, EXIT_BAD_INPUT, EXIT_OK};

/// Validates every scenario; prints one line each.
pub fn check(names: &[String]) -> i32 {
    let mut code = EXIT_OK;
    let mut out = String::new();
    for n in names {
        match resolve(n, &[]) {
            Ok(s) => {
                let expectations = s.expect.len()
                    + s.steps.iter().map(|st| st.expect.len() + st.expect_error.is_some() as usize).sum::<usize>();
                out.push_str(&format!("{n}: ok ({} steps, {expectations} expectations)\n", s.steps.len()));
            }
            Err(e) => {
                eprintln!("pagelab: {e}");
                code = EXIT_BAD_INPUT;
            }
        }
    }
    match print_out(&out) {
        Ok(()) => code,
        Err(c) => c,
    }
}

//! `pagelab scenarios`.

use super::{print_out, EXIT_OK};
use crate::scenario::builtin::BUILTINS;
use crate::scenario::load_str;

/// Lists the built-in scenarios.
pub fn list(json: bool) -> i32 {
    let all: Vec<_> = BUILTINS
        .iter()
        .map(|(name, text)| {
            let s = load_str(text, name, None, &[]).expect("built-in scenarios are valid");
            (name.to_string(), s.title)
        })
        .collect();
    let text = if json {
        let v: Vec<_> = all.iter().map(|(n, t)| serde_json::json!({ "name": n, "title": t })).collect();
        serde_json::to_string_pretty(&v).expect("json") + "\n"
    } else {
        let mut o: String = all.iter().map(|(n, t)| format!("{n:<14} {t}\n")).collect();
        o.push_str("\nRun one with `pagelab run NAME`, step through it with `pagelab tui NAME`.\n");
        let real: Vec<&str> = crate::scenario::builtin::REAL.iter().map(|(n, _)| *n).collect();
        o.push_str(&format!(
            "Compared with the real system by `pagelab real NAME` (any of them, and these written for it): {}.\n",
            real.join(", ")
        ));
        o
    };
    match print_out(&text) {
        Ok(()) => EXIT_OK,
        Err(c) => c,
    }
}

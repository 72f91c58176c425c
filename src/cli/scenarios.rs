//! `pagelab scenarios`.

use super::EXIT_OK;
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
    if json {
        let v: Vec<_> = all.iter().map(|(n, t)| serde_json::json!({ "name": n, "title": t })).collect();
        println!("{}", serde_json::to_string_pretty(&v).expect("json"));
    } else {
        for (n, t) in all {
            println!("{n:<14} {t}");
        }
        println!("\nRun one with `pagelab run NAME`, step through it with `pagelab tui NAME`.");
    }
    EXIT_OK
}

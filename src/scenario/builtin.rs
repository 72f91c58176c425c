//! The built-in scenarios, embedded in the binary so `pagelab` works from
//! any directory.

/// (name, TOML text) of every built-in scenario, tour first.
pub const BUILTINS: &[(&str, &str)] = &[
    ("tour", include_str!("../../scenarios/tour.toml")),
    ("demand-zero", include_str!("../../scenarios/demand-zero.toml")),
    ("belady", include_str!("../../scenarios/belady.toml")),
    ("soft-hard", include_str!("../../scenarios/soft-hard.toml")),
    ("mapped-file", include_str!("../../scenarios/mapped-file.toml")),
    ("nt31-2gb", include_str!("../../scenarios/nt31-2gb.toml")),
    ("numa", include_str!("../../scenarios/numa.toml")),
    ("numa-drift", include_str!("../../scenarios/numa-drift.toml")),
    ("privileges", include_str!("../../scenarios/privileges.toml")),
    ("balance", include_str!("../../scenarios/balance.toml")),
    ("eras", include_str!("../../scenarios/eras.toml")),
    ("contiguous", include_str!("../../scenarios/contiguous.toml")),
    ("tlb", include_str!("../../scenarios/tlb.toml")),
    ("paging-large", include_str!("../../scenarios/paging-large.toml")),
    ("awe", include_str!("../../scenarios/awe.toml")),
    ("ramp-up", include_str!("../../scenarios/ramp-up.toml")),
    ("buffer-pool", include_str!("../../scenarios/buffer-pool.toml")),
    ("buffer-pool-ignores-pressure", include_str!("../../scenarios/buffer-pool-ignores-pressure.toml")),
];

/// (name, TOML text) of the built-in real scenarios, for `pagelab real`:
/// they compare the simulator with a real system, and some read the
/// running machine (its /proc/buddyinfo), so they are listed apart.
pub const REAL: &[(&str, &str)] = &[
    ("real-demand-zero", include_str!("../../scenarios/real/real-demand-zero.toml")),
    ("real-large-pages", include_str!("../../scenarios/real/real-large-pages.toml")),
    ("real-locked", include_str!("../../scenarios/real/real-locked.toml")),
    ("real-contiguity", include_str!("../../scenarios/real/real-contiguity.toml")),
    ("real-hard-faults", include_str!("../../scenarios/real/real-hard-faults.toml")),
];

/// The text of a built-in scenario, real ones included.
pub fn find(name: &str) -> Option<&'static str> {
    BUILTINS.iter().chain(REAL).find(|(n, _)| *n == name).map(|(_, t)| *t)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_builtin_loads_and_is_named_as_listed() {
        for (name, text) in BUILTINS {
            let s = crate::scenario::load_str(text, &format!("builtin:{name}"), None, &[])
                .unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(&s.name, name);
            assert!(!s.steps.is_empty());
        }
    }
}

#[cfg(test)]
mod run_tests {
    use std::sync::Arc;

    use super::*;
    use crate::runner::Runner;

    #[test]
    fn every_builtin_meets_its_expectations_with_invariants_after_each_step() {
        for (name, text) in BUILTINS {
            let s = crate::scenario::load_str(text, name, None, &[]).unwrap();
            let mut r = Runner::new(Arc::new(s), true).unwrap();
            while let Some(o) = r.step() {
                r.machine().check_invariants().unwrap_or_else(|e| panic!("{name} step {}: {e}", o.number));
            }
            let failed: Vec<_> = r.checks().iter().filter(|c| !c.passed).collect();
            assert!(failed.is_empty(), "{name}: {failed:#?}");
        }
    }
}

//! Real runs saved as JSON: the `real` member of `pagelab real --json`,
//! or that member alone. `pagelab real --recorded FILE` compares a
//! scenario with one instead of running a backend, so the comparison can
//! be tested, and shown, on a machine where the backend cannot run.

use super::RealRun;

/// Reads a recorded real run from JSON text; the error names what is
/// wrong (with the line and column serde reports).
pub fn parse(text: &str) -> Result<RealRun, String> {
    let value: serde_json::Value =
        serde_json::from_str(text).map_err(|e| format!("{}:{}: {e}", e.line(), e.column()))?;
    let run = match value.get("real") {
        Some(r) => r.clone(),
        None => value,
    };
    serde_json::from_value(run)
        .map_err(|e| format!("1:1: expected a real run (the `real` member of `pagelab real --json`): {e}"))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::real::compare::{compare, Verdict};
    use crate::real::{simulated, CallResult};

    fn scenario(name: &str) -> Arc<crate::scenario::Scenario> {
        Arc::new(crate::scenario::resolve(name, &[]).unwrap())
    }

    /// Compares a built-in real scenario with a recorded run of it.
    fn against(name: &str, recorded: &str) -> crate::real::compare::Comparison {
        let s = scenario(name);
        let sim = simulated::observe(&s).unwrap();
        compare(&s, &sim, &parse(recorded).unwrap())
    }

    const DEMAND_ZERO: &str = include_str!("../../tests/real/real-demand-zero.json");
    const LOCKED: &str = include_str!("../../tests/real/real-locked.json");
    const LARGE: &str = include_str!("../../tests/real/real-large-pages.json");
    const HARD: &str = include_str!("../../tests/real/real-hard-faults.json");

    // real-contiguity is left out: its simulator starts from the running
    // machine's /proc/buddyinfo (tests/it/real.rs runs it on Linux).
    #[test]
    fn each_recorded_linux_run_passes_with_its_expected_differences() {
        for (name, text) in [
            ("real-demand-zero", DEMAND_ZERO),
            ("real-locked", LOCKED),
            ("real-large-pages", LARGE),
            ("real-hard-faults", HARD),
        ] {
            let c = against(name, text);
            assert!(c.passed(), "{name}:\n{}", c.text());
            assert!(c.counts.agree > 0, "{name}: something agrees");
        }
    }

    #[test]
    fn a_read_then_write_differs_as_the_scenario_expects_and_the_crash_agrees_with_an_access_violation() {
        let c = against("real-demand-zero", DEMAND_ZERO);
        let expected: Vec<_> = c.rows.iter().filter(|r| r.verdict == Verdict::Expected).collect();
        assert!(
            expected.iter().any(|r| r.items.iter().any(|i| i.what == "faults.minor" && i.agree == Some(false))),
            "{}",
            c.text()
        );
        let last = c.rows.last().unwrap();
        assert_eq!(last.verdict, Verdict::Agree, "{}", c.text());
        assert_eq!(last.items[0].simulated.as_deref(), Some("access_violation"));
        assert_eq!(last.items[0].real.as_deref(), Some("SIGSEGV (11)"));
        assert!(c.ended.as_deref().unwrap().contains("SIGSEGV"));
    }

    #[test]
    fn an_undeclared_difference_fails_and_names_the_quantity() {
        let mut run = parse(DEMAND_ZERO).unwrap();
        let touch = run.observations.iter_mut().find(|o| o.op == "touch").unwrap();
        *touch.measured.get_mut("faults.minor").unwrap() += 3;
        let s = scenario("real-demand-zero");
        let c = compare(&s, &simulated::observe(&s).unwrap(), &run);
        assert!(!c.passed());
        let bad = c.rows.iter().find(|r| r.verdict == Verdict::Differ).unwrap();
        assert!(bad.why.as_deref().unwrap().contains("faults.minor"), "{bad:?}");
        assert!(c.text().contains("DIFFERS"));
    }

    #[test]
    fn a_result_that_succeeds_on_one_side_only_differs_unless_declared() {
        let mut run = parse(LARGE).unwrap();
        // The pool-empty reserve succeeding on the real side.
        let o = run.observations.iter_mut().find(|o| o.result != CallResult::Ok && o.op == "reserve").unwrap();
        o.result = CallResult::Ok;
        let s = scenario("real-large-pages");
        let c = compare(&s, &simulated::observe(&s).unwrap(), &run);
        assert!(!c.passed(), "{}", c.text());
        // In the locked scenario, VirtualLock past the working-set minimum
        // fails in the simulator and succeeds with mlock, as declared.
        let c = against("real-locked", LOCKED);
        let row = c.rows.iter().find(|r| r.items.iter().any(|i| i.what == "result" && i.agree == Some(false))).unwrap();
        assert_eq!(row.verdict, Verdict::Expected);
    }

    #[test]
    fn steps_without_a_counterpart_or_on_one_side_are_not_compared_and_say_why() {
        let c = against("real-large-pages", LARGE);
        let why: Vec<_> =
            c.rows.iter().filter(|r| r.verdict == Verdict::NotCompared).filter_map(|r| r.why.clone()).collect();
        assert!(why.iter().any(|w| w.starts_with("no Linux counterpart")), "{why:?}");
        assert!(why.iter().any(|w| w.starts_with("real-only step")), "{why:?}");
    }

    #[test]
    fn a_run_cut_short_leaves_later_steps_not_compared() {
        let mut run = parse(LOCKED).unwrap();
        run.observations.truncate(3);
        run.observations[2].result = CallResult::Failed { code: "SIGKILL".into(), number: 9 };
        run.observations[2].measured.clear();
        let s = scenario("real-locked");
        let c = compare(&s, &simulated::observe(&s).unwrap(), &run);
        let after: Vec<_> = c.rows.iter().skip(3).collect();
        assert!(after.iter().all(|r| r.verdict == Verdict::NotCompared), "{}", c.text());
        assert!(after.iter().all(|r| r.why.as_deref().unwrap().contains("ended at step 3")), "{}", c.text());
    }

    #[test]
    fn bad_recordings_are_errors_with_a_position() {
        assert!(parse("{\n").unwrap_err().starts_with("2:"));
        assert!(parse("{\"real\": 3}").unwrap_err().contains("expected a real run"));
    }
}

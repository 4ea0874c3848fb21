//! `--only`: a typo is an error naming the experiments, and the claims of an experiment
//! that was not selected are inconclusive with the reason.

use repro_core::device::seed_lock;
use repro_core::report::{Options, Profile, Verdict};

fn smoke(only: &[&str]) -> Options {
    let mut opts = Options::new(Profile::Smoke);
    opts.progress = false;
    opts.only = only.iter().map(|s| (*s).to_owned()).collect();
    opts
}

#[test]
fn only_typo_is_an_error() {
    let _rng = repro_core::device::seed_lock(); // Burn's generator is process-wide
    let e = repro_monosemantic::reproduce(&smoke(&["toy"]))
        .unwrap_err()
        .to_string();
    assert!(e.contains("`toy`") && e.contains("digits, toys"), "{e}");
}

#[test]
fn claims_of_unselected_experiments_are_inconclusive() {
    let _g = seed_lock();
    let report = repro_monosemantic::reproduce(&smoke(&["toys"]))
        .and_then(|o| o.into_report())
        .unwrap();
    for c in &report.claims {
        if c.id.starts_with("MONO-T") {
            assert!(!c.measured.contains_key("note"), "{c:?}");
        } else {
            assert_eq!(c.verdict, Verdict::Inconclusive, "{}", c.id);
            assert_eq!(
                c.measured["note"], "not run: experiment `digits` not selected",
                "{}",
                c.id
            );
        }
    }
    // Only the toys ran.
    assert!(
        report
            .results
            .iter()
            .all(|r| ["t1_train", "t1", "t2"].contains(&r["kind"].as_str().unwrap()))
    );
}

//! `--only`: a typo is an error, and claims of an unselected experiment are inconclusive.

use repro_core::report::{Options, Profile, Verdict};

#[test]
fn only_typos_are_errors() {
    let _rng = repro_core::device::seed_lock(); // Burn's generator is process-wide
    let mut opts = Options::new(Profile::Smoke);
    opts.progress = false;
    opts.only = vec!["kvdoc".into()];
    let err = repro_long_context::reproduce(&opts)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("`kvdoc`") && err.contains("kvdocs, shakespeare"),
        "{err}"
    );
}

#[test]
fn claims_of_an_unselected_experiment_are_inconclusive() {
    // `--only shakespeare` (10 steps at smoke) leaves `kvdocs`, which decides every claim,
    // unselected.
    let Some(roots) = repro_core::testing::mirror_roots() else {
        return;
    };
    let _g = repro_core::device::seed_lock();
    let mut opts = Options::new(Profile::Smoke);
    opts.progress = false;
    opts.data = roots;
    opts.only = vec!["shakespeare".into()];
    let report = repro_long_context::reproduce(&opts)
        .and_then(|o| o.into_report())
        .expect("shakespeare smoke run");
    let ids: Vec<&str> = report.claims.iter().map(|c| c.id.as_str()).collect();
    assert_eq!(ids, ["LC-0", "LC-1", "LC-2", "LC-3"]);
    for c in &report.claims {
        assert_eq!(c.verdict, Verdict::Inconclusive, "{}", c.id);
        assert_eq!(
            c.measured["note"],
            "not run: experiment `kvdocs` not selected"
        );
    }
    assert!(report.results.iter().all(|r| r["kind"] == "shakespeare"));
    assert!(report.seeds.is_empty());
}

//! `--only`: a typo is an error naming the experiments, and a claim whose experiment was
//! not selected is inconclusive with that reason.

use repro_core::device::seed_lock;
use repro_core::{Options, Profile, Verdict};

#[test]
fn only_typos_are_errors_and_unselected_claims_are_inconclusive() {
    let mut opts = Options::new(Profile::Smoke);
    opts.progress = false;
    opts.only = vec!["ring9".into()];
    let e = repro_flowdiff::reproduce(&opts).unwrap_err().to_string();
    assert!(
        e.contains("unknown experiment `ring9`") && e.contains("ring8, moons, digits, downstream"),
        "{e}"
    );

    let _guard = seed_lock();
    opts.only = vec!["ring8".into()];
    let report = repro_flowdiff::reproduce(&opts)
        .and_then(|o| o.into_report())
        .expect("smoke ring8");
    let ids: Vec<&str> = report.claims.iter().map(|c| c.id.as_str()).collect();
    assert_eq!(ids, ["C1", "C2", "C3", "C4", "C5"]);
    for (id, exp) in [("C4", "`digits` (E2)"), ("C5", "`downstream` (E3)")] {
        let c = report.claims.iter().find(|c| c.id == id).expect("claim");
        assert_eq!(c.verdict, Verdict::Inconclusive, "{id}");
        assert_eq!(
            c.measured["status"],
            format!("not run: experiment {exp} was not selected"),
            "{id}"
        );
    }
    assert!(report.results.iter().all(|r| r["experiment"] == "E1"));
}

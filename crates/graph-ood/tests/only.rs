//! `--only` selects experiments: a typo is an error, and a claim whose experiment was not
//! selected is inconclusive with that reason.

use repro_core::report::{Options, Profile, Verdict};

fn opts(only: &[&str]) -> Options {
    let mut o = Options::new(Profile::Smoke);
    o.progress = false;
    o.only = only.iter().map(|s| (*s).to_owned()).collect();
    o
}

#[test]
fn only_with_a_typo_is_an_error_naming_the_experiments() {
    let e = repro_graph_ood::reproduce(&opts(&["csbm", "cbsa"]))
        .unwrap_err()
        .to_string();
    assert!(e.contains("`cbsa`") && e.contains("cbas, csbm"), "{e}");
}

#[test]
fn only_csbm_runs_csbm_and_leaves_the_other_claims_inconclusive() {
    let report = repro_graph_ood::reproduce(&opts(&["csbm"]))
        .and_then(|o| o.into_report())
        .unwrap();
    assert!(!report.results.is_empty());
    assert!(
        report.results.iter().all(|r| r["dataset"] == "CSBM-OOD"),
        "only CSBM runs"
    );
    let claim = |id: &str| report.claims.iter().find(|c| c.id == id).unwrap();
    let g1 = claim("G1");
    assert_eq!(g1.verdict, Verdict::Inconclusive);
    assert_eq!(
        g1.measured["note"],
        "not run: experiment `cbas` not selected"
    );
    assert_eq!(
        claim("G2").measured["note"],
        "not run: experiments `cbas`, `webkb`, `cora` not selected"
    );
    // The CSBM claims are measured (not replaced by a note).
    let g4a = claim("G4a");
    assert!(!g4a.measured.contains_key("note"), "{g4a:?}");
    let ids: Vec<&str> = report.claims.iter().map(|c| c.id.as_str()).collect();
    assert_eq!(ids, ["G1", "G2", "G3", "G4a", "G4b", "G4c", "G5"]);
}

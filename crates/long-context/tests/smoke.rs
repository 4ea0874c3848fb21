//! The smoke profile runs end to end, learns, and writes a well-formed report.

use repro_core::report::{Options, Profile, Verdict};
use repro_core::testing::TempDir;

#[test]
fn smoke_reproduction_writes_a_report() {
    let _g = repro_core::device::seed_lock();
    let mut opts = Options::new(Profile::Smoke);
    opts.progress = false;
    let report = repro_long_context::reproduce(&opts)
        .and_then(|o| o.into_report())
        .expect("smoke run");
    let ids: Vec<&str> = report.claims.iter().map(|c| c.id.as_str()).collect();
    assert_eq!(ids, ["LC-0", "LC-1", "LC-2", "LC-3"]);
    assert!(report.claims.iter().all(|c| !c.measured.is_empty()));
    // A 20-step evaluator cannot retrieve: the gate fails and LC-1/LC-2, which read the
    // evaluator, are not evaluable (inconclusive with the reason), never "not reproduced".
    assert_eq!(report.claims[0].verdict, Verdict::NotReproduced);
    for c in &report.claims[1..3] {
        assert_eq!(c.verdict, Verdict::Inconclusive, "{}", c.id);
        let note = c.measured["note"].as_str().unwrap_or_default();
        assert!(note.contains("LC-0 failed"), "{}: {note}", c.id);
    }
    for r in report.results.iter().filter(|r| r["kind"] == "train_loss") {
        let (first, last) = (
            r["first_10pct"].as_f64().unwrap(),
            r["last_10pct"].as_f64().unwrap(),
        );
        assert!(
            last < first,
            "run {} must learn: {first} -> {last}",
            r["run"]
        );
    }
    let members = report
        .results
        .iter()
        .filter(|r| r["kind"] == "member")
        .count();
    assert_eq!(members, 8, "family of 8 members");
    let tmp = TempDir::new("lc-smoke");
    report.write(tmp.path()).unwrap();
    for f in [
        "report.json",
        "report.md",
        "longppl_vs_score.svg",
        "longce_vs_ce.svg",
    ] {
        assert!(tmp.path().join(f).is_file(), "{f}");
    }
}

//! Reports written by repro-core follow the schema; broken ones are caught.

use repro_core::report::{Claim, Options, Profile, Report};
use repro_core::testing::TempDir;
use repro_tests::validate_report;
use serde_json::{Value, json};

#[test]
fn written_report_follows_schema() {
    let opts = Options::new(Profile::Smoke);
    let mut r = Report::new("schema-demo", &opts, json!({"steps": 3}));
    r.seeds = vec![0, 1, 2];
    r.push_result(json!({"seed": 0, "acc": 0.5}));
    r.claims.push(
        Claim::new("C1", "s", "acc > 0.4")
            .measure("acc", 0.5)
            .decide(true),
    );
    let tmp = TempDir::new("schema");
    r.finish().write(tmp.path()).unwrap();
    let v: Value =
        serde_json::from_str(&std::fs::read_to_string(tmp.path().join("report.json")).unwrap())
            .unwrap();
    validate_report(&v).unwrap();
}

#[test]
fn schema_violations_are_listed() {
    let bad = json!({"paper": "x", "profile": "fast", "device": "flex", "seeds": [-1],
        "wall_seconds": "1", "config": {}, "results": [],
        "claims": [{"id": "C1", "statement": "s", "measured": {}, "criterion": "c", "verdict": "yes"}]});
    let err = validate_report(&bad).unwrap_err();
    for needle in [
        "missing `git_commit`",
        "profile `fast`",
        "seeds must be",
        "`wall_seconds` is string",
        "verdict `yes`",
    ] {
        assert!(err.contains(needle), "{needle} not in {err}");
    }
}

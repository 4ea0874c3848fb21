//! The smoke profile end to end: a well-formed report, losses that fall, every feature
//! statistic present, and bit-identical numbers on a rerun.

use repro_core::device::seed_lock;
use repro_core::report::{Options, Profile, Report, Verdict};
use repro_core::testing::TempDir;
use serde_json::Value;

fn rows<'a>(r: &'a Report, kind: &str) -> Vec<&'a Value> {
    r.results.iter().filter(|v| v["kind"] == kind).collect()
}

#[test]
fn smoke_reproduction_is_well_formed_learns_and_reruns_identically() {
    let _g = seed_lock();
    let mut opts = Options::new(Profile::Smoke);
    opts.progress = false;
    let report = repro_monosemantic::reproduce(&opts)
        .and_then(|o| o.into_report())
        .unwrap();
    // The wall time covers the jobs, not just the report's assembly (milliseconds).
    assert!(report.wall_seconds > 0.2, "{}", report.wall_seconds);

    let ids: Vec<&str> = report.claims.iter().map(|c| c.id.as_str()).collect();
    assert_eq!(
        ids,
        [
            "MONO-1", "MONO-2", "MONO-3", "MONO-4", "MONO-5", "MONO-6", "MONO-7", "MONO-T1",
            "MONO-T2"
        ]
    );
    // The listed claims (cargo xtask list) are the reported ones, statement for statement.
    let listed: Vec<(&str, &str)> = report
        .claims
        .iter()
        .map(|c| (c.id.as_str(), c.statement.as_str()))
        .collect();
    let declared: Vec<(&str, &str)> = repro_monosemantic::INFO
        .claims
        .iter()
        .map(|c| (c.id, c.statement))
        .collect();
    assert_eq!(listed, declared);
    // One seed cannot decide the paired claims.
    assert!(
        report.claims[..8]
            .iter()
            .all(|c| c.verdict == Verdict::Inconclusive)
    );
    assert_eq!(report.seeds, vec![0]);

    // CL, NCL and NCL-rep losses fall (mean of the last 10 steps below the first 10); so
    // does the SAE's.
    let pre = rows(&report, "pretrain");
    assert_eq!(pre.len(), 3);
    for r in pre.iter().chain(rows(&report, "sae").iter()) {
        let (a, b) = (
            r["loss_first10"].as_f64().unwrap(),
            r["loss_last10"].as_f64().unwrap(),
        );
        assert!(b < a, "loss did not fall: {r}");
    }

    // Every method carries every feature statistic, and accuracies are in range.
    let feats = rows(&report, "features");
    let methods: Vec<&str> = feats.iter().filter_map(|r| r["method"].as_str()).collect();
    for m in [
        "CL",
        "NCL",
        "NCL-rep",
        "SAE",
        "PIX",
        "RAND",
        "CL-L2",
        "CL-relu-eval",
        "CL-h",
    ] {
        assert!(methods.contains(&m), "missing method {m}: {methods:?}");
    }
    for key in [
        "consistency_eps",
        "consistency_top50",
        "sparsity_1e5",
        "sparsity_1e2",
        "erank_entropy",
        "erank",
        "orthogonality",
        "active_dims",
    ] {
        assert!(
            feats.iter().all(|r| r["stats"].get(key).is_some()),
            "missing {key}"
        );
    }
    let probes = rows(&report, "probe");
    assert!(!probes.is_empty());
    assert!(
        probes
            .iter()
            .all(|r| (0.0..=100.0).contains(&r["acc"].as_f64().unwrap()))
    );
    // The clean probe on CL features beats chance (10 %) even at smoke size.
    let cl0 = probes
        .iter()
        .find(|r| r["method"] == "CL" && r["eta"] == 0.0)
        .unwrap();
    assert!(cl0["acc"].as_f64().unwrap() > 30.0, "{cl0}");

    let tmp = TempDir::new("monosemantic-smoke");
    report.write(tmp.path()).unwrap();
    let back = Report::read(&tmp.path().join("report.json")).unwrap();
    assert_eq!(back.claims, report.claims);

    // Same seed, same thread count: identical numbers.
    let again = repro_monosemantic::reproduce(&opts)
        .and_then(|o| o.into_report())
        .unwrap();
    assert_eq!(again.results, report.results);
}

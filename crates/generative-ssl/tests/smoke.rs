//! The smoke profile end to end: every claim decided (one seed gives no interval, so every
//! claim is `inconclusive`), every objective's loss falls, the report and its plots are
//! written, a resumed rerun and a fresh rerun are identical, and `--only` typos are refused.

use repro_core::experiment::Outcome;
use repro_core::report::{Options, Profile, Verdict};
use repro_core::testing::TempDir;

fn smoke(out: Option<&TempDir>) -> Options {
    let mut opts = Options::new(Profile::Smoke);
    opts.progress = false;
    if let Some(t) = out {
        opts.out = Some(t.path().to_path_buf());
    }
    opts
}

#[test]
fn smoke_reproduction_decides_every_claim_and_reruns_identically() {
    let _g = repro_core::device::seed_lock();
    let tmp = TempDir::new("gssl-smoke");
    let report = repro_generative_ssl::reproduce(&smoke(Some(&tmp)))
        .and_then(Outcome::into_report)
        .expect("smoke run");
    let ids: Vec<&str> = report.claims.iter().map(|c| c.id.as_str()).collect();
    assert_eq!(ids, ["GEN-1", "GEN-2", "GEN-3", "GEN-4", "GEN-5", "GEN-6"]);
    for c in &report.claims {
        assert!(!c.measured.is_empty(), "{}", c.id);
        // One seed: the intervals are undefined, so nothing can pass or fail.
        assert_eq!(c.verdict, Verdict::Inconclusive, "{}", c.id);
    }
    // Every pretraining run's loss falls (mean of the last 5 steps below the first 5).
    let runs: Vec<_> = report
        .results
        .iter()
        .filter(|r| r["kind"] == "pretrain")
        .collect();
    // 4 main + 2 sweep + 2 ablations + 4 digits.
    assert_eq!(runs.len(), 12);
    for r in &runs {
        let (first, last) = (
            r["loss_first5"].as_f64().unwrap(),
            r["loss_last5"].as_f64().unwrap(),
        );
        assert!(
            last < first,
            "{} {}: {first} -> {last}",
            r["experiment"],
            r["method"]
        );
    }
    // The Bayes curve lies below the uniform ln 32 and the calibration hit its target.
    let lang = report
        .results
        .iter()
        .find(|r| r["kind"] == "language")
        .unwrap();
    let calib = lang["calibration_bayes_acc"].as_f64().unwrap();
    assert!((calib - 0.9).abs() <= 0.005, "{calib}");
    let bayes = report
        .results
        .iter()
        .find(|r| r["kind"] == "nll_curve" && r["method"] == "BAYES")
        .unwrap();
    let curve: Vec<f64> = bayes["mean_over_seeds"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect();
    assert_eq!(curve.len(), 23);
    assert!(
        curve.iter().all(|&v| v > 0.0 && v < 32f64.ln()),
        "{curve:?}"
    );
    report.write(tmp.path()).unwrap();
    for f in [
        "report.json",
        "report.md",
        "nll_vs_t.svg",
        "digits_nll_vs_t.svg",
        "training_loss.svg",
    ] {
        assert!(tmp.path().join(f).is_file(), "{f}");
    }
    // Resumed (every job read back) and fresh reruns give the same claims.
    let again = repro_generative_ssl::reproduce(&smoke(Some(&tmp)))
        .and_then(Outcome::into_report)
        .expect("resumed smoke run");
    assert_eq!(
        serde_json::to_value(&again.claims).unwrap(),
        serde_json::to_value(&report.claims).unwrap()
    );
    let fresh = repro_generative_ssl::reproduce(&smoke(None))
        .and_then(Outcome::into_report)
        .expect("fresh smoke run");
    assert_eq!(
        serde_json::to_value(&fresh.claims).unwrap(),
        serde_json::to_value(&report.claims).unwrap()
    );
    // Every number but the wall-clock ones (`*seconds*`, `*_ms`, the workspace's rule in
    // tests/tests/papers.rs) is the same in a fresh run: results and typed rows.
    let strip = |v: serde_json::Value| without_timings(&v);
    assert_eq!(
        strip(serde_json::to_value(&fresh.results).unwrap()),
        strip(serde_json::to_value(&report.results).unwrap())
    );
    assert!(!report.rows.is_empty());
    assert_eq!(
        strip(serde_json::to_value(&fresh.rows).unwrap()),
        strip(serde_json::to_value(&report.rows).unwrap())
    );
}

fn without_timings(v: &serde_json::Value) -> serde_json::Value {
    match v {
        serde_json::Value::Object(m) => m
            .iter()
            .filter(|(k, _)| !k.contains("seconds") && !k.ends_with("_ms"))
            .map(|(k, x)| (k.clone(), without_timings(x)))
            .collect(),
        serde_json::Value::Array(a) => a.iter().map(without_timings).collect(),
        other => other.clone(),
    }
}

#[test]
fn only_typos_are_errors() {
    let _rng = repro_core::device::seed_lock(); // Burn's generator is process-wide
    let mut opts = smoke(None);
    opts.only = vec!["markovv".into()];
    let err = repro_generative_ssl::reproduce(&opts)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("`markovv`") && err.contains("markov, sweep, ablations, digits"),
        "{err}"
    );
}

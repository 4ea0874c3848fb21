//! The smoke profile on the experiment layer: every claim decided (or gated), a report with
//! its plots, a resumed rerun identical to the first, and `--only` typos refused.

use repro_core::experiment::Outcome;
use repro_core::report::{Options, Profile, Verdict};
use repro_core::testing::TempDir;
use serde_json::json;

fn smoke(out: Option<&TempDir>) -> Options {
    let mut opts = Options::new(Profile::Smoke);
    opts.progress = false;
    if let Some(t) = out {
        opts.out = Some(t.path().to_path_buf());
    }
    opts
}

#[test]
fn smoke_reproduction_decides_every_claim_and_resumes_identically() {
    let _g = repro_core::device::seed_lock();
    let tmp = TempDir::new("icl-smoke");
    let report = repro_icl_ood::reproduce(&smoke(Some(&tmp)))
        .and_then(Outcome::into_report)
        .expect("smoke run");
    let ids: Vec<&str> = report.claims.iter().map(|c| c.id.as_str()).collect();
    assert_eq!(ids, ["ICL-1", "ICL-2", "ICL-3", "ICL-4", "ICL-5", "ICL-6"]);
    assert!(report.claims.iter().all(|c| !c.measured.is_empty()));
    // The smoke run is seeded and deterministic, and 30 steps per class cannot pass the gate:
    // ICL-1 fails on its LR→LR threshold, so it is `inconclusive` ("not evaluable"), and so
    // is every claim it gates, never "not reproduced" (spec §6).
    let gate = &report.claims[0];
    assert_eq!(gate.verdict, Verdict::Inconclusive);
    assert_eq!(gate.measured["per_seed"], json!([false]));
    let err_2d = gate.measured["lr_on_lr_err_2d"][0].as_f64().unwrap();
    assert!(err_2d > 0.1, "LR→LR err(2d) = {err_2d} after 30 steps");
    let note = |c: &repro_core::report::Claim| c.measured["note"].as_str().unwrap_or("").to_owned();
    assert!(note(gate).starts_with("not evaluable"), "{}", note(gate));
    for c in &report.claims[1..] {
        assert_eq!(c.verdict, Verdict::Inconclusive, "{}", c.id);
        assert!(
            note(c).contains("the gate ICL-1 failed"),
            "{}: {}",
            c.id,
            note(c)
        );
        // Gated, not skipped: every experiment ran and its claim's numbers are recorded.
        assert!(c.measured.contains_key("per_seed"), "{}", c.id);
    }
    let id_err = report.claims[4].measured["id_err_repeat"][0]
        .as_f64()
        .unwrap();
    assert!(
        id_err.is_finite() && id_err >= 0.0,
        "ICL-5 ID error {id_err}"
    );
    // Training runs learn something even at smoke size: the loss falls on every run.
    let runs: Vec<_> = report
        .results
        .iter()
        .filter(|r| r["kind"] == "train_loss")
        .collect();
    assert_eq!(runs.len(), 5, "LR, QR, LR+QR and two label models");
    // Baselines behave as their definitions say on the fixed prompts: OLS-lin is exact on
    // LR from k = d on, and the zero predictor scores ≈ 1 at every k (normalisation).
    let curve = |method: &str, test: &str| {
        report
            .results
            .iter()
            .find(|r| r["kind"] == "curve" && r["method"] == method && r["test"] == test)
            .unwrap_or_else(|| panic!("no {method} curve on {test}"))["curve"]["mean"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap())
            .collect::<Vec<f64>>()
    };
    let ols = curve("OLS-lin", "LR");
    assert!(ols[3..].iter().all(|&e| e < 1e-8), "{ols:?}");
    for e in curve("zero", "LR") {
        // 64 prompts: the standard error of mean y²/Var(y) is ≈ √(2/64) = 18%.
        assert!((e - 1.0).abs() < 0.5, "zero predictor {e}");
    }
    report.write(tmp.path()).unwrap();
    for f in [
        "report.json",
        "report.md",
        "switch_index.svg",
        "training_loss.svg",
        "err_lr_on_lr.svg",
        "err_lr_on_qr.svg",
    ] {
        assert!(tmp.path().join(f).is_file(), "{f}");
    }
    // A rerun on the same folder reads every job back and rebuilds the same claims.
    let again = repro_icl_ood::reproduce(&smoke(Some(&tmp)))
        .and_then(Outcome::into_report)
        .expect("resumed smoke run");
    assert_eq!(
        serde_json::to_value(&again.claims).unwrap(),
        serde_json::to_value(&report.claims).unwrap()
    );
}

#[test]
fn only_typos_are_errors() {
    let _rng = repro_core::device::seed_lock(); // Burn's generator is process-wide
    let mut opts = smoke(None);
    opts.only = vec!["x5".into()];
    let err = repro_icl_ood::reproduce(&opts).unwrap_err().to_string();
    assert!(
        err.contains("`x5`") && err.contains("x1, x2, x3, x4"),
        "{err}"
    );
}

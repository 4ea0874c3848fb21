//! The smoke profile end to end: every tokenizer kind, the floors, checkpoints and the
//! ablations run; every claim is decided (inconclusive on one seed); numbers are in range;
//! `tcas.csv` is written; a resumed rerun reads the stored jobs back and gives the same
//! report, and a fresh in-memory run gives the same numbers; `--only` typos are errors.

use repro_core::device::seed_lock;
use repro_core::report::{Options, Profile, Report, Verdict};
use repro_core::testing::TempDir;
use serde_json::Value;

fn smoke(only: &[&str]) -> Options {
    let mut opts = Options::new(Profile::Smoke);
    opts.progress = false;
    opts.only = only.iter().map(|s| (*s).to_owned()).collect();
    opts
}

fn entries<'a>(r: &'a Report, kind: &str) -> Vec<&'a Value> {
    r.results.iter().filter(|v| v["kind"] == kind).collect()
}

fn strip(r: &Report) -> Vec<Value> {
    r.results
        .iter()
        .map(|v| {
            let mut v = v.clone();
            if let Some(o) = v.as_object_mut() {
                o.remove("train_seconds");
                o.remove("step_ms");
            }
            v
        })
        .collect()
}

#[test]
fn smoke_decides_every_claim_and_reruns_identically() {
    let _g = seed_lock();
    let tmp = TempDir::new("mim-tokens-smoke");
    let mut opts = smoke(&[]);
    opts.out = Some(tmp.path().to_path_buf());
    let report = repro_mim_tokens::reproduce(&opts)
        .and_then(|o| o.into_report())
        .unwrap();
    let listed: Vec<(&str, &str)> = report
        .claims
        .iter()
        .map(|c| (c.id.as_str(), c.statement.as_str()))
        .collect();
    let declared: Vec<(&str, &str)> = repro_mim_tokens::INFO
        .claims
        .iter()
        .map(|c| (c.id, c.statement))
        .collect();
    assert_eq!(listed, declared);
    for c in &report.claims {
        // One seed: every verdict needs three.
        assert_eq!(c.verdict, Verdict::Inconclusive, "{c:?}");
        let note = c.measured["note"].as_str().unwrap();
        assert!(!note.starts_with("not run"), "{c:?}");
    }
    let runs: Vec<&str> = entries(&report, "run")
        .iter()
        .map(|v| v["method"].as_str().unwrap())
        .collect();
    for m in [
        "MAE",
        "PIX-16",
        "PIX-8",
        "FEAT-8",
        "RAND-16",
        "MIX-16",
        "ORACLE",
        "ORACLE-PIX",
    ] {
        assert!(runs.contains(&m), "missing {m}: {runs:?}");
    }
    assert_eq!(
        runs.iter().filter(|m| **m == "PIX-K*").count(),
        3,
        "three ablations"
    );
    assert_eq!(entries(&report, "floor").len(), 2);
    for v in entries(&report, "run") {
        for k in ["lp_cls", "lp_mean", "knn", "val_cls"] {
            let x = v["scores"][k].as_f64().unwrap();
            assert!((0.0..=100.0).contains(&x), "{k}: {v}");
        }
        assert!(v["loss_last10"].as_f64().unwrap().is_finite());
        assert_eq!(
            v["checkpoints"].as_array().unwrap().len(),
            2,
            "epochs 2 and 4"
        );
        if v["method"] != "MAE" {
            let a = &v["alignment"];
            assert!((0.0..=1.0).contains(&a["tcas"].as_f64().unwrap()), "{v}");
            assert!((0.0..=1.0).contains(&a["h_ratio"].as_f64().unwrap()), "{v}");
        }
        if v["method"] == "ORACLE" {
            assert_eq!(v["alignment"]["tcas"].as_f64().unwrap(), 0.0);
        }
    }
    let csv = std::fs::read_to_string(tmp.path().join("tcas.csv")).unwrap();
    assert!(
        csv.starts_with("tokenizer,k,tcas_repro,tcas_cross_fitted,h_ratio"),
        "{csv}"
    );
    assert!(
        csv.contains("\nMIX-16,16,") && csv.contains("\nORACLE,10,0,"),
        "{csv}"
    );
    let plots: Vec<&str> = report.plots.iter().map(|p| p.name.as_str()).collect();
    for p in ["tcas_vs_lp", "pix_k_sweep", "convergence"] {
        assert!(plots.contains(&p), "{plots:?}");
    }
    report.write(tmp.path()).unwrap();
    let again = repro_mim_tokens::reproduce(&opts)
        .and_then(|o| o.into_report())
        .unwrap();
    assert_eq!(again.results, report.results, "resumed from <out>/jobs");
    assert_eq!(again.claims, report.claims);
    let fresh = repro_mim_tokens::reproduce(&smoke(&[]))
        .and_then(|o| o.into_report())
        .unwrap();
    assert_eq!(strip(&fresh), strip(&report), "same seed, same numbers");
    assert_eq!(fresh.claims, report.claims);
}

#[test]
fn only_typo_is_an_error_and_ablations_need_tokens() {
    let _rng = repro_core::device::seed_lock(); // Burn's generator is process-wide
    let e = repro_mim_tokens::reproduce(&smoke(&["token"]))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("`token`") && e.contains("tokens, ablations"),
        "{e}"
    );
    let e = repro_mim_tokens::reproduce(&smoke(&["ablations"]))
        .unwrap_err()
        .to_string();
    assert!(e.contains("ablations need the `tokens` experiment"), "{e}");
}

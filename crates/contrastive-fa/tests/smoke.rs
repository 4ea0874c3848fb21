//! The smoke profile end to end: every experiment and method runs, every claim is
//! decided (inconclusive on one seed), numbers are in range, a resumed rerun reads the
//! stored jobs back and gives the identical report; `--only` typos are errors and the
//! claims of unselected experiments say why they are inconclusive.

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

#[test]
fn smoke_decides_every_claim_and_a_resumed_rerun_is_identical() {
    let _g = seed_lock();
    let tmp = TempDir::new("contrastive-fa-smoke");
    let mut opts = smoke(&[]);
    opts.out = Some(tmp.path().to_path_buf());
    let report = repro_contrastive_fa::reproduce(&opts)
        .and_then(|o| o.into_report())
        .unwrap();

    let ids: Vec<&str> = report.claims.iter().map(|c| c.id.as_str()).collect();
    assert_eq!(ids, ["F1", "F2", "F3", "F4", "F5"]);
    let declared: Vec<(&str, &str)> = repro_contrastive_fa::INFO
        .claims
        .iter()
        .map(|c| (c.id, c.statement))
        .collect();
    let listed: Vec<(&str, &str)> = report
        .claims
        .iter()
        .map(|c| (c.id.as_str(), c.statement.as_str()))
        .collect();
    assert_eq!(listed, declared);
    // One seed: no paired CI, so nothing can be reproduced; nothing is "not run" either.
    for c in &report.claims {
        assert_ne!(c.verdict, Verdict::Reproduced, "{c:?}");
        let note = c.measured.get("note").and_then(Value::as_str).unwrap_or("");
        assert!(!note.starts_with("not run"), "{c:?}");
    }
    // Every method and experiment ran once.
    let digits: Vec<&str> = entries(&report, "digits")
        .iter()
        .filter(|v| v["experiment"] == "digits")
        .map(|v| v["method"].as_str().unwrap())
        .collect();
    for m in [
        "PIX",
        "SimCLR",
        "Spectral",
        "NCL",
        "CFA-InfoNCE",
        "CNFA-InfoNCE",
        "CFA-Spectral",
        "CNFA-Spectral",
        "CFA-det",
    ] {
        assert!(digits.contains(&m), "missing {m}: {digits:?}");
    }
    assert_eq!(entries(&report, "sweep").len(), 9);
    assert_eq!(entries(&report, "selection").len(), 1);
    assert_eq!(entries(&report, "heldout").len(), 3);
    assert_eq!(entries(&report, "synthetic").len(), 3);
    // Losses are finite; metrics inside their ranges.
    for v in entries(&report, "pretrain") {
        assert!(v["loss_last10"].as_f64().unwrap().is_finite(), "{v}");
    }
    for v in entries(&report, "digits") {
        for k in ["probe", "probe_latent", "few_label", "knn"] {
            assert!((0.0..=100.0).contains(&v[k].as_f64().unwrap()), "{k}: {v}");
        }
        for k in ["soft_sparsity", "exact_sparsity", "auroc_norm", "auroc_msp"] {
            assert!((0.0..=1.0).contains(&v[k].as_f64().unwrap()), "{k}: {v}");
        }
        let m = v["method"].as_str().unwrap();
        if m.starts_with("CFA") || m.starts_with("CNFA") {
            assert!(
                (0.0..=1.0).contains(&v["auroc_entropy"].as_f64().unwrap()),
                "{v}"
            );
        }
    }
    for v in entries(&report, "synthetic") {
        assert!((0.0..=1.0).contains(&v["mcc"].as_f64().unwrap()), "{v}");
    }
    // The plots of the docs page are there.
    let plots: Vec<&str> = report.plots.iter().map(|p| p.name.as_str()).collect();
    for p in [
        "robustness_noise",
        "robustness_occlusion",
        "heatmap_cnfa",
        "heatmap_ncl",
    ] {
        assert!(plots.contains(&p), "{plots:?}");
    }
    report.write(tmp.path()).unwrap();
    let back = Report::read(&tmp.path().join("report.json")).unwrap();
    assert_eq!(back.claims, report.claims);

    // Resumed: every job is read back from <out>/jobs, the report is the same.
    let again = repro_contrastive_fa::reproduce(&opts)
        .and_then(|o| o.into_report())
        .unwrap();
    assert_eq!(again.results, report.results);
    assert_eq!(again.claims, report.claims);
    // Fresh, in memory: the same numbers (timings aside).
    let fresh = repro_contrastive_fa::reproduce(&smoke(&[]))
        .and_then(|o| o.into_report())
        .unwrap();
    let strip = |r: &Report| -> Vec<Value> {
        r.results
            .iter()
            .map(|v| {
                let mut v = v.clone();
                if let Some(o) = v.as_object_mut() {
                    o.remove("train_seconds");
                }
                v
            })
            .collect()
    };
    assert_eq!(strip(&fresh), strip(&report));
    assert_eq!(fresh.claims, report.claims);
}

#[test]
fn only_typo_is_an_error_and_unselected_claims_say_why() {
    let e = repro_contrastive_fa::reproduce(&smoke(&["digit"]))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("`digit`") && e.contains("digits, sweep, heldout, synthetic"),
        "{e}"
    );
    let _g = seed_lock();
    let report = repro_contrastive_fa::reproduce(&smoke(&["synthetic"]))
        .and_then(|o| o.into_report())
        .unwrap();
    for c in &report.claims {
        if c.id == "F5" {
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
    assert!(report.results.iter().all(|r| r["kind"] == "synthetic"));
}

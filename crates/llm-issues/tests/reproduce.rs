//! The smoke profile end to end (no data mirror needed): every claim decided, the
//! pipeline checks pass, synthetic runs stay inconclusive, reruns are identical, files are
//! written beside the report; `--only` typos are errors.

use repro_core::device::seed_lock;
use repro_core::report::{Options, Profile, Verdict};
use repro_core::testing::TempDir;

fn smoke(only: &[&str]) -> Options {
    let mut opts = Options::new(Profile::Smoke);
    opts.progress = false;
    opts.only = only.iter().map(|s| (*s).to_owned()).collect();
    opts
}

#[test]
fn smoke_reproduction_decides_every_claim_and_reruns_identically() {
    let _g = seed_lock();
    let tmp = TempDir::new("llm-issues-smoke");
    let mut opts = smoke(&[]);
    opts.out = Some(tmp.path().to_path_buf());
    let report = repro_llm_issues::reproduce(&opts)
        .and_then(|o| o.into_report())
        .unwrap();
    let ids: Vec<&str> = report.claims.iter().map(|c| c.id.as_str()).collect();
    assert_eq!(ids, ["L1", "L2", "L3", "L4", "L5"]);
    let v = |id: &str| report.claims.iter().find(|c| c.id == id).unwrap();
    assert_eq!(v("L2").verdict, Verdict::Reproduced, "{:?}", v("L2"));
    assert_eq!(v("L5").verdict, Verdict::Reproduced, "{:?}", v("L5"));
    for id in ["L1", "L3", "L4"] {
        assert_eq!(v(id).verdict, Verdict::Inconclusive, "{id}");
    }
    assert!(
        v("L4").measured["note"]
            .as_str()
            .unwrap()
            .starts_with("not testable")
    );
    // The learned model learns the synthetic set (well above the constant 1/6).
    let f1 = v("L1").measured["f1_overall_linear_mean"].as_f64().unwrap();
    assert!(f1 > 0.5, "{f1}");
    // Files beside the report.
    for f in [
        "prevalence_issue.csv",
        "prevalence_cause.md",
        "per_project_solution.csv",
        "contingency_issue_cause.csv",
        "sankey_cause_solution.csv",
        "olf_prevalence_symptom.csv",
        "olf_contingency_symptom_root_cause.md",
        "nlbse24_report.md",
        "coded_sample.csv",
        "claims.md",
    ] {
        assert!(tmp.path().join(f).is_file(), "{f} missing");
    }
    // The coded sample parses back against the codebook.
    let tax = repro_llm_issues::taxonomy::Taxonomy::builtin("codebook_v0").unwrap();
    let p = tmp.path().join("coded_sample.csv");
    let rows =
        repro_llm_issues::data::parse_coding_csv(&std::fs::read(&p).unwrap(), &p, &tax).unwrap();
    assert!(rows.len() >= 3 * 40, "{}", rows.len());
    // Rerun in memory: same results.
    let again = repro_llm_issues::reproduce(&smoke(&[]))
        .and_then(|o| o.into_report())
        .unwrap();
    assert_eq!(report.results, again.results);
}

#[test]
fn only_selects_experiments_and_typos_are_errors() {
    let _rng = repro_core::device::seed_lock(); // Burn's generator is process-wide
    let e = repro_llm_issues::reproduce(&smoke(&["colect"]))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("`colect`") && e.contains("collect, nlbse, failures, coded"),
        "{e}"
    );
    let report = repro_llm_issues::reproduce(&smoke(&["failures"]))
        .and_then(|o| o.into_report())
        .unwrap();
    for c in &report.claims {
        if c.id == "L3" {
            assert!(
                !c.measured.contains_key("note")
                    || c.measured["note"].as_str().unwrap().starts_with("smoke")
            );
        } else {
            assert_eq!(c.verdict, Verdict::Inconclusive, "{}", c.id);
            assert!(
                c.measured["note"].as_str().unwrap().starts_with("not run"),
                "{c:?}"
            );
        }
    }
    // `coded` alone pulls the collect job in, but L2 and L5 stay "not run".
    let report = repro_llm_issues::reproduce(&smoke(&["coded"]))
        .and_then(|o| o.into_report())
        .unwrap();
    let l4 = report.claims.iter().find(|c| c.id == "L4").unwrap();
    assert!(
        l4.measured["note"]
            .as_str()
            .unwrap()
            .starts_with("not testable")
    );
    let l5 = report.claims.iter().find(|c| c.id == "L5").unwrap();
    assert!(l5.measured["note"].as_str().unwrap().starts_with("not run"));
}

#[test]
fn full_profile_paths_run_on_a_tiny_configuration() {
    use repro_llm_issues::classifier::FastTextConfig;
    let _g = seed_lock();
    // The smoke data with the full profile's extras: λ by cross-validation, fastText,
    // top-weighted n-grams.
    let mut cfg = repro_llm_issues::ExperimentConfig::smoke();
    cfg.nlbse.cv_lambdas = vec![1e-4, 1e-2];
    cfg.nlbse.cv_folds = 3;
    cfg.nlbse.linear.epochs = 30;
    cfg.nlbse.top_ngrams = 3;
    cfg.nlbse.fasttext = Some(FastTextConfig {
        n_buckets: 1 << 12,
        max_epochs: 3,
        ..FastTextConfig::default()
    });
    let tmp = TempDir::new("llm-issues-full-paths");
    let mut opts = smoke(&["nlbse"]);
    opts.out = Some(tmp.path().to_path_buf());
    let report = repro_llm_issues::reproduce_with(&cfg, &opts)
        .and_then(|o| o.into_report())
        .unwrap();
    assert!(
        report
            .tables
            .iter()
            .any(|t| t.title.contains("cross-validation"))
    );
    let e2 = report
        .tables
        .iter()
        .find(|t| t.title.starts_with("E2: NLBSE"))
        .unwrap();
    assert!(e2.columns.iter().any(|c| c.starts_with("fasttext")));
    let md = std::fs::read_to_string(tmp.path().join("nlbse24_report.md")).unwrap();
    assert!(
        md.contains("Top-weighted n-grams") && md.contains("fasttext"),
        "{md}"
    );
}

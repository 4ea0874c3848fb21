//! The real data through the crate's loaders (skipped with a message when the mirror is
//! absent, unless `REPRO_REQUIRE_DATA=1`): NLBSE'24 and Open-LLM-Failures counts as in
//! `datasets/SOURCES.md`, and the cross-walk covering every root cause of the data.

use std::collections::{BTreeMap, BTreeSet};

use repro_core::testing::mirror_roots;
use repro_llm_issues::data::{load_nlbse24, load_open_llm_failures, nlbse_classes};
use repro_llm_issues::experiments::run_failures;
use repro_llm_issues::label::{Labeller, RuleLabeller};
use repro_llm_issues::taxonomy::{Crosswalk, Level, Taxonomy};
use repro_llm_issues::text::features;

#[test]
fn nlbse24_counts_and_awkward_bodies() {
    let Some(roots) = mirror_roots() else {
        return;
    };
    let d = load_nlbse24(&roots).unwrap();
    assert_eq!((d.train.len(), d.test.len()), (1500, 1500));
    assert_eq!(d.repos().len(), 5);
    for part in [&d.train, &d.test] {
        let mut per: BTreeMap<(&str, usize), usize> = BTreeMap::new();
        for i in part.iter() {
            *per.entry((i.repo.as_str(), i.label.index())).or_default() += 1;
        }
        assert_eq!(per.len(), 15);
        assert!(per.values().all(|&n| n == 100), "{per:?}");
    }
    // The NUL body and the CR LF bodies parse, tokenise and label without panicking.
    let nul = d.test.iter().find(|i| i.body.contains('\0')).unwrap();
    let doc = repro_llm_issues::data::nlbse_doc(nul);
    assert!(features(&doc).iter().all(|f| !f.contains('\0')));
    let rules = RuleLabeller::nlbse();
    let crlf = d.train.iter().find(|i| i.body.contains("\r\n")).unwrap();
    let _ = rules.label(&repro_llm_issues::data::nlbse_doc(crlf));
    // The two very long training bodies are cut at 8 000 characters.
    let long: Vec<_> = d
        .train
        .iter()
        .filter(|i| i.body.chars().count() > 131_072)
        .collect();
    assert_eq!(long.len(), 2);
    assert!(
        repro_llm_issues::data::nlbse_doc(long[0])
            .body_text()
            .chars()
            .count()
            <= 8000
    );
    let s = d.split("facebook/react");
    assert_eq!((s.train_docs.len(), s.test_docs.len()), (300, 300));
    assert_eq!(nlbse_classes(), ["bug", "feature", "question"]);
}

#[test]
fn open_llm_failures_counts_and_the_crosswalk() {
    let Some(roots) = mirror_roots() else {
        return;
    };
    let recs = load_open_llm_failures(&roots).unwrap();
    assert_eq!(recs.len(), 706);
    let links: BTreeSet<&str> = recs.iter().map(|r| r.link.as_str()).collect();
    assert_eq!(links.len(), 703);
    let repos: BTreeSet<&str> = recs.iter().filter_map(|r| r.repository()).collect();
    assert_eq!(repos.len(), 14);
    // `number` is the record index; the issue number comes from the link.
    let r = recs
        .iter()
        .find(|r| r.link == "https://github.com/meta-llama/llama/issues/834")
        .unwrap();
    assert_eq!(r.issue_number(), Some(834));
    assert!(
        recs.iter()
            .any(|r| u64::from(r.number) != r.issue_number().unwrap())
    );
    // Every root-cause and symptom category of the data is in the taxonomy file, and every
    // root cause has a cross-walk entry (with the data's exact spelling).
    let olf = Taxonomy::builtin("open_llm_failures").unwrap();
    let cw = Crosswalk::builtin_olf_v0().unwrap();
    for r in &recs {
        let c = r.root_cause_parts();
        cw.map(c.category).unwrap_or_else(|e| panic!("{e}"));
        olf.check_label(Level::Cause, c.category).unwrap();
        olf.check_label(Level::Cause, c.subcategory).unwrap();
        let s = r.symptom_parts();
        olf.check_label(Level::Issue, s.category).unwrap();
        olf.check_label(Level::Issue, s.subcategory).unwrap();
    }
    // The E3 tables on the real records (the numbers L3 checks).
    let (_, f) = run_failures(&recs, false, 1.96).unwrap();
    let count = |t: &str, l: &str| {
        f.prevalence[t]
            .iter()
            .find(|r| r.label == l)
            .map_or(0, |r| r.count)
    };
    assert_eq!(
        (count("symptom", "Crash"), count("symptom_closed", "Crash")),
        (295, 245)
    );
    assert_eq!(count("root_cause", "Environment Compatibility Issues"), 223);
    assert_eq!(
        count("root_cause_closed", "Hardware and Resource Limitations"),
        33
    );
    assert_eq!(
        (count("status", "closed"), count("status", "open")),
        (571, 135)
    );
    assert_eq!(count("stage", "Fine-tuning"), 149);
    let t = &f.symptom_root_cause;
    assert!(
        (t.chi2 - 235.27).abs() < 0.005 && t.dof == 32,
        "{} {}",
        t.chi2,
        t.dof
    );
    assert!((t.cramers_v - 0.2886).abs() < 5e-5, "{}", t.cramers_v);
    let cw_all: Vec<(&str, u64)> = f.crosswalk["all"]
        .iter()
        .map(|r| (r.label.as_str(), r.count))
        .collect();
    assert_eq!(
        cw_all,
        [
            ("Dependency & Environment Problem", 223),
            ("Configuration and Connection Problem", 130),
            ("Unmapped", 125),
            ("Model Problem", 70),
            ("Feature and Method Problem", 65),
            ("Resource (GPU/RAM) Problem", 47),
            ("Code Defect", 46),
        ]
    );
    // A record whose root cause lacks a cross-walk entry is a clear error.
    let mut bad = recs.clone();
    bad[0].root_cause = "Cosmic Rays - Bit Flips".into();
    let e = run_failures(&bad, false, 1.96).unwrap_err().to_string();
    assert!(
        e.contains("`Cosmic Rays`") && e.contains("crosswalk_olf_v0.toml"),
        "{e}"
    );
}

//! The smoke profile on the experiment layer: every claim decided (or gated), a report with
//! its tables and plots, a resumed rerun identical to the first, and `--only` typos refused.

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
fn smoke_reproduction_decides_every_claim_and_resumes_identically() {
    let _g = repro_core::device::seed_lock();
    let tmp = TempDir::new("fr-smoke");
    let report = repro_factual_recall::reproduce(&smoke(Some(&tmp)))
        .and_then(Outcome::into_report)
        .expect("smoke run");
    let ids: Vec<&str> = report.claims.iter().map(|c| c.id.as_str()).collect();
    assert_eq!(ids, ["FR-0", "FR-1", "FR-2", "FR-3", "FR-4", "FR-5"]);
    assert!(report.claims.iter().all(|c| !c.measured.is_empty()));
    // 50 steps cannot teach the facts: the gate fails, and every other claim is
    // inconclusive with the reason (never "not reproduced"), its numbers still recorded.
    let gate = &report.claims[0];
    assert_eq!(gate.verdict, Verdict::NotReproduced);
    let acc = gate.measured["single_acc"][0].as_f64().unwrap();
    assert!(
        (0.0..0.95).contains(&acc),
        "single-hop accuracy {acc} after 50 steps"
    );
    for c in &report.claims[1..] {
        assert_eq!(c.verdict, Verdict::Inconclusive, "{}", c.id);
        let note = c.measured["note"].as_str().unwrap_or_default();
        assert!(note.contains("FR-0 failed"), "{}: {note}", c.id);
        assert!(c.measured.len() > 1, "{}: only a note", c.id);
    }
    // The loss falls, and the knowledge-neuron stage ran on the 4 smoke facts.
    let accs: Vec<_> = report
        .results
        .iter()
        .filter(|r| r["kind"] == "accuracy")
        .collect();
    assert_eq!(accs.len(), 1);
    let (first, last) = (
        accs[0]["loss_first_last"][0].as_f64().unwrap(),
        accs[0]["loss_first_last"][1].as_f64().unwrap(),
    );
    assert!(last < first, "loss {first} -> {last}");
    let layers = report
        .results
        .iter()
        .find(|r| r["kind"] == "kn_layers")
        .expect("E5 result");
    let facts: u64 = layers["relations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["facts"].as_u64().unwrap())
        .sum();
    assert!(
        (3..=4).contains(&facts),
        "2 first-hop facts and their bridges' facts: {facts}"
    );
    let titles: Vec<&str> = report.tables.iter().map(|t| t.title.as_str()).collect();
    for prefix in ["FR-0", "E1", "E2", "E3", "E4", "E5"] {
        assert!(
            titles.iter().any(|t| t.starts_with(prefix)),
            "no {prefix} table: {titles:?}"
        );
    }
    report.write(tmp.path()).unwrap();
    for f in [
        "report.json",
        "report.md",
        "kn_layers.svg",
        "e1_effects.svg",
    ] {
        assert!(tmp.path().join(f).is_file(), "{f}");
    }
    // A rerun on the same folder reads every job back and rebuilds the same report.
    let again = repro_factual_recall::reproduce(&smoke(Some(&tmp)))
        .and_then(Outcome::into_report)
        .expect("resumed smoke run");
    assert_eq!(
        serde_json::to_value(&again.claims).unwrap(),
        serde_json::to_value(&report.claims).unwrap()
    );
    assert_eq!(again.results, report.results);
}

#[test]
fn only_typos_are_errors_and_unselected_claims_are_inconclusive() {
    let mut opts = smoke(None);
    opts.only = vec!["e7".into()];
    let err = repro_factual_recall::reproduce(&opts)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("`e7`") && err.contains("e1, e2, e3, e4, e5, e6"),
        "{err}"
    );
    let _g = repro_core::device::seed_lock();
    opts.only = vec!["e5".into()];
    let report = repro_factual_recall::reproduce(&opts)
        .and_then(Outcome::into_report)
        .expect("e5 only");
    for c in &report.claims[1..] {
        assert_eq!(c.verdict, Verdict::Inconclusive, "{}", c.id);
        assert!(
            c.measured["note"].as_str().unwrap().starts_with("not run"),
            "{}",
            c.id
        );
    }
    assert!(report.results.iter().any(|r| r["kind"] == "kn_layers"));
}

#[test]
fn e6_runs_the_chain_on_pararel() {
    let Some(roots) = repro_core::testing::mirror_roots() else {
        return;
    };
    let _g = repro_core::device::seed_lock();
    let mut opts = smoke(None);
    opts.data = roots;
    opts.only = vec!["e6".into()];
    let report = repro_factual_recall::reproduce(&opts)
        .and_then(Outcome::into_report)
        .expect("e6 smoke run");
    // E6 decides no claim: every claim is inconclusive with the reason.
    assert!(
        report
            .claims
            .iter()
            .all(|c| c.verdict == Verdict::Inconclusive)
    );
    let e6: Vec<_> = report
        .results
        .iter()
        .filter(|r| r["kind"] == "e6")
        .collect();
    assert_eq!(e6.len(), 1);
    let t = report
        .tables
        .iter()
        .find(|t| t.title.starts_with("E6"))
        .expect("E6 table");
    assert_eq!(t.rows.len(), 1);
    // 50 bridge countries and 23 languages: chance is 1/23.
    assert_eq!(t.rows[0][5], format!("{:.3}", 1.0 / 23.0));
}

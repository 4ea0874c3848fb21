//! Every implemented paper: its smoke profile runs, writes a report that follows the
//! schema, and a rerun with the same seeds gives the same numbers.

use repro_core::report::{Options, Profile};
use repro_core::testing::TempDir;
use repro_tests::validate_report;
use xtask::papers::PAPERS;

#[test]
fn paper_table_matches_crates() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut names: Vec<&str> = PAPERS.iter().map(|p| p.info.name).collect();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), PAPERS.len(), "duplicate paper names");
    for p in PAPERS {
        assert!(
            root.join("crates")
                .join(p.info.name)
                .join("Cargo.toml")
                .is_file(),
            "no crate for {}",
            p.info.name
        );
        assert!(!p.info.claims.is_empty(), "{} lists no claims", p.info.name);
        assert!(
            root.join("docs/papers")
                .join(format!("{}.md", p.info.name))
                .is_file(),
            "no docs/papers/{}.md",
            p.info.name
        );
    }
}

/// The results with every wall-clock field (`*seconds*`, `*_ms`) removed: timings are the
/// only numbers allowed to differ between two runs with the same seeds.
fn without_timings(results: &[serde_json::Value]) -> Vec<serde_json::Value> {
    fn strip(v: &serde_json::Value) -> serde_json::Value {
        match v {
            serde_json::Value::Object(m) => m
                .iter()
                .filter(|(k, _)| !k.contains("seconds") && !k.ends_with("_ms"))
                .map(|(k, x)| (k.clone(), strip(x)))
                .collect(),
            serde_json::Value::Array(a) => a.iter().map(strip).collect(),
            other => other.clone(),
        }
    }
    results.iter().map(strip).collect()
}

#[test]
fn smoke_runs_are_well_formed_and_repeatable() {
    for p in PAPERS {
        let mut opts = Options::new(Profile::Smoke);
        opts.progress = false;
        let run = || {
            (p.reproduce)(&opts)
                .and_then(|o| o.into_report())
                .unwrap_or_else(|e| panic!("{}: {e:#}", p.info.name))
        };
        let (first, second) = (run(), run());
        let tmp = TempDir::new("paper-smoke");
        first.write(tmp.path()).unwrap();
        let json: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(tmp.path().join("report.json")).unwrap())
                .unwrap();
        validate_report(&json).unwrap_or_else(|e| panic!("{}: {e}", p.info.name));
        assert_eq!(first.paper, p.info.name);
        let ids: Vec<&str> = first.claims.iter().map(|c| c.id.as_str()).collect();
        let listed: Vec<&str> = p.info.claims.iter().map(|c| c.id).collect();
        assert_eq!(
            ids, listed,
            "{}: report claims differ from the listed ones",
            p.info.name
        );
        assert_eq!(
            without_timings(&first.results),
            without_timings(&second.results),
            "{}: same seeds, different numbers",
            p.info.name
        );
        assert!(!first.rows.is_empty(), "{}: no typed rows", p.info.name);
        assert_eq!(
            without_timings(&json["rows"].as_array().cloned().unwrap_or_default()),
            without_timings(
                &serde_json::to_value(&second.rows)
                    .unwrap()
                    .as_array()
                    .cloned()
                    .unwrap_or_default()
            ),
            "{}: same seeds, different rows",
            p.info.name
        );
    }
}

#[test]
fn only_with_a_typo_is_a_clear_error_for_every_paper() {
    for p in PAPERS {
        let mut opts = Options::new(Profile::Smoke);
        opts.progress = false;
        opts.only = vec!["no-such-experiment".into()];
        let err = match (p.reproduce)(&opts) {
            Ok(_) => panic!("{}: --only no-such-experiment ran", p.info.name),
            Err(e) => e.to_string(),
        };
        assert!(
            err.contains("unknown experiment `no-such-experiment`"),
            "{}: {err}",
            p.info.name
        );
        for e in p.info.experiments {
            assert!(
                err.contains(e.name),
                "{}: {err} does not list {}",
                p.info.name,
                e.name
            );
        }
    }
}

#[test]
fn every_claim_names_experiments_that_exist() {
    for p in PAPERS {
        assert!(
            !p.info.experiments.is_empty(),
            "{} declares no experiment",
            p.info.name
        );
        for c in p.info.claims {
            assert!(
                !c.criterion.is_empty(),
                "{} {}: no criterion",
                p.info.name,
                c.id
            );
            for e in c.experiments {
                assert!(
                    p.info.experiments.iter().any(|x| x.name == *e),
                    "{} {}: unknown experiment `{e}`",
                    p.info.name,
                    c.id
                );
            }
        }
    }
}

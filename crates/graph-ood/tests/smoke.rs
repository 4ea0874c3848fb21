//! The smoke profile runs end to end, writes a well-formed report, and is deterministic.

use repro_core::report::{Options, Profile, Report};
use repro_core::testing::TempDir;

fn smoke() -> Report {
    let mut opts = Options::new(Profile::Smoke);
    opts.progress = false;
    repro_graph_ood::reproduce(&opts)
        .and_then(|o| o.into_report())
        .expect("smoke reproduction")
}

#[test]
fn smoke_writes_a_well_formed_report_and_is_deterministic() {
    let t = std::time::Instant::now();
    let report = smoke();
    eprintln!("smoke wall time: {:.1} s", t.elapsed().as_secs_f64());
    assert_eq!(report.paper, "graph-ood");
    // Every pre-registered claim appears once, in order.
    let ids: Vec<&str> = report.claims.iter().map(|c| c.id.as_str()).collect();
    let want: Vec<&str> = repro_graph_ood::INFO.claims.iter().map(|c| c.id).collect();
    assert_eq!(ids, want);
    // CBAS covariate: ERM, CIA, CIA-LRA; CSBM both variants: those plus the oracle.
    let methods = |ds: &str| -> Vec<String> {
        let mut m: Vec<String> = report
            .results
            .iter()
            .filter(|r| r["dataset"] == ds)
            .map(|r| r["method"].as_str().unwrap_or("").to_owned())
            .collect();
        m.sort();
        m.dedup();
        m
    };
    assert_eq!(methods("GOOD-CBAS"), ["CIA", "CIA-LRA", "ERM"]);
    assert!(methods("CSBM-OOD").contains(&"Oracle (x_inv only)".to_owned()));
    for r in &report.results {
        let acc = r["record"]["best"]["ood_test"].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&acc), "{r}");
    }
    assert!(report.tables.len() >= 2);
    assert!(
        report.tables[0].rows.len() == 3,
        "CBAS cov + CSBM cov + concept"
    );
    let dir = TempDir::new("graph-ood-smoke");
    let written = report.write(dir.path()).unwrap();
    assert!(written.iter().any(|p| p.ends_with("report.md")));
    let back = Report::read(&dir.path().join("report.json")).unwrap();
    assert_eq!(back.claims.len(), report.claims.len());
    let md = std::fs::read_to_string(dir.path().join("report.md")).unwrap();
    assert!(md.contains("G4a") && md.contains("OOD test accuracy"));
    // Same seeds, same numbers (SplitMix64 weights and masks, Flex CPU).
    let again = smoke();
    let accs = |r: &Report| -> Vec<String> {
        r.results
            .iter()
            .map(|x| x["record"]["best"].to_string())
            .collect()
    };
    assert_eq!(accs(&report), accs(&again));
}

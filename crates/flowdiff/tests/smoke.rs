//! The `smoke` profile end to end: every method trains, every metric is finite, the report
//! has its tables, plots and claims; and the learned prior moved towards the clean law.

use repro_core::{Options, Profile, Verdict};

#[test]
fn smoke_reproduction_runs_end_to_end() {
    let mut opts = Options::new(Profile::Smoke);
    opts.progress = false;
    let t = std::time::Instant::now();
    let report = repro_flowdiff::reproduce(&opts)
        .and_then(|o| o.into_report())
        .expect("smoke run");
    eprintln!("smoke wall time: {:.1} s", t.elapsed().as_secs_f64());
    assert_eq!(report.seeds, vec![0]);
    let ids: Vec<&str> = report.claims.iter().map(|c| c.id.as_str()).collect();
    assert_eq!(ids, ["C1", "C2", "C3", "C4", "C5"]);
    assert!(
        report
            .claims
            .iter()
            .all(|c| c.verdict == Verdict::Inconclusive)
    );
    for r in &report.results {
        for key in ["mmd2", "sw2"] {
            if let Some(v) = r.get(key) {
                assert!(
                    v.as_f64().is_some_and(f64::is_finite),
                    "{key} not finite in {r}"
                );
            }
        }
    }
    let get = |method: &str, key: &str| {
        report
            .results
            .iter()
            .find(|r| r["method"] == method)
            .and_then(|r| r[key].as_f64())
            .unwrap_or(f64::NAN)
    };
    for t in &report.tables {
        eprintln!("{}", t.to_markdown());
    }
    // Learning happened: the flow trained by gradient descent (flow-only, 350 steps) already
    // has posterior means better than the raw observations, and so has the EM Gaussian.
    assert!(get("flow_only", "pm_mse") < get("y", "pm_mse"));
    assert!(get("gaussian", "pm_mse") < get("y", "pm_mse"));
    assert!(!report.tables.is_empty() && !report.plots.is_empty());
    for p in &report.plots {
        assert!(p.to_svg().expect("svg").starts_with("<svg"));
    }
}

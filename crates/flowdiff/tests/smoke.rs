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
    let wall = t.elapsed().as_secs_f64();
    eprintln!("smoke wall time: {wall:.1} s");
    // The report's clock covers the jobs, not only the report's assembly after them.
    assert!(
        report.wall_seconds > 0.5 * wall && report.wall_seconds <= wall,
        "wall_seconds {} for a {wall:.1} s run",
        report.wall_seconds
    );
    assert_eq!(report.seeds, vec![0]);
    let ids: Vec<&str> = report.claims.iter().map(|c| c.id.as_str()).collect();
    assert_eq!(ids, ["C1", "C2", "C3", "C4", "C5"]);
    assert!(
        report
            .claims
            .iter()
            .all(|c| c.verdict == Verdict::Inconclusive)
    );
    // Every sampling method has finite sample metrics; only the Bayes posterior mean (a
    // formula, no samples) has none.
    let mut sampled = Vec::new();
    for r in &report.results {
        if r["method"] == "bayes" {
            assert!(
                r.get("mmd2").is_none() && r["pm_mse"].as_f64().is_some(),
                "{r}"
            );
            continue;
        }
        for key in ["mmd2", "sw2"] {
            assert!(
                r[key].as_f64().is_some_and(f64::is_finite),
                "{key} missing or not finite in {r}"
            );
        }
        sampled.push(r["method"].as_str().unwrap_or_default());
    }
    sampled.sort_unstable();
    assert_eq!(
        sampled,
        [
            "dm_on_y",
            "flow_only",
            "flowdiff",
            "flowdiff_posterior",
            "gaussian",
            "oracle",
            "y"
        ]
    );
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

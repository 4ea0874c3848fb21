//! Digits (E2) and downstream (E3) pieces: the judge learns, the analytic PSNR of noisy
//! digits, Wiener means in closed form, a tiny end-to-end digits run with finite metrics,
//! and clear errors for bad selections. Seeded code holds `seed_lock` (Burn's generator is
//! global).

use burn::tensor::Device;
use repro_core::device::seed_lock;
use repro_core::host::{matrix, to_vec};
use repro_core::{Options, Profile, Verdict};
use repro_flowdiff::config::{DownstreamConfig, ExperimentConfig};
use repro_flowdiff::corruption::{CleanSamples, ForwardOperator, IdentityOp, MatrixOp, corrupt};
use repro_flowdiff::digits::{DigitsData, DigitsJudge, JudgeConfig, PIXELS};
use repro_flowdiff::eval::psnr_per_image;
use repro_flowdiff::objective::GaussianPrior;
use repro_flowdiff::reproduce::{digits::sample_sheets, run_config};

#[test]
fn judge_learns_the_clean_test_split() {
    let _guard = seed_lock();
    let d = DigitsData::load().expect("embedded digits");
    let judge = DigitsJudge::train(
        &JudgeConfig::default(),
        &d.train,
        &d.train_labels,
        &Device::flex(),
    );
    let acc = judge.accuracy(&d.test, &d.test_labels);
    eprintln!(
        "judge test accuracy {acc:.3}, final loss {:?}",
        judge.losses.last()
    );
    // The evaluator must be good enough for FD-lite and accuracies to mean something
    // (spec §7: >= 0.9 on the clean test split).
    assert!(acc >= 0.9, "judge test accuracy {acc}");
    assert!(judge.losses.last() < judge.losses.first());
    assert_eq!(judge.features(&d.test[..3 * PIXELS]).len(), 3 * 32);
    assert_eq!(judge.predict(&d.test[..5 * PIXELS]).len(), 5);
}

#[test]
fn psnr_of_noisy_digits_is_twenty_db() {
    // y = x + 0.2 n: MSE per pixel 0.04, so PSNR = 10 log10(4 / 0.04) = 20 dB. Averaging the
    // per-image PSNR adds a Jensen term of about (10 / ln 10) var(MSE_i / 0.04) / 2 =
    // 4.34 * (2 / 64) / 2 = 0.07 dB; tolerance 0.2 dB.
    let d = DigitsData::load().expect("embedded digits");
    let dev = Device::flex();
    let op = IdentityOp::new(PIXELS, 0.2).expect("sigma > 0");
    let x = matrix(d.test.clone(), d.n_test(), PIXELS, &dev);
    let y = to_vec(corrupt(&op, &CleanSamples(x), 1).expect("samples").0);
    let p = psnr_per_image(&y, &d.test, PIXELS, 2.0);
    let mean = p.iter().sum::<f64>() / p.len() as f64;
    assert!((mean - 20.0).abs() < 0.2, "{mean}");
}

#[test]
fn wiener_mean_matches_the_closed_form() {
    // Prior N(0, [[1, .5], [.5, 1]]), observe coordinate 0 only (inpainting) with sigma = 0.5:
    // E[x | y] = Sigma A^T (A Sigma A^T + sigma^2)^-1 y = (1, 0.5) y / 1.25.
    let dev = Device::flex();
    let g = GaussianPrior::new(vec![0.0, 0.0], vec![1.0, 0.5, 0.5, 1.0]).expect("SPD");
    let op = MatrixOp::inpainting(&[true, false], 0.5).expect("valid mask");
    let m = to_vec(g.posterior_mean(matrix(vec![1.0, -2.0], 2, 1, &dev), &op));
    let expect = [0.8, 0.4, -1.6, -0.8];
    for (a, b) in m.iter().zip(expect) {
        assert!((a - b).abs() < 1e-6, "{m:?}");
    }
    // Identity with a diagonal prior N(mu, 4 I): m = (4 y + sigma^2 mu) / (4 + sigma^2).
    let g = GaussianPrior::new(vec![1.0, -1.0], vec![4.0, 0.0, 0.0, 4.0]).expect("SPD");
    let op = IdentityOp::new(2, 1.0).expect("sigma > 0");
    let m = to_vec(g.posterior_mean(matrix(vec![2.0, 3.0], 1, 2, &dev), &op));
    assert!((m[0] - 9.0 / 5.0).abs() < 1e-6 && (m[1] - 11.0 / 5.0).abs() < 1e-6);
    assert_eq!(op.out_dim(), 2);
}

#[test]
fn tiny_digits_and_downstream_run_gives_finite_metrics() {
    let _guard = seed_lock();
    let mut opts = Options::new(Profile::Smoke);
    opts.progress = false;
    opts.only = vec!["digits".into(), "downstream".into()];
    let cfg = ExperimentConfig::smoke();
    let t = std::time::Instant::now();
    let report = run_config(&opts, &cfg)
        .and_then(|o| o.into_report())
        .expect("tiny digits run");
    eprintln!("tiny digits wall time: {:.1} s", t.elapsed().as_secs_f64());
    for t in &report.tables {
        eprintln!("{}", t.to_markdown());
    }
    let e2: Vec<_> = report
        .results
        .iter()
        .filter(|r| r["experiment"] == "E2" && r.get("fd_lite").is_some())
        .collect();
    assert!(!e2.is_empty());
    for r in &e2 {
        let fd = r["fd_lite"].as_f64().expect("number");
        assert!(fd.is_finite() && fd >= 0.0, "{r}");
        let h = r["label_entropy"].as_f64().expect("number");
        assert!((0.0..=10f64.ln() + 1e-9).contains(&h), "{r}");
    }
    let psnr = |m: &str| {
        e2.iter()
            .find(|r| r["method"] == m)
            .and_then(|r| r["psnr"].as_f64())
            .unwrap_or(f64::NAN)
    };
    for m in ["flowdiff", "flow_only", "gaussian", "y"] {
        assert!(psnr(m).is_finite(), "{m}");
    }
    let e3: Vec<_> = report
        .results
        .iter()
        .filter(|r| r["experiment"] == "E3")
        .collect();
    assert_eq!(e3.len(), 2 * 4);
    for r in &e3 {
        assert!(r["psnr_mean"].as_f64().is_some_and(f64::is_finite), "{r}");
        assert_eq!(r["psnr_per_image"].as_array().map(Vec::len), Some(16));
    }
    let ids: Vec<(&str, Verdict)> = report
        .claims
        .iter()
        .map(|c| (c.id.as_str(), c.verdict))
        .collect();
    assert_eq!(ids.len(), 5);
    assert!(ids.iter().all(|(_, v)| *v == Verdict::Inconclusive));
    let c5 = &report.claims[4];
    assert!(c5.measured.contains_key("d2_inpaint_ci95"), "{c5:?}");
    let sheets = sample_sheets(&report, 4);
    assert_eq!(sheets.len(), 1);
    assert_eq!(sheets[0].name, "sheet_digits_noise0.2");
    // One row of 4 images per recorded method, and the same plot in the report itself.
    assert_eq!(sheets[0].images.len(), 4 * sheets[0].rows.len());
    assert!(sheets[0].rows.iter().any(|r| r == "flowdiff_pm"));
    let svg = sheets[0].to_svg().unwrap();
    assert!(svg.starts_with("<svg") && svg.contains(">flowdiff_pm</text>"));
    // The report's own plot holds the exact pixels; report.results rounds them to 1e-3.
    let own = report
        .plots
        .iter()
        .find(|p| p.name == sheets[0].name)
        .expect("the sheet is a plot of the report");
    assert_eq!(
        (&own.rows, own.images.len()),
        (&sheets[0].rows, sheets[0].images.len())
    );
    for (a, b) in own.images.iter().zip(&sheets[0].images) {
        assert!(
            a.pixels
                .iter()
                .zip(&b.pixels)
                .all(|(x, y)| (x - y).abs() < 1e-3)
        );
    }
    assert!(
        report
            .plots
            .iter()
            .any(|p| p.name == "curve_digits_noise0.2")
    );
}

#[test]
fn bad_selections_and_sizes_are_clear_errors() {
    let mut opts = Options::new(Profile::Smoke);
    opts.progress = false;
    opts.only = vec!["digit".into()];
    let e = run_config(&opts, &ExperimentConfig::smoke()).unwrap_err();
    assert!(e.to_string().contains("unknown experiment `digit`"), "{e}");

    let _guard = seed_lock();
    opts.only = vec!["downstream".into()];
    let mut cfg = ExperimentConfig::smoke();
    cfg.downstream = DownstreamConfig::with_sizes(450, 100, 2);
    let e = format!("{:#}", run_config(&opts, &cfg).unwrap_err());
    assert!(e.contains("450 scored + 100 validation"), "{e}");
}

//! Experiments E2 (8x8 digits under noise and blur) and E3 (downstream DPS), and claims C4
//! and C5 (spec §5–§6; everything here is our operationalisation).
//!
//! E2, per (corruption, seed `s`): every training image is corrupted once (noise seed
//! `1000 + s`), the 500 test images get a fresh corruption (`2000 + s`) for posterior means;
//! networks are initialised from seed `s`. Methods: FlowDiff (DDIM samples of its EMA prior;
//! posterior means = mean of `pm_samples` flow samples), its aggregate posterior, DM-on-y,
//! flow-only (EM Gaussian prior), the Gaussian itself (samples; Wiener means), the oracle DM
//! on clean images, and the observations `y`. FD-lite compares judge features of
//! `n_gen` samples with those of the 500 clean test images.
//!
//! E3, per seed: the noise-0.2 models of E2 (FlowDiff's EMA prior, DM-on-y, oracle, the EM
//! Gaussian) solve D1 (denoising, sigma 0.3) and D2 (inpainting, 50% of the pixels observed,
//! sigma 0.05) on test images: a fixed permutation (seed 0) of the 500 test images gives
//! the first `n_test` scored images and the next `n_val` validation images for the choice
//! of `zeta` (disjoint). The D2 mask is drawn once per seed (`7000 + s`) and shared by its
//! images. The Gaussian prior needs no DPS: its exact posterior mean (Wiener) is scored.
//!
//! DDIM and DPS run without clipping `x0^` to `[-1, 1]` (the spec clips for images): with
//! clipping, even the exact denoiser of a Gaussian fit to the clean digits gave FD-lite 16
//! instead of 3.8 (declared deviation).

use std::collections::BTreeMap;
use std::sync::OnceLock;
use std::time::Instant;

use anyhow::Context;
use burn::prelude::*;
use repro_core::data::split::SplitMix64;
use repro_core::experiment::{JobProgress, Results, Row};
use repro_core::report::{Claim, Plot, Table, Verdict};
use repro_core::stats::{Summary, bootstrap_mean_ci};
use repro_core::{Options, Profile, Report};
use serde::{Deserialize, Serialize};

use super::methods::{Curves, train_all};
use super::{fmt_opt, mean, mean_std_curve};
use crate::config::{DigitsConfig, DigitsCorruption, DownstreamConfig, ExperimentConfig};
use crate::corruption::{CleanSamples, ForwardOperator, IdentityOp, MatrixOp, corrupt};
use crate::diffusion::{LogSnrSchedule, MlpDenoiser, ddim_sample, dps_solve};
use crate::digits::{DigitsData, DigitsJudge, PIXELS, gather_rows, label_entropy};
use crate::eval::psnr_per_image;
use crate::flow::CondRealNvp;
use crate::objective::GaussianPrior;
use repro_core::host::{matrix, to_vec};
use repro_core::rng::Noise;

/// Method rows of the E2 tables.
pub const DIGITS_METHODS: [&str; 8] = [
    "flowdiff",
    "flowdiff_posterior",
    "dm_on_y",
    "flow_only",
    "gaussian",
    "oracle",
    "y",
    "clean_train",
];

/// Priors of E3.
pub const DOWNSTREAM_PRIORS: [&str; 4] = ["flowdiff", "dm_on_y", "oracle", "gaussian"];

/// The E3 tasks.
pub const DOWNSTREAM_TASKS: [&str; 2] = ["d1_denoise", "d2_inpaint"];

/// The E2 metrics, NaN where not applicable.
const METRICS: [&str; 5] = [
    "fd_lite",
    "label_entropy",
    "psnr",
    "judge_acc",
    "train_seconds",
];

/// The judge and the data every digits job reads, built once per reproduction (on first
/// use: a resumed run whose digits jobs are all stored never trains it). The judge seeds
/// Burn's generator itself, so it is the same whichever job builds it.
pub(super) struct Shared<'a> {
    cfg: &'a DigitsConfig,
    device: Device,
    data: OnceLock<DigitsData>,
    judge: OnceLock<(DigitsJudge, Vec<f32>, f64)>,
}

impl<'a> Shared<'a> {
    pub(super) fn new(cfg: &'a DigitsConfig, device: &Device) -> Self {
        Self {
            cfg,
            device: device.clone(),
            data: OnceLock::new(),
            judge: OnceLock::new(),
        }
    }

    fn data(&self) -> anyhow::Result<&DigitsData> {
        if let Some(d) = self.data.get() {
            return Ok(d);
        }
        let d = DigitsData::load().context("digits data")?;
        Ok(self.data.get_or_init(|| d))
    }

    /// The judge, the judge features of the clean test images, and its training seconds.
    fn judge(&self) -> anyhow::Result<&(DigitsJudge, Vec<f32>, f64)> {
        let data = self.data()?;
        Ok(self.judge.get_or_init(|| {
            let t = Instant::now();
            let judge = DigitsJudge::train(
                &self.cfg.judge,
                &data.train,
                &data.train_labels,
                &self.device,
            );
            let feat = judge.features(&data.test);
            (judge, feat, t.elapsed().as_secs_f64())
        }))
    }
}

/// The judge's job: its test accuracy and final loss.
pub(super) fn judge_job(key: &Row, shared: &Shared<'_>) -> anyhow::Result<Row> {
    let data = shared.data()?;
    let (judge, _, secs) = shared.judge()?;
    Ok(key
        .clone()
        .metric(
            "test_accuracy",
            judge.accuracy(&data.test, &data.test_labels),
        )
        .metric(
            "final_loss",
            f64::from(judge.losses.last().copied().unwrap_or(f32::NAN)),
        )
        .metric("train_seconds", *secs))
}

/// What one digits job keeps besides its rows.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct DigitsRun {
    /// FlowDiff prior's FD-lite over training.
    pub curve_fd: Vec<(f64, f64)>,
    /// DM-on-y's FD-lite over training.
    pub curve_dmy: Vec<(f64, f64)>,
    /// Sample sheets (first seed only): method and pixels.
    pub sheets: Vec<(String, Vec<f32>)>,
    /// E3 on this job's noise-0.2 priors, when it runs.
    pub downstream: Option<DownstreamRun>,
}

/// E3 of one seed: the per-image numbers behind its rows.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct DownstreamRun {
    /// (task, prior) -> per-image PSNR of the scored images.
    pub psnr: BTreeMap<(String, String), Vec<f64>>,
    /// Per-image PSNR of `y` itself on D1.
    pub psnr_y: Vec<f64>,
}

/// The noise-0.2 priors that E3 reuses.
struct Priors<'a> {
    flowdiff: &'a MlpDenoiser,
    dm_on_y: &'a MlpDenoiser,
    oracle: &'a MlpDenoiser,
    gaussian: &'a GaussianPrior,
}

/// The E3 DPS steps of one seed (progress weight).
pub(super) fn downstream_steps(ds: &DownstreamConfig) -> u64 {
    (DOWNSTREAM_TASKS.len() * 3 * (ds.zetas.len() + 1) * ds.steps) as u64
}

/// One digits job's settings beyond the seed.
pub(super) struct DigitsJob<'a> {
    pub corruption: DigitsCorruption,
    /// Record sample sheets (the first seed).
    pub sheets: bool,
    /// Run E3 on this job's priors.
    pub downstream: Option<&'a DownstreamConfig>,
}

/// The data of one (corruption, seed) and the scoring against it.
struct Bench<'a> {
    dc: &'a DigitsConfig,
    data: &'a DigitsData,
    judge: &'a DigitsJudge,
    ref_feat: &'a [f32],
    seed: u64,
    plain: Device,
    y_test_t: Tensor<2>,
    y_agg: Tensor<2>,
}

impl Bench<'_> {
    fn fd(&self, s: &[f32]) -> f64 {
        self.judge.fd_lite(s, self.ref_feat)
    }

    /// A row with the sample metrics (FD-lite, label entropy) and NaN for the others.
    fn samples(&self, key: &Row, method: &str, s: &[f32], secs: f64) -> Row {
        let mut row = key.clone().with_method(method);
        for m in METRICS {
            row = row.metric(m, f64::NAN);
        }
        row.metric("fd_lite", self.fd(s))
            .metric("label_entropy", label_entropy(&self.judge.predict(s)))
            .metric("train_seconds", secs)
    }

    /// Adds the posterior-mean metrics (mean per-image PSNR, judge accuracy).
    fn pm(&self, row: Row, pm: &[f32]) -> Row {
        let p = psnr_per_image(pm, &self.data.test, PIXELS, 2.0);
        row.metric("psnr", p.iter().sum::<f64>() / p.len() as f64)
            .metric("judge_acc", self.judge.accuracy(pm, &self.data.test_labels))
    }

    fn ddim(&self, den: &MlpDenoiser, n: usize, steps: usize, seed: u64) -> Vec<f32> {
        to_vec(ddim_sample(
            den,
            n,
            PIXELS,
            steps,
            &self.dc.train.schedule,
            None,
            &mut Noise::new(seed),
            &self.plain,
        ))
    }

    fn final_samples(&self, den: &MlpDenoiser, salt: u64) -> Vec<f32> {
        self.ddim(
            den,
            self.dc.n_gen,
            self.dc.ddim_steps,
            6000 + self.seed * 131 + salt,
        )
    }

    fn aggregate(&self, flow: &CondRealNvp, salt: u64) -> Vec<f32> {
        let [n, _] = self.y_agg.dims();
        to_vec(
            flow.sample(
                self.y_agg.clone(),
                1,
                &mut Noise::new(8000 + self.seed * 131 + salt),
            )
            .reshape([n, PIXELS]),
        )
    }

    fn flow_pm(&self, flow: &CondRealNvp, salt: u64) -> Vec<f32> {
        to_vec(flow.posterior_mean(
            self.y_test_t.clone(),
            self.dc.pm_samples,
            &mut Noise::new(9000 + self.seed * 131 + salt),
        ))
    }
}

/// Runs every method on one (corruption, seed), and E3 on its priors when asked: E2 rows
/// in method-name order, then E3 rows in (task, prior) order.
///
/// # Errors
/// Training errors, bad E3 sizes.
pub(super) fn run_job(
    key: &Row,
    opts: &Options,
    dc: &DigitsConfig,
    shared: &Shared<'_>,
    job: &DigitsJob<'_>,
    progress: &JobProgress,
) -> anyhow::Result<(Vec<Row>, DigitsRun)> {
    let seed = key.seed.unwrap_or(0);
    let data = shared.data()?;
    let (judge, ref_feat, _) = shared.judge()?;
    let plain = opts.device.clone();
    let ad = plain.clone().autodiff();
    let op = job.corruption.operator()?;
    let op: &dyn ForwardOperator = op.as_ref();
    let (n_train, n_test) = (data.n_train(), data.n_test());
    let x_train = matrix(data.train.clone(), n_train, PIXELS, &ad);
    let obs = corrupt(op, &CleanSamples(x_train.clone()), 1000 + seed)?;
    let x_test = matrix(data.test.clone(), n_test, PIXELS, &plain);
    let y_test_t = corrupt(op, &CleanSamples(x_test), 2000 + seed)?.0;
    let n_agg = dc.n_gen.min(n_train);
    let b = Bench {
        dc,
        data,
        judge,
        ref_feat,
        seed,
        plain,
        y_test_t,
        y_agg: obs.0.clone().inner().narrow(0, 0, n_agg),
    };
    let point = |den: &MlpDenoiser, salt: u64| {
        b.fd(&b.ddim(
            den,
            dc.curve_samples,
            dc.curve_ddim_steps,
            7000 + seed * 131 + salt,
        ))
    };
    let curves = Curves {
        every: dc.curve_every,
        point: &point,
        dm_on_y_from_zero: false,
    };
    let t = train_all(
        &dc.train,
        &obs,
        op,
        x_train,
        &ad,
        seed,
        dc.em_iters,
        &curves,
        progress,
    )?;
    let (mut rows, sheets) = score(key, &b, op, &t, job.sheets);
    let mut run = DigitsRun {
        curve_fd: t.curve_fd.clone(),
        curve_dmy: t.curve_dmy.clone(),
        sheets,
        downstream: None,
    };
    if let Some(ds) = job.downstream {
        let priors = Priors {
            flowdiff: &t.flowdiff.dm.ema,
            dm_on_y: &t.dm_on_y.ema,
            oracle: &t.oracle.ema,
            gaussian: &t.gaussian,
        };
        let (e3, d) = run_downstream(key, opts, ds, data, &priors, &dc.train.schedule)
            .with_context(|| format!("downstream seed {seed}"))?;
        rows.extend(e3);
        run.downstream = Some(d);
    }
    Ok((rows, run))
}

/// The E2 rows of one seed and its sheets.
fn score(
    key: &Row,
    b: &Bench<'_>,
    op: &dyn ForwardOperator,
    t: &super::methods::Trained,
    sheets: bool,
) -> (Vec<Row>, Vec<(String, Vec<f32>)>) {
    let (dc, data) = (b.dc, b.data);
    let n_test = data.n_test();
    let n_sheet = dc.sheet_images.min(n_test).min(dc.n_gen);
    let mut sheet = Vec::new();
    let mut keep_sheet = |name: &str, v: &[f32]| {
        if sheets {
            sheet.push((name.to_owned(), v[..n_sheet * PIXELS].to_vec()));
        }
    };
    let y_test = to_vec(b.y_test_t.clone());
    keep_sheet("clean", &data.test);
    keep_sheet("y", &y_test);
    let mut rows = BTreeMap::new();

    let fd_flow = t.flowdiff.flow.valid();
    let s_fd = b.final_samples(&t.flowdiff.dm.ema.valid(), 1);
    let pm_fd = b.flow_pm(&fd_flow, 3);
    let row = b.samples(key, "flowdiff", &s_fd, t.flowdiff_secs);
    rows.insert("flowdiff", b.pm(row, &pm_fd));
    keep_sheet("flowdiff_pm", &pm_fd);
    keep_sheet("flowdiff", &s_fd);
    let s_post = b.aggregate(&fd_flow, 2);
    rows.insert(
        "flowdiff_posterior",
        b.samples(key, "flowdiff_posterior", &s_post, t.flowdiff_secs),
    );

    let s_dmy = b.final_samples(&t.dm_on_y.ema.valid(), 4);
    rows.insert("dm_on_y", b.samples(key, "dm_on_y", &s_dmy, t.dm_on_y_secs));
    keep_sheet("dm_on_y", &s_dmy);

    let g = &t.gaussian;
    let s_g = to_vec(g.sample(dc.n_gen, &mut Noise::new(10_000 + b.seed), &b.plain));
    let pm_g = to_vec(g.posterior_mean(b.y_test_t.clone(), op));
    let row = b.samples(key, "gaussian", &s_g, t.gaussian_secs);
    rows.insert("gaussian", b.pm(row, &pm_g));
    keep_sheet("gaussian_pm", &pm_g);
    let fo = t.flow_only.valid();
    let pm_fo = b.flow_pm(&fo, 6);
    let row = b.samples(key, "flow_only", &b.aggregate(&fo, 5), t.flow_only_secs);
    rows.insert("flow_only", b.pm(row, &pm_fo));
    keep_sheet("flow_only_pm", &pm_fo);

    let s_or = b.final_samples(&t.oracle.ema.valid(), 7);
    rows.insert("oracle", b.samples(key, "oracle", &s_or, t.oracle_secs));
    keep_sheet("oracle", &s_or);

    // The observations: FD-lite of training observations (other images than the reference,
    // like every sample set), PSNR and accuracy of the test observations as estimates; clean
    // training images give the FD-lite floor.
    let y_train = to_vec(b.y_agg.clone());
    let row = b.samples(key, "y", &y_train, f64::NAN);
    rows.insert("y", b.pm(row, &y_test));
    let n_floor = dc.n_gen.min(data.n_train());
    let row = b.samples(
        key,
        "clean_train",
        &data.train[..n_floor * PIXELS],
        f64::NAN,
    );
    rows.insert(
        "clean_train",
        row.metric("judge_acc", b.judge.accuracy(&data.test, &data.test_labels)),
    );
    (rows.into_values().collect(), sheet)
}

pub(super) fn check_downstream(ds: &DownstreamConfig, n_test: usize) -> anyhow::Result<()> {
    anyhow::ensure!(
        ds.n_test + ds.n_val <= n_test && ds.n_test > 0 && ds.n_val > 0,
        "downstream: {} scored + {} validation images need 1..={n_test} test images in all",
        ds.n_test,
        ds.n_val
    );
    anyhow::ensure!(!ds.zetas.is_empty(), "downstream: no zeta candidates");
    Ok(())
}

/// E3 of one seed on its noise-0.2 priors: rows (`zeta`, `psnr_mean`) in (task, prior)
/// order and the per-image PSNRs.
fn run_downstream(
    key: &Row,
    opts: &Options,
    ds: &DownstreamConfig,
    data: &DigitsData,
    priors: &Priors<'_>,
    schedule: &LogSnrSchedule,
) -> anyhow::Result<(Vec<Row>, DownstreamRun)> {
    let seed = key.seed.unwrap_or(0);
    let ad = opts.device.clone().autodiff();
    let n_test = data.n_test();
    check_downstream(ds, n_test)?;
    let mut perm: Vec<usize> = (0..n_test).collect();
    SplitMix64::new(0).shuffle(&mut perm);
    let x_sc = gather_rows(&data.test, PIXELS, &perm[..ds.n_test]);
    let x_val = gather_rows(&data.test, PIXELS, &perm[ds.n_test..ds.n_test + ds.n_val]);
    let d1: Box<dyn ForwardOperator> = Box::new(IdentityOp::new(PIXELS, ds.d1_sigma)?);
    let d2: Box<dyn ForwardOperator> = Box::new(MatrixOp::random_inpainting(
        PIXELS,
        ds.d2_fraction,
        ds.d2_sigma,
        7000 + seed,
    )?);
    let mut zeta: BTreeMap<(&str, &str), f64> = BTreeMap::new();
    let mut out = DownstreamRun {
        psnr: BTreeMap::new(),
        psnr_y: Vec::new(),
    };
    let dens: [(&'static str, &MlpDenoiser); 3] = [
        ("flowdiff", priors.flowdiff),
        ("dm_on_y", priors.dm_on_y),
        ("oracle", priors.oracle),
    ];
    for (ti, (task, op)) in DOWNSTREAM_TASKS.iter().zip([&d1, &d2]).enumerate() {
        let op: &dyn ForwardOperator = op.as_ref();
        let salt = 100 * ti as u64;
        let observe = |x: &[f32], n: usize, s: u64| {
            corrupt(op, &CleanSamples(matrix(x.to_vec(), n, PIXELS, &ad)), s)
        };
        let y_val = observe(&x_val, ds.n_val, 8000 + seed + salt)?.0;
        let y_sc = observe(&x_sc, ds.n_test, 9000 + seed + salt)?.0;
        if ti == 0 {
            out.psnr_y = psnr_per_image(&to_vec(y_sc.clone()), &x_sc, PIXELS, 2.0);
        }
        for (name, den) in dens {
            // Same DPS noise for every prior and zeta (paired comparisons).
            let solve = |y: &Tensor<2>, zeta: f32, s: u64| {
                to_vec(dps_solve(
                    den,
                    op,
                    y.clone(),
                    ds.steps,
                    zeta,
                    schedule,
                    None,
                    &mut Noise::new(s),
                ))
            };
            let mut best = (f64::NEG_INFINITY, ds.zetas[0]);
            for &z in &ds.zetas {
                let val = solve(&y_val, z, 11_000 + seed + salt);
                let p = mean(&psnr_per_image(&val, &x_val, PIXELS, 2.0));
                if p > best.0 {
                    best = (p, z);
                }
            }
            let sc = solve(&y_sc, best.1, 12_000 + seed + salt);
            zeta.insert((task, name), f64::from(best.1));
            out.psnr.insert(
                ((*task).into(), name.into()),
                psnr_per_image(&sc, &x_sc, PIXELS, 2.0),
            );
        }
        let wiener = to_vec(priors.gaussian.posterior_mean(y_sc, op));
        zeta.insert((task, "gaussian"), f64::NAN);
        out.psnr.insert(
            ((*task).into(), "gaussian".into()),
            psnr_per_image(&wiener, &x_sc, PIXELS, 2.0),
        );
    }
    let rows = out
        .psnr
        .iter()
        .map(|((task, prior), v)| {
            Row::new("downstream", task, prior, key.seed)
                .metric("zeta", zeta[&(task.as_str(), prior.as_str())])
                .metric("psnr_mean", v.iter().sum::<f64>() / v.len() as f64)
        })
        .collect();
    Ok((rows, out))
}

/// The rows of `report.results` a digits job has always written: E2 methods, sheets,
/// then E3 (task, prior) pairs.
pub(super) fn result_json(rows: &[Row], run: &DigitsRun) -> Vec<serde_json::Value> {
    let mut out = Vec::new();
    for r in rows.iter().filter(|r| r.experiment == "digits") {
        let mut v = serde_json::json!({
            "experiment": "E2", "config": r.setting, "method": r.method, "seed": r.seed,
        });
        for (k, &x) in &r.metrics {
            v[k] = serde_json::json!(x);
        }
        out.push(v);
    }
    let seed = rows.first().and_then(|r| r.seed);
    let config = rows.first().map(|r| r.setting.as_str()).unwrap_or_default();
    for (method, px) in &run.sheets {
        let rounded: Vec<f64> = px
            .iter()
            .map(|&v| (f64::from(v) * 1000.0).round() / 1000.0)
            .collect();
        out.push(serde_json::json!({
            "experiment": "E2", "kind": "sheet", "config": config, "method": method,
            "seed": seed, "pixels": rounded,
        }));
    }
    if let Some(d) = &run.downstream {
        for r in rows.iter().filter(|r| r.experiment == "downstream") {
            out.push(serde_json::json!({
                "experiment": "E3", "task": r.setting, "prior": r.method, "seed": r.seed,
                "zeta": r.metrics["zeta"],
                "psnr_mean": r.metrics["psnr_mean"],
                "psnr_per_image": d.psnr[&(r.setting.clone(), r.method.clone())],
            }));
        }
    }
    out
}

/// The judge's row of `report.results`.
pub(super) fn judge_json(row: &Row) -> serde_json::Value {
    let mut v = serde_json::json!({"experiment": "E2", "method": "judge"});
    for (k, &x) in &row.metrics {
        v[k] = serde_json::json!(x);
    }
    v
}

/// The digits sample sheets recorded in `report.results` (rows with `"kind": "sheet"`) as
/// image-grid plots, one per corruption, with a labelled row of at most `per_row` 8x8
/// images per method (ink dark on white).
pub fn sample_sheets(report: &Report, per_row: usize) -> Vec<Plot> {
    let mut by_config: BTreeMap<String, Vec<(String, Vec<f32>)>> = BTreeMap::new();
    for r in report.results.iter().filter(|r| r["kind"] == "sheet") {
        let (Some(config), Some(method), Some(px)) = (
            r["config"].as_str(),
            r["method"].as_str(),
            r["pixels"].as_array(),
        ) else {
            continue;
        };
        let px: Vec<f32> = px
            .iter()
            .map(|v| v.as_f64().unwrap_or(0.0) as f32)
            .collect();
        by_config
            .entry(config.to_owned())
            .or_default()
            .push((method.to_owned(), px));
    }
    by_config
        .into_iter()
        .map(|(config, rows)| sheet_plot(&config, &rows, per_row))
        .collect()
}

/// One corruption's sheet: a row of up to `per_row` images per `(method, pixels in [-1, 1])`.
fn sheet_plot(config: &str, rows: &[(String, Vec<f32>)], per_row: usize) -> Plot {
    let per_row = per_row.max(1);
    let labels: Vec<&str> = rows.iter().map(|(m, _)| m.as_str()).collect();
    let mut plot = Plot::image_grid(
        &format!("sheet_digits_{config}"),
        &format!("digits {config}: samples and posterior means (seed 0)"),
        per_row,
    )
    .row_labels(&labels);
    for (_, px) in rows {
        let images: Vec<&[f32]> = px.chunks(PIXELS).take(per_row).collect();
        for k in 0..per_row {
            // Short rows are padded with white so every method keeps its own row.
            let ink: Vec<f64> = match images.get(k) {
                Some(im) => im
                    .iter()
                    .map(|&v| f64::from((1.0 - v.clamp(-1.0, 1.0)) / 2.0))
                    .collect(),
                None => vec![1.0; PIXELS],
            };
            plot = plot.image("", 8, 8, ink);
        }
    }
    plot
}

/// The digits jobs' payloads by corruption name (sorted) and seed.
pub(super) type Runs<'a> = BTreeMap<String, BTreeMap<u64, &'a DigitsRun>>;

/// What E2 / E3 ran, for tables and claims.
pub(super) struct DigitsOutcome<'a> {
    pub runs: Runs<'a>,
    pub digits_selected: bool,
    pub downstream_selected: bool,
    pub judge_test_accuracy: f64,
    pub n_seeds: usize,
}

impl DigitsOutcome<'_> {
    /// The E3 runs by seed (those of the noise-0.2 jobs).
    fn downstream(&self) -> BTreeMap<u64, &DownstreamRun> {
        self.runs
            .values()
            .flat_map(|by_seed| by_seed.iter())
            .filter_map(|(s, r)| r.downstream.as_ref().map(|d| (*s, d)))
            .collect()
    }
}

fn values(r: &Results, e: &str, setting: &str, method: &str, metric: &str) -> Vec<f64> {
    r.values(e, setting, method, metric).unwrap_or_default()
}

/// E2 / E3 tables, the curves and the sample sheets (image grids of the first seed).
pub(super) fn tables_and_plots(
    report: &mut Report,
    cfg: &ExperimentConfig,
    r: &Results,
    out: &DigitsOutcome<'_>,
) {
    for (name, rs) in &out.runs {
        let mut t = Table::new(
            &format!(
                "E2 digits {name}: FD-lite to the 500 clean test images ({} samples), label entropy of samples (max ln 10 = 2.303), mean per-image PSNR and judge accuracy of posterior means on the test images (mean ± std over seeds)",
                cfg.digits.n_gen
            ),
            &[
                "method",
                "FD-lite ↓",
                "label entropy",
                "PSNR dB ↑",
                "judge acc",
                "train s",
            ],
        );
        for m in DIGITS_METHODS {
            let v = |metric: &str| values(r, "digits", name, m, metric);
            t.row(vec![
                m.to_owned(),
                fmt_opt(&v("fd_lite"), 2),
                fmt_opt(&v("label_entropy"), 3),
                fmt_opt(&v("psnr"), 2),
                fmt_opt(&v("judge_acc"), 3),
                fmt_opt(&v("train_seconds"), 1),
            ]);
        }
        report.tables.push(t);
        let rs: Vec<&DigitsRun> = rs.values().copied().collect();
        if let Some(run) = rs.iter().find(|r| !r.sheets.is_empty()) {
            let per_row = cfg.digits.sheet_images;
            report.plots.push(sheet_plot(name, &run.sheets, per_row));
        }
        if !rs[0].curve_fd.is_empty() {
            let curve = |get: &dyn Fn(&DigitsRun) -> &Vec<(f64, f64)>| {
                mean_std_curve(
                    &rs.iter().map(|r| get(r).as_slice()).collect::<Vec<_>>(),
                    1.0,
                )
            };
            let (p_fd, e_fd) = curve(&|r| &r.curve_fd);
            let (p_dy, e_dy) = curve(&|r| &r.curve_dmy);
            report.plots.push(
                Plot::line(
                    &format!("curve_digits_{name}"),
                    &format!(
                        "digits {name}: FD-lite of EMA-prior samples ({} DDIM samples, {} steps) to the clean test images over training",
                        cfg.digits.curve_samples, cfg.digits.curve_ddim_steps
                    ),
                    "DM training steps (FlowDiff: warm start on y, then one per alternation)",
                    "FD-lite",
                )
                .series_with_err("FlowDiff prior", p_fd, e_fd)
                .series_with_err("DM-on-y", p_dy, e_dy),
            );
        }
    }
    let downstream = out.downstream();
    if !downstream.is_empty() {
        report
            .tables
            .push(downstream_table(&cfg.downstream, r, &downstream));
    }
}

fn downstream_table(
    ds: &DownstreamConfig,
    r: &Results,
    d: &BTreeMap<u64, &DownstreamRun>,
) -> Table {
    let mut t = Table::new(
        &format!(
            "E3 downstream: mean per-image PSNR (dB) of DPS ({} steps) on {} test images per seed, zeta chosen per prior and seed on {} other test images (mean ± std over seeds of the per-seed means); gaussian = exact Wiener posterior mean",
            ds.steps, ds.n_test, ds.n_val
        ),
        &["task", "prior", "PSNR dB ↑", "zeta per seed"],
    );
    for task in DOWNSTREAM_TASKS {
        for prior in DOWNSTREAM_PRIORS {
            let v = values(r, "downstream", task, prior, "psnr_mean");
            let z: Vec<String> = values(r, "downstream", task, prior, "zeta")
                .into_iter()
                .map(|z| {
                    if z.is_nan() {
                        "–".into()
                    } else {
                        format!("{}", z as f32)
                    }
                })
                .collect();
            t.row(vec![
                task.into(),
                prior.into(),
                Summary::of(&v).fmt_mean_std(2),
                z.join(", "),
            ]);
        }
        if task == "d1_denoise" {
            let v: Vec<f64> = d.values().map(|d| mean(&d.psnr_y)).collect();
            t.row(vec![
                task.into(),
                "y (input)".into(),
                Summary::of(&v).fmt_mean_std(2),
                "–".into(),
            ]);
        }
    }
    t
}

/// The budget note of the C4 / C5 criteria.
fn budget(profile: Profile) -> &'static str {
    match profile {
        Profile::Smoke => " (smoke: inconclusive by design)",
        Profile::Quick => " (quick: reduced budget, indicative; the spec decides on `full`)",
        Profile::Full => "",
    }
}

/// Claims C4 and C5 (`out` is `None` when neither digits nor downstream ran).
///
/// # Errors
/// Seed sets that differ between paired methods.
pub(super) fn claims(
    cfg: &ExperimentConfig,
    r: &Results,
    out: Option<&DigitsOutcome<'_>>,
) -> anyhow::Result<Vec<Claim>> {
    let c4 = claim_c4(cfg, r, out.filter(|o| o.digits_selected))?;
    let c5 = claim_c5(cfg, r, out.filter(|o| o.downstream_selected))?;
    Ok(vec![c4, c5])
}

fn undecidable(cfg: &ExperimentConfig, o: &DigitsOutcome<'_>) -> bool {
    cfg.profile == Profile::Smoke || o.n_seeds < 3
}

fn claim_c4(
    cfg: &ExperimentConfig,
    r: &Results,
    out: Option<&DigitsOutcome<'_>>,
) -> anyhow::Result<Claim> {
    let mut c4 = Claim::new(
        "C4",
        super::super::INFO.claim_info("C4").statement,
        &format!(
            "noise 0.2 and 0.4: FD-lite(FlowDiff DM samples) < FD-lite(DM-on-y) in every seed (3 seeds) AND mean PSNR of FlowDiff posterior means >= PSNR(y) + 1 dB; blur: the same FD-lite rule, PSNR vs Wiener reported{}",
            budget(cfg.profile)
        ),
    );
    let Some(o) = out else {
        return Ok(c4
            .measure(
                "status",
                "not run: experiment `digits` (E2) was not selected",
            )
            .with_verdict(Verdict::Inconclusive));
    };
    c4 = c4.measure("judge_test_accuracy", o.judge_test_accuracy);
    let mut held = true;
    let mut missing = Vec::new();
    for name in ["noise0.2", "noise0.4", "blur"] {
        if !o.runs.contains_key(name) {
            missing.push(name);
            continue;
        }
        let fd = r.paired("digits", name, "flowdiff", "dm_on_y", "fd_lite")?;
        let p = r.paired("digits", name, "flowdiff", "y", "psnr")?;
        held &= fd.a.iter().zip(&fd.b).all(|(a, b)| a < b);
        c4 = c4
            .measure(&format!("{name}_fd_lite_flowdiff"), &fd.a)
            .measure(&format!("{name}_fd_lite_dm_on_y"), &fd.b)
            .measure(&format!("{name}_psnr_flowdiff_mean"), mean(&p.a))
            .measure(&format!("{name}_psnr_y_mean"), mean(&p.b));
        if name == "blur" {
            let p_g = r.values("digits", name, "gaussian", "psnr")?;
            c4 = c4.measure("blur_psnr_wiener_mean", mean(&p_g));
        } else {
            held &= mean(&p.a) >= mean(&p.b) + 1.0;
        }
    }
    Ok(if undecidable(cfg, o) {
        c4.decide(held).with_verdict(Verdict::Inconclusive)
    } else if !missing.is_empty() && held {
        c4.decide(held)
            .measure(
                "status",
                format!(
                    "{} not run in this profile: the parts that ran held",
                    missing.join(", ")
                ),
            )
            .with_verdict(Verdict::Inconclusive)
    } else {
        if !missing.is_empty() {
            c4 = c4.measure(
                "status",
                format!(
                    "{} not run in this profile; a part that ran failed",
                    missing.join(", ")
                ),
            );
        }
        c4.decide(held)
    })
}

fn claim_c5(
    cfg: &ExperimentConfig,
    r: &Results,
    out: Option<&DigitsOutcome<'_>>,
) -> anyhow::Result<Claim> {
    let ds = &cfg.downstream;
    let mut c5 = Claim::new(
        "C5",
        super::super::INFO.claim_info("C5").statement,
        &format!(
            "PSNR(DPS with the FlowDiff prior) - PSNR(DPS with the DM-on-y prior), paired per image, pooled over seeds: the 95% bootstrap CI ({} resamples, seed 0) of the mean lies above 0 on D1 (denoise sigma {}) AND on D2 (inpaint {:.0}% observed, sigma {}){}",
            ds.bootstrap_resamples,
            ds.d1_sigma,
            100.0 * ds.d2_fraction,
            ds.d2_sigma,
            budget(cfg.profile)
        ),
    );
    let runs = out.map(DigitsOutcome::downstream).unwrap_or_default();
    let (Some(o), false) = (out, runs.is_empty()) else {
        return Ok(c5
            .measure(
                "status",
                "not run: experiment `downstream` (E3) was not selected",
            )
            .with_verdict(Verdict::Inconclusive));
    };
    let mut held = true;
    for task in DOWNSTREAM_TASKS {
        // The seeds both priors ran on; per image within each seed.
        let seeds = r
            .paired("downstream", task, "flowdiff", "dm_on_y", "psnr_mean")?
            .seeds;
        let key = |prior: &str| (task.to_owned(), prior.to_owned());
        let diffs: Vec<f64> = seeds
            .iter()
            .flat_map(|s| {
                let d = runs[s];
                d.psnr[&key("flowdiff")]
                    .iter()
                    .zip(&d.psnr[&key("dm_on_y")])
                    .map(|(a, b)| a - b)
                    .collect::<Vec<_>>()
            })
            .collect();
        let (lo, hi) = bootstrap_mean_ci(&diffs, ds.bootstrap_resamples, 0);
        held &= lo > 0.0;
        c5 = c5
            .measure(&format!("{task}_mean_diff_db"), mean(&diffs))
            .measure(&format!("{task}_ci95"), [lo, hi])
            .measure(&format!("{task}_pairs"), diffs.len());
    }
    let c5 = c5.decide(held);
    Ok(if undecidable(cfg, o) {
        c5.with_verdict(Verdict::Inconclusive)
    } else {
        c5
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sheets_are_rows_of_ink_on_white_padded_per_method() {
        // Method a: 2 images (ink 1 -> black 0, background -1 -> white 1, 0 -> grey 0.5);
        // method b: 1 image, padded with a white one.
        let mut a = vec![1.0f32; PIXELS];
        a.extend(vec![-1.0f32; PIXELS]);
        let b = vec![0.0f32; PIXELS];
        let rows = vec![("a".to_owned(), a), ("b".to_owned(), b)];
        let p = sheet_plot("noise0.2", &rows, 2);
        assert_eq!(p.name, "sheet_digits_noise0.2");
        assert_eq!(p.rows, ["a", "b"]);
        assert_eq!(p.images.len(), 4);
        let first: Vec<f64> = p.images.iter().map(|im| im.pixels[0]).collect();
        assert_eq!(first, [0.0, 1.0, 0.5, 1.0]);
        // Extra images beyond `per_row` are left out.
        assert_eq!(sheet_plot("x", &rows, 1).images.len(), 2);
    }
}

//! `cargo xtask reproduce contrastive-fa`: the plan, its jobs and the report.
//!
//! Jobs (one per unit that seeds its own randomness):
//!
//! - `digits`: per method and seed, pretraining on the digits split and every digits
//!   metric; `PIX` (raw pixels, no training) per seed, the gate's reference.
//! - `sweep`: per (α₀, β_max) and seed, CNFA trained on the training split minus 200
//!   validation digits, scored by validation backbone-probe accuracy; then per seed
//!   `CNFA-selected`, which reads every sweep job, takes the best mean validation accuracy
//!   and retrains that configuration on the whole training split.
//! - `heldout`: per method and seed, trained on digits 0–4, scored on 5–9 as OOD.
//! - `synthetic`: per method and seed, trained on the synthetic factors, MCC.
//!
//! Randomness: parameters, views, batch order, θ's noise, corruptions and few-label
//! subsets come from [`repro_core::rng`] streams of the seed (never Burn's generator), so
//! a job gives the same numbers alone, resumed or after others.

use burn::tensor::Device;
use repro_core::experiment::{Ctx, Done, Job, JobOutput, Outcome, Row, RunState, Runner};
use repro_core::knn::{Knn, Similarity, Vote};
use repro_core::metrics::{accuracy, auroc, spearman};
use repro_core::probe::{LinearProbe, train_linear_probe};
use repro_core::rng::{SplitMix64, stream};
use repro_core::{Options, Report};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::INFO;
use crate::claims::{decide_claims, notes, tables_and_plots};
use crate::config::{ExperimentConfig, MethodConfig};
use crate::data::{
    Corruption, DigitsSplit, FactorSplit, Images, cap, corrupt, digits, few_label_subset,
    stratified_holdout, synthetic_factors,
};
use crate::metrics::{
    effective_rank, exact_sparsity, mcc, semantic_consistency, soft_consistency, soft_sparsity,
};
use crate::train::{Curve, HostFeatures, encode, pretrain};

/// The experiment names (`--only`).
pub(crate) const DIGITS: &str = "digits";
pub(crate) const SWEEP: &str = "sweep";
pub(crate) const HELDOUT: &str = "heldout";
pub(crate) const SYNTHETIC: &str = "synthetic";
/// The raw-pixel reference method.
pub(crate) const PIX: &str = "PIX";
/// The sweep's retrained selection.
pub(crate) const SELECTED: &str = "CNFA-selected";
const CLASSES: usize = 10;

/// Runs the reproduction for `opts.profile` (seeds from `opts.seeds` or the preset): the
/// report, or what this shard ran ([`Outcome::Partial`]).
pub fn reproduce(opts: &Options) -> anyhow::Result<Outcome> {
    reproduce_with(&ExperimentConfig::for_profile(opts.profile), opts)
}

/// A job's payload beyond its rows.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct JobData {
    /// Entries of the report's `results`.
    pub(crate) results: Vec<Value>,
    /// The pretraining curve.
    pub(crate) curve: Curve,
    /// Mean code per test class, `[10][K]` (digits jobs).
    pub(crate) class_means: Vec<Vec<f64>>,
}

/// The digits, capped for the smoke profile.
struct Data {
    digits: DigitsSplit,
}

/// Whether an experiment runs under `opts` with `cfg`'s defaults.
pub(crate) fn runs(cfg: &ExperimentConfig, opts: &Options, name: &str) -> bool {
    INFO.runs(
        opts,
        name,
        cfg.default_experiments.iter().any(|e| e == name),
    )
}

/// The reproduction with an explicit configuration (tests use tiny ones).
pub fn reproduce_with(cfg: &ExperimentConfig, opts: &Options) -> anyhow::Result<Outcome> {
    let started = std::time::Instant::now();
    INFO.check_only(opts)?;
    cfg.validate()?;
    let seeds = opts.seed_list(cfg.seeds);
    let d = digits()?;
    let data = Data {
        digits: DigitsSplit {
            train: cap(&d.train, cfg.max_train),
            test: cap(&d.test, cfg.max_test),
        },
    };
    let plan = plan(cfg, opts, &seeds)?;
    let state = Runner::new(&plan, opts).run(|job, ctx| run_job(cfg, &data, job, ctx, opts))?;
    let done = match state {
        RunState::Partial(p) => return Ok(Outcome::Partial(p)),
        RunState::Complete(done) => done,
    };
    let mut report = build_report(cfg, opts, &seeds, &done)?;
    // The whole invocation, jobs included (read-back jobs cost nothing).
    report.wall_seconds = started.elapsed().as_secs_f64();
    Ok(report.into())
}

/// What every job's numbers depend on besides its method.
fn common(cfg: &ExperimentConfig) -> Value {
    json!({
        "max_train": cfg.max_train, "max_test": cfg.max_test, "hidden": cfg.hidden,
        "k": cfg.k, "proj_hidden": cfg.proj_hidden, "train": cfg.train,
        "augment": cfg.augment, "probe": cfg.probe, "few_label": cfg.few_label,
        "knn_k": cfg.knn_k, "soft_rel": cfg.soft_rel,
        "uncertainty_severity": cfg.uncertainty_severity,
    })
}

fn plan(
    cfg: &ExperimentConfig,
    opts: &Options,
    seeds: &[u64],
) -> anyhow::Result<repro_core::experiment::Plan> {
    let mut plan = repro_core::experiment::Plan::new(INFO.name);
    let base = common(cfg);
    let epochs = cfg.train.epochs as u64;
    if runs(cfg, opts, DIGITS) {
        for &s in seeds {
            plan.push(Job::new(DIGITS, "all", PIX, Some(s)).config(&base))?;
            for m in &cfg.digits_methods {
                plan.push(
                    Job::new(DIGITS, "all", &m.name, Some(s))
                        .config(&json!({"common": base, "method": m}))
                        .weight(epochs),
                )?;
            }
        }
    }
    if runs(cfg, opts, SWEEP) {
        let sweep_cfg = json!({"common": base, "val_size": cfg.val_size});
        let mut ids = Vec::new();
        for &s in seeds {
            for m in cfg.sweep_methods() {
                ids.push(
                    plan.push(
                        Job::new(SWEEP, "val", &m.name, Some(s))
                            .config(&json!({"sweep": sweep_cfg, "method": m}))
                            .weight(epochs),
                    )?,
                );
            }
        }
        for &s in seeds {
            let mut job = Job::new(SWEEP, "selected", SELECTED, Some(s))
                .config(&sweep_cfg)
                .weight(epochs);
            for id in &ids {
                job = job.after(id);
            }
            plan.push(job)?;
        }
    }
    if runs(cfg, opts, HELDOUT) {
        for &s in seeds {
            for m in &cfg.heldout_methods {
                plan.push(
                    Job::new(HELDOUT, "ood", &m.name, Some(s))
                        .config(&json!({"common": base, "method": m, "in": cfg.heldout_classes}))
                        .weight(epochs),
                )?;
            }
        }
    }
    if runs(cfg, opts, SYNTHETIC) {
        for &s in seeds {
            for m in &cfg.synthetic_methods {
                plan.push(
                    Job::new(SYNTHETIC, "mcc", &m.name, Some(s))
                        .config(&json!({"common": base, "method": m, "data": cfg.synthetic,
                            "epochs": cfg.synthetic_epochs}))
                        .weight(cfg.synthetic_epochs as u64),
                )?;
            }
        }
    }
    Ok(plan)
}

fn find_method<'a>(methods: &'a [MethodConfig], name: &str) -> anyhow::Result<&'a MethodConfig> {
    methods
        .iter()
        .find(|m| m.name == name)
        .ok_or_else(|| anyhow::anyhow!("no method `{name}` in the configuration"))
}

fn run_job(
    cfg: &ExperimentConfig,
    data: &Data,
    job: &Job,
    ctx: &Ctx<'_, JobData>,
    opts: &Options,
) -> anyhow::Result<JobOutput<JobData>> {
    let device = &opts.device;
    let s = job
        .seed
        .ok_or_else(|| anyhow::anyhow!("job {} has no seed", job.id))?;
    match (job.experiment.as_str(), job.method.as_str()) {
        (DIGITS, PIX) => {
            let ev = Evaluator::new(cfg, &data.digits.train, &data.digits.test, s, device);
            let (rows, results, class_means) = ev.run(DIGITS, PIX, &Source::Pixels)?;
            Ok(JobOutput::new(
                rows,
                JobData {
                    results,
                    class_means,
                    ..JobData::default()
                },
            ))
        }
        (DIGITS, name) => {
            let m = find_method(&cfg.digits_methods, name)?;
            digits_job(cfg, &data.digits, m, DIGITS, s, device, ctx)
        }
        (SWEEP, SELECTED) => {
            let (best, scores) = select(ctx)?;
            let m = cfg
                .sweep_methods()
                .into_iter()
                .find(|m| m.name == best)
                .ok_or_else(|| anyhow::anyhow!("selected `{best}` is not a sweep method"))?;
            let mut out = digits_job(cfg, &data.digits, &m, SWEEP, s, device, ctx)?;
            for r in &mut out.rows {
                r.method = SELECTED.into();
            }
            if let crate::config::MethodKind::Factor {
                latent: crate::latent::Latent::Weibull { alpha0, .. },
                beta_max,
                ..
            } = m.kind
            {
                out.rows.push(
                    Row::new(SWEEP, "selection", SELECTED, Some(s))
                        .metric("alpha0", f64::from(alpha0))
                        .metric("beta_max", f64::from(beta_max)),
                );
            }
            out.data.results.insert(
                0,
                json!({"kind": "selection", "seed": s, "selected": best, "val_acc_mean": scores}),
            );
            Ok(out)
        }
        (SWEEP, name) => sweep_job(cfg, &data.digits, name, s, device, ctx),
        (HELDOUT, name) => heldout_job(cfg, &data.digits, name, s, device, ctx),
        (SYNTHETIC, name) => synthetic_job(cfg, name, s, device, ctx),
        _ => anyhow::bail!("no job function for `{}`", job.id),
    }
}

/// The sweep configuration with the best mean validation accuracy over seeds (ties: the
/// first in plan order), and every configuration's mean.
fn select(ctx: &Ctx<'_, JobData>) -> anyhow::Result<(String, Vec<(String, f64)>)> {
    let mut scores: Vec<(String, Vec<f64>)> = Vec::new();
    for (_, out) in ctx.deps()? {
        for r in &out.rows {
            let v = r.metrics.get("val_acc").copied().unwrap_or(f64::NAN);
            match scores.iter_mut().find(|(n, _)| *n == r.method) {
                Some((_, vals)) => vals.push(v),
                None => scores.push((r.method.clone(), vec![v])),
            }
        }
    }
    let means: Vec<(String, f64)> = scores
        .into_iter()
        .map(|(n, v)| (n, v.iter().sum::<f64>() / v.len() as f64))
        .collect();
    let mut best: Option<&(String, f64)> = None;
    for m in &means {
        if m.1.is_finite() && best.is_none_or(|b| m.1 > b.1) {
            best = Some(m);
        }
    }
    let best = best
        .ok_or_else(|| anyhow::anyhow!("no sweep configuration has a finite validation score"))?
        .0
        .clone();
    Ok((best, means))
}

fn train_on(
    cfg: &ExperimentConfig,
    m: &MethodConfig,
    train: &Images,
    s: u64,
    device: &Device,
    ctx: &Ctx<'_, JobData>,
) -> anyhow::Result<(crate::model::Net, Curve, f64)> {
    let started = std::time::Instant::now();
    let view = |i: usize, r: &mut SplitMix64| cfg.augment.view(train.row(i), r);
    let (net, curve) = pretrain(
        cfg,
        m,
        train.len(),
        train.dim,
        cfg.train.epochs,
        &view,
        s,
        device,
        Some(ctx.progress()),
    )?;
    Ok((net, curve, started.elapsed().as_secs_f64()))
}

fn curve_entry(kind: &str, m: &str, s: u64, curve: &Curve, seconds: f64) -> Value {
    let (first, last) = curve.first_last10();
    let kl_last = curve.kl.last().copied();
    json!({"kind": kind, "method": m, "seed": s, "steps": curve.total.len(),
        "loss_first10": first, "loss_last10": last, "kl_last": kl_last,
        "train_seconds": seconds})
}

fn digits_job(
    cfg: &ExperimentConfig,
    d: &DigitsSplit,
    m: &MethodConfig,
    experiment: &str,
    s: u64,
    device: &Device,
    ctx: &Ctx<'_, JobData>,
) -> anyhow::Result<JobOutput<JobData>> {
    let (net, curve, secs) = train_on(cfg, m, &d.train, s, device, ctx)?;
    let ev = Evaluator::new(cfg, &d.train, &d.test, s, device);
    let (mut rows, mut results, class_means) = ev.run(experiment, &m.name, &Source::Net(&net))?;
    let (first, last) = curve.first_last10();
    rows.push(
        Row::new(experiment, "train", &m.name, Some(s))
            .metric("loss_first10", first)
            .metric("loss_last10", last),
    );
    results.insert(0, curve_entry("pretrain", &m.name, s, &curve, secs));
    Ok(JobOutput::new(
        rows,
        JobData {
            results,
            curve,
            class_means,
        },
    ))
}

fn sweep_job(
    cfg: &ExperimentConfig,
    d: &DigitsSplit,
    name: &str,
    s: u64,
    device: &Device,
    ctx: &Ctx<'_, JobData>,
) -> anyhow::Result<JobOutput<JobData>> {
    let m = find_method(&cfg.sweep_methods(), name)?.clone();
    let (rest, val) = stratified_holdout(&d.train, cfg.val_size, 0)?;
    let (net, curve, secs) = train_on(cfg, &m, &rest, s, device, ctx)?;
    let ev = Evaluator::new(cfg, &rest, &val, s, device);
    let (tr, va) = (
        ev.features(&Source::Net(&net), &rest),
        ev.features(&Source::Net(&net), &val),
    );
    let probe = ev.probe(&tr.backbone, &rest.labels_usize())?;
    let acc = 100.0 * probe.accuracy(&va.backbone, &val.labels_usize());
    let row = Row::new(SWEEP, "val", name, Some(s)).metric("val_acc", acc);
    let mut entry = curve_entry("sweep", name, s, &curve, secs);
    entry["val_acc"] = json!(acc);
    Ok(JobOutput::new(
        vec![row],
        JobData {
            results: vec![entry],
            curve,
            ..JobData::default()
        },
    ))
}

fn heldout_job(
    cfg: &ExperimentConfig,
    d: &DigitsSplit,
    name: &str,
    s: u64,
    device: &Device,
    ctx: &Ctx<'_, JobData>,
) -> anyhow::Result<JobOutput<JobData>> {
    let m = find_method(&cfg.heldout_methods, name)?;
    let inc = &cfg.heldout_classes;
    let out: Vec<u8> = (0..CLASSES as u8).filter(|c| !inc.contains(c)).collect();
    if inc.is_empty() || out.is_empty() {
        anyhow::bail!("heldout_classes must leave classes on both sides, got {inc:?}");
    }
    let train = d.train.with_classes(inc);
    let (test_in, test_out) = (d.test.with_classes(inc), d.test.with_classes(&out));
    let (net, curve, secs) = train_on(cfg, m, &train, s, device, ctx)?;
    let ev = Evaluator::new(cfg, &train, &test_in, s, device);
    let src = Source::Net(&net);
    let (tr, fi, fo) = (
        ev.features(&src, &train),
        ev.features(&src, &test_in),
        ev.features(&src, &test_out),
    );
    let probe = ev.probe(&tr.backbone, &train.labels_usize())?;
    let acc_in = 100.0 * probe.accuracy(&fi.backbone, &test_in.labels_usize());
    let positives: Vec<bool> = std::iter::repeat_n(false, test_in.len())
        .chain(std::iter::repeat_n(true, test_out.len()))
        .collect();
    let ood = OodScores::of(&probe, &fi, &fo, ev.hidden(&tr), &positives);
    let mut row = Row::new(HELDOUT, "ood", name, Some(s))
        .metric("probe_in", acc_in)
        .metric("auroc_norm", ood.norm)
        .metric("auroc_msp", ood.msp);
    if let Some(h) = ood.entropy {
        row = row.metric("auroc_entropy", h);
    }
    let mut entry = curve_entry("heldout", name, s, &curve, secs);
    entry["probe_in"] = json!(acc_in);
    entry["auroc_entropy"] = json!(ood.entropy);
    entry["auroc_norm"] = json!(ood.norm);
    entry["auroc_msp"] = json!(ood.msp);
    Ok(JobOutput::new(
        vec![row],
        JobData {
            results: vec![entry],
            curve,
            ..JobData::default()
        },
    ))
}

fn synthetic_job(
    cfg: &ExperimentConfig,
    name: &str,
    s: u64,
    device: &Device,
    ctx: &Ctx<'_, JobData>,
) -> anyhow::Result<JobOutput<JobData>> {
    let m = find_method(&cfg.synthetic_methods, name)?;
    let split: FactorSplit = synthetic_factors(&cfg.synthetic, 0)?;
    let started = std::time::Instant::now();
    let view = |i: usize, r: &mut SplitMix64| split.view(i, r);
    let (net, curve) = pretrain(
        cfg,
        m,
        split.train.x.len(),
        split.cfg.dim,
        cfg.synthetic_epochs,
        &view,
        s,
        device,
        Some(ctx.progress()),
    )?;
    let secs = started.elapsed().as_secs_f64();
    let (n, nf, dim) = (split.test.x.len(), split.cfg.n_factors, split.cfg.dim);
    let f = encode(&net, &split.test.x.pixels, dim, device);
    let k = f.code.len() / n;
    let code_mcc = mcc(&f.code, n, k, &split.test.s, nf)?;
    let backbone_mcc = mcc(&f.backbone, n, f.backbone.len() / n, &split.test.s, nf)?;
    let tr = encode(&net, &split.train.x.pixels, dim, device);
    let h = tr.backbone.len() / split.train.x.len();
    let (probe, _) = train_linear_probe(
        &tr.backbone,
        h,
        &split.train.x.labels_usize(),
        nf,
        &repro_core::probe::ProbeConfig {
            seed: s,
            ..cfg.probe.clone()
        },
        device,
    )?;
    let acc = 100.0 * probe.accuracy(&f.backbone, &split.test.x.labels_usize());
    let row = Row::new(SYNTHETIC, "mcc", name, Some(s))
        .metric("mcc", code_mcc)
        .metric("mcc_backbone", backbone_mcc)
        .metric("probe", acc);
    let mut entry = curve_entry("synthetic", name, s, &curve, secs);
    entry["mcc"] = json!(code_mcc);
    entry["mcc_backbone"] = json!(backbone_mcc);
    entry["probe"] = json!(acc);
    Ok(JobOutput::new(
        vec![row],
        JobData {
            results: vec![entry],
            curve,
            ..JobData::default()
        },
    ))
}

/// Where the features come from.
enum Source<'a> {
    /// Raw pixels (backbone = code = the image, no entropy).
    Pixels,
    /// A trained model.
    Net(&'a crate::model::Net),
}

/// AUROCs of "higher ⇒ positive (corrupted / OOD)" scores.
struct OodScores {
    entropy: Option<f64>,
    norm: f64,
    msp: f64,
}

impl OodScores {
    /// Entropy (higher ⇒ OOD), backbone norm and probe max-softmax (lower ⇒ OOD) on the
    /// in-distribution rows `a` then the shifted rows `b`.
    fn of(
        probe: &LinearProbe,
        a: &HostFeatures,
        b: &HostFeatures,
        hidden: usize,
        positives: &[bool],
    ) -> Self {
        let neg_norm = |f: &HostFeatures| -> Vec<f64> {
            f.backbone
                .chunks(hidden)
                .map(|r| -r.iter().map(|v| f64::from(*v).powi(2)).sum::<f64>().sqrt())
                .collect()
        };
        let neg_msp = |f: &HostFeatures| -> Vec<f64> {
            let c = probe.n_classes;
            probe
                .logits(&f.backbone)
                .chunks(c)
                .map(|l| {
                    let m = l.iter().fold(f32::NEG_INFINITY, |a, &v| a.max(v));
                    let z: f64 = l.iter().map(|&v| f64::from(v - m).exp()).sum();
                    -(1.0 / z)
                })
                .collect()
        };
        let cat = |x: Vec<f64>, y: Vec<f64>| -> Vec<f64> { x.into_iter().chain(y).collect() };
        let entropy = match (&a.entropy, &b.entropy) {
            (Some(ha), Some(hb)) => {
                let s: Vec<f64> = ha.iter().chain(hb).map(|&v| f64::from(v)).collect();
                Some(auroc(&s, positives))
            }
            _ => None,
        };
        Self {
            entropy,
            norm: auroc(&cat(neg_norm(a), neg_norm(b)), positives),
            msp: auroc(&cat(neg_msp(a), neg_msp(b)), positives),
        }
    }
}

/// The digits evaluation of one trained model (or raw pixels) for one seed.
struct Evaluator<'a> {
    cfg: &'a ExperimentConfig,
    train: &'a Images,
    test: &'a Images,
    seed: u64,
    device: &'a Device,
}

impl<'a> Evaluator<'a> {
    fn new(
        cfg: &'a ExperimentConfig,
        train: &'a Images,
        test: &'a Images,
        seed: u64,
        device: &'a Device,
    ) -> Self {
        Self {
            cfg,
            train,
            test,
            seed,
            device,
        }
    }

    fn features(&self, src: &Source<'_>, x: &Images) -> HostFeatures {
        match src {
            Source::Pixels => HostFeatures {
                backbone: x.pixels.clone(),
                code: x.pixels.clone(),
                entropy: None,
            },
            Source::Net(net) => encode(net, &x.pixels, x.dim, self.device),
        }
    }

    fn hidden(&self, f: &HostFeatures) -> usize {
        f.backbone.len() / self.train.len().max(1)
    }

    fn probe(&self, feats: &[f32], y: &[usize]) -> anyhow::Result<LinearProbe> {
        let d = feats.len() / y.len().max(1);
        let cfg = repro_core::probe::ProbeConfig {
            seed: self.seed,
            ..self.cfg.probe.clone()
        };
        Ok(train_linear_probe(feats, d, y, CLASSES, &cfg, self.device)?.0)
    }

    /// Rows, result entries and class-mean codes of one method.
    #[allow(clippy::type_complexity)]
    fn run(
        &self,
        experiment: &str,
        method: &str,
        src: &Source<'_>,
    ) -> anyhow::Result<(Vec<Row>, Vec<Value>, Vec<Vec<f64>>)> {
        let (cfg, s) = (self.cfg, self.seed);
        let row = |setting: &str| Row::new(experiment, setting, method, Some(s));
        let (y_tr, y_te) = (self.train.labels_usize(), self.test.labels_usize());
        let (tr, te) = (
            self.features(src, self.train),
            self.features(src, self.test),
        );
        let (n_te, h) = (self.test.len(), self.hidden(&tr));
        let k = te.code.len() / n_te;
        // Clean probes: backbone (primary) and code.
        let p_b = self.probe(&tr.backbone, &y_tr)?;
        let p_z = self.probe(&tr.code, &y_tr)?;
        let acc = |p: &LinearProbe, x: &[f32]| 100.0 * p.accuracy(x, &y_te);
        let (clean_b, clean_z) = (acc(&p_b, &te.backbone), acc(&p_z, &te.code));
        // Few-label probe and kNN on the backbone.
        let few = few_label_subset(
            &self.train.labels,
            cfg.few_label,
            CLASSES,
            &mut stream(s, "few-label"),
        )?;
        let few_x: Vec<f32> = few
            .iter()
            .flat_map(|&i| tr.backbone[i * h..(i + 1) * h].to_vec())
            .collect();
        let few_y: Vec<usize> = few.iter().map(|&i| y_tr[i]).collect();
        let few_acc = acc(&self.probe(&few_x, &few_y)?, &te.backbone);
        let knn = Knn {
            k: cfg.knn_k,
            similarity: Similarity::Cosine,
            vote: Vote::Uniform,
        };
        let knn_acc = 100.0
            * accuracy(
                &knn.classify(&tr.backbone, &y_tr, &te.backbone, h, CLASSES)?,
                &y_te,
            );
        let mut rows = vec![
            row("clean")
                .metric("probe", clean_b)
                .metric("probe_latent", clean_z)
                .metric("few_label", few_acc)
                .metric("knn", knn_acc),
        ];
        let mut entry = json!({"kind": "digits", "experiment": experiment, "method": method,
            "seed": s, "probe": clean_b, "probe_latent": clean_z, "few_label": few_acc,
            "knn": knn_acc});
        // Corruptions: the clean probes on corrupted test sets (shared by every method).
        let (mut sum_b, mut sum_z) = (0.0, 0.0);
        let all = Corruption::all();
        let mut shifted = None;
        for c in &all {
            let xc = corrupt(self.test, *c, s)?;
            let fc = self.features(src, &xc);
            let (ab, az) = (acc(&p_b, &fc.backbone), acc(&p_z, &fc.code));
            sum_b += ab;
            sum_z += az;
            rows.push(row(&c.key()).metric("probe", ab).metric("probe_latent", az));
            entry[c.key()] = json!([ab, az]);
            if *c == Corruption::Noise(cfg.uncertainty_severity) {
                shifted = Some(fc);
            }
        }
        let n_c = all.len() as f64;
        rows.push(
            row("robust")
                .metric("probe", sum_b / n_c)
                .metric("probe_latent", sum_z / n_c),
        );
        entry["robust"] = json!([sum_b / n_c, sum_z / n_c]);
        // Code statistics on the clean test set.
        let y32 = self.test.labels_u32();
        let code = &te.code;
        let stats = [
            ("soft_sparsity", soft_sparsity(code, n_te, k, cfg.soft_rel)),
            ("exact_sparsity", exact_sparsity(code, n_te, k)),
            ("consistency", semantic_consistency(code, n_te, k, &y32)),
            (
                "consistency_soft",
                soft_consistency(code, n_te, k, &y32, cfg.soft_rel),
            ),
            ("erank", effective_rank(code, n_te, k)),
        ];
        let mut frow = row("features");
        for (name, v) in stats {
            frow = frow.metric(name, v);
            entry[name] = json!(v);
        }
        rows.push(frow);
        // Uncertainty, task (a): clean vs noise at the configured severity.
        let shifted = shifted.ok_or_else(|| anyhow::anyhow!("no noise set for task (a)"))?;
        let positives: Vec<bool> = std::iter::repeat_n(false, n_te)
            .chain(std::iter::repeat_n(true, n_te))
            .collect();
        let ood = OodScores::of(&p_b, &te, &shifted, h, &positives);
        let mut urow = row("uncertainty")
            .metric("auroc_norm", ood.norm)
            .metric("auroc_msp", ood.msp);
        entry["auroc_norm"] = json!(ood.norm);
        entry["auroc_msp"] = json!(ood.msp);
        if let (Some(a), Some(hc)) = (ood.entropy, &te.entropy) {
            let err: Vec<f64> = p_b
                .predict(&te.backbone)
                .iter()
                .zip(&y_te)
                .map(|(p, y)| f64::from(u8::from(p != y)))
                .collect();
            let hc: Vec<f64> = hc.iter().map(|&v| f64::from(v)).collect();
            let rho = spearman(&hc, &err);
            let mean_h = |v: &[f32]| v.iter().map(|&x| f64::from(x)).sum::<f64>() / v.len() as f64;
            let h_shift = shifted.entropy.as_deref().map(mean_h).unwrap_or(f64::NAN);
            urow = urow
                .metric("auroc_entropy", a)
                .metric("spearman_entropy_error", rho)
                .metric("entropy_clean", hc.iter().sum::<f64>() / n_te as f64)
                .metric("entropy_noisy", h_shift);
            entry["auroc_entropy"] = json!(a);
            entry["spearman_entropy_error"] = json!(rho);
        }
        rows.push(urow);
        // Class means of the code (heatmaps).
        let mut means = vec![vec![0.0f64; k]; CLASSES];
        let mut counts = [0usize; CLASSES];
        for (i, &y) in y_te.iter().enumerate() {
            counts[y] += 1;
            for j in 0..k {
                means[y][j] += f64::from(code[i * k + j]);
            }
        }
        for (m, &c) in means.iter_mut().zip(&counts) {
            m.iter_mut().for_each(|v| *v /= c.max(1) as f64);
        }
        Ok((rows, vec![entry], means))
    }
}

fn build_report(
    cfg: &ExperimentConfig,
    opts: &Options,
    seeds: &[u64],
    done: &Done<JobData>,
) -> anyhow::Result<Report> {
    let mut report = done.report(INFO.name, opts, cfg, seeds, |d| &d.results);
    let results = done.results();
    let ran = |e: &str| runs(cfg, opts, e);
    let claims = decide_claims(cfg, &results, &ran)?;
    report.claims = INFO.finish_claims(claims, ran)?;
    tables_and_plots(cfg, &results, done, seeds, &mut report)?;
    report.notes.extend(notes(cfg, opts, &ran));
    Ok(report.finish())
}

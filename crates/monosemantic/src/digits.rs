//! The digits experiment, one seed at a time: CL, NCL (and NCL-rep) pretraining from the
//! same initialisation seed, a random encoder, a TopK SAE on the CL codes, linear probes
//! under label noise, input noise and shifts, and few-shot fine-tuning (MONO-1..7).
//!
//! A seed's whole pipeline is one job: its stages share the device's random stream (each
//! stage re-seeds it, but the random encoder is drawn from the stream between them), so
//! running them in this order on one seed reproduces the numbers exactly.

use std::collections::BTreeMap;

use anyhow::Context;
use burn::module::Module;
use burn::nn::loss::CrossEntropyLossConfig;
use burn::optim::GradientsParams;
use burn::tensor::activation::relu;
use burn::tensor::{Device, Int, Tensor, TensorData};
use repro_core::augment::{ViewConfig, random_view};
use repro_core::data::digits;
use repro_core::data::split::stratified_split;
use repro_core::device::{init_params_now, seed as seed_device};
use repro_core::experiment::{JobProgress, Row};
use repro_core::host;
use repro_core::loss::l2_normalize_rows;
use repro_core::metrics::{accuracy, argmax_rows};
use repro_core::probe::{ProbeConfig, Standardizer, train_linear_probes};
use repro_core::train::{LrSchedule, ensure_finite, minibatches, optim};
use serde_json::{Value, json};

use crate::config::ExperimentConfig;
use crate::metrics::{FeatureStats, feature_stats};
use crate::model::{Encoder, FineTuneModel};
use crate::ncl::{NonNeg, contrastive_loss};
use crate::noise::{few_shot_fraction, flip_labels, gaussian_values, stream, uniform_values};
use crate::sae::{TopKSae, TopKSaeConfig, normalized_mse};

const PIX: usize = digits::PIXELS;
const CLASSES: usize = digits::CLASSES;

/// The experiment's name (`--only digits`).
pub(crate) const DIGITS: &str = "digits";

/// The training and test data, raw (`[0, 1]`) and standardised with train statistics.
pub(crate) struct Data {
    train_raw: Vec<f32>,
    test_raw: Vec<f32>,
    y_train: Vec<u32>,
    y_test: Vec<u32>,
    standardizer: Standardizer,
    train_std: Vec<f32>,
    test_std: Vec<f32>,
}

impl Data {
    fn n_train(&self) -> usize {
        self.y_train.len()
    }
    fn n_test(&self) -> usize {
        self.y_test.len()
    }
}

pub(crate) fn load_data(cfg: &ExperimentConfig) -> anyhow::Result<Data> {
    let d = digits::load().context("loading digits")?;
    let split = digits::standard_split(&d);
    // Optional stratified subsets (smoke): drawn from the standard split with seed 1.
    let cap = |idx: Vec<usize>, max: Option<usize>| -> Vec<usize> {
        match max {
            Some(m) if m < idx.len() => {
                let labels: Vec<usize> = idx.iter().map(|&i| usize::from(d.labels[i])).collect();
                stratified_split(&labels, m, 1)
                    .test
                    .iter()
                    .map(|&j| idx[j])
                    .collect()
            }
            _ => idx,
        }
    };
    let train = cap(split.train, cfg.max_train);
    let test = cap(split.test, cfg.max_test);
    let raw = |idx: &[usize]| -> Vec<f32> {
        idx.iter()
            .flat_map(|&i| d.image(i).iter().map(|v| v / 16.0))
            .collect()
    };
    let labels =
        |idx: &[usize]| -> Vec<u32> { idx.iter().map(|&i| u32::from(d.labels[i])).collect() };
    let train_raw = raw(&train);
    let test_raw = raw(&test);
    let standardizer = Standardizer::fit(&train_raw, PIX);
    Ok(Data {
        train_std: standardizer.apply(&train_raw),
        test_std: standardizer.apply(&test_raw),
        train_raw,
        test_raw,
        y_train: labels(&train),
        y_test: labels(&test),
        standardizer,
    })
}

/// SimCLR / NCL pretraining. Returns the trained encoder (autodiff device) and the loss of
/// every step.
fn pretrain(
    cfg: &ExperimentConfig,
    data: &Data,
    kind: NonNeg,
    seed: u64,
    device: &Device,
    progress: &JobProgress,
    project: bool,
) -> anyhow::Result<(Encoder, Vec<f64>)> {
    let started = std::time::Instant::now();
    let ad = device.clone().autodiff();
    seed_device(&ad, seed);
    let mut enc = init_params_now(cfg.encoder_config().init(&ad));
    let mut opt = optim::adamw(cfg.pretrain.weight_decay).init();
    let n = data.n_train();
    let bs = cfg.pretrain.batch_size.min(n);
    let per_epoch = n / bs; // the last incomplete batch is dropped
    let total = cfg.pretrain.epochs * per_epoch;
    let schedule = LrSchedule::Cosine {
        lr: cfg.pretrain.lr,
        min_lr: 0.0,
        warmup: (cfg.pretrain.warmup_frac * total as f64).ceil() as usize,
        total,
    };
    // Same view stream and batch order for every method of a seed (paired).
    let mut rng = stream(seed, "views", 0.0);
    let mut losses = Vec::with_capacity(total);
    let mut step = 0;
    for epoch in 0..cfg.pretrain.epochs {
        for batch in minibatches(n, bs, seed * 100_003 + epoch as u64)
            .iter()
            .take(per_epoch)
        {
            let mut views = Vec::with_capacity(2 * bs * PIX);
            for _ in 0..2 {
                for &i in batch {
                    let v = random_view(
                        &data.train_raw[i * PIX..(i + 1) * PIX],
                        &cfg.pretrain.views,
                        &mut rng,
                    );
                    views.extend(data.standardizer.apply(&v));
                }
            }
            let (_, z) = enc.forward(host::rows(&views, PIX, &ad)); // [2b, d_proj]
            let (z1, z2) = (z.clone().narrow(0, 0, bs), z.narrow(0, bs, bs));
            let loss = contrastive_loss(
                z1,
                z2,
                kind,
                cfg.pretrain.tau,
                cfg.pretrain.with_var && kind != NonNeg::None,
            );
            losses.push(ensure_finite(
                "pretraining loss",
                step,
                loss.clone().into_scalar::<f64>(),
            )?);
            let grads = GradientsParams::from_grads(loss.backward(), &enc);
            enc = opt.step(schedule.lr(step), enc, grads);
            step += 1;
            if project && step == 50 {
                let per_step = started.elapsed().as_secs_f64() / 50.0;
                progress.bar().suspend(|| {
                    eprintln!(
                        "monosemantic: {:.1} ms per pretraining step; one pretraining run ≈ {:.0} s",
                        1e3 * per_step,
                        per_step * total as f64
                    )
                });
            }
        }
        progress.inc(1);
    }
    Ok((enc, losses))
}

/// TopK SAE on the normalised frozen CL codes of the (clean) training images.
fn train_sae(
    cfg: &ExperimentConfig,
    u_train: &[f32],
    d: usize,
    seed: u64,
    device: &Device,
) -> anyhow::Result<(TopKSae, Vec<f64>)> {
    let ad = device.clone().autodiff();
    seed_device(&ad, seed.wrapping_add(0x5AE));
    let mut sae = init_params_now(TopKSaeConfig::new(d, cfg.sae.latent, cfg.sae.k).init(&ad)?);
    let mut opt = optim::adam(0.0).init();
    let u = host::rows(u_train, d, &ad);
    let n = u_train.len() / d;
    let mut losses = Vec::new();
    for epoch in 0..cfg.sae.epochs {
        for batch in minibatches(
            n,
            cfg.pretrain.batch_size.min(n),
            seed * 7_919 + epoch as u64,
        ) {
            let ub = u.clone().select(0, host::indices(&batch, &ad));
            let (_, u_hat) = sae.forward(ub.clone());
            let loss = normalized_mse(u_hat, ub);
            losses.push(ensure_finite(
                "SAE loss",
                losses.len(),
                loss.clone().into_scalar::<f64>(),
            )?);
            let grads = GradientsParams::from_grads(loss.backward(), &sae);
            sae = opt.step(cfg.sae.lr, sae, grads);
        }
    }
    Ok((sae.valid(), losses))
}

/// Where a method's probe features come from.
#[derive(Clone, Copy)]
enum Source<'a> {
    /// Standardised pixels.
    Pixels,
    /// Projector output `z`.
    Raw(&'a Encoder),
    /// `relu(z)`.
    Relu(&'a Encoder),
    /// SAE latents of `z/‖z‖`.
    Sae(&'a Encoder, &'a TopKSae),
    /// Backbone representation `h` (secondary probe, P9).
    Backbone(&'a Encoder),
}

impl Source<'_> {
    fn features(&self, x_std: &[f32], device: &Device) -> anyhow::Result<Vec<f32>> {
        let z = |enc: &Encoder| enc.forward(host::rows(x_std, PIX, device)).1;
        match self {
            Self::Pixels => Ok(x_std.to_vec()),
            Self::Raw(enc) => Ok(host::to_vec(z(enc))),
            Self::Relu(enc) => Ok(host::to_vec(relu(z(enc)))),
            Self::Sae(enc, sae) => Ok(host::to_vec(sae.encode(l2_normalize_rows(z(enc), 1e-12)))),
            Self::Backbone(enc) => Ok(host::to_vec(
                enc.backbone.forward(host::rows(x_std, PIX, device)),
            )),
        }
    }
}

/// Full fine-tuning of backbone + classifier on a few-shot subset (projector frozen),
/// translation augmentation only. Returns clean test accuracy.
#[allow(clippy::too_many_arguments)]
fn few_shot(
    cfg: &ExperimentConfig,
    data: &Data,
    trained: &Encoder,
    kind: NonNeg,
    fraction: f64,
    seed: u64,
    device: &Device,
) -> anyhow::Result<f64> {
    let ad = device.clone().autodiff();
    let subset = few_shot_fraction(
        &data.y_train,
        fraction,
        &mut stream(seed, "fewshot", fraction),
    )?;
    seed_device(&ad, seed.wrapping_add(0xF5));
    let d_proj = cfg.encoder[4];
    let mut model = init_params_now(FineTuneModel::new(
        trained.clone(),
        kind,
        d_proj,
        CLASSES,
        &ad,
    ));
    let mut opt = optim::sgd(0.9, 0.0).init();
    let n = subset.len();
    let bs = cfg.pretrain.batch_size.min(n);
    let total = cfg.eval.few_shot_epochs * n.div_ceil(bs);
    let schedule = LrSchedule::Cosine {
        lr: cfg.eval.few_shot_lr,
        min_lr: 0.0,
        warmup: 0,
        total,
    };
    let shift_only = ViewConfig {
        max_shift: 1,
        rotate_p: 0.0,
        max_degrees: 0.0,
        intensity_jitter: 0.0,
        noise_std: 0.0,
        erase_p: 0.0,
    };
    let mut rng = stream(seed, "fewshot-views", fraction);
    let ce = CrossEntropyLossConfig::new().init(&ad);
    let mut step = 0;
    for epoch in 0..cfg.eval.few_shot_epochs {
        for batch in minibatches(n, bs, seed * 31 + epoch as u64) {
            let mut x = Vec::with_capacity(batch.len() * PIX);
            let mut y = Vec::with_capacity(batch.len());
            for &j in &batch {
                let i = subset[j];
                let v = random_view(
                    &data.train_raw[i * PIX..(i + 1) * PIX],
                    &shift_only,
                    &mut rng,
                );
                x.extend(data.standardizer.apply(&v));
                y.push(i64::from(data.y_train[i]));
            }
            let y = Tensor::<1, Int>::from_data(TensorData::new(y, [batch.len()]), &ad);
            let loss = ce.forward(model.forward(host::rows(&x, PIX, &ad)), y);
            ensure_finite("few-shot loss", step, loss.clone().into_scalar::<f64>())?;
            let grads = GradientsParams::from_grads(loss.backward(), &model);
            model = opt.step(schedule.lr(step), model, grads);
            step += 1;
        }
    }
    let pred = argmax_rows(
        model
            .valid()
            .forward(host::rows(&data.test_std, PIX, device)),
    );
    let truth: Vec<usize> = data.y_test.iter().map(|&y| y as usize).collect();
    Ok(accuracy(&pred, &truth))
}

/// What one seed's pipeline produced.
pub(crate) struct SeedRun {
    /// The report's result entries, in the order they were produced.
    pub(crate) results: Vec<Value>,
    /// Accuracies (metric `acc`, setting `eta=…`, `gauss=…`, `uniform=…`, `shift=…`,
    /// `fewshot=…`) and feature statistics (setting `features`), one row per method.
    pub(crate) rows: Vec<Row>,
    /// Pretraining loss per step, by method.
    pub(crate) curves: BTreeMap<String, Vec<f64>>,
    seed: u64,
}

impl SeedRun {
    fn acc(&mut self, method: &str, setting: &str, acc: f64) {
        self.rows
            .push(Row::new(DIGITS, setting, method, Some(self.seed)).metric("acc", acc));
    }
}

/// The pretrained methods, in training order: CL, NCL and (if configured) NCL-rep.
pub(crate) fn pretrain_kinds(cfg: &ExperimentConfig) -> Vec<(&'static str, NonNeg)> {
    let mut kinds = vec![("CL", NonNeg::None), ("NCL", NonNeg::Relu)];
    if cfg.eval.ncl_rep {
        kinds.push(("NCL-rep", NonNeg::RepRelu));
    }
    kinds
}

/// A pretrained encoder: for evaluation, and on the autodiff device (few-shot fine-tunes
/// it), with its non-negative map.
struct Pretrained {
    eval: Encoder,
    trained: Encoder,
    kind: NonNeg,
}

/// Mean of the first and of the last (up to) 10 losses.
fn first_last10(losses: &[f64]) -> (f64, f64) {
    let k = losses.len().min(10);
    (
        losses[..k].iter().sum::<f64>() / k.max(1) as f64,
        losses[losses.len() - k..].iter().sum::<f64>() / k.max(1) as f64,
    )
}

/// One seed of the digits experiment. `project` prints the projected pretraining time.
pub(crate) fn run_seed(
    cfg: &ExperimentConfig,
    data: &Data,
    s: u64,
    device: &Device,
    progress: &JobProgress,
    project: bool,
) -> anyhow::Result<SeedRun> {
    let mut run = SeedRun {
        results: Vec::new(),
        rows: Vec::new(),
        curves: BTreeMap::new(),
        seed: s,
    };
    // 1. Pretraining (paired: same init seed, views and batch order for each method).
    let encoders = pretrain_methods(cfg, data, device, progress, project, &mut run)?;
    seed_device(device, s);
    let rand_enc = init_params_now(cfg.encoder_config().init(device));
    let cl = &encoders["CL"].eval;
    // 2. SAE on the normalised, frozen CL codes of the clean training images.
    let sae = fit_sae(cfg, data, cl, device, &mut run)?;
    // 3. Probes: one multi-head probe per method serves every η; its η = 0 head serves
    //    every test-time setting.
    let sets = TestSets::draw(cfg, data, s)?;
    for (name, src, wd) in probe_methods(cfg, &encoders, &rand_enc, &sae) {
        probe_method(cfg, data, &sets, &name, src, wd, device, &mut run)?;
    }
    // 4. Few-shot full fine-tuning.
    for &f in &cfg.eval.few_shot {
        for (name, _) in pretrain_kinds(cfg) {
            let p = &encoders[name];
            let acc = 100.0 * few_shot(cfg, data, &p.trained, p.kind, f, s, device)?;
            run.acc(name, &format!("fewshot={f}"), acc);
            run.results.push(
                json!({"kind": "fewshot", "seed": s, "method": name, "fraction": f, "acc": acc}),
            );
        }
    }
    Ok(run)
}

fn pretrain_methods(
    cfg: &ExperimentConfig,
    data: &Data,
    device: &Device,
    progress: &JobProgress,
    project: bool,
    run: &mut SeedRun,
) -> anyhow::Result<BTreeMap<&'static str, Pretrained>> {
    let s = run.seed;
    let mut encoders = BTreeMap::new();
    for (name, kind) in pretrain_kinds(cfg) {
        let (enc, losses) = pretrain(
            cfg,
            data,
            kind,
            s,
            device,
            progress,
            project && name == "CL",
        )?;
        let (first, last) = first_last10(&losses);
        run.results.push(
            json!({"kind": "pretrain", "seed": s, "method": name, "steps": losses.len(),
            "loss_first10": first, "loss_last10": last}),
        );
        run.curves.insert(name.to_owned(), losses);
        let pretrained = Pretrained {
            eval: enc.valid(),
            trained: enc,
            kind,
        };
        encoders.insert(name, pretrained);
    }
    Ok(encoders)
}

fn fit_sae(
    cfg: &ExperimentConfig,
    data: &Data,
    cl: &Encoder,
    device: &Device,
    run: &mut SeedRun,
) -> anyhow::Result<TopKSae> {
    let u_train = host::to_vec(l2_normalize_rows(
        cl.forward(host::rows(&data.train_std, PIX, device)).1,
        1e-12,
    ));
    let (sae, losses) = train_sae(cfg, &u_train, cfg.encoder[4], run.seed, device)?;
    let (first, last) = first_last10(&losses);
    run.results.push(
        json!({"kind": "sae", "seed": run.seed, "steps": losses.len(),
        "loss_first10": first, "loss_last10": last}),
    );
    Ok(sae)
}

/// The probed methods: name, feature source and probe weight decay.
fn probe_methods<'a>(
    cfg: &ExperimentConfig,
    encoders: &'a BTreeMap<&'static str, Pretrained>,
    rand_enc: &'a Encoder,
    sae: &'a TopKSae,
) -> Vec<(String, Source<'a>, f32)> {
    let cl = &encoders["CL"].eval;
    let ncl = &encoders["NCL"].eval;
    let mut methods: Vec<(String, Source, f32)> = vec![
        ("CL".into(), Source::Raw(cl), 0.0),
        ("NCL".into(), Source::Relu(ncl), 0.0),
        ("SAE".into(), Source::Sae(cl, sae), 0.0),
        ("PIX".into(), Source::Pixels, 0.0),
        ("RAND".into(), Source::Raw(rand_enc), 0.0),
    ];
    if cfg.eval.ncl_rep {
        methods.push((
            "NCL-rep".into(),
            Source::Relu(&encoders["NCL-rep"].eval),
            0.0,
        ));
    }
    if cfg.eval.backbone_probes {
        methods.push(("CL-h".into(), Source::Backbone(cl), 0.0));
        methods.push(("NCL-h".into(), Source::Backbone(ncl), 0.0));
    }
    if cfg.eval.controls {
        methods.push(("CL-L2".into(), Source::Raw(cl), cfg.eval.l2_control_wd));
        methods.push(("CL-relu-eval".into(), Source::Relu(cl), 0.0));
        methods.push(("RAND-relu".into(), Source::Relu(rand_enc), 0.0));
    }
    methods
}

/// One seed's noisy labels and test inputs, shared by every method (paired).
struct TestSets {
    seed: u64,
    truth: Vec<usize>,
    /// Training labels per η.
    labels: Vec<Vec<usize>>,
    /// Standardised test images plus Gaussian noise, per σ.
    gauss: Vec<Vec<f32>>,
    /// Standardised test images plus uniform noise, per amplitude.
    uniform: Vec<Vec<f32>>,
    /// Shifted test images, standardised, per shift.
    shifted: Vec<Vec<f32>>,
}

impl TestSets {
    fn draw(cfg: &ExperimentConfig, data: &Data, s: u64) -> anyhow::Result<Self> {
        let labels: Vec<Vec<usize>> = cfg
            .eval
            .etas
            .iter()
            .map(|&eta| {
                flip_labels(&data.y_train, eta, &mut stream(s, "label", eta))
                    .map(|y| y.into_iter().map(|v| v as usize).collect())
            })
            .collect::<Result<_, _>>()?;
        let plus = |noise: Vec<f32>| -> Vec<f32> {
            data.test_std
                .iter()
                .zip(noise)
                .map(|(a, b)| a + b)
                .collect()
        };
        let n = data.test_std.len();
        Ok(Self {
            seed: s,
            truth: data.y_test.iter().map(|&y| y as usize).collect(),
            labels,
            gauss: cfg
                .eval
                .sigmas
                .iter()
                .map(|&sig| plus(gaussian_values(n, sig, &mut stream(s, "input", sig))))
                .collect(),
            uniform: cfg
                .eval
                .uniform
                .iter()
                .map(|&a| plus(uniform_values(n, a, &mut stream(s, "uniform", a))))
                .collect(),
            shifted: cfg
                .eval
                .shifts
                .iter()
                .map(|sh| data.standardizer.apply(&sh.apply(&data.test_raw)))
                .collect(),
        })
    }
}

/// Probes one method under every label-noise rate, evaluates the clean probe under every
/// test-time setting, and records the method's feature statistics.
#[allow(clippy::too_many_arguments)]
fn probe_method(
    cfg: &ExperimentConfig,
    data: &Data,
    sets: &TestSets,
    name: &str,
    src: Source<'_>,
    wd: f32,
    device: &Device,
    run: &mut SeedRun,
) -> anyhow::Result<()> {
    let s = sets.seed;
    let f_train = src.features(&data.train_std, device)?;
    let f_test = src.features(&data.test_std, device)?;
    let d = f_train.len() / data.n_train();
    let probe_cfg = ProbeConfig {
        weight_decay: wd,
        seed: s,
        ..cfg.eval.probe.clone()
    };
    let fit = train_linear_probes(&f_train, d, &sets.labels, CLASSES, &probe_cfg, device)
        .with_context(|| format!("probe of {name}"))?;
    for (k, &eta) in cfg.eval.etas.iter().enumerate() {
        let acc = 100.0 * fit.probes[k].accuracy(&f_test, &sets.truth);
        run.acc(name, &key_eta(eta), acc);
        run.results.push(
            json!({"kind": "probe", "seed": s, "method": name, "setting": "label_noise",
            "eta": eta, "acc": acc, "final_train_loss": fit.losses.last()}),
        );
    }
    if let Some(i0) = cfg.eval.etas.iter().position(|&e| e == 0.0) {
        let p0 = &fit.probes[i0];
        let mut eval = |setting: String, x: &[f32]| -> anyhow::Result<()> {
            let acc = 100.0 * p0.accuracy(&src.features(x, device)?, &sets.truth);
            run.results.push(
                json!({"kind": "probe", "seed": s, "method": name, "setting": setting, "acc": acc}),
            );
            run.acc(name, &setting, acc);
            Ok(())
        };
        for (sig, x) in cfg.eval.sigmas.iter().zip(&sets.gauss) {
            eval(format!("gauss={sig}"), x)?;
        }
        for (a, x) in cfg.eval.uniform.iter().zip(&sets.uniform) {
            eval(format!("uniform={a}"), x)?;
        }
        for (sh, x) in cfg.eval.shifts.iter().zip(&sets.shifted) {
            eval(format!("shift={}", sh.name()), x)?;
        }
    }
    let fs: FeatureStats = feature_stats(&f_test, data.n_test(), d, &data.y_test);
    run.results
        .push(json!({"kind": "features", "seed": s, "method": name, "stats": fs}));
    let mut row = Row::new(DIGITS, "features", name, Some(s));
    if let Some(obj) = serde_json::to_value(&fs)?.as_object() {
        for (k, x) in obj {
            row = row.metric(k, x.as_f64().unwrap_or(f64::NAN));
        }
    }
    run.rows.push(row);
    Ok(())
}

/// The setting name of a label-noise rate.
pub(crate) fn key_eta(eta: f64) -> String {
    format!("eta={eta}")
}

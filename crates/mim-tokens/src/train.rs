//! Data, pretraining and evaluation: the workspace's digits split, global normalisation,
//! translated views, the masked-modelling loop (AdamW on matrices only, warm-up + cosine)
//! and the frozen-encoder evaluation (CLS and mean-pool probes, weighted k-NN).

use burn::module::Module;
use burn::optim::{AdamWConfig, GradientsParams};
use burn::tensor::{Device, Int, Tensor, TensorData};
use repro_core::augment::translate;
use repro_core::device::{init_params_now, seed as seed_device};
use repro_core::experiment::JobProgress;
use repro_core::knn::{Knn, Similarity, Vote};
use repro_core::metrics::accuracy;
use repro_core::patch::{Masking, patchify, random_masking};
use repro_core::probe::{ProbeConfig, train_linear_probe};
use repro_core::rng::{SplitMix64, stream};
use repro_core::train::LrSchedule;
use repro_core::train::optim::adamw_matrices_only;
use repro_core::train::{ensure_finite, minibatches};
use serde::{Deserialize, Serialize};

use crate::Error;
use crate::config::TrainConfig;
use crate::loss::{masked_pixel_mse, masked_token_ce};
use crate::model::{Head, MaeVit, MaeVitConfig};
use crate::tokenizer::{TokenBatch, Tokenizer};

/// Number of classes of digits.
pub const CLASSES: usize = 10;

/// Images with labels: `[0, 1]` pixels (row-major 8×8), classes and dataset indices.
#[derive(Debug, Clone, PartialEq)]
pub struct Images {
    /// `n × 64` pixels in `[0, 1]`.
    pub pixels: Vec<f32>,
    /// Class of each image.
    pub labels: Vec<u32>,
    /// Dataset index of each image.
    pub ids: Vec<u32>,
}

impl Images {
    /// Number of images.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// Labels as `usize`.
    pub fn labels_usize(&self) -> Vec<usize> {
        self.labels.iter().map(|&y| y as usize).collect()
    }

    /// The images at `rows`.
    pub fn subset(&self, rows: &[usize]) -> Self {
        Self {
            pixels: rows
                .iter()
                .flat_map(|&i| self.pixels[i * 64..(i + 1) * 64].to_vec())
                .collect(),
            labels: rows.iter().map(|&i| self.labels[i]).collect(),
            ids: rows.iter().map(|&i| self.ids[i]).collect(),
        }
    }
}

/// The fixed digits split (1,297 / 500), optionally capped, and the global normalisation
/// `x' = (x − μ) / σ` with scalar μ, σ over every train pixel (spec §3).
#[derive(Debug, Clone)]
pub struct DigitsData {
    /// Training images.
    pub train: Images,
    /// Test images.
    pub test: Images,
    /// Mean train pixel (on `[0, 1]`).
    pub mu: f32,
    /// Standard deviation of the train pixels.
    pub sigma: f32,
}

impl DigitsData {
    /// Loads the workspace digits and their standard split; `max_*` keep prefixes.
    ///
    /// # Errors
    /// Data errors of repro-core.
    pub fn load(max_train: Option<usize>, max_test: Option<usize>) -> anyhow::Result<Self> {
        let d = repro_core::data::digits::load()?;
        let split = repro_core::data::digits::standard_split(&d);
        let pick = |idx: &[usize], cap: Option<usize>| {
            let idx = &idx[..cap.unwrap_or(idx.len()).min(idx.len())];
            Images {
                pixels: idx
                    .iter()
                    .flat_map(|&i| d.image(i).iter().map(|v| v / 16.0))
                    .collect(),
                labels: idx.iter().map(|&i| u32::from(d.labels[i])).collect(),
                ids: idx.iter().map(|&i| i as u32).collect(),
            }
        };
        Ok(Self::new(
            pick(&split.train, max_train),
            pick(&split.test, max_test),
        ))
    }

    /// Fits the normalisation on `train`.
    pub fn new(train: Images, test: Images) -> Self {
        let (mu, sigma) = repro_core::data::digits::global_moments(&train.pixels);
        Self {
            train,
            test,
            mu,
            sigma,
        }
    }

    /// Globally normalised copies of `pixels`.
    pub fn normalize(&self, pixels: &[f32]) -> Vec<f32> {
        pixels.iter().map(|v| (v - self.mu) / self.sigma).collect()
    }
}

/// `⌊L (1 − r)⌋` patches kept, computed on integers (r to parts per million).
///
/// # Errors
/// [`Error::MaskRatio`] when `r` is not inside (0, 1) or keeps no patch or every patch.
pub fn keep_count(l: usize, ratio: f64) -> Result<usize, Error> {
    if !(ratio > 0.0 && ratio < 1.0) {
        return Err(Error::MaskRatio(ratio));
    }
    let keep = repro_core::patch::keep_count(l, ratio);
    if keep == 0 || keep >= l {
        return Err(Error::MaskRatio(ratio));
    }
    Ok(keep)
}

/// MAE's random masking (core's), after checking the ratio and that core's count equals
/// the integer one.
///
/// # Errors
/// As [`keep_count`]; [`Error::Config`] if the counts disagree.
pub fn masking(
    n: usize,
    l: usize,
    ratio: f64,
    rng: &mut SplitMix64,
    device: &Device,
) -> Result<Masking, Error> {
    let keep = keep_count(l, ratio)?;
    let m = random_masking(n, l, ratio, rng, device);
    if m.keep != keep {
        return Err(Error::Config(format!(
            "mask ratio {ratio}: core keeps {} of {l}, integer arithmetic {keep}",
            m.keep
        )));
    }
    Ok(m)
}

/// Normalised images as patches.
///
/// # Shapes
/// - `x`: `n × side²` normalised values -> `[n, (side/p)², p²]`
///
/// # Errors
/// [`Error::PatchSize`] when `p` does not divide `side` or the rows are not `side²` long.
pub fn patches(x: &[f32], side: usize, p: usize, device: &Device) -> Result<Tensor<3>, Error> {
    if p == 0 || side == 0 || !side.is_multiple_of(p) || !x.len().is_multiple_of(side * side) {
        return Err(Error::PatchSize { side, patch: p });
    }
    let n = x.len() / (side * side);
    let t = Tensor::<2>::from_data(TensorData::new(x.to_vec(), [n, side * side]), device);
    Ok(patchify(t, side, p))
}

/// The result of pretraining.
#[derive(Debug)]
pub struct Pretrained {
    /// The model, on the plain device (`valid()`).
    pub model: MaeVit,
    /// Loss per step.
    pub losses: Vec<f32>,
    /// `(epoch, CLS test probe)` at each checkpoint.
    pub checkpoints: Vec<(usize, f64)>,
    /// Mean wall milliseconds per optimiser step.
    pub ms_per_step: f64,
}

static INIT: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// A freshly initialised model for `seed` (Burn's RNG seeded, parameters drawn at once, so
/// every head starts from the same body weights). Safe to call from parallel jobs.
///
/// # Errors
/// What [`MaeVitConfig::check`] rejects.
pub fn init_model(
    cfg: &MaeVitConfig,
    head: Head,
    seed: u64,
    device: &Device,
) -> Result<MaeVit, Error> {
    let cfg = MaeVitConfig {
        head,
        ..cfg.clone()
    };
    // Burn's generator is process-wide: seeding and drawing happen under one lock, so
    // jobs running side by side (`Runner::parallel`) still get their seed's weights.
    let _guard = INIT
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    seed_device(device, seed);
    Ok(init_params_now(cfg.init(device)?))
}

/// What one pretraining run needs besides the data.
pub struct PretrainSpec<'a> {
    /// The model sizes (head set from `tokenizer`).
    pub model: &'a MaeVitConfig,
    /// Optimisation and masking.
    pub train: &'a TrainConfig,
    /// Token targets, or `None` for pixel regression.
    pub tokenizer: Option<&'a dyn Tokenizer>,
    /// The run's seed (init, batches, views, masks).
    pub seed: u64,
    /// Progress (one unit per epoch).
    pub progress: Option<&'a JobProgress>,
}

/// One augmented, normalised batch: host pixels and ids/labels.
fn view_batch(data: &DigitsData, rows: &[usize], max_shift: i32, rng: &mut SplitMix64) -> Vec<f32> {
    let span = (2 * max_shift + 1) as usize;
    let mut out = Vec::with_capacity(rows.len() * 64);
    for &i in rows {
        let img = &data.train.pixels[i * 64..(i + 1) * 64];
        let (dx, dy) = (
            rng.below(span) as i32 - max_shift,
            rng.below(span) as i32 - max_shift,
        );
        out.extend(data.normalize(&translate(img, dx, dy)));
    }
    out
}

/// Pretrains on `data.train` with masked pixel regression or masked token prediction,
/// tokens recomputed on each augmented batch; calls `checkpoint(epoch, model)` every
/// `train.checkpoint_every` epochs.
///
/// # Errors
/// Bad settings, a tokenizer error, a non-finite loss.
pub fn pretrain(
    data: &DigitsData,
    spec: &PretrainSpec<'_>,
    device: &Device,
    checkpoint: &mut dyn FnMut(&MaeVit) -> anyhow::Result<f64>,
) -> anyhow::Result<Pretrained> {
    let (t, side, p) = (spec.train, spec.model.image_side, spec.model.patch);
    let head = spec
        .tokenizer
        .map_or(Head::Pixels, |tk| Head::Tokens(tk.k()));
    let ad = device.clone().autodiff();
    let mut model = init_model(spec.model, head, spec.seed, &ad)?;
    let adamw = AdamWConfig::new()
        .with_beta_1(t.beta1)
        .with_beta_2(t.beta2)
        .with_epsilon(t.eps)
        .with_weight_decay(t.weight_decay);
    let mut opt = adamw_matrices_only(&model, &adamw);
    let n = data.train.len();
    let total = t.steps(n);
    let schedule = LrSchedule::Cosine {
        lr: t.lr,
        min_lr: 0.0,
        warmup: (t.warmup_frac * total as f64).round() as usize,
        total,
    };
    let (mut order, mut aug, mut mask_rng) = (
        stream(spec.seed, "batch-order"),
        stream(spec.seed, "views"),
        stream(spec.seed, "masks"),
    );
    let l = spec.model.n_patches();
    let (mut losses, mut checkpoints) = (Vec::with_capacity(total), Vec::new());
    let started = std::time::Instant::now();
    let mut step = 0usize;
    for epoch in 0..t.epochs {
        for rows in minibatches(n, t.batch_size, order.next_u64()) {
            let x = view_batch(data, &rows, t.max_shift, &mut aug);
            let xp = patches(&x, side, p, &ad)?; // [b, L, p²]
            let m = masking(rows.len(), l, t.mask_ratio, &mut mask_rng, &ad)?;
            let out = model.forward(xp.clone(), &m);
            let loss = match spec.tokenizer {
                None => masked_pixel_mse(out, xp, m.mask.clone()),
                Some(tk) => {
                    let batch = TokenBatch {
                        patches: patches(&x, side, p, device)?,
                        image_ids: rows.iter().map(|&i| data.train.ids[i]).collect(),
                        labels: Some(rows.iter().map(|&i| data.train.labels[i]).collect()),
                        step: step as u64,
                    };
                    let ids: Tensor<2, Int> = tk.tokens(&batch)?;
                    let ids = Tensor::<2, Int>::from_data(ids.into_data(), &ad);
                    masked_token_ce(out, ids, m.mask.clone(), t.label_smoothing)
                }
            };
            let v = ensure_finite("pretraining loss", step, loss.clone().into_scalar::<f64>())?;
            losses.push(v as f32);
            let grads = GradientsParams::from_grads(loss.backward(), &model);
            model = opt.step(schedule.lr(step), model, grads);
            step += 1;
        }
        if let Some(pr) = spec.progress {
            pr.inc(1);
        }
        if let Some(every) = t.checkpoint_every
            && (epoch + 1) % every.max(1) == 0
        {
            checkpoints.push((epoch + 1, checkpoint(&model.valid())?));
        }
    }
    let ms_per_step = 1e3 * started.elapsed().as_secs_f64() / step.max(1) as f64;
    Ok(Pretrained {
        model: model.valid(),
        losses,
        checkpoints,
        ms_per_step,
    })
}

/// Probe features of a set of images.
#[derive(Debug, Clone, PartialEq)]
pub struct Features {
    /// CLS output, `n × d`.
    pub cls: Vec<f32>,
    /// Mean patch output, `n × d`.
    pub mean: Vec<f32>,
    /// Width.
    pub d: usize,
}

/// CLS and mean-pool features of normalised images through a frozen model (every patch
/// visible), in chunks of 512.
///
/// # Errors
/// [`Error::PatchSize`] on rows that are not images of the model's size.
pub fn features(
    model: &MaeVit,
    cfg: &MaeVitConfig,
    x: &[f32],
    device: &Device,
) -> Result<Features, Error> {
    let per = cfg.image_side * cfg.image_side;
    let (mut cls, mut mean) = (Vec::new(), Vec::new());
    for chunk in x.chunks(512 * per) {
        let (c, m) = model.features(patches(chunk, cfg.image_side, cfg.patch, device)?);
        cls.extend(repro_core::host::to_vec(c));
        mean.extend(repro_core::host::to_vec(m));
    }
    Ok(Features {
        cls,
        mean,
        d: model.enc_dim(),
    })
}

/// Raw normalised pixels as features (the PIXELS floor).
pub fn pixel_features(x: &[f32]) -> Features {
    Features {
        cls: x.to_vec(),
        mean: x.to_vec(),
        d: 64,
    }
}

/// Probe and k-NN scores in percent.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Scores {
    /// CLS linear probe, test.
    pub lp_cls: f64,
    /// Mean-pool linear probe, test.
    pub lp_mean: f64,
    /// Weighted k-NN on CLS, test.
    pub knn: f64,
    /// CLS probe trained on the train part without the validation images, on those.
    pub val_cls: f64,
}

/// Evaluation settings.
pub struct EvalSpec<'a> {
    /// Probe settings (the seed is overwritten by `seed`).
    pub probe: &'a ProbeConfig,
    /// The k-NN rule.
    pub knn: Knn,
    /// Validation rows (indices into train) and the rest.
    pub val: (&'a [usize], &'a [usize]),
    /// Probe seed.
    pub seed: u64,
}

/// A CLS test probe only (checkpoints).
///
/// # Errors
/// Probe errors.
pub fn cls_probe(
    tr: &Features,
    te: &Features,
    y_tr: &[usize],
    y_te: &[usize],
    spec: &EvalSpec<'_>,
    device: &Device,
) -> anyhow::Result<f64> {
    let cfg = ProbeConfig {
        seed: spec.seed,
        ..spec.probe.clone()
    };
    let (p, _) = train_linear_probe(&tr.cls, tr.d, y_tr, CLASSES, &cfg, device)?;
    Ok(100.0 * p.accuracy(&te.cls, y_te))
}

/// Every score of one feature extractor.
///
/// # Errors
/// Probe or k-NN errors.
pub fn evaluate(
    tr: &Features,
    te: &Features,
    y_tr: &[usize],
    y_te: &[usize],
    spec: &EvalSpec<'_>,
    device: &Device,
) -> anyhow::Result<Scores> {
    let cfg = ProbeConfig {
        seed: spec.seed,
        ..spec.probe.clone()
    };
    let d = tr.d;
    let probe = |x: &[f32], y: &[usize], xt: &[f32], yt: &[usize]| -> anyhow::Result<f64> {
        let (p, _) = train_linear_probe(x, d, y, CLASSES, &cfg, device)?;
        Ok(100.0 * p.accuracy(xt, yt))
    };
    let rows = |x: &[f32], idx: &[usize]| -> Vec<f32> {
        idx.iter()
            .flat_map(|&i| x[i * d..(i + 1) * d].to_vec())
            .collect()
    };
    let (val, rest) = spec.val;
    let pick = |idx: &[usize]| -> Vec<usize> { idx.iter().map(|&i| y_tr[i]).collect() };
    let knn = spec.knn.classify(&tr.cls, y_tr, &te.cls, d, CLASSES)?;
    Ok(Scores {
        lp_cls: probe(&tr.cls, y_tr, &te.cls, y_te)?,
        lp_mean: probe(&tr.mean, y_tr, &te.mean, y_te)?,
        knn: 100.0 * accuracy(&knn, y_te),
        val_cls: probe(
            &rows(&tr.cls, rest),
            &pick(rest),
            &rows(&tr.cls, val),
            &pick(val),
        )?,
    })
}

/// The weighted k-NN of the spec: cosine, votes `exp(sim / τ)`.
pub fn weighted_knn(k: usize, temperature: f64) -> Knn {
    Knn {
        k,
        similarity: Similarity::Cosine,
        vote: Vote::Exp { temperature },
    }
}

//! The pretraining loop (spec §3): AdamW (β 0.9/0.999, eps 1e-8, decoupled weight decay
//! 0.01 on matrices only, core's [`adamw_matrices_only`]), lr 1e-3 with 5 % linear warm-up
//! then cosine to 0 ([`LrSchedule::Cosine`]), batch 64, global-norm gradient clipping at 1.0
//! ([`clip_global_norm`]). Full batches only (the remainder of an epoch is dropped).
//!
//! Randomness: Burn's generator is seeded with the job's seed right before the model is
//! built and every parameter is drawn at once ([`init_params_now`]), so all objectives of a
//! seed start from the same weights; the batch order comes from the stream
//! `"batch-order"` and the corruption / offsets from `"corruption"` ([`stream`]), so all
//! objectives of a seed see the same batches in the same order.

use burn::optim::GradientsParams;
use burn::prelude::Module;
use burn::tensor::Device;
use repro_core::device::{init_params_now, seed as seed_device};
use repro_core::experiment::JobProgress;
use repro_core::rng::stream;
use repro_core::train::optim::{adamw, adamw_matrices_only, clip_global_norm};
use repro_core::train::{LrSchedule, ensure_finite, minibatches};
use serde::{Deserialize, Serialize};

use crate::model::{SeqModel, SeqModelConfig};
use crate::objective::{Objective, Reduction, objective_loss};

/// Optimiser and schedule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainConfig {
    /// Peak learning rate.
    pub lr: f64,
    /// Decoupled weight decay (matrices only).
    pub weight_decay: f32,
    /// Sequences per step.
    pub batch_size: usize,
    /// Passes over the pretraining set.
    pub epochs: usize,
    /// Warm-up fraction of all steps.
    pub warmup_frac: f64,
    /// Global gradient-norm bound.
    pub clip_norm: f64,
    /// Batch reduction of the loss.
    pub reduction: Reduction,
}

impl Default for TrainConfig {
    /// The spec's recipe with 8 epochs.
    fn default() -> Self {
        Self {
            lr: 1e-3,
            weight_decay: 0.01,
            batch_size: 64,
            epochs: 8,
            warmup_frac: 0.05,
            clip_norm: 1.0,
            reduction: Reduction::PerSequence,
        }
    }
}

/// The loss of every optimiser step and the training time.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Curve {
    /// Loss per step.
    pub loss: Vec<f64>,
    /// Seconds spent in the loop.
    pub seconds: f64,
}

impl Curve {
    /// Means of the first and last `k` steps.
    pub fn first_last(&self, k: usize) -> (f64, f64) {
        let k = k.clamp(1, self.loss.len().max(1));
        let mean = |s: &[f64]| s.iter().sum::<f64>() / s.len().max(1) as f64;
        (
            mean(&self.loss[..k.min(self.loss.len())]),
            mean(&self.loss[self.loss.len().saturating_sub(k)..]),
        )
    }

    /// Means over `blocks` equal blocks of steps (for plots).
    pub fn blocks(&self, blocks: usize) -> Vec<(f64, f64)> {
        let per = self.loss.len().div_ceil(blocks.max(1)).max(1);
        self.loss
            .chunks(per)
            .enumerate()
            .map(|(i, c)| {
                (
                    (i * per + c.len() / 2) as f64,
                    c.iter().sum::<f64>() / c.len() as f64,
                )
            })
            .collect()
    }
}

/// Builds the model of `seed` on `device` with every parameter drawn now.
///
/// # Errors
/// A bad configuration.
pub fn init_model(cfg: &SeqModelConfig, seed: u64, device: &Device) -> anyhow::Result<SeqModel> {
    seed_device(device, seed);
    Ok(init_params_now(cfg.init(device)?))
}

/// Pretrains `obj` from the seed's initial weights on `data(epoch)` (the pretraining set of
/// each epoch, so augmented data can be redrawn); returns the model for evaluation (on
/// `device`, no autodiff) and its curve. `progress` gets one unit per epoch.
///
/// # Errors
/// Bad settings, data errors, fewer sequences than one batch, or a non-finite loss.
#[allow(clippy::too_many_arguments)]
pub fn pretrain(
    model_cfg: &SeqModelConfig,
    obj: &Objective,
    train: &TrainConfig,
    data: &dyn Fn(usize) -> anyhow::Result<Vec<Vec<u32>>>,
    n_items: usize,
    seed: u64,
    device: &Device,
    progress: Option<&JobProgress>,
) -> anyhow::Result<(SeqModel, Curve)> {
    obj.check()?;
    anyhow::ensure!(train.batch_size > 0, "train batch_size must be positive");
    anyhow::ensure!(train.epochs > 0, "train epochs must be positive");
    let per_epoch = n_items / train.batch_size;
    anyhow::ensure!(
        per_epoch > 0,
        "{n_items} pretraining sequences do not fill one batch of {}",
        train.batch_size
    );
    let started = std::time::Instant::now();
    let ad = device.clone().autodiff();
    let mut model = init_model(model_cfg, seed, &ad)?;
    let mut opt = adamw_matrices_only(&model, &adamw(train.weight_decay));
    let total = train.epochs * per_epoch;
    let schedule = LrSchedule::Cosine {
        lr: train.lr,
        min_lr: 0.0,
        warmup: (train.warmup_frac * total as f64).round() as usize,
        total,
    };
    let mut order_rng = stream(seed, "batch-order");
    let mut corrupt_rng = stream(seed, "corruption");
    let mut curve = Curve::default();
    let mut step = 0;
    for epoch in 0..train.epochs {
        let xs = data(epoch)?;
        anyhow::ensure!(
            xs.len() == n_items,
            "epoch {epoch}: {} sequences, expected {n_items}",
            xs.len()
        );
        for batch in minibatches(n_items, train.batch_size, order_rng.next_u64())
            .iter()
            .take(per_epoch)
        {
            let rows: Vec<Vec<u32>> = batch.iter().map(|&i| xs[i].clone()).collect();
            let loss = objective_loss(&model, obj, train.reduction, &rows, &mut corrupt_rng, &ad)?;
            let v = ensure_finite(
                "pretraining loss",
                step,
                f64::from(loss.clone().into_scalar::<f32>()),
            )?;
            curve.loss.push(v);
            let grads = GradientsParams::from_grads(loss.backward(), &model);
            let (grads, _) = clip_global_norm(&model, grads, train.clip_norm)?;
            model = opt.step(schedule.lr(step), model, grads);
            step += 1;
        }
        if let Some(p) = progress {
            p.inc(1);
        }
    }
    curve.seconds = started.elapsed().as_secs_f64();
    Ok((model.valid(), curve))
}

#[cfg(test)]
mod tests {
    use super::*;
    use repro_core::device::seed_lock;
    use repro_core::rng::SplitMix64;

    #[test]
    fn every_objective_learns_and_reruns_identically() {
        let _g = seed_lock();
        let device = Device::flex();
        let mut r = SplitMix64::new(0);
        // A deterministic cycle 0 → 1 → … → 7 → 0 from a random start: easy to learn.
        let xs: Vec<Vec<u32>> = (0..64)
            .map(|_| {
                let s = r.below(8) as u32;
                (0..10).map(|i| (s + i) % 8).collect()
            })
            .collect();
        let cfg = SeqModelConfig::new(8, 11).with_d_model(16).with_n_layers(1);
        let train = TrainConfig {
            lr: 3e-3,
            batch_size: 16,
            epochs: 10,
            ..TrainConfig::default()
        };
        for obj in Objective::standard() {
            let data = |_: usize| Ok(xs.clone());
            let (_, c) = pretrain(&cfg, &obj, &train, &data, 64, 1, &device, None).unwrap();
            let (first, last) = c.first_last(5);
            assert!(last < first, "{obj:?}: {first} -> {last}");
            let (_, again) = pretrain(&cfg, &obj, &train, &data, 64, 1, &device, None).unwrap();
            assert_eq!(c.loss, again.loss, "{obj:?}");
        }
    }
}

//! Training the decoder on a knowledge base: batches mixing single-hop facts, direct two-hop
//! items and chain-of-thought items (50 / 25 / 25 by default), cross-entropy on the answer
//! tokens only, AdamW (lr 1e-3, β 0.9 / 0.999, eps 1e-8, weight decay 0.01), linear warm-up
//! then linear decay to 0.1·lr, global-norm clipping at 1.0 (spec §6; the clip is ours).
//!
//! ```
//! use burn::tensor::Device;
//! use repro_factual_recall::kb::{KbConfig, generate};
//! use repro_factual_recall::train::{ModelConfig, TrainSpec, train};
//! use repro_core::train::Hooks;
//!
//! let kb = generate(&KbConfig::smoke(), 0)?;
//! let device = Device::flex().autodiff();
//! let model = ModelConfig::smoke().init(&kb, &device, 0);
//! let spec = TrainSpec { steps: 3, batch: 8, ..TrainSpec::quick() };
//! let run = train(model, &device, &kb, &spec, &Hooks::none())?;
//! assert_eq!(run.losses.len(), 3);
//! # Ok::<(), anyhow::Error>(())
//! ```

use anyhow::Context;
use burn::module::Module;
use burn::optim::GradientsParams;
use burn::tensor::activation::log_softmax;
use burn::tensor::{Device, Int, Tensor, TensorData};
use repro_core::device::{init_params_now, seed};
use repro_core::nn::decoder::{
    AttnMask, Decoder, DecoderConfig, DecoderInput, FfnHooks, Positions,
};
use repro_core::rng::{self, SplitMix64};
use repro_core::train::{Hooks, LrSchedule, ensure_finite, optim};
use serde::{Deserialize, Serialize};

use crate::kb::{Example, Form, Kb, PAD};

/// The decoder's shape (vocabulary and length come from the knowledge base).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModelConfig {
    /// Residual width.
    pub d_model: usize,
    /// Attention heads.
    pub n_heads: usize,
    /// Blocks.
    pub n_layers: usize,
    /// MLP width (the candidate neurons per layer).
    pub d_ff: usize,
}

impl ModelConfig {
    /// Spec §6: 4 layers, d 64, 4 heads, d_ff 256 (1,024 candidate neurons).
    pub fn quick() -> Self {
        Self {
            d_model: 64,
            n_heads: 4,
            n_layers: 4,
            d_ff: 256,
        }
    }

    /// Spec §6 smoke row: 2 layers, d 32, d_ff 64.
    pub fn smoke() -> Self {
        Self {
            d_model: 32,
            n_heads: 2,
            n_layers: 2,
            d_ff: 64,
        }
    }

    /// The decoder for `kb`: RoPE (base 10,000), GELU MLP, final LayerNorm.
    pub fn decoder(&self, kb: &Kb) -> DecoderConfig {
        DecoderConfig::new(kb.vocab_size())
            .with_d_model(self.d_model)
            .with_n_heads(self.n_heads)
            .with_n_layers(self.n_layers)
            .with_d_ff(self.d_ff)
            .with_positions(Positions::Rope { base: 10000.0 })
            .with_max_len(kb.max_seq_len() + 8)
    }

    /// A freshly initialised decoder for `kb`, seeded, parameters drawn now.
    ///
    /// # Panics
    /// If `d_model` is not a multiple of `n_heads` or the head width is odd (RoPE).
    pub fn init(&self, kb: &Kb, device: &Device, s: u64) -> Decoder {
        seed(device, s);
        init_params_now(self.decoder(kb).init(device))
    }
}

/// One training run.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct TrainSpec {
    /// Optimiser steps.
    pub steps: usize,
    /// Sequences per step.
    pub batch: usize,
    /// Peak learning rate.
    pub lr: f64,
    /// Linear warm-up steps.
    pub warmup: usize,
    /// Final rate as a share of the peak.
    pub final_frac: f64,
    /// Percent of each batch that is single-hop facts.
    pub single_pct: u32,
    /// Percent that is direct two-hop items (the rest: chain-of-thought items).
    pub nocot_pct: u32,
    /// Global gradient-norm clip.
    pub clip: f64,
    /// AdamW weight decay.
    pub weight_decay: f32,
    /// Seed of the batch stream.
    pub data_seed: u64,
}

impl TrainSpec {
    /// Spec §6 quick row: 1,500 steps of 64, lr 1e-3, warm-up 100, decay to 0.1·lr, 50/25/25.
    pub fn quick() -> Self {
        Self {
            steps: 1500,
            batch: 64,
            lr: 1e-3,
            warmup: 100,
            final_frac: 0.1,
            single_pct: 50,
            nocot_pct: 25,
            clip: 1.0,
            weight_decay: 0.01,
            data_seed: 0,
        }
    }

    /// Rows of each kind in a batch: (single-hop, direct, chain-of-thought).
    pub fn shares(&self) -> (usize, usize, usize) {
        let single = self.batch * self.single_pct as usize / 100;
        let nocot = self.batch * self.nocot_pct as usize / 100;
        (single, nocot, self.batch - single - nocot)
    }

    /// The learning-rate schedule.
    pub fn schedule(&self) -> LrSchedule {
        LrSchedule::Linear {
            lr: self.lr,
            final_lr: self.lr * self.final_frac,
            warmup: self.warmup,
            total: self.steps,
        }
    }
}

/// Inputs, targets and loss mask of a batch of examples, right-padded with `<pad>`.
///
/// # Shapes
/// - returns ids `[batch, T − 1]`, targets `[batch, T − 1]`, mask `[batch, T − 1]` (1.0 where
///   the target carries the loss), `T` the longest example
pub fn batch_tensors(
    examples: &[&Example],
    device: &Device,
) -> (Tensor<2, Int>, Tensor<2, Int>, Tensor<2>) {
    let t = examples
        .iter()
        .map(|e| e.ids.len())
        .max()
        .unwrap_or(1)
        .max(2);
    let b = examples.len();
    let (mut ids, mut tgt, mut mask) = (
        Vec::with_capacity(b * (t - 1)),
        Vec::with_capacity(b * (t - 1)),
        Vec::with_capacity(b * (t - 1)),
    );
    for e in examples {
        let at = |i: usize| e.ids.get(i).copied().unwrap_or(PAD);
        for i in 0..t - 1 {
            ids.push(i64::from(at(i)));
            tgt.push(i64::from(at(i + 1)));
            mask.push(if e.loss_mask.get(i + 1).copied().unwrap_or(false) {
                1f32
            } else {
                0.0
            });
        }
    }
    (
        Tensor::from_data(TensorData::new(ids, [b, t - 1]), device),
        Tensor::from_data(TensorData::new(tgt, [b, t - 1]), device),
        Tensor::from_data(TensorData::new(mask, [b, t - 1]), device),
    )
}

/// Mean cross-entropy over the masked targets.
///
/// # Shapes
/// - `logits`: `[batch, T, vocab]`, `targets`, `mask`: `[batch, T]` -> `[1]`
pub fn masked_ce(logits: Tensor<3>, targets: Tensor<2, Int>, mask: Tensor<2>) -> Tensor<1> {
    let [b, t, _] = logits.dims();
    let lp = log_softmax(logits, 2)
        .gather(2, targets.reshape([b, t, 1]))
        .reshape([b, t]); // [b, t]
    let n = mask.clone().sum().clamp_min(1.0);
    -(lp * mask).sum() / n
}

/// The training pools of a knowledge base.
#[derive(Debug, Clone)]
pub struct Pools {
    /// Every fact in every template.
    pub single: Vec<Example>,
    /// Direct two-hop items of memorised persons.
    pub nocot: Vec<Example>,
    /// Chain-of-thought items of memorised persons.
    pub cot: Vec<Example>,
}

impl Pools {
    /// The pools of `kb`.
    pub fn of(kb: &Kb) -> Self {
        let two = kb.two_hop_train_examples();
        let so = kb.so();
        let (cot, nocot): (Vec<Example>, Vec<Example>) = two.into_iter().partition(|e| {
            e.ids.len() >= 2 && e.ids[e.ids.len() - 2] == so && e.loss_mask[e.ids.len() - 2]
        });
        Self {
            single: kb.single_hop_examples(),
            nocot,
            cot,
        }
    }

    /// One batch drawn with replacement in the shares of `spec`.
    pub fn draw<'a>(&'a self, spec: &TrainSpec, rng: &mut SplitMix64) -> Vec<&'a Example> {
        let (s, n, c) = spec.shares();
        let mut out = Vec::with_capacity(spec.batch);
        for (pool, k) in [(&self.single, s), (&self.nocot, n), (&self.cot, c)] {
            if pool.is_empty() {
                continue;
            }
            out.extend((0..k).map(|_| &pool[rng.below(pool.len())]));
        }
        out
    }
}

/// A run's result.
pub struct Trained {
    /// The trained model (on the training device).
    pub model: Decoder,
    /// Loss per step.
    pub losses: Vec<f64>,
}

#[derive(Serialize, Deserialize)]
struct LoopState {
    step: usize,
    loss_bits: Vec<u64>,
}

/// Trains `model` (on the autodiff `device`) on batches of `kb`. With a checkpoint in
/// `hooks`, saves every `hooks.every` steps and resumes from a saved state (the batch stream
/// is replayed, so a resumed run equals an uninterrupted one).
///
/// # Errors
/// A knowledge base without single-hop facts, an empty batch, a non-finite loss, a
/// checkpoint that cannot be read or written.
pub fn train(
    mut model: Decoder,
    device: &Device,
    kb: &Kb,
    spec: &TrainSpec,
    hooks: &Hooks<'_>,
) -> anyhow::Result<Trained> {
    anyhow::ensure!(
        spec.batch > 0,
        "a training batch needs at least one sequence"
    );
    anyhow::ensure!(
        spec.single_pct + spec.nocot_pct <= 100,
        "single_pct + nocot_pct = {} > 100",
        spec.single_pct + spec.nocot_pct
    );
    let pools = Pools::of(kb);
    anyhow::ensure!(!pools.single.is_empty(), "the knowledge base has no facts");
    let schedule = spec.schedule();
    let mut opt = optim::adamw_matrices_only(&model, &optim::adamw(spec.weight_decay));
    let mut rng = rng::stream(spec.data_seed, "batches");
    let mut losses = Vec::with_capacity(spec.steps);
    let mut start = 0;
    if let Some(ck) = hooks.checkpoint.as_ref().filter(|c| c.exists()) {
        let (m, o, state): (Decoder, _, LoopState) = ck
            .load(model, opt)?
            .context("checkpoint vanished while loading")?;
        (model, opt, start) = (m, o, state.step);
        losses.extend(state.loss_bits.iter().map(|&b| f64::from_bits(b)));
        for _ in 0..start {
            pools.draw(spec, &mut rng);
        }
        (hooks.progress)(start as u64);
    }
    for step in start..spec.steps {
        let batch = pools.draw(spec, &mut rng);
        let (ids, tgt, mask) = batch_tensors(&batch, device);
        let logits = model.forward(
            DecoderInput::Tokens(ids),
            0,
            &AttnMask::Causal,
            &mut FfnHooks::none(),
        );
        let loss = masked_ce(logits, tgt, mask);
        let value = ensure_finite(
            "training loss",
            step,
            f64::from(loss.clone().into_scalar::<f32>()),
        )?;
        losses.push(value);
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        let (grads, _) = optim::clip_global_norm(&model, grads, spec.clip)?;
        model = opt.step(schedule.lr(step), model, grads);
        (hooks.progress)(1);
        let done = step + 1;
        if let Some(ck) = &hooks.checkpoint
            && (done % hooks.every == 0 || done == spec.steps)
        {
            ck.save(
                &model,
                &opt,
                &LoopState {
                    step: done,
                    loss_bits: losses.iter().map(|l| l.to_bits()).collect(),
                },
            )?;
        }
    }
    Ok(Trained { model, losses })
}

/// The direct and chain-of-thought forms of the knowledge base's queries.
pub fn forms(kb: &Kb) -> Vec<Form> {
    (0..kb.two_hop.nocot.len())
        .map(Form::NoCot)
        .chain([Form::Cot])
        .collect()
}

/// The trained weights as bytes (burnpack record), for job payloads.
///
/// # Errors
/// Encoding failures.
pub fn to_bytes(model: &Decoder) -> anyhow::Result<Vec<u8>> {
    let bytes = model
        .clone()
        .into_record()
        .into_bytes()
        .map_err(|e| anyhow::anyhow!("cannot encode the model: {e:?}"))?;
    Ok(bytes.to_vec())
}

/// Loads weights written by [`to_bytes`] into `template` (same configuration).
///
/// # Errors
/// Bytes that do not decode or do not match the configuration.
pub fn from_bytes(template: Decoder, bytes: &[u8]) -> anyhow::Result<Decoder> {
    let record =
        burn::store::ModuleRecord::from_bytes(burn::tensor::Bytes::from_bytes_vec(bytes.to_vec()))
            .map_err(|e| anyhow::anyhow!("cannot decode the model: {e:?}"))?;
    template
        .try_load_record(record)
        .map_err(|e| anyhow::anyhow!("cannot load the model: {e:?}"))
}

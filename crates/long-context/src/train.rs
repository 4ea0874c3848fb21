//! Training the decoder on generated documents with CE or LongCE.

use burn::grad_clipping::GradientClippingConfig;
use burn::module::Module;
use burn::optim::GradientsParams;
use burn::tensor::{Device, Int, Tensor, TensorData};
use repro_core::data::split::SplitMix64;
use repro_core::lm::{CausalLm, ContextWindow};
use repro_core::nn::decoder::{AttnMask, Decoder, DecoderConfig, Positions};
use repro_core::train::{LrSchedule, ensure_finite, optim};

use crate::config::ExperimentConfig;
use crate::kvdocs::{FillerChain, KvDocConfig, VOCAB, generate_doc};
use crate::metrics::{longce_loss, longce_weights};

/// The training objective.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Objective {
    /// Mean cross-entropy over all targets.
    Ce,
    /// LongCE with weights `min(p_long / p_short, gamma)` from the current model, short
    /// contexts `Chunked { short, short / 4 }`.
    LongCe {
        /// Weight cap.
        gamma: f64,
    },
}

/// One training run.
#[derive(Debug, Clone)]
pub struct RunSpec {
    /// Steps.
    pub steps: usize,
    /// Peak learning rate.
    pub lr: f64,
    /// Warm-up steps.
    pub warmup: usize,
    /// Final rate as a fraction of the peak.
    pub final_frac: f64,
    /// Attention mask used in training.
    pub mask: AttnMask,
    /// Share of far pairs in the documents.
    pub p_far: f64,
    /// CE or LongCE.
    pub objective: Objective,
    /// Seed of the document stream.
    pub data_seed: u64,
    /// Steps after which a snapshot is kept (e.g. 1/4, 1/2, 1 of the run).
    pub snapshots: Vec<usize>,
}

/// The decoder architecture of a config.
pub fn decoder_config(cfg: &ExperimentConfig) -> DecoderConfig {
    rope_decoder(VOCAB, cfg.d_model, cfg.n_heads, cfg.n_layers, cfg.len)
}

/// A RoPE decoder (base 10,000) for `vocab` tokens and windows of up to `len` (+8) tokens.
pub fn rope_decoder(
    vocab: usize,
    d_model: usize,
    n_heads: usize,
    n_layers: usize,
    len: usize,
) -> DecoderConfig {
    DecoderConfig::new(vocab)
        .with_d_model(d_model)
        .with_n_heads(n_heads)
        .with_n_layers(n_layers)
        .with_positions(Positions::Rope { base: 10000.0 })
        .with_max_len(len + 8)
}

/// A training batch `[batch, T]` of fresh documents.
pub fn batch_ids(
    cfg: &KvDocConfig,
    chain: &FillerChain,
    n: usize,
    rng: &mut SplitMix64,
    device: &Device,
) -> anyhow::Result<Tensor<2, Int>> {
    let mut ids = Vec::with_capacity(n * cfg.len);
    for _ in 0..n {
        ids.extend(
            generate_doc(cfg, chain, rng)?
                .ids
                .iter()
                .map(|&t| i64::from(t)),
        );
    }
    Ok(Tensor::from_data(
        TensorData::new(ids, [n, cfg.len]),
        device,
    ))
}

/// What a run leaves.
pub struct Trained {
    /// The final model, still on the autodiff device (to continue training).
    pub model: Decoder,
    /// Snapshots (plain device) at the requested steps.
    pub snapshots: Vec<(usize, Decoder)>,
    /// Loss per step.
    pub losses: Vec<f64>,
}

/// Trains `model` (on the autodiff `device`) on fresh documents every step.
pub fn train(
    model: Decoder,
    device: &Device,
    cfg: &ExperimentConfig,
    chain: &FillerChain,
    spec: &RunSpec,
    progress: &indicatif::ProgressBar,
) -> anyhow::Result<Trained> {
    let docs = KvDocConfig {
        len: cfg.len,
        short: cfg.short,
        pairs: cfg.train_pairs,
        p_far: spec.p_far,
    };
    let short = cfg.short;
    train_on(model, device, short, spec, progress, |rng| {
        batch_ids(&docs, chain, cfg.batch, rng, device)
    })
}

/// Trains `model` (on the autodiff `device`) on the batches `next_batch` draws from the run's
/// data stream (`SplitMix64::new(spec.data_seed)`). `short` is the short context of LongCE's
/// weights (`Chunked { short, short / 4 }`).
///
/// # Shapes
/// - `next_batch` returns `[batch, T]` token ids; the model reads `[batch, T - 1]`.
pub fn train_on(
    mut model: Decoder,
    device: &Device,
    short: usize,
    spec: &RunSpec,
    progress: &indicatif::ProgressBar,
    mut next_batch: impl FnMut(&mut SplitMix64) -> anyhow::Result<Tensor<2, Int>>,
) -> anyhow::Result<Trained> {
    // Burn clips each parameter tensor by its own norm (not the global norm of
    // torch.nn.utils.clip_grad_norm_): declared in the crate docs.
    let mut opt = optim::adamw(0.01)
        .with_grad_clipping(Some(GradientClippingConfig::Norm(1.0)))
        .init();
    let schedule = LrSchedule::Linear {
        lr: spec.lr,
        final_lr: spec.lr * spec.final_frac,
        warmup: spec.warmup,
        total: spec.steps,
    };
    let mut rng = SplitMix64::new(spec.data_seed);
    let mut losses = Vec::with_capacity(spec.steps);
    let mut snaps = Vec::new();
    for step in 0..spec.steps {
        let ids = next_batch(&mut rng)?;
        let [b, t] = ids.dims();
        let weights = match spec.objective {
            Objective::Ce => Tensor::<2>::ones([b, t - 1], device),
            Objective::LongCe { gamma } => {
                let window = ContextWindow::Chunked {
                    trunc_len: short,
                    stride: (short / 4).max(1),
                };
                let w = longce_weights(&model.valid(), ids.clone(), gamma, window);
                Tensor::from_data(w.into_data(), device)
            }
        };
        let logits = model.logits(ids.clone().slice([0..b, 0..t - 1]), 0, &spec.mask);
        let loss = longce_loss(logits, ids, weights);
        losses.push(ensure_finite(
            "training loss",
            step,
            loss.clone().into_scalar::<f64>(),
        )?);
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        model = opt.step(schedule.lr(step), model, grads);
        progress.inc(1);
        if spec.snapshots.contains(&(step + 1)) {
            snaps.push((step + 1, model.valid()));
        }
    }
    Ok(Trained {
        model,
        snapshots: snaps,
        losses,
    })
}

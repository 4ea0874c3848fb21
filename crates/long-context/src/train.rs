//! Training the decoder on generated documents with CE or LongCE.

use burn::grad_clipping::GradientClippingConfig;
use burn::module::Module;
use burn::optim::GradientsParams;
use burn::tensor::{Device, Int, Tensor, TensorData};
use repro_core::data::split::SplitMix64;
use repro_core::lm::{CausalLm, ContextWindow};
use repro_core::nn::decoder::{AttnMask, Decoder, DecoderConfig, Positions};
use repro_core::train::{Checkpoint, LrSchedule, ensure_finite, optim};
use serde::{Deserialize, Serialize};

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
    rope_decoder(
        VOCAB,
        cfg.model.d_model,
        cfg.model.n_heads,
        cfg.model.n_layers,
        cfg.docs.len,
    )
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

pub use repro_core::train::Hooks;

/// The loop state of a checkpoint (losses as `f64` bits: exact through JSON).
#[derive(Serialize, Deserialize)]
struct LoopState {
    /// Steps done.
    step: usize,
    /// Loss per step done, as `f64::to_bits`.
    loss_bits: Vec<u64>,
    /// Steps of the snapshots saved beside (`snapshot-<step>.bpk`).
    snapshots: Vec<usize>,
}

fn snapshot_path(ck: &Checkpoint, step: usize) -> std::path::PathBuf {
    ck.dir().join(format!("snapshot-{step}.bpk"))
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
    hooks: &Hooks<'_>,
) -> anyhow::Result<Trained> {
    let docs = KvDocConfig {
        len: cfg.docs.len,
        short: cfg.docs.short,
        pairs: cfg.docs.train_pairs,
        p_far: spec.p_far,
    };
    let short = cfg.docs.short;
    train_on(model, device, short, spec, hooks, |rng| {
        batch_ids(&docs, chain, cfg.train.batch, rng, device)
    })
}

/// Trains `model` (on the autodiff `device`) on the batches `next_batch` draws from the run's
/// data stream (`SplitMix64::new(spec.data_seed)`). `short` is the short context of LongCE's
/// weights (`Chunked { short, short / 4 }`).
///
/// With a checkpoint in `hooks`, the run saves model, optimiser, losses and snapshots every
/// `hooks.every` steps and at its end, and resumes from a saved state: the data stream is
/// replayed up to the saved step, so a resumed run's numbers equal an uninterrupted one's.
///
/// # Shapes
/// - `next_batch` returns `[batch, T]` token ids; the model reads `[batch, T - 1]`.
pub fn train_on(
    mut model: Decoder,
    device: &Device,
    short: usize,
    spec: &RunSpec,
    hooks: &Hooks<'_>,
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
    let mut start = 0;
    if let Some(ck) = hooks.checkpoint.as_ref().filter(|c| c.exists()) {
        let template = model.valid();
        let (m, o, state): (Decoder, _, LoopState) =
            ck.load(model, opt)?.expect("checked that it exists");
        (model, opt, start) = (m, o, state.step);
        losses.extend(state.loss_bits.iter().map(|&b| f64::from_bits(b)));
        for k in state.snapshots {
            let snap = template
                .clone()
                .try_load_file(snapshot_path(ck, k))
                .map_err(|e| anyhow::anyhow!("cannot load snapshot {k}: {e:?}"))?;
            snaps.push((k, snap));
        }
        // Replay the data stream up to the saved step.
        for _ in 0..start {
            next_batch(&mut rng)?;
        }
        (hooks.progress)(start as u64);
    }
    for step in start..spec.steps {
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
        (hooks.progress)(1);
        if spec.snapshots.contains(&(step + 1)) {
            snaps.push((step + 1, model.valid()));
            if let Some(ck) = &hooks.checkpoint {
                std::fs::create_dir_all(ck.dir())?;
                let path = snapshot_path(ck, step + 1);
                let _ = std::fs::remove_file(&path);
                model
                    .valid()
                    .save_file(&path)
                    .map_err(|e| anyhow::anyhow!("cannot save {}: {e:?}", path.display()))?;
            }
        }
        if let Some(ck) = &hooks.checkpoint
            && ((step + 1) % hooks.every.max(1) == 0 || step + 1 == spec.steps)
        {
            let state = LoopState {
                step: step + 1,
                loss_bits: losses.iter().map(|l| l.to_bits()).collect(),
                snapshots: snaps.iter().map(|(k, _)| *k).collect(),
            };
            ck.save(&model, &opt, &state)?;
        }
    }
    Ok(Trained {
        model,
        snapshots: snaps,
        losses,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use repro_core::device::{init_params_now, seed};
    use repro_core::params::flatten;
    use repro_core::testing::TempDir;

    fn fresh(cfg: &ExperimentConfig, device: &Device) -> Decoder {
        seed(device, 3);
        init_params_now(decoder_config(cfg).init(device))
    }

    #[test]
    fn an_interrupted_run_resumes_bit_identically() {
        let _g = repro_core::device::seed_lock();
        let cfg = ExperimentConfig::smoke();
        let device = Device::flex().autodiff();
        let chain = FillerChain::new(1);
        let docs = KvDocConfig {
            len: cfg.docs.len,
            short: cfg.docs.short,
            pairs: cfg.docs.train_pairs,
            p_far: cfg.docs.p_far,
        };
        let spec = RunSpec {
            steps: 12,
            lr: cfg.train.lr,
            warmup: 2,
            final_frac: 0.1,
            mask: AttnMask::Causal,
            p_far: cfg.docs.p_far,
            objective: Objective::LongCe { gamma: 5.0 },
            data_seed: 9,
            snapshots: vec![3, 6, 12],
        };
        let straight = train(
            fresh(&cfg, &device),
            &device,
            &cfg,
            &chain,
            &spec,
            &Hooks::none(),
        )
        .unwrap();
        let tmp = TempDir::new("lc-resume");
        let hooks = Hooks {
            checkpoint: Some(Checkpoint::new(tmp.path().join("run"))),
            every: 4,
            ..Hooks::none()
        };
        // A crash at step 9 (the batch of step 10 cannot be drawn): steps 1..8 are saved.
        let mut calls = 0;
        let crashed = train_on(
            fresh(&cfg, &device),
            &device,
            cfg.docs.short,
            &spec,
            &hooks,
            |rng| {
                calls += 1;
                anyhow::ensure!(calls <= 9, "simulated crash");
                batch_ids(&docs, &chain, cfg.train.batch, rng, &device)
            },
        );
        assert!(crashed.is_err());
        let resumed = train(fresh(&cfg, &device), &device, &cfg, &chain, &spec, &hooks).unwrap();
        assert_eq!(resumed.losses, straight.losses);
        assert_eq!(flatten(&resumed.model), flatten(&straight.model));
        let steps = |t: &Trained| t.snapshots.iter().map(|(k, _)| *k).collect::<Vec<_>>();
        assert_eq!(steps(&resumed), steps(&straight));
        for ((_, a), (_, b)) in resumed.snapshots.iter().zip(&straight.snapshots) {
            assert_eq!(flatten(a), flatten(b));
        }
    }
}

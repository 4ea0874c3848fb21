//! Pretraining one method on one seed, and reading a trained model's features back to the
//! host.
//!
//! Every method of a seed sees the same initial backbone, the same batch order and the
//! same views (streams `"views"` and the minibatch seeds), so method differences are
//! paired. θ's base noise comes from the stream `"theta"`. Adam (lr 1e-3, β 0.9 / 0.999,
//! ε 1e-8 set explicitly, no weight decay), constant learning rate, the last incomplete
//! batch dropped, β warmed up linearly over the first 20 % of the steps.

use burn::module::Module;
use burn::optim::GradientsParams;
use burn::tensor::{Device, Tensor};
use repro_core::experiment::JobProgress;
use repro_core::host;
use repro_core::rng::{Noise, SplitMix64, stream};
use repro_core::train::{ensure_finite, minibatches, optim};

use crate::Error;
use crate::config::{ExperimentConfig, MethodConfig, ModelConfig};
use crate::losses::beta_at;
use crate::model::Net;

/// Makes a view of training item `i` from the view stream.
pub type ViewFn<'a> = &'a dyn Fn(usize, &mut SplitMix64) -> Result<Vec<f32>, Error>;

/// Per-step losses of a pretraining run.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Curve {
    /// Total loss.
    pub total: Vec<f64>,
    /// Mean KL before β (CFA / CNFA; empty for the baselines).
    pub kl: Vec<f64>,
}

impl Curve {
    /// Mean of the first and of the last (up to) 10 totals.
    pub fn first_last10(&self) -> (f64, f64) {
        let l = &self.total;
        let k = l.len().min(10);
        let mean = |s: &[f64]| s.iter().sum::<f64>() / s.len().max(1) as f64;
        (mean(&l[..k]), mean(&l[l.len() - k..]))
    }
}

/// Builds `method`'s model for `seed` on the autodiff version of `device`.
///
/// # Errors
/// A bad configuration ([`Error`]).
pub fn build(
    cfg: &ExperimentConfig,
    method: &MethodConfig,
    in_dim: usize,
    seed: u64,
    device: &Device,
) -> Result<Net, Error> {
    let ad = device.clone().autodiff();
    Ok(match cfg.model(method, in_dim) {
        ModelConfig::Cfa(c) => Net::Cfa(c.init(&ad, seed)?),
        ModelConfig::Baseline(b) => Net::Baseline(b.init(&ad, seed)?),
    })
}

/// Pretrains `method` on `n` items of `in_dim` values whose views `view(i, rng)` makes,
/// for `epochs`; returns the model for evaluation (on `device`) and its curve.
/// `progress` gets one unit per epoch.
///
/// # Errors
/// A bad configuration, a view error, or a non-finite loss (naming the step).
#[allow(clippy::too_many_arguments)]
pub fn pretrain(
    cfg: &ExperimentConfig,
    method: &MethodConfig,
    n: usize,
    in_dim: usize,
    epochs: usize,
    view: ViewFn<'_>,
    seed: u64,
    device: &Device,
    progress: Option<&JobProgress>,
) -> anyhow::Result<(Net, Curve)> {
    let ad = device.clone().autodiff();
    let mut net = build(cfg, method, in_dim, seed, device)?;
    let mut opt = optim::adam(0.0).init();
    let bs = cfg.train.batch_size.min(n);
    if bs == 0 {
        anyhow::bail!("{}: no training items", method.name);
    }
    let per_epoch = n / bs;
    let total = epochs * per_epoch;
    let beta_max = match cfg.model(method, in_dim) {
        ModelConfig::Cfa(c) => c.beta_max,
        ModelConfig::Baseline(_) => 0.0,
    };
    let mut views_rng = stream(seed, "views");
    let mut noise = Noise::new(stream(seed, "theta").next_u64());
    let mut curve = Curve::default();
    let mut step = 0;
    for epoch in 0..epochs {
        let order = minibatches(
            n,
            bs,
            seed.wrapping_mul(1_000_003).wrapping_add(epoch as u64),
        );
        for batch in order.iter().take(per_epoch) {
            let mut v1 = Vec::with_capacity(bs * in_dim);
            let mut v2 = Vec::with_capacity(bs * in_dim);
            for &i in batch {
                v1.extend(view(i, &mut views_rng)?);
                v2.extend(view(i, &mut views_rng)?);
            }
            let beta = beta_at(step, total, beta_max, cfg.train.warmup_frac);
            let (loss, parts) = net.loss(
                host::rows(&v1, in_dim, &ad),
                host::rows(&v2, in_dim, &ad),
                beta,
                &mut noise,
            )?;
            // One read-back per step: the total and (CFA / CNFA) the KL.
            let read = match &parts {
                Some(p) => Tensor::cat(vec![loss.clone().detach(), p.kl.clone().detach()], 0),
                None => loss.clone().detach(),
            };
            let vals: Vec<f32> = read.into_data().iter::<f32>().collect();
            curve.total.push(ensure_finite(
                &format!("{} loss", method.name),
                step,
                f64::from(vals[0]),
            )?);
            if let Some(kl) = vals.get(1) {
                curve.kl.push(f64::from(*kl));
            }
            let grads = GradientsParams::from_grads(loss.backward(), &net);
            net = opt.step(cfg.train.lr, net, grads);
            step += 1;
        }
        if let Some(p) = progress {
            p.inc(1);
        }
    }
    Ok((net.valid(), curve))
}

/// A trained model's features of `x` (rows of `in_dim`), on the host.
pub struct HostFeatures {
    /// Backbone features, `n × hidden`.
    pub backbone: Vec<f32>,
    /// Codes (posterior mean or projector output), `n × K`.
    pub code: Vec<f32>,
    /// Posterior entropies (CFA / CNFA).
    pub entropy: Option<Vec<f32>>,
}

/// Encodes `x` with an evaluation model (BatchNorm on its running statistics).
pub fn encode(net: &Net, x: &[f32], in_dim: usize, device: &Device) -> HostFeatures {
    let e = net.encode(host::rows(x, in_dim, device));
    HostFeatures {
        backbone: host::to_vec(e.backbone),
        code: host::to_vec(e.code),
        entropy: e.entropy.map(host::to_vec),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::{Augment, digits};

    #[test]
    fn pretraining_is_seeded_and_the_loss_falls() {
        let _g = repro_core::device::seed_lock();
        let d = digits().unwrap();
        let mut cfg = ExperimentConfig::smoke();
        cfg.train.epochs = 25;
        let train = crate::data::cap(&d.train, Some(128));
        let aug = Augment::default();
        let view = |i: usize, r: &mut SplitMix64| aug.view(train.row(i), r);
        let device = Device::flex();
        for m in [cfg.digits_methods[0].clone(), cfg.digits_methods[4].clone()] {
            let run = || pretrain(&cfg, &m, train.len(), 64, 25, &view, 0, &device, None).unwrap();
            let (net, curve) = run();
            let (first, last) = curve.first_last10();
            assert!(last < first, "{}: {first} → {last}", m.name);
            assert_eq!(curve.total, run().1.total, "{}", m.name);
            let f = encode(&net, &train.pixels[..64 * 3], 64, &device);
            assert_eq!(f.backbone.len(), 3 * cfg.hidden);
            assert_eq!(f.code.len(), 3 * cfg.k);
            assert_eq!(f.entropy.is_some(), m.is_factor());
        }
    }
}

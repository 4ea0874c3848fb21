//! Linear probes: softmax regression on frozen features, trained for a fixed number of
//! epochs or steps (no early stopping; the final weights are evaluated), with either
//! optimiser of [`ProbeOptimizer`]: minibatch SGD with momentum and cosine decay (the
//! default), or full-batch Adam at a constant learning rate (`cfg.epochs` = steps).
//!
//! Several label sets over the same features (say, one per label-noise rate) train as
//! independent heads of one linear layer: the loss is the sum of the heads' mean
//! cross-entropies, so each head's gradient, momentum and weight decay are exactly those
//! of a probe trained alone on the same minibatch order, at the cost of one run.
//!
//! ```
//! use burn::tensor::Device;
//! use repro_core::probe::{ProbeConfig, train_linear_probe};
//! // Two separable points in 1-D.
//! let cfg = ProbeConfig { epochs: 50, batch_size: 2, ..ProbeConfig::default() };
//! let (probe, _) = train_linear_probe(&[-1.0, 1.0], 1, &[0, 1], 2, &cfg, &Device::flex())?;
//! assert_eq!(probe.predict(&[-2.0, 3.0]), vec![0, 1]);
//! // Full-batch Adam, as "logistic regression, full batch, Adam lr 0.05, 300 steps,
//! // weight decay 1e-4".
//! let cfg = ProbeConfig::full_batch_adam(0.05, 300, 1e-4);
//! let (probe, _) = train_linear_probe(&[-1.0, 1.0], 1, &[0, 1], 2, &cfg, &Device::flex())?;
//! assert_eq!(probe.predict(&[-2.0, 3.0]), vec![0, 1]);
//! # Ok::<(), repro_core::probe::ProbeError>(())
//! ```

use burn::module::{Module, Param};
use burn::optim::GradientsParams;
use burn::tensor::activation::log_softmax;
use burn::tensor::{Device, Int, Tensor, TensorData};
use serde::{Deserialize, Serialize};

use crate::train::{LrSchedule, TrainError, ensure_finite, minibatches, optim};

/// The optimiser of a linear probe.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProbeOptimizer {
    /// Minibatch SGD (`torch.optim.SGD` with [`ProbeConfig::momentum`], dampening 0, L2
    /// [`ProbeConfig::weight_decay`] added to the gradients) over shuffled minibatches of
    /// [`ProbeConfig::batch_size`] drawn from [`ProbeConfig::seed`]; learning rate
    /// [`ProbeConfig::lr`] with cosine decay to 0 over all steps, no warm-up.
    #[default]
    SgdCosine,
    /// Full-batch Adam (`torch.optim.Adam`, betas (0.9, 0.999), eps 1e-8, L2
    /// [`ProbeConfig::weight_decay`] added to the gradients) at the constant learning
    /// rate [`ProbeConfig::lr`], one step per epoch, so [`ProbeConfig::epochs`] is the
    /// number of steps. `batch_size`, `momentum` and `seed` are not used: the run is
    /// deterministic without them.
    FullBatchAdam,
}

/// Hyper-parameters of a linear probe. Every optimiser setting is explicit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProbeConfig {
    /// Passes over the training set (for [`ProbeOptimizer::FullBatchAdam`]: steps).
    pub epochs: usize,
    /// Minibatch size (capped at the number of training items; SGD only).
    pub batch_size: usize,
    /// Learning rate: the peak of the cosine schedule (SGD) or the constant rate (Adam).
    pub lr: f64,
    /// SGD momentum (PyTorch convention, dampening 0, no Nesterov; SGD only).
    pub momentum: f64,
    /// L2 weight decay (added to the gradients, as `torch.optim.SGD` / `torch.optim.Adam`;
    /// applied to weights and biases alike). A loss written `CE + λ‖W‖²` is
    /// `weight_decay = 2λ` here, up to the (here also decayed) bias.
    pub weight_decay: f32,
    /// Standardise features with the training mean and std (std < 1e-6 → 1) first.
    pub standardize: bool,
    /// Seed of the minibatch order (SGD only).
    pub seed: u64,
    /// The optimiser; configs written before it existed read as SGD.
    #[serde(default)]
    pub optimizer: ProbeOptimizer,
}

impl ProbeConfig {
    /// Full-batch Adam at constant `lr` for `steps` steps with L2 `weight_decay`, on
    /// standardised features (the logistic-regression probe of several specs).
    pub fn full_batch_adam(lr: f64, steps: usize, weight_decay: f32) -> Self {
        Self {
            epochs: steps,
            lr,
            weight_decay,
            momentum: 0.0,
            optimizer: ProbeOptimizer::FullBatchAdam,
            ..Self::default()
        }
    }
}

impl Default for ProbeConfig {
    /// SGD momentum 0.9, lr 0.1 with cosine decay, 100 epochs, batch 256, no weight decay,
    /// standardised features.
    fn default() -> Self {
        Self {
            epochs: 100,
            batch_size: 256,
            lr: 0.1,
            momentum: 0.9,
            weight_decay: 0.0,
            standardize: true,
            seed: 0,
            optimizer: ProbeOptimizer::SgdCosine,
        }
    }
}

/// Bad probe input.
#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    /// Feature buffer length is not a multiple of the dimension, or labels do not match.
    #[error("probe input: {0}")]
    Shape(String),
    /// A label is not below the number of classes.
    #[error("probe labels: label {label} at item {index} is not below n_classes = {n_classes}")]
    Label {
        /// The label.
        label: usize,
        /// Its position.
        index: usize,
        /// Classes declared.
        n_classes: usize,
    },
    /// Training diverged.
    #[error(transparent)]
    Diverged(#[from] TrainError),
}

/// Per-feature affine standardisation fitted on training features.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Standardizer {
    /// Mean of each feature.
    pub mean: Vec<f32>,
    /// Standard deviation (ddof 0) of each feature, 1 where it is below 1e-6.
    pub std: Vec<f32>,
}

impl Standardizer {
    /// Fits on row-major `x` with `d` features per row (accumulated in f64).
    pub fn fit(x: &[f32], d: usize) -> Self {
        let n = (x.len() / d.max(1)).max(1) as f64;
        let mut mean = vec![0.0f64; d];
        let mut sq = vec![0.0f64; d];
        for row in x.chunks(d) {
            for (j, &v) in row.iter().enumerate() {
                mean[j] += f64::from(v);
            }
        }
        mean.iter_mut().for_each(|m| *m /= n);
        for row in x.chunks(d) {
            for (j, &v) in row.iter().enumerate() {
                sq[j] += (f64::from(v) - mean[j]).powi(2);
            }
        }
        let std = sq
            .iter()
            .map(|s| {
                let s = (s / n).sqrt();
                if s < 1e-6 { 1.0 } else { s as f32 }
            })
            .collect();
        Self {
            mean: mean.iter().map(|&m| m as f32).collect(),
            std,
        }
    }

    /// `(x − mean) / std`, row-major.
    pub fn apply(&self, x: &[f32]) -> Vec<f32> {
        let d = self.mean.len();
        x.iter()
            .enumerate()
            .map(|(i, &v)| (v - self.mean[i % d]) / self.std[i % d])
            .collect()
    }
}

/// A trained linear probe, evaluated on the host.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LinearProbe {
    /// Input features.
    pub d: usize,
    /// Classes.
    pub n_classes: usize,
    /// Weights, row-major `[d, n_classes]`.
    pub weight: Vec<f32>,
    /// Biases, `[n_classes]`.
    pub bias: Vec<f32>,
    /// The standardisation fitted on the training features, if any.
    pub standardizer: Option<Standardizer>,
}

impl LinearProbe {
    /// Logits, row-major `[n, n_classes]`, of row-major features `x` (`[n, d]`).
    pub fn logits(&self, x: &[f32]) -> Vec<f32> {
        let x = match &self.standardizer {
            Some(s) => s.apply(x),
            None => x.to_vec(),
        };
        let c = self.n_classes;
        let mut out = Vec::with_capacity(x.len() / self.d.max(1) * c);
        for row in x.chunks(self.d) {
            let mut l = self.bias.clone();
            for (j, &v) in row.iter().enumerate() {
                let w = &self.weight[j * c..(j + 1) * c];
                l.iter_mut().zip(w).for_each(|(o, &w)| *o += v * w);
            }
            out.extend(l);
        }
        out
    }

    /// Predicted class of each row (first maximum on ties).
    pub fn predict(&self, x: &[f32]) -> Vec<usize> {
        self.logits(x)
            .chunks(self.n_classes)
            .map(|l| {
                l.iter()
                    .enumerate()
                    .fold((0, f32::NEG_INFINITY), |best, (k, &v)| {
                        if v > best.1 { (k, v) } else { best }
                    })
                    .0
            })
            .collect()
    }

    /// Accuracy in `[0, 1]` against `y`.
    pub fn accuracy(&self, x: &[f32], y: &[usize]) -> f64 {
        crate::metrics::accuracy(&self.predict(x), y)
    }
}

/// Probes trained together, one per label set, and the mean training loss per epoch
/// (averaged over heads).
#[derive(Debug, Clone)]
pub struct ProbeFit {
    /// One probe per label set, in input order.
    pub probes: Vec<LinearProbe>,
    /// Mean cross-entropy per epoch, averaged over heads.
    pub losses: Vec<f64>,
}

#[derive(Module, Debug)]
struct Heads {
    weight: Param<Tensor<2>>,
    bias: Param<Tensor<1>>,
}

/// Trains one probe per label set on the same features (row-major `x`, `d` per row).
///
/// Weights start at zero (the problem is convex; no random initialisation is needed),
/// the minibatch order (SGD) is drawn from `cfg.seed`, training runs on
/// `device.autodiff()`. Same inputs, same config: same probes, bit for bit.
pub fn train_linear_probes(
    x: &[f32],
    d: usize,
    labels: &[Vec<usize>],
    n_classes: usize,
    cfg: &ProbeConfig,
    device: &Device,
) -> Result<ProbeFit, ProbeError> {
    if d == 0 || x.is_empty() || !x.len().is_multiple_of(d) {
        return Err(ProbeError::Shape(format!(
            "{} feature values are not a non-empty multiple of d = {d}",
            x.len()
        )));
    }
    let n = x.len() / d;
    let h = labels.len();
    if h == 0 {
        return Err(ProbeError::Shape("no label sets".into()));
    }
    for y in labels {
        if y.len() != n {
            return Err(ProbeError::Shape(format!(
                "{} labels for {n} feature rows",
                y.len()
            )));
        }
        if let Some((index, &label)) = y.iter().enumerate().find(|(_, l)| **l >= n_classes) {
            return Err(ProbeError::Label {
                label,
                index,
                n_classes,
            });
        }
    }
    let standardizer = cfg.standardize.then(|| Standardizer::fit(x, d));
    let xs = match &standardizer {
        Some(s) => s.apply(x),
        None => x.to_vec(),
    };
    let ad = device.clone().autodiff();
    let x_t = Tensor::<2>::from_data(TensorData::new(xs, [n, d]), &ad);
    // [n, h]: item-major, so selecting rows selects every head's label.
    let y_all: Vec<i64> = (0..n)
        .flat_map(|i| labels.iter().map(move |y| y[i] as i64))
        .collect();
    let y_t = Tensor::<2, Int>::from_data(TensorData::new(y_all, [n, h]), &ad);
    let mut heads = Heads {
        weight: Param::from_tensor(Tensor::zeros([d, h * n_classes], &ad)),
        bias: Param::from_tensor(Tensor::zeros([h * n_classes], &ad)),
    };
    // One minibatch step; returns the summed loss of the heads (for the epoch mean).
    let step_on = |heads: Heads,
                   opt: &mut burn::optim::ModuleOptimizer,
                   rows: Option<&[usize]>,
                   lr: f64,
                   step: usize|
     -> Result<(Heads, f64), ProbeError> {
        let (xb, yb, b) = match rows {
            Some(rows) => {
                let idx: Vec<i64> = rows.iter().map(|&i| i as i64).collect();
                let idx = Tensor::<1, Int>::from_data(TensorData::new(idx, [rows.len()]), &ad);
                let xb = x_t.clone().select(0, idx.clone()); // [b, d]
                let yb = y_t.clone().select(0, idx); // [b, h]
                (xb, yb, rows.len())
            }
            None => (x_t.clone(), y_t.clone(), n),
        };
        let yb = yb.reshape([b, h, 1]); // [b, h, 1]
        let logits = xb.matmul(heads.weight.val()) + heads.bias.val().unsqueeze::<2>();
        let logits = logits.reshape([b, h, n_classes]); // [b, h, c]
        let picked = log_softmax(logits, 2).gather(2, yb); // [b, h, 1]
        let loss = picked.sum().neg() / b as f64;
        let value = ensure_finite("probe loss", step, loss.clone().into_scalar::<f64>())?;
        let grads = GradientsParams::from_grads(loss.backward(), &heads);
        Ok((opt.step(lr, heads, grads), value))
    };
    let mut losses = Vec::with_capacity(cfg.epochs);
    match cfg.optimizer {
        ProbeOptimizer::SgdCosine => {
            let mut opt = optim::sgd(cfg.momentum, cfg.weight_decay).init();
            let bs = cfg.batch_size.clamp(1, n);
            let per_epoch = n.div_ceil(bs);
            let schedule = LrSchedule::Cosine {
                lr: cfg.lr,
                min_lr: 0.0,
                warmup: 0,
                total: cfg.epochs * per_epoch,
            };
            let mut step = 0;
            for epoch in 0..cfg.epochs {
                let mut total = 0.0;
                let batches = minibatches(n, bs, cfg.seed.wrapping_mul(1_000_003) + epoch as u64);
                for b in &batches {
                    let (next, value) = step_on(heads, &mut opt, Some(b), schedule.lr(step), step)?;
                    heads = next;
                    total += value;
                    step += 1;
                }
                losses.push(total / (batches.len() * h) as f64);
            }
        }
        ProbeOptimizer::FullBatchAdam => {
            let mut opt = optim::adam(cfg.weight_decay).init();
            for step in 0..cfg.epochs {
                let (next, value) = step_on(heads, &mut opt, None, cfg.lr, step)?;
                heads = next;
                losses.push(value / h as f64);
            }
        }
    }
    let w: Vec<f32> = heads
        .weight
        .val()
        .into_data()
        .try_to_vec()
        .unwrap_or_default();
    let bias: Vec<f32> = heads
        .bias
        .val()
        .into_data()
        .try_to_vec()
        .unwrap_or_default();
    let hc = h * n_classes;
    let probes = (0..h)
        .map(|k| LinearProbe {
            d,
            n_classes,
            weight: (0..d)
                .flat_map(|j| w[j * hc + k * n_classes..j * hc + (k + 1) * n_classes].to_vec())
                .collect(),
            bias: bias[k * n_classes..(k + 1) * n_classes].to_vec(),
            standardizer: standardizer.clone(),
        })
        .collect();
    Ok(ProbeFit { probes, losses })
}

/// Trains a single probe; see [`train_linear_probes`]. Returns it with its epoch losses.
pub fn train_linear_probe(
    x: &[f32],
    d: usize,
    y: &[usize],
    n_classes: usize,
    cfg: &ProbeConfig,
    device: &Device,
) -> Result<(LinearProbe, Vec<f64>), ProbeError> {
    let fit = train_linear_probes(x, d, &[y.to_vec()], n_classes, cfg, device)?;
    let probe = fit.probes.into_iter().next().expect("one label set");
    Ok((probe, fit.losses))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::split::SplitMix64;

    fn blobs(n: usize, seed: u64) -> (Vec<f32>, Vec<usize>) {
        // Three Gaussian-ish blobs in 2-D around (±3, 0) and (0, 3), offset by 10 so that
        // standardisation matters.
        let mut r = SplitMix64::new(seed);
        let centres = [(-3.0, 0.0), (3.0, 0.0), (0.0, 3.0)];
        let mut x = Vec::new();
        let mut y = Vec::new();
        for i in 0..n {
            let c = i % 3;
            x.push((10.0 + centres[c].0 + r.next_f64() - 0.5) as f32);
            x.push((10.0 + centres[c].1 + r.next_f64() - 0.5) as f32);
            y.push(c);
        }
        (x, y)
    }

    #[test]
    fn separable_blobs_are_learned_and_loss_falls() {
        let (x, y) = blobs(90, 1);
        let cfg = ProbeConfig {
            epochs: 30,
            batch_size: 16,
            ..ProbeConfig::default()
        };
        let (p, losses) = train_linear_probe(&x, 2, &y, 3, &cfg, &Device::flex()).unwrap();
        assert_eq!(p.accuracy(&x, &y), 1.0);
        // Zero weights give exactly ln 3 for the first minibatch.
        assert!(
            losses[0] < 3f64.ln() && losses[29] < 0.2 * losses[0],
            "{losses:?}"
        );
    }

    #[test]
    fn heads_equal_separate_probes() {
        let (x, y) = blobs(60, 2);
        let y2: Vec<usize> = y.iter().map(|&c| (c + 1) % 3).collect();
        let cfg = ProbeConfig {
            epochs: 5,
            batch_size: 8,
            ..ProbeConfig::default()
        };
        let d = Device::flex();
        let both = train_linear_probes(&x, 2, &[y.clone(), y2.clone()], 3, &cfg, &d).unwrap();
        let (alone, _) = train_linear_probe(&x, 2, &y2, 3, &cfg, &d).unwrap();
        for (a, b) in both.probes[1].weight.iter().zip(&alone.weight) {
            // Same arithmetic up to f32 summation order inside the matmul.
            assert!((a - b).abs() < 1e-4, "{a} vs {b}");
        }
    }

    #[test]
    fn bad_input_is_an_error() {
        let d = Device::flex();
        let cfg = ProbeConfig::default();
        assert!(matches!(
            train_linear_probe(&[1.0, 2.0, 3.0], 2, &[0], 2, &cfg, &d),
            Err(ProbeError::Shape(_))
        ));
        let err = train_linear_probe(&[1.0, 2.0], 1, &[0, 5], 2, &cfg, &d).unwrap_err();
        assert!(err.to_string().contains("label 5"), "{err}");
    }

    #[test]
    fn standardizer_by_hand() {
        // Column 0: 1, 3 -> mean 2, std 1; column 1 constant -> std replaced by 1.
        let s = Standardizer::fit(&[1.0, 5.0, 3.0, 5.0], 2);
        assert_eq!(s.mean, vec![2.0, 5.0]);
        assert_eq!(s.std, vec![1.0, 1.0]);
        assert_eq!(s.apply(&[3.0, 6.0]), vec![1.0, 1.0]);
    }

    #[test]
    fn adam_first_step_by_hand() {
        // x = (−1, 1), y = (0, 1), zero weights: p = ½ everywhere, so
        // dL/dW[0, ·] = mean_i x_i (p_i − y_i) = (+½, −½), dL/db = (0, 0). Adam's first
        // step is −lr·sign(g) (bias-corrected m/√v = ±1; 0 where g = 0).
        let mut cfg = ProbeConfig::full_batch_adam(0.05, 1, 0.0);
        cfg.standardize = false;
        let (p, losses) =
            train_linear_probe(&[-1.0, 1.0], 1, &[0, 1], 2, &cfg, &Device::flex()).unwrap();
        assert!((p.weight[0] + 0.05).abs() < 1e-6 && (p.weight[1] - 0.05).abs() < 1e-6);
        assert_eq!(p.bias, vec![0.0, 0.0]);
        assert!((losses[0] - 2f64.ln()).abs() < 1e-6, "{losses:?}");
    }

    #[test]
    fn adam_probe_learns_is_deterministic_and_heads_are_independent() {
        let (x, y) = blobs(90, 3);
        let y2: Vec<usize> = y.iter().map(|&c| (c + 2) % 3).collect();
        let cfg = ProbeConfig::full_batch_adam(0.05, 100, 1e-4);
        let d = Device::flex();
        let (p, losses) = train_linear_probe(&x, 2, &y, 3, &cfg, &d).unwrap();
        assert_eq!(p.accuracy(&x, &y), 1.0);
        assert_eq!(losses.len(), 100);
        assert!(losses[99] < 0.2 * losses[0], "{losses:?}");
        // Full batch: the seed does not matter and reruns are bit-identical.
        let other = ProbeConfig {
            seed: 99,
            batch_size: 7,
            ..cfg.clone()
        };
        let (q, _) = train_linear_probe(&x, 2, &y, 3, &other, &d).unwrap();
        assert_eq!(p, q);
        let both = train_linear_probes(&x, 2, &[y2.clone(), y.clone()], 3, &cfg, &d).unwrap();
        for (a, b) in both.probes[1].weight.iter().zip(&p.weight) {
            assert!((a - b).abs() < 1e-4, "{a} vs {b}");
        }
    }

    #[test]
    fn sgd_is_the_default_and_old_configs_read_as_sgd() {
        assert_eq!(ProbeConfig::default().optimizer, ProbeOptimizer::SgdCosine);
        let old = r#"{"epochs": 3, "batch_size": 4, "lr": 0.1, "momentum": 0.9,
            "weight_decay": 0.0, "standardize": true, "seed": 1}"#;
        let cfg: ProbeConfig = serde_json::from_str(old).unwrap();
        assert_eq!(cfg.optimizer, ProbeOptimizer::SgdCosine);
        let json = serde_json::to_string(&ProbeConfig::full_batch_adam(0.01, 500, 1e-4)).unwrap();
        assert!(json.contains(r#""optimizer":"full_batch_adam""#), "{json}");
    }

    #[test]
    fn sgd_reruns_are_bit_identical() {
        let (x, y) = blobs(30, 4);
        let cfg = ProbeConfig {
            epochs: 3,
            batch_size: 8,
            seed: 5,
            ..ProbeConfig::default()
        };
        let d = Device::flex();
        let a = train_linear_probe(&x, 2, &y, 3, &cfg, &d).unwrap().0;
        let b = train_linear_probe(&x, 2, &y, 3, &cfg, &d).unwrap().0;
        assert_eq!(a, b);
        let c = train_linear_probe(&x, 2, &y, 3, &ProbeConfig { seed: 6, ..cfg }, &d)
            .unwrap()
            .0;
        assert_ne!(a, c);
    }

    #[test]
    fn adam_weight_decay_shrinks_the_weights() {
        // Separable data: without decay the weights keep growing; L2 decay bounds them.
        let (x, y) = blobs(60, 5);
        let d = Device::flex();
        let norm = |wd: f32| {
            let cfg = ProbeConfig::full_batch_adam(0.05, 200, wd);
            let (p, _) = train_linear_probe(&x, 2, &y, 3, &cfg, &d).unwrap();
            p.weight
                .iter()
                .map(|w| f64::from(*w).powi(2))
                .sum::<f64>()
                .sqrt()
        };
        let (free, decayed) = (norm(0.0), norm(0.1));
        assert!(decayed < 0.8 * free, "{decayed} vs {free}");
    }
}

//! The paper's two toy models (Sec. 4.2 and 4.3 analogues, our operationalisation).
//!
//! - T1, superposition: `n_f` sparse features squeezed into `d` dims by a
//!   Toy-Models-of-Superposition autoencoder (`h = W x`, `x̂ = ReLU(Wᵀh + b)`), whose
//!   polysemantic code is compared with the monosemantic `W = [I_d | 0]` under label and
//!   input noise with a linear probe.
//! - T2, two features: moment separability `J = (μ̃₁ − μ̃₀)² / (σ̃₁² + σ̃₀²)` of
//!   `v_mono = x₁` and `v_poly = x₁ − x₂` for "class 0 vs rest" under symmetric label
//!   noise.
//!
//! Everything random is drawn from [`SplitMix64`] on the host, so toys never touch Burn's
//! global generator.

use burn::module::{Module, Param};
use burn::optim::GradientsParams;
use burn::tensor::activation::relu;
use burn::tensor::{Device, Tensor, TensorData};
use repro_core::data::split::SplitMix64;
use repro_core::train::{ensure_finite, optim};
use serde::{Deserialize, Serialize};

use crate::Error;

/// `n` samples of `n_f` spike-and-uniform features: `x_j = 0` with probability `s`, else
/// `U(0, 1)`. All-zero samples are dropped (and redrawn), so exactly `n` rows come back.
pub fn sparse_features(n: usize, n_f: usize, s: f64, rng: &mut SplitMix64) -> Vec<f32> {
    let mut out = Vec::with_capacity(n * n_f);
    let mut row = vec![0.0f32; n_f];
    while out.len() < n * n_f {
        for v in &mut row {
            *v = if rng.next_f64() < s {
                0.0
            } else {
                rng.next_f64() as f32
            };
        }
        if row.iter().any(|&v| v > 0.0) {
            out.extend_from_slice(&row);
        }
    }
    out
}

/// Index of the largest feature of each row (first on ties).
pub fn argmax_labels(x: &[f32], n_f: usize) -> Vec<u32> {
    x.chunks(n_f)
        .map(|r| {
            r.iter()
                .enumerate()
                .fold(
                    (0, f32::NEG_INFINITY),
                    |b, (k, &v)| if v > b.1 { (k, v) } else { b },
                )
                .0 as u32
        })
        .collect()
}

/// Settings of the superposition toy (T1).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SuperpositionConfig {
    /// Features.
    pub n_features: usize,
    /// Hidden dims.
    pub d_hidden: usize,
    /// Probability that a feature is 0.
    pub sparsity: f64,
    /// Importance decay: feature `i` weighs `decay^i` in the loss.
    pub decay: f64,
    /// Adam steps.
    pub steps: usize,
    /// Batch size.
    pub batch_size: usize,
    /// Adam learning rate (β 0.9/0.999, ε 1e-8, no weight decay).
    pub lr: f64,
}

impl Default for SuperpositionConfig {
    /// 40 features in 20 dims, S = 0.95, importance 0.9^i, Adam lr 1e-3, batch 1024,
    /// 10 000 steps.
    fn default() -> Self {
        Self {
            n_features: 40,
            d_hidden: 20,
            sparsity: 0.95,
            decay: 0.9,
            steps: 10_000,
            batch_size: 1024,
            lr: 1e-3,
        }
    }
}

/// The toy autoencoder `x̂ = ReLU(Wᵀ W x + b)`.
#[derive(Module, Debug)]
pub struct ToyModel {
    /// `W`, `[d_hidden, n_features]`.
    pub w: Param<Tensor<2>>,
    /// `b`, `[n_features]`.
    pub b: Param<Tensor<1>>,
}

impl ToyModel {
    /// # Shapes
    /// - `x`: `[n, n_features]`
    /// - returns `[n, n_features]`
    pub fn forward(&self, x: Tensor<2>) -> Tensor<2> {
        let w = self.w.val();
        let h = x.matmul(w.clone().transpose()); // [n, d_hidden]
        relu(h.matmul(w) + self.b.val().unsqueeze::<2>())
    }
}

/// A trained T1 model: `W` row-major `[d_hidden, n_features]`, the training losses and
/// the number of features represented (`‖W_{:,i}‖ > 0.5`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SuperpositionFit {
    /// `W`, row-major `[d_hidden, n_features]`.
    pub w: Vec<f32>,
    /// Loss per step.
    pub losses: Vec<f64>,
    /// Columns with norm above 0.5.
    pub represented: usize,
}

/// Trains T1 (Xavier-normal `W`, zero `b`, Adam) with all draws from `seed`.
///
/// # Errors
/// If the loss becomes non-finite.
pub fn train_superposition(
    cfg: &SuperpositionConfig,
    seed: u64,
    device: &Device,
) -> Result<SuperpositionFit, Error> {
    let (nf, d) = (cfg.n_features, cfg.d_hidden);
    let mut rng = SplitMix64::new(seed);
    let std = (2.0 / (nf + d) as f64).sqrt();
    let w0: Vec<f32> = (0..d * nf).map(|_| (std * rng.normal()) as f32).collect();
    let ad = device.clone().autodiff();
    let mut model = ToyModel {
        w: Param::from_tensor(Tensor::from_data(TensorData::new(w0, [d, nf]), &ad)),
        b: Param::from_tensor(Tensor::zeros([nf], &ad)),
    };
    let importance: Vec<f32> = (0..nf).map(|i| cfg.decay.powi(i as i32) as f32).collect();
    let importance =
        Tensor::<1>::from_data(TensorData::new(importance, [nf]), &ad).unsqueeze::<2>();
    let mut opt = optim::adam(0.0).init();
    let mut losses = Vec::with_capacity(cfg.steps);
    for step in 0..cfg.steps {
        // Raw spike-and-uniform draws (zeros kept: this is the autoencoder's input law).
        let x: Vec<f32> = (0..cfg.batch_size * nf)
            .map(|_| {
                if rng.next_f64() < cfg.sparsity {
                    0.0
                } else {
                    rng.next_f64() as f32
                }
            })
            .collect();
        let x = Tensor::<2>::from_data(TensorData::new(x, [cfg.batch_size, nf]), &ad);
        let err = (model.forward(x.clone()) - x).powi_scalar(2) * importance.clone();
        let loss = err.sum_dim(1).mean(); // mean over the batch of Σ_i I_i (x_i − x̂_i)²
        losses.push(
            ensure_finite("toy loss", step, loss.clone().into_scalar::<f64>())
                .map_err(|e| Error::Config(e.to_string()))?,
        );
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        model = opt.step(cfg.lr, model, grads);
    }
    let w: Vec<f32> = model
        .w
        .val()
        .into_data()
        .try_to_vec()
        .map_err(|e| Error::Config(format!("{e:?}")))?;
    let represented = (0..nf)
        .filter(|&i| (0..d).map(|r| w[r * nf + i].powi(2)).sum::<f32>().sqrt() > 0.5)
        .count();
    Ok(SuperpositionFit {
        w,
        losses,
        represented,
    })
}

/// The monosemantic code `W = [I_d | 0]`, row-major `[d, n_f]`.
pub fn mono_weights(d: usize, n_f: usize) -> Vec<f32> {
    let mut w = vec![0.0; d * n_f];
    (0..d.min(n_f)).for_each(|i| w[i * n_f + i] = 1.0);
    w
}

/// `h = W x` for row-major `x` (`[n, n_f]`) and `W` (`[d, n_f]`); returns `[n, d]`.
pub fn encode(w: &[f32], d: usize, x: &[f32], n_f: usize) -> Vec<f32> {
    x.chunks(n_f)
        .flat_map(|row| {
            (0..d).map(move |r| {
                w[r * n_f..(r + 1) * n_f]
                    .iter()
                    .zip(row)
                    .map(|(a, b)| a * b)
                    .sum::<f32>()
            })
        })
        .collect()
}

/// Moment separability `J = (μ₁ − μ₀)² / (σ₁² + σ₀²)` of `v` under binary labels
/// (population variances; NaN if a class is empty).
pub fn separability(v: &[f64], labels: &[bool]) -> f64 {
    let mut s = [[0.0f64; 3]; 2]; // per class: count, sum, sum of squares
    for (&x, &l) in v.iter().zip(labels) {
        let c = &mut s[usize::from(l)];
        c[0] += 1.0;
        c[1] += x;
        c[2] += x * x;
    }
    let moments = |c: [f64; 3]| {
        let m = c[1] / c[0];
        (m, c[2] / c[0] - m * m)
    };
    let ((m0, v0), (m1, v1)) = (moments(s[0]), moments(s[1]));
    (m1 - m0).powi(2) / (v1 + v0)
}

/// J of `v_mono = x₁` and `v_poly = x₁ − x₂` for "class 0 vs rest" under symmetric label
/// noise, on `n` samples of `n_f` spike-and-uniform features.
///
/// # Errors
/// [`Error::NoiseRate`] unless `0 ≤ η ≤ 0.5` (binary labels are pure noise at 0.5);
/// [`Error::Config`] for fewer than 2 features.
pub fn two_feature_j(
    n_f: usize,
    s: f64,
    eta: f64,
    n: usize,
    rng: &mut SplitMix64,
) -> Result<(f64, f64), Error> {
    if !(0.0..=0.5).contains(&eta) {
        return Err(Error::NoiseRate {
            what: "two-feature label noise η (binary, at most 0.5)".into(),
            value: eta,
        });
    }
    if n_f < 2 {
        return Err(Error::Config(format!(
            "T2 needs at least 2 features, got {n_f}"
        )));
    }
    let x = sparse_features(n, n_f, s, rng);
    let mut labels: Vec<bool> = argmax_labels(&x, n_f).iter().map(|&y| y == 0).collect();
    // Exactly ⌊ηN⌋ labels flipped, chosen without replacement.
    let mut order: Vec<usize> = (0..n).collect();
    rng.shuffle(&mut order);
    for &i in &order[..(eta * n as f64).floor() as usize] {
        labels[i] = !labels[i];
    }
    let mono: Vec<f64> = x.chunks(n_f).map(|r| f64::from(r[0])).collect();
    let poly: Vec<f64> = x.chunks(n_f).map(|r| f64::from(r[0] - r[1])).collect();
    Ok((separability(&mono, &labels), separability(&poly, &labels)))
}

/// The closed form for balanced binary classes with symmetric flips:
/// `J(η) = (1 − 2η)² / (1/J(0) + 2η(1 − η))`.
pub fn j_identity(j0: f64, eta: f64) -> f64 {
    (1.0 - 2.0 * eta).powi(2) / (1.0 / j0 + 2.0 * eta * (1.0 - eta))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_feature_j_follows_the_identity() {
        // n_f = 2: classes are balanced by symmetry, so the identity holds; 1e6 samples
        // give moment estimates to well under 1 %, the tolerance is the spec's 2 %.
        let n = 1_000_000;
        let (m0, p0) = two_feature_j(2, 0.5, 0.0, n, &mut SplitMix64::new(1)).unwrap();
        for eta in [0.1, 0.3] {
            let (m, p) = two_feature_j(2, 0.5, eta, n, &mut SplitMix64::new(2)).unwrap();
            assert!(
                (m / j_identity(m0, eta) - 1.0).abs() < 0.02,
                "mono η={eta}: {m}"
            );
            assert!(
                (p / j_identity(p0, eta) - 1.0).abs() < 0.02,
                "poly η={eta}: {p}"
            );
        }
        let (m, p) = two_feature_j(2, 0.5, 0.5, n, &mut SplitMix64::new(3)).unwrap();
        assert!(m < 1e-3 && p < 1e-3, "{m} {p}");
        assert!(two_feature_j(2, 0.5, 0.6, 10, &mut SplitMix64::new(3)).is_err());
    }

    #[test]
    fn sparse_features_drop_all_zero_rows() {
        let x = sparse_features(500, 3, 0.9, &mut SplitMix64::new(4));
        assert_eq!(x.len(), 1500);
        assert!(x.chunks(3).all(|r| r.iter().any(|&v| v > 0.0)));
        assert_eq!(
            argmax_labels(&[0.1, 0.5, 0.2, 0.0, 0.0, 0.3], 3),
            vec![1, 2]
        );
    }

    #[test]
    fn toy_model_learns_and_mono_code_is_identity() {
        let cfg = SuperpositionConfig {
            steps: 200,
            batch_size: 256,
            lr: 1e-2,
            ..SuperpositionConfig::default()
        };
        let fit = train_superposition(&cfg, 0, &Device::flex()).unwrap();
        let first = fit.losses[..10].iter().sum::<f64>();
        let last = fit.losses[190..].iter().sum::<f64>();
        assert!(last < first, "{first} -> {last}");
        let w = mono_weights(2, 3);
        assert_eq!(encode(&w, 2, &[0.3, 0.4, 0.5], 3), vec![0.3, 0.4]);
    }
}

//! 8x8 digits for experiments E2 and E3 (spec §5): the data scaled to `[-1, 1]`, the
//! evaluation classifier [`DigitsJudge`] behind FD-lite, judge accuracy and label entropy,
//! and an SVG image grid for sample sheets.
//!
//! The judge reads clean training images: it is an evaluator, like the Inception network
//! behind FID, not a training entry point of any method (those take
//! [`Observations`](crate::corruption::Observations) only).

use burn::nn::loss::CrossEntropyLossConfig;
use burn::nn::{Linear, LinearConfig};
use burn::optim::GradientsParams;
use burn::prelude::*;
use burn::tensor::activation::relu;
use repro_core::data::digits::{self as core_digits, CLASSES};
use repro_core::device::{init_params_now, seed as seed_device};
use repro_core::error::DataError;
use repro_core::train::optim::adam;

use crate::eval::frechet_distance;
use repro_core::host::{matrix, to_vec};

/// Image side.
pub const SIDE: usize = 8;
/// Pixels per image.
pub const PIXELS: usize = SIDE * SIDE;

/// The standard digits split (1 297 train / 500 test, stratified, seed 0), pixels scaled by
/// `x = p / 8 - 1` to `[-1, 1]`, row-major 8x8.
#[derive(Debug, Clone)]
pub struct DigitsData {
    /// Training images `[n_train * 64]`.
    pub train: Vec<f32>,
    /// Training labels.
    pub train_labels: Vec<u8>,
    /// Test images `[n_test * 64]`.
    pub test: Vec<f32>,
    /// Test labels.
    pub test_labels: Vec<u8>,
}

impl DigitsData {
    /// Loads the embedded scikit-learn digits (`repro_core::data::digits`).
    ///
    /// # Errors
    /// A corrupt embedded file (checksum or parse).
    pub fn load() -> Result<Self, DataError> {
        let all = core_digits::load()?;
        let split = core_digits::standard_split(&all);
        let take = |idx: &[usize]| -> (Vec<f32>, Vec<u8>) {
            let mut x = Vec::with_capacity(idx.len() * PIXELS);
            for &i in idx {
                x.extend(all.image(i).iter().map(|p| p / 8.0 - 1.0));
            }
            (x, idx.iter().map(|&i| all.labels[i]).collect())
        };
        let (train, train_labels) = take(&split.train);
        let (test, test_labels) = take(&split.test);
        Ok(Self {
            train,
            train_labels,
            test,
            test_labels,
        })
    }

    /// Number of training images.
    pub fn n_train(&self) -> usize {
        self.train_labels.len()
    }

    /// Number of test images.
    pub fn n_test(&self) -> usize {
        self.test_labels.len()
    }
}

/// Rows `idx` of a row-major `[n, d]` host matrix.
pub fn gather_rows(x: &[f32], d: usize, idx: &[usize]) -> Vec<f32> {
    let mut out = Vec::with_capacity(idx.len() * d);
    for &i in idx {
        out.extend_from_slice(&x[i * d..(i + 1) * d]);
    }
    out
}

pub use crate::config::JudgeConfig;

/// The judge network `64 -> 128 -> 32 -> 10` (ReLU).
#[derive(Module, Debug)]
pub struct JudgeNet {
    l1: Linear,
    l2: Linear,
    out: Linear,
}

impl JudgeNet {
    /// Penultimate ReLU features.
    ///
    /// # Shapes
    /// - x: `[n, 64]` -> `[n, features]`
    pub fn features(&self, x: Tensor<2>) -> Tensor<2> {
        relu(self.l2.forward(relu(self.l1.forward(x))))
    }

    /// Class logits.
    ///
    /// # Shapes
    /// - x: `[n, 64]` -> `[n, 10]`
    pub fn logits(&self, x: Tensor<2>) -> Tensor<2> {
        self.out.forward(self.features(x))
    }
}

/// A fixed digits classifier used only for evaluation: FD-lite on its features, accuracy
/// of posterior means, label entropy of samples.
#[derive(Debug, Clone)]
pub struct DigitsJudge {
    net: JudgeNet,
    device: Device,
    /// Full-batch training loss per epoch.
    pub losses: Vec<f32>,
}

impl DigitsJudge {
    /// Trains the judge on clean images `x` (`[n * 64]`, in `[-1, 1]`) with `labels`.
    /// Seeds Burn's generator with `cfg.seed` (hold `repro_core::device::seed_lock` in tests).
    ///
    /// # Panics
    /// If `x` and `labels` disagree in length or are empty (a programming error).
    pub fn train(cfg: &JudgeConfig, x: &[f32], labels: &[u8], device: &Device) -> Self {
        let n = labels.len();
        assert!(
            n > 0 && x.len() == n * PIXELS,
            "judge: {} values for {n} labels",
            x.len()
        );
        let ad = device.clone().autodiff();
        seed_device(&ad, cfg.seed);
        let mut net = init_params_now(JudgeNet {
            l1: LinearConfig::new(PIXELS, cfg.hidden).init(&ad),
            l2: LinearConfig::new(cfg.hidden, cfg.features).init(&ad),
            out: LinearConfig::new(cfg.features, CLASSES).init(&ad),
        });
        let xs = matrix(x.to_vec(), n, PIXELS, &ad);
        let ys = Tensor::<1, Int>::from_data(
            TensorData::new(labels.iter().map(|&l| i64::from(l)).collect(), [n]),
            &ad,
        );
        let ce = CrossEntropyLossConfig::new().init(&ad);
        let mut opt = adam(cfg.weight_decay).init();
        let mut losses = Vec::with_capacity(cfg.epochs);
        for _ in 0..cfg.epochs {
            let loss = ce.forward(net.logits(xs.clone()), ys.clone());
            losses.push(loss.clone().into_scalar::<f32>());
            let grads = GradientsParams::from_grads(loss.backward(), &net);
            net = opt.step(cfg.lr, net, grads);
        }
        Self {
            net: net.valid(),
            device: device.clone(),
            losses,
        }
    }

    /// Penultimate features of images `x` (`[n * 64]`).
    ///
    /// # Shapes
    /// - returns `[n, features]`, row-major
    pub fn features(&self, x: &[f32]) -> Vec<f32> {
        let n = x.len() / PIXELS;
        to_vec(
            self.net
                .features(matrix(x.to_vec(), n, PIXELS, &self.device)),
        )
    }

    /// Width of [`DigitsJudge::features`].
    pub fn feature_dim(&self) -> usize {
        self.net.l2.weight.dims()[1]
    }

    /// Predicted class of each image (`[n]`, argmax of the logits; ties: lowest class).
    pub fn predict(&self, x: &[f32]) -> Vec<u8> {
        let n = x.len() / PIXELS;
        let logits = to_vec(self.net.logits(matrix(x.to_vec(), n, PIXELS, &self.device)));
        logits
            .chunks(CLASSES)
            .map(|r| {
                let mut best = 0;
                for (k, &v) in r.iter().enumerate() {
                    if v > r[best] {
                        best = k;
                    }
                }
                best as u8
            })
            .collect()
    }

    /// Fraction of images classified as `labels`.
    pub fn accuracy(&self, x: &[f32], labels: &[u8]) -> f64 {
        repro_core::metrics::accuracy(&self.predict(x), labels)
    }

    /// FD-lite: the Fréchet distance between Gaussian fits of the judge features of `a` and
    /// of reference features `ref_features` (host `f64`, symmetric eigendecomposition).
    pub fn fd_lite(&self, a: &[f32], ref_features: &[f32]) -> f64 {
        frechet_distance(&self.features(a), ref_features, self.feature_dim())
    }
}

/// Entropy (nats) of the empirical distribution of predicted labels; at most `ln 10`.
pub fn label_entropy(pred: &[u8]) -> f64 {
    let mut counts = [0usize; CLASSES];
    for &p in pred {
        counts[usize::from(p)] += 1;
    }
    let n = pred.len() as f64;
    counts
        .iter()
        .filter(|&&c| c > 0)
        .map(|&c| {
            let p = c as f64 / n;
            -p * p.ln()
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_is_scaled_to_the_unit_interval() {
        let d = DigitsData::load().expect("embedded digits");
        assert_eq!((d.n_train(), d.n_test()), (1297, 500));
        let (lo, hi) = d
            .train
            .iter()
            .chain(&d.test)
            .fold((f32::INFINITY, f32::NEG_INFINITY), |(a, b), &v| {
                (a.min(v), b.max(v))
            });
        // Pixels 0..=16 map to -1..=1, and both ends occur in the data.
        assert_eq!((lo, hi), (-1.0, 1.0));
    }

    #[test]
    fn label_entropy_extremes() {
        assert_eq!(label_entropy(&[3; 50]), 0.0);
        let uniform: Vec<u8> = (0..1000).map(|i| (i % 10) as u8).collect();
        assert!((label_entropy(&uniform) - 10f64.ln()).abs() < 1e-12);
    }
}

//! The contrastive objectives on two views' codes, and the β warm-up of the KL term.
//!
//! - Spectral contrastive loss (HaoChen et al., NeurIPS 2021), the batch estimator
//!   `L_sp = −2 mean_i ⟨z1_i, z2_i⟩ + mean_{i≠j} ⟨z1_i, z2_j⟩²` (our operationalisation of
//!   the population form `‖Ā − F Fᵀ‖²_F + const`, spec §3).
//! - InfoNCE / NT-Xent over the 2B L2-normalised rows at temperature τ: core's
//!   [`repro_core::loss::nt_xent`] (PKU-ML/non_neg `solo/methods/simclr.py`).
//! - NCL's non-negativity map [`rep_relu`] (forward ReLU, GELU gradient) is core's.
//!
//! CFA applies either objective to *sampled* latents θ (normalised inside the spectral term
//! by default, since the raw quadratic term grows as O(K² |θ|⁴)); the whole loss is
//! `L = objective(θ¹, θ²) + β · mean KL` (see [`crate::model::cfa_loss`]).
//!
//! ```
//! use burn::tensor::{Device, Tensor};
//! use repro_contrastive_fa::losses::{Objective, spectral_contrastive_loss};
//! let eye = Tensor::<2>::eye(2, &Device::flex());
//! let l: f32 = spectral_contrastive_loss(eye.clone(), eye.clone()).into_scalar();
//! assert!((l + 2.0).abs() < 1e-6);
//! let l: f32 = Objective::InfoNce { tau: 0.2 }.loss(eye.clone(), eye).into_scalar();
//! assert!((l - (1.0 + 2.0 * (-5.0f32).exp()).ln()).abs() < 1e-5);
//! ```

use burn::tensor::Tensor;
use repro_core::loss::{l2_normalize_rows, nt_xent};
use serde::{Deserialize, Serialize};

pub use repro_core::features::{NonNeg, non_neg, rep_relu};

use crate::Error;

/// The contrastive objective.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub enum Objective {
    /// [`spectral_contrastive_loss`], on L2-normalised rows when `normalize`.
    Spectral {
        /// Normalise the rows first (the default of the spec).
        normalize: bool,
    },
    /// [`info_nce`] at temperature `tau`.
    InfoNce {
        /// Temperature (> 0).
        tau: f32,
    },
}

impl Objective {
    /// The loss of two views.
    ///
    /// # Shapes
    /// - `z1`, `z2`: `[B, K]`, row `i` of each a view of item `i`
    /// - returns `[1]`
    pub fn loss(&self, z1: Tensor<2>, z2: Tensor<2>) -> Tensor<1> {
        match *self {
            Self::Spectral { normalize: true } => spectral_contrastive_loss(
                l2_normalize_rows(z1, 1e-12),
                l2_normalize_rows(z2, 1e-12),
            ),
            Self::Spectral { normalize: false } => spectral_contrastive_loss(z1, z2),
            Self::InfoNce { tau } => info_nce(z1, z2, tau),
        }
    }

    /// Checks the temperature.
    ///
    /// # Errors
    /// [`Error::NonPositive`] for a non-positive or non-finite τ.
    pub fn validate(&self) -> Result<(), Error> {
        if let Self::InfoNce { tau } = *self {
            crate::latent::positive("InfoNCE temperature τ", f64::from(tau))?;
        }
        Ok(())
    }

    /// `"InfoNCE"` or `"Spectral"`.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Spectral { .. } => "Spectral",
            Self::InfoNce { .. } => "InfoNCE",
        }
    }
}

/// The spectral contrastive loss' batch estimator,
/// `−2 mean_i ⟨z1_i, z2_i⟩ + mean_{i≠j} ⟨z1_i, z2_j⟩²` (the second term is 0 for B = 1).
///
/// # Shapes
/// - `z1`, `z2`: `[B, K]`
/// - returns `[1]`
///
/// # Panics
/// If the shapes differ (a programming error).
pub fn spectral_contrastive_loss(z1: Tensor<2>, z2: Tensor<2>) -> Tensor<1> {
    assert_eq!(
        z1.dims(),
        z2.dims(),
        "spectral loss: the views differ in shape"
    );
    let [b, _] = z1.dims();
    let pos = (z1.clone() * z2.clone()).sum_dim(1); // [B, 1]: ⟨z1_i, z2_i⟩
    let sim = z1.matmul(z2.transpose()); // [B, B]
    let off = if b > 1 {
        (sim.powi_scalar(2).sum() - pos.clone().powi_scalar(2).sum()) / (b * (b - 1)) as f64
    } else {
        pos.clone().sum() * 0.0
    };
    pos.mean() * -2.0 + off
}

/// InfoNCE (NT-Xent) over the two views at temperature `tau` (rows L2-normalised; the
/// partner view is the positive, every other row of both views a negative).
///
/// # Shapes
/// - `z1`, `z2`: `[B, K]`
/// - returns `[1]`
pub fn info_nce(z1: Tensor<2>, z2: Tensor<2>, tau: f32) -> Tensor<1> {
    nt_xent(z1, z2, f64::from(tau))
}

/// The KL weight at `step` of `total`: linear from 0 to `beta_max` over the first
/// `warmup_frac · total` steps, then constant (`beta_max` throughout when the warm-up is
/// empty).
pub fn beta_at(step: usize, total: usize, beta_max: f32, warmup_frac: f32) -> f32 {
    let warm = (f64::from(warmup_frac) * total as f64).round();
    if warm < 1.0 {
        return beta_max;
    }
    (beta_max as f64 * (step as f64 / warm).min(1.0)) as f32
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::{Device, TensorData};

    fn t(v: &[f32], shape: [usize; 2], d: &Device) -> Tensor<2> {
        Tensor::from_data(TensorData::new(v.to_vec(), shape), d)
    }
    fn s(x: Tensor<1>) -> f64 {
        x.into_scalar::<f64>()
    }

    #[test]
    fn info_nce_on_hand_inputs() {
        // B = 2, K = 3, z1 = z2 = [e1, e2], τ = 0.2: for every anchor the positive has
        // similarity 1 and the two negatives 0: ℓ = ln(1 + 2 e^{−5}) = 0.0133859.
        let d = Device::flex();
        let z = t(&[1.0, 0.0, 0.0, 0.0, 1.0, 0.0], [2, 3], &d);
        let l = s(info_nce(z.clone(), z, 0.2));
        assert!((l - 0.013_385_9).abs() < 1e-6, "{l}");
    }

    #[test]
    fn spectral_on_hand_inputs() {
        let d = Device::flex();
        let eye = t(&[1.0, 0.0, 0.0, 1.0], [2, 2], &d);
        let swap = t(&[0.0, 1.0, 1.0, 0.0], [2, 2], &d);
        // z1 = z2 = I: −2·1 + 0 = −2.
        assert!((s(spectral_contrastive_loss(eye.clone(), eye.clone())) + 2.0).abs() < 1e-6);
        // z1 = I, z2 = swap: positives 0, both off-diagonal products 1: 0 + 1 = 1.
        assert!((s(spectral_contrastive_loss(eye.clone(), swap.clone())) - 1.0).abs() < 1e-6);
        // Normalisation leaves unit rows unchanged; scaling is undone by it.
        let obj = Objective::Spectral { normalize: true };
        assert!((s(obj.loss(eye.clone() * 3.0, swap * 0.5)) - 1.0).abs() < 1e-6);
        // Un-normalised: z1 = z2 = 2I: −2·4 + 0 = −8.
        let raw = Objective::Spectral { normalize: false };
        assert!((s(raw.loss(eye.clone() * 2.0, eye * 2.0)) + 8.0).abs() < 1e-5);
    }

    #[test]
    fn spectral_by_brute_force() {
        // A 3×2 example summed out by hand in f64.
        let d = Device::flex();
        let a = [0.3f32, -1.0, 2.0, 0.5, -0.7, 1.1];
        let b = [1.2f32, 0.4, -0.3, 0.8, 0.9, -1.5];
        let dot = |i: usize, j: usize| -> f64 {
            (0..2)
                .map(|k| f64::from(a[i * 2 + k]) * f64::from(b[j * 2 + k]))
                .sum()
        };
        let pos = (0..3).map(|i| dot(i, i)).sum::<f64>() / 3.0;
        let mut off = 0.0;
        for i in 0..3 {
            for j in 0..3 {
                if i != j {
                    off += dot(i, j).powi(2);
                }
            }
        }
        let want = -2.0 * pos + off / 6.0;
        let got = s(spectral_contrastive_loss(
            t(&a, [3, 2], &d),
            t(&b, [3, 2], &d),
        ));
        assert!((got - want).abs() < 1e-5, "{got} vs {want}");
    }

    #[test]
    fn rep_relu_forward_and_gelu_gradient() {
        // gelu'(z) = Φ(z) + z φ(z): at −1: 0.1586553 − 0.2419707 = −0.0833155; at 1:
        // 0.8413447 + 0.2419707 = 1.0833155.
        let ad = Device::flex().autodiff();
        let z = t(&[-1.0, 1.0], [1, 2], &ad).require_grad();
        let y = rep_relu(z.clone());
        let fwd: Vec<f32> = y.clone().into_data().try_to_vec().unwrap();
        assert_eq!(fwd, vec![0.0, 1.0]);
        let g: Vec<f32> = z
            .grad(&y.sum().backward())
            .unwrap()
            .into_data()
            .try_to_vec()
            .unwrap();
        assert!((g[0] + 0.083_315_5).abs() < 1e-5, "{g:?}");
        assert!((g[1] - 1.083_315_5).abs() < 1e-5, "{g:?}");
    }

    #[test]
    fn beta_warms_up_linearly() {
        assert_eq!(beta_at(0, 100, 0.01, 0.2), 0.0);
        assert!((beta_at(10, 100, 0.01, 0.2) - 0.005).abs() < 1e-9);
        assert_eq!(beta_at(20, 100, 0.01, 0.2), 0.01);
        assert_eq!(beta_at(99, 100, 0.01, 0.2), 0.01);
        assert_eq!(beta_at(0, 100, 0.01, 0.0), 0.01);
        assert!(Objective::InfoNce { tau: 0.0 }.validate().is_err());
    }
}

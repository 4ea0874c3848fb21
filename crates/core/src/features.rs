//! Non-negative codes and feature statistics: the non-negative maps of non-negative
//! contrastive learning (NCL; [`NonNeg`], [`rep_relu`]) and host-side statistics of a
//! feature matrix (semantic consistency, sparsity, active dimensions, effective rank,
//! orthogonality).
//!
//! The statistics take row-major features `feats` (`n` rows of `d` values) and labels `y`,
//! and work in f64. As upstream (`log_stats` in PKU-ML/Beyond_Interpretability's
//! `solo/methods/simclr.py`, PKU-ML/non_neg's `main_eval.py`), every row is first
//! L2-normalised; an all-zero row stays zero.
//!
//! ```
//! use burn::tensor::{Device, Tensor, TensorData};
//! use repro_core::features::{NonNeg, non_neg, semantic_consistency, sparsity};
//! // Tensor side: a non-negative map on projector outputs.
//! let z = Tensor::<2>::from_data(TensorData::new(vec![-1.0f32, 2.0], [1, 2]), &Device::flex());
//! let u: Vec<f32> = non_neg(z, NonNeg::RepRelu).into_data().try_to_vec().unwrap();
//! assert_eq!(u, vec![0.0, 2.0]);
//! // Host side: each of 2 dims fires for one class only.
//! let feats = [1.0, 0.0, 0.0, 1.0, 2.0, 0.0];
//! let c = semantic_consistency(&feats, 3, 2, &[0, 1, 0], 1e-5);
//! assert_eq!((c.mean, c.n_dims), (1.0, 2));
//! assert!((sparsity(&feats, 3, 2, 1e-5) - 0.5).abs() < 1e-12);
//! ```

use burn::tensor::Tensor;
use burn::tensor::activation::{gelu, relu};
use serde::{Deserialize, Serialize};

use crate::linalg::{Jacobi, JacobiStop, sym_eigenvalues};

/// The non-negative map `σ₊` applied to a projector output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum NonNeg {
    /// None: plain SimCLR (CL).
    None,
    /// `relu(z)`: the Beyond-Interpretability default.
    Relu,
    /// [`rep_relu`]: forward ReLU, GELU gradient (the non_neg CIFAR default).
    RepRelu,
}

/// Reparameterised ReLU: `gelu(z) − stopgrad(gelu(z)) + stopgrad(relu(z))`.
///
/// The forward value is exactly `relu(z)` (`a − a = 0` in floating point); the gradient is
/// GELU's, so no unit dies (PKU-ML/non_neg).
///
/// # Shapes
/// - `z`: `[n, d]`
/// - returns `[n, d]`
pub fn rep_relu(z: Tensor<2>) -> Tensor<2> {
    let g = gelu(z.clone());
    g.clone() - g.detach() + relu(z).detach()
}

/// `σ₊(z)` for the chosen map (identity for [`NonNeg::None`]).
///
/// # Shapes
/// - `z`: `[n, d]`
/// - returns `[n, d]`
pub fn non_neg(z: Tensor<2>, kind: NonNeg) -> Tensor<2> {
    match kind {
        NonNeg::None => z,
        NonNeg::Relu => relu(z),
        NonNeg::RepRelu => rep_relu(z),
    }
}

/// Rows divided by their L2 norm (zero rows stay zero), as f64.
///
/// # Panics
/// If `feats.len() != n * d` (a caller's shape bug, not user input).
pub fn row_normalize(feats: &[f32], n: usize, d: usize) -> Vec<f64> {
    assert_eq!(
        feats.len(),
        n * d,
        "features: {} values for [{n}, {d}]",
        feats.len()
    );
    let mut out: Vec<f64> = feats.iter().map(|&v| f64::from(v)).collect();
    for row in out.chunks_mut(d.max(1)) {
        let norm = row.iter().map(|v| v * v).sum::<f64>().sqrt();
        if norm > 0.0 {
            row.iter_mut().for_each(|v| *v /= norm);
        }
    }
    out
}

/// A consistency score: per-dimension class purity averaged over the dimensions that
/// have any selected sample.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Consistency {
    /// Mean purity over the counted dimensions (NaN if none).
    pub mean: f64,
    /// Purity of each dimension, `None` where it selected no sample (excluded).
    pub per_dim: Vec<Option<f64>>,
    /// Dimensions counted in the mean.
    pub n_dims: usize,
    /// Dimensions excluded (no selected sample).
    pub n_excluded: usize,
}

fn purity(members: impl Iterator<Item = usize>, y: &[u32], n_classes: usize) -> Option<f64> {
    let mut counts = vec![0usize; n_classes];
    let mut total = 0usize;
    for i in members {
        counts[y[i] as usize] += 1;
        total += 1;
    }
    (total > 0).then(|| *counts.iter().max().unwrap_or(&0) as f64 / total as f64)
}

fn summarise(per_dim: Vec<Option<f64>>) -> Consistency {
    let vals: Vec<f64> = per_dim.iter().flatten().copied().collect();
    let mean = if vals.is_empty() {
        f64::NAN
    } else {
        vals.iter().sum::<f64>() / vals.len() as f64
    };
    Consistency {
        mean,
        n_dims: vals.len(),
        n_excluded: per_dim.len() - vals.len(),
        per_dim,
    }
}

fn check_labels(y: &[u32], n: usize) {
    assert_eq!(y.len(), n, "labels: {} for {n} feature rows", y.len());
}

fn classes(y: &[u32]) -> usize {
    y.iter().copied().max().map_or(0, |m| m as usize + 1)
}

/// ε-active semantic consistency (as upstream): `A_d = {i : |f_{i,d}| > ε}`,
/// `cons_d = max_c |{i ∈ A_d : y_i = c}| / |A_d|`, mean over dims with `|A_d| > 0`.
///
/// For dense codes every dim is active and this is about the majority-class share;
/// report [`topk_consistency`] next to it.
///
/// # Panics
/// If `feats.len() != n * d` or `y.len() != n`.
pub fn semantic_consistency(feats: &[f32], n: usize, d: usize, y: &[u32], eps: f32) -> Consistency {
    let f = row_normalize(feats, n, d);
    check_labels(y, n);
    let c = classes(y);
    let eps = f64::from(eps);
    let per_dim = (0..d)
        .map(|j| purity((0..n).filter(|&i| f[i * d + j].abs() > eps), y, c))
        .collect();
    summarise(per_dim)
}

/// Top-k consistency: per dim, the `k` samples with the largest signed value; for
/// non-negative codes only samples with a positive value, so a dim may use fewer.
/// Purity = max class share; mean over dims that selected any sample.
///
/// # Panics
/// If `feats.len() != n * d` or `y.len() != n`.
pub fn topk_consistency(feats: &[f32], n: usize, d: usize, y: &[u32], k: usize) -> Consistency {
    let f = row_normalize(feats, n, d);
    check_labels(y, n);
    let c = classes(y);
    let non_negative = f.iter().all(|&v| v >= 0.0);
    let per_dim = (0..d)
        .map(|j| {
            let mut cand: Vec<usize> = (0..n)
                .filter(|&i| !non_negative || f[i * d + j] > 0.0)
                .collect();
            cand.sort_by(|&a, &b| f[b * d + j].total_cmp(&f[a * d + j]));
            cand.truncate(k);
            purity(cand.into_iter(), y, c)
        })
        .collect();
    summarise(per_dim)
}

/// `1 − mean_{i,d} 1[|f_{i,d}| > thr]` on row-normalised features.
///
/// # Panics
/// If `feats.len() != n * d`.
pub fn sparsity(feats: &[f32], n: usize, d: usize, thr: f32) -> f64 {
    let f = row_normalize(feats, n, d);
    let active = f.iter().filter(|v| v.abs() > f64::from(thr)).count();
    1.0 - active as f64 / f.len().max(1) as f64
}

/// Dimensions with at least one `|f_{i,d}| > ε` (row-normalised).
///
/// # Panics
/// If `feats.len() != n * d`.
pub fn active_dims(feats: &[f32], n: usize, d: usize, eps: f32) -> usize {
    let f = row_normalize(feats, n, d);
    (0..d)
        .filter(|&j| (0..n).any(|i| f[i * d + j].abs() > f64::from(eps)))
        .count()
}

/// The entropy of the normalised singular values and its exponential.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct EffRank {
    /// `−Σ p_j ln p_j` with `p_j = s_j / Σ s`.
    pub entropy: f64,
    /// `exp(entropy)`, the effective rank.
    pub exp_entropy: f64,
}

/// The Jacobi settings of [`effective_rank`]: at most 100 sweeps, stopping once the
/// off-diagonal Frobenius norm is at most 1e-13 of the Gram matrix's.
pub const EFFECTIVE_RANK_JACOBI: Jacobi = Jacobi {
    max_sweeps: 100,
    stop: JacobiStop::RelativeOffNorm(1e-13),
};

/// Effective rank of the row-normalised feature matrix `F`: singular values from the
/// eigenvalues of `FᵀF` ([`sym_eigenvalues`] with [`EFFECTIVE_RANK_JACOBI`], f64).
///
/// # Panics
/// If `feats.len() != n * d`.
pub fn effective_rank(feats: &[f32], n: usize, d: usize) -> EffRank {
    let f = row_normalize(feats, n, d);
    let s: Vec<f64> = sym_eigenvalues(&gram(&f, n, d), d, EFFECTIVE_RANK_JACOBI)
        .into_iter()
        .map(|l| l.max(0.0).sqrt())
        .collect();
    let total: f64 = s.iter().sum();
    let entropy = if total > 0.0 {
        -s.iter()
            .map(|&v| v / total)
            .filter(|&p| p > 0.0)
            .map(|p| p * p.ln())
            .sum::<f64>()
    } else {
        0.0
    };
    EffRank {
        entropy,
        exp_entropy: entropy.exp(),
    }
}

/// Mean `|cos(f_{:,d}, f_{:,d'}) − I_{d,d'}|` over pairs of active dims (columns
/// L2-normalised; an operationalisation of upstream's orthogonality statistic). 0 for
/// orthogonal columns, NaN when no dim is active.
///
/// # Panics
/// If `feats.len() != n * d`.
pub fn orthogonality(feats: &[f32], n: usize, d: usize, eps: f32) -> f64 {
    let f = row_normalize(feats, n, d);
    let act: Vec<usize> = (0..d)
        .filter(|&j| (0..n).any(|i| f[i * d + j].abs() > f64::from(eps)))
        .collect();
    let m = act.len();
    if m == 0 {
        return f64::NAN;
    }
    let mut cols: Vec<Vec<f64>> = act
        .iter()
        .map(|&j| (0..n).map(|i| f[i * d + j]).collect())
        .collect();
    for c in &mut cols {
        let norm = c.iter().map(|v| v * v).sum::<f64>().sqrt();
        c.iter_mut().for_each(|v| *v /= norm);
    }
    let mut total = 0.0;
    for a in 0..m {
        for b in 0..m {
            let dot: f64 = cols[a].iter().zip(&cols[b]).map(|(p, q)| p * q).sum();
            total += (dot - if a == b { 1.0 } else { 0.0 }).abs();
        }
    }
    total / (m * m) as f64
}

/// `FᵀF` of row-major `f` (`[n, d]`), skipping zero entries (sparse codes).
fn gram(f: &[f64], n: usize, d: usize) -> Vec<f64> {
    let mut g = vec![0.0; d * d];
    for i in 0..n {
        let row = &f[i * d..(i + 1) * d];
        for (a, &ra) in row.iter().enumerate() {
            if ra == 0.0 {
                continue;
            }
            for (b, &rb) in row.iter().enumerate().skip(a) {
                g[a * d + b] += ra * rb;
            }
        }
    }
    for a in 0..d {
        for b in 0..a {
            g[a * d + b] = g[b * d + a];
        }
    }
    g
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::split::SplitMix64;
    use burn::tensor::{Device, TensorData};

    fn t(v: &[f32], shape: [usize; 2], device: &Device) -> Tensor<2> {
        Tensor::from_data(TensorData::new(v.to_vec(), shape), device)
    }

    fn vec(x: Tensor<2>) -> Vec<f32> {
        x.into_data().try_to_vec().unwrap()
    }

    #[test]
    fn rep_relu_forward_is_relu_and_gradient_is_gelus() {
        let d = Device::flex();
        let z = [-1.0f32, 0.5, 0.0, -3.0, 2.0, 1e-3];
        let a = vec(rep_relu(t(&z, [2, 3], &d)));
        let b = vec(relu(t(&z, [2, 3], &d)));
        assert_eq!(
            a.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
            b.iter().map(|v| v.to_bits()).collect::<Vec<_>>()
        );
        let ad = Device::flex().autodiff();
        let x = t(&[-1.0, 0.5], [1, 2], &ad).require_grad();
        let grads = rep_relu(x.clone()).sum().backward();
        let g = vec(x.grad(&grads).unwrap());
        // gelu'(z) = Φ(z) + z φ(z): Φ(−1) − φ(−1) = 0.158655 − 0.241971 = −0.0833155;
        // Φ(0.5) + 0.5 φ(0.5) = 0.691462 + 0.5 · 0.352065 = 0.8674951.
        assert!((g[0] + 0.0833155).abs() < 1e-5, "{g:?}");
        assert!((g[1] - 0.8674951).abs() < 1e-5, "{g:?}");
    }

    #[test]
    fn rep_relu_gradient_matches_gelu_finite_differences() {
        // The backward pass of rep_relu is gelu's: compare with central differences of
        // gelu itself (f64 on the host via f32 tensors, h = 1e-2 keeps f32 error small).
        let ad = Device::flex().autodiff();
        let d = Device::flex();
        let z = [-2.0f32, -0.3, 0.4, 1.7];
        let x = t(&z, [1, 4], &ad).require_grad();
        let grads = rep_relu(x.clone()).sum().backward();
        let g = vec(x.grad(&grads).unwrap());
        let h = 1e-2f32;
        for (k, &zk) in z.iter().enumerate() {
            let up = vec(gelu(t(&[zk + h], [1, 1], &d)))[0];
            let dn = vec(gelu(t(&[zk - h], [1, 1], &d)))[0];
            let fd = (up - dn) / (2.0 * h);
            assert!((g[k] - fd).abs() < 1e-3, "z = {zk}: {} vs {fd}", g[k]);
        }
    }

    #[test]
    fn non_neg_maps() {
        let d = Device::flex();
        let z = [-1.0f32, 2.0, 0.0, -0.5];
        assert_eq!(vec(non_neg(t(&z, [2, 2], &d), NonNeg::None)), z.to_vec());
        assert_eq!(
            vec(non_neg(t(&z, [2, 2], &d), NonNeg::Relu)),
            vec![0.0, 2.0, 0.0, 0.0]
        );
        assert_eq!(
            vec(non_neg(t(&z, [2, 2], &d), NonNeg::RepRelu)),
            vec![0.0, 2.0, 0.0, 0.0]
        );
    }

    fn one_hot_code(y: &[u32], d: usize, rng: &mut SplitMix64) -> Vec<f32> {
        let mut f = vec![0.0; y.len() * d];
        for (i, &c) in y.iter().enumerate() {
            f[i * d + c as usize] = 0.5 + rng.next_f64() as f32;
        }
        f
    }

    #[test]
    fn row_normalize_by_hand() {
        let f = row_normalize(&[3.0, 4.0, 0.0, 0.0], 2, 2);
        assert_eq!(f, vec![0.6, 0.8, 0.0, 0.0]);
    }

    #[test]
    fn consistency_extremes() {
        let y: Vec<u32> = (0..40).map(|i| [0, 0, 1, 2][i % 4]).collect();
        let mut r = SplitMix64::new(1);
        // Code active only in dim y_i (4 dims, dim 3 never active): perfect purity.
        let f = one_hot_code(&y, 4, &mut r);
        let c = semantic_consistency(&f, 40, 4, &y, 1e-5);
        assert_eq!((c.mean, c.n_dims, c.n_excluded), (1.0, 3, 1));
        assert_eq!(c.per_dim[3], None);
        assert_eq!(topk_consistency(&f, 40, 4, &y, 50).mean, 1.0);
        // Dense all-positive code: every dim sees everyone -> the majority share 20/40.
        let dense: Vec<f32> = (0..160).map(|_| 0.1 + r.next_f64() as f32).collect();
        let c = semantic_consistency(&dense, 40, 4, &y, 1e-5);
        assert!((c.mean - 0.5).abs() < 1e-12 && c.n_dims == 4);
    }

    #[test]
    fn consistency_mixed_by_hand() {
        // Dim 0 fires for items 0, 1, 2 (classes 0, 0, 1): 2/3; dim 1 for item 3 only: 1.
        let f = [1.0, 0.0, 1.0, 0.0, 1.0, 0.0, 0.0, 1.0];
        let y = [0, 0, 1, 1];
        let c = semantic_consistency(&f, 4, 2, &y, 1e-5);
        assert_eq!(c.per_dim, vec![Some(2.0 / 3.0), Some(1.0)]);
        assert!((c.mean - 5.0 / 6.0).abs() < 1e-12);
        // Top-1 per dim: a single item, so purity 1 in both dims.
        assert_eq!(topk_consistency(&f, 4, 2, &y, 1).mean, 1.0);
    }

    #[test]
    #[should_panic(expected = "labels: 2 for 4 feature rows")]
    fn consistency_checks_label_count() {
        semantic_consistency(&[1.0; 8], 4, 2, &[0, 1], 1e-5);
    }

    #[test]
    fn topk_of_random_code_is_low() {
        let (n, d) = (1000, 20);
        let mut r = SplitMix64::new(2);
        let f: Vec<f32> = (0..n * d).map(|_| r.normal() as f32).collect();
        let mut y: Vec<u32> = (0..n as u32).map(|i| i % 10).collect();
        r.shuffle(&mut y);
        let c = topk_consistency(&f, n, d, &y, 50);
        // 50 random draws over 10 balanced classes: max share ≈ 0.2.
        assert!(c.mean < 0.3, "{}", c.mean);
        assert_eq!(c.n_dims, 20);
    }

    #[test]
    fn effective_rank_by_hand() {
        // r orthonormal rows: r singular values 1 -> entropy ln r.
        let (r, d) = (5, 8);
        let mut f = vec![0.0f32; r * d];
        (0..r).for_each(|i| f[i * d + i] = 2.0);
        let e = effective_rank(&f, r, d);
        assert!((e.entropy - (r as f64).ln()).abs() < 1e-6 && (e.exp_entropy - 5.0).abs() < 1e-5);
        // Rank 1: identical rows.
        let f: Vec<f32> = (0..4).flat_map(|_| [1.0, 2.0, 3.0]).collect();
        assert!(effective_rank(&f, 4, 3).entropy.abs() < 1e-6);
        // Rows e0, e0, e0, e1: FᵀF = diag(3, 1), s = (√3, 1), p = s / (√3 + 1).
        let f = [1.0, 0.0, 1.0, 0.0, 1.0, 0.0, 0.0, 1.0];
        let (a, b) = (3f64.sqrt(), 1.0);
        let (pa, pb) = (a / (a + b), b / (a + b));
        let want = -(pa * pa.ln() + pb * pb.ln());
        assert!((effective_rank(&f, 4, 2).entropy - want).abs() < 1e-12);
        // All-zero features: no spectrum, entropy 0 (effective rank 1).
        assert_eq!(effective_rank(&[0.0; 6], 3, 2).entropy, 0.0);
    }

    #[test]
    fn sparsity_orthogonality_active_dims() {
        // Rows e0, e1, e0 (3 × 3): 3 of 9 entries active; dims 0 and 1 orthogonal.
        let f = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 1.0, 0.0, 0.0];
        assert!((sparsity(&f, 3, 3, 1e-5) - 6.0 / 9.0).abs() < 1e-12);
        assert_eq!(active_dims(&f, 3, 3, 1e-5), 2);
        assert!(orthogonality(&f, 3, 3, 1e-5) < 1e-12);
        // Two identical columns: off-diagonal cosines 1, mean over 4 pairs = 0.5.
        let g = [1.0, 1.0, 2.0, 2.0];
        assert!((orthogonality(&g, 2, 2, 1e-5) - 0.5).abs() < 1e-12);
        assert!(orthogonality(&[0.0; 4], 2, 2, 1e-5).is_nan());
        // The threshold acts on row-normalised values: (0.6, 0.8) at thr 0.7 -> 1 of 2.
        assert!((sparsity(&[3.0, 4.0], 1, 2, 0.7) - 0.5).abs() < 1e-12);
    }
}

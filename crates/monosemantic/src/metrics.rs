//! Monosemanticity (semantic consistency) and feature statistics, computed on the host
//! in f64 from row-major features `feats` (`n` rows of `d` values) and labels `y`.
//!
//! As upstream (`log_stats` in Beyond's `solo/methods/simclr.py`, non_neg's
//! `main_eval.py`), every row is first L2-normalised. An all-zero row stays zero.

use serde::{Deserialize, Serialize};

/// Rows divided by their L2 norm (zero rows stay zero), as f64.
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

/// ε-active semantic consistency (as upstream): `A_d = {i : |f_{i,d}| > ε}`,
/// `cons_d = max_c |{i ∈ A_d : y_i = c}| / |A_d|`, mean over dims with `|A_d| > 0`.
///
/// For dense codes every dim is active and this is about the majority-class share (P7);
/// report [`topk_consistency`] next to it.
pub fn semantic_consistency(feats: &[f32], n: usize, d: usize, y: &[u32], eps: f32) -> Consistency {
    let f = row_normalize(feats, n, d);
    let c = classes(y);
    let eps = f64::from(eps);
    let per_dim = (0..d)
        .map(|j| purity((0..n).filter(|&i| f[i * d + j].abs() > eps), y, c))
        .collect();
    summarise(per_dim)
}

/// Top-k consistency (our operationalisation, P7): per dim, the `k` samples with the
/// largest signed value; for non-negative codes only samples with a positive value, so a
/// dim may use fewer. Purity = max class share; mean over dims that selected any sample.
pub fn topk_consistency(feats: &[f32], n: usize, d: usize, y: &[u32], k: usize) -> Consistency {
    let f = row_normalize(feats, n, d);
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

fn classes(y: &[u32]) -> usize {
    y.iter().copied().max().map_or(0, |m| m as usize + 1)
}

/// `1 − mean_{i,d} 1[|f_{i,d}| > thr]` on row-normalised features.
pub fn sparsity(feats: &[f32], n: usize, d: usize, thr: f32) -> f64 {
    let f = row_normalize(feats, n, d);
    let active = f.iter().filter(|v| v.abs() > f64::from(thr)).count();
    1.0 - active as f64 / f.len().max(1) as f64
}

/// Dimensions with at least one `|f_{i,d}| > ε` (row-normalised).
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

/// Effective rank of the row-normalised feature matrix `F`: singular values from the
/// eigenvalues of `FᵀF` (symmetric Jacobi, f64).
pub fn effective_rank(feats: &[f32], n: usize, d: usize) -> EffRank {
    let f = row_normalize(feats, n, d);
    let s: Vec<f64> = symmetric_eigenvalues(gram(&f, n, d), d)
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
/// L2-normalised; our operationalisation of upstream's orthogonality statistic). 0 for
/// orthogonal columns.
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

/// Eigenvalues of a symmetric `d × d` matrix (row-major) by cyclic Jacobi rotations.
pub fn symmetric_eigenvalues(mut a: Vec<f64>, d: usize) -> Vec<f64> {
    let scale: f64 = a
        .iter()
        .map(|v| v * v)
        .sum::<f64>()
        .sqrt()
        .max(f64::MIN_POSITIVE);
    for _sweep in 0..100 {
        let off: f64 = (0..d)
            .flat_map(|p| (0..d).filter(move |&q| q != p).map(move |q| (p, q)))
            .map(|(p, q)| a[p * d + q].powi(2))
            .sum::<f64>()
            .sqrt();
        if off <= 1e-13 * scale {
            break;
        }
        for p in 0..d {
            for q in p + 1..d {
                let apq = a[p * d + q];
                if apq.abs() <= 1e-300 {
                    continue;
                }
                let theta = (a[q * d + q] - a[p * d + p]) / (2.0 * apq);
                let t = theta.signum() / (theta.abs() + (theta * theta + 1.0).sqrt());
                let t = if theta == 0.0 { 1.0 } else { t };
                let c = 1.0 / (t * t + 1.0).sqrt();
                let s = t * c;
                for k in 0..d {
                    let (akp, akq) = (a[k * d + p], a[k * d + q]);
                    a[k * d + p] = c * akp - s * akq;
                    a[k * d + q] = s * akp + c * akq;
                }
                for k in 0..d {
                    let (apk, aqk) = (a[p * d + k], a[q * d + k]);
                    a[p * d + k] = c * apk - s * aqk;
                    a[q * d + k] = s * apk + c * aqk;
                }
            }
        }
    }
    (0..d).map(|i| a[i * d + i]).collect()
}

/// Every statistic for one feature matrix, as reported per method.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FeatureStats {
    /// ε-active consistency, ε = 1e-5.
    pub consistency_eps: f64,
    /// Dims counted by the ε-active consistency.
    pub consistency_eps_dims: usize,
    /// Top-50 consistency.
    pub consistency_top50: f64,
    /// Dims counted by the top-50 consistency.
    pub consistency_top50_dims: usize,
    /// Sparsity at threshold 1e-5.
    pub sparsity_1e5: f64,
    /// Sparsity at threshold 1e-2.
    pub sparsity_1e2: f64,
    /// Entropy of the normalised singular values.
    pub erank_entropy: f64,
    /// Its exponential.
    pub erank: f64,
    /// Mean absolute off-diagonal column cosine of active dims.
    pub orthogonality: f64,
    /// Active dims (ε = 1e-5).
    pub active_dims: usize,
}

/// All statistics of the spec at its thresholds (ε = 1e-5, top-k 50, thr 1e-5 and 1e-2).
pub fn feature_stats(feats: &[f32], n: usize, d: usize, y: &[u32]) -> FeatureStats {
    let eps = semantic_consistency(feats, n, d, y, 1e-5);
    let top = topk_consistency(feats, n, d, y, 50);
    let er = effective_rank(feats, n, d);
    FeatureStats {
        consistency_eps: eps.mean,
        consistency_eps_dims: eps.n_dims,
        consistency_top50: top.mean,
        consistency_top50_dims: top.n_dims,
        sparsity_1e5: sparsity(feats, n, d, 1e-5),
        sparsity_1e2: sparsity(feats, n, d, 1e-2),
        erank_entropy: er.entropy,
        erank: er.exp_entropy,
        orthogonality: orthogonality(feats, n, d, 1e-5),
        active_dims: active_dims(feats, n, d, 1e-5),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use repro_core::data::split::SplitMix64;

    fn one_hot_code(y: &[u32], d: usize, rng: &mut SplitMix64) -> Vec<f32> {
        let mut f = vec![0.0; y.len() * d];
        for (i, &c) in y.iter().enumerate() {
            f[i * d + c as usize] = 0.5 + rng.next_f64() as f32;
        }
        f
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
    }

    #[test]
    fn jacobi_eigenvalues_by_hand() {
        // [[2, 1], [1, 2]] has eigenvalues 1 and 3.
        let mut ev = symmetric_eigenvalues(vec![2.0, 1.0, 1.0, 2.0], 2);
        ev.sort_by(f64::total_cmp);
        assert!((ev[0] - 1.0).abs() < 1e-12 && (ev[1] - 3.0).abs() < 1e-12);
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
    }
}

//! Monosemanticity (semantic consistency) and feature statistics, computed on the host
//! in f64 from row-major features `feats` (`n` rows of `d` values) and labels `y`.
//!
//! The statistics themselves live in [`repro_core::features`] (shared with other
//! crates) and are re-exported here; this module adds [`feature_stats`], every statistic
//! at this paper's thresholds. As upstream, every row is first L2-normalised.

use serde::{Deserialize, Serialize};

pub use repro_core::features::{
    Consistency, EffRank, active_dims, effective_rank, orthogonality, row_normalize,
    semantic_consistency, sparsity, topk_consistency,
};

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

    #[test]
    fn feature_stats_by_hand() {
        // Rows e0, e1, e0 with labels 0, 1, 0: every active dim is pure, 3 of 6 entries
        // active, dims orthogonal, singular values (√2, 1).
        let f = [1.0, 0.0, 0.0, 1.0, 1.0, 0.0];
        let s = feature_stats(&f, 3, 2, &[0, 1, 0]);
        assert_eq!((s.consistency_eps, s.consistency_eps_dims), (1.0, 2));
        assert_eq!((s.consistency_top50, s.consistency_top50_dims), (1.0, 2));
        assert!((s.sparsity_1e5 - 0.5).abs() < 1e-12 && (s.sparsity_1e2 - 0.5).abs() < 1e-12);
        let (a, b) = (2f64.sqrt(), 1.0);
        let (pa, pb) = (a / (a + b), b / (a + b));
        assert!((s.erank_entropy + pa * pa.ln() + pb * pb.ln()).abs() < 1e-12);
        assert!((s.erank - s.erank_entropy.exp()).abs() < 1e-12);
        assert!(s.orthogonality < 1e-12);
        assert_eq!(s.active_dims, 2);
    }
}

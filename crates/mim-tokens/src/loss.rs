//! Masked losses: only removed patches (mask 1) count, as in MAE's `forward_loss`.

use burn::tensor::activation::log_softmax;
use burn::tensor::{Int, Tensor};

/// Cross-entropy over token ids on the removed patches, with label smoothing `ε`:
/// per patch `(1 − ε)·(−log p_t) + ε·mean_k(−log p_k)` (PyTorch's `label_smoothing`),
/// averaged over `Σ mask`.
///
/// # Shapes
/// - `logits`: `[n, L, K]`, `targets`: `[n, L]` ids in `0..K`, `mask`: `[n, L]` (1 = removed)
/// - returns `[1]`
pub fn masked_token_ce(
    logits: Tensor<3>,
    targets: Tensor<2, Int>,
    mask: Tensor<2>,
    smoothing: f64,
) -> Tensor<1> {
    let [n, l, _] = logits.dims();
    let logp = log_softmax(logits, 2); // [n, L, K]
    let nll = logp
        .clone()
        .gather(2, targets.reshape([n, l, 1]))
        .reshape([n, l])
        .neg(); // [n, L]
    let per = if smoothing > 0.0 {
        let uniform = logp.mean_dim(2).reshape([n, l]).neg(); // [n, L]
        nll.mul_scalar(1.0 - smoothing) + uniform.mul_scalar(smoothing)
    } else {
        nll
    };
    (per * mask.clone()).sum() / mask.sum()
}

/// Mean squared error over the `p²` values of each removed patch, averaged over `Σ mask`.
///
/// # Shapes
/// - `pred`, `target`: `[n, L, p²]`, `mask`: `[n, L]` (1 = removed)
/// - returns `[1]`
pub fn masked_pixel_mse(pred: Tensor<3>, target: Tensor<3>, mask: Tensor<2>) -> Tensor<1> {
    let [n, l, _] = pred.dims();
    let per = (pred - target).square().mean_dim(2).reshape([n, l]); // [n, L]
    (per * mask.clone()).sum() / mask.sum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::{Device, TensorData};

    fn f3(v: Vec<f32>, s: [usize; 3]) -> Tensor<3> {
        Tensor::from_data(TensorData::new(v, s), &Device::flex())
    }

    fn f2(v: Vec<f32>, s: [usize; 2]) -> Tensor<2> {
        Tensor::from_data(TensorData::new(v, s), &Device::flex())
    }

    fn ids(v: Vec<i64>, s: [usize; 2]) -> Tensor<2, Int> {
        Tensor::from_data(TensorData::new(v, s), &Device::flex())
    }

    fn scalar(t: Tensor<1>) -> f64 {
        t.into_scalar::<f64>()
    }

    #[test]
    fn uniform_logits_give_ln_k() {
        let k = 7;
        let l = scalar(masked_token_ce(
            f3(vec![0.3; 2 * 3 * k], [2, 3, k]),
            ids(vec![0, 1, 2, 3, 4, 5], [2, 3]),
            f2(vec![1.0, 0.0, 1.0, 0.0, 1.0, 1.0], [2, 3]),
            0.0,
        ));
        // f32 log-softmax of 7 equal values: error ~1e-7.
        assert!((l - (k as f64).ln()).abs() < 1e-5, "{l}");
    }

    #[test]
    fn visible_targets_do_not_matter() {
        let logits = f3(
            (0..12).map(|i| (i as f32 * 0.37).sin()).collect(),
            [1, 4, 3],
        );
        let mask = f2(vec![1.0, 0.0, 1.0, 0.0], [1, 4]);
        let a = masked_token_ce(
            logits.clone(),
            ids(vec![0, 1, 2, 0], [1, 4]),
            mask.clone(),
            0.1,
        );
        let b = masked_token_ce(logits, ids(vec![0, 2, 2, 1], [1, 4]), mask, 0.1);
        assert_eq!(scalar(a), scalar(b));
    }

    #[test]
    fn smoothing_matches_the_formula_on_a_hand_example() {
        // One removed patch, logits (0, ln 2, ln 5) -> p = (1, 2, 5) / 8, target 1.
        // nll = ln 4; mean_k(−log p_k) = (ln 8 + ln 4 + ln 1.6) / 3;
        // loss = 0.9 ln 4 + 0.1 (ln 8 + ln 4 + ln 1.6) / 3.
        let logits = f3(vec![0.0, 2f32.ln(), 5f32.ln()], [1, 1, 3]);
        let l = scalar(masked_token_ce(
            logits,
            ids(vec![1], [1, 1]),
            f2(vec![1.0], [1, 1]),
            0.1,
        ));
        let want = 0.9 * 4f64.ln() + 0.1 * (8f64.ln() + 4f64.ln() + 1.6f64.ln()) / 3.0;
        assert!((l - want).abs() < 1e-6, "{l} vs {want}");
    }

    #[test]
    fn pixel_mse_hand_value() {
        // [1, 2, 4]: patch 0 removed with errors (1, −1, 2, 0) -> mean 6/4 = 1.5; patch 1
        // visible with a huge error that must not count.
        let pred = f3(
            vec![1.0, 0.0, 2.0, 0.0, 100.0, 100.0, 100.0, 100.0],
            [1, 2, 4],
        );
        let target = f3(vec![0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0], [1, 2, 4]);
        let l = scalar(masked_pixel_mse(pred, target, f2(vec![1.0, 0.0], [1, 2])));
        assert!((l - 1.5).abs() < 1e-6, "{l}");
    }
}

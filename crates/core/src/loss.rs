//! Contrastive losses shared by the self-supervised paper crates.
//!
//! [`nt_xent`] is the InfoNCE / NT-Xent loss of SimCLR (Chen et al., ICML 2020), as in
//! solo-learn's `simclr_loss_func`: two views per item, the partner view is the positive
//! and every other view of the batch (both views of the other items) is a negative.

use burn::tensor::activation::log_softmax;
use burn::tensor::{Int, Tensor, TensorData};

/// Rows divided by `max(‖row‖₂, eps)`; all-zero rows stay zero.
///
/// Written as `sqrt(max(‖row‖², eps²))` so the gradient stays finite on all-zero rows
/// (the gradient of `sqrt` at 0 is infinite, and `0 · ∞` is NaN).
///
/// # Shapes
/// - `z`: `[n, d]`
/// - returns `[n, d]`
pub fn l2_normalize_rows(z: Tensor<2>, eps: f64) -> Tensor<2> {
    let norm = z
        .clone()
        .powi_scalar(2)
        .sum_dim(1)
        .clamp_min(eps * eps)
        .sqrt(); // [n, 1]
    z / norm
}

/// NT-Xent (InfoNCE with in-batch negatives) over two views.
///
/// With `u = z / max(‖z‖₂, 1e-12)` stacked as `[u¹; u²]` (2N rows) and partner
/// `p(i) = i ± N`:
///
/// ```text
/// ℓ_i = −log( exp(u_i·u_p(i)/τ) / Σ_{j≠i} exp(u_i·u_j/τ) ),   L = mean_i ℓ_i
/// ```
///
/// The self-similarity is masked with −1e9 (not −∞), so gradients stay finite.
///
/// # Shapes
/// - `z1`, `z2`: `[n, d]`, row `i` of each is a view of item `i`
/// - returns `[1]`
///
/// # Panics
/// If the shapes differ (a programming error).
pub fn nt_xent(z1: Tensor<2>, z2: Tensor<2>, tau: f64) -> Tensor<1> {
    assert_eq!(
        z1.dims(),
        z2.dims(),
        "nt_xent: the two views differ in shape"
    );
    let [n, _] = z1.dims();
    let device = z1.device();
    let u = l2_normalize_rows(Tensor::cat(vec![z1, z2], 0), 1e-12); // [2n, d]
    let eye = Tensor::<2>::eye(2 * n, &device);
    let logits = u.clone().matmul(u.transpose()) / tau - eye * 1e9; // [2n, 2n]
    let partner: Vec<i64> = (0..2 * n).map(|i| ((i + n) % (2 * n)) as i64).collect();
    let partner = Tensor::<2, Int>::from_data(TensorData::new(partner, [2 * n, 1]), &device);
    let log_p = log_softmax(logits, 1).gather(1, partner); // [2n, 1]
    log_p.mean().neg()
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::Device;

    fn t(v: &[f32], shape: [usize; 2], device: &Device) -> Tensor<2> {
        Tensor::from_data(TensorData::new(v.to_vec(), shape), device)
    }

    fn scalar(x: Tensor<1>) -> f64 {
        x.into_scalar::<f64>()
    }

    #[test]
    fn hand_computed_two_by_two() {
        // z1 = z2 = I₂: for every view the positive has similarity 1 and the two
        // negatives 0, so ℓ = −log(e^{1/τ} / (e^{1/τ} + 2)) = ln(1 + 2 e^{−1/τ}).
        let d = Device::flex();
        let eye = [1.0, 0.0, 0.0, 1.0];
        let l1 = scalar(nt_xent(t(&eye, [2, 2], &d), t(&eye, [2, 2], &d), 1.0));
        assert!((l1 - 0.5514447139).abs() < 1e-6, "{l1}");
        assert!((l1 - (1.0 + 2.0 / std::f64::consts::E).ln()).abs() < 1e-6);
        let l2 = scalar(nt_xent(t(&eye, [2, 2], &d), t(&eye, [2, 2], &d), 0.5));
        assert!((l2 - 0.2395447662).abs() < 1e-6, "{l2}");
    }

    fn pseudo_random(n: usize, seed: u64) -> Vec<f32> {
        let mut r = crate::data::split::SplitMix64::new(seed);
        (0..n).map(|_| (r.next_f64() * 2.0 - 1.0) as f32).collect()
    }

    #[test]
    fn invariant_to_permutation_and_scale() {
        let d = Device::flex();
        let a = pseudo_random(5 * 6, 1);
        let b = pseudo_random(5 * 6, 2);
        let base = scalar(nt_xent(t(&a, [5, 6], &d), t(&b, [5, 6], &d), 0.2));
        let perm = [3usize, 0, 4, 1, 2];
        let rows = |v: &[f32]| -> Vec<f32> {
            perm.iter()
                .flat_map(|&i| v[i * 6..(i + 1) * 6].to_vec())
                .collect()
        };
        let permuted = scalar(nt_xent(
            t(&rows(&a), [5, 6], &d),
            t(&rows(&b), [5, 6], &d),
            0.2,
        ));
        // f32 sums in another order: a few ulps of a loss of order 1.
        assert!((base - permuted).abs() < 1e-5, "{base} vs {permuted}");
        let scaled = scalar(nt_xent(
            t(&a, [5, 6], &d) * 3.5,
            t(&b, [5, 6], &d) * 3.5,
            0.2,
        ));
        assert!((base - scaled).abs() < 1e-5, "{base} vs {scaled}");
    }

    #[test]
    fn gradient_matches_finite_differences() {
        let d = Device::flex();
        let ad = Device::flex().autodiff();
        let a = pseudo_random(4 * 8, 3);
        let b = pseudo_random(4 * 8, 4);
        let z1 = t(&a, [4, 8], &ad).require_grad();
        let loss = nt_xent(z1.clone(), t(&b, [4, 8], &ad), 0.5);
        let grads = loss.backward();
        let g: Vec<f32> = z1.grad(&grads).unwrap().into_data().try_to_vec().unwrap();
        let h = 1e-3f32;
        let f = |v: &[f32]| scalar(nt_xent(t(v, [4, 8], &d), t(&b, [4, 8], &d), 0.5));
        let (mut num, mut den) = (0.0f64, 0.0f64);
        for i in 0..a.len() {
            let (mut p, mut m) = (a.clone(), a.clone());
            p[i] += h;
            m[i] -= h;
            let fd = (f(&p) - f(&m)) / (2.0 * f64::from(h));
            num += (fd - f64::from(g[i])).powi(2);
            den += fd.powi(2);
        }
        // Central differences in f32 with h = 1e-3: truncation O(h²) plus rounding
        // ~1e-7/1e-3 per entry, far below the 1e-2 relative error the spec allows.
        let rel = (num / den).sqrt();
        assert!(rel < 1e-2, "relative error {rel}");
    }

    #[test]
    fn zero_rows_give_finite_gradients() {
        let ad = Device::flex().autodiff();
        let z1 = t(&[0.0, 0.0, 1.0, 2.0], [2, 2], &ad).require_grad();
        let loss = nt_xent(z1.clone(), t(&[1.0, 0.0, 0.0, 1.0], [2, 2], &ad), 0.2);
        let g: Vec<f32> = z1
            .grad(&loss.backward())
            .unwrap()
            .into_data()
            .try_to_vec()
            .unwrap();
        assert!(g.iter().all(|v| v.is_finite()), "{g:?}");
    }
}

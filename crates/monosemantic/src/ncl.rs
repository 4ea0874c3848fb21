//! Non-negative contrastive learning (NCL): SimCLR with a non-negative map on the
//! projector output (Wang et al., ICLR 2024; the paper's intrinsic route).

use burn::tensor::Tensor;
use repro_core::loss::{l2_normalize_rows, nt_xent};

/// The non-negative maps are [`repro_core::features`]'s (shared with other crates).
pub use repro_core::features::{NonNeg, non_neg, rep_relu};

/// NCL codes `u = σ₊(z) / max(‖σ₊(z)‖₂, 1e-12)`; all-zero rows stay zero (no NaN).
///
/// Upstream normalises before and after the ReLU; ReLU is positively homogeneous, so one
/// normalisation after it gives the same codes.
///
/// # Shapes
/// - `z`: `[n, d]`
/// - returns `[n, d]`
pub fn ncl_codes(z: Tensor<2>, kind: NonNeg) -> Tensor<2> {
    l2_normalize_rows(non_neg(z, kind), 1e-12)
}

/// The optional variance term `L_var = −(1/D) Σ_d mean_i |u_{i,d}|` of Beyond's
/// `training_step` (off by default, as in non_neg).
///
/// # Shapes
/// - `u`: `[n, d]`
/// - returns `[1]`
pub fn var_term(u: Tensor<2>) -> Tensor<1> {
    u.abs().mean().neg()
}

/// The contrastive pretraining loss of CL (`kind = None`) or NCL on two views' projector
/// outputs: NT-Xent on `σ₊(z)` (NT-Xent normalises the rows itself), plus `L_var` on the
/// normalised codes if `with_var`.
///
/// # Shapes
/// - `z1`, `z2`: `[n, d]`
/// - returns `[1]`
pub fn contrastive_loss(
    z1: Tensor<2>,
    z2: Tensor<2>,
    kind: NonNeg,
    tau: f64,
    with_var: bool,
) -> Tensor<1> {
    let (a, b) = (non_neg(z1, kind), non_neg(z2, kind));
    let loss = nt_xent(a.clone(), b.clone(), tau);
    if with_var {
        let u = l2_normalize_rows(Tensor::cat(vec![a, b], 0), 1e-12);
        loss + var_term(u)
    } else {
        loss
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::{Device, TensorData};

    fn t(v: &[f32], shape: [usize; 2], device: &burn::tensor::Device) -> Tensor<2> {
        Tensor::from_data(TensorData::new(v.to_vec(), shape), device)
    }

    fn vec(x: Tensor<2>) -> Vec<f32> {
        x.into_data().try_to_vec().unwrap()
    }

    #[test]
    fn ncl_codes_are_non_negative_unit_or_zero() {
        let d = Device::flex();
        let z = [3.0, -4.0, 4.0, -1.0, -2.0, -0.5];
        let u = vec(ncl_codes(t(&z, [2, 3], &d), NonNeg::Relu));
        assert!(u.iter().all(|&v| v >= 0.0 && v.is_finite()));
        // Row 0: relu = (3, 0, 4), norm 5; row 1 is all negative -> exactly zero.
        assert_eq!(u[..3], [0.6, 0.0, 0.8]);
        assert_eq!(u[3..], [0.0, 0.0, 0.0]);
        let ad = Device::flex().autodiff();
        let x = t(&z, [2, 3], &ad).require_grad();
        let grads = ncl_codes(x.clone(), NonNeg::RepRelu).sum().backward();
        assert!(vec(x.grad(&grads).unwrap()).iter().all(|g| g.is_finite()));
    }

    #[test]
    fn var_term_extremes() {
        let d = Device::flex();
        let dim = 4;
        let one_hot = [1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0, 0.0];
        let v = var_term(t(&one_hot, [2, dim], &d)).into_scalar::<f64>();
        assert!((v + 1.0 / dim as f64).abs() < 1e-7, "{v}");
        let uniform = [0.5f32; 8]; // 1/√4 per entry: unit rows
        let v = var_term(t(&uniform, [2, dim], &d)).into_scalar::<f64>();
        assert!((v + 1.0 / (dim as f64).sqrt()).abs() < 1e-7, "{v}");
    }

    #[test]
    fn contrastive_loss_of_cl_is_nt_xent() {
        let d = Device::flex();
        let eye = [1.0, 0.0, 0.0, 1.0];
        let l = contrastive_loss(
            t(&eye, [2, 2], &d),
            t(&eye, [2, 2], &d),
            NonNeg::None,
            1.0,
            false,
        )
        .into_scalar::<f64>();
        assert!((l - 0.5514447139).abs() < 1e-6);
        // Non-negative identity codes are unchanged by ReLU; L_var adds −1/D = −0.5.
        let l = contrastive_loss(
            t(&eye, [2, 2], &d),
            t(&eye, [2, 2], &d),
            NonNeg::Relu,
            1.0,
            true,
        )
        .into_scalar::<f64>();
        assert!((l - (0.5514447139 - 0.5)).abs() < 1e-6);
    }
}

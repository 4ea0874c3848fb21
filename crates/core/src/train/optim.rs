//! Optimiser presets with every hyper-parameter set explicitly, global-norm gradient
//! clipping and AdamW that decays weight matrices only.
//!
//! Burn's defaults differ from PyTorch's (Adam epsilon 1e-5 vs 1e-8, AdamW weight decay
//! 1e-4 vs 1e-2, SGD momentum dampening 0.1 vs 0). Papers are written against PyTorch, so
//! these presets take PyTorch's values; pass what the paper states explicitly.
//!
//! Burn's `GradientClipping::Norm` clips each parameter's gradient on its own; "clip at
//! norm 1.0" in a paper means `torch.nn.utils.clip_grad_norm_`, the norm over all
//! parameters together: that is [`clip_global_norm`].
//!
//! ```
//! use burn::module::{Module, Param};
//! use burn::optim::GradientsParams;
//! use burn::tensor::{Device, Tensor};
//! use repro_core::train::optim::{adamw_matrices_only, clip_global_norm};
//!
//! #[derive(Module, Debug)]
//! struct Affine { w: Param<Tensor<2>>, b: Param<Tensor<1>> }
//!
//! let dev = Device::flex().autodiff();
//! let m = Affine {
//!     w: Param::from_tensor(Tensor::ones([2, 2], &dev)),
//!     b: Param::from_tensor(Tensor::zeros([2], &dev)),
//! };
//! let x = Tensor::<2>::ones([1, 2], &dev);
//! let loss = (x.matmul(m.w.val()) + m.b.val().unsqueeze::<2>()).sum() * 10.0;
//! let grads = GradientsParams::from_grads(loss.backward(), &m);
//! // Gradients: 10 in each of the 4 + 2 entries, global norm 10·√6.
//! let (grads, norm) = clip_global_norm(&m, grads, 1.0)?;
//! assert!((norm - 10.0 * 6f64.sqrt()).abs() < 1e-4);
//! let mut opt = adamw_matrices_only(&m, &repro_core::train::optim::adamw(0.01));
//! let m = opt.step(1e-3, m, grads);
//! # let _ = m;
//! # Ok::<(), repro_core::train::TrainError>(())
//! ```

use std::collections::HashSet;

use burn::module::{Module, ModuleVisitor, Param, ParamGroup, ParamId};
use burn::optim::decay::WeightDecayConfig;
use burn::optim::momentum::MomentumConfig;
use burn::optim::{AdamConfig, AdamWConfig, GradientsParams, ModuleOptimizer, SgdConfig};
use burn::tensor::Tensor;

use super::TrainError;

/// `torch.optim.Adam(betas=(0.9, 0.999), eps=1e-8, weight_decay)` (L2 added to gradients).
pub fn adam(weight_decay: f32) -> AdamConfig {
    let cfg = AdamConfig::new()
        .with_beta_1(0.9)
        .with_beta_2(0.999)
        .with_epsilon(1e-8);
    if weight_decay > 0.0 {
        cfg.with_weight_decay(Some(WeightDecayConfig::new(weight_decay)))
    } else {
        cfg
    }
}

/// `torch.optim.AdamW(betas=(0.9, 0.999), eps=1e-8, weight_decay)` (decoupled decay).
pub fn adamw(weight_decay: f32) -> AdamWConfig {
    AdamWConfig::new()
        .with_beta_1(0.9)
        .with_beta_2(0.999)
        .with_epsilon(1e-8)
        .with_weight_decay(weight_decay)
}

/// `torch.optim.SGD(momentum, dampening=0, nesterov=False, weight_decay)`.
pub fn sgd(momentum: f64, weight_decay: f32) -> SgdConfig {
    let mut cfg = SgdConfig::new();
    if momentum > 0.0 {
        cfg = cfg.with_momentum(Some(
            MomentumConfig::new()
                .with_momentum(momentum)
                .with_dampening(0.0)
                .with_nesterov(false),
        ));
    }
    if weight_decay > 0.0 {
        cfg = cfg.with_weight_decay(Some(WeightDecayConfig::new(weight_decay)));
    }
    cfg
}

/// AdamW with `cfg`'s decoupled weight decay on the weight matrices of `module` only
/// (parameters of rank ≥ 2: linear, embedding and convolution weights); biases,
/// LayerNorm/RMSNorm scales and every other rank-1 parameter get the same AdamW update
/// with no decay (GPT-2 / nanoGPT / MAE convention).
///
/// Built on Burn's parameter groups ([`ModuleOptimizer::with_group`]): the whole module
/// with `weight_decay = 0` as the fallback, then the matrices' ids with `cfg`. Parameters
/// are matched by id, so pass the module the optimiser will step (its ids survive
/// `step`). Gradient clipping set on `cfg` is not applied; use [`clip_global_norm`].
pub fn adamw_matrices_only<M: Module>(module: &M, cfg: &AdamWConfig) -> ModuleOptimizer {
    let ids = matrix_param_ids(module);
    let no_decay = cfg.clone().with_weight_decay(0.0);
    ModuleOptimizer::from(no_decay.build()).with_group(ParamGroup::from_ids(ids), cfg.build(), None)
}

/// Ids of the float parameters of rank ≥ 2 of `module`, in visiting order.
pub fn matrix_param_ids<M: Module>(module: &M) -> Vec<ParamId> {
    struct Matrices(Vec<ParamId>);
    impl ModuleVisitor for Matrices {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            if D >= 2 {
                self.0.push(param.id);
            }
        }
    }
    let mut v = Matrices(Vec::new());
    module.visit(&mut v);
    v.0
}

/// Global L2 norm of `grads` over every float parameter of `module` (each parameter
/// counted once, missing gradients skipped): `sqrt(Σ_p ‖g_p‖²)`, read back as f64.
pub fn global_grad_norm<M: Module>(module: &M, grads: &GradientsParams) -> f64 {
    struct SumSq<'a> {
        grads: &'a GradientsParams,
        seen: HashSet<ParamId>,
        total: Option<Tensor<1>>,
    }
    impl ModuleVisitor for SumSq<'_> {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            if !self.seen.insert(param.id) {
                return;
            }
            if let Some(g) = self.grads.get::<D>(param.id) {
                let sq = g.square().sum(); // [1]
                self.total = Some(match self.total.take() {
                    Some(t) => t + sq,
                    None => sq,
                });
            }
        }
    }
    let mut v = SumSq {
        grads,
        seen: HashSet::new(),
        total: None,
    };
    module.visit(&mut v);
    v.total
        .map_or(0.0, |t| t.into_scalar::<f64>().max(0.0).sqrt())
}

/// Clips `grads` by their global norm, as `torch.nn.utils.clip_grad_norm_`: every
/// gradient is multiplied by `min(1, max_norm / total)`, `total` the global L2 norm over
/// all of `module`'s parameters ([`global_grad_norm`]). Returns the gradients and `total`
/// (before clipping). Gradients at or below `max_norm` are returned untouched.
///
/// One host read-back per call (the norm).
///
/// # Errors
/// [`TrainError::InvalidSetting`] if `max_norm` is not positive and finite;
/// [`TrainError::NonFinite`] if the gradient norm is NaN or infinite.
pub fn clip_global_norm<M: Module>(
    module: &M,
    mut grads: GradientsParams,
    max_norm: f64,
) -> Result<(GradientsParams, f64), TrainError> {
    if !(max_norm.is_finite() && max_norm > 0.0) {
        return Err(TrainError::InvalidSetting(format!(
            "gradient clipping max_norm = {max_norm}: must be positive and finite"
        )));
    }
    let total = global_grad_norm(module, &grads);
    super::ensure_finite("global gradient norm", 0, total)?;
    if total > max_norm {
        let scale = max_norm / total;
        struct Scale<'a> {
            grads: &'a mut GradientsParams,
            seen: HashSet<ParamId>,
            scale: f64,
        }
        impl ModuleVisitor for Scale<'_> {
            fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
                if !self.seen.insert(param.id) {
                    return;
                }
                if let Some(g) = self.grads.remove::<D>(param.id) {
                    self.grads.register(param.id, g.mul_scalar(self.scale));
                }
            }
        }
        module.visit(&mut Scale {
            grads: &mut grads,
            seen: HashSet::new(),
            scale,
        });
    }
    Ok((grads, total))
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::{Device, TensorData};

    #[derive(Module, Debug)]
    struct Two {
        w: Param<Tensor<2>>,
        b: Param<Tensor<1>>,
    }

    fn two(device: &Device) -> Two {
        Two {
            w: Param::from_tensor(Tensor::from_data(
                TensorData::new(vec![1.0f32, -2.0, 3.0, 0.5], [2, 2]),
                device,
            )),
            b: Param::from_tensor(Tensor::from_data(
                TensorData::new(vec![0.25f32, -1.0], [2]),
                device,
            )),
        }
    }

    fn vals<const D: usize>(t: Tensor<D>) -> Vec<f32> {
        t.into_data().try_to_vec().unwrap()
    }

    /// Hand-made gradients: w = [[3, 0], [0, 0]], b = [0, 4]; global norm 5.
    fn hand_grads(m: &Two, device: &Device) -> GradientsParams {
        let mut g = GradientsParams::new();
        g.register(
            m.w.id,
            Tensor::<2>::from_data(TensorData::new(vec![3.0f32, 0.0, 0.0, 0.0], [2, 2]), device),
        );
        g.register(
            m.b.id,
            Tensor::<1>::from_data(TensorData::new(vec![0.0f32, 4.0], [2]), device),
        );
        g
    }

    #[test]
    fn global_norm_clips_to_exactly_max_norm() {
        let d = Device::flex();
        let m = two(&d);
        let g = hand_grads(&m, &d);
        assert!((global_grad_norm(&m, &g) - 5.0).abs() < 1e-12);
        let (g, total) = clip_global_norm(&m, g, 1.0).unwrap();
        assert!((total - 5.0).abs() < 1e-12);
        // Scale 1/5 for every tensor: the global norm is now exactly 1 (not each alone).
        assert_eq!(vals(g.get::<2>(m.w.id).unwrap()), vec![0.6, 0.0, 0.0, 0.0]);
        assert_eq!(vals(g.get::<1>(m.b.id).unwrap()), vec![0.0, 0.8]);
        assert!((global_grad_norm(&m, &g) - 1.0).abs() < 1e-6);
        // Per-tensor clipping would have left w's 3 at 1 and b's 4 at 1: different.
    }

    #[test]
    fn global_norm_below_max_is_untouched() {
        let d = Device::flex();
        let m = two(&d);
        for max in [5.0, 10.0] {
            let (g, total) = clip_global_norm(&m, hand_grads(&m, &d), max).unwrap();
            assert!((total - 5.0).abs() < 1e-12);
            assert_eq!(vals(g.get::<2>(m.w.id).unwrap()), vec![3.0, 0.0, 0.0, 0.0]);
            assert_eq!(vals(g.get::<1>(m.b.id).unwrap()), vec![0.0, 4.0]);
        }
        // No gradients at all: norm 0, nothing to do.
        let (g, total) = clip_global_norm(&m, GradientsParams::new(), 1.0).unwrap();
        assert_eq!((total, g.len()), (0.0, 0));
    }

    #[test]
    fn bad_max_norm_is_an_error() {
        let d = Device::flex();
        let m = two(&d);
        for bad in [0.0, -1.0, f64::NAN, f64::INFINITY] {
            let err = clip_global_norm(&m, hand_grads(&m, &d), bad).unwrap_err();
            assert!(err.to_string().contains("max_norm"), "{err}");
        }
    }

    #[test]
    fn global_norm_matches_autodiff_gradients() {
        // loss = Σ (x W + b) with x = [1, 2]: dW = xᵀ 1ᵀ = [[1, 1], [2, 2]], db = [1, 1];
        // global norm √(1 + 1 + 4 + 4 + 1 + 1) = √12.
        let ad = Device::flex().autodiff();
        let m = two(&ad);
        let x = Tensor::<2>::from_data(TensorData::new(vec![1.0f32, 2.0], [1, 2]), &ad);
        let loss = (x.matmul(m.w.val()) + m.b.val().unsqueeze::<2>()).sum();
        let g = GradientsParams::from_grads(loss.backward(), &m);
        assert!((global_grad_norm(&m, &g) - 12f64.sqrt()).abs() < 1e-6);
    }

    #[test]
    fn matrix_ids_are_rank_two_params() {
        let m = two(&Device::flex());
        assert_eq!(matrix_param_ids(&m), vec![m.w.id]);
    }

    #[test]
    fn adamw_decays_matrices_not_biases() {
        let _rng = crate::device::seed_lock(); // Burn's generator is process-wide
        // Zero gradients: Adam's update is 0 / (0 + eps) = 0, so only decay moves weights:
        // w ← w − lr·wd·w for the matrix, the bias stays exactly where it is.
        let d = Device::flex(); // gradients live off the autodiff graph
        let ad = d.clone().autodiff();
        let m = two(&ad);
        let w0 = vals(m.w.val());
        let b0 = vals(m.b.val());
        let (lr, wd) = (0.1, 0.5f32);
        let mut opt = adamw_matrices_only(&m, &adamw(wd));
        let mut g = GradientsParams::new();
        g.register(m.w.id, Tensor::<2>::zeros([2, 2], &d));
        g.register(m.b.id, Tensor::<1>::zeros([2], &d));
        let m = opt.step(lr, m, g);
        let w1 = vals(m.w.val());
        for (a, b) in w0.iter().zip(&w1) {
            let want = a - (lr as f32) * wd * a;
            assert!((b - want).abs() < 1e-6, "{b} vs {want}");
        }
        assert_eq!(vals(m.b.val()), b0);
        // The plain preset decays the bias too (the difference this helper makes).
        let m2 = two(&ad);
        let mut plain = adamw(wd).init();
        let mut g = GradientsParams::new();
        g.register(m2.w.id, Tensor::<2>::zeros([2, 2], &d));
        g.register(m2.b.id, Tensor::<1>::zeros([2], &d));
        let m2 = plain.step(lr, m2, g);
        assert!((vals(m2.b.val())[0] - 0.25 * (1.0 - 0.05)).abs() < 1e-6);
    }

    #[test]
    fn adamw_gradient_step_is_adams_on_both() {
        // One step with gradient g: Adam's first step is lr·sign(g) (bias-corrected
        // m / √v = g / |g|), for the bias (no decay) and the matrix (plus decay).
        let d = Device::flex(); // gradients live off the autodiff graph
        let ad = d.clone().autodiff();
        let m = two(&ad);
        let (lr, wd) = (0.01, 0.1f32);
        let mut opt = adamw_matrices_only(&m, &adamw(wd));
        let mut g = GradientsParams::new();
        g.register(m.w.id, Tensor::<2>::ones([2, 2], &d));
        g.register(m.b.id, Tensor::<1>::ones([2], &d).neg());
        let w0 = vals(m.w.val());
        let m = opt.step(lr, m, g);
        let b1 = vals(m.b.val());
        assert!((b1[0] - (0.25 + 0.01)).abs() < 1e-5 && (b1[1] - (-1.0 + 0.01)).abs() < 1e-5);
        for (a, b) in w0.iter().zip(vals(m.w.val())) {
            let want = a * (1.0 - 0.01 * wd) - 0.01;
            assert!((b - want).abs() < 1e-5, "{b} vs {want}");
        }
    }
}

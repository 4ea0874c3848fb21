//! The conditional RealNVP `q_phi(x | y)` (our operationalisation, after HeSunPU/DPI's
//! `cond_realnvpfc_model.py`): affine couplings whose conditioner sees the kept coordinates and
//! the observation `y`, a tanh-bounded log-scale, zero-initialised output layers, and a
//! residual base `x = y + exp(l) * h_K` so that the untrained flow is `N(y, sigma^2 I)`.
//!
//! Deviation (declared): the conditioner takes the masked vector `h * m` (all `d`
//! coordinates, transformed ones zeroed) instead of gathering the kept ones, and outputs a
//! log-scale and shift for all `d` coordinates, of which the kept ones are zeroed. This is
//! the same function class, written without gathers.

use burn::module::Param;
use burn::prelude::*;
use serde::{Deserialize, Serialize};

use repro_core::nn::mlp::{Activation, Mlp, MlpConfig};
use repro_core::rng::Noise;

/// A conditional flow `x = G(z; y)` with an exact log-determinant.
pub trait CondFlow {
    /// `x = G(z; y)` and `log |det dx/dz|`.
    ///
    /// # Shapes
    /// - z: `[n, d]`, y: `[n, m]` -> (`[n, d]`, `[n]`)
    fn forward_with_logdet(&self, z: Tensor<2>, y: Tensor<2>) -> (Tensor<2>, Tensor<1>);
}

/// Which coordinates a coupling keeps (mask 1) and which it transforms (mask 0).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum MaskKind {
    /// Coupling `k` keeps coordinates `i` with `(i + k)` even: `[1, 0]`, `[0, 1]`, ... in 2-D.
    Alternate,
    /// An `h x w` image checkerboard, complemented on every other coupling.
    Checkerboard {
        /// Image height.
        h: usize,
        /// Image width.
        w: usize,
    },
}

impl MaskKind {
    /// The mask of coupling `k` in `dim` dimensions (1 = kept).
    pub fn mask(&self, dim: usize, k: usize) -> Vec<f32> {
        (0..dim)
            .map(|i| {
                let parity = match self {
                    Self::Alternate => i + k,
                    Self::Checkerboard { w, .. } => i / w + i % w + k,
                };
                if parity % 2 == 0 { 1.0 } else { 0.0 }
            })
            .collect()
    }
}

/// Configuration of [`CondRealNvp`].
#[derive(Config, Debug)]
pub struct CondRealNvpConfig {
    /// Dimension `d` of `x` and `z`.
    pub dim: usize,
    /// Dimension `m` of the condition `y`.
    pub cond_dim: usize,
    /// Number of affine couplings.
    #[config(default = 8)]
    pub n_couplings: usize,
    /// Conditioner width.
    #[config(default = 64)]
    pub hidden: usize,
    /// Hidden layers per conditioner.
    #[config(default = 2)]
    pub hidden_layers: usize,
    /// Bound `B` of the log-scale, `log s = B tanh(raw / B)`.
    #[config(default = 2.0)]
    pub scale_bound: f32,
    /// Coupling masks.
    #[config(default = "MaskKind::Alternate")]
    pub mask: MaskKind,
    /// Residual base `x = y + exp(l) h_K` (needs `cond_dim == dim`); otherwise `x = exp(l) h_K`.
    #[config(default = true)]
    pub residual_on_y: bool,
    /// Initial output scale `exp(l)`: the noise level `sigma` makes the untrained flow
    /// `N(y, sigma^2 I)`.
    #[config(default = 1.0)]
    pub init_scale: f32,
    /// Zero-initialise the conditioners' last layers (identity couplings at start). Tests turn
    /// it off to get non-trivial couplings.
    #[config(default = true)]
    pub zero_init: bool,
}

/// One affine coupling: kept coordinates pass through, the others are scaled and shifted.
#[derive(Module, Debug)]
pub struct Coupling {
    net: Mlp,
    mask: Vec<f32>,
    bound: f32,
}

impl Coupling {
    /// Bounded log-scale and shift, both zero on kept coordinates.
    ///
    /// # Shapes
    /// - h: `[n, d]`, y: `[n, m]` -> (`[n, d]`, `[n, d]`)
    pub fn log_scale_and_shift(&self, h: Tensor<2>, y: Tensor<2>) -> (Tensor<2>, Tensor<2>) {
        let [n, d] = h.dims();
        let m = self.mask_tensor(&h.device());
        let free = m.clone().neg() + 1.0; // [1, d]
        let o = self.net.forward(Tensor::cat(vec![h * m, y], 1)); // [n, d + cond] -> [n, 2d]
        let raw = o.clone().narrow(1, 0, d);
        let shift = o.narrow(1, d, d);
        let log_s = bounded_log_scale(raw, self.bound) * free.clone();
        debug_assert_eq!(log_s.dims(), [n, d]);
        (log_s, shift * free)
    }

    fn mask_tensor(&self, device: &Device) -> Tensor<2> {
        Tensor::from_data(
            TensorData::new(self.mask.clone(), [1, self.mask.len()]),
            device,
        )
    }

    /// `h' = h * exp(log s) + t` on the free coordinates; returns `(h', sum log s)`.
    ///
    /// # Shapes
    /// - h: `[n, d]`, y: `[n, m]` -> (`[n, d]`, `[n]`)
    pub fn forward(&self, h: Tensor<2>, y: Tensor<2>) -> (Tensor<2>, Tensor<1>) {
        let (log_s, t) = self.log_scale_and_shift(h.clone(), y);
        let out = h * log_s.clone().exp() + t;
        (out, log_s.sum_dim(1).squeeze_dim(1))
    }

    /// Inverse of [`Coupling::forward`]: `h = (h' - t) * exp(-log s)`; returns
    /// `(h, -sum log s)`. The kept coordinates are unchanged, so `(log s, t)` are recomputed
    /// from `h'`.
    ///
    /// # Shapes
    /// - x: `[n, d]`, y: `[n, m]` -> (`[n, d]`, `[n]`)
    pub fn inverse(&self, x: Tensor<2>, y: Tensor<2>) -> (Tensor<2>, Tensor<1>) {
        let (log_s, t) = self.log_scale_and_shift(x.clone(), y);
        let h = (x - t) * log_s.clone().neg().exp();
        (h, log_s.sum_dim(1).squeeze_dim(1).neg())
    }
}

/// `B tanh(raw / B)`: a log-scale in `[-B, B]` that is the identity near 0.
///
/// # Shapes
/// - any `[n, d]`
pub fn bounded_log_scale(raw: Tensor<2>, bound: f32) -> Tensor<2> {
    (raw / bound).tanh() * bound
}

/// The conditional RealNVP.
#[derive(Module, Debug)]
pub struct CondRealNvp {
    couplings: Vec<Coupling>,
    /// Learnable log output scale `l` `[d]`.
    pub log_scale: Param<Tensor<1>>,
    residual: bool,
    dim: usize,
}

impl CondRealNvpConfig {
    /// Builds the flow on `device`.
    pub fn init(&self, device: &Device) -> CondRealNvp {
        let d = self.dim;
        let couplings = (0..self.n_couplings)
            .map(|k| {
                let net = MlpConfig::new(d + self.cond_dim, 2 * d)
                    .with_hidden(self.hidden)
                    .with_n_hidden(self.hidden_layers)
                    .with_activation(Activation::Silu)
                    .with_zero_out(self.zero_init)
                    .init(device);
                Coupling {
                    net,
                    mask: self.mask.mask(d, k),
                    bound: self.scale_bound,
                }
            })
            .collect();
        let l0 = self.init_scale.ln();
        CondRealNvp {
            couplings,
            log_scale: Param::from_tensor(Tensor::full([d], l0, device)),
            residual: self.residual_on_y && self.cond_dim == d,
            dim: d,
        }
    }
}

impl CondFlow for CondRealNvp {
    fn forward_with_logdet(&self, z: Tensor<2>, y: Tensor<2>) -> (Tensor<2>, Tensor<1>) {
        let [n, _] = z.dims();
        let mut h = z;
        let mut logdet = Tensor::<1>::zeros([n], &h.device());
        for c in &self.couplings {
            let (h2, ld) = c.forward(h, y.clone());
            h = h2;
            logdet = logdet + ld;
        }
        let l = self.log_scale.val(); // [d]
        let x = h * l.clone().exp().unsqueeze_dim(0);
        let x = if self.residual { x + y } else { x };
        (x, logdet + l.sum())
    }
}

impl CondRealNvp {
    /// Dimension of `x`.
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// The couplings, in forward order.
    pub fn couplings(&self) -> &[Coupling] {
        &self.couplings
    }

    /// `z = G^-1(x; y)` and `log |det dz/dx|` (for `log q(x | y)` and tests).
    ///
    /// # Shapes
    /// - x: `[n, d]`, y: `[n, m]` -> (`[n, d]`, `[n]`)
    pub fn inverse(&self, x: Tensor<2>, y: Tensor<2>) -> (Tensor<2>, Tensor<1>) {
        let [n, _] = x.dims();
        let l = self.log_scale.val();
        let h = if self.residual { x - y.clone() } else { x };
        let mut h = h * l.clone().neg().exp().unsqueeze_dim(0);
        let mut logdet = Tensor::<1>::zeros([n], &h.device()) - l.sum();
        for c in self.couplings.iter().rev() {
            let (h2, ld) = c.inverse(h, y.clone());
            h = h2;
            logdet = logdet + ld;
        }
        (h, logdet)
    }

    /// `log q(x | y) = log N(z; 0, I) + log |det dz/dx|`.
    ///
    /// # Shapes
    /// - x: `[n, d]`, y: `[n, m]` -> `[n]`
    pub fn log_density(&self, x: Tensor<2>, y: Tensor<2>) -> Tensor<1> {
        let d = self.dim as f32;
        let (z, ld) = self.inverse(x, y);
        let sq = z.powi_scalar(2).sum_dim(1).squeeze_dim(1);
        sq * (-0.5) + ld - 0.5 * d * (2.0 * std::f32::consts::PI).ln()
    }

    /// `k` samples per observation.
    ///
    /// # Shapes
    /// - y: `[n, m]` -> `[n, k, d]`
    pub fn sample(&self, y: Tensor<2>, k: usize, noise: &mut Noise) -> Tensor<3> {
        let [n, m] = y.dims();
        let device = y.device();
        let yk = y.unsqueeze_dim::<3>(1).repeat_dim(1, k).reshape([n * k, m]);
        let z = noise.normal_tensor(n * k, self.dim, &device);
        let (x, _) = self.forward_with_logdet(z, yk);
        x.reshape([n, k, self.dim])
    }

    /// Mean of `k` samples per observation (Monte Carlo posterior mean).
    ///
    /// # Shapes
    /// - y: `[n, m]` -> `[n, d]`
    pub fn posterior_mean(&self, y: Tensor<2>, k: usize, noise: &mut Noise) -> Tensor<2> {
        let [n, _] = y.dims();
        self.sample(y, k, noise).mean_dim(1).reshape([n, self.dim])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use repro_core::host::to_vec;

    fn random_flow(device: &Device) -> CondRealNvp {
        repro_core::device::init_params_now(
            CondRealNvpConfig::new(2, 2)
                .with_hidden(16)
                .with_zero_init(false)
                .with_init_scale(0.7)
                .init(device),
        )
    }

    #[test]
    fn inverse_of_forward_is_identity() {
        let device = Device::flex();
        let flow = random_flow(&device);
        let mut noise = Noise::new(0);
        let z = noise.normal_tensor(64, 2, &device);
        let y = noise.normal_tensor(64, 2, &device);
        let (x, ld_f) = flow.forward_with_logdet(z.clone(), y.clone());
        let (z2, ld_i) = flow.inverse(x, y);
        for (a, b) in to_vec(z).iter().zip(to_vec(z2)) {
            assert!((a - b).abs() < 1e-4, "{a} vs {b}");
        }
        // log|det dz/dx| = -log|det dx/dz|.
        for (a, b) in to_vec(ld_f).iter().zip(to_vec(ld_i)) {
            assert!((a + b).abs() < 1e-4);
        }
    }

    #[test]
    fn logdet_matches_autodiff_and_finite_difference_jacobians() {
        let ad = Device::flex().autodiff();
        let flow = random_flow(&ad);
        let plain = flow.valid();
        let pts = [
            ([0.3f32, -1.2f32], [0.5f32, 0.1f32]),
            ([-0.8, 0.4], [-1.0, 2.0]),
        ];
        for (z0, y0) in pts {
            let y = Tensor::<2>::from_data([y0], &ad);
            // Autodiff Jacobian, one row per output coordinate.
            let mut jac = [[0.0f32; 2]; 2];
            for (i, row) in jac.iter_mut().enumerate() {
                let z = Tensor::<2>::from_data([z0], &ad).require_grad();
                let (x, _) = flow.forward_with_logdet(z.clone(), y.clone());
                let grads = x.narrow(1, i, 1).sum().backward();
                let g = to_vec(z.grad(&grads).unwrap());
                row.copy_from_slice(&g);
            }
            let det_ad = (jac[0][0] * jac[1][1] - jac[0][1] * jac[1][0]).abs().ln();
            let (_, ld) = plain.forward_with_logdet(
                Tensor::<2>::from_data([z0], &plain.log_scale.val().device()),
                Tensor::<2>::from_data([y0], &plain.log_scale.val().device()),
            );
            let ld = to_vec(ld)[0];
            // Both exact up to f32 rounding.
            assert!((det_ad - ld).abs() < 1e-3, "autodiff {det_ad} vs {ld}");
            // Central finite differences, eps 1e-2 in f32: truncation O(eps^2) and rounding
            // O(1e-7 / eps) keep the log-det within ~1e-2.
            let dev = Device::flex();
            let f = |z: [f32; 2]| {
                let (x, _) = plain.forward_with_logdet(
                    Tensor::<2>::from_data([z], &dev),
                    Tensor::<2>::from_data([y0], &dev),
                );
                to_vec(x)
            };
            let eps = 1e-2f32;
            let mut fd = [[0.0f32; 2]; 2];
            for j in 0..2 {
                let (mut zp, mut zm) = (z0, z0);
                zp[j] += eps;
                zm[j] -= eps;
                let (xp, xm) = (f(zp), f(zm));
                for i in 0..2 {
                    fd[i][j] = (xp[i] - xm[i]) / (2.0 * eps);
                }
            }
            let det_fd = (fd[0][0] * fd[1][1] - fd[0][1] * fd[1][0]).abs().ln();
            assert!(
                (det_fd - ld).abs() < 1e-2,
                "finite differences {det_fd} vs {ld}"
            );
        }
    }

    #[test]
    fn zero_init_flow_is_the_gaussian_around_y() {
        // Zero last layers: every coupling is the identity, so x = y + sigma z and
        // logdet = d ln sigma, exactly.
        let device = Device::flex();
        let sigma = 0.5f32;
        let flow = CondRealNvpConfig::new(2, 2)
            .with_init_scale(sigma)
            .init(&device);
        let mut noise = Noise::new(1);
        let z = noise.normal_tensor(16, 2, &device);
        let y = noise.normal_tensor(16, 2, &device);
        let (x, ld) = flow.forward_with_logdet(z.clone(), y.clone());
        let expect = to_vec(y + z * sigma);
        for (a, b) in to_vec(x).iter().zip(expect) {
            assert!((a - b).abs() < 1e-6);
        }
        for v in to_vec(ld) {
            assert!((v - 2.0 * sigma.ln()).abs() < 1e-6);
        }
    }

    #[test]
    fn log_scale_stays_bounded_for_huge_inputs() {
        let device = Device::flex();
        let flow = random_flow(&device);
        let mut noise = Noise::new(2);
        let h = noise.normal_tensor(32, 2, &device) * 1e3;
        let y = noise.normal_tensor(32, 2, &device) * 1e3;
        for c in flow.couplings() {
            let (log_s, _) = c.log_scale_and_shift(h.clone(), y.clone());
            let v = to_vec(log_s);
            assert!(v.iter().all(|s| s.abs() <= 2.0 + 1e-6 && s.is_finite()));
            // Some entries saturate, so the bound is what holds them.
            assert!(v.iter().any(|s| s.abs() > 1.9));
        }
    }

    #[test]
    fn masks() {
        assert_eq!(MaskKind::Alternate.mask(2, 0), vec![1.0, 0.0]);
        assert_eq!(MaskKind::Alternate.mask(2, 1), vec![0.0, 1.0]);
        let cb = MaskKind::Checkerboard { h: 2, w: 2 };
        assert_eq!(cb.mask(4, 0), vec![1.0, 0.0, 0.0, 1.0]);
        assert_eq!(cb.mask(4, 1), vec![0.0, 1.0, 1.0, 0.0]);
    }
}

//! The flow's amortised-inference objective (our operationalisation of the paper's
//! "amortized inference loss" `E_y KL(q_phi(x|y) || p(x|y))`), the Gaussian prior of the
//! flow-only baseline with its closed-form EM fit, and the EMA update of the prior.
//!
//! ```text
//! L_flow(phi) = E_y E_z [ ||y - f(x)||^2 / (2 sigma^2) + w l_theta(x) - log|det dx/dz| ],  x = G_phi(z; y)
//! ```

use burn::prelude::*;
use serde::{Deserialize, Serialize};

use crate::corruption::{CorruptionError, ForwardOperator, Observations};
use crate::diffusion::{Denoiser, LogSnrSchedule, elbo_surrogate};
use crate::flow::CondFlow;
use repro_core::host::to_vec;
use repro_core::linalg;
use repro_core::rng::Noise;

const LN_2PI: f64 = 1.837_877_066_409_345_3;

/// A Gaussian prior `N(mu, Sigma)` on the host (`f64`), with its Cholesky factor.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GaussianPrior {
    /// Mean `[d]`.
    pub mean: Vec<f64>,
    /// Covariance `[d, d]`, row-major.
    pub cov: Vec<f64>,
    /// Dimension.
    pub dim: usize,
    chol: Vec<f64>,
}

impl GaussianPrior {
    /// `N(mean, cov)`; `None` if `cov` is not positive definite.
    pub fn new(mean: Vec<f64>, cov: Vec<f64>) -> Option<Self> {
        let dim = mean.len();
        let chol = linalg::cholesky(&cov, dim)?;
        Some(Self {
            mean,
            cov,
            dim,
            chol,
        })
    }

    /// `-log N(x; mu, Sigma)` with all constants: `1/2 ||L^-1 (x - mu)||^2 + 1/2 log det Sigma
    /// + d/2 log 2 pi`.
    ///
    /// # Shapes
    /// - x: `[n, d]` -> `[n]`
    pub fn neg_log_density(&self, x: Tensor<2>) -> Tensor<1> {
        let d = self.dim;
        let device = x.device();
        let li = linalg::lower_inverse(&self.chol, d);
        let wt: Vec<f32> = linalg::transpose(&li, d, d)
            .iter()
            .map(|&v| v as f32)
            .collect();
        let wt = Tensor::<2>::from_data(TensorData::new(wt, [d, d]), &device);
        let mu: Vec<f32> = self.mean.iter().map(|&v| v as f32).collect();
        let mu = Tensor::<2>::from_data(TensorData::new(mu, [1, d]), &device);
        let half_logdet: f64 = (0..d).map(|i| self.chol[i * d + i].ln()).sum();
        let c = (half_logdet + 0.5 * d as f64 * LN_2PI) as f32;
        let w = (x - mu).matmul(wt); // [n, d]
        w.powi_scalar(2).sum_dim(1).squeeze_dim(1) * 0.5 + c
    }

    /// `n` samples `mu + L z`.
    ///
    /// # Shapes
    /// - returns `[n, d]`
    pub fn sample(&self, n: usize, noise: &mut Noise, device: &Device) -> Tensor<2> {
        let d = self.dim;
        let mut out = Vec::with_capacity(n * d);
        for _ in 0..n {
            let z: Vec<f64> = (0..d).map(|_| noise.normal()).collect();
            for i in 0..d {
                let v: f64 = (0..=i).map(|k| self.chol[i * d + k] * z[k]).sum();
                out.push((self.mean[i] + v) as f32);
            }
        }
        Tensor::from_data(TensorData::new(out, [n, d]), device)
    }

    /// Posterior (Wiener) means `m_i = V (Sigma^-1 mu + A^T y_i / sigma^2)`,
    /// `V = (Sigma^-1 + A^T A / sigma^2)^-1`.
    ///
    /// # Shapes
    /// - y: `[n, m]` -> `[n, d]`
    pub fn posterior_mean(&self, y: Tensor<2>, op: &dyn ForwardOperator) -> Tensor<2> {
        let device = y.device();
        let [n, m] = y.dims();
        let yv: Vec<f64> = to_vec(y).iter().map(|&v| f64::from(v)).collect();
        let (v, p) = posterior_cov(&self.cov, op, self.dim).expect("prior covariance is SPD");
        let means = wiener_means(&yv, n, m, &self.mean, &p, &v, op);
        let f: Vec<f32> = means.iter().map(|&v| v as f32).collect();
        Tensor::from_data(TensorData::new(f, [n, self.dim]), &device)
    }
}

/// `(V, Sigma^-1)` with `V = (Sigma^-1 + A^T A / sigma^2)^-1`.
fn posterior_cov(cov: &[f64], op: &dyn ForwardOperator, d: usize) -> Option<(Vec<f64>, Vec<f64>)> {
    let m = op.out_dim();
    let a = op.dense();
    let s2 = f64::from(op.sigma()).powi(2);
    let p = linalg::spd_inverse(cov, d)?;
    let ata = linalg::matmul(&linalg::transpose(&a, m, d), &a, d, m, d);
    let prec: Vec<f64> = p.iter().zip(&ata).map(|(x, y)| x + y / s2).collect();
    Some((linalg::spd_inverse(&prec, d)?, p))
}

fn wiener_means(
    y: &[f64],
    n: usize,
    m: usize,
    mu: &[f64],
    p: &[f64],
    v: &[f64],
    op: &dyn ForwardOperator,
) -> Vec<f64> {
    let d = mu.len();
    let a = op.dense();
    let s2 = f64::from(op.sigma()).powi(2);
    let pmu = linalg::matmul(p, mu, d, d, 1);
    let aty = linalg::matmul(y, &a, n, m, d); // rows A^T y_i
    let mut rhs = vec![0.0; n * d];
    for i in 0..n {
        for j in 0..d {
            rhs[i * d + j] = pmu[j] + aty[i * d + j] / s2;
        }
    }
    // m_i = V rhs_i, i.e. rows rhs V^T (V symmetric).
    linalg::matmul(&rhs, v, n, d, d)
}

/// Closed-form EM for the linear-Gaussian model `y = A x + sigma n`, `x ~ N(mu, Sigma)`:
/// E-step `V = (Sigma^-1 + A^T A / sigma^2)^-1`, `m_i = V (Sigma^-1 mu + A^T y_i / sigma^2)`;
/// M-step `mu = mean m_i`, `Sigma = V + cov(m_i)`. Initialised at the moment fit
/// `mu = mean y`, `Sigma = eigclip(cov(y) - sigma^2 I, 1e-4)` when `A` is square, else
/// `mu = A^T mean y`, `Sigma = I`. For `A = I` the initialisation is the fixed point.
///
/// # Errors
/// No observations, or a covariance that loses positive definiteness.
pub fn fit_gaussian_em(
    obs: &Observations,
    op: &dyn ForwardOperator,
    iters: usize,
) -> Result<GaussianPrior, CorruptionError> {
    let [n, m] = obs.0.dims();
    if n == 0 {
        return Err(CorruptionError::NoSamples("fit_gaussian_em"));
    }
    let d = op.in_dim();
    let y: Vec<f64> = to_vec(obs.0.clone())
        .iter()
        .map(|&v| f64::from(v))
        .collect();
    let s2 = f64::from(op.sigma()).powi(2);
    let (my, cy) = linalg::mean_cov(&y, n, m);
    let (mut mu, mut cov) = if m == d {
        let mut c = cy.clone();
        for i in 0..d {
            c[i * d + i] -= s2;
        }
        (my, linalg::sym_apply(&c, d, |w| w.max(1e-4)))
    } else {
        let a = op.dense();
        (linalg::matmul(&my, &a, 1, m, d), linalg::eye(d))
    };
    let bad = || CorruptionError::Shape("Gaussian EM: covariance is not positive definite".into());
    for _ in 0..iters {
        let (v, p) = posterior_cov(&cov, op, d).ok_or_else(bad)?;
        let means = wiener_means(&y, n, m, &mu, &p, &v, op);
        let (mm, cm) = linalg::mean_cov(&means, n, d);
        mu = mm;
        cov = v.iter().zip(&cm).map(|(a, b)| a + b).collect();
        // Symmetrise against rounding drift.
        for i in 0..d {
            for j in 0..i {
                let s = 0.5 * (cov[i * d + j] + cov[j * d + i]);
                cov[i * d + j] = s;
                cov[j * d + i] = s;
            }
        }
    }
    GaussianPrior::new(mu, cov).ok_or_else(bad)
}

/// The prior term of the flow objective.
pub enum PriorTerm<'a, D: Denoiser> {
    /// `w l_theta(x)` with `k` stratified draws (the FlowDiff prior; `den` frozen).
    Diffusion {
        /// The (EMA) denoiser, with gradients disabled on its parameters.
        den: &'a D,
        /// Draws of `(t, eps)` per sample.
        k: usize,
        /// Weight `w`.
        weight: f32,
        /// Noise schedule.
        schedule: LogSnrSchedule,
    },
    /// `-log N(x; mu, Sigma)` (the flow-only baseline).
    Gaussian(&'a GaussianPrior),
}

/// The flow objective and its parts (batch means, nats).
#[derive(Debug, Clone)]
pub struct FlowLoss {
    /// Scalar objective to differentiate.
    pub total: Tensor<1>,
    /// `||y - f(x)||^2 / (2 sigma^2)`.
    pub data: f32,
    /// Prior term (`w l_theta` or `-log N`).
    pub prior: f32,
    /// `-log |det dx/dz|`.
    pub neg_logdet: f32,
    /// `-ELBO(y)`: the objective plus `(m/2) log(2 pi sigma^2) - (d/2) log 2 pi - ||z||^2/2`
    /// (an upper bound on `-log p(y)` up to the diffusion prior's constant).
    pub neg_elbo: f32,
}

/// [`flow_loss_with_z`] with fresh `z ~ N(0, I)`.
///
/// # Shapes
/// - y: `[n, m]`
pub fn flow_loss<D: Denoiser>(
    flow: &impl CondFlow,
    op: &dyn ForwardOperator,
    y: Tensor<2>,
    prior: PriorTerm<'_, D>,
    noise: &mut Noise,
) -> FlowLoss {
    let [n, _] = y.dims();
    let z = noise.normal_tensor(n, op.in_dim(), &y.device());
    flow_loss_with_z(flow, op, y, z, prior, noise)
}

/// The flow objective for given base draws `z`.
///
/// # Shapes
/// - y: `[n, m]`, z: `[n, d]`
pub fn flow_loss_with_z<D: Denoiser>(
    flow: &impl CondFlow,
    op: &dyn ForwardOperator,
    y: Tensor<2>,
    z: Tensor<2>,
    prior: PriorTerm<'_, D>,
    noise: &mut Noise,
) -> FlowLoss {
    let [_, d] = z.dims();
    let m = op.out_dim();
    let sigma = op.sigma();
    let (x, logdet) = flow.forward_with_logdet(z.clone(), y.clone());
    let data = (y - op.apply(x.clone()))
        .powi_scalar(2)
        .sum_dim(1)
        .squeeze_dim(1)
        / (2.0 * sigma * sigma); // [n]
    let prior_v = match prior {
        PriorTerm::Diffusion {
            den,
            k,
            weight,
            schedule,
        } => elbo_surrogate(den, x, &schedule, k, noise) * weight,
        PriorTerm::Gaussian(g) => g.neg_log_density(x),
    };
    let per_row = data.clone() + prior_v.clone() - logdet.clone(); // [n]
    let total = per_row.mean();
    let zsq = z.powi_scalar(2).sum_dim(1).squeeze_dim(1) * 0.5;
    let parts = Tensor::stack::<2>(vec![data, prior_v, logdet.neg(), zsq], 1)
        .detach()
        .mean_dim(0); // [1, 4]
    let v = to_vec(parts);
    let c = 0.5 * m as f64 * (2.0 * std::f64::consts::PI * f64::from(sigma).powi(2)).ln()
        - 0.5 * d as f64 * LN_2PI;
    let neg_elbo = f64::from(v[0] + v[1] + v[2]) + c - f64::from(v[3]);
    FlowLoss {
        total,
        data: v[0],
        prior: v[1],
        neg_logdet: v[2],
        neg_elbo: neg_elbo as f32,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::corruption::IdentityOp;
    use crate::diffusion::MlpDenoiser;
    use burn::module::Param;

    use crate::flow::CondRealNvpConfig;

    /// `x = 0.8 y + sqrt(0.2) z`: the exact posterior of `N(0, I)` under `sigma = 0.5` noise.
    struct AffineFlow;
    impl CondFlow for AffineFlow {
        fn forward_with_logdet(&self, z: Tensor<2>, y: Tensor<2>) -> (Tensor<2>, Tensor<1>) {
            let [n, _] = z.dims();
            let ld = Tensor::<1>::full([n], 0.2f32.ln(), &z.device()); // d/2 ln 0.2 * 2 = ln 0.2
            (y * 0.8 + z * 0.2f32.sqrt(), ld)
        }
    }

    #[test]
    fn gaussian_nll_by_hand() {
        // N(mu = (1, 0), Sigma = [[4, 2], [2, 2]]): det 4, Sigma^-1 = [[0.5, -0.5], [-0.5, 1]].
        // x = (3, 1): r = (2, 1), r' Sigma^-1 r = 2 - 2 + 1 = 1, so
        // -log N = 1/2 + 1/2 ln 4 + ln 2 pi = 3.0310242 (f32: 1e-5). At x = mu: 1/2 ln 4 + ln 2 pi.
        let device = Device::flex();
        let g = GaussianPrior::new(vec![1.0, 0.0], vec![4.0, 2.0, 2.0, 2.0]).unwrap();
        let x = Tensor::<2>::from_floats([[3.0, 1.0], [1.0, 0.0]], &device);
        let v = repro_core::host::to_vec(g.neg_log_density(x));
        let c = 0.5 * 4f64.ln() + (2.0 * std::f64::consts::PI).ln();
        assert!((f64::from(v[0]) - (0.5 + c)).abs() < 1e-5, "{v:?}");
        assert!((f64::from(v[1]) - c).abs() < 1e-5, "{v:?}");
        // Not positive definite: refused.
        assert!(GaussianPrior::new(vec![0.0, 0.0], vec![1.0, 2.0, 2.0, 1.0]).is_none());
    }

    #[test]
    fn neg_elbo_of_the_exact_posterior_is_the_evidence() {
        // Prior N(0, I_2), sigma = 0.5: posterior variance 1/(1 + 4) = 0.2, mean 0.8 y; for an
        // exact posterior -ELBO = -log p(y) = -log N(y; 0, 1.25 I) = ln(2 pi 1.25) + 5/2.5
        // = 4.061021 for y = (1, -2), for every z (f32: 1e-4).
        let device = Device::flex();
        let op = IdentityOp::new(2, 0.5).unwrap();
        let g = GaussianPrior::new(vec![0.0, 0.0], vec![1.0, 0.0, 0.0, 1.0]).unwrap();
        let mut noise = Noise::new(0);
        for zv in [[0.0f32, 0.0], [1.3, -0.4], [-2.0, 0.7]] {
            let y = Tensor::<2>::from_data([[1.0f32, -2.0]], &device);
            let z = Tensor::<2>::from_data([zv], &device);
            let l = flow_loss_with_z::<MlpDenoiser>(
                &AffineFlow,
                &op,
                y,
                z,
                PriorTerm::Gaussian(&g),
                &mut noise,
            );
            assert!((l.neg_elbo - 4.061021).abs() < 1e-4, "{}", l.neg_elbo);
        }
    }

    #[test]
    fn flow_loss_gradient_matches_finite_differences() {
        // 1-coupling, hidden-4 flow with non-zero weights; dL/dphi by autodiff vs central
        // differences (eps 1e-3, f32, relative 2e-2; spec) on the output scale l and on one
        // conditioner weight. Fixed z and a Gaussian prior make L deterministic.
        let ad = Device::flex().autodiff();
        let flow = repro_core::device::init_params_now(
            CondRealNvpConfig::new(2, 2)
                .with_n_couplings(1)
                .with_hidden(4)
                .with_hidden_layers(1)
                .with_zero_init(false)
                .init(&ad),
        );
        let op = IdentityOp::new(2, 0.5).unwrap();
        let g = GaussianPrior::new(vec![0.1, -0.2], vec![1.0, 0.3, 0.3, 0.8]).unwrap();
        let mut noise = Noise::new(1);
        let y = noise.normal_tensor(8, 2, &ad);
        let z = noise.normal_tensor(8, 2, &ad);
        let l = flow_loss_with_z::<MlpDenoiser>(
            &flow,
            &op,
            y.clone(),
            z.clone(),
            PriorTerm::Gaussian(&g),
            &mut noise,
        );
        let grads = l.total.backward();
        let g_l = to_vec(flow.log_scale.grad(&grads).unwrap());
        let plain = flow.valid();
        let (yp, zp) = (y.inner(), z.inner());
        let eval = |f: &crate::flow::CondRealNvp| -> f64 {
            let mut nz = Noise::new(9);
            let l = flow_loss_with_z::<MlpDenoiser>(
                f,
                &op,
                yp.clone(),
                zp.clone(),
                PriorTerm::Gaussian(&g),
                &mut nz,
            );
            f64::from(l.total.into_scalar::<f32>())
        };
        let h = 1e-3f32;
        for j in 0..2 {
            let shift = |delta: f32| {
                let mut f = plain.clone();
                let mut v = to_vec(f.log_scale.val());
                v[j] += delta;
                f.log_scale =
                    Param::from_tensor(Tensor::from_data(TensorData::new(v, [2]), &Device::flex()));
                eval(&f)
            };
            let fd = (shift(h) - shift(-h)) / (2.0 * f64::from(h));
            let gj = f64::from(g_l[j]);
            assert!(
                (fd - gj).abs() <= 2e-2 * gj.abs().max(0.1),
                "l[{j}]: fd {fd} vs {gj}"
            );
        }
    }

    #[test]
    fn gaussian_em_with_identity_returns_the_moment_fit() {
        // For A = I the initialisation (mean y, cov(y) - sigma^2 I) is EM's fixed point.
        let device = Device::flex();
        let mut noise = Noise::new(2);
        let x = noise.normal_tensor(2000, 2, &device) * 1.5 + 0.3;
        let op = IdentityOp::new(2, 0.5).unwrap();
        let y = Observations(x);
        let fit = fit_gaussian_em(&y, &op, 50).unwrap();
        let yv: Vec<f64> = to_vec(y.0.clone()).iter().map(|&v| f64::from(v)).collect();
        let (my, cy) = linalg::mean_cov(&yv, 2000, 2);
        for i in 0..2 {
            assert!((fit.mean[i] - my[i]).abs() < 1e-9);
            for j in 0..2 {
                let want = cy[i * 2 + j] - if i == j { 0.25 } else { 0.0 };
                assert!((fit.cov[i * 2 + j] - want).abs() < 1e-9);
            }
        }
    }
}

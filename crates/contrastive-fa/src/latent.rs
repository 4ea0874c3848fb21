//! Latent factors and their posteriors: the Gaussian of CFA and the Weibull posterior /
//! Gamma prior of CNFA, with reparameterised sampling, closed-form KL divergences,
//! entropies and means.
//!
//! All of it is **our operationalisation** of the abstract of *Contrastive Factor Analysis*
//! (Duan, Wen et al., arXiv 2407.21740), which publishes no code; the Weibull–Gamma KL is
//! WHAI's (Zhang et al., ICLR 2018), identical to the Bo Chen group's public `KL_GamWei`
//! after flipping its sign (that function returns −KL as an ELBO term).
//!
//! - Gaussian (CFA): `q = N(μ, diag σ²)`, `θ = μ + σ ⊙ ε`, `ε ~ N(0, I)`, prior `N(0, I)`:
//!   `KL = ½ Σ_k (μ_k² + σ_k² − 1 − ln σ_k²)`, `H = Σ_k ½ ln(2πe σ_k²)`.
//! - Weibull (CNFA): `q_k = Weibull(k, λ)`, `θ = λ (−ln(1 − u))^{1/k}`, `u ~ U(0, 1)`
//!   clamped in f32 to `[1e-6, 1 − 1e-6]` and `−ln(1 − u)` computed as `−log1p(−u)`;
//!   prior `Gamma(α, β)` (shape, rate):
//!   `KL = γα/k − α ln λ + ln k + βλ Γ(1 + 1/k) − γ − 1 − α ln β + ln Γ(α)`,
//!   `H = Σ_k [γ(1 − 1/k) + ln(λ/k) + 1]`, mean `λ Γ(1 + 1/k)`, median `λ (ln 2)^{1/k}`.
//!
//! γ is the Euler–Mascheroni constant to full double precision ([`EULER_GAMMA`]); a public
//! `KL_GamWei` uses 0.5772, which moves the KL at (k 2, λ 1.5, α 0.5, β 1) from 0.959208 to
//! 0.959220. `ln Γ` on tensors is [`repro_core::special::lgamma_tensor`], differentiable
//! (its gradient is the digamma).
//!
//! ```
//! use burn::tensor::{Device, Tensor, TensorData};
//! use repro_contrastive_fa::latent::{Gamma, Weibull, kl_weibull_gamma};
//! // Host side, with checked parameters.
//! let q = Weibull::new(2.0, 1.5)?;
//! let kl = q.kl_to_gamma(&Gamma::new(0.5, 1.0)?);
//! assert!((kl - 0.959208).abs() < 1e-6);
//! assert!(Weibull::new(0.0, 1.0).is_err());
//! // Tensor side, summed over the K columns, one value per row.
//! let d = Device::flex();
//! let k = Tensor::<2>::from_data(TensorData::new(vec![2.0f32, 1.0], [1, 2]), &d);
//! let lambda = Tensor::<2>::from_data(TensorData::new(vec![1.5f32, 2.0], [1, 2]), &d);
//! let kl = kl_weibull_gamma(k, lambda, 0.5, 1.0)?;
//! assert_eq!(kl.dims(), [1]);
//! # Ok::<(), repro_contrastive_fa::Error>(())
//! ```

use burn::tensor::activation::softplus;
use burn::tensor::{Tensor, TensorData};
use repro_core::rng::Noise;
use repro_core::special::{lgamma, lgamma_tensor};
use serde::{Deserialize, Serialize};

use crate::Error;

/// The Euler–Mascheroni constant γ (full f64 precision).
pub const EULER_GAMMA: f64 = 0.577_215_664_901_532_9;

/// Weibull shapes are clamped to this range after the softplus (spec §3; Γ(1 + 1/k)
/// explodes for small k: Γ(11) ≈ 3.6e6 at k = 0.1).
pub const K_RANGE: (f32, f32) = (0.1, 1e3);
/// Weibull scales are clamped to this range after the softplus (the public `KL_GamWei`
/// variant's bounds).
pub const LAMBDA_RANGE: (f32, f32) = (1e-10, 1e6);
/// Gaussian log-variances are clamped to this range.
pub const LOG_VAR_RANGE: (f32, f32) = (-10.0, 5.0);
/// Uniform draws for Weibull sampling are clamped to this range, in f32 (u near 1 gives
/// huge θ).
pub const U_RANGE: (f32, f32) = (1e-6, 1.0 - 1e-6);

/// The latent factor model: CFA's Gaussian or CNFA's Weibull posterior with a Gamma prior.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub enum Latent {
    /// CFA: Gaussian posterior, standard normal prior.
    Gaussian,
    /// CNFA: Weibull posterior, `Gamma(alpha0, beta0)` prior (shape, rate).
    Weibull {
        /// Prior shape α₀ (> 0).
        alpha0: f32,
        /// Prior rate β₀ (> 0).
        beta0: f32,
    },
}

impl Latent {
    /// CNFA's latent with a checked `Gamma(alpha0, beta0)` prior.
    ///
    /// # Errors
    /// [`Error::NonPositive`] if either parameter is not a positive finite number.
    pub fn weibull(alpha0: f32, beta0: f32) -> Result<Self, Error> {
        let l = Self::Weibull { alpha0, beta0 };
        l.validate()?;
        Ok(l)
    }

    /// Checks the prior's parameters.
    ///
    /// # Errors
    /// [`Error::NonPositive`] for a non-positive (or non-finite) Gamma shape or rate.
    pub fn validate(&self) -> Result<(), Error> {
        if let Self::Weibull { alpha0, beta0 } = *self {
            positive("Gamma prior shape α₀", f64::from(alpha0))?;
            positive("Gamma prior rate β₀", f64::from(beta0))?;
        }
        Ok(())
    }

    /// `"CFA"` or `"CNFA"`.
    pub fn family(&self) -> &'static str {
        match self {
            Self::Gaussian => "CFA",
            Self::Weibull { .. } => "CNFA",
        }
    }
}

pub(crate) fn positive(what: &'static str, value: f64) -> Result<f64, Error> {
    if value.is_finite() && value > 0.0 {
        Ok(value)
    } else {
        Err(Error::NonPositive { what, value })
    }
}

/// An amortised posterior over `[n, K]` latent factors.
#[derive(Debug, Clone)]
pub enum Posterior {
    /// `N(mu, exp(log_var))` per entry.
    Gaussian {
        /// Means, `[n, K]`.
        mu: Tensor<2>,
        /// Log-variances, `[n, K]` (clamped to [`LOG_VAR_RANGE`] by [`Posterior::from_heads`]).
        log_var: Tensor<2>,
    },
    /// `Weibull(k, lambda)` per entry.
    Weibull {
        /// Shapes, `[n, K]`.
        k: Tensor<2>,
        /// Scales, `[n, K]`.
        lambda: Tensor<2>,
    },
}

impl Posterior {
    /// The posterior from the two raw head outputs `a`, `b`: Gaussian `μ = a`,
    /// `ln σ² = clamp(b, −10, 5)`; Weibull `k = clamp(softplus(a), 0.1, 1e3)`,
    /// `λ = clamp(softplus(b), 1e-10, 1e6)`.
    ///
    /// # Shapes
    /// - `a`, `b`: `[n, K]`
    pub fn from_heads(latent: &Latent, a: Tensor<2>, b: Tensor<2>) -> Self {
        match latent {
            Latent::Gaussian => Self::Gaussian {
                mu: a,
                log_var: b.clamp(LOG_VAR_RANGE.0, LOG_VAR_RANGE.1),
            },
            Latent::Weibull { .. } => Self::Weibull {
                k: softplus(a, 1.0).clamp(K_RANGE.0, K_RANGE.1),
                lambda: softplus(b, 1.0).clamp(LAMBDA_RANGE.0, LAMBDA_RANGE.1),
            },
        }
    }

    /// `[n, K]`.
    pub fn dims(&self) -> [usize; 2] {
        match self {
            Self::Gaussian { mu, .. } => mu.dims(),
            Self::Weibull { k, .. } => k.dims(),
        }
    }

    /// Draws the base noise of [`Posterior::rsample`] from `noise`, row-major: standard
    /// normals for a Gaussian, uniforms in `[0, 1)` for a Weibull.
    ///
    /// # Shapes
    /// - returns `[n, K]` on the posterior's device
    pub fn draw_base(&self, noise: &mut Noise) -> Tensor<2> {
        let [n, k] = self.dims();
        let device = match self {
            Self::Gaussian { mu, .. } => mu.device(),
            Self::Weibull { k, .. } => k.device(),
        };
        match self {
            Self::Gaussian { .. } => noise.normal_tensor(n, k, &device),
            Self::Weibull { .. } => {
                let u: Vec<f32> = (0..n * k).map(|_| noise.uniform() as f32).collect();
                Tensor::from_data(TensorData::new(u, [n, k]), &device)
            }
        }
    }

    /// A reparameterised sample: `μ + σ ε` for a Gaussian (`u_or_eps` = ε), the Weibull
    /// inverse CDF [`weibull_rsample`] for a Weibull (`u_or_eps` = u).
    ///
    /// # Shapes
    /// - `u_or_eps`: `[n, K]`
    /// - returns `[n, K]`
    pub fn rsample(&self, u_or_eps: Tensor<2>) -> Tensor<2> {
        match self {
            Self::Gaussian { mu, log_var } => mu.clone() + (log_var.clone() * 0.5).exp() * u_or_eps,
            Self::Weibull { k, lambda } => weibull_rsample(k.clone(), lambda.clone(), u_or_eps),
        }
    }

    /// The posterior mean: `μ`, or `λ Γ(1 + 1/k)`.
    ///
    /// # Shapes
    /// - returns `[n, K]`
    pub fn mean(&self) -> Tensor<2> {
        match self {
            Self::Gaussian { mu, .. } => mu.clone(),
            Self::Weibull { k, lambda } => weibull_mean(k.clone(), lambda.clone()),
        }
    }

    /// The entropy per row, summed over the K factors (higher = more uncertain).
    ///
    /// # Shapes
    /// - returns `[n]`
    pub fn entropy(&self) -> Tensor<1> {
        match self {
            Self::Gaussian { log_var, .. } => gaussian_entropy(log_var.clone()),
            Self::Weibull { k, lambda } => weibull_entropy(k.clone(), lambda.clone()),
        }
    }

    /// `KL(q ‖ p)` per row, summed over the K factors.
    ///
    /// # Shapes
    /// - returns `[n]`
    ///
    /// # Errors
    /// [`Error::PriorMismatch`] when a Gaussian posterior meets a Gamma prior or the other
    /// way round; [`Error::NonPositive`] for a bad Gamma prior.
    pub fn kl(&self, prior: &Latent) -> Result<Tensor<1>, Error> {
        match (self, prior) {
            (Self::Gaussian { mu, log_var }, Latent::Gaussian) => {
                Ok(kl_gauss_std(mu.clone(), log_var.clone()))
            }
            (Self::Weibull { k, lambda }, Latent::Weibull { alpha0, beta0 }) => {
                kl_weibull_gamma(k.clone(), lambda.clone(), *alpha0, *beta0)
            }
            (post, prior) => Err(Error::PriorMismatch {
                posterior: match post {
                    Self::Gaussian { .. } => "Gaussian",
                    Self::Weibull { .. } => "Weibull",
                },
                prior: prior.family(),
            }),
        }
    }
}

/// Rows summed to a vector.
fn row_sums(x: Tensor<2>) -> Tensor<1> {
    let [n, _] = x.dims();
    x.sum_dim(1).reshape([n])
}

/// `KL(N(μ, σ²) ‖ N(0, 1))` summed over columns: `½ Σ_k (μ² + σ² − 1 − ln σ²)`.
///
/// # Shapes
/// - `mu`, `log_var`: `[n, K]`
/// - returns `[n]`
pub fn kl_gauss_std(mu: Tensor<2>, log_var: Tensor<2>) -> Tensor<1> {
    let terms = mu.powi_scalar(2) + log_var.clone().exp() - 1.0 - log_var;
    row_sums(terms) * 0.5
}

/// `KL(Weibull(k, λ) ‖ Gamma(α, β))` summed over columns (WHAI; see the module docs). The
/// term `βλ Γ(1 + 1/k)` is computed as `β exp(ln Γ(1 + 1/k) + ln λ)`.
///
/// `k` and `λ` must be positive (the posterior heads clamp them); they are not checked,
/// since that would read the tensors back.
///
/// # Shapes
/// - `k`, `lambda`: `[n, K]`
/// - returns `[n]`
///
/// # Errors
/// [`Error::NonPositive`] if `alpha` or `beta` is not a positive finite number.
pub fn kl_weibull_gamma(
    k: Tensor<2>,
    lambda: Tensor<2>,
    alpha: f32,
    beta: f32,
) -> Result<Tensor<1>, Error> {
    let a = positive("Gamma prior shape α", f64::from(alpha))?;
    let b = positive("Gamma prior rate β", f64::from(beta))?;
    let [_, cols] = k.dims();
    let ln_lambda = lambda.log();
    let inv_k = k.clone().recip();
    let gamma_term = (lgamma_tensor(inv_k.clone() + 1.0) + ln_lambda.clone()).exp() * b;
    let per_entry = inv_k * (EULER_GAMMA * a) - ln_lambda * a + k.log() + gamma_term;
    // The constant part, once per column.
    let constant = -EULER_GAMMA - 1.0 - a * b.ln() + lgamma(a);
    Ok(row_sums(per_entry) + constant * cols as f64)
}

/// Weibull reparameterisation `θ = λ (−ln(1 − u))^{1/k}`, with `u` clamped in f32 to
/// [`U_RANGE`] and `−ln(1 − u) = −log1p(−u)`; written `λ exp(ln(−log1p(−u)) / k)`.
///
/// # Shapes
/// - `k`, `lambda`, `u`: `[n, K]`
/// - returns `[n, K]`
pub fn weibull_rsample(k: Tensor<2>, lambda: Tensor<2>, u: Tensor<2>) -> Tensor<2> {
    let u = u.clamp(U_RANGE.0, U_RANGE.1).detach();
    let w = u.neg().log1p().neg().log(); // ln(−ln(1 − u)), a constant of the sample
    lambda * (w / k).exp()
}

/// The Weibull mean `λ Γ(1 + 1/k)`, as `exp(ln Γ(1 + 1/k) + ln λ)`.
///
/// # Shapes
/// - `k`, `lambda`: `[n, K]`
/// - returns `[n, K]`
pub fn weibull_mean(k: Tensor<2>, lambda: Tensor<2>) -> Tensor<2> {
    (lgamma_tensor(k.recip() + 1.0) + lambda.log()).exp()
}

/// The Weibull entropy summed over columns: `Σ_k [γ(1 − 1/k) + ln(λ/k) + 1]`.
///
/// # Shapes
/// - `k`, `lambda`: `[n, K]`
/// - returns `[n]`
pub fn weibull_entropy(k: Tensor<2>, lambda: Tensor<2>) -> Tensor<1> {
    let terms = (k.clone().recip().neg() + 1.0) * EULER_GAMMA + lambda.log() - k.log() + 1.0;
    row_sums(terms)
}

/// The Gaussian entropy summed over columns: `Σ_k ½ ln(2πe σ_k²)`.
///
/// # Shapes
/// - `log_var`: `[n, K]`
/// - returns `[n]`
pub fn gaussian_entropy(log_var: Tensor<2>) -> Tensor<1> {
    let c = (2.0 * std::f64::consts::PI).ln() + 1.0;
    row_sums((log_var + c) * 0.5)
}

/// A Weibull distribution with checked parameters (host side, f64).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Weibull {
    k: f64,
    lambda: f64,
}

impl Weibull {
    /// `Weibull(k, lambda)` (shape, scale).
    ///
    /// # Errors
    /// [`Error::NonPositive`] if either parameter is not a positive finite number.
    pub fn new(k: f64, lambda: f64) -> Result<Self, Error> {
        Ok(Self {
            k: positive("Weibull shape k", k)?,
            lambda: positive("Weibull scale λ", lambda)?,
        })
    }

    /// `λ Γ(1 + 1/k)`.
    pub fn mean(&self) -> f64 {
        self.lambda * lgamma(1.0 + 1.0 / self.k).exp()
    }

    /// `λ (ln 2)^{1/k}`.
    pub fn median(&self) -> f64 {
        self.lambda * std::f64::consts::LN_2.powf(1.0 / self.k)
    }

    /// `γ(1 − 1/k) + ln(λ/k) + 1`.
    pub fn entropy(&self) -> f64 {
        EULER_GAMMA * (1.0 - 1.0 / self.k) + (self.lambda / self.k).ln() + 1.0
    }

    /// The inverse CDF at `u ∈ (0, 1)`: `λ (−ln(1 − u))^{1/k}`.
    pub fn quantile(&self, u: f64) -> f64 {
        self.lambda * (-(-u).ln_1p()).powf(1.0 / self.k)
    }

    /// `ln q(x)` for `x > 0`.
    pub fn ln_pdf(&self, x: f64) -> f64 {
        let z = x / self.lambda;
        self.k.ln() - self.lambda.ln() + (self.k - 1.0) * z.ln() - z.powf(self.k)
    }

    /// `KL(self ‖ p)` in closed form (WHAI).
    pub fn kl_to_gamma(&self, p: &Gamma) -> f64 {
        let (k, l, a, b) = (self.k, self.lambda, p.shape, p.rate);
        EULER_GAMMA * a / k - a * l.ln() + k.ln() + b * l * lgamma(1.0 + 1.0 / k).exp()
            - EULER_GAMMA
            - 1.0
            - a * b.ln()
            + lgamma(a)
    }
}

/// A Gamma distribution (shape, rate) with checked parameters (host side, f64).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Gamma {
    shape: f64,
    rate: f64,
}

impl Gamma {
    /// `Gamma(shape, rate)`.
    ///
    /// # Errors
    /// [`Error::NonPositive`] if either parameter is not a positive finite number.
    pub fn new(shape: f64, rate: f64) -> Result<Self, Error> {
        Ok(Self {
            shape: positive("Gamma shape α", shape)?,
            rate: positive("Gamma rate β", rate)?,
        })
    }

    /// `ln p(x)` for `x > 0`.
    pub fn ln_pdf(&self, x: f64) -> f64 {
        self.shape * self.rate.ln() - lgamma(self.shape) + (self.shape - 1.0) * x.ln()
            - self.rate * x
    }

    /// A draw (Marsaglia–Tsang; shapes below 1 through `Gamma(a + 1) · U^{1/a}`) from the
    /// workspace's version-stable generator.
    pub fn sample(&self, rng: &mut repro_core::rng::SplitMix64) -> f64 {
        gamma_draw(self.shape, rng) / self.rate
    }
}

/// A standard `Gamma(shape, 1)` draw (Marsaglia & Tsang 2000).
fn gamma_draw(shape: f64, rng: &mut repro_core::rng::SplitMix64) -> f64 {
    if shape < 1.0 {
        let u = 1.0 - rng.next_f64(); // (0, 1]
        return gamma_draw(shape + 1.0, rng) * u.powf(1.0 / shape);
    }
    let d = shape - 1.0 / 3.0;
    let c = 1.0 / (9.0 * d).sqrt();
    loop {
        let x = rng.normal();
        let v = (1.0 + c * x).powi(3);
        if v <= 0.0 {
            continue;
        }
        let u = 1.0 - rng.next_f64();
        if u.ln() < 0.5 * x * x + d - d * v + d * v.ln() {
            return d * v;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::Device;
    use repro_core::rng::SplitMix64;

    fn t(v: &[f32], shape: [usize; 2], d: &Device) -> Tensor<2> {
        Tensor::from_data(TensorData::new(v.to_vec(), shape), d)
    }
    fn v1(x: Tensor<1>) -> Vec<f32> {
        x.into_data().try_to_vec().unwrap()
    }
    fn v2(x: Tensor<2>) -> Vec<f32> {
        x.into_data().try_to_vec().unwrap()
    }

    #[test]
    fn lgamma_and_digamma_at_the_spec_values() {
        // §7: |error| ≤ 1e-5 for x ≤ 5 (f32), relative 1e-5 above; ψ within 1e-4.
        let ad = Device::flex().autodiff();
        let xs = [0.1f32, 0.5, 1.0, 2.0, 5.0, 10.0];
        let want: [f64; 6] = [
            2.252_712_7,
            0.572_364_9,
            0.0,
            0.0,
            3.178_053_8,
            12.801_827_5,
        ];
        let x = Tensor::<1>::from_data(TensorData::new(xs.to_vec(), [6]), &ad).require_grad();
        let y = lgamma_tensor(x.clone());
        for ((g, w), x0) in v1(y.clone()).iter().zip(want).zip(xs) {
            let tol = if x0 <= 5.0 { 1e-5 } else { 1e-5 * w };
            assert!(
                (f64::from(*g) - w).abs() <= tol,
                "lgamma({x0}) = {g}, want {w}"
            );
        }
        let grads = y.sum().backward();
        let psi = v1(x.grad(&grads).unwrap());
        // ψ(1) = −γ, ψ(1/2) = −γ − 2 ln 2 = −1.9635100.
        assert!((f64::from(psi[2]) + 0.577_215_7).abs() < 1e-4, "{psi:?}");
        assert!((f64::from(psi[1]) + 1.963_510_0).abs() < 1e-4, "{psi:?}");
    }

    #[test]
    fn weibull_gamma_kl_golden_values() {
        // k = 1, α = 1: KL(Exp(1/λ) ‖ Exp(β)) = βλ − ln(βλ) − 1.
        let kl = |k, l, a, b| {
            Weibull::new(k, l)
                .unwrap()
                .kl_to_gamma(&Gamma::new(a, b).unwrap())
        };
        assert!(kl(1.0, 2.0, 1.0, 0.5).abs() < 1e-12);
        assert!((kl(1.0, 2.0, 1.0, 1.0) - 0.306_852_8).abs() < 1e-7);
        assert!((kl(2.0, 1.5, 0.5, 1.0) - 0.959_208).abs() < 1e-6);
        // The same three on tensors (f32), one per row of a [3, 1] batch.
        let d = Device::flex();
        let got = v1(kl_weibull_gamma(
            t(&[1.0, 1.0], [2, 1], &d),
            t(&[2.0, 2.0], [2, 1], &d),
            1.0,
            0.5,
        )
        .unwrap());
        assert!(got.iter().all(|g| g.abs() < 1e-6), "{got:?}");
        let got =
            v1(kl_weibull_gamma(t(&[1.0], [1, 1], &d), t(&[2.0], [1, 1], &d), 1.0, 1.0).unwrap());
        assert!((got[0] - 0.306_852_8).abs() < 1e-6, "{got:?}");
        let got =
            v1(kl_weibull_gamma(t(&[2.0], [1, 1], &d), t(&[1.5], [1, 1], &d), 0.5, 1.0).unwrap());
        // f32 arithmetic over ~10 terms of order 1: a few 1e-7.
        assert!((got[0] - 0.959_208).abs() < 2e-6, "{got:?}");
        // Columns sum: two identical columns give twice the KL.
        let got = v1(kl_weibull_gamma(
            t(&[2.0, 2.0], [1, 2], &d),
            t(&[1.5, 1.5], [1, 2], &d),
            0.5,
            1.0,
        )
        .unwrap());
        assert!((got[0] - 2.0 * 0.959_208).abs() < 4e-6, "{got:?}");
    }

    #[test]
    fn weibull_gamma_kl_matches_monte_carlo() {
        // KL = E_q[ln q(θ) − ln p(θ)], 10⁵ draws by the inverse CDF; within 3 s.e.
        let q = Weibull::new(2.0, 1.5).unwrap();
        let p = Gamma::new(0.5, 1.0).unwrap();
        let mut rng = SplitMix64::new(11);
        let n = 100_000;
        let vals: Vec<f64> = (0..n)
            .map(|_| {
                let x = q.quantile(rng.next_f64().clamp(1e-12, 1.0 - 1e-12));
                q.ln_pdf(x) - p.ln_pdf(x)
            })
            .collect();
        let mean = vals.iter().sum::<f64>() / n as f64;
        let var = vals.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1) as f64;
        let se = (var / n as f64).sqrt();
        let exact = q.kl_to_gamma(&p);
        assert!(
            (mean - exact).abs() < 3.0 * se,
            "MC {mean} ± {se} vs {exact}"
        );
    }

    #[test]
    fn weibull_gamma_kl_is_non_negative_on_a_grid() {
        for k in [0.1, 0.3, 1.0, 2.0, 5.0, 50.0] {
            for l in [1e-3, 0.1, 1.0, 3.0, 100.0] {
                for a in [0.01, 0.3, 1.0, 4.0] {
                    for b in [0.1, 1.0, 10.0] {
                        let kl = Weibull::new(k, l)
                            .unwrap()
                            .kl_to_gamma(&Gamma::new(a, b).unwrap());
                        assert!(kl >= -1e-9, "KL(k {k}, λ {l} ‖ α {a}, β {b}) = {kl}");
                    }
                }
            }
        }
    }

    #[test]
    fn gaussian_kl_and_entropy_by_hand() {
        let d = Device::flex();
        let z = |v: f32| t(&[v, v], [1, 2], &d);
        assert_eq!(v1(kl_gauss_std(z(0.0), z(0.0))), vec![0.0]);
        // μ = 1, σ² = 1: ½ (1 + 1 − 1 − 0) = ½ per column.
        assert!((v1(kl_gauss_std(z(1.0), z(0.0)))[0] - 1.0).abs() < 1e-6);
        // H(N(0, 1)) = ½ ln(2πe) = 1.4189385 per column.
        assert!((v1(gaussian_entropy(z(0.0)))[0] - 2.0 * 1.418_938_5).abs() < 1e-5);
    }

    #[test]
    fn weibull_entropy_mean_median() {
        let q = Weibull::new(2.0, 1.5).unwrap();
        assert!((q.entropy() - 1.000_926).abs() < 1e-6);
        assert!((q.mean() - 1.329_340).abs() < 1e-6);
        assert!((q.median() - 1.248_832).abs() < 1e-6);
        let d = Device::flex();
        let (k, l) = (t(&[2.0], [1, 1], &d), t(&[1.5], [1, 1], &d));
        assert!((v1(weibull_entropy(k.clone(), l.clone()))[0] - 1.000_926).abs() < 1e-5);
        assert!((f64::from(v2(weibull_mean(k.clone(), l.clone()))[0]) - 1.329_340).abs() < 1e-5);
        // rsample at u = 0.5 is the median.
        let m = v2(weibull_rsample(k, l, t(&[0.5], [1, 1], &d)))[0];
        assert!((m - 1.248_832).abs() < 1e-5, "{m}");
        // Mean against Monte Carlo: 10⁵ inverse-CDF draws, within 3 s.e.
        let mut rng = SplitMix64::new(5);
        let xs: Vec<f64> = (0..100_000)
            .map(|_| q.quantile(rng.next_f64().clamp(1e-12, 1.0 - 1e-12)))
            .collect();
        let mean = xs.iter().sum::<f64>() / xs.len() as f64;
        let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (xs.len() - 1) as f64;
        assert!((mean - q.mean()).abs() < 3.0 * (var / xs.len() as f64).sqrt());
    }

    #[test]
    fn weibull_sampling_is_finite_at_the_clamps() {
        // u at and beyond both clamps, k at its lower clamp: values and gradients finite.
        let ad = Device::flex().autodiff();
        let a = t(&[-30.0, -30.0, 3.0, 3.0], [2, 2], &ad).require_grad(); // softplus → k = 0.1
        let b = t(&[0.5, 0.5, 0.5, 0.5], [2, 2], &ad).require_grad();
        let post = Posterior::from_heads(
            &Latent::Weibull {
                alpha0: 1.0,
                beta0: 1.0,
            },
            a.clone(),
            b.clone(),
        );
        let u = t(&[0.0, 1.0, 1e-9, 1.0 - 1e-9], [2, 2], &ad);
        let theta = post.rsample(u);
        let kl = post
            .kl(&Latent::Weibull {
                alpha0: 1.0,
                beta0: 1.0,
            })
            .unwrap();
        let vals = v2(theta.clone());
        assert!(vals.iter().all(|v| v.is_finite() && *v >= 0.0), "{vals:?}");
        let loss = theta.sum() + kl.sum() + post.entropy().sum();
        let grads = loss.backward();
        for g in [v2(a.grad(&grads).unwrap()), v2(b.grad(&grads).unwrap())] {
            assert!(g.iter().all(|v| v.is_finite()), "{g:?}");
        }
    }

    #[test]
    fn bad_parameters_are_errors() {
        assert!(matches!(
            Weibull::new(0.0, 1.0),
            Err(Error::NonPositive { .. })
        ));
        assert!(Weibull::new(1.0, -2.0).is_err());
        assert!(Gamma::new(f64::NAN, 1.0).is_err());
        let e = Latent::weibull(1.0, 0.0).unwrap_err().to_string();
        assert!(e.contains("rate β₀") && e.contains('0'), "{e}");
        let d = Device::flex();
        let one = || t(&[1.0], [1, 1], &d);
        assert!(kl_weibull_gamma(one(), one(), -1.0, 1.0).is_err());
        let post = Posterior::from_heads(&Latent::Gaussian, one(), one());
        assert!(matches!(
            post.kl(&Latent::Weibull {
                alpha0: 1.0,
                beta0: 1.0
            }),
            Err(Error::PriorMismatch { .. })
        ));
    }

    #[test]
    fn gamma_draws_have_the_right_moments() {
        // Gamma(0.5, 1): mean 0.5, variance 0.5; 10⁵ draws, within 4 s.e. of each.
        let g = Gamma::new(0.5, 1.0).unwrap();
        let mut rng = SplitMix64::new(3);
        let xs: Vec<f64> = (0..100_000).map(|_| g.sample(&mut rng)).collect();
        let n = xs.len() as f64;
        let mean = xs.iter().sum::<f64>() / n;
        let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0);
        assert!(xs.iter().all(|&x| x > 0.0));
        assert!((mean - 0.5).abs() < 4.0 * (0.5f64 / n).sqrt(), "{mean}");
        // s.e. of the sample variance ≈ sqrt((μ₄ − σ⁴)/n), μ₄ = σ⁴(3 + 6/a) = 3.75 at a = ½.
        assert!((var - 0.5).abs() < 4.0 * (3.5f64 / n).sqrt(), "{var}");
    }
}

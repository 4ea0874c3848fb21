//! Reproduction of *Integrating Amortized Inference with Diffusion Models for Learning Clean
//! Distribution from Corrupted Images* (Yifei Wang, Weimin Bai, Weijian Luo, Wenzheng Chen,
//! He Sun; arXiv:2407.11162, 2024), method **FlowDiff**, at CPU scale.
//!
//! FlowDiff learns a clean data distribution from corrupted observations `y = f(x) + sigma n`
//! with a known forward model: a conditional normalising flow `q_phi(x | y)` does amortised
//! posterior inference against the likelihood, a diffusion prior and its own entropy, and a
//! diffusion model `p_theta` is trained on the flow's samples; the two alternate and "promote
//! each other" (paper).
//!
//! **No official code exists and the paper's equations, sizes and tables were not available
//! to the project: the joint objective, the architectures, the schedule, the alternation and
//! every metric here are our operationalisation** (spec `flowdiff.md`, tags
//! \[reconstructed\]), built after the authors' sibling code (HeSunPU/DPI's conditional
//! RealNVP, weiminbai/EMDiffusion's EMA). Numbers are not comparable with the paper's; only
//! orderings are checked.
//!
//! # What is implemented
//!
//! | module | content |
//! |---|---|
//! | [`corruption`] | [`corruption::ForwardOperator`] with adjoint and noise level: identity (denoising), Gaussian blur as a matrix `T ⊗ T` (zero padding), inpainting masks; [`corruption::Observations`] / [`corruption::CleanSamples`] newtypes so clean data cannot reach training |
//! | [`flow`] | conditional RealNVP: affine couplings with `B tanh(raw/B)` log-scales, zero-initialised outputs, residual base `x = y + exp(l) h`; exact log-det, inverse, log-density, sampling, posterior means |
//! | [`diffusion`] | linear log-SNR schedule (VDM), 9-d time embedding, MLP denoiser, DSM loss, ELBO surrogate `l_theta(x)` (the prior term), DDIM, DPS |
//! | [`objective`] | `L_flow = E[ ||y - f(x)||^2/(2 sigma^2) + w l_theta(x) - log|det dx/dz| ]` and `-ELBO`; the Gaussian prior with closed-form EM; EMA |
//! | [`train`] | warm start on `y`, flow warm-up, alternations (flow step against the frozen EMA prior, DSM step on detached flow samples); baselines DM-on-y, flow-only, oracle |
//! | [`eval`] | ring8 / moons, MMD^2, sliced W2, Fréchet distance, per-image PSNR, exact ring8 Bayes mean, mode statistics |
//! | [`digits`] | 8x8 digits scaled to `[-1, 1]`, the evaluation classifier [`digits::DigitsJudge`] (FD-lite, accuracy, label entropy), SVG image sheets |
//! | [`reproduce`](mod@reproduce) | experiments E1 (2-D), E2 (digits), E3 (downstream DPS) and claims C1–C5, selectable with `--only ring8,moons,digits,downstream` ([`INFO`]); [`reproduce()`] plans the jobs, runs them (resume, shards) and returns an `Outcome` |
//!
//! # Claims checked by [`reproduce()`]
//!
//! C1 FlowDiff's learned distribution is closer to the clean one than DM-on-y (MMD^2, every
//! seed, >= 20% reduction); C2 it beats flow-only (a Gaussian prior) and its posterior means
//! beat the input; C3 sanity (oracle closer; exact Bayes mean better); C4 on 8x8 digits under
//! noise and blur, FlowDiff beats DM-on-y in FD-lite (judge features) and its posterior means
//! gain >= 1 dB PSNR over the input; C5 downstream, DPS with the FlowDiff prior beats DPS with
//! the DM-on-y prior in PSNR on denoising and inpainting (95% bootstrap CI of the paired
//! difference above 0).
//!
//! # Deviations (all declared; every item is our operationalisation)
//! - A testbed gate for C1 and C2 (declared 2026-12-04, before any full run): they are
//!   decided only where the oracle (the same DM trained on clean samples) is closer to the
//!   clean test samples than DM-on-y in every seed (MMD^2, sigma 0.5); otherwise MMD^2
//!   cannot separate the methods and both are inconclusive, with their numbers.
//!
//! - No CIFAR-10 / face data, no U-Net, no FID: 2-D data with a known clean law (ring8, moons)
//!   and 8x8 digits with FD-lite on a small judge classifier's features replace them.
//! - Digits flows: residual base `x = y + exp(l) h` also for blur (`y` is the blurred image,
//!   `d = m = 64`); E3's inpainting (D2) needs no flow (DPS only) and uses one random mask
//!   per seed for all its images. The quick profile runs digits at a reduced budget
//!   ([`config::DigitsConfig::quick`]: narrower networks, far fewer steps, EMA 0.995).
//! - Digits denoisers are preconditioned as in Karras et al. (2022), in variance-preserving
//!   form ([`diffusion::MlpDenoiser`], `sigma_data = 0.5`), and digits DDIM / DPS do not clip
//!   `x0^`: plain eps prediction with clipping gave every DM, the oracle included, FD-lite
//!   ~350 (a Gaussian fit: 3). 2-D runs keep plain eps prediction.
//! - E3's `zeta` is chosen on 50 test images disjoint from the 200 scored ones; the Gaussian
//!   prior is scored by its exact (Wiener) posterior mean instead of DPS.
//! - Flow conditioners see the masked vector `h * m` rather than a gather of kept coordinates
//!   (same function class).
//! - Gradient clipping: Burn's `GradientClippingConfig::Norm` clips each parameter tensor by
//!   its own norm, not the global norm.
//! - Training noise (`z`, `t`, `eps`, minibatches) is drawn on the host from SplitMix64
//!   (Box-Muller), not from Burn's generator; Burn's generator only initialises weights.
//! - `MMD^2`, sliced W2, Fréchet distance and PSNR live in [`eval`] instead of
//!   `repro_core::metrics` until they are moved there.
//!
//! Training code accepts only observations; clean samples do not type-check:
//!
//! ```compile_fail
//! use burn::tensor::{Device, Tensor};
//! use repro_flowdiff::{config::FlowDiffConfig, corruption::{CleanSamples, IdentityOp}, train::train_flowdiff};
//! let dev = Device::flex().autodiff();
//! let clean = CleanSamples(Tensor::zeros([8, 2], &dev));
//! let op = IdentityOp::new(2, 0.5).unwrap();
//! let _ = train_flowdiff(&FlowDiffConfig::two_d(), &clean, &op, &dev, 0, 0, &mut |_, _, _| {});
//! ```
//!
//! ```
//! use burn::tensor::{Device, Tensor};
//! use repro_flowdiff::{config::FlowDiffConfig, corruption::{Observations, IdentityOp}, train::train_flowdiff};
//! let dev = Device::flex().autodiff();
//! let obs = Observations(Tensor::zeros([8, 2], &dev));
//! let op = IdentityOp::new(2, 0.5).unwrap();
//! let mut cfg = FlowDiffConfig::two_d();
//! (cfg.warm_start_steps, cfg.flow_warmup_steps, cfg.alternations, cfg.batch) = (1, 1, 1, 4);
//! let model = train_flowdiff(&cfg, &obs, &op, &dev, 0, 0, &mut |_, _, _| {}).unwrap();
//! assert_eq!(model.flow_log.len(), 2);
//! ```
#![warn(missing_docs)]

pub mod config;
pub mod corruption;
pub mod diffusion;
pub mod digits;
pub mod eval;
pub mod flow;
pub mod objective;
pub mod reproduce;
pub mod train;

pub use reproduce::reproduce;

use repro_core::experiment::{ClaimInfo, ExperimentInfo, Paper, PaperInfo};

/// The paper's descriptor: experiments (`--only` names) and claims, declared once.
///
/// C1–C3 are decided on whichever E1 datasets ran (the report's criterion names its scope);
/// the criteria of C1, C2, C4 and C5 are completed in the report with the run's scope and
/// settings.
pub static INFO: PaperInfo = PaperInfo {
    name: "flowdiff",
    title: "FlowDiff: Integrating Amortized Inference with Diffusion Models for Learning Clean Distribution from Corrupted Images (2024)",
    experiments: &[
        ExperimentInfo {
            name: "ring8",
            about: "E1: 8 Gaussians on a circle, identity corruption at each sigma; FlowDiff, its aggregate posterior, DM-on-y, flow-only, the EM Gaussian, the oracle and y (MMD^2, SW2, PM-MSE, modes), the exact Bayes mean",
        },
        ExperimentInfo {
            name: "moons",
            about: "E1: two moons, identity corruption at each sigma; the same methods and metrics as ring8",
        },
        ExperimentInfo {
            name: "digits",
            about: "E2: 8x8 digits under noise and blur; the same methods scored by FD-lite, label entropy, PSNR and judge accuracy of posterior means",
        },
        ExperimentInfo {
            name: "downstream",
            about: "E3: DPS denoising (D1) and inpainting (D2) on test digits with the noise-0.2 priors of E2 (FlowDiff, DM-on-y, oracle; Gaussian by its Wiener mean)",
        },
    ],
    claims: &[
        ClaimInfo {
            id: "C1",
            statement: "FlowDiff's learned distribution is closer to the clean one than a diffusion model trained directly on the corrupted data (DM-on-y)",
            criterion: "MMD^2 to clean test samples at sigma 0.5: FlowDiff (DDIM samples of its EMA prior) < DM-on-y in every seed on each dataset AND 1 - mean(FD)/mean(DMy) >= 0.20; SW2 same direction reported; gate: oracle MMD^2 < DM-on-y MMD^2 in every seed, else inconclusive",
            experiments: &[],
        },
        ClaimInfo {
            id: "C2",
            statement: "The learned diffusion prior matters: FlowDiff beats the same flow with a Gaussian prior (flow-only) in distribution and posterior-mean error, and its posterior means improve on the corrupted input",
            criterion: "in every seed at sigma 0.5: MMD^2 of FlowDiff DM samples and of its aggregate posterior < flow-only's aggregate posterior; PM-MSE(FlowDiff) < PM-MSE(flow-only) and < PM-MSE(y); gate: oracle MMD^2 < DM-on-y MMD^2 in every seed, else inconclusive",
            experiments: &[],
        },
        ClaimInfo {
            id: "C3",
            statement: "Sanity: an oracle trained on clean data is closer still, and the exact Bayes posterior mean is at least as good as FlowDiff's (ring8)",
            criterion: "oracle MMD^2 < FlowDiff MMD^2 in every seed and run; Bayes PM-MSE <= FlowDiff PM-MSE (ring8); gap closure g = (DMy - FD)/(DMy - oracle) reported",
            experiments: &[],
        },
        ClaimInfo {
            id: "C4",
            statement: "On 8x8 digits under noise and blur, FlowDiff beats DM-on-y in FD-lite and its posterior means gain at least 1 dB PSNR over the input",
            criterion: "noise 0.2 and 0.4: FD-lite(FlowDiff DM samples) < FD-lite(DM-on-y) in every seed (3 seeds) AND mean PSNR of FlowDiff posterior means >= PSNR(y) + 1 dB; blur: the same FD-lite rule, PSNR vs Wiener reported",
            experiments: &["digits"],
        },
        ClaimInfo {
            id: "C5",
            statement: "Downstream, DPS with the FlowDiff prior beats DPS with the DM-on-y prior in PSNR on denoising and inpainting",
            criterion: "PSNR(DPS with the FlowDiff prior) - PSNR(DPS with the DM-on-y prior), paired per image, pooled over seeds: the 95% bootstrap CI of the mean lies above 0 on D1 (denoising) AND on D2 (inpainting)",
            experiments: &["downstream"],
        },
    ],
};

/// The paper for `cargo xtask`.
pub const PAPER: Paper = Paper {
    info: &INFO,
    reproduce,
};

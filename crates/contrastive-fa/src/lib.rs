//! Reproduction of *Contrastive Factor Analysis* (Zhuo Duan, Tianyi Wen (equal
//! contribution), Yifei Wang, Chaojie Zhu, Bo Chen, Mingyuan Zhou; arXiv 2407.21740, 2024,
//! a preprint), <https://arxiv.org/abs/2407.21740>, on scikit-learn's 8×8 digits and on
//! synthetic factor data.
//!
//! **This is a reconstruction from the abstract; no official code is public; the model and
//! objective are our operationalisation** (the spec's derivation, declared below). The
//! paper factorises "a normalized co-occurrence matrix with latent Gaussian factors"
//! (CFA), has "a non-negative version (CNFA) using Gamma latents", and uses "variational
//! inference with Gaussian and Weibull posteriors" and "uncertainty measures derived from
//! posterior entropies". No result number of the paper is available as text here; none is
//! quoted.
//!
//! # What is implemented
//!
//! - [`latent`]: [`latent::Latent`] (CFA's Gaussian, CNFA's Weibull posterior with a
//!   `Gamma(α₀, β₀)` prior), [`latent::Posterior`] (reparameterised sampling, mean,
//!   entropy, KL), [`latent::kl_gauss_std`], [`latent::kl_weibull_gamma`] (WHAI's closed
//!   form with core's differentiable `lgamma`), [`latent::weibull_rsample`], and checked
//!   host-side [`latent::Weibull`] / [`latent::Gamma`].
//! - [`losses`]: [`losses::spectral_contrastive_loss`], [`losses::info_nce`] (core's
//!   NT-Xent), [`losses::Objective`], the β warm-up [`losses::beta_at`]; NCL's
//!   [`losses::rep_relu`] is core's.
//! - [`model`]: the MLP backbone, [`model::CfaModel`] / [`model::CfaConfig`] (posterior
//!   heads) and [`model::cfa_loss`], the SimCLR / spectral / NCL
//!   [`model::BaselineModel`] on the same backbone, and [`model::Net`] (either).
//! - [`data`]: the workspace's digits split, [`data::Augment`], [`data::Corruption`] /
//!   [`data::corrupt`] (noise and occlusion, severities 1–3), [`data::few_label_subset`],
//!   [`data::synthetic_factors`].
//! - [`metrics`]: soft and exact sparsity, ε-active and soft semantic consistency,
//!   effective rank, MCC with Hungarian matching (AUROC, Spearman, probes and kNN are
//!   core's).
//! - [`train`]: seeded pretraining of a method, features back to the host.
//! - [`reproduce()`]: the plan (experiments `digits`, `sweep`, `heldout`, `synthetic`), its
//!   run (resumable from `--out`) and claims F1–F5; presets in [`config`].
//!
//! Bad input returns [`Error`]: non-positive Weibull or Gamma parameters, K = 0 (or any
//! zero size), a severity outside 1–3, a class with too few items for the few-label
//! probe, mismatched views.
//!
//! # Use it from your Burn code
//!
//! ```
//! use burn::module::Module;
//! use burn::optim::GradientsParams;
//! use burn::tensor::{Device, Tensor};
//! use repro_contrastive_fa::latent::Latent;
//! use repro_contrastive_fa::losses::{Objective, beta_at};
//! use repro_contrastive_fa::model::{CfaConfig, cfa_loss};
//! use repro_core::rng::Noise;
//!
//! let device = Device::flex().autodiff();
//! let cfg = CfaConfig {
//!     hidden: 32,
//!     k: 8,
//!     latent: Latent::weibull(1.0, 1.0)?, // CNFA: Weibull posterior, Gamma(1, 1) prior
//!     objective: Objective::InfoNce { tau: 0.2 },
//!     ..CfaConfig::default()
//! };
//! let mut model = cfg.init(&device, 0)?;
//! let mut opt = repro_core::train::optim::adam(0.0).init();
//! let mut noise = Noise::new(0);
//! let (x1, x2) = (Tensor::<2>::ones([16, 64], &device), Tensor::<2>::zeros([16, 64], &device));
//! for step in 0..3 {
//!     let beta = beta_at(step, 3, cfg.beta_max, cfg.warmup_frac);
//!     let (loss, _parts) = cfa_loss(&model, x1.clone(), x2.clone(), beta, &mut noise)?;
//!     let grads = GradientsParams::from_grads(loss.backward(), &model);
//!     model = opt.step(1e-3, model, grads);
//! }
//! // Evaluation: posterior mean (the CNFA code) and entropy (its uncertainty).
//! let eval = model.valid();
//! let post = eval.posterior(Tensor::<2>::ones([4, 64], &Device::flex()));
//! assert_eq!(post.mean().dims(), [4, 8]);
//! assert_eq!(post.entropy().dims(), [4]);
//! # Ok::<(), repro_contrastive_fa::Error>(())
//! ```
//!
//! # Claims checked by [`reproduce()`]
//!
//! Pre-registered in the spec (§6) for the full profile; paired differences by seed with a
//! two-sided Student-t 95 % interval; accuracies in points. A sanity gate comes first: the
//! SimCLR backbone probe must reach the raw-pixel probe minus 2 points on clean digits,
//! else F1–F4 are `inconclusive` ("testbed too weak"). F5 runs on the synthetic data and
//! has no gate.
//!
//! - F1 expressiveness, F2 robustness (decided by `quick`, 3 seeds);
//! - F3 interpretability (at the validation-selected (α₀, β_max) of the `full` sweep; in
//!   `quick` only its NCL > SimCLR part can fail it);
//! - F4 uncertainty (tasks (a) and (b); in `quick` only task (a) can fail it; the spec's
//!   prototype predicts AUROC < 0.5, which is written up, not tuned away);
//! - F5 disentanglement (synthetic MCC, `full`).
//!
//! # Deviations and operationalisations (declared)
//!
//! - **The whole CFA / CNFA model is reconstructed** (spec §3): symmetric factor analysis
//!   of the augmentation graph's normalised relation matrix, amortised posteriors from two
//!   linear heads on the backbone, the contrastive term on one sampled θ per view plus
//!   `β · KL` (summed over K, averaged over both views and the batch), β warmed up
//!   linearly from 0 over the first 20 % of the steps. Priors α₀ = β₀ = 1, β_max = 1e-2,
//!   K = 64 are our choices.
//! - Data: digits with an MLP instead of the paper's (most likely) CIFAR / ImageNet-100
//!   with ResNet-18; the workspace's fixed split 1,297 / 500 (seed 0) instead of the spec's
//!   1,000 / 797 (the issue stands); the full-profile validation set is 200 of the 1,297.
//!   Quick therefore runs 100 epochs = 500 steps (5 full batches of 256 per epoch), not
//!   the spec's ≈ 400.
//! - Backbone `64 → 256 → 256` with BatchNorm (spec §3; the monosemantic crate uses
//!   LayerNorm); both views pass as one batch of 2B rows, so BatchNorm statistics are over
//!   both views. Baseline projector: the monosemantic crate's layout
//!   `Linear(256, 1024) → ReLU → Linear(1024, K)`, with K = 64 from the spec's §4 (256 in
//!   monosemantic). CFA / CNFA heads are single linear layers `256 → K` (spec §3).
//! - Parameters are drawn on the host from seeded streams (PyTorch's `Linear` default
//!   bounds), so the same seed gives every method the same backbone.
//! - Adam lr 1e-3 (ε 1e-8), constant learning rate, batch 256, no weight decay.
//! - Views are stated on the 0–16 pixel scale (spec §5) and applied on `[0, 1]` with the
//!   noise σ divided by 16; clip to `[0, 1]`.
//! - Probes: multinomial logistic regression on frozen train-standardised features,
//!   full-batch Adam lr 0.05, 300 steps, L2 weight decay 1e-4 (core's probe); the
//!   primary probe is on the backbone output b (as NCL does); the "latent" probe on the
//!   code (posterior mean μ or λΓ(1 + 1/k), projector output for the baselines, NCL after
//!   its ReLU). Few-label probe: 10 labels per class, drawn per seed. kNN: k = 5, cosine.
//! - Robustness: the clean-trained backbone probe on the corrupted test sets, mean over
//!   noise and occlusion, severities 1–3.
//! - Semantic consistency: the monosemantic crate's (core's ε-active, ε = 1e-5, on
//!   row-normalised codes), the issue's definition; the spec's "> 1 % of the sample's max"
//!   rule is reported beside it as `consistency_soft` **\[reconstructed\]**. Soft sparsity
//!   is computed on |z|. Effective rank: of the row-normalised codes (core's).
//! - Uncertainty baselines: the SimCLR backbone feature norm (lower ⇒ OOD) and the
//!   backbone probe's max-softmax probability (lower ⇒ OOD). Spearman(entropy, error) uses
//!   the backbone probe's 0/1 error on the clean test set.
//! - Synthetic data: one data set (seed 0) for every training seed, observations fed
//!   unscaled; MCC on the test part's codes (posterior mean / projector output).
//! - Sweep selection: the (α₀, β_max) with the highest mean validation backbone-probe
//!   accuracy over seeds (ties: the first in α₀-major grid order), then retrained on the
//!   whole training split per seed.
//! - The Gamma sampler of the synthetic data (Marsaglia–Tsang) lives in this crate;
//!   repro-core has none.
#![warn(missing_docs)]

mod claims;
pub mod config;
pub mod data;
pub mod latent;
pub mod losses;
pub mod metrics;
pub mod model;
pub mod reproduce;
pub mod train;

pub use config::ExperimentConfig;
pub use reproduce::{reproduce, reproduce_with};

use repro_core::experiment::{ClaimInfo, ExperimentInfo, Paper, PaperInfo};

/// Bad input to this crate's functions: a clear error instead of a panic.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A distribution parameter or temperature that must be positive.
    #[error("{what} must be a positive finite number, got {value}")]
    NonPositive {
        /// Which parameter.
        what: &'static str,
        /// The value given.
        value: f64,
    },
    /// A posterior paired with the other family's prior.
    #[error("a {posterior} posterior has no closed-form KL to the {prior} prior")]
    PriorMismatch {
        /// `Gaussian` or `Weibull`.
        posterior: &'static str,
        /// `CFA` (standard normal) or `CNFA` (Gamma).
        prior: &'static str,
    },
    /// A corruption severity outside the table.
    #[error("corruption severity {severity} is outside the table (1, 2, 3)")]
    Severity {
        /// The severity given.
        severity: u8,
    },
    /// A class with too few items for the few-label probe.
    #[error("few-label probe: class {class} has {have} items, {need} are needed")]
    EmptyClass {
        /// The class.
        class: usize,
        /// Its items.
        have: usize,
        /// Items asked per class.
        need: usize,
    },
    /// Any other invalid setting.
    #[error("invalid configuration: {0}")]
    Config(String),
}

/// The paper's descriptor: experiments (`--only` names) and claims, declared once.
pub static INFO: PaperInfo = PaperInfo {
    name: "contrastive-fa",
    title: "Contrastive Factor Analysis (Duan, Wen et al., arXiv 2407.21740, 2024), reconstructed",
    experiments: &[
        ExperimentInfo {
            name: "digits",
            about: "per method and seed: pretraining on the digits split, probes (linear, few-label, kNN), corrupted-probe robustness, sparsity / consistency / effective rank, entropy AUROC on clean vs noisy digits; raw-pixel reference (F1-F4)",
        },
        ExperimentInfo {
            name: "sweep",
            about: "CNFA sweep α₀ × β_max selected by validation probe accuracy, then retrained per seed (F3; full)",
        },
        ExperimentInfo {
            name: "heldout",
            about: "class-held-out OOD: trained on digits 0-4, entropy AUROC on 5-9 (F4 task b; full)",
        },
        ExperimentInfo {
            name: "synthetic",
            about: "synthetic non-negative factors with known codes: MCC of SimCLR, CFA, CNFA (F5; full)",
        },
    ],
    claims: &[
        ClaimInfo {
            id: "F1",
            statement: "CFA and CNFA representations are as expressive as SimCLR's (no degradation)",
            criterion: "backbone linear-probe accuracy, paired D(X − SimCLR) for X = CFA-InfoNCE and CNFA-InfoNCE: 95% CI lower bound > −1.0 point for both (> 0 = improves); few-label probe and kNN reported with the same rule",
            experiments: &["digits"],
        },
        ClaimInfo {
            id: "F2",
            statement: "CFA and CNFA are more robust to corrupted inputs than SimCLR",
            criterion: "clean-trained backbone-probe accuracy on the corrupted test sets (mean over noise and occlusion, severities 1-3), paired D(X − SimCLR): CI lower bound > 0 for both CFA-InfoNCE and CNFA-InfoNCE (improves); lower bound > −1 reported as no worse, the sign of the mean always",
            experiments: &["digits"],
        },
        ClaimInfo {
            id: "F3",
            statement: "CNFA gives sparse, semantically consistent (interpretable) codes",
            criterion: "at the validation-selected (α₀, β_max): CNFA soft sparsity ≥ 0.5 AND semantic consistency (ε-active) CNFA ≥ NCL (means) AND NCL > SimCLR (paired CI lower bound > 0); without the sweep only a failing NCL > SimCLR part decides (not reproduced), else inconclusive",
            experiments: &["digits"],
        },
        ClaimInfo {
            id: "F4",
            statement: "Posterior entropy measures uncertainty (higher on corrupted and out-of-distribution inputs)",
            criterion: "for CFA-InfoNCE and CNFA-InfoNCE: entropy AUROC ≥ 0.65 on (a) clean vs noise severity 2 and (b) digits 0-4 vs held-out 5-9, D(AUROC − SimCLR feature-norm AUROC) CI lower bound > 0 on each task, Spearman(entropy, probe error) CI lower bound > 0; without task (b) a failure on (a) decides (not reproduced), else inconclusive",
            experiments: &["digits"],
        },
        ClaimInfo {
            id: "F5",
            statement: "CNFA recovers the true non-negative factors better than CFA and SimCLR",
            criterion: "synthetic factors, MCC of the codes: paired D(CNFA − CFA) and D(CNFA − SimCLR) CI lower bounds > 0",
            experiments: &["synthetic"],
        },
    ],
};

/// The paper for `cargo xtask`.
pub const PAPER: Paper = Paper {
    info: &INFO,
    reproduce,
};

//! Reproduction of *Can In-context Learning Really Generalize to Out-of-distribution Tasks?*
//! (Qixun Wang, Yifei Wang, Xianghua Ying, Yisen Wang; ICLR 2025,
//! <https://arxiv.org/abs/2410.09695>; code NOVAglow646/ICL-OOD), on the testbed of Garg et
//! al., *What Can Transformers Learn In-Context?* (NeurIPS 2022,
//! <https://arxiv.org/abs/2208.01066>; code dtsip/in-context-learning), at CPU scale.
//!
//! A GPT-2-style decoder reads prompts `[x_0, ỹ_0, x_1, ỹ_1, …]` (`ỹ_i = (y_i, 0, …, 0)`)
//! and predicts each `y_k` at the `x_k` slot from the `k` examples before it. The paper's
//! takeaways: (1) on functions outside its pretraining class, ICL behaves like a predictor of
//! the pretraining class fitted by gradient descent on the context; (2) abstract-label
//! classification is in-distribution prediction plus retrieval; (3) a model pretrained on
//! several classes prefers the class with the lower test error on the context.
//!
//! # What is implemented
//!
//! | module | content |
//! |---|---|
//! | [`tasks`] | [`tasks::FunctionClass`]: linear, quadratic (`/√3`), cubic (`/√3`), ReLU 2-layer network (`√(2/h)`), the λ-mixture `(1−λ)·w₁·x + λ·(x∘x)·w₂/√3`, random integer mappings `y = E[(x + shift) mod C]`; seeded samplers ([`tasks::sample`]), the fixed evaluation prompts (seed `10 000 + class id`), `Var(y)` per class |
//! | [`curriculum`] | Garg's curriculum `min(end, start + inc·⌊step/interval⌋)` for dimensions and points |
//! | [`model`] | [`model::combine`] (upstream `_combine`), [`model::IclModel`] on [`repro_core::nn::decoder::Decoder`] (vector input `d_in = d`, read-out `d_y`, learned positions for `2n` tokens, GELU, final LayerNorm, dropout 0), [`model::icl_loss`] (MSE over every prefix position) |
//! | [`train`] | the pretraining loop with both mixing schedules ([`train::MixSchedule::SequentialPerTask`], upstream; [`train::MixSchedule::MixedBatch`]), Adam (β 0.9/0.999, eps 1e-8, no weight decay), warm-up then constant, mid-run checkpoints |
//! | [`baselines`] | zero, OLS on linear / quadratic / both features (core's SVD pseudo-inverse, minimum-norm below full rank), GD fits of each model class (Adam lr 5e-3, 200 / 100 steps), 3-NN, averaging, copy-last |
//! | [`eval`] | the normalised error curve with 95% bootstrap intervals over prompts, the distances `D_lin`, `D_quad` and the switch index `D_lin / (D_lin + D_quad)`, per-prompt agreement, repeated-input masks |
//! | [`config`] | [`config::ExperimentConfig`] with presets `smoke`, `quick`, `full` |
//! | [`reproduce`](mod@reproduce) | experiments X1–X4 as a plan of jobs on repro-core's experiment layer (resume, shards, merge) and claims ICL-1..ICL-6 ([`INFO`]) |
//!
//! # Use it from your Burn code
//!
//! ```
//! use burn::tensor::Device;
//! use repro_core::device::{init_params_now, seed};
//! use repro_core::rng::Noise;
//! use repro_icl_ood::baselines::{Baseline, Features, predict_batch as baseline_predict};
//! use repro_icl_ood::eval::error_curve;
//! use repro_icl_ood::model::{IclModelConfig, predict_batch};
//! use repro_icl_ood::tasks::{FunctionClass, sample};
//!
//! let device = Device::flex();
//! seed(&device, 0);
//! // 16 linear-regression prompts of 9 points in d = 4, and an (untrained) model for them.
//! let class = FunctionClass::Linear;
//! let (d, n) = (4, 9);
//! let prompts = sample(&class, 16, n, d, d, &mut Noise::new(7))?;
//! let cfg = IclModelConfig::tiny(d, 1, n).with_d_model(16);
//! let model = init_params_now(cfg.init(&device)?);
//! let pred: Vec<f64> = predict_batch(&model, &cfg, &prompts, &device, 8)?
//!     .into_iter()
//!     .map(f64::from)
//!     .collect(); // [16, 9, 1]
//! let ys: Vec<f64> = prompts.ys.iter().map(|&y| f64::from(y)).collect();
//! let ks: Vec<usize> = (0..n).collect();
//! let model_err = error_curve(&pred, &ys, 16, &ks, 1, class.var_y(d), 0)?;
//! // OLS is exact once k >= d on noiseless linear prompts.
//! let ols = baseline_predict(&Baseline::Ols(Features::Lin), &prompts, 16, &ks, 0)?;
//! let ols_err = error_curve(&ols, &ys, 16, &ks, 1, class.var_y(d), 0)?;
//! assert!(ols_err.mean[d] < 1e-8);
//! assert_eq!(model_err.mean.len(), n);
//! # Ok::<(), anyhow::Error>(())
//! ```
//!
//! # Claims checked by [`reproduce()`]
//!
//! All thresholds are fixed in advance by the spec (`icl-ood.md` §6) on errors normalised by
//! `Var(y)`; they are **our operationalisation** of the paper's takeaways, not the paper's
//! own tests. ICL-1 (gate, Garg): LR→LR err(2d) ≤ 0.1 and below 3-NN and averaging at every
//! k ≥ d, QR→QR err(k_max) ≤ 0.1; when it fails, every other claim is `inconclusive` ("not
//! evaluable at this scale") and ICL-1 itself is `inconclusive` too (a weak testbed is not a
//! refutation). ICL-2 (takeaway 1, LR-trained on QR and ReLU-2NN tracks GD-lin within 25%,
//! on QR err ≥ max(5·OLS-quad, 0.2) and `D_lin < D_quad`). ICL-3 (QR-trained on LR tracks
//! GD-quad within 25%, err ≥ 0.2, `D_quad < D_lin`). ICL-4 (takeaway 3: the LR+QR model has
//! err ≤ 0.1 on LR and QR; for every λ whose OLS-lin and OLS-quad errors differ by more than
//! 10% of the smaller, `s(λ) < 0.5` exactly when OLS-lin is lower; `s(0) < s(1)`). ICL-5
//! (takeaway 2, smoke and full: at repeated inputs ID err ≤ 0.05, OOD err ≥ 0.5 on both OOD
//! ranges). ICL-6 (optional: the [50, 450) model's OOD error ≤ 0.5× the [50, 150) model's).
//! With 3 seeds a verdict needs the seed mean and ≥ 2 seeds; with fewer, the mean and every
//! seed.
//!
//! # Deviations (declared; the spec's §5 list, plus what the pilot decided)
//!
//! - Scale: d = 4 (quick) / 5 (full) instead of 20; n = 4d + 1 points instead of 41 / 101;
//!   Garg's `tiny` model (3 layers, width 64, 2 heads, MLP 256) instead of `standard`
//!   (12 / 256 / 8); 1,000–8,000 optimiser steps instead of 500,001; Adam lr 5e-4 with 100
//!   linear warm-up iterations instead of a constant 1e-4 (our operationalisation).
//! - **Quick preset after the pilot** (issue 12 asked for a pilot of the gate before the
//!   reported run). Three recipes at the quick shape (`examples/pilot.rs`, seed 0, LR only):
//!   1,000 steps, lr 5e-4, the quick curriculum, Burn's default init: LR→LR err(k_max) 0.65;
//!   2,000 steps, GPT-2 init: 0.375; 1,000 steps, lr 1e-3, no curriculum: 0.93 (no learning).
//!   Two longer pilots (lr 5e-4, the quick curriculum, default init) showed where the budget
//!   falls short: LR for 3,000 steps leaves its loss plateau near step 1,000 and ends at
//!   err(2d) 0.128, err(k_max) 0.081, below 3-NN and averaging at every k ≥ d (close to the
//!   gate's 0.1); QR for 3,000 steps is still on its plateau (err(k_max) 0.50 against 0.1).
//!   A step costs ≈ 0.055 s on 2 cores (0.07–0.08 s when other jobs share them), so the
//!   10-minute budget allows ≈ 8,000 optimiser steps in all, while the gate needs more than
//!   3,000 per class and the LR+QR run twice that. No recipe within the budget can pass
//!   the gate, so the preset keeps the spec's quick setting (LR 1,000, QR 1,000, LR+QR
//!   1,000 iterations = 2,000 steps, curriculum dims 2→4 and points 5→17 every 150 steps)
//!   and the quick report's ICL-1 is expected to be `inconclusive`; the gate is for
//!   `full` (8,000 steps per class, 3 seeds).
//! - Initialisation: Burn's defaults (the GPT-2 `N(0, 0.02)` scheme is available as
//!   [`model::IclModelConfig::init_gpt2`] but not used by the presets); the decoder's
//!   attention and MLP follow core's pre-LN block (GPT-2 layout, no `1/√(2L)` residual
//!   scaling).
//! - Abstract labels: the issue's values C = 1,000, d_e = 5, a table `E ~ N(0, 1)` drawn
//!   from a documented seed (never loaded from a path) instead of the shipped
//!   10,000-row tables; the inputs are table rows 0..5 fed as vectors. X4 runs in smoke and
//!   full only (quick skips it; ICL-5 and ICL-6 are then `inconclusive`, not run).
//! - Normalisation (our operationalisation): err(k) = mean (ŷ_k − y_k)² / Var(y) with
//!   Var(y) = d (LR, QR, ReLU-2NN), 5d (Cubic), ((1 − λ)² + λ²)·d (mixture), d_e (labels,
//!   squared error summed over label dims); upstream metrics files are unnormalised.
//! - Evaluation: 1,280 fixed prompts per test class; in quick the GD baselines use the first
//!   256 prompts at every 2nd k and k_max. Intervals are 95% percentile bootstraps over
//!   prompts (upstream figures shade 5–95%).
//! - Not reproduced: `LinearRegressionRandomMapping`, robustness prompts (skewed covariance,
//!   scaling), the Bayesian theory simulation, Lasso / tree / XGBoost baselines.
#![warn(missing_docs)]

pub mod baselines;
pub mod config;
pub mod curriculum;
pub mod eval;
pub mod model;
pub mod reproduce;
pub mod tasks;
pub mod train;

pub use reproduce::reproduce;

use repro_core::experiment::{ClaimInfo, ExperimentInfo, Paper, PaperInfo};

/// The paper's descriptor: experiments (`--only` names) and claims, declared once.
pub static INFO: PaperInfo = PaperInfo {
    name: "icl-ood",
    title: "Can In-context Learning Really Generalize to Out-of-distribution Tasks? (ICLR 2025)",
    experiments: &[
        ExperimentInfo {
            name: "x1",
            about: "in-distribution: LR→LR and QR→QR with every baseline (the ICL-1 gate; runs with any other experiment)",
        },
        ExperimentInfo {
            name: "x2",
            about: "OOD test classes: the LR model on QR, ReLU-2NN and Cubic, the QR model on LR and ReLU-2NN",
        },
        ExperimentInfo {
            name: "x3",
            about: "LR+QR pretraining: errors on LR and QR, switch index over the λ-mixtures",
        },
        ExperimentInfo {
            name: "x4",
            about: "abstract labels (RandomIntMapping): shifts [50,150) and [50,450), ID and OOD tests (smoke and full)",
        },
    ],
    claims: &[
        ClaimInfo {
            id: "ICL-1",
            statement: "gate (Garg et al.): the transformer learns in-context regression of its pretraining class",
            criterion: "LR→LR err(2d) <= 0.1 and below 3-NN and averaging at every k >= d; QR→QR err(k_max) <= 0.1 (3 seeds: mean and >= 2 seeds)",
            experiments: &["x1"],
        },
        ClaimInfo {
            id: "ICL-2",
            statement: "takeaway 1: on OOD classes the LR-trained model behaves like GD on linear models, not like the test class's oracle",
            criterion: "on QR and ReLU-2NN |err(k_max) - GD-lin| <= 0.25 GD-lin; on QR err(k_max) >= max(5 OLS-quad, 0.2) and D_lin < D_quad",
            experiments: &["x2"],
        },
        ClaimInfo {
            id: "ICL-3",
            statement: "takeaway 1: the QR-trained model on LR behaves like GD on quadratic models",
            criterion: "|err(k_max) - GD-quad| <= 0.25 GD-quad, err(k_max) >= 0.2 and D_quad < D_lin",
            experiments: &["x2"],
        },
        ClaimInfo {
            id: "ICL-4",
            statement: "takeaway 3: an LR+QR model solves both and prefers the class with the lower test error on the context",
            criterion: "err(k_max) <= 0.1 on LR and QR; for every λ whose OLS-lin and OLS-quad errors differ by > 10% (of the smaller) s(λ) < 0.5 exactly when OLS-lin is lower; s(0) < s(1)",
            experiments: &["x3"],
        },
        ClaimInfo {
            id: "ICL-5",
            statement: "takeaway 2: abstract labels are in-distribution prediction plus retrieval, not new-task learning",
            criterion: "at positions whose input appeared earlier, ID err <= 0.05 and OOD err >= 0.5 on both OOD shift ranges",
            experiments: &["x4"],
        },
        ClaimInfo {
            id: "ICL-6",
            statement: "optional: a wider training shift range [50,450) lowers the OOD error",
            criterion: "the [50,450) model's error at repeated inputs is <= 0.5x the [50,150) model's on both OOD ranges",
            experiments: &["x4"],
        },
    ],
};

/// The paper for `cargo xtask`.
pub const PAPER: Paper = Paper {
    info: &INFO,
    reproduce,
};

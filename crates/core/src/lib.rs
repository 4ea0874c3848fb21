//! # repro-core
//!
//! The shared core of the repro workspace, where each recent ML paper is a crate on one
//! Burn 0.22 stack. Paper crates build on these modules:
//!
//! | module | what it gives |
//! |---|---|
//! | [`device`] | `cpu|flex|ndarray|wgpu|cuda[:N]` parsed into a Burn [`Device`](burn::tensor::Device), seeding, eager parameter initialisation |
//! | [`data`] | the dataset registry, cache/mirror lookup with SHA-256 checks, typed parsers, the digits dataset and its fixed split |
//! | [`train`] | pieces of a hand-written training loop: optimiser presets (AdamW on matrices only), LR schedules, global-norm clipping, model selection, early stopping, NaN guard, progress bars, checkpoints |
//! | [`metrics`], [`stats`] | accuracy, macro-F1, Pearson, Spearman, AUROC; mean, std and 95% CIs over seeds, paired differences |
//! | [`nn`], [`lm`] | pre-LayerNorm transformer blocks and a stack on `[B, T, d]` (RoPE, learned or no positions; causal, banded, explicit or no mask; Burn or Xavier init), the small decoder on it, FFN hooks on whole layers or chosen cells (differentiable), an MLP block; token log-probabilities under full, truncated, chunked or banded contexts, greedy decoding |
//! | [`bench`](mod@bench) | a small timing harness whose `BENCH_JSON` lines `cargo xtask bench` compares with PyTorch twins |
//! | [`loss`], [`probe`], [`augment`] | NT-Xent (InfoNCE) contrastive loss; linear probes on frozen features (SGD with cosine LR or full-batch Adam, fixed epochs, several label sets at once); 8×8 image augmentations, shifts and pixel dropout |
//! | [`features`] | feature-space diagnostics: non-negative reparameterisations, semantic and top-k consistency, sparsity, active dimensions, effective rank, orthogonality |
//! | [`experiment`] | a paper's descriptor, its job plan, a runner that resumes, shards and merges, typed results paired by seed |
//! | [`rng`], [`linalg`], [`host`], [`params`] | version-stable random numbers (SplitMix64, Box–Muller, Poisson, permutations, named streams); dense `f64` linear algebra with the one Jacobi eigensolver; host ↔ tensor conversions; parameters flattened in module order, EMA of a module |
//! | [`kmeans`], [`knn`], [`assignment`] | k-means (k-means++ on D² > 0, deduplicated points, restarts); k-NN classification and regression (cosine or Euclidean, plain or exp-weighted votes); the Hungarian method |
//! | [`patch`] | `patchify` / `unpatchify`, MAE's 2-D sin-cos position table, random masking with a fixed kept count |
//! | [`special`] | `lgamma`, `digamma`, the regularised incomplete gamma `P`/`Q` (χ² tails); `lgamma` as a differentiable tensor op |
//! | [`report`] | claims with verdicts decided by code, and the `report.json` / `report.md` / SVG report (line, scatter, bar, heatmap and image-grid plots) |
//!
//! Library code and tests use [`Device::flex()`](burn::tensor::Device::flex) (pure-Rust CPU)
//! explicitly; only the `xtask` edge picks a device from a flag.
//!
//! ```
//! use repro_core::{data::digits, metrics, stats};
//! let d = digits::load()?;
//! let split = digits::standard_split(&d);
//! assert_eq!((split.train.len(), split.test.len()), (1297, 500));
//! assert_eq!(metrics::accuracy(&[1, 2, 3], &[1, 2, 0]), 2.0 / 3.0);
//! let s = stats::Summary::of(&[0.90, 0.92, 0.94]);
//! assert!((s.mean - 0.92).abs() < 1e-12);
//! # Ok::<(), repro_core::DataError>(())
//! ```
#![warn(missing_docs)]

pub mod assignment;
pub mod augment;
pub mod bench;
pub mod data;
pub mod device;
pub mod error;
pub mod experiment;
pub mod features;
pub mod host;
pub mod kmeans;
pub mod knn;
pub mod linalg;
pub mod lm;
pub mod loss;
pub mod metrics;
pub mod nn;
pub mod params;
pub mod patch;
pub mod probe;
pub mod report;
pub mod rng;
pub mod special;
pub mod stats;
pub mod testing;
pub mod train;

pub use error::DataError;
pub use report::{Claim, Options, Profile, Report, Verdict};

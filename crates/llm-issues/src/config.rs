//! Presets of the reproduction: `smoke` (seconds, synthetic data only), `quick` (the
//! default: the fixture collection, NLBSE'24 with three seeds, Open-LLM-Failures, the
//! coded-sample tables) and `full` (adds fastText, a cross-validated λ and 10 000
//! bootstrap resamples).

use repro_core::Profile;
use serde::{Deserialize, Serialize};

use crate::classifier::{FastTextConfig, LinearTextConfig};

/// E1: the synthetic world the loopback fixture serves, and the collection settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CollectConfig {
    /// Repositories that pass the selection.
    pub selected: usize,
    /// Closed items (issues and pull requests) per selected repository.
    pub items_per_repo: usize,
    /// Pull requests among them.
    pub prs_per_repo: usize,
    /// Items per page.
    pub per_page: usize,
    /// Rejected candidates served too, one per failing rule (at most 5).
    pub rejected: usize,
    /// Seed of the synthetic world and of the sample.
    pub seed: u64,
    /// Retries per request.
    pub max_retries: u32,
    /// Selection date.
    pub as_of: String,
    /// Sample-size z, margin and p.
    pub z: f64,
    /// Margin of error.
    pub margin: f64,
    /// Assumed proportion.
    pub p: f64,
}

/// E2: NLBSE'24 (or the synthetic three-class set in `smoke`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NlbseConfig {
    /// `Some(n)`: a synthetic single-repository set of `n` documents per class and split
    /// instead of the mirror's files (smoke).
    pub synthetic_per_class: Option<usize>,
    /// The linear classifier.
    pub linear: LinearTextConfig,
    /// λ grid of the 5-fold cross-validation (empty: the configured λ).
    pub cv_lambdas: Vec<f64>,
    /// Folds of the cross-validation.
    pub cv_folds: usize,
    /// The fastText-style classifier (`full` only).
    pub fasttext: Option<FastTextConfig>,
    /// Paired bootstrap resamples.
    pub bootstrap: usize,
    /// Top-weighted n-grams reported per class (0: none).
    pub top_ngrams: usize,
}

/// E3: Open-LLM-Failures (or synthetic records in `smoke`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FailuresConfig {
    /// `Some(n)`: `n` synthetic records instead of the mirror's files (smoke).
    pub synthetic: Option<usize>,
    /// z of the Wilson intervals.
    pub z: f64,
}

/// The whole reproduction.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExperimentConfig {
    /// Seeds of the learned labellers.
    pub seeds: usize,
    /// E1.
    pub collect: CollectConfig,
    /// E2.
    pub nlbse: NlbseConfig,
    /// E3.
    pub failures: FailuresConfig,
}

impl ExperimentConfig {
    /// The preset of `profile`.
    pub fn for_profile(p: Profile) -> Self {
        match p {
            Profile::Smoke => Self::smoke(),
            Profile::Quick => Self::quick(),
            Profile::Full => Self::full(),
        }
    }

    /// Seconds: 2 repositories × 3 pages (110 items) on the fixture, a 60-document synthetic
    /// three-class set, 50 synthetic failure records, one seed.
    pub fn smoke() -> Self {
        Self {
            seeds: 1,
            collect: CollectConfig {
                selected: 2,
                // ≥ 100 closed issues to pass the paper's threshold; 3 pages of 40.
                items_per_repo: 110,
                prs_per_repo: 3,
                per_page: 40,
                rejected: 2,
                ..Self::quick().collect
            },
            nlbse: NlbseConfig {
                synthetic_per_class: Some(20),
                linear: LinearTextConfig {
                    epochs: 100,
                    ..LinearTextConfig::default()
                },
                bootstrap: 200,
                ..Self::quick().nlbse
            },
            failures: FailuresConfig {
                synthetic: Some(50),
                z: 1.96,
            },
        }
    }

    /// The default: E1 on 3 repositories × 3 pages of 100 (5 rejected candidates), E2 on
    /// NLBSE'24 with seeds {0, 1, 2} and 2 000 bootstrap resamples, E3 on the 706 records,
    /// E4 on the coded fixture sample.
    pub fn quick() -> Self {
        Self {
            seeds: 3,
            collect: CollectConfig {
                selected: 3,
                items_per_repo: 250,
                prs_per_repo: 20,
                per_page: 100,
                rejected: 5,
                seed: 0,
                max_retries: 6,
                as_of: "2024-09-01".into(),
                z: 1.96,
                margin: 0.03,
                p: 0.5,
            },
            nlbse: NlbseConfig {
                synthetic_per_class: None,
                linear: LinearTextConfig::default(),
                cv_lambdas: Vec::new(),
                cv_folds: 5,
                fasttext: None,
                bootstrap: 2000,
                top_ngrams: 0,
            },
            failures: FailuresConfig {
                synthetic: None,
                z: 1.96,
            },
        }
    }

    /// Quick plus fastText, 5-fold CV of λ ∈ {1e-5, 1e-4, 1e-3}, 10 000 resamples, the 10
    /// top-weighted n-grams per class.
    pub fn full() -> Self {
        let q = Self::quick();
        Self {
            nlbse: NlbseConfig {
                cv_lambdas: vec![1e-5, 1e-4, 1e-3],
                fasttext: Some(FastTextConfig::default()),
                bootstrap: 10_000,
                top_ngrams: 10,
                ..q.nlbse
            },
            ..q
        }
    }
}

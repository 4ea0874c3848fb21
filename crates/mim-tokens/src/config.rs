//! Presets per profile: `smoke` (seconds, tests), `quick` (re-sized from a timed pilot to
//! fit about 8 minutes on 2 cores), `full` (the spec's study).

use repro_core::probe::ProbeConfig;
use repro_core::report::Profile;
use serde::{Deserialize, Serialize};

use crate::Error;
use crate::model::MaeVitConfig;
use crate::tokenizer::KMeansSettings;

/// Pretraining settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainConfig {
    /// Passes over the training images.
    pub epochs: usize,
    /// Images per step.
    pub batch_size: usize,
    /// Peak learning rate (after warm-up; cosine to 0).
    pub lr: f64,
    /// Fraction of the steps spent in linear warm-up.
    pub warmup_frac: f64,
    /// AdamW decoupled weight decay on weight matrices only.
    pub weight_decay: f32,
    /// AdamW β₁.
    pub beta1: f32,
    /// AdamW β₂.
    pub beta2: f32,
    /// AdamW ε.
    pub eps: f32,
    /// Fraction of patches removed, in (0, 1).
    pub mask_ratio: f64,
    /// Label smoothing ε of the token loss.
    pub label_smoothing: f64,
    /// Cosine token assignment (upstream `--token_normalize`).
    pub token_normalize: bool,
    /// Translation augmentation: uniform integer shift in `−s..=s` per axis, zero fill.
    pub max_shift: i32,
    /// Evaluate the CLS probe every this many epochs (MIM-5); `None` = only at the end.
    pub checkpoint_every: Option<usize>,
}

impl TrainConfig {
    /// Optimiser steps for `n` training images.
    pub fn steps(&self, n: usize) -> usize {
        self.epochs * n.div_ceil(self.batch_size.max(1))
    }
}

/// A tokenizer (or MAE's pixel target) to pretrain with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum TokenizerSpec {
    /// Pixel regression.
    Mae,
    /// k-means on normalised patches.
    Pix(usize),
    /// k-means on the same seed's frozen MAE encoder's patch features.
    Feat(usize),
    /// Quantile bins of a random projection.
    Rand(usize),
    /// Uniform random tokens.
    Mix(usize),
    /// The label.
    Oracle,
    /// `K_pix · label + PIX-K_pix`.
    OraclePix(usize),
}

impl TokenizerSpec {
    /// The method name (`MAE`, `PIX-16`, ...).
    pub fn name(&self) -> String {
        match self {
            Self::Mae => "MAE".into(),
            Self::Pix(k) => format!("PIX-{k}"),
            Self::Feat(k) => format!("FEAT-{k}"),
            Self::Rand(k) => format!("RAND-{k}"),
            Self::Mix(k) => format!("MIX-{k}"),
            Self::Oracle => "ORACLE".into(),
            Self::OraclePix(_) => "ORACLE-PIX".into(),
        }
    }

    /// Number of token ids (`None` for MAE).
    pub fn k(&self, classes: usize) -> Option<usize> {
        match *self {
            Self::Mae => None,
            Self::Pix(k) | Self::Feat(k) | Self::Rand(k) | Self::Mix(k) => Some(k),
            Self::Oracle => Some(classes),
            Self::OraclePix(k) => Some(classes * k),
        }
    }

    /// Whether the tokenizer reads labels.
    pub fn uses_labels(&self) -> bool {
        matches!(self, Self::Oracle | Self::OraclePix(_))
    }

    /// Label-free and content-aware (PIX, FEAT, RAND): the set of MIM-2's second ρ.
    pub fn label_free_content(&self) -> bool {
        matches!(self, Self::Pix(_) | Self::Feat(_) | Self::Rand(_))
    }
}

/// An ablation of PIX-K* (K* chosen by validation over the PIX sweep).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Ablation {
    /// Name (`mask0.5`, `smooth0.1`, `tnorm`).
    pub name: String,
    /// Mask ratio instead of the default.
    pub mask_ratio: Option<f64>,
    /// Label smoothing instead of the default.
    pub label_smoothing: Option<f64>,
    /// Cosine assignment instead of the default.
    pub token_normalize: Option<bool>,
}

impl Ablation {
    /// The spec's three ablations.
    pub fn spec() -> Vec<Self> {
        let base = |name: &str| Self {
            name: name.into(),
            mask_ratio: None,
            label_smoothing: None,
            token_normalize: None,
        };
        vec![
            Self {
                mask_ratio: Some(0.5),
                ..base("mask0.5")
            },
            Self {
                label_smoothing: Some(0.1),
                ..base("smooth0.1")
            },
            Self {
                token_normalize: Some(true),
                ..base("tnorm")
            },
        ]
    }

    /// `train` with this ablation's overrides.
    pub fn apply(&self, train: &TrainConfig) -> TrainConfig {
        let mut t = train.clone();
        if let Some(r) = self.mask_ratio {
            t.mask_ratio = r;
        }
        if let Some(s) = self.label_smoothing {
            t.label_smoothing = s;
        }
        if let Some(n) = self.token_normalize {
            t.token_normalize = n;
        }
        t
    }
}

/// Everything a reproduction run depends on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExperimentConfig {
    /// Default number of seeds.
    pub seeds: usize,
    /// Cap on training images (smoke).
    pub max_train: Option<usize>,
    /// Cap on test images (smoke).
    pub max_test: Option<usize>,
    /// The model (its head is set per tokenizer).
    pub model: MaeVitConfig,
    /// Pretraining.
    pub train: TrainConfig,
    /// PIX / FEAT k-means.
    pub kmeans: KMeansSettings,
    /// Linear probes (CLS, mean-pool, validation); the seed is the run's.
    pub probe: ProbeConfig,
    /// Weighted k-NN neighbours (20).
    pub knn_k: usize,
    /// Weighted k-NN temperature (0.07).
    pub knn_temperature: f64,
    /// Validation images held out of train for K selection (300 of 1,297).
    pub val_size: usize,
    /// Tokenizers pretrained (MAE included).
    pub tokenizers: Vec<TokenizerSpec>,
    /// Ablations of PIX-K*.
    pub ablations: Vec<Ablation>,
    /// Experiments run by default.
    pub default_experiments: Vec<String>,
    /// Run independent jobs side by side on rayon's pool (results do not change: every
    /// job seeds its own generators and draws its weights under a lock).
    pub parallel_jobs: bool,
}

impl ExperimentConfig {
    /// The preset of `profile`.
    pub fn for_profile(profile: Profile) -> Self {
        match profile {
            Profile::Smoke => Self::smoke(),
            Profile::Quick => Self::quick(),
            Profile::Full => Self::full(),
        }
    }

    fn base() -> Self {
        Self {
            seeds: 3,
            max_train: None,
            max_test: None,
            model: MaeVitConfig::default(),
            train: TrainConfig {
                epochs: 50,
                batch_size: 128,
                lr: 1e-3,
                warmup_frac: 0.1,
                weight_decay: 0.05,
                beta1: 0.9,
                beta2: 0.95,
                eps: 1e-8,
                mask_ratio: 0.75,
                label_smoothing: 0.0,
                token_normalize: false,
                max_shift: 1,
                checkpoint_every: None,
            },
            kmeans: KMeansSettings::default(),
            probe: ProbeConfig {
                epochs: 90,
                ..ProbeConfig::default()
            },
            knn_k: 20,
            knn_temperature: 0.07,
            val_size: 300,
            tokenizers: Vec::new(),
            ablations: Vec::new(),
            default_experiments: vec!["tokens".into()],
            parallel_jobs: true,
        }
    }

    /// Seconds: 256 / 128 images, encoder depth 1, 5 epochs, k-means 1 restart × 10
    /// iterations, probes 5 epochs; every tokenizer kind, checkpoints and the ablations run
    /// so that their code paths are exercised.
    pub fn smoke() -> Self {
        let mut c = Self::base();
        c.seeds = 1;
        c.max_train = Some(256);
        c.max_test = Some(128);
        c.val_size = 64;
        c.model.enc_depth = 1;
        c.model.dec_depth = 1;
        c.train.epochs = 5;
        c.train.checkpoint_every = Some(2);
        c.kmeans = KMeansSettings {
            n_init: 1,
            max_iter: 10,
            tol: 1e-6,
        };
        c.probe.epochs = 5;
        use TokenizerSpec::*;
        c.tokenizers = vec![
            Mae,
            Pix(16),
            Pix(8),
            Feat(8),
            Rand(16),
            Mix(16),
            Oracle,
            OraclePix(4),
        ];
        c.ablations = Ablation::spec();
        c.default_experiments = vec!["tokens".into(), "ablations".into()];
        c
    }

    /// The spec's quick tokenizers (MAE, PIX-{8..128}, FEAT-16, RAND-16, MIX-16, ORACLE)
    /// on 3 seeds, re-sized from the timed pilot (see the crate docs): 14 epochs of batch
    /// 128 (154 steps) instead of 50 (≈ 550).
    pub fn quick() -> Self {
        let mut c = Self::base();
        c.train.epochs = 14;
        use TokenizerSpec::*;
        c.tokenizers = vec![
            Mae,
            Pix(8),
            Pix(16),
            Pix(32),
            Pix(64),
            Pix(128),
            Feat(16),
            Rand(16),
            Mix(16),
            Oracle,
        ];
        c
    }

    /// The spec's full study: 5 seeds, 300 epochs, both K lists, FEAT-{16, 64}, the
    /// controls, ORACLE-PIX, the ablations, CLS-probe checkpoints every 30 epochs.
    pub fn full() -> Self {
        let mut c = Self::base();
        c.seeds = 5;
        c.train.epochs = 300;
        c.train.checkpoint_every = Some(30);
        use TokenizerSpec::*;
        c.tokenizers = vec![Mae];
        c.tokenizers
            .extend([8, 10, 16, 25, 32, 50, 64, 128, 200].map(Pix));
        c.tokenizers
            .extend([Feat(16), Feat(64), Rand(16), Mix(16), Oracle, OraclePix(16)]);
        c.ablations = Ablation::spec();
        c.default_experiments = vec!["tokens".into(), "ablations".into()];
        c
    }

    /// Checks the settings a user can get wrong.
    ///
    /// # Errors
    /// [`Error::MaskRatio`] outside (0, 1), [`Error::PatchSize`], zero sizes.
    pub fn validate(&self) -> Result<(), Error> {
        self.model.check()?;
        let mut ratios = vec![self.train.mask_ratio];
        ratios.extend(self.ablations.iter().filter_map(|a| a.mask_ratio));
        for r in ratios {
            crate::train::keep_count(self.model.n_patches(), r)?;
        }
        if self.train.batch_size == 0 || self.train.epochs == 0 || self.seeds == 0 {
            return Err(Error::Config(
                "batch_size, epochs and seeds must be positive".into(),
            ));
        }
        if !(0.0..1.0).contains(&self.train.label_smoothing) {
            return Err(Error::Config(format!(
                "label_smoothing = {} must be in [0, 1)",
                self.train.label_smoothing
            )));
        }
        if self.tokenizers.first() != Some(&TokenizerSpec::Mae) {
            return Err(Error::Config(
                "the tokenizer list must start with MAE (FEAT reads its encoder)".into(),
            ));
        }
        Ok(())
    }
}

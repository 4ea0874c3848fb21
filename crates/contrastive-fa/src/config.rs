//! Experiment settings and the three presets (`smoke`, `quick`, `full`).

use repro_core::probe::ProbeConfig;
use repro_core::report::Profile;
use serde::{Deserialize, Serialize};

use crate::Error;
use crate::data::{Augment, FactorCfg};
use crate::latent::Latent;
use crate::losses::{NonNeg, Objective};
use crate::model::{BaselineConfig, CfaConfig};

/// What a method trains.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub enum MethodKind {
    /// A projector baseline: SimCLR, spectral CL or NCL.
    Projector {
        /// The objective on the projector output.
        objective: Objective,
        /// NCL's map (`RepRelu`) or none.
        non_neg: NonNeg,
    },
    /// CFA or CNFA.
    Factor {
        /// Gaussian or Weibull–Gamma.
        latent: Latent,
        /// The objective on the sampled θ.
        objective: Objective,
        /// KL weight after the warm-up.
        beta_max: f32,
        /// Sample θ (`false`: posterior mean, the deterministic ablation).
        sample: bool,
    },
}

/// A named method.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MethodConfig {
    /// The name in tables (`SimCLR`, `CNFA-InfoNCE`, ...).
    pub name: String,
    /// What it trains.
    pub kind: MethodKind,
}

const TAU: f32 = 0.2;

impl MethodConfig {
    /// SimCLR: InfoNCE τ = 0.2 on the projector output.
    pub fn simclr() -> Self {
        Self::projector("SimCLR", Objective::InfoNce { tau: TAU }, NonNeg::None)
    }
    /// Spectral CL on the normalised projector output.
    pub fn spectral() -> Self {
        Self::projector(
            "Spectral",
            Objective::Spectral { normalize: true },
            NonNeg::None,
        )
    }
    /// NCL: `rep_relu`, then InfoNCE τ = 0.2.
    pub fn ncl() -> Self {
        Self::projector("NCL", Objective::InfoNce { tau: TAU }, NonNeg::RepRelu)
    }
    fn projector(name: &str, objective: Objective, non_neg: NonNeg) -> Self {
        Self {
            name: name.into(),
            kind: MethodKind::Projector { objective, non_neg },
        }
    }
    /// CFA or CNFA with `objective` (named `CFA-InfoNCE`, `CNFA-Spectral`, ...).
    pub fn factor(latent: Latent, objective: Objective, beta_max: f32) -> Self {
        Self {
            name: format!("{}-{}", latent.family(), objective.name()),
            kind: MethodKind::Factor {
                latent,
                objective,
                beta_max,
                sample: true,
            },
        }
    }
    /// The deterministic ablation: CFA with β = 0 and θ = μ.
    pub fn cfa_deterministic() -> Self {
        Self {
            name: "CFA-det".into(),
            kind: MethodKind::Factor {
                latent: Latent::Gaussian,
                objective: Objective::InfoNce { tau: TAU },
                beta_max: 0.0,
                sample: false,
            },
        }
    }
    /// CNFA-InfoNCE at prior shape `alpha0` (rate 1) and `beta_max`, named for the sweep.
    pub fn cnfa_sweep(alpha0: f32, beta_max: f32) -> Self {
        Self {
            name: format!("CNFA a0={alpha0} b={beta_max:e}"),
            ..Self::factor(
                Latent::Weibull { alpha0, beta0: 1.0 },
                Objective::InfoNce { tau: TAU },
                beta_max,
            )
        }
    }
    /// Whether it has a posterior (an entropy).
    pub fn is_factor(&self) -> bool {
        matches!(self.kind, MethodKind::Factor { .. })
    }
}

/// The pretraining loop.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainConfig {
    /// Passes over the training set; steps = epochs × ⌊n / batch⌋ (the last incomplete
    /// batch is dropped).
    pub epochs: usize,
    /// Items per batch (two views each), capped at the training set.
    pub batch_size: usize,
    /// Adam learning rate, constant (β 0.9 / 0.999, ε 1e-8 set explicitly).
    pub lr: f64,
    /// Share of the steps of the linear β warm-up.
    pub warmup_frac: f32,
}

/// Everything a reproduction run needs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExperimentConfig {
    /// Seeds run by default (`--seeds` overrides).
    pub seeds: usize,
    /// Use at most this many training digits (stratified subset, smoke).
    pub max_train: Option<usize>,
    /// Use at most this many test digits.
    pub max_test: Option<usize>,
    /// Backbone width.
    pub hidden: usize,
    /// Latent / projector output size K.
    pub k: usize,
    /// Baseline projector hidden width.
    pub proj_hidden: usize,
    /// Pretraining.
    pub train: TrainConfig,
    /// Training views.
    pub augment: Augment,
    /// The linear probe (full-batch Adam lr 0.05, 300 steps, weight decay 1e-4,
    /// standardised features).
    pub probe: ProbeConfig,
    /// Labels per class of the few-label probe.
    pub few_label: usize,
    /// k of the kNN classifier (cosine, uniform votes).
    pub knn_k: usize,
    /// Relative threshold of soft sparsity / soft consistency (0.01).
    pub soft_rel: f32,
    /// Noise severity of uncertainty task (a) (2: σ = 0.5).
    pub uncertainty_severity: u8,
    /// Methods of the `digits` experiment (the first is the reference, SimCLR).
    pub digits_methods: Vec<MethodConfig>,
    /// CNFA sweep: prior shapes α₀ (rate 1).
    pub sweep_alpha0: Vec<f32>,
    /// CNFA sweep: β_max values.
    pub sweep_beta_max: Vec<f32>,
    /// Validation digits held out of the training split for the sweep (stratified).
    pub val_size: usize,
    /// Methods of the class-held-out task (b).
    pub heldout_methods: Vec<MethodConfig>,
    /// In-distribution classes of task (b) (0–4; OOD = the rest).
    pub heldout_classes: Vec<u8>,
    /// The synthetic factor data.
    pub synthetic: FactorCfg,
    /// Methods on the synthetic data.
    pub synthetic_methods: Vec<MethodConfig>,
    /// Pretraining epochs on the synthetic data.
    pub synthetic_epochs: usize,
    /// Experiments that run when `--only` is not given.
    pub default_experiments: Vec<String>,
}

impl ExperimentConfig {
    /// The preset for `profile`.
    pub fn for_profile(profile: Profile) -> Self {
        match profile {
            Profile::Smoke => Self::smoke(),
            Profile::Quick => Self::quick(),
            Profile::Full => Self::full(),
        }
    }

    /// The `quick` preset (spec §6): SimCLR, Spectral, NCL, CFA-InfoNCE and CNFA-InfoNCE
    /// (β_max 1e-2, α₀ = 1) on the digits split, 100 epochs (500 steps on 1,297 images at
    /// batch 256), 3 seeds; the sweep, task (b) and the synthetic data are `full` only.
    pub fn quick() -> Self {
        let cnfa = Latent::Weibull {
            alpha0: 1.0,
            beta0: 1.0,
        };
        let info = Objective::InfoNce { tau: TAU };
        let factors = vec![
            MethodConfig::simclr(),
            MethodConfig::factor(Latent::Gaussian, info, 1e-2),
            MethodConfig::factor(cnfa, info, 1e-2),
        ];
        Self {
            seeds: 3,
            max_train: None,
            max_test: None,
            hidden: 256,
            k: 64,
            proj_hidden: 1024,
            train: TrainConfig {
                epochs: 100,
                batch_size: 256,
                lr: 1e-3,
                warmup_frac: 0.2,
            },
            augment: Augment::default(),
            probe: ProbeConfig::full_batch_adam(0.05, 300, 1e-4),
            few_label: 10,
            knn_k: 5,
            soft_rel: 0.01,
            uncertainty_severity: 2,
            digits_methods: vec![
                MethodConfig::simclr(),
                MethodConfig::spectral(),
                MethodConfig::ncl(),
                MethodConfig::factor(Latent::Gaussian, info, 1e-2),
                MethodConfig::factor(cnfa, info, 1e-2),
            ],
            sweep_alpha0: vec![0.1, 0.3, 1.0],
            sweep_beta_max: vec![1e-4, 1e-3, 1e-2],
            val_size: 200,
            heldout_methods: factors.clone(),
            heldout_classes: (0..5).collect(),
            synthetic: FactorCfg::default(),
            synthetic_methods: factors,
            synthetic_epochs: 100,
            default_experiments: vec!["digits".into()],
        }
    }

    /// The `smoke` preset: seconds (128 training / 64 test digits, K = 8, hidden 32,
    /// 5 steps, 1 seed), every method and experiment once.
    pub fn smoke() -> Self {
        let mut q = Self::full();
        q.seeds = 1;
        q.max_train = Some(128);
        q.max_test = Some(64);
        q.hidden = 32;
        q.k = 8;
        q.proj_hidden = 64;
        q.train.epochs = 5;
        q.probe = ProbeConfig::full_batch_adam(0.05, 50, 1e-4);
        q.few_label = 3;
        q.val_size = 32;
        q.synthetic.n_train = 128;
        q.synthetic.n_test = 64;
        q.synthetic.n_factors = 8; // MCC needs K ≥ factors (K = 8 here)
        q.synthetic_epochs = 5;
        q
    }

    /// The `full` preset: every variant (both objectives for CFA and CNFA, the β = 0
    /// ablation), 200 epochs, 10 seeds, the CNFA sweep, task (b), the synthetic data.
    pub fn full() -> Self {
        let cnfa = Latent::Weibull {
            alpha0: 1.0,
            beta0: 1.0,
        };
        let info = Objective::InfoNce { tau: TAU };
        let spec = Objective::Spectral { normalize: true };
        let mut q = Self::quick();
        q.seeds = 10;
        q.train.epochs = 200;
        q.synthetic_epochs = 200;
        q.digits_methods = vec![
            MethodConfig::simclr(),
            MethodConfig::spectral(),
            MethodConfig::ncl(),
            MethodConfig::factor(Latent::Gaussian, info, 1e-2),
            MethodConfig::factor(cnfa, info, 1e-2),
            MethodConfig::factor(Latent::Gaussian, spec, 1e-2),
            MethodConfig::factor(cnfa, spec, 1e-2),
            MethodConfig::cfa_deterministic(),
        ];
        q.default_experiments = ["digits", "sweep", "heldout", "synthetic"]
            .map(String::from)
            .to_vec();
        q
    }

    /// The sweep's methods, α₀-major.
    pub fn sweep_methods(&self) -> Vec<MethodConfig> {
        self.sweep_alpha0
            .iter()
            .flat_map(|&a| {
                self.sweep_beta_max
                    .iter()
                    .map(move |&b| MethodConfig::cnfa_sweep(a, b))
            })
            .collect()
    }

    /// The model settings of `method` on inputs of `in_dim` values.
    pub fn model(&self, method: &MethodConfig, in_dim: usize) -> ModelConfig {
        match method.kind {
            MethodKind::Projector { objective, non_neg } => ModelConfig::Baseline(BaselineConfig {
                in_dim,
                hidden: self.hidden,
                proj_hidden: self.proj_hidden,
                k: self.k,
                objective,
                non_neg,
            }),
            MethodKind::Factor {
                latent,
                objective,
                beta_max,
                sample,
            } => ModelConfig::Cfa(CfaConfig {
                in_dim,
                hidden: self.hidden,
                k: self.k,
                latent,
                objective,
                beta_max,
                warmup_frac: self.train.warmup_frac,
                sample,
            }),
        }
    }

    /// Checks the settings a run depends on.
    ///
    /// # Errors
    /// [`Error::Config`] / [`Error::NonPositive`] naming the bad field.
    pub fn validate(&self) -> Result<(), Error> {
        let bad = |m: String| Err(Error::Config(m));
        if self.train.batch_size == 0 || self.train.epochs == 0 {
            return bad("train.batch_size and train.epochs must be at least 1".into());
        }
        if self.digits_methods.first().map(|m| m.name.as_str()) != Some("SimCLR") {
            return bad("digits_methods must start with SimCLR (the reference)".into());
        }
        if !(1..=3).contains(&self.uncertainty_severity) {
            return Err(Error::Severity {
                severity: self.uncertainty_severity,
            });
        }
        self.augment.validate()?;
        for m in self
            .digits_methods
            .iter()
            .chain(&self.heldout_methods)
            .chain(&self.synthetic_methods)
            .chain(&self.sweep_methods())
        {
            match self.model(m, 64) {
                ModelConfig::Cfa(c) => c.validate()?,
                ModelConfig::Baseline(b) => b.validate()?,
            }
        }
        if self.synthetic.n_factors > self.k {
            return bad(format!(
                "MCC matches each of the {} synthetic factors to its own latent dimension: K = {} is too small",
                self.synthetic.n_factors, self.k
            ));
        }
        Ok(())
    }
}

/// The model of a method.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub enum ModelConfig {
    /// CFA / CNFA.
    Cfa(CfaConfig),
    /// A projector baseline.
    Baseline(BaselineConfig),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presets_are_valid_and_named() {
        for c in [
            ExperimentConfig::smoke(),
            ExperimentConfig::quick(),
            ExperimentConfig::full(),
        ] {
            c.validate().unwrap();
        }
        let q = ExperimentConfig::quick();
        let names: Vec<&str> = q.digits_methods.iter().map(|m| m.name.as_str()).collect();
        assert_eq!(
            names,
            ["SimCLR", "Spectral", "NCL", "CFA-InfoNCE", "CNFA-InfoNCE"]
        );
        assert_eq!(ExperimentConfig::full().sweep_methods().len(), 9);
        let mut bad = ExperimentConfig::smoke();
        bad.k = 0;
        assert!(
            bad.validate()
                .unwrap_err()
                .to_string()
                .contains("K (latent size)")
        );
        let mut bad = ExperimentConfig::smoke();
        bad.uncertainty_severity = 4;
        assert!(matches!(
            bad.validate(),
            Err(Error::Severity { severity: 4 })
        ));
    }
}

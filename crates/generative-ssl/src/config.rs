//! Experiment presets (spec §6, quick re-sized from the timing pilot; see the crate docs).

use repro_core::Profile;
use repro_core::probe::ProbeConfig;
use serde::{Deserialize, Serialize};

use crate::markov::{Alpha, MarkovConfig};
use crate::model::SeqModelConfig;
use crate::objective::{Objective, Reduction};
use crate::train::TrainConfig;

/// A named pretraining method: an objective with its loss reduction and depth.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Method {
    /// Name in tables (`AR`, `MLM`, `DEAR`, `VLM`, or an ablation's name).
    pub name: String,
    /// The objective.
    pub objective: Objective,
    /// Batch reduction.
    pub reduction: Reduction,
    /// Blocks (the model's default when `None`).
    pub n_layers: Option<usize>,
}

impl Method {
    fn new(name: &str, objective: Objective) -> Self {
        Self {
            name: name.into(),
            objective,
            reduction: Reduction::PerSequence,
            n_layers: None,
        }
    }

    /// The four objectives of spec §3 with their standard settings.
    pub fn standard() -> Vec<Self> {
        let names = ["AR", "MLM", "DEAR", "VLM"];
        names
            .iter()
            .zip(Objective::standard())
            .map(|(n, o)| Self::new(n, o))
            .collect()
    }

    /// The §4 ablations: K_max ∈ {2, 8} (1 is AR, 4 the main DEAR), ρ range (0.15, 0.5),
    /// p_suffix ∈ {0, 1}, token-level averaging (VLM), and 4 layers (AR, MLM).
    pub fn ablations() -> Vec<Self> {
        let vlm = |lo: f64, hi: f64, p: f64| Objective::Vlm {
            rho_min: lo,
            rho_max: hi,
            p_suffix: p,
        };
        let mut token = Self::new("VLM-token-mean", vlm(0.05, 0.95, 0.5));
        token.reduction = Reduction::Token;
        let mut ar4 = Self::new("AR-4-layers", Objective::Ar);
        ar4.n_layers = Some(4);
        let mut mlm4 = Self::new(
            "MLM-4-layers",
            Objective::Mlm {
                rho: 0.15,
                bert_80_10_10: false,
            },
        );
        mlm4.n_layers = Some(4);
        vec![
            Self::new("DEAR-K2", Objective::Dear { k_max: 2 }),
            Self::new("DEAR-K8", Objective::Dear { k_max: 8 }),
            Self::new("VLM-rho-0.15-0.5", vlm(0.15, 0.5, 0.5)),
            Self::new("VLM-suffix-0", vlm(0.05, 0.95, 0.0)),
            Self::new("VLM-suffix-1", vlm(0.05, 0.95, 1.0)),
            token,
            ar4,
            mlm4,
        ]
    }
}

/// Data B (digits as patch tokens).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DigitsConfig {
    /// k-means codebook size (spec: 32).
    pub k: usize,
    /// Largest translation of the pretraining augmentation, pixels (spec: 1).
    pub max_shift: i32,
    /// Pretraining epochs over the 1,297 training images.
    pub epochs: usize,
    /// First prefix length of the generation metric (spec: t = 8..15).
    pub t_from: usize,
}

/// Every setting of a reproduction.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExperimentConfig {
    /// Seeds by default.
    pub seeds: usize,
    /// Data A generator.
    pub markov: MarkovConfig,
    /// Pretraining sequences (unlabelled, balanced).
    pub n_pretrain: usize,
    /// Probe-train sequences.
    pub n_probe_train: usize,
    /// Test sequences.
    pub n_test: usize,
    /// Test sequences scored for the generation NLL (the first of the test set).
    pub n_nll_eval: usize,
    /// Model shape (`vocab` and `max_len` come from the data).
    pub d_model: usize,
    /// Blocks.
    pub n_layers: usize,
    /// Heads.
    pub n_heads: usize,
    /// Largest DEAR offset the model holds (the largest of every method).
    pub k_max: usize,
    /// Optimiser and schedule.
    pub train: TrainConfig,
    /// The probe.
    pub probe: ProbeConfig,
    /// The compared methods.
    pub methods: Vec<Method>,
    /// Extra pretraining sizes of the GEN-6 sweep (AR and MLM).
    pub sweep_sizes: Vec<usize>,
    /// Ablation methods.
    pub ablations: Vec<Method>,
    /// Data B.
    pub digits: DigitsConfig,
    /// Experiments run when `--only` is not given.
    pub default_experiments: Vec<String>,
    /// Inputs per evaluation forward.
    pub eval_chunk: usize,
}

impl ExperimentConfig {
    /// The preset of a profile.
    pub fn for_profile(p: Profile) -> Self {
        match p {
            Profile::Smoke => Self::smoke(),
            Profile::Quick => Self::quick(),
            Profile::Full => Self::full(),
        }
    }

    /// The spec's `full`: 5 seeds, 20 epochs on Data A, every experiment, 100 epochs on B.
    pub fn full() -> Self {
        Self {
            seeds: 5,
            markov: MarkovConfig::default(),
            n_pretrain: 10_000,
            n_probe_train: 2_000,
            n_test: 2_000,
            n_nll_eval: 2_000,
            d_model: 64,
            n_layers: 2,
            n_heads: 4,
            k_max: 8,
            train: TrainConfig {
                epochs: 20,
                ..TrainConfig::default()
            },
            probe: ProbeConfig::full_batch_adam(0.01, 500, 1e-4),
            methods: Method::standard(),
            sweep_sizes: vec![2_000, 5_000],
            ablations: Method::ablations(),
            digits: DigitsConfig {
                k: 32,
                max_shift: 1,
                epochs: 100,
                t_from: 8,
            },
            default_experiments: ["markov", "sweep", "ablations", "digits"]
                .map(String::from)
                .to_vec(),
            eval_chunk: 512,
        }
    }

    /// Quick, re-sized from the 50-step pilot (crate docs): 3 seeds, the spec's data sizes
    /// and model, **2 epochs** (312 steps) per objective instead of 8, generation NLL on
    /// the first 500 test sequences; Data A only.
    pub fn quick() -> Self {
        Self {
            seeds: 3,
            n_nll_eval: 500,
            train: TrainConfig {
                epochs: 2,
                ..TrainConfig::default()
            },
            sweep_sizes: Vec::new(),
            ablations: Vec::new(),
            default_experiments: vec!["markov".into()],
            ..Self::full()
        }
    }

    /// Seconds (tests): 1 seed, 512 / 128 / 128 sequences, α calibrated on 2 000, one
    /// layer of width 32, 3 epochs (24 steps) per objective; every experiment at toy size
    /// (sweep size 256, two ablations, digits for 2 epochs).
    pub fn smoke() -> Self {
        let full = Self::full();
        Self {
            seeds: 1,
            markov: MarkovConfig {
                alpha: Alpha::CalibrateBayesAcc {
                    target: 0.9,
                    n_calib: 2_000,
                },
                ..MarkovConfig::default()
            },
            n_pretrain: 512,
            n_probe_train: 128,
            n_test: 128,
            n_nll_eval: 128,
            d_model: 32,
            n_layers: 1,
            train: TrainConfig {
                epochs: 3,
                ..TrainConfig::default()
            },
            probe: ProbeConfig::full_batch_adam(0.01, 100, 1e-4),
            sweep_sizes: vec![256],
            ablations: vec![full.ablations[0].clone(), full.ablations[5].clone()],
            digits: DigitsConfig {
                epochs: 2,
                ..full.digits.clone()
            },
            ..full
        }
    }

    /// The model for `vocab` tokens and sequences of `n`, with `method`'s depth.
    pub fn model(&self, vocab: usize, n: usize, method: Option<&Method>) -> SeqModelConfig {
        SeqModelConfig {
            vocab,
            max_len: n + 1,
            d_model: self.d_model,
            n_layers: method.and_then(|m| m.n_layers).unwrap_or(self.n_layers),
            n_heads: self.n_heads,
            mlp_ratio: 4,
            k_max: self.k_max,
        }
    }

    /// Checks every setting.
    ///
    /// # Errors
    /// Names the first bad field.
    pub fn validate(&self) -> anyhow::Result<()> {
        self.markov.check()?;
        anyhow::ensure!(self.seeds > 0, "seeds must be positive");
        for (name, v) in [
            ("n_pretrain", self.n_pretrain),
            ("n_probe_train", self.n_probe_train),
            ("n_test", self.n_test),
            ("n_nll_eval", self.n_nll_eval),
            ("eval_chunk", self.eval_chunk),
        ] {
            anyhow::ensure!(v > 0, "{name} must be positive");
        }
        anyhow::ensure!(
            self.n_nll_eval <= self.n_test,
            "n_nll_eval {} exceeds n_test {}",
            self.n_nll_eval,
            self.n_test
        );
        self.model(self.markov.vocab, self.markov.len, None)
            .check()?;
        for m in self.methods.iter().chain(&self.ablations) {
            m.objective
                .check()
                .map_err(|e| anyhow::anyhow!("method {}: {e}", m.name))?;
            if let Objective::Dear { k_max } = m.objective {
                anyhow::ensure!(
                    k_max <= self.k_max,
                    "method {}: K_max {k_max} exceeds the model's k_max {}",
                    m.name,
                    self.k_max
                );
            }
        }
        for name in ["AR", "MLM", "DEAR", "VLM"] {
            anyhow::ensure!(
                self.methods.iter().any(|m| m.name == name),
                "methods must include {name} (the claims compare it)"
            );
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presets_validate() {
        for p in [Profile::Smoke, Profile::Quick, Profile::Full] {
            ExperimentConfig::for_profile(p).validate().unwrap();
        }
        let mut c = ExperimentConfig::smoke();
        c.methods[1].objective = Objective::Mlm {
            rho: 1.2,
            bert_80_10_10: false,
        };
        assert!(c.validate().unwrap_err().to_string().contains("MLM"));
        let mut c = ExperimentConfig::smoke();
        c.n_nll_eval = 1_000;
        assert!(c.validate().unwrap_err().to_string().contains("n_nll_eval"));
    }
}

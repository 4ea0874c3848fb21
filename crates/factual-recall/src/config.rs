//! Experiment presets (spec §6; the sizing of quick is measured, see the crate docs).

use repro_core::Profile;
use serde::{Deserialize, Serialize};

use crate::kb::KbConfig;
use crate::neurons::KnConfig;
use crate::train::{ModelConfig, TrainSpec};

/// Which facts get a knowledge-neuron set (integrated gradients over their bags).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct KnSelection {
    /// First-hop facts of this many persons: every held-out person first (up to this
    /// number), then memorised ones in the knowledge base's order.
    pub persons: usize,
    /// Every fact of the other relations (`true`), or only the second-hop facts of the
    /// chosen persons' bridges (`false`).
    pub all_other_facts: bool,
}

/// E6 on PARAREL's chains (full profile; `--only e6` elsewhere).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct PararelConfig {
    /// Training of the PARAREL model.
    pub train: TrainSpec,
    /// Persons whose P27 fact is attributed (P37 facts: all 50).
    pub kn_persons: usize,
}

/// Everything a reproduction run needs.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ExperimentConfig {
    /// The synthetic knowledge base.
    pub kb: KbConfig,
    /// The decoder's shape.
    pub model: ModelConfig,
    /// Training.
    pub train: TrainSpec,
    /// Knowledge-neuron selection.
    pub kn: KnConfig,
    /// Which facts are attributed.
    pub selection: KnSelection,
    /// Matched random draws per control (averaged).
    pub random_draws: usize,
    /// Persons (of the attributed ones) whose queries also get the attribution-based KN
    /// score (integrated gradients inside the query; the secondary column of E2).
    pub attr_score_persons: usize,
    /// Seeds (knowledge base, split, initialisation and batches all follow the seed).
    pub seeds: usize,
    /// Bootstrap resamples of every confidence interval.
    pub bootstrap: usize,
    /// E6, when it runs.
    pub pararel: PararelConfig,
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

    /// Seconds (tests): 16 persons / 4 cities / 2 countries / 2 languages, 2 layers of
    /// width 32 (d_ff 64), 50 steps of 16, 4 attributed facts at m = 4.
    pub fn smoke() -> Self {
        let mut kn = KnConfig::ours();
        kn.ig.steps = 4;
        Self {
            kb: KbConfig::smoke(),
            model: ModelConfig::smoke(),
            train: TrainSpec {
                steps: 50,
                batch: 16,
                warmup: 5,
                ..TrainSpec::quick()
            },
            kn,
            selection: KnSelection {
                persons: 2,
                all_other_facts: false,
            },
            random_draws: 2,
            attr_score_persons: 2,
            seeds: 1,
            bootstrap: 500,
            pararel: PararelConfig {
                train: TrainSpec {
                    steps: 20,
                    batch: 16,
                    warmup: 2,
                    ..TrainSpec::quick()
                },
                kn_persons: 2,
            },
        }
    }

    /// At most 10 minutes on 2 cores (measured: 50 steps ≈ 6.3 s, one bag ≈ 0.2 s): the full
    /// knowledge base, 4 layers of width 64 (d_ff 256), 1,500 steps of 64, the first-hop
    /// facts of 128 persons (all 51 held-out) and every second- and third-hop fact (168
    /// bags, m = 20), one seed.
    pub fn quick() -> Self {
        Self {
            kb: KbConfig::full(),
            model: ModelConfig::quick(),
            train: TrainSpec::quick(),
            kn: KnConfig::ours(),
            selection: KnSelection {
                persons: 128,
                all_other_facts: true,
            },
            random_draws: 5,
            attr_score_persons: 24,
            seeds: 1,
            bootstrap: 2000,
            pararel: PararelConfig {
                train: TrainSpec {
                    steps: 1500,
                    ..TrainSpec::quick()
                },
                kn_persons: 128,
            },
        }
    }

    /// The spec's full row: 4,000 steps of 128, every fact attributed (296 bags), 3 seeds,
    /// and E6 on PARAREL. Not run by us yet (≈ 1–2 CPU hours per the spec).
    pub fn full() -> Self {
        Self {
            train: TrainSpec {
                steps: 4000,
                batch: 128,
                ..TrainSpec::quick()
            },
            selection: KnSelection {
                persons: 256,
                all_other_facts: true,
            },
            attr_score_persons: 64,
            seeds: 3,
            pararel: PararelConfig {
                train: TrainSpec {
                    steps: 4000,
                    batch: 128,
                    ..TrainSpec::quick()
                },
                kn_persons: 256,
            },
            ..Self::quick()
        }
    }
}

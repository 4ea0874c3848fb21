//! Experiment presets (spec §6, with the quick preset fixed from the pilot; see the crate
//! docs).

use std::ops::Range;

use repro_core::Profile;
use serde::{Deserialize, Serialize};

use crate::curriculum::{Curriculum, Stage};
use crate::model::IclModelConfig;
use crate::train::MixSchedule;

/// The transformer's shape (the input and label widths come from the task).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModelShape {
    /// Residual width.
    pub d_model: usize,
    /// Attention heads.
    pub n_heads: usize,
    /// Blocks.
    pub n_layers: usize,
    /// MLP width.
    pub d_ff: usize,
}

impl ModelShape {
    /// The model for inputs of width `d`, labels of width `d_y` and `n` points.
    pub fn config(&self, d: usize, d_y: usize, n: usize) -> IclModelConfig {
        IclModelConfig {
            d,
            d_y,
            n,
            d_model: self.d_model,
            n_heads: self.n_heads,
            n_layers: self.n_layers,
            d_ff: self.d_ff,
        }
    }
}

/// The abstract-label experiment (X4).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LabelsConfig {
    /// Label (and input) width `d_e` (§5: 5).
    pub d_e: usize,
    /// Points per prompt.
    pub n: usize,
    /// Rows `C` of the table (§5: 1,000).
    pub n_classes: usize,
    /// Seed of the table `E` (written into the report).
    pub table_seed: u64,
    /// Training shifts of the main model.
    pub train_shift: Range<u32>,
    /// Training shifts of the optional wide model (ICL-6).
    pub wide_shift: Range<u32>,
    /// In-distribution test shifts.
    pub id_shift: Range<u32>,
    /// Out-of-distribution test shifts.
    pub ood_shifts: Vec<Range<u32>>,
    /// Training steps of each model.
    pub steps: usize,
    /// Curriculum of the label models.
    pub curriculum: Curriculum,
}

/// Everything a reproduction run needs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExperimentConfig {
    /// Input width `d` of the regression tasks.
    pub d: usize,
    /// Points per prompt `n` (prompts of `2n` tokens).
    pub n: usize,
    /// Transformer shape.
    pub model: ModelShape,
    /// Prompts per batch.
    pub batch: usize,
    /// Optimiser steps of each single-class run (LR, QR).
    pub steps: usize,
    /// Iterations of the LR+QR run (each one step per class with `SequentialPerTask`).
    pub mix_iterations: usize,
    /// How the LR+QR run shares the optimiser.
    pub schedule: MixSchedule,
    /// Curriculum of the regression runs.
    pub curriculum: Curriculum,
    /// Peak learning rate (Adam).
    pub lr: f64,
    /// Linear warm-up iterations, then constant.
    pub warmup: usize,
    /// Evaluation prompts per test class.
    pub eval_prompts: usize,
    /// Prompts of the GD baselines (the first of the evaluation prompts).
    pub gd_prompts: usize,
    /// GD baselines are evaluated at every `gd_every`-th position (and at `k_max`).
    pub gd_every: usize,
    /// Hidden width of the ReLU-2NN test class.
    pub relu_hidden: usize,
    /// λ values of the mixture sweep.
    pub lambdas: Vec<f32>,
    /// Seeds (training runs).
    pub seeds: usize,
    /// Iterations between mid-run checkpoints.
    pub checkpoint_every: usize,
    /// The abstract-label experiment.
    pub labels: LabelsConfig,
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

    /// Seconds; used by tests: d = 3, n = 7, 30 steps per class, 2 layers of width 32,
    /// batch 8, no curriculum, 64 prompts.
    pub fn smoke() -> Self {
        let labels = LabelsConfig {
            n: 7,
            steps: 30,
            curriculum: Curriculum::fixed(5, 7),
            ..Self::full().labels
        };
        Self {
            d: 3,
            n: 7,
            model: ModelShape {
                d_model: 32,
                n_heads: 2,
                n_layers: 2,
                d_ff: 128,
            },
            batch: 8,
            steps: 30,
            mix_iterations: 30,
            schedule: MixSchedule::SequentialPerTask,
            curriculum: Curriculum::fixed(3, 7),
            lr: 5e-4,
            warmup: 5,
            eval_prompts: 64,
            gd_prompts: 64,
            gd_every: 1,
            relu_hidden: 100,
            lambdas: vec![0.0, 0.25, 0.5, 0.75, 1.0],
            seeds: 1,
            checkpoint_every: 10,
            labels,
        }
    }

    /// At most 10 minutes on 2 cores: d = 4, n = 17, the tiny model, batch 32, LR and QR
    /// 1,000 steps each, LR+QR 1,000 iterations (2,000 steps), curriculum dims 2 → 4
    /// (+1 / 150) and points 5 → 17 (+2 / 150), 1,280 prompts (GD: 256, every 2nd k).
    pub fn quick() -> Self {
        Self {
            d: 4,
            n: 17,
            model: ModelShape {
                d_model: 64,
                n_heads: 2,
                n_layers: 3,
                d_ff: 256,
            },
            batch: 32,
            steps: 1000,
            mix_iterations: 1000,
            schedule: MixSchedule::SequentialPerTask,
            curriculum: Curriculum {
                dims: Stage {
                    start: 2,
                    end: 4,
                    inc: 1,
                    interval: 150,
                },
                points: Stage {
                    start: 5,
                    end: 17,
                    inc: 2,
                    interval: 150,
                },
            },
            lr: 5e-4,
            warmup: 100,
            eval_prompts: 1280,
            gd_prompts: 256,
            gd_every: 2,
            relu_hidden: 100,
            lambdas: vec![0.0, 0.25, 0.5, 0.75, 1.0],
            seeds: 1,
            checkpoint_every: 250,
            labels: LabelsConfig {
                n: 21,
                steps: 1000,
                curriculum: Curriculum {
                    dims: Stage {
                        start: 2,
                        end: 5,
                        inc: 1,
                        interval: 150,
                    },
                    points: Stage {
                        start: 5,
                        end: 21,
                        inc: 2,
                        interval: 150,
                    },
                },
                ..Self::full().labels
            },
        }
    }

    /// The larger setting (CPU hours, or a GPU): d = 5, n = 21, batch 64, 8,000 steps per
    /// class and for each label model, 8,000 LR+QR iterations, 3 seeds. Not run by us yet.
    pub fn full() -> Self {
        let curriculum = Curriculum {
            dims: Stage {
                start: 2,
                end: 5,
                inc: 1,
                interval: 500,
            },
            points: Stage {
                start: 5,
                end: 21,
                inc: 2,
                interval: 500,
            },
        };
        Self {
            d: 5,
            n: 21,
            model: ModelShape {
                d_model: 64,
                n_heads: 2,
                n_layers: 3,
                d_ff: 256,
            },
            batch: 64,
            steps: 8000,
            mix_iterations: 8000,
            schedule: MixSchedule::SequentialPerTask,
            curriculum,
            lr: 5e-4,
            warmup: 100,
            eval_prompts: 1280,
            gd_prompts: 1280,
            gd_every: 1,
            relu_hidden: 100,
            lambdas: vec![0.0, 0.25, 0.5, 0.75, 1.0],
            seeds: 3,
            checkpoint_every: 500,
            labels: LabelsConfig {
                d_e: 5,
                n: 21,
                n_classes: 1000,
                table_seed: 20_251_202,
                train_shift: 50..150,
                wide_shift: 50..450,
                id_shift: 100..150,
                ood_shifts: vec![500..600, 10..20],
                steps: 8000,
                curriculum,
            },
        }
    }

    /// Positions of the GD baselines: every `gd_every`-th `k`, and `k_max`.
    pub fn gd_positions(&self) -> Vec<usize> {
        let mut ks: Vec<usize> = (0..self.n).step_by(self.gd_every.max(1)).collect();
        if ks.last() != Some(&(self.n - 1)) {
            ks.push(self.n - 1);
        }
        ks
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presets_are_consistent_with_their_shapes() {
        for p in [Profile::Smoke, Profile::Quick, Profile::Full] {
            let c = ExperimentConfig::for_profile(p);
            c.curriculum.check(c.d, c.n).unwrap();
            c.labels.curriculum.check(c.labels.d_e, c.labels.n).unwrap();
            c.model.config(c.d, 1, c.n).check().unwrap();
            c.model
                .config(c.labels.d_e, c.labels.d_e, c.labels.n)
                .check()
                .unwrap();
            // n = 4d + 1 points (spec §5) for the regression tasks beyond smoke.
            if p != Profile::Smoke {
                assert_eq!(c.n, 4 * c.d + 1, "{p:?}");
            }
            // Abstract labels: the C = 1,000 and d_e = 5, shifts as §5.
            assert_eq!((c.labels.n_classes, c.labels.d_e), (1000, 5));
            assert_eq!(c.labels.train_shift, 50..150);
            assert_eq!(c.labels.ood_shifts, vec![500..600, 10..20]);
        }
    }

    #[test]
    fn the_quick_curriculum_reaches_full_length_at_step_900() {
        // Points 5 → 17 by 2 every 150 steps: 6 increments, full from step 6·150 = 900
        // (spec §6); dims 2 → 4 are full from step 300.
        let c = ExperimentConfig::quick();
        assert_eq!(c.curriculum.full_from(), 900);
        assert_eq!(c.curriculum.dims.full_from(), 300);
        assert!(c.curriculum.full_from() < c.steps);
        // Full: points 5 → 21 by 2 every 500 steps, full from 4,000.
        assert_eq!(ExperimentConfig::full().curriculum.full_from(), 4000);
    }
}

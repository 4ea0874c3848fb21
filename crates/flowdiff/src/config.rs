//! Experiment configurations and the `smoke` / `quick` / `full` presets (spec §6). Every
//! number not in the paper is our operationalisation (spec §3 defaults).
//!
//! This module depends only on the model modules (`diffusion`, `flow`, `corruption`), so
//! `digits`, `eval`, `train` and `reproduce` can all read it.

use repro_core::Profile;
use serde::{Deserialize, Serialize};

use crate::diffusion::LogSnrSchedule;
use crate::flow::MaskKind;

/// Architecture of the conditional flow.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FlowArch {
    /// Affine couplings.
    pub n_couplings: usize,
    /// Conditioner width.
    pub hidden: usize,
    /// Conditioner hidden layers.
    pub hidden_layers: usize,
    /// Log-scale bound `B`.
    pub scale_bound: f32,
    /// Coupling masks: alternating coordinates (2-D) or an image checkerboard and its
    /// complement (digits).
    pub mask: MaskKind,
}

/// Architecture of the MLP denoiser.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DenoiserArch {
    /// Hidden width.
    pub hidden: usize,
    /// Hidden layers.
    pub layers: usize,
    /// `sigma_d` of the preconditioned parametrisation (0: plain `eps` prediction; see
    /// [`crate::diffusion::MlpDenoiser`]).
    pub sigma_data: f32,
}

/// Joint training of FlowDiff (and, scaled alike, of the baselines).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FlowDiffConfig {
    /// DSM steps of the prior on the observations before the flow starts (warm start).
    pub warm_start_steps: usize,
    /// Flow steps against the warm-started EMA prior before alternating.
    pub flow_warmup_steps: usize,
    /// Alternations: one flow step, then `dm_steps_per_alternation` DM steps on fresh flow
    /// samples, each followed by an EMA update.
    pub alternations: usize,
    /// DM steps per alternation (spec: 1 or 2, fixed before a `full` run).
    pub dm_steps_per_alternation: usize,
    /// Batch size (observations per step).
    pub batch: usize,
    /// Adam learning rate of the denoiser.
    pub lr_dm: f64,
    /// Adam learning rate of the flow.
    pub lr_flow: f64,
    /// EMA decay of the prior used inside the flow loss and for sampling.
    pub ema: f32,
    /// `(t, eps)` draws per sample in the ELBO surrogate.
    pub k: usize,
    /// Prior weight `w`.
    pub w: f32,
    /// Gradient-norm clip (Burn clips each parameter tensor by its own norm; declared).
    pub grad_clip: f32,
    /// Flow architecture.
    pub flow: FlowArch,
    /// Denoiser architecture.
    pub denoiser: DenoiserArch,
    /// Noise schedule.
    pub schedule: LogSnrSchedule,
}

/// A 2-D dataset with a known clean distribution.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Dataset2d {
    /// 8 Gaussians of std 0.1 on the circle of radius 2.
    Ring8,
    /// Two moons (scaled, jittered).
    Moons,
}

impl Dataset2d {
    /// Lower-case name.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Ring8 => "ring8",
            Self::Moons => "moons",
        }
    }
}

/// A digits corruption of experiment E2 (spec §5).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase", tag = "kind")]
pub enum DigitsCorruption {
    /// Denoising: `y = x + sigma n`.
    Noise {
        /// Noise level on the `[-1, 1]` scale.
        sigma: f32,
    },
    /// Gaussian blur `A = T ⊗ T` (zero padding) plus noise.
    Blur {
        /// Odd kernel side.
        ksize: usize,
        /// Kernel standard deviation (pixels).
        std: f32,
        /// Noise level.
        sigma: f32,
    },
}

impl DigitsCorruption {
    /// The spec's blur: 3x3 kernel, std 0.8, noise 0.05.
    pub const BLUR: Self = Self::Blur {
        ksize: 3,
        std: 0.8,
        sigma: 0.05,
    };

    /// Short name: `noise0.2`, `noise0.4`, `blur`.
    pub fn name(&self) -> String {
        match self {
            Self::Noise { sigma } => format!("noise{sigma}"),
            Self::Blur { .. } => "blur".into(),
        }
    }

    /// The forward operator on 8x8 images.
    ///
    /// # Errors
    /// Bad blur or noise settings.
    pub fn operator(
        &self,
    ) -> Result<Box<dyn crate::corruption::ForwardOperator>, crate::corruption::CorruptionError>
    {
        use crate::corruption::{IdentityOp, MatrixOp};
        Ok(match *self {
            Self::Noise { sigma } => Box::new(IdentityOp::new(64, sigma)?),
            Self::Blur { ksize, std, sigma } => Box::new(MatrixOp::blur(8, 8, ksize, std, sigma)?),
        })
    }
}

/// Training of the judge (spec §3: full-batch Adam, lr 1e-3, weight decay 1e-4, 200
/// epochs, seed 0).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JudgeConfig {
    /// First hidden width.
    pub hidden: usize,
    /// Width of the penultimate (feature) layer.
    pub features: usize,
    /// Full-batch epochs.
    pub epochs: usize,
    /// Adam learning rate.
    pub lr: f64,
    /// L2 weight decay (added to gradients, as `torch.optim.Adam`).
    pub weight_decay: f32,
    /// Seed of the weights.
    pub seed: u64,
}

impl Default for JudgeConfig {
    fn default() -> Self {
        Self {
            hidden: 128,
            features: 32,
            epochs: 200,
            lr: 1e-3,
            weight_decay: 1e-4,
            seed: 0,
        }
    }
}

/// Experiment E2: 8x8 digits, one corruption per training image, all methods.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DigitsConfig {
    /// Corruptions run, in order (the downstream study E3 reuses the models of
    /// `noise0.2`).
    pub corruptions: Vec<DigitsCorruption>,
    /// Default number of seeds.
    pub seeds: usize,
    /// Generated samples per method for FD-lite and label entropy (the clean reference is
    /// the 500 test images).
    pub n_gen: usize,
    /// Flow samples averaged per posterior mean.
    pub pm_samples: usize,
    /// DDIM steps for final samples (no `x0^` clipping: clipping raised the FD-lite of
    /// the exact Gaussian denoiser's samples from 3.8 to 16; declared).
    pub ddim_steps: usize,
    /// Alternations between points of the FD-lite-over-training curve (0: no curve).
    pub curve_every: usize,
    /// DDIM samples per curve point.
    pub curve_samples: usize,
    /// DDIM steps per curve point.
    pub curve_ddim_steps: usize,
    /// Images per method in the sample sheets (seed 0).
    pub sheet_images: usize,
    /// EM iterations of the Gaussian prior.
    pub em_iters: usize,
    /// The evaluation classifier.
    pub judge: JudgeConfig,
    /// Training of FlowDiff; the baselines get matching step counts.
    pub train: FlowDiffConfig,
}

/// Experiment E3: DPS on clean test digits with fresh corruption (spec §6).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DownstreamConfig {
    /// Scored test images.
    pub n_test: usize,
    /// Validation images for the choice of `zeta` (other test images, disjoint).
    pub n_val: usize,
    /// DPS (DDIM) steps.
    pub steps: usize,
    /// Candidate guidance scales.
    pub zetas: Vec<f32>,
    /// D1: denoising noise level.
    pub d1_sigma: f32,
    /// D2: observed fraction of pixels.
    pub d2_fraction: f32,
    /// D2: noise level.
    pub d2_sigma: f32,
    /// Bootstrap resamples of the paired differences (C5).
    pub bootstrap_resamples: usize,
}

impl DownstreamConfig {
    /// The spec's setting with `n_test` scored images, `n_val` validation images and
    /// `steps` DPS steps.
    pub fn with_sizes(n_test: usize, n_val: usize, steps: usize) -> Self {
        Self {
            n_test,
            n_val,
            steps,
            zetas: vec![0.3, 1.0, 3.0],
            d1_sigma: 0.3,
            d2_fraction: 0.5,
            d2_sigma: 0.05,
            bootstrap_resamples: 10_000,
        }
    }
}

/// One reproduction profile.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExperimentConfig {
    /// Profile name.
    pub profile: Profile,
    /// Datasets of E1.
    pub datasets: Vec<Dataset2d>,
    /// Noise levels of E1.
    pub sigmas: Vec<f32>,
    /// Default number of seeds.
    pub seeds: usize,
    /// Observations per run.
    pub n_train: usize,
    /// Fresh clean samples and generated samples per method for MMD / SW2.
    pub n_eval: usize,
    /// Held-out `(x, y)` pairs for the posterior-mean MSE.
    pub n_pm: usize,
    /// Flow samples averaged per posterior mean.
    pub pm_samples: usize,
    /// DDIM steps for final samples.
    pub ddim_steps: usize,
    /// RBF bandwidths of MMD^2.
    pub mmd_bandwidths: Vec<f64>,
    /// Directions of sliced W2.
    pub sw_directions: usize,
    /// Alternations between points of the distance-over-training curve.
    pub curve_every: usize,
    /// Samples per curve point.
    pub curve_samples: usize,
    /// DDIM steps per curve point.
    pub curve_ddim_steps: usize,
    /// Training of FlowDiff; the baselines get matching step counts.
    pub train: FlowDiffConfig,
    /// Experiments run when `--only` is empty (names from [`crate::INFO`]).
    pub default_experiments: Vec<String>,
    /// Experiment E2 (digits).
    pub digits: DigitsConfig,
    /// Experiment E3 (downstream DPS).
    pub downstream: DownstreamConfig,
}

impl DigitsConfig {
    /// Spec sizes: noise 0.2, noise 0.4 and blur at the full digits step counts
    /// ([`FlowDiffConfig::digits`]), 3 seeds, DDIM 200.
    pub fn full() -> Self {
        Self {
            corruptions: vec![
                DigitsCorruption::Noise { sigma: 0.2 },
                DigitsCorruption::Noise { sigma: 0.4 },
                DigitsCorruption::BLUR,
            ],
            seeds: 3,
            n_gen: 500,
            pm_samples: 64,
            ddim_steps: 200,
            curve_every: 2000,
            curve_samples: 500,
            curve_ddim_steps: 50,
            sheet_images: 16,
            em_iters: 50,
            judge: JudgeConfig::default(),
            train: FlowDiffConfig::digits(),
        }
    }

    /// The reduced budget of the quick profile (declared): noise 0.2 and blur only;
    /// denoiser width 256 (spec: 512), flow conditioners 128 wide (spec: 256); warm start
    /// 1 500, warm-up 100, 500 alternations (spec: 10 000 / 1 000 / 20 000); EMA 0.995
    /// (spec 0.999: its 1 000-step horizon exceeds the whole run); 16 flow samples per
    /// posterior mean, DDIM 100.
    pub fn quick() -> Self {
        let mut train = FlowDiffConfig::digits();
        train.denoiser.hidden = 256;
        train.flow.hidden = 128;
        train.warm_start_steps = 1500;
        train.flow_warmup_steps = 100;
        train.alternations = 500;
        train.ema = 0.995;
        Self {
            corruptions: vec![
                DigitsCorruption::Noise { sigma: 0.2 },
                DigitsCorruption::BLUR,
            ],
            seeds: 3,
            n_gen: 500,
            pm_samples: 16,
            ddim_steps: 100,
            curve_every: 100,
            curve_samples: 250,
            curve_ddim_steps: 25,
            sheet_images: 16,
            em_iters: 50,
            judge: JudgeConfig::default(),
            train,
        }
    }

    /// Seconds (only when selected with `--only digits` in smoke, and in tests): tiny
    /// networks and step counts, one seed.
    pub fn smoke() -> Self {
        let mut train = FlowDiffConfig::digits();
        train.denoiser.hidden = 32;
        train.flow.hidden = 32;
        train.flow.n_couplings = 4;
        train.batch = 32;
        train.k = 2;
        train.warm_start_steps = 20;
        train.flow_warmup_steps = 5;
        train.alternations = 20;
        train.ema = 0.9;
        Self {
            corruptions: vec![DigitsCorruption::Noise { sigma: 0.2 }],
            seeds: 1,
            n_gen: 64,
            pm_samples: 2,
            ddim_steps: 5,
            curve_every: 10,
            curve_samples: 32,
            curve_ddim_steps: 3,
            sheet_images: 4,
            em_iters: 5,
            judge: JudgeConfig {
                epochs: 20,
                ..Default::default()
            },
            train,
        }
    }
}

impl FlowDiffConfig {
    /// The 2-D defaults of spec §3 (full step counts).
    pub fn two_d() -> Self {
        Self {
            warm_start_steps: 4000,
            flow_warmup_steps: 500,
            alternations: 6000,
            dm_steps_per_alternation: 1,
            batch: 256,
            lr_dm: 1e-3,
            lr_flow: 5e-4,
            ema: 0.998,
            k: 8,
            w: 1.0,
            grad_clip: 1.0,
            flow: FlowArch {
                n_couplings: 8,
                hidden: 64,
                hidden_layers: 2,
                scale_bound: 2.0,
                mask: MaskKind::Alternate,
            },
            denoiser: DenoiserArch {
                hidden: 128,
                layers: 3,
                sigma_data: 0.0,
            },
            schedule: LogSnrSchedule::default(),
        }
    }

    /// The 8x8 digits defaults of spec §3 (full step counts): batch 128, lr 5e-4 (DM) /
    /// 2e-4 (flow), EMA 0.999 (after weiminbai/EMDiffusion), K = 4, warm start 10 000,
    /// warm-up 1 000, 20 000 alternations; flow of 10 checkerboard couplings with
    /// conditioners `[h m, y] -> 256 -> 256`; denoiser `[x_t, e] -> 512 x 3 -> 64`.
    pub fn digits() -> Self {
        Self {
            warm_start_steps: 10_000,
            flow_warmup_steps: 1000,
            alternations: 20_000,
            dm_steps_per_alternation: 1,
            batch: 128,
            lr_dm: 5e-4,
            lr_flow: 2e-4,
            ema: 0.999,
            k: 4,
            w: 1.0,
            grad_clip: 1.0,
            flow: FlowArch {
                n_couplings: 10,
                hidden: 256,
                hidden_layers: 2,
                scale_bound: 2.0,
                mask: MaskKind::Checkerboard { h: 8, w: 8 },
            },
            denoiser: DenoiserArch {
                hidden: 512,
                layers: 3,
                // EDM's data scale for images in [-1, 1] (Karras et al. 2022).
                sigma_data: 0.5,
            },
            schedule: LogSnrSchedule::default(),
        }
    }

    /// DM steps of the DM-on-y and oracle baselines: as many as FlowDiff's prior gets.
    pub fn baseline_dm_steps(&self) -> usize {
        self.warm_start_steps + self.alternations * self.dm_steps_per_alternation
    }

    /// Flow steps of the flow-only baseline: as many as FlowDiff's flow gets.
    pub fn baseline_flow_steps(&self) -> usize {
        self.flow_warmup_steps + self.alternations
    }
}

impl ExperimentConfig {
    /// Seconds: ring8, sigma 0.5, 512 observations, all methods at tiny step counts. Digits
    /// and the downstream study run only when selected with `--only`.
    pub fn smoke() -> Self {
        let mut train = FlowDiffConfig::two_d();
        train.warm_start_steps = 200;
        train.flow_warmup_steps = 50;
        train.alternations = 300;
        Self {
            profile: Profile::Smoke,
            datasets: vec![Dataset2d::Ring8],
            sigmas: vec![0.5],
            seeds: 1,
            n_train: 512,
            n_eval: 512,
            n_pm: 256,
            pm_samples: 16,
            ddim_steps: 20,
            mmd_bandwidths: vec![0.05, 0.1, 0.2, 0.5, 1.0],
            sw_directions: 500,
            curve_every: 100,
            curve_samples: 256,
            curve_ddim_steps: 20,
            train,
            default_experiments: vec!["ring8".into()],
            digits: DigitsConfig::smoke(),
            downstream: DownstreamConfig::with_sizes(16, 8, 5),
        }
    }

    /// At most 10 minutes on 2 cores: ring8, sigma 0.5, all methods, steps / 5, 3 seeds;
    /// digits at the reduced budget of [`DigitsConfig::quick`]; the downstream study on 200
    /// images with 50 DPS steps.
    pub fn quick() -> Self {
        let mut train = FlowDiffConfig::two_d();
        train.warm_start_steps = 800;
        train.flow_warmup_steps = 100;
        train.alternations = 1200;
        Self {
            profile: Profile::Quick,
            datasets: vec![Dataset2d::Ring8],
            sigmas: vec![0.5],
            seeds: 3,
            n_train: 5000,
            n_eval: 5000,
            n_pm: 1000,
            pm_samples: 64,
            ddim_steps: 100,
            mmd_bandwidths: vec![0.05, 0.1, 0.2, 0.5, 1.0],
            sw_directions: 500,
            curve_every: 150,
            curve_samples: 1000,
            curve_ddim_steps: 50,
            train,
            default_experiments: vec!["ring8".into(), "digits".into(), "downstream".into()],
            digits: DigitsConfig::quick(),
            downstream: DownstreamConfig::with_sizes(200, 50, 50),
        }
    }

    /// Spec sizes: E1 at full step counts (ring8 and moons, sigma 0.3 and 0.5), E2 with all
    /// three corruptions, E3 on 200 images with 100 DPS steps.
    pub fn full() -> Self {
        Self {
            profile: Profile::Full,
            datasets: vec![Dataset2d::Ring8, Dataset2d::Moons],
            sigmas: vec![0.3, 0.5],
            seeds: 3,
            n_train: 5000,
            n_eval: 5000,
            n_pm: 1000,
            pm_samples: 64,
            ddim_steps: 200,
            mmd_bandwidths: vec![0.05, 0.1, 0.2, 0.5, 1.0],
            sw_directions: 500,
            curve_every: 500,
            curve_samples: 1000,
            curve_ddim_steps: 50,
            train: FlowDiffConfig::two_d(),
            default_experiments: ["ring8", "moons", "digits", "downstream"]
                .map(String::from)
                .to_vec(),
            digits: DigitsConfig::full(),
            downstream: DownstreamConfig::with_sizes(200, 50, 100),
        }
    }

    /// The preset of `profile`.
    pub fn for_profile(profile: Profile) -> Self {
        match profile {
            Profile::Smoke => Self::smoke(),
            Profile::Quick => Self::quick(),
            Profile::Full => Self::full(),
        }
    }
}

//! Experiment configurations and the `smoke` / `quick` / `full` presets (spec §6). Every
//! number not in the paper is our operationalisation (spec §3 defaults).

use repro_core::Profile;
use serde::{Deserialize, Serialize};

use crate::diffusion::LogSnrSchedule;

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
}

/// Architecture of the MLP denoiser.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DenoiserArch {
    /// Hidden width.
    pub hidden: usize,
    /// Hidden layers.
    pub layers: usize,
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
            },
            denoiser: DenoiserArch {
                hidden: 128,
                layers: 3,
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
    /// Seconds: ring8, sigma 0.5, 512 observations, all methods at tiny step counts.
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
        }
    }

    /// At most 10 minutes on 2 cores: ring8, sigma 0.5, all methods, steps / 5, 3 seeds.
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
        }
    }

    /// E1 at full step counts: ring8 and moons, sigma 0.3 and 0.5.
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

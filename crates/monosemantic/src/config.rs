//! Experiment settings and the three presets (`smoke`, `quick`, `full`).

use repro_core::augment::ViewConfig;
use repro_core::probe::ProbeConfig;
use repro_core::report::Profile;
use serde::{Deserialize, Serialize};

use crate::model::EncoderConfig;
use crate::noise::Shift;
use crate::toy::SuperpositionConfig;

/// Everything a reproduction run needs, grouped as the jobs use it: the digits data and
/// encoder, contrastive pretraining, the SAE, the evaluations, and the toys. Every optimiser
/// hyper-parameter is explicit.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ExperimentConfig {
    /// Seeds run by default (`--seeds` overrides).
    pub seeds: usize,
    /// Use at most this many training images of the standard split (stratified prefix).
    pub max_train: Option<usize>,
    /// Use at most this many test images.
    pub max_test: Option<usize>,
    /// Encoder sizes `(d_in, hidden, d_rep, proj_hidden, d_proj)`.
    pub encoder: [usize; 5],
    /// Contrastive pretraining.
    pub pretrain: PretrainConfig,
    /// The TopK SAE on the frozen CL codes.
    pub sae: SaeConfig,
    /// Probes, noise, shifts, few-shot fine-tuning and controls.
    pub eval: EvalConfig,
    /// Toys T1 and T2.
    pub toys: ToyConfig,
}

/// Contrastive pretraining (CL and NCL).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PretrainConfig {
    /// Pretraining epochs (steps = epochs × ⌈n_train / batch⌉).
    pub epochs: usize,
    /// Images per pretraining batch (two views each); also the SAE's batch.
    pub batch_size: usize,
    /// AdamW peak learning rate (β 0.9/0.999, ε 1e-8), 5 % linear warm-up then cosine to 0.
    pub lr: f64,
    /// AdamW decoupled weight decay.
    pub weight_decay: f32,
    /// Warm-up fraction of the steps.
    pub warmup_frac: f64,
    /// NT-Xent temperature.
    pub tau: f64,
    /// Add the `L_var` term for NCL (off by default, as non_neg).
    pub with_var: bool,
    /// Random views for contrastive learning.
    pub views: ViewConfig,
}

/// The TopK sparse autoencoder.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SaeConfig {
    /// Latents.
    pub latent: usize,
    /// Top-k.
    pub k: usize,
    /// Epochs (Adam, β 0.9/0.999, ε 1e-8, batch `pretrain.batch_size`).
    pub epochs: usize,
    /// Learning rate.
    pub lr: f64,
}

/// The evaluations of the digits codes.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EvalConfig {
    /// The linear probe.
    pub probe: ProbeConfig,
    /// Probe weight decay of the CL-L2 control.
    pub l2_control_wd: f32,
    /// Train label-noise rates η.
    pub etas: Vec<f64>,
    /// Test Gaussian input-noise σ (standardised pixel space).
    pub sigmas: Vec<f64>,
    /// Test uniform input-noise amplitudes a.
    pub uniform: Vec<f64>,
    /// Synthetic shifts (probe trained clean).
    pub shifts: Vec<Shift>,
    /// Few-shot fractions per class (full fine-tuning of backbone + head).
    pub few_shot: Vec<f64>,
    /// Few-shot fine-tuning epochs (SGD momentum 0.9, no weight decay, cosine).
    pub few_shot_epochs: usize,
    /// Few-shot learning rate.
    pub few_shot_lr: f64,
    /// Also run NCL with the reparameterised ReLU.
    pub ncl_rep: bool,
    /// Also probe the backbone representation `h` of CL and NCL (secondary, P9).
    pub backbone_probes: bool,
    /// Also run the CL-L2 and CL-relu-eval controls.
    pub controls: bool,
}

/// Toys T1 (superposition) and T2 (two-feature separability).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ToyConfig {
    /// Toy T1 model.
    pub t1: SuperpositionConfig,
    /// T1 probe training and test samples.
    pub t1_samples: [usize; 2],
    /// T1 probe.
    pub t1_probe: ProbeConfig,
    /// T1 label-noise rates.
    pub t1_etas: Vec<f64>,
    /// T1 Gaussian noise on the test codes.
    pub t1_sigmas: Vec<f64>,
    /// T2 Monte-Carlo samples per point.
    pub t2_samples: usize,
    /// T2 label-noise grid.
    pub t2_etas: Vec<f64>,
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

    /// The `quick` preset: all of the standard digits split, 5 seeds, ≤ 10 minutes on 2
    /// cores (cuts relative to the spec are listed in the crate docs).
    pub fn quick() -> Self {
        Self {
            seeds: 5,
            max_train: None,
            max_test: None,
            encoder: [64, 256, 256, 1024, 256],
            pretrain: PretrainConfig {
                epochs: 150,
                batch_size: 256,
                lr: 1e-3,
                weight_decay: 1e-4,
                warmup_frac: 0.05,
                tau: 0.2,
                with_var: false,
                views: ViewConfig::default(),
            },
            sae: SaeConfig {
                latent: 256,
                k: 32,
                epochs: 100,
                lr: 1e-3,
            },
            eval: EvalConfig {
                probe: ProbeConfig::default(),
                l2_control_wd: 1e-3,
                etas: vec![0.0, 0.2, 0.4, 0.6, 0.8],
                sigmas: vec![0.0, 0.3, 0.6, 1.0],
                uniform: vec![0.4],
                shifts: vec![
                    Shift::Blur3,
                    Shift::Translate { dx: 2, dy: 0 },
                    Shift::Dilate1,
                    Shift::Rotate { degrees: 20.0 },
                ],
                few_shot: vec![0.05],
                few_shot_epochs: 100,
                few_shot_lr: 0.05,
                ncl_rep: false,
                backbone_probes: false,
                controls: true,
            },
            toys: ToyConfig {
                t1: SuperpositionConfig {
                    steps: 3000,
                    ..SuperpositionConfig::default()
                },
                t1_samples: [10_000, 5_000],
                t1_probe: ProbeConfig {
                    epochs: 30,
                    batch_size: 1024,
                    ..ProbeConfig::default()
                },
                t1_etas: vec![0.0, 0.2, 0.4, 0.6, 0.8],
                t1_sigmas: vec![0.0, 0.1, 0.2, 0.4],
                t2_samples: 200_000,
                t2_etas: (0..10).map(|i| f64::from(i) * 0.05).collect(),
            },
        }
    }

    /// The `smoke` preset: seconds, for tests (256 train / 128 test images, small encoder,
    /// 20 pretraining and 20 SAE steps).
    pub fn smoke() -> Self {
        let q = Self::quick();
        Self {
            seeds: 1,
            max_train: Some(256),
            max_test: Some(128),
            encoder: [64, 64, 64, 256, 64],
            pretrain: PretrainConfig {
                epochs: 20,
                ..q.pretrain
            },
            sae: SaeConfig {
                latent: 64,
                k: 8,
                epochs: 20,
                ..q.sae
            },
            eval: EvalConfig {
                probe: ProbeConfig {
                    epochs: 20,
                    ..ProbeConfig::default()
                },
                etas: vec![0.0, 0.8],
                sigmas: vec![0.0, 0.6],
                uniform: vec![0.4],
                shifts: vec![Shift::Blur3, Shift::Rotate { degrees: 20.0 }],
                few_shot: vec![0.05],
                few_shot_epochs: 10,
                ncl_rep: true,
                backbone_probes: true,
                controls: true,
                ..q.eval
            },
            toys: ToyConfig {
                t1: SuperpositionConfig {
                    steps: 200,
                    ..SuperpositionConfig::default()
                },
                t1_samples: [2_000, 1_000],
                t1_probe: ProbeConfig {
                    epochs: 5,
                    batch_size: 1024,
                    ..ProbeConfig::default()
                },
                t1_etas: vec![0.0, 0.8],
                t1_sigmas: vec![0.0, 0.4],
                t2_samples: 10_000,
                t2_etas: vec![0.0, 0.2, 0.4],
            },
        }
    }

    /// The `full` preset: 10 seeds, longer training, the finer grids (digits only; MNIST
    /// is out of scope for now).
    pub fn full() -> Self {
        let q = Self::quick();
        Self {
            seeds: 10,
            pretrain: PretrainConfig {
                epochs: 400,
                ..q.pretrain
            },
            sae: SaeConfig {
                epochs: 200,
                ..q.sae
            },
            eval: EvalConfig {
                etas: vec![0.0, 0.05, 0.1, 0.2, 0.4, 0.6, 0.8],
                sigmas: vec![0.0, 0.2, 0.4, 0.6, 0.8, 1.0],
                uniform: vec![0.2, 0.4, 0.6],
                few_shot: vec![0.02, 0.05, 0.1, 0.2, 1.0],
                ncl_rep: true,
                backbone_probes: true,
                ..q.eval
            },
            toys: ToyConfig {
                t1: SuperpositionConfig::default(),
                t1_samples: [20_000, 10_000],
                t2_samples: 1_000_000,
                t2_etas: (0..17)
                    .map(|i| f64::from(i) * 0.05)
                    .filter(|&e| e < 0.5)
                    .collect(),
                ..q.toys
            },
            ..q
        }
    }

    /// The encoder configuration.
    pub fn encoder_config(&self) -> EncoderConfig {
        let [d_in, hidden, d_rep, proj_hidden, d_proj] = self.encoder;
        EncoderConfig::new()
            .with_d_in(d_in)
            .with_hidden(hidden)
            .with_d_rep(d_rep)
            .with_proj_hidden(proj_hidden)
            .with_d_proj(d_proj)
    }
}

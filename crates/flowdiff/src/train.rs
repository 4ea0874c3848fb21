//! Training: the denoiser by DSM (baselines and FlowDiff's prior), the flow by the
//! amortised-inference objective, and FlowDiff's alternation (spec §3, our
//! operationalisation):
//!
//! 1. warm start: DSM of `theta` on the observations `y`, EMA `theta_ema`;
//! 2. flow warm-up: `L_flow(phi)` against the frozen `theta_ema`;
//! 3. alternations: one flow step (prior `theta_ema`, only `phi` stepped), then DSM steps of
//!    `theta` on fresh, detached flow samples `x~ = G_phi(z; y)`, each followed by the EMA update.
//!
//! Training entry points take [`Observations`] only: clean samples cannot reach them.

use burn::grad_clipping::GradientClippingConfig;
use burn::optim::{GradientsParams, ModuleOptimizer};
use burn::prelude::*;

use crate::config::FlowDiffConfig;
use crate::corruption::{CorruptionError, ForwardOperator, Observations};
use crate::diffusion::{MlpDenoiser, MlpDenoiserConfig, dsm_loss};
use crate::flow::{CondFlow, CondRealNvp, CondRealNvpConfig};
use crate::objective::{FlowLoss, GaussianPrior, PriorTerm, flow_loss};
use repro_core::device::{init_params_now, seed as seed_device};
use repro_core::host::to_vec;
use repro_core::params::ema_update;
use repro_core::rng::Noise;
use repro_core::train::optim::adam;

/// Rows of a matrix on the host, for minibatches drawn with replacement.
#[derive(Debug, Clone)]
pub struct HostRows {
    values: Vec<f32>,
    n: usize,
    d: usize,
}

impl HostRows {
    /// Copies a tensor `[n, d]` to the host.
    pub fn new(t: Tensor<2>) -> Self {
        let [n, d] = t.dims();
        Self {
            values: to_vec(t),
            n,
            d,
        }
    }

    /// Number of rows.
    pub fn len(&self) -> usize {
        self.n
    }

    /// Whether there are no rows.
    pub fn is_empty(&self) -> bool {
        self.n == 0
    }

    /// `b` rows drawn uniformly with replacement.
    ///
    /// # Shapes
    /// - returns `[b, d]`
    pub fn batch(&self, b: usize, noise: &mut Noise, device: &Device) -> Tensor<2> {
        let mut v = Vec::with_capacity(b * self.d);
        for _ in 0..b {
            let i = noise.below(self.n);
            v.extend_from_slice(&self.values[i * self.d..(i + 1) * self.d]);
        }
        Tensor::from_data(TensorData::new(v, [b, self.d]), device)
    }
}

fn adam_clipped(clip: f32) -> ModuleOptimizer {
    adam(0.0)
        .with_grad_clipping(Some(GradientClippingConfig::Norm(clip)))
        .init()
}

fn check(cfg: &FlowDiffConfig, n: usize) -> Result<(), CorruptionError> {
    if n == 0 {
        return Err(CorruptionError::NoSamples("training"));
    }
    if cfg.batch == 0 || cfg.k == 0 {
        return Err(CorruptionError::NoSamples(
            "a batch (batch size or k is zero)",
        ));
    }
    Ok(())
}

/// A denoiser trained online by DSM with Adam, and its EMA copy (gradients disabled).
pub struct DmState {
    /// Online denoiser.
    pub online: MlpDenoiser,
    /// EMA denoiser (used for sampling and as the flow's prior).
    pub ema: MlpDenoiser,
    opt: ModuleOptimizer,
    lr: f64,
    decay: f32,
    cfg: FlowDiffConfig,
}

impl DmState {
    /// A fresh denoiser for `dim`-dimensional data on the autodiff `device` (seed it first).
    pub fn new(cfg: &FlowDiffConfig, dim: usize, device: &Device) -> Self {
        let online = init_params_now(
            MlpDenoiserConfig::new(dim)
                .with_hidden(cfg.denoiser.hidden)
                .with_layers(cfg.denoiser.layers)
                .with_sigma_data(cfg.denoiser.sigma_data)
                .init(device),
        );
        let ema = online.clone().no_grad();
        Self {
            online,
            ema,
            opt: adam_clipped(cfg.grad_clip),
            lr: cfg.lr_dm,
            decay: cfg.ema,
            cfg: cfg.clone(),
        }
    }

    /// One DSM step on `x0` (detached), then the EMA update; returns the loss.
    ///
    /// # Shapes
    /// - x0: `[b, d]`
    pub fn step(&mut self, x0: Tensor<2>, noise: &mut Noise) -> f32 {
        let loss = dsm_loss(&self.online, x0.detach(), &self.cfg.schedule, noise);
        let value = loss.clone().into_scalar::<f32>();
        let grads = GradientsParams::from_grads(loss.backward(), &self.online);
        self.online = self.opt.step(self.lr, self.online.clone(), grads);
        self.ema = ema_update(self.ema.clone(), &self.online, self.decay);
        value
    }
}

/// A DM trained by DSM alone (DM-on-y, oracle, and FlowDiff's warm start).
pub struct TrainedDm {
    /// Online denoiser.
    pub online: MlpDenoiser,
    /// EMA denoiser.
    pub ema: MlpDenoiser,
    /// Loss per step.
    pub losses: Vec<f32>,
}

/// The oracle baseline (sanity only): the same DM trained on clean samples for the
/// baselines' DM step count, with its wall seconds.
///
/// # Errors
/// As [`train_dm`].
pub fn train_oracle(
    cfg: &FlowDiffConfig,
    clean: Tensor<2>,
    device: &Device,
    seed: u64,
) -> Result<(TrainedDm, f64), CorruptionError> {
    let t = std::time::Instant::now();
    let dm = train_dm(
        cfg,
        clean,
        cfg.baseline_dm_steps(),
        device,
        seed,
        0,
        &mut |_, _| {},
    )?;
    Ok((dm, t.elapsed().as_secs_f64()))
}

/// Trains a denoiser by DSM on `data` for `steps` steps (batches drawn with replacement).
/// `monitor(step, ema)` is called every `every` steps and at the end (`every = 0`: never).
///
/// # Shapes
/// - data: `[n, d]`
///
/// # Errors
/// Empty data or a zero batch size.
pub fn train_dm(
    cfg: &FlowDiffConfig,
    data: Tensor<2>,
    steps: usize,
    device: &Device,
    seed: u64,
    every: usize,
    monitor: &mut dyn FnMut(usize, &MlpDenoiser),
) -> Result<TrainedDm, CorruptionError> {
    let rows = HostRows::new(data);
    check(cfg, rows.len())?;
    seed_device(device, seed);
    let mut dm = DmState::new(cfg, rows.d, device);
    let mut noise = Noise::new(seed ^ 0xD1FF_0000);
    let mut losses = Vec::with_capacity(steps);
    for step in 0..steps {
        if every > 0 && step % every == 0 {
            monitor(step, &dm.ema.valid());
        }
        let x0 = rows.batch(cfg.batch, &mut noise, device);
        losses.push(dm.step(x0, &mut noise));
    }
    if every > 0 {
        monitor(steps, &dm.ema.valid());
    }
    Ok(TrainedDm {
        online: dm.online,
        ema: dm.ema,
        losses,
    })
}

/// The numbers of one flow step.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct FlowLog {
    /// Objective.
    pub total: f32,
    /// `-ELBO` (nats).
    pub neg_elbo: f32,
    /// Data term.
    pub data: f32,
    /// Prior term.
    pub prior: f32,
    /// `-log det`.
    pub neg_logdet: f32,
}

fn flow_arch(cfg: &FlowDiffConfig, op: &dyn ForwardOperator) -> CondRealNvpConfig {
    CondRealNvpConfig::new(op.in_dim(), op.out_dim())
        .with_n_couplings(cfg.flow.n_couplings)
        .with_hidden(cfg.flow.hidden)
        .with_hidden_layers(cfg.flow.hidden_layers)
        .with_scale_bound(cfg.flow.scale_bound)
        .with_mask(cfg.flow.mask)
        .with_init_scale(op.sigma())
}

/// FlowDiff's state: the flow, its optimiser, the prior, the observations and the noise.
pub struct FlowDiffTrainer<'a> {
    /// Configuration.
    pub cfg: FlowDiffConfig,
    /// The conditional flow `q_phi`.
    pub flow: CondRealNvp,
    /// The diffusion prior (online and EMA).
    pub dm: DmState,
    op: &'a dyn ForwardOperator,
    y: HostRows,
    flow_opt: ModuleOptimizer,
    noise: Noise,
    device: Device,
}

impl<'a> FlowDiffTrainer<'a> {
    /// Seeds `device` (autodiff) with `seed` and builds the flow and the prior.
    ///
    /// # Errors
    /// Empty observations, a zero batch size or `k`, or observations of the wrong width.
    pub fn new(
        cfg: &FlowDiffConfig,
        obs: &Observations,
        op: &'a dyn ForwardOperator,
        device: &Device,
        seed: u64,
    ) -> Result<Self, CorruptionError> {
        let y = HostRows::new(obs.0.clone());
        check(cfg, y.len())?;
        if y.d != op.out_dim() {
            return Err(CorruptionError::Shape(format!(
                "observations have width {}, the operator produces {}",
                y.d,
                op.out_dim()
            )));
        }
        seed_device(device, seed);
        // The prior is built first so that DM-on-y with the same seed starts from the same
        // weights (a paired comparison).
        let dm = DmState::new(cfg, op.in_dim(), device);
        let flow = init_params_now(flow_arch(cfg, op).init(device));
        Ok(Self {
            cfg: cfg.clone(),
            flow,
            dm,
            op,
            y,
            flow_opt: adam_clipped(cfg.grad_clip),
            noise: Noise::new(seed ^ 0xD1FF_0000),
            device: device.clone(),
        })
    }

    /// One DSM step of the prior on a batch of observations (warm start).
    pub fn warm_start_step(&mut self) -> f32 {
        let yb = self.y.batch(self.cfg.batch, &mut self.noise, &self.device);
        self.dm.step(yb, &mut self.noise)
    }

    /// One flow step against the frozen EMA prior; only the flow's parameters change.
    pub fn flow_step(&mut self) -> FlowLog {
        let yb = self.y.batch(self.cfg.batch, &mut self.noise, &self.device);
        let prior = PriorTerm::Diffusion {
            den: &self.dm.ema,
            k: self.cfg.k,
            weight: self.cfg.w,
            schedule: self.cfg.schedule,
        };
        let l: FlowLoss = flow_loss(&self.flow, self.op, yb, prior, &mut self.noise);
        let log = FlowLog {
            total: l.data + l.prior + l.neg_logdet,
            neg_elbo: l.neg_elbo,
            data: l.data,
            prior: l.prior,
            neg_logdet: l.neg_logdet,
        };
        let grads = GradientsParams::from_grads(l.total.backward(), &self.flow);
        self.flow = self
            .flow_opt
            .step(self.cfg.lr_flow, self.flow.clone(), grads);
        log
    }

    /// One DSM step of the prior on fresh, detached flow samples (and the EMA update).
    pub fn dm_step(&mut self) -> f32 {
        let yb = self.y.batch(self.cfg.batch, &mut self.noise, &self.device);
        let z = self
            .noise
            .normal_tensor(self.cfg.batch, self.op.in_dim(), &self.device);
        let (x, _) = self.flow.forward_with_logdet(z, yb);
        self.dm.step(x.detach(), &mut self.noise)
    }
}

/// FlowDiff after training.
pub struct FlowDiffModel {
    /// The conditional flow (amortised posterior).
    pub flow: CondRealNvp,
    /// The prior: online and EMA denoisers.
    pub dm: TrainedDm,
    /// Flow steps' numbers (warm-up, then alternations).
    pub flow_log: Vec<FlowLog>,
}

/// Trains FlowDiff on observations only. `monitor(alternation, ema prior, flow)` is called
/// at alternation 0 (after warm start and warm-up), every `every` alternations and at the end.
///
/// # Errors
/// See [`FlowDiffTrainer::new`].
pub fn train_flowdiff(
    cfg: &FlowDiffConfig,
    obs: &Observations,
    op: &dyn ForwardOperator,
    device: &Device,
    seed: u64,
    every: usize,
    monitor: &mut dyn FnMut(usize, &MlpDenoiser, &CondRealNvp),
) -> Result<FlowDiffModel, CorruptionError> {
    let mut tr = FlowDiffTrainer::new(cfg, obs, op, device, seed)?;
    let mut dm_losses = Vec::new();
    let mut flow_log = Vec::new();
    for _ in 0..cfg.warm_start_steps {
        dm_losses.push(tr.warm_start_step());
    }
    for _ in 0..cfg.flow_warmup_steps {
        flow_log.push(tr.flow_step());
    }
    for a in 0..cfg.alternations {
        if every > 0 && a % every == 0 {
            monitor(a, &tr.dm.ema.valid(), &tr.flow.valid());
        }
        flow_log.push(tr.flow_step());
        for _ in 0..cfg.dm_steps_per_alternation {
            dm_losses.push(tr.dm_step());
        }
    }
    if every > 0 {
        monitor(cfg.alternations, &tr.dm.ema.valid(), &tr.flow.valid());
    }
    Ok(FlowDiffModel {
        flow: tr.flow,
        dm: TrainedDm {
            online: tr.dm.online,
            ema: tr.dm.ema,
            losses: dm_losses,
        },
        flow_log,
    })
}

/// The flow-only baseline: the same flow and objective with a Gaussian prior, for
/// [`FlowDiffConfig::baseline_flow_steps`] steps.
///
/// # Errors
/// See [`FlowDiffTrainer::new`].
pub fn train_flow_only(
    cfg: &FlowDiffConfig,
    obs: &Observations,
    op: &dyn ForwardOperator,
    prior: &GaussianPrior,
    device: &Device,
    seed: u64,
) -> Result<(CondRealNvp, Vec<FlowLog>), CorruptionError> {
    // Same construction order as FlowDiff, so the flow starts from the same weights.
    let mut tr = FlowDiffTrainer::new(cfg, obs, op, device, seed)?;
    let mut log = Vec::new();
    for _ in 0..cfg.baseline_flow_steps() {
        let yb = tr.y.batch(cfg.batch, &mut tr.noise, device);
        let l =
            flow_loss::<MlpDenoiser>(&tr.flow, op, yb, PriorTerm::Gaussian(prior), &mut tr.noise);
        log.push(FlowLog {
            total: l.data + l.prior + l.neg_logdet,
            neg_elbo: l.neg_elbo,
            data: l.data,
            prior: l.prior,
            neg_logdet: l.neg_logdet,
        });
        let grads = GradientsParams::from_grads(l.total.backward(), &tr.flow);
        tr.flow = tr.flow_opt.step(cfg.lr_flow, tr.flow.clone(), grads);
    }
    Ok((tr.flow, log))
}

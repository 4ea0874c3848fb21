//! The methods of one seed, trained the same way by E1 (2-D) and E2 (digits): FlowDiff with
//! its distance-over-training curve, DM-on-y with its curve, the EM Gaussian, flow-only
//! against it, and the oracle DM on clean data.
//!
//! Every trainer re-seeds Burn's generator from the seed at its start and draws its noise
//! from its own host generator, and every evaluation draws from host generators seeded by
//! fixed salts, so training all methods first and scoring them afterwards gives the same
//! numbers as interleaving the two.

use std::time::Instant;

use burn::prelude::*;
use repro_core::experiment::JobProgress;

use crate::config::FlowDiffConfig;
use crate::corruption::{ForwardOperator, Observations};
use crate::diffusion::MlpDenoiser;
use crate::flow::CondRealNvp;
use crate::objective::{GaussianPrior, fit_gaussian_em};
use crate::train::{
    FlowDiffModel, TrainedDm, train_dm, train_flow_only, train_flowdiff, train_oracle,
};

/// How the distance-over-training curves are recorded.
pub(super) struct Curves<'a> {
    /// Alternations between two points (0: no curve).
    pub every: usize,
    /// Distance of an EMA prior's samples to the clean reference; the second argument is
    /// the salt of the sampling noise.
    pub point: &'a dyn Fn(&MlpDenoiser, u64) -> f64,
    /// Whether DM-on-y's curve also has its untrained step 0 (2-D: yes; digits: no, its
    /// FD-lite would flatten the plot).
    pub dm_on_y_from_zero: bool,
}

/// The trained methods of one seed with their training seconds (curve evaluations
/// excluded).
pub(super) struct Trained {
    pub flowdiff: FlowDiffModel,
    pub flowdiff_secs: f64,
    pub curve_fd: Vec<(f64, f64)>,
    pub dm_on_y: TrainedDm,
    pub dm_on_y_secs: f64,
    pub curve_dmy: Vec<(f64, f64)>,
    pub gaussian: GaussianPrior,
    pub gaussian_secs: f64,
    pub flow_only: CondRealNvp,
    pub flow_only_secs: f64,
    pub oracle: TrainedDm,
    pub oracle_secs: f64,
}

/// Training steps of all methods of one seed (the job's progress weight).
pub(super) fn training_steps(tc: &FlowDiffConfig) -> u64 {
    let flowdiff = tc.warm_start_steps
        + tc.flow_warmup_steps
        + tc.alternations * (1 + tc.dm_steps_per_alternation);
    (flowdiff + 2 * tc.baseline_dm_steps() + tc.baseline_flow_steps()) as u64
}

/// Trains every method of one seed in the order FlowDiff, DM-on-y, Gaussian, flow-only,
/// oracle, advancing `progress` by each method's steps.
///
/// # Errors
/// Training errors (empty data, bad batch sizes, a singular EM fit).
#[allow(clippy::too_many_arguments)]
pub(super) fn train_all(
    tc: &FlowDiffConfig,
    obs: &Observations,
    op: &dyn ForwardOperator,
    clean: Tensor<2>,
    ad: &Device,
    seed: u64,
    em_iters: usize,
    curves: &Curves<'_>,
    progress: &JobProgress,
) -> anyhow::Result<Trained> {
    // FlowDiff, with the curve on the DM-step axis.
    let t = Instant::now();
    let (mut curve_fd, mut pause) = (Vec::new(), 0.0);
    let flowdiff = train_flowdiff(tc, obs, op, ad, seed, curves.every, &mut |a, ema, _| {
        let t0 = Instant::now();
        let x = (tc.warm_start_steps + a * tc.dm_steps_per_alternation) as f64;
        curve_fd.push((x, (curves.point)(ema, a as u64)));
        pause += t0.elapsed().as_secs_f64();
    })?;
    let flowdiff_secs = t.elapsed().as_secs_f64() - pause;
    progress.inc(
        (tc.warm_start_steps
            + tc.flow_warmup_steps
            + tc.alternations * (1 + tc.dm_steps_per_alternation)) as u64,
    );

    // DM-on-y (must-beat), same DM steps, same seed.
    let t = Instant::now();
    let (mut curve_dmy, mut pause) = (Vec::new(), 0.0);
    let dm_on_y = train_dm(
        tc,
        obs.0.clone(),
        tc.baseline_dm_steps(),
        ad,
        seed,
        curves.every * tc.dm_steps_per_alternation,
        &mut |step, ema| {
            let t0 = Instant::now();
            if step >= tc.warm_start_steps || (curves.dm_on_y_from_zero && step == 0) {
                curve_dmy.push((step as f64, (curves.point)(ema, 10_000 + step as u64)));
            }
            pause += t0.elapsed().as_secs_f64();
        },
    )?;
    let dm_on_y_secs = t.elapsed().as_secs_f64() - pause;
    progress.inc(tc.baseline_dm_steps() as u64);

    // The EM Gaussian, then flow-only against it.
    let t = Instant::now();
    let gaussian = fit_gaussian_em(obs, op, em_iters)?;
    let gaussian_secs = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let (flow_only, _) = train_flow_only(tc, obs, op, &gaussian, ad, seed)?;
    let flow_only_secs = t.elapsed().as_secs_f64();
    progress.inc(tc.baseline_flow_steps() as u64);

    // Oracle: the same DM trained on the clean samples (evaluation only).
    let (oracle, oracle_secs) = train_oracle(tc, clean, ad, seed)?;
    progress.inc(tc.baseline_dm_steps() as u64);
    Ok(Trained {
        flowdiff,
        flowdiff_secs,
        curve_fd,
        dm_on_y,
        dm_on_y_secs,
        curve_dmy,
        gaussian,
        gaussian_secs,
        flow_only,
        flow_only_secs,
        oracle,
        oracle_secs,
    })
}

//! `cargo xtask reproduce mim-tokens`: the plan, its jobs and the report.
//!
//! Jobs (each seeds its own randomness):
//!
//! - `tokens`: per seed `FLOORS` (the untrained encoder RANDINIT and raw PIXELS, probed),
//!   then one job per (tokenizer, seed): fit the tokenizer, measure TCAS_repro /
//!   cross-fitted TCAS / H-ratio on the un-augmented train patches, pretrain, probe.
//!   `FEAT-K` runs `.after` the same seed's `MAE` job and reads its weights.
//! - `ablations` (full; smoke exercises it): per ablation and seed, PIX-K* with one
//!   setting changed, `.after` every PIX job (K* = best seed-mean validation probe).
//!
//! Randomness: Burn's generator is seeded per job before the model is drawn
//! (`init_params_now`); batch order, views, masks, k-means, the random projection and MIX
//! come from [`repro_core::rng`] streams of the seed.

use burn::tensor::Device;
use repro_core::experiment::{Ctx, Done, Job, JobOutput, Outcome, Plan, Row, RunState, Runner};
use repro_core::rng::stream;
use repro_core::{Options, Report};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::INFO;
use crate::alignment::{Alignment, alignment};
use crate::claims::{decide_claims, notes, tables_and_plots};
use crate::config::{Ablation, ExperimentConfig, TokenizerSpec, TrainConfig};
use crate::model::{Head, load_flat};
use crate::tokenizer::{
    FeatureKMeans, Mix, Oracle, OraclePix, PixelKMeans, RandProj, TokenBatch, Tokenizer,
};
use crate::train::{
    CLASSES, DigitsData, EvalSpec, Features, PretrainSpec, Scores, cls_probe, evaluate, features,
    init_model, patches, pixel_features, pretrain, weighted_knn,
};

/// The experiment names (`--only`).
pub(crate) const TOKENS: &str = "tokens";
pub(crate) const ABLATIONS: &str = "ablations";
/// The floors job and its two methods.
pub(crate) const FLOORS: &str = "FLOORS";
pub(crate) const RANDINIT: &str = "RANDINIT";
pub(crate) const PIXELS: &str = "PIXELS";
/// The setting of the main rows.
pub(crate) const EVAL: &str = "eval";
/// The ablated method.
pub(crate) const PIX_STAR: &str = "PIX-K*";

/// A job's payload beyond its rows.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct JobData {
    /// Entries of the report's `results`.
    pub(crate) results: Vec<Value>,
    /// The trained model's parameters (MAE jobs: the FEAT tokenizer's frozen encoder).
    pub(crate) params: Vec<f32>,
    /// Loss per step.
    pub(crate) losses: Vec<f32>,
}

/// Runs the reproduction for `opts.profile`.
pub fn reproduce(opts: &Options) -> anyhow::Result<Outcome> {
    reproduce_with(&ExperimentConfig::for_profile(opts.profile), opts)
}

/// Whether an experiment runs under `opts` with `cfg`'s defaults.
pub(crate) fn runs(cfg: &ExperimentConfig, opts: &Options, name: &str) -> bool {
    INFO.runs(
        opts,
        name,
        cfg.default_experiments.iter().any(|e| e == name),
    )
}

/// The reproduction with an explicit configuration (tests use tiny ones).
pub fn reproduce_with(cfg: &ExperimentConfig, opts: &Options) -> anyhow::Result<Outcome> {
    let started = std::time::Instant::now();
    INFO.check_only(opts)?;
    cfg.validate()?;
    let seeds = opts.seed_list(cfg.seeds);
    let data = DigitsData::load(cfg.max_train, cfg.max_test)?;
    let plan = plan(cfg, opts, &seeds)?;
    let state = Runner::new(&plan, opts)
        .parallel(cfg.parallel_jobs)
        .run(|job, ctx| run_job(cfg, &data, job, ctx, &opts.device))?;
    let done = match state {
        RunState::Partial(p) => return Ok(Outcome::Partial(p)),
        RunState::Complete(done) => done,
    };
    let mut report = build_report(cfg, opts, &seeds, &done)?;
    report.wall_seconds = started.elapsed().as_secs_f64();
    Ok(report.into())
}

fn common(cfg: &ExperimentConfig) -> Value {
    json!({"max_train": cfg.max_train, "max_test": cfg.max_test, "model": cfg.model,
        "train": cfg.train, "kmeans": cfg.kmeans, "probe": cfg.probe, "knn_k": cfg.knn_k,
        "knn_temperature": cfg.knn_temperature, "val_size": cfg.val_size})
}

fn plan(cfg: &ExperimentConfig, opts: &Options, seeds: &[u64]) -> anyhow::Result<Plan> {
    let mut plan = Plan::new(INFO.name);
    let base = common(cfg);
    let epochs = cfg.train.epochs as u64;
    let mut pix_ids = Vec::new();
    if runs(cfg, opts, TOKENS) {
        for &s in seeds {
            plan.push(Job::new(TOKENS, EVAL, FLOORS, Some(s)).config(&base))?;
            let mut mae: Option<String> = None;
            for t in &cfg.tokenizers {
                let mut job = Job::new(TOKENS, EVAL, &t.name(), Some(s))
                    .config(&json!({"common": base, "tokenizer": t}))
                    .weight(epochs);
                if let TokenizerSpec::Feat(_) = t {
                    let id = mae
                        .as_ref()
                        .ok_or_else(|| anyhow::anyhow!("FEAT needs the MAE job first"))?;
                    job = job.after(id);
                }
                let id = plan.push(job)?;
                match t {
                    TokenizerSpec::Mae => mae = Some(id),
                    TokenizerSpec::Pix(_) => pix_ids.push(id),
                    _ => {}
                }
            }
        }
    }
    if runs(cfg, opts, ABLATIONS) {
        if pix_ids.is_empty() {
            anyhow::bail!(
                "ablations need the `tokens` experiment (K* is chosen from its PIX runs)"
            );
        }
        for &s in seeds {
            for a in &cfg.ablations {
                let mut job = Job::new(ABLATIONS, &a.name, PIX_STAR, Some(s))
                    .config(&json!({"common": base, "ablation": a}))
                    .weight(epochs);
                for id in &pix_ids {
                    job = job.after(id);
                }
                plan.push(job)?;
            }
        }
    }
    Ok(plan)
}

/// Everything shared by the jobs of one process.
struct Shared<'a> {
    cfg: &'a ExperimentConfig,
    data: &'a DigitsData,
    device: &'a Device,
    /// Normalised, un-augmented train patches (host, `n·L × p²`) and the test / train rows.
    train_norm: Vec<f32>,
    test_norm: Vec<f32>,
    val: Vec<usize>,
    rest: Vec<usize>,
    half: Vec<bool>,
}

impl<'a> Shared<'a> {
    fn new(
        cfg: &'a ExperimentConfig,
        data: &'a DigitsData,
        device: &'a Device,
    ) -> anyhow::Result<Self> {
        let labels = data.train.labels_usize();
        if cfg.val_size == 0 || cfg.val_size >= labels.len() {
            anyhow::bail!("val_size = {} must be in 1..{}", cfg.val_size, labels.len());
        }
        let split = repro_core::data::split::stratified_split(&labels, cfg.val_size, 0);
        let mut perm: Vec<usize> = (0..labels.len()).collect();
        stream(0, "cross-fit halves").shuffle(&mut perm);
        let mut half = vec![false; labels.len()];
        for &i in &perm[labels.len() / 2..] {
            half[i] = true;
        }
        Ok(Self {
            cfg,
            data,
            device,
            train_norm: data.normalize(&data.train.pixels),
            test_norm: data.normalize(&data.test.pixels),
            val: split.test,
            rest: split.train,
            half,
        })
    }

    fn eval_spec(&self, seed: u64) -> EvalSpec<'_> {
        EvalSpec {
            probe: &self.cfg.probe,
            knn: weighted_knn(self.cfg.knn_k, self.cfg.knn_temperature),
            val: (&self.val, &self.rest),
            seed,
        }
    }

    fn scores(&self, tr: &Features, te: &Features, seed: u64) -> anyhow::Result<Scores> {
        let (y_tr, y_te) = (
            self.data.train.labels_usize(),
            self.data.test.labels_usize(),
        );
        evaluate(tr, te, &y_tr, &y_te, &self.eval_spec(seed), self.device)
    }

    fn model_features(&self, m: &crate::model::MaeVit) -> anyhow::Result<(Features, Features)> {
        let mc = &self.cfg.model;
        Ok((
            features(m, mc, &self.train_norm, self.device)?,
            features(m, mc, &self.test_norm, self.device)?,
        ))
    }
}

fn run_job(
    cfg: &ExperimentConfig,
    data: &DigitsData,
    job: &Job,
    ctx: &Ctx<'_, JobData>,
    device: &Device,
) -> anyhow::Result<JobOutput<JobData>> {
    let sh = Shared::new(cfg, data, device)?;
    let s = job
        .seed
        .ok_or_else(|| anyhow::anyhow!("job {} has no seed", job.id))?;
    match (job.experiment.as_str(), job.method.as_str()) {
        (TOKENS, FLOORS) => floors_job(&sh, s),
        (TOKENS, name) => {
            let t = *cfg
                .tokenizers
                .iter()
                .find(|t| t.name() == name)
                .ok_or_else(|| anyhow::anyhow!("no tokenizer `{name}` in the configuration"))?;
            token_job(&sh, t, &cfg.train, TOKENS, EVAL, s, ctx)
        }
        (ABLATIONS, PIX_STAR) => {
            let a = cfg
                .ablations
                .iter()
                .find(|a| a.name == job.setting)
                .ok_or_else(|| anyhow::anyhow!("no ablation `{}`", job.setting))?;
            ablation_job(&sh, a, s, ctx)
        }
        _ => anyhow::bail!("no job function for `{}`", job.id),
    }
}

fn score_row(row: Row, sc: &Scores) -> Row {
    row.metric("lp_cls", sc.lp_cls)
        .metric("lp_mean", sc.lp_mean)
        .metric("knn", sc.knn)
        .metric("val_cls", sc.val_cls)
}

fn floors_job(sh: &Shared<'_>, s: u64) -> anyhow::Result<JobOutput<JobData>> {
    let model = init_model(&sh.cfg.model, Head::Pixels, s, sh.device)?;
    let (tr, te) = sh.model_features(&model)?;
    let rand = sh.scores(&tr, &te, s)?;
    let pix = sh.scores(
        &pixel_features(&sh.train_norm),
        &pixel_features(&sh.test_norm),
        s,
    )?;
    let mut rows = Vec::new();
    let mut results = Vec::new();
    for (name, sc) in [(RANDINIT, rand), (PIXELS, pix)] {
        rows.push(score_row(Row::new(TOKENS, EVAL, name, Some(s)), &sc));
        results.push(json!({"kind": "floor", "method": name, "seed": s, "scores": sc}));
    }
    Ok(JobOutput::new(
        rows,
        JobData {
            results,
            ..JobData::default()
        },
    ))
}

/// The tokenizer of `t` for seed `s` (`None` for MAE), fitted on the train patches.
fn build_tokenizer(
    sh: &Shared<'_>,
    t: TokenizerSpec,
    train: &TrainConfig,
    s: u64,
    ctx: &Ctx<'_, JobData>,
) -> anyhow::Result<Option<Box<dyn Tokenizer>>> {
    let mc = &sh.cfg.model;
    let pd = mc.patch_dim();
    let host_patches = || -> anyhow::Result<Vec<f32>> {
        let p = patches(&sh.train_norm, mc.image_side, mc.patch, sh.device)?;
        Ok(repro_core::host::to_vec(p))
    };
    let km_seed = stream(s, "kmeans").next_u64();
    let norm = train.token_normalize;
    let km = &sh.cfg.kmeans;
    Ok(match t {
        TokenizerSpec::Mae => None,
        TokenizerSpec::Pix(k) => Some(Box::new(PixelKMeans::fit(
            &host_patches()?,
            pd,
            k,
            km,
            km_seed,
            norm,
            sh.device,
        )?)),
        TokenizerSpec::OraclePix(k) => Some(Box::new(OraclePix {
            pix: PixelKMeans::fit(&host_patches()?, pd, k, km, km_seed, norm, sh.device)?,
            classes: CLASSES,
        })),
        TokenizerSpec::Feat(k) => {
            let (_, mae) = ctx
                .deps()?
                .into_iter()
                .find(|(j, _)| j.method == "MAE" && j.seed == Some(s))
                .ok_or_else(|| {
                    anyhow::anyhow!("FEAT-{k}: no MAE job of seed {s} among its dependencies")
                })?;
            let frozen = load_flat(
                init_model(mc, Head::Pixels, s, sh.device)?,
                &mae.data.params,
            )?;
            let train_p = patches(&sh.train_norm, mc.image_side, mc.patch, sh.device)?;
            Some(Box::new(FeatureKMeans::fit(
                frozen, train_p, k, km, km_seed, norm,
            )?))
        }
        TokenizerSpec::Rand(k) => Some(Box::new(RandProj::fit(
            &host_patches()?,
            pd,
            k,
            stream(s, "rand-proj").next_u64(),
        )?)),
        TokenizerSpec::Mix(k) => Some(Box::new(Mix {
            k,
            seed: stream(s, "mix").next_u64(),
        })),
        TokenizerSpec::Oracle => Some(Box::new(Oracle { classes: CLASSES })),
    })
}

/// TCAS_repro, cross-fitted TCAS and H-ratio of a tokenizer on the un-augmented train
/// patches.
fn measure_alignment(sh: &Shared<'_>, tk: &dyn Tokenizer) -> anyhow::Result<Alignment> {
    let mc = &sh.cfg.model;
    let batch = TokenBatch {
        patches: patches(&sh.train_norm, mc.image_side, mc.patch, sh.device)?,
        image_ids: sh.data.train.ids.clone(),
        labels: Some(sh.data.train.labels.clone()),
        step: 0,
    };
    let ids: Vec<u32> = repro_core::host::to_ints(tk.tokens(&batch)?)
        .into_iter()
        .map(|v| v as u32)
        .collect();
    Ok(alignment(
        &ids,
        &sh.data.train.labels,
        mc.n_patches(),
        &sh.half,
        tk.k(),
        CLASSES,
    )?)
}

fn first_last10(losses: &[f32]) -> (f64, f64) {
    let m = |v: &[f32]| v.iter().map(|&x| f64::from(x)).sum::<f64>() / v.len().max(1) as f64;
    let k = losses.len().min(10);
    (m(&losses[..k]), m(&losses[losses.len() - k..]))
}

#[allow(clippy::too_many_arguments)]
fn token_job(
    sh: &Shared<'_>,
    t: TokenizerSpec,
    train: &TrainConfig,
    experiment: &str,
    setting: &str,
    s: u64,
    ctx: &Ctx<'_, JobData>,
) -> anyhow::Result<JobOutput<JobData>> {
    let started = std::time::Instant::now();
    let method = if experiment == TOKENS {
        t.name()
    } else {
        PIX_STAR.to_owned()
    };
    let tk = build_tokenizer(sh, t, train, s, ctx)?;
    let al = tk
        .as_deref()
        .map(|tk| measure_alignment(sh, tk))
        .transpose()?;
    let (y_tr, y_te) = (sh.data.train.labels_usize(), sh.data.test.labels_usize());
    let spec = PretrainSpec {
        model: &sh.cfg.model,
        train,
        tokenizer: tk.as_deref(),
        seed: s,
        progress: Some(ctx.progress()),
    };
    let mut ckpt = |m: &crate::model::MaeVit| -> anyhow::Result<f64> {
        let (tr, te) = sh.model_features(m)?;
        cls_probe(&tr, &te, &y_tr, &y_te, &sh.eval_spec(s), sh.device)
    };
    let pre = pretrain(sh.data, &spec, sh.device, &mut ckpt)?;
    let (tr, te) = sh.model_features(&pre.model)?;
    let sc = sh.scores(&tr, &te, s)?;
    let (first, last) = first_last10(&pre.losses);
    let mut row = score_row(Row::new(experiment, setting, &method, Some(s)), &sc)
        .metric("loss_first10", first)
        .metric("loss_last10", last);
    if let Some(k) = t.k(CLASSES) {
        row = row.metric("k", k as f64);
    }
    if let Some(a) = &al {
        row = row
            .metric("tcas", a.tcas)
            .metric("tcas_cf", a.tcas_cf)
            .metric("h_ratio", a.h_ratio);
    }
    let mut rows = vec![row];
    for &(e, lp) in &pre.checkpoints {
        rows.push(
            Row::new(experiment, &format!("ckpt{e:04}"), &method, Some(s)).metric("lp_cls", lp),
        );
    }
    let params = if t == TokenizerSpec::Mae && experiment == TOKENS {
        repro_core::params::flatten(&pre.model)
    } else {
        Vec::new()
    };
    let entry = json!({"kind": "run", "experiment": experiment, "setting": setting,
        "method": method, "tokenizer": t.name(), "seed": s, "k": t.k(CLASSES), "alignment": al,
        "scores": sc, "steps": pre.losses.len(), "loss_first10": first, "loss_last10": last,
        "checkpoints": pre.checkpoints, "step_ms": pre.ms_per_step,
        "train_seconds": started.elapsed().as_secs_f64()});
    Ok(JobOutput::new(
        rows,
        JobData {
            results: vec![entry],
            params,
            losses: pre.losses,
        },
    ))
}

/// K* from the PIX jobs among `ctx`'s dependencies: the best seed-mean validation CLS
/// probe (ties: the smaller K).
pub(crate) fn select_k_star(rows: &[&Row]) -> Option<(usize, f64)> {
    let mut acc: Vec<(usize, f64, usize)> = Vec::new();
    for r in rows
        .iter()
        .filter(|r| r.method.starts_with("PIX-") && r.setting == EVAL)
    {
        let (Some(&k), Some(&v)) = (r.metrics.get("k"), r.metrics.get("val_cls")) else {
            continue;
        };
        let k = k as usize;
        match acc.iter_mut().find(|(kk, _, _)| *kk == k) {
            Some(e) => {
                e.1 += v;
                e.2 += 1;
            }
            None => acc.push((k, v, 1)),
        }
    }
    acc.sort_by_key(|e| e.0);
    let mut best: Option<(usize, f64)> = None;
    for (k, sum, n) in acc {
        let m = sum / n as f64;
        if m.is_finite() && best.is_none_or(|b| m > b.1) {
            best = Some((k, m));
        }
    }
    best
}

fn ablation_job(
    sh: &Shared<'_>,
    a: &Ablation,
    s: u64,
    ctx: &Ctx<'_, JobData>,
) -> anyhow::Result<JobOutput<JobData>> {
    let deps = ctx.deps()?;
    let rows: Vec<&Row> = deps.iter().flat_map(|(_, o)| o.rows.iter()).collect();
    let (k, _) =
        select_k_star(&rows).ok_or_else(|| anyhow::anyhow!("no PIX run to choose K* from"))?;
    let train = a.apply(&sh.cfg.train);
    let mut out = token_job(
        sh,
        TokenizerSpec::Pix(k),
        &train,
        ABLATIONS,
        &a.name,
        s,
        ctx,
    )?;
    out.rows[0] = out.rows[0].clone().metric("k_star", k as f64);
    Ok(out)
}

fn build_report(
    cfg: &ExperimentConfig,
    opts: &Options,
    seeds: &[u64],
    done: &Done<JobData>,
) -> anyhow::Result<Report> {
    let mut report = done.report(INFO.name, opts, cfg, seeds, |d| &d.results);
    let results = done.results();
    let ran = |e: &str| runs(cfg, opts, e);
    let claims = decide_claims(cfg, &results, seeds.len())?;
    report.claims = INFO.finish_claims(claims, ran)?;
    tables_and_plots(cfg, &results, &mut report)?;
    report.notes.extend(notes(cfg));
    if let Some(dir) = &opts.out {
        crate::claims::write_tcas_csv(cfg, &results, dir)?;
    }
    Ok(report.finish())
}

#[cfg(test)]
mod tests {
    use super::*;
    use repro_core::report::Profile;

    #[test]
    fn full_plans_every_tokenizer_seed_and_ablation_with_feat_after_mae() {
        let cfg = ExperimentConfig::full();
        cfg.validate().unwrap();
        let opts = Options::new(Profile::Full);
        let seeds = opts.seed_list(cfg.seeds);
        assert_eq!(seeds, [0, 1, 2, 3, 4]);
        let plan = plan(&cfg, &opts, &seeds).unwrap();
        // Per seed: FLOORS + MAE + 9 PIX + 2 FEAT + RAND + MIX + ORACLE + ORACLE-PIX = 17;
        // then 3 ablations per seed.
        assert_eq!(plan.len(), 5 * 17 + 5 * 3);
        for j in plan.jobs() {
            if j.method.starts_with("FEAT-") {
                let mae = plan
                    .jobs()
                    .iter()
                    .find(|m| m.method == "MAE" && m.seed == j.seed)
                    .unwrap();
                assert_eq!(j.deps, std::slice::from_ref(&mae.id), "{}", j.id);
            }
            if j.experiment == ABLATIONS {
                assert_eq!(j.deps.len(), 5 * 9, "{} waits for every PIX job", j.id);
            }
        }
        let quick = ExperimentConfig::quick();
        let tokens = quick
            .tokenizers
            .iter()
            .filter(|t| **t != TokenizerSpec::Mae)
            .count();
        assert!(tokens >= 9, "MIM-2 needs 9 token tokenizers in quick");
    }
}

//! `cargo xtask reproduce generative-ssl`: the plan, its jobs and the report.
//!
//! Jobs (each seeds its own randomness, so any job gives the same numbers alone, resumed or
//! after others):
//!
//! - `markov/ref/BAYES` per seed: draws and calibrates the seed's language (stored in the
//!   job's payload for the others), the Bayes accuracy and NLL curve, and the baselines BOT,
//!   BIGRAM, RANDINIT (probe rows) and UNI-LM, BI-LM (NLL rows).
//! - `markov/main/<objective>` per objective and seed (after the seed's reference job):
//!   pretraining, probe accuracies (mean-pool and last position), the clustering NMI and
//!   the generation NLL curve.
//! - `sweep/n=<size>/{AR,MLM}` and `ablations/main/<variant>` per seed (`full`).
//! - `digits/ref/NGRAM` and `digits/main/<objective>` per seed (`full`): Data B.
//!
//! Data streams of a seed: `"data-pretrain"`, `"data-probe"`, `"data-test"` (Data A), the
//! language's `"markov-tables"` and `"markov-calib"`; training adds `"batch-order"` and
//! `"corruption"`; Data B's augmentation draws from `"augment-<epoch>"`.

use burn::tensor::Device;
use repro_core::data::digits;
use repro_core::experiment::{Ctx, Done, Job, JobOutput, Outcome, Plan, Row, RunState, Runner};
use repro_core::kmeans::KMeansConfig;
use repro_core::probe::{ProbeConfig, Standardizer, train_linear_probe};
use repro_core::rng::stream;
use repro_core::{Options, Report};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::INFO;
use crate::claims::{decide_claims, notes, tables_and_plots};
use crate::config::{ExperimentConfig, Method};
use crate::digits_seq::{PatchTokenizer, TOKENS};
use crate::eval::{
    BayesOracle, ModelScorer, NgramLm, Protocol, generation_nll, nmi, probe_features,
};
use crate::markov::{MarkovLanguage, bigram_counts, unigram_counts};
use crate::model::{Attn, SeqModel};
use crate::train::{Curve, init_model, pretrain};

/// Experiment names (`--only`).
pub(crate) const MARKOV: &str = "markov";
pub(crate) const SWEEP: &str = "sweep";
pub(crate) const ABLATIONS: &str = "ablations";
pub(crate) const DIGITS: &str = "digits";

/// A job's payload beyond its rows.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct JobData {
    /// The seed's language (reference job).
    pub(crate) lang: Option<MarkovLanguage>,
    /// Named NLL curves, entry `j` for prefix length `t_from + j`.
    pub(crate) nll_curves: Vec<(String, Vec<f64>)>,
    /// The first prefix length of the curves.
    pub(crate) t_from: usize,
    /// The training curve (pretraining jobs).
    pub(crate) curve: Curve,
    /// Entries of the report's `results`.
    pub(crate) results: Vec<Value>,
}

/// Runs the reproduction for `opts.profile`: the report, or what this shard ran.
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

/// The reproduction with an explicit configuration (tests use small ones).
///
/// # Errors
/// `--only` typos, a bad configuration, or a job's error.
pub fn reproduce_with(cfg: &ExperimentConfig, opts: &Options) -> anyhow::Result<Outcome> {
    let started = std::time::Instant::now();
    INFO.check_only(opts)?;
    cfg.validate()?;
    let seeds = opts.seed_list(cfg.seeds);
    let plan = plan(cfg, opts, &seeds)?;
    let state = Runner::new(&plan, opts).run(|job, ctx| run_job(cfg, job, ctx, opts))?;
    let done = match state {
        RunState::Partial(p) => return Ok(Outcome::Partial(p)),
        RunState::Complete(done) => done,
    };
    let mut report = build_report(cfg, opts, &seeds, &done)?;
    report.wall_seconds = started.elapsed().as_secs_f64();
    Ok(report.into())
}

/// What every Data A job's numbers depend on.
fn common(cfg: &ExperimentConfig) -> Value {
    json!({
        "markov": cfg.markov, "n_pretrain": cfg.n_pretrain, "n_probe_train": cfg.n_probe_train,
        "n_test": cfg.n_test, "n_nll_eval": cfg.n_nll_eval, "model": cfg.model(cfg.markov.vocab, cfg.markov.len, None),
        "train": cfg.train, "probe": cfg.probe,
    })
}

fn ref_id(seed: u64) -> String {
    Job::new(MARKOV, "ref", "BAYES", Some(seed)).id
}

fn plan(cfg: &ExperimentConfig, opts: &Options, seeds: &[u64]) -> anyhow::Result<Plan> {
    let mut plan = Plan::new(INFO.name);
    let base = common(cfg);
    let epochs = cfg.train.epochs as u64;
    let a_runs = [MARKOV, SWEEP, ABLATIONS]
        .iter()
        .any(|e| runs(cfg, opts, e));
    for &s in seeds {
        if !a_runs {
            break;
        }
        let rid = plan.push(Job::new(MARKOV, "ref", "BAYES", Some(s)).config(&base))?;
        let mut push = |exp: &str, setting: &str, m: &Method, n: usize| -> anyhow::Result<()> {
            plan.push(
                Job::new(exp, setting, &m.name, Some(s))
                    .config(&json!({"common": base, "method": m, "n_pretrain": n}))
                    .after(&rid)
                    .weight(epochs),
            )
            .map(|_| ())
        };
        if runs(cfg, opts, MARKOV) {
            for m in &cfg.methods {
                push(MARKOV, "main", m, cfg.n_pretrain)?;
            }
        }
        if runs(cfg, opts, SWEEP) {
            for &n in &cfg.sweep_sizes {
                for m in cfg
                    .methods
                    .iter()
                    .filter(|m| m.name == "AR" || m.name == "MLM")
                {
                    push(SWEEP, &format!("n={n}"), m, n)?;
                }
            }
        }
        if runs(cfg, opts, ABLATIONS) {
            for m in &cfg.ablations {
                push(ABLATIONS, "main", m, cfg.n_pretrain)?;
            }
        }
    }
    if runs(cfg, opts, DIGITS) {
        let dcfg = json!({"digits": cfg.digits, "model": cfg.model(cfg.digits.k, TOKENS, None),
            "train": cfg.train, "probe": cfg.probe});
        for &s in seeds {
            plan.push(Job::new(DIGITS, "ref", "NGRAM", Some(s)).config(&dcfg))?;
            for m in &cfg.methods {
                plan.push(
                    Job::new(DIGITS, "main", &m.name, Some(s))
                        .config(&json!({"digits": dcfg, "method": m}))
                        .weight(cfg.digits.epochs as u64),
                )?;
            }
        }
    }
    Ok(plan)
}

fn run_job(
    cfg: &ExperimentConfig,
    job: &Job,
    ctx: &Ctx<'_, JobData>,
    opts: &Options,
) -> anyhow::Result<JobOutput<JobData>> {
    let s = job
        .seed
        .ok_or_else(|| anyhow::anyhow!("job {} has no seed", job.id))?;
    let device = &opts.device;
    let find = |methods: &[Method]| -> anyhow::Result<Method> {
        methods
            .iter()
            .find(|m| m.name == job.method)
            .cloned()
            .ok_or_else(|| anyhow::anyhow!("no method `{}` in the configuration", job.method))
    };
    match (job.experiment.as_str(), job.setting.as_str()) {
        (MARKOV, "ref") => reference_job(cfg, s, device),
        (MARKOV, _) => markov_job(cfg, job, &find(&cfg.methods)?, cfg.n_pretrain, ctx, device),
        (SWEEP, setting) => {
            let n: usize = setting
                .strip_prefix("n=")
                .and_then(|v| v.parse().ok())
                .ok_or_else(|| anyhow::anyhow!("bad sweep setting `{setting}`"))?;
            markov_job(cfg, job, &find(&cfg.methods)?, n, ctx, device)
        }
        (ABLATIONS, _) => markov_job(
            cfg,
            job,
            &find(&cfg.ablations)?,
            cfg.n_pretrain,
            ctx,
            device,
        ),
        (DIGITS, "ref") => digits_reference_job(cfg, s, device),
        (DIGITS, _) => digits_job(cfg, job, &find(&cfg.methods)?, s, ctx, device),
        _ => anyhow::bail!("no job function for `{}`", job.id),
    }
}

/// The seed's Data A sets.
pub(crate) struct MarkovData {
    pub(crate) pretrain: Vec<Vec<u32>>,
    pub(crate) probe_x: Vec<Vec<u32>>,
    pub(crate) probe_y: Vec<usize>,
    pub(crate) test_x: Vec<Vec<u32>>,
    pub(crate) test_y: Vec<usize>,
}

/// Draws the seed's sets from independent streams; a smaller pretraining set is a prefix
/// of a larger one.
pub(crate) fn markov_data(
    cfg: &ExperimentConfig,
    lang: &MarkovLanguage,
    seed: u64,
    n_pretrain: usize,
) -> MarkovData {
    let (pretrain, _) = lang.sample_balanced(n_pretrain, &mut stream(seed, "data-pretrain"));
    let (probe_x, py) = lang.sample_balanced(cfg.n_probe_train, &mut stream(seed, "data-probe"));
    let (test_x, ty) = lang.sample_balanced(cfg.n_test, &mut stream(seed, "data-test"));
    let us = |v: Vec<u32>| v.into_iter().map(|y| y as usize).collect();
    MarkovData {
        pretrain,
        probe_x,
        probe_y: us(py),
        test_x,
        test_y: us(ty),
    }
}

/// Test accuracy in points of a probe on features `(train, test)` of width `d`.
fn probe_acc(
    probe: &ProbeConfig,
    train: (&[f32], &[usize]),
    test: (&[f32], &[usize]),
    d: usize,
    classes: usize,
    device: &Device,
) -> anyhow::Result<f64> {
    let (p, _) = train_linear_probe(train.0, d, train.1, classes, probe, device)?;
    Ok(100.0 * p.accuracy(test.0, test.1))
}

/// Mean, short-prefix and long-prefix means of an NLL curve starting at `t_from`, with
/// short = `t ≤ n/4` and long = `t ≥ 3n/4` (t ≤ 6 and t ≥ 18 at n = 24).
pub(crate) fn nll_summary(curve: &[f64], t_from: usize, n: usize) -> (f64, f64, f64) {
    let mean = |v: Vec<f64>| v.iter().sum::<f64>() / v.len().max(1) as f64;
    let at = |f: &dyn Fn(usize) -> bool| -> Vec<f64> {
        curve
            .iter()
            .enumerate()
            .filter(|(j, _)| f(t_from + j))
            .map(|(_, v)| *v)
            .collect()
    };
    (
        mean(curve.to_vec()),
        mean(at(&|t| 4 * t <= n)),
        mean(at(&|t| 4 * t >= 3 * n)),
    )
}

fn nll_row(row: Row, curve: &[f64], t_from: usize, n: usize) -> Row {
    let (m, s, l) = nll_summary(curve, t_from, n);
    row.metric("nll_mean", m)
        .metric("nll_short", s)
        .metric("nll_long", l)
}

fn reference_job(
    cfg: &ExperimentConfig,
    s: u64,
    device: &Device,
) -> anyhow::Result<JobOutput<JobData>> {
    let lang = MarkovLanguage::new(&cfg.markov, s)?;
    let calib = match cfg.markov.alpha {
        crate::markov::Alpha::CalibrateBayesAcc { n_calib, .. } => {
            let (xs, ys) = lang.sample_balanced(n_calib, &mut stream(s, "markov-calib"));
            lang.bayes_accuracy(&xs, &ys)?.0
        }
        crate::markov::Alpha::Fixed(_) => f64::NAN,
    };
    let d = markov_data(cfg, &lang, s, cfg.n_pretrain);
    let (v, c, n) = (lang.vocab, lang.classes, lang.len);
    let ys: Vec<u32> = d.test_y.iter().map(|&y| y as u32).collect();
    let (acc, conf) = lang.bayes_accuracy(&d.test_x, &ys)?;
    let nll_x = &d.test_x[..cfg.n_nll_eval];
    let ts: Vec<usize> = (1..n).collect();
    let bayes = generation_nll(&BayesOracle(&lang), nll_x, &ts)?;
    let row = |m: &str| Row::new(MARKOV, "ref", m, Some(s));
    let mut rows = vec![
        nll_row(row("BAYES"), &bayes, 1, n)
            .metric("lp_mean", 100.0 * acc)
            .metric("bayes_conf", 100.0 * conf)
            .metric("alpha", lang.alpha)
            .metric("calib_acc", 100.0 * calib),
    ];
    let mut curves = vec![("BAYES".to_string(), bayes)];
    for (name, feats, width) in [
        (
            "BOT",
            unigram_counts as fn(&[Vec<u32>], usize) -> Vec<f32>,
            v,
        ),
        ("BIGRAM", bigram_counts, v * v),
    ] {
        let lp = probe_acc(
            &cfg.probe,
            (&feats(&d.probe_x, v), &d.probe_y),
            (&feats(&d.test_x, v), &d.test_y),
            width,
            c,
            device,
        )?;
        rows.push(row(name).metric("lp_mean", lp));
    }
    let rand = init_model(&cfg.model(v, n, None), s, device)?;
    let (tr, te) = features(cfg, &rand, Attn::Bidirectional, &d, device)?;
    let dm = cfg.d_model;
    rows.push(
        row("RANDINIT")
            .metric(
                "lp_mean",
                probe_acc(
                    &cfg.probe,
                    (&tr.0, &d.probe_y),
                    (&te.0, &d.test_y),
                    dm,
                    c,
                    device,
                )?,
            )
            .metric(
                "lp_last",
                probe_acc(
                    &cfg.probe,
                    (&tr.1, &d.probe_y),
                    (&te.1, &d.test_y),
                    dm,
                    c,
                    device,
                )?,
            ),
    );
    for (name, bigram) in [("UNI-LM", false), ("BI-LM", true)] {
        let lm = NgramLm::fit(&d.pretrain, v, bigram)?;
        let curve = generation_nll(&lm, nll_x, &ts)?;
        rows.push(nll_row(row(name), &curve, 1, n));
        curves.push((name.to_string(), curve));
    }
    let results = vec![json!({"kind": "language", "seed": s, "alpha": lang.alpha,
        "calibration_bayes_acc": calib, "test_bayes_acc": acc, "test_bayes_conf": conf})];
    Ok(JobOutput::new(
        rows,
        JobData {
            lang: Some(lang),
            nll_curves: curves,
            t_from: 1,
            results,
            ..JobData::default()
        },
    ))
}

type Feats = (Vec<f32>, Vec<f32>);

fn features(
    cfg: &ExperimentConfig,
    m: &SeqModel,
    attn: Attn,
    d: &MarkovData,
    device: &Device,
) -> anyhow::Result<(Feats, Feats)> {
    Ok((
        probe_features(m, attn, &d.probe_x, device, cfg.eval_chunk)?,
        probe_features(m, attn, &d.test_x, device, cfg.eval_chunk)?,
    ))
}

/// Probe accuracies (mean-pool, last position) and the NMI of k-means (C clusters, on the
/// test features standardised with the probe-train statistics) with the latent class.
#[allow(clippy::too_many_arguments)]
fn probe_metrics(
    probe: &ProbeConfig,
    (tr, te): &(Feats, Feats),
    train_y: &[usize],
    test_y: &[usize],
    dm: usize,
    classes: usize,
    seed: u64,
    device: &Device,
) -> anyhow::Result<(f64, f64, f64)> {
    let lp_mean = probe_acc(
        probe,
        (&tr.0, train_y),
        (&te.0, test_y),
        dm,
        classes,
        device,
    )?;
    let lp_last = probe_acc(
        probe,
        (&tr.1, train_y),
        (&te.1, test_y),
        dm,
        classes,
        device,
    )?;
    let z = Standardizer::fit(&tr.0, dm).apply(&te.0);
    let km = KMeansConfig::new(classes, seed).fit(&z, test_y.len(), dm)?;
    let score = nmi(&km.assign(&z, dm), test_y)?;
    Ok((lp_mean, lp_last, score))
}

fn train_entry(job: &Job, curve: &Curve) -> Value {
    let (first, last) = curve.first_last(5);
    json!({"kind": "pretrain", "experiment": job.experiment, "setting": job.setting,
        "method": job.method, "seed": job.seed, "steps": curve.loss.len(),
        "loss_first5": first, "loss_last5": last, "train_seconds": curve.seconds,
        "step_ms": 1e3 * curve.seconds / curve.loss.len().max(1) as f64})
}

fn markov_job(
    cfg: &ExperimentConfig,
    job: &Job,
    m: &Method,
    n_pretrain: usize,
    ctx: &Ctx<'_, JobData>,
    device: &Device,
) -> anyhow::Result<JobOutput<JobData>> {
    let s = job.seed.unwrap_or_default();
    let lang = ctx
        .dep(&ref_id(s))?
        .data
        .lang
        .clone()
        .ok_or_else(|| anyhow::anyhow!("reference job of seed {s} has no language"))?;
    let d = markov_data(cfg, &lang, s, n_pretrain);
    let (v, n) = (lang.vocab, lang.len);
    let mcfg = cfg.model(v, n, Some(m));
    let train = crate::train::TrainConfig {
        reduction: m.reduction,
        ..cfg.train.clone()
    };
    let data = |_: usize| Ok(d.pretrain.clone());
    let (model, curve) = pretrain(
        &mcfg,
        &m.objective,
        &train,
        &data,
        n_pretrain,
        s,
        device,
        Some(ctx.progress()),
    )?;
    let feats = features(cfg, &model, m.objective.attn(), &d, device)?;
    let (lp_mean, lp_last, score) = probe_metrics(
        &cfg.probe,
        &feats,
        &d.probe_y,
        &d.test_y,
        cfg.d_model,
        lang.classes,
        s,
        device,
    )?;
    let ts: Vec<usize> = (1..n).collect();
    let curve_nll = generation_nll(
        &scorer(&model, &m.objective, cfg, device),
        &d.test_x[..cfg.n_nll_eval],
        &ts,
    )?;
    let (first, last) = curve.first_last(5);
    let row = nll_row(Row::of(job), &curve_nll, 1, n)
        .metric("lp_mean", lp_mean)
        .metric("lp_last", lp_last)
        .metric("nmi", score)
        .metric("loss_first5", first)
        .metric("loss_last5", last)
        .metric(
            "step_ms",
            1e3 * curve.seconds / curve.loss.len().max(1) as f64,
        );
    Ok(JobOutput::new(
        vec![row],
        JobData {
            results: vec![train_entry(job, &curve)],
            nll_curves: vec![(m.name.clone(), curve_nll)],
            t_from: 1,
            curve,
            lang: None,
        },
    ))
}

fn scorer<'a>(
    model: &'a SeqModel,
    obj: &crate::objective::Objective,
    cfg: &ExperimentConfig,
    device: &Device,
) -> ModelScorer<'a> {
    ModelScorer {
        model,
        protocol: Protocol::of(obj),
        device: device.clone(),
        chunk: cfg.eval_chunk,
    }
}

/// Data B of a seed: the tokenizer and the un-augmented token sets.
struct DigitsData {
    tok: PatchTokenizer,
    train_imgs: Vec<f32>,
    train_x: Vec<Vec<u32>>,
    train_y: Vec<usize>,
    test_x: Vec<Vec<u32>>,
    test_y: Vec<usize>,
}

fn digits_data(cfg: &ExperimentConfig, s: u64, device: &Device) -> anyhow::Result<DigitsData> {
    let all = digits::load()?;
    let split = digits::standard_split(&all);
    let imgs = |idx: &[usize]| -> Vec<f32> {
        idx.iter()
            .flat_map(|&i| all.image(i).iter().map(|v| v / 16.0))
            .collect()
    };
    let labels =
        |idx: &[usize]| -> Vec<usize> { idx.iter().map(|&i| usize::from(all.labels[i])).collect() };
    let train_imgs = imgs(&split.train);
    let tok = PatchTokenizer::fit(&train_imgs, cfg.digits.k, s, device)?;
    Ok(DigitsData {
        train_x: tok.tokens(&train_imgs, device)?,
        test_x: tok.tokens(&imgs(&split.test), device)?,
        train_y: labels(&split.train),
        test_y: labels(&split.test),
        tok,
        train_imgs,
    })
}

fn digits_reference_job(
    cfg: &ExperimentConfig,
    s: u64,
    device: &Device,
) -> anyhow::Result<JobOutput<JobData>> {
    let d = digits_data(cfg, s, device)?;
    let ts: Vec<usize> = (cfg.digits.t_from..TOKENS).collect();
    let mut rows = Vec::new();
    let mut curves = Vec::new();
    for (name, bigram) in [("UNI-LM", false), ("BI-LM", true)] {
        let lm = NgramLm::fit(&d.train_x, cfg.digits.k, bigram)?;
        let curve = generation_nll(&lm, &d.test_x, &ts)?;
        let mean = curve.iter().sum::<f64>() / curve.len() as f64;
        rows.push(Row::new(DIGITS, "ref", name, Some(s)).metric("nll_mean", mean));
        curves.push((name.to_string(), curve));
    }
    Ok(JobOutput::new(
        rows,
        JobData {
            nll_curves: curves,
            t_from: cfg.digits.t_from,
            ..JobData::default()
        },
    ))
}

fn digits_job(
    cfg: &ExperimentConfig,
    job: &Job,
    m: &Method,
    s: u64,
    ctx: &Ctx<'_, JobData>,
    device: &Device,
) -> anyhow::Result<JobOutput<JobData>> {
    let d = digits_data(cfg, s, device)?;
    let shift = cfg.digits.max_shift;
    let n_imgs = d.train_y.len();
    // ±max_shift px translations, redrawn every epoch and re-tokenised.
    let data = |epoch: usize| -> anyhow::Result<Vec<Vec<u32>>> {
        let mut r = stream(s, &format!("augment-{epoch}"));
        let span = (2 * shift + 1) as usize;
        let aug: Vec<f32> = d
            .train_imgs
            .chunks(64)
            .flat_map(|img| {
                let (dx, dy) = (r.below(span) as i32 - shift, r.below(span) as i32 - shift);
                repro_core::augment::translate(img, dx, dy)
            })
            .collect();
        d.tok.tokens(&aug, device)
    };
    let train = crate::train::TrainConfig {
        epochs: cfg.digits.epochs,
        reduction: m.reduction,
        ..cfg.train.clone()
    };
    let mcfg = cfg.model(cfg.digits.k, TOKENS, Some(m));
    let (model, curve) = pretrain(
        &mcfg,
        &m.objective,
        &train,
        &data,
        n_imgs,
        s,
        device,
        Some(ctx.progress()),
    )?;
    let attn = m.objective.attn();
    let feats = (
        probe_features(&model, attn, &d.train_x, device, cfg.eval_chunk)?,
        probe_features(&model, attn, &d.test_x, device, cfg.eval_chunk)?,
    );
    let (lp_mean, lp_last, score) = probe_metrics(
        &cfg.probe,
        &feats,
        &d.train_y,
        &d.test_y,
        cfg.d_model,
        digits::CLASSES,
        s,
        device,
    )?;
    let ts: Vec<usize> = (cfg.digits.t_from..TOKENS).collect();
    let curve_nll = generation_nll(&scorer(&model, &m.objective, cfg, device), &d.test_x, &ts)?;
    let mean = curve_nll.iter().sum::<f64>() / curve_nll.len() as f64;
    let row = Row::of(job)
        .metric("nll_mean", mean)
        .metric("lp_mean", lp_mean)
        .metric("lp_last", lp_last)
        .metric("nmi", score);
    Ok(JobOutput::new(
        vec![row],
        JobData {
            results: vec![train_entry(job, &curve)],
            nll_curves: vec![(m.name.clone(), curve_nll)],
            t_from: cfg.digits.t_from,
            curve,
            lang: None,
        },
    ))
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
    let claims = decide_claims(cfg, &results, &ran)?;
    report.claims = INFO.finish_claims(claims, ran)?;
    tables_and_plots(&results, done, &mut report)?;
    report.notes.extend(notes(cfg, opts, &ran));
    Ok(report.finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nll_summary_windows() {
        // t = 1..23 with value t: short t ≤ 6 → 3.5, long t ≥ 18 → 20.5, mean 12.
        let curve: Vec<f64> = (1..24).map(f64::from).collect();
        let (m, s, l) = nll_summary(&curve, 1, 24);
        assert_eq!((m, s, l), (12.0, 3.5, 20.5));
    }

    #[test]
    fn full_plan_enumerates_every_job_and_shards_by_seed() {
        let cfg = ExperimentConfig::full();
        let opts = Options::new(repro_core::Profile::Full);
        let seeds = opts.seed_list(cfg.seeds);
        let p = plan(&cfg, &opts, &seeds).unwrap();
        // Per seed: the reference job, 4 objectives, 2 sizes × {AR, MLM}, 8 ablations on
        // Data A; the n-gram job and 4 objectives on Data B.
        assert_eq!(p.len(), 5 * (1 + 4 + 4 + 8) + 5 * 5);
        // Two shards split the plan without overlap, and a seed's Data A jobs (which read
        // its language) stay together.
        let shard = |i| p.select(Some(repro_core::experiment::Shard { index: i, count: 2 }));
        let (a, b) = (shard(0), shard(1));
        assert_eq!(a.len() + b.len(), p.len());
        assert!(a.is_disjoint(&b));
        for part in [&a, &b] {
            for &i in part.iter() {
                let job = &p.jobs()[i];
                if job.experiment != DIGITS {
                    let r = p
                        .jobs()
                        .iter()
                        .position(|j| j.id == ref_id(job.seed.unwrap()))
                        .unwrap();
                    assert!(part.contains(&r), "{} without its reference job", job.id);
                }
            }
        }
        // Quick runs Data A only.
        let q = ExperimentConfig::quick();
        let qo = Options::new(repro_core::Profile::Quick);
        assert_eq!(plan(&q, &qo, &qo.seed_list(q.seeds)).unwrap().len(), 3 * 5);
    }
}

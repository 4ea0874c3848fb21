//! `cargo xtask reproduce llm-issues`: E1–E4 as a plan of jobs, run by the experiment
//! layer (resumable from `--out`), and the report with claims L1–L5.
//!
//! The plan: one `collect` job (E1); per NLBSE'24 repository one `rules` job, one `linear`
//! job per seed (in `full` after a `linear-cv` job choosing λ, plus `fasttext` jobs), and
//! per seed one `bootstrap` job over every repository (E2); one `failures` job (E3); one
//! `coded` job reading the E1 sample (E4; it pulls the `collect` job into the plan).
//! With `--out`, the tables are also written there as CSV / Markdown
//! (`prevalence_<level>.*`, `contingency_<a>_<b>.*`, `sankey_<a>_<b>.csv`,
//! `per_project_<level>.csv`, `olf_*`, `nlbse24_report.md`, `coded_sample.csv`,
//! `claims.md`).

use std::collections::BTreeMap;

use anyhow::Context;
use repro_core::experiment::{Ctx, Done, Job, JobOutput, Outcome, Plan, RunState, Runner};
use repro_core::report::write_atomic;
use repro_core::{Options, Report};
use serde::{Deserialize, Serialize};

use crate::INFO;
use crate::claims::{decide_claims, notes, tables_and_plots};
use crate::config::ExperimentConfig;
use crate::data::{RepoSplit, coding_csv, load_nlbse24, load_open_llm_failures};
use crate::eval::BootstrapCi;
use crate::experiments::{
    CodedData, CollectData, FailuresData, Predictions, run_bootstrap, run_coded, run_collect,
    run_cv, run_failures, run_fasttext, run_linear, run_rules,
};
use crate::synthetic::{failure_records, three_class_docs};

/// E1's `--only` name.
pub const COLLECT: &str = "collect";
/// E2's `--only` name.
pub const NLBSE: &str = "nlbse";
/// E3's `--only` name.
pub const FAILURES: &str = "failures";
/// E4's `--only` name.
pub const CODED: &str = "coded";

/// The five NLBSE'24 repositories, sorted.
pub const NLBSE_REPOS: [&str; 5] = [
    "bitcoin/bitcoin",
    "facebook/react",
    "microsoft/vscode",
    "opencv/opencv",
    "tensorflow/tensorflow",
];

/// The smoke profile's synthetic repository.
pub const SYNTHETIC_REPO: &str = "synthetic/three-class";

/// The λ chosen by cross-validation and the grid's `(λ, mean macro-F1)`.
pub type CvResult = (f64, Vec<(f64, f64)>);

/// A job's payload (one field set per job kind).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct JobData {
    /// E1.
    pub collect: Option<Box<CollectData>>,
    /// E2 predictions (rules, linear, fasttext).
    pub predictions: Option<Predictions>,
    /// E2 cross-validation: chosen λ and the grid.
    pub cv: Option<CvResult>,
    /// E2 bootstrap.
    pub bootstrap: Option<BootstrapCi>,
    /// E3.
    pub failures: Option<Box<FailuresData>>,
    /// E4.
    pub coded: Option<Box<CodedData>>,
}

/// Runs the reproduction for `opts.profile`: the report, or what this shard ran.
pub fn reproduce(opts: &Options) -> anyhow::Result<Outcome> {
    reproduce_with(&ExperimentConfig::for_profile(opts.profile), opts)
}

fn repos(cfg: &ExperimentConfig) -> Vec<String> {
    if cfg.nlbse.synthetic_per_class.is_some() {
        vec![SYNTHETIC_REPO.to_owned()]
    } else {
        NLBSE_REPOS.iter().map(|s| (*s).to_owned()).collect()
    }
}

/// The NLBSE'24 splits per repository (the mirror through `opts.data`), or the synthetic
/// set in smoke.
fn load_splits(cfg: &ExperimentConfig, opts: &Options) -> anyhow::Result<Vec<RepoSplit>> {
    if let Some(n) = cfg.nlbse.synthetic_per_class {
        let (train_docs, train_y) = three_class_docs(n, 1).into_iter().unzip();
        let (test_docs, test_y) = three_class_docs(n, 2).into_iter().unzip();
        return Ok(vec![RepoSplit {
            repo: SYNTHETIC_REPO.into(),
            train_docs,
            train_y,
            test_docs,
            test_y,
        }]);
    }
    let d = load_nlbse24(&opts.data).context("E2 (`nlbse`) reads NLBSE'24 from the data mirror")?;
    let found = d.repos();
    anyhow::ensure!(
        found == NLBSE_REPOS,
        "NLBSE'24 repositories {found:?} are not the expected {NLBSE_REPOS:?}"
    );
    Ok(found.iter().map(|r| d.split(r)).collect())
}

/// Runs the reproduction with an explicit configuration (tests use tiny ones).
pub fn reproduce_with(cfg: &ExperimentConfig, opts: &Options) -> anyhow::Result<Outcome> {
    INFO.check_only(opts)?;
    // Started before the jobs so that `wall_seconds` covers the run.
    let report = Report::new(INFO.name, opts, cfg);
    let seeds = opts.seed_list(cfg.seeds);
    let plan = plan(cfg, opts, &seeds)?;
    let needs = |e: &str| plan.jobs().iter().any(|j| j.experiment == e);
    let splits = if needs(NLBSE) {
        load_splits(cfg, opts)?
    } else {
        Vec::new()
    };
    let records = if needs(FAILURES) {
        match cfg.failures.synthetic {
            Some(n) => failure_records(n, 0),
            None => load_open_llm_failures(&opts.data)
                .context("E3 (`failures`) reads Open-LLM-Failures from the data mirror")?,
        }
    } else {
        Vec::new()
    };
    let state =
        Runner::new(&plan, opts).run(|job, ctx| run_job(cfg, &splits, &records, job, ctx, opts))?;
    let done = match state {
        RunState::Partial(p) => return Ok(Outcome::Partial(p)),
        RunState::Complete(done) => done,
    };
    Ok(build_report(report, cfg, opts, &seeds, &done)?.into())
}

fn plan(cfg: &ExperimentConfig, opts: &Options, seeds: &[u64]) -> anyhow::Result<Plan> {
    let mut plan = Plan::new(INFO.name);
    let coded = INFO.runs(opts, CODED, true);
    let collect_id = if INFO.runs(opts, COLLECT, true) || coded {
        Some(plan.push(Job::new(COLLECT, "fixture", "pipeline", None).config(&cfg.collect))?)
    } else {
        None
    };
    if INFO.runs(opts, NLBSE, true) {
        let data = serde_json::json!({"synthetic_per_class": cfg.nlbse.synthetic_per_class});
        let mut rules_ids = Vec::new();
        let mut linear_ids: BTreeMap<u64, Vec<String>> = BTreeMap::new();
        for repo in repos(cfg) {
            rules_ids.push(plan.push(Job::new(NLBSE, &repo, "rules", None).config(&data))?);
            let cv = if cfg.nlbse.cv_lambdas.is_empty() {
                None
            } else {
                let c = serde_json::json!({"data": data, "linear": cfg.nlbse.linear, "grid": cfg.nlbse.cv_lambdas, "folds": cfg.nlbse.cv_folds});
                Some(
                    plan.push(Job::new(NLBSE, &repo, "linear-cv", None).config(&c).weight(
                        (cfg.nlbse.cv_lambdas.len() * cfg.nlbse.cv_folds * cfg.nlbse.linear.epochs)
                            as u64,
                    ))?,
                )
            };
            for &s in seeds {
                let c = serde_json::json!({"data": data, "linear": cfg.nlbse.linear, "top_ngrams": cfg.nlbse.top_ngrams});
                let mut j = Job::new(NLBSE, &repo, "linear", Some(s))
                    .config(&c)
                    .weight(cfg.nlbse.linear.epochs as u64);
                if let Some(cv) = &cv {
                    j = j.after(cv);
                }
                linear_ids.entry(s).or_default().push(plan.push(j)?);
                if let Some(ft) = &cfg.nlbse.fasttext {
                    let c = serde_json::json!({"data": data, "fasttext": ft});
                    plan.push(
                        Job::new(NLBSE, &repo, "fasttext", Some(s))
                            .config(&c)
                            .weight(ft.max_epochs as u64),
                    )?;
                }
            }
        }
        for &s in seeds {
            let mut j =
                Job::new(NLBSE, "overall", "bootstrap", Some(s)).config(&cfg.nlbse.bootstrap);
            for d in rules_ids.iter().chain(&linear_ids[&s]) {
                j = j.after(d);
            }
            plan.push(j)?;
        }
    }
    if INFO.runs(opts, FAILURES, true) {
        plan.push(Job::new(FAILURES, "open-llm-failures", "tables", None).config(&cfg.failures))?;
    }
    if coded && let Some(c) = &collect_id {
        plan.push(
            Job::new(CODED, "fixture-sample", "tables", None)
                .config(&"rules:codebook_v0 vs generator")
                .after(c),
        )?;
    }
    Ok(plan)
}

fn run_job(
    cfg: &ExperimentConfig,
    splits: &[RepoSplit],
    records: &[repro_core::data::parsers::llm_failures::FailureRecord],
    job: &Job,
    ctx: &Ctx<'_, JobData>,
    opts: &Options,
) -> anyhow::Result<JobOutput<JobData>> {
    let device = &opts.device;
    let split = || {
        splits
            .iter()
            .find(|s| s.repo == job.setting)
            .with_context(|| format!("no data for repository {}", job.setting))
    };
    let out = match (job.experiment.as_str(), job.method.as_str(), job.seed) {
        (COLLECT, _, None) => {
            let (rows, d) = run_collect(&cfg.collect)?;
            JobOutput::new(
                rows,
                JobData {
                    collect: Some(Box::new(d)),
                    ..JobData::default()
                },
            )
        }
        (NLBSE, "rules", None) => {
            let (rows, p) = run_rules(split()?)?;
            JobOutput::new(
                rows,
                JobData {
                    predictions: Some(p),
                    ..JobData::default()
                },
            )
        }
        (NLBSE, "linear-cv", None) => {
            let cv = run_cv(
                split()?,
                &cfg.nlbse.linear,
                &cfg.nlbse.cv_lambdas,
                cfg.nlbse.cv_folds,
                device,
            )?;
            ctx.progress().inc(job.weight);
            JobOutput::new(
                Vec::new(),
                JobData {
                    cv: Some(cv),
                    ..JobData::default()
                },
            )
        }
        (NLBSE, "linear", Some(s)) => {
            let mut lc = cfg.nlbse.linear.clone();
            if let Some(dep) = job.deps.first()
                && let Some((lambda, _)) = &ctx.dep(dep)?.data.cv
            {
                lc.lambda = *lambda;
            }
            let (rows, p) = run_linear(split()?, &lc, cfg.nlbse.top_ngrams, device, s)?;
            ctx.progress().inc(job.weight);
            JobOutput::new(
                rows,
                JobData {
                    predictions: Some(p),
                    ..JobData::default()
                },
            )
        }
        (NLBSE, "fasttext", Some(s)) => {
            let ft = cfg
                .nlbse
                .fasttext
                .as_ref()
                .context("fastText job without a fastText configuration")?;
            let (rows, p) = run_fasttext(split()?, ft, device, s)?;
            ctx.progress().inc(job.weight);
            JobOutput::new(
                rows,
                JobData {
                    predictions: Some(p),
                    ..JobData::default()
                },
            )
        }
        (NLBSE, "bootstrap", Some(s)) => {
            let deps = ctx.deps()?;
            let preds = |m: &str| -> Vec<&Predictions> {
                deps.iter()
                    .filter_map(|(j, o)| {
                        (j.method == m)
                            .then_some(o.data.predictions.as_ref())
                            .flatten()
                    })
                    .collect()
            };
            let (rows, ci) =
                run_bootstrap(&preds("linear"), &preds("rules"), cfg.nlbse.bootstrap, s)?;
            JobOutput::new(
                rows,
                JobData {
                    bootstrap: Some(ci),
                    ..JobData::default()
                },
            )
        }
        (FAILURES, _, None) => {
            let (rows, d) =
                run_failures(records, cfg.failures.synthetic.is_some(), cfg.failures.z)?;
            JobOutput::new(
                rows,
                JobData {
                    failures: Some(Box::new(d)),
                    ..JobData::default()
                },
            )
        }
        (CODED, _, None) => {
            let dep = job
                .deps
                .first()
                .context("the coded job reads the collect job")?;
            let c = ctx
                .dep(dep)?
                .data
                .collect
                .as_ref()
                .context("the collect job has no sample")?;
            let (rows, d) = run_coded(&c.coded, &c.truth, cfg.failures.z)?;
            JobOutput::new(
                rows,
                JobData {
                    coded: Some(Box::new(d)),
                    ..JobData::default()
                },
            )
        }
        _ => anyhow::bail!("no job function for `{}`", job.id),
    };
    Ok(out)
}

/// Everything the report is built from, gathered from the jobs.
pub(crate) struct Gathered<'a> {
    pub collect: Option<&'a CollectData>,
    pub predictions: Vec<&'a Predictions>,
    pub cv: Vec<(String, CvResult)>,
    pub bootstrap: Vec<(u64, &'a BootstrapCi)>,
    pub failures: Option<&'a FailuresData>,
    pub coded: Option<&'a CodedData>,
}

fn gather(done: &Done<JobData>) -> Gathered<'_> {
    let mut g = Gathered {
        collect: None,
        predictions: Vec::new(),
        cv: Vec::new(),
        bootstrap: Vec::new(),
        failures: None,
        coded: None,
    };
    for (job, out) in done.iter() {
        let d = &out.data;
        if let Some(c) = &d.collect {
            g.collect = Some(c);
        }
        if let Some(p) = &d.predictions {
            g.predictions.push(p);
        }
        if let Some(cv) = &d.cv {
            g.cv.push((job.setting.clone(), cv.clone()));
        }
        if let (Some(b), Some(s)) = (&d.bootstrap, job.seed) {
            g.bootstrap.push((s, b));
        }
        if let Some(f) = &d.failures {
            g.failures = Some(f);
        }
        if let Some(c) = &d.coded {
            g.coded = Some(c);
        }
    }
    g
}

fn build_report(
    mut report: Report,
    cfg: &ExperimentConfig,
    opts: &Options,
    seeds: &[u64],
    done: &Done<JobData>,
) -> anyhow::Result<Report> {
    report.seeds = seeds.to_vec();
    let results = done.results();
    report.push_rows(&results);
    let g = gather(done);
    let claims = decide_claims(cfg, opts, &results, &g)?;
    report.claims = INFO.finish_claims(claims, |e| INFO.runs(opts, e, true))?;
    let files = tables_and_plots(cfg, &results, &g, &mut report)?;
    report.notes.extend(notes(cfg));
    if let Some(out) = &opts.out {
        std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
        let mut files = files;
        if let Some(c) = g.collect {
            files.push(("coded_sample.csv".into(), coding_csv(&c.coded)));
        }
        files.push(("claims.md".into(), report.claims_table()));
        for (name, text) in files {
            write_atomic(&out.join(&name), text.as_bytes())?;
        }
    }
    Ok(report.finish())
}

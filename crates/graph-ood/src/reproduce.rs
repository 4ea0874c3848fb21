//! `cargo xtask reproduce graph-ood`: plans one job per training run (dataset, shift,
//! backbone → setting; method label and candidate → method; seed), runs them in parallel
//! (each run is a pure function of its seed), selects penalty weights and steps by OOD
//! validation only, and checks the claims in code. [`reproduce()`] returns an
//! [`Outcome`]: the report, or what a shard ran.
//!
//! A method with several candidates is swept first (sweep seeds beyond the final ones); its
//! final runs depend on the sweep jobs and choose the candidate with the best mean
//! OOD-validation accuracy over the sweep seeds (first best on ties, in candidate order).
//! Graphs and splits are built lazily per (dataset, shift), once, and shared by the jobs;
//! a dataset whose files are missing (or whose split is invalid) gives its jobs a
//! "skipped" result that becomes a note of the report.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, OnceLock};

use anyhow::Context;
use repro_core::data::DataRoots;
use repro_core::experiment::{Ctx, Job, JobOutput, Outcome, Plan, Row, RunState, Runner};
use repro_core::report::{Options, Report};
use repro_core::stats::Summary;
use serde::{Deserialize, Serialize};

use crate::INFO;
use crate::claims::{self, Cell, INV_VARIANCE, OOD_TEST, SPURIOUS_NORM};
use crate::config::{DatasetSettings, ExperimentConfig, MethodGrid, seed_r};
use crate::datasets::{self, CsbmMeta, CsbmVariant, Dataset};
use crate::graph::NodeGraph;
use crate::model::{Backbone, GnnConfig};
use crate::splits::{OodSplit, Shift};
use crate::train::{
    LraLabels, Method, RunRecord, Task, TrainCfg, invariant_variance, lra_premise,
    spurious_norm_ratio, train_select,
};

/// One run's numbers, as written to `report.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ResultRow {
    /// Dataset name.
    pub dataset: String,
    /// Shift.
    pub shift: String,
    /// Backbone.
    pub backbone: String,
    /// Method label.
    pub method: String,
    /// Penalty weight.
    pub lambda: f64,
    /// Hop cut-off (CIA-LRA).
    pub hops: Option<usize>,
    /// Training seed.
    pub seed: u64,
    /// Whether this is a sweep run (used only to choose λ).
    pub sweep: bool,
    /// The run.
    pub record: RunRecord,
    /// CSBM: `‖W_spu‖_F / ‖W₁‖_F` of the final model.
    pub spurious_norm: Option<f64>,
    /// CSBM: invariant-feature variance over OOD-test nodes of the final model.
    pub inv_variance: Option<f64>,
    /// Cora-word covariate, ERM, GCN: per-class Spearman ρ of the LRA premise (G5).
    pub lra_premise: Option<Vec<Option<f64>>>,
}

/// A job's payload: its run, or the note of a (dataset, shift) that could not be built.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum Payload {
    /// The run's numbers.
    Run(Box<ResultRow>),
    /// `"<dataset> <shift>: skipped: <why>"`.
    Skipped(String),
}

/// How a final run derives its method from the candidate a sweep chose.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
enum Derive {
    /// The chosen candidate itself.
    Same,
    /// CSBM mechanism run: CIA-LRA at `lambda` with the chosen CIA-LRA's hop cut-off.
    Lra { lambda: f64 },
    /// CBAS diagnostic: the chosen CIA-LRA with the upstream all-node labels.
    AsCoded,
}

impl Derive {
    fn apply(self, chosen: Method) -> Method {
        let hops = match chosen {
            Method::CiaLra { hops, .. } => Some(hops),
            _ => None,
        };
        match self {
            Derive::Same => chosen,
            Derive::Lra { lambda } => Method::CiaLra {
                lambda,
                hops: hops.unwrap_or(3),
                labels: LraLabels::TrainOnly,
            },
            Derive::AsCoded => Method::CiaLra {
                lambda: chosen.lambda(),
                hops: hops.unwrap_or(3),
                labels: LraLabels::AllNodesAsCoded,
            },
        }
    }
}

/// The method a job trains.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
enum MethodSpec {
    /// Known when planning.
    Fixed(Method),
    /// Grid `grid`'s candidate chosen from the job's dependencies (its sweep jobs).
    Chosen { grid: usize, then: Derive },
}

/// Everything a job runs with (its fingerprinted configuration).
#[derive(Debug, Clone, Serialize)]
struct Spec {
    dataset: Dataset,
    shift: Shift,
    backbone: Backbone,
    hidden: usize,
    layers: usize,
    steps: usize,
    lr: f64,
    dropout: f64,
    warmup_steps: usize,
    eval_every: usize,
    /// The CSBM or Arxiv-synth generator settings (`null` otherwise).
    generator: serde_json::Value,
    /// Which of a mirror-backed dataset's files were present when planned (empty for the
    /// synthetic ones): a result stored as "skipped, files missing" goes stale, and is
    /// rerun, once the files arrive.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    data_present: Vec<(String, bool)>,
    label: String,
    seed: u64,
    sweep: bool,
    /// Train on the invariant-only graph (CSBM oracle).
    oracle: bool,
    method: MethodSpec,
}

/// The setting name of a cell (`GOOD-CBAS covariate Gcn`).
fn setting_name(d: Dataset, s: Shift, b: Backbone) -> String {
    format!("{} {} {b:?}", d.name(), s.as_str())
}

fn describe(m: &Method) -> String {
    match m {
        Method::CiaLra { lambda, hops, .. } => format!("λ={lambda} t={hops}"),
        Method::GroupDro { eta } => format!("η={eta}"),
        m => format!("λ={}", m.lambda()),
    }
}

/// The plan and each job's specification, by job id.
struct Planned {
    plan: Plan,
    specs: HashMap<String, Spec>,
}

impl Planned {
    /// Plans a job and returns its id.
    fn push(&mut self, spec: Spec, method: &str, deps: &[String]) -> anyhow::Result<String> {
        let exp = spec.dataset.experiment();
        let setting = setting_name(spec.dataset, spec.shift, spec.backbone);
        let mut job = Job::new(exp, &setting, method, Some(spec.seed))
            .config(&spec)
            .weight(spec.steps as u64);
        for d in deps {
            job = job.after(d);
        }
        let id = self.plan.push(job)?;
        self.specs.insert(id.clone(), spec);
        Ok(id)
    }
}

/// The datasets `--only` selects (all of the profile's by default).
fn selected<'a>(cfg: &'a ExperimentConfig, opts: &Options) -> Vec<&'a DatasetSettings> {
    cfg.datasets
        .iter()
        .filter(|d| INFO.runs(opts, d.dataset.experiment(), true))
        .collect()
}

/// Every job of the run, in report order: per cell, the sweep jobs, then the final runs.
fn plan(cfg: &ExperimentConfig, opts: &Options) -> anyhow::Result<Planned> {
    let mut p = Planned {
        plan: Plan::new(INFO.name),
        specs: HashMap::new(),
    };
    for ds in selected(cfg, opts) {
        let n_seeds = opts.seeds.unwrap_or(ds.seeds);
        let seeds: Vec<u64> = (1..=n_seeds).map(seed_r).collect();
        let sweep_seeds: Vec<u64> = (n_seeds + 1..=n_seeds + cfg.sweep_seeds)
            .map(seed_r)
            .collect();
        for &shift in &ds.shifts {
            for &backbone in &ds.backbones {
                let base = Spec {
                    dataset: ds.dataset,
                    shift,
                    backbone,
                    hidden: ds.hidden,
                    layers: ds.layers,
                    steps: ds.steps,
                    lr: ds.lr,
                    dropout: cfg.dropout,
                    warmup_steps: cfg.warmup_steps,
                    eval_every: cfg.eval_every,
                    generator: match ds.dataset {
                        Dataset::Csbm => serde_json::to_value(&cfg.csbm)?,
                        Dataset::ArxivTime | Dataset::ArxivDegree => {
                            serde_json::to_value(&cfg.arxiv)?
                        }
                        _ => serde_json::Value::Null,
                    },
                    data_present: match ds.dataset.registry_name() {
                        Some(name) => opts.data.present(name)?,
                        None => Vec::new(),
                    },
                    label: String::new(),
                    seed: 0,
                    sweep: false,
                    oracle: false,
                    method: MethodSpec::Fixed(Method::Erm),
                };
                plan_cell(&mut p, cfg, &base, &seeds, &sweep_seeds)?;
            }
        }
    }
    Ok(p)
}

/// The jobs of one (dataset, shift, backbone) cell.
fn plan_cell(
    p: &mut Planned,
    cfg: &ExperimentConfig,
    base: &Spec,
    seeds: &[u64],
    sweep_seeds: &[u64],
) -> anyhow::Result<()> {
    // Sweeps: every candidate of a grid with more than one, on the sweep seeds.
    let mut sweep_ids: Vec<Vec<String>> = Vec::new();
    for mg in &cfg.methods {
        let mut ids = Vec::new();
        if mg.candidates.len() > 1 {
            for (ci, m) in mg.candidates.iter().enumerate() {
                for &seed in sweep_seeds {
                    let spec = Spec {
                        label: mg.name.clone(),
                        seed,
                        sweep: true,
                        method: MethodSpec::Fixed(*m),
                        ..base.clone()
                    };
                    let method = format!("{} sweep{ci} {}", mg.name, describe(m));
                    ids.push(p.push(spec, &method, &[])?);
                }
            }
        }
        sweep_ids.push(ids);
    }
    let resolve = |gi: usize, then: Derive| -> (MethodSpec, Vec<String>) {
        let g: &MethodGrid = &cfg.methods[gi];
        if g.candidates.len() > 1 {
            (MethodSpec::Chosen { grid: gi, then }, sweep_ids[gi].clone())
        } else {
            (MethodSpec::Fixed(then.apply(g.candidates[0])), Vec::new())
        }
    };
    // Final runs: each method's chosen setting, then the extra runs (CSBM oracle and
    // large-λ mechanism runs; CBAS as-coded CIA-LRA).
    let mut finals: Vec<(String, MethodSpec, Vec<String>, bool)> = Vec::new();
    for (gi, mg) in cfg.methods.iter().enumerate() {
        let (m, deps) = resolve(gi, Derive::Same);
        finals.push((mg.name.clone(), m, deps, false));
    }
    let lra_grid = cfg
        .methods
        .iter()
        .position(|g| matches!(g.candidates.first(), Some(Method::CiaLra { .. })));
    if base.dataset == Dataset::Csbm {
        let oracle = MethodSpec::Fixed(Method::Erm);
        finals.push(("Oracle (x_inv only)".into(), oracle, Vec::new(), true));
        if let Some(l) = cfg.csbm_mechanism_lambda {
            let cia = MethodSpec::Fixed(Method::Cia { lambda: l });
            finals.push((format!("CIA λ={l}"), cia, Vec::new(), false));
            let then = Derive::Lra { lambda: l };
            let (m, deps) = match lra_grid {
                Some(gi) => resolve(gi, then),
                None => (MethodSpec::Fixed(then.apply(Method::Erm)), Vec::new()),
            };
            finals.push((format!("CIA-LRA λ={l}"), m, deps, false));
        }
    }
    if base.dataset == Dataset::Cbas
        && cfg.as_coded_diagnostic
        && let Some(gi) = lra_grid
    {
        let (m, deps) = resolve(gi, Derive::AsCoded);
        finals.push(("CIA-LRA (as coded, all labels)".into(), m, deps, false));
    }
    for (label, method, deps, oracle) in finals {
        for &seed in seeds {
            let spec = Spec {
                label: label.clone(),
                seed,
                oracle,
                method,
                ..base.clone()
            };
            p.push(spec, &label, &deps)?;
        }
    }
    Ok(())
}

/// A built (dataset, shift): graph, split, CSBM meta and the invariant-only graph.
struct Built {
    graph: NodeGraph,
    split: OodSplit,
    meta: Option<CsbmMeta>,
    oracle: Option<NodeGraph>,
}

/// A value built once on first use, shared between threads.
type Lazy<V> = Arc<OnceLock<V>>;
/// Values built once per key; an error is kept as the note or message it becomes.
type Cache<K, V> = Mutex<HashMap<K, Lazy<Result<Arc<V>, String>>>>;

/// Graphs, splits and tasks, built on first use and shared by the jobs (a merge builds
/// nothing).
struct Data<'a> {
    cfg: &'a ExperimentConfig,
    roots: &'a DataRoots,
    built: Cache<(Dataset, Shift), Built>,
    tasks: Cache<String, Task>,
}

/// The value under `key`, initialised once (other jobs wait for it; the map is not locked
/// while it is built).
fn once<K: std::hash::Hash + Eq, V: Clone>(
    map: &Mutex<HashMap<K, Lazy<V>>>,
    key: K,
    init: impl FnOnce() -> V,
) -> V {
    let cell = map
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .entry(key)
        .or_default()
        .clone();
    cell.get_or_init(init).clone()
}

impl Data<'_> {
    /// The graph and split of a dataset (split seed 0), or the report's note on why not.
    fn built(&self, d: Dataset, shift: Shift) -> Result<Arc<Built>, String> {
        once(&self.built, (d, shift), || {
            let (graph, split, meta) = build(d, shift, 0, self.cfg, self.roots)
                .map_err(|e| format!("{} {}: skipped: {e:#}", d.name(), shift.as_str()))?;
            split
                .validate(graph.n, &graph.y, graph.num_classes)
                .map_err(|e| {
                    format!(
                        "{} {}: skipped, invalid split: {e}",
                        d.name(),
                        shift.as_str()
                    )
                })?;
            let oracle = meta
                .as_ref()
                .map(|m| datasets::csbm::invariant_only(&graph, m));
            Ok(Arc::new(Built {
                graph,
                split,
                meta,
                oracle,
            }))
        })
    }

    /// The task of a (dataset, shift, graph, method), shared by its seeds.
    fn task(&self, spec: &Spec, b: &Built, method: &Method) -> anyhow::Result<Arc<Task>> {
        let key = format!(
            "{:?}|{:?}|{}|{:?}|{}",
            spec.dataset, spec.shift, spec.oracle, method, spec.layers
        );
        once(&self.tasks, key, || {
            let graph = match (&b.oracle, spec.oracle) {
                (Some(og), true) => og.clone(),
                _ => b.graph.clone(),
            };
            Task::new(graph, b.split.clone(), method, spec.layers)
                .map(Arc::new)
                .map_err(|e| e.to_string())
        })
        .map_err(anyhow::Error::msg)
    }
}

/// Builds the graph and split of a dataset (split seed fixed per dataset).
fn build(
    d: Dataset,
    shift: Shift,
    split_seed: u64,
    cfg: &ExperimentConfig,
    roots: &DataRoots,
) -> anyhow::Result<(NodeGraph, OodSplit, Option<CsbmMeta>)> {
    match d {
        Dataset::Cbas => {
            let (g, s) = datasets::good_cbas(shift, split_seed);
            Ok((g, s, None))
        }
        Dataset::Csbm => {
            let v = match shift {
                Shift::Covariate => CsbmVariant::Covariate,
                Shift::Concept => CsbmVariant::Concept,
            };
            let (g, s, m) = datasets::csbm_ood(&cfg.csbm, v, split_seed);
            Ok((g, s, Some(m)))
        }
        Dataset::ArxivTime | Dataset::ArxivDegree => {
            let dom = if d == Dataset::ArxivTime {
                datasets::ArxivDomain::Time
            } else {
                datasets::ArxivDomain::Degree
            };
            let (g, s) = datasets::synthetic_arxiv(&cfg.arxiv, dom, shift, split_seed);
            Ok((g, s, None))
        }
        other => datasets::load_real(other, shift, split_seed, roots).map(|(g, s)| (g, s, None)),
    }
}

/// The candidate of `grid` with the best mean OOD-validation accuracy over the sweep jobs
/// the job depends on (first best on ties, in candidate order).
fn choose(
    ctx: &Ctx<'_, Payload>,
    specs: &HashMap<String, Spec>,
    grid: &MethodGrid,
) -> anyhow::Result<Method> {
    let deps = ctx.deps()?;
    let mut best = (f64::NEG_INFINITY, grid.candidates[0]);
    for m in &grid.candidates {
        let mut v = Vec::new();
        for (job, out) in &deps {
            if specs[&job.id].method != MethodSpec::Fixed(*m) {
                continue;
            }
            match &out.data {
                Payload::Run(r) => v.push(r.record.best.ood_val),
                Payload::Skipped(n) => anyhow::bail!("sweep job `{}` was skipped: {n}", job.id),
            }
        }
        let mean = Summary::of(&v).mean;
        if mean > best.0 {
            best = (mean, *m);
        }
    }
    Ok(best.1)
}

/// Runs one job: builds (or reuses) its data, resolves its method, trains and measures.
fn run_job(
    job: &Job,
    ctx: &Ctx<'_, Payload>,
    specs: &HashMap<String, Spec>,
    data: &Data<'_>,
    opts: &Options,
) -> anyhow::Result<JobOutput<Payload>> {
    let spec = &specs[&job.id];
    let b = match data.built(spec.dataset, spec.shift) {
        Ok(b) => b,
        Err(note) => return Ok(JobOutput::new(Vec::new(), Payload::Skipped(note))),
    };
    let method = match spec.method {
        MethodSpec::Fixed(m) => m,
        MethodSpec::Chosen { grid, then } => {
            then.apply(choose(ctx, specs, &data.cfg.methods[grid])?)
        }
    };
    let task = data.task(spec, &b, &method)?;
    let r = train_and_measure(spec, &task, b.meta.as_ref(), &method, ctx, opts)?;
    let mut row = Row::of(job)
        .metric(OOD_TEST, r.record.best.ood_test)
        .metric("ood_val", r.record.best.ood_val)
        .metric("id_test", r.record.best.id_test);
    if let Some(v) = r.spurious_norm {
        row = row.metric(SPURIOUS_NORM, v);
    }
    if let Some(v) = r.inv_variance {
        row = row.metric(INV_VARIANCE, v);
    }
    Ok(JobOutput::new(vec![row], Payload::Run(Box::new(r))))
}

/// Trains one run and computes its mechanism metrics.
fn train_and_measure(
    spec: &Spec,
    task: &Task,
    meta: Option<&CsbmMeta>,
    method: &Method,
    ctx: &Ctx<'_, Payload>,
    opts: &Options,
) -> anyhow::Result<ResultRow> {
    let tcfg = TrainCfg {
        steps: spec.steps,
        lr: spec.lr,
        warmup_steps: spec.warmup_steps,
        eval_every: spec.eval_every,
    };
    let g = &task.graph;
    let mcfg = GnnConfig {
        in_dim: g.num_features,
        hidden: spec.hidden,
        layers: spec.layers,
        classes: g.num_classes,
        dropout: spec.dropout,
        backbone: spec.backbone,
    };
    let device = &opts.device;
    let on_step = || ctx.progress().inc(1);
    let (mut record, model) = train_select(task, &mcfg, method, &tcfg, spec.seed, device, &on_step)
        .with_context(|| {
            format!(
                "{} {} {}",
                spec.dataset.name(),
                spec.shift.as_str(),
                spec.label
            )
        })?;
    record.method = spec.label.clone();
    let eval = burn::module::Module::valid(&model);
    let (spurious_norm, inv_variance) = match meta {
        Some(m) if spec.backbone == Backbone::Gcn => (
            Some(spurious_norm_ratio(eval.first_weight(), m.spu.clone())),
            Some(invariant_variance(
                &eval,
                g,
                m.inv.clone(),
                &task.split.ood_test,
                device,
            )),
        ),
        _ => (None, None),
    };
    let lra_premise = (spec.dataset == Dataset::CoraWord
        && spec.shift == Shift::Covariate
        && spec.backbone == Backbone::Gcn
        && *method == Method::Erm
        && !spec.sweep)
        .then(|| lra_premise(&eval, task, spec.layers, 3, device));
    Ok(ResultRow {
        dataset: spec.dataset.name().into(),
        shift: spec.shift.as_str().into(),
        backbone: format!("{:?}", spec.backbone),
        method: spec.label.clone(),
        lambda: method.lambda(),
        hops: match method {
            Method::CiaLra { hops, .. } => Some(*hops),
            _ => None,
        },
        seed: spec.seed,
        sweep: spec.sweep,
        record,
        spurious_norm,
        inv_variance,
        lra_premise,
    })
}

/// Runs the profile's experiment and returns the report with every claim decided by code
/// (or, for a shard, what it ran).
///
/// # Errors
/// An unknown `--only` name, a dataset whose split is invalid, or a diverging run. Datasets
/// whose files are missing are skipped with a note (never an error).
pub fn reproduce(opts: &Options) -> anyhow::Result<Outcome> {
    reproduce_with(&ExperimentConfig::for_profile(opts.profile), opts)
}

/// [`reproduce()`] with an explicit configuration (tests, custom studies). The profile
/// named in `opts` is only recorded.
///
/// # Errors
/// As [`reproduce()`].
pub fn reproduce_with(cfg: &ExperimentConfig, opts: &Options) -> anyhow::Result<Outcome> {
    INFO.check_only(opts)?;
    let mut report = Report::new(INFO.name, opts, cfg);
    let planned = plan(cfg, opts)?;
    let data = Data {
        cfg,
        roots: &opts.data,
        built: Mutex::default(),
        tasks: Mutex::default(),
    };
    let state = Runner::new(&planned.plan, opts)
        .parallel(true)
        .run(|job, ctx| run_job(job, ctx, &planned.specs, &data, opts))?;
    let done = match state {
        RunState::Partial(p) => return Ok(Outcome::Partial(p)),
        RunState::Complete(d) => d,
    };
    let max_seeds = selected(cfg, opts)
        .iter()
        .map(|d| opts.seeds.unwrap_or(d.seeds))
        .max()
        .unwrap_or(0);
    report.seeds = (1..=max_seeds).map(seed_r).collect();
    let mut cells: Vec<Cell> = Vec::new();
    for (job, out) in done.iter() {
        match &out.data {
            Payload::Skipped(note) => {
                if !report.notes.contains(note) {
                    report.notes.push(note.clone());
                }
            }
            Payload::Run(r) => {
                report.push_result(r);
                if !r.sweep {
                    add_to_cell(&mut cells, &planned.specs[&job.id], job, r);
                }
            }
        }
    }
    let results = done.results();
    report.push_rows(&results);
    claims::tables(&cells, &results, &mut report)?;
    claims::plot(&cells, &mut report);
    let profile = cfg.profile.as_str();
    let decided = claims::claims(&cells, &results, profile, cfg.csbm_mechanism_lambda)?;
    let ran = |e: &str| INFO.runs(opts, e, true);
    report.claims = INFO.finish_claims(decided, ran)?;
    for n in crate::DECLARED_NOTES {
        report.notes.push((*n).to_owned());
    }
    if opts.profile != repro_core::Profile::Full {
        report.notes.push(format!(
            "profile {profile}: the spec's claims are pre-registered for the full profile; this run checks G1, G4a–c with the same criteria on its smaller setting (fixed λ, no sweep), and leaves G2 (unless a win already refutes it), G3 and G5 to the full profile"
        ));
    }
    Ok(report.finish().into())
}

/// Files a final run under its (dataset, shift, backbone) cell, in plan order.
fn add_to_cell(cells: &mut Vec<Cell>, spec: &Spec, job: &Job, r: &ResultRow) {
    let pos = cells.iter().position(|c| {
        c.dataset == spec.dataset && c.shift == spec.shift && c.backbone == spec.backbone
    });
    let cell = match pos {
        Some(i) => &mut cells[i],
        None => {
            cells.push(Cell {
                dataset: spec.dataset,
                shift: spec.shift,
                backbone: spec.backbone,
                experiment: job.experiment.clone(),
                setting: job.setting.clone(),
                runs: BTreeMap::new(),
                order: Vec::new(),
            });
            cells.last_mut().expect("pushed")
        }
    };
    if !cell.order.contains(&r.method) {
        cell.order.push(r.method.clone());
    }
    cell.runs
        .entry(r.method.clone())
        .or_default()
        .push(r.clone());
}

#[cfg(test)]
mod tests {
    use super::*;
    use repro_core::data::DataRoots;
    use repro_core::report::Profile;
    use repro_core::testing::TempDir;

    /// A Twitch job planned without its files (stored as "skipped") has another fingerprint
    /// than one planned with them, so a rerun with the same `--out` does not reuse the
    /// stale skipped result once the files arrive.
    #[test]
    fn fingerprints_follow_the_presence_of_the_data() {
        let tmp = TempDir::new("graph-ood-present");
        let mirror = tmp.path().join("mirror");
        let mut opts = Options::new(Profile::Full);
        opts.only = vec!["twitch".into()];
        opts.data = DataRoots::new(tmp.path().join("cache"), Some(mirror.clone()));
        let cfg = ExperimentConfig::full();
        let fingerprints = |opts: &Options| {
            let p = plan(&cfg, opts).unwrap().plan;
            (0..p.len())
                .map(|i| p.fingerprint(i).to_owned())
                .collect::<Vec<_>>()
        };
        let missing = fingerprints(&opts);
        assert!(!missing.is_empty());
        assert_eq!(missing, fingerprints(&opts), "planning is deterministic");
        // Every registered Twitch file appears (any bytes: presence is not verification).
        for (path, _) in opts.data.present("twitch").unwrap() {
            let f = mirror.join(&path);
            std::fs::create_dir_all(f.parent().unwrap()).unwrap();
            std::fs::write(f, b"x").unwrap();
        }
        let present = fingerprints(&opts);
        assert_eq!(present.len(), missing.len());
        assert!(present.iter().zip(&missing).all(|(a, b)| a != b));
        // Synthetic datasets do not depend on the roots.
        opts.only = vec!["cbas".into()];
        let cbas = fingerprints(&opts);
        opts.data = DataRoots::new(tmp.path().join("elsewhere"), None);
        assert_eq!(cbas, fingerprints(&opts));
    }
}

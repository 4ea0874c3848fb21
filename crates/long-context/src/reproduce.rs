//! `reproduce`: the model family for LC-0..LC-2 and the CE/LongCE comparison for LC-3, as a
//! plan of jobs: per family seed one job training runs A, B and S1 and evaluating the
//! family; per LongCE seed one job fine-tuning S1 with CE and LongCE (it reads S1's weights
//! from that seed's family job, or trains S1 itself when the seed has no family); and the
//! Tiny Shakespeare run.

use burn::module::Module;
use burn::store::ModuleRecord;
use burn::tensor::{Bytes, Device};
use repro_core::device::{init_params_now, seed};
use repro_core::experiment::{Ctx, Done, Job, JobOutput, Outcome, Plan, Row, RunState, Runner};
use repro_core::lm::ContextWindow;
use repro_core::metrics::{pearson, spearman};
use repro_core::nn::decoder::{AttnMask, Decoder};
use repro_core::report::{Claim, Plot, Table, Verdict};
use repro_core::stats::{Summary, paired_difference};
use repro_core::train::concurrently;
use repro_core::{Options, Profile, Report};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::INFO;
use crate::config::ExperimentConfig;
use crate::eval::{
    KeyFidelity, MemberEval, bucket_prompts, buckets, evaluate_member, evaluator_keys,
    key_fidelity, retrieval_scores,
};
use crate::kvdocs::{FillerChain, KvDocConfig, generate};
use crate::shakespeare::{self, TextConfig, TextReport};
use crate::train::{Hooks, Objective, RunSpec, Trained, decoder_config, train};

/// Steps between mid-run checkpoints of a training run (with an output folder).
const CHECKPOINT_EVERY: usize = 250;

/// The chain of filler text shared by every run of a seed.
fn chain_for(seed: u64) -> FillerChain {
    FillerChain::new(1000 + seed)
}

fn fresh_model(cfg: &ExperimentConfig, device: &Device, s: u64) -> Decoder {
    seed(device, s);
    init_params_now(decoder_config(cfg).init(device))
}

/// A LongCE seed's `(stage-2 step, CE far accuracy, LongCE far accuracy)` per checkpoint.
pub type Stage2 = Vec<(usize, f64, f64)>;

/// What a job leaves for the report.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum Payload {
    /// A family seed's runs and evaluations.
    Family(Family),
    /// A LongCE seed's `(stage-2 step, CE far accuracy, LongCE far accuracy)`.
    LongCe(Stage2),
    /// The Tiny Shakespeare run.
    Text(TextReport),
}

/// A family seed's runs A, B and S1, evaluated.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Family {
    /// (run, mean loss of the first 10% of steps, of the last 10%).
    losses: Vec<(String, f64, f64)>,
    members: Vec<MemberEval>,
    fidelity: Vec<(String, KeyFidelity)>,
    /// The trained S1 (burnpack bytes), which the seed's LongCE job fine-tunes.
    s1: Vec<u8>,
}

fn to_bytes(model: &Decoder) -> anyhow::Result<Vec<u8>> {
    let bytes = model
        .clone()
        .into_record()
        .into_bytes()
        .map_err(|e| anyhow::anyhow!("cannot encode S1: {e:?}"))?;
    Ok(bytes.to_vec())
}

fn from_bytes(template: Decoder, bytes: &[u8]) -> anyhow::Result<Decoder> {
    let record = ModuleRecord::from_bytes(Bytes::from_bytes_vec(bytes.to_vec()))
        .map_err(|e| anyhow::anyhow!("cannot decode S1: {e:?}"))?;
    template
        .try_load_record(record)
        .map_err(|e| anyhow::anyhow!("cannot load S1: {e:?}"))
}

fn base_spec(
    cfg: &ExperimentConfig,
    steps: usize,
    mask: AttnMask,
    p_far: f64,
    data_seed: u64,
    snapshots: Vec<usize>,
) -> RunSpec {
    RunSpec {
        steps,
        lr: cfg.train.lr,
        warmup: cfg.train.warmup,
        final_frac: 0.1,
        mask,
        p_far,
        objective: Objective::Ce,
        data_seed,
        snapshots,
    }
}

fn spec_s1(cfg: &ExperimentConfig, s: u64) -> RunSpec {
    base_spec(
        cfg,
        cfg.train.steps_s1,
        AttnMask::Causal,
        0.0,
        10 * s + 3,
        vec![cfg.train.steps_s1],
    )
}

fn band_b(cfg: &ExperimentConfig) -> AttnMask {
    AttnMask::Banded {
        window: (cfg.docs.short / 2).max(2),
    }
}

/// Trains runs A, B and S1 of seed `s`: models are initialised (seeded) first; then A runs
/// beside B followed by S1. Training draws no randomness from the device, so the result
/// equals sequential runs.
fn train_family(
    cfg: &ExperimentConfig,
    s: u64,
    device: &Device,
    hooks: &Hooks<'_>,
) -> anyhow::Result<(Trained, Trained, Trained)> {
    let chain = chain_for(s);
    let quarter = |n: usize| vec![(n / 4).max(1), (n / 2).max(1), n];
    let (model_a, model_b, model_s1) = (
        fresh_model(cfg, device, s),
        fresh_model(cfg, device, s + 500),
        fresh_model(cfg, device, s + 900),
    );
    let spec_a = base_spec(
        cfg,
        cfg.train.steps_a,
        AttnMask::Causal,
        cfg.docs.p_far,
        10 * s + 1,
        quarter(cfg.train.steps_a),
    );
    let spec_b = base_spec(
        cfg,
        cfg.train.steps_b,
        band_b(cfg),
        cfg.docs.p_far,
        10 * s + 2,
        vec![cfg.train.steps_b],
    );
    let spec_s1 = spec_s1(cfg, s);
    let (a, rest) = concurrently(
        || train(model_a, device, cfg, &chain, &spec_a, &hooks.sub("A")),
        || -> anyhow::Result<_> {
            let b = train(model_b, device, cfg, &chain, &spec_b, &hooks.sub("B"))?;
            let s1 = train(model_s1, device, cfg, &chain, &spec_s1, &hooks.sub("S1"))?;
            Ok((b, s1))
        },
    );
    let (a, (b, s1)) = (a?, rest?);
    Ok((a, b, s1))
}

fn run_family(
    cfg: &ExperimentConfig,
    s: u64,
    device: &Device,
    hooks: &Hooks<'_>,
) -> anyhow::Result<Family> {
    let (a, b, s1) = train_family(cfg, s, device, hooks)?;
    let chain = chain_for(s);
    let plain = device.clone().without_autodiff();
    let eval_cfg = KvDocConfig {
        len: cfg.docs.len,
        short: cfg.docs.short,
        pairs: cfg.docs.eval_pairs,
        p_far: cfg.docs.p_far,
    };
    let docs = generate(&eval_cfg, &chain, cfg.eval.eval_docs, 7_000 + s)?;
    let prompts = bucket_prompts(cfg, &chain, 9_000 + s)?;
    let evaluator = &a.snapshots[2].1;
    let keys = evaluator_keys(
        evaluator,
        &docs,
        ContextWindow::Truncated(cfg.docs.short),
        cfg.eval.alpha,
        cfg.eval.beta,
        &plain,
    );
    let chunked = evaluator_keys(
        evaluator,
        &docs,
        ContextWindow::Chunked {
            trunc_len: cfg.docs.short,
            stride: (cfg.docs.short / 4).max(1),
        },
        cfg.eval.alpha,
        cfg.eval.beta,
        &plain,
    );
    let band_s = AttnMask::Banded {
        window: cfg.docs.short,
    };
    let band_b = band_b(cfg);
    let mut family: Vec<(String, &Decoder, &AttnMask)> = Vec::new();
    for (k, frac) in ["1/4", "1/2", "1"].iter().enumerate() {
        let m = &a.snapshots[k].1;
        family.push((format!("A{frac} causal"), m, &AttnMask::Causal));
        family.push((format!("A{frac} band s"), m, &band_s));
    }
    family.push(("B band s/2".into(), &b.snapshots[0].1, &band_b));
    family.push(("S1 near-only".into(), &s1.snapshots[0].1, &AttnMask::Causal));
    let members = family
        .iter()
        .map(|(name, m, mask)| evaluate_member(name, m, mask, &docs, &keys, cfg, &prompts, &plain))
        .collect();
    let fidelity = vec![
        (
            "evaluator, Truncated(s)".to_owned(),
            key_fidelity(&keys, &docs),
        ),
        (
            "evaluator, Chunked(s, s/4)".to_owned(),
            key_fidelity(&chunked, &docs),
        ),
    ];
    let ends = |name: &str, l: &[f64]| {
        let k = (l.len() / 10).max(1);
        (
            name.to_owned(),
            l[..k].iter().sum::<f64>() / k as f64,
            l[l.len() - k..].iter().sum::<f64>() / k as f64,
        )
    };
    let losses = vec![
        ends("A", &a.losses),
        ends("B", &b.losses),
        ends("S1", &s1.losses),
    ];
    Ok(Family {
        losses,
        members,
        fidelity,
        s1: to_bytes(&s1.model)?,
    })
}

/// Far accuracy of CE and LongCE arms at stage-2 checkpoints, from a stage-1 model.
fn run_longce(
    cfg: &ExperimentConfig,
    s: u64,
    s1: &Decoder,
    device: &Device,
    hooks: &Hooks<'_>,
) -> anyhow::Result<Stage2> {
    let chain = chain_for(s);
    let plain = device.clone().without_autodiff();
    let prompts = bucket_prompts(cfg, &chain, 9_000 + s)?;
    let checkpoints = vec![
        (cfg.longce.steps / 4).max(1),
        (cfg.longce.steps / 2).max(1),
        cfg.longce.steps,
    ];
    let arm = |objective, name: &str| -> anyhow::Result<Vec<f64>> {
        let spec = RunSpec {
            steps: cfg.longce.steps,
            lr: cfg.longce.lr,
            warmup: (cfg.longce.steps / 10).max(1),
            final_frac: 0.0,
            mask: AttnMask::Causal,
            p_far: cfg.docs.p_far,
            objective,
            data_seed: 10 * s + 4, // the same data order for both arms
            snapshots: checkpoints.clone(),
        };
        let run = train(s1.clone(), device, cfg, &chain, &spec, &hooks.sub(name))?;
        Ok(run
            .snapshots
            .iter()
            .map(|(_, m)| retrieval_scores(m, &AttnMask::Causal, cfg, &prompts, &plain).2)
            .collect())
    };
    // Both arms side by side (no shared randomness: same result as one after the other).
    let (ce, lce) = concurrently(
        || arm(Objective::Ce, "CE"),
        || {
            arm(
                Objective::LongCe {
                    gamma: cfg.longce.gamma,
                },
                "LongCE",
            )
        },
    );
    let far = [ce?, lce?];
    Ok(checkpoints
        .iter()
        .enumerate()
        .map(|(k, &c)| (c, far[0][k], far[1][k]))
        .collect())
}

const FAMILY: (&str, &str) = ("family", "A+B+S1");
const LONGCE: (&str, &str) = ("longce", "CE+LongCE");

/// The setting of the typed rows of stage-2 step `step`.
fn stage2_setting(step: usize) -> String {
    format!("stage2 step {step}")
}

/// The seeds of a run: family seeds, LongCE seeds, and their sorted union.
struct Seeds {
    family: Vec<u64>,
    longce: Vec<u64>,
    all: Vec<u64>,
}

impl Seeds {
    fn of(opts: &Options, cfg: &ExperimentConfig) -> Self {
        let family = opts.seed_list(cfg.seeds.family);
        let longce = opts.seed_list(cfg.seeds.longce);
        let mut all: Vec<u64> = family.iter().chain(&longce).copied().collect();
        all.sort_unstable();
        all.dedup();
        Self {
            family,
            longce,
            all,
        }
    }
}

/// Every job, in the order today's loop runs them: per seed its family, then its LongCE
/// comparison (after the family, whose S1 it fine-tunes); then Tiny Shakespeare.
fn plan(
    cfg: &ExperimentConfig,
    text_cfg: &TextConfig,
    seeds: Option<&Seeds>,
    text: bool,
) -> anyhow::Result<Plan> {
    let mut plan = Plan::new(INFO.name);
    for &s in seeds.map_or(&[][..], |x| &x.all) {
        let seeds = seeds.expect("seeds given");
        let in_family = seeds.family.contains(&s);
        let family_id = if in_family {
            Some(
                plan.push(
                    Job::new("kvdocs", FAMILY.0, FAMILY.1, Some(s))
                        .config(cfg)
                        .weight(
                            (cfg.train.steps_a + cfg.train.steps_b + cfg.train.steps_s1) as u64,
                        ),
                )?,
            )
        } else {
            None
        };
        if seeds.longce.contains(&s) {
            let own_s1 = if in_family { 0 } else { cfg.train.steps_s1 };
            let mut job = Job::new("kvdocs", LONGCE.0, LONGCE.1, Some(s))
                .config(cfg)
                .weight((own_s1 + 2 * cfg.longce.steps) as u64);
            if let Some(f) = &family_id {
                job = job.after(f);
            }
            plan.push(job)?;
        }
    }
    if text {
        plan.push(
            Job::new("shakespeare", "tinyshakespeare", "char-decoder", Some(0))
                .config(text_cfg)
                .weight(text_cfg.steps as u64),
        )?;
    }
    Ok(plan)
}

/// Runs one job of the plan.
fn run_job(
    job: &Job,
    ctx: &Ctx<'_, Payload>,
    opts: &Options,
    cfg: &ExperimentConfig,
    text_cfg: &TextConfig,
) -> anyhow::Result<JobOutput<Payload>> {
    let device = opts.device.clone().autodiff();
    let tick = |n: u64| ctx.progress().inc(n);
    let hooks = Hooks {
        progress: &tick,
        checkpoint: ctx.checkpoint(),
        every: CHECKPOINT_EVERY,
    };
    let s = job.seed.unwrap_or(0);
    match (job.experiment.as_str(), job.setting.as_str()) {
        ("kvdocs", "family") => {
            let f = run_family(cfg, s, &device, &hooks)?;
            let rows = f
                .members
                .iter()
                .map(|m| {
                    Row::of(job)
                        .with_method(&m.name)
                        .metric("ppl", m.ppl)
                        .metric("long_ppl", m.long_ppl.unwrap_or(f64::NAN))
                        .metric("score", m.score)
                        .metric("far_acc", m.far_acc)
                })
                .collect();
            Ok(JobOutput::new(rows, Payload::Family(f)))
        }
        ("kvdocs", "longce") => {
            let s1 = match job.deps.first() {
                Some(dep) => match &ctx.dep(dep)?.data {
                    Payload::Family(f) => from_bytes(decoder_config(cfg).init(&device), &f.s1)?,
                    _ => anyhow::bail!("job `{dep}` is not a family job"),
                },
                None => {
                    let spec = RunSpec {
                        snapshots: vec![],
                        ..spec_s1(cfg, s)
                    };
                    let model = fresh_model(cfg, &device, s + 900);
                    train(model, &device, cfg, &chain_for(s), &spec, &hooks.sub("S1"))?.model
                }
            };
            let arms = run_longce(cfg, s, &s1, &device, &hooks)?;
            let rows = arms
                .iter()
                .flat_map(|&(step, ce, lce)| {
                    let setting = stage2_setting(step);
                    [
                        Row::new("kvdocs", &setting, "CE", Some(s)).metric("far_acc", ce),
                        Row::new("kvdocs", &setting, "LongCE", Some(s)).metric("far_acc", lce),
                    ]
                })
                .collect();
            Ok(JobOutput::new(rows, Payload::LongCe(arms)))
        }
        ("shakespeare", _) => {
            let r = shakespeare::run(text_cfg, &opts.data, &device, s, &hooks)?;
            Ok(JobOutput::new(vec![], Payload::Text(r)))
        }
        _ => anyhow::bail!("no such job `{}`", job.id),
    }
}

/// Runs the experiments of `opts.profile` (or those chosen with `--only`) and checks the
/// claims. By default every profile runs `kvdocs`, and `full` also runs `shakespeare`.
///
/// Returns [`Outcome::Report`] once every job of the plan has a result, or
/// [`Outcome::Partial`] for a shard (or a run still missing jobs).
pub fn reproduce(opts: &Options) -> anyhow::Result<Outcome> {
    INFO.check_only(opts)?;
    let cfg = ExperimentConfig::for_profile(opts.profile);
    let text_cfg = TextConfig::for_profile(opts.profile);
    let ran = |e: &str| INFO.runs(opts, e, e == "kvdocs" || opts.profile == Profile::Full);
    let seeds = ran("kvdocs").then(|| Seeds::of(opts, &cfg));
    let plan = plan(&cfg, &text_cfg, seeds.as_ref(), ran("shakespeare"))?;
    let mut report = Report::new(
        "long-context",
        opts,
        json!({"kvdocs": &cfg, "shakespeare": &text_cfg, "only": &opts.only}),
    );
    let done =
        match Runner::new(&plan, opts).run(|job, ctx| run_job(job, ctx, opts, &cfg, &text_cfg))? {
            RunState::Partial(p) => return Ok(Outcome::Partial(p)),
            RunState::Complete(done) => done,
        };
    report.push_rows(&done.results());
    let mut claims = Vec::new();
    if let Some(seeds) = &seeds {
        claims = kv_report(&cfg, seeds, &done, &mut report)?;
    }
    for (_, out) in done.experiment("shakespeare") {
        if let Payload::Text(r) = &out.data {
            push_text_report(&mut report, &text_cfg, r);
        }
    }
    report.claims = INFO.finish_claims(claims, ran)?;
    Ok(report.finish().into())
}

fn push_text_report(report: &mut Report, cfg: &TextConfig, r: &TextReport) {
    report.push_result(json!({"kind": "shakespeare", "report": r}));
    let mut t = Table::new(
        "E5 (LC-4, report only): Tiny Shakespeare, character decoder; evaluator = final checkpoint",
        &["checkpoint (step)", "PPL", "LongPPL"],
    );
    for m in &r.members {
        t.row(vec![
            m.step.to_string(),
            format!("{:.3}", m.ppl),
            m.long_ppl.map_or("–".into(), |v| format!("{v:.3}")),
        ]);
    }
    report.tables.push(t);
    report.notes.push(format!(
        "E5 (LC-4): key characters are {:.2}% of the {} validation targets with a short pass (s = {}); \
         {:.1}% of them are copy-explainable ({}-gram in the long but not the short context), \
         against {:.1}% of the other characters. Examples: {}",
        100.0 * r.key_fraction,
        r.n_scored,
        cfg.short,
        100.0 * r.copy_share_key,
        shakespeare::COPY_NGRAM,
        100.0 * r.copy_share_other,
        r.examples.join(" | ").replace('\n', "⏎")
    ));
}

/// The family and LongCE outputs of a finished run, by seed in plan order.
struct KvOutputs<'a> {
    families: Vec<(u64, &'a Family)>,
    longce: Vec<(u64, &'a Stage2)>,
}

impl<'a> KvOutputs<'a> {
    fn of(done: &'a Done<Payload>) -> Self {
        let mut out = Self {
            families: Vec::new(),
            longce: Vec::new(),
        };
        for (job, o) in done.experiment("kvdocs") {
            let s = job.seed.unwrap_or(0);
            match &o.data {
                Payload::Family(f) => out.families.push((s, f)),
                Payload::LongCe(r) => out.longce.push((s, r)),
                Payload::Text(_) => {}
            }
        }
        out
    }
}

/// LC-0..LC-3: results, tables, plots and claims of the key-value family and the LongCE
/// comparison.
fn kv_report(
    cfg: &ExperimentConfig,
    seeds: &Seeds,
    done: &Done<Payload>,
    report: &mut Report,
) -> anyhow::Result<Vec<Claim>> {
    report.seeds = seeds.all.clone();
    let kv = KvOutputs::of(done);
    let results = done.results();
    for (s, f) in &kv.families {
        for (run, first, last) in &f.losses {
            report.push_result(json!({"kind": "train_loss", "seed": s, "run": run, "first_10pct": first, "last_10pct": last}));
        }
    }
    push_family_tables(cfg, &kv, report);
    let mut claims = Vec::new();
    // LC-0: gate on the evaluator's far accuracy (mean over family seeds).
    let evaluator_far = results.values("kvdocs", FAMILY.0, "A1 causal", "far_acc")?;
    let gate = Summary::of(&evaluator_far).mean;
    claims.push(
        INFO.claim("LC-0")
            .measure("evaluator_far_acc", &evaluator_far)
            .decide(gate >= 0.5),
    );
    let gate_ok = gate >= 0.5;
    let gated = |c: Claim, pass: bool| {
        if gate_ok {
            c.decide(pass)
        } else {
            c.measure(
                "note",
                "not evaluable: the evaluator has no long-context skill (LC-0 failed)",
            )
            .with_verdict(Verdict::Inconclusive)
        }
    };
    // LC-1 on the Truncated(s) key set, every family seed.
    let fid: Vec<KeyFidelity> = kv.families.iter().map(|(_, f)| f.fidelity[0].1).collect();
    let lc1_pass = fid.iter().all(|f| {
        f.recall_strict >= 0.6 && f.precision_broad >= 0.8 && f.near_values_flagged <= 0.05
    });
    claims.push(gated(
        INFO.claim("LC-1")
            .measure(
                "recall_strict",
                fid.iter().map(|f| f.recall_strict).collect::<Vec<_>>(),
            )
            .measure(
                "precision_broad",
                fid.iter().map(|f| f.precision_broad).collect::<Vec<_>>(),
            )
            .measure(
                "near_values_flagged",
                fid.iter()
                    .map(|f| f.near_values_flagged)
                    .collect::<Vec<_>>(),
            ),
        lc1_pass,
    ));
    let (lc2, lc2_pass) = lc2(&kv, report);
    claims.push(gated(lc2, lc2_pass));
    claims.push(lc3(&kv, &results, report)?);
    report.notes.push("Synthetic key-value documents replace GovReport/PG-19, and models trained here replace 7B-72B LLMs: see docs/papers/long-context.md.".into());
    Ok(claims)
}

/// The member and key-fidelity results and tables.
fn push_family_tables(cfg: &ExperimentConfig, kv: &KvOutputs<'_>, report: &mut Report) {
    let bucket_names: Vec<String> = buckets(cfg).into_iter().map(|b| b.0).collect();
    let mut fam_table = Table::new(
        "Model family: PPL, LongPPL and retrieval",
        &[
            "seed",
            "member",
            "PPL",
            "LongPPL",
            "LongPPL (oracle)",
            "filler NLL",
            "score",
            "far acc",
        ],
    );
    let fmt = |x: Option<f64>| x.map_or("–".into(), |v| format!("{v:.3}"));
    for (s, f) in &kv.families {
        for m in &f.members {
            report.push_result(
                json!({"kind": "member", "seed": s, "eval": m, "buckets": bucket_names}),
            );
            fam_table.row(vec![
                s.to_string(),
                m.name.clone(),
                format!("{:.3}", m.ppl),
                fmt(m.long_ppl),
                fmt(m.long_ppl_oracle),
                format!("{:.3}", m.filler_nll),
                format!("{:.3}", m.score),
                format!("{:.3}", m.far_acc),
            ]);
        }
        for (w, fid) in &f.fidelity {
            report.push_result(
                json!({"kind": "key_fidelity", "seed": s, "window": w, "fidelity": fid}),
            );
        }
    }
    report.tables.push(fam_table);
    let mut fid_table = Table::new(
        "Key-token fidelity (evaluator = A1, causal)",
        &[
            "seed",
            "short context",
            "recall (strict)",
            "precision (broad)",
            "near values flagged",
            "key fraction",
        ],
    );
    for (s, f) in &kv.families {
        for (w, fid) in &f.fidelity {
            fid_table.row(vec![
                s.to_string(),
                w.clone(),
                format!("{:.3}", fid.recall_strict),
                format!("{:.3}", fid.precision_broad),
                format!("{:.3}", fid.near_values_flagged),
                format!("{:.4}", fid.key_fraction),
            ]);
        }
    }
    report.tables.push(fid_table);
}

/// LC-2: correlations across the family, per seed and on the seed mean (the claim before
/// the gate, and whether it passes).
fn lc2(kv: &KvOutputs<'_>, report: &mut Report) -> (Claim, bool) {
    let mut corr = Vec::new();
    let mut scatter_long = Vec::new();
    let mut scatter_ppl = Vec::new();
    let mut names = Vec::new();
    for (_, f) in &kv.families {
        let usable: Vec<&MemberEval> = f.members.iter().filter(|m| m.long_ppl.is_some()).collect();
        let score: Vec<f64> = usable.iter().map(|m| m.score).collect();
        let lp: Vec<f64> = usable
            .iter()
            .map(|m| m.long_ppl.unwrap_or(f64::NAN))
            .collect();
        let pp: Vec<f64> = usable.iter().map(|m| m.ppl).collect();
        scatter_long.extend(lp.iter().zip(&score).map(|(x, y)| (*x, *y)));
        scatter_ppl.extend(pp.iter().zip(&score).map(|(x, y)| (*x, *y)));
        names.extend(usable.iter().map(|m| m.name.clone()));
        corr.push((
            pearson(&lp, &score),
            pearson(&pp, &score),
            spearman(&lp, &score),
            spearman(&pp, &score),
        ));
    }
    let holds = |(r_long, r_ppl, _, _): &(f64, f64, f64, f64)| {
        *r_long <= -0.8 && (r_ppl.abs() <= 0.5 || r_ppl.abs() <= r_long.abs() - 0.3)
    };
    let n_hold = corr.iter().filter(|c| holds(c)).count();
    let pass = if corr.len() >= 3 {
        n_hold >= 2 && holds(&mean4(&corr))
    } else {
        n_hold == corr.len() && !corr.is_empty()
    };
    let mut claim = INFO
        .claim("LC-2")
        .measure(
            "pearson_longppl_score",
            corr.iter().map(|c| c.0).collect::<Vec<_>>(),
        )
        .measure(
            "pearson_ppl_score",
            corr.iter().map(|c| c.1).collect::<Vec<_>>(),
        )
        .measure(
            "spearman_longppl_score",
            corr.iter().map(|c| c.2).collect::<Vec<_>>(),
        )
        .measure(
            "spearman_ppl_score",
            corr.iter().map(|c| c.3).collect::<Vec<_>>(),
        );
    if corr.len() < 3 {
        claim = claim.measure(
            "note",
            "provisional: fewer than 3 family seeds (the full profile decides)",
        );
    }
    report.plots.push(
        Plot::scatter(
            "longppl_vs_score",
            "Family members: perplexities vs retrieval score",
            "perplexity",
            "retrieval score",
        )
        .series("LongPPL", scatter_long)
        .point_labels(names.clone())
        .series("PPL", scatter_ppl)
        .point_labels(names),
    );
    (claim, pass)
}

/// LC-3: LongCE vs CE at three checkpoints, paired by seed: seed mean and across-seed
/// spread of the difference.
fn lc3(
    kv: &KvOutputs<'_>,
    results: &repro_core::experiment::Results,
    report: &mut Report,
) -> anyhow::Result<Claim> {
    let mut lce_table = Table::new(
        "Stage 2: far retrieval accuracy, CE vs LongCE (same data order)",
        &[
            "seed",
            "step",
            "CE far acc",
            "LongCE far acc",
            "LongCE - CE",
        ],
    );
    for (s, rows) in &kv.longce {
        for (step, ce, lce) in rows.iter() {
            report.push_result(json!({"kind": "longce", "seed": s, "step": step, "ce_far_acc": ce, "longce_far_acc": lce}));
            lce_table.row(vec![
                s.to_string(),
                step.to_string(),
                format!("{ce:.3}"),
                format!("{lce:.3}"),
                format!("{:+.3}", lce - ce),
            ]);
        }
    }
    report.tables.push(lce_table);
    let steps: Vec<usize> = kv
        .longce
        .first()
        .map_or(Vec::new(), |(_, r)| r.iter().map(|c| c.0).collect());
    let mut diffs_mean = Vec::new();
    let mut diffs_std = Vec::new();
    let mut curves = (Vec::new(), Vec::new());
    let mut spread = (Vec::new(), Vec::new());
    let mut end = paired_difference(&[], &[]);
    for &step in &steps {
        let p = results.paired("kvdocs", &stage2_setting(step), "LongCE", "CE", "far_acc")?;
        let d = p.difference();
        diffs_mean.push(d.mean);
        diffs_std.push(if d.std.is_nan() { 0.0 } else { d.std });
        let (ce, lce) = (Summary::of(&p.b), Summary::of(&p.a));
        curves.0.push((step as f64, ce.mean));
        curves.1.push((step as f64, lce.mean));
        spread.0.push(ce.std);
        spread.1.push(lce.std);
        end = d;
    }
    let wins = diffs_mean
        .iter()
        .zip(&diffs_std)
        .filter(|(m, s)| **m > 0.0 && **m > **s)
        .count();
    report.plots.push(
        Plot::line(
            "longce_vs_ce",
            "Stage 2: far retrieval accuracy (mean ± std over seeds)",
            "stage-2 step",
            "far accuracy",
        )
        .series_with_err("CE", curves.0, spread.0)
        .series_with_err("LongCE", curves.1, spread.1),
    );
    Ok(INFO
        .claim("LC-3")
        .measure("diff_mean_per_checkpoint", &diffs_mean)
        .measure("diff_std_per_checkpoint", &diffs_std)
        .measure("paired_ci_at_end", [end.ci_low, end.ci_high])
        .measure("seeds", kv.longce.len())
        .decide(wins >= 2))
}

fn mean4(v: &[(f64, f64, f64, f64)]) -> (f64, f64, f64, f64) {
    let n = v.len().max(1) as f64;
    v.iter().fold((0.0, 0.0, 0.0, 0.0), |a, c| {
        (a.0 + c.0 / n, a.1 + c.1 / n, a.2 + c.2 / n, a.3 + c.3 / n)
    })
}

//! `reproduce`: the model family for LC-0..LC-2 and the CE/LongCE comparison for LC-3.

use burn::tensor::Device;
use repro_core::data::DataRoots;
use repro_core::device::{init_params_now, seed};
use repro_core::lm::ContextWindow;
use repro_core::metrics::{pearson, spearman};
use repro_core::nn::decoder::{AttnMask, Decoder};
use repro_core::report::{Claim, Plot, Table, Verdict};
use repro_core::stats::{Summary, paired_difference};
use repro_core::train::{concurrently, progress_bar};
use repro_core::{Options, Profile, Report};
use serde_json::json;

use crate::config::ExperimentConfig;
use crate::eval::{
    KeyFidelity, MemberEval, bucket_prompts, buckets, evaluate_member, evaluator_keys,
    key_fidelity, retrieval_scores,
};
use crate::kvdocs::{FillerChain, KvDocConfig, generate};
use crate::shakespeare::{self, TextConfig, TextReport};
use crate::train::{Objective, RunSpec, Trained, decoder_config, train};

/// Claim ids and statements, in the paper's order.
pub const CLAIMS: &[(&str, &str)] = &[
    (
        "LC-0",
        "gate: the evaluator (run A, full attention) retrieves far records (far accuracy >= 0.5)",
    ),
    (
        "LC-1",
        "LongPPL's key tokens are the tokens that need long context (recall, precision, few near values)",
    ),
    (
        "LC-2",
        "LongPPL correlates strongly and negatively with long-context ability while PPL does not",
    ),
    (
        "LC-3",
        "LongCE fine-tuning improves long-context ability over CE at equal steps",
    ),
];

/// The chain of filler text shared by every run of a seed.
fn chain_for(seed: u64) -> FillerChain {
    FillerChain::new(1000 + seed)
}

fn fresh_model(cfg: &ExperimentConfig, device: &Device, s: u64) -> Decoder {
    seed(device, s);
    init_params_now(decoder_config(cfg).init(device))
}

struct Family {
    /// (run, mean loss of the first 10% of steps, of the last 10%).
    losses: Vec<(String, f64, f64)>,
    members: Vec<MemberEval>,
    fidelity: Vec<(String, KeyFidelity)>,
    s1: Trained,
}

fn run_family(
    cfg: &ExperimentConfig,
    s: u64,
    device: &Device,
    bar: &indicatif::ProgressBar,
) -> anyhow::Result<Family> {
    let chain = chain_for(s);
    let plain = device.clone().without_autodiff();
    let quarter = |n: usize| vec![(n / 4).max(1), (n / 2).max(1), n];
    let run = |steps, mask, p_far, data_seed, snapshots| RunSpec {
        steps,
        lr: cfg.lr,
        warmup: cfg.warmup,
        final_frac: 0.1,
        mask,
        p_far,
        objective: Objective::Ce,
        data_seed,
        snapshots,
    };
    let band_b = AttnMask::Banded {
        window: (cfg.short / 2).max(2),
    };
    // Models are initialised (seeded) first; then A runs beside B followed by S1. Training
    // draws no randomness from the device, so the result equals sequential runs.
    let (model_a, model_b, model_s1) = (
        fresh_model(cfg, device, s),
        fresh_model(cfg, device, s + 500),
        fresh_model(cfg, device, s + 900),
    );
    let spec_a = run(
        cfg.steps_a,
        AttnMask::Causal,
        cfg.p_far,
        10 * s + 1,
        quarter(cfg.steps_a),
    );
    let spec_b = run(
        cfg.steps_b,
        band_b.clone(),
        cfg.p_far,
        10 * s + 2,
        vec![cfg.steps_b],
    );
    let spec_s1 = run(
        cfg.steps_s1,
        AttnMask::Causal,
        0.0,
        10 * s + 3,
        vec![cfg.steps_s1],
    );
    let (a, rest) = concurrently(
        || train(model_a, device, cfg, &chain, &spec_a, bar),
        || -> anyhow::Result<_> {
            let b = train(model_b, device, cfg, &chain, &spec_b, bar)?;
            let s1 = train(model_s1, device, cfg, &chain, &spec_s1, bar)?;
            Ok((b, s1))
        },
    );
    let (a, (b, s1)) = (a?, rest?);

    let eval_cfg = KvDocConfig {
        len: cfg.len,
        short: cfg.short,
        pairs: cfg.eval_pairs,
        p_far: cfg.p_far,
    };
    let docs = generate(&eval_cfg, &chain, cfg.eval_docs, 7_000 + s)?;
    let prompts = bucket_prompts(cfg, &chain, 9_000 + s)?;
    let evaluator = &a.snapshots[2].1;
    let keys = evaluator_keys(
        evaluator,
        &docs,
        ContextWindow::Truncated(cfg.short),
        cfg.alpha,
        cfg.beta,
        &plain,
    );
    let chunked = evaluator_keys(
        evaluator,
        &docs,
        ContextWindow::Chunked {
            trunc_len: cfg.short,
            stride: (cfg.short / 4).max(1),
        },
        cfg.alpha,
        cfg.beta,
        &plain,
    );
    let band_s = AttnMask::Banded { window: cfg.short };
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
        s1,
    })
}

/// Far accuracy of CE and LongCE arms at stage-2 checkpoints, from a stage-1 model.
fn run_longce(
    cfg: &ExperimentConfig,
    s: u64,
    s1: &Trained,
    device: &Device,
    bar: &indicatif::ProgressBar,
) -> anyhow::Result<Vec<(usize, f64, f64)>> {
    let chain = chain_for(s);
    let plain = device.clone().without_autodiff();
    let prompts = bucket_prompts(cfg, &chain, 9_000 + s)?;
    let checkpoints = vec![
        (cfg.steps_s2 / 4).max(1),
        (cfg.steps_s2 / 2).max(1),
        cfg.steps_s2,
    ];
    let arm = |objective| -> anyhow::Result<Vec<f64>> {
        let spec = RunSpec {
            steps: cfg.steps_s2,
            lr: cfg.lr_s2,
            warmup: (cfg.steps_s2 / 10).max(1),
            final_frac: 0.0,
            mask: AttnMask::Causal,
            p_far: cfg.p_far,
            objective,
            data_seed: 10 * s + 4, // the same data order for both arms
            snapshots: checkpoints.clone(),
        };
        let run = train(s1.model.clone(), device, cfg, &chain, &spec, bar)?;
        Ok(run
            .snapshots
            .iter()
            .map(|(_, m)| retrieval_scores(m, &AttnMask::Causal, cfg, &prompts, &plain).2)
            .collect())
    };
    // Both arms side by side (no shared randomness: same result as one after the other).
    let (ce, lce) = concurrently(
        || arm(Objective::Ce),
        || arm(Objective::LongCe { gamma: cfg.gamma }),
    );
    let far = [ce?, lce?];
    Ok(checkpoints
        .iter()
        .enumerate()
        .map(|(k, &c)| (c, far[0][k], far[1][k]))
        .collect())
}

/// Experiments `--only` can select: the key-value family and LongCE comparison (LC-0..LC-3),
/// and the Tiny Shakespeare sanity run (E5, LC-4, report only).
pub const EXPERIMENTS: &[&str] = &["kvdocs", "shakespeare"];

/// Runs the experiments of `opts.profile` (or those chosen with `--only`) and checks the
/// claims. By default every profile runs `kvdocs`, and `full` also runs `shakespeare`.
pub fn reproduce(opts: &Options) -> anyhow::Result<Report> {
    opts.check_only(EXPERIMENTS)?;
    let cfg = ExperimentConfig::for_profile(opts.profile);
    let text_cfg = TextConfig::for_profile(opts.profile);
    let mut report = Report::new(
        "long-context",
        opts,
        json!({"kvdocs": &cfg, "shakespeare": &text_cfg, "only": &opts.only}),
    );
    let device = opts.device.clone().autodiff();
    if opts.only.is_empty() || opts.selects("kvdocs") {
        kv_experiments(opts, &cfg, &device, &mut report)?;
    } else {
        for (id, statement) in CLAIMS {
            report.claims.push(
                Claim::new(id, statement, "experiment `kvdocs` (not selected)")
                    .measure("note", "not run: `--only` did not select `kvdocs`")
                    .with_verdict(Verdict::Inconclusive),
            );
        }
    }
    if opts.selects("shakespeare") || (opts.only.is_empty() && opts.profile == Profile::Full) {
        let bar = progress_bar(text_cfg.steps as u64, "shakespeare steps", opts.progress);
        let r = shakespeare::run(&text_cfg, &DataRoots::from_env(), &device, 0, &bar)?;
        bar.finish_and_clear();
        push_text_report(&mut report, &text_cfg, &r);
    }
    Ok(report.finish())
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

/// LC-0..LC-3: the key-value family and the LongCE comparison.
fn kv_experiments(
    opts: &Options,
    cfg: &ExperimentConfig,
    device: &Device,
    report: &mut Report,
) -> anyhow::Result<()> {
    let cfg = cfg.clone();
    let device = device.clone();
    let family_seeds = opts.seed_list(cfg.family_seeds);
    let longce_seeds = opts.seed_list(cfg.longce_seeds);
    let mut all: Vec<u64> = family_seeds.iter().chain(&longce_seeds).copied().collect();
    all.sort_unstable();
    all.dedup();
    report.seeds = all.clone();
    let per_seed_steps = |in_family: bool| {
        let s1 = cfg.steps_s1;
        (if in_family {
            cfg.steps_a + cfg.steps_b + s1
        } else {
            s1
        }) + 2 * cfg.steps_s2
    };
    let total: usize = all
        .iter()
        .map(|s| per_seed_steps(family_seeds.contains(s)))
        .sum::<usize>()
        - family_seeds
            .iter()
            .filter(|s| !longce_seeds.contains(s))
            .count()
            * 2
            * cfg.steps_s2;
    let bar = progress_bar(total as u64, "training steps", opts.progress);

    let mut families = Vec::new();
    let mut longce = Vec::new();
    for &s in &all {
        let fam = if family_seeds.contains(&s) {
            Some(run_family(&cfg, s, &device, &bar)?)
        } else {
            None
        };
        if longce_seeds.contains(&s) {
            let s1 = match &fam {
                Some(f) => f.s1.model.clone(),
                None => {
                    let chain = chain_for(s);
                    let spec = RunSpec {
                        steps: cfg.steps_s1,
                        lr: cfg.lr,
                        warmup: cfg.warmup,
                        final_frac: 0.1,
                        mask: AttnMask::Causal,
                        p_far: 0.0,
                        objective: Objective::Ce,
                        data_seed: 10 * s + 3,
                        snapshots: vec![],
                    };
                    train(
                        fresh_model(&cfg, &device, s + 900),
                        &device,
                        &cfg,
                        &chain,
                        &spec,
                        &bar,
                    )?
                    .model
                }
            };
            let s1 = Trained {
                model: s1,
                snapshots: vec![],
                losses: vec![],
            };
            longce.push((s, run_longce(&cfg, s, &s1, &device, &bar)?));
        }
        if let Some(f) = fam {
            for (run, first, last) in &f.losses {
                report.push_result(json!({"kind": "train_loss", "seed": s, "run": run, "first_10pct": first, "last_10pct": last}));
            }
            families.push((s, f.members, f.fidelity));
        }
    }
    bar.finish_and_clear();

    // Results and tables.
    let bucket_names: Vec<String> = buckets(&cfg).into_iter().map(|b| b.0).collect();
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
    for (s, members, fidelity) in &families {
        for m in members {
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
        for (w, f) in fidelity {
            report.push_result(
                json!({"kind": "key_fidelity", "seed": s, "window": w, "fidelity": f}),
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
    for (s, _, fidelity) in &families {
        for (w, f) in fidelity {
            fid_table.row(vec![
                s.to_string(),
                w.clone(),
                format!("{:.3}", f.recall_strict),
                format!("{:.3}", f.precision_broad),
                format!("{:.3}", f.near_values_flagged),
                format!("{:.4}", f.key_fraction),
            ]);
        }
    }
    report.tables.push(fid_table);

    // LC-0: gate on the evaluator's far accuracy (mean over family seeds).
    let evaluator_far: Vec<f64> = families
        .iter()
        .map(|(_, m, _)| {
            m.iter()
                .find(|e| e.name == "A1 causal")
                .map_or(f64::NAN, |e| e.far_acc)
        })
        .collect();
    let gate = Summary::of(&evaluator_far).mean;
    report.claims.push(
        Claim::new(
            CLAIMS[0].0,
            CLAIMS[0].1,
            "mean far accuracy of A1 (causal) >= 0.5",
        )
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
    let fid: Vec<KeyFidelity> = families.iter().map(|(_, _, f)| f[0].1).collect();
    let lc1_pass = fid.iter().all(|f| {
        f.recall_strict >= 0.6 && f.precision_broad >= 0.8 && f.near_values_flagged <= 0.05
    });
    report.claims.push(gated(
        Claim::new(CLAIMS[1].0, CLAIMS[1].1, "recall on far values >= 0.6, precision vs far keys+values >= 0.8, <= 5% of near values flagged")
            .measure("recall_strict", fid.iter().map(|f| f.recall_strict).collect::<Vec<_>>())
            .measure("precision_broad", fid.iter().map(|f| f.precision_broad).collect::<Vec<_>>())
            .measure("near_values_flagged", fid.iter().map(|f| f.near_values_flagged).collect::<Vec<_>>()),
        lc1_pass,
    ));

    // LC-2: correlations across the family, per seed and on the seed mean.
    let mut corr = Vec::new();
    let mut scatter_long = Vec::new();
    let mut scatter_ppl = Vec::new();
    for (_, members, _) in &families {
        let usable: Vec<&MemberEval> = members.iter().filter(|m| m.long_ppl.is_some()).collect();
        let score: Vec<f64> = usable.iter().map(|m| m.score).collect();
        let lp: Vec<f64> = usable
            .iter()
            .map(|m| m.long_ppl.unwrap_or(f64::NAN))
            .collect();
        let pp: Vec<f64> = usable.iter().map(|m| m.ppl).collect();
        scatter_long.extend(lp.iter().zip(&score).map(|(x, y)| (*x, *y)));
        scatter_ppl.extend(pp.iter().zip(&score).map(|(x, y)| (*x, *y)));
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
    let lc2_pass = if corr.len() >= 3 {
        n_hold >= 2 && holds(&mean4(&corr))
    } else {
        n_hold == corr.len() && !corr.is_empty()
    };
    let mut lc2 = Claim::new(
        CLAIMS[2].0,
        CLAIMS[2].1,
        "Pearson(LongPPL, score) <= -0.8 and (|Pearson(PPL, score)| <= 0.5 or >= 0.3 below it); with >= 3 seeds on the seed mean and in >= 2 seeds",
    )
    .measure("pearson_longppl_score", corr.iter().map(|c| c.0).collect::<Vec<_>>())
    .measure("pearson_ppl_score", corr.iter().map(|c| c.1).collect::<Vec<_>>())
    .measure("spearman_longppl_score", corr.iter().map(|c| c.2).collect::<Vec<_>>())
    .measure("spearman_ppl_score", corr.iter().map(|c| c.3).collect::<Vec<_>>());
    if corr.len() < 3 {
        lc2 = lc2.measure(
            "note",
            "provisional: fewer than 3 family seeds (the full profile decides)",
        );
    }
    report.claims.push(gated(lc2, lc2_pass));
    report.plots.push(
        Plot::scatter(
            "longppl_vs_score",
            "Family members: perplexities vs retrieval score",
            "perplexity",
            "retrieval score",
        )
        .series("LongPPL", scatter_long)
        .series("PPL", scatter_ppl),
    );

    // LC-3: LongCE vs CE at three checkpoints, seed mean and across-seed spread.
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
    for (s, rows) in &longce {
        for (step, ce, lce) in rows {
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
    let n_ck = longce.first().map_or(0, |(_, r)| r.len());
    let mut diffs_mean = Vec::new();
    let mut diffs_std = Vec::new();
    let mut at_end = (Vec::new(), Vec::new());
    for k in 0..n_ck {
        let ce: Vec<f64> = longce.iter().map(|(_, r)| r[k].1).collect();
        let lce: Vec<f64> = longce.iter().map(|(_, r)| r[k].2).collect();
        let d = paired_difference(&lce, &ce);
        diffs_mean.push(d.mean);
        diffs_std.push(if d.std.is_nan() { 0.0 } else { d.std });
        if k + 1 == n_ck {
            at_end = (lce, ce);
        }
    }
    let wins = diffs_mean
        .iter()
        .zip(&diffs_std)
        .filter(|(m, s)| **m > 0.0 && **m > **s)
        .count();
    let end = paired_difference(&at_end.0, &at_end.1);
    report.claims.push(
        Claim::new(CLAIMS[3].0, CLAIMS[3].1, "seed-mean LongCE - CE far accuracy > 0 and > its across-seed std at >= 2 of 3 checkpoints")
            .measure("diff_mean_per_checkpoint", &diffs_mean)
            .measure("diff_std_per_checkpoint", &diffs_std)
            .measure("paired_ci_at_end", [end.ci_low, end.ci_high])
            .measure("seeds", longce.len())
            .decide(wins >= 2),
    );
    let curve = |arm: usize| -> Vec<(f64, f64)> {
        (0..n_ck)
            .map(|k| {
                let v: Vec<f64> = longce
                    .iter()
                    .map(|(_, r)| if arm == 0 { r[k].1 } else { r[k].2 })
                    .collect();
                (longce[0].1[k].0 as f64, Summary::of(&v).mean)
            })
            .collect()
    };
    report.plots.push(
        Plot::line(
            "longce_vs_ce",
            "Stage 2: far retrieval accuracy",
            "stage-2 step",
            "far accuracy",
        )
        .series("CE", curve(0))
        .series("LongCE", curve(1)),
    );
    report.notes.push("Synthetic key-value documents replace GovReport/PG-19, and models trained here replace 7B-72B LLMs: see docs/papers/long-context.md.".into());
    Ok(())
}

fn mean4(v: &[(f64, f64, f64, f64)]) -> (f64, f64, f64, f64) {
    let n = v.len().max(1) as f64;
    v.iter().fold((0.0, 0.0, 0.0, 0.0), |a, c| {
        (a.0 + c.0 / n, a.1 + c.1 / n, a.2 + c.2 / n, a.3 + c.3 / n)
    })
}

//! Claims GEN-1..GEN-6 decided from the rows (spec §6), the report's tables and plots.
//!
//! Gates: the spec's **ceiling rule** (every objective's mean LP within 1 point of the Bayes
//! accuracy makes GEN-1 and GEN-3 `inconclusive`, "ceiling"); and a **learning gate** of
//! ours that measures none of the compared quantities: an objective has *learned* when its
//! final training loss (mean of the last 5 steps, mean over seeds) is at least
//! [`LEARN_MARGIN`] nats below the class-agnostic unigram LM's NLL (the loss of a model
//! that knows only token frequencies; every objective's targets are tokens of the
//! language). A claim whose two compared objectives have not both learned is
//! `inconclusive` ("not evaluable"). The gate was revised after the first quick run: its
//! first version (AR's NLL below the unigram LM's and every loss falling) let through
//! masked models whose loss had fallen only to the unigram level (declared in the crate docs
//! and the docs page, with the first version's verdicts). A single seed gives no interval
//! (`null`), so its claims are `inconclusive` too.

use std::collections::BTreeMap;

use repro_core::experiment::{Done, Results};
use repro_core::report::{Claim, Plot, Table, Verdict};
use repro_core::stats::Summary;
use repro_core::{Options, Report};
use serde_json::json;

use crate::INFO;
use crate::config::ExperimentConfig;
use crate::reproduce::{ABLATIONS, DIGITS, JobData, MARKOV, SWEEP};

const OBJECTIVES: [&str; 4] = ["AR", "MLM", "DEAR", "VLM"];
/// The ceiling rule's margin, points.
pub const CEILING_POINTS: f64 = 1.0;
/// GEN-3's NLL tolerance, nats.
pub const GEN3_NLL_TOL: f64 = 0.02;
/// GEN-4's LP tolerance, points.
pub const GEN4_LP_TOL: f64 = -2.0;
/// The learning gate's margin below the unigram LM's NLL, nats.
pub const LEARN_MARGIN: f64 = 0.05;

/// A paired difference `a − b` of one metric.
struct Diff {
    per_seed: Vec<f64>,
    s: Summary,
}

impl Diff {
    fn of(
        r: &Results,
        exp: &str,
        setting: &str,
        a: &str,
        b: &str,
        metric: &str,
    ) -> anyhow::Result<Self> {
        let p = r.paired(exp, setting, a, b, metric)?;
        let per_seed: Vec<f64> = p.a.iter().zip(&p.b).map(|(x, y)| x - y).collect();
        Ok(Self {
            s: Summary::of(&per_seed),
            per_seed,
        })
    }

    fn ci_above_zero(&self) -> bool {
        self.s.ci_low > 0.0
    }

    fn put(&self, c: Claim, key: &str) -> Claim {
        c.measure(&format!("{key}_per_seed"), &self.per_seed)
            .measure(&format!("{key}_mean"), self.s.mean)
            .measure(&format!("{key}_ci95"), [self.s.ci_low, self.s.ci_high])
    }
}

fn mean_of(r: &Results, exp: &str, setting: &str, m: &str, metric: &str) -> anyhow::Result<f64> {
    Ok(r.summary(exp, setting, m, metric)?.mean)
}

/// Gate outcomes on Data A.
struct Gates {
    ceiling: bool,
    learned: BTreeMap<String, bool>,
    final_loss: BTreeMap<String, f64>,
    lp: BTreeMap<String, f64>,
    bayes: f64,
    nll: BTreeMap<String, f64>,
    uni: f64,
}

fn gates(r: &Results) -> anyhow::Result<Gates> {
    let bayes = mean_of(r, MARKOV, "ref", "BAYES", "lp_mean")?;
    let uni = mean_of(r, MARKOV, "ref", "UNI-LM", "nll_mean")?;
    let (mut lp, mut nll) = (BTreeMap::new(), BTreeMap::new());
    let (mut learned, mut final_loss) = (BTreeMap::new(), BTreeMap::new());
    for o in OBJECTIVES {
        lp.insert(o.to_string(), mean_of(r, MARKOV, "main", o, "lp_mean")?);
        nll.insert(o.to_string(), mean_of(r, MARKOV, "main", o, "nll_mean")?);
        let last = mean_of(r, MARKOV, "main", o, "loss_last5")?;
        final_loss.insert(o.to_string(), last);
        learned.insert(o.to_string(), last <= uni - LEARN_MARGIN);
    }
    Ok(Gates {
        ceiling: lp.values().all(|v| (bayes - v).abs() <= CEILING_POINTS),
        learned,
        final_loss,
        lp,
        bayes,
        nll,
        uni,
    })
}

fn gated(c: Claim, held: bool, g: &Gates, pair: [&str; 2], ceiling_applies: bool) -> Claim {
    let c = c
        .measure("gate_lp_means", &g.lp)
        .measure("gate_bayes_acc", g.bayes)
        .measure("gate_nll_means", &g.nll)
        .measure("gate_unigram_nll", g.uni)
        .measure("gate_final_train_loss", &g.final_loss)
        .measure("gate_learned", &g.learned);
    let not_learned: Vec<&str> = pair.into_iter().filter(|o| !g.learned[*o]).collect();
    if !not_learned.is_empty() {
        return c
            .measure(
                "note",
                format!(
                    "not evaluable (learning gate): the final training loss of {} is not {LEARN_MARGIN} nats below the unigram LM's NLL {:.3}",
                    not_learned.join(" and "),
                    g.uni
                ),
            )
            .with_verdict(Verdict::Inconclusive);
    }
    if ceiling_applies && g.ceiling {
        return c
            .measure("note", "uninformative (ceiling): every objective's LP is within 1 point of the Bayes accuracy")
            .with_verdict(Verdict::Inconclusive);
    }
    c.decide(held)
}

/// Decides every claim whose experiments ran.
///
/// # Errors
/// Missing rows or seeds that do not pair.
pub(crate) fn decide_claims(
    cfg: &ExperimentConfig,
    r: &Results,
    ran: &dyn Fn(&str) -> bool,
) -> anyhow::Result<Vec<Claim>> {
    let mut out = Vec::new();
    if ran(MARKOV) {
        let g = gates(r)?;
        let d = |a: &str, b: &str, m: &str| Diff::of(r, MARKOV, "main", a, b, m);
        // GEN-1
        let lp = d("MLM", "AR", "lp_mean")?;
        let last = d("MLM", "AR", "lp_last")?;
        let mut c = lp.put(INFO.claim("GEN-1"), "lp_mlm_minus_ar");
        c = last.put(c, "lp_last_mlm_minus_ar");
        if lp.ci_above_zero() && !last.ci_above_zero() {
            c = c.measure("pooling", "the look-around advantage depends on the pooling choice: it holds for mean-pool features but not for last-position features");
        }
        out.push(gated(c, lp.ci_above_zero(), &g, ["MLM", "AR"], true));
        // GEN-2
        let nll = d("MLM", "AR", "nll_mean")?;
        let short = d("MLM", "AR", "nll_short")?;
        let long = d("MLM", "AR", "nll_long")?;
        let mut c = nll.put(INFO.claim("GEN-2"), "nll_mlm_minus_ar");
        c = short.put(c, "gap_short_t_le_6");
        c = long.put(c, "gap_long_t_ge_18");
        out.push(gated(
            c,
            nll.ci_above_zero() && short.s.mean > long.s.mean,
            &g,
            ["MLM", "AR"],
            false,
        ));
        // GEN-3
        let lp = d("DEAR", "AR", "lp_mean")?;
        let nll = d("DEAR", "AR", "nll_mean")?;
        let c = nll.put(
            lp.put(INFO.claim("GEN-3"), "lp_dear_minus_ar"),
            "nll_dear_minus_ar",
        );
        out.push(gated(
            c,
            lp.ci_above_zero() && nll.s.mean <= GEN3_NLL_TOL,
            &g,
            ["DEAR", "AR"],
            true,
        ));
        // GEN-4
        let nll = d("MLM", "VLM", "nll_mean")?;
        let lp = d("VLM", "MLM", "lp_mean")?;
        let c = lp.put(
            nll.put(INFO.claim("GEN-4"), "nll_mlm_minus_vlm"),
            "lp_vlm_minus_mlm",
        );
        out.push(gated(
            c,
            nll.ci_above_zero() && lp.s.mean >= GEN4_LP_TOL,
            &g,
            ["MLM", "VLM"],
            false,
        ));
        out.push(gen6(cfg, r, ran)?);
    }
    if ran(DIGITS) {
        let d = |a: &str, b: &str| Diff::of(r, DIGITS, "main", a, b, "nll_mean");
        let (ar, vlm) = (d("MLM", "AR")?, d("MLM", "VLM")?);
        let c = vlm.put(
            ar.put(INFO.claim("GEN-5"), "digits_nll_mlm_minus_ar"),
            "digits_nll_mlm_minus_vlm",
        );
        out.push(c.decide(ar.ci_above_zero() && vlm.ci_above_zero()));
    }
    Ok(out)
}

fn gen6(cfg: &ExperimentConfig, r: &Results, ran: &dyn Fn(&str) -> bool) -> anyhow::Result<Claim> {
    let mut c = INFO.claim("GEN-6");
    let mut last = BTreeMap::new();
    let mut nmi = BTreeMap::new();
    for o in OBJECTIVES {
        last.insert(o, mean_of(r, MARKOV, "main", o, "lp_last")?);
        nmi.insert(o, mean_of(r, MARKOV, "main", o, "nmi")?);
    }
    c = c.measure("lp_last_means", &last).measure("nmi_means", &nmi);
    let mut sweep = vec![(
        cfg.n_pretrain,
        Diff::of(r, MARKOV, "main", "MLM", "AR", "lp_mean")?.s,
    )];
    if ran(SWEEP) {
        for &n in &cfg.sweep_sizes {
            let s = format!("n={n}");
            sweep.push((n, Diff::of(r, SWEEP, &s, "MLM", "AR", "lp_mean")?.s));
        }
    }
    sweep.sort_by_key(|(n, _)| *n);
    let sweep: Vec<_> = sweep
        .iter()
        .map(|(n, s)| json!({"n_pretrain": n, "lp_mlm_minus_ar": s.mean, "ci95": [s.ci_low, s.ci_high]}))
        .collect();
    // Descriptive: no criterion, so no verdict beyond `inconclusive` (nulls allowed).
    Ok(c.measure("gen1_gap_vs_pretraining_size", sweep)
        .measure("note", "descriptive: reported, no criterion")
        .with_verdict(Verdict::Inconclusive))
}

/// A curve's first prefix length and its per-seed values.
type CurveSet = (usize, Vec<Vec<f64>>);

fn fmt_summary(v: &[f64], digits: usize) -> String {
    Summary::of(v).fmt_mean_std(digits)
}

/// Probe, NLL, sweep, ablation and digits tables; the NLL-vs-t and training plots.
///
/// # Errors
/// Missing rows.
pub(crate) fn tables_and_plots(
    r: &Results,
    done: &Done<JobData>,
    report: &mut Report,
) -> anyhow::Result<()> {
    let has = |exp: &str, setting: &str| !r.methods(exp, setting).is_empty();
    if has(MARKOV, "main") {
        report.tables.push(probe_table(
            r,
            MARKOV,
            "Data A: linear probe (points) and clustering NMI on frozen features",
            true,
        )?);
        report.tables.push(nll_table(
            r,
            MARKOV,
            "Data A: generation NLL (nats/token; t ≤ 6 short, t ≥ 18 long)",
            true,
        )?);
    }
    for (exp, title) in [
        (SWEEP, "Size sweep (AR, MLM)"),
        (ABLATIONS, "Ablations (§4)"),
    ] {
        for setting in r.settings(exp) {
            report.tables.push(probe_table_setting(
                r,
                exp,
                &setting,
                &format!("{title}, {setting}"),
            )?);
        }
    }
    if has(DIGITS, "main") {
        report.tables.push(probe_table(
            r,
            DIGITS,
            "Data B (digit tokens): linear probe and NMI",
            false,
        )?);
        report.tables.push(nll_table(
            r,
            DIGITS,
            "Data B: generation NLL over t = 8..15",
            false,
        )?);
    }
    let mut curves: BTreeMap<(String, String), CurveSet> = BTreeMap::new();
    let mut loss = Plot::line(
        "training_loss",
        "Pretraining loss (mean per block of steps)",
        "step",
        "loss",
    );
    for (job, out) in done.iter() {
        for (name, c) in &out.data.nll_curves {
            let e = curves
                .entry((job.experiment.clone(), name.clone()))
                .or_insert((out.data.t_from, Vec::new()));
            e.1.push(c.clone());
        }
        if job.experiment == MARKOV && !out.data.curve.loss.is_empty() {
            loss = loss.series(
                &format!("{} seed {}", job.method, job.seed.unwrap_or(0)),
                out.data.curve.blocks(40),
            );
        }
    }
    for (exp, plot_name, title) in [
        (
            MARKOV,
            "nll_vs_t",
            "Data A: NLL_t = −ln p(x_{t+1} | x_1..x_t), mean ± std over seeds",
        ),
        (
            DIGITS,
            "digits_nll_vs_t",
            "Data B: NLL_t over the bottom patch rows, mean ± std over seeds",
        ),
    ] {
        let mut plot = Plot::line(plot_name, title, "prefix length t", "NLL (nats)");
        for ((e, name), (t_from, cs)) in &curves {
            if e != exp
                || (e == MARKOV
                    && !["AR", "MLM", "DEAR", "VLM", "BAYES", "UNI-LM", "BI-LM"]
                        .contains(&name.as_str()))
            {
                continue;
            }
            let len = cs[0].len();
            let pts: Vec<(f64, f64)> = (0..len)
                .map(|j| {
                    (
                        (t_from + j) as f64,
                        cs.iter().map(|c| c[j]).sum::<f64>() / cs.len() as f64,
                    )
                })
                .collect();
            report.push_result(json!({"kind": "nll_curve", "experiment": e, "method": name,
                "t_from": t_from, "mean_over_seeds": pts.iter().map(|p| p.1).collect::<Vec<_>>(), "per_seed": cs}));
            let std: Vec<f64> = (0..len)
                .map(|j| {
                    let at: Vec<f64> = cs.iter().map(|c| c[j]).collect();
                    repro_core::stats::Summary::of(&at).std
                })
                .collect();
            plot = plot.series_with_err(name, pts, std);
        }
        if !plot.series.is_empty() {
            report.plots.push(plot);
        }
    }
    if !loss.series.is_empty() {
        report.plots.push(loss);
    }
    Ok(())
}

fn probe_table(r: &Results, exp: &str, title: &str, with_refs: bool) -> anyhow::Result<Table> {
    let mut t = Table::new(
        title,
        &[
            "method",
            "n",
            "LP mean-pool",
            "LP last position",
            "NMI",
            "Δ LP vs AR [95% CI]",
        ],
    );
    if with_refs {
        for m in r.methods(exp, "ref") {
            let v = r.values(exp, "ref", &m, "lp_mean").unwrap_or_default();
            if v.is_empty() {
                continue;
            }
            let last = r
                .values(exp, "ref", &m, "lp_last")
                .map_or("–".into(), |v| fmt_summary(&v, 1));
            t.row(vec![
                m.clone(),
                v.len().to_string(),
                fmt_summary(&v, 1),
                last,
                "–".into(),
                "–".into(),
            ]);
        }
    }
    for m in r.methods(exp, "main") {
        probe_row(r, exp, "main", &m, &mut t)?;
    }
    Ok(t)
}

fn probe_table_setting(
    r: &Results,
    exp: &str,
    setting: &str,
    title: &str,
) -> anyhow::Result<Table> {
    let mut t = Table::new(
        title,
        &[
            "method",
            "n",
            "LP mean-pool",
            "LP last position",
            "NMI",
            "NLL",
            "Δ LP vs AR [95% CI]",
        ],
    );
    for m in r.methods(exp, setting) {
        let nll = fmt_summary(&r.values(exp, setting, &m, "nll_mean")?, 3);
        let lp = fmt_summary(&r.values(exp, setting, &m, "lp_mean")?, 1);
        let last = fmt_summary(&r.values(exp, setting, &m, "lp_last")?, 1);
        let nmi = fmt_summary(&r.values(exp, setting, &m, "nmi")?, 3);
        let n = r.values(exp, setting, &m, "lp_mean")?.len();
        // Ablations have no AR of their own in the setting: no Δ column there.
        let has_ar = r.methods(exp, setting).iter().any(|x| x == "AR");
        let delta = if has_ar && m != "AR" {
            ci_text(Diff::of(r, exp, setting, &m, "AR", "lp_mean").ok())
        } else {
            "–".into()
        };
        t.row(vec![m, n.to_string(), lp, last, nmi, nll, delta]);
    }
    Ok(t)
}

fn ci_text(d: Option<Diff>) -> String {
    match d {
        Some(d) if d.s.n > 0 => {
            format!("{:+.1} [{:+.1}, {:+.1}]", d.s.mean, d.s.ci_low, d.s.ci_high)
        }
        _ => "–".into(),
    }
}

fn probe_row(r: &Results, exp: &str, setting: &str, m: &str, t: &mut Table) -> anyhow::Result<()> {
    let v = r.values(exp, setting, m, "lp_mean")?;
    let delta = if m == "AR" {
        "–".into()
    } else {
        ci_text(Diff::of(r, exp, setting, m, "AR", "lp_mean").ok())
    };
    t.row(vec![
        m.to_string(),
        v.len().to_string(),
        fmt_summary(&v, 1),
        fmt_summary(&r.values(exp, setting, m, "lp_last")?, 1),
        fmt_summary(&r.values(exp, setting, m, "nmi")?, 3),
        delta,
    ]);
    Ok(())
}

fn nll_table(r: &Results, exp: &str, title: &str, with_windows: bool) -> anyhow::Result<Table> {
    let cols: Vec<&str> = if with_windows {
        vec![
            "method",
            "n",
            "NLL mean over t",
            "t ≤ 6",
            "t ≥ 18",
            "gap to BAYES",
            "Δ vs AR [95% CI]",
        ]
    } else {
        vec!["method", "n", "NLL mean over t", "Δ vs AR [95% CI]"]
    };
    let mut t = Table::new(title, &cols);
    let bayes = r
        .values(exp, "ref", "BAYES", "nll_mean")
        .unwrap_or_default();
    let bayes_mean = Summary::of(&bayes).mean;
    let mut rows: Vec<(String, String)> = r
        .methods(exp, "ref")
        .into_iter()
        .map(|m| ("ref".into(), m))
        .collect();
    rows.extend(
        r.methods(exp, "main")
            .into_iter()
            .map(|m| ("main".to_string(), m)),
    );
    for (setting, m) in rows {
        let Ok(v) = r.values(exp, &setting, &m, "nll_mean") else {
            continue;
        };
        if v.is_empty() {
            continue;
        }
        let mut row = vec![m.clone(), v.len().to_string(), fmt_summary(&v, 3)];
        if with_windows {
            row.push(fmt_summary(&r.values(exp, &setting, &m, "nll_short")?, 3));
            row.push(fmt_summary(&r.values(exp, &setting, &m, "nll_long")?, 3));
            row.push(format!("{:+.3}", Summary::of(&v).mean - bayes_mean));
        }
        row.push(if setting == "main" && m != "AR" {
            match Diff::of(r, exp, "main", &m, "AR", "nll_mean") {
                Ok(d) => format!("{:+.3} [{:+.3}, {:+.3}]", d.s.mean, d.s.ci_low, d.s.ci_high),
                Err(_) => "–".into(),
            }
        } else {
            "–".into()
        });
        t.row(row);
    }
    Ok(t)
}

/// The report's notes.
pub(crate) fn notes(
    cfg: &ExperimentConfig,
    opts: &Options,
    ran: &dyn Fn(&str) -> bool,
) -> Vec<String> {
    let mut n = vec![
        "No official code exists (PKU-ML/LookAheadLookAround holds a README only): DEAR, VLM, the MLM generation protocol (prefix + MASK suffix), the BOS convention and the loss reduction are our operationalisation; see the crate docs.".to_string(),
        format!(
            "Data A: V = {}, C = {}, n = {}, α calibrated per seed to a Bayes accuracy of 0.90; {} pretraining / {} probe / {} test sequences; {} epochs of batch {} ({} seeds); generation NLL on the first {} test sequences.",
            cfg.markov.vocab, cfg.markov.classes, cfg.markov.len, cfg.n_pretrain, cfg.n_probe_train, cfg.n_test,
            cfg.train.epochs, cfg.train.batch_size, opts.seed_list(cfg.seeds).len(), cfg.n_nll_eval
        ),
        "Probe features come from unmasked sequences with each objective's own attention (causal for AR/DEAR, bidirectional for MLM/VLM); RANDINIT is the untrained model, bidirectional.".to_string(),
        format!("Gates: ceiling rule (all objectives within {CEILING_POINTS} point of Bayes → GEN-1/GEN-3 inconclusive) and the learning gate (a claim is inconclusive unless both compared objectives end training at least {LEARN_MARGIN} nats below UNI-LM's NLL)."),
    ];
    for (e, what) in [
        (SWEEP, "GEN-6's size sweep"),
        (ABLATIONS, "the §4 ablations"),
        (DIGITS, "GEN-5 (Data B)"),
    ] {
        if !ran(e) {
            n.push(format!("Experiment `{e}` did not run (`--profile full` or `--only {e}`); not measured: {what}."));
        }
    }
    n
}

#[cfg(test)]
mod tests {
    use super::*;
    use repro_core::experiment::Row;

    /// Rows of 3 seeds: BAYES at `bayes` points, UNI-LM at 3.4 nats, and the objectives
    /// with `(lp, nll, final loss)` plus a per-seed jitter.
    fn rows(bayes: f64, objs: &[(&str, f64, f64, f64)]) -> Results {
        let mut r = Results::default();
        for s in 0..3u64 {
            let j = 0.1 * s as f64;
            r.push(Row::new(MARKOV, "ref", "BAYES", Some(s)).metric("lp_mean", bayes));
            r.push(Row::new(MARKOV, "ref", "UNI-LM", Some(s)).metric("nll_mean", 3.4));
            for &(m, lp, nll, loss) in objs {
                r.push(
                    Row::new(MARKOV, "main", m, Some(s))
                        .metric("lp_mean", lp + j)
                        .metric("lp_last", lp - 1.0 + j)
                        .metric("nmi", 0.1)
                        .metric("nll_mean", nll + 0.01 * j)
                        .metric("nll_short", nll + 0.2 + 0.01 * j)
                        .metric("nll_long", nll + 0.01 * j)
                        .metric("loss_last5", loss),
                );
            }
        }
        r
    }

    fn decide(r: &Results) -> Vec<Claim> {
        let cfg = ExperimentConfig::quick();
        decide_claims(&cfg, r, &|e| e == MARKOV).unwrap()
    }

    #[test]
    fn claims_follow_their_criteria_and_gates() {
        // MLM above AR in LP by 3 points and 0.2 nats worse in NLL; DEAR above AR in LP and
        // 0.01 nats worse; VLM 0.1 nats better than MLM and 0.5 points below it.
        let r = rows(
            90.0,
            &[
                ("AR", 70.0, 2.8, 2.8),
                ("MLM", 73.0, 3.0, 2.9),
                ("DEAR", 72.0, 2.81, 2.9),
                ("VLM", 72.5, 2.9, 2.9),
            ],
        );
        let c = decide(&r);
        assert_eq!(
            c.iter().map(|c| c.id.as_str()).collect::<Vec<_>>(),
            ["GEN-1", "GEN-2", "GEN-3", "GEN-4", "GEN-6"]
        );
        assert_eq!(c[0].verdict, Verdict::Reproduced, "GEN-1");
        // The short and long gaps are equal (both +0.2 over AR), so GEN-2's second part fails.
        assert_eq!(c[1].verdict, Verdict::NotReproduced, "GEN-2");
        assert_eq!(
            c[2].verdict,
            Verdict::Reproduced,
            "GEN-3 (NLL +0.01 <= 0.02)"
        );
        assert_eq!(c[3].verdict, Verdict::Reproduced, "GEN-4 (LP -0.5 >= -2)");
        assert_eq!(c[4].verdict, Verdict::Inconclusive, "GEN-6 is descriptive");
        // Ceiling: every objective within 1 point of Bayes → GEN-1/GEN-3 inconclusive only.
        let r = rows(
            73.5,
            &[
                ("AR", 72.6, 2.8, 2.8),
                ("MLM", 73.0, 3.0, 2.9),
                ("DEAR", 72.9, 2.81, 2.9),
                ("VLM", 72.8, 2.9, 2.9),
            ],
        );
        let c = decide(&r);
        assert_eq!(c[0].verdict, Verdict::Inconclusive);
        assert!(c[0].measured["note"].as_str().unwrap().contains("ceiling"));
        assert_eq!(c[2].verdict, Verdict::Inconclusive);
        assert_ne!(c[3].verdict, Verdict::Inconclusive);
        // Learning gate: MLM's final loss at the unigram level gates the claims comparing it.
        let r = rows(
            90.0,
            &[
                ("AR", 70.0, 2.8, 2.8),
                ("MLM", 73.0, 3.0, 3.38),
                ("DEAR", 72.0, 2.81, 2.9),
                ("VLM", 72.5, 2.9, 2.9),
            ],
        );
        let c = decide(&r);
        for i in [0, 1, 3] {
            assert_eq!(c[i].verdict, Verdict::Inconclusive, "{}", c[i].id);
            assert!(
                c[i].measured["note"]
                    .as_str()
                    .unwrap()
                    .contains("learning gate")
            );
        }
        assert_eq!(
            c[2].verdict,
            Verdict::Reproduced,
            "GEN-3 compares AR and DEAR only"
        );
        // An honest failure: MLM below AR in LP.
        let r = rows(
            90.0,
            &[
                ("AR", 73.0, 2.8, 2.8),
                ("MLM", 70.0, 3.0, 2.9),
                ("DEAR", 72.0, 2.81, 2.9),
                ("VLM", 72.5, 2.9, 2.9),
            ],
        );
        assert_eq!(decide(&r)[0].verdict, Verdict::NotReproduced);
    }
}

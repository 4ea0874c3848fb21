//! Claims MIM-1..MIM-5, the sanity gate, tables and plots, from the typed results; every
//! difference between methods is paired by seed.

use std::collections::BTreeMap;
use std::path::Path;

use repro_core::experiment::{Results, Row};
use repro_core::metrics::spearman;
use repro_core::report::{Claim, Plot, Table, Verdict};
use repro_core::stats::Summary;
use serde_json::{Value, json};

use crate::INFO;
use crate::config::{ExperimentConfig, TokenizerSpec};
use crate::reproduce::{ABLATIONS, EVAL, PIX_STAR, PIXELS, RANDINIT, TOKENS, select_k_star};
use crate::train::CLASSES;

/// Seeds a verdict needs (spec §6: "verdict from ≥ 3 seeds").
const MIN_SEEDS: usize = 3;
/// Token tokenizers MIM-2 and MIM-3 need.
const MIN_TOKENIZERS: usize = 9;
/// The gate: MAE's CLS probe must beat the untrained encoder's by this many points.
const GATE_MARGIN: f64 = 1.0;

fn values(r: &Results, exp: &str, setting: &str, method: &str, metric: &str) -> BTreeMap<u64, f64> {
    r.by_seed(exp, setting, method, metric).unwrap_or_default()
}

fn mean(r: &Results, method: &str, metric: &str) -> f64 {
    let v: Vec<f64> = values(r, TOKENS, EVAL, method, metric)
        .into_values()
        .collect();
    Summary::of(&v).mean
}

fn summary(r: &Results, method: &str, metric: &str) -> Summary {
    let v: Vec<f64> = values(r, TOKENS, EVAL, method, metric)
        .into_values()
        .collect();
    Summary::of(&v)
}

/// `x` as JSON, or the string "n/a" when not finite (so that informational numbers never
/// turn a decided claim into an undecided one).
fn info(x: f64) -> Value {
    if x.is_finite() {
        json!(x)
    } else {
        json!("n/a")
    }
}

/// Paired per-seed `a − b` of `metric` (None when a side is missing or seeds differ).
fn paired(r: &Results, a: &str, b: &str, metric: &str) -> Option<Summary> {
    let (va, vb) = (
        values(r, TOKENS, EVAL, a, metric),
        values(r, TOKENS, EVAL, b, metric),
    );
    if va.is_empty() || va.keys().ne(vb.keys()) {
        return None;
    }
    let d: Vec<f64> = va.values().zip(vb.values()).map(|(x, y)| x - y).collect();
    Some(Summary::of(&d))
}

/// The token tokenizers that ran, in configuration order.
fn token_tokenizers(cfg: &ExperimentConfig, r: &Results) -> Vec<TokenizerSpec> {
    cfg.tokenizers
        .iter()
        .copied()
        .filter(|t| *t != TokenizerSpec::Mae && mean(r, &t.name(), "lp_cls").is_finite())
        .collect()
}

/// The sanity gate: `Some(passed)` with the two means.
fn gate(r: &Results) -> (Option<bool>, f64, f64) {
    let (mae, rand) = (mean(r, "MAE", "lp_cls"), mean(r, RANDINIT, "lp_cls"));
    (
        (mae.is_finite() && rand.is_finite()).then_some(mae >= rand + GATE_MARGIN),
        mae,
        rand,
    )
}

/// Inconclusive, with `why` added to any earlier note.
fn undecided(c: Claim, why: &str) -> Claim {
    let note = match c.measured.get("note").and_then(Value::as_str) {
        Some(earlier) => format!("{why}; {earlier}"),
        None => why.to_owned(),
    };
    c.measure("note", note).with_verdict(Verdict::Inconclusive)
}

fn claim(id: &str) -> Claim {
    INFO.claim(id)
}

/// Every claim, decided from the results.
pub(crate) fn decide_claims(
    cfg: &ExperimentConfig,
    r: &Results,
    n_seeds: usize,
) -> anyhow::Result<Vec<Claim>> {
    let (g, mae, rand) = gate(r);
    let pixels = mean(r, PIXELS, "lp_cls");
    let mut claims = vec![mim1(r), mim2(cfg, r), mim3(cfg, r), mim4(cfg, r), mim5(r)];
    for c in &mut claims {
        let mut x = std::mem::replace(c, Claim::new("", "", ""))
            .measure("gate_mae_lp_cls", info(mae))
            .measure("gate_randinit_lp_cls", info(rand))
            .measure("pixels_lp_cls", info(pixels));
        let gated = x.id != "MIM-3";
        if n_seeds < MIN_SEEDS {
            x = undecided(
                x,
                &format!("{n_seeds} seed(s): verdicts need at least {MIN_SEEDS}"),
            );
        } else if gated && g == Some(false) {
            x = undecided(
                x,
                &format!(
                    "testbed too weak: MAE's CLS probe ({mae:.2}) does not beat the untrained encoder ({rand:.2}) by {GATE_MARGIN} point"
                ),
            );
        }
        *c = x;
    }
    Ok(claims)
}

fn mim1(r: &Results) -> Claim {
    let c = claim("MIM-1");
    let rows: Vec<&Row> = r.rows().iter().collect();
    let Some((k, val)) = select_k_star(&rows) else {
        return undecided(c, "no PIX run");
    };
    let name = format!("PIX-{k}");
    let c = c.measure("k_star", k).measure("k_star_val_cls", val);
    let Some(d) = paired(r, &name, "MAE", "lp_cls") else {
        return undecided(c, "MAE or PIX-K* missing, or their seeds differ");
    };
    let dm = paired(r, &name, "MAE", "lp_mean");
    let c = c
        .measure("lp_cls_pix_kstar", mean(r, &name, "lp_cls"))
        .measure("lp_cls_mae", mean(r, "MAE", "lp_cls"))
        .measure("d_mean", d.mean)
        .measure("d_ci", [d.ci_low, d.ci_high])
        .measure("mean_pool_d", info(dm.map_or(f64::NAN, |s| s.mean)))
        .measure(
            "mean_pool_d_ci",
            dm.map_or(json!("n/a"), |s| json!([info(s.ci_low), info(s.ci_high)])),
        );
    c.decide(d.ci_low > 0.0)
}

/// Seed means of `metric` over `ts`.
fn means(r: &Results, ts: &[TokenizerSpec], metric: &str) -> Vec<f64> {
    ts.iter().map(|t| mean(r, &t.name(), metric)).collect()
}

fn mim2(cfg: &ExperimentConfig, r: &Results) -> Claim {
    let c = claim("MIM-2");
    let ts = token_tokenizers(cfg, r);
    let (tcas, lp) = (means(r, &ts, "tcas"), means(r, &ts, "lp_cls"));
    let rho = spearman(&tcas, &lp);
    let free: Vec<TokenizerSpec> = ts
        .iter()
        .copied()
        .filter(TokenizerSpec::label_free_content)
        .collect();
    let rho_free = spearman(&means(r, &free, "tcas"), &means(r, &free, "lp_cls"));
    let rho_mean = spearman(&tcas, &means(r, &ts, "lp_mean"));
    let rho_cf = spearman(&means(r, &ts, "tcas_cf"), &lp);
    let lp_of = |t: &TokenizerSpec| mean(r, &t.name(), "lp_cls");
    let oracle = ts.iter().find(|t| **t == TokenizerSpec::Oracle).map(lp_of);
    let mix = ts
        .iter()
        .find(|t| matches!(t, TokenizerSpec::Mix(_)))
        .map(lp_of);
    // Label-free: every tokenizer that reads no labels (MIX included).
    let best_free = ts
        .iter()
        .filter(|t| !t.uses_labels())
        .map(lp_of)
        .fold(f64::NEG_INFINITY, f64::max);
    let worst_other = ts
        .iter()
        .filter(|t| !matches!(t, TokenizerSpec::Mix(_)))
        .map(lp_of)
        .fold(f64::INFINITY, f64::min);
    let names: Vec<String> = ts.iter().map(TokenizerSpec::name).collect();
    let c = c
        .measure("tokenizers", &names)
        .measure("n_tokenizers", ts.len())
        .measure("rho_tcas_lp", info(rho))
        .measure("rho_label_free_pix_feat_rand", info(rho_free))
        .measure("rho_tcas_lp_mean_pool", info(rho_mean))
        .measure("rho_tcas_cf_lp", info(rho_cf))
        .measure("lp_oracle", info(oracle.unwrap_or(f64::NAN)))
        .measure("lp_mix", info(mix.unwrap_or(f64::NAN)))
        .measure("best_label_free_lp", info(best_free))
        .measure("worst_non_mix_lp", info(worst_other));
    if ts.len() < MIN_TOKENIZERS {
        return undecided(
            c,
            &format!(
                "{} token tokenizers ran; MIM-2 needs {MIN_TOKENIZERS}",
                ts.len()
            ),
        );
    }
    let (Some(o), Some(m)) = (oracle, mix) else {
        return undecided(c, "ORACLE or MIX did not run");
    };
    let held = rho <= -0.6 && o > best_free && m < worst_other;
    if rho.is_finite() {
        c.decide(held)
    } else {
        undecided(c, "ρ is not finite")
    }
}

fn mim3(cfg: &ExperimentConfig, r: &Results) -> Claim {
    let c = claim("MIM-3");
    let ts = token_tokenizers(cfg, r);
    let rho = spearman(&means(r, &ts, "tcas"), &means(r, &ts, "h_ratio"));
    let rho_cf = spearman(&means(r, &ts, "tcas_cf"), &means(r, &ts, "h_ratio"));
    let c = c
        .measure("n_tokenizers", ts.len())
        .measure("rho_tcas_h_ratio", info(rho))
        .measure("rho_tcas_cf_h_ratio", info(rho_cf));
    if ts.len() < MIN_TOKENIZERS {
        return undecided(
            c,
            &format!(
                "{} token tokenizers ran; MIM-3 needs {MIN_TOKENIZERS}",
                ts.len()
            ),
        );
    }
    if rho.is_finite() {
        c.decide(rho >= 0.9)
    } else {
        undecided(c, "ρ is not finite")
    }
}

fn mim4(cfg: &ExperimentConfig, r: &Results) -> Claim {
    let c = claim("MIM-4");
    let pix: Vec<TokenizerSpec> = token_tokenizers(cfg, r)
        .into_iter()
        .filter(|t| matches!(t, TokenizerSpec::Pix(_)))
        .collect();
    let lp = means(r, &pix, "lp_cls");
    let ks: Vec<usize> = pix.iter().filter_map(|t| t.k(CLASSES)).collect();
    let rho = spearman(&means(r, &pix, "tcas"), &lp);
    let sweep: BTreeMap<String, f64> = ks
        .iter()
        .zip(&lp)
        .map(|(k, v)| (k.to_string(), *v))
        .collect();
    let c = c
        .measure("lp_by_k", &sweep)
        .measure("rho_tcas_lp_within_pix", info(rho));
    if pix.len() < 3 {
        return undecided(c, "fewer than 3 PIX values of K ran");
    }
    let (i_max, _) = ks
        .iter()
        .enumerate()
        .max_by_key(|(_, k)| **k)
        .expect("non-empty");
    let best = lp.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let c = c
        .measure("largest_k", ks[i_max])
        .measure("lp_largest_k", lp[i_max])
        .measure("best_lp", best)
        .measure("drop", best - lp[i_max]);
    c.decide(lp[i_max] <= best - 1.0)
}

/// Seed-mean CLS probe per checkpoint epoch of `method`.
fn curve(r: &Results, method: &str) -> Vec<(usize, f64)> {
    let mut out = Vec::new();
    for s in r.settings(TOKENS) {
        let Some(e) = s.strip_prefix("ckpt").and_then(|e| e.parse::<usize>().ok()) else {
            continue;
        };
        let v: Vec<f64> = values(r, TOKENS, &s, method, "lp_cls")
            .into_values()
            .collect();
        if !v.is_empty() {
            out.push((e, Summary::of(&v).mean));
        }
    }
    out.sort_by_key(|p| p.0);
    out
}

fn mim5(r: &Results) -> Claim {
    let c = claim("MIM-5");
    let rows: Vec<&Row> = r.rows().iter().collect();
    let Some((k, _)) = select_k_star(&rows) else {
        return undecided(c, "no PIX run");
    };
    let (pix, mae) = (curve(r, &format!("PIX-{k}")), curve(r, "MAE"));
    let c = c
        .measure("k_star", k)
        .measure("pix_kstar_curve", &pix)
        .measure("mae_curve", &mae);
    if pix.is_empty() || mae.is_empty() {
        return undecided(c, "no convergence checkpoints (taken in the full profile)");
    }
    let target = mean(r, "MAE", "lp_cls");
    let first = |cv: &[(usize, f64)]| cv.iter().find(|p| p.1 >= target).map(|p| p.0);
    let (e_pix, e_mae) = (first(&pix), first(&mae));
    let c = c
        .measure("mae_final_lp", target)
        .measure(
            "epoch_pix_reaches",
            e_pix.map_or(json!("never"), |e| json!(e)),
        )
        .measure(
            "epoch_mae_reaches",
            e_mae.map_or(json!("never"), |e| json!(e)),
        );
    c.decide(matches!((e_pix, e_mae), (Some(p), Some(m)) if p < m))
}

fn fmt(s: &Summary, digits: usize) -> String {
    if s.n == 0 {
        "–".into()
    } else {
        s.fmt_mean_std(digits)
    }
}

/// The tokenizer table, the scatter of TCAS against probe accuracy, the K sweep, the
/// convergence curves and the ablations.
pub(crate) fn tables_and_plots(
    cfg: &ExperimentConfig,
    r: &Results,
    report: &mut repro_core::Report,
) -> anyhow::Result<()> {
    tokenizer_table(cfg, r, report);
    plots(cfg, r, report);
    ablation_table(r, report);
    Ok(())
}

/// The tokenizer table: K, the alignment measures, probes and k-NN, seed means ± std.
fn tokenizer_table(cfg: &ExperimentConfig, r: &Results, report: &mut repro_core::Report) {
    let mut t = Table::new(
        "Tokenizers (mean ± std over seeds; probes and k-NN in %, test)",
        &[
            "method",
            "K",
            "TCAS_repro",
            "TCAS_cf",
            "H-ratio",
            "LP CLS",
            "LP mean-pool",
            "kNN",
            "val CLS",
            "loss last 10",
        ],
    );
    let mut methods: Vec<(String, Option<usize>)> = cfg
        .tokenizers
        .iter()
        .map(|t| (t.name(), t.k(CLASSES)))
        .collect();
    methods.push((RANDINIT.into(), None));
    methods.push((PIXELS.into(), None));
    for (m, k) in &methods {
        if summary(r, m, "lp_cls").n == 0 {
            continue;
        }
        let cell = |metric: &str, d: usize| fmt(&summary(r, m, metric), d);
        t.row(vec![
            m.clone(),
            k.map_or("–".into(), |k| k.to_string()),
            cell("tcas", 3),
            cell("tcas_cf", 3),
            cell("h_ratio", 3),
            cell("lp_cls", 2),
            cell("lp_mean", 2),
            cell("knn", 2),
            cell("val_cls", 2),
            cell("loss_last10", 3),
        ]);
    }
    report.tables.push(t);
}

/// TCAS against the probe, the PIX-K sweep and (full) the convergence checkpoints.
fn plots(cfg: &ExperimentConfig, r: &Results, report: &mut repro_core::Report) {
    let ts = token_tokenizers(cfg, r);
    let family = |t: &TokenizerSpec| t.name().split('-').next().unwrap_or("").to_owned();
    let mut scatter = Plot::scatter(
        "tcas_vs_lp",
        "TCAS_repro against the CLS linear probe (seed means)",
        "TCAS_repro",
        "CLS probe accuracy (%)",
    );
    let mut fams: Vec<String> = ts.iter().map(family).collect();
    fams.dedup();
    for f in fams {
        let (pts, names): (Vec<(f64, f64)>, Vec<String>) = ts
            .iter()
            .filter(|t| family(t) == f)
            .map(|t| {
                let p = (mean(r, &t.name(), "tcas"), mean(r, &t.name(), "lp_cls"));
                (p, t.name())
            })
            .filter(|(p, _)| p.0.is_finite() && p.1.is_finite())
            .unzip();
        scatter = scatter.series(&f, pts).point_labels(names);
    }
    report.plots.push(scatter);
    let pix: Vec<(f64, f64)> = ts
        .iter()
        .filter_map(|t| match t {
            TokenizerSpec::Pix(k) => Some((*k as f64, mean(r, &t.name(), "lp_cls"))),
            _ => None,
        })
        .collect();
    let mae = mean(r, "MAE", "lp_cls");
    let mut sweep = Plot::line(
        "pix_k_sweep",
        "PIX-K: CLS probe against K",
        "K",
        "CLS probe accuracy (%)",
    )
    .series("PIX-K", pix.clone());
    if let (Some(a), Some(b)) = (pix.first(), pix.last()) {
        sweep = sweep.series("MAE", vec![(a.0, mae), (b.0, mae)]);
    }
    report.plots.push(sweep);
    let rows: Vec<&Row> = r.rows().iter().collect();
    if let Some((k, _)) = select_k_star(&rows) {
        let to_f = |v: Vec<(usize, f64)>| {
            v.into_iter()
                .map(|(e, x)| (e as f64, x))
                .collect::<Vec<_>>()
        };
        let (pc, mc) = (curve(r, &format!("PIX-{k}")), curve(r, "MAE"));
        if !pc.is_empty() {
            report.plots.push(
                Plot::line(
                    "convergence",
                    "CLS probe at the checkpoints (seed means)",
                    "epoch",
                    "CLS probe accuracy (%)",
                )
                .series(&format!("PIX-{k} (K*)"), to_f(pc))
                .series("MAE", to_f(mc)),
            );
        }
    }
}

/// The ablations of PIX-K* (full).
fn ablation_table(r: &Results, report: &mut repro_core::Report) {
    let abl = r.settings(ABLATIONS);
    if !abl.is_empty() {
        let mut t = Table::new(
            "Ablations of PIX-K* (CLS probe, %)",
            &["ablation", "K*", "LP CLS", "LP mean-pool", "TCAS_repro"],
        );
        for a in abl {
            let s = |m: &str| {
                Summary::of(
                    &values(r, ABLATIONS, &a, PIX_STAR, m)
                        .into_values()
                        .collect::<Vec<_>>(),
                )
            };
            t.row(vec![
                a.clone(),
                fmt(&s("k_star"), 0),
                fmt(&s("lp_cls"), 2),
                fmt(&s("lp_mean"), 2),
                fmt(&s("tcas"), 3),
            ]);
        }
        report.tables.push(t);
    }
}

/// `tcas.csv` (every tokenizer: K, TCAS_repro, cross-fitted, H-ratio, probes; seed means).
pub(crate) fn write_tcas_csv(
    cfg: &ExperimentConfig,
    r: &Results,
    dir: &Path,
) -> anyhow::Result<()> {
    let mut s =
        String::from("tokenizer,k,tcas_repro,tcas_cross_fitted,h_ratio,lp_cls,lp_mean,knn\n");
    for t in token_tokenizers(cfg, r) {
        let n = t.name();
        s.push_str(&format!(
            "{n},{},{},{},{},{},{},{}\n",
            t.k(CLASSES).unwrap_or(0),
            mean(r, &n, "tcas"),
            mean(r, &n, "tcas_cf"),
            mean(r, &n, "h_ratio"),
            mean(r, &n, "lp_cls"),
            mean(r, &n, "lp_mean"),
            mean(r, &n, "knn")
        ));
    }
    std::fs::create_dir_all(dir)?;
    let tmp = dir.join("tcas.csv.tmp");
    std::fs::write(&tmp, s)?;
    std::fs::rename(&tmp, dir.join("tcas.csv"))?;
    Ok(())
}

/// Notes for the report: what the numbers can and cannot show.
pub(crate) fn notes(cfg: &ExperimentConfig) -> Vec<String> {
    vec![
        "TCAS_repro, its cross-fitted form and the H-ratio are our operationalisation (the paper's TCAS formula is not public); the cross-fitted value may exceed 1.".into(),
        "ORACLE and MIX anchor the two ends of the TCAS axis by construction: part of MIM-2's correlation is built in; ρ over the label-free PIX/FEAT/RAND tokenizers is printed beside it without a criterion.".into(),
        format!(
            "Pretraining: {} epochs of batch {} on the fixed 1,297-image split (seeds vary initialisation, masking and k-means), probes {} epochs.",
            cfg.train.epochs, cfg.train.batch_size, cfg.probe.epochs
        ),
    ]
}

//! Tables, plot and claims of the report, from the final runs (cells) and their typed rows
//! (pairs by seed through [`Results::paired`]).

use std::collections::BTreeMap;

use repro_core::experiment::{Paired, Results};
use repro_core::report::{Claim, Plot, Report, Table, Verdict};
use repro_core::stats::Summary;

use crate::INFO;
use crate::datasets::Dataset;
use crate::model::Backbone;
use crate::reproduce::ResultRow;
use crate::splits::Shift;

/// Typed-row metric names.
pub(crate) const SPURIOUS_NORM: &str = "spurious_norm";
/// Invariant variance metric.
pub(crate) const INV_VARIANCE: &str = "inv_variance";

/// A (dataset, shift, backbone) cell: final runs per method label, in seed order.
/// `experiment` and `setting` key the cell's typed rows in [`Results`].
#[derive(Debug, Clone)]
pub(crate) struct Cell {
    pub(crate) dataset: Dataset,
    pub(crate) shift: Shift,
    pub(crate) backbone: Backbone,
    pub(crate) experiment: String,
    pub(crate) setting: String,
    pub(crate) runs: BTreeMap<String, Vec<ResultRow>>,
    pub(crate) order: Vec<String>,
}

impl Cell {
    fn ood(&self, m: &str) -> Option<Vec<f64>> {
        self.runs
            .get(m)
            .map(|r| r.iter().map(|x| x.record.best.ood_test).collect())
    }

    fn metric(&self, m: &str, f: impl Fn(&ResultRow) -> Option<f64>) -> Option<Vec<f64>> {
        self.runs.get(m).map(|r| r.iter().filter_map(&f).collect())
    }
}

/// Win / tie / loss of a paired difference by its 95% CI.
fn cell_verdict(d: &Summary) -> &'static str {
    if d.n < 2 || !d.ci_low.is_finite() {
        "n/a"
    } else if d.ci_above(0.0) {
        "win"
    } else if d.ci_below(0.0) {
        "loss"
    } else {
        "tie"
    }
}

fn pct(s: &Summary) -> String {
    let scaled = Summary {
        mean: s.mean * 100.0,
        std: s.std * 100.0,
        ci_low: s.ci_low * 100.0,
        ci_high: s.ci_high * 100.0,
        n: s.n,
    };
    scaled.fmt_mean_std(1)
}

fn diff_str(d: &Summary) -> String {
    if d.n < 2 || !d.ci_low.is_finite() {
        format!("{:+.1}", d.mean * 100.0)
    } else {
        format!(
            "{:+.1} [{:+.1}, {:+.1}]",
            d.mean * 100.0,
            d.ci_low * 100.0,
            d.ci_high * 100.0
        )
    }
}

fn cell_name(c: &Cell) -> (String, String, String) {
    (
        c.dataset.name().to_owned(),
        c.shift.as_str().to_owned(),
        format!("{:?}", c.backbone),
    )
}

/// Methods `a` and `b` of a cell paired by seed on `metric`; `None` when either did not run.
///
/// # Errors
/// Different seed sets, or a row without the metric.
fn paired(
    res: &Results,
    c: &Cell,
    a: &str,
    b: &str,
    metric: &str,
) -> anyhow::Result<Option<Paired>> {
    if !c.runs.contains_key(a) || !c.runs.contains_key(b) {
        return Ok(None);
    }
    let p = res.paired(&c.experiment, &c.setting, a, b, metric)?;
    Ok((!p.seeds.is_empty()).then_some(p))
}

/// Paired (by seed) OOD-test difference `method − ERM` in a cell.
fn vs_erm(res: &Results, c: &Cell, m: &str) -> anyhow::Result<Option<Summary>> {
    Ok(paired(res, c, m, "ERM", OOD_TEST)?.map(|p| p.difference()))
}

/// Name of the OOD-test accuracy metric in the typed rows.
pub(crate) const OOD_TEST: &str = "ood_test";

/// The report's tables: per cell, per method.
pub(crate) fn tables(cells: &[Cell], res: &Results, report: &mut Report) -> anyhow::Result<()> {
    let main = ["ERM", "IRM", "VREx", "CIA", "CIA-LRA"];
    let mut wide = Table::new(
        "OOD test accuracy (%) at the best OOD-validation step, mean ± std over seeds",
        &[
            "dataset", "shift", "backbone", "seeds", "ERM", "IRM", "VREx", "CIA", "CIA-LRA",
        ],
    );
    let mut long = Table::new(
        "Every method: OOD / ID test accuracy (%) and the paired OOD-test difference to ERM (95% t-CI, verdict)",
        &[
            "dataset",
            "shift",
            "backbone",
            "method",
            "λ",
            "OOD test",
            "ID test",
            "OOD val",
            "Δ vs ERM",
            "verdict",
        ],
    );
    let mut mech = Table::new(
        "CSBM mechanism: spurious weight ratio ‖W_spu‖/‖W₁‖, invariant variance (OOD-test nodes), drop of OOD test from best-val to last step (pp)",
        &[
            "variant",
            "method",
            "spurious ratio",
            "invariant variance",
            "drop best→last",
        ],
    );
    for c in cells {
        let (d, s, b) = cell_name(c);
        let seeds = c.ood("ERM").map_or(0, |v| v.len());
        let mut row = vec![d.clone(), s.clone(), b.clone(), seeds.to_string()];
        for m in main {
            row.push(c.ood(m).map_or("–".into(), |v| pct(&Summary::of(&v))));
        }
        wide.row(row);
        for m in &c.order {
            let runs = &c.runs[m];
            let ood = Summary::of(
                &runs
                    .iter()
                    .map(|r| r.record.best.ood_test)
                    .collect::<Vec<_>>(),
            );
            let id = Summary::of(
                &runs
                    .iter()
                    .map(|r| r.record.best.id_test)
                    .collect::<Vec<_>>(),
            );
            let val = Summary::of(
                &runs
                    .iter()
                    .map(|r| r.record.best.ood_val)
                    .collect::<Vec<_>>(),
            );
            let (dstr, verdict) = if m == "ERM" {
                ("–".to_owned(), "–")
            } else {
                vs_erm(res, c, m)?
                    .map_or(("–".into(), "n/a"), |x| (diff_str(&x), cell_verdict(&x)))
            };
            let hops = runs[0].hops.map_or(String::new(), |t| format!(", t={t}"));
            long.row(vec![
                d.clone(),
                s.clone(),
                b.clone(),
                m.clone(),
                format!("{}{hops}", runs[0].lambda),
                pct(&ood),
                pct(&id),
                pct(&val),
                dstr,
                verdict.into(),
            ]);
            if c.dataset == Dataset::Csbm {
                let sn = Summary::of(&c.metric(m, |r| r.spurious_norm).unwrap_or_default());
                let iv = Summary::of(&c.metric(m, |r| r.inv_variance).unwrap_or_default());
                let drop = Summary::of(
                    &c.metric(m, |r| {
                        Some(100.0 * (r.record.best.ood_test - r.record.last.ood_test))
                    })
                    .unwrap_or_default(),
                );
                mech.row(vec![
                    s.clone(),
                    m.clone(),
                    sn.fmt_mean_std(3),
                    iv.fmt_mean_std(3),
                    drop.fmt_mean_std(1),
                ]);
            }
        }
    }
    report.tables.push(wide);
    report.tables.push(long);
    if !mech.rows.is_empty() {
        report.tables.push(mech);
    }
    Ok(())
}

/// The CBAS covariate training curves.
pub(crate) fn plot(cells: &[Cell], report: &mut Report) {
    let Some(c) = cells
        .iter()
        .find(|c| c.dataset == Dataset::Cbas && c.shift == Shift::Covariate)
    else {
        return;
    };
    let mut p = Plot::line(
        "cbas_covariate_curves",
        "GOOD-CBAS covariate: OOD-test accuracy during training (mean ± std over seeds)",
        "step",
        "OOD test accuracy",
    );
    for m in &c.order {
        let runs = &c.runs[m];
        let len = runs.iter().map(|r| r.record.curve.len()).min().unwrap_or(0);
        let (pts, std): (Vec<(f64, f64)>, Vec<f64>) = (0..len)
            .map(|k| {
                let step = runs[0].record.curve[k].0 as f64;
                let at: Vec<f64> = runs.iter().map(|r| r.record.curve[k].2).collect();
                let s = Summary::of(&at);
                ((step, s.mean), s.std)
            })
            .unzip();
        p = p.series_with_err(m, pts, std);
    }
    report.plots.push(p);
}

fn find(cells: &[Cell], d: Dataset, s: Shift) -> Option<&Cell> {
    cells
        .iter()
        .find(|c| c.dataset == d && c.shift == s && c.backbone == Backbone::Gcn)
}

const SHIFTS: [Shift; 2] = [Shift::Covariate, Shift::Concept];

fn claim_g1(cells: &[Cell], res: &Results, profile: &str) -> anyhow::Result<Claim> {
    let mut c = INFO.claim("G1");
    let mut parts = Vec::new();
    let mut undecided = false;
    for m in ["CIA-LRA", "CIA"] {
        let mut verdicts = Vec::new();
        for s in SHIFTS {
            let d = match find(cells, Dataset::Cbas, s) {
                Some(cell) => vs_erm(res, cell, m)?,
                None => None,
            };
            match d {
                Some(d) => {
                    c = c.measure(
                        &format!("{m} − ERM, CBAS {} (pp)", s.as_str()),
                        [d.mean * 100.0, d.ci_low * 100.0, d.ci_high * 100.0],
                    );
                    verdicts.push(cell_verdict(&d));
                }
                None => undecided = true,
            }
        }
        if verdicts.contains(&"n/a") {
            undecided = true;
        }
        parts.push(verdicts.contains(&"win") && !verdicts.contains(&"loss"));
    }
    c = c.measure("profile", profile);
    Ok(if undecided {
        c.with_verdict(Verdict::Inconclusive)
    } else {
        c.decide(parts.iter().all(|&p| p))
    })
}

fn claim_g2(cells: &[Cell], res: &Results) -> anyhow::Result<Claim> {
    let mut c = INFO.claim("G2");
    let ds = [
        Dataset::Cbas,
        Dataset::WebKb,
        Dataset::CoraWord,
        Dataset::CoraDegree,
    ];
    let mut any_win = false;
    let mut missing = Vec::new();
    let mut undecided = false;
    for d in ds {
        for s in SHIFTS {
            let Some(cell) = find(cells, d, s) else {
                missing.push(format!("{} {}", d.name(), s.as_str()));
                continue;
            };
            for m in ["IRM", "VREx"] {
                if let Some(x) = vs_erm(res, cell, m)? {
                    c = c.measure(
                        &format!("{m} − ERM, {} {} (pp)", d.name(), s.as_str()),
                        [x.mean * 100.0, x.ci_low * 100.0, x.ci_high * 100.0],
                    );
                    match cell_verdict(&x) {
                        "win" => any_win = true,
                        "n/a" => undecided = true,
                        _ => {}
                    }
                }
            }
        }
    }
    if any_win {
        return Ok(c.with_verdict(Verdict::NotReproduced));
    }
    if !missing.is_empty() || undecided {
        return Ok(c
            .measure("cells not run (full profile decides)", missing)
            .with_verdict(Verdict::Inconclusive));
    }
    Ok(c.with_verdict(Verdict::Reproduced))
}

fn claim_g3(cells: &[Cell], res: &Results) -> anyhow::Result<Claim> {
    let mut c = INFO.claim("G3");
    let ds = [
        Dataset::WebKb,
        Dataset::CoraWord,
        Dataset::CoraDegree,
        Dataset::Twitch,
        Dataset::ArxivTime,
        Dataset::ArxivDegree,
    ];
    let (mut pos, mut ran, mut losses) = (0, 0, 0);
    let mut missing = Vec::new();
    for d in ds {
        for s in SHIFTS {
            let x = match find(cells, d, s) {
                Some(cell) => vs_erm(res, cell, "CIA-LRA")?,
                None => None,
            };
            match x {
                Some(x) => {
                    ran += 1;
                    pos += usize::from(x.mean > 0.0);
                    losses += usize::from(cell_verdict(&x) == "loss");
                    c = c.measure(
                        &format!("CIA-LRA − ERM, {} {} (pp)", d.name(), s.as_str()),
                        x.mean * 100.0,
                    );
                }
                None => missing.push(format!("{} {}", d.name(), s.as_str())),
            }
        }
    }
    c = c
        .measure("cells with positive mean", pos)
        .measure("cells run", ran)
        .measure("losses", losses)
        .measure("cells not run", missing);
    if ran < 6 {
        return Ok(c
            .measure(
                "note",
                "fewer than 6 real-data cells ran: the full profile decides",
            )
            .with_verdict(Verdict::Inconclusive));
    }
    Ok(c.decide(3 * pos >= 2 * ran && losses <= 1))
}

/// Paired `a − b` on `metric` with at least 2 seeds, or `None`.
fn paired_n2(
    res: &Results,
    cell: &Cell,
    a: &str,
    b: &str,
    metric: &str,
) -> anyhow::Result<Option<Summary>> {
    Ok(paired(res, cell, a, b, metric)?
        .filter(|p| p.seeds.len() >= 2)
        .map(|p| p.difference()))
}

/// G4a: spurious weight ratio.
fn claim_g4a(cells: &[Cell], res: &Results) -> anyhow::Result<Claim> {
    let mut a = INFO.claim("G4a");
    let mut ok_a = true;
    let mut und_a = false;
    for s in SHIFTS {
        let Some(cell) = find(cells, Dataset::Csbm, s) else {
            und_a = true;
            continue;
        };
        for m in ["CIA", "CIA-LRA"] {
            let Some(d) = paired_n2(res, cell, m, "ERM", SPURIOUS_NORM)? else {
                und_a = true;
                continue;
            };
            a = a.measure(
                &format!("{m} − ERM, CSBM {}", s.as_str()),
                [d.mean, d.ci_low, d.ci_high],
            );
            ok_a &= d.ci_below(0.0);
        }
    }
    Ok(if und_a {
        a.with_verdict(Verdict::Inconclusive)
    } else {
        a.decide(ok_a)
    })
}

/// G4b: large-λ variance collapse.
fn claim_g4b(cells: &[Cell], res: &Results, mech_lambda: Option<f64>) -> anyhow::Result<Claim> {
    let mut b = INFO.claim("G4b");
    let mut ok_b = true;
    let mut und_b = mech_lambda.is_none();
    if let Some(l) = mech_lambda {
        for s in SHIFTS {
            let Some(cell) = find(cells, Dataset::Csbm, s) else {
                und_b = true;
                continue;
            };
            let (ci, lr) = (format!("CIA λ={l}"), format!("CIA-LRA λ={l}"));
            let Some(d) = paired_n2(res, cell, &ci, &lr, INV_VARIANCE)? else {
                und_b = true;
                continue;
            };
            let drop = |m: &str| {
                Summary::of(
                    &cell
                        .metric(m, |r| Some(r.record.best.ood_test - r.record.last.ood_test))
                        .unwrap_or_default(),
                )
                .mean
            };
            let (da, db) = (drop(&ci), drop(&lr));
            b = b
                .measure(
                    &format!("inv. variance CIA − CIA-LRA, CSBM {}", s.as_str()),
                    [d.mean, d.ci_low, d.ci_high],
                )
                .measure(
                    &format!("drop CIA / CIA-LRA (pp), CSBM {}", s.as_str()),
                    [da * 100.0, db * 100.0],
                );
            ok_b &= d.ci_below(0.0) && da > db;
        }
    }
    Ok(if und_b {
        b.with_verdict(Verdict::Inconclusive)
    } else {
        b.decide(ok_b)
    })
}

/// G4c: ERM below the invariant-only oracle.
fn claim_g4c(cells: &[Cell], res: &Results) -> anyhow::Result<Claim> {
    let c = INFO.claim("G4c");
    let d = match find(cells, Dataset::Csbm, Shift::Concept) {
        Some(cell) => paired_n2(res, cell, "ERM", "Oracle (x_inv only)", OOD_TEST)?,
        None => None,
    };
    Ok(match d {
        Some(d) => c
            .measure(
                "ERM − oracle (pp)",
                [d.mean * 100.0, d.ci_low * 100.0, d.ci_high * 100.0],
            )
            .decide(d.ci_below(0.0)),
        None => c.with_verdict(Verdict::Inconclusive),
    })
}

fn claim_g5(cells: &[Cell]) -> Claim {
    let c = INFO.claim("G5");
    let Some(rows) =
        find(cells, Dataset::CoraWord, Shift::Covariate).and_then(|cell| cell.runs.get("ERM"))
    else {
        return c
            .measure(
                "note",
                "Cora-word covariate did not run in this profile: the full profile decides",
            )
            .with_verdict(Verdict::Inconclusive);
    };
    let per_seed: Vec<&Vec<Option<f64>>> =
        rows.iter().filter_map(|r| r.lra_premise.as_ref()).collect();
    let classes = per_seed.first().map_or(0, |v| v.len());
    let means: Vec<f64> = (0..classes)
        .map(|k| {
            let v: Vec<f64> = per_seed.iter().filter_map(|s| s[k]).collect();
            Summary::of(&v).mean
        })
        .collect();
    let positive = means.iter().filter(|&&m| m > 0.0).count();
    c.measure("mean ρ per class", &means)
        .measure("classes with ρ > 0", positive)
        .decide(classes == 7 && positive >= 5)
}

/// Every claim, decided from the cells (claims of experiments that did not run are made
/// inconclusive by the caller through [`PaperInfo::finish_claims`](repro_core::experiment::PaperInfo::finish_claims)).
pub(crate) fn claims(
    cells: &[Cell],
    res: &Results,
    profile: &str,
    mech_lambda: Option<f64>,
) -> anyhow::Result<Vec<Claim>> {
    Ok(vec![
        claim_g1(cells, res, profile)?,
        claim_g2(cells, res)?,
        claim_g3(cells, res)?,
        claim_g4a(cells, res)?,
        claim_g4b(cells, res, mech_lambda)?,
        claim_g4c(cells, res)?,
        claim_g5(cells),
    ])
}

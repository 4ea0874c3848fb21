//! Prevalence with Wilson intervals, contingency tables with χ², Cramér's V and the share
//! of small expected counts, and their CSV / Markdown / Sankey-edge forms (our
//! operationalisation of the paper's tables).
//!
//! - Wilson (score) interval of a proportion `p = k/n` at `z`: centre
//!   `(p + z²/2n)/(1 + z²/n)`, half-width `z/(1 + z²/n) · sqrt(p(1−p)/n + z²/4n²)`;
//!   bounds are proportions in `[0, 1]`.
//! - Ranking: count descending, ties by name ascending.
//! - χ² = Σ (O − E)²/E with `E = row · col / n`, dof `(r−1)(c−1)`, `p = Q(dof/2, χ²/2)`
//!   (upper regularised gamma, [`repro_core::special::gamma_q`]),
//!   `V = sqrt(χ² / (n (min(r, c) − 1)))`. Undefined (NaN) for a single row or column.
//!
//! ```
//! use repro_llm_issues::tables::{contingency_from_counts, wilson};
//! let (lo, hi) = wilson(50, 100, 1.96)?;
//! assert!((lo - 0.4038).abs() < 1e-4 && (hi - 0.5962).abs() < 1e-4);
//! let t = contingency_from_counts(&["a", "b"], &["x", "y"], vec![vec![10, 20], vec![30, 40]])?;
//! assert!((t.chi2 - 0.79365).abs() < 1e-5 && t.dof == 1);
//! # Ok::<(), repro_llm_issues::tables::TableError>(())
//! ```

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Bad table input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TableError {
    /// No labels at all.
    #[error("empty sample: no labels to tabulate")]
    Empty,
    /// Paired label lists of different lengths.
    #[error("{a} row labels against {b} column labels")]
    Length {
        /// Row labels.
        a: usize,
        /// Column labels.
        b: usize,
    },
    /// A count matrix that does not match its labels.
    #[error("count matrix is not {rows} x {cols}")]
    Shape {
        /// Rows expected.
        rows: usize,
        /// Columns expected.
        cols: usize,
    },
    /// `k > n`.
    #[error("{k} successes out of {n} trials")]
    Proportion {
        /// Successes.
        k: u64,
        /// Trials.
        n: u64,
    },
}

/// Wilson score interval of `k` out of `n` at `z`, as proportions.
pub fn wilson(k: u64, n: u64, z: f64) -> Result<(f64, f64), TableError> {
    if n == 0 {
        return Err(TableError::Empty);
    }
    if k > n {
        return Err(TableError::Proportion { k, n });
    }
    let (kf, nf) = (k as f64, n as f64);
    let p = kf / nf;
    let z2 = z * z;
    let denom = 1.0 + z2 / nf;
    let centre = (p + z2 / (2.0 * nf)) / denom;
    let half = z / denom * (p * (1.0 - p) / nf + z2 / (4.0 * nf * nf)).sqrt();
    Ok(((centre - half).max(0.0), (centre + half).min(1.0)))
}

/// One row of a prevalence table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PrevRow {
    /// Category.
    pub label: String,
    /// Items with it.
    pub count: u64,
    /// Percentage of all items.
    pub pct: f64,
    /// Wilson lower bound (proportion).
    pub wilson_lo: f64,
    /// Wilson upper bound (proportion).
    pub wilson_hi: f64,
}

/// `(label, count)` ranked: count descending, ties by name.
pub fn ranking(counts: &BTreeMap<String, u64>) -> Vec<(String, u64)> {
    let mut v: Vec<(String, u64)> = counts.iter().map(|(k, &c)| (k.clone(), c)).collect();
    v.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    v
}

/// Counts per label.
pub fn tally<S: AsRef<str>>(labels: &[S]) -> BTreeMap<String, u64> {
    let mut m = BTreeMap::new();
    for l in labels {
        *m.entry(l.as_ref().to_owned()).or_default() += 1;
    }
    m
}

/// The prevalence table of `labels` (one per item), ranked, with Wilson intervals at `z`.
pub fn prevalence<S: AsRef<str>>(labels: &[S], z: f64) -> Result<Vec<PrevRow>, TableError> {
    if labels.is_empty() {
        return Err(TableError::Empty);
    }
    let n = labels.len() as u64;
    ranking(&tally(labels))
        .into_iter()
        .map(|(label, count)| {
            let (lo, hi) = wilson(count, n, z)?;
            Ok(PrevRow {
                label,
                count,
                pct: 100.0 * count as f64 / n as f64,
                wilson_lo: lo,
                wilson_hi: hi,
            })
        })
        .collect()
}

/// A two-way table with its association statistics.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Contingency {
    /// Row labels (by total, descending; ties by name).
    pub rows: Vec<String>,
    /// Column labels (same order rule).
    pub cols: Vec<String>,
    /// `counts[r][c]`.
    pub counts: Vec<Vec<u64>>,
    /// Total.
    pub n: u64,
    /// Pearson's χ².
    pub chi2: f64,
    /// Degrees of freedom.
    pub dof: usize,
    /// Upper-tail p-value.
    pub p: f64,
    /// Cramér's V.
    pub cramers_v: f64,
    /// Share of cells with expected count below 5.
    pub frac_expected_below_5: f64,
}

impl Contingency {
    /// Row percentages (each row sums to 100).
    pub fn row_pct(&self) -> Vec<Vec<f64>> {
        self.counts
            .iter()
            .map(|r| {
                let s: u64 = r.iter().sum();
                r.iter()
                    .map(|&c| {
                        if s == 0 {
                            0.0
                        } else {
                            100.0 * c as f64 / s as f64
                        }
                    })
                    .collect()
            })
            .collect()
    }

    /// Column percentages (each column sums to 100).
    pub fn col_pct(&self) -> Vec<Vec<f64>> {
        let sums: Vec<u64> = (0..self.cols.len())
            .map(|j| self.counts.iter().map(|r| r[j]).sum())
            .collect();
        self.counts
            .iter()
            .map(|r| {
                r.iter()
                    .zip(&sums)
                    .map(|(&c, &s)| {
                        if s == 0 {
                            0.0
                        } else {
                            100.0 * c as f64 / s as f64
                        }
                    })
                    .collect()
            })
            .collect()
    }

    /// The table as CSV: a header `row,<cols...>,total`, one line per row.
    pub fn to_csv(&self) -> String {
        let mut header = vec![String::new()];
        header.extend(self.cols.iter().cloned());
        header.push("total".into());
        let mut rows = vec![header];
        for (r, label) in self.rows.iter().enumerate() {
            let mut line = vec![label.clone()];
            line.extend(self.counts[r].iter().map(u64::to_string));
            line.push(self.counts[r].iter().sum::<u64>().to_string());
            rows.push(line);
        }
        csv_of(&rows)
    }

    /// Markdown: counts with row percentages, and the statistics underneath.
    pub fn to_markdown(&self) -> String {
        let pct = self.row_pct();
        let mut md = format!(
            "| | {} | total |\n",
            self.cols
                .iter()
                .map(|c| md_cell(c))
                .collect::<Vec<_>>()
                .join(" | ")
        );
        md += &format!("|---|{}---|\n", "---|".repeat(self.cols.len()));
        for (r, label) in self.rows.iter().enumerate() {
            let cells: Vec<String> = self.counts[r]
                .iter()
                .zip(&pct[r])
                .map(|(c, p)| format!("{c} ({p:.1}%)"))
                .collect();
            md += &format!(
                "| {} | {} | {} |\n",
                md_cell(label),
                cells.join(" | "),
                self.counts[r].iter().sum::<u64>()
            );
        }
        md += &format!(
            "\nn = {}, χ² = {:.2}, dof = {}, p = {}, Cramér's V = {:.4}, cells with E < 5: {:.1}%\n",
            self.n,
            self.chi2,
            self.dof,
            fmt_p(self.p),
            self.cramers_v,
            100.0 * self.frac_expected_below_5
        );
        md
    }

    /// Sankey edges `source,target,count` (non-zero cells, in table order).
    pub fn sankey_edges_csv(&self) -> String {
        let mut rows = vec![vec!["source".to_owned(), "target".into(), "count".into()]];
        for (r, a) in self.rows.iter().enumerate() {
            for (c, b) in self.cols.iter().enumerate() {
                if self.counts[r][c] > 0 {
                    rows.push(vec![a.clone(), b.clone(), self.counts[r][c].to_string()]);
                }
            }
        }
        csv_of(&rows)
    }
}

/// A p-value for a table: 4 significant digits, `< 1e-16` below that.
pub fn fmt_p(p: f64) -> String {
    if p.is_nan() {
        "NaN".into()
    } else if p < 1e-16 {
        "< 1e-16".into()
    } else if p < 1e-3 {
        format!("{p:.3e}")
    } else {
        format!("{p:.4}")
    }
}

fn md_cell(s: &str) -> String {
    s.replace('|', "\\|")
}

/// Rows as RFC 4180 CSV.
pub fn csv_of(rows: &[Vec<String>]) -> String {
    let mut w = csv::WriterBuilder::new()
        .terminator(csv::Terminator::Any(b'\n'))
        .from_writer(Vec::new());
    for r in rows {
        // Writing into a Vec cannot fail.
        let _ = w.write_record(r);
    }
    String::from_utf8(w.into_inner().unwrap_or_default()).unwrap_or_default()
}

/// A prevalence table as CSV (`label,count,pct,wilson_lo,wilson_hi`).
pub fn prevalence_csv(rows: &[PrevRow]) -> String {
    let mut out = vec![vec![
        "label".to_owned(),
        "count".into(),
        "pct".into(),
        "wilson_lo".into(),
        "wilson_hi".into(),
    ]];
    for r in rows {
        out.push(vec![
            r.label.clone(),
            r.count.to_string(),
            format!("{:.2}", r.pct),
            format!("{:.4}", r.wilson_lo),
            format!("{:.4}", r.wilson_hi),
        ]);
    }
    csv_of(&out)
}

/// A prevalence table as Markdown.
pub fn prevalence_markdown(rows: &[PrevRow]) -> String {
    let mut md =
        String::from("| rank | category | count | % | 95% Wilson |\n|---|---|---|---|---|\n");
    for (i, r) in rows.iter().enumerate() {
        md += &format!(
            "| {} | {} | {} | {:.1} | [{:.1}, {:.1}] |\n",
            i + 1,
            md_cell(&r.label),
            r.count,
            r.pct,
            100.0 * r.wilson_lo,
            100.0 * r.wilson_hi
        );
    }
    md
}

/// Cross-tabulates paired labels (`a[i]` row, `b[i]` column).
pub fn contingency<S: AsRef<str>>(a: &[S], b: &[S]) -> Result<Contingency, TableError> {
    if a.len() != b.len() {
        return Err(TableError::Length {
            a: a.len(),
            b: b.len(),
        });
    }
    if a.is_empty() {
        return Err(TableError::Empty);
    }
    let rows: Vec<String> = ranking(&tally(a)).into_iter().map(|(l, _)| l).collect();
    let cols: Vec<String> = ranking(&tally(b)).into_iter().map(|(l, _)| l).collect();
    let ri: BTreeMap<&str, usize> = rows
        .iter()
        .enumerate()
        .map(|(i, l)| (l.as_str(), i))
        .collect();
    let ci: BTreeMap<&str, usize> = cols
        .iter()
        .enumerate()
        .map(|(i, l)| (l.as_str(), i))
        .collect();
    let mut counts = vec![vec![0u64; cols.len()]; rows.len()];
    for (x, y) in a.iter().zip(b) {
        counts[ri[x.as_ref()]][ci[y.as_ref()]] += 1;
    }
    let rows_ref: Vec<&str> = rows.iter().map(String::as_str).collect();
    let cols_ref: Vec<&str> = cols.iter().map(String::as_str).collect();
    contingency_from_counts(&rows_ref, &cols_ref, counts)
}

/// A contingency table from a count matrix (labels kept in the order given).
pub fn contingency_from_counts(
    rows: &[&str],
    cols: &[&str],
    counts: Vec<Vec<u64>>,
) -> Result<Contingency, TableError> {
    if counts.len() != rows.len() || counts.iter().any(|r| r.len() != cols.len()) {
        return Err(TableError::Shape {
            rows: rows.len(),
            cols: cols.len(),
        });
    }
    let n: u64 = counts.iter().flatten().sum();
    if n == 0 {
        return Err(TableError::Empty);
    }
    let rsum: Vec<f64> = counts
        .iter()
        .map(|r| r.iter().sum::<u64>() as f64)
        .collect();
    let csum: Vec<f64> = (0..cols.len())
        .map(|j| counts.iter().map(|r| r[j]).sum::<u64>() as f64)
        .collect();
    let nf = n as f64;
    let mut chi2 = 0.0;
    let mut small = 0usize;
    for (r, row) in counts.iter().enumerate() {
        for (c, &o) in row.iter().enumerate() {
            let e = rsum[r] * csum[c] / nf;
            if e < 5.0 {
                small += 1;
            }
            if e > 0.0 {
                chi2 += (o as f64 - e).powi(2) / e;
            }
        }
    }
    let (r, c) = (rows.len(), cols.len());
    let dof = r.saturating_sub(1) * c.saturating_sub(1);
    let (p, v) = if dof == 0 {
        (f64::NAN, f64::NAN)
    } else {
        (
            repro_core::special::gamma_q(dof as f64 / 2.0, chi2 / 2.0),
            (chi2 / (nf * (r.min(c) - 1) as f64)).sqrt(),
        )
    };
    Ok(Contingency {
        rows: rows.iter().map(|s| (*s).to_owned()).collect(),
        cols: cols.iter().map(|s| (*s).to_owned()).collect(),
        counts,
        n,
        chi2,
        dof,
        p,
        cramers_v: v,
        frac_expected_below_5: small as f64 / (r * c) as f64,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use repro_core::rng::SplitMix64;

    #[test]
    fn wilson_hand_values() {
        let (lo, hi) = wilson(50, 100, 1.96).unwrap();
        assert!(
            (lo - 0.4038).abs() < 5e-5 && (hi - 0.5962).abs() < 5e-5,
            "{lo} {hi}"
        );
        let (lo, hi) = wilson(0, 994, 1.96).unwrap();
        assert_eq!(lo, 0.0);
        assert!(hi > 0.0 && hi < 0.005, "{hi}");
        let (lo, hi) = wilson(295, 706, 1.96).unwrap();
        assert!(
            (lo - 0.3820).abs() < 5e-5 && (hi - 0.4546).abs() < 5e-5,
            "{lo} {hi}"
        );
        let (lo, hi) = wilson(7, 7, 1.96).unwrap();
        assert!(hi <= 1.0 && lo > 0.5);
        assert_eq!(wilson(1, 0, 1.96), Err(TableError::Empty));
        assert_eq!(
            wilson(3, 2, 1.96),
            Err(TableError::Proportion { k: 3, n: 2 })
        );
    }

    #[test]
    fn contingency_hand_values() {
        // E = [[12, 18], [28, 42]]; χ² = 4/12 + 4/18 + 4/28 + 4/42 = 0.793651.
        let t = contingency_from_counts(&["a", "b"], &["x", "y"], vec![vec![10, 20], vec![30, 40]])
            .unwrap();
        assert!((t.chi2 - 0.793_651).abs() < 1e-6, "{}", t.chi2);
        assert_eq!(t.dof, 1);
        assert!((t.p - 0.37300).abs() < 5e-6, "{}", t.p);
        assert!((t.cramers_v - 0.08909).abs() < 5e-6, "{}", t.cramers_v);
        assert_eq!(t.frac_expected_below_5, 0.0);
        let rp = t.row_pct();
        assert!((rp[0][0] - 100.0 / 3.0).abs() < 1e-9);
        assert!((t.col_pct()[1][1] - 200.0 / 3.0).abs() < 1e-9);
        assert_eq!(t.to_csv(), ",x,y,total\na,10,20,30\nb,30,40,70\n");
        assert_eq!(
            t.sankey_edges_csv(),
            "source,target,count\na,x,10\na,y,20\nb,x,30\nb,y,40\n"
        );
        // From labels: rows and columns ranked by total.
        let a = ["r1", "r2", "r2", "r2"];
        let b = ["c1", "c1", "c2", "c2"];
        let t = contingency(&a, &b).unwrap();
        assert_eq!(t.rows, ["r2", "r1"]);
        assert_eq!(t.counts, vec![vec![1, 2], vec![1, 0]]);
        assert_eq!(t.frac_expected_below_5, 1.0);
        assert!(contingency(&["a"], &["x"]).unwrap().p.is_nan());
        assert_eq!(contingency::<&str>(&[], &[]), Err(TableError::Empty));
        assert!(contingency(&["a"], &["x", "y"]).is_err());
        assert!(contingency_from_counts(&["a"], &["x"], vec![vec![1, 2]]).is_err());
    }

    #[test]
    fn prevalence_sums_to_100_and_ranks_by_count_then_name() {
        let mut rng = SplitMix64::new(11);
        for _ in 0..200 {
            let k = 1 + rng.below(8);
            let counts: Vec<u64> = (0..k).map(|_| rng.below(6) as u64).collect();
            let labels: Vec<String> = counts
                .iter()
                .enumerate()
                .flat_map(|(i, &c)| std::iter::repeat_n(format!("c{}", (i * 7) % 11), c as usize))
                .collect();
            if labels.is_empty() {
                assert_eq!(prevalence(&labels, 1.96), Err(TableError::Empty));
                continue;
            }
            let rows = prevalence(&labels, 1.96).unwrap();
            let total: f64 = rows.iter().map(|r| r.pct).sum();
            assert!((total - 100.0).abs() < 0.1, "{total}");
            for w in rows.windows(2) {
                assert!(
                    w[0].count > w[1].count
                        || (w[0].count == w[1].count && w[0].label < w[1].label)
                );
            }
            assert!(
                rows.iter()
                    .all(|r| r.wilson_lo <= r.pct / 100.0 && r.pct / 100.0 <= r.wilson_hi)
            );
        }
    }

    #[test]
    fn markdown_golden() {
        let rows = prevalence(&["b", "a", "b", "c|d"], 1.96).unwrap();
        let md = prevalence_markdown(&rows);
        let golden = "| rank | category | count | % | 95% Wilson |\n|---|---|---|---|---|\n\
                      | 1 | b | 2 | 50.0 | [15.0, 85.0] |\n\
                      | 2 | a | 1 | 25.0 | [4.6, 69.9] |\n\
                      | 3 | c\\|d | 1 | 25.0 | [4.6, 69.9] |\n";
        assert_eq!(md, golden);
        assert_eq!(
            prevalence_csv(&rows[..1]),
            "label,count,pct,wilson_lo,wilson_hi\nb,2,50.00,0.1500,0.8500\n"
        );
        let t = contingency_from_counts(&["a"], &["x", "y"], vec![vec![1, 3]]).unwrap();
        assert!(
            t.to_markdown().starts_with(
                "| | x | y | total |\n|---|---|---|---|\n| a | 1 (25.0%) | 3 (75.0%) | 4 |\n"
            ),
            "{}",
            t.to_markdown()
        );
    }
}

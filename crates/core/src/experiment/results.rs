//! Typed results: rows of (experiment, setting, method, seed) → named metrics, paired
//! across methods **by seed**, never by position.

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer, Serialize};

use super::plan::Job;
use crate::report::Table;
use crate::stats::{Summary, paired_difference};

/// The numbers of one (experiment, setting, method, seed).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Row {
    /// Experiment name.
    pub experiment: String,
    /// Setting within it.
    pub setting: String,
    /// Method.
    pub method: String,
    /// Seed (`None` for a number that is not one seed's, e.g. an oracle's).
    pub seed: Option<u64>,
    /// Named metrics (non-finite values are stored as `null` in JSON and read back as NaN).
    #[serde(deserialize_with = "nan_from_null")]
    pub metrics: BTreeMap<String, f64>,
}

fn nan_from_null<'de, D: Deserializer<'de>>(d: D) -> Result<BTreeMap<String, f64>, D::Error> {
    let m = BTreeMap::<String, Option<f64>>::deserialize(d)?;
    Ok(m.into_iter()
        .map(|(k, v)| (k, v.unwrap_or(f64::NAN)))
        .collect())
}

impl Row {
    /// An empty row.
    pub fn new(experiment: &str, setting: &str, method: &str, seed: Option<u64>) -> Self {
        Self {
            experiment: experiment.into(),
            setting: setting.into(),
            method: method.into(),
            seed,
            metrics: BTreeMap::new(),
        }
    }

    /// An empty row keyed like `job`.
    pub fn of(job: &Job) -> Self {
        Self::new(&job.experiment, &job.setting, &job.method, job.seed)
    }

    /// The same key with another method (a job that runs several methods on one seed).
    pub fn with_method(mut self, method: &str) -> Self {
        self.method = method.into();
        self
    }

    /// Adds a metric.
    pub fn metric(mut self, name: &str, value: f64) -> Self {
        self.metrics.insert(name.into(), value);
        self
    }
}

/// What to do when two methods were run on different seeds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SeedPolicy {
    /// Different seed sets are an error naming the seeds.
    Strict,
    /// Pair the common seeds and list the others in [`Paired::excluded`].
    CommonSeeds,
}

/// Two methods' values on the same seeds.
#[derive(Debug, Clone, PartialEq)]
pub struct Paired {
    /// The seeds, ascending.
    pub seeds: Vec<u64>,
    /// First method's values, one per seed.
    pub a: Vec<f64>,
    /// Second method's values, one per seed.
    pub b: Vec<f64>,
    /// Seeds that only one method has (empty under [`SeedPolicy::Strict`]).
    pub excluded: Vec<u64>,
}

impl Paired {
    /// Summary of `a − b` per seed (mean, std, 95% CI).
    pub fn difference(&self) -> Summary {
        paired_difference(&self.a, &self.b)
    }

    /// Seeds on which `a` beats `b` by `> 0`.
    pub fn wins(&self) -> usize {
        self.a.iter().zip(&self.b).filter(|(x, y)| x > y).count()
    }
}

/// All rows of a run, with lookups by key.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Results {
    rows: Vec<Row>,
}

impl Results {
    /// Results from rows.
    pub fn new(rows: Vec<Row>) -> Self {
        Self { rows }
    }

    /// Appends a row.
    pub fn push(&mut self, row: Row) {
        self.rows.push(row);
    }

    /// All rows, in the order they were added (plan order for a run).
    pub fn rows(&self) -> &[Row] {
        &self.rows
    }

    /// Rows of one (experiment, setting, method).
    pub fn select<'a>(
        &'a self,
        experiment: &'a str,
        setting: &'a str,
        method: &'a str,
    ) -> impl Iterator<Item = &'a Row> + 'a {
        self.rows.iter().filter(move |r| {
            r.experiment == experiment && r.setting == setting && r.method == method
        })
    }

    /// Settings of an experiment, in first-seen order.
    pub fn settings(&self, experiment: &str) -> Vec<String> {
        let mut v: Vec<String> = Vec::new();
        for r in self.rows.iter().filter(|r| r.experiment == experiment) {
            if !v.contains(&r.setting) {
                v.push(r.setting.clone());
            }
        }
        v
    }

    /// Methods of a setting, in first-seen order.
    pub fn methods(&self, experiment: &str, setting: &str) -> Vec<String> {
        let mut v: Vec<String> = Vec::new();
        for r in self
            .rows
            .iter()
            .filter(|r| r.experiment == experiment && r.setting == setting)
        {
            if !v.contains(&r.method) {
                v.push(r.method.clone());
            }
        }
        v
    }

    /// A metric of one (experiment, setting, method) by seed. Errors if a seed appears
    /// twice, a row has no seed, or a row lacks the metric.
    pub fn by_seed(
        &self,
        experiment: &str,
        setting: &str,
        method: &str,
        metric: &str,
    ) -> anyhow::Result<BTreeMap<u64, f64>> {
        let key = || format!("{experiment}/{setting}/{method}");
        let mut out = BTreeMap::new();
        for r in self.select(experiment, setting, method) {
            let seed = r
                .seed
                .ok_or_else(|| anyhow::anyhow!("{}: a row without a seed", key()))?;
            let v = *r
                .metrics
                .get(metric)
                .ok_or_else(|| anyhow::anyhow!("{} seed {seed}: no metric `{metric}`", key()))?;
            if out.insert(seed, v).is_some() {
                anyhow::bail!("{}: seed {seed} appears twice", key());
            }
        }
        Ok(out)
    }

    /// A metric's values in seed order (empty when the method did not run).
    pub fn values(
        &self,
        experiment: &str,
        setting: &str,
        method: &str,
        metric: &str,
    ) -> anyhow::Result<Vec<f64>> {
        Ok(self
            .by_seed(experiment, setting, method, metric)?
            .into_values()
            .collect())
    }

    /// Mean, std and 95% CI of a metric over seeds.
    pub fn summary(
        &self,
        experiment: &str,
        setting: &str,
        method: &str,
        metric: &str,
    ) -> anyhow::Result<Summary> {
        Ok(Summary::of(
            &self.values(experiment, setting, method, metric)?,
        ))
    }

    /// Methods `a` and `b` paired by seed; different seed sets are an error.
    pub fn paired(
        &self,
        experiment: &str,
        setting: &str,
        a: &str,
        b: &str,
        metric: &str,
    ) -> anyhow::Result<Paired> {
        self.paired_with(experiment, setting, a, b, metric, SeedPolicy::Strict)
    }

    /// Methods `a` and `b` paired by seed under `policy`.
    pub fn paired_with(
        &self,
        experiment: &str,
        setting: &str,
        a: &str,
        b: &str,
        metric: &str,
        policy: SeedPolicy,
    ) -> anyhow::Result<Paired> {
        let va = self.by_seed(experiment, setting, a, metric)?;
        let vb = self.by_seed(experiment, setting, b, metric)?;
        let only = |x: &BTreeMap<u64, f64>, y: &BTreeMap<u64, f64>| -> Vec<u64> {
            x.keys().filter(|k| !y.contains_key(k)).copied().collect()
        };
        let (only_a, only_b) = (only(&va, &vb), only(&vb, &va));
        if policy == SeedPolicy::Strict && (!only_a.is_empty() || !only_b.is_empty()) {
            anyhow::bail!(
                "{experiment}/{setting}: cannot pair `{a}` with `{b}` on {metric}: seeds only in `{a}`: {only_a:?}, only in `{b}`: {only_b:?}"
            );
        }
        let seeds: Vec<u64> = va.keys().filter(|k| vb.contains_key(k)).copied().collect();
        let mut excluded: Vec<u64> = only_a.into_iter().chain(only_b).collect();
        excluded.sort_unstable();
        Ok(Paired {
            a: seeds.iter().map(|s| va[s]).collect(),
            b: seeds.iter().map(|s| vb[s]).collect(),
            seeds,
            excluded,
        })
    }

    /// The table every paper prints: per setting and method, `n`, mean ± sample std of
    /// `metric` (times `scale`, with `digits` decimals), and with a `baseline` the paired
    /// difference to it with its 95% CI.
    pub fn summary_table(
        &self,
        title: &str,
        experiment: &str,
        metric: &str,
        baseline: Option<&str>,
        scale: f64,
        digits: usize,
    ) -> anyhow::Result<Table> {
        let mut cols = vec!["setting", "method", "n", "mean ± std"];
        let diff_col = baseline.map(|b| format!("Δ vs {b} [95% CI]"));
        if let Some(c) = &diff_col {
            cols.push(c);
        }
        let mut t = Table::new(title, &cols);
        for setting in self.settings(experiment) {
            for method in self.methods(experiment, &setting) {
                let v = self.values(experiment, &setting, &method, metric)?;
                let s = Summary::of(&v.iter().map(|x| x * scale).collect::<Vec<_>>());
                let mut row = vec![
                    setting.clone(),
                    method.clone(),
                    s.n.to_string(),
                    s.fmt_mean_std(digits),
                ];
                if let Some(b) = baseline {
                    row.push(if method == b {
                        "–".into()
                    } else {
                        let p = self.paired(experiment, &setting, &method, b, metric)?;
                        let d = Summary::of(
                            &p.a.iter()
                                .zip(&p.b)
                                .map(|(x, y)| (x - y) * scale)
                                .collect::<Vec<_>>(),
                        );
                        format!(
                            "{:+.digits$} [{:+.digits$}, {:+.digits$}]",
                            d.mean, d.ci_low, d.ci_high
                        )
                    });
                }
                t.row(row);
            }
        }
        Ok(t)
    }
}

impl FromIterator<Row> for Results {
    fn from_iter<I: IntoIterator<Item = Row>>(iter: I) -> Self {
        Self::new(iter.into_iter().collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn results(seeds_a: &[u64], seeds_b: &[u64]) -> Results {
        let mut r = Results::default();
        // Rows deliberately out of seed order: pairing must not depend on position.
        for &s in seeds_a.iter().rev() {
            r.push(Row::new("e", "x", "A", Some(s)).metric("acc", 0.5 + s as f64));
        }
        for &s in seeds_b {
            r.push(Row::new("e", "x", "B", Some(s)).metric("acc", 0.25 + 2.0 * s as f64));
        }
        r
    }

    #[test]
    fn pairs_by_seed_not_by_position() {
        let r = results(&[0, 1, 2], &[0, 1, 2]);
        let p = r.paired("e", "x", "B", "A", "acc").unwrap();
        assert_eq!(p.seeds, vec![0, 1, 2]);
        // B − A = (0.25 + 2s) − (0.5 + s) = s − 0.25.
        let d: Vec<f64> = p.a.iter().zip(&p.b).map(|(a, b)| a - b).collect();
        assert_eq!(d, vec![-0.25, 0.75, 1.75]);
        assert_eq!(p.wins(), 2);
        assert!((p.difference().mean - 0.75).abs() < 1e-12);
    }

    #[test]
    fn different_seed_sets_are_an_error_or_an_explicit_exclusion() {
        let r = results(&[0, 1, 2], &[0, 2, 3]);
        let e = r.paired("e", "x", "A", "B", "acc").unwrap_err().to_string();
        assert!(
            e.contains("only in `A`: [1]") && e.contains("only in `B`: [3]"),
            "{e}"
        );
        let p = r
            .paired_with("e", "x", "A", "B", "acc", SeedPolicy::CommonSeeds)
            .unwrap();
        assert_eq!(p.seeds, vec![0, 2]);
        assert_eq!(p.excluded, vec![1, 3]);
        assert_eq!(p.a, vec![0.5, 2.5]);
        assert_eq!(p.b, vec![0.25, 4.25]);
    }

    #[test]
    fn duplicates_and_missing_metrics_are_errors() {
        let mut r = results(&[0], &[0]);
        r.push(Row::new("e", "x", "A", Some(0)).metric("acc", 1.0));
        assert!(
            r.values("e", "x", "A", "acc")
                .unwrap_err()
                .to_string()
                .contains("twice")
        );
        assert!(
            r.values("e", "x", "B", "f1")
                .unwrap_err()
                .to_string()
                .contains("`f1`")
        );
        assert!(r.values("e", "x", "C", "acc").unwrap().is_empty());
    }

    #[test]
    fn summary_table_has_mean_std_and_paired_ci() {
        let r = results(&[0, 1, 2], &[0, 1, 2]);
        let t = r
            .summary_table("acc", "e", "acc", Some("A"), 1.0, 2)
            .unwrap();
        assert_eq!(t.columns[4], "Δ vs A [95% CI]");
        assert_eq!(t.rows[0][..4], ["x", "A", "3", "1.50 ± 1.00"]);
        assert_eq!(t.rows[0][4], "–");
        assert!(t.rows[1][4].starts_with("+0.75 ["), "{:?}", t.rows[1]);
    }

    #[test]
    fn nan_metrics_survive_json() {
        let row = Row::new("e", "x", "A", Some(0)).metric("loss", f64::NAN);
        let text = serde_json::to_string(&row).unwrap();
        assert!(text.contains("null"));
        let back: Row = serde_json::from_str(&text).unwrap();
        assert!(back.metrics["loss"].is_nan());
    }
}

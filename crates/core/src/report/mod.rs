//! Claims with verdicts decided by code, and the report a reproduction writes.
//!
//! A paper crate's `reproduce(&Options) -> anyhow::Result<Report>` runs its seeds, fills
//! [`Report::results`] with per-seed numbers, and checks each pre-registered claim in code:
//!
//! ```
//! use repro_core::report::{Claim, Verdict};
//! use repro_core::stats::paired_difference;
//! let gap = paired_difference(&[0.71, 0.69, 0.73], &[0.60, 0.62, 0.61]);
//! let claim = Claim::new("C1", "NCL beats SimCLR under 80% label noise", "paired 95% CI of the gap above 0")
//!     .measure("gap_mean", gap.mean)
//!     .measure("gap_ci", [gap.ci_low, gap.ci_high])
//!     .decide(gap.ci_above(0.0));
//! assert_eq!(claim.verdict, Verdict::Reproduced);
//! ```
//!
//! [`Report::write`] then writes `report.json`, `report.md` and one SVG per plot, each
//! atomically (temporary file, then rename).

mod plot;
mod svg;
mod write;
mod xy;

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Instant;

use burn::tensor::Device;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::experiment::{Results, Row};

pub use plot::{GridImage, Palette, Plot, PlotKind, Series};
pub use write::write_atomic;

/// How much of an experiment a run does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Profile {
    /// Seconds; used by tests.
    Smoke,
    /// At most 10 minutes on 2 CPU cores; the default.
    Quick,
    /// The paper's setting as far as it is reachable.
    Full,
}

impl Profile {
    /// All profiles, smallest first.
    pub const ALL: [Profile; 3] = [Profile::Smoke, Profile::Quick, Profile::Full];

    /// Lower-case name.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Smoke => "smoke",
            Self::Quick => "quick",
            Self::Full => "full",
        }
    }
}

impl fmt::Display for Profile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Profile {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "smoke" => Ok(Self::Smoke),
            "quick" => Ok(Self::Quick),
            "full" => Ok(Self::Full),
            _ => Err(format!(
                "unknown profile `{s}`: expected smoke, quick or full"
            )),
        }
    }
}

/// What `reproduce` is asked to do.
#[derive(Debug, Clone)]
pub struct Options {
    /// Profile to run.
    pub profile: Profile,
    /// Device to compute on (without autodiff; crates add it).
    pub device: Device,
    /// Name of the device for the report (`flex`, `cuda:0`, ...).
    pub device_name: String,
    /// Number of seeds; `None` takes the profile's default.
    pub seeds: Option<usize>,
    /// Output folder of the run: finished jobs are kept in `<out>/jobs/` so that a rerun
    /// resumes, and shards share it. `None` keeps everything in memory (tests, library use).
    pub out: Option<PathBuf>,
    /// Run only this slice of the plan (`--shard i/n`); needs `out`.
    pub shard: Option<crate::experiment::Shard>,
    /// Run no job: build the report from the job results in `out` (`--merge`), naming any
    /// job still missing.
    pub merge: bool,
    /// Where dataset files are read from.
    pub data: crate::data::DataRoots,
    /// Show progress bars (they also hide themselves when stderr is not a terminal).
    pub progress: bool,
    /// Experiments to run, by the names a paper crate documents (`--only`); empty runs the
    /// profile's default set. Claims whose experiments did not run are reported as
    /// inconclusive.
    pub only: Vec<String>,
    /// Run up to this many jobs at once, each in a worker process of its own (`--jobs N`;
    /// `None` runs them one after the other in this process). Needs `out`: workers hand
    /// their results back through `<out>/jobs/`.
    pub workers: Option<crate::experiment::Workers>,
    /// Set in a worker process: run only this job (its dependencies are read from `out`),
    /// store it, and return [`crate::experiment::Outcome::Partial`] without a report.
    pub worker_job: Option<String>,
    /// Plan only (`--dry-run`): write `<out>/plan.json` and return
    /// [`crate::experiment::Outcome::Partial`] naming the jobs still to run, running none.
    pub dry_run: bool,
}

impl Options {
    /// Options for `profile` on the Flex CPU device, default seeds, no output folder, data
    /// roots from the environment.
    pub fn new(profile: Profile) -> Self {
        Self {
            profile,
            device: Device::flex(),
            device_name: "flex".into(),
            seeds: None,
            out: None,
            shard: None,
            merge: false,
            data: crate::data::DataRoots::from_env(),
            progress: true,
            only: Vec::new(),
            workers: None,
            worker_job: None,
            dry_run: false,
        }
    }

    /// Whether experiment `name` was selected with `--only` (always false when nothing was
    /// selected: the crate then runs its profile's default set).
    pub fn selects(&self, name: &str) -> bool {
        self.only.iter().any(|o| o == name)
    }

    /// Checks the `--only` names against the experiments a crate knows, so that a typo is a
    /// clear error instead of an empty run.
    pub fn check_only(&self, known: &[&str]) -> anyhow::Result<()> {
        for o in &self.only {
            if !known.contains(&o.as_str()) {
                anyhow::bail!(
                    "unknown experiment `{o}` for --only; this paper has: {}",
                    known.join(", ")
                );
            }
        }
        Ok(())
    }

    /// The seeds to run: `0..n` with `n` from `--seeds` or `default_n`.
    pub fn seed_list(&self, default_n: usize) -> Vec<u64> {
        (0..self.seeds.unwrap_or(default_n) as u64).collect()
    }
}

/// Outcome of checking a claim against its pre-registered criterion.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// The criterion held.
    Reproduced,
    /// The criterion failed.
    NotReproduced,
    /// The run cannot decide (non-finite numbers, too few seeds, profile too small).
    Inconclusive,
}

impl Verdict {
    /// Lower-case name as in `report.json`.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Reproduced => "reproduced",
            Self::NotReproduced => "not_reproduced",
            Self::Inconclusive => "inconclusive",
        }
    }

    /// Combines the verdicts of a conjunction: any failure fails, else any undecided part
    /// leaves it undecided.
    pub fn all(parts: &[Verdict]) -> Verdict {
        if parts.contains(&Self::NotReproduced) {
            Self::NotReproduced
        } else if parts.contains(&Self::Inconclusive) || parts.is_empty() {
            Self::Inconclusive
        } else {
            Self::Reproduced
        }
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A claim of the paper, the numbers measured for it, its criterion and the verdict.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Claim {
    /// `C1`, `C2`, ... in the paper's order.
    pub id: String,
    /// What the paper says, in one sentence.
    pub statement: String,
    /// The measured values the verdict rests on.
    pub measured: BTreeMap<String, Value>,
    /// The pass criterion, fixed before running.
    pub criterion: String,
    /// The outcome.
    pub verdict: Verdict,
}

impl Claim {
    /// A claim not yet decided (verdict [`Verdict::Inconclusive`]).
    pub fn new(id: &str, statement: &str, criterion: &str) -> Self {
        Self {
            id: id.into(),
            statement: statement.into(),
            measured: BTreeMap::new(),
            criterion: criterion.into(),
            verdict: Verdict::Inconclusive,
        }
    }

    /// Records a measured value (numbers, arrays, maps: anything serialisable).
    pub fn measure(mut self, key: &str, value: impl Serialize) -> Self {
        let v = serde_json::to_value(value).unwrap_or(Value::Null);
        self.measured.insert(key.into(), v);
        self
    }

    /// The measured entries holding a non-finite value (stored as `null`), in key order.
    pub fn non_finite_keys(&self) -> Vec<&str> {
        self.measured
            .iter()
            .filter(|(_, v)| has_null(v))
            .map(|(k, _)| k.as_str())
            .collect()
    }

    /// Decides the verdict from whether the criterion held. A claim whose measured numbers
    /// include a non-finite value (stored as `null`) is [`Verdict::Inconclusive`] instead.
    pub fn decide(mut self, criterion_held: bool) -> Self {
        self.verdict = if !self.non_finite_keys().is_empty() {
            Verdict::Inconclusive
        } else if criterion_held {
            Verdict::Reproduced
        } else {
            Verdict::NotReproduced
        };
        self
    }

    /// Sets the verdict directly (for criteria with an explicit undecided zone).
    pub fn with_verdict(mut self, verdict: Verdict) -> Self {
        self.verdict = verdict;
        self
    }
}

fn has_null(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Array(a) => a.iter().any(has_null),
        Value::Object(o) => o.values().any(has_null),
        _ => false,
    }
}

/// A table for `report.md` (and kept in `report.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Table {
    /// Caption.
    pub title: String,
    /// Column headers.
    pub columns: Vec<String>,
    /// Rows of cells, as many as there are columns.
    pub rows: Vec<Vec<String>>,
}

impl Table {
    /// An empty table with these columns.
    pub fn new(title: &str, columns: &[&str]) -> Self {
        Self {
            title: title.into(),
            columns: columns.iter().map(|c| (*c).to_owned()).collect(),
            rows: Vec::new(),
        }
    }

    /// Appends a row.
    ///
    /// # Panics
    /// If the row has a different number of cells than there are columns.
    pub fn row(&mut self, cells: Vec<String>) {
        assert_eq!(
            cells.len(),
            self.columns.len(),
            "table `{}`: row width",
            self.title
        );
        self.rows.push(cells);
    }

    /// GitHub-flavoured Markdown.
    pub fn to_markdown(&self) -> String {
        let esc = |s: &str| s.replace('|', "\\|");
        let mut md = format!(
            "| {} |\n",
            self.columns
                .iter()
                .map(|c| esc(c))
                .collect::<Vec<_>>()
                .join(" | ")
        );
        md += &format!("|{}\n", "---|".repeat(self.columns.len()));
        for r in &self.rows {
            md += &format!(
                "| {} |\n",
                r.iter().map(|c| esc(c)).collect::<Vec<_>>().join(" | ")
            );
        }
        md
    }
}

/// The result of one reproduction run. Serialised as `report.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Report {
    /// Paper crate name, e.g. `graph-ood`.
    pub paper: String,
    /// Profile run.
    pub profile: Profile,
    /// Device name.
    pub device: String,
    /// Seeds run.
    pub seeds: Vec<u64>,
    /// Wall-clock seconds of the run.
    pub wall_seconds: f64,
    /// Commit of the workspace (`-dirty` when it had uncommitted changes), or `unknown`.
    pub git_commit: String,
    /// The full experiment configuration.
    pub config: Value,
    /// The typed rows (experiment, setting, method, seed → metrics) every table and claim
    /// was computed from, in plan order ([`Report::push_rows`]).
    #[serde(default)]
    pub rows: Vec<Row>,
    /// The paper's further payloads (curves, per-class tables, samples), one object each.
    pub results: Vec<Value>,
    /// Claims with their verdicts.
    pub claims: Vec<Claim>,
    /// Tables for the Markdown report.
    #[serde(default)]
    pub tables: Vec<Table>,
    /// Free-text notes (deviations that matter for reading the numbers).
    #[serde(default)]
    pub notes: Vec<String>,
    /// Plots, written as SVG files next to the report.
    #[serde(default)]
    pub plots: Vec<Plot>,
    #[serde(skip)]
    started: Option<Instant>,
}

impl Report {
    /// Starts a report for `paper` with `opts`, recording the git commit and the start time.
    pub fn new(paper: &str, opts: &Options, config: impl Serialize) -> Self {
        Self {
            paper: paper.into(),
            profile: opts.profile,
            device: opts.device_name.clone(),
            seeds: Vec::new(),
            wall_seconds: 0.0,
            git_commit: git_commit(),
            config: serde_json::to_value(config).unwrap_or(Value::Null),
            rows: Vec::new(),
            results: Vec::new(),
            claims: Vec::new(),
            tables: Vec::new(),
            notes: Vec::new(),
            plots: Vec::new(),
            started: Some(Instant::now()),
        }
    }

    /// Stops the clock: sets `wall_seconds` from the start.
    pub fn finish(mut self) -> Self {
        if let Some(t) = self.started {
            self.wall_seconds = t.elapsed().as_secs_f64();
        }
        self
    }

    /// Appends typed rows (a run's [`Done::results`](crate::experiment::Done::results)).
    pub fn push_rows(&mut self, results: &Results) {
        self.rows.extend(results.rows().iter().cloned());
    }

    /// Appends a result object.
    pub fn push_result(&mut self, value: impl Serialize) {
        self.results
            .push(serde_json::to_value(value).unwrap_or(Value::Null));
    }

    /// The claims table for a terminal.
    pub fn claims_table(&self) -> String {
        let mut t = Table::new("claims", &["id", "verdict", "criterion", "measured"]);
        for c in &self.claims {
            let measured = c
                .measured
                .iter()
                .map(|(k, v)| format!("{k}={}", compact(v)))
                .collect::<Vec<_>>()
                .join(", ");
            t.row(vec![
                c.id.clone(),
                c.verdict.to_string(),
                c.criterion.clone(),
                measured,
            ]);
        }
        t.to_markdown()
    }

    /// The report as Markdown.
    pub fn to_markdown(&self) -> String {
        let mut md = format!("# Reproduction report: {}\n\n", self.paper);
        md += &format!(
            "- profile: `{}`\n- device: `{}`\n- seeds: {:?}\n- wall time: {:.1} s\n- commit: `{}`\n- regenerate: `cargo xtask reproduce {} --profile {}`\n\n",
            self.profile,
            self.device,
            self.seeds,
            self.wall_seconds,
            self.git_commit,
            self.paper,
            self.profile
        );
        md += "## Claims\n\n";
        for c in &self.claims {
            md += &format!(
                "### {} — {}\n\n{}\n\n- criterion: {}\n",
                c.id, c.verdict, c.statement, c.criterion
            );
            for (k, v) in &c.measured {
                md += &format!("- {k}: {}\n", compact(v));
            }
            md += "\n";
        }
        for t in &self.tables {
            md += &format!("## {}\n\n{}\n", t.title, t.to_markdown());
        }
        if !self.plots.is_empty() {
            md += "## Plots\n\n";
            for p in &self.plots {
                md += &format!("![{}]({}.svg)\n\n", p.title, p.name);
            }
        }
        if !self.notes.is_empty() {
            md += "## Notes\n\n";
            for n in &self.notes {
                md += &format!("- {n}\n");
            }
        }
        md
    }

    /// Writes `report.json`, `report.md` and `<plot>.svg` into `dir` (created if needed),
    /// each atomically. Returns the paths written.
    pub fn write(&self, dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
        use anyhow::Context;
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        let mut written = self.write_plots(dir)?;
        let md = dir.join("report.md");
        write_atomic(&md, self.to_markdown().as_bytes())?;
        written.push(md);
        crate::testing::kill_point("report-write");
        // JSON last: its presence means the whole report is there.
        let json = dir.join("report.json");
        write_atomic(&json, serde_json::to_string_pretty(self)?.as_bytes())?;
        written.push(json);
        Ok(written)
    }

    /// Writes every plot as `<plot>.svg` into `dir` (which must exist), each atomically,
    /// with one colour per method across the report; returns the paths. `cargo xtask plots`
    /// redraws a stored report's plots with this.
    pub fn write_plots(&self, dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
        let palette = Palette::of(&self.plots);
        let mut written = Vec::new();
        for p in &self.plots {
            let path = dir.join(format!("{}.svg", p.name));
            write_atomic(&path, p.to_svg_with(&palette)?.as_bytes())?;
            written.push(path);
        }
        Ok(written)
    }

    /// Reads a `report.json`.
    pub fn read(path: &Path) -> anyhow::Result<Self> {
        use anyhow::Context;
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        Self::from_json(&text).with_context(|| format!("{} is not a valid report", path.display()))
    }

    /// Parses the text of a `report.json`.
    pub fn from_json(text: &str) -> anyhow::Result<Self> {
        Ok(serde_json::from_str(text)?)
    }
}

fn compact(v: &Value) -> String {
    match v {
        Value::Number(n) => match n.as_f64() {
            Some(f) if n.is_f64() => format!("{f:.4}"),
            _ => n.to_string(),
        },
        Value::Array(a) => format!("[{}]", a.iter().map(compact).collect::<Vec<_>>().join(", ")),
        Value::Null => "NaN".into(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// The workspace's current commit, with `-dirty` when the tree has changes; `unknown`
/// outside a git checkout.
pub fn git_commit() -> String {
    let run = |args: &[&str]| {
        std::process::Command::new("git")
            .args(args)
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
    };
    match run(&["rev-parse", "--short=12", "HEAD"]) {
        Some(c) if !c.is_empty() => {
            let dirty = run(&["status", "--porcelain", "--untracked-files=no"])
                .is_some_and(|s| !s.is_empty());
            if dirty { format!("{c}-dirty") } else { c }
        }
        _ => "unknown".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::TempDir;

    fn sample() -> Report {
        let opts = Options::new(Profile::Smoke);
        let mut r = Report::new("demo", &opts, serde_json::json!({"lr": 0.1}));
        r.seeds = vec![0, 1];
        r.push_result(serde_json::json!({"seed": 0, "acc": 0.9}));
        r.push_rows(&Results::new(vec![
            Row::new("e", "s", "a", Some(0)).metric("acc", 0.9),
            Row::new("e", "s", "a", Some(1)).metric("acc", f64::NAN),
        ]));
        r.claims.push(
            Claim::new("C1", "acc is high", "acc >= 0.8")
                .measure("acc", 0.9)
                .decide(true),
        );
        r.claims.push(
            Claim::new("C2", "gap > 0", "gap > 0")
                .measure("gap", f64::NAN)
                .decide(true),
        );
        let mut t = Table::new("accuracy", &["method", "acc"]);
        t.row(vec!["a|b".into(), "0.9".into()]);
        r.tables.push(t);
        r.plots.push(
            Plot::line("curve", "Accuracy", "step", "acc")
                .series("a", vec![(0.0, 0.5), (1.0, 0.9)]),
        );
        r.finish()
    }

    #[test]
    fn decide_handles_nan_and_conjunctions() {
        let r = sample();
        assert_eq!(r.claims[0].verdict, Verdict::Reproduced);
        assert_eq!(r.claims[1].verdict, Verdict::Inconclusive);
        let c = Claim::new("C3", "s", "c").measure("x", 1.0).decide(false);
        assert_eq!(c.verdict, Verdict::NotReproduced);
        use Verdict::*;
        assert_eq!(Verdict::all(&[Reproduced, Reproduced]), Reproduced);
        assert_eq!(Verdict::all(&[Reproduced, Inconclusive]), Inconclusive);
        assert_eq!(Verdict::all(&[Inconclusive, NotReproduced]), NotReproduced);
        assert_eq!(Verdict::all(&[]), Inconclusive);
    }

    #[test]
    fn json_has_the_schema_fields_and_round_trips() {
        let tmp = TempDir::new("report");
        let r = sample();
        let written = r.write(tmp.path()).unwrap();
        assert_eq!(written.len(), 3);
        let v: Value =
            serde_json::from_str(&std::fs::read_to_string(tmp.path().join("report.json")).unwrap())
                .unwrap();
        for key in [
            "paper",
            "profile",
            "device",
            "seeds",
            "wall_seconds",
            "git_commit",
            "config",
            "rows",
            "results",
            "claims",
        ] {
            assert!(v.get(key).is_some(), "missing {key}");
        }
        assert_eq!(v["rows"][0]["metrics"]["acc"], 0.9);
        assert_eq!(v["rows"][1]["seed"], 1);
        assert_eq!(v["rows"][1]["metrics"]["acc"], Value::Null);
        assert_eq!(v["profile"], "smoke");
        assert_eq!(v["claims"][0]["verdict"], "reproduced");
        assert_eq!(v["claims"][1]["verdict"], "inconclusive");
        assert_eq!(v["claims"][1]["measured"]["gap"], Value::Null);
        let back = Report::read(&tmp.path().join("report.json")).unwrap();
        assert_eq!(back.claims, r.claims);
        assert_eq!(back.rows[0], r.rows[0]);
        assert!(back.rows[1].metrics["acc"].is_nan());
        let md = std::fs::read_to_string(tmp.path().join("report.md")).unwrap();
        assert!(
            md.contains("### C1 — reproduced") && md.contains("a\\|b"),
            "{md}"
        );
        let svg = std::fs::read_to_string(tmp.path().join("curve.svg")).unwrap();
        assert!(svg.starts_with("<svg") && svg.contains("Accuracy"));
        // No temporary files are left behind.
        let names: Vec<String> = std::fs::read_dir(tmp.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert!(names.iter().all(|n| !n.contains(".tmp")), "{names:?}");
    }

    #[test]
    fn profiles_parse() {
        for p in Profile::ALL {
            assert_eq!(p.as_str().parse::<Profile>().unwrap(), p);
        }
        assert!(
            "fast"
                .parse::<Profile>()
                .unwrap_err()
                .contains("smoke, quick or full")
        );
        assert_eq!(Options::new(Profile::Quick).seed_list(3), vec![0, 1, 2]);
    }
}

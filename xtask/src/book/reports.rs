//! The committed reports, `docs/results/<paper>/<profile>/report.json`, and `--collect`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use repro_core::report::{Claim, Profile, write_atomic};
use serde_json::Value;

use crate::papers::PAPERS;

/// What the dashboard reads of a `report.json`: who ran what, where, and the claims. The
/// rest of the report (rows, results, tables, plots) is not read, so a change to those
/// parts of the schema cannot break the book.
#[derive(Debug, Clone, PartialEq)]
pub struct Run {
    /// Paper crate name.
    pub paper: String,
    /// Profile run.
    pub profile: Profile,
    /// Device name.
    pub device: String,
    /// Seeds run.
    pub seeds: Vec<u64>,
    /// Wall-clock seconds.
    pub wall_seconds: f64,
    /// Commit of the workspace (`-dirty` when it had changes).
    pub git_commit: String,
    /// The claims with their verdicts, as the report decided them.
    pub claims: Vec<Claim>,
}

impl Run {
    /// Parses the fields the dashboard needs from the text of a `report.json`; an error
    /// names the field.
    pub fn from_json(text: &str) -> Result<Self> {
        let v: Value = serde_json::from_str(text).context("not JSON")?;
        // Each field's type comes from the struct; an error names the field.
        macro_rules! field {
            ($name:literal) => {
                serde_json::from_value(
                    v.get($name)
                        .cloned()
                        .with_context(|| format!("no field `{}`", $name))?,
                )
                .with_context(|| format!("field `{}`", $name))?
            };
        }
        Ok(Self {
            paper: field!("paper"),
            profile: field!("profile"),
            device: field!("device"),
            seeds: field!("seeds"),
            wall_seconds: field!("wall_seconds"),
            git_commit: field!("git_commit"),
            claims: field!("claims"),
        })
    }

    /// Reads a `report.json`.
    pub fn read(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        Self::from_json(&text).with_context(|| format!("{} is not a valid report", path.display()))
    }
}

/// Copies every `report.json` under `from` into `results/<paper>/<profile>/report.json`
/// (temporary file, then rename), paper and profile read from the report. Returns the
/// (source, destination) pairs. Fails, copying nothing, on an unreadable report, an unknown
/// paper, or two reports of the same paper and profile.
pub fn collect(from: &Path, results: &Path) -> Result<Vec<(PathBuf, PathBuf)>> {
    if !from.is_dir() {
        bail!("--collect {}: not a folder", from.display());
    }
    let mut found = Vec::new();
    find_reports(from, &mut found)?;
    found.sort();
    if found.is_empty() {
        bail!("--collect {}: no report.json under it", from.display());
    }
    let mut plan: BTreeMap<PathBuf, (PathBuf, String)> = BTreeMap::new();
    for src in found {
        let text = std::fs::read_to_string(&src)
            .with_context(|| format!("cannot read {}", src.display()))?;
        let run = Run::from_json(&text)
            .with_context(|| format!("{} is not a valid report", src.display()))?;
        known_paper(&run.paper).with_context(|| format!("{}", src.display()))?;
        let dst = results
            .join(&run.paper)
            .join(run.profile.as_str())
            .join("report.json");
        if let Some((other, _)) = plan.get(&dst) {
            bail!(
                "{} and {} are both reports of {} at profile {}: collect one of them",
                other.display(),
                src.display(),
                run.paper,
                run.profile
            );
        }
        plan.insert(dst, (src, text));
    }
    let mut copied = Vec::new();
    for (dst, (src, text)) in plan {
        let dir = dst.parent().expect("a results path has a parent");
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        write_atomic(&dst, text.as_bytes())?;
        copied.push((src, dst));
    }
    Ok(copied)
}

fn find_reports(dir: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    let entries =
        std::fs::read_dir(dir).with_context(|| format!("cannot list {}", dir.display()))?;
    for entry in entries {
        let entry = entry.with_context(|| format!("cannot list {}", dir.display()))?;
        let path = entry.path();
        let kind = entry
            .file_type()
            .with_context(|| format!("cannot stat {}", path.display()))?;
        if kind.is_dir() {
            find_reports(&path, out)?;
        } else if kind.is_file() && entry.file_name() == "report.json" {
            out.push(path);
        }
    }
    Ok(())
}

fn known_paper(name: &str) -> Result<()> {
    if PAPERS.iter().any(|p| p.info.name == name) {
        return Ok(());
    }
    let known: Vec<&str> = PAPERS.iter().map(|p| p.info.name).collect();
    bail!(
        "paper `{name}` is not implemented (implemented: {})",
        known.join(", ")
    )
}

/// Reads the committed reports, `results/<paper>/<profile>/report.json`, checking that each
/// report's paper and profile are those of its folder. A missing `results/` is no report.
pub fn read_runs(results: &Path) -> Result<Vec<Run>> {
    let mut runs = Vec::new();
    if !results.exists() {
        return Ok(runs);
    }
    for paper_dir in sorted_dirs(results)? {
        let paper = file_name(&paper_dir);
        known_paper(&paper).with_context(|| format!("{}", paper_dir.display()))?;
        for profile_dir in sorted_dirs(&paper_dir)? {
            let profile: Profile = file_name(&profile_dir)
                .parse()
                .map_err(|e: String| anyhow::anyhow!("{}: {e}", profile_dir.display()))?;
            let path = profile_dir.join("report.json");
            if !path.is_file() {
                bail!("{} is missing", path.display());
            }
            let run = Run::read(&path)?;
            if run.paper != paper || run.profile != profile {
                bail!(
                    "{} is a report of {} at profile {}, not of {paper} at {profile}",
                    path.display(),
                    run.paper,
                    run.profile
                );
            }
            runs.push(run);
        }
    }
    Ok(runs)
}

fn sorted_dirs(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut dirs = Vec::new();
    for entry in std::fs::read_dir(dir).with_context(|| format!("cannot list {}", dir.display()))? {
        let path = entry
            .with_context(|| format!("cannot list {}", dir.display()))?
            .path();
        if path.is_dir() {
            dirs.push(path);
        }
    }
    dirs.sort();
    Ok(dirs)
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use repro_core::Report;
    use repro_core::testing::TempDir;

    fn write(root: &Path, rel: &str, text: &str) {
        let p = root.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }

    fn report_json(paper: &str, profile: Profile) -> String {
        let opts = repro_core::Options::new(profile);
        let mut r = Report::new(paper, &opts, serde_json::json!({}));
        r.claims
            .push(repro_core::Claim::new("G1", "s", "c").measure("x", f64::NAN));
        serde_json::to_string(&r).unwrap()
    }

    #[test]
    fn a_run_reads_what_the_dashboard_needs_and_names_a_bad_field() {
        let run = Run::from_json(&report_json("graph-ood", Profile::Quick)).unwrap();
        assert_eq!(
            (run.paper.as_str(), run.profile),
            ("graph-ood", Profile::Quick)
        );
        assert_eq!(run.claims[0].measured["x"], Value::Null);
        let err = format!("{:#}", Run::from_json(r#"{"paper": 3}"#).unwrap_err());
        assert!(err.contains("field `paper`"), "{err}");
        let err = format!("{:#}", Run::from_json("{").unwrap_err());
        assert!(err.contains("not JSON"), "{err}");
    }

    #[test]
    fn collect_reads_paper_and_profile_from_the_report() {
        let tmp = TempDir::new("book-collect");
        let from = tmp.path().join("runs");
        let results = tmp.path().join("results");
        let json = report_json("graph-ood", Profile::Quick);
        // A folder name that says nothing about paper or profile.
        write(&from, "odd-name/x/report.json", &json);
        write(&from, "odd-name/x/report.md", "ignored");
        let copied = collect(&from, &results).unwrap();
        assert_eq!(copied.len(), 1);
        assert_eq!(copied[0].1, results.join("graph-ood/quick/report.json"));
        assert_eq!(std::fs::read_to_string(&copied[0].1).unwrap(), json);
        let back = read_runs(&results).unwrap();
        assert_eq!(back.len(), 1);
        assert_eq!(back[0].paper, "graph-ood");
        // Two reports of one paper and profile: an error naming both, nothing copied.
        write(&from, "other/report.json", &json);
        let err = format!("{:#}", collect(&from, &tmp.path().join("r2")).unwrap_err());
        assert!(err.contains("odd-name") && err.contains("other"), "{err}");
        assert!(!tmp.path().join("r2").exists());
        // An unknown paper names the file.
        let from2 = tmp.path().join("runs2");
        write(
            &from2,
            "a/report.json",
            &report_json("no-such", Profile::Smoke),
        );
        let err = format!("{:#}", collect(&from2, &results).unwrap_err());
        assert!(
            err.contains("a/report.json") && err.contains("no-such"),
            "{err}"
        );
        // Not JSON names the file.
        write(&from2, "a/report.json", "{ truncated");
        let err = format!("{:#}", collect(&from2, &results).unwrap_err());
        assert!(
            err.contains("a/report.json") && err.contains("not a valid report"),
            "{err}"
        );
        let err = format!(
            "{:#}",
            collect(&tmp.path().join("none"), &results).unwrap_err()
        );
        assert!(err.contains("not a folder"), "{err}");
    }

    #[test]
    fn committed_reports_must_sit_in_their_own_folder() {
        let tmp = TempDir::new("book-read");
        write(
            tmp.path(),
            "graph-ood/quick/report.json",
            &report_json("graph-ood", Profile::Smoke),
        );
        let err = format!("{:#}", read_runs(tmp.path()).unwrap_err());
        assert!(
            err.contains("graph-ood/quick/report.json") && err.contains("at profile smoke"),
            "{err}"
        );
        std::fs::remove_dir_all(tmp.path().join("graph-ood")).unwrap();
        write(tmp.path(), "graph-ood/fast/report.json", "{}");
        let err = format!("{:#}", read_runs(tmp.path()).unwrap_err());
        assert!(
            err.contains("fast") && err.contains("expected smoke"),
            "{err}"
        );
        std::fs::remove_dir_all(tmp.path().join("graph-ood")).unwrap();
        write(tmp.path(), "no-such/smoke/report.json", "{}");
        let err = format!("{:#}", read_runs(tmp.path()).unwrap_err());
        assert!(
            err.contains("no-such") && err.contains("not implemented"),
            "{err}"
        );
    }
}

//! The public labelled data, read through `repro_core::data` (registry, SHA-256-checked
//! roots, typed parsers), and the coding-file format for hand-coded samples.
//!
//! - NLBSE'24 (`nlbse24/issues_{train,test}.csv`, Kallis et al., NLBSE'24): 1 500 + 1 500
//!   issues of five repositories, 100 per (repository, label); used to evaluate labellers.
//! - Open-LLM-Failures (`open-llm-failures/**.json`, Yu et al., arXiv 2601.13655): 706
//!   labelled failure reports of LLM model repositories, links only (no text).
//! - Coding files (ours): CSV with the header `repo,number,url,level,label,coder`, one row
//!   per (issue, level, coder); labels are checked against a taxonomy.
//!
//! ```no_run
//! use repro_core::data::DataRoots;
//! use repro_llm_issues::data::load_nlbse24;
//! let d = load_nlbse24(&DataRoots::from_env())?;
//! assert_eq!(d.repos().len(), 5);
//! # Ok::<(), repro_core::DataError>(())
//! ```

use std::collections::BTreeSet;
use std::path::Path;

use repro_core::DataError;
use repro_core::data::DataRoots;
use repro_core::data::parsers::llm_failures::{FailureRecord, load_llm_failures};
use repro_core::data::parsers::nlbse::{Issue as NlbseIssue, IssueLabel, load_nlbse};
use serde::{Deserialize, Serialize};

use crate::taxonomy::{Level, Taxonomy};
use crate::text::Doc;

/// The NLBSE'24 competition files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Nlbse24 {
    /// `issues_train.csv`.
    pub train: Vec<NlbseIssue>,
    /// `issues_test.csv`.
    pub test: Vec<NlbseIssue>,
}

/// One repository's documents and labels (0 bug, 1 feature, 2 question).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepoSplit {
    /// Repository.
    pub repo: String,
    /// Training documents.
    pub train_docs: Vec<Doc>,
    /// Training labels.
    pub train_y: Vec<usize>,
    /// Test documents.
    pub test_docs: Vec<Doc>,
    /// Test labels.
    pub test_y: Vec<usize>,
}

/// The class names of NLBSE'24, in index order.
pub fn nlbse_classes() -> Vec<String> {
    IssueLabel::ALL
        .iter()
        .map(|l| l.as_str().to_owned())
        .collect()
}

/// The document of an NLBSE issue (title, body; no comments in the data).
pub fn nlbse_doc(i: &NlbseIssue) -> Doc {
    Doc::new(&i.title, &i.body)
}

impl Nlbse24 {
    /// Repositories, sorted.
    pub fn repos(&self) -> Vec<String> {
        self.train
            .iter()
            .map(|i| i.repo.clone())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect()
    }

    /// One repository's rows, in file order.
    pub fn split(&self, repo: &str) -> RepoSplit {
        let part = |v: &[NlbseIssue]| -> (Vec<Doc>, Vec<usize>) {
            v.iter()
                .filter(|i| i.repo == repo)
                .map(|i| (nlbse_doc(i), i.label.index()))
                .unzip()
        };
        let (train_docs, train_y) = part(&self.train);
        let (test_docs, test_y) = part(&self.test);
        RepoSplit {
            repo: repo.into(),
            train_docs,
            train_y,
            test_docs,
            test_y,
        }
    }
}

/// Loads both NLBSE'24 files through the data roots.
pub fn load_nlbse24(roots: &DataRoots) -> Result<Nlbse24, DataError> {
    let (train, test) = load_nlbse(roots)?;
    Ok(Nlbse24 { train, test })
}

/// Loads every Open-LLM-Failures file through the data roots.
pub fn load_open_llm_failures(roots: &DataRoots) -> Result<Vec<FailureRecord>, DataError> {
    load_llm_failures(roots)
}

/// One row of a coding file.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct CodedRow {
    /// `owner/name`.
    pub repo: String,
    /// Issue number.
    pub number: u64,
    /// Issue URL.
    pub url: String,
    /// Level.
    pub level: Level,
    /// Category name (verbatim from the taxonomy).
    pub label: String,
    /// Who coded it (`rules:codebook_v0`, a person's initials, ...).
    pub coder: String,
}

/// The header of a coding file.
pub const CODING_HEADER: [&str; 6] = ["repo", "number", "url", "level", "label", "coder"];

/// A malformed coding file or an unknown label, with file and line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}, line {line}: {msg}")]
pub struct CodingError {
    /// The file.
    pub path: String,
    /// 1-based line.
    pub line: usize,
    /// What is wrong.
    pub msg: String,
}

/// Parses a coding file, checking every label against `tax` at its level.
pub fn parse_coding_csv(
    bytes: &[u8],
    origin: &Path,
    tax: &Taxonomy,
) -> Result<Vec<CodedRow>, CodingError> {
    let err = |line: usize, msg: String| CodingError {
        path: origin.display().to_string(),
        line,
        msg,
    };
    let mut r = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(bytes);
    let mut rec = csv::StringRecord::new();
    let mut out = Vec::new();
    let mut header = false;
    loop {
        let more = r.read_record(&mut rec).map_err(|e| {
            let line = e.position().map_or(0, |p| p.line() as usize);
            err(line, format!("malformed CSV: {e}"))
        })?;
        if !more {
            break;
        }
        let line = rec.position().map_or(0, |p| p.line() as usize);
        if !header {
            if rec.iter().ne(CODING_HEADER) {
                return Err(err(
                    line,
                    format!("expected the header `{}`", CODING_HEADER.join(",")),
                ));
            }
            header = true;
            continue;
        }
        if rec.len() != CODING_HEADER.len() {
            return Err(err(line, format!("expected 6 fields, found {}", rec.len())));
        }
        let number = rec[1]
            .parse()
            .map_err(|_| err(line, format!("number `{}` is not an issue number", &rec[1])))?;
        let level = Level::parse(&rec[3]).ok_or_else(|| {
            err(
                line,
                format!("level `{}` is not issue, cause or solution", &rec[3]),
            )
        })?;
        tax.check_label(level, &rec[4])
            .map_err(|e| err(line, e.to_string()))?;
        out.push(CodedRow {
            repo: rec[0].to_owned(),
            number,
            url: rec[2].to_owned(),
            level,
            label: rec[4].to_owned(),
            coder: rec[5].to_owned(),
        });
    }
    if !header {
        return Err(err(1, "empty file: no header".into()));
    }
    Ok(out)
}

/// Writes rows as a coding file.
pub fn coding_csv(rows: &[CodedRow]) -> String {
    let mut all = vec![
        CODING_HEADER
            .iter()
            .map(|s| (*s).to_owned())
            .collect::<Vec<_>>(),
    ];
    for r in rows {
        all.push(vec![
            r.repo.clone(),
            r.number.to_string(),
            r.url.clone(),
            r.level.as_str().into(),
            r.label.clone(),
            r.coder.clone(),
        ]);
    }
    crate::tables::csv_of(&all)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn coding_files_round_trip_and_name_file_and_line() {
        let tax = Taxonomy::builtin("codebook_v0").unwrap();
        let rows = vec![
            CodedRow {
                repo: "a/b".into(),
                number: 3,
                url: "https://github.com/a/b/issues/3".into(),
                level: Level::Issue,
                label: "Model Issue".into(),
                coder: "rules:codebook_v0".into(),
            },
            CodedRow {
                repo: "a/b".into(),
                number: 3,
                url: "https://github.com/a/b/issues/3".into(),
                level: Level::Cause,
                label: "Resource (GPU/RAM) Problem".into(),
                coder: "YC".into(),
            },
        ];
        let text = coding_csv(&rows);
        let p = Path::new("coded.csv");
        assert_eq!(parse_coding_csv(text.as_bytes(), p, &tax).unwrap(), rows);
        let bad = text.replace("Model Issue", "Modell Issue");
        let e = parse_coding_csv(bad.as_bytes(), p, &tax)
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("coded.csv, line 2:") && e.contains("`Modell Issue`"),
            "{e}"
        );
        let e = parse_coding_csv(text.replace(",cause,", ",rq2,").as_bytes(), p, &tax)
            .unwrap_err()
            .to_string();
        assert!(e.contains("line 3") && e.contains("`rq2`"), "{e}");
        let e = parse_coding_csv(b"repo,number\n", p, &tax)
            .unwrap_err()
            .to_string();
        assert!(e.contains("line 1") && e.contains("header"), "{e}");
        let e = parse_coding_csv(b"", p, &tax).unwrap_err().to_string();
        assert!(e.contains("empty file"), "{e}");
        let e = parse_coding_csv(
            format!(
                "{}\na/b,x,u,issue,Model Issue,me\n",
                CODING_HEADER.join(",")
            )
            .as_bytes(),
            p,
            &tax,
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("line 2") && e.contains("`x`"), "{e}");
    }
}

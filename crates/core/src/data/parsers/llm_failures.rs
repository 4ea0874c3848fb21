//! Open-LLM-Failures: hand-labelled failure reports of open-source LLMs, from
//! PapersSubmit/Open-LLM-Failures (all 14 `.json` files; see `datasets/SOURCES.md`,
//! section 8).
//!
//! Format: each file is a JSON array of objects with exactly the keys `number` (running
//! record number within the file), `link` (`https://github.com/<owner>/<repo>/issues/<n>`),
//! `status` (`open` or `closed`), `SYMPTOM` (`Category - Subcategory[ - Manifestation]`),
//! `ROOT CAUSE` (`Category - Subcategory`), `STAGE`, `model` and `architecture`. Unknown or
//! missing keys are errors, as are a malformed link, status or label. Label parts are split
//! on ` - ` and trimmed (one upstream root cause has a doubled space after the separator).
//! Errors name the file and the line where the offending record starts.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::data::DataRoots;
use crate::data::registry::registry;
use crate::error::DataError;

/// One labelled failure.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct FailureRecord {
    /// Running record number 1…n within its file (not the GitHub issue number; see
    /// [`FailureRecord::issue_number`]).
    pub number: u32,
    /// GitHub issue URL.
    pub link: String,
    /// `open` or `closed`.
    pub status: String,
    /// `Category - Subcategory - Manifestation` or `Category - Subcategory`.
    #[serde(rename = "SYMPTOM")]
    pub symptom: String,
    /// `Category - Subcategory`.
    #[serde(rename = "ROOT CAUSE")]
    pub root_cause: String,
    /// Lifecycle stage: `Inference` or `Fine-tuning` upstream.
    #[serde(rename = "STAGE")]
    pub stage: String,
    /// Model family, e.g. `Qwen2.5`.
    pub model: String,
    /// `Dense`, `Mixed` or `MoE` upstream.
    pub architecture: String,
    /// The file the record came from: its registry path under [`load_llm_failures`], the
    /// `origin` given to [`parse_failures_json`] otherwise. Not part of the JSON.
    #[serde(skip)]
    pub source_file: String,
}

/// The parts of a `SYMPTOM` label.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SymptomLabel<'a> {
    /// Top level, e.g. `Crash`.
    pub category: &'a str,
    /// Second level, e.g. `CUDA Error`.
    pub subcategory: &'a str,
    /// Third level, absent in 93 upstream records.
    pub manifestation: Option<&'a str>,
}

/// The parts of a `ROOT CAUSE` label.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RootCauseLabel<'a> {
    /// Top level, e.g. `Environment Compatibility Issues`.
    pub category: &'a str,
    /// Second level, e.g. `Architecture Compatibility`.
    pub subcategory: &'a str,
}

/// Splits a label on ` - ` into at most `max` trimmed parts (the last part keeps any
/// further separators).
fn label_parts(s: &str, max: usize) -> Vec<&str> {
    s.splitn(max, " - ").map(str::trim).collect()
}

impl FailureRecord {
    /// The symptom split into category, subcategory and optional manifestation (missing
    /// parts are empty strings; parsed records always have at least two).
    pub fn symptom_parts(&self) -> SymptomLabel<'_> {
        let p = label_parts(&self.symptom, 3);
        SymptomLabel {
            category: p.first().copied().unwrap_or_default(),
            subcategory: p.get(1).copied().unwrap_or_default(),
            manifestation: p.get(2).copied(),
        }
    }

    /// The root cause split into category and subcategory (a missing part is empty;
    /// parsed records always have both).
    pub fn root_cause_parts(&self) -> RootCauseLabel<'_> {
        let p = label_parts(&self.root_cause, 2);
        RootCauseLabel {
            category: p.first().copied().unwrap_or_default(),
            subcategory: p.get(1).copied().unwrap_or_default(),
        }
    }

    /// `owner/repo` of the linked issue.
    pub fn repository(&self) -> Option<&str> {
        let rest = self.link.strip_prefix("https://github.com/")?;
        let (repo, _) = rest.rsplit_once("/issues/")?;
        Some(repo)
    }

    /// GitHub issue number of the link.
    pub fn issue_number(&self) -> Option<u64> {
        self.link.rsplit_once("/issues/")?.1.parse().ok()
    }

    /// What is wrong with the record, if anything.
    fn problem(&self) -> Option<String> {
        let repo_ok = self.repository().is_some_and(|r| {
            let mut it = r.split('/');
            matches!((it.next(), it.next(), it.next()), (Some(o), Some(n), None) if !o.is_empty() && !n.is_empty())
        });
        if !repo_ok || self.issue_number().is_none() {
            return Some(format!(
                "link `{}` is not https://github.com/<owner>/<repo>/issues/<n>",
                self.link
            ));
        }
        if !matches!(self.status.as_str(), "open" | "closed") {
            return Some(format!(
                "status `{}` is neither open nor closed",
                self.status
            ));
        }
        let s = label_parts(&self.symptom, 3);
        if !(2..=3).contains(&s.len()) || s.iter().any(|p| p.is_empty()) {
            return Some(format!(
                "SYMPTOM `{}` is not `Category - Subcategory[ - Manifestation]`",
                self.symptom
            ));
        }
        let r = label_parts(&self.root_cause, 2);
        if r.len() != 2 || r.iter().any(|p| p.is_empty() || p.contains(" - ")) {
            return Some(format!(
                "ROOT CAUSE `{}` is not `Category - Subcategory`",
                self.root_cause
            ));
        }
        None
    }
}

/// 1-based line of the start of each element of a top-level JSON array (the input must
/// already be valid JSON).
fn element_lines(bytes: &[u8]) -> Vec<usize> {
    let (mut depth, mut in_str, mut escaped, mut line) = (0usize, false, false, 1usize);
    let mut expect_elem = false;
    let mut out = Vec::new();
    for &b in bytes {
        if b == b'\n' {
            line += 1;
        }
        if in_str {
            match (escaped, b) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_str = false,
                _ => {}
            }
            continue;
        }
        if depth == 1 && expect_elem && !b.is_ascii_whitespace() && b != b']' {
            out.push(line);
            expect_elem = false;
        }
        match b {
            b'"' => in_str = true,
            b'[' | b'{' => {
                depth += 1;
                if depth == 1 {
                    expect_elem = true;
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            b',' if depth == 1 => expect_elem = true,
            _ => {}
        }
    }
    out
}

/// Parses one failures file; `origin` names it in errors and fills `source_file`.
pub fn parse_failures_json(bytes: &[u8], origin: &Path) -> Result<Vec<FailureRecord>, DataError> {
    let mut records: Vec<FailureRecord> = serde_json::from_slice(bytes).map_err(|e| {
        DataError::parse_at(origin, e.line(), format!("invalid failures JSON: {e}"))
    })?;
    let lines = element_lines(bytes);
    let source = origin.display().to_string();
    for (i, r) in records.iter_mut().enumerate() {
        if let Some(msg) = r.problem() {
            let msg = format!("record {} (number {}): {msg}", i + 1, r.number);
            return Err(match lines.get(i) {
                Some(&line) => DataError::parse_at(origin, line, msg),
                None => DataError::parse(origin, msg),
            });
        }
        r.source_file.clone_from(&source);
    }
    Ok(records)
}

/// Loads every registered file of dataset `open-llm-failures`, in registry order;
/// `source_file` is each record's registry path.
pub fn load_llm_failures(roots: &DataRoots) -> Result<Vec<FailureRecord>, DataError> {
    let ds = registry().dataset("open-llm-failures")?;
    let mut out = Vec::new();
    for f in &ds.files {
        let (bytes, path) = roots.read_with_path(&ds.name, &f.path)?;
        let mut records = parse_failures_json(&bytes, &path)?;
        for r in &mut records {
            r.source_file.clone_from(&f.path);
        }
        out.extend(records);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::{BTreeMap, BTreeSet};

    #[test]
    fn real_failures() {
        let Some(roots) = crate::testing::mirror_roots() else {
            return;
        };
        let recs = load_llm_failures(&roots).unwrap();
        assert_eq!(recs.len(), 706);
        let count = |f: &dyn Fn(&FailureRecord) -> bool| recs.iter().filter(|r| f(r)).count();
        assert_eq!(count(&|r| r.status == "closed"), 571);
        assert_eq!(count(&|r| r.status == "open"), 135);
        assert_eq!(count(&|r| r.stage == "Inference"), 557);
        assert_eq!(count(&|r| r.stage == "Fine-tuning"), 149);
        assert_eq!(count(&|r| r.architecture == "Dense"), 433);
        assert_eq!(count(&|r| r.architecture == "Mixed"), 212);
        assert_eq!(
            count(&|r| r.architecture == "Mixed" && r.model == "Qwen2.5"),
            212
        );
        assert_eq!(count(&|r| r.architecture == "MoE"), 61);
        assert_eq!(count(&|r| r.symptom_parts().manifestation.is_some()), 613);
        assert_eq!(count(&|r| r.symptom_parts().manifestation.is_none()), 93);

        let mut per_file: BTreeMap<&str, Vec<u32>> = BTreeMap::new();
        for r in &recs {
            per_file.entry(&r.source_file).or_default().push(r.number);
        }
        assert_eq!(per_file.len(), 14);
        for (file, numbers) in &per_file {
            assert!(
                numbers.iter().copied().eq(1..=numbers.len() as u32),
                "{file}"
            );
        }
        let n = |f: &str| per_file[&*format!("open-llm-failures/{f}")].len();
        assert_eq!(n("QwenLM/Qwen2.5/Qwen2dot5.json"), 212);
        assert_eq!(n("QwenLM/Qwen/Qwen.json"), 208);
        assert_eq!(n("meta-llama/llama/meta-llama.json"), 107);
        assert_eq!(n("meta-llama/llama3/meta-llama3.json"), 35);
        assert_eq!(n("meta-llama/codellama/meta-codellama.json"), 29);
        assert_eq!(n("QwenLM/Qwen2.5-Coder/Qwen2dot5-Coder.json"), 27);
        assert_eq!(n("QwenLM/Qwen2.5-Math/Qwen2dot5-Math.json"), 2);
        assert_eq!(n("DeepSeek/Coder/DeepSeek-Coder.json"), 24);
        assert_eq!(n("DeepSeek/R1/DeepSeek-R1.json"), 24);
        assert_eq!(n("DeepSeek/V3/DeepSeek-V3.json"), 20);
        assert_eq!(n("DeepSeek/Coder-V2/DeepSeek-Coder-V2.json"), 7);
        assert_eq!(n("DeepSeek/MoE/DeepSeek-MoE.json"), 5);
        assert_eq!(n("DeepSeek/V2/DeepSeek-V2.json"), 5);
        assert_eq!(n("DeepSeek/Math/DeepSeek-Math.json"), 1);

        let tally = |f: &dyn Fn(&FailureRecord) -> &str| {
            let mut m: BTreeMap<String, usize> = BTreeMap::new();
            for r in &recs {
                *m.entry(f(r).to_owned()).or_default() += 1;
            }
            m
        };
        let symptoms = tally(&|r| r.symptom_parts().category);
        assert_eq!(
            symptoms.into_iter().collect::<Vec<_>>(),
            [
                ("Crash".to_owned(), 295),
                ("Hang".to_owned(), 19),
                ("Incorrect Functionality".to_owned(), 240),
                ("Loading Failure".to_owned(), 137),
                ("Poor Performance".to_owned(), 15)
            ]
        );
        let causes = tally(&|r| r.root_cause_parts().category);
        let expected = [
            ("Environment Compatibility Issues", 223),
            ("Configuration and Parameter Setting Errors", 130),
            ("Data and Computation Issues", 71),
            ("API Usage and Interface Issues", 65),
            ("Distributed and Parallel Computing Issues", 54),
            ("Tokenizer and Text Processing Issues", 51),
            ("Hardware and Resource Limitations", 47),
            ("Algorithm Implementation Defects", 46),
            ("Model Corruption Issues", 19),
        ];
        assert_eq!(causes.len(), expected.len());
        for (c, k) in expected {
            assert_eq!(causes[c], k, "{c}");
        }
        let sym_pairs: BTreeSet<_> = recs
            .iter()
            .map(|r| (r.symptom_parts().category, r.symptom_parts().subcategory))
            .collect();
        assert_eq!(sym_pairs.len(), 15);
        let cause_pairs: BTreeSet<_> = recs.iter().map(FailureRecord::root_cause_parts).collect();
        assert_eq!(cause_pairs.len(), 27);
        // The doubled space is trimmed away.
        assert_eq!(count(&|r| r.root_cause.contains("-  Architecture")), 1);
        assert!(cause_pairs.contains(&RootCauseLabel {
            category: "Environment Compatibility Issues",
            subcategory: "Architecture Compatibility"
        }));
        let links: BTreeSet<&str> = recs.iter().map(|r| r.link.as_str()).collect();
        assert_eq!(links.len(), 703);
        for dup in [
            "https://github.com/QwenLM/Qwen/issues/15",
            "https://github.com/QwenLM/Qwen2.5/issues/306",
            "https://github.com/meta-llama/llama/issues/834",
        ] {
            assert_eq!(count(&|r| r.link == dup), 2, "{dup}");
        }
        assert!(recs.iter().all(|r| r.issue_number().is_some()));
    }

    const GOOD: &str = r#"[
  {
    "number": 1,
    "link": "https://github.com/deepseek-ai/DeepSeek-Math/issues/5",
    "status": "closed",
    "SYMPTOM": "Loading Failure - Model Loading Error - Import Error",
    "ROOT CAUSE": "Environment Compatibility Issues -  Architecture Compatibility",
    "STAGE": "Inference",
    "model": "DeepSeek-Math",
    "architecture": "Dense"
  },
  {
    "number": 2,
    "link": "https://github.com/a/b/issues/77",
    "status": "open",
    "SYMPTOM": "Hang - Stuck \"x\" [y]",
    "ROOT CAUSE": "C - D",
    "STAGE": "Fine-tuning",
    "model": "m",
    "architecture": "MoE"
  }
]
"#;

    #[test]
    fn fixture_records() {
        let v = parse_failures_json(GOOD.as_bytes(), Path::new("f.json")).unwrap();
        assert_eq!(v.len(), 2);
        let r = &v[0];
        assert_eq!(r.source_file, "f.json");
        assert_eq!(
            r.symptom_parts(),
            SymptomLabel {
                category: "Loading Failure",
                subcategory: "Model Loading Error",
                manifestation: Some("Import Error")
            }
        );
        assert_eq!(
            r.root_cause_parts().subcategory,
            "Architecture Compatibility"
        );
        assert_eq!(r.repository(), Some("deepseek-ai/DeepSeek-Math"));
        assert_eq!(r.issue_number(), Some(5));
        assert_eq!(v[1].symptom_parts().manifestation, None);
        assert_eq!(v[1].symptom_parts().subcategory, "Stuck \"x\" [y]");
        assert_eq!(element_lines(GOOD.as_bytes()), [2, 12]);
        assert!(
            parse_failures_json(b"[]", Path::new("f.json"))
                .unwrap()
                .is_empty()
        );
    }

    fn err(s: &str) -> String {
        parse_failures_json(s.as_bytes(), Path::new("f.json"))
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn malformed_records() {
        let e = err(&GOOD.replace("\"model\": \"m\"", "\"model\": \"m\", \"x\": 1"));
        assert!(
            e.contains("f.json, line 19") && e.contains("unknown field `x`"),
            "{e}"
        );
        let e = err(&GOOD.replace("    \"STAGE\": \"Inference\",\n", ""));
        assert!(
            e.contains("f.json") && e.contains("missing field `STAGE`"),
            "{e}"
        );
        let e = err(&GOOD.replace("\"number\": 2", "\"number\": -2"));
        assert!(e.contains("line 13"), "{e}");
        let e = err(&GOOD.replace("\"C - D\"", "\"C D\""));
        assert!(
            e.contains("f.json, line 12")
                && e.contains("record 2 (number 2)")
                && e.contains("ROOT CAUSE `C D`"),
            "{e}"
        );
        let e = err(&GOOD.replace("\"C - D\"", "\"C - D - E\""));
        assert!(e.contains("ROOT CAUSE"), "{e}");
        let e = err(&GOOD.replace("Hang - Stuck \\\"x\\\" [y]", "Hang"));
        assert!(e.contains("line 12") && e.contains("SYMPTOM `Hang`"), "{e}");
        let e = err(&GOOD.replace("\"status\": \"closed\"", "\"status\": \"fixed\""));
        assert!(e.contains("line 2") && e.contains("status `fixed`"), "{e}");
        let e = err(&GOOD.replace(
            "https://github.com/a/b/issues/77",
            "https://gitlab.com/a/b/issues/77",
        ));
        assert!(e.contains("line 12") && e.contains("link"), "{e}");
        let e = err(&GOOD.replace("a/b/issues/77", "a/b/issues/x"));
        assert!(e.contains("link"), "{e}");
        let e = err(&GOOD[..GOOD.len() - 5]);
        assert!(e.contains("invalid failures JSON"), "{e}");
        let e = err("{}");
        assert!(e.contains("invalid failures JSON"), "{e}");
        let e = parse_failures_json(b"[\xff]", Path::new("f.json"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("f.json, line 1"), "{e}");
    }
}

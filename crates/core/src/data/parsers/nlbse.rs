//! NLBSE'24 issue report classification, from nlbse2024/issue-report-classification
//! (`data/issues_train.csv`, `data/issues_test.csv`; see `datasets/SOURCES.md`, section 7).
//!
//! Format: UTF-8 CSV (RFC 4180), header exactly `repo,created_at,label,title,body`.
//! Fields are quoted when needed, with doubled quotes inside; bodies span lines and keep
//! CR LF pairs inside quoted fields, so the file is read with the `csv` crate, never split
//! on newlines. `label` is `bug`, `feature` or `question`; `created_at` is
//! `YYYY-MM-DD HH:MM:SS`. A leading UTF-8 byte-order mark is ignored. Errors name the
//! file, the line where the record starts and the record number (1-based, header
//! excluded).

use std::path::Path;

use crate::data::DataRoots;
use crate::error::DataError;

/// The class of an issue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum IssueLabel {
    /// `bug`.
    Bug,
    /// `feature`.
    Feature,
    /// `question`.
    Question,
}

impl IssueLabel {
    /// The three labels, in class-index order.
    pub const ALL: [IssueLabel; 3] = [IssueLabel::Bug, IssueLabel::Feature, IssueLabel::Question];

    /// The label as written in the file.
    pub fn as_str(self) -> &'static str {
        match self {
            IssueLabel::Bug => "bug",
            IssueLabel::Feature => "feature",
            IssueLabel::Question => "question",
        }
    }

    /// Class index 0 (bug), 1 (feature) or 2 (question).
    pub fn index(self) -> usize {
        self as usize
    }

    /// The label written `s` in the file, if any.
    pub fn parse(s: &str) -> Option<IssueLabel> {
        IssueLabel::ALL.into_iter().find(|l| l.as_str() == s)
    }
}

impl std::fmt::Display for IssueLabel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One labelled issue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Issue {
    /// Repository, `owner/name`.
    pub repo: String,
    /// Creation time, `YYYY-MM-DD HH:MM:SS` (no time zone).
    pub created_at: String,
    /// Class.
    pub label: IssueLabel,
    /// Title (one line).
    pub title: String,
    /// Markdown body (may be empty, span lines, contain CR LF and any Unicode).
    pub body: String,
}

const HEADER: [&str; 5] = ["repo", "created_at", "label", "title", "body"];

fn is_timestamp(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 19
        && b.iter().enumerate().all(|(i, &c)| match i {
            4 | 7 => c == b'-',
            10 => c == b' ',
            13 | 16 => c == b':',
            _ => c.is_ascii_digit(),
        })
}

/// Parses an issues CSV file; `origin` names it in errors.
pub fn parse_issues_csv(bytes: &[u8], origin: &Path) -> Result<Vec<Issue>, DataError> {
    let bytes = bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(bytes);
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(bytes);
    let mut record = csv::ByteRecord::new();
    let mut out = Vec::new();
    let mut seen_header = false;
    loop {
        let more = reader.read_byte_record(&mut record).map_err(|e| {
            let msg = format!("malformed CSV: {e}");
            match e.position() {
                Some(p) => DataError::parse_at(origin, p.line() as usize, msg),
                None => DataError::parse(origin, msg),
            }
        })?;
        if !more {
            break;
        }
        let line = record.position().map_or(0, |p| p.line() as usize);
        if !seen_header {
            if record.iter().ne(HEADER.iter().map(|h| h.as_bytes())) {
                return Err(DataError::parse_at(
                    origin,
                    line,
                    format!(
                        "expected the header `{}`, found `{}`",
                        HEADER.join(","),
                        record
                            .iter()
                            .map(String::from_utf8_lossy)
                            .collect::<Vec<_>>()
                            .join(",")
                    ),
                ));
            }
            seen_header = true;
            continue;
        }
        let n = out.len() + 1;
        let err = |msg: String| DataError::parse_at(origin, line, format!("record {n}: {msg}"));
        if record.len() != HEADER.len() {
            return Err(err(format!(
                "expected {} fields, found {}",
                HEADER.len(),
                record.len()
            )));
        }
        let mut fields = Vec::with_capacity(HEADER.len());
        for (name, raw) in HEADER.iter().zip(record.iter()) {
            let s = std::str::from_utf8(raw).map_err(|e| {
                err(format!(
                    "field `{name}` is not valid UTF-8 (at byte {} of the field)",
                    e.valid_up_to()
                ))
            })?;
            fields.push(s.to_owned());
        }
        let [repo, created_at, label, title, body]: [String; 5] = fields
            .try_into()
            .map_err(|_| err("internal: field count".to_owned()))?;
        let label = IssueLabel::parse(&label).ok_or_else(|| {
            err(format!(
                "unknown label `{label}` (expected bug, feature or question)"
            ))
        })?;
        if !is_timestamp(&created_at) {
            return Err(err(format!(
                "created_at `{created_at}` is not `YYYY-MM-DD HH:MM:SS`"
            )));
        }
        if !repo.contains('/') {
            return Err(err(format!("repo `{repo}` is not `owner/name`")));
        }
        out.push(Issue {
            repo,
            created_at,
            label,
            title,
            body,
        });
    }
    if !seen_header {
        return Err(DataError::parse(
            origin,
            format!("empty file: expected the header `{}`", HEADER.join(",")),
        ));
    }
    Ok(out)
}

/// Loads the competition's (train, test) files, `nlbse24/issues_train.csv` and
/// `nlbse24/issues_test.csv` of dataset `nlbse24`.
pub fn load_nlbse(roots: &DataRoots) -> Result<(Vec<Issue>, Vec<Issue>), DataError> {
    let (bytes, path) = roots.read_with_path("nlbse24", "nlbse24/issues_train.csv")?;
    let train = parse_issues_csv(&bytes, &path)?;
    let (bytes, path) = roots.read_with_path("nlbse24", "nlbse24/issues_test.csv")?;
    let test = parse_issues_csv(&bytes, &path)?;
    Ok((train, test))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    #[test]
    fn real_nlbse() {
        let Some(roots) = crate::testing::mirror_roots() else {
            return;
        };
        let (train, test) = load_nlbse(&roots).unwrap();
        let repos = [
            "bitcoin/bitcoin",
            "facebook/react",
            "microsoft/vscode",
            "opencv/opencv",
            "tensorflow/tensorflow",
        ];
        // (split, first and last created_at, empty bodies, longest body in chars,
        // issues of 2022 and 2023)
        for (issues, first, last, empty, longest, y2022, y2023) in [
            (&train, "2016-03-14", "2023-09-29", 0, 207_777, 406, 745),
            (&test, "2016-03-12", "2023-09-29", 2, 61_610, 410, 741),
        ] {
            assert_eq!(issues.len(), 1500);
            let mut per: BTreeMap<(&str, IssueLabel), usize> = BTreeMap::new();
            for i in issues.iter() {
                *per.entry((i.repo.as_str(), i.label)).or_default() += 1;
            }
            assert_eq!(per.len(), 15);
            assert!(per.values().all(|&c| c == 100), "{per:?}");
            assert!(per.keys().all(|(r, _)| repos.contains(r)));
            let min = issues.iter().map(|i| &i.created_at).min().unwrap();
            let max = issues.iter().map(|i| &i.created_at).max().unwrap();
            assert!(
                min.starts_with(first) && max.starts_with(last),
                "{min} {max}"
            );
            assert_eq!(issues.iter().filter(|i| i.body.is_empty()).count(), empty);
            let lens: Vec<usize> = issues.iter().map(|i| i.body.chars().count()).collect();
            assert_eq!(lens.iter().max(), Some(&longest));
            let year = |y: &str| {
                issues
                    .iter()
                    .filter(|i| i.created_at.starts_with(y))
                    .count()
            };
            assert_eq!((year("2022"), year("2023")), (y2022, y2023));
            assert!(issues.iter().all(|i| !i.title.contains('\n')));
        }
        assert_eq!(
            train
                .iter()
                .filter(|i| i.body.chars().count() > 131_072)
                .count(),
            2
        );
        assert_eq!(test.iter().filter(|i| i.body.contains('\0')).count(), 1);
        assert!(train.iter().chain(&test).any(|i| i.body.contains("\r\n")));
        assert_eq!(train[0].repo, "facebook/react");
        assert_eq!(
            train[0].title,
            "[DevTools Bug] Cannot add node \"1\" because a node with that id is already in the Store."
        );
    }

    const GOOD: &str = "repo,created_at,label,title,body\n\
        a/b,2023-01-02 03:04:05,bug,\"Crash, \"\"bad\"\"\",\"line 1\r\nline 2\n\"\n\
        a/b,2023-01-02 03:04:06,question,Why?,\n\
        c/d,2016-03-12 00:00:00,feature,Add x,plain\n";

    #[test]
    fn fixture_issues() {
        let v = parse_issues_csv(GOOD.as_bytes(), Path::new("i.csv")).unwrap();
        assert_eq!(v.len(), 3);
        assert_eq!(v[0].title, "Crash, \"bad\"");
        assert_eq!(v[0].body, "line 1\r\nline 2\n");
        assert_eq!(v[0].label, IssueLabel::Bug);
        assert_eq!(v[1].body, "");
        assert_eq!(v[1].label.index(), 2);
        assert_eq!(v[2].label, IssueLabel::Feature);
        let bom = [b"\xef\xbb\xbf".as_slice(), GOOD.as_bytes()].concat();
        assert_eq!(parse_issues_csv(&bom, Path::new("i.csv")).unwrap(), v);
        let header_only =
            parse_issues_csv(b"repo,created_at,label,title,body\n", Path::new("i.csv"));
        assert!(header_only.unwrap().is_empty());
        assert_eq!(IssueLabel::parse("question"), Some(IssueLabel::Question));
        assert_eq!(IssueLabel::Feature.to_string(), "feature");
    }

    fn err(s: &[u8]) -> String {
        parse_issues_csv(s, Path::new("i.csv"))
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn malformed_issues() {
        let h = "repo,created_at,label,title,body\n";
        assert!(err(b"").contains("empty file"));
        let e = err(b"repo,created_at,label,title\n");
        assert!(
            e.contains("i.csv, line 1") && e.contains("expected the header"),
            "{e}"
        );
        let e = err(format!(
            "{h}a/b,2023-01-02 03:04:05,bug,t,\"multi\nline\"\na/b,2023-01-02 03:04:05,bug,t\n"
        )
        .as_bytes());
        assert!(
            e.contains("i.csv, line 4")
                && e.contains("record 2")
                && e.contains("expected 5 fields, found 4"),
            "{e}"
        );
        let e = err(format!("{h}a/b,2023-01-02 03:04:05,bug,t,b,extra\n").as_bytes());
        assert!(e.contains("line 2") && e.contains("found 6"), "{e}");
        let e = err(format!("{h}a/b,2023-01-02 03:04:05,enhancement,t,b\n").as_bytes());
        assert!(
            e.contains("line 2") && e.contains("unknown label `enhancement`"),
            "{e}"
        );
        let e = err(format!("{h}a/b,2023-01-02,bug,t,b\n").as_bytes());
        assert!(e.contains("created_at"), "{e}");
        let e = err(format!("{h}ab,2023-01-02 03:04:05,bug,t,b\n").as_bytes());
        assert!(e.contains("owner/name"), "{e}");
        let mut bad = format!("{h}a/b,2023-01-02 03:04:05,bug,t,\"ok\nthen ").into_bytes();
        bad.extend(b"\xff\xfe\"\n");
        let e = err(&bad);
        assert!(
            e.contains("line 2")
                && e.contains("record 1")
                && e.contains("`body` is not valid UTF-8"),
            "{e}"
        );
    }
}

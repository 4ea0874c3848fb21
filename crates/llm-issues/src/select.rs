//! Repository selection by the paper's criteria, and the relevance filter.
//!
//! Selection [paper thresholds; mechanics our operationalisation]: a repository is kept
//! when `stars ≥ 9 000`, `closed issues ≥ 100`, `contributors ≥ 10`, it was pushed at most
//! `365` days before `as_of`, it is not archived, it is flagged as having an LLM at its
//! core (a manual judgement, stored as data), and a keyword (`LLM`, `Large Language Model`)
//! occurs case-insensitively in its name, description or topics.
//!
//! Relevance [our operationalisation; the paper's was manual]: an issue is kept when it
//! has a non-empty body or at least one comment, it is not `not_planned` without
//! comments, and it carries no `duplicate`, `invalid` or `spam` label. Every drop has a
//! reason.
//!
//! ```
//! use repro_llm_issues::select::{Date, RepoFacts, SelectionCriteria, select};
//! use repro_llm_issues::github::{RepoId, RepoMeta};
//! let meta = RepoMeta {
//!     id: RepoId::new("acme", "llm-serve"), stars: 9_000, pushed_at: "2024-05-01T10:00:00Z".into(),
//!     archived: false, description: "Serve a Large Language Model".into(), topics: vec![],
//! };
//! let facts = RepoFacts { meta, contributors: 10, closed_issues: 100, llm_core: true };
//! let c = SelectionCriteria::paper(Date::parse("2024-06-01")?);
//! assert!(select(&[facts], &c)[0].1.accepted());
//! # Ok::<(), String>(())
//! ```

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::collect::Issue;
use crate::github::{RepoId, RepoMeta};

/// A calendar date (proleptic Gregorian).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Date {
    /// Year.
    pub year: i32,
    /// Month 1–12.
    pub month: u32,
    /// Day 1–31.
    pub day: u32,
}

impl Date {
    /// Parses `YYYY-MM-DD`, or the date part of an ISO 8601 timestamp.
    pub fn parse(s: &str) -> Result<Self, String> {
        let d = s
            .get(..10)
            .ok_or_else(|| format!("`{s}` is not a date YYYY-MM-DD"))?;
        let bad = || format!("`{s}` is not a date YYYY-MM-DD");
        let b = d.as_bytes();
        if b[4] != b'-' || b[7] != b'-' {
            return Err(bad());
        }
        let year: i32 = d[..4].parse().map_err(|_| bad())?;
        let month: u32 = d[5..7].parse().map_err(|_| bad())?;
        let day: u32 = d[8..10].parse().map_err(|_| bad())?;
        let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
        let dim = [
            31,
            if leap { 29 } else { 28 },
            31,
            30,
            31,
            30,
            31,
            31,
            30,
            31,
            30,
            31,
        ];
        if !(1..=12).contains(&month) || day == 0 || day > dim[month as usize - 1] {
            return Err(bad());
        }
        Ok(Self { year, month, day })
    }

    /// Days since 1970-01-01 (Howard Hinnant's `days_from_civil`).
    pub fn days(&self) -> i64 {
        let y = i64::from(self.year) - i64::from(self.month <= 2);
        let era = y.div_euclid(400);
        let yoe = y - era * 400;
        let m = i64::from(self.month);
        let doy = (153 * (m + if m > 2 { -3 } else { 9 }) + 2) / 5 + i64::from(self.day) - 1;
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        era * 146_097 + doe - 719_468
    }

    /// The date `days` after 1970-01-01.
    pub fn from_days(days: i64) -> Self {
        let z = days + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z - era * 146_097;
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
        let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
        let year = (yoe + era * 400 + i64::from(month <= 2)) as i32;
        Self { year, month, day }
    }
}

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
}

/// What is known about a candidate repository.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RepoFacts {
    /// Metadata.
    pub meta: RepoMeta,
    /// Contributors.
    pub contributors: u64,
    /// Closed issues (pull requests excluded).
    pub closed_issues: u64,
    /// An LLM is the project's core functional component (manual flag).
    pub llm_core: bool,
}

/// The selection rules.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SelectionCriteria {
    /// Keywords, matched case-insensitively in name, description and topics.
    pub keywords: Vec<String>,
    /// Minimum stars.
    pub min_stars: u64,
    /// Minimum closed issues.
    pub min_closed_issues: u64,
    /// Minimum contributors.
    pub min_contributors: u64,
    /// Maximum days between the last push and `as_of`.
    pub updated_within_days: u32,
    /// The date of the selection.
    pub as_of: Date,
}

impl SelectionCriteria {
    /// The paper's thresholds: keywords "LLM" and "Large Language Model", ≥ 9 000 stars,
    /// ≥ 100 closed issues, ≥ 10 contributors, updated within a year.
    pub fn paper(as_of: Date) -> Self {
        Self {
            keywords: vec!["LLM".into(), "Large Language Model".into()],
            min_stars: 9000,
            min_closed_issues: 100,
            min_contributors: 10,
            updated_within_days: 365,
            as_of,
        }
    }
}

/// A failed selection rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Rule {
    /// Too few stars.
    Stars,
    /// Too few closed issues.
    ClosedIssues,
    /// Too few contributors.
    Contributors,
    /// Not pushed recently enough (or no push date).
    Recency,
    /// Archived.
    Archived,
    /// No LLM at its core.
    NotLlmCore,
    /// No keyword in name, description or topics.
    NoKeyword,
}

/// The failed rules of one repository (none: selected).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SelectionVerdict {
    /// Every rule that failed.
    pub failed: Vec<Rule>,
}

impl SelectionVerdict {
    /// No rule failed.
    pub fn accepted(&self) -> bool {
        self.failed.is_empty()
    }
}

/// Applies the criteria to every candidate, in input order.
pub fn select(repos: &[RepoFacts], c: &SelectionCriteria) -> Vec<(RepoId, SelectionVerdict)> {
    repos
        .iter()
        .map(|r| {
            let mut failed = Vec::new();
            if r.meta.stars < c.min_stars {
                failed.push(Rule::Stars);
            }
            if r.closed_issues < c.min_closed_issues {
                failed.push(Rule::ClosedIssues);
            }
            if r.contributors < c.min_contributors {
                failed.push(Rule::Contributors);
            }
            let recent = Date::parse(&r.meta.pushed_at)
                .is_ok_and(|p| c.as_of.days() - p.days() <= i64::from(c.updated_within_days));
            if !recent {
                failed.push(Rule::Recency);
            }
            if r.meta.archived {
                failed.push(Rule::Archived);
            }
            if !r.llm_core {
                failed.push(Rule::NotLlmCore);
            }
            let hay = format!(
                "{}\n{}\n{}",
                r.meta.id.name,
                r.meta.description,
                r.meta.topics.join("\n")
            )
            .to_lowercase();
            if !c.keywords.iter().any(|k| hay.contains(&k.to_lowercase())) {
                failed.push(Rule::NoKeyword);
            }
            (r.meta.id.clone(), SelectionVerdict { failed })
        })
        .collect()
}

/// Why an issue is dropped.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum DropReason {
    /// No body text and no comment.
    Empty,
    /// Closed as not planned with no comment.
    NotPlannedSilent,
    /// Labelled `duplicate`, `invalid` or `spam`.
    Label(String),
}

impl fmt::Display for DropReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Empty => f.write_str("empty (no body, no comment)"),
            Self::NotPlannedSilent => f.write_str("not_planned without comments"),
            Self::Label(l) => write!(f, "label `{l}`"),
        }
    }
}

/// The relevance decision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Relevance {
    /// Kept for sampling.
    Keep,
    /// Dropped, with the reason.
    Drop(DropReason),
}

/// The relevance filter (see the module docs).
pub fn relevance_filter(i: &Issue) -> Relevance {
    if let Some(l) = i
        .labels
        .iter()
        .find(|l| matches!(l.to_lowercase().as_str(), "duplicate" | "invalid" | "spam"))
    {
        return Relevance::Drop(DropReason::Label(l.to_lowercase()));
    }
    if i.state_reason.as_deref() == Some("not_planned") && i.n_comments == 0 {
        return Relevance::Drop(DropReason::NotPlannedSilent);
    }
    if i.body.as_deref().is_none_or(|b| b.trim().is_empty()) && i.n_comments == 0 {
        return Relevance::Drop(DropReason::Empty);
    }
    Relevance::Keep
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(stars: u64, pushed: &str, contributors: u64) -> RepoFacts {
        RepoFacts {
            meta: RepoMeta {
                id: RepoId::new("o", "llm-x"),
                stars,
                pushed_at: pushed.into(),
                archived: false,
                description: String::new(),
                topics: vec![],
            },
            contributors,
            closed_issues: 100,
            llm_core: true,
        }
    }

    #[test]
    fn selection_boundaries() {
        let c = SelectionCriteria::paper(Date::parse("2024-09-01").unwrap());
        let v = |f: RepoFacts| select(&[f], &c).remove(0).1;
        assert_eq!(
            v(facts(8999, "2024-08-01T00:00:00Z", 10)).failed,
            [Rule::Stars]
        );
        assert!(v(facts(9000, "2024-08-01T00:00:00Z", 10)).accepted());
        // 2023-09-02 is exactly 365 days before 2024-09-01 (2024 is a leap year).
        assert!(v(facts(9000, "2023-09-02T23:59:59Z", 10)).accepted());
        assert_eq!(
            v(facts(9000, "2023-09-01T00:00:00Z", 10)).failed,
            [Rule::Recency]
        );
        assert_eq!(v(facts(9000, "", 10)).failed, [Rule::Recency]);
        assert_eq!(v(facts(9000, "2024-08-01", 9)).failed, [Rule::Contributors]);
        let mut f = facts(9000, "2024-08-01", 10);
        f.meta.id = RepoId::new("o", "chat");
        f.meta.archived = true;
        f.llm_core = false;
        f.closed_issues = 99;
        assert_eq!(
            v(f.clone()).failed,
            [
                Rule::ClosedIssues,
                Rule::Archived,
                Rule::NotLlmCore,
                Rule::NoKeyword
            ]
        );
        f.meta.topics = vec!["large-language-model".into()];
        assert!(v(f.clone()).failed.contains(&Rule::NoKeyword));
        f.meta.description = "A Large Language Model app".into();
        assert!(!v(f).failed.contains(&Rule::NoKeyword));
    }

    #[test]
    fn dates_round_trip() {
        for s in ["1970-01-01", "2000-02-29", "2023-12-31", "2024-03-01"] {
            let d = Date::parse(s).unwrap();
            assert_eq!(Date::from_days(d.days()), d);
            assert_eq!(d.to_string(), s);
        }
        assert_eq!(Date::parse("1970-01-02").unwrap().days(), 1);
        assert_eq!(
            Date::parse("2024-09-01").unwrap().days() - Date::parse("2023-09-02").unwrap().days(),
            365
        );
        for bad in ["2023-02-29", "2023-13-01", "20230101", "x", "2023-1-01"] {
            assert!(Date::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn relevance_reasons() {
        let base = Issue {
            id: 1,
            repo: RepoId::new("o", "r"),
            number: 1,
            title: "t".into(),
            body: Some("text".into()),
            state_reason: Some("completed".into()),
            labels: vec![],
            created_at: String::new(),
            closed_at: None,
            n_comments: 0,
            comments: vec![],
        };
        assert_eq!(relevance_filter(&base), Relevance::Keep);
        let mut i = base.clone();
        i.body = Some("  ".into());
        assert_eq!(relevance_filter(&i), Relevance::Drop(DropReason::Empty));
        i.n_comments = 1;
        assert_eq!(relevance_filter(&i), Relevance::Keep);
        let mut i = base.clone();
        i.state_reason = Some("not_planned".into());
        assert_eq!(
            relevance_filter(&i),
            Relevance::Drop(DropReason::NotPlannedSilent)
        );
        i.n_comments = 2;
        assert_eq!(relevance_filter(&i), Relevance::Keep);
        let mut i = base;
        i.labels = vec!["Duplicate".into()];
        assert_eq!(
            relevance_filter(&i),
            Relevance::Drop(DropReason::Label("duplicate".into()))
        );
    }
}

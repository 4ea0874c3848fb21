//! What the paper reports that the project has verified, and the check that a report
//! built from the paper's label distribution reproduces the paper's order (claim L4).
//!
//! Until `taxonomy/cai2025.toml` holds a transcribed count for every category of a level,
//! [`paper_order_check`] answers [`PaperOrder::NotTestable`]: it never passes by default.
//!
//! ```
//! use repro_llm_issues::paper::{PaperOrder, paper_order_check};
//! use repro_llm_issues::taxonomy::Taxonomy;
//! let order = paper_order_check(&Taxonomy::builtin("cai2025")?);
//! assert!(matches!(order, PaperOrder::NotTestable { .. }));
//! # Ok::<(), repro_llm_issues::taxonomy::TaxonomyError>(())
//! ```

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::tables::{prevalence, tally};
use crate::taxonomy::{Level, Taxonomy};

/// Projects selected by the paper.
pub const PROJECTS: usize = 15;
/// Closed issues collected (published summaries of the paper).
pub const CLOSED_ISSUES: u64 = 14_588;
/// Issues carrying RQ-relevant information after labelling (published summaries).
pub const RELEVANT_ISSUES: u64 = 14_476;
/// The coded random sample (95 % confidence, ±3 % margin).
pub const SAMPLE: u64 = 994;
/// The most common issue category.
pub const TOP_ISSUE: &str = "Model Issue";
/// The three most frequent causes (unordered in what the project has read).
pub const TOP_CAUSES: [&str; 3] = [
    "Model Problem",
    "Configuration and Connection Problem",
    "Feature and Method Problem",
];
/// The predominant solution.
pub const TOP_SOLUTION: &str = "Optimize Model";

/// The outcome of the L4 check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum PaperOrder {
    /// Some level has no transcribed counts.
    NotTestable {
        /// Why.
        reason: String,
    },
    /// Counts were available for every level.
    Checked {
        /// First issue category is [`TOP_ISSUE`].
        first_issue: bool,
        /// The top three causes are [`TOP_CAUSES`].
        top3_causes: bool,
        /// First solution is [`TOP_SOLUTION`].
        first_solution: bool,
        /// Per level: the report's order equals the order of the transcribed counts.
        full_order: BTreeMap<Level, bool>,
        /// The report's ranking per level.
        rankings: BTreeMap<Level, Vec<(String, u64)>>,
    },
}

impl PaperOrder {
    /// Whether every part held (false when not testable).
    pub fn passed(&self) -> bool {
        match self {
            Self::NotTestable { .. } => false,
            Self::Checked {
                first_issue,
                top3_causes,
                first_solution,
                full_order,
                ..
            } => *first_issue && *top3_causes && *first_solution && full_order.values().all(|&b| b),
        }
    }
}

/// Rebuilds each level's label list from the transcribed counts, runs the report's
/// prevalence ranking on it, and compares with what the paper states.
pub fn paper_order_check(tax: &Taxonomy) -> PaperOrder {
    let missing: Vec<&str> = Level::ALL
        .iter()
        .filter(|&&l| !tax.has_counts(l))
        .map(|l| l.as_str())
        .collect();
    if !missing.is_empty() {
        return PaperOrder::NotTestable {
            reason: format!(
                "not testable: {} has no transcribed counts for level{} {}",
                tax.path.display(),
                if missing.len() > 1 { "s" } else { "" },
                missing.join(", ")
            ),
        };
    }
    let mut rankings = BTreeMap::new();
    let mut full_order = BTreeMap::new();
    for level in Level::ALL {
        let top = tax.top_level(level);
        let labels: Vec<&str> = top
            .iter()
            .flat_map(|c| std::iter::repeat_n(c.name.as_str(), c.count.unwrap_or(0) as usize))
            .collect();
        let ranked: Vec<(String, u64)> = prevalence(&labels, 1.96)
            .map(|rows| rows.into_iter().map(|r| (r.label, r.count)).collect())
            .unwrap_or_default();
        // The transcribed order: counts descending, ties by name.
        let mut expected: Vec<(String, u64)> = top
            .iter()
            .filter(|c| c.count.unwrap_or(0) > 0)
            .map(|c| (c.name.clone(), c.count.unwrap_or(0)))
            .collect();
        expected.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        full_order.insert(
            level,
            ranked == expected && tally(&labels).len() == expected.len(),
        );
        rankings.insert(level, ranked);
    }
    let first = |l: Level| {
        rankings[&l]
            .first()
            .map(|r| r.0.clone())
            .unwrap_or_default()
    };
    let top3: BTreeSet<String> = rankings[&Level::Cause]
        .iter()
        .take(3)
        .map(|r| r.0.clone())
        .collect();
    PaperOrder::Checked {
        first_issue: first(Level::Issue) == TOP_ISSUE,
        top3_causes: top3 == TOP_CAUSES.iter().map(|s| (*s).to_owned()).collect(),
        first_solution: first(Level::Solution) == TOP_SOLUTION,
        full_order,
        rankings,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn with_counts(
        issue: &[(&str, u64)],
        cause: &[(&str, u64)],
        solution: &[(&str, u64)],
    ) -> Taxonomy {
        let mut t = String::from("source = \"Cai et al. 2025\"\nname = \"t\"\n");
        for (level, cats) in [("issue", issue), ("cause", cause), ("solution", solution)] {
            for (i, (name, c)) in cats.iter().enumerate() {
                t += &format!(
                    "[[{level}]]\nid = \"{level}{i}\"\nname = \"{name}\"\ncount = {c}\npage = \"p. 1\"\n"
                );
            }
        }
        Taxonomy::parse(&t, Path::new("t.toml")).unwrap()
    }

    #[test]
    fn not_testable_by_default() {
        let r = paper_order_check(&Taxonomy::builtin("cai2025").unwrap());
        let PaperOrder::NotTestable { reason } = &r else {
            panic!("{r:?}")
        };
        assert!(
            reason.starts_with("not testable") && reason.contains("issue, cause, solution"),
            "{reason}"
        );
        assert!(!r.passed());
    }

    #[test]
    fn transcribed_counts_in_the_papers_order_pass_and_others_fail() {
        let good = with_counts(
            &[("Model Issue", 300), ("Other Issue", 100)],
            &[
                ("Model Problem", 200),
                ("Configuration and Connection Problem", 150),
                ("Feature and Method Problem", 120),
                ("Other Cause", 50),
            ],
            &[("Optimize Model", 250), ("Other Solution", 90)],
        );
        assert!(paper_order_check(&good).passed());
        let bad = with_counts(
            &[("Model Issue", 100), ("Other Issue", 300)],
            &[
                ("Model Problem", 200),
                ("Configuration and Connection Problem", 150),
                ("Feature and Method Problem", 20),
                ("Other Cause", 50),
            ],
            &[("Optimize Model", 250)],
        );
        let r = paper_order_check(&bad);
        let PaperOrder::Checked {
            first_issue,
            top3_causes,
            first_solution,
            full_order,
            ..
        } = &r
        else {
            panic!("{r:?}")
        };
        assert!(!first_issue && !top3_causes && *first_solution);
        assert!(full_order.values().all(|&b| b));
        assert!(!r.passed());
    }
}

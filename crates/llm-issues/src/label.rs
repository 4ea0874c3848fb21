//! Labellers: the rule labeller from a regex lexicon (the baseline every learned model
//! must beat), and the [`Labeller`] trait the learned classifiers share.
//!
//! [`RuleLabeller`] (our operationalisation): on the cleaned text
//! ([`crate::text::clean`]), `score_c = 2 · #title_matches_c + #body_matches_c`
//! (body = body and comments, cut at 8 000 characters); the class with the highest score
//! wins, ties go to the earlier class of a fixed order, and a zero score gives the
//! fallback class. [`RuleLabeller::nlbse`] holds the pre-registered NLBSE'24 lexicon
//! (bug > feature > question on ties, fallback bug); [`RuleLabeller::from_taxonomy`]
//! builds one from a taxonomy level's `keywords` (file order, the file's fallback).
//!
//! ```
//! use repro_llm_issues::label::{Labeller, RuleLabeller};
//! use repro_llm_issues::text::Doc;
//! let rules = RuleLabeller::nlbse();
//! let d = Doc::new("App crashes on start", "Traceback: segfault");
//! assert_eq!(rules.classes()[rules.label(&d)], "bug");
//! assert_eq!(rules.classes()[rules.label(&Doc::new("Add support for dark mode", ""))], "feature");
//! ```

use regex::Regex;

use crate::taxonomy::{Level, Taxonomy, TaxonomyError, compile_keyword};
use crate::text::{Doc, MAX_CHARS, clean, cut};

/// Something that labels documents with one of its classes.
pub trait Labeller {
    /// Class names, by index.
    fn classes(&self) -> &[String];
    /// A score per class (higher is more likely).
    fn scores(&self, doc: &Doc) -> Vec<f32>;
    /// The predicted class index.
    fn label(&self, doc: &Doc) -> usize;
    /// Labels of many documents.
    fn label_all(&self, docs: &[Doc]) -> Vec<usize> {
        docs.iter().map(|d| self.label(d)).collect()
    }
}

/// Keyword rules: one regex per class.
#[derive(Debug, Clone)]
pub struct RuleLabeller {
    classes: Vec<String>,
    patterns: Vec<Option<Regex>>,
    /// Class indices in tie-breaking order (earlier wins).
    tie_order: Vec<usize>,
    fallback: usize,
}

/// The pre-registered NLBSE'24 lexicon (case-insensitive), in class order bug, feature,
/// question.
pub const NLBSE_LEXICON: [(&str, &str); 3] = [
    (
        "bug",
        r"\bbug\b|error|exception|crash|fail|traceback|segfault|broken|regression|not work|doesn'?t work|unexpected|wrong|steps to reproduce|expected behaviou?r|actual behaviou?r",
    ),
    (
        "feature",
        r"feature|request|add support|support for|enhancement|proposal|suggest|would be (nice|great|useful)|option to|ability to|describe the solution you'?d like",
    ),
    (
        "question",
        r"\?|\bhow (do|can|to|does)\b|question|is (it|there) (possible|a way)|what (is|are|does)|why (does|is|do)|help|documentation|understand",
    ),
];

impl RuleLabeller {
    /// Rules from `(class, regex)` pairs; ties go to the earlier pair; `fallback` is a class
    /// index. A class with an empty pattern never scores.
    pub fn new(rules: &[(&str, &str)], fallback: usize) -> Result<Self, regex::Error> {
        let patterns = rules
            .iter()
            .map(|(_, p)| {
                if p.is_empty() {
                    Ok(None)
                } else {
                    compile_keyword(p).map(Some)
                }
            })
            .collect::<Result<_, _>>()?;
        Ok(Self {
            classes: rules.iter().map(|(c, _)| (*c).to_owned()).collect(),
            patterns,
            tie_order: (0..rules.len()).collect(),
            fallback: fallback.min(rules.len().saturating_sub(1)),
        })
    }

    /// The NLBSE'24 lexicon: bug > feature > question on ties, fallback bug.
    pub fn nlbse() -> Self {
        Self::new(&NLBSE_LEXICON, 0).expect("the NLBSE lexicon compiles")
    }

    /// Rules from the top-level categories of `level` (their `keywords` joined by `|`, in
    /// file order), falling back to the file's declared fallback for the level.
    pub fn from_taxonomy(tax: &Taxonomy, level: Level) -> Result<Self, TaxonomyError> {
        let top = tax.top_level(level);
        if top.is_empty() {
            return Err(TaxonomyError::Invalid {
                path: tax.path.clone(),
                line: None,
                msg: format!("no {level} categories to label with"),
            });
        }
        let joined: Vec<(String, String)> = top
            .iter()
            .map(|c| (c.name.clone(), c.keywords.join("|")))
            .collect();
        let fallback = match tax.fallback(level) {
            Some(f) => {
                top.iter()
                    .position(|c| c.name == f)
                    .ok_or_else(|| TaxonomyError::Invalid {
                        path: tax.path.clone(),
                        line: None,
                        msg: format!("fallback `{f}` is not a top-level {level} category"),
                    })?
            }
            None => 0,
        };
        let pairs: Vec<(&str, &str)> = joined
            .iter()
            .map(|(a, b)| (a.as_str(), b.as_str()))
            .collect();
        Self::new(&pairs, fallback).map_err(|e| TaxonomyError::Invalid {
            path: tax.path.clone(),
            line: None,
            msg: format!("{level} lexicon: {e}"),
        })
    }

    /// `(title matches, body matches)` of class `c`.
    pub fn matches(&self, doc: &Doc, c: usize) -> (usize, usize) {
        let Some(re) = &self.patterns[c] else {
            return (0, 0);
        };
        let title = clean(cut(&doc.title, MAX_CHARS));
        let body = clean(&doc.body_text());
        (re.find_iter(&title).count(), re.find_iter(&body).count())
    }

    /// The fallback class index.
    pub fn fallback(&self) -> usize {
        self.fallback
    }
}

impl Labeller for RuleLabeller {
    fn classes(&self) -> &[String] {
        &self.classes
    }

    fn scores(&self, doc: &Doc) -> Vec<f32> {
        let title = clean(cut(&doc.title, MAX_CHARS));
        let body = clean(&doc.body_text());
        self.patterns
            .iter()
            .map(|p| match p {
                Some(re) => (2 * re.find_iter(&title).count() + re.find_iter(&body).count()) as f32,
                None => 0.0,
            })
            .collect()
    }

    fn label(&self, doc: &Doc) -> usize {
        let s = self.scores(doc);
        let mut best: Option<usize> = None;
        for &c in &self.tie_order {
            if s[c] > 0.0 && best.is_none_or(|b| s[c] > s[b]) {
                best = Some(c);
            }
        }
        best.unwrap_or(self.fallback)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nlbse_rules_on_fixed_strings() {
        let r = RuleLabeller::nlbse();
        let lab = |t: &str, b: &str| r.classes()[r.label(&Doc::new(t, b))].clone();
        assert_eq!(lab("Crash when saving", "Steps to reproduce: open"), "bug");
        assert_eq!(lab("Add support for Vulkan", "It would be nice"), "feature");
        assert_eq!(lab("How do I build on Windows", "Any help?"), "question");
        // Scores: title matches count twice.
        let s = r.scores(&Doc::new("error", "error error"));
        assert_eq!(s, [4.0, 0.0, 0.0]);
        // Tie: "bug?" gives bug 2 (title) and question 2 (title "?"): bug wins the tie.
        assert_eq!(r.scores(&Doc::new("bug?", "")), [2.0, 0.0, 2.0]);
        assert_eq!(lab("bug?", ""), "bug");
        // Tie between feature and question: feature wins.
        assert_eq!(r.scores(&Doc::new("feature?", "")), [0.0, 2.0, 2.0]);
        assert_eq!(lab("feature?", ""), "feature");
        // Nothing matches: fallback bug.
        assert_eq!(r.scores(&Doc::new("Dark theme", "Purple")), [0.0, 0.0, 0.0]);
        assert_eq!(lab("Dark theme", "Purple"), "bug");
        // Code blocks and HTML comments do not count.
        assert_eq!(
            r.scores(&Doc::new("x", "<!-- feature request -->\n```\nerror\n```")),
            [0.0, 0.0, 0.0]
        );
    }

    #[test]
    fn rules_from_the_codebook() {
        let tax = Taxonomy::builtin("codebook_v0").unwrap();
        let r = RuleLabeller::from_taxonomy(&tax, Level::Issue).unwrap();
        assert_eq!(r.classes().len(), 8);
        let lab = |t: &str, b: &str| r.classes()[r.label(&Doc::new(t, b))].clone();
        assert_eq!(
            lab("CUDA out of memory", "OOM with 7B"),
            "Performance & Memory"
        );
        assert_eq!(
            lab("Model outputs gibberish", "after loading the gguf"),
            "Model Issue"
        );
        assert_eq!(lab("Purple", "Orange"), "Feature/Usage Question");
        let s = RuleLabeller::from_taxonomy(&tax, Level::Solution).unwrap();
        assert_eq!(
            s.classes()[s.label(&Doc::new("", "Please upgrade transformers"))],
            "Upgrade/Downgrade Dependency"
        );
        let cai = Taxonomy::builtin("cai2025").unwrap();
        // No lexicon: always the fallback (the first category without a declared one).
        let c = RuleLabeller::from_taxonomy(&cai, Level::Cause).unwrap();
        assert_eq!(c.label(&Doc::new("api key", "proxy")), 0);
    }
}

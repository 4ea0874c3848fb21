//! Taxonomies as data files: issue, cause and solution categories with optional parents,
//! regex lexicons and transcribed counts, and cross-walks from one label set to another.
//!
//! Built in (`crates/llm-issues/taxonomy/`):
//!
//! - `cai2025.toml` (`source = "Cai et al. 2025"`): only the category names verified from
//!   the paper (Model Issue; Model Problem, Configuration and Connection Problem, Feature
//!   and Method Problem; Optimize Model), no counts until they are transcribed with a page
//!   reference.
//! - `codebook_v0.toml` (`source = "project"`): our own codebook with lexicons (our
//!   operationalisation).
//! - `open_llm_failures.toml`: the symptom and root-cause trees as the data spell them.
//! - `crosswalk_olf_v0.toml`: Open-LLM-Failures root causes → codebook_v0 causes (ours).
//!
//! File format (TOML; unknown keys are errors, every error names the file and line):
//!
//! ```toml
//! source = "project"          # who the categories come from
//! name = "demo"
//! [fallback]                  # optional: the class the rule labeller falls back to
//! issue = "Other"
//! [[issue]]                   # also [[cause]] and [[solution]]
//! id = "model"
//! name = "Model Issue"
//! keywords = ['gguf|weights'] # optional regexes (case-insensitive)
//! count = 120                 # optional transcribed count ...
//! page = "Table 3, p. 12"     # ... which then needs its source
//! [[issue]]
//! id = "other"
//! name = "Other"
//! ```
//!
//! ```
//! use repro_llm_issues::taxonomy::{Level, Taxonomy};
//! let cai = Taxonomy::builtin("cai2025")?;
//! assert_eq!(cai.source, "Cai et al. 2025");
//! assert_eq!(cai.top_level(Level::Issue)[0].name, "Model Issue");
//! assert!(!cai.has_counts(Level::Cause)); // not transcribed yet
//! # Ok::<(), repro_llm_issues::taxonomy::TaxonomyError>(())
//! ```

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use toml::Spanned;

/// A level of the study's taxonomies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    /// RQ1: the issue practitioners meet (D1).
    Issue,
    /// RQ2: its cause (D2).
    Cause,
    /// RQ3: its solution (D3).
    Solution,
}

impl Level {
    /// The three levels in the paper's order.
    pub const ALL: [Level; 3] = [Level::Issue, Level::Cause, Level::Solution];

    /// `issue`, `cause` or `solution`.
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Issue => "issue",
            Level::Cause => "cause",
            Level::Solution => "solution",
        }
    }

    /// Parses `issue`, `cause` or `solution`.
    pub fn parse(s: &str) -> Option<Level> {
        Level::ALL.into_iter().find(|l| l.as_str() == s)
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A category of one level.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Category {
    /// Stable id (unique within its level).
    pub id: String,
    /// Name, verbatim from the source (unique within its level).
    pub name: String,
    /// Parent category id (same level), `None` for a top-level category.
    pub parent: Option<String>,
    /// Case-insensitive regexes for the rule labeller.
    pub keywords: Vec<String>,
    /// Transcribed count, if any.
    pub count: Option<u64>,
    /// Where the count was transcribed from.
    pub page: Option<String>,
    /// Line of the entry in its file.
    pub line: usize,
}

/// A parsed taxonomy file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Taxonomy {
    /// Who the categories come from (`Cai et al. 2025`, `project`, ...).
    pub source: String,
    /// Short name.
    pub name: String,
    /// The file it was read from.
    pub path: PathBuf,
    /// Categories per level, in file order.
    pub levels: BTreeMap<Level, Vec<Category>>,
    /// Fallback class name per level for the rule labeller.
    pub fallback: BTreeMap<Level, String>,
}

/// A malformed taxonomy or cross-walk file, or a label it does not know.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TaxonomyError {
    /// The file is malformed.
    #[error("{}{}: {msg}", path.display(), line.map(|l| format!(", line {l}")).unwrap_or_default())]
    Invalid {
        /// The file.
        path: PathBuf,
        /// 1-based line, when known.
        line: Option<usize>,
        /// What is wrong.
        msg: String,
    },
    /// A label has no category (or no cross-walk entry).
    #[error("unknown {what} label `{label}` (not in {})", path.display())]
    UnknownLabel {
        /// Which label set.
        what: String,
        /// The label.
        label: String,
        /// The taxonomy or cross-walk file.
        path: PathBuf,
    },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCategory {
    id: String,
    name: String,
    #[serde(default)]
    parent: Option<String>,
    #[serde(default)]
    keywords: Vec<String>,
    #[serde(default)]
    count: Option<u64>,
    #[serde(default)]
    page: Option<String>,
    #[serde(default)]
    description: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTaxonomy {
    source: String,
    name: String,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    fallback: BTreeMap<String, Spanned<String>>,
    #[serde(default)]
    issue: Vec<Spanned<RawCategory>>,
    #[serde(default)]
    cause: Vec<Spanned<RawCategory>>,
    #[serde(default)]
    solution: Vec<Spanned<RawCategory>>,
}

/// 1-based line of byte `offset` in `text`.
fn line_of(text: &str, offset: usize) -> usize {
    text.as_bytes()[..offset.min(text.len())]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

fn invalid(path: &Path, line: Option<usize>, msg: impl Into<String>) -> TaxonomyError {
    TaxonomyError::Invalid {
        path: path.to_path_buf(),
        line,
        msg: msg.into(),
    }
}

fn toml_error(path: &Path, text: &str, e: &toml::de::Error) -> TaxonomyError {
    let line = e.span().map(|s| line_of(text, s.start));
    invalid(path, line, e.message().trim().to_owned())
}

/// Compiles a lexicon entry the way the rule labeller does (case-insensitive).
pub fn compile_keyword(pattern: &str) -> Result<regex::Regex, regex::Error> {
    regex::RegexBuilder::new(pattern)
        .case_insensitive(true)
        .size_limit(1 << 22)
        .build()
}

const BUILTIN: [(&str, &str); 4] = [
    ("cai2025", include_str!("../taxonomy/cai2025.toml")),
    ("codebook_v0", include_str!("../taxonomy/codebook_v0.toml")),
    (
        "open_llm_failures",
        include_str!("../taxonomy/open_llm_failures.toml"),
    ),
    (
        "crosswalk_olf_v0",
        include_str!("../taxonomy/crosswalk_olf_v0.toml"),
    ),
];

fn builtin_text(name: &str) -> Option<(&'static str, PathBuf)> {
    BUILTIN.iter().find(|(n, _)| *n == name).map(|(n, t)| {
        (
            *t,
            PathBuf::from(format!("crates/llm-issues/taxonomy/{n}.toml")),
        )
    })
}

impl Taxonomy {
    /// Parses a taxonomy file's text; `origin` names it in errors.
    pub fn parse(text: &str, origin: &Path) -> Result<Self, TaxonomyError> {
        let raw: RawTaxonomy = toml::from_str(text).map_err(|e| toml_error(origin, text, &e))?;
        let _ = (&raw.description, &raw.name);
        if raw.source.trim().is_empty() {
            return Err(invalid(origin, Some(1), "`source` is empty"));
        }
        let mut levels = BTreeMap::new();
        for (level, entries) in [
            (Level::Issue, raw.issue),
            (Level::Cause, raw.cause),
            (Level::Solution, raw.solution),
        ] {
            let mut cats: Vec<Category> = Vec::new();
            for e in entries {
                let line = line_of(text, e.span().start);
                let r = e.into_inner();
                let _ = &r.description;
                let err = |msg: String| invalid(origin, Some(line), format!("[[{level}]] {msg}"));
                if r.id.trim().is_empty() || r.name.trim().is_empty() {
                    return Err(err("`id` and `name` must not be empty".into()));
                }
                if let Some(prev) = cats.iter().find(|c| c.id == r.id) {
                    return Err(err(format!(
                        "duplicate id `{}` (first at line {})",
                        r.id, prev.line
                    )));
                }
                if let Some(prev) = cats.iter().find(|c| c.name == r.name) {
                    return Err(err(format!(
                        "duplicate name `{}` (first at line {})",
                        r.name, prev.line
                    )));
                }
                if let Some(p) = &r.parent
                    && !cats.iter().any(|c| &c.id == p)
                {
                    return Err(err(format!(
                        "`{}`: parent `{p}` is not a {level} category defined above it",
                        r.id
                    )));
                }
                for k in &r.keywords {
                    compile_keyword(k).map_err(|e| {
                        err(format!("`{}`: keyword `{k}` is not a regex: {e}", r.id))
                    })?;
                }
                if r.count.is_some() && r.page.as_deref().is_none_or(|p| p.trim().is_empty()) {
                    return Err(err(format!(
                        "`{}`: a transcribed `count` needs its `page` (where it comes from)",
                        r.id
                    )));
                }
                cats.push(Category {
                    id: r.id,
                    name: r.name,
                    parent: r.parent,
                    keywords: r.keywords,
                    count: r.count,
                    page: r.page,
                    line,
                });
            }
            levels.insert(level, cats);
        }
        let mut fallback = BTreeMap::new();
        for (k, v) in raw.fallback {
            let line = Some(line_of(text, v.span().start));
            let level = Level::parse(&k).ok_or_else(|| {
                invalid(
                    origin,
                    line,
                    format!("[fallback] `{k}` is not issue, cause or solution"),
                )
            })?;
            let name = v.into_inner();
            if !levels[&level].iter().any(|c| c.name == name) {
                return Err(invalid(
                    origin,
                    line,
                    format!("[fallback] {level} `{name}` is not a {level} category"),
                ));
            }
            fallback.insert(level, name);
        }
        Ok(Self {
            source: raw.source,
            name: raw.name,
            path: origin.to_path_buf(),
            levels,
            fallback,
        })
    }

    /// Reads and parses a taxonomy file.
    pub fn load(path: &Path) -> Result<Self, TaxonomyError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| invalid(path, None, format!("cannot read: {e}")))?;
        Self::parse(&text, path)
    }

    /// A built-in taxonomy: `cai2025`, `codebook_v0` or `open_llm_failures`.
    pub fn builtin(name: &str) -> Result<Self, TaxonomyError> {
        let (text, path) = builtin_text(name)
            .filter(|_| name != "crosswalk_olf_v0")
            .ok_or_else(|| {
                invalid(
                    Path::new(name),
                    None,
                    "no such built-in taxonomy (cai2025, codebook_v0, open_llm_failures)",
                )
            })?;
        Self::parse(text, &path)
    }

    /// Every category of a level, in file order.
    pub fn categories(&self, level: Level) -> &[Category] {
        self.levels.get(&level).map_or(&[], Vec::as_slice)
    }

    /// The top-level categories of a level, in file order.
    pub fn top_level(&self, level: Level) -> Vec<&Category> {
        self.categories(level)
            .iter()
            .filter(|c| c.parent.is_none())
            .collect()
    }

    /// The category called `name`.
    pub fn by_name(&self, level: Level, name: &str) -> Option<&Category> {
        self.categories(level).iter().find(|c| c.name == name)
    }

    /// `Ok` when `label` names a category of `level`, else [`TaxonomyError::UnknownLabel`].
    pub fn check_label(&self, level: Level, label: &str) -> Result<(), TaxonomyError> {
        if self.by_name(level, label).is_some() {
            Ok(())
        } else {
            Err(TaxonomyError::UnknownLabel {
                what: format!("{} {level}", self.name),
                label: label.into(),
                path: self.path.clone(),
            })
        }
    }

    /// Whether every top-level category of `level` has a transcribed count (and there is at
    /// least one).
    pub fn has_counts(&self, level: Level) -> bool {
        let top = self.top_level(level);
        !top.is_empty() && top.iter().all(|c| c.count.is_some())
    }

    /// The fallback class of a level, if declared.
    pub fn fallback(&self, level: Level) -> Option<&str> {
        self.fallback.get(&level).map(String::as_str)
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMap {
    from: String,
    to: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCrosswalk {
    source: String,
    from: String,
    to: String,
    level: String,
    unmapped: String,
    #[serde(default)]
    map: Vec<Spanned<RawMap>>,
}

/// A mapping from one label set onto a taxonomy level.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Crosswalk {
    /// Who made it.
    pub source: String,
    /// The label set mapped from.
    pub from: String,
    /// The taxonomy mapped to.
    pub to: String,
    /// The level mapped to.
    pub level: Level,
    /// The target for labels without a counterpart.
    pub unmapped: String,
    /// `from -> to`, in file order.
    pub map: Vec<(String, String)>,
    /// The file it was read from.
    pub path: PathBuf,
}

impl Crosswalk {
    /// Parses a cross-walk file's text; `origin` names it in errors.
    pub fn parse(text: &str, origin: &Path) -> Result<Self, TaxonomyError> {
        let raw: RawCrosswalk = toml::from_str(text).map_err(|e| toml_error(origin, text, &e))?;
        let level = Level::parse(&raw.level).ok_or_else(|| {
            invalid(
                origin,
                None,
                format!(
                    "`level = \"{}\"` is not issue, cause or solution",
                    raw.level
                ),
            )
        })?;
        let mut map: Vec<(String, String)> = Vec::new();
        let mut seen = BTreeSet::new();
        for m in raw.map {
            let line = Some(line_of(text, m.span().start));
            let m = m.into_inner();
            if !seen.insert(m.from.clone()) {
                return Err(invalid(
                    origin,
                    line,
                    format!("[[map]] `{}` is mapped twice", m.from),
                ));
            }
            if m.to.trim().is_empty() {
                return Err(invalid(origin, line, "[[map]] `to` is empty"));
            }
            map.push((m.from, m.to));
        }
        Ok(Self {
            source: raw.source,
            from: raw.from,
            to: raw.to,
            level,
            unmapped: raw.unmapped,
            map,
            path: origin.to_path_buf(),
        })
    }

    /// The built-in `crosswalk_olf_v0`.
    pub fn builtin_olf_v0() -> Result<Self, TaxonomyError> {
        let (text, path) = builtin_text("crosswalk_olf_v0")
            .ok_or_else(|| invalid(Path::new("crosswalk_olf_v0"), None, "missing built-in"))?;
        Self::parse(text, &path)
    }

    /// Checks that every target is a category of `target` at this level (or `unmapped`).
    pub fn validate_against(&self, target: &Taxonomy) -> Result<(), TaxonomyError> {
        for (from, to) in &self.map {
            if to != &self.unmapped && target.by_name(self.level, to).is_none() {
                return Err(invalid(
                    &self.path,
                    None,
                    format!(
                        "`{from}` maps to `{to}`, which is not a {} category of {}",
                        self.level,
                        target.path.display()
                    ),
                ));
            }
        }
        Ok(())
    }

    /// The target of `label`, or [`TaxonomyError::UnknownLabel`] when it has no entry.
    pub fn map(&self, label: &str) -> Result<&str, TaxonomyError> {
        self.map
            .iter()
            .find(|(f, _)| f == label)
            .map(|(_, t)| t.as_str())
            .ok_or_else(|| TaxonomyError::UnknownLabel {
                what: self.from.clone(),
                label: label.into(),
                path: self.path.clone(),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(text: &str) -> String {
        Taxonomy::parse(text, Path::new("t.toml"))
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn builtins_parse_and_keep_the_papers_names_apart() {
        let cai = Taxonomy::builtin("cai2025").unwrap();
        let names = |l| {
            cai.categories(l)
                .iter()
                .map(|c| c.name.as_str())
                .collect::<Vec<_>>()
        };
        assert_eq!(names(Level::Issue), ["Model Issue"]);
        assert_eq!(
            names(Level::Cause),
            [
                "Model Problem",
                "Configuration and Connection Problem",
                "Feature and Method Problem"
            ]
        );
        assert_eq!(names(Level::Solution), ["Optimize Model"]);
        assert!(Level::ALL.iter().all(|&l| !cai.has_counts(l)));
        let v0 = Taxonomy::builtin("codebook_v0").unwrap();
        assert_eq!(v0.source, "project");
        assert_eq!(v0.top_level(Level::Issue).len(), 8);
        assert_eq!(v0.top_level(Level::Cause).len(), 8);
        assert_eq!(v0.top_level(Level::Solution).len(), 8);
        assert_eq!(v0.categories(Level::Issue).len(), 12);
        // Every codebook name in cai2025 is one of the paper's (no v0 names leak in).
        for l in Level::ALL {
            for c in cai.categories(l) {
                assert!(v0.by_name(l, &c.name).is_some(), "{}", c.name);
            }
        }
        let olf = Taxonomy::builtin("open_llm_failures").unwrap();
        assert_eq!(olf.top_level(Level::Issue).len(), 5);
        assert_eq!(olf.top_level(Level::Cause).len(), 9);
        assert_eq!(olf.categories(Level::Cause).len(), 9 + 27);
        let cw = Crosswalk::builtin_olf_v0().unwrap();
        cw.validate_against(&v0).unwrap();
        // The cross-walk covers exactly the data's root-cause categories.
        let from: BTreeSet<&str> = cw.map.iter().map(|(f, _)| f.as_str()).collect();
        let cats: BTreeSet<&str> = olf
            .top_level(Level::Cause)
            .iter()
            .map(|c| c.name.as_str())
            .collect();
        assert_eq!(from, cats);
        assert_eq!(
            cw.map("Environment Compatibility Issues").unwrap(),
            "Dependency & Environment Problem"
        );
        let e = cw.map("Environment Compatibility").unwrap_err().to_string();
        assert!(
            e.contains("crosswalk_olf_v0.toml") && e.contains("unknown"),
            "{e}"
        );
        assert!(Taxonomy::builtin("nope").is_err());
    }

    #[test]
    fn malformed_files_name_file_and_line() {
        let head = "source = \"x\"\nname = \"t\"\n";
        let e = err(&format!(
            "{head}[[issue]]\nid = \"a\"\nname = \"A\"\n[[issue]]\nid = \"a\"\nname = \"B\"\n"
        ));
        assert!(
            e.contains("t.toml, line 6") && e.contains("duplicate id `a`"),
            "{e}"
        );
        let e = err(&format!(
            "{head}[[cause]]\nid = \"a\"\nname = \"A\"\nparent = \"z\"\n"
        ));
        assert!(e.contains("line 3") && e.contains("parent `z`"), "{e}");
        let e = err(&format!(
            "{head}[[issue]]\nid = \"a\"\nname = \"A\"\ncolour = 1\n"
        ));
        assert!(e.contains("t.toml") && e.contains("colour"), "{e}");
        let e = err(&format!(
            "{head}[[issue]]\nid = \"a\"\nname = \"A\"\nkeywords = ['(']\n"
        ));
        assert!(e.contains("line 3") && e.contains("not a regex"), "{e}");
        let e = err(&format!(
            "{head}[[issue]]\nid = \"a\"\nname = \"A\"\ncount = 3\n"
        ));
        assert!(e.contains("needs its `page`"), "{e}");
        let e = err(&format!("{head}[fallback]\nissue = \"Nope\"\n"));
        assert!(e.contains("line 4") && e.contains("`Nope`"), "{e}");
        let e = err(&format!("{head}[fallback]\nrq4 = \"A\"\n"));
        assert!(e.contains("`rq4`"), "{e}");
        let e = err("source = \"x\"\nname = \n");
        assert!(e.contains("t.toml, line 2"), "{e}");
        let e = err("name = \"t\"\n");
        assert!(e.contains("source"), "{e}");
        let e = err("source = \" \"\nname = \"t\"\n");
        assert!(e.contains("`source` is empty"), "{e}");
        let ok = Taxonomy::parse(
            &format!("{head}[[issue]]\nid = \"a\"\nname = \"A\"\ncount = 3\npage = \"p. 1\"\n"),
            Path::new("t.toml"),
        )
        .unwrap();
        assert!(ok.has_counts(Level::Issue) && !ok.has_counts(Level::Cause));
        assert!(ok.check_label(Level::Issue, "A").is_ok());
        let e = ok.check_label(Level::Issue, "B").unwrap_err().to_string();
        assert!(e.contains("`B`") && e.contains("t.toml"), "{e}");
    }

    #[test]
    fn malformed_crosswalks() {
        let head =
            "source = \"p\"\nfrom = \"a\"\nto = \"b\"\nlevel = \"cause\"\nunmapped = \"U\"\n";
        let e = Crosswalk::parse(
            &format!(
                "{head}[[map]]\nfrom = \"x\"\nto = \"y\"\n[[map]]\nfrom = \"x\"\nto = \"z\"\n"
            ),
            Path::new("c.toml"),
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("c.toml, line 9") && e.contains("mapped twice"),
            "{e}"
        );
        let e = Crosswalk::parse(&head.replace("cause", "rq"), Path::new("c.toml"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("`level = \"rq\"`"), "{e}");
        let cw = Crosswalk::parse(
            &format!("{head}[[map]]\nfrom = \"x\"\nto = \"Nope\"\n"),
            Path::new("c.toml"),
        )
        .unwrap();
        let e = cw
            .validate_against(&Taxonomy::builtin("codebook_v0").unwrap())
            .unwrap_err()
            .to_string();
        assert!(e.contains("`Nope`"), "{e}");
    }
}

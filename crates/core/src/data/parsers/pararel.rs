//! PARAREL: LAMA T-REx facts and paraphrased cloze patterns, from yanaiela/pararel
//! (`data/trex_lms_vocab/P<id>.jsonl` and `data/pattern_data/graphs_json/P<id>.jsonl`;
//! see `datasets/SOURCES.md`, section 6).
//!
//! Both are JSON Lines (one object per line, LF). A fact has exactly the keys
//! `sub_label`, `obj_label` and `uuid`; a pattern has exactly `pattern` (containing the
//! placeholders `[X]` for the subject and `[Y]` for the object), `lemma`,
//! `extended_lemma` and `tense`. Unknown keys are errors. Blank lines are skipped; errors
//! name the file and line. The facts are CC BY-NC 4.0 (LAMA).

use std::collections::BTreeMap;
use std::path::Path;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::data::DataRoots;
use crate::data::registry::registry;
use crate::error::DataError;

/// One subject–relation–object fact.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Fact {
    /// Subject name.
    pub sub_label: String,
    /// Object name (a single token for BERT-cased, RoBERTa and ALBERT).
    pub obj_label: String,
    /// LAMA identifier of the fact.
    pub uuid: String,
}

/// One cloze pattern (paraphrase) of a relation.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Pattern {
    /// The template, with `[X]` for the subject and `[Y]` for the object.
    pub pattern: String,
    /// Lemma of the relation phrase.
    pub lemma: String,
    /// Extended lemma of the relation phrase.
    pub extended_lemma: String,
    /// Tense: `present`, `past`, `future`, `?` or `-` upstream.
    pub tense: String,
}

impl Pattern {
    /// The pattern with `[X]` replaced by `subject` and `[Y]` by `object`.
    pub fn fill(&self, subject: &str, object: &str) -> String {
        self.pattern.replace("[X]", subject).replace("[Y]", object)
    }
}

/// Parses JSON Lines into records of type `T`; blank lines are skipped.
fn parse_jsonl<T: DeserializeOwned>(bytes: &[u8], origin: &Path) -> Result<Vec<T>, DataError> {
    let mut out = Vec::new();
    for (i, line) in bytes.split(|&b| b == b'\n').enumerate() {
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let rec = serde_json::from_slice(line)
            .map_err(|e| DataError::parse_at(origin, i + 1, format!("invalid record: {e}")))?;
        out.push(rec);
    }
    Ok(out)
}

/// Parses a `trex_lms_vocab/P<id>.jsonl` file.
pub fn parse_facts_jsonl(bytes: &[u8], origin: &Path) -> Result<Vec<Fact>, DataError> {
    parse_jsonl(bytes, origin)
}

/// Parses a `graphs_json/P<id>.jsonl` file; every pattern must contain `[X]` and `[Y]`.
pub fn parse_patterns_jsonl(bytes: &[u8], origin: &Path) -> Result<Vec<Pattern>, DataError> {
    let patterns: Vec<Pattern> = parse_jsonl(bytes, origin)?;
    // Recover line numbers for the placeholder check (blank lines were skipped).
    let mut line_numbers = bytes
        .split(|&b| b == b'\n')
        .enumerate()
        .filter(|(_, l)| !l.iter().all(u8::is_ascii_whitespace))
        .map(|(i, _)| i + 1);
    for p in &patterns {
        let line = line_numbers.next().unwrap_or_default();
        for ph in ["[X]", "[Y]"] {
            if !p.pattern.contains(ph) {
                return Err(DataError::parse_at(
                    origin,
                    line,
                    format!("pattern {:?} lacks the placeholder {ph}", p.pattern),
                ));
            }
        }
    }
    Ok(patterns)
}

/// One Wikidata relation with its facts and patterns.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Relation {
    /// Wikidata property id, e.g. `P17`.
    pub id: String,
    /// Its facts (empty if it has no facts file).
    pub facts: Vec<Fact>,
    /// Its patterns (empty if it has no pattern file: P31 and P527 upstream).
    pub patterns: Vec<Pattern>,
}

/// The whole PARAREL data set, by relation id.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Pararel {
    /// Relations keyed by id (string order: `P101` sorts before `P17`).
    pub relations: BTreeMap<String, Relation>,
}

impl Pararel {
    /// Total number of facts.
    pub fn num_facts(&self) -> usize {
        self.relations.values().map(|r| r.facts.len()).sum()
    }

    /// Total number of patterns.
    pub fn num_patterns(&self) -> usize {
        self.relations.values().map(|r| r.patterns.len()).sum()
    }
}

/// Loads every registered file of dataset `pararel`: `pararel/trex_lms_vocab/P<id>.jsonl`
/// (facts) and `pararel/graphs_json/P<id>.jsonl` (patterns). A registered file of another
/// form is a registry error.
pub fn load_pararel(roots: &DataRoots) -> Result<Pararel, DataError> {
    let ds = registry().dataset("pararel")?;
    let mut out = Pararel::default();
    for f in &ds.files {
        let parts: Vec<&str> = f.path.split('/').collect();
        let (kind, id) = match parts.as_slice() {
            ["pararel", kind @ ("trex_lms_vocab" | "graphs_json"), file] => {
                match file.strip_suffix(".jsonl") {
                    Some(id)
                        if id.len() > 1
                            && id.starts_with('P')
                            && id.bytes().skip(1).all(|b| b.is_ascii_digit()) =>
                    {
                        (*kind, id)
                    }
                    _ => return Err(unexpected(&f.path)),
                }
            }
            _ => return Err(unexpected(&f.path)),
        };
        let (bytes, path) = roots.read_with_path("pararel", &f.path)?;
        let rel = out
            .relations
            .entry(id.to_owned())
            .or_insert_with(|| Relation {
                id: id.to_owned(),
                ..Relation::default()
            });
        if kind == "trex_lms_vocab" {
            rel.facts = parse_facts_jsonl(&bytes, &path)?;
        } else {
            rel.patterns = parse_patterns_jsonl(&bytes, &path)?;
        }
    }
    Ok(out)
}

fn unexpected(path: &str) -> DataError {
    DataError::Registry(format!(
        "dataset `pararel` has file `{path}`, expected pararel/trex_lms_vocab/P<id>.jsonl \
         or pararel/graphs_json/P<id>.jsonl"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn real_pararel() {
        let Some(roots) = crate::testing::mirror_roots() else {
            return;
        };
        let p = load_pararel(&roots).unwrap();
        assert_eq!(p.relations.len(), 41);
        assert_eq!(p.num_facts(), 29_411);
        assert_eq!(p.num_patterns(), 329);
        let with_patterns = p
            .relations
            .values()
            .filter(|r| !r.patterns.is_empty())
            .count();
        assert_eq!(with_patterns, 39);
        assert!(p.relations["P31"].patterns.is_empty());
        assert!(p.relations["P527"].patterns.is_empty());
        let count = |id: &str| (p.relations[id].facts.len(), p.relations[id].patterns.len());
        assert_eq!(count("P17"), (912, 3));
        assert_eq!(count("P138"), (461, 20));
        assert_eq!(count("P264"), (53, 17));
        assert_eq!(count("P1001"), (664, 1));
        assert_eq!(count("P31"), (879, 0));
        assert_eq!(count("P527"), (922, 0));
        assert!(p.relations.iter().all(|(k, r)| *k == r.id));
        let objects: std::collections::BTreeSet<&str> = p
            .relations
            .values()
            .flat_map(|r| r.facts.iter().map(|f| f.obj_label.as_str()))
            .collect();
        assert_eq!(objects.len(), 1531);
        assert!(objects.iter().all(|o| !o.contains(' ')));
        let tenses: std::collections::BTreeSet<&str> = p
            .relations
            .values()
            .flat_map(|r| r.patterns.iter().map(|x| x.tense.as_str()))
            .collect();
        assert_eq!(
            tenses,
            std::collections::BTreeSet::from(["-", "?", "future", "past", "present"])
        );
        // SOURCES.md: "14 lines repeat an earlier (subject, object) pair, and 785
        // (relation, subject) pairs have more than one object". Measured: 14 distinct pairs
        // occur more than once within a file (17 surplus lines); 785 (relation, subject)
        // pairs occur on more than one line, 775 of them with more than one distinct object.
        let (mut repeated_pairs, mut surplus_lines, mut multi_line, mut multi_object) =
            (0, 0, 0, 0);
        for r in p.relations.values() {
            let mut pairs: BTreeMap<(&str, &str), usize> = BTreeMap::new();
            let mut objs: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
            for f in &r.facts {
                *pairs.entry((&f.sub_label, &f.obj_label)).or_default() += 1;
                objs.entry(&f.sub_label).or_default().push(&f.obj_label);
            }
            repeated_pairs += pairs.values().filter(|&&c| c > 1).count();
            surplus_lines += pairs.values().map(|&c| c - 1).sum::<usize>();
            multi_line += objs.values().filter(|o| o.len() > 1).count();
            multi_object += objs
                .values()
                .filter(|o| o.iter().collect::<std::collections::BTreeSet<_>>().len() > 1)
                .count();
        }
        assert_eq!(
            (repeated_pairs, surplus_lines, multi_line, multi_object),
            (14, 17, 785, 775)
        );
        let first = &p.relations["P17"].patterns[0];
        assert_eq!(first.pattern, "[X] is located in [Y] .");
        assert_eq!(
            first.fill("Eibenstock", "Germany"),
            "Eibenstock is located in Germany ."
        );
    }

    #[test]
    fn fixture_facts_and_patterns() {
        let p = Path::new("P1.jsonl");
        let facts = parse_facts_jsonl(
            b"{\"sub_label\": \"A\\u00e9\", \"obj_label\": \"B\", \"uuid\": \"u1\"}\n\n{\"sub_label\": \"C\", \"obj_label\": \"D\", \"uuid\": \"u2\"}\n",
            p,
        )
        .unwrap();
        assert_eq!(facts.len(), 2);
        assert_eq!(facts[0].sub_label, "A\u{e9}");
        assert_eq!(facts[1].uuid, "u2");
        let pats = parse_patterns_jsonl(
            br#"{"pattern": "[X] is in [Y].", "lemma": "is", "extended_lemma": "is-in", "tense": "present"}"#,
            p,
        )
        .unwrap();
        assert_eq!(pats[0].extended_lemma, "is-in");
        assert!(parse_facts_jsonl(b"", p).unwrap().is_empty());
    }

    #[test]
    fn malformed_lines_are_named() {
        let p = Path::new("P1.jsonl");
        let good = r#"{"sub_label": "A", "obj_label": "B", "uuid": "u"}"#;
        let e = parse_facts_jsonl(format!("{good}\n{{\"sub_label\": \"A\"\n").as_bytes(), p)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("P1.jsonl, line 2") && e.contains("invalid record"),
            "{e}"
        );
        let e = parse_facts_jsonl(
            format!("{good}\n{good}\n{{\"sub_label\": \"A\", \"obj_label\": \"B\"}}\n").as_bytes(),
            p,
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("line 3") && e.contains("missing field `uuid`"),
            "{e}"
        );
        let e = parse_facts_jsonl(
            br#"{"sub_label": "A", "obj_label": "B", "uuid": "u", "extra": 1}"#,
            p,
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("line 1") && e.contains("unknown field `extra`"),
            "{e}"
        );
        let e = parse_facts_jsonl(
            b"{\"sub_label\": \"\xff\", \"obj_label\": \"B\", \"uuid\": \"u\"}",
            p,
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("line 1"), "{e}");
        let pat = |s: &str| {
            format!(r#"{{"pattern": "{s}", "lemma": "l", "extended_lemma": "l", "tense": "?"}}"#)
        };
        let e = parse_patterns_jsonl(
            format!("{}\n\n{}\n", pat("[X] in [Y]"), pat("[X] in")).as_bytes(),
            p,
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("line 3") && e.contains("lacks the placeholder [Y]"),
            "{e}"
        );
        let e = parse_patterns_jsonl(br#"{"pattern": "[X] [Y]", "lemma": "l", "tense": "?"}"#, p)
            .unwrap_err()
            .to_string();
        assert!(e.contains("missing field `extended_lemma`"), "{e}");
    }
}

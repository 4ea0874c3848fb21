//! Real facts for E6: PARAREL's person → country of citizenship (P27) → official language
//! (P37) chains, read through `repro_core`'s PARAREL parser and data roots.
//!
//! Patterns keep those with `[X]` before `[Y]` (8 of P27's 9, 6 of P37's 9), cut just before
//! `[Y]`: the prompt is the prefix, the object its next token. Facts drop repeated lines and
//! every (relation, subject) with several objects. A chain is a person whose country has a
//! single official language. Entity labels are single tokens; pattern words are split at
//! spaces with punctuation separate ([`tokenize`]). The two-hop query
//! templates are ours (PARAREL has none). The facts are LAMA T-REx data, CC BY-NC 4.0
//! (Elazar et al. TACL 2021; Petroni et al. EMNLP 2019; Elsahar et al. LREC 2018).
//!
//! ```
//! use repro_factual_recall::pararel::{cut_pattern, usable_patterns};
//! assert_eq!(cut_pattern("[X] is a citizen of [Y].")?, "[X] is a citizen of");
//! assert!(cut_pattern("as a citizen of [Y], [X]").is_err()); // [Y] before [X]
//! let kept = usable_patterns(&["[X] lives in [Y] .".into(), "[Y] hosts [X]".into()]);
//! assert_eq!(kept, vec!["[X] lives in".to_owned()]);
//! # Ok::<(), repro_factual_recall::KbError>(())
//! ```

use std::collections::{BTreeMap, BTreeSet};

use repro_core::data::DataRoots;
use repro_core::data::parsers::pararel::{
    Fact as RawFact, Pattern, parse_facts_jsonl, parse_patterns_jsonl,
};
use repro_core::rng;
use serde::{Deserialize, Serialize};

use crate::error::KbError;
use crate::kb::{Fact, Kb, Relation, Template, TwoHop, Vocab, held_out_split, tokenize};

/// Facts of relation `rel` (`P27`) from `pararel/trex_lms_vocab/<rel>.jsonl`.
///
/// # Errors
/// A file missing from the data roots, a checksum mismatch, a malformed line (named).
pub fn load_facts(roots: &DataRoots, rel: &str) -> anyhow::Result<Vec<RawFact>> {
    let (bytes, path) =
        roots.read_with_path("pararel", &format!("pararel/trex_lms_vocab/{rel}.jsonl"))?;
    Ok(parse_facts_jsonl(&bytes, &path)?)
}

/// Patterns of relation `rel` from `pararel/graphs_json/<rel>.jsonl`.
///
/// # Errors
/// As [`load_facts`].
pub fn load_patterns(roots: &DataRoots, rel: &str) -> anyhow::Result<Vec<Pattern>> {
    let (bytes, path) =
        roots.read_with_path("pararel", &format!("pararel/graphs_json/{rel}.jsonl"))?;
    Ok(parse_patterns_jsonl(&bytes, &path)?)
}

/// The prompt of a pattern: everything before `[Y]`, trimmed.
///
/// # Errors
/// No `[X]` before `[Y]` ([`KbError::ObjectFirst`]), or no `[X]`/`[Y]` at all.
pub fn cut_pattern(pattern: &str) -> Result<String, KbError> {
    let (Some(x), Some(y)) = (pattern.find("[X]"), pattern.find("[Y]")) else {
        return Err(KbError::MissingSlot {
            template: pattern.into(),
        });
    };
    if y < x {
        return Err(KbError::ObjectFirst {
            pattern: pattern.into(),
        });
    }
    Ok(pattern[..y].trim().to_owned())
}

/// The usable prompts of a relation's patterns: `[X]`-first patterns cut at `[Y]`, in
/// order, without repeats.
pub fn usable_patterns(patterns: &[String]) -> Vec<String> {
    let mut seen = BTreeSet::new();
    patterns
        .iter()
        .filter_map(|p| cut_pattern(p).ok())
        .filter(|p| seen.insert(p.clone()))
        .collect()
}

/// Subject → object after dropping repeated lines and subjects with several objects.
pub fn single_valued(facts: &[RawFact]) -> BTreeMap<String, String> {
    let mut objects: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for f in facts {
        objects
            .entry(&f.sub_label)
            .or_default()
            .insert(&f.obj_label);
    }
    objects
        .into_iter()
        .filter(|(_, o)| o.len() == 1)
        .filter_map(|(s, o)| o.into_iter().next().map(|o| (s.to_owned(), o.to_owned())))
        .collect()
}

/// One person → country → language chain.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Chain {
    /// Person label.
    pub person: String,
    /// Country of citizenship (P27).
    pub country: String,
    /// Official language of that country (P37).
    pub language: String,
}

/// Chains from single-valued P27 and P37 facts, sorted by person.
pub fn chains(p27: &[RawFact], p37: &[RawFact]) -> Vec<Chain> {
    let lang = single_valued(p37);
    single_valued(p27)
        .into_iter()
        .filter_map(|(person, country)| {
            lang.get(&country).map(|language| Chain {
                person,
                country: country.clone(),
                language: language.clone(),
            })
        })
        .collect()
}

/// Our direct two-hop templates for P37 ∘ P27 (PARAREL has none).
pub const NOCOT: [&str; 2] = [
    "the official language of the country of [X] is",
    "[X] is a citizen of a country whose official language is",
];
/// Our chain-of-thought template for P37 ∘ P27.
pub const COT: &str = "the official language of the country of [X] is ?";

/// A knowledge base of PARAREL chains: relation `P27` (person → country, the chains'
/// persons), `P37` (country → language, the chains' countries), templates from the usable
/// patterns, persons in a seeded order with `held_out_pct` percent held out.
///
/// # Errors
/// A relation with fewer than `min_patterns` usable patterns (the bag rule needs some), no
/// chain, an entity label that is also a template word, bad percentages.
#[allow(clippy::too_many_arguments)]
pub fn build_kb(
    p27: &[RawFact],
    p27_patterns: &[Pattern],
    p37: &[RawFact],
    p37_patterns: &[Pattern],
    min_patterns: usize,
    held_out_pct: u32,
    context_pct: u32,
    seed: u64,
) -> Result<Kb, KbError> {
    let chains = chains(p27, p37);
    if chains.is_empty() {
        return Err(KbError::Config(
            "no person → country → language chain".into(),
        ));
    }
    if held_out_pct > 100 {
        return Err(KbError::Config(format!(
            "held_out_pct = {held_out_pct} > 100"
        )));
    }
    let mut vocab = Vocab::new();
    let templates =
        |name: &str, pats: &[Pattern], vocab: &mut Vocab| -> Result<Vec<Template>, KbError> {
            let texts: Vec<String> = pats.iter().map(|p| p.pattern.clone()).collect();
            let cut = usable_patterns(&texts);
            if cut.len() < min_patterns {
                return Err(KbError::Config(format!(
                    "relation {name} has {} usable patterns, fewer than {min_patterns}",
                    cut.len()
                )));
            }
            cut.iter().map(|t| Template::parse(t, vocab)).collect()
        };
    let t27 = templates("P27", p27_patterns, &mut vocab)?;
    let t37 = templates("P37", p37_patterns, &mut vocab)?;
    let nocot = NOCOT
        .iter()
        .map(|t| Template::parse(t, &mut vocab))
        .collect::<Result<Vec<_>, _>>()?;
    let cot = Template::parse(COT, &mut vocab)?;
    vocab.add("so");
    vocab.add(".");
    let words: BTreeSet<String> = (2..vocab.len() as u32)
        .map(|i| vocab.word(i).to_owned())
        .collect();
    let entity = |label: &str, vocab: &mut Vocab| -> Result<u32, KbError> {
        if words.contains(label) || tokenize(label).iter().any(|w| w == "[X]" || w == "[Y]") {
            return Err(KbError::Config(format!(
                "entity label {label:?} is also a template word"
            )));
        }
        Ok(vocab.add(label))
    };
    let mut persons = Vec::with_capacity(chains.len());
    let mut f27 = Vec::with_capacity(chains.len());
    let mut f37: BTreeMap<u32, u32> = BTreeMap::new();
    for c in &chains {
        let (p, k, g) = (
            entity(&c.person, &mut vocab)?,
            entity(&c.country, &mut vocab)?,
            entity(&c.language, &mut vocab)?,
        );
        persons.push(p);
        f27.push(Fact {
            subject: p,
            object: k,
        });
        f37.insert(k, g);
    }
    let f37: Vec<Fact> = f37
        .into_iter()
        .map(|(subject, object)| Fact { subject, object })
        .collect();
    let mut r = rng::stream(seed, "pararel-split");
    let split = held_out_split(&persons, held_out_pct, &mut r);
    Kb::new(
        vocab,
        vec![
            Relation {
                name: "P27".into(),
                templates: t27,
                facts: f27,
            },
            Relation {
                name: "P37".into(),
                templates: t37,
                facts: f37,
            },
        ],
        TwoHop {
            first: 0,
            second: 1,
            nocot,
            cot,
        },
        persons,
        split,
        context_pct,
        seed,
    )
}

/// [`build_kb`] on the P27 and P37 files of the data roots (at least 3 usable patterns
/// each).
///
/// # Errors
/// Missing or corrupt files, or what [`build_kb`] rejects.
pub fn load_kb(
    roots: &DataRoots,
    held_out_pct: u32,
    context_pct: u32,
    seed: u64,
) -> anyhow::Result<Kb> {
    let (p27, t27) = (load_facts(roots, "P27")?, load_patterns(roots, "P27")?);
    let (p37, t37) = (load_facts(roots, "P37")?, load_patterns(roots, "P37")?);
    Ok(build_kb(
        &p27,
        &t27,
        &p37,
        &t37,
        3,
        held_out_pct,
        context_pct,
        seed,
    )?)
}

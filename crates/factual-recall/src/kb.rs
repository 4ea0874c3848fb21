//! The knowledge base: a word tokenizer, cloze templates with a subject slot `[X]`,
//! relations of single-token entities, single-hop facts and two-hop compositions, with
//! training examples and evaluation queries. [`generate`] builds the synthetic knowledge base
//! of the spec's §5 (our operationalisation; the paper's two-hop data are not public);
//! [`crate::pararel`] builds one from PARAREL's chains.
//!
//! Synthetic relations: `lives_in` person → city (uniform), `in_country` city → country
//! (equal shares), `speaks` country → language (a bijection). The two-hop composition is
//! person → country = `in_country ∘ lives_in`. Persons are split memorised / held-out; the
//! single-hop facts of every person are trained, the two-hop items only of memorised persons.
//!
//! ```
//! use repro_factual_recall::kb::{Form, KbConfig, Split, generate};
//! let kb = generate(&KbConfig::smoke(), 0)?;
//! let p = kb.persons_in(Split::HeldOut)[0];
//! let q = kb.query(p, Form::Cot, None);
//! // "<bos> the country where P.. lives is ?" -> bridge city, "so", country
//! assert_eq!(kb.vocab.decode(&q.prompt).split(' ').last(), Some("?"));
//! assert_eq!(kb.answer(p), kb.relations[1].object_of(kb.bridge(p)).unwrap());
//! assert!(kb.two_hop_train_examples().iter().all(|e| !e.ids.contains(&p)));
//! # Ok::<(), repro_factual_recall::KbError>(())
//! ```

use std::collections::{HashMap, HashSet};

use repro_core::rng::{self, SplitMix64};
use serde::{Deserialize, Serialize};

use crate::error::KbError;
use crate::neurons::FactBag;

/// Padding token id.
pub const PAD: u32 = 0;
/// Beginning-of-sequence token id.
pub const BOS: u32 = 1;

/// A word-level vocabulary: `<pad>` = 0, `<bos>` = 1, then words and entities in the order
/// they were added.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "Vec<String>", into = "Vec<String>")]
pub struct Vocab {
    words: Vec<String>,
    index: HashMap<String, u32>,
}

impl From<Vec<String>> for Vocab {
    fn from(words: Vec<String>) -> Self {
        let mut v = Self {
            words,
            index: HashMap::new(),
        };
        v.reindex();
        v
    }
}

impl From<Vocab> for Vec<String> {
    fn from(v: Vocab) -> Self {
        v.words
    }
}

impl Default for Vocab {
    fn default() -> Self {
        Self::new()
    }
}

impl Vocab {
    /// `<pad>` and `<bos>` only.
    pub fn new() -> Self {
        let mut v = Self {
            words: Vec::new(),
            index: HashMap::new(),
        };
        v.add("<pad>");
        v.add("<bos>");
        v
    }

    /// The id of `word`, added if new.
    pub fn add(&mut self, word: &str) -> u32 {
        if let Some(&id) = self.index.get(word) {
            return id;
        }
        let id = self.words.len() as u32;
        self.words.push(word.to_owned());
        self.index.insert(word.to_owned(), id);
        id
    }

    /// The id of a known word.
    ///
    /// # Errors
    /// [`KbError::UnknownWord`].
    pub fn id(&self, word: &str) -> Result<u32, KbError> {
        self.index
            .get(word)
            .copied()
            .ok_or_else(|| KbError::UnknownWord { word: word.into() })
    }

    /// Whether `word` is in the vocabulary.
    pub fn contains(&self, word: &str) -> bool {
        self.index.contains_key(word)
    }

    /// The word of an id (`"<unk>"` outside the vocabulary).
    pub fn word(&self, id: u32) -> &str {
        self.words.get(id as usize).map_or("<unk>", String::as_str)
    }

    /// Number of tokens.
    pub fn len(&self) -> usize {
        self.words.len()
    }

    /// Whether only the special tokens are present.
    pub fn is_empty(&self) -> bool {
        self.words.len() <= 2
    }

    /// Ids of the words of `text` ([`tokenize`]).
    ///
    /// # Errors
    /// A word not in the vocabulary.
    pub fn encode(&self, text: &str) -> Result<Vec<u32>, KbError> {
        tokenize(text).iter().map(|w| self.id(w)).collect()
    }

    /// The words of `ids`, joined by spaces.
    pub fn decode(&self, ids: &[u32]) -> String {
        ids.iter()
            .map(|&i| self.word(i))
            .collect::<Vec<_>>()
            .join(" ")
    }

    fn reindex(&mut self) {
        self.index = self
            .words
            .iter()
            .enumerate()
            .map(|(i, w)| (w.clone(), i as u32))
            .collect();
    }
}

/// Splits text into words at whitespace, with the punctuation `. , ? ! ; : ( ) "` as
/// separate words; the placeholders `[X]` and `[Y]` stay whole.
pub fn tokenize(text: &str) -> Vec<String> {
    const PUNCT: &[char] = &['.', ',', '?', '!', ';', ':', '(', ')', '"'];
    let mut out = Vec::new();
    for raw in text.split_whitespace() {
        if raw == "[X]" || raw == "[Y]" {
            out.push(raw.to_owned());
            continue;
        }
        let mut word = String::new();
        let mut chars = raw.chars().peekable();
        while let Some(c) = chars.next() {
            if c == '[' && raw.contains(']') {
                // A placeholder glued to punctuation: `[X],`.
                let rest: String = std::iter::once(c)
                    .chain(chars.by_ref().take_while(|&d| d != ']'))
                    .collect();
                if !word.is_empty() {
                    out.push(std::mem::take(&mut word));
                }
                out.push(format!("{rest}]"));
            } else if PUNCT.contains(&c) {
                if !word.is_empty() {
                    out.push(std::mem::take(&mut word));
                }
                out.push(c.to_string());
            } else {
                word.push(c);
            }
        }
        if !word.is_empty() {
            out.push(word);
        }
    }
    out
}

/// One piece of a template.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Part {
    /// The subject slot `[X]`.
    Subject,
    /// A word.
    Word(u32),
}

/// A cloze template such as `[X] lives in`: the object is predicted after its last word.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Template {
    /// The text, with `[X]`.
    pub text: String,
    /// Its words and the slot.
    pub parts: Vec<Part>,
}

impl Template {
    /// Parses `text`, adding its words to `vocab`.
    ///
    /// # Errors
    /// No `[X]`, or `[X]` more than once.
    pub fn parse(text: &str, vocab: &mut Vocab) -> Result<Self, KbError> {
        let words = tokenize(text);
        let slots = words.iter().filter(|w| *w == "[X]").count();
        if slots == 0 {
            return Err(KbError::MissingSlot {
                template: text.into(),
            });
        }
        if slots > 1 {
            return Err(KbError::RepeatedSlot {
                template: text.into(),
            });
        }
        let parts = words
            .iter()
            .map(|w| {
                if w == "[X]" {
                    Part::Subject
                } else {
                    Part::Word(vocab.add(w))
                }
            })
            .collect();
        Ok(Self {
            text: text.into(),
            parts,
        })
    }

    /// The template's ids with `subject` in the slot.
    pub fn fill(&self, subject: u32) -> Vec<u32> {
        self.parts
            .iter()
            .map(|p| match p {
                Part::Subject => subject,
                Part::Word(w) => *w,
            })
            .collect()
    }
}

/// A subject–object pair of a relation (entity token ids).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Fact {
    /// Subject entity.
    pub subject: u32,
    /// Object entity.
    pub object: u32,
}

/// A relation: its templates (the bag of every fact) and its facts (one object per subject).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Relation {
    /// Name (`lives_in`, `P27`).
    pub name: String,
    /// Paraphrase templates.
    pub templates: Vec<Template>,
    /// Facts, one per subject.
    pub facts: Vec<Fact>,
}

impl Relation {
    /// The object of `subject`.
    pub fn object_of(&self, subject: u32) -> Option<u32> {
        self.facts
            .iter()
            .find(|f| f.subject == subject)
            .map(|f| f.object)
    }
}

/// Whether a person's two-hop compositions are trained.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Split {
    /// Two-hop items trained.
    Memorised,
    /// Two-hop items never trained (single-hop facts are).
    HeldOut,
}

/// The two-hop composition `second ∘ first` and its query templates.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TwoHop {
    /// Index of the first hop's relation (person → bridge).
    pub first: usize,
    /// Index of the second hop's relation (bridge → answer).
    pub second: usize,
    /// Direct (no chain-of-thought) templates: the answer follows.
    pub nocot: Vec<Template>,
    /// The chain-of-thought template: `bridge so answer` follows.
    pub cot: Template,
}

/// A query's form.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Form {
    /// No chain of thought, with the direct template of this index.
    NoCot(usize),
    /// Chain of thought: the model writes the bridge, `so`, then the answer.
    Cot,
}

/// A two-hop evaluation query.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Query {
    /// The person.
    pub person: u32,
    /// Its form.
    pub form: Form,
    /// `<bos>`, an optional context prefix, the query template filled.
    pub prompt: Vec<u32>,
    /// The true bridge entity.
    pub bridge: u32,
    /// The true answer.
    pub answer: u32,
    /// The city (bridge) named in the context prefix, if any.
    pub prefix: Option<u32>,
}

/// A training sequence: ids (from `<bos>`), which tokens carry the loss, and where the final
/// answer is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Example {
    /// Token ids.
    pub ids: Vec<u32>,
    /// `loss_mask[i]`: token `i` is a target (predicted at position `i − 1`).
    pub loss_mask: Vec<bool>,
    /// Position of the final answer token.
    pub answer_pos: usize,
}

impl Example {
    /// `prompt` followed by `answer`, with the loss on the answer tokens.
    pub fn new(prompt: Vec<u32>, answer: &[u32]) -> Self {
        let mut loss_mask = vec![false; prompt.len()];
        loss_mask.extend(std::iter::repeat_n(true, answer.len()));
        let mut ids = prompt;
        ids.extend_from_slice(answer);
        Self {
            answer_pos: ids.len() - 1,
            ids,
            loss_mask,
        }
    }
}

/// A knowledge base: vocabulary, relations, the two-hop composition and the person split.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Kb {
    /// Words and entities.
    pub vocab: Vocab,
    /// Relations (single-hop facts and their templates).
    pub relations: Vec<Relation>,
    /// The composition evaluated.
    pub two_hop: TwoHop,
    /// Subjects of the first hop, in a seeded order.
    pub persons: Vec<u32>,
    /// Split of each person (parallel to `persons`).
    pub split: Vec<Split>,
    /// Percent of two-hop training items with a true context prefix.
    pub context_pct: u32,
    /// Seed the knowledge base was built with.
    pub seed: u64,
    so: u32,
    period: u32,
}

impl Kb {
    /// Assembles a knowledge base and checks it: `so` and `.` in the vocabulary, every
    /// relation with templates, the hops' relations present, every person's bridge and
    /// answer defined.
    ///
    /// # Errors
    /// [`KbError::Config`] naming what is missing.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        mut vocab: Vocab,
        relations: Vec<Relation>,
        two_hop: TwoHop,
        persons: Vec<u32>,
        split: Vec<Split>,
        context_pct: u32,
        seed: u64,
    ) -> Result<Self, KbError> {
        vocab.reindex();
        let so = vocab.id("so")?;
        let period = vocab.id(".")?;
        let bad = |m: String| Err(KbError::Config(m));
        if two_hop.first >= relations.len() || two_hop.second >= relations.len() {
            return bad("two-hop relations outside the knowledge base".into());
        }
        if let Some(r) = relations.iter().find(|r| r.templates.is_empty()) {
            return bad(format!("relation {} has no templates", r.name));
        }
        if two_hop.nocot.is_empty() {
            return bad("no direct two-hop template".into());
        }
        if persons.len() != split.len() {
            return bad("persons and split differ in length".into());
        }
        if context_pct > 100 {
            return bad(format!("context_pct = {context_pct} > 100"));
        }
        let kb = Self {
            vocab,
            relations,
            two_hop,
            persons,
            split,
            context_pct,
            seed,
            so,
            period,
        };
        for &p in &kb.persons {
            let bridge = kb.relations[kb.two_hop.first].object_of(p);
            match bridge.and_then(|c| kb.relations[kb.two_hop.second].object_of(c)) {
                Some(_) => {}
                None => return bad(format!("person {} has no two-hop answer", kb.vocab.word(p))),
            }
        }
        Ok(kb)
    }

    /// The `so` token of chain-of-thought answers.
    pub fn so(&self) -> u32 {
        self.so
    }

    /// The `.` token ending a context sentence.
    pub fn period(&self) -> u32 {
        self.period
    }

    /// Index of the relation called `name`.
    ///
    /// # Errors
    /// [`KbError::UnknownRelation`].
    pub fn relation_index(&self, name: &str) -> Result<usize, KbError> {
        self.relations
            .iter()
            .position(|r| r.name == name)
            .ok_or_else(|| KbError::UnknownRelation {
                name: name.into(),
                known: self
                    .relations
                    .iter()
                    .map(|r| r.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
            })
    }

    /// The token of entity `name` (a subject or object of some relation).
    ///
    /// # Errors
    /// [`KbError::UnknownEntity`].
    pub fn entity(&self, name: &str) -> Result<u32, KbError> {
        let id = self
            .vocab
            .id(name)
            .map_err(|_| KbError::UnknownEntity { name: name.into() })?;
        let is_entity = self
            .relations
            .iter()
            .flat_map(|r| &r.facts)
            .any(|f| f.subject == id || f.object == id);
        if is_entity {
            Ok(id)
        } else {
            Err(KbError::UnknownEntity { name: name.into() })
        }
    }

    /// The person's bridge (first-hop object).
    ///
    /// # Panics
    /// If `person` is not a subject of the first hop (checked for every listed person when
    /// the knowledge base is built).
    pub fn bridge(&self, person: u32) -> u32 {
        self.relations[self.two_hop.first]
            .object_of(person)
            .unwrap_or_else(|| panic!("{} has no bridge", self.vocab.word(person)))
    }

    /// The person's two-hop answer.
    ///
    /// # Panics
    /// As [`Kb::bridge`].
    pub fn answer(&self, person: u32) -> u32 {
        self.second_hop(self.bridge(person))
    }

    /// The second hop's object for `bridge`.
    ///
    /// # Panics
    /// If `bridge` has no second-hop fact.
    pub fn second_hop(&self, bridge: u32) -> u32 {
        self.relations[self.two_hop.second]
            .object_of(bridge)
            .unwrap_or_else(|| panic!("{} has no second hop", self.vocab.word(bridge)))
    }

    /// The split of `person`.
    pub fn split_of(&self, person: u32) -> Option<Split> {
        self.persons
            .iter()
            .position(|&p| p == person)
            .map(|i| self.split[i])
    }

    /// Persons of a split, in order.
    pub fn persons_in(&self, split: Split) -> Vec<u32> {
        self.persons
            .iter()
            .zip(&self.split)
            .filter(|(_, s)| **s == split)
            .map(|(p, _)| *p)
            .collect()
    }

    /// The bag of the fact of relation `rel` about `subject`: `<bos>` + every template
    /// filled, and the object.
    ///
    /// # Errors
    /// A relation index or subject the knowledge base does not have.
    pub fn bag(&self, rel: usize, subject: u32) -> Result<FactBag, KbError> {
        let r = self
            .relations
            .get(rel)
            .ok_or_else(|| KbError::UnknownRelation {
                name: format!("#{rel}"),
                known: format!("{} relations", self.relations.len()),
            })?;
        let gold = r.object_of(subject).ok_or_else(|| KbError::UnknownEntity {
            name: format!("{} (as a subject of {})", self.vocab.word(subject), r.name),
        })?;
        Ok(FactBag {
            name: format!("{}({})", r.name, self.vocab.word(subject)),
            prompts: r
                .templates
                .iter()
                .map(|t| {
                    let mut ids = vec![BOS];
                    ids.extend(t.fill(subject));
                    ids
                })
                .collect(),
            gold,
        })
    }

    /// Every fact in every template: the single-hop training set.
    pub fn single_hop_examples(&self) -> Vec<Example> {
        let mut out = Vec::new();
        for r in &self.relations {
            for f in &r.facts {
                for t in &r.templates {
                    let mut prompt = vec![BOS];
                    prompt.extend(t.fill(f.subject));
                    out.push(Example::new(prompt, &[f.object]));
                }
            }
        }
        out
    }

    /// The context sentence `[X] <first template> <city> .` (first template of the first
    /// hop), true when `city` is the person's bridge.
    pub fn context(&self, person: u32, city: u32) -> Vec<u32> {
        let mut ids = self.relations[self.two_hop.first].templates[0].fill(person);
        ids.push(city);
        ids.push(self.period);
        ids
    }

    /// A two-hop query for `person`, optionally after the context sentence naming `prefix`
    /// as the person's city.
    ///
    /// # Panics
    /// If `form` is `NoCot(i)` with `i` outside the direct templates.
    pub fn query(&self, person: u32, form: Form, prefix: Option<u32>) -> Query {
        let mut prompt = vec![BOS];
        if let Some(c) = prefix {
            prompt.extend(self.context(person, c));
        }
        let template = match form {
            Form::NoCot(i) => &self.two_hop.nocot[i],
            Form::Cot => &self.two_hop.cot,
        };
        prompt.extend(template.fill(person));
        Query {
            person,
            form,
            prompt,
            bridge: self.bridge(person),
            answer: self.answer(person),
            prefix,
        }
    }

    /// The two-hop training items: every memorised person in every direct template and in
    /// the chain-of-thought template; `context_pct` percent of them (a seeded choice) after
    /// the true context sentence.
    pub fn two_hop_train_examples(&self) -> Vec<Example> {
        let mut out = Vec::new();
        let mut pick = rng::stream(self.seed, "context-prefix");
        for p in self.persons_in(Split::Memorised) {
            let forms = (0..self.two_hop.nocot.len())
                .map(Form::NoCot)
                .chain([Form::Cot]);
            for form in forms {
                let with_prefix = pick.below(100) < self.context_pct as usize;
                let q = self.query(p, form, with_prefix.then(|| self.bridge(p)));
                let answer = match form {
                    Form::NoCot(_) => vec![q.answer],
                    Form::Cot => vec![q.bridge, self.so, q.answer],
                };
                out.push(Example::new(q.prompt, &answer));
            }
        }
        out
    }

    /// A bridge whose second-hop object differs from the person's answer (for the
    /// conflicting context), drawn with `rng`; `None` when every bridge gives the same
    /// answer.
    pub fn conflict_bridge(&self, person: u32, rng: &mut SplitMix64) -> Option<u32> {
        let answer = self.answer(person);
        let mut candidates: Vec<u32> = self.relations[self.two_hop.second]
            .facts
            .iter()
            .filter(|f| f.object != answer)
            .map(|f| f.subject)
            .collect();
        candidates.sort_unstable();
        candidates.dedup();
        (!candidates.is_empty()).then(|| candidates[rng.below(candidates.len())])
    }

    /// Every token a sequence of this knowledge base can hold.
    pub fn vocab_size(&self) -> usize {
        self.vocab.len()
    }

    /// Longest training or query sequence (with a context prefix and the chain-of-thought
    /// answer).
    pub fn max_seq_len(&self) -> usize {
        let ctx = self.relations[self.two_hop.first].templates[0].parts.len() + 2;
        let single = self
            .relations
            .iter()
            .flat_map(|r| &r.templates)
            .map(|t| t.parts.len() + 2)
            .max()
            .unwrap_or(0);
        let direct = self
            .two_hop
            .nocot
            .iter()
            .map(|t| t.parts.len() + 2)
            .max()
            .unwrap_or(0);
        let cot = self.two_hop.cot.parts.len() + 4;
        single.max(ctx + direct).max(ctx + cot)
    }
}

/// Sizes of the synthetic knowledge base.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct KbConfig {
    /// Persons.
    pub persons: usize,
    /// Cities.
    pub cities: usize,
    /// Countries (`cities` must be a multiple).
    pub countries: usize,
    /// Languages (as many as countries: `speaks` is a bijection).
    pub languages: usize,
    /// Percent of persons held out of two-hop training (rounded down).
    pub held_out_pct: u32,
    /// Percent of two-hop training items with a true context prefix.
    pub context_pct: u32,
}

impl KbConfig {
    /// The spec's full knowledge base: 256 persons, 32 cities, 8 countries, 8 languages
    /// (296 single-hop facts), 20% held out (205 / 51), 20% with context.
    pub fn full() -> Self {
        Self {
            persons: 256,
            cities: 32,
            countries: 8,
            languages: 8,
            held_out_pct: 20,
            context_pct: 20,
        }
    }

    /// The smoke knowledge base: 16 persons, 4 cities, 2 countries, 2 languages.
    pub fn smoke() -> Self {
        Self {
            persons: 16,
            cities: 4,
            countries: 2,
            languages: 2,
            ..Self::full()
        }
    }

    /// Checks the sizes.
    ///
    /// # Errors
    /// [`KbError::Config`] naming the field.
    pub fn check(&self) -> Result<(), KbError> {
        let bad = |m: &str| Err(KbError::Config(m.into()));
        if self.countries < 2 {
            return bad("countries must be at least 2 (the conflict set needs another country)");
        }
        if self.cities == 0 || !self.cities.is_multiple_of(self.countries) {
            return bad("cities must be a positive multiple of countries");
        }
        if self.languages != self.countries {
            return bad("languages must equal countries (speaks is a bijection)");
        }
        if self.held_out_pct > 100 || self.context_pct > 100 {
            return bad("held_out_pct and context_pct are percentages (0..=100)");
        }
        let held = self.persons * self.held_out_pct as usize / 100;
        if held == 0 || held == self.persons {
            return bad("both splits need at least one person (persons × held_out_pct)");
        }
        Ok(())
    }
}

/// Templates of the synthetic relations and queries (spec §5).
pub mod templates {
    /// `lives_in`: person → city.
    pub const LIVES_IN: [&str; 4] = [
        "[X] lives in",
        "[X] resides in",
        "the home city of [X] is",
        "[X] is a resident of",
    ];
    /// `in_country`: city → country.
    pub const IN_COUNTRY: [&str; 4] = [
        "[X] is located in",
        "[X] is a city in",
        "the country of [X] is",
        "[X] lies in",
    ];
    /// `speaks`: country → language.
    pub const SPEAKS: [&str; 4] = [
        "people in [X] speak",
        "the language of [X] is",
        "[X] speaks",
        "the main language of [X] is",
    ];
    /// Direct person → country queries.
    pub const NOCOT: [&str; 2] = [
        "the country where [X] lives is",
        "[X] lives in a city in the country",
    ];
    /// The chain-of-thought query (answered `city so country`).
    pub const COT: &str = "the country where [X] lives is ?";
}

/// The synthetic knowledge base of `cfg`, seeded: entities `P0..`, `C0..`, `K0..`, `G0..`
/// (one token each), `lives_in` uniform, `in_country` a seeded assignment of
/// `cities / countries` cities to each country, `speaks` a seeded bijection, persons in a
/// seeded order with the first `persons · held_out_pct / 100` held out.
///
/// # Errors
/// What [`KbConfig::check`] rejects.
pub fn generate(cfg: &KbConfig, seed: u64) -> Result<Kb, KbError> {
    cfg.check()?;
    let mut vocab = Vocab::new();
    let parse = |texts: &[&str], vocab: &mut Vocab| {
        texts
            .iter()
            .map(|t| Template::parse(t, vocab))
            .collect::<Result<Vec<_>, _>>()
    };
    let lives = parse(&templates::LIVES_IN, &mut vocab)?;
    let located = parse(&templates::IN_COUNTRY, &mut vocab)?;
    let speaks = parse(&templates::SPEAKS, &mut vocab)?;
    let nocot = parse(&templates::NOCOT, &mut vocab)?;
    let cot = Template::parse(templates::COT, &mut vocab)?;
    vocab.add("so");
    vocab.add(".");
    let names = |prefix: &str, n: usize, vocab: &mut Vocab| -> Vec<u32> {
        (0..n).map(|i| vocab.add(&format!("{prefix}{i}"))).collect()
    };
    let persons = names("P", cfg.persons, &mut vocab);
    let cities = names("C", cfg.cities, &mut vocab);
    let countries = names("K", cfg.countries, &mut vocab);
    let languages = names("G", cfg.languages, &mut vocab);

    let mut r = rng::stream(seed, "kb");
    let lives_in: Vec<Fact> = persons
        .iter()
        .map(|&p| Fact {
            subject: p,
            object: cities[r.below(cities.len())],
        })
        .collect();
    let per_country = cfg.cities / cfg.countries;
    let city_order = rng::permutation(&mut r, cfg.cities);
    let mut in_country: Vec<Fact> = city_order
        .iter()
        .enumerate()
        .map(|(k, &c)| Fact {
            subject: cities[c as usize],
            object: countries[k / per_country],
        })
        .collect();
    in_country.sort_unstable(); // city order
    let language_order = rng::permutation(&mut r, cfg.languages);
    let speaks_facts: Vec<Fact> = countries
        .iter()
        .zip(&language_order)
        .map(|(&k, &g)| Fact {
            subject: k,
            object: languages[g as usize],
        })
        .collect();
    let split = held_out_split(&persons, cfg.held_out_pct, &mut r);
    Kb::new(
        vocab,
        vec![
            Relation {
                name: "lives_in".into(),
                templates: lives,
                facts: lives_in,
            },
            Relation {
                name: "in_country".into(),
                templates: located,
                facts: in_country,
            },
            Relation {
                name: "speaks".into(),
                templates: speaks,
                facts: speaks_facts,
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
        cfg.context_pct,
        seed,
    )
}

/// Which persons are held out: the first `held_out_pct` % of a permutation drawn from `r`
/// (the rest are memorised), in the order of `persons`.
pub(crate) fn held_out_split(persons: &[u32], held_out_pct: u32, r: &mut SplitMix64) -> Vec<Split> {
    let order = rng::permutation(r, persons.len());
    let held = persons.len() * held_out_pct as usize / 100;
    let held_set: HashSet<u32> = order[..held].iter().map(|&i| persons[i as usize]).collect();
    persons
        .iter()
        .map(|p| {
            if held_set.contains(p) {
                Split::HeldOut
            } else {
                Split::Memorised
            }
        })
        .collect()
}

//! The knowledge base (spec §5, §7) and the PARAREL loader on a fixture.

use std::collections::{BTreeMap, HashSet};
use std::path::Path;

use burn::tensor::Device;
use repro_core::data::parsers::pararel::{parse_facts_jsonl, parse_patterns_jsonl};
use repro_core::device::seed_lock;
use repro_core::rng::SplitMix64;
use repro_factual_recall::KbError;
use repro_factual_recall::attribution::{Neuron, activations_at};
use repro_factual_recall::kb::{BOS, Form, KbConfig, Split, Template, Vocab, generate, tokenize};
use repro_factual_recall::neurons::{kn_mean, kn_score, reference_activation};
use repro_factual_recall::pararel::{build_kb, chains, cut_pattern, usable_patterns};
use repro_factual_recall::train::{ModelConfig, Pools};

#[test]
fn full_kb_has_the_spec_sizes_and_invariants() {
    let kb = generate(&KbConfig::full(), 0).unwrap();
    let facts: usize = kb.relations.iter().map(|r| r.facts.len()).sum();
    assert_eq!(facts, 296, "256 + 32 + 8 single-hop facts");
    assert_eq!(kb.persons_in(Split::HeldOut).len(), 51);
    assert_eq!(kb.persons_in(Split::Memorised).len(), 205);
    // ≈ 335 tokens: 304 entities, the templates' words, <pad>, <bos>, `so`, `.`, `?`.
    assert!(
        (320..=345).contains(&kb.vocab_size()),
        "{}",
        kb.vocab_size()
    );
    assert!(
        kb.max_seq_len() <= 16,
        "sequences ≤ 16 tokens: {}",
        kb.max_seq_len()
    );
    // 4 cities per country; speaks is a bijection.
    let mut per_country: BTreeMap<u32, usize> = BTreeMap::new();
    for f in &kb.relations[1].facts {
        *per_country.entry(f.object).or_default() += 1;
    }
    assert_eq!(per_country.len(), 8);
    assert!(per_country.values().all(|&c| c == 4));
    let langs: HashSet<u32> = kb.relations[2].facts.iter().map(|f| f.object).collect();
    assert_eq!(langs.len(), 8);
    // Every held-out composition's facts are memorised singly: both hops are single-hop
    // training examples, in every template; and no held-out person is in a two-hop item.
    let single = kb.single_hop_examples();
    assert_eq!(single.len(), 296 * 4);
    let held: HashSet<u32> = kb.persons_in(Split::HeldOut).into_iter().collect();
    for &p in &held {
        let c = kb.bridge(p);
        let first = single
            .iter()
            .filter(|e| e.ids[1..].contains(&p) && e.ids.last() == Some(&c))
            .count();
        let second = single
            .iter()
            .filter(|e| {
                e.ids[1..e.ids.len() - 1].contains(&c) && e.ids.last() == Some(&kb.answer(p))
            })
            .count();
        assert_eq!((first, second), (4, 4));
    }
    let two = kb.two_hop_train_examples();
    assert_eq!(two.len(), 205 * 3);
    assert!(two.iter().all(|e| e.ids.iter().all(|t| !held.contains(t))));
    // About 20% with a true context prefix (`P lives in C .` before the query).
    let with_ctx = two.iter().filter(|e| e.ids.contains(&kb.period())).count();
    assert!((90..=160).contains(&with_ctx), "{with_ctx} of 615");
    for e in two.iter().filter(|e| e.ids.contains(&kb.period())) {
        let (p, c) = (e.ids[1], e.ids[4]);
        assert_eq!(kb.bridge(p), c, "context prefixes are true in training");
    }
    // Losses on answers only: one token direct, three (`C so K`) with chain of thought.
    let pools = Pools::of(&kb);
    assert_eq!((pools.nocot.len(), pools.cot.len()), (410, 205));
    assert!(
        pools
            .nocot
            .iter()
            .all(|e| e.loss_mask.iter().filter(|&&m| m).count() == 1)
    );
    assert!(
        pools
            .cot
            .iter()
            .all(|e| e.loss_mask.iter().filter(|&&m| m).count() == 3)
    );
}

#[test]
fn kb_is_seeded_and_queries_have_their_shape() {
    let cfg = KbConfig::smoke();
    assert_eq!(generate(&cfg, 4).unwrap(), generate(&cfg, 4).unwrap());
    assert_ne!(
        generate(&cfg, 4).unwrap().relations,
        generate(&cfg, 5).unwrap().relations
    );
    let kb = generate(&cfg, 4).unwrap();
    let p = kb.persons[0];
    let w = |ids: &[u32]| kb.vocab.decode(ids);
    let name = kb.vocab.word(p).to_owned();
    assert_eq!(
        w(&kb.query(p, Form::NoCot(0), None).prompt),
        format!("<bos> the country where {name} lives is")
    );
    assert_eq!(
        w(&kb.query(p, Form::NoCot(1), None).prompt),
        format!("<bos> {name} lives in a city in the country")
    );
    let c = kb.bridge(p);
    let cot = kb.query(p, Form::Cot, Some(c));
    assert_eq!(
        w(&cot.prompt),
        format!(
            "<bos> {name} lives in {} . the country where {name} lives is ?",
            kb.vocab.word(c)
        )
    );
    assert_eq!((cot.bridge, cot.answer), (c, kb.answer(p)));
    // The conflicting city has another country.
    let mut rng = SplitMix64::new(0);
    for &p in &kb.persons {
        let c2 = kb.conflict_bridge(p, &mut rng).unwrap();
        assert_ne!(kb.second_hop(c2), kb.answer(p));
    }
    let bag = kb.bag(0, p).unwrap();
    assert_eq!(bag.prompts.len(), 4);
    assert!(bag.prompts.iter().all(|q| q[0] == BOS && q.contains(&p)));
    assert_eq!(bag.gold, c);
}

#[test]
fn kb_rejects_bad_names_and_configs() {
    let kb = generate(&KbConfig::smoke(), 0).unwrap();
    let e = kb.relation_index("born_in").unwrap_err();
    assert!(
        e.to_string().contains("born_in") && e.to_string().contains("lives_in, in_country, speaks"),
        "{e}"
    );
    assert_eq!(
        kb.entity("P99"),
        Err(KbError::UnknownEntity { name: "P99".into() })
    );
    assert_eq!(
        kb.entity("lives"),
        Err(KbError::UnknownEntity {
            name: "lives".into()
        })
    );
    assert!(kb.entity("P3").is_ok());
    assert!(matches!(
        kb.bag(0, kb.vocab.id("C0").unwrap()),
        Err(KbError::UnknownEntity { .. })
    ));
    let mut v = Vocab::new();
    assert_eq!(
        Template::parse("lives in", &mut v),
        Err(KbError::MissingSlot {
            template: "lives in".into()
        })
    );
    assert!(matches!(
        Template::parse("[X] and [X]", &mut v),
        Err(KbError::RepeatedSlot { .. })
    ));
    assert_eq!(
        v.encode("unseen"),
        Err(KbError::UnknownWord {
            word: "unseen".into()
        })
    );
    for bad in [
        KbConfig {
            cities: 5,
            ..KbConfig::smoke()
        },
        KbConfig {
            languages: 3,
            ..KbConfig::smoke()
        },
        KbConfig {
            countries: 1,
            cities: 4,
            languages: 1,
            ..KbConfig::smoke()
        },
        KbConfig {
            persons: 2,
            ..KbConfig::smoke()
        },
    ] {
        assert!(
            matches!(generate(&bad, 0), Err(KbError::Config(_))),
            "{bad:?}"
        );
    }
}

#[test]
fn tokenizer_splits_punctuation_and_keeps_placeholders() {
    assert_eq!(
        tokenize("[X], who is a citizen of [Y]."),
        ["[X]", ",", "who", "is", "a", "citizen", "of", "[Y]", "."]
    );
    assert_eq!(tokenize("In [X], [Y] is"), ["In", "[X]", ",", "[Y]", "is"]);
    assert_eq!(tokenize("  is ?  "), ["is", "?"]);
}

#[test]
fn kn_score_of_bag_prompts_at_their_target_averages_to_one() {
    let _g = seed_lock();
    let kb = generate(&KbConfig::smoke(), 0).unwrap();
    let device = Device::flex();
    let model = ModelConfig::smoke().init(&kb, &device, 2);
    let bag = kb.bag(0, kb.persons[1]).unwrap();
    let at: Vec<(usize, usize)> = bag
        .prompts
        .iter()
        .enumerate()
        .map(|(i, p)| (i, p.len() - 1))
        .collect();
    let acts = activations_at(&model, &bag.prompts, &at).unwrap(); // [4][2][64]
    // Any KN set with a positive reference: the 3 most active neurons of layer 1 in prompt 0.
    let mut order: Vec<usize> = (0..64).collect();
    order.sort_by(|&i, &j| acts[0][1][j].total_cmp(&acts[0][1][i]));
    let kn: Vec<Neuron> = order[..3].iter().map(|&i| Neuron::new(1, i)).collect();
    let r = reference_activation(&acts, &kn);
    assert!(r > 1e-3, "reference {r}");
    let mean: f32 = acts
        .iter()
        .map(|a| kn_score(kn_mean(a, &kn), r).unwrap())
        .sum::<f32>()
        / 4.0;
    assert!((mean - 1.0).abs() < 1e-5, "{mean}");
}

const P27: &str = r#"{"sub_label": "Ann Smith", "obj_label": "Narnia", "uuid": "u1"}
{"sub_label": "Bo Li", "obj_label": "Oz", "uuid": "u2"}
{"sub_label": "Bo Li", "obj_label": "Oz", "uuid": "u2b"}

{"sub_label": "Cy Dee", "obj_label": "Narnia", "uuid": "u3"}
{"sub_label": "Cy Dee", "obj_label": "Oz", "uuid": "u4"}
{"sub_label": "Di Ek", "obj_label": "Lilliput", "uuid": "u5"}
{"sub_label": "Ed Fa", "obj_label": "Oz", "uuid": "u6"}
"#;
const P37: &str = r#"{"sub_label": "Narnia", "obj_label": "English", "uuid": "v1"}
{"sub_label": "Oz", "obj_label": "Ozish", "uuid": "v2"}
{"sub_label": "Lilliput", "obj_label": "Lill", "uuid": "v3"}
{"sub_label": "Lilliput", "obj_label": "Blef", "uuid": "v4"}
"#;
const PAT27: &str = r#"{"pattern": "[X] is a citizen of [Y].", "lemma": "c", "extended_lemma": "c", "tense": "present"}
{"pattern": "[X], a citizen of [Y].", "lemma": "c", "extended_lemma": "c", "tense": "?"}
{"pattern": "as a citizen of [Y], [X]", "lemma": "c", "extended_lemma": "c", "tense": "?"}
{"pattern": "[X] holds a citizenship of [Y].", "lemma": "h", "extended_lemma": "h", "tense": "present"}
"#;
const PAT37: &str = r#"{"pattern": "The official language of [X] is [Y].", "lemma": "o", "extended_lemma": "o", "tense": "present"}
{"pattern": "[Y] is the official language of [X].", "lemma": "o", "extended_lemma": "o", "tense": "present"}
{"pattern": "In [X], [Y] is the official language.", "lemma": "o", "extended_lemma": "o", "tense": "present"}
{"pattern": "The law in [X] declares [Y] the official language.", "lemma": "d", "extended_lemma": "d", "tense": "present"}
"#;

#[test]
fn pararel_fixture_chains_and_kb() {
    let p = Path::new("fixture.jsonl");
    let f27 = parse_facts_jsonl(P27.as_bytes(), p).unwrap();
    assert_eq!(
        (
            f27[0].sub_label.as_str(),
            f27[0].obj_label.as_str(),
            f27[0].uuid.as_str()
        ),
        ("Ann Smith", "Narnia", "u1")
    );
    let f37 = parse_facts_jsonl(P37.as_bytes(), p).unwrap();
    let t27 = parse_patterns_jsonl(PAT27.as_bytes(), p).unwrap();
    let t37 = parse_patterns_jsonl(PAT37.as_bytes(), p).unwrap();
    // Patterns: [Y]-before-[X] rejected, the rest cut at [Y].
    assert_eq!(
        cut_pattern("[X] is a citizen of [Y].").unwrap(),
        "[X] is a citizen of"
    );
    assert_eq!(
        cut_pattern("as a citizen of [Y], [X]"),
        Err(KbError::ObjectFirst {
            pattern: "as a citizen of [Y], [X]".into()
        })
    );
    assert!(matches!(
        cut_pattern("no slots"),
        Err(KbError::MissingSlot { .. })
    ));
    let texts: Vec<String> = t27.iter().map(|t| t.pattern.clone()).collect();
    assert_eq!(
        usable_patterns(&texts),
        [
            "[X] is a citizen of",
            "[X], a citizen of",
            "[X] holds a citizenship of"
        ]
    );
    // Chains: Bo Li's repeated line is one fact; Cy Dee (two countries) and Di Ek (Lilliput
    // has two languages) drop out.
    let c = chains(&f27, &f37);
    let persons: Vec<&str> = c.iter().map(|c| c.person.as_str()).collect();
    assert_eq!(persons, ["Ann Smith", "Bo Li", "Ed Fa"]);
    assert_eq!(
        (c[1].country.as_str(), c[1].language.as_str()),
        ("Oz", "Ozish")
    );
    let kb = build_kb(&f27, &t27, &f37, &t37, 3, 34, 0, 1).unwrap();
    assert_eq!(kb.persons.len(), 3);
    assert_eq!(kb.persons_in(Split::HeldOut).len(), 1);
    assert_eq!(kb.relations[0].templates.len(), 3);
    assert_eq!(kb.relations[1].templates.len(), 3);
    let ann = kb.entity("Ann Smith").unwrap();
    let bag = kb.bag(0, ann).unwrap();
    assert_eq!(
        kb.vocab.decode(&bag.prompts[1]),
        "<bos> Ann Smith , a citizen of"
    );
    assert_eq!(kb.vocab.word(kb.answer(ann)), "English");
    assert_eq!(kb.vocab.word(kb.bridge(ann)), "Narnia");
    assert_eq!(kb.relations[1].facts.len(), 2, "Narnia and Oz");
    // A relation with too few usable patterns is refused, naming it.
    let e = build_kb(&f27, &t27[..2], &f37, &t37, 3, 34, 0, 1).unwrap_err();
    assert!(e.to_string().contains("P27 has 2 usable patterns"), "{e}");
}

#[test]
fn real_pararel_chains_match_the_spec() {
    let Some(roots) = repro_core::testing::mirror_roots() else {
        return;
    };
    let kb = repro_factual_recall::pararel::load_kb(&roots, 20, 20, 0).unwrap();
    // Spec §5: 512 chains over 50 bridge countries and 23 languages; 8 and 6 patterns.
    assert_eq!(kb.persons.len(), 512);
    assert_eq!(kb.relations[1].facts.len(), 50);
    let langs: HashSet<u32> = kb.relations[1].facts.iter().map(|f| f.object).collect();
    assert_eq!(langs.len(), 23);
    assert_eq!(
        (
            kb.relations[0].templates.len(),
            kb.relations[1].templates.len()
        ),
        (8, 6)
    );
    let english = kb.entity("English").unwrap();
    let n_english = kb
        .persons
        .iter()
        .filter(|&&p| kb.answer(p) == english)
        .count();
    assert_eq!(n_english, 98, "answers skewed: English 98");
}

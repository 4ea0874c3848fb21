//! The experiments E1–E5 as functions of a trained model, its knowledge base and its
//! knowledge neurons (spec §6; every operationalisation here is ours): what each job of
//! [`reproduce`](mod@crate::reproduce) computes, and what its payload holds.
//!
//! Positions (spec §3): a direct query reads both hops at its last prompt position; a
//! chain-of-thought query reads hop 1 at the bridge-prediction position (its last prompt
//! position) and hop 2 at the answer-prediction position (the generated `so`), after the
//! model's own greedy bridge. Edits apply at those positions during greedy decoding.

use std::collections::{BTreeMap, HashSet};

use repro_core::rng;
use serde::{Deserialize, Serialize};

use crate::attribution::{FfnModel, IgConfig, Neuron, Target, activations_at, ig_batch};
use crate::edit::{Edit, Intervention, Probe, next_tokens};
use crate::error::KnError;
use crate::eval::{TwoHopOutcome, answer_two_hop};
use crate::kb::{Form, Kb, Query, Split};
use crate::neurons::{
    BagScores, KnConfig, attribute_bag, coarse_sets, kn_mean, kn_score, matched_random,
    reference_activation, select_relation,
};

/// Rows per forward pass when reading activations.
const CHUNK: usize = 256;

/// Activations of every layer at one position per row, in chunks.
///
/// # Shapes
/// - returns `[rows.len()][n_layers][d_ff]`
fn activations_rows<M: FfnModel + ?Sized>(
    model: &M,
    rows: &[(Vec<u32>, usize)],
) -> Result<Vec<Vec<Vec<f32>>>, KnError> {
    let mut out = Vec::with_capacity(rows.len());
    for chunk in rows.chunks(CHUNK) {
        let seqs: Vec<Vec<u32>> = chunk.iter().map(|r| r.0.clone()).collect();
        let at: Vec<(usize, usize)> = chunk.iter().enumerate().map(|(i, r)| (i, r.1)).collect();
        out.extend(activations_at(model, &seqs, &at)?);
    }
    Ok(out)
}

/// The attributed facts of a run: `(relation index, subject)`, first-hop facts first.
pub fn selected_facts(kb: &Kb, sel: &crate::config::KnSelection) -> Vec<(usize, u32)> {
    let mut persons = kb.persons_in(Split::HeldOut);
    persons.truncate(sel.persons);
    let rest = sel.persons.saturating_sub(persons.len());
    persons.extend(kb.persons_in(Split::Memorised).into_iter().take(rest));
    let first = kb.two_hop.first;
    let second = kb.two_hop.second;
    let mut out: Vec<(usize, u32)> = persons.iter().map(|&p| (first, p)).collect();
    if sel.all_other_facts {
        for (r, rel) in kb.relations.iter().enumerate() {
            if r != first {
                out.extend(rel.facts.iter().map(|f| (r, f.subject)));
            }
        }
    } else {
        let mut bridges: Vec<u32> = persons.iter().map(|&p| kb.bridge(p)).collect();
        bridges.sort_unstable();
        bridges.dedup();
        out.extend(bridges.into_iter().map(|c| (second, c)));
    }
    out
}

/// One attributed fact and its neuron sets.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FactKn {
    /// Relation index.
    pub relation: usize,
    /// Subject entity.
    pub subject: u32,
    /// `relation(subject)`.
    pub name: String,
    /// Knowledge neurons (from attributions).
    pub kn: Vec<Neuron>,
    /// Activation-magnitude "base" neurons.
    pub base: Vec<Neuron>,
    /// Mean KN activation over the bag at the target positions (the KN score's reference).
    pub reference: f32,
    /// `[n_layers][d_ff]` mean activations over the bag at the target positions (the
    /// activation range matched random neurons are drawn from).
    pub mean_activations: Vec<Vec<f32>>,
}

/// One relation's selection, for the report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RelationSummary {
    /// Relation name.
    pub name: String,
    /// Attributed facts.
    pub facts: usize,
    /// Bag percentage used (IG sets).
    pub bag_pct_used: u32,
    /// Iterations of the adaptive loop (IG sets).
    pub iterations: usize,
    /// Facts with an empty KN set.
    pub empty: usize,
    /// Mean KN set size.
    pub mean_kn: f64,
    /// Relation-shared neurons (IG sets).
    pub rel_shared: Vec<Neuron>,
    /// Bag percentage used (base sets).
    pub base_bag_pct_used: u32,
    /// Facts with an empty base set.
    pub base_empty: usize,
    /// Mean base set size.
    pub base_mean: f64,
}

/// How the empty-set count depends on the rule (same attributions).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RuleRow {
    /// The rule.
    pub rule: String,
    /// Relation name.
    pub relation: String,
    /// Bag percentage finally used.
    pub bag_pct_used: u32,
    /// Facts with an empty set.
    pub empty: usize,
    /// Mean set size.
    pub mean_kn: f64,
}

/// The knowledge neurons of a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KnOut {
    /// Every attributed fact.
    pub facts: Vec<FactKn>,
    /// Per relation.
    pub relations: Vec<RelationSummary>,
    /// Rule sensitivity.
    pub rules: Vec<RuleRow>,
    /// Layers of the model.
    pub n_layers: usize,
}

impl KnOut {
    /// The fact `relation(subject)`, if attributed.
    pub fn get(&self, relation: usize, subject: u32) -> Option<&FactKn> {
        self.facts
            .iter()
            .find(|f| f.relation == relation && f.subject == subject)
    }

    /// Its KN set when attributed and non-empty.
    pub fn kn(&self, relation: usize, subject: u32) -> Option<&FactKn> {
        self.get(relation, subject).filter(|f| !f.kn.is_empty())
    }

    /// Relation-shared neurons of a relation (by index).
    pub fn rel_shared(&self, relation: usize) -> &[Neuron] {
        self.relations
            .get(relation)
            .map_or(&[][..], |r| r.rel_shared.as_slice())
    }
}

fn mean_len(sets: &[Vec<Neuron>]) -> f64 {
    sets.iter().map(Vec::len).sum::<usize>() as f64 / sets.len().max(1) as f64
}

/// Attributes every bag of `facts` (IG on `model`, which must be on an autodiff device),
/// selects KN and base sets per relation, and reruns the selection under other rules.
/// `tick` is called after each bag.
///
/// # Errors
/// What [`attribute_bag`] and [`select_relation`] reject, or a fact the knowledge base
/// does not have.
pub fn knowledge_neurons_of<M: FfnModel + ?Sized>(
    model: &M,
    kb: &Kb,
    cfg: &KnConfig,
    facts: &[(usize, u32)],
    tick: &dyn Fn(),
) -> anyhow::Result<KnOut> {
    cfg.check()?;
    let mut by_rel: BTreeMap<usize, Vec<u32>> = BTreeMap::new();
    for &(r, s) in facts {
        by_rel.entry(r).or_default().push(s);
    }
    let mut out = KnOut {
        facts: Vec::new(),
        relations: Vec::new(),
        rules: Vec::new(),
        n_layers: model.n_layers(),
    };
    let alternatives = [
        ("Dai (q 70 adaptive, floor 3)", KnConfig::dai()),
        (
            "q 70 fixed, floor 2",
            KnConfig {
                bag_step_pct: 0,
                ..*cfg
            },
        ),
        ("EleutherAI (coarse 30, > 50%)", KnConfig::eleuther()),
    ];
    for r in 0..kb.relations.len() {
        let name = kb.relations[r].name.clone();
        let Some(subjects) = by_rel.get(&r) else {
            out.relations.push(RelationSummary {
                name,
                facts: 0,
                bag_pct_used: cfg.bag_pct,
                iterations: 0,
                empty: 0,
                mean_kn: f64::NAN,
                rel_shared: vec![],
                base_bag_pct_used: cfg.bag_pct,
                base_empty: 0,
                base_mean: f64::NAN,
            });
            continue;
        };
        let mut scores: Vec<BagScores> = Vec::with_capacity(subjects.len());
        for &s in subjects {
            scores.push(attribute_bag(model, &kb.bag(r, s)?, &cfg.ig)?);
            tick();
        }
        let ig = select_relation(&coarse_sets(&scores, cfg, false)?, cfg)?;
        let base = select_relation(&coarse_sets(&scores, cfg, true)?, cfg)?;
        for (k, &s) in subjects.iter().enumerate() {
            let acts = &scores[k].activations;
            let n_l = acts[0].len();
            let d_ff = acts[0][0].len();
            let mut mean = vec![vec![0f32; d_ff]; n_l];
            for a in acts {
                for (l, layer) in a.iter().enumerate() {
                    for (i, v) in layer.iter().enumerate() {
                        mean[l][i] += v / acts.len() as f32;
                    }
                }
            }
            out.facts.push(FactKn {
                relation: r,
                subject: s,
                name: kb.bag(r, s)?.name,
                kn: ig.per_fact[k].clone(),
                base: base.per_fact[k].clone(),
                reference: reference_activation(acts, &ig.per_fact[k]),
                mean_activations: mean,
            });
        }
        for (rule, alt) in &alternatives {
            let sel = select_relation(&coarse_sets(&scores, alt, false)?, alt)?;
            out.rules.push(RuleRow {
                rule: (*rule).into(),
                relation: name.clone(),
                bag_pct_used: sel.bag_pct_used,
                empty: sel.n_empty(),
                mean_kn: mean_len(&sel.per_fact),
            });
        }
        out.relations.push(RelationSummary {
            name,
            facts: subjects.len(),
            bag_pct_used: ig.bag_pct_used,
            iterations: ig.iterations,
            empty: ig.n_empty(),
            mean_kn: mean_len(&ig.per_fact),
            rel_shared: ig.rel_shared.clone(),
            base_bag_pct_used: base.bag_pct_used,
            base_empty: base.n_empty(),
            base_mean: mean_len(&base.per_fact),
        });
    }
    Ok(out)
}

/// Relative change of `P(gold)`.
fn rel_change(before: f64, after: f64) -> f64 {
    (after - before) / before.max(1e-12)
}

/// `ln(p / (1 − p))`, with `p` clamped to `[1e-7, 1 − 1e-7]` (f32 probabilities).
pub fn log_odds(p: f64) -> f64 {
    let p = p.clamp(1e-7, 1.0 - 1e-7);
    (p / (1.0 - p)).ln()
}

/// The effect of one edit on a fact's own prompts (means over the bag).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Effect {
    /// Whose neurons: `own`, `unrelated`, `random`, `base`.
    pub neurons: String,
    /// `suppress` or `enhance`.
    pub edit: String,
    /// Mean `(P_after − P_before) / P_before`.
    pub dp_rel: f64,
    /// Mean change of the log-odds of `P(gold)`.
    pub dlogodds: f64,
    /// Share of prompts still answered correctly (argmax).
    pub acc_after: f64,
}

/// E1 for one fact.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct E1Fact {
    /// `relation(subject)`.
    pub name: String,
    /// Relation index.
    pub relation: usize,
    /// Mean `P(gold)` over the bag, unedited.
    pub p_before: f64,
    /// Share of the bag answered correctly, unedited.
    pub acc_before: f64,
    /// Edits.
    pub effects: Vec<Effect>,
}

impl E1Fact {
    /// The effect of `neurons` under `edit`.
    pub fn effect(&self, neurons: &str, edit: &str) -> Option<&Effect> {
        self.effects
            .iter()
            .find(|e| e.neurons == neurons && e.edit == edit)
    }
}

/// One draw's `(ΔP_rel, Δlog-odds, accuracy)` averaged over a bag.
type Draw = (f64, f64, f64);

/// E1, single-hop validation: for every fact with a KN set, suppress and enhance its KNs,
/// an unrelated fact's KNs (a fact of another relation with a KN set, seeded choice),
/// `draws` matched random sets (averaged) and its base set, on its own prompts at the target
/// position. `model` on a plain device.
///
/// # Errors
/// What [`next_tokens`] and [`matched_random`] reject.
pub fn e1<M: FfnModel + ?Sized>(
    model: &M,
    kb: &Kb,
    kn: &KnOut,
    draws: usize,
    seed: u64,
) -> anyhow::Result<Vec<E1Fact>> {
    let mut rng = rng::stream(seed, "e1");
    let facts: Vec<&FactKn> = kn.facts.iter().filter(|f| !f.kn.is_empty()).collect();
    let mut probes = Vec::new();
    let mut edits: Vec<Vec<Intervention>> = Vec::new();
    // (fact index, neurons label, edit label, draw) per block of |bag| probes.
    let mut blocks: Vec<(usize, &'static str, &'static str)> = Vec::new();
    let mut bag_len = Vec::with_capacity(facts.len());
    for (fi, f) in facts.iter().enumerate() {
        let bag = kb.bag(f.relation, f.subject)?;
        bag_len.push(bag.prompts.len());
        let others: Vec<&&FactKn> = facts.iter().filter(|g| g.relation != f.relation).collect();
        let unrelated = (!others.is_empty()).then(|| others[rng.below(others.len())].kn.clone());
        let exclude: HashSet<Neuron> =
            f.kn.iter()
                .chain(kn.rel_shared(f.relation))
                .copied()
                .collect();
        let mut sets: Vec<(&'static str, Vec<Neuron>)> =
            vec![("none", vec![]), ("own", f.kn.clone())];
        if let Some(u) = unrelated {
            sets.push(("unrelated", u));
        }
        for _ in 0..draws {
            sets.push((
                "random",
                matched_random(&f.kn, &exclude, &f.mean_activations, &mut rng)?,
            ));
        }
        if !f.base.is_empty() {
            sets.push(("base", f.base.clone()));
        }
        for (label, set) in sets {
            let edits_of: &[(&'static str, Edit)] = if label == "none" {
                &[("none", Edit::Scale(1.0))]
            } else {
                &[("suppress", Edit::Suppress), ("enhance", Edit::Enhance)]
            };
            for &(edit_label, edit) in edits_of {
                for p in &bag.prompts {
                    probes.push(Probe::last(p.clone(), bag.gold));
                    edits.push(vec![Intervention {
                        neurons: set.clone(),
                        positions: vec![p.len() - 1],
                        edit,
                    }]);
                }
                blocks.push((fi, label, edit_label));
            }
        }
    }
    let pred = next_tokens(model, &probes, &edits)?;
    let mut out: Vec<E1Fact> = facts
        .iter()
        .map(|f| E1Fact {
            name: f.name.clone(),
            relation: f.relation,
            p_before: f64::NAN,
            acc_before: f64::NAN,
            effects: Vec::new(),
        })
        .collect();
    // Per fact: unedited probabilities per prompt, then (label, edit) → per-draw values.
    let mut k = 0;
    let mut before: Vec<Vec<f64>> = vec![Vec::new(); facts.len()];
    let mut acc: BTreeMap<(usize, &str, &str), Vec<Draw>> = BTreeMap::new();
    for &(fi, label, edit) in &blocks {
        let n = bag_len[fi];
        let slice = &pred[k..k + n];
        let gold = probes[k].gold;
        k += n;
        let p: Vec<f64> = slice.iter().map(|x| f64::from(x.p_gold)).collect();
        let correct = slice.iter().filter(|x| x.argmax == gold).count() as f64 / n as f64;
        if label == "none" {
            out[fi].p_before = p.iter().sum::<f64>() / n as f64;
            out[fi].acc_before = correct;
            before[fi] = p;
            continue;
        }
        let b = &before[fi];
        let dp = p
            .iter()
            .zip(b)
            .map(|(a, b0)| rel_change(*b0, *a))
            .sum::<f64>()
            / n as f64;
        let dl = p
            .iter()
            .zip(b)
            .map(|(a, b0)| log_odds(*a) - log_odds(*b0))
            .sum::<f64>()
            / n as f64;
        acc.entry((fi, label, edit))
            .or_default()
            .push((dp, dl, correct));
    }
    for ((fi, label, edit), v) in acc {
        let m = |f: fn(&(f64, f64, f64)) -> f64| v.iter().map(f).sum::<f64>() / v.len() as f64;
        out[fi].effects.push(Effect {
            neurons: label.into(),
            edit: edit.into(),
            dp_rel: m(|x| x.0),
            dlogodds: m(|x| x.1),
            acc_after: m(|x| x.2),
        });
    }
    Ok(out)
}

/// Persons whose first-hop fact has a KN set (the two-hop experiments use only these), in
/// the knowledge base's order.
pub fn evaluated_persons(kb: &Kb, kn: &KnOut) -> Vec<u32> {
    kb.persons
        .iter()
        .copied()
        .filter(|&p| kn.kn(kb.two_hop.first, p).is_some())
        .collect()
}

/// The positions of hop 1 and hop 2 in an answered query.
fn hop_positions(o: &TwoHopOutcome) -> (usize, usize) {
    let last = o.query.prompt.len() - 1;
    match o.query.form {
        Form::NoCot(_) => (last, last),
        Form::Cot => (last, last + 2),
    }
}

/// E2 for one query.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct E2Item {
    /// Person.
    pub person: u32,
    /// Their split.
    pub split: Split,
    /// The form asked.
    pub form: Form,
    /// Answered correctly.
    pub correct: bool,
    /// Chain of thought: the generated bridge is right.
    pub bridge_correct: Option<bool>,
    /// Hop-1 KN score (`None`: reference ≤ 1e-3).
    pub hop1: Option<f32>,
    /// Hop-2 KN score (`None`: no KN set for the bridge's fact, or reference ≤ 1e-3).
    pub hop2: Option<f32>,
    /// The true bridge's second-hop fact has a (non-empty) KN set.
    pub hop2_has_kn: bool,
    /// Attribution-based hop-1 score (subsample only).
    pub hop1_attr: Option<f32>,
    /// Attribution-based hop-2 score (subsample only).
    pub hop2_attr: Option<f32>,
}

fn attr_score(attr: &[Vec<f32>], kn: &[Neuron]) -> Option<f32> {
    let max = attr
        .iter()
        .flatten()
        .copied()
        .fold(f32::NEG_INFINITY, f32::max);
    if kn.is_empty() || max <= 0.0 {
        return None;
    }
    Some(kn_mean(attr, kn) / max)
}

/// E2, KN scores inside two-hop queries: every form for every person, answered greedily;
/// the hop-1 and hop-2 KN scores at the positions of the module docs; for the first
/// `attr_persons` persons also the attribution-based scores (integrated gradients inside
/// the query, `ig_model` on an autodiff device).
///
/// # Errors
/// What the decoding, activation and attribution functions reject.
#[allow(clippy::too_many_arguments)]
pub fn e2<M: FfnModel + ?Sized, A: FfnModel + ?Sized>(
    model: &M,
    ig_model: &A,
    kb: &Kb,
    kn: &KnOut,
    persons: &[u32],
    attr_persons: usize,
    ig: &IgConfig,
    tick: &dyn Fn(),
) -> anyhow::Result<Vec<E2Item>> {
    let queries: Vec<Query> = persons
        .iter()
        .flat_map(|&p| crate::train::forms(kb).into_iter().map(move |f| (p, f)))
        .map(|(p, f)| kb.query(p, f, None))
        .collect();
    let answered = answer_two_hop(model, kb, &queries, &[], false)?;
    let mut rows = Vec::with_capacity(2 * answered.len());
    for o in &answered {
        let (p1, p2) = hop_positions(o);
        rows.push((o.sequence(), p1));
        rows.push((o.sequence(), p2));
    }
    let acts = activations_rows(model, &rows)?;
    let (first, second) = (kb.two_hop.first, kb.two_hop.second);
    let attr_set: HashSet<u32> = persons.iter().take(attr_persons).copied().collect();
    let mut out = Vec::with_capacity(answered.len());
    for (k, o) in answered.iter().enumerate() {
        let p = o.query.person;
        let f1 = kn.kn(first, p);
        let f2 = kn.kn(second, o.query.bridge);
        let score = |f: Option<&FactKn>, a: &[Vec<f32>]| {
            f.and_then(|f| kn_score(kn_mean(a, &f.kn), f.reference))
        };
        let (mut hop1_attr, mut hop2_attr) = (None, None);
        if attr_set.contains(&p) {
            let (p1, p2) = hop_positions(o);
            let seq = o.sequence();
            let gold1 = match o.query.form {
                Form::NoCot(_) => o.query.answer,
                Form::Cot => o.query.bridge,
            };
            let mut targets = vec![Target {
                ids: seq.clone(),
                pos: p1,
                gold: gold1,
            }];
            if o.query.form == Form::Cot {
                targets.push(Target {
                    ids: seq,
                    pos: p2,
                    gold: o.query.answer,
                });
            }
            let layers: Vec<usize> = (0..ig_model.n_layers()).collect();
            let attr = ig_batch(ig_model, &targets, &layers, ig)?;
            let a2 = attr.last().unwrap_or(&attr[0]);
            hop1_attr = f1.and_then(|f| attr_score(&attr[0], &f.kn));
            hop2_attr = f2.and_then(|f| attr_score(a2, &f.kn));
            tick();
        }
        out.push(E2Item {
            person: p,
            split: kb.split_of(p).unwrap_or(Split::Memorised),
            form: o.query.form,
            correct: o.correct,
            bridge_correct: o.bridge_correct,
            hop1: score(f1, &acts[2 * k]),
            hop2: score(f2, &acts[2 * k + 1]),
            hop2_has_kn: f2.is_some(),
            hop1_attr,
            hop2_attr,
        });
    }
    Ok(out)
}

/// E3 for one query: correctness unedited and after each edit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct E3Item {
    /// Person.
    pub person: u32,
    /// Their split.
    pub split: Split,
    /// The form asked.
    pub form: Form,
    /// Correct without edits.
    pub base_correct: bool,
    /// `(neurons, edit, correct)`: neurons `hop1`, `hop2`, `both`, `random1` (matched to
    /// hop 1), `random2` (matched to both); correct is the mean over random draws; NaN when
    /// the hop-2 fact has no KN set.
    pub after: Vec<(String, String, f64)>,
}

impl E3Item {
    /// Correctness after `edit` of `neurons`.
    pub fn after(&self, neurons: &str, edit: &str) -> Option<f64> {
        self.after
            .iter()
            .find(|(n, e, _)| n == neurons && e == edit)
            .map(|x| x.2)
            .filter(|v| !v.is_nan())
    }
}

/// E3, two-hop interventions: suppress and enhance hop-1, hop-2 and both KN sets, and
/// matched random sets (`draws`, averaged), at the hops' positions, during greedy decoding
/// of every form for every person.
///
/// # Errors
/// What decoding and [`matched_random`] reject.
pub fn e3<M: FfnModel + ?Sized>(
    model: &M,
    kb: &Kb,
    kn: &KnOut,
    persons: &[u32],
    draws: usize,
    seed: u64,
) -> anyhow::Result<Vec<E3Item>> {
    let mut rng = rng::stream(seed, "e3");
    let queries: Vec<Query> = persons
        .iter()
        .flat_map(|&p| crate::train::forms(kb).into_iter().map(move |f| (p, f)))
        .map(|(p, f)| kb.query(p, f, None))
        .collect();
    let base = answer_two_hop(model, kb, &queries, &[], false)?;
    let (first, second) = (kb.two_hop.first, kb.two_hop.second);
    // Positions of hop 1 and hop 2 come from the unedited answer's layout (they do not
    // depend on the tokens generated).
    let plan: Vec<(usize, usize, Option<&FactKn>, Option<&FactKn>)> = base
        .iter()
        .map(|o| {
            let (p1, p2) = hop_positions(o);
            (
                p1,
                p2,
                kn.kn(first, o.query.person),
                kn.kn(second, o.query.bridge),
            )
        })
        .collect();
    let mut results: Vec<BTreeMap<(String, String), Vec<f64>>> = vec![BTreeMap::new(); base.len()];
    for (edit_label, edit) in [("suppress", Edit::Suppress), ("enhance", Edit::Enhance)] {
        let mut conditions: Vec<(String, Vec<Option<Vec<Intervention>>>)> = Vec::new();
        let iv = |neurons: &[Neuron], pos: usize| Intervention {
            neurons: neurons.to_vec(),
            positions: vec![pos],
            edit,
        };
        let kn_lists = |which: &str| -> Vec<Option<Vec<Intervention>>> {
            plan.iter()
                .map(|&(p1, p2, f1, f2)| match (which, f1, f2) {
                    ("hop1", Some(f1), _) => Some(vec![iv(&f1.kn, p1)]),
                    ("hop2", _, Some(f2)) => Some(vec![iv(&f2.kn, p2)]),
                    ("both", Some(f1), Some(f2)) if p1 == p2 => {
                        let u: std::collections::BTreeSet<Neuron> =
                            f1.kn.iter().chain(&f2.kn).copied().collect();
                        Some(vec![iv(&u.into_iter().collect::<Vec<_>>(), p1)])
                    }
                    ("both", Some(f1), Some(f2)) => Some(vec![iv(&f1.kn, p1), iv(&f2.kn, p2)]),
                    _ => None,
                })
                .collect()
        };
        for which in ["hop1", "hop2", "both"] {
            conditions.push((which.into(), kn_lists(which)));
        }
        for _ in 0..draws {
            let mut r1 = Vec::with_capacity(plan.len());
            let mut r2 = Vec::with_capacity(plan.len());
            for &(p1, p2, f1, f2) in &plan {
                let Some(f1) = f1 else {
                    r1.push(None);
                    r2.push(None);
                    continue;
                };
                let ex1: HashSet<Neuron> =
                    f1.kn.iter().chain(kn.rel_shared(first)).copied().collect();
                let rand1 = matched_random(&f1.kn, &ex1, &f1.mean_activations, &mut rng)?;
                r1.push(Some(vec![iv(&rand1, p1)]));
                r2.push(match f2 {
                    None => None,
                    Some(f2) if p1 == p2 => {
                        let u: Vec<Neuron> = f1
                            .kn
                            .iter()
                            .chain(&f2.kn)
                            .copied()
                            .collect::<std::collections::BTreeSet<_>>()
                            .into_iter()
                            .collect();
                        let ex: HashSet<Neuron> = u
                            .iter()
                            .chain(kn.rel_shared(first))
                            .chain(kn.rel_shared(second))
                            .copied()
                            .collect();
                        Some(vec![iv(
                            &matched_random(&u, &ex, &f1.mean_activations, &mut rng)?,
                            p1,
                        )])
                    }
                    Some(f2) => {
                        let ex2: HashSet<Neuron> =
                            f2.kn.iter().chain(kn.rel_shared(second)).copied().collect();
                        let rand2 = matched_random(&f2.kn, &ex2, &f2.mean_activations, &mut rng)?;
                        Some(vec![iv(&rand1, p1), iv(&rand2, p2)])
                    }
                });
            }
            conditions.push(("random1".into(), r1));
            conditions.push(("random2".into(), r2));
        }
        for (label, lists) in conditions {
            let edits: Vec<Vec<Intervention>> = lists
                .iter()
                .map(|l| l.clone().unwrap_or_default())
                .collect();
            let after = answer_two_hop(model, kb, &queries, &edits, false)?;
            for (i, (o, l)) in after.iter().zip(&lists).enumerate() {
                let v = if l.is_some() {
                    f64::from(u8::from(o.correct))
                } else {
                    f64::NAN
                };
                results[i]
                    .entry((label.clone(), edit_label.into()))
                    .or_default()
                    .push(v);
            }
        }
    }
    Ok(base
        .iter()
        .zip(results)
        .map(|(o, r)| E3Item {
            person: o.query.person,
            split: kb.split_of(o.query.person).unwrap_or(Split::Memorised),
            form: o.query.form,
            base_correct: o.correct,
            after: r
                .into_iter()
                .map(|((n, e), v)| (n, e, v.iter().sum::<f64>() / v.len() as f64))
                .collect(),
        })
        .collect())
}

/// Where an answer under a conflicting context points.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ConflictClass {
    /// The country of the context's city (follows the context).
    Context,
    /// The person's true country (parametric).
    Parametric,
    /// Anything else.
    Other,
}

/// E4 for one query.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct E4Item {
    /// Person.
    pub person: u32,
    /// Their split.
    pub split: Split,
    /// The form asked.
    pub form: Form,
    /// The conflicting city of the prefix.
    pub conflict: u32,
    /// Where the answer points.
    pub class: ConflictClass,
    /// Chain of thought: the generated bridge is the context's city.
    pub bridge_follows_context: Option<bool>,
    /// Hop-1 KN score (true first-hop fact) with the conflicting prefix.
    pub hop1_with: Option<f32>,
    /// The same without a prefix.
    pub hop1_without: Option<f32>,
}

/// E4, contextual conflict: every person's chain-of-thought and first direct query after
/// `P lives in C′ .` with `C′` of another country (seeded), classified, and the hop-1 KN
/// score of the true first-hop fact with and without the prefix.
///
/// # Errors
/// What decoding and activations reject.
pub fn e4<M: FfnModel + ?Sized>(
    model: &M,
    kb: &Kb,
    kn: &KnOut,
    persons: &[u32],
    seed: u64,
) -> anyhow::Result<Vec<E4Item>> {
    let mut rng = rng::stream(seed, "e4");
    let mut with = Vec::new();
    let mut without = Vec::new();
    let mut conflicts = Vec::new();
    for &p in persons {
        let Some(c2) = kb.conflict_bridge(p, &mut rng) else {
            continue;
        };
        for form in [Form::Cot, Form::NoCot(0)] {
            with.push(kb.query(p, form, Some(c2)));
            without.push(kb.query(p, form, None));
            conflicts.push(c2);
        }
    }
    let answered = answer_two_hop(model, kb, &with, &[], false)?;
    let rows: Vec<(Vec<u32>, usize)> = with
        .iter()
        .chain(&without)
        .map(|q| (q.prompt.clone(), q.prompt.len() - 1))
        .collect();
    let acts = activations_rows(model, &rows)?;
    let n = with.len();
    let first = kb.two_hop.first;
    Ok(answered
        .iter()
        .enumerate()
        .map(|(k, o)| {
            let p = o.query.person;
            let c2 = conflicts[k];
            let class = match o.answer() {
                Some(a) if a == kb.second_hop(c2) => ConflictClass::Context,
                Some(a) if a == o.query.answer => ConflictClass::Parametric,
                _ => ConflictClass::Other,
            };
            let f1 = kn.kn(first, p);
            let score = |a: &[Vec<f32>]| f1.and_then(|f| kn_score(kn_mean(a, &f.kn), f.reference));
            E4Item {
                person: p,
                split: kb.split_of(p).unwrap_or(Split::Memorised),
                form: o.query.form,
                conflict: c2,
                class,
                bridge_follows_context: (o.query.form == Form::Cot)
                    .then(|| o.generated.first() == Some(&c2)),
                hop1_with: score(&acts[k]),
                hop1_without: score(&acts[n + k]),
            }
        })
        .collect())
}

//! From attributions to knowledge neurons (Dai et al., ACL 2022, §3.2; official code
//! `src/2_get_kn.py`): coarse neurons per prompt, the bag rule per fact, the adaptive
//! loosening per relation, relation-shared neurons, matched random controls and the KN
//! score of the 2024 paper (our operationalisation).
//!
//! Every threshold is an integer percentage compared in exact arithmetic, so float
//! rounding never flips a boundary:
//!
//! - coarse: neuron `i` of a prompt passes when `100·attr_i ≥ p·max` (`>` with `strict`),
//!   `max` over all layers and neurons of that prompt, computed in `f64` (exact for `f32`
//!   inputs and integer `p ≤ 100`); when `max ≤ 0` nothing passes, and an attribution
//!   `≤ 0` never passes;
//! - bag: a neuron is kept for a fact when `100·count ≥ q·|bag|` (`>` with `strict`) and
//!   `count ≥ min_count`, `count` the number of the bag's prompts in which it is coarse;
//! - adaptive (per relation, Dai's `parse_kn`): start at `q = bag_pct`; while the mean
//!   number of KNs per fact is below `target_kn.0` lower `q` by `bag_step_pct`, above
//!   `target_kn.1` raise it, for at most `max_iters` evaluations;
//! - relation-shared: in the KN sets of `100·count ≥ rel_pct·n_facts` of the relation's
//!   facts.
//!
//! Dai's bag rule is `count ≥ max(0.7·|bag|, 3)`; with 4-prompt bags it is 3 for every
//! ratio ≤ 0.75, so the loosening cannot change anything. Our default ([`KnConfig::ours`])
//! keeps Dai's ratios and replaces the floor 3 by 2, so that `q = 50` admits neurons shared
//! by 2 of 4 prompts (declared; the report counts facts left with no KN).
//!
//! ```
//! use repro_factual_recall::attribution::Neuron;
//! use repro_factual_recall::neurons::{coarse_neurons, refine_bag};
//! // One layer, four neurons: max 1.0, 25% of it is 0.25, and 0.25 passes (inclusive).
//! let attr = vec![vec![1.0, 0.25, 0.24, -3.0]];
//! assert_eq!(coarse_neurons(&attr, 25, false)?, vec![Neuron::new(0, 0), Neuron::new(0, 1)]);
//! assert_eq!(coarse_neurons(&attr, 25, true)?, vec![Neuron::new(0, 0)]); // strict: >
//! // A bag of 4 prompts at q = 70: a neuron needs 3 of them (100·3 ≥ 70·4 = 280).
//! let (a, b) = (Neuron::new(0, 0), Neuron::new(0, 1));
//! let bag = vec![vec![a, b], vec![a, b], vec![a], vec![]];
//! assert_eq!(refine_bag(&bag, 70, 2, false)?, vec![a]);
//! assert_eq!(refine_bag(&bag, 50, 2, false)?, vec![a, b]);
//! # Ok::<(), repro_factual_recall::KnError>(())
//! ```

use std::collections::{BTreeMap, HashSet};

use repro_core::rng::SplitMix64;
use serde::{Deserialize, Serialize};

use crate::attribution::{FfnModel, IgConfig, Neuron, Target, ig_batch};
use crate::error::KnError;

/// Knowledge-neuron selection settings (percentages are integers, see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct KnConfig {
    /// Integrated gradients.
    pub ig: IgConfig,
    /// Coarse threshold, percent of the prompt's maximum attribution (Dai: 20, the
    /// `threshold_ratio` of `re_filter`; EleutherAI: 30).
    pub coarse_pct: u32,
    /// Strict comparisons (`>`, EleutherAI) instead of inclusive ones (`≥`, Dai).
    pub strict: bool,
    /// Initial share of the bag, percent (Dai: 70; EleutherAI: 50).
    pub bag_pct: u32,
    /// Step of the adaptive loop, percent (Dai: 5; 0 disables it).
    pub bag_step_pct: u32,
    /// Fewest prompts of the bag a neuron must be coarse in (Dai: 3; ours: 2).
    pub min_count: usize,
    /// The adaptive loop's target range of the mean number of KNs per fact (Dai: 2..=5).
    pub target_kn: (usize, usize),
    /// Most evaluations of the adaptive loop (Dai: 6).
    pub max_iters: usize,
    /// Relation-shared threshold, percent of the relation's facts (Dai: 10).
    pub rel_pct: u32,
    /// Coarse threshold of the activation-magnitude "base" sets, percent (Dai: 50).
    pub base_pct: u32,
}

impl KnConfig {
    /// Dai et al.'s settings as released (coarse 20%, bag 70% adaptive in steps of 5,
    /// floor 3, target 2..=5, 6 iterations, relation-shared 10%, base 50%, m = 20).
    pub fn dai() -> Self {
        Self {
            ig: IgConfig::default(),
            coarse_pct: 20,
            strict: false,
            bag_pct: 70,
            bag_step_pct: 5,
            min_count: 3,
            target_kn: (2, 5),
            max_iters: 6,
            rel_pct: 10,
            base_pct: 50,
        }
    }

    /// EleutherAI's port: coarse 30%, neurons shared by more than half of the prompts,
    /// strict comparisons, no adaptation, linspace steps.
    pub fn eleuther() -> Self {
        Self {
            ig: IgConfig {
                steps: 20,
                rule: crate::attribution::IgRule::Linspace,
            },
            coarse_pct: 30,
            strict: true,
            bag_pct: 50,
            bag_step_pct: 0,
            min_count: 1,
            max_iters: 1,
            ..Self::dai()
        }
    }

    /// Ours (the default): Dai's settings with the floor lowered from 3 to 2, so the
    /// adaptive loosening can act on 4-prompt bags (it reaches `q = 50`, two prompts of
    /// four, after four steps). The smoke pilot (`examples/fr_pilot.rs`, results in
    /// docs/papers/factual-recall.md) left no fact without KNs under either floor: the loop
    /// tightened there, so the two floors gave the same sets.
    pub fn ours() -> Self {
        Self {
            min_count: 2,
            ..Self::dai()
        }
    }

    /// Checks the percentages and the step count.
    ///
    /// # Errors
    /// A percentage above 100 or `m = 0`.
    pub fn check(&self) -> Result<(), KnError> {
        for (what, value) in [
            ("coarse_pct", self.coarse_pct),
            ("bag_pct", self.bag_pct),
            ("rel_pct", self.rel_pct),
            ("base_pct", self.base_pct),
        ] {
            check_pct(what, value)?;
        }
        if self.ig.steps == 0 {
            return Err(KnError::ZeroSteps);
        }
        Ok(())
    }
}

impl Default for KnConfig {
    fn default() -> Self {
        Self::ours()
    }
}

fn check_pct(what: &'static str, value: u32) -> Result<(), KnError> {
    if value > 100 {
        return Err(KnError::Percentage { what, value });
    }
    Ok(())
}

/// `lhs ≥ rhs`, or `lhs > rhs` when `strict`.
fn passes<T: PartialOrd>(lhs: T, rhs: T, strict: bool) -> bool {
    if strict { lhs > rhs } else { lhs >= rhs }
}

/// Neurons whose score is at least `pct` percent of the maximum over every layer and neuron
/// (`>` when `strict`); none when the maximum is `≤ 0`; scores `≤ 0` never pass.
///
/// # Shapes
/// - `scores`: `[n_layers][d_ff]` (attributions, or activations for the base sets)
///
/// # Errors
/// `pct > 100`.
pub fn coarse_neurons(scores: &[Vec<f32>], pct: u32, strict: bool) -> Result<Vec<Neuron>, KnError> {
    check_pct("coarse_pct", pct)?;
    let max = scores
        .iter()
        .flatten()
        .copied()
        .filter(|x| !x.is_nan())
        .fold(f32::NEG_INFINITY, f32::max);
    if max.is_nan() || max <= 0.0 {
        return Ok(Vec::new());
    }
    // f32 × 100 and f32 × p ≤ 100 are exact in f64 (24 + 7 bits < 53).
    let rhs = f64::from(pct) * f64::from(max);
    let mut out = Vec::new();
    for (l, layer) in scores.iter().enumerate() {
        for (i, &a) in layer.iter().enumerate() {
            if a > 0.0 && passes(100.0 * f64::from(a), rhs, strict) {
                out.push(Neuron::new(l, i));
            }
        }
    }
    Ok(out)
}

/// How many of a bag's prompts each neuron is coarse in (a neuron listed twice in one
/// prompt counts once).
pub fn bag_counts(coarse_per_prompt: &[Vec<Neuron>]) -> BTreeMap<Neuron, usize> {
    let mut counts = BTreeMap::new();
    for prompt in coarse_per_prompt {
        let unique: HashSet<Neuron> = prompt.iter().copied().collect();
        for n in unique {
            *counts.entry(n).or_insert(0) += 1;
        }
    }
    counts
}

/// The bag rule: neurons coarse in `count` prompts with `100·count ≥ pct·|bag|` (`>` when
/// `strict`) and `count ≥ min_count`, sorted.
///
/// # Errors
/// An empty bag or `pct > 100`.
pub fn refine_bag(
    coarse_per_prompt: &[Vec<Neuron>],
    pct: u32,
    min_count: usize,
    strict: bool,
) -> Result<Vec<Neuron>, KnError> {
    check_pct("bag_pct", pct)?;
    if coarse_per_prompt.is_empty() {
        return Err(KnError::EmptyBag {
            fact: "(refine_bag)".into(),
        });
    }
    let bag = coarse_per_prompt.len() as u64;
    Ok(bag_counts(coarse_per_prompt)
        .into_iter()
        .filter(|&(_, c)| c >= min_count && passes(100 * c as u64, u64::from(pct) * bag, strict))
        .map(|(n, _)| n)
        .collect())
}

/// The KN sets of one relation after the adaptive loop.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RelationKn {
    /// KN set of each fact, in the order given.
    pub per_fact: Vec<Vec<Neuron>>,
    /// The bag percentage finally used (the same for every fact of the relation).
    pub bag_pct_used: u32,
    /// Evaluations of the bag rule the loop made.
    pub iterations: usize,
    /// Neurons in the KN sets of at least `rel_pct` percent of the facts.
    pub rel_shared: Vec<Neuron>,
}

impl RelationKn {
    /// Facts whose KN set is empty.
    pub fn n_empty(&self) -> usize {
        self.per_fact.iter().filter(|s| s.is_empty()).count()
    }
}

/// Applies the bag rule to every fact of one relation with the adaptive loop (module docs),
/// then finds the relation-shared neurons.
///
/// `coarse[f][k]` is the coarse set of prompt `k` of fact `f`.
///
/// # Errors
/// A fact with an empty bag, or a percentage above 100.
pub fn select_relation(coarse: &[Vec<Vec<Neuron>>], cfg: &KnConfig) -> Result<RelationKn, KnError> {
    cfg.check()?;
    for (f, bag) in coarse.iter().enumerate() {
        if bag.is_empty() {
            return Err(KnError::EmptyBag {
                fact: format!("#{f}"),
            });
        }
    }
    let n = coarse.len();
    let mut pct = cfg.bag_pct;
    let mut iterations = 0;
    let mut sets;
    loop {
        iterations += 1;
        sets = coarse
            .iter()
            .map(|bag| refine_bag(bag, pct, cfg.min_count, cfg.strict))
            .collect::<Result<Vec<_>, _>>()?;
        let total: usize = sets.iter().map(Vec::len).sum();
        if iterations >= cfg.max_iters.max(1) || cfg.bag_step_pct == 0 || n == 0 {
            break;
        }
        if total < cfg.target_kn.0 * n && pct > 0 {
            pct = pct.saturating_sub(cfg.bag_step_pct);
        } else if total > cfg.target_kn.1 * n && pct < 100 {
            pct = (pct + cfg.bag_step_pct).min(100);
        } else {
            break;
        }
    }
    let rel_shared = relation_shared(&sets, cfg.rel_pct)?;
    Ok(RelationKn {
        per_fact: sets,
        bag_pct_used: pct,
        iterations,
        rel_shared,
    })
}

/// Neurons in the KN sets of `100·count ≥ pct·n_facts` facts (`n_facts` counts facts with
/// empty sets too), sorted; none for no facts.
///
/// # Errors
/// `pct > 100`.
pub fn relation_shared(per_fact: &[Vec<Neuron>], pct: u32) -> Result<Vec<Neuron>, KnError> {
    check_pct("rel_pct", pct)?;
    if per_fact.is_empty() {
        return Ok(Vec::new());
    }
    let n = per_fact.len() as u64;
    Ok(bag_counts(per_fact)
        .into_iter()
        .filter(|&(_, c)| c > 0 && 100 * c as u64 >= u64::from(pct) * n)
        .map(|(neuron, _)| neuron)
        .collect())
}

/// Per-layer counts of a neuron set.
///
/// # Shapes
/// - returns `[n_layers]`
pub fn layer_histogram(neurons: &[Neuron], n_layers: usize) -> Vec<usize> {
    let mut h = vec![0; n_layers];
    for n in neurons {
        if let Some(c) = h.get_mut(n.layer as usize) {
            *c += 1;
        }
    }
    h
}

/// A random neuron set matched to `kn`: the same size and per-layer histogram, disjoint
/// from `kn` and `exclude`, and drawn from the same activation range. For each layer with
/// `k` neurons of `kn`, whose activations (`activations[layer][i]`, for instance the mean
/// over the fact's bag at the target position) span `[lo, hi]`, the `k` neurons are drawn
/// without replacement from the free neurons of that layer inside `[lo, hi]`; when fewer
/// than `k` are inside, the free neurons nearest to the interval complete the pool (ties by
/// index). Deterministic given `rng`.
///
/// # Shapes
/// - `activations`: `[n_layers][d_ff]`
///
/// # Errors
/// A neuron outside `activations`, or a layer with fewer than `k` free neurons.
pub fn matched_random(
    kn: &[Neuron],
    exclude: &HashSet<Neuron>,
    activations: &[Vec<f32>],
    rng: &mut SplitMix64,
) -> Result<Vec<Neuron>, KnError> {
    let mut by_layer: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
    for n in kn {
        let (l, i) = (n.layer as usize, n.index as usize);
        let d_ff = activations
            .get(l)
            .map(Vec::len)
            .ok_or(KnError::LayerOutOfRange {
                layer: l,
                n_layers: activations.len(),
            })?;
        if i >= d_ff {
            return Err(KnError::NeuronOutOfRange {
                layer: l,
                index: i,
                d_ff,
            });
        }
        by_layer.entry(l).or_default().push(i);
    }
    let taken: HashSet<Neuron> = kn.iter().chain(exclude).copied().collect();
    let mut out = Vec::with_capacity(kn.len());
    for (l, idx) in by_layer {
        let idx: Vec<usize> = idx
            .into_iter()
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect();
        let acts = &activations[l];
        let (lo, hi) = idx
            .iter()
            .fold((f32::INFINITY, f32::NEG_INFINITY), |(lo, hi), &i| {
                (lo.min(acts[i]), hi.max(acts[i]))
            });
        let free: Vec<usize> = (0..acts.len())
            .filter(|&i| !taken.contains(&Neuron::new(l, i)))
            .collect();
        let k = idx.len();
        if free.len() < k {
            return Err(KnError::TooFewNeurons {
                layer: l,
                available: free.len(),
                needed: k,
            });
        }
        let distance = |i: usize| {
            let a = acts[i];
            if a < lo {
                lo - a
            } else if a > hi {
                a - hi
            } else {
                0.0
            }
        };
        let mut pool: Vec<usize> = free
            .iter()
            .copied()
            .filter(|&i| distance(i) == 0.0)
            .collect();
        if pool.len() < k {
            let mut outside: Vec<usize> = free
                .iter()
                .copied()
                .filter(|&i| distance(i) > 0.0)
                .collect();
            outside.sort_by(|&a, &b| distance(a).total_cmp(&distance(b)).then(a.cmp(&b)));
            pool.extend(outside.into_iter().take(k - pool.len()));
        }
        // Partial Fisher–Yates: the first k of a seeded shuffle.
        for j in 0..k {
            let r = j + rng.below(pool.len() - j);
            pool.swap(j, r);
            out.push(Neuron::new(l, pool[j]));
        }
    }
    out.sort_unstable();
    Ok(out)
}

/// Mean activation of `kn` in one position's activations.
///
/// # Shapes
/// - `activations`: `[n_layers][d_ff]`
///
/// Returns NaN for an empty set (and for a neuron outside `activations`).
pub fn kn_mean(activations: &[Vec<f32>], kn: &[Neuron]) -> f32 {
    if kn.is_empty() {
        return f32::NAN;
    }
    let sum: f64 = kn
        .iter()
        .map(|n| {
            activations
                .get(n.layer as usize)
                .and_then(|l| l.get(n.index as usize))
                .map_or(f64::NAN, |&a| f64::from(a))
        })
        .sum();
    (sum / kn.len() as f64) as f32
}

/// The reference activation of a fact: the mean over its bag's prompts of [`kn_mean`] at
/// each prompt's target position.
///
/// # Shapes
/// - `bag_activations`: `[prompts][n_layers][d_ff]`
pub fn reference_activation(bag_activations: &[Vec<Vec<f32>>], kn: &[Neuron]) -> f32 {
    if bag_activations.is_empty() {
        return f32::NAN;
    }
    let s: f64 = bag_activations
        .iter()
        .map(|a| f64::from(kn_mean(a, kn)))
        .sum();
    (s / bag_activations.len() as f64) as f32
}

/// Below this reference activation the KN score is undefined (GELU activations can be
/// negative or near zero, and ratios of them are then meaningless).
pub const MIN_REFERENCE: f32 = 1e-3;

/// The KN score of the 2024 paper (our operationalisation): `value / reference`, `None` when
/// `reference ≤ 1e-3` or either is NaN.
pub fn kn_score(value: f32, reference: f32) -> Option<f32> {
    if value.is_nan() || reference.is_nan() || reference <= MIN_REFERENCE {
        None
    } else {
        Some(value / reference)
    }
}

/// The attributions and activations of one fact's bag.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BagScores {
    /// `[prompts][n_layers][d_ff]` integrated-gradients attributions.
    pub attributions: Vec<Vec<Vec<f32>>>,
    /// `[prompts][n_layers][d_ff]` activations at the target positions.
    pub activations: Vec<Vec<Vec<f32>>>,
}

/// One fact's paraphrase prompts and its object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FactBag {
    /// A name for messages and reports (`lives_in(P3)`).
    pub name: String,
    /// The prompts (each ends where the object is predicted).
    pub prompts: Vec<Vec<u32>>,
    /// The object token.
    pub gold: u32,
}

/// Attributions (every layer) and activations of every prompt of a bag, in one batched pass.
///
/// # Errors
/// An empty bag, or what [`ig_batch`] rejects.
pub fn attribute_bag<M: FfnModel + ?Sized>(
    model: &M,
    bag: &FactBag,
    ig: &IgConfig,
) -> Result<BagScores, KnError> {
    if bag.prompts.is_empty() {
        return Err(KnError::EmptyBag {
            fact: bag.name.clone(),
        });
    }
    let targets: Vec<Target> = bag
        .prompts
        .iter()
        .map(|p| Target::last(p.clone(), bag.gold))
        .collect();
    let layers: Vec<usize> = (0..model.n_layers()).collect();
    let attributions = ig_batch(model, &targets, &layers, ig)?;
    let at: Vec<(usize, usize)> = targets
        .iter()
        .enumerate()
        .map(|(i, t)| (i, t.pos))
        .collect();
    let activations = crate::attribution::activations_at(model, &bag.prompts, &at)?;
    Ok(BagScores {
        attributions,
        activations,
    })
}

/// The KN sets of one relation, its relation-shared neurons, and the activation-based
/// "base" sets beside them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KnSets {
    /// From attributions.
    pub ig: RelationKn,
    /// From activation magnitudes (coarse `base_pct`).
    pub base: RelationKn,
}

/// Coarse sets of every prompt of every bag, from attributions (`activations = false`,
/// threshold `coarse_pct`) or activations (`true`, threshold `base_pct`).
///
/// # Errors
/// A percentage above 100.
pub fn coarse_sets(
    scores: &[BagScores],
    cfg: &KnConfig,
    activations: bool,
) -> Result<Vec<Vec<Vec<Neuron>>>, KnError> {
    scores
        .iter()
        .map(|s| {
            let (arr, pct) = if activations {
                (&s.activations, cfg.base_pct)
            } else {
                (&s.attributions, cfg.coarse_pct)
            };
            arr.iter()
                .map(|p| coarse_neurons(p, pct, cfg.strict))
                .collect()
        })
        .collect()
}

/// Knowledge neurons of one relation: attribution of every bag, then [`select_relation`] on
/// attributions and on activations.
///
/// # Errors
/// An empty bag, a bad configuration, or what [`ig_batch`] rejects.
pub fn knowledge_neurons<M: FfnModel + ?Sized>(
    model: &M,
    relation_bags: &[FactBag],
    cfg: &KnConfig,
) -> Result<KnSets, KnError> {
    cfg.check()?;
    let scores = relation_bags
        .iter()
        .map(|b| attribute_bag(model, b, &cfg.ig))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(KnSets {
        ig: select_relation(&coarse_sets(&scores, cfg, false)?, cfg)?,
        base: select_relation(&coarse_sets(&scores, cfg, true)?, cfg)?,
    })
}

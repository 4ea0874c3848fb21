//! Evaluating a trained decoder on its knowledge base: single-hop greedy accuracy over every
//! template, and two-hop answers with and without chain of thought, optionally under
//! knowledge-neuron edits and after a context sentence.
//!
//! A direct query is answered by the next token. A chain-of-thought query is answered by
//! greedy decoding of three tokens (`bridge so answer`) and judged on the third, after the
//! model's own bridge; [`TwoHopOutcome::gold_bridge_correct`] gives the answer after the
//! gold bridge instead.

use serde::{Deserialize, Serialize};

use crate::attribution::FfnModel;
use crate::edit::{Intervention, Probe, greedy_decode, next_tokens};
use crate::error::KnError;
use crate::kb::{BOS, Form, Kb, Query, Split};

/// Single-hop greedy accuracy over every fact and template, overall and per relation.
///
/// # Errors
/// What [`next_tokens`] rejects.
pub fn single_hop_accuracy<M: FfnModel + ?Sized>(
    model: &M,
    kb: &Kb,
) -> Result<(f64, Vec<(String, f64)>), KnError> {
    let mut probes = Vec::new();
    let mut rel_of = Vec::new();
    for (r, rel) in kb.relations.iter().enumerate() {
        for f in &rel.facts {
            for t in &rel.templates {
                let mut ids = vec![BOS];
                ids.extend(t.fill(f.subject));
                probes.push(Probe::last(ids, f.object));
                rel_of.push(r);
            }
        }
    }
    let pred = next_tokens(model, &probes, &[])?;
    let mut hit = vec![(0usize, 0usize); kb.relations.len()];
    for ((p, n), &r) in probes.iter().zip(&pred).zip(&rel_of) {
        hit[r].1 += 1;
        if n.argmax == p.gold {
            hit[r].0 += 1;
        }
    }
    let total: usize = hit.iter().map(|h| h.1).sum();
    let correct: usize = hit.iter().map(|h| h.0).sum();
    let per = kb
        .relations
        .iter()
        .zip(&hit)
        .map(|(r, h)| (r.name.clone(), h.0 as f64 / h.1.max(1) as f64))
        .collect();
    Ok((correct as f64 / total.max(1) as f64, per))
}

/// One two-hop query's outcome.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TwoHopOutcome {
    /// The query.
    pub query: Query,
    /// Tokens generated (1 direct, 3 with chain of thought).
    pub generated: Vec<u32>,
    /// The final answer token is the true answer.
    pub correct: bool,
    /// Chain of thought: the generated bridge is the true one.
    pub bridge_correct: Option<bool>,
    /// Chain of thought: the answer after the gold bridge and `so` is the true one.
    pub gold_bridge_correct: Option<bool>,
}

impl TwoHopOutcome {
    /// The final answer token (`None` if decoding stopped short).
    pub fn answer(&self) -> Option<u32> {
        match self.query.form {
            Form::NoCot(_) => self.generated.first().copied(),
            Form::Cot => self.generated.get(2).copied(),
        }
    }

    /// Position of the answer prediction: the last prompt position (direct) or the
    /// position of the generated `so` (chain of thought).
    pub fn answer_pos(&self) -> usize {
        match self.query.form {
            Form::NoCot(_) => self.query.prompt.len() - 1,
            Form::Cot => self.query.prompt.len() + 1,
        }
    }

    /// The prompt followed by the generated tokens.
    pub fn sequence(&self) -> Vec<u32> {
        let mut s = self.query.prompt.clone();
        s.extend(&self.generated);
        s
    }
}

/// Answers `queries` by greedy decoding under per-query `edits` (see
/// [`crate::edit::next_tokens`] for the broadcasting rule); with `gold_bridge`, also the
/// chain-of-thought answer after the gold bridge (unedited).
///
/// # Errors
/// What [`greedy_decode`] and [`next_tokens`] reject.
pub fn answer_two_hop<M: FfnModel + ?Sized>(
    model: &M,
    kb: &Kb,
    queries: &[Query],
    edits: &[Vec<Intervention>],
    gold_bridge: bool,
) -> Result<Vec<TwoHopOutcome>, KnError> {
    let n_new = |q: &Query| match q.form {
        Form::NoCot(_) => 1,
        Form::Cot => 3,
    };
    let mut out: Vec<Option<TwoHopOutcome>> = vec![None; queries.len()];
    for n in [1, 3] {
        let idx: Vec<usize> = (0..queries.len())
            .filter(|&i| n_new(&queries[i]) == n)
            .collect();
        if idx.is_empty() {
            continue;
        }
        let prompts: Vec<Vec<u32>> = idx.iter().map(|&i| queries[i].prompt.clone()).collect();
        let lists: Vec<Vec<Intervention>> = match edits.len() {
            0 => vec![],
            1 => edits.to_vec(),
            _ => idx.iter().map(|&i| edits[i].clone()).collect(),
        };
        let decoded = greedy_decode(model, &prompts, n, &lists)?;
        for (&i, g) in idx.iter().zip(decoded) {
            let q = &queries[i];
            let mut o = TwoHopOutcome {
                query: q.clone(),
                generated: g,
                correct: false,
                bridge_correct: None,
                gold_bridge_correct: None,
            };
            o.correct = o.answer() == Some(q.answer);
            if q.form == Form::Cot {
                o.bridge_correct = Some(o.generated.first() == Some(&q.bridge));
            }
            out[i] = Some(o);
        }
    }
    let mut out: Vec<TwoHopOutcome> = out.into_iter().flatten().collect();
    if gold_bridge {
        let cot: Vec<usize> = (0..out.len())
            .filter(|&i| out[i].query.form == Form::Cot)
            .collect();
        let probes: Vec<Probe> = cot
            .iter()
            .map(|&i| {
                let q = &out[i].query;
                let mut ids = q.prompt.clone();
                ids.extend([q.bridge, kb.so()]);
                Probe::last(ids, q.answer)
            })
            .collect();
        let pred = next_tokens(model, &probes, &[])?;
        for (&i, p) in cot.iter().zip(pred) {
            out[i].gold_bridge_correct = Some(p.argmax == out[i].query.answer);
        }
    }
    Ok(out)
}

/// Accuracy of a set of outcomes (NaN for none).
pub fn accuracy<'a>(outcomes: impl IntoIterator<Item = &'a TwoHopOutcome>) -> f64 {
    let (mut n, mut k) = (0usize, 0usize);
    for o in outcomes {
        n += 1;
        k += usize::from(o.correct);
    }
    if n == 0 {
        f64::NAN
    } else {
        k as f64 / n as f64
    }
}

/// Two-hop accuracies of a trained model, by form and split.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TwoHopAccuracy {
    /// Chain of thought, memorised persons.
    pub cot_memorised: f64,
    /// Chain of thought, held-out persons.
    pub cot_held_out: f64,
    /// Chain of thought after the gold bridge, memorised.
    pub cot_gold_bridge_memorised: f64,
    /// Chain of thought after the gold bridge, held-out.
    pub cot_gold_bridge_held_out: f64,
    /// Chain of thought, share of generated bridges that are right (held-out).
    pub cot_bridge_held_out: f64,
    /// Direct, memorised (both templates).
    pub nocot_memorised: f64,
    /// Direct, held-out (both templates).
    pub nocot_held_out: f64,
    /// Direct, memorised, per direct template.
    pub nocot_memorised_per_template: Vec<f64>,
    /// Direct, held-out, per direct template.
    pub nocot_held_out_per_template: Vec<f64>,
}

/// Every person's direct and chain-of-thought queries, answered without edits.
///
/// # Errors
/// What [`answer_two_hop`] rejects.
pub fn two_hop_accuracy<M: FfnModel + ?Sized>(
    model: &M,
    kb: &Kb,
) -> Result<TwoHopAccuracy, KnError> {
    let mut queries = Vec::new();
    for &p in &kb.persons {
        for f in crate::train::forms(kb) {
            queries.push(kb.query(p, f, None));
        }
    }
    let out = answer_two_hop(model, kb, &queries, &[], true)?;
    let sel = |cot: bool, split: Split| {
        out.iter().filter(move |o| {
            (o.query.form == Form::Cot) == cot && kb.split_of(o.query.person) == Some(split)
        })
    };
    let share = |it: &mut dyn Iterator<Item = bool>| {
        let v: Vec<bool> = it.collect();
        v.iter().filter(|&&b| b).count() as f64 / v.len().max(1) as f64
    };
    Ok(TwoHopAccuracy {
        cot_memorised: accuracy(sel(true, Split::Memorised)),
        cot_held_out: accuracy(sel(true, Split::HeldOut)),
        cot_gold_bridge_memorised: share(
            &mut sel(true, Split::Memorised).map(|o| o.gold_bridge_correct == Some(true)),
        ),
        cot_gold_bridge_held_out: share(
            &mut sel(true, Split::HeldOut).map(|o| o.gold_bridge_correct == Some(true)),
        ),
        cot_bridge_held_out: share(
            &mut sel(true, Split::HeldOut).map(|o| o.bridge_correct == Some(true)),
        ),
        nocot_memorised: accuracy(sel(false, Split::Memorised)),
        nocot_held_out: accuracy(sel(false, Split::HeldOut)),
        nocot_memorised_per_template: (0..kb.two_hop.nocot.len())
            .map(|t| {
                accuracy(sel(false, Split::Memorised).filter(|o| o.query.form == Form::NoCot(t)))
            })
            .collect(),
        nocot_held_out_per_template: (0..kb.two_hop.nocot.len())
            .map(|t| {
                accuracy(sel(false, Split::HeldOut).filter(|o| o.query.form == Form::NoCot(t)))
            })
            .collect(),
    })
}

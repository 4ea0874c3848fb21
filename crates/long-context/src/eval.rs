//! Evaluating a model family: PPL, LongPPL (evaluator and oracle key sets), key-token
//! fidelity against the generator's ground truth, and retrieval accuracy by distance.

use burn::tensor::{Bool, Device, Int, Tensor, TensorData};
use repro_core::lm::{CausalLm, ContextWindow, gather_logprobs};
use repro_core::nn::decoder::{AttnMask, Decoder};
use serde::{Deserialize, Serialize};

use crate::config::ExperimentConfig;
use crate::kvdocs::{FillerChain, KvDoc, RetrievalPrompt, TokenRole, retrieval_prompts};
use crate::metrics::{PplPair, key_token_mask, long_short_difference, ppl_pairs};

/// Documents are scored in groups of this many (bounds memory of truncated windows).
const GROUP: usize = 20;

/// Ids of documents as a tensor.
///
/// # Shapes
/// - returns `[docs.len(), T]`
pub fn docs_tensor(docs: &[&KvDoc], device: &Device) -> Tensor<2, Int> {
    let t = docs[0].ids.len();
    let ids: Vec<i64> = docs
        .iter()
        .flat_map(|d| d.ids.iter().map(|&x| i64::from(x)))
        .collect();
    Tensor::from_data(TensorData::new(ids, [docs.len(), t]), device)
}

/// Full-context log-probs of every target under `mask`.
///
/// # Shapes
/// - `ids`: `[batch, T]` -> `[batch, T - 1]`
pub fn logprobs_under(model: &Decoder, mask: &AttnMask, ids: Tensor<2, Int>) -> Tensor<2> {
    let [b, t] = ids.dims();
    let logits = model.logits(ids.clone().slice([0..b, 0..t - 1]), 0, mask);
    gather_logprobs(logits, ids.slice([0..b, 1..t]))
}

/// Key flags (per target, documents concatenated) chosen by an evaluator.
pub fn evaluator_keys(
    evaluator: &Decoder,
    docs: &[KvDoc],
    window: ContextWindow,
    alpha: f64,
    beta: f64,
    device: &Device,
) -> Vec<bool> {
    let mut out = Vec::new();
    for group in docs.chunks(GROUP) {
        let refs: Vec<&KvDoc> = group.iter().collect();
        let x = long_short_difference(evaluator, docs_tensor(&refs, device), window);
        out.extend(key_token_mask(&x, alpha, beta).into_data().iter::<bool>());
    }
    out
}

/// Ground-truth flags per target (`role[i]` for targets `i = 1..T`).
pub fn target_flags(docs: &[KvDoc], f: impl Fn(&TokenRole) -> bool) -> Vec<bool> {
    docs.iter()
        .flat_map(|d| d.role[1..].iter().map(&f))
        .collect()
}

/// Agreement of selected key tokens with the generator's ground truth.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub struct KeyFidelity {
    /// Share of strict ground-truth targets selected.
    pub recall_strict: f64,
    /// Share of selected targets in the broad ground truth.
    pub precision_broad: f64,
    /// Share of near-query values selected (short-context control).
    pub near_values_flagged: f64,
    /// Share of all targets selected.
    pub key_fraction: f64,
}

/// Compares key flags with the documents' ground truth.
pub fn key_fidelity(keys: &[bool], docs: &[KvDoc]) -> KeyFidelity {
    let strict = target_flags(docs, |r| matches!(r, TokenRole::QueryValue { far: true }));
    let broad = target_flags(docs, |r| {
        matches!(
            r,
            TokenRole::QueryValue { far: true } | TokenRole::QueryKey { far: true }
        )
    });
    let near = target_flags(docs, |r| matches!(r, TokenRole::QueryValue { far: false }));
    let count = |a: &[bool], b: &[bool]| a.iter().zip(b).filter(|(x, y)| **x && **y).count() as f64;
    let n = |a: &[bool]| a.iter().filter(|x| **x).count() as f64;
    KeyFidelity {
        recall_strict: count(keys, &strict) / n(&strict).max(1.0),
        precision_broad: if n(keys) > 0.0 {
            count(keys, &broad) / n(keys)
        } else {
            f64::NAN
        },
        near_values_flagged: count(keys, &near) / n(&near).max(1.0),
        key_fraction: n(keys) / keys.len().max(1) as f64,
    }
}

/// Distance buckets of the retrieval benchmark: near `[11, s-1]`, far `[s+8, 2s)`,
/// `[2s, 4s)`, `[4s, T-12]` (empty buckets dropped).
pub fn buckets(cfg: &ExperimentConfig) -> Vec<(String, (usize, usize), bool)> {
    let (s, t) = (cfg.docs.short, cfg.docs.len);
    let mut v = vec![(format!("near {}-{}", 11, s - 1), (11, s - 1), false)];
    for (lo, hi) in [(s + 8, 2 * s - 1), (2 * s, 4 * s - 1), (4 * s, t - 12)] {
        let hi = hi.min(t - 12);
        if lo <= hi {
            v.push((format!("far {lo}-{hi}"), (lo, hi), true));
        }
    }
    v
}

/// Greedy two-token answers to retrieval prompts, exact-match accuracy.
// `step` is both the decoding step and the answer slot it fills.
#[allow(clippy::needless_range_loop)]
pub fn retrieval_accuracy(
    model: &Decoder,
    mask: &AttnMask,
    prompts: &[RetrievalPrompt],
    device: &Device,
) -> f64 {
    let mut correct = 0usize;
    for group in prompts.chunks(50) {
        let n = group.len();
        let t = group[0].ids.len();
        let mut ids: Vec<i64> = group
            .iter()
            .flat_map(|p| p.ids.iter().map(|&x| i64::from(x)))
            .collect();
        let mut answers = vec![[0i64; 2]; n];
        for step in 0..2 {
            let len = t + step;
            let x = Tensor::<2, Int>::from_data(TensorData::new(ids.clone(), [n, len]), device);
            let logits = model.logits(x, 0, mask);
            let [_, _, v] = logits.dims();
            let next: Vec<i64> = logits
                .slice([0..n, len - 1..len])
                .reshape([n, v])
                .argmax(1)
                .into_data()
                .iter::<i64>()
                .collect();
            let mut grown = Vec::with_capacity(n * (len + 1));
            for (k, row) in ids.chunks(len).enumerate() {
                grown.extend_from_slice(row);
                grown.push(next[k]);
                answers[k][step] = next[k];
            }
            ids = grown;
        }
        correct += group
            .iter()
            .zip(&answers)
            .filter(|(p, a)| i64::from(p.answer[0]) == a[0] && i64::from(p.answer[1]) == a[1])
            .count();
    }
    correct as f64 / prompts.len().max(1) as f64
}

/// Everything measured for one family member.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MemberEval {
    /// Member name.
    pub name: String,
    /// Perplexity over every target.
    pub ppl: f64,
    /// LongPPL with the evaluator's key set (`None` when it selected nothing).
    pub long_ppl: Option<f64>,
    /// LongPPL with the ground-truth key set.
    pub long_ppl_oracle: Option<f64>,
    /// Mean NLL over filler targets (the model's quality axis).
    pub filler_nll: f64,
    /// Accuracy per retrieval bucket, in [`buckets`] order.
    pub bucket_acc: Vec<f64>,
    /// Mean accuracy over buckets.
    pub score: f64,
    /// Mean accuracy over far buckets.
    pub far_acc: f64,
}

/// Retrieval prompts per bucket, fixed by `seed`.
pub fn bucket_prompts(
    cfg: &ExperimentConfig,
    chain: &FillerChain,
    seed: u64,
) -> anyhow::Result<Vec<Vec<RetrievalPrompt>>> {
    buckets(cfg)
        .iter()
        .enumerate()
        .map(|(k, (_, range, _))| {
            Ok(retrieval_prompts(
                cfg.docs.len,
                cfg.eval.retrieval_records,
                *range,
                chain,
                cfg.eval.prompts_per_bucket,
                seed * 31 + k as u64,
            )?)
        })
        .collect()
}

/// Retrieval accuracy per bucket, their mean (`score`) and the far mean (`far_acc`).
pub fn retrieval_scores(
    model: &Decoder,
    mask: &AttnMask,
    cfg: &ExperimentConfig,
    prompts: &[Vec<RetrievalPrompt>],
    device: &Device,
) -> (Vec<f64>, f64, f64) {
    let accs: Vec<f64> = prompts
        .iter()
        .map(|p| retrieval_accuracy(model, mask, p, device))
        .collect();
    let b = buckets(cfg);
    let far: Vec<f64> = accs
        .iter()
        .zip(&b)
        .filter(|(_, b)| b.2)
        .map(|(a, _)| *a)
        .collect();
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len().max(1) as f64;
    (accs.clone(), mean(&accs), mean(&far))
}

/// Evaluates one member on documents with a fixed key set and the retrieval prompts.
#[allow(clippy::too_many_arguments)]
pub fn evaluate_member(
    name: &str,
    model: &Decoder,
    mask: &AttnMask,
    docs: &[KvDoc],
    keys: &[bool],
    cfg: &ExperimentConfig,
    prompts: &[Vec<RetrievalPrompt>],
    device: &Device,
) -> MemberEval {
    let oracle = target_flags(docs, |r| matches!(r, TokenRole::QueryValue { far: true }));
    let filler = target_flags(docs, |r| matches!(r, TokenRole::Filler));
    let mut lps = Vec::new();
    for group in docs.chunks(GROUP) {
        let refs: Vec<&KvDoc> = group.iter().collect();
        lps.extend(
            logprobs_under(model, mask, docs_tensor(&refs, device))
                .into_data()
                .iter::<f32>(),
        );
    }
    let n = lps.len();
    let as_tensor = |v: Vec<f32>| Tensor::<2>::from_data(TensorData::new(v, [1, n]), device);
    let as_mask =
        |v: &[bool]| Tensor::<2, Bool>::from_data(TensorData::new(v.to_vec(), [1, n]), device);
    let pooled = |k: &[bool]| -> PplPair { ppl_pairs(as_tensor(lps.clone()), as_mask(k))[0] };
    let with_keys = pooled(keys);
    let with_oracle = pooled(&oracle);
    let filler_pair = pooled(&filler);
    let (bucket_acc, score, far_acc) = retrieval_scores(model, mask, cfg, prompts, device);
    MemberEval {
        name: name.into(),
        ppl: with_keys.ppl().unwrap_or(f64::NAN),
        long_ppl: with_keys.long_ppl().ok(),
        long_ppl_oracle: with_oracle.long_ppl().ok(),
        filler_nll: filler_pair.key.mean().unwrap_or(f64::NAN),
        bucket_acc,
        score,
        far_acc,
    }
}

//! LongPPL's key tokens, LongPPL itself and the LongCE loss (Fang et al., ICLR 2025,
//! PKU-ML/LongPPL: `longppl/longppl.py`, `finetune/finetune.py`).
//!
//! For target `i` with long context `l_i` and short context `s_i`, in nats:
//!
//! ```text
//! LSD(x_i) = log P(x_i | l_i) - log P(x_i | s_i)        LCL(x_i) = log P(x_i | l_i)
//! key(x_i) = LSD > alpha  and  LCL > beta               (strict; alpha = 2, beta = -2)
//! LongPPL  = exp(-sum_i key_i log P(x_i | l_i) / sum_i key_i)
//! w_i      = min(P(x_i | l_i) / P(x_i | s_i), gamma)    (gamma = 5, no gradient)
//! LongCE   = mean_i w_i * (-log P(x_i | l_i))            (a plain mean, not divided by sum w)
//! ```

use burn::tensor::{Bool, Int, Tensor};
use repro_core::lm::{ContextWindow, NllSum, TokenLogProbs, gather_logprobs};

/// Settings of key-token selection.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct KeyTokenConfig {
    /// Threshold on the long-short difference, nats (2.0 upstream).
    pub alpha: f64,
    /// Threshold on the long-context log-probability, nats (-2.0 upstream).
    pub beta: f64,
    /// The short context.
    pub window: ContextWindow,
}

/// Long-short difference and long-context log-likelihood of every target.
#[derive(Debug, Clone)]
pub struct LsdLcl {
    /// `LSD`, `[batch, T - 1]`.
    pub lsd: Tensor<2>,
    /// `LCL`, `[batch, T - 1]`.
    pub lcl: Tensor<2>,
}

/// LSD and LCL of `ids` under `lm` with short context `window`.
///
/// # Shapes
/// - `ids`: `[batch, T]` -> both outputs `[batch, T - 1]`
pub fn long_short_difference(
    lm: &impl TokenLogProbs,
    ids: Tensor<2, Int>,
    window: ContextWindow,
) -> LsdLcl {
    let long = lm.token_logprobs(ids.clone(), ContextWindow::Full);
    let short = lm.token_logprobs(ids, window);
    LsdLcl {
        lsd: long.clone() - short,
        lcl: long,
    }
}

/// `LSD > alpha and LCL > beta`, elementwise.
///
/// # Shapes
/// - returns `[batch, T - 1]`, true for key targets
pub fn key_token_mask(x: &LsdLcl, alpha: f64, beta: f64) -> Tensor<2, Bool> {
    x.lsd
        .clone()
        .greater_elem(alpha)
        .bool_and(x.lcl.clone().greater_elem(beta))
}

/// Key tokens of `ids` judged by `evaluator`.
pub fn find_key_tokens(
    evaluator: &impl TokenLogProbs,
    ids: Tensor<2, Int>,
    cfg: &KeyTokenConfig,
) -> Tensor<2, Bool> {
    key_token_mask(
        &long_short_difference(evaluator, ids, cfg.window),
        cfg.alpha,
        cfg.beta,
    )
}

/// NLL sums of one document over all targets and over key targets.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct PplPair {
    /// Every target.
    pub all: NllSum,
    /// Key targets only.
    pub key: NllSum,
}

impl PplPair {
    /// Pools two documents (token-weighted, as the corrected upstream code aggregates).
    pub fn merge(self, o: PplPair) -> PplPair {
        PplPair {
            all: self.all.merge(o.all),
            key: self.key.merge(o.key),
        }
    }

    /// Perplexity over every target.
    pub fn ppl(&self) -> Option<f64> {
        self.all.ppl()
    }

    /// LongPPL, or an error saying no token was key (upstream prints "No key tokens!" and
    /// skips the document).
    pub fn long_ppl(&self) -> Result<f64, NoKeyTokens> {
        self.key.ppl().ok_or(NoKeyTokens {
            scored: self.all.count,
        })
    }
}

/// LongPPL is undefined when no target passes the thresholds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error(
    "no key tokens among {scored} scored targets: LongPPL is undefined (lower alpha, or use a \
     longer document or a stronger evaluator)"
)]
pub struct NoKeyTokens {
    /// Targets scored.
    pub scored: u64,
}

/// Per-document NLL sums of `logprobs` (the evaluated model's full-context log-probs)
/// over all targets and over `key` targets.
///
/// # Shapes
/// - `logprobs`, `key`: `[batch, T - 1]` -> `batch` pairs
pub fn ppl_pairs(logprobs: Tensor<2>, key: Tensor<2, Bool>) -> Vec<PplPair> {
    let [b, n] = logprobs.dims();
    let lp: Vec<f32> = logprobs.into_data().iter::<f32>().collect();
    let k: Vec<bool> = key.into_data().iter::<bool>().collect();
    (0..b)
        .map(|row| {
            let mut p = PplPair::default();
            for j in row * n..(row + 1) * n {
                p.all.add_logprob(f64::from(lp[j]));
                if k[j] {
                    p.key.add_logprob(f64::from(lp[j]));
                }
            }
            p
        })
        .collect()
}

/// LongCE weights `min(exp(LSD), gamma)` of `model` on `ids`, detached (constants).
///
/// Targets whose short context equals their full context get weight 1.
///
/// # Shapes
/// - `ids`: `[batch, T]` -> `[batch, T - 1]`
pub fn longce_weights(
    model: &impl TokenLogProbs,
    ids: Tensor<2, Int>,
    gamma: f64,
    window: ContextWindow,
) -> Tensor<2> {
    long_short_difference(model, ids, window)
        .lsd
        .exp()
        .clamp_max(gamma)
        .detach()
}

/// The LongCE loss from full-context logits and weights; with all weights 1 it is the
/// mean cross-entropy.
///
/// # Shapes
/// - `logits`: `[batch, T - 1, vocab]` (predictions for targets `1..T`), `ids`: `[batch, T]`,
///   `weights`: `[batch, T - 1]` -> scalar `[1]`
pub fn longce_loss(logits: Tensor<3>, ids: Tensor<2, Int>, weights: Tensor<2>) -> Tensor<1> {
    let [b, t] = ids.dims();
    let nll = -gather_logprobs(logits, ids.slice([0..b, 1..t]));
    (weights * nll).mean()
}

/// Errors of corpus-level LongPPL.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LongPplError {
    /// No documents were given.
    #[error("empty corpus: LongPPL needs at least one document")]
    EmptyCorpus,
    /// A document cannot have a long context longer than its short one.
    #[error(
        "document {doc} has {len} tokens, but a short context of {window} needs at least {needed}"
    )]
    TooShort {
        /// Index of the document.
        doc: usize,
        /// Its length.
        len: usize,
        /// The short context.
        window: usize,
        /// The minimum length.
        needed: usize,
    },
    /// No target of the corpus was key.
    #[error(transparent)]
    NoKeyTokens(#[from] NoKeyTokens),
}

/// Corpus PPL and LongPPL of `model`, key tokens chosen by `evaluator`, documents pooled
/// token by token.
pub struct CorpusPpl {
    /// Pooled sums.
    pub pooled: PplPair,
    /// Perplexity.
    pub ppl: f64,
    /// LongPPL.
    pub long_ppl: f64,
    /// Documents without key tokens (upstream skips them; they still count in PPL).
    pub docs_without_keys: usize,
}

/// LongPPL of a corpus (documents of any lengths, one forward per document).
pub fn corpus_long_ppl(
    model: &impl TokenLogProbs,
    evaluator: &impl TokenLogProbs,
    docs: &[Vec<u32>],
    cfg: &KeyTokenConfig,
    device: &burn::tensor::Device,
) -> Result<CorpusPpl, LongPplError> {
    if docs.is_empty() {
        return Err(LongPplError::EmptyCorpus);
    }
    let window = match cfg.window {
        ContextWindow::Truncated(s) | ContextWindow::Banded(s) => s,
        ContextWindow::Chunked { trunc_len, .. } => trunc_len,
        ContextWindow::Full => 0,
    };
    let mut pooled = PplPair::default();
    let mut docs_without_keys = 0;
    for (i, d) in docs.iter().enumerate() {
        // A target needs more context than the short window to be a key token.
        let needed = (window + 2).max(2);
        if d.len() < needed {
            return Err(LongPplError::TooShort {
                doc: i,
                len: d.len(),
                window,
                needed,
            });
        }
        let ids = Tensor::<2, Int>::from_data(
            burn::tensor::TensorData::new(
                d.iter().map(|&x| i64::from(x)).collect::<Vec<_>>(),
                [1, d.len()],
            ),
            device,
        );
        let key = find_key_tokens(evaluator, ids.clone(), cfg);
        let pair = ppl_pairs(model.token_logprobs(ids, ContextWindow::Full), key)[0];
        if pair.key.count == 0 {
            docs_without_keys += 1;
        }
        pooled = pooled.merge(pair);
    }
    Ok(CorpusPpl {
        pooled,
        ppl: pooled.ppl().unwrap_or(f64::NAN),
        long_ppl: pooled.long_ppl()?,
        docs_without_keys,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::{Device, TensorData};
    use repro_core::params::flatten_grads;

    fn t2(v: Vec<f32>, shape: [usize; 2]) -> Tensor<2> {
        Tensor::from_data(TensorData::new(v, shape), &Device::flex())
    }

    #[test]
    fn key_rule_is_strict_in_nats() {
        // Columns: LSD exactly alpha; just above both; LCL exactly beta; comfortably key.
        let x = LsdLcl {
            lsd: t2(vec![2.0, 2.0001, 3.0, 5.0], [1, 4]),
            lcl: t2(vec![-1.0, -1.9999, -2.0, -0.5], [1, 4]),
        };
        let k: Vec<bool> = key_token_mask(&x, 2.0, -2.0)
            .into_data()
            .iter::<bool>()
            .collect();
        assert_eq!(k, vec![false, true, false, true]);
    }

    #[test]
    fn longppl_by_hand_and_equal_to_ppl_when_all_key() {
        // Log-probs of a 6-token row (5 targets); keys at targets 2 and 4:
        // LongPPL = exp((0.5 + 1.5) / 2) = e, PPL = exp((0.1+0.5+1+1.5+0.4)/5) = exp(0.7).
        let lp = t2(vec![-0.1, -0.5, -1.0, -1.5, -0.4], [1, 5]);
        let key = t2(vec![0., 1., 0., 1., 0.], [1, 5]).greater_elem(0.5);
        let p = ppl_pairs(lp.clone(), key)[0];
        assert!((p.long_ppl().unwrap() - 1f64.exp()).abs() < 1e-6);
        assert!((p.ppl().unwrap() - 0.7f64.exp()).abs() < 1e-6);
        let all = ppl_pairs(lp.clone(), lp.clone().greater_elem(-10.0))[0];
        assert!((all.long_ppl().unwrap() - all.ppl().unwrap()).abs() < 1e-12);
        let none = ppl_pairs(lp.clone(), lp.greater_elem(0.0))[0];
        let err = none.long_ppl().unwrap_err();
        assert_eq!(err.scored, 5);
        assert!(err.to_string().contains("no key tokens"));
    }

    #[test]
    fn corpus_errors_are_clear() {
        let _rng = repro_core::device::seed_lock(); // Burn's generator is process-wide
        use repro_core::nn::decoder::DecoderConfig;
        let device = Device::flex();
        let m = DecoderConfig::new(8)
            .with_d_model(8)
            .with_n_heads(2)
            .init(&device);
        let cfg = KeyTokenConfig {
            alpha: 2.0,
            beta: -2.0,
            window: ContextWindow::Truncated(4),
        };
        let err = |docs: &[Vec<u32>], cfg: &KeyTokenConfig| {
            corpus_long_ppl(&m, &m, docs, cfg, &device).err().unwrap()
        };
        assert_eq!(err(&[], &cfg), LongPplError::EmptyCorpus);
        let msg = err(&[vec![1; 10], vec![1, 2, 3]], &cfg).to_string();
        assert!(
            msg.contains("document 1 has 3 tokens") && msg.contains("short context of 4"),
            "{msg}"
        );
        // Thresholds no token can pass: a clear error, not a NaN.
        let strict = KeyTokenConfig { alpha: 1e9, ..cfg };
        let msg = err(&[vec![1, 2, 3, 4, 5, 6, 7, 1, 2, 3]], &strict).to_string();
        assert!(
            msg.contains("no key tokens among 9 scored targets"),
            "{msg}"
        );
    }

    #[test]
    fn longce_weights_cap_and_carry_no_gradient() {
        use repro_core::device::{init_params_now, seed, seed_lock};
        use repro_core::lm::CausalLm;
        use repro_core::nn::decoder::{AttnMask, DecoderConfig};
        let _g = seed_lock();
        let device = Device::flex().autodiff();
        seed(&device, 1);
        let m = init_params_now(
            DecoderConfig::new(6)
                .with_d_model(8)
                .with_n_heads(2)
                .with_n_layers(1)
                .init(&device),
        );
        let ids = repro_core::lm::ids_tensor(&[vec![1, 2, 3, 1, 2, 3, 1, 2, 4, 5, 1, 2]], &device);
        // Gamma below 1 exposes the cap: every weight is min(ratio, 0.5) <= 0.5.
        let w = longce_weights(&m, ids.clone(), 0.5, ContextWindow::Truncated(3));
        assert!(w.clone().max().into_scalar::<f32>() <= 0.5);
        // Targets with context <= 3 tokens (i = 1..3) see the same context: weight exactly 1 (then capped).
        let w1 = longce_weights(&m, ids.clone(), 5.0, ContextWindow::Truncated(3));
        let v: Vec<f32> = w1.clone().into_data().iter::<f32>().collect();
        assert_eq!(&v[..3], &[1.0, 1.0, 1.0]);
        assert!(v.iter().all(|&x| x > 0.0 && x <= 5.0));
        // Full as the "short" window: all weights 1, LongCE equals CE.
        let ones = longce_weights(&m, ids.clone(), 5.0, ContextWindow::Truncated(100));
        assert!(ones.clone().equal_elem(1.0).all().into_scalar::<bool>());
        let [b, t] = ids.dims();
        let logits = m.logits(ids.clone().slice([0..b, 0..t - 1]), 0, &AttnMask::Causal);
        let lce = longce_loss(logits.clone(), ids.clone(), ones);
        let ce = (-gather_logprobs(logits.clone(), ids.clone().slice([0..b, 1..t]))).mean();
        assert!((lce.into_scalar::<f32>() - ce.into_scalar::<f32>()).abs() < 1e-6);
        // The weights are constants: the loss gradient equals that of sum(c_i * nll_i) / n
        // with c taken as plain numbers.
        let c = Tensor::<2>::from_data(w1.clone().into_data(), &device);
        assert!(!w1.is_require_grad());
        let g1 = longce_loss(logits, ids.clone(), w1).backward();
        let logits = m.logits(ids.clone().slice([0..b, 0..t - 1]), 0, &AttnMask::Causal);
        let g2 = longce_loss(logits, ids, c).backward();
        let (a, b2) = (flatten_grads(&m, &g1), flatten_grads(&m, &g2));
        assert!(!a.is_empty() && a.iter().any(|x| *x != 0.0));
        assert_eq!(a, b2);
    }

    #[test]
    fn corpus_longppl_is_token_weighted() {
        // (n_key, mean NLL) = (1, 0.1) and (3, 1.0): exp(3.1 / 4), not the mean of e^0.1, e^1.
        let a = PplPair {
            key: NllSum {
                sum_nll: 0.1,
                count: 1,
            },
            ..Default::default()
        };
        let b = PplPair {
            key: NllSum {
                sum_nll: 3.0,
                count: 3,
            },
            ..Default::default()
        };
        assert!((a.merge(b).long_ppl().unwrap() - (3.1f64 / 4.0).exp()).abs() < 1e-12);
    }
}

//! Causal language models as token log-probability functions under a chosen context
//! window: the interface the long-context metrics (LongPPL, LongCE) are written against,
//! so they work for any model, not only [`Decoder`]; and greedy decoding
//! ([`CausalLm::greedy`]).
//!
//! ```
//! use burn::tensor::{Device, Int, Tensor};
//! use repro_core::lm::CausalLm;
//! use repro_core::nn::decoder::DecoderConfig;
//! let device = Device::flex();
//! let model = DecoderConfig::new(10).with_d_model(16).with_n_heads(2).init(&device);
//! let prompt = Tensor::<2, Int>::from_ints([[1, 2, 3], [4, 5, 6]], &device);
//! let out = model.greedy(prompt, 4, Some(0))?;
//! assert_eq!(out.len(), 2);
//! assert!(out.iter().all(|row| (1..=4).contains(&row.len()) && row.iter().all(|&id| id < 10)));
//! # Ok::<(), repro_core::lm::LmError>(())
//! ```

use burn::tensor::activation::log_softmax;
use burn::tensor::{Int, Tensor, TensorData};

use crate::host;
use crate::nn::decoder::{AttnMask, Decoder, DecoderInput, FfnHooks};

/// Errors of [`CausalLm::greedy`].
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum LmError {
    /// A prompt batch with no rows or no tokens.
    #[error("greedy decoding needs a non-empty prompt, got [batch, T] = {dims:?}")]
    EmptyPrompt {
        /// The prompt's shape.
        dims: [usize; 2],
    },
    /// The prompt plus the new tokens do not fit the model.
    #[error(
        "a prompt of {prompt} tokens and {max_new} new ones needs {needed} positions, but the model takes at most {max_len}"
    )]
    TooLong {
        /// Prompt length.
        prompt: usize,
        /// Tokens asked for.
        max_new: usize,
        /// Longest forward, `prompt + max_new - 1` (the last new token is not fed back).
        needed: usize,
        /// The model's [`CausalLm::max_len`].
        max_len: usize,
    },
    /// NaN logits where the next token is chosen.
    #[error("logits of row {row} are NaN at decoding step {step}")]
    NanLogits {
        /// Batch row.
        row: usize,
        /// 0-based step (new token index).
        step: usize,
    },
}

/// A model that maps token ids to next-token logits.
pub trait CausalLm {
    /// Logits for ids at absolute positions `start_pos..start_pos + T` under `mask`.
    ///
    /// # Shapes
    /// - `ids`: `[batch, T]` -> `[batch, T, vocab]`
    fn logits(&self, ids: Tensor<2, Int>, start_pos: usize, mask: &AttnMask) -> Tensor<3>;

    /// Whether outputs depend on relative positions only (RoPE), so windows cut from a
    /// sequence may all start at position 0 and be batched together.
    fn relative_positions(&self) -> bool {
        false
    }

    /// Longest `start_pos + T` the model accepts, `None` when unbounded.
    fn max_len(&self) -> Option<usize> {
        None
    }

    /// Greedy decoding: appends the most likely next token `max_new` times, each step one
    /// causal forward over the whole sequence so far from position 0 (no KV cache), and
    /// returns the new tokens of each row. A row ends after emitting `stop` (kept as its
    /// last token); decoding ends when every row has ended. Rows do not interact, so a
    /// row's tokens are those it would get alone. Ties go to the lowest id.
    ///
    /// Run it on a model without autodiff (`model.valid()`), or each step builds a graph.
    ///
    /// # Shapes
    /// - `prompt`: `[batch, T]` -> `batch` rows of at most `max_new` ids
    ///
    /// # Errors
    /// An empty prompt, `T + max_new - 1` beyond [`CausalLm::max_len`], or NaN logits.
    fn greedy(
        &self,
        prompt: Tensor<2, Int>,
        max_new: usize,
        stop: Option<u32>,
    ) -> Result<Vec<Vec<u32>>, LmError> {
        let [b, t] = prompt.dims();
        if b == 0 || t == 0 {
            return Err(LmError::EmptyPrompt { dims: [b, t] });
        }
        let mut out = vec![Vec::with_capacity(max_new); b];
        if max_new == 0 {
            return Ok(out);
        }
        let needed = t + max_new - 1;
        if let Some(max_len) = self.max_len()
            && needed > max_len
        {
            return Err(LmError::TooLong {
                prompt: t,
                max_new,
                needed,
                max_len,
            });
        }
        let device = prompt.device();
        let mut seq = prompt;
        let mut done = vec![false; b];
        for step in 0..max_new {
            let len = t + step;
            let logits = self.logits(seq.clone(), 0, &AttnMask::Causal); // [b, len, V]
            let [_, _, v] = logits.dims();
            let last = host::to_vec(logits.slice([0..b, len - 1..len]).reshape([b, v]));
            let mut next = Vec::with_capacity(b);
            for (row, scores) in last.chunks(v).enumerate() {
                if scores.iter().any(|x| x.is_nan()) {
                    return Err(LmError::NanLogits { row, step });
                }
                // First index of the maximum: ties go to the lowest id.
                let best = (1..v).fold(0, |m, j| if scores[j] > scores[m] { j } else { m });
                next.push(best as i64);
                if !done[row] {
                    out[row].push(best as u32);
                    done[row] = stop == Some(best as u32);
                }
            }
            if step + 1 == max_new || done.iter().all(|&d| d) {
                break;
            }
            let next = Tensor::<2, Int>::from_data(TensorData::new(next, [b, 1]), &device);
            seq = Tensor::cat(vec![seq, next], 1); // [b, len + 1]
        }
        Ok(out)
    }
}

impl CausalLm for Decoder {
    fn logits(&self, ids: Tensor<2, Int>, start_pos: usize, mask: &AttnMask) -> Tensor<3> {
        self.forward(
            DecoderInput::Tokens(ids),
            start_pos,
            mask,
            &mut FfnHooks::none(),
        )
    }

    fn relative_positions(&self) -> bool {
        Decoder::relative_positions(self)
    }

    fn max_len(&self) -> Option<usize> {
        Decoder::max_len(self)
    }
}

/// The context each target token is predicted from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContextWindow {
    /// Every earlier token.
    Full,
    /// The last `s` tokens exactly: target `i` sees `x[max(0, i - s)..i]`.
    Truncated(usize),
    /// The official LongPPL/LongCE short-context scheme: chunks of `trunc_len + stride`
    /// tokens starting every `stride`; target `i >= trunc_len` is scored in chunk
    /// `c = (i - trunc_len) / stride` and sees `x[c * stride..i]` (between `trunc_len` and
    /// `trunc_len + stride - 1` tokens). Targets `i < trunc_len` see their full context.
    Chunked {
        /// Minimum short-context length (`trunc_len`, 4096 upstream).
        trunc_len: usize,
        /// Chunk stride (`sliding_window`, 1024 upstream).
        stride: usize,
    },
    /// One pass under a banded attention mask of this width (receptive field grows with
    /// depth: not a truncated context for more than one layer).
    Banded(usize),
}

/// Log-probabilities of each token given its context, in nats.
pub trait TokenLogProbs {
    /// `lp[b, i - 1] = log P(x_i | context_W(i))` for targets `i = 1..T`.
    ///
    /// # Shapes
    /// - `ids`: `[batch, T]` -> `[batch, T - 1]`
    ///
    /// # Panics
    /// If `T < 2`, or a window or stride is zero.
    fn token_logprobs(&self, ids: Tensor<2, Int>, window: ContextWindow) -> Tensor<2>;
}

/// Log-probability of `targets` under `logits`.
///
/// # Shapes
/// - `logits`: `[batch, T, vocab]`, `targets`: `[batch, T]` -> `[batch, T]`
pub fn gather_logprobs(logits: Tensor<3>, targets: Tensor<2, Int>) -> Tensor<2> {
    let [b, t, _] = logits.dims();
    log_softmax(logits, 2)
        .gather(2, targets.reshape([b, t, 1]))
        .reshape([b, t])
}

impl<M: CausalLm> TokenLogProbs for M {
    fn token_logprobs(&self, ids: Tensor<2, Int>, window: ContextWindow) -> Tensor<2> {
        let [b, t] = ids.dims();
        assert!(t >= 2, "token_logprobs needs at least 2 tokens, got {t}");
        let full = |mask: &AttnMask| {
            let logits = self.logits(ids.clone().slice([0..b, 0..t - 1]), 0, mask);
            gather_logprobs(logits, ids.clone().slice([0..b, 1..t]))
        };
        match window {
            ContextWindow::Full => full(&AttnMask::Causal),
            ContextWindow::Banded(w) => full(&AttnMask::Banded { window: w }),
            ContextWindow::Truncated(s) => {
                assert!(s > 0, "Truncated(0) leaves no context");
                let base = full(&AttnMask::Causal);
                if t <= s + 1 {
                    return base; // every target already sees at most s tokens
                }
                // Targets i = s+1..T-1 from windows ids[j..j+s], j = i - s = 1..T-1-s.
                let n_win = t - 1 - s;
                let short = if self.relative_positions() {
                    let windows: Vec<Tensor<2, Int>> = (1..=n_win)
                        .map(|j| ids.clone().slice([0..b, j..j + s]))
                        .collect();
                    let targets: Vec<Tensor<2, Int>> = (1..=n_win)
                        .map(|j| ids.clone().slice([0..b, j + s..j + s + 1]))
                        .collect();
                    let logits = self.logits(Tensor::cat(windows, 0), 0, &AttnMask::Causal); // [n_win*b, s, V]
                    let [nb, _, v] = logits.dims();
                    let last = logits.slice([0..nb, s - 1..s]).reshape([nb, 1, v]);
                    let lp = gather_logprobs(last, Tensor::cat(targets, 0)).reshape([n_win, b]);
                    lp.swap_dims(0, 1) // [b, n_win]
                } else {
                    let cols: Vec<Tensor<2>> = (1..=n_win)
                        .map(|j| {
                            let logits = self.logits(
                                ids.clone().slice([0..b, j..j + s]),
                                j,
                                &AttnMask::Causal,
                            );
                            let [_, _, v] = logits.dims();
                            let last = logits.slice([0..b, s - 1..s]).reshape([b, 1, v]);
                            gather_logprobs(last, ids.clone().slice([0..b, j + s..j + s + 1]))
                        })
                        .collect();
                    Tensor::cat(cols, 1)
                };
                // Columns are targets i - 1: keep 0..s from the full pass, then the windows.
                Tensor::cat(vec![base.slice([0..b, 0..s]), short], 1)
            }
            ContextWindow::Chunked {
                trunc_len: k,
                stride,
            } => {
                assert!(
                    k > 0 && stride > 0,
                    "Chunked needs positive trunc_len and stride"
                );
                let base = full(&AttnMask::Causal);
                if t <= k {
                    return base;
                }
                let mut cols = vec![base.slice([0..b, 0..k - 1])]; // targets 1..k-1
                let mut c = 0;
                while k + c * stride < t {
                    let lo = c * stride;
                    let hi = (k + (c + 1) * stride).min(t); // targets k + c*stride .. hi
                    let logits =
                        self.logits(ids.clone().slice([0..b, lo..hi - 1]), lo, &AttnMask::Causal);
                    let lp = gather_logprobs(logits, ids.clone().slice([0..b, lo + 1..hi])); // targets lo+1..hi
                    let first = k + c * stride - (lo + 1);
                    cols.push(lp.clone().slice([0..b, first..hi - lo - 1]));
                    c += 1;
                }
                Tensor::cat(cols, 1)
            }
        }
    }
}

/// A running sum of negative log-likelihoods over scored tokens; merging sums pools tokens
/// exactly (token-weighted aggregation across documents).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct NllSum {
    /// Sum of `-log p` in nats.
    pub sum_nll: f64,
    /// Tokens scored.
    pub count: u64,
}

impl NllSum {
    /// Adds one token's log-probability.
    pub fn add_logprob(&mut self, lp: f64) {
        self.sum_nll -= lp;
        self.count += 1;
    }

    /// Pools two sums.
    pub fn merge(self, other: NllSum) -> NllSum {
        NllSum {
            sum_nll: self.sum_nll + other.sum_nll,
            count: self.count + other.count,
        }
    }

    /// Mean NLL, `None` when nothing was scored.
    pub fn mean(&self) -> Option<f64> {
        (self.count > 0).then(|| self.sum_nll / self.count as f64)
    }

    /// Perplexity `exp(mean NLL)`, `None` when nothing was scored.
    pub fn ppl(&self) -> Option<f64> {
        self.mean().map(f64::exp)
    }
}

/// Helper for tests and mocks: `[batch, T]` ids from rows.
pub fn ids_tensor(rows: &[Vec<i64>], device: &burn::tensor::Device) -> Tensor<2, Int> {
    let t = rows.first().map_or(0, Vec::len);
    assert!(
        rows.iter().all(|r| r.len() == t),
        "rows of different lengths"
    );
    Tensor::from_data(TensorData::new(rows.concat(), [rows.len(), t]), device)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::device::{init_params_now, seed, seed_lock};
    use crate::nn::decoder::{DecoderConfig, Positions};
    use burn::tensor::{Device, Tolerance};

    /// A mock whose log-probability of any token but 0 reveals how many tokens the
    /// prediction could see: logit `n` on token 0 and 0 elsewhere, with `n` the visible
    /// context, so `lp = -ln(e^n + V - 1)`.
    struct Mock;
    const V: usize = 4;

    impl CausalLm for Mock {
        fn logits(&self, ids: Tensor<2, Int>, _start: usize, mask: &AttnMask) -> Tensor<3> {
            let [b, t] = ids.dims();
            let mut v = vec![0f32; b * t * V];
            for bi in 0..b {
                for p in 0..t {
                    let seen = match mask {
                        AttnMask::Banded { window } => (p + 1).min(*window),
                        _ => p + 1,
                    };
                    v[(bi * t + p) * V] = seen as f32;
                }
            }
            Tensor::from_data(TensorData::new(v, [b, t, V]), &ids.device())
        }
    }

    fn seen(lp: f32) -> usize {
        ((-lp as f64).exp() - (V - 1) as f64).ln().round() as usize
    }

    fn visible(window: ContextWindow, t: usize) -> Vec<usize> {
        let ids = ids_tensor(&[vec![1; t]], &Device::flex());
        Mock.token_logprobs(ids, window)
            .into_data()
            .iter::<f32>()
            .map(seen)
            .collect()
    }

    #[test]
    fn windows_see_the_documented_contexts() {
        let t = 20;
        // Target i (column i-1) sees i tokens under Full.
        assert_eq!(visible(ContextWindow::Full, t), (1..t).collect::<Vec<_>>());
        assert_eq!(
            visible(ContextWindow::Truncated(5), t),
            (1..t).map(|i| i.min(5)).collect::<Vec<_>>()
        );
        assert_eq!(
            visible(ContextWindow::Truncated(t), t),
            visible(ContextWindow::Full, t)
        );
        let chunked: Vec<usize> = (1..t)
            .map(|i| if i < 8 { i } else { i - 3 * ((i - 8) / 3) })
            .collect();
        assert_eq!(
            visible(
                ContextWindow::Chunked {
                    trunc_len: 8,
                    stride: 3
                },
                t
            ),
            chunked
        );
        assert_eq!(
            visible(ContextWindow::Banded(4), t),
            (1..t).map(|i| i.min(4)).collect::<Vec<_>>()
        );
    }

    #[test]
    fn truncated_matches_explicit_windows_on_a_real_decoder() {
        let _g = seed_lock();
        let device = Device::flex();
        for positions in [Positions::Rope { base: 10000.0 }, Positions::Learned] {
            seed(&device, 5);
            let m = init_params_now(
                DecoderConfig::new(9)
                    .with_d_model(16)
                    .with_n_heads(2)
                    .with_positions(positions.clone())
                    .with_max_len(32)
                    .init(&device),
            );
            let row: Vec<i64> = vec![1, 4, 2, 8, 5, 7, 3, 0, 6, 2, 1, 4];
            let ids = ids_tensor(&[row.clone(), row.iter().rev().copied().collect()], &device);
            let s = 4;
            let lp = m.token_logprobs(ids.clone(), ContextWindow::Truncated(s));
            // Target i = 9 (column 8) from an explicit forward over ids[5..9].
            let logits = m.logits(ids.clone().slice([0..2, 5..9]), 5, &AttnMask::Causal);
            let direct =
                gather_logprobs(logits.slice([0..2, 3..4]), ids.clone().slice([0..2, 9..10]));
            lp.clone()
                .slice([0..2, 8..9])
                .into_data()
                .assert_approx_eq::<f32>(&direct.into_data(), Tolerance::absolute(1e-5));
            // Early targets equal the full-context values.
            let full = m.token_logprobs(ids, ContextWindow::Full);
            lp.slice([0..2, 0..s]).into_data().assert_approx_eq::<f32>(
                &full.slice([0..2, 0..s]).into_data(),
                Tolerance::absolute(1e-6),
            );
        }
    }

    /// Predicts `(id + 1) % 7` after each id, so greedy decoding counts up from the last
    /// prompt token; an earlier position's logits would count from another token.
    struct Successor {
        max_len: Option<usize>,
    }

    impl CausalLm for Successor {
        fn logits(&self, ids: Tensor<2, Int>, _start: usize, _mask: &AttnMask) -> Tensor<3> {
            let [b, t] = ids.dims();
            let ids = host::to_ints(ids.clone());
            let mut v = vec![0f32; b * t * 7];
            for (k, &id) in ids.iter().enumerate() {
                v[k * 7 + (id as usize + 1) % 7] = 2.0;
                v[k * 7 + (id as usize + 2) % 7] = 1.0; // a runner-up, never chosen
            }
            Tensor::from_data(TensorData::new(v, [b, t, 7]), &Device::flex())
        }

        fn max_len(&self) -> Option<usize> {
            self.max_len
        }
    }

    #[test]
    fn greedy_follows_the_last_position_and_stops_per_row() {
        let device = Device::flex();
        let m = Successor { max_len: None };
        let prompt = ids_tensor(&[vec![3, 1], vec![0, 5]], &device);
        // Row 0 counts 2, 3, 4, 5; row 1 counts 6, 0, 1, 2 (mod 7).
        assert_eq!(
            m.greedy(prompt.clone(), 4, None).unwrap(),
            vec![vec![2, 3, 4, 5], vec![6, 0, 1, 2]]
        );
        // Stop at 0: row 1 ends after emitting it, row 0 runs on.
        assert_eq!(
            m.greedy(prompt.clone(), 4, Some(0)).unwrap(),
            vec![vec![2, 3, 4, 5], vec![6, 0]]
        );
        // Every row stops: decoding ends early.
        assert_eq!(
            m.greedy(prompt.clone(), 10, Some(3)).unwrap(),
            vec![vec![2, 3], vec![6, 0, 1, 2, 3]]
        );
        assert_eq!(
            m.greedy(prompt, 0, None).unwrap(),
            vec![Vec::<u32>::new(); 2]
        );
    }

    #[test]
    fn greedy_errors_are_clear() {
        let device = Device::flex();
        let m = Successor { max_len: Some(5) };
        let prompt = ids_tensor(&[vec![1, 2, 3]], &device);
        // 3 + 3 - 1 = 5 positions fit; 3 + 4 - 1 = 6 do not.
        assert_eq!(
            m.greedy(prompt.clone(), 3, None).unwrap(),
            vec![vec![4, 5, 6]]
        );
        assert_eq!(
            m.greedy(prompt, 4, None),
            Err(LmError::TooLong {
                prompt: 3,
                max_new: 4,
                needed: 6,
                max_len: 5
            })
        );
        let empty = Tensor::<2, Int>::zeros([2, 0], &device);
        assert_eq!(
            m.greedy(empty, 1, None),
            Err(LmError::EmptyPrompt { dims: [2, 0] })
        );
    }

    #[test]
    fn nll_sums_pool_tokens() {
        // Docs with (n, mean NLL) = (1, 0.1) and (3, 1.0): pooled mean 3.1 / 4.
        let a = NllSum {
            sum_nll: 0.1,
            count: 1,
        };
        let b = NllSum {
            sum_nll: 3.0,
            count: 3,
        };
        assert!((a.merge(b).ppl().unwrap() - (3.1f64 / 4.0).exp()).abs() < 1e-12);
        assert_eq!(NllSum::default().ppl(), None);
        let mut c = NllSum::default();
        c.add_logprob(-2.0);
        assert_eq!(c.mean(), Some(2.0));
    }
}

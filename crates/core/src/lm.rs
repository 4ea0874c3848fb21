//! Causal language models as token log-probability functions under a chosen context
//! window: the interface the long-context metrics (LongPPL, LongCE) are written against,
//! so they work for any model, not only [`Decoder`].

use burn::tensor::activation::log_softmax;
use burn::tensor::{Int, Tensor, TensorData};

use crate::nn::decoder::{AttnMask, Decoder, DecoderInput, FfnHooks};

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

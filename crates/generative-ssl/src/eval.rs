//! Evaluation (spec §3): probe features from **unmasked** inputs, the generation NLL per
//! prefix length, the class-agnostic unigram / bigram references, the normalised mutual
//! information of a clustering, and generation by AR sampling or iterative unmasking.
//!
//! Generation protocols for `NLL_t = −ln p(x_{t+1} | x_1..x_t)`, `t = 1..n−1`:
//! [`Protocol::Causal`] (AR, DEAR): one causal forward over `BOS, x_1..x_{n−1}`, position `t`,
//! offset 1; [`Protocol::MaskSuffix`] (MLM, VLM): input `(BOS, x_1..x_t, MASK × (n − t))`,
//! bidirectional, read at position `t + 1` (iterative left-to-right unmasking gives the same
//! first-step NLL). Every scorer implements [`PrefixScorer`], so the exact Bayes predictive
//! ([`BayesOracle`]) and the uniform predictor go through the same [`generation_nll`].
//!
//! ```
//! use burn::tensor::Device;
//! use repro_generative_ssl::eval::{PrefixScorer, Uniform, generation_nll};
//! let xs = vec![vec![0u32, 1, 2, 3]; 5];
//! let nll = generation_nll(&Uniform(32), &xs, &[1, 2, 3])?;
//! assert!(nll.iter().all(|v| (v - 32f64.ln()).abs() < 1e-12));
//! # Ok::<(), anyhow::Error>(())
//! ```

use anyhow::ensure;
use burn::tensor::Device;
use burn::tensor::activation::softmax;
use repro_core::lm::gather_logprobs;
use repro_core::rng::SplitMix64;
use serde::{Deserialize, Serialize};

use crate::markov::MarkovLanguage;
use crate::model::{Attn, SeqModel};
use crate::objective::{Objective, check_batch, ids_tensor};

/// How features pool the final-LN states over positions `1..n`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Pool {
    /// Mean over positions `1..n` (primary, pre-registered).
    Mean,
    /// The state at position `n` (secondary, AR-natural).
    Last,
}

/// Mean-pool and last-position features of unmasked sequences, `([N·d], [N·d])` row-major,
/// with attention `attn` (the objective's own: [`Objective::attn`]). The input is
/// `BOS, x_1..x_n`: no MASK token ever, and no randomness.
///
/// # Errors
/// Ragged sequences, bad tokens, or `n + 1` above the model's `max_len`.
pub fn probe_features(
    m: &SeqModel,
    attn: Attn,
    xs: &[Vec<u32>],
    device: &Device,
    chunk: usize,
) -> anyhow::Result<(Vec<f32>, Vec<f32>)> {
    let n = check_batch(xs, m.vocab())?;
    let (mut mean, mut last) = (Vec::new(), Vec::new());
    for rows in xs.chunks(chunk.max(1)) {
        let inputs: Vec<Vec<u32>> = rows
            .iter()
            .map(|r| std::iter::once(m.bos()).chain(r.iter().copied()).collect())
            .collect();
        let h = m.hidden(ids_tensor(&inputs, device), attn)?; // [b, n+1, d]
        let [b, _, d] = h.dims();
        let body = h.slice([0..b, 1..n + 1, 0..d]); // [b, n, d]
        let mp = body.clone().mean_dim(1).reshape([b, d]);
        let lp = body.slice([0..b, n - 1..n, 0..d]).reshape([b, d]);
        mean.extend(
            mp.into_data()
                .try_to_vec::<f32>()
                .map_err(|e| anyhow::anyhow!("{e:?}"))?,
        );
        last.extend(
            lp.into_data()
                .try_to_vec::<f32>()
                .map_err(|e| anyhow::anyhow!("{e:?}"))?,
        );
    }
    Ok((mean, last))
}

/// The features of one pooling (see [`probe_features`]).
///
/// # Errors
/// As [`probe_features`].
pub fn pooled_features(
    m: &SeqModel,
    obj: &Objective,
    xs: &[Vec<u32>],
    pool: Pool,
    device: &Device,
) -> anyhow::Result<Vec<f32>> {
    let (mean, last) = probe_features(m, obj.attn(), xs, device, 512)?;
    Ok(match pool {
        Pool::Mean => mean,
        Pool::Last => last,
    })
}

/// Anything that scores next tokens after prefixes.
pub trait PrefixScorer {
    /// `out[j][i] = ln p(x_i[t_j] | x_i[..t_j])` for every prefix length `t_j` in `ts`
    /// (each in `1..n`).
    ///
    /// # Errors
    /// Bad sequences or prefix lengths.
    fn target_logprobs(&self, xs: &[Vec<u32>], ts: &[usize]) -> anyhow::Result<Vec<Vec<f64>>>;
}

/// `NLL_t` for every `t` in `ts`: mean over sequences of `−ln p(x_{t+1} | x_1..x_t)`.
///
/// # Errors
/// A prefix length outside `1..n`, ragged or empty sequences, or the scorer's errors.
pub fn generation_nll(
    scorer: &impl PrefixScorer,
    xs: &[Vec<u32>],
    ts: &[usize],
) -> anyhow::Result<Vec<f64>> {
    ensure!(!xs.is_empty(), "generation_nll: no sequences");
    let n = xs[0].len();
    ensure!(
        xs.iter().all(|x| x.len() == n),
        "generation_nll: ragged sequences"
    );
    if let Some(&t) = ts.iter().find(|&&t| t == 0 || t >= n) {
        anyhow::bail!("generation_nll: prefix length {t} is outside 1..{n}");
    }
    let lp = scorer.target_logprobs(xs, ts)?;
    Ok(lp
        .iter()
        .map(|row| -row.iter().sum::<f64>() / row.len() as f64)
        .collect())
}

/// The uniform predictor over `V` tokens.
#[derive(Debug, Clone, Copy)]
pub struct Uniform(pub usize);

impl PrefixScorer for Uniform {
    fn target_logprobs(&self, xs: &[Vec<u32>], ts: &[usize]) -> anyhow::Result<Vec<Vec<f64>>> {
        let v = -(self.0 as f64).ln();
        Ok(ts.iter().map(|_| vec![v; xs.len()]).collect())
    }
}

/// The exact Bayes predictive of a [`MarkovLanguage`].
#[derive(Debug, Clone, Copy)]
pub struct BayesOracle<'a>(pub &'a MarkovLanguage);

impl PrefixScorer for BayesOracle<'_> {
    fn target_logprobs(&self, xs: &[Vec<u32>], ts: &[usize]) -> anyhow::Result<Vec<Vec<f64>>> {
        ts.iter()
            .map(|&t| {
                xs.iter()
                    .map(|x| Ok(self.0.predictive(x, t)?[x[t] as usize].ln()))
                    .collect()
            })
            .collect()
    }
}

/// Class-agnostic n-gram references fitted with add-0.5 smoothing (UNI-LM, BI-LM).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NgramLm {
    /// `V`.
    pub vocab: usize,
    /// `ln p(b)` (unigram) or `ln p(b | a)` as `[V][V]` flat (bigram).
    pub log_p: Vec<f64>,
    /// Whether it conditions on the previous token.
    pub bigram: bool,
}

impl NgramLm {
    /// Fits on every token (unigram) or transition (bigram) of `xs`.
    ///
    /// # Errors
    /// Tokens outside `0..vocab`, or an empty set.
    pub fn fit(xs: &[Vec<u32>], vocab: usize, bigram: bool) -> anyhow::Result<Self> {
        check_batch(xs, vocab)?;
        let rows = if bigram { vocab } else { 1 };
        let mut counts = vec![0.5f64; rows * vocab];
        for x in xs {
            if bigram {
                x.windows(2)
                    .for_each(|w| counts[w[0] as usize * vocab + w[1] as usize] += 1.0);
            } else {
                x.iter().for_each(|&t| counts[t as usize] += 1.0);
            }
        }
        let mut log_p = counts;
        for r in log_p.chunks_mut(vocab) {
            let s: f64 = r.iter().sum();
            r.iter_mut().for_each(|c| *c = (*c / s).ln());
        }
        Ok(Self {
            vocab,
            log_p,
            bigram,
        })
    }
}

impl PrefixScorer for NgramLm {
    fn target_logprobs(&self, xs: &[Vec<u32>], ts: &[usize]) -> anyhow::Result<Vec<Vec<f64>>> {
        check_batch(xs, self.vocab)?;
        Ok(ts
            .iter()
            .map(|&t| {
                xs.iter()
                    .map(|x| {
                        let row = if self.bigram { x[t - 1] as usize } else { 0 };
                        self.log_p[row * self.vocab + x[t] as usize]
                    })
                    .collect()
            })
            .collect())
    }
}

/// How a trained model is read for generation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Protocol {
    /// One causal forward, offset 1 (AR, DEAR).
    Causal,
    /// Prefix plus MASK suffix, bidirectional (MLM, VLM).
    MaskSuffix,
}

impl Protocol {
    /// The protocol of an objective.
    pub fn of(obj: &Objective) -> Self {
        match obj.attn() {
            Attn::Causal => Self::Causal,
            Attn::Bidirectional => Self::MaskSuffix,
        }
    }
}

/// A trained [`SeqModel`] read under a [`Protocol`], `chunk` inputs per forward.
pub struct ModelScorer<'a> {
    /// The model (use `model.valid()`).
    pub model: &'a SeqModel,
    /// The protocol.
    pub protocol: Protocol,
    /// The model's device.
    pub device: Device,
    /// Inputs per forward.
    pub chunk: usize,
}

impl ModelScorer<'_> {
    /// `ln p` of each row's token at each input position, `[rows][T]`, for inputs
    /// `inputs` (`[rows][T]`) and the tokens `targets` (`[rows][T]`) they are scored on.
    fn position_logprobs(
        &self,
        inputs: &[Vec<u32>],
        targets: &[Vec<u32>],
        attn: Attn,
    ) -> anyhow::Result<Vec<Vec<f32>>> {
        let m = self.model;
        let mut out = Vec::with_capacity(inputs.len());
        for (inp, tgt) in inputs
            .chunks(self.chunk.max(1))
            .zip(targets.chunks(self.chunk.max(1)))
        {
            let h = m.hidden(ids_tensor(inp, &self.device), attn)?;
            let lp = gather_logprobs(m.logits(h, 1)?, ids_tensor(tgt, &self.device)); // [b, T]
            let t = inp[0].len();
            let v: Vec<f32> = lp
                .into_data()
                .try_to_vec()
                .map_err(|e| anyhow::anyhow!("{e:?}"))?;
            out.extend(v.chunks(t).map(<[f32]>::to_vec));
        }
        Ok(out)
    }
}

impl PrefixScorer for ModelScorer<'_> {
    fn target_logprobs(&self, xs: &[Vec<u32>], ts: &[usize]) -> anyhow::Result<Vec<Vec<f64>>> {
        let m = self.model;
        let n = check_batch(xs, m.vocab())?;
        let bos = m.bos();
        match self.protocol {
            Protocol::Causal => {
                let inputs: Vec<Vec<u32>> = xs
                    .iter()
                    .map(|r| {
                        std::iter::once(bos)
                            .chain(r[..n - 1].iter().copied())
                            .collect()
                    })
                    .collect();
                let lp = self.position_logprobs(&inputs, xs, Attn::Causal)?; // position t → x[t]
                Ok(ts
                    .iter()
                    .map(|&t| lp.iter().map(|r| f64::from(r[t])).collect())
                    .collect())
            }
            Protocol::MaskSuffix => {
                let mut inputs = Vec::with_capacity(xs.len() * ts.len());
                let mut targets = Vec::with_capacity(xs.len() * ts.len());
                for &t in ts {
                    for r in xs {
                        let mut inp = Vec::with_capacity(n + 1);
                        inp.push(bos);
                        inp.extend(&r[..t]);
                        inp.resize(n + 1, m.mask_token());
                        inputs.push(inp);
                        // Position p + 1 holds x[p]; BOS's slot is scored on a dummy 0.
                        targets.push(std::iter::once(0).chain(r.iter().copied()).collect());
                    }
                }
                let lp = self.position_logprobs(&inputs, &targets, Attn::Bidirectional)?;
                Ok(ts
                    .iter()
                    .enumerate()
                    .map(|(j, &t)| {
                        (0..xs.len())
                            .map(|i| f64::from(lp[j * xs.len() + i][t + 1]))
                            .collect()
                    })
                    .collect())
            }
        }
    }
}

/// Normalised mutual information `2 I(a; b) / (H(a) + H(b))` of two labellings (sklearn's
/// arithmetic normalisation); 1 when both are constant.
///
/// # Errors
/// Lengths differ or are zero.
pub fn nmi(a: &[usize], b: &[usize]) -> anyhow::Result<f64> {
    ensure!(
        a.len() == b.len() && !a.is_empty(),
        "nmi: labellings of lengths {} and {}",
        a.len(),
        b.len()
    );
    let ka = a.iter().max().map_or(0, |m| m + 1);
    let kb = b.iter().max().map_or(0, |m| m + 1);
    let mut joint = vec![0.0f64; ka * kb];
    for (&i, &j) in a.iter().zip(b) {
        joint[i * kb + j] += 1.0;
    }
    let n = a.len() as f64;
    let pa: Vec<f64> = (0..ka)
        .map(|i| joint[i * kb..(i + 1) * kb].iter().sum::<f64>() / n)
        .collect();
    let pb: Vec<f64> = (0..kb)
        .map(|j| (0..ka).map(|i| joint[i * kb + j]).sum::<f64>() / n)
        .collect();
    let h = |p: &[f64]| -> f64 { p.iter().filter(|&&v| v > 0.0).map(|v| -v * v.ln()).sum() };
    let mut mi = 0.0;
    for i in 0..ka {
        for j in 0..kb {
            let p = joint[i * kb + j] / n;
            if p > 0.0 {
                mi += p * (p / (pa[i] * pb[j])).ln();
            }
        }
    }
    let denom = h(&pa) + h(&pb);
    Ok(if denom <= 0.0 {
        1.0
    } else {
        (2.0 * mi / denom).clamp(0.0, 1.0)
    })
}

/// Draws a token from `probs` (row of a softmax) with one uniform.
fn draw(probs: &[f32], rng: &mut SplitMix64) -> u32 {
    let u = rng.next_f64() as f32 * probs.iter().sum::<f32>();
    let mut acc = 0.0;
    for (j, p) in probs.iter().enumerate() {
        acc += p;
        if u < acc {
            return j as u32;
        }
    }
    (probs.len() - 1) as u32
}

/// Generation by AR sampling (temperature 1): continues each prefix (`[B][t]`, no BOS) to
/// `n` tokens, one causal forward per new token.
///
/// # Errors
/// Ragged or empty prefixes, `n` not above the prefix length, or `n` beyond the model.
pub fn generate_ar(
    m: &SeqModel,
    prefixes: &[Vec<u32>],
    n: usize,
    rng: &mut SplitMix64,
    device: &Device,
) -> anyhow::Result<Vec<Vec<u32>>> {
    let t0 = check_batch(prefixes, m.vocab())?;
    ensure!(
        n > t0,
        "generate_ar: target length {n} is not above the prefix {t0}"
    );
    let mut seqs: Vec<Vec<u32>> = prefixes
        .iter()
        .map(|p| std::iter::once(m.bos()).chain(p.iter().copied()).collect())
        .collect();
    for _ in t0..n {
        let t = seqs[0].len();
        let h = m.hidden(ids_tensor(&seqs, device), Attn::Causal)?;
        let b = seqs.len();
        let probs = softmax(
            m.logits(h, 1)?
                .slice([0..b, t - 1..t])
                .reshape([b, m.vocab()]),
            1,
        );
        let p: Vec<f32> = probs
            .into_data()
            .try_to_vec()
            .map_err(|e| anyhow::anyhow!("{e:?}"))?;
        for (s, row) in seqs.iter_mut().zip(p.chunks(m.vocab())) {
            s.push(draw(row, rng));
        }
    }
    Ok(seqs.into_iter().map(|s| s[1..].to_vec()).collect())
}

/// Generation by iterative unmasking (left to right, temperature 1): the input is
/// `(BOS, prefix, MASK × (n − t))`; each step samples the first MASK from a bidirectional
/// forward and writes it in.
///
/// # Errors
/// As [`generate_ar`].
pub fn generate_unmask(
    m: &SeqModel,
    prefixes: &[Vec<u32>],
    n: usize,
    rng: &mut SplitMix64,
    device: &Device,
) -> anyhow::Result<Vec<Vec<u32>>> {
    let t0 = check_batch(prefixes, m.vocab())?;
    ensure!(
        n > t0,
        "generate_unmask: target length {n} is not above the prefix {t0}"
    );
    let mut seqs: Vec<Vec<u32>> = prefixes
        .iter()
        .map(|p| {
            let mut s: Vec<u32> = std::iter::once(m.bos()).chain(p.iter().copied()).collect();
            s.resize(n + 1, m.mask_token());
            s
        })
        .collect();
    let b = seqs.len();
    for pos in t0 + 1..=n {
        let h = m.hidden(ids_tensor(&seqs, device), Attn::Bidirectional)?;
        let probs = softmax(
            m.logits(h, 1)?
                .slice([0..b, pos..pos + 1])
                .reshape([b, m.vocab()]),
            1,
        );
        let p: Vec<f32> = probs
            .into_data()
            .try_to_vec()
            .map_err(|e| anyhow::anyhow!("{e:?}"))?;
        for (s, row) in seqs.iter_mut().zip(p.chunks(m.vocab())) {
            s[pos] = draw(row, rng);
        }
    }
    Ok(seqs.into_iter().map(|s| s[1..].to_vec()).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use repro_core::device::{init_params_now, seed, seed_lock};

    use crate::markov::{Alpha, MarkovConfig};
    use crate::model::SeqModelConfig;

    #[test]
    fn oracle_and_uniform_plumbing() {
        let cfg = MarkovConfig {
            alpha: Alpha::Fixed(0.15),
            ..MarkovConfig::default()
        };
        let lang = MarkovLanguage::new(&cfg, 2).unwrap();
        let (xs, _) = lang.sample_balanced(200, &mut SplitMix64::new(1));
        let ts: Vec<usize> = (1..24).collect();
        let via = generation_nll(&BayesOracle(&lang), &xs, &ts).unwrap();
        let direct = lang.bayes_nll_per_t(&xs).unwrap();
        for (a, b) in via.iter().zip(&direct) {
            assert!((a - b).abs() < 1e-9);
        }
        let uni = generation_nll(&Uniform(32), &xs, &ts).unwrap();
        assert!(uni.iter().all(|v| (v - 3.465_735_9).abs() < 1e-7));
        assert!(generation_nll(&Uniform(32), &xs, &[0]).is_err());
        assert!(generation_nll(&Uniform(32), &xs, &[24]).is_err());
    }

    #[test]
    fn ngram_lms_normalise() {
        let xs = vec![vec![0u32, 1, 1, 0], vec![1, 1, 1, 1]];
        for bigram in [false, true] {
            let lm = NgramLm::fit(&xs, 3, bigram).unwrap();
            for r in lm.log_p.chunks(3) {
                assert!((r.iter().map(|v| v.exp()).sum::<f64>() - 1.0).abs() < 1e-12);
            }
        }
        // Unigram: counts 2 + 0.5 and 6 + 0.5 and 0.5 of 9.5.
        let lm = NgramLm::fit(&xs, 3, false).unwrap();
        assert!((lm.log_p[1] - (6.5f64 / 9.5).ln()).abs() < 1e-12);
    }

    #[test]
    fn nmi_hand_values() {
        assert!((nmi(&[0, 0, 1, 1], &[1, 1, 0, 0]).unwrap() - 1.0).abs() < 1e-12);
        assert!(nmi(&[0, 1, 0, 1], &[0, 0, 1, 1]).unwrap().abs() < 1e-12);
        assert!(nmi(&[0], &[0, 1]).is_err());
    }

    fn model() -> SeqModel {
        let device = Device::flex();
        seed(&device, 4);
        init_params_now(
            SeqModelConfig::new(8, 7)
                .with_d_model(16)
                .init(&device)
                .unwrap(),
        )
    }

    #[test]
    fn features_use_unmasked_inputs_and_no_randomness() {
        let _g = seed_lock();
        let m = model();
        let d = Device::flex();
        let xs = vec![vec![1u32, 2, 3, 4, 5, 6], vec![0, 0, 1, 1, 2, 2]];
        let a = probe_features(&m, Attn::Bidirectional, &xs, &d, 1).unwrap();
        let b = probe_features(&m, Attn::Bidirectional, &xs, &d, 8).unwrap();
        assert_eq!(a.0.len(), 2 * 16);
        for (u, v) in a.0.iter().zip(&b.0) {
            assert!((u - v).abs() < 1e-5);
        }
        // Reference: the mean over positions 1..n of the hidden states of BOS, x (no MASK).
        let inputs: Vec<Vec<u32>> = xs
            .iter()
            .map(|x| std::iter::once(8).chain(x.iter().copied()).collect())
            .collect();
        assert!(inputs.iter().flatten().all(|&t| t != m.mask_token()));
        let h = m
            .hidden(ids_tensor(&inputs, &d), Attn::Bidirectional)
            .unwrap();
        let mean: Vec<f32> = h
            .clone()
            .slice([0..2, 1..7, 0..16])
            .mean_dim(1)
            .into_data()
            .try_to_vec()
            .unwrap();
        let last: Vec<f32> = h
            .slice([0..2, 6..7, 0..16])
            .into_data()
            .try_to_vec()
            .unwrap();
        for (u, v) in a.0.iter().zip(&mean) {
            assert!((u - v).abs() < 1e-5);
        }
        assert_eq!(a.1, last);
    }

    #[test]
    fn model_scorers_follow_their_protocols() {
        let _g = seed_lock();
        let m = model();
        let d = Device::flex();
        let xs = vec![vec![1u32, 2, 3, 4, 5, 6], vec![0, 0, 1, 1, 2, 2]];
        for protocol in [Protocol::Causal, Protocol::MaskSuffix] {
            let s = ModelScorer {
                model: &m,
                protocol,
                device: d.clone(),
                chunk: 3,
            };
            let lp = s.target_logprobs(&xs, &[1, 3, 5]).unwrap();
            assert!(lp.iter().flatten().all(|v| v.is_finite() && *v < 0.0));
            // Changing tokens after the prefix never changes the score of x_{t+1}.
            let mut ys = xs.clone();
            ys[0][5] = 7;
            let lq = s.target_logprobs(&ys, &[1, 3]).unwrap();
            for j in 0..2 {
                assert!((lp[j][0] - lq[j][0]).abs() < 1e-5, "{protocol:?}");
            }
        }
        let g = generate_ar(&m, &[vec![1, 2]], 6, &mut SplitMix64::new(0), &d).unwrap();
        assert_eq!(g[0].len(), 6);
        assert_eq!(&g[0][..2], &[1, 2]);
        let g = generate_unmask(&m, &[vec![1, 2]], 6, &mut SplitMix64::new(0), &d).unwrap();
        assert!(g[0].len() == 6 && g[0].iter().all(|&t| t < 8));
        assert!(generate_ar(&m, &[vec![1, 2]], 8, &mut SplitMix64::new(0), &d).is_err());
    }
}

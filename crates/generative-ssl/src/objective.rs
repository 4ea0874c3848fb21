//! The four objectives as loss functions over a batch (spec §3). AR and MLM are the standard
//! forms the paper compares; DEAR and VLM are **our operationalisations** of the abstract's
//! two fixes.
//!
//! ```text
//! AR   causal:  −(1/n) Σ_{i=0}^{n−1} ln p(x_{i+1} | BOS, x_1..x_i)
//! MLM  bidir.:  m = ⌈ρn⌉ positions M ⊂ {1..n} without replacement, x_M := MASK;
//!               −(1/m) Σ_{i∈M} ln p(x_i | x_{∖M})
//! DEAR causal:  K_i = {1, k'_i}, k'_i ~ U{2..K_max};  −mean over valid (i, k ∈ K_i) of
//!               ln p(x_{i+k} | BOS, x_1..x_i, e_k)   (pairs with i + k > n dropped)
//! VLM  bidir.:  ρ ~ U(ρ_min, ρ_max) per sequence, m = ⌈ρn⌉; with prob. p_suffix
//!               M = {n−m+1..n}, else m uniform positions; loss as MLM
//! ```
//!
//! Mask counts are computed in integer arithmetic: ρ is held in parts per million and
//! `m = ⌈ρ_ppm · n / 10⁶⌉` exactly (ρ = 0.05, n = 20 gives 1, where `(0.05·20).ceil()` in
//! floating point gives 2). DEAR's loss is the mean over valid (position, offset) pairs
//! of a sequence (declared: a mean per position would weight short tails differently);
//! `K_max = 1` (the empty range `U{2..1}`) is exactly AR. Batch reduction: the mean over each
//! sequence's targets, then over the batch ([`Reduction::PerSequence`]), or over all
//! targets of the batch ([`Reduction::Token`], an ablation).
//!
//! ```
//! use repro_generative_ssl::objective::{Objective, corrupt, mask_count};
//! use repro_core::rng::SplitMix64;
//! assert_eq!(mask_count(0.15, 24)?, 4);
//! let mlm = Objective::Mlm { rho: 0.15, bert_80_10_10: false };
//! let c = corrupt(&[vec![0; 24]], &mlm, 32, &mut SplitMix64::new(0))?;
//! assert_eq!(c.inputs[0].iter().filter(|&&t| t == 33).count(), 4); // MASK = V + 1
//! assert_eq!(c.inputs[0][0], 32); // BOS, never masked
//! # Ok::<(), anyhow::Error>(())
//! ```

use anyhow::{bail, ensure};
use burn::tensor::{Device, Int, Tensor, TensorData};
use repro_core::lm::gather_logprobs;
use repro_core::rng::SplitMix64;
use serde::{Deserialize, Serialize};

use crate::model::{Attn, SeqModel};

/// A pretraining objective.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Objective {
    /// Next-token prediction, causal.
    Ar,
    /// Masked prediction of `⌈ρn⌉` uniform positions, bidirectional.
    Mlm {
        /// Mask ratio in `(0, 1)` (spec: 0.15).
        rho: f64,
        /// BERT's 80/10/10 (MASK / random token / unchanged) among masked positions.
        bert_80_10_10: bool,
    },
    /// Diversity-enhanced AR (our operationalisation): next token plus one random offset.
    Dear {
        /// Largest offset `K_max ≥ 1` (1 is AR).
        k_max: usize,
    },
    /// Variable-length masking (our operationalisation).
    Vlm {
        /// Smallest mask ratio.
        rho_min: f64,
        /// Largest mask ratio.
        rho_max: f64,
        /// Probability of a contiguous suffix mask.
        p_suffix: f64,
    },
}

/// How per-target log-likelihoods are averaged over a batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum Reduction {
    /// Mean over each sequence's targets, then over sequences (spec default).
    #[default]
    PerSequence,
    /// Mean over every target of the batch (ablation).
    Token,
}

const PPM: u64 = 1_000_000;

fn ratio_ppm(name: &str, rho: f64) -> anyhow::Result<u64> {
    ensure!(
        rho.is_finite() && rho > 0.0 && rho < 1.0,
        "mask ratio {name} = {rho} is outside (0, 1)"
    );
    let ppm = (rho * PPM as f64).round() as u64;
    Ok(ppm.clamp(1, PPM - 1))
}

fn count_from_ppm(ppm: u64, n: usize) -> usize {
    (ppm * n as u64).div_ceil(PPM) as usize
}

/// `⌈ρ·n⌉` in integer arithmetic (ρ rounded to parts per million).
///
/// # Errors
/// `ρ` outside `(0, 1)`.
pub fn mask_count(rho: f64, n: usize) -> anyhow::Result<usize> {
    Ok(count_from_ppm(ratio_ppm("rho", rho)?, n))
}

impl Objective {
    /// The spec's settings: AR, MLM ρ = 0.15, DEAR K_max = 4, VLM ρ ~ U(0.05, 0.95) with
    /// p_suffix = 0.5, in that order.
    pub fn standard() -> [Self; 4] {
        [
            Self::Ar,
            Self::Mlm {
                rho: 0.15,
                bert_80_10_10: false,
            },
            Self::Dear { k_max: 4 },
            Self::Vlm {
                rho_min: 0.05,
                rho_max: 0.95,
                p_suffix: 0.5,
            },
        ]
    }

    /// The attention the objective trains (and is probed) with.
    pub fn attn(&self) -> Attn {
        match self {
            Self::Ar | Self::Dear { .. } => Attn::Causal,
            Self::Mlm { .. } | Self::Vlm { .. } => Attn::Bidirectional,
        }
    }

    /// Checks the settings.
    ///
    /// # Errors
    /// A mask ratio outside `(0, 1)`, `rho_min > rho_max`, `p_suffix` outside `[0, 1]`, or
    /// `K_max = 0`.
    pub fn check(&self) -> anyhow::Result<()> {
        match *self {
            Self::Ar => {}
            Self::Mlm { rho, .. } => {
                ratio_ppm("rho", rho)?;
            }
            Self::Dear { k_max } => ensure!(k_max >= 1, "DEAR k_max = 0: K_max must be at least 1"),
            Self::Vlm {
                rho_min,
                rho_max,
                p_suffix,
            } => {
                let (lo, hi) = (
                    ratio_ppm("rho_min", rho_min)?,
                    ratio_ppm("rho_max", rho_max)?,
                );
                ensure!(lo <= hi, "VLM rho_min {rho_min} exceeds rho_max {rho_max}");
                ensure!(
                    (0.0..=1.0).contains(&p_suffix),
                    "VLM p_suffix = {p_suffix} is outside [0, 1]"
                );
            }
        }
        Ok(())
    }
}

/// Corrupted inputs of a masked objective.
#[derive(Debug, Clone, PartialEq)]
pub struct Corrupted {
    /// `[B][n + 1]`: BOS, then `x_1..x_n` with the masked positions replaced.
    pub inputs: Vec<Vec<u32>>,
    /// `[B][n]`: whether `x_i` (entry `i − 1`) is a target.
    pub targets: Vec<Vec<bool>>,
}

/// `m` distinct positions of `0..n`, uniform (partial Fisher–Yates).
fn choose(n: usize, m: usize, rng: &mut SplitMix64) -> Vec<usize> {
    let mut idx: Vec<usize> = (0..n).collect();
    for i in 0..m {
        let j = i + rng.below(n - i);
        idx.swap(i, j);
    }
    idx.truncate(m);
    idx
}

/// The input corruption of MLM and VLM (host): BOS at position 0, never masked.
///
/// # Errors
/// AR or DEAR (nothing to corrupt), bad settings ([`Objective::check`]), a token outside
/// `0..vocab`, or ragged or empty sequences.
pub fn corrupt(
    x: &[Vec<u32>],
    obj: &Objective,
    vocab: usize,
    rng: &mut SplitMix64,
) -> anyhow::Result<Corrupted> {
    obj.check()?;
    let n = check_batch(x, vocab)?;
    let (bos, mask) = (vocab as u32, vocab as u32 + 1);
    let mut inputs = Vec::with_capacity(x.len());
    let mut targets = Vec::with_capacity(x.len());
    for row in x {
        let (positions, bert) = match *obj {
            Objective::Mlm { rho, bert_80_10_10 } => (
                choose(n, count_from_ppm(ratio_ppm("rho", rho)?, n), rng),
                bert_80_10_10,
            ),
            Objective::Vlm {
                rho_min,
                rho_max,
                p_suffix,
            } => {
                let (lo, hi) = (
                    ratio_ppm("rho_min", rho_min)?,
                    ratio_ppm("rho_max", rho_max)?,
                );
                let ppm = lo + rng.below((hi - lo + 1) as usize) as u64;
                let m = count_from_ppm(ppm, n);
                let pos = if rng.next_f64() < p_suffix {
                    (n - m..n).collect()
                } else {
                    choose(n, m, rng)
                };
                (pos, false)
            }
            Objective::Ar | Objective::Dear { .. } => {
                bail!("corrupt: {obj:?} has no input corruption")
            }
        };
        let mut inp = Vec::with_capacity(n + 1);
        inp.push(bos);
        inp.extend(row);
        let mut tgt = vec![false; n];
        for &p in &positions {
            tgt[p] = true;
            inp[p + 1] = if bert {
                let u = rng.next_f64();
                if u < 0.8 {
                    mask
                } else if u < 0.9 {
                    rng.below(vocab) as u32
                } else {
                    row[p]
                }
            } else {
                mask
            };
        }
        inputs.push(inp);
        targets.push(tgt);
    }
    Ok(Corrupted { inputs, targets })
}

/// The common length `n ≥ 1` of a non-empty batch of in-vocabulary sequences.
pub(crate) fn check_batch(x: &[Vec<u32>], vocab: usize) -> anyhow::Result<usize> {
    ensure!(!x.is_empty(), "an empty batch");
    let n = x[0].len();
    ensure!(n >= 1, "empty sequences");
    for (i, row) in x.iter().enumerate() {
        ensure!(
            row.len() == n,
            "sequence {i} has length {}, expected {n}",
            row.len()
        );
        if let Some(&t) = row.iter().find(|&&t| t as usize >= vocab) {
            bail!("sequence {i}: token {t} is outside the vocabulary 0..{vocab}");
        }
    }
    Ok(n)
}

/// Token ids as a `[B, T]` tensor.
pub fn ids_tensor(rows: &[Vec<u32>], device: &Device) -> Tensor<2, Int> {
    let (b, t) = (rows.len(), rows.first().map_or(0, Vec::len));
    let flat: Vec<i64> = rows.iter().flatten().map(|&v| i64::from(v)).collect();
    Tensor::from_data(TensorData::new(flat, [b, t]), device)
}

fn weights_tensor(rows: &[Vec<f32>], device: &Device) -> Tensor<2> {
    let (b, t) = (rows.len(), rows.first().map_or(0, Vec::len));
    Tensor::from_data(TensorData::new(rows.concat(), [b, t]), device)
}

/// `−` the weighted mean of `lp` under `reduction`.
///
/// # Shapes
/// - `lp`, `w`: `[B, T]` -> `[1]`
fn reduce(lp: Tensor<2>, w: Tensor<2>, reduction: Reduction) -> Tensor<1> {
    let num = (lp * w.clone()).sum_dim(1); // [B, 1]
    match reduction {
        Reduction::PerSequence => (num / w.sum_dim(1)).mean().neg().reshape([1]),
        Reduction::Token => (num.sum() / w.sum()).neg().reshape([1]),
    }
}

/// The objective's loss on a batch `x` (`[B][n]`, no BOS), with corruption and offsets
/// drawn from `rng`, on `device` (the model's).
///
/// # Shapes
/// - returns `[1]`
///
/// # Errors
/// Bad settings, `n + 1` above the model's `max_len`, DEAR's `K_max` above the model's,
/// bad tokens.
pub fn objective_loss(
    m: &SeqModel,
    obj: &Objective,
    reduction: Reduction,
    x: &[Vec<u32>],
    rng: &mut SplitMix64,
    device: &Device,
) -> anyhow::Result<Tensor<1>> {
    obj.check()?;
    let n = check_batch(x, m.vocab())?;
    match *obj {
        Objective::Ar => causal_loss(m, 1, reduction, x, n, rng, device),
        Objective::Dear { k_max } => causal_loss(m, k_max, reduction, x, n, rng, device),
        Objective::Mlm { .. } | Objective::Vlm { .. } => {
            let c = corrupt(x, obj, m.vocab(), rng)?;
            let h = m.hidden(ids_tensor(&c.inputs, device), Attn::Bidirectional)?; // [B, n+1, d]
            let b = x.len();
            let d = h.dims()[2];
            let logits = m.logits(h.slice([0..b, 1..n + 1, 0..d]), 1)?; // [B, n, V]
            let lp = gather_logprobs(logits, ids_tensor(x, device)); // [B, n]
            let w: Vec<Vec<f32>> = c
                .targets
                .iter()
                .map(|r| r.iter().map(|&t| f32::from(u8::from(t))).collect())
                .collect();
            Ok(reduce(lp, weights_tensor(&w, device), reduction))
        }
    }
}

/// AR (`k_max = 1`) and DEAR: one causal pass over `BOS, x_1..x_{n−1}`; position `i`
/// predicts `x_{i+1}` and, for `k_max > 1`, `x_{i+k'_i}` through `e_{k'_i}`.
fn causal_loss(
    m: &SeqModel,
    k_max: usize,
    reduction: Reduction,
    x: &[Vec<u32>],
    n: usize,
    rng: &mut SplitMix64,
    device: &Device,
) -> anyhow::Result<Tensor<1>> {
    ensure!(
        k_max <= m.k_max(),
        "DEAR k_max = {k_max} exceeds the model's k_max = {}",
        m.k_max()
    );
    let b = x.len();
    let inputs: Vec<Vec<u32>> = x
        .iter()
        .map(|r| {
            std::iter::once(m.bos())
                .chain(r[..n - 1].iter().copied())
                .collect()
        })
        .collect();
    let h = m.hidden(ids_tensor(&inputs, device), Attn::Causal)?; // [B, n, d]
    let lp1 = gather_logprobs(m.logits(h.clone(), 1)?, ids_tensor(x, device)); // [B, n]
    let ones = Tensor::<2>::ones([b, n], device);
    if k_max == 1 {
        // The empty range U{2..1}: exactly AR.
        return Ok(reduce(lp1, ones, reduction));
    }
    let mut offs = Vec::with_capacity(b * n);
    let mut tgt = Vec::with_capacity(b);
    let mut w = Vec::with_capacity(b);
    for row in x {
        let (mut t_row, mut w_row) = (Vec::with_capacity(n), Vec::with_capacity(n));
        for i in 0..n {
            let k = 2 + rng.below(k_max - 1);
            offs.push((k - 2) as i64);
            let valid = i + k <= n; // target x_{i+k} = row[i + k − 1]
            t_row.push(if valid { row[i + k - 1] } else { 0 });
            w_row.push(f32::from(u8::from(valid)));
        }
        tgt.push(t_row);
        w.push(w_row);
    }
    let offs = Tensor::<2, Int>::from_data(TensorData::new(offs, [b, n]), device);
    let lp2 = gather_logprobs(m.logits_at_offsets(h, offs), ids_tensor(&tgt, device)); // [B, n]
    let lp = Tensor::cat(vec![lp1, lp2], 1); // [B, 2n]
    let w = Tensor::cat(vec![ones, weights_tensor(&w, device)], 1);
    Ok(reduce(lp, w, reduction))
}

#[cfg(test)]
mod tests {
    use super::*;
    use repro_core::device::{init_params_now, seed, seed_lock};

    use crate::model::SeqModelConfig;

    fn batch(b: usize, n: usize, seed: u64) -> Vec<Vec<u32>> {
        let mut r = SplitMix64::new(seed);
        (0..b)
            .map(|_| (0..n).map(|_| r.below(8) as u32).collect())
            .collect()
    }

    fn model() -> SeqModel {
        let device = Device::flex();
        seed(&device, 11);
        init_params_now(
            SeqModelConfig::new(8, 13)
                .with_d_model(16)
                .with_k_max(4)
                .init(&device)
                .unwrap(),
        )
    }

    #[test]
    fn mask_counts_are_exact_integers() {
        assert_eq!(mask_count(0.15, 24).unwrap(), 4);
        assert_eq!(mask_count(0.05, 20).unwrap(), 1);
        assert_eq!(mask_count(0.05, 24).unwrap(), 2);
        assert_eq!(mask_count(0.95, 24).unwrap(), 23);
        assert_eq!(mask_count(0.25, 24).unwrap(), 6);
        for bad in [0.0, 1.0, -0.1, 1.5, f64::NAN] {
            let e = mask_count(bad, 24).unwrap_err().to_string();
            assert!(e.contains("outside (0, 1)"), "{e}");
        }
    }

    #[test]
    fn mlm_masks_exactly_four_and_never_bos() {
        let x = batch(200, 24, 1);
        let obj = Objective::Mlm {
            rho: 0.15,
            bert_80_10_10: false,
        };
        let c = corrupt(&x, &obj, 8, &mut SplitMix64::new(2)).unwrap();
        for (i, (inp, t)) in c.inputs.iter().zip(&c.targets).enumerate() {
            assert_eq!(inp[0], 8, "BOS");
            assert_eq!(inp.iter().filter(|&&v| v == 9).count(), 4);
            assert_eq!(t.iter().filter(|&&v| v).count(), 4);
            for p in 0..24 {
                assert_eq!(inp[p + 1] == 9, t[p]);
                if !t[p] {
                    assert_eq!(inp[p + 1], x[i][p]);
                }
            }
        }
    }

    #[test]
    fn vlm_counts_suffixes_and_the_mlm_limit() {
        let x = batch(2000, 24, 3);
        let obj = Objective::Vlm {
            rho_min: 0.05,
            rho_max: 0.95,
            p_suffix: 0.5,
        };
        let c = corrupt(&x, &obj, 8, &mut SplitMix64::new(4)).unwrap();
        let (mut lo, mut hi, mut suffixes) = (usize::MAX, 0, 0);
        for t in &c.targets {
            let m = t.iter().filter(|&&v| v).count();
            assert!((2..=23).contains(&m), "{m}");
            (lo, hi) = (lo.min(m), hi.max(m));
            suffixes += usize::from(t[24 - m..].iter().all(|&v| v));
        }
        assert_eq!((lo, hi), (2, 23));
        // Suffix mode always masks a suffix; uniform positions rarely do (2000 rows).
        assert!(suffixes > 900 && suffixes < 1300, "{suffixes}");
        let all_suffix = Objective::Vlm {
            rho_min: 0.05,
            rho_max: 0.95,
            p_suffix: 1.0,
        };
        let c = corrupt(&x, &all_suffix, 8, &mut SplitMix64::new(5)).unwrap();
        for t in &c.targets {
            let m = t.iter().filter(|&&v| v).count();
            assert!(t[..24 - m].iter().all(|&v| !v) && t[24 - m..].iter().all(|&v| v));
        }
        // ρ fixed at 0.15 and no suffixes: MLM's count, and position frequencies ≈ 4/24.
        let fixed = Objective::Vlm {
            rho_min: 0.15,
            rho_max: 0.15,
            p_suffix: 0.0,
        };
        let c = corrupt(&x, &fixed, 8, &mut SplitMix64::new(6)).unwrap();
        let mut freq = [0usize; 24];
        for t in &c.targets {
            assert_eq!(t.iter().filter(|&&v| v).count(), 4);
            t.iter()
                .enumerate()
                .filter(|(_, v)| **v)
                .for_each(|(p, _)| freq[p] += 1);
        }
        // Each position is masked with p = 1/6: 333 of 2000, sd ≈ 17; 5 sd.
        assert!(
            freq.iter().all(|&f| (f as f64 - 333.3).abs() < 85.0),
            "{freq:?}"
        );
    }

    #[test]
    fn dear_with_k_max_one_is_exactly_ar() {
        let _g = seed_lock();
        let m = model();
        let d = Device::flex();
        let x = batch(6, 12, 7);
        let ar = objective_loss(
            &m,
            &Objective::Ar,
            Reduction::PerSequence,
            &x,
            &mut SplitMix64::new(1),
            &d,
        )
        .unwrap();
        let dear1 = objective_loss(
            &m,
            &Objective::Dear { k_max: 1 },
            Reduction::PerSequence,
            &x,
            &mut SplitMix64::new(99),
            &d,
        )
        .unwrap();
        assert_eq!(ar.into_scalar::<f32>(), dear1.clone().into_scalar::<f32>());
        let dear4 = objective_loss(
            &m,
            &Objective::Dear { k_max: 4 },
            Reduction::PerSequence,
            &x,
            &mut SplitMix64::new(1),
            &d,
        )
        .unwrap();
        assert_ne!(dear1.into_scalar::<f32>(), dear4.into_scalar::<f32>());
    }

    #[test]
    fn masked_loss_ignores_targets_outside_the_mask() {
        let _g = seed_lock();
        let m = model();
        let d = Device::flex();
        let obj = Objective::Mlm {
            rho: 0.15,
            bert_80_10_10: false,
        };
        let x = batch(4, 12, 8);
        // The same corruption stream: the masked positions are the same in both batches.
        let c = corrupt(&x, &obj, 8, &mut SplitMix64::new(3)).unwrap();
        let mut y = x.clone();
        for (row, t) in y.iter_mut().zip(&c.targets) {
            for (p, v) in row.iter_mut().enumerate() {
                if !t[p] {
                    *v = (*v + 1) % 8; // changes visible inputs too
                }
            }
        }
        let lx = objective_loss(
            &m,
            &obj,
            Reduction::PerSequence,
            &x,
            &mut SplitMix64::new(3),
            &d,
        )
        .unwrap();
        // Manual reference: −mean over rows of the mean masked log-probability.
        let h = m
            .hidden(ids_tensor(&c.inputs, &d), Attn::Bidirectional)
            .unwrap();
        let logits = m.logits(h.slice([0..4, 1..13, 0..16]), 1).unwrap();
        let lp: Vec<f32> = gather_logprobs(logits, ids_tensor(&x, &d))
            .into_data()
            .try_to_vec()
            .unwrap();
        let mut manual = 0.0f64;
        for (r, t) in c.targets.iter().enumerate() {
            let s: f64 = (0..12)
                .filter(|&p| t[p])
                .map(|p| f64::from(lp[r * 12 + p]))
                .sum();
            manual -= s / t.iter().filter(|&&v| v).count() as f64;
        }
        manual /= 4.0;
        assert!((f64::from(lx.into_scalar::<f32>()) - manual).abs() < 1e-5);
        let ly = objective_loss(
            &m,
            &obj,
            Reduction::PerSequence,
            &y,
            &mut SplitMix64::new(3),
            &d,
        )
        .unwrap();
        assert!(ly.into_scalar::<f32>().is_finite());
    }

    #[test]
    fn bad_settings_are_errors() {
        let _g = seed_lock();
        let m = model();
        let d = Device::flex();
        let x = batch(2, 12, 1);
        let e = objective_loss(
            &m,
            &Objective::Dear { k_max: 0 },
            Reduction::PerSequence,
            &x,
            &mut SplitMix64::new(0),
            &d,
        )
        .unwrap_err();
        assert!(e.to_string().contains("k_max"), "{e}");
        let e = objective_loss(
            &m,
            &Objective::Dear { k_max: 8 },
            Reduction::PerSequence,
            &x,
            &mut SplitMix64::new(0),
            &d,
        )
        .unwrap_err();
        assert!(e.to_string().contains("exceeds"), "{e}");
        let bad = Objective::Vlm {
            rho_min: 0.5,
            rho_max: 0.2,
            p_suffix: 0.5,
        };
        assert!(bad.check().unwrap_err().to_string().contains("rho_min"));
        let bad = Objective::Mlm {
            rho: 1.0,
            bert_80_10_10: false,
        };
        assert!(
            objective_loss(
                &m,
                &bad,
                Reduction::PerSequence,
                &x,
                &mut SplitMix64::new(0),
                &d
            )
            .is_err()
        );
        let long = batch(2, 13, 1);
        let e = objective_loss(
            &m,
            &Objective::Mlm {
                rho: 0.15,
                bert_80_10_10: false,
            },
            Reduction::PerSequence,
            &long,
            &mut SplitMix64::new(0),
            &d,
        )
        .unwrap_err();
        assert!(e.to_string().contains("max_len"), "{e}");
        assert!(corrupt(&[vec![9u32; 4]], &bad, 8, &mut SplitMix64::new(0)).is_err());
    }
}

//! Token–class alignment on the host, from exact joint counts, in f64: TCAS_repro, its
//! cross-fitted form and the conditional-entropy ratio.
//!
//! **Our operationalisation** (spec §3 \[reconstructed\]; the paper's own TCAS formula is
//! not reproduced). For the joint distribution `P(s, y)` of token `s` and class `y` over
//! train patches (every patch carries its image's label):
//!
//! ```text
//! IC(t)      = 1 − Σ_s P(s) Σ_l P(l|s)²             expected Gini impurity of y given s
//! TCAS_repro = IC(t) / (1 − Σ_l P(l)²)              in [0, 1]; 0 = class-aligned tokens
//! H-ratio    = H(Y|S) / H(Y)                        in [0, 1]
//! IC_cf      = 1 − Σ_s P_B(s) Σ_l P_A(l|s) P_B(l|s)   (fit on half A, evaluate on half B)
//! TCAS_cf    = IC_cf / (1 − Σ_l P_B(l)²)
//! ```
//!
//! A token never seen in A counts as impurity 1 in the cross-fitted form. Because its
//! normaliser uses B's label distribution and the cross term is not a square, **TCAS_cf can
//! exceed 1** (tokens whose class profile in A disagrees with B's); this is allowed and
//! reported as is.
//!
//! Counts are `[K, C]` row-major (token-major). Impurity numerators are formed in integer
//! arithmetic (`n_s² − Σ_l n_sl²`), so class-aligned tokens give exactly 0.
//!
//! ```
//! use repro_mim_tokens::alignment::{cond_entropy_ratio, joint_counts, tcas};
//! // P(s, y) = [[0.4, 0.1], [0.1, 0.4]] over 10 patches.
//! let tokens = [0, 0, 0, 0, 0, 1, 1, 1, 1, 1];
//! let labels = [0, 0, 0, 0, 1, 0, 1, 1, 1, 1];
//! let n = joint_counts(&tokens, &labels, 2, 2)?;
//! assert!((tcas(&n, 2, 2) - 0.64).abs() < 1e-12);
//! assert!((cond_entropy_ratio(&n, 2, 2) - 0.7219281).abs() < 1e-7);
//! # Ok::<(), repro_mim_tokens::Error>(())
//! ```

use crate::Error;

/// Joint counts `[K, C]` (token-major) of `tokens[i]` and `labels[i]`.
///
/// # Errors
/// [`Error::Config`] on different lengths, or an id not below `k` / `c`.
pub fn joint_counts(tokens: &[u32], labels: &[u32], k: usize, c: usize) -> Result<Vec<u64>, Error> {
    if tokens.len() != labels.len() {
        return Err(Error::Config(format!(
            "joint counts: {} tokens but {} labels",
            tokens.len(),
            labels.len()
        )));
    }
    let mut n = vec![0u64; k * c];
    for (&s, &y) in tokens.iter().zip(labels) {
        let (s, y) = (s as usize, y as usize);
        if s >= k || y >= c {
            return Err(Error::Config(format!(
                "joint counts: token {s} (K = {k}) or class {y} (C = {c}) out of range"
            )));
        }
        n[s * c + y] += 1;
    }
    Ok(n)
}

fn row(counts: &[u64], s: usize, c: usize) -> &[u64] {
    &counts[s * c..(s + 1) * c]
}

fn class_totals(counts: &[u64], k: usize, c: usize) -> Vec<u64> {
    (0..c)
        .map(|l| (0..k).map(|s| counts[s * c + l]).sum())
        .collect()
}

/// `1 − Σ_l P(l)²` from class totals.
fn gini(totals: &[u64]) -> f64 {
    let n: u128 = totals.iter().map(|&v| u128::from(v)).sum();
    let sq: u128 = totals.iter().map(|&v| u128::from(v) * u128::from(v)).sum();
    if n == 0 {
        return f64::NAN;
    }
    (n * n - sq) as f64 / (n * n) as f64
}

/// The expected class impurity given the token, `IC(t)`.
pub fn impurity(counts: &[u64], k: usize, c: usize) -> f64 {
    let total: u64 = counts.iter().sum();
    if total == 0 {
        return f64::NAN;
    }
    let mut sum = 0.0;
    for s in 0..k {
        let r = row(counts, s, c);
        let ns: u128 = r.iter().map(|&v| u128::from(v)).sum();
        if ns == 0 {
            continue;
        }
        let sq: u128 = r.iter().map(|&v| u128::from(v) * u128::from(v)).sum();
        // P(s) (1 − Σ_l P(l|s)²) = (n_s² − Σ_l n_sl²) / (n_s N)
        sum += (ns * ns - sq) as f64 / ns as f64;
    }
    sum / total as f64
}

/// `TCAS_repro = IC / (1 − Σ_l P(l)²)`; NaN without counts or with a single class.
pub fn tcas(counts: &[u64], k: usize, c: usize) -> f64 {
    let g = gini(&class_totals(counts, k, c));
    if g.is_nan() || g <= 0.0 {
        return f64::NAN;
    }
    impurity(counts, k, c) / g
}

/// `H(Y|S) / H(Y)` with natural logarithms (the ratio does not depend on the base).
pub fn cond_entropy_ratio(counts: &[u64], k: usize, c: usize) -> f64 {
    let total: u64 = counts.iter().sum();
    let n = total as f64;
    let totals = class_totals(counts, k, c);
    let h_y: f64 = totals
        .iter()
        .filter(|&&v| v > 0)
        .map(|&v| -(v as f64 / n) * (v as f64 / n).ln())
        .sum();
    let mut h_ys = 0.0;
    for s in 0..k {
        let r = row(counts, s, c);
        let ns: u64 = r.iter().sum();
        for &v in r.iter().filter(|&&v| v > 0) {
            h_ys -= (v as f64 / n) * (v as f64 / ns as f64).ln();
        }
    }
    if h_y.is_nan() || h_y <= 0.0 {
        return f64::NAN;
    }
    h_ys / h_y
}

/// Cross-fitted TCAS: token class profiles `P_A(l|s)` from `fit`, evaluated on `eval`
/// (`IC_cf = 1 − Σ_s P_B(s) Σ_l P_A(l|s) P_B(l|s)`), normalised by `eval`'s
/// `1 − Σ_l P_B(l)²`. A token unseen in `fit` counts as impurity 1. May exceed 1.
pub fn tcas_cross_fitted(fit: &[u64], eval: &[u64], k: usize, c: usize) -> f64 {
    let total: u64 = eval.iter().sum();
    let g = gini(&class_totals(eval, k, c));
    if total == 0 || g.is_nan() || g <= 0.0 {
        return f64::NAN;
    }
    let mut agree = 0.0;
    for s in 0..k {
        let (a, b) = (row(fit, s, c), row(eval, s, c));
        let na: u64 = a.iter().sum();
        let nb: u64 = b.iter().sum();
        if na == 0 || nb == 0 {
            continue;
        }
        // P_B(s) Σ_l P_A(l|s) P_B(l|s) = Σ_l a_l b_l / (n_A,s N_B)
        let dot: u128 = a
            .iter()
            .zip(b)
            .map(|(&x, &y)| u128::from(x) * u128::from(y))
            .sum();
        agree += dot as f64 / na as f64;
    }
    (1.0 - agree / total as f64) / g
}

/// The three measures of one tokenizer on train patches, and the cross-fitted value on an
/// image-level 50/50 split.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Alignment {
    /// TCAS_repro.
    pub tcas: f64,
    /// Cross-fitted TCAS (mean of A→B and B→A).
    pub tcas_cf: f64,
    /// `H(Y|S) / H(Y)`.
    pub h_ratio: f64,
    /// Token ids with no train patch.
    pub empty_tokens: usize,
}

/// [`Alignment`] of per-patch `tokens` (`patches` per image, image-major) against image
/// `labels`, the cross-fitted value on the halves `half[i]` (false = A, true = B).
///
/// # Errors
/// What [`joint_counts`] rejects, or lengths that do not match.
pub fn alignment(
    tokens: &[u32],
    labels: &[u32],
    patches: usize,
    half: &[bool],
    k: usize,
    c: usize,
) -> Result<Alignment, Error> {
    if tokens.len() != labels.len() * patches || half.len() != labels.len() {
        return Err(Error::Config(format!(
            "alignment: {} tokens, {} labels, {} halves for {patches} patches per image",
            tokens.len(),
            labels.len(),
            half.len()
        )));
    }
    let per_patch: Vec<u32> = labels
        .iter()
        .flat_map(|&y| std::iter::repeat_n(y, patches))
        .collect();
    let all = joint_counts(tokens, &per_patch, k, c)?;
    let (mut a, mut b) = (vec![0u64; k * c], vec![0u64; k * c]);
    for (i, (&s, &y)) in tokens.iter().zip(&per_patch).enumerate() {
        let t = if half[i / patches] { &mut b } else { &mut a };
        t[s as usize * c + y as usize] += 1;
    }
    let empty_tokens = (0..k)
        .filter(|&s| row(&all, s, c).iter().all(|&v| v == 0))
        .count();
    Ok(Alignment {
        tcas: tcas(&all, k, c),
        tcas_cf: 0.5 * (tcas_cross_fitted(&a, &b, k, c) + tcas_cross_fitted(&b, &a, k, c)),
        h_ratio: cond_entropy_ratio(&all, k, c),
        empty_tokens,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use repro_core::rng::SplitMix64;

    /// P(s, y) = [[0.4, 0.1], [0.1, 0.4]] as counts of 10.
    const HAND: [u64; 4] = [4, 1, 1, 4];

    #[test]
    fn hand_values() {
        // P(s) = 0.5, P(l|s) = (0.8, 0.2): IC = 1 − (0.64 + 0.04) = 0.32; P(l) = 0.5 so
        // the normaliser is 0.5 and TCAS = 0.64; H(Y|S) = −0.8 ln 0.8 − 0.2 ln 0.2 =
        // 0.500402, H(Y) = ln 2: ratio 0.7219281.
        assert!((impurity(&HAND, 2, 2) - 0.32).abs() < 1e-15);
        assert!((tcas(&HAND, 2, 2) - 0.64).abs() < 1e-15);
        assert!((cond_entropy_ratio(&HAND, 2, 2) - 0.721_928_1).abs() < 1e-7);
    }

    #[test]
    fn class_aligned_tokens_are_exactly_zero_and_outer_products_exactly_one() {
        // ORACLE: token = class (and a split class over two tokens).
        let oracle = [7, 0, 0, 0, 5, 0, 0, 0, 9, 3, 0, 0];
        assert_eq!(tcas(&oracle, 4, 3), 0.0);
        assert_eq!(cond_entropy_ratio(&oracle, 4, 3), 0.0);
        // a = (1, 2, 3), b = (2, 2): every impurity term is an exact dyadic value.
        let outer: Vec<u64> = [1u64, 2, 3]
            .iter()
            .flat_map(|a| [2u64, 2].map(|b| a * b))
            .collect();
        assert_eq!(tcas(&outer, 3, 2), 1.0);
        assert_eq!(cond_entropy_ratio(&outer, 3, 2), 1.0);
    }

    fn random_table(rng: &mut SplitMix64, k: usize, c: usize) -> Vec<u64> {
        (0..k * c).map(|_| rng.below(20) as u64).collect()
    }

    #[test]
    fn random_tables_stay_in_range_and_ignore_relabelling() {
        let mut rng = SplitMix64::new(3);
        for _ in 0..200 {
            let (k, c) = (1 + rng.below(12), 2 + rng.below(5));
            let t = random_table(&mut rng, k, c);
            let (v, h) = (tcas(&t, k, c), cond_entropy_ratio(&t, k, c));
            if !v.is_finite() {
                continue; // an empty or single-class table
            }
            assert!((-1e-12..=1.0 + 1e-12).contains(&v), "{v} {t:?}");
            assert!((-1e-12..=1.0 + 1e-12).contains(&h), "{h} {t:?}");
            // Reverse token ids and rotate class ids.
            let p: Vec<u64> = (0..k * c)
                .map(|i| {
                    let (s, l) = (i / c, i % c);
                    t[(k - 1 - s) * c + (l + 1) % c]
                })
                .collect();
            // Only the summation order changes: f64 rounding.
            assert!((tcas(&p, k, c) - v).abs() < 1e-12);
            assert!((cond_entropy_ratio(&p, k, c) - h).abs() < 1e-12);
        }
        // Class-independent random outer products: 1 up to rounding.
        for _ in 0..50 {
            let (k, c) = (1 + rng.below(8), 2 + rng.below(4));
            let a: Vec<u64> = (0..k).map(|_| 1 + rng.below(9) as u64).collect();
            let b: Vec<u64> = (0..c).map(|_| 1 + rng.below(9) as u64).collect();
            let t: Vec<u64> = a
                .iter()
                .flat_map(|x| b.iter().map(move |y| x * y))
                .collect();
            assert!((tcas(&t, k, c) - 1.0).abs() < 1e-12);
        }
    }

    #[test]
    fn cross_fitted_equals_plain_on_identical_halves_and_can_exceed_one() {
        // Same profile on both halves: Σ_l P_A P_B = Σ_l P(l|s)², so TCAS_cf = TCAS.
        assert!((tcas_cross_fitted(&HAND, &HAND, 2, 2) - 0.64).abs() < 1e-15);
        // A says token 0 → class 0, B says token 0 → class 1: no agreement at all, IC_cf = 1
        // over a normaliser of 0.5 -> 2.
        let a = [1, 0, 0, 1];
        let b = [0, 1, 1, 0];
        assert!((tcas_cross_fitted(&a, &b, 2, 2) - 2.0).abs() < 1e-15);
        // A token unseen in A counts as impurity 1.
        let a = [4, 1, 0, 0];
        assert!((tcas_cross_fitted(&a, &HAND, 2, 2) - (1.0 - 0.5 * 0.68) / 0.5).abs() < 1e-15);
    }

    #[test]
    fn alignment_splits_by_image() {
        // Four images of 2 patches, labels (0, 1, 0, 1), halves (A, A, B, B).
        let (labels, half) = ([0, 1, 0, 1], [false, false, true, true]);
        let aligned = [0, 0, 1, 1, 0, 0, 1, 1];
        let al = alignment(&aligned, &labels, 2, &half, 3, 2).unwrap();
        assert_eq!((al.tcas, al.tcas_cf, al.h_ratio), (0.0, 0.0, 0.0));
        assert_eq!(al.empty_tokens, 1); // token 2 never occurs
        // Image 3 uses token 2, unseen in A; image 1 token 1, unseen in B: each direction
        // has impurity 1 on half its patches, IC_cf = 0.5 over a normaliser of 0.5.
        let al = alignment(&[0, 0, 1, 1, 0, 0, 2, 2], &labels, 2, &half, 3, 2).unwrap();
        assert!((al.tcas_cf - 1.0).abs() < 1e-15, "{al:?}");
        let e = alignment(&[0, 0, 5, 1, 0, 0, 1, 1], &labels, 2, &half, 2, 2).unwrap_err();
        assert!(e.to_string().contains("token 5"), "{e}");
    }
}

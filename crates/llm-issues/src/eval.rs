//! Evaluation: per-class precision, recall and F1, macro and micro averages, the
//! confusion matrix, Cohen's κ and a paired, stratified bootstrap of a macro-F1 difference.
//!
//! Macro-F1 averages the per-class F1 over **all** `k` classes (a class never predicted
//! and never present scores 0, scikit-learn's `zero_division=0`); micro-F1 equals accuracy
//! for single-label data. On balanced three-class data a constant predictor scores
//! macro-F1 1/6 and micro-F1 1/3: the two differ (the spec's "macro = micro" is an
//! erratum), and the NLBSE'24 score is macro-F1.
//!
//! ```
//! use repro_llm_issues::eval::{classification_report, cohen_kappa};
//! let gold = [0, 0, 1, 1, 2, 2];
//! let constant = [0; 6];
//! let r = classification_report(&gold, &constant, 3)?;
//! assert!((r.macro_f1 - 1.0 / 6.0).abs() < 1e-12);
//! assert!((r.micro_f1 - 1.0 / 3.0).abs() < 1e-12);
//! assert_eq!(cohen_kappa(&gold, &gold, 3)?, Some(1.0));
//! # Ok::<(), repro_llm_issues::eval::EvalError>(())
//! ```

use repro_core::rng::{SplitMix64, stream};
use serde::{Deserialize, Serialize};

/// Bad evaluation input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EvalError {
    /// Lengths differ.
    #[error("{what}: {a} values against {b}")]
    Length {
        /// Which input.
        what: &'static str,
        /// First length.
        a: usize,
        /// Second length.
        b: usize,
    },
    /// A label is not below `k`.
    #[error("label {label} at position {index} is not below k = {k}")]
    Label {
        /// The label.
        label: usize,
        /// Where.
        index: usize,
        /// Classes.
        k: usize,
    },
    /// Nothing to evaluate.
    #[error("empty input: nothing to evaluate")]
    Empty,
}

/// One class's scores.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ClassMetrics {
    /// TP / (TP + FP), 0 when nothing was predicted.
    pub precision: f64,
    /// TP / (TP + FN), 0 when the class is absent.
    pub recall: f64,
    /// 2TP / (2TP + FP + FN), 0 when all are 0.
    pub f1: f64,
    /// Gold items of the class.
    pub support: u64,
}

/// A classification report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClsReport {
    /// Classes.
    pub k: usize,
    /// Per class.
    pub per_class: Vec<ClassMetrics>,
    /// Mean precision over classes.
    pub macro_precision: f64,
    /// Mean recall over classes.
    pub macro_recall: f64,
    /// Mean F1 over classes (the NLBSE'24 score).
    pub macro_f1: f64,
    /// Micro-averaged F1 (= accuracy for single-label data).
    pub micro_f1: f64,
    /// Fraction correct.
    pub accuracy: f64,
    /// `confusion[gold][pred]`.
    pub confusion: Vec<Vec<u64>>,
}

fn check(gold: &[usize], pred: &[usize], k: usize) -> Result<(), EvalError> {
    if gold.len() != pred.len() {
        return Err(EvalError::Length {
            what: "gold and predicted labels",
            a: gold.len(),
            b: pred.len(),
        });
    }
    if gold.is_empty() {
        return Err(EvalError::Empty);
    }
    for (index, &label) in gold.iter().chain(pred).enumerate() {
        if label >= k {
            return Err(EvalError::Label {
                label,
                index: index % gold.len(),
                k,
            });
        }
    }
    Ok(())
}

/// Macro-F1 from a confusion matrix (`cm[g * k + p]`).
fn macro_f1_of(cm: &[u64], k: usize) -> f64 {
    let mut sum = 0.0;
    for c in 0..k {
        let tp = cm[c * k + c];
        let fp: u64 = (0..k).map(|g| cm[g * k + c]).sum::<u64>() - tp;
        let fneg: u64 = (0..k).map(|p| cm[c * k + p]).sum::<u64>() - tp;
        let d = 2 * tp + fp + fneg;
        if d > 0 {
            sum += 2.0 * tp as f64 / d as f64;
        }
    }
    sum / k as f64
}

/// The report of `pred` against `gold` over classes `0..k`.
pub fn classification_report(
    gold: &[usize],
    pred: &[usize],
    k: usize,
) -> Result<ClsReport, EvalError> {
    check(gold, pred, k)?;
    let mut confusion = vec![vec![0u64; k]; k];
    for (&g, &p) in gold.iter().zip(pred) {
        confusion[g][p] += 1;
    }
    let ratio = |a: u64, b: u64| if b == 0 { 0.0 } else { a as f64 / b as f64 };
    let per_class: Vec<ClassMetrics> = (0..k)
        .map(|c| {
            let tp = confusion[c][c];
            let predicted: u64 = (0..k).map(|g| confusion[g][c]).sum();
            let support: u64 = confusion[c].iter().sum();
            ClassMetrics {
                precision: ratio(tp, predicted),
                recall: ratio(tp, support),
                f1: ratio(2 * tp, predicted + support),
                support,
            }
        })
        .collect();
    let mean = |f: fn(&ClassMetrics) -> f64| per_class.iter().map(f).sum::<f64>() / k as f64;
    let correct: u64 = (0..k).map(|c| confusion[c][c]).sum();
    let accuracy = correct as f64 / gold.len() as f64;
    Ok(ClsReport {
        k,
        macro_precision: mean(|m| m.precision),
        macro_recall: mean(|m| m.recall),
        macro_f1: mean(|m| m.f1),
        micro_f1: accuracy,
        accuracy,
        per_class,
        confusion,
    })
}

/// Cohen's κ of two raters over classes `0..k`: `(p_o − p_e) / (1 − p_e)`. `None` when it is
/// undefined (`p_e = 1`: both raters constant on the same class).
pub fn cohen_kappa(a: &[usize], b: &[usize], k: usize) -> Result<Option<f64>, EvalError> {
    check(a, b, k)?;
    let n = a.len() as f64;
    let mut ra = vec![0f64; k];
    let mut rb = vec![0f64; k];
    let mut agree = 0f64;
    for (&x, &y) in a.iter().zip(b) {
        ra[x] += 1.0;
        rb[y] += 1.0;
        if x == y {
            agree += 1.0;
        }
    }
    let po = agree / n;
    let pe: f64 = ra.iter().zip(&rb).map(|(x, y)| x * y).sum::<f64>() / (n * n);
    if (1.0 - pe).abs() < 1e-15 {
        return Ok(None);
    }
    Ok(Some((po - pe) / (1.0 - pe)))
}

/// A bootstrap interval of a difference.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct BootstrapCi {
    /// The difference on the data as given.
    pub observed: f64,
    /// Mean over resamples.
    pub mean: f64,
    /// 2.5 % percentile.
    pub lo: f64,
    /// 97.5 % percentile.
    pub hi: f64,
    /// Resamples.
    pub resamples: usize,
}

/// Paired bootstrap of `F1(a) − F1(b)`, where F1 is the mean over strata of each
/// stratum's macro-F1 (the NLBSE'24 overall score with repositories as strata). Each
/// resample draws every stratum's items with replacement, within the stratum; both
/// methods see the same draw. Percentile interval; generator `stream(seed, "bootstrap")`.
///
/// # Errors
/// Mismatched lengths, labels not below `k`, empty input, or zero resamples.
pub fn paired_bootstrap(
    gold: &[usize],
    pred_a: &[usize],
    pred_b: &[usize],
    strata: &[usize],
    k: usize,
    resamples: usize,
    seed: u64,
) -> Result<BootstrapCi, EvalError> {
    check(gold, pred_a, k)?;
    check(gold, pred_b, k)?;
    if strata.len() != gold.len() {
        return Err(EvalError::Length {
            what: "strata and labels",
            a: strata.len(),
            b: gold.len(),
        });
    }
    if resamples == 0 {
        return Err(EvalError::Empty);
    }
    let n_strata = strata.iter().copied().max().unwrap_or(0) + 1;
    let mut members: Vec<Vec<usize>> = vec![Vec::new(); n_strata];
    for (i, &s) in strata.iter().enumerate() {
        members[s].push(i);
    }
    members.retain(|m| !m.is_empty());
    let score = |pick: &mut dyn FnMut(&[usize]) -> Vec<usize>| {
        let mut fa = 0.0;
        let mut fb = 0.0;
        for m in &members {
            let idx = pick(m);
            let mut ca = vec![0u64; k * k];
            let mut cb = vec![0u64; k * k];
            for &i in &idx {
                ca[gold[i] * k + pred_a[i]] += 1;
                cb[gold[i] * k + pred_b[i]] += 1;
            }
            fa += macro_f1_of(&ca, k);
            fb += macro_f1_of(&cb, k);
        }
        (fa - fb) / members.len() as f64
    };
    let observed = score(&mut |m: &[usize]| m.to_vec());
    let mut rng: SplitMix64 = stream(seed, "bootstrap");
    let mut diffs: Vec<f64> = (0..resamples)
        .map(|_| score(&mut |m: &[usize]| (0..m.len()).map(|_| m[rng.below(m.len())]).collect()))
        .collect();
    diffs.sort_by(f64::total_cmp);
    let lo = diffs[((0.025 * resamples as f64).floor() as usize).min(resamples - 1)];
    let hi = diffs[((0.975 * resamples as f64).ceil() as usize).clamp(1, resamples) - 1];
    Ok(BootstrapCi {
        observed,
        mean: diffs.iter().sum::<f64>() / resamples as f64,
        lo,
        hi,
        resamples,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hand_computed_three_class_report() {
        // gold 0 0 0 1 1 2, pred 0 0 1 1 2 2.
        // class 0: TP 2, FP 0, FN 1 -> P 1, R 2/3, F1 4/5.
        // class 1: TP 1, FP 1, FN 1 -> P 1/2, R 1/2, F1 1/2.
        // class 2: TP 1, FP 1, FN 0 -> P 1/2, R 1, F1 2/3.
        let r = classification_report(&[0, 0, 0, 1, 1, 2], &[0, 0, 1, 1, 2, 2], 3).unwrap();
        let f1: Vec<f64> = r.per_class.iter().map(|m| m.f1).collect();
        for (a, b) in f1.iter().zip([0.8, 0.5, 2.0 / 3.0]) {
            assert!((a - b).abs() < 1e-12, "{f1:?}");
        }
        assert!((r.macro_f1 - (0.8 + 0.5 + 2.0 / 3.0) / 3.0).abs() < 1e-12);
        assert!((r.macro_precision - (1.0 + 0.5 + 0.5) / 3.0).abs() < 1e-12);
        assert!((r.accuracy - 4.0 / 6.0).abs() < 1e-12);
        assert_eq!(
            r.confusion,
            vec![vec![2, 1, 0], vec![0, 1, 1], vec![0, 0, 1]]
        );
        assert_eq!(r.per_class[0].support, 3);
        let perfect = classification_report(&[0, 1, 2], &[0, 1, 2], 3).unwrap();
        assert_eq!((perfect.macro_f1, perfect.micro_f1), (1.0, 1.0));
    }

    #[test]
    fn constant_predictor_on_balanced_data() {
        let gold: Vec<usize> = (0..300).map(|i| i % 3).collect();
        let r = classification_report(&gold, &[2; 300], 3).unwrap();
        assert!((r.macro_f1 - 1.0 / 6.0).abs() < 1e-12);
        assert!((r.micro_f1 - 1.0 / 3.0).abs() < 1e-12);
    }

    #[test]
    fn kappa_hand_values() {
        // [[20, 5], [10, 15]]: p_o = 35/50 = 0.7, p_e = (25·30 + 25·20)/2500 = 0.5, κ = 0.4.
        let mut a = Vec::new();
        let mut b = Vec::new();
        for (x, y, n) in [(0, 0, 20), (0, 1, 5), (1, 0, 10), (1, 1, 15)] {
            a.extend(std::iter::repeat_n(x, n));
            b.extend(std::iter::repeat_n(y, n));
        }
        assert!((cohen_kappa(&a, &b, 2).unwrap().unwrap() - 0.4).abs() < 1e-12);
        assert_eq!(cohen_kappa(&a, &a, 2).unwrap(), Some(1.0));
        // Two identical constant raters: κ is undefined.
        assert_eq!(cohen_kappa(&[1, 1, 1], &[1, 1, 1], 2).unwrap(), None);
    }

    #[test]
    fn bad_input_is_an_error() {
        assert!(matches!(
            classification_report(&[0, 1], &[0], 2),
            Err(EvalError::Length { .. })
        ));
        assert_eq!(classification_report(&[], &[], 2), Err(EvalError::Empty));
        assert_eq!(
            classification_report(&[0, 3], &[0, 1], 3),
            Err(EvalError::Label {
                label: 3,
                index: 1,
                k: 3
            })
        );
        assert!(paired_bootstrap(&[0], &[0], &[0], &[0, 1], 2, 10, 0).is_err());
        assert!(paired_bootstrap(&[0], &[0], &[0], &[0], 2, 0, 0).is_err());
    }

    #[test]
    fn bootstrap_of_a_clear_difference_and_of_none() {
        // Two strata of 60; a is right everywhere, b on half.
        let gold: Vec<usize> = (0..120).map(|i| i % 3).collect();
        let strata: Vec<usize> = (0..120).map(|i| i / 60).collect();
        let b: Vec<usize> = gold
            .iter()
            .enumerate()
            .map(|(i, &g)| if i % 2 == 0 { g } else { (g + 1) % 3 })
            .collect();
        let ci = paired_bootstrap(&gold, &gold, &b, &strata, 3, 500, 0).unwrap();
        assert!(
            ci.lo > 0.2 && ci.lo <= ci.observed && ci.observed <= ci.hi,
            "{ci:?}"
        );
        let same = paired_bootstrap(&gold, &b, &b, &strata, 3, 200, 0).unwrap();
        assert_eq!((same.lo, same.hi, same.observed), (0.0, 0.0, 0.0));
        // Same seed, same interval.
        assert_eq!(
            ci,
            paired_bootstrap(&gold, &gold, &b, &strata, 3, 500, 0).unwrap()
        );
    }
}

//! Evaluation metrics on host values: accuracy, macro-F1, Pearson and Spearman correlation.

use burn::tensor::Tensor;

/// Fraction of positions where `pred` equals `truth`; NaN for empty input.
///
/// # Panics
/// If the lengths differ.
pub fn accuracy<T: PartialEq>(pred: &[T], truth: &[T]) -> f64 {
    assert_eq!(
        pred.len(),
        truth.len(),
        "accuracy: {} predictions for {} labels",
        pred.len(),
        truth.len()
    );
    if pred.is_empty() {
        return f64::NAN;
    }
    pred.iter().zip(truth).filter(|(p, t)| p == t).count() as f64 / pred.len() as f64
}

/// Macro-averaged F1 over the classes that occur in `pred` or `truth` (scikit-learn's
/// `f1_score(average="macro")` with `zero_division=0`); NaN for empty input.
///
/// # Panics
/// If the lengths differ.
pub fn macro_f1(pred: &[usize], truth: &[usize]) -> f64 {
    assert_eq!(
        pred.len(),
        truth.len(),
        "macro_f1: {} predictions for {} labels",
        pred.len(),
        truth.len()
    );
    if pred.is_empty() {
        return f64::NAN;
    }
    let k = pred.iter().chain(truth).copied().max().unwrap_or(0) + 1;
    let (mut tp, mut fp, mut fneg) = (vec![0usize; k], vec![0usize; k], vec![0usize; k]);
    let mut present = vec![false; k];
    for (&p, &t) in pred.iter().zip(truth) {
        present[p] = true;
        present[t] = true;
        if p == t {
            tp[p] += 1;
        } else {
            fp[p] += 1;
            fneg[t] += 1;
        }
    }
    let classes: Vec<usize> = (0..k).filter(|&c| present[c]).collect();
    let f1 = |c: usize| {
        let denom = 2 * tp[c] + fp[c] + fneg[c];
        if denom == 0 {
            0.0
        } else {
            2.0 * tp[c] as f64 / denom as f64
        }
    };
    classes.iter().map(|&c| f1(c)).sum::<f64>() / classes.len() as f64
}

/// Pearson's correlation coefficient; NaN when either input has zero variance or fewer
/// than two points.
///
/// # Panics
/// If the lengths differ.
pub fn pearson(x: &[f64], y: &[f64]) -> f64 {
    assert_eq!(
        x.len(),
        y.len(),
        "pearson: lengths {} and {}",
        x.len(),
        y.len()
    );
    let n = x.len();
    if n < 2 {
        return f64::NAN;
    }
    let mx = x.iter().sum::<f64>() / n as f64;
    let my = y.iter().sum::<f64>() / n as f64;
    let (mut sxy, mut sxx, mut syy) = (0.0, 0.0, 0.0);
    for (a, b) in x.iter().zip(y) {
        sxy += (a - mx) * (b - my);
        sxx += (a - mx) * (a - mx);
        syy += (b - my) * (b - my);
    }
    if sxx == 0.0 || syy == 0.0 {
        return f64::NAN;
    }
    (sxy / (sxx.sqrt() * syy.sqrt())).clamp(-1.0, 1.0)
}

/// Ranks starting at 1, ties given their average rank (as `scipy.stats.rankdata`).
pub fn ranks(x: &[f64]) -> Vec<f64> {
    let mut order: Vec<usize> = (0..x.len()).collect();
    order.sort_by(|&a, &b| x[a].total_cmp(&x[b]));
    let mut r = vec![0.0; x.len()];
    let mut i = 0;
    while i < order.len() {
        let mut j = i;
        while j + 1 < order.len() && x[order[j + 1]] == x[order[i]] {
            j += 1;
        }
        let avg = (i + j) as f64 / 2.0 + 1.0;
        for &o in &order[i..=j] {
            r[o] = avg;
        }
        i = j + 1;
    }
    r
}

/// Spearman's rank correlation (Pearson on average ranks).
pub fn spearman(x: &[f64], y: &[f64]) -> f64 {
    pearson(&ranks(x), &ranks(y))
}

/// Index of the largest entry of each row.
///
/// # Shapes
/// - `scores`: `[n, k]`
/// - returns `n` indices in `0..k`
pub fn argmax_rows(scores: Tensor<2>) -> Vec<usize> {
    scores
        .argmax(1)
        .into_data()
        .iter::<i64>()
        .map(|v| v as usize)
        .collect()
}

/// Area under the ROC curve of `scores` for the binary labels `positive` (higher score ⇒
/// more positive): the Mann–Whitney probability that a random positive outscores a random
/// negative, ties counting one half. NaN when either class is empty or a score is NaN.
///
/// ```
/// use repro_core::metrics::auroc;
/// assert_eq!(auroc(&[0.9, 0.8, 0.2, 0.1], &[true, true, false, false]), 1.0);
/// assert_eq!(auroc(&[0.5; 4], &[true, false, true, false]), 0.5);
/// ```
pub fn auroc(scores: &[f64], positive: &[bool]) -> f64 {
    assert_eq!(scores.len(), positive.len(), "auroc: one label per score");
    let n_pos = positive.iter().filter(|&&p| p).count();
    let n_neg = positive.len() - n_pos;
    if n_pos == 0 || n_neg == 0 || scores.iter().any(|s| s.is_nan()) {
        return f64::NAN;
    }
    // Average ranks handle ties: AUROC = (R₊ − n₊(n₊+1)/2) / (n₊ n₋).
    let r = ranks(scores);
    let rank_sum: f64 = r
        .iter()
        .zip(positive)
        .filter(|(_, p)| **p)
        .map(|(r, _)| r)
        .sum();
    let (np, nn) = (n_pos as f64, n_neg as f64);
    (rank_sum - np * (np + 1.0) / 2.0) / (np * nn)
}

#[cfg(test)]
mod tests {

    #[test]
    fn auroc_of_perfect_reversed_tied_and_mixed_rankings() {
        let y = [true, true, false, false];
        assert_eq!(auroc(&[4.0, 3.0, 2.0, 1.0], &y), 1.0);
        assert_eq!(auroc(&[1.0, 2.0, 3.0, 4.0], &y), 0.0);
        assert_eq!(auroc(&[1.0, 1.0, 1.0, 1.0], &y), 0.5);
        // Pairs (pos, neg): (3 > 2), (3 > 1), (1 < 2), (1 = 1) → (1 + 1 + 0 + 0.5) / 4.
        assert_eq!(auroc(&[3.0, 1.0, 2.0, 1.0], &y), 0.625);
        assert!(auroc(&[1.0, 2.0], &[true, true]).is_nan());
        assert!(auroc(&[f64::NAN, 2.0], &[true, false]).is_nan());
    }
    use super::*;
    use burn::tensor::{Device, TensorData};

    #[test]
    fn accuracy_extremes() {
        assert_eq!(accuracy(&[1, 2, 3], &[1, 2, 3]), 1.0);
        assert_eq!(accuracy(&[1, 2, 3], &[0, 0, 0]), 0.0);
        assert!(accuracy::<u8>(&[], &[]).is_nan());
    }

    #[test]
    fn macro_f1_by_hand() {
        // truth 0 0 1 1, pred 0 1 1 1: class 0 tp1 fn1 -> 2/3; class 1 tp2 fp1 -> 4/5.
        let f = macro_f1(&[0, 1, 1, 1], &[0, 0, 1, 1]);
        assert!((f - (2.0 / 3.0 + 0.8) / 2.0).abs() < 1e-12);
        assert_eq!(macro_f1(&[2, 0, 1], &[2, 0, 1]), 1.0);
        // A class only ever predicted counts with F1 0, as in scikit-learn.
        assert!((macro_f1(&[0, 2], &[0, 0]) - (2.0 / 3.0 + 0.0) / 2.0).abs() < 1e-12);
    }

    #[test]
    fn correlations_by_hand() {
        let x = [1.0, 2.0, 3.0, 4.0];
        assert!((pearson(&x, &[2.0, 4.0, 6.0, 8.0]) - 1.0).abs() < 1e-12);
        assert!((pearson(&x, &[8.0, 6.0, 4.0, 2.0]) + 1.0).abs() < 1e-12);
        // x = 1,2,3 and y = 1,3,2: cov = 0.5 (sum of products of deviations 1), var 1 each
        // (sum of squares 2) -> r = 1/2.
        assert!((pearson(&[1.0, 2.0, 3.0], &[1.0, 3.0, 2.0]) - 0.5).abs() < 1e-12);
        assert!(pearson(&x, &[1.0; 4]).is_nan());
        // Spearman sees any monotone map as perfect.
        assert!((spearman(&x, &[1.0, 10.0, 100.0, 1000.0]) - 1.0).abs() < 1e-12);
        assert_eq!(ranks(&[3.0, 1.0, 3.0, 2.0]), vec![3.5, 1.0, 3.5, 2.0]);
    }

    #[test]
    fn argmax_of_rows() {
        let t = Tensor::<2>::from_data(
            TensorData::new(vec![0.1f32, 0.9, 0.0, 0.5, 0.2, 0.3], [2, 3]),
            &Device::flex(),
        );
        assert_eq!(argmax_rows(t), vec![1, 0]);
    }
}

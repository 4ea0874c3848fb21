//! Summaries over seeds: mean, sample standard deviation, Student-t 95% confidence
//! intervals, paired differences between methods run on the same seeds, and percentile
//! bootstrap intervals.

use serde::{Deserialize, Serialize};

use crate::data::split::SplitMix64;

/// Mean, spread and 95% CI of values measured over seeds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    /// Number of values.
    pub n: usize,
    /// Arithmetic mean (NaN when empty).
    pub mean: f64,
    /// Sample standard deviation, ddof = 1 (NaN when n < 2).
    pub std: f64,
    /// Lower end of the two-sided 95% Student-t interval of the mean (NaN when n < 2).
    pub ci_low: f64,
    /// Upper end of the interval.
    pub ci_high: f64,
}

impl Summary {
    /// Summarises `values`.
    pub fn of(values: &[f64]) -> Self {
        let n = values.len();
        let mean = if n == 0 {
            f64::NAN
        } else {
            values.iter().sum::<f64>() / n as f64
        };
        if n < 2 {
            return Self {
                n,
                mean,
                std: f64::NAN,
                ci_low: f64::NAN,
                ci_high: f64::NAN,
            };
        }
        let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1) as f64;
        let std = var.sqrt();
        let half = t_quantile_975(n - 1) * std / (n as f64).sqrt();
        Self {
            n,
            mean,
            std,
            ci_low: mean - half,
            ci_high: mean + half,
        }
    }

    /// Whether the interval lies strictly above `x`.
    pub fn ci_above(&self, x: f64) -> bool {
        self.ci_low > x
    }

    /// Whether the interval lies strictly below `x`.
    pub fn ci_below(&self, x: f64) -> bool {
        self.ci_high < x
    }

    /// `mean ± std` with `digits` decimals, for tables.
    pub fn fmt_mean_std(&self, digits: usize) -> String {
        if self.std.is_nan() {
            format!("{:.digits$}", self.mean)
        } else {
            format!("{:.digits$} ± {:.digits$}", self.mean, self.std)
        }
    }
}

/// Summary of the per-seed differences `a[i] - b[i]` (a paired comparison).
///
/// # Panics
/// If the lengths differ: a paired comparison needs one value per seed on each side.
pub fn paired_difference(a: &[f64], b: &[f64]) -> Summary {
    assert_eq!(
        a.len(),
        b.len(),
        "paired_difference: {} vs {} seeds",
        a.len(),
        b.len()
    );
    let d: Vec<f64> = a.iter().zip(b).map(|(x, y)| x - y).collect();
    Summary::of(&d)
}

/// The 0.975 quantile of Student's t with `df` degrees of freedom.
///
/// Exact table values for df 1..=30 (to 3 decimals, as printed in standard tables); above
/// that, interpolation in 1/df between 30, 40, 60, 120 and the normal limit 1.960.
pub fn t_quantile_975(df: usize) -> f64 {
    const T: [f64; 30] = [
        12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160,
        2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056,
        2.052, 2.048, 2.045, 2.042,
    ];
    match df {
        0 => f64::NAN,
        1..=30 => T[df - 1],
        _ => {
            const KNOTS: [(f64, f64); 4] =
                [(30.0, 2.042), (40.0, 2.021), (60.0, 2.000), (120.0, 1.980)];
            let inv = 1.0 / df as f64;
            let mut prev = KNOTS[0];
            for &(d, t) in &KNOTS[1..] {
                if df as f64 <= d {
                    let w = (1.0 / prev.0 - inv) / (1.0 / prev.0 - 1.0 / d);
                    return prev.1 + w * (t - prev.1);
                }
                prev = (d, t);
            }
            let w = (1.0 / 120.0 - inv) / (1.0 / 120.0);
            1.980 + w * (1.960 - 1.980)
        }
    }
}

/// Percentile bootstrap 95% interval of the mean of `values`: `resamples` resamples with
/// replacement (indices from SplitMix64 seeded with `seed`), the 2.5% and 97.5% empirical
/// quantiles of the resampled means (linear interpolation). NaN for empty input.
pub fn bootstrap_mean_ci(values: &[f64], resamples: usize, seed: u64) -> (f64, f64) {
    let n = values.len();
    if n == 0 || resamples == 0 {
        return (f64::NAN, f64::NAN);
    }
    let mut rng = SplitMix64::new(seed);
    let mut means: Vec<f64> = (0..resamples)
        .map(|_| (0..n).map(|_| values[rng.below(n)]).sum::<f64>() / n as f64)
        .collect();
    means.sort_by(f64::total_cmp);
    let q = |p: f64| {
        let pos = p * (resamples - 1) as f64;
        let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
        means[lo] + (means[hi] - means[lo]) * (pos - lo as f64)
    };
    (q(0.025), q(0.975))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bootstrap_interval_covers_the_mean_and_shrinks_with_n() {
        // Values with mean 1 and std 1: the 95% interval of the mean has half-width about
        // 1.96 / sqrt(n) (0.088 at n = 500, 0.28 at n = 50), tolerance 25%.
        let mut rng = SplitMix64::new(11);
        let v: Vec<f64> = (0..500).map(|_| 1.0 + rng.normal()).collect();
        let m = v.iter().sum::<f64>() / 500.0;
        let (lo, hi) = bootstrap_mean_ci(&v, 10_000, 0);
        assert!(lo < m && m < hi, "{lo} {m} {hi}");
        assert!(((hi - lo) / 2.0 - 1.96 / 500f64.sqrt()).abs() < 0.25 * 0.088);
        let (lo50, hi50) = bootstrap_mean_ci(&v[..50], 10_000, 0);
        assert!(hi50 - lo50 > 2.0 * (hi - lo));
        assert_eq!(
            bootstrap_mean_ci(&v, 1000, 5),
            bootstrap_mean_ci(&v, 1000, 5)
        );
        assert!(bootstrap_mean_ci(&[], 100, 0).0.is_nan());
    }

    #[test]
    fn summary_by_hand() {
        // 1, 2, 3: mean 2, sample variance (1 + 0 + 1) / 2 = 1, half-width 4.303 / sqrt 3.
        let s = Summary::of(&[1.0, 2.0, 3.0]);
        assert_eq!((s.n, s.mean, s.std), (3, 2.0, 1.0));
        assert!((s.ci_high - (2.0 + 4.303 / 3f64.sqrt())).abs() < 1e-12);
        assert!((s.ci_low + s.ci_high - 4.0).abs() < 1e-12);
        assert!(Summary::of(&[5.0]).std.is_nan());
        assert!(Summary::of(&[]).mean.is_nan());
        assert_eq!(Summary::of(&[0.5, 0.5]).fmt_mean_std(2), "0.50 ± 0.00");
    }

    #[test]
    fn paired_difference_removes_seed_effects() {
        // Seed effects of ±10 cancel in the pairs; the difference is always exactly 1.
        let a = [11.0, -9.0, 1.0];
        let b = [10.0, -10.0, 0.0];
        let d = paired_difference(&a, &b);
        assert_eq!((d.mean, d.std), (1.0, 0.0));
        assert!(d.ci_above(0.0));
        assert!(!Summary::of(&a).ci_above(0.0));
    }

    #[test]
    fn t_quantiles_are_monotone_and_tend_to_normal() {
        assert_eq!(t_quantile_975(1), 12.706);
        assert_eq!(t_quantile_975(9), 2.262);
        assert!((t_quantile_975(60) - 2.000).abs() < 1e-12);
        let mut prev = f64::INFINITY;
        for df in 1..500 {
            let t = t_quantile_975(df);
            assert!(t <= prev && t > 1.96, "df {df}: {t}");
            prev = t;
        }
    }
}

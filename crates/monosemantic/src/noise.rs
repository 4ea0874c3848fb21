//! Noise protocols: label noise on the training set, Gaussian and uniform input noise at
//! test time, few-shot subsets and synthetic distribution shifts of 8×8 digits.
//!
//! All randomness comes from [`SplitMix64`] streams derived with [`stream`], so a seed,
//! a purpose and a rate fix every draw identically for all methods (paired seeds).

use burn::tensor::{Tensor, TensorData};
use repro_core::augment;
use repro_core::data::split::{SplitMix64, indices_by_class};
use serde::{Deserialize, Serialize};

use crate::Error;

/// A generator for `(seed, purpose, rate)`, e.g. `stream(s, "label", 0.4)`: the
/// stream `(s, "label", η)` of the spec.
pub fn stream(seed: u64, purpose: &str, rate: f64) -> SplitMix64 {
    // FNV-1a over the purpose, mixed with the seed and the rate's bits.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in purpose.bytes() {
        h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    let mut mix = SplitMix64::new(seed ^ h.rotate_left(17) ^ rate.to_bits().rotate_left(41));
    SplitMix64::new(mix.next_u64())
}

/// Flips exactly `⌊η·N⌋` labels, chosen uniformly without replacement, each to a class
/// drawn uniformly among the `C − 1` other classes. `N` and `C = max(y) + 1` come from
/// the data (fix P4: upstream hard-codes dataset sizes).
///
/// # Errors
/// [`Error::NoiseRate`] unless `0 ≤ η < 1`; [`Error::LabelNoiseCap`] if `η ≥ (C−1)/C`,
/// where the noisy labels carry no signal (P3; for 10 classes η ≤ 0.8 is allowed);
/// [`Error::Config`] for fewer than 2 classes.
pub fn flip_labels(y: &[u32], eta: f64, rng: &mut SplitMix64) -> Result<Vec<u32>, Error> {
    check_rate("label noise η", eta)?;
    let c = y.iter().copied().max().map_or(0, |m| m + 1);
    if eta > 0.0 && c < 2 {
        return Err(Error::Config(format!(
            "label noise needs at least 2 classes, found {c}"
        )));
    }
    if c >= 2 && eta >= f64::from(c - 1) / f64::from(c) {
        return Err(Error::LabelNoiseCap { eta, classes: c });
    }
    let m = (eta * y.len() as f64).floor() as usize;
    let mut order: Vec<usize> = (0..y.len()).collect();
    rng.shuffle(&mut order);
    let mut out = y.to_vec();
    for &i in &order[..m] {
        // Uniform over the other classes: draw in 0..C−1 and skip the original.
        let r = rng.below(c as usize - 1) as u32;
        out[i] = if r >= y[i] { r + 1 } else { r };
    }
    Ok(out)
}

fn check_rate(what: &str, rate: f64) -> Result<(), Error> {
    if (0.0..1.0).contains(&rate) {
        Ok(())
    } else {
        Err(Error::NoiseRate {
            what: what.into(),
            value: rate,
        })
    }
}

/// `n` draws of `σ·N(0, 1)`.
pub fn gaussian_values(n: usize, sigma: f64, rng: &mut SplitMix64) -> Vec<f32> {
    (0..n).map(|_| (sigma * rng.normal()) as f32).collect()
}

/// `n` draws of `a·U[0, 1)` (mean `a/2`: partly a brightness shift, as upstream, P6).
pub fn uniform_values(n: usize, a: f64, rng: &mut SplitMix64) -> Vec<f32> {
    (0..n).map(|_| (a * rng.next_f64()) as f32).collect()
}

/// `x + σ·N(0, 1)` (test time, after standardisation). Returns a new tensor; `x` is
/// consumed, the caller's training data are untouched.
///
/// # Shapes
/// - `x`: `[n, d]`
/// - returns `[n, d]`
pub fn gaussian_input_noise(x: Tensor<2>, sigma: f64, rng: &mut SplitMix64) -> Tensor<2> {
    let dims = x.dims();
    let noise = gaussian_values(dims[0] * dims[1], sigma, rng);
    let device = x.device();
    x + Tensor::from_data(TensorData::new(noise, dims), &device)
}

/// `x + a·U[0, 1)` (test time, after standardisation).
///
/// # Shapes
/// - `x`: `[n, d]`
/// - returns `[n, d]`
pub fn uniform_input_noise(x: Tensor<2>, a: f64, rng: &mut SplitMix64) -> Tensor<2> {
    let dims = x.dims();
    let noise = uniform_values(dims[0] * dims[1], a, rng);
    let device = x.device();
    x + Tensor::from_data(TensorData::new(noise, dims), &device)
}

/// Images kept per class for a few-shot fraction `f`: `max(1, ⌊f·n_c⌋)`.
///
/// # Errors
/// [`Error::NoiseRate`] unless `0 < f ≤ 1`.
pub fn few_shot_count(class_size: usize, fraction: f64) -> Result<usize, Error> {
    if !(fraction > 0.0 && fraction <= 1.0) {
        return Err(Error::NoiseRate {
            what: "few-shot fraction".into(),
            value: fraction,
        });
    }
    Ok(((fraction * class_size as f64).floor() as usize).max(1))
}

/// A stratified few-shot subset: `per_class` positions of `y` per class, drawn uniformly
/// without replacement; returned sorted.
///
/// # Errors
/// [`Error::FewShot`] if a class has fewer than `per_class` items.
pub fn few_shot_subset(
    y: &[u32],
    per_class: usize,
    rng: &mut SplitMix64,
) -> Result<Vec<usize>, Error> {
    let mut by_class = indices_by_class(y.iter().map(|&l| l as usize));
    let c = by_class.len();
    let mut out = Vec::with_capacity(per_class * c);
    for (class, members) in by_class.iter_mut().enumerate() {
        if members.len() < per_class {
            return Err(Error::FewShot {
                per_class,
                class,
                size: members.len(),
            });
        }
        rng.shuffle(members);
        out.extend_from_slice(&members[..per_class]);
    }
    out.sort_unstable();
    Ok(out)
}

/// A stratified few-shot subset of fraction `f` of each class (see [`few_shot_count`]).
///
/// # Errors
/// As [`few_shot_count`].
pub fn few_shot_fraction(
    y: &[u32],
    fraction: f64,
    rng: &mut SplitMix64,
) -> Result<Vec<usize>, Error> {
    let mut by_class = indices_by_class(y.iter().map(|&l| l as usize));
    let mut out = Vec::new();
    for members in &mut by_class {
        let k = few_shot_count(members.len(), fraction)?.min(members.len());
        rng.shuffle(members);
        out.extend_from_slice(&members[..k]);
    }
    out.sort_unstable();
    Ok(out)
}

/// Synthetic distribution shifts of 8×8 images (stand-ins for the paper's sketch and
/// stylised shifts, our operationalisation), applied to `[0, 1]` pixels before
/// standardisation.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub enum Shift {
    /// 3×3 box blur, zero padding.
    Blur3,
    /// Translation by whole pixels, zero fill.
    Translate {
        /// Columns to the right.
        dx: i32,
        /// Rows down.
        dy: i32,
    },
    /// 3×3 maximum filter (thicker strokes).
    Dilate1,
    /// Bilinear rotation about the centre, zero fill.
    Rotate {
        /// Angle in degrees.
        degrees: f32,
    },
}

impl Shift {
    /// A short name for tables.
    pub fn name(&self) -> String {
        match self {
            Self::Blur3 => "blur3".into(),
            Self::Translate { dx, dy } => format!("translate({dx},{dy})"),
            Self::Dilate1 => "dilate1".into(),
            Self::Rotate { degrees } => format!("rotate({degrees})"),
        }
    }

    /// Applies the shift to every 64-pixel image of row-major `images`.
    pub fn apply(&self, images: &[f32]) -> Vec<f32> {
        images
            .chunks(augment::PIXELS)
            .flat_map(|img| match *self {
                Self::Blur3 => augment::blur3(img),
                Self::Translate { dx, dy } => augment::translate(img, dx, dy),
                Self::Dilate1 => augment::dilate1(img),
                Self::Rotate { degrees } => augment::rotate(img, f64::from(degrees)),
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::Device;

    #[test]
    fn flips_exactly_the_fraction_never_to_the_same_class() {
        let y: Vec<u32> = (0..1000).map(|i| i % 10).collect();
        for eta in [0.0, 0.2, 0.55, 0.8] {
            let noisy = flip_labels(&y, eta, &mut stream(3, "label", eta)).unwrap();
            let changed = y.iter().zip(&noisy).filter(|(a, b)| a != b).count();
            // Every chosen label moves to another class, so exactly ⌊ηN⌋ differ.
            assert_eq!(changed, (eta * 1000.0).floor() as usize, "η = {eta}");
            assert!(noisy.iter().all(|&l| l < 10));
        }
    }

    #[test]
    fn flipped_labels_are_uniform_over_other_classes() {
        // N = 1e5 all of class 3, η = 0.5: 50 000 flips over 9 classes. χ² with 8 df; the
        // 0.999 quantile is 26.12 (p > 1e-3 passes).
        let y = vec![3u32; 100_000];
        let mut y_with_c = y.clone();
        y_with_c[0] = 9; // C = 10 from the data
        let noisy = flip_labels(&y_with_c, 0.5, &mut stream(0, "label", 0.5)).unwrap();
        let mut counts = [0f64; 10];
        for (a, b) in y_with_c.iter().zip(&noisy) {
            if a != b && *a == 3 {
                counts[*b as usize] += 1.0;
            }
        }
        assert_eq!(counts[3], 0.0);
        let total: f64 = counts.iter().sum();
        let expected = total / 9.0;
        let chi2: f64 = counts
            .iter()
            .enumerate()
            .filter(|(k, _)| *k != 3)
            .map(|(_, c)| (c - expected).powi(2) / expected)
            .sum();
        assert!(chi2 < 26.12, "χ² = {chi2}, counts {counts:?}");
    }

    #[test]
    fn bad_rates_and_sizes_are_errors() {
        let y: Vec<u32> = (0..100).map(|i| i % 10).collect();
        let mut r = SplitMix64::new(0);
        for bad in [-0.1, 1.0, 1.5, f64::NAN] {
            let e = flip_labels(&y, bad, &mut r).unwrap_err();
            assert!(e.to_string().contains("[0, 1)"), "{e}");
        }
        let e = flip_labels(&y, 0.9, &mut r).unwrap_err();
        assert!(matches!(e, Error::LabelNoiseCap { .. }), "{e}");
        let e = few_shot_subset(&y, 11, &mut r).unwrap_err();
        assert!(e.to_string().contains("class 0 has 10"), "{e}");
        assert_eq!(few_shot_subset(&y, 10, &mut r).unwrap().len(), 100);
        assert!(few_shot_fraction(&y, 0.0, &mut r).is_err());
        assert_eq!(few_shot_fraction(&y, 0.05, &mut r).unwrap().len(), 10);
        assert_eq!(few_shot_count(130, 0.05).unwrap(), 6);
    }

    #[test]
    fn input_noise_moments_and_train_data_untouched() {
        let n = 100_000;
        let u = uniform_values(n, 0.4, &mut stream(1, "input", 0.4));
        let mean = u.iter().map(|&v| f64::from(v)).sum::<f64>() / n as f64;
        // Mean a/2 = 0.2; standard error 0.4/√12/√n = 0.00037, tolerance 0.005.
        assert!((mean - 0.2).abs() < 0.005, "{mean}");
        let g = gaussian_values(n, 0.6, &mut stream(1, "input", 0.6));
        let m = g.iter().map(|&v| f64::from(v)).sum::<f64>() / n as f64;
        let sd = (g.iter().map(|&v| (f64::from(v) - m).powi(2)).sum::<f64>() / n as f64).sqrt();
        // Standard error of the sd ≈ σ/√(2n) = 0.22 %; tolerance 1 %.
        assert!((sd / 0.6 - 1.0).abs() < 0.01, "{sd}");
        let d = Device::flex();
        let train = Tensor::<2>::ones([4, 3], &d);
        let noisy = gaussian_input_noise(train.clone(), 1.0, &mut SplitMix64::new(2));
        let noisy_u = uniform_input_noise(train.clone(), 1.0, &mut SplitMix64::new(2));
        assert_eq!(train.clone().sum().into_scalar::<f32>(), 12.0);
        assert_ne!(noisy.sum().into_scalar::<f32>(), 12.0);
        assert!(noisy_u.min().into_scalar::<f32>() >= 1.0);
    }

    #[test]
    fn shifts_apply_per_image() {
        let imgs: Vec<f32> = (0..128).map(|i| (i % 7) as f32 / 7.0).collect();
        assert_eq!(Shift::Rotate { degrees: 0.0 }.apply(&imgs).len(), 128);
        assert_eq!(Shift::Blur3.apply(&[0.0; 64]), vec![0.0; 64]);
        assert_eq!(Shift::Dilate1.apply(&[0.0; 64]), vec![0.0; 64]);
        let back = Shift::Translate { dx: -1, dy: 0 }
            .apply(&Shift::Translate { dx: 1, dy: 0 }.apply(&imgs));
        assert_eq!(back[0..7], imgs[0..7]);
    }
}

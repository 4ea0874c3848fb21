//! Host-side augmentations and synthetic shifts of 8×8 images (digits), in `[0, 1]`
//! pixel space, plus a version-stable standard-normal sampler.
//!
//! Images are row-major slices of 64 values (`x` is the column, `y` the row). Geometric
//! maps sample the source with bilinear interpolation and fill outside pixels with 0.
//! All randomness comes from [`SplitMix64`], so views are stable across crate versions.
//!
//! ```
//! use repro_core::augment::{PIXELS, pixel_dropout};
//! use repro_core::data::split::SplitMix64;
//! let img = vec![1.0f32; PIXELS];
//! let v = pixel_dropout(&img, 0.15, &mut SplitMix64::new(3))?;
//! let kept = v.iter().filter(|&&p| p == 1.0).count();
//! assert!(kept > 40 && kept < PIXELS); // about 85 % of 64
//! assert_eq!(v, pixel_dropout(&img, 0.15, &mut SplitMix64::new(3))?);
//! # Ok::<(), repro_core::augment::AugmentError>(())
//! ```

use crate::data::split::SplitMix64;

/// Side of the images.
pub const SIDE: usize = 8;
/// Pixels per image.
pub const PIXELS: usize = SIDE * SIDE;

fn at(img: &[f32], x: i64, y: i64) -> f64 {
    if (0..SIDE as i64).contains(&x) && (0..SIDE as i64).contains(&y) {
        f64::from(img[y as usize * SIDE + x as usize])
    } else {
        0.0
    }
}

fn bilinear(img: &[f32], x: f64, y: f64) -> f64 {
    let (x0, y0) = (x.floor(), y.floor());
    let (fx, fy) = (x - x0, y - y0);
    let (x0, y0) = (x0 as i64, y0 as i64);
    at(img, x0, y0) * (1.0 - fx) * (1.0 - fy)
        + at(img, x0 + 1, y0) * fx * (1.0 - fy)
        + at(img, x0, y0 + 1) * (1.0 - fx) * fy
        + at(img, x0 + 1, y0 + 1) * fx * fy
}

/// Shifts the content by `dx` columns (right) and `dy` rows (down), zero fill.
pub fn translate(img: &[f32], dx: i32, dy: i32) -> Vec<f32> {
    let mut out = vec![0.0; PIXELS];
    for y in 0..SIDE as i64 {
        for x in 0..SIDE as i64 {
            out[y as usize * SIDE + x as usize] =
                at(img, x - i64::from(dx), y - i64::from(dy)) as f32;
        }
    }
    out
}

/// Rotates by `degrees` about the centre
/// (3.5, 3.5), bilinear, zero fill.
pub fn rotate(img: &[f32], degrees: f64) -> Vec<f32> {
    let (s, c) = degrees.to_radians().sin_cos();
    let centre = (SIDE as f64 - 1.0) / 2.0;
    let mut out = vec![0.0; PIXELS];
    for y in 0..SIDE {
        for x in 0..SIDE {
            // Inverse map: where does output pixel (x, y) come from?
            let (px, py) = (x as f64 - centre, y as f64 - centre);
            let sx = c * px + s * py + centre;
            let sy = -s * px + c * py + centre;
            out[y * SIDE + x] = bilinear(img, sx, sy) as f32;
        }
    }
    out
}

/// 3×3 box blur with zero padding (mean over the 9 neighbours, padding counted).
pub fn blur3(img: &[f32]) -> Vec<f32> {
    neighbourhood(img, |vals| vals.iter().sum::<f64>() / 9.0)
}

/// Grey-level dilation: 3×3 maximum filter with zero padding.
pub fn dilate1(img: &[f32]) -> Vec<f32> {
    neighbourhood(img, |vals| vals.iter().copied().fold(0.0, f64::max))
}

fn neighbourhood(img: &[f32], f: impl Fn(&[f64; 9]) -> f64) -> Vec<f32> {
    let mut out = vec![0.0; PIXELS];
    for y in 0..SIDE as i64 {
        for x in 0..SIDE as i64 {
            let mut vals = [0.0; 9];
            for (k, v) in vals.iter_mut().enumerate() {
                *v = at(img, x + k as i64 % 3 - 1, y + k as i64 / 3 - 1);
            }
            out[y as usize * SIDE + x as usize] = f(&vals) as f32;
        }
    }
    out
}

/// Bad augmentation settings.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum AugmentError {
    /// A probability outside `[0, 1]` (or NaN).
    #[error("{what} = {value} is not a probability in [0, 1]")]
    Probability {
        /// Which setting.
        what: &'static str,
        /// Its value.
        value: f64,
    },
}

/// Per-pixel dropout: each value of `x` is set to 0 independently with probability `p`
/// and kept unchanged otherwise (no `1 / (1 − p)` rescaling: an input augmentation, not
/// `nn::Dropout`).
///
/// `x` is any row-major image or feature vector; for single-channel images (digits) a
/// "pixel" is one value. For multi-channel images use [`pixel_dropout_channels`], which
/// drops every channel of a pixel together. One `rng.next_f64()` is drawn per value, in
/// order, so the mask depends only on the seed and `x.len()`.
///
/// # Errors
/// [`AugmentError::Probability`] if `p` is not in `[0, 1]`.
pub fn pixel_dropout(x: &[f32], p: f64, rng: &mut SplitMix64) -> Result<Vec<f32>, AugmentError> {
    pixel_dropout_channels(x, 1, p, rng)
}

/// Per-pixel dropout of a channel-last image (`[pixels, channels]` row-major): each
/// pixel is zeroed in all `channels` at once with probability `p`, one draw per pixel.
///
/// # Errors
/// [`AugmentError::Probability`] if `p` is not in `[0, 1]`.
///
/// # Panics
/// If `channels` is 0 or does not divide `x.len()` (a caller's layout bug).
pub fn pixel_dropout_channels(
    x: &[f32],
    channels: usize,
    p: f64,
    rng: &mut SplitMix64,
) -> Result<Vec<f32>, AugmentError> {
    if !(0.0..=1.0).contains(&p) {
        return Err(AugmentError::Probability {
            what: "pixel dropout p",
            value: p,
        });
    }
    assert!(
        channels > 0 && x.len().is_multiple_of(channels),
        "pixel_dropout: {} values are not pixels of {channels} channels",
        x.len()
    );
    let mut out = x.to_vec();
    for px in out.chunks_mut(channels) {
        if rng.next_f64() < p {
            px.iter_mut().for_each(|v| *v = 0.0);
        }
    }
    Ok(out)
}

/// Parameters of the random views used for contrastive learning on 8×8 digits.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ViewConfig {
    /// Maximal translation in pixels (uniform integer in `−t..=t` per axis).
    pub max_shift: i32,
    /// Probability of a rotation.
    pub rotate_p: f64,
    /// Maximal rotation angle in degrees (uniform in `±max`).
    pub max_degrees: f64,
    /// Intensity factor drawn uniformly in `[1 − j, 1 + j]`.
    pub intensity_jitter: f64,
    /// Standard deviation of additive Gaussian pixel noise.
    pub noise_std: f64,
    /// Probability of erasing one random 2×2 block.
    pub erase_p: f64,
}

impl Default for ViewConfig {
    /// Translate ±1 px, rotate ±10° with p = 0.5, intensity ×U[0.8, 1.2], N(0, 0.1²)
    /// noise, a 2×2 erase with p = 0.5; no flips (digits are not flip-invariant).
    fn default() -> Self {
        Self {
            max_shift: 1,
            rotate_p: 0.5,
            max_degrees: 10.0,
            intensity_jitter: 0.2,
            noise_std: 0.1,
            erase_p: 0.5,
        }
    }
}

/// One random view of `img` (`[0, 1]` pixels).
pub fn random_view(img: &[f32], cfg: &ViewConfig, rng: &mut SplitMix64) -> Vec<f32> {
    let span = (2 * cfg.max_shift + 1) as usize;
    let dx = rng.below(span) as i32 - cfg.max_shift;
    let dy = rng.below(span) as i32 - cfg.max_shift;
    let mut v = translate(img, dx, dy);
    if rng.next_f64() < cfg.rotate_p {
        v = rotate(&v, (2.0 * rng.next_f64() - 1.0) * cfg.max_degrees);
    }
    let gain = 1.0 + (2.0 * rng.next_f64() - 1.0) * cfg.intensity_jitter;
    for p in &mut v {
        *p = (f64::from(*p) * gain + cfg.noise_std * rng.normal()) as f32;
    }
    if rng.next_f64() < cfg.erase_p {
        let (x0, y0) = (rng.below(SIDE - 1), rng.below(SIDE - 1));
        for (y, x) in [(y0, x0), (y0, x0 + 1), (y0 + 1, x0), (y0 + 1, x0 + 1)] {
            v[y * SIDE + x] = 0.0;
        }
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample_image() -> Vec<f32> {
        let mut r = SplitMix64::new(5);
        (0..PIXELS).map(|_| r.next_f64() as f32).collect()
    }

    #[test]
    fn four_quarter_turns_are_identity() {
        let img = sample_image();
        let mut v = img.clone();
        for _ in 0..4 {
            v = rotate(&v, 90.0);
        }
        // cos 90° = 6e-17 in f64: bilinear weights of ~1e-16, far below 1e-5.
        assert!(img.iter().zip(&v).all(|(a, b)| (a - b).abs() < 1e-5));
        let same = rotate(&img, 0.0);
        assert!(img.iter().zip(&same).all(|(a, b)| (a - b).abs() < 1e-6));
        // Output (0, 0) samples the source at centre + R(−90°)(−3.5, −3.5) = (0, 7).
        let mut dot = vec![0.0; PIXELS];
        dot[7 * SIDE] = 1.0;
        assert!((rotate(&dot, 90.0)[0] - 1.0).abs() < 1e-6);
    }

    #[test]
    fn translation_round_trip_keeps_interior() {
        let img = sample_image();
        let back = translate(&translate(&img, 1, 0), -1, 0);
        for y in 0..SIDE {
            for x in 0..SIDE - 1 {
                assert_eq!(back[y * SIDE + x], img[y * SIDE + x]);
            }
            // The last column fell off and came back as zero.
            assert_eq!(back[y * SIDE + SIDE - 1], 0.0);
        }
        assert_eq!(translate(&img, 0, 1)[SIDE..], img[..PIXELS - SIDE]);
    }

    #[test]
    fn filters_by_hand() {
        let zero = vec![0.0; PIXELS];
        assert_eq!(blur3(&zero), zero);
        assert_eq!(dilate1(&zero), zero);
        let mut dot = vec![0.0; PIXELS];
        dot[3 * SIDE + 3] = 0.9;
        let b = blur3(&dot);
        assert!((b[2 * SIDE + 2] - 0.1).abs() < 1e-7 && b[SIDE + 1] == 0.0);
        let d = dilate1(&dot);
        assert_eq!(d.iter().filter(|&&v| v == 0.9).count(), 9);
    }

    #[test]
    fn normal_moments_and_views() {
        let mut r = SplitMix64::new(11);
        let xs: Vec<f64> = (0..100_000).map(|_| r.normal()).collect();
        let mean = xs.iter().sum::<f64>() / xs.len() as f64;
        let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / xs.len() as f64;
        // Standard errors at n = 1e5: 0.0032 for the mean, 0.0045 for the variance.
        assert!(
            mean.abs() < 0.015 && (var - 1.0).abs() < 0.02,
            "{mean} {var}"
        );
        let img = sample_image();
        let a = random_view(&img, &ViewConfig::default(), &mut SplitMix64::new(1));
        let b = random_view(&img, &ViewConfig::default(), &mut SplitMix64::new(1));
        assert_eq!(a, b);
        assert_eq!(a.len(), PIXELS);
    }

    #[test]
    fn pixel_dropout_kept_fraction_and_determinism() {
        let n = 100_000;
        let x = vec![2.5f32; n];
        let v = pixel_dropout(&x, 0.15, &mut SplitMix64::new(7)).unwrap();
        // Values are either kept exactly or zeroed; never rescaled.
        assert!(v.iter().all(|&a| a == 2.5 || a == 0.0));
        let kept = v.iter().filter(|&&a| a == 2.5).count() as f64 / n as f64;
        // Binomial std at n = 1e5, p = 0.85: 0.0011; allow 4.5 sigma.
        assert!((kept - 0.85).abs() < 0.005, "{kept}");
        assert_eq!(v, pixel_dropout(&x, 0.15, &mut SplitMix64::new(7)).unwrap());
        assert_ne!(v, pixel_dropout(&x, 0.15, &mut SplitMix64::new(8)).unwrap());
        // Edge probabilities.
        assert_eq!(
            pixel_dropout(&x[..64], 0.0, &mut SplitMix64::new(1)).unwrap(),
            x[..64]
        );
        assert!(
            pixel_dropout(&x[..64], 1.0, &mut SplitMix64::new(1))
                .unwrap()
                .iter()
                .all(|&a| a == 0.0)
        );
    }

    #[test]
    fn pixel_dropout_mask_by_hand() {
        // The mask is "draw < p" on the stream's values, in order.
        let mut r = SplitMix64::new(42);
        let draws: Vec<f64> = (0..PIXELS).map(|_| r.next_f64()).collect();
        let img = sample_image();
        let v = pixel_dropout(&img, 0.3, &mut SplitMix64::new(42)).unwrap();
        for k in 0..PIXELS {
            let want = if draws[k] < 0.3 { 0.0 } else { img[k] };
            assert_eq!(v[k], want);
        }
    }

    #[test]
    fn channel_dropout_drops_whole_pixels() {
        let x: Vec<f32> = (1..=3000).map(|v| v as f32).collect(); // 1000 pixels × 3
        let v = pixel_dropout_channels(&x, 3, 0.5, &mut SplitMix64::new(3)).unwrap();
        let mut dropped = 0;
        for px in v.chunks(3) {
            let zeros = px.iter().filter(|&&a| a == 0.0).count();
            assert!(zeros == 0 || zeros == 3, "{px:?}");
            dropped += usize::from(zeros == 3);
        }
        // Binomial(1000, ½): std 15.8.
        assert!((dropped as i64 - 500).abs() < 80, "{dropped}");
    }

    #[test]
    fn pixel_dropout_rejects_bad_p() {
        for p in [-0.1, 1.5, f64::NAN] {
            let err = pixel_dropout(&[1.0], p, &mut SplitMix64::new(0)).unwrap_err();
            assert!(err.to_string().contains("not a probability"), "{err}");
        }
    }
}

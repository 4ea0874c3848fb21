//! Data: the workspace's digits split, the training augmentations, the test-time
//! corruptions, few-label subsets, class filters, and the synthetic factor data with known
//! codes.
//!
//! - Digits: scikit-learn's 1,797 8×8 images through [`repro_core::data::digits`], on the
//!   workspace's fixed split (1,297 train / 500 test, stratified, seed 0; the issue
//!   overrides the spec's 1,000 / 797). Pixels are `/16`, in `[0, 1]`.
//! - [`Augment`] (spec §5, stated on the 0–16 scale and applied on `[0, 1]` with the noise
//!   divided by 16): translate ±1 px (zero fill), intensity ×U(0.8, 1.2), Gaussian noise
//!   σ = 1.0, pixel dropout p = 0.15, clip.
//! - [`Corruption`]: Gaussian noise σ ∈ {0.25, 0.5, 0.75} clipped to `[0, 1]`, or a zeroed
//!   random s × s patch, s ∈ {3, 4, 5}, for severities 1–3.
//! - [`synthetic_factors`]: `s ∈ R^16_+` with 2 or 3 active entries drawn `Gamma(0.5, 1)`,
//!   `W = |N(0, 1)|` (64 × 16), `x = relu(W s) + N(0, 0.1²)`, label `argmax s`; views
//!   re-noise `relu(W s)` and drop 10 % of the entries.
//!
//! Every draw comes from [`repro_core::rng`] streams, so data, views and corruptions are
//! fixed by their seeds and never by Burn's generator.
//!
//! ```
//! use repro_contrastive_fa::data::{Corruption, corrupt, digits};
//! let d = digits()?;
//! assert_eq!((d.train.len(), d.test.len()), (1297, 500));
//! let noisy = corrupt(&d.test, Corruption::new("noise", 2)?, 0)?;
//! assert_eq!(noisy.pixels.len(), d.test.pixels.len());
//! assert!(Corruption::new("occlude", 4).is_err()); // severities are 1..=3
//! # Ok::<(), anyhow::Error>(())
//! ```

use repro_core::augment::{PIXELS, SIDE, pixel_dropout, translate};
use repro_core::data::digits as core_digits;
use repro_core::data::split::{indices_by_class, stratified_split};
use repro_core::rng::{SplitMix64, stream};
use serde::{Deserialize, Serialize};

use crate::Error;
use crate::latent::Gamma;

/// Labelled rows of `dim` values each (images: 64 pixels in `[0, 1]`).
#[derive(Debug, Clone, PartialEq)]
pub struct Images {
    /// Row-major values, `len() * dim`.
    pub pixels: Vec<f32>,
    /// One class per row.
    pub labels: Vec<u8>,
    /// Values per row.
    pub dim: usize,
}

impl Images {
    /// Rows.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// Whether there are no rows.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// Row `i`.
    pub fn row(&self, i: usize) -> &[f32] {
        &self.pixels[i * self.dim..(i + 1) * self.dim]
    }

    /// The rows at `idx`, in that order.
    pub fn subset(&self, idx: &[usize]) -> Self {
        Self {
            pixels: idx.iter().flat_map(|&i| self.row(i).to_vec()).collect(),
            labels: idx.iter().map(|&i| self.labels[i]).collect(),
            dim: self.dim,
        }
    }

    /// The rows whose class is in `classes`, in order.
    pub fn with_classes(&self, classes: &[u8]) -> Self {
        let idx: Vec<usize> = (0..self.len())
            .filter(|&i| classes.contains(&self.labels[i]))
            .collect();
        self.subset(&idx)
    }

    /// Labels as `usize`.
    pub fn labels_usize(&self) -> Vec<usize> {
        self.labels.iter().map(|&y| usize::from(y)).collect()
    }

    /// Labels as `u32`.
    pub fn labels_u32(&self) -> Vec<u32> {
        self.labels.iter().map(|&y| u32::from(y)).collect()
    }
}

/// The digits split.
#[derive(Debug, Clone)]
pub struct DigitsSplit {
    /// 1,297 training images.
    pub train: Images,
    /// 500 test images.
    pub test: Images,
}

/// The workspace's digits split, pixels in `[0, 1]`.
///
/// # Errors
/// If the embedded file fails its checksum or parse (never in a clean checkout).
pub fn digits() -> anyhow::Result<DigitsSplit> {
    let d = core_digits::load()?;
    let split = core_digits::standard_split(&d);
    let take = |idx: &[usize]| Images {
        pixels: idx
            .iter()
            .flat_map(|&i| d.image(i).iter().map(|v| v / 16.0))
            .collect(),
        labels: idx.iter().map(|&i| d.labels[i]).collect(),
        dim: PIXELS,
    };
    Ok(DigitsSplit {
        train: take(&split.train),
        test: take(&split.test),
    })
}

/// A stratified split of `x` into `(rest, held)` with `n_held` rows held out (core's
/// [`stratified_split`], so fixed by `seed` across versions).
///
/// # Errors
/// [`Error::Config`] if `n_held` exceeds the rows.
pub fn stratified_holdout(x: &Images, n_held: usize, seed: u64) -> Result<(Images, Images), Error> {
    if n_held > x.len() {
        return Err(Error::Config(format!(
            "cannot hold out {n_held} of {} rows",
            x.len()
        )));
    }
    let s = stratified_split(&x.labels_usize(), n_held, seed);
    Ok((x.subset(&s.train), x.subset(&s.test)))
}

/// A stratified subset of `max` rows (all rows when `max` is `None` or not
/// smaller), drawn with seed 1 (smoke sizes).
pub fn cap(x: &Images, max: Option<usize>) -> Images {
    match max {
        Some(m) if m < x.len() => x.subset(&stratified_split(&x.labels_usize(), m, 1).test),
        _ => x.clone(),
    }
}

/// `per_class` training rows of every class in `0..classes`, drawn from `rng` (the
/// few-label probe's labelled set), in class order.
///
/// # Errors
/// [`Error::EmptyClass`] if a class has fewer than `per_class` rows (an empty class
/// included).
pub fn few_label_subset(
    labels: &[u8],
    per_class: usize,
    classes: usize,
    rng: &mut SplitMix64,
) -> Result<Vec<usize>, Error> {
    let mut by_class = indices_by_class(labels.iter().map(|&y| usize::from(y)));
    by_class.resize(classes.max(by_class.len()), Vec::new());
    let mut out = Vec::with_capacity(per_class * classes);
    for (class, members) in by_class.iter_mut().enumerate().take(classes) {
        if members.len() < per_class {
            return Err(Error::EmptyClass {
                class,
                have: members.len(),
                need: per_class,
            });
        }
        rng.shuffle(members);
        let mut chosen = members[..per_class].to_vec();
        chosen.sort_unstable();
        out.extend(chosen);
    }
    Ok(out)
}

/// The training views (spec §5), in 0–16 pixel units.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Augment {
    /// Maximal translation per axis, uniform in `−t..=t` (1).
    pub shift_px: i32,
    /// Gaussian pixel noise σ on the 0–16 scale (1.0).
    pub noise_sigma: f32,
    /// Pixel dropout probability (0.15).
    pub dropout_p: f64,
    /// Intensity factor range (0.8, 1.2).
    pub scale: (f32, f32),
}

impl Default for Augment {
    fn default() -> Self {
        Self {
            shift_px: 1,
            noise_sigma: 1.0,
            dropout_p: 0.15,
            scale: (0.8, 1.2),
        }
    }
}

impl Augment {
    /// Checks the settings.
    ///
    /// # Errors
    /// [`Error::Config`] for a negative shift or σ, a dropout outside `[0, 1]` or an empty
    /// or negative intensity range.
    pub fn validate(&self) -> Result<(), Error> {
        let ok = self.shift_px >= 0
            && self.noise_sigma >= 0.0
            && (0.0..=1.0).contains(&self.dropout_p)
            && self.scale.0 >= 0.0
            && self.scale.0 <= self.scale.1;
        if ok {
            Ok(())
        } else {
            Err(Error::Config(format!("invalid augmentation {self:?}")))
        }
    }

    /// One random view of an image in `[0, 1]`: translate, scale, add noise (σ/16), drop
    /// pixels, clip to `[0, 1]`.
    ///
    /// # Errors
    /// As [`Augment::validate`].
    pub fn view(&self, img: &[f32], rng: &mut SplitMix64) -> Result<Vec<f32>, Error> {
        self.validate()?;
        let span = (2 * self.shift_px + 1) as usize;
        let dx = rng.below(span) as i32 - self.shift_px;
        let dy = rng.below(span) as i32 - self.shift_px;
        let mut v = translate(img, dx, dy);
        let (lo, hi) = self.scale;
        let gain = f64::from(lo) + f64::from(hi - lo) * rng.next_f64();
        let sigma = f64::from(self.noise_sigma) / 16.0;
        for p in &mut v {
            *p = (f64::from(*p) * gain + sigma * rng.normal()) as f32;
        }
        let mut v =
            pixel_dropout(&v, self.dropout_p, rng).map_err(|e| Error::Config(e.to_string()))?;
        v.iter_mut().for_each(|p| *p = p.clamp(0.0, 1.0));
        Ok(v)
    }
}

/// Test-time noise σ by severity 1–3 (`[0, 1]` pixel scale).
pub const NOISE_SIGMAS: [f32; 3] = [0.25, 0.5, 0.75];
/// Occlusion patch side by severity 1–3.
pub const OCCLUDE_SIDES: [usize; 3] = [3, 4, 5];

/// A test-time corruption at severity 1–3.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Corruption {
    /// Gaussian noise of σ [`NOISE_SIGMAS`]`[sev − 1]`, clipped to `[0, 1]`.
    Noise(u8),
    /// A zeroed random square of side [`OCCLUDE_SIDES`]`[sev − 1]`, inside the image.
    Occlude(u8),
}

impl Corruption {
    /// `kind` `"noise"` or `"occlude"` at `severity`.
    ///
    /// # Errors
    /// [`Error::Severity`] for a severity outside 1–3, [`Error::Config`] for another kind.
    pub fn new(kind: &str, severity: u8) -> Result<Self, Error> {
        let c = match kind {
            "noise" => Self::Noise(severity),
            "occlude" => Self::Occlude(severity),
            other => {
                return Err(Error::Config(format!(
                    "unknown corruption `{other}` (noise, occlude)"
                )));
            }
        };
        c.severity_index()?;
        Ok(c)
    }

    fn severity_index(&self) -> Result<usize, Error> {
        let s = match *self {
            Self::Noise(s) | Self::Occlude(s) => s,
        };
        if (1..=3).contains(&s) {
            Ok(usize::from(s - 1))
        } else {
            Err(Error::Severity { severity: s })
        }
    }

    /// `noise=2`, `occlude=3`, ... (the report's setting names).
    pub fn key(&self) -> String {
        match self {
            Self::Noise(s) => format!("noise={s}"),
            Self::Occlude(s) => format!("occlude={s}"),
        }
    }

    /// Every corruption of the table: noise 1–3, then occlusion 1–3.
    pub fn all() -> Vec<Self> {
        (1..=3)
            .map(Self::Noise)
            .chain((1..=3).map(Self::Occlude))
            .collect()
    }
}

/// `x` (8×8 images in `[0, 1]`) under corruption `c`, drawn from the stream
/// `(seed, c.key())`.
///
/// # Errors
/// [`Error::Severity`] for a severity outside the table, [`Error::Config`] if the rows are
/// not 8×8 images.
pub fn corrupt(x: &Images, c: Corruption, seed: u64) -> Result<Images, Error> {
    let sev = c.severity_index()?;
    if x.dim != PIXELS {
        return Err(Error::Config(format!(
            "corruptions need 8×8 images, got rows of {}",
            x.dim
        )));
    }
    let mut rng = stream(seed, &format!("corrupt {}", c.key()));
    let mut out = x.clone();
    for img in out.pixels.chunks_mut(PIXELS) {
        match c {
            Corruption::Noise(_) => {
                let sigma = f64::from(NOISE_SIGMAS[sev]);
                for p in img.iter_mut() {
                    *p = ((f64::from(*p) + sigma * rng.normal()) as f32).clamp(0.0, 1.0);
                }
            }
            Corruption::Occlude(_) => {
                let s = OCCLUDE_SIDES[sev];
                let (x0, y0) = (rng.below(SIDE - s + 1), rng.below(SIDE - s + 1));
                for y in y0..y0 + s {
                    for xx in x0..x0 + s {
                        img[y * SIDE + xx] = 0.0;
                    }
                }
            }
        }
    }
    Ok(out)
}

/// Settings of the synthetic factor data (spec §5).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct FactorCfg {
    /// True factors (16).
    pub n_factors: usize,
    /// Observed dimensions (64).
    pub dim: usize,
    /// Fewest and most active factors per sample (2, 3), uniform count and positions.
    pub active: (usize, usize),
    /// Gamma shape of the active values (0.5; rate 1).
    pub gamma_shape: f64,
    /// Observation noise σ (0.1).
    pub noise_sigma: f64,
    /// Dropout share of a view (0.1).
    pub view_dropout: f64,
    /// Training samples (2,000).
    pub n_train: usize,
    /// Test samples (1,000).
    pub n_test: usize,
}

impl Default for FactorCfg {
    fn default() -> Self {
        Self {
            n_factors: 16,
            dim: 64,
            active: (2, 3),
            gamma_shape: 0.5,
            noise_sigma: 0.1,
            view_dropout: 0.1,
            n_train: 2000,
            n_test: 1000,
        }
    }
}

/// One part of the synthetic data.
#[derive(Debug, Clone)]
pub struct FactorData {
    /// Noisy observations `relu(W s) + noise` with labels `argmax s`.
    pub x: Images,
    /// Noise-free `relu(W s)`, `[n, dim]` (views re-noise it).
    pub clean: Vec<f32>,
    /// True codes `s`, `[n, n_factors]`.
    pub s: Vec<f32>,
}

/// The synthetic data: train and test parts and the loading matrix.
#[derive(Debug, Clone)]
pub struct FactorSplit {
    /// Training part.
    pub train: FactorData,
    /// Test part.
    pub test: FactorData,
    /// `W`, `[dim, n_factors]` row-major.
    pub w: Vec<f32>,
    /// The settings.
    pub cfg: FactorCfg,
}

impl FactorSplit {
    /// A view of training row `i`: fresh noise on `relu(W s_i)`, then dropout.
    ///
    /// # Errors
    /// [`Error::Config`] for a dropout share outside `[0, 1]`.
    pub fn view(&self, i: usize, rng: &mut SplitMix64) -> Result<Vec<f32>, Error> {
        let d = self.cfg.dim;
        let v: Vec<f32> = self.train.clean[i * d..(i + 1) * d]
            .iter()
            .map(|&c| (f64::from(c) + self.cfg.noise_sigma * rng.normal()) as f32)
            .collect();
        pixel_dropout(&v, self.cfg.view_dropout, rng).map_err(|e| Error::Config(e.to_string()))
    }
}

/// Generates the synthetic factor data from `seed` (streams `"W"`, `"train"`, `"test"`).
///
/// # Errors
/// [`Error::Config`] for zero sizes, an active range outside `1..=n_factors` or more
/// factors than 256 classes; [`Error::NonPositive`] for a bad Gamma shape.
pub fn synthetic_factors(cfg: &FactorCfg, seed: u64) -> Result<FactorSplit, Error> {
    let (lo, hi) = cfg.active;
    if cfg.n_factors == 0 || cfg.dim == 0 || lo == 0 || lo > hi || hi > cfg.n_factors {
        return Err(Error::Config(format!(
            "invalid synthetic factor settings {cfg:?}"
        )));
    }
    if cfg.n_factors > 256 {
        return Err(Error::Config("at most 256 factors (labels are u8)".into()));
    }
    let gamma = Gamma::new(cfg.gamma_shape, 1.0)?;
    let (m, d) = (cfg.n_factors, cfg.dim);
    let mut wr = stream(seed, "W");
    let w: Vec<f32> = (0..d * m).map(|_| wr.normal().abs() as f32).collect();
    let part = |n: usize, purpose: &str| -> FactorData {
        let mut rng = stream(seed, purpose);
        let (mut s, mut clean, mut x, mut labels) = (
            vec![0.0f32; n * m],
            Vec::with_capacity(n * d),
            Vec::with_capacity(n * d),
            Vec::with_capacity(n),
        );
        for i in 0..n {
            let count = lo + rng.below(hi - lo + 1);
            let mut pos: Vec<usize> = (0..m).collect();
            rng.shuffle(&mut pos);
            let row = &mut s[i * m..(i + 1) * m];
            for &j in &pos[..count] {
                row[j] = gamma.sample(&mut rng) as f32;
            }
            let mut best = 0;
            for j in 0..m {
                if row[j] > row[best] {
                    best = j;
                }
            }
            labels.push(best as u8);
            for r in 0..d {
                let v: f64 = (0..m)
                    .map(|j| f64::from(w[r * m + j]) * f64::from(row[j]))
                    .sum();
                let c = v.max(0.0);
                clean.push(c as f32);
                x.push((c + cfg.noise_sigma * rng.normal()) as f32);
            }
        }
        FactorData {
            x: Images {
                pixels: x,
                labels,
                dim: d,
            },
            clean,
            s,
        }
    };
    Ok(FactorSplit {
        train: part(cfg.n_train, "train"),
        test: part(cfg.n_test, "test"),
        w,
        cfg: *cfg,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digits_split_sizes_values_and_classes() {
        let d = digits().unwrap();
        assert_eq!(d.train.len() + d.test.len(), 1797);
        assert_eq!((d.train.len(), d.test.len()), (1297, 500));
        for part in [&d.train, &d.test] {
            assert!(part.pixels.iter().all(|&p| (0.0..=1.0).contains(&p)));
            // Values are k/16 for integers k in 0..=16.
            assert!(part.pixels.iter().all(|&p| (p * 16.0).fract() == 0.0));
            for c in 0..10u8 {
                assert!(part.labels.contains(&c), "class {c} missing");
            }
        }
        let (rest, val) = stratified_holdout(&d.train, 200, 0).unwrap();
        assert_eq!((rest.len(), val.len()), (1097, 200));
        assert!(stratified_holdout(&d.train, 5000, 0).is_err());
    }

    #[test]
    fn augment_and_corrupt_are_deterministic_and_shape_preserving() {
        let d = digits().unwrap();
        let img = d.train.row(0);
        let a = Augment::default();
        let v1 = a.view(img, &mut SplitMix64::new(4)).unwrap();
        let v2 = a.view(img, &mut SplitMix64::new(4)).unwrap();
        assert_eq!(v1, v2);
        assert_eq!(v1.len(), PIXELS);
        assert!(v1.iter().all(|&p| (0.0..=1.0).contains(&p)));
        assert_ne!(v1, a.view(img, &mut SplitMix64::new(5)).unwrap());
        for c in Corruption::all() {
            let x = corrupt(&d.test, c, 3).unwrap();
            assert_eq!(x, corrupt(&d.test, c, 3).unwrap());
            assert_eq!(
                (x.pixels.len(), &x.labels),
                (d.test.pixels.len(), &d.test.labels)
            );
            assert!(x.pixels.iter().all(|&p| (0.0..=1.0).contains(&p)));
            assert_ne!(x.pixels, d.test.pixels);
        }
        // Occlusion zeroes exactly s² pixels of an all-ones image.
        let ones = Images {
            pixels: vec![1.0; PIXELS],
            labels: vec![0],
            dim: PIXELS,
        };
        for (sev, s) in OCCLUDE_SIDES.iter().enumerate() {
            let x = corrupt(&ones, Corruption::Occlude(sev as u8 + 1), 0).unwrap();
            assert_eq!(x.pixels.iter().filter(|&&p| p == 0.0).count(), s * s);
        }
    }

    #[test]
    fn bad_severities_kinds_and_classes_are_errors() {
        let d = digits().unwrap();
        for s in [0u8, 4, 9] {
            let e = corrupt(&d.test, Corruption::Noise(s), 0).unwrap_err();
            assert!(e.to_string().contains(&format!("severity {s}")), "{e}");
        }
        assert!(Corruption::new("blur", 1).is_err());
        // Class 9 absent: the few-label probe refuses.
        let labels: Vec<u8> = (0..90).map(|i| (i % 9) as u8).collect();
        let e = few_label_subset(&labels, 10, 10, &mut SplitMix64::new(0)).unwrap_err();
        assert!(
            matches!(
                e,
                Error::EmptyClass {
                    class: 9,
                    have: 0,
                    need: 10
                }
            ),
            "{e}"
        );
        let e = few_label_subset(&labels, 5, 10, &mut SplitMix64::new(0)).unwrap_err();
        assert!(e.to_string().contains("class 9"), "{e}");
        let ok = few_label_subset(&labels, 5, 9, &mut SplitMix64::new(0)).unwrap();
        assert_eq!(ok.len(), 45);
        assert_eq!(
            ok,
            few_label_subset(&labels, 5, 9, &mut SplitMix64::new(0)).unwrap()
        );
    }

    #[test]
    fn synthetic_codes_have_two_or_three_actives() {
        let cfg = FactorCfg {
            n_train: 300,
            n_test: 100,
            ..FactorCfg::default()
        };
        let a = synthetic_factors(&cfg, 0).unwrap();
        let b = synthetic_factors(&cfg, 0).unwrap();
        assert_eq!(a.train.x, b.train.x);
        for part in [&a.train, &a.test] {
            for (i, row) in part.s.chunks(16).enumerate() {
                let act = row.iter().filter(|&&v| v > 0.0).count();
                assert!((2..=3).contains(&act), "row {i}: {act} actives");
                assert!(row.iter().all(|&v| v >= 0.0));
                let best = (0..16).max_by(|&p, &q| row[p].total_cmp(&row[q])).unwrap();
                assert_eq!(usize::from(part.x.labels[i]), best);
            }
        }
        assert!(a.w.iter().all(|&w| w >= 0.0) && a.w.len() == 64 * 16);
        assert_eq!(a.train.x.pixels.len(), 300 * 64);
        let v = a.view(0, &mut SplitMix64::new(1)).unwrap();
        assert_eq!(v.len(), 64);
        assert!(
            synthetic_factors(
                &FactorCfg {
                    active: (0, 3),
                    ..cfg
                },
                0
            )
            .is_err()
        );
    }
}

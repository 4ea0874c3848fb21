//! Tokenizers: maps from a batch of patches to one discrete id per patch, the K-MIM
//! targets. Every tokenizer is label-free except [`Oracle`] and [`OraclePix`] (analysis
//! controls).
//!
//! - [`PixelKMeans`] (K-MIM PIXEL): nearest k-means centre of the globally normalised
//!   patch (`‖x‖² − 2x·c + ‖c‖²`, argmin; with `normalize`, argmax of `⟨x/‖x‖, c⟩`).
//! - [`FeatureKMeans`] (K-MIM DINO analogue): the same on the per-patch outputs of a
//!   frozen MAE encoder (on the plain, non-autodiff device: no gradient can reach it).
//! - [`RandProj`] (RAND-K), [`Mix`] (MIX-K), [`Oracle`], [`OraclePix`]: controls.
//!
//! **RAND-K's bins** (our construction): `w ~ N(0, I)` normalised, `v = w·p`. With
//! `u_0 ≤ … ≤ u_{m−1}` the projections of the `m` *distinct* train patch vectors, the
//! `K − 1` edges are `e_j = u_{⌊j m / K⌋}` and a patch gets `#{j : e_j ≤ v}`: a value on
//! an edge goes to the upper bin. Quantiles over distinct vectors rather than over all
//! patches keep the blank patch (a large share of digit patches, one projected value)
//! from collapsing several bins into one; every bin then holds at least one distinct
//! vector unless two distinct vectors project onto the same edge value, which the fit
//! reports as an empty class.
//!
//! Tokens are recomputed on whatever batch is passed (the augmented batch each step,
//! spec P-C5); nothing is cached.

use burn::tensor::{Device, Int, Tensor, TensorData};
use repro_core::kmeans::KMeansConfig;
use repro_core::rng::SplitMix64;
use serde::{Deserialize, Serialize};

use crate::Error;
use crate::model::MaeVit;

/// A batch to tokenize.
#[derive(Debug, Clone)]
pub struct TokenBatch {
    /// Patches `[n, L, p²]` on the tokenizer's (plain) device.
    pub patches: Tensor<3>,
    /// Dataset index of each image (MIX draws per image, patch and step).
    pub image_ids: Vec<u32>,
    /// Class of each image: read only by [`Oracle`] and [`OraclePix`].
    pub labels: Option<Vec<u32>>,
    /// Training step (MIX draws afresh each step).
    pub step: u64,
}

/// A map from patches to token ids.
pub trait Tokenizer {
    /// Number of token ids, `K`.
    fn k(&self) -> usize;
    /// Token id of every patch.
    ///
    /// # Shapes
    /// - `b.patches`: `[n, L, p²]` -> `[n, L]` ids in `0..K`, on `b.patches`' device
    ///
    /// # Errors
    /// A labelled control without labels, or batch fields of the wrong length.
    fn tokens(&self, b: &TokenBatch) -> Result<Tensor<2, Int>, Error>;
}

/// k-means settings of the PIX and FEAT fits (the seed comes from the run).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct KMeansSettings {
    /// Restarts (10).
    pub n_init: usize,
    /// Lloyd iterations per restart (100).
    pub max_iter: usize,
    /// Relative change of inertia that stops a restart (1e-6).
    pub tol: f64,
}

impl Default for KMeansSettings {
    fn default() -> Self {
        Self {
            n_init: 10,
            max_iter: 100,
            tol: 1e-6,
        }
    }
}

/// Number of distinct rows of `x` (`d` values each, compared bit for bit).
pub fn count_distinct(x: &[f32], d: usize) -> usize {
    let mut rows: Vec<Vec<u32>> = x
        .chunks(d)
        .map(|r| r.iter().map(|v| v.to_bits()).collect())
        .collect();
    rows.sort_unstable();
    rows.dedup();
    rows.len()
}

/// Nearest centre of each row: argmin of `‖x‖² − 2x·c + ‖c‖²` (first on ties), or with
/// `normalize` argmax of `⟨x / ‖x‖, c⟩` (upstream `--token_normalize`).
///
/// # Shapes
/// - `x`: `[m, d]`, `centers`: `[K, d]` -> `[m]`
pub fn nearest_centre(x: Tensor<2>, centers: Tensor<2>, normalize: bool) -> Tensor<1, Int> {
    let m = x.dims()[0];
    if normalize {
        let norm = x.clone().square().sum_dim(1).sqrt().clamp_min(1e-12); // [m, 1]
        let sim = (x / norm).matmul(centers.transpose()); // [m, K]
        return sim.argmax(1).reshape([m]);
    }
    let x2 = x.clone().square().sum_dim(1); // [m, 1]
    let c2 = centers.clone().square().sum_dim(1).transpose(); // [1, K]
    let dist = x2 - x.matmul(centers.transpose()).mul_scalar(2.0) + c2; // [m, K]
    dist.argmin(1).reshape([m])
}

/// Host version of [`nearest_centre`] in f64 (fits and their checks).
fn assign_host(x: &[f32], centers: &[f32], d: usize, normalize: bool) -> Vec<u32> {
    let k = centers.len() / d;
    x.chunks(d)
        .map(|p| {
            let norm = if normalize {
                p.iter()
                    .map(|&v| f64::from(v).powi(2))
                    .sum::<f64>()
                    .sqrt()
                    .max(1e-12)
            } else {
                1.0
            };
            let mut best = (0u32, f64::INFINITY);
            for j in 0..k {
                let c = &centers[j * d..(j + 1) * d];
                let score = if normalize {
                    -p.iter()
                        .zip(c)
                        .map(|(&a, &b)| f64::from(a) * f64::from(b))
                        .sum::<f64>()
                        / norm
                } else {
                    p.iter()
                        .zip(c)
                        .map(|(&a, &b)| (f64::from(a) - f64::from(b)).powi(2))
                        .sum::<f64>()
                };
                if score < best.1 {
                    best = (j as u32, score);
                }
            }
            best.0
        })
        .collect()
}

/// Errors with the first token id no item of `tokens` carries.
///
/// # Errors
/// [`Error::EmptyToken`] naming `tokenizer` and the id.
pub fn check_no_empty(tokens: &[u32], k: usize, tokenizer: &str) -> Result<(), Error> {
    let mut seen = vec![false; k];
    for &t in tokens {
        if let Some(s) = seen.get_mut(t as usize) {
            *s = true;
        }
    }
    match seen.iter().position(|s| !s) {
        Some(token) => Err(Error::EmptyToken {
            tokenizer: tokenizer.into(),
            token,
            k,
        }),
        None => Ok(()),
    }
}

/// A set of centres used by nearest-centre assignment.
#[derive(Debug, Clone)]
pub struct Codebook {
    centers: Tensor<2>,
    host: Vec<f32>,
    k: usize,
    d: usize,
    normalize: bool,
}

impl Codebook {
    /// Fits k-means (core's, `seed`) on `x` (`n` rows of `d`), checks that `k` does not
    /// exceed the distinct rows and that every centre keeps at least one training row
    /// under the assignment rule.
    ///
    /// # Errors
    /// [`Error::TooManyTokens`], [`Error::EmptyToken`], or k-means' own errors.
    #[allow(clippy::too_many_arguments)]
    pub fn fit(
        name: &str,
        x: &[f32],
        d: usize,
        k: usize,
        km: &KMeansSettings,
        seed: u64,
        normalize: bool,
        device: &Device,
    ) -> Result<Self, Error> {
        let distinct = count_distinct(x, d);
        if k > distinct {
            return Err(Error::TooManyTokens {
                tokenizer: name.into(),
                k,
                distinct,
            });
        }
        let cfg = KMeansConfig {
            k,
            n_init: km.n_init,
            max_iter: km.max_iter,
            tol: km.tol,
            seed,
        };
        let fit = cfg
            .fit(x, x.len() / d.max(1), d)
            .map_err(|e| Error::Config(format!("{name}: {e}")))?;
        let centers: Vec<f32> = fit.centers.iter().map(|&v| v as f32).collect();
        Self::from_centers(name, centers, d, x, normalize, device)
    }

    /// Centres given row-major `[k, d]`, checked on `train` rows for empty tokens.
    ///
    /// # Errors
    /// [`Error::EmptyToken`] when a centre is nobody's nearest; [`Error::Config`] on sizes.
    pub fn from_centers(
        name: &str,
        centers: Vec<f32>,
        d: usize,
        train: &[f32],
        normalize: bool,
        device: &Device,
    ) -> Result<Self, Error> {
        if d == 0 || centers.is_empty() || !centers.len().is_multiple_of(d) {
            return Err(Error::Config(format!(
                "{name}: {} centre values are not rows of {d}",
                centers.len()
            )));
        }
        let k = centers.len() / d;
        check_no_empty(&assign_host(train, &centers, d, normalize), k, name)?;
        Ok(Self {
            centers: Tensor::from_data(TensorData::new(centers.clone(), [k, d]), device),
            host: centers,
            k,
            d,
            normalize,
        })
    }

    /// Centres, row-major `[k, d]`.
    pub fn centers(&self) -> &[f32] {
        &self.host
    }

    /// Nearest centre of each patch vector.
    ///
    /// # Shapes
    /// - `x`: `[n, L, d]` -> `[n, L]`
    pub fn assign(&self, x: Tensor<3>) -> Tensor<2, Int> {
        let [n, l, d] = x.dims();
        assert_eq!(
            d, self.d,
            "codebook of dimension {}, vectors of {d}",
            self.d
        );
        let c = self.centers.clone().to_device(&x.device());
        nearest_centre(x.reshape([n * l, d]), c, self.normalize).reshape([n, l])
    }
}

/// K-MIM PIXEL: k-means on globally normalised patches.
#[derive(Debug, Clone)]
pub struct PixelKMeans {
    /// The centres.
    pub codebook: Codebook,
}

impl PixelKMeans {
    /// Fits on `patches` (rows of `p²` normalised values).
    ///
    /// # Errors
    /// As [`Codebook::fit`].
    pub fn fit(
        patches: &[f32],
        d: usize,
        k: usize,
        km: &KMeansSettings,
        seed: u64,
        normalize: bool,
        device: &Device,
    ) -> Result<Self, Error> {
        let name = format!("PIX-{k}");
        Ok(Self {
            codebook: Codebook::fit(&name, patches, d, k, km, seed, normalize, device)?,
        })
    }
}

impl Tokenizer for PixelKMeans {
    fn k(&self) -> usize {
        self.codebook.k
    }

    fn tokens(&self, b: &TokenBatch) -> Result<Tensor<2, Int>, Error> {
        Ok(self.codebook.assign(b.patches.clone()))
    }
}

/// K-MIM on the per-patch features of a frozen MAE encoder.
#[derive(Debug)]
pub struct FeatureKMeans {
    encoder: MaeVit,
    /// The centres (in feature space).
    pub codebook: Codebook,
}

impl FeatureKMeans {
    /// Freezes `encoder` (moved to its plain device with `valid()`; it is never stepped)
    /// and fits k-means on its patch features of `train` (`[n, L, p²]`, plain device).
    ///
    /// # Errors
    /// As [`Codebook::fit`].
    pub fn fit(
        encoder: MaeVit,
        train: Tensor<3>,
        k: usize,
        km: &KMeansSettings,
        seed: u64,
        normalize: bool,
    ) -> Result<Self, Error> {
        use burn::module::Module;
        let encoder = encoder.valid();
        let device = train.device();
        let f = encoder.patch_features(train); // [n, L, d]
        let d = f.dims()[2];
        let host = repro_core::host::to_vec(f);
        let name = format!("FEAT-{k}");
        let codebook = Codebook::fit(&name, &host, d, k, km, seed, normalize, &device)?;
        Ok(Self { encoder, codebook })
    }

    /// The frozen encoder.
    pub fn encoder(&self) -> &MaeVit {
        &self.encoder
    }
}

impl Tokenizer for FeatureKMeans {
    fn k(&self) -> usize {
        self.codebook.k
    }

    fn tokens(&self, b: &TokenBatch) -> Result<Tensor<2, Int>, Error> {
        let f = self.encoder.patch_features(b.patches.clone()); // [n, L, d]
        Ok(self.codebook.assign(f))
    }
}

/// RAND-K: quantile bins of a random projection (bins in the module docs).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RandProj {
    /// Unit projection direction.
    pub w: Vec<f32>,
    /// The `K − 1` non-decreasing edges.
    pub edges: Vec<f64>,
}

impl RandProj {
    fn project(&self, p: &[f32]) -> f64 {
        p.iter()
            .zip(&self.w)
            .map(|(&a, &b)| f64::from(a) * f64::from(b))
            .sum()
    }

    fn bin(&self, v: f64) -> u32 {
        self.edges.partition_point(|&e| e <= v) as u32
    }

    /// Draws `w` from `seed` and sets the edges from the distinct rows of `train`.
    ///
    /// # Errors
    /// [`Error::TooManyTokens`] when `k` exceeds the distinct rows, [`Error::EmptyToken`]
    /// when ties empty a bin, [`Error::Config`] for `k < 2`.
    pub fn fit(train: &[f32], d: usize, k: usize, seed: u64) -> Result<Self, Error> {
        let name = format!("RAND-{k}");
        if k < 2 || d == 0 {
            return Err(Error::Config(format!("{name}: needs K >= 2 and d > 0")));
        }
        let mut rng = SplitMix64::new(seed);
        let w: Vec<f64> = (0..d).map(|_| rng.normal()).collect();
        let norm = w.iter().map(|v| v * v).sum::<f64>().sqrt().max(1e-12);
        let mut rp = Self {
            w: w.iter().map(|v| (v / norm) as f32).collect(),
            edges: Vec::new(),
        };
        let mut rows: Vec<Vec<u32>> = train
            .chunks(d)
            .map(|r| r.iter().map(|v| v.to_bits()).collect())
            .collect();
        rows.sort_unstable();
        rows.dedup();
        let m = rows.len();
        if k > m {
            return Err(Error::TooManyTokens {
                tokenizer: name,
                k,
                distinct: m,
            });
        }
        let mut u: Vec<f64> = rows
            .iter()
            .map(|r| {
                let p: Vec<f32> = r.iter().map(|&b| f32::from_bits(b)).collect();
                rp.project(&p)
            })
            .collect();
        u.sort_by(f64::total_cmp);
        rp.edges = (1..k).map(|j| u[j * m / k]).collect();
        let tokens: Vec<u32> = u.iter().map(|&v| rp.bin(v)).collect();
        check_no_empty(&tokens, k, &name)?;
        Ok(rp)
    }
}

impl Tokenizer for RandProj {
    fn k(&self) -> usize {
        self.edges.len() + 1
    }

    fn tokens(&self, b: &TokenBatch) -> Result<Tensor<2, Int>, Error> {
        let [n, l, d] = b.patches.dims();
        let host = repro_core::host::to_vec(b.patches.clone());
        let ids: Vec<i64> = host
            .chunks(d)
            .map(|p| i64::from(self.bin(self.project(p))))
            .collect();
        Ok(Tensor::from_data(
            TensorData::new(ids, [n, l]),
            &b.patches.device(),
        ))
    }
}

/// MIX-K: a token drawn uniformly from `0..K` per (image, patch, step), blind to content
/// and class.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Mix {
    /// Number of ids.
    pub k: usize,
    /// Seed of the draws.
    pub seed: u64,
}

impl Tokenizer for Mix {
    fn k(&self) -> usize {
        self.k
    }

    fn tokens(&self, b: &TokenBatch) -> Result<Tensor<2, Int>, Error> {
        let [n, l, _] = b.patches.dims();
        if b.image_ids.len() != n {
            return Err(Error::Config(format!(
                "MIX: {} image ids for {n} images",
                b.image_ids.len()
            )));
        }
        let mut ids = Vec::with_capacity(n * l);
        for &img in &b.image_ids {
            let key = self.seed ^ (u64::from(img) << 32) ^ b.step.wrapping_mul(0x9E37_79B9);
            let mut rng = SplitMix64::new(SplitMix64::new(key).next_u64());
            ids.extend((0..l).map(|_| rng.below(self.k) as i64));
        }
        Ok(Tensor::from_data(
            TensorData::new(ids, [n, l]),
            &b.patches.device(),
        ))
    }
}

fn labels_of<'a>(b: &'a TokenBatch, who: &str, n: usize) -> Result<&'a [u32], Error> {
    match &b.labels {
        Some(y) if y.len() == n => Ok(y),
        Some(y) => Err(Error::Config(format!(
            "{who}: {} labels for {n} images",
            y.len()
        ))),
        None => Err(Error::Config(format!(
            "{who} reads labels; the batch has none"
        ))),
    }
}

/// ORACLE: the image's label for every patch (`K` = classes). Uses labels: analysis only.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Oracle {
    /// Number of classes.
    pub classes: usize,
}

impl Tokenizer for Oracle {
    fn k(&self) -> usize {
        self.classes
    }

    fn tokens(&self, b: &TokenBatch) -> Result<Tensor<2, Int>, Error> {
        let [n, l, _] = b.patches.dims();
        let y = labels_of(b, "ORACLE", n)?;
        let ids: Vec<i64> = y
            .iter()
            .flat_map(|&c| std::iter::repeat_n(i64::from(c), l))
            .collect();
        Ok(Tensor::from_data(
            TensorData::new(ids, [n, l]),
            &b.patches.device(),
        ))
    }
}

/// ORACLE-PIX: `K_pix · label + PIX token` (class-aligned and content-aware).
#[derive(Debug, Clone)]
pub struct OraclePix {
    /// The pixel tokenizer.
    pub pix: PixelKMeans,
    /// Number of classes.
    pub classes: usize,
}

impl Tokenizer for OraclePix {
    fn k(&self) -> usize {
        self.classes * self.pix.k()
    }

    fn tokens(&self, b: &TokenBatch) -> Result<Tensor<2, Int>, Error> {
        let [n, l, _] = b.patches.dims();
        let y = labels_of(b, "ORACLE-PIX", n)?;
        let base: Vec<i64> = y
            .iter()
            .flat_map(|&c| std::iter::repeat_n(i64::from(c) * self.pix.k() as i64, l))
            .collect();
        let base = Tensor::<2, Int>::from_data(TensorData::new(base, [n, l]), &b.patches.device());
        Ok(base + self.pix.tokens(b)?)
    }
}

//! Data B (spec §3, `full`): 8×8 digits as sequences of 16 patch tokens. Images are scaled
//! to `[0, 1]`, normalised with the training pixels' global mean and std, cut into 2×2
//! patches by core's [`patchify`] (raster order) and assigned to the nearest of `K = 32`
//! core k-means centres fitted on the training images' patches.
//!
//! ```
//! use burn::tensor::Device;
//! use repro_generative_ssl::digits_seq::PatchTokenizer;
//! let imgs: Vec<f32> = (0..4 * 64).map(|i| ((i * 7) % 17) as f32 / 16.0).collect();
//! let tok = PatchTokenizer::fit(&imgs, 4, 0, &Device::flex())?;
//! let seqs = tok.tokens(&imgs, &Device::flex())?;
//! assert!(seqs.iter().all(|s| s.len() == 16 && s.iter().all(|&t| t < 4)));
//! # Ok::<(), anyhow::Error>(())
//! ```

use anyhow::ensure;
use burn::tensor::{Device, Tensor, TensorData};
use repro_core::kmeans::{KMeans, KMeansConfig};
use repro_core::patch::patchify;

/// Pixels per image.
pub const PIXELS: usize = 64;
/// Image side.
pub const SIDE: usize = 8;
/// Patch side.
pub const PATCH: usize = 2;
/// Tokens per image.
pub const TOKENS: usize = 16;

/// Global normalisation and k-means codebook of 2×2 patches.
#[derive(Debug, Clone)]
pub struct PatchTokenizer {
    /// Mean of the training pixels (images in `[0, 1]`).
    pub mean: f32,
    /// Their standard deviation.
    pub std: f32,
    /// The codebook.
    pub km: KMeans,
}

/// Normalised 2×2 patches of `images` (`[N·64]`, values in `[0, 1]`), `[N·16·4]` row-major.
fn patches(images: &[f32], mean: f32, std: f32, device: &Device) -> anyhow::Result<Vec<f32>> {
    ensure!(
        !images.is_empty() && images.len().is_multiple_of(PIXELS),
        "digits tokens: {} pixel values are not whole 8×8 images",
        images.len()
    );
    let n = images.len() / PIXELS;
    let norm: Vec<f32> = images.iter().map(|v| (v - mean) / std).collect();
    let x = Tensor::<2>::from_data(TensorData::new(norm, [n, PIXELS]), device);
    let p = patchify(x, SIDE, PATCH); // [N, 16, 4]
    p.into_data()
        .try_to_vec::<f32>()
        .map_err(|e| anyhow::anyhow!("patches: {e:?}"))
}

impl PatchTokenizer {
    /// Fits the normalisation and `k` centres on `images` (`[N·64]` in `[0, 1]`).
    ///
    /// # Errors
    /// No images, a ragged buffer, or k-means errors (`k` 0 or above the patch count).
    pub fn fit(images: &[f32], k: usize, seed: u64, device: &Device) -> anyhow::Result<Self> {
        ensure!(k > 0, "digits tokens: k = 0");
        ensure!(!images.is_empty(), "digits tokens: no images");
        let (mean, std) = repro_core::data::digits::global_moments(images);
        let p = patches(images, mean, std, device)?;
        let km = KMeansConfig::new(k, seed).fit(&p, p.len() / (PATCH * PATCH), PATCH * PATCH)?;
        Ok(Self { mean, std, km })
    }

    /// Token sequences of `images`: `[N][16]`, token `j` the code of patch `j` of
    /// [`patchify`].
    ///
    /// # Errors
    /// A ragged buffer.
    pub fn tokens(&self, images: &[f32], device: &Device) -> anyhow::Result<Vec<Vec<u32>>> {
        let p = patches(images, self.mean, self.std, device)?;
        let codes = self.km.assign(&p, PATCH * PATCH);
        Ok(codes
            .chunks(TOKENS)
            .map(|c| c.iter().map(|&v| v as u32).collect())
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use repro_core::data::digits;

    #[test]
    fn tokens_follow_patch_order() {
        let d = digits::load().unwrap();
        let imgs: Vec<f32> = d.images[..100 * PIXELS].iter().map(|v| v / 16.0).collect();
        let dev = Device::flex();
        let tok = PatchTokenizer::fit(&imgs, 32, 0, &dev).unwrap();
        let seqs = tok.tokens(&imgs, &dev).unwrap();
        assert_eq!(seqs.len(), 100);
        assert!(
            seqs.iter()
                .all(|s| s.len() == 16 && s.iter().all(|&t| t < 32))
        );
        // Token j of image 0 is the code of pixels (2⌊j/4⌋.., 2(j mod 4)..), assigned alone.
        for (j, &token) in seqs[0].iter().enumerate() {
            let (r, c) = (2 * (j / 4), 2 * (j % 4));
            let patch: Vec<f32> = [(r, c), (r, c + 1), (r + 1, c), (r + 1, c + 1)]
                .iter()
                .map(|&(y, x)| (imgs[y * 8 + x] - tok.mean) / tok.std)
                .collect();
            assert_eq!(tok.km.assign(&patch, 4)[0] as u32, token, "token {j}");
        }
        assert!(tok.tokens(&imgs[..10], &dev).is_err());
    }
}

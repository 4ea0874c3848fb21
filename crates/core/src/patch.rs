//! Images as patch sequences, for masked image modelling: `patchify` / `unpatchify` of
//! square single-channel images, MAE's fixed 2-D sin-cos position table, and random
//! masking with a fixed number of kept patches per sample.
//!
//! ```
//! use burn::tensor::{Device, Tensor, TensorData};
//! use repro_core::patch::{patchify, unpatchify};
//! let d = Device::flex();
//! let img = Tensor::<2>::from_data(TensorData::new((0..64).map(|i| i as f32).collect::<Vec<_>>(), [1, 64]), &d);
//! let p = patchify(img.clone(), 8, 2);
//! assert_eq!(p.dims(), [1, 16, 4]);
//! let patch5: Vec<f32> = p.clone().slice([0..1, 5..6, 0..4]).into_data().try_to_vec().unwrap();
//! assert_eq!(patch5, vec![18.0, 19.0, 26.0, 27.0]);
//! assert_eq!(unpatchify(p, 8, 2).into_data(), img.into_data());
//! ```

use burn::tensor::{Device, Int, Tensor, TensorData};

use crate::rng::SplitMix64;

/// Cuts square images into non-overlapping `p × p` patches, row-major over the patch grid,
/// pixels row-major inside each patch (MAE's `nhwpqc` order with one channel): patch `j`
/// covers rows `p⌊j/g⌋..` and columns `p(j mod g)..` with `g = side / p`.
///
/// # Shapes
/// - `x`: `[n, side * side]` (row-major images)
/// - returns `[n, g * g, p * p]`
///
/// # Panics
/// If `p` does not divide `side` or `x` is not `[n, side²]`.
pub fn patchify(x: Tensor<2>, side: usize, p: usize) -> Tensor<3> {
    let [n, len] = x.dims();
    assert!(
        p > 0 && side.is_multiple_of(p),
        "patchify: patch {p} does not divide side {side}"
    );
    assert_eq!(
        len,
        side * side,
        "patchify: rows of {len} are not {side}×{side} images"
    );
    let g = side / p;
    x.reshape([n, g, p, g, p])
        .permute([0, 1, 3, 2, 4])
        .reshape([n, g * g, p * p])
}

/// The inverse of [`patchify`].
///
/// # Shapes
/// - `patches`: `[n, g * g, p * p]` with `g = side / p`
/// - returns `[n, side * side]`
pub fn unpatchify(patches: Tensor<3>, side: usize, p: usize) -> Tensor<2> {
    let [n, l, pp] = patches.dims();
    let g = side / p;
    assert!(
        l == g * g && pp == p * p,
        "unpatchify: [{n}, {l}, {pp}] are not {g}×{g} patches of {p}×{p}"
    );
    patches
        .reshape([n, g, g, p, p])
        .permute([0, 1, 3, 2, 4])
        .reshape([n, side * side])
}

/// MAE's fixed 2-D sin-cos position table (`get_2d_sincos_pos_embed`) for a `grid × grid`
/// patch grid and width `dim`: for the patch at row `r`, column `c`, the first `dim / 2`
/// entries encode `c` and the last `dim / 2` encode `r` ("w goes first"), each half
/// `[sin(pos ω_i), cos(pos ω_i)]` with `ω_i = 10000^(−i / (dim / 4))`. With `cls`, a row of
/// zeros comes first.
///
/// # Shapes
/// - returns `[grid² (+ 1 with cls), dim]`
///
/// # Panics
/// If `dim` is not a multiple of 4.
pub fn sincos_2d(grid: usize, dim: usize, cls: bool, device: &Device) -> Tensor<2> {
    assert!(
        dim.is_multiple_of(4) && dim > 0,
        "sincos_2d: width {dim} is not a multiple of 4"
    );
    let quarter = dim / 4;
    let omega: Vec<f64> = (0..quarter)
        .map(|i| 1.0 / 10_000f64.powf(i as f64 / quarter as f64))
        .collect();
    let half = |pos: usize, out: &mut Vec<f32>| {
        out.extend(omega.iter().map(|w| (pos as f64 * w).sin() as f32));
        out.extend(omega.iter().map(|w| (pos as f64 * w).cos() as f32));
    };
    let mut v = Vec::with_capacity((grid * grid + 1) * dim);
    if cls {
        v.extend(std::iter::repeat_n(0.0, dim));
    }
    for r in 0..grid {
        for c in 0..grid {
            half(c, &mut v);
            half(r, &mut v);
        }
    }
    let rows = grid * grid + usize::from(cls);
    Tensor::from_data(TensorData::new(v, [rows, dim]), device)
}

/// A per-sample random masking of `l` patches, as MAE's `random_masking`.
#[derive(Debug, Clone)]
pub struct Masking {
    /// Kept patch indices per sample, in shuffled order: `[n, keep]`.
    pub ids_keep: Tensor<2, Int>,
    /// Where each patch went in the shuffle (`argsort(ids_shuffle)`): `[n, l]`.
    pub ids_restore: Tensor<2, Int>,
    /// 1 for removed patches, 0 for kept ones, in patch order: `[n, l]`.
    pub mask: Tensor<2>,
    /// Patches kept per sample, `⌊l (1 − ratio)⌋`.
    pub keep: usize,
}

/// `⌊l (1 − ratio)⌋` in integer arithmetic: the ratio is rounded to parts per million first,
/// so `l = 10, ratio = 0.9` keeps 1 (the float product `10 · (1 − 0.9)` is `0.999…`).
pub fn keep_count(l: usize, ratio: f64) -> usize {
    let ppm = (ratio.clamp(0.0, 1.0) * 1e6).round() as usize;
    l * (1_000_000 - ppm) / 1_000_000
}

/// Draws a masking: noise `U[0, 1)` per (sample, patch) from `rng`, shuffle = argsort of the
/// noise, keep the first [`keep_count`]`(l, ratio)`.
///
/// # Shapes
/// - `ids_keep` `[n, keep]`, `ids_restore` `[n, l]`, `mask` `[n, l]`
pub fn random_masking(
    n: usize,
    l: usize,
    ratio: f64,
    rng: &mut SplitMix64,
    device: &Device,
) -> Masking {
    let keep = keep_count(l, ratio);
    let (mut ids_keep, mut ids_restore, mut mask) = (
        Vec::with_capacity(n * keep),
        vec![0i64; n * l],
        vec![1.0f32; n * l],
    );
    for s in 0..n {
        let noise: Vec<f64> = (0..l).map(|_| rng.next_f64()).collect();
        let mut shuffle: Vec<usize> = (0..l).collect();
        shuffle.sort_by(|&a, &b| noise[a].total_cmp(&noise[b]).then(a.cmp(&b)));
        for (rank, &patch) in shuffle.iter().enumerate() {
            ids_restore[s * l + patch] = rank as i64;
            if rank < keep {
                ids_keep.push(patch as i64);
                mask[s * l + patch] = 0.0;
            }
        }
    }
    Masking {
        ids_keep: Tensor::from_data(TensorData::new(ids_keep, [n, keep]), device),
        ids_restore: Tensor::from_data(TensorData::new(ids_restore, [n, l]), device),
        mask: Tensor::from_data(TensorData::new(mask, [n, l]), device),
        keep,
    }
}

/// Gathers the rows `ids` `[n, k]` of each sample of `x` `[n, l, d]` (e.g. the kept
/// patches, or the un-shuffle by `ids_restore`).
///
/// # Shapes
/// - `x`: `[n, l, d]`, `ids`: `[n, k]`
/// - returns `[n, k, d]`
pub fn gather_rows(x: Tensor<3>, ids: Tensor<2, Int>) -> Tensor<3> {
    let [_, _, d] = x.dims();
    let idx = ids.unsqueeze_dim::<3>(2).repeat_dim(2, d);
    x.gather(1, idx)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vals<const D: usize>(t: Tensor<D>) -> Vec<f32> {
        t.into_data().try_to_vec().unwrap()
    }

    #[test]
    fn patches_cover_the_documented_pixels_and_round_trip() {
        let d = Device::flex();
        let x: Vec<f32> = (0..2 * 64).map(|i| i as f32).collect();
        let img = Tensor::<2>::from_data(TensorData::new(x.clone(), [2, 64]), &d);
        let p = patchify(img, 8, 2);
        let all = vals(p.clone());
        for s in 0..2 {
            for j in 0..16 {
                let (r0, c0) = (2 * (j / 4), 2 * (j % 4));
                let want: Vec<f32> = [(r0, c0), (r0, c0 + 1), (r0 + 1, c0), (r0 + 1, c0 + 1)]
                    .iter()
                    .map(|(r, c)| (s * 64 + r * 8 + c) as f32)
                    .collect();
                assert_eq!(
                    all[(s * 16 + j) * 4..(s * 16 + j + 1) * 4],
                    want[..],
                    "patch {j}"
                );
            }
        }
        assert_eq!(vals(unpatchify(p, 8, 2)), x);
    }

    #[test]
    fn sincos_table_follows_mae() {
        let d = Device::flex();
        let t = vals(sincos_2d(4, 64, true, &d));
        assert_eq!(t.len(), 17 * 64);
        assert!(t[..64].iter().all(|&v| v == 0.0), "CLS row is zero");
        // Patch 0 (r = c = 0): sin parts 0, cos parts 1.
        let p0 = &t[64..128];
        for h in 0..2 {
            assert!(p0[h * 32..h * 32 + 16].iter().all(|&v| v == 0.0));
            assert!(p0[h * 32 + 16..h * 32 + 32].iter().all(|&v| v == 1.0));
        }
        // Patch 6 is row 1, column 2: first half encodes c = 2, second r = 1; ω_1 = 10000^(−1/16).
        let p6 = &t[64 * 7..64 * 8];
        let w1 = 10_000f64.powf(-1.0 / 16.0);
        assert!((f64::from(p6[1]) - (2.0 * w1).sin()).abs() < 1e-6);
        assert!((f64::from(p6[16]) - 2f64.cos()).abs() < 1e-6);
        assert!((f64::from(p6[33]) - w1.sin()).abs() < 1e-6);
        assert!((f64::from(p6[48]) - 1f64.cos()).abs() < 1e-6);
    }

    #[test]
    fn keep_count_is_integer_arithmetic() {
        assert_eq!(keep_count(16, 0.75), 4);
        assert_eq!(keep_count(49, 0.75), 12);
        // The float product 10 · (1 − 0.9) is 0.9999999999999998: floor would give 0.
        assert!(((10.0f64) * (1.0 - 0.9)).floor() < 1.0);
        assert_eq!(keep_count(10, 0.9), 1);
        assert_eq!(keep_count(16, 0.5), 8);
    }

    #[test]
    fn masking_keeps_a_fixed_count_and_restores_order() {
        let d = Device::flex();
        let m = random_masking(3, 16, 0.75, &mut SplitMix64::new(4), &d);
        assert_eq!(m.keep, 4);
        let mask = vals(m.mask.clone());
        for s in 0..3 {
            assert_eq!(mask[s * 16..(s + 1) * 16].iter().sum::<f32>(), 12.0);
        }
        assert_ne!(mask[..16], mask[16..32], "masks differ across samples");
        // Kept rows gathered, then mask tokens (−1) appended and un-shuffled: patch order back.
        let x: Vec<f32> = (0..3 * 16).map(|i| (i % 16) as f32).collect();
        let x = Tensor::<3>::from_data(TensorData::new(x, [3, 16, 1]), &d);
        let kept = gather_rows(x, m.ids_keep.clone());
        let full = Tensor::cat(vec![kept, Tensor::<3>::zeros([3, 12, 1], &d) - 1.0], 1);
        let back = vals(gather_rows(full, m.ids_restore.clone()));
        for s in 0..3 {
            for j in 0..16 {
                let v = back[s * 16 + j];
                if mask[s * 16 + j] == 0.0 {
                    assert_eq!(v, j as f32);
                } else {
                    assert_eq!(v, -1.0);
                }
            }
        }
        // Same seed, same masking.
        let again = random_masking(3, 16, 0.75, &mut SplitMix64::new(4), &d);
        assert_eq!(vals(again.mask), mask);
    }
}

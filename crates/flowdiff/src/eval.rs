//! Data with a known clean law (ring8, moons), distances between sample sets (MMD^2, sliced
//! W2, Fréchet), PSNR, the exact ring8 Bayes posterior mean and ring8 mode statistics.
//!
//! The generic metrics ([`mmd2_rbf`], [`sliced_w2`], [`frechet_gaussian`], [`psnr`]) belong in
//! `repro_core::metrics` (spec §2); they live here until the core maintainers move them.

use burn::prelude::*;
use rayon::prelude::*;

use crate::config::Dataset2d;
use repro_core::linalg;
use repro_core::rng::Noise;

/// Std of each ring8 component.
pub const RING8_TAU: f64 = 0.1;

/// Means of the ring8 components: `2 (cos 2 pi k / 8, sin 2 pi k / 8)`.
pub fn ring8_means() -> [[f64; 2]; 8] {
    std::array::from_fn(|k| {
        let a = 2.0 * std::f64::consts::PI * k as f64 / 8.0;
        [2.0 * a.cos(), 2.0 * a.sin()]
    })
}

/// `n` clean samples of a 2-D dataset (host draws from `noise`).
///
/// # Shapes
/// - returns `[n, 2]`
pub fn sample_2d(ds: Dataset2d, n: usize, noise: &mut Noise, device: &Device) -> Tensor<2> {
    let mut v = Vec::with_capacity(2 * n);
    let means = ring8_means();
    for _ in 0..n {
        match ds {
            Dataset2d::Ring8 => {
                let m = means[noise.below(8)];
                v.push((m[0] + RING8_TAU * noise.normal()) as f32);
                v.push((m[1] + RING8_TAU * noise.normal()) as f32);
            }
            Dataset2d::Moons => {
                let th = std::f64::consts::PI * noise.uniform();
                let (px, py) = if noise.below(2) == 0 {
                    (th.cos(), th.sin())
                } else {
                    (1.0 - th.cos(), 0.5 - th.sin())
                };
                v.push((1.5 * (px - 0.5) + 0.05 * noise.normal()) as f32);
                v.push((1.5 * (py - 0.25) + 0.05 * noise.normal()) as f32);
            }
        }
    }
    Tensor::from_data(TensorData::new(v, [n, 2]), device)
}

fn kernel_mean(a: &[f32], b: &[f32], d: usize, inv2h2: &[f64]) -> f64 {
    let nb = b.len() / d;
    let total: f64 = a
        .par_chunks(d)
        .map(|ra| {
            let mut s = 0.0f64;
            for rb in b.chunks(d) {
                let mut sq = 0.0f32;
                for (x, y) in ra.iter().zip(rb) {
                    sq += (x - y) * (x - y);
                }
                let sq = f64::from(sq);
                s += inv2h2.iter().map(|c| (-sq * c).exp()).sum::<f64>();
            }
            s
        })
        // Collect, then add in row order: a parallel `sum()` adds in whatever order threads
        // finish, and the result must not depend on scheduling.
        .collect::<Vec<f64>>()
        .iter()
        .sum();
    total / ((a.len() / d) as f64 * nb as f64 * inv2h2.len() as f64)
}

/// Biased (V-statistic) `MMD^2` with the kernel `k(a, b) = mean_h exp(-||a - b||^2 / (2 h^2))`.
/// Rows are `d`-dimensional, row-major. Zero for identical sets, non-negative.
///
/// # Panics
/// If a set is empty or `bandwidths` is empty (programming errors; user-facing counts are
/// checked earlier).
pub fn mmd2_rbf(a: &[f32], b: &[f32], d: usize, bandwidths: &[f64]) -> f64 {
    assert!(
        !a.is_empty() && !b.is_empty() && !bandwidths.is_empty(),
        "mmd2_rbf: empty input"
    );
    let c: Vec<f64> = bandwidths.iter().map(|h| 1.0 / (2.0 * h * h)).collect();
    (kernel_mean(a, a, d, &c) + kernel_mean(b, b, d, &c) - 2.0 * kernel_mean(a, b, d, &c)).max(0.0)
}

/// [`mmd2_rbf`] with the `k(b, b)` term precomputed (it is shared by all methods).
pub fn mmd2_rbf_with_bb(a: &[f32], b: &[f32], d: usize, bandwidths: &[f64], kbb: f64) -> f64 {
    let c: Vec<f64> = bandwidths.iter().map(|h| 1.0 / (2.0 * h * h)).collect();
    (kernel_mean(a, a, d, &c) + kbb - 2.0 * kernel_mean(a, b, d, &c)).max(0.0)
}

/// `mean_{i,j} k(b_i, b_j)` for [`mmd2_rbf_with_bb`].
pub fn kernel_self_mean(b: &[f32], d: usize, bandwidths: &[f64]) -> f64 {
    let c: Vec<f64> = bandwidths.iter().map(|h| 1.0 / (2.0 * h * h)).collect();
    kernel_mean(b, b, d, &c)
}

/// Median of the Euclidean distances over all pairs `i < j` of the rows of `x` (`d` columns,
/// row-major); the mean of the two middle values for an even count, as `numpy.median`.
/// `None` with fewer than two rows.
pub fn median_pairwise_distance(x: &[f32], d: usize) -> Option<f64> {
    let n = x.len() / d.max(1);
    if n < 2 || d == 0 {
        return None;
    }
    let mut dist = Vec::with_capacity(n * (n - 1) / 2);
    for i in 0..n {
        for j in i + 1..n {
            let s: f64 = (0..d)
                .map(|k| f64::from(x[i * d + k] - x[j * d + k]).powi(2))
                .sum();
            dist.push(s.sqrt());
        }
    }
    let m = dist.len();
    let (_, &mut hi, _) = dist.select_nth_unstable_by(m / 2, f64::total_cmp);
    if m % 2 == 1 {
        return Some(hi);
    }
    // The lower middle value is the largest of the elements left of the upper one.
    let lo = dist[..m / 2]
        .iter()
        .copied()
        .fold(f64::NEG_INFINITY, f64::max);
    Some(0.5 * (lo + hi))
}

/// The median rule: `med · f` for each factor `f` (the spec's digits MMD uses
/// `{0.5, 1, 2}` with `med` the median pairwise distance of the clean test set).
/// `None` with fewer than two rows, or when every row is the same (`med = 0`).
pub fn median_rule_bandwidths(x: &[f32], d: usize, factors: &[f64]) -> Option<Vec<f64>> {
    let med = median_pairwise_distance(x, d)?;
    (med > 0.0).then(|| factors.iter().map(|f| med * f).collect())
}

/// Sliced W2: `sqrt(mean_dirs mean_i (a_(i) - b_(i))^2)` over `n_dirs` unit directions drawn
/// from `seed`, after sorting the projections. Needs equally many rows.
///
/// # Panics
/// If the sets have different sizes or are empty.
pub fn sliced_w2(a: &[f32], b: &[f32], d: usize, n_dirs: usize, seed: u64) -> f64 {
    let mut noise = Noise::new(seed);
    let dirs: Vec<Vec<f64>> = (0..n_dirs)
        .map(|_| {
            let v: Vec<f64> = (0..d).map(|_| noise.normal()).collect();
            let norm = v.iter().map(|x| x * x).sum::<f64>().sqrt();
            v.into_iter().map(|x| x / norm).collect()
        })
        .collect();
    sliced_w2_dirs(a, b, d, &dirs)
}

/// [`sliced_w2`] along given directions (each of length `d`, used as given: pass unit
/// vectors for the usual definition).
///
/// # Panics
/// If the sets have different sizes or are empty, or a direction is not of length `d`.
pub fn sliced_w2_dirs(a: &[f32], b: &[f32], d: usize, dirs: &[Vec<f64>]) -> f64 {
    assert!(
        a.len() == b.len() && !a.is_empty(),
        "sliced_w2: needs equal, non-empty sets"
    );
    assert!(
        dirs.iter().all(|u| u.len() == d),
        "sliced_w2: directions must have {d} entries"
    );
    let proj = |x: &[f32], u: &[f64]| -> Vec<f64> {
        let mut p: Vec<f64> = x
            .chunks(d)
            .map(|r| r.iter().zip(u).map(|(a, b)| f64::from(*a) * b).sum())
            .collect();
        p.sort_by(f64::total_cmp);
        p
    };
    let total: f64 = dirs
        .par_iter()
        .map(|u| {
            let (pa, pb) = (proj(a, u), proj(b, u));
            pa.iter()
                .zip(&pb)
                .map(|(x, y)| (x - y).powi(2))
                .sum::<f64>()
                / pa.len() as f64
        })
        .collect::<Vec<f64>>()
        .iter()
        .sum(); // in direction order, independent of thread scheduling
    (total / dirs.len() as f64).sqrt()
}

/// Fréchet distance of two Gaussians:
/// `||mu_a - mu_b||^2 + Tr(S_a + S_b - 2 (S_a^1/2 S_b S_a^1/2)^1/2)` (host `f64`).
pub fn frechet_gaussian(mu_a: &[f64], s_a: &[f64], mu_b: &[f64], s_b: &[f64]) -> f64 {
    let d = mu_a.len();
    let dm: f64 = mu_a.iter().zip(mu_b).map(|(x, y)| (x - y).powi(2)).sum();
    let ra = linalg::sym_apply(s_a, d, |w| w.max(0.0).sqrt());
    let inner = linalg::matmul(&linalg::matmul(&ra, s_b, d, d, d), &ra, d, d, d);
    let root = linalg::sym_apply(&inner, d, |w| w.max(0.0).sqrt());
    let tr = (0..d)
        .map(|i| s_a[i * d + i] + s_b[i * d + i] - 2.0 * root[i * d + i])
        .sum::<f64>();
    dm + tr
}

/// Fréchet distance between the Gaussian moment fits of two sample sets.
pub fn frechet_distance(a: &[f32], b: &[f32], d: usize) -> f64 {
    let to64 = |x: &[f32]| x.iter().map(|&v| f64::from(v)).collect::<Vec<_>>();
    let (ma, sa) = linalg::mean_cov(&to64(a), a.len() / d, d);
    let (mb, sb) = linalg::mean_cov(&to64(b), b.len() / d, d);
    frechet_gaussian(&ma, &sa, &mb, &sb)
}

/// `10 log10(range^2 / mse)` in dB; `+inf` for a zero error (report it capped at 100).
pub fn psnr(mse: f64, range: f64) -> f64 {
    if mse <= 0.0 {
        f64::INFINITY
    } else {
        10.0 * (range * range / mse).log10()
    }
}

/// Largest PSNR reported: identical images give `+inf`, which tables show as this cap.
pub const PSNR_CAP: f64 = 100.0;

/// PSNR of each image (rows of `d` values): `10 log10(range^2 / MSE_i)` with `MSE_i` the mean
/// over the row's pixels, capped at [`PSNR_CAP`].
pub fn psnr_per_image(est: &[f32], truth: &[f32], d: usize, range: f64) -> Vec<f64> {
    est.chunks(d)
        .zip(truth.chunks(d))
        .map(|(a, b)| {
            let mse = a
                .iter()
                .zip(b)
                .map(|(x, y)| f64::from(x - y).powi(2))
                .sum::<f64>()
                / d as f64;
            psnr(mse, range).min(PSNR_CAP)
        })
        .collect()
}

/// Mean over rows of `||a_i - b_i||^2` (sum over coordinates).
pub fn mean_sq_error(a: &[f32], b: &[f32], d: usize) -> f64 {
    let n = a.len() / d;
    a.iter()
        .zip(b)
        .map(|(x, y)| f64::from(x - y).powi(2))
        .sum::<f64>()
        / n as f64
}

/// The exact posterior mean under ring8 and noise `sigma`:
/// `E[x|y] = sum_k w_k (sigma^2 mu_k + tau^2 y) / (tau^2 + sigma^2)`,
/// `w_k ∝ exp(-||y - mu_k||^2 / (2 (tau^2 + sigma^2)))`.
pub fn ring8_posterior_mean(y: &[f32], sigma: f64) -> Vec<f32> {
    let means = ring8_means();
    let t2 = RING8_TAU * RING8_TAU;
    let s2 = sigma * sigma;
    let mut out = Vec::with_capacity(y.len());
    for r in y.chunks(2) {
        let (y0, y1) = (f64::from(r[0]), f64::from(r[1]));
        let logw: Vec<f64> = means
            .iter()
            .map(|m| -((y0 - m[0]).powi(2) + (y1 - m[1]).powi(2)) / (2.0 * (t2 + s2)))
            .collect();
        let mx = logw.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let w: Vec<f64> = logw.iter().map(|l| (l - mx).exp()).collect();
        let z: f64 = w.iter().sum();
        let (mut e0, mut e1) = (0.0, 0.0);
        for (wk, m) in w.iter().zip(&means) {
            e0 += wk / z * (s2 * m[0] + t2 * y0) / (t2 + s2);
            e1 += wk / z * (s2 * m[1] + t2 * y1) / (t2 + s2);
        }
        out.push(e0 as f32);
        out.push(e1 as f32);
    }
    out
}

/// ring8 mode statistics: the fraction of samples within 0.3 (3 tau) of a mode, and the
/// number of modes receiving at least 1% of the samples.
pub fn mode_stats(x: &[f32]) -> (f64, usize) {
    let means = ring8_means();
    let n = x.len() / 2;
    let mut counts = [0usize; 8];
    let mut near = 0usize;
    for r in x.chunks(2) {
        let (k, dist) = means
            .iter()
            .enumerate()
            .map(|(k, m)| {
                (
                    k,
                    ((f64::from(r[0]) - m[0]).powi(2) + (f64::from(r[1]) - m[1]).powi(2)).sqrt(),
                )
            })
            .fold(
                (0, f64::INFINITY),
                |acc, v| if v.1 < acc.1 { v } else { acc },
            );
        if dist <= 3.0 * RING8_TAU {
            near += 1;
            counts[k] += 1;
        }
    }
    let hit = counts
        .iter()
        .filter(|&&c| c as f64 >= 0.01 * n as f64)
        .count();
    (near as f64 / n.max(1) as f64, hit)
}

#[cfg(test)]
mod tests {
    use super::*;
    use repro_core::host::to_vec;

    const H: [f64; 5] = [0.05, 0.1, 0.2, 0.5, 1.0];

    #[test]
    fn median_rule_by_hand() {
        // Points 0, 1, 3 on a line: distances 1, 3, 2 -> median 2.
        assert_eq!(median_pairwise_distance(&[0.0, 1.0, 3.0], 1), Some(2.0));
        // Four corners of the unit square: distances 1, 1, 1, 1, √2, √2 -> (1 + 1) / 2 = 1.
        let sq = [0.0f32, 0.0, 1.0, 0.0, 0.0, 1.0, 1.0, 1.0];
        assert_eq!(median_pairwise_distance(&sq, 2), Some(1.0));
        // Points 0, 1, 3, 7: distances 1, 3, 7, 2, 6, 4 -> (3 + 4) / 2.
        assert_eq!(
            median_pairwise_distance(&[0.0, 1.0, 3.0, 7.0], 1),
            Some(3.5)
        );
        assert_eq!(
            median_rule_bandwidths(&[0.0, 1.0, 3.0], 1, &[0.5, 1.0, 2.0]),
            Some(vec![1.0, 2.0, 4.0])
        );
        assert_eq!(median_pairwise_distance(&[1.0], 1), None);
        assert_eq!(median_rule_bandwidths(&[2.0, 2.0], 1, &[1.0]), None);
    }

    #[test]
    fn sliced_w2_along_given_directions_by_hand() {
        // a = {(0, 0), (1, 0)}, b = {(0, 1), (2, 0)}. Along e1 the sorted projections are
        // (0, 1) and (0, 2): mean squared gap 1/2; along e2 (0, 0) and (0, 1): also 1/2.
        let (a, b) = ([0.0f32, 0.0, 1.0, 0.0], [0.0f32, 1.0, 2.0, 0.0]);
        let e = [vec![1.0, 0.0], vec![0.0, 1.0]];
        assert!((sliced_w2_dirs(&a, &b, 2, &e) - 0.5f64.sqrt()).abs() < 1e-12);
        assert!((sliced_w2_dirs(&a, &b, 2, &e[..1]) - 0.5f64.sqrt()).abs() < 1e-12);
        // Along (1, 1)/√2: a → (0, 1/√2), b → (1/√2, 2/√2): gaps 1/√2 and 1/√2.
        let diag = [vec![0.5f64.sqrt(), 0.5f64.sqrt()]];
        assert!((sliced_w2_dirs(&a, &b, 2, &diag) - 0.5f64.sqrt()).abs() < 1e-12);
        // A translation by (3, 0) costs 3 along e1 and 0 along e2: sqrt((9 + 0) / 2).
        let c: Vec<f32> = a.chunks(2).flat_map(|r| [r[0] + 3.0, r[1]]).collect();
        assert!((sliced_w2_dirs(&a, &c, 2, &e) - 4.5f64.sqrt()).abs() < 1e-6);
    }

    #[test]
    fn mmd_is_zero_for_identical_sets_and_matches_two_diracs() {
        let mut noise = Noise::new(0);
        let x: Vec<f32> = noise.normal_vec(400);
        assert!(mmd2_rbf(&x, &x, 2, &H).abs() < 1e-12);
        // Diracs a, b: MMD^2 = k(a,a) + k(b,b) - 2 k(a,b) = 2 (1 - mean_h exp(-|a-b|^2 / 2h^2)).
        let (a, b) = ([0.0f32, 0.0], [0.3f32, 0.4]);
        let expect =
            2.0 * (1.0 - H.iter().map(|h| (-0.25 / (2.0 * h * h)).exp()).sum::<f64>() / 5.0);
        assert!((mmd2_rbf(&a, &b, 2, &H) - expect).abs() < 1e-7);
    }

    #[test]
    fn mmd_and_sliced_w2_grow_with_a_shift() {
        let dev = Device::flex();
        let x = to_vec(sample_2d(Dataset2d::Ring8, 1000, &mut Noise::new(1), &dev));
        let shifted = |c: f32| {
            x.iter()
                .enumerate()
                .map(|(i, v)| v + if i % 2 == 0 { c } else { 0.0 })
                .collect::<Vec<_>>()
        };
        let m: Vec<f64> = [0.0, 0.1, 0.3, 1.0]
            .iter()
            .map(|&c| mmd2_rbf(&x, &shifted(c), 2, &H))
            .collect();
        assert!(
            m[0] < 1e-12 && m[0] < m[1] && m[1] < m[2] && m[2] < m[3],
            "{m:?}"
        );
        // SW2(X, X + c) = sqrt(mean_u <u, c>^2) = ||c|| / sqrt(2) in 2-D; 500 directions,
        // relative 5% (spec).
        let c = [0.3f32, -0.4];
        let xc: Vec<f32> = x.iter().enumerate().map(|(i, v)| v + c[i % 2]).collect();
        assert!(sliced_w2(&x, &x, 2, 500, 0) < 1e-12);
        let sw = sliced_w2(&x, &xc, 2, 500, 0);
        let expect = 0.5 / 2f64.sqrt();
        assert!((sw - expect).abs() < 0.05 * expect, "{sw} vs {expect}");
    }

    #[test]
    fn frechet_of_diagonal_gaussians_and_psnr() {
        // Diagonal covariances: ||dmu||^2 + sum (sqrt a_i - sqrt b_i)^2.
        let f = frechet_gaussian(
            &[0.0, 1.0],
            &[4.0, 0.0, 0.0, 1.0],
            &[1.0, 1.0],
            &[1.0, 0.0, 0.0, 9.0],
        );
        assert!((f - (1.0 + 1.0 + 4.0)).abs() < 1e-9, "{f}");
        // PSNR(MSE 0.04, range 2) = 10 log10(4 / 0.04) = 20 dB.
        assert!((psnr(0.04, 2.0) - 20.0).abs() < 1e-12);
        assert!(psnr(0.0, 2.0).is_infinite());
        // Per image: identical rows are capped; a row off by 0.2 everywhere has MSE 0.04.
        let p = psnr_per_image(&[0.5, 0.5, 0.2, 0.2], &[0.5, 0.5, 0.0, 0.0], 2, 2.0);
        assert_eq!(p[0], PSNR_CAP);
        assert!((p[1] - 20.0).abs() < 1e-6, "{p:?}");
    }

    #[test]
    fn fd_lite_is_zero_on_itself_and_grows_with_a_shift() {
        // FD-lite is the Fréchet distance on 32-d judge features: on a feature set with
        // itself it is 0 (up to the eigen-solver's rounding), and a shift c of every
        // feature adds exactly ||c||^2 = 32 c^2 (covariances unchanged).
        let mut noise = Noise::new(3);
        let f: Vec<f32> = (0..500 * 32)
            .map(|i| noise.normal() as f32 * (1.0 + (i % 32) as f32 / 16.0))
            .collect();
        assert!(frechet_distance(&f, &f, 32).abs() < 1e-8);
        let mut last = 0.0;
        for c in [0.1f32, 0.3, 1.0] {
            let g: Vec<f32> = f.iter().map(|v| v + c).collect();
            let fd = frechet_distance(&f, &g, 32);
            let expect = 32.0 * f64::from(c).powi(2);
            // f32 features shifted in f32: relative 1e-4.
            assert!(
                (fd - expect).abs() < 1e-4 * expect + 1e-6,
                "{fd} vs {expect}"
            );
            assert!(fd > last);
            last = fd;
        }
    }

    #[test]
    fn ring8_bayes_mean_matches_importance_sampling() {
        // Self-normalised importance sampling with 1e5 prior draws, weights N(y; x, sigma^2):
        // agreement 2e-2 (spec).
        let dev = Device::flex();
        let sigma = 0.5;
        let xs = to_vec(sample_2d(
            Dataset2d::Ring8,
            100_000,
            &mut Noise::new(2),
            &dev,
        ));
        let ys = [
            [2.0f32, 0.1],
            [0.0, 0.0],
            [1.2, 1.5],
            [-1.0, -2.3],
            [0.5, -0.2],
        ];
        for y in ys {
            let exact = ring8_posterior_mean(&y, sigma);
            let (mut s0, mut s1, mut z) = (0.0, 0.0, 0.0);
            for r in xs.chunks(2) {
                let w = (-(f64::from(y[0] - r[0]).powi(2) + f64::from(y[1] - r[1]).powi(2))
                    / (2.0 * sigma * sigma))
                    .exp();
                s0 += w * f64::from(r[0]);
                s1 += w * f64::from(r[1]);
                z += w;
            }
            assert!((s0 / z - f64::from(exact[0])).abs() < 2e-2, "{y:?}");
            assert!((s1 / z - f64::from(exact[1])).abs() < 2e-2, "{y:?}");
        }
    }

    #[test]
    fn clean_ring8_hits_every_mode() {
        let dev = Device::flex();
        let x = to_vec(sample_2d(Dataset2d::Ring8, 4000, &mut Noise::new(3), &dev));
        let (frac, hit) = mode_stats(&x);
        // Within 3 tau of the mean in 2-D: 1 - exp(-9/2) = 0.989.
        assert!(frac > 0.98 && hit == 8, "{frac} {hit}");
    }
}

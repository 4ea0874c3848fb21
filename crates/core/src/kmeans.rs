//! k-means (Lloyd) with k-means++ seeding, in `f64` on the host, deterministic under a
//! seed.
//!
//! Built for data with many repeated points (8×8 digit patches take few distinct values):
//! - points are deduplicated first and weighted by their multiplicity, so repeats cost
//!   nothing and can never seed two centres;
//! - k-means++ samples only points with positive squared distance `D²` to the centres so
//!   far (`k` is capped at the number of distinct points);
//! - an empty cluster is re-seeded at the point farthest from its centre;
//! - `n_init` restarts keep the lowest inertia.
//!
//! ```
//! use repro_core::kmeans::KMeansConfig;
//! // Three separated blobs of two points each.
//! let x = [0.0, 0.0, 0.1, 0.0, 5.0, 5.0, 5.1, 5.0, -5.0, 5.0, -5.1, 5.0];
//! let km = KMeansConfig::new(3, 7).fit(&x, 6, 2).unwrap();
//! let a = km.assign(&x, 2);
//! assert!(a[0] == a[1] && a[2] == a[3] && a[4] == a[5]);
//! assert!(a[0] != a[2] && a[2] != a[4] && a[0] != a[4]);
//! assert!(km.inertia < 0.02);
//! ```

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::rng::SplitMix64;

/// Settings of a k-means fit.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct KMeansConfig {
    /// Number of clusters (capped at the number of distinct points).
    pub k: usize,
    /// Restarts; the fit with the lowest inertia is kept.
    pub n_init: usize,
    /// Lloyd iterations per restart, at most.
    pub max_iter: usize,
    /// Stop when the inertia improves by less than this fraction.
    pub tol: f64,
    /// Seed of the k-means++ draws.
    pub seed: u64,
}

impl KMeansConfig {
    /// `k` clusters, 10 restarts, at most 100 iterations, tolerance 1e-6.
    pub fn new(k: usize, seed: u64) -> Self {
        Self {
            k,
            n_init: 10,
            max_iter: 100,
            tol: 1e-6,
            seed,
        }
    }

    /// Fits `n` points of dimension `d` (row-major `x`).
    ///
    /// # Errors
    /// If `x` does not hold `n * d` finite values, or `k` or `n` is zero.
    pub fn fit(&self, x: &[f32], n: usize, d: usize) -> anyhow::Result<KMeans> {
        if x.len() != n * d || d == 0 {
            anyhow::bail!(
                "k-means: {} values are not {n} points of dimension {d}",
                x.len()
            );
        }
        if n == 0 || self.k == 0 {
            anyhow::bail!(
                "k-means: need at least one point and one cluster (n = {n}, k = {})",
                self.k
            );
        }
        if let Some(i) = x.iter().position(|v| !v.is_finite()) {
            anyhow::bail!("k-means: value {} (point {}) is not finite", x[i], i / d);
        }
        let (points, weights) = dedup(x, d);
        let m = weights.len();
        let k = self.k.min(m);
        let mut rng = SplitMix64::new(self.seed);
        let mut best: Option<KMeans> = None;
        for _ in 0..self.n_init.max(1) {
            let init = plus_plus(&points, &weights, d, k, &mut rng);
            let fit = lloyd(&points, &weights, d, init, self.max_iter, self.tol);
            if best.as_ref().is_none_or(|b| fit.inertia < b.inertia) {
                best = Some(fit);
            }
        }
        Ok(best.expect("at least one restart"))
    }
}

/// A fitted k-means model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KMeans {
    /// Centres, row-major `[k, d]`.
    pub centers: Vec<f64>,
    /// Number of centres.
    pub k: usize,
    /// Dimension.
    pub d: usize,
    /// Sum of squared distances of the training points to their centres.
    pub inertia: f64,
    /// Lloyd iterations of the kept restart.
    pub iterations: usize,
    /// Inertia after each iteration of the kept restart (non-increasing).
    pub history: Vec<f64>,
}

impl KMeans {
    /// The nearest centre of each row of `x` (first on ties).
    pub fn assign(&self, x: &[f32], d: usize) -> Vec<usize> {
        assert_eq!(
            d, self.d,
            "k-means: points of dimension {d}, centres of {}",
            self.d
        );
        x.chunks(d)
            .map(|p| {
                let p: Vec<f64> = p.iter().map(|&v| f64::from(v)).collect();
                nearest(&p, &self.centers, d).0
            })
            .collect()
    }
}

fn sq_dist(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum()
}

/// Index and squared distance of the nearest centre (first on ties).
fn nearest(p: &[f64], centers: &[f64], d: usize) -> (usize, f64) {
    let mut best = (0, f64::INFINITY);
    for (j, c) in centers.chunks(d).enumerate() {
        let dist = sq_dist(p, c);
        if dist < best.1 {
            best = (j, dist);
        }
    }
    best
}

/// Distinct points (in first-seen order) and their multiplicities.
fn dedup(x: &[f32], d: usize) -> (Vec<f64>, Vec<f64>) {
    let mut index: HashMap<Vec<u32>, usize> = HashMap::new();
    let (mut points, mut weights) = (Vec::new(), Vec::<f64>::new());
    for p in x.chunks(d) {
        // -0.0 and 0.0 are the same point.
        let key: Vec<u32> = p.iter().map(|v| (v + 0.0).to_bits()).collect();
        match index.get(&key) {
            Some(&i) => weights[i] += 1.0,
            None => {
                index.insert(key, weights.len());
                points.extend(p.iter().map(|&v| f64::from(v)));
                weights.push(1.0);
            }
        }
    }
    (points, weights)
}

/// k-means++ on distinct weighted points: the first centre by weight, each next one with
/// probability ∝ weight · D², among points with D² > 0 only.
fn plus_plus(points: &[f64], w: &[f64], d: usize, k: usize, rng: &mut SplitMix64) -> Vec<f64> {
    let m = w.len();
    let pick = |weights: &[f64], rng: &mut SplitMix64| -> Option<usize> {
        let total: f64 = weights.iter().sum();
        if total.partial_cmp(&0.0) != Some(std::cmp::Ordering::Greater) {
            return None;
        }
        let mut u = rng.next_f64() * total;
        let mut last = None;
        for (i, &x) in weights.iter().enumerate() {
            if x > 0.0 {
                last = Some(i);
                if u < x {
                    return Some(i);
                }
                u -= x;
            }
        }
        last
    };
    let first = pick(w, rng).expect("weights are positive");
    let mut centers = points[first * d..(first + 1) * d].to_vec();
    let mut d2: Vec<f64> = (0..m)
        .map(|i| sq_dist(&points[i * d..(i + 1) * d], &centers[..d]))
        .collect();
    while centers.len() / d < k {
        let scores: Vec<f64> = d2.iter().zip(w).map(|(a, b)| a * b).collect();
        let Some(next) = pick(&scores, rng) else {
            break; // every point sits on a centre: fewer distinct points than k
        };
        let c = points[next * d..(next + 1) * d].to_vec();
        for (i, v) in d2.iter_mut().enumerate() {
            *v = v.min(sq_dist(&points[i * d..(i + 1) * d], &c));
        }
        centers.extend(c);
    }
    centers
}

fn lloyd(
    points: &[f64],
    w: &[f64],
    d: usize,
    mut centers: Vec<f64>,
    max_iter: usize,
    tol: f64,
) -> KMeans {
    let m = w.len();
    let k = centers.len() / d;
    let mut history = Vec::new();
    let mut prev = f64::INFINITY;
    let mut iterations = 0;
    for _ in 0..max_iter.max(1) {
        iterations += 1;
        let mut sums = vec![0.0; k * d];
        let mut counts = vec![0.0; k];
        let mut assign = Vec::with_capacity(m);
        for i in 0..m {
            let p = &points[i * d..(i + 1) * d];
            let (j, _) = nearest(p, &centers, d);
            assign.push(j);
            counts[j] += w[i];
            for (s, v) in sums[j * d..(j + 1) * d].iter_mut().zip(p) {
                *s += w[i] * v;
            }
        }
        for j in 0..k {
            if counts[j] > 0.0 {
                for t in 0..d {
                    centers[j * d + t] = sums[j * d + t] / counts[j];
                }
            } else {
                // Empty: re-seed at the point farthest from its own centre.
                let far = (0..m)
                    .max_by(|&a, &b| {
                        let da = sq_dist(
                            &points[a * d..(a + 1) * d],
                            &centers[assign[a] * d..(assign[a] + 1) * d],
                        );
                        let db = sq_dist(
                            &points[b * d..(b + 1) * d],
                            &centers[assign[b] * d..(assign[b] + 1) * d],
                        );
                        da.total_cmp(&db).then(b.cmp(&a))
                    })
                    .expect("points exist");
                let p = points[far * d..(far + 1) * d].to_vec();
                centers[j * d..(j + 1) * d].copy_from_slice(&p);
                assign[far] = j;
            }
        }
        let inertia: f64 = (0..m)
            .map(|i| w[i] * nearest(&points[i * d..(i + 1) * d], &centers, d).1)
            .sum();
        history.push(inertia);
        let done = prev.is_finite() && prev - inertia <= tol * prev.max(f64::MIN_POSITIVE);
        prev = inertia;
        if done {
            break;
        }
    }
    KMeans {
        centers,
        k,
        d,
        inertia: prev,
        iterations,
        history,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn blobs(seed: u64) -> Vec<f32> {
        let mut r = SplitMix64::new(seed);
        let mut x = Vec::new();
        for c in [(0.0, 0.0), (10.0, 0.0), (0.0, 10.0), (10.0, 10.0)] {
            for _ in 0..50 {
                x.push((c.0 + 0.5 * r.normal()) as f32);
                x.push((c.1 + 0.5 * r.normal()) as f32);
            }
        }
        x
    }

    #[test]
    fn recovers_blobs_and_inertia_never_increases() {
        let x = blobs(1);
        let mut cfg = KMeansConfig::new(4, 3);
        cfg.n_init = 3;
        let km = cfg.fit(&x, 200, 2).unwrap();
        let a = km.assign(&x, 2);
        for b in 0..4 {
            assert!(
                a[b * 50..(b + 1) * 50].iter().all(|&j| j == a[b * 50]),
                "blob {b} split"
            );
        }
        let mut ids: Vec<usize> = (0..4).map(|b| a[b * 50]).collect();
        ids.sort_unstable();
        assert_eq!(ids, vec![0, 1, 2, 3]);
        assert!(
            km.history.windows(2).all(|w| w[1] <= w[0] + 1e-9),
            "{:?}",
            km.history
        );
        // Every point is assigned to its nearest centre.
        for (p, &j) in x.chunks(2).zip(&a) {
            let p: Vec<f64> = p.iter().map(|&v| f64::from(v)).collect();
            let dj = sq_dist(&p, &km.centers[j * 2..j * 2 + 2]);
            assert!(km.centers.chunks(2).all(|c| dj <= sq_dist(&p, c)));
        }
        // Same seed, same fit; another seed may differ but fits as well.
        assert_eq!(cfg.fit(&x, 200, 2).unwrap(), km);
    }

    #[test]
    fn duplicates_never_seed_two_centres_and_k_is_capped() {
        // 100 copies of 3 distinct points, k = 5: only 3 distinct centres, inertia 0.
        let mut x = Vec::new();
        for i in 0..300 {
            let p = [[0.0f32, 0.0], [1.0, 0.0], [0.0, 1.0]][i % 3];
            x.extend_from_slice(&p);
        }
        let km = KMeansConfig::new(5, 0).fit(&x, 300, 2).unwrap();
        assert_eq!(km.k, 3);
        assert_eq!(km.inertia, 0.0);
        let mut c: Vec<(i64, i64)> = km
            .centers
            .chunks(2)
            .map(|c| ((c[0] * 10.0).round() as i64, (c[1] * 10.0).round() as i64))
            .collect();
        c.sort_unstable();
        assert_eq!(c, vec![(0, 0), (0, 10), (10, 0)]);
        // k-means++ with many duplicates of one point and k = 2 seeds the other point too.
        let mut y = vec![0.0f32; 2 * 99];
        y.extend_from_slice(&[3.0, 4.0]);
        let km = KMeansConfig::new(2, 9).fit(&y, 100, 2).unwrap();
        assert_eq!(km.inertia, 0.0);
    }

    #[test]
    fn bad_input_is_an_error() {
        let cfg = KMeansConfig::new(2, 0);
        assert!(
            cfg.fit(&[1.0, 2.0, 3.0], 2, 2)
                .unwrap_err()
                .to_string()
                .contains("3 values")
        );
        assert!(
            cfg.fit(&[1.0, f32::NAN], 1, 2)
                .unwrap_err()
                .to_string()
                .contains("not finite")
        );
        assert!(KMeansConfig::new(0, 0).fit(&[1.0], 1, 1).is_err());
    }
}

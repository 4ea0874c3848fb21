//! Version-stable random draws on top of [`SplitMix64`] (whose `normal()` gives Gaussians): Poisson
//! (Knuth), uniform integers and permutations. Splits, generators, initial weights and
//! dropout masks all come from here, so they never change with a dependency upgrade and
//! runs in parallel threads never share a generator.

pub use repro_core::data::split::SplitMix64;

/// A Poisson(`lambda`) draw (Knuth's product method; fine for small `lambda`).
pub fn poisson(rng: &mut SplitMix64, lambda: f64) -> usize {
    let l = (-lambda).exp();
    let mut k = 0;
    let mut p = 1.0;
    loop {
        p *= rng.next_f64();
        if p <= l {
            return k;
        }
        k += 1;
    }
}

/// A uniformly random permutation of `0..n` (Fisher–Yates).
pub fn permutation(rng: &mut SplitMix64, n: usize) -> Vec<u32> {
    let mut v: Vec<u32> = (0..n as u32).collect();
    rng.shuffle(&mut v);
    v
}

/// `n` draws from `U(-bound, bound)` as `f32`.
pub fn uniform_vec(rng: &mut SplitMix64, n: usize, bound: f64) -> Vec<f32> {
    (0..n)
        .map(|_| ((2.0 * rng.next_f64() - 1.0) * bound) as f32)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn moments_are_right() {
        // 20,000 draws: standard errors of the mean are ~0.007 (normal) and ~0.014
        // (Poisson(4)); tolerances are about 4 standard errors.
        let mut rng = SplitMix64::new(3);
        let z: Vec<f64> = (0..20_000).map(|_| rng.normal()).collect();
        let m = z.iter().sum::<f64>() / z.len() as f64;
        let v = z.iter().map(|x| (x - m).powi(2)).sum::<f64>() / z.len() as f64;
        assert!(m.abs() < 0.03 && (v - 1.0).abs() < 0.05, "{m} {v}");
        let p: Vec<f64> = (0..20_000).map(|_| poisson(&mut rng, 4.0) as f64).collect();
        let pm = p.iter().sum::<f64>() / p.len() as f64;
        assert!((pm - 4.0).abs() < 0.06, "{pm}");
        let mut perm = permutation(&mut rng, 50);
        perm.sort_unstable();
        assert_eq!(perm, (0..50).collect::<Vec<u32>>());
    }
}

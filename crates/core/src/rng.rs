//! Version-stable random numbers on the host: [`SplitMix64`], Gaussian draws (one per pair
//! of uniforms, or both Box–Muller outputs with [`Noise`]), Poisson draws, permutations and
//! named streams.
//!
//! Data splits, generators, initial weights drawn on the host and dropout masks come from
//! here rather than from `rand` (whose algorithms may change between releases) or from
//! Burn's process-wide generator (which parallel runs would share).
//!
//! ```
//! use repro_core::rng::{self, SplitMix64};
//! // One stream per purpose: the data and the dropout masks of seed 3 never share draws.
//! let mut data = rng::stream(3, "data");
//! let mut dropout = rng::stream(3, "dropout");
//! assert_ne!(data.next_u64(), dropout.next_u64());
//! let perm = rng::permutation(&mut SplitMix64::new(1), 5);
//! let mut sorted = perm.clone();
//! sorted.sort_unstable();
//! assert_eq!(sorted, vec![0, 1, 2, 3, 4]);
//! ```

use burn::tensor::{Device, Tensor, TensorData};

/// The SplitMix64 generator (Steele, Lea, Flood 2014): tiny, fast and fixed forever.
#[derive(Debug, Clone)]
pub struct SplitMix64(u64);

impl SplitMix64 {
    /// A generator started at `seed`.
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (Lemire's multiply-shift; bias below 2^-32 for n < 2^32).
    pub fn below(&mut self, n: usize) -> usize {
        ((self.next_u64() >> 32).wrapping_mul(n as u64) >> 32) as usize
    }

    /// Uniform in `[0, 1)` with 53 bits.
    pub fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// A standard normal draw (Box–Muller on two uniforms; the second value of the pair is
    /// discarded, so every draw consumes exactly two uniforms). [`Noise`] keeps both.
    pub fn normal(&mut self) -> f64 {
        // 1 − u lies in (0, 1], so the logarithm is finite.
        let u1 = 1.0 - self.next_f64();
        let u2 = self.next_f64();
        (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
    }

    /// Fisher–Yates shuffle in place.
    pub fn shuffle<T>(&mut self, v: &mut [T]) {
        for i in (1..v.len()).rev() {
            let j = self.below(i + 1);
            v.swap(i, j);
        }
    }
}

/// A generator for one purpose of one seed: `seed` mixed with the FNV-1a hash of `purpose`,
/// so streams for different purposes (data, initialisation, dropout, ...) never overlap in
/// practice and adding a new purpose never shifts an old one.
pub fn stream(seed: u64, purpose: &str) -> SplitMix64 {
    let mut h: u64 = 0xCBF2_9CE4_8422_2325;
    for b in purpose.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01B3);
    }
    // One SplitMix64 step decorrelates nearby seeds.
    SplitMix64::new(SplitMix64::new(seed ^ h).next_u64())
}

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

/// A seeded source of uniform and Gaussian numbers that uses **both** Box–Muller outputs
/// (half the uniforms of [`SplitMix64::normal`] per Gaussian; a different stream).
#[derive(Debug, Clone)]
pub struct Noise {
    rng: SplitMix64,
    spare: Option<f64>,
}

impl Noise {
    /// A generator started at `seed`.
    pub fn new(seed: u64) -> Self {
        Self {
            rng: SplitMix64::new(seed),
            spare: None,
        }
    }

    /// Uniform in `[0, 1)`.
    pub fn uniform(&mut self) -> f64 {
        self.rng.next_f64()
    }

    /// Uniform in `0..n`.
    pub fn below(&mut self, n: usize) -> usize {
        self.rng.below(n)
    }

    /// A standard normal draw (Box–Muller, both outputs used).
    pub fn normal(&mut self) -> f64 {
        if let Some(z) = self.spare.take() {
            return z;
        }
        // 1 − u lies in (0, 1], so the log is finite.
        let u1 = 1.0 - self.rng.next_f64();
        let u2 = self.rng.next_f64();
        let r = (-2.0 * u1.ln()).sqrt();
        let (s, c) = (2.0 * std::f64::consts::PI * u2).sin_cos();
        self.spare = Some(r * s);
        r * c
    }

    /// `n` standard normal draws as `f32`.
    pub fn normal_vec(&mut self, n: usize) -> Vec<f32> {
        (0..n).map(|_| self.normal() as f32).collect()
    }

    /// A `[rows, cols]` tensor of standard normal draws.
    ///
    /// # Shapes
    /// - returns `[rows, cols]`
    pub fn normal_tensor(&mut self, rows: usize, cols: usize, device: &Device) -> Tensor<2> {
        Tensor::from_data(
            TensorData::new(self.normal_vec(rows * cols), [rows, cols]),
            device,
        )
    }

    /// A `[n]` tensor of uniform draws in `[0, 1)`.
    ///
    /// # Shapes
    /// - returns `[n]`
    pub fn uniform_tensor(&mut self, n: usize, device: &Device) -> Tensor<1> {
        let v: Vec<f32> = (0..n).map(|_| self.uniform() as f32).collect();
        Tensor::from_data(TensorData::new(v, [n]), device)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reference_values_of_splitmix64() {
        // Seed 1234567, from the public-domain C implementation.
        let mut r = SplitMix64::new(1_234_567);
        assert_eq!(r.next_u64(), 6_457_827_717_110_365_317);
        assert_eq!(r.next_u64(), 3_203_168_211_198_807_973);
    }

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
        let u = uniform_vec(&mut rng, 1000, 0.5);
        assert!(u.iter().all(|x| x.abs() <= 0.5));
    }

    #[test]
    fn noise_uses_both_box_muller_outputs() {
        // 200 000 draws: the standard error of the mean is 0.0022, of the variance 0.0032;
        // tolerances are ~5 standard errors.
        let mut n = Noise::new(3);
        let v: Vec<f64> = (0..200_000).map(|_| n.normal()).collect();
        let m = v.iter().sum::<f64>() / v.len() as f64;
        let var = v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / v.len() as f64;
        assert!(m.abs() < 0.011, "mean {m}");
        assert!((var - 1.0).abs() < 0.016, "var {var}");
        // The second draw is the sine partner of the first: r² = z1² + z2² from one pair.
        let mut a = Noise::new(9);
        let mut u = SplitMix64::new(9);
        let (z1, z2) = (a.normal(), a.normal());
        let u1 = 1.0 - u.next_f64();
        assert!(((z1 * z1 + z2 * z2) - (-2.0 * u1.ln())).abs() < 1e-12);
    }

    #[test]
    fn named_streams_are_stable_and_distinct() {
        let first = |seed, p| stream(seed, p).next_u64();
        assert_eq!(first(1, "data"), first(1, "data"));
        assert_ne!(first(1, "data"), first(1, "init"));
        assert_ne!(first(1, "data"), first(2, "data"));
    }
}

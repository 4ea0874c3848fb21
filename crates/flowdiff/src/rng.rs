//! Host-side random draws on [`SplitMix64`], so data and training noise never change with a
//! dependency upgrade and never race on Burn's process-wide generator.

use burn::tensor::{Device, Tensor, TensorData};
use repro_core::data::split::SplitMix64;

/// A seeded source of uniform and Gaussian numbers (Box-Muller on [`SplitMix64`]).
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

    /// A standard normal draw (Box-Muller, both outputs used).
    pub fn normal(&mut self) -> f64 {
        if let Some(z) = self.spare.take() {
            return z;
        }
        // 1 - u lies in (0, 1], so the log is finite.
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

/// Row-major host matrix `[rows, cols]` to a tensor.
///
/// # Shapes
/// - returns `[rows, cols]`
pub fn to_tensor(values: Vec<f32>, rows: usize, cols: usize, device: &Device) -> Tensor<2> {
    Tensor::from_data(TensorData::new(values, [rows, cols]), device)
}

/// A tensor's values on the host, row-major.
pub fn to_vec<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.into_data()
        .try_to_vec::<f32>()
        .expect("float tensors are stored as f32")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gaussian_moments() {
        // 200 000 draws: the standard error of the mean is 1/sqrt(2e5) = 0.0022, of the
        // variance sqrt(2/2e5) = 0.0032; tolerances are ~5 standard errors.
        let mut n = Noise::new(3);
        let v: Vec<f64> = (0..200_000).map(|_| n.normal()).collect();
        let m = v.iter().sum::<f64>() / v.len() as f64;
        let var = v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / v.len() as f64;
        assert!(m.abs() < 0.011, "mean {m}");
        assert!((var - 1.0).abs() < 0.016, "var {var}");
    }
}

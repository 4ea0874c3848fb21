//! Corruptions with a known forward model `y = f(x) + sigma * n`, `n ~ N(0, I)` (paper §3:
//! "known forward operator and noise level"). Every operator here is linear, so it is a
//! matrix `A [m, d]` acting on row vectors: `f(x) = x A^T`, adjoint `y A`.

use burn::tensor::{Device, Tensor};

use repro_core::host::matrix;
use repro_core::rng::Noise;

/// Bad corruption settings, reported instead of panicking.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CorruptionError {
    /// The blur kernel does not fit in the image.
    #[error("blur kernel {ksize}x{ksize} is larger than the {h}x{w} image")]
    KernelTooLarge {
        /// Kernel side.
        ksize: usize,
        /// Image height.
        h: usize,
        /// Image width.
        w: usize,
    },
    /// The blur kernel side must be odd (centred kernel).
    #[error("blur kernel side {0} must be odd and at least 1")]
    EvenKernel(usize),
    /// The blur standard deviation must be positive.
    #[error("blur standard deviation {0} must be positive and finite")]
    BadBlurStd(f32),
    /// The Gaussian likelihood `||y - f(x)||^2 / (2 sigma^2)` needs `sigma > 0`.
    #[error(
        "noise level sigma = {0}: the Gaussian likelihood ||y - f(x)||^2 / (2 sigma^2) needs a \
         positive, finite sigma"
    )]
    BadNoiseLevel(f32),
    /// No samples were given.
    #[error("sample count is zero: {0} needs at least one sample")]
    NoSamples(&'static str),
    /// The observed fraction of an inpainting mask must lie in `(0, 1]`.
    #[error("inpainting fraction {0} must lie in (0, 1]: at least one pixel must be observed")]
    BadFraction(f32),
    /// A matrix or mask has the wrong size.
    #[error("shape mismatch: {0}")]
    Shape(String),
}

/// A known linear forward model with Gaussian noise of level `sigma`.
pub trait ForwardOperator: Send + Sync {
    /// `f(x)`.
    ///
    /// # Shapes
    /// - x: `[n, d]` -> `[n, m]`
    fn apply(&self, x: Tensor<2>) -> Tensor<2>;
    /// `A^T y`.
    ///
    /// # Shapes
    /// - y: `[n, m]` -> `[n, d]`
    fn adjoint(&self, y: Tensor<2>) -> Tensor<2>;
    /// Noise standard deviation (positive).
    fn sigma(&self) -> f32;
    /// Clean dimension `d`.
    fn in_dim(&self) -> usize;
    /// Observation dimension `m`.
    fn out_dim(&self) -> usize;
    /// The matrix `A`, row-major `[m, d]`, in `f64` (host algebra: Gaussian EM, Wiener).
    fn dense(&self) -> Vec<f64>;
}

fn check_sigma(sigma: f32) -> Result<(), CorruptionError> {
    if sigma > 0.0 && sigma.is_finite() {
        Ok(())
    } else {
        Err(CorruptionError::BadNoiseLevel(sigma))
    }
}

/// Denoising: `f(x) = x`.
#[derive(Debug, Clone)]
pub struct IdentityOp {
    /// Noise level.
    pub sigma: f32,
    /// Dimension.
    pub dim: usize,
}

impl IdentityOp {
    /// An identity operator in `dim` dimensions with noise `sigma > 0`.
    pub fn new(dim: usize, sigma: f32) -> Result<Self, CorruptionError> {
        check_sigma(sigma)?;
        Ok(Self { sigma, dim })
    }
}

impl ForwardOperator for IdentityOp {
    fn apply(&self, x: Tensor<2>) -> Tensor<2> {
        x
    }
    fn adjoint(&self, y: Tensor<2>) -> Tensor<2> {
        y
    }
    fn sigma(&self) -> f32 {
        self.sigma
    }
    fn in_dim(&self) -> usize {
        self.dim
    }
    fn out_dim(&self) -> usize {
        self.dim
    }
    fn dense(&self) -> Vec<f64> {
        repro_core::linalg::eye(self.dim)
    }
}

/// A dense linear operator `A [m, d]` (blur, inpainting row selection).
#[derive(Debug, Clone)]
pub struct MatrixOp {
    a: Vec<f32>,
    m: usize,
    d: usize,
    sigma: f32,
}

impl MatrixOp {
    /// `A` row-major `[m, d]`, noise `sigma > 0`.
    pub fn new(a: Vec<f32>, m: usize, d: usize, sigma: f32) -> Result<Self, CorruptionError> {
        check_sigma(sigma)?;
        if a.len() != m * d || m == 0 || d == 0 {
            return Err(CorruptionError::Shape(format!(
                "matrix has {} entries, expected {m} x {d} (both positive)",
                a.len()
            )));
        }
        Ok(Self { a, m, d, sigma })
    }

    /// Gaussian blur of an `h x w` image (see [`gaussian_blur_matrix`]) plus noise `sigma`.
    pub fn blur(
        h: usize,
        w: usize,
        ksize: usize,
        std: f32,
        sigma: f32,
    ) -> Result<Self, CorruptionError> {
        Self::new(gaussian_blur_matrix(h, w, ksize, std)?, h * w, h * w, sigma)
    }

    /// Inpainting: observe the coordinates where `mask` is true (rows of the identity).
    pub fn inpainting(mask: &[bool], sigma: f32) -> Result<Self, CorruptionError> {
        let d = mask.len();
        let kept: Vec<usize> = (0..d).filter(|&i| mask[i]).collect();
        if kept.is_empty() {
            return Err(CorruptionError::Shape(
                "inpainting mask observes nothing".into(),
            ));
        }
        let mut a = vec![0.0; kept.len() * d];
        for (r, &i) in kept.iter().enumerate() {
            a[r * d + i] = 1.0;
        }
        Self::new(a, kept.len(), d, sigma)
    }

    /// Inpainting with a random mask from [`random_mask`] (`frac` of `d` coordinates observed).
    ///
    /// # Errors
    /// `frac` outside `(0, 1]`, `d = 0`, or `sigma <= 0`.
    pub fn random_inpainting(
        d: usize,
        frac: f32,
        sigma: f32,
        seed: u64,
    ) -> Result<Self, CorruptionError> {
        Self::inpainting(&random_mask(d, frac, seed)?, sigma)
    }

    fn matrix(&self, device: &Device) -> Tensor<2> {
        matrix(self.a.clone(), self.m, self.d, device)
    }
}

impl ForwardOperator for MatrixOp {
    fn apply(&self, x: Tensor<2>) -> Tensor<2> {
        let a = self.matrix(&x.device());
        x.matmul(a.transpose()) // [n, d] x [d, m] -> [n, m]
    }
    fn adjoint(&self, y: Tensor<2>) -> Tensor<2> {
        let a = self.matrix(&y.device());
        y.matmul(a) // [n, m] x [m, d] -> [n, d]
    }
    fn sigma(&self) -> f32 {
        self.sigma
    }
    fn in_dim(&self) -> usize {
        self.d
    }
    fn out_dim(&self) -> usize {
        self.m
    }
    fn dense(&self) -> Vec<f64> {
        self.a.iter().map(|&v| f64::from(v)).collect()
    }
}

/// A mask observing exactly `round(frac d)` (at least 1) of `d` coordinates, chosen uniformly
/// by a partial Fisher-Yates shuffle seeded with `seed`.
///
/// # Errors
/// `frac` outside `(0, 1]` (or not finite), or `d = 0`.
pub fn random_mask(d: usize, frac: f32, seed: u64) -> Result<Vec<bool>, CorruptionError> {
    if !(frac > 0.0 && frac <= 1.0) {
        return Err(CorruptionError::BadFraction(frac));
    }
    if d == 0 {
        return Err(CorruptionError::NoSamples("an inpainting mask (d = 0)"));
    }
    let k = ((f64::from(frac) * d as f64).round() as usize).clamp(1, d);
    let mut idx: Vec<usize> = (0..d).collect();
    let mut noise = Noise::new(seed);
    for i in 0..k {
        let j = i + noise.below(d - i);
        idx.swap(i, j);
    }
    let mut mask = vec![false; d];
    for &i in &idx[..k] {
        mask[i] = true;
    }
    Ok(mask)
}

/// The normalised 1-D Gaussian kernel of odd side `ksize`: `k_j ∝ exp(-j^2 / (2 std^2))`,
/// `j = -r..=r`, summing to 1.
pub fn gaussian_kernel_1d(ksize: usize, std: f32) -> Result<Vec<f64>, CorruptionError> {
    if ksize == 0 || ksize.is_multiple_of(2) {
        return Err(CorruptionError::EvenKernel(ksize));
    }
    if !(std > 0.0 && std.is_finite()) {
        return Err(CorruptionError::BadBlurStd(std));
    }
    let r = (ksize / 2) as i64;
    let s = f64::from(std);
    let k: Vec<f64> = (-r..=r)
        .map(|j| (-(j * j) as f64 / (2.0 * s * s)).exp())
        .collect();
    let total: f64 = k.iter().sum();
    Ok(k.into_iter().map(|v| v / total).collect())
}

/// The blur of an `h x w` image (row-major pixels) by a separable, normalised `ksize x ksize`
/// Gaussian with zero padding, as a row-major `[h*w, h*w]` matrix: `A = T_h ⊗ T_w` with
/// `T[i, i + j] = k_j` (no renormalisation at the border).
///
/// # Errors
/// A kernel larger than the image, an even kernel side, or a non-positive `std`.
pub fn gaussian_blur_matrix(
    h: usize,
    w: usize,
    ksize: usize,
    std: f32,
) -> Result<Vec<f32>, CorruptionError> {
    if ksize > h || ksize > w {
        return Err(CorruptionError::KernelTooLarge { ksize, h, w });
    }
    let k = gaussian_kernel_1d(ksize, std)?;
    let r = (ksize / 2) as i64;
    let n = h * w;
    let mut a = vec![0.0f32; n * n];
    for i1 in 0..h as i64 {
        for j1 in 0..w as i64 {
            let row = (i1 * w as i64 + j1) as usize;
            for di in -r..=r {
                for dj in -r..=r {
                    let (i2, j2) = (i1 + di, j1 + dj);
                    if i2 < 0 || j2 < 0 || i2 >= h as i64 || j2 >= w as i64 {
                        continue; // zero padding
                    }
                    let col = (i2 * w as i64 + j2) as usize;
                    a[row * n + col] = (k[(di + r) as usize] * k[(dj + r) as usize]) as f32;
                }
            }
        }
    }
    Ok(a)
}

/// Clean samples. Only evaluation code sees them: training entry points take
/// [`Observations`] and do not accept this type.
#[derive(Debug, Clone)]
pub struct CleanSamples(pub Tensor<2>);

/// Corrupted observations `y = f(x) + sigma * n`, `[n, m]`.
#[derive(Debug, Clone)]
pub struct Observations(pub Tensor<2>);

/// Applies the forward model and adds `sigma * n` with `n` drawn from `seed`.
///
/// # Shapes
/// - x: `[n, d]` -> `[n, m]`
///
/// # Errors
/// An empty sample set or a dimension mismatch.
pub fn corrupt(
    op: &dyn ForwardOperator,
    x: &CleanSamples,
    seed: u64,
) -> Result<Observations, CorruptionError> {
    let [n, d] = x.0.dims();
    if n == 0 {
        return Err(CorruptionError::NoSamples("corrupt"));
    }
    if d != op.in_dim() {
        return Err(CorruptionError::Shape(format!(
            "samples have dimension {d}, the operator expects {}",
            op.in_dim()
        )));
    }
    let device = x.0.device();
    let noise = Noise::new(seed).normal_tensor(n, op.out_dim(), &device);
    Ok(Observations(op.apply(x.0.clone()) + noise * op.sigma()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use repro_core::host::{matrix, to_vec};
    use repro_core::linalg;

    fn direct_blur(img: &[f64], h: usize, w: usize, k: &[f64]) -> Vec<f64> {
        // Plain 2-D correlation with zero padding (the kernel is symmetric, so it is also the
        // convolution).
        let r = (k.len() / 2) as i64;
        let mut out = vec![0.0; h * w];
        for i in 0..h as i64 {
            for j in 0..w as i64 {
                let mut s = 0.0;
                for di in -r..=r {
                    for dj in -r..=r {
                        let (a, b) = (i + di, j + dj);
                        if a >= 0 && b >= 0 && a < h as i64 && b < w as i64 {
                            s += k[(di + r) as usize]
                                * k[(dj + r) as usize]
                                * img[(a * w as i64 + b) as usize];
                        }
                    }
                }
                out[(i * w as i64 + j) as usize] = s;
            }
        }
        out
    }

    #[test]
    fn blur_is_kron_of_tridiagonal_and_matches_direct_convolution() {
        // Spec: 3x3 kernel std 0.8 -> T tridiagonal with diag 1/(1+2a), off-diag a/(1+2a),
        // a = exp(-1/(2*0.8^2)).
        let a = (-1.0f64 / (2.0 * 0.64)).exp();
        let (dg, off) = (1.0 / (1.0 + 2.0 * a), a / (1.0 + 2.0 * a));
        let t = |i: usize, j: usize| match i.abs_diff(j) {
            0 => dg,
            1 => off,
            _ => 0.0,
        };
        let m = gaussian_blur_matrix(8, 8, 3, 0.8).unwrap();
        for r in 0..64 {
            for c in 0..64 {
                let kron = t(r / 8, c / 8) * t(r % 8, c % 8);
                assert!((f64::from(m[r * 64 + c]) - kron).abs() < 1e-7);
            }
        }
        let img: Vec<f64> = (0..64)
            .map(|i| ((i * 37) % 17) as f64 / 8.0 - 1.0)
            .collect();
        let k = gaussian_kernel_1d(3, 0.8).unwrap();
        let direct = direct_blur(&img, 8, 8, &k);
        let a64: Vec<f64> = m.iter().map(|&v| f64::from(v)).collect();
        let via = linalg::matmul(&a64, &img, 64, 64, 1);
        for (p, q) in direct.iter().zip(&via) {
            assert!((p - q).abs() < 1e-6);
        }
    }

    #[test]
    fn blur_smallest_singular_value() {
        // A = T ⊗ T with T symmetric Toeplitz: eigenvalues of T are d + 2o cos(j pi / 9),
        // j = 1..8, so the smallest singular value of A is min_j |d + 2o cos(j pi/9)|^2 = 0.005307.
        let a = (-1.0f64 / 1.28).exp();
        let (dg, off) = (1.0 / (1.0 + 2.0 * a), a / (1.0 + 2.0 * a));
        let closed = (1..=8)
            .map(|j| {
                (dg + 2.0 * off * (j as f64 * std::f64::consts::PI / 9.0).cos())
                    .abs()
                    .powi(2)
            })
            .fold(f64::INFINITY, f64::min);
        assert!((closed - 0.005307).abs() < 1e-6, "{closed}");
        let m: Vec<f64> = gaussian_blur_matrix(8, 8, 3, 0.8)
            .unwrap()
            .iter()
            .map(|&v| f64::from(v))
            .collect();
        let ata = linalg::matmul(&linalg::transpose(&m, 64, 64), &m, 64, 64, 64);
        let (w, _) = linalg::sym_eigen(&ata, 64, linalg::Jacobi::default());
        let smin = w.iter().copied().fold(f64::INFINITY, f64::min).sqrt();
        // f32 matrix entries: relative error ~1e-7 on A, so ~1e-5 on the smallest value.
        assert!((smin - 0.005307).abs() < 2e-5, "{smin}");
    }

    #[test]
    fn adjoints_satisfy_inner_product_identity() {
        // <A x, y> = <x, A^T y> for blur, inpainting and identity, on random vectors.
        let device = Device::flex();
        let mut noise = Noise::new(1);
        let mask: Vec<bool> = (0..64).map(|i| i % 3 != 0).collect();
        let ops: Vec<Box<dyn ForwardOperator>> = vec![
            Box::new(MatrixOp::blur(8, 8, 3, 0.8, 0.05).unwrap()),
            Box::new(MatrixOp::inpainting(&mask, 0.05).unwrap()),
            Box::new(IdentityOp::new(64, 0.2).unwrap()),
        ];
        for op in &ops {
            let x = noise.normal_tensor(3, op.in_dim(), &device);
            let y = noise.normal_tensor(3, op.out_dim(), &device);
            let lhs: f32 = (op.apply(x.clone()) * y.clone()).sum().into_scalar();
            let rhs: f32 = (x * op.adjoint(y)).sum().into_scalar();
            // f32 sums of ~200 products of O(1) terms: 1e-4 relative.
            assert!(
                (lhs - rhs).abs() < 1e-4 * (1.0 + lhs.abs()),
                "{lhs} vs {rhs}"
            );
        }
        let inp = MatrixOp::inpainting(&mask, 0.05).unwrap();
        assert_eq!(inp.out_dim(), mask.iter().filter(|&&b| b).count());
    }

    #[test]
    fn random_inpainting_observes_half_and_its_adjoint_zero_fills() {
        // 50% of 64 pixels: A has 32 rows of the identity; A x picks the observed pixels and
        // A^T y puts them back with zeros elsewhere, so A^T A x = mask * x.
        let device = Device::flex();
        let mask = random_mask(64, 0.5, 7).unwrap();
        assert_eq!(mask.iter().filter(|&&b| b).count(), 32);
        assert_ne!(mask, random_mask(64, 0.5, 8).unwrap());
        let op = MatrixOp::random_inpainting(64, 0.5, 0.05, 7).unwrap();
        assert_eq!((op.in_dim(), op.out_dim()), (64, 32));
        let x: Vec<f32> = (0..128).map(|i| i as f32 / 10.0 - 3.0).collect();
        let y = to_vec(op.apply(matrix(x.clone(), 2, 64, &device)));
        let kept: Vec<f32> = x
            .iter()
            .enumerate()
            .filter(|(i, _)| mask[i % 64])
            .map(|(_, &v)| v)
            .collect();
        assert_eq!(y, kept);
        let back = to_vec(op.adjoint(matrix(y, 2, 32, &device)));
        for (i, (&b, &v)) in back.iter().zip(&x).enumerate() {
            assert_eq!(b, if mask[i % 64] { v } else { 0.0 });
        }
        assert_eq!(random_mask(64, 1.0, 0).unwrap(), vec![true; 64]);
    }

    #[test]
    fn corrupt_adds_noise_of_the_stated_level() {
        // y - x for the identity is sigma * n: its empirical std over 20 000 values is
        // sigma within ~3 standard errors (se of a std ~ sigma / sqrt(2N) = 0.0015).
        let device = Device::flex();
        let op = IdentityOp::new(2, 0.3).unwrap();
        let x = CleanSamples(Tensor::zeros([10_000, 2], &device));
        let y = to_vec(corrupt(&op, &x, 5).unwrap().0);
        let var = y.iter().map(|v| f64::from(*v).powi(2)).sum::<f64>() / y.len() as f64;
        assert!((var.sqrt() - 0.3).abs() < 0.005, "{}", var.sqrt());
    }

    #[test]
    fn bad_inputs_are_clear_errors() {
        for frac in [0.0, -0.5, 1.5, f32::NAN] {
            let e = MatrixOp::random_inpainting(64, frac, 0.05, 0).unwrap_err();
            assert!(e.to_string().contains("must lie in (0, 1]"), "{e}");
        }
        let e = gaussian_blur_matrix(8, 8, 9, 2.0).unwrap_err();
        assert!(e.to_string().contains("larger than the 8x8 image"), "{e}");
        assert!(matches!(
            gaussian_blur_matrix(8, 8, 4, 1.0),
            Err(CorruptionError::EvenKernel(4))
        ));
        let e = IdentityOp::new(2, 0.0).unwrap_err();
        assert!(e.to_string().contains("needs a positive"), "{e}");
        assert!(MatrixOp::blur(8, 8, 3, 0.8, 0.0).is_err());
        let device = Device::flex();
        let empty = CleanSamples(Tensor::zeros([0, 2], &device));
        let e = corrupt(&IdentityOp::new(2, 0.1).unwrap(), &empty, 0).unwrap_err();
        assert!(e.to_string().contains("sample count is zero"), "{e}");
    }
}

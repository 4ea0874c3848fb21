//! Small dense linear algebra on the host in `f64` (row-major, up to a few hundred rows):
//! matrix products, Cholesky, SPD inverse, the workspace's one symmetric eigensolver (cyclic
//! Jacobi, [`Jacobi`]), functions of symmetric matrices, SVD (one-sided Jacobi) and the
//! pseudo-inverse with a relative cutoff. Never on a training hot path.
//!
//! ```
//! use repro_core::linalg::{self, Jacobi};
//! // [[2, 1], [1, 2]] has eigenvalues 1 and 3 with eigenvectors (1, -1)/√2 and (1, 1)/√2.
//! let (mut w, _v) = linalg::sym_eigen(&[2.0, 1.0, 1.0, 2.0], 2, Jacobi::default());
//! w.sort_by(f64::total_cmp);
//! assert!((w[0] - 1.0).abs() < 1e-12 && (w[1] - 3.0).abs() < 1e-12);
//! ```

/// `a [n, k] * b [k, m]`, row-major.
pub fn matmul(a: &[f64], b: &[f64], n: usize, k: usize, m: usize) -> Vec<f64> {
    let mut c = vec![0.0; n * m];
    for i in 0..n {
        for p in 0..k {
            let aip = a[i * k + p];
            if aip == 0.0 {
                continue;
            }
            for j in 0..m {
                c[i * m + j] += aip * b[p * m + j];
            }
        }
    }
    c
}

/// Transpose of `a [n, m]`.
pub fn transpose(a: &[f64], n: usize, m: usize) -> Vec<f64> {
    let mut t = vec![0.0; n * m];
    for i in 0..n {
        for j in 0..m {
            t[j * n + i] = a[i * m + j];
        }
    }
    t
}

/// The `d x d` identity.
pub fn eye(d: usize) -> Vec<f64> {
    let mut e = vec![0.0; d * d];
    for i in 0..d {
        e[i * d + i] = 1.0;
    }
    e
}

/// Lower Cholesky factor `L` with `a = L L^T`, or `None` if `a` is not positive definite.
pub fn cholesky(a: &[f64], d: usize) -> Option<Vec<f64>> {
    let mut l = vec![0.0; d * d];
    for i in 0..d {
        for j in 0..=i {
            let mut s = a[i * d + j];
            for k in 0..j {
                s -= l[i * d + k] * l[j * d + k];
            }
            if i == j {
                if s <= 0.0 || !s.is_finite() {
                    return None;
                }
                l[i * d + i] = s.sqrt();
            } else {
                l[i * d + j] = s / l[j * d + j];
            }
        }
    }
    Some(l)
}

/// Inverse of a lower-triangular `l`.
pub fn lower_inverse(l: &[f64], d: usize) -> Vec<f64> {
    let mut inv = vec![0.0; d * d];
    for c in 0..d {
        // Forward substitution for column c of the identity.
        for i in 0..d {
            let mut s = if i == c { 1.0 } else { 0.0 };
            for k in 0..i {
                s -= l[i * d + k] * inv[k * d + c];
            }
            inv[i * d + c] = s / l[i * d + i];
        }
    }
    inv
}

/// Inverse of a symmetric positive-definite matrix, or `None`.
pub fn spd_inverse(a: &[f64], d: usize) -> Option<Vec<f64>> {
    let l = cholesky(a, d)?;
    let li = lower_inverse(&l, d);
    // a^-1 = L^-T L^-1
    Some(matmul(&transpose(&li, d, d), &li, d, d, d))
}

/// When cyclic Jacobi stops: after `max_sweeps` sweeps, or once the off-diagonal part is
/// small by `stop`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Jacobi {
    /// Upper bound on the number of sweeps.
    pub max_sweeps: usize,
    /// The convergence test, checked before each sweep.
    pub stop: JacobiStop,
}

/// Convergence tests of [`Jacobi`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum JacobiStop {
    /// Stop when the sum of squared off-diagonal entries is below this (absolute).
    OffSquaresBelow(f64),
    /// Stop when the off-diagonal Frobenius norm is at most this times the input's
    /// Frobenius norm (scale-free).
    RelativeOffNorm(f64),
}

impl Default for Jacobi {
    /// 100 sweeps, stopping when the squared off-diagonal sum is below 1e-22.
    fn default() -> Self {
        Self {
            max_sweeps: 100,
            stop: JacobiStop::OffSquaresBelow(1e-22),
        }
    }
}

/// Eigenvalues and eigenvectors (columns of the returned row-major matrix) of a symmetric
/// `d x d` matrix by cyclic Jacobi rotations, in the order Jacobi leaves them (unsorted).
pub fn sym_eigen(a: &[f64], d: usize, cfg: Jacobi) -> (Vec<f64>, Vec<f64>) {
    let (w, v) = jacobi(a, d, cfg, true);
    (w, v.unwrap_or_default())
}

/// Eigenvalues only of a symmetric `d x d` matrix (same rotations as [`sym_eigen`]).
pub fn sym_eigenvalues(a: &[f64], d: usize, cfg: Jacobi) -> Vec<f64> {
    jacobi(a, d, cfg, false).0
}

fn jacobi(a: &[f64], d: usize, cfg: Jacobi, vectors: bool) -> (Vec<f64>, Option<Vec<f64>>) {
    assert_eq!(
        a.len(),
        d * d,
        "sym_eigen: a has {} entries, not {d}²",
        a.len()
    );
    let mut m = a.to_vec();
    let mut v = vectors.then(|| eye(d));
    let scale = m
        .iter()
        .map(|x| x * x)
        .sum::<f64>()
        .sqrt()
        .max(f64::MIN_POSITIVE);
    for _sweep in 0..cfg.max_sweeps {
        let off_sq: f64 = (0..d)
            .flat_map(|i| (0..d).filter(move |&j| j != i).map(move |j| (i, j)))
            .map(|(i, j)| m[i * d + j].powi(2))
            .sum();
        let converged = match cfg.stop {
            JacobiStop::OffSquaresBelow(t) => off_sq < t,
            JacobiStop::RelativeOffNorm(r) => off_sq.sqrt() <= r * scale,
        };
        if converged {
            break;
        }
        for p in 0..d {
            for q in p + 1..d {
                let apq = m[p * d + q];
                if apq.abs() < 1e-300 {
                    continue;
                }
                let theta = (m[q * d + q] - m[p * d + p]) / (2.0 * apq);
                let t = theta.signum() / (theta.abs() + (theta * theta + 1.0).sqrt());
                let t = if theta == 0.0 { 1.0 } else { t };
                let c = 1.0 / (t * t + 1.0).sqrt();
                let s = t * c;
                for k in 0..d {
                    let (mkp, mkq) = (m[k * d + p], m[k * d + q]);
                    m[k * d + p] = c * mkp - s * mkq;
                    m[k * d + q] = s * mkp + c * mkq;
                }
                for k in 0..d {
                    let (mpk, mqk) = (m[p * d + k], m[q * d + k]);
                    m[p * d + k] = c * mpk - s * mqk;
                    m[q * d + k] = s * mpk + c * mqk;
                }
                if let Some(v) = v.as_mut() {
                    for k in 0..d {
                        let (vkp, vkq) = (v[k * d + p], v[k * d + q]);
                        v[k * d + p] = c * vkp - s * vkq;
                        v[k * d + q] = s * vkp + c * vkq;
                    }
                }
            }
        }
    }
    ((0..d).map(|i| m[i * d + i]).collect(), v)
}

/// `V diag(f(lambda)) V^T` for a symmetric matrix.
pub fn sym_apply(a: &[f64], d: usize, f: impl Fn(f64) -> f64) -> Vec<f64> {
    let (w, v) = sym_eigen(a, d, Jacobi::default());
    let mut out = vec![0.0; d * d];
    for (k, &wk) in w.iter().enumerate() {
        let fk = f(wk);
        for i in 0..d {
            for j in 0..d {
                out[i * d + j] += v[i * d + k] * fk * v[j * d + k];
            }
        }
    }
    out
}

/// Mean `[d]` and biased covariance `[d, d]` of `n` rows.
pub fn mean_cov(x: &[f64], n: usize, d: usize) -> (Vec<f64>, Vec<f64>) {
    let mut mu = vec![0.0; d];
    for r in x.chunks(d) {
        for (m, v) in mu.iter_mut().zip(r) {
            *m += v / n as f64;
        }
    }
    let mut cov = vec![0.0; d * d];
    for r in x.chunks(d) {
        for i in 0..d {
            let di = r[i] - mu[i];
            for j in 0..d {
                cov[i * d + j] += di * (r[j] - mu[j]) / n as f64;
            }
        }
    }
    (mu, cov)
}

/// Singular value decomposition of a row-major `[m, n]` matrix by one-sided Jacobi
/// (Hestenes): returns `(u, sigma, v)` with `a = u diag(sigma) vᵀ`, `u` `[m, n]` (columns
/// of zero singular values are zero), `sigma` `[n]` unsorted, `v` `[n, n]` orthogonal.
pub fn svd(a: &[f64], m: usize, n: usize) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
    assert_eq!(
        a.len(),
        m * n,
        "svd: {} entries are not [{m}, {n}]",
        a.len()
    );
    let mut w = a.to_vec();
    let mut v = eye(n);
    for _sweep in 0..100 {
        let mut rotated = false;
        for p in 0..n {
            for q in p + 1..n {
                let (mut alpha, mut beta, mut gamma) = (0.0, 0.0, 0.0);
                for i in 0..m {
                    let (x, y) = (w[i * n + p], w[i * n + q]);
                    alpha += x * x;
                    beta += y * y;
                    gamma += x * y;
                }
                if gamma == 0.0 || gamma.abs() <= 1e-15 * (alpha * beta).sqrt() {
                    continue;
                }
                rotated = true;
                let zeta = (beta - alpha) / (2.0 * gamma);
                let t = zeta.signum() / (zeta.abs() + (1.0 + zeta * zeta).sqrt());
                let t = if zeta == 0.0 { 1.0 } else { t };
                let c = 1.0 / (1.0 + t * t).sqrt();
                let s = c * t;
                for i in 0..m {
                    let (x, y) = (w[i * n + p], w[i * n + q]);
                    w[i * n + p] = c * x - s * y;
                    w[i * n + q] = s * x + c * y;
                }
                for i in 0..n {
                    let (x, y) = (v[i * n + p], v[i * n + q]);
                    v[i * n + p] = c * x - s * y;
                    v[i * n + q] = s * x + c * y;
                }
            }
        }
        if !rotated {
            break;
        }
    }
    let sigma: Vec<f64> = (0..n)
        .map(|j| (0..m).map(|i| w[i * n + j].powi(2)).sum::<f64>().sqrt())
        .collect();
    for (j, &sj) in sigma.iter().enumerate() {
        for i in 0..m {
            w[i * n + j] = if sj > 0.0 { w[i * n + j] / sj } else { 0.0 };
        }
    }
    (w, sigma, v)
}

/// Moore–Penrose pseudo-inverse `[n, m]` of a row-major `[m, n]` matrix: singular values at
/// most `rcond · σ_max` count as zero, so `pinv(a) b` is the minimum-norm least-squares
/// solution of `a x = b` (numpy's `pinv(a, rcond)`; it uses `rcond = 1e-15`).
pub fn pinv(a: &[f64], m: usize, n: usize, rcond: f64) -> Vec<f64> {
    let (u, sigma, v) = svd(a, m, n);
    let cutoff = rcond * sigma.iter().copied().fold(0.0, f64::max);
    let mut out = vec![0.0; n * m];
    for (k, &sk) in sigma.iter().enumerate() {
        if sk <= cutoff || sk == 0.0 {
            continue;
        }
        for i in 0..n {
            let vik = v[i * n + k] / sk;
            if vik == 0.0 {
                continue;
            }
            for j in 0..m {
                out[i * m + j] += vik * u[j * n + k];
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cholesky_and_inverse() {
        // [[4, 2], [2, 3]] = L L^T with L = [[2, 0], [1, sqrt 2]]; inverse = [[3, -2], [-2, 4]] / 8.
        let a = [4.0, 2.0, 2.0, 3.0];
        let l = cholesky(&a, 2).unwrap();
        assert!((l[0] - 2.0).abs() < 1e-12 && (l[2] - 1.0).abs() < 1e-12);
        assert!((l[3] - 2f64.sqrt()).abs() < 1e-12);
        let inv = spd_inverse(&a, 2).unwrap();
        for (x, e) in inv.iter().zip([0.375, -0.25, -0.25, 0.5]) {
            assert!((x - e).abs() < 1e-12);
        }
        assert!(cholesky(&[1.0, 2.0, 2.0, 1.0], 2).is_none());
    }

    #[test]
    fn jacobi_eigen() {
        // [[2, 1], [1, 2]] has eigenvalues 1 and 3.
        let (mut w, _) = sym_eigen(&[2.0, 1.0, 1.0, 2.0], 2, Jacobi::default());
        w.sort_by(f64::total_cmp);
        assert!((w[0] - 1.0).abs() < 1e-10 && (w[1] - 3.0).abs() < 1e-10);
        // sqrt of diag(4, 9) is diag(2, 3).
        let s = sym_apply(&[4.0, 0.0, 0.0, 9.0], 2, f64::sqrt);
        assert!((s[0] - 2.0).abs() < 1e-12 && (s[3] - 3.0).abs() < 1e-12);
    }

    #[test]
    fn eigenvectors_reconstruct_and_stop_rules_agree() {
        // A 4 x 4 symmetric matrix: V diag(w) V^T = A, V orthonormal, under both stop rules.
        let a = [
            4.0, 1.0, -2.0, 0.5, 1.0, 3.0, 0.0, 1.0, -2.0, 0.0, 5.0, -1.0, 0.5, 1.0, -1.0, 2.0,
        ];
        for cfg in [
            Jacobi::default(),
            Jacobi {
                max_sweeps: 100,
                stop: JacobiStop::RelativeOffNorm(1e-13),
            },
        ] {
            let (w, v) = sym_eigen(&a, 4, cfg);
            let back = sym_apply(&a, 4, |x| x);
            for i in 0..4 {
                for j in 0..4 {
                    let r: f64 = (0..4).map(|k| v[i * 4 + k] * w[k] * v[j * 4 + k]).sum();
                    assert!((r - a[i * 4 + j]).abs() < 1e-10, "{cfg:?}");
                    assert!((back[i * 4 + j] - a[i * 4 + j]).abs() < 1e-10);
                    let dot: f64 = (0..4).map(|k| v[k * 4 + i] * v[k * 4 + j]).sum();
                    assert!((dot - f64::from(u8::from(i == j))).abs() < 1e-10);
                }
            }
            let values = sym_eigenvalues(&a, 4, cfg);
            assert_eq!(values, w, "values alone follow the same rotations");
        }
        // Trace is preserved: 4 + 3 + 5 + 2.
        let w = sym_eigenvalues(&a, 4, Jacobi::default());
        assert!((w.iter().sum::<f64>() - 14.0).abs() < 1e-10);
    }

    #[test]
    fn svd_reconstructs_and_pinv_gives_minimum_norm_solutions() {
        // A 3 x 2 matrix: u diag(σ) vᵀ = a.
        let a = [3.0, 1.0, 1.0, 3.0, 1.0, 1.0];
        let (u, s, v) = svd(&a, 3, 2);
        for i in 0..3 {
            for j in 0..2 {
                let r: f64 = (0..2).map(|k| u[i * 2 + k] * s[k] * v[j * 2 + k]).sum();
                assert!((r - a[i * 2 + j]).abs() < 1e-12);
            }
        }
        // Rank 1: [[1, 1], [1, 1]] x = [2, 2] has minimum-norm solution [1, 1].
        let p = pinv(&[1.0, 1.0, 1.0, 1.0], 2, 2, 1e-12);
        for x in &p {
            assert!((x - 0.25).abs() < 1e-12, "{p:?}");
        }
        // Underdetermined 1 x 3: x = aᵀ b / ‖a‖² for a = [1, 2, 2], b = 9 → [1, 2, 2].
        let p = pinv(&[1.0, 2.0, 2.0], 1, 3, 1e-12);
        let x: Vec<f64> = p.iter().map(|v| v * 9.0).collect();
        for (xi, e) in x.iter().zip([1.0, 2.0, 2.0]) {
            assert!((xi - e).abs() < 1e-12, "{x:?}");
        }
        // Rank-deficient 3 x 3 (third column = first + second): pinv satisfies A A⁺ A = A.
        let r = [1.0, 2.0, 3.0, 0.0, 1.0, 1.0, 2.0, 0.0, 2.0];
        let pr = pinv(&r, 3, 3, 1e-12);
        let back = matmul(&matmul(&r, &pr, 3, 3, 3), &r, 3, 3, 3);
        for (b, x) in back.iter().zip(&r) {
            assert!((b - x).abs() < 1e-10, "{back:?}");
        }
        // Cutting off: a tiny singular value is dropped at rcond 1e-6, kept at 1e-15.
        let d = [1.0, 0.0, 0.0, 1e-9];
        assert_eq!(pinv(&d, 2, 2, 1e-6)[3], 0.0);
        assert!((pinv(&d, 2, 2, 1e-15)[3] - 1e9).abs() < 1e-3);
    }
}

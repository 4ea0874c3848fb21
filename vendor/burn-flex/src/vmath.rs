//! Vectorised `exp` and `erf` for `f32` that give, bit for bit, the values of the scalar
//! functions burn-flex called before (added by the repro workspace's patch, see
//! `vendor/README.md` there).
//!
//! - [`expf`] is glibc's `expf` (2.28 and later; the algorithm of ARM's optimized-routines:
//!   a 32-entry table of 2^(i/32) and a degree-3 polynomial, evaluated in `f64`) as its
//!   FMA variant `__expf_fma` evaluates it. `f32::exp` called that variant on every
//!   x86-64 machine with FMA; this code computes the same value on every machine, so the
//!   numbers no longer depend on which `libm` variant a CPU selects.
//! - [`erff`] is the `libm` crate's `erff` (0.2.16, FreeBSD's `s_erff.c`), with its own
//!   `expf` (FreeBSD's `e_expf.c`, in `f32`), operation for operation.
//!
//! The slice functions use AVX2 and FMA when the CPU has them (checked once at run time)
//! and the scalar functions otherwise. Both evaluate the same IEEE operations in the same
//! order, so results do not depend on the path taken. The equality with glibc and `libm`
//! is tested in the repro workspace (`crates/core/tests/flex_math.rs`): on a sample of bit
//! patterns and through Burn's tensor API in every run, on all 2^32 inputs on request.

#![allow(clippy::excessive_precision, clippy::unreadable_literal)]

// ---------------------------------------------------------------------------------------
// glibc expf (FMA variant)
// ---------------------------------------------------------------------------------------

/// `T[i] = bits(2^(i/32)) - (i << 47)`: glibc's `__exp2f_data.tab`.
const EXP2F_TAB: [u64; 32] = [
    0x3ff0000000000000,
    0x3fefd9b0d3158574,
    0x3fefb5586cf9890f,
    0x3fef9301d0125b51,
    0x3fef72b83c7d517b,
    0x3fef54873168b9aa,
    0x3fef387a6e756238,
    0x3fef1e9df51fdee1,
    0x3fef06fe0a31b715,
    0x3feef1a7373aa9cb,
    0x3feedea64c123422,
    0x3feece086061892d,
    0x3feebfdad5362a27,
    0x3feeb42b569d4f82,
    0x3feeab07dd485429,
    0x3feea47eb03a5585,
    0x3feea09e667f3bcd,
    0x3fee9f75e8ec5f74,
    0x3feea11473eb0187,
    0x3feea589994cce13,
    0x3feeace5422aa0db,
    0x3feeb737b0cdc5e5,
    0x3feec49182a3f090,
    0x3feed503b23e255d,
    0x3feee89f995ad3ad,
    0x3feeff76f2fb5e47,
    0x3fef199bdd85529c,
    0x3fef3720dcef9069,
    0x3fef5818dcfba487,
    0x3fef7c97337b9b5f,
    0x3fefa4afa2a490da,
    0x3fefd0765b6e4540,
];
/// 32 / ln 2.
const INV_LN2_N: f64 = f64::from_bits(0x40471547652b82fe);
/// 1.5 · 2^52: adding it rounds to an integer kept in the low mantissa bits.
const SHIFT: f64 = f64::from_bits(0x4338000000000000);
const EXP_C0: f64 = f64::from_bits(0x3ebc6af84b912394);
const EXP_C1: f64 = f64::from_bits(0x3f2ebfce50fac4f3);
const EXP_C2: f64 = f64::from_bits(0x3f962e42ff0c52d6);
/// Above this, glibc's `expf` overflows to infinity (log(2^128) rounded down).
const EXP_OFLOW: f32 = f32::from_bits(0x42b17217);
/// Below this, glibc returns 0 (log(2^-150)).
const EXP_UFLOW: f32 = f32::from_bits(0xc2cff1b4);
/// Below this (and above `EXP_UFLOW`), glibc returns the least subnormal (log(2^-149)).
const EXP_MAY_UFLOW: f32 = f32::from_bits(0xc2ce8ecf);
/// `top12(88.0)`: inputs whose top 12 bits (sign cleared) reach this take the special path.
const EXP_SPECIAL_TOP12: u32 = 0x42b;

#[inline(always)]
fn fma64(a: f64, b: f64, c: f64) -> f64 {
    #[cfg(feature = "std")]
    {
        a.mul_add(b, c)
    }
    #[cfg(not(feature = "std"))]
    {
        libm::fma(a, b, c)
    }
}

/// glibc's `expf` as `__expf_fma` computes it (bit for bit, all inputs).
#[inline]
pub fn expf(x: f32) -> f32 {
    let abstop = (x.to_bits() >> 20) & 0x7ff;
    if abstop >= EXP_SPECIAL_TOP12 {
        return expf_special(x);
    }
    expf_core(x)
}

#[cold]
fn expf_special(x: f32) -> f32 {
    let ix = x.to_bits();
    if ix == f32::NEG_INFINITY.to_bits() {
        return 0.0;
    }
    if (ix >> 20) & 0x7ff >= 0x7f8 {
        return x + x; // infinity or NaN
    }
    if x > EXP_OFLOW {
        return f32::INFINITY;
    }
    if x < EXP_UFLOW {
        return 0.0;
    }
    if x < EXP_MAY_UFLOW {
        // glibc's __math_may_uflowf: 0x1.4p-75f * 0x1.4p-75f, the least subnormal.
        return f32::from_bits(1);
    }
    expf_core(x)
}

#[inline(always)]
fn expf_core(x: f32) -> f32 {
    let xd = x as f64;
    let kd0 = fma64(INV_LN2_N, xd, SHIFT);
    let ki = kd0.to_bits();
    let kd = kd0 - SHIFT;
    let r = fma64(INV_LN2_N, xd, -kd);
    let s = f64::from_bits(EXP2F_TAB[(ki & 31) as usize].wrapping_add(ki << 47));
    let z = fma64(r, EXP_C0, EXP_C1);
    let r2 = r * r;
    let y = fma64(r, EXP_C2, 1.0);
    let y = fma64(z, r2, y);
    (y * s) as f32
}

// ---------------------------------------------------------------------------------------
// libm's erff and the FreeBSD expf it calls
// ---------------------------------------------------------------------------------------

const ERX: f32 = 8.4506291151e-01;
const EFX8: f32 = 1.0270333290e+00;
const PP: [f32; 5] = [
    1.2837916613e-01,
    -3.2504209876e-01,
    -2.8481749818e-02,
    -5.7702702470e-03,
    -2.3763017452e-05,
];
const QQ: [f32; 5] = [
    3.9791721106e-01,
    6.5022252500e-02,
    5.0813062117e-03,
    1.3249473704e-04,
    -3.9602282413e-06,
];
const PA: [f32; 7] = [
    -2.3621185683e-03,
    4.1485610604e-01,
    -3.7220788002e-01,
    3.1834661961e-01,
    -1.1089469492e-01,
    3.5478305072e-02,
    -2.1663755178e-03,
];
const QA: [f32; 6] = [
    1.0642088205e-01,
    5.4039794207e-01,
    7.1828655899e-02,
    1.2617121637e-01,
    1.3637083583e-02,
    1.1984500103e-02,
];
const RA: [f32; 8] = [
    -9.8649440333e-03,
    -6.9385856390e-01,
    -1.0558626175e+01,
    -6.2375331879e+01,
    -1.6239666748e+02,
    -1.8460508728e+02,
    -8.1287437439e+01,
    -9.8143291473e+00,
];
const SA: [f32; 8] = [
    1.9651271820e+01,
    1.3765776062e+02,
    4.3456588745e+02,
    6.4538726807e+02,
    4.2900814819e+02,
    1.0863500214e+02,
    6.5702495575e+00,
    -6.0424413532e-02,
];
const RB: [f32; 7] = [
    -9.8649431020e-03,
    -7.9928326607e-01,
    -1.7757955551e+01,
    -1.6063638306e+02,
    -6.3756646729e+02,
    -1.0250950928e+03,
    -4.8351919556e+02,
];
const SB: [f32; 7] = [
    3.0338060379e+01,
    3.2579251099e+02,
    1.5367296143e+03,
    3.1998581543e+03,
    2.5530502930e+03,
    4.7452853394e+02,
    -2.2440952301e+01,
];
// FreeBSD e_expf.c
const LN2_HI: f32 = 6.9314575195e-01;
const LN2_LO: f32 = 1.4286067653e-06;
const INV_LN2: f32 = 1.4426950216e+00;
const EP1: f32 = 1.6666625440e-1;
const EP2: f32 = -2.7667332906e-3;

/// `p[0] + s·(p[1] + s·(… + s·p[n-1]))`, the nesting of the `libm` sources.
#[inline(always)]
fn horner(s: f32, p: &[f32]) -> f32 {
    let mut acc = p[p.len() - 1];
    for &c in p[..p.len() - 1].iter().rev() {
        acc = c + s * acc;
    }
    acc
}

/// `1 + s·(q[0] + s·(q[1] + …))`.
#[inline(always)]
fn horner1(s: f32, q: &[f32]) -> f32 {
    1.0 + s * horner(s, q)
}

/// The `libm` crate's `expf` on the arguments `erff` gives it: |x| below 87 (no overflow
/// or underflow handling; `erff` never needs it).
#[inline(always)]
fn expf_fdlibm_inrange(x: f32) -> f32 {
    let hx = x.to_bits() & 0x7fff_ffff;
    let sign = (x.to_bits() >> 31) as i32;
    let (k, hi, lo, xr);
    if hx > 0x3eb17218 {
        if hx > 0x3f851592 {
            let half = if sign != 0 { -0.5 } else { 0.5 };
            k = (INV_LN2 * x + half) as i32;
        } else {
            k = 1 - sign - sign;
        }
        let kf = k as f32;
        hi = x - kf * LN2_HI;
        lo = kf * LN2_LO;
        xr = hi - lo;
    } else if hx > 0x39000000 {
        k = 0;
        hi = x;
        lo = 0.0;
        xr = x;
    } else {
        return 1.0 + x;
    }
    let xx = xr * xr;
    let c = xr - xx * (EP1 + xx * EP2);
    let y = 1.0 + (xr * c / (2.0 - c) - lo + hi);
    if k == 0 {
        y
    } else {
        // scalbnf for -126 <= k <= 127: one exact multiply.
        y * f32::from_bits(((0x7f + k) as u32) << 23)
    }
}

/// The `libm` crate's `erff` (bit for bit, all inputs).
#[inline]
pub fn erff(x: f32) -> f32 {
    let bits = x.to_bits();
    let sign = bits >> 31;
    let ix = bits & 0x7fff_ffff;
    if ix >= 0x7f80_0000 {
        return 1.0 - 2.0 * (sign as f32) + 1.0 / x;
    }
    if ix < 0x3f58_0000 {
        if ix < 0x3180_0000 {
            return 0.125 * (8.0 * x + EFX8 * x);
        }
        let z = x * x;
        let y = horner(z, &PP) / horner1(z, &QQ);
        return x + x * y;
    }
    let y = if ix < 0x40c0_0000 {
        1.0 - erfc_from_084(ix)
    } else {
        1.0 - f32::from_bits(0x0380_0000)
    };
    if sign != 0 { -y } else { y }
}

/// erfc(|x|) for 0.84375 <= |x| < 6 (`libm`'s `erfc2`).
#[inline(always)]
fn erfc_from_084(ix: u32) -> f32 {
    let xa = f32::from_bits(ix);
    if ix < 0x3fa0_0000 {
        let s = xa - 1.0;
        return 1.0 - ERX - horner(s, &PA) / horner1(s, &QA);
    }
    let s = 1.0 / (xa * xa);
    let (r, big_s) = if ix < 0x4036_db6d {
        (horner(s, &RA), horner1(s, &SA))
    } else {
        (horner(s, &RB), horner1(s, &SB))
    };
    let z = f32::from_bits(ix & 0xffff_e000);
    expf_fdlibm_inrange(-z * z - 0.5625) * expf_fdlibm_inrange((z - xa) * (z + xa) + r / big_s) / xa
}

// ---------------------------------------------------------------------------------------
// Slice kernels
// ---------------------------------------------------------------------------------------

#[cfg(all(feature = "std", target_arch = "x86_64"))]
#[inline]
fn has_avx2_fma() -> bool {
    std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma")
}

/// `x = expf(x)` for every element.
pub fn exp_in_place(xs: &mut [f32]) {
    #[cfg(all(feature = "std", target_arch = "x86_64"))]
    if has_avx2_fma() {
        // SAFETY: the CPU has AVX2 and FMA (checked above).
        unsafe { avx2::exp_slice(xs) };
        return;
    }
    for x in xs {
        *x = expf(*x);
    }
}

/// `x = erff(x)` for every element.
pub fn erf_in_place(xs: &mut [f32]) {
    #[cfg(all(feature = "std", target_arch = "x86_64"))]
    if has_avx2_fma() {
        // SAFETY: as in `exp_in_place`.
        unsafe { avx2::erf_slice(xs) };
        return;
    }
    for x in xs {
        *x = erff(*x);
    }
}

/// burn-flex's GELU, `0.5·x·(1 + erf(x/√2))`, for every element.
pub fn gelu_in_place(xs: &mut [f32]) {
    #[cfg(all(feature = "std", target_arch = "x86_64"))]
    if has_avx2_fma() {
        // SAFETY: as in `exp_in_place`.
        unsafe { avx2::gelu_slice(xs) };
        return;
    }
    for x in xs {
        *x = gelu(*x);
    }
}

/// burn-flex's sigmoid (`1/(1+e^-x)` for x ≥ 0, `e^x/(1+e^x)` below) for every element.
pub fn sigmoid_in_place(xs: &mut [f32]) {
    #[cfg(all(feature = "std", target_arch = "x86_64"))]
    if has_avx2_fma() {
        // SAFETY: as in `exp_in_place`.
        unsafe { avx2::sigmoid_slice(xs) };
        return;
    }
    for x in xs {
        *x = sigmoid(*x);
    }
}

/// burn-flex's GELU derivative times the incoming gradient, written into `grad`:
/// `g·(0.5·(1 + erf(x/√2)) + x·φ(x))`.
///
/// # Panics
/// If the slices differ in length.
pub fn gelu_backward_in_place(x: &[f32], grad: &mut [f32]) {
    assert_eq!(x.len(), grad.len(), "gelu_backward: length mismatch");
    #[cfg(all(feature = "std", target_arch = "x86_64"))]
    if has_avx2_fma() {
        // SAFETY: as in `exp_in_place`.
        unsafe { avx2::gelu_backward(x, grad) };
        return;
    }
    for (&x, g) in x.iter().zip(grad.iter_mut()) {
        *g = gelu_backward(x, *g);
    }
}

const SQRT2: f32 = core::f32::consts::SQRT_2;

/// `1 / sqrt(2π)` as burn-flex computes it.
#[inline(always)]
fn inv_sqrt_2pi() -> f32 {
    #[cfg(feature = "std")]
    {
        1.0 / (2.0 * core::f32::consts::PI).sqrt()
    }
    #[cfg(not(feature = "std"))]
    {
        1.0 / libm::sqrtf(2.0 * core::f32::consts::PI)
    }
}

/// Scalar GELU (burn-flex's closure, with these functions).
#[inline]
pub fn gelu(x: f32) -> f32 {
    0.5 * x * (1.0 + erff(x / SQRT2))
}

/// Scalar GELU backward (burn-flex's closure, with these functions).
#[inline]
pub fn gelu_backward(x: f32, g: f32) -> f32 {
    let cdf = 0.5 * (1.0 + erff(x / SQRT2));
    let pdf = inv_sqrt_2pi() * expf(-0.5 * x * x);
    g * (cdf + x * pdf)
}

/// Scalar sigmoid (burn-flex's `sigmoid_f32`, with [`expf`]).
#[inline]
pub fn sigmoid(x: f32) -> f32 {
    if x >= 0.0 {
        1.0 / (1.0 + expf(-x))
    } else {
        let e = expf(x);
        e / (1.0 + e)
    }
}

#[cfg(all(feature = "std", target_arch = "x86_64"))]
mod avx2 {
    use super::*;
    use core::arch::x86_64::*;

    /// Defines `$name(xs)`, applying `$f` to `xs` eight lanes at a time (the tail through a
    /// padded block).
    macro_rules! slice_kernel {
        ($name:ident, $f:ident) => {
            #[target_feature(enable = "avx2,fma")]
            pub fn $name(xs: &mut [f32]) {
                let mut chunks = xs.chunks_exact_mut(8);
                for c in &mut chunks {
                    // SAFETY: `c` holds 8 floats.
                    unsafe {
                        let v = _mm256_loadu_ps(c.as_ptr());
                        _mm256_storeu_ps(c.as_mut_ptr(), $f(v));
                    }
                }
                let tail = chunks.into_remainder();
                if !tail.is_empty() {
                    let mut buf = [0.0f32; 8];
                    buf[..tail.len()].copy_from_slice(tail);
                    // SAFETY: `buf` holds 8 floats.
                    unsafe {
                        let v = _mm256_loadu_ps(buf.as_ptr());
                        _mm256_storeu_ps(buf.as_mut_ptr(), $f(v));
                    }
                    tail.copy_from_slice(&buf[..tail.len()]);
                }
            }
        };
    }
    slice_kernel!(exp_slice, exp8);
    slice_kernel!(erf_slice, erf8);
    slice_kernel!(gelu_slice, gelu8);
    slice_kernel!(sigmoid_slice, sigmoid8);

    #[target_feature(enable = "avx2,fma")]
    pub fn gelu_backward(x: &[f32], grad: &mut [f32]) {
        let n = x.len() / 8 * 8;
        let half = _mm256_set1_ps(0.5);
        let one = _mm256_set1_ps(1.0);
        let inv_sqrt2pi = _mm256_set1_ps(inv_sqrt_2pi());
        let sqrt2 = _mm256_set1_ps(SQRT2);
        let mhalf = _mm256_set1_ps(-0.5);
        let mut i = 0;
        while i < n {
            // SAFETY: i + 8 <= n <= x.len() == grad.len().
            let (xv, g) = unsafe {
                (
                    _mm256_loadu_ps(x.as_ptr().add(i)),
                    _mm256_loadu_ps(grad.as_ptr().add(i)),
                )
            };
            let cdf = _mm256_mul_ps(half, _mm256_add_ps(one, erf8(_mm256_div_ps(xv, sqrt2))));
            let arg = _mm256_mul_ps(_mm256_mul_ps(mhalf, xv), xv);
            let pdf = _mm256_mul_ps(inv_sqrt2pi, exp8(arg));
            let out = _mm256_mul_ps(g, _mm256_add_ps(cdf, _mm256_mul_ps(xv, pdf)));
            // SAFETY: as for the loads.
            unsafe { _mm256_storeu_ps(grad.as_mut_ptr().add(i), out) };
            i += 8;
        }
        for j in n..x.len() {
            grad[j] = super::gelu_backward(x[j], grad[j]);
        }
    }

    /// `f` lane by lane, for the rare blocks with a lane on a special path.
    #[target_feature(enable = "avx2,fma")]
    fn per_lane(x: __m256, f: fn(f32) -> f32) -> __m256 {
        let mut buf = [0.0f32; 8];
        // SAFETY: `buf` holds 8 floats.
        unsafe { _mm256_storeu_ps(buf.as_mut_ptr(), x) };
        for v in &mut buf {
            *v = f(*v);
        }
        // SAFETY: as above.
        unsafe { _mm256_loadu_ps(buf.as_ptr()) }
    }

    #[target_feature(enable = "avx2,fma")]
    #[inline]
    fn exp4_core(xd: __m256d) -> __m128 {
        let inv = _mm256_set1_pd(INV_LN2_N);
        let shift = _mm256_set1_pd(SHIFT);
        let kd0 = _mm256_fmadd_pd(inv, xd, shift);
        let ki = _mm256_castpd_si256(kd0);
        let kd = _mm256_sub_pd(kd0, shift);
        let r = _mm256_fmsub_pd(inv, xd, kd);
        let idx = _mm256_and_si256(ki, _mm256_set1_epi64x(31));
        // SAFETY: every index is in 0..32, the table's length.
        let tab = unsafe { _mm256_i64gather_epi64::<8>(EXP2F_TAB.as_ptr() as *const i64, idx) };
        let s = _mm256_castsi256_pd(_mm256_add_epi64(tab, _mm256_slli_epi64::<47>(ki)));
        let z = _mm256_fmadd_pd(r, _mm256_set1_pd(EXP_C0), _mm256_set1_pd(EXP_C1));
        let r2 = _mm256_mul_pd(r, r);
        let y = _mm256_fmadd_pd(r, _mm256_set1_pd(EXP_C2), _mm256_set1_pd(1.0));
        let y = _mm256_fmadd_pd(z, r2, y);
        _mm256_cvtpd_ps(_mm256_mul_pd(y, s))
    }

    /// glibc `expf` on eight lanes.
    #[target_feature(enable = "avx2,fma")]
    #[inline]
    pub fn exp8(x: __m256) -> __m256 {
        let top = _mm256_and_si256(
            _mm256_srli_epi32::<20>(_mm256_castps_si256(x)),
            _mm256_set1_epi32(0x7ff),
        );
        let special = _mm256_cmpgt_epi32(top, _mm256_set1_epi32(EXP_SPECIAL_TOP12 as i32 - 1));
        if _mm256_movemask_ps(_mm256_castsi256_ps(special)) != 0 {
            return per_lane(x, super::expf);
        }
        let lo = exp4_core(_mm256_cvtps_pd(_mm256_castps256_ps128(x)));
        let hi = exp4_core(_mm256_cvtps_pd(_mm256_extractf128_ps::<1>(x)));
        _mm256_set_m128(hi, lo)
    }

    #[target_feature(enable = "avx2,fma")]
    #[inline]
    fn horner8(s: __m256, p: &[f32]) -> __m256 {
        let mut acc = _mm256_set1_ps(p[p.len() - 1]);
        for &c in p[..p.len() - 1].iter().rev() {
            acc = _mm256_add_ps(_mm256_set1_ps(c), _mm256_mul_ps(s, acc));
        }
        acc
    }

    #[target_feature(enable = "avx2,fma")]
    #[inline]
    fn horner1_8(s: __m256, q: &[f32]) -> __m256 {
        _mm256_add_ps(_mm256_set1_ps(1.0), _mm256_mul_ps(s, horner8(s, q)))
    }

    /// `libm`'s FreeBSD `expf` on eight lanes, for arguments of magnitude below 87.
    #[target_feature(enable = "avx2,fma")]
    #[inline]
    fn expf_fdlibm8(x: __m256) -> __m256 {
        let xi = _mm256_castps_si256(x);
        let hx = _mm256_and_si256(xi, _mm256_set1_epi32(0x7fff_ffff));
        let neg = _mm256_srai_epi32::<31>(xi); // all ones where the sign bit is set
        let gt_half_ln2 = _mm256_cmpgt_epi32(hx, _mm256_set1_epi32(0x3eb17218));
        let gt_3half_ln2 = _mm256_cmpgt_epi32(hx, _mm256_set1_epi32(0x3f851592));
        let gt_tiny = _mm256_cmpgt_epi32(hx, _mm256_set1_epi32(0x39000000));
        // k for |x| > 1.5 ln 2: (INV_LN2·x ± 0.5) truncated toward zero.
        let half = _mm256_blendv_ps(
            _mm256_set1_ps(0.5),
            _mm256_set1_ps(-0.5),
            _mm256_castsi256_ps(neg),
        );
        let k_big = _mm256_cvttps_epi32(_mm256_add_ps(
            _mm256_mul_ps(_mm256_set1_ps(INV_LN2), x),
            half,
        ));
        // k for 0.5 ln 2 < |x| <= 1.5 ln 2: 1 - 2·sign, that is ±1.
        let k_mid = _mm256_or_si256(neg, _mm256_set1_epi32(1));
        let k = _mm256_blendv_epi8(k_mid, k_big, gt_3half_ln2);
        let k = _mm256_and_si256(k, gt_half_ln2); // 0 for |x| <= 0.5 ln 2
        let kf = _mm256_cvtepi32_ps(k);
        let hi_red = _mm256_sub_ps(x, _mm256_mul_ps(kf, _mm256_set1_ps(LN2_HI)));
        let lo_red = _mm256_mul_ps(kf, _mm256_set1_ps(LN2_LO));
        let red = _mm256_castsi256_ps(gt_half_ln2);
        let hi = _mm256_blendv_ps(x, hi_red, red);
        let lo = _mm256_and_ps(lo_red, red);
        let xr = _mm256_blendv_ps(x, _mm256_sub_ps(hi_red, lo_red), red);
        let xx = _mm256_mul_ps(xr, xr);
        let c = _mm256_sub_ps(
            xr,
            _mm256_mul_ps(
                xx,
                _mm256_add_ps(_mm256_set1_ps(EP1), _mm256_mul_ps(xx, _mm256_set1_ps(EP2))),
            ),
        );
        let q = _mm256_div_ps(_mm256_mul_ps(xr, c), _mm256_sub_ps(_mm256_set1_ps(2.0), c));
        let y = _mm256_add_ps(_mm256_set1_ps(1.0), _mm256_add_ps(_mm256_sub_ps(q, lo), hi));
        // scalbnf(y, k) for k in range: a multiply by 2^k (by 1, exactly, where k = 0).
        let scale = _mm256_castsi256_ps(_mm256_slli_epi32::<23>(_mm256_add_epi32(
            k,
            _mm256_set1_epi32(0x7f),
        )));
        let y = _mm256_mul_ps(y, scale);
        let tiny = _mm256_add_ps(_mm256_set1_ps(1.0), x);
        _mm256_blendv_ps(tiny, y, _mm256_castsi256_ps(gt_tiny))
    }

    /// All ones in the lanes where `ix < bound` (both non-negative as `i32`).
    #[target_feature(enable = "avx2,fma")]
    #[inline]
    fn lt(ix: __m256i, bound: u32) -> __m256 {
        _mm256_castsi256_ps(_mm256_cmpgt_epi32(_mm256_set1_epi32(bound as i32), ix))
    }

    /// `libm`'s `erff` on eight lanes.
    #[target_feature(enable = "avx2,fma")]
    #[inline]
    pub fn erf8(x: __m256) -> __m256 {
        let xi = _mm256_castps_si256(x);
        let ix = _mm256_and_si256(xi, _mm256_set1_epi32(0x7fff_ffff));
        // NaN and infinity: lane by lane.
        if _mm256_movemask_ps(lt(ix, 0x7f80_0000)) != 0xff {
            return per_lane(x, super::erff);
        }
        // |x| < 0.84375, with the |x| < 2^-28 guard.
        let z = _mm256_mul_ps(x, x);
        let y = _mm256_div_ps(horner8(z, &PP), horner1_8(z, &QQ));
        let small = _mm256_add_ps(x, _mm256_mul_ps(x, y));
        let tiny = _mm256_mul_ps(
            _mm256_set1_ps(0.125),
            _mm256_add_ps(
                _mm256_mul_ps(_mm256_set1_ps(8.0), x),
                _mm256_mul_ps(_mm256_set1_ps(EFX8), x),
            ),
        );
        let small = _mm256_blendv_ps(small, tiny, lt(ix, 0x3180_0000));
        let is_small = lt(ix, 0x3f58_0000);
        if _mm256_movemask_ps(is_small) == 0xff {
            return small;
        }
        let xa = _mm256_castsi256_ps(ix);
        let one = _mm256_set1_ps(1.0);
        // 0.84375 <= |x| < 1.25.
        let s1 = _mm256_sub_ps(xa, one);
        let erfc1 = _mm256_sub_ps(
            _mm256_set1_ps(1.0 - ERX),
            _mm256_div_ps(horner8(s1, &PA), horner1_8(s1, &QA)),
        );
        // 1.25 <= |x| < 6.
        let s = _mm256_div_ps(one, _mm256_mul_ps(xa, xa));
        let is_a = lt(ix, 0x4036_db6d);
        let r = _mm256_blendv_ps(horner8(s, &RB), horner8(s, &RA), is_a);
        let big_s = _mm256_blendv_ps(horner1_8(s, &SB), horner1_8(s, &SA), is_a);
        let zt = _mm256_castsi256_ps(_mm256_and_si256(
            ix,
            _mm256_set1_epi32(0xffff_e000_u32 as i32),
        ));
        let a = _mm256_sub_ps(
            _mm256_mul_ps(_mm256_xor_ps(zt, _mm256_set1_ps(-0.0)), zt),
            _mm256_set1_ps(0.5625),
        );
        let b = _mm256_add_ps(
            _mm256_mul_ps(_mm256_sub_ps(zt, xa), _mm256_add_ps(zt, xa)),
            _mm256_div_ps(r, big_s),
        );
        let erfc2 = _mm256_div_ps(_mm256_mul_ps(expf_fdlibm8(a), expf_fdlibm8(b)), xa);
        let erfc = _mm256_blendv_ps(erfc2, erfc1, lt(ix, 0x3fa0_0000));
        let y = _mm256_blendv_ps(
            _mm256_set1_ps(1.0 - f32::from_bits(0x0380_0000)),
            _mm256_sub_ps(one, erfc),
            lt(ix, 0x40c0_0000),
        );
        // -y for negative x: y >= 0 here, so the sign bit of x carries over.
        let y = _mm256_xor_ps(y, _mm256_and_ps(x, _mm256_set1_ps(-0.0)));
        _mm256_blendv_ps(y, small, is_small)
    }

    /// burn-flex's GELU on eight lanes.
    #[target_feature(enable = "avx2,fma")]
    #[inline]
    pub fn gelu8(x: __m256) -> __m256 {
        let e = erf8(_mm256_div_ps(x, _mm256_set1_ps(SQRT2)));
        _mm256_mul_ps(
            _mm256_mul_ps(_mm256_set1_ps(0.5), x),
            _mm256_add_ps(_mm256_set1_ps(1.0), e),
        )
    }

    /// burn-flex's sigmoid on eight lanes.
    #[target_feature(enable = "avx2,fma")]
    #[inline]
    pub fn sigmoid8(x: __m256) -> __m256 {
        // exp(-x) for x >= 0 and exp(x) below are both exp(-|x|) (-0.0 included).
        let minus_abs = _mm256_or_ps(x, _mm256_set1_ps(-0.0));
        let e = exp8(minus_abs);
        let one = _mm256_set1_ps(1.0);
        let den = _mm256_add_ps(one, e);
        let pos = _mm256_div_ps(one, den);
        let neg = _mm256_div_ps(e, den);
        let ge0 = _mm256_cmp_ps::<_CMP_GE_OQ>(x, _mm256_setzero_ps());
        _mm256_blendv_ps(neg, pos, ge0)
    }
}

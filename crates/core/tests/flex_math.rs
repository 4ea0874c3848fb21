//! The vectorised `exp`, `erf`, GELU and sigmoid of the patched burn-flex
//! (`vendor/burn-flex/src/vmath.rs`) give bit for bit what burn-flex computed before
//! (glibc's `expf` through `f32::exp`, the `libm` crate's `erff`), directly and through
//! Burn's tensor API, on contiguous and strided tensors.
//!
//! The exhaustive comparison (all 2^32 inputs) is ignored here because it takes minutes:
//! `cargo test -p repro-core --test flex_math -- --ignored` after changing that module.

use burn::tensor::activation::{gelu, sigmoid, softmax};
use burn::tensor::{Device, Tensor, TensorData};
use burn_flex::vmath;

const SQRT2: f32 = core::f32::consts::SQRT_2;

fn glibc_sigmoid(x: f32) -> f32 {
    if x >= 0.0 {
        1.0 / (1.0 + (-x).exp())
    } else {
        let e = x.exp();
        e / (1.0 + e)
    }
}

fn libm_gelu(x: f32) -> f32 {
    0.5 * x * (1.0 + libm::erff(x / SQRT2))
}

fn libm_gelu_backward(x: f32, g: f32) -> f32 {
    let cdf = 0.5 * (1.0 + libm::erff(x / SQRT2));
    let pdf = 1.0 / (2.0 * core::f32::consts::PI).sqrt() * (-0.5 * x * x).exp();
    g * (cdf + x * pdf)
}

/// Every `step`-th bit pattern, and a few patterns on each side of every branch boundary.
fn inputs(step: u32) -> impl Iterator<Item = f32> {
    let edges: [u32; 16] = [
        0,
        1,
        0x0080_0000,
        0x3180_0000,
        0x3f58_0000,
        0x3fa0_0000,
        0x4036_db6d,
        0x40c0_0000,
        0x42b0_0000,
        0x42b1_7217,
        0x42b1_7218,
        0xc2ce_8ecf,
        0xc2cf_f1b4,
        0x7f80_0000,
        0x7fc0_0000,
        0xff80_0000,
    ];
    let around = edges.into_iter().flat_map(|e| {
        (0..9u32).flat_map(move |d| [e.wrapping_add(d), e.wrapping_sub(d), e ^ 0x8000_0000])
    });
    (0..=u32::MAX / step)
        .map(move |i| i * step)
        .chain(around)
        .map(f32::from_bits)
}

fn same(a: f32, b: f32) -> bool {
    a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan())
}

/// Runs `kernel` over the inputs in blocks of 2^20 (odd-length blocks exercise the tail)
/// and counts the results that differ from `reference`.
fn mismatches(step: u32, kernel: fn(&mut [f32]), reference: fn(f32) -> f32) -> usize {
    let mut it = inputs(step).peekable();
    let (mut bad, mut block) = (0, Vec::with_capacity(1 << 20));
    while it.peek().is_some() {
        block.clear();
        block.extend(it.by_ref().take((1 << 20) - 3));
        let mut out = block.clone();
        kernel(&mut out);
        for (&x, &y) in block.iter().zip(&out) {
            if !same(y, reference(x)) {
                if bad < 5 {
                    eprintln!(
                        "x = {x:e} ({:#010x}): {y:e}, want {:e}",
                        x.to_bits(),
                        reference(x)
                    );
                }
                bad += 1;
            }
        }
    }
    bad
}

fn scalar(f: fn(f32) -> f32) -> impl Fn(&mut [f32]) {
    move |xs| xs.iter_mut().for_each(|x| *x = f(*x))
}

/// A kernel under test: its name, the slice function and the scalar reference.
type Case = (&'static str, fn(&mut [f32]), fn(f32) -> f32);

fn check_all(step: u32) {
    let cases: [Case; 8] = [
        ("exp", vmath::exp_in_place, f32::exp),
        ("exp scalar", |v| scalar(vmath::expf)(v), f32::exp),
        ("erf", vmath::erf_in_place, libm::erff),
        ("erf scalar", |v| scalar(vmath::erff)(v), libm::erff),
        ("gelu", vmath::gelu_in_place, libm_gelu),
        ("gelu scalar", |v| scalar(vmath::gelu)(v), libm_gelu),
        ("sigmoid", vmath::sigmoid_in_place, glibc_sigmoid),
        (
            "sigmoid scalar",
            |v| scalar(vmath::sigmoid)(v),
            glibc_sigmoid,
        ),
    ];
    for (name, kernel, reference) in cases {
        assert_eq!(
            mismatches(step, kernel, reference),
            0,
            "{name}: results differ"
        );
    }
    // GELU backward, with gradients of both signs and magnitudes.
    let xs: Vec<f32> = inputs(step.max(7)).collect();
    let gs: Vec<f32> = (0..xs.len())
        .map(|i| ((i % 97) as f32 - 48.0) * 0.37)
        .collect();
    let mut out = gs.clone();
    vmath::gelu_backward_in_place(&xs, &mut out);
    let bad = (0..xs.len())
        .filter(|&i| !same(out[i], libm_gelu_backward(xs[i], gs[i])))
        .count();
    assert_eq!(bad, 0, "gelu backward: {bad} results differ");
}

#[test]
fn kernels_match_libm_on_a_sample_of_bit_patterns() {
    check_all(4099);
}

#[test]
#[ignore = "all 2^32 inputs per function, several minutes"]
fn kernels_match_libm_on_every_input() {
    check_all(1);
}

#[test]
fn a_deliberately_wrong_reference_is_caught() {
    // The harness itself can fail: exp against exp2 differs almost everywhere.
    assert!(mismatches(65_537, vmath::exp_in_place, f32::exp2) > 1000);
}

/// Values spread over the range a network sees, with zeros, ties and a few large ones.
fn values(n: usize) -> Vec<f32> {
    (0..n)
        .map(|i| match i % 11 {
            0 => 0.0,
            1 => -((i % 37) as f32) * 3.1,
            2 => 95.0 - (i % 5) as f32,
            _ => ((i as f32) * 0.618_034).sin() * 4.0 * ((i % 7) as f32 - 3.0),
        })
        .collect()
}

fn host(t: Tensor<2>) -> Vec<f32> {
    t.into_data().try_to_vec::<f32>().expect("f32 tensor")
}

fn bits_equal(name: &str, got: &[f32], want: &[f32]) {
    assert_eq!(got.len(), want.len(), "{name}: length");
    for (i, (&g, &w)) in got.iter().zip(want).enumerate() {
        assert!(same(g, w), "{name}[{i}]: {g:e} != {w:e}");
    }
}

#[test]
fn tensor_ops_give_the_scalar_values_contiguous_and_strided() {
    let device = Device::flex();
    let (rows, cols) = (37, 29); // odd sizes: every kernel's tail is used
    let data = values(rows * cols);
    let t = Tensor::<2>::from_data(TensorData::new(data.clone(), [rows, cols]), &device);
    let transposed: Vec<f32> = (0..cols)
        .flat_map(|c| (0..rows).map(move |r| (r, c)))
        .map(|(r, c)| data[r * cols + c])
        .collect();
    let map = |f: fn(f32) -> f32, v: &[f32]| v.iter().map(|&x| f(x)).collect::<Vec<_>>();

    bits_equal("exp", &host(t.clone().exp()), &map(f32::exp, &data));
    bits_equal("erf", &host(t.clone().erf()), &map(libm::erff, &data));
    bits_equal(
        "sigmoid",
        &host(sigmoid(t.clone())),
        &map(glibc_sigmoid, &data),
    );
    bits_equal("gelu", &host(gelu(t.clone())), &map(libm_gelu, &data));
    // A transposed view and a sliced one take the copying path.
    bits_equal(
        "exp of t^T",
        &host(t.clone().transpose().exp()),
        &map(f32::exp, &transposed),
    );
    bits_equal(
        "gelu of t^T",
        &host(gelu(t.clone().transpose())),
        &map(libm_gelu, &transposed),
    );
    let sliced: Vec<f32> = (0..rows)
        .flat_map(|r| data[r * cols + 3..r * cols + 20].to_vec())
        .collect();
    bits_equal(
        "sigmoid of a slice",
        &host(sigmoid(t.clone().slice([0..rows, 3..20]))),
        &map(glibc_sigmoid, &sliced),
    );

    // Softmax over rows: exp(x - max) summed in element order, then scaled.
    let mut want = Vec::with_capacity(data.len());
    for row in data.chunks(cols) {
        let max = row
            .iter()
            .fold(f32::NEG_INFINITY, |m, &x| if x > m { x } else { m });
        let e: Vec<f32> = row.iter().map(|&x| (x - max).exp()).collect();
        let sum = e.iter().fold(0.0f32, |s, &x| s + x);
        let inv = 1.0 / sum;
        want.extend(e.iter().map(|&x| x * inv));
    }
    bits_equal("softmax", &host(softmax(t, 1)), &want);
}

#[test]
fn gelu_backward_through_autodiff_gives_the_scalar_gradient() {
    let device = Device::flex().autodiff();
    let (rows, cols) = (13, 21);
    let data = values(rows * cols);
    let weights: Vec<f32> = (0..rows * cols)
        .map(|i| (i % 13) as f32 * 0.25 - 1.5)
        .collect();
    let x =
        Tensor::<2>::from_data(TensorData::new(data.clone(), [rows, cols]), &device).require_grad();
    let w = Tensor::<2>::from_data(TensorData::new(weights.clone(), [rows, cols]), &device);
    let loss = (gelu(x.clone()) * w).sum();
    let grads = loss.backward();
    let got = host(x.grad(&grads).expect("x has a gradient"));
    let want: Vec<f32> = data
        .iter()
        .zip(&weights)
        .map(|(&x, &g)| libm_gelu_backward(x, g))
        .collect();
    bits_equal("gelu backward", &got, &want);
}

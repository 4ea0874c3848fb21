//! The transcendental element-wise ops of the training steps (GELU, its backward, softmax,
//! sigmoid, exp) on one 256 × 4096 tensor (1 Mi elements), and, for scale, the same
//! exp and GELU as one scalar libm call per element (what burn-flex did before the
//! workspace's patch, `vendor/README.md`). Twin: `elementwise_torch.py`.

use burn::tensor::activation::{gelu, sigmoid, softmax};
use burn::tensor::{Device, Distribution, Tensor};
use repro_core::bench;
use repro_core::device::seed;

const SHAPE: [usize; 2] = [256, 4096];

fn main() {
    let device = Device::flex();
    seed(&device, 0);
    let x = Tensor::<2>::random(SHAPE, Distribution::Normal(0.0, 2.0), &device);
    let host: Vec<f32> = x
        .clone()
        .into_data()
        .try_to_vec::<f32>()
        .expect("f32 tensor");
    let sum = |t: Tensor<2>| t.sum().into_scalar::<f32>();

    let exp = bench::run("exp_256x4096", 5, 50, || {
        sum(x.clone().exp());
    });
    let gelu_fwd = bench::run("gelu_256x4096", 5, 50, || {
        sum(gelu(x.clone()));
    });
    let sig = bench::run("sigmoid_256x4096", 5, 50, || {
        sum(sigmoid(x.clone()));
    });
    let soft = bench::run("softmax_rows_256x4096", 5, 50, || {
        sum(softmax(x.clone(), 1));
    });
    let ad = device.clone().autodiff();
    let xa = Tensor::<2>::from_data(x.clone().into_data(), &ad).require_grad();
    let gelu_bwd = bench::run("gelu_fwd_bwd_256x4096", 5, 50, || {
        let grads = gelu(xa.clone()).sum().backward();
        let g = xa.grad(&grads).expect("gradient");
        g.sum().into_scalar::<f32>();
    });

    // The per-element libm calls burn-flex made before (no twin).
    let mut out = vec![0.0f32; host.len()];
    let exp_libm = bench::run("exp_256x4096_scalar_libm", 5, 50, || {
        for (o, &v) in out.iter_mut().zip(&host) {
            *o = v.exp();
        }
        std::hint::black_box(&out);
    });
    let gelu_libm = bench::run("gelu_256x4096_scalar_libm", 5, 50, || {
        for (o, &v) in out.iter_mut().zip(&host) {
            *o = 0.5 * v * (1.0 + libm::erff(v / std::f32::consts::SQRT_2));
        }
        std::hint::black_box(&out);
    });
    bench::emit(&[exp, gelu_fwd, sig, soft, gelu_bwd, exp_libm, gelu_libm]);
}

//! One training step of the quick configuration: 256 images, two views (512 rows) through
//! the backbone (64-256-256 with BatchNorm), then
//!
//! - `cnfa_step_b256_k64`: Weibull heads (softplus, clamps), θ sampled from 512 × 64
//!   uniforms drawn on the host, the Weibull–Gamma KL (lgamma as tensor ops), InfoNCE
//!   (τ 0.2) on θ, backward, Adam (lr 1e-3, ε 1e-8);
//! - `cfa_step_b256_k64`: the same with Gaussian heads and the Gaussian KL;
//! - `simclr_step_b256_k64`: the SimCLR baseline (projector 256-1024-64).
//!
//! View construction is host work and is left out on both sides. Twin:
//! `cnfa_step_torch.py`.

use burn::module::Module;
use burn::optim::GradientsParams;
use burn::tensor::{Device, Tensor, TensorData};
use repro_contrastive_fa::config::{ExperimentConfig, MethodConfig};
use repro_contrastive_fa::latent::Latent;
use repro_contrastive_fa::losses::Objective;
use repro_contrastive_fa::train::build;
use repro_core::bench;
use repro_core::rng::{Noise, SplitMix64};
use repro_core::train::optim;

fn views(n: usize, rng: &mut SplitMix64, device: &Device) -> Tensor<2> {
    let v: Vec<f32> = (0..n * 64).map(|_| rng.next_f64() as f32).collect();
    Tensor::from_data(TensorData::new(v, [n, 64]), device)
}

fn main() {
    let device = Device::flex();
    let ad = device.clone().autodiff();
    let mut rng = SplitMix64::new(0);
    let (x1, x2) = (views(256, &mut rng, &ad), views(256, &mut rng, &ad));
    let cfg = ExperimentConfig::quick();
    let info = Objective::InfoNce { tau: 0.2 };
    let mut results = Vec::new();
    for (name, method) in [
        (
            "cnfa_step_b256_k64",
            MethodConfig::factor(
                Latent::Weibull {
                    alpha0: 1.0,
                    beta0: 1.0,
                },
                info,
                1e-2,
            ),
        ),
        (
            "cfa_step_b256_k64",
            MethodConfig::factor(Latent::Gaussian, info, 1e-2),
        ),
        ("simclr_step_b256_k64", MethodConfig::simclr()),
    ] {
        let mut net = build(&cfg, &method, 64, 0, &device).expect("valid preset");
        let mut opt = optim::adam(0.0).init();
        let mut noise = Noise::new(1);
        results.push(bench::run(name, 5, 40, || {
            let (loss, _) = net
                .loss(x1.clone(), x2.clone(), 1e-2, &mut noise)
                .expect("same shapes");
            let _ = loss.clone().into_scalar::<f32>();
            let grads = GradientsParams::from_grads(loss.backward(), &net);
            net = opt.step(1e-3, net.clone(), grads);
        }));
        let _ = net.valid();
    }
    bench::emit(&results);
}

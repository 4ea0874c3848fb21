//! One SimCLR training step of the quick configuration: 256 images, two views (512 rows)
//! through the MLP encoder (64-256-256, projector 1024-256), NT-Xent (tau 0.2), backward and
//! AdamW (lr 1e-3, wd 1e-4, eps 1e-8). View construction is host work and is left out on
//! both sides. Twin: `simclr_step_torch.py`.

use burn::module::Module;
use burn::optim::GradientsParams;
use burn::tensor::{Device, Tensor, TensorData};
use repro_core::bench;
use repro_core::data::split::SplitMix64;
use repro_core::device::{init_params_now, seed};
use repro_core::train::optim;
use repro_monosemantic::model::EncoderConfig;
use repro_monosemantic::ncl::{NonNeg, contrastive_loss};

fn views(n: usize, rng: &mut SplitMix64, device: &Device) -> Tensor<2> {
    let v: Vec<f32> = (0..n * 64).map(|_| rng.next_f64() as f32).collect();
    Tensor::from_data(TensorData::new(v, [n, 64]), device)
}

fn main() {
    let device = Device::flex().autodiff();
    seed(&device, 0);
    let mut rng = SplitMix64::new(0);
    let (x1, x2) = (views(256, &mut rng, &device), views(256, &mut rng, &device));
    let mut results = Vec::new();
    for (name, kind) in [
        ("simclr_step_b256", NonNeg::None),
        ("ncl_step_b256", NonNeg::Relu),
    ] {
        let mut enc = init_params_now(EncoderConfig::new().init(&device));
        let mut opt = optim::adamw(1e-4).init();
        results.push(bench::run(name, 5, 40, || {
            let (_, z1) = enc.forward(x1.clone());
            let (_, z2) = enc.forward(x2.clone());
            let loss = contrastive_loss(z1, z2, kind, 0.2, false);
            let _ = loss.clone().into_scalar::<f32>();
            let grads = GradientsParams::from_grads(loss.backward(), &enc);
            enc = opt.step(1e-3, enc.clone(), grads);
        }));
        let _ = enc.valid();
    }
    bench::emit(&results);
}

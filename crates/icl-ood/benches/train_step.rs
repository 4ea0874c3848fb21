//! One training step of the quick model: batch 32, n = 17 points (2n = 34 tokens), d = 4,
//! 3 layers, d_model 64, 2 heads, MLP 256, learned positions; forward, MSE at the x slots,
//! backward, Adam (eps 1e-8). Twin: `train_step_torch.py`.

use burn::optim::GradientsParams;
use burn::tensor::Device;
use repro_core::bench;
use repro_core::device::{init_params_now, seed};
use repro_core::rng::Noise;
use repro_core::train::optim;
use repro_icl_ood::config::ExperimentConfig;
use repro_icl_ood::model::{batch_tensors, icl_loss};
use repro_icl_ood::tasks::{FunctionClass, sample};

fn main() {
    let cfg = ExperimentConfig::quick();
    let device = Device::flex().autodiff();
    seed(&device, 0);
    let mcfg = cfg.model.config(cfg.d, 1, cfg.n);
    let mut model = init_params_now(mcfg.init(&device).expect("quick model"));
    let mut opt = optim::adam(0.0).init();
    let batch = sample(
        &FunctionClass::Linear,
        cfg.batch,
        cfg.n,
        cfg.d,
        cfg.d,
        &mut Noise::new(1),
    )
    .expect("prompts");
    let (xs, ys) = batch_tensors(&batch, &device);
    let step = bench::run("icl_train_step_b32_t34", 5, 30, || {
        let loss = icl_loss(model.predict(xs.clone(), ys.clone()), ys.clone());
        let _ = loss.clone().into_scalar::<f32>();
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        model = opt.step(5e-4, model.clone(), grads);
    });
    bench::emit(&[step]);
}

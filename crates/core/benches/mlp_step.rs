//! One AdamW training step of a 64-128-10 MLP on a batch of 256 digits, and one inference
//! pass: the smallest unit of work every digits experiment repeats. Twin: `mlp_step_torch.py`.

use burn::module::Module;
use burn::nn::loss::CrossEntropyLossConfig;
use burn::nn::{Linear, LinearConfig};
use burn::optim::GradientsParams;
use burn::tensor::Device;
use burn::tensor::activation::relu;
use repro_core::bench;
use repro_core::data::digits;
use repro_core::device::{init_params_now, seed};
use repro_core::train::optim;

#[derive(Module, Debug)]
struct Mlp {
    hidden: Linear,
    out: Linear,
}

fn main() {
    let device = Device::flex().autodiff();
    seed(&device, 0);
    let d = digits::load().expect("digits");
    let idx: Vec<usize> = (0..256).collect();
    let (x, y) = d.tensors(&idx, &device);
    let mut model = init_params_now(Mlp {
        hidden: LinearConfig::new(64, 128).init(&device),
        out: LinearConfig::new(128, 10).init(&device),
    });
    let mut opt = optim::adamw(1e-2).init();
    let loss_fn = CrossEntropyLossConfig::new().init(&device);
    let train = bench::run("mlp_train_step_b256", 20, 200, || {
        let logits = model.out.forward(relu(model.hidden.forward(x.clone())));
        let loss = loss_fn.forward(logits, y.clone());
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        model = opt.step(1e-3, model.clone(), grads);
        let _ = model
            .out
            .bias
            .as_ref()
            .map(|b| b.val().sum().into_scalar::<f32>());
    });
    let eval = model.valid();
    let xe = x.clone().inner();
    let infer = bench::run("mlp_forward_b256", 20, 200, || {
        let logits = eval.out.forward(relu(eval.hidden.forward(xe.clone())));
        let _ = logits.sum().into_scalar::<f32>();
    });
    bench::emit(&[train, infer]);
}

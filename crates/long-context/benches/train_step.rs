//! One training step of the quick model (batch 16, T = 64, d_model 64, 4 heads, 2 layers,
//! d_ff 256, vocabulary 133): forward, cross-entropy, backward, AdamW. Also the LongCE
//! weights of that batch (the extra cost of a LongCE step). Twin: `train_step_torch.py`.

use burn::grad_clipping::GradientClippingConfig;
use burn::module::Module;
use burn::optim::GradientsParams;
use burn::tensor::Device;
use repro_core::bench;
use repro_core::data::split::SplitMix64;
use repro_core::device::{init_params_now, seed};
use repro_core::lm::{CausalLm, ContextWindow};
use repro_core::nn::decoder::AttnMask;
use repro_core::train::optim;
use repro_long_context::config::ExperimentConfig;
use repro_long_context::kvdocs::{FillerChain, KvDocConfig};
use repro_long_context::metrics::{longce_loss, longce_weights};
use repro_long_context::train::{batch_ids, decoder_config};

fn main() {
    let cfg = ExperimentConfig::quick();
    let device = Device::flex().autodiff();
    seed(&device, 0);
    let mut model = init_params_now(decoder_config(&cfg).init(&device));
    let mut opt = optim::adamw(0.01)
        .with_grad_clipping(Some(GradientClippingConfig::Norm(1.0)))
        .init();
    let chain = FillerChain::new(0);
    let docs = KvDocConfig {
        len: cfg.docs.len,
        short: cfg.docs.short,
        pairs: cfg.docs.train_pairs,
        p_far: 0.5,
    };
    let ids = batch_ids(
        &docs,
        &chain,
        cfg.train.batch,
        &mut SplitMix64::new(1),
        &device,
    )
    .expect("documents");
    let [b, t] = ids.dims();
    let ones = burn::tensor::Tensor::<2>::ones([b, t - 1], &device);
    let step = bench::run("lm_train_step_b16_t64", 5, 30, || {
        let logits = model.logits(ids.clone().slice([0..b, 0..t - 1]), 0, &AttnMask::Causal);
        let loss = longce_loss(logits, ids.clone(), ones.clone());
        let _ = loss.clone().into_scalar::<f32>();
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        model = opt.step(1e-3, model.clone(), grads);
    });
    let eval = model.valid();
    let weights = bench::run("longce_weights_b16_t64", 3, 20, || {
        let window = ContextWindow::Chunked {
            trunc_len: cfg.docs.short,
            stride: cfg.docs.short / 4,
        };
        let w = longce_weights(&eval, ids.clone(), 5.0, window);
        let _ = w.sum().into_scalar::<f32>();
    });
    bench::emit(&[step, weights]);
}

//! One pretraining step at the quick shape: batch 128 digits-sized images (16 patches of
//! 4 values), encoder 64-d × 4 blocks × 4 heads on CLS + 4 visible patches, decoder 32-d ×
//! 2 blocks on 17 positions, AdamW (β 0.9 / 0.95, ε 1e-8, wd 0.05 on matrices).
//!
//! - `mae_step_b128`: pixel head, masked MSE;
//! - `kmim_pix16_step_b128`: PIX-16 tokens of the batch (nearest centre, a [2048, 4] × [4, 16]
//!   product + argmin), token head, masked cross-entropy.
//!
//! Masks are drawn on the host and uploaded inside the timed step on both sides. Twin:
//! `train_step_torch.py`.

use burn::optim::{AdamWConfig, GradientsParams};
use burn::tensor::{Device, Int, Tensor};
use repro_core::bench;
use repro_core::rng::SplitMix64;
use repro_core::train::optim::adamw_matrices_only;
use repro_mim_tokens::config::ExperimentConfig;
use repro_mim_tokens::loss::{masked_pixel_mse, masked_token_ce};
use repro_mim_tokens::model::Head;
use repro_mim_tokens::tokenizer::{KMeansSettings, PixelKMeans, TokenBatch, Tokenizer};
use repro_mim_tokens::train::{init_model, masking, patches};

fn main() {
    let cfg = ExperimentConfig::quick();
    let (b, l) = (cfg.train.batch_size, cfg.model.n_patches());
    let device = Device::flex();
    let ad = device.clone().autodiff();
    let mut rng = SplitMix64::new(0);
    // Digit-like values: 17 levels, normalised around 0.
    let x: Vec<f32> = (0..b * 64)
        .map(|_| (rng.below(17) as f32 - 5.0) / 6.0)
        .collect();
    let host = repro_core::host::to_vec(patches(&x, 8, 2, &device).expect("8x8"));
    let km = KMeansSettings {
        n_init: 1,
        max_iter: 20,
        tol: 1e-6,
    };
    let pix = PixelKMeans::fit(&host, 4, 16, &km, 0, false, &device).expect("PIX-16");
    let adamw = AdamWConfig::new()
        .with_beta_1(0.9)
        .with_beta_2(0.95)
        .with_epsilon(1e-8)
        .with_weight_decay(0.05);
    let mut results = Vec::new();
    for (name, head) in [
        ("mae_step_b128", Head::Pixels),
        ("kmim_pix16_step_b128", Head::Tokens(16)),
    ] {
        let mut model = init_model(&cfg.model, head, 0, &ad).expect("quick model");
        let mut opt = adamw_matrices_only(&model, &adamw);
        let mut mrng = SplitMix64::new(1);
        results.push(bench::run(name, 5, 40, || {
            let xp = patches(&x, 8, 2, &ad).expect("8x8");
            let m = masking(b, l, 0.75, &mut mrng, &ad).expect("ratio 0.75");
            let out = model.forward(xp.clone(), &m);
            let loss = match head {
                Head::Pixels => masked_pixel_mse(out, xp, m.mask.clone()),
                Head::Tokens(_) => {
                    let batch = TokenBatch {
                        patches: patches(&x, 8, 2, &device).expect("8x8"),
                        image_ids: (0..b as u32).collect(),
                        labels: None,
                        step: 0,
                    };
                    let ids = pix.tokens(&batch).expect("tokens");
                    let ids = Tensor::<2, Int>::from_data(ids.into_data(), &ad);
                    masked_token_ce(out, ids, m.mask.clone(), 0.0)
                }
            };
            let _ = loss.clone().into_scalar::<f32>();
            let grads = GradientsParams::from_grads(loss.backward(), &model);
            model = opt.step(1e-3, model.clone(), grads);
        }));
    }
    bench::emit(&results);
}

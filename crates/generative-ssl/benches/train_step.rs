//! One training step of each objective at the quick shape: batch 64 sequences of n = 24
//! tokens (25 positions with BOS), V = 32 (+ BOS, MASK), 2 pre-LN blocks, d_model 64,
//! 4 heads, MLP 256, learned positions, untied head, offset table K_max = 8 (as the quick
//! preset's model); forward, the objective's loss (AR; MLM ρ = 0.15; DEAR K_max = 4;
//! VLM ρ ~ U(0.05, 0.95), p_suffix 0.5), backward, global-norm clipping at 1.0, AdamW
//! (lr 1e-3, wd 0.01 on matrices only, eps 1e-8). Corruption and offsets are redrawn every
//! step (host work included). Twin: `train_step_torch.py`.

use burn::optim::GradientsParams;
use burn::tensor::Device;
use repro_core::bench;
use repro_core::rng::SplitMix64;
use repro_core::train::optim::{adamw, adamw_matrices_only, clip_global_norm};
use repro_generative_ssl::config::{ExperimentConfig, Method};
use repro_generative_ssl::objective::objective_loss;
use repro_generative_ssl::train::init_model;

fn main() {
    let cfg = ExperimentConfig::quick();
    let device = Device::flex().autodiff();
    let (v, n, b) = (cfg.markov.vocab, cfg.markov.len, cfg.train.batch_size);
    let mut data = SplitMix64::new(1);
    let xs: Vec<Vec<u32>> = (0..b)
        .map(|_| (0..n).map(|_| data.below(v) as u32).collect())
        .collect();
    let mut results = Vec::new();
    for m in Method::standard() {
        let mut model = init_model(&cfg.model(v, n, Some(&m)), 0, &device).expect("quick model");
        let mut opt = adamw_matrices_only(&model, &adamw(cfg.train.weight_decay));
        let mut rng = SplitMix64::new(2);
        let name = format!("gssl_step_{}_b{b}_t{}", m.name.to_lowercase(), n + 1);
        results.push(bench::run(&name, 5, 30, || {
            let loss = objective_loss(&model, &m.objective, m.reduction, &xs, &mut rng, &device)
                .expect("loss");
            let _ = loss.clone().into_scalar::<f32>();
            let grads = GradientsParams::from_grads(loss.backward(), &model);
            let (grads, _) = clip_global_norm(&model, grads, cfg.train.clip_norm).expect("clip");
            model = opt.step(cfg.train.lr, model.clone(), grads);
        }));
    }
    bench::emit(&results);
}

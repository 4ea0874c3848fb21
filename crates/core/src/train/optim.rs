//! Optimiser presets with every hyper-parameter set explicitly.
//!
//! Burn's defaults differ from PyTorch's (Adam epsilon 1e-5 vs 1e-8, AdamW weight decay
//! 1e-4 vs 1e-2, SGD momentum dampening 0.1 vs 0). Papers are written against PyTorch, so
//! these presets take PyTorch's values; pass what the paper states explicitly.

use burn::optim::decay::WeightDecayConfig;
use burn::optim::momentum::MomentumConfig;
use burn::optim::{AdamConfig, AdamWConfig, SgdConfig};

/// `torch.optim.Adam(betas=(0.9, 0.999), eps=1e-8, weight_decay)` (L2 added to gradients).
pub fn adam(weight_decay: f32) -> AdamConfig {
    let cfg = AdamConfig::new()
        .with_beta_1(0.9)
        .with_beta_2(0.999)
        .with_epsilon(1e-8);
    if weight_decay > 0.0 {
        cfg.with_weight_decay(Some(WeightDecayConfig::new(weight_decay)))
    } else {
        cfg
    }
}

/// `torch.optim.AdamW(betas=(0.9, 0.999), eps=1e-8, weight_decay)` (decoupled decay).
pub fn adamw(weight_decay: f32) -> AdamWConfig {
    AdamWConfig::new()
        .with_beta_1(0.9)
        .with_beta_2(0.999)
        .with_epsilon(1e-8)
        .with_weight_decay(weight_decay)
}

/// `torch.optim.SGD(momentum, dampening=0, nesterov=False, weight_decay)`.
pub fn sgd(momentum: f64, weight_decay: f32) -> SgdConfig {
    let mut cfg = SgdConfig::new();
    if momentum > 0.0 {
        cfg = cfg.with_momentum(Some(
            MomentumConfig::new()
                .with_momentum(momentum)
                .with_dampening(0.0)
                .with_nesterov(false),
        ));
    }
    if weight_decay > 0.0 {
        cfg = cfg.with_weight_decay(Some(WeightDecayConfig::new(weight_decay)));
    }
    cfg
}

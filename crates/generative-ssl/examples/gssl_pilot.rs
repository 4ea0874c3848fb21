//! Timing pilot and learning diagnostic (issue 16), dev profile as `cargo xtask reproduce`
//! runs: `cargo run -p repro-generative-ssl --example gssl_pilot [batch] [epochs] [objective]`.
//! Without `epochs`: 50 optimiser steps of each objective at the quick shape (V = 32,
//! n = 24, 2 layers, d = 64) on a seed-0 language with α = 0.153 (seed 0's calibrated
//! value), printing ms per step. With `epochs` (and optionally one of AR, MLM, DEAR, VLM):
//! that many epochs over 10,000 sequences, printing the mean loss per 100 steps.

use burn::tensor::Device;
use repro_generative_ssl::config::Method;
use repro_generative_ssl::markov::{Alpha, MarkovConfig, MarkovLanguage};
use repro_generative_ssl::model::SeqModelConfig;
use repro_generative_ssl::train::{TrainConfig, pretrain};

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let batch: usize = args.get(1).map_or(Ok(64), |s| s.parse())?;
    let epochs: Option<usize> = args.get(2).map(|s| s.parse()).transpose()?;
    let only = args.get(3).cloned();
    let cfg = MarkovConfig {
        alpha: Alpha::Fixed(0.153),
        ..MarkovConfig::default()
    };
    let lang = MarkovLanguage::new(&cfg, 0)?;
    let n = if epochs.is_some() { 10_000 } else { 50 * batch };
    let (xs, _) = lang.sample_balanced(n, &mut repro_core::rng::SplitMix64::new(1));
    let model = SeqModelConfig::new(32, 25).with_k_max(8);
    let train = TrainConfig {
        batch_size: batch,
        epochs: epochs.unwrap_or(1),
        ..TrainConfig::default()
    };
    let device = Device::flex();
    for m in Method::standard() {
        if only.as_ref().is_some_and(|o| *o != m.name) {
            continue;
        }
        let data = |_: usize| Ok(xs.clone());
        let (_, c) = pretrain(
            &model,
            &m.objective,
            &train,
            &data,
            xs.len(),
            0,
            &device,
            None,
        )?;
        println!(
            "{}: batch {batch}, {} steps, {:.1} ms/step, loss {:.3} -> {:.3}",
            m.name,
            c.loss.len(),
            1e3 * c.seconds / c.loss.len() as f64,
            c.first_last(5).0,
            c.first_last(5).1
        );
        if epochs.is_some() {
            let per100: Vec<String> = c
                .loss
                .chunks(100)
                .map(|b| format!("{:.3}", b.iter().sum::<f64>() / b.len() as f64))
                .collect();
            println!("  mean loss per 100 steps: {}", per100.join(" "));
        }
    }
    Ok(())
}

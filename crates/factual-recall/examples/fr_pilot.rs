//! Pilots behind two declared choices (results in docs/papers/factual-recall.md).
//!
//! - `cargo run --example fr_pilot -p repro-factual-recall -- time`: wall time of 50 training
//!   steps of the quick model on the full knowledge base, and of one bag's attribution
//!   (4 prompts × 4 layers × m = 20), to size the quick profile.
//! - `cargo run --example fr_pilot -p repro-factual-recall -- rule [steps]`: the bag rule on
//!   the smoke knowledge base. A quick-shaped model is trained on it (default 600 steps),
//!   every fact's bag is attributed, and the number of facts left without knowledge neurons
//!   is counted under Dai's rule (floor 3) and under candidate rules.

use std::time::Instant;

use burn::module::Module;
use burn::tensor::Device;
use repro_core::train::Hooks;
use repro_factual_recall::eval::single_hop_accuracy;
use repro_factual_recall::kb::{KbConfig, generate};
use repro_factual_recall::neurons::{KnConfig, attribute_bag, coarse_sets, select_relation};
use repro_factual_recall::train::{ModelConfig, TrainSpec, train};

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    match args.get(1).map(String::as_str) {
        Some("time") => time(),
        Some("rule") => rule(args.get(2).map_or(Ok(600), |s| s.parse())?),
        _ => anyhow::bail!("usage: pilot time | pilot rule [steps]"),
    }
}

fn time() -> anyhow::Result<()> {
    let kb = generate(&KbConfig::full(), 0)?;
    let device = Device::flex().autodiff();
    let model = ModelConfig::quick().init(&kb, &device, 0);
    let spec = TrainSpec {
        steps: 50,
        ..TrainSpec::quick()
    };
    let t = Instant::now();
    let run = train(model, &device, &kb, &spec, &Hooks::none())?;
    let per_step = t.elapsed().as_secs_f64() / 50.0;
    println!(
        "50 quick steps: {:.2} s ({:.1} ms/step; 1,500 steps ≈ {:.0} s); loss {:.3} -> {:.3}",
        per_step * 50.0,
        per_step * 1e3,
        per_step * 1500.0,
        run.losses[0],
        run.losses[49]
    );
    let ig_model = run.model.clone().no_grad();
    let bag = kb.bag(0, kb.persons[0])?;
    let t = Instant::now();
    for _ in 0..5 {
        attribute_bag(&ig_model, &bag, &KnConfig::ours().ig)?;
    }
    let per_bag = t.elapsed().as_secs_f64() / 5.0;
    println!(
        "one bag (4 prompts × 4 layers × m = 20): {:.0} ms; 168 bags ≈ {:.0} s",
        per_bag * 1e3,
        per_bag * 168.0
    );
    Ok(())
}

fn rule(steps: usize) -> anyhow::Result<()> {
    let kb = generate(&KbConfig::smoke(), 0)?;
    let device = Device::flex().autodiff();
    let model = ModelConfig::quick().init(&kb, &device, 0);
    let spec = TrainSpec {
        steps,
        batch: 32,
        warmup: steps / 10,
        ..TrainSpec::quick()
    };
    let run = train(model, &device, &kb, &spec, &Hooks::none())?;
    let (acc, _) = single_hop_accuracy(&run.model.valid(), &kb)?;
    println!("smoke KB, quick model, {steps} steps: single-hop accuracy {acc:.3}");
    let ig_model = run.model.no_grad();
    let base = KnConfig::ours();
    let candidates: Vec<(&str, KnConfig)> = vec![
        ("Dai: q 70 adaptive, floor 3", KnConfig::dai()),
        ("ours: q 70 adaptive, floor 2", base),
        (
            "q 70 fixed, floor 2",
            KnConfig {
                bag_step_pct: 0,
                ..base
            },
        ),
        (
            "q 50 fixed, floor 2",
            KnConfig {
                bag_pct: 50,
                bag_step_pct: 0,
                ..base
            },
        ),
        (
            "q 50 adaptive, floor 2",
            KnConfig {
                bag_pct: 50,
                ..base
            },
        ),
        ("EleutherAI", KnConfig::eleuther()),
    ];
    println!("| rule | relation | q used | iterations | facts | empty KN sets | mean #KN |");
    println!("|---|---|---|---|---|---|---|");
    for (r, rel) in kb.relations.iter().enumerate() {
        let scores = rel
            .facts
            .iter()
            .map(|f| {
                attribute_bag(&ig_model, &kb.bag(r, f.subject)?, &base.ig)
                    .map_err(anyhow::Error::from)
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        for (name, cfg) in &candidates {
            let coarse = coarse_sets(&scores, cfg, false)?;
            let sel = select_relation(&coarse, cfg)?;
            let total: usize = sel.per_fact.iter().map(Vec::len).sum();
            println!(
                "| {name} | {} | {} | {} | {} | {} | {:.2} |",
                rel.name,
                sel.bag_pct_used,
                sel.iterations,
                sel.per_fact.len(),
                sel.n_empty(),
                total as f64 / sel.per_fact.len() as f64
            );
        }
    }
    Ok(())
}

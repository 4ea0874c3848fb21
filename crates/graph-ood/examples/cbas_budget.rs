//! A diagnostic, not a claim: how much of the ERM accuracy on the regenerated GOOD-CBAS
//! depends on the training budget. ERM with a GCN at the quick budget (hidden 64, 300
//! full-batch steps) and at GOOD's (hidden 300, 2,000 steps = 200 epochs × 10 sampled
//! sub-graphs, lr 3e-3, 3 layers), on both shifts, over the same seeds; mean ± std of the
//! accuracies at the step the OOD validation selects.
//!
//! ```sh
//! cargo run -p repro-graph-ood --example cbas_budget -- [SEEDS]
//! ```

use burn::tensor::Device;
use rayon::prelude::*;
use repro_graph_ood::config::seed_r;
use repro_graph_ood::datasets::good_cbas;
use repro_graph_ood::model::{Backbone, GnnConfig};
use repro_graph_ood::splits::Shift;
use repro_graph_ood::train::{Method, RunRecord, Task, TrainCfg, train_select};

fn mean_std(v: &[f64]) -> (f64, f64) {
    let n = v.len() as f64;
    let m = v.iter().sum::<f64>() / n;
    let var = v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (n - 1.0).max(1.0);
    (m, var.sqrt())
}

fn main() -> anyhow::Result<()> {
    let seeds: usize = std::env::args()
        .nth(1)
        .map(|s| s.parse())
        .transpose()?
        .unwrap_or(10);
    println!("| shift | budget | train | ID test | OOD val | OOD test | best step |");
    println!("|---|---|---|---|---|---|---|");
    for shift in [Shift::Covariate, Shift::Concept] {
        let (graph, split) = good_cbas(shift, 0);
        let task = Task::new(graph, split, &Method::Erm, 3)?;
        for (name, hidden, steps, eval_every) in [
            ("quick: hidden 64, 300 steps", 64, 300, 1),
            ("GOOD: hidden 300, 2,000 steps", 300, 2000, 10),
        ] {
            let model = GnnConfig {
                in_dim: task.graph.num_features,
                hidden,
                layers: 3,
                classes: task.graph.num_classes,
                dropout: 0.5,
                backbone: Backbone::Gcn,
            };
            let train = TrainCfg {
                steps,
                lr: 3e-3,
                warmup_steps: 20,
                eval_every,
            };
            let runs: Vec<RunRecord> = (1..=seeds)
                .into_par_iter()
                .map(|r| {
                    train_select(
                        &task,
                        &model,
                        &Method::Erm,
                        &train,
                        seed_r(r),
                        &Device::flex(),
                        &|| {},
                    )
                    .map(|(rec, _)| rec)
                })
                .collect::<anyhow::Result<_>>()?;
            let col = |f: &dyn Fn(&RunRecord) -> f64| {
                let (m, s) = mean_std(&runs.iter().map(f).collect::<Vec<_>>());
                format!("{:.1} ± {:.1}", 100.0 * m, 100.0 * s)
            };
            let (step, _) = mean_std(&runs.iter().map(|r| r.best_step as f64).collect::<Vec<_>>());
            println!(
                "| {} | {name} | {} | {} | {} | {} | {step:.0} |",
                shift.as_str(),
                col(&|r| r.best.train),
                col(&|r| r.best.id_test),
                col(&|r| r.best.ood_val),
                col(&|r| r.best.ood_test),
            );
        }
    }
    Ok(())
}

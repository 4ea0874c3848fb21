//! The mirror-backed builders feed training end to end (skipped without the data mirror).

use burn::module::Module;
use repro_graph_ood::datasets::{CoraDomain, cora_good_style, good_webkb};
use repro_graph_ood::model::{Backbone, GnnConfig};
use repro_graph_ood::splits::Shift;
use repro_graph_ood::train::{LraLabels, Method, Task, TrainCfg, lra_premise, train_select};

#[test]
fn webkb_and_cora_train_and_measure_the_lra_premise() {
    let Some(roots) = repro_core::testing::mirror_roots() else {
        return;
    };
    let device = burn::tensor::Device::flex();
    let tcfg = TrainCfg {
        steps: 4,
        lr: 1e-3,
        warmup_steps: 1,
        eval_every: 2,
    };
    let (g, s) = good_webkb(&roots, Shift::Concept, 0).unwrap();
    let lra = Method::CiaLra {
        lambda: 0.05,
        hops: 2,
        labels: LraLabels::TrainOnly,
    };
    let task = Task::new(g, s, &lra, 3).unwrap();
    let m = GnnConfig {
        in_dim: task.graph.num_features,
        hidden: 16,
        layers: 3,
        classes: 5,
        dropout: 0.5,
        backbone: Backbone::Gat,
    };
    let (r, _) = train_select(&task, &m, &lra, &tcfg, 1, &device, &|| {}).unwrap();
    // An accuracy, from a model selected on validation after 4 steps.
    assert!(
        (0.0..=1.0).contains(&r.best.ood_test),
        "{}",
        r.best.ood_test
    );

    let (g, s) = cora_good_style(&roots, CoraDomain::Word, Shift::Covariate, 0).unwrap();
    let task = Task::new(g, s, &Method::Erm, 3).unwrap();
    let m = GnnConfig {
        in_dim: 1433,
        classes: 7,
        backbone: Backbone::Gcn,
        ..m
    };
    let (_, model) = train_select(&task, &m, &Method::Erm, &tcfg, 1, &device, &|| {}).unwrap();
    let rho = lra_premise(&model.valid(), &task, 3, 3, &device);
    assert_eq!(rho.len(), 7);
    // Every Cora class has training nodes with neighbours at 1..3 hops: each ρ is defined
    // and a correlation.
    assert!(
        rho.iter()
            .all(|r| r.is_some_and(|r| (-1.0..=1.0).contains(&r))),
        "{rho:?}"
    );
}

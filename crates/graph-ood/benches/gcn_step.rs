//! One full-batch training step (forward, cross-entropy on half the nodes, backward, Adam)
//! of the upstream-style GCN (3 × GCNConv 128, BatchNorm, ReLU, dropout 0.5, linear
//! classifier) on Cora-Planetoid (2,708 nodes, 1,433 features, 10,556 directed edges + self
//! loops), and one eval-mode forward. Twin: `gcn_step_torch.py` (plain torch, `index_add_`).

use burn::module::Module;
use burn::optim::GradientsParams;
use burn::tensor::Device;
use repro_core::bench;
use repro_core::data::DataRoots;
use repro_core::data::parsers::citation::load_cora;
use repro_core::rng::SplitMix64;
use repro_graph_ood::graph::{EdgeIndex, NodeGraph, int_tensor, symmetrise};
use repro_graph_ood::losses::node_ce;
use repro_graph_ood::model::{Backbone, GnnConfig};

fn main() -> anyhow::Result<()> {
    let cora = load_cora(&DataRoots::from_env())?;
    let n = cora.num_nodes();
    let f = cora.num_features();
    let mut x = vec![0.0f32; n * f];
    for i in 0..n {
        let (cols, vals) = cora.features.row(i);
        for (&c, &v) in cols.iter().zip(vals) {
            x[i * f + c as usize] = v;
        }
    }
    let edges = symmetrise(&cora.undirected_edges(true));
    let y: Vec<u32> = cora.labels.iter().map(|&l| u32::from(l)).collect();
    let g = NodeGraph::new(n, &edges, x, f, y.clone(), cora.num_classes())?;
    let device = Device::flex().autodiff();
    let e = EdgeIndex::new(&g, &device);
    let xt = g.x_tensor(&device);
    let train: Vec<u32> = (0..n as u32).step_by(2).collect();
    let y_train: Vec<u32> = train.iter().map(|&i| y[i as usize]).collect();
    let (train_t, y_t) = (int_tensor(&train, &device), int_tensor(&y_train, &device));
    let cfg = GnnConfig {
        in_dim: f,
        hidden: 128,
        layers: 3,
        classes: g.num_classes,
        dropout: 0.5,
        backbone: Backbone::Gcn,
    };
    let mut model = repro_core::device::init_params_now(cfg.init(&device, 0));
    let mut opt = repro_core::train::optim::adam(0.0).init();
    let mut rng = SplitMix64::new(1);
    let step = bench::run("gcn_cora_train_step", 5, 30, || {
        let (logits, _) = model.forward(xt.clone(), &e, Some(&mut rng));
        let loss = node_ce(logits.select(0, train_t.clone()), y_t.clone()).mean();
        let _ = loss.clone().into_scalar::<f32>();
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        model = opt.step(1e-3, model.clone(), grads);
    });
    let eval = model.valid();
    let plain = Device::flex();
    let (xe, ee) = (g.x_tensor(&plain), e.to_device(&plain));
    let fwd = bench::run("gcn_cora_eval_forward", 5, 30, || {
        let (logits, _) = eval.forward(xe.clone(), &ee, None);
        let _ = logits.sum().into_scalar::<f32>();
    });
    bench::emit(&[step, fwd]);
    Ok(())
}

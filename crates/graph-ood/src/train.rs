//! Full-batch training with model selection by OOD-validation accuracy.
//!
//! One optimiser step per "epoch" on the whole graph (GraphSAINT sampling dropped, a
//! declared deviation), all five node sets evaluated in eval mode every `eval_every`
//! steps, the step with the best OOD-validation accuracy kept (first best on ties).

use burn::module::Module;
use burn::optim::GradientsParams;
use burn::tensor::{Device, Int, Tensor};
use serde::{Deserialize, Serialize};

use crate::dg::{MatchDg, coral_penalty, group_dro_loss};
use crate::graph::{EdgeIndex, NodeGraph, int_tensor};
use crate::losses::{
    CiaGroups, EnvIndex, HeteSum, HopMode, LraCfg, LraPairs, PairWeights, irm_penalty, lra_pairs,
    node_ce, vrex_penalty,
};
use crate::model::{GnnConfig, NodeGnn};
use crate::splits::OodSplit;
use repro_core::rng::SplitMix64;

/// Which labels CIA-LRA reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum LraLabels {
    /// Training labels only; pairs among training nodes (our default, fixes P1).
    TrainOnly,
    /// Every node's label, pairs among all nodes (upstream behaviour, leaks OOD labels).
    AllNodesAsCoded,
}

/// A training objective.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub enum Method {
    /// Empirical risk minimisation.
    Erm,
    /// IRMv1 with penalty weight `lambda`.
    Irm {
        /// Penalty weight.
        lambda: f64,
    },
    /// V-REx with penalty weight `lambda`.
    Vrex {
        /// Penalty weight.
        lambda: f64,
    },
    /// Cross-environment intra-class alignment.
    Cia {
        /// Penalty weight.
        lambda: f64,
    },
    /// CIA with localized reweighting alignment (no environment labels).
    CiaLra {
        /// Penalty weight.
        lambda: f64,
        /// Hop cut-off `t`.
        hops: usize,
        /// Which labels it reads.
        labels: LraLabels,
    },
    /// GroupDRO with step size `eta` (weights `softmax(η·R_e)`).
    GroupDro {
        /// Temperature of the environment weights.
        eta: f64,
    },
    /// Deep CORAL with penalty weight `lambda`.
    Coral {
        /// Penalty weight.
        lambda: f64,
    },
    /// MatchDG's contrastive term (`CIA.py` mode 2) with weight `lambda`.
    MatchDg {
        /// Penalty weight.
        lambda: f64,
    },
}

impl Method {
    /// Short name for tables (`ERM`, `IRM`, `VREx`, `CIA`, `CIA-LRA`, `CIA-LRA (as coded)`,
    /// `GroupDRO`, `Coral`, `MatchDG`).
    pub fn name(&self) -> String {
        match self {
            Method::Erm => "ERM".into(),
            Method::Irm { .. } => "IRM".into(),
            Method::Vrex { .. } => "VREx".into(),
            Method::Cia { .. } => "CIA".into(),
            Method::CiaLra {
                labels: LraLabels::TrainOnly,
                ..
            } => "CIA-LRA".into(),
            Method::CiaLra { .. } => "CIA-LRA (as coded)".into(),
            Method::GroupDro { .. } => "GroupDRO".into(),
            Method::Coral { .. } => "Coral".into(),
            Method::MatchDg { .. } => "MatchDG".into(),
        }
    }

    /// The penalty weight (0 for ERM; GroupDRO's `eta`).
    pub fn lambda(&self) -> f64 {
        match *self {
            Method::Erm => 0.0,
            Method::Irm { lambda }
            | Method::Vrex { lambda }
            | Method::Cia { lambda }
            | Method::Coral { lambda }
            | Method::MatchDg { lambda }
            | Method::CiaLra { lambda, .. } => lambda,
            Method::GroupDro { eta } => eta,
        }
    }

    /// The same method with another penalty weight.
    pub fn with_lambda(self, l: f64) -> Self {
        match self {
            Method::Erm => Method::Erm,
            Method::Irm { .. } => Method::Irm { lambda: l },
            Method::Vrex { .. } => Method::Vrex { lambda: l },
            Method::Cia { .. } => Method::Cia { lambda: l },
            Method::GroupDro { .. } => Method::GroupDro { eta: l },
            Method::Coral { .. } => Method::Coral { lambda: l },
            Method::MatchDg { .. } => Method::MatchDg { lambda: l },
            Method::CiaLra { hops, labels, .. } => Method::CiaLra {
                lambda: l,
                hops,
                labels,
            },
        }
    }
}

/// Optimisation settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainCfg {
    /// Full-batch steps (= epochs).
    pub steps: usize,
    /// Adam learning rate (constant; betas 0.9/0.999, eps 1e-8, no weight decay).
    pub lr: f64,
    /// CIA / CIA-LRA penalties start after this many steps (GOOD: epochs 0–1 are ERM).
    pub warmup_steps: usize,
    /// Evaluate every this many steps (and at the last step).
    pub eval_every: usize,
}

/// Accuracies on the five node sets.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct Accs {
    /// Training nodes.
    pub train: f64,
    /// ID validation.
    pub id_val: f64,
    /// ID test.
    pub id_test: f64,
    /// OOD validation.
    pub ood_val: f64,
    /// OOD test.
    pub ood_test: f64,
}

/// The outcome of one training run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunRecord {
    /// Method name.
    pub method: String,
    /// Penalty weight.
    pub lambda: f64,
    /// Training seed.
    pub seed: u64,
    /// Step with the best OOD-validation accuracy.
    pub best_step: usize,
    /// Accuracies at that step.
    pub best: Accs,
    /// Accuracies at the last step.
    pub last: Accs,
    /// `(step, ood_val, ood_test)` at every evaluation.
    pub curve: Vec<(usize, f64, f64)>,
}

/// Host-side inputs of a training task, built once per (graph, split, method) and shared
/// by every seed (and thread).
#[derive(Debug, Clone)]
pub struct Task {
    /// The graph.
    pub graph: NodeGraph,
    /// The split.
    pub split: OodSplit,
    /// CIA-LRA pairs when the method needs them.
    pub lra: Option<LraPairs>,
}

impl Task {
    /// Validates the split and precomputes the CIA-LRA pairs (`layers` = propagation depth
    /// of the neighbour label distribution, the model's layer count upstream).
    ///
    /// # Errors
    /// Any [`crate::graph::GraphError`] from [`OodSplit::validate`].
    pub fn new(
        graph: NodeGraph,
        split: OodSplit,
        method: &Method,
        layers: usize,
    ) -> Result<Self, crate::graph::GraphError> {
        split.validate(graph.n, &graph.y, graph.num_classes)?;
        let lra = match method {
            Method::CiaLra { hops, labels, .. } => {
                let cfg = LraCfg {
                    hops: *hops,
                    layers,
                    hete: HeteSum::AllClasses,
                    hop_mode: HopMode::Bfs,
                    threshold: 0.1,
                };
                let (lab, nodes): (Vec<Option<u32>>, Vec<u32>) = match labels {
                    LraLabels::TrainOnly => {
                        let mut lab = vec![None; graph.n];
                        for &i in &split.train {
                            lab[i as usize] = Some(graph.y[i as usize]);
                        }
                        (lab, split.train.clone())
                    }
                    LraLabels::AllNodesAsCoded => (
                        graph.y.iter().map(|&c| Some(c)).collect(),
                        (0..graph.n as u32).collect(),
                    ),
                };
                Some(lra_pairs(&graph, &lab, &nodes, &cfg))
            }
            _ => None,
        };
        Ok(Self { graph, split, lra })
    }
}

/// Above this many training nodes, CIA and CIA-LRA use a subset (dense pair matrices are
/// `[m, m]`).
pub const ALIGN_MAX_NODES: usize = 4096;
/// Size of that subset.
pub const ALIGN_SUBSET: usize = 2048;

/// Tensors of a task on one device.
struct DeviceTask {
    x: Tensor<2>,
    edges: EdgeIndex,
    train: Tensor<1, Int>,
    y_train: Tensor<1, Int>,
    envs: EnvIndex,
    cia: Option<CiaGroups>,
    lra: Option<PairWeights>,
    matchdg: Option<MatchDg>,
}

impl DeviceTask {
    fn new(task: &Task, method: &Method, device: &Device, seed: u64) -> anyhow::Result<Self> {
        let s = &task.split;
        let g = &task.graph;
        let y_train: Vec<u32> = s.train.iter().map(|&i| g.y[i as usize]).collect();
        // Large graphs: the alignment terms use a fixed, seeded subset of training nodes
        // (declared; spec §9 draws one per step, we draw one per run to keep the dense
        // pair matrices precomputed).
        let subset: Option<Vec<bool>> = (s.train.len() > ALIGN_MAX_NODES).then(|| {
            let mut t = s.train.clone();
            SplitMix64::new(seed ^ 0x5EED).shuffle(&mut t);
            let mut keep = vec![false; g.n];
            for &i in &t[..ALIGN_SUBSET] {
                keep[i as usize] = true;
            }
            keep
        });
        let align_nodes: Vec<u32> = match &subset {
            Some(k) => s.train.iter().copied().filter(|&i| k[i as usize]).collect(),
            None => s.train.clone(),
        };
        let cia = matches!(method, Method::Cia { .. })
            .then(|| CiaGroups::new(&g.y, &s.env_id, &align_nodes, device));
        let matchdg = matches!(method, Method::MatchDg { .. })
            .then(|| MatchDg::new(&g.y, &s.env_id, &align_nodes));
        let lra = task.lra.as_ref().map(|p| match &subset {
            Some(k) => {
                let pairs: Vec<(u32, u32, f32)> = p
                    .pairs
                    .iter()
                    .copied()
                    .filter(|&(i, j, _)| k[i as usize] && k[j as usize])
                    .collect();
                LraPairs {
                    kept: pairs.len(),
                    pairs,
                    skipped_classes: p.skipped_classes.clone(),
                }
                .weights(device)
            }
            None => p.weights(device),
        });
        Ok(Self {
            x: g.x_tensor(device),
            edges: EdgeIndex::new(g, device),
            train: int_tensor(&s.train, device),
            y_train: int_tensor(&y_train, device),
            envs: EnvIndex::new(&s.train, &s.env_id, s.num_envs, device)?,
            cia,
            lra,
            matchdg,
        })
    }
}

/// Accuracies of `model` (in eval mode) on the five sets.
pub fn evaluate(model: &NodeGnn, x: Tensor<2>, e: &EdgeIndex, g: &NodeGraph, s: &OodSplit) -> Accs {
    let (logits, _) = model.forward(x, e, None);
    let pred = repro_core::metrics::argmax_rows(logits);
    let acc = |set: &[u32]| -> f64 {
        if set.is_empty() {
            return f64::NAN;
        }
        let hits = set
            .iter()
            .filter(|&&i| pred[i as usize] == g.y[i as usize] as usize)
            .count();
        hits as f64 / set.len() as f64
    };
    Accs {
        train: acc(&s.train),
        id_val: acc(&s.id_val),
        id_test: acc(&s.id_test),
        ood_val: acc(&s.ood_val),
        ood_test: acc(&s.ood_test),
    }
}

/// Trains `model_cfg` on `task` with `method` from `seed` (weights, dropout masks) on
/// `device` (plain; autodiff is added here) and selects the step by OOD-validation
/// accuracy. `on_step` is called after every optimiser step (progress). Returns the record
/// and the final model (on the autodiff device; use [`Module::valid`] to evaluate it).
///
/// # Errors
/// A non-finite loss, or an environment without training nodes.
pub fn train_select(
    task: &Task,
    model_cfg: &GnnConfig,
    method: &Method,
    cfg: &TrainCfg,
    seed: u64,
    device: &Device,
    on_step: &dyn Fn(),
) -> anyhow::Result<(RunRecord, NodeGnn)> {
    let eval_device = device.clone();
    let device = device.clone().autodiff();
    let dt = DeviceTask::new(task, method, &device, seed)?;
    let x_eval = task.graph.x_tensor(&eval_device);
    let e_eval = dt.edges.to_device(&eval_device);
    let mut model = repro_core::device::init_params_now(model_cfg.init(&device, seed));
    let mut opt = repro_core::train::optim::adam(0.0).init();
    let mut drop_rng = SplitMix64::new(seed.wrapping_mul(0x9E37_79B9).wrapping_add(17));
    // MatchDG's negatives: a stream of their own, so the dropout masks stay those of ERM.
    let mut negative_rng = SplitMix64::new(seed ^ 0x4D47_4447);
    let mut best: Option<(usize, Accs)> = None;
    let mut last = Accs::default();
    let mut curve = Vec::new();
    for step in 0..cfg.steps {
        let (logits, rep) = model.forward(dt.x.clone(), &dt.edges, Some(&mut drop_rng));
        let lt = logits.select(0, dt.train.clone()); // [n_train, C]
        let mut loss = node_ce(lt.clone(), dt.y_train.clone()).mean();
        let penalised = step >= cfg.warmup_steps;
        match *method {
            Method::Erm => {}
            Method::Irm { lambda } => {
                loss = loss + irm_penalty(lt, dt.y_train.clone(), &dt.envs).mul_scalar(lambda);
            }
            Method::Vrex { lambda } => {
                loss = loss + vrex_penalty(lt, dt.y_train.clone(), &dt.envs).mul_scalar(lambda);
            }
            Method::Cia { lambda } => {
                if penalised && let Some(c) = &dt.cia {
                    loss = loss + c.loss(rep).mul_scalar(lambda);
                }
            }
            Method::CiaLra { lambda, .. } => {
                if penalised && let Some(p) = &dt.lra {
                    loss = loss + p.loss(rep).mul_scalar(lambda);
                }
            }
            // GroupDRO replaces the mean; Coral and MatchDG have no warm-up upstream.
            Method::GroupDro { eta } => {
                loss = group_dro_loss(node_ce(lt, dt.y_train.clone()), &dt.envs, eta);
            }
            Method::Coral { lambda } => {
                let h = rep.select(0, dt.train.clone());
                loss = loss + coral_penalty(h, &dt.envs).mul_scalar(lambda);
            }
            Method::MatchDg { lambda } => {
                if let Some(m) = &dt.matchdg {
                    loss = loss + m.loss(rep, &mut negative_rng).mul_scalar(lambda);
                }
            }
        }
        let value = f64::from(loss.clone().into_scalar::<f32>());
        repro_core::train::ensure_finite("loss", step, value)?;
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        model = opt.step(cfg.lr, model, grads);
        on_step();
        if (step + 1) % cfg.eval_every.max(1) == 0 || step + 1 == cfg.steps {
            let accs = evaluate(
                &model.valid(),
                x_eval.clone(),
                &e_eval,
                &task.graph,
                &task.split,
            );
            curve.push((step, accs.ood_val, accs.ood_test));
            // Strict `>`: the first best step is kept on ties.
            if best.is_none_or(|(_, b)| accs.ood_val > b.ood_val) {
                best = Some((step, accs));
            }
            last = accs;
        }
    }
    let (best_step, best) = best.unwrap_or((0, last));
    Ok((
        RunRecord {
            method: method.name(),
            lambda: method.lambda(),
            seed,
            best_step,
            best,
            last,
            curve,
        },
        model,
    ))
}

/// `‖W₁[spu rows]‖_F / ‖W₁‖_F` for a first-layer weight `[in_dim, hidden]`.
pub fn spurious_norm_ratio(w1: Tensor<2>, spu_rows: std::ops::Range<usize>) -> f64 {
    let [rows, cols] = w1.dims();
    let v = repro_core::host::to_vec(w1);
    let total: f64 = v.iter().map(|&a| f64::from(a).powi(2)).sum();
    let spu: f64 = spu_rows
        .filter(|&r| r < rows)
        .flat_map(|r| v[r * cols..(r + 1) * cols].iter())
        .map(|&a| f64::from(a).powi(2))
        .sum();
    (spu / total).sqrt()
}

/// Invariant-feature variance: mean over hidden dims of the variance over `nodes` of
/// `Â · X_inv · W_inv` (first GCN layer applied to the invariant columns only, no bias).
///
/// # Panics
/// If the model is not a GCN.
pub fn invariant_variance(
    model: &NodeGnn,
    g: &NodeGraph,
    inv: std::ops::Range<usize>,
    nodes: &[u32],
    device: &Device,
) -> f64 {
    let f = g.num_features;
    let mut x = g.x.clone();
    for i in 0..g.n {
        for k in 0..f {
            if !inv.contains(&k) {
                x[i * f + k] = 0.0;
            }
        }
    }
    let gx = g.with_features(x, f);
    let e = EdgeIndex::new(g, device);
    let z = model.gcn[0].propagate(gx.x_tensor(device), &e); // [n, hidden]
    let z = z.select(0, int_tensor(nodes, device));
    let var = z.var_bias(0).mean(); // population variance per dim, then mean
    f64::from(var.into_scalar::<f32>())
}

/// The LRA premise (Fig. 12), our operationalisation: for each class, over ordered pairs
/// of same-class training nodes within `hops` hops (the CIA-LRA candidates), the Spearman
/// correlation between the heterophilous neighbour-label distance
/// `Σ_{c'≠c} |R_i[c'] − R_j[c']|` (R from training labels, depth `layers`) and the distance
/// of `Â^L`-aggregated representations `||(Â^L H)_i − (Â^L H)_j||`, `Â = D⁻¹(A + I)`.
/// `None` for a class with fewer than 3 pairs. `model` must be in eval mode on `device`
/// (plain).
pub fn lra_premise(
    model: &NodeGnn,
    task: &Task,
    layers: usize,
    hops: usize,
    device: &Device,
) -> Vec<Option<f64>> {
    let g = &task.graph;
    let e = EdgeIndex::new(g, device);
    let (_, h) = model.forward(g.x_tensor(device), &e, None);
    let [n, d] = h.dims();
    let h = repro_core::host::to_vec(h);
    let mut agg: Vec<f64> = h.iter().map(|&v| f64::from(v)).collect();
    let adj = g.out_neighbours();
    for _ in 0..layers {
        let mut next = vec![0.0; n * d];
        for i in 0..n {
            let deg = (adj[i].len() + 1) as f64;
            for j in std::iter::once(i).chain(adj[i].iter().map(|&j| j as usize)) {
                for k in 0..d {
                    next[i * d + k] += agg[j * d + k] / deg;
                }
            }
        }
        agg = next;
    }
    let mut labels = vec![None; n];
    for &i in &task.split.train {
        labels[i as usize] = Some(g.y[i as usize]);
    }
    let r = crate::losses::neighbour_label_distribution(g, &labels, layers);
    let hop = crate::graph::bfs_hops(&adj, &task.split.train, hops);
    let mut per_class: Vec<(Vec<f64>, Vec<f64>)> = vec![(Vec::new(), Vec::new()); g.num_classes];
    for (k, &i) in task.split.train.iter().enumerate() {
        let c = g.y[i as usize] as usize;
        for &(j, _) in &hop[k] {
            if labels[j as usize] != Some(c as u32) || per_class[c].0.len() >= 20_000 {
                continue;
            }
            let (ri, rj) = (&r[i as usize], &r[j as usize]);
            let hete: f64 = (0..g.num_classes)
                .filter(|&cc| cc != c)
                .map(|cc| (ri[cc] - rj[cc]).abs())
                .sum();
            let (a, b) = (i as usize * d, j as usize * d);
            let dist = (0..d)
                .map(|k| (agg[a + k] - agg[b + k]).powi(2))
                .sum::<f64>()
                .sqrt();
            per_class[c].0.push(hete);
            per_class[c].1.push(dist);
        }
    }
    per_class
        .iter()
        .map(|(x, y)| (x.len() >= 3).then(|| repro_core::metrics::spearman(x, y)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Backbone, GnnConfig};
    use burn::module::Param;
    use burn::tensor::TensorData;

    #[test]
    fn spurious_ratio_hand_value() {
        // W₁ = [[3, 0], [0, 4]]: spurious row 1 has norm 4, total 5 -> 0.8.
        let w = Tensor::<2>::from_data(
            TensorData::new(vec![3.0f32, 0.0, 0.0, 4.0], [2, 2]),
            &Device::flex(),
        );
        assert!((spurious_norm_ratio(w, 1..2) - 0.8).abs() < 1e-6);
    }

    #[test]
    fn invariant_variance_hand_value() {
        // Two isolated nodes: Â = I (self loops only, degree 1). x = [[1, 9], [3, -9]] with
        // column 0 invariant, column 1 spurious (zeroed). W₁ rows: inv (1, 2), spu (5, 5).
        // Â·X_inv·W_inv = [[1, 2], [3, 6]]; population variances per dim: 1 and 4 -> 2.5.
        let device = Device::flex();
        let g = NodeGraph::new(2, &[], vec![1.0, 9.0, 3.0, -9.0], 2, vec![0, 1], 2).unwrap();
        let cfg = GnnConfig {
            in_dim: 2,
            hidden: 2,
            layers: 1,
            classes: 2,
            dropout: 0.0,
            backbone: Backbone::Gcn,
        };
        let mut m = cfg.init(&device, 0);
        m.gcn[0].weight = Param::from_tensor(Tensor::from_data(
            TensorData::new(vec![1.0f32, 2.0, 5.0, 5.0], [2, 2]),
            &device,
        ));
        let v = invariant_variance(&m, &g, 0..1, &[0, 1], &device);
        assert!((v - 2.5).abs() < 1e-6, "{v}");
    }
}

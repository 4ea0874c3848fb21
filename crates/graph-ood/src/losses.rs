//! Objectives: per-node cross-entropy, IRMv1, VREx, CIA and CIA-LRA, as the official
//! `CIA.py` computes them (penalty definitions) on full-batch graphs.
//!
//! CIA and CIA-LRA are both a weighted sum of Euclidean distances between representations
//! of node pairs, so both are a [`PairWeights`]: a set of nodes `m`, a dense `[m, m]` weight
//! matrix and a normaliser. The loss computes all `m × m` distances with one matmul
//! (`sqrt(clamp(|a|² + |b|² − 2abᵀ, 1e-12))`), multiplies by the weights and sums; no
//! per-pair feature rows are materialised. `m` is the number of training nodes (hundreds to
//! a few thousand in every graph the reproduction runs).

use std::collections::{BTreeMap, HashMap};

use burn::tensor::activation::{log_softmax, softmax};
use burn::tensor::{Device, Int, Tensor, TensorData};
use serde::{Deserialize, Serialize};

use crate::graph::{GraphError, NodeGraph, bfs_hops, hops_as_coded, int_tensor};

/// Per-node cross-entropy `−log softmax(z_i)[y_i]`.
///
/// # Shapes
/// - logits: `[n, c]`, y: `[n]` -> `[n]`
pub fn node_ce(logits: Tensor<2>, y: Tensor<1, Int>) -> Tensor<1> {
    let [n, _] = logits.dims();
    let logp = log_softmax(logits, 1);
    logp.gather(1, y.reshape([n, 1])).reshape([n]).neg()
}

/// Positions (within the training-node list) of the training nodes of each environment.
#[derive(Debug, Clone)]
pub struct EnvIndex {
    /// One index tensor per environment.
    pub positions: Vec<Tensor<1, Int>>,
    /// Number of training nodes per environment.
    pub sizes: Vec<usize>,
}

impl EnvIndex {
    /// Groups the training nodes `train` by `env_id` (values `0..num_envs`).
    ///
    /// # Errors
    /// [`GraphError::EmptyEnvironment`] when an environment has no training node, and
    /// [`GraphError::Split`] when a training node has no environment (`env_id < 0`).
    pub fn new(
        train: &[u32],
        env_id: &[i32],
        num_envs: usize,
        device: &Device,
    ) -> Result<Self, GraphError> {
        let mut pos = vec![Vec::new(); num_envs];
        for (k, &i) in train.iter().enumerate() {
            let e = env_id[i as usize];
            if e < 0 || e as usize >= num_envs {
                return Err(GraphError::Split(format!(
                    "training node {i} has environment {e}, outside 0..{num_envs}"
                )));
            }
            pos[e as usize].push(k as u32);
        }
        if let Some(env) = pos.iter().position(Vec::is_empty) {
            return Err(GraphError::EmptyEnvironment { env, num_envs });
        }
        Ok(Self {
            sizes: pos.iter().map(Vec::len).collect(),
            positions: pos.iter().map(|p| int_tensor(p, device)).collect(),
        })
    }
}

/// Mean of `per_node` over each environment.
///
/// # Shapes
/// - per_node: `[n]` -> `[num_envs]`
pub fn env_means(per_node: Tensor<1>, envs: &EnvIndex) -> Tensor<1> {
    let parts: Vec<Tensor<1>> = envs
        .positions
        .iter()
        .map(|p| per_node.clone().select(0, p.clone()).mean())
        .collect();
    Tensor::cat(parts, 0)
}

/// IRMv1 penalty `mean_e g_e²`, `g_e = ∂R_e(w·z)/∂w at w = 1`, in closed form:
/// `g_e = mean_{i∈e} (Σ_c softmax(z_i)_c z_ic − z_{i,y_i})` (differentiable in z; no
/// second-order autodiff needed).
///
/// # Shapes
/// - logits: `[n, c]` (training nodes), y: `[n]` -> `[1]`
pub fn irm_penalty(logits: Tensor<2>, y: Tensor<1, Int>, envs: &EnvIndex) -> Tensor<1> {
    let [n, _] = logits.dims();
    let p = softmax(logits.clone(), 1);
    let expected = (p * logits.clone()).sum_dim(1).reshape([n]); // [n]
    let picked = logits.gather(1, y.reshape([n, 1])).reshape([n]); // [n]
    let g = env_means(expected - picked, envs); // [E]
    g.square().mean()
}

/// VREx penalty: unbiased variance of the environment risks; 0 with fewer than two
/// environments (upstream gets NaN and resets it to 0).
///
/// # Shapes
/// - logits: `[n, c]` (training nodes), y: `[n]` -> `[1]`
pub fn vrex_penalty(logits: Tensor<2>, y: Tensor<1, Int>, envs: &EnvIndex) -> Tensor<1> {
    let k = envs.sizes.len();
    if k < 2 {
        return Tensor::zeros([1], &logits.device());
    }
    let risks = env_means(node_ce(logits, y), envs); // [E]
    variance_unbiased(risks)
}

/// Unbiased variance of a vector.
///
/// # Shapes
/// - v: `[k]`, k ≥ 2 -> `[1]`
pub fn variance_unbiased(v: Tensor<1>) -> Tensor<1> {
    let [k] = v.dims();
    let m = v.clone().mean();
    (v - m).square().sum().div_scalar((k - 1) as f64)
}

/// A weighted sum of pairwise representation distances over a node set:
/// `Σ_{a,b} W_ab ||h_{m_a} − h_{m_b}||₂ / denom` (0 when `denom` is 0).
#[derive(Debug, Clone)]
pub struct PairWeights {
    /// The nodes involved, `[m]`.
    pub nodes: Tensor<1, Int>,
    /// Dense weights `[m, m]`.
    pub w: Tensor<2>,
    /// Normaliser (number of pairs).
    pub denom: f64,
    /// Number of non-zero weights.
    pub nnz: usize,
}

impl PairWeights {
    /// Builds the dense weight matrix from `(position a, position b, weight)` triples over
    /// `nodes`.
    pub fn new(
        nodes: &[u32],
        triples: &[(usize, usize, f32)],
        denom: f64,
        device: &Device,
    ) -> Self {
        let m = nodes.len();
        let mut w = vec![0.0f32; m * m];
        for &(a, b, v) in triples {
            w[a * m + b] += v;
        }
        Self {
            nodes: int_tensor(nodes, device),
            w: Tensor::from_data(TensorData::new(w, [m, m]), device),
            denom,
            nnz: triples.len(),
        }
    }

    /// The loss on representations `h`.
    ///
    /// # Shapes
    /// - h: `[N, d]` (all nodes) -> `[1]`
    pub fn loss(&self, h: Tensor<2>) -> Tensor<1> {
        if self.denom == 0.0 || self.nnz == 0 {
            return Tensor::zeros([1], &h.device());
        }
        let a = h.select(0, self.nodes.clone()); // [m, d]
        let sq = a.clone().square().sum_dim(1); // [m, 1]
        let gram = a.clone().matmul(a.transpose()); // [m, m]
        let d2 = sq.clone() + sq.transpose() - gram.mul_scalar(2.0); // [m, m]
        // Clamp as upstream's cdist-based code never divides by a zero distance.
        let dist = d2.clamp_min(1e-12).sqrt();
        (dist * self.w.clone()).sum().div_scalar(self.denom)
    }
}

/// The CIA pair set: same class, different environments (`e1 < e2`), training nodes only.
#[derive(Debug, Clone)]
pub struct CiaGroups {
    /// Nodes and weights (1 per cross-environment same-class pair).
    pub pairs: PairWeights,
    /// `Σ_c Σ_{e1<e2} |V_{c,e1}|·|V_{c,e2}|`.
    pub count: usize,
}

impl CiaGroups {
    /// `L_CIA = Σ_c Σ_{e1<e2} Σ_{i∈V_{c,e1}} Σ_{j∈V_{c,e2}} ||h_i − h_j|| / Σ_c Σ_{e1<e2} |V_{c,e1}||V_{c,e2}|`
    /// over `nodes` (nodes with `env_id < 0` never enter). When no same-class pair spans two
    /// environments the loss is 0 (upstream raises `ZeroDivisionError`).
    pub fn new(y: &[u32], env_id: &[i32], nodes: &[u32], device: &Device) -> Self {
        let kept: Vec<u32> = nodes
            .iter()
            .copied()
            .filter(|&i| env_id[i as usize] >= 0)
            .collect();
        let mut triples = Vec::new();
        for (a, &i) in kept.iter().enumerate() {
            for (b, &j) in kept.iter().enumerate() {
                let (ei, ej) = (env_id[i as usize], env_id[j as usize]);
                if y[i as usize] == y[j as usize] && ei < ej {
                    triples.push((a, b, 1.0f32));
                }
            }
        }
        let count = triples.len();
        Self {
            pairs: PairWeights::new(&kept, &triples, count as f64, device),
            count,
        }
    }

    /// # Shapes
    /// - h: `[N, d]` -> `[1]`
    pub fn loss(&self, h: Tensor<2>) -> Tensor<1> {
        self.pairs.loss(h)
    }
}

/// Which classes `hete_ij` sums over.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum HeteSum {
    /// All classes, own class included (as coded).
    AllClasses,
    /// Only the other classes (as the paper's text reads).
    OtherClasses,
}

/// How hop distances are computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum HopMode {
    /// Breadth-first search (true shortest paths; the default).
    Bfs,
    /// The upstream `cal_Ak` (quirk P3); dense, small graphs only.
    AsCoded,
}

/// Settings of the CIA-LRA pair construction.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct LraCfg {
    /// Hop cut-off `t` (`extra_param[2]`).
    pub hops: usize,
    /// Propagation depth `L` of the neighbour label distribution (`model_layer`).
    pub layers: usize,
    /// Classes in `hete_ij`.
    pub hete: HeteSum,
    /// Hop computation.
    pub hop_mode: HopMode,
    /// Pairs are kept iff the min–max normalised weight exceeds this (0.1 upstream).
    pub threshold: f64,
}

impl LraCfg {
    /// The upstream settings with cut-off `hops` and depth `layers`.
    pub fn new(hops: usize, layers: usize) -> Self {
        Self {
            hops,
            layers,
            hete: HeteSum::AllClasses,
            hop_mode: HopMode::Bfs,
            threshold: 0.1,
        }
    }
}

/// CIA-LRA pairs with their normalised weights.
#[derive(Debug, Clone, PartialEq)]
pub struct LraPairs {
    /// Ordered pairs `(i, j, w̃_ij)` that passed the filter (node ids).
    pub pairs: Vec<(u32, u32, f32)>,
    /// Number of kept pairs (the loss normaliser).
    pub kept: usize,
    /// Classes skipped because all their weights were equal (min–max gives NaN upstream).
    pub skipped_classes: Vec<u32>,
}

/// Neighbour label distributions `R = Â^L · onehot(labels)`, `Â = D⁻¹(A + I)` (diagonal set
/// to 1, rows normalised); unlabelled nodes have zero one-hot rows. `[n][c]`.
pub fn neighbour_label_distribution(
    g: &NodeGraph,
    labels: &[Option<u32>],
    layers: usize,
) -> Vec<Vec<f64>> {
    let c = g.num_classes;
    let adj = g.out_neighbours();
    let mut r: Vec<Vec<f64>> = labels
        .iter()
        .map(|l| {
            let mut row = vec![0.0; c];
            if let Some(k) = l {
                row[*k as usize] = 1.0;
            }
            row
        })
        .collect();
    for _ in 0..layers {
        r = (0..g.n)
            .map(|i| {
                let deg = (adj[i].len() + 1) as f64;
                let mut row = r[i].clone();
                for &j in &adj[i] {
                    for (acc, v) in row.iter_mut().zip(&r[j as usize]) {
                        *acc += v;
                    }
                }
                row.iter().map(|v| v / deg).collect()
            })
            .collect();
    }
    r
}

/// Builds the CIA-LRA pairs among `nodes` (only nodes with a label take part):
/// candidates are ordered pairs `(i, j)`, `i ≠ j`, same label, `0 < D_t(i, j) ≤ t`;
/// `w_ij = hete_ij / (D_t(i,j) · homo_ij)` with `homo_ij = |R_i[c] − R_j[c]|` (1 if 0);
/// min–max within each class; kept iff `w̃ > threshold`; a class whose weights are all
/// equal is skipped (upstream: NaN > 0.1 is false).
pub fn lra_pairs(g: &NodeGraph, labels: &[Option<u32>], nodes: &[u32], cfg: &LraCfg) -> LraPairs {
    let r = neighbour_label_distribution(g, labels, cfg.layers);
    let labelled: Vec<u32> = nodes
        .iter()
        .copied()
        .filter(|&i| labels[i as usize].is_some())
        .collect();
    let mut in_set = vec![false; g.n];
    for &i in &labelled {
        in_set[i as usize] = true;
    }
    let adj = g.out_neighbours();
    let hops: Vec<Vec<(u32, u8)>> = match cfg.hop_mode {
        HopMode::Bfs => bfs_hops(&adj, &labelled, cfg.hops),
        HopMode::AsCoded => {
            let dense = hops_as_coded(&adj, cfg.hops);
            labelled
                .iter()
                .map(|&i| {
                    dense[i as usize]
                        .iter()
                        .enumerate()
                        .filter(|&(j, &d)| j != i as usize && d != u8::MAX)
                        .map(|(j, &d)| (j as u32, d))
                        .collect()
                })
                .collect()
        }
    };
    let mut by_class: BTreeMap<u32, Vec<(u32, u32, f64)>> = BTreeMap::new();
    for (k, &i) in labelled.iter().enumerate() {
        let c = labels[i as usize].unwrap_or(0);
        for &(j, d) in &hops[k] {
            if !in_set[j as usize] || labels[j as usize] != Some(c) || j == i {
                continue;
            }
            let (ri, rj) = (&r[i as usize], &r[j as usize]);
            let hete: f64 = ri
                .iter()
                .zip(rj)
                .enumerate()
                .filter(|&(cc, _)| cfg.hete == HeteSum::AllClasses || cc != c as usize)
                .map(|(_, (a, b))| (a - b).abs())
                .sum();
            let mut homo = (ri[c as usize] - rj[c as usize]).abs();
            if homo == 0.0 {
                homo = 1.0;
            }
            by_class
                .entry(c)
                .or_default()
                .push((i, j, hete / (f64::from(d) * homo)));
        }
    }
    let mut pairs = Vec::new();
    let mut skipped = Vec::new();
    for (c, list) in by_class {
        let lo = list.iter().map(|p| p.2).fold(f64::INFINITY, f64::min);
        let hi = list.iter().map(|p| p.2).fold(f64::NEG_INFINITY, f64::max);
        if hi - lo <= 0.0 {
            skipped.push(c);
            continue;
        }
        for (i, j, w) in list {
            let wn = (w - lo) / (hi - lo);
            if wn > cfg.threshold {
                pairs.push((i, j, wn as f32));
            }
        }
    }
    LraPairs {
        kept: pairs.len(),
        pairs,
        skipped_classes: skipped,
    }
}

impl LraPairs {
    /// The dense form for [`PairWeights::loss`]: `L_LRA = Σ_kept w̃_ij ||h_i − h_j|| / kept`.
    pub fn weights(&self, device: &Device) -> PairWeights {
        let mut nodes: Vec<u32> = self.pairs.iter().flat_map(|p| [p.0, p.1]).collect();
        nodes.sort_unstable();
        nodes.dedup();
        let pos: HashMap<u32, usize> = nodes.iter().enumerate().map(|(k, &i)| (i, k)).collect();
        let triples: Vec<(usize, usize, f32)> = self
            .pairs
            .iter()
            .map(|&(i, j, w)| (pos[&i], pos[&j], w))
            .collect();
        PairWeights::new(&nodes, &triples, self.kept as f64, device)
    }
}

/// `L_LRA` on representations `h`.
///
/// # Shapes
/// - h: `[N, d]` -> `[1]`
pub fn lra_loss(h: Tensor<2>, p: &PairWeights) -> Tensor<1> {
    p.loss(h)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::symmetrise;

    fn t2(v: &[[f32; 2]], device: &Device) -> Tensor<2> {
        let flat: Vec<f32> = v.iter().flatten().copied().collect();
        Tensor::from_data(TensorData::new(flat, [v.len(), 2]), device)
    }

    fn scalar(t: Tensor<1>) -> f64 {
        f64::from(t.into_scalar::<f32>())
    }

    #[test]
    fn cia_hand_value() {
        // h = [(0,0), (3,4), (1,0), (1,2), (100,100)], y = [0,0,1,1,0], env = [0,1,0,1,-1].
        // Class 0: env0 {0} × env1 {1}: ||(3,4)|| = 5. Class 1: env0 {2} × env1 {3}:
        // ||(0,2)|| = 2. Node 4 has env −1 and never enters. (5 + 2) / 2 = 3.5.
        let device = Device::flex();
        let h = t2(
            &[[0., 0.], [3., 4.], [1., 0.], [1., 2.], [100., 100.]],
            &device,
        );
        let y = [0, 0, 1, 1, 0];
        let nodes = [0, 1, 2, 3, 4];
        let g = CiaGroups::new(&y, &[0, 1, 0, 1, -1], &nodes, &device);
        assert_eq!(g.count, 2);
        // f32 distances of exact integers: 1e-5.
        assert!((scalar(g.loss(h.clone())) - 3.5).abs() < 1e-5);
        // env[3] = 0: class 1 has no cross-env pair; only (0, 1): 5 / 1 = 5.
        let g = CiaGroups::new(&y, &[0, 1, 0, 0, -1], &nodes, &device);
        assert!((scalar(g.loss(h)) - 5.0).abs() < 1e-5);
        // No cross-environment pair at all: 0, not a division by zero.
        let g = CiaGroups::new(&y, &[0, 0, 0, 0, -1], &nodes, &device);
        assert_eq!(scalar(g.loss(t2(&[[1., 1.]; 5], &device))), 0.0);
    }

    #[test]
    fn cia_gradient_finite_when_points_coincide_and_matches_fd() {
        let device = Device::flex().autodiff();
        let y = [0, 0, 0, 1, 1];
        let env = [0, 1, 1, 0, 1];
        let nodes = [0, 1, 2, 3, 4];
        // Nodes 0 and 1 coincide: the clamp keeps the gradient finite.
        let pts = [[1., 2.], [1., 2.], [0., -1.], [2., 2.], [-1., 0.5]];
        let h = t2(&pts, &device).require_grad();
        let g = CiaGroups::new(&y, &env, &nodes, &device);
        let loss = g.loss(h.clone());
        let grad = h.grad(&loss.backward()).unwrap();
        let grad: Vec<f32> = grad.into_data().try_to_vec().unwrap();
        assert!(grad.iter().all(|v| v.is_finite()));
        // Central differences on node 2 (away from the coincident pair); step 1e-2, f32.
        let plain = Device::flex();
        let g0 = CiaGroups::new(&y, &env, &nodes, &plain);
        for k in 0..2 {
            let (mut p, mut m) = (pts, pts);
            p[2][k] += 1e-2;
            m[2][k] -= 1e-2;
            let fd = (scalar(g0.loss(t2(&p, &plain))) - scalar(g0.loss(t2(&m, &plain)))) / 2e-2;
            assert!(
                (fd - f64::from(grad[4 + k])).abs() < 1e-3,
                "{fd} vs {}",
                grad[4 + k]
            );
        }
    }

    fn lra_toy() -> NodeGraph {
        let e = symmetrise(&[(0, 1), (1, 2), (2, 3), (3, 4), (4, 5), (1, 4)]);
        NodeGraph::new(6, &e, vec![0.0; 6], 1, vec![0, 1, 0, 2, 0, 1], 3).unwrap()
    }

    const LRA_H: [[f32; 2]; 6] = [[0., 0.], [9., 9.], [3., 4.], [7., 7.], [3., 0.], [1., 1.]];

    #[test]
    fn lra_hand_value() {
        // L = 1: R_0 = (1/2, 1/2, 0) (nodes 0, 1), R_2 = (1/3, 1/3, 1/3) (nodes 1, 2, 3),
        // R_4 = (1/4, 1/2, 1/4) (nodes 1, 3, 4, 5). All class-0 pairs are 2 hops apart.
        // (0,2): hete = 1/6 + 1/6 + 1/3 = 2/3, homo = 1/6 -> w = (2/3)/(2/6) = 2.
        // (0,4): hete = 1/4 + 0 + 1/4 = 1/2, homo = 1/4 -> w = 1.
        // (2,4): hete = 1/12 + 1/6 + 1/12 = 1/3, homo = 1/12 -> w = 2.
        // Min–max: (0,2) and (2,4) -> 1 (kept, both orders), (0,4) -> 0 (dropped).
        // Class 1: one pair (1,5) at 2 hops, both orders equal -> skipped. Class 2: no pair.
        // Loss = (2·||h0−h2|| + 2·||h2−h4||)/4 = (2·5 + 2·4)/4 = 4.5.
        let device = Device::flex();
        let g = lra_toy();
        let labels: Vec<Option<u32>> = g.y.iter().map(|&c| Some(c)).collect();
        let nodes: Vec<u32> = (0..6).collect();
        let p = lra_pairs(&g, &labels, &nodes, &LraCfg::new(2, 1));
        let mut got: Vec<(u32, u32)> = p.pairs.iter().map(|q| (q.0, q.1)).collect();
        got.sort_unstable();
        assert_eq!(got, vec![(0, 2), (2, 0), (2, 4), (4, 2)]);
        assert!(p.pairs.iter().all(|q| (q.2 - 1.0).abs() < 1e-6));
        assert_eq!(p.skipped_classes, vec![1]);
        let loss = scalar(lra_loss(t2(&LRA_H, &device), &p.weights(&device)));
        assert!((loss - 4.5).abs() < 1e-5, "{loss}");
        // L = 3: the spec's worked value 3.76927 (± 1e-4); after three propagation steps R
        // has no short closed form, so the derivation is the spec's, not repeated here.
        let p3 = lra_pairs(&g, &labels, &nodes, &LraCfg::new(2, 3));
        let loss3 = scalar(lra_loss(t2(&LRA_H, &device), &p3.weights(&device)));
        assert!((loss3 - 3.76927).abs() < 1e-4, "{loss3}");
    }

    #[test]
    fn lra_variants_and_edge_cases() {
        let device = Device::flex();
        let g = lra_toy();
        let all: Vec<u32> = (0..6).collect();
        // Unlabelled nodes (here 2 and 4) never appear in pairs.
        let labels: Vec<Option<u32>> =
            g.y.iter()
                .enumerate()
                .map(|(i, &c)| if i == 2 || i == 4 { None } else { Some(c) })
                .collect();
        let p = lra_pairs(&g, &labels, &all, &LraCfg::new(2, 1));
        assert!(
            p.pairs
                .iter()
                .all(|q| ![2, 4].contains(&q.0) && ![2, 4].contains(&q.1))
        );
        // Nothing kept: the loss is exactly 0.
        assert_eq!(p.kept, 0);
        assert_eq!(
            scalar(lra_loss(t2(&LRA_H, &device), &p.weights(&device))),
            0.0
        );
        // OtherClasses: (0,2): 1/6 + 1/3 = 1/2 -> w = 1.5; (0,4): 1/4 -> 0.5; (2,4): 1/4 -> 1.5.
        // Same min–max pattern, so the same pairs are kept.
        let labels: Vec<Option<u32>> = g.y.iter().map(|&c| Some(c)).collect();
        let cfg = LraCfg {
            hete: HeteSum::OtherClasses,
            ..LraCfg::new(2, 1)
        };
        let p = lra_pairs(&g, &labels, &all, &cfg);
        assert_eq!(p.kept, 4);
        // Restricting `nodes` restricts pairs: without node 4, class 0 has one pair left.
        let p = lra_pairs(&g, &labels, &[0, 1, 2, 3, 5], &LraCfg::new(2, 1));
        assert!(p.pairs.iter().all(|q| q.0 != 4 && q.1 != 4));
    }

    #[test]
    fn irm_hand_value_and_finite_difference() {
        // logits [[2,0],[0,1]], y = [0,0], one environment.
        // Node 0: softmax = (0.880797, 0.119203); Σ p z = 1.761594; minus z_y = 2 -> -0.238406.
        // Node 1: softmax = (0.268941, 0.731059); Σ p z = 0.731059; minus 0 -> 0.731059.
        // g = mean = 0.246326; penalty = g² = 0.060677.
        let device = Device::flex();
        let z = t2(&[[2., 0.], [0., 1.]], &device);
        let y = int_tensor(&[0, 0], &device);
        let envs = EnvIndex::new(&[0, 1], &[0, 0], 1, &device).unwrap();
        let pen = scalar(irm_penalty(z.clone(), y.clone(), &envs));
        assert!((pen - 0.060677).abs() < 1e-6, "{pen}");
        // g = dR(w)/dw at w = 1, R(w) = mean CE(w z): central difference in f64.
        let risk = |w: f64| -> f64 {
            let zs = [[2.0 * w, 0.0], [0.0, w]];
            zs.iter()
                .map(|r| {
                    let lse = (r[0].exp() + r[1].exp()).ln();
                    lse - r[0]
                })
                .sum::<f64>()
                / 2.0
        };
        let g = (risk(1.0 + 1e-5) - risk(1.0 - 1e-5)) / 2e-5;
        assert!((g * g - pen).abs() < 1e-6, "{g}");
    }

    #[test]
    fn vrex_values_and_empty_environment_error() {
        let device = Device::flex();
        let v = Tensor::<1>::from_data(TensorData::new(vec![1.0f32, 2.0, 3.0], [3]), &device);
        assert!((scalar(variance_unbiased(v)) - 1.0).abs() < 1e-6);
        let z = t2(&[[2., 0.], [0., 1.]], &device);
        let y = int_tensor(&[0, 0], &device);
        let one = EnvIndex::new(&[0, 1], &[0, 0], 1, &device).unwrap();
        assert_eq!(scalar(vrex_penalty(z, y, &one)), 0.0);
        let err = EnvIndex::new(&[0, 1], &[0, 0], 2, &device).unwrap_err();
        assert_eq!(
            err,
            GraphError::EmptyEnvironment {
                env: 1,
                num_envs: 2
            }
        );
        assert!(
            err.to_string()
                .contains("environment 1 of 2 has no training node")
        );
    }

    #[test]
    fn node_ce_matches_hand_value() {
        // CE of logits (2, 0) at class 0: ln(1 + e^-2) = 0.126928.
        let device = Device::flex();
        let ce = node_ce(t2(&[[2., 0.]], &device), int_tensor(&[0], &device));
        assert!((scalar(ce) - 0.126_928).abs() < 1e-5);
    }
}

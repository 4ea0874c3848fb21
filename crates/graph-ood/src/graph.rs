//! Node-classification graphs, their validation, the edge tensors message passing reads,
//! and hop distances (breadth-first search, and the upstream `cal_Ak` for comparison).
//!
//! Edges are directed `src → dst` (messages flow from source to target, as in PyG);
//! undirected graphs list both orientations. Candidate for `repro_core::graph` (see the
//! crate docs).

use std::collections::VecDeque;

use burn::tensor::{Device, Int, Tensor, TensorData};

/// A problem with a graph or a split, each naming what is wrong.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum GraphError {
    /// An edge endpoint is not a node.
    #[error("edge {edge}: endpoint {node} is out of range for a graph of {n} nodes")]
    EdgeOutOfRange {
        /// Position of the edge in the list.
        edge: usize,
        /// The offending endpoint.
        node: u64,
        /// Number of nodes.
        n: usize,
    },
    /// Feature buffer of the wrong length.
    #[error("features: expected {n} × {f} = {} values, got {got}", n * f)]
    FeatureShape {
        /// Nodes.
        n: usize,
        /// Features per node.
        f: usize,
        /// Values given.
        got: usize,
    },
    /// A label is not below the number of classes, or the label vector has the wrong length.
    #[error("labels: {0}")]
    Labels(String),
    /// A training environment holds no training node.
    #[error(
        "split: environment {env} of {num_envs} has no training node (env-based penalties would divide by zero)"
    )]
    EmptyEnvironment {
        /// The empty environment.
        env: usize,
        /// Number of environments.
        num_envs: usize,
    },
    /// A class has no training node.
    #[error(
        "split: class {class} of {num_classes} has no training node; the classifier cannot learn it"
    )]
    ClassAbsentFromTraining {
        /// The missing class.
        class: usize,
        /// Number of classes.
        num_classes: usize,
    },
    /// A split is not a partition of the nodes, or names a node twice.
    #[error("split: {0}")]
    Split(String),
    /// An edge weight that is negative or not finite, or a weight list of the wrong length.
    #[error("edge weights: {0}")]
    EdgeWeights(String),
}

/// A graph for node classification, stored on the host.
#[derive(Debug, Clone, PartialEq)]
pub struct NodeGraph {
    /// Number of nodes.
    pub n: usize,
    /// Edge sources.
    pub src: Vec<u32>,
    /// Edge targets.
    pub dst: Vec<u32>,
    /// Row-major node features `[n, num_features]`.
    pub x: Vec<f32>,
    /// Features per node.
    pub num_features: usize,
    /// Node labels in `0..num_classes`.
    pub y: Vec<u32>,
    /// Number of classes.
    pub num_classes: usize,
}

impl NodeGraph {
    /// Validates and builds a graph from directed edges.
    ///
    /// # Errors
    /// [`GraphError::EdgeOutOfRange`] for an endpoint `>= n`, [`GraphError::FeatureShape`],
    /// [`GraphError::Labels`] for a label `>= num_classes` or a wrong label count.
    pub fn new(
        n: usize,
        edges: &[(u64, u64)],
        x: Vec<f32>,
        num_features: usize,
        y: Vec<u32>,
        num_classes: usize,
    ) -> Result<Self, GraphError> {
        let mut src = Vec::with_capacity(edges.len());
        let mut dst = Vec::with_capacity(edges.len());
        for (k, &(u, v)) in edges.iter().enumerate() {
            for node in [u, v] {
                if node >= n as u64 {
                    return Err(GraphError::EdgeOutOfRange { edge: k, node, n });
                }
            }
            src.push(u as u32);
            dst.push(v as u32);
        }
        if x.len() != n * num_features {
            return Err(GraphError::FeatureShape {
                n,
                f: num_features,
                got: x.len(),
            });
        }
        if y.len() != n {
            return Err(GraphError::Labels(format!(
                "{} labels for {n} nodes",
                y.len()
            )));
        }
        if let Some((i, &c)) = y
            .iter()
            .enumerate()
            .find(|&(_, &c)| c as usize >= num_classes)
        {
            return Err(GraphError::Labels(format!(
                "node {i} has label {c}, not below num_classes = {num_classes}"
            )));
        }
        Ok(Self {
            n,
            src,
            dst,
            x,
            num_features,
            y,
            num_classes,
        })
    }

    /// Number of directed edges.
    pub fn num_edges(&self) -> usize {
        self.src.len()
    }

    /// Out-neighbour lists (`i → j` for every edge), duplicates and self loops removed.
    pub fn out_neighbours(&self) -> Vec<Vec<u32>> {
        let mut adj = vec![Vec::new(); self.n];
        for (&s, &d) in self.src.iter().zip(&self.dst) {
            if s != d {
                adj[s as usize].push(d);
            }
        }
        for a in &mut adj {
            a.sort_unstable();
            a.dedup();
        }
        adj
    }

    /// The same graph with other features.
    ///
    /// # Panics
    /// If `x.len() != n * num_features`.
    pub fn with_features(&self, x: Vec<f32>, num_features: usize) -> Self {
        assert_eq!(x.len(), self.n * num_features, "with_features: shape");
        Self {
            x,
            num_features,
            ..self.clone()
        }
    }

    /// Feature tensor `[n, num_features]` on `device`.
    pub fn x_tensor(&self, device: &Device) -> Tensor<2> {
        Tensor::from_data(
            TensorData::new(self.x.clone(), [self.n, self.num_features]),
            device,
        )
    }
}

/// Builds a symmetric edge list (both orientations, deduplicated, no self loops) from
/// unordered pairs.
pub fn symmetrise(pairs: &[(u32, u32)]) -> Vec<(u64, u64)> {
    let mut e: Vec<(u64, u64)> = pairs
        .iter()
        .filter(|(u, v)| u != v)
        .flat_map(|&(u, v)| [(u64::from(u), u64::from(v)), (u64::from(v), u64::from(u))])
        .collect();
    e.sort_unstable();
    e.dedup();
    e
}

/// Edges with self loops added where missing, and the GCN normalisation of each edge,
/// as tensors for message passing.
#[derive(Debug, Clone)]
pub struct EdgeIndex {
    /// Number of nodes.
    pub n: usize,
    /// Sources `[e]` (self loops included).
    pub src: Tensor<1, Int>,
    /// Targets `[e]`.
    pub dst: Tensor<1, Int>,
    /// `deg(src)^-1/2 · deg(dst)^-1/2` per edge, `[e, 1]`; degree = in-degree with the loop.
    pub gcn_norm: Tensor<2>,
    /// Host copies of the looped edges.
    pub host_src: Vec<u32>,
    /// Host copy of the targets.
    pub host_dst: Vec<u32>,
    /// Host copy of the normalisation.
    pub host_norm: Vec<f32>,
}

impl EdgeIndex {
    /// Adds a self loop to every node that has none (PyG `add_remaining_self_loops`) and
    /// computes the symmetric GCN normalisation from target (in-)degrees, as PyG
    /// `gcn_norm` does with `flow = source_to_target`.
    pub fn new(g: &NodeGraph, device: &Device) -> Self {
        let (src, dst) = looped_edges(g);
        let mut deg = vec![0.0f64; g.n];
        for &d in &dst {
            deg[d as usize] += 1.0;
        }
        let norm: Vec<f32> = src
            .iter()
            .zip(&dst)
            .map(|(&s, &d)| (1.0 / (deg[s as usize] * deg[d as usize]).sqrt()) as f32)
            .collect();
        let e = src.len();
        Self {
            n: g.n,
            src: int_tensor(&src, device),
            dst: int_tensor(&dst, device),
            gcn_norm: Tensor::from_data(TensorData::new(norm.clone(), [e, 1]), device),
            host_src: src,
            host_dst: dst,
            host_norm: norm,
        }
    }

    /// [`EdgeIndex::new`] with a weight per edge of `g` (PyG `gcn_norm` with
    /// `edge_weight`): added self loops weigh 1 (PyG's `fill_value` without `improved`),
    /// degrees are weighted in-degrees, and edge `(s, d)` gets `w · deg(s)^-1/2 · deg(d)^-1/2`
    /// (0 where a degree is 0). With every weight 1 it equals [`EdgeIndex::new`].
    ///
    /// # Errors
    /// [`GraphError::EdgeWeights`] when `weights` does not have one entry per edge of `g`,
    /// or an entry is negative or not finite.
    pub fn weighted(g: &NodeGraph, weights: &[f32], device: &Device) -> Result<Self, GraphError> {
        if weights.len() != g.src.len() {
            return Err(GraphError::EdgeWeights(format!(
                "{} weights for {} edges",
                weights.len(),
                g.src.len()
            )));
        }
        if let Some(i) = weights.iter().position(|w| !w.is_finite() || *w < 0.0) {
            return Err(GraphError::EdgeWeights(format!(
                "edge {i} has weight {}, not a finite value >= 0",
                weights[i]
            )));
        }
        let (src, dst) = looped_edges(g);
        let mut w: Vec<f64> = weights.iter().map(|&w| f64::from(w)).collect();
        w.resize(src.len(), 1.0);
        let mut deg = vec![0.0f64; g.n];
        for (&d, &wi) in dst.iter().zip(&w) {
            deg[d as usize] += wi;
        }
        let inv_sqrt = |x: f64| if x > 0.0 { 1.0 / x.sqrt() } else { 0.0 };
        let norm: Vec<f32> = src
            .iter()
            .zip(&dst)
            .zip(&w)
            .map(|((&s, &d), &wi)| (wi * inv_sqrt(deg[s as usize] * deg[d as usize])) as f32)
            .collect();
        let e = src.len();
        Ok(Self {
            n: g.n,
            src: int_tensor(&src, device),
            dst: int_tensor(&dst, device),
            gcn_norm: Tensor::from_data(TensorData::new(norm.clone(), [e, 1]), device),
            host_src: src,
            host_dst: dst,
            host_norm: norm,
        })
    }

    /// The same edges on another device.
    pub fn to_device(&self, device: &Device) -> Self {
        Self {
            n: self.n,
            src: int_tensor(&self.host_src, device),
            dst: int_tensor(&self.host_dst, device),
            gcn_norm: Tensor::from_data(
                TensorData::new(self.host_norm.clone(), [self.host_norm.len(), 1]),
                device,
            ),
            host_src: self.host_src.clone(),
            host_dst: self.host_dst.clone(),
            host_norm: self.host_norm.clone(),
        }
    }
}

/// The edges of `g` plus a self loop on every node without one.
fn looped_edges(g: &NodeGraph) -> (Vec<u32>, Vec<u32>) {
    let mut has_loop = vec![false; g.n];
    for (&s, &d) in g.src.iter().zip(&g.dst) {
        if s == d {
            has_loop[s as usize] = true;
        }
    }
    let mut src = g.src.clone();
    let mut dst = g.dst.clone();
    for (i, _) in has_loop.iter().enumerate().filter(|(_, h)| !**h) {
        src.push(i as u32);
        dst.push(i as u32);
    }
    (src, dst)
}

/// An `Int` tensor `[len]` from node ids.
pub fn int_tensor(ids: &[u32], device: &Device) -> Tensor<1, Int> {
    let v: Vec<i32> = ids.iter().map(|&i| i as i32).collect();
    let n = v.len();
    Tensor::from_data(TensorData::new(v, [n]), device)
}

/// Hop distances up to `t` from each of `sources`: for source `i`, the list of
/// `(j, D_t(i, j))` with `0 < D_t(i, j) <= t`, following out-edges (breadth-first search).
pub fn bfs_hops(adj: &[Vec<u32>], sources: &[u32], t: usize) -> Vec<Vec<(u32, u8)>> {
    let n = adj.len();
    let mut dist = vec![u8::MAX; n];
    let mut out = Vec::with_capacity(sources.len());
    for &s in sources {
        let mut seen = Vec::new();
        let mut q = VecDeque::new();
        dist[s as usize] = 0;
        seen.push(s);
        q.push_back(s);
        let mut found = Vec::new();
        while let Some(u) = q.pop_front() {
            let du = dist[u as usize];
            if du as usize >= t {
                continue;
            }
            for &v in &adj[u as usize] {
                if dist[v as usize] == u8::MAX {
                    dist[v as usize] = du + 1;
                    seen.push(v);
                    found.push((v, du + 1));
                    q.push_back(v);
                }
            }
        }
        for v in seen {
            dist[v as usize] = u8::MAX;
        }
        found.sort_unstable();
        out.push(found);
    }
    out
}

/// Hop "distances" as the upstream `cal_Ak` computes them, dense: `Ak = A` with
/// non-edges at infinity, then for `s = 1..t-1`: `Ak[(A^{s+1} > 0) & (A^{s+1} < Ak)] = s + 1`
/// (walk counts compared with hop values, quirk P3). Returns `[n][n]` with `0` on the
/// diagonal and `u8::MAX` for "farther than t". `O(n³ t)`: tests and diagnosis only.
pub fn hops_as_coded(adj: &[Vec<u32>], t: usize) -> Vec<Vec<u8>> {
    let n = adj.len();
    let mut a = vec![vec![0.0f64; n]; n];
    for (i, row) in adj.iter().enumerate() {
        for &j in row {
            a[i][j as usize] = 1.0;
        }
    }
    let mut ak: Vec<Vec<f64>> = a
        .iter()
        .map(|r| {
            r.iter()
                .map(|&v| if v > 0.0 { 1.0 } else { f64::INFINITY })
                .collect()
        })
        .collect();
    let mut pw = a.clone();
    for s in 1..t {
        let mut next = vec![vec![0.0f64; n]; n];
        for i in 0..n {
            for k in 0..n {
                if pw[i][k] != 0.0 {
                    for j in 0..n {
                        next[i][j] += pw[i][k] * a[k][j];
                    }
                }
            }
        }
        pw = next;
        for i in 0..n {
            for j in 0..n {
                if pw[i][j] > 0.0 && pw[i][j] < ak[i][j] {
                    ak[i][j] = (s + 1) as f64;
                }
            }
        }
    }
    (0..n)
        .map(|i| {
            (0..n)
                .map(|j| {
                    if i == j {
                        0
                    } else if ak[i][j].is_finite() {
                        ak[i][j] as u8
                    } else {
                        u8::MAX
                    }
                })
                .collect()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn undirected(n: usize, pairs: &[(u32, u32)]) -> NodeGraph {
        let e = symmetrise(pairs);
        NodeGraph::new(n, &e, vec![0.0; n], 1, vec![0; n], 1).unwrap()
    }

    #[test]
    fn weighted_gcn_normalisation_by_hand() {
        let device = Device::flex();
        // One edge 0 -> 1 of weight 2; loops of weight 1 are added on both nodes.
        // deg(0) = 1 (its loop), deg(1) = 2 + 1: norms 2/√3, 1, 1/3.
        let g = NodeGraph::new(2, &[(0, 1)], vec![0.0; 2], 1, vec![0; 2], 1).unwrap();
        let e = EdgeIndex::weighted(&g, &[2.0], &device).unwrap();
        assert_eq!(
            (e.host_src.clone(), e.host_dst.clone()),
            (vec![0, 0, 1], vec![1, 0, 1])
        );
        let want = [2.0 / 3f32.sqrt(), 1.0, 1.0 / 3.0];
        for (a, b) in e.host_norm.iter().zip(want) {
            assert!((a - b).abs() < 1e-6, "{:?}", e.host_norm);
        }
        // Unit weights are the unweighted normalisation, bit for bit.
        let g = undirected(4, &[(0, 1), (1, 2), (2, 3), (3, 0), (0, 2)]);
        let ones = EdgeIndex::weighted(&g, &vec![1.0; g.src.len()], &device).unwrap();
        assert_eq!(ones.host_norm, EdgeIndex::new(&g, &device).host_norm);
        // A zero weight removes the edge from the propagation and from the degrees.
        let mut w = vec![1.0; g.src.len()];
        w[0] = 0.0;
        let z = EdgeIndex::weighted(&g, &w, &device).unwrap();
        assert_eq!(z.host_norm[0], 0.0);
        // Bad weights are named.
        let err = EdgeIndex::weighted(&g, &[1.0], &device)
            .unwrap_err()
            .to_string();
        assert!(err.contains("1 weights for 10 edges"), "{err}");
        w[3] = f32::NAN;
        let err = EdgeIndex::weighted(&g, &w, &device)
            .unwrap_err()
            .to_string();
        assert!(err.contains("edge 3 has weight NaN"), "{err}");
    }

    #[test]
    fn out_of_range_edge_is_named() {
        let err = NodeGraph::new(3, &[(0, 1), (1, 7)], vec![0.0; 3], 1, vec![0; 3], 1).unwrap_err();
        assert_eq!(
            err,
            GraphError::EdgeOutOfRange {
                edge: 1,
                node: 7,
                n: 3
            }
        );
        assert!(err.to_string().contains("endpoint 7 is out of range"));
        let err = NodeGraph::new(2, &[], vec![0.0; 2], 1, vec![0, 3], 2).unwrap_err();
        assert!(err.to_string().contains("label 3"), "{err}");
    }

    /// Brute force: shortest path lengths by Floyd–Warshall, cut at t.
    fn floyd(adj: &[Vec<u32>], t: usize) -> Vec<Vec<u8>> {
        let n = adj.len();
        let inf = usize::MAX / 4;
        let mut d = vec![vec![inf; n]; n];
        for i in 0..n {
            d[i][i] = 0;
            for &j in &adj[i] {
                d[i][j as usize] = 1;
            }
        }
        for k in 0..n {
            for i in 0..n {
                for j in 0..n {
                    d[i][j] = d[i][j].min(d[i][k] + d[k][j]);
                }
            }
        }
        d.iter()
            .map(|r| {
                r.iter()
                    .map(|&v| if v <= t { v as u8 } else { u8::MAX })
                    .collect()
            })
            .collect()
    }

    #[test]
    fn bfs_matches_brute_force_on_random_graphs() {
        let mut rng = repro_core::data::split::SplitMix64::new(5);
        for trial in 0..20 {
            let n = 6 + trial % 9;
            let pairs: Vec<(u32, u32)> = (0..2 * n)
                .map(|_| (rng.below(n) as u32, rng.below(n) as u32))
                .collect();
            // Directed on odd trials: BFS must follow out-edges only.
            let g = if trial % 2 == 0 {
                undirected(n, &pairs)
            } else {
                let e: Vec<(u64, u64)> = pairs.iter().map(|&(u, v)| (u as u64, v as u64)).collect();
                NodeGraph::new(n, &e, vec![0.0; n], 1, vec![0; n], 1).unwrap()
            };
            let adj = g.out_neighbours();
            for t in 1..=4 {
                let want = floyd(&adj, t);
                let srcs: Vec<u32> = (0..n as u32).collect();
                let got = bfs_hops(&adj, &srcs, t);
                for i in 0..n {
                    let mut row = vec![u8::MAX; n];
                    row[i] = 0;
                    for &(j, d) in &got[i] {
                        row[j as usize] = d;
                    }
                    assert_eq!(row, want[i], "trial {trial} t {t} source {i}");
                }
            }
        }
    }

    #[test]
    fn as_coded_hops_overwrite_distance_two_with_three() {
        // Edges {0-1, 1-2, 1-3, 2-3}: D(0,2) = 2 (0-1-2) but there is exactly one walk of
        // length 3 from 0 to 2 (0-1-3-2), and 1 < 2, so `cal_Ak` writes 3 (quirk P3).
        let g = undirected(4, &[(0, 1), (1, 2), (1, 3), (2, 3)]);
        let adj = g.out_neighbours();
        let bfs = bfs_hops(&adj, &[0], 3);
        assert!(bfs[0].contains(&(2, 2)));
        let coded = hops_as_coded(&adj, 3);
        assert_eq!(coded[0][2], 3);
        assert_eq!(coded[0][1], 1);
    }

    #[test]
    fn self_loops_added_only_where_missing() {
        let e = vec![(0, 1), (1, 0), (1, 1)];
        let g = NodeGraph::new(3, &e, vec![0.0; 3], 1, vec![0; 3], 1).unwrap();
        let (s, d) = looped_edges(&g);
        assert_eq!(s, vec![0, 1, 1, 0, 2]);
        assert_eq!(d, vec![1, 0, 1, 0, 2]);
    }
}

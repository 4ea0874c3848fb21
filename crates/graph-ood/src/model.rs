//! GCN and GAT backbones as the upstream `CIAGCNs.py` / `CIAGATs.py` define them: `layers`
//! convolutions of width `hidden`, BatchNorm1d after every convolution, ReLU after all but
//! the last, dropout after every layer, identity readout, one linear classifier.
//!
//! Message passing is gather (`select`) + index-add (`select_assign(.., Add)`) on Burn
//! tensors; GAT attention uses a numerically stable segment softmax. Initial weights are
//! drawn from [`SplitMix64`] (PyG's Glorot for convolutions, PyTorch's `Linear` default for
//! the classifier), and dropout masks too, so a run is a pure function of its seed and
//! runs can go in parallel threads.

use burn::module::{Module, Param};
use burn::nn::{BatchNorm, BatchNormConfig};
use burn::tensor::activation::{leaky_relu, relu};
use burn::tensor::{Device, IndexingUpdateOp, Int, Tensor, TensorData};
use serde::{Deserialize, Serialize};

use crate::graph::EdgeIndex;
use repro_core::rng::{SplitMix64, uniform_vec};

/// Which convolution the backbone stacks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Backbone {
    /// `GCNConv` (Kipf & Welling), symmetric normalisation with self loops.
    Gcn,
    /// `GATConv`, one head, LeakyReLU(0.2) scores, self loops.
    Gat,
}

/// Architecture of a [`NodeGnn`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GnnConfig {
    /// Input features.
    pub in_dim: usize,
    /// Width of every convolution (300 upstream).
    pub hidden: usize,
    /// Number of convolutions (3 upstream).
    pub layers: usize,
    /// Number of classes.
    pub classes: usize,
    /// Dropout probability after every layer (0.5 upstream).
    pub dropout: f64,
    /// Convolution type.
    pub backbone: Backbone,
}

impl GnnConfig {
    /// The upstream architecture: 3 layers of 300, dropout 0.5.
    pub fn upstream(in_dim: usize, classes: usize, backbone: Backbone) -> Self {
        Self {
            in_dim,
            hidden: 300,
            layers: 3,
            classes,
            dropout: 0.5,
            backbone,
        }
    }

    /// Builds the model with weights drawn from `SplitMix64::new(seed)`.
    pub fn init(&self, device: &Device, seed: u64) -> NodeGnn {
        let mut rng = SplitMix64::new(seed ^ 0x6772_6170_685f_6f6f);
        let mut gcn = Vec::new();
        let mut gat = Vec::new();
        let mut bns = Vec::new();
        for l in 0..self.layers {
            let d_in = if l == 0 { self.in_dim } else { self.hidden };
            match self.backbone {
                Backbone::Gcn => gcn.push(GcnLayer::new(d_in, self.hidden, device, &mut rng)),
                Backbone::Gat => gat.push(GatLayer::new(d_in, self.hidden, device, &mut rng)),
            }
            // BatchNorm1d(eps 1e-5, momentum 0.1), PyTorch's defaults.
            bns.push(
                BatchNormConfig::new(self.hidden)
                    .with_epsilon(1e-5)
                    .with_momentum(0.1)
                    .init(device),
            );
        }
        NodeGnn {
            gcn,
            gat,
            bns,
            classifier: Dense::torch_default(self.hidden, self.classes, device, &mut rng),
            dropout: self.dropout,
        }
    }
}

fn param2(v: Vec<f32>, shape: [usize; 2], device: &Device) -> Param<Tensor<2>> {
    Param::from_tensor(Tensor::from_data(TensorData::new(v, shape), device))
}

fn param1(v: Vec<f32>, device: &Device) -> Param<Tensor<1>> {
    let n = v.len();
    Param::from_tensor(Tensor::from_data(TensorData::new(v, [n]), device))
}

/// Glorot-uniform bound for a `[fan_in, fan_out]` weight.
fn glorot(fan_in: usize, fan_out: usize) -> f64 {
    (6.0 / (fan_in + fan_out) as f64).sqrt()
}

/// A linear map with bias, weight `[d_in, d_out]`.
#[derive(Module, Debug)]
pub struct Dense {
    /// `[d_in, d_out]`.
    pub weight: Param<Tensor<2>>,
    /// `[d_out]`.
    pub bias: Param<Tensor<1>>,
}

impl Dense {
    /// PyTorch `nn.Linear` initialisation: weight and bias `U(±1/√d_in)`.
    pub fn torch_default(d_in: usize, d_out: usize, device: &Device, rng: &mut SplitMix64) -> Self {
        let b = 1.0 / (d_in as f64).sqrt();
        Self {
            weight: param2(uniform_vec(rng, d_in * d_out, b), [d_in, d_out], device),
            bias: param1(uniform_vec(rng, d_out, b), device),
        }
    }

    /// # Shapes
    /// - x: `[n, d_in]` -> `[n, d_out]`
    pub fn forward(&self, x: Tensor<2>) -> Tensor<2> {
        x.matmul(self.weight.val()) + self.bias.val().unsqueeze::<2>()
    }
}

/// `GCNConv`: `out = D̃^{-1/2}(A+I)D̃^{-1/2} X W + b`; with edge weights, build the edges with
/// [`EdgeIndex::weighted`](crate::graph::EdgeIndex::weighted) (PyG's `edge_weight`).
#[derive(Module, Debug)]
pub struct GcnLayer {
    /// `[d_in, d_out]`, Glorot uniform.
    pub weight: Param<Tensor<2>>,
    /// `[d_out]`, zeros.
    pub bias: Param<Tensor<1>>,
}

impl GcnLayer {
    /// PyG initialisation: Glorot weight, zero bias.
    pub fn new(d_in: usize, d_out: usize, device: &Device, rng: &mut SplitMix64) -> Self {
        Self {
            weight: param2(
                uniform_vec(rng, d_in * d_out, glorot(d_in, d_out)),
                [d_in, d_out],
                device,
            ),
            bias: param1(vec![0.0; d_out], device),
        }
    }

    /// Propagation of `x W` without the bias: `D̃^{-1/2}(A+I)D̃^{-1/2} X W`.
    ///
    /// # Shapes
    /// - x: `[n, d_in]` -> `[n, d_out]`
    pub fn propagate(&self, x: Tensor<2>, e: &EdgeIndex) -> Tensor<2> {
        let h = x.matmul(self.weight.val()); // [n, d_out]
        let [n, d] = h.dims();
        let msgs = h.select(0, e.src.clone()) * e.gcn_norm.clone(); // [e, d_out]
        Tensor::<2>::zeros([n, d], &msgs.device()).select_assign(
            0,
            e.dst.clone(),
            msgs,
            IndexingUpdateOp::Add,
        )
    }

    /// # Shapes
    /// - x: `[n, d_in]` -> `[n, d_out]`
    pub fn forward(&self, x: Tensor<2>, e: &EdgeIndex) -> Tensor<2> {
        self.propagate(x, e) + self.bias.val().unsqueeze::<2>()
    }
}

/// `GATConv` with one head: `α_ij = softmax_j LeakyReLU_0.2(a_dstᵀ W x_i + a_srcᵀ W x_j)`,
/// `out_i = Σ_j α_ij W x_j + b`, over in-neighbours and the self loop.
#[derive(Module, Debug)]
pub struct GatLayer {
    /// `[d_in, d_out]`, Glorot uniform.
    pub weight: Param<Tensor<2>>,
    /// Source attention vector `[d_out, 1]`.
    pub att_src: Param<Tensor<2>>,
    /// Target attention vector `[d_out, 1]`.
    pub att_dst: Param<Tensor<2>>,
    /// `[d_out]`, zeros.
    pub bias: Param<Tensor<1>>,
}

impl GatLayer {
    /// PyG initialisation: Glorot weight and attention vectors (fan `1 + d_out`), zero bias.
    pub fn new(d_in: usize, d_out: usize, device: &Device, rng: &mut SplitMix64) -> Self {
        let ab = glorot(1, d_out);
        Self {
            weight: param2(
                uniform_vec(rng, d_in * d_out, glorot(d_in, d_out)),
                [d_in, d_out],
                device,
            ),
            att_src: param2(uniform_vec(rng, d_out, ab), [d_out, 1], device),
            att_dst: param2(uniform_vec(rng, d_out, ab), [d_out, 1], device),
            bias: param1(vec![0.0; d_out], device),
        }
    }

    /// Attention coefficients per edge of `e` (self loops included).
    ///
    /// # Shapes
    /// - x: `[n, d_in]`; returns `([e, 1] α, [n, d_out] W x)`
    pub fn attention(&self, x: Tensor<2>, e: &EdgeIndex) -> (Tensor<2>, Tensor<2>) {
        let h = x.matmul(self.weight.val()); // [n, d_out]
        let a_s = h.clone().matmul(self.att_src.val()); // [n, 1]
        let a_d = h.clone().matmul(self.att_dst.val()); // [n, 1]
        let score = leaky_relu(
            a_s.select(0, e.src.clone()) + a_d.select(0, e.dst.clone()),
            0.2,
        ); // [e, 1]
        (segment_softmax(score, e.dst.clone(), e.n), h)
    }

    /// # Shapes
    /// - x: `[n, d_in]` -> `[n, d_out]`
    pub fn forward(&self, x: Tensor<2>, e: &EdgeIndex) -> Tensor<2> {
        let (alpha, h) = self.attention(x, e);
        let [n, d] = h.dims();
        let msgs = h.select(0, e.src.clone()) * alpha; // [e, d_out]
        Tensor::<2>::zeros([n, d], &msgs.device()).select_assign(
            0,
            e.dst.clone(),
            msgs,
            IndexingUpdateOp::Add,
        ) + self.bias.val().unsqueeze::<2>()
    }
}

/// Softmax of edge scores over edges sharing a target, shifted by a detached per-target
/// maximum (the gradient of `select_assign(Max)` is undefined with duplicates; the shift
/// cancels mathematically, so detaching it leaves the gradient exact).
///
/// # Shapes
/// - scores: `[e, h]`, dst: `[e]` in `0..n` -> `[e, h]`, summing to 1 per (target, column)
pub fn segment_softmax(scores: Tensor<2>, dst: Tensor<1, Int>, n: usize) -> Tensor<2> {
    let [_, h] = scores.dims();
    let device = scores.device();
    let max = Tensor::<2>::full([n, h], f32::NEG_INFINITY, &device).select_assign(
        0,
        dst.clone(),
        scores.clone().detach(),
        IndexingUpdateOp::Max,
    );
    let exp = (scores - max.select(0, dst.clone())).exp();
    let denom = Tensor::<2>::zeros([n, h], &device).select_assign(
        0,
        dst.clone(),
        exp.clone(),
        IndexingUpdateOp::Add,
    );
    exp / denom.select(0, dst)
}

/// Inverted dropout with a host-drawn mask: keep with probability `1 - p`, scale by
/// `1 / (1 - p)`. Each 64-bit draw gives four 16-bit uniforms, so `p` is resolved to
/// 1/65536 (exact for p = 0.5).
///
/// # Shapes
/// - x: `[n, d]` -> `[n, d]`
pub fn dropout(x: Tensor<2>, p: f64, rng: &mut SplitMix64) -> Tensor<2> {
    if p <= 0.0 {
        return x;
    }
    let [n, d] = x.dims();
    let scale = (1.0 / (1.0 - p)) as f32;
    let cut = (p * 65536.0).round() as u64;
    let mut mask = Vec::with_capacity(n * d);
    while mask.len() < n * d {
        let bits = rng.next_u64();
        for k in 0..4 {
            if mask.len() < n * d {
                let u = (bits >> (16 * k)) & 0xFFFF;
                mask.push(if u < cut { 0.0f32 } else { scale });
            }
        }
    }
    let m = Tensor::<2>::from_data(TensorData::new(mask, [n, d]), &x.device());
    x * m
}

/// A stack of GCN or GAT layers with BatchNorm, ReLU, dropout and a linear classifier.
#[derive(Module, Debug)]
pub struct NodeGnn {
    /// GCN layers (empty for a GAT backbone).
    pub gcn: Vec<GcnLayer>,
    /// GAT layers (empty for a GCN backbone).
    pub gat: Vec<GatLayer>,
    /// BatchNorm after every convolution.
    pub bns: Vec<BatchNorm>,
    /// Linear classifier on the representation.
    pub classifier: Dense,
    /// Dropout probability.
    pub dropout: f64,
}

impl NodeGnn {
    /// Number of convolutions.
    pub fn layers(&self) -> usize {
        self.gcn.len() + self.gat.len()
    }

    /// Logits and representation. `rng` is `Some` in training (dropout on), `None` in
    /// evaluation; BatchNorm uses batch statistics on an autodiff device (training) and
    /// running statistics after [`Module::valid`].
    ///
    /// # Shapes
    /// - x: `[n, in_dim]` -> (`[n, classes]` logits, `[n, hidden]` representation)
    pub fn forward(
        &self,
        x: Tensor<2>,
        e: &EdgeIndex,
        mut rng: Option<&mut SplitMix64>,
    ) -> (Tensor<2>, Tensor<2>) {
        let layers = self.layers();
        let mut h = x;
        for l in 0..layers {
            h = if self.gcn.is_empty() {
                self.gat[l].forward(h, e)
            } else {
                self.gcn[l].forward(h, e)
            };
            h = self.bns[l].forward(h);
            if l + 1 < layers {
                h = relu(h);
            }
            if let Some(r) = rng.as_deref_mut() {
                h = dropout(h, self.dropout, r);
            }
        }
        let logits = self.classifier.forward(h.clone());
        (logits, h)
    }

    /// The first layer's weight `[in_dim, hidden]` (rows are input features).
    pub fn first_weight(&self) -> Tensor<2> {
        if self.gcn.is_empty() {
            self.gat[0].weight.val()
        } else {
            self.gcn[0].weight.val()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::{NodeGraph, symmetrise};

    fn host(t: Tensor<2>) -> Vec<f32> {
        t.into_data().try_to_vec::<f32>().unwrap()
    }

    /// Dense reference `D̃^{-1/2}(A+I)D̃^{-1/2} X W + b`, degree from the target index.
    fn dense_gcn(g: &NodeGraph, x: &[f32], d_in: usize, w: &[f32], b: &[f32]) -> Vec<f32> {
        let n = g.n;
        let d_out = b.len();
        let mut a = vec![vec![0.0f64; n]; n]; // a[t][s]: message s -> t
        for (&s, &t) in g.src.iter().zip(&g.dst) {
            a[t as usize][s as usize] += 1.0;
        }
        for (i, row) in a.iter_mut().enumerate() {
            if row[i] == 0.0 {
                row[i] = 1.0; // self loop only where missing
            }
        }
        let deg: Vec<f64> = a.iter().map(|r| r.iter().sum()).collect();
        let mut xw = vec![0.0f64; n * d_out];
        for i in 0..n {
            for k in 0..d_in {
                for j in 0..d_out {
                    xw[i * d_out + j] += f64::from(x[i * d_in + k]) * f64::from(w[k * d_out + j]);
                }
            }
        }
        let mut out = vec![0.0f32; n * d_out];
        for t in 0..n {
            for j in 0..d_out {
                let mut acc = f64::from(b[j]);
                for s in 0..n {
                    if a[t][s] != 0.0 {
                        acc += a[t][s] / (deg[t] * deg[s]).sqrt() * xw[s * d_out + j];
                    }
                }
                out[t * d_out + j] = acc as f32;
            }
        }
        out
    }

    #[test]
    fn gcn_layer_equals_dense_normalised_product() {
        let device = Device::flex();
        let mut rng = SplitMix64::new(11);
        let n = 12;
        let (d_in, d_out) = (5, 4);
        let pairs: Vec<(u32, u32)> = (0..20)
            .map(|_| (rng.below(n) as u32, rng.below(n) as u32))
            .collect();
        // Symmetric graph; a directed one (in-degree normalisation); one with self loops
        // already present (they must not be doubled).
        let sym = symmetrise(&pairs);
        let directed: Vec<(u64, u64)> = pairs
            .iter()
            .filter(|(u, v)| u != v)
            .map(|&(u, v)| (u as u64, v as u64))
            .collect();
        let mut looped = sym.clone();
        looped.extend([(0, 0), (3, 3)]);
        for edges in [sym, directed, looped] {
            let x = repro_core::rng::uniform_vec(&mut rng, n * d_in, 1.0);
            let g = NodeGraph::new(n, &edges, x.clone(), d_in, vec![0; n], 1).unwrap();
            let layer = GcnLayer::new(d_in, d_out, &device, &mut rng);
            let b = repro_core::rng::uniform_vec(&mut rng, d_out, 1.0);
            let layer = GcnLayer {
                bias: param1(b.clone(), &device),
                ..layer
            };
            let w = host(layer.weight.val());
            let e = EdgeIndex::new(&g, &device);
            let got = host(layer.forward(g.x_tensor(&device), &e));
            let want = dense_gcn(&g, &x, d_in, &w, &b);
            for (a, b) in got.iter().zip(&want) {
                // f32 sums of ~10 terms of magnitude ≤ 5: 1e-5 absolute is ample.
                assert!((a - b).abs() < 1e-5, "{a} vs {b}");
            }
        }
    }

    fn five_node() -> NodeGraph {
        let e = symmetrise(&[(0, 1), (1, 2), (2, 3), (3, 4), (0, 4), (1, 3)]);
        let mut rng = SplitMix64::new(2);
        let x = repro_core::rng::uniform_vec(&mut rng, 5 * 3, 1.0);
        NodeGraph::new(5, &e, x, 3, vec![0; 5], 1).unwrap()
    }

    #[test]
    fn gat_attention_rows_sum_to_one() {
        let device = Device::flex();
        let g = five_node();
        let mut rng = SplitMix64::new(4);
        let layer = GatLayer::new(3, 6, &device, &mut rng);
        let e = EdgeIndex::new(&g, &device);
        let (alpha, _) = layer.attention(g.x_tensor(&device), &e);
        let alpha = host(alpha);
        let mut sums = [0.0f32; 5];
        for (k, &t) in e.host_dst.iter().enumerate() {
            assert!(alpha[k] > 0.0);
            sums[t as usize] += alpha[k];
        }
        for s in sums {
            // f32 rounding of a sum of ≤ 4 terms.
            assert!((s - 1.0).abs() < 1e-6, "{s}");
        }
    }

    #[test]
    fn gat_gradient_matches_finite_differences() {
        // d/dW of sum(out²) by autodiff vs a central difference (step 1e-2 in f32; the
        // function is smooth away from LeakyReLU's kink, which the random scores avoid).
        let device = Device::flex().autodiff();
        let g = five_node();
        let mut rng = SplitMix64::new(9);
        let layer = GatLayer::new(3, 2, &device, &mut rng);
        let e = EdgeIndex::new(&g, &device);
        let x = g.x_tensor(&device);
        let loss = layer.forward(x.clone(), &e).square().sum();
        let grads = loss.backward();
        let gw = host(layer.att_src.val().grad(&grads).unwrap());
        let gw2 = host(layer.weight.val().grad(&grads).unwrap());
        let plain = Device::flex();
        let w0 = host(layer.weight.val().inner());
        let a0 = host(layer.att_src.val().inner());
        let eval = |w: &[f32], a: &[f32]| -> f64 {
            let l = GatLayer {
                weight: param2(w.to_vec(), [3, 2], &plain),
                att_src: param2(a.to_vec(), [2, 1], &plain),
                att_dst: Param::from_tensor(layer.att_dst.val().inner()),
                bias: Param::from_tensor(layer.bias.val().inner()),
            };
            let ep = e.to_device(&plain);
            f64::from(
                l.forward(g.x_tensor(&plain), &ep)
                    .square()
                    .sum()
                    .into_scalar::<f32>(),
            )
        };
        let h = 1e-2f32;
        for k in 0..2 {
            let (mut ap, mut am) = (a0.clone(), a0.clone());
            ap[k] += h;
            am[k] -= h;
            let fd = (eval(&w0, &ap) - eval(&w0, &am)) / (2.0 * f64::from(h));
            assert!(
                (fd - f64::from(gw[k])).abs() < 2e-3 * (1.0 + fd.abs()),
                "att {k}: {fd} vs {}",
                gw[k]
            );
        }
        for k in 0..6 {
            let (mut wp, mut wm) = (w0.clone(), w0.clone());
            wp[k] += h;
            wm[k] -= h;
            let fd = (eval(&wp, &a0) - eval(&wm, &a0)) / (2.0 * f64::from(h));
            assert!(
                (fd - f64::from(gw2[k])).abs() < 2e-3 * (1.0 + fd.abs()),
                "w {k}: {fd} vs {}",
                gw2[k]
            );
        }
    }

    #[test]
    fn segment_softmax_is_stable_for_large_scores() {
        let device = Device::flex();
        let s = Tensor::<2>::from_data(
            TensorData::new(vec![1000.0f32, 999.0, -5.0], [3, 1]),
            &device,
        );
        let dst = crate::graph::int_tensor(&[0, 0, 1], &device);
        let a = host(segment_softmax(s, dst, 2));
        assert!(
            (a[0] - 0.731_058_6).abs() < 1e-6 && (a[2] - 1.0).abs() < 1e-6,
            "{a:?}"
        );
    }

    #[test]
    fn forward_shapes_and_dropout_determinism() {
        let device = Device::flex().autodiff();
        let g = five_node();
        let cfg = GnnConfig {
            in_dim: 3,
            hidden: 8,
            layers: 3,
            classes: 2,
            dropout: 0.5,
            backbone: Backbone::Gcn,
        };
        let m = cfg.init(&device, 1);
        let e = EdgeIndex::new(&g, &device);
        let run = || {
            let mut r = SplitMix64::new(3);
            let (lo, h) = m.forward(g.x_tensor(&device), &e, Some(&mut r));
            (host(lo.inner()), h.dims())
        };
        let (a, dims) = run();
        assert_eq!(dims, [5, 8]);
        assert_eq!(a, run().0);
        assert_eq!(a.len(), 10);
    }
}

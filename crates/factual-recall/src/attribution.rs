//! Knowledge-neuron attribution: integrated gradients over the post-GELU FFN activations of
//! one position (Dai et al., ACL 2022, §3.1, Eq. 3; official code `src/1_analyze_mlm.py`
//! `scaled_input` and `src/custom_bert.py`), for any model that exposes its FFN activations
//! through [`FfnHooks`] ([`FfnModel`]; implemented for [`Decoder`]).
//!
//! For a prompt `x`, the token `y` predicted at position `p` and layer `l` with activations
//! `a = a^(l)(x, p) ∈ R^{d_ff}`:
//!
//! ```text
//! Attr(a_i) = a_i · ∫₀¹ ∂P(y | x, α·a) / ∂a_i dα
//! LeftRiemann (Dai, default): Attr_i ≈ (a_i / m) · Σ_{k=0}^{m−1} ∂P(y | x, (k/m)·a) / ∂a_i
//! Linspace (EleutherAI):      Attr_i ≈ (a_i / m) · Σ_{k=0}^{m−1} ∂P(y | x, α_k·a) / ∂a_i, α_k = k/(m−1)
//! ```
//!
//! The whole vector `a^(l)` at `p` is scaled; every other layer and position runs normally.
//! `P` is the probability (softmax), not its logarithm, as in both implementations.
//!
//! Realisation: the `m` scaled copies of a prompt, for every layer asked for and every prompt
//! of a bag, form one batch; at layer `l` the rows of `l` have their cells `(row, p, ·)`
//! replaced by a require-grad leaf holding `α_k·a` ([`FfnPatch::ReplaceCells`]); the sum of
//! the rows' `P(y)` is differentiated once, and each leaf's gradient is read back. Prompts of
//! different lengths are right-padded: under a causal mask padding never reaches `p`.
//!
//! Attribution needs gradients: pass the model on an autodiff device, preferably with
//! [`Module::no_grad`] so that backward reaches only the
//! leaves. Everything else here (activations, edits) runs on a plain device as well.
//!
//! ```
//! use burn::module::Module;
//! use burn::tensor::Device;
//! use repro_core::device::init_params_now;
//! use repro_core::nn::decoder::DecoderConfig;
//! use repro_factual_recall::attribution::{IgConfig, Target, ig_batch, replaced_prob};
//!
//! let device = Device::flex().autodiff();
//! let model = init_params_now(DecoderConfig::new(12).with_d_model(16).with_n_heads(2).init(&device)).no_grad();
//! let target = Target::last(vec![1, 4, 7], 3);
//! // Attributions of layer 1's 64 neurons at the last position, m = 20 (Dai's setting).
//! let attr = ig_batch(&model, &[target.clone()], &[1], &IgConfig::default())?;
//! assert_eq!((attr.len(), attr[0].len(), attr[0][0].len()), (1, 1, 64)); // [target][layer][d_ff]
//! // Completeness, roughly at m = 20: the sum is P(y | a) − P(y | 0).
//! let a = repro_factual_recall::attribution::activations_at(&model, &[vec![1, 4, 7]], &[(0, 2)])?;
//! let (p_a, _) = replaced_prob(&model, &target, 1, &a[0][1])?;
//! let (p_0, _) = replaced_prob(&model, &target, 1, &vec![0.0; 64])?;
//! let sum: f32 = attr[0][0].iter().sum();
//! assert!((sum - (p_a - p_0)).abs() <= 0.2 * (p_a - p_0).abs() + 1e-4);
//! # Ok::<(), repro_factual_recall::KnError>(())
//! ```

use burn::module::Module;
use burn::tensor::activation::softmax;
use burn::tensor::{Device, Int, Tensor, TensorData};
use repro_core::host;
use repro_core::nn::NnError;
use repro_core::nn::decoder::{AttnMask, Decoder, DecoderInput, FfnCell, FfnHooks, FfnPatch};
use serde::{Deserialize, Serialize};

use crate::error::KnError;

/// One FFN neuron: the hidden unit `index` of layer `layer`'s MLP.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Neuron {
    /// Layer (block) index.
    pub layer: u16,
    /// Hidden unit of that layer's MLP (`0..d_ff`).
    pub index: u16,
}

impl Neuron {
    /// Neuron `index` of `layer`.
    pub fn new(layer: usize, index: usize) -> Self {
        Self {
            layer: layer as u16,
            index: index as u16,
        }
    }
}

/// A model whose MLP activations can be read and patched through [`FfnHooks`]: the
/// interface attribution and edits are written against, so they work on any such model
/// (every token-input [`Decoder`] of `repro_core`, and mocks in tests).
pub trait FfnModel {
    /// Causal logits of `ids` from position 0, with `hooks` on the MLP activations.
    ///
    /// # Shapes
    /// - `ids`: `[batch, T]` -> `[batch, T, vocab]`
    ///
    /// # Errors
    /// What the model's checks reject (bad hooks, too long).
    fn ffn_logits(&self, ids: Tensor<2, Int>, hooks: &mut FfnHooks) -> Result<Tensor<3>, NnError>;

    /// Blocks (layers with an MLP).
    fn n_layers(&self) -> usize;

    /// MLP hidden width, the same in every layer.
    fn d_ff(&self) -> usize;

    /// The device of the parameters (inputs are built there).
    fn device(&self) -> Device;

    /// Longest sequence the model takes, `None` when unbounded.
    fn max_len(&self) -> Option<usize> {
        None
    }
}

impl FfnModel for Decoder {
    fn ffn_logits(&self, ids: Tensor<2, Int>, hooks: &mut FfnHooks) -> Result<Tensor<3>, NnError> {
        self.try_forward(DecoderInput::Tokens(ids), 0, &AttnMask::Causal, hooks)
    }

    fn n_layers(&self) -> usize {
        Decoder::n_layers(self)
    }

    fn d_ff(&self) -> usize {
        self.blocks().first().map_or(0, |b| b.d_ff())
    }

    fn device(&self) -> Device {
        self.devices()
            .into_iter()
            .next()
            .unwrap_or_else(Device::flex)
    }

    fn max_len(&self) -> Option<usize> {
        Decoder::max_len(self)
    }
}

/// The Riemann rule of the integral.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum IgRule {
    /// `α_k = k / m`, `k = 0..m` (Dai et al.'s official code; the default).
    #[default]
    LeftRiemann,
    /// `α_k = k / (m − 1)`, both endpoints (EleutherAI's port).
    Linspace,
}

impl IgRule {
    /// The `m` scaling factors.
    pub fn alphas(self, m: usize) -> Vec<f32> {
        match self {
            Self::LeftRiemann => (0..m).map(|k| k as f32 / m as f32).collect(),
            Self::Linspace if m == 1 => vec![0.0],
            Self::Linspace => (0..m).map(|k| k as f32 / (m - 1) as f32).collect(),
        }
    }
}

/// Integrated-gradients settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct IgConfig {
    /// Riemann steps `m` (20 in Dai et al.: `--batch_size 20 --num_batch 1`).
    pub steps: usize,
    /// Riemann rule.
    pub rule: IgRule,
}

impl Default for IgConfig {
    fn default() -> Self {
        Self {
            steps: 20,
            rule: IgRule::LeftRiemann,
        }
    }
}

/// A prompt and the token whose probability is attributed at position `pos`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Target {
    /// Token ids.
    pub ids: Vec<u32>,
    /// Position whose next-token distribution is read (the last prompt token for a
    /// decoder).
    pub pos: usize,
    /// The token whose probability is attributed.
    pub gold: u32,
}

impl Target {
    /// The next token after the whole prompt: `pos` is its last position.
    pub fn last(ids: Vec<u32>, gold: u32) -> Self {
        let pos = ids.len().saturating_sub(1);
        Self { ids, pos, gold }
    }
}

fn check_seqs(seqs: &[&[u32]], at: &[(usize, usize)]) -> Result<(), KnError> {
    for (i, s) in seqs.iter().enumerate() {
        if s.is_empty() {
            return Err(KnError::EmptyPrompt { index: i });
        }
    }
    for &(row, pos) in at {
        let len = seqs.get(row).map_or(0, |s| s.len());
        if pos >= len {
            return Err(KnError::PositionOutOfRange { row, pos, len });
        }
    }
    Ok(())
}

/// `[rows, T]` ids, right-padded with token 0 to the longest sequence.
///
/// # Shapes
/// - returns `[seqs.len(), max len]`
pub fn padded_ids(seqs: &[&[u32]], device: &Device) -> Tensor<2, Int> {
    let t = seqs.iter().map(|s| s.len()).max().unwrap_or(0);
    let mut v = Vec::with_capacity(seqs.len() * t);
    for s in seqs {
        v.extend(s.iter().map(|&x| i64::from(x)));
        v.extend(std::iter::repeat_n(0, t - s.len()));
    }
    Tensor::from_data(TensorData::new(v, [seqs.len(), t]), device)
}

/// Rows of `x` at `(row, pos)` pairs.
///
/// # Shapes
/// - `x`: `[B, T, D]` -> `[at.len(), D]`
pub(crate) fn rows_at(x: Tensor<3>, at: &[(usize, usize)]) -> Tensor<2> {
    let [b, t, d] = x.dims();
    let idx: Vec<usize> = at.iter().map(|&(r, p)| r * t + p).collect();
    let device = x.device();
    x.reshape([b * t, d])
        .select(0, host::indices(&idx, &device))
}

fn check_layer<M: FfnModel + ?Sized>(model: &M, layer: usize) -> Result<(), KnError> {
    let n_layers = model.n_layers();
    if layer >= n_layers {
        return Err(KnError::LayerOutOfRange { layer, n_layers });
    }
    Ok(())
}

/// Post-GELU activations of every layer at each `(row, pos)` of `at`, in one forward pass.
///
/// # Shapes
/// - returns `[at.len()][n_layers][d_ff]`
///
/// # Errors
/// An empty sequence, a position outside its sequence, or what the model rejects.
pub fn activations_at<M: FfnModel + ?Sized>(
    model: &M,
    seqs: &[Vec<u32>],
    at: &[(usize, usize)],
) -> Result<Vec<Vec<Vec<f32>>>, KnError> {
    let refs: Vec<&[u32]> = seqs.iter().map(Vec::as_slice).collect();
    check_seqs(&refs, at)?;
    let mut out = vec![Vec::with_capacity(model.n_layers()); at.len()];
    if at.is_empty() {
        return Ok(out);
    }
    let ids = padded_ids(&refs, &model.device());
    let mut hooks = FfnHooks::recording();
    model.ffn_logits(ids, &mut hooks)?;
    let d_ff = model.d_ff();
    for rec in hooks.recorded {
        let vals = host::to_vec(rows_at(rec.without_autodiff(), at)); // [at, d_ff]
        for (q, chunk) in vals.chunks(d_ff).enumerate() {
            out[q].push(chunk.to_vec());
        }
    }
    Ok(out)
}

/// One row of a leaf pass: target `target` with layer `layer`'s activations at the target
/// position replaced by `values`.
struct LeafRow<'a> {
    target: &'a Target,
    layer: usize,
    values: Vec<f32>,
}

/// `P(gold)` of every row and its gradient with respect to the row's replaced values, in
/// one batched forward and backward pass.
///
/// # Shapes
/// - returns `rows.len()` probabilities and `[rows.len()][d_ff]` gradients
fn leaf_pass<M: FfnModel + ?Sized>(
    model: &M,
    rows: &[LeafRow<'_>],
) -> Result<(Vec<f32>, Vec<Vec<f32>>), KnError> {
    let device = model.device();
    if !device.is_autodiff() {
        return Err(KnError::NotAutodiff);
    }
    let d_ff = model.d_ff();
    let seqs: Vec<&[u32]> = rows.iter().map(|r| r.target.ids.as_slice()).collect();
    let at: Vec<(usize, usize)> = rows
        .iter()
        .enumerate()
        .map(|(i, r)| (i, r.target.pos))
        .collect();
    check_seqs(&seqs, &at)?;
    let ids = padded_ids(&seqs, &device);
    let mut hooks = FfnHooks::none();
    let mut leaves: Vec<(usize, Vec<usize>, Tensor<1>)> = Vec::new(); // (layer, rows, leaf)
    for layer in 0..model.n_layers() {
        let mine: Vec<usize> = (0..rows.len())
            .filter(|&i| rows[i].layer == layer)
            .collect();
        if mine.is_empty() {
            continue;
        }
        let mut cells: Vec<FfnCell> = Vec::with_capacity(mine.len() * d_ff);
        let mut values = Vec::with_capacity(mine.len() * d_ff);
        for &i in &mine {
            if rows[i].values.len() != d_ff {
                return Err(KnError::Shape(format!(
                    "{} replacement values for d_ff = {d_ff}",
                    rows[i].values.len()
                )));
            }
            cells.extend((0..d_ff).map(|n| (i, rows[i].target.pos, n)));
            values.extend_from_slice(&rows[i].values);
        }
        let leaf = host::vector(values, &device).require_grad();
        hooks = hooks.with_patch(FfnPatch::ReplaceCells {
            layer,
            cells,
            values: leaf.clone(),
        });
        leaves.push((layer, mine, leaf));
    }
    let logits = model.ffn_logits(ids, &mut hooks)?; // [rows, T, V]
    let last = rows_at(logits, &at); // [rows, V]
    let probs = softmax(last, 1);
    let gold: Vec<usize> = rows.iter().map(|r| r.target.gold as usize).collect();
    let vocab = probs.dims()[1];
    if let Some(&g) = gold.iter().find(|&&g| g >= vocab) {
        return Err(KnError::TokenOutOfRange {
            id: g as u32,
            vocab,
        });
    }
    let n = rows.len();
    let picked = probs
        .gather(1, host::indices(&gold, &device).reshape([n, 1]))
        .reshape([n]); // [rows]
    let p = host::to_vec(picked.clone().without_autodiff());
    let grads = picked.sum().backward();
    let mut out = vec![Vec::new(); n];
    for (_, mine, leaf) in leaves {
        let g = leaf
            .grad(&grads)
            .map(host::to_vec)
            .unwrap_or_else(|| vec![0.0; mine.len() * d_ff]);
        for (k, &i) in mine.iter().enumerate() {
            out[i] = g[k * d_ff..(k + 1) * d_ff].to_vec();
        }
    }
    Ok((p, out))
}

/// `P(target.gold)` with layer `layer`'s activation vector at `target.pos` replaced by
/// `values`, and its gradient with respect to those values (the integrated-gradients leaf).
///
/// # Shapes
/// - `values`: `[d_ff]` -> `(P, [d_ff])`
///
/// # Errors
/// A plain (non-autodiff) model, a layer outside the model, `values` not `d_ff` long, a
/// bad target.
pub fn replaced_prob<M: FfnModel + ?Sized>(
    model: &M,
    target: &Target,
    layer: usize,
    values: &[f32],
) -> Result<(f32, Vec<f32>), KnError> {
    check_layer(model, layer)?;
    let (p, g) = leaf_pass(
        model,
        &[LeafRow {
            target,
            layer,
            values: values.to_vec(),
        }],
    )?;
    Ok((p[0], g.into_iter().next().unwrap_or_default()))
}

/// Integrated-gradients attributions of every neuron of each layer in `layers` for each
/// target, in one batched pass of `targets.len() · layers.len() · m` rows.
///
/// # Shapes
/// - returns `[targets.len()][layers.len()][d_ff]`
///
/// # Errors
/// `m = 0`, a layer outside the model, an empty prompt, a position outside its prompt, a
/// token outside the vocabulary, or a plain (non-autodiff) model.
pub fn ig_batch<M: FfnModel + ?Sized>(
    model: &M,
    targets: &[Target],
    layers: &[usize],
    cfg: &IgConfig,
) -> Result<Vec<Vec<Vec<f32>>>, KnError> {
    if cfg.steps == 0 {
        return Err(KnError::ZeroSteps);
    }
    for &l in layers {
        check_layer(model, l)?;
    }
    if targets.is_empty() || layers.is_empty() {
        return Ok(vec![vec![]; targets.len()]);
    }
    let seqs: Vec<Vec<u32>> = targets.iter().map(|t| t.ids.clone()).collect();
    let at: Vec<(usize, usize)> = targets
        .iter()
        .enumerate()
        .map(|(i, t)| (i, t.pos))
        .collect();
    let acts = activations_at(model, &seqs, &at)?; // [targets][L][d_ff]
    let alphas = cfg.rule.alphas(cfg.steps);
    let m = cfg.steps;
    let mut rows = Vec::with_capacity(targets.len() * layers.len() * m);
    for (t, target) in targets.iter().enumerate() {
        for &l in layers {
            for &alpha in &alphas {
                rows.push(LeafRow {
                    target,
                    layer: l,
                    values: acts[t][l].iter().map(|a| alpha * a).collect(),
                });
            }
        }
    }
    let (_, grads) = leaf_pass(model, &rows)?;
    let mut out = Vec::with_capacity(targets.len());
    let mut k = 0;
    for (t, _) in targets.iter().enumerate() {
        let mut per_layer = Vec::with_capacity(layers.len());
        for &l in layers {
            let a = &acts[t][l];
            let mut sum = vec![0f64; a.len()];
            for g in &grads[k..k + m] {
                for (s, gi) in sum.iter_mut().zip(g) {
                    *s += f64::from(*gi);
                }
            }
            k += m;
            per_layer.push(
                a.iter()
                    .zip(&sum)
                    .map(|(ai, si)| (f64::from(*ai) * si / m as f64) as f32)
                    .collect(),
            );
        }
        out.push(per_layer);
    }
    Ok(out)
}

/// Attributions of the neurons of `layer` for predicting `gold` after `prompt`.
///
/// # Shapes
/// - returns `[d_ff]`
///
/// # Errors
/// As [`ig_batch`].
pub fn ig_attribution<M: FfnModel + ?Sized>(
    model: &M,
    prompt: &[u32],
    gold: u32,
    layer: usize,
    cfg: &IgConfig,
) -> Result<Vec<f32>, KnError> {
    let t = Target::last(prompt.to_vec(), gold);
    Ok(ig_batch(model, &[t], &[layer], cfg)?.remove(0).remove(0))
}

/// Attributions of every neuron of every layer for predicting `gold` after `prompt`.
///
/// # Shapes
/// - returns `[n_layers][d_ff]`
///
/// # Errors
/// As [`ig_batch`].
pub fn ig_all_layers<M: FfnModel + ?Sized>(
    model: &M,
    prompt: &[u32],
    gold: u32,
    cfg: &IgConfig,
) -> Result<Vec<Vec<f32>>, KnError> {
    let layers: Vec<usize> = (0..model.n_layers()).collect();
    let t = Target::last(prompt.to_vec(), gold);
    Ok(ig_batch(model, &[t], &layers, cfg)?.remove(0))
}

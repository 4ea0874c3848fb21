//! Activation edits on knowledge neurons (Dai et al.'s `imp_op` in `src/custom_bert.py`,
//! EleutherAI's `patch.py`): suppress sets the chosen activations to 0, enhance doubles them
//! (`enhance_value = 2.0`), at chosen positions, during scoring and greedy decoding.
//!
//! Edits are [`FfnPatch::ScaleCells`] patches, so every other activation passes through bit
//! for bit. [`EditedLm`] wraps a model with per-row edits and implements
//! [`CausalLm`], so `repro_core`'s greedy decoding runs under the edits: positions not yet
//! generated are skipped, and an edit at a position applies on every later decoding step
//! (each step recomputes the whole sequence), as a cached decoder's would.
//!
//! ```
//! use burn::tensor::Device;
//! use repro_core::nn::decoder::DecoderConfig;
//! use repro_factual_recall::attribution::Neuron;
//! use repro_factual_recall::edit::{Edit, Intervention, Probe, gold_probs};
//!
//! let device = Device::flex();
//! let model = DecoderConfig::new(10).with_d_model(16).with_n_heads(2).init(&device);
//! let probe = Probe::last(vec![1, 2, 3], 4);
//! let kn = vec![Neuron::new(1, 5), Neuron::new(1, 9)];
//! let suppress = vec![Intervention { neurons: kn, positions: vec![2], edit: Edit::Suppress }];
//! let p = gold_probs(&model, &[probe.clone(), probe], &[vec![], suppress])?;
//! assert!(p[0] > 0.0 && p[1] > 0.0 && p[0] != p[1]); // the edit changed P(gold)
//! # Ok::<(), repro_factual_recall::KnError>(())
//! ```

use std::collections::BTreeMap;

use burn::tensor::activation::softmax;
use burn::tensor::{Int, Tensor};
use repro_core::host;
use repro_core::lm::CausalLm;
use repro_core::nn::decoder::{AttnMask, FfnCell, FfnHooks, FfnPatch};
use serde::{Deserialize, Serialize};

use crate::attribution::{FfnModel, Neuron, padded_ids, rows_at};
use crate::error::KnError;

/// What an edit does to the chosen activations.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub enum Edit {
    /// Multiply by 0 (Dai et al.'s suppression).
    Suppress,
    /// Multiply by 2 (Dai et al.'s `enhance_value = 2.0`).
    Enhance,
    /// Multiply by a factor.
    Scale(f32),
}

impl Edit {
    /// The factor the activations are multiplied by.
    pub fn factor(self) -> f32 {
        match self {
            Self::Suppress => 0.0,
            Self::Enhance => 2.0,
            Self::Scale(f) => f,
        }
    }
}

/// An edit of `neurons` at `positions` (absolute positions in the row's sequence).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Intervention {
    /// The neurons.
    pub neurons: Vec<Neuron>,
    /// Positions where they are edited.
    pub positions: Vec<usize>,
    /// The edit.
    pub edit: Edit,
}

/// A model with per-row activation edits; rows of a batch get `edits[row]` (or `edits[0]`
/// for every row when only one list is given).
#[derive(Debug, Clone)]
pub struct EditedLm<'a, M: ?Sized> {
    model: &'a M,
    edits: Vec<Vec<Intervention>>,
}

impl<'a, M: FfnModel + ?Sized> EditedLm<'a, M> {
    /// Wraps `model`; checks every neuron against the model's layers and width.
    ///
    /// # Errors
    /// A neuron outside the model.
    pub fn new(model: &'a M, edits: Vec<Vec<Intervention>>) -> Result<Self, KnError> {
        let (n_layers, d_ff) = (model.n_layers(), model.d_ff());
        for n in edits.iter().flatten().flat_map(|iv| &iv.neurons) {
            let (layer, index) = (n.layer as usize, n.index as usize);
            if layer >= n_layers {
                return Err(KnError::LayerOutOfRange { layer, n_layers });
            }
            if index >= d_ff {
                return Err(KnError::NeuronOutOfRange { layer, index, d_ff });
            }
        }
        Ok(Self { model, edits })
    }

    /// The hooks for a `[batch, T]` input: one `ScaleCells` patch per edited layer; a cell
    /// edited twice gets the product of the factors; positions `≥ T` are skipped.
    fn hooks(&self, batch: usize, t: usize) -> FfnHooks {
        let device = self.model.device();
        let mut per_layer: BTreeMap<usize, BTreeMap<FfnCell, f32>> = BTreeMap::new();
        for row in 0..batch {
            let list = match self.edits.len() {
                0 => continue,
                1 => &self.edits[0],
                _ => match self.edits.get(row) {
                    Some(l) => l,
                    None => continue,
                },
            };
            for iv in list {
                let f = iv.edit.factor();
                for &pos in iv.positions.iter().filter(|&&p| p < t) {
                    for n in &iv.neurons {
                        let cell = (row, pos, n.index as usize);
                        *per_layer
                            .entry(n.layer as usize)
                            .or_default()
                            .entry(cell)
                            .or_insert(1.0) *= f;
                    }
                }
            }
        }
        let mut hooks = FfnHooks::none();
        for (layer, cells) in per_layer {
            let (cells, factors): (Vec<FfnCell>, Vec<f32>) = cells.into_iter().unzip();
            hooks = hooks.with_patch(FfnPatch::ScaleCells {
                layer,
                cells,
                factors: host::vector(factors, &device),
            });
        }
        hooks
    }

    /// Logits under the edits.
    ///
    /// # Shapes
    /// - `ids`: `[batch, T]` -> `[batch, T, vocab]`
    ///
    /// # Errors
    /// What the model rejects.
    pub fn try_logits(&self, ids: Tensor<2, Int>) -> Result<Tensor<3>, KnError> {
        let [b, t] = ids.dims();
        let mut hooks = self.hooks(b, t);
        Ok(self.model.ffn_logits(ids, &mut hooks)?)
    }
}

impl<M: FfnModel + ?Sized> CausalLm for EditedLm<'_, M> {
    /// # Panics
    /// If the model rejects the input (greedy decoding checks lengths first), or
    /// `start_pos ≠ 0` or a non-causal mask is asked for (edits are at absolute positions
    /// of a causal pass).
    fn logits(&self, ids: Tensor<2, Int>, start_pos: usize, mask: &AttnMask) -> Tensor<3> {
        assert!(
            start_pos == 0 && mask.is_causal(),
            "EditedLm runs causal passes from position 0"
        );
        self.try_logits(ids).unwrap_or_else(|e| panic!("{e}"))
    }

    fn max_len(&self) -> Option<usize> {
        self.model.max_len()
    }
}

/// A sequence and the token whose probability is read at position `pos`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Probe {
    /// Token ids.
    pub ids: Vec<u32>,
    /// Position whose next-token distribution is read.
    pub pos: usize,
    /// The token of interest.
    pub gold: u32,
}

impl Probe {
    /// The next token after the whole sequence.
    pub fn last(ids: Vec<u32>, gold: u32) -> Self {
        let pos = ids.len().saturating_sub(1);
        Self { ids, pos, gold }
    }
}

/// The next-token prediction at a probe's position.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct NextToken {
    /// Most likely token (ties to the lowest id).
    pub argmax: u32,
    /// Probability of the probe's gold token.
    pub p_gold: f32,
}

/// Rows per forward pass in the batched functions.
const CHUNK: usize = 512;

/// The prediction at each probe's position under per-probe edits (`edits[i]` for probe `i`,
/// or `edits[0]` for all, or none when `edits` is empty), in batches of 512 probes.
///
/// # Errors
/// An empty sequence, a position or gold token out of range, a neuron outside the model,
/// `edits` neither empty, of length 1 nor of the probes' length.
pub fn next_tokens<M: FfnModel + ?Sized>(
    model: &M,
    probes: &[Probe],
    edits: &[Vec<Intervention>],
) -> Result<Vec<NextToken>, KnError> {
    if edits.len() > 1 && edits.len() != probes.len() {
        return Err(KnError::Shape(format!(
            "{} edit lists for {} probes",
            edits.len(),
            probes.len()
        )));
    }
    let mut out = Vec::with_capacity(probes.len());
    for (c, chunk) in probes.chunks(CHUNK).enumerate() {
        for (i, p) in chunk.iter().enumerate() {
            if p.ids.is_empty() {
                return Err(KnError::EmptyPrompt {
                    index: c * CHUNK + i,
                });
            }
            if p.pos >= p.ids.len() {
                return Err(KnError::PositionOutOfRange {
                    row: c * CHUNK + i,
                    pos: p.pos,
                    len: p.ids.len(),
                });
            }
        }
        let lists = if edits.len() > 1 {
            edits[c * CHUNK..c * CHUNK + chunk.len()].to_vec()
        } else {
            edits.to_vec()
        };
        let lm = EditedLm::new(model, lists)?;
        let seqs: Vec<&[u32]> = chunk.iter().map(|p| p.ids.as_slice()).collect();
        let logits = lm.try_logits(padded_ids(&seqs, &model.device()))?;
        let at: Vec<(usize, usize)> = chunk.iter().enumerate().map(|(i, p)| (i, p.pos)).collect();
        let probs = host::to_vec(softmax(rows_at(logits, &at), 1).without_autodiff());
        let v = probs.len() / chunk.len().max(1);
        for (p, row) in chunk.iter().zip(probs.chunks(v)) {
            let g = p.gold as usize;
            if g >= v {
                return Err(KnError::TokenOutOfRange {
                    id: p.gold,
                    vocab: v,
                });
            }
            let argmax = (1..v).fold(0, |m, j| if row[j] > row[m] { j } else { m });
            out.push(NextToken {
                argmax: argmax as u32,
                p_gold: row[g],
            });
        }
    }
    Ok(out)
}

/// `P(gold)` at each probe's position under per-probe edits (see [`next_tokens`]).
///
/// # Errors
/// As [`next_tokens`].
pub fn gold_probs<M: FfnModel + ?Sized>(
    model: &M,
    probes: &[Probe],
    edits: &[Vec<Intervention>],
) -> Result<Vec<f32>, KnError> {
    Ok(next_tokens(model, probes, edits)?
        .into_iter()
        .map(|n| n.p_gold)
        .collect())
}

/// `P(gold)` after `prompt` under the interventions.
///
/// # Errors
/// As [`next_tokens`].
pub fn gold_prob<M: FfnModel + ?Sized>(
    model: &M,
    prompt: &[u32],
    gold: u32,
    iv: &[Intervention],
) -> Result<f32, KnError> {
    let probe = Probe::last(prompt.to_vec(), gold);
    Ok(gold_probs(model, &[probe], &[iv.to_vec()])?[0])
}

/// Greedy decoding of `n_new` tokens after each prompt under per-prompt edits (`edits[i]`,
/// `edits[0]` for all, or none), through [`CausalLm::greedy`]. Prompts of equal length are
/// decoded together.
///
/// # Errors
/// An empty prompt, prompts plus new tokens longer than the model, a neuron outside the
/// model, `edits` of the wrong length.
pub fn greedy_decode<M: FfnModel + ?Sized>(
    model: &M,
    prompts: &[Vec<u32>],
    n_new: usize,
    edits: &[Vec<Intervention>],
) -> Result<Vec<Vec<u32>>, KnError> {
    if edits.len() > 1 && edits.len() != prompts.len() {
        return Err(KnError::Shape(format!(
            "{} edit lists for {} prompts",
            edits.len(),
            prompts.len()
        )));
    }
    let mut by_len: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
    for (i, p) in prompts.iter().enumerate() {
        if p.is_empty() {
            return Err(KnError::EmptyPrompt { index: i });
        }
        by_len.entry(p.len()).or_default().push(i);
    }
    let mut out = vec![Vec::new(); prompts.len()];
    for rows in by_len.values() {
        for chunk in rows.chunks(CHUNK) {
            let lists: Vec<Vec<Intervention>> = match edits.len() {
                0 => vec![],
                1 => edits.to_vec(),
                _ => chunk.iter().map(|&i| edits[i].clone()).collect(),
            };
            let lm = EditedLm::new(model, lists)?;
            let seqs: Vec<&[u32]> = chunk.iter().map(|&i| prompts[i].as_slice()).collect();
            let ids = padded_ids(&seqs, &model.device());
            let decoded = lm.greedy(ids, n_new, None)?;
            for (&i, d) in chunk.iter().zip(decoded) {
                out[i] = d;
            }
        }
    }
    Ok(out)
}

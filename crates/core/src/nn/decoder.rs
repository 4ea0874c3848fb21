//! A small decoder-only transformer: token embeddings or a linear read-in, the
//! [`TransformerStack`](super::transformer::TransformerStack)'s pre-LayerNorm blocks and
//! final LayerNorm, and a linear read-out.
//!
//! [`Decoder`] keeps its own fields (`embed`, `read_in`, `pos_embed`, `rope`, `blocks`,
//! `ln_final`, `head`) rather than nesting a stack, so checkpoints keep their parameter paths
//! and the same seed draws the same weights; its forward is the stack's. The mask, position
//! and hook types live in [`transformer`](super::transformer) and [`hooks`](super::hooks)
//! and are re-exported here.
//!
//! ```
//! use burn::tensor::{Device, Int, Tensor};
//! use repro_core::nn::decoder::{AttnMask, DecoderConfig, DecoderInput, FfnHooks};
//! let device = Device::flex();
//! let model = DecoderConfig::new(16).with_d_model(32).init(&device);
//! let ids = Tensor::<2, Int>::from_ints([[1, 2, 3, 4]], &device);
//! let logits = model.forward(DecoderInput::Tokens(ids), 0, &AttnMask::Causal, &mut FfnHooks::none());
//! assert_eq!(logits.dims(), [1, 4, 16]);
//! ```

use burn::config::Config;
use burn::module::Module;
use burn::nn::{Embedding, EmbeddingConfig, LayerNorm, Linear, LinearConfig, RotaryEncoding};
use burn::tensor::{Device, Int, Tensor};

use super::NnError;
pub use super::hooks::{CellRecord, FfnCell, FfnHooks, FfnPatch};
pub use super::transformer::{AttnMask, Block, Positions};
use super::transformer::{StackRef, TransformerStackConfig};

/// Configuration of [`Decoder`].
#[derive(Config, Debug)]
pub struct DecoderConfig {
    /// Vocabulary size for token input and logits (0 with vector input and `d_out > 0`).
    pub vocab_size: usize,
    /// Width of real-valued input vectors; 0 means token input.
    #[config(default = 0)]
    pub d_in: usize,
    /// Output width; 0 means vocabulary logits.
    #[config(default = 0)]
    pub d_out: usize,
    /// Residual width.
    #[config(default = 64)]
    pub d_model: usize,
    /// Attention heads (`d_model` must be a multiple).
    #[config(default = 4)]
    pub n_heads: usize,
    /// Blocks.
    #[config(default = 2)]
    pub n_layers: usize,
    /// MLP hidden width; 0 means `4 * d_model`.
    #[config(default = 0)]
    pub d_ff: usize,
    /// Position encoding.
    #[config(default = "Positions::Rope { base: 10000.0 }")]
    pub positions: Positions,
    /// Longest sequence (RoPE table or learned embeddings).
    #[config(default = 4096)]
    pub max_len: usize,
}

/// Input of [`Decoder::forward`].
#[derive(Debug, Clone)]
pub enum DecoderInput {
    /// Token ids `[batch, T]`.
    Tokens(Tensor<2, Int>),
    /// Real vectors `[batch, T, d_in]`.
    Vectors(Tensor<3>),
}

/// The decoder.
#[derive(Module, Debug)]
pub struct Decoder {
    relative_positions: bool,
    embed: Option<Embedding>,
    read_in: Option<Linear>,
    pos_embed: Option<Embedding>,
    rope: Option<RotaryEncoding>,
    blocks: Vec<Block>,
    ln_final: LayerNorm,
    head: Linear,
}

impl DecoderConfig {
    /// The stack inside the decoder: its widths, positions and `max_len`, Burn's
    /// initialisation, LayerNorm epsilon `1e-5` and a final LayerNorm.
    pub fn stack_config(&self) -> TransformerStackConfig {
        TransformerStackConfig::new(self.d_model)
            .with_n_heads(self.n_heads)
            .with_n_layers(self.n_layers)
            .with_d_ff(self.d_ff)
            .with_positions(self.positions.clone())
            .with_max_len(self.max_len)
    }

    /// Checks the configuration.
    ///
    /// # Errors
    /// What [`TransformerStackConfig::check`] rejects, or neither tokens nor vectors
    /// configured as input or output.
    pub fn check(&self) -> Result<(), NnError> {
        self.stack_config().check()?;
        if self.d_out == 0 && self.vocab_size == 0 {
            return Err(NnError::Config("decoder needs vocab_size or d_out".into()));
        }
        if self.d_in == 0 && self.vocab_size == 0 {
            return Err(NnError::Config("decoder needs vocab_size or d_in".into()));
        }
        Ok(())
    }

    /// Builds the model.
    ///
    /// # Errors
    /// What [`DecoderConfig::check`] rejects.
    pub fn try_init(&self, device: &Device) -> Result<Decoder, NnError> {
        self.check()?;
        let stack = self.stack_config();
        let d_out = if self.d_out == 0 {
            self.vocab_size
        } else {
            self.d_out
        };
        let lin = |i, o| LinearConfig::new(i, o).init(device);
        let (rope, pos_embed) = stack.init_positions(device);
        Ok(Decoder {
            relative_positions: self.positions != Positions::Learned,
            embed: (self.d_in == 0)
                .then(|| EmbeddingConfig::new(self.vocab_size, self.d_model).init(device)),
            read_in: (self.d_in > 0).then(|| lin(self.d_in, self.d_model)),
            pos_embed,
            rope,
            blocks: stack.init_blocks(device),
            ln_final: stack.init_final_norm(device),
            head: lin(self.d_model, d_out),
        })
    }

    /// Builds the model.
    ///
    /// # Panics
    /// If [`DecoderConfig::check`] fails: `d_model` not a multiple of `n_heads`, an odd
    /// head width with RoPE, or neither tokens nor vectors configured as input or output.
    pub fn init(&self, device: &Device) -> Decoder {
        self.try_init(device).unwrap_or_else(|e| panic!("{e}"))
    }
}

impl Decoder {
    fn stack(&self) -> StackRef<'_> {
        StackRef {
            pos_embed: self.pos_embed.as_ref(),
            rope: self.rope.as_ref(),
            blocks: &self.blocks,
            ln_final: Some(&self.ln_final),
        }
    }

    /// Runs the model on positions `start_pos..start_pos + T`, after checking the input,
    /// mask and hooks.
    ///
    /// `start_pos` offsets RoPE or learned positions, so a window cut from a longer
    /// sequence can keep its absolute positions (with RoPE only relative positions matter).
    ///
    /// # Shapes
    /// - input: tokens `[batch, T]` or vectors `[batch, T, d_in]`
    /// - returns `[batch, T, vocab_size]` logits (or `[batch, T, d_out]`)
    ///
    /// # Errors
    /// The input kind does not match the configuration, vectors are not `d_in` wide, the
    /// batch or sequence is empty, `start_pos + T` exceeds `max_len`, or what
    /// [`AttnMask::check`] and [`FfnHooks::check`] reject.
    pub fn try_forward(
        &self,
        input: DecoderInput,
        start_pos: usize,
        mask: &AttnMask,
        hooks: &mut FfnHooks,
    ) -> Result<Tensor<3>, NnError> {
        let stack = self.stack();
        let [b, t] = match (&input, &self.embed, &self.read_in) {
            (DecoderInput::Tokens(ids), Some(_), _) => ids.dims(),
            (DecoderInput::Vectors(v), _, Some(r)) => {
                let [b, t, d] = v.dims();
                let d_in = r.weight.lazy_shape()[0];
                if d != d_in {
                    return Err(NnError::InputShape {
                        expected: format!("[batch, T, {d_in}]"),
                        got: vec![b, t, d],
                    });
                }
                [b, t]
            }
            _ => return Err(NnError::InputKind),
        };
        stack.check([b, t], start_pos, mask, hooks)?;
        let x = match (input, &self.embed, &self.read_in) {
            (DecoderInput::Tokens(ids), Some(e), _) => e.forward(ids),
            (DecoderInput::Vectors(v), _, Some(r)) => r.forward(v),
            _ => return Err(NnError::InputKind),
        }; // [batch, T, d_model]
        Ok(self.head.forward(stack.forward(x, start_pos, mask, hooks)))
    }

    /// [`Decoder::try_forward`], panicking on its errors.
    ///
    /// # Shapes
    /// - input: tokens `[batch, T]` or vectors `[batch, T, d_in]`
    /// - returns `[batch, T, vocab_size]` logits (or `[batch, T, d_out]`)
    ///
    /// # Panics
    /// If the input kind does not match the configuration, `start_pos + T` exceeds
    /// `max_len`, or another error of [`Decoder::try_forward`].
    pub fn forward(
        &self,
        input: DecoderInput,
        start_pos: usize,
        mask: &AttnMask,
        hooks: &mut FfnHooks,
    ) -> Tensor<3> {
        self.try_forward(input, start_pos, mask, hooks)
            .unwrap_or_else(|e| panic!("{e}"))
    }

    /// Whether outputs depend on relative positions only (RoPE, or no positions).
    pub fn relative_positions(&self) -> bool {
        self.relative_positions
    }

    /// Number of blocks.
    pub fn n_layers(&self) -> usize {
        self.blocks.len()
    }

    /// The blocks, in order.
    pub fn blocks(&self) -> &[Block] {
        &self.blocks
    }

    /// Longest `start_pos + T` (the RoPE table or learned embeddings), `None` without
    /// positions.
    pub fn max_len(&self) -> Option<usize> {
        self.stack().max_len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::device::{init_params_now, seed, seed_lock};
    use burn::tensor::{Bool, TensorData, Tolerance};

    fn model(layers: usize, positions: Positions) -> Decoder {
        let device = Device::flex();
        seed(&device, 3);
        init_params_now(
            DecoderConfig::new(11)
                .with_d_model(16)
                .with_n_heads(2)
                .with_n_layers(layers)
                .with_positions(positions)
                .with_max_len(64)
                .init(&device),
        )
    }

    fn ids(v: &[i64]) -> Tensor<2, Int> {
        Tensor::from_data(TensorData::new(v.to_vec(), [1, v.len()]), &Device::flex())
    }

    fn run(m: &Decoder, v: &[i64], start: usize, mask: &AttnMask) -> Tensor<3> {
        m.forward(
            DecoderInput::Tokens(ids(v)),
            start,
            mask,
            &mut FfnHooks::none(),
        )
    }

    const SEQ: [i64; 10] = [1, 5, 2, 7, 3, 3, 9, 0, 4, 6];

    #[test]
    fn causal_mask_blocks_the_future() {
        let _g = seed_lock();
        let m = model(2, Positions::Rope { base: 10000.0 });
        let a = run(&m, &SEQ, 0, &AttnMask::Causal);
        let mut changed = SEQ;
        changed[6] = 10;
        let b = run(&m, &changed, 0, &AttnMask::Causal);
        let tol = Tolerance::<f32>::absolute(1e-5);
        a.clone()
            .slice([0..1, 0..6])
            .into_data()
            .assert_approx_eq::<f32>(&b.clone().slice([0..1, 0..6]).into_data(), tol);
        let diff = (a.slice([0..1, 6..7]) - b.slice([0..1, 6..7]))
            .abs()
            .max()
            .into_scalar::<f32>();
        assert!(diff > 1e-4, "position 6 must see its own token");
    }

    #[test]
    fn one_layer_band_equals_truncated_context() {
        let _g = seed_lock();
        let m = model(1, Positions::Rope { base: 10000.0 });
        let w = 3;
        let banded = run(&m, &SEQ, 0, &AttnMask::Banded { window: w });
        // Target at position 7 with a band of 3 sees tokens 5..=7: a forward over exactly
        // that window, at its absolute positions, must agree.
        let window = run(&m, &SEQ[5..8], 5, &AttnMask::Causal);
        banded
            .slice([0..1, 7..8])
            .into_data()
            .assert_approx_eq::<f32>(
                &window.clone().slice([0..1, 2..3]).into_data(),
                Tolerance::absolute(1e-5),
            );
        // RoPE depends on relative positions only: restarting the window at 0 is the same.
        let restarted = run(&m, &SEQ[5..8], 0, &AttnMask::Causal);
        window
            .into_data()
            .assert_approx_eq::<f32>(&restarted.into_data(), Tolerance::absolute(1e-4));
    }

    #[test]
    fn two_layer_band_reaches_further_than_its_window() {
        let _g = seed_lock();
        let m = model(2, Positions::Rope { base: 10000.0 });
        let w = 3;
        let base = run(&m, &SEQ, 0, &AttnMask::Banded { window: w });
        // Receptive field 2 * (3 - 1) + 1 = 5: position 9 sees 5..=9 but not 4.
        let mut near = SEQ;
        near[5] = 10;
        let mut far = SEQ;
        far[4] = 10;
        let d = |x: Tensor<3>| {
            (x.slice([0..1, 9..10]) - base.clone().slice([0..1, 9..10]))
                .abs()
                .max()
                .into_scalar::<f32>()
        };
        assert!(d(run(&m, &near, 0, &AttnMask::Banded { window: w })) > 1e-4);
        assert!(d(run(&m, &far, 0, &AttnMask::Banded { window: w })) < 1e-5);
    }

    #[test]
    fn hooks_record_and_patch() {
        let _g = seed_lock();
        let m = model(2, Positions::Learned);
        let mut hooks = FfnHooks::recording();
        let a = m.forward(
            DecoderInput::Tokens(ids(&SEQ)),
            0,
            &AttnMask::Causal,
            &mut hooks,
        );
        assert_eq!(hooks.recorded.len(), 2);
        assert_eq!(hooks.recorded[0].dims(), [1, 10, 64]);
        // Scaling by ones changes nothing; zeroing layer 1's MLP changes the output.
        let ones = Tensor::<3>::ones([1, 10, 64], &Device::flex());
        let mut same = FfnHooks {
            patches: vec![FfnPatch::Scale {
                layer: 1,
                factors: ones.clone(),
            }],
            ..FfnHooks::none()
        };
        let b = m.forward(
            DecoderInput::Tokens(ids(&SEQ)),
            0,
            &AttnMask::Causal,
            &mut same,
        );
        a.clone()
            .into_data()
            .assert_approx_eq::<f32>(&b.into_data(), Tolerance::absolute(1e-6));
        let mut zero = FfnHooks {
            patches: vec![FfnPatch::Replace {
                layer: 1,
                values: ones.zeros_like(),
            }],
            ..FfnHooks::none()
        };
        let c = m.forward(
            DecoderInput::Tokens(ids(&SEQ)),
            0,
            &AttnMask::Causal,
            &mut zero,
        );
        assert!((a - c).abs().max().into_scalar::<f32>() > 1e-4);
    }

    #[test]
    fn vector_input_and_explicit_mask() {
        let _rng = crate::device::seed_lock(); // Burn's generator is process-wide
        let device = Device::flex();
        let m = DecoderConfig::new(0)
            .with_d_in(5)
            .with_d_out(2)
            .with_d_model(8)
            .with_n_heads(2)
            .with_max_len(16)
            .init(&device);
        let x = Tensor::<3>::ones([2, 4, 5], &device);
        let causal = m.forward(
            DecoderInput::Vectors(x.clone()),
            0,
            &AttnMask::Causal,
            &mut FfnHooks::none(),
        );
        assert_eq!(causal.dims(), [2, 4, 2]);
        // An explicit lower-triangular mask is the causal mask.
        let blocked: Vec<bool> = (0..2 * 16).map(|k| (k % 16) % 4 > (k % 16) / 4).collect();
        let mask = Tensor::<3, Bool>::from_data(TensorData::new(blocked, [2, 4, 4]), &device);
        let explicit = m.forward(
            DecoderInput::Vectors(x),
            0,
            &AttnMask::Explicit(Box::new(mask)),
            &mut FfnHooks::none(),
        );
        causal
            .into_data()
            .assert_approx_eq::<f32>(&explicit.into_data(), Tolerance::absolute(1e-5));
    }
}

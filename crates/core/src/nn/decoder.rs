//! A small decoder-only transformer: pre-LayerNorm blocks of multi-head self-attention and
//! a GELU MLP, a final LayerNorm and a linear read-out.
//!
//! Written from `Linear`, `LayerNorm`, `RotaryEncoding` and Burn's `attention` rather than
//! `burn::nn::transformer`, which exposes neither RoPE inside attention nor the FFN
//! activations that attribution methods read and patch ([`FfnHooks`]).
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
use burn::nn::{
    Embedding, EmbeddingConfig, LayerNorm, LayerNormConfig, Linear, LinearConfig, RotaryEncoding,
    RotaryEncodingConfig,
};
use burn::tensor::activation::gelu;
use burn::tensor::module::attention;
use burn::tensor::ops::AttentionModuleOptions;
use burn::tensor::{Bool, Device, Int, Tensor, TensorData};

/// How positions enter the model.
#[derive(Config, Debug, PartialEq)]
pub enum Positions {
    /// Rotary embeddings on queries and keys (RoFormer pair layout, Burn's).
    Rope {
        /// Frequency base.
        base: f32,
    },
    /// Learned absolute position embeddings added to the input.
    Learned,
}

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

/// Which keys each query may attend to. Positions are absolute within the sequence.
#[derive(Debug, Clone)]
pub enum AttnMask {
    /// Query `q` sees keys `j <= q`.
    Causal,
    /// Query `q` sees keys `q - window < j <= q`. With `L` layers the receptive field of a
    /// position is `L * (window - 1) + 1` tokens: a band is a truncated context only when
    /// `L = 1`.
    Banded {
        /// Keys visible to each query, itself included.
        window: usize,
    },
    /// `[batch, T, T]`, true where attention is blocked (Burn's convention).
    Explicit(Box<Tensor<3, Bool>>),
}

/// Per-layer access to the MLP's post-GELU activations `[batch, T, d_ff]`.
#[derive(Debug, Default)]
pub struct FfnHooks {
    /// Record each layer's activations into `recorded`.
    pub record: bool,
    /// Recorded activations, one per layer, in layer order.
    pub recorded: Vec<Tensor<3>>,
    /// Patches applied to the activations before the second MLP layer.
    pub patches: Vec<FfnPatch>,
}

/// A change to one layer's MLP activations.
#[derive(Debug, Clone)]
pub enum FfnPatch {
    /// Multiply the layer's activations elementwise by a `[batch, T, d_ff]` tensor.
    Scale {
        /// Layer index.
        layer: usize,
        /// Factors.
        factors: Tensor<3>,
    },
    /// Replace the layer's activations by a `[batch, T, d_ff]` tensor (a require-grad leaf
    /// here lets attribution differentiate through activations).
    Replace {
        /// Layer index.
        layer: usize,
        /// New activations.
        values: Tensor<3>,
    },
}

impl FfnHooks {
    /// No recording, no patches: adds no work.
    pub fn none() -> Self {
        Self::default()
    }

    /// Records every layer's activations.
    pub fn recording() -> Self {
        Self {
            record: true,
            ..Self::default()
        }
    }
}

/// Input of [`Decoder::forward`].
#[derive(Debug, Clone)]
pub enum DecoderInput {
    /// Token ids `[batch, T]`.
    Tokens(Tensor<2, Int>),
    /// Real vectors `[batch, T, d_in]`.
    Vectors(Tensor<3>),
}

/// One pre-LayerNorm block.
#[derive(Module, Debug)]
pub struct Block {
    ln_attn: LayerNorm,
    query: Linear,
    key: Linear,
    value: Linear,
    out: Linear,
    ln_mlp: LayerNorm,
    up: Linear,
    down: Linear,
    n_heads: usize,
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
    /// Builds the model.
    ///
    /// # Panics
    /// If `d_model` is not a multiple of `n_heads`, if the head width is odd with RoPE, or
    /// if neither tokens nor vectors are configured as input or output.
    pub fn init(&self, device: &Device) -> Decoder {
        assert!(
            self.n_heads > 0 && self.d_model.is_multiple_of(self.n_heads),
            "d_model {} not divisible by n_heads {}",
            self.d_model,
            self.n_heads
        );
        let d_head = self.d_model / self.n_heads;
        let d_ff = if self.d_ff == 0 {
            4 * self.d_model
        } else {
            self.d_ff
        };
        let d_out = if self.d_out == 0 {
            self.vocab_size
        } else {
            self.d_out
        };
        assert!(d_out > 0, "decoder needs vocab_size or d_out");
        assert!(
            self.d_in > 0 || self.vocab_size > 0,
            "decoder needs vocab_size or d_in"
        );
        let lin = |i, o| LinearConfig::new(i, o).init(device);
        let (rope, pos_embed) = match self.positions {
            Positions::Rope { base } => {
                assert!(
                    d_head.is_multiple_of(2),
                    "RoPE needs an even head width, got {d_head}"
                );
                (
                    Some(
                        RotaryEncodingConfig::new(self.max_len, d_head)
                            .with_theta(base)
                            .init(device),
                    ),
                    None,
                )
            }
            Positions::Learned => (
                None,
                Some(EmbeddingConfig::new(self.max_len, self.d_model).init(device)),
            ),
        };
        Decoder {
            relative_positions: matches!(self.positions, Positions::Rope { .. }),
            embed: (self.d_in == 0)
                .then(|| EmbeddingConfig::new(self.vocab_size, self.d_model).init(device)),
            read_in: (self.d_in > 0).then(|| lin(self.d_in, self.d_model)),
            pos_embed,
            rope,
            blocks: (0..self.n_layers)
                .map(|_| Block {
                    ln_attn: LayerNormConfig::new(self.d_model).init(device),
                    query: lin(self.d_model, self.d_model),
                    key: lin(self.d_model, self.d_model),
                    value: lin(self.d_model, self.d_model),
                    out: lin(self.d_model, self.d_model),
                    ln_mlp: LayerNormConfig::new(self.d_model).init(device),
                    up: lin(self.d_model, d_ff),
                    down: lin(d_ff, self.d_model),
                    n_heads: self.n_heads,
                })
                .collect(),
            ln_final: LayerNormConfig::new(self.d_model).init(device),
            head: lin(self.d_model, d_out),
        }
    }
}

impl AttnMask {
    /// The blocked-positions mask `[batch, heads, T, T]` for queries and keys at absolute
    /// positions `start..start + T`, or `None` for [`AttnMask::Causal`] (handled by the
    /// attention kernel).
    ///
    /// # Panics
    /// If an explicit mask's shape is not `[batch, T, T]`, or a band's window is zero.
    pub fn to_tensor(
        &self,
        batch: usize,
        heads: usize,
        t: usize,
        device: &Device,
    ) -> Option<Tensor<4, Bool>> {
        match self {
            Self::Causal => None,
            Self::Banded { window } => {
                assert!(*window > 0, "banded attention needs a positive window");
                let blocked: Vec<bool> = (0..t * t)
                    .map(|k| {
                        let (q, j) = (k / t, k % t);
                        j > q || j + window <= q
                    })
                    .collect();
                let m = Tensor::<2, Bool>::from_data(TensorData::new(blocked, [t, t]), device);
                Some(m.unsqueeze::<4>().expand([batch, heads, t, t]))
            }
            Self::Explicit(m) => {
                assert_eq!(
                    m.dims(),
                    [batch, t, t],
                    "explicit attention mask must be [batch, T, T]"
                );
                Some(m.clone().unsqueeze_dim::<4>(1).expand([batch, heads, t, t]))
            }
        }
    }
}

impl Block {
    /// # Shapes
    /// - `x`: `[batch, T, d_model]` -> `[batch, T, d_model]`
    fn forward(
        &self,
        x: Tensor<3>,
        start_pos: usize,
        mask: &AttnMask,
        rope: Option<&RotaryEncoding>,
        layer: usize,
        hooks: &mut FfnHooks,
    ) -> Tensor<3> {
        let [b, t, d] = x.dims();
        let h = self.n_heads;
        let dh = d / h;
        let split = |y: Tensor<3>| y.reshape([b, t, h, dh]).swap_dims(1, 2); // [b, h, t, dh]
        let n = self.ln_attn.forward(x.clone());
        let (mut q, mut k) = (
            split(self.query.forward(n.clone())),
            split(self.key.forward(n.clone())),
        );
        let v = split(self.value.forward(n));
        if let Some(rope) = rope {
            q = rope.apply(q, start_pos);
            k = rope.apply(k, start_pos);
        }
        let opts = AttentionModuleOptions {
            is_causal: matches!(mask, AttnMask::Causal),
            ..Default::default()
        };
        let ctx = attention(q, k, v, mask.to_tensor(b, h, t, &x.device()), None, opts); // [b, h, t, dh]
        let x = x + self.out.forward(ctx.swap_dims(1, 2).reshape([b, t, d]));

        let mut act = gelu(self.up.forward(self.ln_mlp.forward(x.clone()))); // [b, t, d_ff]
        for p in &hooks.patches {
            match p {
                FfnPatch::Scale { layer: l, factors } if *l == layer => act = act * factors.clone(),
                FfnPatch::Replace { layer: l, values } if *l == layer => act = values.clone(),
                _ => {}
            }
        }
        if hooks.record {
            hooks.recorded.push(act.clone());
        }
        x + self.down.forward(act)
    }
}

impl Decoder {
    /// Runs the model on positions `start_pos..start_pos + T`.
    ///
    /// `start_pos` offsets RoPE or learned positions, so a window cut from a longer
    /// sequence can keep its absolute positions (with RoPE only relative positions matter).
    ///
    /// # Shapes
    /// - input: tokens `[batch, T]` or vectors `[batch, T, d_in]`
    /// - returns `[batch, T, vocab_size]` logits (or `[batch, T, d_out]`)
    ///
    /// # Panics
    /// If the input kind does not match the configuration, or `start_pos + T` exceeds
    /// `max_len`.
    pub fn forward(
        &self,
        input: DecoderInput,
        start_pos: usize,
        mask: &AttnMask,
        hooks: &mut FfnHooks,
    ) -> Tensor<3> {
        let mut x = match (input, &self.embed, &self.read_in) {
            (DecoderInput::Tokens(ids), Some(e), _) => e.forward(ids),
            (DecoderInput::Vectors(v), _, Some(r)) => r.forward(v),
            _ => panic!(
                "decoder input kind does not match its configuration (tokens need vocab_size, vectors d_in)"
            ),
        };
        let [b, t, _] = x.dims();
        if let Some(pe) = &self.pos_embed {
            let pos: Vec<i64> = (start_pos..start_pos + t).map(|p| p as i64).collect();
            let pos = Tensor::<2, Int>::from_data(TensorData::new(pos, [1, t]), &x.device());
            x = x + pe
                .forward(pos)
                .expand([b, t, self.ln_final.gamma.dims()[0]]);
        }
        for (l, block) in self.blocks.iter().enumerate() {
            x = block.forward(x, start_pos, mask, self.rope.as_ref(), l, hooks);
        }
        self.head.forward(self.ln_final.forward(x))
    }

    /// Whether positions are rotary (outputs depend on relative positions only).
    pub fn relative_positions(&self) -> bool {
        self.relative_positions
    }

    /// Number of blocks.
    pub fn n_layers(&self) -> usize {
        self.blocks.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::device::{init_params_now, seed, seed_lock};
    use burn::tensor::Tolerance;

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

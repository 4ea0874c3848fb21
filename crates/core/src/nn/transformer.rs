//! Pre-LayerNorm transformer blocks and a stack of them over pre-embedded input: each
//! [`Block`] is `x + Attn(LN(x))` then `x + W2 GELU(W1 LN(x))`; the [`TransformerStack`]
//! adds positions (RoPE inside attention, learned embeddings added to the input, or none),
//! runs the blocks and, optionally, a final LayerNorm. Token embeddings and read-out heads
//! are the caller's ([`Decoder`](super::decoder::Decoder) is one such caller).
//!
//! Written from `Linear`, `LayerNorm`, `RotaryEncoding` and Burn's `attention` rather than
//! `burn::nn::transformer`, which exposes neither RoPE inside attention nor the FFN
//! activations that attribution methods read and patch ([`FfnHooks`]).
//!
//! Options a paper may need to match: the attention mask ([`AttnMask`], including
//! [`AttnMask::None`] for bidirectional encoders), the LayerNorm epsilon (Burn's `1e-5` by
//! default; MAE uses `1e-6`), the initialisation ([`WeightInit`]) and [`Positions::None`] for
//! models whose caller adds fixed position tables (MAE's 2-D sin-cos,
//! [`crate::patch`]).
//!
//! ```
//! use burn::tensor::{Device, Tensor};
//! use repro_core::nn::hooks::FfnHooks;
//! use repro_core::nn::transformer::{AttnMask, Positions, TransformerStackConfig, WeightInit};
//! let device = Device::flex();
//! // A small MAE-style encoder: no positions inside, bidirectional, eps 1e-6, Xavier.
//! let encoder = TransformerStackConfig::new(16)
//!     .with_n_heads(2)
//!     .with_n_layers(2)
//!     .with_positions(Positions::None)
//!     .with_layer_norm_eps(1e-6)
//!     .with_init(WeightInit::XavierUniform)
//!     .init(&device);
//! let x = Tensor::<3>::ones([2, 5, 16], &device); // [batch, T, d_model], already embedded
//! let h = encoder.forward(x, 0, &AttnMask::None, &mut FfnHooks::none());
//! assert_eq!(h.dims(), [2, 5, 16]);
//! ```

use burn::config::Config;
use burn::module::Module;
use burn::nn::{
    Embedding, EmbeddingConfig, Initializer, LayerNorm, LayerNormConfig, Linear, LinearConfig,
    RotaryEncoding, RotaryEncodingConfig,
};
use burn::tensor::activation::gelu;
use burn::tensor::module::attention;
use burn::tensor::ops::AttentionModuleOptions;
use burn::tensor::{Bool, Device, Int, Tensor, TensorData};

use super::NnError;
pub use super::hooks::{FfnHooks, FfnPatch};

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
    /// No positional information inside the model: the caller adds its own (a fixed table)
    /// or the model is a set function (permuting positions permutes outputs under
    /// [`AttnMask::None`]).
    None,
}

/// How [`Block`] weights are initialised. LayerNorms are always weight 1, bias 0.
#[derive(Config, Debug, PartialEq)]
pub enum WeightInit {
    /// Burn's `Linear` default: weights and biases `U(-k, k)`, `k = 1 / sqrt(d_in)`.
    Burn,
    /// Xavier-uniform weights `U(-a, a)`, `a = sqrt(6 / (fan_in + fan_out))`, zero biases:
    /// MAE's `_init_weights` (`xavier_uniform_` on every `nn.Linear`, `constant_(bias, 0)`).
    /// timm's attention projects q, k, v with one fused `[d, 3d]` layer, so here the three
    /// `[d, d]` projections use that layer's bound `sqrt(6 / (d + 3d))`.
    XavierUniform,
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
    /// Bidirectional: every query sees every key.
    None,
}

impl AttnMask {
    /// Whether the attention kernel's own causal masking is used.
    pub fn is_causal(&self) -> bool {
        matches!(self, Self::Causal)
    }

    /// Checks the mask against `batch` sequences of `t` positions.
    ///
    /// # Errors
    /// An explicit mask whose shape is not `[batch, t, t]`, or a band of window 0.
    pub fn check(&self, batch: usize, t: usize) -> Result<(), NnError> {
        match self {
            Self::Banded { window: 0 } => Err(NnError::ZeroWindow),
            Self::Explicit(m) if m.dims() != [batch, t, t] => Err(NnError::MaskShape {
                expected: [batch, t, t],
                got: m.dims().to_vec(),
            }),
            _ => Ok(()),
        }
    }

    /// The blocked-positions mask `[batch, heads, T, T]` for queries and keys at absolute
    /// positions `start..start + T`, or `None` for [`AttnMask::Causal`] (handled by the
    /// attention kernel, see [`AttnMask::is_causal`]) and [`AttnMask::None`] (nothing
    /// blocked).
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
            Self::Causal | Self::None => None,
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

/// Configuration of one [`Block`].
#[derive(Config, Debug)]
pub struct BlockConfig {
    /// Residual width.
    pub d_model: usize,
    /// Attention heads (`d_model` must be a multiple).
    #[config(default = 4)]
    pub n_heads: usize,
    /// MLP hidden width; 0 means `4 * d_model`.
    #[config(default = 0)]
    pub d_ff: usize,
    /// LayerNorm epsilon (Burn's and PyTorch's default; MAE uses 1e-6).
    #[config(default = 1e-5)]
    pub layer_norm_eps: f64,
    /// Weight initialisation.
    #[config(default = "WeightInit::Burn")]
    pub init: WeightInit,
}

/// One pre-LayerNorm block: multi-head self-attention, then a GELU MLP, each on a
/// LayerNorm of the residual stream and added back to it.
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

impl BlockConfig {
    /// The MLP width, `d_ff` or `4 * d_model` when it is 0.
    pub fn hidden_width(&self) -> usize {
        if self.d_ff == 0 {
            4 * self.d_model
        } else {
            self.d_ff
        }
    }

    /// Checks the widths.
    ///
    /// # Errors
    /// `d_model` zero or not a multiple of a positive `n_heads`.
    pub fn check(&self) -> Result<(), NnError> {
        if self.d_model == 0 || self.n_heads == 0 || !self.d_model.is_multiple_of(self.n_heads) {
            return Err(NnError::Config(format!(
                "d_model {} not divisible by n_heads {}",
                self.d_model, self.n_heads
            )));
        }
        Ok(())
    }

    /// Builds the block (parameters are drawn lazily, on first use, in field order:
    /// `ln_attn, query, key, value, out, ln_mlp, up, down`).
    ///
    /// # Panics
    /// If [`BlockConfig::check`] fails.
    pub fn init(&self, device: &Device) -> Block {
        if let Err(e) = self.check() {
            panic!("{e}");
        }
        let (d, d_ff) = (self.d_model, self.hidden_width());
        let ln = || {
            LayerNormConfig::new(d)
                .with_epsilon(self.layer_norm_eps)
                .init(device)
        };
        // `fans` are Xavier's (fan_in, fan_out); Burn's default ignores them.
        let lin = |i: usize, o: usize, fans: (usize, usize)| match self.init {
            WeightInit::Burn => LinearConfig::new(i, o).init(device),
            WeightInit::XavierUniform => Linear {
                weight: Initializer::XavierUniform { gain: 1.0 }.init_with(
                    [i, o],
                    Some(fans.0),
                    Some(fans.1),
                    device,
                ),
                bias: Some(Initializer::Zeros.init([o], device)),
            },
        };
        let qkv = (d, 3 * d); // timm's fused qkv projection (see WeightInit::XavierUniform)
        Block {
            ln_attn: ln(),
            query: lin(d, d, qkv),
            key: lin(d, d, qkv),
            value: lin(d, d, qkv),
            out: lin(d, d, (d, d)),
            ln_mlp: ln(),
            up: lin(d, d_ff, (d, d_ff)),
            down: lin(d_ff, d, (d_ff, d)),
            n_heads: self.n_heads,
        }
    }
}

impl Block {
    /// Attention heads.
    pub fn n_heads(&self) -> usize {
        self.n_heads
    }

    /// Residual width (read without initialising lazy parameters).
    pub fn d_model(&self) -> usize {
        self.ln_attn.gamma.lazy_shape()[0]
    }

    /// MLP hidden width: the last axis of the activations [`FfnHooks`] see.
    pub fn d_ff(&self) -> usize {
        self.up.weight.lazy_shape()[1]
    }

    /// Runs the block on positions `start_pos..start_pos + T`; `layer` is this block's index
    /// for `hooks`.
    ///
    /// # Shapes
    /// - `x`: `[batch, T, d_model]` -> `[batch, T, d_model]`
    ///
    /// # Panics
    /// If `x` is not `[batch, T, d_model]`, a RoPE table is shorter than
    /// `start_pos + T` or narrower than the head width, the mask fails
    /// [`AttnMask::check`], or a hook of this layer fails [`FfnPatch::check`]
    /// ([`TransformerStack::try_forward`] checks all of these and returns errors instead).
    ///
    /// ```
    /// use burn::tensor::{Device, Tensor};
    /// use repro_core::nn::hooks::FfnHooks;
    /// use repro_core::nn::transformer::{AttnMask, BlockConfig};
    /// let device = Device::flex();
    /// let block = BlockConfig::new(8).with_n_heads(2).with_d_ff(12).init(&device);
    /// let mut hooks = FfnHooks::recording();
    /// let x = Tensor::<3>::ones([2, 3, 8], &device);
    /// let y = block.forward(x, 0, &AttnMask::Causal, None, 0, &mut hooks);
    /// assert_eq!(y.dims(), [2, 3, 8]);
    /// assert_eq!(hooks.recorded[0].dims(), [2, 3, 12]); // [batch, T, d_ff]
    /// ```
    pub fn forward(
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
            is_causal: mask.is_causal(),
            ..Default::default()
        };
        let ctx = attention(q, k, v, mask.to_tensor(b, h, t, &x.device()), None, opts); // [b, h, t, dh]
        let x = x + self.out.forward(ctx.swap_dims(1, 2).reshape([b, t, d]));

        let act = gelu(self.up.forward(self.ln_mlp.forward(x.clone()))); // [b, t, d_ff]
        let act = hooks.apply(layer, act);
        x + self.down.forward(act)
    }
}

/// Configuration of a [`TransformerStack`].
#[derive(Config, Debug)]
pub struct TransformerStackConfig {
    /// Residual width.
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
    /// Longest sequence (RoPE table or learned embeddings; unused with no positions).
    #[config(default = 4096)]
    pub max_len: usize,
    /// LayerNorm epsilon, every norm including the final one.
    #[config(default = 1e-5)]
    pub layer_norm_eps: f64,
    /// Block weight initialisation (learned position embeddings keep Burn's `N(0, 1)`).
    #[config(default = "WeightInit::Burn")]
    pub init: WeightInit,
    /// Whether a LayerNorm follows the last block (pre-LN models have one).
    #[config(default = true)]
    pub final_norm: bool,
}

/// Blocks over pre-embedded input, with positions and an optional final LayerNorm; the
/// caller applies embeddings before and a head after.
#[derive(Module, Debug)]
pub struct TransformerStack {
    pos_embed: Option<Embedding>,
    rope: Option<RotaryEncoding>,
    blocks: Vec<Block>,
    ln_final: Option<LayerNorm>,
    d_model: usize,
}

impl TransformerStackConfig {
    /// The configuration of each block.
    pub fn block(&self) -> BlockConfig {
        BlockConfig::new(self.d_model)
            .with_n_heads(self.n_heads)
            .with_d_ff(self.d_ff)
            .with_layer_norm_eps(self.layer_norm_eps)
            .with_init(self.init.clone())
    }

    /// Checks the widths, the RoPE head width and `max_len`.
    ///
    /// # Errors
    /// What [`BlockConfig::check`] rejects, an odd head width with RoPE, or `max_len` 0
    /// with RoPE or learned positions.
    pub fn check(&self) -> Result<(), NnError> {
        self.block().check()?;
        let d_head = self.d_model / self.n_heads;
        if matches!(self.positions, Positions::Rope { .. }) && !d_head.is_multiple_of(2) {
            return Err(NnError::Config(format!(
                "RoPE needs an even head width, got {d_head}"
            )));
        }
        if self.positions != Positions::None && self.max_len == 0 {
            return Err(NnError::Config("max_len must be positive".into()));
        }
        Ok(())
    }

    /// Builds the stack.
    ///
    /// # Errors
    /// What [`TransformerStackConfig::check`] rejects.
    pub fn try_init(&self, device: &Device) -> Result<TransformerStack, NnError> {
        self.check()?;
        let (rope, pos_embed) = self.init_positions(device);
        Ok(TransformerStack {
            pos_embed,
            rope,
            blocks: self.init_blocks(device),
            ln_final: self.final_norm.then(|| self.init_final_norm(device)),
            d_model: self.d_model,
        })
    }

    /// Builds the stack.
    ///
    /// # Panics
    /// If [`TransformerStackConfig::check`] fails.
    pub fn init(&self, device: &Device) -> TransformerStack {
        self.try_init(device).unwrap_or_else(|e| panic!("{e}"))
    }

    /// The RoPE table or the learned position embeddings, as the configuration asks.
    pub(crate) fn init_positions(
        &self,
        device: &Device,
    ) -> (Option<RotaryEncoding>, Option<Embedding>) {
        match self.positions {
            Positions::Rope { base } => (
                Some(
                    RotaryEncodingConfig::new(self.max_len, self.d_model / self.n_heads)
                        .with_theta(base)
                        .init(device),
                ),
                None,
            ),
            Positions::Learned => (
                None,
                Some(EmbeddingConfig::new(self.max_len, self.d_model).init(device)),
            ),
            Positions::None => (None, None),
        }
    }

    /// The `n_layers` blocks.
    pub(crate) fn init_blocks(&self, device: &Device) -> Vec<Block> {
        let block = self.block();
        (0..self.n_layers).map(|_| block.init(device)).collect()
    }

    /// The final LayerNorm.
    pub(crate) fn init_final_norm(&self, device: &Device) -> LayerNorm {
        LayerNormConfig::new(self.d_model)
            .with_epsilon(self.layer_norm_eps)
            .init(device)
    }
}

/// The pieces of a stack, borrowed: a [`TransformerStack`] or the same fields of a
/// [`Decoder`](super::decoder::Decoder), so both run one forward.
pub(crate) struct StackRef<'a> {
    pub pos_embed: Option<&'a Embedding>,
    pub rope: Option<&'a RotaryEncoding>,
    pub blocks: &'a [Block],
    pub ln_final: Option<&'a LayerNorm>,
}

impl StackRef<'_> {
    /// Longest `start_pos + T`, `None` without a position table.
    pub fn max_len(&self) -> Option<usize> {
        match (self.rope, self.pos_embed) {
            (Some(rope), _) => Some(rope.freq_complex.dims()[0]),
            (None, Some(pe)) => Some(pe.weight.lazy_shape()[0]),
            (None, None) => None,
        }
    }

    /// Checks an input of `[batch, t, _]` at `start_pos` with `mask` and `hooks`.
    pub fn check(
        &self,
        [b, t]: [usize; 2],
        start_pos: usize,
        mask: &AttnMask,
        hooks: &FfnHooks,
    ) -> Result<(), NnError> {
        if b == 0 || t == 0 {
            return Err(NnError::InputShape {
                expected: "a non-empty batch of non-empty sequences".into(),
                got: vec![b, t],
            });
        }
        if let Some(max_len) = self.max_len()
            && start_pos + t > max_len
        {
            return Err(NnError::TooLong {
                start_pos,
                end: start_pos + t,
                max_len,
            });
        }
        mask.check(b, t)?;
        if !hooks.is_empty() {
            let d_ff = self.blocks.first().map_or(0, Block::d_ff);
            hooks.check(self.blocks.len(), [b, t, d_ff])?;
        }
        Ok(())
    }

    /// Adds learned positions, runs the blocks and the final norm (no checks).
    ///
    /// # Shapes
    /// - `x`: `[batch, T, d_model]` -> `[batch, T, d_model]`
    pub fn forward(
        &self,
        mut x: Tensor<3>,
        start_pos: usize,
        mask: &AttnMask,
        hooks: &mut FfnHooks,
    ) -> Tensor<3> {
        let [b, t, d] = x.dims();
        if let Some(pe) = self.pos_embed {
            let pos: Vec<i64> = (start_pos..start_pos + t).map(|p| p as i64).collect();
            let pos = Tensor::<2, Int>::from_data(TensorData::new(pos, [1, t]), &x.device());
            x = x + pe.forward(pos).expand([b, t, d]);
        }
        for (l, block) in self.blocks.iter().enumerate() {
            x = block.forward(x, start_pos, mask, self.rope, l, hooks);
        }
        match self.ln_final {
            Some(ln) => ln.forward(x),
            None => x,
        }
    }
}

impl TransformerStack {
    fn parts(&self) -> StackRef<'_> {
        StackRef {
            pos_embed: self.pos_embed.as_ref(),
            rope: self.rope.as_ref(),
            blocks: &self.blocks,
            ln_final: self.ln_final.as_ref(),
        }
    }

    /// Runs the stack on positions `start_pos..start_pos + T` (they offset RoPE or learned
    /// positions), after checking the input, mask and hooks.
    ///
    /// # Shapes
    /// - `x`: `[batch, T, d_model]` -> hidden states `[batch, T, d_model]` (after the final
    ///   LayerNorm when the stack has one)
    ///
    /// # Errors
    /// `x` not `[batch >= 1, T >= 1, d_model]`, `start_pos + T > max_len`, or what
    /// [`AttnMask::check`] and [`FfnHooks::check`] reject.
    pub fn try_forward(
        &self,
        x: Tensor<3>,
        start_pos: usize,
        mask: &AttnMask,
        hooks: &mut FfnHooks,
    ) -> Result<Tensor<3>, NnError> {
        let [b, t, d] = x.dims();
        if d != self.d_model {
            return Err(NnError::InputShape {
                expected: format!("[batch, T, {}]", self.d_model),
                got: vec![b, t, d],
            });
        }
        let parts = self.parts();
        parts.check([b, t], start_pos, mask, hooks)?;
        Ok(parts.forward(x, start_pos, mask, hooks))
    }

    /// [`TransformerStack::try_forward`], panicking on its errors.
    ///
    /// # Shapes
    /// - `x`: `[batch, T, d_model]` -> `[batch, T, d_model]`
    ///
    /// # Panics
    /// On the errors of [`TransformerStack::try_forward`].
    pub fn forward(
        &self,
        x: Tensor<3>,
        start_pos: usize,
        mask: &AttnMask,
        hooks: &mut FfnHooks,
    ) -> Tensor<3> {
        self.try_forward(x, start_pos, mask, hooks)
            .unwrap_or_else(|e| panic!("{e}"))
    }

    /// The blocks, in order.
    pub fn blocks(&self) -> &[Block] {
        &self.blocks
    }

    /// Number of blocks.
    pub fn n_layers(&self) -> usize {
        self.blocks.len()
    }

    /// Residual width.
    pub fn d_model(&self) -> usize {
        self.d_model
    }

    /// Longest `start_pos + T` (the RoPE table or learned embeddings), `None` without
    /// positions.
    pub fn max_len(&self) -> Option<usize> {
        self.parts().max_len()
    }

    /// Whether outputs are unchanged when every position shifts by the same offset (RoPE,
    /// or no positions).
    pub fn relative_positions(&self) -> bool {
        self.pos_embed.is_none()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::device::{init_params_now, seed, seed_lock};
    use crate::host;

    /// The largest absolute weight and whether every bias is zero, for one `Linear`.
    fn stats(l: &Linear) -> (f32, bool) {
        let w = host::to_vec(l.weight.val());
        let b = host::to_vec(l.bias.as_ref().unwrap().val());
        (
            w.iter().fold(0f32, |m, x| m.max(x.abs())),
            b.iter().all(|&x| x == 0.0),
        )
    }

    #[test]
    fn xavier_bounds_and_zero_biases() {
        let _g = seed_lock();
        let device = Device::flex();
        seed(&device, 1);
        let (d, f) = (32, 64);
        let cfg = BlockConfig::new(d).with_d_ff(f).with_n_heads(4);
        let x = init_params_now(
            cfg.clone()
                .with_init(WeightInit::XavierUniform)
                .init(&device),
        );
        // U(-a, a) with a = sqrt(6 / (fan_in + fan_out)); with >= 1024 draws the largest
        // |w| lies above 0.95 a with probability 1 - 0.95^1024 (about 1 - 1e-23).
        for (l, fans) in [
            (&x.query, d + 3 * d),
            (&x.key, d + 3 * d),
            (&x.value, d + 3 * d),
            (&x.out, 2 * d),
            (&x.up, d + f),
            (&x.down, d + f),
        ] {
            let a = (6.0 / fans as f32).sqrt();
            let (max, zero_bias) = stats(l);
            assert!(max <= a && max > 0.95 * a, "max |w| {max}, bound {a}");
            assert!(zero_bias);
        }
        for ln in [&x.ln_attn, &x.ln_mlp] {
            assert!(host::to_vec(ln.gamma.val()).iter().all(|&g| g == 1.0));
            let beta = host::to_vec(ln.beta.as_ref().unwrap().val());
            assert!(beta.iter().all(|&b| b == 0.0));
        }
        // Burn's default: weights and biases U(-k, k), k = 1 / sqrt(d_in) = 0.177 for up,
        // below Xavier's 0.25 bound there; biases not zero.
        let burn = init_params_now(cfg.init(&device));
        let (max, zero_bias) = stats(&burn.up);
        let k = 1.0 / (d as f32).sqrt();
        assert!(max <= k && max > 0.95 * k && !zero_bias);
    }

    #[test]
    fn layer_norm_epsilon_is_applied() {
        let _rng = crate::device::seed_lock(); // Burn's generator is process-wide
        let device = Device::flex();
        // A stack of no blocks is its final LayerNorm: on the row [1, 3] (mean 2, variance 1)
        // the output is (x - 2) / sqrt(1 + eps) = ±1 / sqrt(1 + eps) (weight 1, bias 0).
        for eps in [1e-5, 0.5, 3.0] {
            let stack = TransformerStackConfig::new(2)
                .with_n_heads(1)
                .with_n_layers(0)
                .with_positions(Positions::None)
                .with_layer_norm_eps(eps)
                .init(&device);
            let x = Tensor::<3>::from_data(TensorData::new(vec![1f32, 3.0], [1, 1, 2]), &device);
            let y = host::to_vec(stack.forward(x, 0, &AttnMask::None, &mut FfnHooks::none()));
            let e = 1.0 / (1.0 + eps).sqrt();
            assert!(
                (y[0] + e as f32).abs() < 1e-6 && (y[1] - e as f32).abs() < 1e-6,
                "{y:?}"
            );
        }
    }

    #[test]
    fn bad_configs_and_inputs_are_errors() {
        let _rng = crate::device::seed_lock(); // Burn's generator is process-wide
        let device = Device::flex();
        let cfg = TransformerStackConfig::new(6).with_n_heads(4);
        assert!(matches!(cfg.check(), Err(NnError::Config(m)) if m.contains("n_heads 4")));
        let odd = TransformerStackConfig::new(6).with_n_heads(2);
        assert!(matches!(odd.check(), Err(NnError::Config(m)) if m.contains("even head width")));
        assert!(odd.clone().with_positions(Positions::None).check().is_ok());
        let stack = TransformerStackConfig::new(4)
            .with_n_heads(2)
            .with_n_layers(1)
            .with_max_len(3)
            .init(&device);
        let x = |t| Tensor::<3>::zeros([1, t, 4], &device);
        let mut none = FfnHooks::none();
        assert_eq!(
            stack
                .try_forward(x(2), 2, &AttnMask::Causal, &mut none)
                .map(|_| ()),
            Err(NnError::TooLong {
                start_pos: 2,
                end: 4,
                max_len: 3
            })
        );
        let mask =
            Tensor::<3, Bool>::from_data(TensorData::new(vec![false; 4], [1, 2, 2]), &device);
        assert_eq!(
            stack
                .try_forward(x(3), 0, &AttnMask::Explicit(Box::new(mask)), &mut none)
                .map(|_| ()),
            Err(NnError::MaskShape {
                expected: [1, 3, 3],
                got: vec![1, 2, 2]
            })
        );
        assert_eq!(
            stack
                .try_forward(x(2), 0, &AttnMask::Banded { window: 0 }, &mut none)
                .map(|_| ()),
            Err(NnError::ZeroWindow)
        );
        let wide = Tensor::<3>::zeros([1, 2, 5], &device);
        assert!(matches!(
            stack.try_forward(wide, 0, &AttnMask::Causal, &mut none),
            Err(NnError::InputShape { .. })
        ));
        let mut bad = FfnHooks::none().with_cell_record(0, vec![(0, 2, 0)]);
        assert_eq!(
            stack
                .try_forward(x(2), 0, &AttnMask::Causal, &mut bad)
                .map(|_| ()),
            Err(NnError::CellOutOfRange {
                layer: 0,
                cell: (0, 2, 0),
                dims: [1, 2, 16]
            })
        );
    }
}

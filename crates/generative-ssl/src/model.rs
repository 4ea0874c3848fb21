//! One transformer for all four objectives (spec §3): token embedding `(V + 2, d)` (real
//! tokens, `BOS = V`, `MASK = V + 1`), core's [`TransformerStack`] (pre-LN blocks, learned
//! positions, GELU, dropout 0, final LayerNorm) run causally or bidirectionally, an untied
//! head `Linear(d, V)`, and DEAR's offset embeddings `e_k` (`k = 2..K_max`; `e_1 ≡ 0` is not
//! a parameter) added to the final hidden state before the head.
//!
//! ```
//! use burn::tensor::{Device, Int, Tensor};
//! use repro_generative_ssl::model::{Attn, SeqModelConfig};
//! let device = Device::flex();
//! let model = SeqModelConfig::new(32, 25).with_d_model(16).init(&device)?;
//! let tokens = Tensor::<2, Int>::from_ints([[32, 1, 2, 3]], &device); // BOS, x_1..x_3
//! let h = model.hidden(tokens, Attn::Causal)?; // [1, 4, 16]
//! assert_eq!(model.logits(h, 1)?.dims(), [1, 4, 32]);
//! # Ok::<(), anyhow::Error>(())
//! ```

use anyhow::ensure;
use burn::module::Module;
use burn::nn::{Embedding, EmbeddingConfig, Linear, LinearConfig};
use burn::tensor::{Device, Int, Tensor};
use repro_core::lm::CausalLm;
use repro_core::nn::transformer::{
    AttnMask, FfnHooks, Positions, TransformerStack, TransformerStackConfig,
};
use serde::{Deserialize, Serialize};

/// Attention pattern of a forward.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Attn {
    /// Query `q` sees keys `j <= q` (AR, DEAR).
    Causal,
    /// Every query sees every key (MLM, VLM).
    Bidirectional,
}

impl Attn {
    fn mask(self) -> AttnMask {
        match self {
            Self::Causal => AttnMask::Causal,
            Self::Bidirectional => AttnMask::None,
        }
    }
}

/// Architecture of a [`SeqModel`] (spec defaults: d = 64, 2 layers, 4 heads, MLP ratio 4).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SeqModelConfig {
    /// Real tokens `V` (the embedding holds `V + 2` rows: BOS and MASK).
    pub vocab: usize,
    /// Longest input, BOS included (`n + 1`).
    pub max_len: usize,
    /// Residual width.
    pub d_model: usize,
    /// Blocks.
    pub n_layers: usize,
    /// Attention heads.
    pub n_heads: usize,
    /// MLP width over `d_model`.
    pub mlp_ratio: usize,
    /// Largest DEAR offset (1: no offset embedding).
    pub k_max: usize,
}

impl SeqModelConfig {
    /// `vocab` real tokens, inputs up to `max_len`, the spec's shape, `k_max = 4`.
    pub fn new(vocab: usize, max_len: usize) -> Self {
        Self {
            vocab,
            max_len,
            d_model: 64,
            n_layers: 2,
            n_heads: 4,
            mlp_ratio: 4,
            k_max: 4,
        }
    }

    /// The same with another width.
    pub fn with_d_model(mut self, d: usize) -> Self {
        self.d_model = d;
        self
    }

    /// The same with another depth.
    pub fn with_n_layers(mut self, l: usize) -> Self {
        self.n_layers = l;
        self
    }

    /// The same with another largest offset.
    pub fn with_k_max(mut self, k: usize) -> Self {
        self.k_max = k;
        self
    }

    /// Checks the sizes.
    ///
    /// # Errors
    /// A zero size (`k_max = 0` included), or heads that do not divide the width.
    pub fn check(&self) -> anyhow::Result<()> {
        for (name, v) in [
            ("vocab", self.vocab),
            ("max_len", self.max_len),
            ("d_model", self.d_model),
            ("n_layers", self.n_layers),
            ("n_heads", self.n_heads),
            ("mlp_ratio", self.mlp_ratio),
            ("k_max", self.k_max),
        ] {
            ensure!(v > 0, "model {name} must be positive, got 0");
        }
        ensure!(
            self.d_model.is_multiple_of(self.n_heads),
            "model d_model {} is not a multiple of n_heads {}",
            self.d_model,
            self.n_heads
        );
        Ok(())
    }

    /// Builds the model (parameters drawn lazily from Burn's generator; seed it and call
    /// [`repro_core::device::init_params_now`] to fix them). Modules are built in the
    /// order embedding, stack, head, offsets, so models that differ only in `k_max` share
    /// every other weight.
    ///
    /// # Errors
    /// As [`SeqModelConfig::check`].
    pub fn init(&self, device: &Device) -> anyhow::Result<SeqModel> {
        self.check()?;
        let embed = EmbeddingConfig::new(self.vocab + 2, self.d_model).init(device);
        let stack = TransformerStackConfig::new(self.d_model)
            .with_n_heads(self.n_heads)
            .with_n_layers(self.n_layers)
            .with_d_ff(self.mlp_ratio * self.d_model)
            .with_positions(Positions::Learned)
            .with_max_len(self.max_len)
            .try_init(device)?;
        let head = LinearConfig::new(self.d_model, self.vocab).init(device);
        let offsets = (self.k_max > 1)
            .then(|| EmbeddingConfig::new(self.k_max - 1, self.d_model).init(device));
        Ok(SeqModel {
            embed,
            stack,
            head,
            offsets,
            vocab: self.vocab,
            max_len: self.max_len,
            k_max: self.k_max,
        })
    }
}

/// The shared sequence model.
#[derive(Module, Debug)]
pub struct SeqModel {
    /// Token embedding, `V + 2` rows.
    pub embed: Embedding,
    /// Blocks with learned positions and the final LayerNorm.
    pub stack: TransformerStack,
    /// Untied head `Linear(d, V)`.
    pub head: Linear,
    /// `e_2..e_{K_max}` (row `k − 2`); `None` when `K_max = 1`.
    pub offsets: Option<Embedding>,
    vocab: usize,
    max_len: usize,
    k_max: usize,
}

impl SeqModel {
    /// Real tokens `V`.
    pub fn vocab(&self) -> usize {
        self.vocab
    }

    /// `BOS = V`.
    pub fn bos(&self) -> u32 {
        self.vocab as u32
    }

    /// `MASK = V + 1`.
    pub fn mask_token(&self) -> u32 {
        self.vocab as u32 + 1
    }

    /// Longest input (BOS included).
    pub fn max_len(&self) -> usize {
        self.max_len
    }

    /// Largest offset.
    pub fn k_max(&self) -> usize {
        self.k_max
    }

    /// Final-LayerNorm states.
    ///
    /// # Shapes
    /// - `tokens`: `[B, T]` (BOS first) -> `[B, T, d]`
    ///
    /// # Errors
    /// `T` above the model's `max_len` (the field is named), or an empty batch.
    pub fn hidden(&self, tokens: Tensor<2, Int>, attn: Attn) -> anyhow::Result<Tensor<3>> {
        let [b, t] = tokens.dims();
        ensure!(
            t <= self.max_len,
            "a sequence of {t} positions (BOS included) exceeds the model's max_len = {}",
            self.max_len
        );
        let x = self.embed.forward(tokens); // [B, T, d]
        self.stack
            .try_forward(x, 0, &attn.mask(), &mut FfnHooks::none())
            .map_err(|e| anyhow::anyhow!("model forward on [{b}, {t}]: {e}"))
    }

    /// `head(h + e_k)` with one offset `k` for every position (`e_1 ≡ 0`).
    ///
    /// # Shapes
    /// - `h`: `[B, T, d]` -> `[B, T, V]`
    ///
    /// # Errors
    /// `k` outside `1..=K_max`.
    pub fn logits(&self, h: Tensor<3>, k: usize) -> anyhow::Result<Tensor<3>> {
        ensure!(
            (1..=self.k_max).contains(&k),
            "offset k = {k} is outside 1..={}",
            self.k_max
        );
        if k == 1 {
            return Ok(self.head.forward(h));
        }
        let [b, t, d] = h.dims();
        let e = self.offset_rows(Tensor::<2, Int>::full([1, 1], (k - 2) as i64, &h.device()));
        Ok(self.head.forward(h + e.expand([b, t, d])))
    }

    /// `head(h + e_{k[b,t]})` with per-position offsets given as `k − 2` (so every entry is
    /// an offset of at least 2).
    ///
    /// # Shapes
    /// - `h`: `[B, T, d]`, `k_minus_2`: `[B, T]` -> `[B, T, V]`
    ///
    /// # Panics
    /// If the model has no offset embedding (`K_max = 1`).
    pub fn logits_at_offsets(&self, h: Tensor<3>, k_minus_2: Tensor<2, Int>) -> Tensor<3> {
        let e = self.offset_rows(k_minus_2); // [B, T, d]
        self.head.forward(h + e)
    }

    fn offset_rows(&self, idx: Tensor<2, Int>) -> Tensor<3> {
        self.offsets
            .as_ref()
            .expect("offset embeddings exist only for K_max > 1")
            .forward(idx)
    }
}

impl CausalLm for SeqModel {
    fn logits(&self, ids: Tensor<2, Int>, start_pos: usize, mask: &AttnMask) -> Tensor<3> {
        let x = self.embed.forward(ids);
        self.head.forward(
            self.stack
                .forward(x, start_pos, mask, &mut FfnHooks::none()),
        )
    }

    fn max_len(&self) -> Option<usize> {
        Some(self.max_len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::TensorData;
    use burn::tensor::Tolerance;
    use repro_core::device::{init_params_now, seed, seed_lock};

    fn model(k_max: usize) -> SeqModel {
        let device = Device::flex();
        seed(&device, 3);
        init_params_now(
            SeqModelConfig::new(8, 9)
                .with_d_model(16)
                .with_k_max(k_max)
                .init(&device)
                .unwrap(),
        )
    }

    fn ids(rows: &[Vec<i64>]) -> Tensor<2, Int> {
        let (b, t) = (rows.len(), rows[0].len());
        Tensor::from_data(TensorData::new(rows.concat(), [b, t]), &Device::flex())
    }

    #[test]
    fn causal_logits_ignore_the_future() {
        let _g = seed_lock();
        let m = model(4);
        let a = ids(&[vec![8, 1, 2, 3, 4, 5, 6, 7]]);
        let b = ids(&[vec![8, 1, 2, 3, 0, 0, 1, 1]]);
        for k in 1..=4 {
            let la = m
                .logits(m.hidden(a.clone(), Attn::Causal).unwrap(), k)
                .unwrap();
            let lb = m
                .logits(m.hidden(b.clone(), Attn::Causal).unwrap(), k)
                .unwrap();
            // Positions 0..=3 see only BOS, 1, 2, 3 in both inputs.
            la.clone()
                .slice([0..1, 0..4])
                .into_data()
                .assert_approx_eq::<f32>(
                    &lb.clone().slice([0..1, 0..4]).into_data(),
                    Tolerance::absolute(1e-6),
                );
            let diff = (la.slice([0..1, 4..5]) - lb.slice([0..1, 4..5]))
                .abs()
                .max()
                .into_scalar::<f32>();
            assert!(diff > 1e-6, "position 4 must see its own token");
        }
        // Burn's mask helper is true strictly above the diagonal (blocked).
        let mask = burn::nn::attention::generate_autoregressive_mask(1, 3, &Device::flex());
        let v: Vec<bool> = mask.into_data().try_to_vec().unwrap();
        assert_eq!(
            v,
            vec![false, true, true, false, false, true, false, false, false]
        );
    }

    #[test]
    fn bidirectional_states_see_the_next_token() {
        let _g = seed_lock();
        let m = model(1);
        let a = ids(&[vec![8, 1, 2, 3, 4]]);
        let b = ids(&[vec![8, 1, 2, 5, 4]]);
        let ha = m
            .hidden(a, Attn::Bidirectional)
            .unwrap()
            .slice([0..1, 2..3]);
        let hb = m
            .hidden(b, Attn::Bidirectional)
            .unwrap()
            .slice([0..1, 2..3]);
        assert!((ha - hb).abs().max().into_scalar::<f32>() > 1e-6);
    }

    #[test]
    fn offsets_share_the_other_weights_and_e1_is_zero() {
        let _g = seed_lock();
        let (m1, m4) = (model(1), model(4));
        let x = ids(&[vec![8, 1, 2, 3]]);
        let l1 = m1
            .logits(m1.hidden(x.clone(), Attn::Causal).unwrap(), 1)
            .unwrap();
        let l4 = m4.logits(m4.hidden(x, Attn::Causal).unwrap(), 1).unwrap();
        l1.into_data()
            .assert_approx_eq::<f32>(&l4.into_data(), Tolerance::absolute(0.0));
    }

    #[test]
    fn bad_input_is_an_error() {
        let _g = seed_lock();
        let m = model(2);
        let long = ids(&[vec![1; 10]]);
        let e = m.hidden(long, Attn::Causal).unwrap_err().to_string();
        assert!(e.contains("max_len"), "{e}");
        let h = m.hidden(ids(&[vec![8, 1]]), Attn::Causal).unwrap();
        assert!(m.logits(h, 3).unwrap_err().to_string().contains("offset"));
        let e = SeqModelConfig::new(8, 9)
            .with_k_max(0)
            .init(&Device::flex())
            .unwrap_err();
        assert!(e.to_string().contains("k_max"), "{e}");
    }
}

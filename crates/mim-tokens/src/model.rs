//! The small MAE ViT (facebookresearch/mae `models_mae.py` at digit scale): a patch
//! embedding, an encoder on the visible patches plus CLS, a decoder on all positions with
//! mask tokens, both with fixed 2-D sin-cos positions, and a head that predicts either the
//! masked patches' pixels (MAE) or their token ids (K-MIM).
//!
//! Encoder and decoder are [`repro_core::nn::transformer::TransformerStack`]s (pre-LN,
//! bidirectional, LayerNorm ε 1e-6, Xavier-uniform weights and zero biases, no positions
//! inside: the caller adds the sin-cos tables of [`repro_core::patch::sincos_2d`]).

use burn::module::{Module, ModuleMapper, Param};
use burn::nn::{Initializer, Linear};
use burn::tensor::{Device, Tensor, TensorData};
use repro_core::nn::transformer::{
    AttnMask, FfnHooks, Positions, TransformerStack, TransformerStackConfig, WeightInit,
};
use repro_core::patch::{Masking, gather_rows, sincos_2d};
use serde::{Deserialize, Serialize};

use crate::Error;

/// What the decoder head predicts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Head {
    /// Logits over `K` token ids per patch (K-MIM).
    Tokens(usize),
    /// The patch's pixels (MAE).
    Pixels,
}

/// Sizes of the MAE ViT (spec §3, "ours" in brackets there).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MaeVitConfig {
    /// Side of the square images (8 for digits).
    pub image_side: usize,
    /// Side of the square patches (2).
    pub patch: usize,
    /// Encoder width (64).
    pub enc_dim: usize,
    /// Encoder blocks (4).
    pub enc_depth: usize,
    /// Encoder heads (4).
    pub enc_heads: usize,
    /// Decoder width (32).
    pub dec_dim: usize,
    /// Decoder blocks (2).
    pub dec_depth: usize,
    /// Decoder heads (4).
    pub dec_heads: usize,
    /// MLP hidden width as a multiple of the width (4).
    pub mlp_ratio: usize,
    /// The head.
    pub head: Head,
}

impl Default for MaeVitConfig {
    /// The spec's digits model with a pixel head.
    fn default() -> Self {
        Self {
            image_side: 8,
            patch: 2,
            enc_dim: 64,
            enc_depth: 4,
            enc_heads: 4,
            dec_dim: 32,
            dec_depth: 2,
            dec_heads: 4,
            mlp_ratio: 4,
            head: Head::Pixels,
        }
    }
}

impl MaeVitConfig {
    /// Patches per side.
    pub fn grid(&self) -> usize {
        self.image_side / self.patch.max(1)
    }

    /// Patches per image.
    pub fn n_patches(&self) -> usize {
        self.grid() * self.grid()
    }

    /// Values per patch.
    pub fn patch_dim(&self) -> usize {
        self.patch * self.patch
    }

    /// Checks the sizes.
    ///
    /// # Errors
    /// [`Error::PatchSize`] when the patch does not divide the image side;
    /// [`Error::Config`] for widths the sin-cos table or the heads cannot take, or `K < 2`.
    pub fn check(&self) -> Result<(), Error> {
        if self.patch == 0 || self.image_side == 0 || !self.image_side.is_multiple_of(self.patch) {
            return Err(Error::PatchSize {
                side: self.image_side,
                patch: self.patch,
            });
        }
        for (what, d, h) in [
            ("enc_dim", self.enc_dim, self.enc_heads),
            ("dec_dim", self.dec_dim, self.dec_heads),
        ] {
            if d == 0 || !d.is_multiple_of(4) || h == 0 || !d.is_multiple_of(h) {
                return Err(Error::Config(format!(
                    "{what} = {d} must be a positive multiple of 4 and of its {h} heads"
                )));
            }
        }
        if self.enc_depth == 0 || self.dec_depth == 0 || self.mlp_ratio == 0 {
            return Err(Error::Config(
                "enc_depth, dec_depth and mlp_ratio must be positive".into(),
            ));
        }
        if let Head::Tokens(k) = self.head
            && k < 2
        {
            return Err(Error::Config(format!("a token head needs K >= 2, got {k}")));
        }
        Ok(())
    }

    fn stack(&self, d: usize, depth: usize, heads: usize) -> TransformerStackConfig {
        TransformerStackConfig::new(d)
            .with_n_heads(heads)
            .with_n_layers(depth)
            .with_d_ff(self.mlp_ratio * d)
            .with_positions(Positions::None)
            .with_layer_norm_eps(1e-6)
            .with_init(WeightInit::XavierUniform)
    }

    /// Builds the model. Parameters are lazy: call
    /// [`repro_core::device::init_params_now`] after seeding to fix them.
    ///
    /// # Errors
    /// What [`MaeVitConfig::check`] rejects.
    pub fn init(&self, device: &Device) -> Result<MaeVit, Error> {
        self.check()?;
        let out = match self.head {
            Head::Tokens(k) => k,
            Head::Pixels => self.patch_dim(),
        };
        let token = |d: usize| {
            Initializer::Normal {
                mean: 0.0,
                std: 0.02,
            }
            .init([1, 1, d], device)
        };
        let stack = |c: TransformerStackConfig| {
            c.try_init(device).map_err(|e| Error::Config(e.to_string()))
        };
        Ok(MaeVit {
            patch_embed: xavier_linear(self.patch_dim(), self.enc_dim, device),
            cls: token(self.enc_dim),
            encoder: stack(self.stack(self.enc_dim, self.enc_depth, self.enc_heads))?,
            decoder_embed: xavier_linear(self.enc_dim, self.dec_dim, device),
            mask_token: token(self.dec_dim),
            decoder: stack(self.stack(self.dec_dim, self.dec_depth, self.dec_heads))?,
            head: xavier_linear(self.dec_dim, out, device),
            grid: self.grid(),
        })
    }
}

/// `nn.Linear` with MAE's init: Xavier-uniform weight, zero bias.
fn xavier_linear(d_in: usize, d_out: usize, device: &Device) -> Linear {
    Linear {
        weight: Initializer::XavierUniform { gain: 1.0 }.init_with(
            [d_in, d_out],
            Some(d_in),
            Some(d_out),
            device,
        ),
        bias: Some(Initializer::Zeros.init([d_out], device)),
    }
}

/// The MAE ViT (see the module docs).
#[derive(Module, Debug)]
pub struct MaeVit {
    patch_embed: Linear,
    cls: Param<Tensor<3>>,
    encoder: TransformerStack,
    decoder_embed: Linear,
    mask_token: Param<Tensor<3>>,
    decoder: TransformerStack,
    head: Linear,
    grid: usize,
}

impl MaeVit {
    /// Encoder width.
    pub fn enc_dim(&self) -> usize {
        self.encoder.d_model()
    }

    /// Patch embedding plus the encoder's sin-cos positions (CLS row left out).
    ///
    /// # Shapes
    /// - `patches`: `[n, L, p²]` -> `[n, L, enc_dim]`
    fn embed(&self, patches: Tensor<3>) -> Tensor<3> {
        let device = patches.device();
        let pos = sincos_2d(self.grid, self.enc_dim(), false, &device); // [L, d]
        self.patch_embed.forward(patches) + pos.unsqueeze::<3>()
    }

    /// CLS (+ its zero position) in front of `x`, then the encoder and its final norm.
    ///
    /// # Shapes
    /// - `x`: `[n, t, enc_dim]` -> `[n, 1 + t, enc_dim]`
    fn encode(&self, x: Tensor<3>) -> Tensor<3> {
        let [n, _, d] = x.dims();
        let cls = self.cls.val().expand([n, 1, d]);
        let x = Tensor::cat(vec![cls, x], 1);
        self.encoder
            .forward(x, 0, &AttnMask::None, &mut FfnHooks::none())
    }

    /// MAE's `forward_encoder` + `forward_decoder`: the encoder on CLS and the kept
    /// patches, the decoder on CLS and all `L` positions (mask tokens where patches were
    /// removed, un-shuffled by `ids_restore`), the head on the `L` patch positions.
    ///
    /// # Shapes
    /// - `patches`: `[n, L, p²]`; masking of `n` samples of `L` patches
    /// - returns `[n, L, K]` logits or `[n, L, p²]` pixels
    pub fn forward(&self, patches: Tensor<3>, m: &Masking) -> Tensor<3> {
        let [n, l, _] = patches.dims();
        let device = patches.device();
        let x = self.embed(patches); // [n, L, d]
        let x = gather_rows(x, m.ids_keep.clone().to_device(&device)); // [n, keep, d]
        let h = self.encode(x); // [n, 1 + keep, d]
        let y = self.decoder_embed.forward(h); // [n, 1 + keep, e]
        let e = y.dims()[2];
        let cls = y.clone().narrow(1, 0, 1); // [n, 1, e]
        let vis = y.narrow(1, 1, m.keep); // [n, keep, e]
        let masks = self.mask_token.val().expand([n, l - m.keep, e]);
        let shuffled = Tensor::cat(vec![vis, masks], 1); // [n, L, e] in shuffle order
        let y = gather_rows(shuffled, m.ids_restore.clone().to_device(&device)); // patch order
        let pos = sincos_2d(self.grid, e, true, &device).unsqueeze::<3>(); // [1, 1 + L, e]
        let y = Tensor::cat(vec![cls, y], 1) + pos;
        let y = self
            .decoder
            .forward(y, 0, &AttnMask::None, &mut FfnHooks::none());
        self.head.forward(y.narrow(1, 1, l)) // [n, L, out]
    }

    /// The encoder's outputs with every patch visible (no masking, so no randomness).
    ///
    /// # Shapes
    /// - `patches`: `[n, L, p²]` -> `[n, 1 + L, enc_dim]` (CLS first)
    pub fn encode_all(&self, patches: Tensor<3>) -> Tensor<3> {
        self.encode(self.embed(patches))
    }

    /// Probe features: the CLS output and the mean of the `L` patch outputs after the final
    /// LayerNorm, every patch visible.
    ///
    /// # Shapes
    /// - `patches`: `[n, L, p²]` -> (`[n, enc_dim]`, `[n, enc_dim]`)
    pub fn features(&self, patches: Tensor<3>) -> (Tensor<2>, Tensor<2>) {
        let h = self.encode_all(patches);
        let [n, t, d] = h.dims();
        let cls = h.clone().narrow(1, 0, 1).reshape([n, d]);
        let mean = h.narrow(1, 1, t - 1).mean_dim(1).reshape([n, d]);
        (cls, mean)
    }

    /// The per-patch encoder outputs with every patch visible (the FEAT tokenizer's φ).
    ///
    /// # Shapes
    /// - `patches`: `[n, L, p²]` -> `[n, L, enc_dim]`
    pub fn patch_features(&self, patches: Tensor<3>) -> Tensor<3> {
        let h = self.encode_all(patches);
        let t = h.dims()[1];
        h.narrow(1, 1, t - 1)
    }
}

/// Sets every float parameter of `module` from `values` (the order of
/// [`repro_core::params::flatten`]).
///
/// # Errors
/// [`Error::Config`] when `values` does not hold exactly the module's parameter count.
pub fn load_flat<M: Module>(module: M, values: &[f32]) -> Result<M, Error> {
    struct Load<'a> {
        values: &'a [f32],
        at: usize,
        short: bool,
    }
    impl ModuleMapper for Load<'_> {
        fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
            let (values, at) = (self.values, self.at);
            let mut short = false;
            let p = param.map(|t| {
                let dims = t.dims();
                let len: usize = dims.iter().product();
                if at + len > values.len() {
                    short = true;
                    return t;
                }
                let device = t.device();
                Tensor::from_data(
                    TensorData::new(values[at..at + len].to_vec(), dims),
                    &device,
                )
            });
            self.short |= short;
            self.at += p.val().dims().iter().product::<usize>();
            p
        }
    }
    let mut load = Load {
        values,
        at: 0,
        short: false,
    };
    let module = module.map(&mut load);
    if load.short || load.at != values.len() {
        return Err(Error::Config(format!(
            "parameter vector of {} values does not fit the module",
            values.len()
        )));
    }
    Ok(module)
}

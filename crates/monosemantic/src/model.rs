//! The encoder (an MLP stand-in for ResNet-18 on 8×8 digits) and the features each
//! method hands to the linear probe.

use burn::module::Module;
use burn::nn::{LayerNorm, LayerNormConfig, Linear, LinearConfig};
use burn::prelude::Config;
use burn::tensor::activation::relu;
use burn::tensor::{Device, Tensor};
use serde::{Deserialize, Serialize};

use crate::ncl::{NonNeg, non_neg};
use crate::sae::TopKSae;
use repro_core::loss::l2_normalize_rows;

/// Sizes of the encoder: backbone `Linear(d_in, hidden) → LN → ReLU → Linear(hidden, d_rep)
/// → LN → ReLU`, projector `Linear(d_rep, proj_hidden) → ReLU → Linear(proj_hidden, d_proj)`
/// (our operationalisation; keeps the paper's 8:1 projector hidden:output ratio).
#[derive(Config, Debug, PartialEq)]
pub struct EncoderConfig {
    /// Input pixels.
    #[config(default = 64)]
    pub d_in: usize,
    /// First backbone layer width.
    #[config(default = 256)]
    pub hidden: usize,
    /// Representation `h` width.
    #[config(default = 256)]
    pub d_rep: usize,
    /// Projector hidden width.
    #[config(default = 1024)]
    pub proj_hidden: usize,
    /// Projector output `z` width (the probed code).
    #[config(default = 256)]
    pub d_proj: usize,
}

/// The backbone, producing `h`.
#[derive(Module, Debug)]
pub struct Backbone {
    l1: Linear,
    n1: LayerNorm,
    l2: Linear,
    n2: LayerNorm,
}

impl Backbone {
    /// # Shapes
    /// - `x`: `[n, d_in]`
    /// - returns `[n, d_rep]`
    pub fn forward(&self, x: Tensor<2>) -> Tensor<2> {
        let h = relu(self.n1.forward(self.l1.forward(x))); // [n, hidden]
        relu(self.n2.forward(self.l2.forward(h))) // [n, d_rep]
    }
}

/// The projector, producing `z`.
#[derive(Module, Debug)]
pub struct Projector {
    p1: Linear,
    p2: Linear,
}

impl Projector {
    /// # Shapes
    /// - `h`: `[n, d_rep]`
    /// - returns `[n, d_proj]`
    pub fn forward(&self, h: Tensor<2>) -> Tensor<2> {
        self.p2.forward(relu(self.p1.forward(h)))
    }
}

/// Backbone plus projector.
#[derive(Module, Debug)]
pub struct Encoder {
    /// The backbone.
    pub backbone: Backbone,
    /// The projector.
    pub projector: Projector,
}

impl EncoderConfig {
    /// Builds the encoder (parameters are lazy: seed, then `init_params_now`).
    pub fn init(&self, device: &Device) -> Encoder {
        Encoder {
            backbone: Backbone {
                l1: LinearConfig::new(self.d_in, self.hidden).init(device),
                n1: LayerNormConfig::new(self.hidden).init(device),
                l2: LinearConfig::new(self.hidden, self.d_rep).init(device),
                n2: LayerNormConfig::new(self.d_rep).init(device),
            },
            projector: Projector {
                p1: LinearConfig::new(self.d_rep, self.proj_hidden).init(device),
                p2: LinearConfig::new(self.proj_hidden, self.d_proj).init(device),
            },
        }
    }
}

impl Encoder {
    /// Representation and projector output.
    ///
    /// # Shapes
    /// - `x`: `[n, d_in]`
    /// - returns `(h [n, d_rep], z [n, d_proj])`
    pub fn forward(&self, x: Tensor<2>) -> (Tensor<2>, Tensor<2>) {
        let h = self.backbone.forward(x);
        let z = self.projector.forward(h.clone());
        (h, z)
    }
}

/// How the probed features are made from the projector output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Method {
    /// Contrastive learning (SimCLR): raw `z`.
    Cl,
    /// Non-negative contrastive learning: `σ₊(z)`.
    Ncl(NonNeg),
    /// TopK SAE latents `s` of the normalised CL code `u = z/‖z‖` (fix P2: upstream feeds
    /// the un-normalised `z` at evaluation).
    Sae,
}

/// The probe features of `method`.
///
/// # Shapes
/// - `x`: `[n, d_in]`
/// - returns `[n, d_proj]` (`[n, d_latent]` for [`Method::Sae`])
///
/// # Panics
/// If `method` is [`Method::Sae`] and `sae` is `None` (a programming error).
pub fn probe_features(
    enc: &Encoder,
    sae: Option<&TopKSae>,
    method: Method,
    x: Tensor<2>,
) -> Tensor<2> {
    let (_, z) = enc.forward(x);
    match method {
        Method::Cl => z,
        Method::Ncl(kind) => non_neg(z, kind),
        Method::Sae => sae
            .expect("Method::Sae needs a trained SAE")
            .encode(l2_normalize_rows(z, 1e-12)),
    }
}

/// The few-shot fine-tuning model: trainable backbone, frozen projector, `σ₊` (NCL keeps
/// its ReLU at fine-tuning time) and a trainable linear classifier.
#[derive(Module, Debug)]
pub struct FineTuneModel {
    /// Trainable backbone.
    pub backbone: Backbone,
    /// Frozen projector (parameters excluded from gradients).
    pub projector: Projector,
    /// Trainable linear classifier on the projector output.
    pub head: Linear,
    /// Non-negative map applied to the projector output (kept on for NCL).
    #[module(skip)]
    pub kind: NonNeg,
}

impl FineTuneModel {
    /// Wraps a pretrained encoder with a fresh classifier; the projector is frozen.
    pub fn new(
        enc: Encoder,
        kind: NonNeg,
        d_proj: usize,
        n_classes: usize,
        device: &Device,
    ) -> Self {
        Self {
            backbone: enc.backbone,
            projector: enc.projector.no_grad(),
            head: LinearConfig::new(d_proj, n_classes).init(device),
            kind,
        }
    }

    /// Logits.
    ///
    /// # Shapes
    /// - `x`: `[n, d_in]`
    /// - returns `[n, n_classes]`
    pub fn forward(&self, x: Tensor<2>) -> Tensor<2> {
        let z = self.projector.forward(self.backbone.forward(x));
        self.head.forward(non_neg(z, self.kind))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sae::TopKSaeConfig;
    use burn::tensor::TensorData;

    #[test]
    fn shapes_and_sae_scale_invariance() {
        let _rng = repro_core::device::seed_lock(); // Burn's generator is process-wide
        let d = Device::flex();
        let cfg = EncoderConfig::new()
            .with_hidden(16)
            .with_d_rep(16)
            .with_proj_hidden(32)
            .with_d_proj(8);
        let enc = cfg.init(&d);
        let x = Tensor::<2>::from_data(
            TensorData::new(
                (0..3 * 64)
                    .map(|i| (i as f32 * 0.1).cos())
                    .collect::<Vec<_>>(),
                [3, 64],
            ),
            &d,
        );
        let (h, z) = enc.forward(x.clone());
        assert_eq!((h.dims(), z.dims()), ([3, 16], [3, 8]));
        let sae = TopKSaeConfig::new(8, 12, 2).init(&d).unwrap();
        let s = probe_features(&enc, Some(&sae), Method::Sae, x.clone());
        assert_eq!(s.dims(), [3, 12]);
        // P2: the SAE reads normalised codes, so scaling z (here: the last projector
        // layer's output, via u = z/‖z‖) cannot change the latents.
        let (_, z) = enc.forward(x);
        let a: Vec<f32> = sae
            .encode(l2_normalize_rows(z.clone(), 1e-12))
            .into_data()
            .try_to_vec()
            .unwrap();
        let b: Vec<f32> = sae
            .encode(l2_normalize_rows(z * 7.0, 1e-12))
            .into_data()
            .try_to_vec()
            .unwrap();
        assert!(a.iter().zip(&b).all(|(p, q)| (p - q).abs() < 1e-5));
        let relu_feats: Vec<f32> = probe_features(
            &enc,
            None,
            Method::Ncl(NonNeg::Relu),
            Tensor::zeros([2, 64], &d),
        )
        .into_data()
        .try_to_vec()
        .unwrap();
        assert!(relu_feats.iter().all(|&v| v >= 0.0));
    }

    #[test]
    fn fine_tuning_leaves_the_projector_frozen() {
        use burn::optim::GradientsParams;
        // Seeded: an unlucky draw can leave every ReLU unit off for these two inputs, and
        // then no gradient reaches the backbone.
        let _rng = repro_core::device::seed_lock();
        let ad = Device::flex().autodiff();
        repro_core::device::seed(&ad, 7);
        let cfg = EncoderConfig::new()
            .with_hidden(8)
            .with_d_rep(8)
            .with_proj_hidden(16)
            .with_d_proj(4);
        let model = FineTuneModel::new(cfg.init(&ad), NonNeg::Relu, 4, 3, &ad);
        let model = repro_core::device::init_params_now(model);
        let weights = |m: &FineTuneModel| -> (Vec<f32>, Vec<f32>) {
            (
                m.projector
                    .p1
                    .weight
                    .val()
                    .into_data()
                    .try_to_vec()
                    .unwrap(),
                m.backbone.l1.weight.val().into_data().try_to_vec().unwrap(),
            )
        };
        let before = weights(&model);
        let x = Tensor::<2>::from_data(
            TensorData::new(
                (0..2 * 64)
                    .map(|i| (i as f32 * 0.3).sin())
                    .collect::<Vec<_>>(),
                [2, 64],
            ),
            &ad,
        );
        let loss = model.forward(x).powi_scalar(2).sum();
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        let model = repro_core::train::optim::sgd(0.0, 0.0)
            .init()
            .step(0.1, model, grads);
        let after = weights(&model);
        assert_eq!(before.0, after.0, "projector moved");
        assert_ne!(before.1, after.1, "backbone did not move");
    }
}

//! The in-context model (upstream `TransformerModel` in `src/models.py`): prompts
//! `[x_0, ỹ_0, x_1, ỹ_1, …]` with `ỹ_i = (y_i, 0, …, 0)`, a linear read-in, a causal
//! pre-LN transformer with learned positions (core's [`Decoder`]), a linear read-out, and
//! the prediction for `y_k` read at the `x_k` slot (`prediction[:, ::2]`), i.e. after `k`
//! in-context examples.
//!
//! ```
//! use burn::tensor::{Device, Tensor};
//! use repro_icl_ood::model::{IclModelConfig, icl_loss};
//! let device = Device::flex();
//! let model = IclModelConfig::tiny(3, 1, 5).with_d_model(16).init(&device)?;
//! let xs = Tensor::<3>::ones([2, 5, 3], &device);
//! let ys = Tensor::<3>::zeros([2, 5, 1], &device);
//! let pred = model.predict(xs, ys.clone());
//! assert_eq!(pred.dims(), [2, 5, 1]);
//! assert!(icl_loss(pred, ys).into_scalar::<f32>() >= 0.0);
//! # Ok::<(), anyhow::Error>(())
//! ```

use anyhow::ensure;
use burn::module::{Module, ModuleMapper, Param};
use burn::tensor::{Device, Tensor, TensorData};
use repro_core::nn::decoder::{
    AttnMask, Decoder, DecoderConfig, DecoderInput, FfnHooks, Positions,
};
use repro_core::rng::Noise;
use serde::{Deserialize, Serialize};

use crate::tasks::{IclBatch, MAX_SIZE};

/// Architecture of an [`IclModel`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IclModelConfig {
    /// Input width `d`.
    pub d: usize,
    /// Label width (1, or `d` for abstract labels).
    pub d_y: usize,
    /// Points per prompt `n` (the model holds `2n` learned positions).
    pub n: usize,
    /// Residual width.
    pub d_model: usize,
    /// Attention heads.
    pub n_heads: usize,
    /// Blocks.
    pub n_layers: usize,
    /// MLP width.
    pub d_ff: usize,
}

impl IclModelConfig {
    /// Garg's `tiny` model (3 layers, width 64, 2 heads, MLP 256).
    pub fn tiny(d: usize, d_y: usize, n: usize) -> Self {
        Self {
            d,
            d_y,
            n,
            d_model: 64,
            n_heads: 2,
            n_layers: 3,
            d_ff: 256,
        }
    }

    /// The same with another residual width (the MLP stays 4×).
    pub fn with_d_model(mut self, d_model: usize) -> Self {
        self.d_model = d_model;
        self.d_ff = 4 * d_model;
        self
    }

    /// The decoder: vector input of width `d`, output `d_y`, learned positions for `2n`
    /// tokens.
    pub fn decoder_config(&self) -> DecoderConfig {
        DecoderConfig::new(0)
            .with_d_in(self.d)
            .with_d_out(self.d_y)
            .with_d_model(self.d_model)
            .with_n_heads(self.n_heads)
            .with_n_layers(self.n_layers)
            .with_d_ff(self.d_ff)
            .with_positions(Positions::Learned)
            .with_max_len(2 * self.n)
    }

    /// Checks the sizes.
    ///
    /// # Errors
    /// Zero or huge sizes, a label wider than the input (labels are padded to `d`), or a
    /// width that the heads do not divide.
    pub fn check(&self) -> anyhow::Result<()> {
        for (name, v) in [
            ("d", self.d),
            ("d_y", self.d_y),
            ("n", self.n),
            ("d_model", self.d_model),
            ("n_heads", self.n_heads),
            ("n_layers", self.n_layers),
            ("d_ff", self.d_ff),
        ] {
            ensure!(
                (1..=MAX_SIZE).contains(&v),
                "model {name} = {v} is outside 1..={MAX_SIZE}"
            );
        }
        ensure!(
            self.d_y <= self.d,
            "label width {} exceeds the input width {} (labels are padded to d)",
            self.d_y,
            self.d
        );
        ensure!(
            self.d_model.is_multiple_of(self.n_heads),
            "d_model {} is not a multiple of n_heads {}",
            self.d_model,
            self.n_heads
        );
        Ok(())
    }

    /// Builds the model with Burn's default initialisation (parameters are drawn lazily;
    /// call [`repro_core::device::init_params_now`] after seeding to fix them).
    ///
    /// # Errors
    /// As [`IclModelConfig::check`].
    pub fn init(&self, device: &Device) -> anyhow::Result<IclModel> {
        self.check()?;
        Ok(IclModel {
            decoder: self.decoder_config().init(device),
        })
    }

    /// Builds the model with GPT-2's initialisation of the transformer ([`gpt2_init`] with
    /// std 0.02 from `seed`); read-in and read-out keep PyTorch-style `U(±1/√fan_in)`, as
    /// upstream's `nn.Linear` read-in and read-out do. Burn's generator must be seeded first
    /// (the untouched parameters and the replaced ones' first values come from it).
    ///
    /// # Errors
    /// As [`IclModelConfig::check`].
    pub fn init_gpt2(&self, device: &Device, seed: u64) -> anyhow::Result<IclModel> {
        let model = self.init(device)?;
        Ok(gpt2_init(
            model,
            &[self.d_model, self.d_ff],
            GPT2_INIT_STD,
            seed,
        ))
    }
}

/// Standard deviation of GPT-2's initialisation (`initializer_range`).
pub const GPT2_INIT_STD: f64 = 0.02;

/// GPT-2's initialisation (`GPT2PreTrainedModel._init_weights`) applied to any module built
/// from Burn's `Linear`, `Embedding` and `LayerNorm`: embedding tables and the weights of
/// linears whose both widths are in `inner` (the transformer's own `d_model` and `d_ff`
/// layers) become `N(0, std²)` from a host generator seeded with `seed`, their biases 0
/// (a linear's bias follows its weight in Burn's `Linear`);
/// LayerNorms stay (1, 0), other linears (read-in, read-out) keep their initialisation.
/// GPT-2's extra `1/√(2L)` scaling of the residual output projections is not applied (the
/// decoder's public API does not say which linears those are).
pub fn gpt2_init<M: Module>(module: M, inner: &[usize], std: f64, seed: u64) -> M {
    struct Init<'a> {
        rng: Noise,
        std: f64,
        inner: &'a [usize],
        path: Vec<(String, String)>,
        /// Whether the last linear weight seen was an inner one (its bias follows it).
        inner_weight: bool,
    }
    impl ModuleMapper for Init<'_> {
        fn enter_module(&mut self, name: &str, container_type: &str) {
            self.path.push((name.to_owned(), container_type.to_owned()));
        }
        fn exit_module(&mut self, _name: &str, _container_type: &str) {
            self.path.pop();
        }
        fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
            let Some((field, container)) = self.path.last().cloned() else {
                return param;
            };
            let (std, inner) = (self.std, self.inner);
            let inner_weight = &mut self.inner_weight;
            let rng = &mut self.rng;
            param.map(|t| {
                let dims = t.dims();
                let normal = |rng: &mut Noise| -> Vec<f32> {
                    let n: usize = dims.iter().product();
                    (0..n).map(|_| (rng.normal() * std) as f32).collect()
                };
                let values = match (container.as_str(), field.as_str()) {
                    ("Struct:Embedding", "weight") => normal(rng),
                    ("Struct:Linear", "weight") => {
                        *inner_weight = dims.iter().all(|w| inner.contains(w));
                        if !*inner_weight {
                            return t;
                        }
                        normal(rng)
                    }
                    ("Struct:Linear", "bias") if *inner_weight => vec![0.0; dims.iter().product()],
                    _ => return t,
                };
                let grad = t.is_require_grad();
                Tensor::<D>::from_data(TensorData::new(values, dims), &t.device())
                    .set_require_grad(grad)
            })
        }
    }
    module.map(&mut Init {
        rng: Noise::new(seed),
        std,
        inner,
        path: Vec::new(),
        inner_weight: false,
    })
}

/// The in-context learner: core's decoder on interleaved prompts.
#[derive(Module, Debug)]
pub struct IclModel {
    /// The transformer (read-in, blocks, final LayerNorm, read-out).
    pub decoder: Decoder,
}

/// Interleaves inputs and labels (`_combine`): `[x_0, ỹ_0, x_1, ỹ_1, …]`, with `ỹ_i` the
/// label padded with zeros to width `d`.
///
/// # Shapes
/// - `xs`: `[B, n, d]`, `ys`: `[B, n, d_y]` with `d_y <= d`
/// - returns `[B, 2n, d]`
///
/// # Panics
/// If the batch or point counts differ, or `d_y > d`.
pub fn combine(xs: Tensor<3>, ys: Tensor<3>) -> Tensor<3> {
    let [b, n, d] = xs.dims();
    let [b2, n2, d_y] = ys.dims();
    assert!(
        b == b2 && n == n2 && d_y <= d,
        "combine: xs [{b}, {n}, {d}] and ys [{b2}, {n2}, {d_y}] do not pair"
    );
    let ys = if d_y < d {
        let pad = Tensor::<3>::zeros([b, n, d - d_y], &ys.device());
        Tensor::cat(vec![ys, pad], 2) // [B, n, d]
    } else {
        ys
    };
    Tensor::stack::<4>(vec![xs, ys], 2).reshape([b, 2 * n, d]) // [B, n, 2, d] -> [B, 2n, d]
}

impl IclModel {
    /// Predictions for every `y_k` from the `k` examples before it.
    ///
    /// # Shapes
    /// - `xs`: `[B, n, d]`, `ys`: `[B, n, d_y]`
    /// - returns `[B, n, d_y]` (read at the `x` slots)
    ///
    /// # Panics
    /// If the shapes do not pair, or `2n` exceeds the model's positions.
    pub fn predict(&self, xs: Tensor<3>, ys: Tensor<3>) -> Tensor<3> {
        let [b, n, _] = xs.dims();
        let z = combine(xs, ys); // [B, 2n, d]
        let out = self.decoder.forward(
            DecoderInput::Vectors(z),
            0,
            &AttnMask::Causal,
            &mut FfnHooks::none(),
        ); // [B, 2n, d_y]
        let d_y = out.dims()[2];
        out.reshape([b, n, 2, d_y])
            .slice([0..b, 0..n, 0..1, 0..d_y])
            .reshape([b, n, d_y])
    }
}

/// Mean squared error over all prompts, positions and label dimensions (upstream
/// `mean_squared_error`).
///
/// # Shapes
/// - `pred`, `ys`: `[B, n, d_y]`
/// - returns `[1]`
pub fn icl_loss(pred: Tensor<3>, ys: Tensor<3>) -> Tensor<1> {
    (pred - ys).square().mean()
}

/// A batch as tensors `(xs [B, n, d], ys [B, n, d_y])` on `device`.
pub fn batch_tensors(batch: &IclBatch, device: &Device) -> (Tensor<3>, Tensor<3>) {
    let xs = Tensor::from_data(
        TensorData::new(batch.xs.clone(), [batch.b, batch.n, batch.d]),
        device,
    );
    let ys = Tensor::from_data(
        TensorData::new(batch.ys.clone(), [batch.b, batch.n, batch.d_y]),
        device,
    );
    (xs, ys)
}

/// The model's predictions for a whole batch, `[B, n, d_y]` row-major, computed in chunks
/// of `chunk` prompts on `device` (use a plain device: `model.valid()`).
///
/// # Errors
/// If the prompt length or widths do not fit the model.
pub fn predict_batch(
    model: &IclModel,
    cfg: &IclModelConfig,
    batch: &IclBatch,
    device: &Device,
    chunk: usize,
) -> anyhow::Result<Vec<f32>> {
    ensure!(
        batch.n <= cfg.n && batch.d == cfg.d && batch.d_y == cfg.d_y,
        "prompts [{}, {}] with labels of width {} do not fit a model of {} points, width {} and labels {}",
        batch.n,
        batch.d,
        batch.d_y,
        cfg.n,
        cfg.d,
        cfg.d_y
    );
    let chunk = chunk.max(1);
    let mut out = Vec::with_capacity(batch.b * batch.n * batch.d_y);
    let mut start = 0;
    while start < batch.b {
        let end = (start + chunk).min(batch.b);
        let (nx, ny) = (batch.n * batch.d, batch.n * batch.d_y);
        let part = IclBatch {
            xs: batch.xs[start * nx..end * nx].to_vec(),
            ys: batch.ys[start * ny..end * ny].to_vec(),
            ids: None,
            b: end - start,
            ..batch.clone()
        };
        let (xs, ys) = batch_tensors(&part, device);
        let pred = model.predict(xs, ys);
        out.extend(
            pred.into_data()
                .convert::<f32>()
                .try_into_vec::<f32>()
                .map_err(|e| anyhow::anyhow!("cannot read predictions: {e:?}"))?,
        );
        start = end;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::Tolerance;
    use repro_core::device::{init_params_now, seed, seed_lock};
    use repro_core::rng::Noise;

    use crate::tasks::{FunctionClass, sample};

    #[test]
    fn combine_interleaves_and_pads() {
        let device = Device::flex();
        // One prompt of 2 points in d = 3 with scalar labels 10 and 20.
        let xs = Tensor::<3>::from_data(
            TensorData::new(vec![1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0], [1, 2, 3]),
            &device,
        );
        let ys = Tensor::<3>::from_data(TensorData::new(vec![10.0f32, 20.0], [1, 2, 1]), &device);
        let z = combine(xs, ys);
        assert_eq!(z.dims(), [1, 4, 3]);
        let v: Vec<f32> = z.into_data().try_into_vec::<f32>().unwrap();
        assert_eq!(
            v,
            vec![1.0, 2.0, 3.0, 10.0, 0.0, 0.0, 4.0, 5.0, 6.0, 20.0, 0.0, 0.0]
        );
    }

    fn tiny_model(d: usize, n: usize) -> (IclModel, IclModelConfig) {
        let device = Device::flex();
        seed(&device, 5);
        let cfg = IclModelConfig::tiny(d, 1, n).with_d_model(16);
        (init_params_now(cfg.init(&device).unwrap()), cfg)
    }

    #[test]
    fn predictions_come_from_the_x_slots_and_never_see_their_label() {
        let _g = seed_lock();
        let (model, cfg) = tiny_model(3, 6);
        let device = Device::flex();
        let batch = sample(&FunctionClass::Linear, 2, 6, 3, 3, &mut Noise::new(1)).unwrap();
        let base = predict_batch(&model, &cfg, &batch, &device, 8).unwrap();
        // Reference: the decoder's raw outputs at slots 0, 2, 4, ... are the predictions.
        let (xs, ys) = batch_tensors(&batch, &device);
        let raw = model.decoder.forward(
            DecoderInput::Vectors(combine(xs, ys)),
            0,
            &AttnMask::Causal,
            &mut FfnHooks::none(),
        );
        let raw: Vec<f32> = raw.into_data().try_into_vec::<f32>().unwrap();
        for p in 0..2 {
            for k in 0..6 {
                assert_eq!(base[p * 6 + k], raw[p * 12 + 2 * k]);
            }
        }
        // No leakage: changing y_k and everything after it leaves ŷ_0..ŷ_k unchanged.
        let k = 3;
        let mut changed = batch.clone();
        for p in 0..2 {
            for j in k..6 {
                changed.ys[p * 6 + j] += 5.0;
            }
            for j in k + 1..6 {
                for i in 0..3 {
                    changed.xs[(p * 6 + j) * 3 + i] += 1.0;
                }
            }
        }
        let after = predict_batch(&model, &cfg, &changed, &device, 8).unwrap();
        for p in 0..2 {
            for j in 0..=k {
                assert!(
                    (after[p * 6 + j] - base[p * 6 + j]).abs() < 1e-5,
                    "ŷ_{j} moved when y_{k} and later points changed"
                );
            }
            assert!((after[p * 6 + k + 1] - base[p * 6 + k + 1]).abs() > 1e-6);
        }
    }

    #[test]
    fn a_two_point_prompt_is_read_at_slots_zero_and_two() {
        let _g = seed_lock();
        let (model, _) = tiny_model(2, 2);
        let device = Device::flex();
        let xs = Tensor::<3>::from_data(
            TensorData::new(vec![0.5f32, -1.0, 2.0, 0.3], [1, 2, 2]),
            &device,
        );
        let ys = Tensor::<3>::from_data(TensorData::new(vec![1.5f32, -0.7], [1, 2, 1]), &device);
        let pred = model.predict(xs.clone(), ys.clone());
        let raw = model.decoder.forward(
            DecoderInput::Vectors(combine(xs, ys)),
            0,
            &AttnMask::Causal,
            &mut FfnHooks::none(),
        ); // [1, 4, 1]
        let picked = Tensor::cat(
            vec![raw.clone().slice([0..1, 0..1]), raw.slice([0..1, 2..3])],
            1,
        );
        pred.into_data()
            .assert_approx_eq::<f32>(&picked.into_data(), Tolerance::absolute(0.0));
    }

    #[test]
    fn bad_configs_are_errors() {
        let _rng = repro_core::device::seed_lock(); // Burn's generator is process-wide
        let device = Device::flex();
        assert!(IclModelConfig::tiny(3, 4, 5).init(&device).is_err());
        assert!(IclModelConfig::tiny(0, 1, 5).init(&device).is_err());
        let mut c = IclModelConfig::tiny(3, 1, 5);
        c.n_heads = 3;
        assert!(c.init(&device).unwrap_err().to_string().contains("n_heads"));
        let batch = sample(&FunctionClass::Linear, 1, 6, 3, 3, &mut Noise::new(0)).unwrap();
        let cfg = IclModelConfig::tiny(3, 1, 5).with_d_model(16);
        let m = cfg.init(&device).unwrap();
        assert!(predict_batch(&m, &cfg, &batch, &device, 4).is_err());
    }
}

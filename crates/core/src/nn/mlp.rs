//! A multilayer perceptron: `n_hidden` layers `Linear → activation`, then a linear
//! read-out. Parameters are created layer by layer (weights before biases, Burn's
//! `Linear`), so a crate that replaces its own `layers: Vec<Linear>, out: Linear` stack by
//! [`Mlp`] keeps the same parameters for the same seed.
//!
//! ```
//! use burn::tensor::{Device, Tensor};
//! use repro_core::nn::mlp::{Activation, MlpConfig};
//! let device = Device::flex();
//! let mlp = MlpConfig::new(4, 2).with_hidden(16).with_n_hidden(2)
//!     .with_activation(Activation::Silu)
//!     .init(&device);
//! let y = mlp.forward(Tensor::<2>::zeros([8, 4], &device));
//! assert_eq!(y.dims(), [8, 2]);
//! ```

use burn::config::Config;
use burn::module::Module;
use burn::nn::{Initializer, Linear, LinearConfig};
use burn::tensor::activation::{gelu, relu, silu};
use burn::tensor::{Device, Tensor};
use serde::{Deserialize, Serialize};

/// The hidden layers' nonlinearity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Activation {
    /// `max(0, x)`.
    Relu,
    /// `x · σ(x)`.
    Silu,
    /// Burn's (exact, erf) GELU.
    Gelu,
    /// `tanh(x)`.
    Tanh,
}

impl Activation {
    /// Applies the nonlinearity elementwise.
    ///
    /// # Shapes
    /// - any shape -> the same shape
    pub fn apply<const D: usize>(self, x: Tensor<D>) -> Tensor<D> {
        match self {
            Activation::Relu => relu(x),
            Activation::Silu => silu(x),
            Activation::Gelu => gelu(x),
            Activation::Tanh => x.tanh(),
        }
    }
}

/// Configuration of [`Mlp`].
#[derive(Config, Debug)]
pub struct MlpConfig {
    /// Input width.
    pub d_in: usize,
    /// Output width.
    pub d_out: usize,
    /// Hidden width.
    #[config(default = 128)]
    pub hidden: usize,
    /// Hidden layers (0: a single linear map).
    #[config(default = 2)]
    pub n_hidden: usize,
    /// Hidden nonlinearity.
    #[config(default = "Activation::Relu")]
    pub activation: Activation,
    /// Zero-initialise the read-out (weights and bias), e.g. for identity couplings or
    /// residual branches that start at zero.
    #[config(default = false)]
    pub zero_out: bool,
}

/// `x → (Linear → activation) × n_hidden → Linear`.
#[derive(Module, Debug)]
pub struct Mlp {
    layers: Vec<Linear>,
    out: Linear,
    #[module(skip)]
    activation: Activation,
}

impl MlpConfig {
    /// Builds the MLP (Burn's default `Linear` initialisation).
    pub fn init(&self, device: &Device) -> Mlp {
        let mut width = self.d_in;
        let layers = (0..self.n_hidden)
            .map(|_| {
                let l = LinearConfig::new(width, self.hidden).init(device);
                width = self.hidden;
                l
            })
            .collect();
        let mut out = LinearConfig::new(width, self.d_out);
        if self.zero_out {
            out = out.with_initializer(Initializer::Zeros);
        }
        Mlp {
            layers,
            out: out.init(device),
            activation: self.activation,
        }
    }
}

impl Mlp {
    /// # Shapes
    /// - `x`: `[n, d_in]` -> `[n, d_out]`
    pub fn forward(&self, x: Tensor<2>) -> Tensor<2> {
        self.out.forward(self.hidden(x))
    }

    /// The last hidden layer's activations (the input itself when `n_hidden = 0`).
    ///
    /// # Shapes
    /// - `x`: `[n, d_in]` -> `[n, hidden]`
    pub fn hidden(&self, x: Tensor<2>) -> Tensor<2> {
        self.layers
            .iter()
            .fold(x, |a, l| self.activation.apply(l.forward(a)))
    }

    /// The read-out layer (for zero-initialising it, or reading its weights).
    pub fn out(&self) -> &Linear {
        &self.out
    }

    /// Replaces the read-out layer.
    pub fn with_out(mut self, out: Linear) -> Self {
        self.out = out;
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::params::flatten;

    #[test]
    fn hand_computed_forward_and_parameter_order() {
        let _rng = crate::device::seed_lock(); // Burn's generator is process-wide
        let device = Device::flex();
        let mlp = MlpConfig::new(2, 1)
            .with_hidden(2)
            .with_n_hidden(1)
            .init(&device);
        // Set every parameter to known values through the flat order: W1 (2×2), b1, W2 (2×1), b2.
        let vals = [1.0f32, -1.0, 2.0, 0.5, 0.0, -3.0, 1.0, 2.0, 0.25];
        assert_eq!(flatten(&mlp).len(), vals.len());
        struct Set<'a>(&'a [f32], usize);
        impl burn::module::ModuleMapper for Set<'_> {
            fn map_float<const D: usize>(
                &mut self,
                p: burn::module::Param<Tensor<D>>,
            ) -> burn::module::Param<Tensor<D>> {
                p.map(|t| {
                    let shape = t.shape();
                    let n = shape.num_elements();
                    let v = self.0[self.1..self.1 + n].to_vec();
                    self.1 += n;
                    Tensor::from_data(burn::tensor::TensorData::new(v, shape), &t.device())
                })
            }
        }
        let mlp = mlp.map(&mut Set(&vals, 0));
        // x = (1, 2): h = relu(x W1 + b1) = relu((1 + 4, -1 + 1) + (0, -3)) = (5, 0);
        // y = h W2 + b2 = 5·1 + 0·2 + 0.25 = 5.25.
        let y = mlp.forward(Tensor::<2>::from_floats([[1.0, 2.0]], &device));
        assert_eq!(y.into_data().iter::<f32>().collect::<Vec<_>>(), vec![5.25]);
        let t = Activation::Tanh.apply(Tensor::<1>::from_floats([0.5], &device));
        let t: Vec<f32> = t.into_data().iter::<f32>().collect();
        assert!((t[0] - 0.5f32.tanh()).abs() < 1e-7);
    }

    #[test]
    fn zero_hidden_layers_is_one_linear_map() {
        let _rng = crate::device::seed_lock(); // Burn's generator is process-wide
        let device = Device::flex();
        let mlp = MlpConfig::new(3, 2).with_n_hidden(0).init(&device);
        assert_eq!(flatten(&mlp).len(), 3 * 2 + 2);
        let x = Tensor::<2>::ones([1, 3], &device);
        assert_eq!(mlp.hidden(x.clone()).dims(), [1, 3]);
        let direct = mlp.out().forward(x.clone());
        let zero = MlpConfig::new(3, 2).with_zero_out(true).init(&device);
        let y: Vec<f32> = zero.forward(x.clone()).into_data().iter::<f32>().collect();
        assert_eq!(y, vec![0.0, 0.0]);
        assert_eq!(
            mlp.forward(x).into_data().iter::<f32>().collect::<Vec<_>>(),
            direct.into_data().iter::<f32>().collect::<Vec<_>>()
        );
    }
}

//! TopK sparse autoencoder (Gao et al. 2024, as openai/sparse_autoencoder), the paper's
//! post-hoc route to monosemantic features, trained on frozen normalised CL codes.
//!
//! ```text
//! a = W_enc (u − b_pre) + b_lat ;  s = ReLU(TopK_k(a)) ;  û = W_dec s + b_pre
//! L_SAE = mean_i ‖û_i − u_i‖² / ‖u_i‖²
//! ```

use burn::module::{Module, Param};
use burn::nn::{Linear, LinearConfig};
use burn::prelude::Config;
use burn::tensor::activation::relu;
use burn::tensor::{Device, IndexingUpdateOp, Tensor};

use crate::Error;

/// Sizes of a TopK SAE.
#[derive(Config, Debug, PartialEq)]
pub struct TopKSaeConfig {
    /// Input width (the projector output).
    pub d_in: usize,
    /// Number of latents.
    pub d_latent: usize,
    /// Latents kept per row.
    pub k: usize,
}

/// A TopK sparse autoencoder with untied encoder and decoder.
#[derive(Module, Debug)]
pub struct TopKSae {
    /// Pre-encoder bias, subtracted from the input and added back after decoding.
    pub b_pre: Param<Tensor<1>>,
    /// Encoder `W_enc` (no bias).
    pub enc: Linear,
    /// Latent bias.
    pub b_lat: Param<Tensor<1>>,
    /// Decoder `W_dec` (no bias).
    pub dec: Linear,
    /// Latents kept per row.
    pub k: usize,
}

impl TopKSaeConfig {
    /// Builds the SAE: default `Linear` initialisation for `W_enc`, `W_dec`; zero biases
    /// (our operationalisation). Parameters initialise lazily: call
    /// `repro_core::device::init_params_now` after seeding.
    ///
    /// # Errors
    /// [`Error::TopK`] if `k` is 0 or larger than `d_latent`, [`Error::Config`] if a size
    /// is 0.
    pub fn init(&self, device: &Device) -> Result<TopKSae, Error> {
        if self.d_in == 0 || self.d_latent == 0 {
            return Err(Error::Config(format!(
                "SAE sizes must be positive (d_in {}, d_latent {})",
                self.d_in, self.d_latent
            )));
        }
        if self.k == 0 || self.k > self.d_latent {
            return Err(Error::TopK {
                k: self.k,
                d_latent: self.d_latent,
            });
        }
        Ok(TopKSae {
            b_pre: Param::from_tensor(Tensor::zeros([self.d_in], device)),
            enc: LinearConfig::new(self.d_in, self.d_latent)
                .with_bias(false)
                .init(device),
            b_lat: Param::from_tensor(Tensor::zeros([self.d_latent], device)),
            dec: LinearConfig::new(self.d_latent, self.d_in)
                .with_bias(false)
                .init(device),
            k: self.k,
        })
    }
}

/// `ReLU(TopK_k(a))` along rows: exactly `k` entries per row pass the mask (ties broken by
/// the top-k order), the rest are 0, and only kept entries receive gradient.
///
/// # Shapes
/// - `a`: `[n, d]` with `k <= d`
/// - returns `[n, d]`
pub fn topk_relu(a: Tensor<2>, k: usize) -> Tensor<2> {
    let [n, _] = a.dims();
    let device = a.device();
    let (_, idx) = a.clone().detach().topk_with_indices(k, 1); // [n, k]
    let mask = Tensor::<2>::zeros(a.dims(), &device).scatter(
        1,
        idx,
        Tensor::ones([n, k], &device),
        IndexingUpdateOp::Add,
    ); // [n, d], exactly k ones per row (top-k indices are distinct)
    relu(a * mask)
}

impl TopKSae {
    /// Sparse latents `s = ReLU(TopK_k(W_enc (u − b_pre) + b_lat))`.
    ///
    /// # Shapes
    /// - `u`: `[n, d_in]`
    /// - returns `[n, d_latent]`, at most `k` non-zeros per row, all ≥ 0
    pub fn encode(&self, u: Tensor<2>) -> Tensor<2> {
        let a = self.enc.forward(u - self.b_pre.val().unsqueeze::<2>())
            + self.b_lat.val().unsqueeze::<2>(); // [n, d_latent]
        topk_relu(a, self.k)
    }

    /// Reconstruction `û = W_dec s + b_pre`.
    ///
    /// # Shapes
    /// - `s`: `[n, d_latent]`
    /// - returns `[n, d_in]`
    pub fn decode(&self, s: Tensor<2>) -> Tensor<2> {
        self.dec.forward(s) + self.b_pre.val().unsqueeze::<2>()
    }

    /// Latents and reconstruction.
    ///
    /// # Shapes
    /// - `u`: `[n, d_in]`
    /// - returns `([n, d_latent], [n, d_in])`
    pub fn forward(&self, u: Tensor<2>) -> (Tensor<2>, Tensor<2>) {
        let s = self.encode(u);
        let u_hat = self.decode(s.clone());
        (s, u_hat)
    }
}

/// Normalised MSE `mean_i ‖û_i − u_i‖² / max(‖u_i‖², 1e-12)`.
///
/// # Shapes
/// - `u_hat`, `u`: `[n, d]`
/// - returns `[1]`
pub fn normalized_mse(u_hat: Tensor<2>, u: Tensor<2>) -> Tensor<1> {
    let err = (u_hat - u.clone()).powi_scalar(2).sum_dim(1); // [n, 1]
    let norm = u.powi_scalar(2).sum_dim(1).clamp_min(1e-12); // [n, 1]
    (err / norm).mean()
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::TensorData;

    fn t(v: &[f32], shape: [usize; 2], device: &Device) -> Tensor<2> {
        Tensor::from_data(TensorData::new(v.to_vec(), shape), device)
    }

    fn vec(x: Tensor<2>) -> Vec<f32> {
        x.into_data().try_to_vec().unwrap()
    }

    #[test]
    fn topk_keeps_exactly_k_even_with_ties() {
        let d = Device::flex();
        let a = [0.3, -1.0, 2.0, 0.5, 0.1, 0.7, 0.7, 0.7, 0.7, 0.7];
        let s = vec(topk_relu(t(&a, [2, 5], &d), 2));
        assert_eq!(s[..5], [0.0, 0.0, 2.0, 0.5, 0.0]);
        // Five equal values: exactly two survive.
        assert_eq!(s[5..].iter().filter(|&&v| v > 0.0).count(), 2);
        // Negative top-k values are cut by the ReLU: at most k non-zeros, all ≥ 0.
        let neg = vec(topk_relu(t(&[-0.1, -0.2, -0.3], [1, 3], &d), 2));
        assert_eq!(neg, [0.0, 0.0, 0.0]);
    }

    #[test]
    fn unselected_latents_get_no_gradient() {
        let ad = Device::flex().autodiff();
        let a = t(&[0.3, -1.0, 2.0, 0.5, 0.1], [1, 5], &ad).require_grad();
        let grads = (topk_relu(a.clone(), 2) * 3.0).sum().backward();
        assert_eq!(vec(a.grad(&grads).unwrap()), [0.0, 0.0, 3.0, 3.0, 0.0]);
    }

    #[test]
    fn normalized_mse_extremes() {
        let d = Device::flex();
        let u = t(&[1.0, 2.0, 0.0, -3.0], [2, 2], &d);
        let perfect = normalized_mse(u.clone(), u.clone()).into_scalar::<f64>();
        assert_eq!(perfect, 0.0);
        // W_dec = 0 and b_pre = 0 reconstruct 0: ‖u‖²/‖u‖² = 1 for every row.
        let zero = normalized_mse(Tensor::zeros([2, 2], &d), u).into_scalar::<f64>();
        assert!((zero - 1.0).abs() < 1e-7);
    }

    #[test]
    fn encode_is_sparse_and_bad_k_is_an_error() {
        let _rng = repro_core::device::seed_lock(); // Burn's generator is process-wide
        let d = Device::flex();
        let sae = TopKSaeConfig::new(6, 8, 3).init(&d).unwrap();
        let u = t(
            &(0..12).map(|i| (i as f32 * 0.37).sin()).collect::<Vec<_>>(),
            [2, 6],
            &d,
        );
        let (s, u_hat) = sae.forward(u);
        assert_eq!(u_hat.dims(), [2, 6]);
        let s = vec(s);
        for row in s.chunks(8) {
            assert!(row.iter().filter(|&&v| v != 0.0).count() <= 3);
            assert!(row.iter().all(|&v| v >= 0.0));
        }
        let err = TopKSaeConfig::new(6, 8, 9).init(&d).unwrap_err();
        assert!(err.to_string().contains("top-k 9"), "{err}");
        assert!(TopKSaeConfig::new(6, 8, 0).init(&d).is_err());
    }
}

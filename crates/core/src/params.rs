//! Whole-module parameter helpers: every parameter value (or gradient) flattened in module
//! order, and an exponential moving average of a module. Tests compare models bit for bit
//! with [`flatten_bits`]; burnpack bytes cannot be compared, since they also hold parameter
//! ids, which differ between two models.
//!
//! ```
//! use burn::tensor::Device;
//! use burn::nn::LinearConfig;
//! use repro_core::params;
//! let device = Device::flex();
//! let a = LinearConfig::new(2, 3).init(&device);
//! let b = LinearConfig::new(2, 3).init(&device);
//! assert_eq!(params::flatten(&a).len(), 2 * 3 + 3);
//! // decay 0 copies the online model, decay 1 keeps the average.
//! assert_eq!(params::flatten(&params::ema_update(a.clone(), &b, 0.0)), params::flatten(&b));
//! assert_eq!(params::flatten(&params::ema_update(a.clone(), &b, 1.0)), params::flatten(&a));
//! ```

use burn::module::{Module, ModuleMapper, ModuleVisitor, Param};
use burn::tensor::{Gradients, Tensor};

/// Every float parameter's values, in module (visiting) order.
pub fn flatten<M: Module>(m: &M) -> Vec<f32> {
    struct Collect(Vec<f32>);
    impl ModuleVisitor for Collect {
        fn visit_float<const D: usize>(&mut self, p: &Param<Tensor<D>>) {
            self.0.extend(p.val().into_data().iter::<f32>());
        }
    }
    let mut c = Collect(Vec::new());
    m.visit(&mut c);
    c.0
}

/// [`flatten`] as bit patterns, for exact equality (`NaN == NaN`, `0.0 != -0.0`).
pub fn flatten_bits<M: Module>(m: &M) -> Vec<u32> {
    flatten(m).into_iter().map(f32::to_bits).collect()
}

/// Every float parameter's gradient in `grads`, flattened in module order; parameters
/// without a gradient are left out.
pub fn flatten_grads<M: Module>(m: &M, grads: &Gradients) -> Vec<f32> {
    struct Collect<'a>(&'a Gradients, Vec<f32>);
    impl ModuleVisitor for Collect<'_> {
        fn visit_float<const D: usize>(&mut self, p: &Param<Tensor<D>>) {
            if let Some(g) = p.val().grad(self.0) {
                self.1.extend(g.into_data().iter::<f32>());
            }
        }
    }
    let mut c = Collect(grads, Vec::new());
    m.visit(&mut c);
    c.1
}

/// `ema <- decay * ema + (1 - decay) * online`, parameter by parameter in module order,
/// detached (an average is never trained).
///
/// # Panics
/// If the two modules have different numbers of float parameters (not the same
/// architecture: a programming error, not input).
pub fn ema_update<M: Module>(ema: M, online: &M, decay: f32) -> M {
    struct Collect(Vec<Tensor<1>>);
    impl ModuleVisitor for Collect {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            let t = param.val().detach();
            let n = t.shape().num_elements();
            self.0.push(t.reshape([n]));
        }
    }
    struct Blend {
        online: Vec<Tensor<1>>,
        next: usize,
        decay: f32,
    }
    impl ModuleMapper for Blend {
        fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
            let Some(o) = self.online.get(self.next).cloned() else {
                panic!("ema_update: parameter counts differ (the average has more)");
            };
            self.next += 1;
            let decay = self.decay;
            param.map(|t| {
                let dims = t.dims();
                (t.detach() * decay + o.reshape(dims) * (1.0 - decay)).detach()
            })
        }
    }
    let mut c = Collect(Vec::new());
    online.visit(&mut c);
    let n = c.0.len();
    let mut b = Blend {
        online: c.0,
        next: 0,
        decay,
    };
    let out = ema.map(&mut b);
    assert_eq!(b.next, n, "ema_update: parameter counts differ");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::nn::LinearConfig;
    use burn::tensor::Device;

    #[test]
    fn ema_blends_and_gradients_flatten_in_order() {
        let _rng = crate::device::seed_lock(); // Burn's generator is process-wide
        let device = Device::flex();
        let a = LinearConfig::new(3, 2).init(&device);
        let b = LinearConfig::new(3, 2).init(&device);
        let (fa, fb) = (flatten(&a), flatten(&b));
        let q = flatten(&ema_update(a.clone(), &b, 0.25));
        for ((h, x), y) in q.iter().zip(&fa).zip(&fb) {
            assert!((h - (0.25 * x + 0.75 * y)).abs() < 1e-6);
        }
        assert_eq!(
            flatten_bits(&a),
            fa.iter().map(|v| v.to_bits()).collect::<Vec<_>>()
        );
        // Loss = sum(W x + b) at x = (1, 2, 3): dW[i][o] = x[i], db = 1, in module order
        // (weight [3, 2] row-major, then bias).
        let device = Device::flex().autodiff();
        let m = LinearConfig::new(3, 2).init(&device);
        let x = Tensor::<2>::from_floats([[1.0, 2.0, 3.0]], &device);
        let grads = m.forward(x).sum().backward();
        assert_eq!(
            flatten_grads(&m, &grads),
            vec![1.0, 1.0, 2.0, 2.0, 3.0, 3.0, 1.0, 1.0]
        );
    }

    #[test]
    #[should_panic(expected = "parameter counts differ")]
    fn ema_of_different_architectures_panics() {
        let _rng = crate::device::seed_lock(); // Burn's generator is process-wide
        let device = Device::flex();
        let one = vec![LinearConfig::new(3, 2).init(&device)];
        let two = vec![LinearConfig::new(3, 2).init(&device); 2];
        let _ = ema_update(two, &one, 0.5);
    }
}

//! Learning-rate schedules as pure functions of the step, so resuming needs only the step.

use serde::{Deserialize, Serialize};

/// A learning-rate schedule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum LrSchedule {
    /// The same rate throughout.
    Constant {
        /// Rate.
        lr: f64,
    },
    /// Linear warm-up from 0 over `warmup` steps, then cosine decay from `lr` to `min_lr`
    /// at step `total`.
    Cosine {
        /// Peak rate.
        lr: f64,
        /// Final rate.
        min_lr: f64,
        /// Warm-up steps.
        warmup: usize,
        /// Total steps.
        total: usize,
    },
    /// Linear warm-up from 0 over `warmup` steps, then linear decay from `lr` to `final_lr`
    /// at step `total` (Hugging Face's `get_linear_schedule_with_warmup` when `final_lr` is 0).
    Linear {
        /// Peak rate.
        lr: f64,
        /// Rate at `total` and after.
        final_lr: f64,
        /// Warm-up steps.
        warmup: usize,
        /// Total steps.
        total: usize,
    },
    /// `lr * gamma^(step / every)` (PyTorch's `StepLR`).
    Step {
        /// Initial rate.
        lr: f64,
        /// Steps between decays.
        every: usize,
        /// Decay factor.
        gamma: f64,
    },
}

impl LrSchedule {
    /// The rate at `step` (0-based).
    pub fn lr(&self, step: usize) -> f64 {
        match *self {
            Self::Constant { lr } => lr,
            Self::Cosine {
                lr,
                min_lr,
                warmup,
                total,
            } => warm_then(step, lr, warmup, total, |t| {
                min_lr + 0.5 * (lr - min_lr) * (1.0 + (std::f64::consts::PI * t).cos())
            }),
            Self::Linear {
                lr,
                final_lr,
                warmup,
                total,
            } => warm_then(step, lr, warmup, total, |t| lr + t * (final_lr - lr)),
            Self::Step { lr, every, gamma } => lr * gamma.powi((step / every.max(1)) as i32),
        }
    }
}

/// Linear warm-up from 0 to `lr` over `warmup` steps, then `decay(t)` with `t` going from 0
/// at the end of warm-up to 1 at `total` (and staying there).
fn warm_then(step: usize, lr: f64, warmup: usize, total: usize, decay: impl Fn(f64) -> f64) -> f64 {
    if step < warmup {
        return lr * (step + 1) as f64 / warmup as f64;
    }
    let span = total.saturating_sub(warmup).max(1);
    decay(((step - warmup) as f64 / span as f64).min(1.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedules_by_hand() {
        assert_eq!(LrSchedule::Constant { lr: 0.1 }.lr(99), 0.1);
        let c = LrSchedule::Cosine {
            lr: 1.0,
            min_lr: 0.0,
            warmup: 2,
            total: 12,
        };
        assert_eq!(c.lr(0), 0.5);
        assert_eq!(c.lr(1), 1.0);
        assert!((c.lr(2) - 1.0).abs() < 1e-12);
        assert!((c.lr(7) - 0.5).abs() < 1e-12); // halfway: (1 + cos(pi/2)) / 2
        assert!(c.lr(12).abs() < 1e-12 && c.lr(50).abs() < 1e-12);
        let l = LrSchedule::Linear {
            lr: 1.0,
            final_lr: 0.1,
            warmup: 10,
            total: 110,
        };
        assert_eq!(l.lr(4), 0.5);
        assert!((l.lr(60) - 0.55).abs() < 1e-12); // halfway from 1.0 to 0.1
        assert!((l.lr(500) - 0.1).abs() < 1e-12);
        let s = LrSchedule::Step {
            lr: 1.0,
            every: 10,
            gamma: 0.1,
        };
        assert_eq!((s.lr(9), s.lr(10)), (1.0, 0.1));
    }
}

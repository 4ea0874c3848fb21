//! The curriculum of Garg et al. (upstream `src/curriculum.py`): the number of active input
//! dimensions and of points per prompt grow in steps during training.
//!
//! `value(step) = min(end, start + inc·⌊step / interval⌋)` for both; coordinates `>= dims`
//! are zeroed (never the labels), and evaluation always uses the full `d` and `n`.
//!
//! ```
//! use repro_icl_ood::curriculum::{Curriculum, Stage};
//! // The quick preset: dims 2 -> 4 (+1 / 150 steps), points 5 -> 17 (+2 / 150 steps).
//! let c = Curriculum {
//!     dims: Stage { start: 2, end: 4, inc: 1, interval: 150 },
//!     points: Stage { start: 5, end: 17, inc: 2, interval: 150 },
//! };
//! assert_eq!(c.at(0), (2, 5));
//! assert_eq!(c.at(449), (4, 9));
//! assert_eq!(c.full_from(), 900);
//! c.check(4, 17)?;
//! assert!(c.check(4, 15).is_err()); // ends above the model's 15 points
//! # Ok::<(), anyhow::Error>(())
//! ```

use anyhow::ensure;
use serde::{Deserialize, Serialize};

/// One schedule: `min(end, start + inc·⌊step / interval⌋)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stage {
    /// Value at step 0.
    pub start: usize,
    /// Final value.
    pub end: usize,
    /// Increment per interval.
    pub inc: usize,
    /// Steps per increment.
    pub interval: usize,
}

impl Stage {
    /// A constant schedule.
    pub fn fixed(value: usize) -> Self {
        Self {
            start: value,
            end: value,
            inc: 0,
            interval: 1,
        }
    }

    /// The value at `step` (0-based).
    pub fn at(&self, step: usize) -> usize {
        let steps = step / self.interval.max(1);
        self.end
            .min(self.start.saturating_add(self.inc.saturating_mul(steps)))
    }

    /// The first step at which the value is `end`.
    pub fn full_from(&self) -> usize {
        if self.start >= self.end {
            return 0;
        }
        let incs = (self.end - self.start).div_ceil(self.inc.max(1));
        incs * self.interval
    }

    fn check(&self, what: &str, max: usize) -> anyhow::Result<()> {
        ensure!(
            self.interval > 0,
            "curriculum {what}: interval must be positive"
        );
        ensure!(
            self.start >= 1 && self.start <= self.end,
            "curriculum {what}: start {} must be in 1..=end ({})",
            self.start,
            self.end
        );
        ensure!(
            self.inc > 0 || self.start == self.end,
            "curriculum {what}: increment 0 never reaches the end {} from {}",
            self.end,
            self.start
        );
        ensure!(
            self.end <= max,
            "curriculum {what} ends at {} above the model's {max}",
            self.end
        );
        Ok(())
    }
}

/// Active dimensions and points per prompt over training.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Curriculum {
    /// Active input dimensions.
    pub dims: Stage,
    /// Points per prompt.
    pub points: Stage,
}

impl Curriculum {
    /// No curriculum: always `d` dimensions and `n` points.
    pub fn fixed(d: usize, n: usize) -> Self {
        Self {
            dims: Stage::fixed(d),
            points: Stage::fixed(n),
        }
    }

    /// `(dims, points)` at `step`.
    pub fn at(&self, step: usize) -> (usize, usize) {
        (self.dims.at(step), self.points.at(step))
    }

    /// The first step at which both schedules have reached their end.
    pub fn full_from(&self) -> usize {
        self.dims.full_from().max(self.points.full_from())
    }

    /// Checks the schedules against a model of input width `d` and `n` points per prompt.
    ///
    /// # Errors
    /// A zero interval or start, an increment that never reaches the end, or an end above
    /// `d` dimensions or `n` points.
    pub fn check(&self, d: usize, n: usize) -> anyhow::Result<()> {
        self.dims.check("dims", d)?;
        self.points.check("points", n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_at_the_boundaries() {
        // start 5, +2 every 150 steps, end 17: 5 + 2·⌊s/150⌋.
        let s = Stage {
            start: 5,
            end: 17,
            inc: 2,
            interval: 150,
        };
        assert_eq!(s.at(0), 5);
        assert_eq!(s.at(149), 5); // interval − 1
        assert_eq!(s.at(150), 7); // interval
        assert_eq!(s.at(899), 15);
        assert_eq!(s.at(900), 17);
        assert_eq!(s.at(100_000), 17); // past the end
        assert_eq!(s.full_from(), 900);
        // An increment that overshoots the end is clipped: 2, 5, 5.
        let o = Stage {
            start: 2,
            end: 5,
            inc: 4,
            interval: 10,
        };
        assert_eq!((o.at(9), o.at(10), o.at(25)), (2, 5, 5));
        assert_eq!(o.full_from(), 10);
        assert_eq!(Stage::fixed(3).at(1000), 3);
    }

    #[test]
    fn bad_schedules_are_errors() {
        let c = Curriculum::fixed(4, 17);
        c.check(4, 17).unwrap();
        let e = c.check(4, 16).unwrap_err().to_string();
        assert!(e.contains("points ends at 17 above the model's 16"), "{e}");
        assert!(Curriculum::fixed(5, 17).check(4, 17).is_err());
        let mut z = c;
        z.points.interval = 0;
        assert!(z.check(4, 17).is_err());
        z = c;
        z.points = Stage {
            start: 5,
            end: 17,
            inc: 0,
            interval: 1,
        };
        assert!(z.check(4, 17).unwrap_err().to_string().contains("never"));
        z.points = Stage::fixed(0);
        assert!(z.check(4, 17).is_err());
    }
}

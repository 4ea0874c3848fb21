//! Model selection by a validation metric, and early stopping.

/// Whether a larger or a smaller metric is better.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Goal {
    /// Larger is better (accuracy).
    Maximize,
    /// Smaller is better (loss).
    Minimize,
}

impl Goal {
    fn improves(&self, new: f64, best: f64, min_delta: f64) -> bool {
        match self {
            Self::Maximize => new > best + min_delta,
            Self::Minimize => new < best - min_delta,
        }
    }
}

/// Keeps the best value seen of a validation metric and a snapshot taken at that point
/// (usually the model). NaN never counts as an improvement.
#[derive(Debug, Clone)]
pub struct BestTracker<T> {
    goal: Goal,
    best: Option<(usize, f64, T)>,
}

impl<T> BestTracker<T> {
    /// An empty tracker.
    pub fn new(goal: Goal) -> Self {
        Self { goal, best: None }
    }

    /// Offers `metric` measured at `step`; `snapshot` is only called on an improvement
    /// (ties keep the earlier one). Returns whether it improved.
    pub fn offer(&mut self, step: usize, metric: f64, snapshot: impl FnOnce() -> T) -> bool {
        if metric.is_nan() {
            return false;
        }
        let better = match &self.best {
            None => true,
            Some((_, b, _)) => self.goal.improves(metric, *b, 0.0),
        };
        if better {
            self.best = Some((step, metric, snapshot()));
        }
        better
    }

    /// `(step, metric, snapshot)` of the best so far.
    pub fn best(&self) -> Option<(usize, f64, &T)> {
        self.best.as_ref().map(|(s, m, t)| (*s, *m, t))
    }

    /// The best snapshot, consuming the tracker.
    pub fn into_best(self) -> Option<(usize, f64, T)> {
        self.best
    }
}

/// Stops when the metric has not improved by more than `min_delta` for `patience`
/// consecutive checks.
#[derive(Debug, Clone)]
pub struct EarlyStopping {
    goal: Goal,
    patience: usize,
    min_delta: f64,
    best: Option<f64>,
    since_best: usize,
}

impl EarlyStopping {
    /// A stopper with the given patience and minimum improvement.
    pub fn new(goal: Goal, patience: usize, min_delta: f64) -> Self {
        Self {
            goal,
            patience,
            min_delta,
            best: None,
            since_best: 0,
        }
    }

    /// Records a check; returns `true` when training should stop.
    pub fn should_stop(&mut self, metric: f64) -> bool {
        match self.best {
            Some(b) if metric.is_nan() || !self.goal.improves(metric, b, self.min_delta) => {
                self.since_best += 1;
            }
            _ if metric.is_nan() => self.since_best += 1,
            _ => {
                self.best = Some(metric);
                self.since_best = 0;
            }
        }
        self.since_best >= self.patience
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tracker_keeps_first_best() {
        let mut t = BestTracker::new(Goal::Maximize);
        assert!(t.offer(0, 0.5, || "a"));
        assert!(!t.offer(1, f64::NAN, || "nan"));
        assert!(t.offer(2, 0.7, || "b"));
        assert!(!t.offer(3, 0.7, || "tie"));
        assert!(!t.offer(4, 0.6, || "c"));
        assert_eq!(t.best(), Some((2, 0.7, &"b")));
        let mut l = BestTracker::new(Goal::Minimize);
        l.offer(0, 2.0, || 0);
        l.offer(1, 1.0, || 1);
        assert_eq!(l.into_best().unwrap().2, 1);
    }

    #[test]
    fn early_stopping_counts_patience() {
        let mut e = EarlyStopping::new(Goal::Minimize, 2, 0.01);
        assert!(!e.should_stop(1.0));
        assert!(!e.should_stop(0.995)); // not better by more than 0.01
        assert!(!e.should_stop(0.9)); // resets
        assert!(!e.should_stop(0.95));
        assert!(e.should_stop(f64::NAN));
    }
}

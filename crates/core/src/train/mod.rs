//! Pieces of a hand-written Burn 0.22 training loop.
//!
//! Burn's `Learner` is not used (it pulls in ~57 crates and changes between releases).
//! A paper crate writes its loop and takes from here:
//!
//! - [`optim`]: optimiser presets with PyTorch's defaults spelled out, global-norm
//!   gradient clipping, AdamW that decays weight matrices only;
//! - [`LrSchedule`]: stateless learning-rate schedules (resuming needs only the step);
//! - [`BestTracker`] (model selection by a validation metric) and [`EarlyStopping`];
//! - [`ensure_finite`]: stop with a clear message on a NaN or infinite loss;
//! - [`progress_bar`]: an indicatif bar that stays quiet when stderr is not a terminal;
//! - [`Checkpoint`]: save and resume model, optimiser and loop state;
//! - [`minibatches`]: seeded shuffled index batches.

mod checkpoint;
pub mod optim;
mod schedule;
mod select;

use std::io::IsTerminal;

pub use checkpoint::Checkpoint;
pub use schedule::LrSchedule;
pub use select::{BestTracker, EarlyStopping, Goal};

use crate::data::split::SplitMix64;

/// Errors that stop a training run.
#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    /// A loss or metric became NaN or infinite.
    #[error(
        "{what} is {value} at step {step}: training diverged (lower the learning rate, check inputs for NaN)"
    )]
    NonFinite {
        /// What was measured.
        what: String,
        /// Step at which it happened.
        step: usize,
        /// The value.
        value: f64,
    },
    /// A training setting is out of its range (say, a non-positive clipping norm).
    #[error("invalid training setting: {0}")]
    InvalidSetting(String),
}

/// Fails with [`TrainError::NonFinite`] when `value` is NaN or infinite.
pub fn ensure_finite(what: &str, step: usize, value: f64) -> Result<f64, TrainError> {
    if value.is_finite() {
        Ok(value)
    } else {
        Err(TrainError::NonFinite {
            what: what.into(),
            step,
            value,
        })
    }
}

/// Where a long training run reports progress and checkpoints (long-context, icl-ood).
#[derive(Clone)]
pub struct Hooks<'a> {
    /// Called with `1` after every optimiser step.
    pub progress: &'a (dyn Fn(u64) + Sync),
    /// Where the run saves its state every [`Hooks::every`] steps and resumes from.
    pub checkpoint: Option<Checkpoint>,
    /// Steps between checkpoints (and the last step).
    pub every: usize,
}

fn no_progress(_: u64) {}

impl Hooks<'static> {
    /// No progress reporting, no checkpoint.
    pub fn none() -> Self {
        Hooks {
            progress: &no_progress,
            checkpoint: None,
            every: usize::MAX,
        }
    }
}

impl<'a> Hooks<'a> {
    /// The same progress, checkpointing into the subfolder `name` of this checkpoint.
    pub fn sub(&self, name: &str) -> Hooks<'a> {
        Hooks {
            progress: self.progress,
            checkpoint: self
                .checkpoint
                .as_ref()
                .map(|c| Checkpoint::new(c.dir().join(name))),
            every: self.every,
        }
    }
}

/// A progress bar over `len` steps, hidden when `enabled` is false, when stderr is not a
/// terminal, or when `REPRO_QUIET` is set.
pub fn progress_bar(len: u64, message: &str, enabled: bool) -> indicatif::ProgressBar {
    let quiet =
        !enabled || !std::io::stderr().is_terminal() || std::env::var_os("REPRO_QUIET").is_some();
    if quiet {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new(len);
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{msg:>24} [{bar:30}] {pos}/{len} {elapsed_precise} eta {eta}",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
        .progress_chars("=> "),
    );
    bar.set_message(message.to_owned());
    bar
}

/// Runs two independent jobs at once, one on a scoped thread, and returns both results.
///
/// Small models leave Flex's thread pool half idle (per-op dispatch dominates), so two
/// independent training runs side by side use 2 cores far better than one after the other.
/// Results are the same as sequential runs as long as neither job draws from a shared RNG
/// (initialise and seed models before calling this).
///
/// ```
/// let (a, b) = repro_core::train::concurrently(|| 1 + 1, || "two");
/// assert_eq!((a, b), (2, "two"));
/// ```
pub fn concurrently<A: Send, B: Send>(
    first: impl FnOnce() -> A + Send,
    second: impl FnOnce() -> B + Send,
) -> (A, B) {
    std::thread::scope(|scope| {
        let handle = scope.spawn(second);
        let a = first();
        let b = match handle.join() {
            Ok(b) => b,
            Err(panic) => std::panic::resume_unwind(panic),
        };
        (a, b)
    })
}

/// Indices `0..n` shuffled with `seed` and cut into batches of `batch_size` (the last one
/// may be shorter).
///
/// # Panics
/// If `batch_size` is zero.
pub fn minibatches(n: usize, batch_size: usize, seed: u64) -> Vec<Vec<usize>> {
    assert!(batch_size > 0, "batch_size must be positive");
    let mut idx: Vec<usize> = (0..n).collect();
    SplitMix64::new(seed).shuffle(&mut idx);
    idx.chunks(batch_size).map(<[usize]>::to_vec).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nan_guard_names_step() {
        assert_eq!(ensure_finite("loss", 3, 1.5).unwrap(), 1.5);
        let msg = ensure_finite("loss", 17, f64::NAN).unwrap_err().to_string();
        assert!(msg.contains("loss is NaN at step 17"), "{msg}");
        assert!(ensure_finite("loss", 0, f64::INFINITY).is_err());
    }

    #[test]
    fn minibatches_cover_once() {
        let b = minibatches(10, 4, 1);
        assert_eq!(b.iter().map(Vec::len).collect::<Vec<_>>(), vec![4, 4, 2]);
        let mut all: Vec<usize> = b.concat();
        all.sort_unstable();
        assert_eq!(all, (0..10).collect::<Vec<_>>());
        assert_eq!(b, minibatches(10, 4, 1));
        assert_ne!(b, minibatches(10, 4, 2));
    }

    #[test]
    fn hidden_bar_when_disabled() {
        assert!(progress_bar(10, "x", false).is_hidden());
    }
}

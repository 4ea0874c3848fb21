//! E5, the real-text sanity run (spec §6, LC-4, report only): a character-level decoder on
//! Tiny Shakespeare, its final checkpoint as the evaluator, and its ¼, ½ and 1 checkpoints
//! scored with PPL and LongPPL. No ground truth exists for real text, so LC-4 reports the key
//! fraction and how many key tokens are *copy-explainable*: the 8-gram ending at the token
//! occurs in its long context but not in its short one (our operationalisation of "needs the
//! long context"), against the same share among the other tokens.

use burn::tensor::{Bool, Device, Int, Tensor, TensorData};
use repro_core::Profile;
use repro_core::data::DataRoots;
use repro_core::data::parsers::shakespeare::{CharCorpus, load_tinyshakespeare};
use repro_core::data::split::SplitMix64;
use repro_core::device::{init_params_now, seed};
use repro_core::lm::{ContextWindow, TokenLogProbs};
use repro_core::nn::decoder::{AttnMask, Decoder};
use serde::{Deserialize, Serialize};

use crate::metrics::{KeyTokenConfig, PplPair, find_key_tokens, ppl_pairs};
use crate::train::{Hooks, Objective, RunSpec, rope_decoder, train_on};

/// Validation windows scored per forward pass (bounds the memory of truncated windows).
const GROUP: usize = 8;

/// Length of the n-grams of the copy test.
pub const COPY_NGRAM: usize = 8;

/// Settings of the Shakespeare run.
#[derive(Debug, Clone, Serialize)]
pub struct TextConfig {
    /// Window length `T` (characters).
    pub len: usize,
    /// Short context `s` of the key-token rule.
    pub short: usize,
    /// Residual width, heads and blocks of the decoder.
    pub d_model: usize,
    /// Attention heads.
    pub n_heads: usize,
    /// Blocks.
    pub n_layers: usize,
    /// Windows per step.
    pub batch: usize,
    /// Training steps.
    pub steps: usize,
    /// Peak learning rate (100 warm-up steps, linear decay to a tenth).
    pub lr: f64,
    /// Validation windows scored (consecutive, from the start of the validation split).
    pub eval_windows: usize,
    /// Key-token thresholds (nats).
    pub alpha: f64,
    /// See `alpha`.
    pub beta: f64,
}

impl TextConfig {
    /// The preset of a profile: spec's E5 (T = 256, s = 32, 3,000 steps) at `full`, shorter
    /// training at `quick`, a few steps at `smoke`.
    pub fn for_profile(p: Profile) -> Self {
        let full = Self {
            len: 256,
            short: 32,
            d_model: 64,
            n_heads: 4,
            n_layers: 2,
            batch: 8,
            steps: 3000,
            lr: 3e-3,
            eval_windows: 100,
            alpha: 2.0,
            beta: -2.0,
        };
        match p {
            Profile::Full => full,
            Profile::Quick => Self {
                steps: 1000,
                eval_windows: 50,
                ..full
            },
            Profile::Smoke => Self {
                len: 64,
                short: 16,
                d_model: 32,
                n_heads: 2,
                batch: 4,
                steps: 10,
                eval_windows: 4,
                ..full
            },
        }
    }
}

/// One scored checkpoint.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TextMember {
    /// Training step of the checkpoint.
    pub step: usize,
    /// Perplexity over every scored character.
    pub ppl: f64,
    /// LongPPL on the evaluator's key characters (`None` without key tokens).
    pub long_ppl: Option<f64>,
}

/// What LC-4 reports.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TextReport {
    /// The checkpoints, evaluator last.
    pub members: Vec<TextMember>,
    /// Key characters among targets with a short pass (`i > s`).
    pub key_fraction: f64,
    /// Number of key characters.
    pub n_key: usize,
    /// Number of targets with a short pass (`i > s`), key or not.
    pub n_scored: usize,
    /// Share of key characters that are copy-explainable.
    pub copy_share_key: f64,
    /// Same share among the other characters with a short pass.
    pub copy_share_other: f64,
    /// A few key characters in context (`…context[key]`), for reading.
    pub examples: Vec<String>,
    /// Training loss, mean of the first and last 10% of steps.
    pub loss_first_last: (f64, f64),
}

/// Whether target `i` of `ids` is copy-explainable: the `n`-gram ending at `i` also ends at
/// some `j < i` in the long context `x[0..i]`, but at no `j` whose n-gram lies inside the short
/// context `x[i - s..i]`.
pub fn copy_explainable(ids: &[u32], i: usize, s: usize, n: usize) -> bool {
    if i + 1 < n {
        return false;
    }
    let gram = &ids[i + 1 - n..=i];
    let start_short = i.saturating_sub(s);
    let mut in_long = false;
    for j in (n - 1)..i {
        if &ids[j + 1 - n..=j] == gram {
            if j + 1 - n >= start_short {
                return false;
            }
            in_long = true;
        }
    }
    in_long
}

fn windows_tensor(ids: &[u32], starts: &[usize], len: usize, device: &Device) -> Tensor<2, Int> {
    let data: Vec<i64> = starts
        .iter()
        .flat_map(|&st| ids[st..st + len].iter().map(|&x| i64::from(x)))
        .collect();
    Tensor::from_data(TensorData::new(data, [starts.len(), len]), device)
}

/// Trains the character decoder and scores its checkpoints (LC-4).
///
/// # Errors
/// If the corpus cannot be read, or its splits are shorter than one window or than the
/// requested validation windows.
pub fn run(
    cfg: &TextConfig,
    roots: &DataRoots,
    device: &Device,
    s: u64,
    hooks: &Hooks<'_>,
) -> anyhow::Result<TextReport> {
    let corpus = load_tinyshakespeare(roots)?;
    run_on(cfg, &corpus, device, s, hooks)
}

/// [`run`] on an already loaded corpus (90% train, 10% validation, nanoGPT's split).
///
/// # Errors
/// If a split is shorter than one window or than the requested validation windows.
pub fn run_on(
    cfg: &TextConfig,
    corpus: &CharCorpus,
    device: &Device,
    s: u64,
    hooks: &Hooks<'_>,
) -> anyhow::Result<TextReport> {
    let (train_text, val_text) = corpus.split(0.9);
    let enc = |t: &str| {
        corpus
            .encode(t)
            .map_err(|e| anyhow::anyhow!("tinyshakespeare: {e}"))
    };
    let (train_ids, val_ids) = (enc(train_text)?, enc(val_text)?);
    let t = cfg.len;
    check_sizes(cfg, train_ids.len(), val_ids.len())?;
    seed(device, s);
    let model = init_params_now(
        rope_decoder(
            corpus.vocab_size(),
            cfg.d_model,
            cfg.n_heads,
            cfg.n_layers,
            t,
        )
        .init(device),
    );
    let quarter = vec![(cfg.steps / 4).max(1), (cfg.steps / 2).max(1), cfg.steps];
    let spec = RunSpec {
        steps: cfg.steps,
        lr: cfg.lr,
        warmup: 100.min(cfg.steps / 10).max(1),
        final_frac: 0.1,
        mask: AttnMask::Causal,
        p_far: 0.0,
        objective: Objective::Ce,
        data_seed: 20 * s + 5,
        snapshots: quarter,
    };
    let span = train_ids.len() - t;
    let trained = train_on(
        model,
        device,
        cfg.short,
        &spec,
        hooks,
        |rng: &mut SplitMix64| {
            let starts: Vec<usize> = (0..cfg.batch).map(|_| rng.below(span + 1)).collect();
            Ok(windows_tensor(&train_ids, &starts, t, device))
        },
    )?;

    // Scoring on consecutive validation windows, in groups to bound memory.
    let plain = device.clone().without_autodiff();
    let starts: Vec<usize> = (0..cfg.eval_windows).map(|k| k * t).collect();
    let evaluator = &trained.snapshots.last().expect("final snapshot").1;
    // Key flags per group of 8 windows (on the device, for LongPPL) and flattened on the
    // host (for the copy test).
    let key_cfg = KeyTokenConfig {
        alpha: cfg.alpha,
        beta: cfg.beta,
        window: ContextWindow::Truncated(cfg.short),
    };
    let key_groups: Vec<Tensor<2, Bool>> = starts
        .chunks(GROUP)
        .map(|group| {
            find_key_tokens(
                evaluator,
                windows_tensor(&val_ids, group, t, &plain),
                &key_cfg,
            )
        })
        .collect();
    let key: Vec<bool> = key_groups
        .iter()
        .flat_map(|k| k.clone().into_data().iter::<bool>().collect::<Vec<_>>())
        .collect();
    let members = trained
        .snapshots
        .iter()
        .map(|(step, m)| score(m, *step, &val_ids, &starts, t, &key_groups, &plain))
        .collect();

    let c = copy_stats(cfg, corpus, &val_ids, &starts, &key);
    let ratio = |a: usize, b: usize| {
        if b == 0 {
            f64::NAN
        } else {
            a as f64 / b as f64
        }
    };
    let l = &trained.losses;
    let k = (l.len() / 10).max(1);
    Ok(TextReport {
        members,
        key_fraction: ratio(c.key_n, c.key_n + c.other_n),
        n_key: c.key_n,
        n_scored: c.key_n + c.other_n,
        copy_share_key: ratio(c.key_copy, c.key_n),
        copy_share_other: ratio(c.other_copy, c.other_n),
        examples: c.examples,
        loss_first_last: (
            l[..k].iter().sum::<f64>() / k as f64,
            l[l.len() - k..].iter().sum::<f64>() / k as f64,
        ),
    })
}

/// The window and split sizes a run needs, as clear errors.
fn check_sizes(cfg: &TextConfig, n_train: usize, n_val: usize) -> anyhow::Result<()> {
    let t = cfg.len;
    anyhow::ensure!(
        cfg.short + 1 < t,
        "tinyshakespeare: short context {} must be below the window {t}",
        cfg.short
    );
    anyhow::ensure!(
        n_train > t,
        "tinyshakespeare: the training split ({n_train} characters) is shorter than one window of {t}"
    );
    anyhow::ensure!(
        n_val >= cfg.eval_windows * t,
        "tinyshakespeare: the validation split ({n_val} characters) holds fewer than {} windows of {t}",
        cfg.eval_windows
    );
    Ok(())
}

/// Counts of key and other characters that a short pass could copy, with examples.
#[derive(Default)]
struct CopyStats {
    key_n: usize,
    key_copy: usize,
    other_n: usize,
    other_copy: usize,
    examples: Vec<String>,
}

/// Copy-explainability of key and other characters with a short pass (positions `i > s`
/// of every validation window; `key` holds one flag per scored target, window by window).
fn copy_stats(
    cfg: &TextConfig,
    corpus: &CharCorpus,
    val_ids: &[u32],
    starts: &[usize],
    key: &[bool],
) -> CopyStats {
    let t = cfg.len;
    let mut c = CopyStats::default();
    for (w, &st) in starts.iter().enumerate() {
        let ids = &val_ids[st..st + t];
        for i in (cfg.short + 1)..t {
            let copy = copy_explainable(ids, i, cfg.short, COPY_NGRAM);
            if key[w * (t - 1) + i - 1] {
                c.key_n += 1;
                c.key_copy += usize::from(copy);
                if c.examples.len() < 8 {
                    let from = i.saturating_sub(24);
                    c.examples.push(format!(
                        "…{}[{}]",
                        corpus.decode(&ids[from..i]),
                        corpus.decode(&ids[i..=i])
                    ));
                }
            } else {
                c.other_n += 1;
                c.other_copy += usize::from(copy);
            }
        }
    }
    c
}

fn score(
    m: &Decoder,
    step: usize,
    val_ids: &[u32],
    starts: &[usize],
    t: usize,
    key_groups: &[Tensor<2, Bool>],
    device: &Device,
) -> TextMember {
    let mut pooled = PplPair::default();
    for (group, key) in starts.chunks(GROUP).zip(key_groups) {
        let lp = m.token_logprobs(
            windows_tensor(val_ids, group, t, device),
            ContextWindow::Full,
        );
        for p in ppl_pairs(lp, key.clone()) {
            pooled = pooled.merge(p);
        }
    }
    TextMember {
        step,
        ppl: pooled.ppl().unwrap_or(f64::NAN),
        long_ppl: pooled.long_ppl().ok(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copy_test_needs_the_long_context() {
        // "abcabc" with n = 3: target 5 ('c') ends "abc", which also ends at 2.
        let ids = [0, 1, 2, 0, 1, 2];
        assert!(copy_explainable(&ids, 5, 2, 3)); // earlier "abc" is outside the last 2
        assert!(!copy_explainable(&ids, 5, 5, 3)); // ... but inside the last 5
        assert!(!copy_explainable(&ids, 4, 2, 3)); // "cab" never occurred before
        assert!(!copy_explainable(&ids, 1, 2, 3)); // too early for a 3-gram
    }

    #[test]
    fn smoke_run_on_a_tiny_corpus_gives_finite_numbers() {
        let _rng = repro_core::device::seed_lock(); // Burn's generator is process-wide
        let text = "To be, or not to be, that is the question. ".repeat(60);
        let corpus = CharCorpus::new(text);
        let cfg = TextConfig {
            eval_windows: 2,
            ..TextConfig::for_profile(Profile::Smoke)
        };
        let device = Device::flex().autodiff();
        let r = run_on(&cfg, &corpus, &device, 0, &Hooks::none()).unwrap();
        assert_eq!(r.members.len(), 3);
        assert!(r.members.iter().all(|m| m.ppl.is_finite() && m.ppl >= 1.0));
        assert!((0.0..=1.0).contains(&r.copy_share_other));
    }

    #[test]
    fn too_short_a_corpus_is_a_clear_error() {
        let _rng = repro_core::device::seed_lock(); // Burn's generator is process-wide
        let corpus = CharCorpus::new("short text".into());
        let cfg = TextConfig::for_profile(Profile::Smoke);
        let device = Device::flex().autodiff();
        let err = run_on(&cfg, &corpus, &device, 0, &Hooks::none())
            .unwrap_err()
            .to_string();
        assert!(err.contains("tinyshakespeare"), "{err}");
    }
}

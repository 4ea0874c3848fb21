//! Data A (spec §3): class-conditional Markov "languages" with exact Bayes references.
//!
//! ```text
//! B[a,:]   ~ Dirichlet(dir_bg · 1_V) for every token a            (shared background)
//! G_0..G_{C−1}: a random permutation of 0..V−1 cut into C disjoint topic sets of topic_size
//! S_c[a,:] ~ Dirichlet(dir_topic · 1_topic) on G_c, 0 elsewhere
//! T_c      = (1 − α)·B + α·S_c ;  x_1 ~ U(V) ;  x_{t+1} ~ T_c[x_t, :]
//! ```
//!
//! α is fixed or calibrated by bisection so that the Bayes accuracy on a calibration sample
//! hits a target. All references are exact (f64, log-space, uniform class prior and start):
//! [`MarkovLanguage::log_posterior`], [`MarkovLanguage::predictive`],
//! [`MarkovLanguage::bayes_accuracy`], [`MarkovLanguage::bayes_nll_per_t`].
//!
//! Sequences are `Vec<u32>` of `x_1..x_n` (0-based: `x[0]` is `x_1`); a prefix of length `t`
//! is `x[..t]` and its next token `x[t]`.
//!
//! ```
//! use repro_generative_ssl::markov::{Alpha, MarkovConfig, MarkovLanguage};
//! use repro_core::rng::SplitMix64;
//! let cfg = MarkovConfig { alpha: Alpha::Fixed(0.3), ..MarkovConfig::default() };
//! let lang = MarkovLanguage::new(&cfg, 0)?;
//! let (xs, ys) = lang.sample_balanced(64, &mut SplitMix64::new(1));
//! let (acc, _) = lang.bayes_accuracy(&xs, &ys)?;
//! assert!(acc > 0.5); // α = 0.3 separates the 8 classes well
//! assert_eq!(lang.bayes_nll_per_t(&xs)?.len(), 23);
//! # Ok::<(), anyhow::Error>(())
//! ```

use anyhow::{bail, ensure};
use repro_core::rng::{SplitMix64, permutation, stream};
use serde::{Deserialize, Serialize};

/// How α is chosen.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Alpha {
    /// A fixed mixing weight in `[0, 1]`.
    Fixed(f64),
    /// Bisection on `[0.01, 0.99]` (30 steps) for a Bayes accuracy of `target` on
    /// `n_calib` sequences drawn from their own stream.
    CalibrateBayesAcc {
        /// Target Bayes accuracy (spec: 0.90).
        target: f64,
        /// Calibration sequences (spec: 20 000).
        n_calib: usize,
    },
}

/// The generator's parameters (spec §3 defaults).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MarkovConfig {
    /// Real tokens `V`.
    pub vocab: usize,
    /// Latent classes `C`.
    pub classes: usize,
    /// Sequence length `n`.
    pub len: usize,
    /// Tokens per topic set.
    pub topic_size: usize,
    /// Dirichlet concentration of the background rows.
    pub dir_bg: f64,
    /// Dirichlet concentration of the topic rows.
    pub dir_topic: f64,
    /// The mixing weight.
    pub alpha: Alpha,
}

impl Default for MarkovConfig {
    /// V = 32, C = 8, n = 24, topics of 4, Dirichlet 0.3 / 1.0, α calibrated to 0.90 on
    /// 20 000 sequences.
    fn default() -> Self {
        Self {
            vocab: 32,
            classes: 8,
            len: 24,
            topic_size: 4,
            dir_bg: 0.3,
            dir_topic: 1.0,
            alpha: Alpha::CalibrateBayesAcc {
                target: 0.90,
                n_calib: 20_000,
            },
        }
    }
}

impl MarkovConfig {
    /// Checks the sizes.
    ///
    /// # Errors
    /// A zero size, sequences shorter than 2, an empty topic (`topic_size` 0, or
    /// `classes · topic_size > vocab`, which leaves a class without its tokens),
    /// non-positive concentrations, or α outside `[0, 1]`.
    pub fn check(&self) -> anyhow::Result<()> {
        ensure!(
            self.vocab >= 2,
            "markov vocab = {} must be at least 2",
            self.vocab
        );
        ensure!(self.classes >= 1, "markov classes must be positive");
        ensure!(
            self.len >= 2,
            "markov len = {} must be at least 2",
            self.len
        );
        ensure!(
            self.topic_size >= 1,
            "markov topic_size = 0: every class needs a non-empty topic set"
        );
        ensure!(
            self.classes * self.topic_size <= self.vocab,
            "markov: {} classes × topic_size {} exceed vocab {}: some class would get an empty topic set",
            self.classes,
            self.topic_size,
            self.vocab
        );
        ensure!(
            self.dir_bg > 0.0 && self.dir_topic > 0.0,
            "markov Dirichlet concentrations must be positive (dir_bg {}, dir_topic {})",
            self.dir_bg,
            self.dir_topic
        );
        match self.alpha {
            Alpha::Fixed(a) => ensure!(
                (0.0..=1.0).contains(&a),
                "markov alpha = {a} is outside [0, 1]"
            ),
            Alpha::CalibrateBayesAcc { target, n_calib } => {
                ensure!(
                    target > 0.0 && target < 1.0,
                    "markov alpha target {target} is outside (0, 1)"
                );
                ensure!(n_calib > 0, "markov alpha n_calib must be positive");
            }
        }
        Ok(())
    }
}

/// A Gamma(`shape`, 1) draw (Marsaglia–Tsang; shapes below 1 boosted by `U^{1/shape}`).
fn gamma(rng: &mut SplitMix64, shape: f64) -> f64 {
    if shape < 1.0 {
        let u = 1.0 - rng.next_f64(); // (0, 1]
        return gamma(rng, shape + 1.0) * u.powf(1.0 / shape);
    }
    let d = shape - 1.0 / 3.0;
    let c = 1.0 / (9.0 * d).sqrt();
    loop {
        let z = rng.normal();
        let v = (1.0 + c * z).powi(3);
        if v <= 0.0 {
            continue;
        }
        let u = 1.0 - rng.next_f64();
        if u.ln() < 0.5 * z * z + d - d * v + d * v.ln() {
            return d * v;
        }
    }
}

/// A Dirichlet(`conc · 1_k`) draw.
fn dirichlet(rng: &mut SplitMix64, k: usize, conc: f64) -> Vec<f64> {
    let mut g: Vec<f64> = (0..k).map(|_| gamma(rng, conc)).collect();
    let s: f64 = g.iter().sum();
    if s <= 0.0 || !s.is_finite() {
        // All draws underflowed (tiny concentrations): a uniformly chosen vertex.
        let j = rng.below(k);
        g.iter_mut()
            .enumerate()
            .for_each(|(i, v)| *v = f64::from(u8::from(i == j)));
        return g;
    }
    g.iter_mut().for_each(|v| *v /= s);
    g
}

/// `ln Σ exp(v)`.
pub fn logsumexp(v: &[f64]) -> f64 {
    let m = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if m == f64::NEG_INFINITY {
        return m;
    }
    m + v.iter().map(|x| (x - m).exp()).sum::<f64>().ln()
}

/// One class-conditional Markov language: `C` transition tables over `V` tokens.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MarkovLanguage {
    /// `V`.
    pub vocab: usize,
    /// `C`.
    pub classes: usize,
    /// `n`.
    pub len: usize,
    /// The mixing weight used.
    pub alpha: f64,
    /// Topic sets `G_c` (empty for languages given as tables).
    pub topics: Vec<Vec<u32>>,
    /// Background `B`, `[V][V]` flat (empty for languages given as tables).
    background: Vec<f64>,
    /// Topic rows `S_c`, `[C][V][V]` flat (empty for languages given as tables).
    topic_rows: Vec<f64>,
    /// `T_c`, `[C][V][V]` flat.
    trans: Vec<f64>,
    /// `ln T_c`.
    log_trans: Vec<f64>,
}

impl MarkovLanguage {
    /// Draws the language of `seed` (tables from the stream `"markov-tables"`, the
    /// calibration sample from `"markov-calib"`) and fixes or calibrates α.
    ///
    /// # Errors
    /// What [`MarkovConfig::check`] rejects.
    pub fn new(cfg: &MarkovConfig, seed: u64) -> anyhow::Result<Self> {
        cfg.check()?;
        let (v, c) = (cfg.vocab, cfg.classes);
        let mut rng = stream(seed, "markov-tables");
        let mut background = Vec::with_capacity(v * v);
        for _ in 0..v {
            background.extend(dirichlet(&mut rng, v, cfg.dir_bg));
        }
        let perm = permutation(&mut rng, v);
        let topics: Vec<Vec<u32>> = (0..c)
            .map(|k| perm[k * cfg.topic_size..(k + 1) * cfg.topic_size].to_vec())
            .collect();
        let mut topic_rows = vec![0.0; c * v * v];
        for (k, g) in topics.iter().enumerate() {
            for a in 0..v {
                let row = dirichlet(&mut rng, g.len(), cfg.dir_topic);
                for (&tok, p) in g.iter().zip(row) {
                    topic_rows[(k * v + a) * v + tok as usize] = p;
                }
            }
        }
        let mut lang = Self {
            vocab: v,
            classes: c,
            len: cfg.len,
            alpha: 0.0,
            topics,
            background,
            topic_rows,
            trans: Vec::new(),
            log_trans: Vec::new(),
        };
        match cfg.alpha {
            Alpha::Fixed(a) => lang.set_alpha(a),
            Alpha::CalibrateBayesAcc { target, n_calib } => {
                lang.calibrate(target, n_calib, seed)?;
            }
        }
        Ok(lang)
    }

    /// A language given by its tables `trans[c][a][b]` (tests, hand examples).
    ///
    /// # Errors
    /// No class, ragged tables, negative entries or rows that do not sum to 1 (1e-9), or
    /// `len < 2`.
    pub fn from_tables(trans: &[Vec<Vec<f64>>], len: usize) -> anyhow::Result<Self> {
        ensure!(!trans.is_empty(), "markov tables: no class");
        let v = trans[0].len();
        ensure!(v >= 1, "markov tables: an empty vocabulary");
        ensure!(len >= 2, "markov tables: len = {len} must be at least 2");
        let mut flat = Vec::with_capacity(trans.len() * v * v);
        for (c, t) in trans.iter().enumerate() {
            ensure!(
                t.len() == v,
                "markov tables: class {c} has {} rows, expected {v}",
                t.len()
            );
            for (a, row) in t.iter().enumerate() {
                ensure!(
                    row.len() == v,
                    "markov tables: row {a} of class {c} is not of length {v}"
                );
                ensure!(
                    row.iter().all(|p| p.is_finite() && *p >= 0.0),
                    "markov tables: row {a} of class {c} has a negative or non-finite entry"
                );
                let s: f64 = row.iter().sum();
                ensure!(
                    (s - 1.0).abs() < 1e-9,
                    "markov tables: row {a} of class {c} sums to {s}"
                );
                flat.extend(row);
            }
        }
        let log_trans = flat.iter().map(|p: &f64| p.ln()).collect();
        Ok(Self {
            vocab: v,
            classes: trans.len(),
            len,
            alpha: f64::NAN,
            topics: Vec::new(),
            background: Vec::new(),
            topic_rows: Vec::new(),
            trans: flat,
            log_trans,
        })
    }

    /// Sets α and rebuilds `T_c = (1 − α)·B + α·S_c`.
    fn set_alpha(&mut self, alpha: f64) {
        let (v, c) = (self.vocab, self.classes);
        self.alpha = alpha;
        self.trans = (0..c * v * v)
            .map(|i| (1.0 - alpha) * self.background[i % (v * v)] + alpha * self.topic_rows[i])
            .collect();
        self.log_trans = self.trans.iter().map(|p| p.ln()).collect();
    }

    /// Bisection of α on `[0.01, 0.99]` (30 steps) for the Bayes accuracy `target` on
    /// `n_calib` sequences; every step redraws the sample from the same stream (common
    /// random numbers), so the accuracy is a function of α alone. Returns the accuracy at
    /// the chosen α (the end of the bracket whose accuracy is nearer the target).
    fn calibrate(&mut self, target: f64, n_calib: usize, seed: u64) -> anyhow::Result<f64> {
        let acc_at = |lang: &mut Self, a: f64| -> anyhow::Result<f64> {
            lang.set_alpha(a);
            let (xs, ys) = lang.sample_balanced(n_calib, &mut stream(seed, "markov-calib"));
            Ok(lang.bayes_accuracy(&xs, &ys)?.0)
        };
        let (mut lo, mut hi) = (0.01, 0.99);
        let (mut acc_lo, mut acc_hi) = (acc_at(self, lo)?, acc_at(self, hi)?);
        if acc_lo >= target || acc_hi <= target {
            bail!(
                "markov alpha calibration: the Bayes accuracy target {target} is not bracketed by α ∈ [0.01, 0.99] (accuracies {acc_lo:.4}, {acc_hi:.4})"
            );
        }
        for _ in 0..30 {
            let mid = 0.5 * (lo + hi);
            let acc = acc_at(self, mid)?;
            if acc < target {
                (lo, acc_lo) = (mid, acc);
            } else {
                (hi, acc_hi) = (mid, acc);
            }
        }
        let (a, acc) = if (acc_lo - target).abs() < (acc_hi - target).abs() {
            (lo, acc_lo)
        } else {
            (hi, acc_hi)
        };
        self.set_alpha(a);
        Ok(acc)
    }

    /// `T_c[a, b]`.
    pub fn trans(&self, c: usize, a: usize, b: usize) -> f64 {
        self.trans[(c * self.vocab + a) * self.vocab + b]
    }

    /// `n` sequences with classes `0, 1, …, C−1, 0, …` (balanced when `C` divides `n`):
    /// `x_1 ~ U(V)`, then the class's chain. Returns `(sequences, labels)`.
    pub fn sample_balanced(&self, n: usize, rng: &mut SplitMix64) -> (Vec<Vec<u32>>, Vec<u32>) {
        let v = self.vocab;
        let mut xs = Vec::with_capacity(n);
        let mut ys = Vec::with_capacity(n);
        for i in 0..n {
            let c = i % self.classes;
            let mut x = Vec::with_capacity(self.len);
            let mut a = rng.below(v);
            x.push(a as u32);
            for _ in 1..self.len {
                let row = &self.trans[(c * v + a) * v..(c * v + a + 1) * v];
                let u = rng.next_f64();
                let mut acc = 0.0;
                let mut b = v - 1;
                for (j, p) in row.iter().enumerate() {
                    acc += p;
                    if u < acc {
                        b = j;
                        break;
                    }
                }
                x.push(b as u32);
                a = b;
            }
            xs.push(x);
            ys.push(c as u32);
        }
        (xs, ys)
    }

    fn check_seq(&self, x: &[u32], t: usize) -> anyhow::Result<()> {
        ensure!(
            t >= 1 && t <= x.len(),
            "prefix length t = {t} is outside 1..={}",
            x.len()
        );
        if let Some(&bad) = x[..t].iter().find(|&&tok| tok as usize >= self.vocab) {
            bail!("token {bad} is outside the vocabulary of {}", self.vocab);
        }
        Ok(())
    }

    /// Unnormalised `Σ_{i<t} ln T_c[x_i, x_{i+1}]` for every class.
    fn log_joint(&self, x: &[u32], t: usize) -> Vec<f64> {
        let v = self.vocab;
        (0..self.classes)
            .map(|c| {
                x[..t]
                    .windows(2)
                    .map(|w| self.log_trans[(c * v + w[0] as usize) * v + w[1] as usize])
                    .sum()
            })
            .collect()
    }

    /// `ln p(c | x_1..x_t)`, `[C]`.
    ///
    /// # Errors
    /// `t` outside `1..=x.len()`, or a token outside the vocabulary.
    pub fn log_posterior(&self, x: &[u32], t: usize) -> anyhow::Result<Vec<f64>> {
        self.check_seq(x, t)?;
        let lj = self.log_joint(x, t);
        let z = logsumexp(&lj);
        Ok(lj.into_iter().map(|l| l - z).collect())
    }

    /// `p(x_{t+1} = v | x_1..x_t) = Σ_c p(c | x_1..x_t) · T_c[x_t, v]`, `[V]`.
    ///
    /// # Errors
    /// As [`MarkovLanguage::log_posterior`].
    pub fn predictive(&self, x: &[u32], t: usize) -> anyhow::Result<Vec<f64>> {
        let lp = self.log_posterior(x, t)?;
        let (v, a) = (self.vocab, x[t - 1] as usize);
        let mut out = vec![0.0; v];
        for (c, l) in lp.iter().enumerate() {
            let w = l.exp();
            let row = &self.trans[(c * v + a) * v..(c * v + a + 1) * v];
            out.iter_mut().zip(row).for_each(|(o, p)| *o += w * p);
        }
        Ok(out)
    }

    /// Bayes accuracy on full sequences: `(mean 1[argmax_c p(c|x) = y], mean max_c p(c|x))`.
    ///
    /// # Errors
    /// Mismatched lengths, an empty set, or bad tokens.
    pub fn bayes_accuracy(&self, xs: &[Vec<u32>], ys: &[u32]) -> anyhow::Result<(f64, f64)> {
        ensure!(
            xs.len() == ys.len() && !xs.is_empty(),
            "bayes_accuracy: {} sequences and {} labels",
            xs.len(),
            ys.len()
        );
        let (mut hits, mut conf) = (0usize, 0.0);
        for (x, &y) in xs.iter().zip(ys) {
            let lp = self.log_posterior(x, x.len())?;
            let (arg, best) = argmax(&lp);
            hits += usize::from(arg == y as usize);
            conf += best.exp();
        }
        let n = xs.len() as f64;
        Ok((hits as f64 / n, conf / n))
    }

    /// Bayes NLL per prefix length, `t = 1..n−1`: mean over sequences of
    /// `−ln p(x_{t+1} | x_1..x_t)` (entry `t − 1`).
    ///
    /// # Errors
    /// Sequences of different lengths, shorter than 2, an empty set, or bad tokens.
    pub fn bayes_nll_per_t(&self, xs: &[Vec<u32>]) -> anyhow::Result<Vec<f64>> {
        ensure!(!xs.is_empty(), "bayes_nll_per_t: no sequences");
        let n = xs[0].len();
        ensure!(
            n >= 2,
            "bayes_nll_per_t: sequences of length {n} have no next token"
        );
        let mut out = vec![0.0; n - 1];
        for x in xs {
            ensure!(
                x.len() == n,
                "bayes_nll_per_t: sequences of lengths {n} and {}",
                x.len()
            );
            for t in 1..n {
                let target = x[t] as usize;
                ensure!(
                    target < self.vocab,
                    "token {target} is outside the vocabulary"
                );
                out[t - 1] -= self.predictive(x, t)?[target].ln();
            }
        }
        out.iter_mut().for_each(|v| *v /= xs.len() as f64);
        Ok(out)
    }
}

/// Index and value of the largest entry (first on ties).
pub fn argmax(v: &[f64]) -> (usize, f64) {
    let mut best = (0, f64::NEG_INFINITY);
    for (i, &x) in v.iter().enumerate() {
        if x > best.1 {
            best = (i, x);
        }
    }
    best
}

/// Unigram counts per sequence, `[N][V]` flat (the BOT features).
pub fn unigram_counts(xs: &[Vec<u32>], vocab: usize) -> Vec<f32> {
    let mut out = vec![0.0f32; xs.len() * vocab];
    for (i, x) in xs.iter().enumerate() {
        for &t in x {
            out[i * vocab + t as usize] += 1.0;
        }
    }
    out
}

/// Bigram counts per sequence, `[N][V²]` flat (the BIGRAM features).
pub fn bigram_counts(xs: &[Vec<u32>], vocab: usize) -> Vec<f32> {
    let vv = vocab * vocab;
    let mut out = vec![0.0f32; xs.len() * vv];
    for (i, x) in xs.iter().enumerate() {
        for w in x.windows(2) {
            out[i * vv + w[0] as usize * vocab + w[1] as usize] += 1.0;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hand() -> MarkovLanguage {
        MarkovLanguage::from_tables(
            &[
                vec![vec![0.9, 0.1], vec![0.5, 0.5]],
                vec![vec![0.1, 0.9], vec![0.5, 0.5]],
            ],
            3,
        )
        .unwrap()
    }

    #[test]
    fn bayes_hand_example() {
        let l = hand();
        // x = (0, 0, 1): the posterior after x_1 = 0 is uniform, p(x_2 = 0) = (0.9 + 0.1)/2;
        // after (0, 0) it is (0.9, 0.1), p(x_3 = 1) = 0.9·0.1 + 0.1·0.9 = 0.18; the final
        // posterior ∝ (0.9·0.1, 0.1·0.9) = (0.5, 0.5).
        let nll = l.bayes_nll_per_t(&[vec![0, 0, 1]]).unwrap();
        assert!((nll[0] - std::f64::consts::LN_2).abs() < 1e-7, "{nll:?}"); // ln 2 = 0.6931472
        assert!((nll[1] - 1.714_798_4).abs() < 1e-7, "{nll:?}");
        let post: Vec<f64> = l
            .log_posterior(&[0, 0, 1], 3)
            .unwrap()
            .iter()
            .map(|v| v.exp())
            .collect();
        assert!((post[0] - 0.5).abs() < 1e-12 && (post[1] - 0.5).abs() < 1e-12);
        // x = (0, 0, 0): p(x_3 = 0) = 0.9·0.9 + 0.1·0.1 = 0.82; posterior ∝ (0.81, 0.01).
        let nll = l.bayes_nll_per_t(&[vec![0, 0, 0]]).unwrap();
        assert!((nll[1] - 0.198_450_9).abs() < 1e-7, "{nll:?}");
        let post: Vec<f64> = l
            .log_posterior(&[0, 0, 0], 3)
            .unwrap()
            .iter()
            .map(|v| v.exp())
            .collect();
        assert!((post[0] - 0.987_804_9).abs() < 1e-7 && (post[1] - 0.012_195_1).abs() < 1e-7);
    }

    #[test]
    fn tables_are_stochastic_and_topics_partition_the_vocabulary() {
        let cfg = MarkovConfig {
            alpha: Alpha::Fixed(0.15),
            ..MarkovConfig::default()
        };
        let l = MarkovLanguage::new(&cfg, 3).unwrap();
        for c in 0..8 {
            for a in 0..32 {
                let s: f64 = (0..32).map(|b| l.trans(c, a, b)).sum();
                assert!((s - 1.0).abs() < 1e-12, "row {a} of class {c} sums to {s}");
            }
        }
        let mut all: Vec<u32> = l.topics.iter().flatten().copied().collect();
        all.sort_unstable();
        assert_eq!(all, (0..32).collect::<Vec<u32>>());
        assert!(l.topics.iter().all(|g| g.len() == 4));
    }

    #[test]
    fn empirical_transitions_match_the_tables() {
        let cfg = MarkovConfig {
            alpha: Alpha::Fixed(0.2),
            len: 1001,
            ..MarkovConfig::default()
        };
        let l = MarkovLanguage::new(&cfg, 1).unwrap();
        // 100 sequences of class 0 (every 8th of 800) = 10^5 transitions of class 0.
        let (xs, ys) = l.sample_balanced(800, &mut SplitMix64::new(9));
        let mut counts = vec![0.0f64; 32 * 32];
        for (x, &y) in xs.iter().zip(&ys) {
            if y == 0 {
                for w in x.windows(2) {
                    counts[w[0] as usize * 32 + w[1] as usize] += 1.0;
                }
            }
        }
        let total: f64 = counts.iter().sum();
        assert_eq!(total, 100_000.0);
        for a in 0..32 {
            let row: f64 = counts[a * 32..(a + 1) * 32].iter().sum();
            if row < 2_000.0 {
                continue; // rarely visited rows are covered by the joint check below
            }
            for b in 0..32 {
                let emp = counts[a * 32 + b] / row;
                // ≥ 2 000 visits: the standard error is at most 0.5/√2000 ≈ 0.011; 4σ.
                assert!(
                    (emp - l.trans(0, a, b)).abs() < 0.045,
                    "T[{a},{b}] {emp} vs {}",
                    l.trans(0, a, b)
                );
            }
        }
        // The spec's 0.01 on the joint frequency of each transition (a, b) against the
        // empirical row mass times T_c[a, b].
        let max_joint_gap = (0..32 * 32)
            .map(|i| {
                let (a, b) = (i / 32, i % 32);
                let row: f64 = counts[a * 32..(a + 1) * 32].iter().sum();
                (counts[i] / total - row / total * l.trans(0, a, b)).abs()
            })
            .fold(0.0, f64::max);
        assert!(max_joint_gap < 0.01, "{max_joint_gap}");
    }

    #[test]
    fn alpha_zero_gives_a_uniform_posterior() {
        let cfg = MarkovConfig {
            alpha: Alpha::Fixed(0.0),
            ..MarkovConfig::default()
        };
        let l = MarkovLanguage::new(&cfg, 0).unwrap();
        let (xs, ys) = l.sample_balanced(400, &mut SplitMix64::new(2));
        let (acc, conf) = l.bayes_accuracy(&xs, &ys).unwrap();
        // Every class has the same tables: ties go to class 0, i.e. 1/C of the labels.
        assert!((acc - 0.125).abs() < 1e-12, "{acc}");
        assert!((conf - 0.125).abs() < 1e-12, "{conf}");
    }

    #[test]
    fn calibration_lands_on_the_target() {
        let cfg = MarkovConfig {
            alpha: Alpha::CalibrateBayesAcc {
                target: 0.9,
                n_calib: 4_000,
            },
            ..MarkovConfig::default()
        };
        let l = MarkovLanguage::new(&cfg, 0).unwrap();
        let (xs, ys) = l.sample_balanced(4_000, &mut stream(0, "markov-calib"));
        let (acc, _) = l.bayes_accuracy(&xs, &ys).unwrap();
        assert!(
            (acc - 0.9).abs() <= 0.005,
            "accuracy {acc} at α = {}",
            l.alpha
        );
        assert!(l.alpha > 0.05 && l.alpha < 0.5, "α = {}", l.alpha);
    }

    #[test]
    fn bad_configs_are_errors() {
        let bad = MarkovConfig {
            topic_size: 5,
            ..MarkovConfig::default()
        };
        let e = MarkovLanguage::new(&bad, 0).unwrap_err().to_string();
        assert!(e.contains("empty topic"), "{e}");
        let bad = MarkovConfig {
            topic_size: 0,
            ..MarkovConfig::default()
        };
        assert!(
            MarkovLanguage::new(&bad, 0)
                .unwrap_err()
                .to_string()
                .contains("topic_size")
        );
        let bad = MarkovConfig {
            alpha: Alpha::Fixed(1.5),
            ..MarkovConfig::default()
        };
        assert!(
            MarkovLanguage::new(&bad, 0)
                .unwrap_err()
                .to_string()
                .contains("alpha")
        );
        assert!(MarkovLanguage::from_tables(&[vec![vec![0.5, 0.4], vec![0.5, 0.5]]], 3).is_err());
        assert!(hand().log_posterior(&[0, 2, 1], 3).is_err());
    }

    #[test]
    fn count_features() {
        let u = unigram_counts(&[vec![0, 1, 1]], 2);
        assert_eq!(u, vec![1.0, 2.0]);
        let b = bigram_counts(&[vec![0, 1, 1]], 2);
        assert_eq!(b, vec![0.0, 1.0, 0.0, 1.0]);
    }
}

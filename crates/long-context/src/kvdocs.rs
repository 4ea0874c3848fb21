//! Synthetic key-value documents whose long-context tokens are known (our
//! operationalisation, spec §5): filler text from a fixed second-order Markov chain, with
//! records `<rec> k1 k2 <ans> v1 v2 <sep>` and later queries `<q> k1 k2 <ans> v1 v2 <sep>`
//! spliced in. A query's values are predictable only from its record, so far queries
//! (record outside the short context) mark the tokens that need long context.

use repro_core::data::split::SplitMix64;

/// Filler tokens `0..80`.
pub const N_FILLER: u32 = 80;
/// `<rec>`: a record starts.
pub const REC: u32 = 80;
/// `<q>`: a query starts.
pub const QUERY: u32 = 81;
/// `<ans>`: the value follows.
pub const ANS: u32 = 82;
/// `<sep>`: a record or query ends.
pub const SEP: u32 = 83;
/// `<pad>` (unused by the generator; reserved).
pub const PAD: u32 = 84;
/// First of the 24 key symbols.
pub const KEY0: u32 = 85;
/// First of the 24 value symbols.
pub const VAL0: u32 = 109;
/// Symbols per key or value alphabet.
pub const N_SYM: u32 = 24;
/// Vocabulary size: 80 filler + 5 specials + 24 key + 24 value symbols.
pub const VOCAB: usize = 133;
/// Tokens in a record or query.
pub const SEG: usize = 7;

/// What a token is, for ground truth.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenRole {
    /// Markov filler.
    Filler,
    /// `<q>`, `<ans>`, `<sep>` of a query.
    Special,
    /// Any token of a record.
    Record,
    /// A query's key symbol; `far` when its record lies outside the short context.
    QueryKey {
        /// Record outside the short context.
        far: bool,
    },
    /// A query's value symbol.
    QueryValue {
        /// Record outside the short context.
        far: bool,
    },
}

/// Generator settings.
#[derive(Debug, Clone, PartialEq)]
pub struct KvDocConfig {
    /// Document length `T`.
    pub len: usize,
    /// Short context `s`: near queries have their record within it, far ones beyond.
    pub short: usize,
    /// Record-query pairs per document.
    pub pairs: usize,
    /// Probability that a pair is far (0 gives near-only documents).
    pub p_far: f64,
}

/// A generated document.
#[derive(Debug, Clone, PartialEq)]
pub struct KvDoc {
    /// Token ids, `len` of them.
    pub ids: Vec<u32>,
    /// Role of each token.
    pub role: Vec<TokenRole>,
}

impl KvDoc {
    /// Targets (token positions `i >= 1`) in the strict ground truth: values of far queries.
    pub fn gt_strict(&self) -> Vec<bool> {
        self.role
            .iter()
            .map(|r| matches!(r, TokenRole::QueryValue { far: true }))
            .collect()
    }

    /// Strict ground truth plus far queries' key symbols.
    pub fn gt_broad(&self) -> Vec<bool> {
        self.role
            .iter()
            .map(|r| {
                matches!(
                    r,
                    TokenRole::QueryValue { far: true } | TokenRole::QueryKey { far: true }
                )
            })
            .collect()
    }
}

/// The fixed filler chain: for each context `(a mod c, b)` of the two previous filler
/// tokens, 3 to 6 successors with probabilities proportional to `1/j`, in random order.
/// `c = 80` is the spec's full second-order chain (6,400 contexts); smaller `c` makes the
/// chain learnable by small models in few steps (`c = 1` is first order).
#[derive(Debug, Clone)]
pub struct FillerChain {
    /// `succ[(a % c) * 80 + b]` = successors with cumulative probabilities.
    succ: Vec<Vec<(u32, f64)>>,
    /// Classes of the second-previous token.
    classes: u32,
}

impl FillerChain {
    /// The full second-order chain drawn from `seed`.
    pub fn new(seed: u64) -> Self {
        Self::with_classes(seed, N_FILLER)
    }

    /// A chain whose context is `(a mod classes, b)`.
    ///
    /// # Panics
    /// If `classes` is 0 or above 80.
    pub fn with_classes(seed: u64, classes: u32) -> Self {
        assert!(
            (1..=N_FILLER).contains(&classes),
            "filler context classes must be in 1..=80"
        );
        let mut rng = SplitMix64::new(seed ^ 0x00F1_11E4);
        let n = N_FILLER as usize;
        let succ = (0..classes as usize * n)
            .map(|_| {
                let m = 3 + rng.below(4);
                let mut toks: Vec<u32> = (0..N_FILLER).collect();
                rng.shuffle(&mut toks);
                let z: f64 = (1..=m).map(|j| 1.0 / j as f64).sum();
                let mut weights: Vec<f64> = (1..=m).map(|j| 1.0 / j as f64 / z).collect();
                rng.shuffle(&mut weights);
                let mut cum = 0.0;
                toks[..m]
                    .iter()
                    .zip(weights)
                    .map(|(&t, w)| {
                        cum += w;
                        (t, cum)
                    })
                    .collect()
            })
            .collect();
        Self { succ, classes }
    }

    /// Next filler token after `(a, b)`.
    pub fn next(&self, a: u32, b: u32, rng: &mut SplitMix64) -> u32 {
        let row = &self.succ[((a % self.classes) * N_FILLER + b) as usize];
        let u = rng.next_f64();
        row.iter()
            .find(|(_, c)| u < *c)
            .map_or(row[row.len() - 1].0, |(t, _)| *t)
    }

    /// Entropy of the next token in nats, averaged uniformly over pairs (a reference for
    /// the filler NLL a perfect model reaches, up to the stationary weighting).
    pub fn mean_entropy(&self) -> f64 {
        let h: f64 = self
            .succ
            .iter()
            .map(|row| {
                let mut prev = 0.0;
                row.iter()
                    .map(|&(_, c)| {
                        let p: f64 = c - prev;
                        prev = c;
                        -p * p.ln()
                    })
                    .sum::<f64>()
            })
            .sum();
        h / self.succ.len() as f64
    }

    /// `n` filler tokens continuing the chain.
    pub fn stream(&self, n: usize, rng: &mut SplitMix64) -> Vec<u32> {
        let mut out = Vec::with_capacity(n + 2);
        out.push(rng.below(N_FILLER as usize) as u32);
        out.push(rng.below(N_FILLER as usize) as u32);
        while out.len() < n {
            let k = out.len();
            out.push(self.next(out[k - 2], out[k - 1], rng));
        }
        out.truncate(n);
        out
    }
}

/// Errors of the generator's settings.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum KvDocError {
    /// The document cannot hold the requested segments and distances.
    #[error("kvdocs: {0}")]
    Infeasible(String),
}

fn distinct_keys(n: usize, rng: &mut SplitMix64) -> Vec<[u32; 2]> {
    let mut all: Vec<u32> = (0..N_SYM * N_SYM).collect();
    rng.shuffle(&mut all);
    all[..n]
        .iter()
        .map(|&k| [KEY0 + k / N_SYM, KEY0 + k % N_SYM])
        .collect()
}

fn value(rng: &mut SplitMix64) -> [u32; 2] {
    [
        VAL0 + rng.below(N_SYM as usize) as u32,
        VAL0 + rng.below(N_SYM as usize) as u32,
    ]
}

/// Distance bucket `[lo, hi]` (inclusive) of a near or far pair.
pub fn distance_range(cfg: &KvDocConfig, far: bool) -> (usize, usize) {
    if far {
        (cfg.short + 8, cfg.len - 1)
    } else {
        (11, cfg.short - 1)
    }
}

fn place(free: &mut [bool], start: usize) -> bool {
    if start + SEG > free.len() || !free[start..start + SEG].iter().all(|&f| f) {
        return false;
    }
    free[start..start + SEG].iter_mut().for_each(|f| *f = false);
    true
}

/// Generates one document. `D` = position of the query's `v1` minus the record's `<rec>`.
pub fn generate_doc(
    cfg: &KvDocConfig,
    chain: &FillerChain,
    rng: &mut SplitMix64,
) -> Result<KvDoc, KvDocError> {
    let t = cfg.len;
    if cfg.short < 12 || t < cfg.short + 8 + SEG || 2 * SEG * cfg.pairs > t / 2 {
        return Err(KvDocError::Infeasible(format!(
            "len {t}, short {} and {} pairs do not fit (need short >= 12, len >= short + 15, segments <= half the document)",
            cfg.short, cfg.pairs
        )));
    }
    let keys = distinct_keys(cfg.pairs, rng);
    let mut free = vec![true; t];
    let mut ids = vec![u32::MAX; t];
    let mut role = vec![TokenRole::Filler; t];
    for key in keys {
        let far = rng.next_f64() < cfg.p_far;
        let (lo, hi) = distance_range(cfg, far);
        let v = value(rng);
        let mut placed = false;
        for _ in 0..1000 {
            let d = lo + rng.below(hi - lo + 1);
            // Record at r, query at q = r + d - 4 (v1 sits 4 after <q>).
            if d + SEG > t {
                continue;
            }
            let r = rng.below(t - (d - 4) - SEG + 1);
            let q = r + d - 4;
            let mut trial = free.clone();
            if place(&mut trial, r) && place(&mut trial, q) {
                free = trial;
                let rec = [REC, key[0], key[1], ANS, v[0], v[1], SEP];
                let qry = [QUERY, key[0], key[1], ANS, v[0], v[1], SEP];
                ids[r..r + SEG].copy_from_slice(&rec);
                ids[q..q + SEG].copy_from_slice(&qry);
                role[r..r + SEG].fill(TokenRole::Record);
                role[q..q + SEG].copy_from_slice(&[
                    TokenRole::Special,
                    TokenRole::QueryKey { far },
                    TokenRole::QueryKey { far },
                    TokenRole::Special,
                    TokenRole::QueryValue { far },
                    TokenRole::QueryValue { far },
                    TokenRole::Special,
                ]);
                placed = true;
                break;
            }
        }
        if !placed {
            return Err(KvDocError::Infeasible(format!(
                "could not place {} pairs in {t} tokens",
                cfg.pairs
            )));
        }
    }
    let n_filler = free.iter().filter(|&&f| f).count();
    let mut stream = chain.stream(n_filler, rng).into_iter();
    for (i, f) in free.iter().enumerate() {
        if *f {
            ids[i] = stream.next().expect("stream has one token per free slot");
        }
    }
    Ok(KvDoc { ids, role })
}

/// `n` documents from `seed`.
pub fn generate(
    cfg: &KvDocConfig,
    chain: &FillerChain,
    n: usize,
    seed: u64,
) -> Result<Vec<KvDoc>, KvDocError> {
    let mut rng = SplitMix64::new(seed);
    (0..n).map(|_| generate_doc(cfg, chain, &mut rng)).collect()
}

/// A retrieval prompt: `len` tokens ending in `<q> k1 k2 <ans>`, and the two value tokens
/// that should follow.
#[derive(Debug, Clone, PartialEq)]
pub struct RetrievalPrompt {
    /// Prompt ids.
    pub ids: Vec<u32>,
    /// The queried record's `v1 v2`.
    pub answer: [u32; 2],
    /// `D` = position of the (future) `v1` minus the record's `<rec>`.
    pub distance: usize,
}

/// `n` prompts of length `len` with `records` records, the queried one at a distance drawn
/// uniformly in `[d_lo, d_hi]` (analogue of LongEval "lines").
pub fn retrieval_prompts(
    len: usize,
    records: usize,
    (d_lo, d_hi): (usize, usize),
    chain: &FillerChain,
    n: usize,
    seed: u64,
) -> Result<Vec<RetrievalPrompt>, KvDocError> {
    if d_lo < 11 || d_hi > len || d_lo > d_hi || records * SEG + 4 > len / 2 {
        return Err(KvDocError::Infeasible(format!(
            "retrieval prompt of {len} tokens with {records} records at distance {d_lo}..={d_hi}"
        )));
    }
    let mut rng = SplitMix64::new(seed);
    (0..n)
        .map(|_| {
            let keys = distinct_keys(records, &mut rng);
            let mut free = vec![true; len];
            free[len - 4..].fill(false);
            let mut ids = vec![u32::MAX; len];
            let d = d_lo + rng.below(d_hi - d_lo + 1);
            let target_r = len - d; // v1 would sit at position len
            let mut answer = [0; 2];
            for (k, key) in keys.iter().enumerate() {
                let v = value(&mut rng);
                let r = if k == 0 {
                    target_r
                } else {
                    let mut r = None;
                    for _ in 0..1000 {
                        let c = rng.below(len - 4 - SEG + 1);
                        if free[c..c + SEG].iter().all(|&f| f) {
                            r = Some(c);
                            break;
                        }
                    }
                    r.ok_or_else(|| KvDocError::Infeasible("could not place records".into()))?
                };
                if !place(&mut free, r) {
                    return Err(KvDocError::Infeasible(format!("record at {r} overlaps")));
                }
                ids[r..r + SEG].copy_from_slice(&[REC, key[0], key[1], ANS, v[0], v[1], SEP]);
                if k == 0 {
                    answer = v;
                    ids[len - 4..].copy_from_slice(&[QUERY, key[0], key[1], ANS]);
                }
            }
            let n_filler = free.iter().filter(|&&f| f).count();
            let mut stream = chain.stream(n_filler, &mut rng).into_iter();
            for (i, f) in free.iter().enumerate() {
                if *f {
                    ids[i] = stream.next().expect("one token per slot");
                }
            }
            Ok(RetrievalPrompt {
                ids,
                answer,
                distance: d,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(p_far: f64) -> KvDocConfig {
        KvDocConfig {
            len: 128,
            short: 16,
            pairs: 4,
            p_far,
        }
    }

    #[test]
    fn same_seed_same_documents_and_roles_are_consistent() {
        let chain = FillerChain::new(0);
        let a = generate(&cfg(0.5), &chain, 20, 7).unwrap();
        assert_eq!(a, generate(&cfg(0.5), &chain, 20, 7).unwrap());
        assert_ne!(a, generate(&cfg(0.5), &chain, 20, 8).unwrap());
        let (mut near, mut far) = (0, 0);
        for doc in &a {
            assert_eq!(doc.ids.len(), 128);
            for (i, (&id, role)) in doc.ids.iter().zip(&doc.role).enumerate() {
                match role {
                    TokenRole::Filler => assert!(id < N_FILLER, "filler {id} at {i}"),
                    TokenRole::QueryValue { far: is_far }
                        if doc.role[i - 1] != (TokenRole::QueryValue { far: *is_far }) =>
                    {
                        // v1: find its record by key and check the distance rule.
                        let (k1, k2) = (doc.ids[i - 3], doc.ids[i - 2]);
                        let r = (0..i)
                            .find(|&r| {
                                doc.ids[r] == REC && doc.ids[r + 1] == k1 && doc.ids[r + 2] == k2
                            })
                            .unwrap();
                        assert_eq!(
                            &doc.ids[r + 4..r + 6],
                            &doc.ids[i..i + 2],
                            "values match the record"
                        );
                        let d = i - r;
                        if *is_far {
                            far += 1;
                            assert!(
                                d >= 16 + 8,
                                "far record ends > s tokens before v1 and v2: D = {d}"
                            );
                        } else {
                            near += 1;
                            assert!((11..16).contains(&d), "near D = {d}");
                        }
                    }
                    _ => {}
                }
            }
        }
        assert!(near > 10 && far > 10, "near {near}, far {far}");
        let none_far = generate(&cfg(0.0), &chain, 10, 1).unwrap();
        assert!(none_far.iter().all(|d| !d.gt_strict().iter().any(|&g| g)));
    }

    #[test]
    fn filler_chain_is_a_distribution_with_expected_entropy() {
        let chain = FillerChain::new(3);
        for row in &chain.succ {
            assert!((3..=6).contains(&row.len()));
            assert!((row[row.len() - 1].1 - 1.0).abs() < 1e-12);
        }
        // m uniform in 3..=6 with p ∝ 1/j: entropies 0.95..1.50 nats, mean about 1.2.
        let h = chain.mean_entropy();
        assert!((1.0..1.4).contains(&h), "{h}");
        // Empirical NLL of a long stream under the chain's own probabilities matches.
        let mut rng = SplitMix64::new(1);
        let s = chain.stream(200_000, &mut rng);
        let mut nll = 0.0;
        for w in s.windows(3) {
            let row = &chain.succ[((w[0] % chain.classes) * N_FILLER + w[1]) as usize];
            let mut prev = 0.0;
            for &(t, c) in row {
                if t == w[2] {
                    nll -= (c - prev).ln();
                }
                prev = c;
            }
        }
        let emp = nll / (s.len() - 2) as f64;
        assert!((emp - h).abs() < 0.1, "empirical {emp} vs mean entropy {h}");
    }

    #[test]
    fn retrieval_prompts_place_the_queried_record() {
        let chain = FillerChain::new(0);
        let ps = retrieval_prompts(128, 4, (24, 31), &chain, 30, 5).unwrap();
        for p in &ps {
            assert_eq!(p.ids.len(), 128);
            assert_eq!(p.ids[124], QUERY);
            assert_eq!(p.ids[127], ANS);
            let r = 128 - p.distance;
            assert_eq!(p.ids[r], REC);
            assert_eq!((p.ids[r + 1], p.ids[r + 2]), (p.ids[125], p.ids[126]));
            assert_eq!([p.ids[r + 4], p.ids[r + 5]], p.answer);
            assert!((24..=31).contains(&p.distance));
        }
        assert!(retrieval_prompts(128, 4, (5, 10), &chain, 1, 0).is_err());
        assert!(
            generate(
                &KvDocConfig {
                    len: 20,
                    short: 16,
                    pairs: 4,
                    p_far: 0.5
                },
                &chain,
                1,
                0
            )
            .is_err()
        );
    }
}

//! Sample size and random samples.
//!
//! [`cochran_sample_size`] (formula reconstructed; the paper states 994 issues at 95 %
//! confidence and ±3 %): `n0 = z² p (1 − p) / e²`, then the finite-population correction
//! `n = ceil(n0 / (1 + (n0 − 1) / N))`. With `z = 1.96`, `p = 0.5`, `e = 0.03`,
//! `n0 = 1067.11`; `N = 14 476` (the relevant issues) gives 994, `N = 14 588` (all closed
//! issues) gives 995 (994.44 rounded up).
//!
//! Samples are seeded Fisher–Yates prefixes on [`repro_core::rng::SplitMix64`] (the spec
//! names ChaCha8; any fixed generator serves, and the workspace has one). Stratified
//! samples allocate proportionally by largest remainders (ties to the earlier stratum in
//! key order) and draw each stratum from its own stream.
//!
//! ```
//! use repro_llm_issues::sample::{cochran_sample_size, simple_random_sample};
//! assert_eq!(cochran_sample_size(14_476, 1.96, 0.03, 0.5)?, 994);
//! let ids: Vec<u32> = (0..100).collect();
//! let s = simple_random_sample(&ids, 10, 7)?;
//! assert_eq!(s, simple_random_sample(&ids, 10, 7)?);
//! # Ok::<(), repro_llm_issues::sample::SampleError>(())
//! ```

use std::collections::BTreeMap;

use repro_core::rng::{SplitMix64, stream};

/// Bad sampling input.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SampleError {
    /// A parameter outside its range.
    #[error("{what} = {value} is outside {range}")]
    Range {
        /// Which parameter.
        what: &'static str,
        /// Its value.
        value: f64,
        /// The allowed range.
        range: &'static str,
    },
    /// Nothing to sample from.
    #[error("empty population: nothing to sample")]
    Empty,
    /// More asked than there is.
    #[error("asked for {n} items from a population of {population}")]
    TooMany {
        /// Asked.
        n: usize,
        /// Available.
        population: usize,
    },
}

/// Cochran's sample size with the finite-population correction (see the module docs).
///
/// # Errors
/// `population` 0, `margin` outside (0, 1), `p` outside [0, 1], `z` not positive.
pub fn cochran_sample_size(
    population: u64,
    z: f64,
    margin: f64,
    p: f64,
) -> Result<u64, SampleError> {
    if population == 0 {
        return Err(SampleError::Empty);
    }
    if !(margin > 0.0 && margin < 1.0) {
        return Err(SampleError::Range {
            what: "margin",
            value: margin,
            range: "(0, 1)",
        });
    }
    if !(0.0..=1.0).contains(&p) {
        return Err(SampleError::Range {
            what: "p",
            value: p,
            range: "[0, 1]",
        });
    }
    if !(z > 0.0 && z.is_finite()) {
        return Err(SampleError::Range {
            what: "z",
            value: z,
            range: "(0, inf)",
        });
    }
    let n0 = z * z * p * (1.0 - p) / (margin * margin);
    let n = n0 / (1.0 + (n0 - 1.0) / population as f64);
    // A hair below an integer from rounding must not round up a whole item.
    Ok(((n - 1e-9).ceil().max(0.0) as u64).min(population))
}

/// `n` distinct items drawn uniformly without replacement (a seeded Fisher–Yates prefix),
/// in draw order.
pub fn simple_random_sample<T: Clone>(
    items: &[T],
    n: usize,
    seed: u64,
) -> Result<Vec<T>, SampleError> {
    Ok(
        sample_indices(items.len(), n, &mut stream(seed, "simple-sample"))?
            .into_iter()
            .map(|i| items[i].clone())
            .collect(),
    )
}

fn sample_indices(len: usize, n: usize, rng: &mut SplitMix64) -> Result<Vec<usize>, SampleError> {
    if len == 0 && n > 0 {
        return Err(SampleError::Empty);
    }
    if n > len {
        return Err(SampleError::TooMany { n, population: len });
    }
    let mut idx: Vec<usize> = (0..len).collect();
    for i in 0..n {
        let j = i + rng.below(len - i);
        idx.swap(i, j);
    }
    idx.truncate(n);
    Ok(idx)
}

/// Proportional allocation of `n` over strata of `sizes` by largest remainders: each
/// stratum gets `floor(n · N_h / N)`, the leftover items go to the largest remainders
/// (ties to the earlier stratum), never more than a stratum holds.
pub fn allocate(sizes: &[usize], n: usize) -> Result<Vec<usize>, SampleError> {
    let total: usize = sizes.iter().sum();
    if total == 0 && n > 0 {
        return Err(SampleError::Empty);
    }
    if n > total {
        return Err(SampleError::TooMany {
            n,
            population: total,
        });
    }
    let mut alloc: Vec<usize> = sizes.iter().map(|&s| s * n / total.max(1)).collect();
    let mut rema: Vec<(usize, usize)> = sizes
        .iter()
        .enumerate()
        .map(|(h, &s)| ((s * n) % total.max(1), h))
        .collect();
    rema.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    let mut left = n - alloc.iter().sum::<usize>();
    for &(_, h) in rema.iter().cycle().take(rema.len() * 2) {
        if left == 0 {
            break;
        }
        if alloc[h] < sizes[h] {
            alloc[h] += 1;
            left -= 1;
        }
    }
    Ok(alloc)
}

/// A stratified sample of `n` items: strata by `key` (in key order), sizes by
/// [`allocate`], a simple random sample within each stratum (stream `seed`, `"stratum:" +
/// key`). Items come out stratum by stratum, each in draw order.
pub fn stratified_sample<T: Clone>(
    items: &[T],
    key: impl Fn(&T) -> String,
    n: usize,
    seed: u64,
) -> Result<Vec<T>, SampleError> {
    let mut strata: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    for (i, it) in items.iter().enumerate() {
        strata.entry(key(it)).or_default().push(i);
    }
    let sizes: Vec<usize> = strata.values().map(Vec::len).collect();
    let alloc = allocate(&sizes, n)?;
    let mut out = Vec::with_capacity(n);
    for ((k, members), &m) in strata.iter().zip(&alloc) {
        let picked = sample_indices(members.len(), m, &mut stream(seed, &format!("stratum:{k}")))?;
        out.extend(picked.into_iter().map(|j| items[members[j]].clone()));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cochran_hand_values() {
        assert_eq!(cochran_sample_size(14_476, 1.96, 0.03, 0.5).unwrap(), 994);
        assert_eq!(cochran_sample_size(14_588, 1.96, 0.03, 0.5).unwrap(), 995);
        assert_eq!(cochran_sample_size(100, 1.96, 0.03, 0.5).unwrap(), 92);
        assert_eq!(
            cochran_sample_size(1_000_000_000, 1.96, 0.03, 0.5).unwrap(),
            1068
        );
        assert_eq!(cochran_sample_size(1, 1.96, 0.03, 0.5).unwrap(), 1);
        for (m, ok) in [
            (0.0, false),
            (1.0, false),
            (-0.1, false),
            (f64::NAN, false),
            (0.5, true),
        ] {
            assert_eq!(cochran_sample_size(100, 1.96, m, 0.5).is_ok(), ok, "{m}");
        }
        let e = cochran_sample_size(100, 1.96, 1.5, 0.5)
            .unwrap_err()
            .to_string();
        assert!(e.contains("margin = 1.5") && e.contains("(0, 1)"), "{e}");
        assert_eq!(
            cochran_sample_size(0, 1.96, 0.03, 0.5),
            Err(SampleError::Empty)
        );
        assert!(cochran_sample_size(10, 1.96, 0.03, 1.5).is_err());
        assert!(cochran_sample_size(10, 0.0, 0.03, 0.5).is_err());
    }

    #[test]
    fn samples_are_seeded_and_without_duplicates() {
        let items: Vec<u32> = (0..1000).collect();
        let a = simple_random_sample(&items, 994, 3).unwrap();
        assert_eq!(a, simple_random_sample(&items, 994, 3).unwrap());
        assert_ne!(a, simple_random_sample(&items, 994, 4).unwrap());
        let mut s = a.clone();
        s.sort_unstable();
        s.dedup();
        assert_eq!(s.len(), 994);
        assert!(simple_random_sample(&items, 1001, 3).is_err());
        assert_eq!(
            simple_random_sample::<u32>(&[], 1, 3),
            Err(SampleError::Empty)
        );
        assert!(simple_random_sample::<u32>(&[], 0, 3).unwrap().is_empty());
    }

    #[test]
    fn stratified_allocation_sums_and_is_proportional() {
        // 14 588 over 15 unequal projects.
        let sizes = [
            3200, 2400, 1900, 1500, 1200, 1000, 800, 700, 500, 400, 350, 250, 188, 150, 50,
        ];
        let total: usize = sizes.iter().sum();
        let alloc = allocate(&sizes, 994).unwrap();
        assert_eq!(alloc.iter().sum::<usize>(), 994);
        for (a, s) in alloc.iter().zip(sizes) {
            let exact = 994.0 * s as f64 / total as f64;
            assert!((*a as f64 - exact).abs() <= 1.0, "{a} vs {exact}");
        }
        // Largest remainders: [1, 1, 1] for n = 2 gives the first two.
        assert_eq!(allocate(&[1, 1, 1], 2).unwrap(), [1, 1, 0]);
        assert!(allocate(&[1, 1], 3).is_err());
        let items: Vec<(String, u32)> = (0..300)
            .map(|i| (if i < 200 { "a" } else { "b" }.to_owned(), i))
            .collect();
        let s = stratified_sample(&items, |t| t.0.clone(), 30, 1).unwrap();
        assert_eq!(s.iter().filter(|t| t.0 == "a").count(), 20);
        assert_eq!(s.iter().filter(|t| t.0 == "b").count(), 10);
        let mut ids: Vec<u32> = s.iter().map(|t| t.1).collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), 30);
        assert_eq!(
            s,
            stratified_sample(&items, |t| t.0.clone(), 30, 1).unwrap()
        );
    }
}

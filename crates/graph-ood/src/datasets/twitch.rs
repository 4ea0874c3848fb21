//! GOOD-Twitch: six language graphs concatenated, domain = language, label = `mature`.
//!
//! GOOD used 128-d dense features that no longer exist; we reduce the raw binary 3,170-d
//! feature sets without labels (our operationalisation): [`FeatureReduction::Svd128`], the
//! top-128 eigenvectors of `XᵀX` (uncentred) by subspace iteration (4 rounds, 16 extra
//! columns, fixed seed) and a Rayleigh–Ritz step, features `X·V`; or
//! [`FeatureReduction::RandProj128`], a seeded Gaussian projection `/√128`. GOOD's single
//! logit becomes a 2-class softmax (our operationalisation).

use anyhow::Context;
use repro_core::data::DataRoots;
use repro_core::data::parsers::twitch::{
    TWITCH_LANGUAGES, TwitchGraph, TwitchTarget, load_twitch, load_twitch_targets,
};
use serde::{Deserialize, Serialize};

use crate::graph::{NodeGraph, symmetrise};
use crate::splits::{
    ConceptCfg, CovariateCfg, OodSplit, Shift, good_concept_split, good_covariate_split,
};
use repro_core::linalg::{Jacobi, JacobiStop, sym_eigen};
use repro_core::rng::SplitMix64;

/// Reduced feature width.
pub const DIM: usize = 128;

/// How the 3,170-d binary features are reduced.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum FeatureReduction {
    /// Top-128 right singular vectors of X (subspace iteration).
    Svd128,
    /// Seeded Gaussian random projection.
    RandProj128,
}

/// `X·M` for sparse binary rows `x` and a dense `[d, k]` matrix.
fn sparse_times(x: &[Vec<u32>], m: &[f64], k: usize) -> Vec<f64> {
    let mut out = vec![0.0; x.len() * k];
    for (i, row) in x.iter().enumerate() {
        let o = &mut out[i * k..(i + 1) * k];
        for &f in row {
            for (a, b) in o.iter_mut().zip(&m[f as usize * k..(f as usize + 1) * k]) {
                *a += b;
            }
        }
    }
    out
}

/// `Xᵀ·Z` for sparse binary rows `x` (`d` columns) and dense `[n, k]` `z`.
fn sparse_t_times(x: &[Vec<u32>], d: usize, z: &[f64], k: usize) -> Vec<f64> {
    let mut out = vec![0.0; d * k];
    for (i, row) in x.iter().enumerate() {
        let zi = &z[i * k..(i + 1) * k];
        for &f in row {
            for (a, b) in out[f as usize * k..(f as usize + 1) * k].iter_mut().zip(zi) {
                *a += b;
            }
        }
    }
    out
}

/// Orthonormalises the columns of a row-major `[d, k]` matrix (modified Gram–Schmidt).
fn orthonormalise(v: &mut [f64], d: usize, k: usize) {
    for j in 0..k {
        for p in 0..j {
            let dot: f64 = (0..d).map(|r| v[r * k + j] * v[r * k + p]).sum();
            for r in 0..d {
                v[r * k + j] -= dot * v[r * k + p];
            }
        }
        let norm = (0..d)
            .map(|r| v[r * k + j].powi(2))
            .sum::<f64>()
            .sqrt()
            .max(1e-300);
        for r in 0..d {
            v[r * k + j] /= norm;
        }
    }
}

/// Reduces binary feature sets (ids below `d`) to `[n, out]` dense features.
pub fn reduce_features(x: &[Vec<u32>], d: usize, red: FeatureReduction, out: usize) -> Vec<f32> {
    let mut rng = SplitMix64::new(0x7477_6974_6368);
    match red {
        FeatureReduction::RandProj128 => {
            let scale = 1.0 / (out as f64).sqrt();
            let r: Vec<f64> = (0..d * out).map(|_| rng.normal() * scale).collect();
            sparse_times(x, &r, out)
                .into_iter()
                .map(|v| v as f32)
                .collect()
        }
        FeatureReduction::Svd128 => {
            let k = (out + 16).min(d);
            let mut v: Vec<f64> = (0..d * k).map(|_| rng.normal()).collect();
            orthonormalise(&mut v, d, k);
            for _ in 0..4 {
                let z = sparse_times(x, &v, k);
                v = sparse_t_times(x, d, &z, k);
                orthonormalise(&mut v, d, k);
            }
            // Rayleigh–Ritz: B = (XV)ᵀ(XV), eigenvectors sorted by value, descending.
            let z = sparse_times(x, &v, k);
            let n = x.len();
            let mut b = vec![0.0; k * k];
            for i in 0..n {
                let zi = &z[i * k..(i + 1) * k];
                for p in 0..k {
                    for q in 0..k {
                        b[p * k + q] += zi[p] * zi[q];
                    }
                }
            }
            // Cyclic Jacobi as before: 50 sweeps, stop when Σ off-diagonal² < 1e-22.
            let jacobi = Jacobi {
                max_sweeps: 50,
                stop: JacobiStop::OffSquaresBelow(1e-22),
            };
            let (vals, vecs) = sym_eigen(&b, k, jacobi);
            let mut idx: Vec<usize> = (0..k).collect();
            idx.sort_by(|&a, &c| vals[c].total_cmp(&vals[a]));
            let keep = out.min(k);
            let mut res = vec![0.0f32; n * out];
            for i in 0..n {
                for (col, &e) in idx.iter().take(keep).enumerate() {
                    let s: f64 = (0..k).map(|p| z[i * k + p] * vecs[p * k + e]).sum();
                    res[i * out + col] = s as f32;
                }
            }
            res
        }
    }
}

/// Builds GOOD-Twitch from parsed languages (in the given order = domain order): edges
/// symmetrised and offset, label = `mature` of target `new_id = i`, features reduced.
/// Covariate: ascending language, 60 % / 20 %, 10 environments; concept: Twitch biases.
///
/// # Errors
/// A language whose targets do not cover its nodes.
pub fn good_twitch_from(
    parts: &[(String, TwitchGraph, Vec<TwitchTarget>)],
    shift: Shift,
    red: FeatureReduction,
    seed: u64,
) -> anyhow::Result<(NodeGraph, OodSplit)> {
    let mut feats = Vec::new();
    let mut y = Vec::new();
    let mut pairs = Vec::new();
    let mut domain = Vec::new();
    let mut offset = 0u32;
    for (k, (lang, g, t)) in parts.iter().enumerate() {
        anyhow::ensure!(
            t.len() == g.num_nodes(),
            "twitch {lang}: {} targets for {} nodes",
            t.len(),
            g.num_nodes()
        );
        feats.extend(g.features.iter().cloned());
        y.extend(t.iter().map(|r| u32::from(r.mature)));
        pairs.extend(g.edges.iter().map(|&(u, v)| (u + offset, v + offset)));
        domain.extend(std::iter::repeat_n(k as f64, g.num_nodes()));
        offset += g.num_nodes() as u32;
    }
    let d = parts
        .iter()
        .map(|p| p.1.feature_dim())
        .max()
        .unwrap_or(0)
        .max(1);
    let x = reduce_features(&feats, d, red, DIM);
    let n = y.len();
    let g = NodeGraph::new(n, &symmetrise(&pairs), x, DIM, y.clone(), 2)
        .context("GOOD-Twitch graph")?;
    let mut rng = SplitMix64::new(seed);
    let split = match shift {
        Shift::Covariate => good_covariate_split(
            &domain,
            &CovariateCfg {
                train_ratio: 0.6,
                val_ratio: 0.2,
                num_envs: 10,
                reverse: false,
                id_frac: 0.1,
            },
            &mut rng,
        ),
        Shift::Concept => good_concept_split(
            &domain,
            &y,
            &ConceptCfg {
                bias: ConceptCfg::TWITCH,
                id_frac: 0.15,
            },
            &mut rng,
        ),
    };
    Ok((g, split))
}

/// Loads the six languages through the data layer (edges, features, targets) and builds
/// GOOD-Twitch.
///
/// # Errors
/// Missing files: the data layer's error names the file (`reproduce` turns it into a note
/// that the cell was skipped).
pub fn good_twitch(
    roots: &DataRoots,
    shift: Shift,
    red: FeatureReduction,
    seed: u64,
) -> anyhow::Result<(NodeGraph, OodSplit)> {
    let parts = TWITCH_LANGUAGES
        .iter()
        .map(|&l| -> anyhow::Result<_> {
            let g = load_twitch(roots, l).with_context(|| format!("loading Twitch {l}"))?;
            let t = load_twitch_targets(roots, l)
                .with_context(|| format!("loading Twitch {l} targets"))?;
            Ok((l.to_owned(), g, t))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    good_twitch_from(&parts, shift, red, seed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(lang: &str, n: usize, seed: u64) -> (String, TwitchGraph, Vec<TwitchTarget>) {
        let mut rng = SplitMix64::new(seed);
        let features: Vec<Vec<u32>> = (0..n)
            .map(|_| {
                let mut f: Vec<u32> = (0..6).map(|_| rng.below(40) as u32).collect();
                f.sort_unstable();
                f.dedup();
                f
            })
            .collect();
        let edges = (0..2 * n)
            .map(|_| (rng.below(n) as u32, rng.below(n) as u32))
            .collect();
        let targets = (0..n)
            .map(|i| TwitchTarget {
                id: i as u64,
                days: 1,
                mature: rng.below(2) == 1,
                views: 0,
                partner: false,
                new_id: i as u32,
            })
            .collect();
        (
            lang.to_owned(),
            TwitchGraph {
                language: lang.to_owned(),
                edges,
                features,
            },
            targets,
        )
    }

    #[test]
    fn builds_on_fixtures_with_both_reductions() {
        let parts: Vec<_> = ["DE", "ENGB", "ES", "FR", "PTBR", "RU"]
            .iter()
            .enumerate()
            .map(|(k, l)| fixture(l, 60 + 10 * k, k as u64))
            .collect();
        for red in [FeatureReduction::Svd128, FeatureReduction::RandProj128] {
            let (g, s) = good_twitch_from(&parts, Shift::Covariate, red, 0).unwrap();
            assert_eq!(g.num_features, DIM);
            assert_eq!(g.n, 510);
            assert!(g.x.iter().all(|v| v.is_finite()));
            s.validate(g.n, &g.y, 2).unwrap();
        }
        let mut bad = parts.clone();
        bad[2].2.pop();
        let err =
            good_twitch_from(&bad, Shift::Concept, FeatureReduction::RandProj128, 0).unwrap_err();
        assert!(
            err.to_string()
                .contains("twitch ES: 79 targets for 80 nodes"),
            "{err}"
        );
    }

    #[test]
    fn svd_reduction_finds_the_leading_subspace() {
        // 40 binary columns, rank ≤ 40: with out = 40 the reduction is an orthogonal change
        // of basis, so ||X V||_F = ||X||_F (= number of ones); the first column carries the
        // largest energy.
        let (_, g, _) = fixture("DE", 200, 9);
        let x = reduce_features(&g.features, 40, FeatureReduction::Svd128, 40);
        let ones: usize = g.features.iter().map(Vec::len).sum();
        let energy: f64 = x.iter().map(|&v| f64::from(v).powi(2)).sum();
        // Subspace iteration in f64, stored as f32: relative 1e-4.
        assert!(
            (energy - ones as f64).abs() < 1e-4 * ones as f64,
            "{energy} vs {ones}"
        );
        let col = |j: usize| {
            (0..200)
                .map(|i| f64::from(x[i * 40 + j]).powi(2))
                .sum::<f64>()
        };
        assert!((1..40).all(|j| col(0) >= col(j) - 1e-6));
    }

    #[test]
    fn missing_mirror_files_are_named() {
        let dir = repro_core::testing::TempDir::new("twitch-missing");
        let roots = DataRoots::new(dir.path(), Some(dir.path().to_path_buf()));
        let err =
            good_twitch(&roots, Shift::Covariate, FeatureReduction::RandProj128, 0).unwrap_err();
        assert!(format!("{err:#}").contains("twitch"), "{err:#}");
    }
}

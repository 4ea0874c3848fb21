//! A synthetic stand-in for GOOD-Arxiv (169k nodes, not obtainable here): a growing
//! citation graph with time-drifting labels and features. Every constant is our
//! operationalisation (spec §5).

use serde::{Deserialize, Serialize};

use crate::graph::{NodeGraph, symmetrise};
use crate::splits::{
    ConceptCfg, CovariateCfg, OodSplit, Shift, good_concept_split, good_covariate_split,
};
use repro_core::rng::{SplitMix64, poisson};

/// Generator settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ArxivSynthCfg {
    /// Nodes (3,000 quick / 20,000 full).
    pub n: usize,
    /// Years; year sizes ∝ 1.25^t.
    pub years: usize,
    /// Classes.
    pub classes: usize,
    /// Feature dimension.
    pub dim: usize,
}

impl Default for ArxivSynthCfg {
    fn default() -> Self {
        Self {
            n: 20_000,
            years: 12,
            classes: 10,
            dim: 32,
        }
    }
}

/// Domain of the split.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ArxivDomain {
    /// Publication year (ascending, 50 % / 20 %, as GOOD-Arxiv-time).
    Time,
    /// Degree (descending, 60 % / 20 %).
    Degree,
}

/// Generates the graph and its split. Node `i` of year `t` has label `y ~ π(t)`,
/// `π_c(t) ∝ exp(0.15·t·s_c)` with `s_c = ±1` alternating; it cites `1 + Poisson(4)`
/// earlier nodes `j` with probability ∝ `(deg_j + 1)·(0.6 if y_j = y_i else 0.4/(C−1))·
/// exp(−(t_i − t_j)/3)`; `x = μ_y + t/(Y−1)·Δ_y + N(0, I)`, `μ_c ~ N(0, I)`,
/// `Δ_c ~ N(0, 1.5² I)`.
pub fn synthetic_arxiv(
    cfg: &ArxivSynthCfg,
    d: ArxivDomain,
    shift: Shift,
    seed: u64,
) -> (NodeGraph, OodSplit) {
    let mut rng = SplitMix64::new(seed);
    let (yrs, c, dim) = (cfg.years, cfg.classes, cfg.dim);
    let w: Vec<f64> = (0..yrs).map(|t| 1.25f64.powi(t as i32)).collect();
    let total: f64 = w.iter().sum();
    let mut year = Vec::with_capacity(cfg.n);
    for (t, wt) in w.iter().enumerate() {
        let k = if t + 1 == yrs {
            cfg.n - year.len()
        } else {
            (cfg.n as f64 * wt / total).round() as usize
        };
        year.extend(std::iter::repeat_n(t, k));
    }
    let sgn: Vec<f64> = (0..c)
        .map(|k| if k % 2 == 0 { 1.0 } else { -1.0 })
        .collect();
    let mut y = Vec::with_capacity(cfg.n);
    for &t in &year {
        let p: Vec<f64> = sgn.iter().map(|s| (0.15 * t as f64 * s).exp()).collect();
        let z: f64 = p.iter().sum();
        let mut u = rng.next_f64() * z;
        let mut lab = c - 1;
        for (k, pk) in p.iter().enumerate() {
            if u < *pk {
                lab = k;
                break;
            }
            u -= pk;
        }
        y.push(lab as u32);
    }
    let mut deg = vec![0.0f64; cfg.n];
    let mut pairs = Vec::new();
    let mut weights = Vec::with_capacity(cfg.n);
    for i in 1..cfg.n {
        weights.clear();
        let mut acc = 0.0;
        for j in 0..i {
            let same = if y[j] == y[i] {
                0.6
            } else {
                0.4 / (c - 1) as f64
            };
            acc += (deg[j] + 1.0) * same * (-((year[i] - year[j]) as f64) / 3.0).exp();
            weights.push(acc);
        }
        let k = 1 + poisson(&mut rng, 4.0);
        for _ in 0..k {
            let u = rng.next_f64() * acc;
            let j = weights.partition_point(|&v| v <= u).min(i - 1);
            pairs.push((i as u32, j as u32));
            deg[i] += 1.0;
            deg[j] += 1.0;
        }
    }
    let edges = symmetrise(&pairs);
    let mu: Vec<f64> = (0..c * dim).map(|_| rng.normal()).collect();
    let delta: Vec<f64> = (0..c * dim).map(|_| 1.5 * rng.normal()).collect();
    let mut x = vec![0.0f32; cfg.n * dim];
    for i in 0..cfg.n {
        let frac = year[i] as f64 / (yrs - 1) as f64;
        let yc = y[i] as usize;
        for k in 0..dim {
            x[i * dim + k] = (mu[yc * dim + k] + frac * delta[yc * dim + k] + rng.normal()) as f32;
        }
    }
    let g =
        NodeGraph::new(cfg.n, &edges, x, dim, y.clone(), c).expect("arxiv-synth edges in range");
    let domain: Vec<f64> = match d {
        ArxivDomain::Time => year.iter().map(|&t| t as f64).collect(),
        ArxivDomain::Degree => {
            let mut dg = vec![0.0; cfg.n];
            for &s in &g.src {
                dg[s as usize] += 1.0;
            }
            dg
        }
    };
    let split = match shift {
        Shift::Covariate => {
            let (train_ratio, reverse) = match d {
                ArxivDomain::Time => (0.5, false),
                ArxivDomain::Degree => (0.6, true),
            };
            good_covariate_split(
                &domain,
                &CovariateCfg {
                    train_ratio,
                    val_ratio: 0.2,
                    num_envs: 10,
                    reverse,
                    id_frac: 0.1,
                },
                &mut rng,
            )
        }
        Shift::Concept => good_concept_split(
            &domain,
            &y,
            &ConceptCfg {
                bias: ConceptCfg::CORA,
                id_frac: 0.15,
            },
            &mut rng,
        ),
    };
    (g, split)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_arxiv_synth_is_valid() {
        let cfg = ArxivSynthCfg {
            n: 1500,
            ..ArxivSynthCfg::default()
        };
        for d in [ArxivDomain::Time, ArxivDomain::Degree] {
            for s in [Shift::Covariate, Shift::Concept] {
                let (g, split) = synthetic_arxiv(&cfg, d, s, 0);
                split.validate(g.n, &g.y, g.num_classes).unwrap();
                let mean_deg = g.num_edges() as f64 / g.n as f64;
                assert!((6.0..=12.0).contains(&mean_deg), "{mean_deg}");
            }
        }
    }
}

//! CSBM-OOD: a contextual stochastic block model with invariant and spurious node
//! features, our operationalisation of the paper's theory setting (its equations are not
//! available; every constant below is our operationalisation, spec §5 "reconstructed").

use std::ops::Range;

use serde::{Deserialize, Serialize};

use crate::graph::{NodeGraph, symmetrise};
use crate::splits::OodSplit;
use repro_core::rng::SplitMix64;

/// Which shift the spurious features carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum CsbmVariant {
    /// `x_spu ~ N(3·u_g, I)`, one orthonormal direction per group (test orthogonal to all).
    Covariate,
    /// `x_spu ~ N(3·v_{c*}, I)`, `c* = y` w.p. `r_g`, else another class; anti-correlated at test.
    Concept,
}

impl CsbmVariant {
    /// Lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            CsbmVariant::Covariate => "covariate",
            CsbmVariant::Concept => "concept",
        }
    }
}

/// Generator settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CsbmCfg {
    /// Nodes (2,000; 4 train groups of 15 %, OOD val 20 %, OOD test 20 %).
    pub n: usize,
    /// Classes (balanced within each group).
    pub classes: usize,
    /// Invariant feature dimension.
    pub inv_dim: usize,
    /// Spurious feature dimension.
    pub spu_dim: usize,
    /// Invariant class-mean scale `a`.
    pub a: f64,
    /// Spurious mean scale.
    pub spu_scale: f64,
    /// Partners drawn per node (mean degree ≈ 2 × this).
    pub partners: usize,
    /// Probability a partner is in the same group.
    pub p_same_group: f64,
    /// Probability a partner has the same class.
    pub p_same_class: f64,
    /// Concept variant: `P(c* = y)` per training group, then OOD val, OOD test.
    pub r: [f64; 6],
    /// Fraction of each training group sent to ID validation (and again to ID test).
    pub id_frac: f64,
}

impl Default for CsbmCfg {
    fn default() -> Self {
        Self {
            n: 2000,
            classes: 4,
            inv_dim: 16,
            spu_dim: 16,
            a: 1.0,
            spu_scale: 3.0,
            partners: 4,
            p_same_group: 0.7,
            p_same_class: 0.6,
            r: [0.9, 0.85, 0.8, 0.75, 0.5, 0.0],
            id_frac: 0.1,
        }
    }
}

/// Where the feature blocks are.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CsbmMeta {
    /// Invariant feature columns.
    pub inv: Range<usize>,
    /// Spurious feature columns.
    pub spu: Range<usize>,
    /// Group of each node (0–3 train, 4 OOD val, 5 OOD test).
    pub group: Vec<u8>,
}

/// Generates a CSBM-OOD graph, its split and the feature layout from `seed`.
///
/// # Panics
/// If `classes > inv_dim` or `max(classes, 6) > spu_dim` (the means are basis vectors).
pub fn csbm_ood(cfg: &CsbmCfg, v: CsbmVariant, seed: u64) -> (NodeGraph, OodSplit, CsbmMeta) {
    assert!(
        cfg.classes <= cfg.inv_dim && cfg.classes.max(6) <= cfg.spu_dim,
        "csbm dims"
    );
    let mut rng = SplitMix64::new(seed);
    let n = cfg.n;
    let env = (0.15 * n as f64).round() as usize;
    let ood = (n - 4 * env) / 2;
    let sizes = [env, env, env, env, ood, n - 4 * env - ood];
    let mut group = Vec::with_capacity(n);
    let mut y = Vec::with_capacity(n);
    for (g, &s) in sizes.iter().enumerate() {
        for k in 0..s {
            group.push(g as u8);
            y.push((k % cfg.classes) as u32);
        }
    }
    // Cells (group, class) for partner draws.
    let mut cells = vec![vec![Vec::new(); cfg.classes]; 6];
    for i in 0..n {
        cells[group[i] as usize][y[i] as usize].push(i as u32);
    }
    let mut pairs = Vec::new();
    for i in 0..n {
        let (gi, ci) = (group[i] as usize, y[i] as usize);
        for _ in 0..cfg.partners {
            let g = if rng.next_f64() < cfg.p_same_group {
                gi
            } else {
                (gi + 1 + rng.below(5)) % 6
            };
            let c = if rng.next_f64() < cfg.p_same_class {
                ci
            } else {
                (ci + 1 + rng.below(cfg.classes - 1)) % cfg.classes
            };
            let cell = &cells[g][c];
            if !cell.is_empty() {
                pairs.push((i as u32, cell[rng.below(cell.len())]));
            }
        }
    }
    let edges = symmetrise(&pairs);
    let f = cfg.inv_dim + cfg.spu_dim;
    let mut x = vec![0.0f32; n * f];
    for i in 0..n {
        let row = &mut x[i * f..(i + 1) * f];
        for v in row.iter_mut() {
            *v = rng.normal() as f32;
        }
        row[y[i] as usize] += cfg.a as f32;
        let dir = match v {
            CsbmVariant::Covariate => group[i] as usize,
            CsbmVariant::Concept => {
                if rng.next_f64() < cfg.r[group[i] as usize] {
                    y[i] as usize
                } else {
                    (y[i] as usize + 1 + rng.below(cfg.classes - 1)) % cfg.classes
                }
            }
        };
        row[cfg.inv_dim + dir] += cfg.spu_scale as f32;
    }
    let mut env_id = vec![-1i32; n];
    let (mut train, mut id_val, mut id_test) = (Vec::new(), Vec::new(), Vec::new());
    let (mut ood_val, mut ood_test) = (Vec::new(), Vec::new());
    let k = (cfg.id_frac * env as f64).round() as usize;
    let mut start = 0;
    for (g, &s) in sizes.iter().enumerate() {
        let mut nodes: Vec<u32> = (start as u32..(start + s) as u32).collect();
        start += s;
        match g {
            0..=3 => {
                for &i in &nodes {
                    env_id[i as usize] = g as i32;
                }
                rng.shuffle(&mut nodes);
                id_val.extend_from_slice(&nodes[..k]);
                id_test.extend_from_slice(&nodes[k..2 * k]);
                train.extend_from_slice(&nodes[2 * k..]);
            }
            4 => ood_val = nodes,
            _ => ood_test = nodes,
        }
    }
    let graph = NodeGraph::new(n, &edges, x, f, y, cfg.classes).expect("CSBM edges in range");
    let split = OodSplit {
        train,
        id_val,
        id_test,
        ood_val,
        ood_test,
        env_id,
        num_envs: 4,
        domain_id: group.iter().map(|&g| i32::from(g)).collect(),
    }
    .training_envs_only();
    let meta = CsbmMeta {
        inv: 0..cfg.inv_dim,
        spu: cfg.inv_dim..f,
        group,
    };
    (graph, split, meta)
}

/// The graph with its spurious columns set to zero (input of the invariant-only oracle).
pub fn invariant_only(g: &NodeGraph, meta: &CsbmMeta) -> NodeGraph {
    let f = g.num_features;
    let mut x = g.x.clone();
    for i in 0..g.n {
        for k in meta.spu.clone() {
            x[i * f + k] = 0.0;
        }
    }
    g.with_features(x, f)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csbm_shapes_and_degree() {
        let cfg = CsbmCfg::default();
        for v in [CsbmVariant::Covariate, CsbmVariant::Concept] {
            let (g, s, m) = csbm_ood(&cfg, v, 3);
            s.validate(g.n, &g.y, 4).unwrap();
            assert_eq!(s.sizes(), [960, 120, 120, 400, 400]);
            assert_eq!(m.spu, 16..32);
            let mean_deg = g.num_edges() as f64 / g.n as f64;
            assert!((6.5..=8.5).contains(&mean_deg), "{mean_deg}");
        }
    }

    #[test]
    fn concept_spurious_direction_tracks_label_in_train_and_not_in_test() {
        let (g, s, m) = csbm_ood(&CsbmCfg::default(), CsbmVariant::Concept, 1);
        let agree = |set: &[u32]| -> f64 {
            let f = g.num_features;
            let hits = set
                .iter()
                .filter(|&&i| {
                    let row = &g.x[i as usize * f + m.spu.start..i as usize * f + m.spu.start + 4];
                    let arg = (0..4)
                        .max_by(|&a, &b| row[a].total_cmp(&row[b]))
                        .unwrap_or(0);
                    arg == g.y[i as usize] as usize
                })
                .count();
            hits as f64 / set.len() as f64
        };
        // Train r ≈ 0.83 (plus noise flips): well above chance; test r = 0: well below.
        assert!(agree(&s.train) > 0.6, "{}", agree(&s.train));
        assert!(agree(&s.ood_test) < 0.15, "{}", agree(&s.ood_test));
    }
}

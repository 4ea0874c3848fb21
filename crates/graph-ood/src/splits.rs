//! GOOD split builders (covariate and concept shift) over any graph with a per-node domain
//! value, following the paper's code (`get_covariate_shift_graph`,
//! `get_concept_shift_graph` in `GOOD/data/good_datasets/good_cora.py`).

use serde::{Deserialize, Serialize};

use crate::graph::GraphError;
use repro_core::rng::SplitMix64;

/// Which distribution shift a split simulates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Shift {
    /// `P(X)` shifts: environments and OOD sets are bands of the domain value.
    Covariate,
    /// `P(Y | domain)` shifts: the domain–label correlation flips at test time.
    Concept,
}

impl Shift {
    /// Lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Shift::Covariate => "covariate",
            Shift::Concept => "concept",
        }
    }
}

/// A GOOD-style split: five node sets and the training environments.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OodSplit {
    /// Training nodes.
    pub train: Vec<u32>,
    /// In-distribution validation nodes.
    pub id_val: Vec<u32>,
    /// In-distribution test nodes.
    pub id_test: Vec<u32>,
    /// Out-of-distribution validation nodes (model and hyper-parameter selection).
    pub ood_val: Vec<u32>,
    /// Out-of-distribution test nodes.
    pub ood_test: Vec<u32>,
    /// Environment of each training node; `-1` on every other node (ID-validation and
    /// ID-test nodes included, as upstream drops them), so no loss can read an
    /// environment off a node it does not train on. [`OodSplit::validate`] checks it.
    pub env_id: Vec<i32>,
    /// Number of training environments.
    pub num_envs: usize,
    /// Rank of each node's distinct domain value.
    pub domain_id: Vec<i32>,
}

impl OodSplit {
    /// Clears the environment of every node outside `train` (the constructors end with it).
    pub fn training_envs_only(mut self) -> Self {
        let mut train = vec![false; self.env_id.len()];
        for &i in &self.train {
            if let Some(t) = train.get_mut(i as usize) {
                *t = true;
            }
        }
        for (e, t) in self.env_id.iter_mut().zip(train) {
            if !t {
                *e = -1;
            }
        }
        self
    }

    /// Checks that the five sets partition `0..n`, that every environment has a training
    /// node, and that every class of `y` has a training node.
    ///
    /// # Errors
    /// [`GraphError::Split`], [`GraphError::EmptyEnvironment`],
    /// [`GraphError::ClassAbsentFromTraining`].
    pub fn validate(&self, n: usize, y: &[u32], num_classes: usize) -> Result<(), GraphError> {
        let mut seen = vec![false; n];
        for (name, set) in self.sets() {
            for &i in set {
                let i = i as usize;
                if i >= n {
                    return Err(GraphError::Split(format!(
                        "{name} names node {i}, but the graph has {n} nodes"
                    )));
                }
                if std::mem::replace(&mut seen[i], true) {
                    return Err(GraphError::Split(format!(
                        "node {i} is in two sets ({name})"
                    )));
                }
            }
        }
        if let Some(i) = seen.iter().position(|s| !s) {
            return Err(GraphError::Split(format!("node {i} is in no set")));
        }
        let mut env_count = vec![0usize; self.num_envs];
        let mut class_count = vec![0usize; num_classes];
        for &i in &self.train {
            let e = self.env_id[i as usize];
            if e < 0 || e as usize >= self.num_envs {
                return Err(GraphError::Split(format!(
                    "training node {i} has environment {e}, outside 0..{}",
                    self.num_envs
                )));
            }
            env_count[e as usize] += 1;
            class_count[y[i as usize] as usize] += 1;
        }
        if self.env_id.len() != n {
            return Err(GraphError::Split(format!(
                "env_id has {} entries for {n} nodes",
                self.env_id.len()
            )));
        }
        let mut is_train = vec![false; n];
        for &i in &self.train {
            is_train[i as usize] = true;
        }
        if let Some(i) = (0..n).find(|&i| !is_train[i] && self.env_id[i] >= 0) {
            return Err(GraphError::Split(format!(
                "node {i} has environment {} but is not a training node",
                self.env_id[i]
            )));
        }
        if let Some(env) = env_count.iter().position(|&c| c == 0) {
            return Err(GraphError::EmptyEnvironment {
                env,
                num_envs: self.num_envs,
            });
        }
        if let Some(class) = class_count.iter().position(|&c| c == 0) {
            return Err(GraphError::ClassAbsentFromTraining { class, num_classes });
        }
        Ok(())
    }

    /// The five sets with their names.
    pub fn sets(&self) -> [(&'static str, &Vec<u32>); 5] {
        [
            ("train", &self.train),
            ("id_val", &self.id_val),
            ("id_test", &self.id_test),
            ("ood_val", &self.ood_val),
            ("ood_test", &self.ood_test),
        ]
    }

    /// Set sizes `[train, id_val, id_test, ood_val, ood_test]`.
    pub fn sizes(&self) -> [usize; 5] {
        self.sets().map(|(_, s)| s.len())
    }
}

/// Settings of the covariate recipe.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct CovariateCfg {
    /// Fraction of nodes in the training pool (cut moved forward to a domain boundary).
    pub train_ratio: f64,
    /// Fraction in OOD validation.
    pub val_ratio: f64,
    /// Number of environments cut over the domain-sorted pool (at most; a pool with few
    /// distinct domains gets fewer).
    pub num_envs: usize,
    /// Sort domains descending.
    pub reverse: bool,
    /// `k = floor(id_frac · N)` nodes each for ID validation and ID test (0.1 upstream).
    pub id_frac: f64,
}

/// Ranks of distinct domain values (ascending), per node.
pub fn domain_ranks(domain: &[f64]) -> Vec<i32> {
    let mut vals: Vec<f64> = domain.to_vec();
    vals.sort_by(f64::total_cmp);
    vals.dedup();
    domain
        .iter()
        .map(|d| vals.partition_point(|v| v.total_cmp(d).is_lt()) as i32)
        .collect()
}

/// The covariate-shift recipe: sort nodes by domain (stable), cut pool / OOD val / OOD test
/// at the first domain boundary at or after `floor(N·r_tr)` and `floor(N·(r_tr+r_va))`,
/// cut `num_envs` environments over the sorted pool the same way, then shuffle the pool
/// and take `k = floor(id_frac·N)` ID-validation and ID-test nodes from its end.
pub fn good_covariate_split(domain: &[f64], cfg: &CovariateCfg, rng: &mut SplitMix64) -> OodSplit {
    good_covariate_split_with(domain, cfg, |pool| rng.shuffle(pool))
}

/// [`good_covariate_split`] with the pool's shuffle given: `permute` reorders the
/// domain-sorted pool in place (upstream: `random.shuffle`), so a split can be rebuilt
/// from a known permutation and checked from outside. The identity leaves the ID-test set
/// at the end of the domain-sorted pool.
pub fn good_covariate_split_with(
    domain: &[f64],
    cfg: &CovariateCfg,
    permute: impl FnOnce(&mut [u32]),
) -> OodSplit {
    let n = domain.len();
    let domain_id = domain_ranks(domain);
    let mut order: Vec<u32> = (0..n as u32).collect();
    order.sort_by_key(|&i| domain_id[i as usize]);
    if cfg.reverse {
        order.reverse();
    }
    let cuts = [
        0,
        (n as f64 * cfg.train_ratio).floor() as usize,
        (n as f64 * (cfg.train_ratio + cfg.val_ratio)).floor() as usize,
    ];
    let mut parts: [Vec<u32>; 3] = Default::default();
    let mut part: i32 = -1;
    let mut prev: Option<i32> = None;
    for (pos, &v) in order.iter().enumerate() {
        let d = domain_id[v as usize];
        if part < 2 && pos >= cuts[(part + 1) as usize] && Some(d) != prev {
            part += 1;
        }
        prev = Some(d);
        parts[part.max(0) as usize].push(v);
    }
    let [mut pool, ood_val, ood_test] = parts;
    let mut env_id = vec![-1i32; n];
    let per = pool.len() / cfg.num_envs.max(1);
    let mut env: i32 = -1;
    let mut prev: Option<i32> = None;
    for (pos, &v) in pool.iter().enumerate() {
        let d = domain_id[v as usize];
        if env < cfg.num_envs as i32 - 1 && pos >= ((env + 1) as usize) * per && Some(d) != prev {
            env += 1;
        }
        prev = Some(d);
        env_id[v as usize] = env.max(0);
    }
    // Environments only advance at domain boundaries, so a pool with few distinct domains
    // gets fewer than `num_envs`; upstream counts the distinct ids (`read_meta_info`).
    let num_envs = pool
        .iter()
        .map(|&v| env_id[v as usize])
        .max()
        .map_or(0, |m| m as usize + 1);
    let k = (cfg.id_frac * n as f64).floor() as usize;
    permute(&mut pool);
    let len = pool.len();
    let k = k.min(len / 2);
    let id_val = pool[len - 2 * k..len - k].to_vec();
    let id_test = pool[len - k..].to_vec();
    pool.truncate(len - 2 * k);
    OodSplit {
        train: pool,
        id_val,
        id_test,
        ood_val,
        ood_test,
        env_id,
        num_envs,
        domain_id,
    }
    .training_envs_only()
}

/// Settings of the concept recipe.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ConceptCfg {
    /// `bias_connect` per split (5 values).
    pub bias: [f64; 5],
    /// `k = floor(id_frac · |pool|)` ID-validation and ID-test nodes (0.15 upstream).
    pub id_frac: f64,
}

impl ConceptCfg {
    /// Cora / Arxiv biases `[0.95, 0.95, 0.9, 0.85, 0.5]`.
    pub const CORA: [f64; 5] = [0.95, 0.95, 0.9, 0.85, 0.5];
    /// Twitch biases.
    pub const TWITCH: [f64; 5] = [0.8, 0.7, 0.8, 0.7, 0.5];
    /// WebKB biases.
    pub const WEBKB: [f64; 5] = [0.85, 0.75, 0.85, 0.8, 0.5];
}

/// The concept-shift recipe as coded (see the spec §5): five passes over the domains; in
/// pass `s` a node whose label is on the domain's "favoured" side (`oc[s][d]·(y − ȳ) > 0`)
/// is taken with probability `bias[s]·ratio[s]`, the others with `(1 − bias[s])·ratio[s]`;
/// passes 0, 2, 3 form the training pool (environments 0, 1, 2), pass 1 (flipped signs)
/// OOD test, pass 4 (leftovers) OOD validation. `pyx` is the class index (quirk P10).
pub fn good_concept_split(
    domain: &[f64],
    y: &[u32],
    cfg: &ConceptCfg,
    rng: &mut SplitMix64,
) -> OodSplit {
    let n = domain.len();
    let domain_id = domain_ranks(domain);
    let num_domains = domain_id
        .iter()
        .copied()
        .max()
        .map_or(0, |m| m as usize + 1);
    let mut remaining: Vec<Vec<u32>> = vec![Vec::new(); num_domains];
    for i in 0..n {
        remaining[domain_id[i] as usize].push(i as u32);
    }
    let pyx: Vec<f64> = y.iter().map(|&c| f64::from(c)).collect();
    let gmean = pyx.iter().sum::<f64>() / n.max(1) as f64;
    let mut sign = vec![0.0f64; num_domains];
    let mut cum = 0usize;
    for d in 0..num_domains {
        sign[d] = if (cum as f64) < n as f64 / 2.0 {
            1.0
        } else {
            -1.0
        };
        cum += remaining[d].len();
    }
    let is_train = [true, false, true, true, false];
    let ratio = [0.4, 0.6, 0.5, 1.0, 1.0];
    let mut split_nodes: [Vec<u32>; 5] = Default::default();
    for s in 0..5 {
        for d in 0..num_domains {
            let oc = if is_train[s] { sign[d] } else { -sign[d] };
            let mut taken = vec![false; remaining[d].len()];
            let mut both = [false, false];
            let mut inc = [false, false];
            let mut cand: [Option<usize>; 2] = [None, None];
            for (k, &v) in remaining[d].iter().enumerate() {
                let p_pick = rng.next_f64();
                let p_data = rng.next_f64();
                if s == 4 {
                    taken[k] = true;
                } else if oc * (pyx[v as usize] - gmean) > 0.0 {
                    both[0] = true;
                    if p_data < cfg.bias[s] && p_pick < ratio[s] {
                        taken[k] = true;
                        inc[0] = true;
                    } else {
                        cand[0] = Some(k);
                    }
                } else {
                    both[1] = true;
                    if p_data > cfg.bias[s] && p_pick < ratio[s] {
                        taken[k] = true;
                        inc[1] = true;
                    } else {
                        cand[1] = Some(k);
                    }
                }
            }
            if both[0] && both[1] && (inc[0] || inc[1]) {
                let mut extra = None;
                if !inc[0] {
                    extra = cand[0];
                }
                if !inc[1] {
                    extra = cand[1];
                }
                if let Some(k) = extra {
                    taken[k] = true;
                }
            }
            let mut keep = Vec::new();
            for (k, &v) in remaining[d].iter().enumerate() {
                if taken[k] {
                    split_nodes[s].push(v);
                } else {
                    keep.push(v);
                }
            }
            remaining[d] = keep;
        }
    }
    let mut env_id = vec![-1i32; n];
    let mut pool = Vec::new();
    for (env, s) in [0usize, 2, 3].into_iter().enumerate() {
        for &v in &split_nodes[s] {
            env_id[v as usize] = env as i32;
            pool.push(v);
        }
    }
    let k = (cfg.id_frac * pool.len() as f64).floor() as usize;
    rng.shuffle(&mut pool);
    let len = pool.len();
    let id_val = pool[len - 2 * k..len - k].to_vec();
    let id_test = pool[len - k..].to_vec();
    pool.truncate(len - 2 * k);
    let [_, ood_test, _, _, ood_val] = split_nodes;
    OodSplit {
        train: pool,
        id_val,
        id_test,
        ood_val,
        ood_test,
        env_id,
        num_envs: 3,
        domain_id,
    }
    .training_envs_only()
}

/// `sign[d]` of the concept recipe per node (+1 for domains in the first half of the
/// nodes, −1 after), for checking the induced correlation.
pub fn concept_domain_sign(domain_id: &[i32]) -> Vec<f64> {
    let n = domain_id.len();
    let nd = domain_id
        .iter()
        .copied()
        .max()
        .map_or(0, |m| m as usize + 1);
    let mut size = vec![0usize; nd];
    for &d in domain_id {
        size[d as usize] += 1;
    }
    let mut sign = vec![0.0; nd];
    let mut cum = 0;
    for d in 0..nd {
        sign[d] = if (cum as f64) < n as f64 / 2.0 {
            1.0
        } else {
            -1.0
        };
        cum += size[d];
    }
    domain_id.iter().map(|&d| sign[d as usize]).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 1,000 nodes, 25 domain values (some repeated), 4 classes.
    fn toy(seed: u64) -> (Vec<f64>, Vec<u32>) {
        let mut rng = SplitMix64::new(seed);
        let domain: Vec<f64> = (0..1000).map(|_| rng.below(25) as f64).collect();
        let y: Vec<u32> = (0..1000).map(|_| rng.below(4) as u32).collect();
        (domain, y)
    }

    #[test]
    fn covariate_split_from_a_given_permutation_by_hand() {
        // 10 nodes with domains 9, 8, ..., 0 (node i has domain 9 − i), ratios 0.6 / 0.2,
        // 2 environments, k = floor(0.1·10) = 1. Sorted ascending: nodes 9, 8, ..., 0.
        // Pool = sorted[0..6] = nodes 9..4, OOD val = nodes 3, 2, OOD test = nodes 1, 0.
        // Environments over the sorted pool, per = 3: nodes 9, 8, 7 -> 0; 6, 5, 4 -> 1.
        let domain: Vec<f64> = (0..10).map(|i| (9 - i) as f64).collect();
        let cfg = CovariateCfg {
            train_ratio: 0.6,
            val_ratio: 0.2,
            num_envs: 2,
            reverse: false,
            id_frac: 0.1,
        };
        // Identity: ID val and ID test are the last two pool nodes.
        let s = good_covariate_split_with(&domain, &cfg, |_| {});
        assert_eq!(s.train, vec![9, 8, 7, 6]);
        assert_eq!((s.id_val.clone(), s.id_test.clone()), (vec![5], vec![4]));
        assert_eq!(
            (s.ood_val.clone(), s.ood_test.clone()),
            (vec![3, 2], vec![1, 0])
        );
        assert_eq!(s.num_envs, 2);
        assert_eq!(&s.env_id[6..10], &[1, 0, 0, 0]);
        // Non-training nodes carry no environment.
        assert!(s.env_id[..6].iter().all(|&e| e == -1));
        // Reversing the pool: ID test is the pool's first sorted node.
        let s = good_covariate_split_with(&domain, &cfg, |p| p.reverse());
        assert_eq!(s.train, vec![4, 5, 6, 7]);
        assert_eq!((s.id_val.clone(), s.id_test.clone()), (vec![8], vec![9]));
        // The seeded entry point is this one with the generator's shuffle.
        let a = good_covariate_split(&domain, &cfg, &mut SplitMix64::new(3));
        let mut rng = SplitMix64::new(3);
        let b = good_covariate_split_with(&domain, &cfg, |p| rng.shuffle(p));
        assert_eq!(a, b);
    }

    #[test]
    fn covariate_split_invariants() {
        let (domain, y) = toy(1);
        for reverse in [false, true] {
            let cfg = CovariateCfg {
                train_ratio: 0.6,
                val_ratio: 0.2,
                num_envs: 10,
                reverse,
                id_frac: 0.1,
            };
            let s = good_covariate_split(&domain, &cfg, &mut SplitMix64::new(0));
            s.validate(1000, &y, 4).unwrap();
            assert_eq!(s.id_val.len(), 100);
            assert_eq!(s.id_test.len(), 100);
            // No domain value in two of {pool, OOD val, OOD test}.
            let mut owner = [usize::MAX; 25];
            let pool: Vec<u32> = [&s.train, &s.id_val, &s.id_test]
                .into_iter()
                .flatten()
                .copied()
                .collect();
            for (p, set) in [&pool, &s.ood_val, &s.ood_test].into_iter().enumerate() {
                for &i in set {
                    let d = s.domain_id[i as usize] as usize;
                    assert!(
                        owner[d] == usize::MAX || owner[d] == p,
                        "domain {d} straddles"
                    );
                    owner[d] = p;
                }
            }
            // Environments are contiguous, non-overlapping bands of domain values.
            let mut lo = [i32::MAX; 10];
            let mut hi = [i32::MIN; 10];
            for &i in &s.train {
                let e = s.env_id[i as usize] as usize;
                lo[e] = lo[e].min(s.domain_id[i as usize]);
                hi[e] = hi[e].max(s.domain_id[i as usize]);
            }
            let used: Vec<usize> = (0..10).filter(|&e| lo[e] != i32::MAX).collect();
            for w in used.windows(2) {
                let (a, b) = (w[0], w[1]);
                assert!(hi[a] < lo[b] || hi[b] < lo[a], "envs {a} {b} overlap");
            }
            // Pool holds the lowest (or, reversed, highest) domains.
            let max_pool = pool.iter().map(|&i| s.domain_id[i as usize]).max().unwrap();
            let min_test = s
                .ood_test
                .iter()
                .map(|&i| s.domain_id[i as usize])
                .min()
                .unwrap();
            if !reverse {
                assert!(max_pool < min_test);
            }
        }
    }

    #[test]
    fn concept_split_invariants_and_correlation_flip() {
        let (domain, y) = toy(2);
        let cfg = ConceptCfg {
            bias: ConceptCfg::CORA,
            id_frac: 0.15,
        };
        let s = good_concept_split(&domain, &y, &cfg, &mut SplitMix64::new(0));
        s.validate(1000, &y, 4).unwrap();
        assert_eq!(s.num_envs, 3);
        let sign = concept_domain_sign(&s.domain_id);
        let gmean = y.iter().map(|&c| f64::from(c)).sum::<f64>() / 1000.0;
        let corr = |set: &[u32]| -> f64 {
            let a: Vec<f64> = set.iter().map(|&i| sign[i as usize]).collect();
            let b: Vec<f64> = set
                .iter()
                .map(|&i| (f64::from(y[i as usize]) - gmean).signum())
                .collect();
            repro_core::metrics::pearson(&a, &b)
        };
        let pool: Vec<u32> = [&s.train, &s.id_val, &s.id_test]
            .into_iter()
            .flatten()
            .copied()
            .collect();
        assert!(corr(&pool) > 0.0, "{}", corr(&pool));
        assert!(corr(&s.ood_test) < 0.0, "{}", corr(&s.ood_test));
    }

    #[test]
    fn validation_names_the_problem() {
        let s = OodSplit {
            train: vec![0, 1],
            id_val: vec![2],
            id_test: vec![],
            ood_val: vec![],
            ood_test: vec![3],
            env_id: vec![0, 0, -1, -1],
            num_envs: 2,
            domain_id: vec![0; 4],
        };
        let e = s.validate(4, &[0, 1, 0, 1], 2).unwrap_err();
        assert_eq!(
            e,
            GraphError::EmptyEnvironment {
                env: 1,
                num_envs: 2
            }
        );
        let s2 = OodSplit {
            num_envs: 1,
            ..s.clone()
        };
        let e = s2.validate(4, &[0, 0, 1, 1], 2).unwrap_err();
        assert_eq!(
            e,
            GraphError::ClassAbsentFromTraining {
                class: 1,
                num_classes: 2
            }
        );
        assert!(e.to_string().contains("class 1 of 2 has no training node"));
        let e = s2.validate(5, &[0, 1, 0, 1, 0], 2).unwrap_err();
        assert!(e.to_string().contains("node 4 is in no set"), "{e}");
        // An environment on an ID-validation node is refused, and the constructors' last
        // step clears it.
        let leaky = OodSplit {
            env_id: vec![0, 0, 0, -1],
            ..s2.clone()
        };
        let e = leaky.validate(4, &[0, 1, 0, 1], 2).unwrap_err();
        assert!(e.to_string().contains("node 2 has environment 0"), "{e}");
        assert_eq!(leaky.training_envs_only().env_id, vec![0, 0, -1, -1]);
    }

    #[test]
    fn only_training_nodes_carry_an_environment() {
        let (domain, y) = toy(2);
        let cov = CovariateCfg {
            train_ratio: 0.6,
            val_ratio: 0.2,
            num_envs: 10,
            reverse: false,
            id_frac: 0.1,
        };
        let concept = ConceptCfg {
            bias: ConceptCfg::CORA,
            id_frac: 0.15,
        };
        for s in [
            good_covariate_split(&domain, &cov, &mut SplitMix64::new(0)),
            good_concept_split(&domain, &y, &concept, &mut SplitMix64::new(0)),
        ] {
            assert!(!s.id_val.is_empty() && !s.id_test.is_empty());
            let non_train = [&s.id_val, &s.id_test, &s.ood_val, &s.ood_test];
            for &i in non_train.into_iter().flatten() {
                assert_eq!(s.env_id[i as usize], -1, "node {i}");
            }
            assert!(s.train.iter().all(|&i| s.env_id[i as usize] >= 0));
        }
    }
}

//! GOOD-CBAS, regenerated: BA-Shapes (PyG's deprecated `BAShapes`, with
//! `barabasi_albert_graph`) with colour features and GOOD's CBAS split recipes.

use crate::graph::{NodeGraph, symmetrise};
use crate::splits::{OodSplit, Shift};
use repro_core::rng::{SplitMix64, permutation};

/// Nodes of the Barabási–Albert base graph.
pub const BA_NODES: usize = 300;
/// Edges attached per new BA node.
pub const BA_M: usize = 5;
/// Number of houses.
pub const HOUSES: usize = 80;
/// Total nodes (300 + 5 · 80).
pub const NODES: usize = BA_NODES + 5 * HOUSES;

/// PyG `barabasi_albert_graph(num_nodes, m)`: start with `row = 0..m`, `col = randperm(m)`;
/// each new node `i` appends itself `m` times to `row`, then draws `m` targets with
/// replacement from the multiset `row ∪ col`. Returns undirected pairs (self loops and
/// duplicates are removed by [`symmetrise`]).
pub fn barabasi_albert(num_nodes: usize, m: usize, rng: &mut SplitMix64) -> Vec<(u32, u32)> {
    let mut row: Vec<u32> = (0..m as u32).collect();
    let mut col: Vec<u32> = permutation(rng, m);
    for i in m..num_nodes {
        row.extend(std::iter::repeat_n(i as u32, m));
        let total = row.len() + col.len();
        let picks: Vec<u32> = (0..m)
            .map(|_| {
                let k = rng.below(total);
                if k < row.len() {
                    row[k]
                } else {
                    col[k - row.len()]
                }
            })
            .collect();
        col.extend(picks);
    }
    row.into_iter().zip(col).collect()
}

/// BA-Shapes: BA(300, 5) plus 80 five-node houses attached by their node 0 to random
/// distinct anchors. Labels: 0 base, house nodes `[1, 1, 2, 2, 3]`. Returns the symmetric
/// edge list and the labels.
pub fn ba_shapes(rng: &mut SplitMix64) -> (Vec<(u64, u64)>, Vec<u32>) {
    let mut pairs = barabasi_albert(BA_NODES, BA_M, rng);
    let anchors = permutation(rng, BA_NODES);
    let mut y = vec![0u32; NODES];
    for (h, &anchor) in anchors.iter().take(HOUSES).enumerate() {
        let b = (BA_NODES + 5 * h) as u32;
        for (u, v) in [(0, 1), (0, 3), (0, 4), (1, 4), (1, 2), (2, 3)] {
            pairs.push((b + u, b + v));
        }
        for (k, l) in [1, 1, 2, 2, 3].into_iter().enumerate() {
            y[b as usize + k] = l;
        }
        pairs.push((b, anchor));
    }
    (symmetrise(&pairs), y)
}

/// Colour features of the covariate split, per group (env 0–4, OOD val, OOD test).
const COV_COLOURS: [[f32; 4]; 7] = [
    [1., 0., 0., 0.5],
    [0., 1., 0., 0.7],
    [0., 0., 1., 0.3],
    [1., 1., 0., 0.4],
    [0., 1., 1., 0.6],
    [1., 0., 1., 1.0],
    [0., 0., 0., 0.1],
];
/// Colour features of the concept split, per colour value.
const CON_COLOURS: [[f32; 4]; 4] = [
    [1., 0., 0., 0.5],
    [0., 1., 0., 0.7],
    [0., 0., 1., 0.3],
    [1., 1., 0., 0.2],
];
/// Probability that a node's colour equals its label, per group (concept split).
const CON_R: [f64; 7] = [0.95, 0.9, 0.85, 0.8, 0.75, 0.3, 0.0];

/// GOOD-CBAS regenerated from `seed` (the graph, the node shuffle and the split all come
/// from it). Covariate: pool = first 560 shuffled nodes in 5 environments of 112, OOD val
/// 70, OOD test 70, colours by group; 70 + 70 ID nodes leave the pool (420 train).
/// Concept: pool 420 in 5 environments of 84, OOD val 140, OOD test 140, colour = label
/// with probability `r[group]` else uniform in 0..=3; 140 + 140 ID nodes (140 train).
pub fn good_cbas(shift: Shift, seed: u64) -> (NodeGraph, OodSplit) {
    let mut rng = SplitMix64::new(seed);
    let (edges, y) = ba_shapes(&mut rng);
    let order = permutation(&mut rng, NODES);
    let (env, ood, id_each) = match shift {
        Shift::Covariate => (112, 70, 70),
        Shift::Concept => (84, 140, 140),
    };
    let sizes = [env, env, env, env, env, ood, ood];
    let mut group = vec![0usize; NODES];
    let mut pos = 0;
    for (gi, &s) in sizes.iter().enumerate() {
        for &v in &order[pos..pos + s] {
            group[v as usize] = gi;
        }
        pos += s;
    }
    let mut x = vec![0.0f32; NODES * 4];
    for i in 0..NODES {
        let row = match shift {
            Shift::Covariate => COV_COLOURS[group[i]],
            Shift::Concept => {
                let rand = rng.below(4);
                let colour = if rng.next_f64() < CON_R[group[i]] {
                    y[i] as usize
                } else {
                    rand
                };
                CON_COLOURS[colour]
            }
        };
        x[i * 4..i * 4 + 4].copy_from_slice(&row);
    }
    let pool_len: usize = sizes[..5].iter().sum();
    let mut pool: Vec<u32> = order[..pool_len].to_vec();
    let ood_val = order[pool_len..pool_len + sizes[5]].to_vec();
    let ood_test = order[pool_len + sizes[5]..].to_vec();
    let mut env_id = vec![-1i32; NODES];
    for &v in &pool {
        env_id[v as usize] = group[v as usize] as i32;
    }
    rng.shuffle(&mut pool);
    let len = pool.len();
    let id_val = pool[len - 2 * id_each..len - id_each].to_vec();
    let id_test = pool[len - id_each..].to_vec();
    pool.truncate(len - 2 * id_each);
    let domain_id = group.iter().map(|&g| g as i32).collect();
    let g = NodeGraph::new(NODES, &edges, x, 4, y, 4).expect("BA-Shapes edges are in range");
    let split = OodSplit {
        train: pool,
        id_val,
        id_test,
        ood_val,
        ood_test,
        env_id,
        num_envs: 5,
        domain_id,
    }
    .training_envs_only();
    (g, split)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ba_shapes_structure() {
        for seed in 0..10 {
            let (g, _) = good_cbas(Shift::Covariate, seed);
            assert_eq!(g.n, 700);
            let mut counts = [0; 4];
            for &c in &g.y {
                counts[c as usize] += 1;
            }
            assert_eq!(counts, [300, 160, 160, 80]);
            let adj = g.out_neighbours();
            // Symmetric, no self loops.
            for (i, a) in adj.iter().enumerate() {
                for &j in a {
                    assert_ne!(i, j as usize);
                    assert!(adj[j as usize].contains(&(i as u32)));
                }
            }
            assert!(g.src.iter().zip(&g.dst).all(|(s, d)| s != d));
            // Connected (BFS from node 0 reaches all 700).
            let reach = crate::graph::bfs_hops(&adj, &[0], 700);
            assert_eq!(reach[0].len(), 699);
            // House degrees [4, 3, 2, 2, 2].
            for h in 0..HOUSES {
                let d: Vec<usize> = (0..5).map(|k| adj[BA_NODES + 5 * h + k].len()).collect();
                assert_eq!(d, vec![4, 3, 2, 2, 2]);
            }
            // BA part: 1,350–1,480 undirected edges (spec §7).
            let ba = g
                .src
                .iter()
                .zip(&g.dst)
                .filter(|&(&s, &d)| (s as usize) < BA_NODES && (d as usize) < BA_NODES && s < d)
                .count();
            assert!((1350..=1480).contains(&ba), "{ba}");
        }
    }

    #[test]
    fn cbas_split_sizes() {
        let (g, s) = good_cbas(Shift::Covariate, 0);
        s.validate(g.n, &g.y, 4).unwrap();
        assert_eq!(s.sizes(), [420, 70, 70, 70, 70]);
        assert_eq!(s.num_envs, 5);
        let (g, s) = good_cbas(Shift::Concept, 0);
        s.validate(g.n, &g.y, 4).unwrap();
        assert_eq!(s.sizes(), [140, 140, 140, 140, 140]);
        // Both shifts share the graph of a seed.
        let (g2, _) = good_cbas(Shift::Covariate, 0);
        assert_eq!((g.src.clone(), g.dst.clone()), (g2.src, g2.dst));
    }
}

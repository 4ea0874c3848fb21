//! GOOD-WebKB: Wisconsin, Cornell and Texas concatenated, domain = university.

use anyhow::Context;
use repro_core::data::DataRoots;
use repro_core::data::parsers::webkb::{WebKb, WebKbName, load_webkb};

use crate::graph::NodeGraph;
use crate::splits::{ConceptCfg, OodSplit, Shift, domain_ranks, good_concept_split};
use repro_core::rng::SplitMix64;

/// Concatenation order (as GOOD): wisconsin (ids 0..250), cornell (251..433), texas (434..616).
pub const ORDER: [WebKbName; 3] = [WebKbName::Wisconsin, WebKbName::Cornell, WebKbName::Texas];

/// Builds GOOD-WebKB from the three parsed graphs (in [`ORDER`]). Edges keep their file
/// direction and self loops, offset per university. Domain = university name sorted
/// (cornell 0, texas 1, wisconsin 2).
///
/// Covariate: pool = cornell + texas, environments = university, `k = floor(0.1·N)` ID
/// nodes each; OOD val = first half of wisconsin (125), OOD test = the rest (126).
/// Concept: the GOOD concept recipe with WebKB's biases.
///
/// # Errors
/// Feature widths that differ between universities, or labels above 4.
pub fn good_webkb_from(
    parts: &[WebKb],
    shift: Shift,
    seed: u64,
) -> anyhow::Result<(NodeGraph, OodSplit)> {
    let f = parts.first().map_or(0, |p| p.n_features);
    let mut x = Vec::new();
    let mut y = Vec::new();
    let mut edges = Vec::new();
    let mut domain = Vec::new();
    let mut offset = 0u64;
    for p in parts {
        anyhow::ensure!(
            p.n_features == f,
            "webkb {}: {} features, expected {f}",
            p.name,
            p.n_features
        );
        x.extend(p.dense_features());
        y.extend(p.labels.iter().map(|&l| u32::from(l)));
        edges.extend(
            p.edges
                .iter()
                .map(|&(u, v)| (offset + u64::from(u), offset + u64::from(v))),
        );
        domain.extend(std::iter::repeat_n(p.name.as_str(), p.num_nodes()));
        offset += p.num_nodes() as u64;
    }
    let n = y.len();
    let mut names: Vec<&str> = domain.clone();
    names.sort_unstable();
    names.dedup();
    let dval: Vec<f64> = domain
        .iter()
        .map(|d| names.iter().position(|m| m == d).unwrap_or(0) as f64)
        .collect();
    let g = NodeGraph::new(n, &edges, x, f, y.clone(), 5).context("GOOD-WebKB graph")?;
    let mut rng = SplitMix64::new(seed);
    let split = match shift {
        Shift::Concept => good_concept_split(
            &dval,
            &y,
            &ConceptCfg {
                bias: ConceptCfg::WEBKB,
                id_frac: 0.15,
            },
            &mut rng,
        ),
        Shift::Covariate => {
            let domain_id = domain_ranks(&dval);
            let last = domain_id.iter().copied().max().unwrap_or(0);
            let mut env_id = vec![-1i32; n];
            let mut pool = Vec::new();
            let mut ood: Vec<u32> = Vec::new();
            for i in 0..n {
                if domain_id[i] == last {
                    ood.push(i as u32);
                } else {
                    env_id[i] = domain_id[i];
                    pool.push(i as u32);
                }
            }
            let half = ood.len() / 2;
            let k = n / 10;
            rng.shuffle(&mut pool);
            let len = pool.len();
            let id_val = pool[len - 2 * k..len - k].to_vec();
            let id_test = pool[len - k..].to_vec();
            pool.truncate(len - 2 * k);
            OodSplit {
                train: pool,
                id_val,
                id_test,
                ood_val: ood[..half].to_vec(),
                ood_test: ood[half..].to_vec(),
                env_id,
                num_envs: last as usize,
                domain_id,
            }
            .training_envs_only()
        }
    };
    Ok((g, split))
}

/// Loads the three universities through the data layer and builds GOOD-WebKB.
///
/// # Errors
/// Missing files or checksum mismatches (the data layer's error names the file).
pub fn good_webkb(
    roots: &DataRoots,
    shift: Shift,
    seed: u64,
) -> anyhow::Result<(NodeGraph, OodSplit)> {
    let parts = ORDER
        .iter()
        .map(|&u| load_webkb(roots, u).with_context(|| format!("loading WebKB {u}")))
        .collect::<anyhow::Result<Vec<_>>>()?;
    good_webkb_from(&parts, shift, seed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn webkb_sizes_match_the_coded_recipe() {
        let Some(roots) = repro_core::testing::mirror_roots() else {
            return;
        };
        // Spec §5: covariate 244/61/61/125/126 with 2 environments (cornell, texas).
        let (g, s) = good_webkb(&roots, Shift::Covariate, 0).unwrap();
        assert_eq!(g.n, 617);
        s.validate(g.n, &g.y, 5).unwrap();
        assert_eq!(s.sizes(), [244, 61, 61, 125, 126]);
        assert_eq!(s.num_envs, 2);
        let (g, s) = good_webkb(&roots, Shift::Concept, 0).unwrap();
        s.validate(g.n, &g.y, 5).unwrap();
        // Spec: train 285–308, val 74–103, test 88–130 over 20 upstream seeds (±5 %).
        let [tr, _, _, va, te] = s.sizes();
        assert!(
            (270..=325).contains(&tr) && (70..=108).contains(&va) && (83..=137).contains(&te),
            "{:?}",
            s.sizes()
        );
    }
}

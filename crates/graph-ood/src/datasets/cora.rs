//! GOOD-style Cora-Planetoid: the 2,708-node LINQS Cora (not GOOD's CitationFull Cora, a
//! declared deviation) with GOOD's word and degree domains.

use anyhow::Context;
use repro_core::data::DataRoots;
use repro_core::data::parsers::citation::{CitationGraph, load_cora};
use serde::{Deserialize, Serialize};

use crate::graph::{NodeGraph, symmetrise};
use crate::splits::{
    ConceptCfg, CovariateCfg, OodSplit, Shift, good_concept_split, good_covariate_split,
};
use repro_core::rng::SplitMix64;

/// Domain of the GOOD-style Cora split.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum CoraDomain {
    /// Number of words of the paper (row sum of the binary features).
    Word,
    /// Node degree in the symmetrised graph.
    Degree,
}

/// Builds the graph (symmetrised, self loops dropped, dense features) and the split.
/// Covariate: descending domain, 60 % pool / 20 % OOD val, 10 environments, 10 % + 10 %
/// ID nodes. Concept: Cora biases, 15 % + 15 % ID nodes.
///
/// # Errors
/// A label above the class count.
pub fn cora_good_style_from(
    c: &CitationGraph,
    d: CoraDomain,
    shift: Shift,
    seed: u64,
) -> anyhow::Result<(NodeGraph, OodSplit)> {
    let n = c.num_nodes();
    let f = c.num_features();
    let mut x = vec![0.0f32; n * f];
    let mut words = vec![0.0f64; n];
    for i in 0..n {
        let (cols, vals) = c.features.row(i);
        for (&k, &v) in cols.iter().zip(vals) {
            x[i * f + k as usize] = v;
            words[i] += f64::from(v);
        }
    }
    let edges = symmetrise(&c.undirected_edges(true));
    let y: Vec<u32> = c.labels.iter().map(|&l| u32::from(l)).collect();
    let g = NodeGraph::new(n, &edges, x, f, y.clone(), c.num_classes())
        .context("Cora-Planetoid graph")?;
    let domain: Vec<f64> = match d {
        CoraDomain::Word => words,
        CoraDomain::Degree => {
            let mut deg = vec![0.0; n];
            for &s in &g.src {
                deg[s as usize] += 1.0;
            }
            deg
        }
    };
    let mut rng = SplitMix64::new(seed);
    let split = match shift {
        Shift::Covariate => good_covariate_split(
            &domain,
            &CovariateCfg {
                train_ratio: 0.6,
                val_ratio: 0.2,
                num_envs: 10,
                reverse: true,
                id_frac: 0.1,
            },
            &mut rng,
        ),
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
    Ok((g, split))
}

/// Loads `cora/cora.npz` through the data layer and builds the split.
///
/// # Errors
/// A missing file or a checksum mismatch (named by the data layer).
pub fn cora_good_style(
    roots: &DataRoots,
    d: CoraDomain,
    shift: Shift,
    seed: u64,
) -> anyhow::Result<(NodeGraph, OodSplit)> {
    let c = load_cora(roots).context("loading Cora-Planetoid")?;
    cora_good_style_from(&c, d, shift, seed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn covariate_sizes_match_the_coded_recipe() {
        let Some(roots) = repro_core::testing::mirror_roots() else {
            return;
        };
        let c = load_cora(&roots).unwrap();
        assert_eq!(c.undirected_edges(true).len(), 5278);
        // Spec §5 (recipe applied to the mirror file): word 1171/270/270/469/528,
        // degree 1100/270/270/583/485; 10 environments.
        let (g, s) = cora_good_style_from(&c, CoraDomain::Word, Shift::Covariate, 0).unwrap();
        s.validate(g.n, &g.y, 7).unwrap();
        assert_eq!(s.sizes(), [1171, 270, 270, 469, 528]);
        // The coded recipe advances environments only at domain boundaries, and the pool's
        // word values 30..19 hold 296, 237, 261, 320, 319, 278 nodes around the 171-node
        // cuts, so it yields 6 environments, not the spec's "10" (a discrepancy we report).
        eprintln!("cora word covariate: {} environments", s.num_envs);
        assert_eq!(s.num_envs, 6);
        let (g, s) = cora_good_style_from(&c, CoraDomain::Degree, Shift::Covariate, 0).unwrap();
        s.validate(g.n, &g.y, 7).unwrap();
        assert_eq!(s.sizes(), [1100, 270, 270, 583, 485]);
        eprintln!("cora degree covariate: {} environments", s.num_envs);
        assert!(s.num_envs <= 10);
        let (g, s) = cora_good_style_from(&c, CoraDomain::Word, Shift::Concept, 0).unwrap();
        s.validate(g.n, &g.y, 7).unwrap();
        assert_eq!(s.num_envs, 3);
        // Spec: train 929–963, val 489–551, test 797–864 over 20 upstream seeds; our RNG
        // differs, so allow 5 % around those ranges.
        let [tr, _, _, va, te] = s.sizes();
        assert!(
            (880..=1010).contains(&tr) && (460..=580).contains(&va) && (750..=910).contains(&te),
            "{:?}",
            s.sizes()
        );
    }

    #[test]
    fn corrupt_file_fails_its_checksum_with_a_clear_error() {
        let dir = repro_core::testing::TempDir::new("cora-corrupt");
        std::fs::create_dir_all(dir.path().join("cora")).unwrap();
        std::fs::write(dir.path().join("cora/cora.npz"), b"not an npz").unwrap();
        let roots = DataRoots::new(dir.path().join("cache"), Some(dir.path().to_path_buf()));
        let err = cora_good_style(&roots, CoraDomain::Word, Shift::Covariate, 0).unwrap_err();
        let msg = format!("{err:#}");
        assert!(msg.contains("corrupt") && msg.contains("cora.npz"), "{msg}");
    }
}

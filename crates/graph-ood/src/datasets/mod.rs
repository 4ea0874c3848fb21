//! Dataset builders: each returns a validated [`NodeGraph`] and an
//! [`OodSplit`].

pub mod arxiv;
pub mod cbas;
pub mod cora;
pub mod csbm;
pub mod twitch;
pub mod webkb;

pub use arxiv::{ArxivDomain, ArxivSynthCfg, synthetic_arxiv};
pub use cbas::good_cbas;
pub use cora::{CoraDomain, cora_good_style};
pub use csbm::{CsbmCfg, CsbmMeta, CsbmVariant, csbm_ood};
pub use twitch::{FeatureReduction, good_twitch};
pub use webkb::good_webkb;

use crate::config::Dataset;
use crate::graph::NodeGraph;
use crate::splits::{OodSplit, Shift};

/// Loads a mirror-backed dataset (WebKB, Cora-Planetoid, Twitch) with its GOOD-style split
/// (split seed `split_seed`), reading files through `DataRoots::from_env()`.
///
/// # Errors
/// Missing or corrupt files (the data layer's error, naming the file).
pub fn load_real(
    d: Dataset,
    shift: Shift,
    split_seed: u64,
) -> anyhow::Result<(NodeGraph, OodSplit)> {
    let roots = repro_core::data::DataRoots::from_env();
    match d {
        Dataset::WebKb => good_webkb(&roots, shift, split_seed),
        Dataset::CoraWord => cora_good_style(&roots, CoraDomain::Word, shift, split_seed),
        Dataset::CoraDegree => cora_good_style(&roots, CoraDomain::Degree, shift, split_seed),
        Dataset::Twitch => good_twitch(&roots, shift, FeatureReduction::Svd128, split_seed),
        Dataset::Cbas | Dataset::Csbm | Dataset::ArxivTime | Dataset::ArxivDegree => {
            anyhow::bail!(
                "{}: generated, not loaded (use good_cbas / csbm_ood / synthetic_arxiv)",
                d.name()
            )
        }
    }
}

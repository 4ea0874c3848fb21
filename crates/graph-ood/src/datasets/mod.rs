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

use serde::{Deserialize, Serialize};

use repro_core::data::DataRoots;

use crate::graph::NodeGraph;
use crate::splits::{OodSplit, Shift};

/// A dataset of the reproduction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Dataset {
    /// GOOD-CBAS, regenerated.
    Cbas,
    /// CSBM-OOD (theory setting, mechanism claims).
    Csbm,
    /// GOOD-WebKB (domain: university).
    WebKb,
    /// GOOD-style Cora-Planetoid, domain = word count.
    CoraWord,
    /// GOOD-style Cora-Planetoid, domain = degree.
    CoraDegree,
    /// GOOD-Twitch (domain: language).
    Twitch,
    /// Synthetic stand-in for GOOD-Arxiv, domain = time.
    ArxivTime,
    /// Synthetic stand-in for GOOD-Arxiv, domain = degree.
    ArxivDegree,
}

impl Dataset {
    /// Display name.
    pub fn name(self) -> &'static str {
        match self {
            Dataset::Cbas => "GOOD-CBAS",
            Dataset::Csbm => "CSBM-OOD",
            Dataset::WebKb => "GOOD-WebKB",
            Dataset::CoraWord => "Cora-Planetoid (word)",
            Dataset::CoraDegree => "Cora-Planetoid (degree)",
            Dataset::Twitch => "GOOD-Twitch",
            Dataset::ArxivTime => "Arxiv-synth (time)",
            Dataset::ArxivDegree => "Arxiv-synth (degree)",
        }
    }

    /// The data registry's name of a mirror-backed dataset's files (`None` when synthetic).
    pub fn registry_name(self) -> Option<&'static str> {
        match self {
            Dataset::WebKb => Some("webkb"),
            Dataset::CoraWord | Dataset::CoraDegree => Some("cora"),
            Dataset::Twitch => Some("twitch"),
            Dataset::Cbas | Dataset::Csbm | Dataset::ArxivTime | Dataset::ArxivDegree => None,
        }
    }

    /// The experiment (`--only` name) the dataset belongs to.
    pub fn experiment(self) -> &'static str {
        match self {
            Dataset::Cbas => "cbas",
            Dataset::Csbm => "csbm",
            Dataset::WebKb => "webkb",
            Dataset::CoraWord | Dataset::CoraDegree => "cora",
            Dataset::Twitch => "twitch",
            Dataset::ArxivTime | Dataset::ArxivDegree => "arxiv",
        }
    }
}

/// Loads a mirror-backed dataset (WebKB, Cora-Planetoid, Twitch) with its GOOD-style split
/// (split seed `split_seed`), reading files through `roots` (`Options::data`).
///
/// # Errors
/// Missing or corrupt files (the data layer's error, naming the file).
pub fn load_real(
    d: Dataset,
    shift: Shift,
    split_seed: u64,
    roots: &DataRoots,
) -> anyhow::Result<(NodeGraph, OodSplit)> {
    match d {
        Dataset::WebKb => good_webkb(roots, shift, split_seed),
        Dataset::CoraWord => cora_good_style(roots, CoraDomain::Word, shift, split_seed),
        Dataset::CoraDegree => cora_good_style(roots, CoraDomain::Degree, shift, split_seed),
        Dataset::Twitch => good_twitch(roots, shift, FeatureReduction::Svd128, split_seed),
        Dataset::Cbas | Dataset::Csbm | Dataset::ArxivTime | Dataset::ArxivDegree => {
            anyhow::bail!(
                "{}: generated, not loaded (use good_cbas / csbm_ood / synthetic_arxiv)",
                d.name()
            )
        }
    }
}

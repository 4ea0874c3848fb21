//! The data layer: the dataset registry, file resolution with SHA-256 checks, and typed
//! parsers for every registered dataset.
//!
//! ```no_run
//! use repro_core::data::{DataRoots, parsers::citation};
//! let roots = DataRoots::from_env();
//! let cora = citation::load_cora(&roots)?;
//! assert_eq!(cora.num_nodes(), 2708);
//! # Ok::<(), repro_core::DataError>(())
//! ```

pub mod digits;
pub mod npy;
pub mod parsers;
pub mod registry;
pub mod split;
mod store;

pub use registry::{DatasetEntry, FileEntry, Registry, registry};
pub use store::{DataRoots, ENV_CACHE, ENV_MIRROR, FileStatus, sha256_hex};

//! Error types of repro-core. Every message names the dataset, file, line or field at fault.

use std::path::PathBuf;

/// Errors of the data layer: registry lookups, file resolution, checksums and parsing.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    /// The dataset name is not in `datasets/registry.toml`.
    #[error("unknown dataset `{name}`; registered datasets: {known}")]
    UnknownDataset {
        /// The name asked for.
        name: String,
        /// Comma-separated registered names.
        known: String,
    },
    /// The file is not registered under the dataset.
    #[error("dataset `{dataset}` has no registered file `{file}`")]
    UnknownFile {
        /// Dataset name.
        dataset: String,
        /// File path relative to a data root.
        file: String,
    },
    /// The file is in neither the cache nor the mirror.
    #[error(
        "dataset `{dataset}`: file `{file}` not found (looked in: {searched}). \
         Run `cargo xtask data fetch {dataset}` to download it into the cache, \
         or point REPRO_DATA_MIRROR at a folder holding it"
    )]
    Missing {
        /// Dataset name.
        dataset: String,
        /// File path relative to a data root.
        file: String,
        /// The folders searched, for the message.
        searched: String,
    },
    /// The file exists but its size or SHA-256 differs from the registry.
    #[error(
        "dataset `{dataset}`: file {path} is corrupt: expected {expected}, found {found}. \
         Delete it and run `cargo xtask data fetch {dataset}`"
    )]
    Checksum {
        /// Dataset name.
        dataset: String,
        /// Where the bad file lies.
        path: PathBuf,
        /// Expected size and SHA-256.
        expected: String,
        /// Measured size and SHA-256.
        found: String,
    },
    /// An I/O error on a named file.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// Malformed content. `line` is 1-based where the format has lines.
    #[error("{path}{}: {msg}", line.map(|l| format!(", line {l}")).unwrap_or_default())]
    Parse {
        /// The file (or archive member, as `archive.npz:member.npy`).
        path: PathBuf,
        /// 1-based line, when the format has lines.
        line: Option<usize>,
        /// What is wrong.
        msg: String,
    },
    /// The registry itself is malformed.
    #[error("datasets/registry.toml: {0}")]
    Registry(String),
    /// A download failed (only `cargo xtask data fetch` downloads).
    #[error("download of {url} failed: {msg}")]
    Download {
        /// The URL.
        url: String,
        /// What went wrong.
        msg: String,
    },
}

impl DataError {
    /// A parse error without a line number.
    pub fn parse(path: impl Into<PathBuf>, msg: impl Into<String>) -> Self {
        Self::Parse {
            path: path.into(),
            line: None,
            msg: msg.into(),
        }
    }

    /// A parse error at a 1-based line.
    pub fn parse_at(path: impl Into<PathBuf>, line: usize, msg: impl Into<String>) -> Self {
        Self::Parse {
            path: path.into(),
            line: Some(line),
            msg: msg.into(),
        }
    }

    /// An I/O error on `path`.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io {
            path: path.into(),
            source,
        }
    }
}

//! The dataset registry, `datasets/registry.toml`, compiled into the crate.

use std::sync::OnceLock;

use serde::Deserialize;

use crate::error::DataError;

const REGISTRY_TOML: &str = include_str!("../../../../datasets/registry.toml");

/// Files committed to the repository and compiled into the crate, by registry path.
const EMBEDDED: &[(&str, &[u8])] = &[(
    "digits/digits.csv.gz",
    include_bytes!("../../../../datasets/digits/digits.csv.gz"),
)];

/// Every registered dataset.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Registry {
    /// Datasets in registry order.
    #[serde(rename = "dataset")]
    pub datasets: Vec<DatasetEntry>,
}

/// One dataset: provenance and its files.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatasetEntry {
    /// Short name, also the first component of its file paths.
    pub name: String,
    /// One line on what it is.
    pub description: String,
    /// Licence of the files (and of the underlying data where it differs).
    pub licence: String,
    /// What to cite.
    pub cite: String,
    /// Upstream repository and commit (or package) the bytes come from.
    pub source: String,
    /// Whether the files are committed under `datasets/` and compiled in.
    #[serde(default)]
    pub committed: bool,
    /// The files.
    #[serde(rename = "file")]
    pub files: Vec<FileEntry>,
}

/// One registered file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileEntry {
    /// Path relative to a data root, e.g. `cora/cora.npz`.
    pub path: String,
    /// Size in bytes.
    pub bytes: u64,
    /// Lower-case hex SHA-256.
    pub sha256: String,
    /// Upstream download URL.
    pub url: String,
}

/// The registry compiled into this build.
pub fn registry() -> &'static Registry {
    static REGISTRY: OnceLock<Registry> = OnceLock::new();
    REGISTRY.get_or_init(|| {
        // The file is compiled in and checked by a unit test, so failure here is a build defect.
        Registry::parse(REGISTRY_TOML).expect("datasets/registry.toml is malformed")
    })
}

impl Registry {
    /// Parses a registry in the format of `datasets/registry.toml`.
    ///
    /// # Errors
    /// [`DataError::Registry`] with the TOML error (its line and column).
    pub fn parse(text: &str) -> Result<Self, DataError> {
        toml::from_str(text).map_err(|e| DataError::Registry(e.to_string()))
    }

    /// The dataset called `name`.
    pub fn dataset(&self, name: &str) -> Result<&DatasetEntry, DataError> {
        self.datasets
            .iter()
            .find(|d| d.name == name)
            .ok_or_else(|| DataError::UnknownDataset {
                name: name.to_owned(),
                known: self
                    .datasets
                    .iter()
                    .map(|d| d.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
            })
    }
}

impl DatasetEntry {
    /// The registered file at `path` (relative to a data root).
    pub fn file(&self, path: &str) -> Result<&FileEntry, DataError> {
        self.files
            .iter()
            .find(|f| f.path == path)
            .ok_or_else(|| DataError::UnknownFile {
                dataset: self.name.clone(),
                file: path.to_owned(),
            })
    }

    /// Total size of the dataset's files in bytes.
    pub fn total_bytes(&self) -> u64 {
        self.files.iter().map(|f| f.bytes).sum()
    }
}

/// The compiled-in bytes of a committed file, if `path` is one.
pub(crate) fn embedded(path: &str) -> Option<&'static [u8]> {
    EMBEDDED.iter().find(|(p, _)| *p == path).map(|(_, b)| *b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registry_parses_and_is_consistent() {
        let reg = registry();
        // 8 mirror datasets with 153 files (MANIFEST.tsv), plus the committed digits.
        assert_eq!(reg.datasets.len(), 9);
        assert_eq!(
            reg.datasets.iter().map(|d| d.files.len()).sum::<usize>(),
            154
        );
        for d in &reg.datasets {
            for f in &d.files {
                assert!(f.path.starts_with(&format!("{}/", d.name)), "{}", f.path);
                assert_eq!(f.sha256.len(), 64, "{}", f.path);
                assert!(
                    f.sha256
                        .bytes()
                        .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
                );
                assert!(f.url.starts_with("https://"), "{}", f.url);
                assert!(!f.url.contains(' '), "{}", f.url);
                assert_eq!(d.committed, embedded(&f.path).is_some(), "{}", f.path);
            }
        }
    }

    #[test]
    fn unknown_names_are_clear_errors() {
        let err = registry().dataset("coraa").unwrap_err().to_string();
        assert!(
            err.contains("unknown dataset `coraa`") && err.contains("cora"),
            "{err}"
        );
        let err = registry()
            .dataset("cora")
            .unwrap()
            .file("cora/x.npz")
            .unwrap_err()
            .to_string();
        assert!(err.contains("cora/x.npz"), "{err}");
    }
}

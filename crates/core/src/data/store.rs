//! Where dataset files are found, and their SHA-256 checks.
//!
//! Lookup order: the cache folder (`REPRO_DATA_DIR`, default `$XDG_CACHE_HOME/repro` or
//! `~/.cache/repro`), then the mirror folder (`REPRO_DATA_MIRROR`). Committed files
//! (digits) are compiled in. Nothing is downloaded during a run; [`DataRoots::fetch`]
//! (behind `cargo xtask data fetch`) is the only download path.

use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use sha2::{Digest, Sha256};

use super::registry::{self, DatasetEntry, FileEntry, registry};
use crate::error::DataError;

/// Environment variable naming the cache folder.
pub const ENV_CACHE: &str = "REPRO_DATA_DIR";
/// Environment variable naming a local mirror folder (read-only).
pub const ENV_MIRROR: &str = "REPRO_DATA_MIRROR";

/// The folders searched for dataset files.
#[derive(Debug, Clone)]
pub struct DataRoots {
    /// Cache folder: first place searched, where `fetch` writes.
    pub cache: PathBuf,
    /// Optional read-only mirror folder, searched second.
    pub mirror: Option<PathBuf>,
}

/// Outcome of checking one registered file.
#[derive(Debug, Clone, PartialEq)]
pub enum FileStatus {
    /// Found at the path, size and SHA-256 match.
    Verified(PathBuf),
    /// Compiled into the crate, SHA-256 matches.
    Embedded,
    /// In neither folder.
    Missing,
    /// Found, but size or SHA-256 differ.
    Corrupt {
        /// The bad file.
        path: PathBuf,
        /// What was measured (size and SHA-256).
        found: String,
    },
}

impl DataRoots {
    /// Roots from `REPRO_DATA_DIR` and `REPRO_DATA_MIRROR`.
    pub fn from_env() -> Self {
        let cache = std::env::var_os(ENV_CACHE)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
            .unwrap_or_else(default_cache_dir);
        let mirror = std::env::var_os(ENV_MIRROR)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from);
        Self { cache, mirror }
    }

    /// Roots given explicitly (tests, embedding applications).
    pub fn new(cache: impl Into<PathBuf>, mirror: Option<PathBuf>) -> Self {
        Self {
            cache: cache.into(),
            mirror,
        }
    }

    fn candidates(&self, rel: &str) -> Vec<PathBuf> {
        let mut v = vec![self.cache.join(rel)];
        if let Some(m) = &self.mirror {
            v.push(m.join(rel));
        }
        v
    }

    /// Reads a registered file, checked against its size and SHA-256.
    pub fn read(&self, dataset: &str, file: &str) -> Result<Vec<u8>, DataError> {
        self.read_with_path(dataset, file).map(|(bytes, _)| bytes)
    }

    /// Reads a registered file, checked against its size and SHA-256, and returns its
    /// bytes with the path they were read from (for parsers' error messages; committed
    /// files report their path under `datasets/`).
    pub fn read_with_path(
        &self,
        dataset: &str,
        file: &str,
    ) -> Result<(Vec<u8>, PathBuf), DataError> {
        let ds = registry().dataset(dataset)?;
        let entry = ds.file(file)?;
        if let Some(bytes) = registry::embedded(&entry.path) {
            let path = PathBuf::from(format!("datasets/{}", entry.path));
            check(ds, entry, bytes, &path)?;
            return Ok((bytes.to_vec(), path));
        }
        let candidates = self.candidates(&entry.path);
        let Some(path) = candidates.iter().find(|p| p.is_file()) else {
            return Err(DataError::Missing {
                dataset: ds.name.clone(),
                file: entry.path.clone(),
                searched: candidates
                    .iter()
                    .map(|p| p.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", "),
            });
        };
        let bytes = fs::read(path).map_err(|e| DataError::io(path, e))?;
        check(ds, entry, &bytes, path)?;
        Ok((bytes, path.clone()))
    }

    /// Which files of a registered dataset have a copy (embedded, in the cache or in the
    /// mirror), by registry path, without reading or verifying them. Cheap enough for a
    /// plan: a job whose result depends on what data is present puts this in its
    /// configuration, so its stored result goes stale when a file appears or disappears.
    pub fn present(&self, dataset: &str) -> Result<Vec<(String, bool)>, DataError> {
        let ds = registry().dataset(dataset)?;
        Ok(ds
            .files
            .iter()
            .map(|f| {
                let here = registry::embedded(&f.path).is_some()
                    || self.candidates(&f.path).iter().any(|p| p.is_file());
                (f.path.clone(), here)
            })
            .collect())
    }

    /// Checks one registered file without failing on a bad one.
    pub fn status(&self, entry: &FileEntry) -> Result<FileStatus, DataError> {
        if let Some(bytes) = registry::embedded(&entry.path) {
            return Ok(if digest_matches(entry, bytes).is_ok() {
                FileStatus::Embedded
            } else {
                FileStatus::Corrupt {
                    path: PathBuf::from(format!("datasets/{}", entry.path)),
                    found: describe(bytes),
                }
            });
        }
        let Some(path) = self
            .candidates(&entry.path)
            .into_iter()
            .find(|p| p.is_file())
        else {
            return Ok(FileStatus::Missing);
        };
        let bytes = fs::read(&path).map_err(|e| DataError::io(&path, e))?;
        Ok(match digest_matches(entry, &bytes) {
            Ok(()) => FileStatus::Verified(path),
            Err(found) => FileStatus::Corrupt { path, found },
        })
    }

    /// Downloads a registered file into the cache unless a verified copy is already
    /// found; keeps it only if its SHA-256 matches. Uses the `curl` program.
    pub fn fetch(&self, ds: &DatasetEntry, entry: &FileEntry) -> Result<PathBuf, DataError> {
        match self.status(entry)? {
            FileStatus::Verified(p) => return Ok(p),
            FileStatus::Embedded => return Ok(PathBuf::from(format!("datasets/{}", entry.path))),
            _ => {}
        }
        let dest = self.cache.join(&entry.path);
        let dir = dest.parent().expect("registry paths have a folder");
        fs::create_dir_all(dir).map_err(|e| DataError::io(dir, e))?;
        let part = dest.with_extension("part");
        let out = Command::new("curl")
            .args([
                "--fail",
                "--silent",
                "--show-error",
                "--location",
                "--retry",
                "2",
            ])
            .arg("--output")
            .arg(&part)
            .arg(&entry.url)
            .output()
            .map_err(|e| DataError::Download {
                url: entry.url.clone(),
                msg: format!("could not run `curl` ({e}); install curl or copy the file by hand"),
            })?;
        if !out.status.success() {
            let _ = fs::remove_file(&part);
            return Err(DataError::Download {
                url: entry.url.clone(),
                msg: String::from_utf8_lossy(&out.stderr).trim().to_owned(),
            });
        }
        let bytes = fs::read(&part).map_err(|e| DataError::io(&part, e))?;
        if let Err(e) = check(ds, entry, &bytes, &dest) {
            let _ = fs::remove_file(&part);
            return Err(e);
        }
        fs::rename(&part, &dest).map_err(|e| DataError::io(&dest, e))?;
        Ok(dest)
    }
}

fn default_cache_dir() -> PathBuf {
    if let Some(x) = std::env::var_os("XDG_CACHE_HOME").filter(|v| !v.is_empty()) {
        return PathBuf::from(x).join("repro");
    }
    if let Some(h) = std::env::var_os("HOME").filter(|v| !v.is_empty()) {
        return PathBuf::from(h).join(".cache").join("repro");
    }
    if let Some(l) = std::env::var_os("LOCALAPPDATA").filter(|v| !v.is_empty()) {
        return PathBuf::from(l).join("repro");
    }
    PathBuf::from(".repro-cache")
}

/// Lower-case hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    let mut s = String::with_capacity(64);
    for b in digest {
        let _ = write!(s, "{b:02x}");
    }
    s
}

fn describe(bytes: &[u8]) -> String {
    format!("{} bytes, sha256 {}", bytes.len(), sha256_hex(bytes))
}

fn digest_matches(entry: &FileEntry, bytes: &[u8]) -> Result<(), String> {
    if bytes.len() as u64 == entry.bytes && sha256_hex(bytes) == entry.sha256 {
        Ok(())
    } else {
        Err(describe(bytes))
    }
}

fn check(ds: &DatasetEntry, entry: &FileEntry, bytes: &[u8], path: &Path) -> Result<(), DataError> {
    digest_matches(entry, bytes).map_err(|found| DataError::Checksum {
        dataset: ds.name.clone(),
        path: path.to_owned(),
        expected: format!("{} bytes, sha256 {}", entry.bytes, entry.sha256),
        found,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::TempDir;

    #[test]
    fn sha256_of_known_input() {
        // FIPS 180-2 test vector for "abc".
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn missing_file_names_dataset_file_and_fix() {
        let tmp = TempDir::new("store-missing");
        let roots = DataRoots::new(tmp.path().join("cache"), Some(tmp.path().join("mirror")));
        let err = roots.read("cora", "cora/cora.npz").unwrap_err().to_string();
        assert!(err.contains("dataset `cora`"), "{err}");
        assert!(err.contains("cora/cora.npz"), "{err}");
        assert!(err.contains("cargo xtask data fetch cora"), "{err}");
    }

    #[test]
    fn presence_follows_the_files_on_disk() {
        let tmp = TempDir::new("store-present");
        let mirror = tmp.path().join("mirror");
        let roots = DataRoots::new(tmp.path().join("cache"), Some(mirror.clone()));
        let p = roots.present("tinyshakespeare").unwrap();
        assert_eq!(p, vec![("tinyshakespeare/input.txt".to_string(), false)]);
        fs::create_dir_all(mirror.join("tinyshakespeare")).unwrap();
        fs::write(mirror.join("tinyshakespeare/input.txt"), b"x").unwrap();
        assert!(roots.present("tinyshakespeare").unwrap()[0].1);
        assert!(roots.present("no-such-dataset").is_err());
    }

    #[test]
    fn corrupt_and_truncated_files_are_rejected_by_name() {
        let tmp = TempDir::new("store-corrupt");
        let mirror = tmp.path().join("mirror");
        fs::create_dir_all(mirror.join("tinyshakespeare")).unwrap();
        let roots = DataRoots::new(tmp.path().join("cache"), Some(mirror.clone()));
        let file = mirror.join("tinyshakespeare/input.txt");
        fs::write(&file, b"First Citizen:\n").unwrap();
        let err = roots
            .read("tinyshakespeare", "tinyshakespeare/input.txt")
            .unwrap_err();
        assert!(matches!(err, DataError::Checksum { .. }));
        let msg = err.to_string();
        assert!(
            msg.contains("input.txt") && msg.contains("corrupt"),
            "{msg}"
        );
        let entry = registry()
            .dataset("tinyshakespeare")
            .unwrap()
            .file("tinyshakespeare/input.txt")
            .unwrap();
        assert!(matches!(
            roots.status(entry).unwrap(),
            FileStatus::Corrupt { .. }
        ));
    }

    #[test]
    fn cache_is_searched_before_mirror() {
        let tmp = TempDir::new("store-order");
        let (cache, mirror) = (tmp.path().join("cache"), tmp.path().join("mirror"));
        for root in [&cache, &mirror] {
            fs::create_dir_all(root.join("tinyshakespeare")).unwrap();
        }
        // A bad copy in the cache shadows the mirror: the error names the cache path.
        fs::write(cache.join("tinyshakespeare/input.txt"), b"x").unwrap();
        let roots = DataRoots::new(cache.clone(), Some(mirror));
        let msg = roots
            .read("tinyshakespeare", "tinyshakespeare/input.txt")
            .unwrap_err()
            .to_string();
        assert!(msg.contains(&cache.display().to_string()), "{msg}");
    }

    #[test]
    fn fetch_keeps_only_verified_downloads() {
        if Command::new("curl").arg("--version").output().is_err() {
            eprintln!("skipped: curl not installed");
            return;
        }
        let tmp = TempDir::new("store-fetch");
        let upstream = tmp.path().join("upstream.txt");
        fs::write(&upstream, b"hello").unwrap();
        let url = format!("file://{}", upstream.display());
        let good = FileEntry {
            path: "demo/hello.txt".into(),
            bytes: 5,
            sha256: sha256_hex(b"hello"),
            url: url.clone(),
        };
        let ds = DatasetEntry {
            name: "demo".into(),
            description: String::new(),
            licence: String::new(),
            cite: String::new(),
            source: String::new(),
            committed: false,
            files: vec![],
        };
        let roots = DataRoots::new(tmp.path().join("cache"), None);
        let got = roots.fetch(&ds, &good).unwrap();
        assert_eq!(fs::read(&got).unwrap(), b"hello");
        assert_eq!(roots.status(&good).unwrap(), FileStatus::Verified(got));
        // A download whose SHA-256 differs is discarded, with no partial file left.
        let bad = FileEntry {
            path: "demo/other.txt".into(),
            sha256: "0".repeat(64),
            ..good
        };
        let msg = roots.fetch(&ds, &bad).unwrap_err().to_string();
        assert!(
            msg.contains("corrupt") && msg.contains("other.txt"),
            "{msg}"
        );
        let left: Vec<_> = fs::read_dir(tmp.path().join("cache/demo"))
            .unwrap()
            .collect();
        assert_eq!(left.len(), 1, "only the verified file remains");
        let missing = FileEntry {
            path: "demo/x.txt".into(),
            url: format!("{url}.nope"),
            ..bad
        };
        assert!(matches!(
            roots.fetch(&ds, &missing),
            Err(DataError::Download { .. })
        ));
    }

    #[test]
    fn embedded_digits_verify() {
        let roots = DataRoots::new("/nonexistent", None);
        let bytes = roots.read("digits", "digits/digits.csv.gz").unwrap();
        assert_eq!(bytes.len(), 57_523);
    }
}

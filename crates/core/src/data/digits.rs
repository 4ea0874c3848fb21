//! scikit-learn's digits: 1,797 8x8 grey-level images (values 0..=16), 10 classes.
//!
//! The file (`datasets/digits/digits.csv.gz`, BSD-3-Clause, from the scikit-learn 1.9.1
//! wheel) is compiled in and checked against its SHA-256. [`standard_split`] is the one
//! split every crate uses (1,297 train / 500 test, stratified, seed 0), so numbers
//! compare across crates.

use std::io::Read;
use std::path::Path;

use burn::tensor::{Device, Int, Tensor, TensorData};

use super::DataRoots;
use super::split::{Split, stratified_split};
use crate::error::DataError;

/// Pixels per image (8 x 8).
pub const PIXELS: usize = 64;
/// Number of classes.
pub const CLASSES: usize = 10;
/// Test items in the standard split.
pub const TEST_SIZE: usize = 500;
/// Seed of the standard split.
pub const SPLIT_SEED: u64 = 0;

/// The digits dataset.
#[derive(Debug, Clone)]
pub struct Digits {
    /// Row-major pixels, `n * 64` values in `0.0..=16.0`.
    pub images: Vec<f32>,
    /// Class of each image, `0..=9`.
    pub labels: Vec<u8>,
}

impl Digits {
    /// Number of images.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// Whether there are no images.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// Pixels of image `i` (values 0..=16).
    pub fn image(&self, i: usize) -> &[f32] {
        &self.images[i * PIXELS..(i + 1) * PIXELS]
    }

    /// Images at `indices`, scaled to `[0, 1]`, and their labels.
    ///
    /// # Shapes
    /// - returns `([indices.len(), 64], [indices.len()])`
    pub fn tensors(&self, indices: &[usize], device: &Device) -> (Tensor<2>, Tensor<1, Int>) {
        let mut x = Vec::with_capacity(indices.len() * PIXELS);
        for &i in indices {
            x.extend(self.image(i).iter().map(|v| v / 16.0));
        }
        let y: Vec<i64> = indices.iter().map(|&i| i64::from(self.labels[i])).collect();
        (
            Tensor::from_data(TensorData::new(x, [indices.len(), PIXELS]), device),
            Tensor::from_data(TensorData::new(y, [indices.len()]), device),
        )
    }
}

/// Loads the compiled-in digits, checked against the registry's SHA-256.
pub fn load() -> Result<Digits, DataError> {
    // The embedded file needs no data root.
    let roots = DataRoots::new(std::env::temp_dir(), None);
    let bytes = roots.read("digits", "digits/digits.csv.gz")?;
    parse_csv_gz(&bytes, Path::new("datasets/digits/digits.csv.gz"))
}

/// Parses gzip-compressed CSV rows of 64 pixel values in `0..=16` and a class in `0..=9`.
pub fn parse_csv_gz(bytes: &[u8], origin: &Path) -> Result<Digits, DataError> {
    let mut text = String::new();
    flate2::read::GzDecoder::new(bytes)
        .read_to_string(&mut text)
        .map_err(|e| DataError::parse(origin, format!("not a gzip-compressed UTF-8 file: {e}")))?;
    let mut images = Vec::new();
    let mut labels = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let fields: Vec<&str> = line.split(',').collect();
        if fields.len() != PIXELS + 1 {
            return Err(DataError::parse_at(
                origin,
                i + 1,
                format!(
                    "expected {} comma-separated values, found {}",
                    PIXELS + 1,
                    fields.len()
                ),
            ));
        }
        for (j, f) in fields.iter().enumerate() {
            let v: u8 = f.trim().parse().map_err(|_| {
                DataError::parse_at(
                    origin,
                    i + 1,
                    format!("column {}: `{f}` is not an integer", j + 1),
                )
            })?;
            let max = if j == PIXELS { CLASSES as u8 - 1 } else { 16 };
            if v > max {
                return Err(DataError::parse_at(
                    origin,
                    i + 1,
                    format!("column {}: {v} is out of range 0..={max}", j + 1),
                ));
            }
            if j == PIXELS {
                labels.push(v);
            } else {
                images.push(f32::from(v));
            }
        }
    }
    if labels.is_empty() {
        return Err(DataError::parse(origin, "no rows"));
    }
    Ok(Digits { images, labels })
}

/// Global normalisation statistics of pixel values: the mean and the population standard
/// deviation (ddof 0, at least 1e-6) over every value, accumulated in `f64`. One scalar pair
/// for all pixels (the 1-channel analogue of per-channel normalisation), so equal patches at
/// different positions stay equal; `(x − mean) / std` applies it.
pub fn global_moments(pixels: &[f32]) -> (f32, f32) {
    let n = pixels.len().max(1) as f64;
    let mean = pixels.iter().map(|&v| f64::from(v)).sum::<f64>() / n;
    let var = pixels
        .iter()
        .map(|&v| (f64::from(v) - mean).powi(2))
        .sum::<f64>()
        / n;
    (mean as f32, (var.sqrt() as f32).max(1e-6))
}

/// The workspace's one digits split: 1,297 train / 500 test, stratified by class, seed 0.
pub fn standard_split(digits: &Digits) -> Split {
    let labels: Vec<usize> = digits.labels.iter().map(|&y| usize::from(y)).collect();
    stratified_split(&labels, TEST_SIZE, SPLIT_SEED)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn global_moments_by_hand() {
        // 0, 2, 4, 6: mean 3, population variance (9 + 1 + 1 + 9) / 4 = 5.
        let (m, s) = global_moments(&[0.0, 2.0, 4.0, 6.0]);
        assert_eq!(m, 3.0);
        assert!((f64::from(s) - 5f64.sqrt()).abs() < 1e-6);
        // Constant pixels: the floor keeps the division finite.
        assert_eq!(global_moments(&[1.0, 1.0]), (1.0, 1e-6));
    }
    use std::io::Write;

    fn gz(text: &str) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        e.write_all(text.as_bytes()).unwrap();
        e.finish().unwrap()
    }

    #[test]
    fn real_file_counts() {
        let d = load().unwrap();
        assert_eq!(d.len(), 1797);
        assert_eq!(d.images.len(), 1797 * 64);
        let mut counts = [0usize; 10];
        d.labels.iter().for_each(|&y| counts[usize::from(y)] += 1);
        // sklearn's load_digits() class counts.
        assert_eq!(counts, [178, 182, 177, 183, 181, 182, 181, 179, 174, 180]);
        assert_eq!(d.image(0)[..8], [0.0, 0.0, 5.0, 13.0, 9.0, 1.0, 0.0, 0.0]);
    }

    #[test]
    fn standard_split_is_fixed() {
        let d = load().unwrap();
        let s = standard_split(&d);
        assert_eq!((s.train.len(), s.test.len()), (1297, 500));
        let mut per_class = [0usize; 10];
        s.test
            .iter()
            .for_each(|&i| per_class[usize::from(d.labels[i])] += 1);
        // 500/1797 of each class, rounded by largest remainder.
        for (k, &c) in per_class.iter().enumerate() {
            let exact =
                500.0 * [178, 182, 177, 183, 181, 182, 181, 179, 174, 180][k] as f64 / 1797.0;
            assert!((c as f64 - exact).abs() < 1.0, "class {k}: {c} vs {exact}");
        }
        assert_eq!(per_class, [50, 51, 49, 51, 50, 51, 50, 50, 48, 50]);
        // Pinned, and computed independently by a Python re-implementation of SplitMix64
        // and the quota rule: a change here changes every crate's numbers.
        assert_eq!(s.test[..8], [0, 8, 12, 18, 20, 22, 24, 29]);
    }

    #[test]
    fn malformed_rows_are_errors_with_line() {
        let p = Path::new("x.csv.gz");
        let row = |label: &str| format!("{}{label}\n", "0,".repeat(64));
        let ok = parse_csv_gz(&gz(&row("3")), p).unwrap();
        assert_eq!(ok.labels, [3]);
        let msg = parse_csv_gz(&gz(&format!("{}1,2\n", row("3"))), p)
            .unwrap_err()
            .to_string();
        assert!(
            msg.contains("line 2") && msg.contains("expected 65"),
            "{msg}"
        );
        let msg = parse_csv_gz(&gz(&row("12")), p).unwrap_err().to_string();
        assert!(msg.contains("out of range"), "{msg}");
        let msg = parse_csv_gz(&gz(&row("x")), p).unwrap_err().to_string();
        assert!(msg.contains("not an integer"), "{msg}");
        let msg = parse_csv_gz(b"not gzip", p).unwrap_err().to_string();
        assert!(msg.contains("gzip"), "{msg}");
        let full = gz(&row("3"));
        assert!(parse_csv_gz(&full[..full.len() / 2], p).is_err());
    }

    #[test]
    fn tensors_are_scaled() {
        let d = load().unwrap();
        let (x, y) = d.tensors(&[0, 1], &Device::flex());
        assert_eq!(x.dims(), [2, 64]);
        assert_eq!(y.dims(), [2]);
        let max = x.max().into_scalar::<f32>();
        assert!(max <= 1.0 && max > 0.9);
    }
}

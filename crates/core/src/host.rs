//! Host ↔ tensor conversions: row-major `Vec<f32>` matrices and index lists in, `Vec<f32>`
//! and `Vec<i64>` out. One place for what paper crates would otherwise each write.
//!
//! ```
//! use burn::tensor::Device;
//! use repro_core::host;
//! let device = Device::flex();
//! let x = host::matrix(vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0], 2, 3, &device);
//! assert_eq!(x.dims(), [2, 3]);
//! let rows = host::indices(&[1, 0], &device);
//! assert_eq!(host::to_vec(x.select(0, rows)), vec![4.0, 5.0, 6.0, 1.0, 2.0, 3.0]);
//! ```

use burn::tensor::{Device, Int, Tensor, TensorData};

/// A `[rows, cols]` float tensor from row-major values.
///
/// # Shapes
/// - `values`: `rows * cols` entries
/// - returns `[rows, cols]`
///
/// # Panics
/// If `values.len() != rows * cols`.
pub fn matrix(values: Vec<f32>, rows: usize, cols: usize, device: &Device) -> Tensor<2> {
    assert_eq!(
        values.len(),
        rows * cols,
        "host::matrix: {} values for [{rows}, {cols}]",
        values.len()
    );
    Tensor::from_data(TensorData::new(values, [rows, cols]), device)
}

/// A `[len / cols, cols]` float tensor from a row-major slice.
///
/// # Shapes
/// - returns `[values.len() / cols, cols]`
///
/// # Panics
/// If `cols` does not divide `values.len()`.
pub fn rows(values: &[f32], cols: usize, device: &Device) -> Tensor<2> {
    assert!(
        cols > 0 && values.len().is_multiple_of(cols),
        "host::rows: {} values are not rows of {cols}",
        values.len()
    );
    matrix(values.to_vec(), values.len() / cols, cols, device)
}

/// A `[n]` float tensor.
///
/// # Shapes
/// - returns `[values.len()]`
pub fn vector(values: Vec<f32>, device: &Device) -> Tensor<1> {
    let n = values.len();
    Tensor::from_data(TensorData::new(values, [n]), device)
}

/// A `[n]` `Int` tensor of indices (for `select`, gathers, labels).
///
/// # Shapes
/// - returns `[idx.len()]`
pub fn indices(idx: &[usize], device: &Device) -> Tensor<1, Int> {
    let v: Vec<i64> = idx.iter().map(|&i| i as i64).collect();
    Tensor::from_data(TensorData::new(v, [idx.len()]), device)
}

/// A float tensor's values on the host, row-major, as `f32` (converted from the backend's
/// float type if it is another one).
///
/// # Panics
/// If the backend cannot read the tensor back (a device failure, not user input).
pub fn to_vec<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.into_data()
        .try_into_vec_as::<f32>()
        .expect("a float tensor reads back as f32")
}

/// An `Int` tensor's values on the host, row-major, as `i64`.
///
/// # Panics
/// If the backend cannot read the tensor back.
pub fn to_ints<const D: usize>(t: Tensor<D, Int>) -> Vec<i64> {
    t.into_data()
        .try_into_vec_as::<i64>()
        .expect("an int tensor reads back as i64")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        let d = Device::flex();
        let m = rows(&[1.0, 2.0, 3.0, 4.0], 2, &d);
        assert_eq!(m.dims(), [2, 2]);
        assert_eq!(to_vec(m.transpose()), vec![1.0, 3.0, 2.0, 4.0]);
        assert_eq!(to_vec(vector(vec![0.5, 1.5], &d) * 2.0), vec![1.0, 3.0]);
        assert_eq!(to_ints(indices(&[3, 0, 2], &d)), vec![3, 0, 2]);
    }

    #[test]
    #[should_panic(expected = "not rows of 3")]
    fn ragged_rows_panic() {
        rows(&[1.0, 2.0], 3, &Device::flex());
    }
}

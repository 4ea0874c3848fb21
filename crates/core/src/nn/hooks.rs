//! Reading and patching the post-GELU MLP activations `[batch, T, d_ff]` of each transformer
//! [`Block`](super::transformer::Block): whole layers ([`FfnHooks::record`],
//! [`FfnPatch::Scale`], [`FfnPatch::Replace`]) or chosen `(batch, position, neuron)` cells
//! ([`CellRecord`], [`FfnPatch::ScaleCells`], [`FfnPatch::ReplaceCells`]).
//!
//! Cell-level patches are written with a boolean mask and an index scatter, so every other
//! activation passes through bit for bit, and gradients reach a patch's `values` (a
//! require-grad leaf) at its cells only. That is the leaf integrated gradients needs for
//! knowledge-neuron attribution (Dai et al., ACL 2022, Eq. 3): replace neuron `n` at the
//! answer position by `alpha * w_n` and differentiate the answer's probability with respect
//! to it.
//!
//! ```
//! use burn::tensor::{Device, Tensor};
//! use repro_core::nn::hooks::{FfnHooks, FfnPatch};
//! use repro_core::nn::transformer::{AttnMask, Positions, TransformerStackConfig};
//! let device = Device::flex();
//! let stack = TransformerStackConfig::new(8)
//!     .with_n_heads(2)
//!     .with_n_layers(2)
//!     .with_positions(Positions::None)
//!     .init(&device);
//! let x = Tensor::<3>::ones([1, 3, 8], &device);
//! // Zero neuron 5 at position 2 of layer 1 and read two cells of layer 0.
//! let mut hooks = FfnHooks::none()
//!     .with_patch(FfnPatch::ReplaceCells {
//!         layer: 1,
//!         cells: vec![(0, 2, 5)],
//!         values: Tensor::zeros([1], &device),
//!     })
//!     .with_cell_record(0, vec![(0, 0, 1), (0, 2, 7)]);
//! let h = stack.try_forward(x, 0, &AttnMask::Causal, &mut hooks)?;
//! assert_eq!(h.dims(), [1, 3, 8]);
//! assert_eq!(hooks.cell_records[0].values.as_ref().unwrap().dims(), [2]);
//! # Ok::<(), repro_core::nn::NnError>(())
//! ```

use std::collections::HashSet;

use burn::tensor::{Bool, Device, IndexingUpdateOp, Tensor, TensorData};

use super::NnError;
use crate::host;

/// One MLP activation: `(batch, position, neuron)`, positions counted from the start of the
/// input (not from `start_pos`).
pub type FfnCell = (usize, usize, usize);

/// Per-layer access to the MLP's post-GELU activations `[batch, T, d_ff]`.
///
/// Within a layer, patches apply in list order; recordings see the patched activations.
#[derive(Debug, Default)]
pub struct FfnHooks {
    /// Record each layer's activations into `recorded`.
    pub record: bool,
    /// Recorded activations, one per layer, in layer order (appended on every forward).
    pub recorded: Vec<Tensor<3>>,
    /// Patches applied to the activations before the second MLP layer.
    pub patches: Vec<FfnPatch>,
    /// Chosen cells to record; each forward fills (or overwrites) their `values`.
    pub cell_records: Vec<CellRecord>,
}

/// A request to record chosen cells of one layer, and what the last forward found there.
#[derive(Debug, Clone)]
pub struct CellRecord {
    /// Layer index.
    pub layer: usize,
    /// Cells to read.
    pub cells: Vec<FfnCell>,
    /// `[cells.len()]`, in the order of `cells`, after the layer's patches; `None` until a
    /// forward has run. Differentiable: a gather from the activations.
    pub values: Option<Tensor<1>>,
}

/// A change to one layer's MLP activations.
#[derive(Debug, Clone)]
pub enum FfnPatch {
    /// Multiply the layer's activations elementwise by a `[batch, T, d_ff]` tensor.
    Scale {
        /// Layer index.
        layer: usize,
        /// Factors.
        factors: Tensor<3>,
    },
    /// Replace the layer's activations by a `[batch, T, d_ff]` tensor (a require-grad leaf
    /// here lets attribution differentiate through activations).
    Replace {
        /// Layer index.
        layer: usize,
        /// New activations.
        values: Tensor<3>,
    },
    /// Multiply chosen cells by `factors` (`[cells.len()]`); other cells are untouched.
    ScaleCells {
        /// Layer index.
        layer: usize,
        /// Distinct cells.
        cells: Vec<FfnCell>,
        /// One factor per cell.
        factors: Tensor<1>,
    },
    /// Set chosen cells to `values` (`[cells.len()]`); other cells are untouched. With a
    /// require-grad `values`, gradients flow to it from those cells only, and nothing flows
    /// back through the replaced activations.
    ReplaceCells {
        /// Layer index.
        layer: usize,
        /// Distinct cells.
        cells: Vec<FfnCell>,
        /// One value per cell.
        values: Tensor<1>,
    },
}

impl FfnPatch {
    /// The layer the patch applies to.
    pub fn layer(&self) -> usize {
        match self {
            Self::Scale { layer, .. }
            | Self::Replace { layer, .. }
            | Self::ScaleCells { layer, .. }
            | Self::ReplaceCells { layer, .. } => *layer,
        }
    }

    /// Checks the patch against activations of shape `dims = [batch, T, d_ff]`.
    ///
    /// # Errors
    /// A tensor of the wrong shape, an empty, out-of-range or repeated cell.
    pub fn check(&self, dims: [usize; 3]) -> Result<(), NnError> {
        let layer = self.layer();
        let shape = |what, expected: Vec<usize>, got: Vec<usize>| {
            if expected == got {
                Ok(())
            } else {
                Err(NnError::HookShape {
                    layer,
                    what,
                    expected,
                    got,
                })
            }
        };
        match self {
            Self::Scale { factors, .. } => shape("factors", dims.to_vec(), factors.dims().to_vec()),
            Self::Replace { values, .. } => shape("values", dims.to_vec(), values.dims().to_vec()),
            Self::ScaleCells { cells, factors, .. } => {
                check_cells(layer, cells, dims)?;
                shape("factors", vec![cells.len()], factors.dims().to_vec())
            }
            Self::ReplaceCells { cells, values, .. } => {
                check_cells(layer, cells, dims)?;
                shape("values", vec![cells.len()], values.dims().to_vec())
            }
        }
    }
}

/// Cells must be non-empty, inside `dims` and distinct.
fn check_cells(layer: usize, cells: &[FfnCell], dims: [usize; 3]) -> Result<(), NnError> {
    if cells.is_empty() {
        return Err(NnError::NoCells { layer });
    }
    let mut seen = HashSet::with_capacity(cells.len());
    for &cell in cells {
        let (b, t, n) = cell;
        if b >= dims[0] || t >= dims[1] || n >= dims[2] {
            return Err(NnError::CellOutOfRange { layer, cell, dims });
        }
        if !seen.insert(cell) {
            return Err(NnError::DuplicateCell { layer, cell });
        }
    }
    Ok(())
}

/// Row-major offsets of `cells` in a flattened `[batch, T, d_ff]` tensor.
fn flat_offsets(cells: &[FfnCell], [_, t, f]: [usize; 3]) -> Vec<usize> {
    cells.iter().map(|&(b, p, n)| (b * t + p) * f + n).collect()
}

/// A mask that is true at `cells`, and `values` scattered there into zeros.
///
/// # Shapes
/// - `values`: `[cells.len()]` -> mask and scattered values `[batch, T, d_ff]` (`dims`)
fn scatter_cells(
    cells: &[FfnCell],
    values: Tensor<1>,
    dims: [usize; 3],
    device: &Device,
) -> (Tensor<3, Bool>, Tensor<3>) {
    let offsets = flat_offsets(cells, dims);
    let total = dims.iter().product::<usize>();
    let mut hit = vec![false; total];
    for &k in &offsets {
        hit[k] = true;
    }
    let mask = Tensor::<3, Bool>::from_data(TensorData::new(hit, dims), device);
    // `Add` into zeros is differentiable in `values` (cells are distinct, so nothing sums).
    let placed = Tensor::<1>::zeros([total], device)
        .select_assign(
            0,
            host::indices(&offsets, device),
            values,
            IndexingUpdateOp::Add,
        )
        .reshape(dims); // [batch, T, d_ff]
    (mask, placed)
}

impl FfnHooks {
    /// No recording, no patches: adds no work.
    pub fn none() -> Self {
        Self::default()
    }

    /// Records every layer's activations.
    pub fn recording() -> Self {
        Self {
            record: true,
            ..Self::default()
        }
    }

    /// Adds a patch (applied after those already listed for its layer).
    pub fn with_patch(mut self, patch: FfnPatch) -> Self {
        self.patches.push(patch);
        self
    }

    /// Adds a request to record `cells` of `layer`.
    pub fn with_cell_record(mut self, layer: usize, cells: Vec<FfnCell>) -> Self {
        self.cell_records.push(CellRecord {
            layer,
            cells,
            values: None,
        });
        self
    }

    /// Whether the hooks do anything at all.
    pub fn is_empty(&self) -> bool {
        !self.record && self.patches.is_empty() && self.cell_records.is_empty()
    }

    /// Checks every patch and cell record against a model of `n_layers` layers whose
    /// activations are `dims = [batch, T, d_ff]`.
    ///
    /// # Errors
    /// A layer out of range, or what [`FfnPatch::check`] rejects.
    pub fn check(&self, n_layers: usize, dims: [usize; 3]) -> Result<(), NnError> {
        let layer_ok = |layer| {
            if layer < n_layers {
                Ok(())
            } else {
                Err(NnError::HookLayer { layer, n_layers })
            }
        };
        for p in &self.patches {
            layer_ok(p.layer())?;
            p.check(dims)?;
        }
        for r in &self.cell_records {
            layer_ok(r.layer)?;
            check_cells(r.layer, &r.cells, dims)?;
        }
        Ok(())
    }

    /// Applies this layer's patches, then records.
    ///
    /// # Shapes
    /// - `act`: `[batch, T, d_ff]` -> `[batch, T, d_ff]`
    ///
    /// # Panics
    /// If a patch or record of this layer fails [`FfnPatch::check`] (the `try_forward`
    /// functions check first and return the error instead).
    pub(crate) fn apply(&mut self, layer: usize, mut act: Tensor<3>) -> Tensor<3> {
        if self.is_empty() {
            return act;
        }
        let dims = act.dims();
        let device = act.device();
        for p in self.patches.iter().filter(|p| p.layer() == layer) {
            if let Err(e) = p.check(dims) {
                panic!("{e}");
            }
            act = match p {
                FfnPatch::Scale { factors, .. } => act * factors.clone(),
                FfnPatch::Replace { values, .. } => values.clone(),
                FfnPatch::ScaleCells { cells, factors, .. } => {
                    let (mask, placed) = scatter_cells(cells, factors.clone(), dims, &device);
                    act.clone().mask_where(mask, act * placed)
                }
                FfnPatch::ReplaceCells { cells, values, .. } => {
                    let (mask, placed) = scatter_cells(cells, values.clone(), dims, &device);
                    act.mask_where(mask, placed)
                }
            };
        }
        if self.record {
            self.recorded.push(act.clone());
        }
        for r in self.cell_records.iter_mut().filter(|r| r.layer == layer) {
            if let Err(e) = check_cells(layer, &r.cells, dims) {
                panic!("{e}");
            }
            let offsets = host::indices(&flat_offsets(&r.cells, dims), &device);
            let total = dims.iter().product::<usize>();
            r.values = Some(act.clone().reshape([total]).select(0, offsets)); // [cells]
        }
        act
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cell_patches_touch_only_their_cells() {
        let device = Device::flex();
        // act[b, t, n] = 100 b + 10 t + n on [2, 3, 4].
        let v: Vec<f32> = (0..24)
            .map(|k| (100 * (k / 12) + 10 * ((k / 4) % 3) + k % 4) as f32)
            .collect();
        let act = Tensor::<3>::from_data(TensorData::new(v.clone(), [2, 3, 4]), &device);
        let mut hooks = FfnHooks::none()
            .with_patch(FfnPatch::ReplaceCells {
                layer: 0,
                cells: vec![(1, 2, 3), (0, 0, 1)],
                values: host::vector(vec![-1.0, -2.0], &device),
            })
            .with_patch(FfnPatch::ScaleCells {
                layer: 0,
                cells: vec![(0, 1, 2)],
                factors: host::vector(vec![0.5], &device),
            })
            .with_cell_record(0, vec![(0, 1, 2), (1, 2, 3), (1, 0, 0)]);
        let out = host::to_vec(hooks.apply(0, act));
        let mut expected = v;
        expected[12 + 2 * 4 + 3] = -1.0; // (1, 2, 3)
        expected[1] = -2.0; // (0, 0, 1)
        expected[4 + 2] = 0.5 * 12.0; // (0, 1, 2) was 10 * 1 + 2
        assert_eq!(out, expected);
        // Recorded after the patches: 6, -1 and act[1, 0, 0] = 100.
        let rec = hooks.cell_records[0].values.clone().unwrap();
        assert_eq!(host::to_vec(rec), vec![6.0, -1.0, 100.0]);
    }

    #[test]
    fn bad_cells_are_named() {
        let device = Device::flex();
        let dims = [1, 3, 4];
        let patch = |cells: Vec<FfnCell>, n: usize| FfnPatch::ReplaceCells {
            layer: 1,
            cells,
            values: Tensor::zeros([n], &device),
        };
        assert_eq!(
            patch(vec![(0, 3, 0)], 1).check(dims),
            Err(NnError::CellOutOfRange {
                layer: 1,
                cell: (0, 3, 0),
                dims
            })
        );
        assert_eq!(
            patch(vec![(0, 1, 2), (0, 1, 2)], 2).check(dims),
            Err(NnError::DuplicateCell {
                layer: 1,
                cell: (0, 1, 2)
            })
        );
        assert_eq!(
            patch(vec![], 0).check(dims),
            Err(NnError::NoCells { layer: 1 })
        );
        assert_eq!(
            patch(vec![(0, 1, 2)], 2).check(dims),
            Err(NnError::HookShape {
                layer: 1,
                what: "values",
                expected: vec![1],
                got: vec![2]
            })
        );
        let hooks = FfnHooks::none().with_patch(patch(vec![(0, 0, 0)], 1));
        assert_eq!(hooks.check(2, dims), Ok(()));
        assert_eq!(
            hooks.check(1, dims),
            Err(NnError::HookLayer {
                layer: 1,
                n_layers: 1
            })
        );
        let msg = NnError::CellOutOfRange {
            layer: 1,
            cell: (0, 3, 0),
            dims,
        }
        .to_string();
        assert!(
            msg.contains("(0, 3, 0)") && msg.contains("[1, 3, 4]"),
            "{msg}"
        );
    }
}

//! Errors of the [`nn`](super) modules: bad input to a forward pass or a configuration,
//! each message naming the axis, layer or cell at fault.

use super::hooks::FfnCell;

/// Bad input to a transformer forward pass, its hooks or its configuration.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum NnError {
    /// The configuration cannot be built (message names the field).
    #[error("invalid transformer configuration: {0}")]
    Config(String),
    /// Token input to a vector-input decoder or the reverse.
    #[error(
        "decoder input kind does not match its configuration (tokens need vocab_size, vectors d_in)"
    )]
    InputKind,
    /// The input tensor has the wrong shape.
    #[error("input must be {expected}, got {got:?}")]
    InputShape {
        /// The expected shape, in words (`[batch, T, 16]`).
        expected: String,
        /// The shape given.
        got: Vec<usize>,
    },
    /// Positions beyond the RoPE table or learned position embeddings.
    #[error("positions {start_pos}..{end} exceed max_len {max_len}")]
    TooLong {
        /// First position.
        start_pos: usize,
        /// One past the last position.
        end: usize,
        /// Longest sequence the model was built for.
        max_len: usize,
    },
    /// An explicit attention mask whose shape is not `[batch, T, T]`.
    #[error("explicit attention mask must be [batch, T, T] = {expected:?}, got {got:?}")]
    MaskShape {
        /// `[batch, T, T]` of the input.
        expected: [usize; 3],
        /// The mask's shape.
        got: Vec<usize>,
    },
    /// A banded mask of window 0 (no key visible).
    #[error("banded attention needs a positive window")]
    ZeroWindow,
    /// A hook names a layer the model does not have.
    #[error("FFN hook on layer {layer}, but the model has {n_layers} layers")]
    HookLayer {
        /// The layer asked for.
        layer: usize,
        /// Layers in the model.
        n_layers: usize,
    },
    /// A hook's tensor has the wrong shape.
    #[error("FFN hook on layer {layer}: {what} must have shape {expected:?}, got {got:?}")]
    HookShape {
        /// Layer of the hook.
        layer: usize,
        /// Which tensor (`factors`, `values`).
        what: &'static str,
        /// Required shape.
        expected: Vec<usize>,
        /// Given shape.
        got: Vec<usize>,
    },
    /// A cell-level hook with an empty cell list.
    #[error("FFN hook on layer {layer}: no cells given")]
    NoCells {
        /// Layer of the hook.
        layer: usize,
    },
    /// A cell outside the activations.
    #[error(
        "FFN hook on layer {layer}: cell (batch, position, neuron) = {cell:?} is outside the activations [batch, T, d_ff] = {dims:?}"
    )]
    CellOutOfRange {
        /// Layer of the hook.
        layer: usize,
        /// The cell.
        cell: FfnCell,
        /// `[batch, T, d_ff]` of the activations.
        dims: [usize; 3],
    },
    /// A cell listed twice in one hook (its value would be ambiguous).
    #[error("FFN hook on layer {layer}: cell (batch, position, neuron) = {cell:?} is listed twice")]
    DuplicateCell {
        /// Layer of the hook.
        layer: usize,
        /// The cell.
        cell: FfnCell,
    },
}

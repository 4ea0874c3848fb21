//! Neural-network blocks shared by two or more paper crates.
//!
//! - [`transformer`]: pre-LayerNorm transformer [`Block`](transformer::Block)s and a
//!   [`TransformerStack`](transformer::TransformerStack) over pre-embedded input `[B, T, d]`
//!   (RoPE, learned or no positions; causal, banded, explicit or no attention mask; Burn or
//!   Xavier-uniform initialisation; configurable LayerNorm epsilon), used by the decoder and
//!   by encoders such as MAE's.
//! - [`hooks`]: reading and patching the MLP's post-GELU activations, whole layers or chosen
//!   `(batch, position, neuron)` cells, differentiably (knowledge-neuron attribution).
//! - [`decoder`]: a small pre-LayerNorm causal language model (token or vector input, the
//!   stack, a linear read-out), used by long-context, icl-ood and factual-recall.
//! - [`mlp`]: a multilayer perceptron with a choice of activation (flowdiff's denoiser and
//!   coupling networks).
//! - [`NnError`]: what the `try_*` functions of these modules return on bad input.

pub mod decoder;
mod error;
pub mod hooks;
pub mod mlp;
pub mod transformer;

pub use error::NnError;

//! Neural-network blocks shared by two or more paper crates.
//!
//! - [`decoder`]: a small pre-LayerNorm causal transformer (RoPE or learned positions,
//!   causal / banded / explicit attention masks, FFN activation hooks), used by
//!   long-context, icl-ood and factual-recall.
//! - [`mlp`]: a multilayer perceptron with a choice of activation (flowdiff's denoiser and
//!   coupling networks).

pub mod decoder;
pub mod mlp;

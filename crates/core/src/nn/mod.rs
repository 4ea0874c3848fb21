//! Neural-network blocks shared by two or more paper crates.
//!
//! - [`decoder`]: a small pre-LayerNorm causal transformer (RoPE or learned positions,
//!   causal / banded / explicit attention masks, FFN activation hooks), used by
//!   long-context, icl-ood and factual-recall.

pub mod decoder;

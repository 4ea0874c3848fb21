//! The xtask's library part: the table of implemented papers, shared by the `xtask`
//! binary and the cross-crate checks in `repro-tests`.

pub mod papers;

//! The xtask's library part: the table of implemented papers, shared by the `xtask`
//! binary and the cross-crate checks in `repro-tests`, and the results book (`cargo xtask
//! book`), which its integration test drives.

pub mod book;
pub mod papers;

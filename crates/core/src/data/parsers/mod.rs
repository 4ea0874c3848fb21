//! Typed parsers, one module per upstream format. Each exposes `parse_*` over bytes (with
//! the origin path for messages) and `load_*` through [`DataRoots`](super::DataRoots).

pub mod citation;
pub mod llm_failures;
pub mod nlbse;
pub mod pararel;
pub mod shakespeare;
pub mod twitch;
pub mod webkb;

//! Score v1b1 workload specification: typed model, validation and placeholders.
//!
//! Pure: the only I/O is reading the files a caller names.

pub mod placeholder;
pub mod diagnostics;
pub mod yaml;
pub mod schema;
pub mod model;

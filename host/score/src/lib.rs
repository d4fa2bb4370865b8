//! Score v1b1 workload specification: typed model, validation and placeholders.
//!
//! Pure: the only I/O is reading the files a caller names.

pub mod placeholder;

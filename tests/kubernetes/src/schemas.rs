//! Schema validation (in progress).

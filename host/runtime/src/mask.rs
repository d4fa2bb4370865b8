//! Masking of known secret values in text that leaves a driver call (log
//! lines, error messages): the service-wide implementation of
//! [`podium_core::mask`], re-exported.

pub use podium_core::mask::{REDACTED, SecretMask};

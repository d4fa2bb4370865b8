//! Podium's state.
//!
//! Two layers:
//! - [`Store`]: a small ordered key-value trait (get, scan a prefix, commit a
//!   batch atomically and durably, allocate ids). [`SledStore`] implements it
//!   on sled 0.34; another backend only needs these five methods (`scan_after`, for paging, has a default built on `scan`).
//! - [`Repo`]: typed records (environment types, apps, environments,
//!   versioned definitions, deployment sets, deployments with their events,
//!   active resources, shared values, workload profiles, uploaded drivers)
//!   encoded as JSON under prefixed keys. The secret parts of records
//!   (definitions' secret inputs, secret shared values, drivers' secret
//!   outputs and state) are sealed with XChaCha20-Poly1305 under a
//!   [`Keyring`] before they reach the store ([`seal`]).
//!
//! # Architecture invariant
//!
//! Only this crate knows sled. Every change of a deployment's state is one
//! [`Batch`], committed atomically and flushed before [`Store::commit`]
//! returns: after a crash, a deployment is in exactly one of the states it
//! was written in, together with the active resources and events written
//! with it.

mod keys;
pub mod records;
mod repo;
pub mod seal;
mod secrets;
mod sled_store;

pub use records::*;
pub use repo::{Repo, RepoError, WriteSet};
pub use seal::{Keyring, SealError, SecretKey};
pub use sled_store::SledStore;

/// The version of the on-disk layout. A data directory written by another
/// version is refused at open (no silent reinterpretation of old records).
pub const SCHEMA_VERSION: u32 = 1;

/// Errors of a store backend.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("storage backend: {0}")]
    Backend(String),
    #[error(
        "the data directory {path} holds schema version {found}; this podium reads version {expected}"
    )]
    SchemaMismatch {
        path: String,
        found: String,
        expected: u32,
    },
    #[error("record {key}: {message}")]
    Corrupt { key: String, message: String },
}

/// One write of a [`Batch`].
#[derive(Debug, Clone)]
pub enum Op {
    Put(Vec<u8>, Vec<u8>),
    Delete(Vec<u8>),
}

/// Writes applied together or not at all.
#[derive(Debug, Clone, Default)]
pub struct Batch {
    pub ops: Vec<Op>,
}

impl Batch {
    pub fn put(&mut self, key: impl Into<Vec<u8>>, value: impl Into<Vec<u8>>) {
        self.ops.push(Op::Put(key.into(), value.into()));
    }
    pub fn delete(&mut self, key: impl Into<Vec<u8>>) {
        self.ops.push(Op::Delete(key.into()));
    }
    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }
}

/// A key and its value.
pub type Entry = (Vec<u8>, Vec<u8>);

/// An ordered key-value store with atomic, durable batches.
pub trait Store: Send + Sync + 'static {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError>;
    /// Every entry whose key starts with `prefix`, in key order.
    fn scan(&self, prefix: &[u8]) -> Result<Vec<Entry>, StoreError>;
    /// Up to `limit` entries with this prefix whose keys are greater than
    /// `after`, in key order (paging through long prefixes).
    fn scan_after(
        &self,
        prefix: &[u8],
        after: &[u8],
        limit: usize,
    ) -> Result<Vec<Entry>, StoreError> {
        Ok(self
            .scan(prefix)?
            .into_iter()
            .filter(|(k, _)| k.as_slice() > after)
            .take(limit)
            .collect())
    }
    /// The last entry (greatest key) with this prefix.
    fn last(&self, prefix: &[u8]) -> Result<Option<Entry>, StoreError>;
    /// Applies `batch` atomically; returns once it is durable.
    fn commit(&self, batch: Batch) -> Result<(), StoreError>;
    /// A new id, unique and increasing for the life of the data directory.
    fn next_id(&self) -> Result<u64, StoreError>;
}

//! The sled 0.34 backend of [`Store`](crate::Store).

use std::path::Path;

use crate::{Batch, Entry, Op, SCHEMA_VERSION, Store, StoreError};

const SCHEMA_KEY: &[u8] = b"meta/schema_version";

/// All records live in one sled tree, so a [`Batch`] is one atomic
/// `apply_batch`.
pub struct SledStore {
    db: sled::Db,
    tree: sled::Tree,
    /// Whether commits wait for fsync (on in the service; benchmarks
    /// measure with it on).
    durable: bool,
    /// Group commit: batches applied so far, and (under the lock) how many
    /// of them a finished flush covered. A committer that finds its batch
    /// covered by a flush another one made returns without an fsync of its own.
    applied: std::sync::atomic::AtomicU64,
    flushed: std::sync::Mutex<u64>,
    group_commit: bool,
}

fn backend(e: sled::Error) -> StoreError {
    StoreError::Backend(e.to_string())
}

impl SledStore {
    /// Opens (creating if needed) the store in `dir`, checking the schema
    /// version.
    pub fn open(dir: &Path) -> Result<Self, StoreError> {
        let db = sled::Config::new()
            .path(dir)
            .mode(sled::Mode::HighThroughput)
            .open()
            .map_err(|e| match e {
                sled::Error::Io(io) if io.kind() == std::io::ErrorKind::WouldBlock => {
                    StoreError::Backend(format!(
                        "{} is in use by another podium process ({io})",
                        dir.display()
                    ))
                }
                other => backend(other),
            })?;
        let tree = db.open_tree("podium").map_err(backend)?;
        let store = SledStore {
            db,
            tree,
            durable: true,
            applied: std::sync::atomic::AtomicU64::new(0),
            flushed: std::sync::Mutex::new(0),
            group_commit: true,
        };
        match store.tree.get(SCHEMA_KEY).map_err(backend)? {
            None => {
                let mut b = Batch::default();
                b.put(SCHEMA_KEY, SCHEMA_VERSION.to_string());
                store.commit(b)?;
            }
            Some(v) if v.as_ref() == SCHEMA_VERSION.to_string().as_bytes() => {}
            Some(v) => {
                return Err(StoreError::SchemaMismatch {
                    path: dir.display().to_string(),
                    found: String::from_utf8_lossy(&v).into_owned(),
                    expected: SCHEMA_VERSION,
                });
            }
        }
        Ok(store)
    }

    /// Commits without waiting for fsync (tests that do not crash the process).
    pub fn set_durable(&mut self, durable: bool) {
        self.durable = durable;
    }

    /// Every durable commit flushes on its own (the benchmark's baseline for
    /// group commit).
    pub fn set_group_commit(&mut self, on: bool) {
        self.group_commit = on;
    }
}

impl Store for SledStore {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.tree.get(key).map_err(backend)?.map(|v| v.to_vec()))
    }

    fn scan(&self, prefix: &[u8]) -> Result<Vec<Entry>, StoreError> {
        self.tree
            .scan_prefix(prefix)
            .map(|r| r.map(|(k, v)| (k.to_vec(), v.to_vec())).map_err(backend))
            .collect()
    }

    fn scan_after(
        &self,
        prefix: &[u8],
        after: &[u8],
        limit: usize,
    ) -> Result<Vec<Entry>, StoreError> {
        use std::ops::Bound;
        let start = if after < prefix {
            Bound::Included(prefix.to_vec())
        } else {
            Bound::Excluded(after.to_vec())
        };
        self.tree
            .range::<Vec<u8>, _>((start, Bound::Unbounded))
            .take_while(|r| r.as_ref().map_or(true, |(k, _)| k.starts_with(prefix)))
            .take(limit)
            .map(|r| r.map(|(k, v)| (k.to_vec(), v.to_vec())).map_err(backend))
            .collect()
    }

    fn last(&self, prefix: &[u8]) -> Result<Option<Entry>, StoreError> {
        match self.tree.scan_prefix(prefix).next_back() {
            Some(r) => Ok(Some(
                r.map(|(k, v)| (k.to_vec(), v.to_vec())).map_err(backend)?,
            )),
            None => Ok(None),
        }
    }

    fn commit(&self, batch: Batch) -> Result<(), StoreError> {
        let mut b = sled::Batch::default();
        for op in batch.ops {
            match op {
                Op::Put(k, v) => b.insert(k, v),
                Op::Delete(k) => b.remove(k),
            }
        }
        self.tree.apply_batch(b).map_err(backend)?;
        if !self.durable {
            return Ok(());
        }
        if !self.group_commit {
            self.db.flush().map_err(backend)?;
            return Ok(());
        }
        use std::sync::atomic::Ordering;
        let mine = self.applied.fetch_add(1, Ordering::SeqCst) + 1;
        let mut flushed = self
            .flushed
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if *flushed >= mine {
            // A flush that started after our batch was applied covered it.
            return Ok(());
        }
        // Everything applied before this point is in sled's buffers and
        // becomes durable with this flush: the waiting committers' batches too.
        let target = self.applied.load(Ordering::SeqCst);
        self.db.flush().map_err(backend)?;
        *flushed = target;
        Ok(())
    }

    fn next_id(&self) -> Result<u64, StoreError> {
        self.db.generate_id().map_err(backend)
    }
}

//! Per-call limits and the store's resource limiter.

use std::time::Duration;

/// Limits applied to every driver call. The defaults suit provisioning work:
/// a driver waits on remote APIs far more than it computes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Wall-clock deadline of one call, host waits included.
    pub deadline: Duration,
    /// Cap on a driver's linear memory, in bytes (all memories together).
    pub memory: u64,
    /// Cap on the bytes a call may return (values + secrets + state + plan).
    pub output: u64,
    /// Cap on log bytes kept per call; later lines are dropped and counted.
    pub log_bytes: usize,
    /// Cap on table elements (function references) per table.
    pub table_elements: usize,
    /// Native stack the guest may use.
    pub max_wasm_stack: usize,
    /// How many calls may run at once (sizes the pooling allocator).
    pub max_concurrent_calls: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            deadline: Duration::from_secs(30),
            memory: 128 << 20,
            output: 1 << 20,
            log_bytes: 64 << 10,
            table_elements: 100_000,
            max_wasm_stack: 1 << 20,
            max_concurrent_calls: 64,
        }
    }
}

/// Enforces the memory and table caps of one store and remembers whether the
/// memory cap was hit, so the resulting trap can be reported as what it is.
#[derive(Debug)]
pub struct Limiter {
    memory_cap: u64,
    table_cap: usize,
    memory_in_use: u64,
    /// The size that was refused, if the cap was hit.
    pub memory_refused: Option<u64>,
}

impl Limiter {
    pub fn new(limits: &Limits) -> Limiter {
        Limiter {
            memory_cap: limits.memory,
            table_cap: limits.table_elements,
            memory_in_use: 0,
            memory_refused: None,
        }
    }
}

impl wasmtime::ResourceLimiter for Limiter {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let growth = (desired - current.min(desired)) as u64;
        let total = self.memory_in_use.saturating_add(growth);
        if total > self.memory_cap {
            self.memory_refused = Some(total);
            // A trap, not a failed `memory.grow`: a guest that ignores the
            // failure would otherwise keep running in an undefined state.
            wasmtime::bail!("memory limit exceeded")
        }
        self.memory_in_use = total;
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= self.table_cap)
    }

    fn instances(&self) -> usize {
        64
    }

    fn tables(&self) -> usize {
        64
    }

    fn memories(&self) -> usize {
        16
    }
}

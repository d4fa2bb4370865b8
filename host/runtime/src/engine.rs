//! The one wasmtime `Engine` of the process and its epoch ticker.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

use crate::RuntimeError;
use crate::limits::Limits;

/// How often the epoch advances. Deadlines are checked at this granularity,
/// and a running driver yields to the async executor this often.
pub const EPOCH_TICK: Duration = Duration::from_millis(5);

/// Which instance allocator the engine ended up with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Allocator {
    Pooling,
    OnDemand,
}

/// Build the engine: component model, async, epoch interruption, and the
/// pooling allocator when the machine allows it (it reserves virtual memory
/// up front, which a tight `ulimit -v` forbids); on-demand otherwise.
pub fn build(limits: &Limits, pooling: bool) -> Result<(Engine, Allocator), RuntimeError> {
    if pooling {
        match Engine::new(&config(limits, Some(pooling_config(limits)))) {
            Ok(engine) => return Ok((engine, Allocator::Pooling)),
            Err(e) => tracing::warn!(
                error = %e,
                "pooling allocator unavailable on this machine; using on-demand allocation"
            ),
        }
    }
    Engine::new(&config(limits, None))
        .map(|e| (e, Allocator::OnDemand))
        .map_err(|e| RuntimeError::Engine(e.to_string()))
}

fn config(limits: &Limits, pooling: Option<PoolingAllocationConfig>) -> Config {
    let mut c = Config::new();
    c.wasm_component_model(true)
        .epoch_interruption(true)
        .wasm_backtrace_details(wasmtime::WasmBacktraceDetails::Enable)
        .max_wasm_stack(limits.max_wasm_stack);
    if let Some(p) = pooling {
        c.allocation_strategy(InstanceAllocationStrategy::Pooling(p));
    }
    c
}

/// Bytes of each pooled memory, table and stack kept resident between calls.
const KEEP_RESIDENT: usize = 512 << 10;

fn pooling_config(limits: &Limits) -> PoolingAllocationConfig {
    let mut p = PoolingAllocationConfig::new();
    let slots = limits.max_concurrent_calls.max(1);
    // Heavy guests (Python, JavaScript) are made of several core instances,
    // memories and tables; size the per-component limits for them.
    p.total_component_instances(slots)
        .total_core_instances(slots * 16)
        .total_memories(slots * 4)
        .total_tables(slots * 8)
        .total_stacks(slots)
        .max_core_instances_per_component(32)
        .max_memories_per_component(4)
        .max_tables_per_component(16)
        .max_memory_size(limits.memory as usize)
        .max_component_instance_size(1 << 20)
        .max_core_instance_size(1 << 20)
        // Reset the first pages of memories, tables and fiber stacks with
        // memset instead of madvise: a typical driver call touches a few
        // dozen pages, and faulting them back in each call costs more.
        .linear_memory_keep_resident(KEEP_RESIDENT)
        .table_keep_resident(KEEP_RESIDENT)
        .async_stack_keep_resident(KEEP_RESIDENT);
    p
}

/// Advances the engine's epoch every [`EPOCH_TICK`] on a thread of its own,
/// until dropped.
pub struct Ticker {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Ticker {
    pub fn start(engine: Engine) -> Result<Ticker, RuntimeError> {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::Builder::new()
            .name("podium-epoch".into())
            .spawn(move || {
                while !flag.load(Ordering::Relaxed) {
                    std::thread::sleep(EPOCH_TICK);
                    engine.increment_epoch();
                }
            })
            .map_err(|e| RuntimeError::Engine(format!("starting the epoch ticker: {e}")))?;
        Ok(Ticker {
            stop,
            thread: Some(thread),
        })
    }
}

impl Drop for Ticker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

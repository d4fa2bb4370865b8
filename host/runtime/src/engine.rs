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
    // Measured per call (core instances / memories / tables, initial memory,
    // largest table): Rust 3 / 1 / 2, 0.3 MiB, 170 elements; Python
    // (componentize-py 0.25) 14 / 1 / 2, 12.4 MiB, 5766; JavaScript
    // (ComponentizeJS 0.23) 4 / 1 / 2, 9.1 MiB, 7784.
    p.total_component_instances(slots)
        .total_core_instances(slots * 16)
        .total_memories(slots * 4)
        .total_tables(slots * 8)
        .total_stacks(slots)
        .max_core_instances_per_component(32)
        .max_memories_per_component(4)
        .max_tables_per_component(16)
        // The pool's own default (20 000) would silently undercut
        // `Limits::table_elements`: a Python driver with native extension
        // modules easily has more functions in its table.
        .table_elements(limits.table_elements)
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

#[cfg(test)]
mod tests {
    use wasmtime::Store;
    use wasmtime::component::{Component, Linker};

    use super::*;
    use crate::limits::Limiter;

    /// A component shaped like a heavy guest: `instances` core instances,
    /// one memory of `pages` 64 KiB pages that grows by `grow` pages, and a
    /// function table of `elements`.
    fn heavy(instances: usize, pages: u32, grow: u32, elements: u32) -> String {
        let more: String = (1..instances)
            .map(|i| format!("(core module $m{i}) (core instance (instantiate $m{i}))"))
            .collect();
        format!(
            r#"(component
                (core module $main
                  (memory {pages})
                  (table {elements} funcref)
                  (func (export "run") (result i32)
                    (memory.grow (i32.const {grow}))))
                (core instance $i (instantiate $main))
                {more}
                (func (export "run") (result s32) (canon lift (core func $i "run"))))"#
        )
    }

    type Running = (Store<Limiter>, wasmtime::component::TypedFunc<(), (i32,)>);

    async fn start(
        engine: &Engine,
        limits: &Limits,
        component: &Component,
    ) -> wasmtime::Result<Running> {
        let mut store = Store::new(engine, Limiter::new(limits));
        store.limiter(|l| l);
        // No ticker runs here; any deadline in the future will do.
        store.set_epoch_deadline(1_000);
        let instance = Linker::new(engine)
            .instantiate_async(&mut store, component)
            .await?;
        let run = instance.get_typed_func::<(), (i32,)>(&mut store, "run")?;
        Ok((store, run))
    }

    async fn finish((mut store, run): Running) -> wasmtime::Result<i32> {
        Ok(run.call_async(&mut store, ()).await?.0)
    }

    /// Python-sized guests (and more: a bigger table than the pool's own
    /// default allows) instantiate and grow in the pool, as many at once as
    /// the runtime allows calls.
    #[tokio::test]
    async fn the_pool_fits_heavy_guests() {
        let limits = Limits::default();
        let (engine, allocator) = build(&limits, true).expect("engine");
        if allocator != Allocator::Pooling {
            eprintln!("pooling is not available on this machine; nothing to test");
            return;
        }
        // 16 core instances, 24 MiB growing to 88 MiB, 50 000 table elements.
        let component = Component::new(&engine, heavy(16, 384, 1024, 50_000)).expect("component");
        let mut running = Vec::new();
        for _ in 0..limits.max_concurrent_calls {
            running.push(
                start(&engine, &limits, &component)
                    .await
                    .expect("instantiates in the pool"),
            );
        }
        for r in running {
            assert_eq!(finish(r).await.expect("grows within the cap"), 384);
        }
        // The memory cap still holds: growing past it traps.
        let over = Component::new(&engine, heavy(1, 384, 2048 - 384 + 1, 10)).expect("component");
        let err = finish(start(&engine, &limits, &over).await.expect("instantiates"))
            .await
            .expect_err("over the cap");
        assert!(
            format!("{err:?}").contains("memory limit exceeded"),
            "{err:?}"
        );
    }
}

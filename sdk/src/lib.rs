//! Write [Podium](https://github.com/podium-dev/podium) drivers in Rust.
//!
//! A driver is a WebAssembly component (`wasm32-wasip2`) implementing the
//! `podium:driver@0.1.0` WIT contract. With this SDK you write a struct, the
//! four methods of [`Driver`], and call [`export!`]; the SDK decodes the JSON
//! documents of each request into your types, encodes your outputs, and maps
//! errors onto the contract's `error` variant.
//!
//! Helpers: [`naming`] (stable names for what a driver creates, with a
//! hash of the resource) and [`retry`] (exponential backoff).
//!
//! Host capabilities: [`log`] (log lines, masked and capped by the host),
//! [`http`] (a small blocking client over `wasi:http/outgoing-handler`),
//! [`tls`] (a CA bundle and client identity for one HTTPS origin) and
//! [`sql`] (database connections held by the host). Each reaches only what
//! the resource definition grants; anything else is [`Error::Denied`].
//! Directories granted with `file:///ABS/DIR` are visible to `std::fs` at
//! the same path (read-only during `plan`).
//!
//! # A complete driver
//!
//! `Cargo.toml`:
//!
//! ```toml
//! [lib]
//! crate-type = ["cdylib"]
//!
//! [dependencies]
//! podium-driver-sdk = "0.1"
//! serde = { version = "1", features = ["derive"] }
//! ```
//!
//! `src/lib.rs`:
//!
//! ```
//! use podium_driver_sdk::{Driver, Error, Info, Outputs, Plan, Request, log};
//! use serde::{Deserialize, Serialize};
//!
//! /// `driver_inputs.values` of the resource definition.
//! #[derive(Deserialize)]
//! struct Values {
//!     host: String,
//!     #[serde(default = "default_port")]
//!     port: u16,
//! }
//!
//! fn default_port() -> u16 {
//!     5432
//! }
//!
//! /// `driver_inputs.secrets`.
//! #[derive(Deserialize)]
//! struct Secrets {
//!     password: String,
//! }
//!
//! /// What we keep between calls.
//! #[derive(Serialize, Deserialize)]
//! struct State {
//!     name: String,
//! }
//!
//! struct Database;
//!
//! impl Driver for Database {
//!     type Params = serde_json::Value; // untyped: anything goes
//!     type Values = Values;
//!     type Secrets = Secrets;
//!     type State = State;
//!
//!     fn info() -> Info {
//!         Info::new("example/database", env!("CARGO_PKG_VERSION")).resource_types(["postgres"])
//!     }
//!
//!     fn plan(req: Request<Self>) -> Result<Plan, Error> {
//!         let name = format!("db_{}", req.context.guresid);
//!         Ok(match req.state {
//!             None => Plan::create(format!("create database {name}")),
//!             Some(state) if state.name == name => Plan::unchanged(format!("database {name}")),
//!             Some(state) => Plan::update(format!("rename {} to {name}", state.name)),
//!         })
//!     }
//!
//!     fn apply(req: Request<Self>) -> Result<Outputs<State>, Error> {
//!         let name = format!("db_{}", req.context.guresid);
//!         log::info(format!("provisioning {name} on {}", req.driver_values.host));
//!         // ... talk to the backend with `podium_driver_sdk::sql` or `http` ...
//!         Ok(Outputs::new()
//!             .value("host", req.driver_values.host)
//!             .value("port", req.driver_values.port)
//!             .value("name", name.clone())
//!             .secret("password", req.driver_secrets.password)
//!             .state(State { name }))
//!     }
//!
//!     fn delete(_req: Request<Self>) -> Result<(), Error> {
//!         Ok(())
//!     }
//! }
//!
//! podium_driver_sdk::export!(Database);
//! # fn main() {}
//! ```
//!
//! Build it with `cargo build --target wasm32-wasip2 --release`; the `.wasm`
//! under `target/wasm32-wasip2/release/` is the component to upload.
//!
//! # Testing natively
//!
//! Everything but the host calls runs on the build machine: the functions in
//! [`adapter`] call a driver exactly like the host does (JSON text in, JSON
//! text out), so `cargo test` can cover decoding, outputs and errors. Outside
//! WebAssembly, [`log`] prints to stderr and [`http`]/[`sql`] answer
//! [`Error::Unavailable`].

pub mod adapter;
mod driver;
mod error;
pub mod http;
pub mod json;
pub mod log;
pub mod naming;
pub mod retry;
pub mod sql;
pub mod time;
pub mod tls;
mod types;

pub use driver::{Driver, Request};
pub use error::{Error, Result};
pub use types::{Action, Context, Info, Outputs, Plan};

// Re-exported so driver crates need no direct dependency to name them.
pub use serde;
pub use serde_json;

/// Bindings generated from `wit/driver.wit` (world `podium:driver/component`).
/// WASI interfaces come from the `wasip2` crate, so there is one copy of
/// every WASI type.
#[doc(hidden)]
#[allow(unsafe_code, missing_docs, clippy::all)] // generated code
pub mod bindings {
    wit_bindgen::generate!({
        path: "../wit",
        world: "podium:driver/component",
        pub_export_macro: true,
        default_bindings_module: "podium_driver_sdk::bindings",
        export_macro_name: "__export_driver",
        with: {
            "wasi:http/types@0.2.12": wasip2::http::types,
            "wasi:http/outgoing-handler@0.2.12": wasip2::http::outgoing_handler,
            "wasi:io/poll@0.2.12": wasip2::io::poll,
            "wasi:io/error@0.2.12": wasip2::io::error,
            "wasi:io/streams@0.2.12": wasip2::io::streams,
            "wasi:clocks/monotonic-clock@0.2.12": wasip2::clocks::monotonic_clock,
        },
    });
}

#[doc(hidden)]
pub mod __private;

/// Exports a [`Driver`] implementation as the component's `driver` interface.
///
/// Use it once per driver crate (a `cdylib`), at the crate root:
///
/// ```ignore
/// podium_driver_sdk::export!(MyDriver);
/// ```
// Kept by hand: rustfmt reflows macro bodies inconsistently.
#[rustfmt::skip]
#[macro_export]
macro_rules! export {
    ($driver:ty) => {
        // Only components export: a native build (unit tests, benchmarks
        // linking a driver as a library) has no use for the component ABI,
        // and its symbol names are not valid native linker symbols.
        #[cfg(target_family = "wasm")]
        const _: () = {
            #[doc(hidden)]
            struct __PodiumDriverExport;

            impl $crate::__private::Guest for __PodiumDriverExport {
                fn info() -> $crate::__private::WitInfo {
                    $crate::__private::info::<$driver>()
                }

                fn plan(
                    request: $crate::__private::WitRequest,
                ) -> ::core::result::Result<$crate::__private::WitPlan, $crate::__private::WitError> {
                    $crate::__private::plan::<$driver>(request)
                }

                fn apply(
                    request: $crate::__private::WitRequest,
                ) -> ::core::result::Result<$crate::__private::WitOutputs, $crate::__private::WitError> {
                    $crate::__private::apply::<$driver>(request)
                }

                fn delete(
                    request: $crate::__private::WitRequest,
                ) -> ::core::result::Result<(), $crate::__private::WitError> {
                    $crate::__private::delete::<$driver>(request)
                }
            }

            $crate::bindings::__export_driver!(__PodiumDriverExport with_types_in $crate::bindings);
        };
    };
}

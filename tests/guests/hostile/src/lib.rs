//! `podium-test/hostile`: a test driver that misbehaves on demand, for the
//! sandbox tests of the host runtime.
//!
//! `plan`, `apply` and `delete` all dispatch on `params.mode`:
//!
//! | mode | behaviour |
//! |---|---|
//! | `ok` | output values = params, output secrets = driver secrets, state `{"n": previous n + 1}` |
//! | `loop` | spins forever |
//! | `memhog` | allocates and touches 1 MiB chunks forever |
//! | `panic` | panics (`hostile guest panicked on purpose`) |
//! | `oversize` | output value `big`: a string of `params.size` bytes (default 2 MiB) |
//! | `fail` | error of kind `params.kind` (default `failed`) with `params.message` |
//! | `http` | `params.method` (default `GET`) on `params.url`, optional `params.body`; values `{status, body}` |
//! | `sql` | opens `params.url` as driver secrets `user`/`password`, runs `params.query` (default `select 1 as one`) with `params.params`; value `rows` |
//! | `sleep` | sleeps `params.ms` milliseconds, then `ok` |
//! | `probe` | values `env_count`, `args_count`, `fs_root`, `fs_cwd`, `socket` (`true` or the error text) |
//! | `log` | logs `params.message` at every level and every driver secret value, then `ok` |
//! | `tls` | registers TLS settings for `params.origin` (`params.ca`, `params.cert` + `params.key`, PEM), then does what `http` does |
//! | `escapes` | logs terminal escape sequences (`ESC[2J`, OSC `ESC]0;pwned BEL`, an OSC 8 link, 8-bit CSI/OSC) at `warn`, then fails with a message containing some |
//! | `fs` | `params.op` (`write`, `read`, `mkdir`, `remove`, `list`) on `params.path` (`params.content` to write); value `result`: `true`, the text, the names, or the error text |
//!
//! `plan` answers `create` (no state) or `update` with summary
//! `hostile <mode>`; in `oversize` mode the summary is the big string, so the
//! host's size cap covers plans too; in `fs` mode it is `hostile fs: <result>`. `delete` runs the mode and succeeds.

mod modes;

use podium_driver_sdk::serde_json::{Map, Value};
use podium_driver_sdk::{Driver, Error, Info, Outputs, Plan, Request};

/// The hostile test driver.
pub struct Hostile;

impl Driver for Hostile {
    type Params = Map<String, Value>;
    type Values = Map<String, Value>;
    type Secrets = Map<String, Value>;
    type State = Value;

    fn info() -> Info {
        Info::new("podium-test/hostile", env!("CARGO_PKG_VERSION")).resource_types(["*"])
    }

    fn plan(req: Request<Self>) -> Result<Plan, Error> {
        let first = req.state.is_none();
        let mode = modes::mode(&req.params)?.to_owned();
        let outputs = modes::run(req)?;
        let summary = match (mode.as_str(), outputs.values.get("big")) {
            ("oversize", Some(Value::String(big))) => big.clone(),
            // What the file system answered, so tests can see it in plans.
            ("fs", _) => format!("hostile fs: {}", outputs.values["result"]),
            _ => format!("hostile {mode}"),
        };
        Ok(if first {
            Plan::create(summary)
        } else {
            Plan::update(summary)
        })
    }

    fn apply(req: Request<Self>) -> Result<Outputs<Value>, Error> {
        modes::run(req)
    }

    fn delete(req: Request<Self>) -> Result<(), Error> {
        modes::run(req).map(drop)
    }
}

podium_driver_sdk::export!(Hostile);

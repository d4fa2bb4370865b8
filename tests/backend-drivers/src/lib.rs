//! Support for the backend driver tests: start the real servers through
//! `scripts/backends/<name>.sh`, run the embedded built-in drivers in the real
//! sandbox (`podium_runtime::Runtime`) with real grants, and look at the
//! results from outside with the servers' own clients.
//!
//! The servers keep running after the tests (starting is idempotent, so the
//! next run reuses them); `scripts/test.sh` stops them at the end.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::{Command, Output};
use std::sync::{Arc, LazyLock, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use podium_runtime::{
    CallReport, Context, Driver, DriverRequest, Grants, Limits, LogLine, Operation, Outcome,
    Outputs, PlanAction, Runtime, RuntimeConfig,
};
use serde_json::{Value, json};

/// The workspace root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A test server run by `scripts/backends/<name>.sh`.
#[derive(Debug)]
pub struct Backend {
    pub name: &'static str,
    env: BTreeMap<String, String>,
}

static BACKENDS: Mutex<BTreeMap<&'static str, &'static Backend>> = Mutex::new(BTreeMap::new());

/// The backend `name`, installed (if missing) and started (if not running)
/// on first use in this process.
pub fn backend(name: &'static str) -> &'static Backend {
    let mut backends = BACKENDS.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(b) = backends.get(name) {
        return b;
    }
    script(name, "install");
    script(name, "start");
    let env = script(name, "env")
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    let backend: &'static Backend = Box::leak(Box::new(Backend { name, env }));
    backends.insert(name, backend);
    backend
}

impl Backend {
    /// A value the script's `env` printed.
    pub fn var(&self, key: &str) -> &str {
        self.env
            .get(key)
            .unwrap_or_else(|| panic!("{}.sh env prints no {key}", self.name))
    }

    pub fn stop(&self) {
        script(self.name, "stop");
    }

    pub fn start(&self) {
        script(self.name, "start");
    }
}

/// Runs `scripts/backends/<name>.sh <command>`; panics with its output if it
/// fails. Returns its stdout.
pub fn script(name: &str, command: &str) -> String {
    let path = root().join("scripts/backends").join(format!("{name}.sh"));
    let out = Command::new("bash")
        .arg(&path)
        .arg(command)
        .output()
        .unwrap_or_else(|e| panic!("running {}: {e}", path.display()));
    assert!(
        out.status.success(),
        "{} {command} failed:\n{}\n{}",
        path.display(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Runs a command, returning its output (whatever the exit status).
pub fn run(program: &str, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(program);
    cmd.args(args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output()
        .unwrap_or_else(|e| panic!("running {program}: {e}"))
}

/// The one runtime of the test process, with the service's default limits.
pub static RUNTIME: LazyLock<Runtime> = LazyLock::new(|| {
    Runtime::new(RuntimeConfig {
        limits: Limits::default(),
        ..RuntimeConfig::default()
    })
    .expect("the driver runtime starts")
});

/// A built-in driver, loaded (compiled once per process) from the bytes
/// embedded in `podium-builtins`.
pub fn driver(id: &str) -> Arc<Driver> {
    static LOADED: Mutex<BTreeMap<String, Arc<Driver>>> = Mutex::new(BTreeMap::new());
    let mut loaded = LOADED.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(d) = loaded.get(id) {
        return d.clone();
    }
    let builtin = podium_builtins::get(id).unwrap_or_else(|| panic!("no built-in driver {id}"));
    let driver = RUNTIME
        .load(id, builtin.component)
        .unwrap_or_else(|e| panic!("loading {id}: {e}"));
    loaded.insert(id.to_owned(), driver.clone());
    driver
}

/// A context with a GUResID unique to this test run, so every run gets
/// fresh names and leftovers of an earlier, failed run are never reused.
pub fn context(env: &str, res_type: &str, res_id: &str) -> Context {
    static RUN: LazyLock<String> = LazyLock::new(|| {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default();
        format!("{}-{nanos}", std::process::id())
    });
    Context {
        app_id: "bdt".into(),
        env_id: env.into(),
        env_type: "development".into(),
        res_id: res_id.into(),
        res_type: res_type.into(),
        res_class: "default".into(),
        guresid: format!("{}/{env}/{res_type}/{res_id}", *RUN),
        deploy_id: "d-test".into(),
    }
}

/// A failed call as the service would report it.
#[derive(Debug, Clone)]
pub struct Failure {
    /// `denied`, `unavailable`, ... (or a sandbox fault code).
    pub kind: &'static str,
    /// The full message, naming driver, digest, call and resource.
    pub message: String,
    pub logs: Vec<LogLine>,
}

/// One resource, called the way the pipeline calls it: the state an
/// `apply` returns is passed to the next call.
pub struct Resource {
    pub driver: Arc<Driver>,
    pub context: Context,
    pub params: Value,
    pub values: Value,
    pub secrets: Value,
    pub grants: Vec<String>,
    pub state: Option<Value>,
    /// The logs of the last call.
    pub logs: Vec<LogLine>,
}

impl Resource {
    pub fn new(driver: &str, context: Context, values: Value, secrets: Value) -> Resource {
        Resource {
            driver: self::driver(driver),
            context,
            params: json!({}),
            values,
            secrets,
            grants: Vec::new(),
            state: None,
            logs: Vec::new(),
        }
    }

    pub fn grant(mut self, grant: &str) -> Resource {
        self.grants.push(grant.to_owned());
        self
    }

    async fn call(&mut self, op: Operation) -> Result<Outcome, Failure> {
        let request = DriverRequest {
            context: self.context.clone(),
            params: self.params.clone(),
            driver_values: self.values.clone(),
            driver_secrets: self.secrets.clone(),
            state: self.state.clone(),
        };
        let grants = Grants::parse(&self.grants).expect("grants parse");
        match RUNTIME.call(&self.driver, op, &request, &grants).await {
            Ok(CallReport { result, logs, .. }) => {
                self.logs = logs;
                Ok(result)
            }
            Err(CallReport { result, logs, .. }) => {
                self.logs = logs.clone();
                Err(Failure {
                    kind: result.kind_code(),
                    message: result.to_string(),
                    logs,
                })
            }
        }
    }

    pub async fn plan(&mut self) -> Result<(PlanAction, String), Failure> {
        match self.call(Operation::Plan).await? {
            Outcome::Plan { action, summary } => Ok((action, summary)),
            other => panic!("plan returned {other:?}"),
        }
    }

    /// Applies and keeps the returned state for the next call.
    pub async fn apply(&mut self) -> Result<Outputs, Failure> {
        match self.call(Operation::Apply).await? {
            Outcome::Applied(out) => {
                self.state = out.state.clone();
                Ok(out)
            }
            other => panic!("apply returned {other:?}"),
        }
    }

    /// Deletes; the state is kept (a second delete gets it again).
    pub async fn delete(&mut self) -> Result<(), Failure> {
        match self.call(Operation::Delete).await? {
            Outcome::Deleted => Ok(()),
            other => panic!("delete returned {other:?}"),
        }
    }
}

/// A string output value.
pub fn value<'a>(out: &'a Outputs, key: &str) -> &'a str {
    out.values
        .get(key)
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("no string output value {key} in {:?}", out.values))
}

/// A string secret output.
pub fn secret<'a>(out: &'a Outputs, key: &str) -> &'a str {
    out.secrets
        .get(key)
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("no string secret output {key}"))
}

/// The secret is in neither the error nor the logs, and the driver did not
/// even try to leak it: the host masks known secrets as `<redacted>`, so a
/// mask in the text would mean the driver had put the secret there.
pub fn assert_no_secret(failure: &Failure, secret: &str) {
    // Shown with --nocapture: what a user would read.
    eprintln!("{}: {}", failure.kind, failure.message);
    let logs: Vec<&str> = failure.logs.iter().map(|l| l.message.as_str()).collect();
    for text in std::iter::once(failure.message.as_str()).chain(logs) {
        assert!(!text.contains(secret), "secret in {text:?}");
        assert!(
            !text.contains("<redacted>"),
            "the driver put a secret into {text:?}"
        );
    }
}

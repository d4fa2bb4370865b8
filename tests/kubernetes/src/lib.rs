//! Test support for the `podium/kubernetes` driver: the built-in component
//! in the real sandbox, request builders, the Kubernetes API server backend
//! (`scripts/backends/kube.sh`) and the schema checker venv.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::missing_panics_doc)]

pub mod backend;
pub mod checks;
pub mod pipeline;
pub mod schemas;

use std::path::{Path, PathBuf};
use std::sync::{Arc, LazyLock};
use std::time::Duration;

use podium_runtime::{
    CallError, CallReport, Context, Driver, DriverRequest, Grants, Limits, LogLine, Operation,
    Outcome, Outputs, Runtime, RuntimeConfig,
};
use serde_json::{Value, json};

/// The repository root.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

static RUNTIME: LazyLock<Runtime> = LazyLock::new(|| {
    Runtime::new(RuntimeConfig {
        limits: Limits {
            deadline: Duration::from_secs(30),
            ..Limits::default()
        },
        ..RuntimeConfig::default()
    })
    .expect("runtime")
});

static DRIVER: LazyLock<Arc<Driver>> = LazyLock::new(|| {
    let builtin = podium_builtins::get("podium/kubernetes").expect("built-in podium/kubernetes");
    RUNTIME
        .load(builtin.id, builtin.component)
        .expect("load podium/kubernetes")
});

/// The runtime the tests call the driver with.
pub fn runtime() -> &'static Runtime {
    &RUNTIME
}

/// The built-in driver, loaded once.
pub fn driver() -> Arc<Driver> {
    DRIVER.clone()
}

/// A stable fake GUResID for a workload name (what the core would compute).
pub fn guresid(workload: &str) -> String {
    podium_driver_kubernetes::names::short_hash(&format!("shop/dev/workload/{workload}"), 40)
}

/// A `workload` request as the pipeline sends it, for app `shop`, env `dev`.
pub fn request(workload: &Value, values: Value, secrets: Value) -> DriverRequest {
    let name = workload["metadata"]["name"]
        .as_str()
        .unwrap_or("w")
        .to_owned();
    DriverRequest {
        context: Context {
            app_id: "shop".into(),
            env_id: "dev".into(),
            env_type: "development".into(),
            res_id: format!("modules.{name}"),
            res_type: "workload".into(),
            res_class: "default".into(),
            guresid: guresid(&name),
            deploy_id: "d-1".into(),
        },
        params: json!({ "workload": workload }),
        driver_values: values,
        driver_secrets: secrets,
        state: None,
    }
}

/// What one call ended with, with its logs.
#[derive(Debug)]
pub struct Called {
    pub result: Result<Outcome, CallError>,
    pub logs: Vec<LogLine>,
}

impl Called {
    /// The outputs of a successful `apply`.
    pub fn outputs(&self) -> &Outputs {
        match &self.result {
            Ok(Outcome::Applied(o)) => o,
            other => panic!("expected outputs, got {other:?}"),
        }
    }

    /// The plan of a successful `plan`: (action, summary).
    pub fn plan(&self) -> (String, String) {
        match &self.result {
            Ok(Outcome::Plan { action, summary }) => (
                serde_json::to_value(action)
                    .unwrap()
                    .as_str()
                    .unwrap()
                    .to_owned(),
                summary.clone(),
            ),
            other => panic!("expected a plan, got {other:?}"),
        }
    }

    /// The error of a failed call.
    pub fn error(&self) -> &CallError {
        match &self.result {
            Err(e) => e,
            Ok(o) => panic!("expected an error, got {o:?}"),
        }
    }

    /// Everything a user could see of the call (outcome, error, logs), as text.
    pub fn visible_text(&self) -> String {
        let outcome = match &self.result {
            Ok(Outcome::Applied(o)) => format!(
                "values={} state={}",
                Value::Object(o.values.clone()),
                o.state.clone().unwrap_or(Value::Null)
            ),
            Ok(other) => format!("{other:?}"),
            Err(e) => e.to_string(),
        };
        format!("{outcome}\n{}", serde_json::to_string(&self.logs).unwrap())
    }
}

/// One driver call in the sandbox with the given grants.
pub async fn call(op: Operation, request: &DriverRequest, grants: &[String]) -> Called {
    let grants = Grants::parse(grants).expect("grants");
    let driver = driver();
    match runtime().call(&driver, op, request, &grants).await {
        Ok(CallReport { result, logs, .. }) => Called {
            result: Ok(result),
            logs,
        },
        Err(CallReport { result, logs, .. }) => Called {
            result: Err(result),
            logs,
        },
    }
}

/// `apply`, then the request carries the new state (as the pipeline does).
pub async fn apply(request: &mut DriverRequest, grants: &[String]) -> Called {
    let called = call(Operation::Apply, request, grants).await;
    if let Ok(Outcome::Applied(o)) = &called.result {
        request.state = o.state.clone();
    }
    called
}

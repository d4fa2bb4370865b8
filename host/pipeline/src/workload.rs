//! The request of a `workload` node: the Score workload with its
//! placeholders resolved from the outputs of its resources. Strings that
//! contain a secret are replaced by `{"$secret": "<json pointer>"}` and their
//! plaintext goes to `driver_secrets.workload_secrets`, so a driver can keep
//! them out of anything that is not a secret (a Kubernetes `Secret`).

use std::collections::BTreeMap;

use podium_core::{OutputSource, ResourceKey, SharedValue, ValueMap, resources_of};
use podium_score::placeholder::{ResolveError, Resolved, Resolver};
use serde_json::{Map, Value, json};

/// The resolved `params` and the secrets they refer to.
pub struct WorkloadRequest {
    pub params: Value,
    pub secrets: Map<String, Value>,
}

struct Outputs<'a> {
    /// Resource name in the workload → its key (provisioned resources).
    keys: BTreeMap<String, Option<ResourceKey>>,
    outputs: &'a dyn OutputSource,
    values: &'a ValueMap,
}

impl Resolver for Outputs<'_> {
    fn resolve(&self, path: &[String]) -> Result<Resolved, ResolveError> {
        // path = ["resources", name, output, …]
        let name = path.get(1).map(String::as_str).unwrap_or_default();
        let Some(output) = path.get(2) else {
            return Err(ResolveError::new(format!(
                "resource '{name}' has outputs; name one, e.g. ${{resources.{name}.host}}"
            )));
        };
        let rest = &path[3..];
        match self.keys.get(name) {
            // `environment`: shared values.
            Some(None) => match self.values.get(output.as_str()) {
                Some(SharedValue { value, secret }) if rest.is_empty() => Ok(Resolved {
                    value: Value::String(value.clone()),
                    secret: *secret,
                }),
                Some(_) => Err(ResolveError::new(format!(
                    "shared value '{output}' is a string, it has no key '{}'",
                    rest.join(".")
                ))),
                None => Err(ResolveError::new(format!(
                    "shared value '{output}' is not set in this environment"
                ))),
            },
            Some(Some(key)) => {
                let Some(out) = self.outputs.outputs(key) else {
                    return Err(ResolveError::new(format!(
                        "resource '{name}' ({key}) has no outputs yet"
                    )));
                };
                let (value, secret) = match (out.values.get(output), out.secrets.get(output)) {
                    (Some(v), _) => (v, false),
                    (None, Some(v)) => (v, true),
                    (None, None) => {
                        let mut known: Vec<&str> = out
                            .values
                            .keys()
                            .chain(out.secrets.keys())
                            .map(String::as_str)
                            .collect();
                        known.sort_unstable();
                        return Err(ResolveError::new(format!(
                            "resource '{name}' ({key}) has no output '{output}' (it has: {})",
                            known.join(", ")
                        )));
                    }
                };
                let value = podium_score::expand::lookup(value, rest)?;
                Ok(Resolved {
                    value: value.clone(),
                    secret,
                })
            }
            None => Err(ResolveError::new(format!("no known resource '{name}'"))),
        }
    }
}

/// Resolves `workload` (a set module) for its workload node named `name`.
pub fn resolve(
    name: &str,
    workload: &Value,
    outputs: &dyn OutputSource,
    values: &ValueMap,
) -> Result<WorkloadRequest, String> {
    let uses = resources_of(workload).map_err(|e| e.to_string())?;
    let keys = uses
        .iter()
        .map(|u| (u.name.to_owned(), u.key(name)))
        .collect();
    let typed: podium_score::Workload =
        serde_json::from_value(workload.clone()).map_err(|e| format!("workload {name}: {e}"))?;
    let resolver = Outputs {
        keys,
        outputs,
        values,
    };
    let expanded = podium_score::expand_workload(&typed, &resolver).map_err(|errors| {
        errors
            .0
            .iter()
            .map(|f| format!("{}: {}", f.pointer, f.message))
            .collect::<Vec<_>>()
            .join("; ")
    })?;
    let mut params =
        serde_json::to_value(&expanded.workload).map_err(|e| format!("workload {name}: {e}"))?;
    let mut secrets = Map::new();
    for pointer in &expanded.secret_pointers {
        if let Some(slot) = params.pointer_mut(pointer) {
            let plain = std::mem::replace(slot, json!({"$secret": pointer}));
            secrets.insert(pointer.clone(), plain);
        }
    }
    Ok(WorkloadRequest {
        params: json!({"workload": params}),
        secrets,
    })
}

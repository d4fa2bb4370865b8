//! Placeholder expansion of a whole workload, exactly where the spec expands:
//! container `variables`, file `content` (unless `noExpand`), volume `source`
//! and resource `params`. Never `image`, `command`, `args`, file `source` or
//! `binaryContent`.
//!
//! `${metadata.…}` is answered from the workload itself; `${resources.<name>…}`
//! is checked against the declared resources and then handed to the caller's
//! [`Resolver`] (the pipeline's resource outputs), which also says whether
//! each value is secret.

use serde_json::Value;

use crate::diagnostics::{Report, Stage};
use crate::model::Workload;
use crate::placeholder::{
    ExpandError, Resolve, ResolveError, Resolved, Resolver, expand_string, expand_value,
    push_pointer_segment,
};

/// The resolver for Score placeholders: metadata lookups and resource
/// declaration checks here, resource outputs delegated.
pub struct ScoreResolver<'a> {
    metadata: Value,
    resources: Vec<String>,
    outputs: &'a dyn Resolver,
}

impl<'a> ScoreResolver<'a> {
    /// For `workload`, with resource outputs from `outputs`.
    pub fn new(workload: &Workload, outputs: &'a dyn Resolver) -> Self {
        Self {
            metadata: workload.metadata_json(),
            resources: workload.resources.keys().cloned().collect(),
            outputs,
        }
    }

    /// From the raw parts: the `metadata` object and the declared resource names.
    pub fn from_parts(
        metadata: Value,
        resources: impl IntoIterator<Item = String>,
        outputs: &'a dyn Resolver,
    ) -> Self {
        Self {
            metadata,
            resources: resources.into_iter().collect(),
            outputs,
        }
    }
}

impl Resolver for ScoreResolver<'_> {
    fn resolve(&self, path: &[String]) -> Result<Resolved, ResolveError> {
        match path.split_first() {
            Some((root, keys)) if root == "metadata" => {
                if keys.is_empty() {
                    return Err(ResolveError::new(
                        "requires at least a metadata key to lookup",
                    ));
                }
                lookup(&self.metadata, keys).map(|v| Resolved::public(v.clone()))
            }
            Some((root, rest)) if root == "resources" => {
                let Some(name) = rest.first() else {
                    return Err(ResolveError::new("requires at least a resource name"));
                };
                if !self.resources.iter().any(|r| r == name) {
                    return Err(ResolveError::new(format!("no known resource '{name}'")));
                }
                self.outputs.resolve(path)
            }
            _ => Err(ResolveError::new(
                "unknown reference root, use $$ to escape the substitution",
            )),
        }
    }
}

/// Walks `keys` down `value` (objects by key, arrays by index), with
/// score-go's error messages.
pub fn lookup<'v>(value: &'v Value, keys: &[String]) -> Result<&'v Value, ResolveError> {
    let mut current = value;
    for key in keys {
        current = match current {
            Value::Object(map) => map
                .get(key)
                .ok_or_else(|| ResolveError::new(format!("key '{key}' not found")))?,
            Value::Array(items) => key
                .parse::<usize>()
                .ok()
                .and_then(|i| items.get(i))
                .ok_or_else(|| ResolveError::new(format!("key '{key}' not found")))?,
            _ => {
                return Err(ResolveError::new(format!(
                    "cannot lookup key '{key}', context is not a map"
                )));
            }
        };
    }
    Ok(current)
}

/// An expanded workload.
#[derive(Debug, Clone, PartialEq)]
pub struct ExpandedWorkload {
    pub workload: Workload,
    /// JSON pointers of the values that contain a secret (a variable, a file
    /// content, a volume source, a resource's `params` leaf).
    pub secret_pointers: Vec<String>,
}

impl ExpandedWorkload {
    /// Whether any expanded value contains a secret.
    pub fn secret(&self) -> bool {
        !self.secret_pointers.is_empty()
    }
}

/// One failed placeholder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExpandFailure {
    pub pointer: String,
    pub message: String,
}

/// Every placeholder that failed to expand.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{} placeholder(s) failed to expand: {}", .0.len(), .0.iter().map(|f| format!("{}: {}", f.pointer, f.message)).collect::<Vec<_>>().join("; "))]
pub struct ExpandErrors(pub Vec<ExpandFailure>);

impl ExpandErrors {
    /// As a report about `file` (no line numbers: the workload is not tied to
    /// its source text any more).
    pub fn into_report(self, file: &str) -> Report {
        let mut report = Report::new(file, Stage::Expand);
        for failure in self.0 {
            report.push(None, &failure.pointer, failure.message);
        }
        report
    }
}

fn pointer(segments: &[&str]) -> String {
    let mut p = String::new();
    for s in segments {
        p.push('/');
        push_pointer_segment(&mut p, s);
    }
    p
}

/// A string site keeps string type: a whole-string placeholder resolving to
/// a number (say a port) becomes its JSON text.
fn into_string(value: Value) -> String {
    match value {
        Value::String(s) => s,
        other => other.to_string(),
    }
}

/// Expands every placeholder of `workload` where the spec allows them.
pub fn expand_workload(
    workload: &Workload,
    outputs: &dyn Resolver,
) -> Result<ExpandedWorkload, ExpandErrors> {
    let resolver = ScoreResolver::new(workload, outputs);
    let resolve: Resolve<'_> = &|path: &[String]| resolver.resolve(path);
    let mut out = workload.clone();
    let mut secrets = Vec::new();
    let mut failures = Vec::new();

    // Most strings hold no `$` at all: leave them untouched, and build the
    // pointer only when it is needed.
    let mut one = |text: &mut String, at: &[&str]| {
        if !text.contains('$') {
            return;
        }
        match expand_string(text, resolve) {
            Ok(expanded) => {
                if expanded.secret {
                    secrets.push(pointer(at));
                }
                *text = into_string(expanded.value);
            }
            Err(error) => failures.push(ExpandFailure {
                pointer: pointer(at),
                message: error.to_string(),
            }),
        }
    };

    for (cname, container) in &mut out.containers {
        for (key, value) in &mut container.variables {
            one(value, &["containers", cname, "variables", key]);
        }
        for (target, file) in &mut container.files {
            if !file.expands() {
                continue;
            }
            if let Some(content) = &mut file.content {
                one(content, &["containers", cname, "files", target, "content"]);
            }
        }
        for (target, volume) in &mut container.volumes {
            one(
                &mut volume.source,
                &["containers", cname, "volumes", target, "source"],
            );
        }
    }
    for (rname, resource) in &mut out.resources {
        let Some(params) = &mut resource.params else {
            continue;
        };
        let base = pointer(&["resources", rname, "params"]);
        match expand_value(&Value::Object(std::mem::take(params)), resolve) {
            Ok(expanded) => {
                if expanded.secret {
                    secrets.push(base);
                }
                if let Value::Object(map) = expanded.value {
                    *params = map;
                }
            }
            Err(errors) => {
                for e in errors {
                    failures.push(ExpandFailure {
                        pointer: format!("{base}{}", e.pointer),
                        message: e.error.to_string(),
                    });
                }
            }
        }
    }

    if failures.is_empty() {
        Ok(ExpandedWorkload {
            workload: out,
            secret_pointers: secrets,
        })
    } else {
        Err(ExpandErrors(failures))
    }
}

/// Expands one string in the context of a workload (for callers that expand
/// piecemeal).
pub fn expand_in_workload(
    workload: &Workload,
    outputs: &dyn Resolver,
    text: &str,
) -> Result<crate::placeholder::Expanded, ExpandError<ResolveError>> {
    let resolver = ScoreResolver::new(workload, outputs);
    expand_string(text, &|path: &[String]| resolver.resolve(path))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use serde_json::json;

    fn workload() -> Workload {
        Workload::from_json(json!({
            "apiVersion": "score.dev/v1b1",
            "metadata": {"name": "web", "annotations": {"a.io/team": "blue"}},
            "containers": {"main": {
                "image": "${metadata.name}",
                "command": ["echo", "${resources.db.host}"],
                "args": ["${metadata.name}"],
                "variables": {
                    "NAME": "${metadata.name}",
                    "TEAM": "${metadata.annotations.a\\.io/team}",
                    "PORT": "${resources.db.port}",
                    "URL": "postgres://${resources.db.user}:${resources.db.password}@${resources.db.host}:${resources.db.port}",
                    "LITERAL": "$${resources.db.host} costs $$5"
                },
                "files": {
                    "/a": {"content": "host=${resources.db.host}"},
                    "/b": {"content": "${not.expanded}", "noExpand": true},
                    "/c": {"source": "${x}"},
                    "/d": {"binaryContent": "${x}"}
                },
                "volumes": {"/data": {"source": "${resources.vol}"}}
            }},
            "resources": {
                "db": {"type": "postgres"},
                "vol": {"type": "volume"},
                "dns": {"type": "dns", "params": {"port": "${resources.db.port}", "s": "${resources.db.password}", "n": ["x-${resources.db.port}"]}}
            }
        }))
        .unwrap()
    }

    fn outputs(path: &[String]) -> Result<Resolved, ResolveError> {
        match path
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>()
            .as_slice()
        {
            ["resources", "db", "host"] => Ok(Resolved::public("db.local")),
            ["resources", "db", "port"] => Ok(Resolved::public(5432)),
            ["resources", "db", "user"] => Ok(Resolved::public("app")),
            ["resources", "db", "password"] => Ok(Resolved::secret("s3cr3t")),
            ["resources", "vol"] => Ok(Resolved::public("volume.default#web.vol")),
            other => Err(ResolveError::new(format!("no output {}", other.join(".")))),
        }
    }

    #[test]
    fn expands_where_the_spec_says_and_nowhere_else() {
        let w = workload();
        let e = expand_workload(&w, &outputs).unwrap();
        let c = &e.workload.containers["main"];
        assert_eq!(c.image, "${metadata.name}");
        assert_eq!(c.command.as_deref().unwrap()[1], "${resources.db.host}");
        assert_eq!(c.args.as_deref().unwrap()[0], "${metadata.name}");
        assert_eq!(c.variables["NAME"], "web");
        assert_eq!(c.variables["TEAM"], "blue");
        assert_eq!(c.variables["PORT"], "5432");
        assert_eq!(c.variables["URL"], "postgres://app:s3cr3t@db.local:5432");
        assert_eq!(c.variables["LITERAL"], "${resources.db.host} costs $5");
        assert_eq!(c.files["/a"].content.as_deref(), Some("host=db.local"));
        assert_eq!(c.files["/b"].content.as_deref(), Some("${not.expanded}"));
        assert_eq!(c.files["/c"].source.as_deref(), Some("${x}"));
        assert_eq!(c.files["/d"].binary_content.as_deref(), Some("${x}"));
        assert_eq!(c.volumes["/data"].source, "volume.default#web.vol");
        // Params keep JSON types for whole-string placeholders.
        let params = e.workload.resources["dns"].params.as_ref().unwrap();
        assert_eq!(params["port"], json!(5432));
        assert_eq!(params["n"], json!(["x-5432"]));
        assert!(e.secret());
        assert_eq!(
            e.secret_pointers,
            vec!["/containers/main/variables/URL", "/resources/dns/params"]
        );
    }

    #[test]
    fn failures_are_all_reported() {
        let mut w = workload();
        let vars = &mut w.containers.get_mut("main").unwrap().variables;
        vars.insert("A".into(), "${resources.nope.x}".into());
        vars.insert("B".into(), "${metadata.missing}".into());
        vars.insert("C".into(), "${cheese}".into());
        vars.insert("D".into(), "${resources.db.nothing}".into());
        let errors = expand_workload(&w, &outputs).unwrap_err();
        let report = errors.into_report("score.yaml").to_string();
        assert_eq!(
            report,
            "score.yaml: containers.main.variables.A: invalid ref 'resources.nope.x': no known resource 'nope'\n\
             score.yaml: containers.main.variables.B: invalid ref 'metadata.missing': key 'missing' not found\n\
             score.yaml: containers.main.variables.C: invalid ref 'cheese': unknown reference root, use $$ to escape the substitution\n\
             score.yaml: containers.main.variables.D: invalid ref 'resources.db.nothing': no output resources.db.nothing"
        );
    }

    #[test]
    fn no_secret_without_secret_outputs() {
        let mut w = workload();
        w.containers
            .get_mut("main")
            .unwrap()
            .variables
            .shift_remove("URL");
        if let Some(p) = w.resources.get_mut("dns").unwrap().params.as_mut() {
            p.remove("s");
        }
        let e = expand_workload(&w, &outputs).unwrap();
        assert!(!e.secret());
    }
}

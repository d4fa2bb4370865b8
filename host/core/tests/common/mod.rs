//! Shared fixture helpers: YAML documents in, rendered text out.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;

use podium_core::model::definition::DefinitionSpec;
use podium_core::{Definitions, DeploymentSet, EnvContext, ResourceDefinition};
use serde::Deserialize;
use serde_json::Value;

/// One declarative document (`podium apply -f`).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Document {
    pub api_version: String,
    pub kind: String,
    pub metadata: BTreeMap<String, Value>,
    #[serde(default)]
    pub spec: Value,
}

/// Parses `---`-separated YAML documents (empty ones are skipped).
pub fn documents(yaml: &str) -> Vec<Document> {
    serde_yaml_ng::Deserializer::from_str(yaml)
        .filter_map(|d| Option::<Document>::deserialize(d).unwrap())
        .collect()
}

/// The `ResourceDefinition` documents of `yaml` (version from
/// `metadata.version`, default 1).
pub fn definition_list(yaml: &str) -> Vec<ResourceDefinition> {
    documents(yaml)
        .into_iter()
        .filter(|d| d.kind == "ResourceDefinition")
        .map(|d| {
            let id = d.metadata["id"].as_str().unwrap().to_owned();
            let version = d
                .metadata
                .get("version")
                .and_then(Value::as_u64)
                .unwrap_or(1);
            let spec: DefinitionSpec =
                serde_json::from_value(d.spec).unwrap_or_else(|e| panic!("definition {id}: {e}"));
            ResourceDefinition::new(id, version, spec)
        })
        .collect()
}

/// A registry from YAML documents; panics on a tie (use `definition_list`
/// to test ties).
pub fn definitions(yaml: &str) -> Definitions {
    let mut defs = Definitions::new();
    for d in definition_list(yaml) {
        defs.add(d).unwrap_or_else(|e| panic!("{e}"));
    }
    defs
}

/// A set from YAML `{modules: {...}, shared: {...}}`.
pub fn set(yaml: &str) -> DeploymentSet {
    serde_yaml_ng::from_str(yaml).unwrap_or_else(|e| panic!("set: {e}"))
}

pub fn json(yaml: &str) -> Value {
    serde_yaml_ng::from_str(yaml).unwrap()
}

pub fn env(app: &str, env: &str, env_type: &str) -> EnvContext {
    EnvContext::new(app, env, env_type)
}

/// Compares ignoring the common indentation and surrounding blank lines, so
/// expectations can be indented with the test code.
#[track_caller]
pub fn assert_text(actual: &str, expected: &str) {
    let expected = dedent(expected);
    let actual = actual.trim_end();
    if actual != expected {
        panic!("\n--- expected\n{expected}\n--- actual\n{actual}\n---\n");
    }
}

pub fn dedent(s: &str) -> String {
    let lines: Vec<&str> = s.lines().skip_while(|l| l.trim().is_empty()).collect();
    let indent = lines
        .iter()
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.len() - l.trim_start().len())
        .min()
        .unwrap_or(0);
    lines
        .iter()
        .map(|l| l.get(indent..).unwrap_or("").trim_end())
        .collect::<Vec<_>>()
        .join("\n")
        .trim_end()
        .to_owned()
}

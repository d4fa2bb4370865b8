//! ConfigMaps and Secrets of one container: its files (a ConfigMap for plain
//! ones, a Secret for those with secret content) and its secret variables
//! (a Secret, read with `secretKeyRef`).

use std::collections::BTreeMap;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use podium_driver_sdk::Error;
use serde_json::{Map, Value, json};

use super::{Input, Meta, object, secret_value};
use crate::manifest::{Kind, Manifest};
use crate::names::{self, short_hash};
use crate::workload::{Container, File, Text};

/// What the pod spec needs to know about a container's config objects.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ContainerConfig {
    /// The ConfigMap with the plain files, and its items.
    pub files: Option<(String, Vec<FileItem>)>,
    /// The Secret with the secret files, and its items.
    pub secret_files: Option<(String, Vec<FileItem>)>,
    /// The Secret with the secret variables, and the key of each variable.
    pub env: Option<(String, BTreeMap<String, String>)>,
}

/// One mounted file: where, under which data key, with which mode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileItem {
    pub target: String,
    pub key: String,
    pub mode: Option<u32>,
}

/// Renders the container's config objects into `out`.
pub(super) fn render(
    input: &Input<'_>,
    meta: &Meta,
    container_name: &str,
    container: &Container,
    out: &mut Vec<Manifest>,
) -> Result<ContainerConfig, Error> {
    let workload = &input.workload.metadata.name;
    let at = format!("containers.{container_name}");
    // The hash keeps `a-b`/`c` and `a`/`b-c` apart.
    let name = |what: &str| {
        let hash = short_hash(&format!("{workload}/{container_name}"), 6);
        names::join(
            &[workload, container_name, what, &hash],
            names::SUBDOMAIN_MAX,
        )
    };
    let mut config = ContainerConfig::default();

    let mut plain = DataSet::default();
    let mut secret = DataSet::default();
    for (target, file) in &container.files {
        let at = format!("{at}.files[{target:?}]");
        let key = names::data_key(target);
        let mode = parse_mode(file, &at)?;
        let item = FileItem {
            target: target.clone(),
            key: key.clone(),
            mode,
        };
        match file_content(input, file, &at)? {
            Content::Text(text, false) => plain.text(key, text, item),
            Content::Text(text, true) => secret.text(key, text, item),
            Content::Binary(b64) => plain.binary(key, b64, item),
        }
    }
    if !plain.items.is_empty() {
        let name = name("files");
        let mut rest = Map::new();
        if !plain.text.is_empty() {
            rest.insert("data".into(), Value::Object(plain.text));
        }
        if !plain.binary.is_empty() {
            rest.insert("binaryData".into(), Value::Object(plain.binary));
        }
        out.push(object(
            Kind::ConfigMap,
            name.clone(),
            input,
            meta,
            Value::Object(rest),
        ));
        config.files = Some((name, plain.items));
    }
    if !secret.items.is_empty() {
        let name = name("secret-files");
        let data: Map<String, Value> = secret
            .text
            .into_iter()
            .map(|(k, v)| (k, json!(B64.encode(v.as_str().unwrap_or_default()))))
            .collect();
        out.push(object(
            Kind::Secret,
            name.clone(),
            input,
            meta,
            json!({"type": "Opaque", "data": data}),
        ));
        config.secret_files = Some((name, secret.items));
    }

    let mut env_data = Map::new();
    let mut env_keys = BTreeMap::new();
    for (var, text) in &container.variables {
        if let Text::Secret(pointer) = text {
            let value = secret_value(input.secrets, pointer, &format!("{at}.variables.{var}"))?;
            let key = names::data_key(var);
            env_data.insert(key.clone(), json!(B64.encode(value)));
            env_keys.insert(var.clone(), key);
        }
    }
    if !env_keys.is_empty() {
        let name = name("env");
        out.push(object(
            Kind::Secret,
            name.clone(),
            input,
            meta,
            json!({"type": "Opaque", "data": env_data}),
        ));
        config.env = Some((name, env_keys));
    }
    Ok(config)
}

/// Data of one ConfigMap or Secret being built.
#[derive(Default)]
struct DataSet {
    text: Map<String, Value>,
    binary: Map<String, Value>,
    items: Vec<FileItem>,
}

impl DataSet {
    fn text(&mut self, key: String, text: String, item: FileItem) {
        self.text.insert(key, Value::String(text));
        self.items.push(item);
    }

    fn binary(&mut self, key: String, b64: String, item: FileItem) {
        self.binary.insert(key, Value::String(b64));
        self.items.push(item);
    }
}

enum Content {
    /// Text and whether it is secret.
    Text(String, bool),
    /// Standard base64, checked.
    Binary(String),
}

fn file_content(input: &Input<'_>, file: &File, at: &str) -> Result<Content, Error> {
    match (&file.content, &file.binary_content, &file.source) {
        (Some(Text::Plain(text)), None, _) => Ok(Content::Text(text.clone(), false)),
        (Some(Text::Secret(pointer)), None, _) => Ok(Content::Text(
            secret_value(input.secrets, pointer, at)?.to_owned(),
            true,
        )),
        (None, Some(b64), _) => {
            let bytes = B64.decode(b64.trim()).map_err(|e| {
                Error::invalid_input(format!("{at}.binaryContent: not base64: {e}"))
            })?;
            Ok(Content::Binary(B64.encode(bytes)))
        }
        (None, None, Some(source)) => Err(Error::invalid_input(format!(
            "{at}: the file's `source` ({source:?}) must be inlined as `content` before deploying (Podium reads sources next to the Score file)"
        ))),
        _ => Err(Error::invalid_input(format!(
            "{at}: exactly one of content, binaryContent and source is required"
        ))),
    }
}

/// `mode: "0600"` (octal) → 384.
fn parse_mode(file: &File, at: &str) -> Result<Option<u32>, Error> {
    let Some(mode) = &file.mode else {
        return Ok(None);
    };
    u32::from_str_radix(mode.trim_start_matches("0o"), 8)
        .ok()
        .filter(|m| *m <= 0o777)
        .map(Some)
        .ok_or_else(|| {
            Error::invalid_input(format!(
                "{at}.mode: {mode:?} is not an octal file mode such as \"0644\""
            ))
        })
}

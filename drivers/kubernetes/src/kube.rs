//! A minimal Kubernetes API client over the SDK's HTTP and TLS capabilities:
//! get, list by label, server-side apply, delete. Errors carry the API
//! server's `Status` message and name the object they concern.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use podium_driver_sdk::http::{Request, Response};
use podium_driver_sdk::{Error, tls};
use serde_json::Value;

use crate::inputs::{Secrets, Values};
use crate::manifest::{Kind, Manifest};

/// The field manager of every apply.
pub const FIELD_MANAGER: &str = "podium";

/// An API server connection (per call).
pub struct Client {
    base: String,
    token: Option<String>,
    force: bool,
}

impl Client {
    /// Checks the cluster inputs and registers the TLS settings (CA, client
    /// identity) for the API server's origin.
    pub fn connect(values: &Values, secrets: &Secrets) -> Result<Client, Error> {
        let cluster = values.cluster.as_ref().ok_or_else(|| {
            Error::invalid_input("driver_values.cluster.url is required in apply mode")
        })?;
        let base = cluster.url.trim_end_matches('/').to_owned();
        let https = base.to_ascii_lowercase().starts_with("https://");
        if !https && !base.to_ascii_lowercase().starts_with("http://") {
            return Err(Error::invalid_input(format!(
                "driver_values.cluster.url: {base:?} must be an https:// (or, through a local proxy, http://) URL"
            )));
        }
        let ca = match (&secrets.ca_data, &cluster.ca_data) {
            (Some(ca), _) => Some(pem("driver_secrets.ca_data", ca)?),
            (None, Some(ca)) => Some(pem("driver_values.cluster.ca_data", ca)?),
            (None, None) => None,
        };
        let identity = match (&secrets.client_cert, &secrets.client_key) {
            (Some(cert), Some(key)) => Some((
                pem("driver_secrets.client_cert", cert)?,
                pem("driver_secrets.client_key", key)?,
            )),
            (None, None) => None,
            _ => {
                return Err(Error::invalid_input(
                    "driver_secrets: client_cert and client_key go together",
                ));
            }
        };
        if identity.is_none() && secrets.token.is_none() {
            return Err(Error::invalid_input(
                "driver_secrets: give a token or a client_cert and client_key for the API server",
            ));
        }
        if https && (ca.is_some() || identity.is_some()) {
            let mut config = tls::ClientConfig::new(base.clone());
            if let Some(ca) = ca {
                config = config.ca_bundle(ca);
            }
            if let Some((cert, key)) = identity {
                config = config.client_identity(cert, key);
            }
            config.configure()?;
        }
        Ok(Client {
            base,
            token: secrets.token.clone(),
            force: values.force_conflicts,
        })
    }

    fn collection(&self, kind: Kind, namespace: &str) -> String {
        format!("{}{}", self.base, collection_path(kind, namespace))
    }

    fn item(&self, kind: Kind, namespace: &str, name: &str) -> String {
        format!("{}/{}", self.collection(kind, namespace), encode(name))
    }

    fn namespace_url(&self, name: &str) -> String {
        format!("{}/api/v1/namespaces/{}", self.base, encode(name))
    }

    fn send(&self, request: Request) -> Result<Response, Error> {
        let request = request.header("accept", "application/json");
        match &self.token {
            Some(token) => request.header("authorization", format!("Bearer {token}")),
            None => request,
        }
        .send()
    }

    /// The live object, or `None` if it does not exist.
    pub fn get(&self, kind: Kind, namespace: &str, name: &str) -> Result<Option<Value>, Error> {
        let response = self.send(Request::get(self.item(kind, namespace, name)))?;
        match response.status {
            404 => Ok(None),
            s if (200..300).contains(&s) => response.json().map(Some),
            _ => Err(api_error(
                &Op::new("read", "get", kind.resource(), Some(namespace)),
                &object(kind, namespace, name),
                &response,
                &[],
            )),
        }
    }

    /// Names of the objects of `kind` in `namespace` matching `selector`.
    pub fn list(&self, kind: Kind, namespace: &str, selector: &str) -> Result<Vec<String>, Error> {
        let url = format!(
            "{}?labelSelector={}",
            self.collection(kind, namespace),
            encode(selector)
        );
        let response = self.send(Request::get(url))?;
        if !response.is_success() {
            let what = format!("{kind} objects with {selector} in namespace {namespace}");
            let op = Op::new("list", "list", kind.resource(), Some(namespace));
            return Err(api_error(&op, &what, &response, &[]));
        }
        let list: Value = response.json()?;
        let mut names: Vec<String> = list["items"]
            .as_array()
            .map(|items| {
                items
                    .iter()
                    .filter_map(|i| i["metadata"]["name"].as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default();
        names.sort();
        Ok(names)
    }

    /// Server-side apply.
    pub fn apply(&self, manifest: &Manifest) -> Result<Applied, Error> {
        let url = self.item(manifest.kind, &manifest.namespace, &manifest.name);
        let op = Op::new(
            "apply",
            "patch",
            manifest.kind.resource(),
            Some(&manifest.namespace),
        );
        let what = object(manifest.kind, &manifest.namespace, &manifest.name);
        self.apply_at(&url, &manifest.body, &op, &what, &secret_data(manifest))
    }

    fn apply_at(
        &self,
        url: &str,
        body: &Value,
        op: &Op,
        what: &str,
        scrub: &[String],
    ) -> Result<Applied, Error> {
        let mut url = format!("{url}?fieldManager={FIELD_MANAGER}&fieldValidation=Strict");
        if self.force {
            url.push_str("&force=true");
        }
        // JSON is YAML: the apply content type takes it as is.
        let request = Request::patch(url)
            .header("content-type", "application/apply-patch+yaml")
            .body(body.to_string());
        let response = self.send(request)?;
        if response.is_success() {
            return Ok(if response.status == 201 {
                Applied::Created
            } else {
                Applied::Updated
            });
        }
        let error = api_error(op, what, &response, scrub);
        if response.status == 422 && error.message().contains("field is immutable") {
            return Ok(Applied::Immutable(error.message().to_owned()));
        }
        Err(error)
    }

    /// Deletes an object; `false` if it was already gone.
    pub fn delete(&self, kind: Kind, namespace: &str, name: &str) -> Result<bool, Error> {
        let url = format!(
            "{}?propagationPolicy=Background",
            self.item(kind, namespace, name)
        );
        let op = Op::new("delete", "delete", kind.resource(), Some(namespace));
        self.delete_at(&url, &op, &object(kind, namespace, name))
    }

    fn delete_at(&self, url: &str, op: &Op, what: &str) -> Result<bool, Error> {
        let response = self.send(Request::delete(url))?;
        match response.status {
            404 => Ok(false),
            s if (200..300).contains(&s) => Ok(true),
            _ => Err(api_error(op, what, &response, &[])),
        }
    }

    /// The live Namespace, or `None`.
    pub fn get_namespace(&self, name: &str) -> Result<Option<Value>, Error> {
        let response = self.send(Request::get(self.namespace_url(name)))?;
        match response.status {
            404 => Ok(None),
            s if (200..300).contains(&s) => response.json().map(Some),
            _ => Err(api_error(
                &Op::new("read", "get", "namespaces", None),
                &format!("Namespace/{name}"),
                &response,
                &[],
            )),
        }
    }

    /// Server-side apply of a Namespace; `true` when it was created.
    pub fn apply_namespace(&self, body: &Value, name: &str) -> Result<bool, Error> {
        let op = Op::new("apply", "patch", "namespaces", None);
        let what = format!("Namespace/{name}");
        match self.apply_at(&self.namespace_url(name), body, &op, &what, &[])? {
            Applied::Created => Ok(true),
            Applied::Updated => Ok(false),
            Applied::Immutable(message) => Err(Error::invalid_input(message)),
        }
    }

    /// Deletes a Namespace (the cluster then deletes everything in it);
    /// `false` if it was already gone.
    pub fn delete_namespace(&self, name: &str) -> Result<bool, Error> {
        let op = Op::new("delete", "delete", "namespaces", None);
        self.delete_at(&self.namespace_url(name), &op, &format!("Namespace/{name}"))
    }
}

/// `/apis/apps/v1/namespaces/NS/deployments`.
pub fn collection_path(kind: Kind, namespace: &str) -> String {
    let version = kind.api_version();
    let prefix = if version.contains('/') {
        format!("/apis/{version}")
    } else {
        format!("/api/{version}")
    };
    format!(
        "{prefix}/namespaces/{}/{}",
        encode(namespace),
        kind.plural()
    )
}

/// What a server-side apply did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Applied {
    Created,
    Updated,
    /// Refused because it changes an immutable field (a Deployment's
    /// selector, a Service's clusterIP): the server's message.
    Immutable(String),
}

/// What a request was doing, for error messages: the driver's verb, the
/// Kubernetes verb and resource (as RBAC names them) and the namespace.
pub struct Op {
    pub verb: &'static str,
    pub k8s_verb: &'static str,
    pub resource: String,
    pub namespace: Option<String>,
}

impl Op {
    pub fn new(
        verb: &'static str,
        k8s_verb: &'static str,
        resource: impl Into<String>,
        namespace: Option<&str>,
    ) -> Op {
        Op {
            verb,
            k8s_verb,
            resource: resource.into(),
            namespace: namespace.map(str::to_owned),
        }
    }
}

/// `Deployment/hello in namespace shop-dev`.
fn object(kind: Kind, namespace: &str, name: &str) -> String {
    format!("{kind}/{name} in namespace {namespace}")
}

/// The values of a Secret's `data`: scrubbed from error messages, since an
/// API server may quote a rejected value.
fn secret_data(manifest: &Manifest) -> Vec<String> {
    if manifest.kind != Kind::Secret {
        return Vec::new();
    }
    manifest.body["data"]
        .as_object()
        .map(|data| {
            data.values()
                .filter_map(Value::as_str)
                .filter(|s| s.len() >= 4)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

/// An error answer as a driver error: the status decides the kind, the
/// message is the server's own (`Status.message`), naming the object.
pub fn api_error(op: &Op, what: &str, response: &Response, scrub: &[String]) -> Error {
    let status: Value = serde_json::from_slice(&response.body).unwrap_or(Value::Null);
    let server_message = status["message"]
        .as_str()
        .map(str::to_owned)
        .unwrap_or_else(|| {
            let text = response.text();
            let text = text.trim();
            if text.is_empty() {
                "(no message)".to_owned()
            } else {
                text.chars().take(400).collect()
            }
        });
    let reason = status["reason"].as_str().unwrap_or_default();
    let mut message = format!(
        "Kubernetes API server refused to {} {what}: {} {reason}: {server_message}",
        op.verb, response.status
    )
    .replace(" : ", ": ");
    if response.status == 409 && op.k8s_verb == "patch" && server_message.contains("conflict") {
        message.push_str(
            " (another field manager owns these fields: agree on the value, leave the field to it \
             (profile replicas: null for kubectl scale or an autoscaler), or set force_conflicts: true \
             to take the fields over)",
        );
    }
    if response.status == 403 {
        // RBAC: say what the credentials lack, in the terms a Role uses.
        let scope = match &op.namespace {
            Some(ns) => format!("in namespace {ns}"),
            None => "at cluster scope".to_owned(),
        };
        message.push_str(&format!(
            " (the cluster credentials may not {} {} {scope}; grant it with a Role/RoleBinding or ClusterRole)",
            op.k8s_verb, op.resource
        ));
    }
    for secret in scrub {
        message = message.replace(secret.as_str(), "<redacted>");
    }
    match response.status {
        401 | 403 => Error::denied(message),
        409 => Error::conflict(message),
        400 | 422 => Error::invalid_input(message),
        408 | 429 | 500..=599 => Error::unavailable(message),
        _ => Error::failed(message),
    }
}

/// PEM text, or base64 of PEM as in a kubeconfig's `*-data` fields.
fn pem(what: &str, text: &str) -> Result<String, Error> {
    let trimmed = text.trim();
    if trimmed.starts_with("-----BEGIN") {
        return Ok(trimmed.to_owned() + "\n");
    }
    let compact: String = trimmed.chars().filter(|c| !c.is_whitespace()).collect();
    B64.decode(compact)
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .filter(|s| s.trim_start().starts_with("-----BEGIN"))
        .ok_or_else(|| Error::invalid_input(format!("{what}: neither PEM nor base64 of PEM")))
}

/// Percent-encodes a path segment or query value.
fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn response(status: u16, body: &str) -> Response {
        Response::new(
            "PATCH https://k/x",
            status,
            Vec::new(),
            body.as_bytes().to_vec(),
        )
    }

    #[test]
    fn status_messages_reach_the_user() {
        let conflict = r#"{"kind":"Status","apiVersion":"v1","status":"Failure","message":"Apply failed with 1 conflict: conflict with \"other\": .spec.replicas","reason":"Conflict","code":409}"#;
        let op = Op::new("apply", "patch", "deployments.apps", Some("shop-dev"));
        let e = api_error(
            &op,
            "Deployment/hello in namespace shop-dev",
            &response(409, conflict),
            &[],
        );
        assert_eq!(e.kind(), "conflict");
        assert_eq!(
            e.message(),
            "Kubernetes API server refused to apply Deployment/hello in namespace shop-dev: 409 Conflict: Apply failed with 1 conflict: conflict with \"other\": .spec.replicas (another field manager owns these fields: agree on the value, leave the field to it (profile replicas: null for kubectl scale or an autoscaler), or set force_conflicts: true to take the fields over)"
        );
        for (status, kind) in [
            (401, "denied"),
            (403, "denied"),
            (404, "failed"),
            (422, "invalid-input"),
            (503, "unavailable"),
        ] {
            assert_eq!(
                api_error(&op, "y", &response(status, "{}"), &[]).kind(),
                kind,
                "{status}"
            );
        }
        let e = api_error(
            &op,
            "Secret/s",
            &response(422, r#"{"message":"bad value \"c2VjcmV0\""}"#),
            &["c2VjcmV0".into()],
        );
        assert!(!e.message().contains("c2VjcmV0"), "{e}");
        let e = api_error(&op, "x", &response(502, "upstream down"), &[]);
        assert!(e.message().ends_with("502: upstream down"), "{e}");
        let forbidden = r#"{"kind":"Status","message":"deployments.apps \"hello\" is forbidden: User \"ci\" cannot patch resource \"deployments\" in API group \"apps\" in the namespace \"shop-dev\"","reason":"Forbidden","code":403}"#;
        let e = api_error(&op, "Deployment/hello", &response(403, forbidden), &[]);
        assert_eq!(e.kind(), "denied");
        assert!(
            e.message().ends_with(
                "(the cluster credentials may not patch deployments.apps in namespace shop-dev; grant it with a Role/RoleBinding or ClusterRole)"
            ),
            "{e}"
        );
    }

    #[test]
    fn pem_or_base64() {
        let pem_text = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----";
        assert!(pem("x", pem_text).unwrap().starts_with("-----BEGIN"));
        let b64 = B64.encode(pem_text);
        assert_eq!(pem("x", &b64).unwrap(), pem_text);
        assert!(pem("x", "garbage").is_err());
    }

    #[test]
    fn paths_and_versions() {
        let client = Client {
            base: "https://k:6443".into(),
            token: None,
            force: false,
        };
        assert_eq!(
            client.item(Kind::Deployment, "ns", "hello"),
            "https://k:6443/apis/apps/v1/namespaces/ns/deployments/hello"
        );
        assert_eq!(
            client.item(Kind::Service, "ns", "hello"),
            "https://k:6443/api/v1/namespaces/ns/services/hello"
        );
        assert_eq!(encode("podium.dev/owner=ab"), "podium.dev%2Fowner%3Dab");
    }
}

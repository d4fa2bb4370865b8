//! `k8s-cluster` resources from a kubeconfig: the definition holds the
//! content of a kubeconfig (`kubectl config view --raw --minify`, YAML or
//! JSON) as the secret `kubeconfig`; the outputs are what the workload and
//! namespace definitions read: values `name`, `url` (and
//! `insecure_skip_tls_verify` when set), secrets `ca_data`, `token`,
//! `client_cert`, `client_key`. Nothing is contacted.

use podium_driver_sdk::{Action, Error, Outputs, Plan, Request};
use serde_json::Value;

use crate::Kubernetes;
use crate::inputs::{Mode, State};

/// What a kubeconfig says about one context.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Cluster {
    pub name: String,
    pub url: String,
    pub insecure_skip_tls_verify: bool,
    pub ca_data: Option<String>,
    pub token: Option<String>,
    pub client_cert: Option<String>,
    pub client_key: Option<String>,
}

fn named<'a>(doc: &'a Value, list: &str, name: &str, field: &str) -> Result<&'a Value, Error> {
    doc[list]
        .as_array()
        .into_iter()
        .flatten()
        .find(|entry| entry["name"].as_str() == Some(name))
        .map(|entry| &entry[field])
        .filter(|v| v.is_object())
        .ok_or_else(|| {
            Error::invalid_input(format!(
                "driver_secrets.kubeconfig: no {list} entry named {name:?}"
            ))
        })
}

/// Reads `context` (or the current context) of a kubeconfig.
pub fn parse(text: &str, context: Option<&str>) -> Result<Cluster, Error> {
    let doc: Value = serde_saphyr::from_str(text).map_err(|e| {
        Error::invalid_input(format!(
            "driver_secrets.kubeconfig is not a kubeconfig (YAML or JSON): {e}"
        ))
    })?;
    let context = match context {
        Some(c) => c.to_owned(),
        None => doc["current-context"]
            .as_str()
            .filter(|c| !c.is_empty())
            .map(str::to_owned)
            .ok_or_else(|| {
                Error::invalid_input(
                    "driver_secrets.kubeconfig has no current-context; name one with driver_values.context",
                )
            })?,
    };
    let ctx = named(&doc, "contexts", &context, "context")?;
    let cluster_name = ctx["cluster"].as_str().unwrap_or_default();
    let user_name = ctx["user"].as_str().unwrap_or_default();
    let cluster = named(&doc, "clusters", cluster_name, "cluster")?;
    let user = named(&doc, "users", user_name, "user")?;
    let url = cluster["server"]
        .as_str()
        .filter(|s| !s.is_empty())
        .ok_or_else(|| {
            Error::invalid_input(format!(
                "driver_secrets.kubeconfig: cluster {cluster_name:?} has no server"
            ))
        })?
        .to_owned();
    for (field, data) in [
        ("certificate-authority", "certificate-authority-data"),
        ("client-certificate", "client-certificate-data"),
        ("client-key", "client-key-data"),
        ("tokenFile", "token"),
    ] {
        let holder = if field == "certificate-authority" {
            cluster
        } else {
            user
        };
        if holder[field].is_string() && holder[data].is_null() {
            return Err(Error::invalid_input(format!(
                "driver_secrets.kubeconfig: {field} names a file, which the driver cannot read; \
                 embed it ({data}), e.g. with `kubectl config view --raw --minify --flatten`"
            )));
        }
    }
    for plugin in ["exec", "auth-provider"] {
        if !user[plugin].is_null() {
            return Err(Error::invalid_input(format!(
                "driver_secrets.kubeconfig: user {user_name:?} authenticates through {plugin} (a credential \
                 plugin), which cannot run in the driver's sandbox; give a token or client certificate data \
                 (e.g. a ServiceAccount token)"
            )));
        }
    }
    let text = |v: &Value| v.as_str().filter(|s| !s.is_empty()).map(str::to_owned);
    let parsed = Cluster {
        name: cluster_name.to_owned(),
        url,
        insecure_skip_tls_verify: cluster["insecure-skip-tls-verify"].as_bool() == Some(true),
        ca_data: text(&cluster["certificate-authority-data"]),
        token: text(&user["token"]),
        client_cert: text(&user["client-certificate-data"]),
        client_key: text(&user["client-key-data"]),
    };
    if parsed.token.is_none() && (parsed.client_cert.is_none() || parsed.client_key.is_none()) {
        return Err(Error::invalid_input(format!(
            "driver_secrets.kubeconfig: user {user_name:?} has neither a token nor client-certificate-data \
             and client-key-data"
        )));
    }
    Ok(parsed)
}

fn read(req: &Request<Kubernetes>) -> Result<Cluster, Error> {
    let text = req.driver_secrets.kubeconfig.as_deref().ok_or_else(|| {
        Error::invalid_input(
            "driver_secrets.kubeconfig is required for a k8s-cluster resource (the content of a kubeconfig)",
        )
    })?;
    parse(text, req.driver_values.context.as_deref())
}

pub(crate) fn plan(req: &Request<Kubernetes>) -> Result<Plan, Error> {
    let cluster = read(req)?;
    let action = if req.state.is_none() {
        Action::Create
    } else {
        Action::Update
    };
    Ok(Plan::new(
        action,
        format!("cluster {} at {}", cluster.name, cluster.url),
    ))
}

pub(crate) fn apply(req: &Request<Kubernetes>) -> Result<Outputs<State>, Error> {
    let c = read(req)?;
    let mut outputs = Outputs::new()
        .value("name", c.name.clone())
        .value("url", c.url.clone());
    if c.insecure_skip_tls_verify {
        outputs = outputs.value("insecure_skip_tls_verify", true);
    }
    for (key, value) in [
        ("ca_data", c.ca_data),
        ("token", c.token),
        ("client_cert", c.client_cert),
        ("client_key", c.client_key),
    ] {
        if let Some(value) = value {
            outputs = outputs.secret(key, value);
        }
    }
    Ok(outputs.state(State {
        mode: Mode::Apply,
        namespace: String::new(),
        objects: Vec::new(),
        dir: None,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    const KIND: &str = r#"
apiVersion: v1
kind: Config
clusters:
- cluster:
    certificate-authority-data: Q0EtREFUQQ==
    server: https://127.0.0.1:39421
  name: kind-kind
contexts:
- context: {cluster: kind-kind, user: kind-kind}
  name: kind-kind
- context: {cluster: kind-kind, user: ci}
  name: ci
current-context: kind-kind
users:
- name: kind-kind
  user:
    client-certificate-data: Q0VSVA==
    client-key-data: S0VZ
- name: ci
  user: {token: abc.def}
"#;

    #[test]
    fn a_kind_kubeconfig() {
        let c = parse(KIND, None).unwrap();
        assert_eq!(c.name, "kind-kind");
        assert_eq!(c.url, "https://127.0.0.1:39421");
        assert_eq!(c.ca_data.as_deref(), Some("Q0EtREFUQQ=="));
        assert_eq!(c.client_cert.as_deref(), Some("Q0VSVA=="));
        assert_eq!(c.client_key.as_deref(), Some("S0VZ"));
        assert_eq!(c.token, None);
        let ci = parse(KIND, Some("ci")).unwrap();
        assert_eq!(ci.token.as_deref(), Some("abc.def"));
        assert!(
            parse(KIND, Some("nope"))
                .unwrap_err()
                .message()
                .contains("no contexts entry named \"nope\"")
        );
    }

    #[test]
    fn what_the_sandbox_cannot_do_is_explained() {
        let files = KIND.replace(
            "certificate-authority-data: Q0EtREFUQQ==",
            "certificate-authority: /home/me/ca.crt",
        );
        assert!(
            parse(&files, None)
                .unwrap_err()
                .message()
                .contains("names a file")
        );
        let exec = KIND.replace(
            "  user: {token: abc.def}",
            "  user: {exec: {command: aws, apiVersion: client.authentication.k8s.io/v1beta1}}",
        );
        assert!(
            parse(&exec, Some("ci"))
                .unwrap_err()
                .message()
                .contains("credential plugin")
        );
        assert!(parse("not: [a kubeconfig", None).is_err());
        assert!(
            parse("{}", None)
                .unwrap_err()
                .message()
                .contains("current-context")
        );
    }
}

//! `example/config-rust`: a `config` resource kept in an HTTP key-value store.
//!
//! The same driver exists in Python and JavaScript beside this crate; all
//! three behave identically (see `../README.md`):
//!
//! - `driver_inputs.values`:  `{"url": "http://HOST:PORT", "prefix": "podium"}`
//! - `driver_inputs.secrets`: `{"token": "..."}` (bearer token of the kv server)
//! - `params`: the configuration itself, a JSON object
//! - key: `PREFIX-GURESID`
//! - outputs: values `{key, url, revision, data}`, secrets `{read_token}`,
//!   state `{key, revision}`
//!
//! Build it with `examples/drivers/rust/build.sh` (or
//! `cargo build -p podium-example-config --target wasm32-wasip2 --profile guest`).

use podium_driver_sdk::http::{self, Response};
use podium_driver_sdk::serde_json::{Map, Value, json};
use podium_driver_sdk::{Driver, Error, Info, Outputs, Plan, Request, log};
use serde::{Deserialize, Serialize};

/// `driver_inputs.values`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Values {
    /// Base URL of the kv server, e.g. `http://127.0.0.1:8080`.
    pub url: String,
    #[serde(default = "default_prefix")]
    pub prefix: String,
}

fn default_prefix() -> String {
    "podium".to_owned()
}

/// `driver_inputs.secrets`.
#[derive(Deserialize)]
pub struct Secrets {
    /// Bearer token of the kv server.
    pub token: String,
}

/// What `apply` keeps for the next call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct State {
    pub key: String,
    pub revision: u64,
}

/// An entry as the kv server returns it.
#[derive(Debug, Deserialize)]
struct Entry {
    value: Value,
    revision: u64,
    read_token: String,
}

/// The `example/config-rust` driver.
pub struct Config;

const INPUTS_SCHEMA: &str = r#"{
  "type": "object",
  "properties": {
    "values": {
      "type": "object",
      "required": ["url"],
      "properties": {
        "url": {"type": "string", "description": "base URL of the kv server"},
        "prefix": {"type": "string", "default": "podium"}
      }
    },
    "secrets": {
      "type": "object",
      "required": ["token"],
      "properties": {"token": {"type": "string"}}
    }
  }
}"#;

impl Driver for Config {
    type Params = Map<String, Value>;
    type Values = Values;
    type Secrets = Secrets;
    type State = State;

    fn info() -> Info {
        Info::new("example/config-rust", env!("CARGO_PKG_VERSION"))
            .resource_types(["config"])
            .inputs_schema(INPUTS_SCHEMA)
    }

    fn plan(req: Request<Self>) -> Result<Plan, Error> {
        let target = Target::of(&req)?;
        let Some(entry) = target.fetch()? else {
            return Ok(Plan::create(format!("create config {}", target.key)));
        };
        if let Some(state) = &req.state
            && state.revision != entry.revision
        {
            return Err(conflict(&target.key, entry.revision, state.revision));
        }
        let desired = Value::Object(req.params);
        Ok(if entry.value == desired {
            Plan::unchanged(format!(
                "config {} is up to date (revision {})",
                target.key, entry.revision
            ))
        } else {
            Plan::update(format!(
                "update config {} (revision {})",
                target.key, entry.revision
            ))
        })
    }

    fn apply(req: Request<Self>) -> Result<Outputs<State>, Error> {
        let target = Target::of(&req)?;
        let mut put =
            http::Request::put(&target.entry_url).json(&json!({ "value": req.params }))?;
        if let Some(state) = &req.state {
            // The server refuses the write (412) if someone else changed the
            // entry since our last apply.
            put = put.header("if-match", state.revision.to_string());
        }
        let response = target.send(put)?;
        if response.status == 412 {
            let current: Value = response.json()?;
            let expected = req.state.as_ref().map_or(0, |s| s.revision);
            return Err(conflict(
                &target.key,
                current["revision"].as_u64().unwrap_or_default(),
                expected,
            ));
        }
        let created = response.status == 201;
        let entry: Entry = expect(response, &[200, 201])?;
        log::info(format!(
            "{} config {} (revision {})",
            if created { "created" } else { "updated" },
            target.key,
            entry.revision
        ));
        Ok(Outputs::new()
            .value("key", target.key.clone())
            .value("url", target.entry_url.clone())
            .value("revision", entry.revision)
            .value("data", entry.value)
            .secret("read_token", entry.read_token)
            .state(State {
                key: target.key,
                revision: entry.revision,
            }))
    }

    fn delete(req: Request<Self>) -> Result<(), Error> {
        let target = Target::of(&req)?;
        let response = target.send(http::Request::delete(&target.entry_url))?;
        if response.status == 404 {
            log::info(format!("config {} was already gone", target.key));
            return Ok(());
        }
        if response.status != 204 {
            return Err(unexpected(&response));
        }
        log::info(format!("deleted config {}", target.key));
        Ok(())
    }
}

/// The entry a request is about, and how to reach it.
struct Target {
    key: String,
    entry_url: String,
    token: String,
}

impl Target {
    fn of(req: &Request<Config>) -> Result<Target, Error> {
        let values = &req.driver_values;
        if !(values.url.starts_with("http://") || values.url.starts_with("https://")) {
            return Err(Error::invalid_input(
                "driver_values.url must be an http:// or https:// URL",
            ));
        }
        if !safe(&values.prefix) {
            return Err(Error::invalid_input(
                "driver_values.prefix must be 1-64 characters of A-Z a-z 0-9 . _ -",
            ));
        }
        if req.driver_secrets.token.is_empty() {
            return Err(Error::invalid_input("driver_secrets.token is required"));
        }
        if !safe(&req.context.guresid) {
            return Err(Error::invalid_input(
                "context.guresid must be set (1-64 characters of A-Z a-z 0-9 . _ -)",
            ));
        }
        let key = match &req.state {
            Some(state) => state.key.clone(),
            None => format!("{}-{}", values.prefix, req.context.guresid),
        };
        Ok(Target {
            entry_url: format!("{}/v1/kv/{key}", values.url.trim_end_matches('/')),
            key,
            token: req.driver_secrets.token.clone(),
        })
    }

    /// Send with the bearer token; map the statuses every call treats alike.
    fn send(&self, request: http::Request) -> Result<Response, Error> {
        let response = request
            .header("authorization", format!("Bearer {}", self.token))
            .send()?;
        match response.status {
            401 | 403 => Err(Error::invalid_input(format!(
                "the kv server rejected driver_secrets.token (HTTP {})",
                response.status
            ))),
            500.. => Err(Error::unavailable(format!(
                "{}: HTTP {}",
                self.entry_url, response.status
            ))),
            _ => Ok(response),
        }
    }

    /// The entry on the server, if it exists.
    fn fetch(&self) -> Result<Option<Entry>, Error> {
        let response = self.send(http::Request::get(&self.entry_url))?;
        if response.status == 404 {
            return Ok(None);
        }
        expect(response, &[200]).map(Some)
    }
}

/// 1-64 characters of `A-Z a-z 0-9 . _ -`: safe in a URL path as is.
fn safe(s: &str) -> bool {
    (1..=64).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

fn expect<T: serde::de::DeserializeOwned>(response: Response, ok: &[u16]) -> Result<T, Error> {
    if !ok.contains(&response.status) {
        return Err(unexpected(&response));
    }
    response.json()
}

fn unexpected(response: &Response) -> Error {
    let body = response.text();
    Error::failed(format!(
        "unexpected HTTP {}: {}",
        response.status,
        body.get(..200).unwrap_or(&body)
    ))
}

fn conflict(key: &str, server: u64, ours: u64) -> Error {
    Error::conflict(format!(
        "config {key} changed outside Podium: the server has revision {server}, \
         the last apply wrote revision {ours}"
    ))
}

podium_driver_sdk::export!(Config);

#[cfg(test)]
mod tests {
    use super::*;
    use podium_driver_sdk::adapter::{self, RawRequest};

    fn raw(values: Value, secrets: Value, guresid: &str) -> RawRequest {
        let mut r = RawRequest {
            params: r#"{"a": 1}"#.into(),
            driver_values: values.to_string(),
            driver_secrets: secrets.to_string(),
            ..RawRequest::default()
        };
        r.context.guresid = guresid.into();
        r
    }

    fn kind(r: RawRequest) -> Option<&'static str> {
        adapter::plan::<Config>(r).err().map(|e| e.kind())
    }

    #[test]
    fn inputs_are_checked_before_any_request() {
        let token = json!({"token": "t"});
        assert_eq!(
            kind(raw(json!({"url": "ftp://x"}), token.clone(), "g1")),
            Some("invalid-input")
        );
        assert_eq!(
            kind(raw(
                json!({"url": "http://x", "prefix": "a/b"}),
                token.clone(),
                "g1"
            )),
            Some("invalid-input")
        );
        assert_eq!(
            kind(raw(json!({"url": "http://x"}), json!({"token": ""}), "g1")),
            Some("invalid-input")
        );
        assert_eq!(
            kind(raw(json!({"url": "http://x"}), token.clone(), "")),
            Some("invalid-input")
        );
        // Valid inputs reach the HTTP client, which natively answers
        // `unavailable` (host capabilities exist only inside the host).
        assert_eq!(
            kind(raw(json!({"url": "http://x"}), token, "g1")),
            Some("unavailable")
        );
    }

    #[test]
    fn keys_are_url_safe() {
        assert!(safe("podium-0123abc"));
        assert!(!safe(""));
        assert!(!safe("a b"));
        assert!(!safe(&"x".repeat(65)));
    }
}

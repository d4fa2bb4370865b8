//! The HTTP client the CLI commands share: server address and token, JSON
//! in and out, problem documents turned into readable errors.

use std::io::BufRead;

use anyhow::{Context as _, anyhow};
use clap::Args;
use serde_json::Value;

#[derive(Debug, Clone, Args)]
pub struct ServerArgs {
    /// The podium server.
    #[arg(
        long,
        env = "PODIUM_SERVER",
        default_value = "http://127.0.0.1:8080",
        global = true
    )]
    pub server: String,
    /// Bearer token for the server. Without one, the CLI reads the file
    /// `PODIUM_TOKEN_FILE`, else the admin token a local server wrote to
    /// `$PODIUM_DATA/admin-token` (`.podium/admin-token`).
    #[arg(long, env = "PODIUM_TOKEN", global = true, hide_env_values = true)]
    pub token: Option<String>,
}

/// The token to send when none was given: `PODIUM_TOKEN_FILE`, else, for a
/// server on this machine only, the admin token of a local server whose
/// data directory is `$PODIUM_DATA` (default `.podium`, the `serve`
/// default), so the quick start needs no set-up. A remote server never gets
/// a local admin token by accident.
fn discover_token(server: &str) -> Option<String> {
    let file = match std::env::var_os("PODIUM_TOKEN_FILE") {
        Some(f) if !f.is_empty() => std::path::PathBuf::from(f),
        _ if is_loopback(server) => std::path::PathBuf::from(
            std::env::var_os("PODIUM_DATA").unwrap_or_else(|| ".podium".into()),
        )
        .join("admin-token"),
        _ => return None,
    };
    let text = std::fs::read_to_string(file).ok()?;
    let token = text.trim();
    (!token.is_empty()).then(|| token.to_owned())
}

/// Whether `server` (a URL) names this machine.
fn is_loopback(server: &str) -> bool {
    let rest = server
        .split_once("://")
        .map_or(server, |(_, r)| r)
        .split('/')
        .next()
        .unwrap_or("");
    let host = match rest.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or(""),
        None => rest.rsplit_once(':').map_or(rest, |(h, _)| h),
    };
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

pub struct Client {
    agent: ureq::Agent,
    base: String,
    token: Option<String>,
}

/// A failed request: the server's problem document, or a transport error.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("{}", render_problem(.0))]
    Problem(Value),
    #[error("cannot reach the podium server at {server}: {message}")]
    Transport { server: String, message: String },
}

fn render_problem(p: &Value) -> String {
    let mut out = p
        .get("detail")
        .and_then(Value::as_str)
        .or_else(|| p.get("title").and_then(Value::as_str))
        .unwrap_or("request failed")
        .to_owned();
    if let Some(errors) = p.get("errors").and_then(Value::as_array) {
        for e in errors {
            let path = e.get("path").and_then(Value::as_str).unwrap_or("");
            let message = e.get("message").and_then(Value::as_str).unwrap_or("");
            if !path.is_empty() || !message.is_empty() {
                out.push_str(&format!(
                    "\n  at {}: {message}",
                    if path.is_empty() { "/" } else { path }
                ));
            }
        }
    }
    out
}

pub struct Reply {
    pub status: u16,
    pub body: Value,
}

impl Client {
    pub fn new(args: &ServerArgs) -> Client {
        // Connecting and sending are bounded; reading the answer is not,
        // since `deploy --wait` and `logs --follow` wait for deployments.
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_connect(Some(std::time::Duration::from_secs(10)))
            .timeout_send_body(Some(std::time::Duration::from_secs(300)))
            .build()
            .into();
        Client {
            agent,
            base: args.server.trim_end_matches('/').to_owned(),
            token: args.token.clone().or_else(|| discover_token(&args.server)),
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    fn transport(&self, e: ureq::Error) -> ClientError {
        ClientError::Transport {
            server: self.base.clone(),
            message: e.to_string(),
        }
    }

    fn finish(
        &self,
        resp: Result<ureq::http::Response<ureq::Body>, ureq::Error>,
    ) -> Result<Reply, ClientError> {
        let mut resp = resp.map_err(|e| self.transport(e))?;
        let status = resp.status().as_u16();
        let text = resp
            .body_mut()
            .with_config()
            .limit(64 << 20)
            .read_to_string()
            .map_err(|e| self.transport(e))?;
        let body: Value = if text.trim().is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        if status >= 400 {
            return Err(ClientError::Problem(body));
        }
        Ok(Reply { status, body })
    }

    fn auth<B>(&self, req: ureq::RequestBuilder<B>) -> ureq::RequestBuilder<B> {
        match &self.token {
            Some(t) => req.header("authorization", &format!("Bearer {t}")),
            None => req,
        }
        .header("user-agent", "podium-cli")
    }

    pub fn get(&self, path: &str) -> Result<Value, ClientError> {
        let req = self.auth(self.agent.get(&self.url(path)));
        self.finish(req.call()).map(|r| r.body)
    }

    pub fn put_json(&self, path: &str, body: &Value) -> Result<Reply, ClientError> {
        let req = self.auth(self.agent.put(&self.url(path)));
        self.finish(
            req.header("content-type", "application/json")
                .send(body.to_string()),
        )
    }

    pub fn post_json(&self, path: &str, body: &Value) -> Result<Reply, ClientError> {
        let req = self.auth(self.agent.post(&self.url(path)));
        self.finish(
            req.header("content-type", "application/json")
                .send(body.to_string()),
        )
    }

    pub fn delete(&self, path: &str) -> Result<Reply, ClientError> {
        let req = self.auth(self.agent.delete(&self.url(path)));
        self.finish(req.call())
    }

    pub fn post_bytes(
        &self,
        path: &str,
        content_type: &str,
        body: &[u8],
    ) -> Result<Reply, ClientError> {
        let req = self.auth(self.agent.post(&self.url(path)));
        self.finish(req.header("content-type", content_type).send(body))
    }

    /// Follows a server-sent-events stream, calling `each` with every
    /// event's JSON data until the stream ends.
    pub fn follow(&self, path: &str, mut each: impl FnMut(&Value)) -> anyhow::Result<()> {
        let req = self
            .auth(self.agent.get(&self.url(path)))
            .header("accept", "text/event-stream");
        let mut resp = req.call().map_err(|e| anyhow!(self.transport(e)))?;
        if resp.status().as_u16() >= 400 {
            let text = resp.body_mut().read_to_string().unwrap_or_default();
            let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
            return Err(anyhow!(ClientError::Problem(body)));
        }
        let reader = std::io::BufReader::new(resp.into_body().into_reader());
        for line in reader.lines() {
            let line = line.context("reading the event stream")?;
            if let Some(data) = line.strip_prefix("data:")
                && let Ok(v) = serde_json::from_str::<Value>(data.trim_start())
            {
                each(&v);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::is_loopback;

    #[test]
    fn only_this_machine_counts_as_loopback() {
        for local in [
            "http://127.0.0.1:8080",
            "http://localhost:8080/",
            "http://[::1]:8080",
            "https://127.0.0.2",
        ] {
            assert!(is_loopback(local), "{local}");
        }
        for remote in [
            "http://podium.example.com:8080",
            "http://10.0.0.1:8080",
            "http://127.0.0.1.example.com",
            "http://localhost.evil:80",
        ] {
            assert!(!is_loopback(remote), "{remote}");
        }
    }
}

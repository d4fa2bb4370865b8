//! A small blocking HTTP client over `wasi:http/outgoing-handler`.
//!
//! The host lets a request out only when a grant of the resource definition
//! covers its scheme, host and port (and the address the name resolves to);
//! otherwise [`Request::send`] fails with [`Error::Denied`]. Methods other
//! than `GET`, `HEAD` and `OPTIONS` are refused during `plan`.
//!
//! ```no_run
//! use podium_driver_sdk::http::Request;
//! use serde_json::json;
//!
//! # fn main() -> Result<(), podium_driver_sdk::Error> {
//! let zone: serde_json::Value = Request::get("http://127.0.0.1:8081/api/v1/servers/localhost/zones/x.")
//!     .header("X-API-Key", "secret")
//!     .send()?
//!     .error_for_status()?
//!     .json()?;
//! Request::post("http://127.0.0.1:8081/api/v1/things")
//!     .json(&json!({"name": "a"}))?
//!     .send()?
//!     .error_for_status()?;
//! # Ok(()) }
//! ```
//!
//! Error mapping: a denied request → [`Error::Denied`]; DNS failures,
//! refused connections and timeouts → [`Error::Unavailable`]; anything else →
//! [`Error::Failed`]. Messages name the URL without its query string (query
//! strings often carry keys).

mod response;
mod url;
mod wasi;

use std::time::Duration;

use serde::Serialize;

pub use response::Response;

use crate::Error;

/// Default cap on a response body: drivers talk to control-plane APIs, and a
/// runaway body would otherwise eat the call's memory budget.
pub const DEFAULT_MAX_RESPONSE_BYTES: usize = 8 * 1024 * 1024;

/// An HTTP method.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Method {
    /// `GET`
    Get,
    /// `HEAD`
    Head,
    /// `POST`
    Post,
    /// `PUT`
    Put,
    /// `DELETE`
    Delete,
    /// `PATCH`
    Patch,
    /// `OPTIONS`
    Options,
    /// Any other method, e.g. `PROPFIND`.
    Other(String),
}

impl Method {
    /// Parses a method name, case-insensitively for the standard ones.
    pub fn parse(name: &str) -> Self {
        match name.to_ascii_uppercase().as_str() {
            "GET" => Self::Get,
            "HEAD" => Self::Head,
            "POST" => Self::Post,
            "PUT" => Self::Put,
            "DELETE" => Self::Delete,
            "PATCH" => Self::Patch,
            "OPTIONS" => Self::Options,
            _ => Self::Other(name.to_owned()),
        }
    }

    /// The method's name, e.g. `GET`.
    pub fn as_str(&self) -> &str {
        match self {
            Self::Get => "GET",
            Self::Head => "HEAD",
            Self::Post => "POST",
            Self::Put => "PUT",
            Self::Delete => "DELETE",
            Self::Patch => "PATCH",
            Self::Options => "OPTIONS",
            Self::Other(name) => name,
        }
    }
}

/// An outgoing request; build it, then [`send`](Request::send) it.
#[derive(Debug, Clone)]
#[must_use = "a request does nothing until it is sent"]
pub struct Request {
    method: Method,
    url: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    timeout: Option<Duration>,
    max_response_bytes: usize,
}

impl Request {
    /// A request with any method.
    pub fn new(method: Method, url: impl Into<String>) -> Self {
        Self {
            method,
            url: url.into(),
            headers: Vec::new(),
            body: Vec::new(),
            timeout: None,
            max_response_bytes: DEFAULT_MAX_RESPONSE_BYTES,
        }
    }

    /// A `GET` request.
    pub fn get(url: impl Into<String>) -> Self {
        Self::new(Method::Get, url)
    }

    /// A `POST` request.
    pub fn post(url: impl Into<String>) -> Self {
        Self::new(Method::Post, url)
    }

    /// A `PUT` request.
    pub fn put(url: impl Into<String>) -> Self {
        Self::new(Method::Put, url)
    }

    /// A `DELETE` request.
    pub fn delete(url: impl Into<String>) -> Self {
        Self::new(Method::Delete, url)
    }

    /// A `PATCH` request.
    pub fn patch(url: impl Into<String>) -> Self {
        Self::new(Method::Patch, url)
    }

    /// Adds a header (repeat it for several values).
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Sets the body.
    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = body.into();
        self
    }

    /// Sets a JSON body and `content-type: application/json` (unless a
    /// content type was set already).
    pub fn json<T: Serialize + ?Sized>(mut self, body: &T) -> Result<Self, Error> {
        self.body = serde_json::to_vec(body)
            .map_err(|e| Error::failed(format!("cannot serialise the JSON body: {e}")))?;
        if !self.has_header("content-type") {
            self.headers
                .push(("content-type".to_owned(), "application/json".to_owned()));
        }
        Ok(self)
    }

    /// Limits connecting, waiting for the first byte and the gap between
    /// bytes to `timeout` each. Without it the host's defaults apply.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Fails the call when the response body is larger than `bytes`
    /// (default [`DEFAULT_MAX_RESPONSE_BYTES`]).
    pub fn max_response_bytes(mut self, bytes: usize) -> Self {
        self.max_response_bytes = bytes;
        self
    }

    /// The method.
    pub fn method(&self) -> &Method {
        &self.method
    }

    /// The URL as given.
    pub fn url(&self) -> &str {
        &self.url
    }

    fn has_header(&self, name: &str) -> bool {
        self.headers
            .iter()
            .any(|(n, _)| n.eq_ignore_ascii_case(name))
    }

    /// Sends the request and reads the whole response (up to the cap). Any
    /// status is a successful response; see [`Response::error_for_status`].
    pub fn send(self) -> Result<Response, Error> {
        let target = url::Target::parse(&self.url)?;
        wasi::send(self, target)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_sets_content_type_once() {
        let req = Request::post("http://x/").header("Content-Type", "application/merge-patch+json");
        let req = req.json(&serde_json::json!({"a": 1}));
        let req = req.map(|r| (r.headers.len(), r.body));
        assert_eq!(req, Ok((1, br#"{"a":1}"#.to_vec())));
        let req = Request::put("http://x/").json(&1).map(|r| r.headers);
        assert_eq!(
            req,
            Ok(vec![(
                "content-type".to_owned(),
                "application/json".to_owned()
            )])
        );
    }

    #[test]
    fn methods_parse() {
        assert_eq!(Method::parse("get"), Method::Get);
        assert_eq!(Method::parse("PATCH").as_str(), "PATCH");
        assert_eq!(
            Method::parse("PROPFIND"),
            Method::Other("PROPFIND".to_owned())
        );
    }

    #[test]
    fn send_outside_the_host_is_unavailable() {
        let err = Request::get("http://127.0.0.1:1/x?key=secret").send().err();
        assert_eq!(
            err,
            Some(Error::unavailable(
                "HTTP request to http://127.0.0.1:1/x failed: host capabilities exist only inside the Podium host"
            ))
        );
    }

    #[test]
    fn bad_urls_are_invalid_input() {
        let err = Request::get("ftp://x/").send().err().map(|e| e.kind());
        assert_eq!(err, Some("invalid-input"));
    }
}

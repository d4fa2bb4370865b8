//! Reading request bodies ourselves, so a malformed one gets a precise
//! problem (line, column, what was expected) instead of a framework message.

use axum::body::Bytes;
use axum::http::HeaderMap;
use axum::http::header::CONTENT_TYPE;
use serde::de::DeserializeOwned;

use super::problem::Problem;

pub fn content_type(headers: &HeaderMap) -> String {
    headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            v.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        })
        .unwrap_or_default()
}

pub fn is_yaml(headers: &HeaderMap) -> bool {
    matches!(
        content_type(headers).as_str(),
        "application/yaml" | "application/x-yaml" | "text/yaml" | "text/x-yaml"
    )
}

/// Parses a JSON body into `T`; errors name the line, column and field path.
pub fn json<T: DeserializeOwned>(bytes: &Bytes) -> Result<T, Problem> {
    if bytes.is_empty() {
        return Err(Problem::bad_request(
            "the request body is empty; send a JSON document",
        ));
    }
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        let message = inner.to_string();
        if inner.is_syntax() || inner.is_eof() {
            Problem::bad_request(format!("malformed JSON: {message}")).with("", message)
        } else {
            let path = if path == "." { String::new() } else { path };
            Problem::invalid(path, message)
        }
    })
}

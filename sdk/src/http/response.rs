//! A fully read HTTP response.

use serde::de::DeserializeOwned;

use crate::Error;

/// Longest body excerpt quoted in an error message.
const EXCERPT_BYTES: usize = 512;

/// A response whose body has been read completely.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// The status code, e.g. `200`.
    pub status: u16,
    /// Headers in the order received; names as the host gives them
    /// (lower-case with HTTP/1.1 via hyper). Non-UTF-8 values are lossy.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
    /// `GET http://host/path`, for messages.
    origin: String,
}

impl Response {
    /// A response as received from `origin` (`METHOD url`, for messages).
    pub fn new(
        origin: impl Into<String>,
        status: u16,
        headers: Vec<(String, String)>,
        body: Vec<u8>,
    ) -> Self {
        Self {
            status,
            headers,
            body,
            origin: origin.into(),
        }
    }

    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Whether the status is 2xx.
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// The body as text (invalid UTF-8 replaced).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// Decodes the body as JSON into `T`; a mismatch is [`Error::Failed`]
    /// naming the field.
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, Error> {
        let value: serde_json::Value = serde_json::from_slice(&self.body).map_err(|e| {
            Error::failed(format!(
                "response from {} is not JSON: {e}: {}",
                self.origin,
                self.excerpt()
            ))
        })?;
        crate::json::decode("body", &value).map_err(|e| {
            Error::failed(format!(
                "unexpected response from {}: {}",
                self.origin,
                e.message()
            ))
        })
    }

    /// Turns 4xx and 5xx statuses into errors: 409 and 412 →
    /// [`Error::Conflict`]; 408, 425, 429, 502, 503 and 504 →
    /// [`Error::Unavailable`] (retrying later may help); others →
    /// [`Error::Failed`]. The message quotes the start of the body.
    pub fn error_for_status(self) -> Result<Self, Error> {
        if self.status < 400 {
            return Ok(self);
        }
        let message = format!(
            "{} answered {}: {}",
            self.origin,
            self.status,
            self.excerpt()
        );
        Err(match self.status {
            409 | 412 => Error::Conflict(message),
            408 | 425 | 429 | 502 | 503 | 504 => Error::Unavailable(message),
            _ => Error::Failed(message),
        })
    }

    fn excerpt(&self) -> String {
        let text = String::from_utf8_lossy(&self.body);
        let trimmed = text.trim();
        if trimmed.len() <= EXCERPT_BYTES {
            return trimmed.to_owned();
        }
        let mut end = EXCERPT_BYTES;
        while !trimmed.is_char_boundary(end) {
            end -= 1;
        }
        format!("{}...", &trimmed[..end])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn response(status: u16, body: &str) -> Response {
        Response::new(
            "GET http://h/p",
            status,
            vec![("Content-Type".into(), "text/plain".into())],
            body.into(),
        )
    }

    #[test]
    fn headers_are_case_insensitive() {
        assert_eq!(response(200, "").header("content-type"), Some("text/plain"));
        assert_eq!(response(200, "").header("x"), None);
    }

    #[test]
    fn statuses_map_to_errors() {
        assert!(response(204, "").error_for_status().is_ok());
        assert_eq!(
            response(409, " exists\n").error_for_status().err(),
            Some(Error::conflict("GET http://h/p answered 409: exists"))
        );
        let kind = |s| response(s, "").error_for_status().err().map(|e| e.kind());
        assert_eq!(kind(503), Some("unavailable"));
        assert_eq!(kind(404), Some("failed"));
    }

    #[test]
    fn json_and_text() {
        #[derive(serde::Deserialize, Debug, PartialEq)]
        struct Zone {
            id: String,
        }
        assert_eq!(
            response(200, r#"{"id":"z"}"#).json::<Zone>(),
            Ok(Zone { id: "z".into() })
        );
        assert_eq!(
            response(200, r#"{"id":1}"#).json::<Zone>().err(),
            Some(Error::failed(
                "unexpected response from GET http://h/p: body.id: invalid type: integer `1`, expected a string"
            ))
        );
        assert_eq!(response(200, "hé").text(), "hé");
    }

    #[test]
    fn excerpts_are_bounded() {
        let long = "é".repeat(1000);
        let err = response(500, &long)
            .error_for_status()
            .err()
            .map(|e| e.to_string());
        assert!(err.is_some_and(|m| m.len() < 600 && m.ends_with("...")));
    }
}

//! A small S3 client: path-style requests signed with SigV4 (see
//! [`crate::sigv4`]) and sent through the SDK's HTTP client; S3's XML error
//! codes become driver errors.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use podium_driver_sdk::http::{Method, Request, Response};
use podium_driver_sdk::retry::Backoff;
use podium_driver_sdk::{Error, log};
use sha2::{Digest, Sha256};

use crate::sigv4;
use crate::xml;

const TIMEOUT: Duration = Duration::from_secs(15);
/// Retries of a request that got a 5xx: 4 attempts, waiting 50, 150 and
/// 400 ms.
const RETRY: Backoff = Backoff {
    attempts: 4,
    first: Duration::from_millis(50),
    factor: 3,
    max: Duration::from_millis(400),
};
/// Longest S3 message quoted in an error.
const MAX_MESSAGE: usize = 300;

/// One S3 endpoint with one key.
pub struct S3<'a> {
    /// `http` or `https`.
    scheme: String,
    /// `host[:port]`, as sent in `Host` and signed.
    authority: String,
    /// A path prefix of the endpoint (usually empty), without trailing `/`.
    base_path: String,
    region: &'a str,
    access_key_id: &'a str,
    secret_key: &'a str,
    /// `S3 at <endpoint>`, the prefix of every error.
    pub at: String,
}

/// One page of `ListObjectsV2`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listing {
    pub keys: Vec<String>,
    pub truncated: bool,
}

impl<'a> S3<'a> {
    pub fn new(
        endpoint: &str,
        region: &'a str,
        access_key_id: &'a str,
        secret_key: &'a str,
    ) -> Result<S3<'a>, Error> {
        let endpoint = endpoint.trim().trim_end_matches('/');
        let bad =
            |why: &str| Error::invalid_input(format!("driver_values.endpoint {endpoint:?}: {why}"));
        let (scheme, rest) = endpoint
            .split_once("://")
            .ok_or_else(|| bad("must start with http:// or https://"))?;
        let scheme = scheme.to_ascii_lowercase();
        if scheme != "http" && scheme != "https" {
            return Err(bad("must start with http:// or https://"));
        }
        if rest.contains(['?', '#', '@']) {
            return Err(bad(
                "must be scheme://host[:port][/path] without query or credentials",
            ));
        }
        let (authority, base_path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, ""),
        };
        if authority.is_empty() {
            return Err(bad("has no host"));
        }
        if region.is_empty()
            || !region
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-')
        {
            return Err(Error::invalid_input(format!(
                "driver_values.region {region:?} is not a region name"
            )));
        }
        Ok(S3 {
            scheme,
            authority: authority.to_ascii_lowercase(),
            base_path: base_path.to_owned(),
            region,
            access_key_id,
            secret_key,
            at: describe(endpoint),
        })
    }

    /// The first `max_keys` keys of `bucket`; `None` if there is no such
    /// bucket. Also the cheapest way to ask whether a bucket exists and is
    /// ours, with an error body when it is not (HEAD has none).
    pub fn list(&self, bucket: &str, max_keys: u32) -> Result<Option<Listing>, Error> {
        let query = [
            ("list-type".to_owned(), "2".to_owned()),
            ("max-keys".to_owned(), max_keys.to_string()),
        ];
        let what = format!("list bucket {bucket}");
        let response = self.send("GET", bucket, None, &query, Vec::new(), &what)?;
        if response.status == 404 && error_code(&response).as_deref() == Some("NoSuchBucket") {
            return Ok(None);
        }
        let response = self.check(response, &what)?;
        let body = response.text();
        Ok(Some(Listing {
            keys: xml::all(&body, "Key"),
            truncated: xml::first(&body, "IsTruncated").as_deref() == Some("true"),
        }))
    }

    /// `CreateBucket`; one that we own already counts as created.
    pub fn create_bucket(&self, bucket: &str) -> Result<(), Error> {
        // us-east-1 takes no configuration; every other region must be named.
        let body = if self.region == "us-east-1" {
            Vec::new()
        } else {
            format!(
                "<CreateBucketConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">\
                 <LocationConstraint>{}</LocationConstraint></CreateBucketConfiguration>",
                self.region
            )
            .into_bytes()
        };
        let what = format!("create bucket {bucket}");
        log::info(format!("{}: {what}", self.at));
        let response = self.send("PUT", bucket, None, &[], body, &what)?;
        if response.status == 409
            && error_code(&response).as_deref() == Some("BucketAlreadyOwnedByYou")
        {
            return Ok(());
        }
        self.check(response, &what).map(drop)
    }

    pub fn delete_object(&self, bucket: &str, key: &str) -> Result<(), Error> {
        let what = format!("delete an object of bucket {bucket}");
        let response = self.send("DELETE", bucket, Some(key), &[], Vec::new(), &what)?;
        if response.status == 404 {
            return Ok(());
        }
        self.check(response, &what).map(drop)
    }

    /// `DeleteBucket`; one already gone counts as deleted.
    pub fn delete_bucket(&self, bucket: &str) -> Result<(), Error> {
        let what = format!("delete bucket {bucket}");
        log::info(format!("{}: {what}", self.at));
        let response = self.send("DELETE", bucket, None, &[], Vec::new(), &what)?;
        if response.status == 404 && error_code(&response).as_deref() == Some("NoSuchBucket") {
            return Ok(());
        }
        self.check(response, &what).map(drop)
    }

    fn send(
        &self,
        method: &str,
        bucket: &str,
        key: Option<&str>,
        query: &[(String, String)],
        body: Vec<u8>,
        what: &str,
    ) -> Result<Response, Error> {
        let path = match key {
            Some(k) => format!("{}/{bucket}/{k}", self.base_path),
            None => format!("{}/{bucket}", self.base_path),
        };
        let canonical_uri = sigv4::encode_path(&path);
        let query_text = sigv4::canonical_query(query);
        let url = if query_text.is_empty() {
            format!("{}://{}{canonical_uri}", self.scheme, self.authority)
        } else {
            format!(
                "{}://{}{canonical_uri}?{query_text}",
                self.scheme, self.authority
            )
        };
        let payload_hash = hex::encode(Sha256::digest(&body));
        let amz_date = sigv4::amz_date(now()?);
        let signed_headers = [
            ("host".to_owned(), self.authority.clone()),
            ("x-amz-content-sha256".to_owned(), payload_hash.clone()),
            ("x-amz-date".to_owned(), amz_date.clone()),
        ];
        let signed = sigv4::sign(
            &sigv4::Input {
                method,
                canonical_uri: &canonical_uri,
                query,
                headers: &signed_headers,
                payload_hash: &payload_hash,
                amz_date: &amz_date,
                region: self.region,
                service: "s3",
            },
            self.access_key_id,
            self.secret_key,
        );
        // `host` is set by the host from the URL's authority.
        let mut request = Request::new(Method::parse(method), url)
            .header("authorization", signed.authorization)
            .header("x-amz-content-sha256", payload_hash)
            .header("x-amz-date", amz_date)
            .timeout(TIMEOUT);
        if method != "GET" && method != "HEAD" {
            // An explicit length, even 0: the host would stream the body
            // chunked otherwise, and S3 servers may insist on a length
            // (s3s-fs answers DELETE without one with 411).
            request = request.header("content-length", body.len().to_string());
        }
        let request = request.body(body);
        // Every request here is idempotent: retry server errors (503
        // SlowDown, 500 InternalError) a few times, as AWS asks clients to.
        RETRY
            .run(
                || request.clone().send(),
                |sent, wait| match sent {
                    Ok(response) if (500..=599).contains(&response.status) => {
                        log::warn(format!(
                            "{}: {what}: {}; retrying in {} ms",
                            self.at,
                            response.status,
                            wait.as_millis()
                        ));
                        true
                    }
                    _ => false,
                },
            )
            .map_err(|e| e.context(format!("{}: {what}", self.at)))
    }

    fn check(&self, response: Response, what: &str) -> Result<Response, Error> {
        check(response, &self.at, what)
    }
}

/// `S3 at <endpoint>`.
pub fn describe(endpoint: &str) -> String {
    format!("S3 at {}", endpoint.trim().trim_end_matches('/'))
}

/// Seconds since the Unix epoch, from the host's wall clock.
fn now() -> Result<u64, Error> {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .map_err(|_| Error::failed("the host's clock is before 1970; cannot sign S3 requests"))
}

fn error_code(response: &Response) -> Option<String> {
    xml::first(&response.text(), "Code")
}

/// Maps S3's error statuses and codes onto driver errors, quoting the code
/// and message (never the request, which S3 echoes in some error bodies).
pub fn check(response: Response, at: &str, what: &str) -> Result<Response, Error> {
    if response.is_success() {
        return Ok(response);
    }
    let status = response.status;
    let body = response.text();
    let code = xml::first(&body, "Code").unwrap_or_default();
    let message = bounded(&xml::first(&body, "Message").unwrap_or_default());
    let detail = match (code.is_empty(), message.is_empty()) {
        (true, true) => String::new(),
        (false, true) => format!(" {code}"),
        (true, false) => format!(" {message}"),
        (false, false) => format!(" {code}: {message}"),
    };
    let text = format!("{at}: {what}: {status}{detail}");
    Err(match (status, code.as_str()) {
        (
            403,
            "SignatureDoesNotMatch"
            | "InvalidAccessKeyId"
            | "NotSignedUp"
            | "InvalidToken"
            | "ExpiredToken"
            | "AccessDenied"
            | "",
        ) => Error::denied(format!(
            "{text}; check access_key_id and secret_key in the definition's secrets"
        )),
        (403, "RequestTimeTooSkewed") => Error::failed(format!("{text}; the host's clock is off")),
        (409, _) => Error::conflict(text),
        (400, _) => Error::invalid_input(text),
        (408 | 429 | 500 | 502 | 503 | 504, _) => Error::unavailable(text),
        _ => Error::failed(text),
    })
}

fn bounded(message: &str) -> String {
    let message = message.trim();
    if message.len() <= MAX_MESSAGE {
        return message.to_owned();
    }
    let mut end = MAX_MESSAGE;
    while !message.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}...", &message[..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    const AT: &str = "S3 at http://127.0.0.1:15001";

    fn err(status: u16, body: &str) -> Error {
        check(
            Response::new("GET x", status, vec![], body.into()),
            AT,
            "create bucket b",
        )
        .err()
        .unwrap_or_else(|| Error::failed("no error"))
    }

    fn error_xml(code: &str, message: &str) -> String {
        format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>{code}</Code><Message>{message}</Message>\
             <StringToSign>AWS4-HMAC-SHA256...</StringToSign></Error>"
        )
    }

    #[test]
    fn s3_errors_get_the_right_kind_and_keep_code_and_message() {
        let e = err(
            403,
            &error_xml(
                "SignatureDoesNotMatch",
                "The request signature we calculated does not match",
            ),
        );
        assert_eq!(e.kind(), "denied");
        assert_eq!(
            e.message(),
            "S3 at http://127.0.0.1:15001: create bucket b: 403 SignatureDoesNotMatch: The request signature \
             we calculated does not match; check access_key_id and secret_key in the definition's secrets"
        );
        assert!(!e.message().contains("StringToSign"));
        assert_eq!(err(403, "").kind(), "denied");
        assert_eq!(
            err(409, &error_xml("BucketAlreadyExists", "taken")).kind(),
            "conflict"
        );
        assert_eq!(
            err(409, &error_xml("BucketNotEmpty", "not empty")).kind(),
            "conflict"
        );
        assert_eq!(
            err(400, &error_xml("InvalidBucketName", "bad")).kind(),
            "invalid-input"
        );
        assert_eq!(
            err(503, &error_xml("SlowDown", "slow")).kind(),
            "unavailable"
        );
        assert_eq!(
            err(501, &error_xml("NotImplemented", "no")).kind(),
            "failed"
        );
        assert_eq!(
            err(403, &error_xml("RequestTimeTooSkewed", "skew")).kind(),
            "failed"
        );
    }

    #[test]
    fn endpoints_parse() {
        let s3 = S3::new("http://127.0.0.1:15001/", "us-east-1", "a", "s").unwrap();
        assert_eq!(
            (
                s3.scheme.as_str(),
                s3.authority.as_str(),
                s3.base_path.as_str()
            ),
            ("http", "127.0.0.1:15001", "")
        );
        assert_eq!(s3.at, AT);
        let s3 = S3::new("HTTPS://S3.Example.com/store", "eu-west-1", "a", "s").unwrap();
        assert_eq!(
            (
                s3.scheme.as_str(),
                s3.authority.as_str(),
                s3.base_path.as_str()
            ),
            ("https", "s3.example.com", "/store")
        );
        for bad in [
            "127.0.0.1:15001",
            "ftp://h",
            "http://",
            "http://u:p@h",
            "http://h/?x=1",
        ] {
            assert_eq!(
                S3::new(bad, "us-east-1", "a", "s").err().map(|e| e.kind()),
                Some("invalid-input"),
                "{bad}"
            );
        }
        assert!(S3::new("http://h", "us east", "a", "s").is_err());
    }
}

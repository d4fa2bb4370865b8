//! Sending a [`Request`] through `wasi:http/outgoing-handler`.

use wasip2::http::types::ErrorCode;

use super::url::{Target, redact};
use super::{Request, Response};
use crate::Error;

/// `GET http://host/path` (no query), for messages.
#[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))] // used on wasm32 and in tests
fn origin(request: &Request) -> String {
    format!("{} {}", request.method.as_str(), redact(&request.url))
}

/// Maps a `wasi:http` error onto the SDK's error kinds.
#[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
pub(crate) fn map_error(code: &ErrorCode, url: &str) -> Error {
    let url = redact(url);
    match code {
        ErrorCode::HttpRequestDenied | ErrorCode::DestinationIpProhibited => Error::denied(
            format!("HTTP request to {url} was denied by the host: no grant covers it"),
        ),
        ErrorCode::DnsTimeout
        | ErrorCode::DnsError(_)
        | ErrorCode::DestinationNotFound
        | ErrorCode::DestinationUnavailable
        | ErrorCode::DestinationIpUnroutable
        | ErrorCode::ConnectionRefused
        | ErrorCode::ConnectionTerminated
        | ErrorCode::ConnectionTimeout
        | ErrorCode::ConnectionReadTimeout
        | ErrorCode::ConnectionWriteTimeout
        | ErrorCode::ConnectionLimitReached
        | ErrorCode::HttpResponseTimeout => {
            Error::unavailable(format!("HTTP request to {url} failed: {}", describe(code)))
        }
        _ => Error::failed(format!("HTTP request to {url} failed: {}", describe(code))),
    }
}

/// A readable phrase for an error code.
fn describe(code: &ErrorCode) -> String {
    match code {
        ErrorCode::DnsTimeout => "DNS lookup timed out".to_owned(),
        ErrorCode::DnsError(p) => match (&p.rcode, p.info_code) {
            (Some(rcode), _) => format!("DNS error {rcode}"),
            (None, Some(info)) => format!("DNS error (info code {info})"),
            (None, None) => "DNS error".to_owned(),
        },
        ErrorCode::DestinationNotFound => "host not found".to_owned(),
        ErrorCode::DestinationUnavailable => "destination unavailable".to_owned(),
        ErrorCode::DestinationIpUnroutable => "address unroutable".to_owned(),
        ErrorCode::ConnectionRefused => "connection refused".to_owned(),
        ErrorCode::ConnectionTerminated => "connection terminated".to_owned(),
        ErrorCode::ConnectionTimeout => "connection timed out".to_owned(),
        ErrorCode::ConnectionReadTimeout => "read timed out".to_owned(),
        ErrorCode::ConnectionWriteTimeout => "write timed out".to_owned(),
        ErrorCode::ConnectionLimitReached => "connection limit reached".to_owned(),
        ErrorCode::HttpResponseTimeout => "response timed out".to_owned(),
        ErrorCode::TlsProtocolError => "TLS protocol error".to_owned(),
        ErrorCode::TlsCertificateError => "TLS certificate error".to_owned(),
        ErrorCode::TlsAlertReceived(p) => match &p.alert_message {
            Some(m) => format!("TLS alert: {m}"),
            None => "TLS alert received".to_owned(),
        },
        ErrorCode::HttpResponseBodySize(_) => "response body too large".to_owned(),
        ErrorCode::InternalError(Some(m)) => format!("internal error: {m}"),
        other => format!("{other:?}")
            .trim_start_matches("ErrorCode::")
            .to_owned(),
    }
}

#[cfg(not(target_arch = "wasm32"))]
pub(crate) fn send(request: Request, _target: Target) -> Result<Response, Error> {
    Err(Error::unavailable(format!(
        "HTTP request to {} failed: host capabilities exist only inside the Podium host",
        redact(&request.url)
    )))
}

#[cfg(target_arch = "wasm32")]
pub(crate) fn send(request: Request, target: Target) -> Result<Response, Error> {
    imp::send(request, target)
}

#[cfg(target_arch = "wasm32")]
mod imp {
    use std::time::Duration;

    use wasip2::http::outgoing_handler;
    use wasip2::http::types::{
        ErrorCode, Fields, IncomingBody, Method as WasiMethod, OutgoingBody, OutgoingRequest,
        RequestOptions, Scheme,
    };
    use wasip2::io::streams::StreamError;

    use super::{Error, Request, Response, Target, map_error, origin};
    use crate::http::Method;

    /// `blocking-write-and-flush` accepts at most this many bytes per call.
    const WRITE_CHUNK: usize = 4096;
    const READ_CHUNK: u64 = 64 * 1024;

    pub(super) fn send(request: Request, target: Target) -> Result<Response, Error> {
        let url = request.url.clone();
        let fail = |code: ErrorCode| map_error(&code, &url);

        let headers = headers(&request)?;
        let outgoing = OutgoingRequest::new(headers);
        let invalid = |what: &str| {
            Error::invalid_input(format!(
                "HTTP request to {}: invalid {what}",
                origin(&request)
            ))
        };
        outgoing
            .set_method(&wasi_method(&request.method))
            .map_err(|()| invalid("method"))?;
        let scheme = if target.https {
            Scheme::Https
        } else {
            Scheme::Http
        };
        outgoing
            .set_scheme(Some(&scheme))
            .map_err(|()| invalid("scheme"))?;
        outgoing
            .set_authority(Some(&target.authority))
            .map_err(|()| invalid("host"))?;
        outgoing
            .set_path_with_query(Some(&target.path_with_query))
            .map_err(|()| invalid("path"))?;
        let body = outgoing
            .body()
            .map_err(|()| Error::failed("HTTP request body was already taken"))?;

        let future = outgoing_handler::handle(outgoing, options(request.timeout)).map_err(fail)?;
        // The outcome of the request decides, not the write: a server may
        // answer before reading the whole body (a 401, a 413) and close the
        // connection, and a request the host refuses closes the body too.
        // Either way the response (or its error code) says what happened.
        let written = write_body(body, &request.body);

        let response = loop {
            match future.get() {
                Some(Ok(Ok(response))) => break response,
                Some(Ok(Err(code))) => return Err(fail(code)),
                Some(Err(())) => return Err(Error::failed("HTTP response was already taken")),
                None => future.subscribe().block(),
            }
        };
        if let Err(e) = written
            && !(400..600).contains(&response.status())
        {
            // A success answer to a body that did not go out whole is not one.
            return Err(e.unwrap_or_else(|| transport(&url)));
        }
        let status = response.status();
        let headers = response
            .headers()
            .entries()
            .into_iter()
            .map(|(name, value)| (name, String::from_utf8_lossy(&value).into_owned()))
            .collect();
        let body = response
            .consume()
            .map_err(|()| Error::failed("HTTP response body was already taken"))?;
        let body = read_body(body, request.max_response_bytes, &url)?;
        Ok(Response::new(origin(&request), status, headers, body))
    }

    fn headers(request: &Request) -> Result<Fields, Error> {
        let fields = Fields::new();
        for (name, value) in &request.headers {
            fields.append(name, value.as_bytes()).map_err(|e| {
                Error::invalid_input(format!(
                    "HTTP request to {}: header {name:?}: {e:?}",
                    origin(request)
                ))
            })?;
        }
        Ok(fields)
    }

    fn wasi_method(method: &Method) -> WasiMethod {
        match method {
            Method::Get => WasiMethod::Get,
            Method::Head => WasiMethod::Head,
            Method::Post => WasiMethod::Post,
            Method::Put => WasiMethod::Put,
            Method::Delete => WasiMethod::Delete,
            Method::Patch => WasiMethod::Patch,
            Method::Options => WasiMethod::Options,
            Method::Other(name) => WasiMethod::Other(name.clone()),
        }
    }

    fn options(timeout: Option<Duration>) -> Option<RequestOptions> {
        let timeout = timeout?;
        let nanos = u64::try_from(timeout.as_nanos()).unwrap_or(u64::MAX);
        let options = RequestOptions::new();
        // A host without timeout support refuses them; the call still works.
        let _ = options.set_connect_timeout(Some(nanos));
        let _ = options.set_first_byte_timeout(Some(nanos));
        let _ = options.set_between_bytes_timeout(Some(nanos));
        Some(options)
    }

    /// Writes and finishes the body. `Err(None)` is a transport failure
    /// without an HTTP error code.
    fn write_body(body: OutgoingBody, bytes: &[u8]) -> Result<(), Option<Error>> {
        {
            // The stream is a child of the body and must go before `finish`.
            let stream = body.write().map_err(|()| None)?;
            for chunk in bytes.chunks(WRITE_CHUNK) {
                stream
                    .blocking_write_and_flush(chunk)
                    .map_err(|e| stream_error(e, ""))?;
            }
        }
        OutgoingBody::finish(body, None).map_err(|code| Some(map_error(&code, "")))
    }

    fn read_body(body: IncomingBody, max: usize, url: &str) -> Result<Vec<u8>, Error> {
        let mut out = Vec::new();
        {
            let stream = body
                .stream()
                .map_err(|()| Error::failed("HTTP response body stream was already taken"))?;
            loop {
                match stream.blocking_read(READ_CHUNK) {
                    Ok(chunk) => {
                        if out.len() + chunk.len() > max {
                            return Err(Error::failed(format!(
                                "HTTP response from {} is larger than {max} bytes",
                                super::redact(url)
                            )));
                        }
                        out.extend_from_slice(&chunk);
                    }
                    Err(StreamError::Closed) => break,
                    Err(e) => return Err(stream_error(e, url).unwrap_or_else(|| transport(url))),
                }
            }
        }
        drop(IncomingBody::finish(body));
        Ok(out)
    }

    fn stream_error(error: StreamError, url: &str) -> Option<Error> {
        match error {
            StreamError::Closed => None,
            StreamError::LastOperationFailed(e) => {
                wasip2::http::types::http_error_code(&e).map(|code| map_error(&code, url))
            }
        }
    }

    fn transport(url: &str) -> Error {
        Error::unavailable(format!(
            "HTTP request to {} failed: the connection broke",
            super::redact(url)
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasip2::http::types::DnsErrorPayload;

    #[test]
    fn denied_names_the_url() {
        assert_eq!(
            map_error(
                &ErrorCode::HttpRequestDenied,
                "https://api.example.com/v1/x?token=t"
            ),
            Error::denied(
                "HTTP request to https://api.example.com/v1/x was denied by the host: no grant covers it"
            )
        );
    }

    #[test]
    fn network_trouble_is_unavailable() {
        let dns = ErrorCode::DnsError(DnsErrorPayload {
            rcode: Some("NXDOMAIN".into()),
            info_code: None,
        });
        assert_eq!(
            map_error(&dns, "http://nope/"),
            Error::unavailable("HTTP request to http://nope/ failed: DNS error NXDOMAIN")
        );
        assert_eq!(
            map_error(&ErrorCode::ConnectionRefused, "http://127.0.0.1:1/"),
            Error::unavailable("HTTP request to http://127.0.0.1:1/ failed: connection refused")
        );
        assert_eq!(
            map_error(&ErrorCode::ConnectionTimeout, "u").kind(),
            "unavailable"
        );
    }

    #[test]
    fn the_rest_fails() {
        assert_eq!(
            map_error(&ErrorCode::HttpProtocolError, "http://h/"),
            Error::failed("HTTP request to http://h/ failed: HttpProtocolError")
        );
    }
}

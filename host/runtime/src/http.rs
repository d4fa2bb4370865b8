//! Outbound HTTP (`wasi:http/outgoing-handler`), checked against the grants.
//!
//! wasmtime-wasi-http does the protocol work; this module decides whether a
//! request may leave, resolves the name itself and connects to the checked
//! address (never re-resolving), then speaks HTTP/1.1 over it, with TLS for
//! `https`: the settings the driver registered for that origin through the
//! `tls` capability, or else the public web roots without a client identity.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::uri::Scheme;
use http_body_util::BodyExt;
use tokio::net::TcpStream;
use wasmtime_wasi_http::io::TokioIo;
use wasmtime_wasi_http::{Error as HttpError, RequestOptions, WasiBody, WasiHttpHooks};

use crate::grants::{Target, parse_host};
use crate::policy::{Policy, ReachError};
use crate::tls::{Origin, TlsRegistry};

const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

type IoFuture = Box<dyn Future<Output = Result<(), HttpError>> + Send>;
type SendResult = Result<(http::Response<WasiBody>, IoFuture), HttpError>;

/// The `wasi:http` hooks of one call.
pub struct HttpHooks {
    pub policy: Arc<Policy>,
    pub tls: TlsRegistry,
}

impl WasiHttpHooks for HttpHooks {
    fn send_request(
        &mut self,
        request: http::Request<WasiBody>,
        options: Option<RequestOptions>,
        fut: Box<dyn Future<Output = Result<(), HttpError>> + Send>,
    ) -> Box<dyn Future<Output = SendResult> + Send> {
        // The future reports errors of the request body; we only read the
        // body through hyper, which surfaces them itself.
        drop(fut);
        let policy = self.policy.clone();
        let tls = self.tls.clone();
        Box::new(send(policy, tls, request, options))
    }
}

async fn send(
    policy: Arc<Policy>,
    tls: TlsRegistry,
    mut request: http::Request<WasiBody>,
    options: Option<RequestOptions>,
) -> SendResult {
    let uri = request.uri().clone();
    let use_tls = uri.scheme() == Some(&Scheme::HTTPS);
    let authority = uri.authority().ok_or(HttpError::HttpRequestUriInvalid)?;
    let host = parse_host(
        authority
            .host()
            .trim_start_matches('[')
            .trim_end_matches(']'),
    )
    .map_err(|_| HttpError::HttpRequestUriInvalid)?;
    let target = Target {
        scheme: if use_tls { "https" } else { "http" }.to_string(),
        host,
        port: authority
            .port_u16()
            .unwrap_or(if use_tls { 443 } else { 80 }),
    };

    let method = request.method();
    let safe = matches!(
        *method,
        http::Method::GET | http::Method::HEAD | http::Method::OPTIONS
    );
    if !safe
        && policy
            .require_write(&format!("HTTP {method} {target}"))
            .is_err()
    {
        return Err(HttpError::HttpRequestDenied);
    }
    let addr = match policy.resolve(&target).await {
        Ok(addr) => addr,
        Err(ReachError::Denied(_)) => return Err(HttpError::HttpRequestDenied),
        Err(ReachError::Dns(_)) => return Err(HttpError::DestinationNotFound),
    };

    let connect_timeout = options
        .and_then(|o| o.connect_timeout)
        .unwrap_or(CONNECT_TIMEOUT);
    let tcp = match tokio::time::timeout(connect_timeout, TcpStream::connect(addr)).await {
        Ok(Ok(s)) => s,
        Ok(Err(e)) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
            return Err(HttpError::ConnectionRefused);
        }
        Ok(Err(e)) => return Err(HttpError::Connect(e)),
        Err(_) => return Err(HttpError::ConnectionTimeout),
    };

    // HTTP/1.1 on the wire wants origin-form: just the path and query.
    *request.uri_mut() = http::Uri::builder()
        .path_and_query(uri.path_and_query().map(|p| p.as_str()).unwrap_or("/"))
        .build()
        .map_err(|_| HttpError::HttpRequestUriInvalid)?;

    let response = if use_tls {
        let stream = tls_connect(&target, &tls, tcp).await?;
        exchange(stream, request, connect_timeout).await?
    } else {
        exchange(tcp, request, connect_timeout).await?
    };
    Ok((response, Box::new(async { Ok(()) })))
}

async fn tls_connect(
    target: &Target,
    tls: &TlsRegistry,
    tcp: TcpStream,
) -> Result<tokio_rustls::client::TlsStream<TcpStream>, HttpError> {
    use rustls::pki_types::ServerName;
    let origin = Origin {
        host: target.host.clone(),
        port: target.port,
    };
    let config = match tls.get(&origin) {
        Some(config) => config,
        None => Arc::new(public_roots_config()?),
    };
    let name = match &target.host {
        crate::grants::Host::Ip(ip) => ServerName::from(*ip),
        crate::grants::Host::Name(n) => {
            ServerName::try_from(n.clone()).map_err(|_| HttpError::HttpRequestUriInvalid)?
        }
    };
    tokio_rustls::TlsConnector::from(config)
        .connect(name, tcp)
        .await
        .map_err(HttpError::Tls)
}

/// The default: the public web roots, no client identity.
fn public_roots_config() -> Result<rustls::ClientConfig, HttpError> {
    let roots = rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.into(),
    };
    Ok(rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|_| HttpError::TlsProtocolError)?
    .with_root_certificates(roots)
    .with_no_client_auth())
}

async fn exchange<S>(
    stream: S,
    request: http::Request<WasiBody>,
    handshake_timeout: Duration,
) -> Result<http::Response<WasiBody>, HttpError>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + Unpin + 'static,
{
    let (mut sender, conn) = tokio::time::timeout(
        handshake_timeout,
        hyper::client::conn::http1::handshake(TokioIo::new(stream)),
    )
    .await
    .map_err(|_| HttpError::ConnectionTimeout)??;
    // The connection task ends when the response body and sender are dropped,
    // at the latest when the call's store is dropped.
    tokio::spawn(async move {
        if let Err(e) = conn.await {
            tracing::debug!(error = %e, "driver HTTP connection ended with an error");
        }
    });
    let response = sender.send_request(request).await?;
    Ok(response.map(|body| {
        body.map_err(HttpError::from)
            .map_frame(|f| f.map_data(Bytes::from))
            .boxed_unsync()
    }))
}

//! The `tls` capability: per-origin TLS settings for outgoing HTTPS.
//!
//! A driver registers, for one origin, the CA bundle to trust (instead of
//! the public web roots) and a client identity; `http.rs` uses them for that
//! origin's connections until the call ends. The PEM documents are parsed
//! and the rustls configuration is built when the driver registers them, so
//! a bad bundle fails at once with a clear error. Nothing here decides
//! whether an origin may be reached: that stays with the grants.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use rustls::ClientConfig;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

use crate::grants::{Host, parse_host};

/// Most origins a call may configure: a driver talks to a handful of
/// servers, and each entry holds parsed certificates.
pub const MAX_ORIGINS: usize = 16;

/// `https://HOST:PORT`, the key of the settings.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Origin {
    pub host: Host,
    pub port: u16,
}

/// The TLS settings registered during one call, shared with the HTTP hooks.
#[derive(Debug, Clone, Default)]
pub struct TlsRegistry {
    configs: Arc<Mutex<HashMap<Origin, Arc<ClientConfig>>>>,
}

/// What a driver asks for (the WIT `client-config`).
pub struct Request<'a> {
    pub origin: &'a str,
    pub ca_bundle: Option<&'a str>,
    pub client_cert: Option<&'a str>,
    pub client_key: Option<&'a str>,
}

impl TlsRegistry {
    /// The configuration registered for `origin`, if any.
    pub fn get(&self, origin: &Origin) -> Option<Arc<ClientConfig>> {
        self.configs.lock().ok()?.get(origin).cloned()
    }

    /// Parses and registers `request`. Errors never quote PEM content.
    pub fn configure(&self, request: &Request<'_>) -> Result<(), String> {
        let origin = parse_origin(request.origin)?;
        let config = build(request)?;
        let mut configs = self
            .configs
            .lock()
            .map_err(|_| "TLS settings are unavailable".to_owned())?;
        if !configs.contains_key(&origin) && configs.len() >= MAX_ORIGINS {
            return Err(format!(
                "at most {MAX_ORIGINS} origins may have TLS settings in one call"
            ));
        }
        configs.insert(origin, Arc::new(config));
        Ok(())
    }
}

/// `https://HOST[:PORT][/]` → origin.
pub fn parse_origin(origin: &str) -> Result<Origin, String> {
    let bad = |why: &str| format!("TLS origin `{origin}`: {why} (expected `https://HOST[:PORT]`)");
    let rest = origin
        .get(..8)
        .filter(|s| s.eq_ignore_ascii_case("https://"))
        .map(|_| &origin[8..])
        .ok_or_else(|| bad("the scheme must be https"))?;
    let authority = rest.strip_suffix('/').unwrap_or(rest);
    if authority.is_empty() || authority.contains(['/', '?', '#', '@']) {
        return Err(bad("only a host and a port"));
    }
    let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
        let (ip, after) = v6.split_once(']').ok_or_else(|| bad("unclosed `[`"))?;
        let port = match after {
            "" => None,
            p => Some(p.strip_prefix(':').ok_or_else(|| bad("junk after `]`"))?),
        };
        (ip, port)
    } else {
        match authority.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (authority, None),
        }
    };
    let host = parse_host(host).map_err(|e| bad(&e))?;
    let port = match port {
        None => 443,
        Some(p) => p.parse().map_err(|_| bad("bad port"))?,
    };
    Ok(Origin { host, port })
}

fn build(request: &Request<'_>) -> Result<ClientConfig, String> {
    let builder =
        ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .map_err(|e| format!("TLS setup failed: {e}"))?;
    let roots = match request.ca_bundle {
        Some(pem) => {
            let mut roots = rustls::RootCertStore::empty();
            let certs = certificates(pem, "ca-bundle")?;
            let (added, ignored) = roots.add_parsable_certificates(certs);
            if added == 0 {
                return Err(format!(
                    "ca-bundle: none of its {ignored} certificate(s) can be used as a trust anchor"
                ));
            }
            roots
        }
        None => rustls::RootCertStore {
            roots: webpki_roots::TLS_SERVER_ROOTS.into(),
        },
    };
    let builder = builder.with_root_certificates(roots);
    match (request.client_cert, request.client_key) {
        (None, None) => Ok(builder.with_no_client_auth()),
        (Some(cert), Some(key)) => {
            let chain = certificates(cert, "client-cert")?;
            // The parser's error could quote key material; say only what failed.
            let key = PrivateKeyDer::from_pem_slice(key.as_bytes()).map_err(|_| {
                "client-key: no PKCS#8, PKCS#1 or SEC1 private key in PEM form".to_owned()
            })?;
            builder
                .with_client_auth_cert(chain, key)
                .map_err(|e| format!("client identity refused: {e}"))
        }
        (Some(_), None) => Err("client-cert is given without client-key".into()),
        (None, Some(_)) => Err("client-key is given without client-cert".into()),
    }
}

/// Every certificate of a PEM bundle; at least one.
fn certificates(pem: &str, what: &str) -> Result<Vec<CertificateDer<'static>>, String> {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(pem.as_bytes())
        .collect::<Result<_, _>>()
        .map_err(|e| format!("{what}: not valid PEM: {e}"))?;
    if certs.is_empty() {
        return Err(format!("{what}: no CERTIFICATE block in PEM form"));
    }
    Ok(certs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_parse() {
        let o = parse_origin("https://127.0.0.1:16443").unwrap();
        assert_eq!(o.port, 16443);
        assert_eq!(parse_origin("HTTPS://Kube.Example.com/").unwrap().port, 443);
        assert_eq!(
            parse_origin("https://[::1]:6443").unwrap().host,
            Host::Ip("::1".parse().unwrap())
        );
        for bad in [
            "http://h",
            "https://",
            "https://h/path",
            "https://u@h",
            "https://h:x",
            "h:443",
        ] {
            assert!(parse_origin(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn bad_pem_is_refused_without_quoting_it() {
        let registry = TlsRegistry::default();
        let request = |ca, cert, key| Request {
            origin: "https://127.0.0.1:1",
            ca_bundle: ca,
            client_cert: cert,
            client_key: key,
        };
        let e = registry
            .configure(&request(Some("not a pem"), None, None))
            .unwrap_err();
        assert!(e.contains("ca-bundle"), "{e}");
        let e = registry
            .configure(&request(None, Some("x"), None))
            .unwrap_err();
        assert!(e.contains("without client-key"), "{e}");
        let key = "-----BEGIN PRIVATE KEY-----\nc2VjcmV0LWtleS1tYXRlcmlhbA==\n-----END PRIVATE KEY-----\n";
        let e = registry
            .configure(&request(None, Some("x"), Some(key)))
            .unwrap_err();
        assert!(!e.contains("c2VjcmV0"), "{e}");
        // Public roots without a client identity are fine.
        registry.configure(&request(None, None, None)).unwrap();
        let origin = parse_origin("https://127.0.0.1:1").unwrap();
        assert!(registry.get(&origin).is_some());
    }
}

//! TLS settings for HTTPS requests to servers with their own CA or
//! client-certificate authentication, through the host's `tls` import.
//!
//! Register the settings for an origin once per call, before the requests;
//! they apply to that origin only and end with the call. The grants still
//! decide whether the origin may be reached at all.
//!
//! ```no_run
//! use podium_driver_sdk::{http, tls};
//!
//! # fn main() -> Result<(), podium_driver_sdk::Error> {
//! # let (ca, cert, key) = (String::new(), String::new(), String::new());
//! tls::ClientConfig::new("https://10.0.0.1:6443")
//!     .ca_bundle(ca)
//!     .client_identity(cert, key)
//!     .configure()?;
//! let nodes = http::Request::get("https://10.0.0.1:6443/api/v1/nodes").send()?;
//! # Ok(()) }
//! ```

use crate::Error;

/// How to speak TLS to one origin.
#[derive(Clone, Default)]
#[must_use = "settings do nothing until `configure` is called"]
pub struct ClientConfig {
    origin: String,
    ca_bundle: Option<String>,
    client_cert: Option<String>,
    client_key: Option<String>,
}

// Hand-written so that the client key never ends up in a `{:?}`.
impl std::fmt::Debug for ClientConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientConfig")
            .field("origin", &self.origin)
            .field("ca_bundle", &self.ca_bundle.as_ref().map(|_| "<pem>"))
            .field("client_cert", &self.client_cert.as_ref().map(|_| "<pem>"))
            .field("client_key", &self.client_key.as_ref().map(|_| "<hidden>"))
            .finish()
    }
}

impl ClientConfig {
    /// Settings for `origin`, `https://HOST[:PORT]` (a URL's path is ignored).
    pub fn new(origin: impl Into<String>) -> Self {
        Self {
            origin: origin.into(),
            ..Self::default()
        }
    }

    /// Trust these PEM certificates for the origin instead of the public web
    /// roots.
    pub fn ca_bundle(mut self, pem: impl Into<String>) -> Self {
        self.ca_bundle = Some(pem.into());
        self
    }

    /// Present this client identity: a PEM certificate chain (leaf first)
    /// and its PEM private key.
    pub fn client_identity(
        mut self,
        cert_pem: impl Into<String>,
        key_pem: impl Into<String>,
    ) -> Self {
        self.client_cert = Some(cert_pem.into());
        self.client_key = Some(key_pem.into());
        self
    }

    /// The origin as given.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// Registers the settings with the host. Fails with
    /// [`Error::InvalidInput`] when the origin or a PEM document does not
    /// parse.
    pub fn configure(self) -> Result<(), Error> {
        let origin = origin_of(&self.origin);
        #[cfg(target_arch = "wasm32")]
        {
            use crate::bindings::podium::driver::tls;
            tls::configure(&tls::ClientConfig {
                origin,
                ca_bundle: self.ca_bundle,
                client_cert: self.client_cert,
                client_key: self.client_key,
            })
            .map_err(crate::__private::sdk_error)
        }
        #[cfg(not(target_arch = "wasm32"))]
        {
            Err(Error::unavailable(format!(
                "TLS settings for {origin}: host capabilities exist only inside the Podium host"
            )))
        }
    }
}

/// `https://host:port/any/path?q` → `https://host:port`.
fn origin_of(url: &str) -> String {
    match url.find("://") {
        Some(s) => {
            let rest = &url[s + 3..];
            let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
            format!("{}{}", &url[..s + 3], &rest[..end])
        }
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_drop_paths() {
        assert_eq!(origin_of("https://h:6443/api/v1?x=1"), "https://h:6443");
        assert_eq!(origin_of("https://h"), "https://h");
        assert_eq!(origin_of("h"), "h");
    }

    #[test]
    fn keys_stay_out_of_debug_output() {
        let c = ClientConfig::new("https://h").client_identity("CERT", "KEYMATERIAL");
        assert!(!format!("{c:?}").contains("KEYMATERIAL"));
    }

    #[test]
    fn outside_the_host_it_is_unavailable() {
        let e = ClientConfig::new("https://h:1/x").configure().err();
        assert_eq!(e.map(|e| e.kind()), Some("unavailable"));
    }
}

//! Capability grants: what a driver may reach, deny by default.
//!
//! A resource definition lists grants as strings:
//!
//! - `SCHEME://HOST[:PORT]` allows connections with that scheme to that host
//!   and port (`http`, `https`, `postgres`). The port defaults to the scheme's
//!   (80, 443, 5432); `*` allows any port. `HOST` may be a name, an IPv4
//!   address or a bracketed IPv6 address.
//! - `net:CIDR` (e.g. `net:10.0.0.0/8`, `net:127.0.0.1/32`) allows the
//!   *resolved addresses* in that network.
//! - `file:///ABS/DIR` (e.g. `file:///var/lib/podium/gitops`) gives the
//!   driver that host directory, at the same path inside the sandbox
//!   (a WASI preopen): read-write during `apply` and `delete`, read-only
//!   during `plan`, nothing during `info`. Nothing outside it is reachable:
//!   `..`, absolute paths elsewhere and symlinks pointing out are refused by
//!   the preopen itself. The directory is created on the first `apply` or
//!   `delete` if it does not exist. The path must be absolute and normal
//!   (no `.` or `..` components, no percent-encoding, no host part).
//!
//! The host checks a call twice: the target named by the driver must be
//! covered by an endpoint grant, and every address the name resolves to must
//! be allowed. An address is allowed when the grant names it literally, when
//! it is in a `net:` grant, or when it is a globally routable address. So a
//! grant for `http://metadata.internal` that resolves to `169.254.169.254` or
//! `127.0.0.1` is denied unless that network is granted too: a name in a grant
//! cannot smuggle a driver into the host's own network.

use std::fmt;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use ipnet::IpNet;

/// A parsed list of grants.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Grants {
    endpoints: Vec<EndpointGrant>,
    networks: Vec<IpNet>,
    directories: Vec<PathBuf>,
}

/// `SCHEME://HOST[:PORT]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndpointGrant {
    pub scheme: String,
    pub host: Host,
    /// `None` means any port.
    pub port: Option<u16>,
}

/// The host part of an endpoint grant or target.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Host {
    Name(String),
    Ip(IpAddr),
}

/// A grant string that does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "grant `{grant}`: {reason} (expected `SCHEME://HOST[:PORT]`, `net:CIDR` or `file:///ABS/DIR`)"
)]
pub struct GrantError {
    pub grant: String,
    pub reason: String,
}

/// Why a connection was refused. Its message says which grant would allow it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Denial {
    /// No endpoint grant covers the target.
    Endpoint { target: Target },
    /// The target is granted but resolved to an address no grant allows.
    Address {
        target: Target,
        addr: IpAddr,
        kind: &'static str,
    },
    /// The capability is not available in this call (e.g. a write during `plan`).
    Mode { what: String, why: String },
}

/// What a driver tried to reach.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub scheme: String,
    pub host: Host,
    pub port: u16,
}

impl fmt::Display for Host {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Host::Name(n) => f.write_str(n),
            Host::Ip(IpAddr::V6(ip)) => write!(f, "[{ip}]"),
            Host::Ip(IpAddr::V4(ip)) => write!(f, "{ip}"),
        }
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}://{}:{}", self.scheme, self.host, self.port)
    }
}

impl fmt::Display for Denial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Denial::Endpoint { target } => write!(
                f,
                "no grant allows {target}; the grant `{target}` would allow it"
            ),
            Denial::Address { target, addr, kind } => {
                let net = match addr {
                    IpAddr::V4(_) => format!("net:{addr}/32"),
                    IpAddr::V6(_) => format!("net:{addr}/128"),
                };
                write!(
                    f,
                    "{target} resolved to {addr}, a {kind} address no grant allows; \
                     the grant `{net}` would allow it"
                )
            }
            Denial::Mode { what, why } => write!(f, "{what} is not allowed: {why}"),
        }
    }
}

/// The default port of a scheme, if it has one.
pub fn default_port(scheme: &str) -> Option<u16> {
    match scheme {
        "http" => Some(80),
        "https" => Some(443),
        "postgres" | "postgresql" => Some(5432),
        _ => None,
    }
}

/// `postgresql` is an alias of `postgres`.
fn normalize_scheme(scheme: &str) -> String {
    match scheme.to_ascii_lowercase().as_str() {
        "postgresql" => "postgres".to_string(),
        s => s.to_string(),
    }
}

impl Grants {
    /// Parse grant strings; the first bad one is reported.
    pub fn parse<S: AsRef<str>>(grants: &[S]) -> Result<Grants, GrantError> {
        let mut out = Grants::default();
        for g in grants {
            out.add(g.as_ref())?;
        }
        Ok(out)
    }

    /// No grants at all: everything is denied.
    pub fn none() -> Grants {
        Grants::default()
    }

    pub fn is_empty(&self) -> bool {
        self.endpoints.is_empty() && self.networks.is_empty() && self.directories.is_empty()
    }

    /// The granted host directories (`file://` grants), absolute and normal.
    pub fn directories(&self) -> &[PathBuf] {
        &self.directories
    }

    fn add(&mut self, raw: &str) -> Result<(), GrantError> {
        let err = |reason: &str| GrantError {
            grant: raw.to_string(),
            reason: reason.to_string(),
        };
        let s = raw.trim();
        if let Some(cidr) = s.strip_prefix("net:") {
            let net = cidr
                .parse::<IpNet>()
                .or_else(|_| cidr.parse::<IpAddr>().map(IpNet::from))
                .map_err(|_| err("not a network in CIDR notation"))?;
            self.networks.push(net.trunc());
            return Ok(());
        }
        if let Some(path) = s.strip_prefix("file://") {
            self.directories
                .push(parse_directory(path).map_err(|r| err(&r))?);
            return Ok(());
        }
        let (scheme, rest) = s.split_once("://").ok_or_else(|| err("missing `://`"))?;
        if scheme.is_empty()
            || !scheme
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '+')
        {
            return Err(err("bad scheme"));
        }
        let scheme = normalize_scheme(scheme);
        // Anything after the authority (a path, a query) is not part of a grant.
        let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
        if authority.contains('@') {
            return Err(err("credentials do not belong in a grant"));
        }
        let (host, port) = split_host_port(authority).map_err(|r| err(&r))?;
        let port = match port {
            Some("*") => None,
            Some(p) => Some(p.parse::<u16>().map_err(|_| err("bad port"))?),
            None => {
                Some(default_port(&scheme).ok_or_else(|| err("no default port for this scheme"))?)
            }
        };
        self.endpoints.push(EndpointGrant { scheme, host, port });
        Ok(())
    }

    /// Check that an endpoint grant covers `target`.
    pub fn check_endpoint(&self, target: &Target) -> Result<(), Denial> {
        let scheme = normalize_scheme(&target.scheme);
        let covered = self.endpoints.iter().any(|g| {
            g.scheme == scheme
                && g.port.is_none_or(|p| p == target.port)
                && host_eq(&g.host, &target.host)
        });
        if covered {
            Ok(())
        } else {
            Err(Denial::Endpoint {
                target: target.clone(),
            })
        }
    }

    /// Check one resolved address of an already granted `target`.
    pub fn check_address(&self, target: &Target, addr: IpAddr) -> Result<(), Denial> {
        let addr = canonical_ip(addr);
        let literal = self.endpoints.iter().any(|g| match &g.host {
            Host::Ip(ip) => canonical_ip(*ip) == addr,
            Host::Name(_) => false,
        });
        if literal || self.networks.iter().any(|n| n.contains(&addr)) {
            return Ok(());
        }
        match special_kind(addr) {
            None => Ok(()),
            Some(kind) => Err(Denial::Address {
                target: target.clone(),
                addr,
                kind,
            }),
        }
    }
}

/// The path of a `file://` grant: absolute, normal, no host part.
fn parse_directory(path: &str) -> Result<PathBuf, String> {
    if !path.starts_with('/') {
        return Err(
            "a directory grant names an absolute path, `file:///ABS/DIR` (no host part)".into(),
        );
    }
    if path.contains('%') {
        return Err("percent-encoding is not supported in directory grants".into());
    }
    if path.chars().any(char::is_control) {
        return Err("control characters in the path".into());
    }
    let trimmed = path.trim_end_matches('/');
    if trimmed.is_empty() {
        return Err("granting the root directory is not allowed".into());
    }
    // Checked on the text: `Path::components` would quietly drop `.`.
    for part in trimmed.split('/').skip(1) {
        match part {
            "" => return Err("the path must be normal: no empty components".into()),
            "." | ".." => return Err("the path must be normal: no `.` or `..` components".into()),
            _ => {}
        }
    }
    let p = Path::new(trimmed);
    Ok(p.to_path_buf())
}

/// Parse `host[:port]`, `[v6][:port]`.
fn split_host_port(authority: &str) -> Result<(Host, Option<&str>), String> {
    if authority.is_empty() {
        return Err("missing host".into());
    }
    if let Some(rest) = authority.strip_prefix('[') {
        let (ip, after) = rest.split_once(']').ok_or("unclosed `[`")?;
        let ip: IpAddr = ip.parse().map_err(|_| "bad IPv6 address".to_string())?;
        let port = match after {
            "" => None,
            p => Some(p.strip_prefix(':').ok_or("junk after `]`")?),
        };
        return Ok((Host::Ip(ip), port));
    }
    let (host, port) = match authority.rsplit_once(':') {
        Some((h, p)) => (h, Some(p)),
        None => (authority, None),
    };
    Ok((parse_host(host)?, port))
}

/// A host name or an IPv4 literal, lower-cased.
pub fn parse_host(host: &str) -> Result<Host, String> {
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Ok(Host::Ip(ip));
    }
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    let valid = !host.is_empty()
        && host.len() <= 253
        && host.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        });
    if valid {
        Ok(Host::Name(host))
    } else {
        Err(format!("bad host name `{host}`"))
    }
}

fn host_eq(a: &Host, b: &Host) -> bool {
    match (a, b) {
        (Host::Name(a), Host::Name(b)) => a.eq_ignore_ascii_case(b),
        (Host::Ip(a), Host::Ip(b)) => canonical_ip(*a) == canonical_ip(*b),
        _ => false,
    }
}

/// IPv4-mapped IPv6 addresses are their IPv4 address.
fn canonical_ip(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6
            .to_ipv4_mapped()
            .map(IpAddr::V4)
            .unwrap_or(IpAddr::V6(v6)),
        v4 => v4,
    }
}

/// Addresses that are not globally routable, with a name for error messages.
fn special_kind(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            if v4.is_loopback() {
                Some("loopback")
            } else if v4.is_private() {
                Some("private")
            } else if v4.is_link_local() {
                Some("link-local")
            } else if v4.is_unspecified() || o[0] == 0 {
                Some("unspecified")
            } else if v4.is_broadcast() || v4.is_multicast() {
                Some("broadcast or multicast")
            } else if o[0] == 100 && (o[1] & 0xc0) == 64 {
                Some("shared (carrier-grade NAT)")
            } else if v4.is_documentation() || o[0] >= 240 || (o[0] == 198 && (o[1] & 0xfe) == 18) {
                Some("reserved")
            } else {
                None
            }
        }
        IpAddr::V6(v6) => {
            let seg = v6.segments();
            if v6.is_loopback() {
                Some("loopback")
            } else if v6.is_unspecified() {
                Some("unspecified")
            } else if v6.is_multicast() {
                Some("multicast")
            } else if (seg[0] & 0xfe00) == 0xfc00 {
                Some("unique-local")
            } else if (seg[0] & 0xffc0) == 0xfe80 {
                Some("link-local")
            } else if seg[0] == 0x2001 && seg[1] == 0x0db8 {
                Some("reserved")
            } else {
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(s: &str) -> Target {
        let (scheme, rest) = s.split_once("://").unwrap();
        let (host, port) = split_host_port(rest).unwrap();
        Target {
            scheme: scheme.into(),
            host,
            port: port.unwrap().parse().unwrap(),
        }
    }

    fn check(grants: &[&str], t: &str, addr: &str, expect: Result<(), &str>) {
        let g = Grants::parse(grants).unwrap();
        let t = target(t);
        let got = g
            .check_endpoint(&t)
            .and_then(|()| g.check_address(&t, addr.parse().unwrap()))
            .map_err(|d| d.to_string());
        match (got, expect) {
            (Ok(()), Ok(())) => {}
            (Err(msg), Err(want)) => assert!(msg.contains(want), "{msg:?} lacks {want:?}"),
            (got, want) => panic!("{grants:?} {t} {addr}: got {got:?}, want {want:?}"),
        }
    }

    #[test]
    fn endpoint_and_address_checks() {
        type Case<'a> = (&'a [&'a str], &'a str, &'a str, Result<(), &'a str>);
        let cases: &[Case] = &[
            (
                &["http://127.0.0.1:8080"],
                "http://127.0.0.1:8080",
                "127.0.0.1",
                Ok(()),
            ),
            (
                &["http://127.0.0.1:8080"],
                "http://127.0.0.1:8081",
                "127.0.0.1",
                Err("`http://127.0.0.1:8081` would allow it"),
            ),
            (
                &["https://127.0.0.1:8080"],
                "http://127.0.0.1:8080",
                "127.0.0.1",
                Err("no grant allows"),
            ),
            (
                &["http://localhost:8080"],
                "http://localhost:8080",
                "127.0.0.1",
                Err("loopback address no grant allows; the grant `net:127.0.0.1/32`"),
            ),
            (
                &["http://localhost:8080", "net:127.0.0.0/8"],
                "http://localhost:8080",
                "127.0.0.1",
                Ok(()),
            ),
            (
                &["http://api.example.com"],
                "http://api.example.com:80",
                "93.184.216.34",
                Ok(()),
            ),
            (
                &["http://api.example.com"],
                "http://api.example.com:80",
                "169.254.169.254",
                Err("link-local"),
            ),
            (
                &["http://api.example.com"],
                "http://api.example.com:80",
                "10.1.2.3",
                Err("private"),
            ),
            (
                &["http://API.Example.com:*"],
                "http://api.example.com:9999",
                "93.184.216.34",
                Ok(()),
            ),
            (
                &["postgresql://127.0.0.1:55432"],
                "postgres://127.0.0.1:55432",
                "127.0.0.1",
                Ok(()),
            ),
            (
                &["postgres://db.internal"],
                "postgres://db.internal:5432",
                "::ffff:10.0.0.5",
                Err("10.0.0.5, a private"),
            ),
            (&["http://[::1]:8080"], "http://[::1]:8080", "::1", Ok(())),
            (
                &[],
                "http://127.0.0.1:80",
                "127.0.0.1",
                Err("no grant allows"),
            ),
        ];
        for (grants, t, addr, expect) in cases {
            check(grants, t, addr, *expect);
        }
    }

    #[test]
    fn directory_grants() {
        let g = Grants::parse(&["file:///var/lib/podium/gitops/", "file:///tmp/x"]).unwrap();
        assert_eq!(
            g.directories(),
            [
                PathBuf::from("/var/lib/podium/gitops"),
                PathBuf::from("/tmp/x")
            ]
        );
        assert!(!g.is_empty());
        // A directory grant allows no network endpoint.
        let t = target("http://127.0.0.1:80");
        assert!(g.check_endpoint(&t).is_err());
    }

    #[test]
    fn bad_grants_are_explained() {
        for (bad, why) in [
            ("127.0.0.1:80", "missing `://`"),
            ("http://", "missing host"),
            ("http://host:99999", "bad port"),
            ("ftp://host", "no default port"),
            ("net:10.0.0.0/33", "CIDR"),
            ("http://user:pw@host", "credentials"),
            ("file://host/dir", "absolute path"),
            ("file://relative", "absolute path"),
            ("file:///a/../etc", "normal"),
            ("file:///a/./b", "normal"),
            ("file:///", "root directory"),
            ("file:///a%2f..", "percent"),
        ] {
            let e = Grants::parse(&[bad]).unwrap_err();
            assert!(e.to_string().contains(why), "{bad}: {e}");
        }
    }
}

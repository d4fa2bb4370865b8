//! The capability policy of one call: its grants, whether it may mutate, and
//! the record of what was denied. Shared by the HTTP and SQL capabilities.

use std::net::{IpAddr, SocketAddr};
use std::sync::Mutex;

use crate::grants::{Denial, Grants, Host, Target};

/// What kind of call the policy serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// `plan`: read-only. HTTP `GET`/`HEAD`/`OPTIONS` and read-only SQL only.
    ReadOnly,
    /// `apply` and `delete`: everything the grants allow.
    ReadWrite,
    /// `info`: no capability at all.
    Nothing,
}

#[derive(Debug)]
pub struct Policy {
    pub grants: Grants,
    pub mode: Mode,
    denials: Mutex<Vec<Denial>>,
}

/// A refused or failed attempt to reach a target.
#[derive(Debug)]
pub enum ReachError {
    Denied(Denial),
    /// The name did not resolve.
    Dns(String),
}

impl Policy {
    pub fn new(grants: Grants, mode: Mode) -> Policy {
        Policy {
            grants,
            mode,
            denials: Mutex::new(Vec::new()),
        }
    }

    /// Record a denial so the host can report it even if the driver swallows it.
    pub fn deny(&self, d: Denial) -> Denial {
        if let Ok(mut v) = self.denials.lock() {
            v.push(d.clone());
        }
        d
    }

    pub fn denials(&self) -> Vec<Denial> {
        self.denials.lock().map(|v| v.clone()).unwrap_or_default()
    }

    /// Check `target` against the grants, resolve it, and return the address
    /// to connect to. Only checked addresses are returned, so a name cannot
    /// resolve to something else between the check and the connect.
    pub async fn resolve(&self, target: &Target) -> Result<SocketAddr, ReachError> {
        if self.mode == Mode::Nothing {
            return Err(ReachError::Denied(self.deny(Denial::Mode {
                what: format!("connecting to {target}"),
                why: "`info` has no capabilities".into(),
            })));
        }
        self.grants
            .check_endpoint(target)
            .map_err(|d| ReachError::Denied(self.deny(d)))?;
        let addrs: Vec<IpAddr> = match &target.host {
            Host::Ip(ip) => vec![*ip],
            Host::Name(name) => tokio::net::lookup_host((name.as_str(), target.port))
                .await
                .map_err(|e| ReachError::Dns(format!("{name}: {e}")))?
                .map(|a| a.ip())
                .collect(),
        };
        let mut first_denial = None;
        for ip in addrs {
            match self.grants.check_address(target, ip) {
                Ok(()) => return Ok(SocketAddr::new(ip, target.port)),
                Err(d) => {
                    first_denial.get_or_insert(d);
                }
            }
        }
        match first_denial {
            Some(d) => Err(ReachError::Denied(self.deny(d))),
            None => Err(ReachError::Dns(format!("{}: no addresses", target.host))),
        }
    }

    /// Refuse a mutating operation outside `apply`/`delete`.
    pub fn require_write(&self, what: &str) -> Result<(), Denial> {
        match self.mode {
            Mode::ReadWrite => Ok(()),
            Mode::ReadOnly => Err(self.deny(Denial::Mode {
                what: what.to_string(),
                why: "`plan` may not change anything".into(),
            })),
            Mode::Nothing => Err(self.deny(Denial::Mode {
                what: what.to_string(),
                why: "`info` has no capabilities".into(),
            })),
        }
    }
}

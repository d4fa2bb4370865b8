//! Who may do what: bearer tokens (stored only as hashes), roles and the
//! permissions operations need. No HTTP here: the API maps routes to
//! [`Permission`]s (`api/authz.rs`).
//!
//! A token reads `pdm_<id>_<secret>`: the id is public (it names the token in
//! the audit log and the token list), the secret is 32 random bytes of which
//! only the SHA-256 is kept. Random 256-bit secrets need no slow hash.

use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use jiff::Timestamp;
use podium_store::{Repo, Role, TokenRecord, WriteSet};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

const PREFIX: &str = "pdm_";

/// The file the first start writes the admin token to, in the data directory.
pub const ADMIN_TOKEN_FILE: &str = "admin-token";

/// A valid token's holder.
#[derive(Debug, Clone, PartialEq)]
pub struct Principal {
    pub token_id: String,
    pub name: String,
    pub role: Role,
    pub app: Option<String>,
    pub env_types: Option<Vec<String>>,
}

impl Principal {
    /// `token:<id> (<name>)`, as the audit log and deployments record it.
    pub fn actor(&self) -> String {
        format!("token:{} ({})", self.token_id, self.name)
    }

    fn describe(&self) -> String {
        match (&self.app, self.role) {
            (_, Role::Admin) => format!("token {:?} (admin)", self.name),
            (Some(app), role) => format!("token {:?} ({} of app {app})", self.name, role.as_str()),
            (None, role) => format!("token {:?} ({})", self.name, role.as_str()),
        }
    }

    fn role_in(&self, app: &str) -> Option<Role> {
        match self.role {
            Role::Admin => Some(Role::Admin),
            role if self.app.as_deref() == Some(app) => Some(role),
            _ => None,
        }
    }

    /// Whether this token can see `app` at all (lists filter on it).
    pub fn sees(&self, app: &str) -> bool {
        self.role_in(app).is_some()
    }

    /// `Ok` if the token has `p`; otherwise the message of a 403.
    pub fn check(&self, p: &Permission) -> Result<(), String> {
        let needed = |app: &str, want: Role| -> Result<(), String> {
            match self.role_in(app) {
                Some(have) if have >= want => Ok(()),
                _ => Err(format!(
                    "{} lacks the permission {}: it needs role {} on app {app}",
                    self.describe(),
                    p,
                    want.as_str()
                )),
            }
        };
        match p {
            Permission::Authenticated => Ok(()),
            Permission::Admin(_) if self.role == Role::Admin => Ok(()),
            Permission::Admin(_) => Err(format!(
                "{} lacks the permission {p}: it needs role admin",
                self.describe()
            )),
            Permission::View(app) => needed(app, Role::Viewer),
            Permission::Manage(app) => needed(app, Role::Owner),
            Permission::Plan(app) => needed(app, Role::Deployer),
            Permission::Deploy { app, env_type } => {
                needed(app, Role::Deployer)?;
                match &self.env_types {
                    Some(allowed) if !allowed.iter().any(|t| t == env_type) => Err(format!(
                        "{} lacks the permission {p}: it may deploy to env types [{}] only",
                        self.describe(),
                        allowed.join(", ")
                    )),
                    _ => Ok(()),
                }
            }
        }
    }

    /// Whether this token may create a token like `t` (admins any; owners
    /// tokens of their app up to owner, no wider env types than their own).
    pub fn may_issue(
        &self,
        role: Role,
        app: Option<&str>,
        env_types: &Option<Vec<String>>,
    ) -> Result<(), String> {
        if self.role == Role::Admin {
            return Ok(());
        }
        let Some(app) = app else {
            return Err(format!(
                "{} lacks the permission tokens:create: only admins create tokens without an app",
                self.describe()
            ));
        };
        self.check(&Permission::Manage(app.to_owned()))?;
        if role > self.role {
            return Err(format!(
                "{} lacks the permission tokens:create: it cannot issue a token with role {}",
                self.describe(),
                role.as_str()
            ));
        }
        if let Some(mine) = &self.env_types {
            let wider = match env_types {
                None => true,
                Some(theirs) => theirs.iter().any(|t| !mine.contains(t)),
            };
            if wider {
                return Err(format!(
                    "{} lacks the permission tokens:create: the new token's env types must be within [{}]",
                    self.describe(),
                    mine.join(", ")
                ));
            }
        }
        Ok(())
    }
}

/// What an operation needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Permission {
    /// Any valid token (reading platform-wide configuration).
    Authenticated,
    /// Platform administration; the string names the operation.
    Admin(&'static str),
    /// Reading an app, its envs, deployments and resources.
    View(String),
    /// Changing an app's envs and values, managing its tokens.
    Manage(String),
    /// Planning a deployment (runs drivers' read-only `plan`).
    Plan(String),
    /// Deploying or rolling back an env of the app with this env type.
    Deploy { app: String, env_type: String },
}

impl std::fmt::Display for Permission {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Permission::Authenticated => write!(f, "authenticated"),
            Permission::Admin(op) => write!(f, "admin:{op}"),
            Permission::View(app) => write!(f, "view:{app}"),
            Permission::Manage(app) => write!(f, "manage:{app}"),
            Permission::Plan(app) => write!(f, "plan:{app}"),
            Permission::Deploy { app, env_type } => write!(f, "deploy:{app}/{env_type}"),
        }
    }
}

/// Why a presented token is not accepted (the text of a 401).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum AuthError {
    #[error("no bearer token: send `Authorization: Bearer <token>`")]
    Missing,
    #[error("the Authorization header is not `Bearer <token>`")]
    NotBearer,
    #[error("the token is not a podium token (pdm_…)")]
    Malformed,
    #[error("the token is unknown or revoked")]
    Unknown,
    #[error("the token expired at {0}")]
    Expired(Timestamp),
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

fn random<const N: usize>() -> [u8; N] {
    let mut b = [0u8; N];
    // The OS random source failing is not recoverable for a service that
    // mints credentials; there is nothing sensible to fall back to.
    if let Err(e) = getrandom::fill(&mut b) {
        panic!("the operating system's random source failed: {e}");
    }
    b
}

/// A new token: the record to store and the token text (shown once).
pub struct Issued {
    pub record: TokenRecord,
    pub token: String,
}

/// What a new token is for.
pub struct TokenSpec {
    pub name: String,
    pub role: Role,
    pub app: Option<String>,
    pub env_types: Option<Vec<String>>,
    pub expires_at: Option<Timestamp>,
}

/// Mints a token (not stored: commit `record`).
pub fn issue(spec: TokenSpec, created_by: &str) -> Issued {
    let id = hex::encode(random::<6>());
    let secret = B64.encode(random::<32>());
    Issued {
        record: TokenRecord {
            id: id.clone(),
            name: spec.name,
            role: spec.role,
            app: spec.app,
            env_types: spec.env_types,
            secret_sha256: sha256_hex(secret.as_bytes()),
            created_at: Timestamp::now(),
            created_by: created_by.to_owned(),
            expires_at: spec.expires_at,
        },
        token: format!("{PREFIX}{id}_{secret}"),
    }
}

/// The holder of `token`, if it is valid now.
pub fn verify(repo: &Repo, token: &str) -> Result<Principal, AuthError> {
    let (id, secret) = token
        .strip_prefix(PREFIX)
        .and_then(|rest| rest.split_once('_'))
        .filter(|(id, s)| {
            id.len() == 12 && id.bytes().all(|b| b.is_ascii_hexdigit()) && !s.is_empty()
        })
        .ok_or(AuthError::Malformed)?;
    let record = repo.token(id).ok().flatten().ok_or(AuthError::Unknown)?;
    let presented = sha256_hex(secret.as_bytes());
    if !bool::from(presented.as_bytes().ct_eq(record.secret_sha256.as_bytes())) {
        return Err(AuthError::Unknown);
    }
    if let Some(at) = record.expires_at
        && at <= Timestamp::now()
    {
        return Err(AuthError::Expired(at));
    }
    Ok(Principal {
        token_id: record.id,
        name: record.name,
        role: record.role,
        app: record.app,
        env_types: record.env_types,
    })
}

/// On the first start (no token at all), mints an admin token and writes it
/// to `<data>/admin-token` with mode 0600, so the local CLI can use it.
/// Returns the file's path when it wrote one.
pub fn bootstrap(repo: &Repo, data_dir: &Path) -> anyhow::Result<Option<PathBuf>> {
    if !repo.tokens()?.is_empty() {
        return Ok(None);
    }
    let issued = issue(
        TokenSpec {
            name: "bootstrap-admin".to_owned(),
            role: Role::Admin,
            app: None,
            env_types: None,
            expires_at: None,
        },
        "podium (first start)",
    );
    let path = data_dir.join(ADMIN_TOKEN_FILE);
    crate::private_file::write(&path, format!("{}\n", issued.token).as_bytes())?;
    let mut ws = WriteSet::new();
    ws.token(&issued.record);
    repo.commit(ws)?;
    Ok(Some(path))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn p(role: Role, app: Option<&str>, env_types: Option<&[&str]>) -> Principal {
        Principal {
            token_id: "0123456789ab".into(),
            name: "t".into(),
            role,
            app: app.map(str::to_owned),
            env_types: env_types.map(|t| t.iter().map(|s| s.to_string()).collect()),
        }
    }

    fn deploy(app: &str, env_type: &str) -> Permission {
        Permission::Deploy {
            app: app.into(),
            env_type: env_type.into(),
        }
    }

    #[test]
    fn roles_are_ordered_within_their_app_only() {
        let owner = p(Role::Owner, Some("a"), None);
        assert!(owner.check(&Permission::Manage("a".into())).is_ok());
        assert!(owner.check(&deploy("a", "production")).is_ok());
        assert!(owner.check(&Permission::View("b".into())).is_err());
        assert!(owner.check(&Permission::Admin("put env type")).is_err());
        let viewer = p(Role::Viewer, Some("a"), None);
        assert!(viewer.check(&Permission::View("a".into())).is_ok());
        let err = viewer.check(&Permission::Plan("a".into())).unwrap_err();
        assert!(err.contains("plan:a") && err.contains("deployer"), "{err}");
    }

    #[test]
    fn env_types_bound_deploys() {
        let ci = p(Role::Deployer, Some("a"), Some(&["development"]));
        assert!(ci.check(&deploy("a", "development")).is_ok());
        let err = ci.check(&deploy("a", "production")).unwrap_err();
        assert!(
            err.contains("deploy:a/production") && err.contains("[development]"),
            "{err}"
        );
        assert!(ci.check(&deploy("b", "development")).is_err());
    }

    #[test]
    fn owners_issue_only_narrower_tokens_of_their_app() {
        let owner = p(Role::Owner, Some("a"), Some(&["development"]));
        let dev = Some(vec!["development".to_owned()]);
        assert!(owner.may_issue(Role::Deployer, Some("a"), &dev).is_ok());
        assert!(owner.may_issue(Role::Deployer, Some("a"), &None).is_err());
        assert!(owner.may_issue(Role::Admin, Some("a"), &dev).is_err());
        assert!(owner.may_issue(Role::Viewer, Some("b"), &dev).is_err());
        assert!(owner.may_issue(Role::Viewer, None, &dev).is_err());
    }
}

//! Talking to the PostgreSQL server through the host's `sql` capability:
//! what exists, the DDL that changes it, and errors that name the server.

use podium_driver_sdk::sql::{Connection, quote_ident, quote_literal};
use podium_driver_sdk::{Error, log};
use serde::Deserialize;
use serde_json::Value;

use crate::inputs::{Secrets, Values};

/// An admin connection to the server of the definition.
pub struct Server {
    conn: Connection,
    /// `PostgreSQL at HOST:PORT`, the prefix of every error.
    at: String,
}

/// What the server holds under a resource's names.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Existing {
    /// The role, and whether it may log in.
    pub role: Option<Role>,
    /// The database, and its owner.
    pub database: Option<Database>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Role {
    pub can_login: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Database {
    pub owner: String,
}

impl Server {
    /// Connects as the admin. In `plan` the host makes the session read-only.
    pub fn connect(values: &Values, secrets: &Secrets) -> Result<Server, Error> {
        let at = describe(values);
        let url = format!(
            "postgres://{}:{}/{}",
            url_host(&values.host),
            values.port,
            values.admin_database
        );
        let conn = Connection::open(&url, &values.admin_user, &secrets.admin_password)
            .map_err(|e| backend_error(&at, &format!("connect as {}", values.admin_user), e))?;
        Ok(Server { conn, at })
    }

    /// Looks up the role and the database (read-only).
    pub fn inspect(&self, database: &str, role: &str) -> Result<Existing, Error> {
        let roles: Vec<Role> = self.query(
            "look up the role",
            "SELECT rolcanlogin AS can_login FROM pg_catalog.pg_roles WHERE rolname = $1",
            &[role.into()],
        )?;
        let databases: Vec<Database> = self.query(
            "look up the database",
            "SELECT pg_catalog.pg_get_userbyid(datdba)::text AS owner \
             FROM pg_catalog.pg_database WHERE datname = $1",
            &[database.into()],
        )?;
        Ok(Existing {
            role: roles.into_iter().next(),
            database: databases.into_iter().next(),
        })
    }

    /// `CREATE ROLE ... LOGIN PASSWORD '<verifier>'`.
    pub fn create_role(&self, role: &str, verifier: &str) -> Result<(), Error> {
        self.ddl(
            &format!("create role {role}"),
            &format!(
                "CREATE ROLE {} LOGIN PASSWORD {}",
                quote_ident(role)?,
                quote_literal(verifier)?
            ),
        )
    }

    /// Sets the password (as a verifier) and makes sure the role can log in.
    pub fn reset_role(&self, role: &str, verifier: &str) -> Result<(), Error> {
        self.ddl(
            &format!("set the password of role {role}"),
            &format!(
                "ALTER ROLE {} LOGIN PASSWORD {}",
                quote_ident(role)?,
                quote_literal(verifier)?
            ),
        )
    }

    /// `ALTER ROLE ... LOGIN` (an adopted role that could not log in).
    pub fn allow_login(&self, role: &str) -> Result<(), Error> {
        self.ddl(
            &format!("allow role {role} to log in"),
            &format!("ALTER ROLE {} LOGIN", quote_ident(role)?),
        )
    }

    /// Creates the database owned by `owner`, reachable only by its owner
    /// (and superusers): new databases let every role connect otherwise.
    pub fn create_database(&self, database: &str, owner: &str) -> Result<(), Error> {
        let db = quote_ident(database)?;
        // Separate statements: CREATE DATABASE may not run in the implicit
        // transaction of a multi-statement batch.
        self.ddl(
            &format!("create database {database}"),
            &format!("CREATE DATABASE {db} OWNER {}", quote_ident(owner)?),
        )?;
        self.ddl(
            &format!("restrict access to database {database}"),
            &format!("REVOKE ALL ON DATABASE {db} FROM PUBLIC"),
        )
    }

    pub fn set_owner(&self, database: &str, owner: &str) -> Result<(), Error> {
        self.ddl(
            &format!("make {owner} the owner of database {database}"),
            &format!(
                "ALTER DATABASE {} OWNER TO {}",
                quote_ident(database)?,
                quote_ident(owner)?
            ),
        )
    }

    /// Drops the database (ending its sessions) and then the role. Either
    /// may be gone already.
    pub fn drop_all(&self, database: &str, role: &str) -> Result<(), Error> {
        let ended: Vec<Value> = self.query(
            "end the sessions of the resource",
            "SELECT pg_catalog.pg_terminate_backend(pid) AS ended FROM pg_catalog.pg_stat_activity \
             WHERE (datname = $1 OR usename = $2) AND pid <> pg_catalog.pg_backend_pid()",
            &[database.into(), role.into()],
        )?;
        if !ended.is_empty() {
            log::info(format!("{}: ended {} session(s)", self.at, ended.len()));
        }
        // FORCE (PostgreSQL 13+) also ends sessions that connected since.
        self.ddl(
            &format!("drop database {database}"),
            &format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                quote_ident(database)?
            ),
        )?;
        let r = quote_ident(role)?;
        let exists: Vec<Value> = self.query(
            "look up the role",
            "SELECT 1 AS one FROM pg_catalog.pg_roles WHERE rolname = $1",
            &[role.into()],
        )?;
        if exists.is_empty() {
            return Ok(());
        }
        // Grants the role received in the admin database would block the drop.
        self.ddl(
            &format!("drop what role {role} owns"),
            &format!("DROP OWNED BY {r}"),
        )?;
        self.ddl(&format!("drop role {role}"), &format!("DROP ROLE {r}"))
    }

    fn query<T: serde::de::DeserializeOwned>(
        &self,
        what: &str,
        statement: &str,
        params: &[Value],
    ) -> Result<Vec<T>, Error> {
        self.conn
            .query(statement, params)
            .map_err(|e| backend_error(&self.at, what, e))
    }

    fn ddl(&self, what: &str, statement: &str) -> Result<(), Error> {
        log::debug(format!("{}: {what}", self.at));
        self.conn
            .batch(statement)
            .map_err(|e| backend_error(&self.at, what, e))
    }
}

/// `PostgreSQL at HOST:PORT`.
pub fn describe(values: &Values) -> String {
    format!("PostgreSQL at {}:{}", url_host(&values.host), values.port)
}

/// IPv6 addresses need brackets in URLs.
fn url_host(host: &str) -> String {
    if host.contains(':') && !host.starts_with('[') {
        format!("[{host}]")
    } else {
        host.to_owned()
    }
}

/// An error of the `sql` capability, named after the server and the step.
/// Rejected credentials and missing privileges become `denied` with a hint;
/// an unknown admin database is `invalid-input`. The host's messages carry
/// no statement text, so no password can leak through them.
pub fn backend_error(at: &str, what: &str, error: Error) -> Error {
    let message = strip_host_prefix(error.message());
    let sqlstate = message
        .rsplit_once("(SQLSTATE ")
        .map(|(_, code)| code.trim_end_matches(')'));
    let text = format!("{at}: {what}: {message}");
    match sqlstate {
        Some("28P01" | "28000") => Error::denied(format!(
            "{text}; check admin_user and the admin_password secret of the definition"
        )),
        Some("42501") => Error::denied(format!(
            "{text}; the admin role needs CREATEROLE and CREATEDB (or SUPERUSER)"
        )),
        Some("3D000") => {
            Error::invalid_input(format!("{text}; check admin_database in the definition"))
        }
        Some("2BP01") => Error::conflict(format!(
            "{text}; the role owns objects or holds privileges in other databases: \
             reassign or drop them there first"
        )),
        Some("57P03" | "53300") => Error::unavailable(text),
        _ => Error::from_kind(error.kind(), text.clone()).unwrap_or(Error::Failed(text)),
    }
}

/// The host prefixes messages with `database postgres://HOST:PORT: `; ours
/// names the server already.
fn strip_host_prefix(message: &str) -> &str {
    match message.strip_prefix("database postgres://") {
        Some(rest) => rest.split_once(": ").map_or(message, |(_, m)| m),
        None => message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const AT: &str = "PostgreSQL at 127.0.0.1:55432";

    #[test]
    fn bad_credentials_are_denied_with_a_hint() {
        let e = backend_error(
            AT,
            "connect as podium_admin",
            Error::failed(
                "database postgres://127.0.0.1:55432: password authentication failed for user \"podium_admin\" (SQLSTATE 28P01)",
            ),
        );
        assert_eq!(e.kind(), "denied");
        assert_eq!(
            e.message(),
            "PostgreSQL at 127.0.0.1:55432: connect as podium_admin: password authentication failed \
             for user \"podium_admin\" (SQLSTATE 28P01); check admin_user and the admin_password \
             secret of the definition"
        );
    }

    #[test]
    fn kinds_follow_sqlstates_and_the_host() {
        let kind = |e: Error| backend_error(AT, "x", e).kind();
        assert_eq!(
            kind(Error::failed(
                "database postgres://h:1: nope (SQLSTATE 3D000)"
            )),
            "invalid-input"
        );
        assert_eq!(
            kind(Error::failed(
                "permission denied to create role (SQLSTATE 42501)"
            )),
            "denied"
        );
        assert_eq!(
            kind(Error::unavailable(
                "database postgres://127.0.0.1:55432: Connection refused (os error 111)"
            )),
            "unavailable"
        );
        assert_eq!(
            kind(Error::denied("no grant allows postgres://127.0.0.1:55432")),
            "denied"
        );
        assert_eq!(
            kind(Error::failed("role \"x\" already exists (SQLSTATE 42710)")),
            "failed"
        );
        assert_eq!(
            kind(Error::failed(
                "role \"x\" cannot be dropped because some objects depend on it (SQLSTATE 2BP01)"
            )),
            "conflict"
        );
    }

    #[test]
    fn unavailable_names_the_server() {
        let e = backend_error(
            AT,
            "connect as a",
            Error::unavailable(
                "database postgres://127.0.0.1:55432: Connection refused (os error 111)",
            ),
        );
        assert_eq!(
            e.message(),
            "PostgreSQL at 127.0.0.1:55432: connect as a: Connection refused (os error 111)"
        );
    }

    #[test]
    fn ipv6_hosts_get_brackets() {
        assert_eq!(url_host("::1"), "[::1]");
        assert_eq!(url_host("[::1]"), "[::1]");
        assert_eq!(url_host("db.internal"), "db.internal");
    }
}

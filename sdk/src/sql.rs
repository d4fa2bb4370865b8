//! SQL through the host's `sql` import, plus Postgres quoting helpers.
//!
//! The host opens the connection (drivers have no sockets of their own) after
//! checking the target against the definition's grants, and binds parameters
//! itself. Supported scheme: `postgres://HOST:PORT/DATABASE`.
//!
//! ```no_run
//! use podium_driver_sdk::sql::{Connection, quote_ident};
//! use serde::Deserialize;
//!
//! #[derive(Deserialize)]
//! struct Role {
//!     rolname: String,
//! }
//!
//! # fn main() -> Result<(), podium_driver_sdk::Error> {
//! let db = Connection::open("postgres://127.0.0.1:55432/postgres", "admin", "secret")?;
//! let roles: Vec<Role> = db.query("select rolname from pg_roles where rolname = $1", &["app".into()])?;
//! if roles.is_empty() {
//!     // DDL takes no bound parameters: quote yourself.
//!     db.batch(&format!("CREATE ROLE {} LOGIN", quote_ident("app")?))?;
//! }
//! # Ok(()) }
//! ```

use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::Error;

/// An open database connection held by the host. Dropping it closes the
/// connection; the host also closes every connection when the call ends.
pub struct Connection {
    #[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
    inner: crate::bindings::podium::driver::sql::Connection,
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection").finish_non_exhaustive()
    }
}

impl Connection {
    /// Connects to `url` (e.g. `postgres://127.0.0.1:55432/postgres`) as
    /// `user`. Fails with [`Error::Denied`] when no grant covers the target and
    /// with [`Error::Unavailable`] when the server cannot be reached.
    pub fn open(url: &str, user: &str, password: &str) -> Result<Self, Error> {
        #[cfg(target_arch = "wasm32")]
        {
            use crate::bindings::podium::driver::sql;
            let options = sql::ConnectOptions {
                url: url.to_owned(),
                user: user.to_owned(),
                password: password.to_owned(),
            };
            sql::Connection::open(&options)
                .map(|inner| Self { inner })
                .map_err(crate::__private::sdk_error)
        }
        #[cfg(not(target_arch = "wasm32"))]
        {
            let _ = (user, password);
            Err(not_in_host(url))
        }
    }

    /// Runs a statement that returns rows; `params` bind to `$1`, `$2`, ...
    /// (null, booleans, numbers or strings). Each row is a JSON object keyed
    /// by column name, decoded into `T` (`serde_json::Value` takes anything).
    pub fn query<T: DeserializeOwned>(
        &self,
        statement: &str,
        params: &[Value],
    ) -> Result<Vec<T>, Error> {
        let rows = self
            .inner
            .query(statement, &params_text(params))
            .map_err(crate::__private::sdk_error)?;
        decode_rows(&rows)
    }

    /// Runs a statement with bound parameters; returns the number of rows it
    /// affected.
    pub fn execute(&self, statement: &str, params: &[Value]) -> Result<u32, Error> {
        self.inner
            .execute(statement, &params_text(params))
            .map_err(crate::__private::sdk_error)
    }

    /// Runs one or more statements without parameters (simple query
    /// protocol), e.g. `CREATE DATABASE`. Quote with [`quote_ident`] and
    /// [`quote_literal`].
    pub fn batch(&self, statements: &str) -> Result<(), Error> {
        self.inner
            .batch(statements)
            .map_err(crate::__private::sdk_error)
    }
}

#[cfg(not(target_arch = "wasm32"))]
fn not_in_host(url: &str) -> Error {
    Error::unavailable(format!(
        "SQL connection to {url}: host capabilities exist only inside the Podium host"
    ))
}

fn params_text(params: &[Value]) -> String {
    Value::Array(params.to_vec()).to_string()
}

/// Decodes the host's JSON array of row objects.
fn decode_rows<T: DeserializeOwned>(rows: &str) -> Result<Vec<T>, Error> {
    let value: Value = serde_json::from_str(rows)
        .map_err(|e| Error::failed(format!("the host returned rows that are not JSON: {e}")))?;
    // A mismatch between rows and `T` is the driver's bug, not bad input.
    crate::json::decode("rows", &value).map_err(|e| Error::failed(e.message()))
}

/// Quotes a Postgres identifier: `my "db"` → `"my ""db"""`. Always quotes, so
/// the name keeps its case and may be a keyword. Fails on an empty name or a
/// NUL byte, which Postgres identifiers cannot hold.
pub fn quote_ident(name: &str) -> Result<String, Error> {
    if name.is_empty() {
        return Err(Error::invalid_input("an SQL identifier cannot be empty"));
    }
    reject_nul(name, "identifier")?;
    Ok(format!("\"{}\"", name.replace('"', "\"\"")))
}

/// Quotes a Postgres string literal: `it's` → `'it''s'`. A value with a
/// backslash becomes an escape string (`E'a\\b'`), which reads the same
/// whatever `standard_conforming_strings` is set to (this is what Postgres's
/// own `quote_literal` does). Fails on a NUL byte, which Postgres text cannot
/// hold.
pub fn quote_literal(value: &str) -> Result<String, Error> {
    reject_nul(value, "literal")?;
    let quoted = value.replace('\'', "''");
    Ok(if quoted.contains('\\') {
        format!("E'{}'", quoted.replace('\\', "\\\\"))
    } else {
        format!("'{quoted}'")
    })
}

fn reject_nul(text: &str, what: &str) -> Result<(), Error> {
    if text.contains('\0') {
        // The simple query protocol would cut the statement at the NUL.
        return Err(Error::invalid_input(format!(
            "an SQL {what} cannot contain a NUL byte"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quote_ident_doubles_quotes() {
        assert_eq!(quote_ident("shop_dev").as_deref(), Ok("\"shop_dev\""));
        assert_eq!(quote_ident("My \"db\"").as_deref(), Ok("\"My \"\"db\"\"\""));
        assert_eq!(
            quote_ident("a\"; DROP TABLE x; --").as_deref(),
            Ok("\"a\"\"; DROP TABLE x; --\"")
        );
        assert_eq!(quote_ident("select").as_deref(), Ok("\"select\""));
        assert_eq!(quote_ident("é\\x").as_deref(), Ok("\"é\\x\""));
        assert!(quote_ident("").is_err());
        assert!(quote_ident("a\0b").is_err());
    }

    #[test]
    fn quote_literal_doubles_quotes_and_escapes_backslashes() {
        assert_eq!(quote_literal("").as_deref(), Ok("''"));
        assert_eq!(quote_literal("it's").as_deref(), Ok("'it''s'"));
        assert_eq!(
            quote_literal("'; DROP ROLE x; --").as_deref(),
            Ok("'''; DROP ROLE x; --'")
        );
        assert_eq!(quote_literal("a\\b").as_deref(), Ok("E'a\\\\b'"));
        assert_eq!(quote_literal("\\'").as_deref(), Ok("E'\\\\'''"));
        assert_eq!(
            quote_literal("line\nbreak $$").as_deref(),
            Ok("'line\nbreak $$'")
        );
        assert!(quote_literal("a\0").is_err());
    }

    #[test]
    fn rows_decode_into_types() {
        #[derive(serde::Deserialize, Debug, PartialEq)]
        struct Row {
            one: i32,
        }
        assert_eq!(
            decode_rows::<Row>(r#"[{"one": 1}]"#),
            Ok(vec![Row { one: 1 }])
        );
        let err = decode_rows::<Row>(r#"[{"one": "x"}]"#).err();
        assert_eq!(
            err,
            Some(Error::failed(
                "rows[0].one: invalid type: string \"x\", expected i32"
            ))
        );
    }

    #[test]
    fn params_are_a_json_array() {
        assert_eq!(
            params_text(&["a".into(), 1.into(), Value::Null]),
            r#"["a",1,null]"#
        );
    }

    #[test]
    fn open_outside_the_host_is_unavailable() {
        let err = Connection::open("postgres://x:1/db", "u", "p")
            .err()
            .map(|e| e.kind());
        assert_eq!(err, Some("unavailable"));
    }
}

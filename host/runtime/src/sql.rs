//! The `sql` capability: the host opens and holds database connections for a
//! driver, checked against the grants like HTTP, and runs statements with
//! bound parameters. JSON in, JSON out, so every guest language can use it.
//!
//! Only PostgreSQL is supported. Connections are plain TCP; TLS to the
//! database is not implemented yet.

use std::time::Duration;

use serde_json::{Map, Value};
use tokio::net::TcpStream;
use tokio_postgres::types::{ToSql, Type};
use tokio_postgres::{Client, NoTls, Row};

use crate::grants::{Target, parse_host};
use crate::policy::{Mode, Policy, ReachError};

const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Connections one call may hold at once.
pub const MAX_CONNECTIONS: usize = 4;

/// An open connection, the rep of the WIT `connection` resource.
pub struct SqlConnection {
    client: Client,
    target: Target,
}

/// Errors as the WIT `error` variant wants them: (kind, message).
#[derive(Debug)]
pub enum SqlError {
    Denied(String),
    Unavailable(String),
    InvalidInput(String),
    Failed(String),
}

/// Parse `postgres://HOST[:PORT]/DATABASE`.
fn parse_url(url: &str) -> Result<(Target, String), SqlError> {
    let bad = |why: &str| {
        SqlError::InvalidInput(format!(
            "sql url `{url}`: {why} (expected postgres://HOST[:PORT]/DATABASE)"
        ))
    };
    let (scheme, rest) = url.split_once("://").ok_or_else(|| bad("missing `://`"))?;
    if !matches!(scheme, "postgres" | "postgresql") {
        return Err(bad("unsupported scheme; only postgres is supported"));
    }
    let (authority, db) = rest.split_once('/').unwrap_or((rest, "postgres"));
    if authority.contains('@') {
        return Err(bad(
            "put the user and password in the options, not in the url",
        ));
    }
    let db = db.split('?').next().unwrap_or_default();
    let (host, port) = match authority.rsplit_once(':') {
        Some((h, p)) if !h.ends_with(']') || authority.starts_with('[') => {
            (h, p.parse::<u16>().map_err(|_| bad("bad port"))?)
        }
        _ => (authority, 5432),
    };
    let host =
        parse_host(host.trim_start_matches('[').trim_end_matches(']')).map_err(|e| bad(&e))?;
    Ok((
        Target {
            scheme: "postgres".into(),
            host,
            port,
        },
        if db.is_empty() {
            "postgres".into()
        } else {
            db.into()
        },
    ))
}

impl SqlConnection {
    pub async fn open(
        policy: &Policy,
        url: &str,
        user: &str,
        password: &str,
    ) -> Result<SqlConnection, SqlError> {
        let (target, db) = parse_url(url)?;
        let addr = policy.resolve(&target).await.map_err(|e| match e {
            ReachError::Denied(d) => SqlError::Denied(d.to_string()),
            ReachError::Dns(m) => SqlError::Unavailable(format!("cannot resolve {m}")),
        })?;
        let unavailable =
            |what: String| SqlError::Unavailable(format!("database {target}: {what}"));
        let tcp = tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(addr))
            .await
            .map_err(|_| unavailable("connection timed out".into()))?
            .map_err(|e| unavailable(e.to_string()))?;
        let _ = tcp.set_nodelay(true);
        let mut config = tokio_postgres::Config::new();
        config
            .user(user)
            .password(password)
            .dbname(&db)
            .application_name("podium-driver");
        let (client, connection) =
            tokio::time::timeout(CONNECT_TIMEOUT, config.connect_raw(tcp, NoTls))
                .await
                .map_err(|_| unavailable("handshake timed out".into()))?
                .map_err(|e| db_error(&target, e))?;
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!(error = %e, "driver SQL connection ended with an error");
            }
        });
        if policy.mode == Mode::ReadOnly {
            client
                .batch_execute("SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY")
                .await
                .map_err(|e| db_error(&target, e))?;
        }
        Ok(SqlConnection { client, target })
    }

    /// Prepare `statement` and bind the JSON `params` to its parameter types.
    async fn prepare(
        &self,
        statement: &str,
        params: &str,
    ) -> Result<(tokio_postgres::Statement, Vec<Param>), SqlError> {
        let stmt = self
            .client
            .prepare(statement)
            .await
            .map_err(|e| db_error(&self.target, e))?;
        let bound = bind(params, stmt.params())?;
        Ok((stmt, bound))
    }

    pub async fn query(&self, statement: &str, params: &str) -> Result<String, SqlError> {
        let (stmt, bound) = self.prepare(statement, params).await?;
        let refs: Vec<&(dyn ToSql + Sync)> = bound.iter().map(|b| b.as_ref() as _).collect();
        let rows = self
            .client
            .query(&stmt, &refs)
            .await
            .map_err(|e| db_error(&self.target, e))?;
        let rows = rows
            .iter()
            .map(row_to_json)
            .collect::<Result<Vec<_>, _>>()?;
        serde_json::to_string(&rows).map_err(|e| SqlError::Failed(e.to_string()))
    }

    pub async fn execute(
        &self,
        policy: &Policy,
        statement: &str,
        params: &str,
    ) -> Result<u32, SqlError> {
        policy
            .require_write("sql execute")
            .map_err(|d| SqlError::Denied(d.to_string()))?;
        let (stmt, bound) = self.prepare(statement, params).await?;
        let refs: Vec<&(dyn ToSql + Sync)> = bound.iter().map(|b| b.as_ref() as _).collect();
        let n = self
            .client
            .execute(&stmt, &refs)
            .await
            .map_err(|e| db_error(&self.target, e))?;
        Ok(u32::try_from(n).unwrap_or(u32::MAX))
    }

    pub async fn batch(&self, policy: &Policy, statements: &str) -> Result<(), SqlError> {
        policy
            .require_write("sql batch")
            .map_err(|d| SqlError::Denied(d.to_string()))?;
        self.client
            .batch_execute(statements)
            .await
            .map_err(|e| db_error(&self.target, e))
    }
}

/// Server errors keep the server's message and SQLSTATE; connection problems
/// are `unavailable`.
fn db_error(target: &Target, e: tokio_postgres::Error) -> SqlError {
    match e.as_db_error() {
        Some(db) => SqlError::Failed(format!(
            "database {target}: {} (SQLSTATE {})",
            db.message(),
            db.code().code()
        )),
        None if e.is_closed() => {
            SqlError::Unavailable(format!("database {target}: connection closed"))
        }
        None => SqlError::Unavailable(format!("database {target}: {e}")),
    }
}

type Param = Box<dyn ToSql + Sync + Send>;

/// Convert a JSON array of parameters to the types the statement expects.
fn bind(params: &str, types: &[Type]) -> Result<Vec<Param>, SqlError> {
    let values: Vec<Value> = if params.trim().is_empty() {
        Vec::new()
    } else {
        serde_json::from_str(params)
            .map_err(|e| SqlError::InvalidInput(format!("sql params must be a JSON array: {e}")))?
    };
    if values.len() != types.len() {
        return Err(SqlError::InvalidInput(format!(
            "the statement takes {} parameter(s), {} given",
            types.len(),
            values.len()
        )));
    }
    values
        .into_iter()
        .zip(types)
        .enumerate()
        .map(|(i, (v, ty))| bind_one(i + 1, v, ty))
        .collect()
}

fn bind_one(n: usize, v: Value, ty: &Type) -> Result<Param, SqlError> {
    let mismatch = |v: &Value| {
        SqlError::InvalidInput(format!(
            "parameter ${n} is {ty}, cannot bind {v}; cast it in the statement (e.g. ${n}::text) if needed"
        ))
    };
    if v.is_null() {
        return Ok(match *ty {
            Type::BOOL => Box::new(None::<bool>),
            Type::INT2 => Box::new(None::<i16>),
            Type::INT4 => Box::new(None::<i32>),
            Type::INT8 => Box::new(None::<i64>),
            Type::FLOAT4 => Box::new(None::<f32>),
            Type::FLOAT8 => Box::new(None::<f64>),
            Type::JSON | Type::JSONB => Box::new(None::<Value>),
            _ => Box::new(None::<String>),
        });
    }
    let as_i64 = |v: &Value| match v {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    };
    let as_f64 = |v: &Value| match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    };
    Ok(match *ty {
        Type::BOOL => match &v {
            Value::Bool(b) => Box::new(*b),
            Value::String(s) if s == "true" || s == "false" => Box::new(s == "true"),
            _ => return Err(mismatch(&v)),
        },
        Type::INT2 => Box::new(
            as_i64(&v)
                .and_then(|i| i16::try_from(i).ok())
                .ok_or_else(|| mismatch(&v))?,
        ),
        Type::INT4 => Box::new(
            as_i64(&v)
                .and_then(|i| i32::try_from(i).ok())
                .ok_or_else(|| mismatch(&v))?,
        ),
        Type::INT8 => Box::new(as_i64(&v).ok_or_else(|| mismatch(&v))?),
        Type::OID => Box::new(
            as_i64(&v)
                .and_then(|i| u32::try_from(i).ok())
                .ok_or_else(|| mismatch(&v))?,
        ),
        Type::FLOAT4 => Box::new(as_f64(&v).ok_or_else(|| mismatch(&v))? as f32),
        Type::FLOAT8 => Box::new(as_f64(&v).ok_or_else(|| mismatch(&v))?),
        Type::JSON | Type::JSONB => Box::new(v),
        Type::TEXT | Type::VARCHAR | Type::NAME | Type::BPCHAR | Type::UNKNOWN => match v {
            Value::String(s) => Box::new(s),
            Value::Bool(_) | Value::Number(_) => Box::new(v.to_string()),
            _ => return Err(mismatch(&v)),
        },
        _ => return Err(mismatch(&v)),
    })
}

fn row_to_json(row: &Row) -> Result<Value, SqlError> {
    let mut obj = Map::new();
    for (i, col) in row.columns().iter().enumerate() {
        let ty = col.type_();
        let get_err = |e: tokio_postgres::Error| {
            SqlError::Failed(format!("column `{}` ({ty}): {e}", col.name()))
        };
        let v = match *ty {
            Type::BOOL => row.try_get::<_, Option<bool>>(i).map_err(get_err)?.into(),
            Type::INT2 => row.try_get::<_, Option<i16>>(i).map_err(get_err)?.into(),
            Type::INT4 => row.try_get::<_, Option<i32>>(i).map_err(get_err)?.into(),
            Type::INT8 => row.try_get::<_, Option<i64>>(i).map_err(get_err)?.into(),
            Type::OID => row.try_get::<_, Option<u32>>(i).map_err(get_err)?.into(),
            Type::FLOAT4 => row.try_get::<_, Option<f32>>(i).map_err(get_err)?.into(),
            Type::FLOAT8 => row.try_get::<_, Option<f64>>(i).map_err(get_err)?.into(),
            Type::JSON | Type::JSONB => row
                .try_get::<_, Option<Value>>(i)
                .map_err(get_err)?
                .unwrap_or(Value::Null),
            Type::TEXT | Type::VARCHAR | Type::NAME | Type::BPCHAR | Type::UNKNOWN => {
                row.try_get::<_, Option<String>>(i).map_err(get_err)?.into()
            }
            _ => {
                return Err(SqlError::InvalidInput(format!(
                    "column `{}` has type {ty}, which the sql capability does not convert; \
                     cast it in the query (e.g. `{}::text`)",
                    col.name(),
                    col.name()
                )));
            }
        };
        obj.insert(col.name().to_string(), v);
    }
    Ok(Value::Object(obj))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        let (t, db) = parse_url("postgres://127.0.0.1:55432/app").unwrap();
        assert_eq!(t.to_string(), "postgres://127.0.0.1:55432");
        assert_eq!(db, "app");
        let (t, db) = parse_url("postgresql://db.internal").unwrap();
        assert_eq!(t.port, 5432);
        assert_eq!(db, "postgres");
        for bad in [
            "mysql://x/y",
            "postgres://u:p@h/db",
            "postgres://h:x/db",
            "h:5432",
        ] {
            assert!(parse_url(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn binding_checks_types_and_counts() {
        assert!(bind("[1, \"x\"]", &[Type::INT4, Type::TEXT]).is_ok());
        assert!(bind("[\"12\"]", &[Type::INT8]).is_ok());
        assert!(bind("[]", &[Type::INT4]).is_err());
        assert!(bind("[70000]", &[Type::INT2]).is_err());
        assert!(bind("{}", &[]).is_err());
        let e = bind("[[1]]", &[Type::TEXT]).err().unwrap();
        assert!(matches!(e, SqlError::InvalidInput(m) if m.contains("$1")));
    }
}

//! Tokens: create (shown once), list, revoke; and `whoami`.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::{Extension, Json};
use jiff::Timestamp;
use podium_store::{Role, TokenRecord, WriteSet};
use serde::Deserialize;
use serde_json::{Value, json};

use super::Doc;
use super::audit::Audit;
use super::body;
use super::ids;
use super::problem::{ApiResult, Problem};
use crate::auth::{self, Principal, TokenSpec};
use crate::service::Service;

type S = State<Arc<Service>>;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateBody {
    name: String,
    role: Role,
    #[serde(default)]
    app: Option<String>,
    /// Env types the token may deploy to (omitted: all).
    #[serde(default)]
    env_types: Option<Vec<String>>,
    /// RFC 3339 time, or a duration from now such as `30d`, `12h`.
    #[serde(default)]
    expires: Option<String>,
}

fn shown(t: &TokenRecord) -> Value {
    json!({
        "id": t.id, "name": t.name, "role": t.role, "app": t.app,
        "env_types": t.env_types, "created_at": t.created_at,
        "created_by": t.created_by, "expires_at": t.expires_at,
    })
}

fn expiry(text: &str) -> Result<Timestamp, Problem> {
    if let Ok(t) = text.parse::<Timestamp>() {
        return Ok(t);
    }
    let (n, unit) = text.split_at(text.trim_end_matches(char::is_alphabetic).len());
    let n: i64 = n
        .parse()
        .ok()
        .filter(|n| (1..=36_500 * 24).contains(n))
        .ok_or_else(|| bad_expiry(text))?;
    let hours = match unit {
        "h" => n,
        "d" => n * 24,
        _ => return Err(bad_expiry(text)),
    };
    Timestamp::now()
        .checked_add(jiff::SignedDuration::from_hours(hours))
        .map_err(|_| bad_expiry(text))
}

fn bad_expiry(text: &str) -> Problem {
    Problem::invalid(
        "/expires",
        format!("{text:?} is neither an RFC 3339 time nor a duration like `30d` or `12h`"),
    )
}

/// Creates a token. Admins create any; owners create tokens of their app
/// with a role up to owner. The token text is in this answer only.
#[utoipa::path(post, path = "/api/v1/tokens", request_body = Doc, responses((status = 201, body = Doc), (status = 403, body = Problem), (status = 422, body = Problem)))]
pub async fn create(
    State(s): S,
    Extension(me): Extension<Principal>,
    Extension(audit): Extension<Audit>,
    bytes: Bytes,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let b: CreateBody = body::json(&bytes)?;
    ids::check_token_name(&b.name)?;
    match (b.role, &b.app) {
        (Role::Admin, Some(_)) => {
            return Err(Problem::invalid(
                "/app",
                "an admin token is not bound to an app",
            ));
        }
        (Role::Admin, None) => {}
        (_, None) => {
            return Err(Problem::invalid(
                "/app",
                format!("a {} token needs the app it is for", b.role.as_str()),
            ));
        }
        (_, Some(app)) => {
            ids::check("app", app)?;
            if s.repo().app(app)?.is_none() {
                return Err(Problem::not_found("app", app));
            }
        }
    }
    for (i, t) in b.env_types.iter().flatten().enumerate() {
        ids::check("env type", t).map_err(|p| p.with(format!("/env_types/{i}"), "not an id"))?;
    }
    let expires_at = b.expires.as_deref().map(expiry).transpose()?;
    me.may_issue(b.role, b.app.as_deref(), &b.env_types)
        .map_err(|m| Problem::new(StatusCode::FORBIDDEN, "forbidden", m))?;
    let issued = auth::issue(
        TokenSpec {
            name: b.name,
            role: b.role,
            app: b.app,
            env_types: b.env_types,
            expires_at,
        },
        &me.actor(),
    );
    let mut ws = WriteSet::new();
    ws.token(&issued.record);
    audit.commit(&s, ws, StatusCode::CREATED).await?;
    let mut out = shown(&issued.record);
    out["token"] = json!(issued.token);
    Ok((StatusCode::CREATED, Json(out)))
}

/// Tokens this caller may manage: all for admins, their app's for owners,
/// their own otherwise. Secrets are never shown again.
#[utoipa::path(get, path = "/api/v1/tokens", responses((status = 200, body = Doc)))]
pub async fn list(State(s): S, Extension(me): Extension<Principal>) -> ApiResult<Json<Value>> {
    let list: Vec<Value> = s
        .repo()
        .tokens()?
        .iter()
        .filter(|t| manages(&me, t))
        .map(shown)
        .collect();
    Ok(Json(json!(list)))
}

fn manages(me: &Principal, t: &TokenRecord) -> bool {
    me.role == Role::Admin
        || t.id == me.token_id
        || (me.role == Role::Owner && t.app.is_some() && t.app == me.app && t.role <= Role::Owner)
}

/// Revokes a token (admins any, owners their app's, anyone their own).
#[utoipa::path(delete, path = "/api/v1/tokens/{id}", params(("id" = String, Path)), responses((status = 204), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn revoke(
    State(s): S,
    Extension(me): Extension<Principal>,
    Extension(audit): Extension<Audit>,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let t = s.repo().token(&id)?;
    match t {
        Some(t) if manages(&me, &t) => {
            let mut ws = WriteSet::new();
            ws.delete_token(&id);
            audit.commit(&s, ws, StatusCode::NO_CONTENT).await?;
            Ok(StatusCode::NO_CONTENT)
        }
        Some(_) => Err(Problem::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            format!(
                "token {:?} lacks the permission tokens:revoke on token {id:?}: only admins, owners of its app and the token itself revoke it",
                me.name
            ),
        )),
        _ => Err(Problem::not_found("token", &id)),
    }
}

/// The caller's token: id, name, role, app, env types.
#[utoipa::path(get, path = "/api/v1/whoami", responses((status = 200, body = Doc)))]
pub async fn whoami(Extension(me): Extension<Principal>) -> Json<Value> {
    Json(json!({
        "token_id": me.token_id, "name": me.name, "role": me.role,
        "app": me.app, "env_types": me.env_types,
    }))
}

//! Administration: the audit log and secret-key rotation.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Query, State};
use serde::Deserialize;
use serde_json::{Value, json};

use super::Doc;
use super::problem::{ApiResult, Problem};
use crate::service::Service;

type S = State<Arc<Service>>;

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    /// Entries after this sequence number (paging).
    #[serde(default)]
    after: u64,
    /// At most this many entries (1-1000, default 100).
    #[serde(default)]
    limit: Option<usize>,
}

/// The audit log: every write request, who made it, when, and its outcome,
/// oldest first. `next_after` pages on.
#[utoipa::path(get, path = "/api/v1/audit", params(AuditQuery), responses((status = 200, body = Doc), (status = 403, body = Problem)))]
pub async fn audit(State(s): S, Query(q): Query<AuditQuery>) -> ApiResult<Json<Value>> {
    let limit = q.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(Problem::invalid("limit", "limit is between 1 and 1000"));
    }
    let entries = s.repo().audit(q.after, limit)?;
    let next_after = entries.last().map(|a| a.seq);
    Ok(Json(json!({"entries": entries, "next_after": next_after})))
}

/// Seals every secret under a new key and retires the old one.
#[utoipa::path(post, path = "/api/v1/admin/rotate-key", responses((status = 200, body = Doc), (status = 403, body = Problem)))]
pub async fn rotate_key(State(s): S) -> ApiResult<Json<Value>> {
    let svc = s.clone();
    let r = tokio::task::spawn_blocking(move || svc.rotate_key())
        .await
        .map_err(|e| Problem::internal(format!("rotation task: {e}")))?
        .map_err(|e| {
            tracing::error!(error = %format!("{e:#}"), "SecretKeyRotationFailed");
            Problem::internal(format!("{e:#}"))
        })?;
    Ok(Json(json!(r)))
}

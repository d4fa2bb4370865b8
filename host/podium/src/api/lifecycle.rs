//! Environment lifecycle: teardown (`DELETE` of an env or an app, through
//! a teardown deployment on the same path as every deployment), clone and
//! expiry. The state lives in the store (`EnvState`), never in memory.

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use podium_pipeline::Submit;
use podium_store::{EnvRecord, EnvState, Role, Timestamp, WriteSet};
use serde::Deserialize;
use serde_json::{Value, json};

use super::audit::Audit;
use super::config::require_env;
use super::deploys::{accepted, submit_audited};
use super::problem::{ApiResult, Problem};
use crate::auth::Principal;
use crate::service::Service;

type S = State<Arc<Service>>;

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DeleteEnvQuery {
    /// Answer when the teardown is finished.
    #[serde(default)]
    wait: bool,
    /// Admin only: forget every resource of the environment without
    /// calling its driver, and remove the environment now.
    #[serde(default)]
    force: bool,
}

/// An environment with its lifecycle state, as the API shows it.
pub fn shown_env(rec: &EnvRecord, state: &EnvState) -> Value {
    let mut v = json!(rec);
    if let Value::Object(m) = &mut v {
        m.insert("status".into(), json!(state.status));
        if let Some(t) = &state.teardown {
            m.insert("teardown".into(), json!(t));
        }
        if !state.failures.is_empty() {
            m.insert("delete_failures".into(), json!(state.failures));
        }
        if let Some(at) = state.expires_at {
            m.insert("expires_at".into(), json!(at));
        }
    }
    v
}

/// Tears the environment down: a teardown deployment (the empty set)
/// deletes every resource through the driver and definition version that
/// made it, dependents first; then the environment is removed (its
/// deployment history stays). `DELETE` again continues a failed one.
#[utoipa::path(delete, path = "/api/v1/apps/{app}/envs/{env}", params(("app" = String, Path), ("env" = String, Path), DeleteEnvQuery), responses((status = 202, body = super::Doc), (status = 200, body = super::Doc), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn delete_env(
    State(s): S,
    Extension(me): Extension<Principal>,
    Extension(audit): Extension<Audit>,
    Path((app, env)): Path<(String, String)>,
    Query(q): Query<DeleteEnvQuery>,
) -> ApiResult<Response> {
    require_env(&s, &app, &env)?;
    if q.force {
        return force_delete(&s, &me, &audit, &app, &env).await;
    }
    let submit = Submit::teardown(
        &app,
        &env,
        format!("delete environment {app}/{env}"),
        me.actor(),
    );
    let dep = submit_audited(&s, &audit, submit, q.wait).await?;
    accepted(&s, dep, q.wait).await
}

/// Forgets what cannot be deleted: the env's active resources and the env
/// are removed without driver calls (admin only; audited like every write).
async fn force_delete(
    s: &Service,
    me: &Principal,
    audit: &Audit,
    app: &str,
    env: &str,
) -> ApiResult<Response> {
    if me.role != Role::Admin {
        return Err(Problem::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            "force-deleting an environment forgets resources without deleting them: admin only",
        ));
    }
    // No deployment of the env may run meanwhile.
    let lock = s.pipeline().env_lock(app, env);
    let _record = tokio::time::timeout(std::time::Duration::from_secs(10), lock.lock_owned())
        .await
        .map_err(|_| {
            Problem::conflict(format!(
                "a deployment of {app}/{env} is running; force-delete when it is finished"
            ))
        })?;
    let state = s.repo().env_state(app, env)?;
    let active = s.repo().active(app, env)?;
    let mut ws = WriteSet::new();
    for a in &active {
        ws.remove_active(app, env, &a.resource.guresid);
    }
    ws.delete_env_state(app, env, &state).delete_env(app, env);
    audit.commit(s, ws, StatusCode::OK).await?;
    let forgotten: Vec<String> = active.iter().map(|a| a.resource.key.to_string()).collect();
    tracing::warn!(
        app,
        env,
        resources = forgotten.len(),
        "EnvironmentForgotten"
    );
    Ok((
        StatusCode::OK,
        Json(json!({"deleted": format!("{app}/{env}"), "forgotten": forgotten})),
    )
        .into_response())
}

/// Tears down every environment of the app, then removes the app (with the
/// last teardown). An app without environments goes at once.
#[utoipa::path(delete, path = "/api/v1/apps/{app}", params(("app" = String, Path)), responses((status = 202, body = super::Doc), (status = 204), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn delete_app(
    State(s): S,
    Extension(me): Extension<Principal>,
    Extension(audit): Extension<Audit>,
    Path(app): Path<String>,
) -> ApiResult<Response> {
    s.repo()
        .app(&app)?
        .ok_or_else(|| Problem::not_found("app", &app))?;
    let envs = s.repo().envs(&app)?;
    let mut ws = WriteSet::new();
    if envs.is_empty() {
        ws.delete_app(&app);
        audit.commit(&s, ws, StatusCode::NO_CONTENT).await?;
        return Ok(StatusCode::NO_CONTENT.into_response());
    }
    ws.app_deleting(&app);
    audit.commit(&s, ws, StatusCode::ACCEPTED).await?;
    let mut teardowns = Vec::new();
    for e in envs {
        let dep = s
            .pipeline()
            .submit(Submit::teardown(
                &app,
                &e.env.id,
                format!("delete app {app}"),
                me.actor(),
            ))
            .await?;
        teardowns.push(json!({"env": e.env.id, "id": dep.id}));
    }
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({"app": app, "teardowns": teardowns})),
    )
        .into_response())
}

/// A duration like `72h`, `30m`, `2s`, `1d` (positive).
pub fn parse_ttl(field: &str, text: &str) -> ApiResult<jiff::SignedDuration> {
    let invalid = || {
        Problem::invalid(
            field,
            format!(
                "{text:?} is not a duration: give a positive number with a unit, e.g. 72h, 30m, 2s, 1d"
            ),
        )
    };
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .ok_or_else(invalid)?;
    let (n, unit) = text.split_at(split);
    let n: i64 = n.parse().map_err(|_| invalid())?;
    let secs = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return Err(invalid()),
    };
    if n <= 0 || n > 3650 * 86_400 / secs {
        return Err(invalid());
    }
    Ok(jiff::SignedDuration::from_secs(n * secs))
}

/// The expiry an env body or a deploy asks for: `ttl` from now, or an
/// absolute `expires_at`.
pub fn expiry(ttl: Option<&str>, expires_at: Option<&str>) -> ApiResult<Option<Timestamp>> {
    match (ttl, expires_at) {
        (Some(_), Some(_)) => Err(Problem::invalid(
            "ttl",
            "give `ttl` or `expires_at`, not both",
        )),
        (Some(t), None) => {
            let d = parse_ttl("ttl", t)?;
            Timestamp::now()
                .checked_add(d)
                .map(Some)
                .map_err(|e| Problem::invalid("ttl", e.to_string()))
        }
        (None, Some(at)) => at.parse::<Timestamp>().map(Some).map_err(|e| {
            Problem::invalid(
                "expires_at",
                format!("{at:?} is not an RFC 3339 time (e.g. 2026-12-31T00:00:00Z): {e}"),
            )
        }),
        (None, None) => Ok(None),
    }
}

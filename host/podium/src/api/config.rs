//! Configuration endpoints: environment types, apps, environments, resource
//! definitions (versioned, with an explain endpoint), resource types,
//! workload profiles and shared values.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use podium_core::{
    Application, DefinitionSpec, Definitions, Environment, EnvironmentType, ResourceDefinition,
    ResourceKey, SharedValue,
};
use podium_store::{EnvRecord, ProfileRecord, Timestamp, WriteSet};
use serde::Deserialize;
use serde_json::{Value, json};

use super::Doc;
use super::body;
use super::ids;
use super::problem::{ApiResult, Problem};
use crate::auth::Principal;
use crate::service::Service;

type S = State<Arc<Service>>;

#[utoipa::path(get, path = "/api/v1/env-types", responses((status = 200, body = Doc)))]
pub async fn list_env_types(State(s): S) -> ApiResult<Json<Value>> {
    Ok(Json(json!(s.repo().env_types()?)))
}

#[utoipa::path(put, path = "/api/v1/env-types/{id}", params(("id" = String, Path)), responses((status = 200, body = Doc), (status = 422, body = Problem)))]
pub async fn put_env_type(State(s): S, Path(id): Path<String>) -> ApiResult<Json<Value>> {
    ids::check("env type", &id)?;
    let t = EnvironmentType { id };
    let mut ws = WriteSet::new();
    ws.env_type(&t);
    s.repo().commit(ws)?;
    Ok(Json(json!(t)))
}

#[utoipa::path(get, path = "/api/v1/env-types/{id}", params(("id" = String, Path)), responses((status = 200, body = Doc), (status = 404, body = Problem)))]
pub async fn get_env_type(State(s): S, Path(id): Path<String>) -> ApiResult<Json<Value>> {
    let t = s
        .repo()
        .env_type(&id)?
        .ok_or_else(|| Problem::not_found("env type", &id))?;
    Ok(Json(json!(t)))
}

#[utoipa::path(delete, path = "/api/v1/env-types/{id}", params(("id" = String, Path)), responses((status = 204), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn delete_env_type(State(s): S, Path(id): Path<String>) -> ApiResult<StatusCode> {
    s.repo()
        .env_type(&id)?
        .ok_or_else(|| Problem::not_found("env type", &id))?;
    if let Some(e) = s
        .repo()
        .all_envs()?
        .into_iter()
        .find(|e| e.env.env_type == id)
    {
        return Err(Problem::conflict(format!(
            "env type {id:?} is used by environment {}/{}",
            e.env.app, e.env.id
        )));
    }
    let mut ws = WriteSet::new();
    ws.delete_env_type(&id);
    s.repo().commit(ws)?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(get, path = "/api/v1/apps", responses((status = 200, body = Doc)))]
pub async fn list_apps(State(s): S, Extension(me): Extension<Principal>) -> ApiResult<Json<Value>> {
    let apps: Vec<_> = s
        .repo()
        .apps()?
        .into_iter()
        .filter(|a| me.sees(&a.id))
        .collect();
    Ok(Json(json!(apps)))
}

#[utoipa::path(put, path = "/api/v1/apps/{app}", params(("app" = String, Path)), responses((status = 200, body = Doc), (status = 422, body = Problem)))]
pub async fn put_app(State(s): S, Path(app): Path<String>) -> ApiResult<Json<Value>> {
    ids::check("app", &app)?;
    let a = Application { id: app };
    let mut ws = WriteSet::new();
    ws.app(&a);
    s.repo().commit(ws)?;
    Ok(Json(json!(a)))
}

#[utoipa::path(get, path = "/api/v1/apps/{app}", params(("app" = String, Path)), responses((status = 200, body = Doc), (status = 404, body = Problem)))]
pub async fn get_app(State(s): S, Path(app): Path<String>) -> ApiResult<Json<Value>> {
    let a = s
        .repo()
        .app(&app)?
        .ok_or_else(|| Problem::not_found("app", &app))?;
    Ok(Json(json!(a)))
}

#[utoipa::path(delete, path = "/api/v1/apps/{app}", params(("app" = String, Path)), responses((status = 204), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn delete_app(State(s): S, Path(app): Path<String>) -> ApiResult<StatusCode> {
    s.repo()
        .app(&app)?
        .ok_or_else(|| Problem::not_found("app", &app))?;
    let envs = s.repo().envs(&app)?;
    if !envs.is_empty() {
        return Err(Problem::conflict(format!(
            "app {app:?} still has environments ({}); delete them first",
            envs.iter()
                .map(|e| e.env.id.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }
    let mut ws = WriteSet::new();
    ws.delete_app(&app);
    s.repo().commit(ws)?;
    Ok(StatusCode::NO_CONTENT)
}

pub fn require_app(s: &Service, app: &str) -> ApiResult<()> {
    s.repo()
        .app(app)?
        .ok_or_else(|| Problem::not_found("app", app))?;
    Ok(())
}

pub fn require_env(s: &Service, app: &str, env: &str) -> ApiResult<EnvRecord> {
    require_app(s, app)?;
    s.repo()
        .env(app, env)?
        .ok_or_else(|| Problem::not_found("environment", &format!("{app}/{env}")))
}

#[utoipa::path(get, path = "/api/v1/apps/{app}/envs", params(("app" = String, Path)), responses((status = 200, body = Doc), (status = 404, body = Problem)))]
pub async fn list_envs(State(s): S, Path(app): Path<String>) -> ApiResult<Json<Value>> {
    require_app(&s, &app)?;
    Ok(Json(json!(s.repo().envs(&app)?)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EnvBody {
    #[serde(rename = "type")]
    env_type: String,
}

#[utoipa::path(put, path = "/api/v1/apps/{app}/envs/{env}", params(("app" = String, Path), ("env" = String, Path)), request_body = Doc, responses((status = 200, body = Doc), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn put_env(
    State(s): S,
    Path((app, env)): Path<(String, String)>,
    bytes: Bytes,
) -> ApiResult<Json<Value>> {
    ids::check("env", &env)?;
    require_app(&s, &app)?;
    let b: EnvBody = body::json(&bytes)?;
    if s.repo().env_type(&b.env_type)?.is_none() {
        let known: Vec<String> = s.repo().env_types()?.into_iter().map(|t| t.id).collect();
        return Err(Problem::invalid(
            "type",
            format!(
                "env type {:?} does not exist (known: {})",
                b.env_type,
                known.join(", ")
            ),
        ));
    }
    let rec = match s.repo().env(&app, &env)? {
        Some(mut rec) => {
            rec.env.env_type = b.env_type;
            rec
        }
        None => EnvRecord {
            env: Environment {
                id: env,
                app,
                env_type: b.env_type,
            },
            created_at: Timestamp::now(),
            current_set: None,
            last_deploy: None,
        },
    };
    let mut ws = WriteSet::new();
    ws.env(&rec);
    s.repo().commit(ws)?;
    Ok(Json(json!(rec)))
}

#[utoipa::path(get, path = "/api/v1/apps/{app}/envs/{env}", params(("app" = String, Path), ("env" = String, Path)), responses((status = 200, body = Doc), (status = 404, body = Problem)))]
pub async fn get_env(
    State(s): S,
    Path((app, env)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    Ok(Json(json!(require_env(&s, &app, &env)?)))
}

#[utoipa::path(delete, path = "/api/v1/apps/{app}/envs/{env}", params(("app" = String, Path), ("env" = String, Path)), responses((status = 204), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn delete_env(
    State(s): S,
    Path((app, env)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    require_env(&s, &app, &env)?;
    let active = s.repo().active(&app, &env)?;
    if !active.is_empty() {
        return Err(Problem::conflict(format!(
            "environment {app}/{env} still has {} active resource(s); deploy an empty set first",
            active.len()
        )));
    }
    let mut ws = WriteSet::new();
    ws.delete_env(&app, &env);
    s.repo().commit(ws)?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(get, path = "/api/v1/resource-definitions", responses((status = 200, body = Doc)))]
pub async fn list_definitions(State(s): S) -> ApiResult<Json<Value>> {
    let list: Vec<Value> = s
        .repo()
        .definitions()?
        .iter()
        .map(shown_definition)
        .collect();
    Ok(Json(json!(list)))
}

/// A definition as the API shows it: every secret input redacted.
fn shown_definition(d: &ResourceDefinition) -> Value {
    let mut v = json!(d);
    if let Some(Value::Object(secrets)) = v.pointer_mut("/driver_inputs/secrets") {
        for value in secrets.values_mut() {
            *value = json!(podium_runtime::REDACTED);
        }
    }
    v
}

#[utoipa::path(get, path = "/api/v1/resource-definitions/{id}", params(("id" = String, Path)), responses((status = 200, body = Doc), (status = 404, body = Problem)))]
pub async fn get_definition(State(s): S, Path(id): Path<String>) -> ApiResult<Json<Value>> {
    let d = s
        .repo()
        .definition(&id)?
        .ok_or_else(|| Problem::not_found("resource definition", &id))?;
    Ok(Json(shown_definition(&d)))
}

#[utoipa::path(get, path = "/api/v1/resource-definitions/{id}/versions", params(("id" = String, Path)), responses((status = 200, body = Doc), (status = 404, body = Problem)))]
pub async fn definition_versions(State(s): S, Path(id): Path<String>) -> ApiResult<Json<Value>> {
    let v = s.repo().definition_versions(&id)?;
    if v.is_empty() {
        return Err(Problem::not_found("resource definition", &id));
    }
    Ok(Json(json!(
        v.iter().map(shown_definition).collect::<Vec<_>>()
    )))
}

/// Stores a definition: a new version when the spec changed, nothing when
/// it did not. Refuses specs whose criteria tie with another definition.
pub fn upsert_definition(
    s: &Service,
    id: &str,
    spec: DefinitionSpec,
) -> ApiResult<(ResourceDefinition, bool)> {
    ids::check("resource definition", id)?;
    if let Some(current) = s.repo().definition(id)?
        && current.spec == spec
    {
        return Ok((current, false));
    }
    let version = s.repo().definition_latest_version(id)? + 1;
    let def = ResourceDefinition::new(id, version, spec);
    // Validate: placeholders parse, grants parse, criteria do not tie.
    podium_core::graph::summarize(&def)
        .map_err(|e| Problem::invalid("driver_inputs", e.to_string()))?;
    let mut registry = Definitions::new();
    for other in s.repo().definitions()? {
        if other.id != id {
            registry
                .add(other)
                .map_err(|e| Problem::invalid("criteria", e.to_string()))?;
        }
    }
    registry
        .add(def.clone())
        .map_err(|e| Problem::invalid("criteria", e.to_string()))?;
    let mut ws = WriteSet::new();
    ws.definition(&def);
    s.repo().commit(ws)?;
    Ok((def, true))
}

#[utoipa::path(put, path = "/api/v1/resource-definitions/{id}", params(("id" = String, Path)), request_body = Doc, responses((status = 200, body = Doc), (status = 201, body = Doc), (status = 422, body = Problem)))]
pub async fn put_definition(
    State(s): S,
    Path(id): Path<String>,
    bytes: Bytes,
) -> ApiResult<Response> {
    let spec: DefinitionSpec = body::json(&bytes)?;
    let (def, changed) = upsert_definition(&s, &id, spec)?;
    let status = if changed {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(shown_definition(&def))).into_response())
}

#[utoipa::path(delete, path = "/api/v1/resource-definitions/{id}", params(("id" = String, Path)), responses((status = 204), (status = 404, body = Problem)))]
pub async fn delete_definition(State(s): S, Path(id): Path<String>) -> ApiResult<StatusCode> {
    s.repo()
        .definition(&id)?
        .ok_or_else(|| Problem::not_found("resource definition", &id))?;
    let mut ws = WriteSet::new();
    ws.delete_definition(&id);
    s.repo().commit(ws)?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ExplainQuery {
    #[serde(rename = "type")]
    res_type: String,
    #[serde(default)]
    class: Option<String>,
    res_id: String,
}

/// Which definition a resource of this env would match, and why.
#[utoipa::path(get, path = "/api/v1/apps/{app}/envs/{env}/explain", params(("app" = String, Path), ("env" = String, Path), ExplainQuery), responses((status = 200, body = Doc), (status = 404, body = Problem)))]
pub async fn explain(
    State(s): S,
    Path((app, env)): Path<(String, String)>,
    Query(q): Query<ExplainQuery>,
) -> ApiResult<Json<Value>> {
    let rec = require_env(&s, &app, &env)?;
    let mut registry = Definitions::new();
    for d in s.repo().definitions()? {
        registry
            .add(d)
            .map_err(|e| Problem::invalid("definitions", e.to_string()))?;
    }
    let key = ResourceKey::new(
        &q.res_type,
        q.class.as_deref().unwrap_or(podium_core::DEFAULT_CLASS),
        &q.res_id,
    );
    let explanation = registry.explain(&rec.env.context(), &key);
    Ok(Json(
        serde_json::to_value(&explanation).unwrap_or(Value::Null),
    ))
}

#[utoipa::path(get, path = "/api/v1/resource-types", responses((status = 200, body = Doc)))]
pub async fn resource_types() -> Json<Value> {
    let types: Vec<Value> = podium_core::model::types::BUILTIN
        .iter()
        .map(|t| {
            json!({
                "name": t.name, "values": t.values, "secrets": t.secrets,
                "open": t.open, "implicit": t.implicit, "provisioned": t.provisioned,
            })
        })
        .collect();
    Json(json!(types))
}

#[utoipa::path(get, path = "/api/v1/workload-profiles", responses((status = 200, body = Doc)))]
pub async fn list_profiles(State(s): S) -> ApiResult<Json<Value>> {
    Ok(Json(json!(s.repo().profiles()?)))
}

#[utoipa::path(put, path = "/api/v1/workload-profiles/{id}", params(("id" = String, Path)), request_body = Doc, responses((status = 200, body = Doc), (status = 422, body = Problem)))]
pub async fn put_profile(
    State(s): S,
    Path(id): Path<String>,
    bytes: Bytes,
) -> ApiResult<Json<Value>> {
    ids::check("workload profile", &id)?;
    let spec: Value = body::json(&bytes)?;
    if !spec.is_object() {
        return Err(Problem::invalid(
            "",
            "a workload profile spec is a JSON object",
        ));
    }
    let p = ProfileRecord { id, spec };
    let mut ws = WriteSet::new();
    ws.profile(&p);
    s.repo().commit(ws)?;
    Ok(Json(json!(p)))
}

/// Shared values as the API shows them: secret ones redacted.
fn show_values(v: &podium_core::ValueMap) -> Value {
    let map: serde_json::Map<String, Value> = v
        .iter()
        .map(|(k, sv)| {
            let shown = if sv.secret {
                json!({"value": podium_runtime::REDACTED, "secret": true})
            } else {
                json!({"value": sv.value, "secret": false})
            };
            (k.clone(), shown)
        })
        .collect();
    Value::Object(map)
}

#[utoipa::path(get, path = "/api/v1/apps/{app}/values", params(("app" = String, Path)), responses((status = 200, body = Doc), (status = 404, body = Problem)))]
pub async fn get_values(State(s): S, Path(app): Path<String>) -> ApiResult<Json<Value>> {
    require_app(&s, &app)?;
    let v = s.repo().values(&app)?.unwrap_or_default();
    let envs: serde_json::Map<String, Value> = v
        .envs
        .iter()
        .map(|(k, m)| (k.clone(), show_values(m)))
        .collect();
    Ok(Json(
        json!({"version": v.version, "app": show_values(&v.app), "envs": envs}),
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ValueBody {
    value: String,
    #[serde(default)]
    secret: bool,
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ValueQuery {
    /// Set the value for this environment only (an override).
    #[serde(default)]
    env: Option<String>,
}

pub fn set_value(
    s: &Service,
    app: &str,
    env: Option<&str>,
    key: &str,
    value: Option<SharedValue>,
) -> ApiResult<u64> {
    ids::check_value_key(key)?;
    require_app(s, app)?;
    let mut v = s.repo().values(app)?.unwrap_or_default();
    let target = match env {
        Some(e) => v.envs.entry(e.to_owned()).or_default(),
        None => &mut v.app,
    };
    let changed = match value {
        Some(sv) => target.insert(key.to_owned(), sv.clone()) != Some(sv),
        None => target.remove(key).is_some(),
    };
    if changed {
        v.version += 1;
        let mut ws = WriteSet::new();
        ws.values(app, &v);
        s.repo().commit(ws)?;
    }
    Ok(v.version)
}

#[utoipa::path(put, path = "/api/v1/apps/{app}/values/{key}", params(("app" = String, Path), ("key" = String, Path), ValueQuery), request_body = Doc, responses((status = 200, body = Doc), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn put_value(
    State(s): S,
    Path((app, key)): Path<(String, String)>,
    Query(q): Query<ValueQuery>,
    bytes: Bytes,
) -> ApiResult<Json<Value>> {
    let b: ValueBody = body::json(&bytes)?;
    if let Some(e) = &q.env {
        require_env(&s, &app, e)?;
    }
    let sv = SharedValue {
        value: b.value,
        secret: b.secret,
    };
    let version = set_value(&s, &app, q.env.as_deref(), &key, Some(sv))?;
    Ok(Json(
        json!({"key": key, "version": version, "secret": b.secret}),
    ))
}

#[utoipa::path(delete, path = "/api/v1/apps/{app}/values/{key}", params(("app" = String, Path), ("key" = String, Path), ValueQuery), responses((status = 200, body = Doc), (status = 404, body = Problem)))]
pub async fn delete_value(
    State(s): S,
    Path((app, key)): Path<(String, String)>,
    Query(q): Query<ValueQuery>,
) -> ApiResult<Json<Value>> {
    let version = set_value(&s, &app, q.env.as_deref(), &key, None)?;
    Ok(Json(json!({"key": key, "version": version})))
}

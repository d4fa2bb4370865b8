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
    ResourceKey, SharedValue, TypeDecl,
};
use podium_store::{EnvRecord, EnvState, ProfileRecord, Timestamp, WriteSet};
use serde::Deserialize;
use serde_json::{Value, json};

use super::Doc;
use super::audit::Audit;
use super::body;
use super::ids;
use super::lifecycle::{expiry, shown_env};
use super::problem::{ApiResult, Problem};
use crate::auth::Principal;
use crate::service::{Section, Service};

type S = State<Arc<Service>>;

#[utoipa::path(get, path = "/api/v1/env-types", responses((status = 200, body = Doc)))]
pub async fn list_env_types(State(s): S) -> ApiResult<Json<Value>> {
    Ok(Json(json!(s.repo().env_types()?)))
}

#[utoipa::path(put, path = "/api/v1/env-types/{id}", params(("id" = String, Path)), responses((status = 200, body = Doc), (status = 422, body = Problem)))]
pub async fn put_env_type(
    State(s): S,
    Extension(audit): Extension<Audit>,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    ids::check("env type", &id)?;
    let t = EnvironmentType { id };
    let _one = s.section(Section::Structure).await;
    if s.repo().env_type(&t.id)?.as_ref() != Some(&t) {
        let mut ws = WriteSet::new();
        ws.env_type(&t);
        audit.commit(&s, ws, StatusCode::OK).await?;
    }
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
pub async fn delete_env_type(
    State(s): S,
    Extension(audit): Extension<Audit>,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let _one = s.section(Section::Structure).await;
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
    audit.commit(&s, ws, StatusCode::NO_CONTENT).await?;
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
pub async fn put_app(
    State(s): S,
    Extension(audit): Extension<Audit>,
    Path(app): Path<String>,
) -> ApiResult<Json<Value>> {
    ids::check("app", &app)?;
    let a = Application { id: app };
    let _one = s.section(Section::Structure).await;
    if s.repo().app(&a.id)?.as_ref() != Some(&a) {
        let mut ws = WriteSet::new();
        ws.app(&a);
        audit.commit(&s, ws, StatusCode::OK).await?;
    }
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
    let mut out = Vec::new();
    for rec in s.repo().envs(&app)? {
        let state = s.repo().env_state(&app, &rec.env.id)?;
        out.push(shown_env(&rec, &state));
    }
    Ok(Json(Value::Array(out)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EnvBody {
    #[serde(rename = "type")]
    env_type: String,
    /// An ephemeral environment: torn down by itself this long from now
    /// (`72h`, `30m`, `1d`).
    #[serde(default)]
    ttl: Option<String>,
    /// Or at this time (RFC 3339).
    #[serde(default)]
    expires_at: Option<String>,
    /// Clone: deploy this environment's current set into the new one.
    #[serde(default)]
    from_env: Option<String>,
    /// With `from_env`: copy the source's value overrides too.
    #[serde(default)]
    with_values: bool,
}

#[utoipa::path(put, path = "/api/v1/apps/{app}/envs/{env}", params(("app" = String, Path), ("env" = String, Path)), request_body = Doc, responses((status = 200, body = Doc), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn put_env(
    State(s): S,
    Extension(me): Extension<Principal>,
    Extension(audit): Extension<Audit>,
    Path((app, env)): Path<(String, String)>,
    bytes: Bytes,
) -> ApiResult<Json<Value>> {
    ids::check("env", &env)?;
    require_app(&s, &app)?;
    let b: EnvBody = body::json(&bytes)?;
    let expires_at = expiry(b.ttl.as_deref(), b.expires_at.as_deref())?;
    if b.with_values && b.from_env.is_none() {
        return Err(Problem::invalid(
            "with_values",
            "only meaningful with `from_env`",
        ));
    }
    if let Some(from) = &b.from_env {
        if *from == env {
            return Err(Problem::invalid(
                "from_env",
                "an environment cannot be cloned from itself",
            ));
        }
        require_env(&s, &app, from).map_err(|_| {
            Problem::invalid(
                "from_env",
                format!("environment {app}/{from} does not exist"),
            )
        })?;
    }
    // The env's record first: waiting for a running deployment must not
    // hold up the other structure writes.
    let _record = env_record_lock(&s, &app, &env).await?;
    let _one = s.section(Section::Structure).await;
    // Again under the lock: the app may have been deleted meanwhile.
    require_app(&s, &app)?;
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
    let state = s.repo().env_state(&app, &env)?;
    let new_state = EnvState {
        expires_at: expires_at.or(state.expires_at),
        ..state.clone()
    };
    let existing = s.repo().env(&app, &env)?;
    if existing.is_some() && b.from_env.is_some() {
        return Err(Problem::conflict(format!(
            "environment {app}/{env} exists; clone into a new environment"
        )));
    }
    let rec = match existing {
        Some(rec) if rec.env.env_type == b.env_type && new_state == state => {
            return Ok(Json(shown_env(&rec, &state)));
        }
        Some(mut rec) => {
            rec.env.env_type = b.env_type;
            rec
        }
        None => EnvRecord {
            env: Environment {
                id: env.clone(),
                app: app.clone(),
                env_type: b.env_type,
            },
            created_at: Timestamp::now(),
            current_set: None,
            last_deploy: None,
        },
    };
    let mut ws = WriteSet::new();
    ws.env(&rec);
    if new_state != state {
        ws.env_state(&rec.env.app, &rec.env.id, &new_state, Some(&state));
    }
    if b.with_values
        && let Some(from) = &b.from_env
    {
        let mut values = s.repo().values(&app)?.unwrap_or_default();
        if let Some(overrides) = values.envs.get(from).cloned() {
            values.envs.insert(env.clone(), overrides);
            values.version += 1;
            ws.values(&app, &values);
        }
    }
    audit.commit(&s, ws, StatusCode::OK).await?;
    let mut shown = shown_env(&rec, &new_state);
    if let Some(from) = b.from_env {
        // The clone's first deployment: the source's current set, matched
        // with the new environment's own definitions.
        drop(_one);
        drop(_record);
        let dep = s
            .pipeline()
            .submit(podium_pipeline::Submit {
                app: app.clone(),
                env: env.clone(),
                request: podium_store::DeployRequest {
                    from_env: Some(from.clone()),
                    ..podium_store::DeployRequest::default()
                },
                trigger: podium_store::Trigger::Promote,
                comment: format!("clone of {app}/{from}"),
                who: me.actor(),
                audit: None,
            })
            .await?;
        shown["deploy"] = json!({
            "id": dep.id,
            "url": format!("/api/v1/apps/{app}/envs/{env}/deploys/{}", dep.id),
        });
    }
    Ok(Json(shown))
}

#[utoipa::path(get, path = "/api/v1/apps/{app}/envs/{env}", params(("app" = String, Path), ("env" = String, Path)), responses((status = 200, body = Doc), (status = 404, body = Problem)))]
pub async fn get_env(
    State(s): S,
    Path((app, env)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    let rec = require_env(&s, &app, &env)?;
    let state = s.repo().env_state(&app, &env)?;
    Ok(Json(shown_env(&rec, &state)))
}

/// How long a write of an env's record waits for a running deployment of
/// that env before answering 409.
const ENV_BUSY_WAIT: std::time::Duration = std::time::Duration::from_secs(10);

/// The env's record lock ([`podium_pipeline::Pipeline::env_lock`]): held
/// by the env's worker while a deployment runs, since Read writes the
/// record back with its new current set.
async fn env_record_lock(
    s: &Service,
    app: &str,
    env: &str,
) -> ApiResult<tokio::sync::OwnedMutexGuard<()>> {
    let lock = s.pipeline().env_lock(app, env);
    tokio::time::timeout(ENV_BUSY_WAIT, lock.lock_owned())
        .await
        .map_err(|_| {
            Problem::conflict(format!(
                "a deployment of {app}/{env} is running; change the environment when it is finished"
            ))
        })
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
/// Holds [`Section::Definitions`] from reading the latest version to
/// committing the next, so concurrent PUTs get distinct versions and no
/// two definitions that tie are both stored.
async fn upsert_definition(
    s: &Service,
    audit: &Audit,
    id: &str,
    spec: DefinitionSpec,
) -> ApiResult<(ResourceDefinition, bool)> {
    ids::check("resource definition", id)?;
    let _one = s.section(Section::Definitions).await;
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
    audit.commit(s, ws, StatusCode::CREATED).await?;
    Ok((def, true))
}

#[utoipa::path(put, path = "/api/v1/resource-definitions/{id}", params(("id" = String, Path)), request_body = Doc, responses((status = 200, body = Doc), (status = 201, body = Doc), (status = 422, body = Problem)))]
pub async fn put_definition(
    State(s): S,
    Extension(audit): Extension<Audit>,
    Path(id): Path<String>,
    bytes: Bytes,
) -> ApiResult<Response> {
    let spec: DefinitionSpec = body::json(&bytes)?;
    let (def, changed) = upsert_definition(&s, &audit, &id, spec).await?;
    let status = if changed {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(shown_definition(&def))).into_response())
}

#[utoipa::path(delete, path = "/api/v1/resource-definitions/{id}", params(("id" = String, Path)), responses((status = 204), (status = 404, body = Problem)))]
pub async fn delete_definition(
    State(s): S,
    Extension(audit): Extension<Audit>,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let _one = s.section(Section::Definitions).await;
    s.repo()
        .definition(&id)?
        .ok_or_else(|| Problem::not_found("resource definition", &id))?;
    let mut ws = WriteSet::new();
    ws.delete_definition(&id);
    audit.commit(&s, ws, StatusCode::NO_CONTENT).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ExplainQuery {
    #[serde(rename = "type")]
    res_type: String,
    #[serde(default)]
    class: Option<String>,
    /// The resource's id (`shared.db`, `modules.web.externals.db`); when
    /// omitted, criteria that name a `res_id` do not match.
    #[serde(default)]
    res_id: Option<String>,
}

/// Which definition a resource of this env would match, and why: the
/// winner, and for every other definition of the type its `reason` (the
/// first field of each criterion that does not match, or "less specific
/// than the winner").
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
        q.res_id.unwrap_or_default(),
    );
    let explanation = registry.explain(&rec.env.context(), &key);
    Ok(Json(
        serde_json::to_value(&explanation).unwrap_or(Value::Null),
    ))
}

/// A resource type as the API shows it: its outputs split into values and
/// secrets, whether it is built in.
fn shown_type(t: &TypeDecl) -> Value {
    let builtin = podium_core::model::types::builtin(&t.name);
    json!({
        "name": t.name,
        "builtin": builtin.is_some(),
        "description": t.description,
        "outputs": {"values": t.values, "secrets": t.secrets},
        "values": t.values,
        "secrets": t.secrets,
        "open": t.open,
        "implicit": builtin.is_some_and(|b| b.implicit),
        "provisioned": builtin.is_none_or(|b| b.provisioned),
    })
}

/// The built-in resource types, then the declared ones, by name.
#[utoipa::path(get, path = "/api/v1/resource-types", responses((status = 200, body = Doc)))]
pub async fn resource_types(State(s): S) -> ApiResult<Json<Value>> {
    let mut types: Vec<Value> = podium_core::model::types::BUILTIN
        .iter()
        .map(|t| shown_type(&TypeDecl::from(t)))
        .collect();
    types.extend(s.repo().resource_types()?.iter().map(shown_type));
    Ok(Json(json!(types)))
}

#[utoipa::path(get, path = "/api/v1/resource-types/{name}", params(("name" = String, Path)), responses((status = 200, body = Doc), (status = 404, body = Problem)))]
pub async fn get_resource_type(State(s): S, Path(name): Path<String>) -> ApiResult<Json<Value>> {
    let t = match TypeDecl::builtin(&name) {
        Some(t) => t,
        None => s
            .repo()
            .resource_type(&name)?
            .ok_or_else(|| Problem::not_found("resource type", &name))?,
    };
    Ok(Json(shown_type(&t)))
}

/// The body of `PUT /resource-types/{name}` (the `spec` of a
/// `ResourceType` document).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TypeBody {
    #[serde(default)]
    outputs: TypeOutputs,
    #[serde(default)]
    description: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct TypeOutputs {
    #[serde(default)]
    values: Vec<String>,
    #[serde(default)]
    secrets: Vec<String>,
}

/// Declares a resource type: its outputs, split into values and secrets.
/// `201` when stored (new or grown), `200` when unchanged. Built-in types
/// are fixed: re-declaring one identically is accepted (`200`, nothing
/// stored), anything else is `409`. A declared type may gain outputs but
/// never lose one nor move one between values and secrets (`409`).
#[utoipa::path(put, path = "/api/v1/resource-types/{name}", params(("name" = String, Path)), request_body = Doc, responses((status = 200, body = Doc), (status = 201, body = Doc), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn put_resource_type(
    State(s): S,
    Extension(audit): Extension<Audit>,
    Path(name): Path<String>,
    bytes: Bytes,
) -> ApiResult<Response> {
    ids::check("resource type", &name)?;
    let b: TypeBody = body::json(&bytes)?;
    let decl = TypeDecl {
        name,
        values: b.outputs.values,
        secrets: b.outputs.secrets,
        open: false,
        description: b.description,
    };
    decl.validate()
        .map_err(|e| Problem::invalid("outputs", e.to_string()))?;
    let _one = s.section(Section::ResourceTypes).await;
    let current = match TypeDecl::builtin(&decl.name) {
        Some(t) => Some(t),
        None => s.repo().resource_type(&decl.name)?,
    };
    if let Some(current) = &current {
        current
            .check_successor(&decl)
            .map_err(|e| Problem::conflict(e.to_string()))?;
        let builtin = TypeDecl::builtin(&decl.name).is_some();
        if builtin || (current.same_outputs(&decl) && current.description == decl.description) {
            return Ok((StatusCode::OK, Json(shown_type(current))).into_response());
        }
    }
    let mut ws = WriteSet::new();
    ws.resource_type(&decl);
    audit.commit(&s, ws, StatusCode::CREATED).await?;
    Ok((StatusCode::CREATED, Json(shown_type(&decl))).into_response())
}

#[utoipa::path(get, path = "/api/v1/workload-profiles", responses((status = 200, body = Doc)))]
pub async fn list_profiles(State(s): S) -> ApiResult<Json<Value>> {
    Ok(Json(json!(s.repo().profiles()?)))
}

#[utoipa::path(put, path = "/api/v1/workload-profiles/{id}", params(("id" = String, Path)), request_body = Doc, responses((status = 200, body = Doc), (status = 422, body = Problem)))]
pub async fn put_profile(
    State(s): S,
    Extension(audit): Extension<Audit>,
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
    // A blind overwrite (profiles are not versioned): nothing to serialize.
    let mut ws = WriteSet::new();
    ws.profile(&p);
    audit.commit(&s, ws, StatusCode::OK).await?;
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

/// Sets (or, with `None`, removes) one shared value: a new version of the
/// app's values when it changed. Holds the app's [`Section::Values`] from
/// reading the values to committing them, so concurrent changes neither
/// drop one another's keys nor share a version.
async fn set_value(
    s: &Service,
    audit: &Audit,
    app: &str,
    env: Option<&str>,
    key: &str,
    value: Option<SharedValue>,
) -> ApiResult<u64> {
    ids::check_value_key(key)?;
    require_app(s, app)?;
    let _one = s.section(Section::Values(app)).await;
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
        audit.commit(s, ws, StatusCode::OK).await?;
    }
    Ok(v.version)
}

#[utoipa::path(put, path = "/api/v1/apps/{app}/values/{key}", params(("app" = String, Path), ("key" = String, Path), ValueQuery), request_body = Doc, responses((status = 200, body = Doc), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn put_value(
    State(s): S,
    Extension(audit): Extension<Audit>,
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
    let version = set_value(&s, &audit, &app, q.env.as_deref(), &key, Some(sv)).await?;
    Ok(Json(
        json!({"key": key, "version": version, "secret": b.secret}),
    ))
}

#[utoipa::path(delete, path = "/api/v1/apps/{app}/values/{key}", params(("app" = String, Path), ("key" = String, Path), ValueQuery), responses((status = 200, body = Doc), (status = 404, body = Problem)))]
pub async fn delete_value(
    State(s): S,
    Extension(audit): Extension<Audit>,
    Path((app, key)): Path<(String, String)>,
    Query(q): Query<ValueQuery>,
) -> ApiResult<Json<Value>> {
    let version = set_value(&s, &audit, &app, q.env.as_deref(), &key, None).await?;
    Ok(Json(json!({"key": key, "version": version})))
}

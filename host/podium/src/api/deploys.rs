//! Deployments: the CI endpoint, history, events (server-sent events),
//! plan, diff, rollback, active resources and the resource graph.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use podium_core::mask::SecretMask;
use podium_core::{Definitions, Delta, Graph, Images, diff};
use podium_pipeline::Submit;
use podium_store::{DeployRequest, Deployment, Trigger};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::Doc;
use super::audit::Audit;
use super::body;
use super::config::require_env;
use super::problem::{ApiResult, Problem};
use crate::auth::Principal;
use crate::service::Service;

type S = State<Arc<Service>>;

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DeployQuery {
    /// Image for every container whose image is `.` (raw Score bodies).
    #[serde(default)]
    image: Option<String>,
    /// Answer when the deployment is finished instead of when it is queued.
    #[serde(default)]
    wait: bool,
    #[serde(default)]
    comment: Option<String>,
    /// Extend an ephemeral environment's life: it expires no sooner than
    /// this long from now (`24h`).
    #[serde(default)]
    extend_ttl: Option<String>,
}

/// The JSON body of a deploy or plan request.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct DeployBody {
    #[serde(default)]
    workloads: Vec<Value>,
    /// One image for all `.` containers.
    #[serde(default)]
    image: Option<String>,
    /// Per container: `{"container": img}` or `{"workload.container": img}`.
    #[serde(default)]
    images: Map<String, Value>,
    #[serde(default)]
    comment: Option<String>,
    #[serde(default)]
    delta: Option<Delta>,
    #[serde(default)]
    from_deploy: Option<String>,
    /// Promote: the set of this environment's last successful deployment
    /// (same set id, same images), matched with this env's definitions.
    #[serde(default)]
    from_env: Option<String>,
    /// With `from_deploy`: today's definitions instead of the recorded ones.
    #[serde(default)]
    latest_definitions: bool,
}

/// Validates a Score document (YAML or JSON text) as `file` and returns it as JSON.
fn score(file: &str, text: &str) -> ApiResult<Value> {
    match podium_score::load_str(file, text, None) {
        Ok(w) => serde_json::to_value(&w).map_err(|e| Problem::internal(e.to_string())),
        Err(report) => {
            let mut p = Problem::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid Score file",
                format!(
                    "{file}: the Score file is not valid ({:?} stage)",
                    report.stage
                )
                .to_lowercase(),
            );
            for d in &report.diagnostics {
                p = p.with(d.pointer.clone(), d.message.clone());
            }
            Err(p)
        }
    }
}

/// Builds the request from a raw Score body or a JSON body.
fn request(
    headers: &HeaderMap,
    q: &DeployQuery,
    bytes: &Bytes,
) -> ApiResult<(DeployRequest, Trigger, String)> {
    if body::is_yaml(headers) {
        let text = std::str::from_utf8(bytes)
            .map_err(|_| Problem::bad_request("the Score file is not UTF-8 text"))?;
        let workload = score("score.yaml", text)?;
        let images = Images {
            all: q.image.clone(),
            ..Images::default()
        };
        let delta = Delta::deploy([workload], &images)
            .map_err(|e| Problem::invalid("image", e.to_string()))?;
        return Ok((
            DeployRequest {
                delta: Some(delta),
                ..DeployRequest::default()
            },
            Trigger::Deploy,
            q.comment.clone().unwrap_or_default(),
        ));
    }
    let ct = body::content_type(headers);
    if !bytes.is_empty() && !ct.is_empty() && ct != "application/json" {
        return Err(Problem::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported media type",
            format!(
                "content-type {ct:?}: send application/json, or application/yaml with a Score file"
            ),
        ));
    }
    let b: DeployBody = if bytes.is_empty() {
        DeployBody::default()
    } else {
        body::json(bytes)?
    };
    let comment = b.comment.or_else(|| q.comment.clone()).unwrap_or_default();
    let given = usize::from(!b.workloads.is_empty())
        + usize::from(b.delta.is_some())
        + usize::from(b.from_deploy.is_some())
        + usize::from(b.from_env.is_some());
    if given > 1 {
        return Err(Problem::invalid(
            "",
            "give one of `workloads`, `delta`, `from_deploy` or `from_env`",
        ));
    }
    if let Some(from) = b.from_env {
        return Ok((
            DeployRequest {
                from_env: Some(from),
                ..DeployRequest::default()
            },
            Trigger::Promote,
            comment,
        ));
    }
    if b.latest_definitions && b.from_deploy.is_none() {
        return Err(Problem::invalid(
            "latest_definitions",
            "only meaningful with `from_deploy` (a deployment always uses today's definitions)",
        ));
    }
    if let Some(from) = b.from_deploy {
        return Ok((
            DeployRequest {
                delta: None,
                from_deploy: Some(from),
                latest_definitions: b.latest_definitions,
                ..DeployRequest::default()
            },
            Trigger::Rollback,
            comment,
        ));
    }
    if let Some(delta) = b.delta {
        return Ok((
            DeployRequest {
                delta: Some(delta),
                ..DeployRequest::default()
            },
            Trigger::Deploy,
            comment,
        ));
    }
    if b.workloads.is_empty() {
        return Ok((DeployRequest::default(), Trigger::Redeploy, comment));
    }
    let mut workloads = Vec::new();
    for (i, w) in b.workloads.iter().enumerate() {
        let text = w.to_string();
        let file = format!("workloads[{i}]");
        workloads.push(score(&file, &text).map_err(|mut p| {
            for e in &mut p.errors {
                e.path = format!("/workloads/{i}{}", e.path);
            }
            p
        })?);
    }
    let mut images = Images {
        all: b.image.or_else(|| q.image.clone()),
        ..Images::default()
    };
    for (k, v) in b.images {
        let Value::String(v) = v else {
            return Err(Problem::invalid(
                format!("/images/{k}"),
                "an image is a string",
            ));
        };
        images.containers.insert(k, v);
    }
    let delta = Delta::deploy(workloads, &images)
        .map_err(|e| Problem::invalid("workloads", e.to_string()))?;
    Ok((
        DeployRequest {
            delta: Some(delta),
            ..DeployRequest::default()
        },
        Trigger::Deploy,
        comment,
    ))
}

fn deploy_url(d: &Deployment) -> String {
    format!("/api/v1/apps/{}/envs/{}/deploys/{}", d.app, d.env, d.id)
}

fn shown(d: &Deployment) -> Value {
    let mut v = json!(d);
    v["url"] = json!(deploy_url(d));
    v
}

/// The CI endpoint: deploys a Score file (`application/yaml`, `?image=`)
/// or a JSON request (workloads, images, comment, delta or from_deploy).
#[utoipa::path(post, path = "/api/v1/apps/{app}/envs/{env}/deploys", params(("app" = String, Path), ("env" = String, Path), DeployQuery), request_body(content = Doc, content_type = "application/json"), responses((status = 202, body = Doc), (status = 200, body = Doc), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn create_deploy(
    State(s): S,
    Path((app, env)): Path<(String, String)>,
    Query(q): Query<DeployQuery>,
    Extension(me): Extension<Principal>,
    Extension(audit): Extension<Audit>,
    headers: HeaderMap,
    bytes: Bytes,
) -> ApiResult<Response> {
    require_env(&s, &app, &env)?;
    let (request, trigger, comment) = request(&headers, &q, &bytes)?;
    let extend = match &q.extend_ttl {
        Some(t) => Some(super::lifecycle::parse_ttl("extend_ttl", t)?),
        None => None,
    };
    let submit = Submit {
        app: app.clone(),
        env: env.clone(),
        request,
        trigger,
        comment,
        who: me.actor(),
        audit: None,
    };
    let dep = submit_audited(&s, &audit, submit, q.wait).await?;
    if let Some(d) = extend {
        extend_expiry(&s, &app, &env, d).await?;
    }
    accepted(&s, dep, q.wait).await
}

/// An ephemeral environment expires no sooner than `d` from now.
async fn extend_expiry(
    s: &Service,
    app: &str,
    env: &str,
    d: jiff::SignedDuration,
) -> ApiResult<()> {
    let state = s.repo().env_state(app, env)?;
    let Some(current) = state.expires_at else {
        return Ok(());
    };
    let wanted = podium_store::Timestamp::now()
        .checked_add(d)
        .map_err(|e| Problem::invalid("extend_ttl", e.to_string()))?;
    if wanted > current {
        let next = podium_store::EnvState {
            expires_at: Some(wanted),
            ..state.clone()
        };
        let mut ws = podium_store::WriteSet::new();
        ws.env_state(app, env, &next, Some(&state));
        s.commit(ws).await?;
    }
    Ok(())
}

/// Queues a deployment with the request's audit entry in the same batch as
/// its `DeploymentQueued` record.
pub(super) async fn submit_audited(
    s: &Service,
    audit: &Audit,
    mut submit: Submit,
    wait: bool,
) -> ApiResult<Deployment> {
    let status = if wait {
        StatusCode::OK
    } else {
        StatusCode::ACCEPTED
    };
    let entry = audit.entry(s, status)?;
    submit.audit = Some(entry.clone());
    let dep = s.pipeline().submit(submit).await?;
    audit.committed(entry);
    Ok(dep)
}

/// `202` with the deployment's id and URL, or with `wait`, `200` with the
/// finished deployment.
pub(super) async fn accepted(s: &Service, dep: Deployment, wait: bool) -> ApiResult<Response> {
    if wait {
        let done = s.pipeline().wait(&dep.id).await?;
        return Ok((StatusCode::OK, Json(shown(&done))).into_response());
    }
    let url = deploy_url(&dep);
    Ok((
        StatusCode::ACCEPTED,
        [(header::LOCATION, url.clone())],
        Json(json!({"id": dep.id, "url": url, "status": dep.status})),
    )
        .into_response())
}

#[utoipa::path(get, path = "/api/v1/apps/{app}/envs/{env}/deploys", params(("app" = String, Path), ("env" = String, Path)), responses((status = 200, body = Doc), (status = 404, body = Problem)))]
pub async fn list_deploys(
    State(s): S,
    Path((app, env)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    require_env(&s, &app, &env)?;
    let list: Vec<Value> = s
        .repo()
        .deployments(&app, &env)?
        .iter()
        .rev()
        .map(shown)
        .collect();
    Ok(Json(json!(list)))
}

fn find_deploy(s: &Service, app: &str, env: &str, id: &str) -> ApiResult<Deployment> {
    require_env(s, app, env)?;
    match s.repo().deployment(id)? {
        Some(d) if d.app == app && d.env == env => Ok(d),
        _ => Err(Problem::not_found(
            "deployment",
            &format!("{app}/{env}/{id}"),
        )),
    }
}

#[utoipa::path(get, path = "/api/v1/apps/{app}/envs/{env}/deploys/{id}", params(("app" = String, Path), ("env" = String, Path), ("id" = String, Path)), responses((status = 200, body = Doc), (status = 404, body = Problem)))]
pub async fn get_deploy(
    State(s): S,
    Path((app, env, id)): Path<(String, String, String)>,
) -> ApiResult<Json<Value>> {
    Ok(Json(shown(&find_deploy(&s, &app, &env, &id)?)))
}

/// A deployment by id alone (for `podium logs`).
#[utoipa::path(get, path = "/api/v1/deploys/{id}", params(("id" = String, Path)), responses((status = 200, body = Doc), (status = 404, body = Problem)))]
pub async fn get_deploy_by_id(State(s): S, Path(id): Path<String>) -> ApiResult<Json<Value>> {
    let d = s
        .repo()
        .deployment(&id)?
        .ok_or_else(|| Problem::not_found("deployment", &id))?;
    Ok(Json(shown(&d)))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct EventsQuery {
    /// Keep the stream open until the deployment is final (server-sent events).
    #[serde(default)]
    follow: bool,
}

/// Events of a deployment: JSON, or server-sent events with
/// `Accept: text/event-stream` (live until the deployment is final).
#[utoipa::path(get, path = "/api/v1/apps/{app}/envs/{env}/deploys/{id}/events", params(("app" = String, Path), ("env" = String, Path), ("id" = String, Path), EventsQuery), responses((status = 200, body = Doc), (status = 404, body = Problem)))]
pub async fn events(
    State(s): S,
    Path((app, env, id)): Path<(String, String, String)>,
    Query(q): Query<EventsQuery>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    find_deploy(&s, &app, &env, &id)?;
    let sse = q.follow
        || headers
            .get(header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.contains("text/event-stream"));
    if !sse {
        return Ok(Json(json!(s.repo().events(&id, 0)?)).into_response());
    }
    // Subscribe first, then read the status, then the stored events: an
    // event committed after the subscription arrives on the bus; one
    // committed before is in the stored read, which comes after the status
    // read, so a deployment seen final has every event, the final one
    // included, in that read. (Reading events before the status lost the
    // final events when the last commit landed in between.)
    let mut rx = s.pipeline().subscribe();
    let final_already = s
        .repo()
        .deployment(&id)?
        .is_some_and(|d| d.status.is_final());
    let stored = s.repo().events(&id, 0)?;
    let service = s.clone();
    let stream = async_stream::stream! {
        let mut next = 0u64;
        for e in stored {
            next = e.seq + 1;
            let done = e.kind.is_final();
            yield Ok::<_, Infallible>(sse_event(&e));
            if done {
                return;
            }
        }
        if final_already {
            return;
        }
        loop {
            match rx.recv().await {
                Ok(e) if e.deploy_id == id => {
                    if e.seq < next { continue; }
                    next = e.seq + 1;
                    yield Ok(sse_event(&e));
                    if e.kind.is_final() {
                        return;
                    }
                }
                Ok(_) => {}
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {
                    // Catch up from the store.
                    let Ok(missed) = service.repo().events(&id, next) else { return };
                    for e in missed {
                        next = e.seq + 1;
                        let done = e.kind.is_final();
                        yield Ok(sse_event(&e));
                        if done { return; }
                    }
                }
                Err(_) => return,
            }
        }
    };
    Ok(Sse::new(stream)
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(10)))
        .into_response())
}

fn sse_event(e: &podium_store::Event) -> SseEvent {
    SseEvent::default()
        .event(e.kind.as_str())
        .id(e.seq.to_string())
        .data(serde_json::to_string(e).unwrap_or_default())
}

#[utoipa::path(post, path = "/api/v1/apps/{app}/envs/{env}/plan", params(("app" = String, Path), ("env" = String, Path), DeployQuery), request_body(content = Doc, content_type = "application/json"), responses((status = 200, body = Doc), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn plan(
    State(s): S,
    Path((app, env)): Path<(String, String)>,
    Query(q): Query<DeployQuery>,
    headers: HeaderMap,
    bytes: Bytes,
) -> ApiResult<Json<Value>> {
    require_env(&s, &app, &env)?;
    let (request, _, _) = request(&headers, &q, &bytes)?;
    let report = s.pipeline().plan(&app, &env, &request).await?;
    Ok(Json(json!(report)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RollbackBody {
    deploy_id: String,
    #[serde(default)]
    comment: Option<String>,
    /// Match with today's definitions (and drivers) instead of the
    /// versions the deployment recorded.
    #[serde(default)]
    latest_definitions: bool,
}

/// Deploys the set of an earlier deployment again.
#[utoipa::path(post, path = "/api/v1/apps/{app}/envs/{env}/rollback", params(("app" = String, Path), ("env" = String, Path), DeployQuery), request_body = Doc, responses((status = 202, body = Doc), (status = 200, body = Doc), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn rollback(
    State(s): S,
    Path((app, env)): Path<(String, String)>,
    Query(q): Query<DeployQuery>,
    Extension(me): Extension<Principal>,
    Extension(audit): Extension<Audit>,
    bytes: Bytes,
) -> ApiResult<Response> {
    require_env(&s, &app, &env)?;
    let b: RollbackBody = body::json(&bytes)?;
    let submit = Submit {
        app,
        env,
        request: DeployRequest {
            delta: None,
            from_deploy: Some(b.deploy_id.clone()),
            latest_definitions: b.latest_definitions,
            ..DeployRequest::default()
        },
        trigger: Trigger::Rollback,
        comment: b
            .comment
            .unwrap_or_else(|| format!("rollback to {}", b.deploy_id)),
        who: me.actor(),
        audit: None,
    };
    let dep = submit_audited(&s, &audit, submit, q.wait).await?;
    accepted(&s, dep, q.wait).await
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DiffQuery {
    /// The deployment to diff from.
    from: String,
    /// The deployment to diff to (default: the env's latest).
    #[serde(default)]
    to: Option<String>,
}

/// The delta that turns one deployment's set into another's.
#[utoipa::path(get, path = "/api/v1/apps/{app}/envs/{env}/diff", params(("app" = String, Path), ("env" = String, Path), DiffQuery), responses((status = 200, body = Doc), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn diff_deploys(
    State(s): S,
    Path((app, env)): Path<(String, String)>,
    Query(q): Query<DiffQuery>,
) -> ApiResult<Json<Value>> {
    let rec = require_env(&s, &app, &env)?;
    let set_of = |id: &str| -> ApiResult<podium_core::DeploymentSet> {
        let d = s
            .repo()
            .deployment(id)?
            .filter(|d| d.app == app)
            .ok_or_else(|| Problem::not_found("deployment", id))?;
        let set_id = d.set_id.ok_or_else(|| {
            Problem::invalid(
                "from",
                format!("deployment {id} has no deployment set (it failed in Read)"),
            )
        })?;
        s.repo()
            .set(&set_id)?
            .ok_or_else(|| Problem::not_found("deployment set", &set_id))
    };
    let to = match &q.to {
        Some(t) => t.clone(),
        None => rec
            .last_deploy
            .clone()
            .ok_or_else(|| Problem::invalid("to", "the environment has no deployment yet"))?,
    };
    let a = set_of(&q.from)?;
    let b = set_of(&to)?;
    let delta = diff(&a, &b);
    let mut shown = json!(delta);
    secrets_of(&s, &app, &env)?.apply_json(&mut shown);
    Ok(Json(
        json!({"from": q.from, "to": to, "from_set": a.id(), "to_set": b.id(), "delta": shown}),
    ))
}

/// Secrets known for an env: secret outputs and secret shared values.
fn secrets_of(s: &Service, app: &str, env: &str) -> ApiResult<SecretMask> {
    let mut mask = SecretMask::default();
    for a in s.repo().active(app, env)? {
        mask.add(&Value::Object(a.secrets));
    }
    if let Some(values) = s.repo().values(app)? {
        for (_, sv) in values.for_env(env) {
            if sv.secret {
                mask.add_str(&sv.value);
            }
        }
    }
    Ok(mask)
}

/// The env's active resources: outputs, never secrets or driver state.
#[utoipa::path(get, path = "/api/v1/apps/{app}/envs/{env}/resources", params(("app" = String, Path), ("env" = String, Path)), responses((status = 200, body = Doc), (status = 404, body = Problem)))]
pub async fn resources(
    State(s): S,
    Path((app, env)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    require_env(&s, &app, &env)?;
    let list: Vec<Value> = s
        .repo()
        .active(&app, &env)?
        .into_iter()
        .map(|a| {
            let secrets: Map<String, Value> = a
                .secrets
                .keys()
                .map(|k| (k.clone(), json!(podium_runtime::REDACTED)))
                .collect();
            json!({
                "guresid": a.resource.guresid,
                "type": a.resource.key.res_type,
                "class": a.resource.key.class,
                "res_id": a.resource.key.res_id,
                "definition_id": a.resource.definition_id,
                "definition_version": a.resource.definition_version,
                "driver_type": a.resource.driver_type,
                "driver_digest": a.driver_digest,
                "depends_on": a.resource.depends_on,
                "values": a.values,
                "secrets": secrets,
                "deploy_id": a.deploy_id,
                "updated_at": a.updated_at,
            })
        })
        .collect();
    Ok(Json(json!(list)))
}

/// The env's resource graph for its current set: nodes, matched
/// definitions, dependencies and levels.
#[utoipa::path(get, path = "/api/v1/apps/{app}/envs/{env}/graph", params(("app" = String, Path), ("env" = String, Path)), responses((status = 200, body = Doc), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn graph(
    State(s): S,
    Path((app, env)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    let rec = require_env(&s, &app, &env)?;
    let set = podium_pipeline::current_set(s.repo(), &rec)?;
    let mut defs = Definitions::new();
    for d in s.repo().definitions()? {
        defs.add(d)
            .map_err(|e| Problem::invalid("definitions", e.to_string()))?;
    }
    let g = Graph::build(&set, &rec.env.context(), &defs)
        .map_err(|e| Problem::invalid("set", e.to_string()))?;
    let nodes: Vec<Value> = g
        .nodes()
        .iter()
        .map(|n| {
            json!({
                "guresid": n.guresid,
                "type": n.key.res_type, "class": n.key.class, "res_id": n.key.res_id,
                "definition_id": n.definition.id, "definition_version": n.definition.version,
                "driver_type": n.definition.spec.driver_type,
                "level": n.level,
                "depends_on": n.deps.iter().filter_map(|&d| g.node(d).map(|x| x.guresid.clone())).collect::<Vec<_>>(),
            })
        })
        .collect();
    Ok(Json(json!({"set_id": set.id(), "nodes": nodes})))
}

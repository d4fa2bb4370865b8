//! Every API route's permission, checked before its handler runs, and the
//! audit entry of every write.
//!
//! One table ([`rule`]) maps a route (method and path template) to the
//! operation's name and what it needs; the role × endpoint matrix test
//! walks the same routes. Missing or invalid token: 401. Valid token
//! without the permission: 403 naming it.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{MatchedPath, Path, Request, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use jiff::Timestamp;
use podium_store::{AuditRecord, WriteSet};

use crate::auth::{self, AuthError, Permission, Principal};
use crate::service::Service;

use super::Problem;

/// What a route needs, before the path parameters are filled in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    /// Any valid token; the handler narrows further (lists, tokens).
    Authenticated,
    Admin,
    /// Role `viewer` on the `{app}` of the path.
    View,
    /// Role `owner` on `{app}`.
    Manage,
    /// Role `deployer` on `{app}`.
    Plan,
    /// Role `deployer` on `{app}` and the env type of `{env}`.
    Deploy,
    /// Role `viewer` on the app of deployment `{id}`.
    ViewDeployment,
}

/// The operation at `method template` and what it needs; `None` for routes
/// outside the table (which then need admin: a new route is closed until
/// it is given a rule).
pub fn rule(method: &Method, template: &str) -> Option<(&'static str, Need)> {
    use Need::*;
    let m = method.as_str();
    let r = match (m, template.strip_prefix("/api/v1")?) {
        ("GET", "/env-types" | "/env-types/{id}") => ("read env types", Authenticated),
        ("PUT", "/env-types/{id}") => ("put env type", Admin),
        ("DELETE", "/env-types/{id}") => ("delete env type", Admin),
        ("GET", "/apps") => ("list apps", Authenticated),
        ("PUT", "/apps/{app}") => ("put app", Admin),
        ("DELETE", "/apps/{app}") => ("delete app", Admin),
        ("GET", "/apps/{app}" | "/apps/{app}/envs" | "/apps/{app}/envs/{env}") => {
            ("read app", View)
        }
        ("PUT", "/apps/{app}/envs/{env}") => ("put env", Manage),
        ("DELETE", "/apps/{app}/envs/{env}") => ("delete env", Manage),
        (
            "GET",
            "/resource-definitions"
            | "/resource-definitions/{id}"
            | "/resource-definitions/{id}/versions"
            | "/resource-types"
            | "/workload-profiles"
            | "/drivers",
        ) => ("read platform configuration", Authenticated),
        ("PUT", "/resource-definitions/{id}") => ("put resource definition", Admin),
        ("DELETE", "/resource-definitions/{id}") => ("delete resource definition", Admin),
        ("PUT", "/workload-profiles/{id}") => ("put workload profile", Admin),
        ("POST", "/drivers") => ("push driver", Admin),
        ("GET", "/apps/{app}/envs/{env}/explain") => ("explain matching", View),
        ("GET", "/apps/{app}/values") => ("read values", View),
        ("PUT", "/apps/{app}/values/{key}") => ("set value", Manage),
        ("DELETE", "/apps/{app}/values/{key}") => ("delete value", Manage),
        ("POST", "/apps/{app}/envs/{env}/deploys") => ("deploy", Deploy),
        ("POST", "/apps/{app}/envs/{env}/rollback") => ("rollback", Deploy),
        ("POST", "/apps/{app}/envs/{env}/plan") => ("plan", Plan),
        (
            "GET",
            "/apps/{app}/envs/{env}/deploys"
            | "/apps/{app}/envs/{env}/deploys/{id}"
            | "/apps/{app}/envs/{env}/deploys/{id}/events"
            | "/apps/{app}/envs/{env}/diff"
            | "/apps/{app}/envs/{env}/resources"
            | "/apps/{app}/envs/{env}/graph",
        ) => ("read deployments", View),
        ("GET", "/deploys/{id}") => ("read deployment", ViewDeployment),
        ("GET", "/whoami") => ("whoami", Authenticated),
        ("POST", "/tokens") => ("create token", Authenticated),
        ("GET", "/tokens") => ("list tokens", Authenticated),
        ("DELETE", "/tokens/{id}") => ("revoke token", Authenticated),
        ("GET", "/audit") => ("read audit log", Admin),
        ("POST", "/admin/rotate-key") => ("rotate secret key", Admin),
        _ => return None,
    };
    Some(r)
}

/// The principal of a request's bearer token.
pub fn authenticate(s: &Service, headers: &HeaderMap) -> Result<Principal, AuthError> {
    let value = headers
        .get(header::AUTHORIZATION)
        .ok_or(AuthError::Missing)?
        .to_str()
        .map_err(|_| AuthError::NotBearer)?;
    let (scheme, token) = value.trim().split_once(' ').ok_or(AuthError::NotBearer)?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(AuthError::NotBearer);
    }
    auth::verify(s.repo(), token.trim())
}

/// The permission of `need` for this request's path parameters. `Ok(None)`:
/// the object the check depends on does not exist and the caller may see
/// that (the handler answers 404).
fn permission(
    s: &Service,
    p: &Principal,
    need: Need,
    op: &'static str,
    params: &HashMap<String, String>,
) -> Result<Option<Permission>, Problem> {
    let param = |name: &str| params.get(name).cloned().unwrap_or_default();
    let perm = match need {
        Need::Authenticated => Permission::Authenticated,
        Need::Admin => Permission::Admin(op),
        Need::View => Permission::View(param("app")),
        Need::Manage => Permission::Manage(param("app")),
        Need::Plan => Permission::Plan(param("app")),
        Need::Deploy => {
            let app = param("app");
            // Without access to the app, the env's existence is not told.
            if let Err(m) = p.check(&Permission::View(app.clone())) {
                return Err(forbidden(m));
            }
            match s.repo().env(&app, &param("env")) {
                Ok(Some(e)) => Permission::Deploy {
                    app,
                    env_type: e.env.env_type,
                },
                Ok(None) => return Ok(None),
                Err(e) => return Err(Problem::from(e)),
            }
        }
        Need::ViewDeployment => match s.repo().deployment(&param("id")) {
            Ok(Some(d)) => Permission::View(d.app),
            Ok(None) if p.role == podium_store::Role::Admin => return Ok(None),
            // Not telling which deployment ids exist in apps one cannot see.
            Ok(None) => {
                return Err(forbidden(format!(
                    "deployment {:?} is not in an app this token can view",
                    param("id")
                )));
            }
            Err(e) => return Err(Problem::from(e)),
        },
    };
    Ok(Some(perm))
}

fn forbidden(message: String) -> Problem {
    Problem::new(StatusCode::FORBIDDEN, "forbidden", message)
}

fn unauthorized(e: &AuthError) -> Response {
    let mut r =
        Problem::new(StatusCode::UNAUTHORIZED, "unauthorized", e.to_string()).into_response();
    r.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        header::HeaderValue::from_static("Bearer realm=\"podium\""),
    );
    r
}

/// The route layer: authenticate, authorize, run, audit writes.
pub async fn guard(
    State(s): State<Arc<Service>>,
    matched: Option<MatchedPath>,
    params: Option<Path<HashMap<String, String>>>,
    mut req: Request,
    next: Next,
) -> Response {
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    let template = matched.map(|m| m.as_str().to_owned()).unwrap_or_default();
    let params = params.map(|Path(p)| p).unwrap_or_default();
    let (op, need) = rule(&method, &template).unwrap_or(("unlisted operation", Need::Admin));

    let mut actor = "anonymous".to_owned();
    let mut message = None;
    let response = match authenticate(&s, req.headers()) {
        Err(e) => {
            message = Some(e.to_string());
            unauthorized(&e)
        }
        Ok(principal) => {
            actor = principal.actor();
            let allowed = match permission(&s, &principal, need, op, &params) {
                Err(p) => Err(p),
                Ok(None) => Ok(()),
                Ok(Some(perm)) => principal.check(&perm).map_err(forbidden),
            };
            match allowed {
                Err(p) => {
                    if p.status == 403 {
                        message = Some(p.detail.clone());
                    }
                    p.into_response()
                }
                Ok(()) => {
                    req.extensions_mut().insert(principal);
                    next.run(req).await
                }
            }
        }
    };

    if method != Method::GET && method != Method::HEAD {
        record(&s, actor, &method, path, op, response.status(), message).await;
    }
    response
}

/// Appends the audit entry of one write (durably, before the answer goes
/// out: an audited action is never lost to a crash).
async fn record(
    s: &Arc<Service>,
    actor: String,
    method: &Method,
    path: String,
    op: &str,
    status: StatusCode,
    message: Option<String>,
) {
    let outcome = match status.as_u16() {
        401 | 403 => "denied",
        400..=499 => "rejected",
        500..=599 => "failed",
        _ => "ok",
    };
    let message = message.or_else(|| {
        (status.is_client_error() || status.is_server_error())
            .then(|| status.canonical_reason().unwrap_or("error").to_owned())
    });
    let s = s.clone();
    let method = method.as_str().to_owned();
    let op = op.to_owned();
    let result = tokio::task::spawn_blocking(move || {
        let repo = s.repo();
        let a = AuditRecord {
            // Ids start at 0; audit sequence numbers at 1 (`after=0` is "from the start").
            seq: repo.next_id()? + 1,
            at: Timestamp::now(),
            actor,
            method,
            path,
            action: op,
            status: status.as_u16(),
            outcome: outcome.to_owned(),
            message,
        };
        let mut ws = WriteSet::new();
        ws.audit(&a);
        repo.commit(ws)
    })
    .await;
    match result {
        Ok(Ok(())) => {}
        Ok(Err(e)) => tracing::error!(error = %e, "AuditWriteFailed"),
        Err(e) => tracing::error!(error = %e, "AuditWriteFailed"),
    }
}

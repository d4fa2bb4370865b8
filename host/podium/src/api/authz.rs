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
use podium_store::WriteSet;

use crate::auth::{self, AuthError, Permission, Principal};
use crate::service::Service;

use super::Problem;
use super::audit::Audit;

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
            | "/resource-types/{name}"
            | "/workload-profiles"
            | "/drivers",
        ) => ("read platform configuration", Authenticated),
        ("PUT", "/resource-definitions/{id}") => ("put resource definition", Admin),
        ("DELETE", "/resource-definitions/{id}") => ("delete resource definition", Admin),
        ("PUT", "/resource-types/{name}") => ("put resource type", Admin),
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
    let write = method != Method::GET && method != Method::HEAD;

    let mut actor = "anonymous".to_owned();
    let mut message = None;
    let mut audit = None;
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
                    if write {
                        let a =
                            Audit::new(actor.clone(), method.as_str().to_owned(), path.clone(), op);
                        req.extensions_mut().insert(a.clone());
                        audit = Some(a);
                    }
                    next.run(req).await
                }
            }
        }
    };

    if write {
        let audit =
            audit.unwrap_or_else(|| Audit::new(actor, method.as_str().to_owned(), path, op));
        finish_audit(&s, audit, response.status(), message).await;
    }
    response
}

/// Writes the request's audit entry unless a commit already wrote it with
/// its change (durably, before the answer goes out: an audited action is
/// never lost to a crash). A committed entry whose status is not the
/// answer's (the change was made, then waiting for it failed) is rewritten
/// with the final status.
async fn finish_audit(s: &Arc<Service>, audit: Audit, status: StatusCode, message: Option<String>) {
    let written = audit.written();
    if written
        .as_ref()
        .is_some_and(|w| w.status == status.as_u16())
    {
        return;
    }
    let entry = match written {
        Some(w) => {
            tracing::warn!(
                seq = w.seq,
                committed = w.status,
                answered = status.as_u16(),
                "AuditStatusCorrected"
            );
            let mut fixed = audit.make(w.seq, status, message);
            fixed.at = w.at;
            fixed
        }
        None => match audit.record(s.repo(), status, message) {
            Ok(e) => e,
            Err(e) => {
                tracing::error!(error = %e, "AuditWriteFailed");
                return;
            }
        },
    };
    let mut ws = WriteSet::new();
    ws.audit(&entry);
    if let Err(e) = s.commit(ws).await {
        tracing::error!(error = %e, "AuditWriteFailed");
    }
}

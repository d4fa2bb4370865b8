//! The HTTP API. Only this module knows HTTP (axum): it maps requests to the
//! service and results to JSON, errors to RFC 9457 problem+json. The OpenAPI
//! document is generated from the handlers' annotations (utoipa).

mod admin;
pub mod audit;
pub mod authz;
mod body;
mod config;
mod deploys;
mod drivers;
mod ids;
mod lifecycle;
mod openapi_doc;
mod problem;
mod tokens;

use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::Value;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub use problem::Problem;

use crate::service::Service;

/// Largest request body accepted, in bytes (driver uploads excepted).
pub const MAX_BODY: usize = 4 << 20;

/// Any JSON document (the schema of bodies whose shape the docs describe).
#[derive(utoipa::ToSchema)]
#[schema(value_type = Object)]
#[allow(dead_code)] // a schema only
pub struct Doc(Value);

#[derive(OpenApi)]
#[openapi(
    info(title = "Podium", description = "Platform orchestrator API"),
    modifiers(&BearerAuth),
    security(("bearer" = []))
)]
struct ApiDoc;

/// Every operation takes `Authorization: Bearer <token>`.
struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        openapi
            .components
            .get_or_insert_with(Default::default)
            .add_security_scheme(
                "bearer",
                SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
            );
    }
}

pub fn router(service: Arc<Service>) -> Router {
    let uploads = OpenApiRouter::new()
        .routes(routes!(drivers::list, drivers::upload))
        .layer(axum::extract::DefaultBodyLimit::max(drivers::MAX_COMPONENT));
    let (api, openapi) = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(config::list_env_types))
        .routes(routes!(
            config::put_env_type,
            config::get_env_type,
            config::delete_env_type
        ))
        .routes(routes!(config::list_apps))
        .routes(routes!(
            config::put_app,
            config::get_app,
            lifecycle::delete_app
        ))
        .routes(routes!(config::list_envs))
        .routes(routes!(
            config::put_env,
            config::get_env,
            lifecycle::delete_env
        ))
        .routes(routes!(config::list_definitions))
        .routes(routes!(
            config::put_definition,
            config::get_definition,
            config::delete_definition
        ))
        .routes(routes!(config::definition_versions))
        .routes(routes!(config::explain))
        .routes(routes!(config::resource_types))
        .routes(routes!(
            config::get_resource_type,
            config::put_resource_type
        ))
        .routes(routes!(config::list_profiles))
        .routes(routes!(config::put_profile))
        .routes(routes!(config::get_values))
        .routes(routes!(config::put_value, config::delete_value))
        .routes(routes!(deploys::create_deploy, deploys::list_deploys))
        .routes(routes!(deploys::get_deploy))
        .routes(routes!(deploys::get_deploy_by_id))
        .routes(routes!(deploys::events))
        .routes(routes!(deploys::plan))
        .routes(routes!(deploys::rollback))
        .routes(routes!(deploys::diff_deploys))
        .routes(routes!(deploys::resources))
        .routes(routes!(deploys::graph))
        .routes(routes!(tokens::create, tokens::list))
        .routes(routes!(tokens::revoke))
        .routes(routes!(tokens::whoami))
        .routes(routes!(admin::audit))
        .routes(routes!(admin::rotate_key))
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY))
        .merge(uploads)
        .split_for_parts();
    // Every route so far needs a token; the ones added below (health, the
    // OpenAPI document) are public.
    let api = api.route_layer(axum::middleware::from_fn_with_state(
        service.clone(),
        authz::guard,
    ));
    let openapi = Arc::new(openapi_doc::complete(&openapi));
    api.route(
        "/api/v1/openapi.json",
        get(move || {
            let doc = openapi.clone();
            async move { Json(doc.as_ref().clone()) }
        }),
    )
    .route("/healthz", get(healthz))
    .route("/readyz", get(readyz))
    .fallback(not_found)
    .method_not_allowed_fallback(method_not_allowed)
    .layer(axum::middleware::map_response(problem_everywhere))
    .layer(axum::middleware::from_fn(announced_size))
    .with_state(service)
}

/// Refuses a body whose announced length is over the limit before reading
/// any of it (the body limit layers catch bodies without a length).
async fn announced_size(req: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let limit = if req.uri().path() == "/api/v1/drivers" {
        drivers::MAX_COMPONENT
    } else {
        MAX_BODY
    };
    let announced = req
        .headers()
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if let Some(len) = announced
        && len > limit as u64
    {
        return Problem::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "request body too large",
            format!("the body has {len} bytes; the limit is {limit}"),
        )
        .into_response();
    }
    next.run(req).await
}

/// Errors produced outside our handlers (body limits, extractor rejections)
/// become problem documents too.
async fn problem_everywhere(resp: Response) -> Response {
    let status = resp.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return resp;
    }
    let is_problem = resp
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/problem+json"));
    if is_problem {
        return resp;
    }
    let body = axum::body::to_bytes(resp.into_body(), 64 << 10)
        .await
        .unwrap_or_default();
    let detail = String::from_utf8_lossy(&body);
    Problem::new(
        status,
        status.canonical_reason().unwrap_or("error"),
        detail.trim(),
    )
    .into_response()
}

async fn healthz() -> &'static str {
    "ok"
}

async fn readyz(State(service): State<Arc<Service>>) -> Response {
    if service.ready() {
        (StatusCode::OK, "ready").into_response()
    } else {
        Problem::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "not ready",
            "the service is starting",
        )
        .into_response()
    }
}

async fn not_found(uri: axum::http::Uri) -> Response {
    Problem::new(
        StatusCode::NOT_FOUND,
        "not found",
        format!("no endpoint at {}", uri.path()),
    )
    .into_response()
}

async fn method_not_allowed(method: axum::http::Method, uri: axum::http::Uri) -> Response {
    Problem::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method not allowed",
        format!("{method} is not allowed on {}", uri.path()),
    )
    .into_response()
}

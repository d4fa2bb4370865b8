//! The HTTP API. Only this module knows HTTP (axum): it maps requests to the
//! service and results to JSON, errors to RFC 9457 problem+json.

use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Serialize;
use serde_json::json;

use crate::service::Service;

/// Largest request body accepted, in bytes.
pub const MAX_BODY: usize = 4 << 20;

pub fn router(service: Arc<Service>) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/api/v1/drivers", get(list_drivers))
        .fallback(not_found)
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY))
        .with_state(service)
}

async fn healthz() -> &'static str {
    "ok"
}

async fn readyz(State(service): State<Arc<Service>>) -> Response {
    if service.ready() {
        (StatusCode::OK, "ready").into_response()
    } else {
        problem(
            StatusCode::SERVICE_UNAVAILABLE,
            "not ready",
            "the service is starting",
        )
    }
}

#[derive(Serialize)]
struct DriverList<'a> {
    drivers: &'a [crate::service::DriverEntry],
}

async fn list_drivers(State(service): State<Arc<Service>>) -> Json<serde_json::Value> {
    Json(json!(DriverList {
        drivers: service.drivers()
    }))
}

async fn not_found(uri: axum::http::Uri) -> Response {
    problem(
        StatusCode::NOT_FOUND,
        "not found",
        &format!("no endpoint at {}", uri.path()),
    )
}

/// An RFC 9457 problem document.
fn problem(status: StatusCode, title: &str, detail: &str) -> Response {
    let body = json!({
        "type": "about:blank",
        "title": title,
        "status": status.as_u16(),
        "detail": detail,
        "errors": [],
    });
    (
        status,
        [(header::CONTENT_TYPE, "application/problem+json")],
        body.to_string(),
    )
        .into_response()
}

//! Drivers: the built-ins and uploaded components.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::{Extension, Json};
use podium_store::{DriverRecord, Timestamp, WriteSet};
use serde::Deserialize;
use serde_json::{Value, json};

use super::Doc;
use super::audit::Audit;
use super::ids;
use super::problem::{ApiResult, Problem};
use crate::service::{DriverEntry, Section, Service};

type S = State<Arc<Service>>;

/// Largest driver component accepted.
pub const MAX_COMPONENT: usize = 64 << 20;

#[utoipa::path(get, path = "/api/v1/drivers", responses((status = 200, body = Doc)))]
pub async fn list(State(s): S) -> Json<Value> {
    let drivers = s.drivers();
    Json(json!({
        "supported_wit_versions": podium_runtime::SUPPORTED_WIT_VERSIONS,
        "drivers": drivers,
    }))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UploadQuery {
    /// The id definitions use in `driver_type`, e.g. `myorg/redis`.
    id: String,
}

/// Uploads a driver component (`application/wasm` body). It is compiled and
/// its `info` called before anything is stored.
#[utoipa::path(post, path = "/api/v1/drivers", params(UploadQuery), request_body(content = Vec<u8>, content_type = "application/wasm"), responses((status = 201, body = Doc), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn upload(
    State(s): S,
    Extension(audit): Extension<Audit>,
    Query(q): Query<UploadQuery>,
    bytes: Bytes,
) -> ApiResult<(StatusCode, Json<Value>)> {
    ids::check_driver(&q.id)?;
    if q.id.starts_with("podium/") {
        return Err(Problem::conflict(format!(
            "{}: the `podium/` namespace is reserved for built-in drivers",
            q.id
        )));
    }
    if bytes.len() > MAX_COMPONENT {
        return Err(Problem::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "component too large",
            format!("{} bytes; the limit is {MAX_COMPONENT}", bytes.len()),
        ));
    }
    let runtime = s.pipeline().runtime();
    let driver = runtime
        .load(&q.id, &bytes)
        .map_err(|e| Problem::invalid("component", e.to_string()))?;
    let info = runtime
        .info(&driver)
        .await
        .map_err(|e| Problem::invalid("component", e.to_string()))?;
    let record = DriverRecord {
        id: q.id.clone(),
        digest: driver.digest.clone(),
        size: bytes.len() as u64,
        uploaded_at: Timestamp::now(),
        wit_version: format!("podium:driver@{}", driver.wit_version),
        name: info.name.clone(),
        version: info.version.clone(),
        resource_types: info.resource_types.clone(),
    };
    let mut ws = WriteSet::new();
    ws.driver(&record, &bytes);
    // Store and registry change in the same order for concurrent uploads
    // of one id (the registry ends with what a restart would load).
    let _one = s.section(Section::Drivers).await;
    audit.commit(&s, ws, StatusCode::CREATED).await?;
    s.pipeline().registry().insert(driver);
    let entry = DriverEntry {
        id: record.id.clone(),
        name: record.name.clone(),
        version: record.version.clone(),
        digest: record.digest.clone(),
        wit_version: record.wit_version.clone(),
        resource_types: record.resource_types.clone(),
        builtin: false,
    };
    s.add_driver(entry.clone());
    Ok((StatusCode::CREATED, Json(json!(entry))))
}

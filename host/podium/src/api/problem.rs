//! RFC 9457 problem documents with an `errors: [{path, message}]` list.

use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use podium_pipeline::PipelineError;
use podium_store::RepoError;
use serde::Serialize;

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct FieldError {
    pub path: String,
    pub message: String,
}

/// An error answer.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Problem {
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    pub errors: Vec<FieldError>,
}

pub type ApiResult<T> = Result<T, Problem>;

impl Problem {
    pub fn new(status: StatusCode, title: &str, detail: impl Into<String>) -> Self {
        Problem {
            kind: "about:blank".into(),
            title: title.into(),
            status: status.as_u16(),
            detail: detail.into(),
            errors: Vec::new(),
        }
    }

    pub fn with(mut self, path: impl Into<String>, message: impl Into<String>) -> Self {
        self.errors.push(FieldError {
            path: path.into(),
            message: message.into(),
        });
        self
    }

    pub fn bad_request(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "bad request", detail)
    }

    pub fn invalid(path: impl Into<String>, message: impl Into<String>) -> Self {
        let message = message.into();
        let path = path.into();
        Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid input",
            format!("{path}: {message}"),
        )
        .with(path, message)
    }

    pub fn not_found(what: &str, id: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "not found",
            format!("{what} {id:?} does not exist"),
        )
    }

    pub fn conflict(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, "conflict", detail)
    }

    pub fn internal(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal error", detail)
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let body = serde_json::to_string(&self).unwrap_or_default();
        (
            status,
            [(header::CONTENT_TYPE, "application/problem+json")],
            body,
        )
            .into_response()
    }
}

impl From<RepoError> for Problem {
    fn from(e: RepoError) -> Self {
        tracing::error!(error = %e, "store error");
        Problem::internal(format!("store: {e}"))
    }
}

impl From<PipelineError> for Problem {
    fn from(e: PipelineError) -> Self {
        match e {
            PipelineError::NotFound { what, id } => Problem::not_found(what, &id),
            PipelineError::Invalid { path, message } => Problem::invalid(path, message),
            PipelineError::Conflict { message } => Problem::conflict(message),
            PipelineError::Store(e) => e.into(),
            PipelineError::ShuttingDown => Problem::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "shutting down",
                "the service is stopping",
            ),
        }
    }
}

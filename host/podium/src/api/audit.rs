//! The audit entry of a write request, committed in the same atomic batch
//! as the change it records.
//!
//! The route layer ([`super::authz::guard`]) gives every write request an
//! [`Audit`] handle (a request extension). A handler that changes state
//! commits through [`Audit::commit`] (or, when the commit happens
//! elsewhere, [`Audit::entry`] then [`Audit::committed`]): the entry is
//! part of the change's batch, so a crash leaves both or neither. When no
//! commit took the entry (the request was refused, failed, or changed
//! nothing), the guard writes it on its own after the handler, as before.

use std::sync::{Arc, Mutex, PoisonError};

use axum::http::StatusCode;
use jiff::Timestamp;
use podium_store::{AuditRecord, Repo, RepoError, WriteSet};

use super::problem::ApiResult;
use crate::service::Service;

/// This request's audit entry, to be written once.
#[derive(Clone)]
pub struct Audit(Arc<Slot>);

struct Slot {
    actor: String,
    method: String,
    path: String,
    action: String,
    /// The entry, once a commit wrote it with its change.
    written: Mutex<Option<AuditRecord>>,
}

/// `ok`, `denied` (401/403), `rejected` (other 4xx) or `failed` (5xx).
fn outcome(status: StatusCode) -> &'static str {
    match status.as_u16() {
        401 | 403 => "denied",
        400..=499 => "rejected",
        500..=599 => "failed",
        _ => "ok",
    }
}

impl Audit {
    pub(super) fn new(actor: String, method: String, path: String, action: &str) -> Audit {
        Audit(Arc::new(Slot {
            actor,
            method,
            path,
            action: action.to_owned(),
            written: Mutex::new(None),
        }))
    }

    /// The entry of this request answered with `status` (`message`: why it
    /// was refused or failed), numbered from the store.
    pub(super) fn record(
        &self,
        repo: &Repo,
        status: StatusCode,
        message: Option<String>,
    ) -> Result<AuditRecord, RepoError> {
        // Ids start at 0; audit sequence numbers at 1 (`after=0` is "from the start").
        Ok(self.make(repo.next_id()? + 1, status, message))
    }

    /// The entry numbered `seq`.
    pub(super) fn make(
        &self,
        seq: u64,
        status: StatusCode,
        message: Option<String>,
    ) -> AuditRecord {
        let message = message.or_else(|| {
            (status.is_client_error() || status.is_server_error())
                .then(|| status.canonical_reason().unwrap_or("error").to_owned())
        });
        AuditRecord {
            seq,
            at: Timestamp::now(),
            actor: self.0.actor.clone(),
            method: self.0.method.clone(),
            path: self.0.path.clone(),
            action: self.0.action.clone(),
            status: status.as_u16(),
            outcome: outcome(status).to_owned(),
            message,
        }
    }

    /// The entry for a change that will be answered with `status`, for a
    /// commit made elsewhere (the pipeline's); call [`Audit::committed`]
    /// once that commit succeeded.
    pub fn entry(&self, s: &Service, status: StatusCode) -> ApiResult<AuditRecord> {
        Ok(self.record(s.repo(), status, None)?)
    }

    /// `entry` was committed with the change it records.
    pub fn committed(&self, entry: AuditRecord) {
        *self
            .0
            .written
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(entry);
    }

    /// Commits `ws` (through [`Service::commit`]) together with this
    /// request's entry, for a change that will be answered with `status`.
    pub async fn commit(&self, s: &Service, mut ws: WriteSet, status: StatusCode) -> ApiResult<()> {
        let entry = self.entry(s, status)?;
        ws.audit(&entry);
        s.commit(ws).await?;
        self.committed(entry);
        Ok(())
    }

    /// The entry a commit wrote, if one did.
    pub(super) fn written(&self) -> Option<AuditRecord> {
        self.0
            .written
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

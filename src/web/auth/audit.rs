//! Audit entries for what handlers do on Fast.io (uploads, folders, shares): one function per
//! kind of event, so every path records the same fields. Access changes (sign-in, tokens,
//! users, links) are audited by [`crate::access`] itself. A failure to write the log is logged,
//! never turned into a failed upload: the file is already stored.

use super::caller::Caller;
use crate::access::{AuditAction, Event};
use crate::web::AppState;
use crate::web::templates::FileOutcome;

/// Records `event` for `caller`.
pub async fn record(app: &AppState, caller: &Caller, event: Event) {
    if let Err(error) = app.access.record(&caller.ctx(), event).await {
        tracing::error!(%error, "could not write the audit log");
    }
}

/// One entry per file of an upload: `upload_stored` with size and SHA-256, or `upload_failed`
/// with the reason.
pub async fn uploads(app: &AppState, caller: &Caller, workspace: &str, outcomes: &[FileOutcome]) {
    for outcome in outcomes {
        let event = match (&outcome.size, &outcome.sha256, &outcome.message) {
            (Some(size), Some(sha256), None) => Event::new(AuditAction::UploadStored)
                .file(*size, sha256)
                .target(outcome.node.as_deref().unwrap_or(&outcome.name))
                .detail(&outcome.name),
            (_, _, message) => Event::new(AuditAction::UploadFailed)
                .target(&outcome.name)
                .detail(message.as_deref().unwrap_or("not stored")),
        };
        record(app, caller, event.workspace(workspace)).await;
    }
}

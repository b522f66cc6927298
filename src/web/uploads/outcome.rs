//! Per-file outcomes of a form post: each file's result becomes a [`FileOutcome`] with the HTTP
//! status it stands for, and the post's status is the first failure's.

use std::time::Duration;

use axum::http::StatusCode;

use super::UploadReport;
use crate::fastio::{self, UploadTarget};
use crate::upload::pipeline::{FileError, Receipt};
use crate::web::display;
use crate::web::templates::FileOutcome;

/// One file's place in the report while uploads run.
pub(super) enum Slot {
    /// Finished: its outcome and status.
    Done(FileOutcome, StatusCode),
    /// Still uploading (its sanitised name).
    Running(String),
}

/// Builds the report; files still running (the deadline passed) fail with 408.
pub(super) fn report(target: UploadTarget, slots: Vec<Slot>, limit: Duration) -> UploadReport {
    let mut status = StatusCode::OK;
    let outcomes = slots
        .into_iter()
        .map(|slot| {
            let (outcome, code) = match slot {
                Slot::Done(outcome, code) => (outcome, code),
                Slot::Running(name) => (
                    FileOutcome::failed(
                        name,
                        format!(
                            "not stored: the upload took longer than the limit of {}s",
                            limit.as_secs()
                        ),
                    ),
                    StatusCode::REQUEST_TIMEOUT,
                ),
            };
            if status == StatusCode::OK && code != StatusCode::OK {
                status = code;
            }
            outcome
        })
        .collect();
    UploadReport {
        workspace: target.workspace,
        folder: target.folder,
        outcomes,
        status,
    }
}

/// Records a finished background upload in its slot.
pub(super) fn settle(
    slots: &mut [Slot],
    joined: Result<(usize, Result<Receipt, FileError>), tokio::task::JoinError>,
    workspace: &str,
) {
    let Ok((index, result)) = joined else {
        // A panicked upload task; its slot stays running and is reported as failed.
        tracing::error!("an upload task ended abnormally");
        return;
    };
    if let Some(slot) = slots.get_mut(index) {
        if let Slot::Running(name) = slot {
            let name = std::mem::take(name);
            *slot = outcome(result, &name, workspace);
        }
    }
}

/// A file's outcome and status.
pub(super) fn outcome(result: Result<Receipt, FileError>, name: &str, workspace: &str) -> Slot {
    match result {
        Ok(r) => Slot::Done(
            FileOutcome::stored(r.name, r.size, r.sha256, workspace, r.node),
            StatusCode::OK,
        ),
        Err(e) => {
            let (status, message) = describe(&e);
            tracing::info!(error = %e, status = status.as_u16(), "file not stored");
            Slot::Done(FileOutcome::failed(name.to_owned(), message), status)
        }
    }
}

/// The status and the message shown for a file that failed.
fn describe(e: &FileError) -> (StatusCode, String) {
    use fastio::Error as F;
    match e {
        FileError::TooLarge { limit } => (
            StatusCode::PAYLOAD_TOO_LARGE,
            format!(
                "the file is larger than the limit of {}",
                display::human_size(*limit)
            ),
        ),
        FileError::Type(t) => (StatusCode::UNSUPPORTED_MEDIA_TYPE, t.to_string()),
        FileError::Interrupted(_) => (
            StatusCode::BAD_REQUEST,
            "the upload was interrupted before the file ended; nothing was kept".into(),
        ),
        FileError::Mismatch { what } => (
            StatusCode::BAD_GATEWAY,
            format!("Fast.io stored something other than what was sent: {what}"),
        ),
        FileError::Budget(_) => (
            StatusCode::SERVICE_UNAVAILABLE,
            "the gateway is shutting down; please try again".into(),
        ),
        FileError::Upstream(f) => match f {
            F::TooLarge { .. } => (
                StatusCode::PAYLOAD_TOO_LARGE,
                "Fast.io refused the file as too large".into(),
            ),
            F::NotFound { .. } => (
                StatusCode::NOT_FOUND,
                "the destination folder does not exist on Fast.io".into(),
            ),
            F::Forbidden { message, .. } => (
                StatusCode::FORBIDDEN,
                format!("Fast.io forbids this: {message}"),
            ),
            F::RateLimited { .. } => (
                StatusCode::TOO_MANY_REQUESTS,
                "Fast.io asked us to slow down; please try again shortly".into(),
            ),
            F::UploadFailed { message, .. } => (
                StatusCode::BAD_GATEWAY,
                format!("Fast.io could not store the file: {message}"),
            ),
            F::UploadTimedOut { .. } | F::Transport(_) => (
                StatusCode::SERVICE_UNAVAILABLE,
                "Fast.io could not be reached or did not finish in time; nothing was kept".into(),
            ),
            F::Upstream {
                status, message, ..
            } if (400..500).contains(status) => (
                StatusCode::BAD_REQUEST,
                format!("Fast.io refused the file: {message}"),
            ),
            _ => (
                StatusCode::BAD_GATEWAY,
                "Fast.io answered with an error; nothing was kept".into(),
            ),
        },
    }
}

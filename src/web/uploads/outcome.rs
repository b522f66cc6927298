//! Per-file outcomes of a form post: each file's result becomes a [`FileOutcome`] with the HTTP
//! status it stands for (from [`AppError`], as on the JSON path), and the post's status is the first
//! failure's.

use std::time::Duration;

use axum::http::StatusCode;

use super::UploadReport;
use crate::fastio::UploadTarget;
use crate::upload::error::FileError;
use crate::upload::pipeline::Receipt;
use crate::web::error::AppError;
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
                Slot::Running(name) => refused(name, AppError::TimedOut { limit }),
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
    if let Some(slot) = slots.get_mut(index)
        && let Slot::Running(name) = slot
    {
        let name = std::mem::take(name);
        *slot = outcome(result, &name, workspace);
    }
}

/// A file's outcome and status: a failure's status and message are those of
/// [`AppError::from`], the one mapping the JSON API uses too.
pub(super) fn outcome(result: Result<Receipt, FileError>, name: &str, workspace: &str) -> Slot {
    match result {
        Ok(r) => Slot::Done(
            FileOutcome::stored(r.name, r.size, r.sha256, workspace, r.node),
            StatusCode::OK,
        ),
        Err(e) => {
            tracing::info!(error = %e, "file not stored");
            let (outcome, status) = refused(name.to_owned(), AppError::from(e));
            Slot::Done(outcome, status)
        }
    }
}

/// The outcome of a file that was not stored because of `error`, and its status.
pub(super) fn refused(name: String, error: AppError) -> (FileOutcome, StatusCode) {
    let message = format!("not stored: {}", error.public_message());
    (FileOutcome::failed(name, message), error.status())
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use axum::response::IntoResponse as _;

    use super::*;
    use crate::fastio::{self, UploadStatus};

    /// One of every `fastio::Error` variant (and the statuses `Upstream` splits on).
    async fn every_fastio_error() -> Vec<fastio::Error> {
        use fastio::Error as F;
        let transport = reqwest::Client::new()
            .get("http://127.0.0.1:1/")
            .send()
            .await
            .expect_err("nothing listens on port 1");
        let coded = |message: &str| (Some(1605), message.to_owned());
        let (code, message) = coded("x");
        vec![
            F::Unauthorized {
                code: None,
                message: message.clone(),
            },
            F::Unauthorized {
                code: Some(10545),
                message: message.clone(),
            },
            F::Forbidden {
                code,
                message: message.clone(),
            },
            F::NotFound {
                code,
                message: message.clone(),
            },
            F::TooLarge {
                code,
                message: message.clone(),
            },
            F::RateLimited {
                retry_after: Duration::from_secs(3),
                code,
            },
            F::Upstream {
                status: 400,
                code,
                message: message.clone(),
            },
            F::Upstream {
                status: 409,
                code,
                message: message.clone(),
            },
            F::Upstream {
                status: 416,
                code,
                message: message.clone(),
            },
            F::Upstream {
                status: 500,
                code,
                message: message.clone(),
            },
            F::Upstream {
                status: 503,
                code: None,
                message: message.clone(),
            },
            F::Transport(transport),
            F::InvalidResponse(message.clone()),
            F::UploadFailed {
                status: UploadStatus::AssemblyFailed,
                message: message.clone(),
            },
            F::UploadTimedOut {
                status: UploadStatus::Storing,
            },
            F::InvalidArgument(message),
        ]
    }

    #[tokio::test]
    async fn every_upstream_failure_gets_the_same_status_on_the_json_and_the_form_path() {
        let json_path: Vec<u16> = every_fastio_error()
            .await
            .into_iter()
            .map(|e| AppError::from(e).into_response().status().as_u16())
            .collect();
        let form_path: Vec<u16> = every_fastio_error()
            .await
            .into_iter()
            .map(
                |e| match outcome(Err(FileError::Upstream(e)), "a.txt", "ws") {
                    Slot::Done(_, status) => status.as_u16(),
                    Slot::Running(_) => unreachable!("a finished upload"),
                },
            )
            .collect();
        assert_eq!(json_path, form_path);
        assert_eq!(
            json_path,
            [
                502, 404, 403, 404, 413, 429, 400, 409, 416, 502, 502, 503, 502, 502, 503, 400
            ]
        );
    }
}

//! Form uploads (no JavaScript): `GET /upload`, `POST /upload`, and the `?/upload` action of a
//! folder page, each streaming every `file` part through the [`upload::pipeline`].
//!
//! [`receive`] adapts axum's multipart stream to the pipeline: the parts are read in order, each
//! file's bytes go upstream while they arrive, and small files (one single call each) are
//! uploaded a few at a time while the next parts are read, so many small files do not cost one
//! serialized round trip each. Each file succeeds or fails on its own; the report lists both.
//!
//! [`upload::pipeline`]: crate::upload::pipeline

use std::time::Duration;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Multipart, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::{Deserialize, Serialize};
use tokio::task::JoinSet;
use tokio::time::Instant;

use super::AppState;
use super::display;
use super::render::Html;
use super::templates::{Choice, FileOutcome, Limits, Notice, UploadPage};
use super::view::ActionResult;
use crate::error::AppError;
use crate::fastio::{self, ListQuery, NodeType, PageSize, UploadTarget};
use crate::upload::names::sanitize_filename;
use crate::upload::pipeline::{self, FileError, Pipeline, Receipt, Started};

/// Single-call uploads kept in flight while the next parts are read.
const PARALLEL_SMALL_UPLOADS: usize = 4;

/// Longest text field (`workspace`, `folder`) read from an upload form.
const MAX_TEXT_FIELD: usize = 1024;

/// Where the files of a form post go.
#[derive(Clone, Debug)]
pub enum Destination {
    /// A folder page's `?/upload` action: the folder is in the URL.
    Folder {
        /// Workspace id.
        workspace: String,
        /// Folder id (`root` for the root).
        folder: String,
    },
    /// The stand-alone upload page: `workspace` and `folder` text fields precede the files.
    FromForm,
}

/// What a form post did: one outcome per file, successes and failures together.
#[derive(Debug)]
pub struct UploadReport {
    /// The workspace the files went to.
    pub workspace: String,
    /// The folder the files went to.
    pub folder: String,
    /// One per `file` part, in order.
    pub outcomes: Vec<FileOutcome>,
    /// 200 when every file was stored; otherwise the status of the first failure (413, 415, …).
    pub status: StatusCode,
}

/// The `data` of an upload's JSON action result.
#[derive(Debug, Serialize)]
pub struct UploadData {
    /// Workspace id.
    pub workspace: String,
    /// Folder id.
    pub folder: String,
    /// One outcome per file, in order.
    pub files: Vec<FileOutcome>,
}

impl UploadReport {
    /// The JSON action result (`success` with 200 when every file was stored).
    pub fn action_result(self) -> ActionResult<UploadData> {
        let data = UploadData {
            workspace: self.workspace,
            folder: self.folder,
            files: self.outcomes,
        };
        if self.status == StatusCode::OK {
            ActionResult::success(data)
        } else {
            ActionResult::failure(self.status, data)
        }
    }

    /// A one-line summary for the page.
    pub fn notice(&self) -> Notice {
        let stored = self.outcomes.iter().filter(|o| o.ok()).count();
        let total = self.outcomes.len();
        let text = match (stored, total) {
            (s, t) if s == t && t == 1 => "The file was stored.".to_owned(),
            (s, t) if s == t => format!("All {t} files were stored."),
            (0, 1) => "The file was not stored.".to_owned(),
            (0, t) => format!("None of the {t} files were stored."),
            (s, t) => format!("{s} of {t} files were stored; the others failed."),
        };
        Notice {
            success: stored == total,
            text,
        }
    }
}

/// One file's place in the report while uploads run.
enum Slot {
    Done(FileOutcome, StatusCode),
    Running(String),
}

/// Streams every `file` part of `multipart` to `destination`. Whole-request problems (an
/// unexposed workspace, no file chosen, a malformed form) are errors; a file's own failure is an
/// outcome in the report. The whole post may take `config.upload_timeout`; past it, files not yet
/// stored fail with 408 and their sessions are cancelled.
pub async fn receive(
    state: &AppState,
    destination: Destination,
    mut multipart: Multipart,
) -> Result<UploadReport, AppError> {
    let deadline = Instant::now() + state.config.upload_timeout;
    let pipeline = pipeline_of(state);
    let mut target = match destination {
        Destination::Folder { workspace, folder } => Some(exposed(state, workspace, folder)?),
        Destination::FromForm => None,
    };
    let (mut form_ws, mut form_folder) = (None, None);
    let mut slots: Vec<Slot> = Vec::new();
    let mut running: JoinSet<(usize, Result<Receipt, FileError>)> = JoinSet::new();
    let mut files = 0usize;
    let mut timed_out = false;
    loop {
        let field = match tokio::time::timeout_at(deadline, multipart.next_field()).await {
            Err(_) => {
                timed_out = true;
                break;
            }
            Ok(Ok(Some(field))) => field,
            Ok(Ok(None)) => break,
            Ok(Err(e)) if slots.is_empty() => {
                return Err(AppError::BadRequest(format!(
                    "the form could not be read: {e}"
                )));
            }
            // The body broke off after some files (client gone); what was done stays reported.
            Ok(Err(_)) => break,
        };
        match field.name().unwrap_or_default() {
            "file" => {}
            "workspace" if target.is_none() => {
                form_ws = Some(text_field(field).await?);
                continue;
            }
            "folder" if target.is_none() => {
                form_folder = Some(text_field(field).await?);
                continue;
            }
            _ => continue,
        }
        let raw_name = field.file_name().unwrap_or_default().to_owned();
        if raw_name.is_empty() {
            // A file input with nothing picked: no name, no bytes. Not a file.
            continue;
        }
        let target = match &target {
            Some(t) => t.clone(),
            None => {
                let Some(ws) = form_ws.take().filter(|w| !w.is_empty()) else {
                    return Err(AppError::BadRequest(
                        "choose a workspace: the form's workspace field must precede the files"
                            .into(),
                    ));
                };
                let folder = form_folder.take().filter(|f| !f.is_empty());
                target
                    .insert(exposed(state, ws, folder.unwrap_or_else(|| "root".into()))?)
                    .clone()
            }
        };
        files += 1;
        if files > state.config.max_files {
            let message = format!(
                "not uploaded: at most {} files can be uploaded at once",
                state.config.max_files
            );
            slots.push(Slot::Done(
                FileOutcome::failed(sanitize_filename(&raw_name), message),
                StatusCode::PAYLOAD_TOO_LARGE,
            ));
            continue;
        }
        while running.len() >= PARALLEL_SMALL_UPLOADS {
            match tokio::time::timeout_at(deadline, running.join_next()).await {
                Ok(Some(joined)) => settle(&mut slots, joined, &target.workspace),
                Ok(None) => break,
                Err(_) => {
                    timed_out = true;
                    break;
                }
            }
        }
        if timed_out {
            break;
        }
        let started = tokio::time::timeout_at(deadline, pipeline.start(&target, &raw_name, field));
        match started.await {
            Err(_) => {
                timed_out = true;
                slots.push(Slot::Running(sanitize_filename(&raw_name)));
                break;
            }
            Ok(Started::Finished(result)) => {
                slots.push(outcome(
                    result,
                    &sanitize_filename(&raw_name),
                    &target.workspace,
                ));
            }
            Ok(Started::Buffered(small)) => {
                let index = slots.len();
                slots.push(Slot::Running(small.name().to_owned()));
                running.spawn(async move { (index, small.finish().await) });
            }
        }
    }
    let Some(target) = target else {
        return Err(AppError::BadRequest(
            "no file chosen: pick at least one file".into(),
        ));
    };
    while !timed_out {
        match tokio::time::timeout_at(deadline, running.join_next()).await {
            Ok(Some(joined)) => settle(&mut slots, joined, &target.workspace),
            Ok(None) => break,
            Err(_) => timed_out = true,
        }
    }
    // Past the deadline: dropping the set aborts the uploads still running (their guards cancel).
    running.abort_all();
    if files == 0 {
        return Err(AppError::BadRequest(
            "no file chosen: pick at least one file".into(),
        ));
    }
    Ok(report(target, slots, state.config.upload_timeout))
}

/// Builds the report; files still running (the deadline passed) fail with 408.
fn report(target: UploadTarget, slots: Vec<Slot>, limit: Duration) -> UploadReport {
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
fn settle(
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
fn outcome(result: Result<Receipt, FileError>, name: &str, workspace: &str) -> Slot {
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

/// The pipeline of this gateway's configuration.
fn pipeline_of(state: &AppState) -> Pipeline {
    Pipeline::new(
        state.fastio.clone(),
        state.budget.clone(),
        pipeline::Limits {
            max_size: state.config.max_file_size,
            allowed: state.config.allowed_types.clone(),
            store_timeout: state.config.upload_timeout,
        },
    )
}

/// The upload target, if the gateway exposes the workspace (404 otherwise).
fn exposed(state: &AppState, workspace: String, folder: String) -> Result<UploadTarget, AppError> {
    if !state.exposes(&workspace) {
        return Err(AppError::NotFound(format!("no workspace “{workspace}”")));
    }
    Ok(UploadTarget { workspace, folder })
}

/// Reads a short text field (bounded, so a huge field cannot fill memory).
async fn text_field(mut field: axum::extract::multipart::Field<'_>) -> Result<String, AppError> {
    let mut bytes = Vec::new();
    while let Some(chunk) = field
        .chunk()
        .await
        .map_err(|e| AppError::BadRequest(format!("the form could not be read: {e}")))?
    {
        bytes.extend_from_slice(&chunk);
        if bytes.len() > MAX_TEXT_FIELD {
            return Err(AppError::BadRequest("a form field is too long".into()));
        }
    }
    String::from_utf8(bytes)
        .map(|s| s.trim().to_owned())
        .map_err(|_| AppError::BadRequest("a form field is not valid UTF-8".into()))
}

/// This module's routes: the stand-alone upload page and its form action, without axum's body
/// limit (the pipeline enforces the file size while streaming).
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/upload", get(show_page).post(post_upload))
        .layer(DefaultBodyLimit::disable())
}

/// `?workspace=` on the upload page.
#[derive(Debug, Deserialize)]
struct PageQuery {
    workspace: Option<String>,
}

/// `GET /upload`.
async fn show_page(
    State(state): State<AppState>,
    Query(q): Query<PageQuery>,
) -> Result<Html<UploadPage>, AppError> {
    let page = upload_page(&state, q.workspace, None, Vec::new(), None).await?;
    Ok(Html(page))
}

/// `POST /upload`: the page with the results, or the JSON action result.
async fn post_upload(
    State(state): State<AppState>,
    headers: HeaderMap,
    multipart: Multipart,
) -> Result<Response, AppError> {
    let report = receive(&state, Destination::FromForm, multipart).await?;
    if wants_json(&headers) {
        return Ok(report.action_result().into_response());
    }
    let notice = report.notice();
    let status = report.status;
    let page = upload_page(
        &state,
        Some(report.workspace),
        Some(report.folder),
        report.outcomes,
        Some(notice),
    )
    .await?;
    Ok((status, Html(page)).into_response())
}

/// Whether the client asked for the JSON action result.
fn wants_json(headers: &HeaderMap) -> bool {
    let accept = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    accept.contains("application/json") && !accept.contains("text/html")
}

/// The upload page: the exposed workspaces (one selected), the selected one's top folders.
async fn upload_page(
    state: &AppState,
    workspace: Option<String>,
    folder: Option<String>,
    results: Vec<FileOutcome>,
    notice: Option<Notice>,
) -> Result<UploadPage, AppError> {
    let all = state.fastio.list_workspaces().await.map_err(upstream)?;
    let exposed: Vec<_> = all.into_iter().filter(|w| state.exposes(&w.id)).collect();
    let selected = match workspace.filter(|w| !w.is_empty()) {
        Some(ws) if exposed.iter().any(|w| w.id == ws) => Some(ws),
        Some(ws) => return Err(AppError::NotFound(format!("no workspace “{ws}”"))),
        None => exposed.first().map(|w| w.id.clone()),
    };
    let workspaces = exposed
        .iter()
        .map(|w| Choice {
            value: w.id.clone(),
            label: if w.name.is_empty() {
                w.id.clone()
            } else {
                w.name.clone()
            },
            selected: selected.as_deref() == Some(w.id.as_str()),
        })
        .collect();
    let folder = folder.unwrap_or_else(|| "root".into());
    let mut folders = vec![Choice {
        value: "root".into(),
        label: "/ (top level)".into(),
        selected: folder == "root",
    }];
    if let Some(ws) = &selected {
        let query = ListQuery {
            page_size: PageSize::P500,
            ..ListQuery::default()
        };
        let page = state
            .fastio
            .list_folder(ws, "root", &query)
            .await
            .map_err(upstream)?;
        folders.extend(
            page.nodes
                .into_iter()
                .filter(|n| n.node_type == NodeType::Folder)
                .map(|n| Choice {
                    selected: n.id == folder,
                    value: n.id,
                    label: format!("/{}", n.name),
                }),
        );
    }
    Ok(UploadPage {
        workspaces,
        folders,
        limits: Limits::from_config(&state.config),
        results,
        notice,
    })
}

/// Maps a client error for the page handlers (until `From<fastio::Error>` reaches this branch).
fn upstream(e: fastio::Error) -> AppError {
    use fastio::Error as F;
    match e {
        F::Unauthorized { .. } => AppError::UpstreamAuth(e.to_string()),
        F::Forbidden { message, .. } => AppError::Forbidden(message),
        F::NotFound { message, .. } => AppError::NotFound(message),
        F::RateLimited { retry_after, .. } => AppError::RateLimited {
            retry_after: Some(retry_after),
        },
        F::Transport(_) | F::UploadTimedOut { .. } => AppError::Unavailable(e.to_string()),
        _ => AppError::Upstream(e.to_string()),
    }
}

//! Form uploads (no JavaScript): `GET /upload`, `POST /upload`, and the `?/upload` action of a
//! folder page, each streaming every `file` part through the [`upload::pipeline`].
//!
//! [`receive`] adapts axum's multipart stream to the pipeline: the parts are read in order, each
//! file's bytes go upstream while they arrive, and small files (one single call each) are
//! gathered into Fast.io batch uploads while the next parts are read ([`upload::batch`]), so many
//! small files do not cost one serialized round trip each.
//!
//! [`upload::batch`]: crate::upload::batch Each file succeeds or fails on its own; the report lists both.
//!
//! [`upload::pipeline`]: crate::upload::pipeline

mod outcome;
mod page;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Multipart};
use axum::handler::Handler;
use axum::http::StatusCode;
use axum::http::{HeaderValue, header};
use axum::routing::get;
use serde::Serialize;
use tokio::time::Instant;
use tower_http::set_header::SetResponseHeaderLayer;

use super::AppState;
use super::templates::{FileOutcome, Notice};
use super::view::ActionResult;
use crate::fastio::UploadTarget;
use crate::upload::batch::SmallFiles;
use crate::upload::names::sanitize_filename;
use crate::upload::pipeline::{self, Pipeline, Started};
use crate::web::error::AppError;
use outcome::{Slot, outcome, refused, report, settle};

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
    // Small files go up in batches while the next parts are read (upload::batch).
    let mut running = SmallFiles::new();
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
            let limit = state.config.max_files;
            let (outcome, status) = refused(
                sanitize_filename(&raw_name),
                AppError::TooManyFiles { limit },
            );
            slots.push(Slot::Done(outcome, status));
            continue;
        }
        while running.is_full() {
            match tokio::time::timeout_at(deadline, running.next()).await {
                Ok(Some(settled)) => settle(&mut slots, Ok(settled), &target.workspace),
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
                running.push(index, small).await;
            }
        }
    }
    let Some(target) = target else {
        return Err(AppError::BadRequest(
            "no file chosen: pick at least one file".into(),
        ));
    };
    running.close();
    while !timed_out {
        match tokio::time::timeout_at(deadline, running.next()).await {
            Ok(Some(settled)) => settle(&mut slots, Ok(settled), &target.workspace),
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
    .with_registry(state.uploads.clone())
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
        .route(
            "/upload",
            get(page::show_page).post(page::post_upload.layer(close_connection())),
        )
        .layer(DefaultBodyLimit::disable())
}

/// `Connection: close` on the answer to an upload post. The answer can come before the whole
/// body was read (a refused type or size, the multipart epilogue multer never reads); the server
/// then closes the connection, and a client that reused it for its next request would see it
/// die. Saying so up front keeps keep-alive clients (scripts, tests) from that race.
pub fn close_connection() -> SetResponseHeaderLayer<HeaderValue> {
    SetResponseHeaderLayer::overriding(header::CONNECTION, HeaderValue::from_static("close"))
}

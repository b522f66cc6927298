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
pub(crate) mod page;

use axum::extract::{DefaultBodyLimit, Multipart};
use axum::handler::Handler;
use axum::http::StatusCode;
use axum::http::{HeaderValue, header};
use axum::routing::post;
use serde::Serialize;
use tokio::time::Instant;
use tower_http::set_header::SetResponseHeaderLayer;

use super::AppState;
use super::auth::{Caller, audit};
use super::templates::{FileOutcome, Notice};
use super::view::ActionResult;
use crate::access::Capability;
use crate::fastio::UploadTarget;
use crate::upload::batch::SmallFiles;
use crate::upload::error::FileError;
use crate::upload::names::sanitize_filename;
use crate::upload::pipeline::{self, Pipeline, Started};
use crate::upload::rules::AllowedTypes;
use crate::web::auth::Need;
use crate::web::error::AppError;
use crate::web::routes::Routes;
use axum::http::Method;
use outcome::{Slot, outcome, refused, report, settle};

/// Longest text field (`workspace`, `folder`) read from an upload form.
const MAX_TEXT_FIELD: usize = 1024;
/// The most header bytes one multipart part may carry. A browser sends about 150 (the
/// disposition with a file name of at most 1,024 bytes, and a type); more is not a form.
const MAX_PART_HEADERS: usize = 8 * 1024;

/// The size of a part's headers as sent (`name: value` plus CRLF each).
fn part_header_bytes(field: &axum::extract::multipart::Field<'_>) -> usize {
    field
        .headers()
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len() + 4)
        .sum()
}

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
    /// The stand-alone upload page: `workspace` and `folder` text fields precede the files
    /// (start with [`Destination::from_form`]; the fields are filled in as they are read).
    FromForm {
        /// The `workspace` field.
        workspace: Option<String>,
        /// The `folder` field.
        folder: Option<String>,
    },
}

impl Destination {
    /// The stand-alone upload page's destination, before its fields are read.
    pub fn from_form() -> Self {
        Self::FromForm {
            workspace: None,
            folder: None,
        }
    }
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

/// Decides where the files of a form post go and under which limits, once the text fields that
/// precede the first file are read: a folder page, the upload page's pickers, an upload-request
/// link (which checks its password and begins its submission there).
pub trait Intake: Send {
    /// Whether `name` is a text field this intake reads (others are skipped unread).
    fn wants(&self, name: &str) -> bool;

    /// A text field read before the first file.
    fn field(&mut self, name: &str, value: String);

    /// At the first file: where the files go and the post's limits, or why the whole post is
    /// refused.
    fn open(
        &mut self,
        state: &AppState,
        caller: &Caller,
    ) -> impl Future<Output = Result<Opened, AppError>> + Send;
}

/// Where a post's files go, and its limits.
#[derive(Clone, Debug)]
pub struct Opened {
    /// Workspace and folder.
    pub target: UploadTarget,
    /// The limits.
    pub rules: PostRules,
}

/// The limits of one form post: the gateway's, or narrower ones (an upload-request link's).
/// Every one is enforced while the files stream, before a byte past it goes upstream.
#[derive(Clone, Debug)]
pub struct PostRules {
    /// Files per post; the ones after it are refused unread (413).
    pub max_files: usize,
    /// Bytes per file (413).
    pub max_file_size: u64,
    /// Bytes of all the post's files together, if limited: each file may use what the files
    /// before it left (413).
    pub max_bytes: Option<u64>,
    /// Allowed types, on the name and the first bytes (415).
    pub allowed: AllowedTypes,
}

impl PostRules {
    /// The gateway's own limits.
    pub fn of_gateway(state: &AppState) -> Self {
        Self {
            max_files: state.config.max_files,
            max_file_size: state.config.max_file_size,
            max_bytes: None,
            allowed: state.config.allowed_types.clone(),
        }
    }
}

impl Intake for Destination {
    fn wants(&self, name: &str) -> bool {
        matches!(self, Self::FromForm { .. }) && matches!(name, "workspace" | "folder")
    }

    fn field(&mut self, name: &str, value: String) {
        if let Self::FromForm { workspace, folder } = self {
            match name {
                "workspace" => *workspace = Some(value),
                _ => *folder = Some(value),
            }
        }
    }

    async fn open(&mut self, state: &AppState, caller: &Caller) -> Result<Opened, AppError> {
        let target = match self.clone() {
            Self::Folder { workspace, folder } => exposed(state, workspace, folder)?,
            Self::FromForm { workspace, folder } => {
                let Some(ws) = workspace.filter(|w| !w.is_empty()) else {
                    return Err(AppError::BadRequest(
                        "choose a workspace: the form's workspace field must precede the files"
                            .into(),
                    ));
                };
                caller.allow(&ws)?;
                let folder = folder.filter(|f| !f.is_empty());
                exposed(state, ws, folder.unwrap_or_else(|| "root".into()))?
            }
        };
        Ok(Opened {
            target,
            rules: PostRules::of_gateway(state),
        })
    }
}

/// Streams every `file` part of `multipart` to `destination`; see [`receive_into`].
pub async fn receive(
    state: &AppState,
    caller: &Caller,
    mut destination: Destination,
    multipart: Multipart,
) -> Result<UploadReport, AppError> {
    receive_into(state, caller, &mut destination, multipart).await
}

/// Streams every `file` part of `multipart` where `intake` says, under its limits.
/// Whole-request problems (an unexposed workspace, no file chosen, a malformed form, an intake's
/// refusal) are errors; a file's own failure is an outcome in the report. The whole post may
/// take `config.upload_timeout`; past it, files not yet stored fail with 408 and their sessions
/// are cancelled. Audited per file as `caller`.
pub async fn receive_into<I: Intake>(
    state: &AppState,
    caller: &Caller,
    intake: &mut I,
    mut multipart: Multipart,
) -> Result<UploadReport, AppError> {
    let deadline = Instant::now() + state.config.upload_timeout;
    let mut opened: Option<Opened> = None;
    let mut slots: Vec<Slot> = Vec::new();
    // Small files go up in batches while the next parts are read (upload::batch).
    let mut running = SmallFiles::new();
    let mut files = 0usize;
    // Bytes of the files read whole so far (against `max_bytes`).
    let mut used = 0u64;
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
        if part_header_bytes(&field) > MAX_PART_HEADERS {
            let error = AppError::BadRequest(format!(
                "the form could not be read: a part's headers are over {} KiB",
                MAX_PART_HEADERS / 1024
            ));
            if slots.is_empty() {
                return Err(error);
            }
            // After some files: they stay reported, this part is refused on its own.
            let name = sanitize_filename(field.file_name().unwrap_or("unnamed"));
            let (outcome, status) = refused(name, error);
            slots.push(Slot::Done(outcome, status));
            continue;
        }
        let name = field.name().unwrap_or_default().to_owned();
        if name != "file" {
            if opened.is_none() && intake.wants(&name) {
                let value = text_field(field).await?;
                intake.field(&name, value);
            }
            continue;
        }
        let raw_name = field.file_name().unwrap_or_default().to_owned();
        if raw_name.is_empty() {
            // A file input with nothing picked: no name, no bytes. Not a file.
            continue;
        }
        let Opened { target, rules } = match &opened {
            Some(o) => o.clone(),
            None => opened.insert(intake.open(state, caller).await?).clone(),
        };
        files += 1;
        let room = rules.max_bytes.map(|m| m.saturating_sub(used));
        let refusal = if files > rules.max_files {
            Some(AppError::TooManyFiles {
                limit: rules.max_files,
            })
        } else if room == Some(0) {
            rules
                .max_bytes
                .map(|limit| AppError::PostTooLarge { limit })
        } else {
            None
        };
        if let Some(error) = refusal {
            let (outcome, status) = refused(sanitize_filename(&raw_name), error);
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
        // The file may use what the files before it left of the post's total.
        let max_size = room.map_or(rules.max_file_size, |r| r.min(rules.max_file_size));
        let by_total = room.is_some_and(|r| r < rules.max_file_size);
        let pipeline = pipeline_of(state, max_size, rules.allowed.clone());
        let started = tokio::time::timeout_at(deadline, pipeline.start(&target, &raw_name, field));
        match started.await {
            Err(_) => {
                timed_out = true;
                slots.push(Slot::Running(sanitize_filename(&raw_name)));
                break;
            }
            Ok(Started::Finished(Err(FileError::TooLarge { .. }))) if by_total => {
                let limit = rules.max_bytes.unwrap_or(max_size);
                let error = AppError::PostTooLarge { limit };
                let (outcome, status) = refused(sanitize_filename(&raw_name), error);
                slots.push(Slot::Done(outcome, status));
            }
            Ok(Started::Finished(result)) => {
                if let Ok(receipt) = &result {
                    used = used.saturating_add(receipt.size);
                }
                slots.push(outcome(
                    result,
                    &sanitize_filename(&raw_name),
                    &target.workspace,
                ));
            }
            Ok(Started::Buffered(small)) => {
                used = used.saturating_add(small.size());
                let index = slots.len();
                slots.push(Slot::Running(small.name().to_owned()));
                running.push(index, small).await;
            }
        }
    }
    let Some(Opened { target, .. }) = opened else {
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
    let report = report(target, slots, state.config.upload_timeout);
    audit::uploads(state, caller, &report.workspace, &report.outcomes).await;
    Ok(report)
}

/// The pipeline of one file: this gateway's client and budget, the file's limits.
fn pipeline_of(state: &AppState, max_size: u64, allowed: AllowedTypes) -> Pipeline {
    Pipeline::new(
        state.fastio.clone(),
        state.budget.clone(),
        pipeline::Limits {
            max_size,
            allowed,
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
pub fn routes(r: Routes) -> Routes {
    let upload = Need::InBody(Capability::Upload);
    r.get("/upload", upload, page::show_page).method_router(
        Method::POST,
        "/upload",
        upload,
        post(page::post_upload.layer(close_connection())).layer(DefaultBodyLimit::disable()),
    )
}

/// `Connection: close` on the answer to an upload post. The answer can come before the whole
/// body was read (a refused type or size, the multipart epilogue multer never reads); the server
/// then closes the connection, and a client that reused it for its next request would see it
/// die. Saying so up front keeps keep-alive clients (scripts, tests) from that race.
pub fn close_connection() -> SetResponseHeaderLayer<HeaderValue> {
    SetResponseHeaderLayer::overriding(header::CONNECTION, HeaderValue::from_static("close"))
}

//! The link itself: `GET /r/{token}`, an upload-only page (the link's label and limits, an
//! optional password and uploader-name field, the file picker), and `POST /r/{token}`, one
//! submission (multipart: optional `password` and `uploader` fields **before** the files, then
//! `file` repeated), answered like a folder page's `?/upload`: the page again with the receipts
//! of this visit only, or the JSON action result with `Accept: application/json`.
//!
//! Nothing here lists the folder or links to a download: receipts carry name, size and SHA-256
//! (and, in JSON, the node id of the uploader's own file). The post streams through
//! [`receive_into`] with [`LinkIntake`]: at the first file the password is checked (throttled),
//! a use is taken ([`crate::access::Access::begin_submission`]) and, with
//! `subfolder_per_submission`, the submission's folder is made; the link's limits (each the
//! narrower of the link's and the gateway's) hold while the bytes stream.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Multipart, Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use super::as_link;
use super::notify::{self, Summary};
use crate::access::{Ctx, Link, LinkFile, Submission};
use crate::fastio::UploadTarget;
use crate::upload::rules::AllowedTypes;
use crate::web::AppState;
use crate::web::auth::Caller;
use crate::web::error::{AppError, ErrorBody};
use crate::web::format;
use crate::web::templates::{Chrome, FileOutcome, Limits, Notice};
use crate::web::uploads::{Intake, Opened, PostRules, UploadReport, receive_into};
use crate::web::view::ActionResult;

/// `GET /r/{token}` and the answer to its post.
#[derive(Template, WebTemplate)]
#[template(path = "link_visit.html")]
pub struct LinkVisitPage {
    /// The frame.
    pub chrome: Chrome,
    /// The link's label.
    pub label: String,
    /// `/r/{token}`: where the form posts (and the JS path's base).
    pub action: String,
    /// Whether the password field is shown.
    pub needs_password: bool,
    /// Files per submission, size per file, types.
    pub limits: Limits,
    /// `25 MiB`: all files of a submission together, if limited.
    pub total: Option<String>,
    /// `2026-12-08 10:00 UTC`.
    pub expires: String,
    /// The uploader's name as typed, kept after a post.
    pub uploader: String,
    /// Receipts of this visit's post (no download links).
    pub results: Vec<FileOutcome>,
    /// What happened, if anything.
    pub notice: Option<Notice>,
}

/// The limits of a link's submissions: each the narrower of the link's and the gateway's.
pub fn rules_of(state: &AppState, link: &Link) -> PostRules {
    let gateway = PostRules::of_gateway(state);
    let narrower = |link: Option<u64>, gateway: u64| link.map_or(gateway, |l| l.min(gateway));
    let max_files = link
        .max_files
        .and_then(|m| usize::try_from(m).ok())
        .map_or(gateway.max_files, |m| m.min(gateway.max_files));
    let allowed = match link
        .allowed_types
        .as_deref()
        .map(str::parse::<AllowedTypes>)
    {
        Some(Ok(types)) => gateway.allowed.clone().and(types),
        _ => gateway.allowed.clone(),
    };
    PostRules {
        max_files,
        max_file_size: narrower(link.max_file_size, gateway.max_file_size),
        max_bytes: link.max_bytes,
        allowed,
    }
}

/// The upload-only page of `link`.
fn page(state: &AppState, caller: &Caller, link: &Link, token: &str) -> LinkVisitPage {
    let rules = rules_of(state, link);
    LinkVisitPage {
        chrome: Chrome::of(caller, None),
        label: link.label.clone(),
        action: format!("/r/{token}"),
        needs_password: link.has_password,
        limits: Limits {
            max_size: format::human_size(rules.max_file_size),
            max_files: rules.max_files,
            accept: rules.allowed.accept_attribute(),
        },
        total: rules.max_bytes.map(format::human_size),
        expires: chrono::DateTime::from_timestamp_millis(link.expires_at)
            .map(format::full_date)
            .unwrap_or_default(),
        uploader: String::new(),
        results: Vec::new(),
        notice: None,
    }
}

/// A link page is never cached: it is reached by a secret URL.
fn no_store(mut response: Response) -> Response {
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// `GET /r/{token}`: the upload-only page (410 when revoked, expired or used up; 404 unknown).
pub async fn show(
    State(state): State<AppState>,
    caller: Caller,
    Path(token): Path<String>,
) -> Result<Response, AppError> {
    let link = state.access.open_link(&token).await?;
    Ok(no_store(
        page(&state, &caller, &link, &token).into_response(),
    ))
}

/// Decides a link post's destination at its first file: password, a use, the subfolder.
pub struct LinkIntake {
    link: Link,
    /// The visitor before the link is unlocked (the throttle counts by IP).
    visitor: Ctx,
    /// The visitor acting as the link.
    as_link: Ctx,
    password: Option<String>,
    uploader: Option<String>,
    submission: Option<Submission>,
}

impl LinkIntake {
    /// The intake of a post to `link` by `caller`.
    pub fn new(caller: &Caller, link: Link) -> Self {
        Self {
            visitor: Ctx::anonymous(caller.ip, caller.request_id.clone()),
            as_link: as_link(caller, &link).ctx(),
            link,
            password: None,
            uploader: None,
            submission: None,
        }
    }
}

impl Intake for LinkIntake {
    fn wants(&self, name: &str) -> bool {
        matches!(name, "password" | "uploader")
    }

    fn field(&mut self, name: &str, value: String) {
        match name {
            "password" => self.password = Some(value),
            _ => self.uploader = Some(value),
        }
    }

    async fn open(&mut self, state: &AppState, _caller: &Caller) -> Result<Opened, AppError> {
        let link = &self.link;
        state
            .access
            .unlock_link(&self.visitor, link, self.password.as_deref())
            .await?;
        let uploader = self.uploader.as_deref().filter(|u| !u.trim().is_empty());
        let submission = state
            .access
            .begin_submission(&self.as_link, link, uploader)
            .await?;
        let folder = submission_folder(state, link, &submission).await?;
        self.submission = Some(submission);
        Ok(Opened {
            target: UploadTarget {
                workspace: link.workspace.clone(),
                folder,
            },
            rules: rules_of(state, link),
        })
    }
}

/// The folder a submission's files go into: the link's, or (with `subfolder_per_submission`)
/// a new subfolder of it named by [`Submission::folder_name`].
pub async fn submission_folder(
    state: &AppState,
    link: &Link,
    submission: &Submission,
) -> Result<String, AppError> {
    if !link.subfolder_per_submission {
        return Ok(link.folder.clone());
    }
    let name = crate::upload::names::sanitize_filename(&submission.folder_name());
    let node = state
        .fastio
        .create_folder(&link.workspace, &link.folder, &name)
        .await?;
    Ok(node.id)
}

/// The JSON action result's `data` of a link post.
#[derive(Serialize)]
struct VisitData {
    label: String,
    submission: Option<i64>,
    files: Vec<FileOutcome>,
}

/// `POST /r/{token}`: one submission.
#[utoipa::path(post, path = "/r/{token}", tag = "links",
    params(("token" = String, Path, min_length = 1, description = "The link's token")),
    request_body(content = serde_json::Value, content_type = "multipart/form-data",
        description = "Optional `password` and `uploader` fields, then `file` repeated"),
    responses(
        (status = 200, description = "`type` success: every file stored", body = ActionResult<serde_json::Value>),
        (status = 400, description = "An unreadable form", body = ErrorBody),
        (status = 401, description = "A wrong or missing link password", body = ErrorBody),
        (status = 403, description = "A foreign or missing Origin", body = ErrorBody),
        (status = 404, description = "No such link", body = ErrorBody),
        (status = 410, description = "The link was revoked, expired or used up", body = ErrorBody),
        (status = 413, description = "`type` failure: too large or too many files", body = ActionResult<serde_json::Value>),
        (status = 415, description = "`type` failure: a file type not accepted", body = ActionResult<serde_json::Value>),
        (status = 429, description = "Too many requests (with Retry-After)", body = ErrorBody),
        (status = 502, description = "Fast.io answered with an error", body = ErrorBody),
        (status = 503, description = "Fast.io cannot be reached", body = ErrorBody),
    ))]
pub async fn submit(
    State(state): State<AppState>,
    caller: Caller,
    Path(token): Path<String>,
    headers: HeaderMap,
    multipart: Multipart,
) -> Result<Response, AppError> {
    let json = wants_json(&headers);
    let link = state.access.open_link(&token).await?;
    let visitor = as_link(&caller, &link);
    let mut intake = LinkIntake::new(&caller, link.clone());
    let received = receive_into(&state, &visitor, &mut intake, multipart).await;
    let uploader = intake.uploader.clone().unwrap_or_default();
    let report = match received {
        Ok(report) => report,
        Err(e) => return Ok(refused(&state, &caller, &link, &token, json, uploader, e)),
    };
    let submission = intake.submission.clone();
    let report = finish(&state, &link, submission.as_ref(), report).await;
    let status = report.status;
    if json {
        let data = VisitData {
            label: link.label.clone(),
            submission: submission.as_ref().map(|s| s.id),
            files: report.outcomes,
        };
        let result = if status == StatusCode::OK {
            ActionResult::success(data)
        } else {
            ActionResult::failure(status, data)
        };
        return Ok(no_store(result.into_response()));
    }
    let mut page = page(&state, &caller, &link, &token);
    page.notice = Some(report.notice());
    page.results = report.outcomes;
    page.uploader = uploader;
    Ok(no_store((status, page).into_response()))
}

/// After the files: each stored one is recorded in the submission, the receipts lose their
/// download links, and the webhook goes out.
async fn finish(
    state: &AppState,
    link: &Link,
    submission: Option<&Submission>,
    mut report: UploadReport,
) -> UploadReport {
    let mut stored = Vec::new();
    for outcome in &mut report.outcomes {
        outcome.href = None;
        let (Some(submission), Some(size), Some(sha256), Some(node)) = (
            submission,
            outcome.size,
            outcome.sha256.clone(),
            outcome.node.clone(),
        ) else {
            continue;
        };
        let file = LinkFile {
            name: outcome.name.clone(),
            size,
            sha256,
            node,
        };
        // The limits held while streaming; this is the database's last word, logged if it
        // ever disagrees (the file is stored either way).
        match state
            .access
            .record_file(link, submission, file.clone())
            .await
        {
            Ok(()) => stored.push(file),
            Err(error) => tracing::error!(%error, link = link.id, "could not record a link file"),
        }
    }
    if let Some(s) = submission {
        let summary = Summary::new(link, s.id, s.uploader.clone(), s.started_at, stored);
        notify::submission_done(state, link, summary);
    }
    report
}

/// A post refused as a whole: a fixable refusal (400, 401, 413, 415) re-renders the page with
/// its message (JSON: the action result, or the error body for 401); anything else (410, 429,
/// 5xx) is the error.
fn refused(
    state: &AppState,
    caller: &Caller,
    link: &Link,
    token: &str,
    json: bool,
    uploader: String,
    e: AppError,
) -> Response {
    let status = e.status();
    if !matches!(status.as_u16(), 400 | 401 | 413 | 415) {
        return e.into_response();
    }
    if json {
        if status == StatusCode::UNAUTHORIZED {
            return e.into_response();
        }
        return ActionResult::failure(status, e.report().body()).into_response();
    }
    let mut page = page(state, caller, link, token);
    page.notice = Some(Notice {
        success: false,
        text: e.public_message(),
    });
    page.uploader = uploader;
    no_store((status, page).into_response())
}

/// Whether the client asked for the JSON action result.
fn wants_json(headers: &HeaderMap) -> bool {
    let accept = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    accept.contains("application/json") && !accept.contains("text/html")
}

//! Form actions of a folder page, SvelteKit's way: a form POSTs to its own page and names the
//! action in the query, `POST /w/{workspace}/{folder}?/upload|mkdir|share` (DESIGN §3).
//!
//! - `upload` (multipart, `file` repeated): handed to [`uploads::receive`], which streams each
//!   part and reports per file; the page is re-rendered with the results.
//! - `mkdir` (`name`): creates the folder, then 303 to the folder page (a reload never re-posts).
//! - `share` (`node`, optional `expires` seconds and `password`): creates a Fast.io File Share
//!   and re-renders the page with its link.
//!
//! Without JS a failure the user can fix (400, 413, 415) re-renders the page with a notice and
//! that status; with `Accept: application/json` the answer is an [`ActionResult`]. Other errors
//! (404, 429, 5xx) take the usual error shapes of [`AppError`], like SvelteKit's thrown errors.
//! Only the upload action reads a large body: the route has no framework body limit (the
//! pipeline enforces its own), and the small forms are read by [`super::form`].

use axum::handler::Handler;
use std::time::Duration;

use axum::extract::{DefaultBodyLimit, FromRequest, Multipart, Path, RawQuery, Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::post;
use secrecy::SecretString;
use serde_json::json;

use super::AppState;
use super::auth::{Caller, audit};
use super::display;
use super::form::read_fields;
use super::format;
use super::listing;
use super::pages::browse_page;
use super::templates::{FileOutcome, Notice, ShareView};
use super::uploads::{self, Destination, UploadReport};
use super::view::{ActionResult, FolderRef, ListQuery};
use crate::access::{AuditAction, Event};
use crate::fastio::{Expiry, FileShareParams, NodeType};
use crate::upload::names::{FALLBACK_NAME, sanitize_filename};
use crate::web::auth::Need;
use crate::web::error::{AppError, ErrorBody};
use crate::web::negotiate::RouteKind;
use crate::web::routes::Routes;
use axum::http::Method;

/// The longest share lifetime accepted (a year).
const MAX_SHARE_SECS: u64 = 366 * 86_400;

/// This module's routes.
pub fn routes(r: Routes) -> Routes {
    r.method_router(
        Method::POST,
        "/w/{workspace}/{folder}",
        Need::Action,
        post(act.layer(super::uploads::close_connection())).layer(DefaultBodyLimit::disable()),
    )
}

/// Where an action runs and how its caller wants the answer.
struct Target {
    state: AppState,
    caller: Caller,
    workspace: String,
    folder: String,
    json: bool,
}

/// What a successful action did.
enum Done {
    /// `mkdir`: the folder made (or the existing one of that name).
    FolderCreated(FolderRef),
    /// `share`: the link made.
    Shared(ShareView),
    /// `upload`: one outcome per file (some may have failed).
    Uploaded(UploadReport),
}

/// `POST /w/{workspace}/{folder}?/{action}`: a form action. Name it in the query (`?/upload`,
/// `?/mkdir`, `?/share`, `?/rename`, `?/move`, `?/delete`; `?/restore`, `?/purge` on `trash`);
/// with `Accept: application/json` the answer is an action result.
#[utoipa::path(post, path = "/w/{workspace}/{folder}", tag = "uploads",
    params(("workspace" = String, Path, min_length = 1, description = "Workspace id"),
        ("folder" = String, Path, min_length = 1, description = "Folder id, `root`, or `trash`")),
    request_body(content(
        (serde_json::Value = "multipart/form-data"),
        (serde_json::Value = "application/x-www-form-urlencoded"),
    ), description = "`?/upload`: multipart, `file` repeated; the other actions: their form fields"),
    responses(
        (status = 200, description = "`type` success: what the action did", body = ActionResult<serde_json::Value>),
        (status = 400, description = "A failure to fix (unknown action, bad field, unreadable form): `type` failure", body = ActionResult<serde_json::Value>),
        (status = 409, description = "A conflict (a name taken): `type` failure", body = ActionResult<serde_json::Value>),
        (status = 413, description = "Too large or too many files: `type` failure with the per-file outcomes", body = ActionResult<serde_json::Value>),
        (status = 415, description = "A file type not accepted: `type` failure with the per-file outcomes", body = ActionResult<serde_json::Value>),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "The role does not allow this, or a foreign or missing Origin", body = ErrorBody),
        (status = 404, description = "No such workspace, folder or node here", body = ErrorBody),
        (status = 408, description = "The upload took longer than FASTGATE_UPLOAD_TIMEOUT", body = ErrorBody),
        (status = 429, description = "Too many requests (with Retry-After)", body = ErrorBody),
        (status = 502, description = "Fast.io answered with an error or could not store a file", body = ErrorBody),
        (status = 503, description = "Fast.io cannot be reached, or the gateway is shutting down", body = ErrorBody),
    ))]
async fn act(
    State(state): State<AppState>,
    caller: Caller,
    Path((workspace, folder)): Path<(String, String)>,
    RawQuery(query): RawQuery,
    request: Request,
) -> Response {
    let target = Target {
        caller,
        json: RouteKind::of(&request) == RouteKind::Api,
        state,
        workspace,
        folder,
    };
    if super::file_actions::handles(query.as_deref().unwrap_or("")) {
        let action = query.as_deref().unwrap_or("");
        let t = &target;
        return super::file_actions::act(
            &t.state,
            &t.caller,
            &t.workspace,
            &t.folder,
            t.json,
            action,
            request,
        )
        .await;
    }
    let done = match query.as_deref().unwrap_or("") {
        "/upload" => upload(&target, request).await,
        "/mkdir" => mkdir(&target, request).await,
        "/share" => share(&target, request).await,
        _ => Err(AppError::BadRequest(
            "unknown action: post to ?/upload, ?/mkdir, ?/share, ?/rename, ?/move, ?/delete, ?/restore or ?/purge".into(),
        )),
    };
    match done {
        Ok(done) => succeeded(&target, done).await,
        Err(e) => failed(&target, e).await,
    }
}

async fn upload(t: &Target, request: Request) -> Result<Done, AppError> {
    listing::ensure_exposed(&t.state, &t.workspace)?;
    let multipart = Multipart::from_request(request, &t.state)
        .await
        .map_err(|e| AppError::BadRequest(format!("an upload must be multipart/form-data: {e}")))?;
    let destination = Destination::Folder {
        workspace: t.workspace.clone(),
        folder: t.folder.clone(),
    };
    Ok(Done::Uploaded(
        uploads::receive(&t.state, &t.caller, destination, multipart).await?,
    ))
}

async fn mkdir(t: &Target, request: Request) -> Result<Done, AppError> {
    listing::ensure_exposed(&t.state, &t.workspace)?;
    let fields = read_fields(&t.state, request).await?;
    let raw = fields.get("name").map_or("", |n| n.trim());
    if raw.is_empty() {
        return Err(AppError::BadRequest(
            "Enter a name for the new folder.".into(),
        ));
    }
    let name = sanitize_filename(raw);
    if name == FALLBACK_NAME && raw != FALLBACK_NAME {
        return Err(AppError::BadRequest(format!(
            "“{raw}” cannot be used as a folder name."
        )));
    }
    let node = t
        .state
        .fastio
        .create_folder(&t.workspace, &t.folder, &name)
        .await?;
    let event = Event::new(AuditAction::FolderCreated)
        .workspace(&t.workspace)
        .target(&node.id)
        .detail(&node.name);
    audit::record(&t.state, &t.caller, event).await;
    Ok(Done::FolderCreated(FolderRef {
        id: node.id,
        name: node.name,
    }))
}

async fn share(t: &Target, request: Request) -> Result<Done, AppError> {
    listing::ensure_exposed(&t.state, &t.workspace)?;
    let fields = read_fields(&t.state, request).await?;
    let node = fields.get("node").map_or("", |n| n.trim());
    if node.is_empty() {
        return Err(AppError::BadRequest("Choose a file to share.".into()));
    }
    let expires = match fields
        .get("expires")
        .map(|e| e.trim())
        .filter(|e| !e.is_empty())
    {
        None => None,
        Some(e) => Some(
            e.parse::<u64>()
                .ok()
                .filter(|s| (1..=MAX_SHARE_SECS).contains(s))
                .map(Duration::from_secs)
                .ok_or_else(|| {
                    AppError::BadRequest(
                        "expires must be a number of seconds, at most a year".into(),
                    )
                })?,
        ),
    };
    let password = fields.get("password").filter(|p| !p.is_empty());
    if password.is_some_and(|p| p.chars().count() > 255) {
        return Err(AppError::BadRequest(
            "The password can be at most 255 characters.".into(),
        ));
    }
    let file = t
        .state
        .fastio
        .node(&t.workspace, node)
        .await
        .map_err(|e| match e {
            crate::fastio::Error::NotFound { .. } => AppError::NotFound("no such file".into()),
            other => other.into(),
        })?;
    if file.node_type == NodeType::Folder {
        return Err(AppError::BadRequest(
            "Only files can be shared from here.".into(),
        ));
    }
    let params = FileShareParams {
        node: file.id.clone(),
        password: password.map(|p| SecretString::from(p.clone())),
        expires: expires.map(Expiry::After),
        ..FileShareParams::default()
    };
    let created = t
        .state
        .fastio
        .create_file_share(&t.workspace, &params)
        .await?;
    let url = created
        .web_url
        .ok_or_else(|| AppError::Upstream("the file share came back without a link".into()))?;
    let event = Event::new(AuditAction::ShareCreated)
        .workspace(&t.workspace)
        .target(&file.id)
        .detail(&file.name);
    audit::record(&t.state, &t.caller, event).await;
    Ok(Done::Shared(ShareView {
        name: file.name,
        url,
        expires: expires.map(|d| {
            let at = chrono::Utc::now() + chrono::Duration::seconds(d.as_secs() as i64);
            format::full_date(at)
        }),
        password_protected: password.is_some(),
    }))
}

/// The answer to a successful action.
async fn succeeded(t: &Target, done: Done) -> Response {
    match (done, t.json) {
        (Done::FolderCreated(folder), true) => {
            let location = display::folder_href(&t.workspace, &folder.id);
            ActionResult::success(json!({"folder": folder, "location": location})).into_response()
        }
        (Done::FolderCreated(_), false) => {
            Redirect::to(&display::folder_href(&t.workspace, &t.folder)).into_response()
        }
        (Done::Shared(share), true) => {
            ActionResult::success(json!({"share": share})).into_response()
        }
        (Done::Shared(share), false) => page(t, StatusCode::OK, |p| p.share = Some(share)).await,
        (Done::Uploaded(report), true) => {
            let data = json!({
                "workspace": report.workspace,
                "folder": report.folder,
                "files": report.outcomes,
            });
            if report.status.is_success() {
                ActionResult::success(data).into_response()
            } else {
                ActionResult::failure(report.status, data).into_response()
            }
        }
        (Done::Uploaded(report), false) => {
            let notice = upload_notice(&report.outcomes);
            page(t, report.status, |p| {
                p.results = report.outcomes;
                p.notice = Some(notice);
            })
            .await
        }
    }
}

/// The answer to a failed action: a fixable one is re-rendered in place, others are errors.
async fn failed(t: &Target, e: AppError) -> Response {
    let status = e.status();
    let fixable = matches!(status.as_u16(), 400 | 413 | 415);
    if !fixable {
        return e.into_response();
    }
    if t.json {
        return ActionResult::failure(status, e.report().body()).into_response();
    }
    let text = e.public_message();
    let response = page(t, status, |p| {
        p.notice = Some(Notice {
            success: false,
            text,
        });
    })
    .await;
    // The page could not be shown (e.g. the folder is gone): show the action's error instead.
    if response.status() == status {
        response
    } else {
        e.into_response()
    }
}

/// The folder page re-rendered with `edit` applied, answered with `status`.
async fn page(
    t: &Target,
    status: StatusCode,
    edit: impl FnOnce(&mut super::templates::BrowsePage),
) -> Response {
    let params = match ListQuery::default().validate() {
        Ok(p) => p,
        Err(e) => return e.into_response(),
    };
    match browse_page(&t.state, &t.caller, &t.workspace, &t.folder, &params).await {
        Ok(mut p) => {
            edit(&mut p);
            let mut response = p.into_response();
            if response.status().is_success() {
                *response.status_mut() = status;
            }
            response
        }
        Err(e) => e.into_response(),
    }
}

/// "3 files uploaded." / "2 of 3 files uploaded; see below for the other."
fn upload_notice(outcomes: &[FileOutcome]) -> Notice {
    let stored = outcomes.iter().filter(|o| o.ok()).count();
    let total = outcomes.len();
    let files = |n: usize| if n == 1 { "file" } else { "files" };
    if stored == total {
        Notice {
            success: true,
            text: format!("{total} {} uploaded.", files(total)),
        }
    } else {
        Notice {
            success: false,
            text: format!(
                "{stored} of {total} {} uploaded; see below for what went wrong.",
                files(total)
            ),
        }
    }
}

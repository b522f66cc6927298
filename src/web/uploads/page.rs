//! The stand-alone upload page: `GET /upload` (workspace and folder pickers) and `POST /upload`
//! (the form action: the page again with the results, or the JSON action result).

use axum::extract::{Multipart, Query, State};
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::{Destination, receive};
use crate::fastio::{ListQuery, NodeType, PageSize};
use crate::web::AppState;
use crate::web::auth::Caller;
use crate::web::error::{AppError, ErrorBody};
use crate::web::templates::{Choice, Chrome, FileOutcome, Limits, Notice, UploadPage};
use crate::web::view::ActionResult;

/// `?workspace=` on the upload page.
#[derive(Debug, Deserialize)]
pub(super) struct PageQuery {
    workspace: Option<String>,
}

/// `GET /upload`.
pub(super) async fn show_page(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<PageQuery>,
) -> Result<UploadPage, AppError> {
    let page = upload_page(&state, &caller, q.workspace, None, Vec::new(), None).await?;
    Ok(page)
}

/// `POST /upload`: the page with the results, or the JSON action result.
#[utoipa::path(post, path = "/upload", tag = "uploads",
    request_body(content = serde_json::Value, content_type = "multipart/form-data",
        description = "`workspace` and `folder` fields, then `file` repeated"),
    responses(
        (status = 200, description = "`type` success: every file stored", body = ActionResult<serde_json::Value>),
        (status = 400, description = "No workspace, a bad field or an unreadable form", body = ErrorBody),
        (status = 413, description = "`type` failure: a file too large or too many files", body = ActionResult<serde_json::Value>),
        (status = 415, description = "`type` failure: a file type not accepted", body = ActionResult<serde_json::Value>),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "The role does not allow this, or a foreign or missing Origin", body = ErrorBody),
        (status = 404, description = "No such workspace, folder or node here", body = ErrorBody),
        (status = 408, description = "The upload took longer than FASTGATE_UPLOAD_TIMEOUT", body = ErrorBody),
        (status = 429, description = "Too many requests (with Retry-After)", body = ErrorBody),
        (status = 502, description = "Fast.io answered with an error or could not store a file", body = ErrorBody),
        (status = 503, description = "Fast.io cannot be reached, or the gateway is shutting down", body = ErrorBody),
    ))]
pub(crate) async fn post_upload(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    multipart: Multipart,
) -> Result<Response, AppError> {
    let report = receive(&state, &caller, Destination::from_form(), multipart).await?;
    if wants_json(&headers) {
        return Ok(report.action_result().into_response());
    }
    let notice = report.notice();
    let status = report.status;
    let page = upload_page(
        &state,
        &caller,
        Some(report.workspace),
        Some(report.folder),
        report.outcomes,
        Some(notice),
    )
    .await?;
    Ok((status, page).into_response())
}

/// Whether the client asked for the JSON action result.
fn wants_json(headers: &HeaderMap) -> bool {
    let accept = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    accept.contains("application/json") && !accept.contains("text/html")
}

/// The upload page: the exposed workspaces the caller may upload to (one selected), the
/// selected one's top folders.
async fn upload_page(
    state: &AppState,
    caller: &Caller,
    workspace: Option<String>,
    folder: Option<String>,
    results: Vec<FileOutcome>,
    notice: Option<Notice>,
) -> Result<UploadPage, AppError> {
    let all = state.fastio.list_workspaces().await?;
    let exposed: Vec<_> = all
        .into_iter()
        .filter(|w| state.exposes(&w.id) && caller.allow(&w.id).is_ok())
        .collect();
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
        let page = state.fastio.list_folder(ws, "root", &query).await?;
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
        chrome: Chrome::of(caller, selected.as_deref()),
        workspaces,
        folders,
        limits: Limits::from_config(&state.config),
        results,
        notice,
    })
}

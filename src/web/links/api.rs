//! The JSON API of upload-request links: `POST /api/links` → 201 `{"id", "url", …the link}`
//! (the token is in `url`, shown this once), `GET /api/links` → `{"items": [link…]}`,
//! `GET /api/links/{id}` → the link with its `submissions`, `DELETE /api/links/{id}` → 204.

use std::time::Duration;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use secrecy::{ExposeSecret as _, SecretString};
use serde::Deserialize;
use serde_json::{Value, json};

use super::link_url;
use crate::access::{Link, NewLink};
use crate::upload::rules::AllowedTypes;
use crate::web::AppState;
use crate::web::auth::Caller;
use crate::web::error::AppError;
use crate::web::listing::{self, ROOT};

/// The longest a link may live (a year and a day).
pub const MAX_LINK_SECS: u64 = 366 * 86_400;

/// The body of `POST /api/links` (and, as text fields, of the create form).
#[derive(Clone, Debug, Default, Deserialize)]
pub struct LinkRequest {
    /// Workspace id.
    pub workspace: String,
    /// Folder node id, or `root`.
    #[serde(default)]
    pub folder: Option<String>,
    /// The title uploaders see.
    pub label: String,
    /// Lifetime in seconds.
    pub expires_in: u64,
    /// Optional password.
    #[serde(default)]
    pub password: Option<String>,
    /// Files per submission.
    #[serde(default)]
    pub max_files: Option<u64>,
    /// Bytes per submission.
    #[serde(default)]
    pub max_bytes: Option<u64>,
    /// Bytes per file (at most the gateway's).
    #[serde(default)]
    pub max_file_size: Option<u64>,
    /// Allowed types (within the gateway's).
    #[serde(default)]
    pub allowed_types: Option<String>,
    /// Submissions in total.
    #[serde(default)]
    pub max_uses: Option<u64>,
    /// One subfolder per submission.
    #[serde(default)]
    pub subfolder_per_submission: bool,
    /// Webhook URL.
    #[serde(default)]
    pub notify_url: Option<String>,
}

/// Checks a request against the gateway (workspace exposed and allowed to the caller, folder
/// exists, limits within the gateway's) and turns it into a [`NewLink`]; [`crate::access`]
/// checks the rest (label, expiry, URL, the caller's role) when it creates the link.
pub async fn validate(
    state: &AppState,
    caller: &Caller,
    req: LinkRequest,
) -> Result<NewLink, AppError> {
    caller.allow(&req.workspace)?;
    // Exposed, and there upstream (with `FASTGATE_WORKSPACES=*` any id is exposed).
    listing::workspace_name(state, &req.workspace).await?;
    let folder = req
        .folder
        .map(|f| f.trim().to_owned())
        .filter(|f| !f.is_empty())
        .unwrap_or_else(|| ROOT.to_owned());
    if folder != ROOT {
        let node = state.fastio.node(&req.workspace, &folder).await?;
        if node.node_type != crate::fastio::NodeType::Folder {
            return Err(AppError::BadRequest(
                "the folder is a file, not a folder".into(),
            ));
        }
    }
    if !(1..=MAX_LINK_SECS).contains(&req.expires_in) {
        return Err(AppError::BadRequest(
            "expires_in is a number of seconds, at most a year".into(),
        ));
    }
    let gateway_max = state.config.max_file_size;
    if req.max_file_size.is_some_and(|m| m > gateway_max) {
        return Err(AppError::BadRequest(format!(
            "max_file_size may be at most the gateway's, {gateway_max} bytes"
        )));
    }
    let allowed_types = match req.allowed_types.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(text) => {
            let types: AllowedTypes =
                text.parse()
                    .map_err(|e: crate::upload::rules::RuleParseError| {
                        AppError::BadRequest(e.to_string())
                    })?;
            if types == AllowedTypes::Any {
                None
            } else {
                types.within(&state.config.allowed_types).map_err(|rule| {
                    AppError::BadRequest(format!(
                        "allowed_types must be within the gateway's ({}); “{rule}” is not",
                        state.config.allowed_types.accept_attribute()
                    ))
                })?;
                Some(text.to_owned())
            }
        }
    };
    let password = req.password.filter(|p| !p.is_empty());
    if password.as_ref().is_some_and(|p| p.chars().count() > 255) {
        return Err(AppError::BadRequest(
            "the password can be at most 255 characters".into(),
        ));
    }
    Ok(NewLink {
        workspace: req.workspace,
        folder,
        label: req.label,
        expires_in: Duration::from_secs(req.expires_in),
        password: password.map(SecretString::from),
        max_files: req.max_files,
        max_bytes: req.max_bytes,
        max_file_size: req.max_file_size,
        allowed_types,
        max_uses: req.max_uses,
        subfolder_per_submission: req.subfolder_per_submission,
        notify_url: req
            .notify_url
            .map(|u| u.trim().to_owned())
            .filter(|u| !u.is_empty()),
    })
}

/// Creates the link of `req`: the link and its URL (shown this once).
pub async fn create_link(
    state: &AppState,
    caller: &Caller,
    req: LinkRequest,
) -> Result<(Link, String), AppError> {
    let new = validate(state, caller, req).await?;
    let (link, token) = state
        .access
        .create_link(&caller.ctx(), caller.principal()?, new)
        .await?;
    let url = link_url(&state.config.public_url, token.expose_secret());
    Ok((link, url))
}

/// `POST /api/links` → 201 with the link and its `url`.
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    Json(req): Json<LinkRequest>,
) -> Result<(StatusCode, Json<Value>), AppError> {
    let (link, url) = create_link(&state, &caller, req).await?;
    let mut body = serde_json::to_value(&link).map_err(|e| AppError::Internal(e.to_string()))?;
    body["url"] = Value::String(url);
    Ok((StatusCode::CREATED, Json(body)))
}

/// `GET /api/links`: the links the caller manages, newest first.
pub async fn list(State(state): State<AppState>, caller: Caller) -> Result<Json<Value>, AppError> {
    let links = state.access.links(caller.principal()?).await?;
    Ok(Json(json!({ "items": links })))
}

/// `GET /api/links/{id}`: one link with its submissions (404 unless the caller manages it).
pub async fn details(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> Result<Json<Value>, AppError> {
    let details = state.access.link(caller.principal()?, id).await?;
    Ok(Json(
        serde_json::to_value(&details).map_err(|e| AppError::Internal(e.to_string()))?,
    ))
}

/// `DELETE /api/links/{id}` → 204: revoked at once, on every replica.
pub async fn revoke(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> Result<StatusCode, AppError> {
    state
        .access
        .revoke_link(&caller.ctx(), caller.principal()?, id)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

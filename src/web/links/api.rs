//! The JSON API of upload-request links: `POST /api/links` → 201 `{"id", "url", …the link}`
//! (the token is in `url`, shown this once), `GET /api/links` → `{"items": [link…]}`,
//! `GET /api/links/{id}` → the link with its `submissions`, `DELETE /api/links/{id}` → 204.

use std::time::Duration;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use secrecy::{ExposeSecret as _, SecretString};
use serde::{Deserialize, Serialize};

use super::link_url;
use crate::access::{Link, LinkDetails, NewLink};
use crate::upload::rules::AllowedTypes;
use crate::web::AppState;
use crate::web::auth::Caller;
use crate::web::error::{AppError, ErrorBody};
use crate::web::listing::{self, ROOT};

/// The longest a link may live (a year and a day).
pub const MAX_LINK_SECS: u64 = 366 * 86_400;

/// The body of `POST /api/links` (and, as text fields, of the create form).
#[derive(Clone, Debug, Default, Deserialize, utoipa::ToSchema)]
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

/// A link just made, with its URL (shown this once: only its hash is stored).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CreatedLink {
    /// The link.
    #[serde(flatten)]
    pub link: Link,
    /// `<FASTGATE_PUBLIC_URL>/r/<token>`.
    pub url: String,
}

/// `{"items": [link…]}`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct LinkList {
    /// The links, newest first.
    pub items: Vec<Link>,
}

/// `POST /api/links` → 201 with the link and its `url`.
#[utoipa::path(post, path = "/api/links", tag = "links", request_body = LinkRequest,
    responses(
        (status = 201, description = "The link and its URL, shown this once", body = CreatedLink),
        (status = 400, description = "A bad body or value", body = ErrorBody),
        (status = 401, description = "Not signed in, or a wrong or missing link password", body = ErrorBody),
        (status = 403, description = "The role does not allow this", body = ErrorBody),
        (status = 404, description = "No such workspace, folder, link or upload here", body = ErrorBody),
        (status = 415, description = "A file type not accepted, or a body that is not JSON", body = ErrorBody),
        (status = 422, description = "The JSON lacks a field or has one of the wrong type", body = ErrorBody),
        (status = 429, description = "Too many requests (with Retry-After)", body = ErrorBody),
        (status = 502, description = "Fast.io answered with an error", body = ErrorBody),
        (status = 503, description = "Fast.io or the access database cannot be reached", body = ErrorBody),
    ))]
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    Json(req): Json<LinkRequest>,
) -> Result<(StatusCode, Json<CreatedLink>), AppError> {
    let (link, url) = create_link(&state, &caller, req).await?;
    Ok((StatusCode::CREATED, Json(CreatedLink { link, url })))
}

/// `GET /api/links`: the links the caller manages, newest first.
#[utoipa::path(get, path = "/api/links", tag = "links",
    responses(
        (status = 200, description = "The links the caller manages", body = LinkList),
        (status = 401, description = "Not signed in, or a wrong or missing link password", body = ErrorBody),
        (status = 403, description = "The role does not allow this", body = ErrorBody),
        (status = 503, description = "Fast.io or the access database cannot be reached", body = ErrorBody),
    ))]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<LinkList>, AppError> {
    let items = state.access.links(caller.principal()?).await?;
    Ok(Json(LinkList { items }))
}

/// `GET /api/links/{id}`: one link with its submissions (404 unless the caller manages it).
#[utoipa::path(get, path = "/api/links/{id}", tag = "links", params(("id" = i64, Path, description = "Link id")),
    responses(
        (status = 200, description = "The link with its submissions", body = LinkDetails),
        (status = 400, description = "The id is not a number", body = ErrorBody),
        (status = 401, description = "Not signed in, or a wrong or missing link password", body = ErrorBody),
        (status = 403, description = "The role does not allow this", body = ErrorBody),
        (status = 404, description = "No such workspace, folder, link or upload here", body = ErrorBody),
        (status = 503, description = "Fast.io or the access database cannot be reached", body = ErrorBody),
    ))]
pub async fn details(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> Result<Json<LinkDetails>, AppError> {
    Ok(Json(state.access.link(caller.principal()?, id).await?))
}

/// `DELETE /api/links/{id}` → 204: revoked at once, on every replica.
#[utoipa::path(delete, path = "/api/links/{id}", tag = "links", params(("id" = i64, Path, description = "Link id")),
    responses(
        (status = 204, description = "Revoked"),
        (status = 400, description = "The id is not a number", body = ErrorBody),
        (status = 401, description = "Not signed in, or a wrong or missing link password", body = ErrorBody),
        (status = 403, description = "The role does not allow this", body = ErrorBody),
        (status = 404, description = "No such workspace, folder, link or upload here", body = ErrorBody),
        (status = 503, description = "Fast.io or the access database cannot be reached", body = ErrorBody),
    ))]
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

//! The JS path of a link. A submission on this path spans several requests, so it is delimited
//! by the page visit: the first `POST /r/{token}/uploads` of a visit checks the password, takes
//! a use and begins the submission (making its subfolder if the link asks for one), and answers
//! with the file's usual ticket plus a signed `submission` token; the page sends that token with
//! every later create of the visit (which then joins the same submission, without a password or
//! a new use) and, once its queue has settled, with `POST /r/{token}/done`, which sends the
//! webhook with the submission's stored files. A script does the same.
//!
//! Each create reserves the file in the submission ([`crate::access::Access::reserve_file`])
//! right after opening its Fast.io session and before any byte goes up: past the link's file
//! count or total bytes it is refused (413) and the session cancelled. The file's upload token
//! carries the link's claims ([`LinkClaims`]), so chunk 1 is checked against the link's types
//! too, every chunk PUT and `complete` re-check that the link is not revoked or expired (one
//! query, 410 and the session cancelled), `complete` turns the reservation into the stored
//! file, and `DELETE` gives it back.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};

use super::as_link;
use super::notify::{self, Summary};
use super::visit::{rules_of, submission_folder};
use crate::access::{self, Ctx, Link, LinkFile};
use crate::upload::chunked::{LinkUpload, NewUpload, StoredUpload, Ticket};
use crate::upload::error::FileError;
use crate::upload::token::{LinkClaims, TokenError, UploadClaims};
use crate::web::AppState;
use crate::web::auth::Caller;
use crate::web::error::{AppError, ErrorBody};

/// A JS submission, as the page holds it between requests: signed with the gateway secret
/// like an upload token, so any replica accepts it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubmissionClaims {
    /// The link's id.
    #[serde(rename = "sl")]
    pub link: i64,
    /// The submission's id.
    #[serde(rename = "ss")]
    pub submission: i64,
    /// The folder its files go into (the link's, or its own subfolder).
    #[serde(rename = "sf")]
    pub folder: String,
    /// Expiry, Unix seconds.
    #[serde(rename = "se")]
    pub expires: i64,
}

/// The body of `POST /r/{token}/uploads`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct LinkUploadBody {
    /// The file's name.
    pub name: String,
    /// Its size in bytes.
    pub size: u64,
    /// The link's password (first create of a visit only).
    #[serde(default)]
    pub password: Option<String>,
    /// The uploader's name (first create of a visit only).
    #[serde(default)]
    pub uploader: Option<String>,
    /// The `submission` token of an earlier create of this visit.
    #[serde(default)]
    pub submission: Option<String>,
}

/// The answer to `POST /r/{token}/uploads`: the usual ticket and the submission token.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct LinkTicket {
    /// Upload id, token, chunk plan…
    #[serde(flatten)]
    pub ticket: Ticket,
    /// The submission token to send with the visit's later creates and with `done`.
    pub submission: String,
    /// The submission's id.
    pub submission_id: i64,
}

/// The claims of a submission token, checked (signature, expiry).
fn submission_claims(state: &AppState, token: &str) -> Result<SubmissionClaims, AppError> {
    let claims: SubmissionClaims = state.tokens.open(token)?;
    if chrono::Utc::now().timestamp() >= claims.expires {
        return Err(TokenError::Expired.into());
    }
    Ok(claims)
}

/// The link and submission of a create: joined from the visit's token, or begun now.
async fn submission_of(
    state: &AppState,
    caller: &Caller,
    token: &str,
    body: &LinkUploadBody,
) -> Result<(Link, SubmissionClaims, Option<String>), AppError> {
    if let Some(held) = body.submission.as_deref().filter(|s| !s.is_empty()) {
        let claims = submission_claims(state, held)?;
        let link = state.access.link_in_use(claims.link).await?;
        return Ok((link, claims, None));
    }
    let link = state.access.open_link(token).await?;
    let visitor = Ctx::anonymous(caller.ip, caller.request_id.clone());
    state
        .access
        .unlock_link(&visitor, &link, body.password.as_deref())
        .await?;
    let uploader = body.uploader.as_deref().filter(|u| !u.trim().is_empty());
    let submission = state
        .access
        .begin_submission(&as_link(caller, &link).ctx(), &link, uploader)
        .await?;
    let folder = submission_folder(state, &link, &submission).await?;
    let ttl = i64::try_from(state.config.upload_token_ttl.as_secs()).unwrap_or(i64::MAX / 2);
    let claims = SubmissionClaims {
        link: link.id,
        submission: submission.id,
        folder,
        expires: chrono::Utc::now().timestamp().saturating_add(ttl),
    };
    let signed = state.tokens.sign(&claims);
    Ok((link, claims, Some(signed)))
}

/// `POST /r/{token}/uploads` → 201 with the ticket (see the module docs).
#[utoipa::path(post, path = "/r/{token}/uploads", tag = "links", request_body = LinkUploadBody, params(("token" = String, Path, min_length = 1, description = "The link's token (the last part of its URL)")),
    responses(
        (status = 201, description = "The ticket of one file of the submission", body = LinkTicket),
        (status = 400, description = "A bad body or value", body = ErrorBody),
        (status = 401, description = "A wrong or missing link password, or a forged or expired submission token", body = ErrorBody),
        (status = 404, description = "No such link here", body = ErrorBody),
        (status = 410, description = "The link was revoked, expired or used up", body = ErrorBody),
        (status = 413, description = "Larger than the gateway's or the link's limit", body = ErrorBody),
        (status = 415, description = "A file type not accepted, or a body that is not JSON", body = ErrorBody),
        (status = 422, description = "The JSON lacks a field or has one of the wrong type", body = ErrorBody),
        (status = 429, description = "Too many requests (with Retry-After)", body = ErrorBody),
        (status = 502, description = "Fast.io answered with an error", body = ErrorBody),
        (status = 503, description = "Fast.io or the access database cannot be reached", body = ErrorBody),
    ))]
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    Path(token): Path<String>,
    Json(body): Json<LinkUploadBody>,
) -> Result<(StatusCode, Json<LinkTicket>), AppError> {
    let (link, sub, signed) = submission_of(&state, &caller, &token, &body).await?;
    let rules = rules_of(&state, &link);
    if let Some(max) = link.max_bytes.filter(|m| body.size > *m) {
        return Err(AppError::PostTooLarge { limit: max });
    }
    let upload = NewUpload {
        workspace: link.workspace.clone(),
        folder: sub.folder.clone(),
        name: body.name,
        size: body.size,
        relative_path: None,
        link: Some(LinkUpload {
            claims: LinkClaims {
                id: link.id,
                submission: sub.submission,
                types: link.allowed_types.clone(),
            },
            max_file_size: Some(rules.max_file_size),
        }),
    };
    let ticket = state.chunked.create(upload).await?;
    let reserved = state
        .access
        .reserve_file(&link, sub.submission, &ticket.id, &ticket.name, body.size)
        .await;
    if let Err(e) = reserved {
        // Refused before any byte went up: drop the session so nothing is left behind.
        let cancelled = match state.chunked.claims(&ticket.token, &ticket.id) {
            Ok(claims) => state.chunked.cancel(&claims).await.map(|_| ()),
            Err(_) => Ok(()),
        };
        if let Err(error) = cancelled {
            tracing::warn!(%error, "could not cancel a refused link upload session");
        }
        return Err(e.into());
    }
    let submission = signed.unwrap_or_else(|| body.submission.unwrap_or_default());
    Ok((
        StatusCode::CREATED,
        Json(LinkTicket {
            ticket,
            submission,
            submission_id: sub.submission,
        }),
    ))
}

/// The body of `POST /r/{token}/done`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct DoneBody {
    /// The visit's submission token.
    pub submission: String,
}

/// What `done` answers: the submission's stored files.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct DoneAnswer {
    /// The submission's id.
    pub submission: i64,
    /// Its stored files.
    pub files: Vec<LinkFile>,
}

/// `POST /r/{token}/done`: the visit's submission is over; its webhook goes out.
#[utoipa::path(post, path = "/r/{token}/done", tag = "links", request_body = DoneBody, params(("token" = String, Path, min_length = 1, description = "The link's token (the last part of its URL)")),
    responses(
        (status = 200, description = "The submission's stored files", body = DoneAnswer),
        (status = 400, description = "A bad body or value", body = ErrorBody),
        (status = 401, description = "A wrong or missing link password, or a forged or expired submission token", body = ErrorBody),
        (status = 404, description = "No such link here", body = ErrorBody),
        (status = 410, description = "The link was revoked, expired or used up", body = ErrorBody),
        (status = 415, description = "A file type not accepted, or a body that is not JSON", body = ErrorBody),
        (status = 422, description = "The JSON lacks a field or has one of the wrong type", body = ErrorBody),
        (status = 503, description = "Fast.io or the access database cannot be reached", body = ErrorBody),
    ))]
pub async fn done(
    State(state): State<AppState>,
    Json(body): Json<DoneBody>,
) -> Result<Json<DoneAnswer>, AppError> {
    let claims = submission_claims(&state, &body.submission)?;
    let link = state.access.link_in_use(claims.link).await?;
    let info = state.access.submission(link.id, claims.submission).await?;
    let summary = Summary::new(
        &link,
        info.id,
        info.uploader.clone(),
        info.started_at,
        info.files.clone(),
    );
    notify::submission_done(&state, &link, summary);
    Ok(Json(DoneAnswer {
        submission: info.id,
        files: info.files,
    }))
}

/// Before a chunk or `complete` of a link upload: is its link still open? When revoked or
/// expired, the session is cancelled and its reservation given back, and the answer is 410.
/// `Ok(None)` for uploads that are not through a link.
pub async fn link_still_open(
    state: &AppState,
    claims: &UploadClaims,
) -> Result<Option<Link>, AppError> {
    let Some(l) = &claims.link else {
        return Ok(None);
    };
    match state.access.link_in_use(l.id).await {
        Ok(link) => Ok(Some(link)),
        Err(e @ (access::Error::LinkRevoked | access::Error::LinkExpired)) => {
            if let Err(error) = state.chunked.cancel(claims).await {
                tracing::warn!(%error, "could not cancel the upload of a closed link");
            }
            release(state, claims).await;
            Err(e.into())
        }
        Err(e) => Err(e.into()),
    }
}

/// After `complete` of a link upload: the stored file takes its reservation's place; an upload
/// that ended without being stored gives the reservation back. The caller acts as the link.
pub async fn completed(
    state: &AppState,
    claims: &UploadClaims,
    result: &Result<StoredUpload, FileError>,
) {
    let Some(l) = &claims.link else {
        return;
    };
    match result {
        Ok(stored) => {
            let file = LinkFile {
                name: stored.name.clone(),
                size: stored.size,
                sha256: stored.sha256.clone().unwrap_or_default(),
                node: stored.node_id.clone(),
            };
            let recorded = state
                .access
                .store_reserved_file(l.submission, &claims.session, file)
                .await;
            if let Err(error) = recorded {
                tracing::error!(%error, link = l.id, "could not record a link file");
            }
        }
        Err(FileError::Ended { .. }) => release(state, claims).await,
        Err(_) => {}
    }
}

/// Gives back the reservation of a link upload that will never be stored.
pub async fn release(state: &AppState, claims: &UploadClaims) {
    let Some(l) = &claims.link else {
        return;
    };
    let released = state
        .access
        .release_file(l.submission, &claims.session, claims.size)
        .await;
    if let Err(error) = released {
        tracing::error!(%error, link = l.id, "could not release a link file reservation");
    }
}

/// The caller of a link upload's later request: the link, for the audit log.
pub fn caller_of(caller: &Caller, link: Option<&Link>) -> Caller {
    link.map_or_else(|| caller.clone(), |l| as_link(caller, l))
}

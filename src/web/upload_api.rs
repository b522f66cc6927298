//! The JSON upload API (DESIGN §3, §4 b), used by `static/upload.js` and by scripts:
//!
//! - `POST /api/uploads` {workspace, folder, name, size, relative_path?} → 201 {id, token,
//!   chunk_size, chunks, parallel, …}: creates the Fast.io chunked session (none for a file of
//!   one chunk ≤ 4 MiB, whose chunk goes up in one single call) and signs a token.
//! - `PUT /api/uploads/{id}/chunks/{n}`: raw body, `Upload-Token`, optional RFC 9530
//!   `Content-Digest`; checked against the plan and digest, then passed to Fast.io with its SHA-256.
//! - `GET /api/uploads/{id}` → state and received chunks; `POST …/complete` → receipt once
//!   `stored`; `DELETE /api/uploads/{id}` → cancelled.
//!
//! Thin adapters over [`upload::chunked`](crate::upload::chunked), which holds the domain (the
//! plan, the token, admission under the budget, wait-and-verify): a handler reads the path,
//! headers and body, checks the `Upload-Token`, calls one method and answers its JSON. `state`
//! is the gateway's own word (`receiving`, `assembling`, `stored`, `failed`, `cancelled`).

use axum::Json;
use axum::body::Body;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::handler::Handler as _;
use axum::http::{HeaderMap, StatusCode, header};
use axum::routing::put;
use serde::{Deserialize, Serialize};

use super::AppState;
use super::auth::{Caller, audit};
use super::error::{AppError, ErrorBody};
use super::links;
use crate::access::Capability;
use crate::access::{AuditAction, Event};
use crate::telemetry::{self, UploadOutcome, UploadPath};
use crate::upload::chunked::{
    ChunkReceipt, ChunkedUploads, NewUpload, Progress, StoredUpload, Ticket, UploadState,
};
use crate::upload::token::{TokenError, UploadClaims};
use crate::web::auth::Need;
use crate::web::routes::Routes;
use axum::http::Method;

/// The header carrying the upload capability.
pub const UPLOAD_TOKEN: &str = "upload-token";

/// This module's routes.
pub fn routes(r: Routes) -> Routes {
    r.post("/api/uploads", Need::InBody(Capability::Upload), create)
        .get("/api/uploads/{id}", Need::UploadToken, progress)
        .delete("/api/uploads/{id}", Need::UploadToken, cancel)
        .method_router(
            Method::PUT,
            "/api/uploads/{id}/chunks/{n}",
            Need::UploadToken,
            put(put_chunk.layer(axum::middleware::map_response(close_if_refused)))
                .layer(DefaultBodyLimit::disable()),
        )
        .post("/api/uploads/{id}/complete", Need::UploadToken, complete)
}

/// The body of `POST /api/uploads`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
struct NewUploadBody {
    workspace: String,
    #[serde(default)]
    folder: Option<String>,
    name: String,
    size: u64,
    #[serde(default)]
    relative_path: Option<String>,
}

/// `POST /api/uploads` → 201 with the ticket.
#[utoipa::path(post, path = "/api/uploads", tag = "uploads", request_body = NewUploadBody,
    responses(
        (status = 201, description = "The upload's ticket: id, token and chunk plan", body = Ticket),
        (status = 400, description = "A bad body or value", body = ErrorBody),
        (status = 401, description = "Not signed in, or the upload token is missing, forged, expired or another upload's", body = ErrorBody),
        (status = 403, description = "The role does not allow uploading here", body = ErrorBody),
        (status = 404, description = "No such workspace, folder or upload here", body = ErrorBody),
        (status = 413, description = "Larger than the gateway's or the link's limit", body = ErrorBody),
        (status = 415, description = "A file type the gateway does not accept, or a body that is not JSON", body = ErrorBody),
        (status = 422, description = "The JSON lacks a field or has one of the wrong type", body = ErrorBody),
        (status = 429, description = "Too many uploads at once, or Fast.io asks to slow down (with Retry-After)", body = ErrorBody),
        (status = 502, description = "Fast.io answered with an error or could not store the file", body = ErrorBody),
        (status = 503, description = "Fast.io cannot be reached, or the gateway is shutting down", body = ErrorBody),
    ))]
async fn create(
    State(app): State<AppState>,
    caller: Caller,
    Json(req): Json<NewUploadBody>,
) -> Result<(StatusCode, Json<Ticket>), AppError> {
    caller.allow(&req.workspace)?;
    if !app.exposes(&req.workspace) {
        return Err(AppError::NotFound(format!(
            "there is no workspace “{}” here",
            req.workspace
        )));
    }
    let folder = req.folder.filter(|f| !f.is_empty());
    let upload = NewUpload {
        workspace: req.workspace,
        folder: folder.unwrap_or_else(|| "root".to_owned()),
        name: req.name,
        size: req.size,
        relative_path: req.relative_path,
        link: None,
    };
    let ticket = app.chunked.create(upload).await?;
    Ok((StatusCode::CREATED, Json(ticket)))
}

/// `PUT /api/uploads/{id}/chunks/{n}`.
#[utoipa::path(put, path = "/api/uploads/{id}/chunks/{n}", tag = "uploads",
    params(("id" = String, Path, min_length = 1, description = "Upload id"), ("n" = u32, Path, description = "Chunk number, from 1"), ("upload-token" = String, Header, description = "The `token` of the upload's ticket"),
        ("content-digest" = Option<String>, Header, description = "RFC 9530 `sha-256=:…:` of the chunk, checked when sent")),
    request_body(content = Vec<u8>, content_type = "application/octet-stream", description = "The chunk's bytes, exactly its planned size"),
    responses(
        (status = 200, description = "The chunk is with Fast.io", body = ChunkReceipt),
        (status = 400, description = "Wrong size, a bad or mismatched digest, or the body ended early", body = ErrorBody),
        (status = 401, description = "Not signed in, or the upload token is missing, forged, expired or another upload's", body = ErrorBody),
        (status = 404, description = "No such chunk number or upload", body = ErrorBody),
        (status = 409, description = "Conflicts with the upload's state (e.g. completing a cancelled upload)", body = ErrorBody),
        (status = 410, description = "The upload-request link was revoked or expired", body = ErrorBody),
        (status = 411, description = "No Content-Length", body = ErrorBody),
        (status = 429, description = "Too many uploads at once, or Fast.io asks to slow down (with Retry-After)", body = ErrorBody),
        (status = 502, description = "Fast.io answered with an error or could not store the file", body = ErrorBody),
        (status = 503, description = "Fast.io cannot be reached, or the gateway is shutting down", body = ErrorBody),
    ))]
async fn put_chunk(
    State(app): State<AppState>,
    Path((id, n)): Path<(String, u32)>,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<ChunkReceipt>, AppError> {
    let uploads = &app.chunked;
    let claims = verify(uploads, &headers, &id)?;
    links::chunked::link_still_open(&app, &claims).await?;
    let announced = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    // A header that is not text cannot be a digest we read: refused like a malformed one.
    let digest = headers
        .get("content-digest")
        .map(|v| v.to_str().unwrap_or(""));
    let receipt = uploads
        .put_chunk(&claims, n, announced, digest, body.into_data_stream())
        .await?;
    Ok(Json(receipt))
}

/// `GET /api/uploads/{id}`: where the upload is, and which chunks Fast.io holds.
#[utoipa::path(get, path = "/api/uploads/{id}", tag = "uploads",
    params(("id" = String, Path, min_length = 1, description = "Upload id"), ("upload-token" = String, Header, description = "The `token` of the upload's ticket")),
    responses(
        (status = 200, description = "Where the upload is and which chunks Fast.io holds", body = Progress),
        (status = 401, description = "Not signed in, or the upload token is missing, forged, expired or another upload's", body = ErrorBody),
        (status = 404, description = "No such workspace, folder or upload here", body = ErrorBody),
        (status = 429, description = "Too many uploads at once, or Fast.io asks to slow down (with Retry-After)", body = ErrorBody),
        (status = 502, description = "Fast.io answered with an error or could not store the file", body = ErrorBody),
        (status = 503, description = "Fast.io cannot be reached, or the gateway is shutting down", body = ErrorBody),
    ))]
async fn progress(
    State(app): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Json<Progress>, AppError> {
    let uploads = &app.chunked;
    let claims = verify(uploads, &headers, &id)?;
    Ok(Json(uploads.progress(&claims).await?))
}

/// `POST /api/uploads/{id}/complete` → the receipt once stored and verified.
#[utoipa::path(post, path = "/api/uploads/{id}/complete", tag = "uploads",
    params(("id" = String, Path, min_length = 1, description = "Upload id"), ("upload-token" = String, Header, description = "The `token` of the upload's ticket")),
    responses(
        (status = 200, description = "Stored and verified", body = StoredUpload),
        (status = 400, description = "A bad body or value", body = ErrorBody),
        (status = 401, description = "Not signed in, or the upload token is missing, forged, expired or another upload's", body = ErrorBody),
        (status = 404, description = "No such workspace, folder or upload here", body = ErrorBody),
        (status = 409, description = "Chunks are missing, or the upload was cancelled or failed", body = ErrorBody),
        (status = 410, description = "The upload-request link was revoked or expired", body = ErrorBody),
        (status = 413, description = "Larger than the gateway's or the link's limit", body = ErrorBody),
        (status = 415, description = "A file type the gateway does not accept, or a body that is not JSON", body = ErrorBody),
        (status = 429, description = "Too many uploads at once, or Fast.io asks to slow down (with Retry-After)", body = ErrorBody),
        (status = 502, description = "Fast.io answered with an error or could not store the file", body = ErrorBody),
        (status = 503, description = "Fast.io cannot be reached, or the gateway is shutting down", body = ErrorBody),
    ))]
async fn complete(
    State(app): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Json<StoredUpload>, AppError> {
    let meter = telemetry::upload_started(UploadPath::Api);
    let uploads = &app.chunked;
    let claims = verify(uploads, &headers, &id)?;
    let link = links::chunked::link_still_open(&app, &claims).await?;
    let caller = links::chunked::caller_of(&caller, link.as_ref());
    let result = uploads.complete(&claims).await;
    links::chunked::completed(&app, &claims, &result).await;
    let result = result.map_err(AppError::from);
    meter.finish(match &result {
        Ok(_) => UploadOutcome::Stored,
        Err(e) if e.status().is_client_error() => UploadOutcome::Rejected,
        Err(_) => UploadOutcome::Failed,
    });
    let event = match &result {
        Ok(stored) => Event::new(AuditAction::UploadStored)
            .file(stored.size, stored.sha256.as_deref().unwrap_or(""))
            .target(&stored.node_id)
            .detail(&stored.name),
        Err(e) => Event::new(AuditAction::UploadFailed)
            .target(&claims.name)
            .detail(&e.public_message()),
    };
    audit::record(&app, &caller, event.workspace(&claims.workspace)).await;
    Ok(Json(result?))
}

/// The answer to `DELETE /api/uploads/{id}`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Cancelled {
    /// Upload id.
    id: String,
    /// `cancelled` (or `failed` when Fast.io had already given up).
    state: UploadState,
}

/// `DELETE /api/uploads/{id}`: cancelled. Safe to repeat.
#[utoipa::path(delete, path = "/api/uploads/{id}", tag = "uploads",
    params(("id" = String, Path, min_length = 1, description = "Upload id"), ("upload-token" = String, Header, description = "The `token` of the upload's ticket")),
    responses(
        (status = 200, description = "Cancelled", body = Cancelled),
        (status = 401, description = "Not signed in, or the upload token is missing, forged, expired or another upload's", body = ErrorBody),
        (status = 404, description = "No such workspace, folder or upload here", body = ErrorBody),
        (status = 409, description = "Already stored", body = ErrorBody),
        (status = 429, description = "Too many uploads at once, or Fast.io asks to slow down (with Retry-After)", body = ErrorBody),
        (status = 502, description = "Fast.io answered with an error or could not store the file", body = ErrorBody),
        (status = 503, description = "Fast.io cannot be reached, or the gateway is shutting down", body = ErrorBody),
    ))]
async fn cancel(
    State(app): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Json<Cancelled>, AppError> {
    let uploads = &app.chunked;
    let claims = verify(uploads, &headers, &id)?;
    let state = uploads.cancel(&claims).await?;
    links::chunked::release(&app, &claims).await;
    Ok(Json(Cancelled { id, state }))
}

/// The claims of the request's `Upload-Token`, checked for upload `id`.
fn verify(
    uploads: &ChunkedUploads,
    headers: &HeaderMap,
    id: &str,
) -> Result<UploadClaims, AppError> {
    let token = headers
        .get(UPLOAD_TOKEN)
        .and_then(|v| v.to_str().ok())
        .ok_or(TokenError::Malformed)?;
    Ok(uploads.claims(token, id)?)
}

/// `Connection: close` on a refused chunk. It is refused before (or while) its body is read,
/// so the server drops the connection after answering; saying so keeps a keep-alive client from
/// sending its next chunk into a connection that is closing. Accepted chunks keep theirs.
async fn close_if_refused(mut response: axum::response::Response) -> axum::response::Response {
    if !response.status().is_success() {
        response.headers_mut().insert(
            header::CONNECTION,
            axum::http::HeaderValue::from_static("close"),
        );
    }
    response
}

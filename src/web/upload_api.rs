//! The JSON upload API (DESIGN §3, §4 b), used by `static/upload.js` and by scripts:
//!
//! - `POST /api/uploads` {workspace, folder, name, size, relative_path?} → 201 {id, token,
//!   chunk_size, chunks, parallel, …}: creates the Fast.io chunked session and signs a token.
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
use serde::Deserialize;
use serde_json::{Value, json};

use super::AppState;
use super::auth::{Caller, audit};
use super::error::AppError;
use super::links;
use crate::access::Capability;
use crate::access::{AuditAction, Event};
use crate::telemetry::{self, UploadOutcome, UploadPath};
use crate::upload::chunked::{
    ChunkReceipt, ChunkedUploads, NewUpload, Progress, StoredUpload, Ticket,
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
#[derive(Debug, Deserialize)]
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

/// `DELETE /api/uploads/{id}`: cancelled. Safe to repeat.
async fn cancel(
    State(app): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Json<Value>, AppError> {
    let uploads = &app.chunked;
    let claims = verify(uploads, &headers, &id)?;
    let state = uploads.cancel(&claims).await?;
    links::chunked::release(&app, &claims).await;
    Ok(Json(json!({"id": id, "state": state})))
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

//! The JSON upload API (DESIGN §3, §4 b), used by `static/upload.js` and by scripts:
//!
//! - `POST /api/uploads` {workspace, folder, name, size, relative_path?} → 201 {id, token,
//!   chunk_size, chunks, parallel, …}: creates the Fast.io chunked session and signs a token.
//! - `PUT /api/uploads/{id}/chunks/{n}`: raw body, `Upload-Token`, optional RFC 9530
//!   `Content-Digest`; checked against the plan and digest, then passed to Fast.io with its SHA-256.
//! - `GET /api/uploads/{id}` → state and received chunks; `POST …/complete` → receipt once
//!   `stored`; `DELETE /api/uploads/{id}` → cancelled.
//!
//! Stateless: everything a request needs is in the signed token (session, destination, size,
//! chunk size, expiry) or in Fast.io, so any replica sharing `FASTGATE_SECRET` serves any request
//! and a restart loses nothing. Admission control: a chunk is let in only if the gateway-wide
//! in-flight budget has room for it right now; otherwise 429 with `Retry-After`, so memory never
//! piles up behind slow uploads.

use crate::telemetry::{self, UploadOutcome, UploadPath};
use std::time::Duration;

use axum::Json;
use axum::Router;
use axum::body::Body;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::routing::{post, put};
use serde::{Deserialize, Serialize};

use super::AppState;
use crate::error::AppError;
use crate::fastio::UploadTarget;
use crate::upload::chunk_plan::{
    ChunkPlan, ChunkRefused, PARALLEL_CHUNKS, PlanError, collect_chunk,
};
use crate::upload::digest::Sha256Digest;
use crate::upload::names::sanitize_filename;
use crate::upload::rules::SNIFF_LEN;
use crate::upload::token::{TokenError, UploadClaims};

/// The header carrying the upload capability.
pub const UPLOAD_TOKEN: &str = "upload-token";

/// How long a client is told to wait when the in-flight budget is full.
const BUDGET_RETRY_AFTER: Duration = Duration::from_secs(1);

/// This module's routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/uploads", post(create))
        .route(
            "/api/uploads/{id}",
            axum::routing::get(state).delete(cancel),
        )
        .route(
            "/api/uploads/{id}/chunks/{n}",
            put(put_chunk).layer(DefaultBodyLimit::disable()),
        )
        .route("/api/uploads/{id}/complete", post(complete))
}

/// The body of `POST /api/uploads`.
#[derive(Debug, Deserialize)]
struct NewUpload {
    workspace: String,
    #[serde(default)]
    folder: Option<String>,
    name: String,
    size: u64,
    /// The file's path inside a dropped or picked folder (`photos/2024/a.jpg`): its folders are
    /// created under `folder` (or reused) and the file goes into the innermost one.
    #[serde(default)]
    relative_path: Option<String>,
}

/// The answer to `POST /api/uploads`: what the client needs to send the chunks.
#[derive(Debug, Serialize)]
struct Ticket {
    id: String,
    token: String,
    chunk_size: u64,
    chunks: u32,
    parallel: u32,
    name: String,
    workspace: String,
    folder: String,
    expires: i64,
}

/// `POST /api/uploads`.
async fn create(
    State(app): State<AppState>,
    Json(req): Json<NewUpload>,
) -> Result<(StatusCode, Json<Ticket>), AppError> {
    if !app.exposes(&req.workspace) {
        return Err(AppError::NotFound(format!(
            "there is no workspace “{}” here",
            req.workspace
        )));
    }
    let name = sanitize_filename(&req.name);
    if req.size > app.config.max_file_size {
        return Err(AppError::TooLarge {
            limit: app.config.max_file_size,
        });
    }
    app.config.allowed_types.check_name(&name)?;
    let limits = app.fastio.upload_limits().await?;
    if req.size > limits.size {
        return Err(AppError::TooLarge { limit: limits.size });
    }
    let plan = ChunkPlan::choose(
        req.size,
        app.config.chunk_size,
        limits.chunk_size,
        limits.chunks,
    )
    .map_err(|e| match e {
        PlanError::Empty => AppError::BadRequest(e.to_string()),
        PlanError::TooManyChunks { .. } => AppError::TooLarge {
            limit: limits.size.min(app.config.max_file_size),
        },
    })?;
    let base = req.folder.filter(|f| !f.is_empty());
    let base = base.unwrap_or_else(|| "root".to_owned());
    let folder = nested_folder(&app, &req.workspace, base, req.relative_path.as_deref()).await?;
    let target = UploadTarget {
        workspace: req.workspace.clone(),
        folder: folder.clone(),
    };
    let id = app
        .fastio
        .create_chunked_upload(&target, &name, req.size, None)
        .await?;
    let ttl = i64::try_from(app.config.upload_token_ttl.as_secs()).unwrap_or(i64::MAX / 2);
    let claims = UploadClaims {
        session: id.clone(),
        workspace: req.workspace,
        folder,
        name,
        size: req.size,
        chunk_size: plan.chunk_size,
        expires: chrono::Utc::now().timestamp().saturating_add(ttl),
    };
    let ticket = Ticket {
        token: app.tokens.sign(&claims),
        id,
        chunk_size: plan.chunk_size,
        chunks: plan.chunks,
        parallel: PARALLEL_CHUNKS,
        name: claims.name,
        workspace: claims.workspace,
        folder: claims.folder,
        expires: claims.expires,
    };
    Ok((StatusCode::CREATED, Json(ticket)))
}

/// Creates (or finds: `create_folder` is idempotent) each folder of `relative_path` but its last
/// segment (the file itself) under `base`, returning the innermost folder's id.
async fn nested_folder(
    app: &AppState,
    workspace: &str,
    base: String,
    relative_path: Option<&str>,
) -> Result<String, AppError> {
    let Some(path) = relative_path else {
        return Ok(base);
    };
    let segments: Vec<&str> = path.split(['/', '\\']).filter(|s| !s.is_empty()).collect();
    let folders = segments.split_last().map_or(&[][..], |(_, dirs)| dirs);
    if folders.iter().any(|s| matches!(s.trim(), "." | "..")) {
        return Err(AppError::BadRequest(
            "relative_path may not contain . or .. segments".to_owned(),
        ));
    }
    let mut parent = base;
    for segment in folders {
        let name = sanitize_filename(segment);
        parent = app
            .fastio
            .create_folder(workspace, &parent, &name)
            .await?
            .id;
    }
    Ok(parent)
}

/// The answer to a chunk PUT.
#[derive(Debug, Serialize)]
struct ChunkReceipt {
    n: u32,
    size: u64,
    sha256: String,
}

/// `PUT /api/uploads/{id}/chunks/{n}`.
async fn put_chunk(
    State(app): State<AppState>,
    Path((id, n)): Path<(String, u32)>,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<ChunkReceipt>, AppError> {
    let claims = verify(&app, &headers, &id)?;
    let plan = ChunkPlan::new(claims.size, claims.chunk_size);
    let announced = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    let expected = plan.check_length(n, announced)?;
    let claimed = match headers.get("content-digest") {
        None => None,
        Some(value) => Some(
            value
                .to_str()
                .ok()
                .and_then(Sha256Digest::from_content_digest)
                .ok_or(ChunkRefused::BadDigestHeader)?,
        ),
    };
    let permit = app
        .budget
        .try_acquire(expected)
        .ok_or(AppError::RateLimited {
            retry_after: Some(BUDGET_RETRY_AFTER),
        })?;
    let chunk = collect_chunk(body.into_data_stream(), n, expected, claimed).await?;
    if n == 1 {
        let head = &chunk.bytes[..chunk.bytes.len().min(SNIFF_LEN)];
        if let Err(rejected) = app.config.allowed_types.check(&claims.name, head) {
            // The file can never be accepted: drop its session so nothing is left behind.
            if let Err(error) = app.fastio.cancel_upload(&id).await {
                tracing::warn!(%error, "could not cancel a refused upload session");
            }
            return Err(rejected.into());
        }
    }
    let sha256 = chunk.sha256.to_hex();
    app.fastio
        .upload_chunk(&id, n, chunk.bytes, &sha256)
        .await?;
    drop(permit);
    Ok(Json(ChunkReceipt {
        n,
        size: expected,
        sha256,
    }))
}

/// The answer to `GET /api/uploads/{id}`.
#[derive(Debug, Serialize)]
struct UploadState {
    id: String,
    state: String,
    received: Vec<u32>,
    chunks: u32,
    chunk_size: u64,
    size: u64,
    name: String,
    node_id: Option<String>,
    message: Option<String>,
}

/// `GET /api/uploads/{id}`: where the session is, and which chunks Fast.io holds.
async fn state(
    State(app): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Json<UploadState>, AppError> {
    let claims = verify(&app, &headers, &id)?;
    let plan = ChunkPlan::new(claims.size, claims.chunk_size);
    let session = app.fastio.upload_details(&id, None).await?;
    let received = session
        .chunks
        .iter()
        .filter(|(n, bytes)| plan.expected_len(**n).is_ok_and(|len| len == **bytes))
        .map(|(n, _)| *n)
        .collect();
    Ok(Json(UploadState {
        id,
        state: session.status.as_str().to_owned(),
        received,
        chunks: plan.chunks,
        chunk_size: plan.chunk_size,
        size: plan.size,
        name: claims.name,
        node_id: session.new_file_id,
        message: session.status_message,
    }))
}

/// What a stored upload is: the answer to `complete`.
#[derive(Debug, Serialize)]
struct Receipt {
    node_id: String,
    name: String,
    size: u64,
    sha256: Option<String>,
    workspace: String,
    folder: String,
}

/// `POST /api/uploads/{id}/complete`: every chunk in → assemble → wait (long-poll) until stored.
/// Safe to repeat: a session already assembling or stored is only waited for.
async fn complete(
    state: State<AppState>,
    id: Path<String>,
    headers: HeaderMap,
) -> Result<Json<Receipt>, AppError> {
    let meter = telemetry::upload_started(UploadPath::Api);
    let result = complete_session(state, id, headers).await;
    meter.finish(match &result {
        Ok(_) => UploadOutcome::Stored,
        Err(e) if e.status().is_client_error() => UploadOutcome::Rejected,
        Err(_) => UploadOutcome::Failed,
    });
    result
}

/// The work of [`complete`]: every chunk present, assembly triggered, stored, verified.
async fn complete_session(
    State(app): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Json<Receipt>, AppError> {
    let claims = verify(&app, &headers, &id)?;
    let plan = ChunkPlan::new(claims.size, claims.chunk_size);
    let session = app.fastio.upload_details(&id, None).await?;
    if session.status.is_failed() {
        return Err(AppError::Conflict(format!(
            "this upload ended {}: {}",
            session.status,
            session.status_message.unwrap_or_default()
        )));
    }
    if !session.status.is_past_upload() {
        let missing: Vec<u32> = (1..=plan.chunks)
            .filter(|n| session.chunks.get(n) != plan.expected_len(*n).ok().as_ref())
            .collect();
        if let Some(first) = missing.first() {
            return Err(AppError::Conflict(format!(
                "{} of {} chunks are missing (first: {first}); send them before completing",
                missing.len(),
                plan.chunks
            )));
        }
        app.fastio.complete_upload(&id).await?;
    }
    let stored = app
        .fastio
        .wait_until_stored(&id, app.config.upload_timeout)
        .await?;
    let node_id = stored
        .new_file_id
        .ok_or_else(|| AppError::Upstream("stored session without a file id".to_owned()))?;
    let node = app.fastio.node(&claims.workspace, &node_id).await?;
    if node.size.is_some_and(|size| size != claims.size) {
        return Err(AppError::Upstream(format!(
            "stored {} bytes where {} were declared",
            node.size.unwrap_or_default(),
            claims.size
        )));
    }
    let sha256 = node
        .hash
        .filter(|_| node.hash_algo.as_deref().is_none_or(|a| a == "sha256"));
    Ok(Json(Receipt {
        node_id,
        name: node.name,
        size: claims.size,
        sha256,
        workspace: claims.workspace,
        folder: claims.folder,
    }))
}

/// `DELETE /api/uploads/{id}`: cancel the session; Fast.io drops its chunks. Safe to repeat.
async fn cancel(
    State(app): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Json<serde_json::Value>, AppError> {
    verify(&app, &headers, &id)?;
    app.fastio.cancel_upload(&id).await?;
    Ok(Json(serde_json::json!({"id": id, "state": "cancelled"})))
}

/// The claims of the request's `Upload-Token`, checked for upload `id`.
fn verify(app: &AppState, headers: &HeaderMap, id: &str) -> Result<UploadClaims, AppError> {
    let token = headers
        .get(UPLOAD_TOKEN)
        .and_then(|v| v.to_str().ok())
        .ok_or(TokenError::Malformed)?;
    Ok(app.tokens.verify_now(token, id)?)
}

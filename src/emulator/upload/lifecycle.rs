//! Upload session lifecycle: `POST /upload/` (§7.3 form, or §7.4 single-call multipart handed
//! to `single.rs`), `complete/` (§7.7), `details/` with long-poll (§7.8), and list, cancel and
//! cancel-all (§7.11).
//!
//! Create fields are checked in `fields.rs`, chunk and stream bytes arrive in `transfer.rs`,
//! batches in `batch.rs`, and the asynchronous steps after `complete` run in `driver.rs`.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{FromRequest, Path, Query, Request, State};
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::chunks;
use super::driver;
use super::fields::session_from_fields;
use super::sessions::{self, Kind, SessionRow};
use super::single;
use super::status::Status;
use crate::emulator::state::EmulatorState;
use crate::emulator::transport::auth::Caller;
use crate::emulator::transport::envelope::Envelope;
use crate::emulator::transport::error::ApiError;

/// `POST /upload/`: a form creates a chunked or stream session (§7.3, §7.10); multipart is a
/// single-call upload (§7.4).
pub async fn create(State(state): State<Arc<EmulatorState>>, _: Caller, req: Request) -> Response {
    let is_multipart = req
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("multipart/"));
    let res = if is_multipart {
        single::single_call(state, req).await
    } else {
        create_session(state, req).await
    };
    res.unwrap_or_else(IntoResponse::into_response)
}

async fn create_session(state: Arc<EmulatorState>, req: Request) -> Result<Response, ApiError> {
    let body = Bytes::from_request(req, &())
        .await
        .map_err(|_| ApiError::invalid("unreadable body"))?;
    let fields: HashMap<String, String> = serde_urlencoded::from_bytes(&body)
        .map_err(|_| ApiError::invalid("the body must be form-urlencoded"))?;
    let s = session_from_fields(&state, &fields, Kind::Chunked).await?;
    let id = s.id.clone();
    state.store.call(move |c| sessions::insert(c, &s)).await?;
    Ok(Envelope(json!({"id": id})).into_response())
}

/// `GET /upload/{id}/details/[?wait=N]` (§7.8): long-poll until the status changes.
pub async fn details(
    State(state): State<Arc<EmulatorState>>,
    _: Caller,
    Path(id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Envelope, ApiError> {
    let wait = match q.get("wait").map(|w| w.trim()).filter(|w| !w.is_empty()) {
        None => 0.0,
        Some(w) => w
            .parse::<f64>()
            .map_err(|_| ApiError::invalid("wait must be a number of seconds"))?
            .clamp(0.0, 590.0),
    };
    let mut rx = state.notifier.subscribe(&id);
    let first = sessions::load(&state.store, &id).await?;
    let s = if wait > 0.0 && !first.is_terminal() && !first.dead {
        let initial = first.status;
        let max = Duration::from_secs_f64(wait);
        sessions::wait_for(&state, &id, &mut rx, max, |s| s.status != initial).await?
    } else {
        first
    };
    let sid = id.clone();
    let chunks = state.store.call(move |c| chunks::list(c, &sid)).await?;
    Ok(Envelope(
        json!({"session": sessions::session_json(&s, &chunks)}),
    ))
}

/// `GET /upload/details/` (§7.11): the caller's sessions that are not stored yet.
pub async fn list(
    State(state): State<Arc<EmulatorState>>,
    _: Caller,
) -> Result<Envelope, ApiError> {
    let all = state
        .store
        .call(|c| {
            let mut out = Vec::new();
            for s in sessions::all(c)? {
                if s.status != Status::Stored {
                    let chunks = chunks::list(c, &s.id)?;
                    out.push(sessions::session_json(&s, &chunks));
                }
            }
            Ok(out)
        })
        .await?;
    Ok(Envelope(json!({"sessions": all})))
}

/// `POST /upload/{id}/complete/` (§7.7): checks the chunks and queues assembly.
pub async fn complete(
    State(state): State<Arc<EmulatorState>>,
    _: Caller,
    Path(id): Path<String>,
) -> Result<Envelope, ApiError> {
    let min = state.config.limits.min_chunk_size;
    let sid = id.clone();
    state
        .store
        .call(move |c| {
            let s = sessions::require(c, &sid)?;
            match s.kind {
                Kind::Chunked => {}
                // §7.7: a single call assembles itself; complete is a benign state error.
                Kind::Single => {
                    return Err(ApiError::InvalidState(
                        "the session is not in a valid state for complete".into(),
                    ));
                }
                Kind::Stream => {
                    return Err(ApiError::WrongSessionKind(
                        "complete is not used with stream sessions".into(),
                    ));
                }
            }
            s.check_receiving()?;
            let chunks = chunks::list(c, &sid)?;
            let sum: u64 = chunks.iter().map(|c| c.size).sum();
            let size = s.size.unwrap_or(0);
            if sum != size {
                let err = ApiError::SizeMismatch { chunks: sum, size };
                sessions::kill(c, &sid, &err.to_string())?;
                return Err(err);
            }
            for (i, ch) in chunks.iter().enumerate() {
                if ch.order != i as u64 + 1 {
                    return Err(ApiError::invalid(format!("chunk {} is missing", i + 1)));
                }
                if ch.size < min && i + 1 != chunks.len() {
                    return Err(ApiError::invalid(format!(
                        "chunk {} is smaller than {min} bytes and not the last",
                        ch.order
                    )));
                }
            }
            sessions::set_status(c, &sid, Status::Assemble, None)
        })
        .await?;
    state.notifier.notify(&id);
    driver::spawn(&state, id.clone());
    Ok(Envelope(json!({"id": id, "status": Status::Assemble})))
}

/// Removes a session's rows and files. The blob stays when a node refers to it.
async fn remove_session(state: &EmulatorState, s: &SessionRow) -> Result<(), ApiError> {
    let sid = s.id.clone();
    state.store.call(move |c| sessions::delete(c, &sid)).await?;
    let _ = tokio::fs::remove_dir_all(state.blobs.session_dir(&s.id)).await;
    if s.new_file_id.is_none() {
        let _ = tokio::fs::remove_file(state.blobs.blob_path(&s.id)).await;
    }
    state.notifier.notify(&s.id);
    Ok(())
}

/// `DELETE /upload/{id}/` (§7.11): cancels and deletes everything of the session.
pub async fn cancel(
    State(state): State<Arc<EmulatorState>>,
    _: Caller,
    Path(id): Path<String>,
) -> Result<Envelope, ApiError> {
    let s = sessions::load(&state.store, &id).await?;
    remove_session(&state, &s).await?;
    Ok(Envelope(json!({"id": id, "deleted": true})))
}

/// `DELETE /upload/` (§7.11): cancels all of the caller's sessions.
pub async fn cancel_all(
    State(state): State<Arc<EmulatorState>>,
    _: Caller,
) -> Result<Envelope, ApiError> {
    let all = state.store.call(|c| sessions::all(c)).await?;
    for s in &all {
        remove_session(&state, s).await?;
    }
    Ok(Envelope(json!({"count": all.len()})))
}

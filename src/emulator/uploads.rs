//! Upload session lifecycle (§7.3, §7.4, §7.7, §7.8, §7.11): create (form or single-call
//! multipart), complete, details with long-poll, list, cancel and cancel-all.
//!
//! Byte transfer for chunks, streams and batches lives in `transfer.rs`; the asynchronous steps
//! after `complete` live in `assembly.rs`.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{FromRequest, Multipart, Path, Query, Request, State};
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use parking_lot::Mutex;
use rand::Rng;
use serde_json::json;

use super::AppState;
use super::assembly;
use super::auth::{self, Caller};
use super::envelope::Envelope;
use super::error::ApiError;
use super::ingest::{self, FileSink};
use super::nodes;
use super::sessions::{self, ChunkRow, Kind, SessionRow};

/// Chunk requests in flight per session (§7.1: at most 3; the 4th gets 429).
#[derive(Default)]
pub struct Inflight {
    map: Mutex<HashMap<String, usize>>,
}

/// Decrements the in-flight count when the chunk request ends.
pub struct InflightGuard {
    state: Arc<AppState>,
    id: String,
}

impl Inflight {
    /// Enters a chunk request for `id`, or fails with 429/10368 when the limit is reached.
    pub fn enter(state: &Arc<AppState>, id: &str) -> Result<InflightGuard, ApiError> {
        let mut map = state.inflight.map.lock();
        let n = map.entry(id.to_owned()).or_insert(0);
        if *n >= state.config.limits.parallel_chunks {
            return Err(ApiError::RateLimited(format!(
                "at most {} chunk uploads may be in flight per session",
                state.config.limits.parallel_chunks
            )));
        }
        *n += 1;
        state.stats.saw_in_flight(id, *n);
        Ok(InflightGuard {
            state: state.clone(),
            id: id.to_owned(),
        })
    }
}

impl Drop for InflightGuard {
    fn drop(&mut self) {
        let mut map = self.state.inflight.map.lock();
        if let Some(n) = map.get_mut(&self.id) {
            *n -= 1;
            if *n == 0 {
                map.remove(&self.id);
            }
        }
    }
}

fn bad_name(name: &str) -> bool {
    name.is_empty()
        || name.chars().count() > 255
        || name == "."
        || name == ".."
        || name.ends_with(' ')
        || name.ends_with('.')
        || name.chars().any(|c| c == '/' || c == '\\' || c.is_control())
}

/// Validates create fields into a new session (§7.3).
async fn session_from_fields(
    state: &AppState,
    f: &HashMap<String, String>,
    kind: Kind,
) -> Result<SessionRow, ApiError> {
    let get = |k: &str| f.get(k).map(|v| v.trim()).filter(|v| !v.is_empty());
    let name = get("name").ok_or_else(|| ApiError::invalid("name is required"))?;
    if bad_name(name) {
        return Err(ApiError::invalid("invalid file name"));
    }
    let stream = matches!(get("stream"), Some("true" | "1" | "yes"));
    let kind = if stream { Kind::Stream } else { kind };
    let mut s = SessionRow::new(kind, name.to_owned());
    let limits = &state.config.limits;
    let parse = |k: &str| -> Result<Option<u64>, ApiError> {
        get(k)
            .map(|v| v.parse::<u64>().map_err(|_| ApiError::invalid(format!("invalid {k}"))))
            .transpose()
    };
    s.size = parse("size")?;
    s.max_size = parse("max_size")?;
    if kind != Kind::Stream && s.size.is_none() {
        return Err(ApiError::invalid("size is required"));
    }
    if s.size.unwrap_or(0) > limits.max_file_size || s.max_size.unwrap_or(0) > limits.max_file_size
    {
        return Err(ApiError::PlanLimit(format!(
            "the file size limit is {} bytes",
            limits.max_file_size
        )));
    }
    s.action = get("action").unwrap_or("create").to_owned();
    if s.action != "create" && s.action != "update" {
        return Err(ApiError::invalid("action must be create or update"));
    }
    s.file_id = get("file_id").map(str::to_owned);
    if s.action == "update" && s.file_id.is_none() {
        return Err(ApiError::invalid("file_id is required with action=update"));
    }
    s.hash = get("hash").map(str::to_owned);
    s.hash_algo = get("hash_algo").map(str::to_owned);
    if let Some(ws) = get("instance_id") {
        let profile = get("profile_type").unwrap_or("workspace");
        if profile != "workspace" {
            return Err(ApiError::invalid("only workspace targets are emulated"));
        }
        let ws = auth::workspace(state, ws).await?;
        let folder = get("folder_id").unwrap_or("root").to_owned();
        let (w, fo) = (ws.clone(), folder.clone());
        state
            .store
            .call(move |c| nodes::resolve_folder(c, &w, &fo))
            .await?;
        s.instance_id = Some(ws);
        s.profile_type = Some(profile.to_owned());
        s.folder_id = Some(folder);
    }
    let open = state
        .store
        .call(|c| {
            Ok(c.query_row(
                "SELECT count(*) FROM sessions WHERE status != 'stored'",
                [],
                |r| r.get::<_, i64>(0),
            )?)
        })
        .await?;
    if open as u64 >= limits.sessions {
        return Err(ApiError::PlanLimit("too many open upload sessions".into()));
    }
    Ok(s)
}

/// `POST /upload/`: a form creates a chunked or stream session (§7.3, §7.10); multipart is a
/// single-call upload (§7.4).
pub async fn create(State(state): State<Arc<AppState>>, _: Caller, req: Request) -> Response {
    let is_multipart = req
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("multipart/"));
    let res = if is_multipart {
        single_call(state, req).await
    } else {
        create_session(state, req).await
    };
    res.unwrap_or_else(IntoResponse::into_response)
}

async fn create_session(state: Arc<AppState>, req: Request) -> Result<Response, ApiError> {
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

async fn single_call(state: Arc<AppState>, req: Request) -> Result<Response, ApiError> {
    let mut mp = Multipart::from_request(req, &())
        .await
        .map_err(|e| ApiError::invalid(format!("bad multipart body: {e}")))?;
    let mut fields = HashMap::new();
    let mut file = None;
    let max = state.config.limits.single_call_max;
    while let Some(mut field) = mp
        .next_field()
        .await
        .map_err(|e| ApiError::invalid(format!("bad multipart body: {e}")))?
    {
        let name = field.name().unwrap_or_default().to_owned();
        if name == "chunk" {
            let mut sink = FileSink::create(state.blobs.tmp_path(), Some(max));
            loop {
                match field.chunk().await {
                    Ok(Some(piece)) => {
                        if let Err(e) = sink.write(piece).await {
                            sink.abort().await;
                            return Err(e);
                        }
                    }
                    Ok(None) => break,
                    Err(e) => {
                        sink.abort().await;
                        return Err(ApiError::invalid(format!("bad multipart body: {e}")));
                    }
                }
            }
            file = Some(sink.finish().await?);
        } else {
            let text = field
                .text()
                .await
                .map_err(|e| ApiError::invalid(format!("bad multipart body: {e}")))?;
            fields.insert(name, text);
        }
    }
    let file = file.ok_or_else(|| ApiError::invalid("the multipart part chunk is missing"))?;
    let result = async {
        let mut s = session_from_fields(&state, &fields, Kind::Single).await?;
        if s.kind == Kind::Stream {
            return Err(ApiError::WrongSessionKind("stream sessions take no bytes here".into()));
        }
        if let Some(size) = s.size {
            if size != file.size {
                return Err(ApiError::SizeMismatch {
                    chunks: file.size,
                    size,
                });
            }
        }
        ingest::verify_hash(s.hash.as_deref(), s.hash_algo.as_deref(), &file.sha256)?;
        s.status = "assemble".into();
        Ok(s)
    }
    .await;
    let s = match result {
        Ok(s) => s,
        Err(e) => {
            let _ = tokio::fs::remove_file(&file.path).await;
            return Err(e);
        }
    };
    let id = s.id.clone();
    tokio::fs::create_dir_all(state.blobs.session_dir(&id)).await?;
    tokio::fs::rename(&file.path, state.blobs.chunk_path(&id, 1)).await?;
    let chunk = ChunkRow {
        order: 1,
        size: file.size,
        sha256: file.sha256,
    };
    let (row, sid) = (s.clone(), id.clone());
    state
        .store
        .call(move |c| {
            sessions::insert(c, &row)?;
            sessions::put_chunk(c, &sid, &chunk)
        })
        .await?;
    let mut rx = state.notifier.subscribe(&id);
    assembly::spawn_driver(&state, id.clone());
    let faults = state.faults.get();
    if rand::thread_rng().r#gen::<f64>() < faults.defer_new_file_id_rate {
        return Ok(Envelope(json!({"id": id})).into_response());
    }
    let done = wait_for(&state, &id, &mut rx, Duration::from_secs(60), |s| {
        s.is_terminal() || (s.status == "complete" && s.instance_id.is_none())
    })
    .await?;
    if faults.fail_after_store && done.status == "stored" {
        return Err(ApiError::Internal("injected failure after store".into()));
    }
    Ok(match done.new_file_id {
        Some(node) => Envelope(json!({"id": id, "new_file_id": node})),
        None => Envelope(json!({"id": id})),
    }
    .into_response())
}

/// Waits (up to `max`) until `done` holds for the session, re-reading it on every notification.
pub async fn wait_for(
    state: &AppState,
    id: &str,
    rx: &mut tokio::sync::watch::Receiver<u64>,
    max: Duration,
    done: impl Fn(&SessionRow) -> bool,
) -> Result<SessionRow, ApiError> {
    let deadline = tokio::time::Instant::now() + max;
    loop {
        let sid = id.to_owned();
        let s = state.store.call(move |c| sessions::require(c, &sid)).await?;
        if done(&s) {
            return Ok(s);
        }
        match tokio::time::timeout_at(deadline, rx.changed()).await {
            Ok(Ok(())) => continue,
            _ => return Ok(s),
        }
    }
}

/// `GET /upload/{id}/details/[?wait=N]` (§7.8): long-poll until the status changes.
pub async fn details(
    State(state): State<Arc<AppState>>,
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
    let sid = id.clone();
    let first = state.store.call(move |c| sessions::require(c, &sid)).await?;
    let s = if wait > 0.0 && !first.is_terminal() && !first.dead {
        let initial = first.status.clone();
        wait_for(&state, &id, &mut rx, Duration::from_secs_f64(wait), |s| {
            s.status != initial
        })
        .await?
    } else {
        first
    };
    let sid = id.clone();
    let chunks = state.store.call(move |c| sessions::chunks(c, &sid)).await?;
    Ok(Envelope(json!({"session": sessions::session_json(&s, &chunks)})))
}

/// `GET /upload/details/` (§7.11): the caller's sessions that are not stored yet.
pub async fn list(State(state): State<Arc<AppState>>, _: Caller) -> Result<Envelope, ApiError> {
    let all = state
        .store
        .call(|c| {
            let mut out = Vec::new();
            for s in sessions::all(c)? {
                if s.status != "stored" {
                    let chunks = sessions::chunks(c, &s.id)?;
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
    State(state): State<Arc<AppState>>,
    _: Caller,
    Path(id): Path<String>,
) -> Result<Envelope, ApiError> {
    let min = state.config.limits.min_chunk_size;
    let sid = id.clone();
    state
        .store
        .call(move |c| {
            let s = sessions::require(c, &sid)?;
            if s.dead {
                return Err(ApiError::InvalidState("the session has failed; cancel it".into()));
            }
            if s.kind != Kind::Chunked {
                return Err(ApiError::WrongSessionKind(
                    "complete is only for chunked sessions".into(),
                ));
            }
            if s.status != "ready" && s.status != "uploading" {
                return Err(ApiError::InvalidState(format!(
                    "the session is not in a valid state ({})",
                    s.status
                )));
            }
            let chunks = sessions::chunks(c, &sid)?;
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
            sessions::set_status(c, &sid, "assemble", None)
        })
        .await?;
    state.notifier.notify(&id);
    assembly::spawn_driver(&state, id.clone());
    Ok(Envelope(json!({"id": id, "status": "assemble"})))
}

/// Removes a session's rows and files. The blob stays when a node refers to it.
async fn remove_session(state: &AppState, s: &SessionRow) -> Result<(), ApiError> {
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
    State(state): State<Arc<AppState>>,
    _: Caller,
    Path(id): Path<String>,
) -> Result<Envelope, ApiError> {
    let sid = id.clone();
    let s = state.store.call(move |c| sessions::require(c, &sid)).await?;
    remove_session(&state, &s).await?;
    Ok(Envelope(json!({"id": id, "deleted": true})))
}

/// `DELETE /upload/` (§7.11): cancels all of the caller's sessions.
pub async fn cancel_all(State(state): State<Arc<AppState>>, _: Caller) -> Result<Envelope, ApiError> {
    let all = state.store.call(|c| sessions::all(c)).await?;
    for s in &all {
        remove_session(&state, s).await?;
    }
    Ok(Envelope(json!({"count": all.len()})))
}

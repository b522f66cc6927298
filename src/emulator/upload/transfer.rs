//! Byte transfer into existing sessions: chunks (§7.5), chunk status and delete (§7.6), and the
//! raw stream (§7.10).
//!
//! Every body goes through [`FileSink`] (hashed while written to a temp file) and is renamed into
//! `chunks/<session>/<order>` only once accepted; a stream body then enters the state machine
//! through `driver::assemble_whole_file`.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Multipart, Path, Query, State};
use serde_json::{Value, json};

use super::chunks::{self, ChunkRow};
use super::driver::{self, Target};
use super::ingest::{self, FileSink, Ingested};
use super::sessions::{self, Kind, SessionRow};
use super::status::Status;
use crate::emulator::state::EmulatorState;
use crate::emulator::transport::auth::Caller;
use crate::emulator::transport::envelope::Envelope;
use crate::emulator::transport::error::ApiError;

/// `POST /upload/{id}/chunk/` (§7.5): one multipart part `chunk`; `order`, `size`, `hash`,
/// `hash_algo` from the query or text fields.
pub async fn put_chunk(
    State(state): State<Arc<EmulatorState>>,
    _: Caller,
    Path(id): Path<String>,
    Query(query): Query<HashMap<String, String>>,
    multipart: Result<Multipart, axum::extract::multipart::MultipartRejection>,
) -> Result<Envelope, ApiError> {
    let s = sessions::load(&state.store, &id).await?;
    check_chunkable(&s)?;
    let limit = state.config.limits.parallel_chunks;
    let _guard = state.inflight.enter(&id, limit, &state.stats)?;
    let mut mp = multipart.map_err(ingest::multipart_err)?;
    let mut fields = query;
    let mut file: Option<Ingested> = None;
    while let Some(field) = mp.next_field().await.map_err(ingest::multipart_err)? {
        let name = field.name().unwrap_or_default().to_owned();
        if name == "chunk" && file.is_none() {
            let max = Some(state.config.limits.chunk_size);
            let sink = FileSink::create(state.blobs.tmp_path(), max);
            file = Some(ingest::stream_to_file(field, sink, ingest::multipart_err).await?);
        } else {
            let text = field.text().await.map_err(ingest::multipart_err)?;
            fields.entry(name).or_insert(text);
        }
    }
    let file = file.ok_or_else(|| ApiError::invalid("the multipart part chunk is missing"))?;
    match accept_chunk(&state, &id, &fields, &file).await {
        Ok(v) => Ok(Envelope(v)),
        Err(e) => {
            let _ = tokio::fs::remove_file(&file.path).await;
            Err(e)
        }
    }
}

/// Chunks go only to a live chunked session that is still receiving (406 for another kind).
/// A dead session is always chunked (only `complete` kills), so the order of checks is moot.
fn check_chunkable(s: &SessionRow) -> Result<(), ApiError> {
    if s.kind != Kind::Chunked {
        return Err(ApiError::WrongSessionKind(
            "chunks are only for chunked sessions".into(),
        ));
    }
    s.check_receiving()
}

async fn accept_chunk(
    state: &Arc<EmulatorState>,
    id: &str,
    fields: &HashMap<String, String>,
    file: &Ingested,
) -> Result<Value, ApiError> {
    let get = |k: &str| fields.get(k).map(|v| v.trim()).filter(|v| !v.is_empty());
    let order: u64 = get("order")
        .ok_or_else(|| ApiError::invalid("order is required"))?
        .parse()
        .map_err(|_| ApiError::invalid("order must be a positive integer"))?;
    let limits = &state.config.limits;
    if order == 0 || order > limits.max_chunks {
        return Err(ApiError::invalid(format!(
            "order must be between 1 and {}",
            limits.max_chunks
        )));
    }
    if let Some(size) = get("size") {
        let size: u64 = size
            .parse()
            .map_err(|_| ApiError::invalid("invalid size"))?;
        if size != file.size {
            return Err(ApiError::invalid(format!(
                "size {size} does not match the {} bytes received",
                file.size
            )));
        }
    }
    ingest::verify_hash(get("hash"), get("hash_algo"), &file.sha256)?;
    tokio::fs::create_dir_all(state.blobs.session_dir(id)).await?;
    let chunk = ChunkRow {
        order,
        size: file.size,
        sha256: file.sha256.clone(),
    };
    let (min, sid, tmp, dest) = (
        limits.min_chunk_size,
        id.to_owned(),
        file.path.clone(),
        state.blobs.chunk_path(id, order),
    );
    let first = state
        .store
        .call(move |c| {
            let s = sessions::require(c, &sid)?;
            check_chunkable(&s)?;
            let existing = chunks::list(c, &sid)?;
            let others = existing.iter().filter(|c| c.order != order);
            for o in others {
                let short_here = chunk.size < min && o.order > order;
                let short_before = o.size < min && o.order < order;
                if short_here || short_before || (chunk.size < min && o.size < min) {
                    return Err(ApiError::invalid(format!(
                        "only the final chunk may be smaller than {min} bytes"
                    )));
                }
            }
            if let Some(total) = s.size {
                let sum: u64 = existing
                    .iter()
                    .filter(|c| c.order != order)
                    .map(|c| c.size)
                    .sum();
                if sum + chunk.size > total {
                    return Err(ApiError::invalid("the chunks exceed the declared size"));
                }
            }
            std::fs::rename(&tmp, &dest)?;
            chunks::put(c, &sid, &chunk)?;
            if s.status == Status::Ready {
                sessions::set_status(c, &sid, Status::Uploading, None)?;
                return Ok(true);
            }
            Ok(false)
        })
        .await?;
    if first {
        state.notifier.notify(id);
    }
    Ok(json!({"id": id, "order": order, "size": file.size, "hash": file.sha256}))
}

/// `GET /upload/{id}/chunk/` (§7.6): `chunks:{"<order>":<bytes>}`.
pub async fn chunk_status(
    State(state): State<Arc<EmulatorState>>,
    _: Caller,
    Path(id): Path<String>,
) -> Result<Envelope, ApiError> {
    sessions::load(&state.store, &id).await?;
    let chunks = state.store.call(move |c| chunks::list(c, &id)).await?;
    Ok(Envelope(json!({"chunks": chunks::map(&chunks)})))
}

/// `DELETE /upload/{id}/chunk/?order=N` (§7.6).
pub async fn delete_chunk(
    State(state): State<Arc<EmulatorState>>,
    _: Caller,
    Path(id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Envelope, ApiError> {
    let s = sessions::load(&state.store, &id).await?;
    check_chunkable(&s)?;
    let order: u64 = q
        .get("order")
        .and_then(|o| o.parse().ok())
        .ok_or_else(|| ApiError::invalid("order is required"))?;
    let sid = id.clone();
    if !state
        .store
        .call(move |c| chunks::delete(c, &sid, order))
        .await?
    {
        return Err(ApiError::not_found(format!("chunk {order} not found")));
    }
    let _ = tokio::fs::remove_file(state.blobs.chunk_path(&id, order)).await;
    Ok(Envelope(json!({"id": id, "order": order, "deleted": true})))
}

/// `POST /upload/{id}/stream/` (§7.10): a raw body, limited by `max_size`, verified against
/// `?hash=`, then assembled without `complete`.
pub async fn stream(
    State(state): State<Arc<EmulatorState>>,
    _: Caller,
    Path(id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
    body: Body,
) -> Result<Envelope, ApiError> {
    let sid = id.clone();
    let s = state
        .store
        .call(move |c| {
            let s = sessions::require(c, &sid)?;
            if s.kind != Kind::Stream || s.status != Status::Ready {
                return Err(ApiError::WrongSessionKind(
                    "stream needs a fresh stream session".into(),
                ));
            }
            sessions::set_status(c, &sid, Status::Uploading, None)?;
            Ok(s)
        })
        .await?;
    state.notifier.notify(&id);
    let max = s.max_size.unwrap_or(state.config.limits.max_file_size);
    let sink = FileSink::create(state.blobs.tmp_path(), Some(max));
    let broken = |e: axum::Error| ApiError::invalid(format!("the stream was interrupted: {e}"));
    let received = match ingest::stream_to_file(body.into_data_stream(), sink, broken).await {
        Ok(file) => {
            let hash_algo = q.get("hash_algo").map(String::as_str);
            let hash = q.get("hash").map(String::as_str);
            match ingest::verify_hash(hash, hash_algo, &file.sha256) {
                Ok(()) => Ok(file),
                Err(e) => {
                    let _ = tokio::fs::remove_file(&file.path).await;
                    Err(e)
                }
            }
        }
        Err(e) => Err(e),
    };
    let file = match received {
        Ok(f) => f,
        Err(e) => {
            let (sid, msg) = (id.clone(), e.to_string());
            state
                .store
                .call(move |c| sessions::set_status(c, &sid, Status::AssemblyFailed, Some(&msg)))
                .await?;
            state.notifier.notify(&id);
            return Err(e);
        }
    };
    let size = file.size;
    let mut rx = state.notifier.subscribe(&id);
    driver::assemble_whole_file(&state, Target::Existing(id.clone()), file).await?;
    if state.faults.get().fail_after_store {
        let max = Duration::from_secs(60);
        sessions::wait_for(&state, &id, &mut rx, max, SessionRow::is_terminal).await?;
        return Err(ApiError::Internal("injected failure after store".into()));
    }
    Ok(Envelope(
        json!({"id": id, "size": size, "status": Status::Assemble}),
    ))
}

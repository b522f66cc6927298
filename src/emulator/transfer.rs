//! Byte transfer into sessions: chunks (§7.5, §7.6), the raw stream (§7.10), batches (§7.12)
//! and `addfile` placement of unplaced sessions (§6.5).
//!
//! Every body goes through [`FileSink`] (hashed while written to a temp file) and is renamed into
//! `chunks/<session>/<order>` only once accepted.

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Multipart, Path, Query, State};
use futures_util::StreamExt;
use serde_json::{Value, json};

use super::AppState;
use super::assembly;
use super::auth::{self, Caller};
use super::envelope::Envelope;
use super::error::ApiError;
use super::ingest::{self, FileSink, Ingested};
use super::nodes;
use super::sessions::{self, ChunkRow, Kind, SessionRow};
use super::uploads::Inflight;

async fn load(state: &AppState, id: &str) -> Result<SessionRow, ApiError> {
    let sid = id.to_owned();
    state.store.call(move |c| sessions::require(c, &sid)).await
}

fn multipart_err(e: impl std::fmt::Display) -> ApiError {
    ApiError::invalid(format!("bad multipart body: {e}"))
}

/// Streams the current multipart field into a sink.
async fn field_to_sink(
    field: &mut axum::extract::multipart::Field<'_>,
    sink: &mut FileSink,
) -> Result<(), ApiError> {
    while let Some(piece) = field.chunk().await.map_err(multipart_err)? {
        sink.write(piece).await?;
    }
    Ok(())
}

/// `POST /upload/{id}/chunk/` (§7.5): one multipart part `chunk`; `order`, `size`, `hash`,
/// `hash_algo` from the query or text fields.
pub async fn put_chunk(
    State(state): State<Arc<AppState>>,
    _: Caller,
    Path(id): Path<String>,
    Query(query): Query<HashMap<String, String>>,
    multipart: Result<Multipart, axum::extract::multipart::MultipartRejection>,
) -> Result<Envelope, ApiError> {
    let s = load(&state, &id).await?;
    check_chunkable(&s)?;
    let _guard = Inflight::enter(&state, &id)?;
    let mut mp = multipart.map_err(multipart_err)?;
    let mut fields = query;
    let mut file: Option<Ingested> = None;
    while let Some(mut field) = mp.next_field().await.map_err(multipart_err)? {
        let name = field.name().unwrap_or_default().to_owned();
        if name == "chunk" && file.is_none() {
            let max = Some(state.config.limits.chunk_size);
            let mut sink = FileSink::create(state.blobs.tmp_path(), max);
            match field_to_sink(&mut field, &mut sink).await {
                Ok(()) => file = Some(sink.finish().await?),
                Err(e) => {
                    sink.abort().await;
                    return Err(e);
                }
            }
        } else {
            let text = field.text().await.map_err(multipart_err)?;
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

fn check_chunkable(s: &SessionRow) -> Result<(), ApiError> {
    if s.dead {
        return Err(ApiError::InvalidState("the session has failed; cancel it".into()));
    }
    if s.kind != Kind::Chunked {
        return Err(ApiError::WrongSessionKind("chunks are only for chunked sessions".into()));
    }
    if s.status != "ready" && s.status != "uploading" {
        return Err(ApiError::InvalidState(format!(
            "the session is not in a valid state ({})",
            s.status
        )));
    }
    Ok(())
}

async fn accept_chunk(
    state: &Arc<AppState>,
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
        let size: u64 = size.parse().map_err(|_| ApiError::invalid("invalid size"))?;
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
            let existing = sessions::chunks(c, &sid)?;
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
            sessions::put_chunk(c, &sid, &chunk)?;
            if s.status == "ready" {
                sessions::set_status(c, &sid, "uploading", None)?;
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
    State(state): State<Arc<AppState>>,
    _: Caller,
    Path(id): Path<String>,
) -> Result<Envelope, ApiError> {
    load(&state, &id).await?;
    let chunks = state.store.call(move |c| sessions::chunks(c, &id)).await?;
    Ok(Envelope(json!({"chunks": sessions::chunk_map(&chunks)})))
}

/// `DELETE /upload/{id}/chunk/?order=N` (§7.6).
pub async fn delete_chunk(
    State(state): State<Arc<AppState>>,
    _: Caller,
    Path(id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Envelope, ApiError> {
    let s = load(&state, &id).await?;
    check_chunkable(&s)?;
    let order: u64 = q
        .get("order")
        .and_then(|o| o.parse().ok())
        .ok_or_else(|| ApiError::invalid("order is required"))?;
    let sid = id.clone();
    if !state.store.call(move |c| sessions::delete_chunk(c, &sid, order)).await? {
        return Err(ApiError::not_found(format!("chunk {order} not found")));
    }
    let _ = tokio::fs::remove_file(state.blobs.chunk_path(&id, order)).await;
    Ok(Envelope(json!({"id": id, "order": order, "deleted": true})))
}

/// `POST /upload/{id}/stream/` (§7.10): a raw body, limited by `max_size`, verified against
/// `?hash=`, then assembled without `complete`.
pub async fn stream(
    State(state): State<Arc<AppState>>,
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
            if s.kind != Kind::Stream || s.status != "ready" {
                return Err(ApiError::WrongSessionKind(
                    "stream needs a fresh stream session".into(),
                ));
            }
            sessions::set_status(c, &sid, "uploading", None)?;
            Ok(s)
        })
        .await?;
    state.notifier.notify(&id);
    let max = s.max_size.unwrap_or(state.config.limits.max_file_size);
    let mut sink = FileSink::create(state.blobs.tmp_path(), Some(max));
    let mut body = body.into_data_stream();
    let mut failure = None;
    while let Some(piece) = body.next().await {
        let r = match piece {
            Ok(p) => sink.write(p).await,
            Err(e) => Err(ApiError::invalid(format!("the stream was interrupted: {e}"))),
        };
        if let Err(e) = r {
            failure = Some(e);
            break;
        }
    }
    let result = match failure {
        Some(e) => {
            sink.abort().await;
            Err(e)
        }
        None => {
            let file = sink.finish().await?;
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
    };
    let file = match result {
        Ok(f) => f,
        Err(e) => {
            let (sid, msg) = (id.clone(), e.to_string());
            state
                .store
                .call(move |c| sessions::set_status(c, &sid, "assembly_failed", Some(&msg)))
                .await?;
            state.notifier.notify(&id);
            return Err(e);
        }
    };
    tokio::fs::create_dir_all(state.blobs.session_dir(&id)).await?;
    tokio::fs::rename(&file.path, state.blobs.chunk_path(&id, 1)).await?;
    let chunk = ChunkRow {
        order: 1,
        size: file.size,
        sha256: file.sha256,
    };
    let sid = id.clone();
    state
        .store
        .call(move |c| {
            sessions::put_chunk(c, &sid, &chunk)?;
            sessions::set_status(c, &sid, "assemble", None)
        })
        .await?;
    state.notifier.notify(&id);
    assembly::spawn_driver(&state, id.clone());
    if state.faults.get().fail_after_store {
        let mut rx = state.notifier.subscribe(&id);
        let max = std::time::Duration::from_secs(60);
        super::uploads::wait_for(&state, &id, &mut rx, max, SessionRow::is_terminal).await?;
        return Err(ApiError::Internal("injected failure after store".into()));
    }
    Ok(Envelope(json!({"id": id, "size": chunk_size_of(&state, &id).await?, "status": "assemble"})))
}

async fn chunk_size_of(state: &AppState, id: &str) -> Result<u64, ApiError> {
    let sid = id.to_owned();
    let chunks = state.store.call(move |c| sessions::chunks(c, &sid)).await?;
    Ok(chunks.iter().map(|c| c.size).sum())
}

/// `POST /workspace/{ws}/storage/{parent}/addfile/` (§6.5): places an assembled session that was
/// created without `instance_id`.
pub async fn add_file(
    State(state): State<Arc<AppState>>,
    _: Caller,
    Path((ws, parent)): Path<(String, String)>,
    axum::Form(form): axum::Form<HashMap<String, String>>,
) -> Result<Envelope, ApiError> {
    let ws = auth::workspace(&state, &ws).await?;
    let from: Value = form
        .get("from")
        .and_then(|f| serde_json::from_str(f).ok())
        .ok_or_else(|| ApiError::invalid("from must be a JSON object"))?;
    if from["type"] != "upload" {
        return Err(ApiError::invalid("only from.type=upload is emulated"));
    }
    let upload_id = from["upload"]["id"]
        .as_str()
        .ok_or_else(|| ApiError::invalid("from.upload.id is required"))?
        .to_owned();
    let s = load(&state, &upload_id).await?;
    if s.status != "complete" && s.status != "stored" {
        return Err(ApiError::InvalidState(format!(
            "the upload is not in a valid state ({})",
            s.status
        )));
    }
    let name = form
        .get("name")
        .map(|n| n.trim().to_owned())
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| s.name.clone());
    let (w, id) = (ws.clone(), upload_id.clone());
    let node = state
        .store
        .call(move |c| {
            let node_id = assembly::place(c, &s, &w, &parent, &name)?;
            assembly::mark_stored(c, &id, &node_id)?;
            nodes::get(c, &w, &node_id)
        })
        .await?
        .ok_or_else(|| ApiError::Internal("placed node vanished".into()))?;
    state.notifier.notify(&upload_id);
    let base = state.public_base.clone();
    Ok(Envelope(json!({"node": nodes::node_json(&node, nodes::Output::Full, &base)})))
}

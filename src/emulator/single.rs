//! Single-call upload (§7.4): a multipart `POST /upload/` carrying the whole file (≤ 4 MiB) in
//! part `chunk`. The bytes become chunk 1 of a new session that assembles and stores itself;
//! the answer carries `new_file_id` once stored (or, with a configured probability, omits it so
//! clients must poll).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{FromRequest, Multipart, Request};
use axum::response::{IntoResponse, Response};
use rand::Rng;
use serde_json::json;

use super::AppState;
use super::assembly;
use super::envelope::Envelope;
use super::error::ApiError;
use super::ingest::{self, FileSink};
use super::sessions::{self, ChunkRow, Kind};
use super::uploads::{session_from_fields, wait_for};

/// Handles a multipart `POST /upload/`.
pub async fn single_call(state: Arc<AppState>, req: Request) -> Result<Response, ApiError> {
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
            return Err(ApiError::WrongSessionKind(
                "stream sessions take no bytes here".into(),
            ));
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

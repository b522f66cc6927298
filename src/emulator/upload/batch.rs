//! Batch upload (§7.12): `POST /upload/batch/` multipart with `instance_id`, `manifest` (JSON
//! `[{index, filename, hash_algo?, hash?}]`), optional `folder_id`, and parts `file_{i}`.
//!
//! Each file becomes its own single-call session placed by the usual driver; per-file failures
//! (bad hash, too large) are reported in `results[]` with HTTP 200, and `node_id` stays null
//! because storage is asynchronous.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Multipart, State};
use serde::Deserialize;
use serde_json::{Value, json};

use super::driver::{self, Target};
use super::ingest::{self, FileSink, Ingested};
use super::sessions::{Kind, SessionRow};
use crate::emulator::state::EmulatorState;
use crate::emulator::storage::{nodes, workspaces};
use crate::emulator::transport::auth::Caller;
use crate::emulator::transport::envelope::Envelope;
use crate::emulator::transport::error::ApiError;
use crate::emulator::transport::ids;

#[derive(Deserialize)]
struct Entry {
    index: u64,
    filename: String,
    hash: Option<String>,
    hash_algo: Option<String>,
}

const BATCH_TOTAL_MAX: u64 = 100 * 1024 * 1024;

/// `POST /upload/batch/` (§7.12).
pub async fn upload(
    State(state): State<Arc<EmulatorState>>,
    _: Caller,
    multipart: Result<Multipart, axum::extract::multipart::MultipartRejection>,
) -> Result<Envelope, ApiError> {
    let mut mp = multipart.map_err(ingest::multipart_err)?;
    let mut fields: HashMap<String, String> = HashMap::new();
    let mut files: HashMap<u64, Result<Ingested, ApiError>> = HashMap::new();
    let mut total = 0u64;
    while let Some(mut field) = mp.next_field().await.map_err(ingest::multipart_err)? {
        let name = field.name().unwrap_or_default().to_owned();
        if let Some(index) = name
            .strip_prefix("file_")
            .and_then(|i| i.parse::<u64>().ok())
        {
            if files.len() >= state.config.limits.batch_max_files {
                return Err(ApiError::PlanLimit(
                    "a batch holds at most 200 files".into(),
                ));
            }
            let max = state.config.limits.single_call_max;
            let mut sink = FileSink::create(state.blobs.tmp_path(), Some(max));
            let mut failed = None;
            while let Some(piece) = field.chunk().await.map_err(ingest::multipart_err)? {
                total += piece.len() as u64;
                if let Err(e) = sink.write(piece).await {
                    failed = Some(e);
                    break;
                }
            }
            let result = match failed {
                Some(e) => {
                    sink.abort().await;
                    while field
                        .chunk()
                        .await
                        .map_err(ingest::multipart_err)?
                        .is_some()
                    {}
                    Err(e)
                }
                None => sink.finish().await,
            };
            files.insert(index, result);
            if total > BATCH_TOTAL_MAX {
                cleanup(&files).await;
                return Err(ApiError::TooLarge("a batch holds at most 100 MB".into()));
            }
        } else {
            let text = field.text().await.map_err(ingest::multipart_err)?;
            fields.insert(name, text);
        }
    }
    match place_all(&state, &fields, &mut files).await {
        Ok(v) => Ok(Envelope(v)),
        Err(e) => {
            cleanup(&files).await;
            Err(e)
        }
    }
}

async fn cleanup(files: &HashMap<u64, Result<Ingested, ApiError>>) {
    for f in files.values().flatten() {
        let _ = tokio::fs::remove_file(&f.path).await;
    }
}

async fn place_all(
    state: &Arc<EmulatorState>,
    fields: &HashMap<String, String>,
    files: &mut HashMap<u64, Result<Ingested, ApiError>>,
) -> Result<Value, ApiError> {
    let ws = fields
        .get("instance_id")
        .ok_or_else(|| ApiError::invalid("instance_id is required"))?;
    let ws = workspaces::resolve(state, ws).await?;
    let folder = fields
        .get("folder_id")
        .filter(|f| !f.is_empty())
        .cloned()
        .unwrap_or_else(|| "root".into());
    let (w, fo) = (ws.clone(), folder.clone());
    state
        .store
        .call(move |c| nodes::resolve_folder(c, &w, &fo))
        .await?;
    let manifest: Vec<Entry> = fields
        .get("manifest")
        .and_then(|m| serde_json::from_str(m).ok())
        .ok_or_else(|| ApiError::invalid("manifest must be a JSON array"))?;
    if manifest.len() > state.config.limits.batch_max_files {
        return Err(ApiError::PlanLimit(
            "a batch holds at most 200 files".into(),
        ));
    }
    let mut results = Vec::new();
    let mut errors = Vec::new();
    for entry in &manifest {
        let outcome = match files.remove(&entry.index) {
            None => Err(ApiError::invalid(format!(
                "file_{} is missing",
                entry.index
            ))),
            Some(Err(e)) => Err(e),
            Some(Ok(file)) => start_one(state, &ws, &folder, entry, file).await,
        };
        match outcome {
            Ok(upload_id) => results.push(json!({
                "index": entry.index, "filename": entry.filename, "status": "ok",
                "upload_id": upload_id, "node_id": null, "error_code": null, "error_message": null,
            })),
            Err(e) => {
                let (_, code) = e.status_and_code();
                let r = json!({
                    "index": entry.index, "filename": entry.filename, "status": "error",
                    "upload_id": null, "node_id": null, "error_code": code,
                    "error_message": e.to_string(),
                });
                errors.push(r.clone());
                results.push(r);
            }
        }
    }
    cleanup(files).await;
    let ok = results.len() - errors.len();
    Ok(json!({
        "batch_id": ids::opaque_id(), "count_total": results.len(), "count_succeeded": ok,
        "count_errored": errors.len(), "partial": ok > 0 && !errors.is_empty(),
        "all_failed": ok == 0 && !results.is_empty(), "results": results, "errors": errors,
    }))
}

async fn start_one(
    state: &Arc<EmulatorState>,
    ws: &str,
    folder: &str,
    entry: &Entry,
    file: Ingested,
) -> Result<String, ApiError> {
    let checked = ingest::verify_hash(
        entry.hash.as_deref(),
        entry.hash_algo.as_deref(),
        &file.sha256,
    );
    if let Err(e) = checked {
        let _ = tokio::fs::remove_file(&file.path).await;
        return Err(e);
    }
    let mut s = SessionRow::new(Kind::Single, entry.filename.clone());
    s.size = Some(file.size);
    s.instance_id = Some(ws.to_owned());
    s.profile_type = Some("workspace".into());
    s.folder_id = Some(folder.to_owned());
    driver::assemble_whole_file(state, Target::New(Box::new(s)), file).await
}

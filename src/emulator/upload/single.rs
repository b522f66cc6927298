//! Single-call upload (§7.4): a multipart `POST /upload/` carrying the whole file (≤ 4 MiB) in
//! part `chunk`. The bytes become chunk 1 of a new session that assembles and stores itself
//! (`driver::assemble_whole_file`); the answer carries `new_file_id` once stored (or, with a
//! configured probability, omits it so clients must poll).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{FromRequest, Multipart, Request};
use axum::response::{IntoResponse, Response};
use rand::RngExt as _;
use serde_json::json;

use super::driver::{self, Target};
use super::fields::session_from_fields;
use super::ingest::{self, FileSink, Ingested};
use super::sessions::{self, Kind, SessionRow};
use super::status::Status;
use crate::emulator::state::EmulatorState;
use crate::emulator::transport::envelope::Envelope;
use crate::emulator::transport::error::ApiError;

/// Handles a multipart `POST /upload/` (§7.4).
pub async fn single_call(state: Arc<EmulatorState>, req: Request) -> Result<Response, ApiError> {
    let mut mp = Multipart::from_request(req, &())
        .await
        .map_err(ingest::multipart_err)?;
    let mut fields = HashMap::new();
    let mut file = None;
    let max = state.config.limits.single_call_max;
    while let Some(field) = mp.next_field().await.map_err(ingest::multipart_err)? {
        let name = field.name().unwrap_or_default().to_owned();
        if name == "chunk" {
            let sink = FileSink::create(state.blobs.tmp_path(), Some(max));
            file = Some(ingest::stream_to_file(field, sink, ingest::multipart_err).await?);
        } else {
            let text = field.text().await.map_err(ingest::multipart_err)?;
            fields.insert(name, text);
        }
    }
    let file = file.ok_or_else(|| ApiError::invalid("the multipart part chunk is missing"))?;
    let s = match checked_session(&state, &fields, &file).await {
        Ok(s) => s,
        Err(e) => {
            let _ = tokio::fs::remove_file(&file.path).await;
            return Err(e);
        }
    };
    let id = s.id.clone();
    let mut rx = state.notifier.subscribe(&id);
    driver::assemble_whole_file(&state, Target::New(Box::new(s)), file).await?;
    let faults = state.faults.get();
    if rand::rng().random::<f64>() < faults.defer_new_file_id_rate {
        return Ok(Envelope(json!({"id": id})).into_response());
    }
    let max = Duration::from_secs(60);
    let done = sessions::wait_for(&state, &id, &mut rx, max, SessionRow::is_at_rest).await?;
    if faults.fail_after_store && done.status == Status::Stored {
        return Err(ApiError::Internal("injected failure after store".into()));
    }
    Ok(match done.new_file_id {
        Some(node) => Envelope(json!({"id": id, "new_file_id": node})),
        None => Envelope(json!({"id": id})),
    }
    .into_response())
}

/// The new session for the received file: the create fields (§7.3), a declared `size` equal to
/// the bytes received (10522 otherwise), and the optional hash.
async fn checked_session(
    state: &EmulatorState,
    fields: &HashMap<String, String>,
    file: &Ingested,
) -> Result<SessionRow, ApiError> {
    let s = session_from_fields(state, fields, Kind::Single).await?;
    if s.kind == Kind::Stream {
        return Err(ApiError::WrongSessionKind(
            "stream sessions take no bytes here".into(),
        ));
    }
    if let Some(size) = s.size
        && size != file.size
    {
        return Err(ApiError::SizeMismatch {
            chunks: file.size,
            size,
        });
    }
    ingest::verify_hash(s.hash.as_deref(), s.hash_algo.as_deref(), &file.sha256)?;
    Ok(s)
}

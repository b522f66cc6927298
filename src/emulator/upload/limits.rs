//! The upload limit tables: `GET /upload/limits/` (§7.2, limits at the top level) and
//! `GET /upload/algos/` (§7.1 "Hash algorithms").

use std::sync::Arc;

use axum::extract::State;
use serde_json::json;

use crate::emulator::state::EmulatorState;
use crate::emulator::transport::auth::Caller;
use crate::emulator::transport::envelope::Envelope;

/// `GET /upload/limits/` (§7.2): limits at the top level.
pub async fn plan(State(state): State<Arc<EmulatorState>>, _: Caller) -> Envelope {
    let l = &state.config.limits;
    Envelope(json!({
        "chunk_size": l.chunk_size, "size": l.max_file_size, "chunks": l.max_chunks,
        "sessions": l.sessions, "sessions_size_max": l.sessions_size_max,
    }))
}

/// `GET /upload/algos/` (§7.1).
pub async fn algos(_: Caller) -> Envelope {
    Envelope(json!({"algos": ["md5", "sha1", "sha256", "sha384"]}))
}

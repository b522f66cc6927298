//! Chunk records of a session in SQLite (§7.5, §7.6): 1-based order, size and SHA-256, and the
//! `chunks:{"<order>":<bytes>}` map that details and chunk status show (so resume can be
//! tested). The bytes themselves are files under `chunks/<session>/<order>` (`store.rs`).

use std::collections::BTreeMap;

use rusqlite::Connection;
use serde_json::{Value, json};

use crate::emulator::transport::error::ApiError;

/// One received chunk.
#[derive(Debug, Clone)]
pub struct ChunkRow {
    pub order: u64,
    pub size: u64,
    pub sha256: String,
}

/// Received chunks in order.
pub fn list(c: &Connection, id: &str) -> Result<Vec<ChunkRow>, ApiError> {
    let mut stmt =
        c.prepare("SELECT ord, size, sha256 FROM chunks WHERE session_id = ?1 ORDER BY ord")?;
    let rows = stmt
        .query_map([id], |r| {
            Ok(ChunkRow {
                order: r.get::<_, i64>(0)? as u64,
                size: r.get::<_, i64>(1)? as u64,
                sha256: r.get(2)?,
            })
        })?
        .collect::<Result<_, _>>()?;
    Ok(rows)
}

/// Records (or replaces) a chunk.
pub fn put(c: &Connection, id: &str, chunk: &ChunkRow) -> Result<(), ApiError> {
    c.execute(
        "INSERT OR REPLACE INTO chunks(session_id, ord, size, sha256) VALUES (?1, ?2, ?3, ?4)",
        (id, chunk.order as i64, chunk.size as i64, &chunk.sha256),
    )?;
    Ok(())
}

/// Forgets a chunk.
pub fn delete(c: &Connection, id: &str, order: u64) -> Result<bool, ApiError> {
    Ok(c.execute(
        "DELETE FROM chunks WHERE session_id = ?1 AND ord = ?2",
        (id, order as i64),
    )? > 0)
}

/// `chunks:{"1":bytes,…}` (§7.6).
pub fn map(chunks: &[ChunkRow]) -> Value {
    let map: BTreeMap<u64, u64> = chunks.iter().map(|c| (c.order, c.size)).collect();
    let obj: serde_json::Map<String, Value> = map
        .into_iter()
        .map(|(k, v)| (k.to_string(), json!(v)))
        .collect();
    Value::Object(obj)
}

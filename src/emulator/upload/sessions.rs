//! Upload sessions in SQLite (§7.3–§7.11): session rows, the `session` JSON object (§7.8) and
//! [`wait_for`], the long-poll's wait for a row to change. Every status write goes through
//! here, as a [`Status`]. Chunk records are `chunks.rs`.

use std::time::Duration;

use rusqlite::{Connection, OptionalExtension, Row};
use serde_json::{Value, json};
use tokio::sync::watch;

use super::chunks::{self, ChunkRow};
use super::status::Status;
use crate::emulator::state::EmulatorState;
use crate::emulator::store::Store;
use crate::emulator::transport::error::ApiError;
use crate::emulator::transport::ids;

/// How bytes arrive for a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `POST /upload/{id}/chunk/` + `complete/`.
    Chunked,
    /// Multipart `POST /upload/` with the bytes (≤ 4 MiB).
    Single,
    /// `stream=true` + `POST /upload/{id}/stream/`.
    Stream,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Self::Chunked => "chunked",
            Self::Single => "single",
            Self::Stream => "stream",
        }
    }

    fn parse(s: &str) -> Self {
        match s {
            "single" => Self::Single,
            "stream" => Self::Stream,
            _ => Self::Chunked,
        }
    }
}

/// One session row.
#[derive(Debug, Clone)]
pub struct SessionRow {
    pub id: String,
    pub kind: Kind,
    pub name: String,
    pub size: Option<u64>,
    pub max_size: Option<u64>,
    pub action: String,
    pub instance_id: Option<String>,
    pub profile_type: Option<String>,
    pub folder_id: Option<String>,
    pub file_id: Option<String>,
    pub hash: Option<String>,
    pub hash_algo: Option<String>,
    pub status: Status,
    pub status_message: Option<String>,
    pub new_file_id: Option<String>,
    pub blob: Option<String>,
    pub blob_size: Option<u64>,
    pub blob_hash: Option<String>,
    /// Dead after a 10522: only `DELETE` is accepted.
    pub dead: bool,
    pub created: String,
    pub updated: String,
}

const COLS: &str = "id, kind, name, size, max_size, action, instance_id, profile_type, folder_id, \
    file_id, hash, hash_algo, status, status_message, new_file_id, blob, blob_size, blob_hash, \
    dead, created, updated";

fn from_row(r: &Row<'_>) -> rusqlite::Result<SessionRow> {
    let opt_u64 = |i: usize| -> rusqlite::Result<Option<u64>> {
        Ok(r.get::<_, Option<i64>>(i)?.map(|v| v as u64))
    };
    Ok(SessionRow {
        id: r.get(0)?,
        kind: Kind::parse(&r.get::<_, String>(1)?),
        name: r.get(2)?,
        size: opt_u64(3)?,
        max_size: opt_u64(4)?,
        action: r.get(5)?,
        instance_id: r.get(6)?,
        profile_type: r.get(7)?,
        folder_id: r.get(8)?,
        file_id: r.get(9)?,
        hash: r.get(10)?,
        hash_algo: r.get(11)?,
        status: r.get(12)?,
        status_message: r.get(13)?,
        new_file_id: r.get(14)?,
        blob: r.get(15)?,
        blob_size: opt_u64(16)?,
        blob_hash: r.get(17)?,
        dead: r.get::<_, i64>(18)? != 0,
        created: r.get(19)?,
        updated: r.get(20)?,
    })
}

impl SessionRow {
    /// A fresh session in state `ready`.
    pub fn new(kind: Kind, name: String) -> Self {
        let now = ids::now();
        Self {
            id: ids::opaque_id(),
            kind,
            name,
            size: None,
            max_size: None,
            action: "create".into(),
            instance_id: None,
            profile_type: None,
            folder_id: None,
            file_id: None,
            hash: None,
            hash_algo: None,
            status: Status::Ready,
            status_message: None,
            new_file_id: None,
            blob: None,
            blob_size: None,
            blob_hash: None,
            dead: false,
            created: now.clone(),
            updated: now,
        }
    }

    /// The checks shared by chunk calls and `complete` (§7.5, §7.7): the session is not dead
    /// after a 10522 and still receives chunks (`ready` or `uploading`); 400 otherwise.
    pub fn check_receiving(&self) -> Result<(), ApiError> {
        if self.dead {
            return Err(ApiError::InvalidState(
                "the session has failed; cancel it".into(),
            ));
        }
        if !self.status.accepts_chunks() {
            return Err(ApiError::InvalidState(format!(
                "the session is not in a valid state ({})",
                self.status
            )));
        }
        Ok(())
    }

    /// Whether the session reached a terminal state.
    pub fn is_terminal(&self) -> bool {
        self.status.is_terminal()
    }

    /// Whether no step will run by itself any more: terminal, or assembled without a target
    /// and waiting for `addfile` (§7.9).
    pub fn is_at_rest(&self) -> bool {
        self.is_terminal() || (self.status == Status::Complete && self.instance_id.is_none())
    }

    /// Whether the background driver has a step to run (what a restart resumes).
    pub fn awaits_driver(&self) -> bool {
        !self.dead
            && match self.status {
                Status::Assemble | Status::Assembling | Status::Store | Status::Storing => true,
                Status::Complete => self.instance_id.is_some(),
                _ => false,
            }
    }
}

/// Inserts a session.
pub fn insert(c: &Connection, s: &SessionRow) -> Result<(), ApiError> {
    c.execute(
        &format!(
            "INSERT INTO sessions({COLS}) VALUES \
             (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15,?16,?17,?18,?19,?20,?21)"
        ),
        rusqlite::params![
            s.id,
            s.kind.as_str(),
            s.name,
            s.size.map(|v| v as i64),
            s.max_size.map(|v| v as i64),
            s.action,
            s.instance_id,
            s.profile_type,
            s.folder_id,
            s.file_id,
            s.hash,
            s.hash_algo,
            s.status,
            s.status_message,
            s.new_file_id,
            s.blob,
            s.blob_size.map(|v| v as i64),
            s.blob_hash,
            s.dead as i64,
            s.created,
            s.updated
        ],
    )?;
    Ok(())
}

/// A session by id.
pub fn get(c: &Connection, id: &str) -> Result<Option<SessionRow>, ApiError> {
    Ok(c.query_row(
        &format!("SELECT {COLS} FROM sessions WHERE id = ?1"),
        [id],
        from_row,
    )
    .optional()?)
}

/// A session by id, or 404/1609.
pub fn require(c: &Connection, id: &str) -> Result<SessionRow, ApiError> {
    get(c, id)?.ok_or_else(|| ApiError::not_found(format!("upload session {id} not found")))
}

/// A session by id from the store, or 404/1609 (for handlers outside a store call).
pub async fn load(store: &Store, id: &str) -> Result<SessionRow, ApiError> {
    let sid = id.to_owned();
    store.call(move |c| require(c, &sid)).await
}

/// Waits (up to `max`) until `done` holds for session `id`, re-reading it on every
/// notification (§7.8 long-poll; shutdown releases it at once). Subscribe (`rx`) before the action whose outcome is awaited, so no
/// transition is missed.
pub async fn wait_for(
    state: &EmulatorState,
    id: &str,
    rx: &mut watch::Receiver<u64>,
    max: Duration,
    done: impl Fn(&SessionRow) -> bool,
) -> Result<SessionRow, ApiError> {
    let deadline = tokio::time::Instant::now() + max;
    loop {
        let s = load(&state.store, id).await?;
        if done(&s) || state.notifier.is_closing() {
            return Ok(s);
        }
        match tokio::time::timeout_at(deadline, rx.changed()).await {
            Ok(Ok(())) => continue,
            _ => return Ok(s),
        }
    }
}

/// All sessions, newest first.
pub fn all(c: &Connection) -> Result<Vec<SessionRow>, ApiError> {
    let mut stmt = c.prepare(&format!(
        "SELECT {COLS} FROM sessions ORDER BY created DESC, id"
    ))?;
    let rows = stmt.query_map([], from_row)?.collect::<Result<_, _>>()?;
    Ok(rows)
}

/// Sessions counted against the plan's `sessions` limit: every one not stored yet.
pub fn count_unstored(c: &Connection) -> Result<u64, ApiError> {
    let n: i64 = c.query_row(
        "SELECT count(*) FROM sessions WHERE status != ?1",
        [Status::Stored],
        |r| r.get(0),
    )?;
    Ok(n as u64)
}

/// Sets status (and message), bumping `updated`.
pub fn set_status(
    c: &Connection,
    id: &str,
    status: Status,
    message: Option<&str>,
) -> Result<(), ApiError> {
    c.execute(
        "UPDATE sessions SET status = ?2, status_message = ?3, updated = ?4 WHERE id = ?1",
        (id, status, message, ids::now()),
    )?;
    Ok(())
}

/// Records the assembled blob.
pub fn set_blob(
    c: &Connection,
    id: &str,
    blob: &str,
    size: u64,
    hash: &str,
) -> Result<(), ApiError> {
    c.execute(
        "UPDATE sessions SET blob = ?2, blob_size = ?3, blob_hash = ?4 WHERE id = ?1",
        (id, blob, size as i64, hash),
    )?;
    Ok(())
}

/// Sets `stored` and `new_file_id`, clearing any message.
pub fn mark_stored(c: &Connection, id: &str, node_id: &str) -> Result<(), ApiError> {
    c.execute(
        "UPDATE sessions SET status = ?2, status_message = NULL, new_file_id = ?3, \
         updated = ?4 WHERE id = ?1",
        (id, Status::Stored, node_id, ids::now()),
    )?;
    Ok(())
}

/// Marks a session dead after a 10522.
pub fn kill(c: &Connection, id: &str, message: &str) -> Result<(), ApiError> {
    c.execute(
        "UPDATE sessions SET dead = 1, status_message = ?2, updated = ?3 WHERE id = ?1",
        (id, message, ids::now()),
    )?;
    Ok(())
}

/// Deletes a session and its chunk records.
pub fn delete(c: &mut Connection, id: &str) -> Result<bool, ApiError> {
    let tx = c.transaction()?;
    tx.execute("DELETE FROM chunks WHERE session_id = ?1", [id])?;
    let n = tx.execute("DELETE FROM sessions WHERE id = ?1", [id])?;
    tx.commit()?;
    Ok(n > 0)
}

/// The `session` object (§7.8).
pub fn session_json(s: &SessionRow, chunks: &[ChunkRow]) -> Value {
    json!({
        "id": s.id,
        "status": s.status,
        "status_message": s.status_message,
        "new_file_id": s.new_file_id,
        "chunks": chunks::map(chunks),
        "name": s.name,
        "size": s.size,
        "max_size": s.max_size,
        "stream": s.kind == Kind::Stream,
        "action": s.action,
        "instance_id": s.instance_id,
        "profile_type": s.profile_type,
        "folder_id": s.folder_id,
        "file_id": s.file_id,
        "hash": s.hash,
        "hash_algo": s.hash_algo,
        "created": s.created,
        "updated": s.updated,
    })
}

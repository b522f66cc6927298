//! The asynchronous half of the upload state machine (§7.9):
//! `assemble → assembling → complete → store → storing → stored`, one delayed step at a time,
//! waking long-polls on every transition.
//!
//! Assembly concatenates the chunk files into a temp file while hashing, verifies size and the
//! optional whole-file hash, then renames it to `blobs/<session id>` (a single chunk is renamed
//! directly). Only the `storing → stored` step creates or updates the node, so nothing is
//! visible in listings before `stored`. Drivers are resumed after a restart from the persisted
//! status.

use std::io::{BufWriter, Read, Write};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use rand::Rng;
use rusqlite::Connection;
use sha2::{Digest, Sha256};
use tokio::task::JoinSet;

use super::AppState;
use super::error::ApiError;
use super::ids;
use super::nodes::{self, NodeRow};
use super::sessions::{self, SessionRow};

/// Background drivers, so shutdown can stop them before SQLite closes.
#[derive(Default)]
pub struct Tasks {
    set: Mutex<JoinSet<()>>,
}

impl Tasks {
    fn spawn(&self, fut: impl std::future::Future<Output = ()> + Send + 'static) {
        let mut set = self.set.lock();
        while set.try_join_next().is_some() {}
        set.spawn(fut);
    }

    /// Aborts every driver and waits for them to end.
    pub async fn abort_all(&self) {
        let mut set = std::mem::take(&mut *self.set.lock());
        set.abort_all();
        while set.join_next().await.is_some() {}
    }
}

/// Restarts drivers for sessions left mid-way by a previous run.
pub async fn resume_unfinished(state: &Arc<AppState>) -> Result<(), ApiError> {
    let pending = state
        .store
        .call(|c| {
            let mut stmt = c.prepare(
                "SELECT id FROM sessions WHERE dead = 0 AND (status IN \
                 ('assemble','assembling','store','storing') OR \
                 (status = 'complete' AND instance_id IS NOT NULL))",
            )?;
            let ids = stmt
                .query_map([], |r| r.get::<_, String>(0))?
                .collect::<Result<Vec<_>, _>>()?;
            Ok(ids)
        })
        .await?;
    for id in pending {
        spawn_driver(state, id);
    }
    Ok(())
}

/// Starts the driver for a session whose status was just set to `assemble`.
pub fn spawn_driver(state: &Arc<AppState>, id: String) {
    let st = state.clone();
    state.tasks.spawn(async move {
        if let Err(e) = drive(&st, &id).await {
            tracing::error!(session = %id, error = %e, "upload driver failed");
            let msg = e.to_string();
            let sid = id.clone();
            let _ = st
                .store
                .call(move |c| sessions::set_status(c, &sid, "assembly_failed", Some(&msg)))
                .await;
            st.notifier.notify(&id);
        }
    });
}

async fn step_delay(state: &AppState) {
    let (lo, hi) = state.config.step_delay;
    let d = if hi > lo {
        rand::thread_rng().gen_range(lo..=hi)
    } else {
        lo
    };
    if d > Duration::ZERO {
        tokio::time::sleep(d).await;
    }
}

async fn transition(
    state: &AppState,
    id: &str,
    status: &'static str,
    msg: Option<String>,
) -> Result<(), ApiError> {
    let sid = id.to_owned();
    state
        .store
        .call(move |c| sessions::set_status(c, &sid, status, msg.as_deref()))
        .await?;
    state.notifier.notify(id);
    Ok(())
}

async fn drive(state: &Arc<AppState>, id: &str) -> Result<(), ApiError> {
    loop {
        let sid = id.to_owned();
        let Some(s) = state.store.call(move |c| sessions::get(c, &sid)).await? else {
            return Ok(());
        };
        match s.status.as_str() {
            "assemble" => {
                step_delay(state).await;
                transition(state, id, "assembling", None).await?;
            }
            "assembling" => {
                step_delay(state).await;
                if state.faults.get().fail_assembly {
                    let msg = "assembly failed (injected fault)".to_owned();
                    return transition(state, id, "assembly_failed", Some(msg)).await;
                }
                match assemble(state, &s).await {
                    Ok(()) => transition(state, id, "complete", None).await?,
                    Err(AssemblyFailure(msg)) => {
                        return transition(state, id, "assembly_failed", Some(msg)).await;
                    }
                }
            }
            "complete" if s.instance_id.is_some() => {
                step_delay(state).await;
                transition(state, id, "store", None).await?;
            }
            "store" => {
                step_delay(state).await;
                transition(state, id, "storing", None).await?;
            }
            "storing" => {
                step_delay(state).await;
                if state.faults.get().fail_store {
                    let msg = "storage import failed (injected fault)".to_owned();
                    return transition(state, id, "store_failed", Some(msg)).await;
                }
                let sess = s.clone();
                let placed = state
                    .store
                    .call(move |c| {
                        let ws = sess.instance_id.clone().unwrap_or_default();
                        let folder = sess.folder_id.clone().unwrap_or_else(|| "root".into());
                        Ok(place(c, &sess, &ws, &folder, &sess.name))
                    })
                    .await?;
                match placed {
                    Ok(node_id) => {
                        let sid = id.to_owned();
                        state
                            .store
                            .call(move |c| mark_stored(c, &sid, &node_id))
                            .await?;
                        state.notifier.notify(id);
                        let _ = tokio::fs::remove_dir_all(state.blobs.session_dir(id)).await;
                    }
                    Err(e) => {
                        return transition(state, id, "store_failed", Some(e.to_string())).await;
                    }
                }
            }
            _ => return Ok(()),
        }
    }
}

/// Sets `stored` and `new_file_id`.
pub fn mark_stored(c: &Connection, id: &str, node_id: &str) -> Result<(), ApiError> {
    c.execute(
        "UPDATE sessions SET status = 'stored', status_message = NULL, new_file_id = ?2, \
         updated = ?3 WHERE id = ?1",
        (id, node_id, ids::now()),
    )?;
    Ok(())
}

struct AssemblyFailure(String);

impl From<ApiError> for AssemblyFailure {
    fn from(e: ApiError) -> Self {
        Self(e.to_string())
    }
}

async fn assemble(state: &Arc<AppState>, s: &SessionRow) -> Result<(), AssemblyFailure> {
    let sid = s.id.clone();
    let chunks = state.store.call(move |c| sessions::chunks(c, &sid)).await?;
    let blob = state.blobs.blob_path(&s.id);
    let (size, sha256) = if chunks.len() == 1 {
        // One chunk (single-call, stream, or a one-chunk session): rename, hash already known.
        let src = state.blobs.chunk_path(&s.id, chunks[0].order);
        if tokio::fs::metadata(&src).await.is_ok() {
            tokio::fs::rename(&src, &blob).await.map_err(ApiError::from)?;
        } else if tokio::fs::metadata(&blob).await.is_err() {
            return Err(AssemblyFailure("chunk data is missing".into()));
        }
        (chunks[0].size, chunks[0].sha256.clone())
    } else {
        let paths: Vec<_> = chunks
            .iter()
            .map(|c| state.blobs.chunk_path(&s.id, c.order))
            .collect();
        let tmp = state.blobs.tmp_path();
        let target = blob.clone();
        tokio::task::spawn_blocking(move || concat(&paths, &tmp, &target))
            .await
            .map_err(ApiError::from)?
            .map_err(ApiError::from)?
    };
    if let Some(expected) = s.size {
        if s.kind != sessions::Kind::Stream && expected != size {
            return Err(AssemblyFailure(format!(
                "chunks ({size}) do not match size ({expected})"
            )));
        }
    }
    if let Some(h) = s.hash.as_deref().filter(|h| !h.is_empty()) {
        let algo = s.hash_algo.as_deref().unwrap_or("sha256");
        if algo.eq_ignore_ascii_case("sha256") && !h.eq_ignore_ascii_case(&sha256) {
            let _ = tokio::fs::remove_file(&blob).await;
            return Err(AssemblyFailure(format!(
                "hash mismatch: expected {h}, got {sha256}"
            )));
        }
    }
    let sid = s.id.clone();
    state
        .store
        .call(move |c| sessions::set_blob(c, &sid, &sid, size, &sha256))
        .await?;
    Ok(())
}

fn concat(
    paths: &[std::path::PathBuf],
    tmp: &std::path::Path,
    target: &std::path::Path,
) -> std::io::Result<(u64, String)> {
    let mut out = BufWriter::with_capacity(1 << 20, std::fs::File::create(tmp)?);
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut total = 0u64;
    for p in paths {
        let mut f = std::fs::File::open(p)?;
        loop {
            let n = f.read(&mut buf)?;
            if n == 0 {
                break;
            }
            hasher.update(&buf[..n]);
            out.write_all(&buf[..n])?;
            total += n as u64;
        }
    }
    out.flush()?;
    drop(out);
    std::fs::rename(tmp, target)?;
    Ok((total, hex::encode(hasher.finalize())))
}

/// Places an assembled session's blob as a file node (§6.1: a same-name file is overwritten in
/// place, keeping its node id; the old content becomes a version). Returns the node id.
pub fn place(
    c: &mut Connection,
    s: &SessionRow,
    ws: &str,
    folder: &str,
    name: &str,
) -> Result<String, ApiError> {
    let blob = s
        .blob
        .clone()
        .ok_or_else(|| ApiError::InvalidState("the upload is not assembled".into()))?;
    let size = s.blob_size.unwrap_or(0);
    let hash = s.blob_hash.clone();
    let mime = mime_guess::from_path(name)
        .first_or_octet_stream()
        .essence_str()
        .to_owned();
    let tx = c.transaction()?;
    let now = ids::now();
    let target = if s.action == "update" {
        let file_id = s.file_id.clone().unwrap_or_default();
        match nodes::get(&tx, ws, &file_id)? {
            Some(n) if n.kind == "file" && !n.deleted => Some(n),
            _ => return Err(ApiError::not_found(format!("file {file_id} not found"))),
        }
    } else {
        None
    };
    let (parent, existing) = match target {
        Some(n) => (n.parent.clone(), Some(n)),
        None => {
            let parent = nodes::resolve_folder(&tx, ws, folder)?;
            let existing = nodes::child_named(&tx, ws, &parent, name)?;
            (parent, existing)
        }
    };
    let id = match existing {
        Some(old) if old.kind == "file" => {
            tx.execute(
                "INSERT OR REPLACE INTO versions(node_id, version, blob, size, hash, created) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                (&old.id, &old.version, &old.blob, old.size as i64, &old.hash, &old.updated),
            )?;
            tx.execute(
                "UPDATE nodes SET blob = ?2, size = ?3, hash = ?4, version = ?5, updated = ?6, \
                 mimetype = ?7, upload_session = ?8 WHERE id = ?1",
                rusqlite::params![
                    old.id, blob, size as i64, hash, ids::opaque_id(), now, mime, s.id
                ],
            )?;
            old.id
        }
        other => {
            let name = match other {
                Some(_) => nodes::free_name(&tx, ws, &parent, name)?,
                None => name.to_owned(),
            };
            let node = NodeRow {
                id: ids::opaque_id(),
                workspace_id: ws.to_owned(),
                parent,
                kind: "file".into(),
                name,
                size,
                mimetype: Some(mime),
                hash,
                blob: Some(blob),
                version: ids::opaque_id(),
                created: now.clone(),
                updated: now,
                deleted: false,
                deleted_from: None,
                origin_type: Some(match s.kind {
                    sessions::Kind::Chunked => "chunked".into(),
                    _ => "upload".into(),
                }),
                upload_session: Some(s.id.clone()),
            };
            nodes::insert(&tx, &node)?;
            node.id
        }
    };
    tx.commit()?;
    Ok(id)
}

//! The asynchronous half of the upload state machine (§7.9, §11 "State machine and timings"):
//! `assemble → assembling → complete → store → storing → stored`, one delayed step at a time,
//! waking long-polls on every transition. Drivers are resumed after a restart from the persisted
//! status.
//!
//! [`assemble_whole_file`] is the one way a file received whole (single-call, batch, stream)
//! becomes chunk 1 of its session (its bytes moved straight to the blob's path) and enters the
//! machine; chunked sessions enter through `complete/` (`lifecycle.rs`). Assembly itself is
//! `assembly.rs`; the `storing → stored` step is `placement.rs`, so nothing is visible in
//! listings before `stored`.

use std::sync::Arc;
use std::time::Duration;

use rand::RngExt as _;

use super::assembly::{self, AssemblyFailure};
use super::chunks::{self, ChunkRow};
use super::ingest::Ingested;
use super::placement;
use super::sessions::{self, SessionRow};
use super::status::Status;
use crate::emulator::state::EmulatorState;
use crate::emulator::storage::previews;
use crate::emulator::transport::error::ApiError;

/// The session a whole received file goes into.
pub enum Target {
    /// A session created by this request (single-call, batch): inserted with its chunk.
    New(Box<SessionRow>),
    /// A session that exists already (stream).
    Existing(String),
}

impl Target {
    fn id(&self) -> &str {
        match self {
            Self::New(s) => &s.id,
            Self::Existing(id) => id,
        }
    }
}

/// Makes `file` chunk 1 of the target session, sets `assemble` and starts the driver: the step
/// single-call (§7.4), batch (§7.12) and stream (§7.10) uploads share. Returns the session id.
pub async fn assemble_whole_file(
    state: &Arc<EmulatorState>,
    target: Target,
    file: Ingested,
) -> Result<String, ApiError> {
    let id = target.id().to_owned();
    // Straight to the session's blob, where assembly finds a single chunk already in place: a
    // session directory would cost two inode operations per file for nothing.
    let dest = state.blobs.blob_path(&id);
    if let Err(e) = tokio::fs::rename(&file.path, &dest).await {
        let _ = tokio::fs::remove_file(&file.path).await;
        return Err(e.into());
    }
    let chunk = ChunkRow {
        order: 1,
        size: file.size,
        sha256: file.sha256,
    };
    let sid = id.clone();
    state
        .store
        .call(move |c| {
            if let Target::New(row) = &target {
                sessions::insert(c, row)?;
            }
            chunks::put(c, &sid, &chunk)?;
            sessions::set_status(c, &sid, Status::Assemble, None)
        })
        .await?;
    state.notifier.notify(&id);
    spawn(state, id.clone());
    Ok(id)
}

/// Restarts drivers for sessions left mid-way by a previous run.
pub async fn resume_unfinished(state: &Arc<EmulatorState>) -> Result<(), ApiError> {
    let pending = state
        .store
        .call(|c| {
            let all = sessions::all(c)?;
            Ok(all
                .into_iter()
                .filter(SessionRow::awaits_driver)
                .map(|s| s.id))
        })
        .await?;
    for id in pending {
        spawn(state, id);
    }
    Ok(())
}

/// Starts the driver for a session whose status was just set to `assemble`. A driver that
/// fails on I/O or SQLite ends the session in `assembly_failed`.
pub fn spawn(state: &Arc<EmulatorState>, id: String) {
    let st = state.clone();
    state.tasks.spawn(async move {
        if let Err(e) = drive(&st, &id).await {
            tracing::error!(session = %id, error = %e, "upload driver failed");
            let _ = transition(&st, &id, Status::AssemblyFailed, Some(e.to_string())).await;
        }
    });
}

async fn step_delay(state: &EmulatorState) {
    let (lo, hi) = state.config.step_delay;
    let d = if hi > lo {
        rand::rng().random_range(lo..=hi)
    } else {
        lo
    };
    if d > Duration::ZERO {
        tokio::time::sleep(d).await;
    }
}

async fn transition(
    state: &EmulatorState,
    id: &str,
    status: Status,
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

/// Runs the steps from the persisted status until the session rests or fails.
async fn drive(state: &Arc<EmulatorState>, id: &str) -> Result<(), ApiError> {
    loop {
        let sid = id.to_owned();
        let Some(s) = state.store.call(move |c| sessions::get(c, &sid)).await? else {
            return Ok(());
        };
        if let Some(next) = queued_next(&s) {
            step_delay(state).await;
            transition(state, id, next, None).await?;
            continue;
        }
        match s.status {
            Status::Assembling => {
                step_delay(state).await;
                if state.faults.get().fail_assembly {
                    let msg = "assembly failed (injected fault)".to_owned();
                    return transition(state, id, Status::AssemblyFailed, Some(msg)).await;
                }
                match assembly::assemble(state, &s).await {
                    Ok(()) if !exists(state, id).await? => {
                        // Cancelled while assembling: drop the orphaned blob.
                        let _ = tokio::fs::remove_file(state.blobs.blob_path(id)).await;
                        return Ok(());
                    }
                    Ok(()) => transition(state, id, Status::Complete, None).await?,
                    Err(AssemblyFailure(msg)) => {
                        return transition(state, id, Status::AssemblyFailed, Some(msg)).await;
                    }
                }
            }
            Status::Storing => {
                step_delay(state).await;
                if state.faults.get().fail_store {
                    let msg = "storage import failed (injected fault)".to_owned();
                    return transition(state, id, Status::StoreFailed, Some(msg)).await;
                }
                let sess = s.clone();
                let placed = state
                    .store
                    .call(move |c| {
                        let ws = sess.instance_id.clone().unwrap_or_default();
                        let folder = sess.folder_id.clone().unwrap_or_else(|| "root".into());
                        Ok(placement::place(c, &sess, &ws, &folder, &sess.name))
                    })
                    .await?;
                match placed {
                    Ok(node_id) => {
                        let (sid, nid) = (id.to_owned(), node_id.clone());
                        state
                            .store
                            .call(move |c| sessions::mark_stored(c, &sid, &nid))
                            .await?;
                        state.notifier.notify(id);
                        let ws = s.instance_id.clone().unwrap_or_default();
                        previews::schedule(state, ws, node_id);
                        let _ = tokio::fs::remove_dir_all(state.blobs.session_dir(id)).await;
                    }
                    Err(e) => {
                        let msg = Some(e.to_string());
                        return transition(state, id, Status::StoreFailed, msg).await;
                    }
                }
            }
            _ => return Ok(()),
        }
    }
}

/// The state a queued step moves to after its delay, with no work of its own: assembly and the
/// import start, and an assembled session with a target is queued for import.
fn queued_next(s: &SessionRow) -> Option<Status> {
    match s.status {
        Status::Assemble => Some(Status::Assembling),
        Status::Complete if s.instance_id.is_some() => Some(Status::Store),
        Status::Store => Some(Status::Storing),
        _ => None,
    }
}

async fn exists(state: &EmulatorState, id: &str) -> Result<bool, ApiError> {
    let sid = id.to_owned();
    Ok(state
        .store
        .call(move |c| sessions::get(c, &sid))
        .await?
        .is_some())
}

//! AI indexing on upload (§6.2 `ai`, §8 "Preconditions"): every file whose content was stored
//! goes `pending → in_progress → ready` (or `failed`); files AI cannot read are `disabled`.
//!
//! Storage queues `(workspace, node)` in [`IndexQueue`](crate::emulator::state::IndexQueue)
//! whenever content is stored; [`run`] takes each one, waits
//! [`AiConfig::index_delay`](crate::emulator::AiConfig) in `pending`, then extracts text off
//! the async threads (one document at a time, under a timeout and a size cap) and replaces the
//! node's passages in the workspace index. Each state change posts `ai_state:{node}` to the
//! workspace's activity feed. A record belongs to one version: when newer content arrives
//! meanwhile, the old run stops and the new one takes over.
//!
//! At start, [`rebuild`] re-reads every file that was `ready` (the index lives in memory) and
//! queues every file still waiting.

use std::sync::Arc;

use rusqlite::Connection;

use super::extract;
use crate::emulator::state::EmulatorState;
use crate::emulator::storage::nodes::{self, NodeRow};
use crate::emulator::transport::error::ApiError;

/// `ai.state` values (§6.2; the emulator writes `in_progress`).
pub const PENDING: &str = "pending";
/// Being read.
pub const IN_PROGRESS: &str = "in_progress";
/// Searchable.
pub const READY: &str = "ready";
/// Could not be read (too large, malformed, timed out).
pub const FAILED: &str = "failed";
/// Not a kind AI reads.
pub const DISABLED: &str = "disabled";

/// Longest summary, in characters.
const SUMMARY_MAX: usize = 200;

fn mark(
    c: &Connection,
    id: &str,
    version: &str,
    state: &str,
    summary: Option<&str>,
) -> Result<(), ApiError> {
    c.execute(
        "UPDATE nodes SET ai_state = ?2, ai_version = ?3, ai_summary = ?4 WHERE id = ?1",
        (id, state, version, summary),
    )?;
    Ok(())
}

/// Sets the state of `node` at `version` unless the node moved on to newer content (or is
/// gone); true when it was set.
async fn set_state(
    state: &Arc<EmulatorState>,
    ws: &str,
    node: &str,
    version: &str,
    to: &'static str,
    summary: Option<String>,
) -> Result<bool, ApiError> {
    let (w, id, v) = (ws.to_owned(), node.to_owned(), version.to_owned());
    let set = state
        .store
        .call(move |c| match nodes::get(c, &w, &id)? {
            Some(n) if n.version == v => {
                mark(c, &id, &v, to, summary.as_deref())?;
                Ok(true)
            }
            _ => Ok(false),
        })
        .await?;
    if set {
        state.activity.post(ws, format!("ai_state:{node}"));
    }
    Ok(set)
}

/// Drains the index queue until shutdown: one background run per queued file.
pub async fn run(state: Arc<EmulatorState>) {
    let Some(mut rx) = state.index_queue.take() else {
        return;
    };
    while let Some((ws, node)) = rx.recv().await {
        let st = state.clone();
        state.tasks.spawn(async move {
            if let Err(e) = index_one(&st, &ws, &node, true).await {
                tracing::warn!(%node, error = %e, "AI indexing failed");
            }
        });
    }
}

async fn load(state: &EmulatorState, ws: &str, node: &str) -> Result<Option<NodeRow>, ApiError> {
    let (w, id) = (ws.to_owned(), node.to_owned());
    state
        .store
        .call(move |c| Ok(nodes::get(c, &w, &id)?.filter(|n| n.kind == "file")))
        .await
}

/// Indexes the current content of `node`. With `announce` the states move and are posted; a
/// rebuild at start (`announce` false) re-reads a `ready` file silently.
async fn index_one(
    state: &Arc<EmulatorState>,
    ws: &str,
    node: &str,
    announce: bool,
) -> Result<(), ApiError> {
    let Some(n) = load(state, ws, node).await? else {
        return Ok(());
    };
    let mime = n.mimetype.clone().unwrap_or_default();
    let Some(kind) = nodes::doc_kind(&n.name, &mime) else {
        set_state(state, ws, node, &n.version, DISABLED, None).await?;
        return Ok(());
    };
    if announce {
        if !set_state(state, ws, node, &n.version, PENDING, None).await? {
            return Ok(());
        }
        tokio::time::sleep(state.config.ai.index_delay).await;
    }
    let _one_at_a_time = state
        .extracting
        .acquire()
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    if announce && !set_state(state, ws, node, &n.version, IN_PROGRESS, None).await? {
        return Ok(());
    }
    let read = read_passages(state, &n, kind).await;
    let (ws_o, node_o, version) = (ws.to_owned(), node.to_owned(), n.version.clone());
    let st = state.clone();
    let outcome = match read {
        Ok(passages) => {
            let summary = summary_of(&passages);
            let indexed = tokio::task::spawn_blocking(move || {
                st.library.replace(&ws_o, &node_o, &version, &passages)
            })
            .await?;
            match indexed {
                Ok(()) => Ok(summary),
                Err(e) => Err(format!("index: {e}")),
            }
        }
        Err(e) => Err(e),
    };
    match outcome {
        Ok(summary) => {
            set_state(state, ws, node, &n.version, READY, summary).await?;
        }
        Err(reason) => {
            tracing::warn!(node = %n.id, name = %n.name, %reason, "AI indexing: file not readable");
            let (w, id, st) = (ws.to_owned(), node.to_owned(), state.clone());
            tokio::task::spawn_blocking(move || st.library.remove(&w, &id))
                .await?
                .map_err(ApiError::Internal)?;
            set_state(state, ws, node, &n.version, FAILED, None).await?;
        }
    }
    Ok(())
}

/// The passages of `n`'s blob, or why there are none: too large, unreadable, a parser error or
/// panic, or more than the extraction timeout (the thread is left to finish on its own; its
/// result is dropped).
pub async fn read_passages(
    state: &EmulatorState,
    n: &NodeRow,
    kind: nodes::DocKind,
) -> Result<Vec<super::index::Passage>, String> {
    let cap = state.config.ai.max_file_bytes;
    if n.size > cap {
        return Err(format!(
            "{} bytes is over the {cap}-byte reading limit",
            n.size
        ));
    }
    let Some(blob) = &n.blob else {
        return Err("the file has no content".into());
    };
    let bytes = tokio::fs::read(state.blobs.blob_path(blob))
        .await
        .map_err(|e| format!("read: {e}"))?;
    let work = tokio::task::spawn_blocking(move || extract::passages(kind, &bytes));
    match tokio::time::timeout(state.config.ai.extract_timeout, work).await {
        Ok(Ok(r)) => r,
        Ok(Err(e)) => Err(format!("extraction task: {e}")),
        Err(_) => Err("extraction timed out".into()),
    }
}

fn summary_of(passages: &[super::index::Passage]) -> Option<String> {
    let first = passages.first()?;
    let mut s: String = first.text.chars().take(SUMMARY_MAX).collect();
    if first.text.chars().count() > SUMMARY_MAX {
        s.push('…');
    }
    Some(s)
}

/// At start: re-reads every `ready` file into the (empty) in-memory index, and queues every
/// live file whose current content has no final state yet.
pub async fn rebuild(state: &Arc<EmulatorState>) -> Result<(), ApiError> {
    let todo: Vec<(String, String, bool)> = state
        .store
        .call(|c| {
            let mut stmt = c.prepare(
                "SELECT workspace_id, id, ai_state = 'ready' AND ai_version = version \
                 FROM nodes WHERE type = 'file' AND deleted = 0 AND (ai_version IS NULL \
                 OR ai_version <> version OR ai_state IN ('ready', 'pending', 'in_progress'))",
            )?;
            let rows = stmt
                .query_map([], |r| {
                    Ok((
                        r.get(0)?,
                        r.get(1)?,
                        r.get::<_, Option<bool>>(2)?.unwrap_or(false),
                    ))
                })?
                .collect::<Result<_, _>>()?;
            Ok(rows)
        })
        .await?;
    for (ws, node, ready) in todo {
        if ready {
            let st = state.clone();
            state.tasks.spawn(async move {
                if let Err(e) = index_one(&st, &ws, &node, false).await {
                    tracing::warn!(%node, error = %e, "AI index rebuild failed");
                }
            });
        } else {
            state.index_queue.push(&ws, &node);
        }
    }
    Ok(())
}

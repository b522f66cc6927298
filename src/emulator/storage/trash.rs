//! The trash (§6.5, §11 "Trash, rename, move, copy"): delete to trash, restore, purge one
//! trashed node, empty the trash. `trash/list/` is the ordinary listing (`tree.rs`).
//!
//! A trashed node reads `parent:"trash"`, `deleted:true` and `deleted_from:<old parent>`; the
//! nodes below a trashed folder keep their parents and are flagged `deleted`, so they leave
//! every listing and search flags them, while `trash/list/` shows only the top-level node.
//! Restore takes the subtree back to `deleted_from`, or to `root` when that folder was purged or
//! is itself trashed, under the move conflict rule. Purge deletes the rows (node, versions,
//! previews, tokens, File Shares) of the subtree and then their blob files; later calls on the
//! ids get 404/1609.
//!
//! Choices where the contract is open: a repeated delete succeeds without change; deleting,
//! restoring or purging `root`/`trash` → 400/1605; restoring or purging a live node → 400/1605;
//! restoring a node that sits inside a trashed folder (not top-level in the trash) → 400/1605
//! (restore the folder); purging it is allowed and takes its subtree.

use std::collections::BTreeSet;
use std::sync::Arc;

use axum::extract::{Path, State};
use rusqlite::Connection;
use serde_json::json;

use super::landing::{make_room, send_to_trash};
use super::nodes;
use super::tree::node_answer;
use super::{versions, workspaces};
use crate::emulator::state::EmulatorState;
use crate::emulator::store::BlobDirs;
use crate::emulator::transport::auth::Caller;
use crate::emulator::transport::envelope::Envelope;
use crate::emulator::transport::error::ApiError;
use crate::emulator::transport::ids;

fn reserved(node: &str) -> Result<(), ApiError> {
    if matches!(node, "root" | "trash") {
        return Err(ApiError::invalid(format!("{node} cannot be changed")));
    }
    Ok(())
}

/// `DELETE /workspace/{ws}/storage/{node}/delete/` (§6.5): to the trash; `trash/delete/`
/// empties the trash. Answers a bare `{"result":true}`.
pub async fn delete(
    State(state): State<Arc<EmulatorState>>,
    _: Caller,
    Path((ws, node)): Path<(String, String)>,
) -> Result<Envelope, ApiError> {
    let ws = workspaces::resolve(&state, &ws).await?;
    if node == "trash" {
        return empty(&state, ws).await;
    }
    reserved(&node)?;
    state
        .store
        .call(move |c| {
            let tx = c.transaction()?;
            let n = nodes::get(&tx, &ws, &node)?
                .ok_or_else(|| ApiError::not_found(format!("node {node} not found")))?;
            if !n.deleted {
                send_to_trash(&tx, &n)?;
            }
            tx.commit()?;
            Ok(Envelope(json!({})))
        })
        .await
}

/// `POST /workspace/{ws}/storage/{node}/restore/` (§6.5): back from the trash, with its subtree.
pub async fn restore(
    State(state): State<Arc<EmulatorState>>,
    _: Caller,
    Path((ws, node)): Path<(String, String)>,
) -> Result<Envelope, ApiError> {
    reserved(&node)?;
    let ws = workspaces::resolve(&state, &ws).await?;
    let (w, id) = (ws.clone(), node.clone());
    state
        .store
        .call(move |c| {
            let tx = c.transaction()?;
            let n = nodes::get(&tx, &w, &id)?
                .ok_or_else(|| ApiError::not_found(format!("node {id} not found")))?;
            if !n.deleted {
                return Err(ApiError::invalid("the node is not in the trash"));
            }
            if n.parent != "trash" {
                return Err(ApiError::invalid(
                    "the node is inside a trashed folder: restore that folder",
                ));
            }
            let from = n.deleted_from.clone().unwrap_or_else(|| "root".into());
            let parent = nodes::resolve_folder(&tx, &w, &from).unwrap_or_else(|_| "root".into());
            let name = make_room(&tx, &w, &parent, &n, false)?;
            for sub in nodes::subtree(&tx, &w, &n.id)? {
                tx.execute("UPDATE nodes SET deleted = 0 WHERE id = ?1", [&sub])?;
            }
            tx.execute(
                "UPDATE nodes SET parent = ?2, name = ?3, deleted_from = NULL, updated = ?4 \
                 WHERE id = ?1",
                (&n.id, &parent, &name, ids::now()),
            )?;
            tx.commit()?;
            Ok(())
        })
        .await?;
    node_answer(&state, ws, node).await
}

/// `DELETE /workspace/{ws}/storage/{node}/purge/` (§6.5): permanently removes a trashed node
/// and its subtree, bytes included. Answers a bare `{"result":true}`.
pub async fn purge(
    State(state): State<Arc<EmulatorState>>,
    _: Caller,
    Path((ws, node)): Path<(String, String)>,
) -> Result<Envelope, ApiError> {
    reserved(&node)?;
    let ws = workspaces::resolve(&state, &ws).await?;
    let blobs = state.blobs.clone();
    state
        .store
        .call(move |c| {
            let n = nodes::get(c, &ws, &node)?
                .ok_or_else(|| ApiError::not_found(format!("node {node} not found")))?;
            if !n.deleted {
                return Err(ApiError::invalid(
                    "only a node in the trash can be purged; delete it first",
                ));
            }
            let ids = nodes::subtree(c, &ws, &n.id)?;
            remove_for_good(c, &blobs, &ids)?;
            Ok(Envelope(json!({})))
        })
        .await
}

/// `DELETE /workspace/{ws}/storage/trash/delete/` (§6.5): purges everything in the trash.
async fn empty(state: &EmulatorState, ws: String) -> Result<Envelope, ApiError> {
    let blobs = state.blobs.clone();
    state
        .store
        .call(move |c| {
            let ids: Vec<String> = {
                let mut stmt =
                    c.prepare("SELECT id FROM nodes WHERE workspace_id = ?1 AND deleted = 1")?;
                stmt.query_map([&ws], |r| r.get(0))?
                    .collect::<Result<_, _>>()?
            };
            remove_for_good(c, &blobs, &ids)?;
            Ok(Envelope(json!({})))
        })
        .await
}

/// Deletes the rows of `ids` (nodes, versions, previews, tokens) in one transaction, then their
/// blob files.
fn remove_for_good(c: &mut Connection, blobs: &BlobDirs, ids: &[String]) -> Result<(), ApiError> {
    let tx = c.transaction()?;
    let mut files = BTreeSet::new();
    for id in ids {
        if let Some(blob) = tx
            .query_row("SELECT blob FROM nodes WHERE id = ?1", [id], |r| {
                r.get::<_, Option<String>>(0)
            })
            .ok()
            .flatten()
        {
            files.insert(blob);
        }
        files.extend(versions::blobs_of(&tx, id)?);
        let mut stmt = tx.prepare("SELECT blob FROM preview_blobs WHERE node_id = ?1")?;
        for blob in stmt.query_map([id], |r| r.get::<_, String>(0))? {
            files.insert(blob?);
        }
        drop(stmt);
        for table in ["versions", "preview_blobs", "tokens", "fileshares"] {
            tx.execute(&format!("DELETE FROM {table} WHERE node_id = ?1"), [id])?;
        }
        tx.execute("DELETE FROM nodes WHERE id = ?1", [id])?;
    }
    tx.commit()?;
    for blob in files {
        if let Err(e) = std::fs::remove_file(blobs.blob_path(&blob))
            && e.kind() != std::io::ErrorKind::NotFound
        {
            tracing::warn!(%blob, error = %e, "purged blob could not be removed");
        }
    }
    Ok(())
}

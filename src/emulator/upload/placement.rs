//! The `storing → stored` step (§7.9) and `addfile` (§7.3): an assembled session's blob becomes
//! a file node. A same-name file is overwritten in place, keeping its node id, and its old
//! content becomes a version (§6.1, §6.9); `action=update` replaces the content of `file_id`.
//! Each placed file starts its previews (§6.10) in the background once it is `stored`.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Path, State};
use rusqlite::Connection;
use serde_json::{Value, json};

use super::sessions::{self, Kind, SessionRow};
use crate::emulator::state::EmulatorState;
use crate::emulator::storage::nodes::{self, NodeRow};
use crate::emulator::storage::{previews, versions, workspaces};
use crate::emulator::transport::auth::Caller;
use crate::emulator::transport::envelope::Envelope;
use crate::emulator::transport::error::ApiError;
use crate::emulator::transport::ids;

/// `POST /workspace/{ws}/storage/{parent}/addfile/` (§7.3 `instance_id`, §11 "State machine and
/// timings"): places an assembled session that was created without `instance_id` (form field
/// `from={"type":"upload","upload":{"id":…}}`, optional `name`).
pub async fn add_file(
    State(state): State<Arc<EmulatorState>>,
    _: Caller,
    Path((ws, parent)): Path<(String, String)>,
    axum::Form(form): axum::Form<HashMap<String, String>>,
) -> Result<Envelope, ApiError> {
    let ws = workspaces::resolve(&state, &ws).await?;
    let from: Value = form
        .get("from")
        .and_then(|f| serde_json::from_str(f).ok())
        .ok_or_else(|| ApiError::invalid("from must be a JSON object"))?;
    if from["type"] != "upload" {
        return Err(ApiError::invalid("only from.type=upload is emulated"));
    }
    let upload_id = from["upload"]["id"]
        .as_str()
        .ok_or_else(|| ApiError::invalid("from.upload.id is required"))?
        .to_owned();
    let s = sessions::load(&state.store, &upload_id).await?;
    if !s.status.is_assembled() {
        return Err(ApiError::InvalidState(format!(
            "the upload is not in a valid state ({})",
            s.status
        )));
    }
    let name = form
        .get("name")
        .map(|n| n.trim().to_owned())
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| s.name.clone());
    let (w, id) = (ws.clone(), upload_id.clone());
    let node = state
        .store
        .call(move |c| {
            let node_id = place(c, &s, &w, &parent, &name)?;
            sessions::mark_stored(c, &id, &node_id)?;
            nodes::get(c, &w, &node_id)
        })
        .await?
        .ok_or_else(|| ApiError::Internal("placed node vanished".into()))?;
    state.notifier.notify(&upload_id);
    previews::schedule(&state, ws.clone(), node.id.clone());
    let base = state.public_base.clone();
    Ok(Envelope(
        json!({"node": nodes::node_json(&node, nodes::Output::Full, &base)}),
    ))
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
            versions::retire_current(&tx, &old)?;
            tx.execute(
                "UPDATE nodes SET blob = ?2, size = ?3, hash = ?4, version = ?5, updated = ?6, \
                 mimetype = ?7, upload_session = ?8, previews = ?9 WHERE id = ?1",
                rusqlite::params![
                    old.id,
                    blob,
                    size as i64,
                    hash,
                    ids::opaque_id(),
                    now,
                    mime,
                    s.id,
                    previews::initial(&mime),
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
                hash,
                blob: Some(blob),
                version: ids::opaque_id(),
                created: now.clone(),
                updated: now,
                deleted: false,
                deleted_from: None,
                origin_type: Some(match s.kind {
                    Kind::Chunked => "chunked".into(),
                    _ => "upload".into(),
                }),
                upload_session: Some(s.id.clone()),
                previews: Some(previews::initial(&mime)),
                mimetype: Some(mime),
                ai: Default::default(),
            };
            nodes::insert(&tx, &node)?;
            node.id
        }
    };
    tx.commit()?;
    Ok(id)
}

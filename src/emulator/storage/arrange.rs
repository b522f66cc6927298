//! Rename, move and copy (§6.5, §11 "Trash, rename, move, copy"), under the one conflict rule
//! they share with restore ([`super::landing::make_room`]).
//!
//! - `update/` renames; a live sibling with the same name (case-insensitive) → 400/1605. A
//!   rename to the node's own name is a no-op. `metadata_title`/`metadata_short` are accepted
//!   and not kept; `from` (new content) is not emulated → 400/1605.
//! - `move/` (field `parent`) and `copy/` **trash a same-named file in the target first**; a
//!   folder-vs-folder or file-vs-folder clash renames the incoming node `name (2)`. No
//!   "replaced" flag in the answer. Moving into the node's own folder is a no-op; a copy there
//!   is renamed `name (2)` (trashing its own source would make no sense).
//! - Moving or copying a folder into itself or its subtree, into `trash`, or moving `root` /
//!   `trash` → 400/1605. An unknown target folder → 404/1609.
//! - A copy is deep, every copied node gets a new id, files keep only their current version,
//!   and each copied file's bytes are a new blob (a hard link when the disk allows), so purging
//!   one never touches the other.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Form;
use axum::extract::{Path, State};
use rusqlite::Connection;

use super::landing::make_room;
use super::nodes::{self, NodeRow};
use super::tree::{live, node_answer, valid_name};
use super::{previews, workspaces};
use crate::emulator::state::EmulatorState;
use crate::emulator::store::BlobDirs;
use crate::emulator::transport::auth::Caller;
use crate::emulator::transport::envelope::Envelope;
use crate::emulator::transport::error::ApiError;
use crate::emulator::transport::ids;

type Fields = Form<HashMap<String, String>>;

/// `POST /workspace/{ws}/storage/{node}/update/` (§6.5): rename.
pub async fn update(
    State(state): State<Arc<EmulatorState>>,
    _: Caller,
    Path((ws, node)): Path<(String, String)>,
    Form(form): Fields,
) -> Result<Envelope, ApiError> {
    let ws = workspaces::resolve(&state, &ws).await?;
    if form.contains_key("from") {
        return Err(ApiError::invalid("update with from is not emulated"));
    }
    let name = form
        .get("name")
        .map(|_| valid_name(form.get("name")))
        .transpose()?;
    let has_meta = form.contains_key("metadata_title") || form.contains_key("metadata_short");
    if name.is_none() && !has_meta {
        return Err(ApiError::invalid(
            "nothing to update: give name or metadata",
        ));
    }
    if matches!(node.as_str(), "root" | "trash") {
        return Err(ApiError::invalid(format!("{node} cannot be renamed")));
    }
    let (w, id) = (ws.clone(), node.clone());
    state
        .store
        .call(move |c| {
            let n = live(c, &w, &id)?;
            let Some(name) = name.filter(|name| *name != n.name) else {
                return Ok(());
            };
            if let Some(other) = nodes::child_named(c, &w, &n.parent, &name)?
                && other.id != n.id
            {
                return Err(ApiError::invalid(format!(
                    "A file or folder named {name} already exists"
                )));
            }
            c.execute(
                "UPDATE nodes SET name = ?2, updated = ?3 WHERE id = ?1",
                (&n.id, &name, ids::now()),
            )?;
            Ok(())
        })
        .await?;
    node_answer(&state, ws, node).await
}

/// The target folder of a move or copy of `n`, checked: not `trash`, existing, and not `n` or
/// below it.
fn target_folder(c: &Connection, ws: &str, n: &NodeRow, raw: &str) -> Result<String, ApiError> {
    if raw == "trash" {
        return Err(ApiError::invalid("use delete/ to move a node to the trash"));
    }
    let parent = nodes::resolve_folder(c, ws, raw)?;
    if n.kind == "folder" && nodes::is_within(c, ws, &parent, &n.id)? {
        return Err(ApiError::invalid(
            "a folder cannot go into itself or its own subtree",
        ));
    }
    Ok(parent)
}

fn parent_field(node: &str, form: &HashMap<String, String>) -> Result<String, ApiError> {
    if matches!(node, "root" | "trash") {
        return Err(ApiError::invalid(format!(
            "{node} cannot be moved or copied"
        )));
    }
    form.get("parent")
        .map(|p| p.trim().to_owned())
        .filter(|p| !p.is_empty())
        .ok_or_else(|| ApiError::invalid("parent is required"))
}

/// `POST /workspace/{ws}/storage/{node}/move/` (§6.5): `parent` = target folder or `root`.
pub async fn move_node(
    State(state): State<Arc<EmulatorState>>,
    _: Caller,
    Path((ws, node)): Path<(String, String)>,
    Form(form): Fields,
) -> Result<Envelope, ApiError> {
    let target = parent_field(&node, &form)?;
    let ws = workspaces::resolve(&state, &ws).await?;
    let (w, id) = (ws.clone(), node.clone());
    state
        .store
        .call(move |c| {
            let tx = c.transaction()?;
            let n = live(&tx, &w, &id)?;
            let parent = target_folder(&tx, &w, &n, &target)?;
            if parent != n.parent {
                let name = make_room(&tx, &w, &parent, &n, true)?;
                tx.execute(
                    "UPDATE nodes SET parent = ?2, name = ?3, updated = ?4 WHERE id = ?1",
                    (&n.id, &parent, &name, ids::now()),
                )?;
            }
            tx.commit()?;
            Ok(())
        })
        .await?;
    node_answer(&state, ws, node).await
}

/// `POST /workspace/{ws}/storage/{node}/copy/` (§6.5): a deep copy into `parent`; answers the
/// new node.
pub async fn copy(
    State(state): State<Arc<EmulatorState>>,
    _: Caller,
    Path((ws, node)): Path<(String, String)>,
    Form(form): Fields,
) -> Result<Envelope, ApiError> {
    let target = parent_field(&node, &form)?;
    let ws = workspaces::resolve(&state, &ws).await?;
    let (w, id, blobs) = (ws.clone(), node.clone(), state.blobs.clone());
    let (top, files) = state
        .store
        .call(move |c| {
            let tx = c.transaction()?;
            let n = live(&tx, &w, &id)?;
            let parent = target_folder(&tx, &w, &n, &target)?;
            let name = make_room(&tx, &w, &parent, &n, false)?;
            let mut files = Vec::new();
            let top = copy_tree(&tx, &blobs, &n, &parent, &name, &mut files)?;
            tx.commit()?;
            Ok((top, files))
        })
        .await?;
    for file in files {
        previews::schedule(&state, ws.clone(), file);
    }
    node_answer(&state, ws, top).await
}

/// Copies `src` (and, for a folder, its live subtree) under `parent` as `name`; collects the
/// new file ids (their previews are made afresh). Returns the new top node's id.
fn copy_tree(
    c: &Connection,
    blobs: &BlobDirs,
    src: &NodeRow,
    parent: &str,
    name: &str,
    files: &mut Vec<String>,
) -> Result<String, ApiError> {
    let now = ids::now();
    let blob = match &src.blob {
        Some(from) => {
            let to = ids::opaque_id();
            let (a, b) = (blobs.blob_path(from), blobs.blob_path(&to));
            if std::fs::hard_link(&a, &b).is_err() {
                std::fs::copy(&a, &b)?;
            }
            Some(to)
        }
        None => None,
    };
    let row = NodeRow {
        id: ids::opaque_id(),
        parent: parent.to_owned(),
        name: name.to_owned(),
        blob,
        version: ids::opaque_id(),
        created: now.clone(),
        updated: now,
        deleted: false,
        deleted_from: None,
        previews: src
            .mimetype
            .as_deref()
            .filter(|_| src.kind == "file")
            .map(previews::initial),
        ..src.clone()
    };
    nodes::insert(c, &row)?;
    if row.kind == "file" {
        files.push(row.id.clone());
    }
    if src.kind == "folder" {
        for child in nodes::live_children(c, &src.workspace_id, &src.id)? {
            copy_tree(c, blobs, &child, &row.id, &child.name, files)?;
        }
    }
    Ok(row.id)
}

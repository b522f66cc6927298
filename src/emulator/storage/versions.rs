//! File versions (§6.9, §11 "Versions"): the list, and `restore-version/`.
//!
//! The node row holds the current version; older contents sit in `versions`, one row each, put
//! there by [`retire_current`] whenever new content replaces the current one (a same-name
//! upload, `action=update`, a version restore). Restoring a version **appends** a new current
//! version holding the chosen content (history only grows, the contract's chosen behaviour), so
//! the restored id never becomes current again. Bytes of any version are served by `read/`
//! with `version_id` (`downloads.rs`).

use std::collections::HashMap;
use std::sync::Arc;

use axum::Form;
use axum::extract::{Path, State};
use rusqlite::{Connection, OptionalExtension};
use serde_json::{Value, json};

use super::nodes::{self, NodeRow};
use super::{previews, workspaces};
use crate::emulator::state::EmulatorState;
use crate::emulator::store;
use crate::emulator::transport::auth::Caller;
use crate::emulator::transport::envelope::Envelope;
use crate::emulator::transport::error::ApiError;
use crate::emulator::transport::ids;

/// Keeps the node's current content as a version row, before new content replaces it.
pub fn retire_current(c: &Connection, n: &NodeRow) -> Result<(), ApiError> {
    c.execute(
        "INSERT OR REPLACE INTO versions(node_id, version, blob, size, hash, created, name, \
         mimetype, creator) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        rusqlite::params![
            n.id,
            n.version,
            n.blob,
            n.size as i64,
            n.hash,
            n.updated,
            n.name,
            n.mimetype,
            store::user_id(c)?
        ],
    )?;
    Ok(())
}

fn version_json(n: &NodeRow, v: VersionRow, current: bool, user: &str) -> Value {
    json!({
        "id": v.id, "version": v.id, "name": v.name.unwrap_or_else(|| n.name.clone()),
        "size": v.size, "mimetype": v.mimetype.or_else(|| n.mimetype.clone()),
        "hash": v.hash, "hash_algo": "sha256", "created": v.created,
        "creator": v.creator.unwrap_or_else(|| user.to_owned()), "current": current,
    })
}

/// A version's content: blob, size, hash, MIME type.
type Content = (Option<String>, i64, Option<String>, Option<String>);

struct VersionRow {
    id: String,
    size: u64,
    hash: Option<String>,
    created: String,
    name: Option<String>,
    mimetype: Option<String>,
    creator: Option<String>,
}

fn older(c: &Connection, node: &str) -> Result<Vec<VersionRow>, ApiError> {
    let mut stmt = c.prepare(
        "SELECT version, size, hash, created, name, mimetype, creator FROM versions \
         WHERE node_id = ?1 ORDER BY created DESC, rowid DESC",
    )?;
    let rows = stmt
        .query_map([node], |r| {
            Ok(VersionRow {
                id: r.get(0)?,
                size: r.get::<_, i64>(1)? as u64,
                hash: r.get(2)?,
                created: r.get(3)?,
                name: r.get(4)?,
                mimetype: r.get(5)?,
                creator: r.get(6)?,
            })
        })?
        .collect::<Result<_, _>>()?;
    Ok(rows)
}

fn live_file(c: &Connection, ws: &str, id: &str) -> Result<NodeRow, ApiError> {
    match nodes::get(c, ws, id)? {
        Some(n) if n.kind == "file" && !n.deleted => Ok(n),
        _ => Err(ApiError::not_found(format!("file {id} not found"))),
    }
}

/// `GET /workspace/{ws}/storage/{node}/versions/` (§6.9): newest first, the current one
/// included and marked `current:true`. Each entry: `id` (also under `version`, which older
/// emulator answers used), `name`, `size`, `mimetype`, `hash`, `hash_algo`, `created`,
/// `creator`, `current`.
pub async fn list(
    State(state): State<Arc<EmulatorState>>,
    _: Caller,
    Path((ws, node)): Path<(String, String)>,
) -> Result<Envelope, ApiError> {
    let ws = workspaces::resolve(&state, &ws).await?;
    state
        .store
        .call(move |c| {
            let n = live_file(c, &ws, &node)?;
            let user = store::user_id(c)?;
            let current = VersionRow {
                id: n.version.clone(),
                size: n.size,
                hash: n.hash.clone(),
                created: n.updated.clone(),
                name: Some(n.name.clone()),
                mimetype: n.mimetype.clone(),
                creator: None,
            };
            let mut out = vec![version_json(&n, current, true, &user)];
            for v in older(c, &n.id)? {
                out.push(version_json(&n, v, false, &user));
            }
            Ok(Envelope(json!({"versions": out})))
        })
        .await
}

/// `POST /workspace/{ws}/storage/{node}/restore-version/` (form `version_id`, §6.9): appends a
/// new current version with the chosen version's content and answers `node`. An unknown
/// `version_id` → 404/1609; a missing one → 400/1605.
pub async fn restore(
    State(state): State<Arc<EmulatorState>>,
    _: Caller,
    Path((ws, node)): Path<(String, String)>,
    Form(form): Form<HashMap<String, String>>,
) -> Result<Envelope, ApiError> {
    let ws = workspaces::resolve(&state, &ws).await?;
    let wanted = form
        .get("version_id")
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty())
        .ok_or_else(|| ApiError::invalid("version_id is required"))?;
    let (w, id) = (ws.clone(), node.clone());
    state
        .store
        .call(move |c| {
            let tx = c.transaction()?;
            let n = live_file(&tx, &w, &id)?;
            let chosen: Option<Content> = if wanted == n.version {
                Some((
                    n.blob.clone(),
                    n.size as i64,
                    n.hash.clone(),
                    n.mimetype.clone(),
                ))
            } else {
                tx.query_row(
                    "SELECT blob, size, hash, mimetype FROM versions \
                         WHERE node_id = ?1 AND version = ?2",
                    (&n.id, &wanted),
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
                )
                .optional()?
            };
            let (blob, size, hash, mime) =
                chosen.ok_or_else(|| ApiError::not_found(format!("version {wanted} not found")))?;
            let mime = mime.or(n.mimetype.clone()).unwrap_or_default();
            retire_current(&tx, &n)?;
            tx.execute(
                "UPDATE nodes SET blob = ?2, size = ?3, hash = ?4, version = ?5, updated = ?6, \
                 mimetype = ?7, previews = ?8 WHERE id = ?1",
                rusqlite::params![
                    n.id,
                    blob,
                    size,
                    hash,
                    ids::opaque_id(),
                    ids::now(),
                    mime,
                    previews::initial(&mime)
                ],
            )?;
            tx.commit()?;
            Ok(())
        })
        .await?;
    previews::schedule(&state, ws.clone(), node.clone());
    super::tree::node_answer(&state, ws, node).await
}

/// Every blob a node's versions refer to (for purge).
pub fn blobs_of(c: &Connection, node: &str) -> Result<Vec<String>, ApiError> {
    let mut stmt =
        c.prepare("SELECT blob FROM versions WHERE node_id = ?1 AND blob IS NOT NULL")?;
    let rows = stmt
        .query_map([node], |r| r.get::<_, String>(0))?
        .collect::<Result<_, _>>()?;
    Ok(rows)
}

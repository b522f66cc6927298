//! The node tree of a workspace (§6): listing with keyset cursors (§6.3), node details single
//! and bulk (§6.4), create folder / rename / move / delete to trash / restore (§6.5), the
//! version list (§6.9) and the retired QuickShare (§6.8).

use std::collections::HashMap;
use std::sync::Arc;

use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::nodes::{self, NodeRow, Output, SortBy};
use super::workspaces;
use crate::emulator::state::EmulatorState;
use crate::emulator::transport::auth::Caller;
use crate::emulator::transport::envelope::Envelope;
use crate::emulator::transport::error::ApiError;
use crate::emulator::transport::ids;

type Q = Query<HashMap<String, String>>;

fn root_json(ws: &str) -> Value {
    json!({"id": "root", "type": "folder", "name": "root", "parent": null, "workspace_id": ws})
}

/// `GET /workspace/{ws}/storage/{folder}/list/` (§6.3): `nodes[]` + `next_cursor`.
pub async fn list(
    State(state): State<Arc<EmulatorState>>,
    _: Caller,
    Path((ws, folder)): Path<(String, String)>,
    Query(q): Q,
) -> Result<Envelope, ApiError> {
    let ws = workspaces::resolve(&state, &ws).await?;
    let page_size = match q.get("page_size").map(String::as_str) {
        None | Some("") => 100,
        Some("100") => 100,
        Some("250") => 250,
        Some("500") => 500,
        Some(other) => {
            return Err(ApiError::invalid(format!(
                "page_size must be 100, 250 or 500 (got {other})"
            )));
        }
    };
    let sort = SortBy::parse(q.get("sort_by").map(String::as_str))?;
    let desc = match q.get("sort_dir").map(String::as_str) {
        None | Some("") | Some("asc") => false,
        Some("desc") => true,
        Some(other) => return Err(ApiError::invalid(format!("invalid sort_dir {other}"))),
    };
    let out = Output::parse(q.get("output").map(String::as_str))?;
    let cursor = q.get("cursor").filter(|c| !c.is_empty()).cloned();
    let base = state.public_base.clone();
    state
        .store
        .call(move |c| {
            let parent = if folder == "trash" {
                "trash".to_owned()
            } else {
                nodes::resolve_folder(c, &ws, &folder)?
            };
            let page = nodes::list(c, &ws, &parent, sort, desc, page_size, cursor.as_deref())?;
            let list: Vec<Value> = page
                .nodes
                .iter()
                .map(|n| nodes::node_json(n, out, &base))
                .collect();
            Ok(Envelope(
                json!({"nodes": list, "next_cursor": page.next_cursor}),
            ))
        })
        .await
}

/// `GET /workspace/{ws}/storage/{id}[,{id}…]/details/` (§6.4): single or bulk (1–25 ids).
pub async fn details(
    State(state): State<Arc<EmulatorState>>,
    _: Caller,
    Path((ws, ids_raw)): Path<(String, String)>,
    Query(q): Q,
) -> Result<Response, ApiError> {
    let ws = workspaces::resolve(&state, &ws).await?;
    let out = Output::parse(q.get("output").map(String::as_str))?;
    let ids: Vec<String> = ids_raw.split(',').map(|s| s.trim().to_owned()).collect();
    if ids.len() > 25 {
        return Err(ApiError::TooManyIds);
    }
    let base = state.public_base.clone();
    let web = format!("{base}/workspace/{ws}");
    let single = ids.len() == 1;
    let (found, errors) = state
        .store
        .call(move |c| {
            let mut found = Vec::new();
            let mut errors = Vec::new();
            for id in &ids {
                if id == "root" {
                    found.push(root_json(&ws));
                    continue;
                }
                let valid = id.len() >= 20 && id.chars().all(|ch| ch.is_ascii_alphanumeric());
                match nodes::get(c, &ws, &id.to_ascii_lowercase())? {
                    Some(n) => found.push(nodes::node_json(&n, out, &base)),
                    None if valid => errors.push((id.clone(), 133123, "node not found")),
                    None => errors.push((id.clone(), 191878, "malformed node id")),
                }
            }
            Ok((found, errors))
        })
        .await?;
    if single {
        return match found.into_iter().next() {
            Some(node) => {
                let url = format!("{web}/{}", node["id"].as_str().unwrap_or_default());
                Ok(
                    Envelope(json!({"format": "single", "node": node, "web_url": url}))
                        .into_response(),
                )
            }
            None => Err(ApiError::not_found("node not found")),
        };
    }
    let status = if found.is_empty() {
        StatusCode::NOT_FOUND
    } else {
        StatusCode::OK
    };
    let errs: Vec<Value> = errors
        .iter()
        .map(|(id, code, msg)| json!({"node_id": id, "code": code, "message": msg}))
        .collect();
    let body = json!({
        "format": "multi", "node_count": found.len(), "error_count": errs.len(),
        "requested_count": found.len() + errs.len(), "nodes": found, "errors": errs,
    });
    Ok((status, Envelope(body)).into_response())
}

fn form_name(form: &HashMap<String, String>) -> Result<String, ApiError> {
    let name = form
        .get("name")
        .map(|n| n.trim().to_owned())
        .filter(|n| !n.is_empty())
        .ok_or_else(|| ApiError::invalid("name is required"))?;
    if name.len() > 255
        || name
            .chars()
            .any(|c| c == '/' || c == '\\' || c.is_control())
    {
        return Err(ApiError::invalid("invalid name"));
    }
    Ok(name)
}

async fn node_envelope(
    state: &EmulatorState,
    ws: String,
    id: String,
) -> Result<Envelope, ApiError> {
    let base = state.public_base.clone();
    state
        .store
        .call(move |c| {
            let n =
                nodes::get(c, &ws, &id)?.ok_or_else(|| ApiError::not_found("node not found"))?;
            Ok(Envelope(
                json!({"node": nodes::node_json(&n, Output::Full, &base)}),
            ))
        })
        .await
}

/// `POST /workspace/{ws}/storage/{parent}/createfolder/` (§6.5): idempotent unless `force=true`.
pub async fn create_folder(
    State(state): State<Arc<EmulatorState>>,
    _: Caller,
    Path((ws, parent)): Path<(String, String)>,
    Form(form): Form<HashMap<String, String>>,
) -> Result<Envelope, ApiError> {
    let ws = workspaces::resolve(&state, &ws).await?;
    let name = form_name(&form)?;
    let force = matches!(form.get("force").map(String::as_str), Some("true" | "1"));
    let w = ws.clone();
    let id = state
        .store
        .call(move |c| {
            let parent = nodes::resolve_folder(c, &w, &parent)?;
            let existing = nodes::child_named(c, &w, &parent, &name)?;
            if let Some(n) = &existing {
                if n.kind == "folder" && !force {
                    return Ok(n.id.clone());
                }
            }
            let name = match existing {
                Some(_) => nodes::free_name(c, &w, &parent, &name)?,
                None => name,
            };
            let row = nodes::new_folder(&w, &parent, &name);
            nodes::insert(c, &row)?;
            Ok(row.id)
        })
        .await?;
    node_envelope(&state, ws, id).await
}

/// `POST /workspace/{ws}/storage/{node}/update/` (§6.5): rename (a conflict gives 400/1605).
pub async fn update(
    State(state): State<Arc<EmulatorState>>,
    _: Caller,
    Path((ws, node)): Path<(String, String)>,
    Form(form): Form<HashMap<String, String>>,
) -> Result<Envelope, ApiError> {
    let ws = workspaces::resolve(&state, &ws).await?;
    let name = form.get("name").map(|_| form_name(&form)).transpose()?;
    let has_meta = form.contains_key("metadata_title") || form.contains_key("metadata_short");
    if name.is_none() && !has_meta {
        return Err(ApiError::invalid("nothing to update"));
    }
    let (w, id) = (ws.clone(), node.clone());
    state
        .store
        .call(move |c| {
            let n = live(c, &w, &id)?;
            if let Some(name) = name {
                if let Some(other) = nodes::child_named(c, &w, &n.parent, &name)? {
                    if other.id != n.id {
                        return Err(ApiError::invalid(format!("{name} already exists")));
                    }
                }
                c.execute(
                    "UPDATE nodes SET name = ?2, updated = ?3 WHERE id = ?1",
                    (&n.id, &name, ids::now()),
                )?;
            }
            Ok(())
        })
        .await?;
    node_envelope(&state, ws, node).await
}

fn live(c: &rusqlite::Connection, ws: &str, id: &str) -> Result<NodeRow, ApiError> {
    match nodes::get(c, ws, id)? {
        Some(n) if !n.deleted => Ok(n),
        _ => Err(ApiError::not_found(format!("node {id} not found"))),
    }
}

/// `POST /workspace/{ws}/storage/{node}/move/` (§6.5): `parent` = target folder. Any name clash
/// there renames the moved node `name (2)` (a same-named file is not trashed first).
pub async fn move_node(
    State(state): State<Arc<EmulatorState>>,
    _: Caller,
    Path((ws, node)): Path<(String, String)>,
    Form(form): Form<HashMap<String, String>>,
) -> Result<Envelope, ApiError> {
    let ws = workspaces::resolve(&state, &ws).await?;
    let target = form
        .get("parent")
        .cloned()
        .ok_or_else(|| ApiError::invalid("parent is required"))?;
    let (w, id) = (ws.clone(), node.clone());
    state
        .store
        .call(move |c| {
            let n = live(c, &w, &id)?;
            let parent = nodes::resolve_folder(c, &w, &target)?;
            if parent == n.id {
                return Err(ApiError::invalid("cannot move a folder into itself"));
            }
            let name = nodes::free_name(c, &w, &parent, &n.name)?;
            c.execute(
                "UPDATE nodes SET parent = ?2, name = ?3, updated = ?4 WHERE id = ?1",
                (&n.id, &parent, &name, ids::now()),
            )?;
            Ok(())
        })
        .await?;
    node_envelope(&state, ws, node).await
}

/// `DELETE /workspace/{ws}/storage/{node}/delete/` (§6.5): moves to trash; `trash/delete/`
/// empties the trash.
pub async fn delete(
    State(state): State<Arc<EmulatorState>>,
    _: Caller,
    Path((ws, node)): Path<(String, String)>,
) -> Result<Envelope, ApiError> {
    let ws = workspaces::resolve(&state, &ws).await?;
    let id = node.clone();
    state
        .store
        .call(move |c| {
            if id == "trash" {
                c.execute(
                    "DELETE FROM nodes WHERE workspace_id = ?1 AND deleted = 1",
                    [&ws],
                )?;
                return Ok(());
            }
            let n = live(c, &ws, &id)?;
            c.execute(
                "UPDATE nodes SET deleted = 1, deleted_from = parent, updated = ?2 WHERE id = ?1",
                (&n.id, ids::now()),
            )?;
            Ok(())
        })
        .await?;
    Ok(Envelope(json!({"id": node, "deleted": true})))
}

/// `POST /workspace/{ws}/storage/{node}/restore/` (§6.5): back from trash (renamed on clash).
pub async fn restore(
    State(state): State<Arc<EmulatorState>>,
    _: Caller,
    Path((ws, node)): Path<(String, String)>,
) -> Result<Envelope, ApiError> {
    let ws = workspaces::resolve(&state, &ws).await?;
    let (w, id) = (ws.clone(), node.clone());
    state
        .store
        .call(move |c| {
            let n = nodes::get(c, &w, &id)?
                .filter(|n| n.deleted)
                .ok_or_else(|| ApiError::not_found("node is not in the trash"))?;
            let from = n.deleted_from.clone().unwrap_or_else(|| "root".into());
            let parent = nodes::resolve_folder(c, &w, &from).unwrap_or_else(|_| "root".into());
            let name = nodes::free_name(c, &w, &parent, &n.name)?;
            c.execute(
                "UPDATE nodes SET deleted = 0, deleted_from = NULL, parent = ?2, name = ?3 \
                 WHERE id = ?1",
                (&n.id, &parent, &name),
            )?;
            Ok(())
        })
        .await?;
    node_envelope(&state, ws, node).await
}

/// `GET /workspace/{ws}/storage/{node}/versions/` (§6.9): the current version first, then the
/// older contents kept by same-name overwrites, newest first. Each entry carries its id under
/// `version`.
pub async fn versions(
    State(state): State<Arc<EmulatorState>>,
    _: Caller,
    Path((ws, node)): Path<(String, String)>,
) -> Result<Envelope, ApiError> {
    let ws = workspaces::resolve(&state, &ws).await?;
    state
        .store
        .call(move |c| {
            let n = live(c, &ws, &node)?;
            let mut out = vec![json!({"version": n.version, "size": n.size, "hash": n.hash,
                                      "created": n.updated, "current": true})];
            let mut stmt = c.prepare(
                "SELECT version, size, hash, created FROM versions WHERE node_id = ?1 \
                 ORDER BY created DESC, version",
            )?;
            let rows = stmt.query_map([&n.id], |r| {
                Ok(
                    json!({"version": r.get::<_, String>(0)?, "size": r.get::<_, i64>(1)?,
                          "hash": r.get::<_, Option<String>>(2)?,
                          "created": r.get::<_, String>(3)?, "current": false}),
                )
            })?;
            for row in rows {
                out.push(row?);
            }
            Ok(Envelope(json!({"versions": out})))
        })
        .await
}

/// `POST /workspace/{ws}/storage/{node}/quickshare/` (§6.8): creation is closed, 403/10756.
pub async fn quickshare(_: Caller) -> ApiError {
    ApiError::QuickShareClosed
}

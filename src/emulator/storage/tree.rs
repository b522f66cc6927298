//! The node tree of a workspace (§6): listing with keyset cursors (§6.3; `trash` lists the
//! top-level trashed nodes), node details single and bulk (§6.4), create folder, rename, move
//! and copy (§6.5, in `arrange.rs`) and the retired QuickShare (§6.8). Trash, restore and purge
//! are `trash.rs`; versions `versions.rs`.

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

/// The name rules the emulator enforces (the server's are unpublished, §6.5): not empty after
/// trimming, at most 255 bytes, not `.` or `..`, no `/`, `\\` or control characters. 400/1605
/// with the reason otherwise.
pub fn valid_name(raw: Option<&String>) -> Result<String, ApiError> {
    let name = raw
        .map(|n| n.trim().to_owned())
        .filter(|n| !n.is_empty())
        .ok_or_else(|| ApiError::invalid("name is required"))?;
    if name.len() > 255 {
        return Err(ApiError::invalid("name is longer than 255 bytes"));
    }
    if name == "." || name == ".." {
        return Err(ApiError::invalid("name may not be . or .."));
    }
    if name.chars().any(|c| c == '/' || c == '\\') {
        return Err(ApiError::invalid("name may not contain / or \\"));
    }
    if name.chars().any(char::is_control) {
        return Err(ApiError::invalid("name may not contain control characters"));
    }
    Ok(name)
}

/// The answer of a call that returns its node (§6.5): `{"node":{…}}` at full output, or a bare
/// `{"result":true}` when `bare_storage_answers` is on.
pub async fn node_answer(
    state: &EmulatorState,
    ws: String,
    id: String,
) -> Result<Envelope, ApiError> {
    if state.config.bare_storage_answers {
        return Ok(Envelope(json!({})));
    }
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
    let name = valid_name(form.get("name"))?;
    let force = matches!(form.get("force").map(String::as_str), Some("true" | "1"));
    let w = ws.clone();
    let id = state
        .store
        .call(move |c| {
            let parent = nodes::resolve_folder(c, &w, &parent)?;
            let existing = nodes::child_named(c, &w, &parent, &name)?;
            if let Some(n) = &existing
                && n.kind == "folder"
                && !force
            {
                return Ok(n.id.clone());
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
    let base = state.public_base.clone();
    // createfolder always answers its node (only the §6.5 edits honour `bare_storage_answers`).
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

/// A live (not trashed) node, or 404/1609.
pub fn live(c: &rusqlite::Connection, ws: &str, id: &str) -> Result<NodeRow, ApiError> {
    match nodes::get(c, ws, id)? {
        Some(n) if !n.deleted => Ok(n),
        _ => Err(ApiError::not_found(format!("node {id} not found"))),
    }
}

/// `POST /workspace/{ws}/storage/{node}/quickshare/` (§6.8): creation is closed, 403/10756.
pub async fn quickshare(_: Caller) -> ApiError {
    ApiError::QuickShareClosed
}

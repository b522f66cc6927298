//! File Shares (§6.8): `create/fileshare/` (QuickShare's replacement), list, details, delete and
//! the recipient read, plus the public `web_url` page `/f/{id}` the emulator serves itself so a
//! browser can follow a share link and download without any key.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use rusqlite::{Connection, OptionalExtension};
use serde_json::{Value, json};

use super::downloads;
use super::nodes::{self, NodeRow};
use super::workspaces;
use crate::emulator::state::EmulatorState;
use crate::emulator::transport::auth::Caller;
use crate::emulator::transport::envelope::Envelope;
use crate::emulator::transport::error::ApiError;
use crate::emulator::transport::ids;

struct Share {
    id: String,
    workspace_id: String,
    node_id: String,
    title: Option<String>,
    access_option: String,
    password: Option<String>,
    expires: Option<i64>,
    created: String,
}

fn get_share(c: &Connection, id: &str) -> Result<Option<Share>, ApiError> {
    Ok(c.query_row(
        "SELECT id, workspace_id, node_id, title, access_option, password, expires, created \
         FROM fileshares WHERE id = ?1",
        [id],
        |r| {
            Ok(Share {
                id: r.get(0)?,
                workspace_id: r.get(1)?,
                node_id: r.get(2)?,
                title: r.get(3)?,
                access_option: r.get(4)?,
                password: r.get(5)?,
                expires: r.get(6)?,
                created: r.get(7)?,
            })
        },
    )
    .optional()?)
}

fn share_json(s: &Share, n: &NodeRow, base: &str) -> Value {
    json!({
        "fileshare": s.id, "id": s.id, "title": s.title, "access_option": s.access_option,
        "password_protected": s.password.is_some(), "created": s.created,
        "expires": s.expires.and_then(|e| chrono::DateTime::from_timestamp(e, 0)).map(ids::format_time),
        "file": {"id": n.id, "name": n.name, "size": n.size},
        "web_url": format!("{base}/f/{}/", s.id),
    })
}

/// Parses `expires_at`: `YYYY-MM-DD HH:MM:SS[ UTC]` (no zone = UTC) or RFC 3339.
fn parse_expires_at(raw: &str) -> Result<i64, ApiError> {
    let raw = raw.trim();
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(raw) {
        return Ok(t.timestamp());
    }
    let plain = raw.trim_end_matches(" UTC").trim_end_matches('Z');
    for fmt in ["%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S"] {
        if let Ok(t) = chrono::NaiveDateTime::parse_from_str(plain, fmt) {
            return Ok(t.and_utc().timestamp());
        }
    }
    Err(ApiError::invalid("expires_at is not a valid date-time"))
}

/// `POST /workspace/{ws}/create/fileshare/` (§6.8): `node`, `expires` XOR `expires_at`, …
pub async fn create(
    State(state): State<Arc<EmulatorState>>,
    _: Caller,
    Path(ws): Path<String>,
    Form(form): Form<HashMap<String, String>>,
) -> Result<Envelope, ApiError> {
    let ws = workspaces::resolve(&state, &ws).await?;
    let get = |k: &str| form.get(k).map(|v| v.trim()).filter(|v| !v.is_empty());
    let node = get("node")
        .ok_or_else(|| ApiError::invalid("node is required"))?
        .to_owned();
    let expires = match (get("expires"), get("expires_at")) {
        (Some(_), Some(_)) => {
            return Err(ApiError::invalid("give expires or expires_at, not both"));
        }
        (Some(secs), None) => {
            let secs: i64 = secs
                .parse()
                .ok()
                .filter(|s| (1..=3_155_760_000).contains(s))
                .ok_or_else(|| ApiError::invalid("expires must be 1–3155760000 seconds"))?;
            Some(ids::now_epoch() + secs)
        }
        (None, Some(at)) => Some(parse_expires_at(at)?),
        (None, None) => None,
    };
    let title = get("title").map(str::to_owned);
    if title.as_ref().is_some_and(|t| t.chars().count() > 255) {
        return Err(ApiError::invalid("title is longer than 255 characters"));
    }
    let access = get("access_option")
        .unwrap_or("anyone_with_link")
        .to_owned();
    if !["anyone_with_link", "any_registered", "named_people"].contains(&access.as_str()) {
        return Err(ApiError::invalid("invalid access_option"));
    }
    let password = get("password").map(str::to_owned);
    let base = state.public_base.clone();
    state
        .store
        .call(move |c| {
            let n = match nodes::get(c, &ws, &node)? {
                Some(n) if n.kind == "file" && !n.deleted => n,
                Some(_) => return Err(ApiError::invalid("a file share needs a file node")),
                None => return Err(ApiError::not_found(format!("file {node} not found"))),
            };
            let s = Share {
                id: ids::profile_id(),
                workspace_id: ws,
                node_id: n.id.clone(),
                title,
                access_option: access,
                password,
                expires,
                created: ids::now(),
            };
            c.execute(
                "INSERT INTO fileshares(id, workspace_id, node_id, title, access_option, password, \
                 expires, created) VALUES (?1,?2,?3,?4,?5,?6,?7,?8)",
                rusqlite::params![
                    s.id,
                    s.workspace_id,
                    s.node_id,
                    s.title,
                    s.access_option,
                    s.password,
                    s.expires,
                    s.created
                ],
            )?;
            Ok(Envelope(json!({"fileshare": share_json(&s, &n, &base)})))
        })
        .await
}

/// `GET /workspace/{ws}/list/fileshares/` (§6.8): `fileshares[]` (`offset`, `limit`).
pub async fn list(
    State(state): State<Arc<EmulatorState>>,
    _: Caller,
    Path(ws): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Envelope, ApiError> {
    let ws = workspaces::resolve(&state, &ws).await?;
    let limit: i64 = q.get("limit").and_then(|l| l.parse().ok()).unwrap_or(100);
    let offset: i64 = q.get("offset").and_then(|o| o.parse().ok()).unwrap_or(0);
    let base = state.public_base.clone();
    state
        .store
        .call(move |c| {
            let mut stmt = c.prepare(
                "SELECT id FROM fileshares WHERE workspace_id = ?1 ORDER BY created, id \
                 LIMIT ?2 OFFSET ?3",
            )?;
            let share_ids = stmt
                .query_map((&ws, limit, offset), |r| r.get::<_, String>(0))?
                .collect::<Result<Vec<_>, _>>()?;
            let mut out = Vec::new();
            for id in share_ids {
                if let Some(s) = get_share(c, &id)?
                    && let Some(n) = nodes::get(c, &s.workspace_id, &s.node_id)?
                {
                    out.push(share_json(&s, &n, &base));
                }
            }
            Ok(Envelope(json!({"fileshares": out})))
        })
        .await
}

/// `DELETE /fileshare/{id}/delete/` (§6.8).
pub async fn delete(
    State(state): State<Arc<EmulatorState>>,
    _: Caller,
    Path(id): Path<String>,
) -> Result<Envelope, ApiError> {
    let sid = id.clone();
    let n = state
        .store
        .call(move |c| Ok(c.execute("DELETE FROM fileshares WHERE id = ?1", [&sid])?))
        .await?;
    if n == 0 {
        return Err(ApiError::not_found("file share not found"));
    }
    Ok(Envelope(json!({"id": id, "deleted": true})))
}

/// A live share and its file, checking expiry and the `x-ve-password` header.
async fn open_share(
    state: &EmulatorState,
    id: String,
    headers: &HeaderMap,
) -> Result<(Share, NodeRow), ApiError> {
    let password = headers
        .get("x-ve-password")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    state
        .store
        .call(move |c| {
            let s = get_share(c, &id)?
                .filter(|s| s.expires.is_none_or(|e| e > ids::now_epoch()))
                .ok_or_else(|| ApiError::not_found("file share not found"))?;
            if s.password.is_some() && s.password != password {
                return Err(ApiError::PasswordRequired);
            }
            let n = nodes::get(c, &s.workspace_id, &s.node_id)?
                .filter(|n| !n.deleted)
                .ok_or_else(|| ApiError::not_found("the shared file is gone"))?;
            Ok((s, n))
        })
        .await
}

/// `GET /fileshare/{id}/details/` (§6.8): recipient view, no key needed.
pub async fn details(
    State(state): State<Arc<EmulatorState>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Envelope, ApiError> {
    let (s, n) = open_share(&state, id, &headers).await?;
    Ok(Envelope(
        json!({"fileshare": share_json(&s, &n, &state.public_base)}),
    ))
}

/// `GET /fileshare/{id}/storage/read/` (§6.8): the bytes, no key needed.
pub async fn read(
    State(state): State<Arc<EmulatorState>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let (_, n) = open_share(&state, id, &headers).await?;
    downloads::serve_node(&state, &n, &headers, false).await
}

/// `GET /f/{id}/` — the share's `web_url` (§6.8, the emulator's choice of link): downloads the file as an attachment, no key needed.
pub async fn web(
    State(state): State<Arc<EmulatorState>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let (_, n) = open_share(&state, id, &headers).await?;
    downloads::serve_node(&state, &n, &headers, true).await
}

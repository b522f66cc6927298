//! Identity, system and workspace reads (§4, §5), and [`resolve`]: the one check that a
//! workspace reference names a workspace the caller may use (§2.2 code 10545).

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use rusqlite::OptionalExtension;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::emulator::state::EmulatorState;
use crate::emulator::store;
use crate::emulator::transport::auth::Caller;
use crate::emulator::transport::envelope::Envelope;
use crate::emulator::transport::error::ApiError;

/// Resolves a workspace reference (19-digit id or folder name, §5) the caller may use; an
/// unknown one, or one configured as "not a member", answers 401/10545.
pub async fn resolve(state: &EmulatorState, reference: &str) -> Result<String, ApiError> {
    if state.faults.is_not_member(reference) {
        return Err(ApiError::NotMember);
    }
    let r = reference.to_owned();
    let found: Option<String> = state
        .store
        .call(move |c| {
            Ok(c.query_row(
                "SELECT id FROM workspaces WHERE id = ?1 OR folder_name = lower(?1)",
                [&r],
                |row| row.get(0),
            )
            .optional()?)
        })
        .await?;
    match found {
        Some(id) if state.faults.is_not_member(&id) => Err(ApiError::NotMember),
        Some(id) => Ok(id),
        None => Err(ApiError::NotMember),
    }
}

/// `GET /ping/` (§4): no auth.
pub async fn ping() -> Envelope {
    Envelope(json!({"pong": true}))
}

/// `GET /system/status/` (§4): no auth.
pub async fn system_status() -> Envelope {
    Envelope(json!({"status": "ok", "services": {"api": "ok", "storage": "ok"}}))
}

/// `GET /user/auth/check/` (§4): `{"result":true,"id":"<user id>"}`.
pub async fn auth_check(
    State(state): State<Arc<EmulatorState>>,
    _: Caller,
) -> Result<Envelope, ApiError> {
    let id = state.store.call(|c| store::user_id(c)).await?;
    Ok(Envelope(json!({"id": id})))
}

/// `GET /user/me/details/` (§4): the profile under `user` (id and profile_id both present).
pub async fn me(State(state): State<Arc<EmulatorState>>, _: Caller) -> Result<Envelope, ApiError> {
    let id = state.store.call(|c| store::user_id(c)).await?;
    Ok(Envelope(json!({"user": {
        "id": id, "profile_id": id, "account_type": "user", "first_name": "Emulated",
        "last_name": "User", "email": "emulator@example.invalid", "email_verified": true,
    }})))
}

#[derive(Deserialize)]
pub struct Paging {
    limit: Option<String>,
    offset: Option<String>,
}

/// The workspace object (§5). `intelligence` is on unless a fault switch turned it off for this
/// workspace (an emulator choice, so scoped chat works out of the box).
fn workspace_json(row: &(String, String, String, String), intelligence: bool) -> Value {
    json!({
        "id": row.0, "name": row.1, "folder_name": row.2, "created": row.3,
        "description": "", "intelligence": intelligence, "perm_join": "member",
        "perm_member_manage": "admin", "ai_capabilities": {"chat": intelligence},
    })
}

async fn all_workspaces(
    state: &EmulatorState,
) -> Result<Vec<(String, String, String, String)>, ApiError> {
    state
        .store
        .call(|c| {
            let mut stmt = c.prepare(
                "SELECT id, name, folder_name, created FROM workspaces ORDER BY created, id",
            )?;
            let rows = stmt
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?
                .collect::<Result<_, _>>()?;
            Ok(rows)
        })
        .await
}

fn parse_num(raw: Option<&str>, default: u64, name: &str) -> Result<u64, ApiError> {
    match raw {
        None | Some("") => Ok(default),
        Some(s) => s
            .parse()
            .map_err(|_| ApiError::invalid(format!("{name} must be a non-negative integer"))),
    }
}

/// `GET /workspaces/all/` (§5): `workspaces[]` + `pagination{total,limit,offset,has_more}`.
pub async fn list(
    State(state): State<Arc<EmulatorState>>,
    _: Caller,
    Query(q): Query<Paging>,
) -> Result<Envelope, ApiError> {
    let limit = parse_num(q.limit.as_deref(), 100, "limit")?;
    if !(1..=500).contains(&limit) {
        return Err(ApiError::invalid("limit must be between 1 and 500"));
    }
    let offset = parse_num(q.offset.as_deref(), 0, "offset")?;
    let rows = all_workspaces(&state).await?;
    let total = rows.len() as u64;
    let page: Vec<Value> = rows
        .iter()
        .filter(|r| !state.faults.is_not_member(&r.0))
        .skip(offset as usize)
        .take(limit as usize)
        .map(|r| workspace_json(r, state.faults.intelligence_on(&r.0)))
        .collect();
    Ok(Envelope(json!({
        "workspaces": page,
        "pagination": {"total": total, "limit": limit, "offset": offset,
                        "has_more": offset + limit < total},
    })))
}

/// `GET /workspace/{id}/details/` (§5): wrapped as `workspace:{…}`.
pub async fn details(
    State(state): State<Arc<EmulatorState>>,
    _: Caller,
    Path(ws): Path<String>,
) -> Result<Envelope, ApiError> {
    let id = resolve(&state, &ws).await?;
    let rows = all_workspaces(&state).await?;
    let row = rows
        .iter()
        .find(|r| r.0 == id)
        .ok_or_else(|| ApiError::not_found("workspace not found"))?;
    let on = state.faults.intelligence_on(&row.0);
    Ok(Envelope(json!({"workspace": workspace_json(row, on)})))
}

//! File management over JSON (DESIGN §3c): rename and move (`PATCH`), delete to the trash,
//! restore, purge, the trash listing, versions and name search. The operations themselves
//! ([`rename`], [`move_to`], [`delete`], [`restore`], [`purge`], [`restore_version`]) are shared
//! with the form actions, so both paths check the same input, map the same failures and write
//! the same audit entries.
//!
//! Input is checked before any upstream call: names (empty, too long, `.`/`..`, a slash, a
//! control character → 400 with the reason), a move into the moved folder itself or its subtree
//! (400, found by walking the target's parents), a node of another workspace (404: the node is
//! looked up in the route's workspace first). Fast.io's name clash (400/1605 on `update/`)
//! becomes 409 naming the clashing name; a purge of a live node is 409 before it is sent.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

use super::AppState;
use super::auth::{Caller, Need, audit};
use super::cursor::{Cursor, CursorKey};
use super::listing::{self, ROOT};
use super::view::{Entry, EntryKind, FolderRef, ListQuery, Listing};
use crate::access::{AuditAction, Capability, Event};
use crate::fastio::{self, ListedNode, Node, NodeType, SearchQuery};
use crate::web::error::{AppError, ErrorBody};
use crate::web::routes::Routes;

/// The longest name accepted, in characters.
pub const MAX_NAME_CHARS: usize = 255;

/// The longest search query accepted, in characters.
pub const MAX_QUERY_CHARS: usize = 1024;

/// The trash's id in Fast.io's paths.
pub const TRASH: &str = "trash";

/// The deepest parent chain walked when checking a move (a guard against a cycle upstream).
const MAX_DEPTH: usize = 64;

/// This module's routes.
///
/// The node segment of `/api/files/{workspace}/…` is named `{folder}` as in the listing route it
/// shares a path with (the router needs one name per position); it is any node id here.
pub fn routes(r: Routes) -> Routes {
    let edit = Need::On(Capability::Edit);
    let view = Need::On(Capability::View);
    r.patch("/api/files/{workspace}/{folder}", edit, patch)
        .delete("/api/files/{workspace}/{folder}", edit, remove)
        .post(
            "/api/files/{workspace}/{folder}/restore",
            edit,
            restore_json,
        )
        .get(
            "/api/files/{workspace}/{folder}/versions",
            view,
            versions_json,
        )
        .post(
            "/api/files/{workspace}/{folder}/versions/{version}/restore",
            edit,
            restore_version_json,
        )
        .get("/api/trash/{workspace}", view, trash_json)
        .delete("/api/trash/{workspace}/{node}", edit, purge_json)
        .get("/api/search/{workspace}", view, search_json)
}

/// A node as the JSON API answers it: a listing entry plus its parent folder.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct NodeJson {
    /// The entry fields of a listing.
    #[serde(flatten)]
    pub entry: Entry,
    /// The parent folder's id (`root` at the top, `trash` when deleted).
    pub parent: Option<String>,
}

impl From<&Node> for NodeJson {
    fn from(node: &Node) -> Self {
        NodeJson {
            entry: listing::entry(node.clone().into()),
            parent: node.parent.clone(),
        }
    }
}

/// Why `name` cannot be a file or folder name, if it cannot.
pub fn check_name(name: &str) -> Result<(), AppError> {
    let bad = |why: &str| Err(AppError::BadRequest(format!("the name {why}")));
    if name.trim().is_empty() {
        return bad("is empty");
    }
    if name.chars().count() > MAX_NAME_CHARS {
        return bad(&format!("is longer than {MAX_NAME_CHARS} characters"));
    }
    if name == "." || name == ".." {
        return bad("cannot be “.” or “..”");
    }
    if name.contains('/') || name.contains('\\') {
        return bad("cannot contain a slash");
    }
    if name.chars().any(crate::upload::names::is_forbidden) {
        return bad("cannot contain control or text-direction characters");
    }
    if name != name.trim() {
        return bad("cannot start or end with a space");
    }
    Ok(())
}

/// The node `node` of `ws` (exposed), 404 when it is not there (another workspace's included).
pub async fn lookup(state: &AppState, ws: &str, node: &str) -> Result<Node, AppError> {
    listing::ensure_exposed(state, ws)?;
    if node == ROOT || node == TRASH || node.is_empty() {
        return Err(AppError::BadRequest(format!(
            "“{node}” is not a file or folder that can be changed"
        )));
    }
    state.fastio.node(ws, node).await.map_err(not_found)
}

fn not_found(e: fastio::Error) -> AppError {
    match e {
        fastio::Error::NotFound { .. } => AppError::NotFound("no such file or folder".into()),
        other => other.into(),
    }
}

/// Fast.io's 400/1605 (a validation refusal) as 409 with `message`, anything else as usual.
fn clash(e: fastio::Error, message: impl FnOnce() -> String) -> AppError {
    match e {
        fastio::Error::Upstream {
            status: 400,
            code: Some(1605),
            ..
        } => AppError::Conflict(message()),
        other => not_found(other),
    }
}

fn is_trashed(node: &Node) -> bool {
    node.deleted == Some(true) || node.parent.as_deref() == Some(TRASH)
}

async fn record(state: &AppState, caller: &Caller, ws: &str, event: Event) {
    audit::record(state, caller, event.workspace(ws)).await;
}

/// Renames `node` to `name`.
pub async fn rename(
    state: &AppState,
    caller: &Caller,
    ws: &str,
    node: &str,
    name: &str,
) -> Result<Node, AppError> {
    check_name(name)?;
    let before = lookup(state, ws, node).await?;
    let after = state.fastio.rename(ws, node, name).await.map_err(|e| {
        clash(e, || {
            format!("a file or folder named “{name}” is already there")
        })
    })?;
    let detail = format!("{} → {}", before.name, after.name);
    let event = Event::new(AuditAction::NodeRenamed)
        .target(node)
        .detail(&detail);
    record(state, caller, ws, event).await;
    Ok(after)
}

/// Checks that `node` may move into `parent`: a folder of `ws` (or `root`) that is neither the
/// node itself nor inside it. Returns the target's parent chain check result; no move is sent.
pub async fn check_move(
    state: &AppState,
    ws: &str,
    node: &Node,
    parent: &str,
) -> Result<(), AppError> {
    if parent == TRASH {
        return Err(AppError::BadRequest(
            "use delete to move something to the trash".into(),
        ));
    }
    if parent == node.id {
        return Err(AppError::BadRequest(
            "a folder cannot be moved into itself".into(),
        ));
    }
    if parent == ROOT {
        return Ok(());
    }
    let target = listing::folder_node(state, ws, parent).await?;
    if is_trashed(&target) {
        return Err(AppError::NotFound("no such folder".into()));
    }
    let mut up = target.parent;
    let mut depth = 0;
    while let Some(id) = up.filter(|p| p != ROOT && !p.is_empty() && p != TRASH) {
        if id == node.id {
            return Err(AppError::BadRequest(
                "a folder cannot be moved into its own subfolder".into(),
            ));
        }
        depth += 1;
        if depth > MAX_DEPTH {
            break;
        }
        up = state.fastio.node(ws, &id).await.map_err(not_found)?.parent;
    }
    Ok(())
}

/// Moves `node` into folder `parent` (`root` allowed).
pub async fn move_to(
    state: &AppState,
    caller: &Caller,
    ws: &str,
    node: &str,
    parent: &str,
) -> Result<Node, AppError> {
    let before = lookup(state, ws, node).await?;
    if is_trashed(&before) {
        return Err(AppError::Conflict(format!(
            "“{}” is in the trash; restore it first",
            before.name
        )));
    }
    check_move(state, ws, &before, parent).await?;
    let after = state
        .fastio
        .move_node(ws, node, parent)
        .await
        .map_err(|e| clash(e, || format!("“{}” cannot be moved there", before.name)))?;
    let detail = format!(
        "{} → {}",
        before.parent.as_deref().unwrap_or(ROOT),
        after.parent.as_deref().unwrap_or(parent)
    );
    let event = Event::new(AuditAction::NodeMoved)
        .target(node)
        .detail(&detail);
    record(state, caller, ws, event).await;
    Ok(after)
}

/// Moves `node` (a folder with everything under it) to the trash.
pub async fn delete(
    state: &AppState,
    caller: &Caller,
    ws: &str,
    node: &str,
) -> Result<Node, AppError> {
    let before = lookup(state, ws, node).await?;
    state
        .fastio
        .delete_node(ws, node)
        .await
        .map_err(not_found)?;
    let event = Event::new(AuditAction::NodeDeleted)
        .target(node)
        .detail(&before.name);
    record(state, caller, ws, event).await;
    Ok(before)
}

/// Brings `node` back from the trash.
pub async fn restore(
    state: &AppState,
    caller: &Caller,
    ws: &str,
    node: &str,
) -> Result<Node, AppError> {
    let before = lookup(state, ws, node).await?;
    if !is_trashed(&before) {
        return Err(AppError::Conflict(format!(
            "“{}” is not in the trash",
            before.name
        )));
    }
    let after = state.fastio.restore_node(ws, node).await.map_err(|e| {
        clash(e, || {
            format!("“{}” cannot be restored on its own", before.name)
        })
    })?;
    let event = Event::new(AuditAction::NodeRestored)
        .target(node)
        .detail(&after.name);
    record(state, caller, ws, event).await;
    Ok(after)
}

/// Removes trashed `node` for good (409 when it is not in the trash).
pub async fn purge(
    state: &AppState,
    caller: &Caller,
    ws: &str,
    node: &str,
) -> Result<Node, AppError> {
    let before = lookup(state, ws, node).await?;
    let live = || format!("“{}” is not in the trash; delete it first", before.name);
    if !is_trashed(&before) {
        return Err(AppError::Conflict(live()));
    }
    state
        .fastio
        .purge_node(ws, node)
        .await
        .map_err(|e| clash(e, live))?;
    let event = Event::new(AuditAction::NodePurged)
        .target(node)
        .detail(&before.name);
    record(state, caller, ws, event).await;
    Ok(before)
}

/// Empties the trash of `ws` for good; answers the nodes that were in it (the first page of
/// them), which the audit entry counts.
pub async fn empty_trash(
    state: &AppState,
    caller: &Caller,
    ws: &str,
) -> Result<Vec<Node>, AppError> {
    listing::ensure_exposed(state, ws)?;
    let params = ListQuery::default().validate()?;
    let (nodes, more) = listing::page::<Node>(state, ws, TRASH, &params).await?;
    state.fastio.empty_trash(ws).await.map_err(not_found)?;
    let count = if more.is_some() {
        format!("emptied the trash (more than {} items)", nodes.len())
    } else {
        format!("emptied the trash ({} items)", nodes.len())
    };
    let event = Event::new(AuditAction::NodePurged)
        .target(TRASH)
        .detail(&count);
    record(state, caller, ws, event).await;
    Ok(nodes)
}

/// Makes `version` of file `node` current.
pub async fn restore_version(
    state: &AppState,
    caller: &Caller,
    ws: &str,
    node: &str,
    version: &str,
) -> Result<Node, AppError> {
    let before = lookup(state, ws, node).await?;
    if before.node_type != NodeType::File {
        return Err(AppError::BadRequest("only files have versions".into()));
    }
    let after = state
        .fastio
        .restore_version(ws, node, version)
        .await
        .map_err(|e| clash(e, || format!("version “{version}” cannot be restored")))?;
    let event = Event::new(AuditAction::VersionRestored)
        .target(node)
        .detail(version);
    record(state, caller, ws, event).await;
    Ok(after)
}

/// `PATCH` body: a new name, a new parent folder, or both.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct Patch {
    name: Option<String>,
    parent: Option<String>,
}

/// `PATCH /api/files/{workspace}/{node}` → the node.
#[utoipa::path(patch, path = "/api/files/{workspace}/{folder}", tag = "files", request_body = Patch,
    params(("workspace" = String, Path, min_length = 1, description = "Workspace id"), ("folder" = String, Path, min_length = 1, description = "Node id (file or folder)")),
    responses(
        (status = 200, description = "The node renamed and/or moved", body = NodeJson),
        (status = 400, description = "A bad name, parent, id or query", body = ErrorBody),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "The role does not allow this, or Fast.io forbids it", body = ErrorBody),
        (status = 404, description = "No such workspace, file or folder here", body = ErrorBody),
        (status = 409, description = "Conflicts with the current state (a name taken, a move into itself)", body = ErrorBody),
        (status = 429, description = "Fast.io asks to slow down (with Retry-After)", body = ErrorBody),
        (status = 502, description = "Fast.io answered with an error", body = ErrorBody),
        (status = 503, description = "Fast.io cannot be reached", body = ErrorBody),
    ))]
async fn patch(
    State(state): State<AppState>,
    caller: Caller,
    Path((ws, node)): Path<(String, String)>,
    body: Result<Json<Patch>, axum::extract::rejection::JsonRejection>,
) -> Result<Json<NodeJson>, AppError> {
    let Json(patch) = body.map_err(|e| AppError::BadRequest(e.body_text()))?;
    if patch.name.is_none() && patch.parent.is_none() {
        return Err(AppError::BadRequest(
            "send a new “name”, a new “parent”, or both".into(),
        ));
    }
    if let Some(name) = &patch.name {
        check_name(name)?;
    }
    let mut current = lookup(&state, &ws, &node).await?;
    if let Some(parent) = &patch.parent {
        check_move(&state, &ws, &current, parent).await?;
    }
    if let Some(name) = patch.name.as_deref().filter(|n| *n != current.name) {
        current = rename(&state, &caller, &ws, &node, name).await?;
    }
    if let Some(parent) = patch
        .parent
        .as_deref()
        .filter(|p| current.parent.as_deref() != Some(*p))
    {
        current = move_to(&state, &caller, &ws, &node, parent).await?;
    }
    Ok(Json(NodeJson::from(&current)))
}

/// `DELETE /api/files/{workspace}/{node}` → 204 (to the trash).
#[utoipa::path(delete, path = "/api/files/{workspace}/{folder}", tag = "files",
    params(("workspace" = String, Path, min_length = 1, description = "Workspace id"), ("folder" = String, Path, min_length = 1, description = "Node id (file or folder)")),
    responses(
        (status = 204, description = "Moved to the trash"),
        (status = 400, description = "A bad name, parent, id or query", body = ErrorBody),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "The role does not allow this, or Fast.io forbids it", body = ErrorBody),
        (status = 404, description = "No such workspace, file or folder here", body = ErrorBody),
        (status = 429, description = "Fast.io asks to slow down (with Retry-After)", body = ErrorBody),
        (status = 502, description = "Fast.io answered with an error", body = ErrorBody),
        (status = 503, description = "Fast.io cannot be reached", body = ErrorBody),
    ))]
async fn remove(
    State(state): State<AppState>,
    caller: Caller,
    Path((ws, node)): Path<(String, String)>,
) -> Result<StatusCode, AppError> {
    delete(&state, &caller, &ws, &node).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /api/files/{workspace}/{node}/restore` → the node.
#[utoipa::path(post, path = "/api/files/{workspace}/{folder}/restore", tag = "files",
    params(("workspace" = String, Path, min_length = 1, description = "Workspace id"), ("folder" = String, Path, min_length = 1, description = "Node id (file or folder)")),
    responses(
        (status = 200, description = "The node, back where it was", body = NodeJson),
        (status = 400, description = "A bad name, parent, id or query", body = ErrorBody),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "The role does not allow this, or Fast.io forbids it", body = ErrorBody),
        (status = 404, description = "No such workspace, file or folder here", body = ErrorBody),
        (status = 409, description = "Conflicts with the current state (a name taken, a move into itself)", body = ErrorBody),
        (status = 429, description = "Fast.io asks to slow down (with Retry-After)", body = ErrorBody),
        (status = 502, description = "Fast.io answered with an error", body = ErrorBody),
        (status = 503, description = "Fast.io cannot be reached", body = ErrorBody),
    ))]
async fn restore_json(
    State(state): State<AppState>,
    caller: Caller,
    Path((ws, node)): Path<(String, String)>,
) -> Result<Json<NodeJson>, AppError> {
    let node = restore(&state, &caller, &ws, &node).await?;
    Ok(Json(NodeJson::from(&node)))
}

/// `DELETE /api/trash/{workspace}/{node}` → 204 (purged).
#[utoipa::path(delete, path = "/api/trash/{workspace}/{node}", tag = "files",
    params(("workspace" = String, Path, min_length = 1, description = "Workspace id"), ("node" = String, Path, min_length = 1, description = "Node id of a trashed file or folder")),
    responses(
        (status = 204, description = "Purged for good"),
        (status = 400, description = "A bad name, parent, id or query", body = ErrorBody),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "The role does not allow this, or Fast.io forbids it", body = ErrorBody),
        (status = 404, description = "No such workspace, file or folder here", body = ErrorBody),
        (status = 409, description = "Conflicts with the current state (a name taken, a move into itself)", body = ErrorBody),
        (status = 429, description = "Fast.io asks to slow down (with Retry-After)", body = ErrorBody),
        (status = 502, description = "Fast.io answered with an error", body = ErrorBody),
        (status = 503, description = "Fast.io cannot be reached", body = ErrorBody),
    ))]
async fn purge_json(
    State(state): State<AppState>,
    caller: Caller,
    Path((ws, node)): Path<(String, String)>,
) -> Result<StatusCode, AppError> {
    purge(&state, &caller, &ws, &node).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// One version as the JSON API answers it.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct VersionJson {
    /// Opaque version id.
    pub id: String,
    /// Size in bytes.
    pub size: Option<u64>,
    /// SHA-256 hex, when Fast.io's hash is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    /// When it was made.
    pub created: Option<chrono::DateTime<chrono::Utc>>,
    /// Whether it is the current content.
    pub current: bool,
}

/// `{"items": [version…]}`.
#[derive(Serialize, utoipa::ToSchema)]
struct Versions {
    items: Vec<VersionJson>,
}

/// The versions of file `node`, newest first as Fast.io orders them.
pub async fn versions(
    state: &AppState,
    ws: &str,
    node: &str,
) -> Result<Vec<VersionJson>, AppError> {
    let file = lookup(state, ws, node).await?;
    if file.node_type != NodeType::File {
        return Err(AppError::BadRequest("only files have versions".into()));
    }
    let list = state.fastio.versions(ws, node).await.map_err(not_found)?;
    Ok(list
        .into_iter()
        .map(|v| {
            let sha = v.hash_algo.as_deref().is_none_or(|a| {
                a.eq_ignore_ascii_case("sha256") || a.eq_ignore_ascii_case("sha-256")
            });
            VersionJson {
                current: v.current,
                sha256: v.hash.filter(|h| sha && h.len() == 64),
                size: v.size,
                created: v.created,
                id: v.id,
            }
        })
        .collect())
}

/// `GET /api/files/{workspace}/{node}/versions`.
#[utoipa::path(get, path = "/api/files/{workspace}/{folder}/versions", tag = "files",
    params(("workspace" = String, Path, min_length = 1, description = "Workspace id"), ("folder" = String, Path, min_length = 1, description = "File node id")),
    responses(
        (status = 200, description = "The file's versions, newest first", body = Versions),
        (status = 400, description = "A bad name, parent, id or query", body = ErrorBody),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "The role does not allow this, or Fast.io forbids it", body = ErrorBody),
        (status = 404, description = "No such workspace, file or folder here", body = ErrorBody),
        (status = 429, description = "Fast.io asks to slow down (with Retry-After)", body = ErrorBody),
        (status = 502, description = "Fast.io answered with an error", body = ErrorBody),
        (status = 503, description = "Fast.io cannot be reached", body = ErrorBody),
    ))]
async fn versions_json(
    State(state): State<AppState>,
    Path((ws, node)): Path<(String, String)>,
) -> Result<Json<Versions>, AppError> {
    Ok(Json(Versions {
        items: versions(&state, &ws, &node).await?,
    }))
}

/// `POST /api/files/{workspace}/{node}/versions/{version}/restore` → the node.
#[utoipa::path(post, path = "/api/files/{workspace}/{folder}/versions/{version}/restore", tag = "files",
    params(("workspace" = String, Path, min_length = 1, description = "Workspace id"), ("folder" = String, Path, min_length = 1, description = "File node id"),
        ("version" = String, Path, min_length = 1, description = "Version id")),
    responses(
        (status = 200, description = "The file, its content that version's again", body = NodeJson),
        (status = 400, description = "A bad name, parent, id or query", body = ErrorBody),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "The role does not allow this, or Fast.io forbids it", body = ErrorBody),
        (status = 404, description = "No such workspace, file or folder here", body = ErrorBody),
        (status = 409, description = "Conflicts with the current state (a name taken, a move into itself)", body = ErrorBody),
        (status = 429, description = "Fast.io asks to slow down (with Retry-After)", body = ErrorBody),
        (status = 502, description = "Fast.io answered with an error", body = ErrorBody),
        (status = 503, description = "Fast.io cannot be reached", body = ErrorBody),
    ))]
async fn restore_version_json(
    State(state): State<AppState>,
    caller: Caller,
    Path((ws, node, version)): Path<(String, String, String)>,
) -> Result<Json<NodeJson>, AppError> {
    let node = restore_version(&state, &caller, &ws, &node, &version).await?;
    Ok(Json(NodeJson::from(&node)))
}

/// One page of the trash (the top-level trashed nodes) as a listing.
pub async fn trash(state: &AppState, ws: &str, query: ListQuery) -> Result<Listing, AppError> {
    listing::ensure_exposed(state, ws)?;
    let params = query.validate()?;
    let (nodes, next) = listing::page::<ListedNode>(state, ws, TRASH, &params).await?;
    let folder = FolderRef {
        id: TRASH.to_owned(),
        name: "Trash".to_owned(),
    };
    let items = nodes.into_iter().map(listing::entry).collect();
    Ok(Listing::new(ws.to_owned(), folder, items, next))
}

/// `GET /api/trash/{workspace}`.
#[utoipa::path(get, path = "/api/trash/{workspace}", tag = "files",
    params(("workspace" = String, Path, min_length = 1, description = "Workspace id"), ListQuery),
    responses(
        (status = 200, description = "One page of the trash", body = Listing),
        (status = 400, description = "A bad name, parent, id or query", body = ErrorBody),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "The role does not allow this, or Fast.io forbids it", body = ErrorBody),
        (status = 404, description = "No such workspace, file or folder here", body = ErrorBody),
        (status = 429, description = "Fast.io asks to slow down (with Retry-After)", body = ErrorBody),
        (status = 502, description = "Fast.io answered with an error", body = ErrorBody),
        (status = 503, description = "Fast.io cannot be reached", body = ErrorBody),
    ))]
async fn trash_json(
    State(state): State<AppState>,
    Path(ws): Path<String>,
    Query(query): Query<ListQuery>,
) -> Result<Listing, AppError> {
    trash(&state, &ws, query).await
}

/// `?q=&limit=&cursor=` of a search.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SearchParams {
    /// The text to find in names (2–1024 characters).
    pub q: Option<String>,
    /// Hits per page, 1–500 (default 100).
    #[param(value_type = Option<u32>, minimum = 1, maximum = 500)]
    pub limit: Option<String>,
    /// Opaque cursor from a previous page.
    pub cursor: Option<String>,
}

/// One page of search hits.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct SearchResults {
    /// Workspace id.
    pub workspace: String,
    /// The query searched for.
    pub query: String,
    /// The hits (files and folders), each with its parent folder.
    pub items: Vec<NodeJson>,
    /// Opaque cursor of the next page, `null` on the last one.
    pub next_cursor: Option<String>,
}

/// One page of a name search over `ws`. The cursor is signed and bound to the workspace, the
/// query and the page size.
pub async fn search(
    state: &AppState,
    ws: &str,
    params: &SearchParams,
) -> Result<SearchResults, AppError> {
    listing::ensure_exposed(state, ws)?;
    let q = params.q.as_deref().unwrap_or("").trim().to_owned();
    let chars = q.chars().count();
    if chars > MAX_QUERY_CHARS {
        return Err(AppError::BadRequest(format!(
            "a search is at most {MAX_QUERY_CHARS} characters"
        )));
    }
    if chars < 2 {
        return Err(AppError::BadRequest(
            "a search needs at least 2 characters".into(),
        ));
    }
    let key = CursorKey::new(state.config.secret.clone());
    let (limit, offset) = match params.cursor.as_deref().filter(|c| !c.is_empty()) {
        Some(text) => {
            let c = key.decode(text)?;
            if c.workspace != ws || c.folder != "search" || c.sort != q {
                return Err(AppError::BadRequest(
                    "cursor belongs to another search".into(),
                ));
            }
            (c.page_size, u64::from(c.offset))
        }
        None => {
            let limit = match params.limit.as_deref().filter(|s| !s.is_empty()) {
                None => super::view::DEFAULT_LIMIT,
                Some(s) => s
                    .parse::<u32>()
                    .ok()
                    .filter(|n| (1..=super::view::MAX_LIMIT).contains(n))
                    .ok_or_else(|| AppError::BadRequest("limit must be 1 to 500".into()))?,
            };
            (limit, 0)
        }
    };
    let mut query = SearchQuery::new(q.clone(), limit);
    query.offset = offset;
    query.details = true;
    let page = state.fastio.search(ws, &query).await?;
    let items = page
        .hits
        .iter()
        .map(|hit| match &hit.node {
            Some(node) => NodeJson::from(node),
            None => NodeJson {
                entry: Entry {
                    id: hit.id.clone(),
                    name: hit.name.clone(),
                    kind: if hit.node_type == NodeType::Folder {
                        EntryKind::Folder
                    } else {
                        EntryKind::File
                    },
                    size: None,
                    mime: None,
                    created: None,
                    modified: None,
                },
                parent: hit.parent_id.clone(),
            },
        })
        .collect();
    let next_cursor = page
        .next_offset
        .and_then(|o| u32::try_from(o).ok())
        .map(|offset| {
            key.encode(&Cursor {
                workspace: ws.to_owned(),
                folder: "search".to_owned(),
                sort: q.clone(),
                order: String::new(),
                page_size: limit,
                upstream: None,
                offset,
            })
        });
    Ok(SearchResults {
        workspace: ws.to_owned(),
        query: q,
        items,
        next_cursor,
    })
}

/// `GET /api/search/{workspace}?q=&limit=&cursor=`.
#[utoipa::path(get, path = "/api/search/{workspace}", tag = "files",
    params(("workspace" = String, Path, min_length = 1, description = "Workspace id"), SearchParams),
    responses(
        (status = 200, description = "One page of hits", body = SearchResults),
        (status = 400, description = "A bad name, parent, id or query", body = ErrorBody),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "The role does not allow this, or Fast.io forbids it", body = ErrorBody),
        (status = 404, description = "No such workspace, file or folder here", body = ErrorBody),
        (status = 429, description = "Fast.io asks to slow down (with Retry-After)", body = ErrorBody),
        (status = 502, description = "Fast.io answered with an error", body = ErrorBody),
        (status = 503, description = "Fast.io cannot be reached", body = ErrorBody),
    ))]
async fn search_json(
    State(state): State<AppState>,
    Path(ws): Path<String>,
    Query(params): Query<SearchParams>,
) -> Result<Response, AppError> {
    Ok(Json(search(&state, &ws, &params).await?).into_response())
}

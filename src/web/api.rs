//! The JSON listing API (DESIGN §3): `GET /api/workspaces` and `GET /api/files/{workspace}[/{folder}]`
//! (`root` is the root folder). Answers are [`Listing`] serialised as is, the struct the browse
//! page renders; errors take the one JSON shape of [`AppError`].

use axum::Json;
use axum::extract::{Path, Query, State};
use serde::Serialize;

use super::AppState;
use super::listing::{self, ROOT, WorkspaceInfo};
use super::view::{ListQuery, Listing};
use crate::access::Capability;
use crate::web::auth::{Caller, Need};
use crate::web::error::{AppError, ErrorBody};
use crate::web::routes::Routes;

/// This module's routes.
pub fn routes(r: Routes) -> Routes {
    r.get("/api/workspaces", Need::SignedIn, workspaces)
        .get(
            "/api/files/{workspace}",
            Need::On(Capability::View),
            files_root,
        )
        .get(
            "/api/files/{workspace}/{folder}",
            Need::On(Capability::View),
            files,
        )
}

/// `{"items": [{"id", "name"}]}`.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Workspaces {
    items: Vec<WorkspaceInfo>,
}

/// `GET /api/workspaces`: the workspaces the gateway exposes.
#[utoipa::path(get, path = "/api/workspaces", tag = "files",
    responses(
        (status = 200, description = "The workspaces the caller may see", body = Workspaces),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 429, description = "Fast.io asks to slow down (with Retry-After)", body = ErrorBody),
        (status = 502, description = "Fast.io answered with an error", body = ErrorBody),
        (status = 503, description = "Fast.io cannot be reached", body = ErrorBody),
    ))]
async fn workspaces(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Workspaces>, AppError> {
    let mut items = listing::workspaces(&state).await?;
    items.retain(|w| caller.sees(&w.id));
    Ok(Json(Workspaces { items }))
}

/// `GET /api/files/{workspace}`: the root folder.
#[utoipa::path(get, path = "/api/files/{workspace}", tag = "files",
    params(("workspace" = String, Path, min_length = 1, description = "Workspace id"), ListQuery),
    responses(
        (status = 200, description = "One page of the folder's children", body = Listing),
        (status = 400, description = "A bad limit, sort, order or cursor", body = ErrorBody),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "The role does not allow viewing", body = ErrorBody),
        (status = 404, description = "No such workspace or folder here", body = ErrorBody),
        (status = 429, description = "Fast.io asks to slow down (with Retry-After)", body = ErrorBody),
        (status = 502, description = "Fast.io answered with an error", body = ErrorBody),
        (status = 503, description = "Fast.io cannot be reached", body = ErrorBody),
    ))]
async fn files_root(
    State(state): State<AppState>,
    Path(workspace): Path<String>,
    Query(query): Query<ListQuery>,
) -> Result<Listing, AppError> {
    let params = query.validate()?;
    listing::list(&state, &workspace, ROOT, &params).await
}

/// `GET /api/files/{workspace}/{folder}`.
#[utoipa::path(get, path = "/api/files/{workspace}/{folder}", tag = "files",
    params(("workspace" = String, Path, min_length = 1, description = "Workspace id"), ("folder" = String, Path, min_length = 1, description = "Folder id, or `root`"), ListQuery),
    responses(
        (status = 200, description = "One page of the folder's children", body = Listing),
        (status = 400, description = "A bad limit, sort, order or cursor", body = ErrorBody),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "The role does not allow viewing", body = ErrorBody),
        (status = 404, description = "No such workspace or folder here", body = ErrorBody),
        (status = 429, description = "Fast.io asks to slow down (with Retry-After)", body = ErrorBody),
        (status = 502, description = "Fast.io answered with an error", body = ErrorBody),
        (status = 503, description = "Fast.io cannot be reached", body = ErrorBody),
    ))]
async fn files(
    State(state): State<AppState>,
    Path((workspace, folder)): Path<(String, String)>,
    Query(query): Query<ListQuery>,
) -> Result<Listing, AppError> {
    let params = query.validate()?;
    listing::list(&state, &workspace, &folder, &params).await
}

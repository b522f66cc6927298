//! The browse pages: `GET /` (the exposed workspaces; with exactly one, a redirect to its root
//! folder) and `GET /w/{workspace}` / `GET /w/{workspace}/{folder}` (`root` is the root folder).
//! A page is a [`Listing`](super::view::Listing) plus breadcrumbs, rendered by `browse.html`;
//! [`browse_page`] is also what the form actions re-render after an action. Two folder ids name
//! workspace pages instead (Fast.io's ids are never these words): `trash`
//! ([`super::trash_page`]) and `search` ([`super::search_page`]), so each page shares its path
//! with the form actions posted to it.

use axum::extract::{Path, Query, RawQuery, State};
use axum::response::{IntoResponse, Redirect, Response};

use super::AppState;
use super::auth::Caller;
use super::auth::Need;
use super::display::{self, SortState};
use super::files::{SearchParams, TRASH};
use super::listing::{self, ROOT};
use super::routes::Routes;
use super::search_page::search_page;
use super::templates::{BrowsePage, Chrome, Limits, WorkspaceLink, WorkspacesPage};
use super::trash_page::trash_page;
use super::view::{ListParams, ListQuery};
use crate::access::Capability;
use crate::web::error::AppError;

/// The folder id that names the search page.
pub const SEARCH: &str = "search";

/// This module's routes.
pub fn routes(r: Routes) -> Routes {
    r.get("/", Need::SignedIn, home)
        .get("/w/{workspace}", Need::On(Capability::View), browse_root)
        .get(
            "/w/{workspace}/{folder}",
            Need::On(Capability::View),
            browse,
        )
}

/// `GET /`: the workspaces, or straight to the only one.
async fn home(State(state): State<AppState>, caller: Caller) -> Result<Response, AppError> {
    let mut workspaces = listing::workspaces(&state).await?;
    workspaces.retain(|w| caller.sees(&w.id));
    if let [only] = workspaces.as_slice() {
        return Ok(Redirect::to(&display::folder_href(&only.id, ROOT)).into_response());
    }
    let workspaces = workspaces
        .into_iter()
        .map(|w| WorkspaceLink::new(w.id, w.name))
        .collect();
    Ok(WorkspacesPage {
        chrome: Chrome::of(&caller, None),
        workspaces,
    }
    .into_response())
}

/// `GET /w/{workspace}`: the root folder's page.
async fn browse_root(
    State(state): State<AppState>,
    caller: Caller,
    Path(workspace): Path<String>,
    Query(query): Query<ListQuery>,
) -> Result<BrowsePage, AppError> {
    let params = query.validate()?;
    browse_page(&state, &caller, &workspace, ROOT, &params).await
}

/// `GET /w/{workspace}/{folder}`: a folder's page (or the trash or search page).
async fn browse(
    State(state): State<AppState>,
    caller: Caller,
    Path((workspace, folder)): Path<(String, String)>,
    RawQuery(raw): RawQuery,
) -> Result<Response, AppError> {
    let raw = raw.unwrap_or_default();
    let bad = |e: serde_urlencoded::de::Error| {
        AppError::BadRequest(format!("the query could not be read: {e}"))
    };
    match folder.as_str() {
        TRASH => {
            let query: ListQuery = serde_urlencoded::from_str(&raw).map_err(bad)?;
            Ok(trash_page(&state, &caller, &workspace, query)
                .await?
                .into_response())
        }
        SEARCH => {
            let params: SearchParams = serde_urlencoded::from_str(&raw).map_err(bad)?;
            Ok(search_page(&state, &caller, &workspace, params)
                .await?
                .into_response())
        }
        _ => {
            let query: ListQuery = serde_urlencoded::from_str(&raw).map_err(bad)?;
            let params = query.validate()?;
            Ok(browse_page(&state, &caller, &workspace, &folder, &params)
                .await?
                .into_response())
        }
    }
}

/// The browse page of `folder` in `workspace`: one page of its listing, breadcrumbs, forms.
pub async fn browse_page(
    state: &AppState,
    caller: &Caller,
    workspace: &str,
    folder: &str,
    params: &ListParams,
) -> Result<BrowsePage, AppError> {
    let listing = listing::list(state, workspace, folder, params).await?;
    let (workspace_name, path) = tokio::try_join!(
        async {
            if listing.folder.id == ROOT {
                Ok(listing.folder.name.clone())
            } else {
                listing::workspace_name(state, workspace).await
            }
        },
        listing::ancestry(state, workspace, &listing.folder),
    )?;
    let mut page = BrowsePage::new(
        &listing,
        &workspace_name,
        &path,
        SortState::of(params),
        Limits::from_config(&state.config),
        chrono::Utc::now(),
    );
    page.chrome = Chrome::of(caller, Some(workspace));
    Ok(page)
}

//! Folder listings as the gateway serves them: one [`Listing`] per request, built from Fast.io's
//! fixed-size pages (100/250/500) cut to the caller's `limit` with a signed [`Cursor`], plus the
//! lookups both the JSON API and the pages need (exposed workspaces, the folder's name, its
//! ancestors for breadcrumbs).
//!
//! Order: items come in exactly the order Fast.io sorts them by the requested key, so paging is
//! honest: every item appears once across pages, whatever `limit` is. Folders-first is a matter
//! of the HTML page (it groups the rows of the page it shows); a listing-wide folders-first order
//! would need the whole folder read before the first page could be answered.
//!
//! Paging keeps the upstream page size fixed for a whole listing (chosen from the first request's
//! `limit` and pinned in the cursor), so a position `(upstream cursor, offset)` always names the
//! same node while the folder does not change. Under concurrent writes an item may shift within
//! the upstream page the cursor points into (as with any offset); Fast.io's own cursors keep the
//! page boundaries stable.

use serde::de::DeserializeOwned;

use crate::fastio::{self, ListQuery, ListedNode, Node, NodeType, PageSize, SortBy, SortDir};
use crate::web::AppState;
use crate::web::cursor::{Cursor, CursorKey};
use crate::web::error::AppError;
use crate::web::view::{Entry, EntryKind, FolderRef, ListParams, Listing, SortKey, SortOrder};

/// The alias of a workspace's root folder in the gateway's URLs (and Fast.io's).
pub const ROOT: &str = "root";

/// The deepest folder chain followed for breadcrumbs (a guard against a cycle upstream).
const MAX_DEPTH: usize = 64;

/// Upstream pages fetched for one answer at most (500 items from pages of 100 need 6).
const MAX_FETCHES: usize = 8;

/// A workspace the gateway exposes.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct WorkspaceInfo {
    /// Workspace id.
    pub id: String,
    /// Display name.
    pub name: String,
}

/// 404 unless the gateway exposes `ws` (`FASTGATE_WORKSPACES`); checked before any upstream
/// call, so an unexposed workspace costs Fast.io nothing and reveals nothing.
pub fn ensure_exposed(state: &AppState, ws: &str) -> Result<(), AppError> {
    if state.exposes(ws) {
        Ok(())
    } else {
        Err(not_found_workspace())
    }
}

fn not_found_workspace() -> AppError {
    AppError::NotFound("no such workspace".into())
}

/// Every workspace the key can see and the gateway exposes.
pub async fn workspaces(state: &AppState) -> Result<Vec<WorkspaceInfo>, AppError> {
    let all = state.fastio.list_workspaces().await?;
    Ok(all
        .into_iter()
        .filter(|w| state.exposes(&w.id))
        .map(|w| WorkspaceInfo {
            name: if w.name.is_empty() {
                w.id.clone()
            } else {
                w.name
            },
            id: w.id,
        })
        .collect())
}

/// The name of an exposed workspace (404 when Fast.io does not know it).
pub async fn workspace_name(state: &AppState, ws: &str) -> Result<String, AppError> {
    ensure_exposed(state, ws)?;
    if let Some(name) = state.names.get(ws, ROOT) {
        return Ok(name);
    }
    let w = state.fastio.workspace(ws).await.map_err(|e| match e {
        fastio::Error::NotFound { .. } => not_found_workspace(),
        other => other.into(),
    })?;
    let name = if w.name.is_empty() { w.id } else { w.name };
    state.names.put(ws, ROOT, &name);
    Ok(name)
}

/// The folder `folder` of `ws` as a node, 404 when it is missing or a file.
pub async fn folder_node(state: &AppState, ws: &str, folder: &str) -> Result<Node, AppError> {
    let node = state.fastio.node(ws, folder).await.map_err(|e| match e {
        fastio::Error::NotFound { .. } => AppError::NotFound("no such folder".into()),
        other => other.into(),
    })?;
    if node.node_type != NodeType::Folder {
        return Err(AppError::NotFound(format!(
            "“{}” is not a folder",
            node.name
        )));
    }
    Ok(node)
}

/// One page of `folder` (`root` allowed) in `ws`, as [`ListParams`] ask, with the folder's
/// name. The name comes from [`AppState::names`] when seen in the last few seconds; otherwise
/// its lookup and the first upstream page run concurrently.
pub async fn list(
    state: &AppState,
    ws: &str,
    folder: &str,
    params: &ListParams,
) -> Result<Listing, AppError> {
    ensure_exposed(state, ws)?;
    let (folder_ref, (nodes, next)) = tokio::try_join!(
        folder_ref(state, ws, folder),
        page::<ListedNode>(state, ws, folder, params)
    )?;
    let items = nodes.into_iter().map(entry).collect();
    Ok(Listing::new(ws.to_owned(), folder_ref, items, next))
}

/// The `(id, name)` chain from the root's child down to `folder` (empty at the root), for
/// breadcrumbs.
pub async fn ancestry(
    state: &AppState,
    ws: &str,
    folder: &FolderRef,
) -> Result<Vec<(String, String)>, AppError> {
    if folder.id == ROOT {
        return Ok(Vec::new());
    }
    let mut chain = vec![(folder.id.clone(), folder.name.clone())];
    let mut parent = state.fastio.node(ws, &folder.id).await?.parent;
    while let Some(id) = parent.filter(|p| p != ROOT && !p.is_empty()) {
        if chain.len() >= MAX_DEPTH {
            break;
        }
        let node = state.fastio.node(ws, &id).await?;
        chain.push((node.id, node.name));
        parent = node.parent;
    }
    chain.reverse();
    Ok(chain)
}

async fn folder_ref(state: &AppState, ws: &str, folder: &str) -> Result<FolderRef, AppError> {
    if let Some(name) = state.names.get(ws, folder) {
        return Ok(FolderRef {
            id: folder.to_owned(),
            name,
        });
    }
    if folder == ROOT {
        Ok(FolderRef {
            id: ROOT.to_owned(),
            name: workspace_name(state, ws).await?,
        })
    } else {
        let node = folder_node(state, ws, folder).await?;
        state.names.put(ws, folder, &node.name);
        Ok(FolderRef {
            id: node.id,
            name: node.name,
        })
    }
}

/// Fetches upstream pages from the cursor's position until `limit` nodes are gathered or the
/// folder ends; usually one or two upstream pages, since the page size is at least the first request's limit.
/// Each node is read as an `N`: a [`ListedNode`] for what is only shown, a [`Node`] for more.
pub(crate) async fn page<N: DeserializeOwned>(
    state: &AppState,
    ws: &str,
    folder: &str,
    params: &ListParams,
) -> Result<(Vec<N>, Option<String>), AppError> {
    let key = CursorKey::new(state.config.secret.clone());
    let start = match &params.cursor {
        Some(text) => {
            let c = key.decode(text)?;
            let same = c.workspace == ws
                && c.folder == folder
                && c.sort == params.sort.as_str()
                && c.order == params.order.as_str();
            if !same {
                return Err(AppError::BadRequest(
                    "cursor belongs to another listing (workspace, folder, sort or order)".into(),
                ));
            }
            c
        }
        None => Cursor {
            workspace: ws.to_owned(),
            folder: folder.to_owned(),
            sort: params.sort.as_str().to_owned(),
            order: params.order.as_str().to_owned(),
            page_size: PageSize::at_least(params.limit).get(),
            upstream: None,
            offset: 0,
        },
    };
    let page_size = match start.page_size {
        100 => PageSize::P100,
        250 => PageSize::P250,
        500 => PageSize::P500,
        _ => return Err(AppError::BadRequest("cursor is not valid".into())),
    };
    let limit = params.limit as usize;
    let mut upstream = start.upstream.clone();
    let mut offset = start.offset as usize;
    let mut out: Vec<N> = Vec::with_capacity(limit);
    let mut fetches = 0;
    let next = loop {
        fetches += 1;
        let q = ListQuery {
            sort_by: sort_by(params.sort),
            sort_dir: sort_dir(params.order),
            page_size,
            cursor: upstream.clone(),
        };
        let fetched = state
            .fastio
            .list_folder_of::<N>(ws, folder, &q)
            .await
            .map_err(|e| match e {
                fastio::Error::NotFound { .. } => AppError::NotFound("no such folder".into()),
                other => other.into(),
            })?;
        let n = fetched.nodes.len();
        let from = offset.min(n);
        let take = (limit - out.len()).min(n - from);
        out.extend(fetched.nodes.into_iter().skip(from).take(take));
        offset = from + take;
        if out.len() == limit && offset < n {
            break Some((upstream, offset));
        }
        match fetched.next_cursor {
            Some(c) if out.len() == limit => break Some((Some(c), 0)),
            // A guard against an upstream that keeps answering empty pages with a cursor.
            Some(c) if fetches >= MAX_FETCHES => break Some((Some(c), 0)),
            Some(c) => {
                upstream = Some(c);
                offset = 0;
            }
            None => break None,
        }
    };
    let next = next.map(|(upstream, offset)| {
        key.encode(&Cursor {
            upstream,
            offset: offset as u32,
            ..start
        })
    });
    Ok((out, next))
}

fn sort_by(key: SortKey) -> SortBy {
    match key {
        SortKey::Name => SortBy::Name,
        SortKey::Modified => SortBy::Updated,
        SortKey::Created => SortBy::Created,
        SortKey::Type => SortBy::Type,
    }
}

fn sort_dir(order: SortOrder) -> SortDir {
    match order {
        SortOrder::Asc => SortDir::Asc,
        SortOrder::Desc => SortDir::Desc,
    }
}

/// A listed node as the gateway shows it; notes and links count as files.
pub fn entry(node: ListedNode) -> Entry {
    let is_folder = node.node_type == NodeType::Folder;
    Entry {
        id: node.id,
        name: node.name,
        kind: if is_folder {
            EntryKind::Folder
        } else {
            EntryKind::File
        },
        size: node.size,
        mime: if is_folder { None } else { node.mimetype },
        created: node.created,
        modified: node.modified,
    }
}

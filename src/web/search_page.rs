//! `GET /w/{workspace}/search?q=&cursor=`: name search over a workspace as a page, the same
//! search as `GET /api/search/{ws}` ([`files::search`]: at most 1,024 characters, a signed
//! cursor per page). Each hit links to its own page and to the folder it is in, shown as a path
//! from the workspace root. Served by the folder route (its `{folder}` is `search` here).

use std::collections::HashMap;

use super::AppState;
use super::auth::Caller;
use super::display;
use super::files::{self, SearchParams};
use super::format;
use super::listing::{self, ROOT};
use super::templates::{Chrome, type_label};
use super::view::{EntryKind, FolderRef};
use crate::web::error::AppError;

/// One hit.
#[derive(Clone, Debug)]
pub struct Hit {
    /// Its name.
    pub name: String,
    /// A folder?
    pub is_folder: bool,
    /// Its page (a folder's, or the file page).
    pub href: String,
    /// `Docs / 2026`: the folder it is in, from the workspace root.
    pub folder_path: String,
    /// That folder's page.
    pub folder_href: String,
    /// `1.5 MiB`, or `—`.
    pub size_text: String,
    /// `PDF`, `Folder`…
    pub type_text: String,
}

/// The search page.
#[derive(askama::Template, askama_web::WebTemplate)]
#[template(path = "search.html")]
pub struct SearchPage {
    /// The frame.
    pub chrome: Chrome,
    /// `/w/{ws}/search` (the form's action).
    pub action: String,
    /// The workspace's root folder.
    pub root_href: String,
    /// The workspace's name.
    pub workspace_name: String,
    /// What was searched for (empty: nothing yet).
    pub query: String,
    /// Whether a search ran (a query was given).
    pub searched: bool,
    /// This page's hits.
    pub hits: Vec<Hit>,
    /// Query string of the next page, if any.
    pub next_href: Option<String>,
}

/// The search page of `ws` for `params` (an empty `q` shows the form alone).
pub async fn search_page(
    state: &AppState,
    caller: &Caller,
    ws: &str,
    params: SearchParams,
) -> Result<SearchPage, AppError> {
    let workspace_name = listing::workspace_name(state, ws).await?;
    let mut page = SearchPage {
        chrome: Chrome::of(caller, Some(ws)),
        action: display::folder_href(ws, "search"),
        root_href: display::folder_href(ws, ROOT),
        workspace_name: workspace_name.clone(),
        query: params.q.clone().unwrap_or_default(),
        searched: false,
        hits: Vec::new(),
        next_href: None,
    };
    if params.q.as_deref().is_none_or(|q| q.trim().is_empty()) {
        return Ok(page);
    }
    let found = files::search(state, ws, &params).await?;
    let mut paths: HashMap<String, String> = HashMap::new();
    for item in &found.items {
        let parent = item.parent.clone().unwrap_or_else(|| ROOT.to_owned());
        if !paths.contains_key(&parent) {
            let path = folder_path(state, ws, &parent, &workspace_name).await?;
            paths.insert(parent.clone(), path);
        }
        let is_folder = item.entry.kind == EntryKind::Folder;
        let e = &item.entry;
        page.hits.push(Hit {
            name: e.name.clone(),
            is_folder,
            href: if is_folder {
                display::folder_href(ws, &e.id)
            } else {
                display::file_href(ws, &e.id)
            },
            folder_path: paths.get(&parent).cloned().unwrap_or_default(),
            folder_href: display::folder_href(ws, &parent),
            size_text: e.size.map_or_else(|| "—".to_owned(), format::human_size),
            type_text: if is_folder {
                "Folder".to_owned()
            } else {
                type_label(&e.name, e.mime.as_deref())
            },
        });
    }
    page.next_href = found.next_cursor.as_deref().map(|c| {
        let pairs = [("q", found.query.as_str()), ("cursor", c)];
        format!(
            "?{}",
            serde_urlencoded::to_string(pairs).unwrap_or_default()
        )
    });
    page.query = found.query;
    page.searched = true;
    Ok(page)
}

/// `Workspace / Docs / 2026` for folder `id`.
async fn folder_path(
    state: &AppState,
    ws: &str,
    id: &str,
    workspace_name: &str,
) -> Result<String, AppError> {
    if id == ROOT {
        return Ok(workspace_name.to_owned());
    }
    let node = listing::folder_node(state, ws, id).await?;
    let folder = FolderRef {
        id: node.id,
        name: node.name,
    };
    let chain = listing::ancestry(state, ws, &folder).await?;
    let names = std::iter::once(workspace_name.to_owned()).chain(chain.into_iter().map(|(_, n)| n));
    Ok(names.collect::<Vec<_>>().join(" / "))
}

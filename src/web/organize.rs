//! The two small pages that let a folder page's move and delete work without JavaScript:
//! `GET /w/{workspace}/{folder}/move?node=…&at=…` picks a destination (the folder `at`, default
//! `folder`, with its subfolders as links that keep the chosen nodes, and a "Move here" form
//! posting `?/move` to the folder page), and `GET /w/{workspace}/{folder}/delete?node=…` asks
//! before `?/delete`. `node` is repeated for a bulk action (the folder page's checkboxes submit
//! here with GET). Both need the editor's capability, as the actions they lead to do.

use axum::extract::{Path, RawQuery, State};

use super::AppState;
use super::auth::{Caller, Need};
use super::display::{self, Crumb};
use super::file_actions::MAX_NODES;
use super::files;
use super::listing::{self, ROOT};
use super::routes::Routes;
use super::templates::Chrome;
use super::view::{FolderRef, ListQuery};
use crate::access::Capability;
use crate::fastio::NodeType;
use crate::web::error::AppError;

/// This module's routes.
pub fn routes(r: Routes) -> Routes {
    let edit = Need::On(Capability::Edit);
    r.get("/w/{workspace}/{folder}/move", edit, move_page).get(
        "/w/{workspace}/{folder}/delete",
        edit,
        delete_page,
    )
}

/// An item chosen on the folder page.
#[derive(Clone, Debug)]
pub struct Chosen {
    /// Node id.
    pub id: String,
    /// Its name.
    pub name: String,
    /// A folder?
    pub is_folder: bool,
}

/// A folder the items can go to.
#[derive(Clone, Debug)]
pub struct Destination {
    /// Its name.
    pub name: String,
    /// This page again, with `at` set to it.
    pub href: String,
}

/// `GET /w/{workspace}/{folder}/move`.
#[derive(askama::Template, askama_web::WebTemplate)]
#[template(path = "move.html")]
pub struct MovePage {
    /// The frame.
    pub chrome: Chrome,
    /// The folder page they are on (`?/move` posts there; Cancel goes back).
    pub back: String,
    /// The items to move.
    pub chosen: Vec<Chosen>,
    /// The folder looked at, as a trail (each step links to this page at it).
    pub crumbs: Vec<Crumb>,
    /// Its id (the form's `parent`).
    pub at: String,
    /// Its name.
    pub at_name: String,
    /// Its subfolders, minus the items being moved.
    pub folders: Vec<Destination>,
    /// Whether it has more subfolders than are listed.
    pub more: bool,
    /// The items are already in it.
    pub here: bool,
}

/// `GET /w/{workspace}/{folder}/delete`.
#[derive(askama::Template, askama_web::WebTemplate)]
#[template(path = "confirm_delete.html")]
pub struct DeletePage {
    /// The frame.
    pub chrome: Chrome,
    /// The folder page (`?/delete` posts there; Cancel goes back).
    pub back: String,
    /// The items to move to the trash.
    pub chosen: Vec<Chosen>,
    /// The trash's page (where they can be restored).
    pub trash_href: String,
}

/// The `node` values and the `at` of a query (repeated keys kept).
fn read_query(query: Option<&str>) -> Result<(Vec<String>, Option<String>), AppError> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(query.unwrap_or(""))
        .map_err(|e| AppError::BadRequest(format!("the query could not be read: {e}")))?;
    let mut nodes = Vec::new();
    let mut at = None;
    for (key, value) in pairs {
        let value = value.trim().to_owned();
        match key.as_str() {
            "node" if !value.is_empty() && !nodes.contains(&value) => nodes.push(value),
            "at" if !value.is_empty() => at = Some(value),
            _ => {}
        }
    }
    if nodes.is_empty() {
        return Err(AppError::BadRequest(
            "Choose at least one item (tick its box).".into(),
        ));
    }
    if nodes.len() > MAX_NODES {
        return Err(AppError::BadRequest(format!(
            "At most {MAX_NODES} items at once."
        )));
    }
    Ok((nodes, at))
}

/// The chosen nodes of `ws`, each looked up (404 for one of another workspace).
async fn chosen(state: &AppState, ws: &str, nodes: &[String]) -> Result<Vec<Chosen>, AppError> {
    let mut out = Vec::with_capacity(nodes.len());
    for id in nodes {
        let node = files::lookup(state, ws, id).await?;
        out.push(Chosen {
            is_folder: node.node_type == NodeType::Folder,
            id: node.id,
            name: node.name,
        });
    }
    Ok(out)
}

/// `?node=…&node=…&at=…` for the move page.
fn move_query(nodes: &[String], at: &str) -> String {
    let mut pairs: Vec<(&str, &str)> = nodes.iter().map(|n| ("node", n.as_str())).collect();
    pairs.push(("at", at));
    serde_urlencoded::to_string(pairs).unwrap_or_default()
}

async fn move_page(
    State(state): State<AppState>,
    caller: Caller,
    Path((ws, folder)): Path<(String, String)>,
    RawQuery(query): RawQuery,
) -> Result<MovePage, AppError> {
    listing::ensure_exposed(&state, &ws)?;
    let (nodes, at) = read_query(query.as_deref())?;
    let at = at.unwrap_or_else(|| folder.clone());
    let chosen = chosen(&state, &ws, &nodes).await?;
    let params = ListQuery::default().validate()?;
    let params = super::view::ListParams {
        limit: super::view::MAX_LIMIT,
        ..params
    };
    let listed = listing::list(&state, &ws, &at, &params).await?;
    let (workspace_name, path) = tokio::try_join!(
        listing::workspace_name(&state, &ws),
        listing::ancestry(&state, &ws, &listed.folder),
    )?;
    let here_href = |id: &str| {
        format!(
            "{}/move?{}",
            display::folder_href(&ws, &folder),
            move_query(&nodes, id)
        )
    };
    let root = std::iter::once((ROOT.to_owned(), workspace_name));
    let trail: Vec<(String, String)> = root.chain(path).collect();
    let last = trail.len() - 1;
    let crumbs = trail
        .iter()
        .enumerate()
        .map(|(i, (id, name))| Crumb {
            name: name.clone(),
            href: (i != last).then(|| here_href(id)),
        })
        .collect();
    let folders = listed
        .items
        .iter()
        .filter(|e| e.kind == super::view::EntryKind::Folder && !nodes.contains(&e.id))
        .map(|e| Destination {
            name: e.name.clone(),
            href: here_href(&e.id),
        })
        .collect();
    let FolderRef { id, name } = listed.folder;
    Ok(MovePage {
        chrome: Chrome::of(&caller, Some(&ws)),
        back: display::folder_href(&ws, &folder),
        here: id == folder,
        more: listed.next_cursor.is_some(),
        chosen,
        crumbs,
        at: id,
        at_name: name,
        folders,
    })
}

async fn delete_page(
    State(state): State<AppState>,
    caller: Caller,
    Path((ws, folder)): Path<(String, String)>,
    RawQuery(query): RawQuery,
) -> Result<DeletePage, AppError> {
    listing::ensure_exposed(&state, &ws)?;
    let (nodes, _) = read_query(query.as_deref())?;
    let chosen = chosen(&state, &ws, &nodes).await?;
    Ok(DeletePage {
        chrome: Chrome::of(&caller, Some(&ws)),
        back: display::folder_href(&ws, &folder),
        trash_href: display::folder_href(&ws, files::TRASH),
        chosen,
    })
}

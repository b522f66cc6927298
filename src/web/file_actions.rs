//! The file-management form actions of a folder page (DESIGN §3c), in the style of
//! [`super::actions`]: `POST /w/{workspace}/{folder}?/rename` (`node`, `name`), `?/move` (`node`
//! repeated, `parent`), `?/delete` (`node` repeated), and `?/restore`, `?/purge` (`node`
//! repeated) and `?/empty` (everything) posted to `/w/{workspace}/trash`. A success answers 303 back to the page (a reload
//! never re-posts); with `Accept: application/json` an [`ActionResult`] with the nodes acted on.
//! A failure the user can fix (400, 409) is an action failure in JSON; without JS it is the
//! error page with its status. Every node of a bulk action is checked before the first is sent.

use axum::extract::Request;
use axum::response::{IntoResponse, Redirect, Response};
use serde_json::json;

use super::AppState;
use super::auth::Caller;
use super::display;
use super::files::{self, NodeJson, TRASH};
use super::form::read_pairs;
use super::view::ActionResult;
use crate::web::error::AppError;

/// The actions this module answers (`?/name` without the `?/`).
pub const ACTIONS: [&str; 6] = ["rename", "move", "delete", "restore", "purge", "empty"];

/// The most nodes one bulk action takes.
pub const MAX_NODES: usize = 500;

/// Whether `?/…` names one of [`ACTIONS`].
pub fn handles(query: &str) -> bool {
    query
        .strip_prefix('/')
        .is_some_and(|name| ACTIONS.contains(&name))
}

/// Runs action `query` (`/rename`…) on `folder` of `workspace`.
pub async fn act(
    state: &AppState,
    caller: &Caller,
    workspace: &str,
    folder: &str,
    json: bool,
    query: &str,
    request: Request,
) -> Response {
    let action = query.trim_start_matches('/');
    let done = run(state, caller, workspace, folder, action, request).await;
    let back = if folder == TRASH {
        format!("/w/{}/trash", display::segment(workspace))
    } else {
        display::folder_href(workspace, folder)
    };
    match (done, json) {
        (Ok(nodes), true) => {
            let nodes: Vec<NodeJson> = nodes.iter().map(NodeJson::from).collect();
            ActionResult::success(json!({"nodes": nodes, "location": back})).into_response()
        }
        (Ok(_), false) => Redirect::to(&back).into_response(),
        (Err(e), true) if matches!(e.status().as_u16(), 400 | 409) => {
            ActionResult::failure(e.status(), e.report().body()).into_response()
        }
        (Err(e), _) => e.into_response(),
    }
}

async fn run(
    state: &AppState,
    caller: &Caller,
    ws: &str,
    folder: &str,
    action: &str,
    request: Request,
) -> Result<Vec<crate::fastio::Node>, AppError> {
    super::listing::ensure_exposed(state, ws)?;
    let fields = read_pairs(state, request).await?;
    if action == "empty" {
        if folder != TRASH {
            return Err(AppError::BadRequest(
                "Only the trash can be emptied.".into(),
            ));
        }
        return files::empty_trash(state, caller, ws).await;
    }
    let one = |key: &str| {
        fields
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    };
    let nodes: Vec<&str> = fields
        .iter()
        .filter(|(k, v)| k == "node" && !v.trim().is_empty())
        .map(|(_, v)| v.trim())
        .collect();
    if nodes.is_empty() {
        return Err(AppError::BadRequest("Choose at least one item.".into()));
    }
    if nodes.len() > MAX_NODES {
        return Err(AppError::BadRequest(format!(
            "At most {MAX_NODES} items at once."
        )));
    }
    if folder == TRASH && matches!(action, "rename" | "move" | "delete") {
        return Err(AppError::BadRequest(
            "That is in the trash: restore it first.".into(),
        ));
    }
    let mut done = Vec::with_capacity(nodes.len());
    match action {
        "rename" => {
            let [node] = nodes[..] else {
                return Err(AppError::BadRequest("Rename one item at a time.".into()));
            };
            let name = one("name").unwrap_or("");
            done.push(files::rename(state, caller, ws, node, name).await?);
        }
        "move" => {
            let parent = one("parent").map(str::trim).unwrap_or("");
            if parent.is_empty() {
                return Err(AppError::BadRequest("Choose a folder to move to.".into()));
            }
            // Every node checked before the first is moved.
            for node in &nodes {
                let n = files::lookup(state, ws, node).await?;
                files::check_move(state, ws, &n, parent).await?;
            }
            for node in nodes {
                done.push(files::move_to(state, caller, ws, node, parent).await?);
            }
        }
        "delete" => {
            for node in &nodes {
                files::lookup(state, ws, node).await?;
            }
            for node in nodes {
                done.push(files::delete(state, caller, ws, node).await?);
            }
        }
        "restore" => {
            for node in nodes {
                done.push(files::restore(state, caller, ws, node).await?);
            }
        }
        "purge" => {
            for node in nodes {
                done.push(files::purge(state, caller, ws, node).await?);
            }
        }
        other => {
            return Err(AppError::BadRequest(format!("unknown action “{other}”")));
        }
    }
    Ok(done)
}

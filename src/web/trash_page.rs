//! `GET /w/{workspace}/trash`: what was deleted, with "Restore" and "Delete forever" per row for
//! an editor and "Empty trash" (forms posting `?/restore`, `?/purge`, `?/empty` to this page, see
//! [`super::file_actions`]). Served by the folder route, whose `{folder}` is `trash` here, so the
//! page and its actions share one path.

use super::AppState;
use super::auth::Caller;
use super::display;
use super::files;
use super::format;
use super::listing::{self, ROOT};
use super::templates::{Chrome, type_label};
use super::view::{EntryKind, ListQuery};
use crate::web::error::AppError;

/// One trashed item.
#[derive(Clone, Debug)]
pub struct TrashRow {
    /// Node id (the forms' `node`).
    pub id: String,
    /// Its name.
    pub name: String,
    /// A folder (deleted with everything in it)?
    pub is_folder: bool,
    /// `1.5 MiB`, or `—`.
    pub size_text: String,
    /// `PDF`, `Folder`…
    pub type_text: String,
    /// When it last changed, as text.
    pub modified_text: String,
}

/// The trash page.
#[derive(askama::Template, askama_web::WebTemplate)]
#[template(path = "trash.html")]
pub struct TrashPage {
    /// The frame.
    pub chrome: Chrome,
    /// `/w/{ws}/trash` (forms post to `{page_path}?/…`).
    pub page_path: String,
    /// The workspace's root folder.
    pub root_href: String,
    /// The workspace's name.
    pub workspace_name: String,
    /// This page's items.
    pub rows: Vec<TrashRow>,
    /// Query string of the next page, if any.
    pub next_href: Option<String>,
}

/// The trash page of `ws`, one page of it as `query` asks.
pub async fn trash_page(
    state: &AppState,
    caller: &Caller,
    ws: &str,
    query: ListQuery,
) -> Result<TrashPage, AppError> {
    let (listed, workspace_name) = tokio::try_join!(
        files::trash(state, ws, query),
        listing::workspace_name(state, ws)
    )?;
    let now = chrono::Utc::now();
    let rows = listed
        .items
        .iter()
        .map(|e| {
            let is_folder = e.kind == EntryKind::Folder;
            TrashRow {
                id: e.id.clone(),
                name: e.name.clone(),
                is_folder,
                size_text: e.size.map_or_else(|| "—".to_owned(), format::human_size),
                type_text: if is_folder {
                    "Folder".to_owned()
                } else {
                    type_label(&e.name, e.mime.as_deref())
                },
                modified_text: e
                    .modified
                    .map(|m| format::human_date(m, now))
                    .unwrap_or_default(),
            }
        })
        .collect();
    let next_href = listed.next_cursor.as_deref().map(|c| {
        format!(
            "?{}",
            serde_urlencoded::to_string([("cursor", c)]).unwrap_or_default()
        )
    });
    Ok(TrashPage {
        chrome: Chrome::of(caller, Some(ws)),
        page_path: display::folder_href(ws, files::TRASH),
        root_href: display::folder_href(ws, ROOT),
        workspace_name,
        rows,
        next_href,
    })
}

//! `GET /w/{workspace}/f/{node}` (DESIGN §3c): one file's page — its details (size, type,
//! modified, SHA-256), its versions (each downloadable, an older one restorable by an editor)
//! and a preview chosen by [`preview::treatment`]: images inline, PDF in the browser's viewer
//! (`?page=N` opens it at that page, which the Ask pages' citations link to), text and code shown
//! escaped (the first [`TEXT_PREVIEW_BYTES`], with a link to download the rest), audio and video
//! over the Range-capable download route, anything else as a download. A folder's id redirects to
//! its folder page. `POST /w/{workspace}/f/{node}?/restore_version` (`version`) makes a version
//! current: 303 back here, or an action result in JSON.

use axum::extract::{Path, Query, RawQuery, Request, State};
use axum::response::{IntoResponse, Redirect, Response};
use futures_util::StreamExt as _;
use serde::Deserialize;
use serde_json::json;

use super::AppState;
use super::auth::{Caller, Need};
use super::display::{self, Crumb};
use super::files::{self, NodeJson, VersionJson};
use super::form::read_fields;
use super::format;
use super::listing::{self, ROOT};
use super::negotiate::RouteKind;
use super::preview::{self, Treatment};
use super::routes::Routes;
use super::templates::Chrome;
use super::view::{ActionResult, FolderRef};
use crate::access::Capability;
use crate::fastio::{Node, NodeType};
use crate::web::error::AppError;

/// How much of a text file the page shows.
pub const TEXT_PREVIEW_BYTES: u64 = 1024 * 1024;

/// This module's routes.
pub fn routes(r: Routes) -> Routes {
    r.get(
        "/w/{workspace}/f/{node}",
        Need::On(Capability::View),
        file_page,
    )
    .post("/w/{workspace}/f/{node}", Need::Action, act)
}

/// `?page=N`: the PDF page to open at.
#[derive(Debug, Default, Deserialize)]
struct PageQuery {
    page: Option<String>,
}

/// What the page shows as the file's preview.
#[derive(Clone, Debug)]
pub enum PreviewView {
    /// `<img>` of the preview route.
    Image(String),
    /// The browser's PDF viewer in an `<iframe>`: the preview route plus `#page=N`.
    Pdf(String),
    /// `<audio>` over the download route.
    Audio(String),
    /// `<video>` over the download route.
    Video(String),
    /// The first bytes as (escaped) text; `truncated` when there is more to download.
    Text {
        /// The text shown.
        text: String,
        /// Whether the file is longer than what is shown.
        truncated: bool,
    },
    /// Nothing to show in the page: download it.
    None,
}

/// One version row.
#[derive(Clone, Debug)]
pub struct VersionRow {
    /// Opaque id (the restore form's `version`).
    pub id: String,
    /// `2026-12-01 22:58 UTC`.
    pub created: String,
    /// `1.5 MiB`.
    pub size_text: String,
    /// SHA-256 hex or empty.
    pub sha256: String,
    /// `/download/…?version=…`.
    pub href: String,
    /// The current content?
    pub current: bool,
}

/// `GET /w/{workspace}/f/{node}`.
#[derive(askama::Template, askama_web::WebTemplate)]
#[template(path = "file.html")]
pub struct FilePage {
    /// The frame.
    pub chrome: Chrome,
    /// Workspace id.
    pub workspace_id: String,
    /// Node id.
    pub node: String,
    /// The file's name.
    pub name: String,
    /// This page's path (forms post to `{page_path}?/…`).
    pub page_path: String,
    /// Root to the file's folder; the file itself last.
    pub crumbs: Vec<Crumb>,
    /// `1.5 MiB (1,572,864 bytes)`.
    pub size_text: String,
    /// `PDF`, `PNG image`…
    pub type_text: String,
    /// The MIME type as stored, or empty.
    pub mime: String,
    /// Human date, or empty.
    pub modified_text: String,
    /// RFC 3339, or empty.
    pub modified_iso: String,
    /// SHA-256 hex, or empty when Fast.io's hash is another algorithm or missing.
    pub sha256: String,
    /// The download link.
    pub download_href: String,
    /// The preview.
    pub preview: PreviewView,
    /// Versions, newest first (empty when Fast.io keeps none).
    pub versions: Vec<VersionRow>,
    /// Link back to the folder it is in.
    pub folder_href: String,
}

/// `GET /w/{workspace}/f/{node}[?page=N]`.
async fn file_page(
    State(state): State<AppState>,
    caller: Caller,
    Path((ws, node)): Path<(String, String)>,
    Query(query): Query<PageQuery>,
) -> Result<Response, AppError> {
    let pdf_page =
        match query.page.as_deref().filter(|p| !p.is_empty()) {
            None => None,
            Some(p) => Some(p.parse::<u32>().ok().filter(|n| *n >= 1).ok_or_else(|| {
                AppError::BadRequest("page must be a whole number from 1".into())
            })?),
        };
    let file = files::lookup(&state, &ws, &node).await?;
    if file.node_type == NodeType::Folder {
        return Ok(Redirect::to(&display::folder_href(&ws, &file.id)).into_response());
    }
    let (versions, crumbs, preview) = tokio::try_join!(
        files::versions(&state, &ws, &node),
        crumbs(&state, &ws, &file),
        preview_of(&state, &ws, &file, pdf_page),
    )?;
    let sha = file
        .hash_algo
        .as_deref()
        .is_none_or(|a| a.eq_ignore_ascii_case("sha256") || a.eq_ignore_ascii_case("sha-256"));
    let now = chrono::Utc::now();
    let folder = file.parent.clone().unwrap_or_else(|| ROOT.to_owned());
    Ok(FilePage {
        chrome: Chrome::of(&caller, Some(&ws)),
        page_path: display::file_href(&ws, &file.id),
        size_text: file.size.map_or_else(
            || "—".to_owned(),
            |s| format!("{} ({s} bytes)", format::human_size(s)),
        ),
        type_text: super::templates::type_label(&file.name, file.mimetype.as_deref()),
        mime: file.mimetype.clone().unwrap_or_default(),
        modified_text: file
            .modified
            .map(|m| format!("{} ({})", format::human_date(m, now), format::full_date(m)))
            .unwrap_or_default(),
        modified_iso: file.modified.map(|m| m.to_rfc3339()).unwrap_or_default(),
        sha256: file
            .hash
            .clone()
            .filter(|h| sha && h.len() == 64)
            .unwrap_or_default(),
        download_href: display::download_href(&ws, &file.id),
        versions: versions
            .iter()
            .map(|v| version_row(&ws, &file.id, v))
            .collect(),
        folder_href: display::folder_href(&ws, &folder),
        crumbs,
        preview,
        workspace_id: ws,
        node: file.id,
        name: file.name,
    }
    .into_response())
}

fn version_row(ws: &str, node: &str, v: &VersionJson) -> VersionRow {
    let query = serde_urlencoded::to_string([("version", v.id.as_str())]).unwrap_or_default();
    VersionRow {
        id: v.id.clone(),
        created: v.created.map(format::full_date).unwrap_or_default(),
        size_text: v.size.map_or_else(|| "—".to_owned(), format::human_size),
        sha256: v.sha256.clone().unwrap_or_default(),
        href: format!("{}?{query}", display::download_href(ws, node)),
        current: v.current,
    }
}

/// The trail from the workspace root to the file (the file last, unlinked).
async fn crumbs(state: &AppState, ws: &str, file: &Node) -> Result<Vec<Crumb>, AppError> {
    let name = listing::workspace_name(state, ws).await?;
    let parent = file.parent.as_deref().unwrap_or(ROOT);
    let path = if parent == ROOT || parent == files::TRASH {
        Vec::new()
    } else {
        let node = listing::folder_node(state, ws, parent).await?;
        let folder = FolderRef {
            id: node.id,
            name: node.name,
        };
        listing::ancestry(state, ws, &folder).await?
    };
    let mut crumbs = display::breadcrumbs(ws, &name, &path);
    if let Some(last) = crumbs.last_mut() {
        let id = path.last().map_or(ROOT, |(id, _)| id.as_str());
        last.href = Some(display::folder_href(ws, id));
    }
    crumbs.push(Crumb {
        name: file.name.clone(),
        href: None,
    });
    Ok(crumbs)
}

/// The preview the page shows for `file`.
async fn preview_of(
    state: &AppState,
    ws: &str,
    file: &Node,
    pdf_page: Option<u32>,
) -> Result<PreviewView, AppError> {
    let bytes = display::preview_href(ws, &file.id);
    let download = display::download_href(ws, &file.id);
    Ok(
        match preview::treatment(&file.name, file.mimetype.as_deref()) {
            Treatment::Inline(mime) if mime == "application/pdf" => {
                PreviewView::Pdf(format!("{bytes}#page={}", pdf_page.unwrap_or(1)))
            }
            Treatment::Inline(mime) if mime.starts_with("image/") => PreviewView::Image(bytes),
            Treatment::Inline(mime) if mime.starts_with("audio/") => PreviewView::Audio(download),
            Treatment::Inline(mime) if mime.starts_with("video/") => PreviewView::Video(download),
            Treatment::Inline(_) | Treatment::Attachment => PreviewView::None,
            Treatment::Text => {
                let (text, truncated) = text_head(state, ws, file).await?;
                PreviewView::Text { text, truncated }
            }
        },
    )
}

/// The first [`TEXT_PREVIEW_BYTES`] of `file` as text (invalid UTF-8 replaced), and whether
/// there is more. Read with a `Range`, and cut there even if upstream sent more.
async fn text_head(state: &AppState, ws: &str, file: &Node) -> Result<(String, bool), AppError> {
    if file.size == Some(0) {
        return Ok((String::new(), false));
    }
    let token = state.fastio.request_read(ws, &file.id).await?;
    let range = format!("bytes=0-{}", TEXT_PREVIEW_BYTES - 1);
    let download = state
        .fastio
        .read(ws, &file.id, &token, Some(&range))
        .await?;
    let limit = TEXT_PREVIEW_BYTES as usize;
    let mut head = Vec::with_capacity(
        file.size
            .map_or(limit, |s| s.min(TEXT_PREVIEW_BYTES) as usize),
    );
    let mut body = download.body;
    let mut more = false;
    while let Some(chunk) = body.next().await {
        let chunk = chunk?;
        let room = limit - head.len();
        if chunk.len() > room {
            head.extend_from_slice(&chunk[..room]);
            more = true;
            break;
        }
        head.extend_from_slice(&chunk);
    }
    let truncated = more || file.size.is_some_and(|s| s > head.len() as u64);
    Ok((String::from_utf8_lossy(&head).into_owned(), truncated))
}

/// `POST /w/{workspace}/f/{node}?/restore_version` (`version`).
async fn act(
    State(state): State<AppState>,
    caller: Caller,
    Path((ws, node)): Path<(String, String)>,
    RawQuery(query): RawQuery,
    request: Request,
) -> Response {
    let json = RouteKind::of(&request) == RouteKind::Api;
    let back = display::file_href(&ws, &node);
    let done = async {
        if query.as_deref() != Some("/restore_version") {
            return Err(AppError::BadRequest(
                "unknown action: post to ?/restore_version".into(),
            ));
        }
        let fields = read_fields(&state, request).await?;
        let version = fields.get("version").map_or("", |v| v.trim());
        if version.is_empty() {
            return Err(AppError::BadRequest("Choose a version to restore.".into()));
        }
        files::restore_version(&state, &caller, &ws, &node, version).await
    }
    .await;
    match (done, json) {
        (Ok(node), true) => {
            ActionResult::success(json!({"node": NodeJson::from(&node), "location": back}))
                .into_response()
        }
        (Ok(_), false) => Redirect::to(&back).into_response(),
        (Err(e), true) if matches!(e.status().as_u16(), 400 | 409) => {
            ActionResult::failure(e.status(), e.report().body()).into_response()
        }
        (Err(e), _) => e.into_response(),
    }
}

//! The data each page template expects: one struct per template under `templates/`, built from
//! domain data ([`Listing`], config, upload outcomes) with display strings computed here, so the
//! templates stay logic-free. HTML is produced only by these templates (always escaped).

use askama::Template;
use askama_web::WebTemplate;
use chrono::{DateTime, Utc};
use serde::Serialize;

use super::display::{self, Crumb, SortState};
use super::format;
use super::view::{EntryKind, FolderRef, Listing, SortKey};
use crate::config::Config;

/// Upload limits shown next to every upload form (and its `accept` attribute).
#[derive(Clone, Debug)]
pub struct Limits {
    /// `1.0 GiB`.
    pub max_size: String,
    /// Files per post.
    pub max_files: usize,
    /// `accept` attribute value; empty means any type.
    pub accept: String,
}

impl Limits {
    /// The limits of a configuration.
    pub fn from_config(config: &Config) -> Self {
        Self {
            max_size: format::human_size(config.max_file_size),
            max_files: config.max_files,
            accept: config.allowed_types.accept_attribute(),
        }
    }
}

/// A one-line message above the page content (e.g. "Folder “x” created").
#[derive(Clone, Debug)]
pub struct Notice {
    /// Success (green) or failure (red).
    pub success: bool,
    /// The text.
    pub text: String,
}

/// The result of one uploaded file, listed with the others whether it worked or not. Serialises
/// for the JSON action result as `{"name","status":"stored"|"failed",…}`.
#[derive(Clone, Debug, Serialize)]
pub struct FileOutcome {
    /// Sanitised file name.
    pub name: String,
    /// `stored` or `failed`.
    pub status: &'static str,
    /// Size in bytes (stored files).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
    /// SHA-256 hex (stored files).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    /// Node id (stored files).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub node: Option<String>,
    /// Why it failed (failed files).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Human size, for the page.
    #[serde(skip)]
    pub size_text: String,
    /// Download link, for the page.
    #[serde(skip)]
    pub href: Option<String>,
}

impl FileOutcome {
    /// A file stored and verified in `workspace` as `node`.
    pub fn stored(name: String, size: u64, sha256: String, workspace: &str, node: String) -> Self {
        Self {
            href: Some(display::download_href(workspace, &node)),
            size_text: format::human_size(size),
            name,
            status: "stored",
            size: Some(size),
            sha256: Some(sha256),
            node: Some(node),
            message: None,
        }
    }

    /// A file that was not stored, and why.
    pub fn failed(name: String, message: String) -> Self {
        Self {
            name,
            status: "failed",
            size: None,
            sha256: None,
            node: None,
            message: Some(message),
            size_text: String::new(),
            href: None,
        }
    }

    /// Was it stored?
    pub fn ok(&self) -> bool {
        self.status == "stored"
    }
}

/// A share link just created.
#[derive(Clone, Debug, Serialize)]
pub struct ShareView {
    /// Name of the shared file.
    pub name: String,
    /// The public link.
    pub url: String,
    /// When it stops working, human-readable; `None` = never.
    pub expires: Option<String>,
    /// Whether a password is needed to open it.
    pub password_protected: bool,
}

/// `GET /`: the exposed workspaces.
#[derive(Template, WebTemplate)]
#[template(path = "workspaces.html")]
pub struct WorkspacesPage {
    /// The frame around the page: who is signed in, the open-mode banner.
    pub chrome: Chrome,
    /// One link per workspace.
    pub workspaces: Vec<WorkspaceLink>,
}

/// A workspace on the home page.
#[derive(Clone, Debug)]
pub struct WorkspaceLink {
    /// Workspace id.
    pub id: String,
    /// Name.
    pub name: String,
    /// `/w/{id}/root`.
    pub href: String,
}

impl WorkspaceLink {
    /// A link to the workspace's root folder.
    pub fn new(id: String, name: String) -> Self {
        Self {
            href: display::folder_href(&id, "root"),
            id,
            name,
        }
    }
}

/// One row of the browse table.
#[derive(Clone, Debug)]
pub struct Row {
    /// Node id (the share form's `node`).
    pub id: String,
    /// Name, shown escaped.
    pub name: String,
    /// Folder rows link to their page; file rows to their download.
    pub is_folder: bool,
    /// Link target.
    pub href: String,
    /// Where the name links: a folder's page, or a file's page (details and preview).
    pub page_href: String,
    /// An image's thumbnail (`/thumb/…`); `None` shows the file icon.
    pub thumb: Option<String>,
    /// `1.5 MiB`, or `—`.
    pub size_text: String,
    /// `PDF`, `PNG image`, `Folder`…
    pub type_text: String,
    /// `3 hours ago`, or empty.
    pub modified_text: String,
    /// Full timestamp for the tooltip.
    pub modified_title: String,
    /// RFC 3339 for `<time datetime>`.
    pub modified_iso: String,
}

/// A sortable column header.
#[derive(Clone, Debug)]
pub struct SortHeader {
    /// Column label.
    pub label: &'static str,
    /// Query string that sorts by it (toggling when active).
    pub href: String,
    /// `aria-sort` value.
    pub aria: &'static str,
    /// `↑`, `↓` or empty.
    pub arrow: &'static str,
}

/// `GET /w/{workspace}/{folder}`: the browse page.
#[derive(Template, WebTemplate)]
#[template(path = "browse.html")]
pub struct BrowsePage {
    /// The frame around the page: who is signed in, the open-mode banner.
    pub chrome: Chrome,
    /// Workspace id.
    pub workspace_id: String,
    /// Workspace name.
    pub workspace_name: String,
    /// Folder shown.
    pub folder: FolderRef,
    /// `/w/{ws}/{folder}`: forms post to `{page_path}?/upload` etc.
    pub page_path: String,
    /// The workspace's search page.
    pub search_href: String,
    /// The workspace's trash page.
    pub trash_href: String,
    /// Root-to-here trail.
    pub crumbs: Vec<Crumb>,
    /// Name, Type, Modified headers (Size cannot be sorted upstream).
    pub name_header: SortHeader,
    /// Type column header.
    pub type_header: SortHeader,
    /// Modified column header.
    pub modified_header: SortHeader,
    /// This page's folders first, then its files (each group in listing order).
    pub rows: Vec<Row>,
    /// Query string of the next page, if any.
    pub next_href: Option<String>,
    /// Upload limits.
    pub limits: Limits,
    /// Results of the upload just made (empty otherwise).
    pub results: Vec<FileOutcome>,
    /// The share link just created, if any.
    pub share: Option<ShareView>,
    /// A message about the last action.
    pub notice: Option<Notice>,
}

impl BrowsePage {
    /// The page for `listing`, with `path` the `(id, name)` chain below the root (see
    /// [`display::breadcrumbs`]) and `now` the clock for relative dates.
    pub fn new(
        listing: &Listing,
        workspace_name: &str,
        path: &[(String, String)],
        sort: SortState,
        limits: Limits,
        now: DateTime<Utc>,
    ) -> Self {
        let ws = &listing.workspace;
        let header = |label, key| SortHeader {
            label,
            href: sort.href(&key),
            aria: sort.aria(&key),
            arrow: sort.arrow(&key),
        };
        Self {
            chrome: Chrome::default(),
            workspace_id: ws.clone(),
            workspace_name: workspace_name.to_owned(),
            folder: listing.folder.clone(),
            page_path: display::folder_href(ws, &listing.folder.id),
            search_href: display::folder_href(ws, "search"),
            trash_href: display::folder_href(ws, "trash"),
            crumbs: display::breadcrumbs(ws, workspace_name, path),
            name_header: header("Name", SortKey::Name),
            type_header: header("Type", SortKey::Type),
            modified_header: header("Modified", SortKey::Modified),
            rows: folders_first(listing.items.iter().map(|e| row(ws, e, now)).collect()),
            next_href: listing.next_cursor.as_deref().map(|c| sort.next_href(c)),
            limits,
            results: Vec::new(),
            share: None,
            notice: None,
        }
    }
}

/// The page's rows with its folders before its files, each group in listing order.
fn folders_first(mut rows: Vec<Row>) -> Vec<Row> {
    rows.sort_by_key(|r| !r.is_folder);
    rows
}

fn row(ws: &str, e: &super::view::Entry, now: DateTime<Utc>) -> Row {
    let is_folder = e.kind == EntryKind::Folder;
    Row {
        id: e.id.clone(),
        name: e.name.clone(),
        is_folder,
        href: if is_folder {
            display::folder_href(ws, &e.id)
        } else {
            display::download_href(ws, &e.id)
        },
        page_href: if is_folder {
            display::folder_href(ws, &e.id)
        } else {
            display::file_href(ws, &e.id)
        },
        thumb: (!is_folder && super::display::has_thumbnail(e.mime.as_deref()))
            .then(|| display::thumb_href(ws, &e.id)),
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
        modified_title: e.modified.map(format::full_date).unwrap_or_default(),
        modified_iso: e.modified.map(|m| m.to_rfc3339()).unwrap_or_default(),
    }
}

/// `report.pdf` → `PDF`; `photo.png` (image/png) → `PNG image`; no extension → the MIME subtype.
pub fn type_label(name: &str, mime: Option<&str>) -> String {
    let ext = name
        .rsplit_once('.')
        .map(|(_, ext)| ext)
        .filter(|ext| !ext.is_empty() && ext.len() <= 8 && name.len() > ext.len() + 1)
        .map(str::to_ascii_uppercase);
    let top = mime
        .and_then(|m| m.split_once('/'))
        .map_or("", |(top, _)| top);
    let base = ext.unwrap_or_else(|| if top == "text" { "Text" } else { "File" }.to_owned());
    match top {
        "image" | "video" | "audio" => format!("{base} {top}"),
        _ => base,
    }
}

/// `GET /upload`: the stand-alone upload page.
#[derive(Template, WebTemplate)]
#[template(path = "upload.html")]
pub struct UploadPage {
    /// The frame around the page: who is signed in, the open-mode banner.
    pub chrome: Chrome,
    /// Workspace picker options.
    pub workspaces: Vec<Choice>,
    /// Folder picker options (of the selected workspace).
    pub folders: Vec<Choice>,
    /// Upload limits.
    pub limits: Limits,
    /// Results of the upload just made (empty otherwise).
    pub results: Vec<FileOutcome>,
    /// A message about the last action.
    pub notice: Option<Notice>,
}

/// An `<option>` of a picker.
#[derive(Clone, Debug)]
pub struct Choice {
    /// Submitted value.
    pub value: String,
    /// Shown label.
    pub label: String,
    /// Pre-selected?
    pub selected: bool,
}

/// Any error, as a page (see `error::render_errors`).
#[derive(Template, WebTemplate)]
#[template(path = "error.html")]
pub struct ErrorPage {
    /// The frame around the page: who is signed in, the open-mode banner.
    pub chrome: Chrome,
    /// HTTP status code.
    pub status: u16,
    /// Short title (`Not found`).
    pub title: String,
    /// What happened, for people.
    pub message: String,
    /// Request id to quote to the operator.
    pub request_id: Option<String>,
}

/// The frame every page shares (`base.html`): who is signed in, what they may do here, and the
/// open-mode banner.
#[derive(Clone, Debug, Default)]
pub struct Chrome {
    /// The signed-in person's name (none for anonymous pages and open mode).
    pub user: Option<String>,
    /// Whether a person is signed in (shows the sign-out button).
    pub signed_in: bool,
    /// An admin of every workspace (shows the audit and links pages).
    pub admin: bool,
    /// `FASTGATE_AUTH=open`: every page says that anyone may act.
    pub open_mode: bool,
    /// May upload and create folders on the page's workspace.
    pub can_upload: bool,
    /// May create share links (and upload-request links) on the page's workspace.
    pub can_share: bool,
    /// May rename, move and delete on the page's workspace.
    pub can_edit: bool,
}

/// `GET /signin`.
#[derive(Template, WebTemplate)]
#[template(path = "signin.html")]
pub struct SigninPage {
    /// The frame.
    pub chrome: Chrome,
    /// Where to go after signing in (a local path).
    pub next: String,
    /// The name typed, kept after a failure.
    pub username: String,
    /// What went wrong, if anything.
    pub notice: Option<Notice>,
}

/// `GET /setup?token=…`: create the first admin.
#[derive(Template, WebTemplate)]
#[template(path = "setup.html")]
pub struct SetupPage {
    /// The frame.
    pub chrome: Chrome,
    /// The setup token from the start-up log.
    pub token: String,
    /// The name typed, kept after a failure.
    pub username: String,
    /// What went wrong, if anything.
    pub notice: Option<Notice>,
}

/// `GET /account`: one's API tokens.
#[derive(Template, WebTemplate)]
#[template(path = "account.html")]
pub struct AccountPage {
    /// The frame.
    pub chrome: Chrome,
    /// The username.
    pub username: String,
    /// Roles per workspace, as text (`editor on *`).
    pub grants: Vec<String>,
    /// Tokens, newest first.
    pub tokens: Vec<TokenRow>,
    /// A token just created: shown once.
    pub created: Option<String>,
    /// What happened, if anything.
    pub notice: Option<Notice>,
}

/// A token on the account page.
#[derive(Clone, Debug)]
pub struct TokenRow {
    /// Its id (for revoke).
    pub id: i64,
    /// Its name.
    pub name: String,
    /// `viewer`…
    pub role: String,
    /// Its workspace or `every workspace`.
    pub scope: String,
    /// Created, expires, last used — as text.
    pub created: String,
    /// Expiry as text, or `never`.
    pub expires: String,
    /// Last use as text, or `never`.
    pub last_used: String,
    /// Revoked?
    pub revoked: bool,
}

/// `GET /audit`: the audit log, filtered and paged.
#[derive(Template, WebTemplate)]
#[template(path = "audit.html")]
pub struct AuditLogPage {
    /// The frame.
    pub chrome: Chrome,
    /// The action filter (empty: all).
    pub action: String,
    /// Every action name, for the filter, and whether it is the one chosen.
    pub actions: Vec<(&'static str, bool)>,
    /// Rows, newest first.
    pub rows: Vec<AuditRow>,
    /// Link to the next page, if any.
    pub next_href: Option<String>,
}

/// One audit entry as the page shows it.
#[derive(Clone, Debug)]
pub struct AuditRow {
    /// `2026-12-01 22:58:14 UTC`.
    pub time: String,
    /// `user:alice`, `token:ci@alice`, `anonymous`.
    pub actor: String,
    /// `upload_stored`…
    pub action: &'static str,
    /// Workspace id.
    pub workspace: Option<String>,
    /// What was acted on.
    pub target: Option<String>,
    /// Bytes.
    pub size: Option<u64>,
    /// SHA-256.
    pub sha256: Option<String>,
    /// Client IP.
    pub ip: Option<String>,
}

impl From<crate::access::AuditItem> for AuditRow {
    fn from(item: crate::access::AuditItem) -> Self {
        let time = DateTime::<Utc>::from_timestamp_millis(item.time)
            .map(|t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string())
            .unwrap_or_default();
        Self {
            time,
            actor: item.actor,
            action: item.action.as_str(),
            workspace: item.workspace,
            target: item.target,
            size: item.size,
            sha256: item.sha256,
            ip: item.ip,
        }
    }
}

/// The per-file results list alone (same markup as inside the pages).
#[derive(Template, WebTemplate)]
#[template(path = "partials/upload_results.html")]
pub struct UploadResultsFragment<'a> {
    /// The outcomes, stored and failed together.
    pub results: &'a [FileOutcome],
}

/// The share-link result alone.
#[derive(Template, WebTemplate)]
#[template(path = "partials/share_result.html")]
pub struct ShareResultFragment<'a> {
    /// The link created.
    pub share: &'a ShareView,
}

#[cfg(test)]
mod tests {
    use super::type_label;

    #[test]
    fn type_labels_are_short_and_readable() {
        assert_eq!(type_label("report.pdf", Some("application/pdf")), "PDF");
        assert_eq!(type_label("photo.png", Some("image/png")), "PNG image");
        assert_eq!(type_label("README", Some("text/plain")), "Text");
        assert_eq!(type_label(".env", None), "File");
        assert_eq!(type_label("x", None), "File");
    }
}

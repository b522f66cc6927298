//! The pages of upload-request links, for editors: `GET /links` (the links one manages, a
//! create form, revoke buttons), `POST /links?/create|?/revoke` (form actions; a created link's
//! URL is shown once), `GET /links/{id}` (a link with its submissions: who, when, files, sizes,
//! SHA-256). A folder page's "Request files" form posts to `/links?/create` with its workspace
//! and folder.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, Query, RawQuery, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::api::{LinkRequest, create_link};
use crate::access::{Link, LinkDetails};
use crate::config::parse_size;
use crate::web::AppState;
use crate::web::auth::Caller;
use crate::web::display;
use crate::web::error::AppError;
use crate::web::format;
use crate::web::templates::{Choice, Chrome, Notice};

/// `GET /links`.
#[derive(Template, WebTemplate)]
#[template(path = "links.html")]
pub struct LinksPage {
    /// The frame.
    pub chrome: Chrome,
    /// The links, newest first.
    pub links: Vec<LinkRow>,
    /// Workspaces the caller may make links in (one pre-selected).
    pub workspaces: Vec<Choice>,
    /// The folder field's value (from `?folder=`).
    pub folder: String,
    /// A link just created: its URL, shown this once.
    pub created: Option<String>,
    /// What happened, if anything.
    pub notice: Option<Notice>,
}

/// A link as the pages show it.
#[derive(Clone, Debug)]
pub struct LinkRow {
    /// Id.
    pub id: i64,
    /// `/links/{id}`.
    pub href: String,
    /// Label.
    pub label: String,
    /// Workspace id.
    pub workspace: String,
    /// Folder id.
    pub folder: String,
    /// `/w/{ws}/{folder}`.
    pub folder_href: String,
    /// `active`, `revoked`, `expired`, `used up`.
    pub state: &'static str,
    /// Whether it can still be revoked.
    pub active: bool,
    /// `2 of 5`, or `2`.
    pub uses: String,
    /// Expiry as text.
    pub expires: String,
    /// The creator.
    pub created_by: String,
    /// Its limits, as short phrases.
    pub limits: Vec<String>,
}

impl LinkRow {
    /// The row of `link` at `now_ms`.
    pub fn new(link: &Link, now_ms: i64) -> Self {
        let state = match link.refusal(now_ms) {
            None => "active",
            Some(crate::access::Error::LinkRevoked) => "revoked",
            Some(crate::access::Error::LinkExpired) => "expired",
            Some(_) => "used up",
        };
        let mut limits = Vec::new();
        if link.has_password {
            limits.push("password".to_owned());
        }
        if let Some(n) = link.max_files {
            limits.push(format!("{n} files per submission"));
        }
        if let Some(n) = link.max_bytes {
            limits.push(format!("{} per submission", format::human_size(n)));
        }
        if let Some(n) = link.max_file_size {
            limits.push(format!("{} per file", format::human_size(n)));
        }
        if let Some(t) = &link.allowed_types {
            limits.push(format!("types {t}"));
        }
        if link.subfolder_per_submission {
            limits.push("a subfolder per submission".to_owned());
        }
        if link.notify_url.is_some() {
            limits.push("webhook".to_owned());
        }
        Self {
            id: link.id,
            href: format!("/links/{}", link.id),
            label: link.label.clone(),
            workspace: link.workspace.clone(),
            folder: link.folder.clone(),
            folder_href: display::folder_href(&link.workspace, &link.folder),
            state,
            active: state == "active" || state == "used up",
            uses: match link.max_uses {
                Some(max) => format!("{} of {max}", link.uses),
                None => link.uses.to_string(),
            },
            expires: date(link.expires_at),
            created_by: link.created_by.clone(),
            limits,
        }
    }
}

/// `GET /links/{id}`.
#[derive(Template, WebTemplate)]
#[template(path = "link.html")]
pub struct LinkPage {
    /// The frame.
    pub chrome: Chrome,
    /// The link.
    pub link: LinkRow,
    /// Its submissions, newest first.
    pub submissions: Vec<SubmissionRow>,
}

/// A submission on the link's page.
#[derive(Clone, Debug)]
pub struct SubmissionRow {
    /// Id.
    pub id: i64,
    /// The uploader's name, or `anonymous`.
    pub uploader: String,
    /// From where.
    pub ip: String,
    /// When.
    pub when: String,
    /// Its files.
    pub files: Vec<FileRow>,
}

/// A stored file of a submission.
#[derive(Clone, Debug)]
pub struct FileRow {
    /// Name.
    pub name: String,
    /// `1.5 MiB`.
    pub size: String,
    /// SHA-256 hex.
    pub sha256: String,
    /// Its download link (for the editor).
    pub href: String,
}

fn date(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(format::full_date)
        .unwrap_or_default()
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// `?workspace=&folder=` on `/links` (from a folder page).
#[derive(Debug, Default, Deserialize)]
pub struct ListQuery {
    #[serde(default)]
    workspace: Option<String>,
    #[serde(default)]
    folder: Option<String>,
}

/// `GET /links`.
pub async fn list_page(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<ListQuery>,
) -> Result<LinksPage, AppError> {
    links_page(&state, &caller, q, None, None).await
}

async fn links_page(
    state: &AppState,
    caller: &Caller,
    q: ListQuery,
    created: Option<String>,
    notice: Option<Notice>,
) -> Result<LinksPage, AppError> {
    let now = now_ms();
    let links = state.access.links(caller.principal()?).await?;
    let all = state.fastio.list_workspaces().await?;
    let chosen = q.workspace.unwrap_or_default();
    let mut workspaces: Vec<Choice> = all
        .into_iter()
        .filter(|w| state.exposes(&w.id) && caller.allow(&w.id).is_ok())
        .map(|w| Choice {
            selected: w.id == chosen,
            label: if w.name.is_empty() {
                w.id.clone()
            } else {
                w.name
            },
            value: w.id,
        })
        .collect();
    if !workspaces.iter().any(|w| w.selected)
        && let Some(first) = workspaces.first_mut()
    {
        first.selected = true;
    }
    Ok(LinksPage {
        chrome: Chrome::of(caller, None),
        links: links.iter().map(|l| LinkRow::new(l, now)).collect(),
        workspaces,
        folder: q.folder.unwrap_or_else(|| "root".into()),
        created,
        notice,
    })
}

/// `GET /links/{id}`: 404 unless the caller manages it.
pub async fn details_page(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> Result<LinkPage, AppError> {
    let LinkDetails { link, submissions } = state.access.link(caller.principal()?, id).await?;
    let submissions = submissions
        .into_iter()
        .rev()
        .map(|s| SubmissionRow {
            id: s.id,
            uploader: s.uploader.unwrap_or_else(|| "anonymous".into()),
            ip: s.ip.unwrap_or_default(),
            when: date(s.started_at),
            files: s
                .files
                .into_iter()
                .map(|f| FileRow {
                    href: display::download_href(&link.workspace, &f.node),
                    size: format::human_size(f.size),
                    name: f.name,
                    sha256: f.sha256,
                })
                .collect(),
        })
        .collect();
    Ok(LinkPage {
        chrome: Chrome::of(&caller, Some(&link.workspace)),
        link: LinkRow::new(&link, now_ms()),
        submissions,
    })
}

/// The create and revoke forms (all text, as browsers send them).
#[derive(Debug, Default, Deserialize)]
pub struct LinkForm {
    #[serde(default)]
    workspace: String,
    #[serde(default)]
    folder: String,
    #[serde(default)]
    label: String,
    #[serde(default)]
    expires_in: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    max_files: String,
    #[serde(default)]
    max_bytes: String,
    #[serde(default)]
    max_file_size: String,
    #[serde(default)]
    allowed_types: String,
    #[serde(default)]
    max_uses: String,
    #[serde(default)]
    subfolder_per_submission: Option<String>,
    #[serde(default)]
    notify_url: String,
    #[serde(default)]
    id: Option<i64>,
}

impl LinkForm {
    /// The form as a [`LinkRequest`]: empty fields are absent; sizes take units (`25MiB`).
    fn request(self) -> Result<LinkRequest, AppError> {
        let count = |v: &str, what: &str| -> Result<Option<u64>, AppError> {
            match v.trim() {
                "" => Ok(None),
                n => n
                    .parse()
                    .map(Some)
                    .map_err(|_| AppError::BadRequest(format!("{what} must be a whole number"))),
            }
        };
        let size = |v: &str, what: &str| -> Result<Option<u64>, AppError> {
            match v.trim() {
                "" => Ok(None),
                n => parse_size(n)
                    .map(Some)
                    .map_err(|e| AppError::BadRequest(format!("{what}: {e}"))),
            }
        };
        let text = |v: String| Some(v.trim().to_owned()).filter(|v| !v.is_empty());
        Ok(LinkRequest {
            expires_in: count(&self.expires_in, "expires_in")?.unwrap_or(7 * 86_400),
            max_files: count(&self.max_files, "max_files")?,
            max_bytes: size(&self.max_bytes, "max_bytes")?,
            max_file_size: size(&self.max_file_size, "max_file_size")?,
            max_uses: count(&self.max_uses, "max_uses")?,
            subfolder_per_submission: self.subfolder_per_submission.is_some(),
            workspace: self.workspace.trim().to_owned(),
            folder: text(self.folder),
            label: self.label,
            password: Some(self.password).filter(|p| !p.is_empty()),
            allowed_types: text(self.allowed_types),
            notify_url: text(self.notify_url),
        })
    }
}

/// `POST /links?/create|?/revoke`.
pub async fn act(
    State(state): State<AppState>,
    caller: Caller,
    RawQuery(query): RawQuery,
    axum::Form(form): axum::Form<LinkForm>,
) -> Result<Response, AppError> {
    match query.as_deref() {
        Some("/create") => {
            let back = ListQuery {
                workspace: Some(form.workspace.clone()),
                folder: Some(form.folder.clone()),
            };
            let created = match form.request() {
                Ok(req) => create_link(&state, &caller, req).await,
                Err(e) => Err(e),
            };
            match created {
                Ok((_, url)) => {
                    let page = links_page(&state, &caller, back, Some(url), None).await?;
                    let mut response = page.into_response();
                    // The link's URL is on this page only: never cache it.
                    response
                        .headers_mut()
                        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
                    Ok(response)
                }
                Err(e) if e.status().is_client_error() && e.status() != StatusCode::NOT_FOUND => {
                    let notice = Notice {
                        success: false,
                        text: e.public_message(),
                    };
                    let page = links_page(&state, &caller, back, None, Some(notice)).await?;
                    Ok((e.status(), page).into_response())
                }
                Err(e) => Err(e),
            }
        }
        Some("/revoke") => {
            let id = form
                .id
                .ok_or_else(|| AppError::BadRequest("which link? (id)".into()))?;
            state
                .access
                .revoke_link(&caller.ctx(), caller.principal()?, id)
                .await?;
            Ok(Redirect::to("/links").into_response())
        }
        _ => Err(AppError::BadRequest(
            "unknown action: post to ?/create or ?/revoke".into(),
        )),
    }
}

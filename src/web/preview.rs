//! `GET /preview/{workspace}/{node}` (DESIGN §3c): a file's bytes for looking at in the browser,
//! never as a document of fastgate's origin. Images (PNG, JPEG, GIF, WebP), PDF, audio, video
//! and plain text are served `inline` with their own type; anything that is text but could be
//! scriptable or styled when rendered (HTML, SVG, XML, JavaScript, CSS, Markdown, JSON, code…)
//! is served inline as `text/plain; charset=utf-8`; everything else is an attachment of type
//! `application/octet-stream`. Every answer carries `Content-Security-Policy: sandbox;
//! default-src 'none'` (a unique origin, no script, nothing loaded) and `nosniff`, so even a
//! browser that ignored the type could not run what it got. `Range` is passed through, so
//! `<audio>`/`<video>` can seek.

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;

use super::AppState;
use super::display;
use super::download::content_disposition;
use super::files;
use crate::access::Capability;
use crate::fastio::NodeType;
use crate::web::auth::Need;
use crate::web::error::AppError;
use crate::web::routes::Routes;

/// The policy of every preview answer: a unique origin with no script and nothing loaded,
/// framed only by fastgate's own pages (the file page shows a PDF in an `<iframe>`).
pub const PREVIEW_CSP: &str =
    "sandbox; default-src 'none'; img-src 'self'; media-src 'self'; frame-ancestors 'self'";

/// This module's routes.
pub fn routes(r: Routes) -> Routes {
    r.get(
        "/preview/{workspace}/{node}",
        Need::On(Capability::View),
        preview,
    )
    .get(
        "/thumb/{workspace}/{node}",
        Need::On(Capability::View),
        thumb,
    )
}

/// `GET /thumb/{workspace}/{node}`: Fast.io's thumbnail of an image (at most 256 px on its
/// longest side); 404 for anything else or while the thumbnail is not ready (the page then shows
/// its placeholder icon).
async fn thumb(
    State(state): State<AppState>,
    Path((workspace, node)): Path<(String, String)>,
) -> Result<Response, AppError> {
    let meta = files::lookup(&state, &workspace, &node).await?;
    let mime = meta.mimetype.as_deref().unwrap_or("").to_ascii_lowercase();
    if meta.node_type != NodeType::File || !display::has_thumbnail(Some(&mime)) {
        return Err(AppError::NotFound("no thumbnail for this file".into()));
    }
    let unavailable = |e: crate::fastio::Error| {
        if e.is_preview_unavailable() {
            AppError::NotFound("the thumbnail is not ready".into())
        } else {
            AppError::from(e)
        }
    };
    let url = state
        .fastio
        .preview_url(&workspace, &node, crate::fastio::PreviewType::Thumbnail)
        .await
        .map_err(unavailable)?;
    let file = state
        .fastio
        .fetch_token_url(&url, None)
        .await
        .map_err(unavailable)?;
    let content_type = file
        .content_type
        .filter(|t| t == "image/png" || t == "image/jpeg")
        .unwrap_or_else(|| "image/jpeg".to_owned());
    let mut response = Response::builder()
        .header(header::CONTENT_TYPE, content_type)
        .header(header::CONTENT_SECURITY_POLICY, PREVIEW_CSP)
        .header(header::X_CONTENT_TYPE_OPTIONS, "nosniff")
        .header(header::CACHE_CONTROL, "private, max-age=300");
    if let Some(len) = file.content_length {
        response = response.header(header::CONTENT_LENGTH, len);
    }
    response
        .body(Body::from_stream(file.body))
        .map_err(|e| AppError::Internal(format!("thumbnail response: {e}")))
}

/// How a file is previewed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Treatment {
    /// Rendered by the browser with this (safe) type.
    Inline(String),
    /// Shown as plain text, whatever it is.
    Text,
    /// Not previewable: downloaded.
    Attachment,
}

/// Types rendered as they are: none of them can run script in a page.
const SAFE: [&str; 5] = [
    "image/png",
    "image/jpeg",
    "image/gif",
    "image/webp",
    "application/pdf",
];

/// Extensions shown as text (code, markup, data).
const TEXT_EXTENSIONS: [&str; 28] = [
    "txt", "md", "markdown", "csv", "tsv", "log", "json", "yaml", "yml", "toml", "ini", "xml",
    "html", "htm", "xhtml", "svg", "js", "mjs", "ts", "css", "rs", "py", "go", "c", "h", "sh",
    "java", "sql",
];

/// The treatment of a file named `name` of type `mime`.
pub fn treatment(name: &str, mime: Option<&str>) -> Treatment {
    let mime = mime
        .unwrap_or("")
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    let ext = name
        .rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())
        .unwrap_or_default();
    if TEXT_EXTENSIONS.contains(&ext.as_str()) {
        return Treatment::Text;
    }
    if SAFE.contains(&mime.as_str()) {
        return Treatment::Inline(mime);
    }
    if (mime.starts_with("audio/") || mime.starts_with("video/"))
        && mime
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"/.+-".contains(&b))
    {
        return Treatment::Inline(mime);
    }
    if mime.starts_with("text/")
        || mime.ends_with("+xml")
        || mime.ends_with("/xml")
        || mime.ends_with("/json")
        || mime.ends_with("javascript")
    {
        return Treatment::Text;
    }
    Treatment::Attachment
}

/// Streams the file for previewing.
async fn preview(
    State(state): State<AppState>,
    Path((workspace, node)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    let meta = files::lookup(&state, &workspace, &node).await?;
    if meta.node_type == NodeType::Folder {
        return Err(AppError::NotFound(format!(
            "“{}” is a folder; folders have no preview",
            meta.name
        )));
    }
    let token = state
        .fastio
        .request_read(&workspace, &node)
        .await
        .map_err(AppError::from)?;
    let range = headers
        .get(header::RANGE)
        .and_then(|v| v.to_str().ok())
        .filter(|r| r.len() <= 256);
    let file = state
        .fastio
        .read(&workspace, &node, &token, range)
        .await
        .map_err(|e| match AppError::from(e) {
            AppError::RangeNotSatisfiable { .. } => {
                AppError::RangeNotSatisfiable { size: meta.size }
            }
            other => other,
        })?;
    let how = treatment(&meta.name, meta.mimetype.as_deref());
    let disposition = content_disposition(&meta.name);
    let (content_type, disposition) = match how {
        Treatment::Inline(mime) => (mime, inline(&disposition)),
        Treatment::Text => ("text/plain; charset=utf-8".to_owned(), inline(&disposition)),
        Treatment::Attachment => ("application/octet-stream".to_owned(), disposition),
    };
    let status = StatusCode::from_u16(file.status).unwrap_or(StatusCode::OK);
    let mut response = Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, content_type)
        .header(header::CONTENT_DISPOSITION, disposition)
        .header(header::CONTENT_SECURITY_POLICY, PREVIEW_CSP)
        .header(header::X_CONTENT_TYPE_OPTIONS, "nosniff")
        .header(header::X_FRAME_OPTIONS, "SAMEORIGIN")
        .header(header::ACCEPT_RANGES, "bytes")
        .header(header::CACHE_CONTROL, "private, no-cache");
    if let Some(len) = file.content_length {
        response = response.header(header::CONTENT_LENGTH, len);
    }
    if let Some(range) = file.content_range {
        response = response.header(header::CONTENT_RANGE, range);
    }
    response
        .body(Body::from_stream(file.body))
        .map_err(|e| AppError::Internal(format!("preview response: {e}")))
}

/// The same disposition with `inline` instead of `attachment`.
fn inline(attachment: &HeaderValue) -> HeaderValue {
    attachment
        .to_str()
        .ok()
        .and_then(|s| s.strip_prefix("attachment"))
        .and_then(|rest| HeaderValue::from_str(&format!("inline{rest}")).ok())
        .unwrap_or_else(|| HeaderValue::from_static("inline"))
}

#[cfg(test)]
mod tests {
    use super::{Treatment, treatment};

    #[test]
    fn scriptable_types_are_text_and_unknown_ones_downloads() {
        assert_eq!(treatment("a.html", Some("text/html")), Treatment::Text);
        assert_eq!(treatment("a.bin", Some("text/html")), Treatment::Text);
        assert_eq!(treatment("a.svg", Some("image/svg+xml")), Treatment::Text);
        assert_eq!(treatment("x", Some("image/svg+xml")), Treatment::Text);
        assert_eq!(treatment("x.xhtml", None), Treatment::Text);
        assert_eq!(
            treatment("p.png", Some("image/png")),
            Treatment::Inline("image/png".into())
        );
        assert_eq!(
            treatment("d.pdf", Some("application/pdf")),
            Treatment::Inline("application/pdf".into())
        );
        assert_eq!(
            treatment("z.zip", Some("application/zip")),
            Treatment::Attachment
        );
        assert_eq!(treatment("z", None), Treatment::Attachment);
    }
}

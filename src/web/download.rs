//! `GET /download/{workspace}/{node}`: a file streamed through the gateway from Fast.io's `read`
//! endpoint (DESIGN §3). The key stays on the server: the gateway asks for a download token,
//! reads with it, and relays the bytes as they come (no buffering), with `Content-Length`,
//! `Content-Type`, an RFC 6266 `Content-Disposition` (ASCII fallback plus RFC 5987 `filename*`)
//! and single `Range` requests passed through (206 + `Content-Range`, 416).

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

use super::AppState;
use super::display;
use super::listing;
use crate::access::Capability;
use crate::fastio::{self, NodeType};
use crate::web::auth::Need;
use crate::web::error::AppError;
use crate::web::routes::Routes;

/// RFC 5987 `attr-char`s stay as they are; everything else is percent-encoded.
const ATTR_CHAR: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'!')
    .remove(b'#')
    .remove(b'$')
    .remove(b'&')
    .remove(b'+')
    .remove(b'-')
    .remove(b'.')
    .remove(b'^')
    .remove(b'_')
    .remove(b'`')
    .remove(b'|')
    .remove(b'~');

/// This module's routes.
pub fn routes(r: Routes) -> Routes {
    r.get(
        "/download/{workspace}/{node}",
        Need::On(Capability::View),
        download,
    )
}

/// Streams one file; a `Range` header is passed to Fast.io and its partial answer relayed.
async fn download(
    State(state): State<AppState>,
    Path((workspace, node)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    listing::ensure_exposed(&state, &workspace)?;
    let (meta, token) = tokio::join!(
        state.fastio.node(&workspace, &node),
        state.fastio.request_read(&workspace, &node)
    );
    let meta = meta.map_err(not_found_file)?;
    if meta.node_type == NodeType::Folder {
        return Err(AppError::BadRequest(format!(
            "“{}” is a folder; folders cannot be downloaded (open it at {})",
            meta.name,
            display::folder_href(&workspace, &meta.id)
        )));
    }
    let token = token.map_err(not_found_file)?;
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

    let status = StatusCode::from_u16(file.status).unwrap_or(StatusCode::OK);
    let content_type = file
        .content_type
        .or(meta.mimetype)
        .unwrap_or_else(|| "application/octet-stream".to_owned());
    let mut response = Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, content_type)
        .header(header::CONTENT_DISPOSITION, content_disposition(&meta.name))
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
        .map_err(|e| AppError::Internal(format!("download response: {e}")))
}

fn not_found_file(e: fastio::Error) -> AppError {
    match e {
        fastio::Error::NotFound { .. } => AppError::NotFound("no such file".into()),
        other => other.into(),
    }
}

/// `attachment; filename="ascii fallback"; filename*=UTF-8''percent-encoded` (RFC 6266 §4.3):
/// old clients get a readable ASCII name, every current one the exact UTF-8 name.
pub fn content_disposition(name: &str) -> HeaderValue {
    let fallback: String = name
        .chars()
        .map(|c| match c {
            ' '..='~' if c != '"' && c != '\\' => c,
            _ => '_',
        })
        .collect();
    let encoded = utf8_percent_encode(name, ATTR_CHAR);
    HeaderValue::from_str(&format!(
        "attachment; filename=\"{fallback}\"; filename*=UTF-8''{encoded}"
    ))
    .unwrap_or_else(|_| HeaderValue::from_static("attachment"))
}

#[cfg(test)]
mod tests {
    use super::content_disposition;

    #[test]
    fn content_disposition_has_an_ascii_fallback_and_the_exact_utf8_name() {
        assert_eq!(
            content_disposition("Grüße \"x\".pdf"),
            "attachment; filename=\"Gr__e _x_.pdf\"; filename*=UTF-8''Gr%C3%BC%C3%9Fe%20%22x%22.pdf"
        );
        assert_eq!(
            content_disposition("a\r\nb.txt"),
            "attachment; filename=\"a__b.txt\"; filename*=UTF-8''a%0D%0Ab.txt"
        );
    }
}

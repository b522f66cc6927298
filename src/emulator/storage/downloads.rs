//! Downloads (§6.7): `requestread/` issues a node-bound token (TTL configurable, ~2 h
//! upstream); `read/` streams the bytes to a holder of that token **or** of the Bearer key, with
//! `Content-Length`, `Content-Type`, `Content-Disposition` and single-range `Range` support.
//! With `Faults::redirect_reads`, `read/` answers 302 to the same read on a second origin with a
//! fresh token, so tests prove that clients follow without forwarding `Authorization` (§1
//! "Redirects", §11 "Transport faults").

use std::collections::HashMap;
use std::io::SeekFrom;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::header::{
    ACCEPT_RANGES, CONTENT_DISPOSITION, CONTENT_LENGTH, CONTENT_RANGE, CONTENT_TYPE, RANGE,
};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;
use rusqlite::OptionalExtension;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncSeekExt};
use tokio_util::io::ReaderStream;

use super::nodes::{self, NodeRow};
use super::workspaces;
use crate::emulator::state::EmulatorState;
use crate::emulator::transport::auth::Caller;
use crate::emulator::transport::envelope::Envelope;
use crate::emulator::transport::error::ApiError;
use crate::emulator::transport::ids;

/// `GET /workspace/{ws}/storage/{node}/requestread/` (§6.7 step 1): `{"token":…}`.
pub async fn request_read(
    State(state): State<Arc<EmulatorState>>,
    _: Caller,
    Path((ws, node)): Path<(String, String)>,
) -> Result<Envelope, ApiError> {
    let ws = workspaces::resolve(&state, &ws).await?;
    let ttl = state.config.download_token_ttl.as_secs();
    let token = issue_token(&state, ws, node, ttl).await?;
    Ok(Envelope(
        json!({"token": token, "expires_in": state.config.download_token_ttl.as_secs()}),
    ))
}

/// A read token for a live file node, valid for `ttl_secs` (downloads, previews, transforms).
pub async fn issue_token(
    state: &EmulatorState,
    ws: String,
    node: String,
    ttl_secs: u64,
) -> Result<String, ApiError> {
    let token = ids::token();
    let expires = ids::now_epoch() + ttl_secs as i64;
    let t = token.clone();
    state
        .store
        .call(move |c| {
            file_node(c, &ws, &node)?;
            c.execute(
                "INSERT INTO tokens(token, workspace_id, node_id, expires) VALUES (?1,?2,?3,?4)",
                (&t, &ws, &node, expires),
            )?;
            Ok(())
        })
        .await?;
    Ok(token)
}

/// Fails with 401/10011 unless `token` is a live read token for `node` in `ws`.
pub async fn check_token(
    state: &EmulatorState,
    token: String,
    ws: String,
    node: String,
) -> Result<(), ApiError> {
    let ok = state
        .store
        .call(move |c| {
            Ok(c.query_row(
                "SELECT 1 FROM tokens WHERE token = ?1 AND node_id = ?2 AND \
                 (workspace_id = ?3) AND expires > ?4",
                (&token, &node, &ws, ids::now_epoch()),
                |_| Ok(()),
            )
            .optional()?
            .is_some())
        })
        .await?;
    if ok {
        Ok(())
    } else {
        Err(ApiError::Unauthenticated)
    }
}

/// A live (not trashed) file node, or 404/1609.
pub fn file_node(c: &rusqlite::Connection, ws: &str, id: &str) -> Result<NodeRow, ApiError> {
    match nodes::get(c, ws, id)? {
        Some(n) if n.kind == "file" && !n.deleted => Ok(n),
        _ => Err(ApiError::not_found(format!("file {id} not found"))),
    }
}

/// `GET /workspace/{ws}/storage/{node}/read/?token=…[&version_id=…]` (§6.7 step 2).
pub async fn read(
    State(state): State<Arc<EmulatorState>>,
    Path((ws, node)): Path<(String, String)>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let cdn = q.get("cdn").is_some_and(|c| c == "1");
    if cdn {
        state
            .stats
            .saw_cdn_read(headers.contains_key(axum::http::header::AUTHORIZATION));
    }
    let ws = if state.api_key.accepts(&headers) && !cdn {
        workspaces::resolve(&state, &ws).await?
    } else {
        let token = q.get("token").cloned().ok_or(ApiError::Unauthenticated)?;
        check_token(&state, token, ws.clone(), node.clone()).await?;
        ws
    };
    if state.faults.get().redirect_reads && !cdn {
        return redirect(&state, ws, node, q.get("version_id").cloned()).await;
    }
    let version = q.get("version_id").filter(|v| !v.is_empty()).cloned();
    let n = state
        .store
        .call(move |c| {
            let mut n = file_node(c, &ws, &node)?;
            if let Some(v) = version.filter(|v| *v != n.version) {
                let (blob, size): (Option<String>, i64) = c
                    .query_row(
                        "SELECT blob, size FROM versions WHERE node_id = ?1 AND version = ?2",
                        (&n.id, &v),
                        |r| Ok((r.get(0)?, r.get(1)?)),
                    )
                    .optional()?
                    .ok_or_else(|| ApiError::not_found("version not found"))?;
                n.blob = blob;
                n.size = size as u64;
                n.version = v;
            }
            Ok(n)
        })
        .await?;
    serve_node(&state, &n, &headers, false).await
}

/// Answers 302 to the same read on the second origin, with a fresh token (never the key).
async fn redirect(
    state: &EmulatorState,
    ws: String,
    node: String,
    version: Option<String>,
) -> Result<Response, ApiError> {
    let token = issue_token(state, ws.clone(), node.clone(), 300).await?;
    let mut location = format!(
        "{}/current/workspace/{ws}/storage/{node}/read/?cdn=1&token={token}",
        state.cdn_base
    );
    if let Some(v) = version.filter(|v| !v.is_empty()) {
        location.push_str(&format!("&version_id={v}"));
    }
    Response::builder()
        .status(StatusCode::FOUND)
        .header(axum::http::header::LOCATION, location)
        .body(Body::empty())
        .map_err(|e| ApiError::Internal(e.to_string()))
}

/// Streams a file node's blob, honouring one `Range`; `attachment` sets Content-Disposition.
pub async fn serve_node(
    state: &EmulatorState,
    n: &NodeRow,
    headers: &HeaderMap,
    attachment: bool,
) -> Result<Response, ApiError> {
    let blob = n
        .blob
        .as_deref()
        .ok_or_else(|| ApiError::not_found("file has no content"))?;
    let mut file = tokio::fs::File::open(state.blobs.blob_path(blob)).await?;
    let size = n.size;
    let range = headers
        .get(RANGE)
        .and_then(|v| v.to_str().ok())
        .map(|r| parse_range(r, size));
    let mut builder = Response::builder().header(ACCEPT_RANGES, "bytes").header(
        CONTENT_TYPE,
        n.mimetype.as_deref().unwrap_or("application/octet-stream"),
    );
    let kind = if attachment { "attachment" } else { "inline" };
    let encoded: String =
        percent_encoding::utf8_percent_encode(&n.name, percent_encoding::NON_ALPHANUMERIC)
            .to_string();
    let ascii: String = n
        .name
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() && c != '"' && c != '\\' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if let Ok(v) = HeaderValue::from_str(&format!(
        "{kind}; filename=\"{ascii}\"; filename*=UTF-8''{encoded}"
    )) {
        builder = builder.header(CONTENT_DISPOSITION, v);
    }
    let (status, start, len) = match range {
        None | Some(RangeSpec::Ignore) => (StatusCode::OK, 0, size),
        Some(RangeSpec::Unsatisfiable) => {
            return builder
                .status(StatusCode::RANGE_NOT_SATISFIABLE)
                .header(CONTENT_RANGE, format!("bytes */{size}"))
                .body(Body::empty())
                .map_err(|e| ApiError::Internal(e.to_string()));
        }
        Some(RangeSpec::Bytes(a, b)) => {
            builder = builder.header(CONTENT_RANGE, format!("bytes {a}-{b}/{size}"));
            (StatusCode::PARTIAL_CONTENT, a, b - a + 1)
        }
    };
    if start > 0 {
        file.seek(SeekFrom::Start(start)).await?;
    }
    let body = Body::from_stream(ReaderStream::with_capacity(file.take(len), 256 * 1024));
    builder
        .status(status)
        .header(CONTENT_LENGTH, len)
        .body(body)
        .map_err(|e| ApiError::Internal(e.to_string()))
}

enum RangeSpec {
    Bytes(u64, u64),
    Unsatisfiable,
    Ignore,
}

/// Parses a single `bytes=` range; anything else (several ranges, other units) is ignored.
fn parse_range(raw: &str, size: u64) -> RangeSpec {
    let Some(spec) = raw.trim().strip_prefix("bytes=") else {
        return RangeSpec::Ignore;
    };
    if spec.contains(',') {
        return RangeSpec::Ignore;
    }
    let Some((a, b)) = spec.split_once('-') else {
        return RangeSpec::Ignore;
    };
    let (a, b) = (a.trim(), b.trim());
    let parsed = match (a.is_empty(), b.is_empty()) {
        (true, false) => b.parse::<u64>().ok().map(|n| {
            let n = n.min(size);
            (size - n, size.saturating_sub(1), n == 0)
        }),
        (false, _) => a.parse::<u64>().ok().and_then(|start| {
            let end = if b.is_empty() {
                Some(size.saturating_sub(1))
            } else {
                b.parse::<u64>().ok().map(|e| e.min(size.saturating_sub(1)))
            };
            end.map(|end| (start, end, start >= size || end < start))
        }),
        (true, true) => None,
    };
    match parsed {
        None => RangeSpec::Ignore,
        Some((_, _, true)) => RangeSpec::Unsatisfiable,
        Some((a, b, false)) => RangeSpec::Bytes(a, b),
    }
}

#[cfg(test)]
mod tests {
    use super::{RangeSpec, parse_range};

    fn bytes(raw: &str, size: u64) -> Option<(u64, u64)> {
        match parse_range(raw, size) {
            RangeSpec::Bytes(a, b) => Some((a, b)),
            _ => None,
        }
    }

    #[test]
    fn ranges_follow_rfc_9110_for_one_range() {
        assert_eq!(bytes("bytes=0-9", 100), Some((0, 9)));
        assert_eq!(bytes("bytes=90-", 100), Some((90, 99)));
        assert_eq!(bytes("bytes=-10", 100), Some((90, 99)));
        assert_eq!(bytes("bytes=95-500", 100), Some((95, 99)));
        assert!(matches!(
            parse_range("bytes=100-", 100),
            RangeSpec::Unsatisfiable
        ));
        assert!(matches!(
            parse_range("bytes=0-1,5-6", 100),
            RangeSpec::Ignore
        ));
        assert!(matches!(parse_range("items=0-1", 100), RangeSpec::Ignore));
    }
}

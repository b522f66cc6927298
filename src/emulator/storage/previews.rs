//! Previews (§6.10, §11 "Previews and transforms"): the state of each preview type per node,
//! their generation after a file is stored, `preview/{type}/preauthorize/` and the token read.
//!
//! States live in the node row as a JSON object (`{"thumbnail":"ready",…}`). A stored PNG,
//! JPEG, GIF or WebP gets `thumbnail` and `image` (`not generated`); a PDF gets `pdf` (the
//! emulator renders no PDF thumbnail: `not possible`); everything else shows `not possible`, and
//! rows older than previews show `unknown`. After [`EmulatorConfig::preview_delay`] a background
//! task moves them to `in progress`, makes the thumbnail off the request path (one image at a
//! time, bounded by `imaging.rs`) and ends in `ready`, or `error` when the image cannot be
//! decoded within the limits (a decompression bomb among them). `image` and `pdf` serve the
//! original bytes; `thumbnail` serves the generated image.
//!
//! [`EmulatorConfig::preview_delay`]: crate::emulator::EmulatorConfig

use std::sync::Arc;
use std::time::Instant;

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::Response;
use rusqlite::{Connection, OptionalExtension};
use serde_json::{Map, Value, json};

use super::nodes::{self, ERROR, IN_PROGRESS, NOT_GENERATED, READY, preview_states, state_of};
use super::{downloads, imaging, workspaces};
use crate::emulator::state::EmulatorState;
use crate::emulator::transport::auth::Caller;
use crate::emulator::transport::envelope::Envelope;
use crate::emulator::transport::error::ApiError;
use crate::emulator::transport::ids;
use crate::emulator::transport::stats::PreviewRun;

/// The preview types the CLI accepts in a path; anything else is 400/1605.
pub const TYPES: [&str; 8] = [
    "bin",
    "thumbnail",
    "image",
    "hlsstream",
    "pdf",
    "spreadsheet",
    "audio",
    "mp4",
];

/// The preview states a freshly stored file of type `mime` starts with, as stored JSON.
pub fn initial(mime: &str) -> String {
    let mut m = Map::new();
    if imaging::is_image_mime(mime) {
        m.insert("thumbnail".into(), NOT_GENERATED.into());
        m.insert("image".into(), NOT_GENERATED.into());
    } else if mime == "application/pdf" {
        m.insert("pdf".into(), NOT_GENERATED.into());
    }
    Value::Object(m).to_string()
}

fn write_states(c: &Connection, id: &str, m: &Map<String, Value>) -> Result<(), ApiError> {
    c.execute(
        "UPDATE nodes SET previews = ?2 WHERE id = ?1",
        (id, Value::Object(m.clone()).to_string()),
    )?;
    Ok(())
}

/// Generates the previews of `node` in the background (after `stored`, a copy, or a version
/// restore). Does nothing when none is `not generated`. Every caller is a "new content stored"
/// moment, so this is also where `storage:{node}` is posted to the activity feed (§8.1) and the
/// node is queued for AI indexing (`ai/indexing.rs`).
pub fn schedule(state: &Arc<EmulatorState>, ws: String, node: String) {
    state.activity.post(&ws, format!("storage:{node}"));
    state.index_queue.push(&ws, &node);
    let st = state.clone();
    state.tasks.spawn(async move {
        if let Err(e) = generate(&st, ws, node.clone()).await {
            tracing::warn!(%node, error = %e, "preview generation failed");
        }
    });
}

async fn generate(state: &Arc<EmulatorState>, ws: String, node: String) -> Result<(), ApiError> {
    tokio::time::sleep(state.config.preview_delay).await;
    let (w, id) = (ws.clone(), node.clone());
    let claim = state
        .store
        .call(move |c| {
            let Some(n) = nodes::get(c, &w, &id)? else {
                return Ok(None);
            };
            let Some(mut m) = preview_states(&n) else {
                return Ok(None);
            };
            let mut any = false;
            for v in m.values_mut() {
                if v == NOT_GENERATED {
                    *v = IN_PROGRESS.into();
                    any = true;
                }
            }
            if !any {
                return Ok(None);
            }
            write_states(c, &n.id, &m)?;
            Ok(Some(n))
        })
        .await?;
    if claim.is_some() {
        state.activity.post(&ws, format!("preview:{node}"));
    }
    let Some(n) = claim else {
        return Ok(());
    };
    let mime = n.mimetype.clone().unwrap_or_default();
    let made = match (&n.blob, imaging::is_image_mime(&mime)) {
        (Some(blob), true) => Some(make_thumbnail(state, &n.id, blob).await?),
        (None, true) => Some(Err("the file has no content".to_owned())),
        _ => None,
    };
    let blobs = state.blobs.clone();
    let node_ws = ws.clone();
    state
        .store
        .call(move |c| {
            let current = nodes::get(c, &ws, &n.id)?;
            let Some(cur) = current.filter(|cur| cur.version == n.version) else {
                // Purged, or new content arrived meanwhile (its own run takes over).
                if let Some(Ok((blob, _))) = &made {
                    let _ = std::fs::remove_file(blobs.blob_path(blob));
                }
                return Ok(());
            };
            let mut m = preview_states(&cur).unwrap_or_default();
            let end = match &made {
                Some(Ok((blob, mime))) => {
                    let old: Option<String> = c
                        .query_row(
                            "SELECT blob FROM preview_blobs WHERE node_id = ?1 AND kind = 'thumbnail'",
                            [&cur.id],
                            |r| r.get(0),
                        )
                        .optional()?;
                    c.execute(
                        "INSERT OR REPLACE INTO preview_blobs(node_id, kind, version, blob, mimetype) \
                         VALUES (?1, 'thumbnail', ?2, ?3, ?4)",
                        (&cur.id, &cur.version, blob, mime),
                    )?;
                    if let Some(old) = old.filter(|o| o != blob) {
                        let _ = std::fs::remove_file(blobs.blob_path(&old));
                    }
                    READY
                }
                Some(Err(_)) => ERROR,
                None => READY,
            };
            for v in m.values_mut() {
                if v == IN_PROGRESS {
                    *v = end.into();
                }
            }
            write_states(c, &cur.id, &m)
        })
        .await?;
    state.activity.post(&node_ws, format!("preview:{node}"));
    Ok(())
}

/// Decodes and shrinks the blob on the blocking pool (one at a time) and writes the thumbnail
/// as a new blob. `Err(text)` when the image cannot be used; `Ok((blob id, mime))` otherwise.
async fn make_thumbnail(
    state: &EmulatorState,
    node: &str,
    blob: &str,
) -> Result<Result<(String, String), String>, ApiError> {
    let _one_at_a_time = state
        .imaging
        .acquire()
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    let path = state.blobs.blob_path(blob);
    let started = Instant::now();
    let made = tokio::task::spawn_blocking(move || imaging::thumbnail(&path)).await?;
    let elapsed = started.elapsed();
    state.stats.saw_preview(PreviewRun {
        node: node.to_owned(),
        elapsed,
        ok: made.is_ok(),
    });
    match made {
        Ok((bytes, mime, w, h)) => {
            let id = ids::opaque_id();
            tokio::fs::write(state.blobs.blob_path(&id), bytes).await?;
            tracing::debug!(%node, w, h, ms = elapsed.as_millis() as u64, "thumbnail made");
            Ok(Ok((id, mime.to_owned())))
        }
        Err(e) => {
            tracing::info!(%node, error = %e, "no thumbnail: preview state error");
            Ok(Err(e.to_string()))
        }
    }
}

/// `GET /workspace/{ws}/storage/{node}/preview/{type}/preauthorize/` (§6.10): `downloadToken`,
/// an origin-relative `path` holding the token, and `primaryFilename`. A type outside the
/// eight → 400/1605; a preview that is not `ready` (or does not apply) → 404/143705.
pub async fn preauthorize(
    State(state): State<Arc<EmulatorState>>,
    _: Caller,
    Path((ws, node, kind)): Path<(String, String, String)>,
) -> Result<Envelope, ApiError> {
    if !TYPES.contains(&kind.as_str()) {
        return Err(ApiError::invalid(format!("unknown preview type {kind}")));
    }
    let ws = workspaces::resolve(&state, &ws).await?;
    let (w, id, k) = (ws.clone(), node.clone(), kind.clone());
    let n = state
        .store
        .call(move |c| {
            let n = downloads::file_node(c, &w, &id)?;
            match state_of(&n, &k) {
                s if s == READY => Ok(n),
                s => Err(ApiError::PreviewUnavailable(format!(
                    "no {k} preview for this file ({s})"
                ))),
            }
        })
        .await?;
    let ttl = state.config.download_token_ttl.as_secs();
    let token = downloads::issue_token(&state, ws.clone(), node.clone(), ttl).await?;
    let file = percent_encoding::utf8_percent_encode(&n.name, percent_encoding::NON_ALPHANUMERIC);
    let path =
        format!("/current/workspace/{ws}/storage/{node}/preview/{kind}/read/{token}/file/{file}");
    Ok(Envelope(
        json!({"downloadToken": token, "path": path, "primaryFilename": n.name}),
    ))
}

/// `GET …/preview/{type}/read/{token}/file/{name}` (§6.10 "Fetch"): no Authorization; the token
/// in the path is the capability. Streams the preview when it is `ready`.
pub async fn read(
    State(state): State<Arc<EmulatorState>>,
    Path((ws, node, kind, token, _name)): Path<(String, String, String, String, String)>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    downloads::check_token(&state, token, ws.clone(), node.clone()).await?;
    let n = state
        .store
        .call(move |c| {
            let mut n = downloads::file_node(c, &ws, &node)?;
            if state_of(&n, &kind) != READY {
                return Err(ApiError::PreviewUnavailable(format!(
                    "no {kind} preview for this file"
                )));
            }
            if kind == "thumbnail" {
                let (blob, mime): (String, String) = c
                    .query_row(
                        "SELECT blob, mimetype FROM preview_blobs WHERE node_id = ?1 \
                         AND kind = 'thumbnail' AND version = ?2",
                        (&n.id, &n.version),
                        |r| Ok((r.get(0)?, r.get(1)?)),
                    )
                    .optional()?
                    .ok_or_else(|| ApiError::PreviewUnavailable("no thumbnail".into()))?;
                n.blob = Some(blob);
                n.mimetype = Some(mime);
            }
            Ok(n)
        })
        .await?;
    let mut n = n;
    if let Some(blob) = &n.blob {
        n.size = tokio::fs::metadata(state.blobs.blob_path(blob))
            .await?
            .len();
    }
    downloads::serve_node(&state, &n, &headers, false).await
}

//! Image transforms (§6.10 "Image transform"): `transform/image/requestread/` issues a token
//! (ignoring every image parameter), `transform/image/read/?token=…` renders on request.
//!
//! Every rule of §6.10 is enforced with 400/1605: the transform name is only `image`; a key
//! present with an empty value; `output-format` other than lowercase `png`, `jpg`, `jpeg`
//! (`webp` included); `width`/`height` not a positive integer (the emulator also caps them at
//! 8,192); `size` other than `IconTiny`, `IconSmall`, `IconMedium`, `Preview` (case-sensitive,
//! the emulator's choice; boxes of 32, 64, 128 and 1,024 px, used when neither width nor height
//! is given); a crop without all four of `cropwidth`, `cropheight`, `cropx`, `cropy`, or with a
//! value that is not a positive integer, or outside the image; `rotate` other than 0/90/180/270.
//! A file that is not a decodable image within the limits (`imaging.rs`) → 404/143705.
//! Width and height together fit the image into that box; one alone scales the other.
//! `Content-Type` follows `output-format`, else the source type.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::header::{CONTENT_LENGTH, CONTENT_TYPE};
use axum::response::Response;
use image::ImageFormat;
use serde_json::json;

use super::imaging::{self, ImagingError, MAX_OUTPUT_SIDE, Transform};
use super::{downloads, workspaces};
use crate::emulator::state::EmulatorState;
use crate::emulator::transport::auth::Caller;
use crate::emulator::transport::envelope::Envelope;
use crate::emulator::transport::error::ApiError;

fn check_name(name: &str) -> Result<(), ApiError> {
    if name == "image" {
        Ok(())
    } else {
        Err(ApiError::invalid(format!(
            "unknown transform {name}: the only renderer is image"
        )))
    }
}

/// `GET /workspace/{ws}/storage/{node}/transform/{name}/requestread/` → `{"token":…}`.
pub async fn request_read(
    State(state): State<Arc<EmulatorState>>,
    _: Caller,
    Path((ws, node, name)): Path<(String, String, String)>,
) -> Result<Envelope, ApiError> {
    check_name(&name)?;
    let ws = workspaces::resolve(&state, &ws).await?;
    let ttl = state.config.download_token_ttl.as_secs();
    let token = downloads::issue_token(&state, ws, node, ttl).await?;
    Ok(Envelope(json!({"token": token})))
}

fn positive(key: &str, raw: &str, max: Option<u32>) -> Result<u32, ApiError> {
    let v: u32 = raw
        .parse()
        .ok()
        .filter(|v| *v > 0)
        .ok_or_else(|| ApiError::invalid(format!("{key} must be a positive integer")))?;
    match max {
        Some(max) if v > max => Err(ApiError::invalid(format!("{key} must be at most {max}"))),
        _ => Ok(v),
    }
}

/// Parses and checks the query of a transform read (everything but `token`).
pub fn parse_params(pairs: &[(String, String)]) -> Result<Transform, ApiError> {
    let get = |k: &str| {
        pairs
            .iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.as_str())
    };
    if let Some((k, _)) = pairs.iter().find(|(_, v)| v.is_empty()) {
        return Err(ApiError::invalid(format!(
            "{k} is present with an empty value"
        )));
    }
    let format = match get("output-format") {
        None => None,
        Some("png") => Some(ImageFormat::Png),
        Some("jpg" | "jpeg") => Some(ImageFormat::Jpeg),
        Some(other) => {
            return Err(ApiError::invalid(format!(
                "output-format must be png, jpg or jpeg (got {other})"
            )));
        }
    };
    let mut t = Transform {
        format,
        ..Transform::default()
    };
    let side = Some(MAX_OUTPUT_SIDE);
    t.width = get("width")
        .map(|v| positive("width", v, side))
        .transpose()?;
    t.height = get("height")
        .map(|v| positive("height", v, side))
        .transpose()?;
    if let Some(size) = get("size") {
        let px = match size {
            "IconTiny" => 32,
            "IconSmall" => 64,
            "IconMedium" => 128,
            "Preview" => 1024,
            other => return Err(ApiError::invalid(format!("unknown size {other}"))),
        };
        if t.width.is_none() && t.height.is_none() {
            (t.width, t.height) = (Some(px), Some(px));
        }
    }
    let crop: Vec<Option<&str>> = ["cropx", "cropy", "cropwidth", "cropheight"]
        .iter()
        .map(|k| get(k))
        .collect();
    match crop.iter().filter(|v| v.is_some()).count() {
        0 => {}
        4 => {
            let v: Vec<u32> = ["cropx", "cropy", "cropwidth", "cropheight"]
                .iter()
                .zip(&crop)
                .map(|(k, v)| positive(k, v.unwrap_or_default(), None))
                .collect::<Result<_, _>>()?;
            t.crop = Some((v[0], v[1], v[2], v[3]));
        }
        _ => {
            return Err(ApiError::invalid(
                "a crop needs all of cropwidth, cropheight, cropx and cropy",
            ));
        }
    }
    t.rotate = match get("rotate") {
        None | Some("0") => 0,
        Some("90") => 90,
        Some("180") => 180,
        Some("270") => 270,
        Some(other) => {
            return Err(ApiError::invalid(format!(
                "rotate must be 0, 90, 180 or 270 (got {other})"
            )));
        }
    };
    Ok(t)
}

/// `GET /workspace/{ws}/storage/{node}/transform/{name}/read/?token=…&…`: no Authorization; the
/// rendered image.
pub async fn read(
    State(state): State<Arc<EmulatorState>>,
    Path((ws, node, name)): Path<(String, String, String)>,
    Query(pairs): Query<Vec<(String, String)>>,
) -> Result<Response, ApiError> {
    check_name(&name)?;
    let token = pairs
        .iter()
        .find(|(k, _)| k == "token")
        .map(|(_, v)| v.clone())
        .filter(|t| !t.is_empty())
        .ok_or(ApiError::Unauthenticated)?;
    downloads::check_token(&state, token, ws.clone(), node.clone()).await?;
    let params: Vec<(String, String)> = pairs.into_iter().filter(|(k, _)| k != "token").collect();
    let t = parse_params(&params)?;
    let n = state
        .store
        .call(move |c| downloads::file_node(c, &ws, &node))
        .await?;
    let mime = n.mimetype.clone().unwrap_or_default();
    let blob = n
        .blob
        .clone()
        .filter(|_| imaging::is_image_mime(&mime))
        .ok_or_else(|| ApiError::PreviewUnavailable(format!("cannot transform {mime}")))?;
    let _one_at_a_time = state
        .imaging
        .acquire()
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    let path = state.blobs.blob_path(&blob);
    let made = tokio::task::spawn_blocking(move || imaging::transform(&path, &t)).await?;
    let (bytes, mime) = match made {
        Ok(v) => v,
        Err(ImagingError::Invalid(msg)) => return Err(ApiError::Invalid(msg)),
        Err(e) => {
            return Err(ApiError::PreviewUnavailable(format!(
                "unable to render: {e}"
            )));
        }
    };
    Response::builder()
        .header(CONTENT_TYPE, mime)
        .header(CONTENT_LENGTH, bytes.len())
        .body(Body::from(bytes))
        .map_err(|e| ApiError::Internal(e.to_string()))
}

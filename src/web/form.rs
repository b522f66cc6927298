//! The small text forms of form actions (`?/mkdir`, `?/share`, `?/rename`, …), urlencoded or
//! multipart (what `fetch` with `FormData` sends), read under [`FORM_LIMIT`] — one reader for
//! every action, so they all refuse the same oversized or malformed bodies alike.

use std::collections::HashMap;

use axum::extract::{FromRequest, Multipart, Request};
use axum::http::header;

use super::AppState;
use super::error::AppError;

/// The largest small-form body read.
pub const FORM_LIMIT: usize = 16 * 1024;

/// The text fields of a small form in order, repeated names kept (urlencoded or multipart),
/// read under [`FORM_LIMIT`].
pub async fn read_pairs(
    state: &AppState,
    request: Request,
) -> Result<Vec<(String, String)>, AppError> {
    let too_large = || AppError::BadRequest("the form is too large".into());
    let multipart = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("multipart/form-data"));
    if !multipart {
        let body = axum::body::to_bytes(request.into_body(), FORM_LIMIT)
            .await
            .map_err(|_| too_large())?;
        strict_utf8(&body)?;
        return serde_urlencoded::from_bytes(&body)
            .map_err(|e| AppError::BadRequest(format!("the form could not be read: {e}")));
    }
    let bad = |e: axum::extract::multipart::MultipartError| {
        AppError::BadRequest(format!("the form could not be read: {e}"))
    };
    let mut form = Multipart::from_request(request, state)
        .await
        .map_err(|e| AppError::BadRequest(format!("the form could not be read: {e}")))?;
    let mut pairs = Vec::new();
    let mut read = 0;
    while let Some(mut field) = form.next_field().await.map_err(bad)? {
        let name = field.name().unwrap_or_default().to_owned();
        let mut value = Vec::new();
        while let Some(chunk) = field.chunk().await.map_err(bad)? {
            read += chunk.len();
            if read > FORM_LIMIT {
                return Err(too_large());
            }
            value.extend_from_slice(&chunk);
        }
        let text = String::from_utf8(value)
            .map_err(|_| AppError::BadRequest(format!("the field {name} is not text")))?;
        pairs.push((name, text));
    }
    Ok(pairs)
}

/// The fields of a small form by name (the first of a repeated name wins).
pub async fn read_fields(
    state: &AppState,
    request: Request,
) -> Result<HashMap<String, String>, AppError> {
    let mut fields = HashMap::new();
    for (name, value) in read_pairs(state, request).await? {
        fields.entry(name).or_insert(value);
    }
    Ok(fields)
}

/// Refuses an urlencoded body whose names or values decode to invalid UTF-8, which the
/// urlencoded reader would otherwise turn into U+FFFD and so store a name nobody typed.
fn strict_utf8(body: &[u8]) -> Result<(), AppError> {
    if decodes_to_utf8(body) {
        Ok(())
    } else {
        Err(AppError::BadRequest(
            "the form could not be read: a field is not UTF-8 text".into(),
        ))
    }
}

/// Whether every name and value of `urlencoded` (a form body or a query string) decodes to
/// UTF-8 text. The urlencoded readers decode lossily, so this is asked before them.
pub fn decodes_to_utf8(urlencoded: &[u8]) -> bool {
    urlencoded
        .split(|b| *b == b'&')
        .flat_map(|pair| pair.splitn(2, |b| *b == b'='))
        .all(|part| {
            let spaced: Vec<u8> = part
                .iter()
                .map(|b| if *b == b'+' { b' ' } else { *b })
                .collect();
            let decoded: Vec<u8> = percent_encoding::percent_decode(&spaced).collect();
            std::str::from_utf8(&decoded).is_ok()
        })
}

//! Bearer authentication (§1 "Auth") and workspace membership (§2.2 code 10545).
//!
//! [`Caller`] is an extractor: a handler that takes it requires `Authorization: Bearer <key>`
//! (401/10011 otherwise). `/ping/`, `/system/status/` and token reads do not take it. The key is
//! compared by digest and never logged.

use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::HeaderMap;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use rusqlite::OptionalExtension;
use sha2::{Digest, Sha256};

use super::AppState;
use super::error::ApiError;

/// An authenticated caller (the one user owning the emulator's key).
#[derive(Debug, Clone, Copy)]
pub struct Caller;

/// Whether `headers` carry the configured Bearer key.
pub fn has_valid_bearer(state: &AppState, headers: &HeaderMap) -> bool {
    let Some(value) = headers.get(AUTHORIZATION).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let Some(token) = value
        .strip_prefix("Bearer ")
        .or_else(|| value.strip_prefix("bearer "))
    else {
        return false;
    };
    Sha256::digest(token.trim().as_bytes()) == Sha256::digest(state.config.api_key.as_bytes())
}

impl FromRequestParts<Arc<AppState>> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<AppState>,
    ) -> Result<Self, Self::Rejection> {
        if has_valid_bearer(state, &parts.headers) {
            Ok(Caller)
        } else {
            Err(ApiError::Unauthenticated)
        }
    }
}

/// Resolves a workspace reference (19-digit id or folder name) the caller may use.
pub async fn workspace(state: &AppState, reference: &str) -> Result<String, ApiError> {
    if state.faults.is_not_member(reference) {
        return Err(ApiError::NotMember);
    }
    let r = reference.to_owned();
    let found: Option<String> = state
        .store
        .call(move |c| {
            Ok(c.query_row(
                "SELECT id FROM workspaces WHERE id = ?1 OR folder_name = lower(?1)",
                [&r],
                |row| row.get(0),
            )
            .optional()?)
        })
        .await?;
    match found {
        Some(id) if state.faults.is_not_member(&id) => Err(ApiError::NotMember),
        Some(id) => Ok(id),
        None => Err(ApiError::NotMember),
    }
}

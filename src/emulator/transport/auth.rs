//! Bearer authentication (§1 "Auth"; §11 "Routing and auth": 401/10011).
//!
//! [`Caller`] is an extractor: a handler that takes it requires `Authorization: Bearer <key>`
//! (401/10011 otherwise). `/ping/`, `/system/status/`, token reads and File Share recipient reads
//! do not take it. The key is held and compared as a SHA-256 digest and never logged. Workspace
//! membership (10545) is the storage side's question (`storage::workspaces::resolve`).

use axum::extract::{FromRef, FromRequestParts};
use axum::http::HeaderMap;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use sha2::{Digest, Sha256};

use super::error::ApiError;

/// The one accepted API key, as its SHA-256 digest. Handlers reach it through [`FromRef`] on the
/// router's state, so this module needs nothing else of that state.
#[derive(Clone, Copy)]
pub struct ApiKey([u8; 32]);

impl ApiKey {
    /// Digests the configured key.
    pub fn new(key: &str) -> Self {
        Self(Sha256::digest(key.as_bytes()).into())
    }

    /// Whether `headers` carry this key as a Bearer token.
    pub fn accepts(&self, headers: &HeaderMap) -> bool {
        let Some(value) = headers.get(AUTHORIZATION).and_then(|v| v.to_str().ok()) else {
            return false;
        };
        let Some(token) = value
            .strip_prefix("Bearer ")
            .or_else(|| value.strip_prefix("bearer "))
        else {
            return false;
        };
        Sha256::digest(token.trim().as_bytes())[..] == self.0[..]
    }
}

/// An authenticated caller (the one user owning the emulator's key).
#[derive(Debug, Clone, Copy)]
pub struct Caller;

impl<S> FromRequestParts<S> for Caller
where
    S: Send + Sync,
    ApiKey: FromRef<S>,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        if ApiKey::from_ref(state).accepts(&parts.headers) {
            Ok(Caller)
        } else {
            Err(ApiError::Unauthenticated)
        }
    }
}

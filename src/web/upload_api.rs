//! The JSON upload API for `upload.js` and scripts (being written).

use axum::Router;

use super::AppState;

/// This module's routes.
pub fn router() -> Router<AppState> {
    Router::new()
}

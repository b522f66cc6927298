//! Every emulator route in one place (§4–§7), all under `/current/` with the trailing slash
//! Fast.io requires (§1), plus the share link page `/f/{id}/` (§6.8). Unknown paths answer
//! 404/9992 and wrong methods 405 (§11 "Routing and auth").
//!
//! Middleware, outermost first: request stats, legacy envelope restyling, rate limiting (headers
//! on every response), fault injection.

use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::middleware::from_fn_with_state;
use axum::routing::{delete, get, post};

use super::error::ApiError;
use super::{
    AppState, batch, downloads, envelope, faults, ratelimit, shares, stats, storage, transfer,
    uploads, workspaces,
};

/// The emulator's router over its shared state (mountable in another app).
pub fn router(state: Arc<AppState>) -> Router {
    let ws = "/current/workspace/{ws}";
    let node = "/current/workspace/{ws}/storage/{node}";
    Router::new()
        .route("/current/ping/", get(workspaces::ping))
        .route("/current/system/status/", get(workspaces::system_status))
        .route("/current/user/auth/check/", get(workspaces::auth_check))
        .route("/current/user/me/details/", get(workspaces::me))
        .route("/current/workspaces/all/", get(workspaces::list))
        .route(&format!("{ws}/details/"), get(workspaces::details))
        .route(&format!("{ws}/create/fileshare/"), post(shares::create))
        .route(&format!("{ws}/list/fileshares/"), get(shares::list))
        .route(&format!("{node}/list/"), get(storage::list))
        .route(&format!("{node}/details/"), get(storage::details))
        .route(&format!("{node}/createfolder/"), post(storage::create_folder))
        .route(&format!("{node}/update/"), post(storage::update))
        .route(&format!("{node}/move/"), post(storage::move_node))
        .route(&format!("{node}/delete/"), delete(storage::delete))
        .route(&format!("{node}/restore/"), post(storage::restore))
        .route(&format!("{node}/quickshare/"), post(storage::quickshare))
        .route(&format!("{node}/addfile/"), post(transfer::add_file))
        .route(&format!("{node}/requestread/"), get(downloads::request_read))
        .route(&format!("{node}/read/"), get(downloads::read))
        .route("/current/fileshare/{id}/details/", get(shares::details))
        .route("/current/fileshare/{id}/storage/read/", get(shares::read))
        .route("/current/fileshare/{id}/delete/", delete(shares::delete))
        .route(
            "/current/upload/",
            post(uploads::create).delete(uploads::cancel_all),
        )
        .route("/current/upload/details/", get(uploads::list))
        .route("/current/upload/limits/", get(workspaces::upload_limits))
        .route("/current/upload/algos/", get(workspaces::upload_algos))
        .route("/current/upload/batch/", post(batch::upload))
        .route("/current/upload/{id}/", delete(uploads::cancel))
        .route(
            "/current/upload/{id}/chunk/",
            post(transfer::put_chunk)
                .get(transfer::chunk_status)
                .delete(transfer::delete_chunk),
        )
        .route("/current/upload/{id}/complete/", post(uploads::complete))
        .route("/current/upload/{id}/details/", get(uploads::details))
        .route("/current/upload/{id}/stream/", post(transfer::stream))
        .route("/f/{id}/", get(shares::web))
        .route("/f/{id}", get(shares::web))
        .fallback(|| async { ApiError::UnknownRoute })
        .method_not_allowed_fallback(|| async { ApiError::MethodNotAllowed })
        .layer(from_fn_with_state(state.clone(), faults::inject))
        .layer(from_fn_with_state(state.clone(), ratelimit::limit))
        .layer(from_fn_with_state(state.clone(), envelope::restyle))
        .layer(from_fn_with_state(state.clone(), stats::record))
        .layer(DefaultBodyLimit::disable())
        .with_state(state)
}

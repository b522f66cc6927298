//! Every emulator route in one place (§4–§8), all under `/current/` with the trailing slash
//! Fast.io requires (§1) — except the preview read, whose path ends in the file name as the
//! `preauthorize/` answer gives it (§6.10) — plus the share link page `/f/{id}/` (§6.8). Unknown paths answer
//! 404/9992 and wrong methods 405 (§11 "Routing and auth").
//!
//! Middleware, outermost first: request stats, legacy envelope restyling, rate limiting (headers
//! on every response), fault injection. Each takes only the part of [`EmulatorState`] it reads.

use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::middleware::from_fn_with_state;
use axum::routing::{delete, get, post};

use super::ai::{activity, agent};
use super::state::EmulatorState;
use super::storage::{
    arrange, downloads, previews, search, shares, transform, trash, tree, versions, workspaces,
};
use super::transport::error::ApiError;
use super::transport::{envelope, faults, ratelimit, stats};
use super::upload::{batch, lifecycle, limits, placement, transfer};

/// The emulator's router over its shared state (mountable in another app).
pub fn router(state: Arc<EmulatorState>) -> Router {
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
        .route(&format!("{node}/list/"), get(tree::list))
        .route(&format!("{node}/details/"), get(tree::details))
        .route(&format!("{node}/createfolder/"), post(tree::create_folder))
        .route(&format!("{ws}/storage/search/"), get(search::search))
        .route(&format!("{node}/update/"), post(arrange::update))
        .route(&format!("{node}/move/"), post(arrange::move_node))
        .route(&format!("{node}/copy/"), post(arrange::copy))
        .route(&format!("{node}/delete/"), delete(trash::delete))
        .route(&format!("{node}/restore/"), post(trash::restore))
        .route(&format!("{node}/purge/"), delete(trash::purge))
        .route(&format!("{node}/quickshare/"), post(tree::quickshare))
        .route(&format!("{node}/versions/"), get(versions::list))
        .route(&format!("{node}/restore-version/"), post(versions::restore))
        .route(
            &format!("{node}/preview/{{kind}}/preauthorize/"),
            get(previews::preauthorize),
        )
        .route(
            &format!("{node}/preview/{{kind}}/read/{{token}}/file/{{name}}"),
            get(previews::read),
        )
        .route(
            &format!("{node}/transform/{{name}}/requestread/"),
            get(transform::request_read),
        )
        .route(
            &format!("{node}/transform/{{name}}/read/"),
            get(transform::read),
        )
        .route(&format!("{node}/addfile/"), post(placement::add_file))
        .route(
            &format!("{node}/requestread/"),
            get(downloads::request_read),
        )
        .route(&format!("{node}/read/"), get(downloads::read))
        .route("/current/fileshare/{id}/details/", get(shares::details))
        .route("/current/fileshare/{id}/storage/read/", get(shares::read))
        .route("/current/fileshare/{id}/delete/", delete(shares::delete))
        .route(
            "/current/upload/",
            post(lifecycle::create).delete(lifecycle::cancel_all),
        )
        .route("/current/upload/details/", get(lifecycle::list))
        .route("/current/upload/limits/", get(limits::plan))
        .route("/current/upload/algos/", get(limits::algos))
        .route("/current/upload/batch/", post(batch::upload))
        .route("/current/upload/{id}/", delete(lifecycle::cancel))
        .route(
            "/current/upload/{id}/chunk/",
            post(transfer::put_chunk)
                .get(transfer::chunk_status)
                .delete(transfer::delete_chunk),
        )
        .route("/current/upload/{id}/complete/", post(lifecycle::complete))
        .route("/current/upload/{id}/details/", get(lifecycle::details))
        .route("/current/upload/{id}/stream/", post(transfer::stream))
        .route(&format!("{ws}/ai/agent/"), post(agent::create))
        .route(&format!("{ws}/ai/agent/list/"), get(agent::list))
        .route(
            &format!("{ws}/ai/agent/list/deleted"),
            get(agent::list_deleted),
        )
        .route(
            &format!("{ws}/ai/agent/list/deleted/"),
            get(agent::list_deleted),
        )
        .route(&format!("{ws}/ai/agent/{{chat}}/"), delete(agent::delete))
        .route(
            &format!("{ws}/ai/agent/{{chat}}/details/"),
            get(agent::details),
        )
        .route(
            &format!("{ws}/ai/agent/{{chat}}/update/"),
            post(agent::update),
        )
        .route(
            &format!("{ws}/ai/agent/{{chat}}/publish/"),
            post(agent::publish),
        )
        .route(
            &format!("{ws}/ai/agent/{{chat}}/cancel/"),
            post(agent::cancel),
        )
        .route(
            &format!("{ws}/ai/agent/{{chat}}/message/"),
            post(agent::follow_up),
        )
        .route(
            &format!("{ws}/ai/agent/{{chat}}/messages/list/"),
            get(agent::messages),
        )
        .route(
            &format!("{ws}/ai/agent/{{chat}}/message/{{message}}/details/"),
            get(agent::message_details),
        )
        .route("/current/activity/poll/{entity}/", get(activity::poll))
        .route("/f/{id}/", get(shares::web))
        .route("/f/{id}", get(shares::web))
        .fallback(|| async { ApiError::UnknownRoute })
        .method_not_allowed_fallback(|| async { ApiError::MethodNotAllowed })
        .layer(from_fn_with_state(state.faults.clone(), faults::inject))
        .layer(from_fn_with_state(state.limiter.clone(), ratelimit::limit))
        .layer(from_fn_with_state(
            state.config.envelope.clone(),
            envelope::restyle,
        ))
        .layer(from_fn_with_state(state.stats.clone(), stats::record))
        .layer(DefaultBodyLimit::disable())
        .with_state(state)
}

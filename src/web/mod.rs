//! The web layer: adapts HTTP to the domain. Pages and form actions answer HTML, the JSON API
//! answers JSON; both are fed by the same view data ([`view::Listing`]) and fail through the one
//! [`crate::web::error::AppError`]. This phase holds the foundation: security middleware
//! ([`security::harden`]), the embedded static files ([`assets::router`]), the view data and
//! display helpers, the template structs and the askama bridge. [`app`] assembles every router
//! behind the security layers.

pub mod actions;
pub mod api;
pub mod ask;
pub mod assets;
pub mod auth;
pub mod cursor;
pub mod display;
pub mod download;
pub mod error;
pub mod error_page;
pub mod file_actions;
pub mod file_page;
pub mod files;
pub mod form;
pub mod format;
pub mod health;
pub mod links;
pub mod listing;
pub mod metrics;
pub mod names;
pub mod negotiate;
pub mod openapi;
pub mod organize;
pub mod pages;
pub mod preview;
pub mod routes;
pub mod search_page;
pub mod security;
pub mod state;
pub mod templates;
pub mod trash_page;
pub mod upload_api;
pub mod uploads;
pub mod view;

use axum::Router;
use axum::middleware::from_fn_with_state;

pub use state::AppState;

use routes::Routes;

/// Every route of the gateway, each with its [`auth::Need`].
pub fn routes() -> Routes {
    let r = Routes::new();
    let r = pages::routes(r);
    let r = actions::routes(r);
    let r = api::routes(r);
    let r = files::routes(r);
    let r = uploads::routes(r);
    let r = upload_api::routes(r);
    let r = download::routes(r);
    let r = preview::routes(r);
    let r = file_page::routes(r);
    let r = organize::routes(r);
    let r = health::routes(r);
    let r = auth::signin::routes(r);
    let r = auth::api::routes(r);
    let r = links::routes(r);
    let r = openapi::routes(r);
    let r = ask::routes(r);
    assets::routes(r)
}

/// The whole gateway as one router: every route behind its guard, the caller identified before
/// routing, all of it wrapped in the security layers (request id, headers, error rendering,
/// Origin) and the HTTP metrics.
pub fn app(state: AppState) -> Router {
    let policy = security::OriginPolicy::new(&state.config.public_url);
    let state_mode_open = state.config.access.auth == crate::config::AuthMode::Open;
    let (router, _) = routes().finish();
    let router = router
        .layer(from_fn_with_state(state.clone(), auth::caller::identify))
        .with_state(state);
    let frame = error_page::ErrorFrame {
        open_mode: state_mode_open,
    };
    security::harden(router, policy, frame).layer(axum::middleware::from_fn(metrics::track_http))
}

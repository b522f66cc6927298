//! The web layer: adapts HTTP to the domain. Pages and form actions answer HTML, the JSON API
//! answers JSON; both are fed by the same view data ([`view::Listing`]) and fail through the one
//! [`crate::web::error::AppError`]. This phase holds the foundation: security middleware
//! ([`security::harden`]), the embedded static files ([`assets::router`]), the view data and
//! display helpers, the template structs and the askama bridge. [`app`] assembles every router
//! behind the security layers.

pub mod actions;
pub mod api;
pub mod assets;
pub mod cursor;
pub mod display;
pub mod download;
pub mod error;
pub mod error_page;
pub mod format;
pub mod health;
pub mod listing;
pub mod metrics;
pub mod names;
pub mod negotiate;
pub mod pages;
pub mod security;
pub mod state;
pub mod templates;
pub mod upload_api;
pub mod uploads;
pub mod view;

use axum::Router;

pub use state::AppState;

/// The whole gateway as one router: pages and form actions, the JSON API, downloads, health and
/// static files, wrapped in the security layers (request id, headers, error rendering, Origin).
pub fn app(state: AppState) -> Router {
    let policy = security::OriginPolicy::new(&state.config.public_url);
    let routes = Router::new()
        .merge(pages::router())
        .merge(actions::router())
        .merge(api::router())
        .merge(uploads::router())
        .merge(upload_api::router())
        .merge(download::router())
        .merge(health::router())
        .with_state(state)
        .merge(assets::router());
    security::harden(routes, policy).layer(axum::middleware::from_fn(metrics::track_http))
}

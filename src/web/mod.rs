//! The web layer: adapts HTTP to the domain. Pages and form actions answer HTML, the JSON API
//! answers JSON; both are fed by the same view data ([`view::Listing`]) and fail through the one
//! [`crate::error::AppError`]. This phase holds the foundation: security middleware
//! ([`security::harden`]), the embedded static files ([`assets::router`]), the view data and
//! display helpers, the template structs and the askama bridge. Routers that need the Fast.io
//! client come next.

pub mod assets;
pub mod display;
pub mod render;
pub mod security;
pub mod templates;
pub mod view;

//! Whether a request is answered as JSON or as a page: one rule, used by error rendering and by
//! form actions (which answer SvelteKit-style action results to scripts).

use axum::extract::Request;
use axum::http::header;

/// Whether a request wants JSON or a page.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RouteKind {
    /// `/api/…`, or any request that accepts JSON but not HTML (form actions called by scripts).
    Api,
    /// Everything else: answered with HTML.
    Page,
}

impl RouteKind {
    /// Classifies a request by path and `Accept`.
    pub fn of(req: &Request) -> Self {
        let accept = req
            .headers()
            .get(header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        let wants_json = accept.contains("application/json") && !accept.contains("text/html");
        if req.uri().path().starts_with("/api/") || wants_json {
            Self::Api
        } else {
            Self::Page
        }
    }
}

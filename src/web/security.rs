//! Request-level security (DESIGN §5), applied around every route by [`harden`]:
//! - a request id (`x-request-id`, honoured when sane, else generated) echoed on the response and
//!   carried by a tracing span per request;
//! - security headers on every response (CSP without inline script or style, no framing, nosniff,
//!   same-origin referrers);
//! - the `Origin` check of state-changing requests, as SvelteKit does it: a form-like body
//!   (urlencoded, multipart, text/plain: what a foreign page can post without CORS) needs our
//!   origin; any other body is refused only when a *foreign* origin is present (scripts send none).

use std::time::Instant;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderName, HeaderValue, Method, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use rand::RngCore as _;
use tracing::Instrument as _;

use crate::web::error::AppError;
use crate::web::error_page::render_errors;

/// The request id header.
pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The Content-Security-Policy of every response: our own files only, nothing inline.
pub const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
     font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; \
     frame-ancestors 'none'";

/// Who may send state-changing requests: the origin browsers use (`FASTGATE_PUBLIC_URL`).
#[derive(Clone, Debug)]
pub struct OriginPolicy {
    origin: String,
}

impl OriginPolicy {
    /// A policy for `public_url` (`scheme://host[:port]`, as `Config::public_url` holds it).
    pub fn new(public_url: &str) -> Self {
        Self {
            origin: public_url.trim_end_matches('/').to_ascii_lowercase(),
        }
    }

    /// Is `method` with `content_type` and `origin` headers allowed?
    pub fn allows(
        &self,
        method: &Method,
        content_type: Option<&str>,
        origin: Option<&str>,
    ) -> bool {
        let unsafe_method = matches!(
            *method,
            Method::POST | Method::PUT | Method::PATCH | Method::DELETE
        );
        if !unsafe_method {
            return true;
        }
        let same = origin.map(|o| o.trim_end_matches('/').eq_ignore_ascii_case(&self.origin));
        match same {
            Some(same) => same,
            // Only a POST can come from another site's form (or a preflight-free fetch); a PUT
            // or DELETE without Origin is a script's (e.g. `curl --data-binary` for a chunk).
            None => *method != Method::POST || !content_type.is_some_and(is_form_like),
        }
    }
}

/// Body types a page on another site can POST without a CORS preflight.
fn is_form_like(content_type: &str) -> bool {
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    matches!(
        essence.as_str(),
        "application/x-www-form-urlencoded" | "multipart/form-data" | "text/plain"
    )
}

/// Wraps `router` in the security layers, outermost first: request id and span → security
/// headers → error rendering by route kind → origin check → the routes.
pub fn harden<S: Clone + Send + Sync + 'static>(
    router: Router<S>,
    policy: OriginPolicy,
) -> Router<S> {
    router
        .layer(middleware::from_fn_with_state(policy, check_origin))
        .layer(middleware::from_fn(render_errors))
        .layer(middleware::from_fn(security_headers))
        .layer(middleware::from_fn(request_id))
}

/// Refuses cross-origin state-changing requests with 403.
pub async fn check_origin(
    State(policy): State<OriginPolicy>,
    req: Request,
    next: Next,
) -> Response {
    let headers = req.headers();
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    let origin = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok());
    if policy.allows(req.method(), content_type, origin) {
        return next.run(req).await;
    }
    tracing::warn!(origin, content_type, "cross-origin request refused");
    // Refused before its body was read: the server will close the connection, so say so and
    // keep a keep-alive client from sending its next request into a dying connection.
    let mut response = AppError::CrossOrigin.into_response();
    response
        .headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    response
}

/// Sets the security headers on every response (keeping any a handler set itself).
pub async fn security_headers(req: Request, next: Next) -> Response {
    let mut response = next.run(req).await;
    let headers = response.headers_mut();
    let defaults = [
        (header::CONTENT_SECURITY_POLICY, CSP),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::REFERRER_POLICY, "same-origin"),
        (
            HeaderName::from_static("cross-origin-opener-policy"),
            "same-origin",
        ),
        (
            HeaderName::from_static("permissions-policy"),
            "camera=(), microphone=(), geolocation=()",
        ),
    ];
    for (name, value) in defaults {
        headers
            .entry(name)
            .or_insert(HeaderValue::from_static(value));
    }
    response
}

/// Honours a sane incoming `x-request-id` (1–64 visible ASCII characters) or makes one, runs the
/// request in a span carrying it, logs the outcome, and echoes the id.
pub async fn request_id(mut req: Request, next: Next) -> Response {
    let id = req
        .headers()
        .get(&REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|v| (1..=64).contains(&v.len()) && v.bytes().all(|b| b.is_ascii_graphic()))
        .map_or_else(new_request_id, str::to_owned);
    let value = HeaderValue::from_str(&id).unwrap_or_else(|_| HeaderValue::from_static("invalid"));
    req.headers_mut().insert(REQUEST_ID, value.clone());
    let span = tracing::info_span!("request", request_id = %id, method = %req.method(), path = %req.uri().path());
    let started = Instant::now();
    let mut response = next.run(req).instrument(span.clone()).await;
    span.in_scope(|| {
        tracing::info!(
            status = response.status().as_u16(),
            elapsed_ms = started.elapsed().as_millis() as u64,
            "response"
        );
    });
    response.headers_mut().insert(REQUEST_ID, value);
    response
}

fn new_request_id() -> String {
    let mut bytes = [0u8; 12];
    rand::thread_rng().fill_bytes(&mut bytes);
    hex::encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> OriginPolicy {
        OriginPolicy::new("https://files.example.com")
    }

    const FORM: Option<&str> = Some("application/x-www-form-urlencoded");
    const MULTIPART: Option<&str> = Some("multipart/form-data; boundary=x");
    const JSON: Option<&str> = Some("application/json");
    const OURS: Option<&str> = Some("https://files.example.com");
    const EVIL: Option<&str> = Some("https://evil.example");

    #[test]
    fn forms_need_our_origin() {
        let p = policy();
        assert!(p.allows(&Method::POST, FORM, OURS));
        assert!(p.allows(&Method::POST, MULTIPART, Some("HTTPS://FILES.EXAMPLE.COM")));
        assert!(!p.allows(&Method::POST, FORM, None));
        assert!(!p.allows(&Method::POST, MULTIPART, EVIL));
        assert!(!p.allows(&Method::POST, Some("text/plain;charset=utf-8"), None));
        assert!(!p.allows(&Method::POST, FORM, Some("null")));
    }

    #[test]
    fn json_and_raw_bodies_refuse_only_foreign_origins() {
        let p = policy();
        assert!(p.allows(&Method::POST, JSON, None));
        assert!(p.allows(&Method::PUT, Some("application/octet-stream"), None));
        assert!(p.allows(&Method::DELETE, None, None));
        assert!(p.allows(&Method::POST, JSON, OURS));
        assert!(!p.allows(&Method::POST, JSON, EVIL));
        assert!(!p.allows(&Method::DELETE, None, EVIL));
        // curl --data-binary labels a chunk PUT as a form; no site's form can send a PUT.
        assert!(p.allows(&Method::PUT, FORM, None));
        assert!(!p.allows(&Method::PUT, FORM, EVIL));
    }

    #[test]
    fn safe_methods_are_never_checked() {
        assert!(policy().allows(&Method::GET, FORM, EVIL));
        assert!(policy().allows(&Method::HEAD, None, EVIL));
    }
}

//! Request-level security (DESIGN §5), applied around every route by [`harden`]:
//! - a request id (`x-request-id`, honoured when sane, else generated) echoed on the response and
//!   carried by a tracing span per request;
//! - security headers on every response (CSP without inline script or style, no framing, nosniff,
//!   same-origin referrers);
//! - the `Origin` check of state-changing requests, as SvelteKit does it: a form-like body
//!   (urlencoded, multipart, text/plain: what a foreign page can post without CORS) needs our
//!   origin; any other body is refused only when a *foreign* origin is present (scripts send none).

use std::time::Duration;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{self, HeaderName, HeaderValue, Method, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use rand::Rng as _;
use tower::ServiceBuilder;
use tower_http::request_id::{
    MakeRequestId, PropagateRequestIdLayer, RequestId, SetRequestIdLayer,
};
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::trace::TraceLayer;

use crate::web::error::AppError;
use crate::web::error_page::{ErrorFrame, render_errors};

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

/// Wraps `router` in the security layers, outermost first: request id (an insane incoming one
/// dropped, a missing one made) → a tracing span per request carrying it, logging the response →
/// the id echoed on the response → security headers → error rendering by route kind → origin
/// check → the routes. Built from tower-http's request-id, trace and set-header layers.
pub fn harden<S: Clone + Send + Sync + 'static>(
    router: Router<S>,
    policy: OriginPolicy,
    frame: ErrorFrame,
) -> Router<S> {
    let trace = TraceLayer::new_for_http()
        .make_span_with(|req: &Request| {
            let id = req
                .headers()
                .get(&REQUEST_ID)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("-");
            tracing::info_span!("request", request_id = %id, method = %req.method(), path = %req.uri().path())
        })
        .on_request(())
        .on_response(|response: &Response, latency: Duration, _span: &tracing::Span| {
            tracing::info!(
                status = response.status().as_u16(),
                elapsed_ms = latency.as_millis() as u64,
                "response"
            );
        })
        .on_failure(());
    let headers = SECURITY_HEADERS.map(|(name, value)| {
        SetResponseHeaderLayer::if_not_present(name, HeaderValue::from_static(value))
    });
    let [csp, nosniff, frames, referrer, opener, permissions] = headers;
    router
        .layer(middleware::from_fn_with_state(policy, check_origin))
        .layer(middleware::from_fn_with_state(frame, render_errors))
        .layer(
            ServiceBuilder::new()
                .map_request(drop_insane_request_id)
                .layer(SetRequestIdLayer::new(REQUEST_ID, NewRequestId))
                .layer(trace)
                .layer(PropagateRequestIdLayer::new(REQUEST_ID))
                .layer(csp)
                .layer(nosniff)
                .layer(frames)
                .layer(referrer)
                .layer(opener)
                .layer(permissions),
        )
}

/// The headers every response carries unless its handler set its own.
const SECURITY_HEADERS: [(HeaderName, &str); 6] = [
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

/// An incoming `x-request-id` is honoured only when sane (1–64 visible ASCII characters), so
/// a client cannot stuff the logs; otherwise it is dropped and a fresh one made.
fn drop_insane_request_id(mut req: Request) -> Request {
    let sane = req.headers().get(&REQUEST_ID).is_none_or(|v| {
        (1..=64).contains(&v.len()) && v.as_bytes().iter().all(u8::is_ascii_graphic)
    });
    if !sane {
        req.headers_mut().remove(&REQUEST_ID);
    }
    req
}

/// Makes request ids: 12 random bytes, hex.
#[derive(Clone, Copy, Debug)]
struct NewRequestId;

impl MakeRequestId for NewRequestId {
    fn make_request_id<B>(&mut self, _req: &http::Request<B>) -> Option<RequestId> {
        let mut bytes = [0u8; 12];
        rand::rng().fill_bytes(&mut bytes);
        HeaderValue::from_str(&hex::encode(bytes))
            .ok()
            .map(RequestId::new)
    }
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

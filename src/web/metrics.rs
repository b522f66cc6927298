//! The HTTP side of the process metrics: a middleware that times every request and hands the
//! figures to [`telemetry`](crate::telemetry), which owns the names and the recorder (so the
//! upload and Fast.io layers record metrics without depending on the web framework).

use std::time::Instant;

use axum::extract::{MatchedPath, Request};
use axum::middleware::Next;
use axum::response::Response;

use crate::telemetry;

/// Middleware: counts every request by method, route template and status, and times it to the
/// response head. Unrouted requests count under the route `unmatched`.
pub async fn track_http(req: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = req.method().clone();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let response = next.run(req).await;
    telemetry::http_response(
        method.as_str(),
        &route,
        response.status().as_u16(),
        started.elapsed(),
    );
    response
}

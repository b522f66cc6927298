//! Error responses in the shape of their route: an [`ErrorReport`] (attached by
//! [`AppError`](super::error::AppError)) becomes an HTML page on page routes, and bare framework
//! errors (axum's 404/405, extractor rejections, timeouts) get the JSON body or the page too, so
//! clients always see one shape. The only error module that knows templates.

use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::error::ErrorReport;
use super::negotiate::RouteKind;
use super::templates::{Chrome, ErrorPage};

/// What error pages show around the error: the open-mode banner, like every page.
#[derive(Clone, Copy, Debug, Default)]
pub struct ErrorFrame {
    /// `FASTGATE_AUTH=open`.
    pub open_mode: bool,
}

/// Middleware giving every error response the route kind's shape: an [`ErrorReport`] becomes an
/// HTML page on page routes, and bare framework errors (axum's 404/405, extractor rejections,
/// timeouts: no body or `text/plain`) get our JSON body or page too, so clients see one shape.
/// Responses with a deliberate body of another type (an action result, a page) pass untouched.
pub async fn render_errors(State(frame): State<ErrorFrame>, req: Request, next: Next) -> Response {
    let kind = RouteKind::of(&req);
    let request_id = req
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let response = next.run(req).await;
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return response;
    }
    // Headers that belong to the error itself survive its re-rendering.
    let kept: Vec<_> = [header::RETRY_AFTER, header::CONTENT_RANGE]
        .into_iter()
        .filter_map(|name| Some((name.clone(), response.headers().get(&name)?.clone())))
        .collect();
    let report = match response.extensions().get::<ErrorReport>().cloned() {
        Some(_) if kind == RouteKind::Api => return response,
        Some(report) => report,
        None if !is_bare(&response) => return response,
        None => bare_report(response).await,
    };
    let mut out = match kind {
        RouteKind::Api => report.json_response(),
        RouteKind::Page => error_page(&report, request_id, frame.open_mode),
    };
    for (name, value) in kept {
        out.headers_mut().insert(name, value);
    }
    out.extensions_mut().insert(report);
    out
}

/// The HTML error page for a report.
pub fn error_page(report: &ErrorReport, request_id: Option<String>, open_mode: bool) -> Response {
    let page = ErrorPage {
        chrome: Chrome {
            open_mode,
            ..Chrome::default()
        },
        status: report.status.as_u16(),
        title: page_title(report.status).to_owned(),
        message: report.message.clone(),
        request_id,
    };
    let mut response = page.into_response();
    if response.status().is_success() {
        *response.status_mut() = report.status;
    }
    response
}

/// No body type, or plain text: what axum and tower produce on their own.
fn is_bare(response: &Response) -> bool {
    response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_none_or(|ct| ct.starts_with("text/plain"))
}

/// A report for a framework error: its text for 4xx (rejection messages are meant for clients),
/// an opaque sentence for 5xx.
async fn bare_report(response: Response) -> ErrorReport {
    let status = response.status();
    let text = axum::body::to_bytes(response.into_body(), 8 * 1024)
        .await
        .ok()
        .and_then(|b| String::from_utf8(b.to_vec()).ok())
        .map(|t| t.trim().to_owned())
        .filter(|t| !t.is_empty());
    let message = if status.is_server_error() {
        tracing::error!(
            status = status.as_u16(),
            body = text.as_deref(),
            "request failed"
        );
        "Something went wrong on our side.".to_owned()
    } else {
        text.unwrap_or_else(|| default_message(status).to_owned())
    };
    ErrorReport {
        status,
        code: code_for(status),
        message,
    }
}

fn code_for(status: StatusCode) -> &'static str {
    match status.as_u16() {
        401 => "unauthorized",
        403 => "forbidden",
        404 => "not_found",
        405 => "method_not_allowed",
        408 => "request_timeout",
        409 => "conflict",
        413 => "too_large",
        415 => "unsupported_type",
        422 => "unprocessable",
        429 => "rate_limited",
        502 => "upstream_error",
        503 => "unavailable",
        504 => "timeout",
        500..=599 => "internal",
        _ => "bad_request",
    }
}

fn default_message(status: StatusCode) -> &'static str {
    match status.as_u16() {
        404 => "There is nothing at this address.",
        405 => "This address does not accept that kind of request.",
        408 => "The request took too long.",
        413 => "The request is too large.",
        _ => status
            .canonical_reason()
            .unwrap_or("The request could not be handled."),
    }
}

fn page_title(status: StatusCode) -> &'static str {
    match status.as_u16() {
        400 => "That did not work",
        401 => "Not signed in",
        403 => "Not allowed",
        404 => "Not found",
        409 => "Conflict",
        413 => "Too large",
        415 => "File type not accepted",
        429 => "Slow down",
        502..=504 => "Fast.io is not answering",
        500..=599 => "Something went wrong",
        _ => status.canonical_reason().unwrap_or("Error"),
    }
}

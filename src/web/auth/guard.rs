//! The one place grants are checked: every route is registered with a [`Need`]
//! ([`crate::web::routes::Routes`] will not take a route without one), and [`guard`] enforces
//! it after routing, before the handler runs. Handlers never decide who may call them.

use axum::extract::{FromRequestParts as _, RawPathParams, Request, State};
use axum::http::{Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};

use super::caller::Caller;
use crate::access::{self, Capability, Principal, PrincipalKind};
use crate::web::error::AppError;
use crate::web::negotiate::RouteKind;

/// What a route needs from its caller.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Need {
    /// Nobody: health probes, static files, sign-in, setup, upload-request links (which check
    /// their own token).
    Public,
    /// Any authenticated caller (the home page, the account page, one's own tokens); what it
    /// shows is filtered by the caller's grants.
    SignedIn,
    /// The capability on the workspace named by the route's `{workspace}` parameter.
    On(Capability),
    /// A form action `?/name` on the route's `{workspace}`: the capability is the action's
    /// ([`action_capability`]).
    Action,
    /// The capability on a workspace named in the request body: the caller must hold it on
    /// some workspace to get in, and the handler checks the named one with [`Caller::allow`],
    /// which uses this route's capability.
    InBody(Capability),
    /// The capability on every workspace (`*`): users, every link and token, the audit log.
    Global(Capability),
    /// The signed upload token of `/api/uploads/{id}/…` is the capability (issued to a caller
    /// that had `upload` on its folder, or by an upload-request link).
    UploadToken,
    /// `/metrics`: an admin (a Prometheus scraper uses an admin's API token), or anyone in open
    /// mode.
    Operator,
}

/// The capability of form action `name` (`upload`, `mkdir`, `share`; `edit` for `rename`,
/// `move`, `delete`, `restore`, `purge`, `empty` and `restore_version`); unknown actions need
/// `view` and are then refused by the handler.
pub fn action_capability(name: &str) -> Capability {
    match name {
        "upload" => Capability::Upload,
        "mkdir" => Capability::Mkdir,
        "share" => Capability::Share,
        "rename" | "move" | "delete" | "restore" | "purge" | "empty" | "restore_version" => {
            Capability::Edit
        }
        _ => Capability::View,
    }
}

/// Route middleware: enforces the route's [`Need`] on the request's [`Caller`].
pub async fn guard(State(need): State<Need>, req: Request, next: Next) -> Response {
    let (mut parts, body) = req.into_parts();
    let Ok(mut caller) = Caller::from_request_parts(&mut parts, &()).await else {
        return AppError::Internal("a route outside the identify layer".into()).into_response();
    };
    let params = match RawPathParams::from_request_parts(&mut parts, &()).await {
        Ok(params) => Some(params),
        // A path segment that decodes to invalid UTF-8 names nothing here.
        Err(axum::extract::rejection::RawPathParamsRejection::InvalidUtf8InPathParam(e)) => {
            return AppError::BadRequest(e.body_text()).into_response();
        }
        Err(_) => None,
    };
    // Query parameters are read lossily (invalid UTF-8 becomes U+FFFD): refuse them instead of
    // searching for, or filtering by, text nobody typed. Only percent-escapes can decode to
    // bytes that are not UTF-8 (the query itself is text), so most requests skip the decode.
    if parts
        .uri
        .query()
        .is_some_and(|q| q.contains('%') && !crate::web::form::decodes_to_utf8(q.as_bytes()))
    {
        return AppError::BadRequest("the query string is not UTF-8 text".into()).into_response();
    }
    let workspace = params.and_then(|params| {
        params
            .iter()
            .find(|(key, _)| *key == "workspace")
            .map(|(_, value)| value.to_owned())
    });
    let action = parts
        .uri
        .query()
        .and_then(|q| q.strip_prefix('/'))
        .map(action_capability);
    let req = Request::from_parts(parts, body);
    let principal = match (&need, &caller.principal) {
        (Need::Public | Need::UploadToken, _) => return next.run(req).await,
        (_, None) => return anonymous(&req, need),
        (_, Some(principal)) => principal,
    };
    let verdict = check(need, principal, workspace.as_deref(), action);
    match verdict {
        Ok(capability) => {
            caller.capability = capability;
            let mut req = req;
            req.extensions_mut().insert(caller);
            next.run(req).await
        }
        Err(e) => e.into_response(),
    }
}

/// The verdict for an authenticated `principal`: the capability checked, or the refusal.
fn check(
    need: Need,
    principal: &Principal,
    workspace: Option<&str>,
    action: Option<Capability>,
) -> Result<Option<Capability>, AppError> {
    let on = |capability: Capability| -> Result<Option<Capability>, AppError> {
        let workspace = workspace
            .ok_or_else(|| AppError::Internal("a workspace route without {workspace}".into()))?;
        principal
            .check(workspace, capability)
            .map_err(|refusal| access::Error::from(refusal).into())
            .map(|_| Some(capability))
    };
    match need {
        Need::Public | Need::UploadToken | Need::SignedIn => Ok(None),
        Need::On(capability) => on(capability),
        Need::Action => on(action.unwrap_or(Capability::View)),
        Need::InBody(capability) => {
            let anywhere = principal.grants.iter().any(|g| g.role.allows(capability));
            let link_may = !matches!(principal.kind, PrincipalKind::Link { .. })
                || capability == Capability::Upload;
            if anywhere && link_may {
                Ok(Some(capability))
            } else {
                Err(AppError::Denied)
            }
        }
        Need::Global(capability) => principal
            .check_global(capability)
            .map(|_| Some(capability))
            .map_err(|_| AppError::Denied),
        Need::Operator => {
            if principal.kind == PrincipalKind::Open || principal.is_admin() {
                Ok(None)
            } else {
                Err(AppError::Denied)
            }
        }
    }
}

/// The answer to an anonymous request on a protected route: a page redirects to `/signin`
/// (coming back afterwards); the JSON API, the bytes routes (downloads, previews, thumbnails —
/// what `<img>`, `<video>` and scripts fetch), the upload API and `/metrics` (a
/// scraper, not a person) answer 401.
fn anonymous(req: &Request, need: Need) -> Response {
    let path = req.uri().path();
    let bytes = ["/download/", "/preview/", "/thumb/"]
        .iter()
        .any(|p| path.starts_with(p));
    let wants_page = RouteKind::of(req) == RouteKind::Page && !bytes && need != Need::Operator;
    if !wants_page {
        // Always the JSON body, even on a download link or `/metrics` (whose other errors are
        // pages): no report is attached, so error rendering leaves it as it is.
        return AppError::Unauthenticated.report().json_response();
    }
    // Back to this page after signing in; a form post cannot be replayed, so it goes home.
    let here = match *req.method() {
        Method::GET | Method::HEAD => req.uri().path_and_query().map_or("/", |pq| pq.as_str()),
        _ => "/",
    }
    .to_owned();
    let next: String = url_escape(&here);
    let mut response = Redirect::to(&format!("/signin?next={next}")).into_response();
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("no-store"),
    );
    response
}

/// Percent-encodes a query value.
fn url_escape(value: &str) -> String {
    percent_encoding::utf8_percent_encode(value, percent_encoding::NON_ALPHANUMERIC).to_string()
}

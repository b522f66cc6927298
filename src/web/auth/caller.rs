//! Who is calling: [`identify`] turns each request into a [`Caller`] — the principal (from an
//! API token, the session cookie, the reverse proxy's header, or open mode), the client IP and
//! the request id — once, before routing. Handlers and the route guard read it back with the
//! [`Caller`] extractor; nothing else looks at cookies or `Authorization`.

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use secrecy::SecretString;

use crate::access::{self, Capability, Ctx, Principal, PrincipalKind};
use crate::config::AuthMode;
use crate::web::AppState;
use crate::web::error::AppError;
use crate::web::security::REQUEST_ID;
use crate::web::templates::Chrome;

/// The caller of one request, as [`identify`] found it.
#[derive(Clone, Debug)]
pub struct Caller {
    /// Who, once authenticated; `None` for anonymous requests.
    pub principal: Option<Principal>,
    /// The client's IP (the peer, or the client a trusted proxy names).
    pub ip: Option<IpAddr>,
    /// The request id.
    pub request_id: Option<String>,
    /// The gateway's mode, for the page chrome (the open-mode banner).
    pub mode: AuthMode,
    /// The capability the route guard checked, for routes whose workspace is named in the body
    /// (see [`Caller::allow`]).
    pub(super) capability: Option<Capability>,
}

impl Caller {
    /// The audit context of this request.
    pub fn ctx(&self) -> Ctx {
        match &self.principal {
            Some(p) => Ctx::of(p, self.ip, self.request_id.clone()),
            None => Ctx::anonymous(self.ip, self.request_id.clone()),
        }
    }

    /// The principal, or 401.
    pub fn principal(&self) -> Result<&Principal, AppError> {
        self.principal.as_ref().ok_or(AppError::Unauthenticated)
    }

    /// On a route whose workspace comes in the body (`POST /upload`, `POST /api/uploads`): may
    /// the caller do the route's capability on `workspace`? 404 without a grant, 403 when the
    /// role is too low. The capability is the one the route declared, never the handler's.
    pub fn allow(&self, workspace: &str) -> Result<(), AppError> {
        let principal = self.principal()?;
        let capability = self.capability.unwrap_or(Capability::Admin);
        principal
            .check(workspace, capability)
            .map(|_| ())
            .map_err(|refusal| access::Error::from(refusal).into())
    }

    /// Whether the caller may see `workspace` at all (lists of workspaces are filtered by it).
    pub fn sees(&self, workspace: &str) -> bool {
        self.principal
            .as_ref()
            .is_some_and(|p| p.check(workspace, Capability::View).is_ok())
    }
}

impl Chrome {
    /// The frame of a page for `caller`, on `workspace` when the page belongs to one.
    pub fn of(caller: &Caller, workspace: Option<&str>) -> Self {
        let principal = caller.principal.as_ref();
        let may = |capability| {
            principal.is_some_and(|p| workspace.is_some_and(|ws| p.check(ws, capability).is_ok()))
        };
        Self {
            user: principal.and_then(|p| p.username().map(str::to_owned)),
            signed_in: principal.is_some_and(|p| p.kind != PrincipalKind::Open),
            admin: principal.is_some_and(Principal::is_admin),
            open_mode: caller.mode == AuthMode::Open,
            can_upload: may(Capability::Upload),
            can_share: may(Capability::Share),
            can_edit: may(Capability::Edit),
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<Caller>()
            .cloned()
            .ok_or_else(|| AppError::Internal("a route outside the identify layer".into()))
    }
}

/// Middleware: finds the caller of every request and stores it as an extension.
pub async fn identify(State(app): State<AppState>, mut req: Request, next: Next) -> Response {
    let peer = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(addr)| addr.ip());
    let settings = &app.config.access;
    let ip = client_ip(req.headers(), peer, |ip| settings.is_trusted_proxy(ip));
    let request_id = req
        .headers()
        .get(&REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let principal = match principal(&app, req.headers(), peer).await {
        Ok(principal) => principal,
        Err(e) => return AppError::from(e).into_response(),
    };
    req.extensions_mut().insert(Caller {
        principal,
        ip,
        request_id,
        mode: settings.auth,
        capability: None,
    });
    next.run(req).await
}

/// The principal of a request in the configured mode. An invalid token or session is
/// anonymous (the route guard answers 401); a database failure is an error (503).
async fn principal(
    app: &AppState,
    headers: &HeaderMap,
    peer: Option<IpAddr>,
) -> Result<Option<Principal>, access::Error> {
    let settings = &app.config.access;
    if settings.auth == AuthMode::Open {
        return Ok(Some(Principal::open()));
    }
    let known = |r: Result<Principal, access::Error>| match r {
        Ok(p) => Ok(Some(p)),
        Err(access::Error::Unauthenticated | access::Error::Forbidden) => Ok(None),
        Err(e) => Err(e),
    };
    if let Some(token) = bearer(headers) {
        return known(app.access.bearer(token).await);
    }
    if settings.auth == AuthMode::Proxy
        && let Some(name) = headers
            .get(settings.proxy_header.as_str())
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
            .filter(|n| !n.is_empty())
    {
        if peer.is_some_and(|ip| settings.is_trusted_proxy(ip)) {
            let role = settings.proxy_default_role;
            return known(app.access.proxy_principal(name, role).await);
        }
        tracing::warn!(
            peer = peer.map(|ip| ip.to_string()),
            header = settings.proxy_header.as_str(),
            "identity header from an untrusted peer ignored"
        );
    }
    match session_cookie(headers, app.config.session_cookie_name()) {
        Some(token) => known(app.access.session(&token).await),
        None => Ok(None),
    }
}

/// The token of `Authorization: Bearer …`, if any.
fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then_some(token.trim())
}

/// The session cookie's value, if the request carries one.
pub fn session_cookie(headers: &HeaderMap, name: &str) -> Option<SecretString> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(cookie::Cookie::split_parse)
        .filter_map(Result::ok)
        .find(|c| c.name() == name)
        .map(|c| SecretString::from(c.value().to_owned()))
}

/// The client's IP: the peer's, unless the peer is a trusted proxy, whose `X-Forwarded-For`
/// is then read from the right, skipping further trusted proxies.
fn client_ip(
    headers: &HeaderMap,
    peer: Option<IpAddr>,
    trusted: impl Fn(IpAddr) -> bool,
) -> Option<IpAddr> {
    let peer = peer?;
    if !trusted(peer) {
        return Some(peer);
    }
    let forwarded: Vec<IpAddr> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    Some(
        forwarded
            .into_iter()
            .rev()
            .find(|ip| !trusted(*ip))
            .unwrap_or(peer),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_client_ip_is_the_peer_unless_a_trusted_proxy_forwards_it() {
        let mut headers = HeaderMap::new();
        headers.insert(
            "x-forwarded-for",
            "203.0.113.7, 10.0.0.2".parse().expect("value"),
        );
        let proxy: IpAddr = "10.0.0.1".parse().expect("ip");
        let trusted = |ip: IpAddr| ip.to_string().starts_with("10.");
        assert_eq!(
            client_ip(&headers, Some(proxy), trusted),
            "203.0.113.7".parse().ok()
        );
        let stranger: IpAddr = "198.51.100.1".parse().expect("ip");
        assert_eq!(client_ip(&headers, Some(stranger), trusted), Some(stranger));
    }

    #[test]
    fn cookies_and_bearer_tokens_are_read_from_their_headers() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::COOKIE,
            "a=1; fastgate=s3cret; b=2".parse().expect("v"),
        );
        headers.insert(header::AUTHORIZATION, "Bearer fgt_abc".parse().expect("v"));
        use secrecy::ExposeSecret as _;
        let token = session_cookie(&headers, "fastgate").expect("cookie");
        assert_eq!(token.expose_secret(), "s3cret");
        assert!(session_cookie(&headers, "__Host-fastgate").is_none());
        assert_eq!(bearer(&headers), Some("fgt_abc"));
    }
}

//! Upload-request links in the web layer (DESIGN §3b, issue 10): an editor asks outsiders for
//! files into one folder, and the outsiders upload without an account.
//!
//! - [`api`]: `POST/GET /api/links`, `GET/DELETE /api/links/{id}` (JSON; the creator or an
//!   admin sees and revokes, which [`crate::access`] enforces).
//! - [`pages`]: `/links` (list, create, revoke) and `/links/{id}` (a link with its
//!   submissions); a "Request files" form on every folder page posts to `/links?/create`.
//! - [`visit`]: the link itself, `GET/POST /r/{token}`: an upload-only page that never lists the
//!   folder nor offers any download; each POST is one submission through the same streaming
//!   loop as every form upload ([`crate::web::uploads::receive_into`]) under the link's limits.
//! - [`chunked`]: the JS path of a link, `POST /r/{token}/uploads` (one file's chunked session,
//!   its quota reserved in the submission first) and `POST /r/{token}/done` (the submission is
//!   over: its webhook goes out); the chunks and `complete` use the usual `/api/uploads/{id}/…`
//!   with an upload token that carries the link's claims.
//! - [`notify`]: the signed webhook after each submission.
//!
//! The `/r/…` routes are [`Need::Public`]: the link token is their capability, checked by each
//! handler through [`crate::access`] (revoked, expired and used-up links answer 410 at once on
//! every replica; a wrong password 401, throttled like sign-in). The visitor then acts as the
//! link's principal ([`crate::access::Link::principal`]): the audit log names the link.

pub mod api;
pub mod chunked;
pub mod notify;
pub mod pages;
pub mod visit;

use axum::extract::DefaultBodyLimit;
use axum::handler::Handler as _;
use axum::http::Method;
use axum::routing::post;

use super::auth::{Caller, Need};
use super::routes::Routes;
use crate::access::{Capability, Link};

/// This module's routes. Managing links needs [`Capability::ManageLinks`] on some workspace to
/// get in (the workspace of a new link is in the body and checked with [`Caller::allow`]; which
/// links one sees is decided by [`crate::access`]).
pub fn routes(r: Routes) -> Routes {
    let manage = Need::InBody(Capability::ManageLinks);
    r.post("/api/links", manage, api::create)
        .get("/api/links", manage, api::list)
        .get("/api/links/{id}", manage, api::details)
        .delete("/api/links/{id}", manage, api::revoke)
        .get("/links", manage, pages::list_page)
        .post("/links", manage, pages::act)
        .get("/links/{id}", manage, pages::details_page)
        .get("/r/{token}", Need::Public, visit::show)
        .method_router(
            Method::POST,
            "/r/{token}",
            Need::Public,
            post(visit::submit.layer(super::uploads::close_connection()))
                .layer(DefaultBodyLimit::disable()),
        )
        .post("/r/{token}/uploads", Need::Public, chunked::create)
        .post("/r/{token}/done", Need::Public, chunked::done)
}

/// The public URL of a link's token: `<PUBLIC_URL>/r/<token>`.
pub fn link_url(public_url: &str, token: &str) -> String {
    format!("{}/r/{token}", public_url.trim_end_matches('/'))
}

/// The caller of a link visit, acting as the link (for the audit log and the upload loop).
pub fn as_link(caller: &Caller, link: &Link) -> Caller {
    let mut visitor = caller.clone();
    visitor.principal = Some(link.principal());
    visitor
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::web::routes::table;

    #[test]
    fn every_link_route_is_listed_with_its_need_and_only_r_routes_are_public() {
        let table = table();
        let need = |method: Method, path: &str| {
            table
                .iter()
                .find(|r| r.method == method && r.path == path)
                .map(|r| r.need)
                .unwrap_or_else(|| panic!("{method} {path} is not in the route table"))
        };
        let manage = Need::InBody(Capability::ManageLinks);
        for (method, path) in [
            (Method::POST, "/api/links"),
            (Method::GET, "/api/links"),
            (Method::GET, "/api/links/{id}"),
            (Method::DELETE, "/api/links/{id}"),
            (Method::GET, "/links"),
            (Method::POST, "/links"),
            (Method::GET, "/links/{id}"),
        ] {
            assert_eq!(need(method.clone(), path), manage, "{method} {path}");
        }
        for (method, path) in [
            (Method::GET, "/r/{token}"),
            (Method::POST, "/r/{token}"),
            (Method::POST, "/r/{token}/uploads"),
            (Method::POST, "/r/{token}/done"),
        ] {
            assert_eq!(need(method.clone(), path), Need::Public, "{method} {path}");
        }
    }

    #[test]
    fn a_link_url_is_the_public_url_and_the_token() {
        assert_eq!(
            link_url("https://files.example/", "abc"),
            "https://files.example/r/abc"
        );
    }
}

//! The route table: every route needs a named capability or is on the public list, and an
//! anonymous request to any protected route is refused the way its kind says (401 for JSON,
//! downloads and the upload API; a redirect to `/signin` for pages).

use fastgate::web::auth::Need;
use fastgate::web::routes::{RouteSpec, table};
use reqwest::{Method, StatusCode};

use crate::common::spawn_app;

/// The only routes anyone may call (DESIGN §5): health, static files, sign-in, setup and
/// upload-request links.
const PUBLIC: &[&str] = &[
    "/healthz", "/readyz", "/static/", "/signin", "/setup", "/r/",
];

fn is_public_path(path: &str) -> bool {
    PUBLIC
        .iter()
        .any(|p| path == *p || (p.ends_with('/') && path.starts_with(p)))
}

#[test]
fn every_route_needs_a_named_capability_or_is_on_the_public_list() {
    let routes = table();
    assert!(routes.len() > 20, "the table lists the routes: {routes:?}");
    for RouteSpec { method, path, need } in &routes {
        match need {
            Need::Public => assert!(
                is_public_path(path),
                "{method} {path} is public but not on the public list"
            ),
            Need::On(_) | Need::Action => assert!(
                path.contains("{workspace}"),
                "{method} {path} checks a workspace it does not name"
            ),
            Need::UploadToken => assert!(
                path.starts_with("/api/uploads/{id}"),
                "{method} {path} trusts an upload token"
            ),
            Need::SignedIn | Need::InBody(_) | Need::Global(_) | Need::Operator => {}
        }
    }
}

/// `path` with every `{param}` filled in for `workspace`.
fn concrete(path: &str, workspace: &str) -> String {
    path.replace("{workspace}", workspace)
        .replace("{folder}", "root")
        .replace("{node}", "n1")
        .replace("{id}", "1")
        .replace("{n}", "1")
        .replace("{file}", "app.css")
        .replace("{username}", "admin")
        .replace("{token}", "not-a-link")
}

#[tokio::test(flavor = "multi_thread")]
async fn anonymous_requests_to_protected_routes_get_401_or_a_redirect_to_sign_in() {
    let gw = spawn_app().await;
    let anonymous = gw.anonymous();
    for RouteSpec { method, path, need } in table() {
        let url = format!("{}{}", gw.url, concrete(path, &gw.workspace));
        let request = anonymous
            .client
            .request(method.clone(), &url)
            .header("origin", gw.origin());
        let r = anonymous.send(request).await;
        // Bytes (downloads, previews, thumbnails) answer 401 like the API: an <img> or <video>
        // cannot follow a redirect to a sign-in page.
        let bytes = ["/api/", "/download/", "/preview/", "/thumb/"]
            .iter()
            .any(|p| path.starts_with(p));
        let page = !bytes && need != Need::Operator;
        match need {
            Need::Public => assert!(
                r.status != StatusCode::UNAUTHORIZED
                    && !r
                        .header("location")
                        .is_some_and(|l| l.starts_with("/signin")),
                "{method} {path} is public yet refused: {} {}",
                r.status,
                r.text()
            ),
            Need::UploadToken => {
                assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{method} {path}");
                assert_eq!(
                    r.json()["error"]["code"],
                    "invalid_token",
                    "{method} {path}"
                );
            }
            _ if page => {
                assert_eq!(
                    r.status,
                    StatusCode::SEE_OTHER,
                    "{method} {path}: {}",
                    r.text()
                );
                let location = r.header("location").unwrap_or_default();
                assert!(
                    location.starts_with("/signin?next="),
                    "{method} {path} → {location}"
                );
                if method == Method::GET {
                    assert!(location.contains("%2F"), "{path} comes back after sign-in");
                }
            }
            _ => {
                assert_eq!(
                    r.status,
                    StatusCode::UNAUTHORIZED,
                    "{method} {path}: {}",
                    r.text()
                );
                assert_eq!(
                    r.json()["error"]["code"],
                    "unauthenticated",
                    "{method} {path}"
                );
            }
        }
    }
}

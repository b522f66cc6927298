//! The published API description (DESIGN §3d): an OpenAPI 3.1 document generated from the
//! handlers' `#[utoipa::path]` annotations and the `ToSchema` types they answer with, served at
//! `GET /openapi.json`, so it cannot drift from the code.
//!
//! Which routes are JSON ([`is_json_route`]): every `/api/…` route, plus the health probes, this
//! document, the JSON half of upload-request links (`/r/{token}/uploads`, `/r/{token}/done`)
//! and the form actions whose answer to `Accept: application/json` is an action result
//! (`POST /upload`, `POST /w/{workspace}/{folder}`, `POST /r/{token}`). Pages, downloads,
//! previews, static files and `/metrics` are not JSON and are not described.
//!
//! Adding a JSON route: annotate its handler with `#[utoipa::path(…)]` next to it (method,
//! path exactly as in the route table, every status it answers, `body = ErrorBody` for errors),
//! derive `utoipa::ToSchema` on its types, and list the handler in [`ApiDoc`]'s `paths(…)`.
//! The test `every_json_route_is_described_and_nothing_else` names any route left out.

use axum::Json;
use axum::http::Method;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{OpenApi as Document, PathItem, SecurityRequirement};
use utoipa::{Modify, OpenApi};

use super::auth::Need;
use super::routes::{RouteSpec, Routes};

/// Routes outside `/api/` that answer JSON, described in the document.
pub const JSON_OUTSIDE_API: &[(&str, &str)] = &[
    ("GET", "/healthz"),
    ("GET", "/readyz"),
    ("GET", "/openapi.json"),
    ("POST", "/upload"),
    ("POST", "/w/{workspace}/{folder}"),
    ("POST", "/r/{token}"),
    ("POST", "/r/{token}/uploads"),
    ("POST", "/r/{token}/done"),
];

/// Whether the route `method path` answers JSON (and so must be in the document).
pub fn is_json_route(method: &Method, path: &str) -> bool {
    path.starts_with("/api/")
        || JSON_OUTSIDE_API
            .iter()
            .any(|(m, p)| *m == method.as_str() && *p == path)
}

/// The document's parts: every described handler and the schemas they use.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "fastgate",
        description = "The JSON API of fastgate, a streaming upload gateway and file browser for \
            Fast.io workspaces. Errors always have one shape, `ErrorBody`. State-changing form \
            posts need the gateway's own `Origin`.",
        license(name = "MIT"),
    ),
    paths(
        super::api::workspaces,
        super::api::files_root,
        super::api::files,
        super::auth::api::list_tokens,
        super::auth::api::create_token,
        super::auth::api::revoke_token,
        super::auth::api::list_users,
        super::auth::api::create_user,
        super::auth::api::change_user,
        super::auth::api::audit,
        super::files::patch,
        super::files::remove,
        super::files::restore_json,
        super::files::versions_json,
        super::files::restore_version_json,
        super::files::trash_json,
        super::files::purge_json,
        super::files::search_json,
        super::upload_api::create,
        super::upload_api::progress,
        super::upload_api::put_chunk,
        super::upload_api::complete,
        super::upload_api::cancel,
        super::actions::act,
        super::uploads::page::post_upload,
        super::links::api::create,
        super::links::api::list,
        super::links::api::details,
        super::links::api::revoke,
        super::links::visit::submit,
        super::links::chunked::create,
        super::links::chunked::done,
        super::health::healthz,
        super::health::readyz,
        openapi_json,
    ),
    components(schemas(super::error::ErrorBody)),
    modifiers(&Security),
    tags(
        (name = "files", description = "Workspaces, listings and file management"),
        (name = "uploads", description = "The chunked upload API and the form actions"),
        (name = "access", description = "API tokens, users and the audit log"),
        (name = "links", description = "Upload-request links"),
        (name = "health", description = "Probes and this document"),
    ),
)]
pub struct ApiDoc;

/// The Bearer scheme (`Authorization: Bearer fgt_…`), required by every operation whose route
/// is not public; the upload API's `Upload-Token` header is a parameter of its own.
struct Security;

impl Modify for Security {
    fn modify(&self, doc: &mut Document) {
        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            BEARER,
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("fgt_…")
                    .description(Some(
                        "An API token (`fastgate token add`, `POST /api/tokens`)",
                    ))
                    .build(),
            ),
        );
        let public: Vec<RouteSpec> = super::routes::table()
            .into_iter()
            .filter(|r| matches!(r.need, Need::Public | Need::UploadToken))
            .collect();
        for (path, item) in doc.paths.paths.iter_mut() {
            for (method, op) in operations_mut(item) {
                let open = public
                    .iter()
                    .any(|r| r.path == path.as_str() && r.method == method);
                if !open {
                    op.security = Some(vec![SecurityRequirement::new::<_, _, &str>(BEARER, [])]);
                }
            }
        }
    }
}

/// The security scheme's name.
const BEARER: &str = "bearer";

/// Each operation of a path item with its method.
fn operations_mut(item: &mut PathItem) -> Vec<(Method, &mut utoipa::openapi::path::Operation)> {
    [
        (Method::GET, item.get.as_mut()),
        (Method::PUT, item.put.as_mut()),
        (Method::POST, item.post.as_mut()),
        (Method::DELETE, item.delete.as_mut()),
        (Method::PATCH, item.patch.as_mut()),
        (Method::HEAD, item.head.as_mut()),
        (Method::OPTIONS, item.options.as_mut()),
        (Method::TRACE, item.trace.as_mut()),
    ]
    .into_iter()
    .filter_map(|(m, op)| Some((m, op?)))
    .collect()
}

/// The whole document.
pub fn document() -> Document {
    let mut doc = ApiDoc::openapi();
    doc.info.version = env!("CARGO_PKG_VERSION").to_owned();
    doc
}

/// Every `(method, path)` the document describes.
pub fn operations(doc: &Document) -> Vec<(Method, String)> {
    let mut out = Vec::new();
    for (path, item) in &doc.paths.paths {
        let mut item = item.clone();
        for (method, _) in operations_mut(&mut item) {
            out.push((method, path.clone()));
        }
    }
    out
}

/// This module's route.
pub fn routes(r: Routes) -> Routes {
    r.get("/openapi.json", Need::Public, openapi_json)
}

/// `GET /openapi.json`: this document.
#[utoipa::path(get, path = "/openapi.json", tag = "health",
    responses((status = 200, description = "The OpenAPI 3.1 description of the JSON API",
        content_type = "application/json", body = Object)))]
pub async fn openapi_json() -> Json<Document> {
    Json(document())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_json_route_is_described_and_nothing_else() {
        let doc = document();
        let described = operations(&doc);
        let table = super::super::routes::table();
        let mut missing = Vec::new();
        for r in &table {
            if is_json_route(&r.method, r.path)
                && !described.iter().any(|(m, p)| *m == r.method && p == r.path)
            {
                missing.push(format!("{} {}", r.method, r.path));
            }
        }
        assert!(
            missing.is_empty(),
            "JSON routes missing from /openapi.json (annotate the handler with \
             #[utoipa::path(...)] and list it in ApiDoc's paths): {missing:?}"
        );
        let unknown: Vec<String> = described
            .iter()
            .filter(|(m, p)| !table.iter().any(|r| r.method == *m && r.path == p.as_str()))
            .map(|(m, p)| format!("{m} {p}"))
            .collect();
        assert!(
            unknown.is_empty(),
            "/openapi.json describes routes the router does not serve: {unknown:?}"
        );
        let not_json: Vec<String> = described
            .iter()
            .filter(|(m, p)| !is_json_route(m, p))
            .map(|(m, p)| format!("{m} {p}"))
            .collect();
        assert!(
            not_json.is_empty(),
            "described but not counted as JSON routes (add to JSON_OUTSIDE_API): {not_json:?}"
        );
    }

    #[test]
    fn the_document_is_openapi_3_1_with_the_bearer_scheme_on_protected_routes() {
        let doc = serde_json::to_value(document()).expect("json");
        assert!(
            doc["openapi"]
                .as_str()
                .is_some_and(|v| v.starts_with("3.1"))
        );
        assert_eq!(
            doc["components"]["securitySchemes"]["bearer"]["scheme"],
            "bearer"
        );
        assert_eq!(
            doc["paths"]["/api/workspaces"]["get"]["security"][0]["bearer"],
            serde_json::json!([])
        );
        assert!(doc["paths"]["/healthz"]["get"]["security"].is_null());
    }

    #[test]
    fn every_operation_documents_its_errors_with_the_one_error_shape() {
        let doc = serde_json::to_value(document()).expect("json");
        let paths = doc["paths"].as_object().expect("paths");
        for (path, item) in paths {
            for (method, op) in item.as_object().expect("item") {
                let responses = op["responses"].as_object().expect("responses");
                assert!(
                    responses
                        .keys()
                        .any(|s| s.starts_with('2') || s.starts_with('3')),
                    "{method} {path} documents no success"
                );
                for (status, response) in responses {
                    if status.starts_with('4') || status.starts_with('5') {
                        let schema = &response["content"]["application/json"]["schema"]["$ref"];
                        assert!(
                            schema.as_str().is_some_and(|s| s.ends_with("/ErrorBody"))
                                || path == "/readyz"
                                || op["tags"][0] == "uploads" && path.starts_with("/w/")
                                || path.starts_with("/r/{token}")
                                    && !path.ends_with("/done")
                                    && !path.ends_with("/uploads")
                                || path == "/upload",
                            "{method} {path} {status} is not the one error shape: {response}"
                        );
                    }
                }
            }
        }
    }
}

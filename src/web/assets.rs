//! The static assets (`/static/…`), compiled into the binary so the container needs no files
//! beside it. Each answer carries an ETag (a digest of the bytes) and `Cache-Control: no-cache`,
//! so browsers revalidate cheaply and never run a stale `upload.js` after a deploy.

use std::sync::LazyLock;

use axum::extract::Path;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::upload::digest::Sha256Digest;
use crate::web::auth::Need;
use crate::web::error::AppError;
use crate::web::routes::Routes;

/// One embedded file.
struct Asset {
    name: &'static str,
    content_type: &'static str,
    bytes: &'static [u8],
}

const FILES: [Asset; 7] = [
    Asset {
        name: "app.css",
        content_type: "text/css; charset=utf-8",
        bytes: include_bytes!("../../static/app.css"),
    },
    Asset {
        name: "upload.js",
        content_type: "text/javascript; charset=utf-8",
        bytes: include_bytes!("../../static/upload.js"),
    },
    Asset {
        name: "upload-transfer.js",
        content_type: "text/javascript; charset=utf-8",
        bytes: include_bytes!("../../static/upload-transfer.js"),
    },
    Asset {
        name: "upload-row.js",
        content_type: "text/javascript; charset=utf-8",
        bytes: include_bytes!("../../static/upload-row.js"),
    },
    Asset {
        name: "ask.js",
        content_type: "text/javascript; charset=utf-8",
        bytes: include_bytes!("../../static/ask.js"),
    },
    Asset {
        name: "files.js",
        content_type: "text/javascript; charset=utf-8",
        bytes: include_bytes!("../../static/files.js"),
    },
    Asset {
        name: "favicon.svg",
        content_type: "image/svg+xml",
        bytes: include_bytes!("../../static/favicon.svg"),
    },
];

/// ETags, computed once.
static ETAGS: LazyLock<Vec<String>> = LazyLock::new(|| {
    FILES
        .iter()
        .map(|f| format!("\"{}\"", &Sha256Digest::of(f.bytes).to_hex()[..20]))
        .collect()
});

/// `GET /static/{file}`.
pub fn routes(r: Routes) -> Routes {
    r.get("/static/{file}", Need::Public, serve)
}

async fn serve(Path(file): Path<String>, headers: HeaderMap) -> Result<Response, AppError> {
    let index = FILES
        .iter()
        .position(|f| f.name == file)
        .ok_or_else(|| AppError::NotFound("no such file".into()))?;
    let asset = &FILES[index];
    let etag = ETAGS[index].as_str();
    let cache = [(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"))];
    let fresh = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|tag| tag.trim() == etag));
    let etag_header = (
        header::ETAG,
        HeaderValue::from_str(etag).unwrap_or(HeaderValue::from_static("\"\"")),
    );
    if fresh {
        return Ok((StatusCode::NOT_MODIFIED, cache, [etag_header]).into_response());
    }
    let content_type = (
        header::CONTENT_TYPE,
        HeaderValue::from_static(asset.content_type),
    );
    Ok((cache, [etag_header, content_type], asset.bytes).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use axum::http::Request;
    use tower::ServiceExt as _;

    async fn get(path: &str, if_none_match: Option<&str>) -> Response {
        let mut req = Request::get(path);
        if let Some(tag) = if_none_match {
            req = req.header(header::IF_NONE_MATCH, tag);
        }
        axum::Router::new()
            .route("/static/{file}", axum::routing::get(serve))
            .oneshot(req.body(Body::empty()).expect("request"))
            .await
            .expect("response")
    }

    #[tokio::test]
    async fn assets_are_served_with_type_and_etag_and_revalidate_to_304() {
        let r = get("/static/app.css", None).await;
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(r.headers()[header::CONTENT_TYPE], "text/css; charset=utf-8");
        let etag = r.headers()[header::ETAG].to_str().expect("etag").to_owned();
        assert_eq!(
            get("/static/app.css", Some(&etag)).await.status(),
            StatusCode::NOT_MODIFIED
        );
        assert_eq!(
            get("/static/upload.js", None).await.headers()[header::CONTENT_TYPE],
            "text/javascript; charset=utf-8"
        );
    }

    #[tokio::test]
    async fn unknown_assets_are_404() {
        assert_eq!(
            get("/static/..%2Fsecret", None).await.status(),
            StatusCode::NOT_FOUND
        );
        assert_eq!(
            get("/static/nope.css", None).await.status(),
            StatusCode::NOT_FOUND
        );
    }
}

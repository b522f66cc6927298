//! The one bridge from askama to axum (askama 0.14 has no axum integration): a rendered template
//! becomes an HTML response, and a render failure becomes a logged, opaque 500.

use askama::Template;
use axum::http::header;
use axum::response::{IntoResponse, Response};

use crate::web::error::AppError;

/// An askama template answered as `text/html`.
pub struct Html<T>(pub T);

impl<T: Template> IntoResponse for Html<T> {
    fn into_response(self) -> Response {
        match self.0.render() {
            Ok(body) => {
                ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], body).into_response()
            }
            Err(e) => AppError::from(e).into_response(),
        }
    }
}

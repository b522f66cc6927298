//! Form uploads (no JavaScript): `GET /upload`, `POST /upload`, and the `?/upload` action of a
//! folder page, each streaming every `file` part through the upload pipeline.

use axum::Router;
use axum::extract::Multipart;
use axum::http::StatusCode;

use super::AppState;
use super::templates::FileOutcome;
use crate::error::AppError;

/// Where the files of a form post go.
#[derive(Clone, Debug)]
pub enum Destination {
    /// A folder page's `?/upload` action: the folder is in the URL.
    Folder {
        /// Workspace id.
        workspace: String,
        /// Folder id (`root` for the root).
        folder: String,
    },
    /// The stand-alone upload page: `workspace` and `folder` text fields precede the files.
    FromForm,
}

/// What a form post did: one outcome per file, successes and failures together.
#[derive(Debug)]
pub struct UploadReport {
    /// The workspace the files went to.
    pub workspace: String,
    /// The folder the files went to.
    pub folder: String,
    /// One per `file` part, in order.
    pub outcomes: Vec<FileOutcome>,
    /// 200 when every file was stored; otherwise the status of the first failure (413, 415, …).
    pub status: StatusCode,
}

/// Streams every `file` part of `multipart` to `destination` (being built: see the upload issue).
pub async fn receive(
    _state: &AppState,
    _destination: Destination,
    _multipart: Multipart,
) -> Result<UploadReport, AppError> {
    Err(AppError::Unavailable(
        "form uploads are not wired yet".to_owned(),
    ))
}

/// This module's routes.
pub fn router() -> Router<AppState> {
    Router::new()
}

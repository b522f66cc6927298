//! File versions (`fastio-api.md` §6.9): list, download one, restore one.
//!
//! A download token is not tied to a version; the version is picked on the read with
//! `version_id`. Restoring sends `version_id` to `restore-version/` (there is no
//! `/versions/{id}/restore/` path); whether Fast.io then adds a new version or makes the old id
//! current is unverified, so the client returns the node as re-read and never assumes
//! `version == version_id`. A restore is sent once (a replay would add another version).

use super::client::Client;
use super::error::Error;
use super::retry::Replay;
use super::types::{Download, Node, Version};

impl Client {
    /// `GET …/storage/{node}/versions/`: the file's versions as Fast.io orders them (the
    /// emulator: newest first, the current one included and flagged).
    pub async fn versions(&self, ws: &str, node: &str) -> Result<Vec<Version>, Error> {
        let path = self.node_path(ws, node, "versions/")?;
        let op = self.op(
            "GET /workspace/{ws}/storage/{node}/versions/",
            Replay::Idempotent,
        );
        let payload = self.call(op, |http| http.get(self.url(&path))).await?;
        Ok(payload
            .collection(&["versions", "items"])
            .iter()
            .filter_map(Version::from_value)
            .collect())
    }

    /// Streams one version's bytes: `requestread/`, then `read/?token=…&version_id=…` without
    /// the key. An unknown version → [`Error::NotFound`].
    pub async fn read_version(
        &self,
        ws: &str,
        node: &str,
        version: &str,
        range: Option<&str>,
    ) -> Result<Download, Error> {
        if version.is_empty() {
            return Err(Error::InvalidArgument("the version id is empty".into()));
        }
        let token = self.request_read(ws, node).await?;
        self.read_at(ws, node, &token, Some(version), range).await
    }

    /// `POST …/storage/{node}/restore-version/` with `version_id`: makes that content current.
    /// Returns the node re-read from `details/` (with its new `version`).
    pub async fn restore_version(
        &self,
        ws: &str,
        node: &str,
        version: &str,
    ) -> Result<Node, Error> {
        if version.is_empty() {
            return Err(Error::InvalidArgument("the version id is empty".into()));
        }
        let path = self.node_path(ws, node, "restore-version/")?;
        let op = self.op(
            "POST /workspace/{ws}/storage/{node}/restore-version/",
            Replay::Once,
        );
        self.call(op, |http| {
            http.post(self.url(&path)).form(&[("version_id", version)])
        })
        .await?;
        self.node(ws, node).await
    }
}

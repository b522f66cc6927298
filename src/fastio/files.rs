//! File management (`fastio-api.md` §6.5): rename, move, copy, delete to the trash, restore,
//! purge, empty the trash, and the trash listing.
//!
//! Every success payload here is unverified upstream, so a returned node is used only when the
//! answer carries one; otherwise the client re-reads `details/` (after a copy it finds the new
//! node by name in the target folder). Retries follow what a replay would do: a rename, a move,
//! a delete and emptying the trash end in the same state when repeated (idempotent); a copy
//! would make a second copy, a restore or a purge answers an error the second time, so those
//! are sent once (retried only on a 429 or a failure to connect).

use super::client::{Client, segment};
use super::envelope::{Payload, parse};
use super::error::Error;
use super::retry::Replay;
use super::types::{FolderPage, ListQuery, Node, PageSize};

impl Client {
    /// `…/storage/{node}/…` for one node, both parts encoded.
    pub(crate) fn node_path(&self, ws: &str, node: &str, tail: &str) -> Result<String, Error> {
        Ok(format!(
            "/workspace/{}/storage/{}/{tail}",
            segment(ws, "workspace id")?,
            segment(node, "node id")?
        ))
    }

    /// The node in `payload` (under `node`), or else `details/` of `fallback`.
    async fn node_or_details(
        &self,
        payload: Payload,
        ws: &str,
        fallback: &str,
    ) -> Result<Node, Error> {
        match payload.0.get("node").filter(|n| n.is_object()) {
            Some(node) => parse(node.clone(), "node"),
            None => self.node(ws, fallback).await,
        }
    }

    /// `POST …/storage/{node}/update/` with `name`: renames a file or folder. A sibling of the
    /// same name → [`Error::Upstream`] 400 / 1605. Empty names are refused before sending.
    pub async fn rename(&self, ws: &str, node: &str, name: &str) -> Result<Node, Error> {
        if name.trim().is_empty() {
            return Err(Error::InvalidArgument("the new name is empty".into()));
        }
        let path = self.node_path(ws, node, "update/")?;
        let op = self.op(
            "POST /workspace/{ws}/storage/{node}/update/",
            Replay::Idempotent,
        );
        let payload = self
            .call(op, |http| {
                http.post(self.url(&path)).form(&[("name", name)])
            })
            .await?;
        self.node_or_details(payload, ws, node).await
    }

    /// `POST …/storage/{node}/move/` with `parent` (a folder id or `root`). A same-named file in
    /// the target is trashed by Fast.io first; a clash with a folder renames the moved node
    /// `name (2)`. Returns the moved node (read its `name`).
    pub async fn move_node(&self, ws: &str, node: &str, parent: &str) -> Result<Node, Error> {
        segment(parent, "target folder id")?;
        let path = self.node_path(ws, node, "move/")?;
        let op = self.op(
            "POST /workspace/{ws}/storage/{node}/move/",
            Replay::Idempotent,
        );
        let payload = self
            .call(op, |http| {
                http.post(self.url(&path)).form(&[("parent", parent)])
            })
            .await?;
        self.node_or_details(payload, ws, node).await
    }

    /// `POST …/storage/{node}/copy/` with `parent`: a deep copy with new ids. Sent once.
    /// Returns the new node: `node`, else `id`, else found by name in the target folder.
    pub async fn copy_node(&self, ws: &str, node: &str, parent: &str) -> Result<Node, Error> {
        segment(parent, "target folder id")?;
        let path = self.node_path(ws, node, "copy/")?;
        let op = self.op("POST /workspace/{ws}/storage/{node}/copy/", Replay::Once);
        let payload = self
            .call(op, |http| {
                http.post(self.url(&path)).form(&[("parent", parent)])
            })
            .await?;
        if let Some(node) = payload.0.get("node").filter(|n| n.is_object()) {
            return parse(node.clone(), "copied node");
        }
        if let Some(id) = payload.id(&["id", "new_node_id", "node_id"]) {
            return self.node(ws, &id).await;
        }
        let source = self.node(ws, node).await?;
        self.find_copy(ws, parent, &source).await
    }

    /// The newest node in `parent` named like `source` (`name` or `stem (n).ext`) that is not
    /// `source` itself.
    async fn find_copy(&self, ws: &str, parent: &str, source: &Node) -> Result<Node, Error> {
        let (stem, ext) = match source.name.rfind('.') {
            Some(i) if i > 0 => source.name.split_at(i),
            _ => (source.name.as_str(), ""),
        };
        let like = |name: &str| {
            name.eq_ignore_ascii_case(&source.name)
                || name
                    .strip_prefix(stem)
                    .and_then(|rest| rest.strip_suffix(ext))
                    .is_some_and(|mid| mid.starts_with(" (") && mid.ends_with(')'))
        };
        let mut best: Option<Node> = None;
        let mut query = ListQuery {
            page_size: PageSize::P500,
            ..ListQuery::default()
        };
        loop {
            let FolderPage { nodes, next_cursor } = self.list_folder(ws, parent, &query).await?;
            for n in nodes {
                if n.id != source.id
                    && like(&n.name)
                    && best.as_ref().is_none_or(|b| n.created > b.created)
                {
                    best = Some(n);
                }
            }
            match next_cursor {
                Some(c) => query.cursor = Some(c),
                None => break,
            }
        }
        best.ok_or_else(|| Error::InvalidResponse("copy: the new node was not found".into()))
    }

    /// `DELETE …/storage/{node}/delete/`: to the trash (a folder with its subtree). Deleting a
    /// node already in the trash succeeds.
    pub async fn delete_node(&self, ws: &str, node: &str) -> Result<(), Error> {
        if node == "trash" {
            return Err(Error::InvalidArgument(
                "use empty_trash to empty the trash".into(),
            ));
        }
        let path = self.node_path(ws, node, "delete/")?;
        let op = self.op(
            "DELETE /workspace/{ws}/storage/{node}/delete/",
            Replay::Idempotent,
        );
        self.call(op, |http| http.delete(self.url(&path))).await?;
        Ok(())
    }

    /// `POST …/storage/{node}/restore/`: back from the trash into the folder it was deleted
    /// from, or into `root` when that folder is gone. Sent once. Returns the restored node
    /// (its `parent` and `name` may differ from before).
    pub async fn restore_node(&self, ws: &str, node: &str) -> Result<Node, Error> {
        let path = self.node_path(ws, node, "restore/")?;
        let op = self.op("POST /workspace/{ws}/storage/{node}/restore/", Replay::Once);
        let payload = self
            .call(op, |http| {
                http.post(self.url(&path)).form(&[] as &[(&str, &str)])
            })
            .await?;
        self.node_or_details(payload, ws, node).await
    }

    /// `DELETE …/storage/{node}/purge/`: removes a trashed node for good. A live node →
    /// [`Error::Upstream`] 400 / 1605. Sent once.
    pub async fn purge_node(&self, ws: &str, node: &str) -> Result<(), Error> {
        let path = self.node_path(ws, node, "purge/")?;
        let op = self.op("DELETE /workspace/{ws}/storage/{node}/purge/", Replay::Once);
        self.call(op, |http| http.delete(self.url(&path))).await?;
        Ok(())
    }

    /// `DELETE …/storage/trash/delete/`: purges everything in the trash.
    pub async fn empty_trash(&self, ws: &str) -> Result<(), Error> {
        let path = self.node_path(ws, "trash", "delete/")?;
        let op = self.op(
            "DELETE /workspace/{ws}/storage/trash/delete/",
            Replay::Idempotent,
        );
        self.call(op, |http| http.delete(self.url(&path))).await?;
        Ok(())
    }

    /// One page of `GET …/storage/trash/list/`: the top-level trashed nodes.
    pub async fn list_trash(&self, ws: &str, q: &ListQuery) -> Result<FolderPage, Error> {
        self.list_folder(ws, "trash", q).await
    }
}

//! Storage: listing, node details, folders, downloads and File Share links (`fastio-api.md` §6).

use std::time::SystemTime;

use futures_util::TryStreamExt;
use reqwest::header::{self, HeaderMap};
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::client::{Client, Op, read_bounded, segment};
use super::envelope::{self, parse};
use super::error::Error;
use super::retry::Replay;
use super::types::{Download, Expiry, FileShare, FileShareParams, FolderPage, ListQuery, Node};

/// Error bodies of downloads are read up to this size.
const MAX_DOWNLOAD_ERROR_BYTES: usize = 64 * 1024;

/// A listing page: read straight into its types when it has the usual shape (nodes as an array
/// under `nodes`, `files` or `items`, at the top level or under `response`), which skips
/// building a JSON tree of up to 500 nodes; any other shape, and every failure, goes through
/// the tolerant envelope decoding.
fn decode_folder_page<N: DeserializeOwned>(
    status: reqwest::StatusCode,
    headers: &HeaderMap,
    body: &[u8],
    now: SystemTime,
) -> Result<FolderPage<N>, Error> {
    if status.is_success()
        && let Some(page) = TypedPage::read(body)
    {
        return Ok(page);
    }
    page_from_envelope(envelope::decode(status, headers, body, now)?)
}

/// A listing page from the tolerant envelope: nodes under `nodes`, `files` or `items` (array or
/// id-keyed map), `next_cursor` at the top level or inside `pagination`.
fn page_from_envelope<N: DeserializeOwned>(
    mut payload: envelope::Payload,
) -> Result<FolderPage<N>, Error> {
    let next_cursor = payload
        .paginated("next_cursor")
        .and_then(super::de::id)
        .filter(|cursor| !cursor.is_empty());
    let nodes = payload
        .take_collection(&["nodes", "files", "items"])
        .into_iter()
        .map(|record| parse(record, "listed node"))
        .collect::<Result<Vec<N>, Error>>()?;
    Ok(FolderPage { nodes, next_cursor })
}

/// The usual shape of a listing answer, for [`decode_folder_page`]'s fast path (a missing
/// field is `None`).
#[derive(serde::Deserialize)]
struct TypedPage<N> {
    result: Option<Value>,
    success: Option<Value>,
    nodes: Option<Vec<N>>,
    files: Option<Vec<N>>,
    items: Option<Vec<N>>,
    next_cursor: Option<Value>,
    pagination: Option<TypedPagination>,
    response: Option<Box<TypedPage<N>>>,
}

#[derive(serde::Deserialize, Default)]
#[serde(default)]
struct TypedPagination {
    next_cursor: Option<Value>,
}

impl<N: DeserializeOwned> TypedPage<N> {
    /// The page, if `body` has the usual shape and says it succeeded.
    fn read(body: &[u8]) -> Option<FolderPage<N>> {
        // Checked as UTF-8 once, in one fast pass, instead of string by string.
        let text = std::str::from_utf8(body).ok()?;
        let top: TypedPage<N> = serde_json::from_str(text).ok()?;
        let succeeded = top
            .result
            .as_ref()
            .or(top.success.as_ref())
            .and_then(super::de::flag);
        if succeeded == Some(false) {
            return None;
        }
        // As the envelope merges them: what is under `response` wins.
        let (mut outer, inner) = match top.response {
            Some(inner) => (
                TypedPage {
                    response: None,
                    ..top
                },
                Some(*inner),
            ),
            None => (top, None),
        };
        let (nodes, cursor) = match inner {
            Some(mut inner) => match inner.take_nodes() {
                Some(nodes) => (nodes, inner.cursor().or_else(|| outer.cursor())),
                None => (
                    outer.take_nodes()?,
                    inner.cursor().or_else(|| outer.cursor()),
                ),
            },
            None => (outer.take_nodes()?, outer.cursor()),
        };
        let next_cursor = cursor
            .as_ref()
            .and_then(super::de::id)
            .filter(|cursor| !cursor.is_empty());
        Some(FolderPage { nodes, next_cursor })
    }

    /// The first collection present, as the envelope's `take_collection` picks it.
    fn take_nodes(&mut self) -> Option<Vec<N>> {
        self.nodes
            .take()
            .or_else(|| self.files.take())
            .or_else(|| self.items.take())
    }

    /// `next_cursor` at the top level, or else inside `pagination`.
    fn cursor(&mut self) -> Option<Value> {
        self.next_cursor
            .take()
            .filter(|v| !v.is_null())
            .or_else(|| self.pagination.take().and_then(|p| p.next_cursor))
    }
}

impl Client {
    /// One page of `GET /workspace/{ws}/storage/{folder}/list/` (`folder` may be `root`).
    /// Nodes come at `standard` output (no hash; use [`Client::node`] for that).
    pub async fn list_folder(
        &self,
        ws: &str,
        folder: &str,
        q: &ListQuery,
    ) -> Result<FolderPage, Error> {
        self.list_folder_of(ws, folder, q).await
    }

    /// One listing page, each node read as an `N`: a [`Node`], or a
    /// [`ListedNode`](super::ListedNode) when only what a listing shows is needed (the same call,
    /// much less to decode).
    pub async fn list_folder_of<N: DeserializeOwned>(
        &self,
        ws: &str,
        folder: &str,
        q: &ListQuery,
    ) -> Result<FolderPage<N>, Error> {
        let path = format!(
            "/workspace/{}/storage/{}/list/",
            segment(ws, "workspace id")?,
            segment(folder, "folder id")?
        );
        let mut query = vec![
            ("sort_by", q.sort_by.as_str().to_owned()),
            ("sort_dir", q.sort_dir.as_str().to_owned()),
            ("page_size", q.page_size.get().to_string()),
            ("output", "standard".to_owned()),
        ];
        if let Some(cursor) = q.cursor.as_ref().filter(|c| !c.is_empty()) {
            query.push(("cursor", cursor.clone()));
        }
        let op = self.op(
            "GET /workspace/{ws}/storage/{folder}/list/",
            Replay::Idempotent,
        );
        self.call_decoded(
            op,
            |http| http.get(self.url(&path)).query(&query),
            decode_folder_page::<N>,
        )
        .await
    }

    /// `GET /workspace/{ws}/storage/{node}/details/?output=full`: the node with its hash.
    pub async fn node(&self, ws: &str, node: &str) -> Result<Node, Error> {
        let path = format!(
            "/workspace/{}/storage/{}/details/",
            segment(ws, "workspace id")?,
            segment(node, "node id")?
        );
        let op = self.op(
            "GET /workspace/{ws}/storage/{node}/details/",
            Replay::Idempotent,
        );
        let payload = self
            .call(op, |http| {
                http.get(self.url(&path)).query(&[("output", "full")])
            })
            .await?;
        parse(Value::Object(payload.record(&["node"])), "node")
    }

    /// `POST /workspace/{ws}/storage/{parent}/createfolder/`. Without `force`, Fast.io returns
    /// the existing folder of that name, so the call is idempotent and retried as such.
    pub async fn create_folder(&self, ws: &str, parent: &str, name: &str) -> Result<Node, Error> {
        let path = format!(
            "/workspace/{}/storage/{}/createfolder/",
            segment(ws, "workspace id")?,
            segment(parent, "parent folder id")?
        );
        let op = self.op(
            "POST /workspace/{ws}/storage/{parent}/createfolder/",
            Replay::Idempotent,
        );
        let payload = self
            .call(op, |http| {
                http.post(self.url(&path)).form(&[("name", name)])
            })
            .await?;
        parse(
            Value::Object(payload.record(&["node", "folder"])),
            "created folder",
        )
    }

    /// `GET /workspace/{ws}/storage/{node}/requestread/`: a download token (about 2 h).
    pub async fn request_read(&self, ws: &str, node: &str) -> Result<String, Error> {
        let path = format!(
            "/workspace/{}/storage/{}/requestread/",
            segment(ws, "workspace id")?,
            segment(node, "node id")?
        );
        let op = self.op(
            "GET /workspace/{ws}/storage/{node}/requestread/",
            Replay::Idempotent,
        );
        let payload = self.call(op, |http| http.get(self.url(&path))).await?;
        payload.require_id(&["token"], "request read")
    }

    /// `GET /workspace/{ws}/storage/{node}/read/?token=…`, streaming. Sent **without** the
    /// Bearer key, following redirects (to a CDN). `range` is a `Range` header value.
    pub async fn read(
        &self,
        ws: &str,
        node: &str,
        token: &str,
        range: Option<&str>,
    ) -> Result<Download, Error> {
        self.read_at(ws, node, token, None, range).await
    }

    /// [`Client::read`] of one version (`version_id`, §6.9), or of the current one when
    /// `version` is `None`.
    pub(crate) async fn read_at(
        &self,
        ws: &str,
        node: &str,
        token: &str,
        version: Option<&str>,
        range: Option<&str>,
    ) -> Result<Download, Error> {
        let path = format!(
            "/workspace/{}/storage/{}/read/",
            segment(ws, "workspace id")?,
            segment(node, "node id")?
        );
        let mut query = vec![("token", token)];
        if let Some(version) = version {
            query.push(("version_id", version));
        }
        let op = Op {
            authorized: false,
            ..self.op(
                "GET /workspace/{ws}/storage/{node}/read/",
                Replay::Idempotent,
            )
        };
        self.fetch_unauthorized(op, self.url(&path), &query, range)
            .await
    }

    /// GETs `url` (+ `query`) with no credentials, following redirects, as a [`Download`]: token
    /// reads of files, previews and transforms.
    pub(crate) async fn fetch_unauthorized(
        &self,
        op: Op,
        url: impl reqwest::IntoUrl + Clone,
        query: &[(&str, &str)],
        range: Option<&str>,
    ) -> Result<Download, Error> {
        self.with_retries(op, || async {
            let mut request = self.inner.downloads.get(url.clone()).query(query);
            if let Some(range) = range {
                request = request.header(header::RANGE, range);
            }
            let started = std::time::Instant::now();
            let sent = request.send().await;
            let status = sent.as_ref().ok().map(|r| r.status().as_u16());
            crate::telemetry::upstream_response(op.endpoint, status, started.elapsed());
            let response = sent.map_err(Error::transport)?;
            self.note_response(&response);
            download_from(response).await
        })
        .await
    }

    /// `POST /workspace/{ws}/create/fileshare/`: a File Share link for one file (QuickShare
    /// creation is retired upstream).
    pub async fn create_file_share(
        &self,
        ws: &str,
        params: &FileShareParams,
    ) -> Result<FileShare, Error> {
        use secrecy::ExposeSecret;
        let path = format!(
            "/workspace/{}/create/fileshare/",
            segment(ws, "workspace id")?
        );
        segment(&params.node, "node id")?;
        let mut form = vec![("node", params.node.clone())];
        if let Some(title) = &params.title {
            form.push(("title", title.clone()));
        }
        if let Some(access) = params.access {
            form.push(("access_option", access.as_str().to_owned()));
        }
        if let Some(password) = &params.password {
            form.push(("password", password.expose_secret().to_owned()));
        }
        match params.expires {
            Some(Expiry::After(after)) => {
                form.push(("expires", after.as_secs().max(1).to_string()));
            }
            Some(Expiry::At(at)) => {
                form.push(("expires_at", at.format("%Y-%m-%d %H:%M:%S").to_string()));
            }
            None => {}
        }
        let op = self.op("POST /workspace/{ws}/create/fileshare/", Replay::Once);
        let payload = self
            .call(op, |http| http.post(self.url(&path)).form(&form))
            .await?;
        let share = payload.record(&["fileshare", "share"]);
        let id = ["fileshare", "id"]
            .iter()
            .find_map(|key| share.get(*key).and_then(super::de::id))
            .ok_or_else(|| Error::InvalidResponse("file share: no id in the reply".into()))?;
        let web_url = ["web_url", "url", "link"]
            .iter()
            .find_map(|key| share.get(*key).or_else(|| payload.0.get(*key)))
            .and_then(Value::as_str)
            .map(str::to_owned);
        let file = share
            .get("file")
            .cloned()
            .map(|file| parse(file, "shared file"))
            .transpose()?;
        Ok(FileShare { id, web_url, file })
    }
}

/// Turns a download response into a [`Download`], or its error body into an [`Error`].
async fn download_from(response: reqwest::Response) -> Result<Download, Error> {
    let status = response.status();
    if !status.is_success() {
        let headers = response.headers().clone();
        let body = read_bounded(response, MAX_DOWNLOAD_ERROR_BYTES).await?;
        return Err(
            match envelope::decode(status, &headers, &body, SystemTime::now()) {
                Err(error) => error,
                // A 3xx left over after the redirect limit, or a 1xx: not a download.
                Ok(_) => Error::Upstream {
                    status: status.as_u16(),
                    code: None,
                    message: format!("HTTP {}", status.as_u16()),
                },
            },
        );
    }
    let headers = response.headers();
    Ok(Download {
        status: status.as_u16(),
        content_length: response.content_length(),
        content_type: header_text(headers, header::CONTENT_TYPE),
        content_range: header_text(headers, header::CONTENT_RANGE),
        body: Box::pin(response.bytes_stream().map_err(Error::transport)),
    })
}

fn header_text(headers: &HeaderMap, name: header::HeaderName) -> Option<String> {
    headers
        .get(name)
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fastio::ListedNode;
    use serde_json::json;

    /// The page as the tolerant envelope path reads it.
    fn general(body: &Value) -> FolderPage {
        let bytes = body.to_string();
        let payload = envelope::decode(
            reqwest::StatusCode::OK,
            &HeaderMap::new(),
            bytes.as_bytes(),
            SystemTime::now(),
        )
        .expect("envelope");
        page_from_envelope(payload).expect("page")
    }

    #[test]
    fn the_typed_page_reads_what_the_envelope_path_reads() {
        let node = json!({"id": 7, "name": "a.txt", "type": "file", "size": "12",
            "created": "2026-05-18 19:26:25 UTC", "modified": "2026-05-18T19:26:26Z",
            "previews": {"thumbnail": {"state": "ready"}}, "ai": {"state": "ready"}});
        let bodies = [
            json!({"result": true, "nodes": [node.clone(), {"id": "f", "type": "folder"}], "next_cursor": "c1"}),
            json!({"result": "yes", "response": {"files": [node.clone()], "pagination": {"next_cursor": "c2"}}}),
            json!({"result": true, "items": [node.clone()], "next_cursor": null, "pagination": {"next_cursor": "c3"}}),
            json!({"result": true, "nodes": [], "next_cursor": ""}),
            json!({"result": true, "response": {"nodes": [node.clone()]}, "next_cursor": "outer"}),
        ];
        for body in bodies {
            let typed = TypedPage::<Node>::read(body.to_string().as_bytes()).expect("typed shape");
            assert_eq!(typed, general(&body), "{body}");
            // A listing's brief nodes are the whole nodes cut down, on the same page.
            let brief = TypedPage::<ListedNode>::read(body.to_string().as_bytes()).expect("brief");
            let cut: Vec<ListedNode> = typed.nodes.into_iter().map(ListedNode::from).collect();
            assert_eq!(
                (brief.nodes, brief.next_cursor),
                (cut, typed.next_cursor),
                "{body}"
            );
        }
        // Other shapes fall back to the envelope path, which reads them too.
        let mapped = json!({"result": true, "files": {"n1": {"name": "a"}}});
        assert!(TypedPage::<Node>::read(mapped.to_string().as_bytes()).is_none());
        let page = decode_folder_page::<Node>(
            reqwest::StatusCode::OK,
            &HeaderMap::new(),
            mapped.to_string().as_bytes(),
            SystemTime::now(),
        )
        .expect("page");
        assert_eq!(page.nodes[0].id, "n1");
        // A failure is never read as an empty page.
        let failed = json!({"result": false, "error": {"code": 1609, "text": "gone"}});
        assert!(TypedPage::<Node>::read(failed.to_string().as_bytes()).is_none());
        let err = decode_folder_page::<Node>(
            reqwest::StatusCode::OK,
            &HeaderMap::new(),
            failed.to_string().as_bytes(),
            SystemTime::now(),
        );
        assert!(matches!(err, Err(Error::NotFound { .. })), "{err:?}");
    }
}

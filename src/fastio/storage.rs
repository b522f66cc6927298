//! Storage: listing, node details, folders, downloads and File Share links (`fastio-api.md` §6).

use std::time::SystemTime;

use futures_util::TryStreamExt;
use reqwest::header::{self, HeaderMap};
use serde_json::Value;

use super::client::{Client, Op, read_bounded, segment};
use super::envelope::{self, parse};
use super::error::Error;
use super::retry::Replay;
use super::types::{Download, Expiry, FileShare, FileShareParams, FolderPage, ListQuery, Node};

/// Error bodies of downloads are read up to this size.
const MAX_DOWNLOAD_ERROR_BYTES: usize = 64 * 1024;

impl Client {
    /// One page of `GET /workspace/{ws}/storage/{folder}/list/` (`folder` may be `root`).
    /// Nodes come at `standard` output (no hash; use [`Client::node`] for that).
    pub async fn list_folder(
        &self,
        ws: &str,
        folder: &str,
        q: &ListQuery,
    ) -> Result<FolderPage, Error> {
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
        let mut payload = self
            .call(op, |http| http.get(self.url(&path)).query(&query))
            .await?;
        let next_cursor = payload
            .paginated("next_cursor")
            .and_then(super::de::id)
            .filter(|cursor| !cursor.is_empty());
        let nodes = payload
            .take_collection(&["nodes", "files", "items"])
            .into_iter()
            .map(|record| parse(record, "listed node"))
            .collect::<Result<Vec<Node>, Error>>()?;
        Ok(FolderPage { nodes, next_cursor })
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
        url: String,
        query: &[(&str, &str)],
        range: Option<&str>,
    ) -> Result<Download, Error> {
        self.with_retries(op, || async {
            let mut request = self.inner.downloads.get(&url).query(query);
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

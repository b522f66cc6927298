//! What the upload-request link tests (`web::links`) stand on: a [`Gateway`] (accounts mode;
//! its admin's token on the recording client) seen as an editor and as an anonymous visitor,
//! with one method per thing a test does (an editor's JSON call, a visitor's post, the JS
//! path's chunks, the emulator's listing and its open upload sessions). Every response goes
//! through the harness's leak scan.

use std::time::Duration;

use bytes::Bytes;
use reqwest::Method;
use reqwest::multipart::Form;
use serde_json::Value;

use super::{Gateway, Recorded, spawn_app_with};

pub use super::payload::sha256_hex;

/// A gateway for link tests.
pub struct World {
    /// The gateway (dropping it checks that no upload session was left open).
    pub gw: Gateway,
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    /// An anonymous client: no credentials, no redirects.
    pub client: reqwest::Client,
    /// The gateway's state.
    pub state: fastgate::web::AppState,
    /// The seeded workspace.
    pub ws: String,
}

impl World {
    /// The gateway in accounts mode with `vars` on top.
    pub async fn spawn(vars: &[(&str, &str)]) -> Self {
        let mut all = vec![("FASTGATE_AUTH", "accounts")];
        all.extend_from_slice(vars);
        let gw = spawn_app_with(&all, |_| {}).await;
        Self {
            url: gw.url.clone(),
            client: super::plain_client(),
            state: gw.state.clone(),
            ws: gw.workspace.clone(),
            gw,
        }
    }

    /// Adds user `name` with `role` on every workspace; an API token of theirs.
    pub async fn user_token(&self, name: &str, role: &str) -> String {
        self.gw.user(name, role, None).await.0.token
    }

    /// Sends `request` (built from any client), reads and scans the answer.
    pub async fn send(&self, request: reqwest::RequestBuilder) -> Recorded {
        self.gw.send(request).await
    }

    /// `request` as the admin (their API token).
    pub fn admin(&self, request: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        request.bearer_auth(&self.gw.admin.token)
    }

    /// `{url}{path}`.
    pub fn at(&self, path: &str) -> String {
        format!("{}{path}", self.url)
    }

    /// A JSON call as the admin (`Value::Null`: no body).
    pub async fn admin_json(&self, method: &str, path: &str, body: Value) -> Recorded {
        let method = Method::from_bytes(method.as_bytes()).expect("method");
        let mut request = self.admin(self.client.request(method, self.at(path)));
        if !body.is_null() {
            request = request.json(&body);
        }
        self.send(request).await
    }

    /// Creates a link in the workspace (`fields` on top of a label and a day's expiry); its
    /// JSON and its token.
    pub async fn create_link(&self, fields: Value) -> (Value, String) {
        let mut body = serde_json::json!({"workspace": self.ws, "label": "Files please",
            "expires_in": 86_400});
        for (k, v) in fields.as_object().expect("object") {
            body[k] = v.clone();
        }
        let r = self.admin_json("POST", "/api/links", body).await;
        assert_eq!(r.status.as_u16(), 201, "{}", r.text());
        let link = r.json();
        let url = link["url"].as_str().expect("url").to_owned();
        let prefix = format!("{}/r/", self.url);
        let token = url
            .strip_prefix(&prefix)
            .expect("url = public url/r/token")
            .to_owned();
        (link, token)
    }

    /// A visitor's multipart post to the link (with the page's Origin).
    pub async fn post_link(&self, token: &str, form: Form, json: bool) -> Recorded {
        let mut request = self
            .client
            .post(self.at(&format!("/r/{token}")))
            .header("origin", &self.url)
            .multipart(form);
        if json {
            request = request.header("accept", "application/json");
        }
        self.send(request).await
    }

    /// A visitor's `POST /r/{token}/uploads`.
    pub async fn link_create(&self, token: &str, body: Value) -> Recorded {
        let request = self
            .client
            .post(self.at(&format!("/r/{token}/uploads")))
            .header("origin", &self.url)
            .json(&body);
        self.send(request).await
    }

    /// Sends every chunk of a ticket's file and completes it; the stored receipt.
    pub async fn send_chunks_and_complete(&self, ticket: &Value, bytes: &[u8]) -> Value {
        let id = ticket["id"].as_str().expect("id");
        let token = ticket["token"].as_str().expect("token");
        let size = ticket["chunk_size"].as_u64().expect("chunk size") as usize;
        for (i, chunk) in bytes.chunks(size).enumerate() {
            let r = self
                .send(
                    self.client
                        .put(self.at(&format!("/api/uploads/{id}/chunks/{}", i + 1)))
                        .header("upload-token", token)
                        .body(chunk.to_vec()),
                )
                .await;
            assert_eq!(r.status.as_u16(), 200, "chunk {}: {}", i + 1, r.text());
        }
        let r = self
            .send(
                self.client
                    .post(self.at(&format!("/api/uploads/{id}/complete")))
                    .header("upload-token", token),
            )
            .await;
        assert_eq!(r.status.as_u16(), 200, "complete: {}", r.text());
        r.json()
    }

    /// Makes a folder under the root; its id.
    pub async fn folder(&self, name: &str) -> String {
        self.state
            .fastio
            .create_folder(&self.ws, "root", name)
            .await
            .expect("folder")
            .id
    }

    /// Uploads a file into `folder` as the admin, through the folder page's form action; its
    /// node id.
    pub async fn admin_upload(&self, folder: &str, name: &str, bytes: &[u8]) -> String {
        let part = reqwest::multipart::Part::bytes(bytes.to_vec()).file_name(name.to_owned());
        let request = self
            .admin(
                self.client
                    .post(self.at(&format!("/w/{}/{folder}?/upload", self.ws))),
            )
            .header("origin", &self.url)
            .header("accept", "application/json")
            .multipart(Form::new().part("file", part));
        let r = self.send(request).await;
        assert_eq!(r.status.as_u16(), 200, "{}", r.text());
        r.json()["data"]["files"][0]["node"]
            .as_str()
            .expect("node")
            .to_owned()
    }

    /// `(name, id)` of everything in `folder`, from the emulator.
    pub async fn names(&self, folder: &str) -> Vec<(String, String)> {
        let query = fastgate::fastio::ListQuery {
            page_size: fastgate::fastio::PageSize::P500,
            ..Default::default()
        };
        self.state
            .fastio
            .list_folder(&self.ws, folder, &query)
            .await
            .expect("listing")
            .nodes
            .into_iter()
            .map(|n| (n.name, n.id))
            .collect()
    }

    /// Waits (up to 5 s) until the emulator lists no upload session (`/upload/details/`).
    pub async fn assert_no_upload_sessions(&self) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        loop {
            let open = self.state.fastio.list_uploads().await.expect("sessions");
            if open.is_empty() {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "upload sessions left open: {open:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// A local webhook receiver: its URL, and the `(Fastgate-Signature, body)` of each POST.
pub async fn webhook_listener() -> (String, tokio::sync::mpsc::Receiver<(String, Vec<u8>)>) {
    let (tx, rx) = tokio::sync::mpsc::channel(8);
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |headers: axum::http::HeaderMap, body: Bytes| {
            let tx = tx.clone();
            async move {
                let signature = headers
                    .get("fastgate-signature")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default()
                    .to_owned();
                let _ = tx.send((signature, body.to_vec())).await;
                axum::http::StatusCode::NO_CONTENT
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}/hook", listener.local_addr().expect("addr"));
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, rx)
}

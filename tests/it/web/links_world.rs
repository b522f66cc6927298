//! What the link tests stand on: the gateway in accounts mode with an admin and their API
//! token, in front of the emulator, and one method per thing a test does (an editor's JSON
//! call, a visitor's post, the emulator's listing and its open upload sessions). Every response
//! is scanned for the API key and for `Bearer ` credentials, as everywhere in the suite.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use reqwest::header::HeaderMap;
use reqwest::multipart::Form;
use reqwest::{Method, StatusCode};
use secrecy::{ExposeSecret as _, SecretString};
use serde_json::Value;
use sha2::{Digest as _, Sha256};

use fastgate::access::{Ctx, NewToken, NewUser, Role};

/// SHA-256 of `data`, lower-case hex.
pub fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

/// One response, read whole and scanned.
#[derive(Debug)]
pub struct Rec {
    /// Status.
    pub status: StatusCode,
    /// Headers.
    pub headers: HeaderMap,
    /// Body.
    pub body: Bytes,
}

impl Rec {
    /// The body as text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body as JSON.
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text()))
    }

    /// A header as text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// The gateway, its emulator and an admin.
pub struct World {
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    /// No redirects, no cookies.
    pub client: reqwest::Client,
    /// The gateway's state.
    pub state: fastgate::web::AppState,
    /// The seeded workspace.
    pub ws: String,
    /// The emulator.
    pub emulator: fastgate::emulator::RunningEmulator,
    key: String,
    admin: SecretString,
    _dir: tempfile::TempDir,
}

impl World {
    /// Starts the emulator and the gateway (`FASTGATE_AUTH=accounts`, `vars` on top), adds
    /// the admin `admin` and makes them an API token.
    pub async fn spawn(vars: &[(&str, &str)]) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let key = format!("k_links_{}", std::process::id());
        let mut emu = fastgate::emulator::EmulatorConfig::new(dir.path().join("emu"), key.clone());
        emu.step_delay = (Duration::from_millis(2), Duration::from_millis(10));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let emulator = fastgate::emulator::start(emu, listener)
            .await
            .expect("emulator");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        let mut all: Vec<(String, String)> = vec![
            ("FASTIO_API_KEY".into(), key.clone()),
            ("FASTIO_BASE_URL".into(), emulator.base_url()),
            ("FASTGATE_PUBLIC_URL".into(), url.clone()),
            ("FASTGATE_AUTH".into(), "accounts".into()),
            (
                "FASTGATE_DATA_DIR".into(),
                dir.path().join("gw").display().to_string(),
            ),
        ];
        all.extend(vars.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())));
        let config = fastgate::config::Config::from_vars(all).expect("config");
        let client = fastgate::fastio::Client::new(fastgate::fastio::ClientConfig::new(
            emulator.base_url(),
            SecretString::from(key.clone()),
        ))
        .expect("client");
        let state = fastgate::web::AppState::open(config, client)
            .await
            .expect("state");
        state
            .access
            .add_user(
                &Ctx::system(),
                NewUser {
                    username: "admin".into(),
                    password: SecretString::from("correct horse battery staple".to_owned()),
                    role: Role::Admin,
                    workspace: None,
                },
            )
            .await
            .expect("admin");
        let token = state
            .access
            .create_token(
                &Ctx::system(),
                "admin",
                NewToken {
                    name: "tests".into(),
                    role: Role::Admin,
                    workspace: None,
                    expires_in: None,
                },
            )
            .await
            .expect("token");
        let router = fastgate::web::app(state.clone());
        tokio::spawn(async move {
            axum::serve(
                listener,
                router.into_make_service_with_connect_info::<SocketAddr>(),
            )
            .await
        });
        Self {
            ws: emulator.workspace_id(),
            url,
            client: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("client"),
            state,
            emulator,
            key,
            admin: token.token,
            _dir: dir,
        }
    }

    /// Adds user `name` with `role` on every workspace; an API token of theirs.
    pub async fn user_token(&self, name: &str, role: Role) -> String {
        self.state
            .access
            .add_user(
                &Ctx::system(),
                NewUser {
                    username: name.into(),
                    password: SecretString::from("correct horse battery staple".to_owned()),
                    role,
                    workspace: None,
                },
            )
            .await
            .expect("user");
        let token = self
            .state
            .access
            .create_token(
                &Ctx::system(),
                name,
                NewToken {
                    name: "tests".into(),
                    role,
                    workspace: None,
                    expires_in: None,
                },
            )
            .await
            .expect("token");
        token.token.expose_secret().to_owned()
    }

    /// `{url}{path}`.
    pub fn at(&self, path: &str) -> String {
        format!("{}{path}", self.url)
    }

    /// Sends, reads and scans.
    pub async fn send(&self, request: reqwest::RequestBuilder) -> Rec {
        let response = request.send().await.expect("sent");
        let status = response.status();
        let headers = response.headers().clone();
        let body = response.bytes().await.expect("body");
        let mut texts: Vec<String> = headers
            .values()
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
            .collect();
        texts.push(String::from_utf8_lossy(&body).into_owned());
        for t in &texts {
            assert!(!t.contains(&self.key), "the API key leaked");
            assert!(
                !t.to_ascii_lowercase().contains("bearer "),
                "a Bearer credential leaked"
            );
        }
        Rec {
            status,
            headers,
            body,
        }
    }

    /// `request` as the admin (their API token).
    pub fn admin(&self, request: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        request.bearer_auth(self.admin.expose_secret())
    }

    /// A JSON call as the admin (`Value::Null`: no body).
    pub async fn admin_json(&self, method: &str, path: &str, body: Value) -> Rec {
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
    pub async fn post_link(&self, token: &str, form: Form, json: bool) -> Rec {
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
    pub async fn link_create(&self, token: &str, body: Value) -> Rec {
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

//! Helpers for the emulator tests: spawn the emulator on 127.0.0.1 port 0 over a temp data dir,
//! and speak raw HTTP to it with reqwest, written from `fastio-api.md` alone (no fastgate client
//! code, so these tests check the emulator against the contract).

use std::time::Duration;

use fastgate::emulator::{self, EmulatorConfig, RunningEmulator};
use reqwest::multipart::{Form, Part};
use reqwest::{Response, StatusCode};
use serde_json::Value;
use tempfile::TempDir;

pub use super::payload::MIB;
use super::wait_until;

pub const KEY: &str = "test-key-0123456789";

/// A running emulator plus its data dir and an HTTP client.
pub struct TestEmu {
    pub emu: RunningEmulator,
    pub base: String,
    pub ws: String,
    pub http: reqwest::Client,
    pub dir: TempDir,
}

/// Test defaults: short step delays so the state machine runs in milliseconds.
pub fn test_config(dir: &TempDir) -> EmulatorConfig {
    let mut c = EmulatorConfig::new(dir.path(), KEY);
    c.step_delay = (Duration::from_millis(2), Duration::from_millis(10));
    c
}

pub async fn spawn() -> TestEmu {
    spawn_with(|_| {}).await
}

pub async fn spawn_with(tweak: impl FnOnce(&mut EmulatorConfig)) -> TestEmu {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut config = test_config(&dir);
    tweak(&mut config);
    start_on(dir, config).await
}

pub async fn start_on(dir: TempDir, config: EmulatorConfig) -> TestEmu {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let emu = emulator::start(config, listener).await.expect("start");
    TestEmu {
        base: emu.base_url(),
        ws: emu.workspace_id(),
        emu,
        http: reqwest::Client::new(),
        dir,
    }
}

pub async fn json(res: Response) -> (StatusCode, Value) {
    let status = res.status();
    let text = res.text().await.expect("body");
    let v = serde_json::from_str(&text).unwrap_or(Value::Null);
    (status, v)
}

pub fn code(v: &Value) -> i64 {
    v["error"]["code"].as_i64().unwrap_or(-1)
}

impl TestEmu {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub async fn get(&self, path: &str) -> (StatusCode, Value) {
        json(
            self.http
                .get(self.url(path))
                .bearer_auth(KEY)
                .send()
                .await
                .expect("send"),
        )
        .await
    }

    pub async fn post_form(&self, path: &str, form: &[(&str, &str)]) -> (StatusCode, Value) {
        json(
            self.http
                .post(self.url(path))
                .bearer_auth(KEY)
                .form(form)
                .send()
                .await
                .expect("send"),
        )
        .await
    }

    pub async fn delete(&self, path: &str) -> (StatusCode, Value) {
        json(
            self.http
                .delete(self.url(path))
                .bearer_auth(KEY)
                .send()
                .await
                .expect("send"),
        )
        .await
    }

    /// Creates a chunked session in the workspace root (or `folder`); returns its id.
    pub async fn create_session(&self, name: &str, size: usize, folder: &str) -> String {
        let size = size.to_string();
        let (status, v) = self
            .post_form(
                "/upload/",
                &[
                    ("name", name),
                    ("size", &size),
                    ("action", "create"),
                    ("instance_id", &self.ws),
                    ("folder_id", folder),
                    ("profile_type", "workspace"),
                ],
            )
            .await;
        assert_eq!(status, StatusCode::OK, "create session: {v}");
        v["id"].as_str().expect("id").to_owned()
    }

    /// Sends one chunk the way the CLI does (order and size in the query, part `chunk`).
    pub async fn put_chunk(&self, id: &str, order: usize, bytes: Vec<u8>) -> (StatusCode, Value) {
        let len = bytes.len();
        let form = Form::new().part("chunk", Part::bytes(bytes).file_name("chunk.bin"));
        json(
            self.http
                .post(self.url(&format!("/upload/{id}/chunk/?order={order}&size={len}")))
                .bearer_auth(KEY)
                .multipart(form)
                .send()
                .await
                .expect("send"),
        )
        .await
    }

    /// `complete` exactly as the CLI sends it: form content type, empty body, no Content-Length.
    pub async fn complete(&self, id: &str) -> (StatusCode, Value) {
        let body = reqwest::Body::wrap_stream(futures_util::stream::empty::<
            Result<bytes::Bytes, std::io::Error>,
        >());
        json(
            self.http
                .post(self.url(&format!("/upload/{id}/complete/")))
                .bearer_auth(KEY)
                .header("content-type", "application/x-www-form-urlencoded")
                .body(body)
                .send()
                .await
                .expect("send"),
        )
        .await
    }

    /// Long-polls session details until the status is terminal (stored or *_failed).
    pub async fn wait_terminal(&self, id: &str) -> Value {
        let path = format!("/upload/{id}/details/?wait=5");
        wait_until(
            "a terminal session status",
            Duration::from_secs(60),
            || async {
                let (status, v) = self.get(&path).await;
                assert_eq!(status, StatusCode::OK, "details: {v}");
                let s = v["session"]["status"].as_str().unwrap_or_default();
                if s == "stored" || s.ends_with("_failed") {
                    Ok(v["session"].clone())
                } else {
                    Err(s.to_owned())
                }
            },
        )
        .await
    }

    /// Downloads a node through requestread + read/?token= without Authorization.
    pub async fn download(&self, node: &str, range: Option<&str>) -> Response {
        let (status, v) = self
            .get(&format!(
                "/workspace/{}/storage/{node}/requestread/",
                self.ws
            ))
            .await;
        assert_eq!(status, StatusCode::OK, "requestread: {v}");
        let token = v["token"].as_str().expect("token");
        let mut req = self.http.get(self.url(&format!(
            "/workspace/{}/storage/{node}/read/?token={token}",
            self.ws
        )));
        if let Some(r) = range {
            req = req.header("range", r);
        }
        req.send().await.expect("read")
    }

    /// All names in a folder listing (one page of 500).
    pub async fn names(&self, folder: &str) -> Vec<String> {
        let (_, v) = self
            .get(&format!(
                "/workspace/{}/storage/{folder}/list/?page_size=500",
                self.ws
            ))
            .await;
        v["nodes"]
            .as_array()
            .expect("nodes")
            .iter()
            .map(|n| n["name"].as_str().unwrap_or_default().to_owned())
            .collect()
    }

    /// Files left anywhere under the data dir's `chunks/` and `tmp/`.
    pub fn leftover_files(&self) -> Vec<std::path::PathBuf> {
        let mut out = Vec::new();
        for sub in ["chunks", "tmp"] {
            walk(&self.dir.path().join(sub), &mut out);
        }
        out
    }
}

fn walk(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    for e in rd.flatten() {
        let p = e.path();
        if p.is_dir() {
            walk(&p, out);
        } else {
            out.push(p);
        }
    }
}

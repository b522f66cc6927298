//! The emulator's transport faults of `fastio-api.md` §11: a connection reset in the middle of a
//! chunk or stream body, and a slow first byte. Raw HTTP with reqwest, written from the contract
//! alone; self-contained so it needs no shared harness.

use std::time::{Duration, Instant};

use fastgate::emulator::{self, EmulatorConfig, RunningEmulator};
use reqwest::StatusCode;
use reqwest::multipart::{Form, Part};
use serde_json::Value;
use tempfile::TempDir;

const KEY: &str = "faults-key-0123456789";
const MIB: usize = 1024 * 1024;

struct Emu {
    emu: RunningEmulator,
    http: reqwest::Client,
    dir: TempDir,
}

async fn spawn(tweak: impl FnOnce(&mut EmulatorConfig)) -> Emu {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut config = EmulatorConfig::new(dir.path(), KEY);
    config.step_delay = (Duration::from_millis(2), Duration::from_millis(10));
    tweak(&mut config);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let emu = emulator::start(config, listener).await.expect("start");
    Emu {
        emu,
        http: reqwest::Client::new(),
        dir,
    }
}

impl Emu {
    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.emu.base_url())
    }

    async fn get(&self, path: &str) -> Value {
        let res = self.http.get(self.url(path)).bearer_auth(KEY).send().await;
        res.expect("send").json().await.expect("json")
    }

    /// Opens a session in the workspace root: chunked with `size`, or a stream when `None`.
    async fn session(&self, name: &str, size: Option<usize>) -> String {
        let ws = self.emu.workspace_id();
        let mut form = vec![
            ("name", name.to_owned()),
            ("action", "create".to_owned()),
            ("instance_id", ws),
            ("folder_id", "root".to_owned()),
            ("profile_type", "workspace".to_owned()),
        ];
        match size {
            Some(size) => form.push(("size", size.to_string())),
            None => form.push(("stream", "true".to_owned())),
        }
        let res = self
            .http
            .post(self.url("/upload/"))
            .bearer_auth(KEY)
            .form(&form);
        let v: Value = res.send().await.expect("send").json().await.expect("json");
        v["id"].as_str().expect("session id").to_owned()
    }

    async fn put_chunk(&self, id: &str, bytes: Vec<u8>) -> reqwest::Result<reqwest::Response> {
        let size = bytes.len();
        let form = Form::new().part("chunk", Part::bytes(bytes).file_name("chunk.bin"));
        self.http
            .post(self.url(&format!("/upload/{id}/chunk/?order=1&size={size}")))
            .bearer_auth(KEY)
            .multipart(form)
            .send()
            .await
    }

    async fn root_names(&self) -> Vec<String> {
        let ws = self.emu.workspace_id();
        let v = self
            .get(&format!("/workspace/{ws}/storage/root/list/"))
            .await;
        let nodes = v["nodes"].as_array().cloned().unwrap_or_default();
        nodes
            .iter()
            .filter_map(|n| n["name"].as_str().map(str::to_owned))
            .collect()
    }

    fn tmp_is_empty(&self) -> bool {
        let tmp = self.dir.path().join("tmp");
        std::fs::read_dir(tmp).expect("tmp dir").next().is_none()
    }
}

#[tokio::test]
async fn a_chunk_body_cut_by_a_reset_gets_no_answer_and_records_no_chunk() {
    let t = spawn(|c| c.faults.reset_body_after = Some(64 * 1024)).await;
    let id = t.session("reset.bin", Some(2 * MIB)).await;

    let cut = t.put_chunk(&id, vec![7; 2 * MIB]).await;
    assert!(cut.is_err(), "the connection should drop: {cut:?}");
    let chunks = t.get(&format!("/upload/{id}/chunk/")).await;
    assert_eq!(chunks["chunks"], serde_json::json!({}));
    let session = t.get(&format!("/upload/{id}/details/")).await;
    assert_eq!(session["session"]["status"], "ready");
    assert!(t.tmp_is_empty(), "the cut body's temp file is removed");

    // A runtime control turns it off; the same chunk then goes through.
    t.emu.faults().set_reset_body_after(None);
    let res = t.put_chunk(&id, vec![7; 2 * MIB]).await.expect("send");
    assert_eq!(res.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_stream_body_cut_by_a_reset_gets_no_answer_and_fails_the_session() {
    let t = spawn(|_| {}).await;
    t.emu.faults().set_reset_body_after(Some(100_000));
    let id = t.session("stream.bin", None).await;

    let cut = t
        .http
        .post(t.url(&format!("/upload/{id}/stream/")))
        .bearer_auth(KEY)
        .header("content-type", "application/octet-stream")
        .body(vec![3; MIB])
        .send()
        .await;
    assert!(cut.is_err(), "the connection should drop: {cut:?}");
    let session = t.get(&format!("/upload/{id}/details/")).await;
    assert_eq!(session["session"]["status"], "assembly_failed");
    assert!(t.root_names().await.is_empty());
}

#[tokio::test]
async fn a_slow_first_byte_holds_the_answer_after_the_work_is_done() {
    let t = spawn(|c| c.faults.slow_first_byte_ms = 300).await;
    let started = Instant::now();
    let res = t.http.get(t.url("/ping/")).send().await.expect("send");
    assert_eq!(res.status(), StatusCode::OK);
    assert!(started.elapsed() >= Duration::from_millis(300));

    // A client that gives up before the first byte still leaves a stored file behind.
    t.emu.faults().set_slow_first_byte_ms(2_000);
    let ws = t.emu.workspace_id();
    let form = Form::new()
        .text("name", "slow.txt")
        .text("size", "11")
        .text("action", "create")
        .text("instance_id", ws)
        .text("folder_id", "root")
        .text("profile_type", "workspace")
        .part(
            "chunk",
            Part::bytes(b"hello world".to_vec()).file_name("slow.txt"),
        );
    let gave_up = t
        .http
        .post(t.url("/upload/"))
        .bearer_auth(KEY)
        .multipart(form)
        .timeout(Duration::from_millis(500))
        .send()
        .await;
    assert!(gave_up.is_err_and(|e| e.is_timeout()));
    t.emu.faults().set_slow_first_byte_ms(0);
    let deadline = Instant::now() + Duration::from_secs(5);
    while t.root_names().await != ["slow.txt"] {
        assert!(Instant::now() < deadline, "slow.txt was never stored");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

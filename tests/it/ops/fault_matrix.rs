//! The fault matrix (issue 14): for both upload paths (a form post; the JS API as `upload.js`
//! drives it) and a 40 MiB file, every fault below ends with the upload either stored with the
//! right SHA-256 or reported failed, and in both cases with no Fast.io session left open and no
//! partial file in the emulator's data directory (its own session list and its `chunks/`, `tmp/`
//! and `blobs/` folders are the witnesses, not the gateway's word).
//!
//! The gateway is always the real `fastgate serve` process. The emulator runs in this process
//! where a fault is switched at run time (rate limits, 5xx, latency, a reset mid-body, slow first
//! bytes, the orphan sweeper's rows), and as a `fastgate emulator` process where it is killed.
//! Rows share nothing, so they run at once.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::StreamExt as _;
use serde_json::Value;
use tokio::io::AsyncWriteExt as _;

use crate::common::payload::{MIB, bytes, sha256_hex};
use crate::common::process::{self, Process};
use crate::common::start_emulator;
use fastgate::emulator::RunningEmulator;

const FILE_LEN: usize = 40 * MIB;
const CHUNK: usize = 8 * MIB;
const SECRET: &str = "fault-matrix-secret-of-at-least-32-bytes!";
/// Uploads cut short in each "client goes away" row.
const CUTS: usize = 50;
/// The seed of the cut points (the same points on every run).
const CUT_SEED: u64 = 0x5eed_f417;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Fault {
    RateLimitStorm,
    ServerErrors10Pct,
    Latency200ms,
    ResetMidChunk,
    SlowFirstByte,
    EmulatorRestart,
    GatewayKilled,
    ClientGone,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum UploadPath {
    Form,
    Js,
}

/// How a row ended, for the table.
#[derive(Debug, Default)]
struct Tally {
    stored: usize,
    failed: usize,
}

const FAULTS: [Fault; 8] = [
    Fault::RateLimitStorm,
    Fault::ServerErrors10Pct,
    Fault::Latency200ms,
    Fault::ResetMidChunk,
    Fault::SlowFirstByte,
    Fault::EmulatorRestart,
    Fault::GatewayKilled,
    Fault::ClientGone,
];

impl Fault {
    fn label(self) -> &'static str {
        match self {
            Fault::RateLimitStorm => "429 storm (5 req/s)",
            Fault::ServerErrors10Pct => "10 % 5xx",
            Fault::Latency200ms => "+200 ms latency",
            Fault::ResetMidChunk => "reset mid-body",
            Fault::SlowFirstByte => "slow first byte (500 ms)",
            Fault::EmulatorRestart => "emulator killed + restarted",
            Fault::GatewayKilled => "gateway killed (kill -9)",
            Fault::ClientGone => "client gone at 50 points",
        }
    }
}

/// The emulator of a row: in this process (faults switched at run time) or a process of its own
/// (killed and restarted on the same port and data directory).
enum Emulator {
    Inside(RunningEmulator),
    Outside {
        process: Process,
        bind: String,
        flags: Vec<String>,
    },
}

struct Rig {
    dir: tempfile::TempDir,
    emulator: Emulator,
    base: String,
    workspace: String,
    key: String,
    gateway: Process,
    url: String,
    env: Vec<(String, String)>,
    http: reqwest::Client,
}

impl Rig {
    async fn new(outside: bool, vars: &[(&str, &str)]) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let key = format!("k_fault_matrix_{}", std::process::id());
        let data = dir.path().join("emulator");
        let (emulator, base, workspace) = if outside {
            let (process, base, workspace) = process::emulator("127.0.0.1:0", &key, &data, &[]);
            let bind = base
                .trim_start_matches("http://")
                .trim_end_matches("/current")
                .to_owned();
            let emulator = Emulator::Outside {
                process,
                bind,
                flags: Vec::new(),
            };
            (emulator, base, workspace)
        } else {
            let running = start_emulator(&data, &key, |_| {}).await;
            let (base, ws) = (running.base_url(), running.workspace_id());
            (Emulator::Inside(running), base, ws)
        };
        let mut env: Vec<(String, String)> = [
            ("FASTIO_API_KEY", key.as_str()),
            ("FASTIO_BASE_URL", base.as_str()),
            ("FASTGATE_AUTH", "open"),
            ("FASTGATE_SECRET", SECRET),
            ("FASTGATE_CHUNK_SIZE", "8MiB"),
            ("FASTGATE_SHUTDOWN_GRACE", "2s"),
            ("FASTGATE_ORPHAN_SWEEP", "1s"),
            ("FASTGATE_UPLOAD_TIMEOUT", "60s"),
            (
                "RUST_LOG",
                "warn,fastgate::server=info,fastgate::upload::orphans=info",
            ),
        ]
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
        env.push((
            "FASTGATE_DATA_DIR".to_owned(),
            dir.path().join("gateway").display().to_string(),
        ));
        for (k, v) in vars {
            env.retain(|(name, _)| name != k);
            env.push(((*k).to_owned(), (*v).to_owned()));
        }
        let (gateway, url) = process::serve(&env, dir.path());
        Self {
            dir,
            emulator,
            base,
            workspace,
            key,
            gateway,
            url,
            env,
            http: reqwest::Client::new(),
        }
    }

    fn inside(&self) -> &RunningEmulator {
        match &self.emulator {
            Emulator::Inside(running) => running,
            Emulator::Outside { .. } => panic!("this row's emulator is a process"),
        }
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("emulator")
    }

    /// kill -9 the gateway and start it again with the same configuration (a new port, as
    /// another replica behind the load balancer would have).
    fn restart_gateway(&mut self) {
        self.gateway.kill();
        let (gateway, url) = process::serve(&self.env, self.dir.path());
        self.gateway = gateway;
        self.url = url;
    }

    /// kill -9 the emulator process and start it again on the same port and data directory.
    fn restart_emulator(&mut self) {
        let data = self.data();
        let Emulator::Outside {
            process,
            bind,
            flags,
        } = &mut self.emulator
        else {
            panic!("only an emulator process can be killed");
        };
        process.kill();
        let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
        let (again, base, _) = process::emulator(bind, &self.key, &data, &flags);
        assert_eq!(base, self.base, "the emulator came back on its port");
        *process = again;
    }

    /// The emulator's open upload sessions (`GET /upload/details/`, §7.11).
    async fn sessions(&self) -> Result<Vec<Value>, String> {
        let response = self
            .http
            .get(format!("{}/upload/details/", self.base))
            .bearer_auth(&self.key)
            .send()
            .await
            .map_err(|e| e.to_string())?;
        let body: Value = response.json().await.map_err(|e| e.to_string())?;
        body["sessions"]
            .as_array()
            .cloned()
            .ok_or_else(|| format!("no sessions in {body}"))
    }

    /// The files in the workspace root, by the emulator's own listing: (name, node id).
    async fn root_files(&self) -> Vec<(String, String)> {
        let body: Value = self
            .http
            .get(format!(
                "{}/workspace/{}/storage/root/list/?page_size=500",
                self.base, self.workspace
            ))
            .bearer_auth(&self.key)
            .send()
            .await
            .expect("listing")
            .json()
            .await
            .expect("listing JSON");
        body["nodes"]
            .as_array()
            .expect("nodes")
            .iter()
            .filter(|n| n["type"] == "file")
            .map(|n| {
                (
                    n["name"].as_str().unwrap_or_default().to_owned(),
                    n["id"].as_str().unwrap_or_default().to_owned(),
                )
            })
            .collect()
    }

    /// SHA-256 of a stored node's bytes, downloaded from the emulator (requestread + read).
    async fn stored_sha(&self, node: &str) -> String {
        let token: Value = self
            .http
            .get(format!(
                "{}/workspace/{}/storage/{node}/requestread/",
                self.base, self.workspace
            ))
            .bearer_auth(&self.key)
            .send()
            .await
            .expect("requestread")
            .json()
            .await
            .expect("token JSON");
        let token = token["token"].as_str().expect("token");
        let body = self
            .http
            .get(format!(
                "{}/workspace/{}/storage/{node}/read/?token={token}",
                self.base, self.workspace
            ))
            .send()
            .await
            .expect("read")
            .bytes()
            .await
            .expect("bytes");
        sha256_hex(&body)
    }

    /// The row's verdict: no session open (within `within`), nothing in `chunks/` or `tmp/`,
    /// one whole blob per stored file, and every stored file with the SHA-256 sent.
    async fn verify(
        &self,
        expected: &BTreeSet<(String, String)>,
        within: Duration,
    ) -> Result<(), String> {
        let deadline = Instant::now() + within;
        loop {
            match self.sessions().await {
                Ok(open) if open.is_empty() => break,
                Ok(open) if Instant::now() >= deadline => {
                    let left: Vec<String> = open
                        .iter()
                        .map(|s| format!("{} {} ({})", s["id"], s["name"], s["status"]))
                        .collect();
                    return Err(format!("sessions left open: {left:?}"));
                }
                Err(e) if Instant::now() >= deadline => return Err(e),
                _ => tokio::time::sleep(Duration::from_millis(250)).await,
            }
        }
        let data = self.data();
        let partial: Vec<PathBuf> = ["chunks", "tmp"]
            .iter()
            .flat_map(|d| files_under(&data.join(d)))
            .collect();
        if !partial.is_empty() {
            return Err(format!("partial files left: {partial:?}"));
        }
        let blobs = files_under(&data.join("blobs"));
        let stored = self.root_files().await;
        if blobs.len() != stored.len() {
            return Err(format!(
                "{} blobs for {} stored files: {blobs:?}",
                blobs.len(),
                stored.len()
            ));
        }
        for blob in &blobs {
            let len = std::fs::metadata(blob).map(|m| m.len()).unwrap_or(0);
            if len != FILE_LEN as u64 {
                return Err(format!("blob {blob:?} is {len} bytes, not a whole file"));
            }
        }
        let names: BTreeSet<&str> = stored.iter().map(|(n, _)| n.as_str()).collect();
        let wanted: BTreeSet<&str> = expected.iter().map(|(n, _)| n.as_str()).collect();
        if names != wanted {
            return Err(format!("stored {names:?}, expected {wanted:?}"));
        }
        for (name, node) in &stored {
            let sha = self.stored_sha(node).await;
            let want = expected
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, s)| s.as_str());
            if Some(sha.as_str()) != want {
                return Err(format!("{name}: stored SHA-256 {sha}, sent {want:?}"));
            }
        }
        Ok(())
    }
}

fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(files_under(&path));
        } else {
            out.push(path);
        }
    }
    out
}

/// What the client was told.
#[derive(Debug)]
enum Told {
    /// Stored, with this SHA-256 (the gateway's receipt).
    Stored(String),
    /// Failed with this message (or the connection broke).
    Failed(String),
}

/// One form post of `file` as a browser sends it, the body streamed in 1 MiB pieces; `hold`
/// stalls the body after `hold.0` pieces until `hold.1` fires (then breaks it off when the
/// sender says `false`).
async fn form_upload(
    url: String,
    workspace: String,
    name: String,
    file: Arc<Vec<u8>>,
    hold: Option<(usize, tokio::sync::oneshot::Receiver<bool>)>,
) -> Told {
    let mut pieces: Vec<Bytes> = file.chunks(MIB).map(Bytes::copy_from_slice).collect();
    let (at, release) = match hold {
        Some((at, release)) => (at, Some(release)),
        None => (usize::MAX, None),
    };
    let rest = pieces.split_off(at.min(pieces.len()));
    let head = futures_util::stream::iter(pieces.into_iter().map(Ok::<Bytes, std::io::Error>));
    let tail = futures_util::stream::once(async move {
        let go_on = match release {
            Some(release) => release.await.unwrap_or(false),
            None => true,
        };
        if go_on {
            Ok(futures_util::stream::iter(
                rest.into_iter().map(Ok::<Bytes, std::io::Error>),
            ))
        } else {
            Err(std::io::Error::other("the client went away"))
        }
    })
    .map(|r| match r {
        Ok(s) => s.left_stream(),
        Err(e) => futures_util::stream::once(async move { Err(e) }).right_stream(),
    })
    .flatten();
    let body = reqwest::Body::wrap_stream(head.chain(tail));
    let part = reqwest::multipart::Part::stream_with_length(body, file.len() as u64)
        .file_name(name)
        .mime_str("application/octet-stream")
        .expect("mime");
    let form = reqwest::multipart::Form::new()
        .text("workspace", workspace)
        .text("folder", "root")
        .part("file", part);
    let sent = reqwest::Client::new()
        .post(format!("{url}/upload"))
        .header("origin", &url)
        .header("accept", "application/json")
        .multipart(form)
        .send()
        .await;
    let response = match sent {
        Ok(response) => response,
        Err(e) => return Told::Failed(format!("connection: {e}")),
    };
    let status = response.status();
    let body: Value = response.json().await.unwrap_or_default();
    let outcome = &body["data"]["files"][0];
    match (status.as_u16(), outcome["status"].as_str()) {
        (200, Some("stored")) => {
            Told::Stored(outcome["sha256"].as_str().unwrap_or_default().to_owned())
        }
        _ => Told::Failed(format!("HTTP {status}: {body}")),
    }
}

/// The browser's side of the JS path, as `upload.js` does it: create, PUT each chunk (retrying
/// lost connections, 429 and 5xx with backoff, a 429 honouring `Retry-After`), complete; when a
/// chunk cannot be sent, cancel the upload (DELETE) and report the failure.
struct JsClient {
    http: reqwest::Client,
}

const ATTEMPTS: u32 = 8;

impl JsClient {
    fn new() -> Self {
        Self {
            http: reqwest::Client::builder()
                .pool_max_idle_per_host(0)
                .build()
                .expect("client"),
        }
    }

    /// Sends `request()` until it gets an answer that is neither 429 nor 5xx (or attempts run out).
    async fn with_retries(
        &self,
        request: impl Fn() -> reqwest::RequestBuilder,
    ) -> Result<(u16, Value), String> {
        let mut last = String::new();
        for attempt in 0..ATTEMPTS {
            match request().send().await {
                Ok(response) => {
                    let status = response.status().as_u16();
                    let retry_after: Option<u64> = response
                        .headers()
                        .get("retry-after")
                        .and_then(|v| v.to_str().ok())
                        .and_then(|v| v.parse().ok());
                    let body: Value = response.json().await.unwrap_or_default();
                    if status != 429 && status < 500 {
                        return Ok((status, body));
                    }
                    last = format!("HTTP {status}: {body}");
                    let pause = retry_after.map_or_else(|| backoff(attempt), Duration::from_secs);
                    tokio::time::sleep(pause.min(Duration::from_secs(3))).await;
                }
                Err(e) => {
                    last = format!("connection: {e}");
                    tokio::time::sleep(backoff(attempt)).await;
                }
            }
        }
        Err(last)
    }

    async fn create(
        &self,
        url: &str,
        workspace: &str,
        name: &str,
        size: usize,
    ) -> Result<Value, String> {
        let body = serde_json::json!({"workspace": workspace, "folder": "root", "name": name, "size": size});
        let (status, ticket) = self
            .with_retries(|| {
                self.http
                    .post(format!("{url}/api/uploads"))
                    .header("origin", url)
                    .json(&body)
            })
            .await?;
        if status == 201 {
            Ok(ticket)
        } else {
            Err(format!("create: HTTP {status}: {ticket}"))
        }
    }

    async fn put(&self, url: &str, ticket: &Value, n: usize, file: &[u8]) -> Result<(), String> {
        let (id, token) = ids(ticket);
        let piece = Bytes::copy_from_slice(&file[(n - 1) * CHUNK..(n * CHUNK).min(file.len())]);
        let (status, body) = self
            .with_retries(|| {
                self.http
                    .put(format!("{url}/api/uploads/{id}/chunks/{n}"))
                    .header("origin", url)
                    .header("upload-token", &token)
                    .body(piece.clone())
            })
            .await?;
        if status == 200 {
            Ok(())
        } else {
            Err(format!("chunk {n}: HTTP {status}: {body}"))
        }
    }

    /// The chunks Fast.io holds (`GET /api/uploads/{id}`), to resume from.
    async fn received(&self, url: &str, ticket: &Value) -> Result<BTreeSet<usize>, String> {
        let (id, token) = ids(ticket);
        let (status, body) = self
            .with_retries(|| {
                self.http
                    .get(format!("{url}/api/uploads/{id}"))
                    .header("upload-token", &token)
            })
            .await?;
        if status != 200 {
            return Err(format!("progress: HTTP {status}: {body}"));
        }
        Ok(body["received"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|n| n.as_u64())
                    .map(|n| n as usize)
                    .collect()
            })
            .unwrap_or_default())
    }

    async fn complete(&self, url: &str, ticket: &Value) -> Result<String, String> {
        let (id, token) = ids(ticket);
        let (status, body) = self
            .with_retries(|| {
                self.http
                    .post(format!("{url}/api/uploads/{id}/complete"))
                    .header("origin", url)
                    .header("upload-token", &token)
            })
            .await?;
        if status == 200 {
            Ok(body["sha256"].as_str().unwrap_or_default().to_owned())
        } else {
            Err(format!("complete: HTTP {status}: {body}"))
        }
    }

    async fn cancel(&self, url: &str, ticket: &Value) {
        let (id, token) = ids(ticket);
        let _ = self
            .with_retries(|| {
                self.http
                    .delete(format!("{url}/api/uploads/{id}"))
                    .header("origin", url)
                    .header("upload-token", &token)
            })
            .await;
    }

    /// Sends the chunks Fast.io does not hold yet, then completes; on failure cancels.
    async fn finish(&self, url: &str, ticket: &Value, file: &[u8]) -> Told {
        let result = async {
            let have = self.received(url, ticket).await?;
            for n in 1..=file.len().div_ceil(CHUNK) {
                if !have.contains(&n) {
                    self.put(url, ticket, n, file).await?;
                }
            }
            self.complete(url, ticket).await
        }
        .await;
        match result {
            Ok(sha) => Told::Stored(sha),
            Err(why) => {
                self.cancel(url, ticket).await;
                Told::Failed(why)
            }
        }
    }

    /// A whole upload of `file`.
    async fn upload(&self, url: &str, workspace: &str, name: &str, file: &[u8]) -> Told {
        match self.create(url, workspace, name, file.len()).await {
            Ok(ticket) => self.finish(url, &ticket, file).await,
            Err(why) => Told::Failed(why),
        }
    }
}

fn ids(ticket: &Value) -> (String, String) {
    (
        ticket["id"].as_str().expect("id").to_owned(),
        ticket["token"].as_str().expect("token").to_owned(),
    )
}

fn backoff(attempt: u32) -> Duration {
    Duration::from_millis(200u64 << attempt.min(4))
}

/// Starts a chunk PUT whose body stops after `sent` bytes and then either breaks off (the
/// returned sender gets `false`) or never ends; returns when those bytes are written.
async fn stalled_put(
    url: &str,
    ticket: &Value,
    n: usize,
    file: &[u8],
    sent: usize,
) -> tokio::net::TcpStream {
    let (id, token) = ids(ticket);
    let piece = &file[(n - 1) * CHUNK..(n * CHUNK).min(file.len())];
    let addr = url.trim_start_matches("http://");
    let mut socket = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let head = format!(
        "PUT /api/uploads/{id}/chunks/{n} HTTP/1.1\r\nhost: {addr}\r\norigin: {url}\r\nupload-token: {token}\r\ncontent-length: {}\r\n\r\n",
        piece.len()
    );
    socket.write_all(head.as_bytes()).await.expect("head");
    socket
        .write_all(&piece[..sent.min(piece.len())])
        .await
        .expect("body");
    socket.flush().await.expect("flush");
    socket
}

/// Waits until the emulator lists a session that is receiving bytes.
async fn until_a_session_is_open(rig: &Rig) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if rig.sessions().await.is_ok_and(|s| !s.is_empty()) {
            return;
        }
        assert!(Instant::now() < deadline, "no upload session opened");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Runs one row; returns its tally or why it broke the promise.
async fn row(fault: Fault, path: UploadPath, seed: u64) -> Result<Tally, String> {
    let name = format!("{fault:?}-{path:?}.bin").to_lowercase();
    let file = Arc::new(bytes(FILE_LEN, seed));
    let sha = sha256_hex(&file);
    let js = JsClient::new();
    let mut tally = Tally::default();
    let mut expected = BTreeSet::new();
    let mut record = |told: Told, tally: &mut Tally| match told {
        Told::Stored(got) => {
            tally.stored += 1;
            expected.insert((name.clone(), sha.clone()));
            if got == sha {
                Ok(())
            } else {
                Err(format!("receipt SHA-256 {got}, sent {sha}"))
            }
        }
        Told::Failed(why) => {
            tally.failed += 1;
            note_failure(&name, &why);
            // When Fast.io failed under the upload, the user must not read that they interrupted it.
            if matches!(
                fault,
                Fault::ResetMidChunk | Fault::EmulatorRestart | Fault::ServerErrors10Pct
            ) && why.contains("interrupted before the file ended")
            {
                return Err(format!(
                    "an upstream failure was reported as the client's: {why}"
                ));
            }
            Ok(())
        }
    };
    let settle_within = Duration::from_secs(30);
    let rig = match fault {
        Fault::RateLimitStorm
        | Fault::ServerErrors10Pct
        | Fault::Latency200ms
        | Fault::SlowFirstByte => {
            let rig = Rig::new(false, &[]).await;
            let faults = rig.inside().faults();
            match fault {
                Fault::RateLimitStorm => faults.set_rate_limit(5, Duration::from_secs(1)),
                Fault::ServerErrors10Pct => faults.set_error_rate(0.10),
                Fault::Latency200ms => faults.set_latency_ms(200),
                _ => faults.set_slow_first_byte_ms(500),
            }
            let told = match path {
                UploadPath::Form => {
                    form_upload(
                        rig.url.clone(),
                        rig.workspace.clone(),
                        name.clone(),
                        file.clone(),
                        None,
                    )
                    .await
                }
                UploadPath::Js => js.upload(&rig.url, &rig.workspace, &name, &file).await,
            };
            faults.set(Default::default());
            record(told, &mut tally)?;
            rig
        }
        Fault::ResetMidChunk => {
            let rig = Rig::new(false, &[]).await;
            let emulator = rig.inside();
            // The first body that reaches the emulator is cut after 3 MiB; later ones pass.
            emulator.faults().set_reset_body_after(Some(3 * MIB as u64));
            // A body being received has its file in `tmp/`; the request took its fault
            // settings when it arrived, so switching the reset off then spares only later ones.
            let watch = {
                let faults = emulator.faults();
                let tmp = rig.data().join("tmp");
                tokio::spawn(async move {
                    while files_under(&tmp).is_empty() {
                        tokio::time::sleep(Duration::from_millis(1)).await;
                    }
                    faults.set_reset_body_after(None);
                })
            };
            let told = match path {
                UploadPath::Form => {
                    form_upload(
                        rig.url.clone(),
                        rig.workspace.clone(),
                        name.clone(),
                        file.clone(),
                        None,
                    )
                    .await
                }
                UploadPath::Js => js.upload(&rig.url, &rig.workspace, &name, &file).await,
            };
            watch.abort();
            record(told, &mut tally)?;
            rig
        }
        Fault::EmulatorRestart => {
            let mut rig = Rig::new(true, &[]).await;
            match path {
                UploadPath::Form => {
                    let (go, release) = tokio::sync::oneshot::channel();
                    let upload = tokio::spawn(form_upload(
                        rig.url.clone(),
                        rig.workspace.clone(),
                        name.clone(),
                        file.clone(),
                        Some((12, release)),
                    ));
                    until_a_session_is_open(&rig).await;
                    tokio::time::sleep(Duration::from_millis(300)).await;
                    rig.restart_emulator();
                    let _ = go.send(true);
                    record(upload.await.expect("join"), &mut tally)?;
                }
                UploadPath::Js => {
                    let ticket = js.create(&rig.url, &rig.workspace, &name, FILE_LEN).await?;
                    js.put(&rig.url, &ticket, 1, &file).await?;
                    js.put(&rig.url, &ticket, 2, &file).await?;
                    // Chunk 3 is on its way when the emulator dies; the browser's request breaks.
                    let socket = stalled_put(&rig.url, &ticket, 3, &file, 5 * MIB).await;
                    tokio::time::sleep(Duration::from_millis(300)).await;
                    rig.restart_emulator();
                    drop(socket);
                    let told = js.finish(&rig.url, &ticket, &file).await;
                    record(told, &mut tally)?;
                }
            }
            rig
        }
        Fault::GatewayKilled => {
            // A form request lives at most 5 s here, so its session is an orphan after 5 s.
            let vars = [
                ("FASTGATE_UPLOAD_TIMEOUT", "5s"),
                ("FASTGATE_ORPHAN_AGE", "5s"),
            ];
            let mut rig = Rig::new(false, &vars).await;
            match path {
                UploadPath::Form => {
                    let (go, release) = tokio::sync::oneshot::channel();
                    let upload = tokio::spawn(form_upload(
                        rig.url.clone(),
                        rig.workspace.clone(),
                        name.clone(),
                        file.clone(),
                        Some((12, release)),
                    ));
                    until_a_session_is_open(&rig).await;
                    tokio::time::sleep(Duration::from_millis(300)).await;
                    rig.restart_gateway();
                    let _ = go.send(false);
                    let told = upload.await.expect("join");
                    assert!(matches!(told, Told::Failed(_)), "{told:?}");
                    record(told, &mut tally)?;
                }
                UploadPath::Js => {
                    let ticket = js.create(&rig.url, &rig.workspace, &name, FILE_LEN).await?;
                    js.put(&rig.url, &ticket, 1, &file).await?;
                    js.put(&rig.url, &ticket, 2, &file).await?;
                    let socket = stalled_put(&rig.url, &ticket, 3, &file, 5 * MIB).await;
                    tokio::time::sleep(Duration::from_millis(300)).await;
                    rig.restart_gateway();
                    drop(socket);
                    // The browser's signed token and the Fast.io session outlive the process.
                    let told = js.finish(&rig.url, &ticket, &file).await;
                    if !matches!(told, Told::Stored(_)) {
                        return Err(format!("the JS upload did not resume: {told:?}"));
                    }
                    record(told, &mut tally)?;
                }
            }
            rig
        }
        Fault::ClientGone => {
            // JS sessions are resumable for the token's lifetime; after it (+ the orphan age)
            // the sweeper cancels what the vanished browsers left.
            let vars = [
                ("FASTGATE_UPLOAD_TOKEN_TTL", "20s"),
                ("FASTGATE_UPLOAD_TIMEOUT", "5s"),
                ("FASTGATE_ORPHAN_AGE", "5s"),
            ];
            let rig = Rig::new(false, &vars).await;
            let points = cut_points(CUT_SEED ^ path as u64);
            let form_body = Arc::new(multipart_body(&rig.workspace, &name, &file));
            let results = futures_util::stream::iter(points)
                .map(|point| {
                    let (rig, js, file, form_body, name) =
                        (&rig, &js, &file, form_body.clone(), &name);
                    async move {
                        match path {
                            UploadPath::Form => cut_form_post(&rig.url, &form_body, point).await,
                            UploadPath::Js => {
                                let ticket =
                                    js.create(&rig.url, &rig.workspace, name, FILE_LEN).await?;
                                let n = point / CHUNK + 1;
                                for before in 1..n {
                                    js.put(&rig.url, &ticket, before, file).await?;
                                }
                                drop(stalled_put(&rig.url, &ticket, n, file, point % CHUNK).await);
                                Ok(())
                            }
                        }
                    }
                })
                .buffer_unordered(5)
                .collect::<Vec<Result<(), String>>>()
                .await;
            for result in results {
                result?;
                tally.failed += 1;
            }
            rig
        }
    };
    let within = match (fault, path) {
        (Fault::ClientGone, UploadPath::Js) => Duration::from_secs(60),
        _ => settle_within,
    };
    rig.verify(&expected, within)
        .await
        .map_err(|e| format!("{e}\ngateway output:\n{}", rig.gateway.output().join("\n")))?;
    Ok(tally)
}

/// [`CUTS`] points across the file, from a splitmix64 sequence seeded with `seed`.
fn cut_points(seed: u64) -> Vec<usize> {
    let mut x = seed;
    (0..CUTS)
        .map(|_| {
            x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = x;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            ((z ^ (z >> 31)) % FILE_LEN as u64) as usize
        })
        .collect()
}

/// Notes why an upload failed (shown with `--nocapture`).
fn note_failure(name: &str, why: &str) {
    let short: String = why.chars().take(200).collect();
    eprintln!("{name}: failed: {short}");
}

/// The whole multipart body of a form post of `file`, as a browser sends it.
fn multipart_body(workspace: &str, name: &str, file: &[u8]) -> (String, Vec<u8>) {
    let boundary = "----fastgatefaultmatrixboundary7f3a";
    let mut body = Vec::with_capacity(file.len() + 1024);
    for (field, value) in [("workspace", workspace), ("folder", "root")] {
        body.extend_from_slice(
            format!("--{boundary}\r\ncontent-disposition: form-data; name=\"{field}\"\r\n\r\n{value}\r\n")
                .as_bytes(),
        );
    }
    body.extend_from_slice(
        format!(
            "--{boundary}\r\ncontent-disposition: form-data; name=\"file\"; filename=\"{name}\"\r\ncontent-type: application/octet-stream\r\n\r\n"
        )
        .as_bytes(),
    );
    body.extend_from_slice(file);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    (boundary.to_owned(), body)
}

/// A form post whose client goes away after `point` bytes of the file (its connection closed).
async fn cut_form_post(url: &str, body: &(String, Vec<u8>), point: usize) -> Result<(), String> {
    let (boundary, bytes) = body;
    let addr = url.trim_start_matches("http://");
    let mut socket = tokio::net::TcpStream::connect(addr)
        .await
        .map_err(|e| e.to_string())?;
    let head = format!(
        "POST /upload HTTP/1.1\r\nhost: {addr}\r\norigin: {url}\r\naccept: application/json\r\ncontent-type: multipart/form-data; boundary={boundary}\r\ncontent-length: {}\r\n\r\n",
        bytes.len()
    );
    socket
        .write_all(head.as_bytes())
        .await
        .map_err(|e| e.to_string())?;
    // The file starts after the text fields and the part's headers.
    let start = bytes.len() - FILE_LEN - format!("\r\n--{boundary}--\r\n").len();
    let _ = socket.write_all(&bytes[..start + point]).await;
    drop(socket);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_fault_on_both_upload_paths_ends_stored_and_verified_or_failed_with_nothing_left() {
    let started = Instant::now();
    let rows: Vec<(Fault, UploadPath)> = FAULTS
        .iter()
        .flat_map(|f| [(*f, UploadPath::Form), (*f, UploadPath::Js)])
        .collect();
    let results =
        futures_util::future::join_all(rows.iter().enumerate().map(|(i, (fault, path))| {
            let (fault, path) = (*fault, *path);
            async move {
                let at = Instant::now();
                let result = tokio::spawn(row(fault, path, 1000 + i as u64)).await;
                let result = result.unwrap_or_else(|e| Err(format!("the row panicked: {e}")));
                (fault, path, result, at.elapsed())
            }
        }))
        .await;
    let mut table = String::from(
        "| fault | path | stored | failed, cancelled | seconds |\n|---|---|---|---|---|\n",
    );
    let mut broken = Vec::new();
    for (fault, path, result, took) in &results {
        match result {
            Ok(t) => table.push_str(&format!(
                "| {} | {path:?} | {} | {} | {:.1} |\n",
                fault.label(),
                t.stored,
                t.failed,
                took.as_secs_f64()
            )),
            Err(why) => broken.push(format!("{} / {path:?}: {why}", fault.label())),
        }
    }
    eprintln!(
        "{table}\nall rows in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    assert!(
        broken.is_empty(),
        "rows that broke the promise:\n{}",
        broken.join("\n\n")
    );
    // The rows where nothing is in the way must have stored their file.
    for (fault, path, result, _) in &results {
        let stored = result.as_ref().map_or(0, |t| t.stored);
        if matches!(
            fault,
            Fault::Latency200ms | Fault::SlowFirstByte | Fault::RateLimitStorm
        ) || (*fault == Fault::GatewayKilled && *path == UploadPath::Js)
        {
            assert_eq!(stored, 1, "{} / {path:?} must end stored", fault.label());
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_restarted_gateway_cancels_the_form_session_a_killed_one_left_and_spares_a_resumable_js_session()
 {
    let vars = [
        ("FASTGATE_UPLOAD_TIMEOUT", "3s"),
        ("FASTGATE_ORPHAN_AGE", "3s"),
    ];
    let mut rig = Rig::new(false, &vars).await;
    let js = JsClient::new();
    let file = Arc::new(bytes(FILE_LEN, 77));
    // A browser's upload, two chunks in: resumable for its token's lifetime (24 h here).
    let ticket = js
        .create(&rig.url, &rig.workspace, "resumable.bin", FILE_LEN)
        .await
        .expect("created");
    js.put(&rig.url, &ticket, 1, &file).await.expect("chunk 1");
    js.put(&rig.url, &ticket, 2, &file).await.expect("chunk 2");
    // A form upload whose gateway dies under it (kill -9: no shutdown cancels anything).
    let (go, release) = tokio::sync::oneshot::channel();
    let upload = tokio::spawn(form_upload(
        rig.url.clone(),
        rig.workspace.clone(),
        "orphan.bin".to_owned(),
        file.clone(),
        Some((12, release)),
    ));
    let deadline = Instant::now() + Duration::from_secs(20);
    while rig.sessions().await.map_or(0, |s| s.len()) < 2 {
        assert!(Instant::now() < deadline, "the form session never opened");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    rig.gateway.kill();
    let _ = go.send(false);
    assert!(matches!(upload.await.expect("join"), Told::Failed(_)));
    let stream_id = |sessions: &[Value]| {
        sessions
            .iter()
            .find(|s| s["stream"] == true)
            .map(|s| s["id"].clone())
    };
    let orphan =
        stream_id(&rig.sessions().await.expect("sessions")).expect("the orphaned stream session");
    // Restarted, the gateway's sweep (at start-up, then every second) cancels the stream session
    // once it is older than FASTGATE_ORPHAN_AGE, and leaves the browser's session alone.
    let (gateway, url) = process::serve(&rig.env, rig.dir.path());
    rig.gateway = gateway;
    rig.url = url;
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let open = rig.sessions().await.expect("sessions");
        if stream_id(&open).is_none() {
            assert_eq!(open.len(), 1, "{open:?}");
            assert_eq!(open[0]["id"], ticket["id"], "the JS session is still there");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the orphan {orphan} was not cancelled: {open:?}\nthe restarted gateway said:\n{}",
            rig.gateway.output().join("\n")
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let log = rig.gateway.output().join("\n");
    assert!(
        log.contains("cancelled an orphaned upload session"),
        "{log}"
    );
    // The browser resumes on the restarted gateway and its upload is stored.
    let told = js.finish(&rig.url, &ticket, &file).await;
    assert!(
        matches!(&told, Told::Stored(sha) if *sha == sha256_hex(&file)),
        "{told:?}"
    );
    let expected = BTreeSet::from([("resumable.bin".to_owned(), sha256_hex(&file))]);
    rig.verify(&expected, Duration::from_secs(10))
        .await
        .expect("nothing left behind");
}

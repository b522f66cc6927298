//! Three `fastgate serve` replicas behind a real nginx (Debian's `/usr/sbin/nginx`), configured
//! from `deploy/nginx.conf` itself: the replicas share `FASTGATE_SECRET`, one PostgreSQL access
//! database and one emulator. A JS upload's chunks land on different replicas and it completes;
//! killing a replica mid-upload costs no upload; a form upload streams through nginx (request
//! buffering off) and the replica serving it stays within its memory budget.

use std::path::Path;
use std::time::{Duration, Instant};

use bytes::Bytes;
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::common::payload::{MIB, bytes, sha256_hex};
use crate::common::postgres::fresh_database;
use crate::common::process::{self, Process};
use crate::common::start_emulator;
use fastgate::emulator::RunningEmulator;

const NGINX: &str = "/usr/sbin/nginx";
const SECRET: &str = "nginx-replicas-secret-of-at-least-32-bytes";
const CHUNK: usize = 8 * MIB;

/// `deploy/nginx.conf` turned into a config this test can run unprivileged-style in a temp
/// prefix: the three upstream servers and the listen port templated in, the process in the
/// foreground with its pid, logs and temp files in `prefix`. Every replacement must match once,
/// so a change of shape in the deployed file fails here rather than testing another config.
fn nginx_conf(prefix: &Path, port: u16, replicas: &[String]) -> String {
    let deployed =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/deploy/nginx.conf"))
            .expect("deploy/nginx.conf");
    let mut conf = deployed.clone();
    for (i, addr) in replicas.iter().enumerate() {
        let from = format!("server fastgate-{}:3000", i + 1);
        assert_eq!(
            deployed.matches(&from).count(),
            1,
            "{from} in deploy/nginx.conf"
        );
        conf = conf.replace(&from, &format!("server {addr}"));
    }
    assert_eq!(
        deployed.matches("listen 80;").count(),
        1,
        "listen 80; in deploy/nginx.conf"
    );
    conf = conf.replace("listen 80;", &format!("listen 127.0.0.1:{port};"));
    let p = prefix.display();
    assert_eq!(deployed.matches("http {").count(), 1);
    conf = conf.replace(
        "http {",
        &format!(
            "http {{\n    access_log {p}/access.log;\n    client_body_temp_path {p}/client_body;\n    \
             proxy_temp_path {p}/proxy;\n    fastcgi_temp_path {p}/fastcgi;\n    \
             uwsgi_temp_path {p}/uwsgi;\n    scgi_temp_path {p}/scgi;\n"
        ),
    );
    // Root here (the test runs as root in CI): keep the workers root so they can use the temp
    // prefix; the deployed image runs nginx's own way.
    let user = if is_root() { "user root;\n" } else { "" };
    format!(
        "daemon off;\nmaster_process on;\n{user}pid {p}/nginx.pid;\nerror_log {p}/error.log info;\n{conf}"
    )
}

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Uid:"))
                .and_then(|v| v.split_whitespace().next().map(|u| u == "0"))
        })
        .unwrap_or(false)
}

/// A free loopback port for nginx (which binds it itself, so the port is chosen first).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

struct Cluster {
    dir: tempfile::TempDir,
    emulator: RunningEmulator,
    replicas: Vec<Process>,
    /// Each replica's own address (behind nginx), for its `/metrics`.
    replica_urls: Vec<String>,
    /// Kept alive (and killed on drop) for the whole test.
    _nginx: Process,
    /// nginx's URL, the one origin browsers use.
    url: String,
    /// An admin API token (made with `fastgate token add` on the shared database).
    token: String,
    http: reqwest::Client,
}

impl Cluster {
    async fn start(extra: &[(&str, &str)]) -> Self {
        assert!(
            Path::new(NGINX).exists(),
            "{NGINX} is missing: install Debian's nginx (apt-get install -y nginx; .ci/run does)"
        );
        let dir = tempfile::tempdir().expect("tempdir");
        let key = "k_nginx_replicas_key_31f9";
        let emulator = start_emulator(&dir.path().join("emulator"), key, |_| {}).await;
        let database = fresh_database().await;
        let port = free_port();
        let url = format!("http://127.0.0.1:{port}");
        let mut env: Vec<(String, String)> = [
            ("FASTIO_API_KEY", key),
            ("FASTGATE_SECRET", SECRET),
            ("FASTGATE_LOG_FORMAT", "json"),
            ("FASTGATE_TRUSTED_PROXIES", "127.0.0.1/32"),
            ("FASTGATE_CHUNK_SIZE", "8MiB"),
            ("FASTGATE_SHUTDOWN_GRACE", "2s"),
            ("RUST_LOG", "info"),
        ]
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
        env.push(("FASTIO_BASE_URL".to_owned(), emulator.base_url()));
        env.push(("FASTGATE_DATABASE_URL".to_owned(), database));
        env.push(("FASTGATE_PUBLIC_URL".to_owned(), url.clone()));
        env.extend(
            extra
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
        );
        // The admin and a token, through the CLI on the shared database.
        let (status, out) = process::run(
            &["user", "add", "admin", "--role", "admin"],
            &env,
            dir.path(),
        );
        assert!(status.success(), "{out}");
        let (status, out) = process::run(
            &[
                "token",
                "add",
                "nginx-test",
                "--user",
                "admin",
                "--role",
                "admin",
            ],
            &env,
            dir.path(),
        );
        assert!(status.success(), "{out}");
        // Under JSON logs the command's answer is one JSON object carrying the token.
        let token = out
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .find_map(|v| v["token"].as_str().map(str::to_owned))
            .unwrap_or_else(|| panic!("no token in {out}"));
        let mut replicas = Vec::new();
        let mut addrs = Vec::new();
        for i in 1..=3 {
            let mut env = env.clone();
            env.push((
                "FASTGATE_DATA_DIR".to_owned(),
                dir.path()
                    .join(format!("replica-{i}"))
                    .display()
                    .to_string(),
            ));
            let (process, replica_url) = process::serve(&env, dir.path());
            addrs.push(replica_url.trim_start_matches("http://").to_owned());
            replicas.push(process);
        }
        let prefix = dir.path().join("nginx");
        std::fs::create_dir_all(&prefix).expect("nginx prefix");
        let conf = prefix.join("nginx.conf");
        std::fs::write(&conf, nginx_conf(&prefix, port, &addrs)).expect("nginx.conf");
        let conf_arg = conf.display().to_string();
        let prefix_arg = format!("{}/", prefix.display());
        let nginx = Process::spawn(
            NGINX,
            &[
                "-p",
                &prefix_arg,
                "-c",
                &conf_arg,
                "-e",
                &format!("{prefix_arg}error.log"),
            ],
            &[],
            dir.path(),
        );
        let http = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(r) = http.get(format!("{url}/healthz")).send().await
                && r.status().is_success()
            {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "nginx did not answer: {}\n{}",
                nginx.output().join("\n"),
                std::fs::read_to_string(prefix.join("error.log")).unwrap_or_default()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Self {
            dir,
            emulator,
            replicas,
            replica_urls: addrs.iter().map(|a| format!("http://{a}")).collect(),
            _nginx: nginx,
            url,
            token,
            http,
        }
    }

    /// Chunk PUTs each replica answered, from its JSON request log.
    fn chunks_served(&self) -> Vec<usize> {
        self.replicas
            .iter()
            .map(|r| {
                r.output()
                    .iter()
                    .filter(|l| l.contains("\"message\":\"response\"") && l.contains("/chunks/"))
                    .count()
            })
            .collect()
    }

    async fn open_sessions(&self) -> Vec<Value> {
        let body: Value = self
            .http
            .get(format!("{}/upload/details/", self.emulator.base_url()))
            .bearer_auth("k_nginx_replicas_key_31f9")
            .send()
            .await
            .expect("session list")
            .json()
            .await
            .expect("JSON");
        body["sessions"].as_array().cloned().unwrap_or_default()
    }

    async fn until_no_session(&self) {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let open = self.open_sessions().await;
            if open.is_empty() {
                return;
            }
            assert!(Instant::now() < deadline, "sessions left open: {open:?}");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// The replica holding upload bytes right now (its `fastgate_upload_bytes_in_flight`).
    async fn replica_receiving(&self) -> Option<usize> {
        for (i, url) in self.replica_urls.iter().enumerate() {
            let Ok(r) = self
                .http
                .get(format!("{url}/metrics"))
                .bearer_auth(&self.token)
                .send()
                .await
            else {
                continue;
            };
            let text = r.text().await.unwrap_or_default();
            let busy = text.lines().any(|l| {
                l.strip_prefix("fastgate_upload_bytes_in_flight ")
                    .and_then(|v| v.trim().parse::<f64>().ok())
                    .is_some_and(|v| v > 0.0)
            });
            if busy {
                return Some(i);
            }
        }
        None
    }

    /// A whole JS-path upload through nginx, each chunk retried like `upload.js` does (a lost
    /// connection, 429 or 5xx). With `kill_during = Some(n)`, chunk `n` first goes out with a
    /// body that stalls halfway, and the replica receiving it is killed with SIGKILL (found by
    /// its in-flight bytes); returns the receipt and the replica killed.
    async fn js_upload(
        &mut self,
        name: &str,
        file: &[u8],
        kill_during: Option<usize>,
    ) -> (Value, Option<usize>) {
        let mut killed = None;
        let url = self.url.clone();
        let url = &url;
        let created = self
            .http
            .post(format!("{url}/api/uploads"))
            .bearer_auth(&self.token)
            .header("origin", url)
            .json(&serde_json::json!({"workspace": self.emulator.workspace_id(), "folder": "root", "name": name, "size": file.len()}))
            .send()
            .await
            .expect("create");
        assert_eq!(created.status(), 201);
        let ticket: Value = created.json().await.expect("ticket");
        let (id, token) = (
            ticket["id"].as_str().expect("id").to_owned(),
            ticket["token"].as_str().expect("token").to_owned(),
        );
        for n in 1..=file.len().div_ceil(CHUNK) {
            let piece = Bytes::copy_from_slice(&file[(n - 1) * CHUNK..(n * CHUNK).min(file.len())]);
            if kill_during == Some(n) {
                let half = piece.slice(..piece.len() / 2);
                let body = futures_util::StreamExt::chain(
                    futures_util::stream::once(async move { Ok::<Bytes, std::io::Error>(half) }),
                    futures_util::stream::pending(),
                );
                let stalled = tokio::spawn(
                    reqwest::Client::new()
                        .put(format!("{url}/api/uploads/{id}/chunks/{n}"))
                        .header("origin", url)
                        .header("upload-token", &token)
                        .header("content-length", piece.len())
                        .body(reqwest::Body::wrap_stream(body))
                        .send(),
                );
                let deadline = Instant::now() + Duration::from_secs(10);
                let victim = loop {
                    if let Some(i) = self.replica_receiving().await {
                        break i;
                    }
                    assert!(
                        Instant::now() < deadline,
                        "no replica is receiving chunk {n}"
                    );
                    tokio::time::sleep(Duration::from_millis(20)).await;
                };
                self.replicas[victim].kill();
                killed = Some(victim);
                stalled.abort();
            }
            let mut attempts = 0;
            loop {
                attempts += 1;
                // A fresh connection per chunk, as browsers spread them: nginx picks a replica
                // per request anyway.
                let sent = reqwest::Client::new()
                    .put(format!("{url}/api/uploads/{id}/chunks/{n}"))
                    .header("origin", url)
                    .header("upload-token", &token)
                    .body(piece.clone())
                    .send()
                    .await;
                match sent {
                    Ok(r) if r.status() == 200 => break,
                    Ok(r) if r.status() == 429 || r.status().is_server_error() => {}
                    Ok(r) => panic!(
                        "chunk {n}: HTTP {}: {}",
                        r.status(),
                        r.text().await.unwrap_or_default()
                    ),
                    Err(_) => {}
                }
                assert!(attempts < 10, "chunk {n} could not be sent");
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
        let mut attempts = 0;
        loop {
            attempts += 1;
            let r = self
                .http
                .post(format!("{url}/api/uploads/{id}/complete"))
                .header("origin", url)
                .header("upload-token", &token)
                .send()
                .await;
            if let Ok(r) = r
                && r.status() == 200
            {
                return (r.json().await.expect("receipt"), killed);
            }
            assert!(attempts < 10, "complete kept failing");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn js_chunks_spread_over_replicas_behind_nginx_and_a_replica_killed_mid_upload_costs_no_upload()
 {
    let mut cluster = Cluster::start(&[]).await;
    let file = bytes(40 * MIB, 71);
    let (receipt, _) = cluster.js_upload("spread.bin", &file, None).await;
    assert_eq!(receipt["sha256"], sha256_hex(&file), "{receipt}");
    let served = cluster.chunks_served();
    assert_eq!(served.iter().sum::<usize>(), 5, "{served:?}");
    assert!(
        served.iter().filter(|n| **n > 0).count() >= 2,
        "the chunks all landed on one replica: {served:?}"
    );

    // The second upload loses the replica receiving its third chunk (kill -9: no graceful
    // drain); nginx routes around it and the browser's retry carries on on the other two.
    let second = bytes(40 * MIB, 72);
    let (receipt, killed) = cluster.js_upload("survivor.bin", &second, Some(3)).await;
    assert!(killed.is_some(), "a replica was killed mid-chunk");
    assert_eq!(receipt["sha256"], sha256_hex(&second), "{receipt}");
    cluster.until_no_session().await;
    // Both files are in the workspace, whole.
    let listing: Value = cluster
        .http
        .get(format!(
            "{}/api/files/{}/root",
            cluster.url,
            cluster.emulator.workspace_id()
        ))
        .bearer_auth(&cluster.token)
        .send()
        .await
        .expect("listing")
        .json()
        .await
        .expect("JSON");
    let text = listing.to_string();
    assert!(
        text.contains("spread.bin") && text.contains("survivor.bin"),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_form_upload_streams_through_nginx_and_the_replica_stays_within_its_memory_budget() {
    const TOTAL_MIB: usize = 256;
    let cluster = Cluster::start(&[("FASTGATE_INFLIGHT_BUDGET", "32MiB")]).await;
    let block = Bytes::from(bytes(MIB, 9));
    let mut expected = Sha256::new();
    for _ in 0..TOTAL_MIB {
        expected.update(&block);
    }
    let expected = hex::encode(expected.finalize());
    let before: Vec<u64> = cluster
        .replicas
        .iter()
        .map(|r| r.status_kib("VmHWM").expect("VmHWM"))
        .collect();
    // The body stops after 32 MiB until the emulator holds a session receiving it: with request
    // buffering on, nginx would wait for the whole body before any replica saw a byte.
    let (go, release) = tokio::sync::oneshot::channel::<()>();
    let head_block = block.clone();
    let head = futures_util::stream::iter(
        (0..32).map(move |_| Ok::<Bytes, std::io::Error>(head_block.clone())),
    );
    let tail_block = block.clone();
    let tail = futures_util::stream::once(async move {
        let _ = release.await;
        futures_util::stream::iter(
            (32..TOTAL_MIB).map(move |_| Ok::<Bytes, std::io::Error>(tail_block.clone())),
        )
    });
    let body = reqwest::Body::wrap_stream(futures_util::StreamExt::chain(
        head,
        futures_util::StreamExt::flatten(tail),
    ));
    let form = reqwest::multipart::Form::new()
        .text("workspace", cluster.emulator.workspace_id())
        .text("folder", "root")
        .part(
            "file",
            reqwest::multipart::Part::stream_with_length(body, (TOTAL_MIB * MIB) as u64)
                .file_name("through-nginx.bin"),
        );
    let request = cluster
        .http
        .post(format!("{}/upload", cluster.url))
        .bearer_auth(&cluster.token)
        .header("origin", &cluster.url)
        .header("accept", "application/json")
        .multipart(form)
        .send();
    let upload = tokio::spawn(request);
    let deadline = Instant::now() + Duration::from_secs(20);
    while cluster.open_sessions().await.is_empty() {
        assert!(
            Instant::now() < deadline,
            "no upstream session while nginx holds a third of the body: is it buffering?"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        std::fs::read_dir(cluster.dir.path().join("nginx/client_body"))
            .map(|d| d.count())
            .unwrap_or(0)
            == 0,
        "nginx spooled the body to disk"
    );
    go.send(()).expect("the body is still waiting");
    let response = upload.await.expect("join").expect("response");
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.expect("JSON");
    let outcome = &body["data"]["files"][0];
    assert_eq!(outcome["status"], "stored", "{body}");
    assert_eq!(outcome["sha256"], expected.as_str());
    // The replica that served it: its peak resident set grew by far less than the file.
    let grew: Vec<u64> = cluster
        .replicas
        .iter()
        .zip(&before)
        .map(|(r, b)| r.status_kib("VmHWM").expect("VmHWM").saturating_sub(*b) / 1024)
        .collect();
    let peak: Vec<u64> = cluster
        .replicas
        .iter()
        .map(|r| r.status_kib("VmHWM").expect("VmHWM") / 1024)
        .collect();
    eprintln!(
        "replicas' VmHWM after a {TOTAL_MIB} MiB form upload: {peak:?} MiB (grew {grew:?} MiB)"
    );
    let worst = *peak.iter().max().expect("three");
    let most = *grew.iter().max().expect("three");
    assert!(
        most <= 64 && worst < 128,
        "a replica grew by {most} MiB (peak {worst} MiB) for a {TOTAL_MIB} MiB upload with a 32 MiB budget"
    );
    cluster.until_no_session().await;
}

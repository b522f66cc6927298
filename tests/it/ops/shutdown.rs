//! Graceful shutdown (`server::run`): stop accepting, let running requests finish within
//! `FASTGATE_SHUTDOWN_GRACE`, cancel the Fast.io sessions of uploads that could not finish.

use std::time::{Duration, Instant};

use crate::common::wait_until;

use crate::common::start_emulator;
use fastgate::config::Config;
use fastgate::emulator::RunningEmulator;
use fastgate::fastio::{self, UploadTarget};
use fastgate::server::{ShutdownReport, run};
use fastgate::web::AppState;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

const KEY: &str = "k_shutdown_test_key";

async fn state(base_url: &str, grace: &str, data_dir: &std::path::Path) -> AppState {
    let config = Config::from_vars([
        (
            "FASTGATE_DATA_DIR".to_owned(),
            data_dir.display().to_string(),
        ),
        ("FASTGATE_AUTH".to_owned(), "open".to_owned()),
        ("FASTIO_API_KEY".to_owned(), KEY.to_owned()),
        ("FASTIO_BASE_URL".to_owned(), base_url.to_owned()),
        ("FASTGATE_SHUTDOWN_GRACE".to_owned(), grace.to_owned()),
    ])
    .expect("valid config");
    let mut client_config =
        fastio::ClientConfig::new(base_url, secrecy::SecretString::from(KEY.to_owned()));
    client_config.retry.max_attempts = 1;
    AppState::open(config, fastio::Client::new(client_config).expect("client"))
        .await
        .expect("state")
}

/// Serves `state` on port 0 until the returned sender fires.
async fn start(
    state: AppState,
) -> (
    String,
    oneshot::Sender<()>,
    JoinHandle<Result<ShutdownReport, fastgate::server::StartError>>,
) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    let (stop, stopped) = oneshot::channel::<()>();
    let server = tokio::spawn(run(listener, state, async move {
        let _ = stopped.await;
    }));
    (url, stop, server)
}

/// An "upstream" that accepts one connection, reports it, and answers only when told.
async fn stalled_upstream() -> (String, oneshot::Receiver<()>, oneshot::Sender<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let base = format!("http://{}/current", listener.local_addr().expect("addr"));
    let (arrived_tx, arrived) = oneshot::channel();
    let (release, released) = oneshot::channel::<()>();
    tokio::spawn(async move {
        let (mut socket, _) = listener.accept().await.expect("accept");
        let mut buf = [0u8; 4096];
        let _ = socket.read(&mut buf).await;
        let _ = arrived_tx.send(());
        let _ = released.await;
        let _ = socket
            .write_all(b"HTTP/1.1 503 Service Unavailable\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
            .await;
        // Keep the socket until the peer is done.
        let _ = socket.read(&mut buf).await;
    });
    (base, arrived, release)
}

#[tokio::test]
async fn a_running_request_finishes_during_the_grace_period() {
    let (upstream, arrived, release) = stalled_upstream().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let (url, stop, server) = start(state(&upstream, "10s", dir.path()).await).await;
    let client = reqwest::Client::new();
    let probe = tokio::spawn(client.get(format!("{url}/readyz")).send());
    arrived.await.expect("the request reached upstream");
    stop.send(()).expect("signal");
    // Stopped accepting: the server is still draining, yet a new connection is refused.
    let addr = url.trim_start_matches("http://").to_owned();
    wait_until(
        "the listener to close once shutdown starts",
        Duration::from_secs(5),
        || async {
            match tokio::net::TcpStream::connect(&addr).await {
                Err(_) => Ok(()),
                Ok(_) => Err("a new connection was accepted"),
            }
        },
    )
    .await;
    assert!(
        !server.is_finished(),
        "the running request holds the shutdown"
    );
    release.send(()).expect("release");
    let response = probe
        .await
        .expect("join")
        .expect("the running request got its answer");
    assert_eq!(response.status(), 503);
    let report = server.await.expect("join").expect("clean shutdown");
    assert_eq!(
        report,
        ShutdownReport {
            drained: true,
            cancelled: 0
        }
    );
}

#[tokio::test]
async fn a_request_still_running_when_the_grace_ends_does_not_hold_the_exit() {
    let (upstream, arrived, _release) = stalled_upstream().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let (url, stop, server) = start(state(&upstream, "300ms", dir.path()).await).await;
    let probe = tokio::spawn(reqwest::Client::new().get(format!("{url}/readyz")).send());
    arrived.await.expect("the request reached upstream");
    let started = Instant::now();
    stop.send(()).expect("signal");
    let report = server.await.expect("join").expect("clean shutdown");
    assert!(!report.drained);
    assert!(started.elapsed() >= Duration::from_millis(300));
    assert!(started.elapsed() < Duration::from_secs(3));
    probe.abort();
}

async fn emulator(dir: &std::path::Path) -> RunningEmulator {
    start_emulator(&dir.join("emulator"), KEY, |_| {}).await
}

#[tokio::test]
async fn uploads_left_unfinished_at_shutdown_have_their_sessions_cancelled_upstream() {
    let dir = tempfile::tempdir().expect("tempdir");
    let emulator = emulator(dir.path()).await;
    let state = state(&emulator.base_url(), "1s", &dir.path().join("gateway")).await;
    let target = UploadTarget {
        workspace: emulator.workspace_id(),
        folder: "root".to_owned(),
    };
    let session = state
        .fastio
        .create_chunked_upload(&target, "unfinished.bin", 10 * 1024 * 1024, None)
        .await
        .expect("session");
    let finished = state
        .fastio
        .create_chunked_upload(&target, "finished.bin", 10 * 1024 * 1024, None)
        .await
        .expect("session");
    // One upload is still registered (its task never finished); the other ended in time.
    let _stuck = state.uploads.register(session.clone());
    drop(state.uploads.register(finished.clone()));
    let client = state.fastio.clone();
    let (_url, stop, server) = start(state).await;
    stop.send(()).expect("signal");
    let report = server.await.expect("join").expect("clean shutdown");
    assert_eq!(
        report,
        ShutdownReport {
            drained: true,
            cancelled: 1
        }
    );
    let gone = match client.upload_details(&session, None).await {
        Err(fastio::Error::NotFound { .. }) => true,
        Ok(details) => details.status.is_failed(),
        Err(other) => panic!("unexpected: {other}"),
    };
    assert!(gone, "the unfinished session must be cancelled");
    let kept = client
        .upload_details(&finished, None)
        .await
        .expect("still there");
    assert!(!kept.status.is_failed());
}

//! The real client against the real emulator over HTTP on port 0: uploads of every kind end
//! `stored` with the right size and hash, failures leave nothing behind, rate limits and 5xx are
//! ridden out, listings paginate, long-polls return early, and sessions survive a restart.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use bytes::Bytes;
use fastgate::emulator::{
    self, EmulatorConfig, EnvelopeStyle, ExpiresFormat, HeaderStyle, RunningEmulator,
};
use fastgate::fastio::{
    Client, ClientConfig, Error, ListQuery, NodeType, PageSize, RetryPolicy, SortBy, SortDir,
    UploadStatus, UploadTarget,
};
use futures_util::{StreamExt, TryStreamExt, stream};
use secrecy::SecretString;
use tempfile::TempDir;

use crate::common::payload::{MIB, bytes, sha256_hex};

const KEY: &str = "k_emulator_test_key";
const STORE_WAIT: Duration = Duration::from_secs(30);

/// An emulator on port 0 with its data dir, and a client pointed at it.
struct Env {
    emulator: RunningEmulator,
    client: Client,
    dir: TempDir,
}

impl Env {
    async fn start() -> Env {
        Env::start_with(|_| {}).await
    }

    async fn start_with(tweak: impl FnOnce(&mut EmulatorConfig)) -> Env {
        let dir = tempfile::tempdir().expect("tempdir");
        let emulator = launch(&dir, tweak).await;
        let client = client_for(&emulator.base_url(), KEY);
        Env {
            emulator,
            client,
            dir,
        }
    }

    fn target(&self) -> UploadTarget {
        UploadTarget {
            workspace: self.emulator.workspace_id(),
            folder: "root".into(),
        }
    }

    fn ws(&self) -> String {
        self.emulator.workspace_id()
    }

    /// Downloads a node through `requestread/` + `read/`.
    async fn download(&self, node: &str) -> Vec<u8> {
        let token = self
            .client
            .request_read(&self.ws(), node)
            .await
            .expect("token");
        let download = self
            .client
            .read(&self.ws(), node, &token, None)
            .await
            .expect("read");
        let parts: Vec<Bytes> = download.body.try_collect().await.expect("body");
        parts.concat()
    }

    /// Names of every node in the root folder.
    async fn root_names(&self) -> Vec<String> {
        let page = self
            .client
            .list_folder(&self.ws(), "root", &ListQuery::default())
            .await
            .expect("list");
        page.nodes.into_iter().map(|node| node.name).collect()
    }
}

async fn launch(dir: &TempDir, tweak: impl FnOnce(&mut EmulatorConfig)) -> RunningEmulator {
    let mut config = EmulatorConfig::new(dir.path(), KEY);
    tweak(&mut config);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    emulator::start(config, listener)
        .await
        .expect("emulator starts")
}

/// Quick retries, so fault tests stay fast.
const RETRY: RetryPolicy = RetryPolicy {
    max_attempts: 8,
    base_delay: Duration::from_millis(10),
    chunk_base_delay: Duration::from_millis(10),
    max_delay: Duration::from_millis(100),
    max_rate_limit_wait: Duration::from_secs(5),
};

fn client_for(base_url: &str, key: &str) -> Client {
    let mut config = ClientConfig::new(base_url, SecretString::from(key));
    config.retry = RETRY;
    Client::new(config).expect("client")
}

/// Uploads `data` as a chunked session with `chunk` bytes per chunk, sending chunks in
/// `order`, `parallel` at a time; returns the session id.
async fn chunked_upload(
    env: &Env,
    name: &str,
    data: &Bytes,
    chunk: usize,
    order: &[u32],
    parallel: usize,
) -> String {
    let id = env
        .client
        .create_chunked_upload(
            &env.target(),
            name,
            data.len() as u64,
            Some(&sha256_hex(data)),
        )
        .await
        .expect("session");
    send_chunks(&env.client, &id, data, chunk, order, parallel).await;
    id
}

async fn send_chunks(
    client: &Client,
    id: &str,
    data: &Bytes,
    chunk: usize,
    order: &[u32],
    parallel: usize,
) {
    stream::iter(order.iter().copied())
        .map(|n| {
            let start = (n as usize - 1) * chunk;
            let part = data.slice(start..(start + chunk).min(data.len()));
            let hash = sha256_hex(&part);
            async move { client.upload_chunk(id, n, part, &hash).await }
        })
        .buffer_unordered(parallel)
        .try_collect::<Vec<()>>()
        .await
        .expect("chunks");
}

#[tokio::test]
async fn three_and_a_half_chunks_out_of_order_and_parallel_are_stored_byte_identical() {
    let env = Env::start().await;
    let data = Bytes::from(bytes(3 * MIB + MIB / 2, 1));
    let id = chunked_upload(&env, "big.bin", &data, MIB, &[4, 2, 3, 1], 3).await;
    assert_eq!(env.client.chunk_status(&id).await.expect("status").len(), 4);
    env.client.complete_upload(&id).await.expect("complete");
    let session = env
        .client
        .wait_until_stored(&id, STORE_WAIT)
        .await
        .expect("stored");
    let node_id = session.new_file_id.expect("new_file_id");
    let node = env.client.node(&env.ws(), &node_id).await.expect("node");
    assert_eq!(node.size, Some(data.len() as u64));
    assert_eq!(node.hash.as_deref(), Some(sha256_hex(&data).as_str()));
    assert_eq!(node.node_type, NodeType::File);
    assert_eq!(env.download(&node_id).await, data.as_ref());
    assert!(env.emulator.stats().max_in_flight(&id) <= 3);
}

#[tokio::test]
async fn single_call_upload_is_stored_with_its_hash() {
    let env = Env::start().await;
    let data = Bytes::from(bytes(100_000, 2));
    let single = env
        .client
        .upload_single(&env.target(), "small.bin", data.clone())
        .await
        .expect("upload");
    let node_id = match single.new_file_id {
        Some(id) => id,
        None => env
            .client
            .wait_until_stored(&single.upload_id, STORE_WAIT)
            .await
            .expect("stored")
            .new_file_id
            .expect("id"),
    };
    let node = env.client.node(&env.ws(), &node_id).await.expect("node");
    assert_eq!(node.hash.as_deref(), Some(single.sha256.as_str()));
    assert_eq!(env.download(&node_id).await, data.as_ref());
}

#[tokio::test]
async fn zero_byte_file_is_stored_empty() {
    let env = Env::start().await;
    let single = env
        .client
        .upload_single(&env.target(), "empty.txt", Bytes::new())
        .await
        .expect("upload");
    let session = env
        .client
        .wait_until_stored(&single.upload_id, STORE_WAIT)
        .await
        .expect("stored");
    let node_id = single.new_file_id.or(session.new_file_id).expect("node id");
    let node = env.client.node(&env.ws(), &node_id).await.expect("node");
    assert_eq!(node.size, Some(0));
    assert!(env.download(&node_id).await.is_empty());
}

#[tokio::test]
async fn stream_upload_is_stored_with_the_right_hash() {
    let env = Env::start().await;
    let data = Bytes::from(bytes(5 * MIB + 123, 3));
    let id = env
        .client
        .create_stream_upload(&env.target(), "stream.bin", 10 * MIB as u64)
        .await
        .expect("session");
    let pieces: Vec<Result<Bytes, std::io::Error>> = data
        .chunks(64 * 1024)
        .map(|piece| Ok(Bytes::copy_from_slice(piece)))
        .collect();
    env.client
        .upload_stream(&id, stream::iter(pieces), Some(&sha256_hex(&data)))
        .await
        .expect("stream");
    let session = env
        .client
        .wait_until_stored(&id, STORE_WAIT)
        .await
        .expect("stored");
    let node = env
        .client
        .node(&env.ws(), &session.new_file_id.expect("id"))
        .await
        .expect("node");
    assert_eq!(node.size, Some(data.len() as u64));
    assert_eq!(node.hash.as_deref(), Some(sha256_hex(&data).as_str()));
}

#[tokio::test]
async fn size_mismatch_fails_with_10522_and_cancel_leaves_nothing() {
    let env = Env::start().await;
    let data = Bytes::from(bytes(2 * MIB, 4));
    let id = env
        .client
        .create_chunked_upload(&env.target(), "short.bin", 3 * MIB as u64, None)
        .await
        .expect("session");
    send_chunks(&env.client, &id, &data, MIB, &[1, 2], 2).await;
    let err = env
        .client
        .complete_upload(&id)
        .await
        .expect_err("size mismatch");
    assert_eq!(err.code(), Some(10522), "{err}");
    env.client.cancel_upload(&id).await.expect("cancel");
    assert!(matches!(
        env.client.upload_details(&id, None).await,
        Err(Error::NotFound { .. })
    ));
    let open = env.client.list_uploads().await.expect("list uploads");
    assert!(
        open.iter()
            .all(|session| session.id.as_deref() != Some(id.as_str()))
    );
    assert!(!env.root_names().await.contains(&"short.bin".to_owned()));
}

#[tokio::test]
async fn cancel_of_a_partial_upload_leaves_nothing() {
    let env = Env::start().await;
    let data = Bytes::from(bytes(2 * MIB, 5));
    let id = chunked_upload(&env, "partial.bin", &data, MIB, &[1], 1).await;
    env.client.cancel_upload(&id).await.expect("cancel");
    env.client
        .cancel_upload(&id)
        .await
        .expect("cancel is repeatable");
    assert!(matches!(
        env.client.chunk_status(&id).await,
        Err(Error::NotFound { .. })
    ));
    assert!(env.client.list_uploads().await.expect("list").is_empty());
    assert!(!env.root_names().await.contains(&"partial.bin".to_owned()));
}

#[tokio::test]
async fn wrong_key_is_unauthorized() {
    let env = Env::start().await;
    let stranger = client_for(&env.emulator.base_url(), "k_wrong");
    let err = stranger.auth_check().await.expect_err("refused");
    assert!(matches!(err, Error::Unauthorized { .. }), "{err:?}");
    assert!(err.is_bad_key());
    assert!(!err.to_string().contains("k_wrong"));
    env.client.ping().await.expect("ping needs no key");
    assert!(!env.client.auth_check().await.expect("right key").is_empty());
}

#[tokio::test]
async fn injected_429_is_waited_out_then_the_chunk_succeeds() {
    let env = Env::start_with(|config| {
        config.faults.rate_limit = emulator::RateLimit {
            max: 10_000,
            window: Duration::from_secs(2),
        };
    })
    .await;
    let data = Bytes::from(bytes(MIB, 6));
    let id = env
        .client
        .create_chunked_upload(&env.target(), "limited.bin", data.len() as u64, None)
        .await
        .expect("session");
    env.emulator
        .faults()
        .fail_nth_with_429(format!("/current/upload/{id}/chunk/"), 1);
    let started = Instant::now();
    env.client
        .upload_chunk(&id, 1, data.clone(), &sha256_hex(&data))
        .await
        .expect("chunk after 429");
    assert!(started.elapsed() < Duration::from_secs(5));
    let stats = env.emulator.stats();
    let chunk_route = "/current/upload/{id}/chunk/";
    assert_eq!(stats.count("POST", chunk_route, 429), 1);
    assert_eq!(stats.count("POST", chunk_route, 200), 1);
}

#[tokio::test]
async fn injected_gateway_errors_are_retried_for_reads() {
    let env = Env::start().await;
    // Every request answers 502, 503 or 504: a read is tried exactly as often as the policy
    // allows, then the gateway error surfaces; once the faults stop, the same read succeeds.
    env.emulator.faults().set_error_rate(1.0);
    let err = env
        .client
        .list_folder(&env.ws(), "root", &ListQuery::default())
        .await
        .expect_err("every attempt failed");
    assert!(
        err.http_status().is_some_and(|s| (502..=504).contains(&s)),
        "{err:?}"
    );
    env.emulator.faults().set_error_rate(0.0);
    env.client
        .list_folder(&env.ws(), "root", &ListQuery::default())
        .await
        .expect("list once the faults stop");
    let stats = env.emulator.stats();
    let gateway_errors: u64 = stats
        .requests
        .iter()
        .filter(|((_, _, status), _)| (502..=504).contains(status))
        .map(|(_, n)| n)
        .sum();
    assert_eq!(
        gateway_errors,
        u64::from(RETRY.max_attempts),
        "one read, every attempt the policy allows"
    );
}

#[tokio::test]
async fn listing_250_folders_paginates_completely_in_order() {
    let env = Env::start().await;
    let mut names: Vec<String> = (0..250)
        .map(|i| format!("folder-{:03}", (i * 7) % 250))
        .collect();
    stream::iter(names.clone())
        .map(|name| {
            let (client, ws) = (env.client.clone(), env.ws());
            async move { client.create_folder(&ws, "root", &name).await }
        })
        .buffer_unordered(8)
        .try_collect::<Vec<_>>()
        .await
        .expect("folders");
    names.sort();
    for (dir, expected) in [
        (SortDir::Asc, names.clone()),
        (SortDir::Desc, names.iter().rev().cloned().collect()),
    ] {
        let mut query = ListQuery {
            sort_by: SortBy::Name,
            sort_dir: dir,
            page_size: PageSize::P100,
            cursor: None,
        };
        let mut seen = Vec::new();
        let mut pages = 0;
        loop {
            let page = env
                .client
                .list_folder(&env.ws(), "root", &query)
                .await
                .expect("page");
            pages += 1;
            seen.extend(page.nodes.into_iter().map(|node| node.name));
            match page.next_cursor {
                Some(cursor) => query.cursor = Some(cursor),
                None => break,
            }
        }
        assert_eq!(pages, 3);
        assert_eq!(seen, expected, "{dir:?}");
    }
    let whole = ListQuery {
        page_size: PageSize::P250,
        ..ListQuery::default()
    };
    let page = env
        .client
        .list_folder(&env.ws(), "root", &whole)
        .await
        .expect("one page");
    assert_eq!(page.nodes.len(), 250);
}

#[tokio::test]
async fn long_poll_returns_as_soon_as_the_status_changes() {
    let env = Env::start().await;
    let data = Bytes::from(bytes(MIB, 40));
    let id = chunked_upload(&env, "poll.bin", &data, MIB, &[1], 1).await;
    // Nothing changes the session now: a long-poll holds for its whole wait.
    let hold = Duration::from_secs(1);
    let started = Instant::now();
    let session = env
        .client
        .upload_details(&id, Some(hold))
        .await
        .expect("details");
    assert_eq!(session.status, UploadStatus::Uploading);
    assert!(
        started.elapsed() >= hold,
        "returned early: {:?}",
        started.elapsed()
    );
    // `complete` starts the state machine, so the status changes whenever the poll arrives
    // (before `complete`, or between two steps after it): it returns on that change, long
    // before its 30 s, and never before the change was asked for.
    let poller = {
        let (client, id) = (env.client.clone(), id.clone());
        tokio::spawn(async move {
            let session = client
                .upload_details(&id, Some(Duration::from_secs(30)))
                .await;
            (session, Instant::now())
        })
    };
    let changed = Instant::now();
    env.client.complete_upload(&id).await.expect("complete");
    let (session, returned) = poller.await.expect("joined");
    assert_ne!(session.expect("details").status, UploadStatus::Uploading);
    assert!(returned >= changed, "answered before anything changed");
    assert!(
        returned - changed < Duration::from_secs(10),
        "returned on the change: {:?}",
        returned - changed
    );
    env.client
        .wait_until_stored(&id, STORE_WAIT)
        .await
        .expect("stored");
}

#[tokio::test]
async fn upload_survives_an_emulator_restart() {
    let Env {
        emulator,
        client,
        dir,
    } = Env::start().await;
    let ws = emulator.workspace_id();
    let target = UploadTarget {
        workspace: ws.clone(),
        folder: "root".into(),
    };
    let data = Bytes::from(bytes(3 * MIB + 10, 8));
    let id = client
        .create_chunked_upload(&target, "restart.bin", data.len() as u64, None)
        .await
        .expect("session");
    send_chunks(&client, &id, &data, MIB, &[1, 2], 2).await;
    emulator.shutdown().await;

    let emulator = launch(&dir, |_| {}).await;
    let client = client_for(&emulator.base_url(), KEY);
    let received = client
        .chunk_status(&id)
        .await
        .expect("status after restart");
    assert_eq!(received, BTreeMap::from([(1, MIB as u64), (2, MIB as u64)]));
    send_chunks(&client, &id, &data, MIB, &[3, 4], 2).await;
    client.complete_upload(&id).await.expect("complete");
    let session = client
        .wait_until_stored(&id, STORE_WAIT)
        .await
        .expect("stored");
    let node = client
        .node(&ws, &session.new_file_id.expect("id"))
        .await
        .expect("node");
    assert_eq!(node.hash.as_deref(), Some(sha256_hex(&data).as_str()));
}

#[tokio::test]
async fn legacy_envelopes_and_rate_limit_headers_are_understood() {
    let env = Env::start_with(|config| {
        config.envelope = EnvelopeStyle::legacy();
        config.headers = HeaderStyle {
            legacy_names: true,
            expires: ExpiresFormat::Datetime,
        };
        config.faults.rate_limit = emulator::RateLimit {
            max: 10_000,
            window: Duration::from_secs(2),
        };
    })
    .await;
    assert!(!env.client.auth_check().await.expect("auth").is_empty());
    assert!(
        !env.client
            .list_workspaces()
            .await
            .expect("workspaces")
            .is_empty()
    );
    let data = Bytes::from(bytes(MIB + 5, 9));
    let id = chunked_upload(&env, "legacy.bin", &data, MIB, &[1, 2], 2).await;
    env.emulator
        .faults()
        .fail_nth_with_429(format!("/current/upload/{id}/details/"), 1);
    env.client.complete_upload(&id).await.expect("complete");
    let session = env
        .client
        .wait_until_stored(&id, STORE_WAIT)
        .await
        .expect("stored");
    let node = env
        .client
        .node(&env.ws(), &session.new_file_id.expect("id"))
        .await
        .expect("node");
    assert_eq!(node.size, Some(data.len() as u64));
    let details_route = "/current/upload/{id}/details/";
    assert_eq!(env.emulator.stats().count("GET", details_route, 429), 1);
    let err = env
        .client
        .upload_details("nosuchsession00000000000000000", None)
        .await
        .expect_err("404");
    assert!(
        matches!(err, Error::NotFound { code: Some(_), .. }),
        "{err:?}"
    );
}

#[tokio::test]
async fn single_call_answered_500_after_storing_is_not_replayed() {
    let env = Env::start_with(|config| config.faults.fail_after_store = true).await;
    let err = env
        .client
        .upload_single(&env.target(), "once.txt", Bytes::from_static(b"only once"))
        .await
        .expect_err("500");
    assert_eq!(err.http_status(), Some(500));
    assert_eq!(env.emulator.stats().total("POST", "/current/upload/"), 1);
}

#[tokio::test]
async fn stream_answered_500_after_storing_is_settled_as_stored_without_resend() {
    let env = Env::start_with(|config| config.faults.fail_after_store = true).await;
    let data = Bytes::from(bytes(2 * MIB, 10));
    let id = env
        .client
        .create_stream_upload(&env.target(), "settled.bin", 4 * MIB as u64)
        .await
        .expect("session");
    let body = stream::iter(vec![Ok::<_, std::io::Error>(data.clone())]);
    env.client
        .upload_stream(&id, body, None)
        .await
        .expect("stored despite the 500");
    let session = env
        .client
        .wait_until_stored(&id, STORE_WAIT)
        .await
        .expect("stored");
    assert!(session.new_file_id.is_some());
    let stats = env.emulator.stats();
    assert_eq!(stats.total("POST", "/current/upload/{id}/stream/"), 1);
}

#[tokio::test]
async fn workspace_limits_and_file_share_are_read() {
    let env = Env::start().await;
    let workspace = env.client.workspace(&env.ws()).await.expect("workspace");
    assert_eq!(workspace.id, env.ws());
    let limits = env.client.upload_limits().await.expect("limits");
    assert!(limits.chunk_size >= MIB as u64 && limits.size > 0);
    let folder = env
        .client
        .create_folder(&env.ws(), "root", "Shared")
        .await
        .expect("folder");
    assert_eq!(folder.node_type, NodeType::Folder);
    let again = env
        .client
        .create_folder(&env.ws(), "root", "Shared")
        .await
        .expect("idempotent");
    assert_eq!(again.id, folder.id);
    let single = env
        .client
        .upload_single(&env.target(), "share.txt", Bytes::from_static(b"share me"))
        .await
        .expect("upload");
    let node = match single.new_file_id {
        Some(id) => id,
        None => env
            .client
            .wait_until_stored(&single.upload_id, STORE_WAIT)
            .await
            .expect("stored")
            .new_file_id
            .expect("id"),
    };
    let params = fastgate::fastio::FileShareParams {
        node: node.clone(),
        title: Some("A share".into()),
        expires: Some(fastgate::fastio::Expiry::After(Duration::from_secs(3600))),
        ..Default::default()
    };
    let share = env
        .client
        .create_file_share(&env.ws(), &params)
        .await
        .expect("share");
    assert!(!share.id.is_empty());
    assert_eq!(share.file.map(|file| file.id), Some(node));
}

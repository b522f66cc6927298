//! What the client puts on the wire, checked against a scripted stand-in server: exact paths,
//! query parameters, multipart parts, headers, and which failures are (not) replayed.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use fastgate::fastio::{
    Client, ClientConfig, Error, ListQuery, RetryPolicy, SortBy, SortDir, UploadStatus,
    UploadTarget,
};
use futures_util::StreamExt;
use parking_lot::Mutex;
use secrecy::SecretString;
use serde_json::{Value, json};

const KEY: &str = "k_wire_test_secret";

/// One request as the stand-in saw it.
#[derive(Debug, Clone)]
struct Seen {
    method: String,
    path: String,
    query: String,
    headers: HeaderMap,
    body: Bytes,
}

type Script = dyn Fn(&Seen, usize) -> Response + Send + Sync;

struct Mock {
    seen: Mutex<Vec<Seen>>,
    script: Box<Script>,
}

/// Starts a stand-in whose every answer comes from `script(request, index of request)`.
async fn mock(
    script: impl Fn(&Seen, usize) -> Response + Send + Sync + 'static,
) -> (String, Arc<Mock>) {
    let state = Arc::new(Mock {
        seen: Mutex::new(Vec::new()),
        script: Box::new(script),
    });
    let app = Router::new().fallback(record).with_state(state.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        axum::serve(listener, app).await.expect("serve");
    });
    (format!("http://{addr}"), state)
}

async fn record(State(state): State<Arc<Mock>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let body = axum::body::to_bytes(body, usize::MAX)
        .await
        .unwrap_or_default();
    let seen = Seen {
        method: parts.method.to_string(),
        path: parts.uri.path().to_owned(),
        query: parts.uri.query().unwrap_or_default().to_owned(),
        headers: parts.headers,
        body,
    };
    let index = {
        let mut log = state.seen.lock();
        log.push(seen.clone());
        log.len() - 1
    };
    (state.script)(&seen, index)
}

fn reply(status: u16, body: Value) -> Response {
    (
        StatusCode::from_u16(status).expect("status"),
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

fn client(base: &str) -> Client {
    let mut config = ClientConfig::new(format!("{base}/current"), SecretString::from(KEY));
    config.retry = RetryPolicy {
        max_attempts: 3,
        base_delay: Duration::from_millis(10),
        chunk_base_delay: Duration::from_millis(10),
        max_delay: Duration::from_millis(50),
        max_rate_limit_wait: Duration::from_secs(5),
    };
    Client::new(config).expect("client")
}

fn target() -> UploadTarget {
    UploadTarget {
        workspace: "4687730903718774523".into(),
        folder: "root".into(),
    }
}

/// The multipart parts of a body: (name, filename, bytes).
async fn parts(seen: &Seen) -> Vec<(String, Option<String>, Bytes)> {
    let content_type = seen.headers[header::CONTENT_TYPE].to_str().expect("ascii");
    let boundary = multer::parse_boundary(content_type).expect("boundary");
    let body = seen.body.clone();
    let stream = futures_util::stream::once(async move { Ok::<_, std::io::Error>(body) });
    let mut multipart = multer::Multipart::new(stream, boundary);
    let mut out = Vec::new();
    while let Some(field) = multipart.next_field().await.expect("field") {
        let name = field.name().unwrap_or_default().to_owned();
        let file = field.file_name().map(str::to_owned);
        assert!(field.content_type().is_none(), "no per-part Content-Type");
        out.push((name, file, field.bytes().await.expect("bytes")));
    }
    out
}

#[tokio::test]
async fn chunk_is_multipart_part_chunk_with_order_size_and_hash_in_the_query() {
    let (base, mock) = mock(|_, _| reply(200, json!({"result": true}))).await;
    let body = Bytes::from_static(b"hello");
    client(&base)
        .upload_chunk("up1", 2, body.clone(), "ab12")
        .await
        .expect("chunk");
    let seen = mock.seen.lock()[0].clone();
    assert_eq!(
        (seen.method.as_str(), seen.path.as_str()),
        ("POST", "/current/upload/up1/chunk/")
    );
    assert_eq!(seen.query, "order=2&size=5&hash=ab12&hash_algo=sha256");
    assert_eq!(
        seen.headers[header::AUTHORIZATION],
        format!("Bearer {KEY}").as_str()
    );
    let parts = parts(&seen).await;
    assert_eq!(
        parts,
        vec![("chunk".into(), Some("chunk.bin".into()), body)]
    );
}

#[tokio::test]
async fn single_call_sends_cli_field_order_and_hash_then_the_file() {
    let (base, mock) = mock(|_, _| {
        reply(
            200,
            json!({"result": true, "id": "u1", "new_file_id": "n1"}),
        )
    })
    .await;
    let done = client(&base)
        .upload_single(&target(), "a.txt", Bytes::from_static(b"hello world"))
        .await
        .expect("upload");
    assert_eq!(done.upload_id, "u1");
    assert_eq!(done.new_file_id.as_deref(), Some("n1"));
    let seen = mock.seen.lock()[0].clone();
    assert_eq!(seen.path, "/current/upload/");
    let parts = parts(&seen).await;
    let names: Vec<&str> = parts.iter().map(|(name, _, _)| name.as_str()).collect();
    assert_eq!(
        names,
        [
            "name",
            "size",
            "action",
            "instance_id",
            "folder_id",
            "profile_type",
            "hash",
            "hash_algo",
            "chunk"
        ]
    );
    assert_eq!(parts[1].2, Bytes::from_static(b"11"));
    assert_eq!(parts[6].2, Bytes::from(done.sha256.clone()));
    assert_eq!(parts[8].1.as_deref(), Some("a.txt"));
}

#[tokio::test]
async fn single_call_answered_500_is_not_replayed() {
    let (base, mock) = mock(|_, _| reply(500, json!({"result": false}))).await;
    let err = client(&base)
        .upload_single(&target(), "a.txt", Bytes::from_static(b"x"))
        .await
        .expect_err("fails");
    assert_eq!(err.http_status(), Some(500));
    assert_eq!(mock.seen.lock().len(), 1);
}

#[tokio::test]
async fn rate_limited_call_waits_for_expires_then_succeeds() {
    let (base, mock) = mock(|_, index| {
        if index == 0 {
            let reset = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .expect("now")
                .as_secs()
                + 2; // whole seconds: at least one full second from now, whatever the fraction
            let mut response = reply(
                429,
                json!({"result": false, "error": {"code": 10368, "text": "slow down"}}),
            );
            response
                .headers_mut()
                .insert("x-ve-limit-expires", HeaderValue::from(reset));
            response
        } else {
            reply(200, json!({"result": true, "id": 42}))
        }
    })
    .await;
    let started = Instant::now();
    let id = client(&base).auth_check().await.expect("auth");
    assert_eq!(id, "42");
    assert_eq!(mock.seen.lock().len(), 2);
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "waited for the reset"
    );
}

#[tokio::test]
async fn rate_limit_beyond_the_bound_surfaces_with_retry_after() {
    let (base, mock) = mock(|_, _| {
        let mut response = reply(
            429,
            json!({"result": false, "error": {"code": "10368", "text": "x"}}),
        );
        response.headers_mut().insert(
            "X-Rate-Limit-Expiry",
            HeaderValue::from_static("2000-01-01 00:00:00 UTC"),
        );
        response
            .headers_mut()
            .insert("x-ve-limit-expires", HeaderValue::from_static("600"));
        response
    })
    .await;
    let err = client(&base).auth_check().await.expect_err("limited");
    assert_eq!(err.retry_after(), Some(Duration::from_secs(600)));
    assert_eq!(mock.seen.lock().len(), 1);
}

#[tokio::test]
async fn gateway_errors_are_retried_for_reads_but_500_is_not() {
    let (base, mock) = mock(|_, index| match index {
        0 => (StatusCode::BAD_GATEWAY, "<html>bad gateway</html>").into_response(),
        1 => reply(
            200,
            json!({"result": "yes", "response": {"chunks": {"1": 5}}}),
        ),
        _ => reply(
            500,
            json!({"result": false, "error": {"code": 1, "text": "boom"}}),
        ),
    })
    .await;
    let client = client(&base);
    let chunks = client.chunk_status("up1").await.expect("status");
    assert_eq!(chunks.get(&1), Some(&5));
    let err = client.chunk_status("up1").await.expect_err("500");
    assert!(matches!(err, Error::Upstream { status: 500, .. }));
    assert_eq!(mock.seen.lock().len(), 3);
}

#[tokio::test]
async fn complete_sends_an_empty_form() {
    let (base, mock) = mock(|_, _| reply(200, json!({"result": true}))).await;
    client(&base)
        .complete_upload("up1")
        .await
        .expect("complete");
    let seen = mock.seen.lock()[0].clone();
    assert_eq!(seen.path, "/current/upload/up1/complete/");
    assert_eq!(
        seen.headers[header::CONTENT_TYPE],
        "application/x-www-form-urlencoded"
    );
    assert!(seen.body.is_empty());
}

#[tokio::test]
async fn read_sends_no_key_and_follows_redirects_without_it() {
    let (cdn, cdn_mock) = mock(|_, _| (StatusCode::OK, "file bytes").into_response()).await;
    let (base, mock) = mock(move |_, _| {
        Response::builder()
            .status(StatusCode::FOUND)
            .header(header::LOCATION, format!("{cdn}/blob"))
            .body(Body::empty())
            .expect("redirect")
    })
    .await;
    let download = client(&base)
        .read("ws1", "node1", "tok en", None)
        .await
        .expect("read");
    let bytes: Vec<Bytes> = download
        .body
        .map(|chunk| chunk.expect("chunk"))
        .collect()
        .await;
    assert_eq!(bytes.concat(), b"file bytes");
    let first = mock.seen.lock()[0].clone();
    assert_eq!(first.path, "/current/workspace/ws1/storage/node1/read/");
    assert_eq!(first.query, "token=tok+en");
    assert!(first.headers.get(header::AUTHORIZATION).is_none());
    assert!(
        cdn_mock.seen.lock()[0]
            .headers
            .get(header::AUTHORIZATION)
            .is_none()
    );
}

#[tokio::test]
async fn api_calls_do_not_follow_redirects() {
    let (base, mock) = mock(|_, _| {
        Response::builder()
            .status(StatusCode::FOUND)
            .header(header::LOCATION, "http://127.0.0.1:9/elsewhere")
            .body(Body::empty())
            .expect("redirect")
    })
    .await;
    let err = client(&base).auth_check().await.expect_err("not followed");
    assert_eq!(err.http_status(), Some(302));
    assert_eq!(mock.seen.lock().len(), 1);
}

#[tokio::test]
async fn stream_answered_503_but_stored_is_success_without_resend() {
    let (base, mock) = mock(|seen, _| {
        if seen.path.ends_with("/stream/") {
            (StatusCode::SERVICE_UNAVAILABLE, "").into_response()
        } else {
            reply(
                200,
                json!({"result": true, "session": {"status": "stored", "new_file_id": "n1"}}),
            )
        }
    })
    .await;
    let body = futures_util::stream::iter(vec![Ok(Bytes::from_static(b"abc"))]);
    client(&base)
        .upload_stream("up1", body, Some("ff"))
        .await
        .expect("stored after all");
    let log = mock.seen.lock().clone();
    let streams: Vec<&Seen> = log
        .iter()
        .filter(|s| s.path.ends_with("/stream/"))
        .collect();
    assert_eq!(streams.len(), 1);
    assert_eq!(
        streams[0].headers[header::CONTENT_TYPE],
        "application/octet-stream"
    );
    assert_eq!(streams[0].query, "hash=ff&hash_algo=sha256");
    assert_eq!(streams[0].body, Bytes::from_static(b"abc"));
}

#[tokio::test]
async fn stream_answered_503_and_not_stored_is_cancelled() {
    let (base, mock) = mock(|seen, _| match (seen.method.as_str(), seen.path.as_str()) {
        (_, path) if path.ends_with("/stream/") => {
            (StatusCode::SERVICE_UNAVAILABLE, "").into_response()
        }
        ("DELETE", _) => reply(200, json!({"result": true})),
        _ => reply(
            200,
            json!({"result": true, "session": {"status": "uploading"}}),
        ),
    })
    .await;
    let body = futures_util::stream::iter(vec![Ok(Bytes::from_static(b"abc"))]);
    let err = client(&base)
        .upload_stream("up1", body, None)
        .await
        .expect_err("failed");
    assert_eq!(err.http_status(), Some(503));
    let log = mock.seen.lock().clone();
    assert!(
        log.iter()
            .any(|s| s.method == "DELETE" && s.path == "/current/upload/up1/")
    );
    assert_eq!(
        log.iter().filter(|s| s.path.ends_with("/stream/")).count(),
        1
    );
}

#[tokio::test]
async fn listing_reads_id_keyed_maps_and_cursor_in_pagination() {
    let (base, mock) = mock(|_, _| {
        reply(200, json!({"result": true,
            "files": {"n1": {"type": "file", "name": "a", "size": "3", "modified": "2026-05-18 19:26:37 UTC"}},
            "pagination": {"next_cursor": "c2"}}))
    })
    .await;
    let query = ListQuery {
        sort_by: SortBy::Updated,
        sort_dir: SortDir::Desc,
        cursor: Some("c1".into()),
        ..ListQuery::default()
    };
    let page = client(&base)
        .list_folder("ws1", "root", &query)
        .await
        .expect("list");
    assert_eq!(page.nodes[0].id, "n1");
    assert_eq!(page.nodes[0].size, Some(3));
    assert_eq!(page.next_cursor.as_deref(), Some("c2"));
    let seen = mock.seen.lock()[0].clone();
    assert_eq!(seen.path, "/current/workspace/ws1/storage/root/list/");
    assert_eq!(
        seen.query,
        "sort_by=updated&sort_dir=desc&page_size=100&output=standard&cursor=c1"
    );
}

#[tokio::test]
async fn failed_session_surfaces_its_status_message() {
    let (base, _mock) = mock(|_, _| {
        reply(200, json!({"result": true, "session": {"status": "assembly_failed", "status_message": "bad chunk"}}))
    })
    .await;
    let err = client(&base)
        .wait_until_stored("up1", Duration::from_secs(5))
        .await
        .expect_err("failed");
    assert!(
        matches!(err, Error::UploadFailed { status: UploadStatus::AssemblyFailed, ref message } if message == "bad chunk")
    );
}

/// A writer that keeps everything logged, to search it afterwards.
#[derive(Clone, Default)]
struct LogBuffer(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for LogBuffer {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.0.lock().extend_from_slice(data);
        Ok(data.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn no_log_line_or_error_carries_the_key_or_a_read_token() {
    let logs = LogBuffer::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    let (base, _mock) = mock(|_, index| match index {
        0 => (StatusCode::SERVICE_UNAVAILABLE, "").into_response(),
        _ => reply(
            401,
            json!({"result": false, "error": {"code": 10011, "text": "no"}}),
        ),
    })
    .await;
    let client = client(&base);
    // Other tests of this binary register the client's callsites on their threads, where no
    // subscriber listens, and tracing caches that verdict per callsite: recompute it now that
    // this thread's subscriber exists, or its spans may go unseen.
    tracing::callsite::rebuild_interest_cache();
    let err = client.auth_check().await.expect_err("401");
    let read_err = client
        .read("ws1", "node1", "secret-read-token", None)
        .await
        .expect_err("401");
    let everything = format!(
        "{}{err}{err:?}{read_err}{read_err:?}{client:?}",
        String::from_utf8_lossy(&logs.0.lock())
    );
    assert!(everything.contains("fastio"), "spans were logged");
    assert!(!everything.contains(KEY));
    assert!(!everything.contains("secret-read-token"));
}

#[tokio::test]
async fn chunk_is_retried_after_a_500_because_its_order_makes_it_idempotent() {
    let (base, mock) = mock(|_, index| match index {
        0 => reply(
            500,
            json!({"result": false, "error": {"code": 1, "text": "oops"}}),
        ),
        _ => reply(200, json!({"result": true})),
    })
    .await;
    let body = Bytes::from_static(b"chunk bytes");
    client(&base)
        .upload_chunk("up1", 1, body.clone(), "aa")
        .await
        .expect("retried");
    let log = mock.seen.lock().clone();
    assert_eq!(log.len(), 2);
    assert_eq!(
        parts(&log[0]).await,
        parts(&log[1]).await,
        "the same bytes were resent"
    );
}

#[tokio::test]
async fn complete_answered_502_counts_as_done_when_assembly_is_under_way() {
    let (base, mock) = mock(|seen, _| {
        if seen.path.ends_with("/complete/") {
            (StatusCode::BAD_GATEWAY, "").into_response()
        } else {
            reply(
                200,
                json!({"result": true, "session": {"status": "assembling"}}),
            )
        }
    })
    .await;
    client(&base).complete_upload("up1").await.expect("done");
    let completes = mock
        .seen
        .lock()
        .iter()
        .filter(|seen| seen.path.ends_with("/complete/"))
        .count();
    assert_eq!(completes, 1, "complete is never replayed");
}

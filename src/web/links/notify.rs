//! The webhook of a link (`notify_url`): after each submission a JSON summary is POSTed,
//! signed with HMAC-SHA256 over the exact body with the gateway secret (`FASTGATE_SECRET`),
//! in the header `Fastgate-Signature: sha256=<hex>`. It runs in a spawned task, retried with
//! exponential backoff a bounded number of times; it never blocks or fails the upload, and a
//! delivery that fails in the end is logged.
//!
//! The body:
//! `{"event": "submission", "link": {"id", "label", "workspace", "folder"}, "submission": {"id",
//! "uploader", "started_at"}, "files": [{"name", "size", "sha256", "node"}], "time"}`
//! (times RFC 3339). A receiver checks the signature over the raw body before parsing it.

use std::sync::LazyLock;
use std::time::Duration;

use hmac::{Hmac, KeyInit as _, Mac as _};
use secrecy::ExposeSecret as _;
use serde::Serialize;
use sha2::Sha256;

use crate::access::{Link, LinkFile};
use crate::web::AppState;

/// The header carrying the signature.
pub const SIGNATURE_HEADER: &str = "fastgate-signature";

/// Deliveries tried per submission.
const ATTEMPTS: u32 = 5;

/// The wait before the second attempt; doubled before each next one (1, 2, 4, 8 s).
const FIRST_BACKOFF: Duration = Duration::from_secs(1);

/// One delivery's time limit.
const TIMEOUT: Duration = Duration::from_secs(10);

/// The client of every webhook: no redirects followed (the URL is the editor's word), short
/// timeouts. `None` when the system cannot build one (then deliveries are logged as failed).
static CLIENT: LazyLock<Option<reqwest::Client>> = LazyLock::new(|| {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(TIMEOUT)
        .build()
        .inspect_err(|error| tracing::error!(%error, "cannot build the webhook client"))
        .ok()
});

/// The summary of one submission.
#[derive(Clone, Debug, Serialize)]
pub struct Summary {
    /// Always `submission`.
    pub event: &'static str,
    /// The link.
    pub link: LinkRef,
    /// The submission.
    pub submission: SubmissionRef,
    /// Its stored files.
    pub files: Vec<LinkFile>,
    /// When the summary was made.
    pub time: String,
}

/// The link in a summary.
#[derive(Clone, Debug, Serialize)]
pub struct LinkRef {
    /// Id.
    pub id: i64,
    /// Label.
    pub label: String,
    /// Workspace id.
    pub workspace: String,
    /// Folder id.
    pub folder: String,
}

/// The submission in a summary.
#[derive(Clone, Debug, Serialize)]
pub struct SubmissionRef {
    /// Id.
    pub id: i64,
    /// The uploader's name, as given.
    pub uploader: Option<String>,
    /// When it began (RFC 3339).
    pub started_at: String,
}

impl Summary {
    /// The summary of submission `id` of `link`, begun at `started_at` (epoch ms).
    pub fn new(
        link: &Link,
        id: i64,
        uploader: Option<String>,
        started_at: i64,
        files: Vec<LinkFile>,
    ) -> Self {
        let rfc3339 = |t: chrono::DateTime<chrono::Utc>| {
            t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
        };
        Self {
            event: "submission",
            link: LinkRef {
                id: link.id,
                label: link.label.clone(),
                workspace: link.workspace.clone(),
                folder: link.folder.clone(),
            },
            submission: SubmissionRef {
                id,
                uploader,
                started_at: chrono::DateTime::from_timestamp_millis(started_at)
                    .map(rfc3339)
                    .unwrap_or_default(),
            },
            files,
            time: rfc3339(chrono::Utc::now()),
        }
    }
}

/// `sha256=<hex>` of HMAC-SHA256(`secret`, `body`): the `Fastgate-Signature` value.
pub fn signature(secret: &[u8], body: &[u8]) -> String {
    // HMAC takes keys of any length.
    let mut mac = Hmac::<Sha256>::new_from_slice(secret)
        .unwrap_or_else(|_| unreachable!("HMAC accepts any key length"));
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// Sends `summary` to the link's `notify_url`, if it has one, in the background.
pub fn submission_done(state: &AppState, link: &Link, summary: Summary) {
    let Some(url) = link.notify_url.clone() else {
        return;
    };
    let body = match serde_json::to_vec(&summary) {
        Ok(body) => body,
        Err(error) => {
            tracing::error!(%error, "cannot encode a webhook summary");
            return;
        }
    };
    let signed = signature(state.config.secret.expose_secret(), &body);
    let (link_id, submission) = (link.id, summary.submission.id);
    tokio::spawn(async move {
        match deliver(&url, body, &signed).await {
            Ok(attempts) => {
                tracing::info!(
                    link = link_id,
                    submission,
                    attempts,
                    "link webhook delivered"
                );
            }
            Err(error) => tracing::warn!(
                link = link_id,
                submission,
                %error,
                "link webhook not delivered; giving up"
            ),
        }
    });
}

/// POSTs `body` until a 2xx answer, at most [`ATTEMPTS`] times with doubling waits; the number
/// of attempts it took, or the last failure.
async fn deliver(url: &str, body: Vec<u8>, signed: &str) -> Result<u32, String> {
    let client = CLIENT.as_ref().ok_or("no HTTP client")?;
    let mut wait = FIRST_BACKOFF;
    let mut last = String::new();
    for attempt in 1..=ATTEMPTS {
        let sent = client
            .post(url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header(SIGNATURE_HEADER, signed)
            .header(reqwest::header::USER_AGENT, "fastgate-webhook")
            .body(body.clone())
            .send()
            .await;
        match sent {
            Ok(r) if r.status().is_success() => return Ok(attempt),
            Ok(r) => last = format!("HTTP {}", r.status().as_u16()),
            Err(e) => last = e.to_string(),
        }
        if attempt < ATTEMPTS {
            tracing::debug!(attempt, error = %last, "link webhook failed; retrying");
            tokio::time::sleep(wait).await;
            wait *= 2;
        }
    }
    Err(last)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signature_is_hmac_sha256_of_the_body_in_hex() {
        // RFC 4231 test case 2.
        assert_eq!(
            signature(b"Jefe", b"what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[tokio::test]
    async fn a_delivery_is_retried_until_the_receiver_answers_2xx() {
        use std::sync::Arc;
        use std::sync::atomic::{AtomicU32, Ordering};
        let hits = Arc::new(AtomicU32::new(0));
        let seen = hits.clone();
        let app = axum::Router::new().route(
            "/hook",
            axum::routing::post(move || {
                let seen = seen.clone();
                async move {
                    if seen.fetch_add(1, Ordering::SeqCst) == 0 {
                        axum::http::StatusCode::SERVICE_UNAVAILABLE
                    } else {
                        axum::http::StatusCode::NO_CONTENT
                    }
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(async move { axum::serve(listener, app).await });
        let url = format!("http://{addr}/hook");
        let attempts = deliver(&url, b"{}".to_vec(), "sha256=00").await;
        assert_eq!(attempts, Ok(2));
        assert_eq!(hits.load(Ordering::SeqCst), 2);
    }
}

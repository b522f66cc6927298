//! The HTTP core: configuration, the shared reqwest clients, Bearer auth, one request attempt
//! with envelope decoding, and the retry loop every operation goes through.

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use reqwest::header::{self, HeaderMap, HeaderValue};
use reqwest::{RequestBuilder, Response, StatusCode, redirect};
use secrecy::{ExposeSecret, SecretString};
use tracing::Instrument;

use super::envelope::{self, Payload};
use super::error::Error;
use super::ratelimit;
use super::retry::{Replay, RetryPolicy, random_jitter};
use crate::telemetry;

/// The production API, `/current` included.
pub const DEFAULT_BASE_URL: &str = "https://api.fast.io/current";

/// Envelope bodies larger than this are refused rather than buffered.
const MAX_ENVELOPE_BYTES: usize = 16 * 1024 * 1024;

/// Redirects followed by downloads (to a CDN); API calls follow none.
const MAX_DOWNLOAD_REDIRECTS: usize = 5;

/// Characters left as they are in a path segment (RFC 3986 unreserved).
const PATH_SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Everything the client needs to talk to Fast.io. `Debug` shows the key as `[REDACTED]`.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// API base, `/current` included, e.g. `https://api.fast.io/current` or an emulator's
    /// `http://127.0.0.1:PORT/current`. A trailing `/` is ignored.
    pub base_url: String,
    /// The API key (or JWT), sent as `Authorization: Bearer`.
    pub api_key: SecretString,
    /// Retry behaviour.
    pub retry: RetryPolicy,
    /// `User-Agent` header.
    pub user_agent: String,
    /// TCP + TLS connect timeout (CLI: 30 s).
    pub connect_timeout: Duration,
    /// Whole-request timeout of envelope calls (CLI: 120 s). Long-polls get `wait` + a margin
    /// when that is longer.
    pub request_timeout: Duration,
    /// Whole-request timeout of one chunk upload (CLI: 300 s).
    pub chunk_timeout: Duration,
    /// Whole-request timeout of a stream upload (CLI: 600 s).
    pub stream_timeout: Duration,
}

impl ClientConfig {
    /// A configuration with the contract's defaults for everything but the endpoint and key.
    pub fn new(base_url: impl Into<String>, api_key: SecretString) -> Self {
        ClientConfig {
            base_url: base_url.into(),
            api_key,
            retry: RetryPolicy::default(),
            user_agent: concat!("fastgate/", env!("CARGO_PKG_VERSION")).to_owned(),
            connect_timeout: Duration::from_secs(30),
            request_timeout: Duration::from_secs(120),
            chunk_timeout: Duration::from_secs(300),
            stream_timeout: Duration::from_secs(600),
        }
    }
}

/// The typed Fast.io client. Cheap to clone: clones share one connection pool.
#[derive(Clone)]
pub struct Client {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    /// Calls carrying the Bearer key; never follows redirects, so the key goes nowhere else.
    pub(crate) api: reqwest::Client,
    /// Token-authorised downloads: no key, follows redirects.
    pub(crate) downloads: reqwest::Client,
    pub(crate) base_url: String,
    /// `base_url` parsed once: each call's URL is this with its path extended, which spares
    /// every request parsing (and IDNA-checking) the host again.
    base: reqwest::Url,
    pub(crate) api_key: SecretString,
    pub(crate) config: ClientConfig,
    /// When the last 429 said the key's bucket refills (for readiness probes).
    pub(crate) limited_until: parking_lot::Mutex<Option<Instant>>,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("base_url", &self.inner.base_url)
            .finish_non_exhaustive()
    }
}

/// How one operation is sent: its name for logs, what may be retried, and its limits.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Op {
    /// Method and path template, e.g. `GET /upload/{id}/details/`; never holds ids or tokens.
    pub(crate) endpoint: &'static str,
    pub(crate) replay: Replay,
    pub(crate) authorized: bool,
    pub(crate) timeout: Duration,
}

impl Client {
    /// Builds a client. Fails on a base URL that is not http(s) or on a TLS setup failure.
    pub fn new(config: ClientConfig) -> Result<Self, Error> {
        let base_url = config.base_url.trim_end_matches('/').to_owned();
        let parsed = reqwest::Url::parse(&base_url)
            .map_err(|err| Error::InvalidArgument(format!("base URL: {err}")))?;
        if !matches!(parsed.scheme(), "http" | "https") || parsed.query().is_some() {
            return Err(Error::InvalidArgument(
                "base URL must be http(s) without a query".into(),
            ));
        }
        let builder = || {
            reqwest::Client::builder()
                .user_agent(config.user_agent.clone())
                .connect_timeout(config.connect_timeout)
        };
        let api = builder()
            .redirect(redirect::Policy::none())
            .build()
            .map_err(Error::transport)?;
        // Downloads get no whole-request timeout (a large file takes as long as it takes), only
        // an idle-read bound, so a stalled transfer still ends.
        let downloads = builder()
            .redirect(redirect::Policy::limited(MAX_DOWNLOAD_REDIRECTS))
            .read_timeout(config.request_timeout)
            .build()
            .map_err(Error::transport)?;
        Ok(Client {
            inner: Arc::new(Inner {
                api,
                downloads,
                base_url,
                base: parsed,
                api_key: config.api_key.clone(),
                config,
                limited_until: parking_lot::Mutex::new(None),
            }),
        })
    }

    /// The base URL in use, without a trailing `/`.
    pub fn base_url(&self) -> &str {
        &self.inner.base_url
    }

    /// How long Fast.io still rate-limits the key, as the last 429 it sent said; `None` when no
    /// 429 is pending.
    pub fn rate_limited_for(&self) -> Option<Duration> {
        let until = (*self.inner.limited_until.lock())?;
        until
            .checked_duration_since(Instant::now())
            .filter(|left| !left.is_zero())
    }

    pub(crate) fn config(&self) -> &ClientConfig {
        &self.inner.config
    }

    /// The absolute URL of an API path (which starts and ends with `/`).
    pub(crate) fn url(&self, path: &str) -> reqwest::Url {
        let base = &self.inner.base;
        let mut url = base.clone();
        url.set_path(&format!("{}{path}", base.path().trim_end_matches('/')));
        url
    }

    /// An envelope operation with the default timeout.
    pub(crate) fn op(&self, endpoint: &'static str, replay: Replay) -> Op {
        Op {
            endpoint,
            replay,
            authorized: true,
            timeout: self.config().request_timeout,
        }
    }

    /// Sends an envelope call built by `build` (which is called again for every try) and
    /// decodes its payload, retrying as `op.replay` allows.
    pub(crate) async fn call<F>(&self, op: Op, build: F) -> Result<Payload, Error>
    where
        F: Fn(&reqwest::Client) -> RequestBuilder,
    {
        self.with_retries(op, || self.attempt(op, build(&self.inner.api)))
            .await
    }

    /// Runs `attempt` until it succeeds or the retry policy gives up.
    pub(crate) async fn with_retries<T, F, Fut>(&self, op: Op, mut attempt: F) -> Result<T, Error>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, Error>>,
    {
        let policy = &self.config().retry;
        let mut tries = 1;
        loop {
            let span = tracing::info_span!(
                "fastio",
                endpoint = op.endpoint,
                attempt = tries,
                status = tracing::field::Empty,
            );
            let error = match attempt().instrument(span).await {
                Ok(value) => return Ok(value),
                Err(error) => error,
            };
            let Some(delay) = policy.delay_before_retry(op.replay, tries, &error, random_jitter())
            else {
                return Err(error);
            };
            telemetry::upstream_retry(op.endpoint);
            tracing::warn!(
                endpoint = op.endpoint,
                attempt = tries,
                delay_ms = delay.as_millis() as u64,
                error = %error,
                "retrying Fast.io call"
            );
            tokio::time::sleep(delay).await;
            tries += 1;
        }
    }

    /// One try of an envelope call: send, read the (bounded) body, decode.
    pub(crate) async fn attempt(&self, op: Op, request: RequestBuilder) -> Result<Payload, Error> {
        self.attempt_with(op, request, envelope::decode).await
    }

    /// [`Client::call`] with its own `decode` of the status, headers and body: for answers
    /// worth reading straight into their types (a listing page of 500 nodes).
    pub(crate) async fn call_decoded<T, F>(
        &self,
        op: Op,
        build: F,
        decode: fn(StatusCode, &HeaderMap, &[u8], SystemTime) -> Result<T, Error>,
    ) -> Result<T, Error>
    where
        F: Fn(&reqwest::Client) -> RequestBuilder,
    {
        self.with_retries(op, || self.attempt_with(op, build(&self.inner.api), decode))
            .await
    }

    /// One try: send, read the (bounded) body, `decode` it.
    async fn attempt_with<T>(
        &self,
        op: Op,
        request: RequestBuilder,
        decode: fn(StatusCode, &HeaderMap, &[u8], SystemTime) -> Result<T, Error>,
    ) -> Result<T, Error> {
        let response = self.send(op, request).await?;
        let status = response.status();
        let headers = response.headers().clone();
        let body = read_bounded(response, MAX_ENVELOPE_BYTES).await?;
        decode(status, &headers, &body, SystemTime::now())
    }

    /// Adds auth and timeout, sends, and records the status on the current span.
    pub(crate) async fn send(&self, op: Op, request: RequestBuilder) -> Result<Response, Error> {
        let mut request = request
            .timeout(op.timeout)
            .header(header::ACCEPT, "application/json");
        if op.authorized {
            request = request.header(header::AUTHORIZATION, self.bearer()?);
        }
        let started = Instant::now();
        let sent = request.send().await;
        let status = sent.as_ref().ok().map(|r| r.status().as_u16());
        telemetry::upstream_response(op.endpoint, status, started.elapsed());
        let response = sent.map_err(Error::transport)?;
        self.note_response(&response);
        Ok(response)
    }

    /// Records a response's status on the current span and reads its rate-limit headers.
    pub(crate) fn note_response(&self, response: &Response) {
        tracing::Span::current().record("status", response.status().as_u16());
        ratelimit::note_remaining(response.headers());
        if response.status() == reqwest::StatusCode::TOO_MANY_REQUESTS {
            let wait = ratelimit::retry_after(response.headers(), SystemTime::now());
            *self.inner.limited_until.lock() = Some(Instant::now() + wait);
        }
    }

    fn bearer(&self) -> Result<HeaderValue, Error> {
        let mut value =
            HeaderValue::from_str(&format!("Bearer {}", self.inner.api_key.expose_secret()))
                .map_err(|_| {
                    Error::InvalidArgument(
                        "the API key holds characters not allowed in a header".into(),
                    )
                })?;
        value.set_sensitive(true);
        Ok(value)
    }
}

/// A path segment, percent-encoded so that an id can never change the path's shape.
pub(crate) fn segment(value: &str, what: &str) -> Result<String, Error> {
    if matches!(value, "" | "." | "..") {
        return Err(Error::InvalidArgument(format!(
            "{what} is empty or a dot segment"
        )));
    }
    Ok(utf8_percent_encode(value, PATH_SEGMENT).to_string())
}

/// Reads a response body into memory, refusing more than `limit` bytes.
pub(crate) async fn read_bounded(mut response: Response, limit: usize) -> Result<Vec<u8>, Error> {
    // Sized from Content-Length (within the limit) so a large answer is not copied as it grows.
    let expected = response.content_length().unwrap_or(0).min(limit as u64);
    let mut body = Vec::with_capacity(usize::try_from(expected).unwrap_or(0));
    while let Some(chunk) = response.chunk().await.map_err(Error::transport)? {
        if body.len() + chunk.len() > limit {
            return Err(Error::InvalidResponse(format!(
                "HTTP {}: body larger than {limit} bytes",
                response.status().as_u16()
            )));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn build(base: &str) -> Result<Client, Error> {
        Client::new(ClientConfig::new(
            base,
            SecretString::from("k_secret_value"),
        ))
    }

    #[test]
    fn debug_never_shows_the_key() {
        let config = ClientConfig::new(DEFAULT_BASE_URL, SecretString::from("k_secret_value"));
        assert!(!format!("{config:?}").contains("k_secret_value"));
        let client = build(DEFAULT_BASE_URL).expect("builds");
        assert!(!format!("{client:?}").contains("k_secret_value"));
    }

    #[test]
    fn base_url_is_normalised_and_checked() {
        let client = build("http://127.0.0.1:9/current/").expect("builds");
        assert_eq!(
            client.url("/ping/").as_str(),
            "http://127.0.0.1:9/current/ping/"
        );
        // An encoded segment stays as encoded, not encoded twice.
        let path = format!(
            "/workspace/{}/details/",
            segment("a b/c", "id").expect("ok")
        );
        assert_eq!(
            client.url(&path).as_str(),
            "http://127.0.0.1:9/current/workspace/a%20b%2Fc/details/"
        );
        let bare = build("http://127.0.0.1:9").expect("builds");
        assert_eq!(bare.url("/ping/").as_str(), "http://127.0.0.1:9/ping/");
        assert!(matches!(
            build("ftp://x/current"),
            Err(Error::InvalidArgument(_))
        ));
        assert!(matches!(build("not a url"), Err(Error::InvalidArgument(_))));
    }

    #[test]
    fn segments_are_encoded_and_never_empty() {
        assert_eq!(segment("f3jm5-zqzfx", "node").expect("ok"), "f3jm5-zqzfx");
        assert_eq!(segment("../x/y", "node").expect("ok"), "..%2Fx%2Fy");
        assert!(segment("", "node").is_err());
        assert!(segment("..", "node").is_err());
    }
}

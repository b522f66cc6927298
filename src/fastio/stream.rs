//! Stream sessions: a file of unknown size sent as one raw body (`fastio-api.md` §7.10).
//!
//! A stream body can be sent once. It is retried only while no byte of it was read (a 429 or a
//! failed connect before the body was touched). After a 5xx or a timeout it is never resent:
//! the session's status says whether Fast.io got everything; if not, the session is cancelled.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use futures_util::Stream;
use parking_lot::Mutex;
use reqwest::header;
use reqwest::multipart::{Form, Part};

use super::client::{Client, Op, segment};
use super::error::Error;
use super::retry::{Replay, random_jitter};
use super::session::UploadStatus;
use super::types::UploadTarget;
use super::upload::session_fields;

/// How long to wait for a session that got the whole stream but answered badly to finish.
const SETTLE_WAIT: Duration = Duration::from_secs(120);

/// The caller's body stream, held so that it can be handed to a second request when the first
/// never read from it.
type Slot<S> = Arc<Mutex<Option<Pin<Box<S>>>>>;

impl Client {
    /// `POST /upload/` (form) with `stream=true`: a session whose size is learnt from the body.
    /// `max_size` is the byte ceiling Fast.io enforces while receiving.
    pub async fn create_stream_upload(
        &self,
        target: &UploadTarget,
        name: &str,
        max_size: u64,
    ) -> Result<String, Error> {
        let mut fields = session_fields(target, name, None, None)?;
        fields.insert(1, ("stream", "true".to_owned()));
        fields.push(("max_size", max_size.to_string()));
        self.create_session(fields, "POST /upload/ (stream)").await
    }

    /// `POST /upload/{id}/stream/[?hash=&hash_algo=sha256]` with `body` as a raw
    /// `application/octet-stream` (chunked transfer). The session finalises itself; follow with
    /// [`Client::wait_until_stored`].
    ///
    /// On failure the session has been cancelled, except when Fast.io turns out to have stored
    /// the file after all, which is success. `sha256_hex` is only known up front when the
    /// caller buffered the file; otherwise compare the stored node's hash afterwards.
    pub async fn upload_stream<S>(
        &self,
        upload_id: &str,
        body: S,
        sha256_hex: Option<&str>,
    ) -> Result<(), Error>
    where
        S: Stream<Item = Result<Bytes, io::Error>> + Send + 'static,
    {
        let path = format!("/upload/{}/stream/", segment(upload_id, "upload id")?);
        let mut query = Vec::new();
        if let Some(hash) = sha256_hex {
            query.push(("hash", hash.to_owned()));
            query.push(("hash_algo", "sha256".to_owned()));
        }
        let op = Op {
            timeout: self.config().stream_timeout,
            ..self.op("POST /upload/{id}/stream/", Replay::Once)
        };
        let url = self.url(&path);
        let sent = self
            .send_once(op, body, |http, body| {
                http.post(url.clone())
                    .query(&query)
                    .header(header::CONTENT_TYPE, "application/octet-stream")
                    .body(body)
            })
            .await;
        match sent {
            Ok(()) => Ok(()),
            Err(error) => self.settle_failed_stream(upload_id, error).await,
        }
    }

    /// `POST /upload/{id}/chunk/?order=&size=&hash=&hash_algo=sha256` with the chunk streamed
    /// from `body` into multipart part `chunk` as it arrives, instead of held whole: `size` and
    /// the SHA-256 are known up front (the client's `Content-Digest`), and a `body` that ends
    /// in an error aborts the request before the part is closed, so Fast.io keeps nothing of it.
    /// Retried only while no byte was read; after that the client sends the chunk again.
    pub async fn upload_chunk_stream<S>(
        &self,
        upload_id: &str,
        order: u32,
        size: u64,
        body: S,
        sha256_hex: &str,
    ) -> Result<(), Error>
    where
        S: Stream<Item = Result<Bytes, io::Error>> + Send + 'static,
    {
        if order == 0 {
            return Err(Error::InvalidArgument("chunk order is 1-based".into()));
        }
        let path = format!("/upload/{}/chunk/", segment(upload_id, "upload id")?);
        let query = [
            ("order", order.to_string()),
            ("size", size.to_string()),
            ("hash", sha256_hex.to_owned()),
            ("hash_algo", "sha256".to_owned()),
        ];
        // Paced by the client's own sending, like a stream session: its timeout, not a
        // buffered chunk's.
        let op = Op {
            timeout: self.config().stream_timeout,
            ..self.op("POST /upload/{id}/chunk/", Replay::Once)
        };
        let url = self.url(&path);
        self.send_once(op, body, |http, body| {
            let part = Part::stream_with_length(body, size).file_name("chunk.bin");
            http.post(url.clone())
                .query(&query)
                .multipart(Form::new().part("chunk", part))
        })
        .await
    }

    /// Sends the request `build` makes around `body`, which can be read once: tried again only
    /// while no byte of it was read and the failure proves the server never saw the request
    /// (a 429, a failed connect).
    async fn send_once<S, F>(&self, op: Op, body: S, build: F) -> Result<(), Error>
    where
        S: Stream<Item = Result<Bytes, io::Error>> + Send + 'static,
        F: Fn(&reqwest::Client, reqwest::Body) -> reqwest::RequestBuilder,
    {
        let slot: Slot<S> = Arc::new(Mutex::new(Some(Box::pin(body))));
        let policy = &self.config().retry;
        let mut tries = 1;
        loop {
            let body = OnceBody::new(slot.clone());
            let touched = body.touched.clone();
            let request = build(&self.inner.api, reqwest::Body::wrap_stream(body));
            let span = tracing::info_span!(
                "fastio",
                endpoint = op.endpoint,
                attempt = tries,
                status = tracing::field::Empty
            );
            let error = match tracing::Instrument::instrument(self.attempt(op, request), span).await
            {
                Ok(_) => return Ok(()),
                Err(error) => error,
            };
            let untouched = !touched.load(Ordering::SeqCst) && slot.lock().is_some();
            let pre_send = matches!(&error, Error::RateLimited { .. })
                || matches!(&error, Error::Transport(err) if err.is_connect());
            if untouched
                && pre_send
                && let Some(delay) =
                    policy.delay_before_retry(op.replay, tries, &error, random_jitter())
            {
                crate::telemetry::upstream_retry(op.endpoint);
                tracing::warn!(endpoint = op.endpoint, attempt = tries, error = %error, "retrying an unsent body");
                tokio::time::sleep(delay).await;
                tries += 1;
                continue;
            }
            return Err(error);
        }
    }

    /// After a failed stream: success if Fast.io has (or is finishing) the file, otherwise
    /// cancel the session and return the original error.
    async fn settle_failed_stream(&self, upload_id: &str, error: Error) -> Result<(), Error> {
        if error.may_have_reached_server()
            && let Ok(session) = self.upload_details(upload_id, None).await
        {
            let finished = match session.status {
                UploadStatus::Stored => true,
                status if status.is_past_upload() => {
                    self.wait_until_stored(upload_id, SETTLE_WAIT).await.is_ok()
                }
                _ => false,
            };
            if finished {
                tracing::info!(upload_id, "stream answered badly but was stored");
                return Ok(());
            }
        }
        if let Err(cancel_error) = self.cancel_upload(upload_id).await {
            tracing::warn!(upload_id, error = %cancel_error, "could not cancel failed stream session");
        }
        Err(error)
    }
}

/// One request's view of the shared body; notes whether it was ever read.
struct OnceBody<S> {
    slot: Slot<S>,
    touched: Arc<AtomicBool>,
}

impl<S> OnceBody<S> {
    fn new(slot: Slot<S>) -> Self {
        OnceBody {
            slot,
            touched: Arc::new(AtomicBool::new(false)),
        }
    }
}

impl<S> Stream for OnceBody<S>
where
    S: Stream<Item = Result<Bytes, io::Error>>,
{
    type Item = Result<Bytes, io::Error>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.touched.store(true, Ordering::SeqCst);
        let mut slot = self.slot.lock();
        match slot.as_mut() {
            Some(stream) => {
                let polled = stream.as_mut().poll_next(cx);
                if let Poll::Ready(Some(Ok(bytes))) = &polled {
                    crate::telemetry::upload_bytes(bytes.len() as u64);
                }
                if matches!(polled, Poll::Ready(None)) {
                    *slot = None;
                }
                polled
            }
            None => Poll::Ready(None),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::StreamExt;

    #[tokio::test]
    async fn once_body_reports_being_read_and_can_be_reused_until_then() {
        let source =
            futures_util::stream::iter(vec![Ok::<_, io::Error>(Bytes::from_static(b"ab"))]);
        let slot: Slot<_> = Arc::new(Mutex::new(Some(Box::pin(source))));
        let unused = OnceBody::new(slot.clone());
        assert!(!unused.touched.load(Ordering::SeqCst));
        drop(unused);
        let mut used = OnceBody::new(slot.clone());
        assert_eq!(
            used.next().await.map(|r| r.ok()),
            Some(Some(Bytes::from_static(b"ab")))
        );
        assert!(used.touched.load(Ordering::SeqCst));
        assert!(used.next().await.is_none());
        assert!(slot.lock().is_none());
    }
}

//! The pipeline's hold on one Fast.io upload session: the body that feeds a stream session from
//! the part channel, and the guard that cancels the session unless it ended stored.

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use futures_util::Stream;
use tokio::sync::mpsc;

use super::chunker::Part;
use super::registry::{LiveUpload, LiveUploads};
use crate::fastio;

/// The body of a stream session: the parts from the channel, each held (with its budget) until
/// the next is asked for. If the channel closes before the last part, the body fails, so Fast.io
/// never takes a cut stream for a whole file.
pub(super) struct PartBody {
    held: Option<Part>,
    first: bool,
    rx: mpsc::Receiver<Part>,
    finished: bool,
}

impl PartBody {
    /// A body sending `first` (already taken from the channel), then the rest of `rx`.
    pub(super) fn new(first: Part, rx: mpsc::Receiver<Part>) -> Self {
        Self {
            finished: first.last,
            held: Some(first),
            first: true,
            rx,
        }
    }
}

impl Stream for PartBody {
    type Item = Result<Bytes, std::io::Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.first {
            self.first = false;
            let first = self.held.as_ref().map(|p| (p.last, p.bytes.clone()));
            if let Some((last, bytes)) = first {
                self.finished = last;
                return Poll::Ready(Some(Ok(bytes)));
            }
        }
        self.held = None;
        if self.finished {
            return Poll::Ready(None);
        }
        match self.rx.poll_recv(cx) {
            Poll::Ready(Some(part)) => {
                self.finished = part.last;
                let bytes = part.bytes.clone();
                self.held = Some(part);
                Poll::Ready(Some(Ok(bytes)))
            }
            Poll::Ready(None) => {
                self.finished = true;
                Poll::Ready(Some(Err(std::io::Error::other(
                    "the file ended before its last part",
                ))))
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

/// Cancels its Fast.io session unless disarmed: awaited on failure paths, spawned from `Drop`
/// when the future holding it is dropped (client gone, request timeout).
pub(super) struct SessionGuard {
    client: fastio::Client,
    id: String,
    armed: bool,
    /// Keeps the session in the live-upload registry while the guard lives.
    _live: LiveUpload,
}

impl SessionGuard {
    pub(super) fn new(client: fastio::Client, id: String, live: &LiveUploads) -> Self {
        Self {
            _live: live.register(id.clone()),
            client,
            id,
            armed: true,
        }
    }

    pub(super) fn id(&self) -> &str {
        &self.id
    }

    pub(super) fn disarm(mut self) {
        self.armed = false;
    }

    pub(super) async fn cancel(mut self) {
        self.armed = false;
        if let Err(e) = self.client.cancel_upload(&self.id).await {
            tracing::warn!(error = %e, "could not cancel a failed upload session");
        }
    }
}

impl Drop for SessionGuard {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        let client = self.client.clone();
        let id = std::mem::take(&mut self.id);
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                if let Err(e) = client.cancel_upload(&id).await {
                    tracing::warn!(error = %e, "could not cancel an abandoned upload session");
                }
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::upload::chunker::{ChunkConfig, part_channel, produce_parts};
    use futures_util::StreamExt;

    async fn parts_of(data: &[u8]) -> Vec<Part> {
        let (tx, mut rx) = part_channel(64);
        let config = ChunkConfig {
            chunk_size: 4,
            max_size: 1 << 20,
            part_hashes: false,
            pass_through: false,
        };
        let items = vec![Ok::<_, std::io::Error>(Bytes::copy_from_slice(data))];
        produce_parts(futures_util::stream::iter(items), config, None, tx)
            .await
            .expect("parts");
        let mut parts = Vec::new();
        while let Some(p) = rx.recv().await {
            parts.push(p);
        }
        parts
    }

    #[tokio::test]
    async fn the_body_sends_every_part_and_ends_after_the_last() {
        let mut parts = parts_of(b"abcdefghij").await.into_iter();
        let first = parts.next().expect("first");
        let (tx, rx) = mpsc::channel(8);
        for p in parts {
            tx.send(p).await.expect("send");
        }
        let body: Vec<_> = PartBody::new(first, rx).collect().await;
        let bytes: Vec<u8> = body
            .into_iter()
            .flat_map(|b| b.expect("ok").to_vec())
            .collect();
        assert_eq!(bytes, b"abcdefghij");
    }

    #[tokio::test]
    async fn a_channel_closed_before_the_last_part_fails_the_body() {
        let mut parts = parts_of(b"abcdefghij").await.into_iter();
        let first = parts.next().expect("first");
        let (tx, rx) = mpsc::channel(8);
        tx.send(parts.next().expect("second")).await.expect("send");
        drop(tx); // the reader stopped (too large, client gone) before the last part
        let body: Vec<_> = PartBody::new(first, rx).collect().await;
        assert_eq!(body.len(), 3);
        assert!(body[2].is_err(), "a cut stream must not look complete");
    }
}

//! Upload sessions: limits, single call, chunked sessions, status and long-poll, cancel
//! (`fastio-api.md` §7). Streams live in `stream.rs`.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use bytes::Bytes;
use reqwest::multipart::{Form, Part};
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::client::{Client, Op, segment};
use super::de;
use super::envelope::{Payload, parse};
use super::error::Error;
use super::retry::Replay;
use super::session::{UploadSession, UploadStatus};
use super::types::{SingleUpload, UploadLimits, UploadTarget};

/// Largest body of a single-call upload (4 MiB).
pub const SINGLE_CALL_MAX_BYTES: u64 = 4 * 1024 * 1024;

/// Longest `wait` the client asks a long-poll to hold (the API allows 590 s).
pub const MAX_LONG_POLL: Duration = Duration::from_secs(60);

/// Margin between a long-poll's `wait` and its HTTP timeout.
const LONG_POLL_MARGIN: Duration = Duration::from_secs(30);

/// If a long-poll answers faster than this without a change, the server is not holding
/// requests: pause so the loop does not spin.
const MIN_POLL_INTERVAL: Duration = Duration::from_millis(500);

impl Client {
    /// `GET /upload/limits/`: the plan's chunk and file size limits.
    pub async fn upload_limits(&self) -> Result<UploadLimits, Error> {
        let op = self.op("GET /upload/limits/", Replay::Idempotent);
        let payload = self
            .call(op, |http| http.get(self.url("/upload/limits/")))
            .await?;
        let limits = payload.record(&["limits"]);
        let number = |key: &str| limits.get(key).and_then(de::u64_lenient);
        let required = |key: &str| {
            number(key).ok_or_else(|| Error::InvalidResponse(format!("upload limits: no {key}")))
        };
        Ok(UploadLimits {
            chunk_size: required("chunk_size")?,
            size: required("size")?,
            chunks: number("chunks"),
            sessions: number("sessions"),
            sessions_size_max: number("sessions_size_max"),
        })
    }

    /// `POST /upload/` multipart with the whole file (≤ 4 MiB) in part `chunk`, its SHA-256 sent
    /// as `hash`. Fast.io stores it by itself; when `new_file_id` is missing, poll the session
    /// with [`Client::wait_until_stored`]. Retried only on 429 and connect failures.
    pub async fn upload_single(
        &self,
        target: &UploadTarget,
        name: &str,
        body: Bytes,
    ) -> Result<SingleUpload, Error> {
        if body.len() as u64 > SINGLE_CALL_MAX_BYTES {
            return Err(Error::InvalidArgument(format!(
                "a single-call upload holds at most {SINGLE_CALL_MAX_BYTES} bytes"
            )));
        }
        let sha256 = hex::encode(Sha256::digest(&body));
        let fields = session_fields(target, name, Some(body.len() as u64), Some(&sha256))?;
        let op = self.op("POST /upload/ (single call)", Replay::Once);
        let payload = self
            .call(op, |http| {
                let form = fields.iter().fold(Form::new(), |form, (key, value)| {
                    form.text(*key, value.clone())
                });
                http.post(self.url("/upload/"))
                    .multipart(form.part("chunk", bytes_part(&body, name)))
            })
            .await?;
        crate::telemetry::upload_bytes(body.len() as u64);
        Ok(SingleUpload {
            upload_id: payload.require_id(&["id", "upload_id"], "single-call upload")?,
            new_file_id: payload.id(&["new_file_id"]),
            sha256,
        })
    }

    /// `POST /upload/` (form) creating a chunked session for `size` bytes; returns its id.
    /// `sha256` is the whole file's hex digest, when known, for Fast.io to verify.
    pub async fn create_chunked_upload(
        &self,
        target: &UploadTarget,
        name: &str,
        size: u64,
        sha256: Option<&str>,
    ) -> Result<String, Error> {
        let fields = session_fields(target, name, Some(size), sha256)?;
        self.create_session(fields, "POST /upload/ (chunked)").await
    }

    /// Sends session-create `fields` as a form and returns the new session's id.
    pub(crate) async fn create_session(
        &self,
        fields: Vec<(&'static str, String)>,
        endpoint: &'static str,
    ) -> Result<String, Error> {
        let op = self.op(endpoint, Replay::Once);
        let payload = self
            .call(op, |http| http.post(self.url("/upload/")).form(&fields))
            .await?;
        payload.require_id(&["id", "upload_id"], "upload session")
    }

    /// `POST /upload/{id}/chunk/?order=&size=&hash=&hash_algo=sha256`, the bytes in multipart
    /// part `chunk`. `order` is 1-based. Idempotent by order, so retried on 429, 5xx and
    /// transport failures. The `Bytes` are shared with the request, never copied.
    pub async fn upload_chunk(
        &self,
        upload_id: &str,
        order: u32,
        body: Bytes,
        sha256_hex: &str,
    ) -> Result<(), Error> {
        if order == 0 {
            return Err(Error::InvalidArgument("chunk order is 1-based".into()));
        }
        let path = format!("/upload/{}/chunk/", segment(upload_id, "upload id")?);
        let query = [
            ("order", order.to_string()),
            ("size", body.len().to_string()),
            ("hash", sha256_hex.to_owned()),
            ("hash_algo", "sha256".to_owned()),
        ];
        let op = Op {
            timeout: self.config().chunk_timeout,
            ..self.op("POST /upload/{id}/chunk/", Replay::Chunk)
        };
        self.call(op, |http| {
            let form = Form::new().part("chunk", bytes_part(&body, "chunk.bin"));
            http.post(self.url(&path)).query(&query).multipart(form)
        })
        .await?;
        crate::telemetry::upload_bytes(body.len() as u64);
        Ok(())
    }

    /// `GET /upload/{id}/chunk/`: the chunks received so far, order → bytes.
    pub async fn chunk_status(&self, upload_id: &str) -> Result<BTreeMap<u32, u64>, Error> {
        let path = format!("/upload/{}/chunk/", segment(upload_id, "upload id")?);
        let op = self.op("GET /upload/{id}/chunk/", Replay::Idempotent);
        let payload = self.call(op, |http| http.get(self.url(&path))).await?;
        Ok(payload
            .record(&["session"])
            .get("chunks")
            .map(de::chunk_map)
            .unwrap_or_default())
    }

    /// `POST /upload/{id}/complete/` with an empty form: all chunks are in, assemble. Not
    /// replayed; after an ambiguous failure (5xx, lost answer) the session's status decides:
    /// assembly under way or done counts as success.
    pub async fn complete_upload(&self, upload_id: &str) -> Result<(), Error> {
        let path = format!("/upload/{}/complete/", segment(upload_id, "upload id")?);
        let op = self.op("POST /upload/{id}/complete/", Replay::Once);
        let empty: [(&str, &str); 0] = [];
        let result = self
            .call(op, |http| http.post(self.url(&path)).form(&empty))
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(error) if error.may_have_reached_server() => {
                match self.upload_details(upload_id, None).await {
                    Ok(session) if session.status.is_past_upload() => Ok(()),
                    _ => Err(error),
                }
            }
            Err(error) => Err(error),
        }
    }

    /// `GET /upload/{id}/details/[?wait=N]`. With `wait`, Fast.io holds the request until the
    /// status changes or `wait` (capped at 60 s) passes.
    pub async fn upload_details(
        &self,
        upload_id: &str,
        wait: Option<Duration>,
    ) -> Result<UploadSession, Error> {
        let path = format!("/upload/{}/details/", segment(upload_id, "upload id")?);
        let wait_secs = wait
            .map(|w| w.min(MAX_LONG_POLL).as_secs_f64().ceil() as u64)
            .filter(|secs| *secs > 0);
        let base = self.op("GET /upload/{id}/details/", Replay::Idempotent);
        let op = Op {
            timeout: wait_secs.map_or(base.timeout, |secs| {
                base.timeout
                    .max(Duration::from_secs(secs) + LONG_POLL_MARGIN)
            }),
            ..base
        };
        let payload = self
            .call(op, |http| {
                let request = http.get(self.url(&path));
                match wait_secs {
                    Some(secs) => request.query(&[("wait", secs)]),
                    None => request,
                }
            })
            .await?;
        session_from(&payload, upload_id)
    }

    /// Long-polls the session until `stored` (returned), a failed state
    /// ([`Error::UploadFailed`] with Fast.io's `status_message`), or `overall` elapses
    /// ([`Error::UploadTimedOut`]). `complete` is not success: the file is not in storage yet.
    pub async fn wait_until_stored(
        &self,
        upload_id: &str,
        overall: Duration,
    ) -> Result<UploadSession, Error> {
        let started = Instant::now();
        let mut last_status: Option<UploadStatus> = None;
        loop {
            let remaining = overall.saturating_sub(started.elapsed());
            let asked_at = Instant::now();
            let session = self
                .upload_details(upload_id, Some(remaining.min(MAX_LONG_POLL)))
                .await?;
            if session.status == UploadStatus::Stored {
                return Ok(session);
            }
            if session.status.is_failed() {
                return Err(Error::UploadFailed {
                    message: session
                        .status_message
                        .unwrap_or_else(|| format!("the session ended {}", session.status)),
                    status: session.status,
                });
            }
            if started.elapsed() >= overall {
                return Err(Error::UploadTimedOut {
                    status: session.status,
                });
            }
            let unchanged = last_status.as_ref() == Some(&session.status);
            let answered_in = asked_at.elapsed();
            if unchanged && answered_in < MIN_POLL_INTERVAL {
                let pause = (MIN_POLL_INTERVAL - answered_in)
                    .min(overall.saturating_sub(started.elapsed()));
                tokio::time::sleep(pause).await;
            }
            last_status = Some(session.status);
        }
    }

    /// `DELETE /upload/{id}/`: cancel the session and drop its chunks. A session that is
    /// already gone (404) counts as cancelled, so the call is safe to repeat.
    pub async fn cancel_upload(&self, upload_id: &str) -> Result<(), Error> {
        let path = format!("/upload/{}/", segment(upload_id, "upload id")?);
        let op = self.op("DELETE /upload/{id}/", Replay::Idempotent);
        match self.call(op, |http| http.delete(self.url(&path))).await {
            Ok(_) | Err(Error::NotFound { .. }) => Ok(()),
            Err(error) => Err(error),
        }
    }

    /// `GET /upload/details/`: the key's active sessions.
    pub async fn list_uploads(&self) -> Result<Vec<UploadSession>, Error> {
        let op = self.op("GET /upload/details/", Replay::Idempotent);
        let payload = self
            .call(op, |http| http.get(self.url("/upload/details/")))
            .await?;
        payload
            .collection(&["sessions", "uploads", "items"])
            .into_iter()
            .map(|record| parse(record, "upload session"))
            .collect()
    }
}

/// The text fields of a session create, in the order the official CLI sends them.
pub(crate) fn session_fields(
    target: &UploadTarget,
    name: &str,
    size: Option<u64>,
    sha256: Option<&str>,
) -> Result<Vec<(&'static str, String)>, Error> {
    if name.is_empty() {
        return Err(Error::InvalidArgument("file name is empty".into()));
    }
    segment(&target.workspace, "workspace id")?;
    segment(&target.folder, "folder id")?;
    let mut fields = vec![("name", name.to_owned())];
    if let Some(size) = size {
        fields.push(("size", size.to_string()));
    }
    fields.extend([
        ("action", "create".to_owned()),
        ("instance_id", target.workspace.clone()),
        ("folder_id", target.folder.clone()),
        ("profile_type", "workspace".to_owned()),
    ]);
    if let Some(hash) = sha256 {
        fields.push(("hash", hash.to_owned()));
        fields.push(("hash_algo", "sha256".to_owned()));
    }
    Ok(fields)
}

/// A multipart file part sharing `body`'s buffer, with a filename and no per-part type.
fn bytes_part(body: &Bytes, file_name: &str) -> Part {
    Part::stream_with_length(body.clone(), body.len() as u64).file_name(file_name.to_owned())
}

/// Reads the session record of a details reply, filling a missing id from the request.
fn session_from(payload: &Payload, upload_id: &str) -> Result<UploadSession, Error> {
    let mut session: UploadSession = parse(
        Value::Object(payload.record(&["session", "upload"])),
        "upload session",
    )?;
    session.id.get_or_insert_with(|| upload_id.to_owned());
    Ok(session)
}

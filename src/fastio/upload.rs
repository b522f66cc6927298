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

/// Most files in one batch upload (§7.12).
pub const BATCH_MAX_FILES: usize = 200;

/// Most bytes in one batch upload, all files together (§7.12: 100 MB).
pub const BATCH_MAX_BYTES: u64 = 100_000_000;

/// One file of a batch upload (at most [`SINGLE_CALL_MAX_BYTES`]).
#[derive(Clone, Debug)]
pub struct BatchFile {
    /// The file name.
    pub name: String,
    /// Its bytes (shared, never copied).
    pub body: Bytes,
    /// SHA-256 of `body`, lower-case hex, sent for Fast.io to verify.
    pub sha256: String,
}

/// What a batch upload said about one file, in the order the files were given.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BatchOutcome {
    /// Accepted: its own session, which stores itself (`node` is usually not known yet).
    Accepted {
        /// The file's upload session.
        upload_id: String,
        /// The stored node, when Fast.io already names it.
        node: Option<String>,
    },
    /// Refused on its own (the others are unaffected).
    Refused {
        /// Fast.io's error code, when given.
        code: Option<String>,
        /// Fast.io's message.
        message: String,
    },
}

/// Longest `wait` the client asks a long-poll to hold (the API allows 590 s).
pub const MAX_LONG_POLL: Duration = Duration::from_secs(60);

/// Margin between a long-poll's `wait` and its HTTP timeout.
const LONG_POLL_MARGIN: Duration = Duration::from_secs(30);

/// If a long-poll answers faster than this without a change, the server is not holding
/// requests: pause so the loop does not spin.
const MIN_POLL_INTERVAL: Duration = Duration::from_millis(500);

/// Least time between two long-polls of one session after a status change. A long-poll returns
/// at every step (assemble, assembling, complete, store, storing, stored), which for a small
/// file are tens of milliseconds apart; asking again at once would spend one request of the
/// `/upload/` rate-limit bucket per step and per file (§3), so thousands of small files would
/// empty it. Pacing costs a file at most this much latency.
const PACE_AFTER_CHANGE: Duration = MIN_POLL_INTERVAL;

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
        let sha256 = hex::encode(Sha256::digest(&body));
        self.upload_single_hashed(target, name, body, sha256).await
    }

    /// [`Client::upload_single`] of bytes whose SHA-256 (lower-case hex) the caller has already
    /// computed while checking them, so they are not hashed twice.
    pub async fn upload_single_hashed(
        &self,
        target: &UploadTarget,
        name: &str,
        body: Bytes,
        sha256: String,
    ) -> Result<SingleUpload, Error> {
        if body.len() as u64 > SINGLE_CALL_MAX_BYTES {
            return Err(Error::InvalidArgument(format!(
                "a single-call upload holds at most {SINGLE_CALL_MAX_BYTES} bytes"
            )));
        }
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

    /// `POST /upload/batch/` (§7.12): up to [`BATCH_MAX_FILES`] small files in one multipart
    /// request, each with its SHA-256 in the manifest. Per-file failures come back as
    /// [`BatchOutcome::Refused`] (the call itself succeeds); one outcome per file, in order.
    /// Retried only on 429 and connect failures (the files may have reached Fast.io otherwise).
    pub async fn upload_batch(
        &self,
        target: &UploadTarget,
        files: &[BatchFile],
    ) -> Result<Vec<BatchOutcome>, Error> {
        let total: u64 = files.iter().map(|f| f.body.len() as u64).sum();
        if files.is_empty()
            || files.len() > BATCH_MAX_FILES
            || total > BATCH_MAX_BYTES
            || files
                .iter()
                .any(|f| f.body.len() as u64 > SINGLE_CALL_MAX_BYTES || f.name.is_empty())
        {
            return Err(Error::InvalidArgument(format!(
                "a batch holds 1 to {BATCH_MAX_FILES} named files of at most \
                 {SINGLE_CALL_MAX_BYTES} bytes, {BATCH_MAX_BYTES} bytes in all"
            )));
        }
        segment(&target.workspace, "workspace id")?;
        segment(&target.folder, "folder id")?;
        let manifest: Vec<Value> = files
            .iter()
            .enumerate()
            .map(|(index, f)| {
                serde_json::json!({
                    "index": index, "filename": f.name, "hash_algo": "sha256", "hash": f.sha256,
                })
            })
            .collect();
        let manifest = Value::Array(manifest).to_string();
        let op = Op {
            timeout: self.config().chunk_timeout,
            ..self.op("POST /upload/batch/", Replay::Once)
        };
        let payload = self
            .call(op, |http| {
                let form = Form::new()
                    .text("instance_id", target.workspace.clone())
                    .text("folder_id", target.folder.clone())
                    .text("manifest", manifest.clone());
                let form = files.iter().enumerate().fold(form, |form, (i, f)| {
                    form.part(format!("file_{i}"), bytes_part(&f.body, &f.name))
                });
                http.post(self.url("/upload/batch/")).multipart(form)
            })
            .await?;
        crate::telemetry::upload_bytes(total);
        let mut outcomes: Vec<Option<BatchOutcome>> = vec![None; files.len()];
        for result in payload.collection(&["results"]) {
            let index = result
                .get("index")
                .and_then(de::u64_lenient)
                .and_then(|i| usize::try_from(i).ok())
                .filter(|i| *i < files.len());
            let Some(index) = index else { continue };
            let text = |key: &str| result.get(key).and_then(de::id);
            let ok = result.get("status").and_then(Value::as_str) == Some("ok");
            outcomes[index] = Some(match (ok, text("upload_id")) {
                (true, Some(upload_id)) => BatchOutcome::Accepted {
                    upload_id,
                    node: text("node_id"),
                },
                _ => BatchOutcome::Refused {
                    code: text("error_code"),
                    message: text("error_message")
                        .unwrap_or_else(|| "Fast.io refused the file".to_owned()),
                },
            });
        }
        Ok(outcomes
            .into_iter()
            .map(|o| {
                o.unwrap_or_else(|| BatchOutcome::Refused {
                    code: None,
                    message: "the batch reply does not mention the file".to_owned(),
                })
            })
            .collect())
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
            let least = if unchanged {
                MIN_POLL_INTERVAL
            } else {
                PACE_AFTER_CHANGE
            };
            if answered_in < least {
                let pause = (least - answered_in).min(overall.saturating_sub(started.elapsed()));
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

//! Upload session records: the status state machine and the details reply
//! (`fastio-api.md` §7.8, §7.9).

use std::collections::BTreeMap;
use std::fmt;

use chrono::{DateTime, Utc};
use serde::Deserialize;

use super::de;

/// The state of an upload session (`fastio-api.md` §7.9).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum UploadStatus {
    /// Created, awaiting chunks.
    Ready,
    /// Chunks arriving.
    Uploading,
    /// Assembly queued.
    Assemble,
    /// Assembly running.
    Assembling,
    /// Assembled, awaiting storage.
    Complete,
    /// Storage queued.
    Store,
    /// Storage running.
    Storing,
    /// Done; `new_file_id` is set.
    Stored,
    /// Assembly failed; see `status_message`.
    AssemblyFailed,
    /// Storage failed; see `status_message`.
    StoreFailed,
    /// A status this client does not know, verbatim.
    Other(String),
}

impl UploadStatus {
    /// Reads a wire status.
    pub fn parse(text: &str) -> Self {
        match text {
            "ready" => UploadStatus::Ready,
            "uploading" => UploadStatus::Uploading,
            "assemble" => UploadStatus::Assemble,
            "assembling" => UploadStatus::Assembling,
            "complete" => UploadStatus::Complete,
            "store" => UploadStatus::Store,
            "storing" => UploadStatus::Storing,
            "stored" => UploadStatus::Stored,
            "assembly_failed" => UploadStatus::AssemblyFailed,
            "store_failed" => UploadStatus::StoreFailed,
            other => UploadStatus::Other(other.to_owned()),
        }
    }

    /// The wire spelling.
    pub fn as_str(&self) -> &str {
        match self {
            UploadStatus::Ready => "ready",
            UploadStatus::Uploading => "uploading",
            UploadStatus::Assemble => "assemble",
            UploadStatus::Assembling => "assembling",
            UploadStatus::Complete => "complete",
            UploadStatus::Store => "store",
            UploadStatus::Storing => "storing",
            UploadStatus::Stored => "stored",
            UploadStatus::AssemblyFailed => "assembly_failed",
            UploadStatus::StoreFailed => "store_failed",
            UploadStatus::Other(text) => text,
        }
    }

    /// True for `assembly_failed`, `store_failed`, and the undocumented end states `cancelled`,
    /// `expired`, `failed` and `error`.
    pub fn is_failed(&self) -> bool {
        match self {
            UploadStatus::AssemblyFailed | UploadStatus::StoreFailed => true,
            UploadStatus::Other(text) => {
                matches!(
                    text.as_str(),
                    "cancelled" | "canceled" | "expired" | "failed" | "error"
                )
            }
            _ => false,
        }
    }

    /// True once the file is stored (`new_file_id` names it).
    pub fn is_stored(&self) -> bool {
        matches!(self, UploadStatus::Stored)
    }

    /// True for a session someone cancelled (undocumented end states `cancelled`/`canceled`).
    pub fn is_cancelled(&self) -> bool {
        matches!(self, UploadStatus::Other(text) if matches!(text.as_str(), "cancelled" | "canceled"))
    }

    /// True once the server holds every byte and is assembling or storing them by itself.
    pub fn is_past_upload(&self) -> bool {
        matches!(
            self,
            UploadStatus::Assemble
                | UploadStatus::Assembling
                | UploadStatus::Complete
                | UploadStatus::Store
                | UploadStatus::Storing
                | UploadStatus::Stored
        )
    }
}

impl fmt::Display for UploadStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for UploadStatus {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(UploadStatus::parse(&String::deserialize(d)?))
    }
}

/// An upload session as `GET /upload/{id}/details/` reports it (`fastio-api.md` §7.8).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct UploadSession {
    /// Session id (filled from the request when the reply omits it).
    #[serde(default, deserialize_with = "de::de_opt_id")]
    pub id: Option<String>,
    /// Where the session is in its life.
    pub status: UploadStatus,
    /// Failure reason, when failed.
    #[serde(default, deserialize_with = "de::de_opt_string")]
    pub status_message: Option<String>,
    /// The stored node's id, once `stored`.
    #[serde(default, deserialize_with = "de::de_opt_id")]
    pub new_file_id: Option<String>,
    /// Received chunks: order → bytes.
    #[serde(default, deserialize_with = "de::de_chunks")]
    pub chunks: BTreeMap<u32, u64>,
    /// Declared total size.
    #[serde(default, deserialize_with = "de::de_opt_u64")]
    pub size: Option<u64>,
    /// File name.
    #[serde(default, deserialize_with = "de::de_opt_string")]
    pub name: Option<String>,
    /// Whether it is a stream session (§7.10); unverified field, `None` when absent.
    #[serde(default, deserialize_with = "de::de_opt_flag")]
    pub stream: Option<bool>,
    /// Target workspace (or share) id.
    #[serde(default, deserialize_with = "de::de_opt_id")]
    pub instance_id: Option<String>,
    /// Target folder id.
    #[serde(default, deserialize_with = "de::de_opt_id")]
    pub folder_id: Option<String>,
    /// When the session was created.
    #[serde(default, deserialize_with = "de::de_opt_time")]
    pub created: Option<DateTime<Utc>>,
    /// When the session last changed.
    #[serde(default, deserialize_with = "de::de_opt_time")]
    pub updated: Option<DateTime<Utc>>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn session_decodes_status_and_chunks() {
        let session: UploadSession = serde_json::from_value(json!({
            "status": "assembly_failed", "status_message": "bad", "chunks": {"1": 1048576, "2": 10},
            "size": 1048586
        }))
        .expect("decodes");
        assert_eq!(session.status, UploadStatus::AssemblyFailed);
        assert!(session.status.is_failed());
        assert_eq!(session.chunks.len(), 2);
        assert_eq!(UploadStatus::parse("cancelled").as_str(), "cancelled");
        assert!(UploadStatus::parse("storing").is_past_upload());
    }
}

//! The records the client hands out and takes in. Field names follow Fast.io's (`fastio-api.md`
//! §5–§7); decoding is tolerant through the adapters in `de`. File management records (§6.5–§6.10)
//! are in `types/files.rs`.

use std::fmt;
use std::pin::Pin;
use std::time::Duration;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use futures_util::Stream;
use secrecy::SecretString;
use serde::Deserialize;

use super::de;
use super::error::Error;

mod ai;
mod files;
pub use ai::{
    Activity, AiChat, AiIndexState, AiMessage, AiRef, AiScope, AskReceipt, CancelOutcome, Citation,
    CitationEntry, MAX_QUESTION_CHARS, MessageState, NodeAi,
};
pub use files::{
    Crop, OutputFormat, PreviewState, PreviewType, Previews, SearchHit, SearchPage, SearchQuery,
    SizePreset, TokenUrl, TransformParams, Version,
};

/// A workspace the key can see (`GET /workspaces/all/`, `/workspace/{id}/details/`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Workspace {
    /// 19-digit profile id, as a string.
    #[serde(deserialize_with = "de::de_id")]
    pub id: String,
    /// Display name.
    #[serde(default)]
    pub name: String,
    /// The workspace's URL name, also accepted in paths.
    #[serde(default, deserialize_with = "de::de_opt_string")]
    pub folder_name: Option<String>,
    /// Free-text description.
    #[serde(default, deserialize_with = "de::de_opt_string")]
    pub description: Option<String>,
    /// Whether AI intelligence is on.
    #[serde(default, deserialize_with = "de::de_opt_flag")]
    pub intelligence: Option<bool>,
}

/// What a storage node is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NodeType {
    /// A file.
    File,
    /// A folder.
    Folder,
    /// A note.
    Note,
    /// A link.
    Link,
    /// A type this client does not know, verbatim (empty when the field was missing).
    Other(String),
}

impl Default for NodeType {
    fn default() -> Self {
        NodeType::Other(String::new())
    }
}

impl<'de> Deserialize<'de> for NodeType {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        // Read borrowed: the four known types then cost no allocation, which a listing of 500
        // nodes notices. Anything but a string (null included) is an unknown, empty type.
        let scalar = de::Scalar::deserialize(d)?;
        Ok(match scalar.text().unwrap_or_default() {
            "file" => NodeType::File,
            "folder" => NodeType::Folder,
            "note" => NodeType::Note,
            "link" => NodeType::Link,
            other => NodeType::Other(other.to_owned()),
        })
    }
}

/// Declares a node struct: the fields a listing shows, read the same way in every node type,
/// then the struct's own. [`Node`] and [`ListedNode`] are both declared through it, so a brief
/// node is always the whole node cut down.
macro_rules! node_struct {
    ($(#[$meta:meta])* pub struct $name:ident { $($own:tt)* }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
        pub struct $name {
            /// Opaque node id; use exactly as given.
            #[serde(deserialize_with = "de::de_id")]
            pub id: String,
            /// The node's name.
            #[serde(default)]
            pub name: String,
            /// File, folder, note or link.
            #[serde(rename = "type", default)]
            pub node_type: NodeType,
            /// Size in bytes (files).
            #[serde(default, deserialize_with = "de::de_opt_u64")]
            pub size: Option<u64>,
            /// MIME type, e.g. `text/csv`.
            #[serde(default, deserialize_with = "de::de_opt_string")]
            pub mimetype: Option<String>,
            /// Creation time (`standard` output and up).
            #[serde(default, deserialize_with = "de::de_opt_time")]
            pub created: Option<DateTime<Utc>>,
            /// Last modification time.
            #[serde(default, deserialize_with = "de::de_opt_time")]
            pub modified: Option<DateTime<Utc>>,
            $($own)*
        }
    };
}

node_struct! {
    /// A file, folder, note or link in a workspace's storage (`fastio-api.md` §6.2).
    pub struct Node {
        /// The parent's id, or `root`.
        #[serde(default, deserialize_with = "de::de_opt_id")]
        pub parent: Option<String>,
        /// Content hash, hex (`full` output only).
        #[serde(default, deserialize_with = "de::de_opt_string")]
        pub hash: Option<String>,
        /// Algorithm of `hash`: `md5`, `sha1`, `sha256` or `sha384`.
        #[serde(default, deserialize_with = "de::de_opt_string")]
        pub hash_algo: Option<String>,
        /// Current version id (opaque).
        #[serde(default, deserialize_with = "de::de_opt_id")]
        pub version: Option<String>,
        /// Whether the node is in the trash (`standard` output and up).
        #[serde(default, deserialize_with = "de::de_opt_flag")]
        pub deleted: Option<bool>,
        /// The folder a trashed node was deleted from.
        #[serde(default, deserialize_with = "de::de_opt_id")]
        pub deleted_from: Option<String>,
        /// Preview states per type (§6.10).
        #[serde(default)]
        pub previews: Previews,
        /// AI indexing state and attachability (`ai`, `standard` output and up).
        #[serde(default)]
        pub ai: NodeAi,
    }
}

node_struct! {
    /// A node as a folder listing shows it: the fields of [`Node`] a listing answer carries on,
    /// and no others. Reading a 500-node page into these skips the previews, AI state, versions
    /// and parents a listing never shows (serde passes over them without building anything).
    pub struct ListedNode {}
}

impl From<Node> for ListedNode {
    fn from(node: Node) -> Self {
        ListedNode {
            id: node.id,
            name: node.name,
            node_type: node.node_type,
            size: node.size,
            mimetype: node.mimetype,
            created: node.created,
            modified: node.modified,
        }
    }
}

impl Node {
    /// Whether the node is trashed: `deleted:true` or `parent:"trash"` (§6.5, §6.6 "Traps").
    pub fn is_trashed(&self) -> bool {
        self.deleted == Some(true) || self.parent.as_deref() == Some("trash")
    }
}

/// The orders a folder listing can be sorted by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SortBy {
    /// By name.
    #[default]
    Name,
    /// By modification time.
    Updated,
    /// By creation time.
    Created,
    /// By node type.
    Type,
}

impl SortBy {
    /// The wire value of `sort_by`.
    pub fn as_str(self) -> &'static str {
        match self {
            SortBy::Name => "name",
            SortBy::Updated => "updated",
            SortBy::Created => "created",
            SortBy::Type => "type",
        }
    }
}

/// Sort direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SortDir {
    /// Ascending.
    #[default]
    Asc,
    /// Descending.
    Desc,
}

impl SortDir {
    /// The wire value of `sort_dir`.
    pub fn as_str(self) -> &'static str {
        match self {
            SortDir::Asc => "asc",
            SortDir::Desc => "desc",
        }
    }
}

/// The only page sizes Fast.io's storage listing accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PageSize {
    /// 100 nodes.
    #[default]
    P100,
    /// 250 nodes.
    P250,
    /// 500 nodes.
    P500,
}

impl PageSize {
    /// The number of nodes per page.
    pub fn get(self) -> u32 {
        match self {
            PageSize::P100 => 100,
            PageSize::P250 => 250,
            PageSize::P500 => 500,
        }
    }

    /// The smallest page size holding at least `wanted` nodes (500 at most).
    pub fn at_least(wanted: u32) -> Self {
        match wanted {
            0..=100 => PageSize::P100,
            101..=250 => PageSize::P250,
            _ => PageSize::P500,
        }
    }
}

/// Parameters of one folder listing request.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListQuery {
    /// Sort key.
    pub sort_by: SortBy,
    /// Sort direction.
    pub sort_dir: SortDir,
    /// Nodes per page.
    pub page_size: PageSize,
    /// The previous page's `next_cursor`, or `None` for the first page.
    pub cursor: Option<String>,
}

/// One page of a folder listing, of whole [`Node`]s or of [`ListedNode`]s.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FolderPage<N = Node> {
    /// The nodes, in the server's order.
    pub nodes: Vec<N>,
    /// Cursor of the next page; `None` on the last page.
    pub next_cursor: Option<String>,
}

/// Where an upload lands: a workspace and a folder in it (`root` for the top).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadTarget {
    /// Workspace id.
    pub workspace: String,
    /// Folder node id, or `root`.
    pub folder: String,
}

/// The plan's upload limits (`GET /upload/limits/`, `fastio-api.md` §7.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UploadLimits {
    /// Largest chunk in bytes.
    pub chunk_size: u64,
    /// Largest file in bytes.
    pub size: u64,
    /// Most chunks per session.
    pub chunks: Option<u64>,
    /// Most concurrent sessions.
    pub sessions: Option<u64>,
    /// Most bytes across open sessions.
    pub sessions_size_max: Option<u64>,
}

/// The reply to a single-call upload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SingleUpload {
    /// The upload session id (poll it when `new_file_id` is missing).
    pub upload_id: String,
    /// The stored node, when storage finished within the call.
    pub new_file_id: Option<String>,
    /// Hex SHA-256 of the body, as sent to Fast.io.
    pub sha256: String,
}

/// A byte stream of a download.
pub type ByteStream = Pin<Box<dyn Stream<Item = Result<Bytes, Error>> + Send>>;

/// A file download in progress: the headers that matter, and the body as a stream.
pub struct Download {
    /// 200, or 206 for a range.
    pub status: u16,
    /// Body length, when announced.
    pub content_length: Option<u64>,
    /// `Content-Type`, when sent.
    pub content_type: Option<String>,
    /// `Content-Range`, for a 206.
    pub content_range: Option<String>,
    /// The bytes.
    pub body: ByteStream,
}

impl fmt::Debug for Download {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Download")
            .field("status", &self.status)
            .field("content_length", &self.content_length)
            .field("content_type", &self.content_type)
            .field("content_range", &self.content_range)
            .finish_non_exhaustive()
    }
}

/// When a File Share link expires: `expires` (relative) or `expires_at` (absolute), never both.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expiry {
    /// This long after creation (whole seconds, at least 1).
    After(Duration),
    /// At this instant.
    At(DateTime<Utc>),
}

/// Who may open a File Share link (`access_option`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShareAccess {
    /// Anyone holding the link.
    AnyoneWithLink,
    /// Any registered Fast.io user.
    AnyRegistered,
    /// Only named people.
    NamedPeople,
}

impl ShareAccess {
    /// The wire value.
    pub fn as_str(self) -> &'static str {
        match self {
            ShareAccess::AnyoneWithLink => "anyone_with_link",
            ShareAccess::AnyRegistered => "any_registered",
            ShareAccess::NamedPeople => "named_people",
        }
    }
}

/// What to share and how (`POST /workspace/{ws}/create/fileshare/`, `fastio-api.md` §6.8).
#[derive(Debug, Clone, Default)]
pub struct FileShareParams {
    /// The file's node id.
    pub node: String,
    /// Link title (≤ 255 characters).
    pub title: Option<String>,
    /// Who may open it; Fast.io's default when `None`.
    pub access: Option<ShareAccess>,
    /// Link password (1–255 characters).
    pub password: Option<SecretString>,
    /// Expiry; none when `None`.
    pub expires: Option<Expiry>,
}

/// The file a share points at.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct SharedFile {
    /// Node id.
    #[serde(deserialize_with = "de::de_id")]
    pub id: String,
    /// File name.
    #[serde(default)]
    pub name: String,
    /// Size in bytes.
    #[serde(default, deserialize_with = "de::de_opt_u64")]
    pub size: Option<u64>,
}

/// A created File Share.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileShare {
    /// The share's 19-digit id.
    pub id: String,
    /// The public link, when Fast.io returns one (the field is unverified upstream).
    pub web_url: Option<String>,
    /// The shared file.
    pub file: Option<SharedFile>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn node_decodes_both_timestamp_formats_and_numeric_ids() {
        let node: Node = serde_json::from_value(json!({
            "id": 12345, "type": "file", "name": "a.csv", "parent": "root", "size": "10205",
            "mimetype": "text/csv", "created": "2026-05-18T19:26:25Z",
            "modified": "2026-05-18 19:26:37 UTC", "hash": "ab", "hash_algo": "sha256", "version": 7
        }))
        .expect("decodes");
        assert_eq!(node.id, "12345");
        assert_eq!(node.node_type, NodeType::File);
        assert_eq!(node.size, Some(10205));
        assert!(node.created.is_some() && node.modified.is_some());
        assert_eq!(node.version.as_deref(), Some("7"));
    }

    #[test]
    fn node_with_minimal_fields_decodes() {
        let node: Node = serde_json::from_value(json!({"id": "x", "type": "widget", "size": null}))
            .expect("decodes");
        assert_eq!(node.node_type, NodeType::Other("widget".into()));
        assert_eq!(node.size, None);
    }

    #[test]
    fn page_size_rounds_up_to_an_accepted_value() {
        assert_eq!(PageSize::at_least(1).get(), 100);
        assert_eq!(PageSize::at_least(101).get(), 250);
        assert_eq!(PageSize::at_least(10_000).get(), 500);
    }
}

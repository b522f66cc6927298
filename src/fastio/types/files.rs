//! Records of file management (`fastio-api.md` §6.5, §6.6, §6.9, §6.10): versions, search hits
//! and pages, preview states and types, token URLs and image transform parameters. Decoding is
//! by hand where the contract says the field names vary (version ids, search entries).

use std::collections::BTreeMap;
use std::fmt;

use chrono::{DateTime, Utc};
use serde::de::{IgnoredAny, MapAccess};
use serde::{Deserialize, Deserializer};
use serde_json::Value;

use super::super::de;
use super::{Node, NodeType};

/// One version of a file (`GET …/versions/`, §6.9). Only `id` is verified upstream; the rest
/// is read when present.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Version {
    /// Opaque version id (never parsed): `id`, else `version_id`, else `version`.
    pub id: String,
    /// File name at that version.
    pub name: Option<String>,
    /// Size in bytes.
    pub size: Option<u64>,
    /// MIME type.
    pub mimetype: Option<String>,
    /// Content hash, hex.
    pub hash: Option<String>,
    /// Algorithm of `hash`.
    pub hash_algo: Option<String>,
    /// When the version was made: `created`, else `modified`/`updated`, either format.
    pub created: Option<DateTime<Utc>>,
    /// User id of whoever made it.
    pub creator: Option<String>,
    /// Whether this is the node's current version.
    pub current: bool,
}

impl Version {
    /// Reads one entry of a `versions` list; `None` when it has no id.
    pub(crate) fn from_value(v: &Value) -> Option<Self> {
        let text = |k: &str| v.get(k).and_then(de::id);
        let id = ["id", "version_id", "version"]
            .iter()
            .find_map(|k| text(k))?;
        Some(Version {
            id,
            name: text("name"),
            size: v.get("size").and_then(de::u64_lenient),
            mimetype: text("mimetype"),
            hash: text("hash"),
            hash_algo: text("hash_algo"),
            created: ["created", "modified", "updated"]
                .iter()
                .find_map(|k| v.get(*k).and_then(de::timestamp)),
            creator: text("creator"),
            current: v.get("current").and_then(de::flag).unwrap_or(false),
        })
    }
}

/// A name search (`GET /workspace/{ws}/storage/search/`, §6.6).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchQuery {
    /// The text to find: 2–1,000 characters (checked before sending).
    pub query: String,
    /// Hits per page, 1–500.
    pub limit: u32,
    /// Hits to skip.
    pub offset: u64,
    /// Ask for full nodes with each hit (`details=true`; usually answered in shape B).
    pub details: bool,
}

impl SearchQuery {
    /// The first page of up to `limit` hits for `query`.
    pub fn new(query: impl Into<String>, limit: u32) -> Self {
        SearchQuery {
            query: query.into(),
            limit,
            offset: 0,
            details: false,
        }
    }
}

/// One search hit, normalised from either response shape (§6.6).
#[derive(Debug, Clone, PartialEq)]
pub struct SearchHit {
    /// Node id: the map key (shape A), else `node_id`, else `node.id`.
    pub id: String,
    /// Node name.
    pub name: String,
    /// Parent folder id (`root` at the top), when known.
    pub parent_id: Option<String>,
    /// File, folder, note or link.
    pub node_type: NodeType,
    /// Relevance 0–1, when sent.
    pub score: Option<f64>,
    /// Matched passage (`content_snippet` or `content`), when sent.
    pub snippet: Option<String>,
    /// The full node (`details=true`), when sent.
    pub node: Option<Node>,
}

/// One page of search hits. Trashed nodes are already dropped (keyword search returns them).
#[derive(Debug, Clone, PartialEq)]
pub struct SearchPage {
    /// The hits: in the server's order for an array answer, by name for a map answer (a JSON
    /// map carries no order).
    pub hits: Vec<SearchHit>,
    /// Total matches, trashed ones included, when the server says.
    pub total: Option<u64>,
    /// The `offset` of the next page; `None` on the last page. From `pagination.has_more`,
    /// else `total`, else "a full page means more".
    pub next_offset: Option<u64>,
}

/// Preview kinds (§6.10), the `{preview_type}` path segment and `previews` keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PreviewType {
    /// Unknown purpose (in the CLI's list only).
    Bin,
    /// A small still image.
    Thumbnail,
    /// The full-resolution image.
    Image,
    /// An HLS video stream.
    HlsStream,
    /// A PDF rendition.
    Pdf,
    /// A spreadsheet rendition.
    Spreadsheet,
    /// Audio.
    Audio,
    /// MP4 video.
    Mp4,
}

impl PreviewType {
    /// Every type, in the CLI's order.
    pub const ALL: [PreviewType; 8] = [
        PreviewType::Bin,
        PreviewType::Thumbnail,
        PreviewType::Image,
        PreviewType::HlsStream,
        PreviewType::Pdf,
        PreviewType::Spreadsheet,
        PreviewType::Audio,
        PreviewType::Mp4,
    ];

    /// The wire spelling (`hlsstream`, not `hls_stream`).
    pub fn as_str(self) -> &'static str {
        match self {
            PreviewType::Bin => "bin",
            PreviewType::Thumbnail => "thumbnail",
            PreviewType::Image => "image",
            PreviewType::HlsStream => "hlsstream",
            PreviewType::Pdf => "pdf",
            PreviewType::Spreadsheet => "spreadsheet",
            PreviewType::Audio => "audio",
            PreviewType::Mp4 => "mp4",
        }
    }

    fn parse(text: &str) -> Option<Self> {
        if let Some(kind) = Self::ALL.into_iter().find(|t| t.as_str() == text) {
            return Some(kind);
        }
        let text = text.to_ascii_lowercase().replace('_', "");
        Self::ALL.into_iter().find(|t| t.as_str() == text)
    }
}

/// The state of one preview (§6.10). Only [`PreviewState::Ready`] can be fetched.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum PreviewState {
    /// `unknown`, or not reported.
    #[default]
    Unknown,
    /// `not possible`: the type does not apply to this file.
    NotPossible,
    /// `not generated` yet.
    NotGenerated,
    /// `in progress`.
    InProgress,
    /// `ready`: fetchable.
    Ready,
    /// `error` (also read from `failed`): generation failed, e.g. an image over the limits.
    Error,
    /// A state this client does not know, verbatim.
    Other(String),
}

impl PreviewState {
    /// A state written as text, in any case and with `_` or `-` for the spaces.
    fn from_text(text: &str) -> Self {
        if let Some(known) = Self::known(text) {
            return known;
        }
        let raw = text.trim().to_ascii_lowercase().replace(['_', '-'], " ");
        Self::known(&raw).unwrap_or(PreviewState::Other(raw))
    }

    /// The state a canonical spelling names.
    fn known(text: &str) -> Option<Self> {
        Some(match text {
            "unknown" | "" => PreviewState::Unknown,
            "not possible" => PreviewState::NotPossible,
            "not generated" => PreviewState::NotGenerated,
            "in progress" | "inprogress" => PreviewState::InProgress,
            "ready" => PreviewState::Ready,
            "error" | "failed" => PreviewState::Error,
            _ => return None,
        })
    }

    /// Whether the preview may still become ready (not generated or in progress).
    pub fn is_pending(&self) -> bool {
        matches!(self, PreviewState::NotGenerated | PreviewState::InProgress)
    }
}

/// A node's preview states (`previews` on a node, §6.2), `{state}` or `{ready}` per type.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Previews(pub BTreeMap<PreviewType, PreviewState>);

impl Previews {
    /// The state of one type ([`PreviewState::Unknown`] when not reported).
    pub fn get(&self, kind: PreviewType) -> PreviewState {
        self.0.get(&kind).cloned().unwrap_or_default()
    }
}

impl<'de> Deserialize<'de> for Previews {
    /// A map of type → state; anything else reads as no previews.
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        de::lenient_object(d)
    }
}

impl<'de> de::LenientObject<'de> for Previews {
    fn field<A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> Result<(), A::Error> {
        match PreviewType::parse(key) {
            Some(kind) => {
                self.0.insert(kind, map.next_value()?);
            }
            None => {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(())
    }
}

impl<'de> Deserialize<'de> for PreviewState {
    /// `{"state": …}` (which wins), `{"ready": bool}`, a bare state string or `true`.
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let wire: PreviewWire = de::lenient_object(d)?;
        Ok(wire
            .state
            .or_else(|| (wire.ready == Some(true)).then_some(PreviewState::Ready))
            .unwrap_or(wire.bare))
    }
}

/// What one preview entry says on the wire, before [`PreviewState`] is decided from it.
#[derive(Default)]
struct PreviewWire {
    state: Option<PreviewState>,
    ready: Option<bool>,
    /// The state given as a bare value instead of an object.
    bare: PreviewState,
}

impl<'de> de::LenientObject<'de> for PreviewWire {
    fn field<A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> Result<(), A::Error> {
        match key {
            "state" => self.state = Some(map.next_value()?),
            "ready" => self.ready = map.next_value::<de::Scalar<'de>>()?.flag(),
            _ => {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(())
    }

    fn not_an_object(value: de::Scalar<'de>) -> Self {
        let bare = match value {
            de::Scalar::Text(s) => PreviewState::from_text(&s),
            de::Scalar::Bool(true) => PreviewState::Ready,
            _ => PreviewState::Unknown,
        };
        PreviewWire {
            bare,
            ..PreviewWire::default()
        }
    }
}

/// A URL whose path or query carries a short-lived token (a preview or transform read). It is
/// a secret while it lives: `Debug` hides it, and it must never be logged.
#[derive(Clone, PartialEq, Eq)]
pub struct TokenUrl {
    pub(crate) url: String,
    /// The file name Fast.io suggests (`primaryFilename`), when it sent one.
    pub filename: Option<String>,
}

impl TokenUrl {
    /// The absolute URL, to fetch without credentials or to hand to a browser.
    pub fn as_str(&self) -> &str {
        &self.url
    }
}

impl fmt::Debug for TokenUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenUrl")
            .field("url", &"[REDACTED]")
            .field("filename", &self.filename)
            .finish()
    }
}

/// Output format of an image transform (lowercase on the wire; no WebP).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputFormat {
    /// PNG.
    Png,
    /// JPEG (`jpg`).
    Jpg,
}

/// A preset size of an image transform, sent with the exact spelling.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SizePreset {
    /// `IconTiny`.
    IconTiny,
    /// `IconSmall`.
    IconSmall,
    /// `IconMedium`.
    IconMedium,
    /// `Preview`.
    Preview,
}

impl SizePreset {
    /// The wire value.
    pub fn as_str(self) -> &'static str {
        match self {
            SizePreset::IconTiny => "IconTiny",
            SizePreset::IconSmall => "IconSmall",
            SizePreset::IconMedium => "IconMedium",
            SizePreset::Preview => "Preview",
        }
    }
}

/// A crop rectangle; every value must be positive (so an offset of 0 cannot be sent, §6.10).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Crop {
    /// Left offset, px.
    pub x: u32,
    /// Top offset, px.
    pub y: u32,
    /// Width, px.
    pub width: u32,
    /// Height, px.
    pub height: u32,
}

/// Image transform parameters (§6.10). Unset fields are left out of the URL (an empty value
/// gives 400 upstream).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TransformParams {
    /// `output-format`; the source type when `None`.
    pub output_format: Option<OutputFormat>,
    /// Width in px, > 0.
    pub width: Option<u32>,
    /// Height in px, > 0.
    pub height: Option<u32>,
    /// A preset size.
    pub size: Option<SizePreset>,
    /// A crop.
    pub crop: Option<Crop>,
    /// Clockwise degrees: 0, 90, 180 or 270.
    pub rotate: Option<u16>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn versions_read_the_id_and_time_from_any_documented_key() {
        let a = Version::from_value(&json!({"id": "v2", "version": "v2", "current": true,
                                            "created": "2026-05-18 19:30:02 UTC", "size": "11"}))
        .expect("version");
        assert_eq!((a.id.as_str(), a.size, a.current), ("v2", Some(11), true));
        assert!(a.created.is_some());
        let b = Version::from_value(&json!({"version_id": 7, "modified": "2026-05-18T19:26:25Z"}))
            .expect("version");
        assert_eq!(b.id, "7");
        assert!(b.created.is_some() && !b.current);
        assert!(Version::from_value(&json!({"size": 1})).is_none());
    }

    #[test]
    fn preview_states_decode_full_terse_and_spelling_variants() {
        let p: Previews = serde_json::from_value(json!({
            "thumbnail": {"state": "ready"}, "image": {"state": "in progress"},
            "pdf": {"state": "not possible"}, "hls_stream": {"ready": false},
            "mp4": {"ready": true}, "audio": {"state": "failed"}, "widget": {"state": "ready"}
        }))
        .expect("previews");
        assert_eq!(p.get(PreviewType::Thumbnail), PreviewState::Ready);
        assert!(p.get(PreviewType::Image).is_pending());
        assert_eq!(p.get(PreviewType::Pdf), PreviewState::NotPossible);
        assert_eq!(p.get(PreviewType::HlsStream), PreviewState::Unknown);
        assert_eq!(p.get(PreviewType::Mp4), PreviewState::Ready);
        assert_eq!(p.get(PreviewType::Audio), PreviewState::Error);
        assert_eq!(p.get(PreviewType::Spreadsheet), PreviewState::Unknown);
        let none: Previews = serde_json::from_value(json!(null)).expect("null");
        assert!(none.0.is_empty());
    }

    #[test]
    fn a_token_url_never_shows_in_debug() {
        let url = TokenUrl {
            url: "http://x/read/secret-token/file/a.png".into(),
            filename: Some("a.png".into()),
        };
        assert!(!format!("{url:?}").contains("secret-token"));
    }
}

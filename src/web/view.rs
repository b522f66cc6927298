//! The listing as the gateway shows it: ONE data struct, [`Listing`], serialised as the JSON of
//! `GET /api/files/…` and turned into the browse page's rows, so both always agree (dufs' habit).
//! Also the validated listing query (`limit`, `sort`, `order`, `cursor`) shared by both routes,
//! and the JSON shape of form-action results.

use axum::Json;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::web::error::AppError;

/// One folder's page of children, as `GET /api/files/{workspace}/{folder}` answers it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Listing {
    /// Workspace id.
    pub workspace: String,
    /// The folder listed.
    pub folder: FolderRef,
    /// Its children in Fast.io's order for the requested sort (so paging gives every item once;
    /// the browse page groups folders first within the page it shows).
    pub items: Vec<Entry>,
    /// Opaque cursor of the next page, `null` on the last one.
    pub next_cursor: Option<String>,
}

/// Written as `application/json` into a buffer sized for the page at once: a 500-item page is
/// ~80 KB, which axum's `Json` reaches from 128 bytes by ten reallocations and copies.
impl IntoResponse for Listing {
    fn into_response(self) -> Response {
        /// What one entry takes as written (~170 bytes for a file), with room to spare.
        const ENTRY_BYTES: usize = 192;
        let mut body = Vec::with_capacity(256 + ENTRY_BYTES * self.items.len());
        match serde_json::to_writer(&mut body, &self) {
            Ok(()) => ([(header::CONTENT_TYPE, "application/json")], body).into_response(),
            Err(e) => AppError::Internal(format!("writing the listing: {e}")).into_response(),
        }
    }
}

/// A folder's id and name (`root` and the workspace's name for the root).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct FolderRef {
    /// Folder id, or `root`.
    pub id: String,
    /// Display name.
    pub name: String,
}

/// One child of a folder.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Entry {
    /// Node id.
    pub id: String,
    /// Node name (shown escaped, always).
    pub name: String,
    /// File or folder.
    #[serde(rename = "type")]
    pub kind: EntryKind,
    /// Size in bytes; `null` for folders unless upstream reports one.
    pub size: Option<u64>,
    /// MIME type of files.
    pub mime: Option<String>,
    /// Creation time (RFC 3339 in JSON).
    #[serde(serialize_with = "rfc3339")]
    pub created: Option<DateTime<Utc>>,
    /// Last modification time (RFC 3339 in JSON).
    #[serde(serialize_with = "rfc3339")]
    pub modified: Option<DateTime<Utc>>,
}

/// A time as chrono writes it (`2026-05-18T19:26:25Z`), with whole seconds — what a listing
/// carries hundreds of — formatted by hand: chrono's formatter costs a microsecond each.
fn rfc3339<S: serde::Serializer>(time: &Option<DateTime<Utc>>, s: S) -> Result<S::Ok, S::Error> {
    use chrono::{Datelike as _, Timelike as _};
    let Some(time) = time else {
        return s.serialize_none();
    };
    // The fields are read off the naive UTC time: `DateTime`'s own accessors add the (zero)
    // offset again for each one.
    let t = time.naive_utc();
    if t.nanosecond() != 0 || !(0..=9999).contains(&t.year()) {
        return s.serialize_some(time);
    }
    let mut out = *b"0000-00-00T00:00:00Z";
    let mut put = |at: usize, width: usize, mut n: u32| {
        for i in (at..at + width).rev() {
            out[i] = b'0' + (n % 10) as u8;
            n /= 10;
        }
    };
    put(0, 4, t.year().unsigned_abs());
    put(5, 2, t.month());
    put(8, 2, t.day());
    put(11, 2, t.hour());
    put(14, 2, t.minute());
    put(17, 2, t.second());
    s.serialize_some(std::str::from_utf8(&out).unwrap_or_default())
}

/// What a listed node is (Fast.io notes and links are shown as files).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum EntryKind {
    /// A file.
    File,
    /// A folder.
    Folder,
}

impl Listing {
    /// A listing of `items` in the order given (the upstream sort order).
    pub fn new(
        workspace: String,
        folder: FolderRef,
        items: Vec<Entry>,
        next_cursor: Option<String>,
    ) -> Self {
        Self {
            workspace,
            folder,
            items,
            next_cursor,
        }
    }
}

/// Sort keys Fast.io can sort a listing by (`fastio-api.md` §6.3).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SortKey {
    /// By name (default).
    #[default]
    Name,
    /// By last modification.
    Modified,
    /// By creation.
    Created,
    /// By type.
    Type,
}

/// Sort direction.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SortOrder {
    /// Ascending (default).
    #[default]
    Asc,
    /// Descending.
    Desc,
}

impl SortKey {
    /// Every key, in column order.
    pub const ALL: [SortKey; 4] = [
        SortKey::Name,
        SortKey::Modified,
        SortKey::Created,
        SortKey::Type,
    ];

    /// The query-string spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Name => "name",
            Self::Modified => "modified",
            Self::Created => "created",
            Self::Type => "type",
        }
    }

    /// The order a first click on this column's header gives: newest first for times.
    pub fn natural_order(self) -> SortOrder {
        match self {
            Self::Modified | Self::Created => SortOrder::Desc,
            Self::Name | Self::Type => SortOrder::Asc,
        }
    }
}

impl SortOrder {
    /// The query-string spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Asc => "asc",
            Self::Desc => "desc",
        }
    }

    /// The other direction.
    pub fn flip(self) -> Self {
        match self {
            Self::Asc => Self::Desc,
            Self::Desc => Self::Asc,
        }
    }
}

/// The raw listing query; every field a string so that bad input becomes our JSON 400, not a
/// framework rejection.
#[derive(Clone, Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// 1–500, default 100.
    #[param(value_type = Option<u32>, minimum = 1, maximum = 500)]
    pub limit: Option<String>,
    /// `name|modified|created|type`.
    #[param(value_type = Option<String>, pattern = "^(name|modified|created|type)$")]
    pub sort: Option<String>,
    /// `asc|desc` (default: newest first for times, else ascending).
    #[param(value_type = Option<String>, pattern = "^(asc|desc)$")]
    pub order: Option<String>,
    /// Opaque cursor from a previous page.
    pub cursor: Option<String>,
}

/// A validated [`ListQuery`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListParams {
    /// Items per page, 1–500.
    pub limit: u32,
    /// Sort key.
    pub sort: SortKey,
    /// Sort direction (default: the key's natural order).
    pub order: SortOrder,
    /// Cursor of the page to show, if not the first.
    pub cursor: Option<String>,
}

/// Default items per page.
pub const DEFAULT_LIMIT: u32 = 100;
/// Most items per page.
pub const MAX_LIMIT: u32 = 500;

impl ListQuery {
    /// Checks every field; the first bad one is a 400 naming it.
    pub fn validate(self) -> Result<ListParams, AppError> {
        let limit = match self.limit.as_deref().filter(|s| !s.is_empty()) {
            None => DEFAULT_LIMIT,
            Some(s) => s
                .parse::<u32>()
                .ok()
                .filter(|n| (1..=MAX_LIMIT).contains(n))
                .ok_or_else(|| AppError::BadRequest(format!("limit must be 1–{MAX_LIMIT}")))?,
        };
        let sort = match self.sort.as_deref().filter(|s| !s.is_empty()) {
            None => SortKey::default(),
            Some(s) => SortKey::ALL
                .into_iter()
                .find(|k| k.as_str() == s)
                .ok_or_else(|| {
                    AppError::BadRequest("sort must be name, modified, created or type".into())
                })?,
        };
        let order = match self.order.as_deref().filter(|s| !s.is_empty()) {
            None => sort.natural_order(),
            Some("asc") => SortOrder::Asc,
            Some("desc") => SortOrder::Desc,
            Some(_) => return Err(AppError::BadRequest("order must be asc or desc".into())),
        };
        let cursor = self.cursor.filter(|c| !c.is_empty());
        if cursor.as_ref().is_some_and(|c| c.len() > 2048) {
            return Err(AppError::BadRequest("cursor is too long".into()));
        }
        Ok(ListParams {
            limit,
            sort,
            order,
            cursor,
        })
    }
}

/// The JSON answer of a form action called with `Accept: application/json` (SvelteKit's
/// convention): `{"type": "success"|"failure", "status": 200|4xx|5xx, "data": {...}}`.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct ActionResult<T> {
    /// `success` or `failure`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// The HTTP status, repeated in the body.
    pub status: u16,
    /// Action-specific data (per-file outcomes, the folder made, the share link…).
    pub data: T,
}

impl<T: Serialize> ActionResult<T> {
    /// A 200 success.
    pub fn success(data: T) -> Self {
        Self {
            kind: "success",
            status: 200,
            data,
        }
    }

    /// A failure with its status (4xx for the user's input, 5xx for ours or upstream's).
    pub fn failure(status: StatusCode, data: T) -> Self {
        Self {
            kind: "failure",
            status: status.as_u16(),
            data,
        }
    }
}

impl<T: Serialize> IntoResponse for ActionResult<T> {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        (status, Json(self)).into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(name: &str, kind: EntryKind) -> Entry {
        Entry {
            id: format!("id-{name}"),
            name: name.into(),
            kind,
            size: (kind == EntryKind::File).then_some(10),
            mime: None,
            created: None,
            modified: "2026-05-18T19:26:25Z".parse().ok(),
        }
    }

    #[test]
    fn times_are_written_as_chrono_writes_them() {
        for text in [
            "2026-05-18T19:26:25Z",
            "0999-01-02T03:04:05Z",
            "2026-05-18T19:26:25.250Z",
            "2026-12-31T23:59:59.000000001Z",
        ] {
            let time: DateTime<Utc> = text.parse().expect("time");
            let mut e = entry("t", EntryKind::File);
            e.created = Some(time);
            let json = serde_json::to_value(&e).expect("json");
            assert_eq!(
                json["created"],
                serde_json::to_value(time).expect("chrono"),
                "{text}"
            );
            assert_eq!(json["modified"], "2026-05-18T19:26:25Z");
        }
        let json = serde_json::to_value(entry("t", EntryKind::File)).expect("json");
        assert!(json["created"].is_null());
    }

    #[test]
    fn items_keep_the_upstream_order() {
        let l = Listing::new(
            "ws".into(),
            FolderRef {
                id: "root".into(),
                name: "Home".into(),
            },
            vec![
                entry("b.txt", EntryKind::File),
                entry("Zeta", EntryKind::Folder),
                entry("a.txt", EntryKind::File),
                entry("Alpha", EntryKind::Folder),
            ],
            None,
        );
        let names: Vec<&str> = l.items.iter().map(|e| e.name.as_str()).collect();
        assert_eq!(names, ["b.txt", "Zeta", "a.txt", "Alpha"]);
    }

    #[test]
    fn json_has_the_contract_shape() {
        let l = Listing::new(
            "ws".into(),
            FolderRef {
                id: "root".into(),
                name: "Home".into(),
            },
            vec![
                entry("Docs", EntryKind::Folder),
                entry("a.txt", EntryKind::File),
            ],
            Some("c1".into()),
        );
        let v = serde_json::to_value(&l).expect("json");
        assert_eq!(
            v,
            serde_json::json!({
                "workspace": "ws",
                "folder": {"id": "root", "name": "Home"},
                "items": [
                    {"id": "id-Docs", "name": "Docs", "type": "folder", "size": null, "mime": null,
                     "created": null, "modified": "2026-05-18T19:26:25Z"},
                    {"id": "id-a.txt", "name": "a.txt", "type": "file", "size": 10, "mime": null,
                     "created": null, "modified": "2026-05-18T19:26:25Z"}
                ],
                "next_cursor": "c1"
            })
        );
    }

    fn q(limit: Option<&str>, sort: Option<&str>, order: Option<&str>) -> ListQuery {
        ListQuery {
            limit: limit.map(Into::into),
            sort: sort.map(Into::into),
            order: order.map(Into::into),
            cursor: None,
        }
    }

    #[test]
    fn query_defaults_and_ranges() {
        let p = q(None, None, None).validate().expect("defaults");
        assert_eq!(
            (p.limit, p.sort, p.order),
            (100, SortKey::Name, SortOrder::Asc)
        );
        let p = q(Some("500"), Some("modified"), None)
            .validate()
            .expect("ok");
        assert_eq!(
            (p.limit, p.sort, p.order),
            (500, SortKey::Modified, SortOrder::Desc)
        );
        for bad in [
            q(Some("0"), None, None),
            q(Some("501"), None, None),
            q(Some("x"), None, None),
        ] {
            assert!(matches!(bad.validate(), Err(AppError::BadRequest(_))));
        }
        assert!(q(None, Some("size"), None).validate().is_err());
        assert!(q(None, None, Some("up")).validate().is_err());
    }

    #[test]
    fn action_results_have_the_sveltekit_shape() {
        let ok =
            serde_json::to_value(ActionResult::success(serde_json::json!({"n": 1}))).expect("json");
        assert_eq!(
            ok,
            serde_json::json!({"type": "success", "status": 200, "data": {"n": 1}})
        );
        let r = ActionResult::failure(StatusCode::PAYLOAD_TOO_LARGE, ()).into_response();
        assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE);
    }
}

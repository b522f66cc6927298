//! Storage nodes in SQLite (§6.2): rows, queries, keyset listing and the JSON node object.
//!
//! Listing uses keyset cursors (the last row's sort key and id), so pages stay complete and in
//! order while other requests add or remove nodes (§6.3).

use rusqlite::{Connection, OptionalExtension, Row};
use serde_json::{Map, Value, json};

use crate::emulator::transport::error::ApiError;
use crate::emulator::transport::ids;

/// One node row.
#[derive(Debug, Clone)]
pub struct NodeRow {
    pub id: String,
    pub workspace_id: String,
    pub parent: String,
    pub kind: String,
    pub name: String,
    pub size: u64,
    pub mimetype: Option<String>,
    pub hash: Option<String>,
    pub blob: Option<String>,
    pub version: String,
    pub created: String,
    pub updated: String,
    pub deleted: bool,
    pub deleted_from: Option<String>,
    pub origin_type: Option<String>,
    pub upload_session: Option<String>,
    /// Preview states as a JSON object (`previews.rs`); `None` for rows older than previews.
    pub previews: Option<String>,
    /// What AI indexing recorded (`ai/indexing.rs`); written only by the indexer.
    pub ai: AiMark,
}

/// The AI indexing record of a node (§6.2 `ai`): the state and summary of the version it was
/// made for. A record of another version (or none) reads as `pending` for a file AI can read:
/// new content is pending until the indexer takes it.
#[derive(Debug, Clone, Default)]
pub struct AiMark {
    /// `pending`, `in_progress`, `ready`, `failed` or `disabled`.
    pub state: Option<String>,
    /// The node version the state belongs to.
    pub version: Option<String>,
    /// An extractive summary (the document's opening words), once `ready`.
    pub summary: Option<String>,
}

/// What AI indexing reads a file as (`ai/extract.rs`); `None` (media, images, archives,
/// binaries) means `ai.state` `disabled`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DocKind {
    /// Text per page (`pdf-extract`).
    Pdf,
    /// Word paragraphs and tables (`word/document.xml`).
    Docx,
    /// CommonMark.
    Markdown,
    /// HTML, as text.
    Html,
    /// One passage per row, `column: value; …`.
    Csv,
    /// Plain text and source code.
    Text,
}

const TEXT_EXTENSIONS: [&str; 40] = [
    "txt", "text", "log", "rs", "py", "js", "mjs", "ts", "tsx", "jsx", "go", "java", "kt", "c",
    "h", "cc", "cpp", "hpp", "cs", "rb", "php", "sh", "bash", "toml", "yaml", "yml", "json", "xml",
    "ini", "cfg", "conf", "sql", "css", "scss", "swift", "scala", "lua", "pl", "r", "tex",
];

/// The document kind of a file named `name` with MIME type `mime`: the extension first, then
/// the MIME type.
pub fn doc_kind(name: &str, mime: &str) -> Option<DocKind> {
    let ext = name
        .rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())
        .unwrap_or_default();
    match ext.as_str() {
        "pdf" => return Some(DocKind::Pdf),
        "docx" => return Some(DocKind::Docx),
        "md" | "markdown" => return Some(DocKind::Markdown),
        "html" | "htm" | "xhtml" => return Some(DocKind::Html),
        "csv" => return Some(DocKind::Csv),
        e if TEXT_EXTENSIONS.contains(&e) => return Some(DocKind::Text),
        _ => {}
    }
    match mime {
        "application/pdf" => Some(DocKind::Pdf),
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document" => {
            Some(DocKind::Docx)
        }
        "text/markdown" => Some(DocKind::Markdown),
        "text/html" => Some(DocKind::Html),
        "text/csv" => Some(DocKind::Csv),
        "application/json" | "application/xml" => Some(DocKind::Text),
        m if m.starts_with("text/") => Some(DocKind::Text),
        _ => None,
    }
}

/// The node's AI state as answered: the indexer's record for the current version, else
/// `pending` for a file AI can read and `disabled` for anything else (folders included).
pub fn ai_state(n: &NodeRow) -> &str {
    if n.kind != "file" {
        return "disabled";
    }
    match (&n.ai.state, &n.ai.version) {
        (Some(s), Some(v)) if *v == n.version => s,
        _ if doc_kind(&n.name, n.mimetype.as_deref().unwrap_or_default()).is_some() => "pending",
        _ => "disabled",
    }
}

/// The `ai` object (§6.2): `{state}` at standard, `{state, attach, summary}` at full. `attach`
/// (usable as a chat attachment) is true for every file AI can read; `summary` is set once
/// `ready`.
fn ai_json(n: &NodeRow, out: Output) -> Value {
    let state = ai_state(n);
    if out != Output::Full {
        return json!({"state": state});
    }
    let attach =
        n.kind == "file" && doc_kind(&n.name, n.mimetype.as_deref().unwrap_or_default()).is_some();
    let summary = match (state, &n.ai.version) {
        ("ready", Some(v)) if *v == n.version => n.ai.summary.clone(),
        _ => None,
    };
    json!({"state": state, "attach": attach, "summary": summary})
}

const INSERT_COLS: &str = "id, workspace_id, parent, type, name, size, mimetype, hash, blob, \
    version, created, updated, deleted, deleted_from, origin_type, upload_session, previews";

const COLS: &str = "id, workspace_id, parent, type, name, size, mimetype, hash, blob, version, \
    created, updated, deleted, deleted_from, origin_type, upload_session, previews, ai_state, \
    ai_version, ai_summary";

fn from_row(r: &Row<'_>) -> rusqlite::Result<NodeRow> {
    Ok(NodeRow {
        id: r.get(0)?,
        workspace_id: r.get(1)?,
        parent: r.get(2)?,
        kind: r.get(3)?,
        name: r.get(4)?,
        size: r.get::<_, i64>(5)? as u64,
        mimetype: r.get(6)?,
        hash: r.get(7)?,
        blob: r.get(8)?,
        version: r.get(9)?,
        created: r.get(10)?,
        updated: r.get(11)?,
        deleted: r.get::<_, i64>(12)? != 0,
        deleted_from: r.get(13)?,
        origin_type: r.get(14)?,
        upload_session: r.get(15)?,
        previews: r.get(16)?,
        ai: AiMark {
            state: r.get(17)?,
            version: r.get(18)?,
            summary: r.get(19)?,
        },
    })
}

/// How much each node carries (`?output=`, §1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Output {
    Terse,
    Standard,
    Full,
}

impl Output {
    /// Parses `output`; absent means `full`, two levels give 400.
    pub fn parse(raw: Option<&str>) -> Result<Self, ApiError> {
        let Some(raw) = raw else {
            return Ok(Self::Full);
        };
        let mut level = None;
        for part in raw.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let l = match part {
                "terse" => Self::Terse,
                "standard" => Self::Standard,
                "full" => Self::Full,
                "markdown" => return Err(ApiError::invalid("markdown output is not emulated")),
                _ => return Err(ApiError::invalid(format!("unknown output level {part}"))),
            };
            if level.replace(l).is_some() {
                return Err(ApiError::invalid("only one output level may be given"));
            }
        }
        Ok(level.unwrap_or(Self::Full))
    }
}

/// The node object at an output level (§6.2).
pub fn node_json(n: &NodeRow, out: Output, web_base: &str) -> Value {
    let mut v = json!({
        "id": n.id, "type": n.kind, "name": n.name, "parent": n.parent,
        "modified": n.updated, "previews": render_previews(n, out),
    });
    if n.kind == "file" {
        v["size"] = json!(n.size);
        let mime = n
            .mimetype
            .clone()
            .unwrap_or_else(|| "application/octet-stream".into());
        v["mimecategory"] = json!(mime.split('/').next().unwrap_or("application"));
        v["mimetype"] = json!(mime);
    }
    if out == Output::Terse {
        return v;
    }
    v["version"] = json!(n.version);
    v["created"] = json!(n.created);
    v["updated"] = json!(n.updated);
    v["locked"] = json!(false);
    v["restricted"] = json!(false);
    v["deleted"] = json!(n.deleted);
    v["deleted_from"] = json!(n.deleted_from);
    v["origin"] = json!({"type": n.origin_type.clone().unwrap_or_else(|| "upload".into())});
    v["ai"] = ai_json(n, out);
    if out == Output::Full {
        if n.kind == "file" {
            v["hash"] = json!(n.hash);
            v["hash_algo"] = json!("sha256");
        }
        v["origin"]["upload_session_id"] = json!(n.upload_session);
        v["web_url"] = json!(format!("{web_base}/workspace/{}/{}", n.workspace_id, n.id));
    }
    v
}

/// A node by id in a workspace (including trashed ones).
pub fn get(c: &Connection, ws: &str, id: &str) -> Result<Option<NodeRow>, ApiError> {
    Ok(c.query_row(
        &format!("SELECT {COLS} FROM nodes WHERE workspace_id = ?1 AND id = ?2"),
        (ws, id),
        from_row,
    )
    .optional()?)
}

/// `id` and every node below it (following parent links; nodes trashed on their own before
/// point at `trash` and are not included), `id` first.
pub fn subtree(c: &Connection, ws: &str, id: &str) -> Result<Vec<String>, ApiError> {
    let mut stmt = c.prepare(
        "WITH RECURSIVE sub(id) AS (SELECT ?2 UNION ALL \
         SELECT n.id FROM nodes n JOIN sub ON n.parent = sub.id WHERE n.workspace_id = ?1) \
         SELECT id FROM sub",
    )?;
    let ids = stmt
        .query_map((ws, id), |r| r.get::<_, String>(0))?
        .collect::<Result<_, _>>()?;
    Ok(ids)
}

/// Whether `node` is `ancestor` or lies below it.
pub fn is_within(c: &Connection, ws: &str, node: &str, ancestor: &str) -> Result<bool, ApiError> {
    let mut cur = node.to_owned();
    for _ in 0..10_000 {
        if cur == ancestor {
            return Ok(true);
        }
        match get(c, ws, &cur)? {
            Some(n) if n.parent != cur => cur = n.parent,
            _ => return Ok(false),
        }
    }
    Ok(false)
}

/// Resolves a folder reference (`root` or a live folder id) or fails with 404.
pub fn resolve_folder(c: &Connection, ws: &str, folder: &str) -> Result<String, ApiError> {
    if folder == "root" || folder.is_empty() {
        return Ok("root".into());
    }
    match get(c, ws, folder)? {
        Some(n) if n.kind == "folder" && !n.deleted => Ok(n.id),
        _ => Err(ApiError::not_found(format!("folder {folder} not found"))),
    }
}

/// The live child of `parent` named `name` (case-insensitive), if any.
pub fn child_named(
    c: &Connection,
    ws: &str,
    parent: &str,
    name: &str,
) -> Result<Option<NodeRow>, ApiError> {
    Ok(c.query_row(
        &format!(
            "SELECT {COLS} FROM nodes WHERE workspace_id = ?1 AND parent = ?2 AND deleted = 0 \
                 AND lower(name) = lower(?3) LIMIT 1"
        ),
        (ws, parent, name),
        from_row,
    )
    .optional()?)
}

/// The live children of `parent`.
pub fn live_children(c: &Connection, ws: &str, parent: &str) -> Result<Vec<NodeRow>, ApiError> {
    let mut stmt = c.prepare(&format!(
        "SELECT {COLS} FROM nodes WHERE workspace_id = ?1 AND parent = ?2 AND deleted = 0"
    ))?;
    let rows = stmt
        .query_map((ws, parent), from_row)?
        .collect::<Result<_, _>>()?;
    Ok(rows)
}

/// Every node of a workspace, live and trashed, by name then id (search, §6.6).
pub fn all_in(c: &Connection, ws: &str) -> Result<Vec<NodeRow>, ApiError> {
    let mut stmt = c.prepare(&format!(
        "SELECT {COLS} FROM nodes WHERE workspace_id = ?1 ORDER BY lower(name), id"
    ))?;
    let rows = stmt.query_map([ws], from_row)?.collect::<Result<_, _>>()?;
    Ok(rows)
}

/// `name`, or `name (2)`, `name (3)`, … whichever is free in `parent`.
pub fn free_name(c: &Connection, ws: &str, parent: &str, name: &str) -> Result<String, ApiError> {
    if child_named(c, ws, parent, name)?.is_none() {
        return Ok(name.to_owned());
    }
    let (stem, ext) = match name.rfind('.') {
        Some(i) if i > 0 => (&name[..i], &name[i..]),
        _ => (name, ""),
    };
    for n in 2.. {
        let candidate = format!("{stem} ({n}){ext}");
        if child_named(c, ws, parent, &candidate)?.is_none() {
            return Ok(candidate);
        }
    }
    unreachable!("an unbounded range always finds a free name")
}

/// Inserts a new node row.
pub fn insert(c: &Connection, n: &NodeRow) -> Result<(), ApiError> {
    c.execute(
        &format!("INSERT INTO nodes({INSERT_COLS}) VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15,?16,?17)"),
        rusqlite::params![
            n.id, n.workspace_id, n.parent, n.kind, n.name, n.size as i64, n.mimetype, n.hash,
            n.blob, n.version, n.created, n.updated, n.deleted as i64, n.deleted_from,
            n.origin_type, n.upload_session, n.previews
        ],
    )?;
    Ok(())
}

/// A new folder row.
pub fn new_folder(ws: &str, parent: &str, name: &str) -> NodeRow {
    let now = ids::now();
    NodeRow {
        id: ids::opaque_id(),
        workspace_id: ws.into(),
        parent: parent.into(),
        kind: "folder".into(),
        name: name.into(),
        size: 0,
        mimetype: None,
        hash: None,
        blob: None,
        version: ids::opaque_id(),
        created: now.clone(),
        updated: now,
        deleted: false,
        deleted_from: None,
        origin_type: None,
        upload_session: None,
        previews: None,
        ai: AiMark::default(),
    }
}

/// Sort key of a listing (§6.3 `sort_by`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortBy {
    Name,
    Updated,
    Created,
    Type,
}

impl SortBy {
    /// Parses `sort_by` (default `name`).
    pub fn parse(raw: Option<&str>) -> Result<Self, ApiError> {
        match raw.unwrap_or("name") {
            "name" => Ok(Self::Name),
            "updated" | "modified" => Ok(Self::Updated),
            "created" => Ok(Self::Created),
            "type" => Ok(Self::Type),
            other => Err(ApiError::invalid(format!("invalid sort_by {other}"))),
        }
    }

    fn expr(self) -> &'static str {
        match self {
            Self::Name => "lower(name)",
            Self::Updated => "updated",
            Self::Created => "created",
            Self::Type => "type || '/' || lower(name)",
        }
    }

    fn tag(self) -> &'static str {
        match self {
            Self::Name => "n",
            Self::Updated => "u",
            Self::Created => "c",
            Self::Type => "t",
        }
    }
}

/// One page of children: nodes plus the next cursor.
pub struct Page {
    pub nodes: Vec<NodeRow>,
    pub next_cursor: Option<String>,
}

/// Lists live children of `parent` (or the top-level trashed nodes for `trash`), keyset-paged.
pub fn list(
    c: &Connection,
    ws: &str,
    parent: &str,
    sort: SortBy,
    desc: bool,
    page_size: usize,
    cursor: Option<&str>,
) -> Result<Page, ApiError> {
    let expr = sort.expr();
    let (cmp, dir) = if desc { ("<", "DESC") } else { (">", "ASC") };
    let scope = if parent == "trash" {
        "workspace_id = ?1 AND parent = ?2 AND deleted = 1"
    } else {
        "workspace_id = ?1 AND parent = ?2 AND deleted = 0"
    };
    let after = cursor.map(|c| decode_cursor(c, sort, desc)).transpose()?;
    let mut sql = format!("SELECT {COLS}, {expr} FROM nodes WHERE {scope}");
    if after.is_some() {
        sql.push_str(&format!(" AND ({expr}, id) {cmp} (?3, ?4)"));
    }
    sql.push_str(&format!(
        " ORDER BY {expr} {dir}, id {dir} LIMIT {}",
        page_size + 1
    ));
    let mut stmt = c.prepare(&sql)?;
    let map = |r: &Row<'_>| Ok((from_row(r)?, r.get::<_, String>(20)?));
    let rows: Vec<(NodeRow, String)> = match &after {
        Some((key, id)) => stmt
            .query_map((ws, parent, key, id), map)?
            .collect::<Result<_, _>>()?,
        None => stmt
            .query_map((ws, parent), map)?
            .collect::<Result<_, _>>()?,
    };
    let more = rows.len() > page_size;
    let mut nodes = Vec::with_capacity(page_size.min(rows.len()));
    let mut last = None;
    for (n, key) in rows.into_iter().take(page_size) {
        last = Some((key, n.id.clone()));
        nodes.push(n);
    }
    let next_cursor = match (more, last) {
        (true, Some((key, id))) => Some(encode_cursor(sort, desc, &key, &id)),
        _ => None,
    };
    Ok(Page { nodes, next_cursor })
}

fn encode_cursor(sort: SortBy, desc: bool, key: &str, id: &str) -> String {
    let raw = format!("{}{}:{id}:{key}", sort.tag(), if desc { "d" } else { "a" });
    hex::encode(raw)
}

fn decode_cursor(cursor: &str, sort: SortBy, desc: bool) -> Result<(String, String), ApiError> {
    let bad = || ApiError::invalid("invalid cursor");
    let raw = String::from_utf8(hex::decode(cursor).map_err(|_| bad())?).map_err(|_| bad())?;
    let mut it = raw.splitn(3, ':');
    let (Some(head), Some(id), Some(key)) = (it.next(), it.next(), it.next()) else {
        return Err(bad());
    };
    let want = format!("{}{}", sort.tag(), if desc { "d" } else { "a" });
    if head != want {
        return Err(ApiError::invalid("cursor does not match sort_by/sort_dir"));
    }
    Ok((key.to_owned(), id.to_owned()))
}

// The previews map of the node object (§6.2, §6.10): states as stored, rendered per output
// level. `previews.rs` makes the previews and moves these states on.

/// The keys of a node's `previews` map (all types but `bin`).
const PREVIEW_KEYS: [&str; 7] = [
    "thumbnail",
    "image",
    "pdf",
    "spreadsheet",
    "hlsstream",
    "mp4",
    "audio",
];

/// Preview states (§6.10) as stored and answered.
pub const NOT_GENERATED: &str = "not generated";
/// Being made.
pub const IN_PROGRESS: &str = "in progress";
/// Made and readable.
pub const READY: &str = "ready";
/// Could not be made (not an image, a bomb, a decoding error).
pub const ERROR: &str = "error";

/// The stored preview states of `n`, if any.
pub fn preview_states(n: &NodeRow) -> Option<Map<String, Value>> {
    match serde_json::from_str(n.previews.as_deref()?) {
        Ok(Value::Object(m)) => Some(m),
        _ => None,
    }
}

/// The state of one preview type of `n`.
pub fn state_of(n: &NodeRow, kind: &str) -> String {
    match preview_states(n) {
        None => "unknown".into(),
        Some(m) => m
            .get(kind)
            .and_then(Value::as_str)
            .unwrap_or("not possible")
            .to_owned(),
    }
}

/// The node's `previews` map at an output level (§6.2): `{state}` per type at standard and
/// full, `{ready}` at terse; folders have none.
pub fn render_previews(n: &NodeRow, out: Output) -> Value {
    if n.kind != "file" {
        return json!({});
    }
    let map: Map<String, Value> = PREVIEW_KEYS
        .iter()
        .map(|k| {
            let state = state_of(n, k);
            let v = if out == Output::Terse {
                json!({"ready": state == READY})
            } else {
                json!({"state": state})
            };
            ((*k).to_owned(), v)
        })
        .collect();
    Value::Object(map)
}

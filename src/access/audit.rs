//! The audit log: append-only rows of who did what, where, from which IP, in which request.
//! Read newest first in pages with a keyset cursor, or exported oldest first as a stream
//! (`?format=jsonl`).

use std::collections::VecDeque;
use std::fmt;
use std::str::FromStr;

use futures_util::stream::{self, BoxStream, StreamExt as _};
use serde::Serialize;

use super::{Access, Ctx, Error, Result, time};
use crate::db::{Row, Value};

/// What happened.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AuditAction {
    /// A user signed in.
    SignIn,
    /// A sign-in failed (wrong name or password, disabled, or throttled).
    SignInFailed,
    /// A user signed out.
    SignOut,
    /// An upload was stored (with size and SHA-256).
    UploadStored,
    /// An upload failed or was refused.
    UploadFailed,
    /// A folder was created.
    FolderCreated,
    /// A Fast.io share link was created.
    ShareCreated,
    /// An upload-request link was created.
    LinkCreated,
    /// An upload-request link took a submission.
    LinkUsed,
    /// An upload-request link was revoked.
    LinkRevoked,
    /// An API token was created.
    TokenCreated,
    /// An API token was revoked.
    TokenRevoked,
    /// A user was created.
    UserCreated,
    /// A user's role, grants, password or enabled state changed.
    UserChanged,
    /// A user was disabled.
    UserDisabled,
    /// The first admin was created through `/setup`.
    SetupCompleted,
    /// A file or folder was renamed.
    NodeRenamed,
    /// A file or folder was moved to another folder.
    NodeMoved,
    /// A file or folder was moved to the trash.
    NodeDeleted,
    /// A file or folder came back from the trash.
    NodeRestored,
    /// A trashed file or folder was removed for good.
    NodePurged,
    /// An older version of a file was made current.
    VersionRestored,
    /// A question was asked of the workspace's files (AI chat).
    QuestionAsked,
}

impl AuditAction {
    /// Every action.
    pub const ALL: [AuditAction; 23] = [
        Self::SignIn,
        Self::SignInFailed,
        Self::SignOut,
        Self::UploadStored,
        Self::UploadFailed,
        Self::FolderCreated,
        Self::ShareCreated,
        Self::LinkCreated,
        Self::LinkUsed,
        Self::LinkRevoked,
        Self::TokenCreated,
        Self::TokenRevoked,
        Self::UserCreated,
        Self::UserChanged,
        Self::UserDisabled,
        Self::SetupCompleted,
        Self::NodeRenamed,
        Self::NodeMoved,
        Self::NodeDeleted,
        Self::NodeRestored,
        Self::NodePurged,
        Self::VersionRestored,
        Self::QuestionAsked,
    ];

    /// The snake_case word stored and shown (`sign_in_failed`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::SignIn => "sign_in",
            Self::SignInFailed => "sign_in_failed",
            Self::SignOut => "sign_out",
            Self::UploadStored => "upload_stored",
            Self::UploadFailed => "upload_failed",
            Self::FolderCreated => "folder_created",
            Self::ShareCreated => "share_created",
            Self::LinkCreated => "link_created",
            Self::LinkUsed => "link_used",
            Self::LinkRevoked => "link_revoked",
            Self::TokenCreated => "token_created",
            Self::TokenRevoked => "token_revoked",
            Self::UserCreated => "user_created",
            Self::UserChanged => "user_changed",
            Self::UserDisabled => "user_disabled",
            Self::SetupCompleted => "setup_completed",
            Self::NodeRenamed => "node_renamed",
            Self::NodeMoved => "node_moved",
            Self::NodeDeleted => "node_deleted",
            Self::NodeRestored => "node_restored",
            Self::NodePurged => "node_purged",
            Self::VersionRestored => "version_restored",
            Self::QuestionAsked => "question_asked",
        }
    }
}

impl fmt::Display for AuditAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for AuditAction {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        Self::ALL
            .into_iter()
            .find(|a| a.as_str() == s)
            .ok_or_else(|| Error::Invalid(format!("unknown audit action “{s}”")))
    }
}

/// In the OpenAPI description: one of the wire words of [`AuditAction::ALL`].
impl utoipa::PartialSchema for AuditAction {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{ObjectBuilder, Type};
        ObjectBuilder::new()
            .schema_type(Type::String)
            .enum_values(Some(Self::ALL.iter().map(|a| a.as_str())))
            .into()
    }
}

impl utoipa::ToSchema for AuditAction {}

impl Serialize for AuditAction {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// One event to append; the actor, IP and request id come from the [`Ctx`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event {
    /// What happened.
    pub action: AuditAction,
    /// Workspace id.
    pub workspace: Option<String>,
    /// Folder, node, name or username acted on.
    pub target: Option<String>,
    /// Bytes (uploads).
    pub size: Option<u64>,
    /// SHA-256 hex (uploads).
    pub sha256: Option<String>,
    /// Anything else worth keeping (a role, a reason).
    pub detail: Option<String>,
}

impl Event {
    /// An event with only its action.
    pub fn new(action: AuditAction) -> Self {
        Self {
            action,
            workspace: None,
            target: None,
            size: None,
            sha256: None,
            detail: None,
        }
    }

    /// Sets the workspace.
    pub fn workspace(mut self, workspace: &str) -> Self {
        self.workspace = Some(workspace.to_owned());
        self
    }

    /// Sets the target.
    pub fn target(mut self, target: &str) -> Self {
        self.target = Some(target.to_owned());
        self
    }

    /// Sets size and SHA-256 (an upload).
    pub fn file(mut self, size: u64, sha256: &str) -> Self {
        self.size = Some(size);
        self.sha256 = Some(sha256.to_owned());
        self
    }

    /// Sets the detail.
    pub fn detail(mut self, detail: &str) -> Self {
        self.detail = Some(detail.to_owned());
        self
    }
}

/// One row as `GET /api/audit` shows it (DESIGN §3b).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct AuditItem {
    /// Row id (the cursor's key; not in JSON).
    #[serde(skip)]
    pub id: i64,
    /// When (RFC 3339).
    #[serde(serialize_with = "time::ser")]
    #[schema(value_type = String, format = DateTime)]
    pub time: i64,
    /// `kind` or `kind:name` (`user:alice`, `token:ci@alice`, `link:7`, `anonymous`).
    pub actor: String,
    /// What.
    pub action: AuditAction,
    /// Workspace id.
    pub workspace: Option<String>,
    /// What was acted on.
    pub target: Option<String>,
    /// Bytes.
    pub size: Option<u64>,
    /// SHA-256.
    pub sha256: Option<String>,
    /// Request id.
    pub request_id: Option<String>,
    /// Client IP.
    pub ip: Option<String>,
    /// Extra detail, when there is some.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// Filters and paging of [`Access::audit_query`].
#[derive(Clone, Debug, Default)]
pub struct AuditQuery {
    /// Only rows at or after this time (epoch ms); see [`AuditQuery::parse_since`].
    pub since: Option<i64>,
    /// Only this action.
    pub action: Option<AuditAction>,
    /// Page size, clamped to 1–500 (0 means 100).
    pub limit: usize,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

impl AuditQuery {
    /// `since` as RFC 3339 (`2026-12-01T00:00:00Z`) or epoch seconds.
    pub fn parse_since(s: &str) -> Result<i64> {
        if let Ok(secs) = s.parse::<i64>() {
            return Ok(secs.saturating_mul(1000));
        }
        chrono::DateTime::parse_from_rfc3339(s)
            .map(|t| t.timestamp_millis())
            .map_err(|_| Error::Invalid("since is an RFC 3339 time or epoch seconds".into()))
    }
}

/// A page, newest first.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct AuditPage {
    /// The rows.
    pub items: Vec<AuditItem>,
    /// Pass as `cursor` for the next (older) page; `null` at the end.
    pub next_cursor: Option<String>,
}

fn item_from(r: &Row) -> Result<AuditItem> {
    let kind = r.text(2)?;
    let actor = match r.opt_text(3)? {
        Some(name) => format!("{kind}:{name}"),
        None => kind,
    };
    Ok(AuditItem {
        id: r.int(0)?,
        time: r.int(1)?,
        actor,
        action: r.text(4)?.parse()?,
        workspace: r.opt_text(5)?,
        target: r.opt_text(6)?,
        size: r.opt_int(7)?.and_then(|n| u64::try_from(n).ok()),
        sha256: r.opt_text(8)?,
        request_id: r.opt_text(9)?,
        ip: r.opt_text(10)?,
        detail: r.opt_text(11)?,
    })
}

fn action_param(action: Option<AuditAction>) -> Value {
    action.map_or(Value::Null, |a| a.as_str().into())
}

/// Rows per page of the export.
const EXPORT_PAGE: i64 = 500;

impl Access {
    /// Appends one event (upload, folder and share events come from the web layer this way;
    /// the access calls record their own).
    pub async fn record(&self, ctx: &Ctx, event: Event) -> Result<()> {
        self.db
            .execute(
                "INSERT INTO audit_log (at, actor_kind, actor_name, action, workspace, target, size,
                    sha256, request_id, ip, detail)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
                vec![
                    self.now().into(),
                    ctx.actor.kind.as_str().into(),
                    ctx.actor.name.clone().into(),
                    event.action.as_str().into(),
                    event.workspace.into(),
                    event.target.into(),
                    event.size.and_then(|n| i64::try_from(n).ok()).into(),
                    event.sha256.into(),
                    ctx.request_id.clone().into(),
                    ctx.ip.map(|ip| ip.to_string()).into(),
                    event.detail.into(),
                ],
            )
            .await?;
        Ok(())
    }

    /// A page of the log, newest first, keyset-paged by row id.
    pub async fn audit_query(&self, q: &AuditQuery) -> Result<AuditPage> {
        let limit = match q.limit {
            0 => 100,
            n => n.clamp(1, 500),
        } as i64;
        let before = match &q.cursor {
            Some(c) => c
                .parse::<i64>()
                .map_err(|_| Error::Invalid("the cursor is not valid".into()))?,
            None => i64::MAX,
        };

        let rows = self
            .db
            .query(
                "SELECT id, at, actor_kind, actor_name, action, workspace, target, size, sha256,
                    request_id, ip, detail
                 FROM audit_log
                 WHERE at >= $1 AND (CAST($2 AS TEXT) IS NULL OR action = $2) AND id < $3
                 ORDER BY id DESC LIMIT $4",
                vec![
                    q.since.unwrap_or(0).into(),
                    action_param(q.action),
                    before.into(),
                    (limit + 1).into(),
                ],
            )
            .await?;
        let mut items = rows.iter().map(item_from).collect::<Result<Vec<_>>>()?;
        let next_cursor = if items.len() as i64 > limit {
            items.truncate(limit as usize);
            items.last().map(|i| i.id.to_string())
        } else {
            None
        };
        Ok(AuditPage { items, next_cursor })
    }

    /// Every matching row, oldest first, fetched a page at a time (`?format=jsonl`).
    pub fn audit_export(
        &self,
        since: Option<i64>,
        action: Option<AuditAction>,
    ) -> BoxStream<'static, Result<AuditItem>> {
        struct State {
            access: Access,
            after: i64,
            buffer: VecDeque<AuditItem>,
            done: bool,
        }
        let state = State {
            access: self.clone(),
            after: 0,
            buffer: VecDeque::new(),
            done: false,
        };
        stream::unfold(state, move |mut st| async move {
            if st.buffer.is_empty() && !st.done {
                let page = st
                    .access
                    .db
                    .query(
                        "SELECT id, at, actor_kind, actor_name, action, workspace, target, size,
                            sha256, request_id, ip, detail
                         FROM audit_log
                         WHERE at >= $1 AND (CAST($2 AS TEXT) IS NULL OR action = $2) AND id > $3
                         ORDER BY id ASC LIMIT $4",
                        vec![
                            since.unwrap_or(0).into(),
                            action_param(action),
                            st.after.into(),
                            EXPORT_PAGE.into(),
                        ],
                    )
                    .await;
                match page {
                    Ok(rows) => {
                        st.done = (rows.len() as i64) < EXPORT_PAGE;
                        for r in &rows {
                            match item_from(r) {
                                Ok(item) => st.buffer.push_back(item),
                                Err(e) => {
                                    st.done = true;
                                    return Some((Err(e), st));
                                }
                            }
                        }
                        if let Some(last) = st.buffer.back() {
                            st.after = last.id;
                        }
                    }
                    Err(e) => {
                        st.done = true;
                        st.buffer.clear();
                        return Some((Err(e.into()), st));
                    }
                }
            }
            let item = st.buffer.pop_front()?;
            Some((Ok(item), st))
        })
        .boxed()
    }
}

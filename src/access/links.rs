//! Upload-request links (`/r/{token}`): an editor lets outsiders upload into one folder, with
//! limits, an expiry, an optional password and a number of uses. Only the token's hash is
//! stored; taking a use is one guarded `UPDATE`, so two replicas cannot both take the last one.

use std::time::Duration;

use secrecy::SecretString;
use serde::Serialize;

use super::audit::{AuditAction, Event};
use super::principal::{Principal, PrincipalKind};
use super::role::{Capability, Grant, Role};
use super::secret::{random_token, token_hash};
use super::throttle::ThrottleKey;
use super::{Access, Ctx, Error, Result, ms, time};
use crate::db::{Atomic, Row, Step, Value};

/// A link to create (`POST /api/links`).
#[derive(Clone, Debug, Default)]
pub struct NewLink {
    /// Workspace id.
    pub workspace: String,
    /// Folder node id (or `root`) the uploads go into.
    pub folder: String,
    /// What the uploader sees as the title.
    pub label: String,
    /// Lifetime from now (required).
    pub expires_in: Duration,
    /// Optional password (Argon2id-hashed).
    pub password: Option<SecretString>,
    /// Files per submission.
    pub max_files: Option<u64>,
    /// Bytes per submission.
    pub max_bytes: Option<u64>,
    /// Bytes per file (the web layer also applies the gateway's limit).
    pub max_file_size: Option<u64>,
    /// Allowed types, the `FASTGATE_ALLOWED_TYPES` syntax (within the gateway's).
    pub allowed_types: Option<String>,
    /// Submissions allowed in total.
    pub max_uses: Option<u64>,
    /// Put each submission in its own subfolder ([`Submission::folder_name`]).
    pub subfolder_per_submission: bool,
    /// An http(s) URL that receives a signed JSON summary after each submission.
    pub notify_url: Option<String>,
}

/// A link as stored (never its token).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Link {
    /// Id (`/api/links/{id}`).
    pub id: i64,
    /// Workspace id.
    pub workspace: String,
    /// Folder node id.
    pub folder: String,
    /// Title.
    pub label: String,
    /// Whether a password is needed (`password` in JSON).
    #[serde(rename = "password")]
    pub has_password: bool,
    /// Files per submission.
    pub max_files: Option<u64>,
    /// Bytes per submission.
    pub max_bytes: Option<u64>,
    /// Bytes per file.
    pub max_file_size: Option<u64>,
    /// Allowed types.
    pub allowed_types: Option<String>,
    /// Submissions allowed.
    pub max_uses: Option<u64>,
    /// Submissions so far.
    pub uses: u64,
    /// One subfolder per submission.
    pub subfolder_per_submission: bool,
    /// Webhook URL.
    pub notify_url: Option<String>,
    /// Username of the creator.
    pub created_by: String,
    /// Created.
    #[serde(serialize_with = "time::ser")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: i64,
    /// Expires.
    #[serde(serialize_with = "time::ser")]
    #[schema(value_type = String, format = DateTime)]
    pub expires_at: i64,
    /// Revoked, if so.
    #[serde(serialize_with = "time::ser_opt")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub revoked_at: Option<i64>,
    #[serde(skip)]
    password_hash: Option<String>,
}

/// A submission begun through a link: one use taken.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Submission {
    /// Id.
    pub id: i64,
    /// The link.
    pub link_id: i64,
    /// The uploader's name, if they gave one (cleaned).
    pub uploader: Option<String>,
    /// Started, epoch ms.
    pub started_at: i64,
}

/// One file stored through a submission.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct LinkFile {
    /// File name as stored.
    pub name: String,
    /// Bytes.
    pub size: u64,
    /// SHA-256, hex.
    pub sha256: String,
    /// Fast.io node id.
    pub node: String,
}

/// A submission with its files, for the link's page.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct SubmissionInfo {
    /// Id.
    pub id: i64,
    /// Who, as they said.
    pub uploader: Option<String>,
    /// From where.
    pub ip: Option<String>,
    /// When.
    #[serde(serialize_with = "time::ser")]
    #[schema(value_type = String, format = DateTime)]
    pub started_at: i64,
    /// What.
    pub files: Vec<LinkFile>,
}

/// A link with its submissions (`GET /api/links/{id}`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct LinkDetails {
    /// The link.
    #[serde(flatten)]
    pub link: Link,
    /// Its submissions, oldest first.
    pub submissions: Vec<SubmissionInfo>,
}

/// `SELECT <every link column> FROM upload_links <tail>`, as one literal.
macro_rules! select_links {
    ($tail:literal) => {
        concat!(
            "SELECT id, workspace, folder, label, password_hash, max_files, max_bytes, \
             max_file_size, allowed_types, max_uses, uses, subfolder_per_submission, notify_url, \
             created_by, created_at, expires_at, revoked_at FROM upload_links ",
            $tail
        )
    };
}

pub(super) fn unsigned(v: Option<i64>) -> Option<u64> {
    v.and_then(|n| u64::try_from(n).ok())
}

fn link_from(r: &Row) -> Result<Link> {
    let password_hash = r.opt_text(4)?;
    Ok(Link {
        id: r.int(0)?,
        workspace: r.text(1)?,
        folder: r.text(2)?,
        label: r.text(3)?,
        has_password: password_hash.is_some(),
        max_files: unsigned(r.opt_int(5)?),
        max_bytes: unsigned(r.opt_int(6)?),
        max_file_size: unsigned(r.opt_int(7)?),
        allowed_types: r.opt_text(8)?,
        max_uses: unsigned(r.opt_int(9)?),
        uses: unsigned(Some(r.int(10)?)).unwrap_or(0),
        subfolder_per_submission: r.flag(11)?,
        notify_url: r.opt_text(12)?,
        created_by: r.text(13)?,
        created_at: r.int(14)?,
        expires_at: r.int(15)?,
        revoked_at: r.opt_int(16)?,
        password_hash,
    })
}

fn limit(v: Option<u64>, what: &str) -> Result<Value> {
    match v {
        Some(0) => Err(Error::Invalid(format!("{what} must be at least 1"))),
        Some(n) => Ok(i64::try_from(n)
            .map_err(|_| Error::Invalid(format!("{what} is too large")))?
            .into()),
        None => Ok(Value::Null),
    }
}

/// Keeps printable characters, no slashes, at most 100.
fn clean_uploader(name: Option<&str>) -> Option<String> {
    let cleaned: String = name?
        .chars()
        .filter(|c| !c.is_control() && !matches!(c, '/' | '\\'))
        .take(100)
        .collect();
    let cleaned = cleaned.trim().to_owned();
    (!cleaned.is_empty()).then_some(cleaned)
}

impl Link {
    /// Why this link cannot take a submission now, if it cannot.
    pub fn refusal(&self, now_ms: i64) -> Option<Error> {
        if self.revoked_at.is_some() {
            Some(Error::LinkRevoked)
        } else if now_ms >= self.expires_at {
            Some(Error::LinkExpired)
        } else if self.max_uses.is_some_and(|m| self.uses >= m) {
            Some(Error::LinkExhausted)
        } else {
            None
        }
    }

    /// The principal of a visitor: may upload into this link's workspace, nothing else (the
    /// web layer also pins the folder to [`Link::folder`]).
    pub fn principal(&self) -> Principal {
        Principal {
            kind: PrincipalKind::Link {
                id: self.id,
                workspace: self.workspace.clone(),
                folder: self.folder.clone(),
            },
            grants: vec![Grant {
                workspace: self.workspace.clone(),
                role: Role::Uploader,
            }],
        }
    }
}

impl Submission {
    /// The subfolder name for "each submission in its own subfolder": the UTC date and time,
    /// then the uploader's name if given (`2026-12-01 22.55.37 Alice`).
    pub fn folder_name(&self) -> String {
        let when = chrono::DateTime::from_timestamp_millis(self.started_at)
            .unwrap_or_default()
            .format("%Y-%m-%d %H.%M.%S");
        match &self.uploader {
            Some(name) => format!("{when} {name}"),
            None => when.to_string(),
        }
    }
}

impl Access {
    /// Creates a link; needs [`Capability::ManageLinks`] on the workspace. Returns the link and
    /// its token (shown once; the URL is `<PUBLIC_URL>/r/<token>`). Audited as `link_created`.
    pub async fn create_link(
        &self,
        ctx: &Ctx,
        by: &Principal,
        new: NewLink,
    ) -> Result<(Link, SecretString)> {
        by.check(&new.workspace, Capability::ManageLinks)?;
        let label = new.label.trim().to_owned();
        if label.is_empty() || label.chars().count() > 200 {
            return Err(Error::Invalid("a label has 1–200 characters".into()));
        }
        if new.folder.is_empty() || new.folder.contains('/') {
            return Err(Error::Invalid("the folder is a node id or root".into()));
        }
        if new.expires_in.is_zero() {
            return Err(Error::Invalid("expires_in must be more than zero".into()));
        }
        if let Some(url) = &new.notify_url
            && !(url.starts_with("https://") || url.starts_with("http://"))
        {
            return Err(Error::Invalid("notify_url must be an http(s) URL".into()));
        }
        let created_by = by.username().ok_or(Error::Forbidden)?.to_owned();
        let password_hash = match &new.password {
            Some(p) => Some(self.hasher.hash(p).await?),
            None => None,
        };
        let token = random_token();
        let now = self.now();
        let params = vec![
            token_hash(&token).into(),
            new.workspace.clone().into(),
            new.folder.clone().into(),
            label.clone().into(),
            password_hash.into(),
            limit(new.max_files, "max_files")?,
            limit(new.max_bytes, "max_bytes")?,
            limit(new.max_file_size, "max_file_size")?,
            new.allowed_types.clone().into(),
            limit(new.max_uses, "max_uses")?,
            new.subfolder_per_submission.into(),
            new.notify_url.clone().into(),
            created_by.into(),
            now.into(),
            now.saturating_add(ms(new.expires_in)).into(),
        ];
        let id = self
            .db
            .query_opt(
                "INSERT INTO upload_links (token_hash, workspace, folder, label, password_hash,
                    max_files, max_bytes, max_file_size, allowed_types, max_uses,
                    subfolder_per_submission, notify_url, created_by, created_at, expires_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)
                 RETURNING id",
                params,
            )
            .await?
            .ok_or(Error::Internal("no id returned".into()))?
            .int(0)?;
        self.record(
            ctx,
            Event::new(AuditAction::LinkCreated)
                .workspace(&new.workspace)
                .target(&new.folder)
                .detail(&format!("link {id}: {label}")),
        )
        .await?;
        Ok((self.link_by_id(id).await?, SecretString::from(token)))
    }

    pub(super) async fn link_by_id(&self, id: i64) -> Result<Link> {
        const SQL: &str = select_links!("WHERE id = $1");
        let row = self
            .db
            .query_opt(SQL, vec![id.into()])
            .await?
            .ok_or(Error::NotFound)?;
        link_from(&row)
    }

    /// The link of a token if it can take a submission: unknown → [`Error::NotFound`];
    /// [`Error::LinkRevoked`], [`Error::LinkExpired`], [`Error::LinkExhausted`] (410).
    /// The password is checked by [`Access::unlock_link`].
    pub async fn open_link(&self, token: &str) -> Result<Link> {
        const SQL: &str = select_links!("WHERE token_hash = $1");
        let row = self
            .db
            .query_opt(SQL, vec![token_hash(token).into()])
            .await?
            .ok_or(Error::NotFound)?;
        let link = link_from(&row)?;
        match link.refusal(self.now()) {
            Some(e) => Err(e),
            None => Ok(link),
        }
    }

    /// Checks a link's password, throttled per link and per IP like sign-in:
    /// [`Error::PasswordRequired`], [`Error::WrongPassword`] (401), [`Error::Throttled`].
    pub async fn unlock_link(&self, ctx: &Ctx, link: &Link, password: Option<&str>) -> Result<()> {
        let Some(stored) = &link.password_hash else {
            return Ok(());
        };
        let Some(password) = password.filter(|p| !p.is_empty()) else {
            return Err(Error::PasswordRequired);
        };
        let mut keys = vec![ThrottleKey::Link(link.id)];
        keys.extend(ctx.ip.map(ThrottleKey::Ip));
        self.throttle_check(&keys).await?;
        if self.hasher.verify(password, Some(stored.clone())).await? {
            Ok(())
        } else {
            self.throttle_fail(&keys).await?;
            Err(Error::WrongPassword)
        }
    }

    /// [`Access::open_link`] then [`Access::unlock_link`].
    pub async fn resolve_link(
        &self,
        ctx: &Ctx,
        token: &str,
        password: Option<&str>,
    ) -> Result<Link> {
        let link = self.open_link(token).await?;
        self.unlock_link(ctx, &link, password).await?;
        Ok(link)
    }

    /// Takes one use of the link and opens a submission, atomically across replicas; the
    /// refusal says why when none is left. Audited as `link_used`.
    pub async fn begin_submission(
        &self,
        ctx: &Ctx,
        link: &Link,
        uploader: Option<&str>,
    ) -> Result<Submission> {
        let uploader = clean_uploader(uploader);
        let now = self.now();
        let steps = vec![
            Step::require(
                "UPDATE upload_links SET uses = uses + 1
                 WHERE id = $1 AND revoked_at IS NULL AND expires_at > $2
                   AND (max_uses IS NULL OR uses < max_uses)
                 RETURNING uses",
                vec![link.id.into(), now.into()],
            ),
            Step::require(
                "INSERT INTO link_submissions (link_id, uploader, ip, started_at)
                 VALUES ($1, $2, $3, $4) RETURNING id",
                vec![
                    link.id.into(),
                    uploader.clone().into(),
                    ctx.ip.map(|ip| ip.to_string()).into(),
                    now.into(),
                ],
            ),
        ];
        let id = match self.db.atomic(steps).await? {
            Atomic::Committed(rows) => rows
                .get(1)
                .and_then(|r| r.first())
                .ok_or(Error::Internal("no id returned".into()))?
                .int(0)?,
            Atomic::RolledBack(_) => {
                let now_link = self.link_by_id(link.id).await?;
                return Err(now_link.refusal(now).unwrap_or(Error::LinkExhausted));
            }
        };
        let mut event = Event::new(AuditAction::LinkUsed)
            .workspace(&link.workspace)
            .target(&link.folder)
            .detail(&format!("link {}, submission {id}", link.id));
        if let Some(name) = &uploader {
            event = event.detail(&format!(
                "link {}, submission {id}, uploader {name}",
                link.id
            ));
        }
        self.record(ctx, event).await?;
        Ok(Submission {
            id,
            link_id: link.id,
            uploader,
            started_at: now,
        })
    }

    /// Records a stored file of a submission, enforcing the link's per-file size, file count
    /// and total bytes atomically ([`Error::FileTooLarge`], [`Error::TooManyFiles`],
    /// [`Error::TooManyBytes`], 413). The web layer enforces the same limits while streaming;
    /// this is the last word when several requests feed one submission.
    pub async fn record_file(
        &self,
        link: &Link,
        submission: &Submission,
        file: LinkFile,
    ) -> Result<()> {
        if link.max_file_size.is_some_and(|m| file.size > m) {
            return Err(Error::FileTooLarge(link.max_file_size.unwrap_or(0)));
        }
        let size = i64::try_from(file.size).map_err(|_| Error::Invalid("size too large".into()))?;
        let steps = vec![
            Step::require(
                "UPDATE link_submissions SET files = files + 1, bytes = bytes + $2
                 WHERE id = $1
                   AND files < COALESCE((SELECT max_files FROM upload_links l WHERE l.id = link_submissions.link_id), files + 1)
                   AND bytes + $2 <= COALESCE((SELECT max_bytes FROM upload_links l WHERE l.id = link_submissions.link_id), bytes + $2)
                 RETURNING files",
                vec![submission.id.into(), size.into()],
            ),
            Step::run(
                "INSERT INTO link_files (submission_id, name, size, sha256, node, stored_at)
                 VALUES ($1, $2, $3, $4, $5, $6)",
                vec![
                    submission.id.into(),
                    file.name.into(),
                    size.into(),
                    file.sha256.into(),
                    file.node.into(),
                    self.now().into(),
                ],
            ),
        ];
        match self.db.atomic(steps).await? {
            Atomic::Committed(_) => Ok(()),
            Atomic::RolledBack(_) => {
                let row = self
                    .db
                    .query_opt(
                        "SELECT files FROM link_submissions WHERE id = $1",
                        vec![submission.id.into()],
                    )
                    .await?
                    .ok_or(Error::NotFound)?;
                match link.max_files {
                    Some(m) if unsigned(Some(row.int(0)?)).unwrap_or(0) >= m => {
                        Err(Error::TooManyFiles(m))
                    }
                    _ => Err(Error::TooManyBytes(link.max_bytes.unwrap_or(0))),
                }
            }
        }
    }

    /// The links `by` may manage: every link for an admin, else the ones they created in
    /// workspaces where they still hold [`Capability::ManageLinks`]. Newest first.
    pub async fn links(&self, by: &Principal) -> Result<Vec<Link>> {
        const SQL: &str = select_links!("ORDER BY id DESC");
        let rows = self.db.query(SQL, vec![]).await?;
        let mut links = Vec::new();
        for r in &rows {
            let link = link_from(r)?;
            if self.may_manage(by, &link) {
                links.push(link);
            }
        }
        Ok(links)
    }

    fn may_manage(&self, by: &Principal, link: &Link) -> bool {
        by.is_admin()
            || (by.username() == Some(link.created_by.as_str())
                && by.check(&link.workspace, Capability::ManageLinks).is_ok())
    }

    /// One link with its submissions and their files; [`Error::NotFound`] if `by` may not
    /// manage it.
    pub async fn link(&self, by: &Principal, id: i64) -> Result<LinkDetails> {
        let link = self.link_by_id(id).await?;
        if !self.may_manage(by, &link) {
            return Err(Error::NotFound);
        }
        let rows = self
            .db
            .query(
                "SELECT s.id, s.uploader, s.ip, s.started_at, f.name, f.size, f.sha256, f.node
                 FROM link_submissions s
                 LEFT JOIN link_files f ON f.submission_id = s.id AND f.node NOT LIKE 'pending:%'
                 WHERE s.link_id = $1 ORDER BY s.id, f.id",
                vec![id.into()],
            )
            .await?;
        let mut submissions: Vec<SubmissionInfo> = Vec::new();
        for r in &rows {
            let sid = r.int(0)?;
            if submissions.last().is_none_or(|s| s.id != sid) {
                submissions.push(SubmissionInfo {
                    id: sid,
                    uploader: r.opt_text(1)?,
                    ip: r.opt_text(2)?,
                    started_at: r.int(3)?,
                    files: Vec::new(),
                });
            }
            if let (Some(name), Some(last)) = (r.opt_text(4)?, submissions.last_mut()) {
                last.files.push(LinkFile {
                    name,
                    size: unsigned(r.opt_int(5)?).unwrap_or(0),
                    sha256: r.opt_text(6)?.unwrap_or_default(),
                    node: r.opt_text(7)?.unwrap_or_default(),
                });
            }
        }
        Ok(LinkDetails { link, submissions })
    }

    /// Revokes a link at once, everywhere; [`Error::NotFound`] if `by` may not manage it.
    /// Audited as `link_revoked`.
    pub async fn revoke_link(&self, ctx: &Ctx, by: &Principal, id: i64) -> Result<()> {
        let link = self.link_by_id(id).await?;
        if !self.may_manage(by, &link) {
            return Err(Error::NotFound);
        }
        self.db
            .execute(
                "UPDATE upload_links SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL",
                vec![id.into(), self.now().into()],
            )
            .await?;
        self.record(
            ctx,
            Event::new(AuditAction::LinkRevoked)
                .workspace(&link.workspace)
                .target(&link.folder)
                .detail(&format!("link {id}")),
        )
        .await
    }
}

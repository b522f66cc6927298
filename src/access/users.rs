//! Users and their grants: add, list, get, change (role, disabled, password). Disabling a user
//! or changing a password ends every session of theirs, on every replica.

use secrecy::SecretString;
use serde::Serialize;

use super::audit::{AuditAction, Event};
use super::role::{ALL_WORKSPACES, Grant, Role, valid_workspace};
use super::secret::check_new_password;
use super::{Access, Ctx, Error, Result};
use crate::db::{self, Row, Step, Value};

/// A user to create.
#[derive(Clone, Debug)]
pub struct NewUser {
    /// 1–64 characters: letters, digits, `.`, `_`, `-`, `@`, starting with a letter or digit;
    /// stored lower-case.
    pub username: String,
    /// At least 8 characters.
    pub password: SecretString,
    /// The role…
    pub role: Role,
    /// …on this workspace; `None` means every workspace (`*`).
    pub workspace: Option<String>,
}

/// A user as the admin pages and `GET /api/users` show it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct User {
    /// Id.
    pub id: i64,
    /// Username (lower-case).
    pub username: String,
    /// Disabled users cannot sign in; their sessions and tokens stop working.
    pub disabled: bool,
    /// Creation time, epoch ms.
    pub created_at: i64,
    /// Grants, most general first.
    pub grants: Vec<Grant>,
}

/// A change to a user (`PATCH /api/users/{username}`); `None` leaves a field alone.
#[derive(Clone, Debug, Default)]
pub struct UserChange {
    /// Sets the role of every grant the user holds (their workspaces stay).
    pub role: Option<Role>,
    /// Disables or enables; disabling ends the user's sessions.
    pub disabled: Option<bool>,
    /// A new password; ends the user's sessions.
    pub password: Option<SecretString>,
}

/// Is `name` an acceptable username (before lower-casing)?
pub fn valid_username(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphanumeric())
        && name.len() <= 64
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '@'))
}

pub(super) fn normalize_username(name: &str) -> Result<String> {
    let name = name.trim();
    if valid_username(name) {
        Ok(name.to_ascii_lowercase())
    } else {
        Err(Error::Invalid(
            "a username has 1–64 letters, digits, “.”, “_”, “-” or “@”, and starts with a letter or digit".into(),
        ))
    }
}

pub(super) fn grants_from(rows: &[Row], workspace_col: usize) -> db::Result<Vec<Grant>> {
    let mut grants = Vec::new();
    for r in rows {
        if let (Some(workspace), Some(role)) =
            (r.opt_text(workspace_col)?, r.opt_text(workspace_col + 1)?)
        {
            let role = role
                .parse()
                .map_err(|_| db::Error::Decode(workspace_col + 1))?;
            grants.push(Grant { workspace, role });
        }
    }
    grants.sort_by(|a, b| {
        (a.workspace != ALL_WORKSPACES, &a.workspace)
            .cmp(&(b.workspace != ALL_WORKSPACES, &b.workspace))
    });
    Ok(grants)
}

const SELECT_USERS: &str = "SELECT u.id, u.username, u.disabled, u.created_at, g.workspace, g.role
    FROM users u LEFT JOIN grants g ON g.user_id = u.id ORDER BY u.username";
const SELECT_USER: &str = "SELECT u.id, u.username, u.disabled, u.created_at, g.workspace, g.role
    FROM users u LEFT JOIN grants g ON g.user_id = u.id WHERE u.username = $1";

fn users_from(rows: Vec<Row>) -> db::Result<Vec<User>> {
    let mut users: Vec<User> = Vec::new();
    let mut start = 0;
    while start < rows.len() {
        let id = rows[start].int(0)?;
        let end = rows[start..]
            .iter()
            .position(|r| r.int(0).ok() != Some(id))
            .map_or(rows.len(), |n| start + n);
        let first = &rows[start];
        users.push(User {
            id,
            username: first.text(1)?,
            disabled: first.flag(2)?,
            created_at: first.int(3)?,
            grants: grants_from(&rows[start..end], 4)?,
        });
        start = end;
    }
    Ok(users)
}

impl Access {
    /// Creates a user with one grant; audited as `user_created`.
    pub async fn add_user(&self, ctx: &Ctx, new: NewUser) -> Result<User> {
        let username = normalize_username(&new.username)?;
        check_new_password(&new.password)?;
        let workspace = new.workspace.unwrap_or_else(|| ALL_WORKSPACES.into());
        if !valid_workspace(&workspace) {
            return Err(Error::Invalid(format!(
                "“{workspace}” is not a workspace id"
            )));
        }
        let hash = self.hasher.hash(&new.password).await?;
        let now = self.now();
        let steps = vec![
            Step::require(
                "INSERT INTO users (username, password_hash, disabled, created_at, updated_at)
                 VALUES ($1, $2, 0, $3, $3) RETURNING id",
                vec![username.clone().into(), hash.into(), now.into()],
            ),
            Step::run(
                "INSERT INTO grants (user_id, workspace, role)
                 SELECT id, $2, $3 FROM users WHERE username = $1",
                vec![
                    username.clone().into(),
                    workspace.clone().into(),
                    new.role.as_str().into(),
                ],
            ),
        ];
        match self.db.atomic(steps).await {
            Ok(_) => {}
            Err(db::Error::Conflict) => {
                return Err(Error::Conflict(format!(
                    "the username “{username}” is taken"
                )));
            }
            Err(e) => return Err(e.into()),
        }
        self.record(
            ctx,
            Event::new(AuditAction::UserCreated)
                .target(&username)
                .workspace(&workspace)
                .detail(new.role.as_str()),
        )
        .await?;
        self.user(&username).await
    }

    /// Every user, by name.
    pub async fn users(&self) -> Result<Vec<User>> {
        Ok(users_from(self.db.query(SELECT_USERS, vec![]).await?)?)
    }

    /// One user by name ([`Error::NotFound`] if none).
    pub async fn user(&self, username: &str) -> Result<User> {
        let name = username.trim().to_ascii_lowercase();
        let rows = self.db.query(SELECT_USER, vec![name.into()]).await?;
        users_from(rows)?.into_iter().next().ok_or(Error::NotFound)
    }

    /// Sets (or with `None` removes) `username`'s role on one workspace (or `*`).
    pub async fn set_grant(
        &self,
        ctx: &Ctx,
        username: &str,
        workspace: &str,
        role: Option<Role>,
    ) -> Result<User> {
        if !valid_workspace(workspace) {
            return Err(Error::Invalid(format!(
                "“{workspace}” is not a workspace id"
            )));
        }
        let user = self.user(username).await?;
        if workspace == ALL_WORKSPACES && role != Some(Role::Admin) {
            self.keep_an_admin(&user).await?;
        }
        match role {
            Some(role) => {
                self.db
                    .execute(
                        "INSERT INTO grants (user_id, workspace, role) VALUES ($1, $2, $3)
                         ON CONFLICT (user_id, workspace) DO UPDATE SET role = excluded.role",
                        vec![user.id.into(), workspace.into(), role.as_str().into()],
                    )
                    .await?;
            }
            None => {
                self.db
                    .execute(
                        "DELETE FROM grants WHERE user_id = $1 AND workspace = $2",
                        vec![user.id.into(), workspace.into()],
                    )
                    .await?;
            }
        }
        self.record(
            ctx,
            Event::new(AuditAction::UserChanged)
                .target(&user.username)
                .workspace(workspace)
                .detail(role.map_or("grant removed", Role::as_str)),
        )
        .await?;
        self.user(&user.username).await
    }

    /// Applies `change`; audited as `user_changed` or `user_disabled`.
    pub async fn update_user(&self, ctx: &Ctx, username: &str, change: UserChange) -> Result<User> {
        let user = self.user(username).await?;
        let now = self.now();
        let demotes = change.role.is_some_and(|r| r != Role::Admin);
        if demotes || change.disabled == Some(true) {
            self.keep_an_admin(&user).await?;
        }
        if let Some(password) = &change.password {
            check_new_password(password)?;
            let hash = self.hasher.hash(password).await?;
            self.db
                .atomic(vec![
                    Step::run(
                        "UPDATE users SET password_hash = $2, updated_at = $3 WHERE id = $1",
                        vec![user.id.into(), hash.into(), now.into()],
                    ),
                    Step::run(
                        "DELETE FROM sessions WHERE user_id = $1",
                        vec![user.id.into()],
                    ),
                ])
                .await?;
            self.record(
                ctx,
                Event::new(AuditAction::UserChanged)
                    .target(&user.username)
                    .detail("password changed"),
            )
            .await?;
        }
        if let Some(role) = change.role {
            self.db
                .execute(
                    "UPDATE grants SET role = $2 WHERE user_id = $1",
                    vec![user.id.into(), role.as_str().into()],
                )
                .await?;
            self.record(
                ctx,
                Event::new(AuditAction::UserChanged)
                    .target(&user.username)
                    .detail(role.as_str()),
            )
            .await?;
        }
        if let Some(disabled) = change.disabled {
            self.db
                .atomic(vec![
                    Step::run(
                        "UPDATE users SET disabled = $2, updated_at = $3 WHERE id = $1",
                        vec![user.id.into(), disabled.into(), now.into()],
                    ),
                    Step::run(
                        "DELETE FROM sessions WHERE user_id = $1 AND $2 = 1",
                        vec![user.id.into(), disabled.into()],
                    ),
                ])
                .await?;
            let action = if disabled {
                AuditAction::UserDisabled
            } else {
                AuditAction::UserChanged
            };
            self.record(
                ctx,
                Event::new(action)
                    .target(&user.username)
                    .detail(if disabled { "disabled" } else { "enabled" }),
            )
            .await?;
        }
        self.user(&user.username).await
    }

    /// Refuses a change that would leave no enabled admin of every workspace.
    async fn keep_an_admin(&self, user: &User) -> Result<()> {
        let is_admin = user
            .grants
            .iter()
            .any(|g| g.workspace == ALL_WORKSPACES && g.role == Role::Admin);
        if !is_admin || user.disabled {
            return Ok(());
        }
        let others = self
            .db
            .query_opt(
                "SELECT COUNT(*) FROM users u JOIN grants g ON g.user_id = u.id
                 WHERE g.workspace = '*' AND g.role = 'admin' AND u.disabled = 0 AND u.id <> $1",
                vec![user.id.into()],
            )
            .await?
            .map_or(Ok(0), |r| r.int(0))?;
        if others == 0 {
            Err(Error::Conflict(
                "this is the last admin; make another admin first".into(),
            ))
        } else {
            Ok(())
        }
    }

    /// Is there an enabled admin of every workspace? (First-run setup is open until there is.)
    pub async fn admin_exists(&self) -> Result<bool> {
        Ok(self.db.query_opt(ADMIN_EXISTS, vec![]).await?.is_some())
    }
}

/// One row when an enabled admin of every workspace exists.
pub(super) const ADMIN_EXISTS: &str = "SELECT 1 FROM users u JOIN grants g ON g.user_id = u.id
    WHERE g.workspace = '*' AND g.role = 'admin' AND u.disabled = 0 LIMIT 1";

/// `Value` for an optional workspace.
pub(super) fn opt_text(v: Option<&str>) -> Value {
    v.map_or(Value::Null, Into::into)
}

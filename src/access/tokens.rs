//! API tokens for scripts: `fgt_` + 32 random bytes (base64url), stored as SHA-256, acting for
//! their owner with a role no higher than the owner's (checked at creation and capped again at
//! every use, so a demoted or disabled owner's tokens shrink or stop at once).

use std::time::Duration;

use secrecy::SecretString;
use serde::Serialize;

use super::audit::{AuditAction, Event};
use super::principal::{Principal, PrincipalKind};
use super::role::{ALL_WORKSPACES, Grant, Role, role_in, valid_workspace};
use super::secret::{TOKEN_PREFIX, random_token, token_hash};
use super::users::{grants_from, opt_text};
use super::{Access, Ctx, Error, Result, ms, time};
use crate::db::Row;

/// A token to create (`POST /api/tokens`).
#[derive(Clone, Debug)]
pub struct NewToken {
    /// A label for the owner (1–64 characters).
    pub name: String,
    /// At most the owner's role (on `workspace`, or their highest one).
    pub role: Role,
    /// Limit the token to one workspace; `None`: every workspace the owner has.
    pub workspace: Option<String>,
    /// Lifetime; `None`: until revoked.
    pub expires_in: Option<Duration>,
}

/// A token as listed (never the token itself).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TokenInfo {
    /// Id (`DELETE /api/tokens/{id}`).
    pub id: i64,
    /// Its name.
    pub name: String,
    /// Its role.
    pub role: Role,
    /// Its workspace, if limited to one.
    pub workspace: Option<String>,
    /// The owner's username.
    pub owner: String,
    /// Created (RFC 3339 in JSON).
    #[serde(serialize_with = "time::ser")]
    pub created_at: i64,
    /// Expires, if ever.
    #[serde(serialize_with = "time::ser_opt")]
    pub expires_at: Option<i64>,
    /// Last used, to the minute.
    #[serde(serialize_with = "time::ser_opt")]
    pub last_used_at: Option<i64>,
    /// Revoked, if so.
    #[serde(serialize_with = "time::ser_opt")]
    pub revoked_at: Option<i64>,
}

/// A token just created: `token` is shown once and never again.
#[derive(Debug)]
pub struct CreatedToken {
    /// What the list shows.
    pub info: TokenInfo,
    /// `fgt_…`.
    pub token: SecretString,
}

fn info_from(r: &Row) -> Result<TokenInfo> {
    Ok(TokenInfo {
        id: r.int(0)?,
        name: r.text(1)?,
        role: r
            .text(2)?
            .parse()
            .map_err(|_| crate::db::Error::Decode(2))?,
        workspace: r.opt_text(3)?,
        owner: r.text(4)?,
        created_at: r.int(5)?,
        expires_at: r.opt_int(6)?,
        last_used_at: r.opt_int(7)?,
        revoked_at: r.opt_int(8)?,
    })
}

impl Access {
    /// Creates a token for `owner`; audited as `token_created`.
    pub async fn create_token(
        &self,
        ctx: &Ctx,
        owner: &str,
        new: NewToken,
    ) -> Result<CreatedToken> {
        let name = new.name.trim().to_owned();
        if name.is_empty() || name.chars().count() > 64 || name.chars().any(char::is_control) {
            return Err(Error::Invalid(
                "a token name has 1–64 printable characters".into(),
            ));
        }
        if let Some(ws) = &new.workspace
            && (!valid_workspace(ws) || ws == ALL_WORKSPACES)
        {
            return Err(Error::Invalid(format!("“{ws}” is not a workspace id")));
        }
        let user = self.user(owner).await?;
        if user.disabled {
            return Err(Error::Forbidden);
        }
        let owner_role = match &new.workspace {
            Some(ws) => role_in(&user.grants, ws),
            None => user.grants.iter().map(|g| g.role).max(),
        };
        if owner_role.is_none_or(|r| new.role > r) {
            return Err(Error::Forbidden);
        }
        let token = format!("{TOKEN_PREFIX}{}", random_token());
        let now = self.now();
        let expires_at = new.expires_in.map(|d| now.saturating_add(ms(d)));
        let id = self
            .db
            .query_opt(
                "INSERT INTO api_tokens (token_hash, user_id, name, role, workspace, created_at, expires_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
                vec![
                    token_hash(&token).into(),
                    user.id.into(),
                    name.clone().into(),
                    new.role.as_str().into(),
                    opt_text(new.workspace.as_deref()),
                    now.into(),
                    expires_at.into(),
                ],
            )
            .await?
            .ok_or(Error::Internal("no id returned".into()))?
            .int(0)?;
        let mut event = Event::new(AuditAction::TokenCreated)
            .target(&format!("{name}@{}", user.username))
            .detail(new.role.as_str());
        if let Some(ws) = &new.workspace {
            event = event.workspace(ws);
        }
        self.record(ctx, event).await?;
        Ok(CreatedToken {
            info: TokenInfo {
                id,
                name,
                role: new.role,
                workspace: new.workspace,
                owner: user.username,
                created_at: now,
                expires_at,
                last_used_at: None,
                revoked_at: None,
            },
            token: SecretString::from(token),
        })
    }

    /// The tokens of `owner`, newest first (revoked ones included, marked).
    pub async fn tokens_of(&self, owner: &str) -> Result<Vec<TokenInfo>> {
        const SQL: &str = "SELECT t.id, t.name, t.role, t.workspace, u.username, t.created_at,
                t.expires_at, t.last_used_at, t.revoked_at
            FROM api_tokens t JOIN users u ON u.id = t.user_id
            WHERE u.username = $1 ORDER BY t.id DESC";
        let rows = self
            .db
            .query(SQL, vec![owner.to_ascii_lowercase().into()])
            .await?;
        rows.iter().map(info_from).collect()
    }

    /// Every token (admins), newest first.
    pub async fn all_tokens(&self) -> Result<Vec<TokenInfo>> {
        const SQL: &str = "SELECT t.id, t.name, t.role, t.workspace, u.username, t.created_at,
                t.expires_at, t.last_used_at, t.revoked_at
            FROM api_tokens t JOIN users u ON u.id = t.user_id ORDER BY t.id DESC";
        let rows = self.db.query(SQL, vec![]).await?;
        rows.iter().map(info_from).collect()
    }

    /// Revokes token `id`: its owner or an admin may; anyone else gets [`Error::NotFound`].
    /// Audited as `token_revoked`.
    pub async fn revoke_token(&self, ctx: &Ctx, by: &Principal, id: i64) -> Result<()> {
        let owner = by.user_id().unwrap_or(-1);
        let row = self
            .db
            .query_opt(
                "UPDATE api_tokens SET revoked_at = $2
                 WHERE id = $1 AND revoked_at IS NULL AND (user_id = $3 OR $4 = 1)
                 RETURNING name",
                vec![
                    id.into(),
                    self.now().into(),
                    owner.into(),
                    by.is_admin().into(),
                ],
            )
            .await?
            .ok_or(Error::NotFound)?;
        self.record(
            ctx,
            Event::new(AuditAction::TokenRevoked).target(&row.text(0)?),
        )
        .await
    }

    /// The principal of `Authorization: Bearer <token>`: one indexed query, `last_used_at`
    /// written at most once a minute. Unknown, revoked, expired tokens and disabled owners →
    /// [`Error::Unauthenticated`].
    pub async fn bearer(&self, token: &str) -> Result<Principal> {
        const SQL: &str = "SELECT t.id, t.name, t.role, t.workspace, t.expires_at, t.last_used_at,
                u.id, u.username, g.workspace, g.role
            FROM api_tokens t JOIN users u ON u.id = t.user_id
            LEFT JOIN grants g ON g.user_id = u.id
            WHERE t.token_hash = $1 AND t.revoked_at IS NULL AND u.disabled = 0";
        if !token.starts_with(TOKEN_PREFIX) {
            return Err(Error::Unauthenticated);
        }
        let rows = self.db.query(SQL, vec![token_hash(token).into()]).await?;
        let first = rows.first().ok_or(Error::Unauthenticated)?;
        let now = self.now();
        if first.opt_int(4)?.is_some_and(|e| now >= e) {
            return Err(Error::Unauthenticated);
        }
        let id = first.int(0)?;
        let cap: Role = first
            .text(2)?
            .parse()
            .map_err(|_| crate::db::Error::Decode(2))?;
        let only = first.opt_text(3)?;
        if first
            .opt_int(5)?
            .is_none_or(|used| now - used >= ms(self.settings.touch_interval))
        {
            self.db
                .execute(
                    "UPDATE api_tokens SET last_used_at = $2 WHERE id = $1",
                    vec![id.into(), now.into()],
                )
                .await?;
        }
        let owner_grants = grants_from(&rows, 8)?;
        let grants = match &only {
            Some(ws) => role_in(&owner_grants, ws)
                .map(|r| Grant {
                    workspace: ws.clone(),
                    role: r.min(cap),
                })
                .into_iter()
                .collect(),
            None => owner_grants
                .into_iter()
                .map(|g| Grant {
                    role: g.role.min(cap),
                    ..g
                })
                .collect(),
        };
        Ok(Principal {
            kind: PrincipalKind::Token {
                id,
                name: first.text(1)?,
                owner_id: first.int(6)?,
                owner: first.text(7)?,
            },
            grants,
        })
    }

    /// The principal of a reverse-proxy user: `default_role` on every workspace plus the
    /// grants of a user row of that name, if an admin made one. A disabled row →
    /// [`Error::Forbidden`].
    pub async fn proxy_principal(
        &self,
        username: &str,
        default_role: Option<Role>,
    ) -> Result<Principal> {
        let name = username.trim().to_ascii_lowercase();
        let mut grants: Vec<Grant> = default_role
            .map(|role| Grant {
                workspace: ALL_WORKSPACES.into(),
                role,
            })
            .into_iter()
            .collect();
        match self.user(&name).await {
            Ok(user) if user.disabled => return Err(Error::Forbidden),
            Ok(user) => grants.extend(user.grants),
            Err(Error::NotFound) => {}
            Err(e) => return Err(e),
        }
        Ok(Principal {
            kind: PrincipalKind::Proxy { username: name },
            grants,
        })
    }
}

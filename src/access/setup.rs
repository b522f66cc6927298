//! First run: while no admin exists, each replica may issue a setup token (printed in its
//! start-up log as a `/setup?token=…` URL); any replica accepts any unexpired one, and the
//! first to be used creates the admin and invalidates them all.

use secrecy::SecretString;

use super::audit::{AuditAction, Event};
use super::secret::{check_new_password, random_token, token_hash};
use super::users::{User, normalize_username};
use super::{Access, Ctx, Error, Result, ms};
use crate::db::{self, Atomic, Step};

impl Access {
    /// A fresh setup token while no admin exists (only its hash is stored); `None` once one does.
    pub async fn issue_setup_token(&self) -> Result<Option<SecretString>> {
        if self.admin_exists().await? {
            return Ok(None);
        }
        let token = random_token();
        let now = self.now();
        self.db
            .execute(
                "INSERT INTO setup_tokens (token_hash, created_at, expires_at) VALUES ($1, $2, $3)",
                vec![
                    token_hash(&token).into(),
                    now.into(),
                    now.saturating_add(ms(self.settings.setup_token_ttl)).into(),
                ],
            )
            .await?;
        Ok(Some(SecretString::from(token)))
    }

    /// Creates the first admin (role admin on `*`) with a valid setup token, atomically: two
    /// replicas racing cannot both succeed. Afterwards every setup token is void. Refused with
    /// [`Error::SetupClosed`] once an admin exists or for an unknown or expired token. Audited
    /// as `setup_completed`.
    pub async fn consume_setup_token(
        &self,
        ctx: &Ctx,
        token: &str,
        username: &str,
        password: &SecretString,
    ) -> Result<User> {
        let username = normalize_username(username)?;
        check_new_password(password)?;
        // Cheap refusals first, so a stale link costs no Argon2id work.
        if self.admin_exists().await? {
            return Err(Error::SetupClosed);
        }
        let hash = self.hasher.hash(password).await?;
        let now = self.now();
        let steps = vec![
            // Locks the one setup_state row: concurrent attempts queue here.
            Step::require(
                "UPDATE setup_state SET attempts = attempts + 1 WHERE id = 1 RETURNING attempts",
                vec![],
            ),
            Step::require(
                "SELECT 1 WHERE NOT EXISTS (SELECT 1 FROM users u JOIN grants g ON g.user_id = u.id
                    WHERE g.workspace = '*' AND g.role = 'admin' AND u.disabled = 0)",
                vec![],
            ),
            Step::require(
                "DELETE FROM setup_tokens WHERE token_hash = $1 AND expires_at > $2 RETURNING token_hash",
                vec![token_hash(token).into(), now.into()],
            ),
            Step::run("DELETE FROM setup_tokens", vec![]),
            Step::require(
                "INSERT INTO users (username, password_hash, disabled, created_at, updated_at)
                 VALUES ($1, $2, 0, $3, $3) RETURNING id",
                vec![username.clone().into(), hash.into(), now.into()],
            ),
            Step::run(
                "INSERT INTO grants (user_id, workspace, role)
                 SELECT id, '*', 'admin' FROM users WHERE username = $1",
                vec![username.clone().into()],
            ),
        ];
        match self.db.atomic(steps).await {
            Ok(Atomic::Committed(_)) => {}
            Ok(Atomic::RolledBack(_)) => return Err(Error::SetupClosed),
            Err(db::Error::Conflict) => {
                return Err(Error::Conflict(format!(
                    "the username “{username}” is taken"
                )));
            }
            Err(e) => return Err(e.into()),
        }
        self.record(
            ctx,
            Event::new(AuditAction::SetupCompleted).target(&username),
        )
        .await?;
        self.user(&username).await
    }
}

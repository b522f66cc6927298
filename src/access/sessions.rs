//! Sign-in and server-side sessions: a random 256-bit id in the cookie, only its SHA-256 in the
//! database; idle and absolute expiry; `last_seen_at` written at most once a minute.

use secrecy::SecretString;

use super::audit::{AuditAction, Event};
use super::principal::{Principal, PrincipalKind};
use super::secret::{random_token, token_hash};
use super::throttle::ThrottleKey;
use super::users::grants_from;
use super::{Access, Ctx, Error, Result, ms};

/// A session just created: put `token` in the cookie, once.
#[derive(Debug)]
pub struct NewSession {
    /// The cookie value (256 random bits, base64url).
    pub token: SecretString,
    /// When the session ends at the latest (epoch ms); a cookie `Max-Age` can follow it.
    pub expires_at: i64,
}

const LOOKUP: &str = "SELECT s.user_id, s.created_at, s.last_seen_at, s.expires_at, u.username,
        g.workspace, g.role
    FROM sessions s JOIN users u ON u.id = s.user_id LEFT JOIN grants g ON g.user_id = u.id
    WHERE s.id_hash = $1 AND u.disabled = 0";

impl Access {
    /// Checks a username and password, throttled per account and per IP; on success starts a
    /// session. Wrong name, wrong password and disabled user all give
    /// [`Error::InvalidCredentials`] after the same Argon2id work. Audited either way.
    pub async fn sign_in(
        &self,
        ctx: &Ctx,
        username: &str,
        password: &str,
        user_agent: Option<&str>,
    ) -> Result<(NewSession, Principal)> {
        let name = username.trim().to_ascii_lowercase();
        let mut keys = vec![ThrottleKey::Account(name.clone())];
        keys.extend(ctx.ip.map(ThrottleKey::Ip));
        if let Err(e) = self.throttle_check(&keys).await {
            self.record(
                ctx,
                Event::new(AuditAction::SignInFailed)
                    .target(&name)
                    .detail("throttled"),
            )
            .await?;
            return Err(e);
        }
        let row = self
            .db
            .query_opt(
                "SELECT id, password_hash, disabled FROM users WHERE username = $1",
                vec![name.clone().into()],
            )
            .await?;
        let (id, stored, disabled) = match row {
            Some(r) => (r.int(0)?, Some(r.text(1)?), r.flag(2)?),
            None => (0, None, false),
        };
        let matches = self.hasher.verify(password, stored).await?;
        if !matches || disabled {
            self.throttle_fail(&keys).await?;
            self.record(ctx, Event::new(AuditAction::SignInFailed).target(&name))
                .await?;
            return Err(Error::InvalidCredentials);
        }
        self.throttle_clear(&ThrottleKey::Account(name.clone()))
            .await?;
        let session = self.start_session(id, ctx, user_agent).await?;
        let principal = self.session(&session.token).await?;
        let ctx = Ctx::of(&principal, ctx.ip, ctx.request_id.clone());
        self.record(&ctx, Event::new(AuditAction::SignIn).target(&name))
            .await?;
        Ok((session, principal))
    }

    /// Starts a session for user `user_id` (after sign-in or first-run setup).
    pub async fn start_session(
        &self,
        user_id: i64,
        ctx: &Ctx,
        user_agent: Option<&str>,
    ) -> Result<NewSession> {
        let token = random_token();
        let now = self.now();
        let expires_at = now.saturating_add(ms(self.settings.session_max));
        let agent: Option<String> = user_agent.map(|a| a.chars().take(256).collect());
        self.db
            .execute(
                "INSERT INTO sessions (id_hash, user_id, created_at, last_seen_at, expires_at, ip, user_agent)
                 VALUES ($1, $2, $3, $3, $4, $5, $6)",
                vec![
                    token_hash(&token).into(),
                    user_id.into(),
                    now.into(),
                    expires_at.into(),
                    ctx.ip.map(|ip| ip.to_string()).into(),
                    agent.into(),
                ],
            )
            .await?;
        Ok(NewSession {
            token: SecretString::from(token),
            expires_at,
        })
    }

    /// The principal of a session cookie: one indexed query; a write at most once a minute.
    /// Unknown, ended, idle or expired sessions and disabled users → [`Error::Unauthenticated`].
    pub async fn session(&self, token: &SecretString) -> Result<Principal> {
        use secrecy::ExposeSecret as _;
        let hash = token_hash(token.expose_secret());
        let rows = self.db.query(LOOKUP, vec![hash.clone().into()]).await?;
        let first = rows.first().ok_or(Error::Unauthenticated)?;
        let (user_id, last_seen, expires_at) = (first.int(0)?, first.int(2)?, first.int(3)?);
        let now = self.now();
        if now >= expires_at || now - last_seen >= ms(self.settings.session_idle) {
            self.db
                .execute("DELETE FROM sessions WHERE id_hash = $1", vec![hash.into()])
                .await?;
            return Err(Error::Unauthenticated);
        }
        if now - last_seen >= ms(self.settings.touch_interval) {
            self.db
                .execute(
                    "UPDATE sessions SET last_seen_at = $2 WHERE id_hash = $1 AND last_seen_at < $2",
                    vec![hash.into(), now.into()],
                )
                .await?;
        }
        Ok(Principal {
            kind: PrincipalKind::User {
                id: user_id,
                username: first.text(4)?,
            },
            grants: grants_from(&rows, 5)?,
        })
    }

    /// Ends the session of this cookie (sign-out); audited as `sign_out`. Unknown: no-op.
    pub async fn sign_out(&self, ctx: &Ctx, token: &SecretString) -> Result<()> {
        use secrecy::ExposeSecret as _;
        let ended = self
            .db
            .execute(
                "DELETE FROM sessions WHERE id_hash = $1",
                vec![token_hash(token.expose_secret()).into()],
            )
            .await?;
        if ended > 0 {
            self.record(ctx, Event::new(AuditAction::SignOut)).await?;
        }
        Ok(())
    }

    /// Deletes sessions past their absolute expiry (housekeeping; lookups refuse them anyway).
    pub async fn purge_expired(&self) -> Result<u64> {
        let now = self.now();
        let sessions = self
            .db
            .execute(
                "DELETE FROM sessions WHERE expires_at <= $1",
                vec![now.into()],
            )
            .await?;
        let failures = self
            .db
            .execute(
                "DELETE FROM auth_failures WHERE at <= $1",
                vec![(now - ms(self.settings.throttle_window)).into()],
            )
            .await?;
        Ok(sessions + failures)
    }
}

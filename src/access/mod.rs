//! Access control, framework-free: users and grants, sessions, API tokens, the sign-in
//! throttle, first-run setup, upload-request links and the audit log, all on [`crate::db::Db`].
//!
//! The web layer turns a request into a [`Principal`] with one call ([`Access::session`],
//! [`Access::bearer`], [`Access::proxy_principal`] or [`Principal::open`]) and asks
//! [`Principal::check`] for the capability of the route. Every state change made here is
//! audited here, in the same call, so no handler can forget it. The database is the only
//! truth: nothing is cached per replica, so a sign-out, a disabled user or a revoked token or
//! link takes effect on every replica at the next request.

use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use crate::db::Db;

mod ask;
mod audit;
mod error;
mod link_files;
mod links;
mod principal;
mod role;
mod secret;
mod sessions;
mod setup;
mod throttle;
mod time;
mod tokens;
mod users;

pub use ask::{AskChat, AskMessage, AskMode, chat_owner};
pub use audit::{AuditAction, AuditItem, AuditPage, AuditQuery, Event};
pub use error::Error;
pub use links::{Link, LinkDetails, LinkFile, NewLink, Submission, SubmissionInfo};
pub use principal::{Principal, PrincipalKind, Refusal};
pub use role::{ALL_WORKSPACES, Capability, Grant, Role, UnknownRole, valid_workspace};
pub use secret::{TOKEN_PREFIX, generate_password};
pub use sessions::NewSession;
pub use throttle::ThrottleKey;
pub use tokens::{CreatedToken, NewToken, TokenInfo};
pub use users::{NewUser, User, UserChange, valid_username};

/// Result of the access layer.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Tunables, from the configuration (`FASTGATE_SESSION_IDLE`, `FASTGATE_SESSION_MAX`).
#[derive(Clone, Debug)]
pub struct Settings {
    /// A session unused this long ends.
    pub session_idle: Duration,
    /// A session ends this long after sign-in, used or not.
    pub session_max: Duration,
    /// `last_seen_at` / `last_used_at` are written at most this often per session or token.
    pub touch_interval: Duration,
    /// Failures allowed per account or IP within [`Settings::throttle_window`].
    pub throttle_failures: u32,
    /// The sliding window of the throttle.
    pub throttle_window: Duration,
    /// How long a first-run setup token stays valid.
    pub setup_token_ttl: Duration,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            session_idle: Duration::from_secs(12 * 3600),
            session_max: Duration::from_secs(7 * 24 * 3600),
            touch_interval: Duration::from_secs(60),
            throttle_failures: 5,
            throttle_window: Duration::from_secs(15 * 60),
            setup_token_ttl: Duration::from_secs(24 * 3600),
        }
    }
}

/// The time source: the system clock, or a manual one that tests move forward.
#[derive(Clone, Debug, Default)]
pub struct Clock(Option<Arc<AtomicI64>>);

impl Clock {
    /// The system clock.
    pub fn system() -> Self {
        Self(None)
    }

    /// A clock standing at `start_ms` until [`Clock::advance`]d.
    pub fn manual(start_ms: i64) -> Self {
        Self(Some(Arc::new(AtomicI64::new(start_ms))))
    }

    /// Moves a manual clock forward (no effect on the system clock).
    pub fn advance(&self, by: Duration) {
        if let Some(t) = &self.0 {
            t.fetch_add(by.as_millis() as i64, Ordering::SeqCst);
        }
    }

    /// Now, in epoch milliseconds.
    pub fn now_ms(&self) -> i64 {
        match &self.0 {
            Some(t) => t.load(Ordering::SeqCst),
            None => std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_millis() as i64),
        }
    }
}

/// Who the audit log names as the actor.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Actor {
    /// The kind.
    pub kind: ActorKind,
    /// A username, `token@owner`, a link id; `None` for anonymous.
    pub name: Option<String>,
}

/// Kinds of actor in the audit log.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ActorKind {
    /// A signed-in user.
    User,
    /// An API token.
    Token,
    /// An upload-request link visitor.
    Link,
    /// A reverse-proxy user.
    Proxy,
    /// Nobody known (failed sign-in, open mode): the IP says more.
    Anonymous,
    /// The command line (`fastgate user add`) or start-up.
    System,
}

impl ActorKind {
    /// The stored word.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::User => "user",
            Self::Token => "token",
            Self::Link => "link",
            Self::Proxy => "proxy",
            Self::Anonymous => "anonymous",
            Self::System => "system",
        }
    }
}

/// The request around a call, for the audit log: who, from where, which request.
#[derive(Clone, Debug)]
pub struct Ctx {
    /// Who acts.
    pub actor: Actor,
    /// The client IP (after trusted-proxy resolution).
    pub ip: Option<IpAddr>,
    /// The request id (`x-request-id`).
    pub request_id: Option<String>,
}

impl Ctx {
    /// A request by `principal`.
    pub fn of(principal: &Principal, ip: Option<IpAddr>, request_id: Option<String>) -> Self {
        Self {
            actor: principal.actor(),
            ip,
            request_id,
        }
    }

    /// A request by nobody known yet (sign-in, setup, link visits).
    pub fn anonymous(ip: Option<IpAddr>, request_id: Option<String>) -> Self {
        Self {
            actor: Actor {
                kind: ActorKind::Anonymous,
                name: None,
            },
            ip,
            request_id,
        }
    }

    /// The command line.
    pub fn system() -> Self {
        Self {
            actor: Actor {
                kind: ActorKind::System,
                name: None,
            },
            ip: None,
            request_id: None,
        }
    }
}

/// The access service: cheap to clone, one per process.
#[derive(Clone, Debug)]
pub struct Access {
    db: Db,
    settings: Settings,
    clock: Clock,
    hasher: secret::Hasher,
}

impl Access {
    /// The service on `db` with the system clock.
    pub fn new(db: Db, settings: Settings) -> Self {
        Self::with_clock(db, settings, Clock::system())
    }

    /// The service with a given clock (tests use [`Clock::manual`]).
    pub fn with_clock(db: Db, settings: Settings, clock: Clock) -> Self {
        Self {
            db,
            settings,
            clock,
            hasher: secret::Hasher::new(),
        }
    }

    /// The database underneath.
    pub fn db(&self) -> &Db {
        &self.db
    }

    /// The tunables in force.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    fn now(&self) -> i64 {
        self.clock.now_ms()
    }
}

/// `Duration` → milliseconds, saturating.
fn ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests;

//! The failure throttle for sign-in and link passwords: failures are rows in the database, so
//! every replica counts the same ones. After `throttle_failures` failures within
//! `throttle_window`, attempts are refused until the oldest of them leaves the window.

use std::net::IpAddr;
use std::time::Duration;

use super::{Access, Error, Result, ms};

/// What a failure counts against.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ThrottleKey {
    /// A username (lower-case), known or not.
    Account(String),
    /// A client IP.
    Ip(IpAddr),
    /// An upload-request link's password.
    Link(i64),
}

impl ThrottleKey {
    fn scope(&self) -> String {
        match self {
            Self::Account(name) => format!("account:{name}"),
            Self::Ip(ip) => format!("ip:{ip}"),
            Self::Link(id) => format!("link:{id}"),
        }
    }
}

impl Access {
    /// [`Error::Throttled`] with the longest wait among `keys` if any is over the limit.
    pub async fn throttle_check(&self, keys: &[ThrottleKey]) -> Result<()> {
        let now = self.now();
        let window = ms(self.settings.throttle_window);
        let offset = i64::from(self.settings.throttle_failures.max(1) - 1);
        let mut wait = 0i64;
        for key in keys {
            // The n-th most recent failure in the window: while it is inside, the limit holds.
            let row = self
                .db
                .query_opt(
                    "SELECT at FROM auth_failures WHERE scope = $1 AND at > $2
                     ORDER BY at DESC LIMIT 1 OFFSET $3",
                    vec![key.scope().into(), (now - window).into(), offset.into()],
                )
                .await?;
            if let Some(r) = row {
                wait = wait.max(r.int(0)? + window - now);
            }
        }
        if wait > 0 {
            Err(Error::Throttled {
                retry_after: Duration::from_millis(wait as u64).max(Duration::from_secs(1)),
            })
        } else {
            Ok(())
        }
    }

    /// Counts one failure against each key.
    pub async fn throttle_fail(&self, keys: &[ThrottleKey]) -> Result<()> {
        let now = self.now();
        for key in keys {
            self.db
                .execute(
                    "INSERT INTO auth_failures (scope, at) VALUES ($1, $2)",
                    vec![key.scope().into(), now.into()],
                )
                .await?;
        }
        Ok(())
    }

    /// Forgets the failures of one key (an account after a successful sign-in).
    pub async fn throttle_clear(&self, key: &ThrottleKey) -> Result<()> {
        self.db
            .execute(
                "DELETE FROM auth_failures WHERE scope = $1",
                vec![key.scope().into()],
            )
            .await?;
        Ok(())
    }
}

//! Orphaned upload sessions: Fast.io sessions no request and no browser can finish any more,
//! left open when a gateway process died without its graceful shutdown (kill -9, OOM, a lost
//! node). [`crate::server`] sweeps them once at start-up and then on `FASTGATE_ORPHAN_SWEEP`.
//!
//! How a session is told apart, without any marker of our own on the wire (Fast.io keeps no
//! metadata on a session, and a filename marker would end up in the stored name):
//! - the form path opens **stream** sessions (size unknown while the body streams); a form
//!   request lives at most `FASTGATE_UPLOAD_TIMEOUT`, so a stream session created longer ago than
//!   `FASTGATE_ORPHAN_AGE` (≥ that timeout) belongs to no running request on any replica;
//! - the JS path opens **sized** sessions that the browser may resume on any replica for as long
//!   as its signed token lives, so one is orphaned only once `FASTGATE_UPLOAD_TOKEN_TTL` +
//!   `FASTGATE_ORPHAN_AGE` have passed since its creation;
//! - sessions registered in this process's [`LiveUploads`] are never touched, and neither are
//!   sessions Fast.io is assembling or storing (they end by themselves);
//! - the JS path's one-call uploads ([`super::one_call`]) open no session before their chunk, and
//!   then a single call that stores itself: one that failed is sized, and is swept by the rule
//!   of sized sessions.
//!
//! Sessions belong to the API key's user, so the rule assumes the key is the gateway's own.

use std::collections::HashSet;
use std::time::Duration;

use chrono::{DateTime, Utc};

use super::registry::LiveUploads;
use crate::fastio::{self, UploadSession, UploadStatus};

/// When a session counts as orphaned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OrphanRule {
    /// `FASTGATE_ORPHAN_AGE`: past it no form request can still own a stream session.
    pub form_age: Duration,
    /// `FASTGATE_UPLOAD_TOKEN_TTL` + `FASTGATE_ORPHAN_AGE`: past it no browser can resume.
    pub resumable_age: Duration,
}

/// Why a session was judged orphaned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Orphan {
    /// A form-path stream session older than any form request may run.
    Form,
    /// A JS-path sized session older than any upload token lives.
    Resumable,
}

impl Orphan {
    /// For logs and metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            Orphan::Form => "form",
            Orphan::Resumable => "resumable",
        }
    }
}

impl OrphanRule {
    /// Judges one listed session at `now`; `live` are the sessions this process is serving.
    pub fn judge(
        &self,
        session: &UploadSession,
        now: DateTime<Utc>,
        live: &HashSet<String>,
    ) -> Option<Orphan> {
        let id = session.id.as_deref()?;
        if live.contains(id) || !unfinished_by_us(&session.status) {
            return None;
        }
        // Without a creation time the age is unknown: leave it alone.
        let age = (now - session.created?).to_std().ok()?;
        // `stream` is an unverified field: without it, a session with no declared size and no
        // chunks is taken for a stream session (a sized session that received chunks is not).
        let stream = session
            .stream
            .unwrap_or(session.size.is_none() && session.chunks.is_empty());
        if stream {
            (age > self.form_age).then_some(Orphan::Form)
        } else {
            (age > self.resumable_age).then_some(Orphan::Resumable)
        }
    }
}

/// Waiting for bytes (ready, uploading) or failed and never cleaned up; a session Fast.io is
/// assembling or storing finishes by itself and is left alone.
fn unfinished_by_us(status: &UploadStatus) -> bool {
    matches!(status, UploadStatus::Ready | UploadStatus::Uploading) || status.is_failed()
}

/// What one sweep did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SweepReport {
    /// Sessions listed.
    pub listed: usize,
    /// Orphans cancelled.
    pub cancelled: usize,
    /// Orphans whose cancel failed (tried again next sweep).
    pub failed: usize,
}

/// Lists the key's upload sessions and cancels the orphans among them.
pub async fn sweep(
    client: &fastio::Client,
    live: &LiveUploads,
    rule: OrphanRule,
) -> Result<SweepReport, fastio::Error> {
    let sessions = client.list_uploads().await?;
    let live: HashSet<String> = live.sessions().into_iter().collect();
    let now = Utc::now();
    let mut report = SweepReport {
        listed: sessions.len(),
        ..SweepReport::default()
    };
    for session in &sessions {
        let (Some(kind), Some(id)) = (rule.judge(session, now, &live), session.id.as_deref())
        else {
            continue;
        };
        match client.cancel_upload(id).await {
            Ok(()) => {
                report.cancelled += 1;
                tracing::info!(
                    upload_id = id,
                    kind = kind.as_str(),
                    status = session.status.as_str(),
                    "cancelled an orphaned upload session"
                );
            }
            Err(error) => {
                report.failed += 1;
                tracing::warn!(upload_id = id, %error, "could not cancel an orphaned upload session");
            }
        }
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    const RULE: OrphanRule = OrphanRule {
        form_age: Duration::from_secs(60),
        resumable_age: Duration::from_secs(3600),
    };

    fn session(
        id: &str,
        status: &str,
        stream: Option<bool>,
        size: Option<u64>,
        age_secs: i64,
    ) -> UploadSession {
        serde_json::from_value(serde_json::json!({
            "id": id,
            "status": status,
            "stream": stream,
            "size": size,
            "created": (Utc::now() - chrono::Duration::seconds(age_secs)).format("%Y-%m-%d %H:%M:%S UTC").to_string(),
        }))
        .expect("decodes")
    }

    #[test]
    fn an_old_stream_session_is_a_form_orphan_and_a_young_one_is_not() {
        let none = HashSet::new();
        let now = Utc::now();
        assert_eq!(
            RULE.judge(
                &session("a", "uploading", Some(true), None, 120),
                now,
                &none
            ),
            Some(Orphan::Form)
        );
        assert_eq!(
            RULE.judge(&session("b", "ready", Some(true), None, 10), now, &none),
            None
        );
        // No `stream` field: a session without a size or chunks is a stream session.
        assert_eq!(
            RULE.judge(&session("c", "ready", None, None, 120), now, &none),
            Some(Orphan::Form)
        );
        // …but one that holds chunks is a JS session, whatever fields are missing.
        let chunked: UploadSession = serde_json::from_value(serde_json::json!({
            "id": "d", "status": "uploading", "chunks": {"1": 1048576},
            "created": (Utc::now() - chrono::Duration::seconds(120)).format("%Y-%m-%d %H:%M:%S UTC").to_string(),
        }))
        .expect("decodes");
        assert_eq!(RULE.judge(&chunked, now, &none), None);
    }

    #[test]
    fn a_sized_session_waits_for_the_token_lifetime() {
        let none = HashSet::new();
        let now = Utc::now();
        assert_eq!(
            RULE.judge(
                &session("a", "uploading", Some(false), Some(9), 120),
                now,
                &none
            ),
            None
        );
        assert_eq!(
            RULE.judge(
                &session("b", "uploading", Some(false), Some(9), 4000),
                now,
                &none
            ),
            Some(Orphan::Resumable)
        );
    }

    #[test]
    fn live_finishing_and_undated_sessions_are_left_alone() {
        let now = Utc::now();
        let live: HashSet<String> = ["a".to_owned()].into();
        assert_eq!(
            RULE.judge(
                &session("a", "uploading", Some(true), None, 120),
                now,
                &live
            ),
            None
        );
        assert_eq!(
            RULE.judge(&session("b", "storing", Some(true), None, 120), now, &live),
            None
        );
        assert_eq!(
            RULE.judge(
                &session("c", "assembly_failed", Some(true), None, 120),
                now,
                &live
            ),
            Some(Orphan::Form)
        );
        let undated: UploadSession =
            serde_json::from_value(serde_json::json!({"id": "d", "status": "ready"}))
                .expect("decodes");
        assert_eq!(RULE.judge(&undated, now, &live), None);
    }
}

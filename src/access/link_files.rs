//! Files of an upload-request link sent on the JS path, where one submission is fed by several
//! requests (one chunked session per file, a few at once, possibly on several replicas). The
//! form path knows each size only once a file has streamed, so it counts with
//! [`Access::record_file`] after storing; the JS path knows the size when the session is
//! created, so it *reserves* the file there, before any byte goes upstream: two files racing for
//! the submission's last slot cannot both pass. The reservation is a `link_files` row whose node
//! is `pending:<session>` (counted in the submission's totals, hidden from its listing); storing
//! the file fills it in, cancelling deletes it and gives the quota back — each at most once.

use super::links::unsigned;
use super::{Access, Error, Link, LinkFile, Result, SubmissionInfo};
use crate::db::{Atomic, Step};

/// The `node` of a reservation for upload session `session`.
fn pending(session: &str) -> String {
    format!("pending:{session}")
}

impl Access {
    /// The link with id `id`, for a submission already begun through it (the JS path's later
    /// requests carry the id, not the token): [`Error::NotFound`], [`Error::LinkRevoked`] or
    /// [`Error::LinkExpired`] (410) — but not [`Error::LinkExhausted`], since the submission
    /// holds one of its uses.
    pub async fn link_in_use(&self, id: i64) -> Result<Link> {
        let link = self.link_by_id(id).await?;
        match link.refusal(self.now()) {
            Some(Error::LinkExhausted) | None => Ok(link),
            Some(e) => Err(e),
        }
    }

    /// Reserves a file of `size` bytes for upload session `session` in submission `submission`
    /// of `link`, enforcing the per-file size, file count and total bytes atomically
    /// ([`Error::FileTooLarge`], [`Error::TooManyFiles`], [`Error::TooManyBytes`]). Repeating it
    /// for the same session is refused by the unique reservation it already holds.
    pub async fn reserve_file(
        &self,
        link: &Link,
        submission: i64,
        session: &str,
        name: &str,
        size: u64,
    ) -> Result<()> {
        if let Some(max) = link.max_file_size.filter(|m| size > *m) {
            return Err(Error::FileTooLarge(max));
        }
        let bytes = i64::try_from(size).map_err(|_| Error::Invalid("size too large".into()))?;
        let steps = vec![
            Step::require(
                "UPDATE link_submissions SET files = files + 1, bytes = bytes + $2
                 WHERE id = $1 AND link_id = $3
                   AND files < COALESCE((SELECT max_files FROM upload_links l WHERE l.id = link_submissions.link_id), files + 1)
                   AND bytes + $2 <= COALESCE((SELECT max_bytes FROM upload_links l WHERE l.id = link_submissions.link_id), bytes + $2)
                 RETURNING files",
                vec![submission.into(), bytes.into(), link.id.into()],
            ),
            Step::run(
                "INSERT INTO link_files (submission_id, name, size, sha256, node, stored_at)
                 VALUES ($1, $2, $3, '', $4, $5)",
                vec![
                    submission.into(),
                    name.to_owned().into(),
                    bytes.into(),
                    pending(session).into(),
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
                        "SELECT files FROM link_submissions WHERE id = $1 AND link_id = $2",
                        vec![submission.into(), link.id.into()],
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

    /// The reserved file of `session` was stored as `file`: the reservation becomes the file's
    /// row. Safe to repeat (a second call finds no reservation and changes nothing).
    pub async fn store_reserved_file(
        &self,
        submission: i64,
        session: &str,
        file: LinkFile,
    ) -> Result<()> {
        let size = i64::try_from(file.size).map_err(|_| Error::Invalid("size too large".into()))?;
        self.db
            .execute(
                "UPDATE link_files SET name = $3, size = $4, sha256 = $5, node = $6, stored_at = $7
                 WHERE submission_id = $1 AND node = $2",
                vec![
                    submission.into(),
                    pending(session).into(),
                    file.name.into(),
                    size.into(),
                    file.sha256.into(),
                    file.node.into(),
                    self.now().into(),
                ],
            )
            .await?;
        Ok(())
    }

    /// The upload of `session` (reserved with `size` bytes) ended without being stored
    /// (cancelled, failed): its reservation is dropped and its file and bytes count no more.
    /// Safe to repeat, even at once: only the call that deletes the reservation gives back.
    pub async fn release_file(&self, submission: i64, session: &str, size: u64) -> Result<()> {
        let bytes = i64::try_from(size).map_err(|_| Error::Invalid("size too large".into()))?;
        let steps = vec![
            Step::require(
                "DELETE FROM link_files WHERE submission_id = $1 AND node = $2 RETURNING size",
                vec![submission.into(), pending(session).into()],
            ),
            Step::run(
                "UPDATE link_submissions SET files = files - 1, bytes = bytes - $2 WHERE id = $1",
                vec![submission.into(), bytes.into()],
            ),
        ];
        self.db.atomic(steps).await?;
        Ok(())
    }

    /// Submission `submission` of link `link_id` with its stored files (reservations left out),
    /// for the webhook of a JS submission; [`Error::NotFound`] if it is not that link's.
    pub async fn submission(&self, link_id: i64, submission: i64) -> Result<SubmissionInfo> {
        let rows = self
            .db
            .query(
                "SELECT s.id, s.uploader, s.ip, s.started_at, f.name, f.size, f.sha256, f.node
                 FROM link_submissions s
                 LEFT JOIN link_files f ON f.submission_id = s.id AND f.node NOT LIKE 'pending:%'
                 WHERE s.id = $1 AND s.link_id = $2 ORDER BY f.id",
                vec![submission.into(), link_id.into()],
            )
            .await?;
        let first = rows.first().ok_or(Error::NotFound)?;
        let mut info = SubmissionInfo {
            id: first.int(0)?,
            uploader: first.opt_text(1)?,
            ip: first.opt_text(2)?,
            started_at: first.int(3)?,
            files: Vec::new(),
        };
        for r in &rows {
            if let Some(name) = r.opt_text(4)? {
                info.files.push(LinkFile {
                    name,
                    size: unsigned(r.opt_int(5)?).unwrap_or(0),
                    sha256: r.opt_text(6)?.unwrap_or_default(),
                    node: r.opt_text(7)?.unwrap_or_default(),
                });
            }
        }
        Ok(info)
    }
}

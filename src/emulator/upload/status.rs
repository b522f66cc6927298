//! The session status of the upload state machine (§7.9), owned by the emulator.
//!
//! Written on the wire (`session.status`) and in SQLite as the contract's state names, so data
//! directories from before this type still open.

use std::fmt;

use rusqlite::types::{FromSql, FromSqlError, FromSqlResult, ToSql, ToSqlOutput, ValueRef};
use serde::{Serialize, Serializer};

/// Where a session stands (§7.9):
/// `ready → uploading → assemble → assembling → complete → store → storing → stored`, or one of
/// the two failures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Created, awaiting bytes.
    Ready,
    /// Chunks (or the stream body) arriving.
    Uploading,
    /// Assembly queued.
    Assemble,
    /// Assembly running.
    Assembling,
    /// Assembled; without `instance_id` it rests here until `addfile`.
    Complete,
    /// Import into storage queued.
    Store,
    /// Importing.
    Storing,
    /// Done: `new_file_id` is set.
    Stored,
    /// Assembly (or the stream body) failed; see `status_message`.
    AssemblyFailed,
    /// The storage import failed; see `status_message`.
    StoreFailed,
}

impl Status {
    const ALL: [Self; 10] = [
        Self::Ready,
        Self::Uploading,
        Self::Assemble,
        Self::Assembling,
        Self::Complete,
        Self::Store,
        Self::Storing,
        Self::Stored,
        Self::AssemblyFailed,
        Self::StoreFailed,
    ];

    /// The contract's name of the state.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ready => "ready",
            Self::Uploading => "uploading",
            Self::Assemble => "assemble",
            Self::Assembling => "assembling",
            Self::Complete => "complete",
            Self::Store => "store",
            Self::Storing => "storing",
            Self::Stored => "stored",
            Self::AssemblyFailed => "assembly_failed",
            Self::StoreFailed => "store_failed",
        }
    }

    /// The state named `name`, if it is one of §7.9's.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == name)
    }

    /// Stored or failed: no step follows.
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            Self::Stored | Self::AssemblyFailed | Self::StoreFailed
        )
    }

    /// Whether chunks may still arrive (and chunked `complete` may be called).
    pub fn accepts_chunks(self) -> bool {
        matches!(self, Self::Ready | Self::Uploading)
    }

    /// Whether an assembled upload may be placed with `addfile` (§6.5).
    pub fn is_assembled(self) -> bool {
        matches!(self, Self::Complete | Self::Stored)
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for Status {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl ToSql for Status {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::from(self.as_str()))
    }
}

impl FromSql for Status {
    fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
        let name = value.as_str()?;
        Self::parse(name)
            .ok_or_else(|| FromSqlError::Other(format!("unknown status {name}").into()))
    }
}

#[cfg(test)]
mod tests {
    use super::Status;

    #[test]
    fn every_status_reads_back_from_its_contract_name() {
        for s in Status::ALL {
            assert_eq!(Status::parse(s.as_str()), Some(s));
            assert_eq!(serde_json::json!(s), serde_json::json!(s.as_str()));
        }
        assert_eq!(Status::AssemblyFailed.as_str(), "assembly_failed");
        assert_eq!(Status::parse("cancelled"), None);
    }
}

//! The upload state machine (`fastio-api.md` §7, §11 "Upload rules to enforce", "State machine
//! and timings", "Long-poll", "Stream", "Cancel").
//!
//! Sessions, their [`Status`](status::Status) (§7.9) and their chunk records persist in
//! SQLite (`sessions.rs`, `status.rs`, `chunks.rs`). Bytes arrive by single call (§7.4, `single.rs`), chunks and stream
//! (§7.5, §7.6, §7.10, `transfer.rs`) or batch (§7.12, `batch.rs`), each streamed to disk while
//! hashed (`ingest.rs`); create fields are checked in `fields.rs`, and `lifecycle.rs` serves
//! create, complete, details with long-poll, list and cancel (§7.3, §7.7, §7.8, §7.11), with
//! `limits.rs` the limit tables (§7.1, §7.2). `driver.rs` runs the asynchronous steps,
//! `assembly.rs` joins chunks into a blob and `placement.rs` turns it into a file node (and
//! serves `addfile`, §7.3). The in-memory parts it shares with every request (the long-poll
//! notifier, chunks in flight, background tasks) are defined in `state.rs`, below this folder.
//!
//! Dependencies run one way: handlers → `driver` → `assembly`, `placement` → `sessions` →
//! `chunks`, `status`. Nothing here is imported by `storage/`, `transport/` or `state.rs`.

pub mod assembly;
pub mod batch;
pub mod chunks;
pub mod driver;
pub mod fields;
pub mod ingest;
pub mod lifecycle;
pub mod limits;
pub mod placement;
pub mod sessions;
pub mod single;
pub mod status;
pub mod transfer;

//! The upload state machine (`fastio-api.md` §7, §11 "Upload rules to enforce", "State machine
//! and timings", "Long-poll", "Stream", "Cancel").
//!
//! Sessions and their [`Status`](status::Status) (§7.9) persist in SQLite (`sessions.rs`,
//! `status.rs`). Bytes arrive by single call (§7.4, `single.rs`), chunks and stream
//! (§7.5, §7.6, §7.10, `transfer.rs`) or batch (§7.12, `batch.rs`), each streamed to disk while
//! hashed (`ingest.rs`); create fields are checked in `fields.rs`, and `lifecycle.rs` serves
//! create, complete, details with long-poll, list and cancel (§7.3, §7.7, §7.8, §7.11), with
//! `limits.rs` the limit tables (§7.1, §7.2). `driver.rs` runs the asynchronous steps,
//! `assembly.rs` joins chunks into a blob and `placement.rs` turns it into a file node (and
//! serves `addfile`, §6.5). `notifier.rs` wakes long-polls and `inflight.rs` caps chunk requests
//! per session; both live in [`EmulatorState`](super::EmulatorState) and import no handler.
//!
//! Dependencies run one way: handlers → `driver` → `assembly`, `placement` → `sessions` →
//! `status`. Nothing here is imported by `storage/` or `transport/`.

pub mod assembly;
pub mod batch;
pub mod driver;
pub mod fields;
pub mod inflight;
pub mod ingest;
pub mod lifecycle;
pub mod limits;
pub mod notifier;
pub mod placement;
pub mod sessions;
pub mod single;
pub mod status;
pub mod transfer;

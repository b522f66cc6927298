//! Fast.io storage as the emulator keeps it (`fastio-api.md` §4–§6, §11 "Storage",
//! "Downloads", "Share links and File Shares").
//!
//! Identity and workspaces (§4, §5; `workspaces.rs`, which also resolves the workspace a caller
//! names and answers 10545 for non-members), node rows and the node object (§6.2; `nodes.rs`),
//! listing, details and the tree operations (§6.3–§6.5, §6.9 version list; `tree.rs`), downloads
//! with tokens and ranges (§6.7; `downloads.rs`) and File Shares (§6.8; `shares.rs`). Files get
//! here only through the upload state machine's `storing → stored` step and `addfile`
//! (`upload/placement.rs`).

pub mod downloads;
pub mod nodes;
pub mod shares;
pub mod tree;
pub mod workspaces;

//! Fast.io storage as the emulator keeps it (`fastio-api.md` §4–§6, §11 "Storage",
//! "Downloads", "Trash, rename, move, copy", "Versions", "Search", "Previews and transforms",
//! "Share links and File Shares").
//!
//! Identity and workspaces (§4, §5; `workspaces.rs`, which also resolves the workspace a caller
//! names and answers 10545 for non-members), node rows and the node object (§6.2; `nodes.rs`),
//! listing, details and create folder (§6.3–§6.5; `tree.rs`), rename, move and copy (§6.5;
//! `arrange.rs`), the trash, restore and purge (§6.5; `trash.rs`), the conflict rule and the trashing both share (`landing.rs`), search (§6.6; `search.rs`),
//! downloads with tokens and ranges (§6.7; `downloads.rs`), File Shares (§6.8; `shares.rs`),
//! versions (§6.9; `versions.rs`), previews and transforms (§6.10; `previews.rs`,
//! `transform.rs`, with the bounded image work in `imaging.rs`). Files get here only through
//! the upload state machine's `storing → stored` step and `addfile` (`upload/placement.rs`).

pub mod arrange;
pub mod downloads;
pub mod imaging;
pub mod landing;
pub mod nodes;
pub mod previews;
pub mod search;
pub mod shares;
pub mod transform;
pub mod trash;
pub mod tree;
pub mod versions;
pub mod workspaces;

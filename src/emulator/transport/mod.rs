//! The transport contract every route shares (`fastio-api.md` §1–§3, §11 "Routing and auth",
//! "Envelope", "Rate limits", "IDs and timestamps", "Transport faults", "Observability").
//!
//! The envelope and its legacy shapes (§1.1), API errors and their one conversion (§2), Bearer
//! authentication (§1 "Auth"), rate limiting with its headers (§3), fault injection, request
//! counters, and the id and timestamp formats. This layer knows no storage, no upload and no
//! [`EmulatorState`](super::EmulatorState): each middleware takes only the part of the state it
//! reads, so everything above may use it and it uses nothing above.

pub mod auth;
pub mod envelope;
pub mod error;
pub mod faults;
pub mod ids;
pub mod ratelimit;
pub mod stats;

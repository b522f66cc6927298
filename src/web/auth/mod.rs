//! Access control at the HTTP boundary (DESIGN §3b, §5): [`caller::identify`] finds who is
//! calling, [`guard::guard`] enforces each route's [`guard::Need`], [`signin`] serves sign-in,
//! sign-out and first-run setup, and [`api`] the JSON API of tokens, users and the audit log.
//! The rules themselves (roles, sessions, tokens, throttling, audit) live in
//! [`crate::access`]; this module only adapts HTTP to them.

pub mod api;
pub mod audit;
pub mod caller;
pub mod guard;
pub mod signin;

pub use caller::Caller;
pub use guard::Need;

//! fastgate: a secure, streaming upload gateway and file browser for Fast.io workspaces.
//!
//! Data flow: browser → `web` (pages, form actions, JSON API) → `upload` (streaming pipeline)
//! → `fastio::Client` (the only code that speaks Fast.io's wire format) → api.fast.io or the
//! `emulator` (an independent implementation of `fastio-api.md`, embedded by default).

pub mod access;
pub mod config;
pub mod db;
pub mod emulator;
pub mod fastio;
pub mod server;
pub mod telemetry;
pub mod upload;
pub mod web;

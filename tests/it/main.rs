//! The one integration-test binary: the real app and the real emulator over loopback HTTP, one
//! module per capability, every helper in `common/`. One binary links the library once (25 did
//! before), and every test shares one harness: [`common::spawn_app`], the leak scan of every
//! response, [`common::payload`] for test bytes and hashes, [`common::wait_until`] for polls.
//!
//! All tests run as threads of this one process, so nothing may rely on process-wide state:
//! configuration is passed as variables (`Config::from_vars`, never `std::env::set_var`), paths
//! are absolute (never the current directory), logs are captured with a thread-local subscriber,
//! and metrics (one Prometheus recorder per process) are asserted on a gateway process of the
//! test's own (`ops::health`).

mod access;
mod browser;
mod client;
mod common;
mod emulator;
mod ops;
mod properties;
mod upload_api;
mod web;

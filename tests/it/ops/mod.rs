//! Operating fastgate: the built binaries (`check`, logs, the container's command, the
//! benchmark harness), health and metrics, graceful shutdown.
mod bench;
mod check;
mod container;
mod health;
mod logs;
mod schemathesis;
mod shutdown;

//! Operating fastgate: the built binaries (`check`, logs, the container's command, the
//! benchmark harness), health and metrics, graceful shutdown, the fault matrix (faults × both
//! upload paths, orphaned sessions), replicas behind a real nginx, the Kubernetes manifests.
mod bench;
mod check;
mod container;
mod fault_matrix;
mod health;
mod k8s;
mod logs;
mod nginx;
mod schemathesis;
mod shutdown;

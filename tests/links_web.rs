//! The upload-request link tests, as their own binary until the one test binary
//! (`tests/it/main.rs`) lands; then `tests/it/web/` takes them and this file goes.

#[path = "it/web/links.rs"]
mod links;
#[path = "it/web/links_world.rs"]
mod links_world;

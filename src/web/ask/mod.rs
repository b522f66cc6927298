//! Ask your files (DESIGN §3d): questions over a workspace's files, answered by Fast.io's AI
//! (`fastio-api.md` §8) with citations that open the cited page of the file.
//!
//! `service` holds what asking does (checks, scope, ownership, audit, citations resolved to
//! files of the workspace); `api` the JSON routes and the event stream; `pages` the two pages;
//! `text` the pure display pieces (answer markers, marked snippets). Every route needs `view`
//! on the workspace. Chats belong to the fastgate caller who started them (the access
//! database records it, since every Fast.io call uses the one key): anyone else gets 404.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::access::Capability;
use crate::web::auth::Need;
use crate::web::routes::Routes;

mod api;
mod pages;
pub mod service;
pub mod text;

/// This module's routes.
pub fn routes(r: Routes) -> Routes {
    let view = Need::On(Capability::View);
    r.get("/w/{workspace}/ask", view, pages::ask_page)
        .post("/w/{workspace}/ask", view, pages::ask_post)
        .get("/w/{workspace}/ask/{chat}", view, pages::chat_page)
        .post("/w/{workspace}/ask/{chat}", view, pages::follow_up_post)
        .post("/api/ask/{workspace}", view, api::ask)
        .get("/api/ask/{workspace}/{chat}/{message}", view, api::answer)
        .get(
            "/api/ask/{workspace}/{chat}/{message}/events",
            view,
            api::events,
        )
}

/// How many activity long-polls the answer streams hold upstream right now: a client that
/// goes away drops its stream, and its wait with it.
#[derive(Clone, Debug, Default)]
pub struct Waits(Arc<AtomicUsize>);

impl Waits {
    /// Waits held now.
    pub fn held(&self) -> usize {
        self.0.load(Ordering::SeqCst)
    }

    /// Counts one wait until the guard is dropped.
    pub(crate) fn hold(&self) -> WaitGuard {
        self.0.fetch_add(1, Ordering::SeqCst);
        WaitGuard(self.0.clone())
    }
}

/// One wait held; released on drop (also when the future holding it is dropped).
pub(crate) struct WaitGuard(Arc<AtomicUsize>);

impl Drop for WaitGuard {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

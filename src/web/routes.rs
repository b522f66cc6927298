//! The route table: every route of the gateway is added through [`Routes`], which takes a
//! [`Need`] with each one, layers the [`guard`] that enforces it, and records it in a table the
//! tests walk ([`table`]), so a route without a declared need cannot exist.

use axum::Router;
use axum::handler::Handler;
use axum::http::Method;
use axum::middleware::from_fn_with_state;
use axum::routing::{MethodFilter, MethodRouter, on};

use super::AppState;
use super::auth::guard::{Need, guard};

/// One registered route.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RouteSpec {
    /// Its method.
    pub method: Method,
    /// Its path template (`/w/{workspace}/{folder}`).
    pub path: &'static str,
    /// What it needs.
    pub need: Need,
}

/// Routes under construction, each with its need.
pub struct Routes {
    router: Router<AppState>,
    table: Vec<RouteSpec>,
}

impl Default for Routes {
    fn default() -> Self {
        Self::new()
    }
}

impl Routes {
    /// No routes yet.
    pub fn new() -> Self {
        Self {
            router: Router::new(),
            table: Vec::new(),
        }
    }

    /// Adds `handler` for `method` on `path`, behind the guard of `need`.
    pub fn route<H, T>(self, method: Method, path: &'static str, need: Need, handler: H) -> Self
    where
        H: Handler<T, AppState>,
        T: 'static,
    {
        let filter = MethodFilter::try_from(method.clone()).unwrap_or(MethodFilter::GET);
        self.method_router(method, path, need, on(filter, handler))
    }

    /// `GET` (and `HEAD`) `path`.
    pub fn get<H, T>(self, path: &'static str, need: Need, handler: H) -> Self
    where
        H: Handler<T, AppState>,
        T: 'static,
    {
        self.route(Method::GET, path, need, handler)
    }

    /// `POST` `path`.
    pub fn post<H, T>(self, path: &'static str, need: Need, handler: H) -> Self
    where
        H: Handler<T, AppState>,
        T: 'static,
    {
        self.route(Method::POST, path, need, handler)
    }

    /// `PUT` `path`.
    pub fn put<H, T>(self, path: &'static str, need: Need, handler: H) -> Self
    where
        H: Handler<T, AppState>,
        T: 'static,
    {
        self.route(Method::PUT, path, need, handler)
    }

    /// `PATCH` `path`.
    pub fn patch<H, T>(self, path: &'static str, need: Need, handler: H) -> Self
    where
        H: Handler<T, AppState>,
        T: 'static,
    {
        self.route(Method::PATCH, path, need, handler)
    }

    /// `DELETE` `path`.
    pub fn delete<H, T>(self, path: &'static str, need: Need, handler: H) -> Self
    where
        H: Handler<T, AppState>,
        T: 'static,
    {
        self.route(Method::DELETE, path, need, handler)
    }

    /// Adds a prepared method router (one with its own layers) answering `method` on `path`.
    pub fn method_router(
        mut self,
        method: Method,
        path: &'static str,
        need: Need,
        handler: MethodRouter<AppState>,
    ) -> Self {
        self.table.push(RouteSpec { method, path, need });
        let guarded = handler.route_layer(from_fn_with_state(need, guard));
        self.router = self.router.route(path, guarded);
        self
    }

    /// The router and its table.
    pub fn finish(self) -> (Router<AppState>, Vec<RouteSpec>) {
        (self.router, self.table)
    }
}

/// Every route of the gateway with its need (what [`super::app`] serves).
pub fn table() -> Vec<RouteSpec> {
    super::routes().finish().1
}

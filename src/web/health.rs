//! The operator's endpoints: `GET /healthz` (liveness: the process answers), `GET /readyz`
//! (readiness: Fast.io reachable, the key valid, not rate-limited; cached a few seconds so a
//! load balancer probing every second costs Fast.io little) and `GET /metrics` (Prometheus text,
//! [`crate::telemetry`]).

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Json;
use axum::extract::{Extension, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Serialize;
use tokio::sync::Mutex;

use super::AppState;
use crate::fastio;
use crate::telemetry;
use crate::web::auth::Need;
use crate::web::error::ErrorDetail;
use crate::web::routes::Routes;
use axum::http::Method;

/// How long a readiness verdict is reused.
pub const READY_CACHE: Duration = Duration::from_secs(3);

/// How long the upstream checks of one probe may take in all.
const READY_TIMEOUT: Duration = Duration::from_secs(5);

/// This module's routes. Each router gets its own readiness cache.
pub fn routes(r: Routes) -> Routes {
    let cache = Arc::new(ReadyCache::default());
    r.get("/healthz", Need::Public, healthz)
        .method_router(
            Method::GET,
            "/readyz",
            Need::Public,
            get(readyz).layer(Extension(cache)),
        )
        .get("/metrics", Need::Operator, metrics)
}

/// What `/healthz` and `/readyz` answer: `{"status"}`, with the reason when not ready.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Health {
    /// `ok` (`/healthz`), `ready` or `not_ready` (`/readyz`).
    #[schema(value_type = String, pattern = "^(ok|ready|not_ready)$")]
    status: &'static str,
    /// Why not ready.
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<ErrorDetail>,
}

#[utoipa::path(get, path = "/healthz", tag = "health",
    responses((status = 200, description = "The process is up", body = Health)))]
async fn healthz() -> Json<Health> {
    Json(Health {
        status: "ok",
        error: None,
    })
}

/// `GET /readyz`: Fast.io reachable and the key accepted (cached for [`READY_CACHE`]).
#[utoipa::path(get, path = "/readyz", tag = "health",
    responses(
        (status = 200, description = "Ready: Fast.io answers and accepts the key", body = Health),
        (status = 503, description = "Not ready: why, in `error` (with Retry-After when rate-limited)", body = Health),
    ))]
async fn readyz(
    State(state): State<AppState>,
    Extension(cache): Extension<Arc<ReadyCache>>,
) -> Response {
    cache.probe(&state).await
}

async fn metrics(State(state): State<AppState>) -> Response {
    telemetry::upload_bytes_in_flight(state.budget.in_use());
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        telemetry::render(),
    )
        .into_response()
}

/// Why the gateway is not ready.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NotReady {
    /// Fast.io did not answer (connect error, timeout, 5xx).
    Unreachable(String),
    /// Fast.io refused the key.
    KeyInvalid(String),
    /// Fast.io is rate-limiting the key for this long.
    RateLimited(Duration),
}

impl NotReady {
    fn code(&self) -> &'static str {
        match self {
            NotReady::Unreachable(_) => "upstream_unreachable",
            NotReady::KeyInvalid(_) => "key_invalid",
            NotReady::RateLimited(_) => "rate_limited",
        }
    }

    fn message(&self) -> String {
        match self {
            NotReady::Unreachable(why) => format!("Fast.io is not reachable: {why}"),
            NotReady::KeyInvalid(why) => format!("Fast.io refused the API key: {why}"),
            NotReady::RateLimited(wait) => {
                format!("Fast.io is rate-limiting the key for {}s", wait.as_secs())
            }
        }
    }

    fn from_error(error: &fastio::Error) -> Self {
        if let Some(wait) = error.retry_after() {
            NotReady::RateLimited(wait)
        } else if error.http_status() == Some(401) {
            NotReady::KeyInvalid(error.to_string())
        } else {
            NotReady::Unreachable(error.to_string())
        }
    }
}

/// The last verdict and when it was reached; the mutex also makes concurrent probes share one
/// upstream check.
#[derive(Default)]
struct ReadyCache {
    last: Mutex<Option<(Instant, Result<(), NotReady>)>>,
}

impl ReadyCache {
    async fn probe(&self, state: &AppState) -> Response {
        let mut last = self.last.lock().await;
        let verdict = match last.as_ref() {
            Some((at, verdict)) if at.elapsed() < READY_CACHE => verdict.clone(),
            _ => {
                let verdict = check(&state.fastio).await;
                *last = Some((Instant::now(), verdict.clone()));
                verdict
            }
        };
        drop(last);
        respond(verdict)
    }
}

/// Asks Fast.io whether it answers and accepts the key, unless the key is known to be
/// rate-limited right now (then no call is spent).
async fn check(client: &fastio::Client) -> Result<(), NotReady> {
    if let Some(wait) = client.rate_limited_for() {
        return Err(NotReady::RateLimited(wait));
    }
    let calls = async {
        client.ping().await?;
        client.auth_check().await.map(drop)
    };
    match tokio::time::timeout(READY_TIMEOUT, calls).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(error)) => Err(NotReady::from_error(&error)),
        Err(_) => Err(client.rate_limited_for().map_or_else(
            || NotReady::Unreachable(format!("no answer within {}s", READY_TIMEOUT.as_secs())),
            NotReady::RateLimited,
        )),
    }
}

fn respond(verdict: Result<(), NotReady>) -> Response {
    match verdict {
        Ok(()) => Json(Health {
            status: "ready",
            error: None,
        })
        .into_response(),
        Err(reason) => {
            tracing::warn!(reason = reason.code(), "not ready");
            let body = Health {
                status: "not_ready",
                error: Some(ErrorDetail {
                    code: reason.code().to_owned(),
                    message: reason.message(),
                }),
            };
            let mut response = (StatusCode::SERVICE_UNAVAILABLE, Json(body)).into_response();
            if let NotReady::RateLimited(wait) = reason {
                response.headers_mut().insert(
                    header::RETRY_AFTER,
                    HeaderValue::from(wait.as_secs().max(1)),
                );
            }
            response
        }
    }
}

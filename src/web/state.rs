//! The state every handler receives: the validated configuration and the long-lived services
//! built from it once at start-up.

use std::sync::Arc;

use crate::access::Access;
use crate::config::Config;
use crate::db::{self, Db, Target};
use crate::fastio;
use crate::upload::budget::Budget;
use crate::upload::chunked::{ChunkedRules, ChunkedUploads};
use crate::upload::one_call::OneCallRecords;
use crate::upload::registry::LiveUploads;
use crate::upload::token::TokenKey;
use crate::web::names::NameCache;

/// Shared by all handlers through axum's `State`: one `Arc`, since every middleware layer and
/// handler of a request takes its own clone.
#[derive(Clone)]
pub struct AppState(Arc<Services>);

impl std::ops::Deref for AppState {
    type Target = Services;

    fn deref(&self) -> &Services {
        &self.0
    }
}

/// What [`AppState`] holds.
pub struct Services {
    /// The configuration, validated at start-up.
    pub config: Arc<Config>,
    /// The Fast.io client (real API or emulator); the only holder of the API key.
    pub fastio: fastio::Client,
    /// Signs and checks the upload capabilities held by browsers.
    pub tokens: TokenKey,
    /// Gateway-wide budget of upload bytes held in memory; full means readers wait.
    pub budget: Budget,
    /// Fast.io sessions tied to a running request; shutdown cancels those left unfinished.
    pub uploads: LiveUploads,
    /// Folder and workspace names, reused for a few seconds by listings.
    pub names: NameCache,
    /// The JS path's upload services (chunk plan, token, admission, wait-and-verify).
    pub chunked: ChunkedUploads,
    /// Users, sessions, tokens, links and the audit log, on the access database.
    pub access: Access,
    /// Upstream waits held by answer streams (see [`crate::web::ask::Waits`]).
    pub ask_waits: crate::web::ask::Waits,
}

impl AppState {
    /// Opens the access database `config` names (migrating it) and builds the services around
    /// an already configured Fast.io client.
    pub async fn open(config: Config, fastio: fastio::Client) -> Result<Self, db::Error> {
        if let Target::Sqlite(path) = &config.access.database
            && let Some(dir) = path.parent()
        {
            std::fs::create_dir_all(dir).map_err(|e| {
                db::Error::Unavailable(format!("cannot create {}: {e}", dir.display()))
            })?;
        }
        let db = Db::open(&config.access.database).await?;
        let access = Access::new(db, config.access.settings());
        Ok(Self::new(config, fastio, access))
    }

    /// Builds the services of `config` around a Fast.io client and an access service.
    pub fn new(config: Config, fastio: fastio::Client, access: Access) -> Self {
        let tokens = TokenKey::new(config.secret.clone());
        let budget = Budget::new(config.inflight_budget, BUDGET_BLOCK);
        let rules = ChunkedRules {
            chunk_size: config.chunk_size,
            max_file_size: config.max_file_size,
            allowed: config.allowed_types.clone(),
            store_timeout: config.upload_timeout,
            token_ttl: config.upload_token_ttl,
        };
        let records = OneCallRecords::new(access.db().clone());
        let chunked = ChunkedUploads::new(
            fastio.clone(),
            budget.clone(),
            tokens.clone(),
            rules,
            records,
        );
        Self(Arc::new(Services {
            config: Arc::new(config),
            fastio,
            tokens,
            budget,
            uploads: LiveUploads::new(),
            names: NameCache::new(),
            chunked,
            access,
            ask_waits: crate::web::ask::Waits::default(),
        }))
    }
}

impl Services {
    /// Whether the gateway exposes `workspace` (`FASTGATE_WORKSPACES`).
    pub fn exposes(&self, workspace: &str) -> bool {
        self.config.workspaces.allows(workspace)
    }
}

/// Granularity of the in-flight budget: permits are counted in 64 KiB blocks.
const BUDGET_BLOCK: u64 = 64 * 1024;

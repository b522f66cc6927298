//! Start-up: from a validated [`Config`] to a running gateway. Chooses the upstream (the real
//! Fast.io API when a key is configured, otherwise the embedded emulator on its own loopback
//! port), builds the Fast.io client and the app state, and serves until Ctrl-C or SIGTERM.

use std::time::Duration;

use rand::Rng;
use rand::distributions::Alphanumeric;
use secrecy::{ExposeSecret, SecretString};
use tokio::net::TcpListener;

use crate::config::{Config, LogFormat};
use crate::emulator::{self, EmulatorConfig, RunningEmulator};
use crate::fastio::{self, ClientConfig};
use crate::web::{self, AppState};

/// Why the gateway could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The listen address is taken or not allowed.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address asked for.
        addr: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// The embedded emulator failed to start (its data directory, usually).
    #[error("the embedded Fast.io emulator failed to start: {0}")]
    Emulator(#[from] emulator::EmulatorError),
    /// The Fast.io client could not be built.
    #[error("the Fast.io client could not be built: {0}")]
    Client(#[from] fastio::Error),
    /// Serving failed.
    #[error("server error: {0}")]
    Serve(std::io::Error),
}

/// Where the gateway's Fast.io traffic goes.
pub struct Upstream {
    /// The client aimed at it.
    pub client: fastio::Client,
    /// The embedded emulator, when no API key is configured (kept alive while serving).
    pub embedded: Option<RunningEmulator>,
}

impl Upstream {
    /// The real API with the configured key, or an embedded emulator with a generated key and
    /// `FASTGATE_DATA_DIR/emulator` as its storage.
    pub async fn connect(config: &Config) -> Result<Self, StartError> {
        match &config.api_key {
            Some(key) => Ok(Self {
                client: fastio::Client::new(ClientConfig::new(&config.base_url, key.clone()))?,
                embedded: None,
            }),
            None => {
                let key = generated_key();
                let listener =
                    TcpListener::bind("127.0.0.1:0")
                        .await
                        .map_err(|source| StartError::Bind {
                            addr: "127.0.0.1:0".to_owned(),
                            source,
                        })?;
                let data_dir = config.data_dir.join("emulator");
                let running = emulator::start(
                    EmulatorConfig::new(&data_dir, key.expose_secret()),
                    listener,
                )
                .await?;
                tracing::info!(
                    url = %running.base_url(),
                    data_dir = %data_dir.display(),
                    "no FASTIO_API_KEY: using the embedded Fast.io emulator"
                );
                let client = fastio::Client::new(ClientConfig::new(running.base_url(), key))?;
                Ok(Self {
                    client,
                    embedded: Some(running),
                })
            }
        }
    }
}

/// Serves the gateway on `FASTGATE_BIND` until Ctrl-C or SIGTERM.
pub async fn serve(config: Config) -> Result<(), StartError> {
    let bind = config.bind;
    let listener = TcpListener::bind(bind)
        .await
        .map_err(|source| StartError::Bind {
            addr: bind.to_string(),
            source,
        })?;
    let upstream = Upstream::connect(&config).await?;
    let public_url = config.public_url.clone();
    let grace = config.shutdown_grace;
    let app = web::app(AppState::new(config, upstream.client.clone()));
    tracing::info!(%bind, "fastgate listening");
    println!("fastgate is running at {public_url}");
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown_signal(grace))
        .await
        .map_err(StartError::Serve)?;
    if let Some(emulator) = upstream.embedded {
        emulator.shutdown().await;
    }
    Ok(())
}

/// Resolves on Ctrl-C or SIGTERM; after `grace` more, exits the process so a stuck request
/// cannot hold the shutdown forever.
async fn shutdown_signal(grace: Duration) {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!(
        grace_secs = grace.as_secs(),
        "shutting down: finishing running requests"
    );
    tokio::spawn(async move {
        tokio::time::sleep(grace).await;
        tracing::warn!("grace period over: exiting");
        std::process::exit(0);
    });
}

/// A random key for the embedded emulator; it never leaves this process.
fn generated_key() -> SecretString {
    let key: String = rand::thread_rng()
        .sample_iter(&Alphanumeric)
        .take(40)
        .map(char::from)
        .collect();
    SecretString::from(format!("emu_{key}"))
}

/// Installs the tracing subscriber: human-readable or JSON lines, filtered by `RUST_LOG`
/// (default `info`).
pub fn init_tracing(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    match format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Pretty => builder.init(),
    }
}

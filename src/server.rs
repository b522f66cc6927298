//! Start-up: from a validated [`Config`] to a running gateway. Chooses the upstream (the real
//! Fast.io API when a key is configured, otherwise the embedded emulator on its own loopback
//! port), builds the Fast.io client and the app state, and serves until Ctrl-C or SIGTERM.

use std::future::Future;
use std::io::IsTerminal as _;
use std::time::Duration;

use rand::RngExt as _;
use rand::distr::Alphanumeric;
use secrecy::{ExposeSecret, SecretString};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::config::{AuthMode, Config, LogFormat};
use crate::emulator::{self, EmulatorConfig, RunningEmulator};
use crate::fastio::{self, ClientConfig};
use crate::telemetry;
use crate::upload::orphans::{self, OrphanRule};
use crate::upload::registry::LiveUploads;
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
    /// The access database could not be opened or migrated.
    #[error("the access database: {0}")]
    Database(#[from] crate::db::Error),
    /// The access database refused a start-up step (the first-run setup token).
    #[error("the access database: {0}")]
    Access(#[from] crate::access::Error),
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

/// How often expired sessions, old sign-in failures and spent setup tokens are deleted.
const HOUSEKEEPING_EVERY: Duration = Duration::from_secs(3600);

/// Deletes what has expired from the access database, once an hour (lookups refuse expired rows
/// anyway; this only keeps the tables small). Every replica may run it: the deletes are
/// idempotent.
async fn housekeeping(access: crate::access::Access) {
    let mut every = tokio::time::interval(HOUSEKEEPING_EVERY);
    loop {
        every.tick().await;
        match access.purge_expired().await {
            Ok(rows) => tracing::debug!(rows, "access housekeeping"),
            Err(error) => tracing::warn!(%error, "access housekeeping failed"),
        }
    }
}

/// Cancels orphaned upload sessions ([`crate::upload::orphans`]) now and then every `every`;
/// every replica may run it (a cancel is idempotent, and the rule never picks a live session).
async fn sweep_orphans(
    client: fastio::Client,
    live: LiveUploads,
    rule: OrphanRule,
    every: Duration,
) {
    let mut ticks = tokio::time::interval(every);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        match orphans::sweep(&client, &live, rule).await {
            Ok(report) => tracing::debug!(
                listed = report.listed,
                cancelled = report.cancelled,
                failed = report.failed,
                "orphaned upload sessions swept"
            ),
            Err(error) => tracing::warn!(%error, "could not list the upload sessions to sweep"),
        }
    }
}

/// Says at start-up how access works: in open mode a warning; in accounts mode with no admin
/// yet, the one-time setup URL (its token stored hashed, so any replica accepts it).
async fn announce_access(state: &AppState, public_url: &str) -> Result<(), StartError> {
    match state.config.access.auth {
        AuthMode::Open => tracing::warn!(
            "FASTGATE_AUTH=open: anyone who can reach this address may browse, upload and share"
        ),
        AuthMode::Proxy => tracing::info!(
            header = state.config.access.proxy_header.as_str(),
            "identity from the reverse proxy's header"
        ),
        AuthMode::Accounts => {
            if let Some(token) = state.access.issue_setup_token().await? {
                let setup_url = format!("{public_url}/setup?token={}", token.expose_secret());
                // JSON logs carry it as a field for collectors; a terminal gets the plain line
                // next to "running at", like Jupyter's token.
                if state.config.log_format == LogFormat::Json {
                    tracing::info!(
                        setup_url = %setup_url,
                        "setup: open {setup_url} to create the first admin"
                    );
                } else {
                    println!("setup: open {setup_url} to create the first admin");
                }
            }
        }
    }
    Ok(())
}

/// Serves the gateway on `FASTGATE_BIND` until Ctrl-C or SIGTERM, then shuts down gracefully
/// ([`run`]).
pub async fn serve(mut config: Config) -> Result<(), StartError> {
    let bind = config.bind;
    let listener = TcpListener::bind(bind)
        .await
        .map_err(|source| StartError::Bind {
            addr: bind.to_string(),
            source,
        })?;
    let upstream = Upstream::connect(&config).await?;
    let addr = listener.local_addr().map_or(bind, |a| a);
    // Port 0 picks a free port: the default public URL (http:// + bind) must name the real one,
    // or the Origin check would refuse every form post.
    if bind.port() == 0 && config.public_url == format!("http://{bind}") {
        config.public_url = format!("http://{addr}");
    }
    let public_url = config.public_url.clone();
    let state = AppState::open(config, upstream.client.clone()).await?;
    tracing::info!(%addr, "fastgate listening");
    // A terminal gets the plain line; with JSON logs every line the process writes is JSON.
    if state.config.log_format == LogFormat::Json {
        tracing::info!(url = %public_url, "fastgate is running at {public_url}");
    } else {
        println!("fastgate is running at {public_url}");
    }
    announce_access(&state, &public_url).await?;
    let housekeeping = tokio::spawn(housekeeping(state.access.clone()));
    let orphans = state.config.orphan_sweep.map(|every| {
        let rule = OrphanRule {
            form_age: state.config.orphan_age,
            resumable_age: state.config.upload_token_ttl + state.config.orphan_age,
        };
        tokio::spawn(sweep_orphans(
            state.fastio.clone(),
            state.uploads.clone(),
            rule,
            every,
        ))
    });
    let result = run(listener, state, shutdown_signal()).await;
    housekeeping.abort();
    if let Some(orphans) = orphans {
        orphans.abort();
    }
    if let Some(emulator) = upstream.embedded {
        emulator.shutdown().await;
    }
    result.map(drop)
}

/// What a graceful shutdown did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShutdownReport {
    /// Every running request finished within the grace period.
    pub drained: bool,
    /// Fast.io sessions of unfinished uploads that were cancelled.
    pub cancelled: usize,
}

/// How long cancelling the unfinished uploads may take on the way out.
const CANCEL_TIMEOUT: Duration = Duration::from_secs(10);

/// Serves the app of `state` on `listener` until `shutdown` resolves; then stops accepting,
/// lets running requests finish for up to `FASTGATE_SHUTDOWN_GRACE`, and cancels the Fast.io
/// sessions of the uploads still registered in [`AppState::uploads`] (those that could not
/// finish), so nothing half-written stays upstream.
pub async fn run(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<ShutdownReport, StartError> {
    let grace = state.config.shutdown_grace;
    let uploads = state.uploads.clone();
    let client = state.fastio.clone();
    let stop = CancellationToken::new();
    let stopped = stop.clone();
    // The process-wide metrics recorder, before the first request is counted.
    telemetry::install();
    let header_timeout = state.config.header_timeout;
    let app = web::app(state);
    let server = serve_app(listener, app, header_timeout, async move {
        stopped.cancelled().await;
    });
    let mut server = tokio::spawn(server);
    tokio::select! {
        joined = &mut server => return served(joined).map(|()| ShutdownReport { drained: true, cancelled: 0 }),
        () = shutdown => {}
    }
    stop.cancel();
    tracing::info!(
        grace_secs = grace.as_secs_f64(),
        running_uploads = uploads.len(),
        "shutting down: no new connections; finishing running requests"
    );
    let drained = match tokio::time::timeout(grace, &mut server).await {
        Ok(joined) => {
            served(joined)?;
            true
        }
        Err(_) => {
            server.abort();
            false
        }
    };
    let cancelled = if uploads.is_empty() {
        0
    } else {
        tokio::time::timeout(CANCEL_TIMEOUT, uploads.cancel_all(&client))
            .await
            .unwrap_or(0)
    };
    tracing::info!(drained, cancelled, "shut down");
    Ok(ShutdownReport { drained, cancelled })
}

/// Most bytes hyper reads ahead from one HTTP/1.1 connection (its default is ~400 KiB). Upload
/// bodies wait in this buffer, the frame handed on and the multipart reader's buffer while their
/// file waits for the in-flight budget, so this bounds a connection's memory outside the budget to
/// a few times 32 KiB. heaptrack at the peak of 50 concurrent form uploads (`fastgate-bench` 4)
/// found ~250 KiB per connection at 64 KiB, half in hyper's buffers and half in multer's; at
/// 32 KiB the extra receive calls cost a form upload about 8 % more CPU per GiB.
const READ_BUFFER_MAX: usize = 32 * 1024;

/// Serves `app` on `listener` (HTTP/1.1 and h2c, peers' addresses as `ConnectInfo`) until
/// `shutdown` resolves, then stops accepting and waits for the open connections to finish.
/// A connection that takes longer than `header_timeout` to send a request's headers is closed
/// (slowloris); failed accepts (out of file descriptors) are logged and retried, never fatal.
pub async fn serve_app(
    listener: TcpListener,
    app: axum::Router,
    header_timeout: Duration,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
    use hyper_util::server::conn::auto::Builder;
    use tower::ServiceExt as _;

    let mut builder = Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(header_timeout)
        .max_buf_size(READ_BUFFER_MAX);
    builder.http2().timer(TokioTimer::new());
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    tracing::warn!(%error, "accepting a connection failed; retrying");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let router = app.clone();
        let service = hyper::service::service_fn(move |mut req: hyper::Request<_>| {
            req.extensions_mut()
                .insert(axum::extract::ConnectInfo(peer));
            router.clone().oneshot(req)
        });
        let connection = builder
            .serve_connection_with_upgrades(TokioIo::new(stream), service)
            .into_owned();
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            if let Err(error) = connection.await {
                tracing::debug!(%error, "connection closed with an error");
            }
        });
    }
    drop(listener);
    graceful.shutdown().await;
    Ok(())
}

fn served(joined: Result<std::io::Result<()>, tokio::task::JoinError>) -> Result<(), StartError> {
    match joined {
        Ok(result) => result.map_err(StartError::Serve),
        Err(e) => Err(StartError::Serve(std::io::Error::other(e))),
    }
}

/// Resolves on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
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
}

/// A random key for the embedded emulator; it never leaves this process.
fn generated_key() -> SecretString {
    let key: String = rand::rng()
        .sample_iter(&Alphanumeric)
        .take(40)
        .map(char::from)
        .collect();
    SecretString::from(format!("emu_{key}"))
}

/// Keeps glibc's malloc from handing freed heap back to the kernel after every burst. A form
/// upload's multipart buffers come and go at the pace of the socket; with glibc's default (a
/// trim threshold that follows the largest block freed) each GiB uploaded cost ~66,000 page
/// faults on freshly zeroed pages, about a tenth of the gateway's CPU. Up to 32 MiB of free heap
/// is now kept for reuse (and the threshold no longer moves), which brings that to a few dozen.
/// Peak RSS does not change: it is set by the in-flight budget, not by trimming.
///
/// Setting the trim threshold also freezes glibc's mmap threshold at its 128 KiB default, so
/// every block above it (a listing's ~200 KB upstream page, its ~80 KB answer growing past it)
/// was mapped, faulted in page by page and unmapped on each request: a quarter of a listing's
/// CPU. Blocks up to 1 MiB now come from the heap; the budget's 4 MiB parts and 8 MiB chunks,
/// which it keeps for reuse, are still mapped. Call it first, before any thread starts.
pub fn tune_allocator() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    #[allow(unsafe_code)]
    // SAFETY: mallopt only sets parameters of the allocator; nothing else runs yet.
    unsafe {
        libc::mallopt(libc::M_TRIM_THRESHOLD, 32 << 20);
        libc::mallopt(libc::M_MMAP_THRESHOLD, 1 << 20);
    }
}

/// Installs the tracing subscriber on stderr: human-readable (coloured on a terminal) or JSON
/// lines, filtered by `RUST_LOG` (default `info`). With JSON, a panic is logged as one JSON line
/// too (instead of the standard hook's plain text). Only the first call installs anything, so
/// `main` may install it early (from [`LogFormat::from_env`]) and a command again.
pub fn init_tracing(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal());
    let installed = match format {
        LogFormat::Json => builder.json().try_init().is_ok(),
        LogFormat::Pretty => builder.try_init().is_ok(),
    };
    if installed && format == LogFormat::Json {
        std::panic::set_hook(Box::new(|info| {
            let message = info
                .payload()
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| info.payload().downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "panic".to_owned());
            let location = info
                .location()
                .map(|l| format!("{}:{}", l.file(), l.line()))
                .unwrap_or_default();
            let thread = std::thread::current()
                .name()
                .unwrap_or("unnamed")
                .to_owned();
            tracing::error!(target: "panic", %location, %thread, "panicked: {message}");
        }));
    }
}

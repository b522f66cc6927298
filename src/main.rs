//! The `fastgate` command line: `serve` (the default) runs the gateway, `emulator` runs the
//! Fast.io emulator stand-alone, `check` validates the configuration and reaches the upstream,
//! `healthcheck` probes a running gateway (the container image has no curl).

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use fastgate::config::Config;
use fastgate::emulator::{self, EmulatorArgs};
use fastgate::server::{self, Upstream};

#[derive(Parser)]
#[command(
    name = "fastgate",
    version,
    about = "A secure, streaming upload gateway and file browser for Fast.io workspaces"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the gateway (the default). Without FASTIO_API_KEY it embeds the emulator.
    Serve,
    /// Run the Fast.io emulator alone; its API lives under /current/.
    Emulator(Box<EmulatorArgs>),
    /// Validate the configuration, reach the upstream with the key, and report.
    Check,
    /// Probe a running gateway's `/healthz` on `FASTGATE_BIND` (the container's HEALTHCHECK).
    Healthcheck,
}

/// Exit code for configuration problems (as `sysexits`' usage errors are reported by many tools).
const CONFIG_ERROR: u8 = 2;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("fastgate: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async {
        match cli.command.unwrap_or(Command::Serve) {
            Command::Serve => serve().await,
            Command::Emulator(args) => run_emulator(*args).await,
            Command::Check => check().await,
            Command::Healthcheck => healthcheck().await,
        }
    })
}

fn load_config() -> Result<Config, ExitCode> {
    Config::from_env().map_err(|e| {
        eprintln!("fastgate: the configuration has problems:\n{e}");
        ExitCode::from(CONFIG_ERROR)
    })
}

async fn serve() -> ExitCode {
    let config = match load_config() {
        Ok(config) => config,
        Err(code) => return code,
    };
    server::init_tracing(config.log_format);
    match server::serve(config).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %e, "fastgate stopped");
            eprintln!("fastgate: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run_emulator(args: EmulatorArgs) -> ExitCode {
    server::init_tracing(fastgate::config::LogFormat::Pretty);
    let (bind, config) = match args.into_config() {
        Ok(pair) => pair,
        Err(e) => {
            eprintln!("fastgate emulator: {e}");
            return ExitCode::from(CONFIG_ERROR);
        }
    };
    let listener = match tokio::net::TcpListener::bind(bind).await {
        Ok(listener) => listener,
        Err(e) => {
            eprintln!("fastgate emulator: cannot listen on {bind}: {e}");
            return ExitCode::FAILURE;
        }
    };
    let running = match emulator::start(config, listener).await {
        Ok(running) => running,
        Err(e) => {
            eprintln!("fastgate emulator: {e}");
            return ExitCode::FAILURE;
        }
    };
    println!("Fast.io emulator listening at {}", running.base_url());
    println!("seeded workspace: {}", running.workspace_id());
    let _ = tokio::signal::ctrl_c().await;
    running.shutdown().await;
    ExitCode::SUCCESS
}

async fn check() -> ExitCode {
    let config = match load_config() {
        Ok(config) => config,
        Err(code) => return code,
    };
    println!("configuration: ok");
    let upstream = match Upstream::connect(&config).await {
        Ok(upstream) => upstream,
        Err(e) => {
            println!("upstream: {e}");
            return ExitCode::FAILURE;
        }
    };
    let label = if upstream.embedded.is_some() {
        "embedded emulator (no FASTIO_API_KEY)"
    } else {
        config.base_url.as_str()
    };
    println!("upstream: {label}");
    let result = async {
        upstream.client.ping().await?;
        println!("ping: ok");
        let user = upstream.client.auth_check().await?;
        println!("key: valid (user {user})");
        let workspaces = upstream.client.list_workspaces().await?;
        let exposed = workspaces
            .iter()
            .filter(|w| config.workspaces.allows(&w.id))
            .count();
        println!(
            "workspaces: {} visible, {exposed} exposed",
            workspaces.len()
        );
        Ok::<_, fastgate::fastio::Error>(())
    }
    .await;
    if let Some(emulator) = upstream.embedded {
        emulator.shutdown().await;
    }
    match result {
        Ok(()) => {
            println!("check: ok");
            ExitCode::SUCCESS
        }
        Err(e) => {
            println!("check failed: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn healthcheck() -> ExitCode {
    let config = match load_config() {
        Ok(config) => config,
        Err(code) => return code,
    };
    let mut addr = config.bind;
    if addr.ip().is_unspecified() {
        addr.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
    }
    let url = format!("http://{addr}/healthz");
    let probe = async {
        let client = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(5))
            .build()?;
        client.get(&url).send().await?.error_for_status()
    };
    match probe.await {
        Ok(_) => {
            println!("{url}: ok");
            ExitCode::SUCCESS
        }
        Err(e) => {
            println!("{url}: {}", e.without_url());
            ExitCode::FAILURE
        }
    }
}

//! The `fastgate` command line: `serve` (the default) runs the gateway, `emulator` runs the
//! Fast.io emulator stand-alone, `check` validates the configuration and reaches the upstream,
//! `healthcheck` probes a running gateway (the container image has no curl), `user add` and
//! `token add` manage the access database from a script or a container.

use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use fastgate::access::{self, Access, Ctx, NewToken, NewUser, Role};
use fastgate::config::{Config, LogFormat};
use fastgate::db::Db;
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
    /// Manage users in the access database.
    #[command(subcommand)]
    User(UserCommand),
    /// Manage API tokens in the access database.
    #[command(subcommand)]
    Token(TokenCommand),
}

#[derive(Subcommand)]
enum UserCommand {
    /// Add a user. The password is read from stdin when piped; otherwise one is generated and
    /// printed once.
    Add(UserAdd),
}

#[derive(Args)]
struct UserAdd {
    /// Username: letters, digits, ".", "_", "-", "@" (stored lower-case).
    name: String,
    /// viewer, uploader, editor or admin.
    #[arg(long)]
    role: Role,
    /// The workspace id the role applies to; omitted: every workspace (*).
    #[arg(long)]
    workspace: Option<String>,
}

#[derive(Subcommand)]
enum TokenCommand {
    /// Create an API token for a user and print it once.
    Add(TokenAdd),
}

#[derive(Args)]
struct TokenAdd {
    /// A name for the token (shown in the token list).
    name: String,
    /// The user the token acts for.
    #[arg(long)]
    user: String,
    /// viewer, uploader, editor or admin; at most the user's own role.
    #[arg(long)]
    role: Role,
    /// Limit the token to one workspace id.
    #[arg(long)]
    workspace: Option<String>,
    /// Lifetime in seconds; omitted: until revoked.
    #[arg(long, value_name = "SECS")]
    expires_in: Option<u64>,
}

/// Exit code for configuration problems (as `sysexits`' usage errors are reported by many tools).
const CONFIG_ERROR: u8 = 2;

fn main() -> ExitCode {
    server::tune_allocator();
    // With JSON logs every line the process writes is JSON, command-line errors included.
    let log_format = LogFormat::from_env();
    if log_format == LogFormat::Json {
        server::init_tracing(LogFormat::Json);
    }
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        // --help and --version are answers a person asked for, not log lines.
        Err(e) if log_format == LogFormat::Json && e.use_stderr() => {
            let text = e.render().to_string();
            tracing::error!(kind = %e.kind(), "invalid command line: {}", text.trim_end());
            return ExitCode::from(CONFIG_ERROR);
        }
        Err(e) => e.exit(),
    };
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(e) => {
            Report(log_format).problem(&format!("fastgate: cannot start the async runtime: {e}"));
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async {
        match cli.command.unwrap_or(Command::Serve) {
            Command::Serve => serve().await,
            Command::Emulator(args) => run_emulator(*args).await,
            Command::Check => check().await,
            Command::Healthcheck => healthcheck().await,
            Command::User(UserCommand::Add(args)) => user_add(args).await,
            Command::Token(TokenCommand::Add(args)) => token_add(args).await,
        }
    })
}

/// How a command speaks to the person or script that ran it. Plain lines on a terminal; under
/// JSON logs every line is JSON: reports and problems are log events (stderr, like every other
/// log line), and a command's answer for scripts (a token, a generated password) is one JSON
/// object on stdout, so `$(fastgate token add …)` still captures only the answer.
#[derive(Clone, Copy)]
struct Report(LogFormat);

impl Report {
    fn from_env() -> Self {
        Self(LogFormat::from_env())
    }

    /// A line of progress or result (stdout when plain).
    fn line(self, text: &str) {
        match self.0 {
            LogFormat::Json => tracing::info!("{text}"),
            LogFormat::Pretty => println!("{text}"),
        }
    }

    /// A remark beside the answer (stderr when plain, so stdout holds only the answer).
    fn note(self, text: &str) {
        match self.0 {
            LogFormat::Json => tracing::info!("{text}"),
            LogFormat::Pretty => eprintln!("{text}"),
        }
    }

    /// A failure (stderr when plain).
    fn problem(self, text: &str) {
        match self.0 {
            LogFormat::Json => tracing::error!("{text}"),
            LogFormat::Pretty => eprintln!("{text}"),
        }
    }

    /// The command's answer: `plain` lines on stdout, or `json` as one object.
    fn answer(self, plain: &str, json: serde_json::Value) {
        match self.0 {
            LogFormat::Json => println!("{json}"),
            LogFormat::Pretty => println!("{plain}"),
        }
    }
}

fn load_config() -> Result<Config, ExitCode> {
    Config::from_env().map_err(|e| {
        let format = LogFormat::from_env();
        if format == LogFormat::Json {
            let problems: Vec<String> = e
                .problems
                .iter()
                .map(|p| format!("{}: {}. Fix: {}", p.variable, p.message, p.fix))
                .collect();
            tracing::error!(?problems, "fastgate: the configuration has problems");
        } else {
            eprintln!("fastgate: the configuration has problems:\n{e}");
        }
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
            if config_is_pretty() {
                eprintln!("fastgate: {e}");
            }
            ExitCode::FAILURE
        }
    }
}

fn config_is_pretty() -> bool {
    LogFormat::from_env() == LogFormat::Pretty
}

async fn run_emulator(args: EmulatorArgs) -> ExitCode {
    let report = Report::from_env();
    server::init_tracing(report.0);
    let generated_key = args.generates_key();
    let (bind, config) = match args.into_config() {
        Ok(pair) => pair,
        Err(e) => {
            report.problem(&format!("fastgate emulator: {e}"));
            return ExitCode::from(CONFIG_ERROR);
        }
    };
    let listener = match tokio::net::TcpListener::bind(bind).await {
        Ok(listener) => listener,
        Err(e) => {
            report.problem(&format!("fastgate emulator: cannot listen on {bind}: {e}"));
            return ExitCode::FAILURE;
        }
    };
    let config_key = config.api_key.clone();
    let running = match emulator::start(config, listener).await {
        Ok(running) => running,
        Err(e) => {
            report.problem(&format!("fastgate emulator: {e}"));
            return ExitCode::FAILURE;
        }
    };
    let (base_url, workspace) = (running.base_url(), running.workspace_id());
    // The API key its clients need, when it was generated here (as `--key` would be).
    let key = generated_key.then_some(config_key.as_str());
    match report.0 {
        LogFormat::Json => tracing::info!(
            base_url = %base_url,
            workspace = %workspace,
            api_key = key,
            "Fast.io emulator listening at {base_url}"
        ),
        LogFormat::Pretty => {
            if let Some(key) = key {
                println!("fast.io emulator API key: {key}");
            }
            println!("Fast.io emulator listening at {base_url}");
            println!("seeded workspace: {workspace}");
        }
    }
    let _ = tokio::signal::ctrl_c().await;
    running.shutdown().await;
    ExitCode::SUCCESS
}

async fn check() -> ExitCode {
    let config = match load_config() {
        Ok(config) => config,
        Err(code) => return code,
    };
    let report = Report(config.log_format);
    report.line("configuration: ok");
    let upstream = match Upstream::connect(&config).await {
        Ok(upstream) => upstream,
        Err(e) => {
            report.line(&format!("upstream: {e}"));
            return ExitCode::FAILURE;
        }
    };
    let label = if upstream.embedded.is_some() {
        "embedded emulator (no FASTIO_API_KEY)"
    } else {
        config.base_url.as_str()
    };
    report.line(&format!("upstream: {label}"));
    let result = async {
        upstream.client.ping().await?;
        report.line("ping: ok");
        let user = upstream.client.auth_check().await?;
        report.line(&format!("key: valid (user {user})"));
        let workspaces = upstream.client.list_workspaces().await?;
        let exposed = workspaces
            .iter()
            .filter(|w| config.workspaces.allows(&w.id))
            .count();
        report.line(&format!(
            "workspaces: {} visible, {exposed} exposed",
            workspaces.len()
        ));
        Ok::<_, fastgate::fastio::Error>(())
    }
    .await;
    if let Some(emulator) = upstream.embedded {
        emulator.shutdown().await;
    }
    match result {
        Ok(()) => {
            report.line("check: ok");
            ExitCode::SUCCESS
        }
        Err(e) => {
            report.line(&format!("check failed: {e}"));
            ExitCode::FAILURE
        }
    }
}

async fn healthcheck() -> ExitCode {
    let config = match load_config() {
        Ok(config) => config,
        Err(code) => return code,
    };
    let report = Report(config.log_format);
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
            report.line(&format!("{url}: ok"));
            ExitCode::SUCCESS
        }
        Err(e) => {
            report.line(&format!("{url}: {}", e.without_url()));
            ExitCode::FAILURE
        }
    }
}

/// Opens the configured access database (migrations applied) for a CLI command.
async fn open_access() -> Result<Access, ExitCode> {
    let config = load_config()?;
    match Db::open(&config.access.database).await {
        Ok(db) => Ok(Access::new(db, config.access.settings())),
        Err(e) => {
            Report(config.log_format).problem(&format!("fastgate: the access database: {e}"));
            Err(ExitCode::FAILURE)
        }
    }
}

/// The password piped on stdin (its first line), or `None` when stdin is a terminal or empty.
fn piped_password() -> std::io::Result<Option<secrecy::SecretString>> {
    use std::io::{BufRead as _, IsTerminal as _};
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        return Ok(None);
    }
    let mut line = String::new();
    stdin.lock().read_line(&mut line)?;
    let password = line.trim_end_matches(['\r', '\n']);
    Ok((!password.is_empty()).then(|| secrecy::SecretString::from(password.to_owned())))
}

async fn user_add(args: UserAdd) -> ExitCode {
    use secrecy::ExposeSecret as _;
    let report = Report::from_env();
    let access = match open_access().await {
        Ok(access) => access,
        Err(code) => return code,
    };
    let (password, generated) = match piped_password() {
        Ok(Some(password)) => (password, false),
        Ok(None) => (access::generate_password(), true),
        Err(e) => {
            report.problem(&format!(
                "fastgate user add: cannot read the password from stdin: {e}"
            ));
            return ExitCode::FAILURE;
        }
    };
    let new = NewUser {
        username: args.name,
        password: password.clone(),
        role: args.role,
        workspace: args.workspace,
    };
    match access.add_user(&Ctx::system(), new).await {
        Ok(user) => {
            let scope = user.grants.first().map_or("*", |g| g.workspace.as_str());
            let mut plain = format!("user {} added: {} on {scope}", user.username, args.role);
            let mut json = serde_json::json!({
                "user": user.username, "role": args.role.to_string(), "workspace": scope,
            });
            if generated {
                plain.push_str(&format!(
                    "\npassword (shown once): {}",
                    password.expose_secret()
                ));
                json["password"] = password.expose_secret().into();
            }
            report.answer(&plain, json);
            ExitCode::SUCCESS
        }
        Err(e) => {
            report.problem(&format!("fastgate user add: {e}"));
            ExitCode::FAILURE
        }
    }
}

async fn token_add(args: TokenAdd) -> ExitCode {
    use secrecy::ExposeSecret as _;
    let report = Report::from_env();
    let access = match open_access().await {
        Ok(access) => access,
        Err(code) => return code,
    };
    let new = NewToken {
        name: args.name,
        role: args.role,
        workspace: args.workspace,
        expires_in: args.expires_in.map(std::time::Duration::from_secs),
    };
    match access.create_token(&Ctx::system(), &args.user, new).await {
        Ok(created) => {
            let info = &created.info;
            report.note(&format!(
                "token {} (id {}) for {}: {}; shown once:",
                info.name, info.id, info.owner, info.role
            ));
            report.answer(
                created.token.expose_secret(),
                serde_json::json!({
                    "token": created.token.expose_secret(), "id": info.id, "name": info.name,
                    "user": info.owner, "role": info.role.to_string(),
                }),
            );
            ExitCode::SUCCESS
        }
        Err(access::Error::NotFound) => {
            report.problem(&format!("fastgate token add: no user named {}", args.user));
            ExitCode::FAILURE
        }
        Err(access::Error::Forbidden) => {
            report.problem(&format!(
                "fastgate token add: {} is disabled or has no role as high as {} there",
                args.user, args.role
            ));
            ExitCode::FAILURE
        }
        Err(e) => {
            report.problem(&format!("fastgate token add: {e}"));
            ExitCode::FAILURE
        }
    }
}

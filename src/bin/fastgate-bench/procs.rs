//! The processes under test: the emulator and the gateway, each the real `fastgate` binary in
//! its own process on loopback, and their memory as the kernel reports it (`/proc`).

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// The emulator's API key in every run.
pub const KEY: &str = "k_bench_key_not_secret";

/// A child process killed on drop.
pub struct Proc {
    child: Child,
}

impl Proc {
    /// Process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The `fastgate` binary in `dir` when given (`--bin-dir`, or `$FASTGATE_BENCH_BIN_DIR`: a
/// private copy that a shared target directory's next build cannot overwrite mid-run), else the
/// one beside this binary (built first when missing).
pub fn fastgate_binary(dir: Option<&Path>) -> Result<PathBuf, String> {
    if let Some(dir) = dir {
        let path = dir.join("fastgate");
        return if path.is_file() {
            Ok(path)
        } else {
            Err(format!("no fastgate binary in {}", dir.display()))
        };
    }
    let me = std::env::current_exe().map_err(|e| e.to_string())?;
    let path = me.with_file_name("fastgate");
    if !path.exists() {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
        let status = Command::new(cargo)
            .args(["build", "--release", "--bin", "fastgate"])
            .status()
            .map_err(|e| e.to_string())?;
        if !status.success() || !path.exists() {
            return Err(format!("cannot build {}", path.display()));
        }
    }
    Ok(path)
}

/// Which output a value is read from.
#[derive(Clone, Copy)]
enum Stream {
    Stdout,
    Stderr,
}

/// Spawns `program args` with `env`, and waits for the lines of `stream` that `find` extracts
/// values from; every other line of stderr is passed on to ours.
fn spawn(
    program: &Path,
    args: &[&str],
    env: &[(&str, String)],
    (stream, wanted): (Stream, usize),
    find: fn(&str) -> Option<String>,
) -> Result<(Proc, Vec<String>), String> {
    let mut command = Command::new(program);
    command
        .args(args)
        .env_remove("FASTIO_API_KEY")
        .env_remove("FASTIO_BASE_URL")
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        command.env(k, v);
    }
    let mut child = command.spawn().map_err(|e| e.to_string())?;
    let stdout = child.stdout.take().ok_or("no stdout")?;
    let stderr = child.stderr.take().ok_or("no stderr")?;
    let (tx, rx) = mpsc::channel();
    let pipes: [(Box<dyn std::io::Read + Send>, bool, bool); 2] = [
        (Box::new(stdout), matches!(stream, Stream::Stdout), false),
        (Box::new(stderr), matches!(stream, Stream::Stderr), true),
    ];
    for (pipe, searched, echoed) in pipes {
        let tx = tx.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                match find(&line).filter(|_| searched) {
                    Some(value) => {
                        let _ = tx.send(value);
                    }
                    None if echoed => eprintln!("{line}"),
                    None => {}
                }
            }
        });
    }
    let proc = Proc { child };
    let mut found = Vec::new();
    while found.len() < wanted {
        let value = rx
            .recv_timeout(Duration::from_secs(30))
            .map_err(|_| format!("{} did not start", program.display()))?;
        found.push(value);
    }
    Ok((proc, found))
}

/// Spawns `program args` and waits for the first stdout line that `find` extracts a value from.
pub fn spawn_printing(
    program: &Path,
    args: &[&str],
    find: fn(&str) -> Option<String>,
) -> Result<(Proc, String), String> {
    let (proc, mut found) = spawn(program, args, &[], (Stream::Stdout, 1), find)?;
    Ok((proc, found.remove(0)))
}

/// A stand-alone emulator; `latency_ms` is added to every request.
pub struct Emulator {
    /// The process, stopped when this is dropped.
    pub proc: Proc,
    /// `http://127.0.0.1:PORT/current`.
    pub base_url: String,
    /// The seeded workspace.
    pub workspace: String,
    /// Its data directory, removed when it stops (the disk of a shared machine is tight).
    data: PathBuf,
}

impl Drop for Emulator {
    fn drop(&mut self) {
        let _ = self.proc.child.kill();
        let _ = self.proc.child.wait();
        let _ = std::fs::remove_dir_all(&self.data);
    }
}

/// How long each of the emulator's asynchronous upload steps waits, in ms: the middle of its
/// default 20–200 ms, fixed. Each upload passes five such steps, so the default's dice added
/// 0.1–1.0 s to every upload's wall at random (1 GiB form posts of one run took 2.43–3.03 s);
/// a fixed delay keeps the same 0.55 s on average without the swing.
pub const STEP_DELAY_MS: &str = "110";

/// Starts `fastgate emulator` on a free loopback port with its data under `dir`.
pub fn emulator(bin: &Path, dir: &Path, latency_ms: u64) -> Result<Emulator, String> {
    static STARTED: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = STARTED.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let data = dir.join(format!("emulator-{latency_ms}-{n}"));
    let latency = latency_ms.to_string();
    let args = [
        "emulator",
        "--bind",
        "127.0.0.1:0",
        "--data-dir",
        data.to_str().ok_or("path")?,
        "--key",
        KEY,
        "--latency-ms",
        &latency,
        "--step-delay-ms",
        STEP_DELAY_MS,
    ];
    let (proc, found) = spawn(bin, &args, &[], (Stream::Stdout, 2), |line| {
        line.strip_prefix("Fast.io emulator listening at ")
            .or_else(|| line.strip_prefix("seeded workspace: "))
            .map(|v| v.trim().to_owned())
    })?;
    let (url, workspace) = (found[0].clone(), found[1].clone());
    let base_url = if url.ends_with("/current") {
        url
    } else {
        format!("{}/current", url.trim_end_matches('/'))
    };
    Ok(Emulator {
        proc,
        data,
        base_url,
        workspace,
    })
}

/// The gateway process.
pub struct Gateway {
    /// The process.
    pub proc: Proc,
    /// `http://ADDR`: the address it is bound to, where requests go.
    pub url: String,
    /// Its public URL, sent as `Origin`: [`ORIGIN`] (a name that need not resolve), or `url`
    /// when a real browser must load the pages from it.
    pub origin: String,
}

/// The origin the gateway is configured to accept form posts from, sent as `Origin`.
pub const ORIGIN: &str = "http://bench.localhost";

/// Starts `fastgate serve` in front of `emulator` with the public URL [`ORIGIN`].
pub fn gateway(bin: &Path, dir: &Path, emulator: &Emulator) -> Result<Gateway, String> {
    gateway_at(bin, dir, emulator, Some(ORIGIN))
}

/// Starts `fastgate serve` in front of `emulator`, on a port of its choosing, and learns that
/// port from its "fastgate listening" log line (JSON, the one line let through at `info`). With
/// no `public_url` the gateway's own default applies: `http://` + the bound address.
pub fn gateway_at(
    bin: &Path,
    dir: &Path,
    emulator: &Emulator,
    public_url: Option<&str>,
) -> Result<Gateway, String> {
    let mut env = vec![
        ("FASTIO_API_KEY", KEY.to_owned()),
        ("FASTIO_BASE_URL", emulator.base_url.clone()),
        ("FASTGATE_BIND", "127.0.0.1:0".to_owned()),
        (
            "FASTGATE_DATA_DIR",
            dir.join("gateway").display().to_string(),
        ),
        ("FASTGATE_MAX_FILE_SIZE", "2GiB".to_owned()),
        // Scenario 6 posts 2,000 files in one form.
        ("FASTGATE_MAX_FILES", "5000".to_owned()),
        // The bench measures the data path, not sign-in: access control stays open.
        ("FASTGATE_AUTH", "open".to_owned()),
        ("FASTGATE_LOG_FORMAT", "json".to_owned()),
        ("RUST_LOG", "warn,fastgate::server=info".to_owned()),
    ];
    if let Some(url) = public_url {
        env.push(("FASTGATE_PUBLIC_URL", url.to_owned()));
    }
    let (proc, found) = spawn(bin, &["serve"], &env, (Stream::Stderr, 1), listening_addr)?;
    let url = format!("http://{}", found[0]);
    Ok(Gateway {
        proc,
        origin: public_url.map_or_else(|| url.clone(), str::to_owned),
        url,
    })
}

/// The bound address in the gateway's JSON "fastgate listening" line.
fn listening_addr(line: &str) -> Option<String> {
    let event: serde_json::Value = serde_json::from_str(line).ok()?;
    let fields = &event["fields"];
    (fields["message"] == "fastgate listening")
        .then(|| fields["addr"].as_str().map(str::to_owned))
        .flatten()
}

/// Peak resident memory of `pid` since the last [`reset_peak`], in bytes (`VmHWM`).
pub fn peak_rss(pid: u32) -> Option<u64> {
    status_kib(pid, "VmHWM:").map(|kib| kib * 1024)
}

/// Current resident memory of `pid`, in bytes.
pub fn rss(pid: u32) -> Option<u64> {
    status_kib(pid, "VmRSS:").map(|kib| kib * 1024)
}

/// Resets the peak-RSS counter of `pid` (`echo 5 > /proc/PID/clear_refs`); false when the
/// kernel or permissions do not allow it.
pub fn reset_peak(pid: u32) -> bool {
    std::fs::write(format!("/proc/{pid}/clear_refs"), "5").is_ok()
}

fn status_kib(pid: u32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()
}

/// Samples the RSS of `pid` every 10 ms until dropped; the highest value seen is the peak even
/// where `clear_refs` is not allowed.
pub struct RssSampler {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    handle: Option<std::thread::JoinHandle<u64>>,
    pid: u32,
    reset: bool,
}

impl RssSampler {
    /// Starts sampling (and resets the kernel's peak counter when allowed).
    pub fn start(pid: u32) -> Self {
        let reset = reset_peak(pid);
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = stop.clone();
        let handle = std::thread::spawn(move || {
            let mut peak = 0;
            while !flag.load(std::sync::atomic::Ordering::Relaxed) {
                peak = peak.max(rss(pid).unwrap_or(0));
                std::thread::sleep(Duration::from_millis(10));
            }
            peak
        });
        Self {
            stop,
            handle: Some(handle),
            pid,
            reset,
        }
    }

    /// The peak since start, in bytes.
    pub fn finish(mut self) -> u64 {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        let sampled = self.handle.take().and_then(|h| h.join().ok()).unwrap_or(0);
        let kernel = if self.reset {
            peak_rss(self.pid).unwrap_or(0)
        } else {
            0
        };
        sampled.max(kernel)
    }
}
